// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rate limits enforced in the kernel (rate_limits:, docs/ratelimit.md).
 *
 * sockops puts every connection accepted on a limited port (rl_ports) in the
 * rl_socks SOCKHASH; the sk_skb verdict program then sees each segment the
 * client sends before the server can read it. It follows the connection's
 * requests (request line, head, Content-Length body) byte by byte across
 * segments, feeds each request line's method and path to the rules'
 * automaton (rl_dfa), and when a rule matches checks the client's log of
 * admissions (rl_state). A request over its limit is rewritten in place into
 * a 429 response and redirected out of the same socket: the server never sees
 * it, and the connection's later bytes are dropped (the 429 says close).
 *
 * Everything uncertain is allowed and counted (rl_skips): a request line that
 * did not begin and end in one segment, bytes that are not HTTP where a
 * request should begin, a chunked body, a full map. Loaded only when there
 * are rules; when sonde exits, the SOCKHASH loses its last user reference and
 * the kernel detaches the verdict program from it: connections flow as before.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "sonde.h"
#include "sonde_ratelimit.h"

#define SK_DROP 0
#define SK_PASS 1
#define CHUNK 256      /* bytes of a segment scanned per pass */
#define PASSES 80      /* passes per segment: stops (request lines, bodies) and chunks */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * RL_DFA_STATES);
	__type(key, __u32);
	__type(value, struct rl_row);
} rl_dfa SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * RL_DFA_STATES);
	__type(key, __u32);
	__type(value, __u8);
} rl_accept SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * RL_RULES_MAX);
	__type(key, __u32);
	__type(value, struct rl_rule);
} rl_rules SEC(".maps");

/* The half of rl_dfa, rl_accept and rl_rules new requests are matched with. */
__u32 rl_half;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);  /* local port, host order */
	__type(value, __u8); /* service slot + 1 */
} rl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__type(key, struct rl_prefix);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} rl_trusted SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, __u64);
} rl_socks SEC(".maps");

/* Where a connection's client is in its stream of requests. */
enum rl_phase {
	PH_START = 0, /* a request begins at the next byte */
	PH_LINE,      /* in its method and path: fed to the automaton */
	PH_LINE_REST, /* past the path (query, version), up to the line's end */
	PH_HEAD,      /* in its header lines */
	PH_BODY,      /* in its body: left bytes to skip */
	PH_LOST,      /* boundaries unknown: allowed to the end */
	PH_CHUNK_SIZE, /* a chunked body: a chunk's size line (cl: the size so far) */
	PH_CHUNK_DATA, /* a chunk's data and its CRLF: left bytes to skip */
	PH_TRAILER,   /* after the last chunk: trailer lines up to an empty one (hdr: HD_*) */
	PH_BLOCKED,   /* answered 429: nothing more reaches the server */
};

/* hdr: the header-name matcher (HD_CL + k: k bytes of "content-length" matched, ...) */
#define HD_BOL 0     /* at a line's start */
#define HD_CL 1      /* 1..14 */
#define HD_TE 32     /* 32..49 */
#define HD_CL_VAL 64 /* in Content-Length's value */
#define HD_XF 80     /* 80..95: "x-forwarded-for" */
#define HD_XF_VAL 96 /* in X-Forwarded-For's value */
#define HD_SKIP 127  /* up to the line's end */
#define HD_CR 128    /* a CR at a line's start: the head ends at the LF */

struct rl_conn {
	__u32 left;  /* PH_BODY: body bytes to come */
	__u32 cl;    /* PH_HEAD: the Content-Length read so far */
	__u32 hlen;  /* bytes of the request's line and head so far */
	__u16 dfa;   /* PH_LINE: the automaton's state */
	__u8 phase;  /* enum rl_phase */
	__u8 slot;   /* service slot + 1 */
	__u8 sp;     /* PH_LINE: the method's space was seen */
	__u8 hdr;    /* PH_HEAD: HD_* */
	__u8 te;     /* PH_HEAD: a Transfer-Encoding header */
	__u8 trusted; /* the peer is a trusted proxy: the client is in X-Forwarded-For */
	__u8 pending; /* PH_HEAD: a matched request waits for its head's end (trusted) */
	__u8 xff_ok;  /* xff_ip holds the last whole IPv4 address of X-Forwarded-For */
	__u8 xff_n;   /* dots of the address being read; XFF_BAD: not an IPv4 address */
	__u16 xff_oct; /* the octet being read; XFF_NONE before its first digit */
	__u32 xff_cur; /* the octets read, host order */
	__u32 xff_ip;  /* network order */
};

