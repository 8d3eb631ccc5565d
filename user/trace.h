/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace correlation: gives every exchange its place in a trace (the
 * trace_ctx of struct exchange), from what the agent sees as it happens:
 *
 * - A server request gets its context when its head has been read: from
 *   its trace headers (W3C traceparent, B3 single or multi), else from the
 *   observed client call at the other end of the same connection (a join),
 *   else a new root (sampled at the configured rate).
 * - A client call (HTTP, Redis, PostgreSQL, Kafka) is the child of the one
 *   server request its thread was serving when it made the call's first
 *   write; when the thread serves several at once (event loops) only a
 *   proxy's forward is linked (same method and target as exactly one request
 *   in flight in the process); otherwise it is its own root, flagged
 *   TRACE_UNLINKED. Never a guess.
 *
 * The rules, with the reasons, are in docs/tracing.md. Capture thread only.
 */
#ifndef SONDE_TRACE_H
#define SONDE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "exchange.h"
#include "sonde.h"

struct conn;
struct conn_table;
struct http_exchange;
struct tracer;

struct tracer_stats {
	uint64_t roots;     /* new traces begun (no context came with the request) */
	uint64_t remote;    /* server requests whose context came in headers, Kafka parts in records' */
	uint64_t joined;    /* server requests joined to an observed client call */
	uint64_t linked;    /* client calls tied to the request their thread served */
	uint64_t unlinked;  /* client calls made while requests were in flight, none certain */
	uint64_t offset_linked; /* fetched partitions joined to the Produce that wrote them */
	uint64_t bad_headers; /* trace headers present but malformed: a new root instead */
};

/*
 * --correlation-redis: every Produce part with a context is handed to produced
 * (the capture thread; must not block). A fetched part that no Produce seen
 * here joins yet is marked TRACE_PENDING for the span sink to resolve, here
 * (tracer__produced) or through the correlator.
 */
struct tracer_correlator {
	void (*produced)(void *ctx, const char *topic, int32_t partition, int64_t base,
			 int64_t end, const struct trace_ctx *c);
	void *ctx;
};

/* sample_rate in [0, 1]: the share of new traces recorded. conns: for joins. */
struct tracer *tracer__new(double sample_rate, struct conn_table *conns);
void tracer__free(struct tracer *t); /* accepts NULL */
void tracer__set_correlator(struct tracer *t, const struct tracer_correlator *c);

/*
 * The record at ts of c carries the ids the kernel gave the request that
 * begins in it (--inject-traceparent): that request's span gets exactly
 * these, whatever the agent would have decided.
 */
void tracer__kernel_ids(struct tracer *t, struct conn *c, const struct sonde_ids *ids,
			uint64_t ts);

/*
 * After each feed of an HTTP connection: the requests whose heads that feed
 * completed get their contexts now, before any call they cause is seen.
 * tid: the thread that made the syscall; ts: its time.
 */
void tracer__http_feed(struct tracer *t, struct conn *c, uint32_t tid, uint64_t ts);

/*
 * A feed in the direction a client connection's requests travel (Redis,
 * PostgreSQL, Kafka): remembered so that an exchange begun at ts is known to
 * come from thread tid.
 */
void tracer__client_feed(struct tracer *t, struct conn *c, uint32_t tid, uint64_t ts);

/*
 * Fill x->ctx and x->tid for a completed exchange of c (x->kind, start_ns and
 * end_ns set; for HTTP, hx is the parser's exchange, else NULL). An
 * EXCHANGE_NET exchange may have no connection (c NULL) and comes with the
 * tid of its failing syscall: without a request of c to follow, its parent
 * is that thread's request, decided as for a call's first write.
 */
void tracer__assign(struct tracer *t, struct conn *c, struct exchange *x,
		    const struct http_exchange *hx);

/* c is going away: forget its requests and its place in the join index. */
void tracer__conn_gone(struct tracer *t, struct conn *c);
/* A target process exited. */
void tracer__drop_tgid(struct tracer *t, uint32_t tgid);

void tracer__stats(const struct tracer *t, struct tracer_stats *s);

/*
 * The context of the Produce seen here that wrote all of [from, to) of a
 * topic-partition, for a fetched part marked TRACE_PENDING whose Produce came
 * later (the span sink asks; flags: the part's, to move its count from roots
 * or remote to offset_linked). False if none or several.
 */
bool tracer__produced(struct tracer *t, const char *topic, int32_t partition, int64_t from,
		      int64_t to, uint8_t flags, struct trace_ctx *out);

/*
 * The context of the request thread tid of tgid was serving at ts, when it
 * served exactly one (the rule of client calls, docs/tracing.md); false when
 * it served none or several.
 */
bool tracer__thread_ctx(struct tracer *t, uint32_t tgid, uint32_t tid, uint64_t ts,
			struct trace_ctx *out);

/*
 * Parse trace headers (pure; exposed for tests and the fuzzer). Returns true
 * and fills trace_id, parent span id and sampled when a valid context is
 * present; *present tells whether any trace header was there at all, and
 * *deny whether it said "do not sample" (B3 "0" alone, X-B3-Sampled: 0).
 */
struct http_trace_hdrs;
bool trace_parse_headers(const struct http_trace_hdrs *h, uint8_t trace_id[16], uint64_t *parent,
			 bool *sampled, bool *present);

#endif /* SONDE_TRACE_H */
