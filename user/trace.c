// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conn.h"
#include "proto/http.h"
#include "span.h"
#include "trace.h"

#define TC_REQS 32            /* > HTTP_PIPELINE_MAX: contexts by request seq */
#define TC_FEEDS 32           /* request-direction feeds remembered per client connection */
#define PROC_ENTRIES 256      /* server requests remembered per process */
#define PROC_BUCKETS 256
#define JOIN_BUCKETS 4096
#define PRODUCED_BUCKETS 64   /* (topic, partition) hashes */
#define PRODUCED_WAYS 256     /* produced offset ranges remembered per bucket (a backlog) */
#define LOSSY_NS (2ULL * 1000000000ULL)      /* no links this long after a table overflow */
#define STALE_NS (300ULL * 1000000000ULL)    /* a request never seen ending is over after this */
/*
 * Timestamps are taken at syscall exit: a server's read may return before
 * the client's write does, by microseconds. A server request met first is
 * joined to a client request written at most this much later.
 */
#define REJOIN_NS 1000000ULL

/* A request's context, kept from its head until its exchange completes. */
struct tc_req {
	uint32_t seq;
	bool valid;   /* context resolved, exchange not completed */
	bool claimed; /* a client request joined by the server at the other end */
	bool joined;  /* a server request joined to the client at the other end */
	uint32_t tid;
	uint32_t slot; /* server: its entry in the process table */
	uint64_t begin_ts;
	struct trace_ctx ctx;
};

struct trace_conn {
	uint32_t begun; /* http_conn_begun when last looked at */
	bool begun_set;
	bool indexed;
	uint64_t key; /* its join-index key */
	uint64_t peer_key; /* the key the other end has in the index */
	uint32_t nfeeds;
	/* Per request-direction feed: when, which thread, and the parent decided then. */
	uint64_t feed_ts[TC_FEEDS];
	uint32_t feed_tid[TC_FEEDS];
	struct trace_ctx feed_parent[TC_FEEDS]; /* trace_id zero: none; flags TRACE_UNLINKED */
	struct tc_req req[TC_REQS];
	/* The ids the kernel gave the request that begins in the record at kids_ts. */
	bool kids_set;
	uint64_t kids_ts;
	struct trace_ctx kids;
};

/* A server request of a process: in flight from begin_ts to end_ts (0: not yet ended). */
struct pentry {
	uint64_t conn_id;
	uint32_t seq;
	uint32_t tid;
	uint64_t begin_ts, end_ts;
	const char *method; /* http_method_label's static string */
	uint32_t target_hash;
	bool used;
	bool taken; /* its context was handed to a call: it can no longer change */
	struct trace_ctx ctx;
};

struct tproc {
	uint32_t tgid;
	uint32_t cursor;
	uint64_t lossy_until; /* an in-flight request had to be forgotten: no links until then */
	struct tproc *next;
	struct pentry e[PROC_ENTRIES];
};

struct jnode {
	uint64_t key;
	uint32_t tgid, fd;
	uint64_t conn_id;
	struct jnode *next;
};

/* Offsets a Produce wrote, and the context of its span. */
struct produced {
	uint32_t key; /* hash of topic and partition; 0: empty */
	int32_t partition;
	char topic[64];
	int64_t base, end; /* [base, end) */
	struct trace_ctx ctx;
};

struct tracer {
	double sample_rate;
	struct produced produced[PRODUCED_BUCKETS][PRODUCED_WAYS];
	uint32_t produced_next[PRODUCED_BUCKETS];
	uint64_t rng[4];
	struct conn_table *conns;
	struct tracer_stats st;
	struct tproc *procs[PROC_BUCKETS];
	struct jnode *join[JOIN_BUCKETS];
	struct tracer_correlator corr; /* produced NULL: none */
};

static void kafka_parts(struct tracer *t, struct exchange *x);

/* ---- ids: xoshiro256**, seeded from getrandom ---- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct tracer *t)
{
	uint64_t *s = t->rng;
	uint64_t r = rotl(s[1] * 5, 7) * 9, u = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= u;
	s[3] = rotl(s[3], 45);
	return r;
}

static uint64_t new_id(struct tracer *t)
{
	uint64_t v;

	while (!(v = rng_next(t)))
		;
	return v;
}

static void new_root(struct tracer *t, struct trace_ctx *ctx)
{
	uint64_t hi = new_id(t), lo = rng_next(t);

	memcpy(ctx->trace_id, &hi, 8);
	memcpy(ctx->trace_id + 8, &lo, 8);
	ctx->parent_id = 0;
	ctx->span_id = new_id(t);
	/* 2^53 steps are finer than any rate anyone configures. */
	ctx->flags = (double)(rng_next(t) >> 11) / 9007199254740992.0 < t->sample_rate
			     ? TRACE_SAMPLED
			     : 0;
	t->st.roots++;
}

