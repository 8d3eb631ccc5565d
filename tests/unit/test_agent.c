// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The agent pipeline fed with synthetic ring-buffer records, checked through /metrics text. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent.h"
#include "config.h"
#include "export/metrics.h"
#include "proto/route.h"

#define MS 1000000ULL

struct fixture {
	struct config cfg;
	struct metrics *m;
	struct agent *a;
	int svc;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->m = metrics__new();
	config_init(&f->cfg);
	f->cfg.max_routes = 3;
	f->a = agent__new(f->m, &f->cfg);
	f->svc = agent__add_service(f->a, "shop");
	assert_int_equal(f->svc, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	agent__free(f->a);
	metrics__free(f->m);
	config_free(&f->cfg);
	free(f);
	return 0;
}

/* The service index the next records carry (0 unless a test says otherwise). */
static uint32_t rec_service;

/* Send one record: type, dir, fd, conn_id, ts, payload (len = strlen unless total given). */
static void rec(struct agent *a, uint8_t type, uint8_t dir, uint32_t fd, uint64_t conn_id,
		uint64_t ts, const char *payload, uint32_t total, uint8_t role)
{
	uint8_t buf[sizeof(struct sonde_event) + sizeof(struct sonde_conn_tuple) +
		    SONDE_CAPTURE_MAX];
	struct sonde_event *e = (struct sonde_event *)buf;
	struct sonde_conn_tuple *t = (struct sonde_conn_tuple *)(e + 1);
	size_t n = payload ? strlen(payload) : 0;

	memset(buf, 0, sizeof(buf));
	e->type = type;
	e->dir = dir;
	e->tgid = 100;
	e->tid = 100;
	e->fd = fd;
	e->service = rec_service;
	e->conn_id = conn_id;
	e->ts_ns = ts;
	e->caplen = (uint32_t)n;
	e->len = total ? total : (uint32_t)n;
	/* The kernel sends the tuple with a connection's first record: here, with every one. */
	e->flags = SONDE_F_TUPLE;
	t->family = SONDE_AF_INET;
	t->role = role;
	inet_pton(AF_INET, "127.0.0.1", t->laddr);
	inet_pton(AF_INET, "10.1.2.3", t->raddr);
	t->lport = 80;
	t->rport = 8080;
	memcpy(t + 1, payload ? payload : "", n);
	agent__handle(a, buf, sizeof(*e) + sizeof(*t) + n);
}

static char *render(struct fixture *f)
{
	size_t len;

	return metrics__render(f->m, &len);
}

static void expect_line(struct fixture *f, const char *line)
{
	char *text = render(f);
	char *needle;

	assert_non_null(text);
	assert_true(asprintf(&needle, "\n%s\n", line) > 0);
	if (!strstr(text, needle))
		fail_msg("missing line: %s\n--- metrics ---\n%s", line, text);
	free(needle);
	free(text);
}

static void absent(struct fixture *f, const char *fragment)
{
	char *text = render(f);

	if (strstr(text, fragment))
		fail_msg("unexpected: %s\n--- metrics ---\n%s", fragment, text);
	free(text);
}

#define SRV "http_server_requests_seconds"
#define LBL "service=\"shop\",method=\"GET\",uri=\"/api/products/{id}\",status=\"200\",outcome=\"SUCCESS\""

static void test_server_exchange(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1000 * MS,
	    "GET /api/products/12?x=1 HTTP/1.1\r\nHost: shop\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, 1030 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{" LBL "} 1");
	expect_line(f, SRV "_bucket{" LBL ",le=\"0.025\"} 0");
	expect_line(f, SRV "_bucket{" LBL ",le=\"0.05\"} 1");
	assert_int_equal(agent__events(f->a), 2);
}

static void test_keepalive_and_pipelining(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 10; i++) {
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, (10 * i + 1) * MS,
		    "GET /api/products/1 HTTP/1.1\r\n\r\nGET /api/products/2 HTTP/1.1\r\n\r\n", 0,
		    SONDE_ROLE_SERVER);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, (10 * i + 2) * MS,
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		    0, SONDE_ROLE_SERVER);
	}
	expect_line(f, SRV "_count{" LBL "} 20");
}

