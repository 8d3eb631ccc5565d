// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x framing and request/response pairing (see http.h).
 *
 * Each direction ("half") runs its own state machine over the bytes of one
 * syscall at a time. sonde may attach to a connection in the middle of a
 * message and may miss bytes (capture limit, sendfile), so a half is either in
 * step with message boundaries (idle, head, body states) or out of step
 * (resync, until-next). Out of step, only a feed that *begins* with a start
 * line can bring it back in step: such a head is a "candidate" until its start
 * line validates; if it does not, its bytes were just more of whatever came
 * before. In step, anything that is not a valid message is malformed: it is
 * counted, a malformed request still takes its place in the pairing (its
 * response is the server's answer to it), and the half goes out of step.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

enum half_state {
	ST_RESYNC = 0, /* out of step, no current message: wait for a feed starting a message */
	ST_IDLE,       /* in step, between messages */
	ST_HEAD,       /* buffering a head */
	ST_BODY_LEN,   /* Content-Length body */
	ST_BODY_CHUNKED,
	ST_UNTIL_CLOSE, /* response body delimited by the end of the connection */
	ST_UNTIL_NEXT,  /* framing lost: the message lasts until a feed starts the next one */
	ST_DONE,        /* protocol switched or connection closed: ignore everything */
};

enum half_kind {
	KIND_ANY = 0, /* role unknown yet: look for requests in both directions */
	KIND_REQ = 1,
	KIND_RESP = 2,
};

/* Start-line validator states (request line, then status line). */
enum sl_state {
	SL_METHOD = 0,
	SL_TARGET,
	SL_RVERSION,
	SL_RCR,
	SL_SVERSION,
	SL_CODE,
	SL_REASON,
	SL_SCR,
	SL_OK,
};

enum sl_result { SL_MORE, SL_DONE, SL_BAD };

/* End-of-head scanner: an empty line (CRLF or bare LF) ends the head. */
enum eoh_state { EOH_LINE = 0, EOH_BOL, EOH_BOL_CR };

/* Chunked decoder sub-states. */
enum chunk_state {
	CK_SIZE = 0,
	CK_SIZE_WS,
	CK_EXT,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER_BOL,
	CK_TRAILER,
	CK_END_LF,
};

#define CL_MAX (1ULL << 53)

#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

static const char http_ver[] = "HTTP/1.";

/* One call to http_conn_feed() or http_conn_close(). */
struct feed {
	struct http_conn *c;
	struct http_half *h;
	enum http_dir dir;
	const uint8_t *data;
	size_t len;
	size_t off;
	uint64_t unseen;
	uint64_t ts;
	uint64_t prev_ts; /* h->head_last_ts before this feed */
	struct http_exchange *out;
	int max_out;
	int n;
};

/* What the head says about framing. */
struct head_info {
	int status;
	uint64_t cl;
	bool has_cl;
	bool te;
	bool chunked;
	bool conn_close;
	bool keep_alive;
	bool upgrade; /* "Connection: upgrade": the request asks for another protocol */
};

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static bool is_tchar(uint8_t b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || is_digit(b))
		return true;
	return b && strchr("!#$%&'*+-.^_`|~", b);
}

static int hex_val(uint8_t b)
{
	if (is_digit(b))
		return b - '0';
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	if (b >= 'A' && b <= 'F')
		return b - 'A' + 10;
	return -1;
}

static uint8_t lower(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') ? b + ('a' - 'A') : b;
}

static inline uint64_t load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * lower(a[i]) == lit[i] for the 8 (or 4) bytes at once, for a lit whose bytes
 * are lower-case letters or below 0x40 (digits, '-'): a letter's bit 6, moved
 * to bit 5, is where lit allows the case bit in a; elsewhere a must be lit.
 */
#define CASE_BITS(l, ones) (((l) >> 1) & (ones) * 0x20)
#define ieq_word(a, l, ones) (((a) | CASE_BITS(l, ones)) == (l))

/*
 * a[0..n) is the lower-case lit[0..n), in any case. lit: lower-case letters
 * and bytes below 0x40 only (all the names and tokens below are).
 */
