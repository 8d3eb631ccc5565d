// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

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

int k8s_environ_hostname(int pid, char *out, size_t outsz)
{
	char path[64], env[32768];
	size_t n;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (!strncmp(env + i, "HOSTNAME=", 9) && env[i + 9] && strlen(env + i + 9) < outsz) {
			snprintf(out, outsz, "%s", env + i + 9);
			return 0;
		}
	return -1;
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

void k8s_owner_workload(const char *kind, const char *name, char *out, size_t outsz)
{
	const char *last = strrchr(name, '-');
	size_t n = strlen(name);

	if (last && last > name && !strcmp(kind, "ReplicaSet") && strlen(last + 1) >= 6 &&
	    strlen(last + 1) <= 10 && generated(last + 1, strlen(last + 1)))
		n = (size_t)(last - name); /* a Deployment's: NAME-<pod template hash> */
	else if (last && last > name && !strcmp(kind, "Job") && strlen(last + 1) >= 8 &&
		 digits(last + 1, strlen(last + 1)))
		n = (size_t)(last - name); /* a CronJob's: NAME-<scheduled minute> */
	snprintf(out, outsz, "%.*s", (int)n, name);
}

/* The string at o's path (keys, NULL-terminated), or NULL. */
static const char *jstr(json_object *o, const char *const *path)
{
	for (; *path; path++)
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, *path, &o))
			return NULL;
	return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static void copy(char *dst, size_t sz, const char *src)
{
	snprintf(dst, sz, "%s", src ? src : "");
}

/* The containers with an ID of statuses (containerStatuses or initContainerStatuses). */
static void pod_containers(json_object *statuses, struct k8s_api_pod *p)
{
	static const char *const id_path[] = { "containerID", NULL }, *const name_path[] = { "name", NULL };
	size_t n = json_object_is_type(statuses, json_type_array) ? json_object_array_length(statuses) : 0;

	for (size_t i = 0; i < n && p->ncontainers < K8S_CONTAINERS_MAX; i++) {
		json_object *c = json_object_array_get_idx(statuses, i);
		const char *id = jstr(c, id_path), *name = jstr(c, name_path), *sep;

		if (!id || !name || !(sep = strstr(id, "://")) || strlen(sep + 3) != 64 ||
		    !hex_run(sep + 3, 64))
			continue;
		copy(p->containers[p->ncontainers].id, sizeof(p->containers[0].id), sep + 3);
		copy(p->containers[p->ncontainers].name, sizeof(p->containers[0].name), name);
		p->ncontainers++;
	}
}

/* A Pod object into p: 0, or -1 without a well-formed uid and a name. */
static int pod_of(json_object *o, struct k8s_api_pod *p)
{
	static const char *const uid[] = { "metadata", "uid", NULL },
				 *const name[] = { "metadata", "name", NULL },
				 *const ns[] = { "metadata", "namespace", NULL },
				 *const okind[] = { "kind", NULL }, *const oname[] = { "name", NULL };
	json_object *meta, *owners, *status, *st;
	const char *u = jstr(o, uid), *nm = jstr(o, name);
	char parsed[37];

	memset(p, 0, sizeof(*p));
	if (!u || !nm || !nm[0] || strlen(u) != 36 || !uid_at(u, 36, parsed) || strlen(nm) >= sizeof(p->name))
		return -1;
	copy(p->uid, sizeof(p->uid), parsed);
	copy(p->name, sizeof(p->name), nm);
	copy(p->namespace_, sizeof(p->namespace_), jstr(o, ns));
	/* The controller among the owners (controller: true), else none. */
	if (json_object_object_get_ex(o, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "ownerReferences", &owners) &&
	    json_object_is_type(owners, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(owners); i++) {
			json_object *ow = json_object_array_get_idx(owners, i), *ctl;
			const char *k = jstr(ow, okind), *on = jstr(ow, oname);

			if (k && on && json_object_object_get_ex(ow, "controller", &ctl) &&
			    json_object_get_boolean(ctl)) {
				k8s_owner_workload(k, on, p->workload, sizeof(p->workload));
				break;
			}
		}
	}
	if (json_object_object_get_ex(o, "status", &status)) {
		if (json_object_object_get_ex(status, "containerStatuses", &st))
			pod_containers(st, p);
		if (json_object_object_get_ex(status, "initContainerStatuses", &st))
			pod_containers(st, p);
	}
	return 0;
}

static json_object *parse(const char *s, size_t n)
{
	json_tokener *tok;
	json_object *o;

	if (n > (size_t)1 << 30 || !(tok = json_tokener_new()))
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int k8s_pod_list(const char *body, size_t n, void (*fn)(void *ctx, const struct k8s_api_pod *),
		 void *ctx, char *rv, size_t rvsz)
{
	static const char *const kind[] = { "kind", NULL },
				 *const rv_path[] = { "metadata", "resourceVersion", NULL };
	json_object *o = parse(body, n), *items;
	const char *k = jstr(o, kind);
	struct k8s_api_pod p;

	rv[0] = '\0';
	if (!o || !k || strcmp(k, "PodList") || !json_object_object_get_ex(o, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		json_object_put(o);
		return -1;
	}
	copy(rv, rvsz, jstr(o, rv_path));
	for (size_t i = 0; i < json_object_array_length(items); i++)
		if (!pod_of(json_object_array_get_idx(items, i), &p))
			fn(ctx, &p);
	json_object_put(o);
	return 0;
}

int k8s_watch_event(const char *line, size_t n, struct k8s_api_pod *pod, char *rv, size_t rvsz)
{
	static const char *const type_path[] = { "type", NULL },
				 *const rv_path[] = { "metadata", "resourceVersion", NULL };
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	json_object *o = parse(line, n), *obj;
	const char *t = jstr(o, type_path);
	int type = -1;

	memset(pod, 0, sizeof(*pod));
	rv[0] = '\0';
	for (int i = 0; t && i < 5; i++)
		if (!strcmp(t, types[i]))
			type = i + 1;
	if (type < 0 || !json_object_object_get_ex(o, "object", &obj)) {
		json_object_put(o);
		return -1;
	}
	if (type != K8S_ERROR)
		copy(rv, rvsz, jstr(obj, rv_path));
	if (type <= K8S_DELETED && pod_of(obj, pod))
		type = -1;
	json_object_put(o);
	return type;
}