static void test_client_exchange_peer(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 9, 7, 1 * MS,
	    "POST /orders HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0, SONDE_ROLE_CLIENT);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 9, 7, 3 * MS,
	    "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_CLIENT);
	expect_line(f, "http_client_requests_seconds_count{service=\"shop\",method=\"POST\","
		       "uri=\"/orders\",status=\"503\",outcome=\"SERVER_ERROR\","
		       "peer=\"10.1.2.3:8080\"} 1");
}

static void test_close_flushes_until_close_response(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS,
	    "GET /api/products/5 HTTP/1.0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, 2 * MS, "HTTP/1.0 200 OK\r\n\r\nbody", 0,
	    SONDE_ROLE_SERVER);
	absent(f, SRV "_count{" LBL);
	rec(f->a, SONDE_EV_CLOSE, 0, 5, 1, 9 * MS, NULL, 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{" LBL "} 1");
	expect_line(f, "sonde_connections 0");
}

static void test_fd_reuse_resets(void **state)
{
	struct fixture *f = *state;

	/* A request on conn 1, then fd 5 is a new connection (id 2): the old request is dropped. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 2, 2 * MS, "GET /b HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 2, 3 * MS,
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/b\",status=\"404\","
		       "outcome=\"CLIENT_ERROR\"} 1");
	absent(f, "uri=\"/a\"");
}

static void test_garbage_counted(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, 2 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 3 * MS, "\x01\x02garbage\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"request_line\"} 1");
	/* A request at the start of a later record is in step again; others still count. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 4 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 6, 3, 4 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 6, 3, 5 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/a\",status=\"200\","
		       "outcome=\"SUCCESS\"} 2");
}

static void test_truncated_request_counted(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "GET /api/products/1 HTT", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_CLOSE, 0, 5, 1, 2 * MS, NULL, 0, SONDE_ROLE_SERVER);
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"truncated\"} 1");
	/* A complete exchange then close is no error. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 6, 2, 1 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 6, 2, 2 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_CLOSE, 0, 6, 2, 3 * MS, NULL, 0, SONDE_ROLE_SERVER);
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"truncated\"} 1");
}

static void test_garbage_answered_by_http(void **state)
{
	struct fixture *f = *state;

	/*
	 * Random bytes to a server that answers 400: no sniffer knew them, the
	 * answer makes them a malformed HTTP request, counted once, and the 400
	 * is counted as the server's answer to it.
	 */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "\x8f\x13zq\x01\x02", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "more", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, 3 * MS,
	    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_CLOSE, 0, 5, 1, 4 * MS, NULL, 0, SONDE_ROLE_SERVER);
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"request_line\"} 1");
	expect_line(f, SRV "_count{service=\"shop\",method=\"OTHER\",uri=\"UNKNOWN\",status=\"400\","
		       "outcome=\"CLIENT_ERROR\"} 1");
	expect_line(f, SRV "_bucket{service=\"shop\",method=\"OTHER\",uri=\"UNKNOWN\",status=\"400\","
		       "outcome=\"CLIENT_ERROR\",le=\"0.001\"} 0");
	expect_line(f, SRV "_bucket{service=\"shop\",method=\"OTHER\",uri=\"UNKNOWN\",status=\"400\","
		       "outcome=\"CLIENT_ERROR\",le=\"0.0025\"} 1");
}

/*
 * What a server answers is counted whatever its request looked like: a valid
 * request and a bad one in one record (200 then 400), an unknown version
 * answered 505, an empty line before a request, a registered method.
 */
