// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for what the node says of a pod (user/k8s.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "k8s.h"

#define CID "3f4b7c1d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
#define UID "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
#define UID_ "0a1b2c3d_4e5f_6789_abcd_ef0123456789"

static void test_cgroup_paths(void **state)
{
	static const struct {
		const char *path, *runtime;
		int cid; /* names a container */
	} pods[] = {
		/* systemd driver, cgroup v2: containerd, CRI-O, Docker (cri-dockerd) */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/cri-containerd-" CID ".scope", "containerd", 1 },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope", "cri-o", 1 },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/docker-" CID ".scope", "docker", 1 },
		/* cgroupfs driver (cgroup v1 lines carry the same path) */
		{ "/kubepods/burstable/pod" UID "/" CID, "", 1 },
		{ "/kubepods/pod" UID "/crio-" CID, "cri-o", 1 },
		/* kind / k3s: the kubelet's own slice above */
		{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		  "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID ".scope",
		  "containerd", 1 },
		/* the pod's own slice (its pause process), CRI-O's conmon: a pod, no container */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", "", 0 },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" CID ".scope", "", 0 },
	};
	static const char *const not_pods[] = {
		"/system.slice/docker-" CID ".scope", "/user.slice/user-0.slice/session-1.scope", "/",
		"", "/kubepods.slice/kubepods-pod" "0a1b2c3d_4e5f_6789_abcd_ef012345678" ".slice",
		"/kubepods/podX" UID "/" CID, "/kubepods/burstable/pod" UID "x/" CID,
	};
	struct k8s_ids ids;

	(void)state;
	for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		assert_int_equal(k8s_cgroup_ids(pods[i].path, &ids), 0);
		assert_string_equal(ids.pod_uid, UID);
		assert_string_equal(ids.container_id, pods[i].cid ? CID : "");
		assert_string_equal(ids.runtime, pods[i].runtime);
	}
	for (size_t i = 0; i < sizeof(not_pods) / sizeof(not_pods[0]); i++)
		assert_int_equal(k8s_cgroup_ids(not_pods[i], &ids), -1);
}

