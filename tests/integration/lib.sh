# shellcheck shell=bash
# tests/integration/lib.sh: shared helpers for sonde's integration tests,
# `make demo` and `make bench`. Source it from bash:
#
#	. "$(dirname "$0")/lib.sh"
#
# Sourcing creates a private temp dir ($LIB_TMP) and installs a trap that, on
# exit (normal, failure, SIGINT or SIGTERM), stops everything started through
# these helpers, by recorded PID only, and removes the temp dir. Set
# SONDE_IT_KEEP=1 to keep the temp dir (logs, configs) for a post-mortem.
# Everything listens on 127.0.0.1 only. Every wait is bounded in count and time.
# Needs root for sonde; nginx, curl, wrk, ss, bpftool, /usr/bin/python3, and
# prometheus for start_prometheus.
#
# Variables it sets: LIB_DIR (this directory), SONDE_ROOT (the repository),
# LIB_TMP, PYTHON (/usr/bin/python3). Knobs (environment): SONDE_BIN (default
# build/sonde), SONDE_IT_VERBOSE=1 (sonde -v), SONDE_IT_FLUSH_S (how long
# wait_metric waits, default 2), SONDE_IT_KEEP=1, SONDE_LIB_NO_INIT=1 (source
# without the temp dir and trap: call lib_init yourself).
# Note: die in a $(...) subshell only ends that subshell.
#
# Processes
#   free_port                  print a TCP port nothing uses (no python)
#   start_upstream [DELAY_MS]  python http.server upstream; sets UPSTREAM_PORT,
#                              UPSTREAM_PID. GET */slow sleeps DELAY_MS
#                              (default 50) then 200; GET /healthz 200; else 404.
#   start_nginx TEMPLATE       nginx from a template (@PREFIX@ @PORT@
#                              @UPSTREAM_PORT@), own prefix, NGINX_MIN_WORKERS
#                              (2) workers ready, NGINX_PIN=(cmd) prefix;
#                              sets NGINX_PORT NGINX_PID NGINX_PREFIX NGINX_CONF
#   nginx_cmd ARGS...          run `nginx` against that instance (-s reload ...)
#   nginx_workers              PIDs of the current workers, one per line
#   nginx_requests             nginx's stub_status request counter (includes
#                              the status request itself)
#   start_sonde ARGS...        build/sonde --listen 127.0.0.1:$SONDE_PORT ARGS in
#                              the background (SONDE_PORT: preset, or a free
#                              one), log in $SONDE_LOG, sets SONDE_PID; returns
#                              once /readyz is 200 (<= 20 s), else dies with
#                              the log
#   stop_sonde [SIGNAL]        signal sonde (default TERM), wait <= 5 s (then
#                              KILL); sets SONDE_RC to its exit status
#   start_prometheus HOST:PORT real Prometheus scraping HOST:PORT/metrics every
#                              1 s; sets PROM_PORT PROM_PID
#   prom_query EXPR            value of an instant query (first series), or ""
#   track_pid KIND PID         have the cleanup trap stop PID (KIND: sonde,
#                              nginx, prometheus, or anything else)
#
# Traffic
#   send_requests MODE PAR CODE < URLS   curl every URL read from stdin
#                              (MODE: close = new connection per request,
#                              keepalive = connections reused), PAR curl
#                              processes at once; prints how many answered
#                              CODE (distribution of others on stderr);
#                              URLs per curl: ceil(N/PAR), at most SEND_CHUNK
#                              (default 250)
#   run_wrk OUTFILE ARGS...    wrk ARGS > OUTFILE (bounded by timeout)
#   wrk_requests FILE          N from "N requests in ..."
#   wrk_socket_errors FILE     connect+read+write+timeout errors (0 if none)
#   wrk_non2xx FILE            "Non-2xx or 3xx responses" (0 if none)
#
# Metrics (sonde's /metrics on 127.0.0.1:$SONDE_PORT)
#   metrics_fetch [FILE]       save /metrics (default $LIB_TMP/metrics.txt)
#   metric SELECTOR            value of the one sample whose name and label set
#                              are exactly SELECTOR's (label order does not
#                              matter), e.g. 'x_count{method="GET",uri="/a"}';
#                              prints nothing and returns 1 if absent
#   metric_sum SELECTOR        sum over samples with that name whose labels
#                              include SELECTOR's (subset match); 1 if none
#   wait_metric SELECTOR EXPECTED [TIMEOUT_S]
#                              poll `metric` until it equals EXPECTED (default
#                              timeout $SONDE_IT_FLUSH_S = 2 s), then re-read it
#                              once after 0.5 s (it must not move); prints the
#                              last value seen
#
# BPF
#   bpf_progs_of_pid PID       "ID NAME" of loaded BPF programs held by PID
#   bpf_prog_alive ID          true while program ID is loaded
#   bpf_progs_named PREFIX     "ID NAME" of loaded programs named PREFIX*
#   bpf_all_gone ID...         none of these programs is loaded any more
#
# Assertions (failures are counted, the test goes on; `finish` decides)
#   step MSG                   print a progress line
#   assert_eq DESC EXPECTED ACTUAL       numeric when both are numbers
#   assert_gt DESC LIMIT ACTUAL          ACTUAL > LIMIT (numeric)
#   assert_metric DESC SELECTOR EXPECTED wait_metric + assert_eq; on failure
#                              shows the family's lines from /metrics
#   assert_true DESC CMD...    CMD exits 0
#   fail DESC / pass DESC      record a failure / a success
#   die MSG                    fatal setup error: report and exit 1
#   finish                     exit 0 if no assertion failed, else 1
#   wait_until TIMEOUT_S CMD...  run CMD every 0.1 s until it succeeds
#   lib_alive PID [START] / lib_dead PID [START]   process state (zombie = dead)
#   lib_http_ok URL            URL answers 200 within 1 s

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NGINX_PIN=()
SONDE_ROOT=$(cd "$LIB_DIR/../.." && pwd)
SONDE_BIN=${SONDE_BIN:-$SONDE_ROOT/build/sonde}
PYTHON=/usr/bin/python3
SONDE_IT_FLUSH_S=${SONDE_IT_FLUSH_S:-2}
LIB_NAME=$(basename "$0" .sh)
LIB_FAILS=0
LIB_PASSES=0

