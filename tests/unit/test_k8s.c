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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cgroup_paths),
	    cmocka_unit_test(test_workload),
	    cmocka_unit_test(test_pod_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
