// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Zipkin v2 JSON of spans (user/export/zipkin.c), the recent-trace store
 * (user/trace_store.c), the trace routes of the HTTP endpoint, and `sonde
 * traces` (user/traces_cli.c): its reader on what the encoder writes, on
 * every truncation and byte flip of it, and its fetch against a real server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "export/httpd.h"
#include "export/zipkin.h"
#include "span.h"
#include "trace_store.h"
#include "traces_cli.h"

#define T0 1700000000000000ULL /* µs */

/* A span of trace number t (the id ab00…00tt), service svc. */
static struct span mk(uint8_t t, uint64_t id, uint64_t parent, const char *svc, const char *name,
		      uint64_t ts, uint64_t dur)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	s.trace_id[0] = 0xab;
	s.trace_id[15] = t;
	s.id = id;
	s.parent_id = parent;
	s.kind = parent ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.local.service, sizeof(s.local.service), "%s", svc);
	s.timestamp_us = ts;
	s.duration_us = dur;
	return s;
}

static const char *trace_hex(uint8_t t)
{
	static char hex[33];

	snprintf(hex, sizeof(hex), "ab0000000000000000000000000000%02x", t);
	return hex;
}

/* A strict UTF-8 check (no overlongs, surrogates or code points past U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			   c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		uint32_t cp = c & (0xff >> (l + 1));

		if (!l || i + l > n)
			return false;
		for (size_t k = 1; k < l; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += l;
	}
	return true;
}

/* Render json into a string (the caller frees it); *ret is traces_cli_render's result. */
static char *render(const char *json, size_t len, int *ret)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	assert_non_null(f);
	*ret = traces_cli_render(json, len, f);
	fclose(f);
	return out;
}

/* ---- encoding --------------------------------------------------------- */

static void test_server_span(void **state)
{
	struct span s = mk(1, 0x1234, 0xbeef, "shop", "get /api/products/{id}", T0, 1431);
	struct zbuf b = { 0 };

	(void)state;
	s.kind = SPAN_KIND_SERVER;
	s.local.family = 4;
	inet_pton(AF_INET, "192.168.99.1", s.local.addr);
	s.local.port = 3306;
	s.remote.family = 4;
	inet_pton(AF_INET, "172.19.0.2", s.remote.addr);
	s.remote.port = 58648;
	span_tag(&s, "http.method", "GET");
	span_tag(&s, "http.status_code", "200");
	zipkin_span_json(&b, &s);
	assert_false(b.oom);
	assert_string_equal(b.p,
			    "{\"traceId\":\"ab000000000000000000000000000001\","
			    "\"id\":\"0000000000001234\",\"parentId\":\"000000000000beef\","
			    "\"kind\":\"SERVER\",\"name\":\"get /api/products/{id}\","
			    "\"timestamp\":1700000000000000,\"duration\":1431,"
			    "\"localEndpoint\":{\"serviceName\":\"shop\",\"ipv4\":\"192.168.99.1\","
			    "\"port\":3306},"
			    "\"remoteEndpoint\":{\"ipv4\":\"172.19.0.2\",\"port\":58648},"
			    "\"tags\":{\"http.method\":\"GET\",\"http.status_code\":\"200\"}}");
	assert_int_equal(b.len, strlen(b.p));
	zbuf_free(&b);
}

