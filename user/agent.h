/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's event pipeline, without BPF: ring-buffer records in, metrics
 * out. Connection table -> protocol detection -> parser -> exchange -> sinks.
 * Called from the capture thread only; metric updates are thread-safe.
 */
#ifndef SONDE_AGENT_H
#define SONDE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "sonde.h"

struct metrics;
struct config;
struct agent;

/* The bucket bounds of every latency histogram, in seconds. */
extern const double agent_latency_buckets[13];

/*
 * cfg gives route patterns, the `uri` limit per service and cache key
 * patterns; it must outlive the agent. NULL: defaults.
 */
struct agent *agent__new(struct metrics *m, const struct config *cfg);
void agent__free(struct agent *a); /* accepts NULL */

/*
 * Called when the kernel side should capture a connection otherwise: copy up
 * to bytes per syscall (0: unchanged), when its framing was lost to bytes
 * past the capture; walk its large syscalls message by message (walk: enum
 * sonde_walk, 0: unchanged), once its protocol is known. At most twice per
 * connection.
 */
typedef void (*agent_capture_fn)(void *ctx, uint32_t tgid, uint32_t fd, uint64_t conn_id,
				 uint16_t bytes, uint8_t walk);
void agent__set_capture_hook(struct agent *a, agent_capture_fn fn, void *ctx);

/* The Kubernetes pod of a process, for spans and log lines (exchange.k8s); NULL none. */
struct k8s_meta;
typedef const struct k8s_meta *(*agent_k8s_fn)(void *ctx, uint32_t tgid);
void agent__set_k8s_hook(struct agent *a, agent_k8s_fn fn, void *ctx);

/*
 * Another sink for the exchanges (the metrics sink is built in, first).
 * Returns 0, or -1 when there are too many.
 */
struct sink;
int agent__add_sink(struct agent *a, struct sink s);

/* Where the lines of targets' stdout and stderr go (SONDE_EV_LOG records). */
struct line_sink;
void agent__set_line_sink(struct agent *a, const struct line_sink *ls);

/* Give every exchange its trace context (trace.h): needed by span and log sinks. */
int agent__enable_tracing(struct agent *a, double sample_rate);
/* --correlation-redis (trace.h); after agent__enable_tracing. */
struct tracer_correlator;
void agent__set_correlator(struct agent *a, const struct tracer_correlator *c);
struct tracer_stats;
/* false when tracing is off. */
bool agent__tracer_stats(const struct agent *a, struct tracer_stats *st);
/* tracer__produced of the agent's tracer (a span_local_fn: p is the agent). */
struct trace_ctx;
bool agent__produced(void *p, const char *topic, int32_t partition, int64_t from, int64_t to,
		     uint8_t flags, struct trace_ctx *out);

/* Register a service name; returns its index (what BPF carries in events), or -1. */
int agent__add_service(struct agent *a, const char *name);
/*
 * The same for a service whose series carry k8s_namespace, k8s_pod,
 * k8s_container and k8s_node (--k8s-labels; k8s: those 4 values): one index
 * per name and values.
 */
int agent__add_service_k8s(struct agent *a, const char *name, const char *const *k8s);
int agent__find_service_k8s(const struct agent *a, const char *name, const char *const *k8s);
/* A service's index by name, or -1; how many there are; the name of index i ("" if none). */
int agent__find_service(const struct agent *a, const char *name);
int agent__service_count(const struct agent *a);
const char *agent__service_name(const struct agent *a, int i);

/*
 * One ring-buffer record: hdr, then caplen bytes of payload. size is the
 * record's length as the ring buffer reported it; records too short for what
 * they claim are counted as malformed and dropped.
 */
void agent__handle(struct agent *a, const void *rec, size_t size);

/* Forget connections idle for longer than idle_ns (closes missed), and those of tgid 0 = none. */
void agent__expire(struct agent *a, uint64_t now_ns, uint64_t idle_ns);
/* A target process is gone: flush and forget its connections. */
void agent__drop_tgid(struct agent *a, uint32_t tgid);

uint64_t agent__events(const struct agent *a);
size_t agent__connections(const struct agent *a);

#endif /* SONDE_AGENT_H */
