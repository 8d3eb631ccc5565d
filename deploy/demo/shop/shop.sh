#!/usr/bin/env bash
# deploy/demo/shop/shop.sh: the demo shop on its own, on 127.0.0.1, in a private directory.
#
#   shop.sh start DIR    PostgreSQL (initdb'd into DIR/pg as user postgres, schema.sql),
#                        Redis, Kafka (build/mock_broker: five topics of 3 partitions), the
#                        payment, user and order services (Flask under gunicorn, 2 workers
#                        each), the inventory and notification consumers, nginx as the
#                        gateway; every port a free one. Returns once /health answers on the
#                        gateway and on each service (< 30 s), the shop left running.
#   shop.sh stop DIR     stops, by PID, what `start DIR` started (gateway first, PostgreSQL
#                        last); DIR itself (logs, the database files) stays.
#   shop.sh status DIR   which of those processes are alive.
#   shop.sh check DIR SUMMARY   compares loadgen.py's --summary FILE with the shop's database
#                        (users, orders by status, payments by status, revenue); exit 1 if
#                        any differs. Exact on a fresh shop with loadgen.py as its only client.
#
# DIR must be missing or empty at start (e.g. "$(mktemp -d)"); it is made mode 711 (the
# postgres user and nginx's workers go through it). Run as root (initdb and postgres run as
# the postgres user, through setpriv). Set SHOP_CGROUPS=1 to also put each service in a
# cgroup of its own under /sonde-demo.slice, as `make demo` does (one such shop at a time).
#
# What it leaves in DIR:
#   env     shell-sourceable: SHOP_URL GATEWAY_PORT USER_PORT ORDER_PORT PAYMENT_PORT
#           REDIS_PORT REDIS_SOCK PG_PORT PG_DSN PG_BIN KAFKA_BOOTSTRAP KAFKA_TOPICS SHOP_CG
#   pids    one process a line: "NAME PID STARTTIME" (STARTTIME: field 22 of /proc/PID/stat,
#           so that a reused PID is never signalled). NAME is postgres, redis, mock (Kafka),
#           payment, user, order (gunicorn masters), inventory, notification, gateway (nginx
#           master), then their workers as payment.worker, ..., gateway.worker.
#   *.log   each process's output; gateway/ is nginx's prefix, pg/ the database cluster.
# No tracing, metrics or logging code in the shop: sonde observes it from outside.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)

usage() {
	echo "usage: $0 start|stop|status DIR, or $0 check DIR SUMMARY_JSON" >&2
	exit 2
}

