// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the HTTP endpoint (user/export/httpd.c): a real server on a
 * loopback port, queried with a plain socket client, so no curl is needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/httpd.h"
#include "export/metrics.h"

struct resp {
	int status;
	char raw[65536];
	size_t len;
	const char *body; /* into raw, after the blank line */
	size_t bodylen;
};

static void fill_addr(int family, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	}
}

/*
 * A port that was free a moment ago: bind to port 0, read what the kernel
 * chose, close. Returns -1 if the family is not available (no IPv6).
 */
static int free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, port;

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	fill_addr(family, 0, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
					  ((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

/* Send req as is, read until the server closes (HTTP/1.0), parse the status line. */
static int http_raw(int family, int port, const char *req, struct resp *r)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_storage ss;
	const char *end;
	socklen_t len;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	/* A server bug must fail the test, not hang it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fill_addr(family, port, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -errno;
	}
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (r->len < sizeof(r->raw) - 1 &&
	       (n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0)) > 0)
		r->len += n;
	close(fd);
	r->raw[r->len] = '\0';

	assert_int_equal(sscanf(r->raw, "HTTP/1.%*d %d", &r->status), 1);
	end = strstr(r->raw, "\r\n\r\n");
	assert_non_null(end);
	r->body = end + 4;
	r->bodylen = r->len - (r->body - r->raw);
	return 0;
}

static void http_get(int family, int port, const char *method, const char *path, struct resp *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: test\r\n\r\n", method, path);
	assert_int_equal(http_raw(family, port, req, r), 0);
}

/* Value of a response header (case-insensitive name), or NULL. Copies into buf. */
static const char *header(const struct resp *r, const char *name, char *buf, size_t bufsz)
{
	const char *p = strstr(r->raw, "\r\n");
	size_t n = strlen(name);

	while (p && p < r->body - 2) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(buf, bufsz, "%.*s", (int)(e - v), v);
			return buf;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
	char buf[256];
	const char *v = header(r, name, buf, sizeof(buf));

	assert_non_null(v);
	assert_string_equal(v, want);
}

struct health_state {
	bool healthy, ready;
	const char *reason;
	int calls;
};

static bool t_healthy(void *ctx)
{
	struct health_state *s = ctx;

	s->calls++;
	return s->healthy;
}

static bool t_ready(void *ctx, char *reason, size_t reasonsz)
{
	struct health_state *s = ctx;

	s->calls++;
	if (!s->ready)
		snprintf(reason, reasonsz, "%s", s->reason);
	return s->ready;
}

static struct httpd *start_v4(struct metrics *m, const struct httpd_health *h, int *port)
{
	char addr[64];
	struct httpd *d;

	*port = free_port(AF_INET);
	assert_true(*port > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
	d = httpd__start(addr, m, h);
	assert_non_null(d);
	return d;
}

static void test_parse_listen(void **state)
{
	static const struct {
		const char *in, *host;
		int port;
	} ok[] = {
		{ "127.0.0.1:9464", "127.0.0.1", 9464 },
		{ "[::1]:9464", "::1", 9464 },
		{ "[::]:1", "::", 1 },
		{ ":9464", "", 9464 },
		{ "localhost:9464", "localhost", 9464 },
		{ "0.0.0.0:65535", "0.0.0.0", 65535 },
		{ "[fe80::1%lo]:80", "fe80::1%lo", 80 },
	};
	static const char *const bad[] = {
		"", "9464", "127.0.0.1", "127.0.0.1:", ":", ":0", ":65536", ":99999999999", ":-1",
		":+80", ":80a", ": 80", "host:80:81", "::1:9464", "[::1]9464", "[::1]:", "[::1",
		"[]:80", "[::1]:0", "h:0x50",
	};
	char host[64];
	unsigned int i;
	int port;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		port = -1;
		assert_int_equal(httpd_parse_listen(ok[i].in, host, sizeof(host), &port), 0);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (httpd_parse_listen(bad[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* Host too long for the buffer, NULL arguments. */
	assert_int_equal(httpd_parse_listen("localhost:80", host, 9, &port), -EINVAL);
	assert_int_equal(httpd_parse_listen("localhost:80", host, 10, &port), 0);
	assert_int_equal(httpd_parse_listen(NULL, host, sizeof(host), &port), -EINVAL);
	assert_int_equal(httpd_parse_listen(":80", NULL, sizeof(host), &port), -EINVAL);
	assert_int_equal(httpd_parse_listen(":80", host, sizeof(host), NULL), -EINVAL);
}

static void test_endpoints(void **state)
{
	static const char *const lab[] = { "code" };
	struct health_state hs = { .healthy = true, .ready = true };
	struct httpd_health health = { t_healthy, t_ready, &hs };
	struct metrics *m = metrics__new();
	struct metric_family *c;
	struct httpd *d;
	char *want, buf[64];
	size_t wantlen;
	struct resp *r = malloc(sizeof(*r));
	int port;

	(void)state;
	assert_non_null(r);
	c = metrics__counter(m, "sonde_test_total", "Test \"counter\".", lab, 1);
	metric__add(c, (const char *[]){ "200" }, 5);
	d = start_v4(m, &health, &port);

	http_get(AF_INET, port, "GET", "/metrics", r);
	assert_int_equal(r->status, 200);
	assert_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	want = metrics__render(m, &wantlen);
	assert_int_equal(r->bodylen, wantlen);
	assert_memory_equal(r->body, want, wantlen);
	free(want);
	assert_non_null(strstr(r->body, "sonde_test_total{code=\"200\"} 5\n"));

	/* The query string is not part of the path. */
	http_get(AF_INET, port, "GET", "/metrics?name[]=x", r);
	assert_int_equal(r->status, 200);

	/* HEAD: same headers, no body. */
	http_get(AF_INET, port, "HEAD", "/metrics", r);
	assert_int_equal(r->status, 200);
	assert_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(r->bodylen, 0);

	http_get(AF_INET, port, "GET", "/healthz", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "ok\n");

	http_get(AF_INET, port, "GET", "/readyz", r);
	assert_int_equal(r->status, 200);
	assert_header(r, "Content-Type", "application/json");
	assert_string_equal(r->body, "{\"status\":\"ready\"}");
	assert_int_equal(hs.calls, 2);

	/* The web view: its page, embedded. */
	http_get(AF_INET, port, "GET", "/", r);
	assert_int_equal(r->status, 200);
	assert_header(r, "Content-Type", "text/html; charset=utf-8");
	assert_non_null(strstr(r->body, "<title>sonde</title>"));
	http_get(AF_INET, port, "GET", "/metrics/", r);
	assert_int_equal(r->status, 404);
	http_get(AF_INET, port, "GET", "/nope", r);
	assert_int_equal(r->status, 404);

	http_get(AF_INET, port, "DELETE", "/metrics", r);
	assert_int_equal(r->status, 405);
	assert_header(r, "Allow", "GET, HEAD");
	http_get(AF_INET, port, "PUT", "/nope", r);
	assert_int_equal(r->status, 405);
	assert_int_equal(http_raw(AF_INET, port,
				  "POST /metrics HTTP/1.0\r\nHost: t\r\nContent-Length: 5\r\n\r\n"
				  "hello",
				  r),
			 0);
	assert_int_equal(r->status, 405);

	/* A second metric appears at the next scrape. */
	metric__add(c, (const char *[]){ "500" }, 1);
	http_get(AF_INET, port, "GET", "/metrics", r);
	assert_non_null(strstr(r->body, "sonde_test_total{code=\"500\"} 1\n"));
	assert_non_null(header(r, "Content-Length", buf, sizeof(buf)));
	assert_int_equal(atoi(buf), r->bodylen);

	httpd__stop(d);
	metrics__free(m);
	free(r);
}

static void test_not_ready(void **state)
{
	struct health_state hs = {
		.healthy = false,
		.ready = false,
		.reason = "BPF \"attach\" failed: C:\\x\n\tnext \x01 bad\xff ok\xc3\xa9",
	};
	struct httpd_health health = { t_healthy, t_ready, &hs };
	struct resp *r = malloc(sizeof(*r));
	struct httpd *d;
	int port;

	(void)state;
	assert_non_null(r);
	d = start_v4(NULL, &health, &port);

	http_get(AF_INET, port, "GET", "/healthz", r);
	assert_int_equal(r->status, 503);

	http_get(AF_INET, port, "GET", "/readyz", r);
	assert_int_equal(r->status, 503);
	assert_header(r, "Content-Type", "application/json");
	assert_string_equal(r->body, "{\"status\":\"not ready\",\"reason\":"
				     "\"BPF \\\"attach\\\" failed: C:\\\\x\\n\\tnext \\u0001"
				     " bad? ok\xc3\xa9\"}");

	/* A very long reason is cut, the JSON stays well formed. */
	hs.reason = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	http_get(AF_INET, port, "GET", "/readyz", r);
	assert_int_equal(r->status, 503);
	assert_true(r->bodylen > 200);
	assert_memory_equal(r->body + r->bodylen - 4, "xx\"}", 4);

	/* Without a registry, /metrics is empty but valid. */
	http_get(AF_INET, port, "GET", "/metrics", r);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->bodylen, 0);

	httpd__stop(d);
	free(r);
}

static void test_null_health(void **state)
{
	struct httpd_health partial = { NULL, NULL, NULL };
	struct resp *r = malloc(sizeof(*r));
	struct httpd *d;
	int port;

	(void)state;
	assert_non_null(r);
	d = start_v4(NULL, NULL, &port);
	http_get(AF_INET, port, "GET", "/healthz", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "ok\n");
	http_get(AF_INET, port, "GET", "/readyz", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"status\":\"ready\"}");
	httpd__stop(d);

	/* Callbacks left NULL count as healthy and ready too. */
	d = start_v4(NULL, &partial, &port);
	http_get(AF_INET, port, "GET", "/healthz", r);
	assert_int_equal(r->status, 200);
	http_get(AF_INET, port, "GET", "/readyz", r);
	assert_int_equal(r->status, 200);
	httpd__stop(d);
	httpd__stop(NULL);
	free(r);
}

static void test_port_in_use(void **state)
{
	struct sockaddr_storage ss;
	struct httpd *d, *d2;
	char addr[64];
	socklen_t len;
	int port, fd;

	(void)state;
	d = start_v4(NULL, NULL, &port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	errno = 0;
	d2 = httpd__start(addr, NULL, NULL);
	assert_null(d2);
	assert_int_equal(errno, EADDRINUSE);
	/* 0.0.0.0 overlaps 127.0.0.1 as well. */
	snprintf(addr, sizeof(addr), ":%d", port);
	errno = 0;
	assert_null(httpd__start(addr, NULL, NULL));
	assert_int_equal(errno, EADDRINUSE);
	httpd__stop(d);

	/* Held by some other listener. */
	port = free_port(AF_INET);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	fill_addr(AF_INET, port, &ss, &len);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, 1), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	errno = 0;
	assert_null(httpd__start(addr, NULL, NULL));
	assert_int_equal(errno, EADDRINUSE);
	close(fd);
}

static void test_bad_listen(void **state)
{
	char addr[64];
	int port;

	(void)state;
	errno = 0;
	assert_null(httpd__start("nonsense", NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(httpd__start("127.0.0.1:0", NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(httpd__start(NULL, NULL, NULL));
	assert_int_equal(errno, EINVAL);

	/* A TEST-NET-3 address is no local interface's. */
	port = free_port(AF_INET);
	snprintf(addr, sizeof(addr), "203.0.113.7:%d", port);
	errno = 0;
	assert_null(httpd__start(addr, NULL, NULL));
	assert_int_equal(errno, EADDRNOTAVAIL);
}

static void test_ipv6(void **state)
{
	struct resp *r;
	struct httpd *d;
	char addr[64];
	int port = free_port(AF_INET6);

	(void)state;
	if (port < 0)
		skip(); /* no IPv6 loopback in this sandbox */
	r = malloc(sizeof(*r));
	assert_non_null(r);
	snprintf(addr, sizeof(addr), "[::1]:%d", port);
	d = httpd__start(addr, NULL, NULL);
	assert_non_null(d);
	http_get(AF_INET6, port, "GET", "/healthz", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "ok\n");
	/* v6-only: the IPv4 loopback is not served. */
	assert_int_equal(http_raw(AF_INET, port, "GET / HTTP/1.0\r\n\r\n", r), -ECONNREFUSED);
	httpd__stop(d);
	free(r);
}

/* "localhost" is resolved; whichever loopback it gave is served. */
static void test_localhost(void **state)
{
	struct resp *r = malloc(sizeof(*r));
	struct httpd *d;
	char addr[64];
	int port = free_port(AF_INET);

	(void)state;
	assert_non_null(r);
	snprintf(addr, sizeof(addr), "localhost:%d", port);
	d = httpd__start(addr, NULL, NULL);
	if (!d && errno == EADDRINUSE) /* ::1 came first and the port is taken there */
		skip();
	assert_non_null(d);
	if (http_raw(AF_INET, port, "GET /healthz HTTP/1.0\r\n\r\n", r))
		assert_int_equal(http_raw(AF_INET6, port, "GET /healthz HTTP/1.0\r\n\r\n", r), 0);
	assert_int_equal(r->status, 200);
	httpd__stop(d);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test(test_null_health),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_localhost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
