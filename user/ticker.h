/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A thread that calls fn(ctx) every period until stopped (the Redis syncs of
 * --ratelimit-redis and --correlation-redis). fn runs on that thread only.
 */
#ifndef SONDE_TICKER_H
#define SONDE_TICKER_H

#include <pthread.h>
#include <stdint.h>

struct ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	uint64_t period_ns;
	void (*fn)(void *ctx);
	void *ctx;
};

/* 0, or -1 (the thread could not start). */
int ticker_start(struct ticker *t, uint64_t period_ns, void (*fn)(void *ctx), void *ctx);
/* Wakes it, waits for the turn in progress to end. */
void ticker_stop(struct ticker *t);

#endif /* SONDE_TICKER_H */
