// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the Prometheus registry (user/export/metrics.c).
 *
 * With SONDE_PROMTOOL_OUT=FILE set, test_promtool_sample also writes a render
 * that exercises every feature to FILE, for `promtool check metrics < FILE`.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "export/metrics.h"

static const double default_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					 0.25,  0.5,    1,     2.5,  5,     10 };
#define NDEFAULT ((int)(sizeof(default_bounds) / sizeof(default_bounds[0])))

static char *render(struct metrics *m)
{
	size_t len = 0;
	char *text = metrics__render(m, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* Assert that the text holds this exact line. */
static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	fail_msg("line not found: \"%s\" in:\n%s", line, text);
}

static void test_empty(void **state)
{
	struct metrics *m = metrics__new();
	size_t len = 1;
	char *text;

	(void)state;
	text = metrics__render(m, &len);
	assert_non_null(text);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
	metrics__free(m);
	metrics__free(NULL);
}

static void test_counter_gauge_exact(void **state)
{
	static const char *const lab[] = { "method", "code" };
	struct metrics *m = metrics__new();
	struct metric_family *c, *g, *u;
	char *text;

	(void)state;
	c = metrics__counter(m, "sonde_http_requests_total", "HTTP requests seen.", lab, 2);
	g = metrics__gauge(m, "sonde_connections", "Open connections.", NULL, 0);
	u = metrics__gauge(m, "sonde_untouched", NULL, lab, 2);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(u);

	assert_int_equal(metric__add(c, (const char *[]){ "GET", "200" }, 1), 0);
	assert_int_equal(metric__add(c, (const char *[]){ "POST", "500" }, 2), 0);
	assert_int_equal(metric__add(c, (const char *[]){ "GET", "200" }, 3), 0);
	assert_int_equal(metric__set(g, NULL, 7), 0);
	assert_int_equal(metric__add(g, NULL, -2.5), 0);

	text = render(m);
	assert_string_equal(text, "# HELP sonde_http_requests_total HTTP requests seen.\n"
				  "# TYPE sonde_http_requests_total counter\n"
				  "sonde_http_requests_total{method=\"GET\",code=\"200\"} 4\n"
				  "sonde_http_requests_total{method=\"POST\",code=\"500\"} 2\n"
				  "# HELP sonde_connections Open connections.\n"
				  "# TYPE sonde_connections gauge\n"
				  "sonde_connections 4.5\n"
				  "# TYPE sonde_untouched gauge\n");
	free(text);
	metrics__free(m);
}

static void test_histogram_exact(void **state)
{
	static const char *const lab[] = { "uri" };
	static const double b[] = { 0.1, 1, 2.5 };
	struct metrics *m = metrics__new();
	struct metric_family *h, *h0;
	char *text;

	(void)state;
	h = metrics__histogram(m, "sonde_latency_seconds", "Latency.", lab, 1, b, 3);
	h0 = metrics__histogram(m, "sonde_size_bytes", "Size.", NULL, 0, (double[]){ 100 }, 1);
	assert_non_null(h);
	assert_non_null(h0);

	assert_int_equal(metric__observe(h, (const char *[]){ "/a" }, 0.05), 0);
	assert_int_equal(metric__observe(h, (const char *[]){ "/a" }, 0.5), 0);
	assert_int_equal(metric__observe(h, (const char *[]){ "/a" }, 0.5), 0);
	assert_int_equal(metric__observe(h, (const char *[]){ "/a" }, 3), 0);
	assert_int_equal(metric__observe(h, (const char *[]){ "/b" }, 1), 0);
	assert_int_equal(metric__observe(h0, NULL, 150), 0);

	text = render(m);
	assert_string_equal(text, "# HELP sonde_latency_seconds Latency.\n"
				  "# TYPE sonde_latency_seconds histogram\n"
				  "sonde_latency_seconds_bucket{uri=\"/a\",le=\"0.1\"} 1\n"
				  "sonde_latency_seconds_bucket{uri=\"/a\",le=\"1\"} 3\n"
				  "sonde_latency_seconds_bucket{uri=\"/a\",le=\"2.5\"} 3\n"
				  "sonde_latency_seconds_bucket{uri=\"/a\",le=\"+Inf\"} 4\n"
				  "sonde_latency_seconds_sum{uri=\"/a\"} 4.05\n"
				  "sonde_latency_seconds_count{uri=\"/a\"} 4\n"
				  "sonde_latency_seconds_bucket{uri=\"/b\",le=\"0.1\"} 0\n"
				  "sonde_latency_seconds_bucket{uri=\"/b\",le=\"1\"} 1\n"
				  "sonde_latency_seconds_bucket{uri=\"/b\",le=\"2.5\"} 1\n"
				  "sonde_latency_seconds_bucket{uri=\"/b\",le=\"+Inf\"} 1\n"
				  "sonde_latency_seconds_sum{uri=\"/b\"} 1\n"
				  "sonde_latency_seconds_count{uri=\"/b\"} 1\n"
				  "# HELP sonde_size_bytes Size.\n"
				  "# TYPE sonde_size_bytes histogram\n"
				  "sonde_size_bytes_bucket{le=\"100\"} 0\n"
				  "sonde_size_bytes_bucket{le=\"+Inf\"} 1\n"
				  "sonde_size_bytes_sum 150\n"
				  "sonde_size_bytes_count 1\n");
	free(text);
	metrics__free(m);
}

/* The default bucket set: le strings, cumulativity, inclusive bounds. */
static void test_histogram_default_buckets(void **state)
{
	static const char *const le[] = { "0.001", "0.0025", "0.005", "0.01", "0.025",
					  "0.05",  "0.1",    "0.25",  "0.5",  "1",
					  "2.5",   "5",      "10",    "+Inf" };
	struct metrics *m = metrics__new();
	struct metric_family *h;
	char line[128], *text;
	int i;

	(void)state;
	h = metrics__histogram(m, "t_seconds", "T.", NULL, 0, default_bounds, NDEFAULT);
	assert_non_null(h);
	/* Exactly each bound once: le is inclusive, so bucket i gains one per bound. */
	for (i = 0; i < NDEFAULT; i++)
		assert_int_equal(metric__observe(h, NULL, default_bounds[i]), 0);
	/* Just above 10, and far above: only +Inf. */
	assert_int_equal(metric__observe(h, NULL, 10.000001), 0);
	assert_int_equal(metric__observe(h, NULL, 1e9), 0);
	/* Below the first bound, including negatives and -Inf. */
	assert_int_equal(metric__observe(h, NULL, 0), 0);
	assert_int_equal(metric__observe(h, NULL, -5), 0);

	text = render(m);
	for (i = 0; i <= NDEFAULT; i++) {
		/* 2 below the first bound, then one per bound, then 2 above. */
		int want = 2 + (i < NDEFAULT ? i + 1 : NDEFAULT + 2);

		snprintf(line, sizeof(line), "t_seconds_bucket{le=\"%s\"} %d", le[i], want);
		assert_line(text, line);
	}
	assert_line(text, "t_seconds_count 17");
	free(text);

	/* Values between bounds, and just above one, land in the next bucket. */
	metric__clear(h);
	assert_int_equal(metric__observe(h, NULL, 0.0011), 0);
	assert_int_equal(metric__observe(h, NULL, 0.3), 0);
	assert_int_equal(metric__observe(h, NULL, nextafter(1, 2)), 0);
	text = render(m);
	assert_line(text, "t_seconds_bucket{le=\"0.001\"} 0");
	assert_line(text, "t_seconds_bucket{le=\"0.0025\"} 1");
	assert_line(text, "t_seconds_bucket{le=\"0.25\"} 1");
	assert_line(text, "t_seconds_bucket{le=\"0.5\"} 2");
	assert_line(text, "t_seconds_bucket{le=\"1\"} 2");
	assert_line(text, "t_seconds_bucket{le=\"2.5\"} 3");
	assert_line(text, "t_seconds_bucket{le=\"+Inf\"} 3");
	free(text);
	metrics__free(m);
}

static void test_number_format(void **state)
{
	static const char *const lab[] = { "v" };
	static const struct {
		const char *label;
		double v;
		const char *want;
	} cases[] = {
		{ "int", 42, "42" },
		{ "neg", -3, "-3" },
		{ "negzero", -0.0, "0" },
		{ "big", 1e15, "1000000000000000" },
		{ "2p53", 9007199254740992.0, "9007199254740992" },
		{ "2p60", 1152921504606846976.0, "1.152921504606847e+18" },
		{ "huge", 1e20, "1e+20" },
		{ "tenth", 0.1, "0.1" },
		{ "small", 1e-05, "1e-05" },
		{ "sum", 0.1 + 0.2, "0.30000000000000004" },
		{ "third", 1.0 / 3, "0.3333333333333333" },
		{ "half", -2.5, "-2.5" },
		{ "nan", NAN, "NaN" },
		{ "inf", INFINITY, "+Inf" },
		{ "ninf", -INFINITY, "-Inf" },
	};
	struct metrics *m = metrics__new();
	struct metric_family *g = metrics__gauge(m, "num", "Numbers.", lab, 1);
	char line[128], *text;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(metric__set(g, &cases[i].label, cases[i].v), 0);
	text = render(m);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "num{v=\"%s\"} %s", cases[i].label, cases[i].want);
		assert_line(text, line);
		/* Whatever the form, it reads back as the same double. */
		if (!isnan(cases[i].v))
			assert_true(strtod(cases[i].want, NULL) == cases[i].v);
	}
	free(text);
	metrics__free(m);
}

