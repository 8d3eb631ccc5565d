// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the Redis parser. The input is a role hint byte, then
 * a sequence of feeds, each a 3-byte control header followed by its bytes
 * (decoded by fuzz_next_feed in feeds.h, which documents the bits).
 * Invariants of the API are checked too.
 *
 * Differential check: two more connections see the same feeds with room for
 * every exchange, one of them cut in two (at c2) whenever its direction is in
 * step. In step, parsing is a pure function of the byte stream (a half never
 * falls out of step again), so both must emit the same exchanges and break
 * at the same feed; the first connection's output is a prefix of theirs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis.h"
#include "feeds.h"

#define XMAX 4
#define BIG 400 /* more than a feed (<= 1023 bytes) completes: each takes >= 3 bytes */

struct twin {
	struct redis_conn c;
	struct redis_exchange x[2 * BIG];
	int n;
	bool broken;
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_exchange(const struct redis_exchange *x)
{
	const char *p;

	check(memchr(x->command, 0, sizeof(x->command)) != NULL);
	check(memchr(x->key, 0, sizeof(x->key)) != NULL);
	check(memchr(x->error_kind, 0, sizeof(x->error_kind)) != NULL);
	for (p = x->command; *p; p++)
		check(*p < 'a' || *p > 'z');
	check(!strchr(x->error_kind, ' '));
	check(x->role == REDIS_ROLE_SERVER || x->role == REDIS_ROLE_CLIENT);
	/* An error is never nil; nils among elements only in an aggregate. */
	check(!(x->error && x->nil));
	check(!x->error || !x->elements);
	check(x->error || !x->error_kind[0]);
	check(x->nil_elements <= x->elements);
	/* The harness's clock only goes forward. */
	check(x->req_begin_ts <= x->resp_end_ts);
	(void)redis_is_cache_read(x->command);
}

/* Feed the twin; cut in two at cut if that direction is in step (not resync, no candidate). */
static void twin_feed(struct twin *t, int dir, const uint8_t *buf, size_t caplen, uint64_t total,
		      uint64_t ts, size_t cut)
{
	const struct redis_half *h = &t->c.half[dir];
	bool in_step = h->state != 0 /* ST_RESYNC */ && !h->cand;
	int n;

	t->n = 0;
	if (caplen > total)
		caplen = total;
	if (!in_step || cut >= caplen) {
		n = redis_conn_feed(&t->c, dir, buf, caplen, total, ts, t->x, BIG);
		check(n >= -1 && n < BIG);
		t->n = n > 0 ? n : 0;
		t->broken = n < 0;
		return;
	}
	n = redis_conn_feed(&t->c, dir, buf, cut, cut, ts, t->x, BIG);
	check(n >= -1 && n < BIG);
	t->n = n > 0 ? n : 0;
	t->broken = n < 0;
	n = redis_conn_feed(&t->c, dir, buf + cut, caplen - cut, total - cut, ts, t->x + t->n, BIG);
	check(n >= -1 && n < BIG);
	t->n += n > 0 ? n : 0;
	t->broken |= n < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_exchange out[XMAX];
	struct redis_conn *c;
	/* Static: a fresh allocation of these per input would take most of the time. */
	static struct twin twins[2];
	struct twin *whole = &twins[0], *cut = &twins[1];
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
	redis_conn_init(c, (enum redis_role)(data[0] % 4));
	redis_conn_init(&whole->c, (enum redis_role)(data[0] % 4));
	redis_conn_init(&cut->c, (enum redis_role)(data[0] % 4));
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		if (f.no_output)
			n = redis_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, NULL, 0);
		else
			n = redis_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, out, f.max_out);
		(void)redis_looks_like_request(f.buf, f.caplen);
		twin_feed(whole, f.dir, f.buf, f.caplen, f.total, ts - 1, SIZE_MAX);
		twin_feed(cut, f.dir, f.buf, f.caplen, f.total, ts - 1, f.c2);
		fuzz_feed_done(&f);
		check(whole->broken == (n < 0));
		check(cut->broken == whole->broken);
		check(redis_conn_broken(&cut->c) == redis_conn_broken(&whole->c));
		check(cut->c.npending == whole->c.npending && cut->c.role == whole->c.role);
		if (!whole->broken) {
			check(cut->n == whole->n);
			check(!memcmp(cut->x, whole->x, whole->n * sizeof(whole->x[0])));
			if (!f.no_output) {
				check(n == (whole->n < f.max_out ? whole->n : f.max_out));
				check(!memcmp(out, whole->x, n * sizeof(out[0])));
			}
		}
		check(n >= -1 && n <= f.max_out);
		check(!broken || n == 0);
		check(c->npending <= REDIS_PIPELINE_MAX && c->first < REDIS_PIPELINE_MAX);
		if (n < 0) {
			check(redis_conn_broken(c));
			broken = true;
		}
		check(redis_conn_broken(c) == broken);
		if (f.no_output)
			continue;
		for (i = 0; i < n; i++)
			check_exchange(&out[i]);
	}
	(void)redis_looks_like_request(data, size);
	free(c);
	return 0;
}
