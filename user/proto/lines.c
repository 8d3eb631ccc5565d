// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include <strings.h>

#include "proto/lines.h"

void line_conn_init(struct line_conn *c)
{
	c->len = 0;
	c->cut = false;
	c->lost = false;
}

/* Append to the line in progress, cutting it at APP_LINE_MAX - 1. */
static void append(struct line_conn *c, const char *p, size_t n)
{
	size_t room = APP_LINE_MAX - 1 - c->len;

	if (c->cut)
		return;
	if (n > room) {
		n = room;
		c->cut = true;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += (uint32_t)n;
}

static void give(struct line_conn *c, const char *p, size_t n, bool truncated, line_fn fn,
		 void *ctx, int *count)
{
	if (n && p[n - 1] == '\r')
		n--;
	fn(ctx, p, n, truncated);
	(*count)++;
	(void)c;
}

int line_conn_feed(struct line_conn *c, const uint8_t *data, size_t caplen, uint64_t total,
		   line_fn fn, void *ctx, uint32_t *lost)
{
	const char *p = (const char *)data, *end = p + caplen;
	int count = 0;

	if (caplen > total)
		caplen = total, end = p + caplen;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl) {
			/* The line goes on in the next write (or in bytes not captured). */
			if (!c->lost)
				append(c, p, (size_t)(end - p));
			break;
		}
		if (c->lost) {
			/* The end of a line whose middle was not seen: not given. */
			c->lost = false;
			c->len = 0;
			c->cut = false;
		} else if (c->len || c->cut) {
			append(c, p, (size_t)(nl - p));
			give(c, c->buf, c->len, c->cut, fn, ctx, &count);
			c->len = 0;
			c->cut = false;
		} else if ((size_t)(nl - p) >= APP_LINE_MAX) {
			give(c, p, APP_LINE_MAX - 1, true, fn, ctx, &count);
		} else {
			give(c, p, (size_t)(nl - p), false, fn, ctx, &count);
		}
		p = nl + 1;
	}
	if (total > caplen) {
		/* What was seen of the line in progress is given, cut; then skip to a '\n'. */
		if (c->len && !c->lost)
			give(c, c->buf, c->len, true, fn, ctx, &count);
		c->len = 0;
		c->cut = false;
		c->lost = true;
		if (lost)
			(*lost)++;
	}
	return count;
}

int line_conn_close(struct line_conn *c, line_fn fn, void *ctx)
{
	int count = 0;

	if (c->len && !c->lost)
		give(c, c->buf, c->len, c->cut, fn, ctx, &count);
	line_conn_init(c);
	return count;
}

static const struct {
	const char *word;
	int level;
} words[] = {
	{ "ERROR", 3 }, { "ERR", 3 },	   { "FATAL", 3 }, { "CRITICAL", 3 }, { "CRIT", 3 },
	{ "SEVERE", 3 }, { "PANIC", 3 },   { "WARN", 2 },  { "WARNING", 2 },  { "INFO", 1 },
	{ "NOTICE", 1 }, { "DEBUG", 0 },   { "TRACE", 0 },
};

static bool alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

int line_level(const char *s, size_t n)
{
	size_t i = 0;

	for (int w = 0; w < 6 && i < n; w++) {
		size_t b, len;

		while (i < n && !alpha(s[i]) && s[i] != ' ' && s[i] != '\t')
			i++; /* brackets, digits of a timestamp, punctuation */
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		b = i;
		while (i < n && alpha(s[i]))
			i++;
		len = i - b;
		/* Only a whole word: "INFO:" or "[WARN]" yes, "Information" no. */
		for (size_t k = 0; len && k < sizeof(words) / sizeof(words[0]); k++)
			if (strlen(words[k].word) == len && !strncasecmp(s + b, words[k].word, len))
				return words[k].level;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++; /* the rest of this word (digits, dots of a timestamp) */
	}
	return -1;
}

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

const char *log_level_name(int level)
{
	return level >= LOG_DEBUG && level <= LOG_ERROR ? level_names[level] : "INFO";
}

int log_level_parse(const char *s)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	if (!strcasecmp(s, "WARNING"))
		return LOG_WARN;
	return -1;
}
