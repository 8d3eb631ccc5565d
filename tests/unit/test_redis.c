// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the Redis RESP2/RESP3 parser (user/proto/redis.c). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/redis.h"

#define XMAX 256

/* A connection under test and everything it emitted so far. */
struct run {
	struct redis_conn *c;
	struct redis_exchange x[XMAX];
	int n;
};

static struct run *run_new(enum redis_role hint)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->c = malloc(sizeof(*r->c));
	assert_non_null(r->c);
	redis_conn_init(r->c, hint);
	return r;
}

static void run_free(struct run *r)
{
	free(r->c);
	free(r);
}

/* Feed caplen captured bytes of a syscall that moved total bytes. */
static int feedt(struct run *r, enum redis_dir d, const char *s, size_t caplen, uint64_t total,
		 uint64_t ts)
{
	int rc = redis_conn_feed(r->c, d, (const uint8_t *)s, caplen, total, ts, r->x + r->n,
				 XMAX - r->n);

	if (rc > 0)
		r->n += rc;
	return rc;
}

static int feedn(struct run *r, enum redis_dir d, const char *s, size_t len, uint64_t ts)
{
	return feedt(r, d, s, len, len, ts);
}

static int feed(struct run *r, enum redis_dir d, const char *s, uint64_t ts)
{
	return feedn(r, d, s, strlen(s), ts);
}

/* The direction commands travel in, and the one replies do, for a role. */
static enum redis_dir cmd_dir(enum redis_role role)
{
	return role == REDIS_ROLE_SERVER ? REDIS_DIR_INGRESS : REDIS_DIR_EGRESS;
}

static enum redis_dir reply_dir(enum redis_role role)
{
	return role == REDIS_ROLE_SERVER ? REDIS_DIR_EGRESS : REDIS_DIR_INGRESS;
}

static void assert_x(const struct redis_exchange *x, const char *cmd, const char *key, bool nil,
		     bool error, const char *kind)
{
	assert_string_equal(x->command, cmd);
	assert_string_equal(x->key, key);
	assert_int_equal(x->nil, nil);
	assert_int_equal(x->error, error);
	assert_string_equal(x->error_kind, kind);
}

static void assert_ok(const struct redis_exchange *x, const char *cmd, const char *key)
{
	assert_x(x, cmd, key, false, false, "");
}

static void assert_ts(const struct redis_exchange *x, uint64_t begin, uint64_t end)
{
	assert_int_equal(x->req_begin_ts, begin);
	assert_int_equal(x->resp_end_ts, end);
}

/* ---- basics ---- */

static void test_get_hit_and_miss(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$7\r\nuser:42\r\n", 10), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$5\r\nhello\r\n", 20), 1);
	assert_ok(&r->x[0], "GET", "user:42");
	assert_int_equal(r->x[0].role, REDIS_ROLE_CLIENT);
	assert_int_equal(r->x[0].elements, 0);
	assert_ts(&r->x[0], 10, 20);

	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nget\r\n$4\r\nnope\r\n", 30), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n", 40), 1);
	assert_x(&r->x[1], "GET", "nope", true, false, "");
	assert_ts(&r->x[1], 30, 40);
	assert_true(redis_is_cache_read(r->x[1].command));

	/* An empty string is a hit, not a miss. */
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\ne\r\n", 50), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$0\r\n\r\n", 60), 1);
	assert_ok(&r->x[2], "GET", "e");
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

static void test_set_ok(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	assert_int_equal(
	    feed(r, REDIS_DIR_EGRESS,
		 "*5\r\n$3\r\nSET\r\n$5\r\ncart1\r\n$6\r\nsecret\r\n$2\r\nEX\r\n$2\r\n60\r\n", 1),
	    0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2), 1);
	/* The key only: never a value. */
	assert_ok(&r->x[0], "SET", "cart1");
	assert_false(redis_is_cache_read("SET"));
	/* A conditional SET that did not happen answers nil. */
	feed(r, REDIS_DIR_EGRESS, "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n", 3);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n", 4), 1);
	assert_x(&r->x[1], "SET", "k", true, false, "");
	run_free(r);
}

static void test_server_role(void **state)
{
	struct run *r = run_new(REDIS_ROLE_SERVER);

	(void)state;
	/* Commands arrive on ingress; what the server reads on egress is ignored as commands. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*2\r\n$4\r\nINCR\r\n$3\r\nhit\r\n", 5), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, ":7\r\n", 6), 1);
	assert_ok(&r->x[0], "INCR", "hit");
	assert_int_equal(r->x[0].role, REDIS_ROLE_SERVER);
	assert_ts(&r->x[0], 5, 6);
	assert_int_equal(r->c->role, REDIS_ROLE_SERVER);
	run_free(r);
}

static void test_client_role(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	/* A client reading a command-like array (LRANGE's reply) does not take it for one. */
	assert_int_equal(feed(r, REDIS_DIR_EGRESS,
			      "*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n"
			      "$2\r\n-1\r\n",
			      1),
			 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", 2), 1);
	assert_ok(&r->x[0], "LRANGE", "l");
	assert_int_equal(r->x[0].elements, 2);
	assert_int_equal(r->x[0].role, REDIS_ROLE_CLIENT);
	run_free(r);
}

static void test_role_from_content(void **state)
{
	static const char cmd[] = "*1\r\n$4\r\nPING\r\n";
	enum redis_dir d;

	(void)state;
	for (d = REDIS_DIR_INGRESS; d <= REDIS_DIR_EGRESS; d++) {
		struct run *r = run_new(REDIS_ROLE_UNKNOWN);
		enum redis_role want =
		    d == REDIS_DIR_INGRESS ? REDIS_ROLE_SERVER : REDIS_ROLE_CLIENT;

		/* A reply first (mid-stream) decides nothing. */
		assert_int_equal(feed(r, !d, "+OK\r\n", 1), 0);
		assert_int_equal(r->c->role, REDIS_ROLE_UNKNOWN);
		assert_int_equal(feed(r, d, cmd, 2), 0);
		assert_int_equal(r->c->role, want);
		assert_int_equal(feed(r, !d, "+PONG\r\n", 3), 1);
		assert_ok(&r->x[0], "PING", "");
		assert_int_equal(r->x[0].role, want);
		assert_ts(&r->x[0], 2, 3);
		run_free(r);
	}

	/* Inline commands tell the role too. */
	{
		struct run *r = run_new(REDIS_ROLE_UNKNOWN);

		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "GET foo\r\n", 1), 0);
		assert_int_equal(r->c->role, REDIS_ROLE_SERVER);
		assert_int_equal(feed(r, REDIS_DIR_EGRESS, "$3\r\nbar\r\n", 2), 1);
		assert_ok(&r->x[0], "GET", "foo");
		run_free(r);
	}
}

/* ---- splits ---- */

static const char PIPE_CMDS[] = "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$5\r\nhello\r\n"
				"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n"
				"PING\r\n"
				"*3\r\n$4\r\nMGET\r\n$2\r\nk1\r\n$2\r\nk2\r\n"
				"*2\r\n$4\r\nHGET\r\n$1\r\nh\r\n"
				"*2\r\n$3\r\nDEL\r\n$2\r\nk1\r\n"
				"*1\r\n$5\r\nHELLO\r\n";
static const char PIPE_REPLIES[] = "+OK\r\n"
				   "$5\r\nhello\r\n"
				   "+PONG\r\n"
				   "*2\r\n$5\r\nhello\r\n$-1\r\n"
				   "-WRONGTYPE Operation against a key\r\n"
				   ":1\r\n"
				   "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n";

/* Offsets where each command begins in PIPE_CMDS, and the end of each reply in PIPE_REPLIES. */
static void pipe_bounds(size_t *cmd_begin, size_t *reply_end)
{
	static const char *const cmds[] = {
	    "*3\r\n$3\r\nSET", "*2\r\n$3\r\nGET",  "PING", "*3\r\n$4\r\nMGET", "*2\r\n$4\r\nHGET",
	    "*2\r\n$3\r\nDEL", "*1\r\n$5\r\nHELLO"};
	static const char *const replies[] = {"+OK\r\n", "hello\r\n", "+PONG\r\n", "$-1\r\n",
					      "key\r\n", ":1\r\n",    ":3\r\n"};
	size_t i;

	for (i = 0; i < 7; i++) {
		cmd_begin[i] = strstr(PIPE_CMDS, cmds[i]) - PIPE_CMDS;
		reply_end[i] = strstr(PIPE_REPLIES, replies[i]) - PIPE_REPLIES + strlen(replies[i]);
	}
}

/* The 7 exchanges of PIPE_CMDS / PIPE_REPLIES, from x on. */
static void assert_pipe_x(const struct redis_exchange *x, enum redis_role role)
{
	int i;

	assert_ok(&x[0], "SET", "k1");
	assert_ok(&x[1], "GET", "k1");
	assert_ok(&x[2], "PING", "");
	assert_ok(&x[3], "MGET", "k1");
	assert_int_equal(x[3].elements, 2);
	assert_int_equal(x[3].nil_elements, 1);
	assert_x(&x[4], "HGET", "h", false, true, "WRONGTYPE");
	assert_ok(&x[5], "DEL", "k1");
	assert_ok(&x[6], "HELLO", "");
	assert_int_equal(x[6].elements, 2);
	for (i = 0; i < 7; i++) {
		assert_int_equal(x[i].role, role);
		if (i != 3 && i != 6)
			assert_int_equal(x[i].elements, 0);
		if (i != 3)
			assert_int_equal(x[i].nil_elements, 0);
		if (i != 4)
			assert_false(x[i].error);
	}
}

static void assert_pipe(const struct run *r, enum redis_role role)
{
	assert_int_equal(r->n, 7);
	assert_pipe_x(r->x, role);
	assert_false(redis_conn_broken(r->c));
}

