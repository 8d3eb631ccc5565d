#!/usr/bin/env bash
# tests/bench/bench.sh: `make bench`. What sonde costs the process it observes.
#
# Each workload runs BENCH_RUNS pairs of load runs, one WITHOUT sonde and one
# WITH sonde attached (the order alternates from pair to pair: off/on, on/off,
# ... so that a drift of the machine does not favour one side), and with each
# pair a third run WITH sonde and kernel.bpf_stats_enabled=1 (mode "stats")
# that measures the BPF time: the statistics cost two clock reads per program
# run, for every process, so they stay off in the runs whose throughput is
# compared. Then
# report.py prints medians, ratios and verdicts against the targets as a
# markdown table and writes it into docs/performance.md between the
# "bench:begin"/"bench:end" markers (reruns replace it).
#
# Measured in each run WITH sonde (a fresh sonde per run):
#   BPF ns/request  (stats runs only) kernel.bpf_stats_enabled=1 during the
#                   run (0 in the other runs; restored on exit); sum of run_time_ns over the
#                   sonde_* programs sonde loaded, after - before, / requests
#                   wrk completed
#   sonde CPU       utime+stime from /proc/PID/stat over the run, including
#                   draining the rings after the load, / load duration
#   RSS             VmRSS at the end of the run
#   lost events     sonde_events_lost_total, after - before
#   counts          sonde's request count vs nginx's own (stub_status) and wrk's
#
# Environment (defaults in brackets):
#   BENCH_RUNS [5]            pairs per saturation workload
#   BENCH_SECONDS [10]        seconds per run (1..50)
#   BENCH_CONNECTIONS [32]    wrk connections at saturation
#   BENCH_THREADS [1]         wrk threads
#   BENCH_RATE [20000]        target req/s of the fixed-rate workload
#   BENCH_RATE_RUNS [1]       pairs of the fixed-rate workload
#   BENCH_RATE_CONNECTIONS [64] wrk connections of the fixed-rate workload
#   BENCH_DB_RUNS [3]         pairs of redis_pipelined, redis_pipelined_cap1024,
#                             pgbench, redis_node, pg_node, pg_server and
#                             pg_server_applogs
#   BENCH_WORKLOADS           [nginx_saturated nginx_saturated_notrace
#                             nginx_saturated_zipkin nginx_saturated_logs
#                             nginx_tls nginx_longhead nginx_ratelimit nginx_proxy
#                             nginx_proxy_inject nginx_rate
#                             nginx_rate_zipkin redis_pipelined
#                             redis_pipelined_cap1024 pgbench redis_node
#                             pg_node pg_server pg_server_applogs
#                             busy_all_one busy_all_matched]
#   BENCH_BUSY_PROCS [200]    busy_*: unrelated busy processes (tests/bench/busy.c)
#   BENCH_BUSY_SECONDS [3]    busy_*: seconds each of them writes, per run
#                             (BENCH_RUNS pairs)
#   BENCH_BUSY_RATE [1000]    busy_*: req/s wrk sends the observed nginx meanwhile
#   BENCH_PIN [1]             pin the server to CPU BENCH_SERVER_CPU [0] and
#                             the load generator to BENCH_LOAD_CPU [1]; sonde
#                             is never pinned
#   BENCH_DOC                 [docs/performance.md]; "-" writes no file
#   BENCH_STRICT [0]          1: exit 1 when a target is missed
#   BENCH_QUIET_WAIT [30]     before each run, wait up to this many seconds
#                             for a quiet machine: BENCH_QUIET_IDLE [90] % idle
#                             and no other sonde's BPF programs loaded (runs
#                             that start without are flagged in the tables)
#   BENCH_BPF_STATS [1]       0: no stats runs (no BPF time measured)
#   BENCH_OTHERS_MAX [5]      a run is flagged as disturbed when processes
#                             other than the bench's used more than this % of
#                             the machine, or another sonde was loaded
#
# Adding a workload NAME (redis-benchmark, pgbench, ...): define
#   wl_NAME_setup     start the server; set BENCH_TARGET_PID (what sonde
#                     attaches to: --pid BENCH_TARGET_PID=BENCH_SERVICE; ""
#                     for none, when BENCH_SONDE_ARGS has --all), BENCH_SERVICE, BENCH_SERVER_PIDS (whose CPU
#                     is reported) and BENCH_COUNT_SEL (the sonde series that
#                     count this workload's requests: metric_sum selectors,
#                     separated by spaces, summed), BENCH_SERVER_REAPED (1: add
#                     the server PIDs' reaped children's CPU, cutime+cstime)
#                     and BENCH_SONDE_ARGS (sonde flags beyond --pid, or "")
#   wl_NAME_pairs     print how many off/on pairs to run
#   wl_NAME_load OUT  drive the load for BENCH_SECONDS, raw output in OUT
#   wl_NAME_parse OUT print "requests req_per_s p99_us errors"
#   wl_NAME_served    print the server's own request counter (or ""); set
#                     BENCH_SERVED_OVERHEAD to the requests one reading adds
#   wl_NAME_describe  print markdown: what runs, the exact commands
#   wl_NAME_targets   print the targets that apply, e.g. "throughput_ratio>=0.90"
#                     (see report.py for the names)
#   wl_NAME_teardown  stop what setup started (or leave it to the exit trap)
#   wl_NAME_labels    optional: key=value lines naming, in the tables, the load
#                     generator (load=), the server (server=), the throughput
#                     unit (unit=) and the latency row (latency=); cpus=N
#                     adds the CPU time per operation (N x 1e9 / throughput:
#                     for a load that saturates N CPUs); load_count=no drops
#                     the "sonde count - load count" row
# and add NAME to BENCH_WORKLOADS.
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32}
BENCH_THREADS=${BENCH_THREADS:-1}
BENCH_RATE=${BENCH_RATE:-20000}
BENCH_RATE_RUNS=${BENCH_RATE_RUNS:-1}
BENCH_RATE_CONNECTIONS=${BENCH_RATE_CONNECTIONS:-64}
BENCH_WORKLOADS=${BENCH_WORKLOADS:-nginx_saturated nginx_saturated_notrace nginx_saturated_zipkin nginx_saturated_logs nginx_tls nginx_longhead nginx_ratelimit nginx_proxy nginx_proxy_inject nginx_rate nginx_rate_zipkin redis_pipelined redis_pipelined_cap1024 pgbench redis_node pg_node pg_server pg_server_applogs busy_all_one busy_all_matched}
BENCH_BUSY_PROCS=${BENCH_BUSY_PROCS:-200}
BENCH_BUSY_SECONDS=${BENCH_BUSY_SECONDS:-3}
BENCH_BUSY_RATE=${BENCH_BUSY_RATE:-1000}
BENCH_DB_RUNS=${BENCH_DB_RUNS:-3}
BENCH_PIN=${BENCH_PIN:-1}
BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-0}
BENCH_LOAD_CPU=${BENCH_LOAD_CPU:-1}
BENCH_DOC=${BENCH_DOC:-$ROOT/docs/performance.md}
BENCH_STRICT=${BENCH_STRICT:-0}
BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
BENCH_QUIET_IDLE=${BENCH_QUIET_IDLE:-90}
BENCH_OTHERS_MAX=${BENCH_OTHERS_MAX:-5}
BENCH_BPF_STATS=${BENCH_BPF_STATS:-1}

RESULTS=$LIB_TMP/results.tsv
META=$LIB_TMP/meta
mkdir -p "$META"

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
export BENCH_RATE BENCH_THREADS # read by rate.lua
for v in BENCH_RUNS BENCH_DB_RUNS BENCH_SECONDS BENCH_CONNECTIONS BENCH_THREADS BENCH_RATE BENCH_RATE_RUNS BENCH_RATE_CONNECTIONS BENCH_QUIET_WAIT BENCH_QUIET_IDLE BENCH_BUSY_PROCS BENCH_BUSY_SECONDS BENCH_BUSY_RATE; do
	is_uint "${!v}" || die "$v must be a number (got ${!v})"
	[ "${!v}" -ge 1 ] || [ "$v" = BENCH_QUIET_WAIT ] || [ "$v" = BENCH_QUIET_IDLE ] || die "$v must be at least 1"
done
# run_wrk (lib.sh) bounds wrk to 60 s.
[ "$BENCH_SECONDS" -le 50 ] || die "BENCH_SECONDS must be at most 50 (got $BENCH_SECONDS)"
[ "$BENCH_BUSY_SECONDS" -le 50 ] || die "BENCH_BUSY_SECONDS must be at most 50 (got $BENCH_BUSY_SECONDS)"
[ "$(id -u)" = 0 ] || die "sonde loads BPF programs: run as root"
tools="curl bpftool taskset sysctl"
case " $BENCH_WORKLOADS " in *" nginx_"*) tools="$tools nginx wrk" ;; esac
case " $BENCH_WORKLOADS " in *" busy_"*) tools="$tools nginx wrk cc" ;; esac
case " $BENCH_WORKLOADS " in *" redis_pipelined"*) tools="$tools redis-server redis-benchmark redis-cli" ;; esac
case " $BENCH_WORKLOADS " in *" pgbench "*) tools="$tools pgbench setpriv" ;; esac
case " $BENCH_WORKLOADS " in *" redis_node "*) tools="$tools redis-server redis-cli node" ;; esac
case " $BENCH_WORKLOADS " in *" pg_node "*) tools="$tools psql node" ;; esac
for tool in $tools; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh bench)"
done
[ -x "$PYTHON" ] || die "$PYTHON not found"
[ -x "$SONDE_BIN" ] || die "$SONDE_BIN not built (run make)"

