// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The span queue: one mutex, one condition variable, one sender thread.
 *
 * Ring layout (count spans from tail, wrapping at cap):
 *
 *   tail                 tail+inflight            tail+count
 *    | batch being sent   | waiting for a batch    | free ...
 *
 * The sender sends a batch in place, so submit's copy is the only one a span
 * ever gets, and the sender's lock sections are a few loads and stores: the
 * capture thread waits on the lock for nanoseconds, never for a send.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/span_queue.h"

#define DEF_CAPACITY 16384
#define DEF_BATCH_MAX 1000
#define DEF_FLUSH_MS 1000
#define DEF_RETRIES 3
#define DEF_BACKOFF_MS 250
#define DEF_BACKOFF_MAX_MS 5000
#define DEF_STOP_MS 2000
#define DEF_NAME "sonde-spanq"

#define NS_PER_MS 1000000ULL

struct span_queue {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the sender sleeps here: for spans, a timer, or stop */
	struct span *ring;
	size_t tail, count, inflight;
	uint64_t first_ns; /* CLOCK_MONOTONIC arrival of the oldest span not in a batch */
	bool stopping, joined;
	_Atomic uint64_t cancel_at_ns; /* 0 until stop: then when sends must give up */
	struct span_queue_stats st;
	struct span_queue_opts o; /* defaults filled in */
	span_send_fn send;
	void *ctx;
	pthread_t thread;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

bool span_queue__cancelled(const struct span_queue *q)
{
	uint64_t at = atomic_load_explicit(&q->cancel_at_ns, memory_order_relaxed);

	return at && now_ns() >= at;
}

/* Sleep on the condition variable until at_ns (monotonic), a signal, or a spurious wakeup. */
static void wait_until(struct span_queue *q, uint64_t at_ns)
{
	struct timespec ts = { .tv_sec = at_ns / 1000000000ULL, .tv_nsec = at_ns % 1000000000ULL };

	pthread_cond_timedwait(&q->wake, &q->lock, &ts);
}

size_t span_queue__submit(struct span_queue *q, const struct span *s, size_t n)
{
	size_t took, head, first, unsent;
	bool wake;

	pthread_mutex_lock(&q->lock);
	took = min_sz(n, q->o.capacity - q->count);
	head = (q->tail + q->count) % q->o.capacity;
	first = min_sz(took, q->o.capacity - head);
	/* Only the tags in use: a span's tag array is most of its 2 KB. */
	for (size_t i = 0; i < took; i++)
		memcpy(q->ring + (i < first ? head + i : i - first), &s[i], span_size(&s[i]));
	unsent = q->count - q->inflight;
	if (!unsent && took)
		q->first_ns = now_ns();
	/* Wake the sender only when it has something new to decide: start its
	 * interval timer, or send a full batch now. */
	wake = took && (!unsent || (unsent < q->o.batch_max && unsent + took >= q->o.batch_max));
	q->count += took;
	q->st.dropped_queue_full += n - took;
	pthread_mutex_unlock(&q->lock);
	if (wake)
		pthread_cond_signal(&q->wake);
	return took;
}

/*
 * Under the lock: wait until a batch is due (full, interval passed, or
 * stopping) and mark it in flight. Returns its size; 0 when the thread should
 * exit (stopped and empty, or stop's budget spent).
 */
static size_t batch_wait(struct span_queue *q)
{
	uint64_t due;
	size_t n;

	for (;;) {
		if (span_queue__cancelled(q))
			return 0;
		due = q->first_ns + q->o.flush_ms * NS_PER_MS;
		if (q->count >= q->o.batch_max || (q->count && (q->stopping || now_ns() >= due)))
			break;
		if (q->stopping)
			return 0;
		if (q->count)
			wait_until(q, due);
		else
			pthread_cond_wait(&q->wake, &q->lock);
	}
	/* A batch is one request body: it ends where the ring wraps. Rare, as
	 * the ring restarts at slot 0 whenever it empties. */
	n = min_sz(min_sz(q->count, q->o.batch_max), q->o.capacity - q->tail);
	q->inflight = n;
	return n;
}

/* Sleep ms before a retry, cut short by stop's deadline. False: cancelled. */
static bool backoff_sleep(struct span_queue *q, unsigned int ms)
{
	uint64_t until = now_ns() + ms * NS_PER_MS, at;

	pthread_mutex_lock(&q->lock);
	while (!span_queue__cancelled(q) && now_ns() < until) {
		at = atomic_load_explicit(&q->cancel_at_ns, memory_order_relaxed);
		wait_until(q, at && at < until ? at : until);
	}
	pthread_mutex_unlock(&q->lock);
	return !span_queue__cancelled(q);
}

static void count_request(struct span_queue *q, enum span_send_res res)
{
	pthread_mutex_lock(&q->lock);
	q->st.requests++;
	if (res != SPAN_SEND_OK)
		q->st.failures++;
	pthread_mutex_unlock(&q->lock);
}

/* Without the lock: send, and retry transient failures with exponential backoff. */
static enum span_send_res send_batch(struct span_queue *q, const struct span *s, size_t n)
{
	unsigned int backoff = q->o.backoff_ms;
	enum span_send_res res;

