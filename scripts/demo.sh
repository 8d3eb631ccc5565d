#!/usr/bin/env bash
# scripts/demo.sh: `make demo`. Starts the seeds' shop on 127.0.0.1 (deploy/demo/shop/:
# nginx as the gateway, user, order and payment services in Flask under gunicorn,
# PostgreSQL, Redis with the six cache regions, Kafka with five topics and two consumers;
# no observability code in any of it), a real Prometheus, and sonde node-wide on the shop
# (--all: discovered by cgroup, named by deploy/demo/shop/sonde.yaml, with the seed's rate
# limits, business counters and traceparent injection, JSON logs to a file). Runs the load
# generator, then prints what sonde saw: the RED table per service and route, cache hit
# ratios, Kafka, rate limiting, the business counters, the dependencies' health, one saga
# as a timeline and its log lines, and where to look next.
#
# Environment:
#   DEMO_SECONDS=30        how long the load runs (make demo DURATION=...)
#   DEMO_RATE=40           requests per second of the load
#   DEMO_SECONDS_AFTER=N   keep everything running N seconds after the report, then stop.
#                          Default: until Ctrl-C on a terminal, 0 when stdin is not one.
#   DEMO_PORT=9464         sonde's port (a free one if 9464 is taken)
#   DEMO_SONDE_ARGS=...    more options for sonde (tests: --zipkin-url, --loki-url)
#   DEMO_READY_FILE=PATH   written once the report is printed (tests)
#   SONDE_IT_KEEP=1        keep the temp dir (configs, logs) afterwards
#
# Everything runs from a private temp dir and is stopped by PID on exit, SIGINT or SIGTERM
# by tests/integration/lib.sh's cleanup trap.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
# shellcheck source=../deploy/demo/shop/start.sh
. "$ROOT/deploy/demo/shop/start.sh"

DEMO_SECONDS=${DEMO_SECONDS:-30}
DEMO_RATE=${DEMO_RATE:-40}
if [ -n "${DEMO_SECONDS_AFTER:-}" ]; then
	after=$DEMO_SECONDS_AFTER
elif [ -t 0 ]; then
	after=forever
else
	after=0
fi
[[ $DEMO_SECONDS =~ ^[1-9][0-9]*$ ]] && [ "$DEMO_SECONDS" -le 3600 ] ||
	die "DEMO_SECONDS must be 1..3600 (got $DEMO_SECONDS)"
[[ $DEMO_RATE =~ ^[1-9][0-9]*$ ]] || die "DEMO_RATE must be a number of requests per second"
[ "$after" = forever ] || [[ $after =~ ^[0-9]+$ ]] ||
	die "DEMO_SECONDS_AFTER must be a number of seconds (got $after)"
for tool in nginx curl gunicorn prometheus redis-server; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh demo)"
done
[ -x "$SONDE_BIN" ] || die "$SONDE_BIN not built (run make)"
[ -x "$SONDE_ROOT/build/mock_broker" ] || die "build/mock_broker not built (make build/mock_broker)"
[ "$(id -u)" = 0 ] || die "sonde loads BPF programs: run as root"
# lib.sh's cleanup stops everything by PID; then the shop's cgroups can go.
lib_on_exit() {
	lib_cleanup
	shop_cgroups_remove
}
trap lib_on_exit EXIT

# ------------------------------------------------------------------ start up

step "starting the shop on 127.0.0.1: PostgreSQL, Redis, Kafka (mock), 3 services, 2 consumers, the gateway"
shop_start
echo "   gateway $SHOP_URL -> user-service :$USER_PORT, order-service :$ORDER_PORT -> payment-service :$PAYMENT_PORT"
echo "   PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, Kafka $KAFKA_BOOTSTRAP (${SHOP_TOPICS[*]})"

if [ -z "${SONDE_PORT:-}" ]; then
	SONDE_PORT=${DEMO_PORT:-9464}
	lib_port_listening "$SONDE_PORT" && SONDE_PORT=$(free_port)
fi
step "starting sonde node-wide (--all), observing the shop's cgroups (deploy/demo/shop/sonde.yaml)"
# shellcheck disable=SC2086 # DEMO_SONDE_ARGS: options, split on purpose
start_sonde --all --config "$SHOP_DIR/sonde.yaml" --log-file "$LIB_TMP/shop-log.json" ${DEMO_SONDE_ARGS:-}
SONDE_URL=http://127.0.0.1:$SONDE_PORT
wait_until 10 sh -c "curl -s $SONDE_URL/metrics | grep -q '^sonde_discovered_processes_total [1-9]'" ||
	die "sonde found none of the shop's processes: $(tail -5 "$SONDE_LOG")"
echo "   sonde pid $SONDE_PID: $(curl -s "$SONDE_URL/metrics" | awk '/^sonde_targets / { print $2 }') processes observed"