static inline bool ieq_n(const char *a, const char *lit, size_t n)
{
	const uint64_t ones64 = 0x0101010101010101ULL;
	const uint32_t ones32 = 0x01010101U;
	size_t i;

	if (n >= 8) {
		/* Words at 0, 8, ... and the last 8 bytes (overlapping). */
		for (i = 0; i + 8 < n; i += 8)
			if (!ieq_word(load64(a + i), load64(lit + i), ones64))
				return false;
		return ieq_word(load64(a + n - 8), load64(lit + n - 8), ones64);
	}
	if (n >= 4)
		return ieq_word(load32(a), load32(lit), ones32) &&
		       ieq_word(load32(a + n - 4), load32(lit + n - 4), ones32);
	for (i = 0; i < n; i++)
		if (lower(a[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* Header names are compared for every header line: the length (a constant) first. */
#define ieq(a, alen, lit) ((alen) == sizeof(lit) - 1 && ieq_n(a, lit, sizeof(lit) - 1))

static void copy_str(char *dst, size_t dstsz, const char *src, size_t len)
{
	if (len > dstsz - 1)
		len = dstsz - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * A tracestate header appended to what earlier ones gave (W3C: several
 * headers are one list). A list too long loses list-members from its right
 * end, whole, as the W3C allows; never one cut in the middle.
 */
static void add_tracestate(char *dst, size_t dstsz, const char *v, size_t vlen)
{
	size_t have = strlen(dst), room;

	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == ','))
		vlen--;
	if (!vlen)
		return;
	if (have + (have ? 1 : 0) >= dstsz - 1)
		return;
	room = dstsz - 1 - have - (have ? 1 : 0);
	if (vlen > room) {
		const char *comma = NULL;

		for (size_t i = 0; i <= room && i < vlen; i++)
			if (v[i] == ',')
				comma = v + i;
		if (!comma)
			return;
		vlen = (size_t)(comma - v);
	}
	if (have)
		dst[have++] = ',';
	memcpy(dst + have, v, vlen);
	dst[have + vlen] = '\0';
}

/* ---- pending requests ---- */

static struct http_pending *pending_find(struct http_conn *c, uint32_t seq)
{
	uint32_t i = seq - c->first_seq;

	if (i >= c->npending)
		return NULL;
	return &c->pending[(c->first + i) % HTTP_PIPELINE_MAX];
}

uint32_t http_conn_begun(const struct http_conn *c)
{
	return c->first_seq + c->npending;
}

const struct http_exchange *http_conn_request(const struct http_conn *c, uint32_t seq)
{
	uint32_t i = seq - c->first_seq;

	if (i >= c->npending)
		return NULL;
	return &c->pending[(c->first + i) % HTTP_PIPELINE_MAX].x;
}

static void pending_pop(struct http_conn *c)
{
	c->first = (c->first + 1) % HTTP_PIPELINE_MAX;
	c->first_seq++;
	c->npending--;
}

static struct http_pending *pending_push(struct http_conn *c, uint32_t *seq)
{
	/* A peer that never answers must not stall pairing for later requests. */
	if (c->npending == HTTP_PIPELINE_MAX)
		pending_pop(c);
	/*
	 * Without pipelining there is at most one pending request: keep it in
	 * slot 0, whose cache lines are warm, rather than walk all the slots.
	 */
	if (!c->npending)
		c->first = 0;
	*seq = c->first_seq + c->npending;
	return &c->pending[(c->first + c->npending++) % HTTP_PIPELINE_MAX];
}

/*
 * A response that answers no request we saw goes before every pending one (it
 * began before they did): a placeholder of its own at the front. NULL if full.
 */
static struct http_pending *pending_unshift(struct http_conn *c)
{
	if (c->npending == HTTP_PIPELINE_MAX)
		return NULL;
	c->first = (c->first + HTTP_PIPELINE_MAX - 1) % HTTP_PIPELINE_MAX;
	c->first_seq--;
	c->npending++;
	/*
	 * Its sequence number is the one before the oldest pending: a message
	 * still going on whose request was popped (answered early) may hold it.
	 * That message has no entry any more; it must not take this one.
	 */
	for (int i = 0; i < 2; i++)
		if (c->half[i].has_msg && c->half[i].seq == c->first_seq)
			c->half[i].has_msg = false;
	return &c->pending[c->first];
}

static void count_error(struct http_conn *c, enum http_error e)
{
	if (c->errors[e] < UINT16_MAX)
		c->errors[e]++;
	c->err_pending = true;
}

static void emit(struct feed *f, const struct http_exchange *x)
{
	if (f->out && f->n < f->max_out)
		f->out[f->n++] = *x;
}

static bool is_req_half(const struct http_half *h)
{
	return h->kind != KIND_RESP;
}

/* ---- message bookkeeping ---- */

/* n more bytes of h's current message, the latest of them seen at ts. */
static void msg_add(struct http_conn *c, struct http_half *h, uint64_t n, uint64_t ts)
{
	struct http_pending *p;

	if (!n)
		return;
	h->msg_bytes += n;
	h->last_ts = ts;
	if (!h->has_msg)
		return;
	p = pending_find(c, h->seq);
	if (!p)
		return;
	/* Written through so that an early response sees the request as far as it got. */
	if (is_req_half(h)) {
		p->x.req_bytes = h->msg_bytes;
		p->x.req_end_ts = ts;
	} else {
		p->x.resp_bytes = h->msg_bytes;
		p->x.resp_end_ts = ts;
	}
}

/* h's current message is complete; a response completes its exchange. The caller sets state. */
/* A kept body's next n bytes (data NULL: n bytes not seen). */
static void body_keep(struct http_half *h, const uint8_t *data, uint64_t n)
{
	uint64_t room = HTTP_BODY_MAX - h->body_len;

	if (!data || n > room)
		h->body_cut = true;
	if (data && n && room) {
		memcpy(h->body + h->body_len, data, n < room ? n : room);
		h->body_len += (uint32_t)(n < room ? n : room);
	}
}

/* Begin keeping (or not) the body of the message numbered seq. */
static void body_begin(struct http_half *h, bool keep, uint32_t seq)
{
	h->body_keep = keep;
	h->body_cut = false;
	h->body_done = false;
	h->body_seq = seq;
	h->body_len = 0;
}

/* The kept bodies of the exchange x, which rs (the response's half) just ended. */
static void attach_bodies(struct feed *f, struct http_half *rs, struct http_exchange *x)
{
	struct http_half *rq = &f->c->half[!f->dir];

	if ((x->keep & HTTP_KEEP_REQ) && rq->body_seq == x->seq) {
		x->req_body = rq->body;
		x->req_body_len = rq->body_len;
		x->req_body_cut = rq->body_cut || !rq->body_done;
	}
	if ((x->keep & HTTP_KEEP_RESP) && rs->body_keep && rs->body_seq == x->seq) {
		x->resp_body = rs->body;
		x->resp_body_len = rs->body_len;
		x->resp_body_cut = rs->body_cut || !rs->body_done;
	}
}

static void msg_end(struct feed *f, struct http_half *h)
{
	struct http_conn *c = f->c;
	struct http_pending *p;

	if (!h->has_msg)
		return;
	h->has_msg = false;
	p = pending_find(c, h->seq);
	if (!p)
		return;
	if (h->body_keep)
		h->body_done = true;
	if (is_req_half(h)) {
		p->x.req_bytes = h->msg_bytes;
		p->x.req_end_ts = h->last_ts;
		return;
	}
	p->x.resp_bytes = h->msg_bytes;
	p->x.resp_end_ts = h->last_ts;
	/* Responses come in request order, so only the oldest can complete. */
	if (h->seq == c->first_seq) {
		if (p->x.keep)
			attach_bodies(f, h, &p->x);
		emit(f, &p->x);
		/* The connection keeps no pointer into itself (http_conn_same_state). */
		p->x.req_body = p->x.resp_body = NULL;
		pending_pop(c);
	}
}

static void conn_done(struct http_conn *c)
{
	c->half[0].state = ST_DONE;
	c->half[1].state = ST_DONE;
}

/*
 * A response whose end we could not find ends when the next request begins:
 * a client only reuses the connection once the previous response is done.
 */
static void resp_until_next_end(struct feed *f)
{
	struct http_half *o = &f->c->half[!f->dir];

	if (o->kind != KIND_RESP || !o->has_msg)
		return;
	if (o->state == ST_UNTIL_NEXT) {
		msg_end(f, o);
		o->state = ST_RESYNC;
	} else if (o->state == ST_HEAD && o->cand && o->cand_prev == ST_UNTIL_NEXT) {
		msg_end(f, o);
		o->cand_prev = ST_RESYNC;
		o->head_answers = f->c->npending > 0;
		o->head_seq = f->c->first_seq;
	}
}

static void set_role(struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_half *o = &c->half[!f->dir];

	c->role = f->dir == HTTP_DIR_INGRESS ? HTTP_ROLE_SERVER : HTTP_ROLE_CLIENT;
	f->h->kind = KIND_REQ;
	o->kind = KIND_RESP;
	/* Whatever the other direction buffered was looking for requests. */
	o->state = ST_RESYNC;
	o->cand = false;
	o->has_msg = false;
}

/* ---- start line ---- */

static enum sl_result sl_step(struct http_half *h, uint8_t b)
{
	switch (h->sl_state) {
	case SL_METHOD:
		if (b == ' ' && h->sl_pos > 0) {
			h->sl_state = SL_TARGET;
			h->sl_pos = 0;
			return SL_MORE;
		}
		if (!is_tchar(b) || h->sl_pos >= HTTP_METHOD_MAX - 1)
			return SL_BAD;
		h->sl_pos++;
		return SL_MORE;
	case SL_TARGET:
		if (b == ' ' && h->sl_pos > 0) {
			h->sl_state = SL_RVERSION;
			h->sl_pos = 0;
			return SL_MORE;
		}
		if (b <= ' ' || b == 0x7f)
			return SL_BAD;
		h->sl_pos = 1;
		return SL_MORE;
	case SL_RVERSION:
		if (h->sl_pos < 7) {
			if (b != (uint8_t)http_ver[h->sl_pos])
				return SL_BAD;
		} else if (h->sl_pos == 7) {
			if (!is_digit(b))
				return SL_BAD;
		} else if (b == '\r') {
			h->sl_state = SL_RCR;
			return SL_MORE;
		} else if (b == '\n') {
			h->sl_state = SL_OK;
			return SL_DONE;
		} else {
			return SL_BAD;
		}
		h->sl_pos++;
		return SL_MORE;
	case SL_RCR:
	case SL_SCR:
		if (b != '\n')
			return SL_BAD;
		h->sl_state = SL_OK;
		return SL_DONE;
	case SL_SVERSION:
		if (h->sl_pos < 7) {
			if (b != (uint8_t)http_ver[h->sl_pos])
				return SL_BAD;
		} else if (h->sl_pos == 7) {
			if (!is_digit(b))
				return SL_BAD;
		} else if (b == ' ') {
			h->sl_state = SL_CODE;
			h->sl_pos = 0;
			return SL_MORE;
		} else {
			return SL_BAD;
		}
		h->sl_pos++;
		return SL_MORE;
	case SL_CODE:
		if (h->sl_pos < 3) {
			if (!is_digit(b))
				return SL_BAD;
			h->sl_pos++;
			return SL_MORE;
		}
		if (b == ' ') {
			h->sl_state = SL_REASON;
			return SL_MORE;
		}
		if (b == '\r') {
			h->sl_state = SL_SCR;
			return SL_MORE;
		}
		if (b == '\n') {
			h->sl_state = SL_OK;
			return SL_DONE;
		}
		return SL_BAD;
	case SL_REASON:
		if (b == '\r') {
			h->sl_state = SL_SCR;
			return SL_MORE;
		}
		if (b == '\n') {
			h->sl_state = SL_OK;
			return SL_DONE;
		}
		if ((b < ' ' && b != '\t') || b == 0x7f)
			return SL_BAD;
		return SL_MORE;
	default:
		return SL_DONE;
	}
}

/* ---- head parsing ---- */

static void parse_request_line(const char *l, size_t len, bool complete, struct http_exchange *x)
{
	const char *sp = memchr(l, ' ', len);
	const char *t, *te;

	x->version_minor = 1;
	if (!sp) {
		copy_str(x->method, sizeof(x->method), l, len);
		x->target_truncated = true;
		return;
	}
	copy_str(x->method, sizeof(x->method), l, sp - l);
	t = sp + 1;
	te = memchr(t, ' ', l + len - t);
	if (!te) {
		/* Only a truncated head gets here: the target may go on. */
		te = l + len;
		x->target_truncated = true;
	}
	if ((size_t)(te - t) >= sizeof(x->target))
		x->target_truncated = true;
	copy_str(x->target, sizeof(x->target), t, te - t);
	if (complete && len >= 8)
		x->version_minor = l[len - 1] - '0';
}

static int parse_status(const char *l, size_t len)
{
	size_t i;
	int st = 0;

	if (len < 12)
		return 0;
	for (i = 9; i < 12; i++) {
		if (!is_digit(l[i]))
			return 0;
		st = st * 10 + (l[i] - '0');
	}
	return st;
}

static int parse_cl(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(v[i]))
			return -1;
		n = n * 10 + (v[i] - '0');
		if (n > CL_MAX)
			return -1;
	}
	*out = n;
	return 0;
}

static inline bool is_ows(char b)
{
	return b == ' ' || b == '\t';
}

static inline void trim(const char **v, size_t *len)
{
	const char *b = *v, *e = b + *len;

	while (b < e && is_ows(*b))
		b++;
	while (e > b && is_ows(e[-1]))
		e--;
	*v = b;
	*len = (size_t)(e - b);
}

/* Calls fn on each comma-separated, trimmed, non-empty element of a list value. */
static void list_each(const char *v, size_t len, struct head_info *hi,
		      void (*fn)(const char *, size_t, struct head_info *))
{
	while (len) {
		const char *comma = memchr(v, ',', len);
		size_t el = comma ? (size_t)(comma - v) : len;
		const char *e = v;
		size_t elen = el;

		trim(&e, &elen);
		if (elen)
			fn(e, elen, hi);
		if (!comma)
			break;
		v += el + 1;
		len -= el + 1;
	}
}

static void te_token(const char *t, size_t len, struct head_info *hi)
{
	/* Only a final "chunked" frames the body; any later coding hides it. */
	hi->chunked = ieq(t, len, "chunked");
}

static void conn_token(const char *t, size_t len, struct head_info *hi)
{
	if (ieq(t, len, "close"))
		hi->conn_close = true;
	else if (ieq(t, len, "keep-alive"))
		hi->keep_alive = true;
	else if (ieq(t, len, "upgrade"))
		hi->upgrade = true;
}

static int header(const char *name, size_t nlen, const char *v, size_t vlen, struct head_info *hi,
		  struct http_exchange *x)
{
	struct http_trace_hdrs *tr;
	uint64_t cl;

	if (ieq(name, nlen, "content-length")) {
		if (parse_cl(v, vlen, &cl))
			return HTTP_ERR_CONTENT_LENGTH;
		/* Differing lengths make the framing ambiguous (request smuggling). */
		if (hi->has_cl && hi->cl != cl)
			return HTTP_ERR_CONTENT_LENGTH;
		hi->has_cl = true;
		hi->cl = cl;
	} else if (ieq(name, nlen, "transfer-encoding")) {
		hi->te = true;
		hi->chunked = false;
		list_each(v, vlen, hi, te_token);
	} else if (ieq(name, nlen, "connection")) {
		list_each(v, vlen, hi, conn_token);
	} else if (!x) {
		return 0; /* a response: only its framing matters */
	} else if (ieq(name, nlen, "host")) {
		copy_str(x->host, sizeof(x->host), v, vlen);
	} else if (tr = &x->trace, ieq(name, nlen, "traceparent")) {
		copy_str(tr->traceparent, sizeof(tr->traceparent), v, vlen);
	} else if (ieq(name, nlen, "b3")) {
		copy_str(tr->b3, sizeof(tr->b3), v, vlen);
	} else if (ieq(name, nlen, "x-b3-traceid")) {
		copy_str(tr->x_b3_traceid, sizeof(tr->x_b3_traceid), v, vlen);
	} else if (ieq(name, nlen, "x-b3-spanid")) {
		copy_str(tr->x_b3_spanid, sizeof(tr->x_b3_spanid), v, vlen);
	} else if (ieq(name, nlen, "x-b3-parentspanid")) {
		copy_str(tr->x_b3_parentspanid, sizeof(tr->x_b3_parentspanid), v, vlen);
	} else if (ieq(name, nlen, "x-b3-sampled")) {
		copy_str(tr->x_b3_sampled, sizeof(tr->x_b3_sampled), v, vlen);
	} else if (ieq(name, nlen, "tracestate")) {
		add_tracestate(tr->tracestate, sizeof(tr->tracestate), v, vlen);
	}
	return 0;
}

/* One header line p[0..len): its line end cut off, not empty. 0, or an http_error. */
static int head_line(const char *p, size_t len, struct head_info *hi, struct http_exchange *x)
{
	const char *colon, *v;
	size_t vlen;

	/* Obsolete line folding continues the previous value: nothing we need. */
	if (p[0] == ' ' || p[0] == '\t')
		return 0;
	colon = memchr(p, ':', len);
	if (!colon || colon == p)
		return HTTP_ERR_HEADER;
	v = colon + 1;
	vlen = p + len - v;
	trim(&v, &vlen);
	return header(p, colon - p, v, vlen, hi, x);
}

/*
 * Parse head[0..head_len). A truncated head may end in the middle of a line:
 * only complete lines count, and the start line may be a prefix. x: the
 * request's fields, NULL for a response. Returns 0, or the first line's error;
 * the lines after a bad one are still read (for the host and trace headers of
 * a malformed request).
 */
static int parse_head(const struct http_half *h, struct head_info *hi, struct http_exchange *x)
{
	const char *p = h->head;
	const char *end = p + h->head_len;
	const char *lf = memchr(p, '\n', end - p);
	size_t len = lf ? (size_t)(lf - p) : (size_t)(end - p);
	int err = 0, e;

	if (len && p[len - 1] == '\r')
		len--;
	if (x)
		parse_request_line(p, len, lf != NULL, x);
	else
		hi->status = parse_status(p, len);
	if (!lf)
		return 0;
	p = lf + 1;
	while (p < end) {
		lf = memchr(p, '\n', end - p);
		if (!lf)
			break;
		len = lf - p;
		if (len && p[len - 1] == '\r')
			len--;
		if (!len)
			break;
		e = head_line(p, len, hi, x);
		if (e && !err)
			err = e;
		p = lf + 1;
	}
	return err;
}

/*
 * What can be read of a request line that is not valid: the first token as the
 * method if it is one (tchars ending in a space), the second as the target if
 * it ends in a space or the line's end. Enough for the labels of the server's
 * answer to it; the rest stays "".
 */
static void salvage_request_line(const char *l, size_t len, struct http_exchange *x)
{
	size_t m = 0, t, te;

	while (m < len && is_tchar((uint8_t)l[m]))
		m++;
	if (!m || m >= len || l[m] != ' ')
		return;
	if (m < sizeof(x->method))
		copy_str(x->method, sizeof(x->method), l, m);
	t = m + 1;
	for (te = t; te < len && (uint8_t)l[te] > ' ' && l[te] != 0x7f; te++)
		;
	if (te == t || te >= len || (l[te] != ' ' && l[te] != '\r' && l[te] != '\n'))
		return;
	if (te - t >= sizeof(x->target))
		x->target_truncated = true;
	copy_str(x->target, sizeof(x->target), l + t, te - t);
}

/* ---- state machine ---- */

static void head_begin(struct feed *f, bool cand)
{
	struct http_half *h = f->h;

	h->cand = cand;
	if (cand) {
		h->cand_prev = h->state;
		h->cand_feed = h->nfeed;
	}
	h->state = ST_HEAD;
	h->head_in_step = !cand;
	h->head_len = 0;
	h->head_ts = f->ts;
	h->head_last_ts = f->ts;
	h->head_partial = false;
	h->sl_state = h->kind == KIND_RESP ? SL_SVERSION : SL_METHOD;
	h->sl_pos = 0;
	h->eoh = EOH_LINE;
	/* A response can only answer a request sent before it began. */
	h->head_answers = f->c->npending > 0;
	h->head_seq = f->c->first_seq;
}

/* The candidate head is no message start after all: its bytes were more of the previous state. */
static void cand_fail(struct feed *f)
{
	struct http_half *h = f->h;

	h->state = h->cand_prev;
	h->cand = false;
	if (h->cand_feed != h->nfeed) {
		/* It began in an earlier feed, but this feed may begin a message of its own. */
		if (h->state == ST_UNTIL_NEXT)
			msg_add(f->c, h, h->head_len - f->off, f->prev_ts);
		f->off = 0;
		return;
	}
	/* The rest of the feed is skipped (and counted) by the out-of-step state. */
	if (h->state == ST_UNTIL_NEXT)
		msg_add(f->c, h, f->off, f->ts);
}

/* The candidate's start line is valid: the half is in step again. */
static void cand_sync(struct feed *f)
{
	struct http_half *h = f->h;

	h->cand = false;
	if (h->cand_prev == ST_UNTIL_NEXT) {
		msg_end(f, h);
		/* The response it ends was queued when this one began: the next one is due. */
		h->head_answers = f->c->npending > 0;
		h->head_seq = f->c->first_seq;
	}
	if (h->kind == KIND_ANY)
		set_role(f);
}

static void body_begin_chunked(struct http_half *h)
{
	h->state = ST_BODY_CHUNKED;
	h->chunk_state = CK_SIZE;
	h->chunk_size = 0;
	h->remaining = 0;
}

static void req_head(struct feed *f, const struct head_info *hi, struct http_exchange *x,
		     bool truncated, int err)
{
	struct http_conn *c = f->c;
	struct http_half *h = f->h;
	struct http_pending *p;

	resp_until_next_end(f);
	p = pending_push(c, &h->seq);
	x->seq = h->seq;
	x->role = c->role;
	x->req_begin_ts = h->begin_ts;
	x->req_end_ts = h->last_ts;
	x->req_bytes = h->msg_bytes;
	x->head_truncated = truncated;
	x->error = (uint8_t)err;
	x->keep = c->keep_fn && !truncated && !err
			  ? (uint8_t)(c->keep_fn(c->keep_ctx, x->method, x->target) &
				      (HTTP_KEEP_REQ | HTTP_KEEP_RESP))
			  : 0;
	if (x->keep || h->body_keep)
		body_begin(h, x->keep & HTTP_KEEP_REQ, h->seq);
	p->x = *x;
	/* The first letter first: a call to strcmp costs more than the rest of this. */
	p->is_head = x->method[0] == 'H' && !strcmp(x->method, "HEAD");
	p->resp_started = false;
	h->has_msg = true;
	h->tunnel_maybe =
	    !err && (hi->upgrade || (x->method[0] == 'C' && !strcmp(x->method, "CONNECT")));

	if (truncated || err) {
		h->state = ST_UNTIL_NEXT;
	} else if (hi->te) {
		/* A request must end in "chunked" if it has a transfer coding at all. */
		if (hi->chunked)
			body_begin_chunked(h);
		else
			h->state = ST_UNTIL_NEXT;
	} else if (hi->has_cl && hi->cl) {
		h->remaining = hi->cl;
		h->state = ST_BODY_LEN;
	} else {
		msg_end(f, h);
		h->state = ST_IDLE;
	}
}

static void resp_head(struct feed *f, const struct head_info *hi, bool truncated, bool lost)
{
	struct http_conn *c = f->c;
	struct http_half *h = f->h;
	struct http_pending *p;
	int st = hi->status;
	bool tunnel;

	if (st >= 100 && st < 200 && st != 101) {
		/* Interim response: the final one follows; we only know where if we saw it all. */
		h->state = truncated || lost ? ST_RESYNC : ST_IDLE;
		return;
	}
	if (h->head_in_step && !h->head_answers && (p = pending_unshift(c))) {
		/*
		 * In step, a response that began with no request pending (a 408 on
		 * an idle connection, an answer to bytes that were no request) is
		 * still one the server wrote: counted, with an empty request.
		 */
		memset(&p->x, 0, sizeof(p->x));
		p->x.role = c->role;
		p->x.unanswered_request = true;
		p->x.req_begin_ts = h->begin_ts;
		p->x.req_end_ts = h->begin_ts;
		p->is_head = false;
		h->head_answers = true;
		h->head_seq = c->first_seq;
	}
	if (!c->npending || !h->head_answers || h->head_seq != c->first_seq) {
		/*
		 * Out of step, it answers a request we did not see (mid-stream
		 * start), or one we dropped: without the request we cannot frame
		 * it (HEAD, CONNECT), so wait for the next one.
		 */
		if (st == 101)
			conn_done(c);
		else
			h->state = ST_RESYNC;
		return;
	}
	p = &c->pending[c->first];
	if (p->x.keep || h->body_keep)
		/*
		 * A response's body is kept until the next feed; a second one in
		 * this feed would overwrite the first's (pipelining): not kept.
		 */
		body_begin(h, (p->x.keep & HTTP_KEEP_RESP) &&
				      !(f->n && f->out[f->n - 1].resp_body == h->body),
			   c->first_seq);
	p->resp_started = true;
	p->x.status = st;
	if (truncated)
		p->x.head_truncated = true;
	p->x.resp_begin_ts = h->begin_ts;
	p->x.resp_end_ts = h->last_ts;
	p->x.resp_bytes = h->msg_bytes;
	h->seq = c->first_seq;
	h->has_msg = true;

	/* After 101 or a successful CONNECT the bytes are another protocol. */
	tunnel = st == 101 || (st >= 200 && st < 300 && !strcmp(p->x.method, "CONNECT"));
	if (tunnel) {
		msg_end(f, h);
		conn_done(c);
	} else if (truncated || lost) {
		h->state = ST_UNTIL_NEXT;
	} else if (p->is_head || st == 204 || st == 304) {
		msg_end(f, h);
		h->state = ST_IDLE;
	} else if (hi->te) {
		if (hi->chunked)
			body_begin_chunked(h);
		else
			h->state = ST_UNTIL_CLOSE;
	} else if (hi->has_cl) {
		h->remaining = hi->cl;
		h->state = ST_BODY_LEN;
		if (!hi->cl) {
			msg_end(f, h);
			h->state = ST_IDLE;
		}
	} else {
		h->state = ST_UNTIL_CLOSE;
	}
}

/*
 * The head h->head_len long, parsed into hi (and x for a request), is a
 * message's. truncated: the rest of it was not captured; err: it is malformed
 * (counted by the caller). Either way its framing is unknown: the message lasts
 * until a feed begins with the next one.
 */
static void head_apply(struct feed *f, const struct head_info *hi, struct http_exchange *x,
		       bool truncated, int err)
{
	struct http_half *h = f->h;

	h->head_partial = truncated;
	h->msg_bytes = h->head_len;
	h->begin_ts = h->head_ts;
	h->last_ts = f->ts;
	h->has_msg = false;
	if (truncated || err) {
		/* The unseen rest of the syscall is part of this message, wherever it ends. */
		h->msg_bytes += f->unseen;
		f->unseen = 0;
	}
	if (is_req_half(h))
		req_head(f, hi, x, truncated, err);
	else
		resp_head(f, hi, truncated, err != 0);
}

/*
 * A malformed request is counted, unless it may be the bytes of a tunnel asked
 * for (req_head then clears tunnel_maybe: bytes after these are counted).
 */
static void request_error(struct feed *f, int err)
{
	if (!f->h->tunnel_maybe)
		count_error(f->c, err);
}

/* The head is complete, or (truncated) the rest of it was not captured. */
static void head_done(struct feed *f, bool truncated)
{
	struct http_half *h = f->h;
	struct head_info hi;
	struct http_exchange x;
	int err;

	memset(&hi, 0, sizeof(hi));
	if (is_req_half(h))
		memset(&x, 0, sizeof(x));
	err = parse_head(h, &hi, is_req_half(h) ? &x : NULL);
	if (err && is_req_half(h))
		request_error(f, err);
	else if (err)
		count_error(f->c, err);
	head_apply(f, &hi, &x, truncated, err);
}

/* Why sl_step refused a byte, from the element it was in. */
static int sl_error(const struct http_half *h, uint8_t b)
{
	switch (h->sl_state) {
	case SL_TARGET:
		/* "GET /\r\n": a target, then the line ends where the version should be. */
		return h->sl_pos && (b == '\r' || b == '\n') ? HTTP_ERR_VERSION
							   : HTTP_ERR_REQUEST_LINE;
	case SL_RVERSION:
		return HTTP_ERR_VERSION;
	case SL_METHOD:
	case SL_RCR:
		return HTTP_ERR_REQUEST_LINE;
	default:
		return HTTP_ERR_STATUS_LINE;
	}
}

/*
 * A head in step that cannot be a message's (its start line is invalid, or it
 * grew past HTTP_HEAD_MAX). A request still becomes one, with what can be read
 * of it. A response without a status line answers nothing we can count: the
 * request it stood for is given up, and the half waits for a status line.
 */
static void head_bad(struct feed *f, int err)
{
	struct http_conn *c = f->c;
	struct http_half *h = f->h;
	struct head_info hi;
	struct http_exchange x;

	memset(&hi, 0, sizeof(hi));
	if (is_req_half(h)) {
		memset(&x, 0, sizeof(x));
		if (h->sl_state == SL_OK)
			parse_head(h, &hi, &x); /* too large after a valid request line */
		else
			salvage_request_line(h->head, h->head_len, &x);
		memset(&hi, 0, sizeof(hi));
		request_error(f, err);
		head_apply(f, &hi, &x, false, err);
		return;
	}
	count_error(c, err);
	if (h->sl_state == SL_OK) {
		hi.status = parse_status(h->head, h->head_len);
		head_apply(f, &hi, NULL, false, err);
		return;
	}
	if (h->head_answers && c->npending && h->head_seq == c->first_seq)
		pending_pop(c);
	h->state = ST_RESYNC;
	h->has_msg = false;
}

static bool looks_like_start(const struct http_half *h)
{
	const uint8_t *d = (const uint8_t *)h->head;

	if (is_req_half(h))
		return http_looks_like_request(d, h->head_len);
	return http_looks_like_response(d, h->head_len);
}

/*
 * The start line's long stretches at once: the target and the reason phrase
 * up to the first byte that sl_step would not just accept, and a whole
 * "HTTP/1.x" version. Returns whether it took any bytes (what sl_step would
 * have taken one by one, with the same effect); the byte after them goes
 * through sl_step.
 */
static bool sl_run(struct feed *f)
{
	struct http_half *h = f->h;
	const uint8_t *d = f->data;
	size_t room = HTTP_HEAD_MAX - h->head_len;
	size_t end = f->len - f->off < room ? f->len : f->off + room;
	size_t k = f->off;

	switch (h->sl_state) {
	case SL_TARGET:
		while (k < end && d[k] > ' ' && d[k] != 0x7f)
			k++;
		if (k > f->off)
			h->sl_pos = 1;
		break;
	case SL_REASON:
		while (k < end && (d[k] >= ' ' || d[k] == '\t') && d[k] != 0x7f)
			k++;
		break;
	case SL_RVERSION:
	case SL_SVERSION:
		if (h->sl_pos == 0 && end - k >= 8 && !memcmp(d + k, http_ver, 7) &&
		    is_digit(d[k + 7])) {
			k += 8;
			h->sl_pos = 8;
		}
		break;
	default:
		break;
	}
	if (k == f->off)
		return false;
	memcpy(h->head + h->head_len, d + f->off, k - f->off);
	h->head_len += (uint32_t)(k - f->off);
	h->head_last_ts = f->ts;
	f->off = k;
	return true;
}

/* Returns 0, or the http_error of a head in step that cannot be a message's (see head_bad). */
static int head_feed(struct feed *f)
{
	struct http_half *h = f->h;

	while (f->off < f->len) {
		uint8_t b = f->data[f->off];
		enum sl_result r = SL_DONE;

		/*
		 * Inside a header line nothing but its end matters: copy up to the
		 * next '\n' at once (the byte loop below was most of sonde's CPU).
		 */
		if (h->sl_state == SL_OK && h->eoh == EOH_LINE && b != '\n' &&
		    h->head_len < HTTP_HEAD_MAX) {
			const uint8_t *p = f->data + f->off;
			const uint8_t *nl = memchr(p, '\n', f->len - f->off);
			size_t n = nl ? (size_t)(nl - p) : f->len - f->off;

			if (n > HTTP_HEAD_MAX - h->head_len)
				n = HTTP_HEAD_MAX - h->head_len;
			memcpy(h->head + h->head_len, p, n);
			h->head_len += n;
			h->head_last_ts = f->ts;
			f->off += n;
			continue;
		}
		if (sl_run(f))
			continue;
		if (h->head_len >= HTTP_HEAD_MAX) {
			if (h->cand) {
				cand_fail(f);
				return 0;
			}
			return HTTP_ERR_TOO_LARGE;
		}
		h->head[h->head_len++] = b;
		h->head_last_ts = f->ts;
		f->off++;
		if (h->sl_state != SL_OK) {
			r = sl_step(h, b);
			if (r == SL_BAD) {
				if (h->cand) {
					cand_fail(f);
					return 0;
				}
				return sl_error(h, b);
			}
			if (r == SL_DONE && h->cand)
				cand_sync(f);
			if (r == SL_MORE)
				continue;
		}
		switch (h->eoh) {
		case EOH_LINE:
			if (b == '\n')
				h->eoh = EOH_BOL;
			break;
		case EOH_BOL:
		case EOH_BOL_CR:
			if (b == '\n') {
				head_done(f, false);
				return 0;
			}
			if (b == '\r' && h->eoh == EOH_BOL)
				h->eoh = EOH_BOL_CR;
			else
				h->eoh = EOH_LINE;
			break;
		}
	}
	if (!f->unseen)
		return 0;
	if (h->cand) {
		if (h->sl_state != SL_OK && !looks_like_start(h)) {
			cand_fail(f);
			return 0;
		}
		cand_sync(f);
	}
	head_done(f, true);
	return 0;
}

static void body_len(struct feed *f)
{
	struct http_half *h = f->h;
	uint64_t n = f->len - f->off;

	if (n > h->remaining)
		n = h->remaining;
	if (h->body_keep)
		body_keep(h, f->data + f->off, n);
	f->off += n;
	h->remaining -= n;
	if (h->remaining && f->off == f->len && f->unseen) {
		uint64_t u = f->unseen < h->remaining ? f->unseen : h->remaining;

		if (h->body_keep)
			body_keep(h, NULL, u);
		f->unseen -= u;
		h->remaining -= u;
		n += u;
	}
	msg_add(f->c, h, n, f->ts);
	if (!h->remaining) {
		msg_end(f, h);
		h->state = ST_IDLE;
	}
}

/* Returns 1 when the message is complete, -1 on a framing error, else 0. */
static int chunk_byte(struct http_half *h, uint8_t b)
{
	int v;

	switch (h->chunk_state) {
	case CK_SIZE:
		v = hex_val(b);
		if (v >= 0) {
			if (h->chunk_size > (UINT64_MAX >> 4))
				return -1;
			h->chunk_size = h->chunk_size * 16 + v;
			h->remaining = 1; /* at least one digit seen */
			return 0;
		}
		if (!h->remaining)
			return -1;
		fallthrough;
	case CK_SIZE_WS:
		if (b == ' ' || b == '\t')
			h->chunk_state = CK_SIZE_WS;
		else if (b == ';')
			h->chunk_state = CK_EXT;
		else if (b == '\r')
			h->chunk_state = CK_SIZE_LF;
		else if (b == '\n')
			goto size_done;
		else
			return -1;
		return 0;
	case CK_EXT:
		if (b == '\r')
			h->chunk_state = CK_SIZE_LF;
		else if (b == '\n')
			goto size_done;
		return 0;
	case CK_SIZE_LF:
		if (b != '\n')
			return -1;
		goto size_done;
	case CK_DATA_CR:
		if (b == '\r') {
			h->chunk_state = CK_DATA_LF;
			return 0;
		}
		fallthrough;
	case CK_DATA_LF:
		if (b != '\n')
			return -1;
		h->chunk_state = CK_SIZE;
		h->chunk_size = 0;
		h->remaining = 0;
		return 0;
	case CK_TRAILER_BOL:
		if (b == '\n')
			return 1;
		h->chunk_state = b == '\r' ? CK_END_LF : CK_TRAILER;
		return 0;
	case CK_TRAILER:
		if (b == '\n')
			h->chunk_state = CK_TRAILER_BOL;
		return 0;
	case CK_END_LF:
		return b == '\n' ? 1 : -1;
	default:
		return -1;
	}
size_done:
	if (h->chunk_size) {
		h->remaining = h->chunk_size;
		h->chunk_state = CK_DATA;
	} else {
		h->chunk_state = CK_TRAILER_BOL;
	}
	return 0;
}

static int body_chunked(struct feed *f)
{
	struct http_half *h = f->h;
	size_t start = f->off;
	int r = 0;

	while (f->off < f->len) {
		if (h->chunk_state == CK_DATA) {
			uint64_t n = f->len - f->off;

			if (n > h->remaining)
				n = h->remaining;
			if (h->body_keep)
				body_keep(h, f->data + f->off, n);
			f->off += n;
			h->remaining -= n;
			if (!h->remaining)
				h->chunk_state = CK_DATA_CR;
			continue;
		}
		r = chunk_byte(h, f->data[f->off++]);
		if (r < 0) {
			msg_add(f->c, h, f->off - start, f->ts);
			return -1;
		}
		if (r > 0)
			break;
	}
	msg_add(f->c, h, f->off - start, f->ts);
	if (r > 0) {
		msg_end(f, h);
		h->state = ST_IDLE;
		return 0;
	}
	if (f->off < f->len || !f->unseen)
		return 0;
	if (h->body_keep)
		body_keep(h, NULL, f->unseen);
	if (h->chunk_state == CK_DATA && h->remaining >= f->unseen) {
		h->remaining -= f->unseen;
		if (!h->remaining)
			h->chunk_state = CK_DATA_CR;
	} else {
		/* Unseen bytes reach into the chunk framing: we cannot follow it any more. */
		h->state = ST_UNTIL_NEXT;
	}
	msg_add(f->c, h, f->unseen, f->ts);
	f->unseen = 0;
	return 0;
}

/* ---- fast path ---- */

/*
 * Most traffic is one whole head per message inside one feed: a request line
 * with an upper-case method, or a status line, then header lines, all there up
 * to the empty line. At a message boundary in step (ST_IDLE) such a head is
 * read here straight from the feed, not byte by byte into h->head, and leaves
 * exactly what head_begin, head_feed and head_done would have: the same
 * exchanges, pending requests and half state (sl_state, sl_pos, eoh...), but
 * for the bytes of h->head, which only a head in progress (ST_HEAD) reads. The
 * head is first checked and parsed whole into locals without changing
 * anything; whatever the start-line checks below do not accept, a head not
 * ended inside the feed and HTTP_HEAD_MAX, or a header line parse_head would
 * reject, goes to the state machine from the message's first byte.
 * tests/fuzz/fuzz_http_diff.c checks the two against each other.
 */

/*
 * No byte of w is below 0x21 or is 0x7f. (w - 0x21 in each byte) & ~w has bit 7
 * set in some byte iff some byte is below 0x21 (exact for "any", n <= 0x80);
 * the same on w ^ 0x7f.. finds a 0x7f byte.
 */
static inline bool target_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t del = w ^ (ones * 0x7f);

	return !(((w - ones * 0x21) & ~w & high) | ((del - ones) & ~del & high));
}

