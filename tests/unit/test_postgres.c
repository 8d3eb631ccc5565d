// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the PostgreSQL protocol parser (user/proto/postgres.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/postgres.h"

#define XMAX 256
#define EG PG_DIR_EGRESS
#define IN PG_DIR_INGRESS

/* ---- message builder ---- */

struct buf {
	uint8_t d[32768];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = {v >> 8, v & 0xff};

	put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = {v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};

	put(b, x, 4);
}

static void putz(struct buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

/* Begin a typed message; msg_end() fills in its length. Returns its offset. */
static size_t msg_begin(struct buf *b, uint8_t type)
{
	size_t at = b->n;

	put8(b, type);
	put32(b, 0);
	return at;
}

static void msg_end(struct buf *b, size_t at)
{
	uint32_t l = b->n - at - 1;

	b->d[at + 1] = l >> 24;
	b->d[at + 2] = (l >> 16) & 0xff;
	b->d[at + 3] = (l >> 8) & 0xff;
	b->d[at + 4] = l & 0xff;
}

/* Startup packet from name/value pairs ending with NULL. Returns its offset. */
static size_t startup(struct buf *b, ...)
{
	size_t at = b->n;
	const char *s;
	va_list ap;
	uint32_t l;

	put32(b, 0);
	put32(b, 196608);
	va_start(ap, b);
	while ((s = va_arg(ap, const char *)))
		putz(b, s);
	va_end(ap);
	put8(b, 0);
	l = b->n - at;
	b->d[at] = l >> 24;
	b->d[at + 1] = (l >> 16) & 0xff;
	b->d[at + 2] = (l >> 8) & 0xff;
	b->d[at + 3] = l & 0xff;
	return at;
}

static size_t special(struct buf *b, uint32_t code)
{
	size_t at = b->n;

	put32(b, 8);
	put32(b, code);
	return at;
}

static size_t query(struct buf *b, const char *sql)
{
	size_t at = msg_begin(b, 'Q');

	putz(b, sql);
	msg_end(b, at);
	return at;
}

static size_t parse(struct buf *b, const char *name, const char *sql)
{
	size_t at = msg_begin(b, 'P');

	putz(b, name);
	putz(b, sql);
	put16(b, 1);
	put32(b, 23);
	msg_end(b, at);
	return at;
}

/* Bind with one text parameter. */
static size_t bind(struct buf *b, const char *portal, const char *stmt, const char *param)
{
	size_t at = msg_begin(b, 'B');

	putz(b, portal);
	putz(b, stmt);
	put16(b, 0);
	put16(b, 1);
	put32(b, strlen(param));
	put(b, param, strlen(param));
	put16(b, 0);
	msg_end(b, at);
	return at;
}

static size_t describe(struct buf *b, char what, const char *name)
{
	size_t at = msg_begin(b, 'D');

	put8(b, what);
	putz(b, name);
	msg_end(b, at);
	return at;
}

static size_t execute(struct buf *b, const char *portal, uint32_t max_rows)
{
	size_t at = msg_begin(b, 'E');

	putz(b, portal);
	put32(b, max_rows);
	msg_end(b, at);
	return at;
}

/* A message with no body: Sync, Flush, Terminate, ParseComplete, ... */
static size_t empty(struct buf *b, uint8_t type)
{
	size_t at = msg_begin(b, type);

	msg_end(b, at);
	return at;
}

/* Backend messages: each returns the offset of its last byte (where it completes). */
static size_t last(const struct buf *b)
{
	return b->n - 1;
}

static size_t auth_ok(struct buf *b)
{
	size_t at = msg_begin(b, 'R');

	put32(b, 0);
	msg_end(b, at);
	return last(b);
}

static size_t param_status(struct buf *b, const char *k, const char *v)
{
	size_t at = msg_begin(b, 'S');

	putz(b, k);
	putz(b, v);
	msg_end(b, at);
	return last(b);
}

static size_t key_data(struct buf *b)
{
	size_t at = msg_begin(b, 'K');

	put32(b, 1234);
	put32(b, 5678);
	msg_end(b, at);
	return last(b);
}

static size_t ready(struct buf *b, char status)
{
	size_t at = msg_begin(b, 'Z');

	put8(b, status);
	msg_end(b, at);
	return last(b);
}

static size_t row_desc(struct buf *b)
{
	size_t at = msg_begin(b, 'T');

	put16(b, 1);
	putz(b, "id");
	put32(b, 0);
	put16(b, 0);
	put32(b, 23);
	put16(b, 4);
	put32(b, 0xffffffff);
	put16(b, 0);
	msg_end(b, at);
	return last(b);
}

static size_t data_row(struct buf *b, const char *v)
{
	size_t at = msg_begin(b, 'D');

	put16(b, 1);
	put32(b, strlen(v));
	put(b, v, strlen(v));
	msg_end(b, at);
	return last(b);
}

static size_t complete_tag(struct buf *b, const char *tag)
{
	size_t at = msg_begin(b, 'C');

	putz(b, tag);
	msg_end(b, at);
	return last(b);
}

static size_t error_resp(struct buf *b, const char *code, const char *text)
{
	size_t at = msg_begin(b, 'E');

	put8(b, 'S');
	putz(b, "ERROR");
	put8(b, 'V');
	putz(b, "ERROR");
	put8(b, 'C');
	putz(b, code);
	put8(b, 'M');
	putz(b, text);
	put8(b, 0);
	msg_end(b, at);
	return last(b);
}

static size_t notice(struct buf *b)
{
	size_t at = msg_begin(b, 'N');

	put8(b, 'S');
	putz(b, "NOTICE");
	put8(b, 'C');
	putz(b, "00000");
	put8(b, 0);
	msg_end(b, at);
	return last(b);
}

static size_t bempty(struct buf *b, uint8_t type)
{
	empty(b, type);
	return last(b);
}

/* The usual answer to a startup message. */
static size_t auth_ready(struct buf *b)
{
	auth_ok(b);
	param_status(b, "server_version", "16.2");
	param_status(b, "client_encoding", "UTF8");
	key_data(b);
	return ready(b, 'I');
}

/* ---- running a connection ---- */

struct run {
	struct pg_conn *c;
	struct pg_exchange x[XMAX];
	int n;
};

static struct run *run_new(enum pg_role hint)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->c = malloc(sizeof(*r->c));
	assert_non_null(r->c);
	/* Garbage first: init must not depend on zeroed memory. */
	memset(r->c, 0xa5, sizeof(*r->c));
	pg_conn_init(r->c, hint);
	return r;
}

static void run_free(struct run *r)
{
	free(r->c);
	free(r);
}

static int feedt(struct run *r, enum pg_dir d, const void *p, size_t caplen, uint64_t total,
		 uint64_t ts)
{
	int rc = pg_conn_feed(r->c, d, p, caplen, total, ts, r->x + r->n, XMAX - r->n);

	if (rc > 0)
		r->n += rc;
	return rc;
}

static int feedb(struct run *r, enum pg_dir d, const struct buf *b, uint64_t ts)
{
	return feedt(r, d, b->d, b->n, b->n, ts);
}

/* Feed b[from, to) whole. */
static int feedr(struct run *r, enum pg_dir d, const struct buf *b, size_t from, size_t to,
		 uint64_t ts)
{
	return feedt(r, d, b->d + from, to - from, to - from, ts);
}

static void assert_x(const struct pg_exchange *x, const char *op, const char *table,
		     const char *sqlstate)
{
	assert_string_equal(x->operation, op);
	assert_string_equal(x->table, table);
	assert_int_equal(x->error, sqlstate != NULL);
	assert_string_equal(x->sqlstate, sqlstate ? sqlstate : "");
}

static void assert_ts(const struct pg_exchange *x, uint64_t begin, uint64_t end)
{
	assert_int_equal(x->req_begin_ts, begin);
	assert_int_equal(x->resp_end_ts, end);
}

/* A connection past authentication (CLIENT role: frontend on egress). */
static struct run *run_ready(enum pg_role hint, const char *db)
{
	struct run *r = run_new(hint);
	enum pg_dir fe = hint == PG_ROLE_SERVER ? IN : EG;
	struct buf f = {0}, b = {0};

	startup(&f, "user", "app", "database", db, "application_name", "test", NULL);
	auth_ready(&b);
	assert_int_equal(feedb(r, fe, &f, 1), 0);
	assert_int_equal(feedb(r, !fe, &b, 2), 0);
	assert_true(r->c->startup_done);
	assert_false(pg_conn_busy(r->c));
	return r;
}

/* ---- tests ---- */

