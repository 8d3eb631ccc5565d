// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>

#include "conn.h"

/* Chained hash; grows by doubling when the load passes 1. */
struct conn_table {
	struct conn **bucket;
	size_t nbuckets; /* power of two */
	size_t count;
};

static size_t slot(const struct conn_table *t, uint32_t tgid, uint32_t fd)
{
	uint64_t h = ((uint64_t)tgid << 32 | fd) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (t->nbuckets - 1);
}

struct conn_table *conn_table__new(void)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = 1024;
	t->bucket = calloc(t->nbuckets, sizeof(*t->bucket));
	if (!t->bucket) {
		free(t);
		return NULL;
	}
	return t;
}

static void conn_free(struct conn *c)
{
	free(c->parser);
	free(c->stash);
	free(c->trace);
	free(c);
}

void conn_table__free(struct conn_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct conn *c = t->bucket[i], *n;

		for (; c; c = n) {
			n = c->next;
			conn_free(c);
		}
	}
	free(t->bucket);
	free(t);
}

struct conn *conn_table__get(struct conn_table *t, uint32_t tgid, uint32_t fd)
{
	for (struct conn *c = t->bucket[slot(t, tgid, fd)]; c; c = c->next)
		if (c->tgid == tgid && c->fd == fd)
			return c;
	return NULL;
}

static void grow(struct conn_table *t)
{
	size_t old = t->nbuckets;
	struct conn **ob = t->bucket, **nb = calloc(old * 2, sizeof(*nb));

	if (!nb)
		return; /* keep working with longer chains */
	t->bucket = nb;
	t->nbuckets = old * 2;
	for (size_t i = 0; i < old; i++) {
		struct conn *c = ob[i], *n;

		for (; c; c = n) {
			size_t s = slot(t, c->tgid, c->fd);

			n = c->next;
			c->next = nb[s];
			nb[s] = c;
		}
	}
	free(ob);
}

struct conn *conn_table__add(struct conn_table *t, uint32_t tgid, uint32_t fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	size_t s;

	if (!c)
		return NULL;
	if (t->count >= t->nbuckets)
		grow(t);
	c->tgid = tgid;
	c->fd = fd;
	s = slot(t, tgid, fd);
	c->next = t->bucket[s];
	t->bucket[s] = c;
	t->count++;
	return c;
}

void conn_table__del(struct conn_table *t, struct conn *c)
{
	struct conn **pp = &t->bucket[slot(t, c->tgid, c->fd)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			t->count--;
			conn_free(c);
			return;
		}
	}
}

size_t conn_table__count(const struct conn_table *t)
{
	return t->count;
}

void conn_table__sweep(struct conn_table *t, bool (*fn)(struct conn *c, void *ctx), void *ctx)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct conn **pp = &t->bucket[i];

		while (*pp) {
			struct conn *c = *pp;

			if (fn(c, ctx)) {
				*pp = c->next;
				t->count--;
				conn_free(c);
			} else {
				pp = &c->next;
			}
		}
	}
}
