#!/usr/bin/python3
"""HTTPS parts for test_tls.sh (not part of sonde): Python's ssl module
(OpenSSL's libssl.so.3), no tracing code.

  tls_app.py server PORT CERT KEY
      A threaded HTTPS server: GET /item/N answers 200 "item N", /fail 500.
  tls_app.py client URL N
      N GETs of URL/item/I over one kept-alive HTTPS connection (http.client),
      then prints "done N".
  tls_app.py trickle HOST PORT N STEP
      N GETs of /api/products/I over one TLS connection, each response read
      STEP bytes at a time (SSL_read_ex of STEP bytes: after the first, served
      from the library's buffer without a syscall), then prints "done N".
"""
import http.client
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b"fail\n" if self.path == "/fail" else ("item %s\n" % self.path).encode()
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


def client(url, n):
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=unverified(), timeout=10)
    for i in range(int(n)):
        conn.request("GET", "/item/%d" % i)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
    conn.close()
    print("done", n, flush=True)


def read_response(s, step):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(step)
        assert d, "closed"
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        d = s.recv(step)
        assert d, "closed"
        body += d
    return int(head.split(b" ")[1])


def trickle(host, port, n, step):
    import socket
    raw = socket.create_connection((host, int(port)), timeout=10)
    s = unverified().wrap_socket(raw, server_hostname=host)
    for i in range(int(n)):
        s.sendall(b"GET /api/products/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (i, host.encode()))
        assert read_response(s, int(step)) == 200
    s.close()
    print("done", n, flush=True)


if __name__ == "__main__":
    {"server": server, "client": client, "trickle": trickle}[sys.argv[1]](*sys.argv[2:])
