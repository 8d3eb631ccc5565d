#!/bin/bash
# Run sonde's integration tests: every tests/integration/test_*.sh (or the
# ones named on the command line), each in its own process with a time limit
# (SONDE_IT_TIMEOUT seconds, default 120), one after another. Prints PASS or
# FAIL per test (with the log of a failed one), then
#   integration: N passed, M failed
# and exits non-zero if any failed. Logs: build/integration/<test>.log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "integration: must run as root (sonde loads BPF programs)" >&2
	exit 1
fi
if [ ! -x "$root/build/sonde" ]; then
	echo "integration: $root/build/sonde not found: run 'make build/sonde' first" >&2
	exit 1
fi
for cmd in nginx curl wrk promtool prometheus bpftool ss setpriv /usr/bin/python3; do
	command -v "$cmd" >/dev/null || { echo "integration: missing $cmd (make test-deps)" >&2; exit 1; }
done

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do
		t=${t##*/}
		t=${t%.sh}
		tests+=("$here/$t.sh")
	done
else
	tests=("$here"/test_*.sh)
fi

logs=$root/build/integration
mkdir -p "$logs"
passed=0
failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ ! -f "$t" ]; then
		echo "FAIL $name (no such test)"
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	# timeout puts the test in its own process group (so that it can stop
	# all of it): forward our SIGINT/SIGTERM by hand.
	timeout -k 10 "${SONDE_IT_TIMEOUT:-120}" bash "$t" >"$logs/$name.log" 2>&1 </dev/null &
	tpid=$!
	trap 'kill -TERM $tpid 2>/dev/null; wait $tpid; echo "integration: interrupted during $name"; exit 130' INT TERM
	wait $tpid
	rc=$?
	trap - INT TERM
	secs=$(($(date +%s) - start))
	if [ $rc = 0 ]; then
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
	else
		why="exit $rc"
		[ $rc = 124 ] || [ $rc = 137 ] && why="timed out after ${SONDE_IT_TIMEOUT:-120}s"
		echo "FAIL $name ($why, ${secs}s); log $logs/$name.log:"
		sed 's/^/    /' "$logs/$name.log"
		failed=$((failed + 1))
	fi
done

left=$(pgrep -f '/tmp/sonde-it\.test_' | tr '\n' ' ')
[ -z "$left" ] || echo "warning: processes left behind by the tests: $left"
echo "integration: $passed passed, $failed failed"
[ $failed = 0 ]
