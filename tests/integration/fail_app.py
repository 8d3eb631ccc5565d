#!/usr/bin/python3
"""A threaded HTTP service whose calls fail below HTTP, one way per route, and
that knows nothing of tracing or logging:

  GET /refused          blocking connect() to a closed port (ECONNREFUSED)
  GET /refused-timeout  connect with a timeout: non-blocking, the error read
                        with getsockopt(SO_ERROR) as CPython does (ECONNREFUSED)
  GET /reset            an HTTP call answered by a reset (ECONNRESET at recv)
  GET /timeout          an HTTP call never answered: the client gives up after
                        0.3 s and closes (no_response)
  GET /ok               no call

Each failing route answers 502 (504 for /timeout). Helpers, run as their own
processes (not observed): `--reset PORT` accepts, reads the request and
resets the connection; `--silent PORT` accepts, reads and never answers.

  fail_app.py PORT CLOSED_PORT RESET_PORT SILENT_PORT
"""
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def helper(mode, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(128)
    held = []
    while True:
        c, _ = ls.accept()
        c.recv(4096)
        if mode == "--reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        else:
            held.append(c)  # never answered, never closed
            if len(held) > 1000:
                held.pop(0).close()


def call(port, timeout=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout) if timeout \
        else socket.socket()
    try:
        if not timeout:
            s.connect(("127.0.0.1", port))
        s.sendall(b"GET /api/stock/42 HTTP/1.1\r\nHost: upstream\r\n\r\n")
        return s.recv(4096)
    finally:
        s.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status):
        body = b"%d\n" % status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        closed, reset, silent = self.server.ports
        status = 502
        try:
            if self.path == "/refused":
                s = socket.socket()
                try:
                    s.connect(("127.0.0.1", closed))
                finally:
                    s.close()
            elif self.path == "/refused-timeout":
                call(closed, timeout=2)
            elif self.path == "/reset":
                call(reset)
            elif self.path == "/timeout":
                status = 504
                call(silent, timeout=0.3)
            status = 200
        except (OSError, socket.timeout):
            pass
        self.answer(status)


def main():
    if sys.argv[1] in ("--reset", "--silent"):
        helper(sys.argv[1], int(sys.argv[2]))
        return
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.ports = tuple(int(p) for p in sys.argv[2:5])
    srv.serve_forever()


if __name__ == "__main__":
    main()