/*
 * A request line at d[0..lim) as sl_step accepts it (method: 1 to 15
 * upper-case letters here; other tchars are the state machine's): its fields
 * in x as parse_request_line sets them, and the length up to its LF, or 0.
 */
static size_t fast_request_line(const uint8_t *d, size_t lim, struct http_exchange *x)
{
	size_t m = 0, t, te, i;

	while (m < lim && m < HTTP_METHOD_MAX - 1 && d[m] >= 'A' && d[m] <= 'Z')
		m++;
	if (!m || m >= lim || d[m] != ' ')
		return 0;
	t = m + 1;
	/* Target bytes: above ' ', not DEL; 8 at a time, then one by one from the first other. */
	for (te = t; te + 8 <= lim && target_word(load64((const char *)d + te)); te += 8)
		;
	for (; te < lim && d[te] > ' ' && d[te] != 0x7f; te++)
		;
	/* " HTTP/1.x" and at least the LF. */
	if (te == t || lim - te < 10 || d[te] != ' ' || memcmp(d + te + 1, http_ver, 7) ||
	    !is_digit(d[te + 8]))
		return 0;
	i = te + 9;
	if (d[i] == '\r')
		i++;
	if (i >= lim || d[i] != '\n')
		return 0;
	/* The fields as the slow path fills them: the line up to its version's digit. */
	parse_request_line((const char *)d, te + 9, true, x);
	return i + 1;
}

