#!/bin/bash
# Calls that fail below their protocol: a connect refused (blocking, and
# non-blocking with the error read by getsockopt(SO_ERROR)), a call reset by
# its server, a call its client gives up on (timeout, then close). Each is one
# ERROR line carrying the trace id of the request that made it (known to the
# test: each request sends its own traceparent), and one span; nothing for a
# request that made no call; no duplicate for a connection that fails twice.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
N=40 # per route
APP_PORT=$(free_port) CLOSED_PORT=$(free_port) RESET_PORT=$(free_port) SILENT_PORT=$(free_port)
"$PYTHON" "$HERE/fail_app.py" --reset "$RESET_PORT" >"$LIB_TMP/reset.out" 2>&1 &
track_pid client $!
"$PYTHON" "$HERE/fail_app.py" --silent "$SILENT_PORT" >"$LIB_TMP/silent.out" 2>&1 &
track_pid client $!
start_gated app "$PYTHON" "$HERE/fail_app.py" "$APP_PORT" "$CLOSED_PORT" "$RESET_PORT" "$SILENT_PORT"
app_pid=$GATED_PID
start_sonde --pid "$app_pid=shop" --log-file "$LIB_TMP/sonde.log" --trace-sample-rate 1
open_gate app
wait_until 20 lib_http_ok "http://127.0.0.1:$APP_PORT/ok" || die "the app does not answer"
wait_until 10 lib_port_listening "$RESET_PORT" || die "the reset helper did not start"
wait_until 10 lib_port_listening "$SILENT_PORT" || die "the silent helper did not start"

step "$N requests per route, 8 at a time, each with its own trace id"
"$PYTHON" - "$APP_PORT" "$N" >"$LIB_TMP/client.out" 2>&1 <<'PY' || fail "client: $(tail -3 "$LIB_TMP/client.out")"
import sys, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor
port, n = int(sys.argv[1]), int(sys.argv[2])
routes = ["refused", "refused-timeout", "reset", "timeout", "ok"]
def one(i):
    route = routes[i % len(routes)]
    req = urllib.request.Request("http://127.0.0.1:%d/%s" % (port, route))
    req.add_header("traceparent", "00-%032x-%016x-01" % (0xfa110000 + i, 0xbad0000 + i))
    try:
        status = urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        status = e.code
    want = {"ok": 200, "timeout": 504}.get(route, 502)
    assert status == want, (route, status)
with ThreadPoolExecutor(8) as ex:
    list(ex.map(one, range(n * len(routes))))
print("sent", n * len(routes))
PY
sleep 1.5 # two writer periods

step "the failed calls' spans, children of their requests' server spans"
need_node_modules ajv
for i in 0 1 2 3; do
	curl -sf "http://127.0.0.1:$SONDE_PORT/api/traces/$(printf '%032x' $((0xfa110000 + i)))" \
		>"$LIB_TMP/trace$i.json" || fail "/api/traces of request $i"
	zipkin_validate Trace "$LIB_TMP/trace$i.json" || fail "trace $i does not validate as a Zipkin Trace"
done
"$PYTHON" - "$LIB_TMP" >"$LIB_TMP/spans.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/spans.out")" || fail "$(cat "$LIB_TMP/spans.out")"
import json, sys
want = ["ECONNREFUSED", "ECONNREFUSED", "ECONNRESET", "no_response"]
out = []
for i, err in enumerate(want):
    spans = json.load(open("%s/trace%d.json" % (sys.argv[1], i)))
    server = [s for s in spans if s.get("kind") == "SERVER"]
    failed = [s for s in spans if s.get("kind") == "CLIENT" and s.get("tags", {}).get("error") == err]
    ok = len(server) == 1 and len(failed) == 1 and failed[0].get("parentId") == server[0]["id"]
    out.append("%s %s" % (failed[0]["name"] if failed else "-", "ok" if ok else "WRONG %s" % spans))
print("; ".join(out))
sys.exit(0 if all(o.endswith(" ok") for o in out) else 1)
PY
stop_sonde

