#!/usr/bin/env bash
# scripts/demo.sh: `make demo`. Starts a small shop API (nginx on 127.0.0.1,
# deploy/demo/nginx.conf.in) with a slow inventory backend, attaches sonde to
# it, drives mixed traffic with wrk (deploy/demo/shop.lua), prints what sonde
# measured per route, then leaves sonde serving /metrics.
#
# Environment:
#   DEMO_SECONDS=10        how long wrk drives traffic
#   DEMO_SECONDS_AFTER=N   keep serving N seconds after the table, then clean
#                          up. Default: until Ctrl-C on a terminal, 0 when
#                          stdin is not a terminal (`make demo < /dev/null`).
#   DEMO_PORT=9464         sonde's port (a free one if 9464 is taken)
#   SONDE_IT_KEEP=1        keep the temp dir (configs, logs) afterwards
#
# Everything runs from a private temp dir and is stopped on exit, SIGINT or
# SIGTERM by tests/integration/lib.sh's cleanup trap.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

DEMO_DIR=$ROOT/deploy/demo
DEMO_SECONDS=${DEMO_SECONDS:-10}
DEMO_THREADS=${DEMO_THREADS:-2}
DEMO_CONNECTIONS=${DEMO_CONNECTIONS:-16}
SERVICE=shop

if [ -n "${DEMO_SECONDS_AFTER:-}" ]; then
	after=$DEMO_SECONDS_AFTER
elif [ -t 0 ]; then
	after=forever
else
	after=0
fi
[[ $DEMO_SECONDS =~ ^[1-9][0-9]*$ ]] && [ "$DEMO_SECONDS" -le 50 ] ||
	die "DEMO_SECONDS must be 1..50 (got $DEMO_SECONDS)"
[ "$after" = forever ] || [[ $after =~ ^[0-9]+$ ]] ||
	die "DEMO_SECONDS_AFTER must be a number of seconds (got $after)"

for tool in nginx wrk curl; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh demo)"
done
[ -x "$PYTHON" ] || die "$PYTHON not found"
[ -x "$SONDE_BIN" ] || die "$SONDE_BIN not built (run make)"
[ "$(id -u)" = 0 ] || die "sonde loads BPF programs: run as root"

# ------------------------------------------------------------------ start up

step "starting the shop: nginx on 127.0.0.1 and a slow inventory backend (50 ms)"
start_upstream 50
start_nginx "$DEMO_DIR/nginx.conf.in"
SHOP=http://127.0.0.1:$NGINX_PORT
echo "   shop API: $SHOP   (nginx master pid $NGINX_PID, workers $(nginx_workers | paste -sd, -))"

if [ -z "${SONDE_PORT:-}" ]; then
	SONDE_PORT=${DEMO_PORT:-9464}
	lib_port_listening "$SONDE_PORT" && SONDE_PORT=$(free_port)
fi
step "attaching sonde to nginx (pid $NGINX_PID, service \"$SERVICE\"), traceparent written into its calls"
start_sonde --pid "$NGINX_PID=$SERVICE" --inject-traceparent
METRICS_URL=http://127.0.0.1:$SONDE_PORT/metrics
echo "   sonde pid $SONDE_PID, metrics on $METRICS_URL"

# ------------------------------------------------------------------ traffic

wrk_args=(-t"$DEMO_THREADS" -c"$DEMO_CONNECTIONS" -d"${DEMO_SECONDS}s" -s "$DEMO_DIR/shop.lua" "$SHOP")
step "driving ${DEMO_SECONDS} s of shop traffic: wrk ${wrk_args[*]/#$DEMO_DIR\//deploy/demo/}"
if ! run_wrk "$LIB_TMP/wrk.txt" "${wrk_args[@]}"; then
	cat "$LIB_TMP/wrk.txt"
	die "wrk failed"
fi
wrk_n=$(wrk_requests "$LIB_TMP/wrk.txt")
wrk_rate=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$LIB_TMP/wrk.txt")
echo "   wrk: ${wrk_n:-?} requests (${wrk_rate:-?} req/s), $(wrk_non2xx "$LIB_TMP/wrk.txt") non-2xx/3xx, $(wrk_socket_errors "$LIB_TMP/wrk.txt") socket errors"

