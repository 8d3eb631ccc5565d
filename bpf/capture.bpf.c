// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket data capture on syscall tracepoints.
 *
 * Every process pays one bit test (target_bits) per traced syscall exit; only
 * target processes go further. Data syscalls have no sys_enter program: at
 * sys_exit the return value says how many bytes moved and the arguments are
 * read back from the user registers saved at entry. Records are written in
 * place into the ring of the CPU the program runs on (see struct
 * sonde_ring_ctl): no lock, no copy, no wake-up; userspace drains the rings on
 * a short timer, in batches.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sonde.h"
#include "sonde_inject.h"
#include "sock.h"

/* Per CPU: the head being scanned has a b3 or X-B3-* line (http_head.h's HEAD_B3_SEEN). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inj_b3_seen SEC(".maps");

static __always_inline __u32 *b3_seen(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&inj_b3_seen, &zero);
}
#define HEAD_B3_SEEN()                                                         \
	do {                                                                   \
		__u32 *seen_ = b3_seen();                                      \
		if (seen_)                                                     \
			*seen_ = 1;                                            \
	} while (0)
#include "http_head.h"
#include "inject_maps.h"

#define MSG_PEEK 2
#define SOL_SOCKET 1
#define SO_ERROR 4
#define EPIPE 32
#define ENETUNREACH 101
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113
#define EINPROGRESS 115

/* Set by userspace before load. */
const volatile __u32 capture_bytes = SONDE_CAPTURE_DEFAULT;
/* --capture-app-logs: what targets write to fds 1 and 2 (not sockets) is captured. */
const volatile __u8 app_logs = 0;
/* Bytes of each CPU's ring - 1 (a power of two - 1); rings' value_size matches. */
const volatile __u64 ring_mask = (1 << 20) - 1;

/*
 * A kernel without bpf_loop (before 5.17): the walks of large syscalls take
 * a bounded loop of WALK_ITEMS_BOUNDED steps, and nothing else that loops is
 * loaded (injection is off: inj_ids returns at once). Set by the loader; the
 * verifier sees a constant and follows one branch only.
 */
const volatile __u8 no_loop = 0;

/* Source of conn_id values: unique for the life of the loaded program. */
__u64 next_conn_id = 1;

/*
 * targets: tgid -> struct sonde_target, an array indexed by tgid (sized to
 * pid_max by userspace): its lookup is inlined, where a hash lookup cost ~70 ns
 * per call. Valid only while the tgid's bit is set in target_bits. Written by
 * userspace (--pid, existing descendants) and by sonde_fork (new children);
 * read by every program. gen starts at a fresh value for each new target and
 * is bumped on exec/close_range: conns entries with another gen are stale.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32768); /* set to pid_max before load */
	__type(key, __u32);
	__type(value, struct sonde_target);
} targets SEC(".maps");

/*
 * conns: (tgid, fd) -> what the fd is. Written at accept/connect exit and on
 * the first data syscall of an fd not seen before (fd-table walk), deleted at
 * close or dup2 onto it; LRU bounds it when closes are missed. Non-sockets are
 * cached too (watch = 0) so that file and pipe I/O of a target stays cheap.
 * Read by BPF; userspace only raises an entry's capture (loader__set_capture).
 */
#define conn_state sonde_conn_state

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_fd_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/*
 * rings: one record ring per possible CPU, mmapped by userspace. Sizes are set
 * before load: max_entries = possible CPUs, value_size = sizeof(struct
 * sonde_ring_ctl) + ring_mask + 1 + SONDE_RING_SLACK.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 128 + (1 << 20) + SONDE_RING_SLACK);
} rings SEC(".maps");

/* stats: per-CPU counters indexed by enum sonde_stat, summed by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * Lengths and offsets into a record are masked right where they are used
 * (offset & (MAX-1), length & (2*MAX-1)): the verifier can always follow a
 * mask, while clang moves clamps around. SONDE_RING_SLACK covers the largest
 * masked offset + length past a record's start.
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
#define TUPLE_SZ sizeof(struct sonde_conn_tuple)
struct event_buf {
	struct sonde_event hdr;
	__u8 body[]; /* [tuple] payload */
};
_Static_assert(sizeof(struct sonde_event) + TUPLE_SZ + sizeof(struct sonde_segs) + OFF_MASK + 512 +
			       LEN_MASK <= SONDE_RING_SLACK,
	       "the slack covers every masked access");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/*
 * target_bits: one bit per tgid, set for targets. Written by userspace
 * (atomically, through the skeleton's mmap of .bss) and by sonde_fork; read
 * first by every program: most syscalls on a host are not a target's, and a
 * load from a global array is much cheaper than a hash lookup.
 */
__u64 target_bits[SONDE_TGID_WORDS];

static __always_inline struct sonde_target *target_of(__u32 tgid)
{
	__u64 w = target_bits[(tgid >> 6) & (SONDE_TGID_WORDS - 1)];

	if (!(w & (1ULL << (tgid & 63))))
		return NULL;
	return bpf_map_lookup_elem(&targets, &tgid);
}

