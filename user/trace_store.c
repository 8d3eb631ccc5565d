// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The store is a ring and nothing else: no index to keep up to date, so the
 * capture thread's add is a copy. Queries pay instead: they copy a small key
 * per span under the lock, sort and group the keys without it, then take the
 * lock again to encode the chosen spans, skipping any the ring overwrote in
 * between (span number q is still in the ring while added - q <= cap). The
 * capture thread so never waits for a sort, only for copies and encoding.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace_store.h"

struct trace_store {
	pthread_mutex_t lock; /* ring and added */
	struct span *ring;
	size_t cap;
	uint64_t added; /* spans ever added: span number q lives in ring[q % cap] */
};

/* What a query sorts: one per span, copied out under the lock. */
struct key {
	uint8_t trace_id[16];
	uint64_t ts;  /* timestamp_us */
	uint64_t seq; /* the span's number */
	bool match;   /* its service is the one asked for */
};

/* A trace: keys[first .. first + n), by timestamp. */
struct group {
	uint64_t newest; /* the highest seq among its spans */
	size_t first, n;
};

struct trace_store *trace_store__new(size_t max_spans)
{
	struct trace_store *st;

	if (!max_spans) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	/* calloc: the pages are touched only as the ring fills. */
	st->ring = calloc(max_spans, sizeof(*st->ring));
	if (!st->ring) {
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	st->cap = max_spans;
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

void trace_store__free(struct trace_store *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st->ring);
	free(st);
}

void trace_store__add(struct trace_store *st, const struct span *s, size_t n)
{
	pthread_mutex_lock(&st->lock);
	/* Of a batch larger than the ring only the last cap spans would survive. */
	if (n > st->cap) {
		st->added += n - st->cap;
		s += n - st->cap;
		n = st->cap;
	}
	/* Only the tags in use: a span's tag array is most of its 2 KB. */
	for (size_t i = 0; i < n; i++)
		memcpy(&st->ring[st->added++ % st->cap], &s[i], span_size(&s[i]));
	pthread_mutex_unlock(&st->lock);
}

void trace_store__put(void *ctx, const struct span *s, size_t n)
{
	trace_store__add(ctx, s, n);
}

static size_t stored(const struct trace_store *st)
{
	return st->added < st->cap ? (size_t)st->added : st->cap;
}

static const struct span *span_at(const struct trace_store *st, uint64_t seq)
{
	return &st->ring[seq % st->cap];
}

static void key_of(struct key *k, const struct span *s, uint64_t seq, const char *service)
{
	memcpy(k->trace_id, s->trace_id, sizeof(k->trace_id));
	k->ts = s->timestamp_us;
	k->seq = seq;
	k->match = !service || !strncmp(s->local.service, service, sizeof(s->local.service));
}

/* A key for every stored span (of trace id only, if not NULL) into keys (cap entries). */
static size_t snapshot(struct trace_store *st, const char *service, const uint8_t *id,
		       struct key *keys)
{
	size_t n, nk = 0;
	uint64_t seq;

	pthread_mutex_lock(&st->lock);
	n = stored(st);
	for (seq = st->added - n; seq < st->added; seq++) {
		const struct span *s = span_at(st, seq);

		if (!id || !memcmp(s->trace_id, id, sizeof(s->trace_id)))
			key_of(&keys[nk++], s, seq, service);
	}
	pthread_mutex_unlock(&st->lock);
	return nk;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int by_trace_time(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	int c = memcmp(a->trace_id, b->trace_id, sizeof(a->trace_id));

	if (c)
		return c;
	c = cmp_u64(a->ts, b->ts);
	return c ? c : cmp_u64(a->seq, b->seq);
}

static int by_newest_first(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;

	return cmp_u64(b->newest, a->newest);
}

/* Sort keys into traces; keep the traces with a matching span, newest first. */
static size_t group(struct key *keys, size_t n, struct group *g)
{
	size_t ng = 0, i, j;

	qsort(keys, n, sizeof(*keys), by_trace_time);
	for (i = 0; i < n; i = j) {
		uint64_t newest = 0;
		bool match = false;

		for (j = i; j < n && !memcmp(keys[j].trace_id, keys[i].trace_id, 16); j++) {
			match |= keys[j].match;
			if (keys[j].seq > newest)
				newest = keys[j].seq;
		}
		if (match)
			g[ng++] = (struct group){ .newest = newest, .first = i, .n = j - i };
	}
	qsort(g, ng, sizeof(*g), by_newest_first);
	return ng;
}

/*
 * Append the trace's spans still in the ring as a JSON array, after a comma
 * unless *first; nothing if the ring overwrote them all. Lock held.
 */
static void encode_trace(const struct trace_store *st, const struct key *k, size_t n,
			 struct zbuf *out, bool *first)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (st->added - k[i].seq > st->cap)
			continue;
		if (!w && !*first)
			zbuf_put(out, ",", 1);
		zbuf_put(out, w++ ? "," : "[", 1);
		zipkin_span_json(out, span_at(st, k[i].seq));
	}
	if (w) {
		zbuf_put(out, "]", 1);
		*first = false;
	}
}

