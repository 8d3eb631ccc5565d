// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto/kafka.h"
#include "proto/route.h"
#include "sinks/names.h"
#include "sinks/span_sink.h"

#define OUTS_MAX 4
#define BATCH 64
#define PENDING_MAX 4096
#define PENDING_NS 1000000000ULL /* how long a CONSUMER span waits for its Produce */

/* A CONSUMER span waiting for the context of its Produce. */
struct pending {
	struct span s;
	char topic[SPAN_TAG_VAL_MAX];
	int32_t partition;
	int64_t from, to;
	uint8_t flags;	      /* its provisional context's */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
};

struct span_sink {
	const struct config *cfg;
	int64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, taken once */
	uint64_t spans;
	struct {
		span_out_fn fn;
		void *ctx;
	} out[OUTS_MAX];
	int nout;
	struct span batch[BATCH];
	int nbatch;
	span_local_fn local;
	void *local_ctx;
	span_resolve_fn resolve;
	void *resolve_ctx;
	struct pending *pending;
	int npending;
	uint64_t joined, unjoined;
};

struct span_sink *span_sink__new(const struct config *cfg)
{
	struct span_sink *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	ss->cfg = cfg;
	ss->wall_offset_ns = span_clock_offset_ns();
	return ss;
}

void span_sink__free(struct span_sink *ss)
{
	if (ss)
		free(ss->pending);
	free(ss);
}

/* Room for held spans; false without it (then nothing is held). */
static bool pending_room(struct span_sink *ss)
{
	if (!ss->pending)
		ss->pending = calloc(PENDING_MAX, sizeof(*ss->pending));
	return ss->pending;
}

void span_sink__set_local(struct span_sink *ss, span_local_fn fn, void *ctx)
{
	if (pending_room(ss)) {
		ss->local = fn;
		ss->local_ctx = ctx;
	}
}

void span_sink__set_resolver(struct span_sink *ss, span_resolve_fn fn, void *ctx)
{
	if (pending_room(ss)) {
		ss->resolve = fn;
		ss->resolve_ctx = ctx;
	}
}

/* The context of the Produce of [from, to): seen here first, else another instance's. */
static bool resolve(struct span_sink *ss, const char *topic, int32_t partition, int64_t from,
		    int64_t to, uint8_t flags, struct trace_ctx *ctx)
{
	if (ss->local && ss->local(ss->local_ctx, topic, partition, from, to, flags, ctx))
		return true;
	if (ss->resolve && ss->resolve(ss->resolve_ctx, topic, partition, from, to, ctx)) {
		ss->joined++;
		return true;
	}
	return false;
}

void span_sink__correlation(const struct span_sink *ss, uint64_t *joined, uint64_t *unjoined)
{
	*joined = ss->joined;
	*unjoined = ss->unjoined;
}

/* The span continues ctx's trace, as the child of its span. */
static void resolved(struct span *s, const struct trace_ctx *ctx)
{
	memcpy(s->trace_id, ctx->trace_id, 16);
	s->parent_id = ctx->span_id;
}

int span_sink__add_out(struct span_sink *ss, span_out_fn fn, void *ctx)
{
	if (ss->nout == OUTS_MAX)
		return -1;
	ss->out[ss->nout].fn = fn;
	ss->out[ss->nout++].ctx = ctx;
	return 0;
}

uint64_t span_sink__spans(const struct span_sink *ss)
{
	return ss->spans;
}

/* dst = lowercase src, truncated to fit. */
static void lower(char *dst, size_t dstsz, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < dstsz; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* "%d" of an HTTP status (0..999 as parsed), into 4 bytes at least. */
static void fmt_status(char *out, int v)
{
	int i = 0;

	if (v < 0 || v > 999)
		v = 0;
	if (v >= 100)
		out[i++] = (char)('0' + v / 100);
	if (v >= 10)
		out[i++] = (char)('0' + v / 10 % 10);
	out[i++] = (char)('0' + v % 10);
	out[i] = '\0';
}

/* dst = "a b", truncated to fit. */
static void name2(char *dst, size_t dstsz, const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);

	if (n > dstsz - 2)
		n = dstsz - 2;
	memcpy(dst, a, n);
	dst[n++] = ' ';
	if (m > dstsz - 1 - n)
		m = dstsz - 1 - n;
	memcpy(dst + n, b, m);
	dst[n + m] = '\0';
}