#define XFF_BAD 9
#define XFF_NONE 0xffff

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie: never reused */
	__type(value, struct rl_conn);
} rl_conns SEC(".maps");

/* Not LRU: a spin lock needs a plain hash. userspace deletes logs older than their window. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_key);
	__type(value, struct rl_log);
} rl_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_key);
	__type(value, struct rl_times);
} rl_times SEC(".maps");

/*
 * --ratelimit-redis: what the other sonde instances admitted for a (rule,
 * client) within its window, as of the last sync (user/ratelimit_redis.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_key);
	__type(value, __u32);
} rl_remote SEC(".maps");

/* Zeros to create times from (too large for the stack); never written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_times);
} rl_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RL_SERVICES_MAX * 2 * RL_RULES_MAX * 2);
	__type(key, __u32);
	__type(value, __u64);
} rl_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RL_SKIP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} rl_skips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rl_events SEC(".maps");

/* One segment's bytes, a chunk at a time. */
struct chunk {
	__u8 b[CHUNK + 8]; /* + a word read past the last byte (scan_byte) */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chunk);
} rl_chunk SEC(".maps");

static __always_inline void bump(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

static __always_inline void lose(struct rl_conn *c, __u32 why)
{
	c->phase = PH_LOST;
	bump(&rl_skips, why);
}

/* The byte scan of one chunk: stops where the program must decide or skip. */
struct scan {
	struct rl_conn *c;
	__u8 *buf;
	__u32 n;      /* bytes in buf */
	__u32 used;   /* bytes consumed */
	__u8 decide;  /* stopped at the end of a request line's path */
	__u8 begun;   /* a request began in this segment (the latest one) */
	__u8 nbegun;  /* requests begun in this segment */
};

/* Byte k of "content-length" and of "transfer-encoding" (no string constants: no .rodata). */
static __always_inline __u8 cl_char(__u32 k)
{
	const __u64 w0 = 0x2d746e65746e6f63ULL, w1 = 0x6874676e656cULL; /* "content-", "length" */

	return k < 8 ? (__u8)(w0 >> (8 * k)) : (__u8)(w1 >> (8 * ((k - 8) & 7)));
}

static __always_inline __u8 xf_char(__u32 k)
{
	/* "x-forwar", "ded-for" */
	const __u64 w0 = 0x726177726f662d78ULL, w1 = 0x726f662d646564ULL;

	return k < 8 ? (__u8)(w0 >> (8 * k)) : (__u8)(w1 >> (8 * ((k - 8) & 7)));
}

/* The address being read in X-Forwarded-For ends (a comma, the line's end). */
static __always_inline void xff_end(struct rl_conn *c)
{
	if (c->xff_n == 3 && c->xff_oct != XFF_NONE) {
		c->xff_ip = bpf_htonl(c->xff_cur << 8 | c->xff_oct);
		c->xff_ok = 1;
	}
	c->xff_n = 0;
	c->xff_cur = 0;
	c->xff_oct = XFF_NONE;
}

static __always_inline void xff_byte(struct rl_conn *c, __u8 b)
{
	if (b >= '0' && b <= '9') {
		__u16 o = c->xff_oct == XFF_NONE ? 0 : c->xff_oct;

		o = o * 10 + (b - '0');
		if (o > 255)
			c->xff_n = XFF_BAD;
		c->xff_oct = o;
	} else if (b == '.') {
		if (c->xff_oct == XFF_NONE || c->xff_n >= 3)
			c->xff_n = XFF_BAD;
		else {
			c->xff_cur = c->xff_cur << 8 | c->xff_oct;
			c->xff_n++;
			c->xff_oct = XFF_NONE;
		}
	} else if (b == ',') {
		xff_end(c);
	} else if (b != ' ' && b != '\t' && b != '\r') {
		c->xff_n = XFF_BAD; /* IPv6, a name, "unknown": not an IPv4 address */
	}
}

static __always_inline __u8 te_char(__u32 k)
{
	/* "transfer", "-encodin", "g" */
	const __u64 w0 = 0x726566736e617274ULL, w1 = 0x6e69646f636e652dULL;

	if (k < 8)
		return (__u8)(w0 >> (8 * k));
	if (k < 16)
		return (__u8)(w1 >> (8 * (k - 8)));
	return 'g';
}

static __always_inline __u8 lower(__u8 b)
{
	return b >= 'A' && b <= 'Z' ? b | 0x20 : b;
}

static __always_inline void dfa_step(struct rl_conn *c, __u8 b)
{
	__u32 k = c->dfa;
	struct rl_row *row = bpf_map_lookup_elem(&rl_dfa, &k);

	c->dfa = row ? row->next[b] : 0;
}

/* The end of a request's head: its body, or the next request. */
static __always_inline int head_end(struct rl_conn *c)
{
	c->hlen = 0;
	if (c->te) { /* a request's Transfer-Encoding ends in chunked (RFC 9112 6.1) */
		c->phase = PH_CHUNK_SIZE;
		c->cl = 0;
		c->hdr = 0;
		return 0;
	}
	if (c->cl) {
		c->phase = PH_BODY;
		c->left = c->cl;
		return 1; /* skipped by the caller, in bulk */
	}
	c->phase = PH_START;
	return 0;
}

static __always_inline int head_byte(struct rl_conn *c, __u8 b)
{
	__u8 h = c->hdr, l = lower(b);

	if (b == '\n') {
		if (h == HD_BOL || h == HD_CR)
			return head_end(c);
		if (h == HD_XF_VAL)
			xff_end(c);
		c->hdr = HD_BOL;
		return 0;
	}
	if (h == HD_BOL) {
		c->hdr = b == '\r'  ? HD_CR
			 : l == 'c' ? HD_CL + 1
			 : l == 't' ? HD_TE + 1
			 : l == 'x' && c->trusted ? HD_XF + 1
						  : HD_SKIP;
	} else if (h == HD_CR) {
		lose(c, RL_SKIP_NOT_HTTP); /* a CR not followed by LF at a line's start */
		return 1;
	} else if (h > HD_CL - 1 && h < HD_CL + 14) {
		__u32 k = h - HD_CL;

		c->hdr = l == cl_char(k) ? h + 1 : HD_SKIP;
	} else if (h == HD_CL + 14) {
		c->hdr = b == ':' ? HD_CL_VAL : HD_SKIP;
	} else if (h > HD_TE - 1 && h < HD_TE + 17) {
		__u32 k = h - HD_TE;

		c->hdr = l == te_char(k) ? h + 1 : HD_SKIP;
	} else if (h == HD_TE + 17) {
		if (b == ':')
			c->te = 1;
		c->hdr = HD_SKIP;
	} else if (h > HD_XF - 1 && h < HD_XF + 15) {
		__u32 k = h - HD_XF;

		c->hdr = l == xf_char(k) ? h + 1 : HD_SKIP;
	} else if (h == HD_XF + 15) {
		if (b == ':') { /* the last X-Forwarded-For line counts (a proxy appends its own) */
			c->hdr = HD_XF_VAL;
			c->xff_ok = 0;
			c->xff_n = 0;
			c->xff_cur = 0;
			c->xff_oct = XFF_NONE;
		} else {
			c->hdr = HD_SKIP;
		}
	} else if (h == HD_XF_VAL) {
		xff_byte(c, b);
	} else if (h == HD_CL_VAL) {
		if (b >= '0' && b <= '9') {
			if (c->cl > 100000000) {
				lose(c, RL_SKIP_LONG);
				return 1;
			}
			c->cl = c->cl * 10 + (b - '0');
		} else if (b != ' ' && b != '\t' && b != '\r') {
			c->hdr = HD_SKIP;
		}
	}
	return 0;
}

/*
 * One step of the scan, from s->used: a byte, or, where only a line's end
 * matters (the rest of a request line, a header line of no interest), up to
 * SKIP_WORDS words of 8 bytes without a LF at once (most of a head: a
 * callback per byte cost ~10 ns).
 */
#define SKIP_WORDS 4
#define ONES 0x0101010101010101ULL
static int scan_byte(__u32 unused, void *ctx)
{
	struct scan *s = ctx;
	struct rl_conn *c = s->c;
	__u32 i = s->used;
	__u8 b;

	(void)unused;
	if (i >= s->n)
		return 1;
	if (c->phase == PH_LINE_REST || (c->phase == PH_HEAD && c->hdr == HD_SKIP)) {
		__u32 from = i;

#pragma unroll
		for (int k = 0; k < SKIP_WORDS; k++) {
			__u64 v, x;

			if (i + 8 > s->n)
				break;
			__builtin_memcpy(&v, &s->buf[i & (CHUNK - 1)], 8);
			x = v ^ ('\n' * ONES);
			x = (x - ONES) & ~x & (0x80 * ONES); /* its lowest bit: the first LF */
			if (x) {
				/* To that LF (a binary search: no ctz instruction, no table). */
				if (!(x & 0xffffffffULL)) {
					i += 4;
					x >>= 32;
				}
				if (!(x & 0xffff)) {
					i += 2;
					x >>= 16;
				}
				if (!(x & 0xff))
					i += 1;
				break;
			}
			i += 8;
		}
		c->hlen += i - from;
		if (i >= s->n) {
			s->used = i;
			return 1;
		}
	}
	b = s->buf[i & (CHUNK - 1)];
	s->used = i + 1;
	if (c->phase != PH_START && ++c->hlen > RL_HEAD_MAX) {
		lose(c, RL_SKIP_LONG);
		return 1;
	}
	switch (c->phase) {
	case PH_START:
		if (b >= 'A' && b <= 'Z') {
			c->phase = PH_LINE;
			c->dfa = (rl_half & 1) * RL_DFA_STATES + 1;
			c->sp = 0;
			c->cl = 0;
			c->te = 0;
			c->pending = 0;
			c->xff_ok = 0;
			c->hlen = 1;
			s->begun = 1;
			s->nbegun++;
			dfa_step(c, b);
		} else if (b != '\r' && b != '\n') { /* CRLFs between requests are allowed */
			lose(c, RL_SKIP_NOT_HTTP);
			return 1;
		}
		return 0;
	case PH_LINE:
		if (!c->sp) {
			if (b == ' ')
				c->sp = 1;
			else if (b < 'A' || b > 'Z') {
				lose(c, RL_SKIP_NOT_HTTP);
				return 1;
			}
			dfa_step(c, b);
		} else if (b == ' ' || b == '?' || b == '#' || b == '\r' || b == '\n') {
			c->phase = b == '\n' ? PH_HEAD : PH_LINE_REST;
			c->hdr = HD_BOL;
			if (c->trusted) { /* the client is named in the head: decide at its end */
				c->pending = 1;
				return 0;
			}
			s->decide = 1;
			return 1;
		} else if (c->hlen > RL_LINE_MAX) {
			lose(c, RL_SKIP_LONG);
			return 1;
		} else {
			dfa_step(c, b);
		}
		return 0;
	case PH_LINE_REST:
		if (b == '\n') {
			c->phase = PH_HEAD;
			c->hdr = HD_BOL;
		}
		return 0;
	case PH_CHUNK_SIZE: /* HEX[;ext] CRLF; hdr 1: in the extension */
		if (b == '\n') {
			c->hlen = 0;
			if (!c->cl) {
				c->phase = PH_TRAILER;
				c->hdr = HD_BOL;
				return 0;
			}
			c->phase = PH_CHUNK_DATA;
			c->left = c->cl + 2; /* its data, then CRLF: skipped by the caller */
			return 1;
		}
		if (c->hdr || b == '\r')
			return 0;
		if (b == ';' || b == ' ' || b == '\t') {
			c->hdr = 1;
		} else if (c->cl >= (1U << 27)) {
			lose(c, RL_SKIP_CHUNKED);
			return 1;
		} else if (b >= '0' && b <= '9') {
			c->cl = c->cl * 16 + (b - '0');
		} else if ((b | 0x20) >= 'a' && (b | 0x20) <= 'f') {
			c->cl = c->cl * 16 + ((b | 0x20) - 'a' + 10);
		} else {
			lose(c, RL_SKIP_CHUNKED);
			return 1;
		}
		return 0;
	case PH_TRAILER:
		if (b == '\n') {
			if (c->hdr != HD_SKIP) {
				c->phase = PH_START;
				c->hlen = 0;
			}
			c->hdr = HD_BOL;
		} else if (b == '\r' && c->hdr == HD_BOL) {
			c->hdr = HD_CR;
		} else {
			c->hdr = HD_SKIP;
		}
		return 0;
	case PH_HEAD: {
		int stop = head_byte(c, b);

		if (c->pending && c->phase != PH_HEAD) { /* the head of a matched request ended */
			c->pending = 0;
			s->decide = 1;
			return 1;
		}
		return stop;
	}
	default:
		return 1;
	}
}

/*
 * Admit a request of rule r from client k at now, or not: then *retry is
 * the seconds until the oldest admission leaves the window. -1: no room.
 */
static __always_inline int admit(const struct rl_rule *r, struct rl_key *k, __u64 now,
				 __u32 *retry)
{
	struct rl_log *l = bpf_map_lookup_elem(&rl_state, k);
	struct rl_times *t = bpf_map_lookup_elem(&rl_times, k);
	__u32 *remote = bpf_map_lookup_elem(&rl_remote, k);
	__u32 zero = 0, lim = r->limit, pos, eff, back;
	__u64 oldest;
	int ok = 1;

	if (!t) {
		struct rl_times *z = bpf_map_lookup_elem(&rl_zero, &zero);

		if (!z)
			return -1;
		bpf_map_update_elem(&rl_times, k, z, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&rl_times, k);
		if (!t)
			return -1;
	}
	if (!l) {
		struct rl_log fresh = {};

		bpf_map_update_elem(&rl_state, k, &fresh, BPF_NOEXIST);
		l = bpf_map_lookup_elem(&rl_state, k);
		if (!l)
			return -1;
	}
	if (lim < 1 || lim > RL_LIMIT_MAX)
		lim = RL_LIMIT_MAX;
	bpf_spin_lock(&l->lock);
	if (l->limit != lim) { /* a new log (or a rule's limit changed under it) */
		l->limit = lim;
		l->n = 0;
		l->pos = 0;
	}
	pos = l->pos < lim ? l->pos : 0;
	/*
	 * The other nodes' admissions in the window (--ratelimit-redis) leave
	 * eff for this one: admitted when fewer than eff of its own are in the
	 * window, that is when its eff-th latest is older than the window.
	 */
	eff = remote && *remote < lim ? lim - *remote : remote ? 0 : lim;
	back = pos >= eff ? pos - eff : pos + lim - eff;
	oldest = t->ts[back & (RL_LIMIT_MAX - 1)];
	if (!eff) {
		ok = 0;
		*retry = 1; /* the next sync may free a slot */
	} else if (l->n >= eff && now - oldest < r->window_ns) {
		ok = 0;
		*retry = (__u32)((oldest + r->window_ns - now + 999999999ULL) / 1000000000ULL);
	} else {
		t->ts[pos & (RL_LIMIT_MAX - 1)] = now;
		l->pos = pos + 1 < lim ? pos + 1 : 0;
		if (l->n < lim)
			l->n++;
	}
	bpf_spin_unlock(&l->lock);
	return ok;
}

/*
 * The 429 (rl_resp, one copy per CPU written by userspace at load:
 * RL_RESP_LEN bytes with RL_RETRY_DIGITS spaces at RL_RETRY_AT where
 * Retry-After's value goes, followed by spaces: optional whitespace, RFC 9110
 * 5.5). Each CPU writes the digits into its own copy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_resp);
} rl_resp SEC(".maps");

static __always_inline int answer_429(struct __sk_buff *skb, __u64 *cookie, __u32 retry)
{
	__u32 zero = 0, p = 1, nd = 1, v = retry < 1 ? 1 : retry > 999999 ? 999999 : retry;
	struct rl_resp *r = bpf_map_lookup_elem(&rl_resp, &zero);

	if (!r)
		return SK_DROP;
#pragma unroll
	for (int i = 0; i < RL_RETRY_DIGITS - 1; i++)
		if (v >= p * 10) {
			p *= 10;
			nd++;
		}
#pragma unroll
	for (int i = 0; i < RL_RETRY_DIGITS; i++) {
		if (i < nd) {
			r->b[RL_RETRY_AT + i] = '0' + (v / p) % 10;
			p /= 10;
		} else {
			r->b[RL_RETRY_AT + i] = ' ';
		}
	}
	if (bpf_skb_change_tail(skb, RL_RESP_LEN, 0) ||
	    bpf_skb_store_bytes(skb, 0, r->b, RL_RESP_LEN, 0))
		return SK_DROP;
	return bpf_sk_redirect_hash(skb, &rl_socks, cookie, 0);
}

static __always_inline void client_key(struct __sk_buff *skb, struct rl_key *k)
{
	k->family = skb->family == 10 ? SONDE_AF_INET6 : SONDE_AF_INET;
	if (k->family == SONDE_AF_INET6) {
		__u32 a[4] = { skb->remote_ip6[0], skb->remote_ip6[1], skb->remote_ip6[2],
			       skb->remote_ip6[3] };

		/* IPv4-mapped (::ffff:a.b.c.d) is the IPv4 client. */
		if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
			k->family = SONDE_AF_INET;
			__builtin_memcpy(k->addr, &a[3], 4);
		} else {
			__builtin_memcpy(k->addr, a, 16);
		}
	} else {
		__u32 a = skb->remote_ip4;

		__builtin_memcpy(k->addr, &a, 4);
	}
}

