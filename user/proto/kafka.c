// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kafka framing and request/response pairing (see kafka.h).
 *
 * Each direction ("half") reads size-prefixed messages: the int32 size, then
 * that many bytes, of which the first KAFKA_BUF_MAX captured ones are kept.
 * Bytes past the capture inside a message are skipped by the size; only at a
 * message boundary do they lose the framing. When a message ends, its kept
 * prefix is decoded: a request is remembered by correlation id (with what its
 * body said about topic-partitions), a response is paired with its request
 * and one struct kafka_exchange emitted. Decoding a prefix stops where the
 * kept bytes end: what lies beyond is not reported (parts_truncated).
 *
 * sonde may attach in the middle of a message, so a half starts out of step
 * (resync): only a feed that begins with a plausible message brings it in
 * step (a request: kafka_looks_like_request(); a response: a plausible size
 * and the correlation id of a request awaiting its response). In step, a bad
 * size or request header breaks the connection. A body whose fields do not
 * add up only ends its decoding (parts_truncated): the framing is intact.
 */
#include <string.h>

#include "proto/kafka.h"

enum half_state {
	ST_RESYNC = 0, /* out of step: wait for a feed that begins a message */
	ST_SIZE,       /* in step: the size prefix of the next message */
	ST_BODY,       /* the message's bytes */
};

enum half_kind { KIND_ANY = 0, KIND_REQ = 1, KIND_RESP = 2 };

#define SIZE_MIN 8
#define SIZE_MAX_MSG (100U * 1024 * 1024)
#define API_KEY_MAX 74
#define API_VER_MAX 20
#define CLIENT_ID_MAX 512
#define BATCH_HDR 61 /* RecordBatch header, magic 2 */

#define API_API_VERSIONS 18

/* One call to kafka_conn_feed(). */
struct feed {
	struct kafka_conn *c;
	struct kafka_half *h;
	enum kafka_dir dir;
	const uint8_t *data;
	size_t len;
	size_t off;
	uint64_t unseen;
	uint64_t ts;
	struct kafka_exchange *out;
	int max_out;
	int n;
};

/* ---- big-endian reader over a kept prefix ---- */

/* Reads past len set end: the rest of the message was not kept, or does not add up. */
struct rd {
	const uint8_t *p;
	uint64_t len;
	uint64_t off; /* may pass len by skipping: only a read there sets end */
	bool end;
};

