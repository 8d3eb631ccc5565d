// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the PostgreSQL parser. The input is a role hint byte,
 * then a sequence of feeds, each a 3-byte control header followed by its bytes
 * (decoded by fuzz_next_feed in feeds.h, which documents the bits).
 * Invariants of the API are checked too, and
 * every feed's bytes also go through pg_sql_summary and the sniffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/postgres.h"
#include "feeds.h"

#define XMAX 4

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_exchange(const struct pg_exchange *x)
{
	size_t n;

	check(memchr(x->operation, 0, sizeof(x->operation)) != NULL);
	check(memchr(x->table, 0, sizeof(x->table)) != NULL);
	check(memchr(x->db, 0, sizeof(x->db)) != NULL);
	check(memchr(x->sqlstate, 0, sizeof(x->sqlstate)) != NULL);
	check(x->operation[0] != '\0');
	n = strlen(x->sqlstate);
	check(n == 0 || n == 5);
	check(x->error || n == 0);
	check(x->role == PG_ROLE_SERVER || x->role == PG_ROLE_CLIENT);
	/* The harness's clock only goes forward. */
	check(x->req_begin_ts <= x->resp_end_ts);
	check(x->req_begin_ts > 0);
}

static void check_summary(const uint8_t *p, size_t n, size_t opsz, size_t tablesz)
{
	char op[PG_OP_MAX], table[PG_TABLE_MAX];

	pg_sql_summary((const char *)p, n, op, opsz, table, tablesz);
	check(memchr(op, 0, opsz) != NULL);
	check(memchr(table, 0, tablesz) != NULL);
	check(op[0] != '\0' || opsz == 1);
}

/* The statement text: bounded, and no quote or control byte (literals never get through). */
static void check_statement(const uint8_t *p, size_t n)
{
	char st[PG_STMT_MAX];
	size_t len;

	pg_sql_statement((const char *)p, n, st, sizeof(st));
	len = strlen(st);
	check(len < sizeof(st));
	for (size_t i = 0; i < len; i++)
		check(st[i] != '\'' && ((uint8_t)st[i] >= 0x20 && st[i] != 0x7f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_exchange out[XMAX];
	struct pg_conn *c;
	uint64_t ts = 1;
	bool broken = false;
	size_t off = 1;
	struct fuzz_feed f;
	int n, i;

	if (size < 1)
		return 0;
	c = malloc(sizeof(*c));
	if (!c)
		return 0;
	/* Whatever was there before must not matter. */
	memset(c, data[0], sizeof(*c));
	pg_conn_init(c, (enum pg_role)(data[0] % 4));
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		if (f.no_output)
			n = pg_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, NULL, 0);
		else
			n = pg_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, out, f.max_out);
		(void)pg_looks_like_frontend(f.buf, f.caplen);
		check_summary(f.buf, f.caplen, PG_OP_MAX, PG_TABLE_MAX);
		check_summary(f.buf, f.caplen, 1 + f.c1 % PG_OP_MAX, 1 + f.c2 % PG_TABLE_MAX);
		check_statement(f.buf, f.caplen);
		fuzz_feed_done(&f);
		check(n >= -1 && n <= f.max_out);
		check(!broken || n == 0);
		if (n < 0) {
			check(pg_conn_broken(c));
			broken = true;
		}
		check(!broken || !pg_conn_busy(c));
		check(!(pg_conn_encrypted(c) && n > 0));
		check(c->npending <= PG_PENDING_MAX);
		if (f.no_output)
			continue;
		for (i = 0; i < n; i++)
			check_exchange(&out[i]);
	}
	check(pg_conn_broken(c) == broken);
	(void)pg_looks_like_frontend(data, size);
	free(c);
	return 0;
}
