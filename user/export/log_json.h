/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A log record as one JSON line (docs/logs.md): ECS / OpenTelemetry field
 * names, flat dotted keys, always valid UTF-8 JSON (the bytes of observed
 * traffic and of application lines are escaped, and invalid UTF-8 becomes
 * U+FFFD), ending in '\n'.
 */
#ifndef SONDE_EXPORT_LOG_JSON_H
#define SONDE_EXPORT_LOG_JSON_H

#include "export/zipkin.h" /* struct zbuf */
#include "sinks/log_sink.h"

/* RFC 3339 UTC with milliseconds ("2026-12-04T22:04:06.123Z") into out[64]. */
void log_json_time(uint64_t time_ns, char out[64]);

/* Append r as one line. */
void log_json_line(struct zbuf *b, const struct log_record *r);

#endif /* SONDE_EXPORT_LOG_JSON_H */
