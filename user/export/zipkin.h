/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Zipkin v2 JSON (tests/contracts/zipkin2-api.yaml: Span, ListOfSpans, Trace,
 * ListOfTraces) from struct span. The output is always valid UTF-8 JSON:
 * strings are escaped, and bytes that are not UTF-8 become U+FFFD, because
 * span names and tags carry whatever the observed traffic carried.
 */
#ifndef SONDE_EXPORT_ZIPKIN_H
#define SONDE_EXPORT_ZIPKIN_H

#include <stdbool.h>
#include <stddef.h>

#include "span.h"

/*
 * A growable buffer; zero-initialised is empty. p is NUL-terminated once
 * anything was appended. oom: an append failed, the contents are incomplete
 * (every later append is a no-op until zbuf_reset).
 */
struct zbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void zbuf_put(struct zbuf *b, const char *s, size_t n);
void zbuf_puts(struct zbuf *b, const char *s);
void zbuf_reset(struct zbuf *b); /* empty, keeping the memory */
void zbuf_free(struct zbuf *b);

/* Append a JSON string of s, reading at most max bytes (s need not be NUL-terminated). */
void zipkin_json_str(struct zbuf *b, const char *s, size_t max);

/* Append one span object. */
void zipkin_span_json(struct zbuf *b, const struct span *s);
/* Append a JSON array of n spans (ListOfSpans, or one Trace). 0, or -ENOMEM. */
int zipkin_list_json(struct zbuf *b, const struct span *s, size_t n);

#endif /* SONDE_EXPORT_ZIPKIN_H */
