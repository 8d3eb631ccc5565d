// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for route normalisation (user/proto/route.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/route.h"

static void check(const struct route_patterns *pats, const char *target, const char *want)
{
	char out[ROUTE_MAX];

	assert_ptr_equal(route_normalize(pats, target, out, sizeof(out)), out);
	assert_string_equal(out, want);
}

static void test_numbers(void **state)
{
	(void)state;
	check(NULL, "/api/products/123?x=1", "/api/products/{id}");
	check(NULL, "/orders/42/items/7", "/orders/{id}/items/{id}");
	check(NULL, "/0", "/{id}");
	check(NULL, "/v1.2/x", "/v1.2/x");
	check(NULL, "/12a", "/12a");
}

static void test_uuid(void **state)
{
	(void)state;
	check(NULL, "/api/orders/550e8400-e29b-41d4-a716-446655440000", "/api/orders/{id}");
	check(NULL, "/o/550E8400-E29B-41D4-A716-446655440000/lines", "/o/{id}/lines");
	/* Too short for a UUID, and the dash keeps it from being a hex id. */
	check(NULL, "/o/550e8400-e29b", "/o/550e8400-e29b");
}

static void test_hex(void **state)
{
	(void)state;
	check(NULL, "/users/5f2b9c0e7a1d4e3f9b8c7d6e/cart", "/users/{id}/cart");
	check(NULL, "/blob/deadbeefdeadbeef", "/blob/{id}");
	check(NULL, "/c/0123456789abcdeF0123456789ABCDEF", "/c/{id}");
	/* Fifteen hex characters are not enough. */
	check(NULL, "/blob/deadbeefdeadbee", "/blob/deadbeefdeadbee");
	check(NULL, "/cafe/facade", "/cafe/facade");
}

static void test_base64ish(void **state)
{
	(void)state;
	check(NULL, "/t/dGhpcyBpcyBhIHRva2VuMTIz", "/t/{id}");
	check(NULL, "/t/aGVsbG8td29ybGQ-_9xyzABC", "/t/{id}");
	check(NULL, "/t/QUJDREVGR0hJSktMTU5PUA==/x", "/t/{id}/x");
	/* Long words without digits, or with other punctuation, stay. */
	check(NULL, "/t/abcdefghijklmnopqrstuvwxyz", "/t/abcdefghijklmnopqrstuvwxyz");
	check(NULL, "/t/this-is-a-long-slug-without-digits",
	      "/t/this-is-a-long-slug-without-digits");
	check(NULL, "/t/release-1.2.3-for-linux.tar.gz", "/t/release-1.2.3-for-linux.tar.gz");
	/* Nineteen characters are not enough. */
	check(NULL, "/t/abcdefghij123456789", "/t/abcdefghij123456789");
}

static void test_words_kept(void **state)
{
	(void)state;
	check(NULL, "/api/v1/products", "/api/v1/products");
	check(NULL, "/v2", "/v2");
	check(NULL, "/healthz", "/healthz");
	check(NULL, "/", "/");
	check(NULL, "/a/", "/a/");
	check(NULL, "//", "//");
	check(NULL, "/a//b", "/a//b");
}

static void test_query_fragment(void **state)
{
	(void)state;
	check(NULL, "/a/b?x=1&y=/2", "/a/b");
	check(NULL, "/a#frag/3", "/a");
	check(NULL, "/a?", "/a");
	check(NULL, "/?x", "/");
	check(NULL, "/items/9#top", "/items/{id}");
}

static void test_target_forms(void **state)
{
	(void)state;
	check(NULL, "http://example.com:8080/api/items/99?q=1", "/api/items/{id}");
	check(NULL, "HTTPS://h.example/x", "/x");
	check(NULL, "http://example.com", "/");
	check(NULL, "http://example.com?q=/a", "/");
	check(NULL, "*", "*");
	check(NULL, "", "/");
	check(NULL, NULL, "/");
	check(NULL, "example.com:443", "/");
	check(NULL, "api/x", "/");
	check(NULL, "*/x", "/");
}

static void test_patterns(void **state)
{
	struct route_patterns pats = {
	    .n = 5,
	    .pattern =
		{
		    "/api/products/{id}/reviews",
		    "/static/**",
		    "/users/{name}",
		    "/**/odd",
		    NULL,
		},
	};

	(void)state;
	check(&pats, "/api/products/abc/reviews?page=2", "/api/products/{id}/reviews");
	check(&pats, "/api/products/123/reviews", "/api/products/{id}/reviews");
	check(&pats, "/static/css/app.css", "/static/**");
	check(&pats, "/static/", "/static/**");
	check(&pats, "/static", "/static/**");
	check(&pats, "/staticx/a", "/staticx/a");
	/* The pattern beats the heuristic. */
	check(&pats, "/users/123", "/users/{name}");
	check(&pats, "/users/bob", "/users/{name}");
	check(&pats, "/users/bob/7", "/users/bob/{id}");
	check(&pats, "/users/", "/users/");
	/* "**" is only special at the end. */
	check(&pats, "/x/odd", "/x/odd");
	check(&pats, "/**/odd", "/**/odd");
	check(&pats, "http://h/static/img/1.png", "/static/**");
}

