#!/bin/bash
# The span exporter failing never costs the observed service or sonde's other
# outputs: a Zipkin receiver that is down, then one that answers after 10 s.
# /metrics still answers within 100 ms under load, capture goes on (every
# request counted), spans are dropped and counted, RSS stays bounded. Then
# garbage in trace headers: a new root each, sonde alive.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
start_nginx "$LIB_DIR/nginx.conf.in"
base=http://127.0.0.1:$NGINX_PORT
h=http_server_requests_seconds_count
lbl='service="nginx",method="GET",uri="/api/products/{id}",status="200",outcome="SUCCESS"'

fast_metrics() { # DESC: /metrics answers 200 within 100 ms, three times in a row
	local i t
	for i in 1 2 3; do
		t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 2 \
			"http://127.0.0.1:$SONDE_PORT/metrics")
		if [ "${t%% *}" != 200 ] || ! lib_cmp "${t#* }" '<' 0.1; then
			fail "$1: /metrics answered '$t'"
			return
		fi
	done
	pass "$1: /metrics within 100 ms (last ${t#* } s)"
}

load() { # SECONDS: keep-alive load on nginx in the background; WRK_PID
	run_wrk "$LIB_TMP/wrk.out" -t1 -c8 -d"$1"s "$base/api/products/42" &
	WRK_PID=$!
}

step "receiver down (nothing listens on its port)"
DOWN_PORT=$(free_port)
start_sonde --pid "$NGINX_PID=nginx" --zipkin-url "http://127.0.0.1:$DOWN_PORT/api/v2/spans"
before=$(nginx_requests)
load 8
sleep 3
fast_metrics "receiver down, under load"
wait "$WRK_PID"
served=$(($(nginx_requests) - before - 1))
sleep 1
assert_metric "every request still counted" "$h{$lbl}" "$served"
exported=$(metric 'sonde_spans_exported_total{exporter="zipkin_http"}')
dropped=$(metric_sum 'sonde_spans_dropped_total')
assert_eq "nothing exported" 0 "$exported"
assert_gt "spans dropped and counted" 10000 "$dropped"
rss=$(metric process_resident_memory_bytes)
assert_true "RSS bounded (< 256 MiB): $rss" lib_cmp "$rss" '<' 268435456
stop_sonde

step "receiver answering after 10 s"
start_zipkin_receiver --delay 10
SONDE_PORT=
start_sonde --pid "$NGINX_PID=nginx" --zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
before=$(nginx_requests)
load 8
sleep 3
fast_metrics "receiver slow, under load"
wait "$WRK_PID"
served=$(($(nginx_requests) - before - 1))
sleep 1
assert_metric "every request still counted" "$h{$lbl}" "$served"
assert_gt "spans dropped and counted (queue full)" 0 \
	"$(metric 'sonde_spans_dropped_total{exporter="zipkin_http",reason="queue_full"}')"
rss=$(metric process_resident_memory_bytes)
assert_true "RSS bounded (< 256 MiB): $rss" lib_cmp "$rss" '<' 268435456
t0=$SECONDS
stop_sonde
assert_true "sonde exits within 5 s of SIGTERM ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 5 ]

step "garbage trace headers"
SONDE_PORT=
start_sonde --pid "$NGINX_PID=nginx"
big=$(head -c 3000 /dev/zero | tr '\0' 'f')
for hdr in "traceparent: 00-$big-01" "traceparent: 00-zz-yy-01" "traceparent: -" \
	"b3: $big" "b3: 1-2-3-4-5-6" "X-B3-TraceId: xyz" "X-B3-SpanId: $big" \
	"traceparent: 00-00000000000000000000000000000000-0000000000000000-01"; do
	curl -s -o /dev/null -H "$hdr" "$base/api/products/7" || fail "request with '${hdr:0:40}'"
done
sleep 0.5
assert_true "sonde alive" lib_alive "$SONDE_PID"
assert_metric "the 8 requests counted" "$h{$lbl}" 8
assert_eq "8 new traces" 8 "$(curl -s "http://127.0.0.1:$SONDE_PORT/api/traces?limit=100" |
	"$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')"
assert_gt "malformed headers counted" 4 "$(metric sonde_trace_bad_headers_total)"
finish
