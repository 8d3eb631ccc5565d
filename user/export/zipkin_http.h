/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Zipkin HTTP exporter: spans are queued by the capture thread and POSTed
 * as a Zipkin v2 JSON list (export/zipkin.h) to URL (e.g.
 * http://zipkin:9411/api/v2/spans) by the span queue's sender thread, with
 * libcurl. The queue does batching, retries and drop counting
 * (export/span_queue.h); this file only encodes, POSTs and classifies:
 *
 *   2xx                                   exported
 *   408, 429, 5xx, connection, timeout    retried with backoff, then dropped
 *   any other status                      dropped at once (retrying cannot help)
 */
#ifndef SONDE_EXPORT_ZIPKIN_HTTP_H
#define SONDE_EXPORT_ZIPKIN_HTTP_H

#include <stddef.h>

#include "export/span_queue.h"
#include "span.h"

struct zipkin_http;

struct zbuf;

/*
 * Zero fields take the defaults; queue.name defaults to "sonde-zipkin". The
 * same exporter sends other span formats over HTTP (OTLP/JSON): encode a
 * batch into a body (0, or < 0 when it cannot), its content type, and the
 * name that its messages on stderr begin with.
 */
struct zipkin_http_opts {
	struct span_queue_opts queue;
	unsigned int timeout_ms; /* one request, connecting included; 5000 */
	int (*encode)(struct zbuf *b, const struct span *s, size_t n); /* zipkin_list_json */
	const char *content_type; /* "application/json" */
	const char *what;         /* "zipkin" */
};

/*
 * Start exporting to url (http:// or https://). o may be NULL. Returns NULL
 * and sets errno on failure (EINVAL: not an http(s) URL).
 */
struct zipkin_http *zipkin_http__start(const char *url, const struct zipkin_http_opts *o);

/* Flush what is queued, for at most queue.stop_ms, then stop and free. Accepts NULL. */
void zipkin_http__stop(struct zipkin_http *z);

/* From the capture thread; never blocks. Returns how many spans were queued, the rest dropped. */
size_t zipkin_http__submit(struct zipkin_http *z, const struct span *s, size_t n);

/* zipkin_http__submit as a span sink output (span_out_fn): ctx is the zipkin_http. */
void zipkin_http__put(void *ctx, const struct span *s, size_t n);

void zipkin_http__stats(const struct zipkin_http *z, struct span_queue_stats *st);

#endif /* SONDE_EXPORT_ZIPKIN_HTTP_H */