static void test_client_root_ipv6(void **state)
{
	struct span s[2] = { mk(2, 7, 0, "shop", "redis get", T0, 0),
			     mk(2, 8, 7, "shop", "", T0 + 5, 3) };
	struct zbuf b = { 0 };

	(void)state;
	s[0].kind = SPAN_KIND_CLIENT;
	s[0].remote.family = 6;
	inet_pton(AF_INET6, "2001:db8::c001", s[0].remote.addr);
	s[0].remote.port = 6379;
	snprintf(s[0].remote.service, sizeof(s[0].remote.service), "redis");
	/* A v4-mapped address is written as ipv4, as the spec prefers; shared only when true. */
	s[1].kind = SPAN_KIND_CONSUMER;
	s[1].shared = true;
	s[1].local.service[0] = '\0';
	s[1].local.family = 6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", s[1].local.addr);
	assert_int_equal(zipkin_list_json(&b, s, 2), 0);
	assert_string_equal(b.p,
			    "[{\"traceId\":\"ab000000000000000000000000000002\","
			    "\"id\":\"0000000000000007\",\"kind\":\"CLIENT\",\"name\":\"redis get\","
			    "\"timestamp\":1700000000000000,\"duration\":1,"
			    "\"localEndpoint\":{\"serviceName\":\"shop\"},"
			    "\"remoteEndpoint\":{\"serviceName\":\"redis\","
			    "\"ipv6\":\"2001:db8::c001\",\"port\":6379}},"
			    "{\"traceId\":\"ab000000000000000000000000000002\","
			    "\"id\":\"0000000000000008\",\"parentId\":\"0000000000000007\","
			    "\"kind\":\"CONSUMER\",\"timestamp\":1700000000000005,\"duration\":3,"
			    "\"localEndpoint\":{\"ipv4\":\"10.1.2.3\"},\"shared\":true}]");
	zbuf_free(&b);
	/* Nothing known of an endpoint: no endpoint at all; no spans: an empty list. */
	s[0].local.service[0] = '\0';
	zipkin_span_json(&b, &s[0]);
	assert_null(strstr(b.p, "localEndpoint"));
	zbuf_reset(&b);
	assert_int_equal(zipkin_list_json(&b, s, 0), 0);
	assert_string_equal(b.p, "[]");
	zbuf_free(&b);
}

static void test_escaping(void **state)
{
	struct span s = mk(3, 1, 0, "a\"b", "", T0, 1);
	struct zbuf b = { 0 };
	const char *name = "q\"b\\s\x01\n\x1f\x7f \xc3\xa9 \xf0\x9f\x98\x80 "
			   "\xff \xc0\xaf \xed\xa0\x80 \xe2\x82 \xc3";
	const char *want = "\"name\":\"q\\\"b\\\\s\\u0001\\u000a\\u001f\\u007f \xc3\xa9 "
			   "\xf0\x9f\x98\x80 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
			   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
			   "\xef\xbf\xbd\"";
	int ret;

	(void)state;
	snprintf(s.name, sizeof(s.name), "%s", name);
	span_tag(&s, "k\"\x02", "v\\\x80");
	/* A field filled to the last byte, no NUL: read no further than the field. */
	memset(s.tags[1].key, 'k', sizeof(s.tags[1].key));
	memset(s.tags[1].value, 'v', sizeof(s.tags[1].value));
	s.ntags = 2;
	zipkin_span_json(&b, &s);
	assert_non_null(strstr(b.p, want));
	assert_non_null(strstr(b.p, "\"serviceName\":\"a\\\"b\""));
	assert_non_null(strstr(b.p, "\"tags\":{\"k\\\"\\u0002\":\"v\\\\\xef\xbf\xbd\","));
	assert_true(valid_utf8((const unsigned char *)b.p, b.len));
	assert_int_equal(b.len, strlen(b.p));
	/* And the reader takes it back: it is JSON. */
	zbuf_reset(&b);
	assert_int_equal(zipkin_list_json(&b, &s, 1), 0);
	free(render(b.p, b.len, &ret));
	assert_int_equal(ret, 0);
	zbuf_free(&b);
}

