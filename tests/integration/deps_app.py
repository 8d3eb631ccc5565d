#!/usr/bin/python3
"""A service with two dependencies for test_dependencies.sh (not part of sonde):
Redis (redis-py, cache-aside) and an HTTP backend (urllib). No health code.

    deps_app.py PORT REDIS_PORT BACKEND_URL

GET /product/N   GET product:N from Redis; 503 when Redis cannot be reached
GET /stock/N     GET BACKEND_URL/stock/N; its status passed on
GET /chain/N     GET product:N from Redis, then BACKEND_URL/ok
GET /ok, /fail   (as a backend) 200, or 500
"""
import sys
import urllib.error
import urllib.request

import redis
from flask import Flask

app = Flask(__name__)
port, redis_port, backend = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = redis.Redis(host="127.0.0.1", port=redis_port, socket_connect_timeout=1, socket_timeout=1)


@app.get("/product/<int:n>")
def product(n):
    try:
        v = r.get("product:%d" % n)
        if v is None:
            r.set("product:%d" % n, "p%d" % n, ex=3600)
        return "ok\n"
    except redis.exceptions.ConnectionError:
        return "cache down\n", 503


@app.get("/stock/<int:n>")
def stock(n):
    try:
        with urllib.request.urlopen("%s/%s" % (backend, "fail" if n % 2 else "ok"), timeout=2) as f:
            return f.read(), f.status
    except urllib.error.HTTPError as e:
        return "backend error\n", e.code


@app.get("/chain/<int:n>")
def chain(n):
    """A gateway's call: the cache, then the backend (test_webview.sh's traces)."""
    r.get("product:%d" % n)
    with urllib.request.urlopen("%s/ok" % backend, timeout=2) as f:
        f.read()
    return "ok\n"


@app.get("/ok")
def ok():
    return "ok\n"


@app.get("/fail")
def fail():
    return "fail\n", 500


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=port, threaded=True)
