// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket data capture on syscall tracepoints.
 *
 * Every process pays one hash lookup (targets) per traced syscall; only target
 * processes go further. Arguments are saved at sys_enter and the payload is
 * copied at sys_exit, when the return value says how many bytes moved. Records
 * go to one ring buffer without waking the consumer, unless it is filling up:
 * userspace drains it on a short timer, in batches.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sonde.h"
#include "sock.h"

#define MSG_PEEK 2
#define EINPROGRESS 115

/* Set by userspace before load. */
const volatile __u32 capture_bytes = SONDE_CAPTURE_DEFAULT;
/* Wake the consumer only when this much data is waiting. */
const volatile __u64 wakeup_bytes = 1 << 20;

/* Source of conn_id values: unique for the life of the loaded program. */
__u64 next_conn_id = 1;

/*
 * targets: tgid -> struct sonde_target.
 * Written by userspace (--pid, existing descendants) and by sonde_fork (new
 * children); read by every program; entries of dead processes are swept by
 * userspace. gen is bumped on exec/close_range to invalidate cached fds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sonde_target);
} targets SEC(".maps");

/*
 * conns: (tgid, fd) -> what the fd is. Written at accept/connect exit and on
 * the first data syscall of an fd not seen before (fd-table walk), deleted at
 * close or dup2 onto it; LRU bounds it when closes are missed. Non-sockets are
 * cached too (watch = 0) so that file and pipe I/O of a target stays cheap.
 * Read only by BPF.
 */
struct conn_state {
	__u64 conn_id;
	__u32 gen;	/* targets gen when cached: a mismatch means stale */
	__u8 watch;	/* 1: a TCP or Unix stream socket we follow */
	__u8 _pad[3];
	struct sonde_conn_tuple tuple;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_fd_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/*
 * active_io: pid_tgid -> arguments of a data syscall in flight, from
 * sys_enter to sys_exit of the same thread. Deleted at exit.
 */
struct active_io {
	__u64 buf;	/* user buffer, or iovec array when iovcnt > 0 */
	__u32 fd;
	__u32 iovcnt;
	__u8 call;	/* enum sonde_call */
	__u8 dir;	/* enum sonde_dir */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct active_io);
} active_io SEC(".maps");

/* events: the ring buffer of struct sonde_event records (+ payload). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* stats: per-CPU counters indexed by enum sonde_stat, summed by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * scratch: one record under construction per CPU. Lengths and offsets are
 * masked right where they are used (offset & (MAX-1), length & (2*MAX-1)): the
 * verifier can always follow a mask, while clang moves clamps around. The
 * payload area is sized for the largest masked offset + length.
 */
#define LEN_MASK (2 * SONDE_CAPTURE_MAX - 1)
#define OFF_MASK (SONDE_CAPTURE_MAX - 1)
/* v & m, with v hidden from clang so that it cannot drop a mask it deems useless. */
#define MASKED(v, m)                                                           \
	({                                                                     \
		__u64 __v = (v);                                               \
		barrier_var(__v);                                              \
		__v & (m);                                                     \
	})
struct event_buf {
	struct sonde_event hdr;
	__u8 data[3 * SONDE_CAPTURE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_buf);
} scratch SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct sonde_target *target_of(__u32 tgid)
{
	return bpf_map_lookup_elem(&targets, &tgid);
}

/* Cache what fd is; role says how it began. Returns the entry, or NULL. */
static __always_inline struct conn_state *conn_learn(__u32 tgid, __u32 fd, __u32 gen, __u8 role)
{
	struct sonde_fd_key k = { .tgid = tgid, .fd = fd };
	struct conn_state cs = {};

	cs.gen = gen;
	if (sonde_sock_tuple(fd, &cs.tuple) == 0) {
		cs.watch = 1;
		cs.tuple.role = role;
		cs.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
	}
	bpf_map_update_elem(&conns, &k, &cs, BPF_ANY);
	return bpf_map_lookup_elem(&conns, &k);
}

/* The cached state of fd if it is current, else NULL. */
static __always_inline struct conn_state *conn_cached(__u32 tgid, __u32 fd, __u32 gen)
{
	struct sonde_fd_key k = { .tgid = tgid, .fd = fd };
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &k);

	if (cs && cs->gen != gen)
		return NULL;
	return cs;
}

static __always_inline int io_enter(__u32 fd, __u64 buf, __u32 iovcnt, __u8 call, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct sonde_target *t = target_of(tgid);
	struct conn_state *cs;
	struct active_io a = {};

	if (!t)
		return 0;
	cs = conn_cached(tgid, fd, t->gen);
	if (cs && !cs->watch)
		return 0;
	a.buf = buf;
	a.fd = fd;
	a.iovcnt = iovcnt;
	a.call = call;
	a.dir = dir;
	bpf_map_update_elem(&active_io, &id, &a, BPF_ANY);
	return 0;
}

