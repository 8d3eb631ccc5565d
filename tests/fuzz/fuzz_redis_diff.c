// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Differential libFuzzer harness for the Redis parser's fast path. Input as
 * for fuzz_redis.c: a role hint byte, then feeds (decoded by fuzz_next_feed in
 * feeds.h, which documents the bits). The role hint is data[0] % 4; with bit 2
 * set too, a PING and its +PONG go first, so that both directions are in step
 * (where the fast path works) from the first fuzzed byte.
 *
 * Two connections see the same feeds with the same arguments: one reads whole
 * plain messages with the fast path (the default), the other with the general
 * state machine only (redis_conn_set_fast_path(c, false)). After every feed
 * they must have returned the same value, emitted the same exchanges (field by
 * field, then byte for byte) and be left in the same state, byte for byte (the
 * fast_path switch aside): the fast path is an optimization, never a change of
 * behaviour, now or in any later feed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis.h"
#include "feeds.h"

#define XMAX 400 /* more than a feed (<= 1023 bytes) completes: each takes >= 3 bytes */

struct side {
	struct redis_conn c;
	struct redis_exchange x[XMAX];
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_same_exchange(const struct redis_exchange *a, const struct redis_exchange *b)
{
	check(a->role == b->role);
	check(!strcmp(a->command, b->command));
	check(a->command_id == b->command_id);
	check(a->command_flags == b->command_flags);
	check(!strcmp(a->key, b->key));
	check(a->error == b->error);
	check(!strcmp(a->error_kind, b->error_kind));
	check(a->nil == b->nil);
	check(a->elements == b->elements);
	check(a->nil_elements == b->nil_elements);
	check(a->req_begin_ts == b->req_begin_ts);
	check(a->resp_end_ts == b->resp_end_ts);
	/* Bytes past the strings' NULs and padding too (callers may memcmp). */
	check(!memcmp(a, b, sizeof(*a)));
}

/* The whole parser state, but for the switch that tells the two apart. */
static void check_same_state(struct redis_conn *fast, struct redis_conn *slow)
{
	bool f = fast->slow_only, s = slow->slow_only;

	check(!f && s);
	fast->slow_only = s;
	check(!memcmp(fast, slow, sizeof(*fast)));
	fast->slow_only = f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Static: a fresh allocation of these per input would take most of the time. */
	static struct side sides[2];
	struct side *fast = &sides[0], *slow = &sides[1];
	uint64_t ts = 1;
	size_t off = 1;
	struct fuzz_feed f;
	int nf, ns, i;

	if (size < 1)
		return 0;
	/* memset first: padding bytes too must start out the same. */
	memset(sides, 0, sizeof(sides));
	redis_conn_init(&fast->c, (enum redis_role)(data[0] % 4));
	redis_conn_init(&slow->c, (enum redis_role)(data[0] % 4));
	redis_conn_set_fast_path(&fast->c, true);
	redis_conn_set_fast_path(&slow->c, false);
	if (data[0] & 4) {
		static const char ping[] = "*1\r\n$4\r\nPING\r\n", pong[] = "+PONG\r\n";
		enum redis_dir d = data[0] % 4 == REDIS_ROLE_CLIENT ? REDIS_DIR_EGRESS
								    : REDIS_DIR_INGRESS;

		for (i = 0; i < 2; i++) {
			struct redis_conn *c = i ? &slow->c : &fast->c;

			redis_conn_feed(c, d, (const uint8_t *)ping, 14, 14, ts, NULL, 0);
			redis_conn_feed(c, !d, (const uint8_t *)pong, 7, 7, ts + 1, NULL, 0);
		}
		ts += 2;
		check_same_state(&fast->c, &slow->c);
	}
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		/* Garbage past what is written: both must leave it alone alike. */
		fuzz_garbage(fast->x, slow->x, sizeof(fast->x[0]));
		if (f.no_output) {
			nf = redis_conn_feed(&fast->c, f.dir, f.buf, f.caplen, f.total, ts, NULL, 0);
			ns = redis_conn_feed(&slow->c, f.dir, f.buf, f.caplen, f.total, ts, NULL, 0);
		} else {
			nf = redis_conn_feed(&fast->c, f.dir, f.buf, f.caplen, f.total, ts, fast->x,
					     f.max_out);
			ns = redis_conn_feed(&slow->c, f.dir, f.buf, f.caplen, f.total, ts, slow->x,
					     f.max_out);
		}
		ts++;
		fuzz_feed_done(&f);
		check(nf == ns);
		check(nf >= -1 && nf <= f.max_out);
		for (i = 0; i < nf; i++)
			check_same_exchange(&fast->x[i], &slow->x[i]);
		check(fuzz_same_out(fast->x, slow->x, sizeof(fast->x[0]), nf, XMAX));
		check(redis_conn_broken(&fast->c) == redis_conn_broken(&slow->c));
		check_same_state(&fast->c, &slow->c);
	}
	return 0;
}