/* A request's line ended here: match it; 1 when it must be answered 429 (retry set). */
static __always_inline int decide(struct __sk_buff *skb, struct rl_conn *c, struct scan *s,
				  __u64 now, __u32 *rule_out, __u32 *retry, struct rl_key *k)
{
	__u32 st = c->dfa, idx;
	__u8 *acc = bpf_map_lookup_elem(&rl_accept, &st);
	struct rl_rule *r;
	int ok;

	if (!acc || !*acc)
		return 0;
	idx = (*acc - 1) & (2 * RL_RULES_MAX - 1);
	r = bpf_map_lookup_elem(&rl_rules, &idx);
	if (!r)
		return 0;
	if (!s->begun) { /* its first bytes went to the server in an earlier segment */
		bump(&rl_skips, RL_SKIP_SPLIT);
		return 0;
	}
	__builtin_memset(k, 0, sizeof(*k));
	if (c->trusted && c->xff_ok) {
		k->family = SONDE_AF_INET;
		__builtin_memcpy(k->addr, &c->xff_ip, 4);
	} else {
		client_key(skb, k);
	}
	k->rule_id = r->id;
	ok = admit(r, k, now, retry);
	if (ok < 0) {
		bump(&rl_skips, RL_SKIP_MAP_FULL);
		return 0;
	}
	if (!ok && s->nbegun > 1) { /* a request behind another in this segment */
		bump(&rl_skips, RL_SKIP_PIPELINED);
		ok = 1;
	}
	bump(&rl_counts,
	     ((((__u32)c->slot - 1) & (RL_SERVICES_MAX - 1)) * 2 * RL_RULES_MAX + idx) * 2 +
		     (ok ? RL_ALLOWED : RL_LIMITED));
	*rule_out = idx;
	return !ok;
}

