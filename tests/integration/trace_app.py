#!/usr/bin/python3
"""Two small services that know nothing of tracing, for test_traces.sh.

  trace_app.py b PORT
      GET /b/ID -> 200 {"id": ID}
  trace_app.py a PORT B_PORT REDIS_PORT PG_HOST PG_PORT
      GET /chain/ID -> reads Redis key products:ID, runs one SELECT on
      PostgreSQL, calls B's /b/ID over HTTP, answers 200.

Threaded (a thread per connection); Redis and PostgreSQL connections come from
pools shared by the threads, each taken by the thread serving the request for
the duration of its call.
"""
import http.client
import http.server
import json
import sys
import threading

import psycopg2.pool
import redis

POOLS = {}
LOCAL = threading.local()


class B(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without TCP_NODELAY the body waits for
    # the peer's delayed ACK (40 ms) on every keep-alive response.
    disable_nagle_algorithm = True

    def do_GET(self):
        body = json.dumps({"id": self.path.rsplit("/", 1)[-1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class A(B):
    def do_GET(self):
        ident = self.path.rsplit("/", 1)[-1]
        POOLS["redis"].get("products:" + ident)
        pg = POOLS["pg"].getconn()
        try:
            pg.autocommit = True
            with pg.cursor() as cur:
                cur.execute("SELECT %s::text AS id", (ident,))
                cur.fetchone()
        finally:
            POOLS["pg"].putconn(pg)
        # One keep-alive connection to B per thread: B sees the n-th request of each.
        conn = getattr(LOCAL, "b", None)
        if conn is None:
            conn = LOCAL.b = http.client.HTTPConnection("127.0.0.1", int(sys.argv[3]),
                                                        timeout=10)
        conn.request("GET", "/b/" + ident)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    handler = A if sys.argv[1] == "a" else B
    if handler is A:
        POOLS["redis"] = redis.Redis(host="127.0.0.1", port=int(sys.argv[4]),
                                     max_connections=128)
        # psycopg2's pool closes what it gets back beyond minconn: keep them all.
        POOLS["pg"] = psycopg2.pool.ThreadedConnectionPool(64, 96, host=sys.argv[5],
                                                           port=sys.argv[6], user="postgres",
                                                           dbname="postgres")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), handler)
    srv.daemon_threads = True
    srv.request_queue_size = 256
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
