#!/bin/bash
# node-postgres (pg, a Pool of 16, parameterised queries: Parse/Bind/Describe/
# Execute/Sync gathered in one writev by libuv) with replies of 1 KiB and 8 KiB,
# far past the default capture: every statement is counted, as PostgreSQL's own
# pg_stat_statements counts them. Issue #10: the writev's later iovecs (Execute,
# Sync) were not captured, and with the reply's CommandComplete past the capture
# no statement was ever counted (0 of 20). Then the same with Python's asyncpg
# (a pool of 16 asyncio connections, statements prepared once, binary rows).
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N=300 # queries of each kind
PG_OPTS="-c shared_preload_libraries=pg_stat_statements" start_postgres
psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres <<'SQL' >/dev/null ||
CREATE EXTENSION pg_stat_statements;
CREATE TABLE products (id int PRIMARY KEY, name text, description text, price numeric,
                       stock int, category text, updated timestamp);
INSERT INTO products SELECT g, 'product ' || g, repeat('x', 1000), g * 1.5, g, 'books', now()
  FROM generate_series(1, 64) g;
CREATE TABLE reviews (id int PRIMARY KEY, product int, body text);
INSERT INTO reviews SELECT g, g % 8, repeat('r', 1100) FROM generate_series(1, 64) g;
SELECT pg_stat_statements_reset();
SQL
	die "could not prepare the database"

cat >"$LIB_TMP/pg.js" <<'JS'
// Two parameterised queries, N each, 16 at a time on a Pool of 16.
const { Pool } = require(process.env.SONDE_ROOT + '/build/node/node_modules/pg');
const [port, n] = [Number(process.argv[2]), Number(process.argv[3])];
(async () => {
  const pool = new Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 16 });
  const jobs = [];
  for (let i = 0; i < n; i++) {
    jobs.push(() => pool.query('SELECT * FROM products WHERE id = $1', [1 + (i % 64)]));
    jobs.push(() => pool.query('SELECT body FROM reviews WHERE product = $1', [i % 8]));
  }
  let next = 0, ok = 0, bytes1 = 0, bytes8 = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const r = await jobs[next++]();
      const size = JSON.stringify(r.rows).length;
      if (r.rows.length === 1) bytes1 = size; else bytes8 = size;
      ok++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await pool.end();
  console.log(ok, bytes1, bytes8);
})().catch((e) => { console.error(e); process.exit(1); });
JS

cat >"$LIB_TMP/pg.py" <<'PY'
# The same two queries from asyncpg: N each, 16 at a time on a pool of 16.
import asyncio, os, sys
import asyncpg

async def main(port, n):
    pool = await asyncpg.create_pool(host="127.0.0.1", port=port, user="postgres",
                                     database="postgres", min_size=16, max_size=16)
    jobs = []
    for i in range(n):
        jobs.append(("SELECT * FROM products WHERE id = $1", 1 + i % 64))
        jobs.append(("SELECT body FROM reviews WHERE product = $1", i % 8))
    state = {"next": 0, "ok": 0}

    async def worker():
        while state["next"] < len(jobs):
            sql, arg = jobs[state["next"]]
            state["next"] += 1
            await pool.fetch(sql, arg)
            state["ok"] += 1

    await asyncio.gather(*(worker() for _ in range(16)))
    print(state["ok"], flush=True)
    while not os.path.exists(sys.argv[3]):  # the pool stays open, idle, until released
        await asyncio.sleep(0.05)
    await pool.close()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
PY

