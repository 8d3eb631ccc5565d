// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The YAML configuration loader on arbitrary bytes: errors are fine, crashes and leaks are not. */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[256];

	config_init(&c);
	config_load_yaml(&c, (const char *)data, size, "fuzz.yaml", err, sizeof(err));
	for (int i = 0; i < c.routes.n; i++)
		if (!c.routes.pattern[i] || c.routes.pattern[i][0] != '/')
			__builtin_trap();
	config_free(&c);
	return 0;
}