NCPU=$(nproc)
if [ "$BENCH_PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
	SERVER_PIN=(taskset -c "$BENCH_SERVER_CPU")
	SERVER_CPU=$BENCH_SERVER_CPU # "" below: not pinned (cpu_busy: all CPUs)
	LOAD_CPU=$BENCH_LOAD_CPU
else
	BENCH_PIN=0
	SERVER_PIN=()
	SERVER_CPU=
	LOAD_CPU=
fi

# ------------------------------------------------------- the BPF stats sysctl

BPF_STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || die "no kernel.bpf_stats_enabled"

bench_bpf_stats() { sysctl -qw "kernel.bpf_stats_enabled=$1" >/dev/null 2>&1; }

# Restore the sysctl on any exit, then lib.sh's cleanup (which stops sonde and
# nginx and exits with the status given to it through $?).
bench_exit() {
	local rc=$?
	bench_bpf_stats "$BPF_STATS_ORIG"
	(exit "$rc")
	lib_cleanup
}
trap bench_exit EXIT

# ------------------------------------------------------------------ helpers

# utime+stime (clock ticks) of the processes given, all their threads included.
cpu_ticks() {
	local p t=0 n
	for p in "$@"; do
		n=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + n))
	done
	echo "$t"
}

# cpu_ticks plus cutime+cstime: the CPU of children the processes reaped
# (PostgreSQL's backends, which exit with their client's connection).
cpu_ticks_reaped() {
	local p t=0 n
	for p in "$@"; do
		n=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + n))
	done
	echo "$t"
}

server_ticks() {
	# shellcheck disable=SC2086 # a list of PIDs
	if [ "${BENCH_SERVER_REAPED:-0}" = 1 ]; then cpu_ticks_reaped $BENCH_SERVER_PIDS; else cpu_ticks $BENCH_SERVER_PIDS; fi
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# bpf_snapshot PID FILE: "prog_id name run_time_ns run_cnt" of each sonde_*
# program PID holds (see probe.py).
bpf_snapshot() { bpftool -j prog show 2>/dev/null | "$PYTHON" "$BENCH_DIR/probe.py" bpf "$1" >"$2"; }

# Loaded sonde_* programs not held by PID (another sonde on this machine: its
# programs run for every syscall of every process, ours included).
foreign_progs() { bpftool -j prog show 2>/dev/null | "$PYTHON" "$BENCH_DIR/probe.py" foreign "$@"; }

# "run_time_ns run_cnt" added between two snapshots.
bpf_delta() {
	awk 'NR == FNR { ns[$1] = $3; cnt[$1] = $4; next }
		{ dn += $3 - ns[$1]; dc += $4 - cnt[$1] }
		END { printf "%.0f %.0f\n", dn, dc }' "$1" "$2"
}

# Busy share (percent) of CPU N ("" = all CPUs) between two /proc/stat copies.
cpu_busy() {
	awk -v cpu="cpu$3" 'FNR == 1 { f++ } $1 == cpu || (cpu == "cpu" && $1 == "cpu") {
			t = 0; for (i = 2; i <= 9; i++) t += $i
			tot[f] = t; idle[f] = $5 + $6 }
		END { d = tot[2] - tot[1]; printf "%.1f\n", (d > 0) ? 100 * (d - idle[2] + idle[1]) / d : 0 }' "$1" "$2"
}

now() { date +%s.%N; }

# Convert wrk's "1.23ms" / "850.00us" / "1.02s" to microseconds.
wrk_us() {
	awk -v x="$1" 'BEGIN {
		v = x + 0; u = x; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : -1
		if (f < 0) print ""; else printf "%.1f\n", v * f }'
}

# wrk ARGS...: run_wrk on the load generator's CPU (affinity is inherited).
bench_wrk() {
	(
		[ -n "$LOAD_CPU" ] && taskset -pc "$LOAD_CPU" "$BASHPID" >/dev/null
		run_wrk "$@"
	)
}

# Machine idle share (percent) over 1 s.
idle_pct() {
	cat /proc/stat >"$LIB_TMP/idle.0"
	sleep 1
	cat /proc/stat >"$LIB_TMP/idle.1"
	awk -v b="$(cpu_busy "$LIB_TMP/idle.0" "$LIB_TMP/idle.1" "")" 'BEGIN { printf "%d\n", 100 - b }'
}

# Before a run: wait up to BENCH_QUIET_WAIT s until no other sonde's programs
# are loaded and the machine is at least BENCH_QUIET_IDLE % idle. A run that
# starts without quiet is flagged in the tables, not dropped.
wait_quiet() {
	local end=$((SECONDS + BENCH_QUIET_WAIT)) f i said=0
	while :; do
		f=$(foreign_progs)
		i=$(idle_pct)
		[ "$f" = 0 ] && [ "$i" -ge "$BENCH_QUIET_IDLE" ] && return 0
		if [ $said = 0 ]; then
			echo "   waiting for a quiet machine: ${i}% idle, $f sonde_* programs of another sonde loaded"
			said=1
		fi
		[ "$SECONDS" -lt "$end" ] || { echo "   not quiet after ${BENCH_QUIET_WAIT}s: running anyway (flagged)"; return 0; }
	done
}

# ----------------------------------------------------------------- nginx

# One worker, pinned to the server CPU (lib.sh's start_nginx, told so).
bench_nginx_up() {
	[ -n "${PROXY_UP_PID:-}" ] && bench_proxy_down # the gateway is not this nginx
	[ -n "${NGINX_PID:-}" ] && lib_alive "$NGINX_PID" && return 0
	NGINX_MIN_WORKERS=1
	NGINX_PIN=("${SERVER_PIN[@]}")
	start_nginx "$BENCH_DIR/nginx.conf.in"
	NGINX_URL=http://127.0.0.1:$NGINX_PORT/
	BENCH_TARGET_PID=$NGINX_PID
	BENCH_SERVICE=bench
	BENCH_SERVER_PIDS="$NGINX_PID $(nginx_workers | tr '\n' ' ')"
	BENCH_COUNT_SEL='http_server_requests_seconds_count{service="bench",uri="/"}'
	BENCH_SERVED_OVERHEAD=1 # the "after" stub_status request counts itself
	BENCH_SERVER_REAPED=0
	BENCH_SONDE_ARGS=
	# Warm up (not measured).
	bench_wrk "$LIB_TMP/warmup.txt" -t1 -c"$BENCH_CONNECTIONS" -d2s "$NGINX_URL" ||
		die "wrk warm-up failed: $(cat "$LIB_TMP/warmup.txt")"
}

nginx_down() {
	[ -n "${NGINX_PID:-}" ] || return 0
	lib_stop "$NGINX_PID" "$(lib_starttime "$NGINX_PID")" TERM 5
	NGINX_PID=
}

# nginx's request counter (stub_status), which counts the reading request too.
nginx_served() {
	curl -s --max-time 5 "http://127.0.0.1:$NGINX_PORT/nginx_status" | awk 'NR == 3 { print $3 }'
}

# "requests req_per_s p99_us errors" from wrk --latency output.
wrk_parse() {
	local f=$1 reqs rps p99
	reqs=$(wrk_requests "$f")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
	p99=$(wrk_us "$(awk '$1 == "99%" { print $2; exit }' "$f")")
	echo "${reqs:-0} ${rps:-0} ${p99:-NA} $(($(wrk_socket_errors "$f") + $(wrk_non2xx "$f")))"
}

wrk_version() { wrk -v 2>&1 | awk 'NR == 1 { print $2 }'; }

pin_note() {
	if [ "$BENCH_PIN" = 1 ]; then
		echo "nginx pinned to CPU $BENCH_SERVER_CPU (\`taskset -c $BENCH_SERVER_CPU\`), wrk to CPU $BENCH_LOAD_CPU, sonde not pinned."
	else
		echo "Nothing pinned."
	fi
}

# ------------------------------------------------- workload: nginx_saturated

