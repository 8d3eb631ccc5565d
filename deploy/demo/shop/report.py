#!/usr/bin/python3
"""What `make demo` prints once the load has run: the shop as Prometheus and sonde see it.

    report.py PROMETHEUS_URL SONDE_URL WINDOW_SECONDS

Every number comes from the real Prometheus scraping sonde (PromQL over the load's window)
or from sonde itself (/api/dependencies): the RED table per service and route, the cache
hit ratio per region, Kafka consumer lag per topic, requests answered 429 per rule, the
seed's business counters, and the dependencies' health.
"""
import json
import sys
import urllib.parse
import urllib.request

prom, sonde, window = sys.argv[1], sys.argv[2], int(sys.argv[3])
W = "%ds" % max(window, 10)


def q(expr):
    url = "%s/api/v1/query?%s" % (prom, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=10) as f:
        data = json.load(f)["data"]["result"]
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in data}


def by(result, *labels):
    return {tuple(dict(k).get(l, "") for l in labels): v for k, v in result.items()}


def ms(s):
    return "%.1f ms" % (s * 1000) if s == s else "–"


def red():
    key = ("service", "method", "uri")
    rate = by(q("sum by (service, method, uri) (rate(http_server_requests_seconds_count[%s]))" % W), *key)
    err = by(q('sum by (service, method, uri) (rate(http_server_requests_seconds_count{outcome="SERVER_ERROR"}[%s]))' % W), *key)
    cli = by(q('sum by (service, method, uri) (rate(http_server_requests_seconds_count{outcome="CLIENT_ERROR"}[%s]))' % W), *key)
    p = {x: by(q("histogram_quantile(%s, sum by (service, method, uri, le) (rate(http_server_requests_seconds_bucket[%s])))" % (x, W)), *key)
         for x in ("0.5", "0.99")}
    print("%-16s %-6s %-28s %8s %7s %7s %9s %9s" % ("service", "method", "route", "req/s", "4xx %", "5xx %", "p50", "p99"))
    for k in sorted(rate, key=lambda k: (k[0], -rate[k])):
        r = rate[k]
        if r < 0.005:
            continue
        print("%-16s %-6s %-28s %8.2f %6.1f%% %6.1f%% %9s %9s" % (k[0], k[1], k[2][:28], r,
              100 * cli.get(k, 0) / r, 100 * err.get(k, 0) / r, ms(p["0.5"].get(k, float("nan"))),
              ms(p["0.99"].get(k, float("nan")))))


def caches():
    hit = by(q('sum by (cache) (increase(cache_gets_total{result="hit"}[%s]))' % W), "cache")
    all_ = by(q("sum by (cache) (increase(cache_gets_total[%s]))" % W), "cache")
    print("cache hit ratio: " + ", ".join("%s %.0f%% (%d reads)" % (c[0], 100 * hit.get(c, 0) / n, n)
                                          for c, n in sorted(all_.items()) if n))


def kafka():
    sent = by(q("sum by (topic) (increase(kafka_producer_record_send_total[%s]))" % W), "topic")
    lag = by(q("max by (topic) (kafka_consumer_records_lag)"), "topic")
    print("kafka: " + ", ".join("%s %d produced, lag %d" % (t[0], n, lag.get(t, 0))
                                for t, n in sorted(sent.items())))


def limits():
    lim = by(q('sum by (rule, result) (rate_limit_requests_total)'), "rule", "result")
    rules = sorted({k[0] for k in lim})
    print("rate limits (429 by the kernel): " + ", ".join(
        "%s %d of %d" % (r, lim.get((r, "limited"), 0), lim.get((r, "limited"), 0) + lim.get((r, "allowed"), 0))
        for r in rules))


def business():
    names = ["user_registrations_total", "orders_created_total", "orders_confirmed_total",
             "orders_cancelled_total", "payments_success_total", "payments_failed_total", "revenue_total"]
    vals = [(n, sum(q("sum(%s)" % n).values())) for n in names]
    print("business: " + ", ".join("%s %d" % (n, v) for n, v in vals))


def deps():
    with urllib.request.urlopen(sonde + "/api/dependencies", timeout=5) as f:
        ds = json.load(f)
    print("dependencies: " + ", ".join("%s → %s %s%s" % (d["service"], d["dependency"], d["status"],
                                                      "" if d["status"] == "UP" else " (last error %s)" % d["last_error"])
                                       for d in sorted(ds, key=lambda d: (d["service"], d["dependency"]))))


for part in (red, caches, kafka, limits, business, deps):
    try:
        part()
    except Exception as e:  # the report says what it could not read, and goes on
        print("(%s: %s)" % (part.__name__, e))
