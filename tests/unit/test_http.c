// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the HTTP/1.x parser (user/proto/http.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/http.h"

#define XMAX 64

/* A connection under test and everything it emitted so far. */
struct run {
	struct http_conn *c;
	struct http_exchange x[XMAX];
	int n;
};

static struct run *run_new(enum http_role hint)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->c = malloc(sizeof(*r->c));
	assert_non_null(r->c);
	http_conn_init(r->c, hint);
	return r;
}

static void run_free(struct run *r)
{
	free(r->c);
	free(r);
}

/* Feed caplen captured bytes of a syscall that moved total bytes. */
static int feedt(struct run *r, enum http_dir d, const char *s, size_t caplen, uint64_t total,
		 uint64_t ts)
{
	int rc = http_conn_feed(r->c, d, (const uint8_t *)s, caplen, total, ts, r->x + r->n,
				XMAX - r->n);

	if (rc > 0)
		r->n += rc;
	return rc;
}

static int feed(struct run *r, enum http_dir d, const char *s, uint64_t ts)
{
	return feedt(r, d, s, strlen(s), strlen(s), ts);
}

static int run_close(struct run *r, uint64_t ts)
{
	int rc = http_conn_close(r->c, ts, r->x + r->n, XMAX - r->n);

	if (rc > 0)
		r->n += rc;
	return rc;
}

/* Feed s as consecutive syscalls cut at the given offsets; the i-th piece gets ts0 + i. */
static void feed_cuts(struct run *r, enum http_dir d, const char *s, const size_t *cuts, int ncuts,
		      uint64_t ts0)
{
	size_t len = strlen(s), from = 0;
	int i;

	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		assert_true(feedt(r, d, s + from, to - from, to - from, ts0 + i) >= 0);
		from = to;
	}
}

static void assert_exchange(const struct http_exchange *x, const char *method, const char *target,
			    int status)
{
	assert_string_equal(x->method, method);
	assert_string_equal(x->target, target);
	assert_int_equal(x->status, status);
}

static void assert_ts(const struct http_exchange *x, uint64_t rqb, uint64_t rqe, uint64_t rsb,
		      uint64_t rse)
{
	assert_int_equal(x->req_begin_ts, rqb);
	assert_int_equal(x->req_end_ts, rqe);
	assert_int_equal(x->resp_begin_ts, rsb);
	assert_int_equal(x->resp_end_ts, rse);
}

static const char REQ_GET[] = "GET /api/products/1?x=1 HTTP/1.1\r\n"
			      "Host: shop.example\r\n"
			      "Accept: */*\r\n"
			      "\r\n";
static const char RESP_200[] = "HTTP/1.1 200 OK\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Length: 5\r\n"
			       "\r\n"
			       "hello";

static void test_looks_like_request_line(void **state)
{
	(void)state;
	assert_true(http_looks_like_request((const uint8_t *)"GET / HTTP/1.1\r\nHost: a\r\n", 26));
	assert_true(http_looks_like_request((const uint8_t *)"GET /partial", 12));
	assert_true(http_looks_like_request((const uint8_t *)"POST /x HTTP/1.0\n", 17));
	/* Redis inline commands start like a request line but end without a version. */
	assert_false(http_looks_like_request((const uint8_t *)"GET products:1\r\n", 16));
	assert_false(http_looks_like_request((const uint8_t *)"DELETE k HTTP/2\r\n", 17));
}

static void test_truncated_request_head(void **state)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	struct http_exchange x[4];
	static const char part[] = "GET /api/products/1 HTT";
	static const char full[] = "GET /a HTTP/1.1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	http_conn_init(c, HTTP_ROLE_SERVER);
	assert_false(http_conn_truncated(c));
	assert_int_equal(http_conn_feed(c, HTTP_DIR_INGRESS, (const uint8_t *)part, strlen(part),
					strlen(part), 1, x, 4),
			 0);
	assert_true(http_conn_truncated(c));
	http_conn_init(c, HTTP_ROLE_SERVER);
	http_conn_feed(c, HTTP_DIR_INGRESS, (const uint8_t *)full, strlen(full), strlen(full), 1, x,
		       4);
	assert_false(http_conn_truncated(c));
	assert_int_equal(http_conn_feed(c, HTTP_DIR_EGRESS, (const uint8_t *)resp, strlen(resp),
					strlen(resp), 2, x, 4),
			 1);
	assert_false(http_conn_truncated(c));
	/* Role unknown (opened before sonde): no judgement. */
	http_conn_init(c, HTTP_ROLE_UNKNOWN);
	http_conn_feed(c, HTTP_DIR_INGRESS, (const uint8_t *)part, strlen(part), strlen(part), 1, x,
		       4);
	free(c);
}

static void test_simple_get_server(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const struct http_exchange *x = &r->x[0];

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 100), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 200), 1);
	assert_int_equal(x->role, HTTP_ROLE_SERVER);
	assert_exchange(x, "GET", "/api/products/1?x=1", 200);
	assert_string_equal(x->host, "shop.example");
	assert_int_equal(x->version_minor, 1);
	assert_ts(x, 100, 100, 200, 200);
	assert_int_equal(x->req_bytes, strlen(REQ_GET));
	assert_int_equal(x->resp_bytes, strlen(RESP_200));
	assert_false(x->target_truncated);
	assert_false(x->head_truncated);
	assert_string_equal(x->trace.traceparent, "");
	assert_false((r->c)->err_pending);
	assert_int_equal(run_close(r, 300), 0);
	run_free(r);
}

static void test_client_role(void **state)
{
	enum http_role hints[] = {HTTP_ROLE_CLIENT, HTTP_ROLE_UNKNOWN};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct run *r = run_new(hints[i]);

		assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ_GET, 10), 0);
		assert_int_equal(r->c->role, HTTP_ROLE_CLIENT);
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP_200, 20), 1);
		assert_int_equal(r->x[0].role, HTTP_ROLE_CLIENT);
		assert_exchange(&r->x[0], "GET", "/api/products/1?x=1", 200);
		assert_ts(&r->x[0], 10, 10, 20, 20);
		run_free(r);
	}
}

static void test_role_from_content(void **state)
{
	struct run *r = run_new(HTTP_ROLE_UNKNOWN);

	(void)state;
	assert_int_equal(r->c->role, HTTP_ROLE_UNKNOWN);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(r->c->role, HTTP_ROLE_SERVER);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 2), 1);
	assert_int_equal(r->x[0].role, HTTP_ROLE_SERVER);
	run_free(r);
}

/* Request and response each cut in two at every offset: the result never changes. */
static void test_split_every_offset(void **state)
{
	enum http_role hints[] = {HTTP_ROLE_SERVER, HTTP_ROLE_UNKNOWN};
	size_t lq = strlen(REQ_GET), lr = strlen(RESP_200), i, j, h;

	(void)state;
	for (h = 0; h < 2; h++) {
		for (i = 1; i < lq; i++) {
			for (j = 1; j < lr; j++) {
				struct run *r = run_new(hints[h]);
				const struct http_exchange *x = &r->x[0];

				feed_cuts(r, HTTP_DIR_INGRESS, REQ_GET, &i, 1, 1);
				feed_cuts(r, HTTP_DIR_EGRESS, RESP_200, &j, 1, 3);
				assert_int_equal(r->n, 1);
				assert_exchange(x, "GET", "/api/products/1?x=1", 200);
				assert_string_equal(x->host, "shop.example");
				assert_ts(x, 1, 2, 3, 4);
				assert_int_equal(x->req_bytes, lq);
				assert_int_equal(x->resp_bytes, lr);
				assert_int_equal(x->role, HTTP_ROLE_SERVER);
				assert_false((r->c)->err_pending);
				run_free(r);
			}
		}
	}
}

/* One byte per syscall, both directions, twice in a row (keep-alive, in step). */
static void test_split_byte_by_byte(void **state)
{
	size_t cuts[512], i, k;
	struct run *r = run_new(HTTP_ROLE_UNKNOWN);

	(void)state;
	for (i = 0; i < 512; i++)
		cuts[i] = i + 1;
	for (k = 0; k < 2; k++) {
		feed_cuts(r, HTTP_DIR_INGRESS, REQ_GET, cuts, strlen(REQ_GET) - 1, 1000 * k);
		feed_cuts(r, HTTP_DIR_EGRESS, RESP_200, cuts, strlen(RESP_200) - 1, 1000 * k + 500);
		assert_int_equal(r->n, k + 1);
		assert_exchange(&r->x[k], "GET", "/api/products/1?x=1", 200);
		assert_ts(&r->x[k], 1000 * k, 1000 * k + strlen(REQ_GET) - 1, 1000 * k + 500,
			  1000 * k + 500 + strlen(RESP_200) - 1);
	}
	run_free(r);
}

