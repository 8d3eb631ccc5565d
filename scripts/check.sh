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

tier() { # NAME CMD...: run a tier, count it
	local name=$1; shift
	echo "== $name"
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "== $name FAILED"; fi
}

fuzz_smoke() {
	local f rc=0
	for f in "${fuzzers[@]}"; do
		local corpus=tests/fuzz/corpus/$(basename "$f")
		local work; work=$(mktemp -d)
		[ -d "$corpus" ] && cp -r "$corpus/." "$work/"
		if ! "$f" -max_total_time="${FUZZ_SECONDS:-15}" -rss_limit_mb=2048 -print_final_stats=1 "$work" \
			>"$work.log" 2>&1; then
			echo "fuzz: $f found a crash:"; tail -40 "$work.log"; rc=1
		else
			echo "fuzz: $f ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" |
				awk '{print $2}') execs; $(tail -1 "$work.log"))"
		fi
		rm -rf "$work" "$work.log"
	done
	return $rc
}

tier unit scripts/run-unit.sh "${units[@]}"
[ ${#fuzzers[@]} -gt 0 ] && tier fuzz fuzz_smoke
tier integration tests/integration/run.sh
echo "check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