	for (int attempt = 0;; attempt++) {
		res = q->send(q->ctx, q, s, n);
		count_request(q, res);
		if (res != SPAN_SEND_RETRY || attempt >= q->o.retries || !backoff_sleep(q, backoff))
			return res;
		backoff = backoff > q->o.backoff_max_ms / 2 ? q->o.backoff_max_ms : backoff * 2;
	}
}

/* Under the lock: account for the batch in flight and free its slots. */
static void batch_done(struct span_queue *q, size_t n, enum span_send_res res)
{
	if (res == SPAN_SEND_OK)
		q->st.exported += n;
	else if (res == SPAN_SEND_RETRY && span_queue__cancelled(q))
		q->st.dropped_stopped += n;
	else
		q->st.dropped_send_failed += n;
	q->tail = (q->tail + n) % q->o.capacity;
	q->count -= n;
	q->inflight = 0;
	/* Restart at slot 0 when empty: batches rarely wrap, and the pages of a
	 * large ring are touched only as deep as the queue has ever been. */
	if (!q->count)
		q->tail = 0;
}

static void *sender_main(void *arg)
{
	struct span_queue *q = arg;
	enum span_send_res res;
	size_t n;

	pthread_mutex_lock(&q->lock);
	while ((n = batch_wait(q))) {
		pthread_mutex_unlock(&q->lock);
		res = send_batch(q, q->ring + q->tail, n);
		pthread_mutex_lock(&q->lock);
		batch_done(q, n, res);
	}
	q->st.dropped_stopped += q->count;
	q->count = 0;
	q->tail = 0;
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void opts_fill(struct span_queue_opts *o, const struct span_queue_opts *in)
{
	if (in)
		*o = *in;
	if (!o->capacity)
		o->capacity = DEF_CAPACITY;
	if (!o->batch_max)
		o->batch_max = DEF_BATCH_MAX;
	if (!o->flush_ms)
		o->flush_ms = DEF_FLUSH_MS;
	if (!o->retries)
		o->retries = DEF_RETRIES;
	if (!o->backoff_ms)
		o->backoff_ms = DEF_BACKOFF_MS;
	if (!o->backoff_max_ms)
		o->backoff_max_ms = DEF_BACKOFF_MAX_MS;
	if (!o->stop_ms)
		o->stop_ms = DEF_STOP_MS;
	if (!o->name)
		o->name = DEF_NAME;
	if (o->batch_max > o->capacity)
		o->batch_max = o->capacity;
}

/* The sender takes no signals: they stay with the threads that expect them. */
static int thread_start(struct span_queue *q)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&q->thread, NULL, sender_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pthread_setname_np(q->thread, q->o.name);
	return -err;
}

static int sync_init(struct span_queue *q)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_condattr_init(&ca);
	if (err)
		return -err;
	/* Timed waits against the monotonic clock: a wall-clock step must not
	 * stall a flush or fire it early. */
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&q->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return -err;
	err = pthread_mutex_init(&q->lock, NULL);
	if (err) {
		pthread_cond_destroy(&q->wake);
		return -err;
	}
	return 0;
}

struct span_queue *span_queue__start(const struct span_queue_opts *o, span_send_fn send,
				     void *ctx)
{
	struct span_queue *q;
	int err;

	if (!send) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	opts_fill(&q->o, o);
	q->send = send;
	q->ctx = ctx;
	/* calloc, not malloc + memset: untouched slots cost no memory (see batch_done). */
	q->ring = calloc(q->o.capacity, sizeof(*q->ring));
	if (!q->ring) {
		err = -ENOMEM;
		goto err_free;
	}
	err = sync_init(q);
	if (err)
		goto err_free;
	err = thread_start(q);
	if (err)
		goto err_sync;
	return q;

err_sync:
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
err_free:
	free(q->ring);
	free(q);
	errno = -err;
	return NULL;
}

void span_queue__stop(struct span_queue *q)
{
	if (!q || q->joined)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	atomic_store(&q->cancel_at_ns, now_ns() + q->o.stop_ms * NS_PER_MS);
	pthread_mutex_unlock(&q->lock);
	pthread_cond_signal(&q->wake);
	pthread_join(q->thread, NULL);
	q->joined = true;
}

void span_queue__free(struct span_queue *q)
{
	if (!q)
		return;
	span_queue__stop(q);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}

void span_queue__stats(const struct span_queue *q, struct span_queue_stats *st)
{
	/* The lock is the object's own bookkeeping, not its observable state. */
	pthread_mutex_t *lock = (pthread_mutex_t *)&q->lock;

	pthread_mutex_lock(lock);
	*st = q->st;
	st->queued = q->count;
	pthread_mutex_unlock(lock);
}
