#!/bin/bash
# The programs older kernels get, forced here on this one:
# - SONDE_BPF_COMPAT=1: kernels before 6.2 (capture_compat.bpf.o: no bpf_rdonly_cast kfunc;
#   the data exits ask a helper for the user registers), chosen at load when the kernel's
#   BTF lacks the kfunc;
# - SONDE_BPF_COMPAT=noloop: kernels before 5.17 (the same, and no bpf_loop: syscalls
#   larger than the capture are walked in a bounded loop; injection and rate limits off,
#   said in one line), chosen when the kernel has no bpf_loop helper.
# Each time sonde says so in one line, and nginx (plain syscalls, keep-alive and new
# connections) and pipelining Redis clients (writev/read; one whose writes are larger than
# the capture, walked) are counted exactly.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_redis
base=http://127.0.0.1:$NGINX_PORT
h=http_server_requests_seconds_count

# run_sets NAME PID DESC: let gated client NAME$mode run; every SET it made counted (service NAME).
run_sets() {
	local set0 served
	set0=$(redis_calls set)
	open_gate "$1$mode"
	wait "$2" || fail "$3 failed: $(cat "$LIB_TMP/$1$mode.out")"
	served=$(($(redis_calls set) - set0))
	assert_metric "$3: every SET counted" \
		"redis_commands_seconds_count{service=\"$1\",command=\"SET\",outcome=\"SUCCESS\"}" "$served"
}

for mode in 1 noloop; do
	step "SONDE_BPF_COMPAT=$mode"
	export SONDE_BPF_COMPAT=$mode
	start_gated "bench$mode" redis-benchmark -p "$REDIS_PORT" -c 2 -n 20000 -P 16 -t set -q
	bench_pid=$GATED_PID
	# 6 SETs of 1,000 bytes per write: 6 KiB, past the capture, walked (24 messages).
	start_gated "big$mode" redis-benchmark -p "$REDIS_PORT" -c 1 -n 3000 -P 6 -d 1000 -t set -q
	big_pid=$GATED_PID
	extra=()
	[ "$mode" = noloop ] && extra=(--inject-traceparent)
	SONDE_PORT=
	start_sonde --pid "$NGINX_PID=nginx" --pid "$bench_pid=bench" --pid "$big_pid=big" "${extra[@]}"
	unset SONDE_BPF_COMPAT
	assert_true "sonde says which programs it loaded" \
		grep -q "SONDE_BPF_COMPAT=$mode: the data programs find the user registers by helper" "$SONDE_LOG"
	if [ "$mode" = noloop ]; then
		assert_true "... and that it walks large syscalls less deep" \
			grep -q "SONDE_BPF_COMPAT=noloop: syscalls larger than the capture are walked 32 messages deep" "$SONDE_LOG"
		assert_true "... and that injection is off" \
			grep -q "the kernel has no bpf_loop (before 5.17): --inject-traceparent off" "$SONDE_LOG"
	fi

	n=$(seq 1 300 | sed "s|^|$base/api/products/|" | send_requests close 4 200)
	for ((i = 0; i < 200; i++)); do echo "url = \"$base/api/products/$i\""; echo 'output = "/dev/null"'; done >"$LIB_TMP/keep.cfg"
	k=$(curl -s -w '%{http_code}\n' -K "$LIB_TMP/keep.cfg" | grep -c '^200$')
	f=$(yes "$base/api/fail" | head -n 50 | send_requests close 4 500)
	assert_eq "curl's answers: 300 GET on new connections, 200 kept alive, 50 failing" \
		"300 200 50" "$n $k $f"
	assert_metric "GET /api/products/{id} 200" \
		"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" 500
	assert_metric "GET /api/fail 500" \
		"$h{service=\"nginx\",method=\"GET\",uri=\"/api/fail\",status=\"500\",outcome=\"SERVER_ERROR\"}" 50

	run_sets bench "$bench_pid" "redis-benchmark -P 16"
	run_sets big "$big_pid" "redis-benchmark -P 6 -d 1000 (6 KiB writes, walked)"
	assert_gt "... walked by the kernel" 0 "$(metric sonde_events_walked_total)"
	assert_eq "... and no framing lost" 0 \
		"$(metric 'sonde_unparsed_total{protocol="redis",reason="framing_lost"}')"
	stop_sonde
done
finish
