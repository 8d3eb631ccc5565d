/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How the protocol fuzzers turn one input into syscall-sized feeds. After a
 * first byte (the role hint), each feed is three control bytes and a payload:
 *
 *   c0  bit 0 direction, bits 1-2 unseen multiplier (0, 1, 97, 65537),
 *       bits 3-4 caplen / 256, bit 5 no output array, bit 6 total - 1,
 *       bit 7 max_out = 1
 *   c1  caplen % 256
 *   c2  unseen bytes (times the multiplier); also a cut point for twins
 *
 * The payload is copied to its own allocation of exactly caplen bytes, so that
 * AddressSanitizer sees any read past what was "captured".
 */
#ifndef SONDE_FUZZ_FEEDS_H
#define SONDE_FUZZ_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_feed {
	uint8_t c0, c1, c2;
	int dir;         /* 0 ingress, 1 egress */
	uint8_t *buf;    /* caplen bytes, malloc'd: fuzz_feed_done frees it */
	size_t caplen;
	uint64_t total;
	int max_out;     /* 1 or xmax */
	bool no_output;  /* feed with out = NULL, max_out = 0 */
};

/* The next feed of data[*off..size), or false when the input is used up. */
static inline bool fuzz_next_feed(const uint8_t *data, size_t size, size_t *off, int xmax,
				  struct fuzz_feed *f)
{
	static const uint64_t mult[] = { 0, 1, 97, 65537 };

	if (*off + 3 > size)
		return false;
	f->c0 = data[*off];
	f->c1 = data[*off + 1];
	f->c2 = data[*off + 2];
	*off += 3;
	f->dir = f->c0 & 1;
	f->caplen = f->c1 + 256 * ((f->c0 >> 3) & 3);
	if (f->caplen > size - *off)
		f->caplen = size - *off;
	f->total = f->caplen + f->c2 * mult[(f->c0 >> 1) & 3];
	if ((f->c0 & 0x40) && f->total)
		f->total--;
	f->max_out = (f->c0 & 0x80) ? 1 : xmax;
	f->no_output = f->c0 & 0x20;
	f->buf = malloc(f->caplen ? f->caplen : 1);
	if (!f->buf)
		return false;
	memcpy(f->buf, data + *off, f->caplen);
	*off += f->caplen;
	return true;
}

static inline void fuzz_feed_done(struct fuzz_feed *f)
{
	free(f->buf);
	f->buf = NULL;
}

/*
 * Differential harnesses (fuzz_*_diff.c): before each call, the first
 * FUZZ_GARBAGE slots of both output arrays are filled with the same garbage;
 * after it, fuzz_same_out tells whether the written slots and the garbage past
 * them (the first max(n + 1, FUZZ_GARBAGE) of xmax slots of elem bytes) are
 * alike, byte for byte.
 */
#define FUZZ_GARBAGE 8

static inline void fuzz_garbage(void *a, void *b, size_t elem)
{
	memset(a, 0xa5, FUZZ_GARBAGE * elem);
	memset(b, 0xa5, FUZZ_GARBAGE * elem);
}

static inline bool fuzz_same_out(const void *a, const void *b, size_t elem, int n, int xmax)
{
	int i = n + 1 > FUZZ_GARBAGE ? n + 1 : FUZZ_GARBAGE;

	if (i > xmax)
		i = xmax;
	return !memcmp(a, b, (size_t)i * elem);
}

#endif /* SONDE_FUZZ_FEEDS_H */
