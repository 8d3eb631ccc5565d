// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Differential libFuzzer harness for the HTTP parser's fast path. Input as for
 * fuzz_http.c: a role hint byte, then feeds (decoded by fuzz_next_feed in
 * feeds.h, which documents the bits: direction, truncated captures with
 * unseen bytes, no output array, max_out = 1). The role hint is data[0] % 4;
 * with bit 2 set too, a GET and its response go first, so that both
 * directions are in step (where the fast path works) from the first fuzzed
 * byte; with bit 3, the connection is seen from its start
 * (http_conn_init_from_start: in step from the first byte, malformed requests
 * paired with their answers).
 *
 * Two connections see the same feeds with the same arguments: one reads whole
 * heads with the fast path (the default), the other with the state machine
 * only (http_conn_set_fast_path(c, false)). After every feed they must have
 * returned the same value, emitted the same exchanges (field by field, then
 * byte for byte), agree on the errors counted and http_conn_truncated, and be
 * left in the same state (http_conn_same_state: byte for byte but for head
 * buffer bytes nothing reads); at the end http_conn_close must emit the same.
 * The fast path is an optimization, never a change of behaviour, now or in any
 * later feed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds.h"
#include "proto/http.h"

#define XMAX 24 /* more than a feed completes: at most HTTP_PIPELINE_MAX pending */

struct side {
	struct http_conn c;
	struct http_exchange x[XMAX];
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_same_exchange(const struct http_exchange *a, const struct http_exchange *b)
{
	check(a->role == b->role);
	check(!strcmp(a->method, b->method));
	check(!strcmp(a->target, b->target));
	check(!strcmp(a->host, b->host));
	check(a->status == b->status);
	check(a->version_minor == b->version_minor);
	check(a->req_begin_ts == b->req_begin_ts);
	check(a->req_end_ts == b->req_end_ts);
	check(a->resp_begin_ts == b->resp_begin_ts);
	check(a->resp_end_ts == b->resp_end_ts);
	check(a->req_bytes == b->req_bytes);
	check(a->resp_bytes == b->resp_bytes);
	check(a->target_truncated == b->target_truncated);
	check(a->head_truncated == b->head_truncated);
	check(!strcmp(a->trace.traceparent, b->trace.traceparent));
	check(!strcmp(a->trace.b3, b->trace.b3));
	check(!strcmp(a->trace.x_b3_traceid, b->trace.x_b3_traceid));
	check(!strcmp(a->trace.x_b3_spanid, b->trace.x_b3_spanid));
	check(!strcmp(a->trace.x_b3_parentspanid, b->trace.x_b3_parentspanid));
	check(!strcmp(a->trace.x_b3_sampled, b->trace.x_b3_sampled));
	/* Kept bodies: the same bytes, each in its own connection. */
	check(!a->req_body == !b->req_body && a->req_body_len == b->req_body_len);
	check(!a->resp_body == !b->resp_body && a->resp_body_len == b->resp_body_len);
	check(!a->req_body || !memcmp(a->req_body, b->req_body, a->req_body_len));
	check(!a->resp_body || !memcmp(a->resp_body, b->resp_body, a->resp_body_len));
	/* Bytes past the strings' NULs and padding too (callers may memcmp). */
	struct http_exchange ca = *a, cb = *b;

	ca.req_body = cb.req_body = ca.resp_body = cb.resp_body = NULL;
	check(!memcmp(&ca, &cb, sizeof(ca)));
}

/* Bodies kept as data[0] asks: every request's, POST ones' responses too. */
static unsigned keep_some(void *ctx, const char *method, const char *target)
{
	(void)target;
	return *(const uint8_t *)ctx & 0x10 ? HTTP_KEEP_REQ | (method[0] == 'P' ? HTTP_KEEP_RESP : 0)
					    : 0;
}

/* Both calls returned n and wrote out[0..n) of max_out: the same, and nothing past it. */
static void check_same_output(struct side *fast, struct side *slow, int nf, int ns, int max_out)
{
	int i;

	check(nf == ns);
	check(nf >= 0 && nf <= max_out);
	for (i = 0; i < nf; i++) {
		check_same_exchange(&fast->x[i], &slow->x[i]);
		/* Each side's bodies point into its own connection: alike once compared. */
		fast->x[i].req_body = slow->x[i].req_body = NULL;
		fast->x[i].resp_body = slow->x[i].resp_body = NULL;
	}
	check(fuzz_same_out(fast->x, slow->x, sizeof(fast->x[0]), nf, XMAX));
	check(http_conn_truncated(&fast->c) == http_conn_truncated(&slow->c));
	check(http_conn_same_state(&fast->c, &slow->c));
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
	if (data[0] & 8) {
		http_conn_init_from_start(&fast->c, (enum http_role)(data[0] % 4));
		http_conn_init_from_start(&slow->c, (enum http_role)(data[0] % 4));
	} else {
		http_conn_init(&fast->c, (enum http_role)(data[0] % 4));
		http_conn_init(&slow->c, (enum http_role)(data[0] % 4));
	}
	http_conn_set_fast_path(&fast->c, true);
	http_conn_set_fast_path(&slow->c, false);
	http_conn_set_keep(&fast->c, keep_some, (void *)data);
	http_conn_set_keep(&slow->c, keep_some, (void *)data);
	if (data[0] & 4) {
		static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
		static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
		enum http_dir d =
		    data[0] % 4 == HTTP_ROLE_CLIENT ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS;

		for (i = 0; i < 2; i++) {
			struct http_conn *c = i ? &slow->c : &fast->c;

			http_conn_feed(c, d, (const uint8_t *)req, sizeof(req) - 1, sizeof(req) - 1,
				       ts, NULL, 0);
			http_conn_feed(c, !d, (const uint8_t *)resp, sizeof(resp) - 1,
				       sizeof(resp) - 1, ts + 1, NULL, 0);
		}
		ts += 2;
		check(http_conn_same_state(&fast->c, &slow->c));
	}
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		/* Garbage past what is written: both must leave it alone alike. */
		fuzz_garbage(fast->x, slow->x, sizeof(fast->x[0]));
		if (f.no_output) {
			nf = http_conn_feed(&fast->c, f.dir, f.buf, f.caplen, f.total, ts, NULL, 0);
			ns = http_conn_feed(&slow->c, f.dir, f.buf, f.caplen, f.total, ts, NULL, 0);
		} else {
			nf = http_conn_feed(&fast->c, f.dir, f.buf, f.caplen, f.total, ts, fast->x,
					    f.max_out);
			ns = http_conn_feed(&slow->c, f.dir, f.buf, f.caplen, f.total, ts, slow->x,
					    f.max_out);
		}
		ts++;
		fuzz_feed_done(&f);
		check_same_output(fast, slow, nf, ns, f.no_output ? 0 : f.max_out);
	}
	fuzz_garbage(fast->x, slow->x, sizeof(fast->x[0]));
	nf = http_conn_close(&fast->c, ts, fast->x, XMAX);
	ns = http_conn_close(&slow->c, ts, slow->x, XMAX);
	check_same_output(fast, slow, nf, ns, XMAX);
	return 0;
}
