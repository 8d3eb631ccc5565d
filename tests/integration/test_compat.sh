#!/bin/bash
# The programs for kernels before 6.2 (capture_compat.bpf.o: no bpf_rdonly_cast
# kfunc; the data exits ask a helper for the user registers), chosen at load
# when the kernel's BTF lacks the kfunc and forced here by SONDE_BPF_COMPAT=1:
# sonde says so in one line, and nginx (plain syscalls, keep-alive and new
# connections) and a pipelining Redis client (writev/read) are counted exactly.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

export SONDE_BPF_COMPAT=1
start_nginx "$LIB_DIR/nginx.conf.in"
start_redis
start_gated bench redis-benchmark -p "$REDIS_PORT" -c 2 -n 20000 -P 16 -t set -q
bench_pid=$GATED_PID
start_sonde --pid "$NGINX_PID=nginx" --pid "$bench_pid=bench"
unset SONDE_BPF_COMPAT
if grep -q 'SONDE_BPF_COMPAT=1: the data programs find the user registers by helper' "$SONDE_LOG"; then
	pass "sonde says which programs it loaded"
else
	fail "no compat line in sonde's log: $(head -3 "$SONDE_LOG")"
fi
base=http://127.0.0.1:$NGINX_PORT
h=http_server_requests_seconds_count

step "300 GET /api/products/<i> on new connections, 200 kept alive, 50 GET /api/fail"
n=$(seq 1 300 | sed "s|^|$base/api/products/|" | send_requests close 4 200)
for ((i = 0; i < 200; i++)); do echo "url = \"$base/api/products/$i\""; echo 'output = "/dev/null"'; done >"$LIB_TMP/keep.cfg"
k=$(curl -s -w '%{http_code}\n' -K "$LIB_TMP/keep.cfg" | grep -c '^200$')
f=$(yes "$base/api/fail" | head -n 50 | send_requests close 4 500)
assert_eq "curl's answers" "300 200 50" "$n $k $f"
assert_metric "GET /api/products/{id} 200" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" 500
assert_metric "GET /api/fail 500" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/fail\",status=\"500\",outcome=\"SERVER_ERROR\"}" 50

step "redis-benchmark -P 16: every SET"
set0=$(redis_calls set)
open_gate bench
wait "$bench_pid" || fail "redis-benchmark failed: $(cat "$LIB_TMP/bench.out")"
served=$(($(redis_calls set) - set0))
assert_metric "every SET counted" \
	'redis_commands_seconds_count{service="bench",command="SET",outcome="SUCCESS"}' "$served"
finish