int trace_store__traces_json(struct trace_store *st, const char *service, size_t limit,
			     struct zbuf *out)
{
	struct key *keys = malloc(st->cap * sizeof(*keys));
	struct group *g = malloc(st->cap * sizeof(*g));
	bool first = true;
	size_t ng = 0;

	if (!keys || !g) {
		free(keys);
		free(g);
		return -ENOMEM;
	}
	if (service && !service[0])
		service = NULL;
	if (limit)
		ng = group(keys, snapshot(st, service, NULL, keys), g);
	if (ng > limit)
		ng = limit;
	zbuf_put(out, "[", 1);
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < ng; i++)
		encode_trace(st, keys + g[i].first, g[i].n, out, &first);
	pthread_mutex_unlock(&st->lock);
	zbuf_put(out, "]", 1);
	free(keys);
	free(g);
	return out->oom ? -ENOMEM : 0;
}

int trace_store__trace_json(struct trace_store *st, const char *hex, struct zbuf *out)
{
	bool first = true;
	uint8_t id[16];
	struct key *keys;
	size_t n;

	if (span_trace_parse(hex, id)) /* 32 hex digits, or 16: the high half zero */
		return -EINVAL;
	keys = malloc(st->cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	n = snapshot(st, NULL, id, keys);
	qsort(keys, n, sizeof(*keys), by_trace_time);
	pthread_mutex_lock(&st->lock);
	encode_trace(st, keys, n, out, &first);
	pthread_mutex_unlock(&st->lock);
	free(keys);
	if (first) /* nothing written: never stored, or evicted meanwhile */
		return -ENOENT;
	return out->oom ? -ENOMEM : 0;
}

struct names {
	char (*v)[SPAN_SERVICE_MAX]; /* sorted, distinct */
	size_t n, cap;
};

/* Insert name unless present; binary search, as a store holds few services and many spans. */
static int names_add(struct names *ns, const char *name)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(ns->v[mid], name, SPAN_SERVICE_MAX);

		if (!c)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		void *v = realloc(ns->v, cap * sizeof(*ns->v));

		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	memmove(ns->v + lo + 1, ns->v + lo, (ns->n - lo) * sizeof(*ns->v));
	memcpy(ns->v[lo], name, SPAN_SERVICE_MAX);
	ns->n++;
	return 0;
}

int trace_store__services_json(struct trace_store *st, struct zbuf *out)
{
	struct names ns = { 0 };
	int err = 0;

	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < stored(st) && !err; i++)
		if (st->ring[i].local.service[0])
			err = names_add(&ns, st->ring[i].local.service);
	pthread_mutex_unlock(&st->lock);
	zbuf_put(out, "[", 1);
	for (size_t i = 0; i < ns.n; i++) {
		if (i)
			zbuf_put(out, ",", 1);
		zipkin_json_str(out, ns.v[i], SPAN_SERVICE_MAX);
	}
	zbuf_put(out, "]", 1);
	free(ns.v);
	if (err)
		return err;
	return out->oom ? -ENOMEM : 0;
}