static void test_answers_counted(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS,
	    "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, 2 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	    0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_CLOSE, 0, 5, 1, 3 * MS, NULL, 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/a\",status=\"200\","
		       "outcome=\"SUCCESS\"} 1");
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/b\",status=\"400\","
		       "outcome=\"CLIENT_ERROR\"} 1");
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"content_length\"} 1");

	/* "GET / HTTP/5.6" also reads as a Redis inline GET: the status line decides. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 6, 2, 1 * MS, "GET /c HTTP/5.6\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 6, 2, 2 * MS,
	    "HTTP/1.1 505 Version Not Supported\r\nContent-Length: 0\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/c\",status=\"505\","
		       "outcome=\"SERVER_ERROR\"} 1");
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"version\"} 1");

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 7, 3, 1 * MS, "\r\nPROPFIND /a HTTP/1.1\r\n\r\n",
	    0, SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 7, 3, 2 * MS,
	    "HTTP/1.1 405 Not Allowed\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	expect_line(f, SRV "_count{service=\"shop\",method=\"PROPFIND\",uri=\"/a\",status=\"405\","
		       "outcome=\"CLIENT_ERROR\"} 1");

	/* The client side: a response read is a call made. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 8, 4, 1 * MS, "GET /c ICE/1.0\r\n\r\n", 0,
	    SONDE_ROLE_CLIENT);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 8, 4, 2 * MS,
	    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_CLIENT);
	expect_line(f, "http_client_requests_seconds_count{service=\"shop\",method=\"GET\",uri=\"/c\","
		       "status=\"400\",outcome=\"CLIENT_ERROR\",peer=\"10.1.2.3:8080\"} 1");
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"version\"} 2");
}

static void test_not_http_ignored(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 20; i++)
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 7, 4, 1 * MS, "\x16\x03\x01 tls", 0,
		    SONDE_ROLE_SERVER);
	expect_line(f, "sonde_parse_errors_total{protocol=\"http\",reason=\"request_line\"} 0");
	absent(f, "status=");
	/*
	 * A TLS handshake on another connection: the request is held back, the
	 * answer is no status line, so the connection is given up at once; a
	 * status-line-looking record after that does not revive it.
	 */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 8, 5, 1 * MS, "\x16\x03\x01 hello", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 8, 5, 2 * MS, "\x16\x03\x03 server hello", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 8, 5, 3 * MS,
	    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	absent(f, "status=");
}

static void test_malformed_records(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[sizeof(struct sonde_event) + 8] = { 0 };
	struct sonde_event *e = (struct sonde_event *)buf;

	agent__handle(f->a, buf, 10); /* short */
	e->type = SONDE_EV_DATA;
	e->caplen = 100; /* more than the record holds */
	e->len = 100;
	agent__handle(f->a, buf, sizeof(buf));
	e->caplen = 8;
	e->len = 4; /* captured more than moved */
	agent__handle(f->a, buf, sizeof(buf));
	e->type = 99;
	e->caplen = 0;
	agent__handle(f->a, buf, sizeof(buf));
	expect_line(f, "sonde_events_malformed_total 4");
}

static void test_route_limit(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "/a", "/b", "/c", "/d", "/e", "/a" };
	char req[64];

	for (int i = 0; i < 6; i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", paths[i]);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, (2 * i + 1) * MS, req, 0,
		    SONDE_ROLE_SERVER);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, (2 * i + 2) * MS,
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	}
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/a\",status=\"200\","
		       "outcome=\"SUCCESS\"} 2");
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/**\",status=\"200\","
		       "outcome=\"SUCCESS\"} 2");
}

/*
 * The uri label is remembered per request-target: repeats (and a target too
 * long to remember) get the same label as the first time, overflowed targets
 * stay overflowed, and two targets of one route share its label.
 */
static void test_route_cache(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = {
		"/a/1", "/a/2?q=1", "/a/1", "/b", "/c", "/d", "/d", "/a/2?q=1", "/b",
		"/long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"/long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char req[160];

	for (int i = 0; i < (int)(sizeof(paths) / sizeof(paths[0])); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", paths[i]);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, (2 * i + 1) * MS, req, 0,
		    SONDE_ROLE_SERVER);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, (2 * i + 2) * MS,
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	}
	/* Many targets of two routes: some share a cache slot, none may take the other's label. */
	for (int i = 0; i < 2000; i++) {
		snprintf(req, sizeof(req), "GET /%c/%d HTTP/1.1\r\n\r\n", i & 1 ? 'a' : 'b', i / 2);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, (100 + 2 * i) * MS, req, 0,
		    SONDE_ROLE_SERVER);
		rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 5, 1, (101 + 2 * i) * MS,
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	}
	/* max_routes = 3: /a/{id}, /b, /c; then /d, /long/... and /b/{id} overflow. */
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/a/{id}\",status=\"200\","
		       "outcome=\"SUCCESS\"} 1004");
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/b\",status=\"200\","
		       "outcome=\"SUCCESS\"} 2");
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/c\",status=\"200\","
		       "outcome=\"SUCCESS\"} 1");
	expect_line(f, SRV "_count{service=\"shop\",method=\"GET\",uri=\"/**\",status=\"200\","
		       "outcome=\"SUCCESS\"} 1004");
	/* The same target in another service: that service's own label set. */
	assert_int_equal(agent__add_service(f->a, "cart"), 1);
	rec_service = 1;
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 6, 2, 9000 * MS, "GET /d HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 6, 2, 9001 * MS,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, SONDE_ROLE_SERVER);
	rec_service = 0;
	expect_line(f, SRV "_count{service=\"cart\",method=\"GET\",uri=\"/d\",status=\"200\","
		       "outcome=\"SUCCESS\"} 1");
}

