// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Route normalisation for the `uri` label (see route.h). Labels must have a
 * bounded cardinality: identifiers in paths become "{id}", and a route_set
 * caps how many distinct labels ever reach the metrics registry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/route.h"

#define ID_HEX_MIN 16
#define ID_BASE64_MIN 20

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i])) {
			return false;
		}
	}
	return true;
}

/* Does this path segment look like an identifier rather than a route word? */
static bool is_id(const char *s, size_t n)
{
	bool digits = true, hex = true, b64 = true, alpha = false, digit = false;
	size_t i;

	if (!n)
		return false;
	if (is_uuid(s, n))
		return true;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (is_digit(ch))
			digit = true;
		else
			digits = false;
		if (is_alpha(ch))
			alpha = true;
		if (!is_hex(ch))
			hex = false;
		if (!is_digit(ch) && !is_alpha(ch) && (!ch || !strchr("+-_=", ch)))
			b64 = false;
	}
	if (digits)
		return true;
	if (hex && n >= ID_HEX_MIN)
		return true;
	/* Words and slugs rarely mix digits in; tokens and hashes nearly always do. */
	return b64 && n >= ID_BASE64_MIN && alpha && digit;
}

/* Segment-by-segment match of pattern against path[0..plen). */
static bool match_n(const char *pat, const char *path, size_t plen)
{
	const char *pe = pat + strlen(pat);
	const char *qe = path + plen;

	for (;;) {
		const char *ps = memchr(pat, '/', pe - pat);
		const char *qs = memchr(path, '/', qe - path);
		size_t pl, ql;

		if (!ps)
			ps = pe;
		if (!qs)
			qs = qe;
		pl = ps - pat;
		ql = qs - path;
		if (ps == pe && pl == 2 && !memcmp(pat, "**", 2))
			return true;
		if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
			if (!ql)
				return false;
		} else if (pl != ql || memcmp(pat, path, pl)) {
			return false;
		}
		if (ps == pe || qs == qe) {
			if (ps == pe && qs == qe)
				return true;
			/* A trailing "**" also covers the bare prefix ("/static"). */
			return qs == qe && pe - ps == 3 && !memcmp(ps, "/**", 3);
		}
		pat = ps + 1;
		path = qs + 1;
	}
}

bool route_match(const char *pattern, const char *path)
{
	if (!pattern || !path)
		return false;
	return match_n(pattern, path, strlen(path));
}

/* Appends s[0..n) to out, keeping room for the NUL; returns false once out is full. */
static bool append(char *out, size_t outsz, size_t *pos, const char *s, size_t n)
{
	size_t room = outsz - 1 - *pos;
	bool fits = n <= room;

	if (!fits)
		n = room;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return fits;
}

/* The path of a request-target: origin-form as is, absolute-form without scheme and authority. */
static const char *target_path(const char *t)
{
	const char *p = t;

	while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (p == t || !is_alpha(*t) || strncmp(p, "://", 3))
		return t;
	p += 3;
	while (*p && *p != '/' && *p != '?' && *p != '#')
		p++;
	return p;
}

char *route_normalize(const struct route_patterns *pats, const char *target, char *out,
		      size_t outsz)
{
	const char *path, *seg;
	size_t plen, pos = 0;
	int i;

	if (!out || !outsz)
		return out;
	if (outsz > ROUTE_MAX)
		outsz = ROUTE_MAX;
	out[0] = '\0';
	if (!target)
		target = "";
	if (!strcmp(target, "*")) {
		append(out, outsz, &pos, "*", 1);
		return out;
	}
	path = target_path(target);
	plen = strcspn(path, "?#");
	if (path[0] != '/') {
		/* An absolute URL without a path ("http://h?q") means "/" as well. */
		append(out, outsz, &pos, "/", 1);
		return out;
	}
	if (pats) {
		int n = pats->n < ROUTE_PATTERNS_MAX ? pats->n : ROUTE_PATTERNS_MAX;

		for (i = 0; i < n; i++) {
			const char *pat = pats->pattern[i];

			if (pat && match_n(pat, path, plen)) {
				append(out, outsz, &pos, pat, strlen(pat));
				return out;
			}
		}
	}
	seg = path + 1;
	if (!append(out, outsz, &pos, "/", 1))
		return out;
	for (;;) {
		const char *end = memchr(seg, '/', path + plen - seg);
		size_t n = (end ? end : path + plen) - seg;
		bool ok;

		if (is_id(seg, n))
			ok = append(out, outsz, &pos, "{id}", 4);
		else
			ok = append(out, outsz, &pos, seg, n);
		if (!ok || !end || !append(out, outsz, &pos, "/", 1))
			break;
		seg = end + 1;
	}
	return out;
}

/* ---- cardinality guard ---- */

struct route_set {
	int limit;
	int size;
	size_t cap; /* power of two, at least twice size */
	char **slot;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static char **lookup(char **slot, size_t cap, const char *label)
{
	size_t i = hash(label) & (cap - 1);

	while (slot[i] && strcmp(slot[i], label))
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

static int grow(struct route_set *s)
{
	size_t cap = s->cap * 2, i;
	char **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->slot[i])
			*lookup(slot, cap, s->slot[i]) = s->slot[i];
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

struct route_set *route_set__new(int limit)
{
	struct route_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->limit = limit < 0 ? 0 : limit;
	/* Start small and grow: the limit is a ceiling, most services have few routes. */
	s->cap = 16;
	s->slot = calloc(s->cap, sizeof(*s->slot));
	if (!s->slot) {
		free(s);
		return NULL;
	}
	return s;
}

void route_set__free(struct route_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	free(s);
}

const char *route_set__admit(struct route_set *s, const char *label)
{
	char **p;

	if (!label)
		return ROUTE_OVERFLOW;
	if (!s)
		return label;
	p = lookup(s->slot, s->cap, label);
	if (*p)
		return *p;
	if (s->size >= s->limit)
		return ROUTE_OVERFLOW;
	if ((size_t)(s->size + 1) * 2 > s->cap) {
		if (grow(s))
			return ROUTE_OVERFLOW;
		p = lookup(s->slot, s->cap, label);
	}
	*p = strdup(label);
	if (!*p)
		return ROUTE_OVERFLOW;
	s->size++;
	return *p;
}

int route_set__size(const struct route_set *s)
{
	return s ? s->size : 0;
}