/* Cache what fd is; role says how it began. Returns the entry, or NULL. */
static __always_inline struct conn_state *conn_learn(__u32 tgid, __u32 fd, __u32 gen, __u8 role)
{
	struct sonde_fd_key k = { .tgid = tgid, .fd = fd };
	struct conn_state cs = {};

	int kind;

	cs.gen = gen;
	kind = sonde_sock_tuple(fd, &cs.tuple);
	if (kind == 0) {
		cs.watch = SONDE_WATCH_SOCKET;
		cs.tuple.role = role;
		cs.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
	} else if (app_logs && kind == -2 && (fd == 1 || fd == 2)) {
		/* A journald stream is a socket: not this. */
		cs.watch = SONDE_WATCH_LOG;
		cs.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
		__builtin_memset(&cs.tuple, 0, sizeof(cs.tuple));
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

#define IOV_HEAD_MIN 64

/* Copy up to cap bytes from an iovec array to e->body + toff; returns bytes copied. */
static __always_inline __u32 copy_iov(struct event_buf *e, __u32 toff, __u64 uiov, __u32 iovcnt,
				      __u32 cap, int all)
{
	struct iovec iov[SONDE_MAX_IOV];
	__u32 off = 0;

	if (iovcnt == 0)
		return 0;
	if (iovcnt > SONDE_MAX_IOV)
		iovcnt = SONDE_MAX_IOV;
#ifdef SONDE_NO_KFUNC
	/* 5.15's verifier refuses a read of variable size into stack not written yet. */
	__builtin_memset(iov, 0, sizeof(iov));
#endif
	/* One read for the array (1..8 entries): a helper call costs more than the bytes. */
	if (bpf_probe_read_user(iov, (MASKED(iovcnt - 1, SONDE_MAX_IOV - 1) + 1) * sizeof(iov[0]),
				(void *)uiov))
		return 0;
#pragma unroll
	for (int i = 0; i < SONDE_MAX_IOV; i++) {
		__u32 n;

		if (i >= iovcnt || off >= cap)
			break;
		/*
		 * [head, body] is the common shape of a writev: the first iovec
		 * holds what parsers need, and each further read costs ~100 ns.
		 * Go on only while what we have is too short to be a whole head,
		 * or when the call gathers more than two buffers: a client that
		 * batches queued messages (libuv's writev of node-postgres's
		 * Parse, Bind, Describe, Execute, Sync) has a message in each,
		 * and the last one (Sync) is what ends the batch. On a connection
		 * the kernel walks (all), every buffer may hold a message.
		 */
		if (i > 0 && off >= IOV_HEAD_MIN && iovcnt <= 2 && !all)
			break;
		n = cap - off;
		if (iov[i].iov_len < n)
			n = iov[i].iov_len;
		if (n == 0)
			continue;
		if (bpf_probe_read_user(&e->body[toff + MASKED(off, OFF_MASK)], MASKED(n, LEN_MASK),
					iov[i].iov_base))
			break;
		off += n;
	}
	return off;
}

/* A record being written in place into this CPU's ring. */
struct rec {
	struct sonde_ring_ctl *ctl;
	struct event_buf *e;
	__u64 head;
};

/* Room for a record of up to SONDE_RECORD_MAX bytes at head, or 0 (counted lost). */
static __always_inline int rec_begin(struct rec *r)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u8 *base = bpf_map_lookup_elem(&rings, &cpu);

	if (!base)
		return 0;
	r->ctl = (struct sonde_ring_ctl *)base;
	r->head = r->ctl->head;
	if (r->head - *(volatile __u64 *)&r->ctl->tail > ring_mask + 1 - SONDE_RECORD_MAX) {
		stat_inc(SONDE_STAT_LOST);
		return 0;
	}
	r->e = (struct event_buf *)(base + sizeof(struct sonde_ring_ctl) + (r->head & ring_mask));
	return 1;
}

/*
 * Publish the record: header, toff bytes of tuple (0 or TUPLE_SZ), caplen
 * bytes, and tail bytes after them from the next multiple of 8 (the ids).
 */
static __always_inline void rec_commit(struct rec *r, __u32 toff, __u32 caplen, __u32 tail)
{
	__u64 sz;

	if (caplen > SONDE_CAPTURE_MAX)
		caplen = SONDE_CAPTURE_MAX;
	r->e->hdr.caplen = caplen;
	sz = SONDE_RECORD_ALIGN(sizeof(struct sonde_event) + toff + caplen) + tail;
#if defined(__TARGET_ARCH_x86)
	/* x86 does not reorder a store with older stores: keep clang from doing it. */
	barrier();
	r->ctl->head = r->head + sz;
#else
	__sync_fetch_and_add(&r->ctl->head, sz); /* a full barrier */
#endif
	stat_inc(SONDE_STAT_EVENTS);
}

/* Put the tuple in the record if userspace may not know it; returns its size or 0. */
static __always_inline __u32 put_tuple(struct event_buf *e, struct conn_state *cs, __u64 now)
{
	if (cs->announced && now - cs->announced_ts < SONDE_TUPLE_REFRESH_NS) {
		e->hdr.flags = 0;
		return 0;
	}
	__builtin_memcpy(e->body, &cs->tuple, TUPLE_SZ);
	e->hdr.flags = SONDE_F_TUPLE;
	return TUPLE_SZ;
}

/*
 * Walking a syscall larger than its capture, message by message (cs->walk):
 * each message's head is copied, its body skipped by length, so that every
 * message of a pipelined write or of a read holding many replies is seen
 * where a head-only copy saw the first. The record carries the runs (struct
 * sonde_segs). A message that goes on past the syscall leaves cs->left[dir]
 * bytes to skip at the start of the next one in that direction.
 */
#define WALK_WIN       32   /* bytes read at each message to find its header */
#define WALK_ITEMS     512  /* messages (RESP: lines and bulk strings) per syscall */
#define WALK_ITEMS_BOUNDED SONDE_WALK_BOUNDED /* the same without bpf_loop (no_loop): unrolled */
#define WALK_BULK_KEEP 128  /* RESP: bulk strings up to this long are kept whole */
#define WALK_HEAD      384  /* LEN32, PG: bytes kept of a message's head */
#define WALK_BUDGET    SONDE_CAPTURE_MAX
#define WALK_LINE      256  /* RESP: longest simple string or error line followed */
#define WALK_LONG_LINE (1ULL << 63) /* walk_item: a line longer than the window */

struct walk_line {
	__u8 b[WALK_LINE];
};

/* Bytes of the line at l (n bytes of it read), CRLF included; 0 if it ends past them. */
__noinline __u32 walk_line_len(const struct walk_line *l, __u32 n)
{
	if (!l)
		return 0;
	for (__u32 j = 0; j + 1 < WALK_LINE; j++) {
		if (j + 1 >= n)
			return 0;
		if (l->b[j] == '\r' && l->b[j + 1] == '\n')
			return j + 2;
	}
	return 0;
}

struct walk {
	struct sonde_segs *segs; /* the record's runs */
	__u8 *dst;		 /* the record's payload */
	__u64 uiov;		 /* the syscall's iovec array, if it has one */
	__u64 base;		 /* the buffer being walked (an iovec's, or the syscall's) */
	__u32 blen;		 /* its length */
	__u32 boff;		 /* offset in it of the next message */
	__u32 idx;		 /* its index in the iovec array */
	__u32 iovcnt;		 /* entries in the array (1 without one) */
	__u32 len;		 /* bytes the syscall moved */
	__u32 pos;		 /* bytes of them walked */
	__u32 out;		 /* bytes copied */
	__u32 segcap;		 /* bytes copied in the current run */
	__u32 n;		 /* runs closed */
	__u32 left;		 /* bytes of the current message not walked yet */
	__u32 mode;		 /* enum sonde_walk */
};

/*
 * The item at the start of a window of win bytes (w: its first 32, as four
 * little-endian words), for a walk of mode: returns keep | skip << 32, the
 * bytes to copy (its header, and a short body) and to skip (the rest of its
 * body), or 0 if it is not an item of that protocol. A global function: the
 * verifier checks it once, whatever its branches, and the walk step sees
 * two unknown numbers.
 */
__noinline __u64 walk_item(__u64 w0, __u64 w1, __u64 w2, __u64 w3, __u32 arg)
{
	__u64 w[4] = { w0, w1, w2, w3 };
	__u32 win = arg & 0xff, mode = arg >> 8, line = 0, num = 0, digits = 0, keep, skip = 0;
	__u64 total;
	int neg = 0;

#define WBYTE(j) ((__u8)(w[((j) >> 3) & 3] >> (((j) & 7) * 8)))
	if (mode != SONDE_WALK_RESP) {
		__u32 hdr = mode == SONDE_WALK_PG ? 5 : 4, size;

		if (win < hdr)
			return 0;
		size = (__u32)WBYTE(hdr - 4) << 24 | (__u32)WBYTE(hdr - 3) << 16 |
		       (__u32)WBYTE(hdr - 2) << 8 | WBYTE(hdr - 1);
		if (size < 4 || size > (1U << 30))
			return 0;
		/* Kafka's size leaves itself out, PostgreSQL's counts itself but not the type. */
		total = (__u64)size + (mode == SONDE_WALK_PG ? 1 : 4);
		/* A DataRow's or CopyData's body says nothing we count. */
		if (mode == SONDE_WALK_PG && (WBYTE(0) == 'D' || WBYTE(0) == 'd'))
			keep = hdr;
		else
			keep = total < WALK_HEAD ? (__u32)total : WALK_HEAD;
		return keep | (total - keep) << 32;
	}
	for (__u32 j = 1; j + 1 < WALK_WIN; j++) {
		__u8 ch;

		if (j + 1 >= win)
			return 0; /* no line end in the bytes there are */
		ch = WBYTE(j);
		if (ch == '\r') {
			if (WBYTE(j + 1) != '\n')
				return 0;
			line = j + 2;
			break;
		}
		if (ch == '-' && j == 1)
			neg = 1;
		else if (ch >= '0' && ch <= '9' && digits < 9)
			num = num * 10 + (ch - '0'), digits++;
		else
			digits = 10; /* not a length: fine for a line, not for a bulk */
	}
#undef WBYTE
	if (!line) {
		/* A simple string or error longer than the window ("-ERR unknown ..."). */
		switch (w0 & 0xff) {
		case '+': case '-': case '(': case ',':
			return win == WALK_WIN ? WALK_LONG_LINE : 0;
		default:
			return 0;
		}
	}
	keep = line;
	switch (w0 & 0xff) {
	case '$': /* bulk string, blob error, verbatim string */
	case '!':
	case '=':
		if (neg)
			break; /* null */
		if (digits == 0 || digits > 9)
			return 0;
		if (num + 2 <= WALK_BULK_KEEP)
			keep = line + num + 2;
		else
			skip = num + 2;
		break;
	case '*': case '%': case '~': case '>': case '|': /* aggregates: their items follow */
	case '+': case '-': case ':': case '_': case ',': case '#': case '(':
		break;
	default:
		return 0; /* an inline command, or not RESP */
	}
	return keep | (__u64)skip << 32;
}

/* Skip n bytes not copied: close the current run. 0 if no run is left for it. */
static __always_inline int walk_skip(struct walk *w, struct sonde_segs *segs, __u32 n)
{
	struct sonde_seg *sg;

	if (w->n >= SONDE_SEGS_MAX - 1)
		return 0; /* the last run takes the rest */
	sg = &segs->seg[MASKED(w->n, SONDE_SEGS_MAX)];
	sg->cap = w->segcap;
	sg->skip = n;
	w->n++;
	w->segcap = 0;
	w->boff += n;
	w->pos += n;
	return 1;
}

/*
 * One step of a walk: move to the next buffer of the iovec array, skip what
 * is left of a message, or copy the head of the next message (runs in segs,
 * bytes in dst). 1 stops.
 */
static __always_inline int walk_step_on(struct walk *w, struct sonde_segs *segs, __u8 *dst)
{
	__u32 avail, win, keep, skip, room;
	__u64 item, wv[4] = {};
	__u8 *p;

	if (w->pos >= w->len || w->out + WALK_WIN > WALK_BUDGET)
		return 1;
	if (w->boff >= w->blen) { /* the next iovec */
		struct iovec iov;

		if (w->idx + 1 >= w->iovcnt ||
		    bpf_probe_read_user(&iov, sizeof(iov),
					(void *)(w->uiov + (__u64)(w->idx + 1) * sizeof(iov))))
			return 1;
		w->idx++;
		w->base = (__u64)iov.iov_base;
		w->blen = iov.iov_len > 0xffffffffULL ? 0xffffffff : (__u32)iov.iov_len;
		w->boff = 0;
		return 0;
	}
	avail = w->blen - w->boff;
	if (avail > w->len - w->pos)
		avail = w->len - w->pos;
	if (w->left) { /* a message goes on: skip its rest (in this buffer) */
		skip = w->left < avail ? w->left : avail;
		w->left -= skip;
		return walk_skip(w, segs, skip) ? 0 : 1;
	}
	win = avail < WALK_WIN ? avail : WALK_WIN;
	p = dst + MASKED(w->out, OFF_MASK);
	if (bpf_probe_read_user(p, MASKED(win, 2 * WALK_WIN - 1), (void *)(w->base + w->boff)))
		return 1;
	__builtin_memcpy(wv, p, WALK_WIN); /* bytes past win are a previous walk's: unused */
	item = walk_item(wv[0], wv[1], wv[2], wv[3], win | w->mode << 8);
	if (item == WALK_LONG_LINE) {
		win = avail < WALK_LINE ? avail : WALK_LINE;
		if (w->out + WALK_LINE > WALK_BUDGET ||
		    bpf_probe_read_user(p, MASKED(win, 2 * WALK_LINE - 1), (void *)(w->base + w->boff)))
			return 1;
		item = walk_line_len((const struct walk_line *)p, win);
	}
	keep = (__u32)item;
	skip = (__u32)(item >> 32);
	if (!keep)
		return 1;
	room = WALK_BUDGET - w->out;
	if (keep > room) {
		skip += keep - room;
		keep = room;
	}
	if (keep > avail) { /* its head goes on past this buffer: the rest is skipped */
		skip += keep - avail;
		keep = avail;
	}
	if (keep > win &&
	    bpf_probe_read_user(p + MASKED(win, 2 * WALK_LINE - 1), MASKED(keep - win, LEN_MASK),
				(void *)(w->base + w->boff + win)))
		return 1;
	w->out += keep;
	w->segcap += keep;
	w->boff += keep;
	w->pos += keep;
	w->left = skip; /* skipped by the next steps, across buffers and syscalls */
	return 0;
}

/* A bpf_loop step. */
static int walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;

	return walk_step_on(w, w->segs, w->dst);
}

/* What a walk writes at a record's body: its runs, then room for its largest reads. */
struct walk_out {
	struct sonde_segs segs;
	__u8 data[SONDE_CAPTURE_MAX + 2 * WALK_LINE + LEN_MASK + 1];
};

/*
 * The walk without bpf_loop (no_loop): WALK_ITEMS_BOUNDED steps of a loop the
 * verifier unrolls, in a global function so that it is verified once, on its
 * own, not once per path of the record program that calls it (inlined there,
 * 19 steps went past the verifier's million instructions).
 */
__noinline int walk_bounded(struct walk *w, struct walk_out *o)
{
	if (!w || !o)
		return 0;
	for (__u32 i = 0; i < WALK_ITEMS_BOUNDED; i++)
		if (walk_step_on(w, &o->segs, o->data))
			break;
	return 0;
}