static void child_of(struct tracer *t, struct trace_ctx *ctx, const struct trace_ctx *parent)
{
	memcpy(ctx->trace_id, parent->trace_id, 16);
	ctx->parent_id = parent->span_id;
	ctx->span_id = new_id(t);
	ctx->flags = parent->flags & TRACE_SAMPLED;
}

/* ---- headers ---- */

/* n hex digits at s into out (n/2 bytes); false unless all are hex. */
static bool unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i += 2) {
		int hi = span_hexval(s[i]), lo = span_hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool span_hex(const char *s, size_t n, uint64_t *id)
{
	uint8_t b[8];

	if (n != 16 || !unhex(s, 16, b) || all_zero(b, 8))
		return false;
	*id = 0;
	for (int i = 0; i < 8; i++)
		*id = *id << 8 | b[i];
	return true;
}

/* A B3 trace id: 16 or 32 hex digits (16: the high half is zero). */
static bool b3_trace(const char *s, size_t n, uint8_t trace_id[16])
{
	memset(trace_id, 0, 16);
	if (n == 32)
		return unhex(s, 32, trace_id) && !all_zero(trace_id, 16);
	if (n == 16)
		return unhex(s, 16, trace_id + 8) && !all_zero(trace_id, 16);
	return false;
}

/* W3C traceparent: version "00" exactly (a later version's first four fields alike). */
static bool parse_traceparent(const char *v, uint8_t trace_id[16], uint64_t *parent, bool *sampled)
{
	size_t n = strlen(v);
	uint8_t flags;

	if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (!strncmp(v, "ff", 2) || span_hexval(v[0]) < 0 || span_hexval(v[1]) < 0 ||
	    (!strncmp(v, "00", 2) && n != 55) || (n > 55 && v[55] != '-'))
		return false;
	if (!unhex(v + 3, 32, trace_id) || all_zero(trace_id, 16))
		return false;
	if (!span_hex(v + 36, 16, parent) || !unhex(v + 53, 2, &flags))
		return false;
	*sampled = flags & 1;
	return true;
}

/* B3 single: {trace}-{span}[-{sampled}[-{parent}]], or the sampling state alone. */
static bool parse_b3(const char *v, uint8_t trace_id[16], uint64_t *parent, bool *sampled)
{
	const char *d1 = strchr(v, '-'), *d2;

	if (!d1)
		return false;
	if (!b3_trace(v, d1 - v, trace_id))
		return false;
	d2 = strchr(d1 + 1, '-');
	if (!span_hex(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1), parent))
		return false;
	*sampled = true;
	if (d2) {
		char s = d2[1];

		if ((s != '0' && s != '1' && s != 'd') || (d2[2] && d2[2] != '-'))
			return false;
		*sampled = s != '0';
	}
	return true;
}

bool trace_parse_headers(const struct http_trace_hdrs *h, uint8_t trace_id[16], uint64_t *parent,
			 bool *sampled, bool *present)
{
	*present = h->traceparent[0] || h->b3[0] || h->x_b3_traceid[0] || h->x_b3_sampled[0];
	*sampled = true;
	if (h->traceparent[0] && parse_traceparent(h->traceparent, trace_id, parent, sampled))
		return true;
	if (h->b3[0] && parse_b3(h->b3, trace_id, parent, sampled))
		return true;
	if (h->x_b3_traceid[0] &&
	    b3_trace(h->x_b3_traceid, strlen(h->x_b3_traceid), trace_id) &&
	    span_hex(h->x_b3_spanid, strlen(h->x_b3_spanid), parent)) {
		*sampled = h->x_b3_sampled[0] != '0';
		return true;
	}
	return false;
}

/* A header that says "do not sample" without a context: b3: 0, or X-B3-Sampled: 0 alone. */
static bool deny_only(const struct http_trace_hdrs *h)
{
	return (h->b3[0] == '0' && !h->b3[1]) || (h->x_b3_sampled[0] == '0' && !h->x_b3_traceid[0]);
}

/* ---- tables ---- */

