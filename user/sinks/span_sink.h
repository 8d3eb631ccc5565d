/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span sink: one span per sampled exchange (SERVER and CLIENT for HTTP,
 * CLIENT for Redis and PostgreSQL, PRODUCER and CONSUMER per Kafka
 * topic-partition), named and tagged as docs/tracing.md says, handed in
 * batches to its outputs (the recent-trace store, exporters). Knows nothing of
 * wire formats.
 */
#ifndef SONDE_SINKS_SPAN_SINK_H
#define SONDE_SINKS_SPAN_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "span.h"

struct config;
struct span_sink;

/* Called from the capture thread with a batch; must not block. */
typedef void (*span_out_fn)(void *ctx, const struct span *s, size_t n);

/* cfg (routes, cache patterns) must outlive the sink; NULL: defaults. */
struct span_sink *span_sink__new(const struct config *cfg);
void span_sink__free(struct span_sink *ss); /* accepts NULL */
/* Returns 0, or -1 when it has too many outputs. */
int span_sink__add_out(struct span_sink *ss, span_out_fn fn, void *ctx);
/* struct sink's put: ctx is the span_sink. */
void span_sink__put(void *ctx, const struct exchange *x, size_t n);
/* Spans built so far. */
uint64_t span_sink__spans(const struct span_sink *ss);

/*
 * The context of the Produce that wrote [from, to) of a topic-partition, if
 * known now: local, the Produces this agent saw (flags: the part's provisional
 * context's); resolve, another instance's (--correlation-redis). A CONSUMER
 * span marked TRACE_PENDING is held until one of them finds it, or for a
 * second (then it goes out as it was: its records' context, or a root);
 * span_sink__tick (the capture thread, every loop) retries and sends. Without
 * either, it goes out at once.
 */
typedef bool (*span_local_fn)(void *ctx, const char *topic, int32_t partition, int64_t from,
			      int64_t to, uint8_t flags, struct trace_ctx *out);
typedef bool (*span_resolve_fn)(void *ctx, const char *topic, int32_t partition, int64_t from,
				int64_t to, struct trace_ctx *out);
void span_sink__set_local(struct span_sink *ss, span_local_fn fn, void *ctx);
void span_sink__set_resolver(struct span_sink *ss, span_resolve_fn fn, void *ctx);
void span_sink__tick(struct span_sink *ss, uint64_t now_ns);
/* Held CONSUMER spans resolved (joined to another instance's Produce), and sent unresolved. */
void span_sink__correlation(const struct span_sink *ss, uint64_t *joined, uint64_t *unjoined);

/* Build the spans of one exchange into out (at most max); returns how many (pure; tests). */
int span_sink__build(struct span_sink *ss, const struct exchange *x, struct span *out, int max);

#endif /* SONDE_SINKS_SPAN_SINK_H */
