// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The span queue and its sender thread with a fake send: batching by size and
 * by interval, drops when full, retry with backoff then drop, stop's flush and
 * its time bound. The fake records every call and can hold calls back (allow)
 * to keep a batch in flight while the test submits more.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "export/span_queue.h"

#define MAXCALLS 64
#define MAXIDS 256
#define WAIT_MS 3000 /* how long a test waits for the sender before failing */

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started, calls;   /* send calls entered, returned */
	int allow;            /* calls beyond this many wait (until cancelled) */
	enum span_send_res script[MAXCALLS]; /* result of call i; past nscript: dflt */
	int nscript;
	enum span_send_res dflt;
	size_t batch[MAXCALLS];
	uint64_t at_ns[MAXCALLS];
	uint64_t ids[MAXIDS]; /* span ids in the order sent, every attempt */
	size_t nids;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / 1000000;
}

static enum span_send_res fake_send(void *ctx, struct span_queue *q, const struct span *s,
				    size_t n)
{
	struct fake *f = ctx;
	enum span_send_res res;
	int i;

	pthread_mutex_lock(&f->lock);
	/* No cmocka assert here: it would longjmp out of the sender thread. */
	i = f->started < MAXCALLS - 1 ? f->started : MAXCALLS - 1;
	f->started++;
	f->batch[i] = n;
	f->at_ns[i] = now_ns();
	for (size_t k = 0; k < n && f->nids < MAXIDS; k++)
		f->ids[f->nids++] = s[k].id;
	res = i < f->nscript ? f->script[i] : f->dflt;
	while (f->started > f->allow && !span_queue__cancelled(q)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	if (f->started > f->allow)
		res = SPAN_SEND_RETRY; /* cancelled, as a real send would be */
	f->calls++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return res;
}

/* Wait until *counter (calls or started, under f->lock) reaches k; fail after WAIT_MS. */
static void wait_for(struct fake *f, const int *counter, int k)
{
	uint64_t t0 = now_ns();
	int seen;

	pthread_mutex_lock(&f->lock);
	while ((seen = *counter) < k && ms_since(t0) < WAIT_MS) {
		pthread_mutex_unlock(&f->lock);
		usleep(1000);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	assert_true(seen >= k);
}

/* k send calls have returned. */
static void wait_calls(struct fake *f, int k)
{
	wait_for(f, &f->calls, k);
}

/* k send calls have started: the k-th batch is in flight. */
static void wait_started(struct fake *f, int k)
{
	wait_for(f, &f->started, k);
}

static int calls_of(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->calls;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void set_allow(struct fake *f, int allow)
{
	pthread_mutex_lock(&f->lock);
	f->allow = allow;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->allow = MAXCALLS;
	f->dflt = SPAN_SEND_OK;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

/* n spans with ids first, first+1, ... */
static size_t submit_ids(struct span_queue *q, uint64_t first, size_t n)
{
	struct span s[32];

	assert_true(n <= 32);
	memset(s, 0, sizeof(s));
	for (size_t i = 0; i < n; i++) {
		s[i].id = first + i;
		s[i].trace_id[15] = 1;
	}
	return span_queue__submit(q, s, n);
}

static struct span_queue_stats stats_of(struct span_queue *q)
{
	struct span_queue_stats st;

	span_queue__stats(q, &st);
	return st;
}

/* Full batches go at once; the remainder waits for the interval (10 s here), then stop sends it. */
static void test_batch_by_size(void **state)
{
	struct span_queue_opts o = { .capacity = 100, .batch_max = 10, .flush_ms = 10000 };
	struct fake *f = *state;
	struct span_queue *q = span_queue__start(&o, fake_send, f);
	struct span_queue_stats st;

	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 25), 25);
	wait_calls(f, 2);
	usleep(100000);
	assert_int_equal(calls_of(f), 2);
	assert_int_equal(f->batch[0], 10);
	assert_int_equal(f->batch[1], 10);
	assert_int_equal(stats_of(q).queued, 5);
	span_queue__stop(q);
	assert_int_equal(f->calls, 3);
	assert_int_equal(f->batch[2], 5);
	for (size_t i = 0; i < 25; i++)
		assert_int_equal(f->ids[i], i + 1);
	st = stats_of(q);
	assert_int_equal(st.exported, 25);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.queued, 0);
	span_queue__free(q);
}

/* A partial batch goes once the oldest span has waited flush_ms, not before. */
static void test_batch_by_interval(void **state)
{
	struct span_queue_opts o = { .batch_max = 1000, .flush_ms = 150 };
	struct fake *f = *state;
	struct span_queue *q = span_queue__start(&o, fake_send, f);
	uint64_t t0 = now_ns(), waited;

	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 2), 2);
	usleep(50000);
	assert_int_equal(submit_ids(q, 3, 1), 1);
	wait_calls(f, 1);
	waited = (f->at_ns[0] - t0) / 1000000;
	print_message("first batch after %llu ms (flush_ms 150)\n", (unsigned long long)waited);
	assert_true(waited >= 140 && waited < 1000);
	assert_int_equal(f->batch[0], 3);
	span_queue__free(q);
	assert_int_equal(f->calls, 1);
}