/*
 * Commands cut in two at every offset, then replies cut in two at every
 * offset, for each role hint: the exchanges never change, and the
 * timestamps are those of the pieces carrying each first (last) byte.
 */
static void test_split_every_offset(void **state)
{
	enum redis_role hints[] = {REDIS_ROLE_CLIENT, REDIS_ROLE_SERVER, REDIS_ROLE_UNKNOWN};
	size_t lc = strlen(PIPE_CMDS), lr = strlen(PIPE_REPLIES), cb[7], re[7], i, k;
	int h;

	(void)state;
	pipe_bounds(cb, re);
	for (h = 0; h < 3; h++) {
		enum redis_role role = hints[h] ? hints[h] : REDIS_ROLE_CLIENT;
		enum redis_dir cd = cmd_dir(role), rd = reply_dir(role);

		for (i = 1; i < lc; i++) {
			struct run *r = run_new(hints[h]);

			assert_int_equal(feedn(r, cd, PIPE_CMDS, i, 1), 0);
			assert_int_equal(feedn(r, cd, PIPE_CMDS + i, lc - i, 2), 0);
			assert_int_equal(feedn(r, rd, PIPE_REPLIES, lr, 3), 7);
			assert_pipe(r, role);
			for (k = 0; k < 7; k++)
				assert_ts(&r->x[k], cb[k] < i ? 1 : 2, 3);
			run_free(r);
		}
		for (i = 1; i < lr; i++) {
			struct run *r = run_new(hints[h]);
			int n1, n2;

			assert_int_equal(feedn(r, cd, PIPE_CMDS, lc, 1), 0);
			n1 = feedn(r, rd, PIPE_REPLIES, i, 2);
			n2 = feedn(r, rd, PIPE_REPLIES + i, lr - i, 3);
			assert_int_equal(n1 + n2, 7);
			assert_pipe(r, role);
			for (k = 0; k < 7; k++)
				assert_ts(&r->x[k], 1, re[k] <= i ? 2 : 3);
			run_free(r);
		}
	}
}

/* One byte per syscall, both directions, twice in a row. */
static void test_split_byte_by_byte(void **state)
{
	enum redis_role hints[] = {REDIS_ROLE_CLIENT, REDIS_ROLE_UNKNOWN};
	size_t lc = strlen(PIPE_CMDS), lr = strlen(PIPE_REPLIES), cb[7], re[7], i, k;
	int h, round;

	(void)state;
	pipe_bounds(cb, re);
	for (h = 0; h < 2; h++) {
		struct run *r = run_new(hints[h]);

		for (round = 0; round < 2; round++) {
			uint64_t t0 = 10000 * (round + 1);

			for (i = 0; i < lc; i++)
				assert_int_equal(
				    feedn(r, REDIS_DIR_EGRESS, PIPE_CMDS + i, 1, t0 + i), 0);
			for (i = 0; i < lr; i++)
				assert_true(feedn(r, REDIS_DIR_INGRESS, PIPE_REPLIES + i, 1,
						  t0 + 5000 + i) >= 0);
			assert_int_equal(r->n, 7 * (round + 1));
			assert_pipe_x(&r->x[7 * round], REDIS_ROLE_CLIENT);
			for (k = 0; k < 7; k++)
				assert_ts(&r->x[7 * round + k], t0 + cb[k], t0 + 5000 + re[k] - 1);
		}
		assert_false(redis_conn_broken(r->c));
		run_free(r);
	}
}

static void test_pipeline_100(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);
	char *cmds = malloc(100 * 40), *replies = malloc(100 * 16);
	size_t lc = 0, lr = 0;
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		lc += sprintf(cmds + lc, "*2\r\n$4\r\nINCR\r\n$%d\r\nc%d\r\n", i < 10 ? 2 : 3, i);
		lr += sprintf(replies + lr, ":%d\r\n", i);
	}
	/*
	 * 100 commands in one feed, unanswered: the first 64 are kept, the
	 * newest 36 forgotten (counted) but not their place: the first 64
	 * replies pair with c0..c63, the last 36 answer the forgotten ones.
	 */
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmds, lc, 1), 0);
	assert_int_equal(r->c->npending, REDIS_PIPELINE_MAX);
	assert_int_equal(r->c->dropped, 100 - REDIS_PIPELINE_MAX);
	assert_int_equal(feedn(r, REDIS_DIR_INGRESS, replies, lr, 2), REDIS_PIPELINE_MAX);
	assert_ok(&r->x[0], "INCR", "c0");
	assert_ok(&r->x[63], "INCR", "c63");
	assert_int_equal(r->c->npending, 0);
	assert_int_equal(r->c->skip_tail, 0);

	/*
	 * The pipeline kept full: 70 sent, 10 answered, 10 more sent (the
	 * forgotten ones sit between), all answered: every reply pairs with its
	 * own command, the forgotten ones' replies are skipped in place.
	 */
	r->n = 0;
	i = strstr(cmds, "c70") - cmds - strlen("*2\r\n$4\r\nINCR\r\n$3\r\n");
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmds, i, 5), 0); /* c0..c69: 6 forgotten */
	assert_int_equal(feedn(r, REDIS_DIR_INGRESS, replies, strstr(replies, ":10") - replies, 6),
			 10);
	assert_ok(&r->x[9], "INCR", "c9");
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmds + i,
			       strstr(cmds, "c80") - cmds - strlen("*2\r\n$4\r\nINCR\r\n$3\r\n") - i, 7),
			 0); /* c70..c79 kept after the 6 forgotten */
	r->n = 0;
	assert_int_equal(feedn(r, REDIS_DIR_INGRESS, strstr(replies, ":10"),
			   strstr(replies, ":80") - strstr(replies, ":10"), 8),
			 64);
	assert_ok(&r->x[0], "INCR", "c10");
	assert_ok(&r->x[53], "INCR", "c63");
	assert_ok(&r->x[54], "INCR", "c70"); /* c64..c69's replies skipped */
	assert_ok(&r->x[63], "INCR", "c79");
	assert_int_equal(r->c->npending, 0);
	assert_int_equal(r->c->dropped, 100 - REDIS_PIPELINE_MAX + 6);

	/* In two halves, each answered before the next is sent: all 100 pair. */
	r->n = 0;
	i = strstr(cmds, "c50") - cmds - strlen("*2\r\n$4\r\nINCR\r\n$3\r\n");
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmds, i, 3), 0);
	assert_int_equal(feedn(r, REDIS_DIR_INGRESS, replies, strstr(replies, ":50") - replies, 4),
			 50);
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmds + i, lc - i, 5), 0);
	assert_int_equal(feedn(r, REDIS_DIR_INGRESS, strstr(replies, ":50"),
			       lr - (strstr(replies, ":50") - replies), 6),
			 50);
	for (i = 0; i < 100; i++) {
		char key[8];

		snprintf(key, sizeof(key), "c%d", i);
		assert_ok(&r->x[i], "INCR", key);
		assert_ts(&r->x[i], i < 50 ? 3 : 5, i < 50 ? 4 : 6);
	}
	assert_false(redis_conn_broken(r->c));
	free(cmds);
	free(replies);
	run_free(r);
}

/* ---- commands ---- */

static void test_inline_commands(void **state)
{
	struct run *r = run_new(REDIS_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "PING\r\n", 1), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "+PONG\r\n", 2), 1);
	assert_ok(&r->x[0], "PING", "");
	/* Lower case, several spaces, bare LF, blank lines between. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "get   k1\n\r\n\nset k2 value\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "$-1\r\n+OK\r\n", 4), 2);
	assert_x(&r->x[1], "GET", "k1", true, false, "");
	assert_ok(&r->x[2], "SET", "k2");
	/* A quoted key; AUTH's password is never kept. */
	feed(r, REDIS_DIR_INGRESS, "EXISTS \"my key\" other\r\nAUTH hunter2\r\n", 5);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, ":1\r\n+OK\r\n", 6), 2);
	assert_ok(&r->x[3], "EXISTS", "my key");
	assert_ok(&r->x[4], "AUTH", "");
	/* In step, an unknown inline command is still a command (the server answers an error). */
	feed(r, REDIS_DIR_INGRESS, "FOO bar\r\n", 7);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "-ERR unknown command 'FOO'\r\n", 8), 1);
	assert_x(&r->x[5], "FOO", "bar", false, true, "ERR");
	assert_false(redis_conn_broken(r->c));
	run_free(r);

	/* Out of step, only a known command begins a message. */
	r = run_new(REDIS_ROLE_SERVER);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "bonjour world\r\n", 1), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "PINGX\r\n", 2), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "PING\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "GET /index.html HTTP/1.1\r\n", 3), 0);
	assert_int_equal(r->c->npending, 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "ping\r\n", 4), 0);
	assert_int_equal(r->c->npending, 1);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

static void test_multi_exec(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS,
	     "*1\r\n$5\r\nMULTI\r\n"
	     "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
	     "*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n"
	     "*2\r\n$5\r\nLPUSH\r\n$1\r\na\r\n"
	     "*1\r\n$4\r\nEXEC\r\n",
	     1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS,
			      "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
			      "*3\r\n+OK\r\n:1\r\n-WRONGTYPE Operation against a key\r\n",
			      2),
			 5);
	assert_ok(&r->x[0], "MULTI", "");
	assert_ok(&r->x[1], "SET", "a");
	assert_ok(&r->x[2], "INCR", "b");
	assert_ok(&r->x[3], "LPUSH", "a");
	/* An error inside EXEC's array is an element, not the reply's error. */
	assert_ok(&r->x[4], "EXEC", "");
	assert_int_equal(r->x[4].elements, 3);
	assert_int_equal(r->x[4].nil_elements, 0);
	/* A WATCHed key changed: EXEC answers a null array. */
	feed(r, REDIS_DIR_EGRESS, "*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n", 3);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n*-1\r\n", 4), 2);
	assert_x(&r->x[6], "EXEC", "", true, false, "");
	run_free(r);
}

