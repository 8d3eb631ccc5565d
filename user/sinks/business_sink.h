/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The business sink: counters by rule (business_metrics: in the
 * configuration, docs/metrics.md "Business metrics"). Each rule names a
 * counter, the requests it counts ("[METHOD ]/path" as rate_limits match them,
 * rules.h) and their statuses, and optionally a JSON field of the request's
 * or the response's body to add instead of 1 (read with json-c). Only
 * requests the observed process served (HTTP server exchanges). Bodies are
 * asked of the HTTP parser (http_conn_set_keep) for the routes a rule with a
 * field names, and no other; nothing of them leaves sonde but the sum.
 */
#ifndef SONDE_SINKS_BUSINESS_SINK_H
#define SONDE_SINKS_BUSINESS_SINK_H

#include "exchange.h"

struct metrics;
struct config;
struct business_sink;

/* NULL when cfg has no business_metrics, or on error (a reason in err: a name taken). */
struct business_sink *business_sink__new(struct metrics *m, const struct config *cfg, char *err,
					 size_t errsz);
void business_sink__free(struct business_sink *b); /* accepts NULL */
/* struct sink's put: ctx is the business_sink. */
void business_sink__put(void *ctx, const struct exchange *x, size_t n);
/* http_keep_fn (proto/http.h): which bodies of a request the rules read. */
unsigned business_sink__keep(void *ctx, const char *method, const char *target);

#endif /* SONDE_SINKS_BUSINESS_SINK_H */
