#!/bin/bash
# PostgreSQL seen from its clients: pgbench (simple and extended protocol, and
# pipeline mode: a whole transaction's statements sent before any reply)
# statement counts per operation and table are exact, a failing query is an
# ERROR with its SQLSTATE class, psycopg2 over the Unix socket counts the same.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

T=50 C=2 # pgbench transactions per client, clients

start_postgres
"$PG_BIN/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres \
	>"$LIB_TMP/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -5 "$LIB_TMP/pgbench-init.log")"

pgb() { # NAME MODE [ARGS]: a gated pgbench run of T transactions by C clients
	local name=$1 mode=$2
	shift 2
	start_gated "pgbench-$name" "$PG_BIN/pgbench" -n -M "$mode" -t "$T" -c "$C" -h 127.0.0.1 \
		-p "$PG_PORT" -U postgres "$@" postgres
}
# pgbench's TPC-B-like transaction, pipelined: seven statements in flight.
cat >"$LIB_TMP/pipeline.sql" <<'SQL'
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
\startpipeline
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
\endpipeline
SQL
pgb simple simple
simple_pid=$GATED_PID
pgb extended extended
ext_pid=$GATED_PID
pgb pipeline extended -f "$LIB_TMP/pipeline.sql"
pipe_pid=$GATED_PID
start_gated psql psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'SELECT * FROM no_such_table'
psql_pid=$GATED_PID
cat >"$LIB_TMP/pg.py" <<'PY'
import os
import sys
import time
import psycopg2
conn = psycopg2.connect(host=sys.argv[1], port=sys.argv[2], user="postgres", dbname="postgres")
cur = conn.cursor()
for i in range(int(sys.argv[3])):
    cur.execute("SELECT abalance FROM pgbench_accounts WHERE aid = %s", (i + 1,))
    cur.fetchone()
conn.commit()
print("ok", flush=True)
# Hold the connection, idle, until the test has looked at db_connections.
while not os.path.exists(sys.argv[4]):
    time.sleep(0.05)
conn.close()
PY
start_gated py "$PYTHON" "$LIB_TMP/pg.py" "$PG_DIR" "$PG_PORT" 40 "$LIB_TMP/release"
py_pid=$GATED_PID

start_sonde --pid "$simple_pid=pgb-simple" --pid "$ext_pid=pgb-extended" \
	--pid "$pipe_pid=pgb-pipeline" --pid "$psql_pid=psql" \
	--pid "$py_pid=py"
q=database_query_duration_seconds_count

for mode in simple extended pipeline; do
	step "pgbench $mode: $T transactions x $C clients"
	case $mode in simple) pid_var=simple_pid ;; extended) pid_var=ext_pid ;; *) pid_var=pipe_pid ;; esac
	open_gate "pgbench-$mode"
	wait "${!pid_var}" || fail "pgbench -M $mode failed: $(tail -5 "$LIB_TMP/pgbench-$mode.out")"
	grep -q "number of transactions actually processed: $((T * C))" "$LIB_TMP/pgbench-$mode.out" ||
		fail "pgbench did not process $((T * C)) transactions"
	s="service=\"pgb-$mode\",db=\"postgres\""
	assert_metric "$mode: SELECT pgbench_accounts" "$q{$s,operation=\"SELECT\",table=\"pgbench_accounts\",outcome=\"SUCCESS\"}" $((T * C))
	assert_metric "$mode: UPDATE pgbench_accounts" "$q{$s,operation=\"UPDATE\",table=\"pgbench_accounts\",outcome=\"SUCCESS\"}" $((T * C))
	assert_metric "$mode: UPDATE pgbench_tellers" "$q{$s,operation=\"UPDATE\",table=\"pgbench_tellers\",outcome=\"SUCCESS\"}" $((T * C))
	assert_metric "$mode: UPDATE pgbench_branches" "$q{$s,operation=\"UPDATE\",table=\"pgbench_branches\",outcome=\"SUCCESS\"}" $((T * C))
	assert_metric "$mode: INSERT pgbench_history" "$q{$s,operation=\"INSERT\",table=\"pgbench_history\",outcome=\"SUCCESS\"}" $((T * C))
	assert_metric "$mode: BEGIN" "$q{$s,operation=\"BEGIN\",table=\"none\",outcome=\"SUCCESS\"}" $((T * C))
done
assert_eq "pipeline: nothing left unparsed" 0 \
	"$(metric 'sonde_unparsed_total{protocol="postgresql",reason="too_many_in_flight"}')"

step "psql: a query on a missing table"
open_gate psql
wait "$psql_pid" && fail "psql did not fail"
assert_metric "failing SELECT is an ERROR" \
	"$q{service=\"psql\",db=\"postgres\",operation=\"SELECT\",table=\"no_such_table\",outcome=\"ERROR\"}" 1
assert_metric "its SQLSTATE class is 42" \
	"database_query_errors_total{service=\"psql\",db=\"postgres\",operation=\"SELECT\",sqlstate_class=\"42\"}" 1

step "psycopg2 over the Unix socket: 40 SELECTs"
open_gate py
wait_until 20 grep -q ok "$LIB_TMP/py.out" || fail "psycopg2 client failed: $(cat "$LIB_TMP/py.out")"
assert_metric "psycopg2 SELECT pgbench_accounts" \
	"$q{service=\"py\",db=\"postgres\",operation=\"SELECT\",table=\"pgbench_accounts\",outcome=\"SUCCESS\"}" 40
assert_metric "its connection, held open, is idle" \
	'db_connections{service="py",db="postgres",state="idle"}' 1
assert_metric "and not active" 'db_connections{service="py",db="postgres",state="active"}' 0
touch "$LIB_TMP/release"
wait "$py_pid" || fail "psycopg2 client failed at exit"
assert_metric "closed: no idle connection left" 'db_connections{service="py",db="postgres",state="idle"}' 0
assert_eq "no parse errors" 0 "$(metric 'sonde_parse_errors_total{protocol="postgresql",reason="malformed"}')"
finish
