/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --inject-traceparent: loads bpf/inject.bpf.c beside the capture programs
 * (sharing their targets, inj_threads and inj_sent maps), attaches its sockops
 * program to the cgroup v2 root and its sk_msg program to its SOCKHASH, and
 * exports what it did: sonde_inject_requests_total and
 * sonde_inject_skipped_total{reason}. Everything detaches at inject__free,
 * or when the process dies.
 */
#ifndef SONDE_INJECT_USER_H
#define SONDE_INJECT_USER_H

#include <stddef.h>

struct inject;
struct loader;
struct metrics;

/* NULL with a one-line reason in err on failure. */
struct inject *inject__start(struct loader *l, double sample_rate, struct metrics *m, char *err,
			     size_t errsz);
void inject__free(struct inject *in); /* accepts NULL */
/*
 * Connections the targets made before sonde started (sockops saw no connect):
 * their established TCP client sockets, taken with pidfd_getfd(2), join the
 * SOCKHASH like new ones. Returns how many joined.
 */
int inject__adopt(struct inject *in, struct loader *l, int verbose);

#endif /* SONDE_INJECT_USER_H */