/* Redis from a client (role CLIENT): commands on egress, replies on ingress. */
static void redis_cmd(struct fixture *f, uint64_t conn, uint64_t t, const char *cmd,
		      const char *reply)
{
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 20, conn, t * MS, cmd, 0, SONDE_ROLE_CLIENT);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 20, conn, (t + 1) * MS, reply, 0,
	    SONDE_ROLE_CLIENT);
}

static void test_redis_cache_regions(void **state)
{
	struct fixture *f = *state;

	redis_cmd(f, 9, 1, "*2\r\n$3\r\nGET\r\n$10\r\nproducts:1\r\n", "$1\r\nx\r\n");
	redis_cmd(f, 9, 3, "*2\r\n$3\r\nGET\r\n$11\r\nproducts::2\r\n", "$-1\r\n");
	redis_cmd(f, 9, 5, "*4\r\n$4\r\nMGET\r\n$7\r\nusers:1\r\n$7\r\nusers:2\r\n$7\r\nusers:3\r\n",
		  "*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n");
	redis_cmd(f, 9, 7, "*2\r\n$3\r\nGET\r\n$7\r\nnocolon\r\n", "$-1\r\n");
	redis_cmd(f, 9, 9, "*3\r\n$3\r\nSET\r\n$10\r\nproducts:1\r\n$1\r\nx\r\n", "+OK\r\n");
	redis_cmd(f, 9, 11, "*3\r\n$5\r\nLPUSH\r\n$10\r\nproducts:1\r\n$1\r\nx\r\n",
		  "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"products\",result=\"hit\"} 1");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"products\",result=\"miss\"} 1");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"users\",result=\"hit\"} 2");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"users\",result=\"miss\"} 1");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"other\",result=\"miss\"} 1");
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"GET\","
		       "outcome=\"SUCCESS\"} 3");
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"LPUSH\","
		       "outcome=\"ERROR\"} 1");
	absent(f, "cache=\"products\",result=\"hit\"} 2"); /* SET is no cache read */
}

/* A pipeline: runs of one command observed at once, every count still exact. */
static void test_redis_pipeline_counts(void **state)
{
	struct fixture *f = *state;
	char cmd[2048] = "", rep[1024] = "", part[128];

	for (int i = 0; i < 16; i++) {
		/* GET products:i x10 (every third a miss), GET users:i x3, SET x3 */
		const char *region = i < 10 ? "products" : "users";
		char key[32];

		snprintf(key, sizeof(key), "%s:%d", region, i);
		if (i < 13) {
			snprintf(part, sizeof(part), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
			strcat(rep, i % 3 == 0 ? "$-1\r\n" : "$1\r\nv\r\n");
		} else {
			snprintf(part, sizeof(part), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\nv\r\n",
				 strlen(key), key);
			strcat(rep, "+OK\r\n");
		}
		strcat(cmd, part);
	}
	for (int round = 0; round < 2; round++)
		redis_cmd(f, 9, 1 + 4 * round, cmd, rep);
	/* i = 0,3,6,9 miss among products; 12 among users */
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"products\",result=\"hit\"} 12");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"products\",result=\"miss\"} 8");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"users\",result=\"hit\"} 4");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"users\",result=\"miss\"} 2");
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"GET\","
		       "outcome=\"SUCCESS\"} 26");
	/* 1 ms each ("le" is inclusive); _sum: 26 additions of 0.001, as 26 observations make. */
	expect_line(f, "redis_commands_seconds_bucket{service=\"shop\",command=\"GET\","
		       "outcome=\"SUCCESS\",le=\"0.001\"} 26");
	{
		double sum = 0;
		char line[160];

		for (int i = 0; i < 26; i++)
			sum += 0.001;
		/* The renderer's shortest form that reads back exactly. */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(line, sizeof(line),
				 "redis_commands_seconds_sum{service=\"shop\",command=\"GET\","
				 "outcome=\"SUCCESS\"} %.*g", prec, sum);
			if (strtod(strrchr(line, ' ') + 1, NULL) == sum)
				break;
		}
		expect_line(f, line);
	}
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"SET\","
		       "outcome=\"SUCCESS\"} 6");
}

