/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics sink: turns exchanges into the call metrics of docs/metrics.md
 * (http_server_requests_seconds, http_client_requests_seconds,
 * redis_commands_seconds, cache_gets_total, database_query_*, kafka_*).
 * Knows nothing of parsers or of the exposition format.
 */
#ifndef SONDE_SINKS_METRICS_SINK_H
#define SONDE_SINKS_METRICS_SINK_H

#include "exchange.h"

struct metrics;
struct config;
struct metrics_sink;

/* The bucket bounds of every latency histogram, in seconds (agent.c). */
extern const double agent_latency_buckets[13];

/* cfg (routes, cache patterns, uri limit) must outlive the sink; NULL: defaults. */
struct metrics_sink *metrics_sink__new(struct metrics *m, const struct config *cfg);
void metrics_sink__free(struct metrics_sink *ms); /* accepts NULL */
/*
 * The services, registered in the agent's order: the index is
 * exchange.service. k8s: the values of k8s_namespace, k8s_pod, k8s_container
 * and k8s_node on its series (--k8s-labels), or NULL (""); a name with other
 * values is another service.
 */
#define METRICS_K8S_LABELS 4
int metrics_sink__add_service(struct metrics_sink *ms, const char *name,
			      const char *const *k8s);
/* struct sink's put: ctx is the metrics_sink. */
void metrics_sink__put(void *ctx, const struct exchange *x, size_t n);

#endif /* SONDE_SINKS_METRICS_SINK_H */
