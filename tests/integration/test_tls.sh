#!/bin/bash
# TLS read in plaintext through the library's calls (uprobes on SSL_read,
# SSL_write and their _ex forms, SSL_set_fd): nginx over TLS with curl -k,
# kept-alive and new connections, counted exactly as plaintext; a Python
# HTTPS client calling a Python HTTPS server, client and server spans joined;
# a client that reads each response 7 bytes at a time (SSL_read served from
# the library's buffer, no syscall: tied by its SSL *); a Node.js HTTPS server
# (OpenSSL inside the node binary); PostgreSQL with ssl=on and psycopg2
# sslmode=require; redis-server with TLS, redis-py and redis-cli --tls; SIGKILL of sonde under load: no client error, no probe left.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
TLS=$LIB_TMP/tls
mkdir -p "$TLS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-keyout "$TLS/key.pem" -out "$TLS/cert.pem" >"$TLS/openssl.log" 2>&1 ||
	die "openssl req: $(tail -3 "$TLS/openssl.log")"
chmod 644 "$TLS/cert.pem" "$TLS/key.pem"
h=http_server_requests_seconds_count

# observed_client NAME SCRIPT ARGS...: a Python client that loads its TLS
# library, prints "ready" and waits for $TLS/NAME.go; sonde observes it
# (a fresh sonde, as NAME), then the gate opens and its "done" line is awaited.
observed_client() {
	local name=$1 pid
	shift
	"$PYTHON" "$@" "$TLS/$name.go" >"$TLS/$name.out" 2>&1 &
	pid=$!
	track_pid "$name" "$pid"
	wait_until 10 grep -q ready "$TLS/$name.out" || die "$name: $(cat "$TLS/$name.out")"
	SONDE_PORT=
	start_sonde --pid "$pid=$name"
	touch "$TLS/$name.go"
	wait_until 20 grep -q done "$TLS/$name.out" || fail "$name: $(cat "$TLS/$name.out")"
}

sed -e "s|listen 127.0.0.1:@PORT@;|listen 127.0.0.1:@PORT@ ssl;\n        ssl_certificate $TLS/cert.pem;\n        ssl_certificate_key $TLS/key.pem;|" \
	-e '/listen \[::1\]/d' -e '/listen unix:/d' "$LIB_DIR/nginx.conf.in" >"$TLS/nginx.conf.in"
start_nginx "$TLS/nginx.conf.in"
B=https://127.0.0.1:$NGINX_PORT
start_sonde --pid "$NGINX_PID=nginx"
assert_gt "TLS libraries probed (nginx's libssl.so.3)" 0 "$(metric sonde_tls_libraries)"

step "nginx over TLS: kept-alive and new connections, curl -k"
K=200 C=50 F=20
for ((i = 0; i < K; i++)); do echo "url = \"$B/api/products/$i\""; echo 'output = "/dev/null"'; done >"$TLS/keep.cfg"
curl -k -s -w '%{http_code}\n' -K "$TLS/keep.cfg" >"$TLS/keep.out" # one connection, kept alive
for ((i = 0; i < C; i++)); do curl -k -s -o /dev/null -w '%{http_code}\n' "$B/api/products/$i"; done >"$TLS/new.out"
for ((i = 0; i < F; i++)); do curl -k -s -o /dev/null -w '%{http_code}\n' "$B/api/fail"; done >"$TLS/fail.out"
assert_eq "curl's answers: 200s and 500s" "$((K + C)) $F" "$(grep -c '^200$' "$TLS/keep.out" "$TLS/new.out" |
	awk -F: '{ s += $2 } END { print s }') $(grep -c '^500$' "$TLS/fail.out")"
assert_metric "GET /api/products/{id} 200" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" $((K + C))
assert_metric "GET /api/fail 500" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/fail\",status=\"500\",outcome=\"SERVER_ERROR\"}" "$F"
assert_eq "TLS connections read" $((1 + C + F)) "$(metric sonde_tls_connections_total)"
assert_eq "calls without a known socket" 0 "$(metric sonde_tls_no_socket_total)"
assert_eq "nothing parsed as HTTP from the ciphertext" 0 \
	"$(metric_sum 'sonde_parse_errors_total{protocol="http"}')"