/*
 * Walk the syscall (its buffer, or its iovec array when iovcnt > 0) into the
 * record at body (after the tuple). Returns the bytes copied, or -1 if
 * nothing could be walked (copy the head instead).
 */
static __always_inline long walk_copy(struct conn_state *cs, __u8 mode, __u8 dir, __u8 *body,
				      __u64 ubuf,
				      __u32 iovcnt, __u32 len)
{
	struct walk w = {};
	struct sonde_seg *sg;

	w.segs = (struct sonde_segs *)body;
	w.dst = body + sizeof(struct sonde_segs);
	w.len = len;
	w.mode = mode;
	w.left = cs->left[dir & 1]; /* the syscall may begin inside a message */
	if (iovcnt) {
		struct iovec iov;

		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)ubuf))
			return -1;
		w.uiov = ubuf;
		w.iovcnt = iovcnt;
		w.base = (__u64)iov.iov_base;
		w.blen = iov.iov_len > 0xffffffffULL ? 0xffffffff : (__u32)iov.iov_len;
	} else {
		w.iovcnt = 1;
		w.base = ubuf;
		w.blen = len;
	}
	if (no_loop) {
		walk_bounded(&w, (struct walk_out *)body);
	} else {
		bpf_loop(WALK_ITEMS, walk_step, &w, 0);
	}
	if (w.out == 0 && w.n == 0)
		return -1;
	/* What a walk that stopped early did not reach: framing unknown there. */
	cs->left[dir & 1] = w.pos < w.len ? 0 : w.left;
	/* body, not w.segs: a global function (walk_bounded) may have written any of w. */
	sg = &((struct sonde_segs *)body)->seg[MASKED(w.n, SONDE_SEGS_MAX)];
	sg->cap = w.segcap;
	sg->skip = w.len - w.pos;
	((struct sonde_segs *)body)->n = w.n + 1;
	((struct sonde_segs *)body)->_pad = 0;
	return w.out;
}

/*
 * The arguments of a data syscall, read back at its exit from the user
 * registers saved at entry: no sys_enter program and no map to carry them.
 */
struct io_args {
	__u64 id;	/* tgid << 32 | pid, as bpf_get_current_pid_tgid() */
	__u64 buf;	/* user buffer, or iovec array when iovcnt > 0 */
	__u32 fd;
	__u32 iovcnt;
};

/*
 * io_pass's tls: 0, a syscall's bytes; else the plaintext of a TLS library's
 * call (tls.h), dated now (IO_TLS_NOW) or at the call's entry (IO_TLS_ENTRY).
 */
#define IO_TLS_NOW   1
#define IO_TLS_ENTRY 2

/* TLS libraries' calls in flight, and their connections' sockets (tls.h). */
struct ssl_call {
	__u64 ssl; /* the SSL * */
	__u64 buf; /* the plaintext buffer */
	__u64 out; /* SSL_read_ex/SSL_write_ex: where the byte count goes; else 0 */
	__u64 ts;  /* entry time */
	__u32 fd;  /* the socket its syscalls used, or -1 */
	__u32 num; /* bytes asked to write (SSL_write) */
	__u8 dir;  /* enum sonde_dir */
	__u8 emitted; /* SSL_write: its plaintext went out at its first syscall (tls_syscall) */
	__u8 _pad[6];
};

/* LRU: a call whose return never came (the thread died in it) must not fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_ssl_key);
	__type(value, __u32);
} ssl_fds SEC(".maps");

/*
 * tls_reads: the TLS socket each thread last read outside any TLS call. A
 * library that reads through a memory BIO (Node.js) reads the ciphertext
 * itself, then calls SSL_read at once on the same thread: the first SSL_read
 * of an SSL * that no syscall tied gets this socket (tls.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u32);
} tls_reads SEC(".maps");

/*
 * ssl_wretry: an SSL * whose SSL_write failed after its plaintext went out
 * (non-blocking: WANT_WRITE), with the byte count: OpenSSL's caller must
 * call again with the same arguments, and that call's bytes are not new.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sonde_ssl_key);
	__type(value, __u32);
} ssl_wretry SEC(".maps");

/*
 * A data call's record is built by a program tail-called by every data exit:
 * sonde_rec_in and sonde_rec_out for syscalls, sonde_rec_ssl for TLS
 * libraries' calls (a tail call stays within a program type). The verifier
 * walks the record path three times at load, not once per data exit.
 * io_pass carries the call from the exit to it (same CPU).
 */
struct io_pass {
	struct io_args a;
	long ret;
	__u64 ts; /* IO_TLS_ENTRY: the call's entry time */
	__u8 call;
	__u8 dir;
	__u8 tls;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct io_pass);
} io_pass SEC(".maps");

/* Slot dir: sonde_rec_in, sonde_rec_out; rec_ssl_tail's 0: sonde_rec_ssl. Set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} rec_tail SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} rec_ssl_tail SEC(".maps");
#define IO_REC 4 /* io_pass is set: the record program is to run */

static __always_inline int io_pass_set(long ret, __u8 call, __u8 dir, int tls, struct io_args *a)
{
	__u32 zero = 0;
	struct io_pass *p = bpf_map_lookup_elem(&io_pass, &zero);

	if (!p)
		return 0;
	p->a = *a;
	p->ret = ret;
	p->ts = 0;
	p->call = call;
	p->dir = dir;
	p->tls = tls;
	return IO_REC;
}

/* Set by userspace once a TLS library has its uprobes: only then do syscalls look for a call. */
__u8 tls_on;

/*
 * One bit per thread id, set while the thread is inside a probed TLS call
 * (tls.h): a syscall of a thread without it skips the ssl_calls lookup. A
 * filter only: a stale bit costs that lookup, which decides.
 */
__u64 ssl_threads[SONDE_TGID_WORDS];

static __always_inline __u64 *ssl_thread_word(__u64 id, __u64 *bit)
{
	*bit = 1ULL << ((__u32)id & 63);
	return &ssl_threads[((__u32)id >> 6) & (SONDE_TGID_WORDS - 1)];
}

/*
 * p, a syscall of a TLS connection: its bytes are ciphertext. Inside a call
 * of the library (same thread), it tells which socket that SSL * uses.
 * Returns 0: record p as it is; 1: send nothing for it; 2: a write inside an
 * SSL_write whose plaintext has not gone out: p is now that plaintext (num
 * bytes, dated at the call's entry), recorded before the thread returns to
 * user space (where the peer it just woke may run first and answer before an
 * uretprobe could record the request). A call that then fails (WANT_WRITE)
 * is noted in ssl_wretry (tls.h); its repeat adds nothing. OpenSSL writes all
 * of num or fails, unless the caller asked for partial writes
 * (SSL_MODE_ENABLE_PARTIAL_WRITE), which counts a short write's rest twice.
 */
static __always_inline int tls_syscall(struct io_pass *p, __u8 dir, struct conn_state *cs)
{
	__u64 id = p->a.id, bit, *w;
	__u32 fd = p->a.fd;
	struct ssl_call *sc = NULL;

	if (!tls_on)
		return cs->tls;
	w = ssl_thread_word(id, &bit);
	if (*w & bit)
		sc = bpf_map_lookup_elem(&ssl_calls, &id);
	if (sc) {
		struct sonde_ssl_key k = { .tgid = id >> 32, .ssl = sc->ssl };

		if (sc->fd != fd) {
			sc->fd = fd;
			bpf_map_update_elem(&ssl_fds, &k, &fd, BPF_ANY);
		}
		cs->tls = 1;
		if (dir != SONDE_DIR_EGRESS || sc->dir != SONDE_DIR_EGRESS || sc->emitted || !sc->num)
			return 1;
		sc->emitted = 1;
		p->ret = sc->num;
		p->a.buf = sc->buf;
		p->a.iovcnt = 0;
		p->ts = sc->ts;
		p->call = SONDE_CALL_SSL_WRITE;
		p->tls = IO_TLS_ENTRY;
		return 2;
	} else if ((cs->tls || cs->tls_hello) && dir == SONDE_DIR_INGRESS) {
		bpf_map_update_elem(&tls_reads, &id, &fd, BPF_ANY);
	}
	return cs->tls;
}

/*
 * A write to the target's stdout or stderr: its first SONDE_CAPTURE_MAX bytes
 * as a SONDE_EV_LOG record (the agent splits lines). Reads there are not logs.
 */
static __noinline int log_exit(long ret, __u8 dir, struct sonde_target *t, struct io_args *a,
			       struct conn_state *cs)
{
	struct event_buf *e;
	struct rec r;
	__u32 cap, got = 0;

	if (dir != SONDE_DIR_EGRESS || ret <= 0 || !rec_begin(&r))
		return 0;
	e = r.e;
	e->hdr.type = SONDE_EV_LOG;
	e->hdr.dir = dir;
	e->hdr.call = 0;
	e->hdr.flags = 0;
	e->hdr.tgid = a->id >> 32;
	e->hdr.tid = (__u32)a->id;
	e->hdr.fd = a->fd;
	e->hdr.service = t->service;
	e->hdr.conn_id = cs->conn_id;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.len = ret > 0xffffffffL ? 0xffffffff : (__u32)ret;
	cap = e->hdr.len < SONDE_CAPTURE_MAX ? e->hdr.len : SONDE_CAPTURE_MAX;
	if (a->iovcnt)
		got = copy_iov(e, 0, a->buf, a->iovcnt, cap, 1);
	else if (bpf_probe_read_user(&e->body[0], MASKED(cap, LEN_MASK), (void *)a->buf) == 0)
		got = cap;
	rec_commit(&r, 0, got, 0);
	return 0;
}

/*
 * --inject-traceparent (include/sonde_inject.h): ids are born in the kernel.
 * A server request's first read draws its ids (or takes its traceparent's)
 * and keeps them in its thread's slots until the response's first write; a
 * client send takes what the sk_msg program wrote into it. Both go into the
 * record, for the agent to build the spans with.
 */
const volatile __u8 inject_on = 0;

/* A zeroed sonde_thread_ctx to create entries from (too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_thread_ctx);
} inj_zero SEC(".maps");

/* Where a new inj_lines value is built (the stack is the capture programs'). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_line_flight);
} inj_line_new SEC(".maps");

/*
 * A request head that names its trace in B3 headers only: read by
 * sonde_inj_b3, which the data exit tail-calls once the record is published
 * (its own program: parsing B3 in the capture programs took their
 * verification past its million instructions).
 */