struct tracer *tracer__new(double sample_rate, struct conn_table *conns)
{
	struct tracer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sample_rate = sample_rate;
	t->conns = conns;
	if (getrandom(t->rng, sizeof(t->rng), 0) != sizeof(t->rng)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t->rng[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
		t->rng[1] = (uint64_t)ts.tv_sec ^ 0xbf58476d1ce4e5b9ULL;
	}
	if (all_zero((const uint8_t *)t->rng, sizeof(t->rng)))
		t->rng[0] = 1;
	return t;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	for (int i = 0; i < PROC_BUCKETS; i++)
		while (t->procs[i]) {
			struct tproc *p = t->procs[i];

			t->procs[i] = p->next;
			free(p);
		}
	for (int i = 0; i < JOIN_BUCKETS; i++)
		while (t->join[i]) {
			struct jnode *n = t->join[i];

			t->join[i] = n->next;
			free(n);
		}
	free(t);
}

void tracer__set_correlator(struct tracer *t, const struct tracer_correlator *c)
{
	t->corr = *c;
}

void tracer__stats(const struct tracer *t, struct tracer_stats *s)
{
	*s = t->st;
}

static struct tproc *proc_of(struct tracer *t, uint32_t tgid, bool create)
{
	struct tproc **pp = &t->procs[tgid % PROC_BUCKETS], *p;

	for (p = *pp; p; p = p->next)
		if (p->tgid == tgid)
			return p;
	if (!create || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->tgid = tgid;
	p->next = *pp;
	*pp = p;
	return p;
}

void tracer__drop_tgid(struct tracer *t, uint32_t tgid)
{
	struct tproc **pp = &t->procs[tgid % PROC_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->tgid == tgid) {
			struct tproc *p = *pp;

			*pp = p->next;
			free(p);
			return;
		}
}

static bool in_flight(const struct pentry *e, uint64_t ts)
{
	return e->used && e->begin_ts <= ts && (e->end_ts ? e->end_ts >= ts : ts - e->begin_ts < STALE_NS);
}

/*
 * A slot for a new server request: one unused or ended. Parents are decided
 * at the moment of a call's first write, so an ended request is never needed
 * again.
 */
static struct pentry *proc_slot(struct tproc *p, uint64_t now, uint32_t *slot)
{
	for (int i = 0; i < PROC_ENTRIES; i++) {
		uint32_t k = (p->cursor + i) % PROC_ENTRIES;
		struct pentry *e = &p->e[k];

		if (!e->used || e->end_ts || now - e->begin_ts >= STALE_NS) {
			p->cursor = (k + 1) % PROC_ENTRIES;
			*slot = k;
			return e;
		}
	}
	/* Every slot holds a request that may still be in flight: forgetting one could mislead. */
	p->lossy_until = now + LOSSY_NS;
	return NULL;
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s && *s != '?'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/*
 * The request thread tid of process p was serving at ts, if that is certain
 * (see trace.h); method/target (HTTP client calls) allow the proxy rule.
 */
static struct pentry *parent_at(struct tracer *t, uint32_t tgid, uint32_t tid, uint64_t ts,
				const char *method, const char *target, bool *ambiguous)
{
	struct tproc *p = proc_of(t, tgid, false);
	struct pentry *mine = NULL, *fwd = NULL;
	uint32_t nmine = 0, nfwd = 0, nflight = 0, th = target ? fnv(target) : 0;

	*ambiguous = false;
	if (!p)
		return NULL;
	if (ts < p->lossy_until) {
		*ambiguous = true;
		return NULL;
	}
	for (int i = 0; i < PROC_ENTRIES; i++) {
		struct pentry *e = &p->e[i];

		if (!in_flight(e, ts))
			continue;
		nflight++;
		if (tid && e->tid == tid) {
			nmine++;
			mine = e;
		}
		if (method && e->method == method && e->target_hash == th) {
			nfwd++;
			fwd = e;
		}
	}
	if (nmine == 1)
		return mine;
	if (nfwd == 1)
		return fwd;
	*ambiguous = nflight > 0;
	return NULL;
}

/*
 * The parent decided for a call: parent (trace_id zero: none, and flags
 * TRACE_UNLINKED if that was for want of certainty). The call's own context.
 */
static void child_or_root(struct tracer *t, const struct trace_ctx *parent, struct trace_ctx *ctx)
{
	if (!all_zero(parent->trace_id, 16)) {
		child_of(t, ctx, parent);
		t->st.linked++;
		return;
	}
	new_root(t, ctx);
	if (parent->flags & TRACE_UNLINKED) {
		ctx->flags |= TRACE_UNLINKED;
		t->st.unlinked++;
	}
}

bool tracer__thread_ctx(struct tracer *t, uint32_t tgid, uint32_t tid, uint64_t ts,
			struct trace_ctx *out)
{
	bool ambiguous;
	struct pentry *e = tid ? parent_at(t, tgid, tid, ts, NULL, NULL, &ambiguous) : NULL;

