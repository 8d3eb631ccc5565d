"""The order service (Flask under gunicorn): the catalogue and the order saga.

GET  /api/products?page=N, /api/products/<id>   products:..., cached 1 h
GET  /api/categories                            categories:all, 1 day
GET  /api/search?q=WORD                         search:<word>, 10 min
GET  /api/inventory/<id>                        inventory:<id>, 5 min
POST /api/orders {user_id, product_id, quantity}     201 CREATED, order-events ORDER_CREATED
POST /api/orders/<id>/confirm {card}   the saga (seed 004): the payment service over HTTP,
                                       201 from it: CONFIRMED (order-events, notification-events);
                                       402: PAYMENT_FAILED, answered 402; its 500 or no
                                       answer: 502, the order stays CREATED
POST /api/orders/<id>/cancel           CANCELLED (order-events), 409 once confirmed
GET  /api/orders/<id>
"""
import json
import os
import urllib.error
import urllib.request

from flask import Flask, jsonify, request

from shop_common import cached, json_errors, publish, query

app = Flask(__name__)
json_errors(app)
PAYMENT_URL = os.environ.get("SHOP_PAYMENT_URL", "http://127.0.0.1:8083")


def product(pid):
    return cached("products", pid, lambda: query(
        "SELECT id, category_id, name, price FROM products WHERE id = %s", (pid,), one=True))


@app.get("/api/products")
def products():
    page = request.args.get("page", 1, type=int)
    rows = cached("products", "page:%d" % page, lambda: query(
        "SELECT id, name, price FROM products ORDER BY id LIMIT 20 OFFSET %s", ((page - 1) * 20,)))
    return jsonify(items=[{"id": r[0], "name": r[1], "price": r[2]} for r in rows])


@app.get("/api/products/<int:pid>")
def one_product(pid):
    p = product(pid)
    if not p:
        return jsonify(error="no such product"), 404
    return jsonify(id=p[0], categoryId=p[1], name=p[2], price=p[3])


@app.get("/api/categories")
def categories():
    rows = cached("categories", "all", lambda: query("SELECT id, name FROM categories ORDER BY id"))
    return jsonify(items=[{"id": r[0], "name": r[1]} for r in rows])


@app.get("/api/search")
def search():
    word = request.args.get("q", "")[:32]
    rows = cached("search", word, lambda: query(
        "SELECT id, name FROM products WHERE name LIKE %s ORDER BY id LIMIT 20", ("%" + word + "%",)))
    return jsonify(items=[{"id": r[0], "name": r[1]} for r in rows])


@app.get("/api/inventory/<int:pid>")
def inventory(pid):
    row = cached("inventory", pid, lambda: query(
        "SELECT stock FROM inventory WHERE product_id = %s", (pid,), one=True))
    return (jsonify(productId=pid, stock=row[0]), 200) if row else (jsonify(error="unknown"), 404)


@app.post("/api/orders")
def create():
    body = request.get_json(force=True, silent=True) or {}
    p = product(int(body.get("product_id", 0)))
    qty = int(body.get("quantity", 1))
    if not p or qty < 1:
        return jsonify(error="bad order"), 400
    row = query("INSERT INTO orders (user_id, product_id, quantity, amount, status) "
                "VALUES (%s, %s, %s, %s, 'CREATED') RETURNING id",
                (body.get("user_id", 0), p[0], qty, p[3] * qty), one=True)
    publish("order-events", row[0], {"type": "ORDER_CREATED", "orderId": row[0],
                                     "productId": p[0], "quantity": qty})
    return jsonify(id=row[0], amount=p[3] * qty, status="CREATED"), 201


@app.post("/api/orders/<int:oid>/confirm")
def confirm(oid):
    body = request.get_json(force=True, silent=True) or {}
    row = query("SELECT amount, status FROM orders WHERE id = %s", (oid,), one=True)
    if not row:
        return jsonify(error="no such order"), 404
    if row[1] != "CREATED":
        return jsonify(error="order is " + row[1]), 409
    req = urllib.request.Request(PAYMENT_URL + "/api/payments", method="POST",
                                 headers={"Content-Type": "application/json"},
                                 data=json.dumps({"order_id": oid, "amount": row[0],
                                                  "card": body.get("card", "")}).encode())
    try:
        with urllib.request.urlopen(req, timeout=5) as f:
            f.read()
    except urllib.error.HTTPError as e:
        if e.code != 402:
            return jsonify(error="payment service: %d" % e.code), 502
        query("UPDATE orders SET status = 'PAYMENT_FAILED' WHERE id = %s", (oid,))
        publish("order-events", oid, {"type": "ORDER_PAYMENT_FAILED", "orderId": oid})
        return jsonify(error="payment declined"), 402
    except OSError as e:  # refused, reset, timed out: the order stays CREATED
        return jsonify(error="payment service: %s" % e), 502
    query("UPDATE orders SET status = 'CONFIRMED' WHERE id = %s", (oid,))
    publish("order-events", oid, {"type": "ORDER_CONFIRMED", "orderId": oid})
    publish("notification-events", oid, {"type": "ORDER_CONFIRMED_MAIL", "orderId": oid})
    return jsonify(id=oid, status="CONFIRMED"), 201


@app.post("/api/orders/<int:oid>/cancel")
def cancel(oid):
    row = query("UPDATE orders SET status = 'CANCELLED' WHERE id = %s "
                "AND status IN ('CREATED', 'PAYMENT_FAILED') RETURNING id", (oid,), one=True)
    if not row:
        return jsonify(error="cannot cancel"), 409
    publish("order-events", oid, {"type": "ORDER_CANCELLED", "orderId": oid})
    return jsonify(id=oid, status="CANCELLED")


@app.get("/api/orders/<int:oid>")
def get_order(oid):
    row = query("SELECT id, status, amount FROM orders WHERE id = %s", (oid,), one=True)
    return (jsonify(id=row[0], status=row[1], amount=row[2]), 200) if row else \
        (jsonify(error="no such order"), 404)


@app.get("/health")
def health():
    return jsonify(status="UP")
