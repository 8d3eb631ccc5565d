#!/bin/bash
# SIGKILL sonde under load: the observed service never notices, and the
# kernel drops every BPF program sonde had loaded.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"
start_sonde --pid "$NGINX_PID"
base=http://127.0.0.1:$NGINX_PORT
progs=$(bpf_progs_of_pid "$SONDE_PID")
ids=$(echo "$progs" | awk 'NF { print $1 }' | tr '\n' ' ')
echo "   sonde's BPF programs: $(echo "$progs" | awk 'NF { printf "%s(%s) ", $2, $1 }')"
[ -n "$ids" ] || fail "found no BPF program of sonde (pid $SONDE_PID)"

step "wrk -t2 -c8 -d6s on /api/products/42; SIGKILL sonde after 2 s"
wrk -t2 -c8 -d6s "$base/api/products/42" >"$LIB_TMP/wrk.out" 2>&1 &
wrk_pid=$!
track_pid wrk "$wrk_pid"
sleep 2
lib_alive "$SONDE_PID" || fail "sonde was not running when about to be killed"
kill -KILL "$SONDE_PID"
wait "$SONDE_PID" 2>/dev/null
echo "   sonde exit status: $? (137 = SIGKILL)"
wait_until 20 lib_dead "$wrk_pid" || die "wrk still running after 20 s"
wait "$wrk_pid"
rc=$?
sed 's/^/   | /' "$LIB_TMP/wrk.out"
assert_eq "wrk exit status" 0 "$rc"
assert_gt "wrk completed requests" 0 "$(wrk_requests "$LIB_TMP/wrk.out")"
assert_eq "wrk socket errors" 0 "$(wrk_socket_errors "$LIB_TMP/wrk.out")"
assert_eq "wrk non-2xx responses" 0 "$(wrk_non2xx "$LIB_TMP/wrk.out")"

step "BPF programs gone"
# shellcheck disable=SC2086
if [ -n "$ids" ] && wait_until 5 bpf_all_gone $ids; then
	pass "all of sonde's programs unloaded: $ids"
else
	fail "programs ${ids:-<none found>} still loaded after 5 s (or none found):"
	for id in $ids; do bpf_prog_alive "$id" && bpftool prog show id "$id" | sed 's/^/        /'; done
fi
others=$(pgrep -x sonde | tr '\n' ' ')
if [ -z "$others" ]; then
	assert_eq "programs named sonde_* in bpftool prog show" "" "$(bpf_progs_named sonde_ | tr '\n' ' ')"
else
	echo "   note: other sonde processes running ($others): skipping the global sonde_* check"
fi

step "nginx still serves"
assert_eq "GET /api/products/1 status" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/api/products/1")"

finish
