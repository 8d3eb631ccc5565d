#!/usr/bin/python3
"""A threaded HTTP/1.1 server that knows nothing of rate limits: it answers
200 {"ok":true} to any GET or POST (reading the body by Content-Length, or
chunked) and
prints one access line "METHOD PATH CLIENT-IP" per request it served, so that
a test knows exactly which requests reached it.

  limited_app.py PORT
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A socket timeout, as servers have: a blocking read without one gets EAGAIN
    # when the kernel takes a limited request away (docs/ratelimit.md, "The 429"),
    # and http.server would close before the 429 leaves.
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def answer(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if not size:  # the last chunk, then trailer lines up to an empty one
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                self.rfile.read(size + 2)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        sys.stdout.write("%s %s %s\n" % (self.command, self.path, self.client_address[0]))
        sys.stdout.flush()

    do_GET = do_POST = answer


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
