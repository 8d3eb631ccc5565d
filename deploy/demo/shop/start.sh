# shellcheck shell=bash
# The demo shop (deploy/demo/shop/), started on 127.0.0.1 by scripts/demo.sh, which
# sources this after tests/integration/lib.sh (its start_* helpers and its cleanup trap,
# which stops everything by PID). No tracing, metrics or logging code in the shop: sonde
# observes it.
#
#   shop_start   PostgreSQL (schema.sql), Redis, Kafka (librdkafka's mock cluster: five
#                topics of 3 partitions), the user, order and payment services (Flask under
#                gunicorn, 2 workers each), the inventory and notification consumers, nginx
#                as the gateway. Each service runs in a cgroup of its own under
#                /sonde-demo.slice (as systemd would run them: what sonde's discovery.names
#                names them by), unless SHOP_CGROUPS=0 (shop.sh's default). Sets SHOP_URL
#                and SHOP_PG_DSN, and the ports.
#   shop_cgroups_remove   after everything stopped
# deploy/demo/shop/shop.sh runs the same shop stand-alone: `shop.sh start DIR` / `stop DIR`.
SHOP_DIR=$SONDE_ROOT/deploy/demo/shop
SHOP_TOPICS=(user-events order-events payment-events inventory-events notification-events)
SHOP_SERVICES=(gateway user order payment inventory notification)

# shop_in SERVICE CMD...: CMD in the service's cgroup, in the background; sets SHOP_PID.
shop_in() {
	local svc=$1
	shift
	if [ -n "${SHOP_CG:-}" ]; then
		sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$SHOP_CG/$svc.service" "$@" \
			>"$LIB_TMP/$svc.log" 2>&1 </dev/null &
	else
		"$@" >"$LIB_TMP/$svc.log" 2>&1 </dev/null &
	fi
	SHOP_PID=$!
	track_pid "$svc" "$SHOP_PID"
}

shop_gunicorn() { # SERVICE PORT MODULE
	shop_in "$1" env SHOP_PG="$SHOP_PG_DSN" SHOP_REDIS_PORT="$REDIS_PORT" SHOP_KAFKA="$KAFKA_BOOTSTRAP" \
		SHOP_PAYMENT_URL="http://127.0.0.1:$PAYMENT_PORT" PYTHONPATH="$SHOP_DIR" \
		/usr/bin/python3 /usr/bin/gunicorn --workers 2 --threads 4 --bind "127.0.0.1:$2" \
		--chdir "$SHOP_DIR" --log-level warning "$3:app"
}

# shop_wait_health URL SECONDS: 0 once URL answers 2xx, 1 after SECONDS (of wall time: a
# service that accepts and never answers costs 1 s a try).
shop_wait_health() {
	local end=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		curl -sf --max-time 1 "$1" -o /dev/null && return 0
		sleep 0.1
	done
	return 1
}

shop_start() {
	local cg t s
	SHOP_CG=
	if [ "${SHOP_CGROUPS:-1}" = 1 ]; then
		cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
		[ -n "$cg" ] || die "no cgroup v2 hierarchy mounted"
		SHOP_CG=$cg/sonde-demo.slice
		for s in "${SHOP_SERVICES[@]}"; do
			mkdir -p "$SHOP_CG/$s.service" || die "cannot make cgroup $SHOP_CG/$s.service"
		done
	fi
	start_postgres
	"$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE shop" >/dev/null &&
		"$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d shop -v ON_ERROR_STOP=1 \
			-f "$SHOP_DIR/schema.sql" >/dev/null || die "cannot load the shop's schema"
	SHOP_PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=shop user=postgres"
	start_redis
	local topics=()
	for t in "${SHOP_TOPICS[@]}"; do topics+=(--topic "$t:3"); done
	start_mock_broker "${topics[@]}"
	USER_PORT=$(free_port) ORDER_PORT=$(free_port) PAYMENT_PORT=$(free_port)
	shop_gunicorn payment "$PAYMENT_PORT" svc_payments
	shop_gunicorn user "$USER_PORT" svc_users
	shop_gunicorn order "$ORDER_PORT" svc_orders
	for s in inventory notification; do
		shop_in "$s" env SHOP_PG="$SHOP_PG_DSN" SHOP_REDIS_PORT="$REDIS_PORT" \
			SHOP_KAFKA="$KAFKA_BOOTSTRAP" PYTHONPATH="$SHOP_DIR" /usr/bin/python3 \
			"$SHOP_DIR/svc_consumer.py" "$s"
	done
	for s in "$PAYMENT_PORT" "$USER_PORT" "$ORDER_PORT"; do
		shop_wait_health "http://127.0.0.1:$s/health" 20 ||
			die "a service did not start on $s: $(tail -n 5 "$LIB_TMP"/{payment,user,order}.log)"
	done
	GATEWAY_PORT=$(free_port)
	sed -e "s|@PREFIX@|$LIB_TMP/gateway|g" -e "s|@PORT@|$GATEWAY_PORT|g" \
		-e "s|@USER_PORT@|$USER_PORT|g" -e "s|@ORDER_PORT@|$ORDER_PORT|g" \
		"$SHOP_DIR/gateway.conf.in" >"$LIB_TMP/gateway.conf"
	mkdir -p "$LIB_TMP/gateway/tmp"
	shop_in gateway nginx -p "$LIB_TMP/gateway" -c "$LIB_TMP/gateway.conf" -e "$LIB_TMP/gateway/error.log" \
		-g 'daemon off;'
	NGINX_PID=$SHOP_PID
	shop_wait_health "http://127.0.0.1:$GATEWAY_PORT/health" 10 ||
		die "the gateway did not start: $(cat "$LIB_TMP/gateway/error.log" 2>/dev/null)"
	SHOP_URL=http://127.0.0.1:$GATEWAY_PORT
}

shop_cgroups_remove() {
	local s
	[ -n "${SHOP_CG:-}" ] || return 0
	for s in "${SHOP_SERVICES[@]}"; do rmdir "$SHOP_CG/$s.service" 2>/dev/null; done
	rmdir "$SHOP_CG" 2>/dev/null
	return 0
}