step "a client that reads 7 bytes at a time: SSL_read from the library's buffer"
start_gated trickle "$PYTHON" "$HERE/tls_app.py" trickle 127.0.0.1 "$NGINX_PORT" 30 7
trickle_pid=$GATED_PID
stop_sonde
SONDE_PORT=
start_sonde --pid "$NGINX_PID=nginx" --pid "$trickle_pid=trickle"
open_gate trickle
wait_until 20 grep -q done "$LIB_TMP/trickle.out" || fail "trickle: $(cat "$LIB_TMP/trickle.out")"
assert_metric "the client's 30 requests, one connection" \
	"http_client_requests_seconds_count{service=\"trickle\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\",peer=\"127.0.0.1:$NGINX_PORT\"}" 30
assert_metric "nginx's side of them" \
	"$h{service=\"nginx\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\"}" 30
assert_eq "calls without a known socket" 0 "$(metric sonde_tls_no_socket_total)"
stop_sonde

step "a Python HTTPS client calling a Python HTTPS server: spans joined"
APP_PORT=$(free_port)
"$PYTHON" "$HERE/tls_app.py" server "$APP_PORT" "$TLS/cert.pem" "$TLS/key.pem" >"$TLS/server.out" 2>&1 &
srv_pid=$!
track_pid pyserver "$srv_pid"
wait_until 10 grep -q ready "$TLS/server.out" || die "tls_app server: $(cat "$TLS/server.out")"
start_gated pyclient "$PYTHON" "$HERE/tls_app.py" client "https://127.0.0.1:$APP_PORT" 40
cli_pid=$GATED_PID
SONDE_PORT=
start_sonde --pid "$srv_pid=pyserver" --pid "$cli_pid=pyclient"
open_gate pyclient
wait_until 20 grep -q done "$LIB_TMP/pyclient.out" || fail "client: $(cat "$LIB_TMP/pyclient.out")"
assert_metric "the server's 40 requests" \
	"$h{service=\"pyserver\",method=\"GET\",uri=\"/item/{id}\",status=\"200\",outcome=\"SUCCESS\"}" 40
assert_metric "the client's 40 calls" \
	"http_client_requests_seconds_count{service=\"pyclient\",method=\"GET\",uri=\"/item/{id}\",status=\"200\",outcome=\"SUCCESS\",peer=\"127.0.0.1:$APP_PORT\"}" 40
sleep 1
curl -sf "http://127.0.0.1:$SONDE_PORT/api/traces?limit=1000&serviceName=pyserver" >"$TLS/traces.json"
"$PYTHON" - "$TLS/traces.json" >"$TLS/join.out" 2>&1 <<'PY'
import json, sys
traces = json.load(open(sys.argv[1]))
joined = wrong = servers = 0
for t in traces:
    by_id = {s["id"]: s for s in t}
    for s in t:
        if s["kind"] != "SERVER" or s["localEndpoint"]["serviceName"] != "pyserver":
            continue
        servers += 1
        p = by_id.get(s.get("parentId"))
        if p and p["kind"] == "CLIENT" and p["localEndpoint"]["serviceName"] == "pyclient" \
                and p["tags"].get("http.path") == s["tags"].get("http.path"):
            joined += 1
        elif s.get("parentId"):
            wrong += 1
print("SERVER spans %d, children of the client's CLIENT span for the same path %d, other parents %d"
      % (servers, joined, wrong))
sys.exit(0 if servers == 40 and joined == 40 and wrong == 0 else 1)
PY
[ $? = 0 ] && pass "$(cat "$TLS/join.out")" || fail "$(cat "$TLS/join.out")"
stop_sonde

