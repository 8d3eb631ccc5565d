#!/bin/bash
# Every request nginx answers is counted exactly once, under the right labels:
# new connections per request (curl), keep-alive under load (wrk), errors.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
base=http://127.0.0.1:$NGINX_PORT
h=http_server_requests_seconds_count

step "1000 GET /api/products/<i>, a new connection each"
products=$(seq 1 1000 | sed "s|^|$base/api/products/|" | send_requests close 4 200)
assert_eq "curl got 200 from /api/products/<i>" 1000 "$products"

step "500 GET /api/fail, 300 GET /nope"
fails=$(yes "$base/api/fail" | head -n 500 | send_requests close 4 500)
assert_eq "curl got 500 from /api/fail" 500 "$fails"
nope=$(yes "$base/nope" | head -n 300 | send_requests close 4 404)
assert_eq "curl got 404 from /nope" 300 "$nope"

step "wrk -t2 -c8 -d3s keep-alive on /api/products/42"
# wrk reports only the responses it read before its deadline; the requests
# still in flight then (at most one per connection) are answered by nginx
# all the same, and sonde rightly counts them. nginx's stub_status gives the
# exact number it served; it must lie within [wrk's N, N + connections].
before=$(nginx_requests) || die "no stub_status"
run_wrk "$LIB_TMP/wrk.out" -t2 -c8 -d3s "$base/api/products/42" || {
	cat "$LIB_TMP/wrk.out"
	die "wrk failed"
}
after=$(nginx_requests) || die "no stub_status"
wrk_n=$(wrk_requests "$LIB_TMP/wrk.out")
served=$((after - before - 1)) # minus the second status request
echo "   wrk: $wrk_n requests completed; nginx served $served"
assert_gt "wrk completed requests" 0 "${wrk_n:-0}"
assert_eq "wrk socket errors" 0 "$(wrk_socket_errors "$LIB_TMP/wrk.out")"
assert_eq "wrk non-2xx responses" 0 "$(wrk_non2xx "$LIB_TMP/wrk.out")"
if [ "$served" -ge "${wrk_n:-0}" ] && [ "$served" -le $((${wrk_n:-0} + 8)) ]; then
	pass "nginx served within [wrk N, wrk N + 8]: $served"
else
	fail "nginx served $served, wrk completed ${wrk_n:-0}: ground truth inconsistent"
fi

step "sonde's counts"
assert_metric "GET /api/products/{id} 200" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" \
	$((products + served))
assert_metric "GET /api/fail 500" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/fail\",status=\"500\",outcome=\"SERVER_ERROR\"}" \
	"$fails"
assert_metric "GET /nope 404" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/nope\",status=\"404\",outcome=\"CLIENT_ERROR\"}" \
	"$nope"
lost=$(metric sonde_events_lost_total)
echo "   sonde_events_total=$(metric sonde_events_total) sonde_events_lost_total=$lost"

step "promtool check metrics"
metrics_fetch "$LIB_TMP/final.txt" || die "cannot fetch /metrics"
if promtool check metrics <"$LIB_TMP/final.txt" >"$LIB_TMP/promtool.out" 2>&1; then
	pass "promtool check metrics"
else
	fail "promtool check metrics:"
	sed 's/^/        /' "$LIB_TMP/promtool.out" | head -20
fi

finish
