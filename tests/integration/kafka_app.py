#!/usr/bin/python3
"""A service that knows nothing of tracing, beyond passing a context on as
services that propagate do: GET /orders/ID produces one record (key ID) to
topic "orders" with confluent-kafka, carrying the request's `traceparent`
as a record header when the request had one, then answers 200.

  kafka_app.py BOOTSTRAP PORT DELIVERIES

Each delivery report is appended to DELIVERIES as a JSON line:
{"id", "partition", "offset", "traceparent"} (null without one).
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from confluent_kafka import Producer

producer = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 0})
out = open(sys.argv[3], "a", buffering=1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        oid = self.path.rsplit("/", 1)[-1]
        tp = self.headers.get("traceparent")

        def report(err, msg):
            if err is None:
                with lock:
                    out.write(json.dumps({"id": oid, "partition": msg.partition(),
                                          "offset": msg.offset(), "traceparent": tp}) + "\n")

        with lock:
            producer.produce("orders", key=oid, value="order " + oid,
                             headers=[("traceparent", tp)] if tp else None, on_delivery=report)
        producer.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
print("ready", flush=True)
srv.serve_forever()
