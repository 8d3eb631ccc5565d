// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --inject-traceparent: a traceparent header written into the targets'
 * outgoing HTTP/1.x requests at the moment of the send (include/sonde_inject.h
 * has the contract, docs/tracing.md the design).
 *
 * sockops marks a socket at connect() when a target makes it (TCP_CONNECT_CB
 * runs in the connecting thread) and puts it in inj_socks once established;
 * the sk_msg program on inj_socks follows each connection's requests (heads,
 * bodies by Content-Length) and inserts the header after a request line.
 * Everything it cannot follow is sent unchanged and counted; a connection
 * it lost track of is left alone for good. The context comes from
 * inj_threads, which the capture programs fill at server reads; what was
 * written goes to inj_sent for the capture exit of the same send.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "sonde_inject.h"
#include "http_head.h"
#include "inject_maps.h"

#define SK_PASS 1
/*
 * A send is made one piece again after the header is written: the header in
 * a scatterlist entry of its own would go out as a segment of its own, and
 * the request's rest would wait for its ACK (Nagle, delayed ACK: 40 ms per
 * request, measured). Larger sends are not written into (too_long).
 */
#define LINEAR_MAX 65536

/* Shared with the capture programs (the loader reuses their fds). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct sonde_target);
} targets SEC(".maps");

/* Sockets a target connected, by cookie, until they are established. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} inj_mark SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} inj_socks SEC(".maps");

/*
 * Where a connection's requests stand (freed with the socket): at a request's
 * start, in a body of known length, or in a chunked body (a chunk's size
 * line, its data and CRLF, the trailer lines); lost for good when the
 * program could not follow.
 */
enum { IC_START = 0, IC_LOST, IC_BODY, IC_CSIZE, IC_CDATA, IC_TRAILER };
struct inj_conn {
	__u32 left;  /* IC_BODY, IC_CDATA: bytes still to come (a chunk's CRLF included) */
	__u32 csize; /* IC_CSIZE: the size read so far */
	__u8 state;  /* IC_* */
	__u8 ext;    /* IC_CSIZE: in a chunk extension (after ';') */
	__u16 line;  /* IC_CSIZE: digits so far; IC_TRAILER: bytes of the line so far */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inj_conn);
} inj_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_INJ__MAX);
	__type(key, __u32);
	__type(value, __u64);
} inj_stats SEC(".maps");

/* A copy of the head being read (per CPU): HEAD_MASK + 1 bytes and the slack. */
struct hdr_line {
	__u8 b[72];
};
struct head_buf {
	__u8 b[HEAD_MASK + 1 + HEAD_SLACK];
	struct hdr_line h; /* the header line being written */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct head_buf);
} inj_head SEC(".maps");

/*
 * Pipelining: a send that holds more than one request. The first is written
 * into as any; the others are followed (never written into: the send's
 * record carries one context) by sonde_inj_follow, tail-called once per
 * request with where it starts, so that the connection's state is right
 * when the next send comes.
 */
struct inj_next {
	__u32 off; /* where the next request starts in the send */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inj_next);
} inj_next SEC(".maps");

/* Slot 0: sonde_inj_follow (set by the loader). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} inj_progs SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&inj_stats, &what);

	if (v)
		*v += 1;
}

SEC("sockops")
int sonde_inj_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;
	__u32 tgid;
	__u8 one = 1;
	struct sonde_target *t;

	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* In the connecting thread: is it a target's? */
		tgid = bpf_get_current_pid_tgid() >> 32;
		t = bpf_map_lookup_elem(&targets, &tgid);
		if (!t || !t->gen)
			return 1;
		cookie = bpf_get_socket_cookie(skops);
		bpf_map_update_elem(&inj_mark, &cookie, &one, BPF_ANY);
		return 1;
	}
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		cookie = bpf_get_socket_cookie(skops);
		if (!bpf_map_lookup_elem(&inj_mark, &cookie))
			return 1;
		bpf_map_delete_elem(&inj_mark, &cookie);
		bpf_sock_hash_update(skops, &inj_socks, &cookie, BPF_NOEXIST);
	}
	return 1;
}

