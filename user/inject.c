// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "discover.h"
#include "export/metrics.h"
#include "inject.h"
#include "inject.skel.h"
#include "loader.h"
#include "sonde_inject.h"

struct inject {
	struct inject_bpf *skel;
	struct bpf_link *sockops;
	bool msg_attached;
	int cgroup_fd;
	int ncpus;
	struct metric_family *injected, *skipped;
};

static const char *const reasons[SONDE_INJ__MAX] = {
	[SONDE_INJ_HAS_HEADER] = "has_header", [SONDE_INJ_AMBIGUOUS] = "ambiguous",
	[SONDE_INJ_SPLIT] = "split",	       [SONDE_INJ_TOO_LONG] = "too_long",
	[SONDE_INJ_CHUNKED] = "chunked",       [SONDE_INJ_PIPELINED] = "pipelined",
	[SONDE_INJ_NOT_HTTP] = "not_http",     [SONDE_INJ_NO_MEMORY] = "no_memory",
};

static void collect(void *p)
{
	struct inject *in = p;
	int fd = bpf_map__fd(in->skel->maps.inj_stats);

	metric__set(in->injected, NULL,
		    (double)loader_percpu_sum(fd, SONDE_INJ_INJECTED, in->ncpus));
	for (uint32_t k = 1; k < SONDE_INJ__MAX; k++) {
		const char *v[] = { reasons[k] };

		metric__set(in->skipped, v, (double)loader_percpu_sum(fd, k, in->ncpus));
	}
}

static int share(struct loader *l, struct bpf_map *m, const char *name)
{
	int fd = loader__map_fd(l, name);

	return fd < 0 ? -ENOENT : bpf_map__reuse_fd(m, fd);
}

struct inject *inject__start(struct loader *l, double sample_rate, struct metrics *m, char *err,
			     size_t errsz)
{
	static const char *const reason[] = { "reason" };
	struct inject *in = calloc(1, sizeof(*in));
	int e;

	if (!in) {
		snprintf(err, errsz, "--inject-traceparent: out of memory");
		return NULL;
	}
	in->cgroup_fd = -1;
	in->ncpus = libbpf_num_possible_cpus();
	in->skel = inject_bpf__open();
	if (!in->skel) {
		snprintf(err, errsz, "--inject-traceparent: cannot open BPF object: %s",
			 strerror(errno));
		goto fail;
	}
	in->skel->rodata->sample_below = loader_sample_below(sample_rate);
	if ((e = share(l, in->skel->maps.targets, "targets")) ||
	    (e = share(l, in->skel->maps.inj_threads, "inj_threads")) ||
	    (e = share(l, in->skel->maps.inj_sent, "inj_sent")) ||
	    (e = share(l, in->skel->maps.inj_lines, "inj_lines")) ||
	    (e = share(l, in->skel->maps.inj_conn_line, "inj_conn_line"))) {
		snprintf(err, errsz, "--inject-traceparent: cannot share the capture's maps: %s",
			 strerror(-e));
		goto fail;
	}
	if ((e = inject_bpf__load(in->skel))) {
		snprintf(err, errsz, "--inject-traceparent: kernel refused the BPF programs (%s); "
			 "run with -v for the verifier log", strerror(-e));
		goto fail;
	}
	{
		__u32 zero = 0;
		int fd = bpf_program__fd(in->skel->progs.sonde_inj_follow);

		if (bpf_map_update_elem(bpf_map__fd(in->skel->maps.inj_progs), &zero, &fd, BPF_ANY)) {
			snprintf(err, errsz, "--inject-traceparent: cannot set the pipelining tail call: %s",
				 strerror(errno));
			goto fail;
		}
	}
	if (bpf_prog_attach(bpf_program__fd(in->skel->progs.sonde_inject),
			    bpf_map__fd(in->skel->maps.inj_socks), BPF_SK_MSG_VERDICT, 0)) {
		snprintf(err, errsz, "--inject-traceparent: cannot attach the sk_msg program: %s",
			 strerror(errno));
		goto fail;
	}
	in->msg_attached = true;
	in->cgroup_fd = loader_cgroup2_root();
	if (in->cgroup_fd < 0) {
		snprintf(err, errsz, "--inject-traceparent: no cgroup v2 hierarchy mounted");
		goto fail;
	}
	in->sockops = bpf_program__attach_cgroup(in->skel->progs.sonde_inj_sockops, in->cgroup_fd);
	if (!in->sockops) {
		snprintf(err, errsz, "--inject-traceparent: cannot attach the sockops program: %s",
			 strerror(errno));
		goto fail;
	}
	in->injected = metrics__counter(m, "sonde_inject_requests_total",
					"HTTP requests of the targets a traceparent was written into "
					"(--inject-traceparent)",
					NULL, 0);
	in->skipped = metrics__counter(m, "sonde_inject_skipped_total",
				       "HTTP request starts of the targets sent unchanged, by reason "
				       "(--inject-traceparent)",
				       reason, 1);
	if (!in->injected || !in->skipped || metrics__add_collector(m, collect, in)) {
		snprintf(err, errsz, "--inject-traceparent: out of memory");
		goto fail;
	}
	return in;
fail:
	e = errno;
	inject__free(in);
	errno = e;
	return NULL;
}