wl_nginx_saturated_setup() { bench_nginx_up && BENCH_SONDE_ARGS=; }
wl_nginx_saturated_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_saturated_load() {
	bench_wrk "$1" -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency "$NGINX_URL"
}
wl_nginx_saturated_parse() { wrk_parse "$1"; }
wl_nginx_saturated_served() { nginx_served; }
wl_nginx_saturated_targets() { echo "throughput_ratio>=0.90 bpf_ns<=600"; }
wl_nginx_saturated_describe() {
	cat <<EOF
nginx $(nginx -v 2>&1 | sed 's|.*/||'), \`worker_processes 1\`, \`access_log off\`, one route \`location = / { return 200 "ok\n"; }\`
([tests/bench/nginx.conf.in](../tests/bench/nginx.conf.in)), saturated over loopback by wrk $(wrk_version):

    wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_SECONDS}s --latency http://127.0.0.1:PORT/

$(pin_note) With sonde: \`build/sonde --listen 127.0.0.1:PORT --pid NGINX_MASTER_PID=bench\`,
started fresh for each run. $BENCH_RUNS pair(s) of ${BENCH_SECONDS}-second runs, order alternating (off/on, on/off, ...).
EOF
}
wl_nginx_saturated_teardown() { :; }

# ------------------------------------------------------- workload: nginx_tls

# nginx_saturated over TLS (#17): sonde reads the plaintext at nginx's
# SSL_read and SSL_write (uprobes on libssl.so.3), the socket's ciphertext is
# not sent. One worker, pinned as nginx_saturated; wrk's connections are kept
# alive, so the handshakes are the warm-up's.
bench_nginx_tls_up() {
	[ -n "${NGINX_TLS:-}" ] && [ -n "${NGINX_PID:-}" ] && lib_alive "$NGINX_PID" && return 0
	bench_proxy_down
	nginx_down
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$LIB_TMP/bench_tls_key.pem" -out "$LIB_TMP/bench_tls_cert.pem" >/dev/null 2>&1 ||
		die "openssl req failed"
	NGINX_MIN_WORKERS=1
	NGINX_PIN=("${SERVER_PIN[@]}")
	start_nginx "$BENCH_DIR/nginx_tls.conf.in"
	NGINX_TLS=1
	NGINX_URL=https://127.0.0.1:$NGINX_PORT/
	BENCH_TARGET_PID=$NGINX_PID
	BENCH_SERVICE=bench
	BENCH_SERVER_PIDS="$NGINX_PID $(nginx_workers | tr '\n' ' ')"
	BENCH_COUNT_SEL='http_server_requests_seconds_count{service="bench",uri="/"}'
	BENCH_SERVED_OVERHEAD=1
	BENCH_SERVER_REAPED=0
	bench_wrk "$LIB_TMP/warmup.txt" -t1 -c"$BENCH_CONNECTIONS" -d2s "$NGINX_URL" ||
		die "wrk warm-up failed: $(cat "$LIB_TMP/warmup.txt")"
}

wl_nginx_tls_setup() { bench_nginx_tls_up && BENCH_SONDE_ARGS=; }
wl_nginx_tls_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_tls_load() { wl_nginx_saturated_load "$@"; }
wl_nginx_tls_parse() { wrk_parse "$1"; }
wl_nginx_tls_served() {
	curl -ks --max-time 5 "https://127.0.0.1:$NGINX_PORT/nginx_status" | awk 'NR == 3 { print $3 }'
}
wl_nginx_tls_targets() { echo "throughput_ratio>=0.97"; }
wl_nginx_tls_describe() {
	cat <<EOF
nginx_saturated over TLS ([tests/bench/nginx_tls.conf.in](../tests/bench/nginx_tls.conf.in), a
self-signed RSA 2048 certificate, OpenSSL $(openssl version | awk '{ print $2 }')), kept-alive connections:

    wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_SECONDS}s --latency https://127.0.0.1:PORT/

sonde reads the plaintext at nginx's SSL_read and SSL_write (uprobes on libssl.so.3, bpf/tls.h); the
BPF time per request includes the uprobes' programs (not the trap itself, which bpf_stats cannot see).
EOF
}
wl_nginx_tls_teardown() { nginx_down; NGINX_TLS=; }

# ------------------------------------------------ workload: nginx_saturated_logs

# Every request served is a JSON log line (docs/logs.md), written to a file.
wl_nginx_saturated_logs_setup() {
	bench_nginx_up && BENCH_SONDE_ARGS="--log-file $LIB_TMP/access.log --log-max-size 64M --log-files 2"
}
wl_nginx_saturated_logs_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_saturated_logs_load() { wl_nginx_saturated_load "$@"; }
wl_nginx_saturated_logs_parse() { wrk_parse "$1"; }
wl_nginx_saturated_logs_served() { nginx_served; }
wl_nginx_saturated_logs_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_saturated_logs_describe() {
	echo 'nginx_saturated with an access line per request: `--log-file FILE --log-max-size 64M
--log-files 2` (rotation included). Compare with nginx_saturated (tracing on, no logs) in the same run.'
}
wl_nginx_saturated_logs_teardown() { rm -f "$LIB_TMP"/access.log*; }

# ------------------------------------------------ workload: nginx_longhead

# Every request carries 2 KiB of headers: its head goes on past the 256 bytes
# copied by default, so the kernel side copies it again whole (up to 4 KiB),
# where trace headers may be. What that costs, against nginx_saturated.
wl_nginx_longhead_setup() { bench_nginx_up && BENCH_SONDE_ARGS=; }
wl_nginx_longhead_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_longhead_load() {
	bench_wrk "$1" -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency \
		-H "X-Pad: $(printf 'p%.0s' $(seq 1 2048))" "$NGINX_URL"
}
wl_nginx_longhead_parse() { wrk_parse "$1"; }
wl_nginx_longhead_served() { nginx_served; }
wl_nginx_longhead_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_longhead_describe() {
	echo 'nginx_saturated with a 2 KiB `X-Pad` header on every request (wrk `-H`): each request head is
longer than the default capture and is copied again up to 4 KiB (`sonde_events_long_heads_total`).'
}
wl_nginx_longhead_teardown() { :; }

# ------------------------------------------------ workload: nginx_ratelimit

# nginx_saturated with rate limits enforced on nginx's port (docs/ratelimit.md):
# the seed's four rules, none of which matches the route wrk requests, so every
# request goes through the kernel's verdict program (the stream followed, the
# automaton stepped) and passes. What enforcement costs a route it does not
# limit, against nginx_saturated in the same run.
wl_nginx_ratelimit_setup() {
	bench_nginx_up
	cp "$ROOT/deploy/ratelimit/seed.yaml" "$LIB_TMP/ratelimit.yaml"
	BENCH_SONDE_ARGS="--config $LIB_TMP/ratelimit.yaml"
}
wl_nginx_ratelimit_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_ratelimit_load() { wl_nginx_saturated_load "$@"; }
wl_nginx_ratelimit_parse() { wrk_parse "$1"; }
wl_nginx_ratelimit_served() { nginx_served; }
wl_nginx_ratelimit_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_ratelimit_describe() {
	echo 'nginx_saturated with `--config deploy/ratelimit/seed.yaml` (the seed'"'"'s four rules, none matching
`/`): every segment wrk sends goes through the sk_skb verdict program before nginx reads it. The BPF
time includes the verdict and sockops programs (`sonde_rl_*`). Compare with nginx_saturated in the
same run.'
}
wl_nginx_ratelimit_teardown() { :; }

# ------------------------------------------------ workloads: nginx_proxy, nginx_proxy_inject

# nginx as a gateway (one worker, on the server CPU) proxying every request to
# a second nginx (not observed, on the load CPU) over kept-alive connections;
# every request a path of its own (unique_ids.lua), as a shop's ids are. sonde
# observes the gateway: nginx_proxy plain, nginx_proxy_inject with
# --inject-traceparent (the header written into each forward, the proxy rule
# finding its request by its line). Their ratio is what injection costs.
bench_proxy_up() {
	[ -n "${PROXY_UP_PID:-}" ] && lib_alive "$PROXY_UP_PID" && [ -n "${NGINX_PID:-}" ] &&
		lib_alive "$NGINX_PID" && return 0
	nginx_down
	NGINX_MIN_WORKERS=1
	NGINX_PIN=()
	[ -n "$LOAD_CPU" ] && NGINX_PIN=(taskset -c "$LOAD_CPU")
	start_nginx "$BENCH_DIR/nginx_upstream.conf.in"
	PROXY_UP_PID=$NGINX_PID PROXY_UP_PORT=$NGINX_PORT
	NGINX_PID=
	NGINX_PIN=("${SERVER_PIN[@]}")
	UPSTREAM_PORT=$PROXY_UP_PORT start_nginx "$BENCH_DIR/nginx_proxy.conf.in"
	NGINX_URL=http://127.0.0.1:$NGINX_PORT/
	BENCH_TARGET_PID=$NGINX_PID
	BENCH_SERVICE=bench
	BENCH_SERVER_PIDS="$NGINX_PID $(nginx_workers | tr '\n' ' ')"
	BENCH_COUNT_SEL='http_server_requests_seconds_count{service="bench"}'
	BENCH_SERVED_OVERHEAD=1
	BENCH_SERVER_REAPED=0
	bench_wrk "$LIB_TMP/warmup.txt" -t1 -c"$BENCH_CONNECTIONS" -d2s -s "$ROOT/tests/integration/unique_ids.lua" \
		"$NGINX_URL" -- /w || die "wrk warm-up failed: $(cat "$LIB_TMP/warmup.txt")"
}

bench_proxy_down() {
	nginx_down
	[ -n "${PROXY_UP_PID:-}" ] && lib_stop "$PROXY_UP_PID" "$(lib_starttime "$PROXY_UP_PID")" TERM 5
	PROXY_UP_PID=
}

wl_nginx_proxy_setup() { bench_proxy_up && BENCH_SONDE_ARGS=; }
wl_nginx_proxy_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_proxy_load() {
	bench_wrk "$1" -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency \
		-s "$ROOT/tests/integration/unique_ids.lua" "$NGINX_URL" -- /r
}
wl_nginx_proxy_parse() { wrk_parse "$1"; }
wl_nginx_proxy_served() { nginx_served; }
wl_nginx_proxy_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_proxy_describe() {
	cat <<EOF
nginx as a gateway ([tests/bench/nginx_proxy.conf.in](../tests/bench/nginx_proxy.conf.in), one worker,
pinned like nginx_saturated) proxying every request over kept-alive connections to a second nginx
([tests/bench/nginx_upstream.conf.in](../tests/bench/nginx_upstream.conf.in), on the load CPU, not
observed); every request has a path of its own:

    wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_SECONDS}s --latency -s tests/integration/unique_ids.lua http://127.0.0.1:PORT/ -- /r

sonde observes the gateway, as in nginx_saturated.
EOF
}
wl_nginx_proxy_teardown() { :; } # nginx_proxy_inject reuses them; bench_nginx_up stops them

wl_nginx_proxy_inject_setup() { bench_proxy_up && BENCH_SONDE_ARGS=--inject-traceparent; }
wl_nginx_proxy_inject_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_proxy_inject_load() { wl_nginx_proxy_load "$@"; }
wl_nginx_proxy_inject_parse() { wrk_parse "$1"; }
wl_nginx_proxy_inject_served() { nginx_served; }
wl_nginx_proxy_inject_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_proxy_inject_describe() {
	echo 'nginx_proxy with `--inject-traceparent`: the gateway'"'"'s every forward goes through the sk_msg
program (`sonde_inject`), which finds the client request it forwards by its line and writes
`traceparent` into it; the capture programs scan each request head for the ids. The goal: within
3 % of nginx_proxy in the same run (docs/performance.md).'
}
wl_nginx_proxy_inject_teardown() { bench_proxy_down; }

# ------------------------------------------------------ workload: nginx_rate

# wrk cannot hold a rate: rate.lua paces the requests (see there).
wl_nginx_rate_setup() { bench_nginx_up && BENCH_SONDE_ARGS=; }
wl_nginx_rate_pairs() { echo "$BENCH_RATE_RUNS"; }
wl_nginx_rate_load() {
	bench_wrk "$1" -t"$BENCH_THREADS" -c"$BENCH_RATE_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency -s "$BENCH_DIR/rate.lua" "$NGINX_URL"
}
wl_nginx_rate_parse() { wrk_parse "$1"; }
wl_nginx_rate_served() { nginx_served; }
wl_nginx_rate_targets() { echo "lost==0 bpf_ns<=600"; }
wl_nginx_rate_describe() {
	cat <<EOF
The same nginx at a fixed rate of $BENCH_RATE req/s. Debian has no wrk2 and wrk has no rate option:
[tests/bench/rate.lua](../tests/bench/rate.lua) paces the requests itself (send slots $BENCH_RATE per
second; each connection waits for the next free slot, with wrk's 1 ms timer resolution), and the table
gives the rate achieved:

    BENCH_RATE=$BENCH_RATE BENCH_THREADS=$BENCH_THREADS wrk -t$BENCH_THREADS -c$BENCH_RATE_CONNECTIONS -d${BENCH_SECONDS}s --latency -s tests/bench/rate.lua http://127.0.0.1:PORT/

$(pin_note) $BENCH_RATE_RUNS pair(s) of ${BENCH_SECONDS}-second runs.
EOF
}
wl_nginx_rate_teardown() { :; }

# ------------------------------------- workloads: tracing off, and exported

# A Zipkin receiver that answers 202 and keeps nothing (its CPU is not the
# server's): what a collector costs sonde, not what it costs itself.
bench_zipkin_up() {
	[ -n "${ZIPKIN_PORT:-}" ] && return 0
	ZIPKIN_PORT=$(free_port)
	"$PYTHON" "$ROOT/tests/integration/zipkin_receiver.py" "$ZIPKIN_PORT" - >"$LIB_TMP/zipkin.log" 2>&1 &
	track_pid zipkin $!
	wait_until 10 grep -q ready "$LIB_TMP/zipkin.log" || die "zipkin receiver did not start"
}

wl_nginx_saturated_notrace_setup() { bench_nginx_up && BENCH_SONDE_ARGS=--no-tracing; }
wl_nginx_saturated_notrace_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_saturated_notrace_load() { wl_nginx_saturated_load "$@"; }
wl_nginx_saturated_notrace_parse() { wrk_parse "$1"; }
wl_nginx_saturated_notrace_served() { nginx_served; }
wl_nginx_saturated_notrace_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_saturated_notrace_describe() {
	echo 'nginx_saturated with `--no-tracing`: metrics only (no trace context, no spans).'
}
wl_nginx_saturated_notrace_teardown() { :; }

wl_nginx_saturated_zipkin_setup() {
	bench_nginx_up && bench_zipkin_up &&
		BENCH_SONDE_ARGS="--zipkin-url http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans"
}
wl_nginx_saturated_zipkin_pairs() { echo "$BENCH_RUNS"; }
wl_nginx_saturated_zipkin_load() { wl_nginx_saturated_load "$@"; }
wl_nginx_saturated_zipkin_parse() { wrk_parse "$1"; }
wl_nginx_saturated_zipkin_served() { nginx_served; }
wl_nginx_saturated_zipkin_targets() { echo "throughput_ratio>=0.90"; }
wl_nginx_saturated_zipkin_describe() {
	echo 'nginx_saturated with every request traced (sample rate 1) and exported: `--zipkin-url
http://127.0.0.1:PORT/api/v2/spans` to a local receiver that answers 202 and keeps nothing
([tests/integration/zipkin_receiver.py](../tests/integration/zipkin_receiver.py) with DIR `-`).'
}
wl_nginx_saturated_zipkin_teardown() { :; }

