// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the Kafka parser. The input is a role hint byte, then
 * a sequence of feeds, each a 3-byte control header followed by its bytes
 * (decoded by fuzz_next_feed in feeds.h, which documents the bits).
 * * Each feed's bytes go to a buffer of exactly caplen bytes, so that ASan sees
 * any read past its end; the API's invariants are checked on every call.
 *
 * Differential check: two more connections see the same feeds with room for
 * every exchange; one of them gets each feed cut in two (at c2) whenever its
 * direction is in step. In step, parsing depends on the byte stream only, not
 * on how it is cut into feeds, so both must emit the same exchanges and break
 * at the same feed, and the first connection's output is a prefix of theirs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/kafka.h"
#include "feeds.h"

#define XMAX 4
#define BIG 400 /* more than one feed (<= 1023 bytes) completes: each message takes >= 12 */

struct twin {
	struct kafka_conn c;
	struct kafka_exchange x[2 * BIG];
	int n;
	bool broken;
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_exchange(const struct kafka_exchange *x)
{
	check(x->role == KAFKA_ROLE_SERVER || x->role == KAFKA_ROLE_CLIENT);
	check(memchr(x->client_id, 0, sizeof(x->client_id)) != NULL);
	check(x->nparts <= KAFKA_PARTS_MAX);
	check(x->api_key >= 0 && x->api_version >= 0);
	/* The harness's clock only goes forward. */
	check(x->req_begin_ts <= x->resp_end_ts);
	if (x->api_key != KAFKA_API_PRODUCE && x->api_key != KAFKA_API_FETCH &&
	    x->api_key != KAFKA_API_OFFSET_COMMIT)
		check(x->nparts == 0);
	for (uint32_t i = 0; i < x->nparts; i++) {
		const struct kafka_part *p = &x->parts[i];
		const char *s;

		check(memchr(p->topic, 0, sizeof(p->topic)) != NULL);
		for (s = p->topic; *s; s++)
			check((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-');
		if (x->api_key == KAFKA_API_PRODUCE)
			check(p->fetch_offset == -1 && p->high_watermark == -1);
	}
}

/* Feed the twin; cut in two at cut if that direction is in step. */
static void twin_feed(struct twin *t, int dir, const uint8_t *buf, size_t caplen, uint64_t total,
		      uint64_t ts, size_t cut)
{
	bool in_step = t->c.half[dir].state != 0; /* ST_RESYNC */
	int n;

	t->n = 0;
	if (caplen > total)
		caplen = total;
	if (!in_step || cut >= caplen) {
		n = kafka_conn_feed(&t->c, dir, buf, caplen, total, ts, t->x, BIG);
		check(n >= -1 && n < BIG);
		t->n = n > 0 ? n : 0;
		t->broken = n < 0;
		return;
	}
	n = kafka_conn_feed(&t->c, dir, buf, cut, cut, ts, t->x, BIG);
	check(n >= -1 && n < BIG);
	t->n = n > 0 ? n : 0;
	t->broken = n < 0;
	n = kafka_conn_feed(&t->c, dir, buf + cut, caplen - cut, total - cut, ts, t->x + t->n, BIG);
	check(n >= -1 && n < BIG);
	t->n += n > 0 ? n : 0;
	t->broken |= n < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_exchange out[XMAX];
	struct kafka_conn *c;
	/* Static: allocating these per input would take most of the time. */
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
	kafka_conn_init(c, (enum kafka_role)(data[0] % 4));
	kafka_conn_init(&whole->c, (enum kafka_role)(data[0] % 4));
	kafka_conn_init(&cut->c, (enum kafka_role)(data[0] % 4));
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		if (f.no_output)
			n = kafka_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, NULL, 0);
		else
			n = kafka_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, out, f.max_out);
		(void)kafka_looks_like_request(f.buf, f.caplen);
		twin_feed(whole, f.dir, f.buf, f.caplen, f.total, ts - 1, SIZE_MAX);
		twin_feed(cut, f.dir, f.buf, f.caplen, f.total, ts - 1, f.c2);
		fuzz_feed_done(&f);
		check(whole->broken == (n < 0));
		check(cut->broken == whole->broken);
		check(kafka_conn_broken(&cut->c) == kafka_conn_broken(&whole->c));
		check(cut->c.ninflight == whole->c.ninflight && cut->c.role == whole->c.role);
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
		check(c->ninflight <= KAFKA_INFLIGHT_MAX && c->first < KAFKA_INFLIGHT_MAX);
		if (n < 0) {
			check(kafka_conn_broken(c));
			broken = true;
		}
		check(kafka_conn_broken(c) == broken);
		if (f.no_output)
			continue;
		for (i = 0; i < n; i++)
			check_exchange(&out[i]);
	}
	(void)kafka_looks_like_request(data, size);
	free(c);
	return 0;
}
