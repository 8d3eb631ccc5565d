#!/bin/bash
# --inject-traceparent: nginx (gateway, observed) -> A (python3, observed) ->
# B (NOT observed: a plain server that logs every traceparent it received and
# checks each body's length and sha256). 64 clients for 3 s through nginx,
# GET and POST with bodies of 0, 100, 1500 and 5000 bytes, new and kept-alive
# connections, some chunked (kept-alive: the requests after them must be
# found), some already carrying A's own traceparent.
# Every request B saw carries exactly one traceparent whose trace is A's
# SERVER span's and whose parent is A's CLIENT span (sonde's /api/traces);
# the ones with their own keep it, unchanged; no body is corrupted. The
# gateway's hop is measured (joined or none; never a wrong join). Then heads
# split at every byte boundary and pipelined requests: never corrupted, never
# two headers. SIGKILL of sonde during load: no failed request, no program
# left, no header written after it. A connection made before sonde started
# is written into once it runs.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
B_PORT=$(free_port)
A_PORT=$(free_port)
"$PYTHON" "$HERE/inject_app.py" b "$B_PORT" "$LIB_TMP/b.jsonl" >"$LIB_TMP/b.log" 2>&1 &
B_PID=$!
track_pid app-b "$B_PID"
"$PYTHON" "$HERE/inject_app.py" a "$A_PORT" "$B_PORT" >"$LIB_TMP/a.log" 2>&1 &
A_PID=$!
track_pid app-a "$A_PID"
wait_until 10 grep -q ready "$LIB_TMP/a.log" || die "app A did not start: $(cat "$LIB_TMP/a.log")"
wait_until 10 grep -q ready "$LIB_TMP/b.log" || die "app B did not start: $(cat "$LIB_TMP/b.log")"
UPSTREAM_PORT=$A_PORT NGINX_MIN_WORKERS=1 start_nginx "$HERE/nginx_gateway.conf.in"

start_sonde --pid "$NGINX_PID=gateway" --pid "$A_PID=app-a" --inject-traceparent
M="http://127.0.0.1:$SONDE_PORT"
check() { "$PYTHON" "$HERE/check_inject.py" "$LIB_TMP/b.jsonl" "$M" app-a gateway >"$LIB_TMP/check.out" 2>"$LIB_TMP/check.err"; head -c 3000 "$LIB_TMP/check.err"; }
count() { awk -v k="$1" '$1 == k { print $2 }' "$LIB_TMP/check.out"; }

step "one request by hand: B gets A's context"
curl -sf "http://127.0.0.1:$NGINX_PORT/chain/1?size=100&conn=new" >/dev/null || die "the chain does not answer"
sleep 1.5
check
assert_eq "B saw it with one traceparent, A's CLIENT span under A's SERVER span" 1 "$(count joined)"

step "the caller's traceparent: B gets its trace"
: >"$LIB_TMP/b.jsonl"
T1=4bf92f3577b34da6a3ce929d0e0e4736
curl -sf -H "traceparent: 00-$T1-00f067aa0ba902b7-01" "http://127.0.0.1:$NGINX_PORT/chain/11?size=10&conn=new" \
	>/dev/null || fail "request with a traceparent"
assert_eq "the trace B received" "$T1" "$("$PYTHON" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/in/11": print(" ".join(x.split("-")[1] for x in r["traceparent"]))' "$LIB_TMP/b.jsonl")"

step "B3 from the caller (the seed's Sleuth services send B3): read by the kernel, B gets its trace"
# Each: the header(s) sent to the gateway, the trace id B must receive, its
# flags, and the span id A's SERVER span must name as parent (none: a new trace).
: >"$LIB_TMP/b.jsonl"
T2=80f198ee56343ba864fe8b2a57d3eff7 S2=e457b5a2e4d86bd1
T3=a3ce929d0e0e4736 S3=00f067aa0ba902b7
T4=463ac35c9f6413ad48485a3953bb6124 S4=0020000000000001
curl -sf -H "b3: $T2-$S2-1" "http://127.0.0.1:$NGINX_PORT/chain/21?size=10&conn=new" >/dev/null || fail "b3 single"
curl -sf -H "X-B3-TraceId: $T3" -H "X-B3-SpanId: $S3" -H "X-B3-Sampled: 1" \
	"http://127.0.0.1:$NGINX_PORT/chain/22?size=0&conn=keep" >/dev/null || fail "X-B3 multi"
