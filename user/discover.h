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
 *          (a cgroup path prefix), --match-port (the kernel reports a listen or
 *          connect on the port: SONDE_EV_PORT), any number, OR-ed; none:
 *          every process.
 *          --exclude-comm (regexes) wins over them. sonde never matches itself.
 *   name:  the pod's workload (user/k8s.h), else the first of discovery.names
 *          whose patterns all match (discover_name), else the process's comm;
 *          past --max-services distinct names, "other" (counted by the caller).
 *
 * discover_match is pure (tests/unit/test_discover.c); proc_info_read reads
 * /proc.
 */
#ifndef SONDE_DISCOVER_H
#define SONDE_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>
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

/* Does the process match (its port aside)? Kernel threads (no exe) never do. */
bool discover_match(const struct discover *d, const struct proc_info *p);
/* The name discovery.names gives the process, or NULL. */
const char *discover_name(const struct discover *d, const struct proc_info *p);
/* Excluded by --exclude-comm (a process a port brought in is still checked)? */
bool discover_excluded(const struct discover *d, const struct proc_info *p);
/* The --match-port ports into out (at most max); how many. */
int discover_ports(const struct discover *d, uint16_t *out, int max);

/* 0, or -errno (the process is gone). */
int proc_info_read(pid_t pid, struct proc_info *p);

/*
 * Each TCP socket of pid's network namespace (/proc/PID/net/tcp, tcp6): its
 * state (0x0A listening, 0x01 established), ports and inode, until fn says
 * true. 0, or -1 when neither file could be read.
 */
typedef bool (*proc_tcp_fn)(void *ctx, unsigned state, uint16_t lport, uint16_t rport,
			    unsigned long inode);
int proc_tcp_sockets(pid_t pid, proc_tcp_fn fn, void *ctx);

/*
 * Does pid hold a TCP socket listening on one of ports, or connected to one
 * (its network namespace's /proc/PID/net/tcp{,6}, then its fds)? For the
 * processes already running at start; later ones the kernel reports.
 */
bool proc_uses_port(pid_t pid, const uint16_t *ports, int n);

#endif /* SONDE_DISCOVER_H */