/* out (its span id drawn) becomes a child of the server request p. Returns 1. */
static __always_inline int child_of(struct sonde_ids *out, const struct sonde_ids *p)
{
	__builtin_memcpy(out->trace_id, p->trace_id, 16);
	out->parent_id = p->span_id;
	out->flags = (p->flags & SONDE_IDS_SAMPLED) | SONDE_IDS_INJECTED;
	return 1;
}

/*
 * The context of a client request thread id sends now: its one server
 * request in flight (a child of it), none (a new root), or 0 when it serves
 * several at once.
 */
static __always_inline int client_ids(__u64 id, struct sonde_ids *out, struct head_scan *s)
{
	struct sonde_thread_ctx *tc = bpf_map_lookup_elem(&inj_threads, &id);
	__u64 now = bpf_ktime_get_ns(), hi, lo;
	int n = 0, at = -1;

	if (tc) {
		if (tc->overflow_ts && now - tc->overflow_ts < SONDE_INFLIGHT_NS)
			n = 2;
		else
#pragma unroll
			for (int i = 0; i < SONDE_INFLIGHT; i++)
				if (tc->slot[i].conn_id && now - tc->slot[i].ts < SONDE_INFLIGHT_NS) {
					n++;
					at = i;
				}
	}
	out->span_id = rand64() | 1;
	if (n > 1) {
		/* Several: the one whose request line this is, if exactly one (a proxy's forward). */
		struct sonde_line_key k = { .tgid = id >> 32, .hash = head_line_hash(s) };
		struct sonde_line_flight *f = k.hash ? bpf_map_lookup_elem(&inj_lines, &k) : NULL;

		if (!f || f->count != 1 || now - f->ts >= SONDE_INFLIGHT_NS)
			return 0;
		return child_of(out, &f->ids);
	}
	if (n == 1 && tc && at >= 0 && at < SONDE_INFLIGHT)
		return child_of(out, &tc->slot[at].ids);
	hi = rand64() | 1;
	lo = rand64();
	__builtin_memcpy(out->trace_id, &hi, 8);
	__builtin_memcpy(out->trace_id + 8, &lo, 8);
	out->parent_id = 0;
	out->flags = SONDE_IDS_INJECTED |
		     ((__u64)bpf_get_prandom_u32() < sample_below ? SONDE_IDS_SAMPLED : 0);
	return 1;
}

/* Two lower-case hex digits of each byte of v (most significant first) into o. */
static __always_inline void hex64(__u8 *o, __u64 v)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		__u8 d = (v >> (60 - 4 * i)) & 15;

		o[i] = d < 10 ? '0' + d : 'a' + d - 10;
	}
}

/* The header line, SONDE_INJ_HDR_LEN bytes (built in place: no .rodata). */
static __always_inline void build_header(struct hdr_line *h, const struct sonde_ids *ids)
{
	__u64 hi, lo;

	/* "traceparent: 00-" */
	*(__u64 *)&h->b[0] = 0x7261706563617274ULL;
	*(__u64 *)&h->b[8] = 0x2d3030203a746e65ULL;
	__builtin_memcpy(&hi, ids->trace_id, 8);
	__builtin_memcpy(&lo, ids->trace_id + 8, 8);
	hex64(&h->b[16], __builtin_bswap64(hi));
	hex64(&h->b[32], __builtin_bswap64(lo));
	h->b[48] = '-';
	hex64(&h->b[49], ids->span_id);
	h->b[65] = '-';
	h->b[66] = '0';
	h->b[67] = ids->flags & SONDE_IDS_SAMPLED ? '1' : '0';
	h->b[68] = '\r';
	h->b[69] = '\n';
}

/*
 * Copy [off, off + n) of the message to the per-CPU head buffer (n <= HEAD_MASK
 * + 1). Returns bytes copied. A global function: its loop is verified once,
 * not once per path that reaches it.
 */
__noinline int copy_head(struct sk_msg_md *msg, __u32 off, __u32 n)
{
	__u32 zero = 0, i;
	struct head_buf *hb = bpf_map_lookup_elem(&inj_head, &zero);
	__u8 *d, *end, *buf;

	if (!msg || !hb || n > HEAD_MASK + 1)
		return 0;
	buf = hb->b;
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return 0;
	d = msg->data;
	end = msg->data_end;
	for (i = 0; i < (HEAD_MASK + 1) / 8; i++) {
		if ((void *)(d + i * 8 + 8) > (void *)end || i * 8 + 8 > n)
			break;
		*(__u64 *)&buf[(i * 8) & HEAD_MASK] = *(__u64 *)(d + i * 8);
	}
	i *= 8;
#pragma unroll
	for (int k = 0; k < 7; k++) {
		if ((void *)(d + i + 1) > (void *)end || i >= n || i > HEAD_MASK)
			break;
		buf[i & HEAD_MASK] = d[i];
		i++;
	}
	return i;
}

