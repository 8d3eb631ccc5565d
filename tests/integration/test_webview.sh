#!/bin/bash
# sonde's web view (GET /), in headless Chromium (Debian's, driven by
# puppeteer-core): nginx as a gateway in front of a Flask service that calls
# Redis and a backend service, all observed. The page lists each service's
# routes with exactly the counts of /metrics, the dependencies with the status
# of /api/dependencies and the recent traces of /api/traces; clicking the
# largest trace draws a timeline row for each of its spans (the gateway's, the
# service's, its Redis call and the backend's), each bar inside the trace's
# span of time. Screenshots of both views are kept with the test's log.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
command -v chromium >/dev/null || die "chromium not installed (scripts/deps.sh test)"
start_redis
BACKEND_PORT=$(free_port) APP_PORT=$(free_port)
start_gated backend "$PYTHON" "$HERE/deps_app.py" "$BACKEND_PORT" 1 "http://127.0.0.1:1"
backend_pid=$GATED_PID
start_gated app "$PYTHON" "$HERE/deps_app.py" "$APP_PORT" "$REDIS_PORT" "http://127.0.0.1:$BACKEND_PORT"
app_pid=$GATED_PID
open_gate backend
open_gate app
wait_until 10 lib_port_listening "$BACKEND_PORT" || die "the backend did not start"
wait_until 10 lib_port_listening "$APP_PORT" || die "the app did not start"
NGINX_MIN_WORKERS=1 UPSTREAM_PORT=$APP_PORT start_nginx "$LIB_DIR/nginx_gateway.conf.in"
start_sonde --pid "$NGINX_PID=gateway" --pid "$app_pid=catalog" --pid "$backend_pid=stock"

step "traffic through the gateway, then the page"
for ((i = 0; i < 12; i++)); do echo "http://127.0.0.1:$NGINX_PORT/chain/$i"; done | send_requests keep 2 200 >/dev/null
for ((i = 0; i < 6; i++)); do echo "http://127.0.0.1:$APP_PORT/stock/$i"; done | xargs -n 1 curl -s -o /dev/null
wait_metric 'http_server_requests_seconds_count{service="gateway",method="GET",uri="/chain/{id}",status="200",outcome="SUCCESS"}' 12 >/dev/null
SHOTS=$SONDE_ROOT/build/integration/webview
mkdir -p "$SHOTS"
chmod -R a+rwx "$SHOTS"
node "$HERE/node/webview.mjs" "http://127.0.0.1:$SONDE_PORT/" "$SHOTS" >"$LIB_TMP/page.json" 2>"$LIB_TMP/page.err" ||
	die "the page could not be driven: $(tail -20 "$LIB_TMP/page.err")"
metrics_fetch "$LIB_TMP/metrics.txt"
curl -sf "http://127.0.0.1:$SONDE_PORT/api/dependencies" >"$LIB_TMP/deps.json"
"$PYTHON" - "$LIB_TMP/page.json" "$LIB_TMP/metrics.txt" "$LIB_TMP/deps.json" "http://127.0.0.1:$SONDE_PORT" \
	>"$LIB_TMP/check.out" 2>&1 <<'PY'
import json, re, sys, urllib.request
page = json.load(open(sys.argv[1]))
metrics = open(sys.argv[2]).read()
deps = json.load(open(sys.argv[3]))
base = sys.argv[4]
bad = []
# Routes: the page's requests column is /metrics' count summed over status and outcome.
counts = {}
for m in re.finditer(r'^http_server_requests_seconds_count\{service="([^"]*)",method="([^"]*)",uri="([^"]*)",[^}]*\} (\S+)$', metrics, re.M):
    k = (m[1], m[2], m[3])
    counts[k] = counts.get(k, 0) + float(m[4])
shown = {(r[0], r[1], r[2]): float(r[4]) for r in page["routes"]}
if shown != counts:
    bad.append("routes %r != /metrics %r" % (shown, counts))
for svc in ("gateway", "catalog", "stock"):
    if not any(k[0] == svc for k in shown):
        bad.append("service %s not shown" % svc)
# Dependencies: as /api/dependencies says.
want = {(d["service"], d["dependency"], d["status"]) for d in deps}
got = {(r[0], r[1], r[2]) for r in page["deps"]}
if got != want or not any(d[1].startswith("redis://") for d in got):
    bad.append("deps %r != %r" % (got, want))
# The trace clicked: a row per span of /api/traces/{id}, bars inside the trace.
spans = json.load(urllib.request.urlopen("%s/api/traces/%s" % (base, page["clicked"]), timeout=5))
rows = page["trace"]["rows"]
if sorted(r["span"] for r in rows) != sorted(s["id"] for s in spans):
    bad.append("timeline rows %d != spans %d" % (len(rows), len(spans)))
if any(r["left"] < -0.01 or r["left"] + r["width"] > 100.01 for r in rows):
    bad.append("a bar outside the trace: %r" % rows)
services = {s["localEndpoint"]["serviceName"] for s in spans}
if not {"gateway", "catalog", "stock"} <= services:
    bad.append("the largest trace is not the chain: %r" % services)
if page["errors"]:
    bad.append("page errors: %r" % page["errors"])
print("; ".join(bad) if bad else "%d routes, %d dependencies, %d traces listed; the trace clicked: %d spans of %s drawn"
      % (len(shown), len(got), len(page["traces"]), len(rows), ", ".join(sorted(services))))
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] && pass "the page: $(cat "$LIB_TMP/check.out")" || fail "the page: $(cat "$LIB_TMP/check.out")"
assert_true "screenshots taken" test -s "$SHOTS/overview.png" -a -s "$SHOTS/trace.png"
stop_sonde
finish