	if (!e || all_zero(e->ctx.trace_id, 16))
		return false;
	*out = e->ctx;
	return true;
}

/* Decide the parent of a call thread tid of tgid makes at ts, now. */
static void decide_parent(struct tracer *t, uint32_t tgid, uint32_t tid, uint64_t ts,
			  const char *method, const char *target, struct trace_ctx *parent)
{
	bool ambiguous;
	struct pentry *e = parent_at(t, tgid, tid, ts, method, target, &ambiguous);

	memset(parent, 0, sizeof(*parent));
	if (e) {
		e->taken = true;
		*parent = e->ctx;
	}
	else if (ambiguous)
		parent->flags = TRACE_UNLINKED;
}

/* ---- the join index: a connection's two ends ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* Key of an end: its own side first (reverse = the other end's key). */
static uint64_t end_key(const struct sonde_conn_tuple *u, bool reverse)
{
	uint64_t h = 14695981039346656037ULL;

	h = mix(h, &u->family, sizeof(u->family));
	if (u->family == SONDE_AF_UNIX) {
		h = mix(h, reverse ? &u->rino : &u->lino, 8);
		return mix(h, reverse ? &u->lino : &u->rino, 8);
	}
	h = mix(h, reverse ? u->raddr : u->laddr, 16);
	h = mix(h, reverse ? &u->rport : &u->lport, 2);
	h = mix(h, reverse ? u->laddr : u->raddr, 16);
	return mix(h, reverse ? &u->lport : &u->rport, 2);
}

static bool is_peer(const struct sonde_conn_tuple *a, const struct sonde_conn_tuple *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == SONDE_AF_UNIX)
		return a->lino == b->rino && a->rino == b->lino && a->lino;
	return !memcmp(a->laddr, b->raddr, 16) && !memcmp(a->raddr, b->laddr, 16) &&
	       a->lport == b->rport && a->rport == b->lport;
}

static void join_add(struct tracer *t, struct conn *c, struct trace_conn *tc)
{
	struct jnode *n;

	if (!c->tuple.family || (c->tuple.family == SONDE_AF_UNIX && !c->tuple.lino))
		return;
	tc->indexed = true;
	if (!(n = malloc(sizeof(*n))))
		return;
	tc->key = end_key(&c->tuple, false);
	tc->peer_key = end_key(&c->tuple, true);
	n->key = tc->key;
	n->tgid = c->tgid;
	n->fd = c->fd;
	n->conn_id = c->conn_id;
	n->next = t->join[n->key % JOIN_BUCKETS];
	t->join[n->key % JOIN_BUCKETS] = n;
}

static void join_del(struct tracer *t, const struct conn *c, const struct trace_conn *tc)
{
	struct jnode **pp = &t->join[tc->key % JOIN_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->conn_id == c->conn_id && (*pp)->tgid == c->tgid && (*pp)->fd == c->fd) {
			struct jnode *n = *pp;

			*pp = n->next;
			free(n);
			return;
		}
}

static struct conn *peer_of(struct tracer *t, const struct conn *c)
{
	const struct trace_conn *tc = c->trace;
	uint64_t key = tc && tc->indexed && tc->peer_key ? tc->peer_key : end_key(&c->tuple, true);

	for (struct jnode *n = t->join[key % JOIN_BUCKETS]; n; n = n->next) {
		struct conn *p;

		if (n->key != key)
			continue;
		p = conn_table__get(t->conns, n->tgid, n->fd);
		if (p && p->conn_id == n->conn_id && is_peer(&c->tuple, &p->tuple))
			return p;
	}
	return NULL;
}

/*
 * The client request at the other end that this server request reads: the
 * oldest one written before it and not yet joined. Both ends in step.
 */
static const struct tc_req *join_client(struct tracer *t, const struct conn *c, uint64_t begin)
{
	struct conn *p = peer_of(t, c);
	struct trace_conn *pc;
	struct tc_req *best = NULL;

	if (!p || p->proto != CONN_PROTO_HTTP || !(pc = p->trace) || !p->parser ||
	    ((struct http_conn *)p->parser)->role != HTTP_ROLE_CLIENT)
		return NULL;
	for (int i = 0; i < TC_REQS; i++) {
		struct tc_req *r = &pc->req[i];

		if (r->valid && !r->claimed && r->begin_ts <= begin &&
		    (!best || (int32_t)(r->seq - best->seq) < 0))
			best = r;
	}
	if (best)
		best->claimed = true;
	return best;
}

/* ---- per connection ---- */

static struct trace_conn *tc_of(struct tracer *t, struct conn *c)
{
	struct trace_conn *tc = c->trace;

