/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recent spans, grouped by trace, for /api/traces and `sonde traces`: a ring
 * of the last max_spans spans (the oldest go first), filled by the capture
 * thread in batches and read by the HTTP server thread; one mutex. Answers in
 * the shapes of Zipkin's query API (ListOfTraces, Trace, a list of service
 * names). Memory: max_spans * sizeof(struct span) (about 2 KiB each), touched
 * as the ring fills.
 */
#ifndef SONDE_TRACE_STORE_H
#define SONDE_TRACE_STORE_H

#include <stddef.h>

#include "export/zipkin.h"
#include "span.h"

struct trace_store;

/* NULL and errno (EINVAL for max_spans 0, ENOMEM) on failure. */
struct trace_store *trace_store__new(size_t max_spans);
void trace_store__free(struct trace_store *st); /* accepts NULL */

/* Copy n spans in, evicting the oldest: O(n) under the lock, no allocation. */
void trace_store__add(struct trace_store *st, const struct span *s, size_t n);
/* trace_store__add as a span sink output (span_out_fn): ctx is the store. */
void trace_store__put(void *ctx, const struct span *s, size_t n);

/*
 * Append the limit most recent traces (by their most recently added span)
 * that have a span whose localEndpoint is service (NULL or "": any), newest
 * first, each trace's spans by timestamp: a JSON ListOfTraces. 0 or -ENOMEM.
 */
int trace_store__traces_json(struct trace_store *st, const char *service, size_t limit,
			     struct zbuf *out);
/*
 * Append the trace trace_id_hex (32 hex digits, or 16 for a 64-bit id) as a
 * JSON Trace. 0, -EINVAL (not such an id), -ENOENT (no span of it stored), -ENOMEM.
 */
int trace_store__trace_json(struct trace_store *st, const char *trace_id_hex, struct zbuf *out);
/* Append the localEndpoint service names of the stored spans, sorted: a JSON array. 0 or -ENOMEM. */
int trace_store__services_json(struct trace_store *st, struct zbuf *out);

#endif /* SONDE_TRACE_STORE_H */
