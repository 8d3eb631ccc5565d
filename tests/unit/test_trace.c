// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Trace correlation through the agent: synthetic ring records of several
 * threads and processes in, spans out (the span sink with a capturing output).
 */
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
#include "proto/http.h"
#include "sinks/span_sink.h"
#include "trace.h"

#define MS 1000000ULL
#define MAXSPANS 64

struct fixture {
	struct config cfg;
	struct metrics *m;
	struct agent *a;
	struct span_sink *ss;
	struct span spans[MAXSPANS];
	int n;
};

static void capture(void *ctx, const struct span *s, size_t n)
{
	struct fixture *f = ctx;

	for (size_t i = 0; i < n && f->n < MAXSPANS; i++)
		f->spans[f->n++] = s[i];
}

static int setup_rate(void **state, double rate)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->m = metrics__new();
	config_init(&f->cfg);
	f->a = agent__new(f->m, &f->cfg);
	assert_int_equal(agent__add_service(f->a, "svc"), 0);
	assert_int_equal(agent__enable_tracing(f->a, rate), 0);
	f->ss = span_sink__new(&f->cfg);
	span_sink__add_out(f->ss, capture, f);
	agent__add_sink(f->a, (struct sink){ span_sink__put, f->ss });
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_rate(state, 1.0);
}

static int setup_unsampled(void **state)
{
	return setup_rate(state, 0.0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	agent__free(f->a);
	span_sink__free(f->ss);
	metrics__free(f->m);
	config_free(&f->cfg);
	free(f);
	return 0;
}

/* One end of a TCP connection: process, thread, fd, ports, role. */
struct end {
	uint32_t tgid, tid, fd;
	uint64_t conn_id;
	uint16_t lport, rport;
	uint8_t role;
};

/* A data record of e (and, unless NULL, the ids the kernel gave its request: SONDE_F_IDS). */
static void rec_ids(struct fixture *f, const struct end *e, uint8_t dir, uint64_t ts, const char *p,
		    const struct sonde_ids *ids)
{
	uint8_t buf[sizeof(struct sonde_event) + sizeof(struct sonde_conn_tuple) + 2048 + 64];
	struct sonde_event *ev = (struct sonde_event *)buf;
	struct sonde_conn_tuple *t = (struct sonde_conn_tuple *)(ev + 1);
	size_t n = strlen(p), at = SONDE_RECORD_ALIGN(sizeof(*ev) + sizeof(*t) + n);

	memset(buf, 0, sizeof(buf));
	ev->type = SONDE_EV_DATA;
	ev->dir = dir;
	ev->tgid = e->tgid;
	ev->tid = e->tid;
	ev->fd = e->fd;
	ev->conn_id = e->conn_id;
	ev->ts_ns = ts;
	ev->caplen = ev->len = (uint32_t)n;
	ev->flags = SONDE_F_TUPLE | (ids ? SONDE_F_IDS : 0);
	t->family = SONDE_AF_INET;
	t->role = e->role;
	inet_pton(AF_INET, "127.0.0.1", t->laddr);
	inet_pton(AF_INET, "127.0.0.1", t->raddr);
	t->lport = e->lport;
	t->rport = e->rport;
	memcpy(t + 1, p, n);
	if (ids)
		memcpy(buf + at, ids, sizeof(*ids));
	agent__handle(f->a, buf, ids ? at + sizeof(*ids) : sizeof(*ev) + sizeof(*t) + n);
}

static void rec(struct fixture *f, const struct end *e, uint8_t dir, uint64_t ts, const char *p)
{
	rec_ids(f, e, dir, ts, p, NULL);
}

#define IN SONDE_DIR_INGRESS
#define OUT SONDE_DIR_EGRESS
#define RESP "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"
#define RGET(key) "*2\r\n$3\r\nGET\r\n$" #key "\r\n"

static const struct span *find(struct fixture *f, const char *name, int kind)
{
	const struct span *found = NULL;

	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->spans[i].name, name) && f->spans[i].kind == kind) {
			if (found)
				fail_msg("two spans named %s", name);
			found = &f->spans[i];
		}
	if (!found)
		fail_msg("no span named %s (of %d)", name, f->n);
	return found;
}

static const char *tag(const struct span *s, const char *key)
{
	for (int i = 0; i < s->ntags; i++)
		if (!strcmp(s->tags[i].key, key))
			return s->tags[i].value;
	return NULL;
}

