/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rate limits enforced in the kernel (rate_limits:, docs/ratelimit.md): loads
 * bpf/ratelimit.bpf.c when the configuration has rules, attaches its sockops
 * program to the cgroup v2 root and its verdict program to the SOCKHASH of
 * limited connections, keeps the limited ports of the targets in the kernel's
 * table, and reports what the kernel counted and answered.
 */
#ifndef SONDE_RATELIMIT_H_USER
#define SONDE_RATELIMIT_H_USER

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "exchange.h"

struct config;
struct metrics;
struct ratelimit;

/* A request the kernel answered 429; called from ratelimit__poll. */
typedef void (*ratelimit_limited_fn)(void *ctx, const struct limited_request *l);

/*
 * Load and attach for cfg's rules (cfg must outlive it). Returns NULL with
 * err empty when there are no rules, NULL with a message on failure.
 */
struct ratelimit *ratelimit__start(const struct config *cfg, struct metrics *m,
				   ratelimit_limited_fn on_limited, void *ctx, char *err,
				   size_t errsz);
/* Detach everything; accepts NULL. */
void ratelimit__free(struct ratelimit *rl);
/* A process whose listening ports are limited, and its service's name. */
int ratelimit__add_target(struct ratelimit *rl, pid_t pid, const char *service);
/* Called from the main loop (now: CLOCK_MONOTONIC ns): ports (once a second), 429s, old client logs. */
void ratelimit__poll(struct ratelimit *rl, unsigned long long now_ns);
/*
 * New rules (SIGHUP): rules whose match, limit and window are unchanged keep
 * their clients' counts. 0, or -1 with a message (the old rules stay).
 */
int ratelimit__reload(struct ratelimit *rl, const struct config *cfg, char *err, size_t errsz);

#endif /* SONDE_RATELIMIT_H_USER */
