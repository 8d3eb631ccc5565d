// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the stdout/stderr line splitter and the level
 * parser (user/proto/lines.c), in the protocol fuzzers' feed format
 * (feeds.h). Checks: every line given is at most APP_LINE_MAX - 1 bytes and holds
 * no '\n'; fed whole or cut at c2 into two writes, the same lines come out
 * (when nothing was lost to the capture).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds.h"
#include "proto/lines.h"

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

struct seen {
	uint64_t hash;
	int n;
};

static void on_line(void *ctx, const char *line, size_t len, bool truncated)
{
	struct seen *s = ctx;

	check(len < APP_LINE_MAX);
	check(memchr(line, '\n', len) == NULL);
	(void)line_level(line, len);
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ (uint8_t)line[i]) * 1099511628211ULL;
	s->hash = (s->hash ^ (truncated ? 0x1ff : 0x100)) * 1099511628211ULL;
	s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct line_conn whole, cut;
	struct seen a = { 14695981039346656037ULL, 0 }, b = a;
	bool lost = false;
	size_t off = 1;
	struct fuzz_feed f;
	uint32_t la = 0, lb = 0;

	line_conn_init(&whole);
	line_conn_init(&cut);
	while (fuzz_next_feed(data, size, &off, 1, &f)) {
		size_t cap = f.caplen < f.total ? f.caplen : (size_t)f.total;
		size_t k = f.c2 < cap ? f.c2 : cap;

		line_conn_feed(&whole, f.buf, f.caplen, f.total, on_line, &a, &la);
		if (f.total > f.caplen) {
			lost = true;
			line_conn_feed(&cut, f.buf, f.caplen, f.total, on_line, &b, &lb);
		} else {
			line_conn_feed(&cut, f.buf, k, k, on_line, &b, &lb);
			line_conn_feed(&cut, f.buf + k, cap - k, cap - k, on_line, &b, &lb);
		}
		fuzz_feed_done(&f);
	}
	line_conn_close(&whole, on_line, &a);
	line_conn_close(&cut, on_line, &b);
	if (!lost) {
		check(a.n == b.n);
		check(a.hash == b.hash);
	}
	check(la == lb);
	return 0;
}
