// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tc_capture PORT: load tc_capture.bpf.c on lo egress, drain its ring every
 * 2 ms (as sonde drains its rings; records are counted, not parsed) until
 * SIGINT or SIGTERM, then detach and print "records N bytes N lost N".
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "tc_capture.skel.h"

static volatile sig_atomic_t stop;
static unsigned long long nrec, nbytes;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	nrec++;
	nbytes += size;
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	struct tc_capture_bpf *skel;
	struct ring_buffer *rb = NULL;
	bool created = false;
	int err, rc = 1;

	if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
		fprintf(stderr, "usage: tc_capture PORT\n");
		return 2;
	}
	hook.ifindex = (int)if_nametoindex("lo");
	skel = tc_capture_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->watch_port = (unsigned short)atoi(argv[1]);
	if (tc_capture_bpf__load(skel))
		goto out;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		goto out;
	created = !err;
	opts.prog_fd = bpf_program__fd(skel->progs.floor_egress);
	if (bpf_tc_attach(&hook, &opts))
		goto out_hook;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_record, NULL, NULL);
	if (!rb)
		goto out_detach;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		ring_buffer__consume(rb);
		usleep(2000);
	}
	ring_buffer__consume(rb);
	fprintf(stderr, "records %llu bytes %llu lost %llu\n", nrec, nbytes,
		(unsigned long long)skel->bss->lost);
	rc = 0;
	ring_buffer__free(rb);
out_detach:
	opts.flags = opts.prog_fd = opts.prog_id = 0;
	bpf_tc_detach(&hook, &opts);
out_hook:
	if (created) {
		/* Both attach points: the clsact qdisc itself goes, not only its filters. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
out:
	tc_capture_bpf__destroy(skel);
	return rc;
}
