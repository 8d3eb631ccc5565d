#!/bin/bash
# shellcheck disable=SC2317 # functions called through wait_until
# Random, truncated and oversized requests: sonde keeps running, counts parse
# errors, and still counts the good traffic sent alongside exactly.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
base=http://127.0.0.1:$NGINX_PORT
perr='sonde_parse_errors_total{protocol="http"}' # summed over reasons
perr0=$(metric_sum "$perr") || die "$perr absent from /metrics"

cat >"$LIB_TMP/bad.py" <<'EOF'
# bad.py PORT KIND COUNT: COUNT connections of one kind of bad input.
#   random     2000 random bytes, read the answer, close
#   truncated  "GET /api/products/1 HTT", close at once
#   oversized  a request with a 20 KB header, read the answer, close
#   garbage    a valid request line and Host header, then 2000 random bytes
import os, socket, sys

port, kind, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
payloads = {
    "random": lambda: os.urandom(2000),
    "truncated": lambda: b"GET /api/products/1 HTT",
    "oversized": lambda: b"GET /big HTTP/1.1\r\nHost: localhost\r\nX-Big: "
    + b"a" * 20480 + b"\r\n\r\n",
    "garbage": lambda: b"GET /api/orders HTTP/1.1\r\nHost: localhost\r\n" + os.urandom(2000),
}
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        s.sendall(payloads[kind]())
        if kind != "truncated":
            while s.recv(65536):
                pass
    except OSError:
        pass  # nginx may reset a connection it refused
    finally:
        s.close()
print("sent %d %s" % (count, kind))
EOF

# The parse error counter once it stops moving.
perr_settled() {
	local a b
	a=$(metric_sum "$perr") || return 1
	sleep 0.3
	b=$(metric_sum "$perr") || return 1
	[ "$a" = "$b" ] && echo "$b"
}
delta() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print a - b }'; }

step "bad input on 80 connections while 300 good requests go on others"
# Each kind of bad input runs alongside a batch of 100 good requests.
prev=$perr0
good=0
for kc in random:50 truncated:20 oversized:10; do
	seq $((good + 1)) $((good + 100)) | sed "s|^|$base/api/products/|" |
		send_requests close 1 200 >"$LIB_TMP/good.out" &
	good_pid=$!
	timeout -k 2 30 "$PYTHON" "$LIB_TMP/bad.py" "$NGINX_PORT" "${kc%%:*}" "${kc##*:}" ||
		fail "bad-input client ($kc) failed"
	wait_until 30 lib_dead "$good_pid" || die "good traffic still running after 30 s"
	wait "$good_pid"
	good=$((good + $(cat "$LIB_TMP/good.out")))
	now=$(wait_until 2 perr_settled | tail -n 1)
	echo "   $perr after ${kc##*:} ${kc%%:*}: ${now:-?} (+$(delta "$now" "$prev"))"
	# A connection of random bytes that nginx answers with 400, and a request cut
	# off before its head ends, are each one malformed connection.
	case ${kc%%:*} in
	random | truncated)
		assert_eq "$perr increase from ${kc##*:} ${kc%%:*} connections" "${kc##*:}" \
			"$(delta "$now" "$prev")" ;;
	esac
	prev=${now:-$prev}
done
perr1=$prev
assert_eq "curl got 200 from /api/products/<i>" 300 "$good"

step "sonde survived and counted"
assert_true "sonde still running" lib_alive "$SONDE_PID"
assert_eq "/healthz status" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$SONDE_PORT/healthz")"
assert_metric "GET /api/products/{id} 200" \
	'http_server_requests_seconds_count{service="nginx",method="GET",uri="/api/products/{id}",status="200",outcome="SUCCESS"}' \
	"$good"
assert_gt "$perr increase from random, truncated and oversized input" 0 "$(delta "$perr1" "$perr0")"

# Not asserted: shows whether the parser flags garbage after a valid start.
timeout -k 2 30 "$PYTHON" "$LIB_TMP/bad.py" "$NGINX_PORT" garbage 10 >/dev/null
now=$(wait_until 2 perr_settled | tail -n 1)
echo "   (info) $perr after 10 valid-start-then-garbage requests: ${now:-?} (+$(delta "$now" "$perr1"))"
assert_true "sonde still running after garbage" lib_alive "$SONDE_PID"

finish