static const char PIPE_REQS[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
				"DELETE /c HTTP/1.1\r\nHost: h\r\n\r\n";
static const char PIPE_RESPS[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
				 "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
				 "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop";

static void assert_pipe(const struct run *r)
{
	assert_int_equal(r->n, 3);
	assert_exchange(&r->x[0], "GET", "/a", 200);
	assert_exchange(&r->x[1], "POST", "/b", 201);
	assert_exchange(&r->x[2], "DELETE", "/c", 404);
	assert_int_equal(r->x[1].req_bytes, strlen("POST /b HTTP/1.1\r\nHost: h\r\n"
						   "Content-Length: 4\r\n\r\nbody"));
	assert_int_equal(r->x[2].resp_bytes, strlen("HTTP/1.1 404 Not Found\r\n"
						    "Content-Length: 3\r\n\r\nnop"));
}

static void test_pipelining(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	size_t i, lq = strlen(PIPE_REQS), lr = strlen(PIPE_RESPS);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, PIPE_REQS, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, PIPE_RESPS, 2), 3);
	assert_pipe(r);
	assert_ts(&r->x[2], 1, 1, 2, 2);
	run_free(r);

	/* Requests and responses cut at every offset. */
	for (i = 1; i < lq; i++) {
		r = run_new(HTTP_ROLE_UNKNOWN);
		feed_cuts(r, HTTP_DIR_INGRESS, PIPE_REQS, &i, 1, 1);
		feed_cuts(r, HTTP_DIR_EGRESS, PIPE_RESPS, &i, 1, 3);
		assert_pipe(r);
		run_free(r);
	}
	for (i = 1; i < lr; i++) {
		r = run_new(HTTP_ROLE_SERVER);
		feed_cuts(r, HTTP_DIR_INGRESS, PIPE_REQS, NULL, 0, 1);
		feed_cuts(r, HTTP_DIR_EGRESS, PIPE_RESPS, &i, 1, 3);
		assert_pipe(r);
		run_free(r);
	}

	/* Mixed: two requests, one response, the third request, the rest. */
	r = run_new(HTTP_ROLE_SERVER);
	i = strstr(PIPE_REQS, "DELETE") - PIPE_REQS;
	assert_int_equal(feedt(r, HTTP_DIR_INGRESS, PIPE_REQS, i, i, 1), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, PIPE_RESPS, 39, 39, 2), 1);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, PIPE_REQS + i, 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, PIPE_RESPS + 39, 4), 2);
	assert_pipe(r);
	assert_ts(&r->x[0], 1, 1, 2, 2);
	assert_ts(&r->x[2], 3, 3, 4, 4);
	run_free(r);
}

static void test_keep_alive(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	char req[128], resp[128];
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		snprintf(req, sizeof(req),
			 "PUT /items/%d HTTP/1.1\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
			 "\r\nhi",
			 i);
		snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nabc",
			 400 + i);
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, req, 10 * i), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, resp, 10 * i + 5), 1);
		assert_int_equal(r->x[i].status, 400 + i);
		assert_string_equal(r->x[i].method, "PUT");
		assert_ts(&r->x[i], 10 * i, 10 * i, 10 * i + 5, 10 * i + 5);
	}
	assert_int_equal(r->c->npending, 0);
	run_free(r);
}

static const char RESP_CHUNKED[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: gzip, chunked\r\n"
				   "\r\n"
				   "5;ext=1\r\nhello\r\n"
				   "6 ; name=\"v\"\r\n world\r\n"
				   "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				   "0;last\r\n"
				   "X-Trailer: t\r\n"
				   "Another: u\r\n"
				   "\r\n";
static const char REQ2[] = "GET /two HTTP/1.1\r\n\r\n";
static const char RESP2[] = "HTTP/1.1 204 No Content\r\n\r\n";

static void test_chunked_every_offset(void **state)
{
	size_t i, lr = strlen(RESP_CHUNKED);

	(void)state;
	for (i = 1; i < lr; i++) {
		struct run *r = run_new(HTTP_ROLE_SERVER);

		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
		feed_cuts(r, HTTP_DIR_EGRESS, RESP_CHUNKED, &i, 1, 2);
		assert_int_equal(r->n, 1);
		assert_exchange(&r->x[0], "GET", "/api/products/1?x=1", 200);
		assert_int_equal(r->x[0].resp_bytes, lr);
		assert_ts(&r->x[0], 1, 1, 2, 3);
		/* The next exchange parses in step: the chunked body ended exactly. */
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 4), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 5), 1);
		assert_exchange(&r->x[1], "GET", "/two", 204);
		run_free(r);
	}
}

static void test_chunked_request(void **state)
{
	struct run *r = run_new(HTTP_ROLE_CLIENT);
	const char *req = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "3\r\nabc\r\n0\r\n\r\n";

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, req, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ2, 2), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP_200, 3), 1);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP2, 4), 1);
	assert_exchange(&r->x[0], "POST", "/upload", 200);
	assert_int_equal(r->x[0].req_bytes, strlen(req));
	assert_exchange(&r->x[1], "GET", "/two", 204);
	run_free(r);
}

static void test_head_request(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "HEAD /file HTTP/1.1\r\n\r\n", 1), 0);
	assert_int_equal(
	    feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 123456\r\n\r\n", 2), 1);
	assert_exchange(&r->x[0], "HEAD", "/file", 200);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 4), 1);
	assert_exchange(&r->x[1], "GET", "/api/products/1?x=1", 200);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_no_body_statuses(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "DELETE /x HTTP/1.1\r\n\r\n", 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 204 No Content\r\n\r\n", 2), 1);
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS, "GET /y HTTP/1.1\r\nIf-None-Match: \"e\"\r\n\r\n", 3), 0);
	/* 304 may carry the Content-Length the 200 would have had. */
	assert_int_equal(
	    feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 4),
	    1);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 5), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 6), 1);
	assert_int_equal(r->x[0].status, 204);
	assert_int_equal(r->x[1].status, 304);
	assert_int_equal(r->x[2].status, 200);
	assert_string_equal(r->x[2].target, "/two");
	run_free(r);
}

static void test_100_continue(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS,
			      "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
			      "\r\n",
			      1),
			 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 100 Continue\r\n\r\n", 2), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "hello", 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS,
			      "HTTP/1.1 100 Continue\r\n\r\n"
			      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			      4),
			 1);
	assert_exchange(&r->x[0], "POST", "/up", 200);
	assert_ts(&r->x[0], 1, 3, 4, 4);
	assert_int_equal(r->x[0].resp_bytes,
			 strlen("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
	run_free(r);
}

static void test_101_upgrade(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS,
		 "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1),
	    0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS,
			      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			      "Connection: Upgrade\r\n\r\n\x81\x05hello",
			      2),
			 1);
	assert_exchange(&r->x[0], "GET", "/ws", 101);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "\x81\x85garbage", 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "\x01\x02\x03", 4), 0);
	assert_false((r->c)->err_pending);
	assert_int_equal(run_close(r, 5), 0);
	assert_int_equal(r->n, 1);
	run_free(r);
}

static void test_connect_tunnel(void **state)
{
	struct run *r = run_new(HTTP_ROLE_CLIENT);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_EGRESS,
			      "CONNECT db.example:443 HTTP/1.1\r\nHost: db.example:443\r\n\r\n", 1),
			 0);
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS, "HTTP/1.1 200 Connection established\r\n\r\n", 2), 1);
	assert_exchange(&r->x[0], "CONNECT", "db.example:443", 200);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "\x16\x03\x01\x00\xa5\x01", 3), 0);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_until_close(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const char *head = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n";

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "GET /old HTTP/1.0\r\n\r\n", 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, head, 2), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "<html>", 3), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "</html>", 7, 1000, 4), 0);
	assert_int_equal(run_close(r, 99), 1);
	assert_exchange(&r->x[0], "GET", "/old", 200);
	assert_int_equal(r->x[0].version_minor, 0);
	assert_ts(&r->x[0], 1, 1, 2, 4);
	assert_int_equal(r->x[0].resp_bytes, strlen(head) + 6 + 1000);
	/* Closed: nothing more comes out. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 100), 0);
	assert_int_equal(run_close(r, 101), 0);
	run_free(r);
}

static void test_close_drops_unanswered(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 2), 0);
	assert_int_equal(run_close(r, 3), 0);
	run_free(r);

	/*
	 * A response cut short after its head is emitted at the close with its
	 * status: the peer answered (urllib closes after reading a 500's head).
	 */
	r = run_new(HTTP_ROLE_CLIENT);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ_GET, 1), 0);
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS,
		 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nab", 2),
	    0);
	assert_int_equal(run_close(r, 3), 1);
	assert_exchange(&r->x[0], "GET", "/api/products/1?x=1", 500);
	assert_ts(&r->x[0], 1, 1, 2, 2);
	run_free(r);

	/* The same in a chunked body. */
	r = run_new(HTTP_ROLE_SERVER);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS,
			      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 2),
			 0);
	assert_int_equal(run_close(r, 3), 1);
	assert_exchange(&r->x[0], "GET", "/api/products/1?x=1", 200);
	run_free(r);
}

