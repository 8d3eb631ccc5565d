/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between sonde's BPF programs and its userspace agent: event
 * layouts, map keys and values, enum values. Everything here is defined once;
 * both sides include this file. Only __u8..__u64 types.
 */
#ifndef SONDE_H
#define SONDE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SONDE_CAPTURE_DEFAULT 256
#define SONDE_CAPTURE_MAX     4096 /* power of two: BPF masks offsets with MAX-1 */
#define SONDE_WALK_BOUNDED    32   /* messages walked per syscall without bpf_loop (before 5.17) */
#define SONDE_MAX_IOV         8    /* iovecs copied from readv/writev/sendmsg/recvmsg (power of two) */

/* Event types: the first byte of every ring record. */
enum sonde_event_type {
	SONDE_EV_DATA = 1,  /* bytes read from / written to a socket */
	SONDE_EV_CLOSE = 2, /* an observed socket fd was closed */
	SONDE_EV_LOG = 3,   /* bytes a target wrote to its stdout or stderr (--capture-app-logs) */
	SONDE_EV_FAIL = 4,  /* a socket call failed: len holds the errno (see below) */
	SONDE_EV_EXEC = 5,  /* --all: a process (tgid) exec'd a new program; no payload */
	SONDE_EV_EXIT = 6,  /* a target's last thread exited: it is no target any more */
	SONDE_EV_PORT = 7,  /* --match-port: tgid listened on or connected to port `service` */
	SONDE_EV_MMAP = 8,  /* a target mapped a file executable (a library loaded): its TLS
			     * libraries may have changed; no payload */
};

/* Direction of a data event, as seen from the observed process. */
enum sonde_dir {
	SONDE_DIR_INGRESS = 0, /* read/recv: bytes came in */
	SONDE_DIR_EGRESS = 1,  /* write/send/sendfile: bytes went out */
};

/* How the connection began, when the kernel saw it begin. */
enum sonde_role {
	SONDE_ROLE_UNKNOWN = 0, /* open before sonde attached: decided by content */
	SONDE_ROLE_SERVER = 1,  /* accept()ed by the observed process */
	SONDE_ROLE_CLIENT = 2,  /* connect()ed by the observed process */
};

/* Which syscall produced a data event (for debugging and per-syscall stats). */
enum sonde_call {
	SONDE_CALL_READ = 1,
	SONDE_CALL_WRITE,
	SONDE_CALL_READV,
	SONDE_CALL_WRITEV,
	SONDE_CALL_RECVFROM,
	SONDE_CALL_SENDTO,
	SONDE_CALL_RECVMSG,
	SONDE_CALL_SENDMSG,
	SONDE_CALL_SENDFILE,
	SONDE_CALL_CONNECT,    /* SONDE_EV_FAIL only */
	SONDE_CALL_GETSOCKOPT, /* SONDE_EV_FAIL only: SO_ERROR of a non-blocking connect */
	SONDE_CALL_SSL_READ,   /* plaintext a TLS library returned (SSL_read, SSL_read_ex) */
	SONDE_CALL_SSL_WRITE,  /* plaintext handed to a TLS library (SSL_write, SSL_write_ex) */
};

/* Socket families we follow (values of AF_*). */
#define SONDE_AF_UNIX  1
#define SONDE_AF_INET  2
#define SONDE_AF_INET6 10

/*
 * Connection identity. For TCP: addresses in network byte order (IPv4 in the
 * first 4 bytes), ports in host order; "local" is the observed process's side.
 * For AF_UNIX: local_port/remote_port are zero, and lino/rino hold the inode
 * numbers of the socket and of its peer.
 */
struct sonde_conn_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u16 family;
	__u8 role; /* enum sonde_role */
	__u8 _pad0;
	__u64 lino;
	__u64 rino;
};
_Static_assert(sizeof(struct sonde_conn_tuple) == 56, "sonde_conn_tuple layout");

/* sonde_event.flags */
#define SONDE_F_TUPLE 0x01 /* a struct sonde_conn_tuple follows the header */
#define SONDE_F_SEGS  0x02 /* a struct sonde_segs follows (the tuple, or) the header */
#define SONDE_F_IDS   0x04 /* a struct sonde_ids ends the record (--inject-traceparent) */
#define SONDE_F_TLS   0x08 /* plaintext of a TLS connection, from its library's calls (uprobes);
			    * its socket's own bytes (ciphertext) are not sent once this is known */

