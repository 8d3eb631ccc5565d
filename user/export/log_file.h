/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * JSON log lines to stdout or a file, from a writer thread of their own
 * (a slow disk never holds the capture thread), with size rotation:
 *
 *   capture thread                        writer thread
 *   log_file__out(): encode, copy  -->  byte ring  -->  write(2), whole lines
 *        never blocks; full: the line is dropped         every 100 ms (or half full)
 *                                                        PATH over max_size: PATH.1 ... PATH.N
 *                                                        reopen flag (SIGHUP): close, open PATH
 *
 * A line never spans two files, and is written whole or not at all.
 */
#ifndef SONDE_EXPORT_LOG_FILE_H
#define SONDE_EXPORT_LOG_FILE_H

#include <stdint.h>

#include "sinks/log_sink.h"

struct log_file_opts {
	const char *path;     /* NULL or "-": stdout (no rotation) */
	uint64_t max_size;    /* rotate when the next line would pass it; 0: 100 MiB */
	unsigned files;       /* rotated files kept (PATH.1 newest); 0: 5 */
	size_t queue_bytes;   /* the ring; 0: 4 MiB */
};

struct log_file_stats {
	uint64_t lines;       /* written */
	uint64_t dropped_full; /* the ring was full */
	uint64_t dropped_write; /* write(2) failed (disk full, ...) */
	uint64_t rotations;
};

struct log_file;

/* Opens the file and starts the writer. NULL with errno on failure. */
struct log_file *log_file__start(const struct log_file_opts *o);
/* A log_out_fn: ctx is the log_file. Capture thread only. */
void log_file__out(void *ctx, const struct log_record *r);
/* Close and open PATH again before the next write (async-signal-safe). */
void log_file__reopen(struct log_file *f);
void log_file__stats(struct log_file *f, struct log_file_stats *s);
/* Write what is queued, stop the writer, close, free. Accepts NULL. */
void log_file__free(struct log_file *f);

#endif /* SONDE_EXPORT_LOG_FILE_H */
