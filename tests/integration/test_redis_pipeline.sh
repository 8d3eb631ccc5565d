#!/bin/bash
# A pipeline longer than the default 256-byte capture: the first write of each
# connection is cut short, the kernel sees a RESP array ('*') and raises the
# capture of that connection only, copying that write again; every pipeline
# is counted, the first ones included.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N=200000 C=2
start_redis
start_gated bench redis-benchmark -p "$REDIS_PORT" -c "$C" -n "$N" -P 16 -t set -q
bench_pid=$GATED_PID
start_sonde --pid "$bench_pid=bench"
set0=$(redis_calls set)
open_gate bench
wait "$bench_pid" || fail "redis-benchmark failed: $(cat "$LIB_TMP/bench.out")"
served=$(($(redis_calls set) - set0))
sel='redis_commands_seconds_count{service="bench",command="SET",outcome="SUCCESS"}'
wait_until 3 metric "$sel" >/dev/null
counted=$(metric "$sel")
echo "   server ran $served SETs; sonde counted ${counted:-0}"
assert_eq "every SET counted, the first pipelines too" "$served" "${counted:-0}"
assert_eq "no parse errors" 0 "$(metric 'sonde_parse_errors_total{protocol="redis",reason="malformed"}')"
finish
