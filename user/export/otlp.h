/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/HTTP in its JSON encoding (the OpenTelemetry protocol's JSON mapping:
 * ids in hex, 64-bit integers as strings, enums as numbers), so that any
 * OpenTelemetry Collector, Tempo or Jaeger takes sonde's spans and log lines.
 * Resources are the observed processes: service.name, host.name, process.pid.
 * Attribute names are the OpenTelemetry semantic conventions' (docs/tracing.md
 * gives the Zipkin tag each one comes from).
 */
#ifndef SONDE_EXPORT_OTLP_H
#define SONDE_EXPORT_OTLP_H

#include <stddef.h>

#include "export/zipkin.h" /* struct zbuf */
#include "sinks/log_sink.h"
#include "span.h"

/* An ExportTraceServiceRequest of n spans (POST .../v1/traces). 0, or -ENOMEM. */
int otlp_traces_json(struct zbuf *b, const struct span *s, size_t n);

/*
 * One log record as an OTLP LogRecord object, and the key of its resource
 * (service and pid) into key; an ExportLogsServiceRequest wraps records of
 * equal keys (otlp_logs_request).
 */
void otlp_log_record_json(struct zbuf *b, const struct log_record *r, char *key, size_t keysz);
/* The resource of a key made by otlp_log_record_json. */
void otlp_resource_json(struct zbuf *b, const char *key);

#endif /* SONDE_EXPORT_OTLP_H */