static void test_workload(void **state)
{
	static const char *const cases[][2] = {
		{ "order-service-7d9f8c6b5d-x2x9z", "order-service" }, /* Deployment */
		{ "gateway-5c8f6d-abcde", "gateway" },
		{ "postgres-0", "postgres" },                          /* StatefulSet */
		{ "fluent-bit-x7k2p", "fluent-bit" },                  /* DaemonSet */
		{ "nginx-ingress", "nginx-ingress" },                  /* a pod by itself */
		{ "web", "web" },
		{ "-", "-" },
		{ "", "" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k8s_workload(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_pod_dir(void **state)
{
	char root[] = "/tmp/sonde-k8s-XXXXXX", path[512], cmd[600];
	struct k8s_pod pod;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/" UID "/volumes/kubernetes.io~projected/kube-api-access-x2x9z "
		 "%s/" UID "/containers/order",
		 root, root);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/" UID "/etc-hosts", root);
	put(path, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
		  "ip6-loopback\nfe00::0\tip6-localnet\n10.244.1.7\torder-service-7d9f8c6b5d-x2x9z\n");
	snprintf(path, sizeof(path), "%s/" UID "/volumes/kubernetes.io~projected/kube-api-access-x2x9z/namespace",
		 root);
	put(path, "shop\n");
	assert_int_equal(k8s_pod_read(root, UID, &pod), 0);
	assert_string_equal(pod.name, "order-service-7d9f8c6b5d-x2x9z");
	assert_string_equal(pod.namespace_, "shop");
	assert_string_equal(pod.container, "order");
	/* Two containers: which one a process is in is not on disk. */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/" UID "/containers/sidecar", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(k8s_pod_read(root, UID, &pod), 0);
	assert_string_equal(pod.container, "");
	assert_int_equal(k8s_pod_read(root, "../../etc/passwd-0000-0000-0000-000000000", &pod), -1);
	assert_int_equal(k8s_pod_read(root, "11111111-2222-3333-4444-555555555555", &pod), -1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

#define CID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define POD(uid, name, owner)                                                                     \
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","            \
	"\"namespace\":\"shop\",\"uid\":\"" uid "\",\"resourceVersion\":\"7\","                   \
	"\"ownerReferences\":[" owner "]},\"spec\":{\"nodeName\":\"n\"},"                         \
	"\"status\":{\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://" CID_A \
	"\"},{\"name\":\"waiting\"}],\"initContainerStatuses\":[{\"name\":\"init\","              \
	"\"containerID\":\"cri-o://" CID_B "\"}]}}"
#define RS "{\"kind\":\"ReplicaSet\",\"name\":\"order-7d9f8c6b5d\",\"controller\":true}"

static struct k8s_api_pod listed[4];
static int nlisted;

static void on_pod(void *ctx, const struct k8s_api_pod *p)
{
	(void)ctx;
	if (nlisted < 4)
		listed[nlisted++] = *p;
}

/* A PodList and watch events as the API server sends them. */
static void test_api_json(void **state)
{
	const char *list = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"4242\"},"
			   "\"items\":[" POD("0a1b2c3d-4e5f-6789-abcd-ef0123456789", "order-canary-x2x9z", RS) ","
			   POD("not-a-uid", "bad", "") ","
			   POD("11111111-2222-3333-4444-555555555555", "solo", "") "]}";
	const char *added = "{\"type\":\"ADDED\",\"object\":" POD("11111111-2222-3333-4444-555555555555",
			    "db-0", "{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}") "}";
	const char *deleted = "{\"type\":\"DELETED\",\"object\":" POD("11111111-2222-3333-4444-555555555555",
			      "db-0", "{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":false}") "}";
	const char *bookmark = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"5000\"}}}";
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}";
	struct k8s_api_pod p;
	char rv[64], w[64];

	(void)state;
	nlisted = 0;
	assert_int_equal(k8s_pod_list(list, strlen(list), on_pod, NULL, rv, sizeof(rv)), 0);
	assert_string_equal(rv, "4242");
	assert_int_equal(nlisted, 2); /* the pod without a UID is left out */
	assert_string_equal(listed[0].uid, "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
	assert_string_equal(listed[0].name, "order-canary-x2x9z");
	assert_string_equal(listed[0].namespace_, "shop");
	assert_string_equal(listed[0].workload, "order"); /* the ReplicaSet's Deployment */
	assert_int_equal(listed[0].ncontainers, 2);       /* "waiting" has no ID yet */
	assert_string_equal(listed[0].containers[0].id, CID_A);
	assert_string_equal(listed[0].containers[0].name, "app");
	assert_string_equal(listed[0].containers[1].id, CID_B);
	assert_string_equal(listed[0].containers[1].name, "init");
	assert_string_equal(listed[1].workload, "");
	assert_int_equal(k8s_watch_event(added, strlen(added), &p, rv, sizeof(rv)), K8S_ADDED);
	assert_string_equal(p.workload, "db");
	assert_string_equal(rv, "7");
	assert_int_equal(k8s_watch_event(deleted, strlen(deleted), &p, rv, sizeof(rv)), K8S_DELETED);
	assert_string_equal(p.workload, ""); /* an owner that is not the controller */
	assert_int_equal(k8s_watch_event(bookmark, strlen(bookmark), &p, rv, sizeof(rv)), K8S_BOOKMARK);
	assert_string_equal(rv, "5000");
	assert_int_equal(k8s_watch_event(gone, strlen(gone), &p, rv, sizeof(rv)), K8S_ERROR);
	/* Not a PodList, not an event, truncated. */
	assert_int_equal(k8s_pod_list(added, strlen(added), on_pod, NULL, rv, sizeof(rv)), -1);
	assert_int_equal(k8s_pod_list(list, strlen(list) - 1, on_pod, NULL, rv, sizeof(rv)), -1);
	assert_int_equal(k8s_watch_event(list, strlen(list), &p, rv, sizeof(rv)), -1);
	assert_int_equal(k8s_watch_event(added, 40, &p, rv, sizeof(rv)), -1);
	assert_int_equal(k8s_watch_event("{\"type\":\"ADDED\",\"object\":{}}", 29, &p, rv, sizeof(rv)), -1);
	/* A pod with an empty name (found by fuzz_k8s). */
	const char *noname = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\","
			     "\"uid\":\"0a1b2c3d-4e5f-6789-abcd-ef0123456789\"}}}";
	assert_int_equal(k8s_watch_event(noname, strlen(noname), &p, rv, sizeof(rv)), -1);
	/* Controllers' workloads. */
	k8s_owner_workload("ReplicaSet", "checkout-5f6d7c8b9a", w, sizeof(w));
	assert_string_equal(w, "checkout");
	k8s_owner_workload("ReplicaSet", "checkout", w, sizeof(w));
	assert_string_equal(w, "checkout");
	k8s_owner_workload("Job", "backup-28391234", w, sizeof(w));
	assert_string_equal(w, "backup");
	k8s_owner_workload("Job", "migrate-db", w, sizeof(w));
	assert_string_equal(w, "migrate-db");
	k8s_owner_workload("DaemonSet", "node-agent", w, sizeof(w));
	assert_string_equal(w, "node-agent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cgroup_paths),
	    cmocka_unit_test(test_workload),
	    cmocka_unit_test(test_pod_dir),
	    cmocka_unit_test(test_api_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
