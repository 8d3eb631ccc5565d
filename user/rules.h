/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rate-limit rules' request matching, compiled for the kernel: a rule's
 * `match` is "[METHOD ]PATTERN", where PATTERN is a path whose segments may be
 * `{name}` or `*` (any one non-empty segment) and which may end in a slash and two stars
 * (the path itself, or anything below it). All rules together become one
 * deterministic automaton over the request line's bytes from its method to
 * the end of its path (the query is not part of it), stepped once per byte by
 * the kernel. Pure: no I/O.
 */
#ifndef SONDE_RULES_H
#define SONDE_RULES_H

#include <stddef.h>
#include <stdint.h>

#define RULES_MAX 32
#define RULES_MATCH_MAX 200 /* bytes of a match */
#define RULES_LIMIT_MAX 128 /* requests per window: the kernel keeps a time for each */

/* Is match well formed? 0, or -1 with a message in err. */
int rules_check(const char *match, char *err, size_t errsz);

/*
 * Compile n matches (n <= RULES_MAX, checked) into next[states * 256] and
 * accept[states] (0, or the index + 1 of the first match the bytes fed so far
 * match whole). State 0 is dead, 1 the start. Returns the number of states, or
 * -1 with a message when they would be more than max_states.
 */
int rules_compile(const char *const *matches, int n, uint16_t *next, uint8_t *accept,
		  int max_states, char *err, size_t errsz);

/* The index of the first rule matching "METHOD PATH" (stops at ' ', '?', '#'), or -1. */
int rules_run(const uint16_t *next, const uint8_t *accept, const char *line);

/* A rule's identity across reloads: the same match, limit and window keep their state. */
uint32_t rules_id(const char *match, unsigned limit, uint64_t window_ns);

#endif /* SONDE_RULES_H */