static void endpoint(struct span_endpoint *ep, const char *service, const struct sonde_conn_tuple *t,
		     bool local)
{
	span_copy(ep->service, sizeof(ep->service), service);
	ep->family = 0;
	ep->port = 0;
	if (!t || (t->family != SONDE_AF_INET && t->family != SONDE_AF_INET6))
		return;
	ep->family = t->family == SONDE_AF_INET ? 4 : 6;
	memcpy(ep->addr, local ? t->laddr : t->raddr, 16);
	ep->port = local ? t->lport : t->rport;
}

static void base(const struct span_sink *ss, const struct exchange *x, struct span *s,
		 uint8_t kind)
{
	uint64_t start = x->start_ns + ss->wall_offset_ns;

	memset(s, 0, offsetof(struct span, tags));
	memcpy(s->trace_id, x->ctx.trace_id, 16);
	s->id = x->ctx.span_id;
	s->parent_id = x->ctx.parent_id;
	s->kind = kind;
	s->pid = x->tgid;
	s->timestamp_us = start / 1000;
	s->duration_us = x->end_ns > x->start_ns ? (x->end_ns - x->start_ns) / 1000 : 0;
	if (!s->duration_us)
		s->duration_us = 1;
	endpoint(&s->local, x->service_name, x->tuple, true);
	endpoint(&s->remote, "", x->tuple, false);
	if (x->ctx.flags & TRACE_UNLINKED)
		span_tag(s, "sonde.unlinked", "true");
	/* The pod (OpenTelemetry's k8s.* resource attribute names; docs/kubernetes.md). */
	if (x->k8s && x->k8s->pod[0]) {
		span_tag(s, "k8s.namespace.name", x->k8s->namespace_);
		span_tag(s, "k8s.pod.name", x->k8s->pod);
		if (x->k8s->container[0])
			span_tag(s, "k8s.container.name", x->k8s->container);
		if (x->k8s->node[0])
			span_tag(s, "k8s.node.name", x->k8s->node);
	}
}

static void build_http(const struct span_sink *ss, const struct exchange *x, struct span *s)
{
	char route[ROUTE_MAX], method[16], path[SPAN_TAG_VAL_MAX], st[12];

	base(ss, x, s, x->kind == EXCHANGE_SERVER ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT);
	route_normalize(ss->cfg ? &ss->cfg->routes : NULL, x->target, route, sizeof(route));
	sink_path_of(path, sizeof(path), x->target);
	lower(method, sizeof(method), x->operation);
	name2(s->name, sizeof(s->name), method, route);
	fmt_status(st, x->status);
	span_tag(s, "http.method", x->operation);
	span_tag(s, "http.path", path);
	span_tag(s, "http.route", route);
	span_tag(s, "http.status_code", st);
	if (x->error)
		span_tag(s, "error", st);
	/* Kept with the context it came with: the span that continued the caller's. */
	if ((x->ctx.flags & TRACE_REMOTE) && x->http.tracestate && x->http.tracestate[0])
		span_tag(s, "w3c.tracestate", x->http.tracestate);
}

static void build_redis(const struct span_sink *ss, const struct exchange *x, struct span *s)
{
	char cmd[32], region[64];

	base(ss, x, s, SPAN_KIND_CLIENT);
	span_copy(s->remote.service, sizeof(s->remote.service), "redis");
	lower(cmd, sizeof(cmd), x->operation);
	snprintf(s->name, sizeof(s->name), "redis %s", cmd);
	span_tag(s, "db.system", "redis");
	span_tag(s, "db.operation", x->operation);
	if (x->target[0]) {
		sink_region_of(ss->cfg, x->target, region, sizeof(region));
		if (region[0])
			span_tag(s, "cache", region);
	}
	if (x->error)
		span_tag(s, "error", x->error_code[0] ? x->error_code : "true");
}

