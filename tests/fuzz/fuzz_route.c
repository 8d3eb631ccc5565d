// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for route normalisation. Input: one byte choosing the
 * output buffer size, then NUL-separated strings: up to 4 patterns and,
 * last, the request-target. Every string is copied to its own exact-size
 * buffer so that ASan sees reads past its NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/route.h"

#define NPAT 4

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_patterns pats = {0};
	char *str[NPAT + 1] = {0};
	char out[ROUTE_MAX + 8];
	size_t outsz, off = 1, len;
	struct route_set *set;
	const char *target;
	int nstr = 0, i;

	if (size < 1)
		return 0;
	outsz = data[0] % (ROUTE_MAX + 8);
	while (off <= size && nstr < NPAT + 1) {
		const uint8_t *end = memchr(data + off, 0, size - off);

		len = end ? (size_t)(end - (data + off)) : size - off;
		str[nstr] = malloc(len + 1);
		if (!str[nstr])
			goto out;
		memcpy(str[nstr], data + off, len);
		str[nstr][len] = '\0';
		nstr++;
		off += len + 1;
	}
	/* The last string is the target, the others patterns. */
	target = nstr ? str[nstr - 1] : NULL;
	pats.n = nstr ? nstr - 1 : 0;
	for (i = 0; i < pats.n; i++)
		pats.pattern[i] = str[i];

	memset(out, 'X', sizeof(out));
	check(route_normalize(&pats, target, out, outsz) == out);
	if (outsz) {
		len = strnlen(out, outsz);
		check(len < outsz && len < ROUTE_MAX);
		/* Whatever comes out is a label: "*" or a path. */
		check(!len || out[0] == '/' || out[0] == '*');
	}
	for (i = outsz < ROUTE_MAX ? outsz : ROUTE_MAX; i < (int)sizeof(out); i++)
		check(out[i] == 'X');
	route_normalize(NULL, target, out, sizeof(out));
	for (i = 0; i < pats.n; i++) {
		(void)route_match(pats.pattern[i], target);
		(void)route_match(target, pats.pattern[i]);
		/* A pattern always matches itself when used as a path. */
		check(route_match(pats.pattern[i], pats.pattern[i]) ||
		      strchr(pats.pattern[i], '{'));
	}

	set = route_set__new(3);
	if (set) {
		for (i = 0; i < nstr; i++) {
			const char *got = route_set__admit(set, str[i]);

			check(!strcmp(got, str[i]) || !strcmp(got, ROUTE_OVERFLOW));
		}
		check(route_set__size(set) <= 3);
		route_set__free(set);
	}
out:
	for (i = 0; i < nstr; i++)
		free(str[i]);
	return 0;
}