/* Submit takes what fits, counts the rest, and never waits for the sender. */
static void test_queue_full(void **state)
{
	struct span_queue_opts o = { .capacity = 8, .batch_max = 4, .flush_ms = 10000 };
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;
	uint64_t t0;

	f->allow = 0; /* the first batch stays in flight, holding its slots */
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 5), 5);
	wait_started(f, 1);
	t0 = now_ns();
	assert_int_equal(submit_ids(q, 6, 5), 3);
	assert_int_equal(submit_ids(q, 11, 1), 0);
	assert_true(ms_since(t0) < 50);
	st = stats_of(q);
	assert_int_equal(st.dropped_queue_full, 3);
	assert_int_equal(st.queued, 8);
	set_allow(f, MAXCALLS);
	wait_calls(f, 2);
	assert_int_equal(submit_ids(q, 20, 2), 2);
	span_queue__stop(q);
	st = stats_of(q);
	assert_int_equal(st.exported, 10);
	assert_int_equal(st.dropped_queue_full, 3);
	span_queue__free(q);
}

/* A transient failure is retried `retries` times, 20 then 40 ms apart, then dropped. */
static void test_retry_then_drop(void **state)
{
	struct span_queue_opts o = { .flush_ms = 10, .retries = 2, .backoff_ms = 20 };
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;

	f->dflt = SPAN_SEND_RETRY;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 3), 3);
	wait_calls(f, 3);
	usleep(200000);
	assert_int_equal(calls_of(f), 3);
	assert_true((f->at_ns[1] - f->at_ns[0]) / 1000000 >= 20);
	assert_true((f->at_ns[2] - f->at_ns[1]) / 1000000 >= 40);
	st = stats_of(q);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.dropped_send_failed, 3);
	assert_int_equal(st.exported, 0);
	assert_int_equal(st.queued, 0);
	span_queue__free(q);
}

static void test_retry_then_ok(void **state)
{
	struct span_queue_opts o = { .flush_ms = 10, .backoff_ms = 10 };
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;

	f->script[0] = SPAN_SEND_RETRY;
	f->script[1] = SPAN_SEND_RETRY;
	f->script[2] = SPAN_SEND_OK;
	f->nscript = 3;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 4), 4);
	wait_calls(f, 3);
	span_queue__stop(q);
	st = stats_of(q);
	assert_int_equal(st.exported, 4);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.dropped_send_failed, 0);
	/* The same batch each time, from the same slots. */
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(f->ids[i], i % 4 + 1);
	span_queue__free(q);
}

/* A permanent failure (4xx) is not retried. */
static void test_drop_no_retry(void **state)
{
	struct span_queue_opts o = { .flush_ms = 10, .backoff_ms = 10 };
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;

	f->dflt = SPAN_SEND_DROP;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 2), 2);
	wait_calls(f, 1);
	usleep(100000);
	span_queue__stop(q);
	st = stats_of(q);
	assert_int_equal(f->calls, 1);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.dropped_send_failed, 2);
	span_queue__free(q);
}