static void test_unseen_body(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n";
	const char *post = "POST /p HTTP/1.1\r\nContent-Length: 5000\r\n\r\nxx";
	char buf[256];
	size_t hl = strlen(head), pl = strlen(post);

	(void)state;
	/* One syscall: head and 100 body bytes captured, the rest not. */
	snprintf(buf, sizeof(buf), "%s%0100d", head, 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, buf, hl + 100, hl + 10000, 2), 1);
	assert_int_equal(r->x[0].resp_bytes, hl + 10000);
	assert_ts(&r->x[0], 1, 1, 2, 2);

	/* Split over a write and a sendfile that captures nothing. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 3), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, buf, hl + 100, hl + 6000, 4), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, NULL, 0, 3999, 5), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "x", 1, 1, 6), 1);
	assert_int_equal(r->x[1].resp_bytes, hl + 10000);
	assert_ts(&r->x[1], 3, 3, 4, 6);

	/* Unseen request body. */
	assert_int_equal(feedt(r, HTTP_DIR_INGRESS, post, pl, pl - 2 + 5000, 7), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 8), 1);
	assert_exchange(&r->x[2], "POST", "/p", 204);
	assert_int_equal(r->x[2].req_bytes, pl - 2 + 5000);
	assert_false(r->x[2].head_truncated);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_unseen_chunked(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\nabc";
	size_t hl = strlen(head);

	(void)state;
	/* Unseen bytes inside chunk data: the chunk count still works. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, head, hl, hl + 0x1000 - 3, 2), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "\r\n0\r\n\r\n", 3), 1);
	assert_int_equal(r->x[0].resp_bytes, hl + 0x1000 - 3 + 7);
	assert_ts(&r->x[0], 1, 1, 2, 3);

	/* Unseen bytes reaching into the framing: until the next request. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 4), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, head, hl, hl + 5000, 5), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "zzz", 3, 300, 6), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 7), 1);
	assert_exchange(&r->x[1], "GET", "/two", 200);
	assert_int_equal(r->x[1].resp_bytes, hl + 5000 + 300);
	assert_ts(&r->x[1], 4, 4, 5, 6);
	/* Back in step with the next response. */
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 8), 1);
	assert_exchange(&r->x[2], "GET", "/api/products/1?x=1", 200);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_unseen_request_head(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const char *req =
	    "GET /big HTTP/1.1\r\nHost: h\r\ntraceparent: 00-aa-bb-01\r\nCookie: aaaa";
	size_t ql = strlen(req);

	(void)state;
	assert_int_equal(feedt(r, HTTP_DIR_INGRESS, req, ql, ql + 1000, 10), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "more cookie\r\n\r\n", 11), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 12), 1);
	assert_exchange(&r->x[0], "GET", "/big", 200);
	assert_string_equal(r->x[0].host, "h");
	assert_string_equal(r->x[0].trace.traceparent, "00-aa-bb-01");
	assert_true(r->x[0].head_truncated);
	assert_ts(&r->x[0], 10, 11, 12, 12);
	assert_int_equal(r->x[0].req_bytes, ql + 1000 + 15);

	/* The next request begins a syscall: in step again. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 13), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 14), 1);
	assert_exchange(&r->x[1], "GET", "/two", 200);
	assert_false(r->x[1].head_truncated);
	assert_ts(&r->x[1], 13, 13, 14, 14);

	/* Even the request line cut: keep what there is, for pairing. */
	assert_int_equal(feedt(r, HTTP_DIR_INGRESS, "GET /very/long/ta", 17, 900, 15), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 16), 1);
	assert_exchange(&r->x[2], "GET", "/very/long/ta", 204);
	assert_true(r->x[2].target_truncated);
	assert_true(r->x[2].head_truncated);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_unseen_response_head(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const char *head = "HTTP/1.1 503 Unavailable\r\nContent-Type: text/html\r\nSet-Cookie: x";
	size_t hl = strlen(head);

	(void)state;
	/* Ended by the next request on the other direction. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "GET /a HTTP/1.1\r\n\r\n", 1), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, head, hl, hl + 5000, 2), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "body", 4, 100, 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "GET /b HTTP/1.1\r\n\r\n", 4), 1);
	assert_exchange(&r->x[0], "GET", "/a", 503);
	assert_true(r->x[0].head_truncated);
	assert_ts(&r->x[0], 1, 1, 2, 3);
	assert_int_equal(r->x[0].resp_bytes, hl + 5000 + 100);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 5), 1);
	assert_exchange(&r->x[1], "GET", "/b", 204);
	assert_ts(&r->x[1], 4, 4, 5, 5);

	/* Ended by the next status line (pipelined requests). */
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS, "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n", 6), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, head, hl, hl + 5000, 7), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "HTTP/1.1 body-ish", 4, 10, 8), 0);
	assert_int_equal(
	    feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 9), 2);
	assert_exchange(&r->x[2], "GET", "/c", 503);
	assert_ts(&r->x[2], 6, 6, 7, 8);
	assert_int_equal(r->x[2].resp_bytes, hl + 5000 + 10);
	assert_exchange(&r->x[3], "GET", "/d", 201);
	assert_ts(&r->x[3], 6, 6, 9, 9);

	/* Ended by the close. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "GET /e HTTP/1.1\r\n\r\n", 10), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, head, hl, hl + 5000, 11), 0);
	assert_int_equal(feedt(r, HTTP_DIR_EGRESS, "body", 4, 100, 12), 0);
	assert_int_equal(run_close(r, 13), 1);
	assert_exchange(&r->x[4], "GET", "/e", 503);
	assert_ts(&r->x[4], 10, 10, 11, 12);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_mid_stream_start(void **state)
{
	enum http_role hints[] = {HTTP_ROLE_SERVER, HTTP_ROLE_UNKNOWN};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct run *r = run_new(hints[i]);

		/* The tail of a response to a request sent before we attached. */
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, "ld\"}]}\r\n0\r\n\r\n", 1), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, "{\"more\": \"json\"}", 2), 0);
		/* ... and of the request body, and a whole response to an unseen request. */
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, "name=value&x=1", 3), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 4), 0);
		assert_false((r->c)->err_pending);
		assert_int_equal(feed(r, HTTP_DIR_INGRESS,
				      "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 5),
				 0);
		assert_int_equal(r->c->role, HTTP_ROLE_SERVER);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\n\r\n", 6), 0);
		assert_int_equal(run_close(r, 7), 1);
		assert_exchange(&r->x[0], "POST", "/x", 200);
		assert_ts(&r->x[0], 5, 5, 6, 6);
		run_free(r);
	}
}

/*
 * A response that began before its request cannot answer it: in step, it is
 * one the server wrote all the same, counted with no request.
 */
static void test_response_before_request(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 2), 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 408 Request Timeout\r\nContent-", 3),
			 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 4), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "Length: 0\r\n\r\n", 5), 1);
	assert_exchange(&r->x[1], "", "", 408);
	assert_true(r->x[1].unanswered_request);
	assert_ts(&r->x[1], 3, 3, 3, 5);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 6), 1);
	assert_exchange(&r->x[2], "GET", "/two", 200);
	assert_ts(&r->x[2], 4, 4, 6, 6);
	assert_false((r->c)->err_pending);
	run_free(r);
}

/* The error counts taken from c, as an array of HTTP_ERR__COUNT. */
static unsigned taken(struct run *r, enum http_error e)
{
	unsigned counts[HTTP_ERR__COUNT] = {0};

	http_conn_take_errors(r->c, counts);
	assert_false(r->c->err_pending);
	return counts[e];
}

static const char RESP_400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/* Garbage where a request should be: counted, answered, and the connection goes on. */
static void test_garbage_request(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 2), 1);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "\x16\x03\x01\x02\x00\x01\x00", 3), 0);
	assert_true(r->c->err_pending);
	assert_int_equal(taken(r, HTTP_ERR_REQUEST_LINE), 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_400, 4), 1);
	assert_exchange(&r->x[1], "", "", 400);
	assert_int_equal(r->x[1].error, HTTP_ERR_REQUEST_LINE);
	assert_ts(&r->x[1], 3, 3, 4, 4);
	/* A request at the start of a later feed: in step again. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 5), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 6), 1);
	assert_exchange(&r->x[2], "GET", "/api/products/1?x=1", 200);
	assert_int_equal(r->x[2].error, HTTP_ERR_NONE);
	assert_int_equal(run_close(r, 7), 0);
	assert_false(r->c->err_pending);
	run_free(r);

	/* Garbage where the next status line should be: its request is given up. */
	r = run_new(HTTP_ROLE_CLIENT);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ_GET, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP_200, 2), 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ2, 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "HTTP/2 200\r\n\r\n", 4), 0);
	assert_int_equal(taken(r, HTTP_ERR_STATUS_LINE), 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, REQ_GET, 5), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP_200, 6), 1);
	assert_exchange(&r->x[1], "GET", "/api/products/1?x=1", 200);
	assert_ts(&r->x[1], 5, 5, 6, 6);
	run_free(r);
}

/*
 * A valid request and a malformed one in one feed, and the server's two
 * answers: both counted, the second with what could be read of its request.
 */
struct bad_case {
	const char *req;
	enum http_error err;
	const char *method, *target;
};

