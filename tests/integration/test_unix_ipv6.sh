#!/bin/bash
# HTTP over a Unix stream socket and over IPv6 loopback is seen like IPv4 TCP.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID=web"
h=http_server_requests_seconds_count

# curl_n N ARGS...: N curl runs (a new connection each); prints how many got 200.
curl_n() {
	local n=$1 ok=0 i code
	shift
	for ((i = 1; i <= n; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@") || code=000
		[ "$code" = 200 ] && ok=$((ok + 1))
	done
	echo "$ok"
}

step "150 requests over the Unix socket $NGINX_PREFIX/http.sock"
unix=$(curl_n 150 --unix-socket "$NGINX_PREFIX/http.sock" http://localhost/api/orders)
assert_eq "curl got 200 over the Unix socket" 150 "$unix"

step "120 requests over [::1]:$NGINX_PORT"
v6=$(curl_n 120 "http://[::1]:$NGINX_PORT/api/products/7")
assert_eq "curl got 200 over IPv6" 120 "$v6"

assert_metric "GET /api/orders over the Unix socket" \
	"$h{service=\"web\",method=\"GET\",uri=\"/api/orders\",status=\"200\",outcome=\"SUCCESS\"}" "$unix"
assert_metric "GET /api/products/{id} over IPv6" \
	"$h{service=\"web\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" "$v6"
finish