# sonde publishes within a moment; wait until its total stops moving (<= 5 s).
count_sel="http_server_requests_seconds_count{service=\"$SERVICE\"}"
prev=-1
for ((i = 0; i < 10; i++)); do
	sleep 0.5
	cur=$(metric_sum "$count_sel") || cur=0
	[ "$cur" = "$prev" ] && break
	prev=$cur
done

metrics_fetch "$LIB_TMP/demo-metrics.txt" || die "could not read $METRICS_URL"
if ! grep -q '^http_server_requests_seconds_count' "$LIB_TMP/demo-metrics.txt"; then
	echo "--- sonde log:"
	tail -n 30 "$SONDE_LOG"
	die "sonde recorded no HTTP request (see its log above)"
fi

# ------------------------------------------------------------------ report

echo
"$PYTHON" "$DEMO_DIR/route_table.py" "$LIB_TMP/demo-metrics.txt" || die "could not render the table"
echo "(p50/p99 are estimated from the histogram buckets, as Prometheus' histogram_quantile() does:"
echo " anything faster than the first bucket, 1 ms, shows as 0.50/0.99 ms)"
seen=$(lib_metric_match "$count_sel" subset <"$LIB_TMP/demo-metrics.txt")
seen=${seen%.*}
echo
if [ "${seen:-0}" = "${wrk_n:-?}" ]; then
	echo "wrk completed $wrk_n requests; sonde counted $seen."
elif [ "${seen:-0}" -gt "${wrk_n:-0}" ] 2>/dev/null; then
	echo "wrk completed $wrk_n requests; sonde counted $seen: the $((seen - wrk_n)) still in flight when wrk"
	echo "stopped were served by nginx (and seen by sonde) but not counted by wrk."
else
	echo "wrk completed ${wrk_n:-?} requests; sonde counted ${seen:-0}."
fi
injected=$(lib_metric_match 'sonde_inject_requests_total' exact <"$LIB_TMP/demo-metrics.txt")
skipped=$(awk '/^sonde_inject_skipped_total\{/ && $2 > 0 { sub(/.*reason="/, "", $1); sub(/".*/, "", $1);
	printf "%s%s %d", (n++ ? ", " : ""), $1, $2 }' "$LIB_TMP/demo-metrics.txt")
echo "nginx's calls to the inventory backend that sonde wrote a traceparent into: ${injected%.*}"
echo "  (each names the span of the request nginx was serving: docs/tracing.md)"
[ -n "$skipped" ] && echo "  sent unchanged, by reason: $skipped"
case $skipped in *ambiguous*)
	echo "  (ambiguous: nginx serves many requests at once and its proxy_pass rewrites the path, so"
	echo "   which request a call belongs to cannot be told; sonde writes nothing rather than a guess)" ;;
esac
echo
echo "Prometheus metrics: $METRICS_URL"
echo "  try: curl -s $METRICS_URL | grep '^http_server_requests_seconds_count'"
echo "       curl -s '$SHOP/api/products/42'   (then look at /metrics again)"

# ------------------------------------------------------------------ linger

demo_stop=0
trap 'demo_stop=1' INT TERM
# sonde gone by itself is an error; gone with the Ctrl-C that also reached us
# (the terminal signals the whole process group) is the normal end.
demo_check_sonde() {
	lib_alive "$SONDE_PID" && return 0
	sleep 0.3 # let our own SIGINT trap run first
	[ "$demo_stop" = 1 ] && return 0
	echo "sonde exited unexpectedly; the end of its log:"
	tail -n 20 "$SONDE_LOG"
	exit 1
}
if [ "$after" = forever ]; then
	echo
	echo "sonde keeps serving; press Ctrl-C to stop everything."
	while [ "$demo_stop" = 0 ]; do
		sleep 0.5
		demo_check_sonde
	done
elif [ "$after" -gt 0 ]; then
	echo
	echo "sonde keeps serving for $after s (Ctrl-C stops sooner)."
	end=$((SECONDS + after))
	while [ "$demo_stop" = 0 ] && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.5
		demo_check_sonde
	done
fi
trap 'exit 130' INT
trap 'exit 143' TERM
echo
step "stopping sonde, nginx and the backend"
stop_sonde INT
[ "$SONDE_RC" = 0 ] || echo "  note: sonde exited with status $SONDE_RC"
exit 0
