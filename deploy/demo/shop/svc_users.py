"""The user service (Flask under gunicorn): sign-up, login, profiles, carts.

POST /api/auth/register {username, password}  201, 409 taken
POST /api/auth/login {username, password}     200, 401 (the gateway's rate limit is sonde's)
GET  /api/users/<id>                          users:<id> cached 30 min
GET  /api/carts/<user>, POST /api/carts/<user> {product_id, quantity}   carts:<user>, 10 min
"""
import hashlib
import json

import psycopg2
from flask import Flask, jsonify, request

from shop_common import TTL, cache, cached, json_errors, publish, query

app = Flask(__name__)
json_errors(app)


def digest(password):
    return hashlib.sha256(("demo-salt:" + password).encode()).hexdigest()


@app.post("/api/auth/register")
def register():
    body = request.get_json(force=True, silent=True) or {}
    name, password = body.get("username"), body.get("password")
    if not name or not password:
        return jsonify(error="username and password required"), 400
    try:
        row = query("INSERT INTO users (username, password_hash) VALUES (%s, %s) RETURNING id",
                    (name, digest(password)), one=True)
    except psycopg2.errors.UniqueViolation:
        return jsonify(error="username taken"), 409
    publish("user-events", row[0], {"type": "USER_REGISTERED", "userId": row[0]})
    return jsonify(id=row[0], username=name), 201


@app.post("/api/auth/login")
def login():
    body = request.get_json(force=True, silent=True) or {}
    row = query("SELECT id, password_hash FROM users WHERE username = %s",
                (body.get("username", ""),), one=True)
    if not row or row[1] != digest(body.get("password", "")):
        return jsonify(error="bad credentials"), 401
    return jsonify(token="demo-token-%d" % row[0], userId=row[0])


@app.get("/api/users/<int:uid>")
def user(uid):
    u = cached("users", uid, lambda: query("SELECT id, username FROM users WHERE id = %s",
                                           (uid,), one=True))
    return (jsonify(id=u[0], username=u[1]), 200) if u else (jsonify(error="no such user"), 404)


@app.get("/api/carts/<int:uid>")
def get_cart(uid):
    raw = cache.get("carts:%d" % uid)
    return jsonify(items=json.loads(raw) if raw else [])


@app.post("/api/carts/<int:uid>")
def add_to_cart(uid):
    body = request.get_json(force=True, silent=True) or {}
    raw = cache.get("carts:%d" % uid)
    items = json.loads(raw) if raw else []
    items.append({"productId": body.get("product_id"), "quantity": body.get("quantity", 1)})
    cache.set("carts:%d" % uid, json.dumps(items), ex=TTL["carts"])
    return jsonify(items=items), 201


@app.get("/health")
def health():
    return jsonify(status="UP")