# ---------------------------------------------------------------- reporting

step() { printf "== [%3ds] %s\n" "$SECONDS" "$*"; }
pass() { LIB_PASSES=$((LIB_PASSES + 1)); printf '  ok    %s\n' "$*"; }
fail() { LIB_FAILS=$((LIB_FAILS + 1)); printf '  FAIL  %s\n' "$*"; }

die() {
	printf '  FATAL %s: %s\n' "$LIB_NAME" "$*"
	exit 1
}

finish() {
	if [ "$LIB_FAILS" -eq 0 ]; then
		printf '%s: all %d checks passed\n' "$LIB_NAME" "$LIB_PASSES"
		exit 0
	fi
	printf '%s: %d of %d checks failed\n' "$LIB_NAME" "$LIB_FAILS" $((LIB_FAILS + LIB_PASSES))
	exit 1
}

lib_is_num() { [[ $1 =~ ^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$ ]]; }

# Numeric comparison with awk: lib_cmp A OP B (OP: == > >= < <=).
lib_cmp() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
	a += 0; b += 0
	r = (op == "==") ? a == b : (op == ">") ? a > b : (op == ">=") ? a >= b : \
	    (op == "<") ? a < b : a <= b
	exit !r }'; }

assert_eq() {
	local desc=$1 want=$2 got=$3 ok=1
	if lib_is_num "$want" && lib_is_num "$got"; then
		lib_cmp "$got" == "$want" || ok=0
	else
		[ "$got" = "$want" ] || ok=0
	fi
	if [ $ok = 1 ]; then pass "$desc: $got"; else fail "$desc: expected ${want:-<empty>}, got ${got:-<absent>}"; fi
	[ $ok = 1 ]
}

assert_gt() {
	local desc=$1 limit=$2 got=$3
	if lib_is_num "$got" && lib_cmp "$got" '>' "$limit"; then
		pass "$desc: $got > $limit"
	else
		fail "$desc: expected > $limit, got ${got:-<absent>}"
		return 1
	fi
}

assert_true() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc (command failed: $*)"; return 1; fi
}

