#!/bin/bash
# --correlation-redis: a service that produces a record per request (no record
# headers) observed by one sonde, its consumer by another; the two share only
# a redis-server. Each CONSUMER span must continue the trace of the PRODUCER
# span that wrote its records (0 wrong parents), from the other instance;
# Redis down: capture goes on, the spans that could not be joined are counted.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ajv
start_mock_broker --topic orders:3
B=$KAFKA_BOOTSTRAP
start_redis
start_zipkin_receiver

cat >"$LIB_TMP/consume.py" <<'PY'
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "g", "auto.offset.reset": "earliest"})
c.subscribe(["orders"], on_assign=lambda c, parts: print("subscribed", flush=True))
n, want = 0, int(sys.argv[2])
while True:
    m = c.poll(0.2)
    if m is not None and not m.error():
        n += 1
        if n in (want, 2 * want):
            print("consumed", n, flush=True)
PY
cat >"$LIB_TMP/client.py" <<'PY'
import sys, urllib.request
port, first, n = map(int, sys.argv[1:4])
for i in range(first, first + n):
    urllib.request.urlopen("http://127.0.0.1:%d/orders/o%d" % (port, i)).read()
PY
K=200
APP_PORT=$(free_port)
start_gated app "$PYTHON" "$HERE/kafka_app.py" "$B" "$APP_PORT" "$LIB_TMP/deliveries.json"
app_pid=$GATED_PID
start_gated consumer "$PYTHON" "$LIB_TMP/consume.py" "$B" "$K"
cons_pid=$GATED_PID
ZURL=http://127.0.0.1:$Z_PORT/api/v2/spans
start_sonde --pid "$app_pid=orders" --zipkin-url "$ZURL" --correlation-redis "redis://127.0.0.1:$REDIS_PORT"
SONDE_A=$SONDE_PORT SONDE_A_PID=$SONDE_PID
SONDE_PORT=
start_sonde --pid "$cons_pid=consumer" --zipkin-url "$ZURL" --correlation-redis "redis://127.0.0.1:$REDIS_PORT"
SONDE_B=$SONDE_PORT SONDE_B_PID=$SONDE_PID
open_gate app
open_gate consumer
wait_until 10 grep -q ready "$LIB_TMP/app.out" || die "kafka_app: $(cat "$LIB_TMP/app.out")"
wait_until 30 grep -q subscribed "$LIB_TMP/consumer.out" || die "consumer: $(cat "$LIB_TMP/consumer.out")"

step "$K requests, a record each, no record headers; producer and consumer seen by different instances"
"$PYTHON" "$LIB_TMP/client.py" "$APP_PORT" 0 "$K" >"$LIB_TMP/client.out" 2>&1 ||
	fail "client: $(tail -3 "$LIB_TMP/client.out")"
wait_until 30 grep -q "consumed $K" "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
sleep 2.5 # a second of waiting for Redis, then a flush of the span queues
SONDE_PORT=$SONDE_B
joined=$(metric 'sonde_trace_correlation_total{result="joined"}')
assert_gt "CONSUMER spans joined through Redis, counted" 0 "$joined"
"$PYTHON" "$HERE/check_traces.py" kafka "$ZDIR" --min-linked 0.5 >"$LIB_TMP/kcheck.out" 2>&1 &&
	pass "$(cat "$LIB_TMP/kcheck.out")" || fail "$(cat "$LIB_TMP/kcheck.out")"
"$PYTHON" - "$ZDIR" "$SONDE_A_PID" >"$LIB_TMP/sides.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/sides.out")" || fail "$(cat "$LIB_TMP/sides.out")"
# The joins crossed instances: the CONSUMER spans were sent by B, their PRODUCER parents by A.
import glob, json, sys
spans = [s for f in glob.glob(sys.argv[1] + "/*.json") for s in json.load(open(f))]
prod = {s["id"]: s for s in spans if s.get("kind") == "PRODUCER"}
cons = [s for s in spans if s.get("kind") == "CONSUMER"]
cross = [s for s in cons if s.get("parentId") in prod and
         prod[s["parentId"]]["localEndpoint"]["serviceName"] == "orders" and
         s["localEndpoint"]["serviceName"] == "consumer"]
print("CONSUMER spans %d, joined across instances %d" % (len(cons), len(cross)))
sys.exit(0 if cross else 1)
PY

step "Redis down: capture goes on, the spans that wait for it are counted"
kill "$REDIS_PID"
wait_until 5 lib_dead "$REDIS_PID" || die "redis-server did not stop"
before=$(metric 'sonde_trace_correlation_total{result="not_found"}')
"$PYTHON" "$LIB_TMP/client.py" "$APP_PORT" "$K" "$K" >"$LIB_TMP/client2.out" 2>&1 ||
	fail "client: $(tail -3 "$LIB_TMP/client2.out")"
wait_until 30 grep -q "consumed $((2 * K))" "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
sleep 2
assert_gt "not joined, counted" "$before" "$(metric 'sonde_trace_correlation_total{result="not_found"}')"
assert_gt "failed round trips counted" 0 "$(metric sonde_trace_correlation_errors_total)"
assert_eq "records consumed, counted all the same" $((2 * K)) \
	"$(metric_sum 'kafka_consumer_records_consumed_total{service="consumer"}')"
finish
