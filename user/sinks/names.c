// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <fnmatch.h>
#include <string.h>

#include "config.h"
#include "sinks/names.h"

void sink_path_of(char *dst, size_t dstsz, const char *target)
{
	size_t n = strcspn(target, "?#");

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, target, n);
	dst[n] = '\0';
}

void sink_region_of(const struct config *cfg, const char *key, char *out, size_t outsz)
{
	const char *colon;
	size_t n;

	out[0] = '\0';
	for (int i = 0; cfg && i < cfg->ncaches; i++)
		if (!fnmatch(cfg->caches[i].pattern, key, 0)) {
			n = strlen(cfg->caches[i].name);
			if (n >= outsz)
				n = outsz - 1;
			memcpy(out, cfg->caches[i].name, n);
			out[n] = '\0';
			return;
		}
	colon = strchr(key, ':');
	if (colon && colon != key && (size_t)(colon - key) < outsz) {
		memcpy(out, key, colon - key);
		out[colon - key] = '\0';
	}
}
