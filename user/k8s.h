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

/* The workload's name of a pod's name, into out. */
void k8s_workload(const char *pod, char *out, size_t outsz);

/* What spans and log lines carry of a process's pod (exchange.k8s). */
struct k8s_meta {
	char namespace_[64];
	char pod[254];
	char container[64]; /* "" unknown */
	char node[254];     /* NODE_NAME ("" unset) */
};

#endif /* SONDE_K8S_H */