struct inj_b3_job {
	__u64 rec_off;  /* the record's offset in this CPU's ring (& ring_mask) */
	__u64 conn_id;
	__u64 span_id;  /* the server span's, as drawn */
	__u32 toff;     /* the payload's offset in the record body */
	__u32 n;        /* head bytes in the payload; 0: no job */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inj_b3_job);
} inj_b3 SEC(".maps");

/* Slot 0: sonde_inj_b3, set by the loader with --inject-traceparent (empty: no tail call). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} inj_tail SEC(".maps");
#define IO_B3 2 /* io_record: an inj_b3 job is set */

/* The request in flight on conn_id is over: its line no longer counts. */
static __always_inline void line_done(__u32 tgid, __u64 conn_id)
{
	__u64 *h = bpf_map_lookup_elem(&inj_conn_line, &conn_id);
	struct sonde_line_key k = { .tgid = tgid };
	struct sonde_line_flight *f;

	if (!h)
		return;
	k.hash = *h;
	bpf_map_delete_elem(&inj_conn_line, &conn_id);
	f = bpf_map_lookup_elem(&inj_lines, &k);
	if (f && f->count > 1)
		__sync_fetch_and_add(&f->count, -1);
	else if (f)
		bpf_map_delete_elem(&inj_lines, &k);
}

/* A server request began on conn_id with this head: its line is in flight. */
static __always_inline void line_begin(struct head_scan *s, struct sonde_ids *ids, __u32 tgid,
				       __u64 conn_id, __u64 now)
{
	struct sonde_line_key k = { .tgid = tgid };
	struct sonde_line_flight *f, *nf;
	__u32 zero = 0;

	line_done(tgid, conn_id); /* the previous request on it, if its answer was not seen */
	k.hash = head_line_hash(s);
	if (!k.hash)
		return;
	f = bpf_map_lookup_elem(&inj_lines, &k);
	if (f && now - f->ts < SONDE_INFLIGHT_NS) {
		__sync_fetch_and_add(&f->count, 1);
		f->ts = now;
	} else if ((nf = bpf_map_lookup_elem(&inj_line_new, &zero))) {
		nf->count = 1;
		nf->ts = now;
		__builtin_memcpy(&nf->ids, ids, sizeof(*ids));
		bpf_map_update_elem(&inj_lines, &k, nf, BPF_ANY);
	}
	bpf_map_update_elem(&inj_conn_line, &conn_id, &k.hash, BPF_ANY);
}

/* A server request began in this read: its ids, kept for its thread's sends. */
static __always_inline int inj_server(__u8 *payload, __u32 got, __u8 *ids_at, __u64 id,
				      __u64 conn_id)
{
	struct head_scan s = { .b = payload, .n = got > HEAD_MASK + 1 ? HEAD_MASK + 1 : got };
	__u64 now = bpf_ktime_get_ns();
	struct sonde_thread_ctx *tc, *zero;
	/* Built in place in the record: the stack is the capture programs'. */
	struct sonde_ids *ids = (struct sonde_ids *)ids_at;
	__u32 z = 0;
	__u64 parent = 0, hi, lo, oldest = ~0ULL;
	__u8 sampled = 0;
	int at = -1, open;
	__u32 *seen = b3_seen();

	if (seen)
		*seen = 0;
	bpf_loop(HEAD_STEPS, head_step_tp, &s, 0);
	open = !s.end && s.line_end && !s.tp;
	__builtin_memset(ids, 0, sizeof(*ids));
	if (s.tp && head_traceparent(&s, s.tp, ids->trace_id, &parent, &sampled)) {
		ids->parent_id = parent;
		ids->flags = SONDE_IDS_REMOTE | (sampled ? SONDE_IDS_SAMPLED : 0);
	} else {
		hi = rand64() | 1;
		lo = rand64();
		__builtin_memcpy(ids->trace_id, &hi, 8);
		__builtin_memcpy(ids->trace_id + 8, &lo, 8);
		ids->flags = (__u64)bpf_get_prandom_u32() < sample_below ? SONDE_IDS_SAMPLED : 0;
	}
	ids->span_id = rand64() | 1;
	tc = bpf_map_lookup_elem(&inj_threads, &id);
	if (!tc && (zero = bpf_map_lookup_elem(&inj_zero, &z))) {
		bpf_map_update_elem(&inj_threads, &id, zero, BPF_NOEXIST);
		tc = bpf_map_lookup_elem(&inj_threads, &id);
	}
	if (tc) {
		/* Its connection's slot (the previous request on it is over), else the oldest. */
#pragma unroll
		for (int i = 0; i < SONDE_INFLIGHT; i++) {
			__u64 age = tc->slot[i].conn_id ? tc->slot[i].ts : 0;

			if (tc->slot[i].conn_id == conn_id) {
				at = i;
				oldest = 0;
			} else if (age < oldest) {
				at = i;
				oldest = age;
			}
		}
		if (at >= 0 && at < SONDE_INFLIGHT) {
			if (oldest && tc->slot[at].conn_id && now - tc->slot[at].ts < SONDE_INFLIGHT_NS)
				tc->overflow_ts = now;
			tc->slot[at].conn_id = conn_id;
			tc->slot[at].ts = now;
			__builtin_memcpy(&tc->slot[at].ids, ids, sizeof(*ids));
		}
	}
	line_begin(&s, ids, id >> 32, conn_id, now);
	seen = b3_seen();
	if (seen && *seen && !s.tp && s.end) {
		struct inj_b3_job *j = bpf_map_lookup_elem(&inj_b3, &z);

		if (j) { /* inj_ids says where the record is */
			j->conn_id = conn_id;
			j->span_id = ids->span_id;
			j->n = s.end;
			return 1 | 4;
		}
	}
	return 1 | open << 1;
}

/*
 * The next read of a head whose first read ended before its traceparent (a
 * sender's segments, a reader's small buffer): if the header is here, the
 * request continues that trace: its slot, and the record (SONDE_IDS_UPDATE,
 * same span id) say so. Lines cut across reads are not seen.
 */
static __always_inline int inj_server_more(__u8 *payload, __u32 got, __u8 *ids_at, __u64 id,
					   __u64 conn_id)
{
	struct head_scan s = { .b = payload, .n = got > HEAD_MASK + 1 ? HEAD_MASK + 1 : got,
			       .line_end = 1 };
	struct sonde_ids *ids = (struct sonde_ids *)ids_at;
	struct sonde_thread_ctx *tc;
	__u64 parent = 0;
	__u8 sampled = 0;
	int at = -1;

	if (!head_line_of(&s, 0, 0))
		bpf_loop(HEAD_STEPS, head_step_tp, &s, 0);
	if (!s.tp)
		return s.end ? 0 : 2;
	tc = bpf_map_lookup_elem(&inj_threads, &id);
	if (!tc)
		return 0;
#pragma unroll
	for (int i = 0; i < SONDE_INFLIGHT; i++)
		if (tc->slot[i].conn_id == conn_id)
			at = i;
	if (at < 0 || at >= SONDE_INFLIGHT ||
	    !head_traceparent(&s, s.tp, ids->trace_id, &parent, &sampled))
		return 0;
	ids->span_id = tc->slot[at].ids.span_id;
	ids->parent_id = parent;
	ids->flags = SONDE_IDS_REMOTE | SONDE_IDS_UPDATE | (sampled ? SONDE_IDS_SAMPLED : 0);
	__builtin_memset(ids->_pad, 0, sizeof(ids->_pad));
	__builtin_memcpy(&tc->slot[at].ids, ids, sizeof(*ids));
	tc->slot[at].ids.flags &= ~SONDE_IDS_UPDATE;
	{
		__u64 *h = bpf_map_lookup_elem(&inj_conn_line, &conn_id);
		struct sonde_line_key k = { .tgid = id >> 32 };
		struct sonde_line_flight *f;

		if (h) {
			k.hash = *h;
			f = bpf_map_lookup_elem(&inj_lines, &k);
			if (f && f->ids.span_id == ids->span_id)
				__builtin_memcpy(&f->ids, &tc->slot[at].ids, sizeof(f->ids));
		}
	}
	return 1;
}

/*
 * The ids of the request in the record being written on this CPU (header,
 * toff bytes of tuple, got bytes of payload: toff_got = toff << 16 | got),
 * put after its payload. A global function: verified once on its own, not
 * once per path of io_record. ports is the connection's lport << 16 | rport
 * (0: no sk_msg program writes into it); dir the direction, | 0x100 when the connection's inj_head is set. Returns
 * bit 0: ids written; bit 1: a request head is still being read (inj_head);
 * bit 2: its head has B3 headers and no traceparent (an inj_b3 job is set).
 */
__noinline int inj_ids(__u64 id, __u64 conn_id, __u32 toff_got, __u32 ports, __u32 dir)
{
	__u32 cpu = bpf_get_smp_processor_id(), toff = (toff_got >> 16) & 127,
	      got = toff_got & 0xffff;
	__u8 *base = bpf_map_lookup_elem(&rings, &cpu);
	struct sonde_thread_ctx *tc;
	struct sonde_sent *sent;
	struct event_buf *e;
	__u8 *payload, *ids_at;
	__u32 w, zero = 0;

	/* Verified on its own even when no path calls it: nothing below without injection. */
	if (!inject_on || !base || got < 4)
		return 0;
	e = (struct event_buf *)(base + sizeof(struct sonde_ring_ctl) +
				 (((struct sonde_ring_ctl *)base)->head & ring_mask));
	payload = &e->body[toff];
	ids_at = &e->body[MASKED(SONDE_RECORD_ALIGN(toff + got), LEN_MASK)];
	if ((dir & 0xff) == SONDE_DIR_INGRESS) {
		if (http_request_start(payload))
		{
			int r = inj_server(payload, got, ids_at, id, conn_id);
			struct inj_b3_job *j;

			if ((r & 4) && (base = bpf_map_lookup_elem(&rings, &cpu)) &&
			    (j = bpf_map_lookup_elem(&inj_b3, &zero))) {
				j->rec_off = ((struct sonde_ring_ctl *)base)->head & ring_mask;
				j->toff = (toff_got >> 16) & 127;
			}
			return r;
		}
		if (dir & 0x100)
			return inj_server_more(payload, got, ids_at, id, conn_id);
		return 0;
	}
	__builtin_memcpy(&w, payload, 4);
	if (w == 0x50545448) { /* "HTTP": a response; its request is over */
		tc = bpf_map_lookup_elem(&inj_threads, &id);
		if (tc) {
#pragma unroll
			for (int i = 0; i < SONDE_INFLIGHT; i++)
				if (tc->slot[i].conn_id == conn_id)
					tc->slot[i].conn_id = 0;
		}
		line_done(id >> 32, conn_id);
		return 0;
	}
	if (!ports)
		return 0;
	sent = bpf_map_lookup_elem(&inj_sent, &id);
	if (!sent)
		return 0;
	if (((__u32)sent->lport << 16 | sent->rport) != ports) {
		bpf_map_delete_elem(&inj_sent, &id);
		return 0;
	}
	__builtin_memcpy(ids_at, &sent->ids, sizeof(sent->ids));
	bpf_map_delete_elem(&inj_sent, &id);
	return 1;
}

