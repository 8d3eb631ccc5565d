#!/bin/bash
# An event loop serving 32 requests at once, each of which reads Redis
# (Node.js http + ioredis, one thread): a Redis call may only be linked to a
# request when that cannot be wrong. 0 wrong parents; the linked share is
# printed (docs/tracing.md: one thread serving several requests is linked
# only when exactly one is in flight).
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
need_node_modules ioredis

start_redis
start_zipkin_receiver

APP_PORT=$(free_port)
cat >"$LIB_TMP/loop.js" <<'JS'
// node loop.js PORT REDIS_PORT: GET /loop/ID -> GET ID:k from Redis -> 200
const http = require('http');
const Redis = require(process.env.NODE_MODULES + '/ioredis');
const r = new Redis({ host: '127.0.0.1', port: Number(process.argv[3]) });
http.createServer(async (req, res) => {
  const id = req.url.split('/').pop();
  const v = await r.get(id + ':k');
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(v === null ? 'miss' : 'hit');
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
JS
node "$LIB_TMP/loop.js" "$APP_PORT" "$REDIS_PORT" >"$LIB_TMP/loop.log" 2>&1 &
APP_PID=$!
track_pid node-loop "$APP_PID"
wait_until 10 grep -q ready "$LIB_TMP/loop.log" || die "loop.js did not start: $(cat "$LIB_TMP/loop.log")"

start_sonde --pid "$APP_PID=node-loop" --zipkin-url "http://127.0.0.1:$Z_PORT/api/v2/spans"
step "32 concurrent clients for 5 s"
run_wrk "$LIB_TMP/wrk.out" -t2 -c32 -d5s -s "$HERE/unique_ids.lua" "http://127.0.0.1:$APP_PORT/" -- /loop/
assert_gt "wrk sent requests" 1000 "$(wrk_requests "$LIB_TMP/wrk.out")"
step "one request at a time: those are linked"
for i in 1 2 3 4 5; do curl -sf "http://127.0.0.1:$APP_PORT/loop/single-$i" >/dev/null; done
unlinked=$(metric 'sonde_trace_links_total{link="unlinked"}')
stop_sonde
"$PYTHON" "$HERE/check_traces.py" loop "$ZDIR" node-loop --must-link single- >"$LIB_TMP/check.out" 2>&1 &&
	pass "$(cat "$LIB_TMP/check.out")" || fail "$(cat "$LIB_TMP/check.out")"
assert_gt "calls left unlinked under load are counted" 0 "$unlinked"
finish