static void redis_get(struct fixture *f, const struct end *r, uint64_t ts, const char *key)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
	rec(f, r, OUT, ts, cmd);
	rec(f, r, IN, ts + 1, "$-1\r\n");
}

static struct sonde_ids kids(uint8_t t, uint64_t span, uint64_t parent, uint8_t flags)
{
	struct sonde_ids ids = { .span_id = span, .parent_id = parent, .flags = flags };

	memset(ids.trace_id, t, sizeof(ids.trace_id));
	return ids;
}

/*
 * --inject-traceparent: the spans carry exactly the ids the kernel put in the
 * records, for the server request (from its traceparent) and for the client
 * call it wrote into; the Redis call between is the server's child as usual.
 */
static void test_kernel_ids(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end cli = { 100, 7, 11, 2, 40001, 9090, SONDE_ROLE_CLIENT };
	struct end red = { 100, 7, 12, 3, 40002, 6379, SONDE_ROLE_CLIENT };
	struct sonde_ids si = kids(0xab, 0x1111, 0x2222, SONDE_IDS_SAMPLED | SONDE_IDS_REMOTE);
	struct sonde_ids ci = kids(0xab, 0x3333, 0x1111, SONDE_IDS_SAMPLED | SONDE_IDS_INJECTED);
	const struct span *s, *c, *r;

	rec_ids(f, &srv, IN, 1 * MS, GET("/orders/1"), &si);
	redis_get(f, &red, 2 * MS, "orders:1");
	rec_ids(f, &cli, OUT, 3 * MS, GET("/pay/1"), &ci);
	rec(f, &cli, IN, 4 * MS, RESP);
	rec(f, &srv, OUT, 5 * MS, RESP);
	s = find(f, "get /orders/{id}", SPAN_KIND_SERVER);
	c = find(f, "get /pay/{id}", SPAN_KIND_CLIENT);
	r = find(f, "redis get", SPAN_KIND_CLIENT);
	assert_memory_equal(s->trace_id, si.trace_id, 16);
	assert_true(s->id == 0x1111 && s->parent_id == 0x2222);
	assert_memory_equal(c->trace_id, si.trace_id, 16);
	assert_true(c->id == 0x3333 && c->parent_id == 0x1111);
	assert_memory_equal(r->trace_id, si.trace_id, 16);
	assert_true(r->parent_id == 0x1111);
}

/*
 * A head read in two parts: the kernel drew a root at the request line and
 * found the traceparent in the next read (SONDE_IDS_UPDATE, same span id):
 * the request continues that trace.
 */
static void test_kernel_ids_update(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct sonde_ids first = kids(0x01, 0x1111, 0, SONDE_IDS_SAMPLED);
	struct sonde_ids upd = kids(0xcd, 0x1111, 0x4444,
				    SONDE_IDS_SAMPLED | SONDE_IDS_REMOTE | SONDE_IDS_UPDATE);
	const struct span *s;

	rec_ids(f, &srv, IN, 1 * MS, "GET /orders/2 HTTP/1.1\r\n", &first);
	rec_ids(f, &srv, IN, 2 * MS, "traceparent: 00-x-y-01\r\nHost: x\r\n\r\n", &upd);
	rec(f, &srv, OUT, 3 * MS, RESP);
	s = find(f, "get /orders/{id}", SPAN_KIND_SERVER);
	assert_memory_equal(s->trace_id, upd.trace_id, 16);
	assert_true(s->id == 0x1111 && s->parent_id == 0x4444);
}

/* A thread serving one request: its Redis call is the request's child. */
static void test_thread_per_request(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end red = { 100, 7, 11, 2, 40001, 6379, SONDE_ROLE_CLIENT };
	const struct span *s, *r;

	rec(f, &srv, IN, 1 * MS, GET("/api/products/42?secret=1"));
	redis_get(f, &red, 2 * MS, "products:42");
	rec(f, &srv, OUT, 4 * MS, RESP);
	assert_int_equal(f->n, 2);
	s = find(f, "get /api/products/{id}", SPAN_KIND_SERVER);
	r = find(f, "redis get", SPAN_KIND_CLIENT);
	assert_memory_equal(s->trace_id, r->trace_id, 16);
	assert_int_equal(s->parent_id, 0);
	assert_true(r->parent_id == s->id);
	assert_string_equal(tag(s, "http.path"), "/api/products/42");
	assert_string_equal(tag(r, "cache"), "products");
	assert_null(tag(r, "sonde.unlinked"));
	assert_int_equal(s->duration_us, 3000);
}

