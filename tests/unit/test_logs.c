// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the log sink (records from exchanges), its JSON lines and the file writer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <zlib.h>

#include "config.h"
#include "export/log_file.h"
#include "export/log_http.h"
#include "export/log_json.h"
#include "sinks/log_sink.h"

static struct exchange http_x(int status, const char *target, struct sonde_conn_tuple *t)
{
	struct exchange x;

	memset(&x, 0, sizeof(x));
	memset(t, 0, sizeof(*t));
	t->family = SONDE_AF_INET;
	inet_pton(AF_INET, "10.1.2.3", t->raddr);
	t->rport = 40000;
	x.kind = EXCHANGE_SERVER;
	x.proto = EXCHANGE_HTTP;
	x.service_name = "shop";
	x.tgid = 42;
	x.tid = 43;
	x.tuple = t;
	x.start_ns = 1000000;
	x.end_ns = 4100000;
	x.operation = "GET";
	x.target = target;
	x.status = status;
	x.error_code = "";
	x.ctx.trace_id[15] = 1;
	x.ctx.span_id = 0xabc;
	return x;
}

static char *line_of(const struct log_sink *ls, const struct exchange *x)
{
	struct log_record r;
	char scratch[LOG_SCRATCH];
	struct zbuf b = { 0 };

	if (!log_sink__build(ls, x, &r, scratch))
		return NULL;
	log_json_line(&b, &r);
	return b.p;
}

static void test_access_line(void **state)
{
	struct config cfg;
	struct log_sink *ls;
	struct sonde_conn_tuple t;
	struct exchange x;
	char *l;

	(void)state;
	config_init(&cfg);
	snprintf(cfg.environment, sizeof(cfg.environment), "prod");
	ls = log_sink__new(&cfg);
	x = http_x(200, "/api/products/17?token=secret", &t);
	l = line_of(ls, &x);
	assert_non_null(l);
	assert_non_null(strstr(l, "\"log.level\":\"INFO\",\"log.logger\":\"sonde.http\","
				  "\"message\":\"GET /api/products/{id} 200 3.1 ms\""));
	assert_non_null(strstr(l, "\"service.name\":\"shop\",\"service.environment\":\"prod\","
				  "\"process.pid\":42,\"process.thread.id\":43,"
				  "\"trace.id\":\"00000000000000000000000000000001\","
				  "\"span.id\":\"0000000000000abc\""));
	assert_non_null(strstr(l, "\"url.path\":\"/api/products/17\""));
	assert_non_null(strstr(l, "\"http.response.status_code\":200"));
	assert_non_null(strstr(l, "\"event.duration\":3100000"));
	assert_non_null(strstr(l, "\"client.address\":\"10.1.2.3\",\"client.port\":40000"));
	assert_null(strstr(l, "secret"));
	assert_string_equal(l + strlen(l) - 2, "}\n");
	assert_true(l[0] == '{' && !strncmp(l + 1, "\"@timestamp\":\"", 14));
	assert_null(strstr(l, "k8s."));
	free(l);

	/* In a pod: its namespace, name, container and node. */
	{
		struct k8s_meta k = { .namespace_ = "shop", .pod = "order-7d9f8c6b5d-x2x9z",
				      .container = "order", .node = "node-1" };

		x = http_x(200, "/api/products/17", &t);
		x.k8s = &k;
		l = line_of(ls, &x);
		assert_non_null(strstr(l, "\"k8s.namespace.name\":\"shop\",\"k8s.pod.name\":"
					  "\"order-7d9f8c6b5d-x2x9z\",\"k8s.container.name\":\"order\","
					  "\"k8s.node.name\":\"node-1\""));
		free(l);
	}

	/* Levels: 4xx WARN, 5xx ERROR; a successful call makes no line, a failed one does. */
	x = http_x(404, "/x", &t);
	l = line_of(ls, &x);
	assert_non_null(strstr(l, "\"log.level\":\"WARN\""));
	free(l);
	x = http_x(503, "/x", &t);
	l = line_of(ls, &x);
	assert_non_null(strstr(l, "\"log.level\":\"ERROR\""));
	free(l);
	x = http_x(200, "/x", &t);
	x.kind = EXCHANGE_CLIENT;
	assert_null(line_of(ls, &x));
	x.proto = EXCHANGE_REDIS;
	x.operation = "LPUSH";
	x.target = "carts:1";
	x.error = true;
	x.error_code = "WRONGTYPE";
	l = line_of(ls, &x);
	assert_non_null(strstr(l, "\"log.logger\":\"sonde.redis\",\"message\":\"redis LPUSH failed: "
				  "WRONGTYPE 3.1 ms\""));
	assert_non_null(strstr(l, "\"cache\":\"carts\""));
	assert_non_null(strstr(l, "\"server.address\":\"10.1.2.3\""));
	assert_null(strstr(l, "carts:1"));
	free(l);
	log_sink__free(ls);

	/* --log-level WARN: INFO lines are not made. */
	cfg.log_level = LOG_WARN;
	ls = log_sink__new(&cfg);
	x = http_x(200, "/x", &t);
	assert_null(line_of(ls, &x));
	x = http_x(500, "/x", &t);
	l = line_of(ls, &x);
	assert_non_null(l);
	free(l);
	log_sink__free(ls);
	config_free(&cfg);
}

