#!/bin/bash
# Redis seen from its clients (redis-py over TCP and over a Unix socket,
# redis-cli, redis-benchmark pipelined): command counts equal what the server
# itself counted, cache hits and misses by key region are exact.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N=300 H=200 M=120 # SETs, GETs on existing products:* keys, GETs on missing ones
BENCH_N=1600

start_redis
cat >"$LIB_TMP/cache.py" <<'PY'
import sys
import redis
kind, where, n, hits, misses = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
r = redis.Redis(unix_socket_path=where) if kind == "unix" else redis.Redis(host="127.0.0.1", port=int(where))
for i in range(n):
    r.set("products:%d" % i, "v" * 64)
for i in range(hits):
    assert r.get("products:%d" % (i % n)) is not None
for i in range(misses):
    assert r.get("products:missing:%d" % i) is None
print("ok")
PY
start_gated tcp "$PYTHON" "$LIB_TMP/cache.py" tcp "$REDIS_PORT" "$N" "$H" "$M"
tcp_pid=$GATED_PID
start_gated unix "$PYTHON" "$LIB_TMP/cache.py" unix "$REDIS_SOCK" "$N" "$H" "$M"
unix_pid=$GATED_PID
start_gated cli bash -c "redis-cli -p $REDIS_PORT set carts:1 x >/dev/null &&
	redis-cli -p $REDIS_PORT get carts:1 >/dev/null &&
	redis-cli -p $REDIS_PORT get carts:2 >/dev/null &&
	redis-cli -p $REDIS_PORT lpush carts:1 y"
cli_pid=$GATED_PID
start_gated bench redis-benchmark -p "$REDIS_PORT" -c 4 -n "$BENCH_N" -P 16 -t set,get -q
bench_pid=$GATED_PID

# A pipelined batch is one write: 16 SETs of redis-benchmark are 720 bytes. The
# capture must hold it for exact counts (beyond it the parser resyncs at the
# next batch and the batch is not counted).
start_sonde --capture-bytes 1024 --pid "$tcp_pid=cache-tcp" --pid "$unix_pid=cache-unix" \
	--pid "$cli_pid=cli" --pid "$bench_pid=bench"
set0=$(redis_calls set)

step "redis-py over TCP and over the Unix socket: $N SET, $H hits, $M misses each"
open_gate tcp
open_gate unix
wait "$tcp_pid" || fail "TCP client failed: $(cat "$LIB_TMP/tcp.out")"
wait "$unix_pid" || fail "Unix-socket client failed: $(cat "$LIB_TMP/unix.out")"
r=redis_commands_seconds_count
c=cache_gets_total
for svc in cache-tcp cache-unix; do
	assert_metric "$svc SET" "$r{service=\"$svc\",command=\"SET\",outcome=\"SUCCESS\"}" "$N"
	assert_metric "$svc GET" "$r{service=\"$svc\",command=\"GET\",outcome=\"SUCCESS\"}" $((H + M))
	assert_metric "$svc hits" "$c{service=\"$svc\",cache=\"products\",result=\"hit\"}" "$H"
	assert_metric "$svc misses" "$c{service=\"$svc\",cache=\"products\",result=\"miss\"}" "$M"
done
assert_eq "server counted the SETs of both clients" $((2 * N)) $(($(redis_calls set) - set0))

step "redis-cli: SET, a hit, a miss, a WRONGTYPE error"
open_gate cli
wait "$cli_pid"
grep -q WRONGTYPE "$LIB_TMP/cli.out" || fail "redis-cli did not get WRONGTYPE: $(cat "$LIB_TMP/cli.out")"
assert_metric "cli hit on carts" "$c{service=\"cli\",cache=\"carts\",result=\"hit\"}" 1
assert_metric "cli miss on carts" "$c{service=\"cli\",cache=\"carts\",result=\"miss\"}" 1
assert_metric "cli LPUSH error" "$r{service=\"cli\",command=\"LPUSH\",outcome=\"ERROR\"}" 1

step "redis-benchmark -P 16: $BENCH_N SET and GET, pipelined"
set1=$(redis_calls set) get1=$(redis_calls get)
open_gate bench
wait "$bench_pid" || fail "redis-benchmark failed: $(cat "$LIB_TMP/bench.out")"
bset=$(($(redis_calls set) - set1)) bget=$(($(redis_calls get) - get1))
assert_true "redis-benchmark sent at least $BENCH_N SETs ($bset)" [ "$bset" -ge "$BENCH_N" ]
assert_metric "bench SET = server's count" "$r{service=\"bench\",command=\"SET\",outcome=\"SUCCESS\"}" "$bset"
assert_metric "bench GET = server's count" "$r{service=\"bench\",command=\"GET\",outcome=\"SUCCESS\"}" "$bget"
assert_eq "no parse errors" 0 "$(metric 'sonde_parse_errors_total{protocol="redis",reason="malformed"}')"
finish
