/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the node says of a process's pod, without the API server
 * (docs/kubernetes.md "What is read"):
 *   k8s_cgroup_ids: the container ID and pod UID in a cgroup path, as
 *     containerd, CRI-O and Docker (cri-dockerd) name them under the kubelet's
 *     systemd or cgroupfs driver, cgroup v1 or v2 (pure; unit-tested, fuzzed);
 *   k8s_pod_read: the pod's name and namespace from the kubelet's directory
 *     of it (/var/lib/kubelet/pods/UID: the hosts file it writes, the
 *     ServiceAccount volume's namespace file), its container's name when it
 *     has one;
 *   k8s_workload: the name of what made the pod (order-7d9f8c6b5d-x2x9z is
 *     order's, a StatefulSet's db-0 is db's), the service label (pure).
 */
#ifndef SONDE_K8S_H
#define SONDE_K8S_H

#include <stddef.h>

struct k8s_ids {
	char container_id[65]; /* 64 hex digits, "" if none */
	char pod_uid[37];      /* 8-4-4-4-12, dashes, "" if none */
	const char *runtime;   /* "containerd", "cri-o", "docker", or "" */
};

/* 0 when the path names a pod (pod_uid set; container_id when it names one), else -1. */
int k8s_cgroup_ids(const char *cgroup, struct k8s_ids *out);

struct k8s_pod {
	char name[254];
	char namespace_[64];
	char container[64]; /* "" unless the pod has exactly one container */
};

/* From pods_dir/UID; 0 when its name is known, else -1. */
int k8s_pod_read(const char *pods_dir, const char *uid, struct k8s_pod *out);
/*
 * The pod's name as its containers see it: HOSTNAME in /proc/PID/environ
 * (the kubelet sets it to the pod's name unless the pod sets spec.hostname).
 * 0 when found.
 */
int k8s_environ_hostname(int pid, char *out, size_t outsz);

/* The workload's name of a pod's name, into out. */
void k8s_workload(const char *pod, char *out, size_t outsz);

/*
 * A pod as the API server describes it (GET /api/v1/pods, and each event of a
 * watch of them): k8s_pod_list and k8s_watch_event read the JSON with json-c
 * (pure; unit-tested, fuzzed).
 */
#define K8S_CONTAINERS_MAX 16
struct k8s_api_pod {
	char uid[37];
	char name[254];
	char namespace_[64];
	char workload[254]; /* from its controller (ownerReferences), "" none: see k8s_owner_workload */
	int ncontainers;    /* containers with an ID (status.containerStatuses, init ones too) */
	struct {
		char id[65]; /* the runtime's ID without its "containerd://" prefix */
		char name[64];
	} containers[K8S_CONTAINERS_MAX];
};

/* The workload of a controller: a ReplicaSet's Deployment (NAME-<hash>), a CronJob's Job (NAME-<time>), else its name. */
void k8s_owner_workload(const char *kind, const char *name, char *out, size_t outsz);

/*
 * A PodList body: fn for each pod, the list's resourceVersion into rv.
 * 0, or -1 when the body is not a PodList.
 */
int k8s_pod_list(const char *body, size_t n, void (*fn)(void *ctx, const struct k8s_api_pod *),
		 void *ctx, char *rv, size_t rvsz);

enum k8s_event { K8S_ADDED = 1, K8S_MODIFIED, K8S_DELETED, K8S_BOOKMARK, K8S_ERROR };

/*
 * One line of a watch: its type (enum k8s_event), the pod (ADDED, MODIFIED,
 * DELETED), the object's resourceVersion into rv (every type but ERROR; a
 * BOOKMARK's is the one to resume from). -1 when the line is not an event.
 */
int k8s_watch_event(const char *line, size_t n, struct k8s_api_pod *pod, char *rv, size_t rvsz);

/* What spans and log lines carry of a process's pod (exchange.k8s). */
struct k8s_meta {
	char namespace_[64];
	char pod[254];
	char container[64]; /* "" unknown */
	char node[254];     /* NODE_NAME ("" unset) */
};

#endif /* SONDE_K8S_H */