wl_nginx_rate_zipkin_setup() { wl_nginx_saturated_zipkin_setup; }
wl_nginx_rate_zipkin_pairs() { echo "$BENCH_RATE_RUNS"; }
wl_nginx_rate_zipkin_load() { wl_nginx_rate_load "$@"; }
wl_nginx_rate_zipkin_parse() { wrk_parse "$1"; }
wl_nginx_rate_zipkin_served() { nginx_served; }
wl_nginx_rate_zipkin_targets() { echo "lost==0"; }
wl_nginx_rate_zipkin_describe() {
	echo "nginx_rate ($BENCH_RATE req/s) with every request traced and exported as in nginx_saturated_zipkin."
}
wl_nginx_rate_zipkin_teardown() { :; }

# ------------------------------------------------------------- the runner

# Redis and PostgreSQL are observed from the client side (the application is
# the client), and the load clients (redis-benchmark, pgbench) start anew for
# each run: sonde attaches to a long-lived runner, started once, that runs each
# job as its child, so every client is a descendant of BENCH_TARGET_PID. A job
# is a script named on the runner's FIFO; the runner writes JOB.rc when done.
# The runner is pinned to the load generator's CPU (its children inherit it).
bench_runner_up() {
	[ -n "${RUNNER_PID:-}" ] && lib_alive "$RUNNER_PID" && return 0
	local pin=()
	[ -n "$LOAD_CPU" ] && pin=(taskset -c "$LOAD_CPU")
	RUNNER_FIFO=$LIB_TMP/runner.fifo
	RUNNER_JOBS=${RUNNER_JOBS:-0}
	rm -f "$RUNNER_FIFO"
	mkfifo "$RUNNER_FIFO" || die "mkfifo failed"
	# shellcheck disable=SC2016 # expanded by the runner
	"${pin[@]}" bash -c 'exec 3<>"$0"
		while read -r -u 3 job; do bash "$job"; echo $? >"$job.rc"; done' "$RUNNER_FIFO" </dev/null >/dev/null 2>&1 &
	RUNNER_PID=$!
	track_pid runner "$RUNNER_PID"
	sleep 0.2
	lib_alive "$RUNNER_PID" || die "the runner did not start"
}

# runner_job OUT CMD...: run CMD as the runner's descendant (bash execs it),
# its output in OUT; wait for it (up to BENCH_SECONDS + 120 s), return its status.
runner_job() {
	local out=$1 job i
	shift
	RUNNER_JOBS=$((RUNNER_JOBS + 1))
	job=$LIB_TMP/job.$RUNNER_JOBS
	{
		printf 'exec'
		printf ' %q' "$@"
		printf ' >%q 2>&1\n' "$out"
	} >"$job"
	echo "$job" >"$RUNNER_FIFO"
	for ((i = 0; i < (BENCH_SECONDS + 120) * 20; i++)); do
		[ -s "$job.rc" ] && return "$(cat "$job.rc")"
		lib_alive "$RUNNER_PID" || die "the runner died"
		sleep 0.05
	done
	die "job $* did not finish"
}

