#!/bin/bash
# Rate limits and bad input on a limited port: a request split at every byte,
# pipelined requests, a head over 16 KiB, bytes that are not HTTP, chunked
# bodies holding request lines. Never a
# wrong 429, never a broken connection for an allowed request; what the kernel
# could not match is allowed and counted (sonde_ratelimit_skipped_total).
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
APP_PORT=$(free_port)
start_gated app "$PYTHON" "$HERE/limited_app.py" "$APP_PORT"
app_pid=$GATED_PID
open_gate app
wait_until 10 lib_port_listening "$APP_PORT" || die "the app did not start"
cat >"$LIB_TMP/sonde.yaml" <<'YAML'
rate_limits:
  - {match: "POST /api/auth/login", limit: 1, window: 60s}
YAML
start_sonde --pid "$app_pid=auth" --config "$LIB_TMP/sonde.yaml"
wait_until 5 bash -c "[ \"\$(curl -s http://127.0.0.1:$SONDE_PORT/metrics | grep -c '^rate_limit_requests_total{service=\"auth\"')\" -gt 0 ]" ||
	fail "the limited port was not found"
assert_eq "the one allowed login" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$APP_PORT/api/auth/login")"
assert_eq "the next is limited" 429 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$APP_PORT/api/auth/login")"
skipped() { metric "sonde_ratelimit_skipped_total{reason=\"$1\"}"; }

step "each case on a fresh connection, while logins from this IP are over the limit"
"$PYTHON" - "$APP_PORT" >"$LIB_TMP/cases.out" 2>&1 <<'PY' && pass "$(cat "$LIB_TMP/cases.out")" || fail "$(cat "$LIB_TMP/cases.out")"
import socket, sys, time
port = int(sys.argv[1])
LOGIN = b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
HEALTH = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def statuses(s, n):
    """Read n responses (200 or 429 with bodies by Content-Length); '-' for each missing."""
    buf, out = b"", []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            try:
                d = s.recv(65536)
            except socket.timeout:
                d = b""
            if not d:
                return out + ["-"] * (n - len(out))
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        clen = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        while len(buf) < clen:
            buf += s.recv(65536)
        buf = buf[clen:]
        out.append(head.split(b" ")[1].decode())
    return out

res = {}
# 1. A login split at every byte: its line never ends in the segment it began in.
s = conn()
for b in LOGIN:
    s.send(bytes([b])); time.sleep(0.002)
res["split login"] = statuses(s, 1)
s.close()
# 2. Pipelined: a health check, then a login over the limit, in one segment.
s = conn(); s.sendall(HEALTH + LOGIN)
res["pipelined health+login"] = statuses(s, 2)
s.close()
# 3. A head over 16 KiB, then a login on the same connection.
s = conn()
big = b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 200) for i in range(90)) + b"\r\n"
s.sendall(big)
first = statuses(s, 1)
s.sendall(LOGIN)
res["big head, then login"] = first + statuses(s, 1)
s.close()
# 4. Bytes that are not HTTP: the server answers as it does (an HTTP/0.9-style error page),
#    the connection is not cut.
s = conn(); s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n")
try:
    d = s.recv(4096)
except socket.timeout:
    d = b""
res["not http"] = ["answered" if b"400" in d else "-"]
s.close()
# 5. Keep-alive: 3 health checks, then a login over the limit: the login only is answered
#    429; what the client sends after it on that connection never reaches the server.
s = conn()
got = []
for r in (HEALTH, HEALTH, HEALTH, LOGIN):
    s.sendall(r); got += statuses(s, 1)
s.sendall(b"GET /api/after-429 HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(1)
got += statuses(s, 1)
res["keep-alive health x3, login, then more"] = got
s.close()
# 6. Keep-alive: a chunked body whose chunks hold a login's line, then a login:
#    the body is skipped chunk by chunk, the login after it is matched (429).
s = conn()
chunks = [b"POST /api/auth/login HTTP/1.1\r\n", b"x" * 3000, b"\r\nPOST /api/auth/login"]
body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\nX-Trailer: 1\r\n\r\n"
s.sendall(b"POST /api/notes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body[:50])
time.sleep(0.01)
s.sendall(body[50:])
got = statuses(s, 1)
s.sendall(LOGIN)
res["chunked body, then login"] = got + statuses(s, 1)
s.close()
want = {"split login": ["200"], "chunked body, then login": ["200", "429"], "pipelined health+login": ["200", "200"],
        "big head, then login": ["200", "200"], "not http": ["answered"],
        "keep-alive health x3, login, then more": ["200", "200", "200", "429", "-"]}
print("; ".join("%s: %s" % (k, " ".join(v)) for k, v in res.items()))
sys.exit(0 if res == want else 1)
PY
assert_eq "skipped: split" 1 "$(skipped split)"
assert_eq "skipped: pipelined" 1 "$(skipped pipelined)"
assert_eq "skipped: too_long" 1 "$(skipped too_long)"
assert_eq "skipped: not_http" 1 "$(skipped not_http)"
assert_eq "skipped: chunked (none: followed)" 0 "$(skipped chunked)"
assert_eq "limited, by the metric (1 + 1 + 1)" 3 \
	"$(metric 'rate_limit_requests_total{service="auth",rule="POST /api/auth/login",result="limited"}')"
assert_eq "logins the server saw (1 allowed, then split, pipelined, after the big head)" 4 \
	"$(grep -c '^POST /api/auth/login ' "$LIB_TMP/app.out")"
assert_eq "requests the server saw after a 429 on their connection" 0 \
	"$(grep -c '^GET /api/after-429 ' "$LIB_TMP/app.out")"
finish
