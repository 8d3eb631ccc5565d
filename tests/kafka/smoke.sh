#!/bin/bash
# Smoke test of build/mock_broker with real clients (kcat, /usr/bin/python3 confluent-kafka), on
# loopback only. A dev aid, not part of make check. Exits 0 when every check holds, 1 otherwise.
# Usage: tests/kafka/smoke.sh [path/to/mock_broker]
set -u
cd "$(dirname "$0")/../.." || exit 1
BROKER=${1:-build/mock_broker}
PY=/usr/bin/python3
CLIENTS=tests/kafka/smoke_clients.py
T=45	# per client, seconds

[ -x "$BROKER" ] || make --no-print-directory "$BROKER" || exit 1
TMP=$(mktemp -d)
PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$BROKER" --topic order-events:3 --topic py-events:3 --ready-file "$TMP/ready" \
	>"$TMP/stdout" 2>"$TMP/stderr" &
PID=$!
for _ in $(seq 50); do
	[ -s "$TMP/ready" ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$TMP/ready" ]; then
	echo "FAIL: broker not ready: $(cat "$TMP/stderr")"
	exit 1
fi
ADDR=$(cat "$TMP/ready")
if [ "$(cat "$TMP/stdout")" = "$ADDR" ] && [ "$(wc -l <"$TMP/stdout")" = 1 ]; then
	ok "broker pid $PID printed one line: $ADDR (same in the ready file)"
else
	bad "stdout '$(cat "$TMP/stdout")' vs ready file '$ADDR'"
fi

listen=$(ss -Hltnp | grep "pid=$PID," | awk '{print $4}' | tr '\n' ' ')
if [ -n "$listen" ] && ! echo "$listen" | tr ' ' '\n' | grep -v '^$' | grep -qv '^127\.0\.0\.1:'; then
	ok "listens on 127.0.0.1 only: $listen"
else
	bad "listeners: $listen"
fi

if seq 1 100 | timeout $T kcat -b "$ADDR" -P -t order-events; then
	ok "kcat produced 100 messages to order-events"
else
	bad "kcat produce"
fi
n=$(timeout $T kcat -b "$ADDR" -C -t order-events -o beginning -e -q | wc -l)
if [ "$n" = 100 ]; then
	ok "kcat consumed 100 messages from order-events"
else
	bad "kcat consumed $n messages, want 100"
fi

timeout $T $PY $CLIENTS produce "$ADDR" py-events 50 || fails=$((fails + 1))
timeout $T $PY $CLIENTS consume "$ADDR" py-events smoke-group 20 || fails=$((fails + 1))
timeout $T $PY $CLIENTS rest "$ADDR" py-events smoke-group 50 || fails=$((fails + 1))

kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
if [ $rc = 0 ]; then
	ok "broker exited 0 on SIGTERM"
else
	bad "broker exited $rc on SIGTERM: $(cat "$TMP/stderr")"
fi
[ -s "$TMP/stderr" ] && echo "broker stderr: $(cat "$TMP/stderr")"

if [ $fails = 0 ]; then
	echo "smoke: all checks passed"
	exit 0
fi
echo "smoke: $fails check(s) failed"
exit 1
