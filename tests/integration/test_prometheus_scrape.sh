#!/bin/bash
# shellcheck disable=SC2317 # functions called through wait_until
# A real Prometheus scrapes sonde and sees exactly the requests sent.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
start_prometheus "127.0.0.1:$SONDE_PORT"
base=http://127.0.0.1:$NGINX_PORT

step "Prometheus scrapes sonde"
scraped() { [ "$(prom_query 'up{job="sonde"}')" = 1 ]; }
wait_until 15 scraped || die "up{job=\"sonde\"} not 1 after 15 s: $(prom_query 'up{job="sonde"}')"
pass "up{job=\"sonde\"} == 1"

step "1000 requests: 600 products (new connections), 300 orders (keep-alive), 100 fail"
a=$(seq 1 600 | sed "s|^|$base/api/products/|" | send_requests close 4 200)
b=$(yes "$base/api/orders" | head -n 300 | send_requests keepalive 3 200)
c=$(yes "$base/api/fail" | head -n 100 | send_requests close 2 500)
n=$((a + b + c))
assert_eq "requests answered as expected" 1000 "$n"

step "sum(http_server_requests_seconds_count) in Prometheus"
q='sum(http_server_requests_seconds_count)'
prom_has_n() { v=$(prom_query "$q"); lib_is_num "$v" && lib_cmp "$v" == "$n"; }
v=
wait_until 30 prom_has_n && sleep 2 # two more scrapes: it must stay there
v=$(prom_query "$q")
assert_eq "$q" "$n" "$v"
if ! lib_is_num "$v" || ! lib_cmp "$v" == "$n"; then
	echo "        sonde's /metrics says:"
	metrics_fetch "$LIB_TMP/m.txt" && grep '^http_server_requests_seconds_count' "$LIB_TMP/m.txt" | sed 's/^/          /'
fi

finish