static const struct bad_case bad_cases[] = {
	{"GET /a HTTP/1.1\r\nNoColonHere\r\n\r\n", HTTP_ERR_HEADER, "GET", "/a"},
	{"GET /a HTTP/1.1\r\n: empty name\r\n\r\n", HTTP_ERR_HEADER, "GET", "/a"},
	{"GET /a HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, "GET", "/a"},
	{"GET /a HTTP/1.1\r\nContent-Length: \r\n\r\n", HTTP_ERR_CONTENT_LENGTH, "GET", "/a"},
	{"GET /a HTTP/1.1\r\nContent-Length: 9007199254740993\r\n\r\n", HTTP_ERR_CONTENT_LENGTH,
	 "GET", "/a"},
	{"POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	 HTTP_ERR_CONTENT_LENGTH, "POST", "/a"},
	{"PUT /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	 HTTP_ERR_CONTENT_LENGTH, "PUT", "/a"},
	{"GET /a\x01z HTTP/1.1\r\n\r\n", HTTP_ERR_REQUEST_LINE, "GET", ""},
	{"GET /a\tz HTTP/1.1\r\n\r\n", HTTP_ERR_REQUEST_LINE, "GET", ""},
	{"G\x7f T /a HTTP/1.1\r\n\r\n", HTTP_ERR_REQUEST_LINE, "", ""},
	{"GET /a HTTP/1.1\rX\n\r\n", HTTP_ERR_REQUEST_LINE, "GET", "/a"},
	{"GET  /a HTTP/1.1\r\n\r\n", HTTP_ERR_REQUEST_LINE, "GET", ""},
	{"GET /a HTTP/2.0\r\n\r\n", HTTP_ERR_VERSION, "GET", "/a"},
	{"GET /a HTTP/5.6\r\n\r\n", HTTP_ERR_VERSION, "GET", "/a"},
	{"GET /a ICE/1.0\r\n\r\n", HTTP_ERR_VERSION, "GET", "/a"},
	{"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", HTTP_ERR_VERSION, "OPTIONS", "*"},
	{"GET /a\r\n\r\n", HTTP_ERR_VERSION, "GET", "/a"},
	{"GET /a HTTP/1.1 extra\r\n\r\n", HTTP_ERR_VERSION, "GET", "/a"},
	{"VERYVERYLONGMETHODNAMEXX /a HTTP/1.1\r\n\r\n", HTTP_ERR_REQUEST_LINE, "", ""},
	{"{\"json\": true}\r\n", HTTP_ERR_REQUEST_LINE, "", ""},
};

/*
 * Feed s to a server connection cut into two feeds at cut (0: whole), after
 * REQ2 and its answer (in step) or from the connection's start.
 */
static struct run *run_split(const char *s, size_t len, size_t cut, bool from_start)
{
	struct run *r;

	if (!from_start) {
		r = run_new(HTTP_ROLE_SERVER);
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 1), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
	} else {
		r = calloc(1, sizeof(*r));
		assert_non_null(r);
		r->c = malloc(sizeof(*r->c));
		assert_non_null(r->c);
		http_conn_init_from_start(r->c, HTTP_ROLE_SERVER);
	}
	if (cut)
		assert_int_equal(feedt(r, HTTP_DIR_INGRESS, s, cut, cut, 3), 0);
	assert_int_equal(feedt(r, HTTP_DIR_INGRESS, s + cut, len - cut, len - cut, 4), 0);
	return r;
}

/*
 * Each malformed request alone and behind a valid one, in step and from the
 * connection's start, cut at every offset: one error of its reason, and the
 * server's answers counted in order, the bad one's with what could be read.
 */
static void test_malformed_requests(void **state)
{
	size_t i, k, cut, len;
	int start;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		char both[512];

		for (k = 0; k < 2; k++) {
			snprintf(both, sizeof(both), "%s%s", k ? REQ_GET : "", b->req);
			len = strlen(both);
			for (start = 0; start < 2; start++) {
				for (cut = 0; cut < len; cut++) {
					struct run *r = run_split(both, len, cut, start);
					int base;

					assert_int_equal(taken(r, b->err), 1);
					if (k)
						assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_200, 5), 1);
					base = r->n;
					assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_400, 6), 1);
					assert_exchange(&r->x[base], b->method, b->target, 400);
					assert_int_equal(r->x[base].error, b->err);
					if (k)
						assert_exchange(&r->x[base - 1], "GET",
								"/api/products/1?x=1", 200);
					run_free(r);
				}
			}
		}
	}
}

/*
 * Requests that are valid but unusual, with the same splits: a leading empty
 * line, an extension method, registered methods, CONNECT and Upgrade followed
 * by bytes that the server then refuses: no error counted, every answer paired.
 */
static void test_unusual_requests(void **state)
{
	static const struct {
		const char *req;
		const char *method, *target; /* of the first request */
		int nresp;                   /* answers the server writes */
	} cases[] = {
	    {"\r\nGET /a HTTP/1.1\r\n\r\n", "GET", "/a", 1},
	    {"\r\n\r\nPOST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "POST", "/a", 1},
	    {"M-SEARCH * HTTP/1.1\r\nMan: \"ssdp:discover\"\r\n\r\n", "M-SEARCH", "*", 1},
	    {"PROPFIND /dav HTTP/1.1\r\nDepth: 1\r\n\r\n", "PROPFIND", "/dav", 1},
	    {"PURGE /cache/x HTTP/1.1\r\n\r\nQUERY /q HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
	     "PURGE", "/cache/x", 2},
	    {"VERSION-CONTROL /v HTTP/1.1\r\n\r\n", "VERSION-CONTROL", "/v", 1},
	    {"CONNECT shop.example:443 HTTP/1.0\r\n\r\n\x16\x03\x01\x02\x01", "CONNECT",
	     "shop.example:443", 2},
	    {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85xyzw",
	     "GET", "/ws", 2},
	    {"PUT /up HTTP/1.1\r\nUpgrade: x\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nok"
	     "binary bytes\r\n",
	     "PUT", "/up", 2},
	};
	static const char refused[] = "HTTP/1.1 405 Not Allowed\r\nContent-Length: 0\r\n\r\n";
	size_t i, cut, len;
	int start, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].req);
		for (start = 0; start < 2; start++) {
			for (cut = 0; cut < len; cut++) {
				struct run *r = run_split(cases[i].req, len, cut, start);
				int base = r->n;

				for (j = 0; j < cases[i].nresp; j++)
					assert_int_equal(feed(r, HTTP_DIR_EGRESS, refused, 5 + j), 1);
				assert_false(r->c->err_pending);
				assert_exchange(&r->x[base], cases[i].method, cases[i].target, 405);
				assert_int_equal(r->n, base + cases[i].nresp);
				run_free(r);
			}
		}
	}
}

/* The same requests as the first bytes of a connection seen from its start. */
static void test_malformed_first_request(void **state)
{
	size_t i, cut;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		size_t len = strlen(b->req);

		/* Whole, and cut at every offset into two feeds. */
		for (cut = 0; cut < len; cut++) {
			struct run *r = calloc(1, sizeof(*r));

			assert_non_null(r);
			r->c = malloc(sizeof(*r->c));
			assert_non_null(r->c);
			http_conn_init_from_start(r->c, HTTP_ROLE_SERVER);
			if (cut)
				assert_int_equal(feedt(r, HTTP_DIR_INGRESS, b->req, cut, cut, 1), 0);
			assert_int_equal(
			    feedt(r, HTTP_DIR_INGRESS, b->req + cut, len - cut, len - cut, 2), 0);
			assert_int_equal(taken(r, b->err), 1);
			assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_400, 3), 1);
			assert_exchange(&r->x[0], b->method, b->target, 400);
			run_free(r);
		}
	}
}

/* Seen from its start, a connection's first bytes are a request whatever they hold. */
static void test_from_start(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	/* Out of step (attached mid-stream): garbage is skipped, its answer not counted. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "xyz garbage\r\n\r\n", 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_400, 2), 0);
	assert_false(r->c->err_pending);
	run_free(r);

	/* From the start: an empty line, then a request (RFC 9112 2.2). */
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->c = malloc(sizeof(*r->c));
	assert_non_null(r->c);
	http_conn_init_from_start(r->c, HTTP_ROLE_CLIENT);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "\r\nM-SEARCH * HTTP/1.1\r\nMan: x\r\n\r\n", 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, RESP_200, 2), 1);
	assert_exchange(&r->x[0], "M-SEARCH", "*", 200);
	assert_false(r->c->err_pending);
	/* A response to no request (a 408 on an idle connection): counted with none. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS,
			      "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n", 3),
			 1);
	assert_exchange(&r->x[1], "", "", 408);
	assert_true(r->x[1].unanswered_request);
	assert_ts(&r->x[1], 3, 3, 3, 3);
	run_free(r);
}

/* Bytes after a request that asked for a tunnel are not counted as malformed. */
static void test_tunnel_bytes(void **state)
{
	static const char *const reqs[] = {
	    "CONNECT shop.example:443 HTTP/1.0\r\n\r\n\x16\x03\x01\x00\xa5\x01\x00",
	    "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85xyz",
	    "POST /up HTTP/1.1\r\nUpgrade: foo\r\nConnection: keep-alive, Upgrade\r\n"
	    "Content-Length: 2\r\n\r\nokBINARY",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct run *r = run_new(HTTP_ROLE_SERVER);

		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 1), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
		assert_int_equal(feedt(r, HTTP_DIR_INGRESS, reqs[i], strlen(reqs[i]) + (i < 2),
				       strlen(reqs[i]) + (i < 2), 3),
				 0);
		assert_false(r->c->err_pending);
		/* Refused: the server read the tunnel bytes as a request and answered them. */
		assert_int_equal(feed(r, HTTP_DIR_EGRESS,
				      "HTTP/1.1 405 Not Allowed\r\nContent-Length: 0\r\n\r\n", 4),
				 1);
		assert_int_equal(r->x[1].status, 405);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP_400, 5), 1);
		assert_int_equal(r->x[2].status, 400);
		assert_string_equal(r->x[2].method, "");
		run_free(r);
	}
}

