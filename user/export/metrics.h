/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small Prometheus registry: counter, gauge and histogram families with
 * labels, rendered in the text exposition format 0.0.4. Thread-safe: the
 * capture thread updates while the HTTP server thread renders.
 */
#ifndef SONDE_EXPORT_METRICS_H
#define SONDE_EXPORT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRIC_LABELS_MAX 12

enum metric_type { METRIC_COUNTER = 1, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;
struct metric_series;

struct metrics *metrics__new(void);
void metrics__free(struct metrics *m); /* accepts NULL */

/*
 * Register a family. name follows Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*);
 * for a counter, name is the full name (e.g. "sonde_events_total"). labels is an
 * array of nlabels label names (nlabels <= METRIC_LABELS_MAX). For a histogram,
 * bounds are the nbounds finite upper bounds in increasing order (+Inf is
 * implied). help may be NULL (no HELP line). Returns NULL and sets errno
 * (EINVAL) on bad arguments: invalid or reserved ("__*") label names, a
 * repeated label name, "le" on a histogram, bounds not finite and strictly
 * increasing, or a name already used by a family, including a histogram's
 * NAME_bucket, NAME_sum and NAME_count. Families live until metrics__free.
 */
struct metric_family *metrics__counter(struct metrics *m, const char *name, const char *help,
				       const char *const *labels, int nlabels);
struct metric_family *metrics__gauge(struct metrics *m, const char *name, const char *help,
				     const char *const *labels, int nlabels);
struct metric_family *metrics__histogram(struct metrics *m, const char *name, const char *help,
					 const char *const *labels, int nlabels,
					 const double *bounds, int nbounds);

/*
 * Update the series with these label values (nlabels strings, any bytes; they
 * are escaped on output, invalid UTF-8 replaced by '?'). values may be NULL
 * when the family has no labels. A series is created on first use. Returns 0
 * or -errno (-EINVAL for a NULL family or value, a wrong metric type, a
 * negative or NaN counter value, a NaN observation; -ENOMEM).
 * A counter set to a lower total keeps it: Prometheus reads a counter reset.
 */
/* counter, gauge */
int metric__add(struct metric_family *f, const char *const *values, double v);
/* gauge; counter: set the total (for values read from elsewhere, must not decrease) */
int metric__set(struct metric_family *f, const char *const *values, double v);
/* histogram */
int metric__observe(struct metric_family *f, const char *const *values, double v);
/* histogram: n observations of v at once (n = 0 only creates the series) */
int metric__observe_n(struct metric_family *f, const char *const *values, double v, uint64_t n);
/*
 * Remove every series of a family (for gauges recomputed at each scrape).
 * Handles from metric__series on f are invalid afterwards.
 */
void metric__clear(struct metric_family *f);

/*
 * Series handles, for callers that update the same series often: the lookup
 * (hashing and comparing every label value) is done once. metric__series
 * finds or creates the series (NULL: EINVAL or ENOMEM, as above); the handle
 * stays valid until metric__clear on its family or metrics__free. The
 * updates behave as metric__add, metric__set and metric__observe_n (same
 * checks, same return values).
 */
struct metric_series *metric__series(struct metric_family *f, const char *const *values);
int metric__series_add(struct metric_series *s, double v);
int metric__series_set(struct metric_series *s, double v);
int metric__series_observe_n(struct metric_series *s, double v, uint64_t n);

/*
 * Observe v once in a histogram series and keep (trace_id, span_id, v, ts)
 * as its bucket's exemplar, replacing the previous one: rendered by
 * metrics__render_openmetrics only. trace_id: 32 hex digits; ts: seconds
 * since the epoch.
 */
int metric__series_observe_ex(struct metric_series *s, double v, const char *trace_id,
			      const char *span_id, double ts);
int metric__observe_ex(struct metric_family *f, const char *const *values, double v,
		       const char *trace_id, const char *span_id, double ts);

/*
 * Hold the registry lock across many updates (a batch of records): until
 * metrics__unlock, updates and lookups made by this thread do not take the
 * lock each, and the other threads (a render) wait. Nests; a thread holds
 * at most one registry (-EDEADLK if it holds another; -EINVAL for NULL).
 * Keep it short, and do not call metrics__render meanwhile (EDEADLK).
 */
int metrics__lock(struct metrics *m);
void metrics__unlock(struct metrics *m);

/*
 * Called with the registry unlocked at the start of every metrics__render, to
 * refresh values read from elsewhere (BPF maps, /proc/self). At most 8 hooks
 * (-ENOSPC beyond). Renders are serialised, so collectors never run
 * concurrently with each other.
 */
int metrics__add_collector(struct metrics *m, void (*fn)(void *ctx), void *ctx);

/*
 * Render every family (families in registration order, series in creation
 * order) as text format 0.0.4: "# HELP", "# TYPE", then samples; histograms
 * as cumulative _bucket{le=...} lines ending with le="+Inf", then _sum and
 * _count. Numbers: integers without a decimal point, others in the shortest
 * %g form that reads back exactly (%.15g, %.16g or %.17g), "NaN", "+Inf",
 * "-Inf"; le values the same way ("0.0025", "1", "+Inf"). Returns a malloc'd
 * NUL-terminated buffer (caller frees) and its length in *len (len may be
 * NULL), or NULL on ENOMEM. The output passes `promtool check metrics`.
 */
char *metrics__render(struct metrics *m, size_t *len);

/*
 * The same in the OpenMetrics 1.0 text format (counter families named
 * without "_total", histogram buckets with their exemplars, "# EOF"), for a
 * scraper that asks for application/openmetrics-text.
 */
char *metrics__render_openmetrics(struct metrics *m, size_t *len);

/* Escape a label value per the text format (\\ \" \n) into out; returns the
 * bytes needed excluding NUL (like snprintf). Invalid UTF-8 bytes become '?'.
 * On truncation out holds whole escape sequences only. */
size_t metrics_escape_label(const char *in, char *out, size_t outsz);

/* Length (1 to 4) of the valid UTF-8 sequence at s, or 0 if s starts an
 * invalid one (stray continuation, overlong form, surrogate, > U+10FFFF).
 * s points at a non-NUL byte of a NUL-terminated string. Shared with the
 * JSON escaping of the HTTP endpoint. */
int metrics_utf8_len(const char *s);

#endif /* SONDE_EXPORT_METRICS_H */
