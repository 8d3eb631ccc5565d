#!/bin/bash
# --capture-app-logs: what an unmodified Flask service writes to its stdout
# and stderr (the logging module, a JSON line, stderr) is re-emitted as JSON
# lines with the trace of the request the writing thread was serving. Each
# request carries a traceparent of a trace id known to the test: every line
# the service wrote while serving it must carry exactly that id; lines
# written outside requests carry none. 16 concurrent clients.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
N=800
APP_PORT=$(free_port)
start_gated app "$PYTHON" "$HERE/log_app.py" "$APP_PORT"
app_pid=$GATED_PID
start_sonde --pid "$app_pid=shop" --capture-app-logs --log-file "$LIB_TMP/sonde.log"
open_gate app
wait_until 20 lib_http_ok "http://127.0.0.1:$APP_PORT/work/warmup" || die "the app does not answer"

step "$N requests, 16 at a time, each with its own trace id"
"$PYTHON" - "$APP_PORT" "$N" >"$LIB_TMP/client.out" 2>&1 <<'PY' || fail "client: $(tail -3 "$LIB_TMP/client.out")"
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, n = int(sys.argv[1]), int(sys.argv[2])
def one(i):
    req = urllib.request.Request("http://127.0.0.1:%d/work/r%d" % (port, i))
    req.add_header("traceparent", "00-%032x-%016x-01" % (0x5eed0000 + i, 0xabc0000 + i))
    assert urllib.request.urlopen(req).read() == b"ok\n"
with ThreadPoolExecutor(16) as ex:
    list(ex.map(one, range(n)))
print("sent", n)
PY
sleep 1.5 # two writer periods
app_lines=$(metric 'sonde_log_lines_total{source="app"}')
stop_sonde

step "the lines"
"$PYTHON" - "$LIB_TMP/sonde.log" "$N" >"$LIB_TMP/check.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/check.out")" || fail "$(cat "$LIB_TMP/check.out")"
import collections, json, re, sys
n = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
app = [l for l in lines if l["log.logger"] == "app" or "event" in l]
want = {"r%d" % i: "%032x" % (0x5eed0000 + i) for i in range(n)}
seen = collections.Counter()
wrong = missing = ticks_traced = ticks = 0
for l in app:
    text = l.get("message", "")
    m = re.search(r"(?:handling|while handling) (r\d+)$", text)
    ident = m.group(1) if m else l.get("id")
    if text.startswith("20") and " tick " in text:
        ticks += 1
        ticks_traced += "trace.id" in l
        continue
    if ident not in want:
        continue
    kind = "json" if "event" in l else ("stderr" if l.get("log.iostream") == "stderr" else "plain")
    if "trace.id" not in l:
        missing += 1
    elif l["trace.id"] != want[ident]:
        wrong += 1
    else:
        seen[kind] += 1
# Levels: logging's INFO, the JSON line's own "level", stderr's ERROR prefix.
lv = collections.Counter((("json" if "event" in l else l.get("log.iostream")), l["log.level"]) for l in app
                         if l.get("id") or "handling" in l.get("message", ""))
print("app lines %d; with their request's trace id: plain %d, json %d, stderr %d of %d each; "
      "wrong %d; without one %d; ticks %d, with a trace id %d; levels %s" %
      (len(app), seen["plain"], seen["json"], seen["stderr"], n, wrong, missing, ticks,
       ticks_traced, dict(lv)))
ok = wrong == 0 and ticks > 0 and ticks_traced == 0
ok = ok and min(seen["plain"], seen["json"], seen["stderr"]) >= 0.99 * n
ok = ok and lv[("json", "WARN")] > 0 and lv[("stderr", "ERROR")] > 0 and lv[("stdout", "INFO")] > 0
js = [l for l in app if "event" in l]
ok = ok and all(l["event"] == "handled" and "@timestamp" in l and "message" not in l for l in js)
sys.exit(0 if ok else 1)
PY
assert_gt "app lines counted" $((3 * N)) "$app_lines"
finish