/* Write h at off (just pushed): 70 bytes. Returns 0 on success. */
static __always_inline int write_header(struct sk_msg_md *msg, __u32 off, const struct hdr_line *h)
{
	__u8 *d, *end;

	if (bpf_msg_pull_data(msg, off, off + SONDE_INJ_HDR_LEN, 0))
		return -1;
	d = msg->data;
	end = msg->data_end;
	if ((void *)(d + SONDE_INJ_HDR_LEN) > (void *)end)
		return -1;
#pragma unroll
	for (int i = 0; i < SONDE_INJ_HDR_LEN; i++)
		d[i] = h->b[i];
	return 0;
}

/*
 * Following framing through a copy of the send (the per-CPU head buffer):
 * bytes [0, wn) of it are in b, and the send goes on to avail. Stops at a
 * request's start (stop 1), when it cannot follow (2), or at the send's end
 * (3).
 */
struct walk {
	__u8 *b;
	__u32 wn, avail, pos, adv;
	__u8 stop;
	struct inj_conn st;
};

/* One byte of a chunk-size or trailer line, at pos + j (a bpf_loop step). */
static int walk_byte(__u32 j, void *ctx)
{
	struct walk *w = ctx;
	__u32 p = w->pos + j;
	__u8 c;
	int v;

	if (p >= w->wn)
		return 1;
	c = w->b[p & HEAD_MASK];
	if (c == '\n') {
		w->adv = j + 1;
		if (w->st.state == IC_TRAILER) {
			if (!w->st.line)
				w->st.state = IC_START;
			w->st.line = 0;
		} else if (!w->st.line) {
			w->stop = 2; /* a size line without digits */
		} else if (!w->st.csize) {
			w->st.state = IC_TRAILER; /* the last chunk */
			w->st.line = 0;
		} else {
			w->st.state = IC_CDATA;
			w->st.left = w->st.csize + 2;
		}
		return 1;
	}
	if (c == '\r')
		return 0;
	if (w->st.state == IC_TRAILER) {
		w->st.line++;
		return 0;
	}
	if (w->st.ext)
		return 0;
	v = hexval(c);
	if (v >= 0 && w->st.line < 7) {
		w->st.csize = w->st.csize << 4 | v;
		w->st.line++;
	} else if ((c == ';' || c == ' ' || c == '\t') && w->st.line) {
		w->st.ext = 1;
	} else {
		w->stop = 2;
		return 1;
	}
	return 0;
}

/* One step of the framing: a skip through data, or one line (a bpf_loop step). */
static int walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	__u32 skip;

	if (w->stop)
		return 1;
	if (w->pos >= w->avail) {
		w->stop = 3;
		return 1;
	}
	switch (w->st.state) {
	case IC_START:
		w->stop = 1;
		return 1;
	case IC_BODY:
	case IC_CDATA:
		skip = w->avail - w->pos < w->st.left ? w->avail - w->pos : w->st.left;
		w->pos += skip;
		w->st.left -= skip;
		if (!w->st.left) {
			w->st.state = w->st.state == IC_BODY ? IC_START : IC_CSIZE;
			w->st.csize = 0;
			w->st.ext = 0;
			w->st.line = 0;
		}
		return 0;
	case IC_CSIZE:
	case IC_TRAILER:
		if (w->pos >= w->wn) {
			w->stop = 2; /* past the copy */
			return 1;
		}
		w->adv = 0;
		bpf_loop(64, walk_byte, w, 0);
		if (w->stop)
			return 1;
		if (!w->adv) {
			/* No LF: the line goes on in the next send, or is too long. */
			if (w->pos + 64 > w->wn && w->wn == w->avail) {
				w->pos = w->wn;
				w->stop = 3;
			} else {
				w->stop = 2;
			}
			return 1;
		}
		w->pos += w->adv;
		return 0;
	default:
		w->stop = 2;
		return 1;
	}
}