static void test_mget_nils(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS,
	     "*5\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*4\r\n$1\r\n1\r\n$-1\r\n_\r\n$2\r\n44\r\n", 2),
			 1);
	assert_ok(&r->x[0], "MGET", "a");
	assert_int_equal(r->x[0].elements, 4);
	assert_int_equal(r->x[0].nil_elements, 2);
	/* Nils nested deeper are not the reply's elements. */
	feed(r, REDIS_DIR_EGRESS, "*3\r\n$5\r\nHMGET\r\n$1\r\nh\r\n$1\r\nf\r\n", 3);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*2\r\n*1\r\n$-1\r\n*-1\r\n", 4), 1);
	assert_ok(&r->x[1], "HMGET", "h");
	assert_int_equal(r->x[1].elements, 2);
	assert_int_equal(r->x[1].nil_elements, 1);
	assert_true(redis_is_cache_read("HMGET"));
	run_free(r);
}

static void test_hgetall_empty(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n", 1);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$7\r\nHGETALL\r\n$1\r\ni\r\n", 1);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$7\r\nHGETALL\r\n$1\r\nj\r\n", 1);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*0\r\n%0\r\n%1\r\n+f\r\n+v\r\n*0\r\n", 2), 4);
	assert_x(&r->x[0], "HGETALL", "h", true, false, "");
	assert_x(&r->x[1], "HGETALL", "i", true, false, "");
	assert_x(&r->x[2], "HGETALL", "j", false, false, "");
	assert_int_equal(r->x[2].elements, 1);
	/* Only HGETALL: an empty list is no miss. */
	assert_x(&r->x[3], "LRANGE", "l", false, false, "");
	run_free(r);
}

static void test_key_truncation(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);
	char buf[1024], key[300], cmd[60];

	(void)state;
	memset(key, 'k', 200);
	key[200] = '\0';
	memset(cmd, 'x', 50);
	cmd[50] = '\0';
	snprintf(buf, sizeof(buf),
		 "*2\r\n$3\r\nGET\r\n$200\r\n%s\r\n*2\r\n$50\r\n%s\r\n$1\r\nk\r\n"
		 "GET %s\r\n",
		 key, cmd, key);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, buf, 1), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n-ERR unknown\r\n$-1\r\n", 2), 3);
	assert_int_equal(strlen(r->x[0].key), REDIS_KEY_MAX - 1);
	assert_memory_equal(r->x[0].key, key, REDIS_KEY_MAX - 1);
	assert_int_equal(strlen(r->x[1].command), REDIS_CMD_MAX - 1);
	assert_int_equal(r->x[1].command[0], 'X');
	assert_string_equal(r->x[1].key, "k");
	assert_int_equal(strlen(r->x[2].key), REDIS_KEY_MAX - 1);
	/* Inline, the command name is cut too. */
	feed(r, REDIS_DIR_EGRESS, "abcdefghijabcdefghijabcdefghijabcdefghij key\r\n", 3);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 4), 1);
	assert_x(&r->x[3], "ABCDEFGHIJABCDEFGHIJABCDEFGHIJA", "key", false, false, "");
	/* An error word longer than error_kind is cut. */
	feed(r, REDIS_DIR_EGRESS, "GET a\r\n", 3);
	feed(r, REDIS_DIR_INGRESS, "-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 long\r\n", 4);
	assert_int_equal(strlen(r->x[4].error_kind), REDIS_ERR_MAX - 1);
	run_free(r);
}

static void test_keyless_commands(void **state)
{
	static const char *const keyless[] = {
	    "ACL",	  "ASKING",   "AUTH",	      "BGREWRITEAOF", "BGSAVE",	      "BITOP",
	    "BLMPOP",	  "BZMPOP",   "CLIENT",	      "CLUSTER",      "COMMAND",      "CONFIG",
	    "DBSIZE",	  "DEBUG",    "DISCARD",      "ECHO",	      "EVAL",	      "EVALSHA",
	    "EVALSHA_RO", "EVAL_RO",  "EXEC",	      "FAILOVER",     "FCALL",	      "FCALL_RO",
	    "FLUSHALL",	  "FLUSHDB",  "FUNCTION",     "HELLO",	      "INFO",	      "KEYS",
	    "LASTSAVE",	  "LATENCY",  "LMPOP",	      "LOLWUT",	      "MEMORY",	      "MIGRATE",
	    "MODULE",	  "MONITOR",  "MULTI",	      "OBJECT",	      "PING",	      "PSUBSCRIBE",
	    "PSYNC",	  "PUBSUB",   "PUNSUBSCRIBE", "QUIT",	      "RANDOMKEY",    "READONLY",
	    "READWRITE",  "REPLCONF", "REPLICAOF",    "RESET",	      "ROLE",	      "SAVE",
	    "SCAN",	  "SCRIPT",   "SELECT",	      "SENTINEL",     "SHUTDOWN",     "SINTERCARD",
	    "SLAVEOF",	  "SLOWLOG",  "SSUBSCRIBE",   "SUBSCRIBE",    "SUNSUBSCRIBE", "SWAPDB",
	    "SYNC",	  "TIME",     "UNSUBSCRIBE",  "UNWATCH",      "WAIT",	      "WAITAOF",
	    "XGROUP",	  "XINFO",    "XREAD",	      "XREADGROUP",   "ZDIFF",	      "ZINTER",
	    "ZINTERCARD", "ZMPOP",    "ZUNION",	      "SYNC"};
	static const char *const cmds[] = {
	    "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n",
	    "*3\r\n$4\r\nECHO\r\n$2\r\nhi\r\n$1\r\nx\r\n",
	    "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n",
	    "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n",
	    "*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n",
	    "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n",
	    "*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n",
	    "*3\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$1\r\nu\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		feed(r, REDIS_DIR_EGRESS, cmds[i], 1);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2), 1);
		assert_string_equal(r->x[0].key, "");
		run_free(r);
	}
	/* Every command known to take no key, in any case. */
	for (i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);
		char buf[128];
		int k;

		snprintf(buf, sizeof(buf), "*2\r\n$%zu\r\n%s\r\n$1\r\nx\r\n", strlen(keyless[i]),
			 keyless[i]);
		for (k = 8; buf[k]; k++)
			buf[k] = i % 2 ? tolower(buf[k]) : buf[k];
		feed(r, REDIS_DIR_EGRESS, buf, 1);
		/* SYNC's reply is an RDB file: nothing is paired. */
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2),
				 strcmp(keyless[i], "SYNC") ? 1 : 0);
		if (r->n)
			assert_ok(&r->x[0], keyless[i], "");
		run_free(r);
	}
	{
		/* PUBLISH's channel passes for a key. */
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		feed(r, REDIS_DIR_EGRESS, "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\nmsg\r\n", 1);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, ":0\r\n", 2), 1);
		assert_ok(&r->x[0], "PUBLISH", "ch");
		run_free(r);
	}
}

/* ---- replies ---- */

static void test_resp3_types(void **state)
{
	static const struct {
		const char *reply;
		bool nil;
		uint32_t elements, nil_elements;
	} cases[] = {
	    {"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n_\r\n", false, 2, 1}, /* map */
	    {"~3\r\n+a\r\n+b\r\n+c\r\n", false, 3, 0},		 /* set */
	    {",3.14\r\n", false, 0, 0},				 /* double */
	    {",-inf\r\n", false, 0, 0},
	    {"(3492890328409238509324850943850943825024385\r\n", false, 0, 0}, /* big number */
	    {"=15\r\ntxt:Some string\r\n", false, 0, 0},		       /* verbatim */
	    {"_\r\n", true, 0, 0},					       /* null */
	    {"#t\r\n", false, 0, 0},					       /* boolean */
	    {"#f\r\n", false, 0, 0},
	    /* Attribute before the reply: not a reply of its own. */
	    {"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.54\r\n"
	     "*2\r\n:2039123\r\n:9543892\r\n",
	     false, 2, 0},
	    /* An attribute inside an aggregate is no element either. */
	    {"*2\r\n|1\r\n+ttl\r\n:3600\r\n$-1\r\n_\r\n", false, 2, 2},
	    {"|0\r\n$-1\r\n", true, 0, 0},
	    {"*0\r\n", false, 0, 0},
	    {"*2\r\n*0\r\n~0\r\n", false, 2, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, cases[i].reply, 2), 1);
		assert_x(&r->x[0], "GET", "k", cases[i].nil, false, "");
		assert_int_equal(r->x[0].elements, cases[i].elements);
		assert_int_equal(r->x[0].nil_elements, cases[i].nil_elements);
		assert_int_equal(r->c->npending, 0);
		assert_false(redis_conn_broken(r->c));
		run_free(r);
	}
}

static void test_push_interleaved(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n",
	     1);
	/* Client-side caching invalidations arrive between replies. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS,
			      ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\n1\r\n"
			      ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n",
			      2),
			 1);
	assert_ok(&r->x[0], "GET", "a");
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n", 3),
			 1);
	assert_x(&r->x[1], "GET", "b", true, false, "");
	/* A push with nothing pending is ignored too. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, ">1\r\n+x\r\n", 4), 0);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

static void test_errors(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS,
	     "*1\r\n$3\r\nFOO\r\n*2\r\n$4\r\nLLEN\r\n$1\r\ns\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	     "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	     1);
	assert_int_equal(
	    feed(r, REDIS_DIR_INGRESS,
		 "-ERR unknown command 'FOO'\r\n"
		 "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		 "-NOAUTH Authentication required.\r\n"
		 "!21\r\nSYNTAX invalid syntax\r\n"
		 "-\r\n",
		 2),
	    5);
	assert_x(&r->x[0], "FOO", "", false, true, "ERR");
	assert_x(&r->x[1], "LLEN", "s", false, true, "WRONGTYPE");
	assert_x(&r->x[2], "GET", "k", false, true, "NOAUTH");
	assert_x(&r->x[3], "GET", "k", false, true, "SYNTAX");
	assert_x(&r->x[4], "GET", "k", false, true, "");
	/* A bulk error split anywhere, and partly unseen. */
	feed(r, REDIS_DIR_EGRESS, "*1\r\n$3\r\nFOO\r\n*1\r\n$3\r\nFOO\r\n", 3);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "!12\r\nBUS", 4), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "Y is busy\r\n", 5), 1);
	assert_x(&r->x[5], "FOO", "", false, true, "BUSY");
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, "!40\r\nLOADING Redis", 18, 47, 6), 1);
	assert_x(&r->x[6], "FOO", "", false, true, "LOADING");
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

