// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "k8s.h"

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* A pod UID at s (8-4-4-4-12 hex, '-' or '_' between: systemd slices use '_'). */
static bool uid_at(const char *s, size_t n, char out[37])
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (n < 36)
		return false;
	for (int i = 0, d = 0; i < 36; i++) {
		if (d < 4 && i == dash[d]) {
			if (s[i] != '-' && s[i] != '_')
				return false;
			out[i] = '-';
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		} else {
			out[i] = (char)tolower((unsigned char)s[i]);
		}
	}
	out[36] = '\0';
	return n == 36 || s[36] == '.' || s[36] == '/';
}

/* The container of one path segment: [prefix]<64 hex>[.scope]. */
static bool container_of(const char *seg, size_t n, struct k8s_ids *out)
{
	static const struct {
		const char *prefix, *runtime;
	} known[] = {
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
		{ "docker-", "docker" },
		{ "", "" },
	};

	if (n > 6 && !strncmp(seg + n - 6, ".scope", 6))
		n -= 6;
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		size_t pl = strlen(known[k].prefix);

		if (n == pl + 64 && !strncmp(seg, known[k].prefix, pl) && hex_run(seg + pl, 64)) {
			memcpy(out->container_id, seg + pl, 64);
			out->container_id[64] = '\0';
			out->runtime = known[k].runtime;
			return true;
		}
	}
	return false;
}

int k8s_cgroup_ids(const char *cgroup, struct k8s_ids *out)
{
	const char *s = cgroup;

	memset(out, 0, sizeof(*out));
	out->runtime = "";
	while (s && *s) {
		const char *seg, *p;
		size_t n;

		while (*s == '/')
			s++;
		seg = s;
		s = strchr(s, '/');
		n = s ? (size_t)(s - seg) : strlen(seg);
		/* "pod<uid>" (cgroupfs) or "kubepods[-qos]-pod<uid>.slice" (systemd) */
		for (p = seg; p + 3 <= seg + n; p++) {
			char uid[37];

			if (!strncmp(p, "pod", 3) && (p == seg || p[-1] == '-') &&
			    uid_at(p + 3, (size_t)(seg + n - p - 3), uid)) {
				memcpy(out->pod_uid, uid, sizeof(uid));
				out->container_id[0] = '\0'; /* a container is below its pod */
				out->runtime = "";
				break;
			}
		}
		if (out->pod_uid[0] && !out->container_id[0])
			container_of(seg, n, out);
	}
	return out->pod_uid[0] ? 0 : -1;
}

/* The first line of path, into out; 0 or -1. */
static int first_line(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return -1;
	if (!fgets(out, (int)outsz, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -1;
}

/* The namespace file of the pod's ServiceAccount volume (projected, or a secret before 1.22). */
static void pod_namespace(const char *dir, char *out, size_t outsz)
{
	static const char *const kinds[] = { "kubernetes.io~projected", "kubernetes.io~secret" };

	out[0] = '\0';
	for (int k = 0; k < 2 && !out[0]; k++) {
		char path[4096 + 64];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/volumes/%s", dir, kinds[k]);
		d = opendir(path);
		while (d && !out[0] && (de = readdir(d))) {
			char file[sizeof(path) + 256 + 16];

			if (de->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s/namespace", path, de->d_name);
			first_line(file, out, outsz);
		}
		if (d)
			closedir(d);
	}
}

int k8s_pod_read(const char *pods_dir, const char *uid, struct k8s_pod *out)
{
	char dir[4096], path[4096 + 32], line[512];
	struct dirent *de;
	int ncontainers = 0;
	FILE *f;
	DIR *d;

	memset(out, 0, sizeof(*out));
	if (strlen(uid) != 36 || strchr(uid, '/'))
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", pods_dir, uid);
	/* The kubelet's hosts file ends with "IP<TAB>HOSTNAME": the pod's name. */
	snprintf(path, sizeof(path), "%s/etc-hosts", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ip[64], host[254];

		if (line[0] == '#' || sscanf(line, "%63s %253s", ip, host) != 2)
			continue;
		if (strcmp(host, "localhost") && strncmp(host, "ip6-", 4))
			snprintf(out->name, sizeof(out->name), "%s", host);
	}
	fclose(f);
	pod_namespace(dir, out->namespace_, sizeof(out->namespace_));
	snprintf(path, sizeof(path), "%s/containers", dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (++ncontainers == 1)
			snprintf(out->container, sizeof(out->container), "%.63s", de->d_name);
	}
	if (d)
		closedir(d);
	if (ncontainers != 1)
		out->container[0] = '\0';
	return out->name[0] ? 0 : -1;
}

/* Is s[0..n) a generated suffix: lower-case letters and digits only? */
static bool generated(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

void k8s_workload(const char *pod, char *out, size_t outsz)
{
	const char *last = strrchr(pod, '-'), *prev = NULL;
	size_t n = strlen(pod);

	if (last && last > pod)
		for (prev = last - 1; prev > pod && *prev != '-'; prev--)
			;
	if (prev && *prev != '-')
		prev = NULL;
	if (last && prev && prev > pod && strlen(last + 1) == 5 && generated(last + 1, 5) &&
	    last - prev - 1 >= 6 && last - prev - 1 <= 10 && generated(prev + 1, (size_t)(last - prev - 1)))
		n = (size_t)(prev - pod); /* Deployment: NAME-<template hash>-<5> */
	else if (last && last > pod && ((strlen(last + 1) == 5 && generated(last + 1, 5)) ||
					digits(last + 1, strlen(last + 1))))
		n = (size_t)(last - pod); /* DaemonSet, Job: NAME-<5>; StatefulSet: NAME-<ordinal> */
	snprintf(out, outsz, "%.*s", (int)n, pod);
}