	if (!tc && (tc = calloc(1, sizeof(*tc))))
		c->trace = tc;
	if (tc && !tc->indexed && c->proto == CONN_PROTO_HTTP)
		join_add(t, c, tc);
	return tc;
}

static void server_ctx(struct tracer *t, struct conn *c, const struct http_exchange *x,
		       struct trace_ctx *ctx)
{
	const struct tc_req *peer;
	bool sampled, present;
	uint64_t parent;

	/*
	 * The observed client first: exact, where a header may only be what a
	 * proxy forwarded from further up (its parent would skip the proxy).
	 */
	if ((peer = join_client(t, c, x->req_begin_ts))) {
		child_of(t, ctx, &peer->ctx);
		ctx->flags |= TRACE_JOINED;
		t->st.joined++;
		return;
	}
	/* Else the client's write may still come (REJOIN_NS): see rejoin(). */
	if (trace_parse_headers(&x->trace, ctx->trace_id, &parent, &sampled, &present)) {
		ctx->parent_id = parent;
		ctx->span_id = new_id(t);
		ctx->flags = (sampled ? TRACE_SAMPLED : 0) | TRACE_REMOTE;
		t->st.remote++;
		return;
	}
	new_root(t, ctx);
	if (present && deny_only(&x->trace))
		ctx->flags &= ~TRACE_SAMPLED;
	else if (present)
		t->st.bad_headers++;
}

static struct pentry *entry_of(struct tracer *t, const struct conn *c, const struct tc_req *r)
{
	struct tproc *p = proc_of(t, c->tgid, false);
	struct pentry *e;