/* Two requests in flight on one thread: a Redis call cannot be told apart. */
static void test_event_loop_unlinked(void **state)
{
	struct fixture *f = *state;
	struct end s1 = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end s2 = { 100, 7, 12, 3, 8080, 40002, SONDE_ROLE_SERVER };
	struct end red = { 100, 7, 11, 2, 40001, 6379, SONDE_ROLE_CLIENT };
	const struct span *r;

	rec(f, &s1, IN, 1 * MS, GET("/a"));
	rec(f, &s2, IN, 2 * MS, GET("/b"));
	redis_get(f, &red, 3 * MS, "k:1");
	rec(f, &s1, OUT, 4 * MS, RESP);
	rec(f, &s2, OUT, 5 * MS, RESP);
	r = find(f, "redis get", SPAN_KIND_CLIENT);
	assert_int_equal(r->parent_id, 0);
	assert_string_equal(tag(r, "sonde.unlinked"), "true");
}

/* An event-loop proxy forwarding: the upstream request matches one request in flight. */
static void test_proxy_forward(void **state)
{
	struct fixture *f = *state;
	struct end s1 = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end s2 = { 100, 7, 12, 3, 8080, 40002, SONDE_ROLE_SERVER };
	struct end up = { 100, 7, 13, 4, 40003, 9000, SONDE_ROLE_CLIENT };
	const struct span *b, *c;

	rec(f, &s1, IN, 1 * MS, GET("/a"));
	rec(f, &s2, IN, 2 * MS, GET("/b"));
	rec(f, &up, OUT, 3 * MS, GET("/b"));
	rec(f, &up, IN, 4 * MS, RESP);
	rec(f, &s2, OUT, 5 * MS, RESP);
	rec(f, &s1, OUT, 6 * MS, RESP);
	b = find(f, "get /b", SPAN_KIND_SERVER);
	c = find(f, "get /b", SPAN_KIND_CLIENT);
	assert_true(c->parent_id == b->id);
	assert_memory_equal(c->trace_id, b->trace_id, 16);
}

/* Both ends observed: the server span joins the client's trace, whoever comes first. */
static void test_join_across_processes(void **state)
{
	struct fixture *f = *state;
	struct end cli = { 100, 7, 10, 1, 40000, 8080, SONDE_ROLE_CLIENT };
	struct end srv = { 200, 9, 5, 2, 8080, 40000, SONDE_ROLE_SERVER };
	const struct span *c, *s;

	rec(f, &cli, OUT, 1 * MS, GET("/j"));
	rec(f, &srv, IN, 2 * MS, GET("/j"));
	rec(f, &srv, OUT, 3 * MS, RESP);
	rec(f, &cli, IN, 4 * MS, RESP);
	rec(f, &cli, OUT, 5 * MS, GET("/k"));
	rec(f, &srv, IN, 6 * MS, GET("/k"));
	rec(f, &srv, OUT, 7 * MS, RESP);
	rec(f, &cli, IN, 8 * MS, RESP);
	for (int i = 0; i < 2; i++) {
		c = find(f, i ? "get /k" : "get /j", SPAN_KIND_CLIENT);
		s = find(f, i ? "get /k" : "get /j", SPAN_KIND_SERVER);
		assert_memory_equal(c->trace_id, s->trace_id, 16);
		assert_true(s->parent_id == c->id);
	}
	assert_memory_not_equal(find(f, "get /j", SPAN_KIND_CLIENT)->trace_id,
				find(f, "get /k", SPAN_KIND_CLIENT)->trace_id, 16);
}

/*
 * Timestamps are taken at syscall exit: the server's read may return before
 * the client's write does. The join still holds, and the server's calls follow.
 */
static void test_join_server_read_first(void **state)
{
	struct fixture *f = *state;
	struct end cli = { 100, 7, 10, 1, 40000, 8080, SONDE_ROLE_CLIENT };
	struct end srv = { 200, 9, 5, 2, 8080, 40000, SONDE_ROLE_SERVER };
	struct end red = { 200, 9, 6, 3, 40001, 6379, SONDE_ROLE_CLIENT };
	const struct span *c, *s, *r;

	rec(f, &srv, IN, 1 * MS, GET("/early"));
	rec(f, &cli, OUT, 1 * MS + 5000, GET("/early"));
	redis_get(f, &red, 2 * MS, "k:1");
	rec(f, &srv, OUT, 3 * MS, RESP);
	rec(f, &cli, IN, 4 * MS, RESP);
	c = find(f, "get /early", SPAN_KIND_CLIENT);
	s = find(f, "get /early", SPAN_KIND_SERVER);
	r = find(f, "redis get", SPAN_KIND_CLIENT);
	assert_true(s->parent_id == c->id);
	assert_true(r->parent_id == s->id);
	assert_memory_equal(c->trace_id, s->trace_id, 16);
	assert_memory_equal(c->trace_id, r->trace_id, 16);
}

