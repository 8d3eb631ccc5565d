/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps capture.bpf.c and inject.bpf.c share (include/sonde_inject.h):
 * both objects declare them here, and the loader hands the capture's to the
 * inject object (bpf_map__reuse_fd) before it loads.
 */
#ifndef SONDE_BPF_INJECT_MAPS_H
#define SONDE_BPF_INJECT_MAPS_H

#include "sonde_inject.h"

/* Trace sampling for new roots: sampled when a random 32-bit draw < this (2^32: all). */
const volatile __u64 sample_below = 1ULL << 32;

/* pid_tgid -> the server requests the thread has in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sonde_thread_ctx);
} inj_threads SEC(".maps");

/* pid_tgid -> what the sk_msg program wrote into the send under way. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sonde_sent);
} inj_sent SEC(".maps");

/* The proxy rule (include/sonde_inject.h): (tgid, line hash) -> requests in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_line_key);
	__type(value, struct sonde_line_flight);
} inj_lines SEC(".maps");

/* conn_id of a server connection -> the line hash of its request in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} inj_conn_line SEC(".maps");

static __always_inline __u64 rand64(void)
{
	return (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
}

#endif /* SONDE_BPF_INJECT_MAPS_H */