static void test_startup_simple_query(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "shop");
	struct buf f = {0}, b = {0};

	(void)state;
	query(&f, "SELECT id, name FROM products WHERE id = 1");
	row_desc(&b);
	data_row(&b, "1");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, EG, &f, 10), 0);
	assert_true(pg_conn_busy(r->c));
	assert_int_equal(feedb(r, IN, &b, 20), 1);
	assert_false(pg_conn_busy(r->c));
	assert_x(&r->x[0], "SELECT", "products", NULL);
	assert_string_equal(r->x[0].db, "shop");
	assert_int_equal(r->x[0].role, PG_ROLE_CLIENT);
	assert_ts(&r->x[0], 10, 20);
	assert_false(pg_conn_broken(r->c));
	assert_false(pg_conn_encrypted(r->c));
	run_free(r);
}

static void test_db_from_user(void **state)
{
	struct run *r = run_new(PG_ROLE_CLIENT);
	struct buf f = {0}, b = {0};

	(void)state;
	/* No database: it defaults to the user name. */
	startup(&f, "user", "alice", "client_encoding", "UTF8", NULL);
	auth_ready(&b);
	query(&f, "select 1");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	feedb(r, EG, &f, 1);
	assert_int_equal(feedb(r, IN, &b, 2), 1);
	assert_string_equal(r->x[0].db, "alice");
	assert_x(&r->x[0], "SELECT", "", NULL);
	run_free(r);

	/* database wins over user, whatever the order. */
	r = run_new(PG_ROLE_CLIENT);
	memset(&f, 0, sizeof(f));
	startup(&f, "database", "inventory", "user", "bob", NULL);
	feedb(r, EG, &f, 1);
	assert_string_equal(r->c->db, "inventory");
	run_free(r);
}

static void test_roles(void **state)
{
	struct run *r;
	struct buf f = {0}, b = {0};

	(void)state;
	startup(&f, "user", "u", "database", "d", NULL);
	query(&f, "DELETE FROM sessions WHERE expires < now()");
	auth_ready(&b);
	complete_tag(&b, "DELETE 3");
	ready(&b, 'I');

	/* SERVER: the observed process is postgres, frontend messages arrive on ingress. */
	r = run_new(PG_ROLE_SERVER);
	assert_int_equal(feedb(r, IN, &f, 1), 0);
	assert_int_equal(feedb(r, EG, &b, 2), 1);
	assert_x(&r->x[0], "DELETE", "sessions", NULL);
	assert_int_equal(r->x[0].role, PG_ROLE_SERVER);
	run_free(r);

	/* UNKNOWN: decided by the first frontend-looking bytes. */
	r = run_new(PG_ROLE_UNKNOWN);
	assert_int_equal(feedb(r, IN, &f, 1), 0);
	assert_int_equal(r->c->role, PG_ROLE_SERVER);
	assert_int_equal(feedb(r, EG, &b, 2), 1);
	assert_int_equal(r->x[0].role, PG_ROLE_SERVER);
	run_free(r);

	r = run_new(PG_ROLE_UNKNOWN);
	/* Backend bytes first tell nothing. */
	assert_int_equal(feedb(r, IN, &b, 1), 0);
	assert_int_equal(r->c->role, PG_ROLE_UNKNOWN);
	assert_int_equal(feedb(r, EG, &f, 2), 0);
	assert_int_equal(r->c->role, PG_ROLE_CLIENT);
	assert_int_equal(feedb(r, IN, &b, 3), 1);
	assert_int_equal(r->x[0].role, PG_ROLE_CLIENT);
	assert_string_equal(r->x[0].db, "d");
	run_free(r);
}

static void test_insert_update_delete(void **state)
{
	static const struct {
		const char *sql, *tag, *op, *table;
	} cases[] = {
	    {"INSERT INTO orders (id, total) VALUES (1, 9.5)", "INSERT 0 1", "INSERT", "orders"},
	    {"update public.accounts set balance = balance - 1 where id = 2", "UPDATE 1", "UPDATE",
	     "accounts"},
	    {"DELETE FROM \"Cart Items\" WHERE id = 3", "DELETE 1", "DELETE", "Cart Items"},
	    {"  -- refresh\n  TRUNCATE TABLE audit_log", "TRUNCATE TABLE", "TRUNCATE", "audit_log"},
	    {"SELECT now()", "SELECT 1", "SELECT", ""},
	};
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf f = {0}, b = {0};

		query(&f, cases[i].sql);
		complete_tag(&b, cases[i].tag);
		ready(&b, 'I');
		assert_int_equal(feedb(r, EG, &f, 10 * i + 10), 0);
		assert_int_equal(feedb(r, IN, &b, 10 * i + 15), 1);
		assert_x(&r->x[i], cases[i].op, cases[i].table, NULL);
		assert_ts(&r->x[i], 10 * i + 10, 10 * i + 15);
	}
	assert_int_equal(r->c->npending, 0);
	run_free(r);
}

static void test_multi_statement(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "bank");
	struct buf f = {0}, b = {0};

	(void)state;
	query(&f, "BEGIN; UPDATE accounts SET balance = 'a;b' WHERE id = 1; COMMIT;");
	assert_int_equal(feedb(r, EG, &f, 10), 0);
	assert_int_equal(r->c->npending, 3);
	complete_tag(&b, "BEGIN");
	assert_int_equal(feedb(r, IN, &b, 11), 1);
	memset(&b, 0, sizeof(b));
	complete_tag(&b, "UPDATE 1");
	complete_tag(&b, "COMMIT");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 12), 2);
	assert_int_equal(r->n, 3);
	assert_x(&r->x[0], "BEGIN", "", NULL);
	assert_x(&r->x[1], "UPDATE", "accounts", NULL);
	assert_x(&r->x[2], "COMMIT", "", NULL);
	assert_ts(&r->x[0], 10, 11);
	assert_ts(&r->x[2], 10, 12);
	assert_false(pg_conn_busy(r->c));
	run_free(r);
}

static void test_multi_statement_error(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "bank");
	struct buf f = {0}, b = {0};

	(void)state;
	query(&f, "BEGIN; INSERT INTO t VALUES (1); SELECT 1/0 FROM t; UPDATE t SET x = 2; COMMIT");
	complete_tag(&b, "BEGIN");
	complete_tag(&b, "INSERT 0 1");
	error_resp(&b, "22012", "division by zero");
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_int_equal(r->c->npending, 5);
	assert_int_equal(feedb(r, IN, &b, 2), 3);
	assert_x(&r->x[2], "SELECT", "t", "22012");
	/* The rest was skipped: ReadyForQuery drops it. */
	assert_true(pg_conn_busy(r->c));
	memset(&b, 0, sizeof(b));
	ready(&b, 'E');
	assert_int_equal(feedb(r, IN, &b, 3), 0);
	assert_false(pg_conn_busy(r->c));
	assert_int_equal(r->c->npending, 0);

	/* The next query pairs normally. */
	memset(&f, 0, sizeof(f));
	memset(&b, 0, sizeof(b));
	query(&f, "ROLLBACK");
	complete_tag(&b, "ROLLBACK");
	ready(&b, 'I');
	feedb(r, EG, &f, 4);
	assert_int_equal(feedb(r, IN, &b, 5), 1);
	assert_x(&r->x[3], "ROLLBACK", "", NULL);
	assert_int_equal(r->n, 4);
	run_free(r);
}

static void test_empty_query(void **state)
{
	static const char *const texts[] = {"", "  ", ";", " -- nothing\n ; /* */ ;"};
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct buf f = {0}, b = {0};

		query(&f, texts[i]);
		bempty(&b, 'I');
		ready(&b, 'I');
		feedb(r, EG, &f, 1);
		assert_int_equal(feedb(r, IN, &b, 2), 1);
		assert_x(&r->x[i], "OTHER", "", NULL);
	}
	run_free(r);
}

/* Parse/Bind/Describe/Execute/Sync for one statement (libpq PQexecParams). */
static void test_extended_one(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	parse(&f, "", "SELECT name FROM users WHERE id = $1");
	bind(&f, "", "", "42");
	describe(&f, 'P', "");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '1');
	bempty(&b, '2');
	row_desc(&b);
	data_row(&b, "ann");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, EG, &f, 7), 0);
	assert_true(pg_conn_busy(r->c));
	assert_int_equal(feedb(r, IN, &b, 9), 1);
	assert_x(&r->x[0], "SELECT", "users", NULL);
	assert_ts(&r->x[0], 7, 9);
	assert_false(pg_conn_busy(r->c));

	/* A trailing ';' in a Parse text is allowed. */
	f.n = 0;
	b.n = 0;
	parse(&f, "", "delete from semi; ");
	bind(&f, "", "", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '1');
	bempty(&b, '2');
	complete_tag(&b, "DELETE 0");
	ready(&b, 'I');
	feedb(r, EG, &f, 10);
	assert_int_equal(feedb(r, IN, &b, 11), 1);
	assert_x(&r->x[1], "DELETE", "semi", NULL);
	run_free(r);
}

