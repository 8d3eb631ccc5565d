#!/usr/bin/python3
"""The demo shop's load: what its users do, at a steady rate (not part of sonde).

    loadgen.py --url http://127.0.0.1:PORT [--duration 60] [--rate 40] [--clients 60]
               [--summary FILE] [--seed 0]

--url is the gateway, --duration how long to run (s), --rate requests per second over all
clients (each a thread with one keep-alive connection, requests spaced at random,
Poisson-like), --clients how many; --seed picks another mix (the same seed, the same
choices).

Each request is one of (weights): browsing the catalogue (products, pages, categories,
search, stock: cache hits, and misses where the key is new or expired), carts, profiles, sign-ups
(some names taken: 409), logins (some clients try too often: the seed's 5 a minute per IP,
answered 429 by sonde's rate limit), orders created, then confirmed (paid: the payment
service declines cards ending in 0002 and payments over 5,000,000 KRW: 402; a card ending
in 0005 is its outage: 500, the order service answers 502) or cancelled, and looked at.
Clients come from their own addresses (127.0.0.2 and up: every 127/8 address is this
machine's), so per-IP limits apply per client; one client in 12 only tries passwords.

At the end it prints "N requests in S s", then one line per method, route and status
("  POST   /api/orders                      201      57"; status "error" for a request
with no answer), then the business line. --summary FILE writes, as JSON, what the shop's
database should hold for this run, counted from the answers:
    registrations      POST /api/auth/register answered 201   (rows of users)
    orders_created     POST /api/orders answered 201          (rows of orders)
    orders_confirmed   POST /api/orders/{id}/confirm 201      (orders CONFIRMED)
    orders_cancelled   POST /api/orders/{id}/cancel 200       (orders CANCELLED)
    payments_success   = orders_confirmed                     (payments SUCCESS)
    payments_failed    confirm answered 402                   (payments FAILED)
    revenue            sum of the confirmed orders' amounts   (sum of SUCCESS payments)
    requests           all requests sent
    by_route           {"POST /api/orders": {"201": 57, "429": 3}, ...}
On a fresh shop these equal the database's counts exactly (README.md shows the queries).
"""
import argparse
import collections
import http.client
import json
import random
import threading
import time

MIX = [("browse", 50), ("cart", 8), ("profile", 3), ("register", 6), ("login", 6), ("order", 14),
       ("confirm", 9), ("cancel", 3), ("look", 4)]


class Client:
    def __init__(self, host, port, n):
        self.host, self.port, self.addr = host, port, "127.0.0.%d" % (2 + n % 250)
        self.conn = None
        self.user = self.name = None
        self.guesser = n % 12 == 11  # tries passwords: over the seed's 5 logins a minute
        self.orders = []  # created, not yet confirmed or cancelled

    def call(self, method, path, body=None, route=None):
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10,
                                                       source_address=(self.addr, 0))
            try:
                data = json.dumps(body).encode() if body is not None else None
                self.conn.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"} if data else {})
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                stats[(method, route or path, r.status)] += 1
                try:
                    return r.status, json.loads(payload) if payload else {}
                except ValueError:
                    return r.status, {}
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                # Sent again only when a kept-alive connection turned out closed by the
                # gateway (nothing came back: the request was never served), so that
                # the summary's counts stay exact; a timeout is an error, not retried.
                if attempt or fresh or not isinstance(e, (http.client.RemoteDisconnected,
                                                          BrokenPipeError, ConnectionResetError)):
                    stats[(method, route or path, "error")] += 1
                    return 0, {}
        return 0, {}


stats = collections.Counter()
SUMMARY_KEYS = ("registrations", "orders_created", "orders_confirmed", "orders_cancelled",
                "payments_success", "payments_failed")
shop = collections.Counter({k: 0 for k in SUMMARY_KEYS})
shop_revenue = [0]
lock = threading.Lock()
names = [0]


def next_name():
    with lock:
        names[0] += 1
        return "user-%d-%d" % (int(time.time()), names[0])