static void build_pg(const struct span_sink *ss, const struct exchange *x, struct span *s)
{
	char op[32];

	base(ss, x, s, SPAN_KIND_CLIENT);
	span_copy(s->remote.service, sizeof(s->remote.service), "postgresql");
	lower(op, sizeof(op), x->operation[0] ? x->operation : "query");
	if (x->target[0])
		snprintf(s->name, sizeof(s->name), "postgres %s %s", op, x->target);
	else
		snprintf(s->name, sizeof(s->name), "postgres %s", op);
	span_tag(s, "db.system", "postgresql");
	if (x->pg.db[0])
		span_tag(s, "db.name", x->pg.db);
	if (x->operation[0])
		span_tag(s, "db.operation", x->operation);
	if (x->target[0])
		span_tag(s, "db.sql.table", x->target);
	if (x->pg.statement && x->pg.statement[0])
		span_tag(s, "db.statement", x->pg.statement);
	if (x->error)
		span_tag(s, "error", x->error_code[0] ? x->error_code : "true");
}

/*
 * A call that failed below its protocol: named after the request it left
 * unanswered when there was one ("get /api/x", "redis get"), else after the
 * step that failed ("tcp connect"); the errno's name as error.
 */
static void build_net(const struct span_sink *ss, const struct exchange *x, struct span *s)
{
	char route[ROUTE_MAX], path[SPAN_TAG_VAL_MAX], req[32];
	const char *app = x->net.app[0] ? x->net.app : "tcp";

	base(ss, x, s, SPAN_KIND_CLIENT);
	lower(req, sizeof(req), x->net.request);
	if (!strcmp(app, "http") && req[0]) {
		route_normalize(ss->cfg ? &ss->cfg->routes : NULL, x->target, route, sizeof(route));
		sink_path_of(path, sizeof(path), x->target);
		name2(s->name, sizeof(s->name), req, route);
		span_tag(s, "http.method", x->net.request);
		span_tag(s, "http.path", path);
		span_tag(s, "http.route", route);
	} else {
		name2(s->name, sizeof(s->name), app, req[0] ? req : x->operation);
		if (strcmp(app, "tcp"))
			span_copy(s->remote.service, sizeof(s->remote.service), app);
		if (!strcmp(app, "redis") || !strcmp(app, "postgresql"))
			span_tag(s, "db.system", app);
	}
	span_tag(s, "sonde.failed_at", x->operation);
	span_tag(s, "error.type", x->error_code);
	span_tag(s, "error", x->error_code);
}

/*
 * A span per topic-partition that moved records, each with the context the
 * tracer gave that part (a Produce's parts share the exchange's trace; a
 * Fetch's part continues its records' Produce, or is a trace of its own).
 */