# wait_until TIMEOUT_S CMD...: 0 as soon as CMD succeeds, 1 after TIMEOUT_S.
wait_until() {
	# Odd local names: CMD may be a caller's function reading its own globals.
	local _wu_t=$1 _wu_i _wu_n
	shift
	_wu_n=$(awk -v t="$_wu_t" 'BEGIN { printf "%d", t * 10 + 1 }')
	for ((_wu_i = 0; _wu_i < _wu_n; _wu_i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- processes

# /proc start time of PID (field 22), empty if PID does not exist.
lib_starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	printf '%s\n' "${20}"
}

# Alive and not a zombie, and (if START is given) still the same process.
lib_alive() {
	local pid=$1 start=${2:-} s
	s=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	[ "$1" != Z ] && [ "$1" != X ] || return 1
	[ -z "$start" ] || [ "${20}" = "$start" ]
}

lib_dead() { ! lib_alive "$@"; }

track_pid() {
	local kind=$1 pid=$2 start
	start=$(lib_starttime "$pid") || return 0
	echo "$kind $pid $start" >>"$LIB_TMP/pids"
}

# lib_stop PID START SIG GRACE_S: signal a tracked process, KILL after GRACE_S.
lib_stop() {
	local pid=$1 start=$2 sig=$3 grace=$4
	lib_alive "$pid" "$start" || return 0
	kill "-$sig" "$pid" 2>/dev/null
	wait_until "$grace" lib_dead "$pid" "$start" && return 0
	printf '  note: pid %s ignored SIG%s for %ss, sending SIGKILL\n' "$pid" "$sig" "$grace"
	kill -KILL "$pid" 2>/dev/null
	wait_until 2 lib_dead "$pid" "$start"
}

# Children of PID as "PID START" lines.
lib_children() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c $(lib_starttime "$c")"
	done
}

lib_cleanup() {
	local rc=$? kind pid start order c cs
	trap - EXIT INT TERM
	if [ -f "$LIB_TMP/pids" ]; then
		# sonde first (it must detach while its targets still live), then
		# load generators and clients, then servers.
		for order in sonde other nginx upstream prometheus redis postgres; do
			while read -r -u 3 kind pid start; do
				case $order:$kind in
				sonde:sonde | nginx:nginx | upstream:upstream | prometheus:prometheus) ;;
				redis:redis | postgres:postgres) ;;
				other:sonde | other:nginx | other:upstream | other:prometheus) continue ;;
				other:redis | other:postgres) continue ;;
				other:*) ;;
				*) continue ;;
				esac
				lib_alive "$pid" "$start" || continue
				cs=$(lib_children "$pid")
				case $kind in
				sonde) lib_stop "$pid" "$start" TERM 5 ;;
				nginx) lib_stop "$pid" "$start" TERM 5 ;;
				postgres) lib_stop "$pid" "$start" INT 10 ;; # fast shutdown
				*) lib_stop "$pid" "$start" TERM 3 ;;
				esac
				# Children left behind (nginx workers, sonde's command).
				while read -r c start; do
					[ -n "$c" ] && lib_stop "$c" "$start" TERM 2
				done <<<"$cs"
			done 3<"$LIB_TMP/pids"
		done
	fi
	if [ "${SONDE_IT_KEEP:-0}" = 1 ]; then
		echo "  note: kept $LIB_TMP"
	else
		rm -rf "$LIB_TMP"
	fi
	exit "$rc"
}

