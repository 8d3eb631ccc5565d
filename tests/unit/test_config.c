// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "proto/lines.h"

static enum config_result parse(struct config *c, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	FILE *devnull = fopen("/dev/null", "w");
	enum config_result r;

	argv[argc++] = "sonde";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	config_init(c);
	r = config_parse_args(c, argc, argv, devnull);
	fclose(devnull);
	return r;
}

static void test_pids(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "42", "-p", "7=shop", NULL };

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(c.ntargets, 2);
	assert_int_equal(c.targets[0].pid, 42);
	assert_string_equal(c.targets[0].name, "");
	assert_int_equal(c.targets[1].pid, 7);
	assert_string_equal(c.targets[1].name, "shop");
	assert_string_equal(c.listen, "127.0.0.1:9464");
	assert_int_equal(c.capture_bytes, 256);
	assert_null(c.command);
	config_free(&c);
}

static void test_command(void **state)
{
	struct config c;
	const char *args[] = { "-v", "--listen", "0.0.0.0:9000", "--", "nginx", "-g", "x", NULL };

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_non_null(c.command);
	assert_string_equal(c.command[0], "nginx");
	assert_string_equal(c.command[1], "-g");
	assert_string_equal(c.listen, "0.0.0.0:9000");
	assert_int_equal(c.verbose, 1);
	config_free(&c);
}

static void test_bad_usage(void **state)
{
	static const char *const bad[][4] = {
		{ "--bogus", NULL },
		{ "--pid", "abc", NULL },
		{ "--pid", "0", NULL },
		{ "--pid", "12=", NULL },
		{ "--pid", "-5", NULL },
		{ "--pid", "1", "--capture-bytes", "0" },
		{ "--pid", "1", "--capture-bytes", "4097" },
		{ "--pid", "1", "--capture-bytes", "12x" },
		{ "--pid", "1", "--listen", "nocolon" },
		{ NULL }, /* nothing to observe */
		{ "--pid", "1", "stray", NULL },
	};
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[5] = { 0 };

		memcpy(args, bad[i], sizeof(bad[i]));
		assert_int_equal(parse(&c, args), CONFIG_USAGE);
		config_free(&c);
	}
}

static void test_capture_bounds(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "1", "--capture-bytes", "4096", NULL };

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(c.capture_bytes, 4096);
	config_free(&c);
}

static void test_yaml(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "1", "--capture-bytes", "512", NULL };
	const char *y = "# shop\n"
			"listen: 127.0.0.1:9999\n"
			"capture_bytes: 1024\n"
			"max_routes_per_service: 50\n"
			"routes:\n"
			"  - /api/products/{id}/reviews\n"
			"  - /static/**\n"
			"caches:\n"
			"  products: \"products:*\"\n"
			"  carts: \"cart-*\"\n";
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:9999");
	assert_int_equal(c.capture_bytes, 512); /* the command line wins */
	assert_int_equal(c.max_routes, 50);
	assert_int_equal(c.routes.n, 2);
	assert_string_equal(c.routes.pattern[0], "/api/products/{id}/reviews");
	assert_string_equal(c.routes.pattern[1], "/static/**");
	assert_int_equal(c.ncaches, 2);
	assert_string_equal(c.caches[0].name, "products");
	assert_string_equal(c.caches[0].pattern, "products:*");
	assert_string_equal(c.caches[1].name, "carts");
	config_free(&c);
}

static void test_tracing(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "1", "--trace-sample-rate", "0.5", NULL };
	const char *plain[] = { "--pid", "1", NULL };
	const char *y = "tracing:\n"
			"  enabled: true\n"
			"  sample_rate: 0.25\n"
			"  zipkin_url: http://zipkin:9411/api/v2/spans\n"
			"  zipkin_kafka: kafka:9092\n";
	const char *off = "tracing: {enabled: false}\n";
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_true(c.trace_sample_rate == 0.5); /* the command line wins */
	assert_false(c.no_tracing);
	assert_string_equal(c.zipkin_url, "http://zipkin:9411/api/v2/spans");
	assert_string_equal(c.zipkin_kafka, "kafka:9092");
	config_free(&c);
	assert_int_equal(parse(&c, plain), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_true(c.trace_sample_rate == 0.25);
	assert_int_equal(config_load_yaml(&c, off, strlen(off), "t.yaml", err, sizeof(err)), 0);
	assert_true(c.no_tracing);
	config_free(&c);
}

static void test_logs(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "1", "--log-level", "warn", "--log-max-size", "10M",
			       "--environment", "prod", NULL };
	const char *plain[] = { "--pid", "1", NULL };
	const char *bad_size[] = { "--pid", "1", "--log-max-size", "1K", NULL };
	const char *bad_level[] = { "--pid", "1", "--log-level", "loud", NULL };
	const char *y = "environment: staging\n"
			"otlp_url: http://collector:4318\n"
			"logs:\n"
			"  file: /var/log/sonde.json\n"
			"  level: ERROR\n"
			"  max_size: 2G\n"
			"  files: 9\n"
			"  capture_app_logs: true\n"
			"  loki_url: http://loki:3100/loki/api/v1/push\n"
			"  loki_encoding: json\n";
	const char *pb[] = { "--pid", "1", "--loki-encoding", "protobuf", NULL };
	const char *bad_enc[] = { "--pid", "1", "--loki-encoding", "xml", NULL };
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, plain), CONFIG_OK);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_true(c.log_max_size == 100ULL << 20 && c.log_files == 5 && !c.capture_app_logs);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.environment, "staging");
	assert_string_equal(c.log_file, "/var/log/sonde.json");
	assert_int_equal(c.log_level, LOG_ERROR);
	assert_true(c.log_max_size == 2ULL << 30 && c.log_files == 9 && c.capture_app_logs);
	assert_string_equal(c.loki_url, "http://loki:3100/loki/api/v1/push");
	assert_true(c.loki_json);
	assert_string_equal(c.otlp_url, "http://collector:4318");
	config_free(&c);
	assert_int_equal(parse(&c, pb), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_false(c.loki_json); /* the command line wins */
	config_free(&c);
	assert_int_equal(parse(&c, bad_enc), CONFIG_USAGE);
	/* The command line wins. */
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_int_equal(c.log_level, LOG_WARN);
	assert_true(c.log_max_size == 10ULL << 20);
	assert_string_equal(c.environment, "prod");
	config_free(&c);
	assert_int_equal(parse(&c, bad_size), CONFIG_USAGE);
	config_free(&c);
	assert_int_equal(parse(&c, bad_level), CONFIG_USAGE);
	config_free(&c);
}