	if (!p || r->slot >= PROC_ENTRIES)
		return NULL;
	e = &p->e[r->slot];
	return e->used && e->conn_id == c->conn_id && e->seq == r->seq ? e : NULL;
}

/*
 * Client request cr of c was just written: if the server at the other end
 * already began reading it (its read returned before this write did), and
 * nothing has used that server request's context yet, join it now.
 */
static void rejoin(struct tracer *t, struct conn *c, struct tc_req *cr)
{
	struct conn *p = peer_of(t, c);
	struct trace_conn *pc;
	struct tc_req *best = NULL;
	struct pentry *e;

	if (!p || p->proto != CONN_PROTO_HTTP || !(pc = p->trace) || !p->parser ||
	    ((struct http_conn *)p->parser)->role != HTTP_ROLE_SERVER)
		return;
	for (int i = 0; i < TC_REQS; i++) {
		struct tc_req *r = &pc->req[i];

		if (r->valid && !r->joined && (!best || (int32_t)(r->seq - best->seq) < 0))
			best = r;
	}
	if (!best || best->begin_ts + REJOIN_NS < cr->begin_ts || best->begin_ts > cr->begin_ts ||
	    !(e = entry_of(t, p, best)) || e->taken)
		return;
	if (best->ctx.flags & TRACE_REMOTE)
		t->st.remote--;
	else
		t->st.roots--;
	child_of(t, &best->ctx, &cr->ctx);
	best->ctx.flags |= TRACE_JOINED;
	best->joined = true;
	e->ctx = best->ctx;
	cr->claimed = true;
	t->st.joined++;
}

/* The context of HTTP request x of c, made by thread tid: decided once, here. */
static void resolve(struct tracer *t, struct conn *c, struct trace_conn *tc,
		    const struct http_exchange *x, uint32_t tid)
{
	struct tc_req *r = &tc->req[x->seq % TC_REQS];
	const char *method = http_method_label(x->method);
	bool sampled, present;

	memset(r, 0, sizeof(*r));
	r->seq = x->seq;
	r->tid = tid;
	r->begin_ts = x->req_begin_ts;
	r->slot = UINT32_MAX;
	if (tc->kids_set && tc->kids_ts == x->req_begin_ts) {
		/* Born in the kernel (--inject-traceparent): exactly these ids. */
		tc->kids_set = false;
		r->ctx = tc->kids;
		if (r->ctx.flags & TRACE_REMOTE)
			t->st.remote++;
		else if (r->ctx.parent_id)
			t->st.linked++;
		else
			t->st.roots++;
		if (x->role != HTTP_ROLE_SERVER) {
			r->valid = true;
			return;
		}
	}
	if (x->role == HTTP_ROLE_SERVER) {
		struct tproc *p = proc_of(t, c->tgid, true);
		struct pentry *e;

		if (all_zero(r->ctx.trace_id, 16))
			server_ctx(t, c, x, &r->ctx);
		r->joined = r->ctx.flags & TRACE_JOINED;
		if (p && (e = proc_slot(p, x->req_begin_ts, &r->slot))) {
			e->used = true;
			e->taken = false;
			e->conn_id = c->conn_id;
			e->seq = x->seq;
			e->tid = tid;
			e->begin_ts = x->req_begin_ts;
			e->end_ts = 0;
			e->method = method;
			e->target_hash = fnv(x->target);
			e->ctx = r->ctx;
		}
	} else {
		struct trace_ctx parent;
		uint64_t hdr_parent;

		decide_parent(t, c->tgid, tid, x->req_begin_ts, method, x->target, &parent);
		if (all_zero(parent.trace_id, 16) &&
		    trace_parse_headers(&x->trace, r->ctx.trace_id, &hdr_parent, &sampled,
					&present)) {
			/*
			 * Not tied to a request here, but it carries a context (a
			 * proxy's forward we could not tell apart, or a process that
			 * propagates its own): continue that trace under it.
			 */
			r->ctx.parent_id = hdr_parent;
			r->ctx.span_id = new_id(t);
			r->ctx.flags = (sampled ? TRACE_SAMPLED : 0) | TRACE_REMOTE;
			t->st.remote++;
		} else {
			child_or_root(t, &parent, &r->ctx);
		}
		r->valid = true;
		rejoin(t, c, r);
	}
	r->valid = true;
}

void tracer__kernel_ids(struct tracer *t, struct conn *c, const struct sonde_ids *ids,
			uint64_t ts)
{
	struct trace_conn *tc = tc_of(t, c);
	uint8_t flags = ((ids->flags & SONDE_IDS_SAMPLED) ? TRACE_SAMPLED : 0) |
			((ids->flags & SONDE_IDS_REMOTE) ? TRACE_REMOTE : 0);

	if (!tc)
		return;
	if (ids->flags & SONDE_IDS_UPDATE) {
		/* The traceparent of a head read in parts: its request continues that trace. */
		struct trace_ctx *x = NULL;
		struct pentry *e = NULL;

		if (tc->kids_set && tc->kids.span_id == ids->span_id)
			x = &tc->kids;
		for (int i = 0; !x && i < TC_REQS; i++)
			if (tc->req[i].valid && tc->req[i].ctx.span_id == ids->span_id) {
				x = &tc->req[i].ctx;
				e = entry_of(t, c, &tc->req[i]);
			}
		if (!x)
			return;
		memcpy(x->trace_id, ids->trace_id, 16);
		x->parent_id = ids->parent_id;
		x->flags = flags;
		if (e && !e->taken)
			e->ctx = *x;
		return;
	}
	memset(&tc->kids, 0, sizeof(tc->kids));
	memcpy(tc->kids.trace_id, ids->trace_id, 16);
	tc->kids.span_id = ids->span_id;
	tc->kids.parent_id = ids->parent_id;
	tc->kids.flags = flags;
	tc->kids_ts = ts;
	tc->kids_set = !all_zero(ids->trace_id, 16) && ids->span_id;
}

void tracer__http_feed(struct tracer *t, struct conn *c, uint32_t tid, uint64_t ts)
{
	struct http_conn *hc = c->parser;
	struct trace_conn *tc;
	uint32_t now;

	(void)ts;
	if (!hc || !(tc = tc_of(t, c)))
		return;
	now = http_conn_begun(hc);
	if (!tc->begun_set || now - tc->begun > HTTP_PIPELINE_MAX) {
		tc->begun = now - hc->npending; /* every pending one is news */
		tc->begun_set = true;
	}
	for (; tc->begun != now; tc->begun++) {
		const struct http_exchange *x = http_conn_request(hc, tc->begun);

		if (x && !x->unanswered_request)
			resolve(t, c, tc, x, tid);
	}
}

void tracer__client_feed(struct tracer *t, struct conn *c, uint32_t tid, uint64_t ts)
{
	struct trace_conn *tc = tc_of(t, c);
	uint32_t i;

	if (!tc)
		return;
	/* The runs of one walked syscall share its ts: decided once. */
	if (tc->nfeeds && tc->feed_ts[(tc->nfeeds - 1) % TC_FEEDS] == ts)
		return;
	i = tc->nfeeds++ % TC_FEEDS;
	tc->feed_ts[i] = ts;
	tc->feed_tid[i] = tid;
	decide_parent(t, c->tgid, tid, ts, NULL, NULL, &tc->feed_parent[i]);
}

/* c's request-direction feed at ts (the latest at or before it), or -1. */
static int feed_at(const struct trace_conn *tc, uint64_t ts)
{
	uint32_t n = tc->nfeeds < TC_FEEDS ? tc->nfeeds : TC_FEEDS;

	for (uint32_t k = 1; k <= n; k++) {
		uint32_t i = (tc->nfeeds - k) % TC_FEEDS;

		if (tc->feed_ts[i] <= ts)
			return (int)i;
	}
	return -1;
}

static void end_server(struct tracer *t, struct conn *c, const struct tc_req *r, uint64_t end)
{
	struct pentry *e = entry_of(t, c, r);

	if (e) {
		e->end_ts = end ? end : 1;
		e->taken = true;
	}
}

void tracer__assign(struct tracer *t, struct conn *c, struct exchange *x,
		    const struct http_exchange *hx)
{
	struct trace_conn *tc = c ? tc_of(t, c) : NULL;

	memset(&x->ctx, 0, sizeof(x->ctx));
	if (!tc && x->proto != EXCHANGE_NET)
		return;
	if (hx && tc) {
		struct tc_req *r = &tc->req[hx->seq % TC_REQS];

		if (hx->unanswered_request)
			return;
		if (!r->valid || r->seq != hx->seq)
			resolve(t, c, tc, hx, 0);
		x->ctx = r->ctx;
		x->tid = r->tid;
		if (hx->role == HTTP_ROLE_SERVER)
			end_server(t, c, r, x->end_ns);
		r->valid = false;
		return;
	}
	{
		int i = tc && !hx ? feed_at(tc, x->start_ns) : -1;
		struct trace_ctx parent = { .flags = TRACE_UNLINKED };

		if (i >= 0) {
			x->tid = tc->feed_tid[i];
			parent = tc->feed_parent[i];
		} else if (x->proto == EXCHANGE_NET) {
			/* A connect that failed before any byte: the thread's request, as at a write. */
			decide_parent(t, x->tgid, x->tid, x->start_ns, NULL, NULL, &parent);
		} else {
			x->tid = 0;
		}
		child_or_root(t, &parent, &x->ctx);
	}
	if (x->proto == EXCHANGE_KAFKA)
		kafka_parts(t, x);
}

/* ---- Kafka: a fetched record continues the trace of the Produce that wrote it ---- */

static uint32_t part_key(const char *topic, int32_t partition)
{
	uint32_t h = 2166136261u ^ (uint32_t)partition;

	for (const char *p = topic; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h ? h : 1;
}

/* The span of part i of a Produce: the exchange's own for the first, derived for the others. */
static void produce_part_ctx(const struct trace_ctx *x, uint32_t i, struct trace_ctx *out)
{
	*out = *x;
	if (i)
		out->span_id = x->span_id ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
	if (!out->span_id)
		out->span_id = 1;
}

static void remember_produced(struct tracer *t, const struct exchange_part *p)
{
	uint32_t key = part_key(p->topic, p->partition), b = key % PRODUCED_BUCKETS;
	struct produced *e = &t->produced[b][t->produced_next[b]++ % PRODUCED_WAYS];

	e->key = key;
	e->partition = p->partition;
	snprintf(e->topic, sizeof(e->topic), "%s", p->topic);
	e->base = p->base_offset;
	e->end = p->base_offset + p->records;
	e->ctx = p->ctx;
}

/*
 * The Produce whose records [from, to) are, when exactly one remembered
 * Produce wrote them all; NULL otherwise (not seen, or several).
 */
static const struct produced *producer_of(struct tracer *t, const char *topic, int32_t partition,
					  int64_t from, int64_t to)
{
	uint32_t key = part_key(topic, partition);
	const struct produced *found = NULL;

	if (strlen(topic) >= sizeof(found->topic) || to <= from)
		return NULL;
	for (int w = 0; w < PRODUCED_WAYS; w++) {
		const struct produced *e = &t->produced[key % PRODUCED_BUCKETS][w];

		if (e->key != key || e->partition != partition || strcmp(e->topic, topic) ||
		    e->end <= from || e->base >= to)
			continue;
		if (found || e->base > from || e->end < to)
			return NULL; /* records of several Produces, or some not seen */
		found = e;
	}
	return found;
}

bool tracer__produced(struct tracer *t, const char *topic, int32_t partition, int64_t from,
		      int64_t to, uint8_t flags, struct trace_ctx *out)
{
	const struct produced *src = producer_of(t, topic, partition, from, to);

	if (!src)
		return false;
	*out = src->ctx;
	/* What the part was counted as when it could not wait is undone. */
	if (flags & TRACE_REMOTE)
		t->st.remote--;
	else
		t->st.roots--;
	t->st.offset_linked++;
	return true;
}

/*
 * The context the part's records carry in their headers (a producer that
 * propagates), as the part's parent; false if none or malformed.
 */
static bool records_ctx(struct tracer *t, const struct exchange_part *p, struct trace_ctx *parent)
{
	bool ok = false, sampled = true;

	memset(parent, 0, sizeof(*parent));
	if (p->trace_fmt == EXCHANGE_TRACE_TRACEPARENT)
		ok = parse_traceparent(p->trace, parent->trace_id, &parent->span_id, &sampled);
	else if (p->trace_fmt == EXCHANGE_TRACE_B3)
		ok = parse_b3(p->trace, parent->trace_id, &parent->span_id, &sampled);
	if (p->trace_fmt && !ok)
		t->st.bad_headers++;
	parent->flags = sampled ? TRACE_SAMPLED : 0;
	return ok;
}

/* A part's span continues its records' context: a child of the producer's span. */
static void remote_child(struct tracer *t, struct trace_ctx *ctx, const struct trace_ctx *parent)
{
	child_of(t, ctx, parent);
	ctx->flags |= TRACE_REMOTE;
	t->st.remote++;
}

static void kafka_parts(struct tracer *t, struct exchange *x)
{
	struct exchange_part *parts = (struct exchange_part *)x->kafka.parts;

	for (uint32_t i = 0; i < x->kafka.nparts; i++) {
		struct exchange_part *p = &parts[i];
		const struct produced *src;
		struct trace_ctx hdr;

		memset(&p->ctx, 0, sizeof(p->ctx));
		if (x->kind == EXCHANGE_PRODUCER) {
			/*
			 * Records that carry a context belong to that trace, whatever
			 * thread wrote them (librdkafka's broker threads serve nobody).
			 */
			if (records_ctx(t, p, &hdr))
				remote_child(t, &p->ctx, &hdr);
			else
				produce_part_ctx(&x->ctx, i, &p->ctx);
			if (!p->error_code && p->base_offset >= 0 && p->records && p->topic[0]) {
				remember_produced(t, p);
				if (t->corr.produced)
					t->corr.produced(t->corr.ctx, p->topic, p->partition,
							 p->base_offset, p->base_offset + p->records,
							 &p->ctx);
			}
		} else if (x->kind == EXCHANGE_CONSUMER && p->records && p->topic[0]) {
			bool offsets = p->fetch_offset >= 0 && p->next_offset > p->fetch_offset;

			src = offsets ? producer_of(t, p->topic, p->partition, p->fetch_offset,
						    p->next_offset)
				      : NULL;
			/* The Produce sonde saw is exact; the headers come second, as for HTTP. */
			if (src) {
				child_of(t, &p->ctx, &src->ctx);
				p->ctx.flags |= TRACE_JOINED;
				t->st.offset_linked++;
				continue;
			}
			if (records_ctx(t, p, &hdr))
				remote_child(t, &p->ctx, &hdr);
			else /* Its own trace: records of unrelated Produces are never merged. */
				new_root(t, &p->ctx);
			/*
			 * The consumer may read the records before sonde reads the
			 * Produce's answer (another thread, another CPU): the span
			 * sink holds the part a while for it (tracer__produced),
			 * and for another instance's (--correlation-redis).
			 */
			if (offsets)
				p->ctx.flags |= TRACE_PENDING;
		}
	}
}

void tracer__conn_gone(struct tracer *t, struct conn *c)
{
	struct trace_conn *tc = c->trace;

	if (!tc)
		return;
	for (int i = 0; i < TC_REQS; i++)
		if (tc->req[i].valid && tc->req[i].slot < PROC_ENTRIES)
			end_server(t, c, &tc->req[i], c->last_ts);
	if (tc->indexed)
		join_del(t, c, tc);
}
