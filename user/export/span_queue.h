/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A bounded span queue drained by its own sender thread: what every span
 * exporter shares (Zipkin over HTTP, later Kafka), so that an exporter only
 * encodes and sends one batch.
 *
 *   capture thread                      sender thread
 *   span_queue__submit() --copy--> ring --batch (in place)--> send(ctx, q, s, n)
 *        never blocks; full: drop         by size or interval; retry with backoff
 *
 * The ring is allocated once (capacity spans); a batch is sent straight from
 * its slots and keeps them until it is exported or given up, so memory stays
 * bounded however long the receiver is down: the queue fills, then drops.
 */
#ifndef SONDE_EXPORT_SPAN_QUEUE_H
#define SONDE_EXPORT_SPAN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

struct span_queue;

enum span_send_res {
	SPAN_SEND_OK = 0, /* the receiver has the batch */
	SPAN_SEND_RETRY,  /* transient (5xx, 408, 429, connection, timeout): retry */
	SPAN_SEND_DROP,   /* permanent (4xx, cannot encode): give the batch up now */
};

/*
 * Send one batch, on the sender thread; s points into the ring and stays
 * valid until the call returns. A send that can take long polls
 * span_queue__cancelled() and returns SPAN_SEND_RETRY once it is true.
 */
typedef enum span_send_res (*span_send_fn)(void *ctx, struct span_queue *q, const struct span *s,
					   size_t n);

/* Zero fields take the defaults. */
struct span_queue_opts {
	size_t capacity;             /* spans the ring holds; 16384 */
	size_t batch_max;            /* spans per send; 1000 */
	unsigned int flush_ms;       /* longest a span waits for a fuller batch; 1000 */
	int retries;                 /* sends after the first failed one; 3; < 0: none */
	unsigned int backoff_ms;     /* before the first retry, then doubled; 250 */
	unsigned int backoff_max_ms; /* the doubling stops here; 5000 */
	unsigned int stop_ms;        /* span_queue__stop's budget to flush; 2000 */
	const char *name;            /* sender thread name (15 chars); "sonde-spanq" */
};

/* Counters since start; each a span count unless it says otherwise. */
struct span_queue_stats {
	uint64_t exported;            /* sends that returned SPAN_SEND_OK */
	uint64_t dropped_queue_full;  /* refused by submit: the ring was full */
	uint64_t dropped_send_failed; /* SPAN_SEND_DROP, or retries exhausted */
	uint64_t dropped_stopped;     /* still queued when stop's budget ran out */
	uint64_t requests;            /* send calls, counted as they return */
	uint64_t failures;            /* of those, the ones not SPAN_SEND_OK */
	uint64_t queued;              /* in the ring now, including a batch being sent */
};

/* Start the sender thread. NULL and errno (EINVAL, ENOMEM, EAGAIN) on failure. */
struct span_queue *span_queue__start(const struct span_queue_opts *o, span_send_fn send,
				     void *ctx);

/*
 * Copy up to n spans into the ring; returns how many it took, the rest are
 * counted in dropped_queue_full. Never blocks on I/O: a short mutex section
 * and a memcpy. Any thread.
 */
size_t span_queue__submit(struct span_queue *q, const struct span *s, size_t n);

/*
 * Send everything queued, ignoring the flush interval, for at most stop_ms;
 * then cancel the send in flight, count what is left in dropped_stopped, and
 * join the thread. Idempotent; stats stay readable until span_queue__free.
 */
void span_queue__stop(struct span_queue *q);

/* Stop (if not yet) and free. Accepts NULL. */
void span_queue__free(struct span_queue *q);

void span_queue__stats(const struct span_queue *q, struct span_queue_stats *st);

/* True once stop's budget is spent: a send in progress should give up. Any thread. */
bool span_queue__cancelled(const struct span_queue *q);

#endif /* SONDE_EXPORT_SPAN_QUEUE_H */
