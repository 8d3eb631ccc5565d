#!/usr/bin/python3
"""The shop's Kafka consumers (confluent-kafka), one process each:

    svc_consumer.py inventory      group "inventory": ORDER_CREATED takes the stock in
                                   PostgreSQL and evicts inventory:<id> and products:<id>;
                                   publishes inventory-events
    svc_consumer.py notification   group "notification": order, payment and notification
                                   events become rows of notifications (the mail it would send)
"""
import json
import os
import signal
import sys

from confluent_kafka import Consumer

from shop_common import evict, publish, query

role = sys.argv[1]
topics = {"inventory": ["order-events"],
          "notification": ["order-events", "payment-events", "notification-events"]}[role]
consumer = Consumer({"bootstrap.servers": os.environ["SHOP_KAFKA"], "group.id": role,
                     "auto.offset.reset": "earliest", "enable.auto.commit": True,
                     "auto.commit.interval.ms": 1000})
consumer.subscribe(topics)
# Stopped by SIGTERM at once: the group's rebalance is the mock broker's business.
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
while True:
    msg = consumer.poll(0.5)
    if msg is None or msg.error():
        continue
    event = json.loads(msg.value())
    if role == "inventory" and event.get("type") == "ORDER_CREATED":
        pid, qty = event["productId"], event["quantity"]
        query("UPDATE inventory SET stock = stock - %s WHERE product_id = %s", (qty, pid))
        evict("inventory:%d" % pid, "products:%d" % pid)
        publish("inventory-events", pid, {"type": "STOCK_RESERVED", "productId": pid,
                                          "orderId": event["orderId"], "quantity": qty})
    elif role == "notification":
        query("INSERT INTO notifications (kind, order_id) VALUES (%s, %s)",
              (event.get("type", "?"), event.get("orderId")))