static bool rd_need(struct rd *r, uint64_t n)
{
	if (r->end || r->off > r->len || n > r->len - r->off) {
		r->end = true;
		return false;
	}
	return true;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rd_be(struct rd *r, int n)
{
	uint64_t v;

	if (!rd_need(r, (uint64_t)n))
		return 0;
	v = get_be(r->p + r->off, n);
	r->off += (uint64_t)n;
	return v;
}

static int16_t rd_i16(struct rd *r)
{
	return (int16_t)rd_be(r, 2);
}

static int32_t rd_i32(struct rd *r)
{
	return (int32_t)rd_be(r, 4);
}

static int64_t rd_i64(struct rd *r)
{
	return (int64_t)rd_be(r, 8);
}

/* Skipping past the kept bytes is no error; reading there is. */
static void rd_skip(struct rd *r, uint64_t n)
{
	if (!r->end)
		r->off += n < SIZE_MAX_MSG ? n : SIZE_MAX_MSG;
}

/* An unsigned varint of at most 32 bits; longer ones do not add up. */
static uint32_t rd_uvarint(struct rd *r)
{
	uint32_t v = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (!rd_need(r, 1))
			return 0;
		b = r->p[r->off++];
		if (shift == 28 && (b & 0x70)) {
			r->end = true;
			return 0;
		}
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->end = true;
	return 0;
}

/* Tagged fields: a count, then per field a tag, a size and that many bytes. */
static void rd_tags(struct rd *r)
{
	uint32_t n = rd_uvarint(r);

	for (uint32_t i = 0; i < n && !r->end; i++) {
		(void)rd_uvarint(r);
		rd_skip(r, rd_uvarint(r));
	}
}

/* A length: int32 (or int16 for strings), or compact (unsigned varint, N + 1); -1 is null. */
static int64_t rd_len(struct rd *r, bool flex, bool str)
{
	if (flex)
		return (int64_t)rd_uvarint(r) - 1;
	return str ? rd_i16(r) : rd_i32(r);
}

/* A (nullable) string: *s points at its bytes in the reader; returns its length or -1. */
static int64_t rd_str(struct rd *r, bool flex, const uint8_t **s)
{
	int64_t n = rd_len(r, flex, true);

	*s = NULL;
	if (n < -1 || r->end) {
		r->end = true;
		return -1;
	}
	if (n > 0) {
		if (!rd_need(r, (uint64_t)n))
			return -1;
		*s = r->p + r->off;
		r->off += (uint64_t)n;
	}
	return n;
}

/* An array count; null (-1) counts as empty. */
static int64_t rd_arr(struct rd *r, bool flex)
{
	int64_t n = rd_len(r, flex, false);

	if (n < -1)
		r->end = true;
	return r->end || n < 0 ? 0 : n;
}

/* ---- names ---- */

static bool topic_char(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
	       b == '.' || b == '_' || b == '-';
}

/* A topic name, truncated, anything outside Kafka's legal characters replaced by '_'. */
static void copy_topic(char *dst, const uint8_t *s, int64_t n)
{
	int64_t i;

	memset(dst, 0, KAFKA_TOPIC_MAX);
	if (n < 0)
		n = 0;
	if (n > KAFKA_TOPIC_MAX - 1)
		n = KAFKA_TOPIC_MAX - 1;
	for (i = 0; i < n; i++)
		dst[i] = topic_char(s[i]) ? (char)s[i] : '_';
	dst[n] = '\0';
}

/* A client id, truncated, anything unprintable replaced by '_'. */
static void copy_client(char *dst, const uint8_t *s, int64_t n)
{
	int64_t i;

	memset(dst, 0, KAFKA_CLIENT_MAX);
	if (n < 0)
		n = 0;
	if (n > KAFKA_CLIENT_MAX - 1)
		n = KAFKA_CLIENT_MAX - 1;
	for (i = 0; i < n; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '_';
	dst[n] = '\0';
}

/* ---- versions ---- */

static bool is_flexible(int16_t api_key, int16_t ver)
{
	switch (api_key) {
	case KAFKA_API_PRODUCE:
		return ver >= 9;
	case KAFKA_API_FETCH:
		return ver >= 12;
	case KAFKA_API_OFFSET_COMMIT:
		return ver >= 8;
	default:
		return false;
	}
}

/* ---- record batches ---- */

struct batches {
	uint32_t records;
	int64_t next_offset; /* last batch's base offset + last offset delta + 1, or -1 */
	bool unknown;	     /* a batch whose header was not kept, or that does not add up */
	bool untraced;	     /* a record without the trace header, or not read */
	uint8_t trace_kind;  /* the first record's trace header ... */
	char trace[KAFKA_TRACE_MAX];
};

/* A zigzag varint (Kafka records' lengths and deltas) at p[*o..n); false if cut or too long. */
static bool zvarint(const uint8_t *p, size_t n, size_t *o, int64_t *v)
{
	uint64_t u = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (*o >= n)
			return false;
		u |= (uint64_t)(p[*o] & 0x7f) << shift;
		if (!(p[(*o)++] & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return true;
		}
	}
	return false;
}

static bool name_is(const uint8_t *s, int64_t n, const char *name)
{
	size_t len = strlen(name);

	if (n != (int64_t)len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((s[i] | 0x20) != name[i])
			return false;
	return true;
}

/* The trace id part of a trace header value (what records of one trace share). */
static size_t trace_key(uint8_t kind, const char *v, size_t n)
{
	const char *d;

	if (kind == KAFKA_TRACE_TRACEPARENT)
		return n >= 35 ? 35 : n;
	d = memchr(v, '-', n);
	return d ? (size_t)(d - v) : n;
}

/*
 * One record (p[0..n), its length prefix read): its trace header, if any,
 * into *kind and val. Returns false when it does not add up.
 */
static bool record_trace(const uint8_t *p, size_t n, uint8_t *kind, const uint8_t **val,
			 int64_t *vlen)
{
	size_t o = 1; /* attributes */
	int64_t v, nh, kl;

	*kind = KAFKA_TRACE_NONE;
	if (!zvarint(p, n, &o, &v) || !zvarint(p, n, &o, &v)) /* timestamp and offset deltas */
		return false;
	for (int f = 0; f < 2; f++) { /* key, value: skipped, never read */
		if (!zvarint(p, n, &o, &v) || v < -1 || (v > 0 && (uint64_t)v > n - o))
			return false;
		o += v > 0 ? (size_t)v : 0;
	}
	if (!zvarint(p, n, &o, &nh) || nh < 0)
		return false;
	for (int64_t h = 0; h < nh; h++) {
		const uint8_t *k;

		if (!zvarint(p, n, &o, &kl) || kl < 0 || (uint64_t)kl > n - o)
			return false;
		k = p + o;
		o += (size_t)kl;
		if (!zvarint(p, n, &o, &v) || v < -1 || (v > 0 && (uint64_t)v > n - o))
			return false;
		if (v > 0 && v < KAFKA_TRACE_MAX &&
		    ((name_is(k, kl, "traceparent") && *kind != KAFKA_TRACE_TRACEPARENT) ||
		     (name_is(k, kl, "b3") && *kind == KAFKA_TRACE_NONE))) {
			*kind = name_is(k, kl, "b3") ? KAFKA_TRACE_B3 : KAFKA_TRACE_TRACEPARENT;
			*val = p + o;
			*vlen = v;
		}
		o += v > 0 ? (size_t)v : 0;
	}
	return true;
}

/*
 * The trace headers of a batch's count records (p[0..n), after the batch
 * header), folded into b: b keeps the first record's header while every
 * record has one of the same trace.
 */
static void batch_traces(const uint8_t *p, size_t n, int32_t count, struct batches *b)
{
	size_t o = 0;

	for (int32_t i = 0; i < count && !b->untraced; i++) {
		const uint8_t *val = NULL;
		int64_t len, vlen = 0;
		uint8_t kind;

		if (!zvarint(p, n, &o, &len) || len <= 0 || (uint64_t)len > n - o ||
		    !record_trace(p + o, (size_t)len, &kind, &val, &vlen) || !kind) {
			b->untraced = true;
			break;
		}
		o += (size_t)len;
		if (!b->trace_kind) {
			b->trace_kind = kind;
			memcpy(b->trace, val, (size_t)vlen);
			b->trace[vlen] = 0;
		} else {
			size_t kl = trace_key(kind, (const char *)val, (size_t)vlen);

			if (kind != b->trace_kind || kl != trace_key(kind, b->trace, strlen(b->trace)) ||
			    memcmp(val, b->trace, kl))
				b->untraced = true;
		}
	}
}

/*
 * A records field of len bytes (one or more RecordBatches) at the reader's
 * offset; leaves the reader past it. Batches are read from their headers; the
 * last one may be cut short by len (a broker's Fetch answer ends where its
 * byte limit does): that one is not counted, as the client drops it too.
 */
static void rd_batches(struct rd *r, int64_t len, struct batches *b)
{
	uint64_t start = r->off, o = 0;

	b->records = 0;
	b->next_offset = -1;
	b->unknown = false;
	b->untraced = false;
	b->trace_kind = KAFKA_TRACE_NONE;
	memset(b->trace, 0, sizeof(b->trace)); /* copied whole into the exchange */
	if (len <= 0)
		return;
	while (o < (uint64_t)len) {
		const uint8_t *p;
		int32_t blen, count;

		if ((uint64_t)len - o < BATCH_HDR)
			break; /* a partial batch */
		if (start + o + BATCH_HDR > r->len) {
			b->unknown = true; /* its header was not kept */
			break;
		}
		p = r->p + start + o;
		blen = (int32_t)get_be(p + 8, 4);
		count = (int32_t)get_be(p + 57, 4);
		if (p[16] != 2 || blen < BATCH_HDR - 12 || count < 0) {
			b->unknown = true;
			break;
		}
		if (o + 12 + (uint64_t)blen > (uint64_t)len)
			break; /* a partial batch */
		/* Records are read for trace headers when kept whole and not compressed. */
		if (start + o + 12 + (uint64_t)blen > r->len || (p[22] & 0x07))
			b->untraced = true;
		else
			batch_traces(p + BATCH_HDR, (size_t)blen + 12 - BATCH_HDR, count, b);
		b->records += (uint32_t)count;
		b->next_offset = (int64_t)get_be(p, 8) + (int32_t)get_be(p + 23, 4) + 1;
		o += 12 + (uint64_t)blen;
	}
	rd_skip(r, (uint64_t)len);
}

/* ---- in-flight requests ---- */

static struct kafka_inflight *inflight_at(struct kafka_conn *c, uint32_t k)
{
	return &c->inflight[(c->first + k) % KAFKA_INFLIGHT_MAX];
}

static struct kafka_inflight *inflight_push(struct kafka_conn *c)
{
	struct kafka_inflight *q;

	/* Requests never answered must not stall pairing for later ones. */
	if (c->ninflight == KAFKA_INFLIGHT_MAX) {
		c->first = (c->first + 1) % KAFKA_INFLIGHT_MAX;
		c->ninflight--;
		c->dropped++;
	}
	q = inflight_at(c, c->ninflight++);
	memset(q, 0, sizeof(*q));
	return q;
}

/* Index of the request awaiting the response with this correlation id, or -1. */
static int inflight_find(const struct kafka_conn *c, int32_t corr)
{
	for (uint32_t k = 0; k < c->ninflight; k++)
		if (c->inflight[(c->first + k) % KAFKA_INFLIGHT_MAX].correlation_id == corr)
			return (int)k;
	return -1;
}

/* ---- requests ---- */

static struct kafka_req_part *req_part(struct kafka_inflight *q, const char *topic, int32_t part)
{
	struct kafka_req_part *p;

	if (q->nparts == KAFKA_REQ_PARTS_MAX) {
		q->parts_truncated = true;
		return NULL;
	}
	p = &q->parts[q->nparts++];
	memcpy(p->topic, topic, KAFKA_TOPIC_MAX);
	p->partition = part;
	p->fetch_offset = -1;
	return p;
}

/* Produce: returns acks (-1 or 1, or 0 for a request nobody answers). */
static int16_t produce_request(struct rd *r, struct kafka_inflight *q)
{
	int16_t v = q->api_version, acks;
	bool flex = is_flexible(KAFKA_API_PRODUCE, v);
	char topic[KAFKA_TOPIC_MAX];
	const uint8_t *s;
	int64_t nt, np, n;

	if (v >= 3)
		(void)rd_str(r, flex, &s); /* transactional_id */
	acks = rd_i16(r);
	if (r->end) {
		q->parts_truncated = true;
		return -1;
	}
	(void)rd_i32(r); /* timeout */
	nt = rd_arr(r, flex);
	for (int64_t t = 0; t < nt && !r->end; t++) {
		n = rd_str(r, flex, &s);
		copy_topic(topic, s, n);
		np = rd_arr(r, flex);
		for (int64_t i = 0; i < np && !r->end; i++) {
			int32_t part = rd_i32(r);
			int64_t len = rd_len(r, flex, false);
			struct batches b;
			struct kafka_req_part *p;

			if (r->end)
				break;
			rd_batches(r, len, &b);
			p = req_part(q, topic, part);
			if (p) {
				p->records = b.records;
				if (b.records && !b.untraced && !b.unknown) {
					p->trace_kind = b.trace_kind;
					memcpy(p->trace, b.trace, sizeof(p->trace));
				}
			}
			if (b.unknown)
				q->parts_truncated = true;
			if (flex)
				rd_tags(r);
		}
		if (flex)
			rd_tags(r);
	}
	if (r->end)
		q->parts_truncated = true;
	return acks;
}

static void fetch_request(struct rd *r, struct kafka_inflight *q)
{
	int16_t v = q->api_version;
	bool flex = is_flexible(KAFKA_API_FETCH, v);
	char topic[KAFKA_TOPIC_MAX];
	const uint8_t *s;
	int64_t nt, np, n;

	if (v >= 13)
		return; /* topic ids, not names */
	rd_skip(r, 12); /* replica_id, max_wait_ms, min_bytes */
	if (v >= 3)
		rd_skip(r, 4); /* max_bytes */
	if (v >= 4)
		rd_skip(r, 1); /* isolation_level */
	if (v >= 7)
		rd_skip(r, 8); /* session_id, session_epoch */
	nt = rd_arr(r, flex);
	for (int64_t t = 0; t < nt && !r->end; t++) {
		n = rd_str(r, flex, &s);
		copy_topic(topic, s, n);
		np = rd_arr(r, flex);
		for (int64_t i = 0; i < np && !r->end; i++) {
			int32_t part = rd_i32(r);
			int64_t off;
			struct kafka_req_part *p;

			if (v >= 9)
				rd_skip(r, 4); /* current_leader_epoch */
			off = rd_i64(r);
			if (v >= 12)
				rd_skip(r, 4); /* last_fetched_epoch */
			if (v >= 5)
				rd_skip(r, 8); /* log_start_offset */
			rd_skip(r, 4);	       /* partition_max_bytes */
			if (flex)
				rd_tags(r);
			if (r->end)
				break;
			p = req_part(q, topic, part);
			if (p)
				p->fetch_offset = off;
		}
		if (flex)
			rd_tags(r);
	}
	if (r->end)
		q->parts_truncated = true;
}

/* OffsetCommit v2..v8: the committed offset of each partition (kept as fetch_offset). */
static void offset_commit_request(struct rd *r, struct kafka_inflight *q)
{
	int16_t v = q->api_version;
	bool flex = is_flexible(KAFKA_API_OFFSET_COMMIT, v);
	char topic[KAFKA_TOPIC_MAX];
	const uint8_t *s;
	int64_t nt, np, n;

	if (v < 2)
		return;
	(void)rd_str(r, flex, &s); /* group_id */
	rd_skip(r, 4);             /* generation_id */
	(void)rd_str(r, flex, &s); /* member_id */
	if (v >= 7)
		(void)rd_str(r, flex, &s); /* group_instance_id */
	if (v <= 4)
		rd_skip(r, 8); /* retention_time_ms */
	nt = rd_arr(r, flex);
	for (int64_t t = 0; t < nt && !r->end; t++) {
		n = rd_str(r, flex, &s);
		copy_topic(topic, s, n);
		np = rd_arr(r, flex);
		for (int64_t i = 0; i < np && !r->end; i++) {
			int32_t part = rd_i32(r);
			int64_t off = rd_i64(r);
			struct kafka_req_part *p;

			if (v >= 6)
				rd_skip(r, 4); /* committed_leader_epoch */
			(void)rd_str(r, flex, &s); /* committed_metadata */
			if (flex)
				rd_tags(r);
			if (r->end)
				break;
			p = req_part(q, topic, part);
			if (p)
				p->fetch_offset = off;
		}
		if (flex)
			rd_tags(r);
	}
	if (r->end)
		q->parts_truncated = true;
}

/* ---- responses ---- */

/* The exchange's entry for a topic-partition: the request's, else a new one (or NULL). */
static struct kafka_part *resp_part(struct kafka_exchange *x, const char *topic, int32_t part)
{
	struct kafka_part *p;

	for (uint32_t i = 0; i < x->nparts; i++)
		if (x->parts[i].partition == part && !strcmp(x->parts[i].topic, topic))
			return &x->parts[i];
	if (x->nparts == KAFKA_PARTS_MAX) {
		x->parts_truncated = true;
		return NULL;
	}
	p = &x->parts[x->nparts++];
	memcpy(p->topic, topic, KAFKA_TOPIC_MAX);
	p->partition = part;
	p->base_offset = -1;
	p->fetch_offset = -1;
	p->next_offset = -1;
	p->high_watermark = -1;
	return p;
}

static void produce_response(struct rd *r, struct kafka_exchange *x)
{
	int16_t v = x->api_version;
	bool flex = is_flexible(KAFKA_API_PRODUCE, v);
	char topic[KAFKA_TOPIC_MAX];
	const uint8_t *s;
	int64_t nt, np, n;

	nt = rd_arr(r, flex);
	for (int64_t t = 0; t < nt && !r->end; t++) {
		n = rd_str(r, flex, &s);
		copy_topic(topic, s, n);
		np = rd_arr(r, flex);
		for (int64_t i = 0; i < np && !r->end; i++) {
			int32_t part = rd_i32(r);
			int16_t err = rd_i16(r);
			int64_t base = rd_i64(r);
			struct kafka_part *p;

			if (r->end)
				break;
			p = resp_part(x, topic, part);
			if (p) {
				p->error_code = err;
				p->base_offset = base;
			}
			if (v >= 2)
				rd_skip(r, 8); /* log_append_time_ms */
			if (v >= 5)
				rd_skip(r, 8); /* log_start_offset */
			if (v >= 8) {
				int64_t ne = rd_arr(r, flex);

				for (int64_t e = 0; e < ne && !r->end; e++) {
					rd_skip(r, 4); /* batch_index */
					(void)rd_str(r, flex, &s);
					if (flex)
						rd_tags(r);
				}
				(void)rd_str(r, flex, &s); /* error_message */
			}
			if (flex)
				rd_tags(r);
		}
		if (flex)
			rd_tags(r);
	}
}

static void fetch_response(struct rd *r, struct kafka_exchange *x)
{
	int16_t v = x->api_version;
	bool flex = is_flexible(KAFKA_API_FETCH, v);
	char topic[KAFKA_TOPIC_MAX];
	const uint8_t *s;
	int64_t nt, np, n;

	if (v >= 1)
		rd_skip(r, 4); /* throttle_time_ms */
	if (v >= 7) {
		x->error_code = rd_i16(r);
		rd_skip(r, 4); /* session_id */
	}
	if (v >= 13)
		return; /* topic ids, not names */
	nt = rd_arr(r, flex);
	for (int64_t t = 0; t < nt && !r->end; t++) {
		n = rd_str(r, flex, &s);
		copy_topic(topic, s, n);
		np = rd_arr(r, flex);
		for (int64_t i = 0; i < np && !r->end; i++) {
			int32_t part = rd_i32(r);
			int16_t err = rd_i16(r);
			int64_t hw = rd_i64(r), len;
			struct kafka_part *p;
			struct batches b;

			if (r->end)
				break;
			p = resp_part(x, topic, part);
			if (p) {
				p->error_code = err;
				p->high_watermark = hw;
			}
			if (v >= 4)
				rd_skip(r, 8); /* last_stable_offset */
			if (v >= 5)
				rd_skip(r, 8); /* log_start_offset */
			if (v >= 4) {
				int64_t na = rd_arr(r, flex);

				if (flex) {
					for (int64_t a = 0; a < na && !r->end; a++) {
						rd_skip(r, 16);
						rd_tags(r);
					}
				} else {
					rd_skip(r, (uint64_t)na * 16);
				}
			}
			if (v >= 11)
				rd_skip(r, 4); /* preferred_read_replica */
			len = rd_len(r, flex, false);
			if (r->end)
				break;
			rd_batches(r, len, &b);
			if (p) {
				p->records = b.records;
				if (b.next_offset >= 0)
					p->next_offset = b.next_offset;
				p->trace_kind = KAFKA_TRACE_NONE;
				if (b.records && !b.untraced && !b.unknown) {
					p->trace_kind = b.trace_kind;
					memcpy(p->trace, b.trace, sizeof(p->trace));
				}
			}
			if (b.unknown)
				x->parts_truncated = true;
			if (flex)
				rd_tags(r);
		}
		if (flex)
			rd_tags(r);
	}
}

static void offset_commit_response(struct rd *r, struct kafka_exchange *x)
{
	bool flex = is_flexible(KAFKA_API_OFFSET_COMMIT, x->api_version);
	const uint8_t *s;

	if (x->api_version >= 3)
		rd_skip(r, 4); /* throttle_time_ms */
	if (rd_arr(r, flex) <= 0)
		return;
	(void)rd_str(r, flex, &s);
	if (rd_arr(r, flex) <= 0)
		return;
	rd_skip(r, 4); /* partition_index */
	x->error_code = rd_i16(r);
}

/* ---- messages ---- */

static void emit(struct feed *f, const struct kafka_exchange *x)
{
	if (f->out && f->n < f->max_out)
		memcpy(&f->out[f->n++], x, sizeof(*x));
}

/* An exchange as its request left it (the response fills in the rest). */
static void exchange_from(struct feed *f, const struct kafka_inflight *q, struct kafka_exchange *x)
{
	memset(x, 0, sizeof(*x));
	x->role = f->c->role;
	x->api_key = q->api_key;
	x->api_version = q->api_version;
	x->correlation_id = q->correlation_id;
	memcpy(x->client_id, q->client_id, sizeof(x->client_id));
	x->req_begin_ts = q->begin_ts;
	x->resp_end_ts = f->ts;
	x->parts_truncated = q->parts_truncated;
	x->nparts = q->nparts;
	for (uint32_t i = 0; i < q->nparts; i++) {
		struct kafka_part *p = &x->parts[i];

		memcpy(p->topic, q->parts[i].topic, KAFKA_TOPIC_MAX);
		p->partition = q->parts[i].partition;
		p->records = q->parts[i].records;
		p->base_offset = -1;
		p->fetch_offset = q->parts[i].fetch_offset;
		p->next_offset = q->parts[i].fetch_offset;
		p->high_watermark = -1;
		p->trace_kind = q->parts[i].trace_kind;
		memcpy(p->trace, q->parts[i].trace, sizeof(p->trace));
	}
}

/*
 * The header of the request kept in buf: api key, version, correlation id,
 * client id. Returns -1 if it is malformed, 0 if it was not kept whole.
 */
static int req_header(const struct kafka_half *h, uint64_t size, struct rd *r, int16_t *key,
		      int16_t *ver, int32_t *corr, const uint8_t **cid, int64_t *cidlen)
{
	r->p = h->buf;
	r->len = h->have;
	r->off = 0;
	r->end = false;
	*key = rd_i16(r);
	*ver = rd_i16(r);
	*corr = rd_i32(r);
	*cidlen = rd_str(r, false, cid);
	if (r->end)
		return h->partial ? 0 : -1;
	if (*key < 0 || *ver < 0 || (uint64_t)(*cidlen > 0 ? *cidlen : 0) + 10 > size)
		return -1;
	return 1;
}

static int request_end(struct feed *f, uint64_t size)
{
	struct kafka_half *h = f->h;
	struct kafka_inflight *q;
	struct kafka_exchange x;
	const uint8_t *cid;
	int64_t cidlen;
	int16_t key, ver, acks = -1;
	int32_t corr;
	struct rd r;
	int rc;

	rc = req_header(h, size, &r, &key, &ver, &corr, &cid, &cidlen);
	if (rc <= 0)
		return rc;
	q = inflight_push(f->c);
	q->correlation_id = corr;
	q->api_key = key;
	q->api_version = ver;
	q->begin_ts = h->begin_ts;
	copy_client(q->client_id, cid, cidlen);
	if (is_flexible(key, ver))
		rd_tags(&r);
	if (key == KAFKA_API_PRODUCE)
		acks = produce_request(&r, q);
	else if (key == KAFKA_API_FETCH)
		fetch_request(&r, q);
	else if (key == KAFKA_API_OFFSET_COMMIT)
		offset_commit_request(&r, q);
	/* Kept whole, yet its fields claim more bytes than it has: they do not add up. */
	if (!h->partial && r.off > r.len)
		q->parts_truncated = true;
	if (key == KAFKA_API_PRODUCE && acks == 0) {
		/* acks=0: no response will come; the request is the whole exchange. */
		exchange_from(f, q, &x);
		f->c->ninflight--;
		emit(f, &x);
	}
	return 0;
}

static void response_end(struct feed *f)
{
	struct kafka_conn *c = f->c;
	struct kafka_half *h = f->h;
	struct kafka_inflight *q;
	struct kafka_exchange x;
	struct rd r = {.p = h->buf, .len = h->have};
	int32_t corr = rd_i32(&r);
	int k;

	if (r.end)
		return;
	k = inflight_find(c, corr);
	if (k < 0)
		return; /* answers a request sent before we looked */
	q = inflight_at(c, (uint32_t)k);
	exchange_from(f, q, &x);
	/* Responses come in request order: the requests before it will get none we can see. */
	c->first = (c->first + (uint32_t)k + 1) % KAFKA_INFLIGHT_MAX;
	c->ninflight -= (uint32_t)k + 1;
	if (is_flexible(x.api_key, x.api_version))
		rd_tags(&r);
	switch (x.api_key) {
	case KAFKA_API_PRODUCE:
		produce_response(&r, &x);
		break;
	case KAFKA_API_FETCH:
		fetch_response(&r, &x);
		break;
	case KAFKA_API_OFFSET_COMMIT:
		offset_commit_response(&r, &x);
		break;
	case API_API_VERSIONS:
		x.error_code = rd_i16(&r);
		break;
	default:
		break;
	}
	if ((r.end || (!h->partial && r.off > r.len)) &&
	    (x.api_key == KAFKA_API_PRODUCE || x.api_key == KAFKA_API_FETCH))
		x.parts_truncated = true;
	emit(f, &x);
}

static int msg_end(struct feed *f, uint64_t size)
{
	struct kafka_half *h = f->h;

	h->state = ST_SIZE;
	h->nsize = 0;
	if (h->kind == KIND_REQ)
		return request_end(f, size);
	response_end(f);
	return 0;
}

/* ---- framing ---- */

/*
 * Framing lost to bytes past the capture at a message boundary: where the
 * next message begins is unknown. Requests awaiting a response are forgotten
 * (theirs may have gone by unseen); this half resyncs at the start of a later
 * feed. Counted in c->desyncs.
 */
static void lose_sync(struct feed *f)
{
	struct kafka_conn *c = f->c;

	c->desyncs++;
	c->ninflight = 0;
	c->first = 0;
	f->h->state = ST_RESYNC;
	f->off = f->len;
	f->unseen = 0;
}

static bool size_ok(uint64_t size)
{
	return size >= SIZE_MIN && size <= SIZE_MAX_MSG;
}

/* Could this feed begin a response to one of the requests awaiting one? */
static bool looks_like_response(const struct kafka_conn *c, const uint8_t *d, size_t len)
{
	if (len < 8 || !size_ok(get_be(d, 4)))
		return false;
	return inflight_find(c, (int32_t)get_be(d + 4, 4)) >= 0;
}

static void set_kinds(struct kafka_conn *c, enum kafka_dir req_dir)
{
	c->half[req_dir].kind = KIND_REQ;
	c->half[!req_dir].kind = KIND_RESP;
	c->role = req_dir == KAFKA_DIR_EGRESS ? KAFKA_ROLE_CLIENT : KAFKA_ROLE_SERVER;
}

/* Out of step: does this feed begin a message? (Then the half is in step.) */
static bool resync(struct feed *f)
{
	struct kafka_half *h = f->h;

	if (h->kind == KIND_RESP)
		return looks_like_response(f->c, f->data, f->len);
	if (!kafka_looks_like_request(f->data, f->len))
		return false;
	if (h->kind == KIND_ANY)
		set_kinds(f->c, f->dir);
	return true;
}

static int size_byte(struct feed *f)
{
	struct kafka_half *h = f->h;
	uint64_t size;

	if (!h->nsize)
		h->begin_ts = f->ts;
	h->size[h->nsize++] = f->data[f->off++];
	if (h->nsize < 4)
		return 0;
	size = get_be(h->size, 4);
	if (!size_ok(size))
		return -1;
	h->state = ST_BODY;
	h->msize = (uint32_t)size;
	h->left = size;
	h->have = 0;
	h->partial = false;
	return 0;
}

static void body_bytes(struct feed *f)
{
	struct kafka_half *h = f->h;
	uint64_t n = f->len - f->off;

	if (n > h->left)
		n = h->left;
	if (!h->partial && h->have < KAFKA_BUF_MAX) {
		uint64_t keep = KAFKA_BUF_MAX - h->have;

		if (keep > n)
			keep = n;
		memcpy(h->buf + h->have, f->data + f->off, keep);
		h->have += (uint32_t)keep;
		if (keep < n)
			h->partial = true;
	} else {
		h->partial = true;
	}
	f->off += n;
	h->left -= n;
}

static int half_feed(struct feed *f)
{
	struct kafka_half *h = f->h;
	int rc = 0;

	while (!rc && (f->off < f->len || f->unseen)) {
		if (h->kind == KIND_ANY && h->state != ST_RESYNC)
			return -1; /* cannot happen */
		if (f->off == f->len) {
			uint64_t u;

			if (h->state == ST_RESYNC) {
				f->unseen = 0;
				break;
			}
			if (h->state == ST_SIZE) {
				lose_sync(f);
				break;
			}
			u = f->unseen < h->left ? f->unseen : h->left;
			f->unseen -= u;
			h->left -= u;
			h->partial = true;
			if (!h->left)
				rc = msg_end(f, h->msize);
			continue;
		}
		switch (h->state) {
		case ST_RESYNC:
			if (f->off == 0 && resync(f)) {
				h->state = ST_SIZE;
				h->nsize = 0;
				break;
			}
			f->off = f->len;
			f->unseen = 0;
			break;
		case ST_SIZE:
			rc = size_byte(f);
			break;
		default:
			body_bytes(f);
			if (!h->left)
				rc = msg_end(f, h->msize);
			break;
		}
	}
	return rc;
}

/* ---- public API ---- */

void kafka_conn_init(struct kafka_conn *c, enum kafka_role role_hint)
{
	memset(c, 0, sizeof(*c));
	if (role_hint == KAFKA_ROLE_SERVER)
		set_kinds(c, KAFKA_DIR_INGRESS);
	else if (role_hint == KAFKA_ROLE_CLIENT)
		set_kinds(c, KAFKA_DIR_EGRESS);
	else
		c->role = KAFKA_ROLE_UNKNOWN;
}

int kafka_conn_feed(struct kafka_conn *c, enum kafka_dir dir, const uint8_t *data, size_t caplen,
		    uint64_t total, uint64_t ts, struct kafka_exchange *out, int max_out)
{
	struct feed f;

	if (!c || c->broken || (dir != KAFKA_DIR_INGRESS && dir != KAFKA_DIR_EGRESS))
		return 0;
	if (!data)
		caplen = 0;
	if (caplen > total)
		caplen = total;
	if (!total)
		return 0;
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.h = &c->half[dir];
	f.dir = dir;
	f.data = data;
	f.len = caplen;
	f.unseen = total - caplen;
	f.ts = ts;
	f.out = out;
	f.max_out = max_out < 0 ? 0 : max_out;
	if (half_feed(&f)) {
		c->broken = true;
		return -1;
	}
	return f.n;
}

bool kafka_conn_broken(const struct kafka_conn *c)
{
	return c && c->broken;
}

bool kafka_looks_like_request(const uint8_t *data, size_t len)
{
	uint64_t size;
	int16_t key, ver, cidlen;

	if (!data || len < 14)
		return false;
	size = get_be(data, 4);
	key = (int16_t)get_be(data + 4, 2);
	ver = (int16_t)get_be(data + 6, 2);
	cidlen = (int16_t)get_be(data + 12, 2);
	if (size < 12 || size > SIZE_MAX_MSG)
		return false;
	if (key < 0 || key > API_KEY_MAX || ver < 0 || ver > API_VER_MAX)
		return false;
	if (cidlen < -1 || cidlen > CLIENT_ID_MAX)
		return false;
	return (uint64_t)(cidlen > 0 ? cidlen : 0) + 10 <= size;
}
