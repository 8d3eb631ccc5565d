#!/bin/bash
# A keep-alive connection opened before sonde attached: requests sent on it
# afterwards are counted, the ones before are not.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

start_nginx "$LIB_DIR/nginx.conf.in"

cat >"$LIB_TMP/client.py" <<'EOF'
# One keep-alive connection: PRE requests, wait for FLAG, POST requests.
# Fails (exit 3) if the connection is ever replaced.
import http.client, os, sys, time

port, path, pre, post = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
flag, out = sys.argv[5], sys.argv[6]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.connect()
local = conn.sock.getsockname()


def one():
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    if conn.sock is None or conn.sock.getsockname() != local:
        print("connection was replaced", file=sys.stderr)
        sys.exit(3)
    return r.status


ok = sum(one() == 200 for _ in range(pre))
with open(out + ".pre", "w") as f:
    f.write("%d %s:%d\n" % (ok, *local))
for _ in range(600):  # 60 s at most
    if os.path.exists(flag):
        break
    time.sleep(0.1)
else:
    sys.exit(4)
ok = sum(one() == 200 for _ in range(post))
with open(out, "w") as f:
    f.write("%d\n" % ok)
conn.close()
EOF

step "5 requests on a keep-alive connection, before sonde"
"$PYTHON" "$LIB_TMP/client.py" "$NGINX_PORT" /api/orders 5 50 "$LIB_TMP/go" "$LIB_TMP/client.out" &
client=$!
track_pid client "$client"
wait_until 10 test -s "$LIB_TMP/client.out.pre" || die "client did not send its first requests"
read -r pre local <"$LIB_TMP/client.out.pre"
assert_eq "200s before sonde (connection $local)" 5 "$pre"

step "start sonde, then 50 more requests on the same connection"
start_sonde --pid "$NGINX_PID"
touch "$LIB_TMP/go"
wait "$client"
rc=$?
assert_eq "client exit status (3: connection replaced)" 0 "$rc"
post=$(cat "$LIB_TMP/client.out" 2>/dev/null)
assert_eq "200s after sonde started" 50 "${post:-0}"

assert_metric "GET /api/orders 200 counted" \
	'http_server_requests_seconds_count{service="nginx",method="GET",uri="/api/orders",status="200",outcome="SUCCESS"}' \
	"${post:-0}"

finish