curl -sf -H "b3: $T4-$S4-0" "http://127.0.0.1:$NGINX_PORT/chain/23?size=10&conn=new" >/dev/null || fail "b3 not sampled"
curl -sf -H "b3: 0" "http://127.0.0.1:$NGINX_PORT/chain/24?size=10&conn=new" >/dev/null || fail "b3: 0"
sleep 1.5
"$PYTHON" - "$LIB_TMP/b.jsonl" "$M" "$T2" "$S2" "0000000000000000$T3" "$S3" "$T4" >"$LIB_TMP/b3.out" 2>&1 <<'PY'
import json, sys, urllib.request
log, url, t2, s2, t3, s3, t4 = sys.argv[1:]
got = {}
for l in open(log):
    r = json.loads(l)
    got[r["path"]] = r["traceparent"]
def parent_of_server(trace, want_parent):
    spans = json.load(urllib.request.urlopen("%s/api/traces/%s" % (url, trace), timeout=5))
    return any(x.get("kind") == "SERVER" and x["localEndpoint"]["serviceName"] == "app-a"
               and x.get("parentId") == want_parent for x in spans)
for path, trace, parent, flags in (("/in/21", t2, s2, "01"), ("/in/22", t3, s3, "01")):
    tps = got.get(path, [])
    ok = len(tps) == 1 and tps[0].split("-")[1] == trace and tps[0].endswith("-" + flags)
    ok = ok and parent_of_server(trace, parent)
    print("%s %s %s" % (path, "ok" if ok else "BAD", tps))
for path, trace in (("/in/23", t4), ("/in/24", None)):
    tps = got.get(path, [])
    ok = len(tps) == 1 and tps[0].endswith("-00") and (trace is None or tps[0].split("-")[1] == trace)
    print("%s %s %s" % (path, "ok" if ok else "BAD", tps))
PY
assert_eq "b3 single header: B in the caller's trace, A's SERVER span the child of the caller's span" \
	ok "$(awk '$1 == "/in/21" { print $2 }' "$LIB_TMP/b3.out")"
assert_eq "X-B3-TraceId (16 digits), X-B3-SpanId, X-B3-Sampled: the same" \
	ok "$(awk '$1 == "/in/22" { print $2 }' "$LIB_TMP/b3.out")"
assert_eq "b3 with sampling state 0: the caller's trace, not sampled (flags 00)" \
	ok "$(awk '$1 == "/in/23" { print $2 }' "$LIB_TMP/b3.out")"
assert_eq "b3: 0 alone: a new trace, not sampled" ok "$(awk '$1 == "/in/24" { print $2 }' "$LIB_TMP/b3.out")"
grep -q BAD "$LIB_TMP/b3.out" && cat "$LIB_TMP/b3.out"

step "30 requests one after the other through the gateway: its hop joined too"
: >"$LIB_TMP/b.jsonl"
for ((i = 0; i < 30; i++)); do
	curl -sf "http://127.0.0.1:$NGINX_PORT/chain/$((100 + i))?size=$((i * 200))&conn=keep" >/dev/null ||
		fail "request $i"
done
sleep 1.5
check
assert_eq "B's traceparents that are A's spans" 30 "$(count joined)"
assert_eq "A SERVER spans children of the gateway's CLIENT span of the same request" 30 "$(count gw_joined)"
assert_eq "... of another request's" 0 "$(count gw_wrong)"

step "64 clients for 3 s: GET and POST, 0 to 5000 bytes, new and kept-alive connections"
: >"$LIB_TMP/b.jsonl"
run_wrk "$LIB_TMP/wrk.out" -t2 -c64 -d3s --timeout 10s -s "$HERE/inject_load.lua" \
	"http://127.0.0.1:$NGINX_PORT/" -- /chain/
sent=$(wrk_requests "$LIB_TMP/wrk.out")
assert_gt "wrk sent requests" 500 "$sent"
assert_eq "no socket errors" 0 "$(wrk_socket_errors "$LIB_TMP/wrk.out")"
assert_eq "no failed calls from A to B" 0 "$(wrk_non2xx "$LIB_TMP/wrk.out")"
sleep 2
check
cat "$LIB_TMP/check.out" | sed 's/^/        /'
assert_true "B saw every request ($(count requests) >= $sent)" [ "$(count requests)" -ge "$sent" ]
assert_eq "bodies corrupted" 0 "$(count corrupted)"
assert_gt "requests with their own traceparent kept it" 0 "$(count own_kept)"
assert_eq "... changed or with a second one" 0 "$(count own_bad)"
assert_eq "requests without a traceparent" 0 "$(count missing)"
assert_eq "requests with two" 0 "$(count duplicated)"
assert_eq "traceparents whose ids are A's spans" "$(count injected)" "$(($(count joined) + $(count unfinished)))"
assert_true "... except the requests wrk left at its end ($(count unfinished) <= 64)" [ "$(count unfinished)" -le 64 ]
assert_eq "traceparents that are not A's spans" 0 "$(count wrong)"
assert_eq "traceparents whose trace sonde does not hold" 0 "$(count not_found)"
assert_eq "A SERVER spans joined to another request's gateway span" 0 "$(count gw_wrong)"
assert_gt "A SERVER spans children of the gateway's CLIENT span of the same request (proxy rule: a unique request line)" \
	"$(($(count joined) * 9 / 10))" "$(($(count gw_joined) + $(count gw_unfinished)))"