/* Calls failed below their protocol (EXCHANGE_NET): an ERROR line each, no query string. */
static void test_failed_call_line(void **state)
{
	struct config cfg;
	struct log_sink *ls;
	struct sonde_conn_tuple t;
	struct exchange x;
	char *l;

	(void)state;
	config_init(&cfg);
	cfg.log_level = LOG_ERROR;
	ls = log_sink__new(&cfg);
	x = http_x(0, "", &t);
	x.kind = EXCHANGE_CLIENT;
	x.proto = EXCHANGE_NET;
	x.error = true;
	x.start_ns = x.end_ns;
	x.operation = "connect";
	x.error_code = "ECONNREFUSED";
	x.net.app = "";
	x.net.request = "";
	l = line_of(ls, &x);
	assert_non_null(l);
	assert_non_null(strstr(l, "\"log.level\":\"ERROR\",\"log.logger\":\"sonde.net\","
				  "\"message\":\"tcp failed at connect: ECONNREFUSED 0.0 ms\""));
	assert_non_null(strstr(l, "\"error.type\":\"ECONNREFUSED\""));
	assert_non_null(strstr(l, "\"server.address\":\"10.1.2.3\",\"server.port\":40000"));
	free(l);

	x.start_ns = 1000000;
	x.operation = "receive";
	x.error_code = "ECONNRESET";
	x.target = "/api/stock/7?key=secret";
	x.net.app = "http";
	x.net.request = "GET";
	l = line_of(ls, &x);
	assert_non_null(strstr(l, "\"log.logger\":\"sonde.http\",\"message\":\"http GET "
				  "/api/stock/{id} failed at receive: ECONNRESET 3.1 ms\""));
	assert_non_null(strstr(l, "\"url.path\":\"/api/stock/7\""));
	assert_null(strstr(l, "secret"));
	free(l);
	log_sink__free(ls);
	config_free(&cfg);
}

static void test_json_escapes(void **state)
{
	struct log_record r;
	struct zbuf b = { 0 };
	const char msg[] = "a \"quote\" \\ tab\t nl\n bad \xff utf8 \xc3\xa9";

	(void)state;
	memset(&r, 0, sizeof(r));
	r.time_ns = 1764806400123000000ULL; /* 2025-12-04T00:00:00.123Z */
	r.logger = "app";
	r.service = "s";
	r.message = msg;
	r.message_len = sizeof(msg) - 1;
	log_json_line(&b, &r);
	assert_string_equal(b.p, "{\"@timestamp\":\"2025-12-04T00:00:00.123Z\",\"log.level\":\"DEBUG\","
				 "\"log.logger\":\"app\",\"message\":\"a \\\"quote\\\" \\\\ tab\\u0009 "
				 "nl\\u000a bad \xef\xbf\xbd utf8 \xc3\xa9\",\"service.name\":\"s\","
				 "\"process.pid\":0}\n");
	zbuf_free(&b);
}

