/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Copies into and out of a byte ring of cap bytes whose positions grow
 * without bound (taken modulo cap), wrapping at its end: what the log writer
 * and the log exporters' queues share. The caller holds the ring's lock and
 * checks room and fill.
 */
#ifndef SONDE_EXPORT_BYTE_RING_H
#define SONDE_EXPORT_BYTE_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void byte_ring_put(char *ring, size_t cap, uint64_t pos, const void *src, size_t n)
{
	size_t off = pos % cap, first = n < cap - off ? n : cap - off;

	memcpy(ring + off, src, first);
	memcpy(ring, (const char *)src + first, n - first);
}

static inline void byte_ring_get(const char *ring, size_t cap, uint64_t pos, void *dst, size_t n)
{
	size_t off = pos % cap, first = n < cap - off ? n : cap - off;

	memcpy(dst, ring + off, first);
	memcpy((char *)dst + first, ring, n - first);
}

#endif /* SONDE_EXPORT_BYTE_RING_H */