static void test_redis_configured_caches(void **state)
{
	struct fixture *f = *state;
	const char *y = "caches:\n  carts: \"cart-*\"\n  search: \"q:*\"\n";
	char err[128];

	/* The agent reads the configuration it was given, as it is now. */
	assert_int_equal(config_load_yaml(&f->cfg, y, strlen(y), "t", err, sizeof(err)), 0);
	redis_cmd(f, 9, 1, "*2\r\n$3\r\nGET\r\n$6\r\ncart-7\r\n", "$1\r\nx\r\n");
	redis_cmd(f, 9, 3, "*2\r\n$3\r\nGET\r\n$5\r\nq:abc\r\n", "$-1\r\n");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"carts\",result=\"hit\"} 1");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"search\",result=\"miss\"} 1");
}

/* A record with binary payload (rec() takes C strings). */
static void rec_bin(struct agent *a, uint8_t dir, uint32_t fd, uint64_t conn_id, uint64_t ts,
		    const void *payload, uint32_t n)
{
	uint8_t buf[sizeof(struct sonde_event) + 64] = { 0 };
	struct sonde_event *e = (struct sonde_event *)buf;

	e->type = SONDE_EV_DATA;
	e->dir = dir;
	e->tgid = 100;
	e->fd = fd;
	e->conn_id = conn_id;
	e->ts_ns = ts;
	e->caplen = e->len = n;
	memcpy(e + 1, payload, n);
	agent__handle(a, buf, sizeof(*e) + n);
}

static void test_postgres_tls_counted(void **state)
{
	struct fixture *f = *state;
	static const uint8_t ssl_request[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };

	/* A client asks for TLS and the server accepts ('S'): counted once, not parsed. */
	rec_bin(f->a, SONDE_DIR_EGRESS, 40, 8, 1 * MS, ssl_request, sizeof(ssl_request));
	rec_bin(f->a, SONDE_DIR_INGRESS, 40, 8, 2 * MS, "S", 1);
	rec_bin(f->a, SONDE_DIR_EGRESS, 40, 8, 3 * MS, "\x16\x03\x01\x02\x00\x01", 6);
	expect_line(f, "sonde_connections_encrypted_total{protocol=\"postgresql\"} 1");
	expect_line(f, "sonde_parse_errors_total{protocol=\"postgresql\",reason=\"malformed\"} 0");
}

static void test_drop_tgid(void **state)
{
	struct fixture *f = *state;

	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	assert_int_equal(agent__connections(f->a), 1);
	agent__drop_tgid(f->a, 100);
	assert_int_equal(agent__connections(f->a), 0);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 5, 1, 1 * MS, "GET /a HTTP/1.1\r\n\r\n", 0,
	    SONDE_ROLE_SERVER);
	agent__expire(f->a, 1000 * MS, 500 * MS);
	assert_int_equal(agent__connections(f->a), 0);
}

/*
 * A walked record: runs[i] captured, then skips[i] bytes the kernel did not
 * copy. total_fix, if nonzero, overrides the header's len (to make it lie).
 */
