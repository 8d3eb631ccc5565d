/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log records over HTTP, from a sender thread of their own, in one of two
 * formats:
 *   LOG_HTTP_LOKI  Loki's push API (--loki-url .../loki/api/v1/push) in its
 *                  protobuf form (logproto.PushRequest, snappy block-compressed,
 *                  as Promtail and the Grafana Agent send it);
 *   LOG_HTTP_LOKI_JSON  the same API in its JSON form ({"streams":[{"stream":
 *                  {labels}, "values":[["ns","line"]]}]}), gzip-compressed
 *                  (Content-Encoding: gzip): --loki-encoding json;
 *   LOG_HTTP_OTLP  OTLP/HTTP JSON (--otlp-url ...: POST .../v1/logs), an
 *                  ExportLogsServiceRequest (export/otlp.h).
 *
 *   capture thread                          sender thread
 *   log_http__out(): the JSON line, copied --> byte ring --> every 1 s or 1 MiB: streams by
 *        never blocks; full: dropped          labels {service, environment, level}, encode,
 *                                             snappy or gzip, POST; 408/429/5xx/no answer: 3 retries
 *                                             (250 ms, 500 ms, 1 s), then dropped
 *
 * Loki's stream labels are service, environment and level only: the trace id
 * stays in the line (high cardinality never becomes a label). OTLP groups the
 * records by resource (service, pid).
 */

enum log_http_format { LOG_HTTP_LOKI = 0, LOG_HTTP_OTLP, LOG_HTTP_LOKI_JSON };
#ifndef SONDE_EXPORT_LOG_HTTP_H
#define SONDE_EXPORT_LOG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sinks/log_sink.h"

struct log_http_stats {
	uint64_t exported;      /* lines Loki accepted (2xx) */
	uint64_t dropped_full;  /* the ring was full */
	uint64_t dropped_send;  /* given up after retries, or refused (4xx) */
	uint64_t dropped_stop;  /* still queued when stop's 2 s ran out */
};

struct log_http;

/* NULL with errno on failure (EINVAL: not an http(s) URL). queue_bytes 0: 8 MiB. */
struct log_http *log_http__start(const char *url, enum log_http_format format,
				 size_t queue_bytes);
void log_http__out(void *ctx, const struct log_record *r); /* a log_out_fn */
void log_http__stats(struct log_http *l, struct log_http_stats *s);
/* Send what is queued for at most 2 s, then stop and free. Accepts NULL. */
void log_http__free(struct log_http *l);

/*
 * The protobuf PushRequest of n entries (pure; tests): entries[i] is
 * {labels, ts_ns, line}; entries of equal labels form one stream, in order.
 */
struct loki_entry {
	const char *labels; /* {service="a", environment="b", level="INFO"} */
	uint64_t ts_ns;
	const char *line;
	size_t len;
};
struct zbuf;
void loki_push_request(struct zbuf *b, const struct loki_entry *e, size_t n);
/* The same entries as the JSON push body; entries' labels are JSON objects (json). */
void loki_push_json(struct zbuf *b, const struct loki_entry *e, size_t n);
/*
 * The labels of a record into out: {service="..", environment="..", level=".."}
 * (LogQL, the protobuf form), or with json {"service":"..",...} (the JSON form).
 */
void loki_labels(const struct log_record *r, bool json, char *out, size_t outsz);
/* gzip (RFC 1952) of n bytes into out (reset first). 0, or -1. */
int gzip_buf(struct zbuf *out, const char *p, size_t n);

#endif /* SONDE_EXPORT_LOG_HTTP_H */
