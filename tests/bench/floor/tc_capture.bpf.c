// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A yardstick, not part of sonde: TCP payload capture without syscall
 * tracepoints, to measure what the capture path itself costs (`make
 * bench-floor`, docs/performance.md "Capture path"). A tc program on lo egress
 * (which every loopback segment crosses once, whichever way it goes) looks up
 * the segment's 4-tuple, reserves a record in a BPF ring buffer, copies up to
 * 1,023 payload bytes and stamps it: the work of sonde's data programs, on
 * packets instead of syscalls. Connections are learnt from their first
 * segment to or from watch_port, a stand-in for learning them at accept and
 * connect. No process attribution, no Unix sockets, no retransmission
 * handling: enough to measure, not to observe.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0
#define ETH_P_IP 0x0800
#define IPPROTO_TCP_ 6
#define CAP 1024

const volatile __u16 watch_port = 6379;

struct flow {
	__u32 saddr, daddr;
	__u16 sport, dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow);
	__type(value, __u64); /* connection id: the time it was learnt */
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} records SEC(".maps");

__u64 lost;

struct record {
	__u64 conn_id, ts;
	__u32 len, caplen;
	__u8 data[CAP];
};

SEC("tc")
int floor_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;
	struct flow k;
	struct record *r;
	__u64 *id, n;
	__u32 off;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP_)
		return TC_ACT_OK;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > end)
		return TC_ACT_OK;
	off = sizeof(*eth) + ip->ihl * 4 + tcp->doff * 4;
	if (off >= skb->len)
		return TC_ACT_OK; /* no payload: an ACK */
	k.saddr = ip->saddr;
	k.daddr = ip->daddr;
	k.sport = tcp->source;
	k.dport = tcp->dest;
	id = bpf_map_lookup_elem(&flows, &k);
	if (!id) {
		__u64 now = bpf_ktime_get_ns();

		if (tcp->dest != bpf_htons(watch_port) && tcp->source != bpf_htons(watch_port))
			return TC_ACT_OK;
		bpf_map_update_elem(&flows, &k, &now, BPF_ANY);
		id = bpf_map_lookup_elem(&flows, &k);
		if (!id)
			return TC_ACT_OK;
	}
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return TC_ACT_OK;
	}
	r->conn_id = *id;
	r->ts = bpf_ktime_get_ns();
	r->len = skb->len - off;
	n = r->len < CAP - 1 ? r->len : CAP - 1;
	asm volatile("%0 &= %1" : "+r"(n) : "i"(CAP - 1)); /* a bound the verifier can see */
	r->caplen = n;
	if (n)
		bpf_skb_load_bytes(skb, off, r->data, n);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