static void rec_walked(struct agent *a, uint8_t dir, uint32_t fd, uint64_t ts,
		       const char *const *runs, const uint32_t *skips, int n, uint32_t total_fix)
{
	static uint8_t buf[sizeof(struct sonde_event) + sizeof(struct sonde_segs) +
			   SONDE_CAPTURE_MAX];
	struct sonde_event *e = (struct sonde_event *)buf;
	struct sonde_segs *s = (struct sonde_segs *)(e + 1);
	uint8_t *p = (uint8_t *)(s + 1);
	uint32_t cap = 0, len = 0;

	memset(buf, 0, sizeof(buf));
	s->n = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		size_t k = strlen(runs[i]);

		memcpy(p + cap, runs[i], k);
		s->seg[i].cap = (uint32_t)k;
		s->seg[i].skip = skips[i];
		cap += (uint32_t)k;
		len += (uint32_t)k + skips[i];
	}
	e->type = SONDE_EV_DATA;
	e->dir = dir;
	e->tgid = e->tid = 100;
	e->fd = fd;
	e->conn_id = 1;
	e->ts_ns = ts;
	e->caplen = cap;
	e->len = total_fix ? total_fix : len;
	e->flags = SONDE_F_SEGS;
	agent__handle(a, buf, sizeof(*e) + sizeof(*s) + cap);
}

static int hook_calls, hook_walk;

static void hook(void *ctx, uint32_t tgid, uint32_t fd, uint64_t conn_id, uint16_t bytes,
		 uint8_t walk)
{
	(void)ctx, (void)tgid, (void)fd, (void)conn_id, (void)bytes;
	hook_calls++;
	if (walk)
		hook_walk = walk;
}

/*
 * A pipeline of SETs with values far past the capture, walked by the kernel:
 * each run is fed as a syscall of its own, and every command and reply is
 * counted. Runs that do not add up are dropped as malformed.
 */
static void test_walked_records(void **state)
{
	struct fixture *f = *state;
	static const char *const req[] = {
		"*3\r\n$3\r\nSET\r\n$6\r\ncart:1\r\n$5000\r\n",
		"*3\r\n$3\r\nSET\r\n$6\r\ncart:2\r\n$5000\r\n",
		"*2\r\n$3\r\nGET\r\n$6\r\ncart:1\r\n*2\r\n$3\r\nGET\r\n$6\r\ncart:9\r\n",
	};
	static const uint32_t req_skip[] = { 5002, 5002, 0 };
	static const char *const rep[] = { "+OK\r\n+OK\r\n$5000\r\n", "$-1\r\n" };
	static const uint32_t rep_skip[] = { 5002, 0 };

	hook_calls = hook_walk = 0;
	agent__set_capture_hook(f->a, hook, NULL);
	/* The connection's first record, small: it makes the protocol known. */
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_EGRESS, 7, 1, 1 * MS, "*1\r\n$4\r\nPING\r\n", 0,
	    SONDE_ROLE_CLIENT);
	rec(f->a, SONDE_EV_DATA, SONDE_DIR_INGRESS, 7, 1, 2 * MS, "+PONG\r\n", 0,
	    SONDE_ROLE_CLIENT);
	assert_int_equal(hook_walk, SONDE_WALK_RESP);
	assert_int_equal(hook_calls, 1);
	rec_walked(f->a, SONDE_DIR_EGRESS, 7, 3 * MS, req, req_skip, 3, 0);
	rec_walked(f->a, SONDE_DIR_INGRESS, 7, 4 * MS, rep, rep_skip, 2, 0);
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"SET\","
		       "outcome=\"SUCCESS\"} 2");
	expect_line(f, "redis_commands_seconds_count{service=\"shop\",command=\"GET\","
		       "outcome=\"SUCCESS\"} 2");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"cart\",result=\"hit\"} 1");
	expect_line(f, "cache_gets_total{service=\"shop\",cache=\"cart\",result=\"miss\"} 1");
	expect_line(f, "sonde_unparsed_total{protocol=\"redis\",reason=\"framing_lost\"} 0");
	expect_line(f, "sonde_events_malformed_total 0");
	/* Runs that do not add up to the record's length. */
	rec_walked(f->a, SONDE_DIR_EGRESS, 7, 5 * MS, req, req_skip, 3, 100);
	expect_line(f, "sonde_events_malformed_total 1");
	assert_int_equal(hook_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_and_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_exchange_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_flushes_until_close_response, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fd_reuse_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_http_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_request_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_answered_by_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_tgid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_cache_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_configured_caches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_pipeline_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgres_tls_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walked_records, setup, teardown),
	};

	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