def act(c, kind, rnd):
    if kind == "browse":
        pid = int(rnd.paretovariate(1.2)) % 200 + 1  # a few products are most of the views
        choice = rnd.random()
        if choice < 0.5:
            c.call("GET", "/api/products/%d" % pid, route="/api/products/{id}")
        elif choice < 0.65:
            c.call("GET", "/api/products?page=%d" % rnd.randint(1, 10), route="/api/products")
        elif choice < 0.75:
            c.call("GET", "/api/categories")
        elif choice < 0.9:
            c.call("GET", "/api/search?q=product-%d" % rnd.randint(1, 60), route="/api/search")
        else:
            c.call("GET", "/api/inventory/%d" % pid, route="/api/inventory/{id}")
    elif kind == "cart":
        uid = c.user or rnd.randint(1, 50)
        if rnd.random() < 0.5:
            c.call("GET", "/api/carts/%d" % uid, route="/api/carts/{id}")
        else:
            c.call("POST", "/api/carts/%d" % uid, {"product_id": rnd.randint(1, 200), "quantity": 1},
                   route="/api/carts/{id}")
    elif kind == "profile":  # the users region: a profile, its own or one of the first 50
        uid = c.user if c.user and rnd.random() < 0.5 else rnd.randint(1, 50)
        c.call("GET", "/api/users/%d" % uid, route="/api/users/{id}")
    elif kind == "register-admin":
        st, _ = c.call("POST", "/api/auth/register", {"username": "shop-admin", "password": "pw-admin"})
        if st == 201:
            with lock:
                shop["registrations"] += 1
    elif kind == "register":
        name = c.name if c.name and rnd.random() < 0.3 else next_name()  # taken: 409
        st, body = c.call("POST", "/api/auth/register", {"username": name, "password": "pw-" + name})
        if st == 201:
            with lock:
                shop["registrations"] += 1
            c.user, c.name = body.get("id"), name
    elif kind == "login":
        if c.name and not c.guesser:
            c.call("POST", "/api/auth/login", {"username": c.name, "password": "pw-" + c.name})
        else:
            c.call("POST", "/api/auth/login", {"username": "admin", "password": "guess-%d" % rnd.randint(1, 10**6)})
    elif kind == "order":
        # One order in 50 is a bulk one, over the payment service's limit (5,000,000 KRW
        # per payment) when the product costs more than 33,333: declined, 402.
        qty = 150 if rnd.random() < 0.02 else rnd.randint(1, 3)
        st, body = c.call("POST", "/api/orders", {"user_id": c.user or 0, "product_id": rnd.randint(1, 200),
                                                  "quantity": qty})
        if st == 201:
            with lock:
                shop["orders_created"] += 1
            c.orders.append((body["id"], body["amount"]))
    elif kind in ("confirm", "cancel") and c.orders:
        oid, amount = c.orders.pop(0)
        if kind == "confirm":
            x = rnd.random()
            card = "4000000000000002" if x < 0.15 else "4000000000000005" if x < 0.18 else "4111111111111111"
            st, _ = c.call("POST", "/api/orders/%d/confirm" % oid, {"card": card},
                           route="/api/orders/{id}/confirm")
            with lock:
                if st == 201:
                    shop["orders_confirmed"] += 1
                    shop["payments_success"] += 1
                    shop_revenue[0] += amount
                elif st == 402:
                    shop["payments_failed"] += 1
                    c.orders.append((oid, amount))  # cancelled later, perhaps
        else:
            st, _ = c.call("POST", "/api/orders/%d/cancel" % oid, route="/api/orders/{id}/cancel")
            if st == 200:
                with lock:
                    shop["orders_cancelled"] += 1
    elif kind == "look" and c.orders:
        c.call("GET", "/api/orders/%d" % c.orders[-1][0], route="/api/orders/{id}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--rate", type=float, default=40, help="requests per second, all clients")
    ap.add_argument("--clients", type=int, default=60)
    ap.add_argument("--summary")
    ap.add_argument("--seed", type=int, default=0, help="another seed, another run (default 0)")
    a = ap.parse_args()
    host, port = a.url.split("://", 1)[1].rstrip("/").split(":")
    kinds = [k for k, w in MIX for _ in range(w)]
    end = time.time() + a.duration
    per_client = a.rate / a.clients

    def run(n):
        c, rnd = Client(host, int(port), n), random.Random(a.seed * 100003 + n)
        if n < 2:  # two clients want the same name: one gets it, the other a 409
            time.sleep(0.2 * n)
            act(c, "register-admin", rnd)
        nxt = time.time() + rnd.random() / per_client
        while True:
            now = time.time()
            if nxt > end:
                break
            if nxt > now:
                time.sleep(nxt - now)
            nxt += rnd.expovariate(per_client)
            act(c, "login" if c.guesser else rnd.choice(kinds), rnd)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(stats.values())
    print("%d requests in %.0f s" % (total, a.duration))
    by_route = {}
    for (m, r, st), n in sorted(stats.items(), key=lambda kv: (kv[0][1], kv[0][0], str(kv[0][2]))):
        print("  %-6s %-32s %-5s %6d" % (m, r, st, n))
        by_route.setdefault("%s %s" % (m, r), {})[str(st)] = n
    summary = dict(shop, revenue=shop_revenue[0], requests=total, by_route=by_route)
    print("business: " + ", ".join("%s %d" % (k, summary[k]) for k in SUMMARY_KEYS + ("revenue",)))
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