/* ---- unseen bytes ---- */

static void test_unseen_bulk(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);
	char *big = malloc(11000);
	size_t len;

	(void)state;
	/* SET with a 10 KB value, of which only the first 256 bytes were captured. */
	len = sprintf(big, "*3\r\n$3\r\nSET\r\n$4\r\nblob\r\n$10240\r\n");
	memset(big + len, 'v', 10240);
	memcpy(big + len + 10240, "\r\n", 2);
	len += 10242;
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, big, 256, len, 1), 0);
	assert_int_equal(r->c->npending, 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2), 1);
	assert_ok(&r->x[0], "SET", "blob");
	/* Unseen bytes ending inside the payload, and the rest captured in the next syscall. */
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, big, 100, 5000, 3), 0);
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, big + 5000, len - 5000, len - 5000, 4), 0);
	/* Or ending between the payload and its CRLF. */
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, big, 100, len - 1, 5), 0);
	assert_int_equal(feedn(r, REDIS_DIR_EGRESS, "\n", 1, 6), 0);
	/* Still in step: the next command pairs. */
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$4\r\nblob\r\n", 7);
	assert_int_equal(r->c->npending, 3);
	/* A big GET reply captured in part. */
	len = sprintf(big, "+OK\r\n+OK\r\n$10240\r\n");
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, big, len + 10, len + 10242, 8), 3);
	assert_ok(&r->x[3], "GET", "blob");
	assert_ts(&r->x[3], 7, 8);
	assert_false(redis_conn_broken(r->c));

	/*
	 * Unseen bytes beyond the payload: the framing is lost. Not malformed (a
	 * pipeline longer than the capture): the pending commands are forgotten,
	 * both directions resync, and the next batch pairs again.
	 */
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$4\r\nblob\r\n", 9);
	/* The GET's reply completes within the unseen bytes; what follows it is lost. */
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, "$3\r\nabc\r\n", 4, 9 + 5, 10), 1);
	assert_false(redis_conn_broken(r->c));
	assert_int_equal(r->c->desyncs, 1);
	assert_int_equal(r->c->npending, 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 11), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*1\r\n$4\r\nPING\r\n", 12), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+PONG\r\n", 13), 1);
	free(big);
	run_free(r);

	/* Unseen bytes in a line, or where the next message begins: lost too, then resync. */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "PING\r\n", 1);
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1", 14, 40, 2), 0);
	assert_int_equal(r->c->desyncs, 1);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "PING\r\n", 1);
	assert_int_equal(feedt(r, REDIS_DIR_EGRESS, "PING\r\n", 6, 20, 2), 0);
	assert_int_equal(r->c->desyncs, 1);
	/* 16 pipelined SETs of which the capture holds two: the next batch still pairs. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n+OK\r\n+OK\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 4), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n", 5), 1);
	assert_true(r->x[r->n - 1].nil);
	run_free(r);
	/*
	 * A reply's first syscall, walked by the kernel up to its budget (redis-cli's
	 * COMMAND DOCS: 16 KiB of short items): the rest is unseen. It was that
	 * reply, so the command is forgotten, never paired with a later reply that
	 * happens to begin a syscall (a GET's nil, read after the COMMAND's rest).
	 */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n", 1);
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, "*480\r\n$5\r\nblpop\r\n*12\r\n", 22, 16384, 2), 0);
	assert_int_equal(r->c->desyncs, 1);
	assert_int_equal(r->c->npending, 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "ntries_added\r\n$4\r\ntype\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$4\r\ntype\r\n", 4), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 5), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$-1\r\n", 6), 1);
	assert_int_equal(r->n, 1);
	assert_x(&r->x[0], "GET", "k", true, false, "");
	assert_ts(&r->x[0], 5, 6);
	run_free(r);
	/* Out of step, unseen bytes are just skipped. */
	r = run_new(REDIS_ROLE_CLIENT);
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, "tail of something", 17, 1000, 1), 0);
	assert_int_equal(feedt(r, REDIS_DIR_INGRESS, "", 0, 1000, 2), 0);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

/* ---- out of step ---- */

static void test_mid_stream_start(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	/* The end of a command and of a reply begun before sonde looked. */
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "lue\r\n$2\r\nEX\r\n$2\r\n60\r\n", 1), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "3\r\n$5\r\nhello\r\n", 2), 0);
	/* A reply with nothing pending is ignored, and brings the replies in step. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 4), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$1\r\nx\r\n", 5), 1);
	assert_ok(&r->x[0], "GET", "a");
	assert_ts(&r->x[0], 4, 5);
	assert_false(redis_conn_broken(r->c));
	run_free(r);

	/* Out of step, a feed that begins like a reply but is malformed is skipped... */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, ":not a number\r\n", 2), 0);
	/* ...and a reply candidate's payload is payload, whatever it looks like. */
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$20\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 4), 0);
	assert_int_equal(r->c->npending, 1);
	assert_false(redis_conn_broken(r->c));
	run_free(r);

	/* A candidate begun in an earlier feed fails: this feed begins a reply of its own. */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, ":12", 2), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$1\r\nz\r\n", 3), 1);
	assert_ok(&r->x[0], "GET", "a");
	assert_ts(&r->x[0], 1, 3);
	assert_false(redis_conn_broken(r->c));
	run_free(r);

	/* A command candidate whose first argument is no command name. */
	r = run_new(REDIS_ROLE_UNKNOWN);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n", 1), 0);
	assert_int_equal(r->c->role, REDIS_ROLE_UNKNOWN);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "*0\r\n", 2), 0);
	assert_int_equal(r->c->role, REDIS_ROLE_UNKNOWN);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

static void test_truncated_frames(void **state)
{
	static const char cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	static const char reply[] = "*2\r\n$5\r\nhello\r\n*1\r\n:1\r\n";
	size_t i;

	(void)state;
	/* Cut anywhere and never finished: nothing emitted, nothing broken. */
	for (i = 1; i < strlen(cmd); i++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		assert_int_equal(feedn(r, REDIS_DIR_EGRESS, cmd, i, 1), 0);
		assert_int_equal(r->c->npending, 0);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2), 0);
		assert_false(redis_conn_broken(r->c));
		run_free(r);
	}
	for (i = 1; i < strlen(reply); i++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		feed(r, REDIS_DIR_EGRESS, cmd, 1);
		assert_int_equal(feedn(r, REDIS_DIR_INGRESS, reply, i, 2), 0);
		assert_int_equal(r->c->npending, 1);
		assert_false(redis_conn_broken(r->c));
		run_free(r);
	}
}

/* ---- malformed ---- */

/* A GET in step, then the reply bytes given: is the connection broken? */
static bool reply_breaks(const char *reply, size_t len)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);
	int rc;
	bool broken;

	feed(r, REDIS_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1);
	feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 2);
	rc = feedn(r, REDIS_DIR_INGRESS, reply, len, 3);
	broken = redis_conn_broken(r->c);
	assert_true(broken ? rc == -1 : rc >= 0);
	if (broken) {
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 4), 0);
		assert_int_equal(feed(r, REDIS_DIR_EGRESS, "PING\r\n", 5), 0);
	}
	run_free(r);
	return broken;
}

static bool cmd_breaks(const char *cmd)
{
	struct run *r = run_new(REDIS_ROLE_SERVER);
	bool broken;

	feed(r, REDIS_DIR_INGRESS, "PING\r\n", 1);
	broken = feed(r, REDIS_DIR_INGRESS, cmd, 2) == -1;
	assert_int_equal(broken, redis_conn_broken(r->c));
	run_free(r);
	return broken;
}

static void test_garbage_broken(void **state)
{
	static const char *const bad_replies[] = {
	    "hello\r\n",     "\r\n",	     "@5\r\n",	    "\x00\x01\x02", ":12a\r\n",
	    ":\r\n",	     "#x\r\n",	     "_x\r\n",	    ",\r\n",	    "+OK\n",
	    "$5\r\nhelloXY", "$1\r\nab\r\n", "*1\r\n@\r\n",
	};
	static const char *const bad_cmds[] = {
	    "\x01\x02\x03", "*1\r\n:5\r\n", "*1\r\n$-1\r\n",
	    "*x\r\n",	    "+OK\r\n",	    "*1\r\n$4\r\nPING\r\r",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++)
		assert_true(
		    reply_breaks(bad_replies[i], strlen(bad_replies[i]) + (i == 3 ? 3 : 0)));
	for (i = 0; i < sizeof(bad_cmds) / sizeof(bad_cmds[0]); i++)
		assert_true(cmd_breaks(bad_cmds[i]));
	/* Not malformed: empty commands Redis skips, blank lines, a long simple string. */
	assert_false(cmd_breaks("*0\r\n*-1\r\n\r\n\n"));
	assert_false(reply_breaks("+a b c\r\n", 8));
	/* Garbage out of step is skipped, and does not bring the half in step. */
	{
		struct run *r = run_new(REDIS_ROLE_CLIENT);

		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "garbage\r\n", 1), 0);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "\x01\x02", 2), 0);
		assert_int_equal(feed(r, REDIS_DIR_EGRESS, "\x01\x02", 3), 0);
		assert_false(redis_conn_broken(r->c));
		run_free(r);
	}
}

