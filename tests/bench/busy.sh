#!/bin/bash
# make bench, node-wide: what sonde --all costs the processes it does not observe.
# BUSY_PROCS (200) unrelated processes write(2) one byte to /dev/null in a loop for
# BUSY_SECONDS (5) each run (tests/bench/busy.c), on every CPU, while nginx (the one
# service) sits idle. Their total writes per second are compared, in one invocation:
#   off        no sonde
#   all_one    sonde --all --match-comm '^nginx$': only nginx observed; the busy
#              processes pay the capture programs' early test (one bit per PID)
#   all_every  sonde --all: every process observed, the busy ones too
# BUSY_RUNS (3) rounds, the order rotating. ns per write = CPUs x 1e9 / writes per
# second (the machine is saturated); the BPF time per program run comes from
# kernel.bpf_stats_enabled. Prints a table; BENCH_DOC (docs/performance.md, "-" none)
# gets it between its "busy" markers.
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

BUSY_PROCS=${BUSY_PROCS:-200}
BUSY_SECONDS=${BUSY_SECONDS:-5}
BUSY_RUNS=${BUSY_RUNS:-3}
BENCH_DOC=${BENCH_DOC:-$ROOT/docs/performance.md}
NCPU=$(nproc)

cc -O2 -o "$LIB_TMP/busy" "$BENCH_DIR/busy.c" || die "cannot build busy.c"
NGINX_MIN_WORKERS=1
start_nginx "$BENCH_DIR/nginx.conf.in"
sysctl -qw kernel.bpf_stats_enabled=1

# One run: "writes_per_s bpf_ns_per_run bpf_runs_per_write" under MODE.
run() {
	local mode=$1 i total=0 args=() before after
	case $mode in
	all_one) args=(--all --match-comm '^nginx$') ;;
	all_every) args=(--all --max-services 5000) ;;
	esac
	if [ "$mode" != off ]; then
		SONDE_PORT=
		start_sonde "${args[@]}"
		sleep 1
		before=$(bpftool -j prog show 2>/dev/null | "$PYTHON" "$BENCH_DIR/probe.py" bpf "$SONDE_PID" |
			awk '{ t += $3; n += $4 } END { print t + 0, n + 0 }')
	fi
	local pids=()
	for ((i = 0; i < BUSY_PROCS; i++)); do
		"$LIB_TMP/busy" "$BUSY_SECONDS" >"$LIB_TMP/busy.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((i = 0; i < BUSY_PROCS; i++)); do total=$((total + $(cat "$LIB_TMP/busy.$i"))); done
	local bpf="- -"
	if [ "$mode" != off ]; then
		after=$(bpftool -j prog show 2>/dev/null | "$PYTHON" "$BENCH_DIR/probe.py" bpf "$SONDE_PID" |
			awk '{ t += $3; n += $4 } END { print t + 0, n + 0 }')
		bpf=$(awk -v b="$before" -v a="$after" -v w="$total" 'BEGIN {
			split(b, x, " "); split(a, y, " "); n = y[2] - x[2]; t = y[1] - x[1]
			printf "%.0f %.2f", n ? t / n : 0, w ? n / w : 0 }')
		stop_sonde
	fi
	echo "$(awk -v t="$total" -v s="$BUSY_SECONDS" 'BEGIN { printf "%.0f", t / s }') $bpf"
}

modes=(off all_one all_every)
for ((r = 0; r < BUSY_RUNS; r++)); do
	for ((k = 0; k < 3; k++)); do
		m=${modes[$(((k + r) % 3))]}
		echo "$m $(run "$m")" | tee -a "$LIB_TMP/busy.tsv"
	done
done
table=$(awk -v ncpu="$NCPU" -v procs="$BUSY_PROCS" '
	{ w[$1] += $2; n[$1]++; if ($3 != "-") { b[$1] += $3; r[$1] += $4 } }
	END {
		off = w["off"] / n["off"]
		printf "| sonde | writes/s (%d processes) | ratio to none | ns per write | added ns per write | BPF ns per program run | program runs per write |\n", procs
		printf "|---|---|---|---|---|---|---|\n"
		split("off all_one all_every", order, " ")
		name["off"] = "none"; name["all_one"] = "`--all --match-comm ^nginx$` (not observed)"; name["all_every"] = "`--all` (observed)"
		for (i = 1; i <= 3; i++) {
			m = order[i]; v = w[m] / n[m]; ns = ncpu * 1e9 / v
			printf "| %s | %.0f | %.3f | %.0f | %s | %s | %s |\n", name[m], v, v / off, ns,
				m == "off" ? "" : sprintf("%.0f", ns - ncpu * 1e9 / off),
				m == "off" ? "" : sprintf("%.0f", b[m] / n[m]), m == "off" ? "" : sprintf("%.2f", r[m] / n[m])
		}
	}' "$LIB_TMP/busy.tsv")
echo
echo "$table"
if [ "$BENCH_DOC" != - ] && grep -q '<!-- busy:begin -->' "$BENCH_DOC"; then
	"$PYTHON" - "$BENCH_DOC" "$table" "$BUSY_RUNS" "$BUSY_SECONDS" <<'PY'
import re, sys, datetime
doc, table, runs, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s = open(doc).read()
body = "Measured %s, %s rounds of %s s (tests/bench/busy.sh):\n\n%s\n" % (
    datetime.date.today().isoformat(), runs, secs, table)
s = re.sub(r"(<!-- busy:begin -->\n).*?(<!-- busy:end -->)", lambda m: m[1] + body + m[2], s, flags=re.S)
open(doc, "w").write(s)
PY
fi