lib_init() {
	LIB_TMP=$(mktemp -d "/tmp/sonde-it.${LIB_NAME}.XXXXXX") || { echo "mktemp failed" >&2; exit 1; }
	chmod 711 "$LIB_TMP" # nginx workers run as nobody
	trap lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Is TCP PORT bound on this host (any state, any address)?
lib_port_used() {
	ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q . && return 0
	return 1
}

lib_port_listening() {
	ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q .
}

# A port outside the kernel's ephemeral range (so no outgoing connection takes
# it meanwhile), unused now and not yet handed out by this process.
free_port() {
	local lo hi base span p i
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	if [ "$lo" -gt 11000 ]; then base=10000 span=$((lo - 10000)); else base=$((hi + 1)) span=$((65000 - hi)); fi
	for ((i = 0; i < 200; i++)); do
		p=$((base + (RANDOM * 32768 + RANDOM + $$) % span))
		grep -qx "$p" "$LIB_TMP/ports" 2>/dev/null && continue
		lib_port_used "$p" && continue
		echo "$p" >>"$LIB_TMP/ports" # a file: free_port runs in $(...)
		echo "$p"
		return 0
	done
	die "no free port found"
}

start_upstream() {
	local delay=${1:-50}
	UPSTREAM_PORT=$(free_port)
	cat >"$LIB_TMP/upstream.py" <<'EOF'
# Test upstream: GET */slow sleeps DELAY_MS then 200, /healthz 200, else 404.
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, delay = int(sys.argv[1]), int(sys.argv[2]) / 1000.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, for nginx's upstream pool
    disable_nagle_algorithm = True  # else headers+body cost a delayed ACK (40 ms)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.endswith("/slow"):
            time.sleep(delay)
            code, body = 200, b"slow\n"
        elif path == "/healthz":
            code, body = 200, b"ok\n"
        else:
            code, body = 404, b"not found\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
EOF
	"$PYTHON" "$LIB_TMP/upstream.py" "$UPSTREAM_PORT" "$delay" >"$LIB_TMP/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	track_pid upstream "$UPSTREAM_PID"
	if ! wait_until 10 lib_port_listening "$UPSTREAM_PORT"; then
		cat "$LIB_TMP/upstream.log"
		die "upstream did not listen on 127.0.0.1:$UPSTREAM_PORT"
	fi
}

nginx_cmd() {
	nginx -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_PREFIX/error.log" "$@"
}

nginx_workers() { pgrep -P "$NGINX_PID" 2>/dev/null; }

# nginx's own count of requests so far (stub_status at /nginx_status, which
# the template serves; the status request itself is included).
nginx_requests() {
	curl -s --max-time 5 "http://127.0.0.1:$NGINX_PORT/nginx_status" |
		awk 'NR == 3 && $3 ~ /^[0-9]+$/ { print $3; f = 1 } END { exit !f }'
}

lib_nginx_ready() {
	lib_port_listening "$NGINX_PORT" && [ "$(nginx_workers | wc -l)" -ge "${NGINX_MIN_WORKERS:-2}" ]
}

# start_nginx TEMPLATE: nginx in the foreground of a background job (so $! is
# the master), its own prefix, pid and log files. NGINX_MIN_WORKERS (default 2)
# workers must be up; NGINX_PIN (an array, e.g. (taskset -c 0)) prefixes the
# command.
start_nginx() {
	local tmpl=$1 up=${UPSTREAM_PORT:-}
	[ -r "$tmpl" ] || die "no nginx template $tmpl"
	NGINX_PORT=$(free_port)
	[ -n "$up" ] || up=$(free_port) # nothing listens there: fine unless used
	NGINX_PREFIX=$(mktemp -d "$LIB_TMP/nginx.XXXXXX")
	chmod 711 "$NGINX_PREFIX"
	mkdir -p "$NGINX_PREFIX/tmp"
	NGINX_CONF=$NGINX_PREFIX/nginx.conf
	sed -e "s|@PREFIX@|$NGINX_PREFIX|g" -e "s|@PORT@|$NGINX_PORT|g" \
		-e "s|@UPSTREAM_PORT@|$up|g" "$tmpl" >"$NGINX_CONF"
	nginx_cmd -t -q || die "nginx -t rejected $NGINX_CONF"
	# Not through nginx_cmd: a backgrounded function would be a subshell.
	"${NGINX_PIN[@]}" nginx -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_PREFIX/error.log" \
		-g 'daemon off;' >"$NGINX_PREFIX/stdout.log" 2>&1 &
	NGINX_PID=$!
	track_pid nginx "$NGINX_PID"
	if ! wait_until 10 lib_nginx_ready; then
		cat "$NGINX_PREFIX/error.log" "$NGINX_PREFIX/stdout.log" 2>/dev/null
		die "nginx did not come up on 127.0.0.1:$NGINX_PORT"
	fi
}

lib_sonde_ready() {
	local code
	code=$(curl -s -o "$LIB_TMP/readyz.out" -w '%{http_code}' --max-time 1 \
		"http://127.0.0.1:$SONDE_PORT/readyz" 2>/dev/null)
	[ "$code" = 200 ]
}

# start_sonde ARGS...: sets SONDE_PID SONDE_PORT SONDE_LOG. Set SONDE_PORT
# beforehand to choose the port, SONDE_IT_VERBOSE=1 to add -v.
start_sonde() {
	local i verbose=()
	[ -x "$SONDE_BIN" ] || die "$SONDE_BIN not built"
	[ "${SONDE_IT_VERBOSE:-0}" = 1 ] && verbose=(-v)
	SONDE_PORT=${SONDE_PORT:-$(free_port)}
	SONDE_LOG=$LIB_TMP/sonde.log
	"$SONDE_BIN" --listen "127.0.0.1:$SONDE_PORT" "${verbose[@]}" "$@" >"$SONDE_LOG" 2>&1 &
	SONDE_PID=$!
	track_pid sonde "$SONDE_PID"
	for ((i = 0; i < 200; i++)); do # 200 x 0.1 s = 20 s
		lib_sonde_ready && return 0
		if ! lib_alive "$SONDE_PID"; then
			wait "$SONDE_PID"
			echo "--- sonde exited with status $?; its log:"
			cat "$SONDE_LOG"
			die "sonde exited before becoming ready (args: $*)"
		fi
		sleep 0.1
	done
	echo "--- last /readyz answer: $(cat "$LIB_TMP/readyz.out" 2>/dev/null)"
	echo "--- sonde log:"
	cat "$SONDE_LOG"
	die "sonde not ready after 20 s (args: $*)"
}

stop_sonde() {
	local sig=${1:-TERM}
	SONDE_RC=
	kill "-$sig" "$SONDE_PID" 2>/dev/null
	if ! wait_until 5 lib_dead "$SONDE_PID"; then
		echo "  note: sonde still alive 5 s after SIG$sig, sending SIGKILL"
		kill -KILL "$SONDE_PID" 2>/dev/null
		wait_until 2 lib_dead "$SONDE_PID"
	fi
	wait "$SONDE_PID" 2>/dev/null
	# shellcheck disable=SC2034 # for the caller
	SONDE_RC=$?
}

# Does URL answer 200 (within 1 s)?
lib_http_ok() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null)" = 200 ]
}