/*
 * pgbench -M prepared: named statements parsed once, then Bind/Execute many
 * times, several pipelined before one Sync.
 */
static void test_extended_pipelined(void **state)
{
	static const char *const sqls[] = {
	    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
	    "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
	    "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
	    "INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES ($1, $2, $3, $4)",
	};
	static const char *const ops[] = {"UPDATE", "SELECT", "UPDATE", "INSERT"};
	static const char *const tables[] = {"pgbench_accounts", "pgbench_accounts",
					     "pgbench_tellers", "pgbench_history"};
	struct run *r = run_ready(PG_ROLE_CLIENT, "pgbench");
	struct buf f = {0}, b = {0};
	char name[8];
	int i, round;

	(void)state;
	/* Prepare all: Parse x4 + Sync. */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "P0_%d", i);
		parse(&f, name, sqls[i]);
		bempty(&b, '1');
	}
	empty(&f, 'S');
	ready(&b, 'I');
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_false(pg_conn_busy(r->c)); /* nothing executes */
	assert_int_equal(feedb(r, IN, &b, 2), 0);

	for (round = 0; round < 5; round++) {
		memset(&f, 0, sizeof(f));
		memset(&b, 0, sizeof(b));
		empty(&f, 'S'); /* a lone Sync: answered by ReadyForQuery alone */
		ready(&b, 'I');
		for (i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "P0_%d", i);
			bind(&f, "", name, "7");
			execute(&f, "", 0);
			bempty(&b, '2');
			if (i == 1) {
				data_row(&b, "100");
				complete_tag(&b, "SELECT 1");
			} else {
				complete_tag(&b, i == 3 ? "INSERT 0 1" : "UPDATE 1");
			}
		}
		empty(&f, 'S');
		ready(&b, 'T');
		assert_int_equal(feedb(r, EG, &f, 100 * round + 10), 0);
		assert_int_equal(r->c->npending, 4);
		assert_int_equal(feedb(r, IN, &b, 100 * round + 20), 4);
		for (i = 0; i < 4; i++) {
			assert_x(&r->x[4 * round + i], ops[i], tables[i], NULL);
			assert_ts(&r->x[4 * round + i], 100 * round + 10, 100 * round + 20);
		}
	}
	assert_int_equal(r->n, 20);
	assert_false(pg_conn_busy(r->c));
	run_free(r);
}

/* Two Sync batches in flight at once (libpq pipeline mode). */
static void test_pipelined_batches(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	parse(&f, "a", "SELECT * FROM a");
	bind(&f, "", "a", "1");
	execute(&f, "", 0);
	execute(&f, "", 0); /* fails: the next Execute of this batch is skipped */
	empty(&f, 'S');
	parse(&f, "b", "INSERT INTO b VALUES ($1)");
	bind(&f, "", "b", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_int_equal(r->c->npending, 3);
	bempty(&b, '1');
	bempty(&b, '2');
	error_resp(&b, "57014", "canceling statement due to user request");
	ready(&b, 'I');
	bempty(&b, '1');
	bempty(&b, '2');
	complete_tag(&b, "INSERT 0 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 2), 2);
	assert_x(&r->x[0], "SELECT", "a", "57014");
	assert_x(&r->x[1], "INSERT", "b", NULL);
	assert_int_equal(r->c->npending, 0);
	run_free(r);
}

static void test_extended_error(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	/* The first Execute fails: the second is skipped until Sync. */
	parse(&f, "ins", "INSERT INTO items (id) VALUES ($1)");
	bind(&f, "", "ins", "1");
	execute(&f, "", 0);
	bind(&f, "", "ins", "2");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '1');
	bempty(&b, '2');
	error_resp(&b, "23505", "duplicate key value violates unique constraint");
	ready(&b, 'E');
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_int_equal(r->c->npending, 2);
	assert_int_equal(feedb(r, IN, &b, 2), 1);
	assert_x(&r->x[0], "INSERT", "items", "23505");
	assert_int_equal(r->c->npending, 0);

	/* A Parse error fails the statement that was to be executed. */
	memset(&f, 0, sizeof(f));
	memset(&b, 0, sizeof(b));
	parse(&f, "", "SELEC oops FROM t");
	bind(&f, "", "", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	error_resp(&b, "42601", "syntax error at or near \"SELEC\"");
	ready(&b, 'I');
	feedb(r, EG, &f, 3);
	assert_int_equal(feedb(r, IN, &b, 4), 1);
	assert_x(&r->x[1], "SELEC", "t", "42601");

	/* A Parse error with nothing to execute: nothing to report. */
	memset(&f, 0, sizeof(f));
	memset(&b, 0, sizeof(b));
	parse(&f, "bad", "SELECT FROM FROM");
	empty(&f, 'S');
	error_resp(&b, "42601", "syntax error");
	ready(&b, 'I');
	feedb(r, EG, &f, 5);
	assert_int_equal(feedb(r, IN, &b, 6), 0);
	assert_int_equal(r->n, 2);
	assert_false(pg_conn_busy(r->c));
	run_free(r);
}

/* Execute with a row limit: PortalSuspended completes it, the next Execute continues. */
static void test_portal_suspended(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	parse(&f, "", "SELECT * FROM big");
	bind(&f, "c1", "", "");
	execute(&f, "c1", 2);
	empty(&f, 'H');
	feedb(r, EG, &f, 1);
	bempty(&b, '1');
	bempty(&b, '2');
	data_row(&b, "1");
	data_row(&b, "2");
	bempty(&b, 's');
	assert_int_equal(feedb(r, IN, &b, 2), 1);
	memset(&f, 0, sizeof(f));
	memset(&b, 0, sizeof(b));
	execute(&f, "c1", 2);
	empty(&f, 'S');
	feedb(r, EG, &f, 3);
	data_row(&b, "3");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 4), 1);
	assert_x(&r->x[0], "SELECT", "big", NULL);
	assert_x(&r->x[1], "SELECT", "big", NULL);
	assert_ts(&r->x[0], 1, 2);
	assert_ts(&r->x[1], 3, 4);
	run_free(r);
}

static void test_ssl_refused(void **state)
{
	struct buf f1 = {0}, f2 = {0}, b = {0};
	int order;

	(void)state;
	special(&f1, 80877103);
	startup(&f2, "user", "u", "database", "secure", NULL);
	query(&f2, "SELECT 1 FROM dual");
	put8(&b, 'N');
	auth_ready(&b);
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	/* The answer in its place, or (reordered events) after the startup message. */
	for (order = 0; order < 2; order++) {
		struct run *r = run_new(PG_ROLE_CLIENT);

		assert_int_equal(feedb(r, EG, &f1, 1), 0);
		if (order == 0) {
			assert_int_equal(feedr(r, IN, &b, 0, 1, 2), 0);
			assert_int_equal(feedb(r, EG, &f2, 3), 0);
		} else {
			assert_int_equal(feedb(r, EG, &f2, 3), 0);
			assert_int_equal(feedr(r, IN, &b, 0, 1, 2), 0);
		}
		assert_int_equal(feedr(r, IN, &b, 1, b.n, 4), 1);
		assert_x(&r->x[0], "SELECT", "dual", NULL);
		assert_string_equal(r->x[0].db, "secure");
		assert_false(pg_conn_encrypted(r->c));
		assert_false(pg_conn_broken(r->c));
		run_free(r);
	}
}

static void test_ssl_accepted(void **state)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
	struct buf f = {0};
	struct run *r = run_new(PG_ROLE_CLIENT);

	(void)state;
	special(&f, 80877103);
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_int_equal(feedt(r, IN, "S", 1, 1, 2), 0);
	assert_true(pg_conn_encrypted(r->c));
	assert_false(pg_conn_broken(r->c));
	assert_int_equal(feedt(r, EG, hello, sizeof(hello), sizeof(hello), 3), 0);
	assert_int_equal(feedt(r, IN, "\x16\x03\x03garbage", 10, 10, 4), 0);
	assert_false(pg_conn_broken(r->c));
	assert_false(pg_conn_busy(r->c));
	run_free(r);

	/* TLS hello seen before the 'S' (reordered events). */
	r = run_new(PG_ROLE_SERVER);
	feedb(r, IN, &f, 1);
	assert_int_equal(feedt(r, IN, hello, sizeof(hello), sizeof(hello), 2), 0);
	assert_true(pg_conn_encrypted(r->c));
	run_free(r);

	/* GSSENCRequest answered 'G'. */
	r = run_new(PG_ROLE_CLIENT);
	memset(&f, 0, sizeof(f));
	special(&f, 80877104);
	feedb(r, EG, &f, 1);
	assert_int_equal(feedt(r, IN, "G", 1, 1, 2), 0);
	assert_true(pg_conn_encrypted(r->c));
	run_free(r);

	/* Direct SSL (no SSLRequest): the first bytes are a TLS record. */
	r = run_new(PG_ROLE_CLIENT);
	assert_int_equal(feedt(r, EG, hello, sizeof(hello), sizeof(hello), 1), 0);
	assert_true(pg_conn_encrypted(r->c));
	run_free(r);
}