/*
 * The trace context the kernel gave a request (--inject-traceparent): at a
 * server request's first read (from its traceparent, or drawn there), or at a
 * client request's send (the context written into it). The agent builds the
 * request's span with exactly these ids. It sits after the payload, at the
 * next multiple of 8 bytes.
 */
#define SONDE_IDS_SAMPLED  0x01 /* the trace is sampled (traceparent flags 01) */
#define SONDE_IDS_INJECTED 0x02 /* a client request: written into it on the wire */
#define SONDE_IDS_REMOTE   0x04 /* a server request: the parent came from its traceparent */
#define SONDE_IDS_UPDATE   0x08 /* the traceparent of a head whose first read had none: the
				     * request with this span_id continues that trace */
struct sonde_ids {
	__u8 trace_id[16];
	__u64 span_id;
	__u64 parent_id; /* 0: a root */
	__u8 flags;      /* SONDE_IDS_* */
	__u8 _pad[7];
};
_Static_assert(sizeof(struct sonde_ids) == 40, "sonde_ids layout");

/*
 * How the kernel walks a connection's syscalls larger than its capture
 * (sonde_conn_state.walk): message by message, copying each message's head
 * and skipping its body, instead of copying the syscall's head only. Set by
 * the kernel on the first cut record that looks like one of these, and by
 * userspace once it knows the protocol.
 */
enum sonde_walk {
	SONDE_WALK_NONE = 0,
	SONDE_WALK_RESP = 1,  /* Redis RESP: lines, bulk strings skipped past a few bytes */
	SONDE_WALK_LEN32 = 2, /* [int32 size][size bytes] (Kafka) */
	SONDE_WALK_PG = 3,    /* [type][int32 size, itself included] (PostgreSQL, after startup) */
};

/*
 * A walked record's payload is not one head but the concatenation of the
 * captured runs: seg[i].cap bytes of the syscall's data, then seg[i].skip bytes
 * that were not copied, in order; the runs add up to caplen and len.
 */
#define SONDE_SEGS_MAX 63
struct sonde_seg {
	__u32 cap;
	__u32 skip;
};
struct sonde_segs {
	__u32 n;
	__u32 _pad;
	struct sonde_seg seg[SONDE_SEGS_MAX];
};
_Static_assert(sizeof(struct sonde_segs) == 512, "sonde_segs layout");

/*
 * How often a connection's records carry its tuple again (ns): userspace may
 * have forgotten an idle connection, and must not forget it for less long.
 */
#define SONDE_TUPLE_REFRESH_NS (60ULL * 1000000000ULL)

/*
 * Header of every ring record:
 *
 *   struct sonde_event | struct sonde_conn_tuple (if SONDE_F_TUPLE) |
 *   struct sonde_segs (if SONDE_F_SEGS) | caplen bytes |
 *   [up to 7 bytes to a multiple of 8 | struct sonde_ids (if SONDE_F_IDS)]
 *
 * A SONDE_EV_DATA record carries the first caplen of the len bytes moved. The
 * tuple comes with the first record of a connection (and every
 * SONDE_TUPLE_REFRESH_NS), not with every record: it is half the header.
 *
 * A SONDE_EV_FAIL record says a target's socket call failed in a way its
 * caller sees as a failed call: len is the errno (ECONNREFUSED, ECONNRESET,
 * ETIMEDOUT, EPIPE, EHOSTUNREACH, ENETUNREACH), caplen 0, at most one per
 * connection. A blocking connect() that failed has no connection: conn_id 0,
 * and the tuple (always present) holds the address it was connecting to.
 */
struct sonde_event {
	__u8 type;  /* enum sonde_event_type */
	__u8 dir;   /* enum sonde_dir */
	__u8 call;  /* enum sonde_call */
	__u8 flags; /* SONDE_F_* */
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u32 service; /* targets[tgid].service */
	__u32 _pad1;
	__u64 conn_id; /* unique per (tgid, fd) lifetime: a new id means a new connection */
	__u64 ts_ns;   /* CLOCK_MONOTONIC at syscall exit */
	__u32 len;     /* bytes the syscall moved (its return value) */
	__u32 caplen;  /* bytes of payload at the end of the record */
};
_Static_assert(sizeof(struct sonde_event) == 48, "sonde_event layout");