/*
 * After a request head [off, off + s->end) of a send of size bytes (n of
 * them copied from off): the connection's state at the send's end, or, in
 * *next, where the next request starts in the send (0: none). Returns the
 * reason the connection is lost, or -1.
 */
static __always_inline int frame_body(struct inj_conn *ic, struct head_buf *hb,
				      struct head_scan *s, __u32 n, __u32 size, __u32 off,
				      __u32 *next)
{
	__u32 rest = size - off - s->end;

	*next = 0;
	if (s->chunked) {
		struct walk w = { .b = hb->b, .wn = n, .avail = size - off, .pos = s->end };

		w.st.state = IC_CSIZE;
		bpf_loop(HEAD_STEPS, walk_step, &w, 0);
		if (w.stop == 3)
			*ic = w.st;
		else if (w.stop == 1)
			*next = off + w.pos;
		else
			return SONDE_INJ_CHUNKED;
	} else if (rest > s->cl) {
		*next = off + s->end + s->cl;
	} else if (s->cl > rest) {
		ic->state = IC_BODY;
		ic->left = s->cl - rest;
	} else {
		ic->state = IC_START;
	}
	return -1;
}

/*
 * Read the request head at off of the send into hb and scan it into s (s->n:
 * the bytes read). -1 when it is a whole HTTP request head, else why it
 * cannot be followed (a SONDE_INJ_* reason).
 */
static __always_inline int read_head(struct sk_msg_md *msg, struct head_buf *hb,
				     struct head_scan *s, __u32 off, __u32 size)
{
	__u32 n = size - off > HEAD_MASK + 1 ? HEAD_MASK + 1 : size - off;

	if (n < 16 || copy_head(msg, off, n) != n)
		return n < 16 ? SONDE_INJ_SPLIT : SONDE_INJ_NO_MEMORY;
	if (!http_request_start(hb->b))
		return SONDE_INJ_NOT_HTTP;
	s->b = hb->b;
	s->n = n;
	bpf_loop(HEAD_STEPS, head_step, s, 0);
	if (!s->end || !s->line_end || s->cl_bad)
		return !s->line_end || s->cl_bad	? SONDE_INJ_NOT_HTTP
		       : size - off > HEAD_MASK + 1 ? SONDE_INJ_TOO_LONG
						    : SONDE_INJ_SPLIT;
	return -1;
}

/* Follow the request at inj_next's offset (tail call): never written into. */
static __always_inline int follow(struct sk_msg_md *msg, struct inj_conn *ic, __u32 next)
{
	__u32 zero = 0;
	struct inj_next *nx = bpf_map_lookup_elem(&inj_next, &zero);

	if (nx) {
		nx->off = next;
		ic->state = IC_START;
		bpf_tail_call(msg, &inj_progs, 0);
	}
	ic->state = IC_LOST; /* no tail call (its limit reached, or not set) */
	count(SONDE_INJ_PIPELINED);
	return SK_PASS;
}

SEC("sk_msg")
int sonde_inj_follow(struct sk_msg_md *msg)
{
	struct head_scan s = {};
	struct inj_conn *ic;
	struct head_buf *hb;
	struct inj_next *nx;
	__u32 zero = 0, size = msg->size, off, next;
	int lose;

	if (!msg->sk)
		return SK_PASS;
	ic = bpf_sk_storage_get(&inj_conns, msg->sk, 0, 0);
	nx = bpf_map_lookup_elem(&inj_next, &zero);
	hb = bpf_map_lookup_elem(&inj_head, &zero);
	if (!ic || !nx || !hb)
		return SK_PASS;
	off = nx->off;
	count(SONDE_INJ_PIPELINED); /* this request goes out unchanged */
	if (off >= size || off > LINEAR_MAX) {
		ic->state = IC_LOST;
		return SK_PASS;
	}
	if (read_head(msg, hb, &s, off, size) >= 0) {
		ic->state = IC_LOST; /* a head cut by the send's end is not followed */
		return SK_PASS;
	}
	lose = frame_body(ic, hb, &s, s.n, size, off, &next);
	if (lose >= 0) {
		ic->state = IC_LOST;
		count(lose);
		return SK_PASS;
	}
	if (next)
		return follow(msg, ic, next);
	return SK_PASS;
}

