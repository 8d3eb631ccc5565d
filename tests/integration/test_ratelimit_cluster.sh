#!/bin/bash
# --ratelimit-redis: two sonde instances, each in front of its own server, share
# their counts through one redis-server. After a sync (200 ms) each sees what
# the other admitted; in a burst faster than a sync, together they admit at
# most limit + what the other admitted within that sync period; Redis stopped:
# both go on limiting alone, and count the failed syncs.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
start_redis
cat >"$LIB_TMP/sonde.yaml" <<'YAML'
rate_limits:
  - {match: "POST /api/auth/login", limit: 10, window: 60s}
YAML
for n in a b; do
	port=$(free_port)
	start_gated "app_$n" "$PYTHON" "$HERE/limited_app.py" "$port"
	pid=$GATED_PID
	open_gate "app_$n"
	wait_until 10 lib_port_listening "$port" || die "app $n did not start"
	SONDE_PORT=
	start_sonde --pid "$pid=auth" --config "$LIB_TMP/sonde.yaml" \
		--ratelimit-redis "redis://127.0.0.1:$REDIS_PORT"
	eval "APP_$n=$port SONDE_$n=$SONDE_PORT SONDE_PID_$n=$SONDE_PID"
done
for p in "$SONDE_a" "$SONDE_b"; do
	wait_until 5 bash -c "[ \"\$(curl -s http://127.0.0.1:$p/metrics | grep -c '^rate_limit_requests_total{service=\"auth\"')\" -gt 0 ]" ||
		fail "sonde on :$p did not find its limited port"
done
login() { # APP_PORT FROM N: the status codes of N logins
	local i
	for ((i = 0; i < $3; i++)); do
		curl -s -o /dev/null --max-time 5 -w "%{http_code} " --interface "$2" -X POST "http://127.0.0.1:$1/api/auth/login"
	done
}
served() { grep -c "^POST /api/auth/login $1\$" "$LIB_TMP/app_$2.out"; }
allowed() { curl -s "http://127.0.0.1:$1/metrics" | lib_metric_match 'rate_limit_requests_total{service="auth",result="allowed"}' subset; }

step "6 logins through A, a sync, then through B: B admits 4 (limit 10)"
assert_eq "through A" "200 200 200 200 200 200 " "$(login "$APP_a" 127.0.0.1 6)"
sleep 0.6
assert_eq "through B" "200 200 200 200 429 429 " "$(login "$APP_b" 127.0.0.1 6)"
sleep 0.6
assert_eq "through A again: the 11th" "429 " "$(login "$APP_a" 127.0.0.1 1)"
assert_eq "logins both servers saw" 10 "$(($(served 127.0.0.1 a) + $(served 127.0.0.1 b)))"

step "a burst of 30 alternating between A and B, faster than a sync"
for ((i = 0; i < 15; i++)); do login "$APP_a" 127.0.0.7 1; login "$APP_b" 127.0.0.7 1; done >"$LIB_TMP/burst.out"
total=$(($(served 127.0.0.7 a) + $(served 127.0.0.7 b)))
assert_true "admitted together within limit..2 x limit ($total; $(cat "$LIB_TMP/burst.out"))" \
	awk -v t="$total" 'BEGIN { exit !(t >= 10 && t <= 20) }'
assert_eq "what the servers saw is what sonde allowed" \
	"$(($(served 127.0.0.1 a) + $(served 127.0.0.1 b) + total))" "$(($(allowed "$SONDE_a") + $(allowed "$SONDE_b")))"

step "Redis stopped: each instance limits alone"
kill "$REDIS_PID"
wait_until 5 lib_dead "$REDIS_PID" || die "redis-server did not stop"
sleep 0.6
assert_eq "12 logins through A from a new client" "$(printf '200 %.0s' $(seq 10))429 429 " "$(login "$APP_a" 127.0.0.8 12)"
assert_eq "12 logins through B from another" "$(printf '200 %.0s' $(seq 10))429 429 " "$(login "$APP_b" 127.0.0.9 12)"
for p in "$SONDE_a" "$SONDE_b"; do
	SONDE_PORT=$p
	assert_gt "failed syncs counted (:$p)" 0 "$(metric sonde_ratelimit_sync_errors_total)"
done
finish