static void test_rate_limits(void **state)
{
	struct config c;
	const char *args[] = { "--pid", "1", NULL };
	const char *y = "rate_limits:\n"
			"  - {match: \"POST /api/auth/login\", limit: 5, window: 60s}\n"
			"  - match: /api/products/**\n"
			"    limit: 100\n"
			"    window: 500ms\n"
			"  - {match: \"GET /api/orders/{id}\", limit: 128, window: 1h}\n"
			"trusted_proxies: [10.0.0.0/8, \"::1\", 192.168.1.7]\n";
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_int_equal(c.nrate_limits, 3);
	assert_string_equal(c.rate_limits[0].match, "POST /api/auth/login");
	assert_true(c.rate_limits[0].limit == 5 && c.rate_limits[0].window_ns == 60000000000ULL);
	assert_true(c.rate_limits[1].limit == 100 && c.rate_limits[1].window_ns == 500000000ULL);
	assert_true(c.rate_limits[2].window_ns == 3600000000000ULL);
	assert_int_equal(c.nproxies, 3);
	assert_true(c.proxies[0].family == 4 && c.proxies[0].bits == 8 && c.proxies[0].addr[0] == 10);
	assert_true(c.proxies[1].family == 6 && c.proxies[1].bits == 128 && c.proxies[1].addr[15] == 1);
	assert_true(c.proxies[2].family == 4 && c.proxies[2].bits == 32 && c.proxies[2].addr[3] == 7);
	config_free(&c);
}

static void test_yaml_errors(void **state)
{
	static const char *const bad[] = {
		"routes: /x\n",
		"routes:\n  - nope\n",
		"capture_bytes: 0\n",
		"capture_bytes: lots\n",
		"max_routes_per_service: -1\n",
		"listen: 9464\n",
		"unknown_key: 1\n",
		"- a\n- b\n",
		"routes: [\n",
		"key: [unclosed\n",
		"caches: [a, b]\n",
		"caches:\n  x: \"\"\n",
		"tracing: yes\n",
		"tracing:\n  sample_rate: 2\n",
		"tracing:\n  enabled: maybe\n",
		"tracing:\n  zipkin_url: ftp://x\n",
		"tracing:\n  zipkin_kafka: nohost\n",
		"tracing:\n  exporter: x\n",
		"environment: \"a b\"\n",
		"logs: yes\n",
		"logs:\n  level: LOUD\n",
		"logs:\n  max_size: 12Q\n",
		"logs:\n  files: 0\n",
		"logs:\n  capture_app_logs: maybe\n",
		"logs:\n  loki_url: loki:3100\n",
		"logs:\n  rotate: daily\n",
		"otlp_url: collector:4318\n",
		"rate_limits: {match: /x}\n",
		"rate_limits:\n  - {match: /x, limit: 5}\n",
		"rate_limits:\n  - {match: /x, limit: 0, window: 1s}\n",
		"rate_limits:\n  - {match: /x, limit: 129, window: 1s}\n",
		"rate_limits:\n  - {match: /x, limit: 5, window: 1d}\n",
		"rate_limits:\n  - {match: /x, limit: 5, window: 25h}\n",
		"rate_limits:\n  - {match: /x, limit: 5, window: 0s}\n",
		"rate_limits:\n  - {match: \"post /x\", limit: 5, window: 1s}\n",
		"rate_limits:\n  - {match: /a/**/b, limit: 5, window: 1s}\n",
		"rate_limits:\n  - {match: /x, limit: 5, window: 1s, by: ip}\n",
		"trusted_proxies: 10.0.0.1\n",
		"trusted_proxies: [10.0.0.0/33]\n",
		"trusted_proxies: [proxy.local]\n",
		"trusted_proxies: [\"::1/129\"]\n",
	};
	struct config c;
	const char *args[] = { "--pid", "1", NULL };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, args), CONFIG_OK);
		err[0] = '\0';
		assert_int_equal(config_load_yaml(&c, bad[i], strlen(bad[i]), "t.yaml", err,
						  sizeof(err)),
				 -1);
		assert_true(strncmp(err, "t.yaml", 6) == 0);
		config_free(&c);
	}
	/* An empty file is fine. */
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, "", 0, "t.yaml", err, sizeof(err)), 0);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_limits),
		cmocka_unit_test(test_pids),	       cmocka_unit_test(test_command),
		cmocka_unit_test(test_bad_usage),      cmocka_unit_test(test_capture_bounds),
		cmocka_unit_test(test_yaml),	       cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_tracing),	       cmocka_unit_test(test_logs),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
