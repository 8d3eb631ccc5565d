// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kafka correlation through Redis (correlation.h). One sorted set per
 * topic-partition:
 *
 *   sonde:kafka:<topic>:<partition>   score = base offset,
 *                                     member = "<base>:<end>:<trace id>:<span id>:<flags>"
 *
 * expiring 10 minutes after its last write. Producers' instances add; the
 * instances of consumers read, for the partitions their fetches asked about,
 * what was added past what they read last.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "correlation.h"
#include "export/metrics.h"
#include "span.h"
#include "ticker.h"

#define QUEUE_MAX 16384
#define WATCH_MAX 256
#define RING 4096            /* Produces remembered per watched topic-partition */
#define TOPIC_MAX 128
#define TTL_MS 600000
#define EVERY_NS 100000000ULL /* a round trip every 100 ms */
#define TIMEOUT_MS 150
#define READ_MAX 1000         /* entries read per partition and round */
#define BACKLOG 1000          /* a watch starts this many offsets before the fetch */

struct pub {
	char topic[TOPIC_MAX];
	int32_t partition;
	int64_t base, end;
	struct trace_ctx ctx;
};

struct range {
	int64_t base, end;
	struct trace_ctx ctx;
};

/*
 * A topic-partition a fetch asked about, and the Produces read for it: a ring
 * in the order Redis gave them, which is by base offset.
 */
struct watch {
	char topic[TOPIC_MAX];
	int32_t partition;
	int64_t after; /* bases up to this one were read */
	struct range *ring; /* RING; NULL in the thread's copies */
	uint32_t head, n;
};

struct correlation {
	struct ticker ticker;
	pthread_mutex_t lock; /* the queue and the watches: the capture thread's and the ticker's */
	char host[256];
	int port;
	redisContext *rc;
	/* Under lock: */
	struct pub *queue;
	int nqueue;
	struct watch watch[WATCH_MAX];
	int nwatch;
	/* The thread's own copies. */
	struct pub *sending;
	struct watch reading[WATCH_MAX];
	struct metric_family *errors, *dropped;
};

void correlation__produced(void *p, const char *topic, int32_t partition, int64_t base,
			   int64_t end, const struct trace_ctx *ctx)
{
	struct correlation *c = p;
	struct pub *q;

	if (strlen(topic) >= TOPIC_MAX || !ctx->span_id)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->nqueue == QUEUE_MAX) {
		pthread_mutex_unlock(&c->lock);
		metric__add(c->dropped, NULL, 1);
		return;
	}
	q = &c->queue[c->nqueue++];
	snprintf(q->topic, sizeof(q->topic), "%s", topic);
	q->partition = partition;
	q->base = base;
	q->end = end;
	q->ctx = *ctx;
	pthread_mutex_unlock(&c->lock);
}

/* The watch of topic-partition, made when new (from: where to read from); under lock. */
static struct watch *watch_locked(struct correlation *c, const char *topic, int32_t partition,
				  int64_t from)
{
	struct watch *w;

	for (int i = 0; i < c->nwatch; i++)
		if (c->watch[i].partition == partition && !strcmp(c->watch[i].topic, topic))
			return &c->watch[i];
	if (c->nwatch == WATCH_MAX)
		return NULL;
	w = &c->watch[c->nwatch];
	w->ring = calloc(RING, sizeof(*w->ring));
	if (!w->ring)
		return NULL;
	snprintf(w->topic, TOPIC_MAX, "%s", topic);
	w->partition = partition;
	w->after = from > BACKLOG ? from - BACKLOG - 1 : -1;
	w->head = w->n = 0;
	c->nwatch++;
	return w;
}

static const struct range *ring_at(const struct watch *w, uint32_t i)
{
	return &w->ring[(w->head + i) % RING];
}

bool correlation__lookup(void *p, const char *topic, int32_t partition, int64_t from, int64_t to,
			 struct trace_ctx *out)
{
	struct correlation *c = p;
	struct watch *w;
	bool ok = false;

