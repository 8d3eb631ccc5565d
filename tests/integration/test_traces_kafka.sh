#!/bin/bash
# Kafka and traces. Spans to Kafka (--zipkin-kafka): the same Zipkin v2 JSON
# lists as over HTTP, one list per message on topic "zipkin" of the librdkafka
# mock cluster, as Zipkin's Kafka collector reads them; read back with kcat,
# every message validates against the Zipkin spec (ajv). Then a service that
# produces one record per HTTP request (confluent-kafka) and an observed
# consumer: each CONSUMER span continues the trace of the PRODUCER span that
# wrote its records (offsets), never another's; a record that carries the
# request's traceparent puts the SERVER, PRODUCER and CONSUMER spans in one
# trace. Last, the consumer observed alone: its spans continue the records'
# traceparent headers.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ajv
start_mock_broker --topic zipkin:1 --topic orders:3
B=$KAFKA_BOOTSTRAP

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID=nginx" --zipkin-kafka "$B"
N=300
step "$N requests, each a span"
for ((i = 0; i < N; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 4 200 >/dev/null
wait_metric 'sonde_spans_exported_total{exporter="zipkin_kafka"}' "$N" 10 ||
	fail "exported: $(metric 'sonde_spans_exported_total{exporter="zipkin_kafka"}') of $N"
assert_eq "nothing dropped" 0 "$(metric_sum 'sonde_spans_dropped_total{exporter="zipkin_kafka"}')"

step "topic zipkin, read back"
mkdir -p "$LIB_TMP/msgs"
timeout 20 kcat -b "$B" -C -t zipkin -o beginning -e -q -f '%s\n' >"$LIB_TMP/msgs.txt" 2>"$LIB_TMP/kcat.err" ||
	fail "kcat: $(tail -3 "$LIB_TMP/kcat.err")"
split -l 1 -d -a 4 --additional-suffix=.json "$LIB_TMP/msgs.txt" "$LIB_TMP/msgs/m"
nmsg=$(ls "$LIB_TMP/msgs" | wc -l)
assert_gt "messages on topic zipkin" 0 "$nmsg"
zipkin_validate ListOfSpans "$LIB_TMP"/msgs/*.json >"$LIB_TMP/validate.out" 2>&1 &&
	pass "all $nmsg messages validate as ListOfSpans" ||
	fail "invalid: $(grep -v ': valid' "$LIB_TMP/validate.out" | head -3)"
assert_eq "the $N SERVER spans, one per request" "$N" "$(cat "$LIB_TMP"/msgs/*.json |
	"$PYTHON" -c '
import json, sys
n = set()
for line in sys.stdin:
    for s in json.loads(line):
        if s["kind"] == "SERVER" and s["name"] == "get /api/products/{id}":
            n.add(s["tags"]["http.path"])
print(len(n))')"
step "a service that produces per request, and a consumer, observed: one trace"
stop_sonde
start_zipkin_receiver
cat >"$LIB_TMP/consume.py" <<'PY'
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[3],
              "auto.offset.reset": "earliest"})
c.subscribe(["orders"], on_assign=lambda c, parts: print("subscribed", flush=True))
n = 0
while n < int(sys.argv[2]):
    m = c.poll(0.2)
    if m is not None and not m.error():
        n += 1
print("consumed", n, flush=True)
c.close()
PY
# GET /orders/ID to the service; every other request carries a traceparent
# (a caller that propagates), which the service copies into its record.
cat >"$LIB_TMP/client.py" <<'PY'
import random, sys, urllib.request
port, first, n, every = map(int, sys.argv[1:5])
for i in range(first, first + n):
    req = urllib.request.Request("http://127.0.0.1:%d/orders/o%d" % (port, i))
    if every and i % every == 0:
        req.add_header("traceparent", "00-%032x-%016x-01" %
                       (random.getrandbits(128) | 1, random.getrandbits(64) | 1))
    urllib.request.urlopen(req).read()
print("sent", flush=True)
PY
K=200
APP_PORT=$(free_port)
"$PYTHON" "$HERE/kafka_app.py" "$B" "$APP_PORT" "$LIB_TMP/deliveries.json" >"$LIB_TMP/app.out" 2>&1 &
app_pid=$!
track_pid app "$app_pid"
wait_until 10 grep -q ready "$LIB_TMP/app.out" || die "kafka_app: $(cat "$LIB_TMP/app.out")"
start_gated consumer "$PYTHON" "$LIB_TMP/consume.py" "$B" "$K" g1
cons_pid=$GATED_PID
SONDE_PORT=
start_sonde --pid "$cons_pid=consumer" --pid "$app_pid=orders" \
	--zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
open_gate consumer
wait_until 30 grep -q subscribed "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
"$PYTHON" "$LIB_TMP/client.py" "$APP_PORT" 0 "$K" 2 >"$LIB_TMP/client.out" 2>&1 ||
	fail "client: $(tail -3 "$LIB_TMP/client.out")"
wait_until 30 grep -q consumed "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
sleep 1.5 # a flush of the span queue
offset_links=$(metric 'sonde_trace_links_total{link="offset"}')
stop_sonde
"$PYTHON" "$HERE/check_traces.py" kafka "$ZDIR" --min-linked 0.5 \
	--deliveries "$LIB_TMP/deliveries.json" --min-traced 0.9 >"$LIB_TMP/kcheck.out" 2>&1 &&
	pass "$(cat "$LIB_TMP/kcheck.out")" || fail "$(cat "$LIB_TMP/kcheck.out")"
assert_gt "fetched partitions joined by offsets, counted" 0 "$offset_links"

step "the consumer observed alone: CONSUMER spans continue the records' traceparent"
rm -f "$ZDIR"/*.json
: >"$LIB_TMP/deliveries.json" # the service appends to it
start_gated consumer2 "$PYTHON" "$LIB_TMP/consume.py" "$B" $((K + 100)) g2 # from the start
cons2_pid=$GATED_PID
start_sonde --pid "$cons2_pid=consumer" --zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
open_gate consumer2
wait_until 30 grep -q subscribed "$LIB_TMP/consumer2.out" || fail "consumer2: $(cat "$LIB_TMP/consumer2.out")"
"$PYTHON" "$LIB_TMP/client.py" "$APP_PORT" 1000 100 1 >"$LIB_TMP/client.out" 2>&1 ||
	fail "client: $(tail -3 "$LIB_TMP/client.out")"
wait_until 30 grep -q consumed "$LIB_TMP/consumer2.out" || fail "consumer2: $(cat "$LIB_TMP/consumer2.out")"
sleep 1.5
remote=$(metric 'sonde_trace_links_total{link="remote"}')
stop_sonde
"$PYTHON" "$HERE/check_traces.py" kafka-headers "$ZDIR" "$LIB_TMP/deliveries.json" --min-traced 0.8 \
	>"$LIB_TMP/hcheck.out" 2>&1 && pass "$(cat "$LIB_TMP/hcheck.out")" || fail "$(cat "$LIB_TMP/hcheck.out")"
assert_gt "record headers counted as remote contexts" 0 "$remote"
finish
