/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's HTTP endpoint (libmicrohttpd, its own thread):
 *   GET /metrics  Prometheus text format 0.0.4 from a struct metrics
 *   GET /healthz  200 "ok" while the agent's event loop is alive
 *   GET /readyz   200 {"status":"ready"} or 503 {"status":"not ready","reason":"..."}
 *   GET /api/traces?limit=N&serviceName=S  recent traces, newest first (Zipkin ListOfTraces;
 *                 limit 10 by default, at most 1000; service=S also works)
 *   GET /api/traces/{id}  one trace (Zipkin Trace); 404 {"error":"trace not found"},
 *                 400 when id is not 32 or 16 hex digits
 *   GET /api/v2/traces, /api/v2/trace/{id}, /api/v2/services: the same for the Zipkin UI
 *                 All from the recent-trace store (httpd__set_traces); none set: [] or 404.
 *   GET PATH      JSON routes of httpd__add_json (/api/dependencies)
 * Anything else: 404. Only GET and HEAD: others 405.
 */
#ifndef SONDE_EXPORT_HTTPD_H
#define SONDE_EXPORT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

struct metrics;
struct httpd;
struct trace_store;

/*
 * Health callbacks, called from the server thread. healthy: return true while
 * the event loop runs. ready: return true when ready, else false and write a
 * short reason (plain text, no quotes needed: it is JSON-escaped) into reason.
 */
struct httpd_health {
	bool (*healthy)(void *ctx);
	bool (*ready)(void *ctx, char *reason, size_t reasonsz);
	void *ctx;
};

/*
 * Start serving on listen ("HOST:PORT", "[v6]:PORT" or ":PORT" meaning
 * 0.0.0.0). Returns NULL and sets errno (EINVAL bad address, EADDRINUSE, ...)
 * on failure.
 */
struct httpd *httpd__start(const char *listen, struct metrics *m,
			   const struct httpd_health *health);
void httpd__stop(struct httpd *h); /* accepts NULL */

/*
 * Serve the trace routes from st, which must outlive the server (a request
 * in flight may still use it). Safe any time after start, traffic or not:
 * the server thread reads the pointer atomically.
 */
void httpd__set_traces(struct httpd *h, struct trace_store *st);

/*
 * Serve GET path with fn's JSON (a malloc'd string the server frees; NULL:
 * 500), fn called from the server thread. At most HTTPD_JSON_ROUTES; safe any
 * time after start. 0, -EINVAL, -ENOSPC.
 */
#define HTTPD_JSON_ROUTES 8
struct httpd_json {
	char path[64];
	char *(*fn)(void *ctx);
	void *ctx;
};
int httpd__add_json(struct httpd *h, const char *path, char *(*fn)(void *ctx), void *ctx);

/* Parse "HOST:PORT" / "[v6]:PORT" / ":PORT" into host (may be "") and port.
 * Returns 0 or -EINVAL. */
int httpd_parse_listen(const char *listen, char *host, size_t hostsz, int *port);

#endif /* SONDE_EXPORT_HTTPD_H */
