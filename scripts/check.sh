#!/bin/bash
# make check: unit tests, a short fuzz pass over every parser, integration tests.
# Usage: scripts/check.sh UNIT_BINS... -- FUZZ_BINS...
# Prints one line per tier and a final "check: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
units=(); fuzzers=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do units+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
fuzzers=("$@")
pass=0; fail=0

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=()

tier() { # NAME CMD...: run a tier, count it, keep its output
	local name=$1; shift
	echo "== $name"
	"$@" 2>&1 | tee "$out/$name"
	if [ "${PIPESTATUS[0]}" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); failed+=("$name"); echo "== $name FAILED"
	fi
}

# CI shows the end of the output: repeat each failed tier's first failure there.
recap() {
	local name first
	for name in "${failed[@]}"; do
		first=$(grep -n -m1 -E 'FAIL|found a crash' "$out/$name" | cut -d: -f1)
		echo "== $name failed; its first failure (repeated):"
		tail -n +"${first:-1}" "$out/$name" | head -80
	done
}

# One fuzzer for FUZZ_SECONDS (10; make fuzz: 60) from its corpus: "ok" or the crash, into $2.
fuzz_one() {
	local f=$1 out=$2 corpus work
	corpus=tests/fuzz/corpus/$(basename "$f")
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus/." "$work/"
	if ! "$f" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 -print_final_stats=1 "$work" \
		>"$work.log" 2>&1; then
		{ echo "fuzz: $f found a crash:"; tail -40 "$work.log"; } >"$out"
		echo 1 >"$out.rc"
	else
		echo "fuzz: $f ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" |
			awk '{print $2}') execs; $(tail -1 "$work.log"))" >"$out"
		echo 0 >"$out.rc"
	fi
	rm -rf "$work" "$work.log"
}

# Every fuzzer, two at a time (a core each), reported in order.
fuzz_smoke() {
	local i rc=0 dir
	dir=$(mktemp -d)
	for i in "${!fuzzers[@]}"; do
		[ "$(jobs -rp | wc -l)" -ge 2 ] && wait -n
		fuzz_one "${fuzzers[$i]}" "$dir/$i" &
	done
	wait
	for i in "${!fuzzers[@]}"; do
		cat "$dir/$i"
		[ "$(cat "$dir/$i.rc" 2>/dev/null)" = 0 ] || rc=1
	done
	rm -rf "$dir"
	return $rc
}

tier unit scripts/run-unit.sh "${units[@]}"
[ ${#fuzzers[@]} -gt 0 ] && tier fuzz fuzz_smoke
tier integration tests/integration/run.sh
recap
echo "check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
