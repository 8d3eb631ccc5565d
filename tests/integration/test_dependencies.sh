#!/bin/bash
# Passive dependency health: a Flask service (deps_app.py, no health code)
# calls Redis and an HTTP backend. sonde judges them from its calls alone:
# Redis UP; the backend, half of whose answers are 500, DEGRADED; Redis
# killed: DOWN within 10 s (the service's calls are refused); Redis started
# again on its port: UP within 10 s. /api/dependencies and
# sonde_dependency_up{service, dependency} say so.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
start_redis
BACKEND_PORT=$(free_port) APP_PORT=$(free_port)
"$PYTHON" "$HERE/deps_app.py" "$BACKEND_PORT" 1 "http://127.0.0.1:1" >"$LIB_TMP/backend.log" 2>&1 &
track_pid backend $!
wait_until 10 lib_port_listening "$BACKEND_PORT" || die "the backend did not start"
start_gated app "$PYTHON" "$HERE/deps_app.py" "$APP_PORT" "$REDIS_PORT" "http://127.0.0.1:$BACKEND_PORT"
app_pid=$GATED_PID
open_gate app
wait_until 10 lib_port_listening "$APP_PORT" || die "the app did not start"
start_sonde --pid "$app_pid=catalog"
REDIS_DEP="redis://127.0.0.1:$REDIS_PORT" HTTP_DEP="http://127.0.0.1:$BACKEND_PORT"

# dep_field DEPENDENCY FIELD: that field of /api/dependencies' entry for catalog.
dep_field() {
	curl -sf "http://127.0.0.1:$SONDE_PORT/api/dependencies" | "$PYTHON" -c '
import json, sys
for d in json.load(sys.stdin):
    if d["service"] == "catalog" and d["dependency"] == sys.argv[1]:
        print(d[sys.argv[2]])' "$1" "$2"
}
load() { # PATH N
	for ((i = 0; i < $2; i++)); do echo "http://127.0.0.1:$APP_PORT/$1/$i"; done |
		xargs -n 1 curl -s -o /dev/null
}

step "Redis answers; the backend answers 500 to half the calls"
load product 20
load stock 10
wait_until 5 sh -c "[ \"\$(curl -sf http://127.0.0.1:$SONDE_PORT/api/dependencies | grep -c catalog)\" = 2 ]"
assert_eq "Redis: UP" UP "$(dep_field "$REDIS_DEP" status)"
assert_eq "the backend: DEGRADED (5 of 10 calls 500)" DEGRADED "$(dep_field "$HTTP_DEP" status)"
assert_eq "the backend's calls and errors over the minute" "10 5" \
	"$(dep_field "$HTTP_DEP" calls_1m) $(dep_field "$HTTP_DEP" errors_1m)"
assert_eq "its last error" 500 "$(dep_field "$HTTP_DEP" last_error)"
assert_metric "sonde_dependency_up: Redis" "sonde_dependency_up{service=\"catalog\",dependency=\"$REDIS_DEP\"}" 1
assert_metric "sonde_dependency_up: the backend (DEGRADED still answers)" \
	"sonde_dependency_up{service=\"catalog\",dependency=\"$HTTP_DEP\"}" 1
"$PYTHON" - "http://127.0.0.1:$SONDE_PORT/api/dependencies" >"$LIB_TMP/shape.out" 2>&1 <<'PY'
import datetime, json, sys, urllib.request
deps = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
keys = {"service", "dependency", "protocol", "status", "calls_1m", "errors_1m", "error_rate_1m",
        "last_success", "last_failure", "last_error"}
for d in deps:
    assert set(d) == keys, d
    assert d["status"] in ("UP", "DEGRADED", "DOWN"), d
    for k in ("last_success", "last_failure"):
        if d[k] is not None:
            datetime.datetime.strptime(d[k], "%Y-%m-%dT%H:%M:%S.%fZ")
print("%d dependencies, fields as documented" % len(deps))
PY
[ $? = 0 ] && pass "/api/dependencies: $(cat "$LIB_TMP/shape.out")" || fail "/api/dependencies: $(cat "$LIB_TMP/shape.out")"

step "Redis killed: DOWN within 10 s"
{
	kill -9 "$REDIS_PID"
	wait "$REDIS_PID"
} 2>/dev/null
t0=$SECONDS
for ((k = 0; k < 20; k++)); do
	load product 2
	[ "$(dep_field "$REDIS_DEP" status)" = DOWN ] && break
	sleep 0.5
done
assert_eq "Redis: DOWN" DOWN "$(dep_field "$REDIS_DEP" status)"
assert_true "within 10 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 10 ]
assert_metric "sonde_dependency_up: 0" "sonde_dependency_up{service=\"catalog\",dependency=\"$REDIS_DEP\"}" 0
echo "        last error: $(dep_field "$REDIS_DEP" last_error)"

step "Redis started again on its port: UP within 10 s"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
	--dir "$LIB_TMP" >>"$LIB_TMP/redis.log" 2>&1 &
REDIS_PID=$!
track_pid redis "$REDIS_PID"
wait_until 10 lib_redis_ready || die "redis-server did not start again"
t0=$SECONDS
for ((k = 0; k < 20; k++)); do
	load product 2
	[ "$(dep_field "$REDIS_DEP" status)" = UP ] && break
	sleep 0.5
done
assert_eq "Redis: UP" UP "$(dep_field "$REDIS_DEP" status)"
assert_true "within 10 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 10 ]
assert_metric "sonde_dependency_up: 1" "sonde_dependency_up{service=\"catalog\",dependency=\"$REDIS_DEP\"}" 1
stop_sonde
finish
