#!/usr/bin/python3
"""Two servers for the traceparent-injection tests; neither knows of tracing.

  inject_app.py b PORT LOG
      The unobserved end. Threaded HTTP/1.1; reads each body (Content-Length
      or chunked), answers 200, and appends one JSON line per request to LOG:
      path, the traceparent values it received (all of them), the body's
      length and sha256, and whether they match the X-Body-Len and X-Body-Sha
      headers the caller computed before sending.

  inject_app.py a PORT B_PORT
      The observed service. For GET or POST /call/<id>?size=N&conn=new|keep
      [&tp=1][&chunked=1] it calls B once: POST /in/<id> with a body of N
      deterministic bytes (GET when N is 0), over a new connection or the
      thread's kept-alive one, with its own traceparent when tp=1, chunked
      when chunked=1; with pad=P, to /big/<id> with an X-Pad header of P bytes
      (heads over 1 KiB and over 4 KiB). Answers 200 with B's status.
      GET /split/<id>?size=N&at=K: the same POST written by hand in two sends,
      split at byte K (every K of a test's loop: inside the request line, the
      head, the body). GET /pipe/<id>?size=N: two requests in one send, then
      a third (POST /after/<id>) alone on the same connection.
"""
import hashlib
import http.client
import json
import socket
import time
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OWN_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def body_of(n, seed):
    out = bytearray()
    x = seed * 2654435761 & 0xFFFFFFFF
    # Lines that look like requests and headers: a body must never be matched.
    pattern = b"GET /x HTTP/1.1\r\ntraceparent: 00-1-2-01\r\n\r\n"
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out += pattern if x % 3 == 0 else bytes([(x >> 16) & 0xFF]) * 7
    return bytes(out[:n])


class B(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    lock = threading.Lock()
    log = None

    def log_message(self, *a):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if not size:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.read(2)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self):
        body = self.read_body()
        sha = hashlib.sha256(body).hexdigest()
        rec = {
            "path": self.path,
            "traceparent": self.headers.get_all("traceparent") or [],
            "len": len(body),
            "ok": str(len(body)) == self.headers.get("X-Body-Len", "0")
            and sha == self.headers.get("X-Body-Sha", hashlib.sha256(b"").hexdigest()),
        }
        with B.lock:
            B.log.write(json.dumps(rec) + "\n")
            B.log.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = answer


class A(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    b_port = 0
    local = threading.local()

    def log_message(self, *a):
        pass

    def conn(self, keep):
        if not keep:
            return http.client.HTTPConnection("127.0.0.1", A.b_port, timeout=10)
        c = getattr(A.local, "c", None)
        if c is None:
            c = A.local.c = http.client.HTTPConnection("127.0.0.1", A.b_port, timeout=10)
        return c

    def raw(self, kind, rid, size, at):
        """A request (or two) to B written by hand; returns B's status line(s)."""
        def one(i):
            body = body_of(size, int(rid) + i if rid.isdigit() else 1)
            return (("POST /%s/%s HTTP/1.1\r\nHost: b\r\nX-Body-Len: %d\r\n"
                     "X-Body-Sha: %s\r\nContent-Length: %d\r\n\r\n")
                    % (kind, rid, len(body), hashlib.sha256(body).hexdigest(),
                       len(body))).encode() + body
        data = one(0) + one(1) if kind == "pipe" else one(0)
        s = socket.create_connection(("127.0.0.1", A.b_port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if kind == "split" and 0 < at < len(data):
            s.sendall(data[:at])
            time.sleep(0.002)
            s.sendall(data[at:])
        else:
            s.sendall(data)
        want = 2 if kind == "pipe" else 1
        got = b""
        while got.count(b"HTTP/1.1 200") < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        ok = got.count(b"HTTP/1.1 200") == want
        if kind == "pipe" and ok:
            # A third request on the same connection, alone in its send: the
            # pipelined ones must have been followed for it to be found.
            s.sendall(one(2).replace(b"POST /pipe/", b"POST /after/", 1))
            got = b""
            while b"HTTP/1.1 200" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            ok = b"HTTP/1.1 200" in got
        s.close()
        return 200 if ok else 598

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        u = urlsplit(self.path)
        kind = u.path.split("/")[1] if u.path.count("/") >= 2 else ""
        if kind in ("split", "pipe"):
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            out = str(self.raw(kind, u.path.rsplit("/", 1)[-1], int(q.get("size", "0")),
                               int(q.get("at", "0")))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        rid = u.path.rsplit("/", 1)[-1]
        size = int(q.get("size", "0"))
        keep = q.get("conn") == "keep"
        body = body_of(size, int(rid) if rid.isdigit() else 1)
        headers = {
            "X-Body-Len": str(len(body)),
            "X-Body-Sha": hashlib.sha256(body).hexdigest(),
        }
        if q.get("tp"):
            headers["traceparent"] = OWN_TP
        pad = int(q.get("pad", "0"))
        if pad:
            headers["X-Pad"] = "p" * pad
        path = ("/big/" if pad else "/in/") + rid
        c = self.conn(keep)
        try:
            if q.get("chunked") and size:
                c.request("POST", path, body=iter([body[: size // 2], body[size // 2:]]),
                          headers=headers, encode_chunked=True)
            else:
                c.request("POST" if size else "GET", path, body=body or None,
                          headers=headers)
            r = c.getresponse()
            r.read()
            status = r.status
        except Exception as e:
            status = 502
            A.local.c = None
            sys.stderr.write("call %s: %r\n" % (rid, e))
        if not keep:
            c.close()
        out = str(status).encode()
        self.send_response(200 if status == 200 else 502)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = answer


def main():
    ThreadingHTTPServer.daemon_threads = True
    # nginx opens up to 64 upstream connections at once: the default backlog
    # of 5 resets some of them (SYN cookies), which is not what is tested.
    ThreadingHTTPServer.request_queue_size = 256
    if sys.argv[1] == "b":
        B.log = open(sys.argv[3], "a")
        srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), B)
    else:
        A.b_port = int(sys.argv[3])
        srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), A)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
