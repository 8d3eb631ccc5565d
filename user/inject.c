// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

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
