// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The YAML configuration loader on arbitrary bytes: errors are fine, crashes
 * and leaks are not. Rate-limit rules that load are compiled into the
 * kernel's automaton, which must then agree with each rule on its own path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rules.h"

#define STATES 512

static void compile(const struct config *c)
{
	static uint16_t next[STATES * 256];
	static uint8_t accept[STATES];
	const char *m[RULES_MAX];
	char err[256], line[RULES_MATCH_MAX + 16];

	for (int i = 0; i < c->nrate_limits; i++)
		m[i] = c->rate_limits[i].match;
	if (rules_compile(m, c->nrate_limits, next, accept, STATES, err, sizeof(err)) < 0)
		return;
	/* A rule's path with no pattern in it matches that rule, or an earlier one. */
	for (int i = 0; i < c->nrate_limits; i++) {
		const char *p = strchr(m[i], '/');

		if (strpbrk(p, "{*"))
			continue;
		snprintf(line, sizeof(line), "%s%s", p == m[i] ? "GET " : "", m[i]);
		int r = rules_run(next, accept, line);

		if (r < 0 || r > i)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[256];

	config_init(&c);
	if (!config_load_yaml(&c, (const char *)data, size, "fuzz.yaml", err, sizeof(err)))
		compile(&c);
	for (int i = 0; i < c.routes.n; i++)
		if (!c.routes.pattern[i] || c.routes.pattern[i][0] != '/')
			__builtin_trap();
	config_free(&c);
	return 0;
}
