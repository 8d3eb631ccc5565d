#!/bin/bash
# Malformed Redis, PostgreSQL and Kafka traffic from an observed client: sonde
# keeps running, counts one parse error per broken connection and protocol,
# and the well-formed traffic around it is still counted exactly.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_redis
start_postgres
"$SONDE_ROOT/build/mock_broker" --topic t:1 --ready-file "$LIB_TMP/bootstrap" >"$LIB_TMP/mock.out" 2>&1 &
track_pid kafka $!
wait_until 10 test -s "$LIB_TMP/bootstrap" || die "mock broker did not start"
KAFKA_PORT=$(sed 's/.*://' "$LIB_TMP/bootstrap")

cat >"$LIB_TMP/bad.py" <<'PY'
import random, socket, struct, sys, time
redis_port, pg_port, kafka_port = map(int, sys.argv[1:4])
random.seed(7)

def talk(port, chunks, read=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        for c in chunks:
            s.sendall(c)
            if read:
                try:
                    s.recv(65536)
                except OSError:
                    pass
    except OSError:
        pass
    s.close()

good = b"*3\r\n$3\r\nSET\r\n$5\r\nbad:1\r\n$1\r\nx\r\n"
# Redis: a good command, then a frame whose bulk length is not a number.
talk(redis_port, [good, b"*2\r\n$3\r\nGET\r\n$zz\r\nbad:1\r\n"])
# Redis: a good command, then a frame cut off by close.
talk(redis_port, [good, b"*2\r\n$3\r\nGE"])
# PostgreSQL: startup, then a Query whose length is below the minimum.
startup = b"user\0postgres\0database\0postgres\0\0"
startup = struct.pack("!ii", 8 + len(startup), 196608) + startup
talk(pg_port, [startup, b"Q\0\0\0\x02SELECT 1\0"])
# Kafka: ApiVersions v0, then a request whose size is 3 bytes.
av = struct.pack("!hhih", 18, 0, 1, 4) + b"test"
talk(kafka_port, [struct.pack("!i", len(av)) + av, b"\0\0\0\x03abc"])
# Then well-formed Redis traffic: 20 SETs on a fresh connection.
s = socket.create_connection(("127.0.0.1", redis_port), timeout=2)
for i in range(20):
    s.sendall(good)
    s.recv(100)
s.close()
print("done", flush=True)
PY
start_gated bad "$PYTHON" "$LIB_TMP/bad.py" "$REDIS_PORT" "$PG_PORT" "$KAFKA_PORT"
bad_pid=$GATED_PID
start_sonde --pid "$bad_pid=bad"
open_gate bad
wait "$bad_pid" || fail "client failed: $(cat "$LIB_TMP/bad.out")"

p=sonde_parse_errors_total
assert_metric "Redis: malformed length" "$p{protocol=\"redis\",reason=\"malformed\"}" 1
assert_metric "PostgreSQL: bad message length" "$p{protocol=\"postgresql\",reason=\"malformed\"}" 1
assert_metric "Kafka: bad size" "$p{protocol=\"kafka\",reason=\"malformed\"}" 1
assert_true "sonde still running" lib_alive "$SONDE_PID"
assert_metric "the good SETs still counted (2 before the bad frames + 20)" \
	'redis_commands_seconds_count{service="bad",command="SET",outcome="SUCCESS"}' 22
finish