static void test_gss_refused_then_ssl(void **state)
{
	struct run *r = run_new(PG_ROLE_CLIENT);
	struct buf f = {0}, b = {0};

	(void)state;
	special(&f, 80877104);
	feedb(r, EG, &f, 1);
	assert_int_equal(feedt(r, IN, "N", 1, 1, 2), 0);
	f.n = 0;
	special(&f, 80877103);
	feedb(r, EG, &f, 3);
	assert_int_equal(feedt(r, IN, "N", 1, 1, 4), 0);
	f.n = 0;
	startup(&f, "user", "u", NULL);
	query(&f, "SHOW server_version");
	feedb(r, EG, &f, 5);
	auth_ready(&b);
	complete_tag(&b, "SHOW");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 6), 1);
	assert_x(&r->x[0], "SHOW", "", NULL);
	assert_string_equal(r->x[0].db, "u");
	run_free(r);
}

static void test_cancel_request(void **state)
{
	struct run *r = run_new(PG_ROLE_CLIENT);
	struct buf f = {0};

	(void)state;
	put32(&f, 16);
	put32(&f, 80877102);
	put32(&f, 1234);
	put32(&f, 5678);
	assert_int_equal(feedb(r, EG, &f, 1), 0);
	assert_int_equal(feedt(r, IN, "junk!", 5, 5, 2), 0);
	assert_int_equal(feedt(r, EG, "more junk", 9, 9, 3), 0);
	assert_false(pg_conn_broken(r->c));
	assert_false(pg_conn_busy(r->c));
	run_free(r);
}

/* ---- split at every offset ---- */

struct expect {
	const char *op, *table, *sqlstate;
	size_t fe_off; /* offset in the frontend stream where the statement begins */
	size_t be_off; /* offset in the backend stream of its completion's last byte */
};

struct script {
	struct buf f, b;
	struct expect x[16];
	int n;
};

static void add_x(struct script *s, const char *op, const char *table, const char *sqlstate,
		  size_t fe_off, size_t be_off)
{
	s->x[s->n++] = (struct expect){op, table, sqlstate, fe_off, be_off};
}

/* A session mixing everything: startup, simple and extended queries, errors, notices. */
static void script_build(struct script *s)
{
	size_t q1, q2, p1, b2, be;

	memset(s, 0, sizeof(*s));
	startup(&s->f, "user", "app", "database", "shop", NULL);
	auth_ready(&s->b);

	q1 = query(&s->f, "BEGIN; SELECT * FROM \"Order\" o /* ; */ WHERE o.note = 'x;y'; END");
	complete_tag(&s->b, "BEGIN");
	add_x(s, "BEGIN", "", NULL, q1, last(&s->b));
	row_desc(&s->b);
	data_row(&s->b, "1");
	notice(&s->b);
	be = complete_tag(&s->b, "SELECT 1");
	add_x(s, "SELECT", "Order", NULL, q1, be);
	be = complete_tag(&s->b, "COMMIT");
	add_x(s, "END", "", NULL, q1, be);
	ready(&s->b, 'I');

	p1 = parse(&s->f, "s1", "UPDATE stock SET n = n - $1 WHERE sku = $2");
	bind(&s->f, "", "s1", "3");
	describe(&s->f, 'P', "");
	execute(&s->f, "", 0);
	b2 = bind(&s->f, "", "s1", "4");
	execute(&s->f, "", 0);
	empty(&s->f, 'S');
	bempty(&s->b, '1');
	bempty(&s->b, '2');
	bempty(&s->b, 'n');
	be = complete_tag(&s->b, "UPDATE 1");
	add_x(s, "UPDATE", "stock", NULL, p1, be);
	bempty(&s->b, '2');
	be = error_resp(&s->b, "40P01", "deadlock detected");
	/* The group of the second Execute begins with its Bind. */
	add_x(s, "UPDATE", "stock", "40P01", b2, be);
	ready(&s->b, 'E');

	q2 = query(&s->f, "insert into audit.log(msg) values ($$it's; done$$)");
	be = complete_tag(&s->b, "INSERT 0 1");
	add_x(s, "INSERT", "log", NULL, q2, be);
	ready(&s->b, 'I');
	empty(&s->f, 'X');
}

static void check_script(const struct script *s, const struct run *r, size_t fcut, size_t bcut,
			 uint64_t fts[2], uint64_t bts[2])
{
	int i;

	assert_int_equal(r->n, s->n);
	for (i = 0; i < s->n; i++) {
		const struct expect *e = &s->x[i];
		const struct pg_exchange *x = &r->x[i];

		assert_x(x, e->op, e->table, e->sqlstate);
		assert_string_equal(x->db, "shop");
		assert_int_equal(x->role, PG_ROLE_CLIENT);
		assert_int_equal(x->req_begin_ts, fts[e->fe_off >= fcut]);
		assert_int_equal(x->resp_end_ts, bts[e->be_off >= bcut]);
	}
	assert_false(pg_conn_broken(r->c));
	assert_false(pg_conn_busy(r->c));
}

static void test_split_every_offset(void **state)
{
	struct script *s = malloc(sizeof(*s));
	uint64_t fts[2] = {1, 2}, bts[2] = {3, 4};
	size_t i;

	(void)state;
	assert_non_null(s);
	script_build(s);
	/* Frontend cut at every offset, backend whole. */
	for (i = 0; i <= s->f.n; i++) {
		struct run *r = run_new(PG_ROLE_CLIENT);

		assert_true(feedr(r, EG, &s->f, 0, i, 1) >= 0);
		assert_true(feedr(r, EG, &s->f, i, s->f.n, 2) >= 0);
		assert_true(feedr(r, IN, &s->b, 0, s->b.n, 3) >= 0);
		check_script(s, r, i, s->b.n, fts, bts);
		run_free(r);
	}
	/* Backend cut at every offset. */
	for (i = 0; i <= s->b.n; i++) {
		struct run *r = run_new(PG_ROLE_CLIENT);

		assert_true(feedr(r, EG, &s->f, 0, s->f.n, 1) >= 0);
		assert_true(feedr(r, IN, &s->b, 0, i, 3) >= 0);
		assert_true(feedr(r, IN, &s->b, i, s->b.n, 4) >= 0);
		check_script(s, r, s->f.n, i, fts, bts);
		run_free(r);
	}
	free(s);
}

/* One byte per syscall in both directions; each byte's ts is its offset. */
static void test_split_byte_by_byte(void **state)
{
	struct script *s = malloc(sizeof(*s));
	struct run *r = run_new(PG_ROLE_SERVER);
	size_t i;
	int k;

	(void)state;
	assert_non_null(s);
	script_build(s);
	for (i = 0; i < s->f.n; i++)
		assert_true(feedr(r, IN, &s->f, i, i + 1, i) >= 0);
	for (i = 0; i < s->b.n; i++)
		assert_true(feedr(r, EG, &s->b, i, i + 1, 100000 + i) >= 0);
	assert_int_equal(r->n, s->n);
	for (k = 0; k < s->n; k++) {
		assert_x(&r->x[k], s->x[k].op, s->x[k].table, s->x[k].sqlstate);
		assert_ts(&r->x[k], s->x[k].fe_off, 100000 + s->x[k].be_off);
		assert_int_equal(r->x[k].role, PG_ROLE_SERVER);
	}
	assert_false(pg_conn_broken(r->c));
	run_free(r);
	free(s);
}

