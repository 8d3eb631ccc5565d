"""The payment service (Flask under gunicorn), called by the order service.

POST /api/payments {order_id, amount, card}   201 SUCCESS; 402 declined (a card ending
                                              in 0002, or more than 5,000,000 KRW); 500 for a
                                              card ending in 0005 (an unhandled outage)
"""
from flask import Flask, jsonify, request

from shop_common import json_errors, publish, query

app = Flask(__name__)
json_errors(app)


@app.post("/api/payments")
def pay():
    body = request.get_json(force=True, silent=True) or {}
    amount, order = int(body.get("amount", 0)), body.get("order_id")
    if str(body.get("card", "")).endswith("0005"):
        # The card processor's outage, as it happens: an error the service did not handle.
        raise RuntimeError("card processor unavailable")
    ok = amount > 0 and amount <= 5000000 and not str(body.get("card", "")).endswith("0002")
    row = query("INSERT INTO payments (order_id, amount, status) VALUES (%s, %s, %s) RETURNING id",
                (order, amount, "SUCCESS" if ok else "FAILED"), one=True)
    publish("payment-events", order, {"type": "PAYMENT_" + ("SUCCEEDED" if ok else "FAILED"),
                                      "orderId": order, "paymentId": row[0], "amount": amount})
    if not ok:
        return jsonify(error="declined", paymentId=row[0]), 402
    return jsonify(paymentId=row[0], status="SUCCESS", amount=amount), 201


@app.get("/health")
def health():
    return jsonify(status="UP")