/* Copy up to cap bytes from an iovec array into e->data; returns bytes copied. */
static __always_inline __u32 copy_iov(struct event_buf *e, __u64 uiov, __u32 iovcnt, __u32 cap)
{
	__u32 off = 0;

#pragma unroll
	for (int i = 0; i < SONDE_MAX_IOV; i++) {
		struct iovec iov;
		__u32 n;

		if (i >= iovcnt || off >= cap)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(uiov + i * sizeof(iov))))
			break;
		n = cap - off;
		if (iov.iov_len < n)
			n = iov.iov_len;
		if (n == 0)
			continue;
		if (bpf_probe_read_user(&e->data[MASKED(off, OFF_MASK)], MASKED(n, LEN_MASK), iov.iov_base))
			break;
		off += n;
	}
	return off;
}

static __always_inline void emit(struct event_buf *e, __u32 caplen)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (caplen > SONDE_CAPTURE_MAX)
		caplen = SONDE_CAPTURE_MAX;
	e->hdr.caplen = caplen;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(e->hdr) + MASKED(caplen, LEN_MASK), flags)) {
		stat_inc(SONDE_STAT_LOST);
		return;
	}
	stat_inc(SONDE_STAT_EVENTS);
}

static __always_inline int io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct active_io *ap = bpf_map_lookup_elem(&active_io, &id);
	struct active_io a;
	struct sonde_target *t;
	struct conn_state *cs;
	struct event_buf *e;
	__u32 zero = 0, cap, got = 0;

	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&active_io, &id);
	if (ret <= 0)
		return 0;
	t = target_of(tgid);
	if (!t)
		return 0;
	cs = conn_cached(tgid, a.fd, t->gen);
	if (!cs)
		cs = conn_learn(tgid, a.fd, t->gen, SONDE_ROLE_UNKNOWN);
	if (!cs || !cs->watch)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;

	e->hdr.type = SONDE_EV_DATA;
	e->hdr.dir = a.dir;
	e->hdr.call = a.call;
	e->hdr.tgid = tgid;
	e->hdr.tid = (__u32)id;
	e->hdr.fd = a.fd;
	e->hdr.service = t->service;
	e->hdr.conn_id = cs->conn_id;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.len = ret > 0xffffffffL ? 0xffffffff : (__u32)ret;
	e->hdr.tuple = cs->tuple;

	cap = e->hdr.len < capture_bytes ? e->hdr.len : capture_bytes;
	if (cap > SONDE_CAPTURE_MAX)
		cap = SONDE_CAPTURE_MAX;
	if (cap < e->hdr.len)
		stat_inc(SONDE_STAT_TRUNCATED);
	if (a.call == SONDE_CALL_SENDFILE) {
		got = 0;
	} else if (a.iovcnt) {
		got = copy_iov(e, a.buf, a.iovcnt, cap);
	} else {
		if (cap > 0 && bpf_probe_read_user(e->data, MASKED(cap, LEN_MASK), (void *)a.buf) == 0)
			got = cap;
	}
	emit(e, got);
	return 0;
}

/* Connection lifecycle: learn identity and role as the socket is born. */
static __always_inline int learn_fd(long ret, __u8 role)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_target *t;

	if (ret < 0)
		return 0;
	t = target_of(tgid);
	if (t)
		conn_learn(tgid, (__u32)ret, t->gen, role);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int sonde_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return learn_fd(ctx->ret, SONDE_ROLE_SERVER);
}

SEC("tp/syscalls/sys_exit_accept4")
int sonde_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return learn_fd(ctx->ret, SONDE_ROLE_SERVER);
}

/* connect: the fd is an argument, so it travels in active_io to the exit. */
SEC("tp/syscalls/sys_enter_connect")
int sonde_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct active_io a = {};

	if (!target_of(tgid))
		return 0;
	a.fd = (__u32)ctx->args[0];
	bpf_map_update_elem(&active_io, &id, &a, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int sonde_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct active_io *ap = bpf_map_lookup_elem(&active_io, &id);
	long ret = ctx->ret;
	__u32 fd;

	if (!ap)
		return 0;
	fd = ap->fd;
	bpf_map_delete_elem(&active_io, &id);
	/* A non-blocking connect returns -EINPROGRESS with the tuple already set. */
	if (ret < 0 && ret != -EINPROGRESS)
		return 0;
	return learn_fd(fd, SONDE_ROLE_CLIENT);
}

