"""What the demo shop's services share: their connections (deploy/demo/shop/).

Plain clients, as a Spring service would hold them: a PostgreSQL connection per
worker (psycopg2), a Redis client (redis-py), a Kafka producer (confluent-kafka).
No metrics, tracing or logging code: sonde observes all of it from outside.
Settings from the environment: SHOP_PG (a libpq DSN), SHOP_REDIS_PORT,
SHOP_KAFKA (bootstrap servers).
"""
import json
import os
import threading

import psycopg2
import redis
from confluent_kafka import Producer
from flask import jsonify
from werkzeug.exceptions import HTTPException

# The seed's six cache regions and their TTLs (seconds).
TTL = {"products": 3600, "categories": 86400, "users": 1800, "carts": 600, "search": 600,
       "inventory": 300}

_local = threading.local()
cache = redis.Redis(host="127.0.0.1", port=int(os.environ.get("SHOP_REDIS_PORT", "6379")),
                    socket_connect_timeout=0.5, socket_timeout=0.5)
_producer = None
_producer_lock = threading.Lock()


def db():
    """This thread's connection (autocommit), made again if it broke."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg2.connect(os.environ["SHOP_PG"])
        conn.autocommit = True
        _local.conn = conn
    return conn


def query(sql, args=(), one=False):
    with db().cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else []
    return (rows[0] if rows else None) if one else rows


def cached(region, key, load):
    """Cache-aside with the region's TTL; the cache failing open (the seed's 5.3)."""
    name = "%s:%s" % (region, key)
    try:
        hit = cache.get(name)
        if hit is not None:
            return json.loads(hit)
    except redis.exceptions.RedisError:
        return load()
    value = load()
    if value is None:  # not found: not cached (a user or product made later is seen)
        return value
    try:
        cache.set(name, json.dumps(value), ex=TTL[region])
    except redis.exceptions.RedisError:
        pass
    return value


def evict(*names):
    try:
        cache.delete(*names)
    except redis.exceptions.RedisError:
        pass


def publish(topic, key, event):
    """An event on a topic (5 topics of 3 partitions), keyed as the seed keys them."""
    global _producer
    with _producer_lock:
        if _producer is None or _producer[0] != os.getpid():  # one per worker process
            _producer = (os.getpid(), Producer({"bootstrap.servers": os.environ["SHOP_KAFKA"],
                                                "linger.ms": 5, "acks": "all"}))
        _producer[1].produce(topic, key=str(key), value=json.dumps(event))
        _producer[1].poll(0)


def json_errors(app):
    """Errors in JSON as well (404, 405, and the 500 of an unhandled exception), not
    Flask's HTML pages."""
    @app.errorhandler(HTTPException)
    def _error(e):
        return jsonify(error=e.name.lower()), e.code
