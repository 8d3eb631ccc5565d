/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's HTTP endpoint (libmicrohttpd, its own thread):
 *   GET /metrics  Prometheus text format 0.0.4 from a struct metrics
 *   GET /healthz  200 "ok" while the agent's event loop is alive
 *   GET /readyz   200 {"status":"ready"} or 503 {"status":"not ready","reason":"..."}
 * Anything else: 404. Only GET and HEAD: others 405.
 */
#ifndef SONDE_EXPORT_HTTPD_H
#define SONDE_EXPORT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

struct metrics;
struct httpd;

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

/* Parse "HOST:PORT" / "[v6]:PORT" / ":PORT" into host (may be "") and port.
 * Returns 0 or -EINVAL. */
int httpd_parse_listen(const char *listen, char *host, size_t hostsz, int *port);

#endif /* SONDE_EXPORT_HTTPD_H */