static void test_escape(void **state)
{
	static const char *const lab[] = { "path" };
	struct metrics *m = metrics__new();
	struct metric_family *c;
	char out[64], *text;

	(void)state;
	assert_int_equal(metrics_escape_label("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(metrics_escape_label("a\\b\"c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	assert_int_equal(metrics_escape_label("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* Size queries, and truncation keeps whole escape sequences only. */
	assert_int_equal(metrics_escape_label("x\"y", NULL, 0), 4);
	assert_int_equal(metrics_escape_label("x\"y", out, 3), 4);
	assert_string_equal(out, "x");
	assert_int_equal(metrics_escape_label("x\"y", out, 4), 4);
	assert_string_equal(out, "x\\\"");
	assert_int_equal(metrics_escape_label("tab\tstays", out, sizeof(out)), 9);
	assert_string_equal(out, "tab\tstays");

	c = metrics__counter(m, "esc_total", "Back\\slash, \"quotes\" and\nnewline.", lab, 1);
	assert_non_null(c);
	assert_int_equal(metric__add(c, (const char *[]){ "C:\\dir\n\"q\"" }, 1), 0);
	text = render(m);
	/* HELP escapes \ and newline only; label values also escape quotes. */
	assert_string_equal(text, "# HELP esc_total Back\\\\slash, \"quotes\" and\\nnewline.\n"
				  "# TYPE esc_total counter\n"
				  "esc_total{path=\"C:\\\\dir\\n\\\"q\\\"\"} 1\n");
	free(text);
	metrics__free(m);
}

static void test_invalid_utf8(void **state)
{
	static const char *const lab[] = { "v" };
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "caf\xc3\xa9", "caf\xc3\xa9" },			/* valid 2-byte */
		{ "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac" }, /* valid 3-byte */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },		/* valid 4-byte */
		{ "a\xff" "b", "a?b" },					/* never valid */
		{ "\x80\x80", "??" },					/* stray continuations */
		{ "\xc3", "?" },					/* truncated at the end */
		{ "\xe6\x97" "x", "??x" },				/* truncated mid-string */
		{ "\xc0\xaf", "??" },					/* overlong '/' */
		{ "\xe0\x80\xaf", "???" },				/* overlong, 3 bytes */
		{ "\xed\xa0\x80", "???" },				/* UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", "????" },				/* above U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", "?????" },			/* 5-byte form */
	};
	struct metrics *m = metrics__new();
	struct metric_family *g = metrics__gauge(m, "utf", "UTF-8.", lab, 1);
	char out[64], line[128], *text;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_escape_label(cases[i].in, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
		assert_int_equal(metric__set(g, &cases[i].in, i), 0);
	}
	assert_int_equal(metrics_utf8_len("a"), 1);
	assert_int_equal(metrics_utf8_len("\xc3\xa9"), 2);
	assert_int_equal(metrics_utf8_len("\xef\xbf\xbf"), 3);
	assert_int_equal(metrics_utf8_len("\xf4\x8f\xbf\xbf"), 4);
	assert_int_equal(metrics_utf8_len("\xc3"), 0);

	/* Invalid help text is repaired too. */
	assert_non_null(metrics__gauge(m, "utf_help", "bad \xfe byte", NULL, 0));

	text = render(m);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "utf{v=\"%s\"} %u", cases[i].want, i);
		assert_line(text, line);
	}
	assert_line(text, "# HELP utf_help bad ? byte");
	free(text);
	metrics__free(m);
}

