#!/bin/bash
# A request read on one CPU and its response written on another: sonde's
# per-CPU rings are merged by timestamp, so each response meets its request.
# The server reads on a thread pinned to the LAST CPU and answers from a
# thread pinned to CPU 0: draining the rings in CPU order without the merge
# would see every response before its request, and count nothing.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N=400
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (has $(nproc))"
LAST=$(($(nproc) - 1))
PORT=$(free_port)

cat >"$LIB_TMP/server.py" <<'EOF2'
# Thread "reader" (pinned to CPU argv[2]) accepts and reads each request;
# thread "writer" (pinned to CPU argv[3]) writes its response and closes.
import os, queue, socket, sys, threading

port, rcpu, wcpu = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
q = queue.Queue()
body = b"ok\n"
resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)


def writer():
    os.sched_setaffinity(0, {wcpu})
    while True:
        c = q.get()
        c.sendall(resp)
        c.close()


def reader():
    os.sched_setaffinity(0, {rcpu})
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        q.put(c)


threading.Thread(target=writer, daemon=True).start()
reader()
EOF2

step "server: reads on CPU $LAST, writes on CPU 0"
"$PYTHON" "$LIB_TMP/server.py" "$PORT" "$LAST" 0 >"$LIB_TMP/server.out" 2>&1 &
server=$!
track_pid server "$server"
wait_until 10 grep -q ready "$LIB_TMP/server.out" || die "server did not start: $(cat "$LIB_TMP/server.out")"
start_sonde --pid "$server=split"

step "$N requests, one connection each"
ok=0
for ((i = 0; i < N; i++)); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/split/$i") && [ "$code" = 200 ] && ok=$((ok + 1))
done
assert_eq "curl 200s" "$N" "$ok"

assert_metric "every exchange paired across CPUs" \
	'http_server_requests_seconds_count{service="split",method="GET",uri="/api/split/{id}",status="200",outcome="SUCCESS"}' \
	"$N"

finish