step "one line per failed call, with its request's trace id"
"$PYTHON" - "$LIB_TMP/sonde.log" "$N" "$CLOSED_PORT" >"$LIB_TMP/check.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/check.out")" || fail "$(cat "$LIB_TMP/check.out")"
import collections, json, sys
n, closed = int(sys.argv[2]), int(sys.argv[3])
routes = ["refused", "refused-timeout", "reset", "timeout", "ok"]
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
route_of = {"%032x" % (0xfa110000 + i): routes[i % len(routes)] for i in range(n * len(routes))}
want = {  # route: (logger, error.type, failed at)
    "refused": ("sonde.net", "ECONNREFUSED", "connect"),
    "refused-timeout": ("sonde.net", "ECONNREFUSED", "connect"),
    "reset": ("sonde.http", "ECONNRESET", "receive"),
    "timeout": ("sonde.http", "no_response", "close"),
}
fails = [l for l in lines if "error.type" in l]
got = collections.Counter()
bad = []
for l in fails:
    route = route_of.get(l.get("trace.id"))
    if route not in want:
        bad.append(("no request's trace", l)); continue
    logger, etype, at = want[route]
    ok = l["log.logger"] == logger and l["error.type"] == etype and l["log.level"] == "ERROR"
    ok = ok and " failed at %s: " % at in l["message"] and l.get("span.id")
    if route.startswith("refused"):
        ok = ok and l.get("server.port") == closed and l.get("server.address") == "127.0.0.1"
    else:
        ok = ok and l.get("http.request.method") == "GET" and l.get("url.path") == "/api/stock/42"
    if not ok:
        bad.append((route, l))
    got[route] += 1
access = collections.Counter(route_of.get(l.get("trace.id")) for l in lines
                             if l["log.logger"] == "sonde.http" and "error.type" not in l)
for r in want:
    print("sample", r, json.dumps(next((l for l in fails if route_of.get(l.get("trace.id")) == r), None)))
print("failed-call lines by route %s (want %d each); access lines %s; bad %d %s" %
      (dict(got), n, dict(access), len(bad), bad[:2]))
ok = not bad and all(got[r] == n for r in want) and all(access[r] == n for r in routes)
sys.exit(0 if ok else 1)
PY

step "clients that end well make no failed-call line"
# Each client closes its connections after its last answer (psql sends
# Terminate, redis-cli and redis-benchmark QUIT or close, curl closes):
# none of that is a call given up.
start_redis
start_postgres
start_nginx "$HERE/nginx.conf.in"
start_gated clients bash -c '
	redis-benchmark -q -p "$1" -n 2000 -c 8 -t get,set,lpush >/dev/null &&
	redis-cli -p "$1" get k >/dev/null &&
	"$2/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$3" -U postgres postgres >/dev/null 2>&1 &&
	"$2/pgbench" -n -t 50 -c 4 -h 127.0.0.1 -p "$3" -U postgres postgres >/dev/null &&
	psql -qAt -h 127.0.0.1 -p "$3" -U postgres -c "select 1" postgres >/dev/null &&
	for i in $(seq 20); do curl -sf -o /dev/null "http://127.0.0.1:$4/api/products/$i"; done' \
	_ "$REDIS_PORT" "$PG_BIN" "$PG_PORT" "$NGINX_PORT"
clients_pid=$GATED_PID
SONDE_PORT=$(free_port)
start_sonde --pid "$clients_pid=clients" --log-file "$LIB_TMP/clean.log" --log-level ERROR
open_gate clients
wait "$clients_pid" || fail "the clients failed: $(tail -3 "$LIB_TMP/clients.out")"
sleep 1.5
assert_gt "Redis commands seen" 5999 "$(metric_sum 'redis_commands_seconds_count{service="clients"}')"
assert_gt "statements seen" 199 "$(metric_sum 'database_query_duration_seconds_count{service="clients"}')"
assert_eq "HTTP calls seen" 20 "$(metric_sum 'http_client_requests_seconds_count{service="clients"}')"
stop_sonde
assert_eq "failed-call lines of clients that ended well" 0 "$(grep -c error.type "$LIB_TMP/clean.log")"
finish