/* A status line at d[0..lim) as sl_step accepts it: its code, and the length up to its LF, or 0. */
static size_t fast_status_line(const uint8_t *d, size_t lim, int *status)
{
	size_t i = 12;

	if (lim < 13 || memcmp(d, http_ver, 7) || !is_digit(d[7]) || d[8] != ' ' ||
	    !is_digit(d[9]) || !is_digit(d[10]) || !is_digit(d[11]))
		return 0;
	if (d[12] == ' ')
		for (i = 13; i < lim && (d[i] >= ' ' || d[i] == '\t') && d[i] != 0x7f; i++)
			;
	if (i < lim && d[i] == '\r')
		i++;
	if (i >= lim || d[i] != '\n')
		return 0;
	*status = parse_status((const char *)d, 12);
	return i + 1;
}

/* Read a whole head at f->off if it is one the fast path knows (see above); false if not. */
static bool fast_head(struct feed *f)
{
	struct http_half *h = f->h;
	const uint8_t *d = f->data + f->off;
	size_t avail = f->len - f->off;
	size_t lim = avail < HTTP_HEAD_MAX ? avail : HTTP_HEAD_MAX;
	bool req = h->kind == KIND_REQ;
	struct head_info hi;
	struct http_exchange x;
	uint8_t eoh;
	size_t i;

	if (h->kind == KIND_ANY)
		return false;
	memset(&hi, 0, sizeof(hi));
	if (req) {
		memset(&x, 0, sizeof(x));
		i = fast_request_line(d, lim, &x);
	} else {
		i = fast_status_line(d, lim, &hi.status);
	}
	if (!i)
		return false;
	for (;;) {
		const char *p = (const char *)d + i;
		const char *lf = memchr(p, '\n', lim - i);
		size_t len;

		if (!lf)
			return false;
		len = (size_t)(lf - p);
		i += len + 1;
		if (len && p[len - 1] == '\r')
			len--;
		if (!len) {
			/* What head_feed's end-of-head scanner was in at the last LF. */
			eoh = lf == p ? EOH_BOL : EOH_BOL_CR;
			break;
		}
		if (head_line(p, len, &hi, req ? &x : NULL))
			return false;
	}
	head_begin(f, false);
	h->head_len = (uint32_t)i;
	h->sl_state = SL_OK;
	h->sl_pos = req ? 8 : 3; /* after "HTTP/1.x", after the code */
	h->eoh = eoh;
	f->off += i;
	head_apply(f, &hi, &x, false, 0);
	return true;
}