static __always_inline void report(struct __sk_buff *skb, struct rl_conn *c, __u32 rule,
				   __u32 retry, __u64 now, const struct rl_key *k)
{
	struct rl_event *ev = bpf_ringbuf_reserve(&rl_events, sizeof(*ev), 0);

	if (!ev)
		return;
	__builtin_memcpy(ev->addr, k->addr, 16);
	ev->ts_ns = now;
	ev->family = k->family;
	ev->port = (__u16)bpf_ntohl(skb->remote_port); /* the kernel puts it in the high half */
	ev->local_port = (__u16)skb->local_port;
	ev->rule = (__u8)rule;
	ev->slot = c->slot - 1;
	ev->retry_after = retry;
	ev->_pad = 0;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

/* The passes over one segment (a bpf_loop callback: verified once, not per pass). */
struct pass {
	struct __sk_buff *skb;
	struct rl_conn *c;
	struct scan s;
	__u64 now;
	__u32 len, off, rule, retry;
	struct rl_key key; /* the client of the request answered 429 */
	__u8 limited; /* stopped at a request to answer 429 */
	__u8 done;    /* stopped at the segment's end, or at a connection given up */
};

static int pass_cb(__u32 i, void *ctx)
{
	struct pass *p = ctx;
	struct rl_conn *c = p->c;
	__u32 n;

	if (p->off >= p->len || c->phase == PH_LOST) {
		p->done = 1;
		return 1;
	}
	if (c->phase == PH_BODY || c->phase == PH_CHUNK_DATA) {
		n = p->len - p->off < c->left ? p->len - p->off : c->left;
		c->left -= n;
		p->off += n;
		if (!c->left) {
			c->phase = c->phase == PH_BODY ? PH_START : PH_CHUNK_SIZE;
			c->cl = 0;
			c->hdr = 0;
		}
		return 0;
	}
	n = p->len - p->off < CHUNK ? p->len - p->off : CHUNK;
	if (bpf_skb_load_bytes(p->skb, p->off, p->s.buf, n & (CHUNK - 1) ? n & (CHUNK - 1) : CHUNK)) {
		p->done = 1;
		return 1;
	}
	p->s.n = n;
	p->s.used = 0;
	p->s.decide = 0;
	bpf_loop(CHUNK, scan_byte, &p->s, 0);
	p->off += p->s.used;
	if (p->s.decide && decide(p->skb, c, &p->s, p->now, &p->rule, &p->retry, &p->key)) {
		p->limited = 1;
		return 1;
	}
	if (!p->s.used && !p->s.decide) { /* cannot be: every pass consumes or stops */
		p->done = 1;
		return 1;
	}
	return 0;
}

SEC("sk_skb")
int sonde_rl_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct rl_conn *c = bpf_map_lookup_elem(&rl_conns, &cookie);
	struct pass p = {};
	struct chunk *ch;
	__u32 zero = 0;

	if (!c)
		return SK_PASS;
	if (c->phase == PH_BLOCKED)
		return SK_DROP;
	if (c->phase == PH_LOST)
		return SK_PASS;
	ch = bpf_map_lookup_elem(&rl_chunk, &zero);
	if (!ch)
		return SK_PASS;
	p.skb = skb;
	p.c = c;
	p.s.c = c;
	p.s.buf = ch->b;
	p.now = bpf_ktime_get_ns();
	p.len = skb->len;
	bpf_loop(PASSES, pass_cb, &p, 0);
	if (p.limited) {
		report(skb, c, p.rule, p.retry, p.now, &p.key);
		c->phase = PH_BLOCKED;
		return answer_429(skb, &cookie, p.retry);
	}
	if (!p.done && p.off < p.len) /* more stops than passes in one segment */
		lose(c, RL_SKIP_LONG);
	return SK_PASS;
}

