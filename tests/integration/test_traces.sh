#!/bin/bash
# Traces across three observed processes, none of which knows of tracing:
# nginx (gateway, one worker, proxy_pass) -> app A (python3, threaded) ->
# app B over HTTP; A also reads Redis and queries PostgreSQL. 64 concurrent
# clients for 10 s, each request with a unique id in its path that A passes
# on to B. Every trace holds one id (0 false merges); >= 99 % of ids form one
# trace with every span and every parentId right. Then a request with a
# traceparent, one with B3 headers, and X-B3-Sampled: 0. Every body sonde
# POSTed validates against the Zipkin v2 spec (ajv), and so do /api/traces.
# A real Prometheus stores the exemplars (OpenMetrics) of sonde's histograms;
# their trace ids are those of exported spans.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ajv

start_redis
start_postgres
B_PORT=$(free_port)
A_PORT=$(free_port)
"$PYTHON" "$HERE/trace_app.py" b "$B_PORT" >"$LIB_TMP/b.log" 2>&1 &
B_PID=$!
track_pid app-b "$B_PID"
"$PYTHON" "$HERE/trace_app.py" a "$A_PORT" "$B_PORT" "$REDIS_PORT" 127.0.0.1 "$PG_PORT" \
	>"$LIB_TMP/a.log" 2>&1 &
A_PID=$!
track_pid app-a "$A_PID"
wait_until 10 grep -q ready "$LIB_TMP/a.log" || die "app A did not start: $(cat "$LIB_TMP/a.log")"
wait_until 10 grep -q ready "$LIB_TMP/b.log" || die "app B did not start: $(cat "$LIB_TMP/b.log")"
UPSTREAM_PORT=$A_PORT NGINX_MIN_WORKERS=1 start_nginx "$HERE/nginx_gateway.conf.in"

start_zipkin_receiver

start_sonde --pid "$NGINX_PID=gateway" --pid "$A_PID=app-a" --pid "$B_PID=app-b" \
	--log-file "$LIB_TMP/access.log" \
	--zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
# A real Prometheus scraping sonde, with exemplar storage: it asks for OpenMetrics.
PROM_ARGS=--enable-feature=exemplar-storage start_prometheus "127.0.0.1:$SONDE_PORT"

step "one request by hand"
curl -sf "http://127.0.0.1:$NGINX_PORT/chain/hello" >/dev/null || die "the chain does not answer"

step "64 clients for 10 s, a unique id per request"
run_wrk "$LIB_TMP/wrk.out" -t2 -c64 -d10s --timeout 10s -s "$HERE/unique_ids.lua" "http://127.0.0.1:$NGINX_PORT/" -- /chain/
sent=$(wrk_requests "$LIB_TMP/wrk.out")
assert_gt "wrk sent requests" 1000 "$sent"
assert_eq "no socket errors" 0 "$(wrk_socket_errors "$LIB_TMP/wrk.out")"

step "context from the caller: traceparent, B3 multi, B3 sampled 0"
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736 TP_SPAN=00f067aa0ba902b7
curl -sf -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" \
	"http://127.0.0.1:$NGINX_PORT/chain/w3c" >/dev/null || fail "traceparent request"
B3_TRACE=463ac35c9f6413ad48485a3953bb6124 B3_SPAN=a2fb4a1d1a96d312
curl -sf -H "X-B3-TraceId: $B3_TRACE" -H "X-B3-SpanId: $B3_SPAN" -H "X-B3-Sampled: 1" \
	"http://127.0.0.1:$NGINX_PORT/chain/b3" >/dev/null || fail "b3 request"
curl -sf -H "X-B3-Sampled: 0" "http://127.0.0.1:$NGINX_PORT/chain/unsampled" >/dev/null ||
	fail "unsampled request"
curl -sf -H "traceparent: 00-zzzz-$TP_SPAN-01" "http://127.0.0.1:$NGINX_PORT/chain/garbage" \
	>/dev/null || fail "garbage traceparent request"
# The context behind 3 KiB of other headers, far past the 256 bytes copied by
# default: the kernel side copies a request head again, up to 4 KiB.
LH_TRACE=0af7651916cd43dd8448eb211c80319c LH_SPAN=b7ad6b7169203331
pad=$(printf 'p%.0s' $(seq 1 90))
pads=()
for i in $(seq 1 32); do pads+=(-H "X-Pad-$i: $pad"); done
curl -sf "${pads[@]}" -H "traceparent: 00-$LH_TRACE-$LH_SPAN-01" -H "tracestate: sonde=lh1,other=x" \
	"http://127.0.0.1:$NGINX_PORT/chain/longhead" >/dev/null || fail "long head request"
assert_gt "request heads longer than the capture, copied again" 0 \
	"$(metric sonde_events_long_heads_total)"

step "/api/traces while sonde runs"
curl -sf "http://127.0.0.1:$SONDE_PORT/api/traces?limit=5&serviceName=app-b" >"$LIB_TMP/api_list.json" ||
	fail "/api/traces"
zipkin_validate ListOfTraces "$LIB_TMP/api_list.json" && pass "/api/traces validates as ListOfTraces" ||
	fail "/api/traces invalid"
