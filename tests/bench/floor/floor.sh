#!/usr/bin/env bash
# tests/bench/floor/floor.sh: `make bench-floor`. What the capture path itself
# costs, apart from what sonde does with the bytes: the evidence behind the
# "Capture path" section of docs/performance.md. Not in `make check` or
# `make bench`.
#
# Two loads, each in FLOOR_ROUNDS rounds; every round runs, in turn:
#   off    the load alone
#   tc     the load with build/floor/tc_capture (tc_capture.bpf.c: the same
#          bytes captured on lo egress, no syscall tracepoints; drained every
#          2 ms, not parsed)
#   sonde  the load with build/sonde observing it (syscall tracepoints)
# and prints, per variant, the median throughput and its ratio to the median
# without, then every round's values.
#   redis  redis-server on CPU 0; redis-benchmark -c 8 -P 16 -t set,get
#          -n FLOOR_REDIS_N on CPU 1 (sonde observes the client)
#   nginx  nginx (1 worker) on CPU 0, tests/bench/nginx.conf.in; wrk -t1 -c32
#          for FLOOR_SECONDS on CPU 1 (sonde observes nginx)
#
# Environment: FLOOR_ROUNDS [8], FLOOR_SECONDS [5], FLOOR_REDIS_N [2000000],
# FLOOR_LOADS ["redis nginx"].
set -u
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=../../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

ROUNDS=${FLOOR_ROUNDS:-8}
RUN_S=${FLOOR_SECONDS:-5}
REDIS_N=${FLOOR_REDIS_N:-2000000}
LOADS=${FLOOR_LOADS:-redis nginx}
TC_BIN=$SONDE_ROOT/build/floor/tc_capture
SONDE_PORT=

[ "$(id -u)" = 0 ] || { echo "bench-floor: needs root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench-floor: needs 2 CPUs" >&2; exit 1; }
for t in "$SONDE_BIN" "$TC_BIN"; do
	[ -x "$t" ] || { echo "bench-floor: $t missing (make bench-floor builds it)" >&2; exit 1; }
done
lib_init
SONDE_PORT=$(free_port)

# with VARIANT PID-OF-TARGET-OR-EMPTY PORT: start what VARIANT adds; sets ADDED.
with() {
	ADDED=
	case $1 in
	tc)
		"$TC_BIN" "$3" 2>"$LIB_TMP/tc.log" &
		ADDED=$!
		sleep 1 ;;
	sonde)
		"$SONDE_BIN" --pid "$2=floor" --listen "127.0.0.1:$SONDE_PORT" >"$LIB_TMP/sonde.log" 2>&1 &
		ADDED=$!
		wait_until 10 lib_http_ok "http://127.0.0.1:$SONDE_PORT/readyz" ||
			die "sonde not ready: $(tail -3 "$LIB_TMP/sonde.log")" ;;
	esac
	[ -n "$ADDED" ] && track_pid other "$ADDED"
}

without() {
	[ -n "$ADDED" ] || return 0
	kill -INT "$ADDED" 2>/dev/null
	wait "$ADDED" 2>/dev/null
	ADDED=
}

# redis VARIANT: one run; prints SET+GET requests per second.
redis_run() {
	local out=$LIB_TMP/rb.csv bp
	if [ "$1" = sonde ]; then
		# sonde observes the client: start it paused, attach, then let it go.
		taskset -c 1 bash -c 'kill -STOP $$; exec "$@"' - redis-benchmark -p "$REDIS_PORT" \
			-c 8 -P 16 -t set,get -n "$REDIS_N" --csv >"$out" 2>/dev/null &
		bp=$!
		wait_until 5 sh -c "grep -q '^State:.*T' /proc/$bp/status" || die "no paused client"
		with sonde "$bp"
		kill -CONT "$bp"
		wait "$bp"
	else
		with "$1" "" "$REDIS_PORT"
		taskset -c 1 redis-benchmark -p "$REDIS_PORT" -c 8 -P 16 -t set,get -n "$REDIS_N" \
			--csv >"$out" 2>/dev/null
	fi
	without
	awk -F'"' '$2 == "SET" || $2 == "GET" { t += 1 / $4; k++ } END { if (k == 2) printf "%.0f\n", 2 / t }' "$out"
}

nginx_run() {
	local out=$LIB_TMP/wrk.txt
	with "$1" "$NGINX_PID" "$NGINX_PORT"
	taskset -c 1 wrk -t1 -c32 -d"${RUN_S}s" "http://127.0.0.1:$NGINX_PORT/" >"$out" 2>&1
	without
	awk '/^Requests\/sec/ { printf "%.0f\n", $2 }' "$out"
}

report() {
	/usr/bin/python3 - "$1" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for v, x in rows:
    by.setdefault(v, []).append(float(x))
off = statistics.median(by['off'])
print('| variant | median | / without | every round |')
print('| --- | ---: | ---: | --- |')
for v in ('off', 'tc', 'sonde'):
    xs = by.get(v, [])
    if xs:
        m = statistics.median(xs)
        print('| %s | %s | %.3f | %s |' % (v, format(round(m), ','), m / off,
              ', '.join(format(round(x), ',') for x in xs)))
PY
}

for load in $LOADS; do
	: >"$LIB_TMP/$load.runs"
	case $load in
	redis)
		start_redis
		taskset -apc 0 "$REDIS_PID" >/dev/null ;;
	nginx)
		NGINX_PIN=(taskset -c 0)
		NGINX_MIN_WORKERS=1 start_nginx "$ROOT/tests/bench/nginx.conf.in" ;;
	*) die "unknown load $load" ;;
	esac
	step "$load: $ROUNDS rounds of off, tc, sonde"
	for ((r = 1; r <= ROUNDS; r++)); do
		for v in off tc sonde; do
			x=$("${load}_run" "$v")
			[ -n "$x" ] || die "$load $v: no throughput"
			echo "$v $x" >>"$LIB_TMP/$load.runs"
		done
	done
	echo
	echo "$load (requests per second):"
	echo
	report "$LIB_TMP/$load.runs"
	echo
	case $load in
	redis) lib_stop "$REDIS_PID" "$(lib_starttime "$REDIS_PID")" TERM 3 ;;
	nginx) lib_stop "$NGINX_PID" "$(lib_starttime "$NGINX_PID")" TERM 5 ;;
	esac
done
