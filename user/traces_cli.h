/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `sonde traces`: fetch recent traces from a running agent's /api/traces and
 * print each as a timeline, one line per span, indented by its place in the
 * trace's parent tree.
 */
#ifndef SONDE_TRACES_CLI_H
#define SONDE_TRACES_CLI_H

#include <stddef.h>
#include <stdio.h>

struct zbuf;

/* argv[0] is "traces". Exit status: 0 done, 1 the agent could not be reached or answered badly, 2 usage. */
int traces_cli_main(int argc, char **argv);

/*
 * Print the timelines of json, a Zipkin ListOfTraces, Trace or ListOfSpans
 * (spans are grouped by traceId, traces kept in order of first appearance).
 * 0, -EINVAL when json is not of that shape (nothing printed), -ENOMEM.
 */
int traces_cli_render(const char *json, size_t len, FILE *out);

/*
 * GET target (e.g. "/api/traces?limit=5") from listen ("HOST:PORT", "[v6]:PORT",
 * ":PORT" for 127.0.0.1) with HTTP/1.0 over a blocking socket; the body is
 * appended to body. Returns the HTTP status, or -errno when the agent could not be
 * reached (ECONNREFUSED, ETIMEDOUT, ...) or its answer was not HTTP (EPROTO).
 */
int traces_cli_fetch(const char *listen, const char *target, struct zbuf *body);

#endif /* SONDE_TRACES_CLI_H */
