// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the cgroup-path and pod-name readers (user/k8s.c):
 * any bytes as a /proc/PID/cgroup path and as a pod name. Checks: a pod UID
 * found is 36 characters in the 8-4-4-4-12 shape, a container ID 64
 * lower-case hex digits and only below a pod; a workload name is a prefix
 * of the pod's name.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[64];
	struct k8s_ids ids;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = k8s_cgroup_ids(s, &ids);
	check((rc == 0) == (strlen(ids.pod_uid) == 36));
	if (!rc)
		for (int i = 0; i < 36; i++)
			check((i == 8 || i == 13 || i == 18 || i == 23) ? ids.pod_uid[i] == '-'
									  : isxdigit((unsigned char)ids.pod_uid[i]));
	check(!ids.container_id[0] || (strlen(ids.container_id) == 64 && !rc));
	k8s_workload(s, out, sizeof(out));
	check(!strncmp(out, s, strlen(out)));
	free(s);
	return 0;
}
