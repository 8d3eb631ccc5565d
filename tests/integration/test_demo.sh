#!/bin/bash
# make demo, as a newcomer runs it (scripts/demo.sh), for 60 s of load, with stand-ins for
# Zipkin and Loki (zipkin_receiver.py) so that every exporter series exists. While the demo
# keeps everything running:
#   - the seed's business counters equal what the shop's own database recorded;
#   - every PromQL expression of the Grafana dashboard, of the alert rules (their value,
#     without the threshold) and the seed's own queries returns data from the demo's
#     Prometheus;
#   - one saga (gateway -> order-service -> payment-service) is a single trace, and the
#     web view, in headless Chromium, shows the shop's services and draws that trace;
#   - Redis stopped: sonde says it is DOWN within 10 s; started again: UP.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
ZIPKIN_PORT=$(free_port) LOKI_PORT=$(free_port)
"$PYTHON" "$HERE/zipkin_receiver.py" "$ZIPKIN_PORT" - >"$LIB_TMP/zipkin.out" 2>&1 &
track_pid zipkin $!
"$PYTHON" "$HERE/zipkin_receiver.py" "$LOKI_PORT" - --path /loki/api/v1/push \
	--content-type application/x-protobuf --suffix .pb >"$LIB_TMP/loki.out" 2>&1 &
track_pid loki $!
wait_until 10 grep -q ready "$LIB_TMP/zipkin.out" || die "zipkin stand-in did not start"
wait_until 10 grep -q ready "$LIB_TMP/loki.out" || die "loki stand-in did not start"

step "make demo (scripts/demo.sh): 60 s of load"
DEMO_SECONDS=60 DEMO_SECONDS_AFTER=300 DEMO_READY_FILE=$LIB_TMP/ready SONDE_BIN=$SONDE_BIN \
	DEMO_SONDE_ARGS="--zipkin-url http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans --loki-url http://127.0.0.1:$LOKI_PORT" \
	setsid "$SONDE_ROOT/scripts/demo.sh" </dev/null >"$LIB_TMP/demo.out" 2>&1 &
DEMO_PID=$!
track_pid demo "$DEMO_PID"
wait_until 180 test -s "$LIB_TMP/ready" || die "the demo did not finish its report: $(tail -30 "$LIB_TMP/demo.out")"
read -r SONDE_PORT PROM_PORT SHOP_URL PG_PORT REDIS_PORT REDIS_PID <"$LIB_TMP/ready"
sed 's/^/    | /' "$LIB_TMP/demo.out"
assert_true "the demo printed its report in < 3 minutes" grep -q "what sonde saw" "$LIB_TMP/demo.out"

step "business counters: the shop's own database"
PSQL=("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d shop -Atc)
db() { "${PSQL[@]}" "$1"; }
assert_metric "user_registrations_total: users" 'user_registrations_total{service="user-service"}' "$(db 'select count(*) from users')"
assert_metric "orders_created_total: orders" 'orders_created_total{service="order-service"}' "$(db 'select count(*) from orders')"
assert_metric "orders_confirmed_total" 'orders_confirmed_total{service="order-service"}' \
	"$(db "select count(*) from orders where status = 'CONFIRMED'")"
assert_metric "orders_cancelled_total" 'orders_cancelled_total{service="order-service"}' \
	"$(db "select count(*) from orders where status = 'CANCELLED'")"
assert_metric "payments_success_total" 'payments_success_total{service="payment-service"}' \
	"$(db "select count(*) from payments where status = 'SUCCESS'")"
assert_metric "payments_failed_total" 'payments_failed_total{service="payment-service"}' \
	"$(db "select count(*) from payments where status = 'FAILED'")"
assert_metric "revenue_total: the sum of successful payments (KRW)" 'revenue_total{service="payment-service"}' \
	"$(db "select coalesce(sum(amount), 0) from payments where status = 'SUCCESS'")"

step "every PromQL expression of the dashboard, the alert rules and the seed returns data"
{
	"$PYTHON" "$SONDE_ROOT/deploy/grafana/exprs.py" --json
} >"$LIB_TMP/exprs.json" || die "exprs.py failed"
"$PYTHON" - "$LIB_TMP/exprs.json" "$SONDE_ROOT/deploy/grafana/seed_queries.promql" "http://127.0.0.1:$PROM_PORT" \
	>"$LIB_TMP/promql.out" 2>&1 <<'PY'
import json, re, sys, urllib.parse, urllib.request
exprs = [(e["source"], e.get("name") or e.get("panel") or "", e["expr"]) for e in json.load(open(sys.argv[1]))]
exprs += [("seed", "section 9", l.strip()) for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]

def value_form(expr):
    """An alert's value: its first operand of `and`, without the threshold."""
    top, depth, i = expr, 0, 0
    for i, ch in enumerate(expr):
        depth += ch == "(" or ch == "{" or ch == "["
        depth -= ch == ")" or ch == "}" or ch == "]"
        if depth == 0 and expr[i:i + 5] == " and ":
            top = expr[:i]
            break
    return re.sub(r"\s*(>|<|==|!=|>=|<=)\s*[0-9.e+-]+\s*$", "", top.strip())

bad = 0
for source, name, expr in exprs:
    q = value_form(expr) if source == "alerts" else expr
    url = "%s/api/v1/query?%s" % (sys.argv[3], urllib.parse.urlencode({"query": q}))
    try:
        res = json.load(urllib.request.urlopen(url, timeout=10))["data"]["result"]
    except Exception as e:
        res, err = [], str(e)
    if not res:
        bad += 1
        print("EMPTY %s / %s: %s" % (source, name, q))
print("%d expressions, %d without data" % (len(exprs), bad))
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] && pass "$(tail -1 "$LIB_TMP/promql.out")" || fail "$(cat "$LIB_TMP/promql.out")"

