// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
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
	uint16_t port; /* CONFIG_MATCH_PORT */
	char prefix[256]; /* CONFIG_MATCH_CGROUP */
};

/* discovery.names: every pattern given must match. */
struct name_rule {
	const struct config_name *c;
	bool has_comm, has_exe;
	regex_t comm, exe;
};

struct discover {
	int n, nmatch, nnames;
	struct rule r[CONFIG_SELECT_MAX];
	struct name_rule names[CONFIG_NAMES_MAX];
};

void discover__free(struct discover *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		if (d->r[i].kind != CONFIG_MATCH_CGROUP && d->r[i].kind != CONFIG_MATCH_PORT)
			regfree(&d->r[i].re);
	for (int i = 0; i < d->nnames; i++) {
		if (d->names[i].has_comm)
			regfree(&d->names[i].comm);
		if (d->names[i].has_exe)
			regfree(&d->names[i].exe);
	}
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
		if (s->kind == CONFIG_MATCH_PORT) {
			r->port = (uint16_t)atoi(s->pattern);
		} else if (s->kind == CONFIG_MATCH_CGROUP) {
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
	for (int i = 0; i < c->nnames && i < CONFIG_NAMES_MAX; i++) {
		struct name_rule *nr = &d->names[d->nnames];
		const struct config_name *cn = &c->names[i];

		nr->c = cn;
		nr->has_comm = cn->comm[0] && !regcomp(&nr->comm, cn->comm, REG_EXTENDED | REG_NOSUB);
		nr->has_exe = cn->exe[0] && !regcomp(&nr->exe, cn->exe, REG_EXTENDED | REG_NOSUB);
		d->nnames++;
		if ((cn->comm[0] && !nr->has_comm) || (cn->exe[0] && !nr->has_exe)) {
			snprintf(err, errsz, "discovery.names: bad regular expression for '%s'",
				 cn->name);
			discover__free(d);
			return NULL;
		}
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
		default: /* CONFIG_MATCH_PORT: the kernel says (discover_ports) */
			break;
		}
	}
	return matched;
}

const char *discover_name(const struct discover *d, const struct proc_info *p)
{
	for (int i = 0; i < d->nnames; i++) {
		const struct name_rule *nr = &d->names[i];

		if ((!nr->has_comm || !regexec(&nr->comm, p->comm, 0, NULL, 0)) &&
		    (!nr->has_exe || !regexec(&nr->exe, p->exe, 0, NULL, 0)) &&
		    (!nr->c->cgroup[0] || under(p->cgroup, nr->c->cgroup)))
			return nr->c->name;
	}
	return NULL;
}

bool discover_excluded(const struct discover *d, const struct proc_info *p)
{
	if (!p->exe[0])
		return true;
	for (int i = 0; i < d->n; i++)
		if (d->r[i].kind == CONFIG_EXCLUDE_COMM && !regexec(&d->r[i].re, p->comm, 0, NULL, 0))
			return true;
	return false;
}

int discover_ports(const struct discover *d, uint16_t *out, int max)
{
	int n = 0;

	for (int i = 0; i < d->n && n < max; i++)
		if (d->r[i].kind == CONFIG_MATCH_PORT)
			out[n++] = d->r[i].port;
	return n;
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

int proc_tcp_sockets(pid_t pid, proc_tcp_fn fn, void *ctx)
{
	static const char *const files[] = { "tcp", "tcp6" };
	int read = 0;

	for (int f = 0; f < 2; f++) {
		char path[64], line[512];
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[f]);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		read++;
		/* "sl local rem st tx:rx tr:when retrnsmt uid timeout inode" */
		while (fgets(line, sizeof(line), fp)) {
			char local[64], remote[64];
			unsigned st, lport, rport;
			unsigned long inode;
			char *lc, *rc;

			if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, &st,
				   &inode) != 4 ||
			    !(lc = strrchr(local, ':')) || !(rc = strrchr(remote, ':')) ||
			    sscanf(lc + 1, "%x", &lport) != 1 || sscanf(rc + 1, "%x", &rport) != 1)
				continue;
			if (fn(ctx, st, (uint16_t)lport, (uint16_t)rport, inode))
				break;
		}
		fclose(fp);
	}
	return read ? 0 : -1;
}

struct port_inodes {
	const uint16_t *ports;
	int n;
	unsigned long ino[256];
	size_t k;
};

/* Sockets listening on (0A) or connected to (01) one of the ports. */
static bool port_inode(void *ctx, unsigned st, uint16_t lport, uint16_t rport, unsigned long inode)
{
	struct port_inodes *pi = ctx;

	for (int i = 0; i < pi->n; i++)
		if ((st == 0x0A && lport == pi->ports[i]) || (st == 0x01 && rport == pi->ports[i])) {
			pi->ino[pi->k++] = inode;
			break;
		}
	return pi->k == sizeof(pi->ino) / sizeof(pi->ino[0]);
}

bool proc_uses_port(pid_t pid, const uint16_t *ports, int n)
{
	struct port_inodes pi = { .ports = ports, .n = n };
	unsigned long *ino = pi.ino;
	size_t k;
	char dir[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (n <= 0 || proc_tcp_sockets(pid, port_inode, &pi) || !(k = pi.k))
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	while (d && !found && (de = readdir(d))) {
		char path[sizeof(dir) + 260], link[64];
		unsigned long v;
		ssize_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &v) != 1)
			continue;
		for (size_t i = 0; i < k && !found; i++)
			found = ino[i] == v;
	}
	if (d)
		closedir(d);
	return found;
}