static int count_lines_in(const char *dir, int *files, int *split)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512], buf[256];
	int n = 0;

	*files = 0;
	*split = 0;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		(*files)++;
		while (fgets(buf, sizeof(buf), f)) {
			if (buf[0] != '{' || !strstr(buf, "}\n"))
				(*split)++;
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static void test_file_rotation(void **state)
{
	char dir[] = "/tmp/sonde-logs-XXXXXX", path[64];
	struct log_file_opts o = { 0 };
	struct log_file_stats st;
	struct log_record r;
	struct log_file *f;
	int files, split;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.log", dir);
	o.path = path;
	o.max_size = 4096;
	o.files = 100;
	f = log_file__start(&o);
	assert_non_null(f);
	memset(&r, 0, sizeof(r));
	r.logger = "t";
	r.service = "svc";
	r.message = "a line of about a hundred bytes";
	r.message_len = strlen(r.message);
	for (int i = 0; i < 1000; i++) {
		r.pid = (uint32_t)i;
		log_file__out(f, &r);
	}
	log_file__stats(f, &st);
	log_file__free(f);
	assert_int_equal(count_lines_in(dir, &files, &split), 1000);
	assert_int_equal(split, 0);
	assert_true(files > 10);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/*
 * Loki's JSON push body: one stream per label set with its entries in order,
 * nanosecond strings, lines escaped; gzip of it inflates back to the same bytes.
 */
static void test_loki_json(void **state)
{
	struct log_record r = { 0 };
	char a[320], b[320];
	struct zbuf body = { 0 }, gz = { 0 };
	struct json_object *o, *streams, *st, *vals, *v;
	char *back;
	z_stream z = { 0 };

	(void)state;
	r.service = "sh\"op";
	r.environment = "test";
	r.level = LOG_INFO;
	loki_labels(&r, true, a, sizeof(a));
	assert_string_equal(a, "{\"service\":\"sh\\\"op\",\"environment\":\"test\",\"level\":\"INFO\"}");
	r.environment = NULL;
	r.level = LOG_ERROR;
	loki_labels(&r, true, b, sizeof(b));
	assert_string_equal(b, "{\"service\":\"sh\\\"op\",\"level\":\"ERROR\"}");
	loki_labels(&r, false, b + 100, 200);
	assert_string_equal(b + 100, "{service=\"sh\\\"op\", level=\"ERROR\"}");
	loki_labels(&r, true, b, sizeof(b));

	const struct loki_entry e[] = {
		{ a, 1733380000123456789ULL, "{\"message\":\"one\"}", 17 },
		{ b, 1733380000123456790ULL, "{\"message\":\"two\\n\"}", 20 },
		{ a, 1733380000123456791ULL, "{\"message\":\"three\"}", 19 },
	};
	loki_push_json(&body, e, 3);
	assert_false(body.oom);
	o = json_tokener_parse(body.p);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "streams", &streams));
	assert_int_equal(json_object_array_length(streams), 2);
	st = json_object_array_get_idx(streams, 0);
	assert_true(json_object_object_get_ex(st, "values", &vals));
	assert_int_equal(json_object_array_length(vals), 2);
	v = json_object_array_get_idx(vals, 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "1733380000123456791");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "{\"message\":\"three\"}");
	st = json_object_array_get_idx(streams, 1);
	assert_true(json_object_object_get_ex(st, "stream", &v));
	assert_true(json_object_object_get_ex(v, "level", &v));
	assert_string_equal(json_object_get_string(v), "ERROR");
	json_object_put(o);

	assert_int_equal(gzip_buf(&gz, body.p, body.len), 0);
	assert_true(gz.len > 18 && (unsigned char)gz.p[0] == 0x1f && (unsigned char)gz.p[1] == 0x8b);
	back = malloc(body.len + 1);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz.p;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)back;
	z.avail_out = (uInt)body.len + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, body.len);
	assert_memory_equal(back, body.p, body.len);
	inflateEnd(&z);
	free(back);
	zbuf_free(&body);
	zbuf_free(&gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_access_line),
	    cmocka_unit_test(test_failed_call_line),
	    cmocka_unit_test(test_json_escapes),
	    cmocka_unit_test(test_file_rotation),
	    cmocka_unit_test(test_loki_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
