/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What several sinks call things the same way: the path of a request-target
 * (no query string) and the cache region of a Redis key.
 */
#ifndef SONDE_SINKS_NAMES_H
#define SONDE_SINKS_NAMES_H

#include <stddef.h>

struct config;

/* The request-target without its query string or fragment (which may carry secrets). */
void sink_path_of(char *dst, size_t dstsz, const char *target);

/* The cache region of a Redis key: a configured pattern's name, else the prefix before ':'. */
void sink_region_of(const struct config *cfg, const char *key, char *out, size_t outsz);

#endif /* SONDE_SINKS_NAMES_H */
