/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Node-wide mode (--all, docs/configuration.md "Node-wide"): which processes
 * sonde observes without being given their PIDs, and under which service
 * name. The kernel reports every exec (SONDE_EV_EXEC) and every target's
 * exit (SONDE_EV_EXIT); at start the processes already running are read
 * once from /proc. A process is matched by what /proc says of it: its
 * command name (comm), its executable's path, its cgroup path.
 *
 *   rules: --match-comm, --match-exe (POSIX extended regexes), --match-cgroup
 *          (a cgroup path prefix), any number, OR-ed; none: every process.
 *          --exclude-comm (regexes) wins over them. sonde never matches itself.
 *   name:  the process's comm; past --max-services distinct names, "other"
 *          (counted by the caller).
 *
 * discover_match is pure (tests/unit/test_discover.c); proc_info_read reads
 * /proc.
 */
#ifndef SONDE_DISCOVER_H
#define SONDE_DISCOVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

struct proc_info {
	char comm[16];    /* /proc/PID/comm */
	char exe[256];    /* /proc/PID/exe's target ("" when unreadable: a kernel thread) */
	char cgroup[512]; /* the cgroup v2 path (0::PATH), else the first v1 line's path */
};

struct discover;

/* The rules of c (c->match_*); NULL with a reason in err (a bad regex). */
struct discover *discover__new(const struct config *c, char *err, size_t errsz);
void discover__free(struct discover *d);

/* Does the process match? Kernel threads (no exe) never do. */
bool discover_match(const struct discover *d, const struct proc_info *p);

/* 0, or -errno (the process is gone). */
int proc_info_read(pid_t pid, struct proc_info *p);

#endif /* SONDE_DISCOVER_H */