step "a Node.js HTTPS server (OpenSSL inside the node binary)"
NODE_PORT=$(free_port)
cat >"$TLS/server.js" <<'JS'
const https = require("node:https"), fs = require("node:fs");
const [port, cert, key] = process.argv.slice(2);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  res.writeHead(req.url === "/fail" ? 500 : 200, { "content-type": "text/plain" });
  res.end("node " + req.url + "\n");
}).listen(+port, "127.0.0.1", () => console.log("ready " + process.version));
JS
node "$TLS/server.js" "$NODE_PORT" "$TLS/cert.pem" "$TLS/key.pem" >"$TLS/node.out" 2>&1 &
node_pid=$!
track_pid node "$node_pid"
wait_until 10 grep -q ready "$TLS/node.out" || die "node server: $(cat "$TLS/node.out")"
SONDE_PORT=
start_sonde --pid "$node_pid=nodesrv"
NB=https://127.0.0.1:$NODE_PORT
for ((i = 0; i < 60; i++)); do echo "url = \"$NB/api/orders/$i\""; echo 'output = "/dev/null"'; done >"$TLS/node.cfg"
curl -k -s -w '%{http_code}\n' -K "$TLS/node.cfg" >"$TLS/node_keep.out"
for ((i = 0; i < 20; i++)); do curl -k -s -o /dev/null -w '%{http_code}\n' "$NB/api/orders/$i"; done >"$TLS/node_new.out"
assert_eq "curl's 200s" 80 "$(cat "$TLS/node_keep.out" "$TLS/node_new.out" | grep -c '^200$')"
assert_metric "$(sed -n 's/ready //p' "$TLS/node.out"): GET /api/orders/{id} 200" \
	"$h{service=\"nodesrv\",method=\"GET\",uri=\"/api/orders/{id}\",status=\"200\",outcome=\"SUCCESS\"}" 80
assert_eq "calls without a known socket" 0 "$(metric sonde_tls_no_socket_total)"
stop_sonde

step "PostgreSQL with ssl=on, psycopg2 sslmode=require"
install -o postgres -m 600 "$TLS/key.pem" "$TLS/pg_key.pem"
install -o postgres -m 644 "$TLS/cert.pem" "$TLS/pg_cert.pem"
PG_OPTS="-c ssl=on -c ssl_cert_file=$TLS/pg_cert.pem -c ssl_key_file=$TLS/pg_key.pem" start_postgres
cat >"$TLS/pg_client.py" <<'PY'
import os, sys, time
import psycopg2  # links libpq, which links libssl.so.3: mapped before sonde starts
port, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                        sslmode="require")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS tls_items (id int primary key, name text)")
for i in range(n):
    cur.execute("INSERT INTO tls_items VALUES (%s, %s)", (i, "item %d" % i))
for i in range(n):
    cur.execute("SELECT name FROM tls_items WHERE id = %s", (i,))
    cur.fetchone()
print("done ssl" if conn.info.ssl_in_use else "done plain", flush=True)
conn.close()
PY
Q=25
observed_client pgclient "$TLS/pg_client.py" "$PG_PORT" "$Q"
assert_eq "psycopg2 over TLS (its own word)" "done ssl" "$(tail -1 "$TLS/pgclient.out")"
s="service=\"pgclient\",db=\"postgres\""
assert_metric "INSERTs, read through libpq's TLS" \
	"database_query_duration_seconds_count{$s,operation=\"INSERT\",table=\"tls_items\",outcome=\"SUCCESS\"}" "$Q"
assert_metric "SELECTs" \
	"database_query_duration_seconds_count{$s,operation=\"SELECT\",table=\"tls_items\",outcome=\"SUCCESS\"}" "$Q"
assert_eq "connections that negotiated encryption" 1 "$(metric 'sonde_connections_encrypted_total{protocol="postgresql"}')"
stop_sonde

step "redis-server with TLS, a redis-py client over TLS: hits and misses"
RPORT=$(free_port)
redis-server --port 0 --tls-port "$RPORT" --bind 127.0.0.1 --tls-cert-file "$TLS/cert.pem" \
	--tls-key-file "$TLS/key.pem" --tls-auth-clients no --save '' --appendonly no \
	--dir "$TLS" >"$TLS/redis.log" 2>&1 &
