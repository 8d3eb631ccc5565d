/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pods of this node as the Kubernetes API server knows them
 * (docs/kubernetes.md "The API server"): a thread lists the pods whose
 * spec.nodeName is NODE_NAME, then watches them (resuming from the last
 * resourceVersion, listing again when the server says it is too old), with
 * the ServiceAccount's bearer token (read again at each connection: the
 * kubelet rotates it) over libcurl. What it adds to the node's own files:
 * owner references (the workload's name without guessing from the pod's),
 * and which container of a pod of several a container ID is.
 *
 * The server being down or slow costs nothing but the answers: lookups never
 * wait, the table is bounded (K8S_API_PODS), errors are counted.
 */
#ifndef SONDE_K8S_API_H
#define SONDE_K8S_API_H

#include <stddef.h>

#include "k8s.h"

#define K8S_API_PODS 1024 /* a node runs 110 by default */

struct k8s_api;
struct metrics;

/*
 * Start watching url's pods of node; token_file and ca_file as mounted by a
 * ServiceAccount (ca_file missing: the system's CAs). Waits up to wait_ms for
 * the first list. Registers sonde_k8s_api_* in m. NULL with a reason in err.
 */
struct k8s_api *k8s_api__start(const char *url, const char *node, const char *token_file,
			       const char *ca_file, struct metrics *m, int wait_ms, char *err,
			       size_t errsz);
void k8s_api__stop(struct k8s_api *a); /* accepts NULL */

/*
 * The pod uid as last listed or watched: its name, namespace, the container
 * of container_id ("" when not known yet, or when container_id is ""; a pod
 * of one container: that one), and its workload (k8s_api_pod.workload) into
 * workload. 0, or -1 when the pod is not known.
 */
int k8s_api__pod(struct k8s_api *a, const char *uid, const char *container_id, struct k8s_pod *out,
		 char *workload, size_t wsz);

#endif /* SONDE_K8S_API_H */