/* A traceparent: the server continues it, its calls too. */
static void test_traceparent_in(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end red = { 100, 7, 11, 2, 40001, 6379, SONDE_ROLE_CLIENT };
	const struct span *s, *r;
	char hex[33];

	rec(f, &srv, IN, 1 * MS,
	    "GET /t HTTP/1.1\r\nHost: x\r\n"
	    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
	redis_get(f, &red, 2 * MS, "k:1");
	rec(f, &srv, OUT, 3 * MS, RESP);
	s = find(f, "get /t", SPAN_KIND_SERVER);
	r = find(f, "redis get", SPAN_KIND_CLIENT);
	span_trace_hex(s->trace_id, hex);
	assert_string_equal(hex, "0af7651916cd43dd8448eb211c80319c");
	assert_true(s->parent_id == 0xb7ad6b7169203331ULL);
	assert_true(r->parent_id == s->id);
	assert_memory_equal(s->trace_id, r->trace_id, 16);
}

/* X-B3-Sampled: 0 and a rate of 0: no spans, for the request and its calls. */
static void test_not_sampled(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };
	struct end red = { 100, 7, 11, 2, 40001, 6379, SONDE_ROLE_CLIENT };

	rec(f, &srv, IN, 1 * MS, "GET /n HTTP/1.1\r\nHost: x\r\nX-B3-Sampled: 0\r\n\r\n");
	redis_get(f, &red, 2 * MS, "k:1");
	rec(f, &srv, OUT, 3 * MS, RESP);
	assert_int_equal(f->n, 0);
}

static void test_rate_zero(void **state)
{
	struct fixture *f = *state;
	struct end srv = { 100, 7, 10, 1, 8080, 40000, SONDE_ROLE_SERVER };

	rec(f, &srv, IN, 1 * MS, GET("/z"));
	rec(f, &srv, OUT, 3 * MS, RESP);
	assert_int_equal(f->n, 0);
}

static void parse(const char *tp, const char *b3, const char *xt, const char *xs,
		  const char *xsampled, bool want, bool want_sampled)
{
	struct http_trace_hdrs h;
	uint8_t id[16];
	uint64_t parent;
	bool sampled, present;

	memset(&h, 0, sizeof(h));
	snprintf(h.traceparent, sizeof(h.traceparent), "%s", tp);
	snprintf(h.b3, sizeof(h.b3), "%s", b3);
	snprintf(h.x_b3_traceid, sizeof(h.x_b3_traceid), "%s", xt);
	snprintf(h.x_b3_spanid, sizeof(h.x_b3_spanid), "%s", xs);
	snprintf(h.x_b3_sampled, sizeof(h.x_b3_sampled), "%s", xsampled);
	assert_int_equal(trace_parse_headers(&h, id, &parent, &sampled, &present), want);
	if (want)
		assert_int_equal(sampled, want_sampled);
}

static void test_headers(void **state)
{
	(void)state;
	parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "", "", "", true, true);
	parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "", "", "", "", true, false);
	parse("00-00000000000000000000000000000000-b7ad6b7169203331-01", "", "", "", "", false, 0);
	parse("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "", "", "", "", false, 0);
	parse("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "", "", "", false, 0);
	parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", "", "", "", "", false, 0);
	parse("00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01", "", "", "", "", false, 0);
	parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later", "", "", "", "", true,
	      true);
	parse("", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", "", "",
	      "", true, true);
	parse("", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0", "", "", "", true, false);
	parse("", "64fe8b2a57d3eff7-e457b5a2e4d86bd1", "", "", "", true, true);
	parse("", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-x", "", "", "", false, 0);
	parse("", "0", "", "", "", false, 0);
	parse("", "", "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", "1", true, true);
	parse("", "", "463ac35c9f6413ad", "a2fb4a1d1a96d312", "0", true, false);
	parse("", "", "463ac35c9f6413ad", "a2fb4a1d1a96d31", "", false, 0);
	parse("", "", "", "", "", false, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test_setup_teardown(test_thread_per_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_loop_unlinked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_across_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_server_read_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traceparent_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_sampled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_ids_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_zero, setup_unsampled, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