start_prometheus() {
	local target=$1 dir=$LIB_TMP/prometheus
	mkdir -p "$dir/data"
	PROM_PORT=$(free_port)
	cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sonde
    static_configs:
      - targets: ["$target"]
EOF
	# shellcheck disable=SC2086 # PROM_ARGS: extra flags, split on purpose
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn ${PROM_ARGS:-} \
		>"$dir/prometheus.log" 2>&1 &
	PROM_PID=$!
	track_pid prometheus "$PROM_PID"
	if ! wait_until 30 lib_http_ok "http://127.0.0.1:$PROM_PORT/-/ready"; then
		cat "$dir/prometheus.log"
		die "prometheus not ready on 127.0.0.1:$PROM_PORT"
	fi
}

prom_query() {
	curl -s --max-time 5 -G --data-urlencode "query=$1" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" 2>/dev/null |
		"$PYTHON" -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}

# ------------------------------------------------------------------ traffic

send_requests() {
	local mode=$1 par=$2 code=$3 dir hdr=() n=0 f
	dir=$(mktemp -d "$LIB_TMP/req.XXXXXX")
	[ "$mode" = close ] && hdr=(-H 'Connection: close')
	# Each curl process gets a config file of up to $chunk URLs.
	grep . >"$dir/urls"
	# Each curl process gets a config file of ceil(N / PAR) URLs, at most
	# $SEND_CHUNK (default 250): PAR processes run at once.
	awk -v dir="$dir" -v par="$par" -v max="${SEND_CHUNK:-250}" '
		NR == FNR { total++; next }
		FNR == 1 { chunk = int((total + par - 1) / par); if (chunk > max) chunk = max }
		{
			f = sprintf("%s/%05d.cfg", dir, int((FNR - 1) / chunk))
			printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 > f
		}' "$dir/urls" "$dir/urls"
	for f in "$dir"/*.cfg; do [ -e "$f" ] && n=$((n + 1)); done
	[ "$n" -gt 0 ] || { echo 0; return 0; }
	# shellcheck disable=SC2016
	printf '%s\n' "$dir"/*.cfg | xargs -P "$par" -I{} sh -c \
		'timeout -k 2 60 curl -g -s --connect-timeout 5 --max-time 10 -w "%{http_code}\n" "$@" -K "$0" > "$0.out" 2>/dev/null' \
		{} "${hdr[@]}"
	cat "$dir"/*.out | sort | uniq -c | awk -v code="$code" '
		$2 == code { ok = $1 } $2 != code { printf "  note: %d responses with status %s\n", $1, $2 > "/dev/stderr" }
		END { print ok + 0 }'
}

run_wrk() {
	local out=$1
	shift
	timeout -k 5 60 wrk "$@" >"$out" 2>&1
}

wrk_requests() { awk '/ requests in / { print $1; exit }' "$1"; }
wrk_socket_errors() {
	awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10; f = 1 } END { if (!f) print 0 }' "$1"
}
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ { print $5; f = 1 } END { if (!f) print 0 }' "$1"; }

# ------------------------------------------------------------------ metrics

metrics_fetch() {
	local out=${1:-$LIB_TMP/metrics.txt}
	curl -sf --max-time 5 -o "$out" "http://127.0.0.1:$SONDE_PORT/metrics"
}

# Parse text-format samples and match SELECTOR. mode "exact": same name and
# same label set; mode "subset": same name, sample has every selector label.
# Label values are compared in their escaped text form. Prints the value (the
# sum for subset) or nothing, exit 1 if no sample matched.
lib_metric_match() {
	awk -v sel="$1" -v mode="$2" '
	# Split "name{a=\"x\",b=\"y\"} rest" into P_NAME, P_N, P_K[], P_V[], P_REST.
	function parse(s,   i, c, k, v, st) {
		P_N = 0; P_REST = ""
		i = index(s, "{")
		if (i == 0) {
			split(s, f, /[ \t]+/); P_NAME = f[1]
			P_REST = substr(s, length(P_NAME) + 1); return 1
		}
		P_NAME = substr(s, 1, i - 1)
		if (P_NAME ~ /[ \t]/) return 0
		st = 0; k = ""; v = ""
		for (i = i + 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (st == 0) {              # label name or end
				if (c == "}") { P_REST = substr(s, i + 1); return 1 }
				if (c == ",") continue
				if (c == "=") { st = 1; continue }
				if (c != " ") k = k c
			} else if (st == 1) {       # opening quote
				if (c == "\"") { st = 2; v = "" } else if (c != " ") return 0
			} else {                    # value
				if (c == "\\") { v = v c substr(s, i + 1, 1); i++; continue }
				if (c == "\"") { P_N++; P_K[P_N] = k; P_V[P_N] = v; k = ""; st = 0; continue }
				v = v c
			}
		}
		return 0
	}
	# Bucket bounds compare as numbers ("0.1" matches "0.10000000000000001").
	function same(k, a, b) {
		if (k != "le" || a == b) return a == b
		if (a ~ /Inf/ || b ~ /Inf/) return 0
		return sprintf("%.10g", a + 0) == sprintf("%.10g", b + 0)
	}
	BEGIN {
		if (!parse(sel)) { print "bad selector: " sel > "/dev/stderr"; exit 2 }
		name = P_NAME; n = P_N
		for (j = 1; j <= n; j++) want[P_K[j]] = P_V[j]
		found = 0; sum = 0
	}
	/^#/ || NF == 0 { next }
	index($0, name) != 1 { next }
	{
		if (!parse($0) || P_NAME != name) next
		if (mode == "exact" && P_N != n) next
		ok = 1
		for (j = 1; j <= P_N; j++) have[P_K[j]] = P_V[j]
		for (k in want) if (!(k in have) || !same(k, have[k], want[k])) { ok = 0; break }
		for (k in have) delete have[k]
		if (!ok) next
		split(P_REST, f, /[ \t]+/)
		val = (f[1] == "") ? f[2] : f[1]
		found++
		if (mode == "exact") { print val; exit }
		sum += val
	}
	END {
		if (mode == "exact") exit(found ? 0 : 1)
		if (!found) exit 1
		printf "%.17g\n", sum
	}'
}

metric() {
	curl -sf --max-time 5 "http://127.0.0.1:$SONDE_PORT/metrics" | lib_metric_match "$1" exact
}

metric_sum() {
	curl -sf --max-time 5 "http://127.0.0.1:$SONDE_PORT/metrics" | lib_metric_match "$1" subset
}

wait_metric() {
	local sel=$1 want=$2 t=${3:-$SONDE_IT_FLUSH_S} v="" i n
	n=$(awk -v t="$t" 'BEGIN { printf "%d", t * 10 + 1 }')
	for ((i = 0; i < n; i++)); do
		v=$(metric "$sel")
		if lib_is_num "$v" && lib_cmp "$v" == "$want"; then
			sleep 0.5
			v=$(metric "$sel")
			break
		fi
		sleep 0.1
	done
	printf '%s\n' "$v"
}

assert_metric() {
	local desc=$1 sel=$2 want=$3 got fam
	got=$(wait_metric "$sel" "$want")
	if ! assert_eq "$desc" "$want" "$got"; then
		fam=${sel%%\{*}
		fam=${fam%_count}; fam=${fam%_bucket}; fam=${fam%_sum}
		echo "        wanted: $sel"
		echo "        /metrics lines of $fam:"
		metrics_fetch "$LIB_TMP/metrics.fail.txt"
		grep "^$fam" "$LIB_TMP/metrics.fail.txt" | grep -v '_bucket' | head -40 | sed 's/^/          /' |
			grep . || echo "          (none)"
		echo "        sonde's own counters (losses, gaps, parse errors):"
		grep -E '^sonde_(events|unparsed|parse_errors|connections|trace_links)' "$LIB_TMP/metrics.fail.txt" |
			sed 's/^/          /' | grep . || echo "          (none)"
		return 1
	fi
}

# ---------------------------------------------------------------------- BPF

lib_bpf_json() { bpftool -j prog show 2>/dev/null; }

# From the prog_id lines of PID's fdinfo (program and link fds): exact even
# when bpftool cannot show pids, and when other BPF users run meanwhile.
bpf_progs_of_pid() {
	local ids
	ids=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un)
	[ -n "$ids" ] || return 0
	# shellcheck disable=SC2086
	lib_bpf_json | "$PYTHON" -c '
import json, sys
want = set(int(x) for x in sys.argv[1:])
names = {p["id"]: p.get("name", "?") for p in json.load(sys.stdin) or []}
for i in sorted(want):
    print(i, names.get(i, "?"))' $ids
}

bpf_progs_named() {
	lib_bpf_json | "$PYTHON" -c '
import json, sys
for p in json.load(sys.stdin) or []:
    if p.get("name", "").startswith(sys.argv[1]):
        print(p["id"], p["name"])' "$1"
}

bpf_prog_alive() { bpftool prog show id "$1" >/dev/null 2>&1; }

# Are none of the program IDs given still loaded?
bpf_all_gone() {
	local id
	for id in "$@"; do bpf_prog_alive "$id" && return 1; done
	return 0
}

# -------------------------------------------------------------------- init

[ "${SONDE_LIB_NO_INIT:-0}" = 1 ] || lib_init

# ---------------------------------------------------------------- Redis, PostgreSQL, clients

# start_redis: redis-server on 127.0.0.1:$REDIS_PORT and on the Unix socket
# $REDIS_SOCK, no persistence; sets REDIS_PID.
# The npm modules of tests/integration/node (scripts/deps.sh test installs them):
# NODE_MODULES exported for the scripts, MOD checked; zipkin_validate FILES...
# checks Zipkin JSON against the spec (ajv).
need_node_modules() {
	NODE_MODULES=$SONDE_ROOT/build/node/node_modules
	[ -d "$NODE_MODULES/$1" ] || die "Node.js test modules missing: run scripts/deps.sh test"
	export NODE_MODULES
}
zipkin_validate() { node "$LIB_DIR/node/zipkin_validate.js" "$@"; }

# A Zipkin-like receiver (zipkin_receiver.py [ARGS]) on Z_PORT, its bodies in ZDIR.
start_zipkin_receiver() {
	ZDIR=$LIB_TMP/zipkin
	mkdir -p "$ZDIR"
	Z_PORT=$(free_port)
	"$PYTHON" "$LIB_DIR/zipkin_receiver.py" "$Z_PORT" "$ZDIR" "$@" >"$LIB_TMP/zipkin.log" 2>&1 &
	track_pid zipkin $!
	wait_until 10 grep -q ready "$LIB_TMP/zipkin.log" || die "zipkin receiver did not start"
}

start_redis() {
	REDIS_PORT=$(free_port)
	REDIS_SOCK=$LIB_TMP/redis.sock
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --unixsocket "$REDIS_SOCK" \
		--unixsocketperm 777 --save '' --appendonly no --daemonize no --dir "$LIB_TMP" \
		>"$LIB_TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	track_pid redis "$REDIS_PID"
	wait_until 10 lib_redis_ready || die "redis-server did not start: $(tail -5 "$LIB_TMP/redis.log")"
}

lib_redis_ready() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# redis_calls CMD: the server's own count of CMD (INFO commandstats), 0 if none.
redis_calls() {
	redis-cli -p "$REDIS_PORT" info commandstats |
		awk -F'[:=,]' -v c="cmdstat_$1" '$1 == c { print $3; f = 1 } END { if (!f) print 0 }'
}

# start_postgres: a cluster made by initdb (as user postgres, trust auth) in
# $PG_DIR, serving 127.0.0.1:$PG_PORT and a Unix socket in $PG_DIR; sets
# PG_PID and PG_BIN. Stopped with SIGINT (fast shutdown) by the cleanup.
# PG_OPTS: more server options ("-c shared_preload_libraries=pg_stat_statements").
start_postgres() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	[ -x "$PG_BIN/postgres" ] || die "no PostgreSQL server installed"
	PG_DIR=$LIB_TMP/pg
	mkdir -p "$PG_DIR" && chown postgres: "$PG_DIR" && chmod 700 "$PG_DIR"
	setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_BIN/initdb" -D "$PG_DIR/data" \
		-A trust -U postgres >"$LIB_TMP/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$LIB_TMP/initdb.log")"
	PG_PORT=$(free_port)
	setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_BIN/postgres" -D "$PG_DIR/data" \
		-p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 -c fsync=off \
		-c synchronous_commit=off -c full_page_writes=off ${PG_OPTS:-} >"$LIB_TMP/postgres.log" 2>&1 &
	PG_PID=$!
	track_pid postgres "$PG_PID"
	wait_until 20 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
		die "postgres did not start: $(tail -5 "$LIB_TMP/postgres.log")"
}

# start_mock_broker --topic NAME:PARTITIONS...: librdkafka's mock cluster
# (build/mock_broker) with those topics; sets KAFKA_BOOTSTRAP.
start_mock_broker() {
	local mock=$SONDE_ROOT/build/mock_broker
	[ -x "$mock" ] || die "$mock not built (make build/mock_broker)"
	"$mock" "$@" --ready-file "$LIB_TMP/bootstrap" >"$LIB_TMP/mock.out" 2>&1 &
	track_pid mock $!
	wait_until 10 test -s "$LIB_TMP/bootstrap" || die "mock broker did not start: $(cat "$LIB_TMP/mock.out")"
	KAFKA_BOOTSTRAP=$(cat "$LIB_TMP/bootstrap")
}

# start_gated NAME CMD...: start CMD, held until open_gate NAME, so that sonde
# can be attached to its PID before it does anything (exec keeps the PID).
# Sets GATED_PID; its output goes to $LIB_TMP/NAME.out.
start_gated() {
	local name=$1
	shift
	bash -c 'while [ ! -e "$0" ]; do sleep 0.02; done; exec "$@"' "$LIB_TMP/go.$name" "$@" \
		>"$LIB_TMP/$name.out" 2>&1 &
	GATED_PID=$!
	track_pid client "$GATED_PID"
}

open_gate() { touch "$LIB_TMP/go.$1"; }