static void test_oversized(void **state)
{
	char *line = malloc(70 * 1024);

	(void)state;
	assert_true(reply_breaks("$536870913\r\n", 12));
	assert_true(reply_breaks("*536870913\r\n", 12));
	assert_true(reply_breaks("$99999999999999999999999\r\n", 26));
	assert_true(reply_breaks("$-2\r\n", 5));
	assert_true(reply_breaks("%-1\r\n", 5));
	assert_true(reply_breaks("=-1\r\n", 5));
	assert_true(reply_breaks("$?\r\n", 4));
	assert_true(reply_breaks("$\r\n", 3));
	assert_true(reply_breaks(":-\r\n", 4));
	assert_false(reply_breaks(":-5\r\n(+12\r\n", 11));
	assert_false(reply_breaks("$536870912\r\n", 12));
	assert_true(cmd_breaks("*2\r\n$536870913\r\n"));
	assert_true(cmd_breaks("*536870913\r\n"));
	/* A number with more digits than kept is not read from its first digits. */
	memset(line, '0', 400);
	line[0] = '$';
	memcpy(line + 400, "5\r\n", 3);
	assert_true(reply_breaks(line, 403));
	/* A line longer than 64 KiB without CRLF, in one feed or many. */
	line[0] = '+';
	memset(line + 1, 'a', 70 * 1024 - 1);
	assert_true(reply_breaks(line, 70 * 1024));
	{
		struct run *r = run_new(REDIS_ROLE_CLIENT);
		int rc = 0, k;

		feed(r, REDIS_DIR_INGRESS, "+OK\r\n", 1);
		for (k = 0; k < 100 && rc == 0; k++)
			rc = feedn(r, REDIS_DIR_INGRESS, line, 1024, 2 + k);
		assert_int_equal(rc, -1);
		assert_int_equal(k, 65);
		run_free(r);
	}
	/* Just under the limit is fine. */
	memcpy(line + 64 * 1024 - 2, "\r\n", 2);
	assert_false(reply_breaks(line, 64 * 1024));
	/* An inline command too. */
	memset(line, 'a', 70 * 1024);
	memcpy(line, "GET ", 4);
	line[70 * 1024 - 1] = '\0';
	assert_true(cmd_breaks(line));
	free(line);
}

static void test_deep_nesting(void **state)
{
	char buf[512];
	int d;

	(void)state;
	/*
	 * COMMAND DOCS (redis-cli sends it first) nests 10 deep: 32 nested
	 * aggregates are followed; a 33rd loses the framing (counted), which a
	 * later command and its reply bring back: never a broken connection.
	 */
	for (d = 1; d <= 33; d++) {
		struct run *r = run_new(REDIS_ROLE_CLIENT);
		size_t len = 0;
		int i;

		for (i = 0; i < d; i++)
			len += sprintf(buf + len, i == d / 2 ? "|1\r\n:0\r\n:0\r\n*1\r\n" : "*1\r\n");
		len += sprintf(buf + len, ":1\r\n");
		feed(r, REDIS_DIR_EGRESS, "PING\r\n", 1);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+PONG\r\n", 1), 1); /* in step */
		feed(r, REDIS_DIR_EGRESS, "COMMAND DOCS\r\n", 1);
		assert_int_equal(feedn(r, REDIS_DIR_INGRESS, buf, len, 2), d <= REDIS_DEPTH_MAX ? 1 : 0);
		assert_false(redis_conn_broken(r->c));
		assert_int_equal(r->c->desyncs, d <= REDIS_DEPTH_MAX ? 0 : 1);
		feed(r, REDIS_DIR_EGRESS, "PING\r\n", 3);
		assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+PONG\r\n", 4), 1);
		run_free(r);
	}
	/* Depth is per reply: many sequential aggregates never add up. */
	{
		struct run *r = run_new(REDIS_ROLE_CLIENT);
		int i;

		for (i = 0; i < 20; i++) {
			feed(r, REDIS_DIR_EGRESS, "PING\r\n", 1);
			assert_int_equal(
			    feed(r, REDIS_DIR_INGRESS,
				 "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 2),
			    1);
		}
		run_free(r);
	}
}

/* ---- pub/sub ---- */

static void test_subscribe(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS,
	     "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
	     "*3\r\n$9\r\nSUBSCRIBE\r\n$2\r\nc1\r\n$2\r\nc2\r\n",
	     1);
	assert_true(r->c->subscribed);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS,
			      "$-1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"
			      "*3\r\n$9\r\nsubscribe\r\n$2\r\nc2\r\n:2\r\n",
			      2),
			 2);
	assert_x(&r->x[0], "GET", "a", true, false, "");
	assert_ok(&r->x[1], "SUBSCRIBE", "");
	assert_int_equal(r->x[1].elements, 3);
	/* From here on, messages and commands are not paired, and nothing breaks. */
	assert_int_equal(
	    feed(r, REDIS_DIR_INGRESS, "*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*1\r\n$4\r\nPING\r\n\x01garbage", 4), 0);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "\x01garbage", 5), 0);
	assert_false(redis_conn_broken(r->c));
	assert_int_equal(r->n, 2);
	run_free(r);

	/* RESP3 confirms with a push; PSUBSCRIBE inline. */
	r = run_new(REDIS_ROLE_SERVER);
	feed(r, REDIS_DIR_INGRESS, "psubscribe news.*\r\n", 1);
	assert_int_equal(
	    feed(r, REDIS_DIR_EGRESS, ">3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n", 2), 1);
	assert_ok(&r->x[0], "PSUBSCRIBE", "");
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, ">4\r\n$8\r\npmessage\r\n", 3), 0);
	assert_false(redis_conn_broken(r->c));
	run_free(r);
}

/* MONITOR and replication links: pair the command, then ignore what streams. */
static void test_monitor_and_replication(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);

	(void)state;
	feed(r, REDIS_DIR_EGRESS, "*1\r\n$7\r\nMONITOR\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS,
			      "+OK\r\n+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n",
			      2),
			 1);
	assert_ok(&r->x[0], "MONITOR", "");
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "+1339518099.363765 [0 lua] \"get\"\r\n", 3),
			 0);
	run_free(r);

	/* A replica: PSYNC, +FULLRESYNC, then an RDB without CRLF and the command stream. */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n", 1);
	assert_int_equal(
	    feed(r, REDIS_DIR_INGRESS, "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5 0\r\n", 2), 1);
	assert_ok(&r->x[0], "PSYNC", "");
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "\n$EOF:0123456789\r\nREDIS0011\xfa", 3), 0);
	assert_int_equal(feed(r, REDIS_DIR_EGRESS, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n", 4), 0);
	assert_false(redis_conn_broken(r->c));
	run_free(r);

	/* SYNC's reply is the RDB itself: stop at once. */
	r = run_new(REDIS_ROLE_CLIENT);
	feed(r, REDIS_DIR_EGRESS, "SYNC\r\n", 1);
	assert_int_equal(feed(r, REDIS_DIR_INGRESS, "$9\r\nREDIS0011*1\r\n$4\r\nPING\r\n", 2), 0);
	assert_false(redis_conn_broken(r->c));
	assert_int_equal(r->n, 0);
	run_free(r);
}

/* ---- fast path ---- */

/*
 * The same connection twice: one with the fast path (the default), one with
 * the state machine alone. Every feed goes to both; they must return the same,
 * emit the same exchanges (byte for byte) and be left in the same state.
 */
struct duo {
	struct run *fast, *slow;
};

static struct duo duo_new(enum redis_role hint)
{
	struct duo d = { run_new(hint), run_new(hint) };

	/* Padding bytes too must start out alike for the state comparison. */
	memset(d.fast->c, 0, sizeof(*d.fast->c));
	memset(d.slow->c, 0, sizeof(*d.slow->c));
	redis_conn_init(d.fast->c, hint);
	redis_conn_init(d.slow->c, hint);
	redis_conn_set_fast_path(d.slow->c, false);
	return d;
}

static void duo_free(struct duo d)
{
	run_free(d.fast);
	run_free(d.slow);
}

static void assert_same_state(struct duo d)
{
	assert_false(d.fast->c->slow_only);
	assert_true(d.slow->c->slow_only);
	d.fast->c->slow_only = true;
	assert_memory_equal(d.fast->c, d.slow->c, sizeof(*d.fast->c));
	d.fast->c->slow_only = false;
}

static int duo_feedt(struct duo d, enum redis_dir dir, const char *s, size_t caplen,
		     uint64_t total, uint64_t ts)
{
	int n0 = d.fast->n, rc = feedt(d.fast, dir, s, caplen, total, ts);

	assert_int_equal(feedt(d.slow, dir, s, caplen, total, ts), rc);
	assert_int_equal(d.fast->n, d.slow->n);
	if (d.fast->n > n0)
		assert_memory_equal(d.fast->x + n0, d.slow->x + n0,
				    (d.fast->n - n0) * sizeof(d.fast->x[0]));
	assert_same_state(d);
	return rc;
}

static int duo_feed(struct duo d, enum redis_dir dir, const char *s, uint64_t ts)
{
	return duo_feedt(d, dir, s, strlen(s), strlen(s), ts);
}

static void test_fast_pipelines(void **state)
{
	struct duo d = duo_new(REDIS_ROLE_CLIENT);
	const struct redis_exchange *x = d.fast->x;
	char cmds[4096], reps[1024];
	size_t lc = 0, lr = 0;
	int i;

	(void)state;
	/* The first message of each direction is read out of step: the state machine's. */
	duo_feed(d, REDIS_DIR_EGRESS, "*1\r\n$4\r\nPING\r\n", 1);
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS, "+PONG\r\n", 2), 1);
	/* 16 SETs, then 16 GETs (one in four a miss), each batch in one record. */
	for (i = 0; i < 16; i++)
		lc += sprintf(cmds + lc, "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i);
	for (i = 0; i < 16; i++)
		lr += sprintf(reps + lr, "+OK\r\n");
	assert_int_equal(duo_feedt(d, REDIS_DIR_EGRESS, cmds, lc, lc, 3), 0);
	assert_int_equal(d.fast->c->npending, 16);
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, reps, lr, lr, 4), 16);
	for (i = 0; i < 16; i++) {
		char key[32];

		snprintf(key, sizeof(key), "key:%012d", i);
		assert_ok(&x[1 + i], "SET", key);
		assert_ts(&x[1 + i], 3, 4);
	}
	lc = lr = 0;
	for (i = 0; i < 16; i++) {
		lc += sprintf(cmds + lc, "*2\r\n$3\r\nget\r\n$%d\r\nproducts:%d\r\n", i < 10 ? 10 : 11,
			      i);
		lr += sprintf(reps + lr, i % 4 ? "$3\r\nabc\r\n" : "$-1\r\n");
	}
	duo_feedt(d, REDIS_DIR_EGRESS, cmds, lc, lc, 5);
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, reps, lr, lr, 6), 16);
	for (i = 0; i < 16; i++) {
		char key[32];

		snprintf(key, sizeof(key), "products:%d", i);
		assert_x(&x[17 + i], "GET", key, i % 4 == 0, false, "");
		assert_true(x[17 + i].command_flags & REDIS_CMD_CACHE_READ);
	}
	/* MGET with misses, HGETALL of nothing, errors, integers, RESP3 null, an empty bulk. */
	duo_feed(d, REDIS_DIR_EGRESS,
		 "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
		 "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n"
		 "*3\r\n$5\r\nLPUSH\r\n$7\r\ncounter\r\n$1\r\nx\r\n"
		 "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
		 "*2\r\n$3\r\nGET\r\n$1\r\nn\r\n"
		 "*2\r\n$4\r\nMGET\r\n$1\r\na\r\n"
		 "*2\r\n$3\r\nGET\r\n$1\r\ne\r\n"
		 "*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n"
		 "*2\r\n$4\r\nMGET\r\n$1\r\nz\r\n",
		 7);
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS,
				  "*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n"
				  "*0\r\n"
				  "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
				  ":42\r\n"
				  "_\r\n"
				  "*-1\r\n"
				  "$0\r\n\r\n"
				  "-ERR\r\n"
				  "*1\r\n$-1\r\n",
				  8),
			 9);
	x = d.fast->x + 33;
	assert_ok(&x[0], "MGET", "a");
	assert_int_equal(x[0].elements, 3);
	assert_int_equal(x[0].nil_elements, 2);
	assert_x(&x[1], "HGETALL", "h", true, false, "");
	assert_x(&x[2], "LPUSH", "counter", false, true, "WRONGTYPE");
	assert_ok(&x[3], "INCR", "counter");
	assert_x(&x[4], "GET", "n", true, false, "");
	assert_x(&x[5], "MGET", "a", true, false, "");
	assert_int_equal(x[5].elements, 0);
	assert_ok(&x[6], "GET", "e");
	assert_x(&x[7], "HSET", "h", false, true, "ERR");
	assert_ok(&x[8], "MGET", "z");
	assert_int_equal(x[8].elements, 1);
	assert_int_equal(x[8].nil_elements, 1);
	assert_int_equal(d.fast->c->npending, 0);
	assert_false(redis_conn_broken(d.fast->c));
	duo_free(d);
}

