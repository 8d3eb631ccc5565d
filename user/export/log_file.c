// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/byte_ring.h"
#include "export/log_file.h"
#include "export/log_json.h"

struct log_file {
	char *path;           /* NULL: stdout */
	uint64_t max_size;
	unsigned files;
	int fd;
	uint64_t size;        /* of the open file */
	atomic_bool reopen;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	char *ring, *chunk;   /* chunk: the writer's copy of what it writes (CHUNK bytes) */
	size_t cap, head, tail; /* head - tail bytes queued; indices grow, taken mod cap */
	struct log_file_stats st;

	struct zbuf enc;      /* the capture thread's encoding buffer */
};

static int open_path(struct log_file *f)
{
	struct stat sb;
	int fd;

	if (!f->path) {
		f->fd = STDOUT_FILENO;
		return 0;
	}
	fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	f->fd = fd;
	f->size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	return 0;
}

static void close_path(struct log_file *f)
{
	if (f->path && f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* PATH -> PATH.1 -> ... -> PATH.files (the oldest goes). */
static void rotate(struct log_file *f)
{
	size_t n = strlen(f->path) + 16;
	char from[PATH_MAX], to[PATH_MAX];

	if (n > sizeof(from))
		return;
	close_path(f);
	for (unsigned i = f->files; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", f->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", f->path, i);
		rename(from, to); /* missing ones are fine */
	}
	snprintf(to, sizeof(to), "%s.1", f->path);
	rename(f->path, to);
	open_path(f);
	f->size = 0;
	f->st.rotations++;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static size_t count_lines(const char *p, size_t n)
{
	size_t k = 0;

	for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))); q++)
		k++;
	return k;
}

/*
 * Write p[0..n) (whole lines) to the file, rotating between lines when the
 * next one would pass max_size. Returns lines written and failed.
 */
static void write_lines(struct log_file *f, const char *p, size_t n, uint64_t *ok, uint64_t *bad)
{
	while (n) {
		size_t take = n;

		if (f->path && f->max_size && f->size + n > f->max_size) {
			/* The longest run of whole lines that still fits. */
			size_t room = f->max_size > f->size ? (size_t)(f->max_size - f->size) : 0;
			const char *end = NULL;

			for (const char *q = p; q < p + room && (q = memchr(q, '\n', room - (size_t)(q - p)));
			     q++)
				end = q;
			if (!end) {
				if (f->size) {
					rotate(f);
					continue;
				}
				/* One line longer than max_size: alone in its file. */
				end = memchr(p, '\n', n);
			}
			take = (size_t)(end - p) + 1;
		}
		if (f->fd >= 0 && write_all(f->fd, p, take)) {
			*ok += count_lines(p, take);
			f->size += take;
		} else {
			*bad += count_lines(p, take);
		}
		p += take;
		n -= take;
	}
}

#define CHUNK (1 << 16) /* also the longest line: every chunk holds a whole one */

static void *writer(void *arg)
{
	struct log_file *f = arg;
	char *chunk = f->chunk;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		size_t n;
		uint64_t ok = 0, bad = 0;
		struct timespec until;

		while (f->head == f->tail && !f->stop && !atomic_load(&f->reopen)) {
			/* Lines wait up to 100 ms: no wake-up per line on the capture thread. */
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&f->cv, &f->mu, &until);
		}
		if (atomic_exchange(&f->reopen, false) && f->path) {
			close_path(f);
			open_path(f);
		}
		if (f->head == f->tail) {
			if (f->stop)
				break;
			continue;
		}
		/* Up to a chunk of whole lines out of the ring (the ring holds only whole lines). */
		n = f->head - f->tail;
		if (n > CHUNK)
			n = CHUNK;
		byte_ring_get(f->ring, f->cap, f->tail, chunk, n);
		while (n && chunk[n - 1] != '\n')
			n--;
		pthread_mutex_unlock(&f->mu);
		write_lines(f, chunk, n, &ok, &bad);
		pthread_mutex_lock(&f->mu);
		f->tail += n;
		f->st.lines += ok;
		f->st.dropped_write += bad;
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct log_file *log_file__start(const struct log_file_opts *o)
{
	struct log_file *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return NULL;
	f->fd = -1;
	f->max_size = o->max_size ? o->max_size : 100ULL << 20;
	f->files = o->files ? o->files : 5;
	f->cap = o->queue_bytes ? o->queue_bytes : 4u << 20;
	if (f->cap < (1 << 16))
		f->cap = 1 << 16;
	if (o->path && strcmp(o->path, "-"))
		f->path = strdup(o->path);
	f->ring = malloc(f->cap);
	f->chunk = malloc(CHUNK);
	if ((o->path && strcmp(o->path, "-") && !f->path) || !f->ring || !f->chunk ||
	    open_path(f) < 0)
		goto fail;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	err = pthread_create(&f->thread, NULL, writer, f);
	if (err) {
		errno = err;
		goto fail;
	}
	pthread_setname_np(f->thread, "sonde-logs");
	return f;
fail:
	err = errno;
	close_path(f);
	free(f->ring);
	free(f->chunk);
	free(f->path);
	free(f);
	errno = err;
	return NULL;
}

void log_file__out(void *ctx, const struct log_record *r)
{
	struct log_file *f = ctx;
	size_t n;

	zbuf_reset(&f->enc);
	log_json_line(&f->enc, r);
	n = f->enc.len;
	if (f->enc.oom || !n)
		return;
	pthread_mutex_lock(&f->mu);
	/* A line longer than a writer's chunk could never be written whole. */
	if (f->cap - (f->head - f->tail) < n || n > CHUNK) {
		f->st.dropped_full++;
		pthread_mutex_unlock(&f->mu);
		return;
	}
	byte_ring_put(f->ring, f->cap, f->head, f->enc.p, n);
	f->head += n;
	if (f->head - f->tail > f->cap / 2)
		pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void log_file__reopen(struct log_file *f)
{
	atomic_store(&f->reopen, true);
}

void log_file__stats(struct log_file *f, struct log_file_stats *s)
{
	pthread_mutex_lock(&f->mu);
	*s = f->st;
	pthread_mutex_unlock(&f->mu);
}

void log_file__free(struct log_file *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	close_path(f);
	zbuf_free(&f->enc);
	free(f->ring);
	free(f->chunk);
	free(f->path);
	free(f);
}
