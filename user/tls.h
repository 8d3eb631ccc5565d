/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS libraries of the observed processes: found in their memory maps (a
 * libssl.so.*, or an executable that defines SSL_read and SSL_write itself,
 * as Node.js does), each file probed once (loader__attach_tls) for every
 * process that maps it. Scanned when a process becomes a target and again
 * when a target maps code (SONDE_EV_MMAP: a library loaded later); never in
 * a loop. Runs on the capture thread.
 */
#ifndef SONDE_TLS_H
#define SONDE_TLS_H

#include <sys/types.h>

struct loader;
struct metrics;
struct tls_libs;

/* NULL on ENOMEM. Metrics: sonde_tls_libraries, sonde_tls_unsupported{binary}. */
struct tls_libs *tls_libs__new(struct loader *l, struct metrics *m, int verbose);
void tls_libs__free(struct tls_libs *t); /* accepts NULL; the loader detaches */

/* Look at pid's maps now. */
void tls_libs__scan(struct tls_libs *t, pid_t pid);
/* pid mapped code: look at its maps at the next tls_libs__flush (once however many). */
void tls_libs__mapped(struct tls_libs *t, pid_t pid);
void tls_libs__flush(struct tls_libs *t);

#endif /* SONDE_TLS_H */
