#!/bin/bash
# Busy Redis connections of three client libraries, each one connection shared
# by 16 concurrent tasks: ioredis with auto-pipelining, node-redis (pipelines
# what one tick sends) and Python's redis.asyncio. Values of 1 KiB and 8 KiB,
# so that a pipeline, and a read of its replies, runs far past the capture:
# the kernel walks those syscalls command by command. Every command and every
# hit and miss is counted as Redis itself counted them (INFO commandstats and
# keyspace_hits/misses). Issue #10: 0.17-0.4 % low with ioredis, and 92 % of
# SETs lost once values were 3 KB.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N=1500 # rounds per client: SET, GET (hit), GET (miss), DEL
start_redis
NODE_MODULES=$SONDE_ROOT/build/node/node_modules
[ -d "$NODE_MODULES/ioredis" ] || die "Node.js test clients missing: run scripts/deps.sh test"

cat >"$LIB_TMP/clients.js" <<'JS'
// node clients.js LIB PORT N: 16 workers on one connection, 4 commands a round.
const [lib, port, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const mods = process.env.NODE_MODULES;
const value = (i) => (i % 2 ? 'p' : 'c').repeat(i % 2 ? 1024 : 8192) + i;
(async () => {
  let r, close;
  if (lib === 'ioredis') {
    const Redis = require(mods + '/ioredis');
    r = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: true });
    close = () => r.quit();
  } else {
    const { createClient } = require(mods + '/redis');
    r = createClient({ socket: { host: '127.0.0.1', port } });
    await r.connect();
    close = () => r.close();
  }
  let next = 0, ok = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const k = (i % 2 ? 'product:' : 'cart:') + i;
      await r.set(k, value(i));
      if ((await r.get(k)).length !== value(i).length) throw new Error('bad value');
      if ((await r.get('session:none-' + i)) !== null) throw new Error('hit?');
      await r.del(k);
      ok++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await close();
  console.log(ok);
})().catch((e) => { console.error(e); process.exit(1); });
JS
cat >"$LIB_TMP/clients.py" <<'PY'
# python3 clients.py PORT N: redis.asyncio, 16 tasks on one connection.
import asyncio, sys
import redis.asyncio as aioredis

async def main(port, n):
    r = aioredis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
    state = {"next": 0, "ok": 0}

    async def worker():
        while state["next"] < n:
            i = state["next"]
            state["next"] += 1
            k = ("product:" if i % 2 else "cart:") + str(i)
            v = ("p" * 1024 if i % 2 else "c" * 8192) + str(i)
            await r.set(k, v)
            assert len(await r.get(k)) == len(v)
            assert await r.get("session:none-%d" % i) is None
            await r.delete(k)
            state["ok"] += 1

    await asyncio.gather(*(worker() for _ in range(16)))
    await r.close()
    print(state["ok"])

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
PY

cat >"$LIB_TMP/deep.py" <<'PY'
# python3 deep.py PORT: 100 INCRs in one write, more in flight than sonde keeps (64).
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"".join(b"*2\r\n$4\r\nINCR\r\n$5\r\nn:%03d\r\n" % i for i in range(100)))
got = b""
while got.count(b"\r\n") < 100:
    got += s.recv(65536)
print(got.count(b"\r\n"))
PY

export NODE_MODULES
start_gated deep "$PYTHON" "$LIB_TMP/deep.py" "$REDIS_PORT"
pid_deep=$GATED_PID
start_gated ioredis node "$LIB_TMP/clients.js" ioredis "$REDIS_PORT" "$N"
pid_io=$GATED_PID
start_gated noderedis node "$LIB_TMP/clients.js" node-redis "$REDIS_PORT" "$N"
pid_nr=$GATED_PID
start_gated pyasync "$PYTHON" "$LIB_TMP/clients.py" "$REDIS_PORT" "$N"
pid_py=$GATED_PID
start_sonde --pid "$pid_io=ioredis" --pid "$pid_nr=node-redis" --pid "$pid_py=py-asyncio" \
	--pid "$pid_deep=deep"

stat_of() { # FIELD of INFO stats
	redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'
}
for c in ioredis:$pid_io:ioredis node-redis:$pid_nr:noderedis py-asyncio:$pid_py:pyasync; do
	IFS=: read -r svc pid gate <<<"$c"
	step "$svc: $N rounds of SET, GET, GET (miss), DEL, 16 concurrent on one connection"
	redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
	open_gate "$gate"
	wait "$pid" || die "$svc failed: $(cat "$LIB_TMP/$gate.out")"
	assert_eq "rounds the client completed" "$N" "$(cat "$LIB_TMP/$gate.out")"
	for cmd in set get del; do
		truth=$(redis_calls "$cmd")
		up=$(echo "$cmd" | tr a-z A-Z)
		echo "   $up: redis $truth"
		assert_metric "$svc $up" \
			"redis_commands_seconds_count{service=\"$svc\",command=\"$up\",outcome=\"SUCCESS\"}" \
			"$truth"
	done
	hits=$(stat_of keyspace_hits)
	misses=$(stat_of keyspace_misses)
	assert_eq "$svc hits (keyspace_hits $hits)" "$hits" \
		"$(metric_sum "cache_gets_total{service=\"$svc\",result=\"hit\"}")"
	assert_eq "$svc misses (keyspace_misses $misses)" "$misses" \
		"$(metric_sum "cache_gets_total{service=\"$svc\",result=\"miss\"}")"
done
assert_eq "framing never lost" 0 "$(metric 'sonde_unparsed_total{protocol="redis",reason="framing_lost"}')"
assert_eq "no command forgotten" 0 \
	"$(metric 'sonde_unparsed_total{protocol="redis",reason="too_many_in_flight"}')"

step "100 commands in flight on one connection: what sonde cannot keep is counted as such"
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
open_gate deep
wait "$pid_deep" || die "deep.py failed: $(cat "$LIB_TMP/deep.out")"
truth=$(redis_calls incr)
assert_eq "INCRs Redis ran" 100 "$truth"
counted=$(wait_metric 'redis_commands_seconds_count{service="deep",command="INCR",outcome="SUCCESS"}' 64)
forgot=$(metric 'sonde_unparsed_total{protocol="redis",reason="too_many_in_flight"}')
echo "   counted $counted, forgotten (counted as such) $forgot"
assert_eq "counted + forgotten = what Redis ran" "$truth" $((counted + forgot))
assert_gt "syscalls walked command by command" 0 "$(metric sonde_events_walked_total)"
finish