/* Series that differ only in how bytes split across labels are distinct. */
static void test_label_boundaries(void **state)
{
	static const char *const lab[] = { "a", "b" };
	struct metrics *m = metrics__new();
	struct metric_family *c = metrics__counter(m, "split_total", "Split.", lab, 2);
	char *text;

	(void)state;
	assert_int_equal(metric__add(c, (const char *[]){ "ab", "" }, 1), 0);
	assert_int_equal(metric__add(c, (const char *[]){ "a", "b" }, 2), 0);
	assert_int_equal(metric__add(c, (const char *[]){ "", "ab" }, 3), 0);
	assert_int_equal(metric__add(c, (const char *[]){ "a", "b" }, 10), 0);
	text = render(m);
	assert_string_equal(text, "# HELP split_total Split.\n"
				  "# TYPE split_total counter\n"
				  "split_total{a=\"ab\",b=\"\"} 1\n"
				  "split_total{a=\"a\",b=\"b\"} 12\n"
				  "split_total{a=\"\",b=\"ab\"} 3\n");
	free(text);
	metrics__free(m);
}

#define MANY 10000

static void test_many_series(void **state)
{
	static const char *const lab[] = { "id", "kind" };
	struct metrics *m = metrics__new();
	struct metric_family *c = metrics__counter(m, "many_total", "Many.", lab, 2);
	char id[16], line[64], *text, *p;
	const char *v[2] = { id, "k" };
	int i, round;

	(void)state;
	for (round = 1; round <= 3; round++) {
		for (i = 0; i < MANY; i++) {
			snprintf(id, sizeof(id), "%d", i);
			assert_int_equal(metric__add(c, v, i + round), 0);
		}
	}
	text = render(m);
	/* Creation order, each series once, exact totals. */
	p = text;
	for (i = 0; i < MANY; i++) {
		snprintf(line, sizeof(line), "many_total{id=\"%d\",kind=\"k\"} %d\n", i,
			 3 * i + 6);
		p = strstr(p, line);
		assert_non_null(p);
		p += strlen(line);
	}
	assert_int_equal(*p, '\0');
	free(text);

	/* Clearing drops them all; the family keeps working afterwards. */
	metric__clear(c);
	assert_int_equal(metric__add(c, (const char *[]){ "x", "y" }, 1), 0);
	text = render(m);
	assert_string_equal(text, "# HELP many_total Many.\n"
				  "# TYPE many_total counter\n"
				  "many_total{id=\"x\",kind=\"y\"} 1\n");
	free(text);
	metrics__free(m);
}

