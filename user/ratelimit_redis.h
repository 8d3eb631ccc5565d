/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ratelimit-redis: rate-limit counts shared between sonde instances through
 * one Redis (hiredis), from a thread of its own. Every sync (200 ms) pushes
 * this instance's new admissions to a sorted set per (rule, client) and pulls,
 * for every (rule, client) any instance saw lately, the others' admissions
 * within the rule's window into the kernel's rl_remote map, which the kernel
 * subtracts from the limit. Redis down: rl_remote is emptied, every instance
 * limits alone, errors are counted. See docs/ratelimit.md.
 */
#ifndef SONDE_RATELIMIT_REDIS_H
#define SONDE_RATELIMIT_REDIS_H

#include <stdint.h>

struct metrics;
struct rl_sync;

struct rl_sync_rule {
	uint32_t id;
	unsigned limit;
	uint64_t window_ns;
};

/* hostport "HOST:PORT"; the fds of the kernel's rl_state, rl_times and rl_remote maps. */
struct rl_sync *rl_sync__start(const char *hostport, int state_fd, int times_fd, int remote_fd,
			       struct metrics *m);
/* The rules in force (copied). */
void rl_sync__set_rules(struct rl_sync *s, const struct rl_sync_rule *r, int n);
void rl_sync__stop(struct rl_sync *s); /* accepts NULL */

#endif /* SONDE_RATELIMIT_REDIS_H */
