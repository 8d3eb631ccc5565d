// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discover.h"

struct rule {
	int kind; /* enum config_select_kind */
	regex_t re;
	char prefix[256]; /* CONFIG_MATCH_CGROUP */
};

struct discover {
	int n, nmatch;
	struct rule r[CONFIG_SELECT_MAX];
};

void discover__free(struct discover *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		if (d->r[i].kind != CONFIG_MATCH_CGROUP)
			regfree(&d->r[i].re);
	free(d);
}

struct discover *discover__new(const struct config *c, char *err, size_t errsz)
{
	struct discover *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	for (int i = 0; i < c->nselect && i < CONFIG_SELECT_MAX; i++) {
		struct rule *r = &d->r[d->n];
		const struct config_select *s = &c->select[i];
		int e;

		r->kind = s->kind;
		if (s->kind == CONFIG_MATCH_CGROUP) {
			size_t n;

			snprintf(r->prefix, sizeof(r->prefix), "%s", s->pattern);
			n = strlen(r->prefix);
			while (n > 1 && r->prefix[n - 1] == '/')
				r->prefix[--n] = '\0'; /* "/kubepods/" is "/kubepods" */
		} else if ((e = regcomp(&r->re, s->pattern, REG_EXTENDED | REG_NOSUB))) {
			char why[128];

			regerror(e, &r->re, why, sizeof(why));
			snprintf(err, errsz, "bad regular expression '%s': %s", s->pattern, why);
			discover__free(d);
			return NULL;
		}
		d->n++;
		if (s->kind != CONFIG_EXCLUDE_COMM)
			d->nmatch++;
	}
	return d;
}

/* Is path the cgroup prefix or below it ("/a/b" is under "/a", "/ab" is not)? */
static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

bool discover_match(const struct discover *d, const struct proc_info *p)
{
	bool matched = !d->nmatch;

	if (!p->exe[0])
		return false; /* a kernel thread: nothing to observe */
	for (int i = 0; i < d->n; i++) {
		const struct rule *r = &d->r[i];

		switch (r->kind) {
		case CONFIG_EXCLUDE_COMM:
			if (!regexec(&r->re, p->comm, 0, NULL, 0))
				return false;
			break;
		case CONFIG_MATCH_COMM:
			matched = matched || !regexec(&r->re, p->comm, 0, NULL, 0);
			break;
		case CONFIG_MATCH_EXE:
			matched = matched || !regexec(&r->re, p->exe, 0, NULL, 0);
			break;
		case CONFIG_MATCH_CGROUP:
			matched = matched || under(p->cgroup, r->prefix);
			break;
		}
	}
	return matched;
}

/* The first line of path into out (its newline dropped); 0 or -errno. */
static int read_line(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return -errno;
	if (!fgets(out, (int)outsz, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

int proc_info_read(pid_t pid, struct proc_info *p)
{
	char path[64], line[sizeof(p->cgroup) + 32];
	ssize_t n;
	FILE *f;
	int e;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((e = read_line(path, p->comm, sizeof(p->comm))))
		return e;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	/* "0::/system.slice/x.service" (v2); v1 lines "N:controllers:/path" */
	while (fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) || !p->cgroup[0])
			snprintf(p->cgroup, sizeof(p->cgroup), "%s", b + 1);
		if (!strncmp(line, "0::", 3))
			break;
	}
	fclose(f);
	return 0;
}