static void test_fast_fallbacks(void **state)
{
	struct duo d = duo_new(REDIS_ROLE_SERVER);
	const struct redis_exchange *x = d.fast->x;
	static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	char buf[512];
	size_t n;

	(void)state;
	duo_feed(d, REDIS_DIR_INGRESS, "PING\r\n", 1);
	duo_feed(d, REDIS_DIR_EGRESS, "+PONG\r\n", 2);
	/* A record that ends in the middle of a command: the rest comes in the next one. */
	n = (size_t)sprintf(buf, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n%s", set);
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, buf, n - 4, n - 4, 3), 0);
	assert_int_equal(d.fast->c->npending, 1);
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, buf + n - 4, 4, 4, 4), 0);
	assert_int_equal(d.fast->c->npending, 2);
	/* A reply cut likewise, in its length line, then in its payload. */
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS, "$5\r\nhello\r\n$", 5), 1);
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS, "-1\r", 6), 0);
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS, "\n", 7), 1);
	assert_ok(&x[1], "GET", "a");
	assert_x(&x[2], "SET", "k", true, false, "");
	assert_ts(&x[2], 3, 7);
	/* An uncaptured tail inside the last bulk string: skipped by length, still in step. */
	n = (size_t)sprintf(buf, "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n%s", set);
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, buf, n - 5, n, 8), 0);
	assert_int_equal(d.fast->c->npending, 2);
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS, "$1\r\nx\r\n+OK\r\n", 9), 2);
	assert_int_equal(d.fast->c->desyncs, 0);
	/* An uncaptured tail past a whole command: the framing is lost. */
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, set, strlen(set), 100, 10), 0);
	assert_int_equal(d.fast->c->desyncs, 1);
	assert_int_equal(d.fast->c->npending, 0);
	/* Back in step; inline commands, empty lines and arrays mixed in one record. */
	duo_feed(d, REDIS_DIR_INGRESS, "PING\r\n", 11);
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS, "+PONG\r\n", 12), 1);
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS,
				  "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n"
				  "GET d\r\n\r\n"
				  "*2\r\n$3\r\nGET\r\n$1\r\ne\r\n\r\n\r\n"
				  "*2\r\n$3\r\nGET\r\n$1\r\nf\r\n"
				  "*2\r\n$3\r\nGET\r\n$2\r\ng",
				  13),
			 0);
	assert_int_equal(d.fast->c->npending, 4);
	duo_feed(d, REDIS_DIR_INGRESS, "h\r\n", 14);
	/* Replies of other shapes: a RESP3 map, a nested array, a double. */
	assert_int_equal(duo_feed(d, REDIS_DIR_EGRESS,
				  "$1\r\n1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n$-1\r\n"
				  "*2\r\n*1\r\n:1\r\n$-1\r\n,3.5\r\n",
				  15),
			 5);
	x = d.fast->x + d.fast->n - 5;
	assert_ok(&x[0], "GET", "c");
	assert_ok(&x[1], "GET", "d");
	assert_int_equal(x[1].elements, 1);
	assert_x(&x[2], "GET", "e", true, false, "");
	assert_ok(&x[3], "GET", "f");
	assert_int_equal(x[3].elements, 2);
	assert_int_equal(x[3].nil_elements, 1);
	assert_ok(&x[4], "GET", "gh");
	/* Long names and keys (truncated alike), a nested command (malformed). */
	n = (size_t)sprintf(buf, "*2\r\n$40\r\n%s\r\n$200\r\n",
			    "abcdefghijklmnopqrstuvwxyzabcdefghijklmn");
	memset(buf + n, 'k', 200);
	n += 200;
	n += (size_t)sprintf(buf + n, "\r\n*1\r\n$0\r\n\r\n*0\r\n*-1\r\n*2\r\n$3\r\nGET\r\n*1\r\n");
	assert_int_equal(duo_feedt(d, REDIS_DIR_INGRESS, buf, n, n, 16), -1);
	assert_int_equal(d.fast->c->npending, 2);
	assert_int_equal(strlen(d.fast->c->pending[(d.fast->c->first + 0) % REDIS_PIPELINE_MAX].key),
			 REDIS_KEY_MAX - 1);
	duo_free(d);
}

static void test_fast_special_commands(void **state)
{
	struct duo d = duo_new(REDIS_ROLE_CLIENT);
	const struct redis_exchange *x = d.fast->x;

	(void)state;
	duo_feed(d, REDIS_DIR_EGRESS, "*1\r\n$4\r\nPING\r\n", 1);
	duo_feed(d, REDIS_DIR_INGRESS, "+PONG\r\n", 2);
	/* MULTI/EXEC in one record, then a SUBSCRIBE ending the pairing. */
	duo_feed(d, REDIS_DIR_EGRESS,
		 "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
		 "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n",
		 3);
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS,
				  "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n", 4),
			 4);
	assert_ok(&x[1], "MULTI", "");
	assert_ok(&x[2], "SET", "a");
	assert_ok(&x[3], "GET", "a");
	assert_ok(&x[4], "EXEC", "");
	assert_int_equal(x[4].elements, 2);
	duo_feed(d, REDIS_DIR_EGRESS,
		 "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"
		 "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n",
		 5);
	assert_int_equal(d.fast->c->npending, 2);
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS,
				  "$-1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
				  "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
				  6),
			 2);
	assert_x(&x[5], "GET", "b", true, false, "");
	assert_ok(&x[6], "SUBSCRIBE", "");
	assert_int_equal(duo_feed(d, REDIS_DIR_INGRESS, "+OK\r\n", 7), 0);
	duo_free(d);
}

