#!/bin/bash
# Business metrics by rule (business_metrics:): a Flask app with the shop's
# money routes (business_app.py, no metrics code) keeps its own tally; sonde's
# counters must equal it: registrations and orders created (2xx only),
# payments succeeded and failed (402), revenue summed from the JSON field
# `amount` of the request bodies (numbers, decimals, strings), whether a body
# comes in the head's read, past the 256 bytes captured by default, or in reads
# of its own. A payment without an amount, and one whose body is past what
# sonde copies (6 KiB), are counted as unread with their reason, not summed.
# Nothing of a body (the card number) reaches /metrics or the log lines.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
APP_PORT=$(free_port)
start_gated app "$PYTHON" "$HERE/business_app.py" "$APP_PORT"
app_pid=$GATED_PID
open_gate app
wait_until 10 lib_port_listening "$APP_PORT" || die "the app did not start"
CONF=$LIB_TMP/sonde.yaml
cat >"$CONF" <<'YAML'
business_metrics:
  - {name: user_registrations_total, match: "POST /api/auth/register", status: 2xx}
  - {name: orders_created_total, match: "POST /api/orders", status: 2xx}
  - {name: payments_success_total, match: "POST /api/payments", status: 2xx}
  - {name: payments_failed_total, match: "POST /api/payments", status: 4xx}
  - {name: revenue_total, match: "POST /api/payments", status: 2xx, sum_json_field: amount}
YAML
start_sonde --pid "$app_pid=shop" --config "$CONF" --log-file "$LIB_TMP/access.log"

step "registrations, orders and payments: head and body in one read, long bodies, bodies in reads of their own"
"$PYTHON" - "$APP_PORT" >"$LIB_TMP/client.out" 2>&1 <<'PY'
import http.client, json, socket, sys, time
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def post(path, body):
    data = json.dumps(body).encode()
    c.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    return r.status
codes = []
for i in range(10):
    codes.append(post("/api/auth/register", {"username": "u%d" % i, "password": "secret-%d" % i}))
for i in range(3):
    codes.append(post("/api/auth/register", {"username": "u%d" % i}))  # taken: 409
for i in range(7):
    codes.append(post("/api/orders", {"items": [{"product": i, "qty": 1}]}))
amounts = [10, 12.5, "19.99", 0.01, 250, "3", 7.25, 99, 1, 42.42, 5, 8]
for a in amounts:
    codes.append(post("/api/payments", {"amount": a, "card": "4111111111111111"}))
for i in range(3):
    codes.append(post("/api/payments", {"amount": 1000, "card": "4000000000000002"}))  # 402
for i in range(2):
    codes.append(post("/api/payments", {"card": "4111111111111111"}))  # no amount
for i in range(2):  # past the 256 bytes copied by default
    codes.append(post("/api/payments", {"amount": 100, "card": "4111111111111111", "note": "x" * 1500}))
codes.append(post("/api/payments", {"amount": 7, "card": "4111111111111111", "note": "y" * 6000}))
# Head and body written apart, on a connection of their own.
for amt in (21, 22):
    s = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"amount": amt, "card": "4111111111111111"}).encode()
    s.sendall(b"POST /api/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    time.sleep(0.1)
    s.sendall(body)
    resp = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        resp += d
    s.close()
    codes.append(int(resp.split()[1]))
print(" ".join(map(str, codes)))
PY
[ $? = 0 ] || die "client: $(cat "$LIB_TMP/client.out")"
curl -s "http://127.0.0.1:$APP_PORT/tally" >"$LIB_TMP/tally.json"
tally() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LIB_TMP/tally.json" "$1"; }
assert_metric "registrations: the app's own count (2xx only)" 'user_registrations_total{service="shop"}' "$(tally registrations)"
assert_metric "orders created" 'orders_created_total{service="shop"}' "$(tally orders)"
assert_metric "payments that succeeded" 'payments_success_total{service="shop"}' "$(tally payments_ok)"
assert_metric "payments declined (402)" 'payments_failed_total{service="shop"}' "$(tally payments_failed)"
# The app summed every accepted amount; sonde could not read the 6 KiB body's (7).
want=$("$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1])); print(round(t["revenue"] - 7, 6))' "$LIB_TMP/tally.json")
got=$(metric 'revenue_total{service="shop"}')
assert_true "revenue: the sum of the amounts ($got, the app's less the unread 7: $want)" \
	"$PYTHON" -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1e-6)' "${got:-nan}" "$want"
assert_metric "payments without an amount: unread, no_field" \
	'sonde_business_metrics_unread_total{metric="revenue_total",reason="no_field"}' 2
assert_metric "the 6 KiB body: unread, truncated" \
	'sonde_business_metrics_unread_total{metric="revenue_total",reason="truncated"}' 1
metrics_fetch "$LIB_TMP/metrics.txt"
assert_eq "no card number, password or note in /metrics or the log lines" 0 \
	"$(cat "$LIB_TMP/metrics.txt" "$LIB_TMP/access.log" | grep -c -e 4111111111 -e secret- -e xxxxxxxx)"
assert_eq "the log has every POST" 42 "$(grep -c '"http.request.method":"POST"' "$LIB_TMP/access.log")"
stop_sonde
finish