static void half_feed(struct feed *f)
{
	struct http_half *h = f->h;
	int err;

	while (f->off < f->len || f->unseen) {
		switch (h->state) {
		case ST_DONE:
			return;
		case ST_RESYNC:
		case ST_UNTIL_NEXT:
			if (f->off == 0 && f->len > 0) {
				head_begin(f, true);
				break;
			}
			if (h->state == ST_UNTIL_NEXT)
				msg_add(f->c, h, f->len - f->off + f->unseen, f->ts);
			f->off = f->len;
			f->unseen = 0;
			break;
		case ST_IDLE:
			if (f->off == f->len) {
				/*
				 * A message begins beyond the capture. Keep it so that
				 * pairing stays in order, even knowing nothing of it.
				 */
				head_begin(f, false);
				break;
			}
			if (!f->c->slow_only && fast_head(f))
				break;
			/* Tolerate empty lines between messages (RFC 9112 2.2). */
			if (f->data[f->off] == '\r' || f->data[f->off] == '\n') {
				f->off++;
				break;
			}
			head_begin(f, false);
			break;
		case ST_HEAD:
			err = head_feed(f);
			if (err)
				head_bad(f, err);
			break;
		case ST_BODY_LEN:
			body_len(f);
			break;
		case ST_BODY_CHUNKED:
			if (body_chunked(f)) {
				/* The message goes on, framing unknown, until the next one. */
				count_error(f->c, HTTP_ERR_CHUNKED);
				h->state = ST_UNTIL_NEXT;
			}
			break;
		case ST_UNTIL_CLOSE:
		default:
			msg_add(f->c, h, f->len - f->off + f->unseen, f->ts);
			f->off = f->len;
			f->unseen = 0;
			break;
		}
	}
}