assert_eq "/api/traces gives 5 traces" 5 "$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$LIB_TMP/api_list.json")"
curl -sf "http://127.0.0.1:$SONDE_PORT/api/traces/$TP_TRACE" >"$LIB_TMP/api_one.json" ||
	fail "/api/traces/{id} of the traceparent request"
zipkin_validate Trace "$LIB_TMP/api_one.json" && pass "/api/traces/{id} validates as Trace" ||
	fail "/api/traces/{id} invalid"
"$SONDE_BIN" traces --listen "127.0.0.1:$SONDE_PORT" --limit 2 >"$LIB_TMP/timeline.txt" 2>&1 &&
	grep -q "└─ app-b .*get /b/" "$LIB_TMP/timeline.txt" && pass "sonde traces prints timelines" ||
	fail "sonde traces: $(head -5 "$LIB_TMP/timeline.txt")"

step "exemplars, stored by Prometheus"
sleep 2 # a scrape after the load
now=$(date +%s)
curl -s --max-time 5 -G --data-urlencode 'query=http_server_requests_seconds_bucket{service="app-b"}' \
	--data-urlencode "start=$((now - 120))" --data-urlencode "end=$now" \
	"http://127.0.0.1:$PROM_PORT/api/v1/query_exemplars" >"$LIB_TMP/exemplars.json"
"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ids = {e["labels"]["trace_id"] for r in d["data"] for e in r["exemplars"]}
print("\n".join(sorted(ids)))' "$LIB_TMP/exemplars.json" >"$LIB_TMP/exemplar_ids.txt" 2>&1
assert_gt "exemplars returned by Prometheus" 0 "$(grep -c . "$LIB_TMP/exemplar_ids.txt")"

links=$(metric 'sonde_trace_links_total{link="joined"}')
stop_sonde
step "what sonde exported"
nbodies=$(find "$ZDIR" -name '*.json' | wc -l)
assert_gt "bodies received" 0 "$nbodies"
zipkin_validate ListOfSpans "$ZDIR"/*.json >"$LIB_TMP/validate.out" 2>&1 &&
	pass "all $nbodies bodies validate as ListOfSpans" ||
	fail "invalid bodies: $(grep -v ': valid' "$LIB_TMP/validate.out" | head -5)"
"$PYTHON" "$HERE/check_traces.py" chain "$ZDIR" --min-complete 0.99 --skip w3c,b3,longhead >"$LIB_TMP/check.out" 2>&1 &&
	pass "chain: $(cat "$LIB_TMP/check.out")" || fail "chain: $(cat "$LIB_TMP/check.out")"
# Two joins per request: gateway -> A, A -> B.
assert_gt "server requests joined to their observed client" "$((2 * sent * 99 / 100))" "$links"
"$PYTHON" "$HERE/check_traces.py" chain "$ZDIR" --only w3c --trace-id "$TP_TRACE" \
	--parent "$TP_SPAN" >"$LIB_TMP/w3c.out" 2>&1 && pass "traceparent: $(cat "$LIB_TMP/w3c.out")" ||
	fail "traceparent: $(cat "$LIB_TMP/w3c.out")"
"$PYTHON" "$HERE/check_traces.py" chain "$ZDIR" --only b3 --trace-id "$B3_TRACE" \
	--parent "$B3_SPAN" >"$LIB_TMP/b3.out" 2>&1 && pass "b3: $(cat "$LIB_TMP/b3.out")" ||
	fail "b3: $(cat "$LIB_TMP/b3.out")"
"$PYTHON" "$HERE/check_traces.py" chain "$ZDIR" --only longhead --trace-id "$LH_TRACE" \
	--parent "$LH_SPAN" >"$LIB_TMP/lh.out" 2>&1 && pass "traceparent after 3 KiB of headers: $(cat "$LIB_TMP/lh.out")" ||
	fail "long head: $(cat "$LIB_TMP/lh.out")"
assert_eq "tracestate kept on the span that continued the caller's context" 1 \
	"$(cat "$ZDIR"/*.json | grep -o '"w3c.tracestate":"sonde=lh1,other=x"' | wc -l)"
"$PYTHON" "$HERE/check_traces.py" chain "$ZDIR" --only garbage >"$LIB_TMP/garbage.out" 2>&1 &&
	pass "bad traceparent: a new trace, complete" || fail "garbage: $(cat "$LIB_TMP/garbage.out")"
missing=0
while read -r id; do grep -q "\"traceId\":\"$id\"" "$ZDIR"/*.json || missing=$((missing + 1)); done \
	<"$LIB_TMP/exemplar_ids.txt"
assert_eq "every exemplar's trace id is in the exported spans" 0 "$missing"
assert_eq "X-B3-Sampled: 0: no span" 0 "$(cat "$ZDIR"/*.json | grep -c '/chain/unsampled')"
"$PYTHON" "$HERE/check_logs.py" spans "$ZDIR" "$LIB_TMP/access.log" --min 0.99 >"$LIB_TMP/logs.out" 2>&1 &&
	pass "access log lines: $(cat "$LIB_TMP/logs.out")" || fail "access log lines: $(cat "$LIB_TMP/logs.out")"
finish