#define ITERS 100000

struct race {
	struct metrics *m;
	struct metric_family *c, *h;
	const char *who;
	int stop;     /* __atomic: set by the main thread */
	int failures; /* cmocka asserts must not fire outside the main thread */
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	const char *v[] = { r->who };
	int i;

	for (i = 0; i < ITERS; i++) {
		if (metric__add(r->c, v, 1) || metric__add(r->c, (const char *[]){ "shared" }, 1) ||
		    metric__observe(r->h, NULL, (i % 4) * 0.5))
			r->failures++;
	}
	return NULL;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	int n = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) || n < 10) {
		size_t len;
		char *text = metrics__render(r->m, &len);

		if (!text || strlen(text) != len)
			r->failures++;
		free(text);
		n++;
	}
	return NULL;
}

static void test_concurrency(void **state)
{
	static const char *const lab[] = { "who" };
	struct race r = { 0 }, a, b;
	pthread_t ta, tb, tr;
	char *text;

	(void)state;
	r.m = metrics__new();
	r.c = metrics__counter(r.m, "race_total", "Race.", lab, 1);
	r.h = metrics__histogram(r.m, "race_seconds", "Race.", NULL, 0, (double[]){ 0.5, 1 }, 2);
	a = r;
	a.who = "a";
	b = r;
	b.who = "b";
	assert_int_equal(pthread_create(&tr, NULL, race_reader, &r), 0);
	assert_int_equal(pthread_create(&ta, NULL, race_writer, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, race_writer, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tr, NULL);
	assert_int_equal(a.failures + b.failures + r.failures, 0);

	text = render(r.m);
	assert_line(text, "race_total{who=\"a\"} 100000");
	assert_line(text, "race_total{who=\"b\"} 100000");
	assert_line(text, "race_total{who=\"shared\"} 200000");
	/* Per writer: i%4 gives 0, 0.5, 1, 1.5 equally often. */
	assert_line(text, "race_seconds_bucket{le=\"0.5\"} 100000");
	assert_line(text, "race_seconds_bucket{le=\"1\"} 150000");
	assert_line(text, "race_seconds_bucket{le=\"+Inf\"} 200000");
	assert_line(text, "race_seconds_sum 150000");
	assert_line(text, "race_seconds_count 200000");
	free(text);
	metrics__free(r.m);
}

static void test_errors(void **state)
{
	static const char *const one[] = { "a" };
	static const char *const thirteen[] = { "a", "b", "c", "d", "e", "f", "g",
						"h", "i", "j", "k", "l", "m" }; /* > METRIC_LABELS_MAX */
	static const char *const dup[] = { "a", "a" };
	static const char *const le[] = { "le" };
	static const char *const reserved[] = { "__name" };
	static const char *const badlab[] = { "a-b" };
	static const char *const colon[] = { "a:b" };
	static const char *const nulllab[] = { NULL };
	static const double bad_order[] = { 1, 1 };
	static const double bad_nan[] = { 1, NAN };
	static const double bad_inf[] = { 1, INFINITY };
	struct metrics *m = metrics__new();
	struct metric_family *c, *g, *h;
	const char *v[] = { "x" };
	const char *vnull[] = { NULL };

	(void)state;
#define EXPECT_EINVAL(expr)                          \
	do {                                         \
		errno = 0;                           \
		assert_null(expr);                   \
		assert_int_equal(errno, EINVAL);     \
	} while (0)
	EXPECT_EINVAL(metrics__counter(NULL, "a_total", "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, NULL, "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, "", "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, "1abc", "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, "a-b", "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, "a b", "", NULL, 0));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", thirteen, 13));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", one, -1));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", NULL, 1));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", dup, 2));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", reserved, 1));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", badlab, 1));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", colon, 1));
	EXPECT_EINVAL(metrics__gauge(m, "g", "", nulllab, 1));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", le, 1, default_bounds, NDEFAULT));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", NULL, 0, bad_order, 2));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", NULL, 0, bad_nan, 2));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", NULL, 0, bad_inf, 2));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", NULL, 0, NULL, 2));
	EXPECT_EINVAL(metrics__histogram(m, "h", "", NULL, 0, default_bounds, -1));

	/* Eight labels and "le" on a counter are fine; a colon in a metric name too. */
	assert_non_null(metrics__gauge(m, "g12", "", thirteen, 12));
	assert_non_null(metrics__gauge(m, "ns:g", "", le, 1));
	/* Only +Inf: allowed. */
	assert_non_null(metrics__histogram(m, "h_inf", "", NULL, 0, NULL, 0));

	c = metrics__counter(m, "c_total", "C.", one, 1);
	g = metrics__gauge(m, "g", "G.", NULL, 0);
	h = metrics__histogram(m, "h", "H.", NULL, 0, default_bounds, NDEFAULT);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);

	/* Duplicates, including a histogram's generated names both ways. */
	EXPECT_EINVAL(metrics__counter(m, "c_total", "", NULL, 0));
	EXPECT_EINVAL(metrics__gauge(m, "c_total", "", NULL, 0));
	EXPECT_EINVAL(metrics__gauge(m, "h_sum", "", NULL, 0));
	EXPECT_EINVAL(metrics__counter(m, "h_count", "", NULL, 0));
	EXPECT_EINVAL(metrics__gauge(m, "h_bucket", "", NULL, 0));
	EXPECT_EINVAL(metrics__histogram(m, "g", "", NULL, 0, NULL, 0));
	assert_non_null(metrics__gauge(m, "x_sum", "", NULL, 0));
	EXPECT_EINVAL(metrics__histogram(m, "x", "", NULL, 0, NULL, 0));
	assert_non_null(metrics__gauge(m, "h_total", "", NULL, 0));

	/* NULL family, wrong type, bad values. */
	assert_int_equal(metric__add(NULL, v, 1), -EINVAL);
	assert_int_equal(metric__set(NULL, v, 1), -EINVAL);
	assert_int_equal(metric__observe(NULL, v, 1), -EINVAL);
	metric__clear(NULL);
	assert_int_equal(metric__observe(c, v, 1), -EINVAL);
	assert_int_equal(metric__observe(g, NULL, 1), -EINVAL);
	assert_int_equal(metric__add(h, NULL, 1), -EINVAL);
	assert_int_equal(metric__set(h, NULL, 1), -EINVAL);
	assert_int_equal(metric__add(c, v, -1), -EINVAL);
	assert_int_equal(metric__add(c, v, NAN), -EINVAL);
	assert_int_equal(metric__set(c, v, -1), -EINVAL);
	assert_int_equal(metric__observe(h, NULL, NAN), -EINVAL);
	assert_int_equal(metric__add(c, NULL, 1), -EINVAL);
	assert_int_equal(metric__add(c, vnull, 1), -EINVAL);

	/* What is allowed: a counter total going down is a reset, gauges take NaN. */
	assert_int_equal(metric__set(c, v, 10), 0);
	assert_int_equal(metric__set(c, v, 4), 0);
	assert_int_equal(metric__add(c, v, 0), 0);
	assert_int_equal(metric__set(g, NULL, NAN), 0);
	assert_int_equal(metric__observe(h, NULL, INFINITY), 0);
	assert_int_equal(metric__observe(h, NULL, -INFINITY), 0);

	assert_int_equal(metrics__add_collector(NULL, (void (*)(void *))free, NULL), -EINVAL);
	assert_int_equal(metrics__add_collector(m, NULL, NULL), -EINVAL);
	assert_null(metrics__render(NULL, NULL));
	metrics__free(m);
