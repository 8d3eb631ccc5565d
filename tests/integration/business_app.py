#!/usr/bin/python3
"""A shop's money routes for test_business.sh (not part of sonde): Flask, no
metrics code. It keeps its own tally of what it accepted, served at GET /tally,
which the test compares with sonde's business_metrics counters.

    business_app.py PORT
"""
import sys
import threading

from flask import Flask, jsonify, request

app = Flask(__name__)
lock = threading.Lock()
tally = {"registrations": 0, "orders": 0, "payments_ok": 0, "payments_failed": 0,
         "revenue": 0.0, "revenue_unread": 0}
users = set()


@app.post("/api/auth/register")
def register():
    body = request.get_json(force=True, silent=True) or {}
    name = body.get("username", "")
    with lock:
        if not name or name in users:
            return jsonify(error="taken"), 409
        users.add(name)
        tally["registrations"] += 1
    return jsonify(id=len(users)), 201


@app.post("/api/orders")
def orders():
    with lock:
        tally["orders"] += 1
        n = tally["orders"]
    return jsonify(id=n, status="CREATED"), 201


@app.post("/api/payments")
def payments():
    body = request.get_json(force=True, silent=True) or {}
    amount = body.get("amount")
    if body.get("card", "").endswith("0002"):
        with lock:
            tally["payments_failed"] += 1
        return jsonify(error="declined"), 402
    with lock:
        tally["payments_ok"] += 1
        try:
            tally["revenue"] += float(amount)
        except (TypeError, ValueError):
            tally["revenue_unread"] += 1
    return jsonify(status="PAID"), 200


@app.get("/tally")
def get_tally():
    with lock:
        return jsonify(tally)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