[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = check ]; } || usage
cmd=$1
case $2 in
/*) DIR=$2 ;;
*) DIR=$PWD/$2 ;;
esac

# tests/integration/lib.sh's helpers (free_port, start_postgres, start_redis,
# start_mock_broker, track_pid, lib_alive ...) without its temp dir and exit trap:
# LIB_TMP is DIR, track_pid writes DIR/pids.
SONDE_LIB_NO_INIT=1
# shellcheck source=../../../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
LIB_TMP=$DIR
# shellcheck source=start.sh
. "$HERE/start.sh"

# shop_stop_all: every process of DIR/pids, masters in the reverse order of their start,
# then whatever is left (workers whose master did not take them down).
shop_stop_all() {
	local name pid start c cs
	[ -f "$DIR/pids" ] || return 0
	while read -r name pid start; do
		case $name in *.worker | "") continue ;; esac
		lib_alive "$pid" "$start" || continue
		cs=$(lib_children "$pid")
		case $name in
		postgres) lib_stop "$pid" "$start" INT 10 ;; # fast shutdown
		*) lib_stop "$pid" "$start" TERM 5 ;;
		esac
		while read -r c start; do
			[ -n "$c" ] && lib_stop "$c" "$start" TERM 2
		done <<<"$cs"
	done < <(tac "$DIR/pids")
	while read -r name pid start; do
		[ -n "$pid" ] && lib_stop "$pid" "$start" TERM 2
	done <"$DIR/pids"
	if [ -f "$DIR/env" ]; then
		# shellcheck disable=SC1091
		SHOP_CG=$(. "$DIR/env" && echo "${SHOP_CG:-}")
		shop_cgroups_remove
	fi
	return 0
}

# The workers of a master (gunicorn's, nginx's) go to DIR/pids as NAME.worker.
record_workers() {
	local name pid start c
	while read -r name pid start; do
		case $name in payment | user | order | gateway) ;; *) continue ;; esac
		wait_until 5 test "$(pgrep -c -P "$pid")" -ge 2
		for c in $(pgrep -P "$pid"); do track_pid "$name.worker" "$c"; done
	done < <(grep -v '\.worker ' "$DIR/pids")
}

any_alive() {
	local name pid start
	while read -r name pid start; do
		[ -n "$pid" ] && lib_alive "$pid" "$start" && return 0
	done <"$DIR/pids"
	return 1
}

shop_status() {
	local name pid start n=0 up=0
	[ -f "$DIR/pids" ] || { echo "no shop in $DIR"; return 1; }
	while read -r name pid start; do
		n=$((n + 1))
		if lib_alive "$pid" "$start"; then
			up=$((up + 1))
			printf '  %-20s %7s  running\n' "$name" "$pid"
		else
			printf '  %-20s %7s  gone\n' "$name" "$pid"
		fi
	done <"$DIR/pids"
	echo "$up of $n processes running"
	[ "$up" = "$n" ]
}

start_failed() {
	local rc=$?
	[ "$rc" = 0 ] && return 0
	echo "shop.sh: start failed, stopping what had started" >&2
	shop_stop_all
	exit "$rc"
}

shop_begin() {
	local t
	[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL is started as the postgres user)"
	for t in nginx gunicorn redis-server redis-cli curl ss setpriv; do
		command -v "$t" >/dev/null || die "$t not found (see deploy/demo/shop/README.md)"
	done
	[ -x "$ROOT/build/mock_broker" ] || die "build/mock_broker not built (make build/mock_broker)"
	if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
		die "$DIR is not empty (a shop already ran there? shop.sh stop $DIR, then use a new one)"
	fi
	mkdir -p "$DIR" || die "cannot make $DIR"
	chmod 711 "$DIR" || die "cannot chmod $DIR"
	setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$DIR" ||
		die "the postgres user cannot enter $DIR (a parent directory's mode? e.g. mktemp -d's 700)"
	# Any failure from here on (die exits) stops what was started.
	trap start_failed EXIT
	SHOP_CGROUPS=${SHOP_CGROUPS:-0}
	SECONDS=0
	shop_start
	record_workers
	{
		printf '# the demo shop in %s (deploy/demo/shop/shop.sh), started %s\n' "$DIR" "$(date -u +%FT%TZ)"
		printf 'SHOP_URL=%q\n' "$SHOP_URL"
		printf 'GATEWAY_PORT=%q\nUSER_PORT=%q\nORDER_PORT=%q\nPAYMENT_PORT=%q\n' \
			"$GATEWAY_PORT" "$USER_PORT" "$ORDER_PORT" "$PAYMENT_PORT"
		printf 'REDIS_PORT=%q\nREDIS_SOCK=%q\n' "$REDIS_PORT" "$REDIS_SOCK"
		printf 'PG_PORT=%q\nPG_DSN=%q\nPG_BIN=%q\n' "$PG_PORT" "$SHOP_PG_DSN" "$PG_BIN"
		printf 'KAFKA_BOOTSTRAP=%q\nKAFKA_TOPICS=%q\n' "$KAFKA_BOOTSTRAP" "${SHOP_TOPICS[*]}"
		printf 'SHOP_CG=%q\n' "$SHOP_CG"
	} >"$DIR/env.tmp" && mv "$DIR/env.tmp" "$DIR/env"
	trap - EXIT
	echo "shop up in ${SECONDS}s: gateway $SHOP_URL -> user :$USER_PORT, order :$ORDER_PORT -> payment :$PAYMENT_PORT"
	echo "  PostgreSQL :$PG_PORT (db shop), Redis :$REDIS_PORT, Kafka $KAFKA_BOOTSTRAP"
	echo "  . $DIR/env; $PYTHON $HERE/loadgen.py --url \$SHOP_URL --duration 20 --rate 50"
}

case $cmd in
start)
	# In a session of its own (no controlling terminal): the shop outlives the terminal
	# this ran from. --wait: our exit status is the start's.
	if [ "$(ps -o sid= -p $$ | tr -d ' ')" != "$$" ]; then
		exec setsid --wait "$0" start "$DIR" </dev/null
	fi
	shop_begin
	;;
stop)
	[ -f "$DIR/pids" ] || die "no shop in $DIR (no $DIR/pids)"
	shop_stop_all
	any_alive && die "some processes survived: $(shop_status | grep running)"
	echo "shop in $DIR stopped"
	;;
status) shop_status ;;
check)
	[ -f "$DIR/env" ] || die "no shop in $DIR (no $DIR/env)"
	[ -r "$3" ] || die "no summary $3"
	# shellcheck disable=SC1091
	. "$DIR/env"
	"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d shop -AtF ' ' -v ON_ERROR_STOP=1 -c "
		SELECT 'registrations', count(*) FROM users
		UNION ALL SELECT 'orders_created', count(*) FROM orders
		UNION ALL SELECT 'orders_confirmed', count(*) FROM orders WHERE status = 'CONFIRMED'
		UNION ALL SELECT 'orders_cancelled', count(*) FROM orders WHERE status = 'CANCELLED'
		UNION ALL SELECT 'payments_success', count(*) FROM payments WHERE status = 'SUCCESS'
		UNION ALL SELECT 'payments_failed', count(*) FROM payments WHERE status = 'FAILED'
		UNION ALL SELECT 'revenue', coalesce(sum(amount), 0) FROM payments WHERE status = 'SUCCESS'" \
		>"$DIR/check.db" || die "cannot query the shop's database"
	"$PYTHON" - "$3" "$DIR/check.db" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
bad = 0
print("%-18s %12s %12s" % ("", "loadgen", "database"))
for line in open(sys.argv[2]):
    key, got = line.split()
    ok = int(got) == want.get(key)
    bad += not ok
    print("%-18s %12s %12s  %s" % (key, want.get(key), got, "ok" if ok else "DIFFERS"))
sys.exit(1 if bad else 0)
PY
	;;
*) usage ;;
esac
