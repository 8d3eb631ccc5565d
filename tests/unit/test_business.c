// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for business_metrics: (config parsing, user/sinks/business_sink.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "export/metrics.h"
#include "proto/http.h"
#include "sinks/business_sink.h"

static const char YAML[] =
	"business_metrics:\n"
	"  - {name: orders_created_total, match: \"POST /api/orders\", status: 2xx}\n"
	"  - {name: payments_failed_total, match: \"POST /api/payments\", status: 402}\n"
	"  - {name: revenue_total, match: \"POST /api/payments\", sum_json_field: payment.amount}\n"
	"  - {name: refunds_total, match: \"POST /api/refunds/{id}\", status: any, sum_json_field: total,"
	" from: response, service: billing}\n";

static int load(struct config *c, const char *y, char *err, size_t errsz)
{
	config_init(c);
	return config_load_yaml(c, y, strlen(y), "t.yaml", err, errsz);
}

static void test_config(void **state)
{
	static const char *const bad[] = {
		"business_metrics: {name: x}\n",
		"business_metrics:\n  - {match: \"/a\"}\n",
		"business_metrics:\n  - {name: x_total}\n",
		"business_metrics:\n  - {name: \"bad-name\", match: \"/a\"}\n",
		"business_metrics:\n  - {name: sonde_x_total, match: \"/a\"}\n",
		"business_metrics:\n  - {name: x_total, match: \"no-slash\"}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\", status: 2x}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\", status: 600}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\", sum_json_field: a..b}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\", from: header}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\", colour: red}\n",
		"business_metrics:\n  - {name: x_total, match: \"/a\"}\n  - {name: x_total, match: \"/b\", sum_json_field: n}\n",
	};
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(load(&c, YAML, err, sizeof(err)), 0);
	assert_int_equal(c.nbusiness, 4);
	assert_int_equal(c.business[0].status_lo, 200);
	assert_int_equal(c.business[0].status_hi, 299);
	assert_int_equal(c.business[1].status_lo, 402);
	assert_int_equal(c.business[1].status_hi, 402);
	assert_string_equal(c.business[2].sum_field, "payment.amount");
	assert_false(c.business[2].from_response);
	assert_int_equal(c.business[3].status_lo, 100);
	assert_true(c.business[3].from_response);
	assert_string_equal(c.business[3].service, "billing");
	config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(load(&c, bad[i], err, sizeof(err)), 0);
		config_free(&c);
	}
}

static struct exchange server(const char *svc, const char *method, const char *target, int status,
			      const char *req_body, const char *resp_body)
{
	struct exchange x;

	memset(&x, 0, sizeof(x));
	x.kind = EXCHANGE_SERVER;
	x.proto = EXCHANGE_HTTP;
	x.service_name = svc;
	x.http.method = method;
	x.operation = method;
	x.target = target;
	x.status = status;
	if (req_body) {
		x.http.req_body = (const uint8_t *)req_body;
		x.http.req_body_len = (uint32_t)strlen(req_body);
	}
	if (resp_body) {
		x.http.resp_body = (const uint8_t *)resp_body;
		x.http.resp_body_len = (uint32_t)strlen(resp_body);
	}
	return x;
}

static bool has(const char *text, const char *line)
{
	return strstr(text, line) != NULL;
}

static void test_sink(void **state)
{
	struct metrics *m = metrics__new();
	struct business_sink *b;
	struct config c;
	char err[256], *text;
	size_t len;

	(void)state;
	assert_int_equal(load(&c, YAML, err, sizeof(err)), 0);
	assert_non_null(b = business_sink__new(m, &c, err, sizeof(err)));
	/* Bodies asked only of the routes a summing rule reads. */
	assert_int_equal(business_sink__keep(b, "POST", "/api/payments?x=1"), HTTP_KEEP_REQ);
	assert_int_equal(business_sink__keep(b, "POST", "/api/refunds/17"), HTTP_KEEP_RESP);
	assert_int_equal(business_sink__keep(b, "POST", "/api/orders"), 0);
	assert_int_equal(business_sink__keep(b, "GET", "/api/payments"), 0);

	struct exchange x[] = {
		server("shop", "POST", "/api/orders", 201, NULL, NULL),
		server("shop", "POST", "/api/orders", 500, NULL, NULL),
		server("shop", "POST", "/api/orders/", 201, NULL, NULL),
		server("shop", "GET", "/api/orders", 200, NULL, NULL),
		server("shop", "POST", "/api/payments", 402, "{}", NULL),
		server("shop", "POST", "/api/payments", 200, "{\"payment\":{\"amount\":12.5}}", NULL),
		server("shop", "POST", "/api/payments", 200, "{\"payment\":{\"amount\":\"7.50\"}}", NULL),
		server("shop", "POST", "/api/payments", 200, "{\"payment\":{\"amount\":-3}}", NULL),
		server("shop", "POST", "/api/payments", 200, "{\"amount\":3}", NULL),
		server("shop", "POST", "/api/payments", 200, "{\"payment\":", NULL),
		server("shop", "POST", "/api/payments", 200, NULL, NULL),
		server("billing", "POST", "/api/refunds/9", 409, NULL, "{\"total\":4}"),
		server("shop", "POST", "/api/refunds/9", 200, NULL, "{\"total\":100}"),
	};
	x[9].http.req_body_cut = true;
	business_sink__put(b, x, sizeof(x) / sizeof(x[0]));
	/* A client's call is not counted. */
	x[0].kind = EXCHANGE_CLIENT;
	business_sink__put(b, x, 1);
	text = metrics__render(m, &len);
	assert_non_null(text);
	assert_true(has(text, "orders_created_total{service=\"shop\"} 1\n"));
	assert_true(has(text, "payments_failed_total{service=\"shop\"} 1\n"));
	assert_true(has(text, "revenue_total{service=\"shop\"} 20\n"));
	assert_true(has(text, "refunds_total{service=\"billing\"} 4\n"));
	assert_false(has(text, "refunds_total{service=\"shop\"}"));
	assert_true(has(text, "sonde_business_metrics_unread_total{metric=\"revenue_total\",reason=\"not_a_number\"} 1\n"));
	assert_true(has(text, "sonde_business_metrics_unread_total{metric=\"revenue_total\",reason=\"no_field\"} 1\n"));
	assert_true(has(text, "sonde_business_metrics_unread_total{metric=\"revenue_total\",reason=\"truncated\"} 1\n"));
	assert_true(has(text, "sonde_business_metrics_unread_total{metric=\"revenue_total\",reason=\"no_body\"} 1\n"));
	free(text);
	business_sink__free(b);
	/* A name sonde uses already. */
	const char *taken = "business_metrics:\n  - {name: http_server_requests_seconds_count, match: \"/a\"}\n"
			    "  - {name: cache_gets_total, match: \"/a\"}\n";
	config_free(&c);
	assert_int_equal(load(&c, taken, err, sizeof(err)), 0);
	metrics__counter(m, "cache_gets_total", NULL, NULL, 0);
	assert_null(business_sink__new(m, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "cache_gets_total"));
	config_free(&c);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