echo "  note: the gateway's hop joined for $(count gw_joined) of $(count joined) requests, $(count gw_unfinished) more whose client left at wrk's end"
assert_gt "sonde_inject_requests_total" 0 "$(metric sonde_inject_requests_total)"
assert_eq "connections lost in a chunked body" 0 "$(metric 'sonde_inject_skipped_total{reason="chunked"}')"

step "heads split at every byte boundary, pipelined requests"
: >"$LIB_TMP/b.jsonl"
bad=0
for ((at = 1; at < 330; at++)); do
	[ "$(curl -s "http://127.0.0.1:$A_PORT/split/$at?size=200&at=$at")" = 200 ] || bad=$((bad + 1))
done
for ((i = 0; i < 20; i++)); do
	[ "$(curl -s "http://127.0.0.1:$A_PORT/pipe/$((500 + i))?size=$((i * 300))")" = 200 ] || bad=$((bad + 1))
done
assert_eq "requests that failed" 0 "$bad"
sleep 1
check
assert_eq "B saw them all" $((329 + 60)) "$(count raw)"
assert_eq "bodies corrupted" 0 "$(count corrupted)"
assert_eq "requests with two traceparents" 0 "$(count duplicated)"
assert_gt "heads split before their end counted" 0 "$(metric 'sonde_inject_skipped_total{reason="split"}')"
assert_gt "second requests of a send counted" 0 "$(metric 'sonde_inject_skipped_total{reason="pipelined"}')"
assert_eq "the request alone after each pipelined pair: injected (the pair was followed)" 20 "$(count after_injected)"

step "heads and bodies over 1 KiB and over 4 KiB"
: >"$LIB_TMP/b.jsonl"
skipped0=$(metric 'sonde_inject_skipped_total{reason="too_long"}')
# 20 heads of ~1.4 KiB on one kept-alive connection (curl reuses it, so A's
# thread reuses its own to B), bodies of 0, 2,500 and 5,000 bytes; then 10 heads
# of ~5.2 KiB on new connections.
urls=()
for ((i = 0; i < 20; i++)); do urls+=("http://127.0.0.1:$A_PORT/call/$((700 + i))?size=$(((i % 3) * 2500))&conn=keep&pad=1200"); done
ok=$(curl -s "${urls[@]}" | grep -o 200 | wc -l)
for ((i = 0; i < 10; i++)); do
	curl -s "http://127.0.0.1:$A_PORT/call/$((800 + i))?size=$(((i % 2) * 5000))&conn=new&pad=5000" | grep -q 200 && ok=$((ok + 1))
done
assert_eq "requests answered 200" 30 "$ok"
sleep 1
check
assert_eq "B saw them all" 30 "$(count requests)"
assert_eq "bodies corrupted" 0 "$(count corrupted)"
assert_eq "requests with two traceparents" 0 "$(count duplicated)"
assert_eq "heads of ~1.4 KiB: injected, and joined to A's spans" 20 "$(count joined)"
assert_eq "heads of ~5.2 KiB: sent unchanged" 10 "$(count big_plain)"
assert_eq "... and counted as too_long" 10 "$(($(metric 'sonde_inject_skipped_total{reason="too_long"}') - skipped0))"

step "a second sonde observing B: one trace across the two, through the header alone"
SONDE1_PID=$SONDE_PID SONDE1_PORT=$SONDE_PORT
SONDE_PORT=
start_sonde --pid "$B_PID=app-b" --inject-traceparent
SONDE2_PORT=$SONDE_PORT SONDE2_PID=$SONDE_PID SONDE_PID=$SONDE1_PID SONDE_PORT=$SONDE1_PORT
for ((i = 0; i < 40; i++)); do
	curl -sf "http://127.0.0.1:$A_PORT/call/$((900 + i))?size=$((i * 50))&conn=keep" >/dev/null ||
		fail "request $i"
done
sleep 1.5
"$PYTHON" - "http://127.0.0.1:$SONDE1_PORT" "http://127.0.0.1:$SONDE2_PORT" >"$LIB_TMP/two.out" <<'PY'
import json, sys, urllib.request
a, b = sys.argv[1], sys.argv[2]
get = lambda u: json.load(urllib.request.urlopen(u, timeout=10))
spans = [s for t in get(b + "/api/traces?limit=1000&serviceName=app-b") for s in t
         if s.get("kind") == "SERVER" and s.get("tags", {}).get("http.path", "").startswith("/in/9")]
ok = 0
for s in spans:
    t = {x["id"]: x for x in get(a + "/api/traces/" + s["traceId"])}
    p = t.get(s.get("parentId"))
    ok += bool(p and p.get("kind") == "CLIENT" and p["localEndpoint"]["serviceName"] == "app-a"
               and p["tags"].get("http.path") == s["tags"]["http.path"])
print(len(spans), ok)
PY
read -r n ok <"$LIB_TMP/two.out"
assert_eq "B's SERVER spans (second sonde)" 40 "$n"
assert_eq "... children of A's CLIENT span (first sonde) with the same path" 40 "$ok"
kill -TERM "$SONDE2_PID"
wait_until 5 lib_dead "$SONDE2_PID" || fail "the second sonde did not stop"

step "SIGKILL of sonde during load: no failed request, nothing left, no more headers"
run_wrk "$LIB_TMP/wrk2.out" -t2 -c16 -d4s --timeout 10s -s "$HERE/inject_load.lua" \
	"http://127.0.0.1:$NGINX_PORT/" -- /chain/ &
WRK_PID=$!
sleep 1.5
kill -KILL "$SONDE_PID"
wait "$WRK_PID"
assert_eq "socket errors" 0 "$(wrk_socket_errors "$LIB_TMP/wrk2.out")"
if ! assert_eq "non-2xx answers" 0 "$(wrk_non2xx "$LIB_TMP/wrk2.out")"; then
	# Which hop failed: A says why its call to B failed, nginx why A's answer did.
	echo "        A's errors:"; grep -v '^ready' "$LIB_TMP/a.log" | tail -15 | sed 's/^/          /'
	echo "        nginx's errors:"; tail -5 "$NGINX_PREFIX/error.log" | sed 's/^/          /'
	echo "        B's errors:"; grep -v '^ready' "$LIB_TMP/b.log" | tail -5 | sed 's/^/          /'
fi
# wrk ran 2.5 s past the kill: a request now is well past 1 s.
: >"$LIB_TMP/b.jsonl"
curl -sf "http://127.0.0.1:$A_PORT/call/7?size=100&conn=keep" >/dev/null || fail "A after sonde"
assert_eq "B's request after: no traceparent" '[]' \
	"$("$PYTHON" -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readline())["traceparent"]))' "$LIB_TMP/b.jsonl")"
assert_true "no sonde_inject program left (bpftool prog)" wait_until 5 bash -c \
	"! bpftool prog show 2>/dev/null | grep -q 'sonde_inj'"

step "a connection A made to B before sonde started: written into once sonde runs"
# One client connection to A (so one thread of A, and its one kept-alive
# connection to B): a request before sonde starts, five after.
: >"$LIB_TMP/b.jsonl"
cat >"$LIB_TMP/pre.py" <<'PY'
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
def one(i):
    c.request("GET", "/call/%d?size=100&conn=keep" % i)
    r = c.getresponse()
    r.read()
    return r.status
print(one(900), flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
print(" ".join(str(one(901 + i)) for i in range(5)), flush=True)
PY
"$PYTHON" "$LIB_TMP/pre.py" "$A_PORT" "$LIB_TMP/pre.flag" >"$LIB_TMP/pre.out" 2>&1 &
PRE_PID=$!
track_pid client "$PRE_PID"
wait_until 10 grep -q 200 "$LIB_TMP/pre.out" || fail "the first request: $(cat "$LIB_TMP/pre.out")"
start_sonde --pid "$A_PID=app-a" --inject-traceparent -v
touch "$LIB_TMP/pre.flag"
wait "$PRE_PID"
assert_eq "the five requests after" "200 200 200 200 200" "$(tail -1 "$LIB_TMP/pre.out")"
sleep 1.5
check
assert_eq "B's requests on the connection made before sonde: injected, joined to A's spans" 5 "$(count joined)"
assert_eq "... the one before sonde: none" 1 "$(count missing)"
assert_eq "bodies corrupted" 0 "$(count corrupted)"
assert_true "sonde said it took the connection over" grep -q "made before sonde started" "$SONDE_LOG"
stop_sonde

finish