/* Every cut of a mixed exchange, and every uncaptured tail: the two paths agree. */
static void test_fast_every_cut(void **state)
{
	static const char cmds[] = "*3\r\n$3\r\nSET\r\n$4\r\nk:01\r\n$3\r\nxxx\r\n"
				   "*2\r\n$3\r\nGET\r\n$4\r\nk:02\r\n"
				   "GET k:03\r\n"
				   "*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n"
				   "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n";
	static const char reps[] = "+OK\r\n$-1\r\n$3\r\nabc\r\n*2\r\n$1\r\na\r\n$-1\r\n"
				   "-ERR not an integer\r\n";
	size_t lc = strlen(cmds), lr = strlen(reps), i;
	int seen = 0;

	(void)state;
	for (i = 0; i <= lc + lr; i++) {
		for (int tail = 0; tail < 2; tail++) {
			struct duo d = duo_new(REDIS_ROLE_CLIENT);

			duo_feed(d, REDIS_DIR_EGRESS, "*1\r\n$4\r\nPING\r\n", 1);
			duo_feed(d, REDIS_DIR_INGRESS, "+PONG\r\n", 2);
			if (i <= lc) {
				duo_feedt(d, REDIS_DIR_EGRESS, cmds, i, tail ? lc : i, 3);
				if (!tail)
					duo_feedt(d, REDIS_DIR_EGRESS, cmds + i, lc - i, lc - i, 4);
				duo_feedt(d, REDIS_DIR_INGRESS, reps, lr, lr, 5);
			} else {
				size_t j = i - lc;

				duo_feedt(d, REDIS_DIR_EGRESS, cmds, lc, lc, 3);
				duo_feedt(d, REDIS_DIR_INGRESS, reps, j, tail ? lr : j, 4);
				if (!tail)
					duo_feedt(d, REDIS_DIR_INGRESS, reps + j, lr - j, lr - j, 5);
			}
			if (!tail) {
				assert_int_equal(d.fast->n, 6);
				assert_x(&d.fast->x[5], "INCR", "n", false, true, "ERR");
				seen++;
			}
			assert_false(redis_conn_broken(d.fast->c));
			duo_free(d);
		}
	}
	assert_int_equal(seen, (int)(lc + lr + 1));
}

/* ---- API ---- */

static void test_max_out_and_args(void **state)
{
	struct redis_conn *c = malloc(sizeof(*c));
	struct redis_exchange x[2];
	static const char cmds[] = "PING\r\nPING\r\nPING\r\n";
	static const char replies[] = "+PONG\r\n+PONG\r\n+PONG\r\n";

	(void)state;
	redis_conn_init(c, REDIS_ROLE_CLIENT);
	redis_conn_feed(c, REDIS_DIR_EGRESS, (const uint8_t *)cmds, 18, 18, 1, x, 2);
	/* Only max_out are written; the rest are paired and dropped. */
	assert_int_equal(
	    redis_conn_feed(c, REDIS_DIR_INGRESS, (const uint8_t *)replies, 21, 21, 2, x, 2), 2);
	assert_int_equal(c->npending, 0);
	redis_conn_feed(c, REDIS_DIR_EGRESS, (const uint8_t *)cmds, 6, 6, 3, x, 2);
	assert_int_equal(
	    redis_conn_feed(c, REDIS_DIR_INGRESS, (const uint8_t *)replies, 7, 7, 4, NULL, 0), 0);
	assert_int_equal(c->npending, 0);
	/* caplen beyond total is clamped; NULL data with a total is all unseen. */
	redis_conn_feed(c, REDIS_DIR_EGRESS, (const uint8_t *)cmds, 18, 6, 5, x, 2);
	assert_int_equal(c->npending, 1);
	assert_int_equal(
	    redis_conn_feed(c, REDIS_DIR_INGRESS, (const uint8_t *)"+X", 2, 0, 6, x, 2), 0);
	assert_int_equal(redis_conn_feed(c, 7, (const uint8_t *)replies, 7, 7, 6, x, 2), 0);
	assert_int_equal(redis_conn_feed(NULL, 0, (const uint8_t *)replies, 7, 7, 6, x, 2), 0);
	/* NULL data with a total: all unseen, the framing is lost (not broken). */
	assert_int_equal(redis_conn_feed(c, REDIS_DIR_INGRESS, NULL, 7, 7, 6, x, 2), 0);
	assert_false(redis_conn_broken(NULL));
	redis_conn_init(c, (enum redis_role)9);
	assert_int_equal(c->role, REDIS_ROLE_UNKNOWN);
	free(c);
}

static bool req_like(const char *s)
{
	return redis_looks_like_request((const uint8_t *)s, strlen(s));
}

static void test_sniffing(void **state)
{
	(void)state;
	assert_true(req_like("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
	assert_true(req_like("*1\r\n$4\r\np"));
	assert_true(req_like("PING\r\n"));
	assert_true(req_like("get key\r\n"));
	assert_true(req_like("HGETALL h"));
	assert_true(req_like("SUBSCRIBE ch"));
	assert_false(req_like("*1\r\n$4\r\n"));
	assert_false(req_like("*1\r\n$4\r\n1234"));
	assert_false(req_like("*1\r\n:4\r\nPING"));
	assert_false(req_like("*\r\n$4\r\nPING"));
	assert_false(req_like("*1\n$4\nPING"));
	assert_false(req_like("PING"));
	assert_false(req_like("PING\r"));
	assert_false(req_like("PING\n"));
	assert_false(req_like("GE key"));
	assert_false(req_like("HELLOWORLD key"));
	/* HTTP is no inline command (the HTTP sniffer need not run first). */
	assert_false(req_like("GET /index.html HTTP/1.1\r\n"));
	assert_false(req_like("GET / HTTP/1.0"));
	assert_false(req_like("ABCDEFGHIJKLMNOPQ key"));
	assert_false(req_like("+OK\r\n"));
	assert_false(req_like(""));
	assert_false(redis_looks_like_request(NULL, 5));
}

static void test_cache_read(void **state)
{
	(void)state;
	assert_true(redis_is_cache_read("GET"));
	assert_true(redis_is_cache_read("GETEX"));
	assert_true(redis_is_cache_read("GETDEL"));
	assert_true(redis_is_cache_read("HGET"));
	assert_true(redis_is_cache_read("HMGET"));
	assert_true(redis_is_cache_read("MGET"));
	assert_true(redis_is_cache_read("HGETALL"));
	assert_true(redis_is_cache_read("get"));
	assert_false(redis_is_cache_read("EXISTS"));
	assert_false(redis_is_cache_read("SET"));
	assert_false(redis_is_cache_read("GETSET"));
	assert_false(redis_is_cache_read("GE"));
	assert_false(redis_is_cache_read(""));
	assert_false(redis_is_cache_read(NULL));
}

/* ---- command classification, against the lookups it replaced ---- */

/* The tables and logic of the parser before redis_command_lookup (strcmp, bsearch, in_table). */
static const char *const old_keyless[] = {
    "ACL",	  "ASKING",   "AUTH",	      "BGREWRITEAOF", "BGSAVE",	      "BITOP",
    "BLMPOP",	  "BZMPOP",   "CLIENT",	      "CLUSTER",      "COMMAND",      "CONFIG",
    "DBSIZE",	  "DEBUG",    "DISCARD",      "ECHO",	      "EVAL",	      "EVALSHA",
    "EVALSHA_RO", "EVAL_RO",  "EXEC",	      "FAILOVER",     "FCALL",	      "FCALL_RO",
    "FLUSHALL",	  "FLUSHDB",  "FUNCTION",     "HELLO",	      "INFO",	      "KEYS",
    "LASTSAVE",	  "LATENCY",  "LMPOP",	      "LOLWUT",	      "MEMORY",	      "MIGRATE",
    "MODULE",	  "MONITOR",  "MULTI",	      "OBJECT",	      "PING",	      "PSUBSCRIBE",
    "PSYNC",	  "PUBSUB",   "PUNSUBSCRIBE", "QUIT",	      "RANDOMKEY",    "READONLY",
    "READWRITE",  "REPLCONF", "REPLICAOF",    "RESET",	      "ROLE",	      "SAVE",
    "SCAN",	  "SCRIPT",   "SELECT",	      "SENTINEL",     "SHUTDOWN",     "SINTERCARD",
    "SLAVEOF",	  "SLOWLOG",  "SSUBSCRIBE",   "SUBSCRIBE",    "SUNSUBSCRIBE", "SWAPDB",
    "SYNC",	  "TIME",     "UNSUBSCRIBE",  "UNWATCH",      "WAIT",	      "WAITAOF",
    "XGROUP",	  "XINFO",    "XREAD",	      "XREADGROUP",   "ZDIFF",	      "ZINTER",
    "ZINTERCARD", "ZMPOP",    "ZUNION",
};

static const char *const old_inline_known[] = {
    "APPEND",	"AUTH",	    "BGSAVE",	 "BITCOUNT", "BLPOP",	   "BRPOP",	  "CLIENT",
    "CLUSTER",	"COMMAND",  "CONFIG",	 "COPY",     "DBSIZE",	   "DECR",	  "DECRBY",
    "DEL",	"DISCARD",  "DUMP",	 "ECHO",     "EVAL",	   "EVALSHA",	  "EXEC",
    "EXISTS",	"EXPIRE",   "EXPIREAT",	 "FLUSHALL", "FLUSHDB",	   "GEOADD",	  "GET",
    "GETDEL",	"GETEX",    "GETRANGE",	 "GETSET",   "HDEL",	   "HELLO",	  "HEXISTS",
    "HGET",	"HGETALL",  "HINCRBY",	 "HKEYS",    "HLEN",	   "HMGET",	  "HMSET",
    "HSCAN",	"HSET",	    "HSETNX",	 "HVALS",    "INCR",	   "INCRBY",	  "INFO",
    "KEYS",	"LASTSAVE", "LINDEX",	 "LINSERT",  "LLEN",	   "LMOVE",	  "LPOP",
    "LPUSH",	"LRANGE",   "LREM",	 "LSET",     "LTRIM",	   "MEMORY",	  "MGET",
    "MONITOR",	"MSET",	    "MSETNX",	 "MULTI",    "OBJECT",	   "PERSIST",	  "PEXPIRE",
    "PFADD",	"PFCOUNT",  "PING",	 "PSETEX",   "PSUBSCRIBE", "PTTL",	  "PUBLISH",
    "PUBSUB",	"QUIT",	    "RANDOMKEY", "RENAME",   "RESET",	   "ROLE",	  "RPOP",
    "RPUSH",	"SADD",	    "SAVE",	 "SCAN",     "SCARD",	   "SCRIPT",	  "SDIFF",
    "SELECT",	"SET",	    "SETEX",	 "SETNX",    "SINTER",	   "SISMEMBER",	  "SLOWLOG",
    "SMEMBERS", "SPOP",	    "SREM",	 "SSCAN",    "STRLEN",	   "SUBSCRIBE",	  "SUNION",
    "TIME",	"TOUCH",    "TTL",	 "TYPE",     "UNLINK",	   "UNSUBSCRIBE", "UNWATCH",
    "WAIT",	"WATCH",    "XADD",	 "XLEN",     "XRANGE",	   "XREAD",	  "ZADD",
    "ZCARD",	"ZCOUNT",   "ZINCRBY",	 "ZRANGE",   "ZRANK",	   "ZREM",	  "ZREVRANGE",
    "ZSCAN",	"ZSCORE",
};

static const char *const old_reads[] = {
	"GET", "GETEX", "GETDEL", "HGET", "HMGET", "MGET", "HGETALL",
};

static bool old_word_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || toupper((unsigned char)s[i]) != (unsigned char)w[i])
			return false;
	return !w[i];
}

