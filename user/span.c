// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "span.h"

static const char hexdigits[] = "0123456789abcdef";

void span_trace_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hexdigits[id[i] >> 4];
		out[2 * i + 1] = hexdigits[id[i] & 15];
	}
	out[32] = '\0';
}

void span_id_hex(uint64_t id, char out[17])
{
	for (int i = 15; i >= 0; i--, id >>= 4)
		out[i] = hexdigits[id & 15];
	out[16] = '\0';
}

int64_t span_clock_offset_ns(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

int span_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int span_trace_parse(const char *hex, uint8_t id[16])
{
	size_t len = strlen(hex), off = 32 - len;

	if (len != 16 && len != 32)
		return -1;
	memset(id, 0, 16);
	for (size_t i = 0; i < len; i++) {
		int v = span_hexval(hex[i]);

		if (v < 0)
			return -1;
		id[(off + i) / 2] |= (uint8_t)(v << ((off + i) % 2 ? 0 : 4));
	}
	return 0;
}

void span_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

size_t span_size(const struct span *s)
{
	return offsetof(struct span, tags) + s->ntags * sizeof(s->tags[0]);
}

void span_tag(struct span *s, const char *key, const char *value)
{
	struct span_tag *t;

	if (s->ntags >= SPAN_TAGS_MAX)
		return;
	t = &s->tags[s->ntags++];
	span_copy(t->key, sizeof(t->key), key);
	span_copy(t->value, sizeof(t->value), value);
}