/* While a batch waits between retries, submit keeps filling the free slots. */
static void test_accepts_while_retrying(void **state)
{
	struct span_queue_opts o = {
		.capacity = 16, .batch_max = 4, .flush_ms = 10, .backoff_ms = 2000, .stop_ms = 100,
	};
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;

	f->dflt = SPAN_SEND_RETRY;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 4), 4);
	wait_calls(f, 1);
	assert_int_equal(submit_ids(q, 5, 10), 10);
	assert_int_equal(submit_ids(q, 15, 5), 2);
	st = stats_of(q);
	assert_int_equal(st.queued, 16);
	assert_int_equal(st.dropped_queue_full, 3);
	span_queue__free(q);
}

/* Stop sends what is queued at once, without waiting for the interval. */
static void test_stop_flushes(void **state)
{
	struct span_queue_opts o = { .batch_max = 1000, .flush_ms = 10000 };
	struct fake *f = *state;
	struct span_queue *q = span_queue__start(&o, fake_send, f);
	struct span_queue_stats st;
	uint64_t t0;

	assert_non_null(q);
	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(submit_ids(q, 1 + 10 * i, 10), 10);
	t0 = now_ns();
	span_queue__stop(q);
	assert_true(ms_since(t0) < 500);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->batch[0], 50);
	st = stats_of(q);
	assert_int_equal(st.exported, 50);
	assert_int_equal(st.dropped_stopped, 0);
	span_queue__free(q);
}

/* A send that never finishes is cancelled when stop's budget runs out; nothing is lost silently. */
static void test_stop_bounded(void **state)
{
	struct span_queue_opts o = { .batch_max = 4, .flush_ms = 10, .stop_ms = 200 };
	struct fake *f = *state;
	struct span_queue *q;
	struct span_queue_stats st;
	uint64_t t0, took;

	f->allow = 0;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 4), 4);
	wait_started(f, 1);
	assert_int_equal(submit_ids(q, 5, 3), 3);
	t0 = now_ns();
	span_queue__stop(q);
	took = ms_since(t0);
	print_message("stop took %llu ms (stop_ms 200)\n", (unsigned long long)took);
	assert_true(took >= 190 && took < 1000);
	st = stats_of(q);
	assert_int_equal(st.dropped_stopped, 7);
	assert_int_equal(st.exported, 0);
	assert_int_equal(st.dropped_send_failed, 0);
	assert_int_equal(st.queued, 0);
	span_queue__free(q);
}

/* Batches end where the ring wraps, and spans leave in the order they came. */
static void test_ring_wrap_order(void **state)
{
	struct span_queue_opts o = { .capacity = 10, .batch_max = 4, .flush_ms = 10 };
	struct fake *f = *state;
	struct span_queue *q;

	f->allow = 0;
	q = span_queue__start(&o, fake_send, f);
	assert_non_null(q);
	assert_int_equal(submit_ids(q, 1, 8), 8); /* slots 0-7; batch 0-3 in flight */
	wait_started(f, 1);
	set_allow(f, 1);
	wait_started(f, 2); /* batch 4-7 in flight */
	assert_int_equal(submit_ids(q, 9, 6), 6); /* slots 8, 9, 0-3 */
	set_allow(f, MAXCALLS);
	wait_calls(f, 4);
	span_queue__stop(q);
	assert_int_equal(f->calls, 4);
	assert_int_equal(f->batch[0], 4);
	assert_int_equal(f->batch[1], 4);
	assert_int_equal(f->batch[2], 2);
	assert_int_equal(f->batch[3], 4);
	for (size_t i = 0; i < 14; i++)
		assert_int_equal(f->ids[i], i + 1);
	span_queue__free(q);
}

static void test_bad_args(void **state)
{
	(void)state;
	assert_null(span_queue__start(NULL, NULL, NULL));
	span_queue__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_by_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_no_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accepts_while_retrying, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_flushes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wrap_order, setup, teardown),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