track_pid redis-tls $!
wait_until 10 sh -c "redis-cli --tls --insecure -p $RPORT ping 2>/dev/null | grep -q PONG" ||
	die "redis-server with TLS did not start: $(tail -3 "$TLS/redis.log")"
cat >"$TLS/redis_client.py" <<'PY'
import os, sys, time
import redis  # imports ssl: libssl.so.3 is mapped before sonde starts
port, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_cert_reqs=None)
hits = 0
for i in range(n):
    if r.get("products:%d" % i) is None:
        r.set("products:%d" % i, "p", ex=60)
    else:
        hits += 1
for i in range(n // 2):  # now cached: hits
    hits += r.get("products:%d" % i) is not None
print("done", hits, flush=True)
PY
observed_client rclient "$TLS/redis_client.py" "$RPORT" 40
assert_eq "the client's own tally of hits" "done 20" "$(cat "$TLS/rclient.out" | tail -1)"
c=cache_gets_total
assert_metric "misses (40 keys read first)" "$c{service=\"rclient\",cache=\"products\",result=\"miss\"}" 40
assert_metric "hits (20 read again)" "$c{service=\"rclient\",cache=\"products\",result=\"hit\"}" 20
assert_metric "SETs" "redis_commands_seconds_count{service=\"rclient\",command=\"SET\",outcome=\"SUCCESS\"}" 40
stop_sonde

step "redis-cli --tls: hits and misses on redis-cli's side"
# redis-cli connects (TLS handshake included) before sonde starts; its GETs come after:
# each SSL_write and SSL_read is tied to the socket by the syscall it makes.
{
	wait_until 20 test -e "$TLS/rcli.go"
	for ((i = 0; i < 40; i++)); do echo "GET products:$i"; done  # set by redis-py: hits
	for ((i = 100; i < 110; i++)); do echo "GET products:$i"; done # never set: misses
} | redis-cli --tls --insecure -p "$RPORT" >"$TLS/rcli.out" 2>&1 &
RCLI=$!
track_pid rcli "$RCLI"
wait_until 10 sh -c "grep -q libssl /proc/$RCLI/maps" || die "redis-cli has no libssl mapped"
SONDE_PORT=
start_sonde --pid "$RCLI=rcli"
touch "$TLS/rcli.go"
wait_until 20 lib_dead "$RCLI" || fail "redis-cli did not finish: $(tail -3 "$TLS/rcli.out")"
assert_eq "redis-cli's answers: 40 values, 10 nils" "40 10" \
	"$(grep -c '^p$' "$TLS/rcli.out") $(grep -c '^$' "$TLS/rcli.out")"
assert_metric "hits" "$c{service=\"rcli\",cache=\"products\",result=\"hit\"}" 40
assert_metric "misses" "$c{service=\"rcli\",cache=\"products\",result=\"miss\"}" 10
stop_sonde

step "SIGKILL of sonde under load: no client error, no probe left"
SONDE_PORT=
start_sonde --pid "$NGINX_PID=nginx"
progs=$(bpf_progs_of_pid "$SONDE_PID" | awk '{ print $1 }')
assert_gt "sonde's programs loaded" 0 "$(echo "$progs" | grep -c .)"
for ((i = 0; i < 3000; i++)); do echo "url = \"$B/api/products/$i\""; echo 'output = "/dev/null"'; done >"$TLS/load.cfg"
curl -k -s -w '%{http_code}\n' -K "$TLS/load.cfg" >"$TLS/load.out" &
load_pid=$!
sleep 0.5
kill -KILL "$SONDE_PID"
wait "$load_pid"
assert_eq "curl's 3000 answers, all 200" "3000 3000" \
	"$(grep -c . "$TLS/load.out") $(grep -c '^200$' "$TLS/load.out")"
# shellcheck disable=SC2086
wait_until 5 bpf_all_gone $progs && pass "no program of sonde's left" || fail "programs left: $progs"
assert_eq "no uprobe left in tracefs" 0 "$(awk 'END { print NR }' /sys/kernel/tracing/uprobe_events 2>/dev/null)"
finish