/* Requests and responses interleaved as they really happen, each cut in two. */
static void test_split_interleaved(void **state)
{
	struct buf f = {0}, b = {0};
	size_t i, j, fl, bl, cend;

	(void)state;
	parse(&f, "", "SELECT v FROM kv WHERE k = $1");
	bind(&f, "", "", "key");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '1');
	bempty(&b, '2');
	data_row(&b, "value");
	cend = complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	fl = f.n;
	bl = b.n;
	for (i = 1; i < fl; i++) {
		for (j = 1; j < bl; j += 3) {
			struct run *r = run_ready(PG_ROLE_CLIENT, "kv");
			int round;

			for (round = 0; round < 2; round++) {
				uint64_t t = 10 * round + 10;

				feedr(r, EG, &f, 0, i, t);
				feedr(r, EG, &f, i, fl, t + 1);
				feedr(r, IN, &b, 0, j, t + 2);
				feedr(r, IN, &b, j, bl, t + 3);
				assert_int_equal(r->n, round + 1);
				assert_x(&r->x[round], "SELECT", "kv", NULL);
				assert_ts(&r->x[round], t, cend >= j ? t + 3 : t + 2);
			}
			run_free(r);
		}
	}
}

/* ---- capture limits ---- */

static void test_query_beyond_capture(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};
	char *sql = malloc(6000);
	size_t n, i;

	(void)state;
	assert_non_null(sql);
	n = (size_t)snprintf(sql, 6000, "SELECT * FROM big_table WHERE id IN (");
	for (i = 0; n < 5900; i++)
		n += (size_t)snprintf(sql + n, 6000 - n, "%zu,", i);
	sql[n - 1] = ')';
	query(&f, sql);
	/* 256 bytes captured of a 5,9xx byte syscall: still in frame. */
	assert_int_equal(feedt(r, EG, f.d, 256, f.n, 1), 0);
	assert_int_equal(r->c->npending, 1);
	complete_tag(&b, "SELECT 0");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 2), 1);
	assert_x(&r->x[0], "SELECT", "big_table", NULL);

	/* The text goes on over several syscalls, each captured in part. */
	f.n = 0;
	query(&f, sql);
	assert_int_equal(feedt(r, EG, f.d, 100, 3000, 3), 0);
	assert_int_equal(feedt(r, EG, f.d + 3000, 100, f.n - 3000, 4), 0);
	assert_int_equal(feedb(r, IN, &b, 5), 1);
	assert_x(&r->x[1], "SELECT", "big_table", NULL);
	assert_ts(&r->x[1], 3, 5);

	/* The capture ends inside the table name: a partial name is no name. */
	f.n = 0;
	query(&f, sql);
	assert_int_equal(feedt(r, EG, f.d, 5 + 20, f.n, 6), 0);
	assert_int_equal(feedb(r, IN, &b, 7), 1);
	assert_x(&r->x[2], "SELECT", "", NULL);

	/* Parse text beyond the capture, Bind/Execute/Sync in the next syscall. */
	f.n = 0;
	b.n = 0;
	parse(&f, "big", sql);
	assert_int_equal(feedt(r, EG, f.d, 64, f.n, 8), 0);
	f.n = 0;
	bind(&f, "", "big", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	assert_int_equal(feedb(r, EG, &f, 9), 0);
	bempty(&b, '1');
	bempty(&b, '2');
	complete_tag(&b, "SELECT 0");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 10), 1);
	assert_x(&r->x[3], "SELECT", "big_table", NULL);
	/* The statement began with its Parse. */
	assert_ts(&r->x[3], 8, 10);
	assert_false(pg_conn_broken(r->c));
	free(sql);
	run_free(r);
}

/* A result set larger than the capture: its end is unseen, the next request completes it. */
static void test_result_beyond_capture(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};
	int i;

	(void)state;
	query(&f, "SELECT * FROM events");
	feedb(r, EG, &f, 10);
	row_desc(&b);
	for (i = 0; i < 200; i++)
		data_row(&b, "some row data");
	complete_tag(&b, "SELECT 200");
	ready(&b, 'I');
	/* Two reads, 256 bytes captured of each. */
	assert_int_equal(feedt(r, IN, b.d, 256, 2000, 11), 0);
	assert_int_equal(feedt(r, IN, b.d + 2000, 256, b.n - 2000, 12), 0);
	assert_true(pg_conn_busy(r->c));
	assert_int_equal(r->n, 0);

	/* The next query: the first one ended with the last bytes read. */
	f.n = 0;
	query(&f, "SELECT count(*) FROM events");
	assert_int_equal(feedb(r, EG, &f, 20), 1);
	assert_x(&r->x[0], "SELECT", "events", NULL);
	assert_ts(&r->x[0], 10, 12);
	b.n = 0;
	row_desc(&b);
	data_row(&b, "200");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 21), 1);
	assert_ts(&r->x[1], 20, 21);

	/* Out of step, a response whose reads all begin mid-message: skipped, yet completed. */
	f.n = 0;
	query(&f, "SELECT * FROM events WHERE kind = 'a'");
	feedb(r, EG, &f, 22);
	b.n = 0;
	for (i = 0; i < 50; i++)
		data_row(&b, "some row data");
	complete_tag(&b, "SELECT 50");
	ready(&b, 'I');
	feedt(r, IN, b.d, 200, 1000, 23); /* loses framing */
	feedt(r, IN, b.d + 1003, 100, b.n - 1003, 24);
	f.n = 0;
	query(&f, "SELECT 1");
	assert_int_equal(feedb(r, EG, &f, 25), 1);
	assert_ts(&r->x[2], 22, 24);
	b.n = 0;
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedt(r, IN, b.d + 2, b.n - 2, b.n - 2, 26), 0);
	f.n = 0;
	query(&f, "SELECT 2");
	assert_int_equal(feedb(r, EG, &f, 27), 1);
	assert_ts(&r->x[3], 25, 26);
	b.n = 0;
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 28), 1);
	assert_ts(&r->x[4], 27, 28);

	/* Terminate completes a lost one too. */
	f.n = 0;
	query(&f, "SELECT * FROM events");
	feedb(r, EG, &f, 30);
	b.n = 0;
	row_desc(&b);
	for (i = 0; i < 50; i++)
		data_row(&b, "some row data");
	complete_tag(&b, "SELECT 50");
	ready(&b, 'I');
	feedt(r, IN, b.d, 100, b.n, 31);
	f.n = 0;
	empty(&f, 'X');
	assert_int_equal(feedb(r, EG, &f, 32), 1);
	assert_ts(&r->x[5], 30, 31);
	assert_false(pg_conn_busy(r->c));
	assert_false(pg_conn_broken(r->c));
	run_free(r);
}

/* A Bind larger than the capture hides its Execute and Sync. */
static void test_bind_beyond_capture(void **state)
{
	struct run *r = run_ready(PG_ROLE_SERVER, "db");
	struct buf f = {0}, b = {0};
	char *big = malloc(3000);
	int round;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 2999);
	big[2999] = '\0';
	parse(&f, "put", "INSERT INTO documents (body) VALUES ($1)");
	empty(&f, 'S');
	feedb(r, IN, &f, 1);
	bempty(&b, '1');
	ready(&b, 'I');
	feedb(r, EG, &b, 2);
	for (round = 0; round < 3; round++) {
		uint64_t t = 10 * round + 10;

		f.n = 0;
		b.n = 0;
		bind(&f, "", "put", big);
		execute(&f, "", 0);
		empty(&f, 'S');
		assert_int_equal(feedt(r, IN, f.d, 256, f.n, t), 0);
		assert_true(pg_conn_busy(r->c));
		bempty(&b, '2');
		complete_tag(&b, "INSERT 0 1");
		ready(&b, 'I');
		assert_int_equal(feedb(r, EG, &b, t + 1), 1);
		assert_x(&r->x[round], "INSERT", "documents", NULL);
		assert_ts(&r->x[round], t, t + 1);
		assert_false(pg_conn_busy(r->c));
	}
	/* In frame again for a normal batch. */
	f.n = 0;
	b.n = 0;
	bind(&f, "", "put", "small");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '2');
	error_resp(&b, "23514", "check violation");
	ready(&b, 'I');
	feedb(r, IN, &f, 50);
	assert_int_equal(feedb(r, EG, &b, 51), 1);
	assert_x(&r->x[3], "INSERT", "documents", "23514");
	assert_int_equal(r->n, 4);
	free(big);
	run_free(r);
}

/* ---- mid-stream, malformed ---- */