SEC("sockops")
int sonde_rl_sockops(struct bpf_sock_ops *skops)
{
	struct rl_conn c = {};
	__u32 port;
	__u64 cookie;
	__u8 *slot;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	port = skops->local_port;
	slot = bpf_map_lookup_elem(&rl_ports, &port);
	if (!slot)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	c.slot = *slot;
	{
		struct rl_prefix pk = { .prefixlen = 8 + 128 };
		__u32 a[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			       skops->remote_ip6[3] };

		if (skops->family == 10 &&
		    !(a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff))) {
			pk.family = SONDE_AF_INET6;
			__builtin_memcpy(pk.addr, a, 16);
		} else {
			__u32 v4 = skops->family == 10 ? a[3] : skops->remote_ip4;

			pk.prefixlen = 8 + 32;
			pk.family = SONDE_AF_INET;
			__builtin_memcpy(pk.addr, &v4, 4);
		}
		c.trusted = bpf_map_lookup_elem(&rl_trusted, &pk) != NULL;
	}
	if (bpf_map_update_elem(&rl_conns, &cookie, &c, BPF_ANY)) {
		bump(&rl_skips, RL_SKIP_MAP_FULL);
		return 1;
	}
	bpf_sock_hash_update(skops, &rl_socks, &cookie, BPF_NOEXIST);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
