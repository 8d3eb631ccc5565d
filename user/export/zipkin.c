// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/zipkin.h"

#define ZBUF_MIN 4096

void zbuf_put(struct zbuf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return;
	if (n >= SIZE_MAX / 4 - b->len) {
		b->oom = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : ZBUF_MIN; cap < b->len + n + 1; cap *= 2)
			;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void zbuf_puts(struct zbuf *b, const char *s)
{
	zbuf_put(b, s, strlen(s));
}

void zbuf_reset(struct zbuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p)
		b->p[0] = '\0';
}

void zbuf_free(struct zbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Decimal digits, without printf: a span has three or four numbers, and spans come by the 100k. */
static void put_u64(struct zbuf *b, uint64_t v)
{
	char num[24];
	int i = sizeof(num);

	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	zbuf_put(b, num + i, sizeof(num) - i);
}

/* Dotted quad, without inet_ntop's cost; out holds 16 bytes. */
static void ipv4_text(const uint8_t *a, char *out)
{
	char *p = out;

	for (int k = 0; k < 4; k++) {
		unsigned v = a[k];

		if (k)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0; /* a stray continuation byte, or a lead byte no valid sequence has */
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF: a strict parser rejects them all. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Appends runs of plain bytes in one call: most names and tags need no escape at all. */
void zipkin_json_str(struct zbuf *b, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, max), i = 0, run, l;
	char esc[8];

	zbuf_put(b, "\"", 1);
	while (i < n) {
		for (run = 0; i + run < n && json_plain(s[i + run]); run++)
			;
		zbuf_put(b, (const char *)s + i, run);
		i += run;
		if (i == n)
			break;
		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			zbuf_put(b, esc, 2);
			i++;
		} else if (s[i] < 0x80) { /* control characters and DEL */
			zbuf_put(b, esc, snprintf(esc, sizeof(esc), "\\u%04x", s[i]));
			i++;
		} else if ((l = utf8_len(s + i, n - i))) {
			zbuf_put(b, (const char *)s + i, l);
			i += l;
		} else {
			zbuf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD, one per bad byte */
			i++;
		}
	}
	zbuf_put(b, "\"", 1);
}

/* Keys are ours or tag keys: escaped like any string. */
static void key_n(struct zbuf *b, const char *k, size_t max, bool *first)
{
	if (!*first)
		zbuf_put(b, ",", 1);
	*first = false;
	zipkin_json_str(b, k, max);
	zbuf_put(b, ":", 1);
}

static void key(struct zbuf *b, const char *k, bool *first)
{
	key_n(b, k, SIZE_MAX, first);
}

static void str_field(struct zbuf *b, const char *k, const char *v, size_t max, bool *first)
{
	key(b, k, first);
	zipkin_json_str(b, v, max);
}

static void id_field(struct zbuf *b, const char *k, uint64_t id, bool *first)
{
	char hex[17];

	span_id_hex(id, hex);
	str_field(b, k, hex, sizeof(hex), first);
}

static bool endpoint_empty(const struct span_endpoint *e)
{
	return !e->service[0] && (e->family != 4 && e->family != 6) && !e->port;
}

/* The spec prefers ipv4 for v4-mapped addresses (::ffff:a.b.c.d, as dual-stack sockets see v4). */
static void endpoint_ip(struct zbuf *b, const struct span_endpoint *e, bool *first)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	char ip[INET6_ADDRSTRLEN];

	if (e->family == 6 && !memcmp(e->addr, v4mapped, sizeof(v4mapped))) {
		ipv4_text(e->addr + 12, ip);
		str_field(b, "ipv4", ip, sizeof(ip), first);
	} else if (e->family == 6) {
		if (inet_ntop(AF_INET6, e->addr, ip, sizeof(ip)))
			str_field(b, "ipv6", ip, sizeof(ip), first);
	} else if (e->family == 4) {
		ipv4_text(e->addr, ip);
		str_field(b, "ipv4", ip, sizeof(ip), first);
	}
}

/* An Endpoint, every member absent when unknown (the spec: "Please don't set [port] to zero"). */
static void endpoint(struct zbuf *b, const char *k, const struct span_endpoint *e, bool *first)
{
	bool efirst = true;

	if (endpoint_empty(e))
		return;
	key(b, k, first);
	zbuf_put(b, "{", 1);
	if (e->service[0])
		str_field(b, "serviceName", e->service, sizeof(e->service), &efirst);
	endpoint_ip(b, e, &efirst);
	if (e->port) {
		key(b, "port", &efirst);
		put_u64(b, e->port);
	}
	zbuf_put(b, "}", 1);
}

/* Tag i, unless its key is empty or an earlier tag's: a JSON object's keys should be unique. */
static bool tag_wanted(const struct span *s, int i)
{
	const size_t max = sizeof(s->tags[i].key);

	if (!s->tags[i].key[0])
		return false;
	for (int j = 0; j < i; j++)
		if (!strncmp(s->tags[j].key, s->tags[i].key, max))
			return false;
	return true;
}

static void tags(struct zbuf *b, const struct span *s, bool *first)
{
	int n = s->ntags < SPAN_TAGS_MAX ? s->ntags : SPAN_TAGS_MAX;
	bool tfirst = true;

	for (int i = 0; i < n; i++) {
		if (!tag_wanted(s, i))
			continue;
		if (tfirst) {
			key(b, "tags", first);
			zbuf_put(b, "{", 1);
		}
		key_n(b, s->tags[i].key, sizeof(s->tags[i].key), &tfirst);
		zipkin_json_str(b, s->tags[i].value, sizeof(s->tags[i].value));
	}
	if (!tfirst)
		zbuf_put(b, "}", 1);
}

static const char *const kinds[] = {
	[SPAN_KIND_SERVER] = "SERVER",
	[SPAN_KIND_CLIENT] = "CLIENT",
	[SPAN_KIND_PRODUCER] = "PRODUCER",
	[SPAN_KIND_CONSUMER] = "CONSUMER",
};

void zipkin_span_json(struct zbuf *b, const struct span *s)
{
	char hex[33];
	bool first = true;

	zbuf_put(b, "{", 1);
	span_trace_hex(s->trace_id, hex);
	str_field(b, "traceId", hex, sizeof(hex), &first);
	id_field(b, "id", s->id, &first);
	if (s->parent_id)
		id_field(b, "parentId", s->parent_id, &first);
	if (s->kind < sizeof(kinds) / sizeof(kinds[0]))
		str_field(b, "kind", kinds[s->kind], 16, &first);
	if (s->name[0])
		str_field(b, "name", s->name, sizeof(s->name), &first);
	if (s->timestamp_us) {
		key(b, "timestamp", &first);
		put_u64(b, s->timestamp_us);
	}
	key(b, "duration", &first);
	put_u64(b, s->duration_us ? s->duration_us : 1); /* the spec's minimum */
	endpoint(b, "localEndpoint", &s->local, &first);
	endpoint(b, "remoteEndpoint", &s->remote, &first);
	tags(b, s, &first);
	if (s->shared) {
		key(b, "shared", &first);
		zbuf_puts(b, "true");
	}
	zbuf_put(b, "}", 1);
}

int zipkin_list_json(struct zbuf *b, const struct span *s, size_t n)
{
	zbuf_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			zbuf_put(b, ",", 1);
		zipkin_span_json(b, &s[i]);
	}
	zbuf_put(b, "]", 1);
	return b->oom ? -ENOMEM : 0;
}