/* ---- public API ---- */

void http_conn_init(struct http_conn *c, enum http_role role_hint)
{
	memset(c, 0, sizeof(*c));
	if (role_hint == HTTP_ROLE_SERVER) {
		c->half[HTTP_DIR_INGRESS].kind = KIND_REQ;
		c->half[HTTP_DIR_EGRESS].kind = KIND_RESP;
	} else if (role_hint == HTTP_ROLE_CLIENT) {
		c->half[HTTP_DIR_INGRESS].kind = KIND_RESP;
		c->half[HTTP_DIR_EGRESS].kind = KIND_REQ;
	} else {
		role_hint = HTTP_ROLE_UNKNOWN;
	}
	c->role = role_hint;
}

void http_conn_init_from_start(struct http_conn *c, enum http_role role)
{
	http_conn_init(c, role);
	if (c->role == HTTP_ROLE_UNKNOWN)
		return;
	c->half[HTTP_DIR_INGRESS].state = ST_IDLE;
	c->half[HTTP_DIR_EGRESS].state = ST_IDLE;
}

void http_conn_set_keep(struct http_conn *c, http_keep_fn fn, void *ctx)
{
	c->keep_fn = fn;
	c->keep_ctx = ctx;
}

void http_conn_set_fast_path(struct http_conn *c, bool on)
{
	c->slow_only = !on;
}