/*
 * The record of a data call (rec_run), dated now or, for IO_TLS_ENTRY, at ts;
 * IO_B3 when a B3 job is set.
 */
static __always_inline int io_record(long ret, __u8 call, __u8 dir, const int tls, __u64 ts,
				     struct sonde_target *t, struct conn_state *cs, struct io_args *a)
{
	__u64 id = a->id;
	__u32 tgid = id >> 32;
	struct event_buf *e;
	struct rec r;
	__u32 cap, got = 0, toff;
	long walked;
	__u8 walk;
	__u64 now;
	int b3 = 0;

	if (!rec_begin(&r))
		return 0;
	e = r.e;
	e->hdr.type = SONDE_EV_DATA;
	e->hdr.dir = dir;
	e->hdr.call = call;
	e->hdr.tgid = tgid;
	e->hdr.tid = (__u32)id;
	e->hdr.fd = a->fd;
	e->hdr.service = t->service;
	e->hdr.conn_id = cs->conn_id;
	now = tls == IO_TLS_ENTRY ? ts : bpf_ktime_get_ns();
	e->hdr.ts_ns = now;
	e->hdr.len = ret > 0xffffffffL ? 0xffffffff : (__u32)ret;
	toff = put_tuple(e, cs, now);
	if (tls)
		e->hdr.flags |= SONDE_F_TLS;

	/*
	 * A connection may ask for more (a pipeline longer than the default);
	 * one whose messages the kernel can walk gets whole syscalls up to the
	 * largest record, and larger ones (or with more buffers than copy_iov
	 * takes) walked.
	 */
	walk = cs->walk;
	cap = walk ? SONDE_CAPTURE_MAX : cs->capture ? cs->capture : capture_bytes;
	if (e->hdr.len < cap)
		cap = e->hdr.len;
	if (cap > SONDE_CAPTURE_MAX)
		cap = SONDE_CAPTURE_MAX;
	if (call == SONDE_CALL_SENDFILE) {
		got = 0;
	} else if (walk && (SONDE_CAPTURE_MAX < e->hdr.len || a->iovcnt > SONDE_MAX_IOV) &&
		   (walked = walk_copy(cs, walk, dir, &e->body[MASKED(toff, 127)], a->buf, a->iovcnt,
				       e->hdr.len)) >= 0) {
		e->hdr.flags |= SONDE_F_SEGS;
		got = (__u32)walked;
		stat_inc(SONDE_STAT_WALKED);
		rec_commit(&r, toff + sizeof(struct sonde_segs), got, 0);
		goto announced;
	} else if (a->iovcnt) {
		got = copy_iov(e, toff, a->buf, a->iovcnt, cap, walk);
	} else if (cap > 0 && bpf_probe_read_user(&e->body[toff], MASKED(cap, LEN_MASK),
						  (void *)a->buf) == 0) {
		got = cap;
	}
	/*
	 * A PostgreSQL StartupMessage (protocol 3.0: length < 64 KiB, 00 03 00
	 * 00, then a parameter name) as a connection's first bytes: walk it from
	 * the next syscall on, so that a large first reply (a driver's type
	 * introspection) is not cut before userspace says so a drain period
	 * later. toff: only the records that carry the tuple look.
	 */
	if (toff && !walk && got >= 9 && dir == SONDE_DIR_EGRESS) {
		__u8 *b = &e->body[MASKED(toff, 127)];

		if (!b[0] && !b[1] && !b[4] && b[5] == 3 && !b[6] && !b[7] && b[8] >= 'a' &&
		    b[8] <= 'z') {
			cs->walk = SONDE_WALK_PG;
			cs->left[0] = cs->left[1] = 0;
		}
	}
	/*
	 * A TLS record (handshake, TLS 1.0 to 1.3 framing) as a connection's
	 * first bytes: its reads are noted for a library that reads through a
	 * memory BIO (tls_reads). Its bytes still go out until such a library
	 * reads it in plaintext: a plain HTTP server answers a ClientHello with
	 * a 400 that counts.
	 */
	if (toff && got >= 3 && !tls && tls_on) {
		__u8 *b = &e->body[MASKED(toff, 127)];

		if (b[0] == 0x16 && b[1] == 3 && b[2] <= 4)
			cs->tls_hello = 1;
	}
	/*
	 * A RESP array cut short is a Redis pipeline, a RESP3 map one a
	 * HELLO's answer (no HTTP, PostgreSQL or Kafka message starts with '*'
	 * or '%'): walk this connection from now on,
	 * this syscall included, instead of losing pipelines until userspace
	 * says so a drain period later. A body that starts with '*' only costs
	 * its connection walks.
	 */
	if (got && cap < e->hdr.len && !walk &&
	    (e->body[MASKED(toff, 127)] == '*' || e->body[MASKED(toff, 127)] == '%')) {
		cs->walk = SONDE_WALK_RESP;
		cs->left[0] = cs->left[1] = 0;
		walked = -1;
		if (!a->iovcnt && e->hdr.len <= SONDE_CAPTURE_MAX) {
			/* Whole, as the connection's next syscalls of this size. */
			cap = e->hdr.len;
			if (bpf_probe_read_user(&e->body[toff], MASKED(cap, LEN_MASK),
						(void *)a->buf) == 0)
				got = cap;
		} else {
			walked = walk_copy(cs, SONDE_WALK_RESP, dir, &e->body[MASKED(toff, 127)],
					   a->buf, a->iovcnt, e->hdr.len);
		}
		if (walked >= 0) {
			e->hdr.flags |= SONDE_F_SEGS;
			got = (__u32)walked;
			stat_inc(SONDE_STAT_WALKED);
			rec_commit(&r, toff + sizeof(struct sonde_segs), got, 0);
			goto announced;
		}
	}
	/*
	 * An HTTP request whose head goes on past the capture (long cookies,
	 * many headers before `traceparent`): the head is what sonde reads, so
	 * the syscall is copied again, up to SONDE_CAPTURE_MAX. Bodies and
	 * responses do not begin with a method and keep the short copy.
	 */
	if (got == cap && cap < e->hdr.len && cap >= 4 && !walk && call != SONDE_CALL_SENDFILE &&
	    (cs->head_more[dir & 1] || http_request_start(&e->body[MASKED(toff, 127)]))) {
		/*
		 * A server that reads heads in small buffers (nginx: 1 KiB,
		 * then a larger one) gets the rest in the next syscall: that
		 * one is copied long too, and only that one.
		 */
		cs->head_more[dir & 1] = !cs->head_more[dir & 1];
		cap = e->hdr.len < SONDE_CAPTURE_MAX ? e->hdr.len : SONDE_CAPTURE_MAX;
		if (a->iovcnt)
			got = copy_iov(e, toff, a->buf, a->iovcnt, cap, 0);
		else if (bpf_probe_read_user(&e->body[toff], MASKED(cap, LEN_MASK),
					     (void *)a->buf) == 0)
			got = cap;
		stat_inc(SONDE_STAT_HEADS);
	} else if (cs->head_more[dir & 1]) {
		cs->head_more[dir & 1] = 0;
	}
	if (cs->left[dir & 1]) /* a walked message goes on in this plain copy */
		cs->left[dir & 1] = cs->left[dir & 1] > e->hdr.len ? cs->left[dir & 1] - e->hdr.len : 0;
	if (cap < e->hdr.len)
		stat_inc(SONDE_STAT_TRUNCATED);
	/*
	 * Injection looks at server reads (a request's ids), server writes (its
	 * response) and TCP client writes (what sk_msg wrote): never at what a
	 * client reads, nor at Unix sockets' writes (sockops marks TCP only).
	 */
	if (inject_on && got >= 4 && !tls &&
	    (dir == SONDE_DIR_EGRESS || cs->tuple.role != SONDE_ROLE_CLIENT)) {
		int ir = inj_ids(id, cs->conn_id, toff << 16 | got,
				 cs->tuple.family == SONDE_AF_UNIX || cs->tuple.role == SONDE_ROLE_SERVER
					 ? 0 /* nothing was written into it */
					 : (__u32)cs->tuple.lport << 16 | cs->tuple.rport,
				 dir | (cs->inj_head ? 0x100 : 0));

		if (dir == SONDE_DIR_INGRESS) {
			cs->inj_head = (ir >> 1) & 1;
			b3 = (ir >> 2) & 1;
		}
		if (ir & 1) {
			e->hdr.flags |= SONDE_F_IDS;
			rec_commit(&r, toff, got, sizeof(struct sonde_ids));
			goto announced;
		}
	}
	rec_commit(&r, toff, got, 0);
announced:
	if (toff) {
		cs->announced = 1;
		cs->announced_ts = now;
	}
	return b3 ? IO_B3 : 0;
}

/*
 * io_pass's call (tls: a constant, or -1 for a syscall; d: its direction, a
 * constant, or -1), what sonde_rec_in/_out and sonde_rec_ssl run: its
 * connection looked up (or learnt), a log write sent as such, a TLS
 * connection's ciphertext dropped (or, inside an SSL_write, replaced by the
 * call's plaintext), else recorded.
 */