static void test_mid_stream_start(void **state)
{
	struct run *r = run_new(PG_ROLE_CLIENT);
	struct buf f = {0}, b = {0};

	(void)state;
	/* The tail of some earlier message on both sides: skipped. */
	assert_int_equal(feedt(r, EG, "ta', 3)\0\0\0", 10, 10, 1), 0);
	assert_int_equal(feedt(r, IN, "\x01\x02\x03xyz", 6, 6, 2), 0);
	assert_int_equal(feedt(r, IN, "\x00\x00\x00\x05rest-of-a-row", 17, 17, 3), 0);
	assert_false(pg_conn_broken(r->c));
	assert_false(pg_conn_busy(r->c));

	/* A feed beginning with a Query brings the frontend in step. */
	query(&f, "SELECT * FROM carts");
	assert_int_equal(feedb(r, EG, &f, 4), 0);
	assert_true(pg_conn_busy(r->c));
	row_desc(&b);
	complete_tag(&b, "SELECT 0");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 5), 1);
	assert_x(&r->x[0], "SELECT", "carts", NULL);
	assert_string_equal(r->x[0].db, "");

	/* Prepared before we came: an Execute of an unknown statement. */
	f.n = 0;
	b.n = 0;
	bind(&f, "", "S_12", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '2');
	complete_tag(&b, "UPDATE 1");
	ready(&b, 'I');
	feedb(r, EG, &f, 6);
	assert_int_equal(feedb(r, IN, &b, 7), 1);
	assert_x(&r->x[1], "OTHER", "", NULL);
	assert_false(pg_conn_broken(r->c));
	run_free(r);

	/* pgbench -M prepared started before sonde: Bind/Execute/Sync only, both sides. */
	r = run_new(PG_ROLE_CLIENT);
	f.n = 0;
	b.n = 0;
	bind(&f, "", "P0_1", "1");
	execute(&f, "", 0);
	empty(&f, 'S');
	bempty(&b, '2');
	complete_tag(&b, "SELECT 1");
	ready(&b, 'T');
	feedt(r, IN, b.d + 3, b.n - 3, b.n - 3, 1); /* mid-stream: skipped */
	feedb(r, EG, &f, 2);
	assert_int_equal(feedb(r, IN, &b, 3), 1);
	assert_x(&r->x[0], "OTHER", "", NULL);
	run_free(r);
}

/* A resync on a guess that turns out wrong is not malformed traffic. */
static void test_tentative(void **state)
{
	struct run *r = run_new(PG_ROLE_CLIENT);
	struct buf f = {0}, b = {0};

	(void)state;
	/* A bad chain within one feed is not even tried. */
	assert_int_equal(feedt(r, EG, "H\0\0\0\x04\x7f\0\0\0\x04", 10, 10, 1), 0);
	assert_false(pg_conn_broken(r->c));
	/* Plausible Flush, then an unknown type in the next feed: out of step, not broken. */
	assert_int_equal(feedt(r, EG, "H\0\0\0\x04", 5, 5, 1), 0);
	assert_int_equal(feedt(r, EG, "\x7f\0\0\0\x04", 5, 5, 1), 0);
	assert_false(pg_conn_broken(r->c));
	query(&f, "VACUUM ANALYZE t");
	assert_int_equal(feedb(r, EG, &f, 2), 0);
	complete_tag(&b, "VACUUM");
	ready(&b, 'I');
	/* Backend: plausible start, then garbage: out of step, not broken. */
	assert_int_equal(feedt(r, IN, "1\0\0\0\x04", 5, 5, 3), 0);
	assert_int_equal(feedt(r, IN, "Q\0\0\0\x04", 5, 5, 3), 0);
	assert_false(pg_conn_broken(r->c));
	assert_int_equal(feedb(r, IN, &b, 4), 1);
	assert_x(&r->x[0], "VACUUM", "", NULL);

	/* Confirmed by Query and ReadyForQuery: garbage now breaks it. */
	assert_int_equal(feedt(r, IN, "\x7f\0\0\0\x04", 5, 5, 5), -1);
	assert_true(pg_conn_broken(r->c));
	assert_int_equal(feedb(r, IN, &b, 6), 0);
	run_free(r);
}

static void test_garbage_broken(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	assert_int_equal(feedt(r, EG, "GET / HTTP/1.1\r\n\r\n", 18, 18, 1), -1);
	assert_true(pg_conn_broken(r->c));
	/* -1 once, then 0 forever, even for good traffic. */
	query(&f, "SELECT 1");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(feedb(r, EG, &f, 2), 0);
	assert_int_equal(feedb(r, IN, &b, 3), 0);
	assert_false(pg_conn_busy(r->c));
	run_free(r);

	/* The backend half too. */
	r = run_ready(PG_ROLE_CLIENT, "db");
	assert_int_equal(feedb(r, EG, &f, 2), 0);
	assert_int_equal(feedt(r, IN, "HTTP/1.1 200 OK\r\n", 17, 17, 3), -1);
	assert_int_equal(feedb(r, IN, &b, 4), 0);
	run_free(r);

	/* Answer to SSLRequest that is neither 'S' nor 'N'. */
	r = run_new(PG_ROLE_CLIENT);
	f.n = 0;
	special(&f, 80877103);
	feedb(r, EG, &f, 1);
	assert_int_equal(feedt(r, IN, "X", 1, 1, 2), -1);
	run_free(r);
}

static void test_bad_lengths(void **state)
{
	static const struct {
		bool fe;
		const char *bytes;
		size_t len;
	} cases[] = {
	    {true, "Q\0\0\0\x03", 5},	      /* length < 4 */
	    {true, "Q\x7f\xff\xff\xff", 5},   /* > 1 GiB */
	    {true, "Q\x40\0\0\x01", 5},	      /* 1 GiB + 1 */
	    {true, "S\0\0\0\x08\0\0\0\0", 9}, /* Sync has no body */
	    {true, "E\0\0\0\x05\0", 6},	      /* Execute too short */
	    {false, "Z\0\0\0\x06II", 7},      /* ReadyForQuery is 5 */
	    {false, "C\0\0\0\x02", 5},	      /* CommandComplete < 5 */
	    {false, "D\xff\xff\xff\xff", 5},  /* 4 GiB DataRow */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run *r = run_ready(PG_ROLE_CLIENT, "db");

		assert_int_equal(
		    feedt(r, cases[i].fe ? EG : IN, cases[i].bytes, cases[i].len, cases[i].len, 5),
		    -1);
		assert_true(pg_conn_broken(r->c));
		run_free(r);
	}
}

static void test_bad_startup(void **state)
{
	static const uint8_t cases[][8] = {
	    {0, 0, 0, 4, 0, 3, 0, 0},		   /* startup length 4 */
	    {0, 0, 0, 8, 0, 3, 0, 0},		   /* no parameters at all */
	    {0, 1, 0, 0, 0, 3, 0, 0},		   /* 64 KiB startup */
	    {0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2f}, /* SSLRequest of 12 bytes */
	    {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2e},  /* CancelRequest of 8 bytes */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run *r = run_new(PG_ROLE_CLIENT);

		assert_int_equal(feedt(r, EG, cases[i], 8, 8, 1), -1);
		assert_true(pg_conn_broken(r->c));
		run_free(r);
	}
}

/* ---- assorted protocol features ---- */

static void test_copy_from_stdin(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};
	size_t at;

	(void)state;
	query(&f, "COPY measurements (t, v) FROM STDIN");
	feedb(r, EG, &f, 1);
	at = msg_begin(&b, 'G');
	put8(&b, 0);
	put16(&b, 2);
	put16(&b, 0);
	put16(&b, 0);
	msg_end(&b, at);
	assert_int_equal(feedb(r, IN, &b, 2), 0);
	f.n = 0;
	at = msg_begin(&f, 'd');
	put(&f, "1\t2.5\n", 6);
	msg_end(&f, at);
	at = msg_begin(&f, 'd');
	put(&f, "2\t3.5\n", 6);
	msg_end(&f, at);
	empty(&f, 'c');
	feedb(r, EG, &f, 3);
	b.n = 0;
	complete_tag(&b, "COPY 2");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 4), 1);
	assert_x(&r->x[0], "COPY", "measurements", NULL);
	assert_ts(&r->x[0], 1, 4);
	run_free(r);
}

static void test_function_call_and_async(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};
	size_t at;

	(void)state;
	/* FunctionCall: answered with V and Z, nothing to report, batches stay aligned. */
	at = msg_begin(&f, 'F');
	put32(&f, 1598);
	put16(&f, 0);
	put16(&f, 0);
	put16(&f, 0);
	msg_end(&f, at);
	feedb(r, EG, &f, 1);
	at = msg_begin(&b, 'V');
	put32(&b, 0);
	msg_end(&b, at);
	ready(&b, 'I');
	/* Asynchronous messages in between. */
	notice(&b);
	at = msg_begin(&b, 'A');
	put32(&b, 99);
	putz(&b, "chan");
	putz(&b, "payload");
	msg_end(&b, at);
	param_status(&b, "TimeZone", "UTC");
	assert_int_equal(feedb(r, IN, &b, 2), 0);
	f.n = 0;
	b.n = 0;
	query(&f, "LISTEN chan");
	complete_tag(&b, "LISTEN");
	ready(&b, 'I');
	feedb(r, EG, &f, 3);
	assert_int_equal(feedb(r, IN, &b, 4), 1);
	assert_x(&r->x[0], "LISTEN", "", NULL);
	run_free(r);
}

