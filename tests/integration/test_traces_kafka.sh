#!/bin/bash
# Spans to Kafka (--zipkin-kafka): the same Zipkin v2 JSON lists as over HTTP,
# one list per message on topic "zipkin" of the librdkafka mock cluster, as
# Zipkin's Kafka collector reads them. Read back with kcat; every message
# validates against the Zipkin spec (ajv), and the spans are the requests'.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ajv
MOCK=$SONDE_ROOT/build/mock_broker
[ -x "$MOCK" ] || die "$MOCK not built (make build/mock_broker)"
"$MOCK" --topic zipkin:1 --ready-file "$LIB_TMP/bootstrap" >"$LIB_TMP/mock.out" 2>&1 &
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
finish