# pin_server PID [tree]: PID and its threads (with "tree", its current
# children too) on the server CPU.
pin_server() {
	[ -n "$SERVER_CPU" ] || return 0
	local p kids=
	[ "${2:-}" = tree ] && kids=$(pgrep -P "$1")
	for p in "$1" $kids; do
		taskset -apc "$SERVER_CPU" "$p" >/dev/null || die "taskset -apc $SERVER_CPU $p failed"
	done
}

client_pin_note() {
	if [ "$BENCH_PIN" = 1 ]; then
		echo "$1 pinned to CPU $BENCH_SERVER_CPU (\`taskset -apc\`), the runner and $2 to CPU $BENCH_LOAD_CPU, sonde not pinned."
	else
		echo "Nothing pinned."
	fi
}

# ------------------------------------------------- workload: redis_pipelined

REDIS_BENCH_N=

redis_bench_cmd() { echo redis-benchmark -p "$REDIS_PORT" -c 8 -P 16 -t set,get -n "$1" --csv; }

# "requests req_per_s p99_us errors": SET + GET requests, their total rate
# (requests / the two tests' time), the larger p99; redis-benchmark reports
# no errors (0). N: the -n the run used.
redis_bench_parse() {
	awk -F'"' -v n="$2" '$2 == "SET" || $2 == "GET" { k++; t += n / $4; if ($14 > p) p = $14 }
		END { if (k == 2 && t > 0) printf "%d %.0f %.1f 0\n", 2 * n, 2 * n / t, p * 1000; else print "0 0 NA 1" }' "$1"
}

