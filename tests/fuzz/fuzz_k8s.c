// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the cgroup-path and pod-name readers and the API's
 * JSON (pods, watch events) of user/k8s.c:
 * any bytes as a /proc/PID/cgroup path, a pod name, a watch event and a
 * PodList. Checks: a pod UID
 * found is 36 characters in the 8-4-4-4-12 shape, a container ID 64
 * lower-case hex digits and only below a pod; a workload name is a prefix
 * of the pod's name; a pod read from JSON has a UID, a name and 64-digit
 * container IDs.
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

static void on_pod(void *ctx, const struct k8s_api_pod *p)
{
	(void)ctx;
	check(strlen(p->uid) == 36 && p->name[0] && strlen(p->workload) < sizeof(p->workload));
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
	/* The API's JSON: a watch event, and the same bytes as a PodList. */
	struct k8s_api_pod pod;
	char rv[64];
	int type = k8s_watch_event((const char *)data, size, &pod, rv, sizeof(rv));

	check(type == -1 || (type >= K8S_ADDED && type <= K8S_ERROR));
	if (type >= K8S_ADDED && type <= K8S_DELETED) {
		check(strlen(pod.uid) == 36 && pod.name[0]);
		check(pod.ncontainers >= 0 && pod.ncontainers <= K8S_CONTAINERS_MAX);
		for (int i = 0; i < pod.ncontainers; i++)
			check(strlen(pod.containers[i].id) == 64);
	}
	k8s_pod_list((const char *)data, size, on_pod, NULL, rv, sizeof(rv));
	free(s);
	return 0;
}