static void test_pending_overflow(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf *f = calloc(1, sizeof(*f)), *b = calloc(1, sizeof(*b));
	char *sql = malloc(4096);
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(f);
	assert_non_null(b);
	assert_non_null(sql);
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(sql + n, 4096 - n, "INSERT INTO t%d VALUES (1);", i);
	query(f, sql);
	for (i = 0; i < 100; i++)
		complete_tag(b, "INSERT 0 1");
	ready(b, 'I');
	feedb(r, EG, f, 1);
	assert_int_equal(r->c->npending, PG_PENDING_MAX);
	assert_int_equal(feedb(r, IN, b, 2), PG_PENDING_MAX);
	assert_string_equal(r->x[63].table, "t63");
	assert_int_equal(r->c->npending, 0);
	f->n = 0;
	b->n = 0;
	query(f, "SELECT 2");
	complete_tag(b, "SELECT 1");
	ready(b, 'I');
	feedb(r, EG, f, 3);
	assert_int_equal(feedb(r, IN, b, 4), 1);
	assert_x(&r->x[64], "SELECT", "", NULL);
	free(sql);
	free(f);
	free(b);
	run_free(r);
}

static void test_statement_eviction(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf *f = calloc(1, sizeof(*f)), *b = calloc(1, sizeof(*b));
	char name[16], sql[64];
	int i;

	(void)state;
	assert_non_null(f);
	assert_non_null(b);
	for (i = 0; i < PG_STMTS_MAX + 8; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "SELECT * FROM table_%d", i);
		parse(f, name, sql);
		bempty(b, '1');
	}
	empty(f, 'S');
	ready(b, 'I');
	feedb(r, EG, f, 1);
	feedb(r, IN, b, 2);
	f->n = 0;
	b->n = 0;
	/* The oldest were forgotten, the latest are known. */
	bind(f, "", "s0", "");
	execute(f, "", 0);
	bind(f, "", "s39", "");
	execute(f, "", 0);
	empty(f, 'S');
	bempty(b, '2');
	complete_tag(b, "SELECT 0");
	bempty(b, '2');
	complete_tag(b, "SELECT 0");
	ready(b, 'I');
	feedb(r, EG, f, 3);
	assert_int_equal(feedb(r, IN, b, 4), 2);
	assert_x(&r->x[0], "OTHER", "", NULL);
	assert_x(&r->x[1], "SELECT", "table_39", NULL);
	free(f);
	free(b);
	run_free(r);
}

static void test_max_out(void **state)
{
	struct pg_conn *c = malloc(sizeof(*c));
	struct pg_exchange x[2];
	struct buf f = {0}, b = {0};

	(void)state;
	assert_non_null(c);
	pg_conn_init(c, PG_ROLE_CLIENT);
	startup(&f, "user", "u", NULL);
	query(&f, "SELECT 1; SELECT 2; SELECT 3");
	auth_ready(&b);
	complete_tag(&b, "SELECT 1");
	complete_tag(&b, "SELECT 1");
	complete_tag(&b, "SELECT 1");
	ready(&b, 'I');
	assert_int_equal(pg_conn_feed(c, EG, f.d, f.n, f.n, 1, NULL, 0), 0);
	/* Room for one: the others are dropped, not kept for later. */
	assert_int_equal(pg_conn_feed(c, IN, b.d, b.n, b.n, 2, x, 1), 1);
	assert_false(pg_conn_busy(c));
	/* NULL data with a length: all unseen. caplen > total: clamped. */
	assert_int_equal(pg_conn_feed(c, EG, NULL, 10, 0, 3, x, 2), 0);
	assert_int_equal(pg_conn_feed(c, (enum pg_dir)7, f.d, f.n, f.n, 3, x, 2), 0);
	assert_int_equal(pg_conn_feed(NULL, EG, f.d, f.n, f.n, 3, x, 2), 0);
	assert_false(pg_conn_broken(NULL));
	assert_false(pg_conn_busy(NULL));
	assert_false(pg_conn_encrypted(NULL));
	free(c);
}

static void test_caplen_clamped(void **state)
{
	struct run *r = run_ready(PG_ROLE_CLIENT, "db");
	struct buf f = {0}, b = {0};

	(void)state;
	query(&f, "SELECT * FROM a");
	query(&f, "SELECT * FROM b");
	/* caplen claims more than total: only total bytes are looked at. */
	assert_int_equal(feedt(r, EG, f.d, f.n, f.n / 2, 1), 0);
	assert_int_equal(r->c->npending, 1);
	complete_tag(&b, "SELECT 0");
	ready(&b, 'I');
	assert_int_equal(feedb(r, IN, &b, 2), 1);
	assert_x(&r->x[0], "SELECT", "a", NULL);
	run_free(r);
}

/* ---- helpers ---- */

static void summary(const char *sql, const char *op, const char *table)
{
	char o[PG_OP_MAX], t[PG_TABLE_MAX];

	pg_sql_summary(sql, strlen(sql), o, sizeof(o), t, sizeof(t));
	if (strcmp(o, op) || strcmp(t, table))
		fail_msg("\"%s\": got %s/%s, want %s/%s", sql, o, t, op, table);
}

static void test_sql_summary(void **state)
{
	char o[4], t[5];

	(void)state;
	summary("SELECT * FROM users WHERE id = 1", "SELECT", "users");
	summary("select * from Users", "SELECT", "users");
	summary("sElEcT 1 FrOm public.Accounts a", "SELECT", "accounts");
	summary("SELECT * FROM \"MixedCase\"", "SELECT", "MixedCase");
	summary("SELECT * FROM \"my schema\".\"My \"\"Table\"\"\"", "SELECT", "My \"Table\"");
	summary("SELECT * FROM db.schema.tbl", "SELECT", "tbl");
	summary("SELECT * FROM public . spaced", "SELECT", "spaced");
	summary("INSERT INTO orders(id) VALUES (1)", "INSERT", "orders");
	summary("insert into \"Order Lines\" values (1)", "INSERT", "Order Lines");
	summary("UPDATE ONLY inventory SET n = 1", "UPDATE", "inventory");
	summary("update s.t set x = 'FROM y'", "UPDATE", "t");
	summary("DELETE FROM ONLY logs", "DELETE", "logs");
	summary("  -- leading comment FROM nowhere\n\tSELECT 1 FROM t1", "SELECT", "t1");
	summary("/* block FROM x */ /* nested /* FROM y */ still */ SELECT a FROM t2", "SELECT",
		"t2");
	summary("SELECT 'it''s FROM here' AS s, x FROM real_table", "SELECT", "real_table");
	summary("SELECT E'\\' FROM fake' FROM esc", "SELECT", "esc");
	summary("SELECT $$ FROM fake $$ FROM dq", "SELECT", "dq");
	summary("SELECT $tag$ FROM $$ fake $tag$ FROM dq2", "SELECT", "dq2");
	summary("SELECT $1::int FROM params", "SELECT", "params");
	summary("SELECT \"from\" FROM quoted_kw", "SELECT", "quoted_kw");
	summary("SELECT a FROM (SELECT b FROM inner_t) sub", "SELECT", "inner_t");
	summary("SELECT extract(year FROM ts) FROM facts", "SELECT", "facts");
	summary("SELECT a IS DISTINCT FROM b FROM cmp", "SELECT", "cmp");
	summary("SELECT * FROM q FOR UPDATE SKIP LOCKED", "SELECT", "q");
	summary("SELECT id FROM (SELECT id FROM jobs) j FOR UPDATE SKIP LOCKED", "SELECT", "jobs");
	summary("INSERT INTO kv VALUES (1) ON CONFLICT (k) DO UPDATE SET v = 2", "INSERT", "kv");
	summary("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent", "WITH", "recent");
	summary("WITH x AS (SELECT 1) INSERT INTO archive SELECT * FROM x", "WITH", "archive");
	summary("WITH RECURSIVE t(n) AS (VALUES (1)) SELECT n FROM t", "WITH", "t");
	summary("COPY measurements FROM STDIN", "COPY", "measurements");
	summary("COPY (SELECT * FROM src) TO STDOUT", "COPY", "src");
	summary("TRUNCATE TABLE ONLY big", "TRUNCATE", "big");
	summary("LOCK TABLE accounts IN SHARE MODE", "LOCK", "accounts");
	summary("TABLE things", "TABLE", "things");
	summary("EXPLAIN ANALYZE SELECT * FROM plans", "EXPLAIN", "plans");
	summary("begin", "BEGIN", "");
	summary("Start Transaction", "START", "");
	summary("commit;", "COMMIT", "");
	summary("SET search_path = app", "SET", "");
	summary("SELECT 1; SELECT * FROM second", "SELECT", "");
	summary("(SELECT 1) UNION (SELECT 2 FROM u)", "OTHER", "u");
	summary("'literal'", "OTHER", "");
	summary("", "OTHER", "");
	summary("   \n\t ", "OTHER", "");
	summary("-- only a comment", "OTHER", "");
	summary("/* unterminated", "OTHER", "");
	summary("SELECT * FROM", "SELECT", "");
	summary("SELECT * FROM 'x'", "SELECT", "");
	summary("SELECT * FROM t WHERE a = $$unterminated FROM z", "SELECT", "t");
	summary("SELECT * FROM àéè_table", "SELECT", "àéè_table");
	summary("SELECT * FROM \"bad\x01name\"", "SELECT", "bad_name");
	summary("supercalifragilisticexpialidocious", "SUPERCALIFRAGIL", "");
	summary(
	    "SELECT * FROM "
	    "a_very_long_table_name_that_goes_on_and_on_beyond_sixty_three_characters_in_length",
	    "SELECT", "a_very_long_table_name_that_goes_on_and_on_beyond_sixty_three_c");
	summary("SELECT * FROM sch.", "SELECT", "sch");
	summary("select-1 from x", "SELECT", "x");
	summary("SELECT 1/2 FROM y", "SELECT", "y");
	summary("SELECT $abc FROM not_a_quote", "SELECT", "not_a_quote");
	summary("/* a ** b // c / * d */ SELECT 1 FROM z", "SELECT", "z");
	summary("SELECT 1 -", "SELECT", "");
	summary("SELECT 1 /", "SELECT", "");
	summary("-", "OTHER", "");

	/* Truncated into small buffers; NUL inside ends the text. */
	pg_sql_summary("SELECT * FROM tables", 20, o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "SEL");
	assert_string_equal(t, "tabl");
	pg_sql_summary("DELETE\0FROM x", 13, o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "DEL");
	assert_string_equal(t, "");
	pg_sql_summary(NULL, 5, o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "OTH");
	pg_sql_summary("SELECT", 6, NULL, 0, NULL, 0);
	pg_sql_summary("SELECT", 6, o, 0, t, 1);
	assert_string_equal(t, "");
}