/* ---- the store -------------------------------------------------------- */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_store_evicts(void **state)
{
	struct trace_store *st = trace_store__new(4);
	struct span s[6];
	struct zbuf b = { 0 };

	(void)state;
	assert_null(trace_store__new(0));
	assert_int_equal(errno, EINVAL);
	for (int i = 0; i < 6; i++)
		s[i] = mk(1 + i, 1 + i, 0, "gw", "x", T0 + i, 1);
	trace_store__add(st, s, 3);
	trace_store__add(st, s + 3, 3); /* spans 1 and 2 go */
	assert_int_equal(trace_store__traces_json(st, NULL, 100, &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 4);
	assert_null(strstr(b.p, trace_hex(1)));
	assert_null(strstr(b.p, trace_hex(2)));
	assert_int_equal(trace_store__trace_json(st, trace_hex(2), &b), -ENOENT);
	assert_int_equal(trace_store__trace_json(st, trace_hex(3), &b), 0);
	zbuf_reset(&b);
	/* A batch larger than the store: its last four stay. */
	for (int i = 0; i < 6; i++)
		s[i] = mk(10 + i, 1, 0, "gw", "y", T0 + i, 1);
	trace_store__add(st, s, 6);
	assert_int_equal(trace_store__traces_json(st, NULL, 100, &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 4);
	assert_null(strstr(b.p, trace_hex(11)));
	assert_true(strstr(b.p, trace_hex(15)) < strstr(b.p, trace_hex(12)));
	zbuf_free(&b);
	trace_store__free(st);
	trace_store__free(NULL);
}

static void test_store_queries(void **state)
{
	struct trace_store *st = trace_store__new(100);
	/* Trace 1: gw -> app -> redis (added out of order); 2: gw; 3: other; 4: gw again. */
	struct span s[] = {
		mk(1, 0x11, 0, "gw", "get /a", T0, 900),
		mk(1, 0x13, 0x12, "app", "redis get", T0 + 300, 50),
		mk(1, 0x12, 0x11, "app", "get /a", T0 + 100, 700),
		mk(2, 0x21, 0, "gw", "get /b", T0 + 1000, 10),
		mk(3, 0x31, 0, "other", "get /c", T0 + 2000, 10),
		mk(4, 0x41, 0, "gw", "get /d", T0 + 3000, 10),
	};
	struct zbuf b = { 0 };
	const char *a, *c;

	(void)state;
	trace_store__add(st, s, 3);
	trace_store__add(st, s + 3, 3);

	/* Newest first; all spans of a trace in one array, by timestamp. */
	assert_int_equal(trace_store__traces_json(st, "", 10, &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 6);
	assert_int_equal(b.p[0], '[');
	assert_int_equal(b.p[1], '[');
	assert_true(strstr(b.p, trace_hex(4)) < strstr(b.p, trace_hex(3)));
	assert_true(strstr(b.p, trace_hex(2)) < strstr(b.p, trace_hex(1)));
	a = strstr(b.p, "\"id\":\"0000000000000012\"");
	c = strstr(b.p, "\"id\":\"0000000000000013\"");
	assert_true(strstr(b.p, "\"id\":\"0000000000000011\"") < a && a < c);
	assert_non_null(strstr(b.p, "}],[{"));
	zbuf_reset(&b);

	/* limit */
	assert_int_equal(trace_store__traces_json(st, NULL, 2, &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 2);
	assert_non_null(strstr(b.p, trace_hex(4)));
	assert_non_null(strstr(b.p, trace_hex(3)));
	zbuf_reset(&b);
	assert_int_equal(trace_store__traces_json(st, NULL, 0, &b), 0);
	assert_string_equal(b.p, "[]");
	zbuf_reset(&b);

	/* service: a trace matches by any of its spans, and comes whole. */
	assert_int_equal(trace_store__traces_json(st, "app", 10, &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 3);
	assert_non_null(strstr(b.p, "\"serviceName\":\"gw\""));
	zbuf_reset(&b);
	assert_int_equal(trace_store__traces_json(st, "gw", 2, &b), 0);
	assert_non_null(strstr(b.p, trace_hex(4)));
	assert_non_null(strstr(b.p, trace_hex(2)));
	assert_null(strstr(b.p, trace_hex(3)));
	zbuf_reset(&b);
	assert_int_equal(trace_store__traces_json(st, "nobody", 10, &b), 0);
	assert_string_equal(b.p, "[]");
	zbuf_reset(&b);

	/* One trace: 32 digits (either case), or 16 for a 64-bit id. */
	assert_int_equal(trace_store__trace_json(st, trace_hex(1), &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 3);
	assert_int_equal(b.p[0], '[');
	assert_int_equal(b.p[1], '{');
	zbuf_reset(&b);
	assert_int_equal(trace_store__trace_json(st, "AB000000000000000000000000000003", &b), 0);
	assert_int_equal(count(b.p, "\"traceId\""), 1);
	zbuf_reset(&b);
	assert_int_equal(trace_store__trace_json(st, "0000000000000001", &b), -ENOENT);
	assert_int_equal(trace_store__trace_json(st, "ab0000000000000000000000000000ff", &b),
			 -ENOENT);
	assert_int_equal(trace_store__trace_json(st, "xyz", &b), -EINVAL);
	assert_int_equal(trace_store__trace_json(st, "", &b), -EINVAL);
	assert_int_equal(trace_store__trace_json(st, "ab00000000000000000000000000000g", &b),
			 -EINVAL);
	assert_int_equal(trace_store__trace_json(st, "ab0000000000000000000000000000011", &b),
			 -EINVAL);
	assert_int_equal(b.len, 0);
	s[0].trace_id[0] = 0;
	trace_store__add(st, s, 1);
	assert_int_equal(trace_store__trace_json(st, "0000000000000001", &b), 0);
	zbuf_reset(&b);

	assert_int_equal(trace_store__services_json(st, &b), 0);
	assert_string_equal(b.p, "[\"app\",\"gw\",\"other\"]");
	zbuf_free(&b);
	trace_store__free(st);
}

struct writer {
	struct trace_store *st;
	int batches;
};

static void *write_spans(void *arg)
{
	struct writer *w = arg;
	struct span s[16];

	for (int i = 0; i < w->batches; i++) {
		for (int k = 0; k < 16; k++)
			s[k] = mk((uint8_t)(i % 50), (uint64_t)(i * 16 + k + 1),
				  k ? (uint64_t)(i * 16 + 1) : 0, k % 2 ? "odd" : "even", "w",
				  T0 + (uint64_t)(i * 16 + k), 1);
		trace_store__add(w->st, s, 16);
	}
	return NULL;
}

/* Queries while the capture thread adds: every answer is whole JSON of whole spans. */
static void test_store_concurrent(void **state)
{
	struct writer w = { .st = trace_store__new(500), .batches = 3000 };
	struct zbuf b = { 0 };
	pthread_t tid;
	char *out;
	int ret;

	(void)state;
	assert_int_equal(pthread_create(&tid, NULL, write_spans, &w), 0);
	for (int i = 0; i < 200; i++) {
		zbuf_reset(&b);
		assert_int_equal(trace_store__traces_json(w.st, i % 2 ? "odd" : NULL, 20, &b), 0);
		out = render(b.p, b.len, &ret);
		assert_int_equal(ret, 0);
		free(out);
		zbuf_reset(&b);
		ret = trace_store__trace_json(w.st, trace_hex((uint8_t)(i % 50)), &b);
		assert_true(ret == 0 || ret == -ENOENT);
	}
	assert_int_equal(pthread_join(tid, NULL), 0);
	zbuf_reset(&b);
	assert_int_equal(trace_store__services_json(w.st, &b), 0);
	assert_string_equal(b.p, "[\"even\",\"odd\"]");
	zbuf_free(&b);
	trace_store__free(w.st);
}

/* ---- sonde traces ---------------------------------------------------- */

static void test_timeline(void **state)
{
	/* A ListOfSpans, as the exporter sends it: two traces, spans out of order. */
	struct span s[] = {
		mk(1, 0x11, 0, "gateway", "get /api/orders", T0, 12345),
		mk(1, 0x13, 0x12, "orders", "redis get", T0 + 3000, 1000),
		mk(1, 0x12, 0x11, "orders", "get /api/orders", T0 + 120, 8000),
		mk(1, 0x14, 0x12, "orders", "postgres select orders", T0 + 5000, 2000),
		mk(1, 0x15, 0x99, "lost", "kafka send", T0 + 9000, 100), /* its parent is not here */
		mk(2, 0x21, 0, "gateway", "get /health", T0 + 20000, 50),
	};
	struct zbuf b = { 0 };
	char *out;
	int ret;

	(void)state;
	span_tag(&s[0], "http.status_code", "200");
	span_tag(&s[1], "error", "timeout");
	span_tag(&s[3], "error", "42P01");
	span_tag(&s[3], "http.status_code", "503");
	assert_int_equal(zipkin_list_json(&b, s, 6), 0);
	out = render(b.p, b.len, &ret);
	assert_int_equal(ret, 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "Trace ab000000000000000000000000000001  5 spans  12.345 ms"));
	assert_non_null(strstr(out, "Trace ab000000000000000000000000000002  1 span  0.050 ms"));
	assert_non_null(strstr(out, "\n       0.000     12.345  gateway       get /api/orders"
				    "         200\n"));
	assert_non_null(strstr(out, "\n       0.120      8.000  \u2514\u2500 orders     get "
				    "/api/orders         ok\n"));
	assert_non_null(strstr(out, "\n       3.000      1.000     \u251c\u2500 orders  redis "
				    "get               error\n"));
	assert_non_null(strstr(out, "\n       5.000      2.000     \u2514\u2500 orders  "
				    "postgres select orders  503\n"));
	assert_non_null(strstr(out, "\n       9.000      0.100  lost          kafka send"
				    "              ok\n"));
	/* The first trace sent comes first; a trace's lines by tree, children by time. */
	assert_true(strstr(out, "Trace ab000000000000000000000000000001") <
		    strstr(out, "Trace ab000000000000000000000000000002"));
	assert_true(strstr(out, "redis get") < strstr(out, "postgres select"));
	assert_true(strstr(out, "postgres select") < strstr(out, "kafka send"));
	free(out);
	zbuf_free(&b);

	out = render("[]", 2, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(out, "no traces\n");
	free(out);
}

/* Shared spans, cycles, deep chains: drawn, never looped on. */
static void test_timeline_odd_trees(void **state)
{
	static struct span s[3000];
	struct zbuf b = { 0 };
	char *out;
	int ret;

	(void)state;
	s[0] = mk(1, 0x1, 0, "a", "client call", T0, 100);
	s[1] = mk(1, 0x1, 0, "b", "server side", T0 + 10, 80);
	s[1].shared = true;
	s[2] = mk(1, 0x2, 0x1, "b", "call of the server", T0 + 20, 10);
	s[3] = mk(2, 0x5, 0x6, "c", "cycle one", T0, 10);
	s[4] = mk(2, 0x6, 0x5, "c", "cycle two", T0 + 1, 10);
	s[5] = mk(2, 0x7, 0x7, "c", "own parent", T0 + 2, 10);
	for (int i = 6; i < 3000; i++)
		s[i] = mk(3, (uint64_t)i, i > 6 ? (uint64_t)i - 1 : 0, "deep", "d", T0 + i, 1);
	assert_int_equal(zipkin_list_json(&b, s, 3000), 0);
	out = render(b.p, b.len, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "  a        client call"));
	assert_non_null(strstr(out, "  \u2514\u2500 b     server side"));
	assert_non_null(strstr(out, "     \u2514\u2500 b  call of the server"));
	assert_non_null(strstr(out, "  c        cycle one"));
	assert_non_null(strstr(out, "  \u2514\u2500 c     cycle two"));
	assert_int_equal(count(out, "cycle one"), 1);
	assert_int_equal(count(out, "cycle two"), 1);
	assert_int_equal(count(out, "own parent"), 1);
	assert_int_equal(count(out, " d "), 2994);
	free(out);
	zbuf_free(&b);
}

/* Anything but the shapes it knows is an error, whatever is cut or flipped. */
static void test_reader_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"{\"not\":1}",
		"[[{\"id\":",
		"[",
		"[[]",
		"[{}",
		"[1]",
		"[[1]]",
		"[\"x\"]",
		"[{\"id\":\"1\"}] x",
		"[{\"name\":\"\x01\"}]",
		"[{\"name\":\"\\x\"}]",
		"[{\"name\":\"\\u12\"}]",
		"[{\"a\":tru}]",
		"[{\"a\":-}]",
		"[{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		"[{\"a\" 1}]",
		"[{\"a\":1,}]",
	};
	static const char *const good[] = {
		"[[]]",
		"[{}]",
		" [ [ { \"traceId\" : 5 , \"tags\" : [1] , \"x\" : {\"y\":[null,true,false,-1.5e3]} } ] ] ",
		"[{\"name\":\"\\ud83d\\ude00 \\ud800 \\u001b[31m \\u0000 \xc2\x9b \xff\"}]",
	};
	struct span s[2] = { mk(1, 1, 0, "gw", "get /x", T0, 10), mk(1, 2, 1, "a", "y", T0, 5) };
	struct zbuf b = { 0 };
	char *out;
	int ret;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = render(bad[i], strlen(bad[i]), &ret);
		assert_int_equal(ret, -EINVAL);
		assert_string_equal(out, "");
		free(out);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		out = render(good[i], strlen(good[i]), &ret);
		assert_int_equal(ret, 0);
		assert_null(strchr(out, '\x1b')); /* nothing reaches the terminal raw */
		assert_null(strstr(out, "\xc2\x9b"));
		assert_true(valid_utf8((const unsigned char *)out, strlen(out)));
		free(out);
	}
	assert_int_equal(traces_cli_render(NULL, 0, stdout), -EINVAL);

	span_tag(&s[1], "error", "x\"y");
	zbuf_puts(&b, "[");
	zipkin_list_json(&b, s, 2);
	zbuf_puts(&b, "]");
	/* Every truncation is an error; every flipped byte an error or a timeline. */
	for (size_t n = 0; n < b.len; n++) {
		out = render(b.p, n, &ret);
		assert_int_equal(ret, -EINVAL);
		free(out);
	}
	for (size_t i = 0; i < b.len; i++) {
		char saved = b.p[i];

		for (int v = 0; v < 256; v += 7) {
			b.p[i] = (char)v;
			out = render(b.p, b.len, &ret);
			assert_true(ret == 0 || ret == -EINVAL);
			free(out);
		}
		b.p[i] = saved;
	}
	zbuf_free(&b);
}

/* ---- over HTTP ------------------------------------------------------- */

/* A loopback port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* GET target; the status, and the body in b (reset first). */
static int get(const char *addr, const char *target, struct zbuf *b)
{
	zbuf_reset(b);
	return traces_cli_fetch(addr, target, b);
}

static void test_http_routes(void **state)
{
	struct trace_store *st = trace_store__new(100);
	struct span s[] = { mk(1, 0x11, 0, "gw", "get /a", T0, 900),
			    mk(1, 0x12, 0x11, "app b", "get /a", T0 + 100, 700),
			    mk(2, 0x21, 0, "gw", "get /b", T0 + 1000, 10) };
	struct zbuf b = { 0 };
	char addr[32], path[128];
	struct httpd *h;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	h = httpd__start(addr, NULL, NULL);
	assert_non_null(h);

	/* No store yet: empty lists, no trace. */
	assert_int_equal(get(addr, "/api/traces", &b), 200);
	assert_string_equal(b.p, "[]");
	assert_int_equal(get(addr, "/api/v2/services", &b), 200);
	assert_string_equal(b.p, "[]");
	snprintf(path, sizeof(path), "/api/traces/%s", trace_hex(1));
	assert_int_equal(get(addr, path, &b), 404);

	httpd__set_traces(h, st);
	trace_store__add(st, s, 3);
	assert_int_equal(get(addr, "/api/traces", &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 3);
	assert_int_equal(get(addr, "/api/traces?limit=1", &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 1);
	assert_non_null(strstr(b.p, trace_hex(2)));
	assert_int_equal(get(addr, "/api/traces?limit=0&serviceName=app%20b", &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 2);
	assert_non_null(strstr(b.p, trace_hex(1)));
	assert_int_equal(get(addr, "/api/v2/traces?service=app+b&limit=junk", &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 2);
	assert_int_equal(get(addr, "/api/v2/traces?serviceName=nobody", &b), 200);
	assert_string_equal(b.p, "[]");

	assert_int_equal(get(addr, path, &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 2);
	snprintf(path, sizeof(path), "/api/v2/trace/%s", trace_hex(2));
	assert_int_equal(get(addr, path, &b), 200);
	assert_int_equal(count(b.p, "\"traceId\""), 1);
	assert_int_equal(get(addr, "/api/traces/ab0000000000000000000000000000ff", &b), 404);
	assert_string_equal(b.p, "{\"error\":\"trace not found\"}");
	assert_int_equal(get(addr, "/api/traces/nothex", &b), 400);
	assert_non_null(strstr(b.p, "\"error\""));
	assert_int_equal(get(addr, "/api/traces/", &b), 400);
	assert_int_equal(get(addr, "/api/v2/services", &b), 200);
	assert_string_equal(b.p, "[\"app b\",\"gw\"]");
	assert_int_equal(get(addr, "/api/v2/nothing", &b), 404);

	/* The command: a timeline on stdout, 0; nobody listening: 1; bad usage: 2. */
	{
		char *argv[] = { "traces", "--listen", addr, "--limit", "5", "--service", "gw",
				 NULL };
		char *nobody[] = { "traces", "--listen", "127.0.0.1:1", NULL };
		char *bad[] = { "traces", "--limit", "0", NULL };

		assert_int_equal(traces_cli_main(7, argv), 0);
		assert_int_equal(traces_cli_main(3, nobody), 1);
		assert_int_equal(traces_cli_main(3, bad), 2);
	}
	assert_true(get("127.0.0.1:1", "/api/traces", &b) < 0);
	assert_int_equal(get("nonsense", "/api/traces", &b), -EINVAL);

	httpd__stop(h);
	zbuf_free(&b);
	trace_store__free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_span),
		cmocka_unit_test(test_client_root_ipv6),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_store_evicts),
		cmocka_unit_test(test_store_queries),
		cmocka_unit_test(test_store_concurrent),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_timeline_odd_trees),
		cmocka_unit_test(test_reader_garbage),
		cmocka_unit_test(test_http_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
