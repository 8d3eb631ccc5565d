/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The log sink: a log record per completed server request and per failed
 * client call (docs/logs.md), and per line a target wrote to its stdout or
 * stderr (--capture-app-logs), with the trace context of the call or of the
 * request the writing thread was serving. Records go to outputs (the JSON
 * lines writer, Loki, OTLP), which own the wire formats.
 */
#ifndef SONDE_SINKS_LOG_SINK_H
#define SONDE_SINKS_LOG_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "proto/lines.h" /* log_level_name, log_level_parse */

#define LOG_FIELDS_MAX 16
#define LOG_MESSAGE_MAX 8192 /* an application line longer than this is cut (truncated) */

/* One field of a record: a string, or a number when str is NULL. */
struct log_field {
	const char *key;   /* ECS / OpenTelemetry name: "http.request.method", ... */
	const char *str;
	int64_t num;
};

struct log_record {
	uint64_t time_ns;    /* wall clock, ns since the epoch */
	uint8_t level;       /* enum log_level */
	const char *logger;  /* "sonde.http", "sonde.redis", ..., "app" */
	const char *message; /* not NUL-terminated: message_len bytes */
	size_t message_len;
	bool truncated;      /* the message was cut */
	const char *service;
	const char *environment; /* "" none */
	uint32_t pid, tid;
	bool has_trace;
	uint8_t trace_id[16];
	uint64_t span_id;
	/*
	 * An application line that is a JSON object itself: the record's fields
	 * go into that object rather than around the line (message unused).
	 */
	bool object;
	uint32_t present;    /* LOG_HAS_*: keys the object has already, not added again */
	uint32_t nfields;
	struct log_field fields[LOG_FIELDS_MAX];
};

/* Standard keys an application's JSON object may already have (log_record.present). */
enum {
	LOG_HAS_TIMESTAMP = 1 << 0,
	LOG_HAS_LEVEL = 1 << 1,
	LOG_HAS_LOGGER = 1 << 2,
	LOG_HAS_SERVICE = 1 << 3,
	LOG_HAS_ENVIRONMENT = 1 << 4,
	LOG_HAS_PID = 1 << 5,
	LOG_HAS_TID = 1 << 6,
	LOG_HAS_TRACE = 1 << 7, /* trace.id and span.id: the line's own win */
	LOG_HAS_TRUNCATED = 1 << 8,
};

/* Called on the capture thread, one record at a time; must not block. */
typedef void (*log_out_fn)(void *ctx, const struct log_record *r);

struct config;
struct log_sink;

/* cfg (routes, caches, environment, level) must outlive the sink. */
struct log_sink *log_sink__new(const struct config *cfg);
void log_sink__free(struct log_sink *ls); /* accepts NULL */
int log_sink__add_out(struct log_sink *ls, log_out_fn fn, void *ctx);
/* struct sink's put: ctx is the log_sink. */
void log_sink__put(void *ctx, const struct exchange *x, size_t n);
/*
 * A line a target wrote (--capture-app-logs): struct line_sink's put and
 * lost, ctx the log_sink. A line that is a JSON object gets the fields added
 * to it; any other is the message of a record. Level from the object's
 * "level", "log.level" or "severity", else from the line's first words, else
 * INFO.
 */
void log_sink__app_line(void *ctx, const struct app_line *l);
void log_sink__app_lost(void *ctx, uint32_t n);
/* A request answered 429 by the kernel: a WARN line (logger sonde.ratelimit). */
void log_sink__limited(struct log_sink *ls, const struct limited_request *l);

/* Records made, by source, and app writes whose lines were not all captured (any thread). */
struct log_sink_counts {
	uint64_t access, app, app_lost;
};
void log_sink__counts(const struct log_sink *ls, struct log_sink_counts *c);

/*
 * The record of one exchange (part: the Kafka topic-partition, or -1);
 * returns false when the exchange makes no line at this level. The record
 * points into scratch (>= LOG_SCRATCH bytes) and x. Pure: tests.
 */
#define LOG_SCRATCH 1024
bool log_sink__build(const struct log_sink *ls, const struct exchange *x, struct log_record *r,
		     char *scratch);


#endif /* SONDE_SINKS_LOG_SINK_H */