static void statement(const char *sql, const char *want)
{
	char st[PG_STMT_MAX];

	pg_sql_statement(sql, strlen(sql), st, sizeof(st));
	assert_string_equal(st, want);
}

/* db.statement: literals and parameters become '?', comments go, blanks fold. */
static void test_sql_statement(void **state)
{
	char big[400];

	(void)state;
	statement("SELECT * FROM users WHERE email = 'kim@example.com' AND id = 42",
		  "SELECT * FROM users WHERE email = ? AND id = ?");
	statement("select  name,\n\tprice\nfrom \"Products\" where id=$1 -- the id\n",
		  "select name, price from \"Products\" where id=?");
	statement("INSERT INTO orders (user_id, total) VALUES (7, 19.99), (8, -1e3) RETURNING id",
		  "INSERT INTO orders (user_id, total) VALUES (?, ?), (?, -?) RETURNING id");
	statement("UPDATE t SET s = E'it\\'s', d = $$secret$$, e = $tag$x$tag$ /* c */ WHERE k = 'a''b'",
		  "UPDATE t SET s = ?, d = ?, e = ? WHERE k = ?");
	statement("ALTER USER app PASSWORD 'hunter2'; SELECT 1", "ALTER USER app PASSWORD ?");
	statement("SELECT col1, t2.x3 FROM t2", "SELECT col1, t2.x3 FROM t2");
	statement("SELECT \"a'b\" FROM x", "SELECT \"a_b\" FROM x");
	statement("", "");
	/* Longer than the field: cut, and said so. */
	memset(big, 0, sizeof(big));
	strcpy(big, "SELECT ");
	for (int i = 0; i < 30; i++)
		strcat(big, "column_x, ");
	strcat(big, "1 FROM t");
	pg_sql_statement(big, strlen(big), big, PG_STMT_MAX);
	assert_int_equal(strlen(big), PG_STMT_MAX - 1);
	assert_string_equal(big + PG_STMT_MAX - 4, "...");
}

static bool fe_like(const void *p, size_t n)
{
	return pg_looks_like_frontend(p, n);
}

static void test_looks_like_frontend(void **state)
{
	struct buf b = {0};

	(void)state;
	startup(&b, "user", "u", "database", "d", NULL);
	assert_true(fe_like(b.d, b.n));
	assert_true(fe_like(b.d, 8));
	assert_false(fe_like(b.d, 7));
	b.n = 0;
	special(&b, 80877103);
	assert_true(fe_like(b.d, b.n));
	b.n = 0;
	special(&b, 80877104);
	assert_true(fe_like(b.d, b.n));
	b.n = 0;
	special(&b, 80877102); /* CancelRequest is no session */
	assert_false(fe_like(b.d, b.n));
	assert_false(fe_like("\0\0\0\x08\0\x02\0\0", 8)); /* protocol 2 */
	/* Protocol 3.2 and a parameter name; a Kafka Metadata v2 request (kafkajs). */
	assert_true(fe_like("\0\0\0\x15\0\x03\0\x02user\0u\0\0", 21));
	assert_false(fe_like("\0\0\0\x20\0\x03\0\x02\0\0\0\x01\0\x07kafkajs", 23));
	assert_false(fe_like("\0\0\x40\0\0\x03\0\0", 8)); /* too long */
	b.n = 0;
	query(&b, "SELECT 1");
	assert_true(fe_like(b.d, b.n));
	assert_true(fe_like(b.d, 5));
	assert_false(fe_like(b.d, 4));
	assert_true(fe_like("Q\0\0\0\x05\0", 6));
	assert_false(fe_like("Q\0\0\0\x04", 5));
	assert_false(fe_like("Q\0\x20\0\0SELECT", 11)); /* 2 MiB */
	assert_false(fe_like("Q\0\0\0\x0aSE\x01\x02", 9));
	b.n = 0;
	parse(&b, "s", "SELECT 1");
	assert_true(fe_like(b.d, b.n));
	assert_false(fe_like("P\0\0\0\x07", 5));
	assert_false(fe_like("B\0\0\0\x20", 5));
	assert_false(fe_like("GET / HTTP/1.1\r\n", 16));
	assert_false(fe_like("\x16\x03\x01\x02\x00", 5));
	assert_false(fe_like(NULL, 10));
	assert_false(fe_like("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sql_statement),
	    cmocka_unit_test(test_startup_simple_query),
	    cmocka_unit_test(test_db_from_user),
	    cmocka_unit_test(test_roles),
	    cmocka_unit_test(test_insert_update_delete),
	    cmocka_unit_test(test_multi_statement),
	    cmocka_unit_test(test_multi_statement_error),
	    cmocka_unit_test(test_empty_query),
	    cmocka_unit_test(test_extended_one),
	    cmocka_unit_test(test_extended_pipelined),
	    cmocka_unit_test(test_pipelined_batches),
	    cmocka_unit_test(test_extended_error),
	    cmocka_unit_test(test_portal_suspended),
	    cmocka_unit_test(test_ssl_refused),
	    cmocka_unit_test(test_ssl_accepted),
	    cmocka_unit_test(test_gss_refused_then_ssl),
	    cmocka_unit_test(test_cancel_request),
	    cmocka_unit_test(test_split_every_offset),
	    cmocka_unit_test(test_split_byte_by_byte),
	    cmocka_unit_test(test_split_interleaved),
	    cmocka_unit_test(test_query_beyond_capture),
	    cmocka_unit_test(test_result_beyond_capture),
	    cmocka_unit_test(test_bind_beyond_capture),
	    cmocka_unit_test(test_mid_stream_start),
	    cmocka_unit_test(test_tentative),
	    cmocka_unit_test(test_garbage_broken),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_bad_startup),
	    cmocka_unit_test(test_copy_from_stdin),
	    cmocka_unit_test(test_function_call_and_async),
	    cmocka_unit_test(test_pending_overflow),
	    cmocka_unit_test(test_statement_eviction),
	    cmocka_unit_test(test_max_out),
	    cmocka_unit_test(test_caplen_clamped),
	    cmocka_unit_test(test_sql_summary),
	    cmocka_unit_test(test_looks_like_frontend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
