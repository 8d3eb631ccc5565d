#!/bin/bash
# Kafka and traces. Spans to Kafka (--zipkin-kafka): the same Zipkin v2 JSON
# lists as over HTTP, one list per message on topic "zipkin" of the librdkafka
# mock cluster, as Zipkin's Kafka collector reads them; read back with kcat,
# every message validates against the Zipkin spec (ajv). Then a confluent-kafka
# producer and an observed consumer: each CONSUMER span continues the trace of
# the PRODUCER span that wrote its records (offsets), never another's.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ajv
MOCK=$SONDE_ROOT/build/mock_broker
[ -x "$MOCK" ] || die "$MOCK not built (make build/mock_broker)"
"$MOCK" --topic zipkin:1 --topic orders:3 --ready-file "$LIB_TMP/bootstrap" >"$LIB_TMP/mock.out" 2>&1 &
track_pid mock $!
wait_until 10 test -s "$LIB_TMP/bootstrap" || die "mock broker did not start: $(cat "$LIB_TMP/mock.out")"
B=$(cat "$LIB_TMP/bootstrap")

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
step "a producer and a consumer, observed: CONSUMER spans joined by offsets"
stop_sonde
start_zipkin_receiver
cat >"$LIB_TMP/consume.py" <<'PY'
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "g", "auto.offset.reset": "earliest"})
c.subscribe(["orders"])
n = 0
while n < int(sys.argv[2]):
    m = c.poll(1.0)
    if m is not None and not m.error():
        n += 1
print("consumed", n, flush=True)
c.close()
PY
cat >"$LIB_TMP/produce.py" <<'PY'
import sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 0})
for i in range(int(sys.argv[2])):
    p.produce("orders", key=str(i), value="order %d" % i)
    p.flush()
    time.sleep(0.01)
print("produced", flush=True)
PY
K=200
start_gated consumer "$PYTHON" "$LIB_TMP/consume.py" "$B" "$K"
cons_pid=$GATED_PID
start_gated producer "$PYTHON" "$LIB_TMP/produce.py" "$B" "$K"
prod_pid=$GATED_PID
SONDE_PORT=
start_sonde --pid "$cons_pid=consumer" --pid "$prod_pid=producer" \
	--zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
open_gate consumer
open_gate producer
wait "$prod_pid" || fail "producer failed: $(cat "$LIB_TMP/producer.out")"
wait_until 30 grep -q consumed "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
sleep 1.5 # a flush of the span queue
offset_links=$(metric 'sonde_trace_links_total{link="offset"}')
stop_sonde
"$PYTHON" "$HERE/check_traces.py" kafka "$ZDIR" --min-linked 0.5 >"$LIB_TMP/kcheck.out" 2>&1 &&
	pass "$(cat "$LIB_TMP/kcheck.out")" || fail "$(cat "$LIB_TMP/kcheck.out")"
assert_gt "fetched partitions joined by offsets, counted" 0 "$offset_links"
finish
