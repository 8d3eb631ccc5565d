#!/bin/bash
# Command line: usage errors, missing targets, privileges, --version, clean
# SIGTERM, --pid PID=NAME, and command mode (-- COMMAND).
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

[ -x "$SONDE_BIN" ] || die "$SONDE_BIN not built"

# run_sonde ARGS...: run sonde (at most 10 s); sets RC, OUT, ERR.
run_sonde() {
	timeout -k 2 10 "$SONDE_BIN" "$@" >"$LIB_TMP/out" 2>"$LIB_TMP/err" </dev/null
	RC=$?
	OUT=$(cat "$LIB_TMP/out")
	ERR=$(cat "$LIB_TMP/err")
}
show_err() { printf '%s\n' "$ERR" | head -5 | sed 's/^/        stderr: /'; }
lines() { printf '%s' "$1" | grep -c .; }

# A live process to point --pid at.
sleep 120 &
sleeper=$!
track_pid sleeper "$sleeper"

step "bad usage"
run_sonde --bogus
assert_eq "--bogus: exit status" 2 "$RC"
if printf '%s' "$ERR" | grep -qi usage; then pass "--bogus: usage on stderr"; else fail "--bogus: no usage on stderr"; show_err; fi

run_sonde --capture-bytes 99999 --pid "$sleeper" --listen "127.0.0.1:$(free_port)"
assert_eq "--capture-bytes 99999: exit status" 2 "$RC" || show_err
if printf '%s' "$ERR" | grep -qi capture; then pass "--capture-bytes 99999: stderr mentions it"; else fail "--capture-bytes 99999: stderr silent about it"; show_err; fi

step "nonexistent pid"
run_sonde --pid 999999999 --listen "127.0.0.1:$(free_port)"
assert_eq "--pid 999999999: exit status" 1 "$RC"
assert_eq "--pid 999999999: stderr lines" 1 "$(lines "$ERR")" || show_err
if printf '%s' "$ERR" | grep -q 999999999; then pass "--pid 999999999: error names the pid"; else fail "--pid 999999999: error does not name the pid"; show_err; fi

step "not root"
bin=$SONDE_BIN
if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$bin"; then
	# The build tree is not reachable by nobody: use a copy.
	mkdir -p "$LIB_TMP/bin" && chmod 755 "$LIB_TMP/bin"
	install -m 755 "$SONDE_BIN" "$LIB_TMP/bin/sonde"
	bin=$LIB_TMP/bin/sonde
fi
timeout -k 2 10 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$bin" --pid 1 --listen "127.0.0.1:$(free_port)" >"$LIB_TMP/out" 2>"$LIB_TMP/err" </dev/null
RC=$?
ERR=$(cat "$LIB_TMP/err")
assert_eq "unprivileged: exit status" 1 "$RC" || show_err
assert_eq "unprivileged: stderr lines" 1 "$(lines "$ERR")" || show_err
if printf '%s' "$ERR" | grep -Eqi 'root|capabilit|privilege|permission'; then
	pass "unprivileged: message about privileges: $ERR"
else
	fail "unprivileged: message says nothing about root/capabilities"
	show_err
fi

step "--version"
run_sonde --version
assert_eq "--version: exit status" 0 "$RC"
assert_gt "--version: output lines" 0 "$(lines "$OUT$ERR")"
version_out="$OUT $ERR"

step "--pid PID=NAME, then SIGTERM"
mkdir -p "$LIB_TMP/www" && echo hello >"$LIB_TMP/www/hello.txt"
web_port=$(free_port)
(cd "$LIB_TMP/www" && exec "$PYTHON" -m http.server --bind 127.0.0.1 "$web_port") >"$LIB_TMP/web.log" 2>&1 &
web=$!
track_pid web "$web"
wait_until 10 lib_port_listening "$web_port" || die "python http.server did not listen"
start_sonde --pid "$web=web"
v=$(metrics_fetch "$LIB_TMP/m.txt" && awk -F'"' '/^sonde_build_info\{/ { for (i = 1; i < NF; i++) if ($i ~ /version=$/) print $(i + 1) }' "$LIB_TMP/m.txt")
if [ -n "$v" ] && printf '%s' "$version_out" | grep -qF -- "$v"; then
	pass "--version output contains sonde_build_info's version $v"
else
	fail "--version output ($version_out) lacks sonde_build_info's version (${v:-<absent>})"
fi
ok=$(yes "http://127.0.0.1:$web_port/hello.txt" | head -n 5 | send_requests keepalive 1 200)
assert_eq "curl got 200 from the python server" 5 "$ok"
assert_metric "service=\"web\" from --pid PID=web" \
	'http_server_requests_seconds_count{service="web",method="GET",uri="/hello.txt",status="200",outcome="SUCCESS"}' "$ok"

progs=$(bpf_progs_of_pid "$SONDE_PID")
ids=$(echo "$progs" | awk 'NF { print $1 }' | tr '\n' ' ')
echo "   sonde's BPF programs: $(echo "$progs" | awk 'NF { printf "%s(%s) ", $2, $1 }')"
stop_sonde TERM
assert_eq "SIGTERM: exit status" 0 "$SONDE_RC"
# shellcheck disable=SC2086
if [ -n "$ids" ] && wait_until 3 bpf_all_gone $ids; then
	pass "SIGTERM: programs unloaded"
else
	fail "SIGTERM: programs ${ids:-<none found>} still loaded (or none found)"
fi
if [ -z "$(pgrep -x sonde)" ]; then
	assert_eq "SIGTERM: programs named sonde_*" "" "$(bpf_progs_named sonde_ | tr '\n' ' ')"
fi
assert_true "SIGTERM: target still alive" lib_alive "$web"

step "command mode: sonde -- python3 -m http.server"
q=$(free_port)
SONDE_PORT=$(free_port)
cd "$LIB_TMP/www" || die "cd"
start_sonde -- "$PYTHON" -m http.server --bind 127.0.0.1 "$q"
cd "$SONDE_ROOT" || die "cd"
wait_until 10 lib_port_listening "$q" || die "the command (http.server) did not listen on $q"
ok=$(yes "http://127.0.0.1:$q/hello.txt" | head -n 20 | send_requests keepalive 1 200)
assert_eq "curl got 200 from the command" 20 "$ok"
assert_metric "service=\"python3\" (comm)" \
	'http_server_requests_seconds_count{service="python3",method="GET",uri="/hello.txt",status="200",outcome="SUCCESS"}' "$ok"
child=$(pgrep -P "$SONDE_PID" | head -n 1)
if [ -z "$child" ]; then
	fail "no child process under sonde"
else
	kill -TERM "$child"
	if wait_until 10 lib_dead "$SONDE_PID"; then
		pass "sonde exited after its command was killed"
	else
		fail "sonde still running 10 s after its command (pid $child) was killed"
	fi
fi

finish