#undef EXPECT_EINVAL
}

struct coll {
	struct metric_family *g;
	int calls;
};

static void collect(void *ctx)
{
	struct coll *c = ctx;
	int i;

	c->calls++;
	/* Recomputed per scrape: drop what the previous scrape saw. */
	metric__clear(c->g);
	for (i = 0; i < c->calls; i++) {
		char name[16];
		const char *v[] = { name };

		snprintf(name, sizeof(name), "p%d", i);
		metric__set(c->g, v, c->calls * 10 + i);
	}
}

static void noop(void *ctx)
{
	(*(int *)ctx)++;
}

/* observe_n(v, n) renders exactly as n observe(v), _sum to the last bit. */
static void test_observe_n(void **state)
{
	static const char *const lbl[] = { "op" };
	static const char *const a[] = { "a" }, *const b[] = { "b" };
	struct metrics *m1 = metrics__new(), *m2 = metrics__new();
	struct metric_family *h1 = metrics__histogram(m1, "t_seconds", "h", lbl, 1, default_bounds,
						      NDEFAULT);
	struct metric_family *h2 = metrics__histogram(m2, "t_seconds", "h", lbl, 1, default_bounds,
						      NDEFAULT);
	struct metric_family *c2 = metrics__counter(m2, "c_total", NULL, NULL, 0);
	char *t1, *t2;
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(metric__observe(h1, a, 0.1), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(metric__observe(h1, b, 0.0123456789), 0);
	assert_int_equal(metric__observe(h1, a, 7), 0);
	assert_int_equal(metric__observe_n(h2, a, 0.1, 10), 0);
	assert_int_equal(metric__observe_n(h2, b, 0.0123456789, 3), 0);
	assert_int_equal(metric__observe_n(h2, a, 7, 1), 0);
	assert_int_equal(metric__observe_n(h2, a, 3, 0), 0); /* nothing */
	assert_int_equal(metric__observe_n(h2, a, NAN, 2), -EINVAL);
	assert_int_equal(metric__observe_n(c2, NULL, 1, 2), -EINVAL);
	assert_int_equal(metric__observe_n(NULL, a, 1, 2), -EINVAL);
	t1 = render(m1);
	t2 = render(m2);
	assert_line(t2, "t_seconds_count{op=\"a\"} 11");
	assert_line(t2, "t_seconds_bucket{op=\"b\",le=\"0.025\"} 3");
	/* The same text but for the counter family m2 has too. */
	assert_non_null(strstr(t2, t1));
	free(t1);
	free(t2);
	metrics__free(m1);
	metrics__free(m2);
}

static void test_series_handles(void **state)
{
	static const char *const lbl[] = { "k" };
	static const char *const x[] = { "x" }, *const y[] = { "y" };
	struct metrics *m = metrics__new();
	struct metric_family *c = metrics__counter(m, "c_total", NULL, lbl, 1);
	struct metric_family *g = metrics__gauge(m, "g", NULL, lbl, 1);
	struct metric_family *h = metrics__histogram(m, "h_seconds", NULL, lbl, 1, default_bounds,
						     NDEFAULT);
	struct metric_series *cx, *gx, *hy;
	char *text;

	(void)state;
	cx = metric__series(c, x);
	assert_non_null(cx);
	assert_ptr_equal(metric__series(c, x), cx); /* the same series */
	assert_ptr_not_equal(metric__series(c, y), cx);
	assert_null(metric__series(NULL, x));
	assert_null(metric__series(c, NULL));
	assert_int_equal(metric__series_add(cx, 2), 0);
	assert_int_equal(metric__add(c, x, 3), 0); /* both paths update one series */
	assert_int_equal(metric__series_add(cx, -1), -EINVAL);
	assert_int_equal(metric__series_add(cx, NAN), -EINVAL);
	assert_int_equal(metric__series_observe_n(cx, 1, 1), -EINVAL);
	assert_int_equal(metric__series_add(NULL, 1), -EINVAL);
	gx = metric__series(g, x);
	assert_int_equal(metric__series_set(gx, -4.5), 0);
	assert_int_equal(metric__series_add(gx, 1), 0);
	hy = metric__series(h, y);
	assert_int_equal(metric__series_observe_n(hy, 0.003, 4), 0);
	assert_int_equal(metric__observe(h, y, 0.003), 0);
	assert_int_equal(metric__series_add(hy, 1), -EINVAL);
	assert_int_equal(metric__series_set(hy, 1), -EINVAL);
	text = render(m);
	assert_line(text, "c_total{k=\"x\"} 5");
	assert_line(text, "c_total{k=\"y\"} 0");
	assert_line(text, "g{k=\"x\"} -3.5");
	assert_line(text, "h_seconds_bucket{k=\"y\",le=\"0.0025\"} 0");
	assert_line(text, "h_seconds_bucket{k=\"y\",le=\"0.005\"} 5");
	assert_line(text, "h_seconds_count{k=\"y\"} 5");
	free(text);
	metrics__free(m);
}

struct render_arg {
	struct metrics *m;
	int done; /* accessed with __atomic builtins */
};

static void *render_thread(void *p)
{
	struct render_arg *ra = p;

	free(metrics__render(ra->m, NULL));
	__atomic_store_n(&ra->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_batch_lock(void **state)
{
	struct metrics *m = metrics__new(), *other = metrics__new();
	struct metric_family *c = metrics__counter(m, "c_total", NULL, NULL, 0);
	struct render_arg ra = { m, 0 };
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	pthread_t t;
	char *text;

	(void)state;
	assert_int_equal(metrics__lock(NULL), -EINVAL);
	assert_int_equal(metrics__lock(m), 0);
	assert_int_equal(metrics__lock(m), 0); /* nests */
	assert_int_equal(metrics__lock(other), -EDEADLK);
	assert_int_equal(metric__add(c, NULL, 1), 0); /* no self-deadlock */
	assert_non_null(metrics__gauge(m, "g", NULL, NULL, 0));
	errno = 0;
	assert_null(metrics__render(m, NULL));
	assert_int_equal(errno, EDEADLK);
	/* Another thread's render waits for the batch. */
	assert_int_equal(pthread_create(&t, NULL, render_thread, &ra), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(__atomic_load_n(&ra.done, __ATOMIC_SEQ_CST), 0);
	metrics__unlock(m);
	nanosleep(&ts, NULL);
	assert_int_equal(__atomic_load_n(&ra.done, __ATOMIC_SEQ_CST), 0); /* still held once */
	metrics__unlock(m);
	pthread_join(t, NULL);
	assert_int_equal(ra.done, 1);
	metrics__unlock(m); /* not held: ignored */
	text = render(m);
	assert_line(text, "c_total 1");
	free(text);
	metrics__free(m);
	metrics__free(other);
}

static void test_collectors(void **state)
{
	static const char *const lab[] = { "proc" };
	struct metrics *m = metrics__new();
	struct coll c = { 0 };
	char *text;
	int i, n = 0;

	(void)state;
	c.g = metrics__gauge(m, "procs", "Processes.", lab, 1);
	assert_int_equal(metrics__add_collector(m, collect, &c), 0);
	assert_int_equal(c.calls, 0);

	text = render(m);
	assert_int_equal(c.calls, 1);
	assert_string_equal(text, "# HELP procs Processes.\n"
				  "# TYPE procs gauge\n"
				  "procs{proc=\"p0\"} 10\n");
	free(text);
	text = render(m);
	assert_int_equal(c.calls, 2);
	assert_string_equal(text, "# HELP procs Processes.\n"
				  "# TYPE procs gauge\n"
				  "procs{proc=\"p0\"} 20\n"
				  "procs{proc=\"p1\"} 21\n");
	free(text);

	/* Eight collectors at most, all run, in order of registration. */
	for (i = 1; i < 8; i++)
		assert_int_equal(metrics__add_collector(m, noop, &n), 0);
	assert_int_equal(metrics__add_collector(m, noop, &n), -ENOSPC);
	free(render(m));
	assert_int_equal(n, 7);
	assert_int_equal(c.calls, 3);
	metrics__free(m);
}

/* A registry with every feature, for promtool. */
static void test_promtool_sample(void **state)
{
	static const char *const lab[] = { "method", "uri", "code" };
	static const char *const plab[] = { "protocol" };
	const char *out = getenv("SONDE_PROMTOOL_OUT");
	struct metrics *m = metrics__new();
	struct metric_family *req, *lat, *conns, *odd, *events;
	size_t len;
	char *text;
	FILE *f;

	(void)state;
	req = metrics__counter(m, "sonde_http_requests_total", "HTTP requests observed.", lab, 3);
	lat = metrics__histogram(m, "sonde_http_request_duration_seconds",
				 "HTTP request latency, first request byte to last response byte.",
				 lab, 3, default_bounds, NDEFAULT);
	conns = metrics__gauge(m, "sonde_connections", "Connections tracked now.", plab, 1);
	odd = metrics__gauge(m, "sonde_label_escaping", "Odd \\ label\nvalues.", plab, 1);
	events = metrics__counter(m, "sonde_events_total", "Ring buffer events read.", NULL, 0);
	metrics__gauge(m, "sonde_empty", "A family without series.", plab, 1);
	assert_non_null(req);
	assert_non_null(lat);
	assert_non_null(conns);
	assert_non_null(odd);
	assert_non_null(events);

	metric__add(req, (const char *[]){ "GET", "/api/products/{id}", "200" }, 41);
	metric__add(req, (const char *[]){ "POST", "/api/orders", "503" }, 1);
	metric__observe(lat, (const char *[]){ "GET", "/api/products/{id}", "200" }, 0.0123);
	metric__observe(lat, (const char *[]){ "GET", "/api/products/{id}", "200" }, 0.1);
	metric__observe(lat, (const char *[]){ "POST", "/api/orders", "503" }, 12.5);
	metric__set(conns, (const char *[]){ "http1" }, 3);
	metric__set(conns, (const char *[]){ "unknown" }, NAN);
	metric__set(odd, (const char *[]){ "quote\" back\\ nl\n tab\t bad\xff\xc3 ok\xc3\xa9" }, 1.5);
	metric__set(odd, (const char *[]){ "" }, -INFINITY);
	metric__set(events, NULL, 1e17);

	text = metrics__render(m, &len);
	assert_non_null(text);
	if (out && *out) {
		f = fopen(out, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(text, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	free(text);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_counter_gauge_exact),
		cmocka_unit_test(test_histogram_exact),
		cmocka_unit_test(test_histogram_default_buckets),
		cmocka_unit_test(test_number_format),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_label_boundaries),
		cmocka_unit_test(test_many_series),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_collectors),
		cmocka_unit_test(test_observe_n),
		cmocka_unit_test(test_series_handles),
		cmocka_unit_test(test_batch_lock),
		cmocka_unit_test(test_promtool_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