/*
 * Per-CPU record rings (the "rings" map: an mmapable array, one element per
 * possible CPU). Each element is
 *
 *   struct sonde_ring_ctl | ring bytes (a power of two) | SONDE_RING_SLACK
 *
 * The BPF programs running on a CPU are its ring's only producer (programs do
 * not nest on a CPU, and run with preemption off); userspace is the only
 * consumer. A record starts at data[head & mask] and is written in place, never
 * split: one that runs past the end of the ring continues into the slack, and
 * the next record starts at (head + its size) & mask, just past the bytes that
 * spilled (they stand for the ring's first bytes). Records are 8-byte aligned. The
 * producer publishes a record by advancing head (after its bytes), the
 * consumer frees space by advancing tail; both count bytes since load. No
 * lock, no atomic on x86, no wake-up: userspace drains every ring on a timer
 * and merges them by ts_ns.
 */
struct sonde_ring_ctl {
	__u64 head;       /* bytes published (producer) */
	__u64 _pad0[7];   /* head and tail on their own cache lines */
	__u64 tail;       /* bytes consumed (consumer) */
	__u64 _pad1[7];
};
_Static_assert(sizeof(struct sonde_ring_ctl) == 128, "sonde_ring_ctl layout");

/* Header + tuple + the largest masked payload extent the BPF code may touch. */
#define SONDE_RING_SLACK (16384 - 128)
/* Largest record: a producer keeps this much room free, or drops the record. */
#define SONDE_RECORD_MAX (48 + 56 + 512 + SONDE_CAPTURE_MAX + 40)
#define SONDE_RECORD_ALIGN(n) (((n) + 7) & ~7ULL)

/* Target filter: bit (tgid % 64) of word (tgid / 64); PID_MAX_LIMIT is 2^22. */
#define SONDE_TGID_WORDS (1 << 16)

/*
 * Value of the conns map: what an fd of a target is. Written by the BPF
 * programs; userspace only raises capture (loader__set_capture).
 */
/* What the kernel side does with an fd's bytes (sonde_conn_state.watch). */
enum sonde_watch {
	SONDE_WATCH_NONE = 0,
	SONDE_WATCH_SOCKET = 1, /* a TCP or Unix stream socket: SONDE_EV_DATA */
	SONDE_WATCH_LOG = 2,    /* fd 1 or 2 and not a socket (pipe, file, tty): SONDE_EV_LOG */
};

struct sonde_conn_state {
	__u64 conn_id;
	__u32 gen;         /* targets gen when cached: a mismatch means stale */
	__u8 watch;        /* enum sonde_watch */
	__u8 announced;    /* the tuple went out in a record, at announced_ts */
	__u16 capture;     /* bytes to copy per syscall on this connection; 0: capture_bytes */
	__u8 walk;         /* enum sonde_walk */
	__u8 head_more[2]; /* by direction: a long request head was copied, its rest may follow */
	__u8 failed;       /* a SONDE_EV_FAIL went out for it */
	__u8 inj_head;     /* --inject-traceparent: a request head read in part, traceparent not seen */
	__u8 tls;          /* a TLS library uses it: its syscalls' bytes are ciphertext, not sent */
	__u8 tls_hello;    /* its first bytes were a TLS record: its reads may feed a memory BIO */
	__u8 _pad0[1];
	__u32 left[2];     /* by enum sonde_dir: bytes of a walked message still to come */
	__u64 announced_ts;
	struct sonde_conn_tuple tuple;
};
_Static_assert(sizeof(struct sonde_conn_state) == 96, "sonde_conn_state layout");

/* Key of the conns map: one observed file descriptor. */
struct sonde_fd_key {
	__u32 tgid;
	__u32 fd;
};

/* Value of the targets map: which service a tgid belongs to. */
struct sonde_target {
	__u32 service; /* index into userspace's service table */
	__u32 gen;     /* bumped at exec/close_range: cached fd state older than it is stale */
};

/*
 * Key of the ssl_fds map: which socket a TLS library's connection object (an
 * OpenSSL SSL *) of a target reads and writes (learned at SSL_set_fd, and from
 * the syscalls made inside its SSL_read/SSL_write).
 */
struct sonde_ssl_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

/* Indices of the per-CPU counters in the stats map. */
enum sonde_stat {
	SONDE_STAT_EVENTS = 0,   /* records written to the rings */
	SONDE_STAT_LOST,         /* records dropped: the CPU's ring was full */
	SONDE_STAT_TRUNCATED,    /* data events whose payload was cut to capture_bytes */
	SONDE_STAT_FORKS,        /* children added to targets by sched_process_fork */
	SONDE_STAT_WALKED,       /* data events walked message by message (SONDE_F_SEGS) */
	SONDE_STAT_HEADS,        /* HTTP request heads longer than the capture, copied again */
	SONDE_STAT_TLS_NOFD,     /* TLS calls whose socket was not known: plaintext dropped */
	SONDE_STAT__MAX,
};

#endif /* SONDE_H */