wl_redis_pipelined_setup() {
	local rps
	start_redis
	pin_server "$REDIS_PID"
	bench_runner_up
	BENCH_TARGET_PID=$RUNNER_PID
	BENCH_SERVICE=bench
	BENCH_SERVER_PIDS=$REDIS_PID
	BENCH_SERVER_REAPED=0
	BENCH_COUNT_SEL='redis_commands_seconds_count{service="bench",command="SET"} redis_commands_seconds_count{service="bench",command="GET"}'
	BENCH_SERVED_OVERHEAD=0 # INFO is neither SET nor GET
	BENCH_SONDE_ARGS=
	# Warm up (not measured) and size -n so that SET + GET take about BENCH_SECONDS.
	# shellcheck disable=SC2046
	runner_job "$LIB_TMP/redis.warmup" $(redis_bench_cmd 300000) ||
		die "redis-benchmark warm-up failed: $(cat "$LIB_TMP/redis.warmup")"
	rps=$(redis_bench_parse "$LIB_TMP/redis.warmup" 300000 | awk '{ print $2 }')
	REDIS_BENCH_N=$(awk -v r="$rps" -v s="$BENCH_SECONDS" 'BEGIN { n = int(r * s / 2 / 10000) * 10000; print (n < 10000) ? 10000 : n }')
	echo "   redis-benchmark warm-up: $rps req/s: -n $REDIS_BENCH_N per test"
}
wl_redis_pipelined_pairs() { echo "$BENCH_DB_RUNS"; }
wl_redis_pipelined_load() {
	# shellcheck disable=SC2046
	runner_job "$1" $(redis_bench_cmd "$REDIS_BENCH_N")
}
wl_redis_pipelined_parse() { redis_bench_parse "$1" "$REDIS_BENCH_N"; }
wl_redis_pipelined_served() { echo $(($(redis_calls set) + $(redis_calls get))); }
wl_redis_pipelined_targets() { echo "throughput_ratio>=0.90"; }
wl_redis_pipelined_labels() {
	cat <<EOF
load=redis-benchmark
server=redis-server
unit=req/s
latency=p99 latency (redis-benchmark, larger of SET and GET; median)
EOF
}
wl_redis_pipelined_describe() {
	cat <<EOF
redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') (no persistence), observed from the client side: the client is
redis-benchmark, pipelining 16 commands per connection:

    redis-benchmark -p PORT -c 8 -P 16 -t set,get -n $REDIS_BENCH_N --csv

-n is sized by a warm-up so that the SET and GET tests take about ${BENCH_SECONDS} s together. The throughput is
the total rate, 2 × n / (time of the SET test + time of the GET test). redis-benchmark is started anew
for each run, as a child of a long-lived runner (a bash loop reading jobs from a FIFO) that the bench starts
once: \`build/sonde --pid RUNNER_PID=bench\` sees every client as a descendant.
$(client_pin_note redis-server redis-benchmark) $BENCH_DB_RUNS pair(s), order alternating.
Counts: sonde's SET + GET \`redis_commands_seconds_count\` against the server's own (\`INFO commandstats\`
calls of set and get). With the default 256-byte capture, a 16-command pipeline (about 720 bytes) does not
fit: sonde resyncs and does not count such batches, so its count is expected to be lower.
EOF
}
wl_redis_pipelined_teardown() {
	lib_stop "$REDIS_PID" "$(lib_starttime "$REDIS_PID")" TERM 5
}

# ----------------------------------------- workload: redis_pipelined_cap1024

# The same, with sonde copying 1024 bytes per syscall: a whole 16-command
# pipeline fits, so sonde can count it.
wl_redis_pipelined_cap1024_setup() {
	wl_redis_pipelined_setup
	BENCH_SONDE_ARGS="--capture-bytes 1024"
}
wl_redis_pipelined_cap1024_pairs() { wl_redis_pipelined_pairs; }
wl_redis_pipelined_cap1024_load() { wl_redis_pipelined_load "$@"; }
wl_redis_pipelined_cap1024_parse() { wl_redis_pipelined_parse "$@"; }
wl_redis_pipelined_cap1024_served() { wl_redis_pipelined_served; }
wl_redis_pipelined_cap1024_targets() { wl_redis_pipelined_targets; }
wl_redis_pipelined_cap1024_labels() { wl_redis_pipelined_labels; }
wl_redis_pipelined_cap1024_describe() {
	cat <<EOF
The same as redis_pipelined (a fresh redis-server, -n sized again by a warm-up: -n $REDIS_BENCH_N), with sonde
copying 1024 bytes per syscall instead of the default 256, so that a 16-command pipeline fits:
\`build/sonde --capture-bytes 1024 --pid RUNNER_PID=bench\`. $BENCH_DB_RUNS pair(s), order alternating.
EOF
}
wl_redis_pipelined_cap1024_teardown() { wl_redis_pipelined_teardown; }

# ---------------------------------------------------------- workload: pgbench

pgbench_args() { echo -h 127.0.0.1 -p "$PG_PORT" -U postgres; }

wl_pgbench_setup() {
	start_postgres
	pin_server "$PG_PID" tree # backends forked later inherit the postmaster's CPU
	bench_runner_up
	# shellcheck disable=SC2046
	pgbench -i -s 1 $(pgbench_args) postgres >"$LIB_TMP/pgbench.init" 2>&1 ||
		die "pgbench -i failed: $(tail -5 "$LIB_TMP/pgbench.init")"
	BENCH_TARGET_PID=$RUNNER_PID
	BENCH_SERVICE=bench
	# The postmaster and its children now; backends (one per pgbench
	# connection, gone after each run) through the postmaster's cutime+cstime.
	BENCH_SERVER_PIDS="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
	BENCH_SERVER_REAPED=1
	BENCH_COUNT_SEL='database_query_duration_seconds_count{service="bench"}'
	BENCH_SERVED_OVERHEAD=0
	BENCH_SONDE_ARGS=
	# Warm up (not measured).
	# shellcheck disable=SC2046
	runner_job "$LIB_TMP/pgbench.warmup" pgbench -n -c 4 -j 2 -T 2 -M prepared $(pgbench_args) postgres ||
		die "pgbench warm-up failed: $(tail -5 "$LIB_TMP/pgbench.warmup")"
}
wl_pgbench_pairs() { echo "$BENCH_DB_RUNS"; }
wl_pgbench_load() {
	# shellcheck disable=SC2046
	runner_job "$1" pgbench -n -c 4 -j 2 -T "$BENCH_SECONDS" -M prepared $(pgbench_args) postgres
}
# requests = statements (7 per TPC-B transaction), rate = transactions/s,
# latency = pgbench's average, errors = failed transactions.
wl_pgbench_parse() {
	awk '/^number of transactions actually processed:/ { split($6, a, "/"); tx = a[1] }
		/^number of failed transactions:/ { failed = $5 }
		/^latency average =/ { lat = $4; if ($5 == "ms") lat *= 1000; else if ($5 == "s") lat *= 1e6 }
		/^tps = / && /without initial connection time/ { tps = $3 }
		END { printf "%d %s %s %d\n", 7 * tx, (tps == "" ? 0 : tps), (lat == "" ? "NA" : lat), failed }' "$1"
}
wl_pgbench_served() { :; }
wl_pgbench_targets() { echo "throughput_ratio>=0.90"; }
wl_pgbench_labels() {
	cat <<EOF
load=pgbench (7 statements per transaction)
server=PostgreSQL
unit=transactions/s
latency=latency average (pgbench; median)
EOF
}
wl_pgbench_describe() {
	cat <<EOF
PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (\`fsync=off\`, \`synchronous_commit=off\`), \`pgbench -i -s 1\` once, observed from
the client side: the client is pgbench, TPC-B-like transactions (BEGIN, 3 UPDATE, SELECT, INSERT, END: 7
statements) with prepared statements, over TCP to 127.0.0.1:

    pgbench -n -c 4 -j 2 -T $BENCH_SECONDS -M prepared -h 127.0.0.1 -p PORT -U postgres postgres

The throughput is pgbench's "tps (without initial connection time)"; the latency row is pgbench's average (it
reports no percentiles without per-transaction logs). Requests, for BPF time per request and the counts, are
statements: 7 × the transactions pgbench processed. pgbench runs as a child of the same kind of runner as
redis-benchmark (\`build/sonde --pid RUNNER_PID=bench\`). $(client_pin_note "PostgreSQL (the postmaster, so every backend)" pgbench)
$BENCH_DB_RUNS pair(s), order alternating. Count: the sum of sonde's \`database_query_duration_seconds_count\` for the
service against 7 × transactions; pgbench's own start-up queries (finding the scale) add a few.
EOF
}
wl_pgbench_teardown() {
	lib_stop "$PG_PID" "$(lib_starttime "$PG_PID")" INT 10
}

# ------------------------------- workloads: pg_server, pg_server_applogs

# --capture-app-logs on a service that logs a line per request: PostgreSQL
# with log_statement=all writes one line per statement to its stderr (a file
# here), and sonde observes the server (postmaster and backends), not pgbench.
# pg_server is the same without --capture-app-logs: the difference is the
# cost of the lines (sonde CPU per line = the CPU difference / lines per s).
pg_server_up() {
	[ -n "${PG_PID:-}" ] && lib_alive "$PG_PID" && wl_pgbench_teardown
	rm -rf "$LIB_TMP/pg"
	PG_OPTS="-c log_statement=all -c log_line_prefix=%m" start_postgres
	pin_server "$PG_PID" tree
	bench_runner_up
	# shellcheck disable=SC2046
	pgbench -i -s 1 $(pgbench_args) postgres >"$LIB_TMP/pgbench.init" 2>&1 ||
		die "pgbench -i failed: $(tail -5 "$LIB_TMP/pgbench.init")"
	BENCH_TARGET_PID=$PG_PID
	BENCH_SERVICE=postgres
	BENCH_SERVER_PIDS="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
	BENCH_SERVER_REAPED=1
	BENCH_SERVED_OVERHEAD=0
}
wl_pg_server_setup() {
	pg_server_up
	BENCH_COUNT_SEL='sonde_events_total'
	BENCH_SONDE_ARGS=
}
wl_pg_server_pairs() { echo "$BENCH_DB_RUNS"; }
# -M simple: one log line per statement ("LOG:  statement: ...").
wl_pg_server_load() {
	# shellcheck disable=SC2046
	runner_job "$1" pgbench -n -c 4 -j 2 -T "$BENCH_SECONDS" -M simple $(pgbench_args) postgres
}
wl_pg_server_parse() { wl_pgbench_parse "$@"; }
wl_pg_server_served() { :; }
wl_pg_server_targets() { echo "throughput_ratio>=0.90"; }
wl_pg_server_labels() { wl_pgbench_labels; }
wl_pg_server_describe() {
	echo 'PostgreSQL with `log_statement=all` (a line per statement on its stderr, a file), observed
on the server side (`--pid POSTMASTER`), under pgbench `-M simple -c 4 -j 2`. The sonde count
column is `sonde_events_total` (records), not requests.'
}
wl_pg_server_teardown() { wl_pgbench_teardown; }

wl_pg_server_applogs_setup() {
	pg_server_up
	BENCH_COUNT_SEL='sonde_log_lines_total{source="app"}'
	BENCH_SONDE_ARGS="--capture-app-logs --log-file $LIB_TMP/app.log --log-max-size 64M --log-files 2"
}
wl_pg_server_applogs_pairs() { echo "$BENCH_DB_RUNS"; }
wl_pg_server_applogs_load() { wl_pg_server_load "$@"; }
wl_pg_server_applogs_parse() { wl_pgbench_parse "$@"; }
wl_pg_server_applogs_served() { :; }
wl_pg_server_applogs_targets() { echo "throughput_ratio>=0.90"; }
wl_pg_server_applogs_labels() { wl_pgbench_labels; }
wl_pg_server_applogs_describe() {
	echo 'pg_server with `--capture-app-logs --log-file FILE`: every line PostgreSQL writes is
re-emitted as a JSON line. The sonde count column is the application lines made.'
}
wl_pg_server_applogs_teardown() { wl_pgbench_teardown; rm -f "$LIB_TMP"/app.log*; }

# ------------------------------------------- workloads: redis_node, pg_node

# A busy Node.js client (issue #10): tests/bench/node_load.js, 16 concurrent
# workers on ioredis's auto-pipelined connection, or on a node-postgres Pool of
# 16; run as a child of the runner like redis-benchmark and pgbench.
node_load_cmd() { echo env NODE_MODULES="$SONDE_ROOT/build/node/node_modules" node "$SONDE_ROOT/tests/bench/node_load.js" "$1" "$2" "$BENCH_SECONDS"; }
node_load_parse() { awk 'NF == 4 { print; ok = 1 } END { if (!ok) print "0 0 NA 1" }' "$1"; }
node_version_of() { node -p "require('$SONDE_ROOT/build/node/node_modules/$1/package.json').version" 2>/dev/null; }

# node_wl_setup KIND PORT SERVER_PIDS REAPED COUNT_SEL: the runner, what the
# bench counts, and a warm-up run (not measured).
node_wl_setup() {
	bench_runner_up
	BENCH_TARGET_PID=$RUNNER_PID
	BENCH_SERVICE=bench
	BENCH_SERVER_PIDS=$3
	BENCH_SERVER_REAPED=$4
	BENCH_COUNT_SEL=$5
	BENCH_SERVED_OVERHEAD=0
	BENCH_SONDE_ARGS=
	# shellcheck disable=SC2046
	runner_job "$LIB_TMP/$1_node.warmup" $(node_load_cmd "$1" "$2") ||
		die "node_load.js warm-up failed: $(cat "$LIB_TMP/$1_node.warmup")"
}

wl_redis_node_setup() {
	[ -d "$SONDE_ROOT/build/node/node_modules/ioredis" ] || die "Node.js clients missing: scripts/deps.sh bench"
	start_redis
	pin_server "$REDIS_PID"
	node_wl_setup redis "$REDIS_PORT" "$REDIS_PID" 0 \
		'redis_commands_seconds_count{service="bench",command="SET"} redis_commands_seconds_count{service="bench",command="GET"}'
}
wl_redis_node_pairs() { echo "$BENCH_DB_RUNS"; }
wl_redis_node_load() {
	# shellcheck disable=SC2046
	runner_job "$1" $(node_load_cmd redis "$REDIS_PORT")
}
wl_redis_node_parse() { node_load_parse "$1"; }
wl_redis_node_served() { echo $(($(redis_calls set) + $(redis_calls get))); }
wl_redis_node_targets() { echo "throughput_ratio>=0.90"; }
wl_redis_node_labels() {
	cat <<EOF
load=node_load.js (ioredis)
server=redis-server
unit=commands/s
latency=p99 latency of a command (node_load.js; median)
EOF
}
wl_redis_node_describe() {
	cat <<EOF
A Node.js service's busy Redis connection: \`tests/bench/node_load.js redis\`, ioredis $(node_version_of ioredis) with
auto-pipelining, 16 concurrent workers on its one connection, each a SET of a 1 KiB value then a GET of it
(about 16 KiB per write and per read: the kernel side walks them command by command), for ${BENCH_SECONDS} s.
Throughput: commands per second; latency: p99 of a command as the client saw it. $BENCH_DB_RUNS pair(s), order
alternating. Counts: sonde's SET + GET against \`INFO commandstats\`.
EOF
}
wl_redis_node_teardown() { wl_redis_pipelined_teardown; }

wl_pg_node_setup() {
	[ -d "$SONDE_ROOT/build/node/node_modules/pg" ] || die "Node.js clients missing: scripts/deps.sh bench"
	rm -rf "$LIB_TMP/pg" # pgbench's cluster, stopped: a fresh one
	start_postgres
	pin_server "$PG_PID" tree
	psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres >/dev/null <<'SQL' ||
CREATE TABLE products (id int PRIMARY KEY, name text, description text, price numeric,
                       stock int, category text, updated timestamp);
INSERT INTO products SELECT g, 'product ' || g, repeat('x', 1000), g * 1.5, g, 'books', now()
  FROM generate_series(1, 64) g;
SQL
		die "could not prepare the database"
	node_wl_setup pg "$PG_PORT" "$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')" 1 \
		'database_query_duration_seconds_count{service="bench"}'
}
wl_pg_node_pairs() { echo "$BENCH_DB_RUNS"; }
wl_pg_node_load() {
	# shellcheck disable=SC2046
	runner_job "$1" $(node_load_cmd pg "$PG_PORT")
}
wl_pg_node_parse() { node_load_parse "$1"; }
wl_pg_node_served() { :; }
wl_pg_node_targets() { echo "throughput_ratio>=0.90"; }
wl_pg_node_labels() {
	cat <<EOF
load=node_load.js (node-postgres)
server=PostgreSQL
unit=queries/s
latency=p99 latency of a query (node_load.js; median)
EOF
}
wl_pg_node_describe() {
	cat <<EOF
A Node.js service's connection pool: \`tests/bench/node_load.js pg\`, node-postgres $(node_version_of pg), a Pool of 16,
16 concurrent workers, each \`SELECT * FROM products WHERE id = \$1\` (Parse, Bind, Describe, Execute, Sync
in one writev; a 1 KiB row back), for ${BENCH_SECONDS} s. Throughput: queries per second; latency: p99 of a
query. $BENCH_DB_RUNS pair(s), order alternating. Count: sonde's \`database_query_duration_seconds_count\` for
the service against the queries the client completed.
EOF
}
wl_pg_node_teardown() { wl_pgbench_teardown; }

# ------------------------------- workloads: busy_all_one, busy_all_matched

# Node-wide (issue #15): sonde --all on a node where BENCH_BUSY_PROCS unrelated
# processes (tests/bench/busy.c, not pinned: they fill every CPU) write one byte
# to /dev/null in a loop, while one service, nginx, serves BENCH_BUSY_RATE
# req/s from wrk (rate.lua). Every write runs sonde's write exit program.
# busy_all_one: --all --match-comm '^nginx$', the busy processes are not
# observed and must pay only the program's first test (their PID's bit in
# target_bits); busy_all_matched: --all, every process observed, the busy ones
# too (the full path: target lookup, fd checks). Throughput: the busy
# processes' writes per second; the machine is saturated, so CPUs x 1e9 /
# throughput is the CPU time of a write, and its increase what sonde adds.
# The processes start in the load window (each exec is an event sonde reads)
# and write together over BENCH_BUSY_SECONDS from a common start 1 s later.
busy_up() {
	bench_nginx_up
	BUSY_BIN=$LIB_TMP/busy
	[ -x "$BUSY_BIN" ] || cc -O2 -o "$BUSY_BIN" "$BENCH_DIR/busy.c" || die "cannot build tests/bench/busy.c"
	# bench_nginx_up returns early when nginx runs: set everything here.
	NGINX_URL=http://127.0.0.1:$NGINX_PORT/
	BENCH_TARGET_PID= # --all: no --pid
	BENCH_SERVICE=nginx
	BENCH_SERVER_PIDS="$NGINX_PID $(nginx_workers | tr '\n' ' ')"
	BENCH_COUNT_SEL='http_server_requests_seconds_count{service="nginx",uri="/"}'
	BENCH_SERVED_OVERHEAD=1
	BENCH_SERVER_REAPED=0
}

# busy_load OUT: OUT gets "writes errors"; wrk's output in OUT.wrk.
busy_load() {
	local out=$1 i start pids=() wrk_pid fail=0
	start=$(awk -v t="$(now)" 'BEGIN { printf "%.3f", t + 1 }')
	BENCH_RATE=$BENCH_BUSY_RATE bench_wrk "$out.wrk" -t1 -c4 -d"$((BENCH_BUSY_SECONDS + 1))s" \
		-s "$BENCH_DIR/rate.lua" "$NGINX_URL" &
	wrk_pid=$!
	for ((i = 0; i < BENCH_BUSY_PROCS; i++)); do
		"$BUSY_BIN" "$BENCH_BUSY_SECONDS" "$start" >"$out.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail=$((fail + 1)); done
	wait "$wrk_pid" || fail=$((fail + 1))
	for ((i = 0; i < BENCH_BUSY_PROCS; i++)); do cat "$out.$i"; done |
		awk -v f="$fail" '{ n += $1 } END { printf "%.0f %d\n", n, f }' >"$out"
	rm -f "$out".[0-9]*
	[ "$fail" = 0 ]
}

busy_parse() {
	awk -v s="$BENCH_BUSY_SECONDS" -v e="$(($(wrk_socket_errors "$1.wrk") + $(wrk_non2xx "$1.wrk")))" \
		'{ printf "%.0f %.0f NA %d\n", $1, $1 / s, $2 + e }' "$1"
}

busy_labels() {
	cat <<EOF2
load=busy processes
server=nginx
unit=writes/s
latency=(no latency: the busy processes only count)
cpus=$NCPU
load_count=no
EOF2
}

busy_describe() {
	cat <<EOF2
$BENCH_BUSY_PROCS unrelated processes ([tests/bench/busy.c](../tests/bench/busy.c), \`busy $BENCH_BUSY_SECONDS START\`,
not pinned) each write one byte to \`/dev/null\` in a loop for $BENCH_BUSY_SECONDS s from a common start, filling both
CPUs, while nginx (as in nginx_saturated, $(pin_note | sed 's/\.$//')) serves $BENCH_BUSY_RATE req/s:

    BENCH_RATE=$BENCH_BUSY_RATE wrk -t1 -c4 -d$((BENCH_BUSY_SECONDS + 1))s -s tests/bench/rate.lua http://127.0.0.1:PORT/

Throughput: the busy processes' writes per second; CPU time per write = $NCPU × 10⁹ / throughput (the machine
is saturated). BPF time per write: every sonde program's run time over the run / the busy writes (the writes
run sonde's \`write\` exit program once each; nginx's and wrk's syscalls are in the sum too, a few thousand).
The processes start inside the run (sonde reads each exec) and write 1 s later. $BENCH_RUNS pair(s), order
alternating.
EOF2
}

wl_busy_all_one_setup() { busy_up && BENCH_SONDE_ARGS="--all --match-comm ^nginx$"; }
wl_busy_all_one_pairs() { echo "$BENCH_RUNS"; }
wl_busy_all_one_load() { busy_load "$1"; }
wl_busy_all_one_parse() { busy_parse "$1"; }
wl_busy_all_one_served() { nginx_served; }
wl_busy_all_one_targets() { echo "throughput_ratio>=0.97"; }
wl_busy_all_one_labels() { busy_labels; }
wl_busy_all_one_describe() {
	busy_describe
	echo
	echo 'With sonde: `build/sonde --all --match-comm '"'"'^nginx$'"'"'`: only nginx observed; the busy processes'"'"'
writes stop at the programs'"'"' first test (their PID'"'"'s bit in `target_bits`).'
}
wl_busy_all_one_teardown() { :; }

wl_busy_all_matched_setup() { busy_up && BENCH_SONDE_ARGS=--all; }
wl_busy_all_matched_pairs() { echo "$BENCH_RUNS"; }
wl_busy_all_matched_load() { busy_load "$1"; }
wl_busy_all_matched_parse() { busy_parse "$1"; }
wl_busy_all_matched_served() { nginx_served; }
wl_busy_all_matched_targets() { :; } # reported, no target
wl_busy_all_matched_labels() { busy_labels; }
wl_busy_all_matched_describe() {
	echo 'busy_all_one with `build/sonde --all`: every process observed, the busy ones (service `busy`)
included: each write goes on past the first test to the target lookup and the file-descriptor checks
(/dev/null is no socket: nothing is recorded).'
}
wl_busy_all_matched_teardown() { :; }

# ------------------------------------------------------------ one run

# Wait until sonde's count for the workload stops moving (<= 5 s).
settle_sonde() {
	local prev=-1 cur i
	for ((i = 0; i < 20; i++)); do
		sleep 0.25
		metrics_fetch "$LIB_TMP/settle.txt" || true
		cur=$(sonde_count "$LIB_TMP/settle.txt")
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
	done
}

sonde_value() { lib_metric_match "$2" subset <"$1" || echo 0; }

# SELECTOR's sum in /metrics copy M1 minus in M0.
sonde_delta() {
	awk -v a="$(sonde_value "$1" "$3")" -v b="$(sonde_value "$2" "$3")" 'BEGIN { printf "%.0f", b - a }'
}

# The sum of BENCH_COUNT_SEL's selectors in the /metrics copy FILE.
sonde_count() {
	local sel t=0
	for sel in $BENCH_COUNT_SEL; do
		t=$(awk -v a="$t" -v b="$(sonde_value "$1" "$sel")" 'BEGIN { printf "%.0f", a + b }')
	done
	echo "$t"
}

# bench_run WORKLOAD MODE(off|on|stats) PAIR: one measured run, one line in
# $RESULTS. on and stats run sonde; stats also turns kernel.bpf_stats_enabled on.
bench_run() {
	local wl=$1 mode=$2 pair=$3 out m0 m1 t0 t1 secs sonde=0
	local served0 served1 srv0 srv1 st0=0 st1=0 rss=NA bpf0 bpf1 stat0 stat1 fa fb others
	local count=NA lost=NA events=NA bpf_ns=NA bpf_cnt=NA sonde_ticks=NA parsed served
	out=$LIB_TMP/$wl.$pair.$mode.wrk
	m0=$LIB_TMP/$wl.$pair.$mode.m0
	m1=$LIB_TMP/$wl.$pair.$mode.m1
	stat0=$LIB_TMP/$wl.$pair.$mode.stat0
	stat1=$LIB_TMP/$wl.$pair.$mode.stat1
	bpf0=$META/bpf.$wl.$pair.$mode.0
	bpf1=$META/bpf.$wl.$pair.$mode.1
	[ "$mode" = off ] || sonde=1
	wait_quiet
	# Statistics only in stats runs, even on a host that keeps them on (restored at exit).
	bench_bpf_stats "$([ "$mode" = stats ] && echo 1 || echo 0)" ||
		die "cannot set kernel.bpf_stats_enabled"
	if [ "$sonde" = 1 ]; then
		unset SONDE_PORT
		local target=()
		[ -n "${BENCH_TARGET_PID:-}" ] && target=(--pid "$BENCH_TARGET_PID=$BENCH_SERVICE")
		# shellcheck disable=SC2086 # extra flags of the workload, if any
		start_sonde ${BENCH_SONDE_ARGS:-} "${target[@]}"
		sleep 1 # start-up work (attaching, first sweep) is not part of the run
		metrics_fetch "$m0" || die "cannot read sonde's /metrics"
		st0=$(cpu_ticks "$SONDE_PID")
		bpf_snapshot "$SONDE_PID" "$bpf0"
		[ -s "$bpf0" ] || die "found no sonde_* BPF program among sonde's file descriptors"
	fi
	served0=$("wl_${wl}_served")
	srv0=$(server_ticks)
	if [ "$sonde" = 1 ]; then fa=$(foreign_progs "$SONDE_PID"); else fa=$(foreign_progs); fi
	"$PYTHON" "$BENCH_DIR/probe.py" procs >"$stat0.procs"
	cat /proc/stat >"$stat0"
	t0=$(now)
	"wl_${wl}_load" "$out" || { cat "$out"; die "$wl load failed"; }
	t1=$(now)
	cat /proc/stat >"$stat1"
	"$PYTHON" "$BENCH_DIR/probe.py" procs >"$stat1.procs"
	if [ "$sonde" = 1 ]; then fb=$(foreign_progs "$SONDE_PID"); else fb=$(foreign_progs); fi
	srv1=$(server_ticks)
	if [ "$sonde" = 1 ]; then
		bpf_snapshot "$SONDE_PID" "$bpf1"
		[ "$mode" = stats ] && bench_bpf_stats 0
		settle_sonde
		st1=$(cpu_ticks "$SONDE_PID")
		rss=$(rss_kb "$SONDE_PID")
		metrics_fetch "$m1" || die "cannot read sonde's /metrics"
		lib_alive "$SONDE_PID" || die "sonde died during the run: $(tail -n 20 "$SONDE_LOG")"
		stop_sonde TERM
		count=$(awk -v a="$(sonde_count "$m0")" -v b="$(sonde_count "$m1")" 'BEGIN { printf "%.0f", b - a }')
		lost=$(awk -v a="$(sonde_value "$m0" sonde_events_lost_total)" -v b="$(sonde_value "$m1" sonde_events_lost_total)" 'BEGIN { printf "%.0f", b - a }')
		events=$(awk -v a="$(sonde_value "$m0" sonde_events_total)" -v b="$(sonde_value "$m1" sonde_events_total)" 'BEGIN { printf "%.0f", b - a }')
		read -r bpf_ns bpf_cnt < <(bpf_delta "$bpf0" "$bpf1")
		if [ "$mode" != stats ]; then
			bpf_ns=NA bpf_cnt=NA
			rm -f "$bpf0" "$bpf1"
		fi
		sonde_ticks=$((st1 - st0))
		# Spans exported and dropped over the run (report.py: spans_table).
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$mode" "$pair" \
			"$(sonde_delta "$m0" "$m1" sonde_spans_exported_total)" \
			"$(sonde_delta "$m0" "$m1" sonde_spans_dropped_total)" \
			"$sonde_ticks" "$count" >>"$META/spans.tsv"
	fi
	served1=$("wl_${wl}_served")
	served=NA
	is_uint "${served0:-}" && is_uint "${served1:-}" &&
		served=$((served1 - served0 - ${BENCH_SERVED_OVERHEAD:-0}))
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	others=$("$PYTHON" "$BENCH_DIR/probe.py" others "$stat0.procs" "$stat1.procs" $$ "$secs" "$NCPU" "$(getconf CLK_TCK)")
	parsed=$("wl_${wl}_parse" "$out")
	# shellcheck disable=SC2086
	set -- $parsed
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$wl" "$mode" "$pair" "$secs" "$1" "$2" "$3" "$4" "$served" "$count" \
		"$bpf_ns" "$bpf_cnt" "$sonde_ticks" "$((srv1 - srv0))" "${rss:-NA}" "$lost" "$events" \
		"$(cpu_busy "$stat0" "$stat1" "$SERVER_CPU")" "$(cpu_busy "$stat0" "$stat1" "$LOAD_CPU")" \
		"$others" "$((fa > fb ? fa : fb))" >>"$RESULTS"
	if [ "$sonde" = 1 ]; then
		printf '   %-5s %9s req/s  p99 %7s us  sonde: %s counted (server %s, wrk %s), %s lost, BPF %s ns/req; others %s%% CPU\n' \
			"$mode" "$2" "$3" "$count" "$served" "$1" "$lost" \
			"$(awk -v n="$bpf_ns" -v r="$1" 'BEGIN { if (r > 0 && n != "NA") printf "%.0f", n / r; else print "NA" }')" "$others"
	else
		printf '   %-5s %9s req/s  p99 %7s us  (server %s, wrk %s); others %s%% CPU\n' "$mode" "$2" "$3" "$served" "$1" "$others"
	fi
}

# ------------------------------------------------------------ main

machine_md() {
	local cpu mem os
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
	cat <<EOF
- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $NCPU CPUs ($cpu), $mem RAM, ${os:-unknown OS}, kernel $(uname -r)
- $("$SONDE_BIN" --version 2>/dev/null | head -n 1) (\`build/sonde --version\`), work tree at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")
- idle CPU before the bench: $IDLE_BEFORE % (load average $(cut -d' ' -f1-3 /proc/loadavg) at the start)
- command: \`make bench\` (\`tests/bench/bench.sh\`), BENCH_RUNS=$BENCH_RUNS BENCH_DB_RUNS=$BENCH_DB_RUNS BENCH_SECONDS=$BENCH_SECONDS BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_THREADS=$BENCH_THREADS BENCH_RATE=$BENCH_RATE$(case " $BENCH_WORKLOADS " in *" busy_"*) echo " BENCH_BUSY_PROCS=$BENCH_BUSY_PROCS BENCH_BUSY_SECONDS=$BENCH_BUSY_SECONDS BENCH_BUSY_RATE=$BENCH_BUSY_RATE" ;; esac)
EOF
}

IDLE_BEFORE=$(idle_pct)
step "sonde bench: workloads: $BENCH_WORKLOADS; $BENCH_RUNS pair(s) x $BENCH_SECONDS s; $NCPU CPUs, ${IDLE_BEFORE}% idle now"
[ "$IDLE_BEFORE" -ge 90 ] || echo "   note: the machine is busy (${IDLE_BEFORE}% idle): expect noisy numbers"
machine_md >"$META/machine.md"
printf 'workload\tmode\tpair\tsecs\treqs\trps\tp99_us\terrors\tserved\tsonde_count\tbpf_ns\tbpf_cnt\tsonde_ticks\tserver_ticks\trss_kb\tlost\tevents\tserver_cpu_busy\tload_cpu_busy\tothers_cpu\tforeign\n' >"$RESULTS"

for wl in $BENCH_WORKLOADS; do
	for fn in setup pairs load parse served describe targets teardown; do
		declare -F "wl_${wl}_$fn" >/dev/null || die "workload $wl has no wl_${wl}_$fn"
	done
	step "workload $wl"
	"wl_${wl}_setup"
	pairs=$("wl_${wl}_pairs")
	for ((p = 1; p <= pairs; p++)); do
		if ((p % 2)); then order="off on"; else order="on off"; fi
		if [ "$BENCH_BPF_STATS" = 1 ]; then
			if ((p % 2)); then order="$order stats"; else order="stats $order"; fi
		fi
		for mode in $order; do
			bench_run "$wl" "$mode" "$p"
		done
	done
	"wl_${wl}_describe" >"$META/$wl.describe.md"
	if declare -F "wl_${wl}_labels" >/dev/null; then "wl_${wl}_labels" >"$META/$wl.labels"; fi
	"wl_${wl}_targets" >"$META/$wl.targets"
	"wl_${wl}_teardown"
done
nginx_down
[ -z "${RUNNER_PID:-}" ] || lib_stop "$RUNNER_PID" "$(lib_starttime "$RUNNER_PID")" TERM 3

step "results"
rc=0
"$PYTHON" "$BENCH_DIR/report.py" --results "$RESULTS" --meta "$META" --workloads "$BENCH_WORKLOADS" \
	--clk-tck "$(getconf CLK_TCK)" --doc "$BENCH_DOC" --others-max "$BENCH_OTHERS_MAX" || rc=$?
case $rc in
0) ;;
3) echo "   note: at least one target was missed"; [ "$BENCH_STRICT" = 1 ] && exit 1 ;;
*) die "report.py failed ($rc)" ;;
esac
[ "$BENCH_DOC" = - ] || echo "   written to ${BENCH_DOC#"$ROOT"/}"
exit 0
