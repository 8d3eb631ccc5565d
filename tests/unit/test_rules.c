// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the rate-limit rules' matcher (user/rules.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rules.h"

#define STATES 2048

struct dfa {
	uint16_t next[STATES * 256];
	uint8_t accept[STATES];
};

static int compile(struct dfa *d, const char *const *m, int n)
{
	char err[256];

	return rules_compile(m, n, d->next, d->accept, STATES, err, sizeof(err));
}

/* The seed's four rules, and what they match. */
static void test_seed_rules(void **state)
{
	static const char *const m[] = { "POST /api/auth/login", "POST /api/auth/register",
					  "/api/orders/**", "/api/products/**" };
	struct dfa *d = malloc(sizeof(*d));

	(void)state;
	assert_true(compile(d, m, 4) > 2);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/auth/login"), 0);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/auth/login?next=/x HTTP/1.1"), 0);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/auth/login"), -1);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/auth/loginx"), -1);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/auth/register HTTP/1.1"), 1);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/orders"), 2);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/orders/17/cancel"), 2);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/ordersX"), -1);
	assert_int_equal(rules_run(d->next, d->accept, "DELETE /api/products/9"), 3);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/products#top"), 3);
	assert_int_equal(rules_run(d->next, d->accept, "GET /"), -1);
	assert_int_equal(rules_run(d->next, d->accept, "get /api/products"), -1);
	free(d);
}

/* {name} and * are one non-empty segment; the first rule in order wins. */
static void test_segments_and_order(void **state)
{
	static const char *const m[] = { "POST /api/orders/{id}/cancel", "GET /api/*/items",
					  "/api/**" };
	struct dfa *d = malloc(sizeof(*d));

	(void)state;
	assert_true(compile(d, m, 3) > 2);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/orders/42/cancel"), 0);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/orders/abc-1/cancel"), 0);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/orders//cancel"), 2);
	assert_int_equal(rules_run(d->next, d->accept, "POST /api/orders/1/2/cancel"), 2);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/carts/items"), 1);
	assert_int_equal(rules_run(d->next, d->accept, "GET /api/carts/items/3"), 2);
	assert_int_equal(rules_run(d->next, d->accept, "GET /apix"), -1);
	assert_int_equal(compile(d, m, 0), 2); /* no rules: dead and start */
	assert_int_equal(rules_run(d->next, d->accept, "GET /api"), -1);
	free(d);
}

static void test_bad_matches(void **state)
{
	static const char *const bad[] = { "post /x", "/a/{id", "/a/**/b", "GET", "GET x",
					   "/a b", "/a?b", "/a{id}", " /a", "GET  /a" };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rules_check(bad[i], err, sizeof(err)), -1);
	assert_int_equal(rules_check("PATCH /api/users/{id}", err, sizeof(err)), 0);
	assert_int_equal(rules_check("/**", err, sizeof(err)), 0);
	assert_int_not_equal(rules_id("POST /x", 5, 60), rules_id("POST /x", 6, 60));
	assert_int_equal(rules_id("POST /x", 5, 60), rules_id("POST /x", 5, 60));
}

/* More states than allowed: an error, not a truncated automaton. */
static void test_too_many_states(void **state)
{
	static const char *const m[] = { "/a/{x}/b/{y}/c/{z}/d/**", "/a/*/e/*/f/*/g/**",
					  "/a/{p}/b/{q}/h/**" };
	uint16_t *next = calloc(16 * 256, sizeof(uint16_t));
	uint8_t accept[16];
	char err[256];

	(void)state;
	assert_int_equal(rules_compile(m, 3, next, accept, 16, err, sizeof(err)), -1);
	free(next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_rules),
	    cmocka_unit_test(test_segments_and_order),
	    cmocka_unit_test(test_bad_matches),
	    cmocka_unit_test(test_too_many_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