static int build_kafka(struct span_sink *ss, const struct exchange *x, struct span *out, int max)
{
	bool produce = x->kind == EXCHANGE_PRODUCER;
	int n = 0;

	if (x->kind != EXCHANGE_PRODUCER && x->kind != EXCHANGE_CONSUMER)
		return 0;
	for (uint32_t i = 0; i < x->kafka.nparts && n < max; i++) {
		const struct exchange_part *p = &x->kafka.parts[i];
		struct span *s = &out[n];
		char v[32];

		if (!p->topic[0] || (!produce && !p->records) || !p->ctx.span_id ||
		    !(p->ctx.flags & TRACE_SAMPLED))
			continue;
		base(ss, x, s, produce ? SPAN_KIND_PRODUCER : SPAN_KIND_CONSUMER);
		memcpy(s->trace_id, p->ctx.trace_id, 16);
		s->id = p->ctx.span_id;
		s->parent_id = p->ctx.parent_id;
		span_copy(s->remote.service, sizeof(s->remote.service), "kafka");
		snprintf(s->name, sizeof(s->name), "kafka %s %s", produce ? "send" : "receive",
			 p->topic);
		span_tag(s, "messaging.system", "kafka");
		span_tag(s, "messaging.destination", p->topic);
		snprintf(v, sizeof(v), "%d", p->partition);
		span_tag(s, "messaging.kafka.partition", v);
		if ((produce ? p->base_offset : p->fetch_offset) >= 0) {
			snprintf(v, sizeof(v), "%lld",
				 (long long)(produce ? p->base_offset : p->fetch_offset));
			span_tag(s, "messaging.kafka.offset", v);
		}
		snprintf(v, sizeof(v), "%u", p->records);
		span_tag(s, "messaging.batch.message_count", v);
		if (p->error_code) {
			snprintf(v, sizeof(v), "%d", p->error_code);
			span_tag(s, "error", v);
		}
		if ((p->ctx.flags & TRACE_PENDING) && (ss->local || ss->resolve)) {
			struct trace_ctx ctx;

			if (resolve(ss, p->topic, p->partition, p->fetch_offset, p->next_offset,
				    p->ctx.flags, &ctx)) {
				resolved(s, &ctx);
			} else if (ss->npending < PENDING_MAX) {
				struct pending *w = &ss->pending[ss->npending++];

				w->s = *s;
				span_copy(w->topic, sizeof(w->topic), p->topic);
				w->partition = p->partition;
				w->from = p->fetch_offset;
				w->to = p->next_offset;
				w->flags = p->ctx.flags;
				w->deadline_ns = x->end_ns + PENDING_NS;
				continue; /* held: not in out */
			} else if (ss->resolve) {
				ss->unjoined++;
			}
		}
		n++;
	}
	return n;
}

int span_sink__build(struct span_sink *ss, const struct exchange *x, struct span *out, int max)
{
	if (max < 1 || !x->ctx.span_id)
		return 0;
	if (x->proto == EXCHANGE_KAFKA)
		return build_kafka(ss, x, out, max); /* sampled per part */
	if (!(x->ctx.flags & TRACE_SAMPLED))
		return 0;
	switch (x->proto) {
	case EXCHANGE_HTTP:
		build_http(ss, x, out);
		return 1;
	case EXCHANGE_REDIS:
		build_redis(ss, x, out);
		return 1;
	case EXCHANGE_PG:
		build_pg(ss, x, out);
		return 1;
	case EXCHANGE_NET:
		build_net(ss, x, out);
		return 1;
	}
	return 0;
}

static void flush(struct span_sink *ss)
{
	for (int i = 0; i < ss->nout; i++)
		ss->out[i].fn(ss->out[i].ctx, ss->batch, ss->nbatch);
	ss->spans += ss->nbatch;
	ss->nbatch = 0;
}

void span_sink__tick(struct span_sink *ss, uint64_t now_ns)
{
	int kept = 0;

	for (int i = 0; i < ss->npending; i++) {
		struct pending *w = &ss->pending[i];
		struct trace_ctx ctx;
		bool found = resolve(ss, w->topic, w->partition, w->from, w->to, w->flags, &ctx);

		if (!found && now_ns < w->deadline_ns) {
			ss->pending[kept++] = *w;
			continue;
		}
		if (found)
			resolved(&w->s, &ctx);
		else if (ss->resolve)
			ss->unjoined++;
		if (ss->nbatch == BATCH)
			flush(ss);
		ss->batch[ss->nbatch++] = w->s;
	}
	ss->npending = kept;
	if (ss->nbatch)
		flush(ss);
}

void span_sink__put(void *ctx, const struct exchange *x, size_t n)
{
	struct span_sink *ss = ctx;

	for (size_t i = 0; i < n; i++) {
		if (BATCH - ss->nbatch < KAFKA_PARTS_MAX)
			flush(ss);
		ss->nbatch += span_sink__build(ss, &x[i], &ss->batch[ss->nbatch],
					       BATCH - ss->nbatch);
	}
	if (ss->nbatch)
		flush(ss);
}
