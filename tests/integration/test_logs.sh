#!/bin/bash
# JSON log lines (--log-file): one per request served and per failed call,
# each a JSON object with the documented fields (parsed by Python's json, not
# by hand), levels by status, --log-level, size rotation under load with no
# line lost or split (lines counted against the server's own count), and
# SIGHUP reopening the file after logrotate moved it.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
LOGS=$LIB_TMP/logs
mkdir -p "$LOGS"
start_nginx "$LIB_DIR/nginx.conf.in"
start_redis
cat >"$LIB_TMP/cli.sh" <<SH
redis-cli -p $REDIS_PORT SET carts:1 x
redis-cli -p $REDIS_PORT LPUSH carts:1 y
SH
start_gated cli bash "$LIB_TMP/cli.sh"
cli_pid=$GATED_PID
start_sonde --pid "$NGINX_PID=gateway" --pid "$cli_pid=cli" --environment test \
	--log-file "$LOGS/sonde.log" --log-max-size 64K --log-files 100

step "a request of each kind, and a failed Redis call"
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/api/products/7?secret=s3cr3t"
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/nope"
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/api/fail"
open_gate cli
wait "$cli_pid"
wait_until 5 bash -c "cat '$LOGS'/sonde.log* 2>/dev/null | grep -q sonde.redis" ||
	fail "no line for the failed Redis call"