step "$((2 * N)) parameterised queries from node-postgres, 16 concurrent, sonde attached before"
start_gated node env SONDE_ROOT="$SONDE_ROOT" node "$LIB_TMP/pg.js" "$PG_PORT" "$N"
node_pid=$GATED_PID
start_gated asyncpg "$PYTHON" "$LIB_TMP/pg.py" "$PG_PORT" "$N" "$LIB_TMP/release"
py_pid=$GATED_PID
start_sonde --pid "$node_pid=shop" --pid "$py_pid=py-shop"
open_gate node
wait "$node_pid" || die "node client failed: $(cat "$LIB_TMP/node.out")"
read -r ok bytes1 bytes8 <"$LIB_TMP/node.out"
assert_eq "queries the client completed" $((2 * N)) "$ok"
echo "   reply sizes (rows as JSON): $bytes1 and $bytes8 bytes"
assert_gt "a products reply is over 1 KiB" 1023 "$bytes1"
assert_gt "a reviews reply is over 8 KiB" 8191 "$bytes8"

calls() { # the server's own count of a statement, by its text
	psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c \
		"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '$1%'"
}
products=$(calls 'SELECT * FROM products WHERE id')
reviews=$(calls 'SELECT body FROM reviews WHERE product')
assert_eq "pg_stat_statements: products lookups" "$N" "$products"
assert_eq "pg_stat_statements: reviews lookups" "$N" "$reviews"

step "sonde counts what PostgreSQL counted"
q='database_query_duration_seconds_count{service="shop",db="postgres",operation="SELECT"'
assert_metric "SELECT products (1 KiB replies)" "$q,table=\"products\",outcome=\"SUCCESS\"}" "$products"
assert_metric "SELECT reviews (8 KiB replies)" "$q,table=\"reviews\",outcome=\"SUCCESS\"}" "$reviews"
# The pool is closed: a connection still "active" would be a statement whose end was missed.
active=$(metric 'db_connections{service="shop",db="postgres",state="active"}')
assert_eq "connections left active (none, or the series at 0)" 0 "${active:-0}"

step "$((2 * N)) parameterised queries from asyncpg, 16 concurrent on a pool of 16"
psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
open_gate asyncpg
wait_until 60 grep -q . "$LIB_TMP/asyncpg.out" || die "asyncpg client: $(cat "$LIB_TMP/asyncpg.out")"
assert_eq "queries the client completed" $((2 * N)) "$(head -1 "$LIB_TMP/asyncpg.out")"
# The load is over, the pool open: PostgreSQL's own view of its connections.
idle=$(psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c \
	"SELECT count(*) FROM pg_stat_activity WHERE state = 'idle' AND pid <> pg_backend_pid()")
assert_eq "pg_stat_activity: the pool's connections idle" 16 "$idle"
assert_metric "db_connections idle, the pool open" \
	'db_connections{service="py-shop",db="postgres",state="idle"}' "$idle"
assert_metric "db_connections active, the pool open" \
	'db_connections{service="py-shop",db="postgres",state="active"}' 0
touch "$LIB_TMP/release"
wait "$py_pid" || die "asyncpg client failed: $(cat "$LIB_TMP/asyncpg.out")"
products=$(calls 'SELECT * FROM products WHERE id')
reviews=$(calls 'SELECT body FROM reviews WHERE product')
assert_eq "pg_stat_statements: products lookups" "$N" "$products"
assert_eq "pg_stat_statements: reviews lookups" "$N" "$reviews"
q='database_query_duration_seconds_count{service="py-shop",db="postgres",operation="SELECT"'
assert_metric "SELECT products (1 KiB replies)" "$q,table=\"products\",outcome=\"SUCCESS\"}" "$products"
assert_metric "SELECT reviews (8 KiB replies)" "$q,table=\"reviews\",outcome=\"SUCCESS\"}" "$reviews"
active=$(metric 'db_connections{service="py-shop",db="postgres",state="active"}')
assert_eq "connections left active (none, or the series at 0)" 0 "${active:-0}"
assert_eq "no parse errors" 0 \
	"$(metric 'sonde_parse_errors_total{protocol="postgresql",reason="malformed"}')"
assert_eq "framing never lost" 0 \
	"$(metric 'sonde_unparsed_total{protocol="postgresql",reason="framing_lost"}')"
finish
