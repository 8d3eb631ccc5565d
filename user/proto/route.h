/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Route normalisation for the `uri` label: pure functions, no I/O.
 *
 *   "/api/products/123?x=1"                    -> "/api/products/{id}"
 *   "/api/orders/550e8400-e29b-41d4-a716-446655440000" -> "/api/orders/{id}"
 *   "/users/5f2b9c0e7a1d4e3f9b8c7d6e/cart"     -> "/users/{id}/cart"
 *
 * A segment becomes {id} when it is all digits, a UUID (8-4-4-4-12 hex), a hex
 * string of 16 or more characters, or a base64/base64url-ish token of 20 or
 * more characters that mixes letters and digits. Explicit patterns (from the
 * config file's `routes:` list) win over the heuristics: a pattern such as
 * "/api/products/{id}/reviews" or "/static/<two stars>" matches segment by segment,
 * "{name}" matching any one segment and a trailing "**" any rest; the pattern
 * text itself is the label.
 */
#ifndef SONDE_PROTO_ROUTE_H
#define SONDE_PROTO_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX 256      /* longest label written, NUL included */
#define ROUTE_PATTERNS_MAX 256
#define ROUTE_OVERFLOW "/**" /* the label of routes past the limit */

struct route_patterns {
	int n;
	char *pattern[ROUTE_PATTERNS_MAX]; /* owned by the caller */
};

/*
 * Normalise an HTTP request-target into out (always NUL-terminated, at most
 * outsz bytes). An absolute-form target ("http://host/path") keeps only its
 * path; "*" stays "*"; an empty or non-'/' target gives "/". Query string and
 * fragment are dropped. pats may be NULL. Returns out.
 */
char *route_normalize(const struct route_patterns *pats, const char *target, char *out,
		      size_t outsz);

/* Does path (no query) match pattern ("{x}" = one segment, trailing "**" = rest)? */
bool route_match(const char *pattern, const char *path);

/*
 * Cardinality guard: at most `limit` distinct labels per set; further new
 * labels are replaced by ROUTE_OVERFLOW. Open addressing over label strings; the set
 * owns its copies.
 */
struct route_set;
struct route_set *route_set__new(int limit);
void route_set__free(struct route_set *s);
/* Returns the set's copy of label if known or admitted now, else ROUTE_OVERFLOW. */
const char *route_set__admit(struct route_set *s, const char *label);
int route_set__size(const struct route_set *s);

#endif /* SONDE_PROTO_ROUTE_H */