step "starting Prometheus (deploy/prometheus/sonde.yml's job and alert rules, scraping every 2 s)"
PROM_DIR=$LIB_TMP/prometheus
mkdir -p "$PROM_DIR/data"
sed -e "s|127.0.0.1:9464|127.0.0.1:$SONDE_PORT|" -e 's|scrape_interval: 15s|scrape_interval: 2s|' \
	-e 's|scrape_timeout: 10s|scrape_timeout: 2s|' -e 's|evaluation_interval: 15s|evaluation_interval: 5s|' \
	-e 's|environment: dev|environment: demo|' "$ROOT/deploy/prometheus/sonde.yml" >"$PROM_DIR/prometheus.yml"
cp "$ROOT/deploy/prometheus/alerts.yml" "$ROOT/deploy/prometheus/seed_rules.yml" "$PROM_DIR/"
PROM_PORT=$(free_port)
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --enable-feature=exemplar-storage --log.level=warn \
	>"$PROM_DIR/prometheus.log" 2>&1 &
PROM_PID=$!
track_pid prometheus "$PROM_PID"
wait_until 30 lib_http_ok "http://127.0.0.1:$PROM_PORT/-/ready" ||
	die "Prometheus did not start: $(tail -5 "$PROM_DIR/prometheus.log")"
PROM_URL=http://127.0.0.1:$PROM_PORT

# ------------------------------------------------------------------ load

step "running the shop's load for $DEMO_SECONDS s at $DEMO_RATE requests/s (deploy/demo/shop/loadgen.py)"
"$PYTHON" "$SHOP_DIR/loadgen.py" --url "$SHOP_URL" --duration "$DEMO_SECONDS" --rate "$DEMO_RATE" \
	--summary "$LIB_TMP/load.json" >"$LIB_TMP/load.txt" 2>&1 || die "the load failed: $(tail -5 "$LIB_TMP/load.txt")"
head -1 "$LIB_TMP/load.txt" | sed 's/^/   /'
sleep 5 # two scrapes, and the consumers' last commits

# ------------------------------------------------------------------ report

echo
step "what sonde saw (numbers from Prometheus over the load's $DEMO_SECONDS s, and from sonde)"
"$PYTHON" "$SHOP_DIR/report.py" "$PROM_URL" "$SONDE_URL" "$((DEMO_SECONDS + 5))"
echo
step "one order's saga, as sonde joined it: an order confirmed through the gateway, paid by payment-service"
# The largest recent trace through the gateway and payment-service.
saga=$(curl -sf "$SONDE_URL/api/traces?serviceName=payment-service&limit=200" | "$PYTHON" -c '
import json, sys
best = max((t for t in json.load(sys.stdin)
            if {"gateway", "payment-service"} <= {s["localEndpoint"]["serviceName"] for s in t}),
           key=len, default=None)
print(best[0]["traceId"] if best else "")')
if [ -n "$saga" ]; then
	"$SONDE_BIN" traces --listen "127.0.0.1:$SONDE_PORT" --trace "$saga"
	echo "(its Kafka records are sent by librdkafka's own thread, after the request: their spans"
	echo " start traces of their own, which the consumers' spans join: docs/tracing.md)"
	echo
	echo "its log lines ($LIB_TMP/shop-log.json, trace.id $saga):"
	grep "\"trace.id\":\"$saga\"" "$LIB_TMP/shop-log.json" | head -4 | cut -c1-240
fi
echo
echo "Look further:"
echo "  sonde's page      $SONDE_URL/        (services, dependencies, traces: click one)"
echo "  sonde's metrics   $SONDE_URL/metrics"
echo "  traces            $SONDE_BIN traces --listen 127.0.0.1:$SONDE_PORT"
echo "  Prometheus        $PROM_URL/graph   (alerts: $PROM_URL/alerts)"
echo "  the shop          curl -s $SHOP_URL/api/products/42"
[ -n "${DEMO_READY_FILE:-}" ] && echo "$SONDE_PORT $PROM_PORT $SHOP_URL $PG_PORT $REDIS_PORT $REDIS_PID" >"$DEMO_READY_FILE"

# ------------------------------------------------------------------ linger

demo_stop=0
trap 'demo_stop=1' INT TERM
# sonde gone by itself is an error; gone with the Ctrl-C that also reached us
# (the terminal signals the whole process group) is the normal end.
demo_check_sonde() {
	lib_alive "$SONDE_PID" && return 0
	sleep 0.3 # let our own SIGINT trap run first
	[ "$demo_stop" = 1 ] && return 0
	echo "sonde exited unexpectedly; the end of its log:"
	tail -n 20 "$SONDE_LOG"
	exit 1
}
if [ "$after" = forever ]; then
	echo
	echo "Everything keeps running; press Ctrl-C to stop it all."
	while [ "$demo_stop" = 0 ]; do
		sleep 0.5
		demo_check_sonde
	done
elif [ "$after" -gt 0 ]; then
	echo
	echo "Everything keeps running for $after s (Ctrl-C stops sooner)."
	end=$((SECONDS + after))
	while [ "$demo_stop" = 0 ] && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.5
		demo_check_sonde
	done
fi
trap 'exit 130' INT
trap 'exit 143' TERM
echo
step "stopping sonde, Prometheus and the shop"
stop_sonde INT
[ "$SONDE_RC" = 0 ] || echo "  note: sonde exited with status $SONDE_RC"
exit 0