/* a[from..to) and b[from..to) hold the same bytes. */
static bool same_bytes(const void *a, const void *b, size_t from, size_t to)
{
	return !memcmp((const char *)a + from, (const char *)b + from, to - from);
}

bool http_conn_same_state(const struct http_conn *a, const struct http_conn *b)
{
	const size_t sw = offsetof(struct http_conn, slow_only),
		     head = offsetof(struct http_half, head);
	int i;

	_Static_assert(offsetof(struct http_conn, half) + 2 * sizeof(struct http_half) ==
			   sizeof(struct http_conn),
		       "the halves end the connection");

	if (!same_bytes(a, b, 0, sw) ||
	    !same_bytes(a, b, sw + sizeof(a->slow_only), offsetof(struct http_conn, half)))
		return false;
	for (i = 0; i < 2; i++) {
		const struct http_half *x = &a->half[i], *y = &b->half[i];

		if (!same_bytes(x, y, 0, head) ||
		    !same_bytes(x, y, head + sizeof(x->head), sizeof(*x)))
			return false;
		if (x->state == ST_HEAD && memcmp(x->head, y->head, x->head_len))
			return false;
	}
	return true;
}

int http_conn_feed(struct http_conn *c, enum http_dir dir, const uint8_t *data, size_t caplen,
		   uint64_t total, uint64_t ts, struct http_exchange *out, int max_out)
{
	struct feed f;

	if (!c || (dir != HTTP_DIR_INGRESS && dir != HTTP_DIR_EGRESS))
		return 0;
	if (!data || caplen > total)
		caplen = data ? total : 0;
	if (!total || c->half[dir].state == ST_DONE)
		return 0;
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.h = &c->half[dir];
	f.dir = dir;
	f.data = data;
	f.len = caplen;
	f.unseen = total - caplen;
	f.ts = ts;
	f.prev_ts = f.h->head_last_ts;
	f.out = out;
	f.max_out = max_out;
	f.h->nfeed++;
	half_feed(&f);
	return f.n;
}

