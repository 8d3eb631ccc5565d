/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --correlation-redis: Kafka records joined to the Produce that wrote them
 * across sonde instances, without record headers. The instance that sees a
 * Produce writes (topic, partition, offsets) -> its context to Redis; the one
 * that sees the Fetch of those offsets reads it back, so that its CONSUMER
 * span continues the producer's trace. A thread of its own (hiredis) talks to
 * Redis every 100 ms; the capture thread only queues and looks up, never
 * waits. See docs/tracing.md.
 */
#ifndef SONDE_CORRELATION_H
#define SONDE_CORRELATION_H

#include <stdbool.h>
#include <stdint.h>

#include "exchange.h"

struct metrics;
struct correlation;

struct correlation *correlation__start(const char *hostport, struct metrics *m);
void correlation__stop(struct correlation *c); /* accepts NULL */

/* A Produce's records [base, end) of topic-partition, with its span's context. */
void correlation__produced(void *c, const char *topic, int32_t partition, int64_t base,
			   int64_t end, const struct trace_ctx *ctx);
/*
 * The context of the one Produce that wrote all of [from, to), if another
 * instance published it and it has been read back; false otherwise (the
 * partition is then watched: a later call may find it).
 */
bool correlation__lookup(void *c, const char *topic, int32_t partition, int64_t from, int64_t to,
			 struct trace_ctx *out);

#endif /* SONDE_CORRELATION_H */