SEC("tp/syscalls/sys_enter_close")
int sonde_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_fd_key k = { .tgid = tgid, .fd = (__u32)ctx->args[0] };
	struct sonde_target *t = target_of(tgid);
	struct conn_state *cs;
	struct event_buf *e;
	__u32 zero = 0;

	if (!t)
		return 0;
	cs = bpf_map_lookup_elem(&conns, &k);
	if (!cs)
		return 0;
	if (cs->watch && (e = bpf_map_lookup_elem(&scratch, &zero))) {
		e->hdr.type = SONDE_EV_CLOSE;
		e->hdr.dir = 0;
		e->hdr.call = 0;
		e->hdr.tgid = tgid;
		e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
		e->hdr.fd = k.fd;
		e->hdr.service = t->service;
		e->hdr.conn_id = cs->conn_id;
		e->hdr.ts_ns = bpf_ktime_get_ns();
		e->hdr.len = 0;
		e->hdr.tuple = cs->tuple;
		emit(e, 0);
	}
	bpf_map_delete_elem(&conns, &k);
	return 0;
}

/* dup2/dup3 onto an fd replace what it was: forget the cached state. */
static __always_inline int forget_fd(__u32 fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_fd_key k = { .tgid = tgid, .fd = fd };

	if (target_of(tgid))
		bpf_map_delete_elem(&conns, &k);
	return 0;
}

SEC("tp/syscalls/sys_enter_dup2")
int sonde_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd((__u32)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_dup3")
int sonde_dup3_enter(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd((__u32)ctx->args[1]);
}

/* exec (close-on-exec) and close_range close fds without close(): bump gen. */
static __always_inline int bump_gen(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_target *t = target_of(tgid);

	if (t)
		__sync_fetch_and_add(&t->gen, 1);
	return 0;
}

SEC("tp/syscalls/sys_enter_close_range")
int sonde_close_range_enter(struct trace_event_raw_sys_enter *ctx)
{
	return bump_gen();
}

SEC("raw_tracepoint/sched_process_exec")
int sonde_exec(struct bpf_raw_tracepoint_args *ctx)
{
	return bump_gen();
}

/* A child of a target is a target, with the parent's service. */
SEC("raw_tracepoint/sched_process_fork")
int sonde_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct sonde_target *t, n = {};

	if (ptgid == ctgid)
		return 0; /* a new thread */
	t = target_of(ptgid);
	if (!t)
		return 0;
	n.service = t->service;
	bpf_map_update_elem(&targets, &ctgid, &n, BPF_ANY);
	stat_inc(SONDE_STAT_FORKS);
	return 0;
}

/* Data syscalls. */
#define ARG(n) ((__u64)ctx->args[n])

SEC("tp/syscalls/sys_enter_read")
int sonde_read_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), ARG(1), 0, SONDE_CALL_READ, SONDE_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_write")
int sonde_write_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), ARG(1), 0, SONDE_CALL_WRITE, SONDE_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_readv")
int sonde_readv_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), ARG(1), ARG(2), SONDE_CALL_READV, SONDE_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_writev")
int sonde_writev_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), ARG(1), ARG(2), SONDE_CALL_WRITEV, SONDE_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_recvfrom")
int sonde_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (ARG(3) & MSG_PEEK)
		return 0; /* the bytes will be read again */
	return io_enter(ARG(0), ARG(1), 0, SONDE_CALL_RECVFROM, SONDE_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_sendto")
int sonde_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), ARG(1), 0, SONDE_CALL_SENDTO, SONDE_DIR_EGRESS);
}

/* recvmsg/sendmsg: the iovec array and its length live in the user msghdr. */
static __always_inline int msg_enter(__u32 fd, __u64 umsg, __u8 call, __u8 dir)
{
	struct user_msghdr m;

	if (!target_of(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (void *)umsg))
		return 0;
	if (m.msg_iovlen == 0)
		return 0;
	return io_enter(fd, (__u64)m.msg_iov, (__u32)m.msg_iovlen, call, dir);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int sonde_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (ARG(2) & MSG_PEEK)
		return 0;
	return msg_enter(ARG(0), ARG(1), SONDE_CALL_RECVMSG, SONDE_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int sonde_sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ARG(0), ARG(1), SONDE_CALL_SENDMSG, SONDE_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_sendfile64")
int sonde_sendfile_enter(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ARG(0), 0, 0, SONDE_CALL_SENDFILE, SONDE_DIR_EGRESS);
}

/* One exit program serves every data syscall: the saved call tells them apart. */
#define DATA_EXIT(name)                                                        \
	SEC("tp/syscalls/sys_exit_" #name)                                     \
	int sonde_##name##_exit(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                      \
		return io_exit(ctx->ret);                                      \
	}

DATA_EXIT(read)
DATA_EXIT(write)
DATA_EXIT(readv)
DATA_EXIT(writev)
DATA_EXIT(recvfrom)
DATA_EXIT(sendto)
DATA_EXIT(recvmsg)
DATA_EXIT(sendmsg)
DATA_EXIT(sendfile64)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
