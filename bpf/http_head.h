/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An HTTP/1.x request head, scanned line by line in a BPF program: where the
 * request line ends, where the head ends, Content-Length, Transfer-Encoding
 * and the trace headers. The bytes sit in a map value (a record of the
 * capture ring, or the sk_msg program's per-CPU copy) with at least
 * HEAD_SLACK readable bytes past HEAD_MASK + 1: every read is masked there.
 *
 * Run as bpf_loop(HEAD_STEPS, head_step, &scan, 0): step i reads bytes
 * [8i, 8i + 8) and looks at the line after each LF among them.
 */
#ifndef SONDE_BPF_HTTP_HEAD_H
#define SONDE_BPF_HTTP_HEAD_H

#define HEAD_MASK  4095
#define HEAD_SLACK 64
#define HEAD_STEPS ((HEAD_MASK + 1) / 8)

struct head_scan {
	__u8 *b;        /* the head's first byte */
	__u32 n;        /* bytes of it in b (at most HEAD_MASK + 1) */
	__u32 line_end; /* just past the request line's LF; 0: not seen */
	__u32 end;      /* just past the empty line that ends the head; 0: not seen */
	__u32 tp;       /* where traceparent's value begins (after the colon); 0: none */
	__u32 cl;       /* Content-Length */
	__u8 trace;     /* a traceparent, b3 or X-B3-TraceId header */
	__u8 chunked;   /* a Transfer-Encoding header */
	__u8 cl_bad;    /* a Content-Length that is not a number */
	__u8 _pad;
};

/*
 * HEAD_B3_SEEN(): what the traceparent-only scan does on a b3 or X-B3-* line
 * (the capture programs note it in a map, where the loop's state does not
 * change with it); nothing by default.
 */
#ifndef HEAD_B3_SEEN
#define HEAD_B3_SEEN() do { } while (0)
#endif

#define HB(s, o) ((s)->b[(o) & HEAD_MASK])
/* Eight bytes at o, lower-cased (| 0x20 leaves ':', '-' and digits as they are). */
static __always_inline __u64 head_word_lc(struct head_scan *s, __u32 o)
{
	__u64 w;

	__builtin_memcpy(&w, &s->b[o & HEAD_MASK], 8);
	return w | 0x2020202020202020ULL;
}

struct cl_parse {
	struct head_scan *s;
	__u32 o, v, nd;
	__u8 bad, stop;
};

/* One byte of Content-Length's value (a bpf_loop step: verified once, not per byte). */
static int cl_step(__u32 i, void *ctx)
{
	struct cl_parse *p = ctx;
	__u8 c = HB(p->s, p->o + i);

	if (c >= '0' && c <= '9') {
		if (++p->nd > 9)
			p->bad = 1;
		p->v = p->v * 10 + (c - '0');
		return 0;
	}
	if ((c == ' ' || c == '\t') && !p->nd)
		return 0;
	p->stop = 1;
	if ((c != '\r' && c != '\n' && c != ' ') || !p->nd)
		p->bad = 1;
	return 1;
}

/* Content-Length's digits from o (optional spaces first). */
static __always_inline void head_cl(struct head_scan *s, __u32 o)
{
	struct cl_parse p = { .s = s, .o = o };

	bpf_loop(16, cl_step, &p, 0);
	s->cl_bad |= p.bad | !p.stop;
	s->cl = p.v;
}

/*
 * The line starting at q (just past an LF). Returns 1 when the head ended
 * there. full: also the headers that delimit the body and the B3 ones (the
 * sk_msg program); else only traceparent (the capture programs, whose
 * verification this keeps small).
 */
static __always_inline int head_line_of(struct head_scan *s, __u32 q, int full)
{
	__u64 w0, w1;
	__u8 c = HB(s, q);

	if (c == '\r' || c == '\n') {
		if (c == '\n')
			s->end = q + 1;
		else if (q + 1 < s->n && HB(s, q + 1) == '\n')
			s->end = q + 2;
		else
			return 0;
		return 1;
	}
	/*
	 * Names are read 16 bytes at a time, past n at the head's end (the
	 * buffer's slack): a value cut there fails its own bounds check
	 * (traceparent's 55 bytes, Content-Length's digits), and the shortest
	 * lines looked for ("b3: 0", the last header) are 8 bytes with the CRLF
	 * that ends the head.
	 */
	if (q + 8 > s->n)
		return 0;
	w0 = head_word_lc(s, q);
	w1 = head_word_lc(s, q + 8);
	/* Little-endian constants: the bytes of the name, first byte lowest. */
	if (w0 == 0x7261706563617274ULL /* "tracepar" */ &&
	    (w1 & 0xffffffff) == 0x3a746e65 /* "ent:" */) {
		s->trace = 1;
		s->tp = q + 12;
	} else if (!full) {
		if ((w0 & 0xffffff) == 0x3a3362 /* "b3:" */ ||
		    (w0 & 0xffffffffffULL) == 0x2d33622d78ULL /* "x-b3-" */)
			HEAD_B3_SEEN();
		return 0;
	} else if ((w0 & 0xffffff) == 0x3a3362 /* "b3:" */ ||
		   (w0 == 0x6172742d33622d78ULL /* "x-b3-tra" */ &&
		    (w1 & 0xffffffffff) == 0x3a64696563ULL /* "ceid:" */)) {
		s->trace = 1;
	} else if (w0 == 0x2d746e65746e6f63ULL /* "content-" */ &&
		   (w1 & 0xffffffffffffffULL) == 0x3a6874676e656cULL /* "length:" */) {
		head_cl(s, q + 15);
	} else if (w0 == 0x726566736e617274ULL /* "transfer" */ &&
		   w1 == 0x6e69646f636e652dULL /* "-encodin" */) {
		s->chunked = 1;
	}
	return 0;
}

/*
 * The LF at p (just before a line start). Every offset here comes from the
 * loop's index, never from what earlier steps stored: the verifier then sees
 * one step, not one per position (it would walk the loop to its end).
 */
static __always_inline int head_lf(struct head_scan *s, __u32 p, int full)
{
	if (p >= s->n)
		return 1;
	if (!s->line_end) {
		s->line_end = p + 1;
		/* A request line ends in "HTTP/1.x\r\n". */
		if (p < 10 || HB(s, p - 1) != '\r' || HB(s, p - 9) != 'H' || HB(s, p - 5) != '/') {
			s->line_end = 0;
			s->end = 1; /* stop: no head here (line_end 0 says so) */
			return 1;
		}
	}
	if (p + 1 >= s->n)
		return 1;
	return head_line_of(s, p + 1, full);
}

static __always_inline int head_step_of(__u32 i, struct head_scan *s, int full)
{
	__u32 o = i * 8;
	__u8 c[8];

	if (o >= s->n || s->end)
		return 1;
	__builtin_memcpy(c, &s->b[o & HEAD_MASK], 8);
#pragma unroll
	for (int j = 0; j < 8; j++)
		if (c[j] == '\n' && head_lf(s, o + j, full))
			return 1;
	return 0;
}

/* bpf_loop steps: every header this file knows, or traceparent only. */
static __attribute__((unused)) int head_step(__u32 i, void *ctx)
{
	return head_step_of(i, ctx, 1);
}

static __attribute__((unused)) int head_step_tp(__u32 i, void *ctx)
{
	return head_step_of(i, ctx, 0);
}

struct line_hash {
	struct head_scan *s;
	__u32 n;
	__u64 h;
};

static int line_hash_step(__u32 i, void *ctx)
{
	struct line_hash *l = ctx;
	__u32 o = i * 8;
	__u64 w;

	if (o >= l->n)
		return 1;
	__builtin_memcpy(&w, &l->s->b[o & HEAD_MASK], 8);
	if (l->n - o < 8)
		w &= (1ULL << ((l->n - o) * 8)) - 1;
	l->h = (l->h ^ w) * 0x100000001b3ULL;
	l->h ^= l->h >> 29;
	return 0;
}

/*
 * A hash of the request line's method and target (not its version: a proxy
 * may speak another), once head_step saw the line end; 0 if it did not.
 */
static __always_inline __u64 head_line_hash(struct head_scan *s)
{
	struct line_hash l = { .s = s, .h = 0xcbf29ce484222325ULL };

	if (s->line_end < 12)
		return 0;
	l.n = s->line_end - 11;
	bpf_loop((HEAD_MASK + 1) / 8, line_hash_step, &l, 0);
	return l.h | 1;
}

/* Do these 4 bytes begin an HTTP request line (a common method and its space)? */
static __always_inline int http_request_start(const __u8 *p)
{
	__u32 w;

	__builtin_memcpy(&w, p, 4);
	switch (w) {
	case 0x20544547: /* "GET " */
	case 0x54534f50: /* "POST" */
	case 0x20545550: /* "PUT " */
	case 0x454c4544: /* "DELE" */
	case 0x44414548: /* "HEAD" */
	case 0x43544150: /* "PATC" */
	case 0x4954504f: /* "OPTI" */
		return 1;
	default:
		return 0;
	}
}

static __always_inline int hexval(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * traceparent's value at o: "00-" 32 hex "-" 16 hex "-" 2 hex (spaces
 * first). Returns 1 and fills trace/parent/sampled when it is one, with
 * neither id all zeros.
 */
struct tp_parse {
	struct head_scan *s;
	__u32 o;
	int bad;
	__u64 hi, lo, sp;
};

/* The i-th hex digit of each of the three numbers (a bpf_loop step). */
static int tp_step(__u32 i, void *ctx)
{
	struct tp_parse *p = ctx;
	int a = hexval(HB(p->s, p->o + 3 + i)), b = hexval(HB(p->s, p->o + 19 + i)),
	    c = hexval(HB(p->s, p->o + 36 + i));

	p->bad |= a | b | c;
	p->hi = p->hi << 4 | (a & 15);
	p->lo = p->lo << 4 | (b & 15);
	p->sp = p->sp << 4 | (c & 15);
	return 0;
}

static __always_inline int head_traceparent(struct head_scan *s, __u32 o, __u8 trace[16],
					    __u64 *parent, __u8 *sampled)
{
	struct tp_parse p = { .s = s };
	__u64 hi, lo, sp;
	int f1, f2;

	if (HB(s, o) == ' ')
		o++;
	if (HB(s, o) == ' ')
		o++;
	if (o + 55 > s->n || HB(s, o) != '0' || HB(s, o + 1) != '0' || HB(s, o + 2) != '-' ||
	    HB(s, o + 35) != '-' || HB(s, o + 52) != '-')
		return 0;
	p.o = o;
	bpf_loop(16, tp_step, &p, 0);
	hi = p.hi;
	lo = p.lo;
	sp = p.sp;
	f1 = hexval(HB(s, o + 53));
	f2 = hexval(HB(s, o + 54));
	if (p.bad < 0 || f1 < 0 || f2 < 0 || (!hi && !lo) || !sp)
		return 0;
	hi = __builtin_bswap64(hi);
	lo = __builtin_bswap64(lo);
	__builtin_memcpy(trace, &hi, 8);
	__builtin_memcpy(trace + 8, &lo, 8);
	*parent = sp;
	*sampled = f2 & 1;
	return 1;
}

#endif /* SONDE_BPF_HTTP_HEAD_H */