struct listening {
	uint16_t *ports;
	size_t n, max;
};

static bool listening_port(void *ctx, unsigned st, uint16_t lport, uint16_t rport,
			   unsigned long inode)
{
	struct listening *l = ctx;

	(void)rport, (void)inode;
	if (st == 0x0A)
		l->ports[l->n++] = lport;
	return l->n == l->max;
}

/* Local ports of the sockets listening in pid's network namespace (TCP, v4 and v6). */
static size_t listening_ports(pid_t pid, uint16_t *ports, size_t max)
{
	struct listening l = { ports, 0, max };

	proc_tcp_sockets(pid, listening_port, &l);
	return l.n;
}

/* An established TCP socket this process connected (its local port listens nowhere)? */
static bool client_tcp(int fd, const uint16_t *listen, size_t nlisten)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int proto = 0;
	socklen_t pl = sizeof(proto);
	uint16_t port;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) || proto != IPPROTO_TCP ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || ti.tcpi_state != 1 /* ESTABLISHED */)
		return false;
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	for (size_t i = 0; i < nlisten; i++)
		if (listen[i] == port)
			return false; /* accepted: a server's side */
	return true;
}

/* pid's client sockets into the SOCKHASH; how many. */
static int adopt_pid(struct inject *in, pid_t pid, int verbose)
{
	uint16_t listen[1024];
	size_t nlisten = listening_ports(pid, listen, 1024);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), socks = bpf_map__fd(in->skel->maps.inj_socks);
	char dir[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (pidfd < 0)
		return 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char link[64], path[sizeof(dir) + 260];
		ssize_t k;
		int fd;
		uint64_t cookie;
		socklen_t cl = sizeof(cookie);

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		k = readlink(path, link, sizeof(link) - 1);
		if (k <= 0 || strncmp(link, "socket:", 7))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0)
			continue;
		if (client_tcp(fd, listen, nlisten) &&
		    !getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &cl)) {
			uint64_t v = (uint64_t)fd;

			/* The kernel takes the socket from the fd; an existing entry stays. */
			if (!bpf_map_update_elem(socks, &cookie, &v, BPF_NOEXIST))
				n++;
		}
		close(fd);
	}
	if (d)
		closedir(d);
	close(pidfd);
	if (verbose && n)
		fprintf(stderr, "sonde: inject: %d connection(s) pid %d made before sonde started\n",
			n, pid);
	return n;
}

int inject__adopt(struct inject *in, struct loader *l, int verbose)
{
	int targets = loader__map_fd(l, "targets"), n = 0;
	struct dirent *de;
	DIR *d;

	if (!in || targets < 0 || !(d = opendir("/proc")))
		return 0;
	while ((de = readdir(d))) {
		struct sonde_target t;
		uint32_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (uint32_t)atoi(de->d_name);
		if (pid == (uint32_t)getpid() || bpf_map_lookup_elem(targets, &pid, &t) || !t.gen)
			continue;
		n += adopt_pid(in, (pid_t)pid, verbose);
	}
	closedir(d);
	return n;
}

void inject__free(struct inject *in)
{
	if (!in)
		return;
	bpf_link__destroy(in->sockops);
	if (in->msg_attached)
		bpf_prog_detach2(bpf_program__fd(in->skel->progs.sonde_inject),
				 bpf_map__fd(in->skel->maps.inj_socks), BPF_SK_MSG_VERDICT);
	if (in->cgroup_fd >= 0)
		close(in->cgroup_fd);
	inject_bpf__destroy(in->skel);
	free(in);
}