static __always_inline int rec_run(const int tls, const int d)
{
	__u32 zero = 0;
	struct io_pass *p = bpf_map_lookup_elem(&io_pass, &zero);
	struct sonde_target *t;
	struct conn_state *cs;
	int tr;
	__u8 dir;

	if (!p || (d >= 0 && p->dir != d) || !(t = target_of(p->a.id >> 32)))
		return 0;
	dir = d >= 0 ? d : p->dir;
	cs = conn_cached(p->a.id >> 32, p->a.fd, t->gen);
	if (!cs)
		cs = conn_learn(p->a.id >> 32, p->a.fd, t->gen, SONDE_ROLE_UNKNOWN);
	if (!cs || !cs->watch)
		return 0;
	if (app_logs && cs->watch == SONDE_WATCH_LOG) {
		log_exit(p->ret, dir, t, &p->a, cs);
		return 0;
	}
	if (tls < 0 && (tr = tls_syscall(p, dir, cs)) && tr != 2) /* 2: the same fd, cs stays */
		return 0;
	return io_record(p->ret, p->call, dir, tls < 0 ? p->tls : tls, p->ts, t, cs, &p->a);
}

/*
 * Syscalls' records (tls: 0, or IO_TLS_ENTRY from tls_syscall), one
 * program per direction (the verifier walks each with its direction known);
 * B3 headers by a tail call.
 */
SEC("tp")
int sonde_rec_in(void *ctx)
{
	if (rec_run(-1, SONDE_DIR_INGRESS) == IO_B3)
		bpf_tail_call(ctx, &inj_tail, 0);
	return 0;
}

SEC("tp")
int sonde_rec_out(void *ctx)
{
	rec_run(-1, SONDE_DIR_EGRESS); /* B3 headers are read from requests */
	return 0;
}

/* A data exit's end: the record program runs if io_pass is set. */
#define IO_DONE(ctx, dir, r)                                                   \
	do {                                                                   \
		if ((r) == IO_REC)                                             \
			bpf_tail_call(ctx, &rec_tail, dir);                    \
		return 0;                                                      \
	} while (0)

/*
 * Errors by which a socket call fails its caller's call (err > 0): the peer
 * refused, reset or never answered. EAGAIN, EINTR and the like are not.
 */
static __always_inline int net_error(long err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ETIMEDOUT:
	case EPIPE:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}

/*
 * A SONDE_EV_FAIL record: for connection cs (once: cs->failed), or, when cs
 * is NULL, for a connect that left no connection, to the address in tuple.
 */
static __always_inline void fail_emit(struct sonde_target *t, __u64 id, __u32 fd, __u8 call,
				      __u8 dir, long err, struct conn_state *cs,
				      const struct sonde_conn_tuple *tuple)
{
	struct event_buf *e;
	struct rec r;
	__u32 toff = TUPLE_SZ;
	__u64 now;

	if (!rec_begin(&r))
		return;
	e = r.e;
	e->hdr.type = SONDE_EV_FAIL;
	e->hdr.dir = dir;
	e->hdr.call = call;
	e->hdr.tgid = id >> 32;
	e->hdr.tid = (__u32)id;
	e->hdr.fd = fd;
	e->hdr.service = t->service;
	e->hdr.ts_ns = now = bpf_ktime_get_ns();
	e->hdr.len = (__u32)err;
	if (cs) {
		e->hdr.conn_id = cs->conn_id;
		toff = put_tuple(e, cs, now);
		cs->failed = 1;
		if (toff) {
			cs->announced = 1;
			cs->announced_ts = now;
		}
	} else {
		e->hdr.conn_id = 0;
		e->hdr.flags = SONDE_F_TUPLE;
		__builtin_memcpy(e->body, tuple, TUPLE_SZ);
	}
	rec_commit(&r, toff, 0, 0);
}

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#ifndef SONDE_NO_KFUNC
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#endif

/*
 * Where the user registers saved at syscall entry sit in a task's kernel
 * stack (task_pt_regs(): stack + THREAD_SIZE - padding - sizeof(pt_regs),
 * which depends on the kernel's configuration): learnt from
 * bpf_task_pt_regs() on the first call, 0 until then.
 */
__u64 regs_off;

/*
 * The registers of the current task, for a data syscall exit whose number is
 * nr and return value ret. Finding them by regs_off saves two helper calls
 * per record (18-28 ns measured, where every call and return pays for
 * retpolines and the SRSO return thunk). The registers at that offset must
 * hold this very syscall (orig_ax, ax); if they do not, the helper is asked,
 * and its answer becomes the offset. Other architectures ask it every time,
 * and so do kernels before 6.2 (capture_compat.bpf.o, loader.c).
 */
static __always_inline struct pt_regs *data_regs(struct task_struct *task, long nr, long ret)
{
#if defined(SONDE_NO_KFUNC)
	/* Kernels before 6.2 (no bpf_rdonly_cast): the helper, every time. */
	return (struct pt_regs *)bpf_task_pt_regs(task);
#elif defined(__TARGET_ARCH_x86)
	__u32 id = bpf_core_type_id_kernel(struct pt_regs);
	__u64 stack = (__u64)task->stack, off = regs_off;
	struct pt_regs *regs;

	if (off) {
		regs = bpf_rdonly_cast((void *)(stack + off), id);
		if (regs->orig_ax == (unsigned long)nr && regs->ax == (unsigned long)ret)
			return regs;
	}
	regs = bpf_rdonly_cast((void *)bpf_task_pt_regs(task), id);
	/*
	 * Its address as a number, read from the stack: arithmetic on an
	 * untrusted pointer with an unknown number is refused before 6.10 or so
	 * (Ubuntu's 6.8 did), and this runs only when the offset is learnt.
	 */
	bpf_probe_read_kernel(&off, sizeof(off), &regs);
	off -= stack;
	/* Written once, not per call: every CPU's programs read this line. */
	if (off < 65536 && off != regs_off)
		regs_off = off;
	return regs;
#else
	return bpf_rdonly_cast((void *)bpf_task_pt_regs(task), bpf_core_type_id_kernel(struct pt_regs));
#endif
}

/*
 * A data syscall failed with ret < 0: a reset, a refused or timed-out
 * connection (net_error) on a target's socket becomes one SONDE_EV_FAIL.
 */
static __noinline int data_fail(long nr, long ret, __u8 call, __u8 dir)
{
	struct task_struct *task;
	struct sonde_target *t;
	struct conn_state *cs;
	__u64 id;
	__u32 fd;

	if (!net_error(-ret))
		return 0;
	task = bpf_get_current_task_btf();
	id = (__u64)task->tgid << 32 | (__u32)task->pid;
	t = target_of(id >> 32);
	if (!t)
		return 0;
	fd = (__u32)PT_REGS_PARM1_SYSCALL(data_regs(task, nr, ret));
	cs = conn_cached(id >> 32, fd, t->gen);
	if (cs && cs->watch == SONDE_WATCH_SOCKET && !cs->failed)
		fail_emit(t, id, fd, call, dir, -ret, cs, NULL);
	return 0;
}

/* Connection lifecycle: learn identity and role as the socket is born. */
static __always_inline int learn_fd(long fd, __u8 role)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_target *t;

	if (fd < 0)
		return 0;
	t = target_of(tgid);
	if (t)
		conn_learn(tgid, (__u32)fd, t->gen, role);
	return 0;
}

/*
 * A blocking connect() that failed: the socket holds no address any more
 * (the kernel disconnected it), so the record carries the one asked for.
 */
static __noinline int connect_fail(__u32 tgid, long ret)
{
	struct sonde_conn_tuple tuple = {};
	struct sonde_target *t = target_of(tgid);
	struct pt_regs *regs;
	__u64 uaddr;
	__u16 family;

	if (!t)
		return 0;
	regs = user_regs();
	uaddr = PT_REGS_PARM2_SYSCALL(regs);
	if (bpf_probe_read_user(&family, sizeof(family), (void *)uaddr))
		return 0;
	if (family == SONDE_AF_INET) {
		struct sockaddr_in sin;

		if (bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr))
			return 0;
		__builtin_memcpy(tuple.raddr, &sin.sin_addr, 4);
		tuple.rport = bpf_ntohs(sin.sin_port);
	} else if (family == SONDE_AF_INET6) {
		struct sockaddr_in6 sin6;

		if (bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr))
			return 0;
		__builtin_memcpy(tuple.raddr, &sin6.sin6_addr, 16);
		tuple.rport = bpf_ntohs(sin6.sin6_port);
	} else {
		return 0;
	}
	tuple.family = family;
	tuple.role = SONDE_ROLE_CLIENT;
	fail_emit(t, bpf_get_current_pid_tgid(), (__u32)PT_REGS_PARM1_SYSCALL(regs),
		  SONDE_CALL_CONNECT, SONDE_DIR_EGRESS, -ret, NULL, &tuple);
	return 0;
}

/*
 * --all (node-wide): every exec on the node is a record, for userspace to
 * match the new program against the discovery rules; set before load.
 */
const volatile __u8 watch_all = 0;

/* A record about a process, not a connection: SONDE_EV_EXEC, SONDE_EV_EXIT. */
static __always_inline void proc_record(__u8 type, __u32 tgid, __u32 service)
{
	struct rec r;

	if (!rec_begin(&r))
		return;
	__builtin_memset(&r.e->hdr, 0, sizeof(r.e->hdr));
	r.e->hdr.type = type;
	r.e->hdr.tgid = tgid;
	r.e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	r.e->hdr.service = service;
	r.e->hdr.ts_ns = bpf_ktime_get_ns();
	rec_commit(&r, 0, 0, 0);
}

/*
 * --match-port: a process not observed yet that listens on or connects to
 * one of these ports is reported (SONDE_EV_PORT, the port in `service`), for
 * userspace to observe it. Set before load; the ports after.
 */
const volatile __u8 watch_ports = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} match_ports SEC(".maps");

static __always_inline void port_seen(__u32 tgid, __u32 fd, int listening)
{
	struct sonde_conn_tuple tu = {};
	__u16 port;

	if (sonde_sock_tuple(fd, &tu) || (tu.family != SONDE_AF_INET && tu.family != SONDE_AF_INET6))
		return;
	port = listening ? tu.lport : tu.rport;
	if (bpf_map_lookup_elem(&match_ports, &port))
		proc_record(SONDE_EV_PORT, tgid, port);
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

SEC("tp/syscalls/sys_exit_connect")
int sonde_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	long ret = ctx->ret;
	struct sonde_target *t;

	/* A non-blocking connect returns -EINPROGRESS with the tuple already set. */
	if (ret < 0 && ret != -EINPROGRESS)
		return net_error(-ret) ? connect_fail(tgid, ret) : 0;
	t = target_of(tgid);
	if (t) /* the fd is an argument: from the saved registers */
		conn_learn(tgid, (__u32)PT_REGS_PARM1_SYSCALL(user_regs()), t->gen,
			   SONDE_ROLE_CLIENT);
	else if (watch_ports)
		port_seen(tgid, (__u32)PT_REGS_PARM1_SYSCALL(user_regs()), 0);
	return 0;
}

