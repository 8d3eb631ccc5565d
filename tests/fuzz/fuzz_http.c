// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the HTTP parser. The input is a role hint byte (bits
 * 0-1: the role; bit 2: a connection seen from its start), then a sequence of feeds, each a 3-byte control header followed by its bytes
 * (decoded by fuzz_next_feed in feeds.h, which documents the bits).
 * Invariants of the API are checked too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "feeds.h"

#define XMAX 4

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_exchange(const struct http_exchange *x)
{
	check(memchr(x->method, 0, sizeof(x->method)) != NULL);
	check(memchr(x->target, 0, sizeof(x->target)) != NULL);
	check(memchr(x->host, 0, sizeof(x->host)) != NULL);
	check(memchr(x->trace.traceparent, 0, sizeof(x->trace.traceparent)) != NULL);
	check(memchr(x->trace.b3, 0, sizeof(x->trace.b3)) != NULL);
	check(memchr(x->trace.x_b3_traceid, 0, sizeof(x->trace.x_b3_traceid)) != NULL);
	check(memchr(x->trace.x_b3_spanid, 0, sizeof(x->trace.x_b3_spanid)) != NULL);
	check(memchr(x->trace.x_b3_parentspanid, 0, sizeof(x->trace.x_b3_parentspanid)) != NULL);
	check(memchr(x->trace.x_b3_sampled, 0, sizeof(x->trace.x_b3_sampled)) != NULL);
	check(x->status >= 0 && x->status <= 999);
	check(x->role == HTTP_ROLE_SERVER || x->role == HTTP_ROLE_CLIENT);
	/* The harness's clock only goes forward. */
	check(x->req_begin_ts <= x->req_end_ts);
	check(x->resp_begin_ts <= x->resp_end_ts);
	check(x->req_begin_ts <= x->resp_begin_ts);
	check(x->resp_bytes > 0);
	/* A response to no request: nothing of a request, and no error of one. */
	if (x->unanswered_request)
		check(!x->method[0] && !x->target[0] && !x->req_bytes && x->error == HTTP_ERR_NONE &&
		      x->req_begin_ts == x->resp_begin_ts);
	else
		check(x->req_bytes > 0);
	check(x->error < HTTP_ERR__COUNT && x->error != HTTP_ERR_TRUNCATED &&
	      x->error != HTTP_ERR_STATUS_LINE && x->error != HTTP_ERR_CHUNKED);
	check(http_method_label(x->method) != NULL);
	(void)http_outcome(x->status);
	check(x->req_body_len <= HTTP_BODY_MAX && x->resp_body_len <= HTTP_BODY_MAX);
	check((x->req_body || !x->req_body_len) && (x->resp_body || !x->resp_body_len));
	check(!x->req_body || (x->keep & HTTP_KEEP_REQ));
	check(!x->resp_body || (x->keep & HTTP_KEEP_RESP));
}

static unsigned keep_all(void *ctx, const char *method, const char *target)
{
	(void)ctx, (void)method, (void)target;
	return HTTP_KEEP_REQ | HTTP_KEEP_RESP;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_exchange out[XMAX];
	struct http_conn *c;
	unsigned errors[HTTP_ERR__COUNT] = { 0 };
	uint64_t ts = 1;
	size_t off = 1;
	struct fuzz_feed f;
	int n, i;

	if (size < 1)
		return 0;
	c = malloc(sizeof(*c));
	if (!c)
		return 0;
	if (data[0] & 4)
		http_conn_init_from_start(c, (enum http_role)(data[0] % 4));
	else
		http_conn_init(c, (enum http_role)(data[0] % 4));
	if (data[0] & 8)
		http_conn_set_keep(c, keep_all, NULL);
	while (fuzz_next_feed(data, size, &off, XMAX, &f)) {
		if (f.no_output)
			n = http_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, NULL, 0);
		else
			n = http_conn_feed(c, f.dir, f.buf, f.caplen, f.total, ts++, out, f.max_out);
		fuzz_feed_done(&f);
		check(n >= 0 && n <= f.max_out);
		/* Errors are taken when pending, and only then. */
		check(c->err_pending == (http_conn_take_errors(c, errors) > 0));
		check(!c->err_pending && !errors[HTTP_ERR_NONE] && !errors[HTTP_ERR_TRUNCATED]);
		if (f.no_output)
			continue;
		for (i = 0; i < n; i++)
			check_exchange(&out[i]);
	}
	n = http_conn_close(c, ts, out, XMAX);
	check(n >= 0 && n <= XMAX);
	for (i = 0; i < HTTP_ERR__COUNT; i++)
		check(http_error_reason((enum http_error)i) != NULL);
	for (i = 0; i < n; i++)
		check_exchange(&out[i]);
	check(http_conn_close(c, ts + 1, out, XMAX) == 0);
	(void)http_looks_like_request(data, size);
	(void)http_looks_like_response(data, size);
	free(c);
	return 0;
}