static void test_oversized_head(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	char *big = malloc(HTTP_HEAD_MAX + 64);
	int rc = 0, i;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', HTTP_HEAD_MAX + 63);
	big[HTTP_HEAD_MAX + 63] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	/* Arriving in small pieces, in step after a first exchange. */
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
	for (i = 0; i < HTTP_HEAD_MAX + 63 && rc == 0; i += 100) {
		size_t n = HTTP_HEAD_MAX + 63 - i < 100 ? HTTP_HEAD_MAX + 63 - i : 100;

		rc = feedt(r, HTTP_DIR_INGRESS, big + i, n, n, 3);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(taken(r, HTTP_ERR_TOO_LARGE), 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n", 4),
			 1);
	assert_exchange(&r->x[1], "GET", "/", 431);
	run_free(r);

	/* A head of exactly HTTP_HEAD_MAX bytes is fine. */
	r = run_new(HTTP_ROLE_SERVER);
	memset(big, 'a', HTTP_HEAD_MAX);
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	memcpy(big + HTTP_HEAD_MAX - 4, "\r\n\r\n", 5);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, big, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
	assert_int_equal(r->x[0].req_bytes, HTTP_HEAD_MAX);
	assert_false(r->c->err_pending);
	free(big);
	run_free(r);
}

static void test_bad_chunk_size(void **state)
{
	static const char *const bad[] = {
	    "zz\r\n", "\r\n", "5\r\nhelloXX", "5 x\r\n", "11111111111111111\r\n", "0\r\n\rX",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run *r = run_new(HTTP_ROLE_SERVER);

		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ_GET, 1), 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS,
				      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 2),
				 0);
		assert_int_equal(feed(r, HTTP_DIR_EGRESS, bad[i], 3), 0);
		assert_int_equal(taken(r, HTTP_ERR_CHUNKED), 1);
		/* The response lasts until the next request begins: then it is counted. */
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, REQ2, 4), 1);
		assert_exchange(&r->x[0], "GET", "/api/products/1?x=1", 200);
		run_free(r);
	}
}

/* A tracestate list-member longer than what is kept (HTTP_TRACESTATE_MAX). */
#define LONG_MEMBER \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789"

static void test_trace_headers(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	const struct http_trace_hdrs *t = &r->x[0].trace;

	(void)state;
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS,
		 "GET /t HTTP/1.1\r\n"
		 "TraceParent:  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01  \r\n"
		 "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n"
		 "x-b3-traceid: 463ac35c9f6413ad48485a3953bb6124\r\n"
		 "X-B3-SPANID: a2fb4a1d1a96d312\r\n"
		 "X-B3-ParentSpanId:\t0020000000000001\r\n"
		 "X-B3-Sampled: 1\r\n"
		 "\r\n",
		 1),
	    0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
	assert_string_equal(t->traceparent,
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_string_equal(t->b3,
			    "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
	assert_string_equal(t->x_b3_traceid, "463ac35c9f6413ad48485a3953bb6124");
	assert_string_equal(t->x_b3_spanid, "a2fb4a1d1a96d312");
	assert_string_equal(t->x_b3_parentspanid, "0020000000000001");
	assert_string_equal(t->x_b3_sampled, "1");

	/* Over-long values are cut to the field. */
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS,
		 "GET /u HTTP/1.1\r\nX-B3-TraceId: 0123456789abcdef0123456789abcdefXYZ\r\n"
		 "X-B3-Sampled: true\r\n\r\n",
		 3),
	    0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 4), 1);
	assert_string_equal(r->x[1].trace.x_b3_traceid, "0123456789abcdef0123456789abcdef");
	assert_string_equal(r->x[1].trace.x_b3_sampled, "t");
	assert_string_equal(r->x[1].trace.traceparent, "");
	assert_string_equal(r->x[1].trace.tracestate, "");

	/* tracestate: headers joined; a list too long loses whole members from the right. */
	assert_int_equal(
	    feed(r, HTTP_DIR_INGRESS,
		 "GET /v HTTP/1.1\r\ntracestate: rojo=00f067aa0ba902b7 ,\r\n"
		 "Tracestate: congo=t61rcWkgMzE\r\n"
		 "tracestate: a=" LONG_MEMBER ",b=1\r\n"
		 "tracestate: x=" LONG_MEMBER "\r\n\r\n",
		 5),
	    0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 6), 1);
	assert_string_equal(r->x[2].trace.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	run_free(r);
}

static void test_long_target(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	char req[1024], target[400];

	(void)state;
	memset(target, 'p', sizeof(target) - 1);
	target[0] = '/';
	target[sizeof(target) - 1] = '\0';
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target,
		 "a-very-long-host-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on"
		 "-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on.example");
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, req, 1), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 2), 1);
	assert_true(r->x[0].target_truncated);
	assert_int_equal(strlen(r->x[0].target), HTTP_TARGET_MAX - 1);
	assert_memory_equal(r->x[0].target, target, HTTP_TARGET_MAX - 1);
	assert_int_equal(strlen(r->x[0].host), HTTP_HOST_MAX - 1);
	assert_false(r->x[0].head_truncated);
	run_free(r);
}

static void test_pipeline_overflow(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	char buf[64];
	int i;

	(void)state;
	for (i = 0; i < HTTP_PIPELINE_MAX + 4; i++) {
		snprintf(buf, sizeof(buf), "GET /%d HTTP/1.1\r\n\r\n", i);
		assert_int_equal(feed(r, HTTP_DIR_INGRESS, buf, i), 0);
	}
	assert_int_equal(r->c->npending, HTTP_PIPELINE_MAX);
	for (i = 0; i < HTTP_PIPELINE_MAX + 4; i++)
		assert_true(feed(r, HTTP_DIR_EGRESS, RESP2, 100 + i) >= 0);
	/*
	 * The oldest four were dropped; the others pair in order, and the four
	 * responses left over are counted with no request.
	 */
	assert_int_equal(r->n, HTTP_PIPELINE_MAX + 4);
	assert_string_equal(r->x[0].target, "/4");
	assert_string_equal(r->x[HTTP_PIPELINE_MAX - 1].target, "/19");
	assert_true(r->x[HTTP_PIPELINE_MAX].unanswered_request);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_max_out(void **state)
{
	struct http_conn *c = malloc(sizeof(*c));
	struct http_exchange x[2];

	(void)state;
	assert_non_null(c);
	http_conn_init(c, HTTP_ROLE_SERVER);
	assert_int_equal(http_conn_feed(c, HTTP_DIR_INGRESS, (const uint8_t *)PIPE_REQS,
					strlen(PIPE_REQS), strlen(PIPE_REQS), 1, x, 2),
			 0);
	assert_int_equal(http_conn_feed(c, HTTP_DIR_EGRESS, (const uint8_t *)PIPE_RESPS,
					strlen(PIPE_RESPS), strlen(PIPE_RESPS), 2, x, 1),
			 1);
	assert_string_equal(x[0].target, "/a");
	assert_int_equal(c->npending, 0);
	/* caplen > total is clamped; a NULL out just drops. */
	assert_int_equal(http_conn_feed(c, HTTP_DIR_INGRESS, (const uint8_t *)REQ_GET,
					strlen(REQ_GET), 5, 3, NULL, 0),
			 0);
	free(c);
}

static void test_bare_lf_and_blank_lines(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);

	(void)state;
	assert_int_equal(feed(r, HTTP_DIR_INGRESS,
			      "POST /lf HTTP/1.0\nContent-Length: 2\nHost: lf\n\nok\r\n", 1),
			 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.0 200\nContent-Length: 0\n\n", 2), 1);
	assert_int_equal(feed(r, HTTP_DIR_INGRESS, "\r\nGET /next HTTP/1.1\r\n\r\n", 3), 0);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, RESP2, 4), 1);
	assert_exchange(&r->x[0], "POST", "/lf", 200);
	assert_string_equal(r->x[0].host, "lf");
	assert_int_equal(r->x[0].version_minor, 0);
	assert_exchange(&r->x[1], "GET", "/next", 204);
	assert_false((r->c)->err_pending);
	run_free(r);
}

static void test_outcome(void **state)
{
	(void)state;
	assert_string_equal(http_outcome(100), "INFORMATIONAL");
	assert_string_equal(http_outcome(199), "INFORMATIONAL");
	assert_string_equal(http_outcome(200), "SUCCESS");
	assert_string_equal(http_outcome(299), "SUCCESS");
	assert_string_equal(http_outcome(301), "REDIRECTION");
	assert_string_equal(http_outcome(404), "CLIENT_ERROR");
	assert_string_equal(http_outcome(503), "SERVER_ERROR");
	assert_string_equal(http_outcome(599), "SERVER_ERROR");
	assert_string_equal(http_outcome(600), "UNKNOWN");
	assert_string_equal(http_outcome(99), "UNKNOWN");
	assert_string_equal(http_outcome(0), "UNKNOWN");
	assert_string_equal(http_outcome(-1), "UNKNOWN");
}