step "a saga is one trace; the web view shows the shop and draws it"
SAGA=$(curl -sf "http://127.0.0.1:$SONDE_PORT/api/traces?serviceName=payment-service&limit=200" | "$PYTHON" -c '
import json, sys
best = max((t for t in json.load(sys.stdin)
            if {"gateway", "order-service", "payment-service"} <= {s["localEndpoint"]["serviceName"] for s in t}),
           key=len, default=None)
print(best[0]["traceId"] if best else "")')
assert_true "a trace through gateway, order-service and payment-service" [ -n "$SAGA" ]
SHOTS=$SONDE_ROOT/build/integration/demo
mkdir -p "$SHOTS" && chmod a+rwx "$SHOTS"
if [ -n "$SAGA" ] && node "$HERE/node/webview.mjs" "http://127.0.0.1:$SONDE_PORT/" "$SHOTS" "$SAGA" \
	>"$LIB_TMP/page.json" 2>"$LIB_TMP/page.err"; then
	"$PYTHON" - "$LIB_TMP/page.json" >"$LIB_TMP/page.out" 2>&1 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
services = {r[0] for r in p["routes"]}
want = {"gateway", "user-service", "order-service", "payment-service"}
labels = " ".join(r["label"] for r in p["trace"]["rows"])
ok = want <= services and all(s in labels for s in ("gateway", "order-service", "payment-service")) and not p["errors"]
print("services shown %s; the saga drawn in %d rows" % (", ".join(sorted(services)), len(p["trace"]["rows"])))
sys.exit(0 if ok else 1)
PY
	[ $? = 0 ] && pass "the page: $(cat "$LIB_TMP/page.out")" || fail "the page: $(cat "$LIB_TMP/page.out")"
else
	fail "the page could not be driven: $(tail -5 "$LIB_TMP/page.err")"
fi

step "Redis stopped: DOWN within 10 s; started again: UP"
# The status of Redis for the two services the test's browsing makes call it.
dep_status() {
	curl -sf "http://127.0.0.1:$SONDE_PORT/api/dependencies" | "$PYTHON" -c '
import json, sys
print(" ".join(sorted({d["status"] for d in json.load(sys.stdin)
                       if d["dependency"] == sys.argv[1] and d["service"] in ("order-service", "user-service")})))' \
		"redis://127.0.0.1:$REDIS_PORT"
}
browse() {
	for ((i = 0; i < 3; i++)); do
		curl -s -o /dev/null "$SHOP_URL/api/products/$((RANDOM % 200 + 1))"
		curl -s -o /dev/null "$SHOP_URL/api/carts/$((RANDOM % 50 + 1))"
	done
}
{
	kill -9 "$REDIS_PID"
} 2>/dev/null
t0=$SECONDS
until [ "$(dep_status)" = DOWN ] || [ $((SECONDS - t0)) -gt 15 ]; do browse; sleep 0.5; done
assert_eq "Redis DOWN for order-service and user-service" DOWN "$(dep_status)"
assert_true "within 10 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 10 ]
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
	>"$LIB_TMP/redis2.log" 2>&1 &
track_pid redis $!
t0=$SECONDS
until [ "$(dep_status)" = UP ] || [ $((SECONDS - t0)) -gt 15 ]; do browse; sleep 0.5; done
assert_eq "Redis UP again" UP "$(dep_status)"
assert_true "within 10 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 10 ]

# SIGTERM: a shell started in the background ignores SIGINT (Ctrl-C in a terminal is SIGINT
# to the foreground demo, which traps both alike).
step "SIGTERM (as Ctrl-C) stops everything the demo started"
kill -TERM "$DEMO_PID"
wait_until 30 sh -c "! kill -0 $DEMO_PID 2>/dev/null"
assert_true "the demo exited" sh -c "! kill -0 $DEMO_PID 2>/dev/null"
assert_eq "nothing of it left on the gateway's port" "" \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$SHOP_URL/health" | grep -v '^000$')"
finish
