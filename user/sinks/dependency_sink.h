/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Passive dependency health (docs/metrics.md "Dependencies"): every peer the
 * observed services call (HTTP, Redis, PostgreSQL, Kafka, or a TCP connect
 * that never got that far), judged from the calls alone, as a Spring Boot
 * actuator's health indicators would judge them by asking:
 *   DOWN      the latest call failed below its protocol (connection refused,
 *             reset or timed out, no answer) and none succeeded since;
 *   DEGRADED  reachable, but over the last minute at least 10 % of at least 5
 *             calls failed (5xx, error replies, ErrorResponse, error codes,
 *             connection failures);
 *   UP        otherwise.
 * sonde_dependency_up{service, dependency} is 1 unless DOWN; /api/dependencies
 * has the detail. A dependency is named by its protocol and address
 * ("redis://127.0.0.1:6379"). Thread-safe: the capture thread puts, the HTTP
 * server thread reads.
 */
#ifndef SONDE_SINKS_DEPENDENCY_SINK_H
#define SONDE_SINKS_DEPENDENCY_SINK_H

#include <stdint.h>

#include "exchange.h"

#define DEPS_MAX 512 /* (service, dependency) pairs followed; more are counted */

struct metrics;
struct dependency_sink;
struct zbuf;

struct dependency_sink *dependency_sink__new(struct metrics *m);
void dependency_sink__free(struct dependency_sink *d); /* accepts NULL */
/* struct sink's put: ctx is the dependency_sink. */
void dependency_sink__put(void *ctx, const struct exchange *x, size_t n);

/*
 * The dependencies as a JSON array, at CLOCK_MONOTONIC now_ns, into a
 * malloc'd string (NULL: ENOMEM): [{"service", "dependency", "protocol",
 * "status", "calls_1m", "errors_1m", "error_rate_1m", "last_success",
 * "last_failure", "last_error"}], times as RFC 3339 UTC or null.
 */
char *dependency_sink__json(struct dependency_sink *d, uint64_t now_ns);

#endif /* SONDE_SINKS_DEPENDENCY_SINK_H */
