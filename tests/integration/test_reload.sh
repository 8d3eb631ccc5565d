#!/bin/bash
# shellcheck disable=SC2317 # functions called through wait_until
# nginx -s reload replaces the workers; the new ones (forked by the master
# after sonde attached) are followed.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
base=http://127.0.0.1:$NGINX_PORT
h=http_server_requests_seconds_count

step "10 requests before the reload"
pre=$(seq 1 10 | sed "s|^|$base/api/products/|" | send_requests close 2 200)
assert_eq "curl got 200 before reload" 10 "$pre"
assert_metric "GET /api/products/{id} 200 before reload" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" "$pre"

step "nginx -s reload"
old_workers=$(nginx_workers | sort | tr '\n' ' ')
echo "   old workers: $old_workers"
nginx_cmd -s reload || die "nginx -s reload failed"
workers_replaced() {
	local w new
	for w in $old_workers; do lib_alive "$w" && return 1; done
	new=$(nginx_workers | sort)
	[ "$(echo "$new" | grep -c .)" -ge 2 ] || return 1
	for w in $new; do
		case " $old_workers " in *" $w "*) return 1 ;; esac
	done
}
wait_until 15 workers_replaced || die "workers not replaced after 15 s (now: $(nginx_workers | tr '\n' ' '))"
echo "   new workers: $(nginx_workers | sort | tr '\n' ' ')"
lib_alive "$SONDE_PID" || die "sonde died during the reload"

step "200 requests after the reload"
post=$(yes "$base/api/orders" | head -n 200 | send_requests close 4 200)
assert_eq "curl got 200 after reload" 200 "$post"
assert_metric "GET /api/orders 200 after reload" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/orders\",status=\"200\",outcome=\"SUCCESS\"}" "$post"
assert_metric "GET /api/products/{id} unchanged" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" "$pre"

finish
