/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract of --inject-traceparent (bpf/inject.bpf.c, and the capture
 * programs that share its two maps; user/inject.c). See docs/tracing.md,
 * "Where ids are born".
 *
 *   capture, at a server request's first read (thread T, connection C):
 *     ids drawn (or taken from its traceparent) -> inj_threads[T] slot for C,
 *     and the read's record carries them (SONDE_F_IDS)
 *   capture, at the response's first write on C by T: the slot is freed
 *   sk_msg, at a client request's send by T (sockets of targets only):
 *     one request in flight on T -> its child; none -> a new root; several
 *     -> nothing written (SONDE_INJ_AMBIGUOUS). The ids written go to
 *     inj_sent[T], which the capture program takes at that send's exit and
 *     puts in the send's record (SONDE_F_IDS).
 */
#ifndef SONDE_INJECT_H
#define SONDE_INJECT_H

#include "sonde.h"

/* Server requests a thread may have in flight at once (an event loop's). */
#define SONDE_INFLIGHT 4
/* A slot older than this is forgotten (a response the kernel did not see). */
#define SONDE_INFLIGHT_NS (30ULL * 1000000000ULL)

struct sonde_inflight {
	__u64 conn_id; /* 0: free */
	__u64 ts;
	struct sonde_ids ids;
};

/* Value of inj_threads, keyed by pid_tgid (tgid << 32 | tid). */
struct sonde_thread_ctx {
	struct sonde_inflight slot[SONDE_INFLIGHT];
	/*
	 * When a request still in flight last lost its slot to a newer one:
	 * until SONDE_INFLIGHT_NS after, the thread's count of requests in
	 * flight is unknown, and its sends get no context.
	 */
	__u64 overflow_ts;
};

/*
 * The proxy rule: a process's server requests in flight by request line
 * (a hash of method and target, without the version). When a thread serves
 * several requests at once (an event loop), a client request whose line is
 * that of exactly one of them is its forward (nginx's proxy_pass without a
 * URI keeps the line). Keyed by struct sonde_line_key; inj_conn_line maps a
 * server connection's conn_id to the hash of its request in flight.
 */
struct sonde_line_key {
	__u32 tgid;
	__u32 _pad;
	__u64 hash;
};

struct sonde_line_flight {
	__u32 count; /* requests in flight with this line */
	__u32 _pad;
	__u64 ts;
	struct sonde_ids ids; /* the last one's */
};

/* Value of inj_sent, keyed by pid_tgid: what the sk_msg program wrote. */
struct sonde_sent {
	__u16 lport; /* the socket's, host order: the capture exit checks it */
	__u16 rport;
	__u32 _pad;
	__u64 ts;
	struct sonde_ids ids;
};

/*
 * Outcomes of a request start seen by the sk_msg program (the per-CPU
 * inj_stats array): injected, or sent unchanged for a reason.
 */
enum sonde_inj_stat {
	SONDE_INJ_INJECTED = 0,
	SONDE_INJ_HAS_HEADER, /* it carries traceparent, b3 or X-B3-TraceId already */
	SONDE_INJ_AMBIGUOUS,  /* its thread serves several requests at once */
	SONDE_INJ_SPLIT,      /* its head does not end in this send (the rest of the
			       * connection is left alone) */
	SONDE_INJ_TOO_LONG,   /* a head longer than SONDE_INJ_HEAD_MAX, or a send over 64 KiB */
	SONDE_INJ_CHUNKED,    /* a chunked body: the connection is left alone */
	SONDE_INJ_PIPELINED,  /* a request after the first in one send (followed, not written into) */
	SONDE_INJ_NOT_HTTP,   /* bytes that do not begin an HTTP/1.x request */
	SONDE_INJ_NO_MEMORY,  /* the kernel could not make room (push or pull failed) */
	SONDE_INJ__MAX,
};

/* Bytes of a request head the sk_msg program reads (a power of two). */
#define SONDE_INJ_HEAD_MAX 4096

/* "traceparent: 00-" 32 hex "-" 16 hex "-" 2 hex "\r\n" */
#define SONDE_INJ_HDR_LEN 70

#endif /* SONDE_INJECT_H */