int http_conn_close(struct http_conn *c, uint64_t ts, struct http_exchange *out, int max_out)
{
	struct feed f;
	struct http_half *h;

	(void)ts; /* an exchange ends with its last bytes, not with the close */
	if (!c)
		return 0;
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.out = out;
	f.max_out = max_out;
	if (c->role == HTTP_ROLE_SERVER || c->role == HTTP_ROLE_CLIENT) {
		f.dir = c->role == HTTP_ROLE_SERVER ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS;
		h = &c->half[f.dir];
		f.h = h;
		if (h->state == ST_HEAD && h->cand && h->cand_prev == ST_UNTIL_NEXT) {
			/* The unfinished candidate never became a message: more of the old one. */
			msg_add(c, h, h->head_len, h->head_last_ts);
			h->state = ST_UNTIL_NEXT;
		}
		if (h->state == ST_UNTIL_CLOSE || h->state == ST_UNTIL_NEXT)
			msg_end(&f, h);
		/*
		 * A response whose head was read and whose body did not end: the
		 * peer answered (a client that stops reading after an error
		 * status, a server that dies mid-body). Its status is known.
		 */
		if (h->state == ST_BODY_LEN || h->state == ST_BODY_CHUNKED) {
			h->body_cut = true;
			msg_end(&f, h);
		}
	}
	conn_done(c);
	return f.n;
}

bool http_conn_truncated(const struct http_conn *c)
{
	const struct http_half *h;

	if (!c || (c->role != HTTP_ROLE_SERVER && c->role != HTTP_ROLE_CLIENT))
		return false;
	h = &c->half[c->role == HTTP_ROLE_SERVER ? HTTP_DIR_INGRESS : HTTP_DIR_EGRESS];
	/* A request head begun in step (not a resync candidate) and never finished. */
	return h->state == ST_HEAD && h->head_len > 0 && !(h->cand && h->cand_prev == ST_UNTIL_NEXT);
}

unsigned http_conn_take_errors(struct http_conn *c, unsigned counts[HTTP_ERR__COUNT])
{
	unsigned sum = 0;
	int i;

	if (!c || !c->err_pending)
		return 0;
	for (i = 0; i < HTTP_ERR__COUNT; i++) {
		counts[i] += c->errors[i];
		sum += c->errors[i];
		c->errors[i] = 0;
	}
	c->err_pending = false;
	return sum;
}

const char *http_error_reason(enum http_error e)
{
	static const char *const reasons[HTTP_ERR__COUNT] = {
		[HTTP_ERR_NONE] = "none",
		[HTTP_ERR_REQUEST_LINE] = "request_line",
		[HTTP_ERR_VERSION] = "version",
		[HTTP_ERR_HEADER] = "header",
		[HTTP_ERR_CONTENT_LENGTH] = "content_length",
		[HTTP_ERR_CHUNKED] = "chunked",
		[HTTP_ERR_TOO_LARGE] = "too_large",
		[HTTP_ERR_STATUS_LINE] = "status_line",
		[HTTP_ERR_TRUNCATED] = "truncated",
	};

	return (unsigned)e < HTTP_ERR__COUNT ? reasons[e] : "none";
}

static bool request_prefix(const uint8_t *data, size_t len);

/*
 * A request line: a method, and, when the whole line is there to see, the
 * version at its end ("GET key\r\n" is a Redis inline command, not HTTP).
 * Empty lines before it are allowed (RFC 9112 2.2).
 */
bool http_looks_like_request(const uint8_t *data, size_t len)
{
	const uint8_t *nl;
	size_t n;

	while (len && data && (data[0] == '\r' || data[0] == '\n')) {
		data++;
		len--;
	}
	if (!request_prefix(data, len))
		return false;
	nl = memchr(data, '\n', len);
	if (!nl)
		return true;
	n = (size_t)(nl - data);
	if (n && data[n - 1] == '\r')
		n--;
	return n >= 9 && !memcmp(data + n - 9, " HTTP/1.", 8) && is_digit(data[n - 1]);
}

static bool request_prefix(const uint8_t *data, size_t len)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	};
	size_t i, n;

	if (!data)
		return false;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		n = strlen(methods[i]);
		if (len > n && !memcmp(data, methods[i], n) && data[n] == ' ')
			return true;
	}
	/* Upper-case letters and '-' (M-SEARCH, VERSION-CONTROL), a letter first. */
	for (n = 0; n < len && n < HTTP_METHOD_MAX &&
		    ((data[n] >= 'A' && data[n] <= 'Z') || (n && data[n] == '-'));
	     n++)
		;
	if (n < 3 || n >= HTTP_METHOD_MAX || n + 1 >= len || data[n] != ' ')
		return false;
	data += n + 1;
	len -= n + 1;
	if (data[0] == '/' || data[0] == '*')
		return true;
	return len >= 4 && !memcmp(data, "http", 4);
}

bool http_looks_like_response(const uint8_t *data, size_t len)
{
	size_t i;

	if (!data || len < 8 || memcmp(data, http_ver, 7) || (data[7] != '0' && data[7] != '1'))
		return false;
	if (len > 8 && data[8] != ' ')
		return false;
	for (i = 9; i < len && i < 12; i++)
		if (!is_digit(data[i]))
			return false;
	return true;
}

const char *http_outcome(int status)
{
	if (status >= 100 && status < 200)
		return "INFORMATIONAL";
	if (status >= 200 && status < 300)
		return "SUCCESS";
	if (status >= 300 && status < 400)
		return "REDIRECTION";
	if (status >= 400 && status < 500)
		return "CLIENT_ERROR";
	if (status >= 500 && status < 600)
		return "SERVER_ERROR";
	return "UNKNOWN";
}

/* IANA's HTTP Method Registry ("*" excepted), and PURGE; sorted for bsearch. */
static const char *const method_names[] = {
	"ACL",	       "BASELINE-CONTROL", "BIND",	  "CHECKIN",	 "CHECKOUT",
	"CONNECT",     "COPY",		   "DELETE",	  "GET",	 "HEAD",
	"LABEL",       "LINK",		   "LOCK",	  "MERGE",	 "MKACTIVITY",
	"MKCALENDAR",  "MKCOL",		   "MKREDIRECTREF", "MKWORKSPACE", "MOVE",
	"OPTIONS",     "ORDERPATCH",	   "PATCH",	  "POST",	 "PRI",
	"PROPFIND",    "PROPPATCH",	   "PURGE",	  "PUT",	 "QUERY",
	"REBIND",      "REPORT",	   "SEARCH",	  "TRACE",	 "UNBIND",
	"UNCHECKOUT",  "UNLINK",	   "UNLOCK",	  "UPDATE",	 "UPDATEREDIRECTREF",
	"VERSION-CONTROL",
};

static int method_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

const char *http_method_label(const char *method)
{
	const char *const *m;

	if (!method)
		return "OTHER";
	/* Most requests: no search. */
	if (method[0] == 'G' && method[1] == 'E' && method[2] == 'T' && !method[3])
		return "GET";
	if (method[0] == 'P' && method[1] == 'O' && method[2] == 'S' && method[3] == 'T' &&
	    !method[4])
		return "POST";
	m = bsearch(method, method_names, sizeof(method_names) / sizeof(method_names[0]),
		    sizeof(method_names[0]), method_cmp);
	return m ? *m : "OTHER";
}