/* listen(): with --match-port, a process not observed yet listening on a watched port. */
SEC("tp/syscalls/sys_exit_listen")
int sonde_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!watch_ports || ctx->ret != 0 || target_of(tgid))
		return 0;
	port_seen(tgid, (__u32)PT_REGS_PARM1_SYSCALL(user_regs()), 1);
	return 0;
}

/*
 * SO_ERROR read after a non-blocking connect (how libcurl, libuv, nginx and
 * Python's socket timeouts learn that it failed): the connection that
 * connect() cached fails.
 */
SEC("tp/syscalls/sys_exit_getsockopt")
int sonde_getsockopt_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sonde_target *t;
	struct conn_state *cs;
	struct pt_regs *regs;
	int err = 0;
	__u32 fd;

	if (ctx->ret != 0 || !(t = target_of(id >> 32)))
		return 0;
	regs = user_regs();
	if (PT_REGS_PARM2_SYSCALL(regs) != SOL_SOCKET || PT_REGS_PARM3_SYSCALL(regs) != SO_ERROR ||
	    bpf_probe_read_user(&err, sizeof(err), (void *)PT_REGS_PARM4_SYSCALL(regs)) ||
	    !net_error(err))
		return 0;
	fd = (__u32)PT_REGS_PARM1_SYSCALL(regs);
	cs = conn_cached(id >> 32, fd, t->gen);
	if (cs && cs->watch == SONDE_WATCH_SOCKET && !cs->failed)
		fail_emit(t, id, fd, SONDE_CALL_GETSOCKOPT, SONDE_DIR_EGRESS, err, cs, NULL);
	return 0;
}

SEC("tp/syscalls/sys_enter_close")
int sonde_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_fd_key k = { .tgid = tgid, .fd = (__u32)ctx->args[0] };
	struct sonde_target *t = target_of(tgid);
	struct conn_state *cs;
	struct event_buf *e;
	struct rec r;

	if (!t)
		return 0;
	cs = bpf_map_lookup_elem(&conns, &k);
	if (!cs)
		return 0;
	if (cs->watch && rec_begin(&r)) {
		e = r.e;
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
		e->hdr.flags = 0;
		rec_commit(&r, 0, 0, 0);
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

#if !defined(__TARGET_ARCH_arm64) /* arm64 has dup3 only (libc's dup2 calls it) */
SEC("tp/syscalls/sys_enter_dup2")
int sonde_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd((__u32)ctx->args[1]);
}
#endif

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
	bump_gen();
	if (watch_all)
		proc_record(SONDE_EV_EXEC, bpf_get_current_pid_tgid() >> 32, 0);
	return 0;
}

/*
 * A target's last thread exits: it stops being a target at once, in the
 * kernel (a process that reuses its tgid inherits nothing of it), and a
 * record tells userspace, after the process's own last records.
 */
SEC("raw_tracepoint/sched_process_exit")
int sonde_proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *p = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(p, tgid), svc;
	struct sonde_target *t = target_of(tgid);

	if (!t || BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* not a target, or other threads of it still run */
	svc = t->service;
	__sync_fetch_and_and(&target_bits[(tgid >> 6) & (SONDE_TGID_WORDS - 1)],
			     ~(1ULL << (tgid & 63)));
	t->gen = 0;
	proc_record(SONDE_EV_EXIT, tgid, svc);
	return 0;
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
	/* Not 0 and not what a previous process of this tgid had: old conns are stale. */
	n.gen = (__u32)bpf_ktime_get_ns() | 1;
	if (bpf_map_update_elem(&targets, &ctgid, &n, BPF_ANY))
		return 0; /* tgid beyond pid_max at load: not observed */
	/* After the map entry: a reader that sees the bit finds the entry. */
	__sync_fetch_and_or(&target_bits[(ctgid >> 6) & (SONDE_TGID_WORDS - 1)],
			    1ULL << (ctgid & 63));
	stat_inc(SONDE_STAT_FORKS);
	return 0;
}

/*
 * Data syscalls: one program at exit each. The arguments come from the user
 * registers (PT_REGS_PARMn_SYSCALL), read only once the process is known to
 * be a target and the call to have moved bytes.
 */
/*
 * Quick rejection shared by every data exit: failed call or not a target.
 * Failures that matter (net_error) are all below -EPIPE; EAGAIN is above.
 */
#define DATA_PROLOGUE(ctx, call, dir)                                          \
	long ret = (ctx)->ret;                                                 \
	struct task_struct *task;                                              \
	struct pt_regs *regs;                                                  \
	struct io_args a = {};                                                 \
	struct sonde_target *t;                                                \
	if (ret <= 0)                                                          \
		return ret <= -EPIPE ? data_fail((ctx)->id, ret, call, dir) : 0; \
	task = bpf_get_current_task_btf();                                     \
	a.id = (__u64)task->tgid << 32 | (__u32)task->pid;                     \
	if (!(t = target_of(a.id >> 32)))                                      \
		return 0;                                                      \
	regs = data_regs(task, (ctx)->id, ret);                                \
	a.fd = (__u32)PT_REGS_PARM1_SYSCALL(regs)

/* read(fd, buf, n), write, recvfrom(fd, buf, n, flags, ...), sendto */
#define PLAIN_EXIT(name, call, dir)                                            \
	SEC("tp/syscalls/sys_exit_" #name)                                     \
	int sonde_##name##_exit(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                      \
		DATA_PROLOGUE(ctx, call, dir);                                            \
		a.buf = PT_REGS_PARM2_SYSCALL(regs);                      \
		IO_DONE(ctx, dir, io_pass_set(ret, call, dir, 0, &a));                  \
	}

/* readv(fd, iov, iovcnt), writev */
#define IOV_EXIT(name, call, dir)                                              \
	SEC("tp/syscalls/sys_exit_" #name)                                     \
	int sonde_##name##_exit(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                      \
		DATA_PROLOGUE(ctx, call, dir);                                            \
		a.buf = PT_REGS_PARM2_SYSCALL(regs);                      \
		a.iovcnt = (__u32)PT_REGS_PARM3_SYSCALL(regs);            \
		IO_DONE(ctx, dir, io_pass_set(ret, call, dir, 0, &a));                  \
	}

/* recvmsg(fd, msghdr, flags), sendmsg: the iovec array lives in the msghdr. */
#define MSG_EXIT(name, call, dir)                                              \
	SEC("tp/syscalls/sys_exit_" #name)                                     \
	int sonde_##name##_exit(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                      \
		DATA_PROLOGUE(ctx, call, dir);                                 \
		if (dir == SONDE_DIR_INGRESS &&                                \
		    (PT_REGS_PARM3_SYSCALL(regs) & MSG_PEEK))                  \
			return 0; /* the bytes will be read again */           \
		/* msg_iovlen, then msg_iov, through a.buf: no stack of its own */ \
		if (bpf_probe_read_user(&a.buf, sizeof(a.buf),                 \
					(void *)PT_REGS_PARM2_SYSCALL(regs) +  \
					offsetof(struct user_msghdr, msg_iovlen))) \
			return 0;                                              \
		a.iovcnt = (__u32)a.buf;                                       \
		if (bpf_probe_read_user(&a.buf, sizeof(a.buf),                 \
					(void *)PT_REGS_PARM2_SYSCALL(regs) +  \
					offsetof(struct user_msghdr, msg_iov)))  \
			return 0;                                              \
		IO_DONE(ctx, dir, io_pass_set(ret, call, dir, 0, &a));                  \
	}

PLAIN_EXIT(read, SONDE_CALL_READ, SONDE_DIR_INGRESS)
PLAIN_EXIT(write, SONDE_CALL_WRITE, SONDE_DIR_EGRESS)
PLAIN_EXIT(sendto, SONDE_CALL_SENDTO, SONDE_DIR_EGRESS)
IOV_EXIT(readv, SONDE_CALL_READV, SONDE_DIR_INGRESS)
IOV_EXIT(writev, SONDE_CALL_WRITEV, SONDE_DIR_EGRESS)
MSG_EXIT(recvmsg, SONDE_CALL_RECVMSG, SONDE_DIR_INGRESS)
MSG_EXIT(sendmsg, SONDE_CALL_SENDMSG, SONDE_DIR_EGRESS)

SEC("tp/syscalls/sys_exit_recvfrom")
int sonde_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	DATA_PROLOGUE(ctx, SONDE_CALL_RECVFROM, SONDE_DIR_INGRESS);
	if (PT_REGS_PARM4_SYSCALL(regs) & MSG_PEEK)
		return 0; /* the bytes will be read again */
	a.buf = PT_REGS_PARM2_SYSCALL(regs);
	IO_DONE(ctx, SONDE_DIR_INGRESS, io_pass_set(ret, SONDE_CALL_RECVFROM, SONDE_DIR_INGRESS, 0, &a));
}

/* sendfile(out_fd, in_fd, offset, count): counted, not copied. */
SEC("tp/syscalls/sys_exit_sendfile64")
int sonde_sendfile_exit(struct trace_event_raw_sys_exit *ctx)
{
	DATA_PROLOGUE(ctx, SONDE_CALL_SENDFILE, SONDE_DIR_EGRESS);
	IO_DONE(ctx, SONDE_DIR_EGRESS, io_pass_set(ret, SONDE_CALL_SENDFILE, SONDE_DIR_EGRESS, 0, &a));
}

/*
 * B3 (github.com/openzipkin/b3-propagation), read by a program of its own
 * (capture's sonde_inj_b3, a tail call): the single `b3` header or the
 * X-B3-TraceId/SpanId/Sampled/Flags ones, as the agent reads them (trace.c):
 * a trace id of 16 or 32 hex digits, a span id of 16, sampled unless it says
 * 0; `b3: 0` or `X-B3-Sampled: 0` alone say "do not sample" only.
 *
 * Where each value begins is kept in a map value, not in the loop's state:
 * offsets that differ from one step to the next in a bpf_loop state, later
 * used to index, keep the verifier from ever seeing two steps alike.
 */
