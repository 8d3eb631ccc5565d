#!/bin/bash
# shellcheck disable=SC2317 # functions called through wait_until
# Issue #9: the server's response is the truth. Every status line the observed
# server writes is one exchange in http_server_requests_seconds_count, with
# its status, even when its request could not be parsed; a malformed request
# does not make sonde give up the connection. method: the request's first
# token if it is in IANA's HTTP Method Registry (or PURGE), else OTHER; uri:
# "UNKNOWN" when no target was read.
#
# The corpus (http_corpus.py: rejected requests, valid-then-malformed
# pipelines, CONNECT/Upgrade followed by bytes, a leading CRLF, M-SEARCH,
# RTSP, registered methods such as PROPFIND and PURGE) is sent byte for byte
# over raw sockets to nginx and to a python http.server, both observed by
# sonde. For each case the driver reads the status lines the server really
# wrote back (walking the responses' framing, so bodies do not count) and
# compares them, per (method, status), with the change in sonde's count for
# that service, summed over uri.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

corpus=$LIB_DIR/http_corpus.py
h=http_server_requests_seconds_count
perr='sonde_parse_errors_total{protocol="http"}'

step "response parser self-test, corpus"
"$PYTHON" "$corpus" selftest || die "http_corpus.py selftest failed"
"$PYTHON" "$corpus" list | tail -n 1

step "nginx, python http.server, sonde on both"
start_nginx "$LIB_DIR/nginx.conf.in"
PY_PORT=$(free_port)
"$PYTHON" "$corpus" serve "$PY_PORT" >"$LIB_TMP/pyserver.log" 2>&1 &
PY_PID=$!
track_pid upstream "$PY_PID"
if ! wait_until 10 lib_port_listening "$PY_PORT"; then
	cat "$LIB_TMP/pyserver.log"
	die "python server did not listen on 127.0.0.1:$PY_PORT"
fi
start_sonde --pid "$NGINX_PID=nginx" --pid "$PY_PID=pyserver"

# One valid request each, counted, before the corpus: sonde follows both.
warm_counted() {
	[ "$(metric_sum "$h{service=\"$1\",method=\"GET\",uri=\"/api/orders\",status=\"200\"}")" = 1 ]
}
for sp in nginx:$NGINX_PORT pyserver:$PY_PORT; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${sp#*:}/api/orders")
	assert_eq "${sp%%:*}: warm-up GET /api/orders" 200 "$code"
	if wait_until 5 warm_counted "${sp%%:*}"; then
		pass "${sp%%:*}: warm-up request counted once"
	else
		fail "${sp%%:*}: warm-up request not counted once (got $(metric_sum "$h{service=\"${sp%%:*}\"}"))"
	fi
done
perr0=$(metric_sum "$perr") || perr0=0

step "the corpus against nginx and python http.server (in parallel), /metrics around each case"
echo "   mismatching cases (service, case, status lines read as method:status=n, sonde's delta):"
timeout -k 2 50 "$PYTHON" "$corpus" run "$NGINX_PORT" "$SONDE_PORT" nginx "$LIB_TMP/nginx.json" &
run_nginx=$!
timeout -k 2 50 "$PYTHON" "$corpus" run "$PY_PORT" "$SONDE_PORT" pyserver "$LIB_TMP/pyserver.json" &
run_py=$!
wait "$run_nginx" || die "corpus run against nginx failed (status $?)"
wait "$run_py" || die "corpus run against the python server failed (status $?)"

step "per case and per class"
"$PYTHON" "$corpus" report --summary "$LIB_TMP/summary" "$LIB_TMP/nginx.json" "$LIB_TMP/pyserver.json" |
	sed 's/^/   /'
[ -s "$LIB_TMP/summary" ] || die "no summary from the report"

declare -A lines_read=()
while read -r svc cls cases lines counted mism; do
	if [ "$cls" = UNKNOWN ]; then
		unknown_total=$(awk -v a="${unknown_total:-0}" -v b="$cases" 'BEGIN { print a + b }')
		echo "   $svc: $cases exchanges counted under uri=\"UNKNOWN\""
		continue
	fi
	lines_read[$svc]=$((${lines_read[$svc]:-0} + lines))
	assert_eq "$svc class $cls: cases whose count equals the status lines read ($lines lines read, sonde counted $counted)" \
		"$cases" $((cases - mism))
done <"$LIB_TMP/summary"

# The ground truth itself: the servers did answer the corpus.
for svc in nginx pyserver; do
	assert_gt "$svc: status lines read from the sockets" 39 "${lines_read[$svc]:-0}"
done

step "uri=\"UNKNOWN\", parse errors, sonde alive"
assert_gt "exchanges counted under uri=\"UNKNOWN\" (responses to bytes with no readable target)" 0 "${unknown_total:-0}"
perr1=$(metric_sum "$perr") || perr1=0
assert_gt "$perr (sum over reasons) increase" 0 "$(awk -v a="$perr1" -v b="$perr0" 'BEGIN { print a - b }')"
assert_true "sonde still running" lib_alive "$SONDE_PID"

finish
