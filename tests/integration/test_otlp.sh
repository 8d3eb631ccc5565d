#!/bin/bash
# --otlp-url: spans and log lines as OTLP/HTTP JSON (URL/v1/traces,
# URL/v1/logs), every body checked with the OpenTelemetry protocol's own
# definitions through protobufjs (node/otlp_validate.js), never by hand: the
# spans of every request, and its access line carrying the same trace.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules @opentelemetry/otlp-transformer
start_nginx "$LIB_DIR/nginx.conf.in"
ODIR=$LIB_TMP/otlp
mkdir -p "$ODIR"
O_PORT=$(free_port)
"$PYTHON" "$HERE/zipkin_receiver.py" "$O_PORT" "$ODIR" --path /v1/traces --path /v1/logs \
	--status 200 >"$LIB_TMP/otlp.log" 2>&1 &
track_pid otlp $!
wait_until 10 grep -q ready "$LIB_TMP/otlp.log" || die "OTLP receiver did not start"
start_sonde --pid "$NGINX_PID=gateway" --environment test --otlp-url "http://127.0.0.1:$O_PORT/"

N=300
step "$N requests, some 404, one with a traceparent"
for ((i = 0; i < N - 1; i++)); do
	if ((i % 10)); then echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; else echo "http://127.0.0.1:$NGINX_PORT/nope/$i"; fi
done | send_requests keep 4 200 2>/dev/null >/dev/null
curl -s -o /dev/null -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
	"http://127.0.0.1:$NGINX_PORT/api/orders"
wait_metric 'sonde_spans_exported_total{exporter="otlp"}' "$N" 10 >/dev/null
wait_metric 'sonde_log_lines_exported_total{exporter="otlp"}' "$N" 10 >/dev/null
assert_eq "spans exported" "$N" "$(metric 'sonde_spans_exported_total{exporter="otlp"}')"
assert_eq "log lines exported" "$N" "$(metric 'sonde_log_lines_exported_total{exporter="otlp"}')"
stop_sonde

step "the bodies, decoded with opentelemetry-proto"
node "$LIB_DIR/node/otlp_validate.js" traces "$ODIR"/*-traces.json >"$LIB_TMP/t.out" 2>"$LIB_TMP/t.err" &&
	pass "$(wc -l <"$LIB_TMP/t.out") trace bodies are ExportTraceServiceRequests" ||
	fail "traces: $(head -3 "$LIB_TMP/t.err")"
node "$LIB_DIR/node/otlp_validate.js" logs "$ODIR"/*-logs.json >"$LIB_TMP/l.out" 2>"$LIB_TMP/l.err" &&
	pass "$(wc -l <"$LIB_TMP/l.out") log bodies are ExportLogsServiceRequests" ||
	fail "logs: $(head -3 "$LIB_TMP/l.err")"
"$PYTHON" - "$ODIR" "$N" >"$LIB_TMP/o.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/o.out")" || fail "$(cat "$LIB_TMP/o.out")"
import glob, json, sys
d, n = sys.argv[1], int(sys.argv[2])
spans, logs = [], []
for f in glob.glob(d + "/*-traces.json"):
    for rs in json.load(open(f))["resourceSpans"]:
        res = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            spans += [(res, s) for s in ss["spans"]]
for f in glob.glob(d + "/*-logs.json"):
    for rl in json.load(open(f))["resourceLogs"]:
        res = {a["key"]: a["value"] for a in rl["resource"]["attributes"]}
        for sl in rl["scopeLogs"]:
            logs += [(res, r) for r in sl["logRecords"]]
def attrs(o):
    return {a["key"]: list(a["value"].values())[0] for a in o.get("attributes", [])}
ok = len(spans) == n and len(logs) == n
ok = ok and all(r["service.name"] == {"stringValue": "gateway"} and "intValue" in r["process.pid"]
                and "host.name" in r for r, _ in spans + logs)
server = {(s["traceId"], s["spanId"]): s for _, s in spans if s["kind"] == 2}
ok = ok and len(server) == n
matched = sum(1 for _, l in logs if (l.get("traceId"), l.get("spanId")) in server)
nf = [s for s in server.values() if attrs(s).get("http.response.status_code") == "404"]
w3c = [s for s in server.values() if s["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"]
ok = ok and matched == n and len(nf) == 30 and len(w3c) == 1 and w3c[0]["parentSpanId"] == "00f067aa0ba902b7"
sev = sorted({(l["severityText"], l["severityNumber"]) for _, l in logs})
ok = ok and sev == [("INFO", 9), ("WARN", 13)]
a = attrs(next(iter(server.values())))
ok = ok and {"http.request.method", "url.path", "http.route", "client.address"} <= set(a)
print("spans %d (SERVER %d), log records %d with their span's ids %d; 404s %d; severities %s" %
      (len(spans), len(server), len(logs), matched, len(nf), sev))
sys.exit(0 if ok else 1)
PY
finish
