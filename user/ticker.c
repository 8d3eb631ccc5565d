// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <time.h>

#include "ticker.h"

static void *run(void *p)
{
	struct ticker *t = p;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec now, until;
		uint64_t at;

		pthread_mutex_unlock(&t->lock);
		t->fn(t->ctx);
		clock_gettime(CLOCK_REALTIME, &now);
		at = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec + t->period_ns;
		until.tv_sec = (time_t)(at / 1000000000ULL);
		until.tv_nsec = (long)(at % 1000000000ULL);
		pthread_mutex_lock(&t->lock);
		if (!t->stop)
			pthread_cond_timedwait(&t->wake, &t->lock, &until);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ticker_start(struct ticker *t, uint64_t period_ns, void (*fn)(void *ctx), void *ctx)
{
	t->stop = 0;
	t->period_ns = period_ns;
	t->fn = fn;
	t->ctx = ctx;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	if (pthread_create(&t->thread, NULL, run, t)) {
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->wake);
		return -1;
	}
	return 0;
}

void ticker_stop(struct ticker *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->wake);
}