static void test_match(void **state)
{
	(void)state;
	assert_true(route_match("/a/{x}/c", "/a/b/c"));
	assert_false(route_match("/a/{x}/c", "/a//c"));
	assert_false(route_match("/a/{x}/c", "/a/b/c/d"));
	assert_false(route_match("/a/{x}/c", "/a/b"));
	assert_true(route_match("/a/**", "/a/b/c/d"));
	assert_true(route_match("/a/**", "/a"));
	assert_true(route_match("/**", "/"));
	assert_true(route_match("/**", "/anything/at/all"));
	assert_true(route_match("**", "/x"));
	assert_true(route_match("/{}", "/x"));
	assert_true(route_match("/", "/"));
	assert_false(route_match("/", "/a"));
	assert_false(route_match("/a", "/A"));
	assert_false(route_match("/a/b", "/a"));
	assert_false(route_match("", "/a"));
	assert_true(route_match("", ""));
	assert_false(route_match(NULL, "/a"));
	assert_false(route_match("/a", NULL));
}

static void test_truncation(void **state)
{
	char path[2000], out[ROUTE_MAX + 16];
	struct route_patterns pats = {.n = 1, .pattern = {path}};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(path) - 1; i++)
		path[i] = (i % 7 == 0) ? '/' : 'a' + i % 26;
	path[sizeof(path) - 1] = '\0';

	memset(out, 'X', sizeof(out));
	route_normalize(NULL, path, out, sizeof(out));
	assert_int_equal(strlen(out), ROUTE_MAX - 1);
	assert_memory_equal(out, path, ROUTE_MAX - 1);
	assert_int_equal(out[ROUTE_MAX + 1], 'X');

	route_normalize(NULL, "/1234567/abc", out, 8);
	assert_string_equal(out, "/{id}/a");
	route_normalize(NULL, "/12/abc", out, 4);
	assert_string_equal(out, "/{i");
	route_normalize(NULL, "/abc", out, 1);
	assert_string_equal(out, "");
	out[0] = 'X';
	route_normalize(NULL, "/abc", out, 0);
	assert_int_equal(out[0], 'X');
	assert_null(route_normalize(NULL, "/abc", NULL, 10));

	/* A long pattern label is cut as well. */
	route_normalize(&pats, path, out, sizeof(out));
	assert_int_equal(strlen(out), ROUTE_MAX - 1);
	route_normalize(&pats, path, out, 16);
	assert_int_equal(strlen(out), 15);

	/* A path made only of ids. */
	for (i = 0; i < sizeof(path) - 1; i++)
		path[i] = (i % 2 == 0) ? '/' : '7';
	route_normalize(NULL, path, out, sizeof(out));
	assert_int_equal(strlen(out), ROUTE_MAX - 1);
	assert_memory_equal(out, "/{id}/{id}/", 11);
}

static void test_set_limit(void **state)
{
	struct route_set *s = route_set__new(200);
	char label[32];
	const char *got;
	int i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 200; i++) {
		snprintf(label, sizeof(label), "/r/%d", i);
		got = route_set__admit(s, label);
		assert_string_equal(got, label);
		/* The set keeps its own copy. */
		assert_ptr_not_equal(got, label);
	}
	assert_int_equal(route_set__size(s), 200);
	assert_string_equal(route_set__admit(s, "/r/200"), ROUTE_OVERFLOW);
	assert_string_equal(route_set__admit(s, "/new"), ROUTE_OVERFLOW);
	assert_int_equal(route_set__size(s), 200);
	/* Known labels still pass, and come back as the same copy. */
	got = route_set__admit(s, "/r/5");
	assert_string_equal(got, "/r/5");
	assert_ptr_equal(got, route_set__admit(s, "/r/5"));
	assert_string_equal(route_set__admit(s, "/r/199"), "/r/199");
	assert_string_equal(route_set__admit(s, NULL), ROUTE_OVERFLOW);
	route_set__free(s);
}

static void test_set_edges(void **state)
{
	struct route_set *s = route_set__new(0);

	(void)state;
	assert_non_null(s);
	assert_string_equal(route_set__admit(s, "/a"), ROUTE_OVERFLOW);
	assert_int_equal(route_set__size(s), 0);
	route_set__free(s);

	s = route_set__new(-5);
	assert_non_null(s);
	assert_string_equal(route_set__admit(s, "/a"), ROUTE_OVERFLOW);
	route_set__free(s);

	s = route_set__new(1);
	assert_string_equal(route_set__admit(s, ""), "");
	assert_string_equal(route_set__admit(s, "/a"), ROUTE_OVERFLOW);
	assert_string_equal(route_set__admit(s, ""), "");
	route_set__free(s);

	route_set__free(NULL);
	assert_int_equal(route_set__size(NULL), 0);
	assert_string_equal(route_set__admit(NULL, "/a"), "/a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers),	 cmocka_unit_test(test_uuid),
	    cmocka_unit_test(test_hex),		 cmocka_unit_test(test_base64ish),
	    cmocka_unit_test(test_words_kept),	 cmocka_unit_test(test_query_fragment),
	    cmocka_unit_test(test_target_forms), cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_match),	 cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_set_limit),	 cmocka_unit_test(test_set_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