	if (strlen(topic) >= TOPIC_MAX || to <= from)
		return false;
	pthread_mutex_lock(&c->lock);
	w = watch_locked(c, topic, partition, from);
	if (w && w->n) {
		/* The last Produce that began at or before from (bases increase along the ring). */
		uint32_t lo = 0, hi = w->n;

		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (ring_at(w, mid)->base <= from)
				lo = mid;
			else
				hi = mid;
		}
		/* Offsets are one Produce's each: it wrote all of [from, to), or not one did. */
		if (ring_at(w, lo)->base <= from && ring_at(w, lo)->end >= to) {
			*out = ring_at(w, lo)->ctx;
			ok = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* A Produce read for w (under lock), in base order. */
static void ring_add(struct watch *w, int64_t base, int64_t end, const struct trace_ctx *ctx)
{
	struct range *r;

	if (w->n && ring_at(w, w->n - 1)->base >= base)
		return; /* read already, or out of order */
	if (w->n == RING) {
		w->head = (w->head + 1) % RING;
		w->n--;
	}
	r = &w->ring[(w->head + w->n++) % RING];
	r->base = base;
	r->end = end;
	r->ctx = *ctx;
}

/* "<base>:<end>:<32 hex>:<16 hex>:<flags>" */
static bool member_parse(const char *s, int64_t *base, int64_t *end, struct trace_ctx *ctx)
{
	char trace[33], span[17];
	unsigned flags;

	memset(ctx, 0, sizeof(*ctx));
	if (sscanf(s, "%" SCNd64 ":%" SCNd64 ":%32[0-9a-f]:%16[0-9a-f]:%u", base, end, trace, span,
		   &flags) != 5 ||
	    strlen(trace) != 32 || strlen(span) != 16 || *end <= *base ||
	    span_trace_parse(trace, ctx->trace_id))
		return false;
	ctx->span_id = strtoull(span, NULL, 16);
	ctx->flags = (uint8_t)(flags & TRACE_SAMPLED);
	return ctx->span_id != 0;
}

static int round_trip(struct correlation *c)
{
	int nsend, nread;

	if (!c->rc) {
		struct timeval tv = { 0, TIMEOUT_MS * 1000 };

		c->rc = redisConnectWithTimeout(c->host, c->port, tv);
		if (!c->rc || c->rc->err || redisSetTimeout(c->rc, tv) != REDIS_OK)
			return -1;
	}
	pthread_mutex_lock(&c->lock);
	nsend = c->nqueue;
	memcpy(c->sending, c->queue, sizeof(*c->queue) * (size_t)nsend);
	c->nqueue = 0;
	nread = c->nwatch;
	for (int i = 0; i < nread; i++) { /* what to ask for, not the rings */
		memcpy(c->reading[i].topic, c->watch[i].topic, TOPIC_MAX);
		c->reading[i].partition = c->watch[i].partition;
		c->reading[i].after = c->watch[i].after;
	}
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < nsend; i++) {
		const struct pub *q = &c->sending[i];
		char trace[33], span[17];

		span_trace_hex(q->ctx.trace_id, trace);
		span_id_hex(q->ctx.span_id, span);
		redisAppendCommand(c->rc, "ZADD sonde:kafka:%s:%d %lld %lld:%lld:%s:%s:%u", q->topic,
				   q->partition, (long long)q->base, (long long)q->base,
				   (long long)q->end, trace, span, q->ctx.flags & TRACE_SAMPLED);
		redisAppendCommand(c->rc, "PEXPIRE sonde:kafka:%s:%d %d", q->topic, q->partition,
				   TTL_MS);
	}
	for (int i = 0; i < nread; i++)
		redisAppendCommand(c->rc, "ZRANGEBYSCORE sonde:kafka:%s:%d (%lld +inf LIMIT 0 %d",
				   c->reading[i].topic, c->reading[i].partition,
				   (long long)c->reading[i].after, READ_MAX);
	for (int i = 0; i < 2 * nsend; i++) {
		redisReply *r;

		if (redisGetReply(c->rc, (void **)&r) != REDIS_OK)
			return -1;
		freeReplyObject(r);
	}
	for (int i = 0; i < nread; i++) {
		struct watch *w = &c->reading[i];
		redisReply *r;
		int64_t last = w->after;

		if (redisGetReply(c->rc, (void **)&r) != REDIS_OK)
			return -1;
		pthread_mutex_lock(&c->lock);
		{
			struct watch *cw = watch_locked(c, w->topic, w->partition, 0);

			for (size_t k = 0; cw && r->type == REDIS_REPLY_ARRAY && k < r->elements;
			     k++) {
				struct trace_ctx ctx;
				int64_t base, end;

				if (r->element[k]->type != REDIS_REPLY_STRING ||
				    !member_parse(r->element[k]->str, &base, &end, &ctx))
					continue;
				ring_add(cw, base, end, &ctx);
				if (base > last)
					last = base;
			}
			if (cw && cw->after < last)
				cw->after = last;
		}
		pthread_mutex_unlock(&c->lock);
		freeReplyObject(r);
	}
	return 0;
}

static void tick(void *p)
{
	struct correlation *c = p;

	if (round_trip(c)) {
		metric__add(c->errors, NULL, 1);
		if (c->rc) {
			redisFree(c->rc);
			c->rc = NULL;
		}
	}
}

struct correlation *correlation__start(const char *hostport, struct metrics *m)
{
	struct correlation *c = calloc(1, sizeof(*c));
	const char *colon = strrchr(hostport, ':');

	if (!c || !colon || (size_t)(colon - hostport) >= sizeof(c->host))
		goto fail;
	memcpy(c->host, hostport, (size_t)(colon - hostport));
	c->port = atoi(colon + 1);
	c->queue = calloc(QUEUE_MAX, sizeof(*c->queue));
	c->sending = calloc(QUEUE_MAX, sizeof(*c->sending));
	c->errors = metrics__counter(m, "sonde_trace_correlation_errors_total",
				     "Round trips to the --correlation-redis Redis that failed: "
				     "CONSUMER spans of other instances' Produces stay unlinked meanwhile",
				     NULL, 0);
	c->dropped = metrics__counter(m, "sonde_trace_correlation_dropped_total",
				      "Produces not published to --correlation-redis: the queue of "
				      "16,384 was full (Redis down or slow)",
				      NULL, 0);
	if (!c->queue || !c->sending || !c->errors || !c->dropped)
		goto fail;
	metric__add(c->errors, NULL, 0);
	metric__add(c->dropped, NULL, 0);
	pthread_mutex_init(&c->lock, NULL);
	if (ticker_start(&c->ticker, EVERY_NS, tick, c)) {
		pthread_mutex_destroy(&c->lock);
		goto fail;
	}
	return c;
fail:
	if (c) {
		free(c->queue);
		free(c->sending);
		free(c);
	}
	errno = ENOMEM;
	return NULL;
}

void correlation__stop(struct correlation *c)
{
	if (!c)
		return;
	ticker_stop(&c->ticker);
	if (c->rc)
		redisFree(c->rc);
	pthread_mutex_destroy(&c->lock);
	for (int i = 0; i < c->nwatch; i++)
		free(c->watch[i].ring);
	free(c->queue);
	free(c->sending);
	free(c);
}
