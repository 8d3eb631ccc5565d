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

step "--log-level WARN: only 4xx, 5xx and failed calls"
rm -f "$LOGS"/*
SONDE_PORT=
start_sonde --pid "$NGINX_PID=gateway" --log-file "$LOGS/warn.log" --log-level WARN
for p in /api/orders /api/orders /nope /api/fail; do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT$p"; done
stop_sonde
assert_eq "lines at WARN and above" 2 "$(grep -c . "$LOGS/warn.log")"
assert_eq "no INFO line" 0 "$(grep -c '"log.level":"INFO"' "$LOGS/warn.log")"
finish
