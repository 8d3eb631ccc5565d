/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lines of an application's stdout or stderr, as a pure function of the bytes
 * of each write (same feeding contract as proto/http.h: the first caplen of
 * the total bytes a syscall moved). No I/O, no globals, no allocation: the
 * caller embeds struct line_conn.
 *
 * A line ends at '\n' (a '\r' before it is dropped). A line longer than
 * APP_LINE_MAX is cut: its first APP_LINE_MAX - 1 bytes are given with truncated set,
 * the rest skipped up to its end. Bytes the capture did not hold are never
 * guessed: the line they were in is given as far as it was seen, truncated,
 * and the next line starts after the next '\n' seen.
 */
#ifndef SONDE_PROTO_LINES_H
#define SONDE_PROTO_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APP_LINE_MAX 8192

/* Levels of log lines, lowest first. */
enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

struct line_conn {
	uint32_t len;   /* bytes of the line so far in buf */
	bool cut;       /* the line in buf is already cut: skip to its end */
	bool lost;      /* bytes were not captured: skip to the next '\n' */
	char buf[APP_LINE_MAX];
};

/* One line: not NUL-terminated. */
typedef void (*line_fn)(void *ctx, const char *line, size_t len, bool truncated);

void line_conn_init(struct line_conn *c);

/*
 * Feed one write. Calls fn for every line it completes; returns how many.
 * Lines that lie in bytes not captured are counted in *lost (one per write
 * that lost bytes).
 */
int line_conn_feed(struct line_conn *c, const uint8_t *data, size_t caplen, uint64_t total,
		   line_fn fn, void *ctx, uint32_t *lost);

/* The connection ends: a line without its '\n' is given as it is. */
int line_conn_close(struct line_conn *c, line_fn fn, void *ctx);

/*
 * The level a line announces in its first words: ERROR (also ERR, FATAL,
 * CRITICAL, SEVERE, PANIC), WARN (WARNING), INFO (NOTICE), DEBUG (TRACE),
 * bracketed or not, any case, as a whole word among the first 6 words;
 * -1 if none.
 */
int line_level(const char *s, size_t n);

/* "DEBUG", "INFO", "WARN", "ERROR" for 0..3; and back (any case, WARNING too), -1 if none. */
const char *log_level_name(int level);
int log_level_parse(const char *s);

#endif /* SONDE_PROTO_LINES_H */