"$PYTHON" - "$LOGS"/sonde.log >"$LIB_TMP/kinds.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/kinds.out")" || fail "$(cat "$LIB_TMP/kinds.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
by = {(l.get("url.path") or l["log.logger"]): l for l in lines}
ok = by["/api/products/7"]; nf = by["/nope"]; bad = by["/api/fail"]; rd = by["sonde.redis"]
assert ok["log.level"] == "INFO" and ok["http.response.status_code"] == 200, ok
assert ok["message"].startswith("GET /api/products/{id} 200 "), ok["message"]
assert ok["http.route"] == "/api/products/{id}" and ok["service.name"] == "gateway", ok
assert ok["service.environment"] == "test" and len(ok["trace.id"]) == 32 and len(ok["span.id"]) == 16, ok
assert ok["client.address"] == "127.0.0.1" and ok["event.duration"] > 0, ok
assert nf["log.level"] == "WARN" and bad["log.level"] == "ERROR", (nf, bad)
assert rd["log.level"] == "ERROR" and rd["db.operation"] == "LPUSH" and rd["error.code"] == "WRONGTYPE", rd
assert rd["cache"] == "carts" and rd["service.name"] == "cli", rd
assert not any("s3cr3t" in json.dumps(l) for l in lines), "a query string was logged"
assert not any(l.get("db.operation") == "SET" for l in lines), "a successful call was logged"
print("levels, fields and messages as documented; no query string; %d lines" % len(lines))
PY

step "under load: rotation at 64 KiB, no line lost or split"
# ~3,000 lines of ~600 bytes: about 28 files of 64 KiB, all kept (--log-files 100).
for ((i = 0; i < 3000; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/orders"; done |
	send_requests keep 8 200 >/dev/null
served=$(metric_sum 'http_server_requests_seconds_count{service="gateway",uri="/api/orders"}')
wait_until 5 bash -c "[ \$(cat '$LOGS'/sonde.log* | grep -c '\"/api/orders\"') -ge $served ]"
nfiles=$(ls "$LOGS" | wc -l)
assert_gt "rotated files" 3 "$nfiles"
"$PYTHON" "$HERE/check_logs.py" lines "$LOGS"/sonde.log* >"$LIB_TMP/lines.json" 2>&1 ||
	fail "unparsable lines: $(cat "$LIB_TMP/lines.json")"
assert_eq "every line valid JSON" 0 "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bad"])' "$LIB_TMP/lines.json")"
assert_eq "one line per request sonde counted" "$served" \
	"$(cat "$LOGS"/sonde.log* | grep -c '"url.path":"/api/orders"')"
big=$(find "$LOGS" -name 'sonde.log*' -size +65536c | wc -l)
assert_eq "no file past --log-max-size" 0 "$big"
assert_eq "nothing dropped" 0 "$(metric_sum sonde_log_lines_dropped_total)"

step "SIGHUP reopens the file (logrotate's move, then a signal)"
mv "$LOGS/sonde.log" "$LOGS/moved.log"
kill -HUP "$SONDE_PID"
sleep 0.3
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/api/products/8"
wait_until 5 grep -q '"/api/products/8"' "$LOGS/sonde.log" 2>/dev/null &&
	pass "a new sonde.log after SIGHUP holds the next line" || fail "no line in a new sonde.log"
assert_true "sonde still runs after SIGHUP" lib_alive "$SONDE_PID"
stop_sonde

# Loki, in the encoding $1 (protobuf: snappy logproto, the default; json: gzip JSON).
loki_round() {
	local enc=$1 dir=$LIB_TMP/loki-$1 port
	mkdir -p "$dir"
	port=$(free_port)
	if [ "$enc" = json ]; then
		"$PYTHON" "$HERE/zipkin_receiver.py" "$port" "$dir" --path /loki/api/v1/push \
			--content-type application/json --encoding gzip --suffix .json.gz >"$LIB_TMP/loki-$enc.log" 2>&1 &
	else
		"$PYTHON" "$HERE/zipkin_receiver.py" "$port" "$dir" --path /loki/api/v1/push \
			--content-type application/x-protobuf --suffix .pb >"$LIB_TMP/loki-$enc.log" 2>&1 &
	fi
	track_pid loki $!
	wait_until 10 grep -q ready "$LIB_TMP/loki-$enc.log" || die "loki receiver did not start"
	rm -f "$LOGS"/*
	SONDE_PORT=
	start_sonde --pid "$NGINX_PID=gateway" --environment test --log-file "$LOGS/both.log" \
		--loki-url "http://127.0.0.1:$port/loki/api/v1/push" $([ "$enc" = json ] && echo --loki-encoding json)
	for ((i = 0; i < 500; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
		send_requests keep 4 200 >/dev/null
	curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/nope"
	wait_metric 'sonde_log_lines_exported_total{exporter="loki"}' 501 10 >/dev/null
	stop_sonde
	[ -n "$(ls "$dir")" ] || fail "$enc: no push body reached the receiver (415 on a wrong Content-Type or Content-Encoding)"
	node "$LIB_DIR/node/loki_decode.js" "$dir"/* >"$LIB_TMP/loki.entries" 2>"$LIB_TMP/loki.err" &&
		pass "$enc: $(ls "$dir" | wc -l) push bodies decode and verify as logproto.PushRequest" ||
		fail "$enc: loki bodies: $(head -3 "$LIB_TMP/loki.err")"
	"$PYTHON" - "$LIB_TMP/loki.entries" "$LOGS/both.log" >"$LIB_TMP/loki.out" 2>&1 <<'PY' && pass "$enc: $(cat "$LIB_TMP/loki.out")" || fail "$enc: $(cat "$LIB_TMP/loki.out")"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
file_lines = [l.rstrip("\n") for l in open(sys.argv[2])]
labels = {e["labels"] for e in entries}
ok = labels == {'{service="gateway", environment="test", level="INFO"}',
                '{service="gateway", environment="test", level="WARN"}'}
lines = [json.loads(e["line"]) for e in entries]
ok = ok and all(len(l["trace.id"]) == 32 for l in lines)
ok = ok and sorted(e["line"] for e in entries) == sorted(file_lines)
import time
ts_ok = all(abs(int(e["ts_ns"]) / 1e9 - time.time()) < 600 for e in entries)
print("entries %d, the same lines as the file %d; stream labels %s" % (len(entries), len(file_lines), sorted(labels)))
sys.exit(0 if ok and ts_ok and len(entries) == 501 else 1)
PY
}

step "Loki: the lines pushed as logproto.PushRequest (snappy), decoded by protobufjs with Loki's definitions"
need_node_modules winston-loki
loki_round protobuf
step "Loki: the same lines as gzip JSON (--loki-encoding json), checked by ajv against the push API's JSON form, then as a PushRequest"
loki_round json

step "Loki down: capture goes on, lines dropped and counted, /metrics answers"
SONDE_PORT=
start_sonde --pid "$NGINX_PID=gateway" --loki-url "http://127.0.0.1:$(free_port)/loki/api/v1/push"
run_wrk "$LIB_TMP/wrk2.out" -t1 -c4 -d3s "http://127.0.0.1:$NGINX_PORT/api/orders"
wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$SONDE_PORT/metrics | grep -c 'output=\"loki\",reason=\"send_failed\"} [1-9]')\" -gt 0 ]" &&
	pass "lines given up after retries are counted" || fail "no send_failed count"
t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$SONDE_PORT/metrics")
assert_true "/metrics answers within 100 ms while Loki is down ($t s)" awk -v t="$t" 'BEGIN { exit !(t < 0.1) }'
assert_gt "requests still counted" 1000 "$(metric_sum 'http_server_requests_seconds_count{service="gateway",uri="/api/orders"}')"
rss=$(metric process_resident_memory_bytes)
assert_true "RSS bounded ($rss bytes)" awk -v r="$rss" 'BEGIN { exit !(r < 256 * 1048576) }'
stop_sonde

step "Loki slow (answers after 8 s, past sonde's 5 s timeout): the same bounds"
SLOW_PORT=$(free_port)
mkdir -p "$LIB_TMP/slow"
"$PYTHON" "$HERE/zipkin_receiver.py" "$SLOW_PORT" "$LIB_TMP/slow" --path /loki/api/v1/push \
	--content-type application/x-protobuf --suffix .pb --delay 8 >"$LIB_TMP/slow.log" 2>&1 &
track_pid loki $!
wait_until 10 grep -q ready "$LIB_TMP/slow.log" || die "slow loki receiver did not start"
SONDE_PORT=
start_sonde --pid "$NGINX_PID=gateway" --loki-url "http://127.0.0.1:$SLOW_PORT/loki/api/v1/push"
run_wrk "$LIB_TMP/wrk3.out" -t1 -c4 -d4s "http://127.0.0.1:$NGINX_PORT/api/orders"
t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$SONDE_PORT/metrics")
assert_true "/metrics answers within 100 ms while Loki is slow ($t s)" awk -v t="$t" 'BEGIN { exit !(t < 0.1) }'
served=$(wrk_requests "$LIB_TMP/wrk3.out")
counted=$(metric_sum 'http_server_requests_seconds_count{service="gateway",uri="/api/orders"}')
# wrk does not count the (at most 4) requests in flight when it stops; nginx served them.
assert_true "every request counted while Loki is slow ($counted; wrk: $served)" \
	awk -v c="$counted" -v w="$served" 'BEGIN { exit !(c >= w && c <= w + 4) }'
wait_until 20 bash -c "[ \"\$(curl -s http://127.0.0.1:$SONDE_PORT/metrics | grep -c 'output=\"loki\",reason=\"[a-z_]*\"} [1-9]')\" -gt 0 ]" &&
	pass "lines not pushed are counted as dropped" || fail "no loki drop counted"
rss=$(metric process_resident_memory_bytes)
assert_true "RSS bounded ($rss bytes)" awk -v r="$rss" 'BEGIN { exit !(r < 256 * 1048576) }'
stop_sonde

step "--log-level WARN: only 4xx, 5xx and failed calls"
rm -f "$LOGS"/*
SONDE_PORT=
start_sonde --pid "$NGINX_PID=gateway" --log-file "$LOGS/warn.log" --log-level WARN
for p in /api/orders /api/orders /nope /api/fail; do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT$p"; done
stop_sonde
assert_eq "lines at WARN and above" 2 "$(grep -c . "$LOGS/warn.log")"
assert_eq "no INFO line" 0 "$(grep -c '"log.level":"INFO"' "$LOGS/warn.log")"
finish