static bool old_in_table(const char *const *t, size_t nt, const char *s, size_t n)
{
	for (size_t i = 0; i < nt; i++)
		if (old_word_eq(s, n, t[i]))
			return true;
	return false;
}

static int old_cmp(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

#define NELEM(t) (sizeof(t) / sizeof((t)[0]))

/* The flags the old code derived for s[0..n): the parser upper-cased, then used the C string. */
static uint16_t old_flags(const char *s, size_t n, bool *known)
{
	char up[64];
	uint16_t f = 0;
	size_t i;

	for (i = 0; i < n && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (bsearch(up, old_keyless, NELEM(old_keyless), sizeof(old_keyless[0]), old_cmp))
		f |= REDIS_CMD_KEYLESS;
	if (old_in_table(old_inline_known, NELEM(old_inline_known), s, n))
		f |= REDIS_CMD_INLINE;
	if (!strcmp(up, "SUBSCRIBE") || !strcmp(up, "PSUBSCRIBE") || !strcmp(up, "SSUBSCRIBE"))
		f |= REDIS_CMD_SUBSCRIBE;
	if (!strcmp(up, "MONITOR") || !strcmp(up, "PSYNC"))
		f |= REDIS_CMD_MONITOR;
	if (!strcmp(up, "SYNC"))
		f |= REDIS_CMD_SYNC;
	if (!strcmp(up, "HGETALL"))
		f |= REDIS_CMD_HGETALL;
	if (old_in_table(old_reads, NELEM(old_reads), s, n))
		f |= REDIS_CMD_CACHE_READ;
	if (!strcmp(up, "MGET") || !strcmp(up, "HMGET"))
		f |= REDIS_CMD_MULTI_READ;
	*known = f != 0 || old_in_table(old_keyless, NELEM(old_keyless), s, n) ||
		 old_in_table(old_inline_known, NELEM(old_inline_known), s, n);
	return f;
}

static void check_name(const char *s, size_t n)
{
	uint16_t flags = 0xffff;
	bool known;
	uint16_t want = old_flags(s, n, &known);
	int id = redis_command_lookup(s, n, &flags);
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*s", (int)n, s);
	if (memchr(s, '\0', n)) {
		/*
		 * Bytes with a NUL are no name (as in_table had it). The parser
		 * classifies its NUL-terminated command, i.e. the bytes before the
		 * NUL, as strcmp and bsearch had it.
		 */
		assert_int_equal(id, 0);
		assert_int_equal(flags, 0);
		id = redis_command_lookup(s, strlen(s), &flags);
		want = old_flags(s, strlen(s), &known);
		if (flags != want)
			fail_msg("%s<NUL>: flags %#x, want %#x", buf, flags, want);
		return;
	}
	if (flags != want || (id != 0) != known)
		fail_msg("%s: flags %#x id %d, want %#x known %d", buf, flags, id, want, known);
	if (id) {
		const char *name = redis_command_name(id);

		assert_non_null(name);
		assert_int_equal(strlen(name), n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(name[i], toupper((unsigned char)s[i]));
	}
	/* The parser's own use: is_cache_read on the (upper-case) command. */
	if (!memchr(s, '\0', n))
		assert_int_equal(redis_is_cache_read(buf), !!(want & REDIS_CMD_CACHE_READ));
}

static void check_variants(const char *name)
{
	char low[64], mixed[64], longer[64];
	size_t n = strlen(name), i;

	check_name(name, n);
	for (i = 0; i <= n; i++) {
		low[i] = (char)tolower((unsigned char)name[i]);
		mixed[i] = i % 2 ? low[i] : name[i];
	}
	check_name(low, n);
	check_name(mixed, n);
	for (i = 1; i < n; i++)
		check_name(name, i); /* every prefix */
	snprintf(longer, sizeof(longer), "%sX", name);
	check_name(longer, n + 1);
	snprintf(longer, sizeof(longer), "%s_", name);
	check_name(longer, n + 1);
	/* A NUL inside the bytes: no name. */
	memcpy(longer, name, n);
	longer[n] = '\0';
	longer[n + 1] = 'X';
	check_name(longer, n + 1);
	check_name(longer, n + 2);
}

static void test_command_classification(void **state)
{
	static const char *const unknown[] = {
		"", "A", "GE", "GETS", "SUBSCRIBEX", "EVAL_R", "XYZZY", "ZZZZZZZZZZZZ", "AAA",
		"BGREWRITEAOFX", "VERYLONGCOMMANDNAMEINDEED", "G\xc3\xa9T", "-", "_", "{}",
	};
	size_t i;
	int id;

	(void)state;
	for (i = 0; i < NELEM(old_keyless); i++)
		check_variants(old_keyless[i]);
	for (i = 0; i < NELEM(old_inline_known); i++)
		check_variants(old_inline_known[i]);
	for (i = 0; i < NELEM(old_reads); i++)
		check_variants(old_reads[i]);
	for (i = 0; i < NELEM(unknown); i++)
		check_variants(unknown[i]);
	/* The table: sorted, every entry found by its own name, and nothing more than the old tables. */
	assert_true(redis_command_count() > 0);
	assert_null(redis_command_name(0));
	assert_null(redis_command_name(redis_command_count() + 1));
	for (id = 1; id <= redis_command_count(); id++) {
		const char *name = redis_command_name(id);
		uint16_t flags;
		bool known;

		assert_non_null(name);
		if (id > 1)
			assert_true(strcmp(redis_command_name(id - 1), name) < 0);
		assert_int_equal(redis_command_lookup(name, strlen(name), &flags), id);
		assert_int_equal(flags, old_flags(name, strlen(name), &known));
		assert_true(known);
	}
	assert_int_equal(redis_command_lookup(NULL, 3, &(uint16_t){ 0 }), 0);
}

/* The exchange carries the command's id and flags; a pipeline reuses the last lookup. */
static void test_exchange_command_flags(void **state)
{
	struct run *r = run_new(REDIS_ROLE_CLIENT);
	uint16_t flags;
	int get = redis_command_lookup("GET", 3, &flags);

	(void)state;
	feed(r, REDIS_DIR_EGRESS,
	     "*2\r\n$3\r\nget\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
	     "*2\r\n$4\r\nMGET\r\n$1\r\nc\r\n*1\r\n$4\r\nNOPE\r\nSET k v\r\n",
	     1);
	feed(r, REDIS_DIR_INGRESS, "$1\r\nx\r\n$-1\r\n*1\r\n$-1\r\n-ERR unknown\r\n+OK\r\n", 2);
	assert_int_equal(r->n, 5);
	assert_int_equal(r->x[0].command_id, get);
	assert_int_equal(r->x[0].command_flags, flags);
	assert_int_equal(r->x[1].command_id, get);
	assert_true(r->x[2].command_flags & REDIS_CMD_MULTI_READ);
	assert_true(r->x[2].command_flags & REDIS_CMD_CACHE_READ);
	assert_int_equal(r->x[3].command_id, 0);
	assert_int_equal(r->x[3].command_flags, 0);
	assert_string_equal(r->x[4].command, "SET");
	assert_int_equal(r->x[4].command_id, redis_command_lookup("SET", 3, &flags));
	assert_int_equal(r->x[4].command_flags, flags);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_hit_and_miss),
	    cmocka_unit_test(test_set_ok),
	    cmocka_unit_test(test_server_role),
	    cmocka_unit_test(test_client_role),
	    cmocka_unit_test(test_role_from_content),
	    cmocka_unit_test(test_split_every_offset),
	    cmocka_unit_test(test_split_byte_by_byte),
	    cmocka_unit_test(test_pipeline_100),
	    cmocka_unit_test(test_inline_commands),
	    cmocka_unit_test(test_multi_exec),
	    cmocka_unit_test(test_mget_nils),
	    cmocka_unit_test(test_hgetall_empty),
	    cmocka_unit_test(test_key_truncation),
	    cmocka_unit_test(test_keyless_commands),
	    cmocka_unit_test(test_resp3_types),
	    cmocka_unit_test(test_push_interleaved),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_unseen_bulk),
	    cmocka_unit_test(test_mid_stream_start),
	    cmocka_unit_test(test_truncated_frames),
	    cmocka_unit_test(test_garbage_broken),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_subscribe),
	    cmocka_unit_test(test_monitor_and_replication),
	    cmocka_unit_test(test_fast_pipelines),
	    cmocka_unit_test(test_fast_fallbacks),
	    cmocka_unit_test(test_fast_special_commands),
	    cmocka_unit_test(test_fast_every_cut),
	    cmocka_unit_test(test_max_out_and_args),
	    cmocka_unit_test(test_sniffing),
	    cmocka_unit_test(test_cache_read),
	    cmocka_unit_test(test_command_classification),
	    cmocka_unit_test(test_exchange_command_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
