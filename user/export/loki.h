/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log records to Loki (--loki-url .../loki/api/v1/push): Loki's push API in
 * its protobuf form (logproto.PushRequest, snappy block-compressed, as
 * Promtail and the Grafana Agent send it), from a sender thread of its own.
 *
 *   capture thread                          sender thread
 *   loki__out(): the JSON line, copied --> byte ring --> every 1 s or 1 MiB: streams by
 *        never blocks; full: dropped          labels {service, environment, level}, encode,
 *                                             snappy, POST; 408/429/5xx/no answer: 3 retries
 *                                             (250 ms, 500 ms, 1 s), then dropped
 *
 * Stream labels are service, environment and level only: the trace id stays
 * in the line (high cardinality never becomes a label).
 */
#ifndef SONDE_EXPORT_LOKI_H
#define SONDE_EXPORT_LOKI_H

#include <stddef.h>
#include <stdint.h>

#include "sinks/log_sink.h"

struct loki_stats {
	uint64_t exported;      /* lines Loki accepted (2xx) */
	uint64_t dropped_full;  /* the ring was full */
	uint64_t dropped_send;  /* given up after retries, or refused (4xx) */
	uint64_t dropped_stop;  /* still queued when stop's 2 s ran out */
};

struct loki;

/* NULL with errno on failure (EINVAL: not an http(s) URL). queue_bytes 0: 8 MiB. */
struct loki *loki__start(const char *url, size_t queue_bytes);
void loki__out(void *ctx, const struct log_record *r); /* a log_out_fn */
void loki__stats(struct loki *l, struct loki_stats *s);
/* Send what is queued for at most 2 s, then stop and free. Accepts NULL. */
void loki__free(struct loki *l);

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
/* The labels of a record: {service="..", environment="..", level=".."} into out. */
void loki_labels(const struct log_record *r, char *out, size_t outsz);

#endif /* SONDE_EXPORT_LOKI_H */
