#!/usr/bin/python3
"""A Zipkin-like receiver for the exporter's integration tests (not part of sonde).

    zipkin_receiver.py PORT DIR [--delay SECONDS] [--status CODE]
                       [--path PATH --content-type TYPE --suffix .EXT]
                       [--encoding gzip]

The same receiver stands in for Loki (--path /loki/api/v1/push
--content-type application/x-protobuf --suffix .pb, or with --encoding gzip
for its gzip JSON form) and OTLP collectors. With --encoding, a POST without
that Content-Encoding is answered 415; the body is kept as it came.

DIR "-": bodies are read and answered, not kept.

Listens on 127.0.0.1:PORT. Each POST /api/v2/spans body is written to
DIR/body-NNNN.json (NNNN counting from 0001, in arrival order, whatever the
answer), then, after --delay seconds (a slow receiver), answered with --status
(default 202, as Zipkin does). A POST whose Content-Type is not
application/json is answered 415 and not saved; any other path is 404.
Prints "ready" once listening. Threaded: a slow answer does not hold up the
next request, so a test sees every attempt a retrying exporter makes.

A body appears under its final name only once complete (written to a
temporary name, then renamed), so a test may poll DIR without reading half
a file.
"""
import argparse
import http.server
import itertools
import os
import sys
import threading
import time

PATH = "/api/v2/spans"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's libcurl expects

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path not in self.server.paths:
            self.answer(404)
            return
        ctype = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype != self.server.ctype:
            self.answer(415)  # the exporter must say what it sends
            return
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding != self.server.encoding:
            self.answer(415)
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self.answer(411)  # libcurl always sends Content-Length for a POST body
            return
        body = self.rfile.read(int(length))
        self.server.save(body, path)
        if self.server.delay:
            time.sleep(self.server.delay)
        self.answer(self.server.status)

    def do_GET(self):
        self.answer(404)

    def answer(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass  # quiet: the bodies on disk are the record


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, out_dir, delay, status, paths=(PATH,), ctype="application/json",
                 suffix=".json", encoding=""):
        super().__init__(("127.0.0.1", port), Handler)
        self.paths, self.ctype, self.suffix = tuple(paths), ctype, suffix
        self.encoding = encoding
        self.out_dir = out_dir
        self.delay = delay
        self.status = status
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    def save(self, body, path):
        if self.out_dir == "-":  # keep nothing (make bench)
            return
        with self.lock:
            n = next(self.seq)
        # With several paths, the last part of the path names the body's kind.
        kind = "-" + path.rstrip("/").rsplit("/", 1)[-1] if len(self.paths) > 1 else ""
        final = os.path.join(self.out_dir, "body-%04d%s%s" % (n, kind, self.suffix))
        tmp = final + ".tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, final)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("port", type=int)
    ap.add_argument("dir")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    ap.add_argument("--status", type=int, default=202, help="the answer's status code")
    ap.add_argument("--path", action="append", help="a path POSTs go to (repeatable)")
    ap.add_argument("--content-type", default="application/json", help="the only one taken")
    ap.add_argument("--suffix", default=".json", help="of the saved bodies")
    ap.add_argument("--encoding", default="", help="the only Content-Encoding taken (none: identity)")
    a = ap.parse_args()
    if a.dir != "-":
        os.makedirs(a.dir, exist_ok=True)
    srv = Receiver(a.port, a.dir, a.delay, a.status, a.path or [PATH], a.content_type, a.suffix,
                   a.encoding)
    print("ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
