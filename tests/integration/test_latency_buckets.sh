#!/bin/bash
# Latencies land in the right buckets, and nginx's calls to its upstream are
# counted as client requests with the upstream as peer.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_upstream 50 # /api/slow: 50 ms in the upstream
start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
base=http://127.0.0.1:$NGINX_PORT

step "100 GET /api/slow (upstream sleeps 50 ms)"
slow=$(yes "$base/api/slow" | head -n 100 | send_requests keepalive 4 200)
assert_eq "curl got 200 from /api/slow" 100 "$slow"

step "server side: http_server_requests_seconds"
s='service="nginx",method="GET",uri="/api/slow",status="200",outcome="SUCCESS"'
assert_metric "server count" "http_server_requests_seconds_count{$s}" "$slow"
assert_metric "server bucket le=0.1" "http_server_requests_seconds_bucket{$s,le=\"0.1\"}" "$slow"
assert_metric "server bucket le=0.05" "http_server_requests_seconds_bucket{$s,le=\"0.05\"}" 0

step "client side: nginx -> 127.0.0.1:$UPSTREAM_PORT"
c="$s,peer=\"127.0.0.1:$UPSTREAM_PORT\""
assert_metric "client count" "http_client_requests_seconds_count{$c}" "$slow"
assert_metric "client bucket le=0.1" "http_client_requests_seconds_bucket{$c,le=\"0.1\"}" "$slow"
assert_metric "client bucket le=0.05" "http_client_requests_seconds_bucket{$c,le=\"0.05\"}" 0

finish