static void test_method_label(void **state)
{
	static const char *const known[] = {
	    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_string_equal(http_method_label(known[i]), known[i]);
	assert_string_equal(http_method_label("get"), "OTHER");
	/* IANA's registry and PURGE; the table is sorted (the lookup is a binary search). */
	assert_string_equal(http_method_label("PROPFIND"), "PROPFIND");
	assert_string_equal(http_method_label("VERSION-CONTROL"), "VERSION-CONTROL");
	assert_string_equal(http_method_label("UPDATEREDIRECTREF"), "UPDATEREDIRECTREF");
	assert_string_equal(http_method_label("ACL"), "ACL");
	assert_string_equal(http_method_label("PURGE"), "PURGE");
	assert_string_equal(http_method_label("QUERY"), "QUERY");
	assert_string_equal(http_method_label("M-SEARCH"), "OTHER");
	assert_string_equal(http_method_label("GE"), "OTHER");
	assert_string_equal(http_method_label("POSTS"), "OTHER");
	{
		static const char *const more[] = {
		    "ACL",	 "BASELINE-CONTROL", "BIND",	    "CHECKIN",	 "CHECKOUT",
		    "COPY",	 "LABEL",	     "LINK",	    "LOCK",	 "MERGE",
		    "MKACTIVITY", "MKCALENDAR",	     "MKCOL",	    "MKREDIRECTREF", "MKWORKSPACE",
		    "MOVE",	 "ORDERPATCH",	     "PRI",	    "PROPFIND",	 "PROPPATCH",
		    "PURGE",	 "QUERY",	     "REBIND",	    "REPORT",	 "SEARCH",
		    "UNBIND",	 "UNCHECKOUT",	     "UNLINK",	    "UNLOCK",	 "UPDATE",
		};

		for (i = 0; i < sizeof(more) / sizeof(more[0]); i++)
			assert_string_equal(http_method_label(more[i]), more[i]);
	}
	assert_string_equal(http_method_label("GETX"), "OTHER");
	assert_string_equal(http_method_label(""), "OTHER");
	assert_string_equal(http_method_label(NULL), "OTHER");
}

static bool req_like(const char *s)
{
	return http_looks_like_request((const uint8_t *)s, strlen(s));
}

static bool resp_like(const char *s)
{
	return http_looks_like_response((const uint8_t *)s, strlen(s));
}

static void test_sniffing(void **state)
{
	(void)state;
	assert_true(req_like("GET / HTTP/1.1\r\n"));
	assert_true(req_like("GET "));
	assert_true(req_like("OPTIONS * HTTP/1.1"));
	assert_true(req_like("PATCH /x"));
	assert_true(req_like("PROPFIND /dav HTTP/1.1"));
	assert_true(req_like("MKCOL *"));
	assert_true(req_like("PURGE http://x/ HTTP/1.1"));
	assert_false(req_like("GET"));
	assert_false(req_like("get / HTTP/1.1"));
	assert_false(req_like("FOO bar"));
	assert_false(req_like("AB /x"));
	assert_false(req_like("ABCDEFGHIJKLMNOPQRSTUVWX /x"));
	assert_true(req_like("ABCDEFGHIJKLMNOPQRSTUVW /x"));
	/* Empty lines before a request line (RFC 9112 2.2), '-' inside a method. */
	assert_true(req_like("\r\n\r\nGET / HTTP/1.1\r\n"));
	assert_true(req_like("\nGET /"));
	assert_true(req_like("M-SEARCH * HTTP/1.1\r\n"));
	assert_true(req_like("VERSION-CONTROL /x HTTP/1.1\r\n"));
	assert_false(req_like("-AB /x"));
	assert_false(req_like("\r\n"));
	assert_false(req_like("GET / RTSP/1.0\r\n"));
	assert_false(req_like("PURGE htt"));
	assert_false(req_like("HTTP/1.1 200 OK"));
	assert_false(req_like(""));
	assert_false(http_looks_like_request(NULL, 10));

	assert_true(resp_like("HTTP/1.1 200 OK\r\n"));
	assert_true(resp_like("HTTP/1.0 404"));
	assert_true(resp_like("HTTP/1.1"));
	assert_true(resp_like("HTTP/1.1 2"));
	assert_false(resp_like("HTTP/1."));
	assert_false(resp_like("HTTP/2 200"));
	assert_false(resp_like("HTTP/1.2 200"));
	assert_false(resp_like("HTTP/1.1 20x"));
	assert_false(resp_like("HTTP/1.1x200"));
	assert_false(resp_like("GET / HTTP/1.1"));
	assert_false(http_looks_like_response(NULL, 12));
}

/* ---- fast path ---- */

/*
 * The same connection twice: one with the fast path (the default), one with
 * the state machine alone. Every feed goes to both; they must return the same,
 * emit the same exchanges (byte for byte), agree on broken and truncated, and
 * be left in the same state (http_conn_same_state).
 */
struct duo {
	struct run *fast, *slow;
};

static struct duo duo_new(enum http_role hint)
{
	struct duo d = {run_new(hint), run_new(hint)};

	/* Padding bytes too must start out alike for the state comparison. */
	memset(d.fast->c, 0, sizeof(*d.fast->c));
	memset(d.slow->c, 0, sizeof(*d.slow->c));
	http_conn_init(d.fast->c, hint);
	http_conn_init(d.slow->c, hint);
	http_conn_set_fast_path(d.slow->c, false);
	return d;
}

static void duo_free(struct duo d)
{
	run_free(d.fast);
	run_free(d.slow);
}

static void assert_same(struct duo d)
{
	assert_int_equal(d.fast->n, d.slow->n);
	assert_memory_equal(d.fast->x, d.slow->x, d.fast->n * sizeof(d.fast->x[0]));
	assert_int_equal(d.fast->c->err_pending, d.slow->c->err_pending);
	assert_memory_equal(d.fast->c->errors, d.slow->c->errors, sizeof(d.fast->c->errors));
	assert_int_equal(http_conn_truncated(d.fast->c), http_conn_truncated(d.slow->c));
	assert_true(http_conn_same_state(d.fast->c, d.slow->c));
}

/*
 * Feed both. With fast (only between messages of that direction), the fast
 * connection's head buffer is wiped first (nothing reads it then) and *fast
 * tells whether the fast path read every head that began in the feed: none
 * was copied into the buffer.
 */
static int duo_feedt(struct duo d, enum http_dir dir, const char *s, size_t caplen, uint64_t total,
		     uint64_t ts, bool *fast)
{
	struct http_half *h = &d.fast->c->half[dir];
	int rc;

	if (fast)
		memset(h->head, 0, sizeof(h->head));
	rc = feedt(d.fast, dir, s, caplen, total, ts);
	assert_int_equal(feedt(d.slow, dir, s, caplen, total, ts), rc);
	assert_same(d);
	if (fast)
		*fast = caplen && h->head[0] == '\0' && d.slow->c->half[dir].head[0] != '\0';
	return rc;
}

static int duo_feed(struct duo d, enum http_dir dir, const char *s, uint64_t ts, bool *fast)
{
	return duo_feedt(d, dir, s, strlen(s), strlen(s), ts, fast);
}

static void duo_close(struct duo d, uint64_t ts)
{
	assert_int_equal(run_close(d.fast, ts), run_close(d.slow, ts));
	assert_same(d);
}

/* A server connection with one exchange behind it: both directions in step. */
static struct duo duo_warm(void)
{
	struct duo d = duo_new(HTTP_ROLE_SERVER);

	duo_feed(d, HTTP_DIR_INGRESS, REQ2, 1, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, RESP2, 2, NULL), 1);
	return d;
}

static const char NGINX_RESP[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
				 "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
				 "Content-Type: text/plain\r\nContent-Length: 3\r\n"
				 "Connection: keep-alive\r\n\r\nok\n";

static void test_fast_pipelined(void **state)
{
	struct duo d = duo_warm();
	const struct http_exchange *x = d.fast->x + 1;
	char reqs[2048], resps[4096];
	size_t lq = 0, lr = 0;
	bool fast;
	int i;

	(void)state;
	/* wrk: 8 requests in one record, with trace headers, then the 8 responses in one. */
	for (i = 0; i < 8; i++)
		lq += sprintf(
		    reqs + lq,
		    "GET /api/products/%d HTTP/1.1\r\nHost: shop\r\nUser-Agent: wrk\r\n"
		    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b%d-01\r\n"
		    "X-B3-Sampled: 1\r\n\r\n",
		    i, i);
	for (i = 0; i < 8; i++)
		lr += sprintf(resps + lr, "%s", NGINX_RESP);
	assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, reqs, lq, lq, 3, &fast), 0);
	assert_true(fast);
	assert_int_equal(d.fast->c->npending, 8);
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, resps, lr, lr, 4, &fast), 8);
	assert_true(fast);
	for (i = 0; i < 8; i++) {
		char target[32], tp[64];

		snprintf(target, sizeof(target), "/api/products/%d", i);
		snprintf(tp, sizeof(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b%d-01",
			 i);
		assert_exchange(&x[i], "GET", target, 200);
		assert_string_equal(x[i].host, "shop");
		assert_string_equal(x[i].trace.traceparent, tp);
		assert_string_equal(x[i].trace.x_b3_sampled, "1");
		assert_ts(&x[i], 3, 3, 4, 4);
		assert_int_equal(x[i].resp_bytes, strlen(NGINX_RESP));
	}
	/* A POST with its body and the next request in the same record, bare LF line ends. */
	assert_int_equal(
	    duo_feed(d, HTTP_DIR_INGRESS,
		     "POST /p HTTP/1.0\nContent-Length: 4\nHost: lf\n\nbodyHEAD /h HTTP/1.1\r\n\n",
		     5, &fast),
	    0);
	assert_true(fast);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.0 201 Created\nContent-Length: 0\n\n"
				  "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
				  6, &fast),
			 2);
	assert_true(fast);
	x = d.fast->x + 9;
	assert_exchange(&x[0], "POST", "/p", 201);
	assert_int_equal(x[0].version_minor, 0);
	assert_int_equal(x[0].req_bytes, 49);
	assert_exchange(&x[1], "HEAD", "/h", 200);
	duo_close(d, 7);
	duo_free(d);
}