struct b3_pos {
	__u32 single, tid, sid, smp, flg; /* just past the colon; 0: no such header */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct b3_pos);
} inj_b3_pos SEC(".maps");

struct b3_scan {
	struct head_scan h;  /* b, n, end */
	struct b3_pos p;     /* read back from inj_b3_pos after the loop */
};

static __always_inline void b3_note(int which, __u32 at)
{
	__u32 zero = 0;
	struct b3_pos *p = bpf_map_lookup_elem(&inj_b3_pos, &zero);

	if (!p)
		return;
	if (which == 0)
		p->single = at;
	else if (which == 1)
		p->tid = at;
	else if (which == 2)
		p->sid = at;
	else if (which == 3)
		p->smp = at;
	else
		p->flg = at;
}

static __always_inline int b3_line(struct b3_scan *s, __u32 q)
{
	struct head_scan *h = &s->h;
	__u64 w0, w1;
	__u8 c = HB(h, q);

	if (c == '\r' || c == '\n') {
		h->end = q + 1;
		return 1;
	}
	if (q + 8 > h->n) /* as head_line_of */
		return 0;
	w0 = head_word_lc(h, q);
	w1 = head_word_lc(h, q + 8);
	if ((w0 & 0xffffff) == 0x3a3362 /* "b3:" */)
		b3_note(0, q + 3);
	else if ((w0 & 0xffffffffffULL) != 0x2d33622d78ULL /* "x-b3-" */)
		return 0;
	else if (w0 == 0x6172742d33622d78ULL /* "x-b3-tra" */ && (w1 & 0xffffffffffULL) == 0x3a64696563ULL /* "ceid:" */)
		b3_note(1, q + 13);
	else if (w0 == 0x6170732d33622d78ULL /* "x-b3-spa" */ && (w1 & 0xffffffff) == 0x3a64696e /* "nid:" */)
		b3_note(2, q + 12);
	else if (w0 == 0x6d61732d33622d78ULL /* "x-b3-sam" */ && (w1 & 0xffffffffffULL) == 0x3a64656c70ULL /* "pled:" */)
		b3_note(3, q + 13);
	else if (w0 == 0x616c662d33622d78ULL /* "x-b3-fla" */ && (w1 & 0xffffff) == 0x3a7367 /* "gs:" */)
		b3_note(4, q + 11);
	return 0;
}

/* A bpf_loop step over bytes [8i, 8i + 8): the lines after its LFs (the request line is skipped). */
static int b3_step(__u32 i, void *ctx)
{
	struct b3_scan *s = ctx;
	__u32 o = i * 8;
	__u8 c[8];

	if (o >= s->h.n || s->h.end)
		return 1;
	__builtin_memcpy(c, &s->h.b[o & HEAD_MASK], 8);
#pragma unroll
	for (int j = 0; j < 8; j++)
		if (c[j] == '\n' && (o + j + 1 >= s->h.n || b3_line(s, o + j + 1)))
			return 1;
	return 0;
}

struct hex16 {
	struct head_scan *s;
	__u32 o;
	int bad;
	__u64 v;
};

static int hex16_step(__u32 i, void *ctx)
{
	struct hex16 *p = ctx;
	int d = hexval(HB(p->s, p->o + i));

	p->bad |= d;
	p->v = p->v << 4 | (d & 15);
	return 0;
}

/* 16 hex digits at o (after up to two spaces when lead), as a number; 1 if they are. */
static __always_inline int head_hex16(struct head_scan *s, __u32 o, __u64 *v)
{
	struct hex16 p = { .s = s, .o = o };

	if (o + 16 > s->n)
		return 0;
	bpf_loop(16, hex16_step, &p, 0);
	*v = p.v;
	return p.bad >= 0;
}

/* The byte after a value: end of line or a space. */
static __always_inline int b3_value_end(struct head_scan *s, __u32 o)
{
	__u8 c = HB(s, o);

	return o >= s->n || c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

static __always_inline __u32 skip_sp(struct head_scan *s, __u32 o)
{
	if (HB(s, o) == ' ')
		o++;
	if (HB(s, o) == ' ')
		o++;
	return o;
}

/*
 * The context the B3 headers give: returns 1 with trace/parent/sampled set,
 * 2 when they only say "do not sample", 0 when there is none (or it is bad).
 */
static __always_inline int head_b3(struct b3_scan *b, __u8 trace[16], __u64 *parent,
				   __u8 *sampled)
{
	struct head_scan *s = &b->h;
	__u64 hi = 0, lo = 0, sp = 0;
	__u32 o, so;
	__u8 c;

	if (b->p.single) {
		o = skip_sp(s, b->p.single);
		c = HB(s, o);
		if (b3_value_end(s, o + 1))
			return c == '0' ? 2 : 0; /* the sampling state alone */
		if (HB(s, o + 16) == '-') {
			if (!head_hex16(s, o, &lo))
				return 0;
			so = o + 17;
		} else if (HB(s, o + 32) == '-') {
			if (!head_hex16(s, o, &hi) || !head_hex16(s, o + 16, &lo))
				return 0;
			so = o + 33;
		} else {
			return 0;
		}
		if (!head_hex16(s, so, &sp) || (!hi && !lo) || !sp)
			return 0;
		*sampled = 1;
		if (HB(s, so + 16) == '-') {
			c = HB(s, so + 17);
			if ((c != '0' && c != '1' && c != 'd') ||
			    !(b3_value_end(s, so + 18) || HB(s, so + 18) == '-'))
				return 0;
			*sampled = c != '0';
		} else if (!b3_value_end(s, so + 16)) {
			return 0;
		}
	} else if (b->p.tid && b->p.sid) {
		o = skip_sp(s, b->p.tid);
		if (b3_value_end(s, o + 16)) {
			if (!head_hex16(s, o, &lo))
				return 0;
		} else if (b3_value_end(s, o + 32)) {
			if (!head_hex16(s, o, &hi) || !head_hex16(s, o + 16, &lo))
				return 0;
		} else {
			return 0;
		}
		so = skip_sp(s, b->p.sid);
		if (!head_hex16(s, so, &sp) || !b3_value_end(s, so + 16) || (!hi && !lo) || !sp)
			return 0;
		*sampled = !b->p.smp || HB(s, skip_sp(s, b->p.smp)) != '0' ||
			   (b->p.flg && HB(s, skip_sp(s, b->p.flg)) == '1');
	} else {
		return b->p.smp && HB(s, skip_sp(s, b->p.smp)) == '0' ? 2 : 0;
	}
	hi = __builtin_bswap64(hi);
	lo = __builtin_bswap64(lo);
	__builtin_memcpy(trace, &hi, 8);
	__builtin_memcpy(trace + 8, &lo, 8);
	*parent = sp;
	return 1;
}

/*
 * Tail-called by a data exit whose server read began a request with B3
 * headers and no traceparent (an inj_b3 job): the request continues the B3
 * trace. Its thread's slot (what sk_msg writes into the calls it makes) and
 * its line's flight take the context, and a record of no bytes carrying the
 * ids (SONDE_IDS_UPDATE, the same span id) tells the agent, right after the
 * request's own record in this CPU's ring. Not attached: only tail-called.
 */
SEC("tp")
int sonde_inj_b3(void *ctx)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct inj_b3_job *j = bpf_map_lookup_elem(&inj_b3, &zero), job;
	__u8 *base = bpf_map_lookup_elem(&rings, &cpu);
	__u64 id = bpf_get_current_pid_tgid();
	struct b3_scan b = {};
	struct b3_pos *pos;
	struct sonde_thread_ctx *tc;
	struct sonde_ids ids = {};
	struct event_buf *e;
	__u64 parent = 0;
	__u8 sampled = 0;
	struct rec r;
	int at = -1, got;

	if (!j || !base || !j->n)
		return 0;
	job = *j;
	j->n = 0;
	e = (struct event_buf *)(base + sizeof(struct sonde_ring_ctl) + (job.rec_off & ring_mask));
	pos = bpf_map_lookup_elem(&inj_b3_pos, &zero);
	if (!pos)
		return 0;
	__builtin_memset(pos, 0, sizeof(*pos));
	b.h.b = &e->body[job.toff & 127];
	b.h.n = job.n > HEAD_MASK + 1 ? HEAD_MASK + 1 : job.n;
	bpf_loop(HEAD_STEPS, b3_step, &b, 0);
	b.p = *pos;
	got = head_b3(&b, ids.trace_id, &parent, &sampled);
	if (!got)
		return 0;
	tc = bpf_map_lookup_elem(&inj_threads, &id);
	if (!tc)
		return 0;
#pragma unroll
	for (int i = 0; i < SONDE_INFLIGHT; i++)
		if (tc->slot[i].conn_id == job.conn_id && tc->slot[i].ids.span_id == job.span_id)
			at = i;
	if (at < 0 || at >= SONDE_INFLIGHT)
		return 0;
	if (got == 2) { /* "do not sample": the drawn ids, unsampled */
		__builtin_memcpy(&ids, &tc->slot[at].ids, sizeof(ids));
		ids.flags &= ~SONDE_IDS_SAMPLED;
	} else {
		ids.span_id = job.span_id;
		ids.parent_id = parent;
		ids.flags = SONDE_IDS_REMOTE | (sampled ? SONDE_IDS_SAMPLED : 0);
	}
	__builtin_memcpy(&tc->slot[at].ids, &ids, sizeof(ids));
	{
		__u64 *h = bpf_map_lookup_elem(&inj_conn_line, &job.conn_id);
		struct sonde_line_key k = { .tgid = id >> 32 };
		struct sonde_line_flight *f;

		if (h) {
			k.hash = *h;
			f = bpf_map_lookup_elem(&inj_lines, &k);
			if (f && f->ids.span_id == ids.span_id)
				__builtin_memcpy(&f->ids, &ids, sizeof(f->ids));
		}
	}
	if (!rec_begin(&r))
		return 0;
	r.e->hdr = e->hdr;
	r.e->hdr.flags = SONDE_F_IDS;
	r.e->hdr.len = 0;
	ids.flags |= SONDE_IDS_UPDATE;
	__builtin_memcpy(&r.e->body[0], &ids, sizeof(ids));
	rec_commit(&r, 0, 0, sizeof(ids));
	return 0;
}

#include "tls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