SEC("sk_msg")
int sonde_inject(struct sk_msg_md *msg)
{
	struct head_scan s = {};
	struct sonde_sent sent = {};
	struct inj_conn *ic;
	struct head_buf *hb;
	__u32 zero = 0, size = msg->size, off = 0, next = 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sonde_sent *prev;
	int lose = -1, wrote = 0;

	if (!msg->sk)
		return SK_PASS;
	ic = bpf_sk_storage_get(&inj_conns, msg->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!ic) {
		count(SONDE_INJ_NO_MEMORY);
		return SK_PASS;
	}
	if (ic->state == IC_LOST)
		return SK_PASS;
	if ((ic->state == IC_BODY || ic->state == IC_CDATA) && ic->left >= size) {
		ic->left -= size; /* all body */
		return SK_PASS;
	}
	hb = bpf_map_lookup_elem(&inj_head, &zero);
	if (!hb)
		return SK_PASS;
	if (ic->state != IC_START) {
		/* The body of the previous request goes on: where does this one start? */
		struct walk w = { .b = hb->b, .st = *ic };

		if (ic->state == IC_BODY || ic->state == IC_CDATA) {
			off = ic->left;
			w.st.left = 0;
			w.st.state = ic->state == IC_BODY ? IC_START : IC_CSIZE;
		}
		if (w.st.state != IC_START) {
			w.avail = size - off;
			w.wn = w.avail > HEAD_MASK + 1 ? HEAD_MASK + 1 : w.avail;
			if (copy_head(msg, off, w.wn) != w.wn) {
				count(SONDE_INJ_NO_MEMORY);
				ic->state = IC_LOST;
				return SK_PASS;
			}
			bpf_loop(HEAD_STEPS, walk_step, &w, 0);
			if (w.stop != 1) {
				if (w.stop == 3) {
					*ic = w.st;
				} else {
					count(SONDE_INJ_CHUNKED);
					ic->state = IC_LOST;
				}
				return SK_PASS;
			}
			off += w.pos;
		}
		ic->state = IC_START;
		ic->left = 0;
		if (off >= size)
			return SK_PASS;
	}
	if ((lose = read_head(msg, hb, &s, off, size)) >= 0) {
		count(lose);
		ic->state = IC_LOST;
		return SK_PASS;
	}
	/* Where the next request starts, before anything is written. */
	lose = frame_body(ic, hb, &s, s.n, size, off, &next);
	if (lose >= 0)
		ic->state = IC_LOST;

	prev = bpf_map_lookup_elem(&inj_sent, &id);
	if (prev && prev->lport == msg->local_port &&
	    prev->rport == (__u16)bpf_ntohl(msg->remote_port)) {
		/* A second request in one send: its record could carry one context only. */
		count(SONDE_INJ_PIPELINED);
	} else if (s.trace) {
		count(SONDE_INJ_HAS_HEADER);
	} else if (size > LINEAR_MAX - SONDE_INJ_HDR_LEN) {
		count(SONDE_INJ_TOO_LONG);
	} else if (!client_ids(id, &sent.ids, &s)) {
		count(SONDE_INJ_AMBIGUOUS);
	} else {
		build_header(&hb->h, &sent.ids);
		if (bpf_msg_push_data(msg, off + s.line_end, SONDE_INJ_HDR_LEN, 0)) {
			count(SONDE_INJ_NO_MEMORY);
		} else if (write_header(msg, off + s.line_end, &hb->h)) {
			/* Never send the room without its header. */
			bpf_msg_pop_data(msg, off + s.line_end, SONDE_INJ_HDR_LEN, 0);
			count(SONDE_INJ_NO_MEMORY);
		} else {
			bpf_msg_pull_data(msg, 0, msg->size, 0); /* one piece (LINEAR_MAX) */
			sent.lport = msg->local_port;
			sent.rport = (__u16)bpf_ntohl(msg->remote_port);
			sent.ts = bpf_ktime_get_ns();
			bpf_map_update_elem(&inj_sent, &id, &sent, BPF_ANY);
			count(SONDE_INJ_INJECTED);
			wrote = 1;
		}
	}
	if (lose >= 0)
		count(lose);
	else if (next) /* the header moved what follows it */
		return follow(msg, ic, next + (wrote ? SONDE_INJ_HDR_LEN : 0));
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