static void test_fast_split_head(void **state)
{
	struct duo d = duo_warm();
	size_t cut;
	bool fast;

	(void)state;
	/* A head cut anywhere: the state machine reads it, the same as ever. */
	for (cut = 1; cut < strlen(REQ_GET); cut++) {
		d.fast->n = d.slow->n = 1; /* room for this round's exchange */
		assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, REQ_GET, cut, cut, 10, &fast), 0);
		assert_false(fast);
		assert_int_equal(duo_feed(d, HTTP_DIR_INGRESS, REQ_GET + cut, 11, NULL), 0);
		assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, NGINX_RESP, 20, 20, 12, &fast), 0);
		assert_false(fast);
		assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, NGINX_RESP + 20, 13, NULL), 1);
		assert_exchange(&d.fast->x[d.fast->n - 1], "GET", "/api/products/1?x=1", 200);
		assert_ts(&d.fast->x[d.fast->n - 1], 10, 11, 12, 13);
	}
	/* The next whole head after one read by the state machine: fast again. */
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 14, &fast);
	assert_true(fast);
	assert_false((d.fast->c)->err_pending);
	duo_free(d);
}

static void test_fast_chunked(void **state)
{
	struct duo d = duo_warm();
	bool fast;
	size_t n;

	(void)state;
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 3, &fast);
	assert_true(fast);
	/* A chunked body right after a head read by the fast path, a trailer, then the next head.
	 */
	n = strlen(RESP_CHUNKED);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, RESP_CHUNKED, 4, &fast), 1);
	assert_true(fast);
	assert_int_equal(d.fast->x[1].resp_bytes, n);
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 5, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
				  "3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
				  6, &fast),
			 1);
	assert_true(fast);
	/* Chunks that go on in the next record, and past the capture. */
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 7, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123",
				  8, &fast),
			 0);
	assert_true(fast);
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, "456789", 6, 12, 9, NULL), 0);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, "\r\n0\r\n\r\n", 10, NULL), 1);
	assert_ts(&d.fast->x[3], 7, 7, 8, 10);
	/* A bad chunk size after a fast head: counted alike, the response ends with the next. */
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 11, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 12,
				  NULL),
			 0);
	assert_int_equal(d.fast->c->errors[HTTP_ERR_CHUNKED], 1);
	duo_free(d);
}

static void test_fast_truncated(void **state)
{
	struct duo d = duo_warm();
	size_t n = strlen(NGINX_RESP), q = strlen(REQ_GET);
	bool fast;

	(void)state;
	/* The whole head captured, the body not: the fast path, and the body skipped by length. */
	duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 3, NULL);
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, NGINX_RESP, n - 2, n, 4, &fast), 1);
	assert_true(fast);
	assert_int_equal(d.fast->x[1].resp_bytes, n);
	/* A request head cut by the capture: the state machine's truncated head. */
	assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, REQ_GET, 30, q, 5, &fast), 0);
	assert_false(fast);
	/* A response head cut likewise: it lasts until the next request, which ends it. */
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, NGINX_RESP, 40, n, 6, &fast), 0);
	assert_false(fast);
	/*
	 * The cut request left its direction out of step: the next request is a
	 * resync candidate, the state machine's; it ends that response.
	 */
	assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, REQ_GET, q, q, 7, &fast), 1);
	assert_false(fast);
	assert_true(d.fast->x[2].head_truncated);
	assert_int_equal(d.fast->x[2].status, 200);
	assert_ts(&d.fast->x[2], 5, 5, 6, 6);
	/* That response's end resynced its direction too: a candidate again. */
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, NGINX_RESP, n, n, 8, &fast), 1);
	assert_false(fast);
	/* Both in step again. Unseen bytes past a whole head with no body: framing lost. */
	assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, REQ_GET, q, q + 10, 9, &fast), 0);
	assert_true(fast);
	assert_int_equal(duo_feed(d, HTTP_DIR_INGRESS, REQ2, 10, NULL), 0);
	assert_int_equal(duo_feedt(d, HTTP_DIR_EGRESS, NGINX_RESP, n, n + 97, 11, &fast), 1);
	assert_true(fast);
	/* It ends the response begun past the capture (to the unseen request), then answers REQ2.
	 */
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, RESP2, 12, NULL), 2);
	/* A request head begun, never finished: truncated alike. */
	assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, REQ_GET, 20, 20, 13, NULL), 0);
	assert_true(http_conn_truncated(d.fast->c));
	duo_close(d, 14);
	duo_free(d);
}

/* Heads of given lengths (a padded header), in step, one record each; want -1: too large. */
static void fast_head_size(size_t len, int want)
{
	struct duo d = duo_warm();
	char *big = malloc(len + 1);
	bool fast;

	assert_non_null(big);
	memset(big, 'a', len);
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	memcpy(big + len - 4, "\r\n\r\n", 5);
	assert_int_equal(duo_feed(d, HTTP_DIR_INGRESS, big, 3, &fast), 0);
	assert_int_equal(d.fast->c->err_pending, want < 0);
	assert_int_equal(fast, want == 0);
	free(big);
	duo_free(d);
}

static void test_fast_boundaries(void **state)
{
	struct duo d;
	char buf[1024];
	bool fast;
	int i;

	(void)state;
	fast_head_size(HTTP_HEAD_MAX - 1, 0);
	fast_head_size(HTTP_HEAD_MAX, 0);
	fast_head_size(HTTP_HEAD_MAX + 1, -1);
	/* Targets around HTTP_TARGET_MAX. */
	d = duo_warm();
	for (i = HTTP_TARGET_MAX - 2; i <= HTTP_TARGET_MAX + 1; i++) {
		int n = snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\n\r\n", i - 1, 0);

		assert_int_equal(duo_feedt(d, HTTP_DIR_INGRESS, buf, n, n, 3, &fast), 0);
		assert_true(fast);
		assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, RESP2, 4, NULL), 1);
		assert_int_equal(d.fast->x[d.fast->n - 1].target_truncated, i >= HTTP_TARGET_MAX);
		assert_int_equal(strlen(d.fast->x[d.fast->n - 1].target),
				 i < HTTP_TARGET_MAX ? i : HTTP_TARGET_MAX - 1);
	}
	/* Methods: 23 upper-case letters is the longest; other tchars are the state machine's. */
	duo_feed(d, HTTP_DIR_INGRESS, "ABCDEFGHIJKLMNOPQRSTUVW / HTTP/1.1\r\n\r\n", 5, &fast);
	assert_true(fast);
	duo_feed(d, HTTP_DIR_EGRESS, RESP2, 6, NULL);
	duo_feed(d, HTTP_DIR_INGRESS, "M-SEARCH * HTTP/1.1\r\n\r\n", 7, &fast);
	assert_false(fast);
	assert_int_equal(
	    duo_feed(d, HTTP_DIR_EGRESS, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 8, &fast), 1);
	assert_true(fast);
	assert_exchange(&d.fast->x[d.fast->n - 1], "M-SEARCH", "*", 200);
	assert_int_equal(
	    duo_feed(d, HTTP_DIR_INGRESS, "ABCDEFGHIJKLMNOPQRSTUVWX / HTTP/1.1\r\n\r\n", 9, NULL),
	    0);
	assert_int_equal(d.fast->c->errors[HTTP_ERR_REQUEST_LINE], 1);
	duo_free(d);
}

static void test_fast_fallbacks(void **state)
{
	static const char *const bad_reqs[] = {
	    "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
	    "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\r\n\r\n",
	    "GET / HTTP/2.0\r\n\r\n",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET /\x7f HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\r\n\r\n",
	};
	static const char *const bad_resps[] = {
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 200 O\x7fK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\rContent-Length: 0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
	};
	struct duo d;
	size_t i;
	bool fast;

	(void)state;
	for (i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
		d = duo_warm();
		assert_int_equal(duo_feed(d, HTTP_DIR_INGRESS, bad_reqs[i], 3, NULL), 0);
		assert_true(d.fast->c->err_pending);
		duo_free(d);
	}
	for (i = 0; i < sizeof(bad_resps) / sizeof(bad_resps[0]); i++) {
		d = duo_warm();
		duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 3, NULL);
		assert_true(duo_feed(d, HTTP_DIR_EGRESS, bad_resps[i], 4, NULL) >= 0);
		assert_true(d.fast->c->err_pending);
		duo_free(d);
	}
	d = duo_warm();
	/* Folded lines, empty lines before a request, a lower-case method, tabs. */
	duo_feed(d, HTTP_DIR_INGRESS,
		 "\r\n\nGET /f HTTP/1.1\r\nX-Fold: a\r\n\tb\r\nHost:\t h \t\r\n\r\n", 3, &fast);
	assert_true(fast);
	duo_feed(d, HTTP_DIR_INGRESS, "get /l HTTP/1.1\r\n\r\n", 4, &fast);
	assert_false(fast);
	/* 100 Continue, then the final response; a 304 with a length but no body. */
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
				  "Content-Length: 10\r\n\r\nHTTP/1.1 200\n\n",
				  5, &fast),
			 1);
	assert_true(fast);
	assert_string_equal(d.fast->x[1].host, "h");
	/* Until close: the next bytes are body, not a head. */
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\n\r\n", 6, NULL), 0);
	duo_close(d, 7);
	assert_int_equal(d.fast->n, 3);
	duo_free(d);
	/* 101 and CONNECT end the parsing alike. */
	d = duo_warm();
	duo_feed(d, HTTP_DIR_INGRESS, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", 3, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, "HTTP/1.1 101 Switching\r\n\r\nxx", 4, NULL),
			 1);
	assert_int_equal(duo_feed(d, HTTP_DIR_INGRESS, REQ_GET, 5, NULL), 0);
	duo_free(d);
	d = duo_warm();
	duo_feed(d, HTTP_DIR_INGRESS, "CONNECT h:443 HTTP/1.1\r\n\r\n", 3, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\n\r\n", 4, NULL), 1);
	duo_free(d);
}

