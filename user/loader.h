/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel side, from userspace: environment checks, mounting tracefs,
 * loading and attaching the capture programs, the targets map, the per-CPU
 * record rings and the BPF counters. Everything attached is released by
 * loader__close, and by the kernel if the process dies.
 */
#ifndef SONDE_LOADER_H
#define SONDE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sonde.h"

struct loader;

/* Root or the capabilities, BTF, tracefs: 0, or -1 with a one-line reason. */
int loader_check_env(char *err, size_t errsz);

/*
 * Open, configure, load and attach. app_logs: targets' writes to their
 * stdout and stderr are captured too (SONDE_EV_LOG). inject: HTTP requests'
 * ids are born in the kernel (--inject-traceparent; new traces sampled at
 * sample_rate), records carry them (SONDE_F_IDS). watch_all: every exec of
 * the node is a record (SONDE_EV_EXEC, --all); watch_ports: so is a listen or
 * connect on a port given to loader__watch_port (SONDE_EV_PORT). on_event is called for each
 * ring record from loader__poll (SONDE_EV_EXIT: a target's process ended,
 * the kernel side forgot it). NULL with a one-line reason in err on failure.
 */
struct loader *loader__open(unsigned capture_bytes, bool app_logs, bool inject,
			    double sample_rate, bool watch_all, bool watch_ports, int verbose,
			    int (*on_event)(void *ctx, void *data, size_t size), void *ctx,
			    char *err, size_t errsz);
void loader__close(struct loader *l); /* accepts NULL */

/*
 * Observe pid with service index svc, and, if descendants, every process
 * below it now (children forked later are added by the kernel side).
 * Returns 0, or -errno (-ESRCH: no such process).
 */
int loader__add_target(struct loader *l, pid_t pid, uint32_t svc, bool descendants);
/* --match-port: a port whose listeners and clients are reported. 0 or -errno. */
int loader__watch_port(struct loader *l, uint16_t port);
/* Is tgid observed? Stop observing it (its children stay observed). */
bool loader__is_target(struct loader *l, uint32_t tgid);
void loader__del_target(struct loader *l, uint32_t tgid);

/*
 * Remove targets whose process is gone; calls gone(ctx, tgid) for each.
 * Returns the number of live targets.
 */
int loader__sweep(struct loader *l, void (*gone)(void *ctx, uint32_t tgid), void *ctx);

/*
 * From now on, copy up to bytes (<= SONDE_CAPTURE_MAX; 0: unchanged) per
 * syscall on one connection, and walk its syscalls larger than that as walk
 * says (enum sonde_walk; 0: unchanged), if (tgid, fd) is still the
 * connection conn_id. Returns 0 or -errno.
 */
int loader__set_capture(struct loader *l, uint32_t tgid, uint32_t fd, uint64_t conn_id,
			uint16_t bytes, uint8_t walk);

/*
 * Sleep timeout_ms, then hand every record to on_event, oldest first across
 * CPUs; records of the last millisecond wait for the next call, unless
 * timeout_ms is 0 (the last drain). Returns the number of records, or -1.
 */
int loader__poll(struct loader *l, int timeout_ms);

/* Sum the per-CPU counters into out[SONDE_STAT__MAX]. */
void loader__stats(struct loader *l, uint64_t out[SONDE_STAT__MAX]);

/*
 * Attach the TLS probes (bpf/tls.h) to the library or binary at path: every
 * process that maps it, observed or not, runs them at its SSL_read, SSL_write
 * (and _ex) and SSL_set_fd. Returns the functions probed, or -errno
 * (-ENOENT: no SSL_read and SSL_write there); nothing stays attached then.
 */
int loader__attach_tls(struct loader *l, const char *path);

/* Number of programs attached (for /readyz), and how many there are. */
int loader__attached(const struct loader *l, int *total);

/* The fd of the capture programs' map name (shared with other objects), or -1. */
int loader__map_fd(const struct loader *l, const char *name);

/*
 * Whether the kernel has bpf_loop (5.17): without it, syscalls larger than the
 * capture are walked fewer messages deep, and injection and rate limiting,
 * whose programs scan heads with it, cannot load. SONDE_BPF_COMPAT=noloop:
 * taken as absent (with the kfunc too), to test and measure what such a
 * kernel gets.
 */
bool loader__has_loop(void);

struct bpf_program;
/* With -vv: how many instructions the verifier walked through for prog (load time). */
void loader_print_verified(const struct bpf_program *prog);

/* The sample_below of the BPF programs for a share of new traces kept. */
uint64_t loader_sample_below(double rate);

/* The cgroup v2 hierarchy's root (every process is below it), or -1. */
int loader_cgroup2_root(void);

/* Sum over ncpus CPUs of a per-CPU __u64 array's element idx (0 if unreadable). */
uint64_t loader_percpu_sum(int fd, uint32_t idx, int ncpus);

#endif /* SONDE_LOADER_H */