static void test_header_name_case(void **state)
{
	struct duo d = duo_warm();
	const struct http_exchange *x;
	static const char req[] = "GET /n HTTP/1.1\r\n"
				  "Content\rLength: 5\r\n"
				  "B\x13: no\r\n"
				  "X\rB3-Sampled: 1\r\n"
				  "x\rb3-traceid: no\r\n"
				  "\r\n";

	(void)state;
	/* Names in any case. */
	duo_feed(
	    d, HTTP_DIR_INGRESS,
	    "POST /c HTTP/1.1\r\nHOST: a\r\nTRACEPARENT: tp\r\nb3: b\r\nX-B3-TRACEID: t\r\n"
	    "x-b3-SpanId: s\r\nX-B3-PARENTSPANID: p\r\nX-b3-Sampled: 1\r\nCONTENT-length: 2\r\n"
	    "\r\nok",
	    3, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: CHUNKED\r\n\r\n0\r\n\r\n",
				  4, NULL),
			 1);
	x = &d.fast->x[1];
	assert_string_equal(x->host, "a");
	assert_string_equal(x->trace.traceparent, "tp");
	assert_string_equal(x->trace.b3, "b");
	assert_string_equal(x->trace.x_b3_traceid, "t");
	assert_string_equal(x->trace.x_b3_spanid, "s");
	assert_string_equal(x->trace.x_b3_parentspanid, "p");
	assert_string_equal(x->trace.x_b3_sampled, "1");
	assert_int_equal(x->req_bytes, 146);
	/*
	 * Bytes that differ from a name's non-letters by the case bit alone (CR
	 * for '-', 0x13 for '3') are other names: no length, no trace fields.
	 */
	duo_feed(d, HTTP_DIR_INGRESS, req, 5, NULL);
	assert_int_equal(duo_feed(d, HTTP_DIR_EGRESS,
				  "HTTP/1.1 200 OK\r\nTransfer\rEncoding: chunked\r\n"
				  "Content-Length: 2\r\n\r\nok",
				  6, NULL),
			 1);
	x = &d.fast->x[2];
	assert_int_equal(x->req_bytes, strlen(req));
	assert_int_equal(x->resp_bytes, 68);
	assert_string_equal(x->trace.b3, "");
	assert_string_equal(x->trace.x_b3_sampled, "");
	assert_string_equal(x->trace.x_b3_traceid, "");
	duo_free(d);
}

/* Keep bodies of POST /api/payments (request and response) and of POST /api/orders (request). */
static unsigned keep_payments(void *ctx, const char *method, const char *target)
{
	(*(int *)ctx)++;
	if (strcmp(method, "POST"))
		return 0;
	if (!strcmp(target, "/api/payments"))
		return HTTP_KEEP_REQ | HTTP_KEEP_RESP;
	return !strcmp(target, "/api/orders") ? HTTP_KEEP_REQ : 0;
}

#define assert_body(b, len, want)                        \
	do {                                             \
		assert_non_null(b);                      \
		assert_int_equal((len), strlen(want));   \
		assert_memory_equal((b), (want), (len)); \
	} while (0)

static void test_keep_bodies(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	int calls = 0;
	static const char PAY[] = "POST /api/payments HTTP/1.1\r\nHost: h\r\nContent-Length: 15\r\n\r\n"
				  "{\"amount\":12.5}";
	static const char PAID[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "4\r\n{\"id\r\n7\r\n\":7,\"ok\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n";
	char big[HTTP_BODY_MAX + 200], req[HTTP_BODY_MAX + 400];

	(void)state;
	http_conn_set_keep(r->c, keep_payments, &calls);
	/* Head and body in one read, a chunked response in one write. */
	feed(r, HTTP_DIR_INGRESS, PAY, 1);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, PAID, 2), 1);
	assert_int_equal(calls, 1);
	assert_body(r->x[0].req_body, r->x[0].req_body_len, "{\"amount\":12.5}");
	assert_false(r->x[0].req_body_cut);
	assert_body(r->x[0].resp_body, r->x[0].resp_body_len, "{\"id\":7,\"ok\":1}");
	assert_false(r->x[0].resp_body_cut);
	/* The body in reads of its own, split anywhere. */
	feed(r, HTTP_DIR_INGRESS, "POST /api/orders HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"qua", 3);
	feed(r, HTTP_DIR_INGRESS, "nt\":", 4);
	feed(r, HTTP_DIR_INGRESS, "1}", 5);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 6), 1);
	assert_body(r->x[1].req_body, r->x[1].req_body_len, "{\"quant\":1}");
	assert_null(r->x[1].resp_body); /* not asked */
	/* A route not named: nothing kept. */
	feed(r, HTTP_DIR_INGRESS, "POST /api/other HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 7);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 204 No Content\r\n\r\n", 8), 1);
	assert_null(r->x[2].req_body);
	assert_int_equal(r->x[2].keep, 0);
	/* Bytes not captured, a body past HTTP_BODY_MAX: cut. */
	feedt(r, HTTP_DIR_INGRESS, PAY, strlen(PAY) - 5, strlen(PAY), 9);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, PAID, 10), 1);
	assert_true(r->x[3].req_body_cut);
	assert_body(r->x[3].req_body, r->x[3].req_body_len, "{\"amount\":");
	memset(big, 'x', sizeof(big));
	snprintf(req, sizeof(req), "POST /api/orders HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%.*s",
		 sizeof(big), (int)sizeof(big), big);
	feed(r, HTTP_DIR_INGRESS, req, 11);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 12), 1);
	assert_true(r->x[4].req_body_cut);
	assert_int_equal(r->x[4].req_body_len, HTTP_BODY_MAX);
	/* A response before the request's body ended (413): the body is cut. */
	feed(r, HTTP_DIR_INGRESS, "POST /api/orders HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"", 13);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n", 14), 1);
	assert_true(r->x[5].req_body_cut);
	run_free(r);
}

/* Pipelined: each exchange gets its own request body; a second response body in one feed is not kept. */
static void test_keep_bodies_pipelined(void **state)
{
	struct run *r = run_new(HTTP_ROLE_SERVER);
	int calls = 0;

	(void)state;
	http_conn_set_keep(r->c, keep_payments, &calls);
	feed(r, HTTP_DIR_INGRESS,
	     "POST /api/payments HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
	     "POST /api/payments HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]", 1);
	assert_int_equal(calls, 2);
	assert_int_equal(feed(r, HTTP_DIR_EGRESS,
			      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
			      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB", 2), 2);
	assert_null(r->x[0].req_body); /* the second request's body took its place */
	assert_body(r->x[1].req_body, r->x[1].req_body_len, "[1]");
	assert_body(r->x[0].resp_body, r->x[0].resp_body_len, "A");
	assert_null(r->x[1].resp_body);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_get_server),
	    cmocka_unit_test(test_client_role),
	    cmocka_unit_test(test_role_from_content),
	    cmocka_unit_test(test_split_every_offset),
	    cmocka_unit_test(test_split_byte_by_byte),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_chunked_every_offset),
	    cmocka_unit_test(test_chunked_request),
	    cmocka_unit_test(test_head_request),
	    cmocka_unit_test(test_no_body_statuses),
	    cmocka_unit_test(test_100_continue),
	    cmocka_unit_test(test_101_upgrade),
	    cmocka_unit_test(test_connect_tunnel),
	    cmocka_unit_test(test_until_close),
	    cmocka_unit_test(test_close_drops_unanswered),
	    cmocka_unit_test(test_unseen_body),
	    cmocka_unit_test(test_unseen_chunked),
	    cmocka_unit_test(test_unseen_request_head),
	    cmocka_unit_test(test_unseen_response_head),
	    cmocka_unit_test(test_mid_stream_start),
	    cmocka_unit_test(test_response_before_request),
	    cmocka_unit_test(test_truncated_request_head),
	    cmocka_unit_test(test_looks_like_request_line),
	    cmocka_unit_test(test_garbage_request),
	    cmocka_unit_test(test_malformed_requests),
	    cmocka_unit_test(test_unusual_requests),
	    cmocka_unit_test(test_malformed_first_request),
	    cmocka_unit_test(test_from_start),
	    cmocka_unit_test(test_tunnel_bytes),
	    cmocka_unit_test(test_keep_bodies),
	    cmocka_unit_test(test_keep_bodies_pipelined),
	    cmocka_unit_test(test_oversized_head),
	    cmocka_unit_test(test_bad_chunk_size),
	    cmocka_unit_test(test_trace_headers),
	    cmocka_unit_test(test_long_target),
	    cmocka_unit_test(test_pipeline_overflow),
	    cmocka_unit_test(test_max_out),
	    cmocka_unit_test(test_bare_lf_and_blank_lines),
	    cmocka_unit_test(test_outcome),
	    cmocka_unit_test(test_method_label),
	    cmocka_unit_test(test_sniffing),
	    cmocka_unit_test(test_fast_pipelined),
	    cmocka_unit_test(test_fast_split_head),
	    cmocka_unit_test(test_fast_chunked),
	    cmocka_unit_test(test_fast_truncated),
	    cmocka_unit_test(test_fast_boundaries),
	    cmocka_unit_test(test_fast_fallbacks),
	    cmocka_unit_test(test_header_name_case),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
