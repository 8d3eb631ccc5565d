// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "conn.h"
#include "export/metrics.h"
#include "proto/http.h"
#include "proto/kafka.h"
#include "proto/lines.h"
#include "proto/postgres.h"
#include "proto/redis.h"
#include "proto/route.h"
#include "sinks/business_sink.h"
#include "sinks/metrics_sink.h"
#include "trace.h"

/* Spring Boot's default SLO-ish buckets, as the issue and the seeds' dashboards use them. */
const double agent_latency_buckets[13] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					   0.25,  0.5,	  1,	 2.5,  5,    10 };

/* A connection whose first events show no known protocol is dropped after this many. */
#define SNIFF_MAX 8
#define EXCHANGES_PER_FEED 16 /* HTTP: at most HTTP_PIPELINE_MAX complete per feed */
#define POOLS_MAX 64          /* (service, db) pairs reported by db_connections */
#define RAISED_CAPTURE 4096   /* what a connection that lost its framing asks for */

/* db_connections, recomputed from the connection table once a second. */
struct pool {
	uint32_t service;
	char db[PG_DB_MAX];
	uint32_t active, idle;
};

#define SINKS_MAX 8

struct agent {
	struct metrics *m;
	struct conn_table *conns;
	const struct config *cfg;
	char **names; /* services, by index */
	char **k8s;   /* their --k8s-labels values joined by '\n', NULL none */
	int nsvc;
	uint64_t events;
	struct pool pools[POOLS_MAX];
	int npools;
	agent_capture_fn capture_fn;
	void *capture_ctx;
	agent_k8s_fn k8s_fn;
	void *k8s_ctx;
	struct metrics_sink *ms;
	struct business_sink *bs; /* NULL: no business_metrics */
	char bs_err[256];
	struct tracer *tracer; /* NULL: tracing off */
	struct sink sinks[SINKS_MAX];
	int nsinks;
	struct line_sink lines; /* put NULL: app lines are not wanted */

	struct metric_family *db_conns;
	struct metric_family *trace_links, *trace_bad; /* while tracing */
	struct metric_family *parse_errors;
	struct metric_family *unparsed;
	struct metric_family *encrypted;
	struct metric_family *tls_conns; /* sonde_tls_connections_total */
	struct metric_family *malformed;
	struct metric_family *connections;
};

static int register_pool_metric(struct agent *a, struct metrics *m)
{
	static const char *const pool_labels[] = { "service", "db", "state" };

	a->db_conns = metrics__gauge(m, "db_connections",
				     "PostgreSQL connections of the observed process: active = a "
				     "statement in flight",
				     pool_labels, 3);
	return a->db_conns ? 0 : -1;
}

static void parse_error(struct agent *a, const char *protocol, const char *reason, double n)
{
	const char *v[] = { protocol, reason };

	metric__add(a->parse_errors, v, n);
}

struct agent *agent__new(struct metrics *m, const struct config *cfg)
{
	static const char *const proto_label[] = { "protocol" };
	static const char *const proto_reason[] = { "protocol", "reason" };
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->m = m;
	a->cfg = cfg;
	a->conns = conn_table__new();
	a->ms = metrics_sink__new(m, cfg);
	if (a->ms)
		a->sinks[a->nsinks++] = (struct sink){ metrics_sink__put, a->ms };
	if ((a->bs = business_sink__new(m, cfg, a->bs_err, sizeof(a->bs_err)))) {
		a->sinks[a->nsinks++] = (struct sink){ business_sink__put, a->bs };
	} else if (a->bs_err[0]) {
		fprintf(stderr, "sonde: %s\n", a->bs_err);
		agent__free(a);
		return NULL;
	}
	a->parse_errors = metrics__counter(
		m, "sonde_parse_errors_total",
		"Messages or connections whose bytes could not be parsed, by protocol and reason",
		proto_reason, 2);
	a->unparsed = metrics__counter(
		m, "sonde_unparsed_total",
		"Stretches of traffic whose messages could not be counted, by protocol and reason",
		proto_reason, 2);
	a->malformed = metrics__counter(m, "sonde_events_malformed_total",
					"Ring-buffer records dropped as inconsistent", NULL, 0);
	a->connections = metrics__gauge(m, "sonde_connections",
					"Connections sonde is following now", NULL, 0);
	a->encrypted = metrics__counter(m, "sonde_connections_encrypted_total",
					"Connections that negotiated encryption: counted, not parsed",
					proto_label, 1);
	a->tls_conns = metrics__counter(m, "sonde_tls_connections_total",
					"Connections read in plaintext through their TLS library's calls",
					NULL, 0);
	if (!a->conns || !a->ms || !a->parse_errors || !a->unparsed || !a->malformed ||
	    !a->connections || !a->encrypted || !a->tls_conns || register_pool_metric(a, m)) {
		agent__free(a);
		return NULL;
	}
	metric__set(a->tls_conns, NULL, 0);
	/* Export the zero: a rise is then visible to rate() from the first error. */
	for (int i = HTTP_ERR_NONE + 1; i < HTTP_ERR__COUNT; i++)
		parse_error(a, "http", http_error_reason(i), 0);
	parse_error(a, "redis", "malformed", 0);
	parse_error(a, "postgresql", "malformed", 0);
	parse_error(a, "kafka", "malformed", 0);
	{
		static const char *const protos[] = { "redis", "postgresql", "kafka" };

		for (int i = 0; i < 3; i++) {
			const char *v[] = { protos[i], "framing_lost" };
			const char *w[] = { protos[i], "too_many_in_flight" };

			metric__add(a->unparsed, v, 0);
			metric__add(a->unparsed, w, 0);
		}
	}
	metric__add(a->malformed, NULL, 0);
	metric__set(a->connections, NULL, 0);
	return a;
}

void agent__free(struct agent *a)
{
	if (!a)
		return;
	conn_table__free(a->conns);
	tracer__free(a->tracer);
	metrics_sink__free(a->ms);
	business_sink__free(a->bs);
	for (int i = 0; i < a->nsvc; i++)
		free(a->names[i]);
	for (int i = 0; i < a->nsvc; i++)
		free(a->k8s[i]);
	free(a->names);
	free(a->k8s);
	free(a);
}

int agent__add_sink(struct agent *a, struct sink s)
{
	if (a->nsinks == SINKS_MAX)
		return -1;
	a->sinks[a->nsinks++] = s;
	return 0;
}

void agent__set_correlator(struct agent *a, const struct tracer_correlator *c)
{
	if (a->tracer)
		tracer__set_correlator(a->tracer, c);
}

void agent__set_line_sink(struct agent *a, const struct line_sink *ls)
{
	a->lines = *ls;
}

int agent__enable_tracing(struct agent *a, double sample_rate)
{
	static const char *const link[] = { "link" };

	if (a->tracer)
		return 0;
	a->trace_links = metrics__counter(
		a->m, "sonde_trace_links_total",
		"Where the trace context of requests and calls came from: root (a new trace), "
		"remote (request headers), joined (the observed client at the other end), linked "
		"(the request its thread served), unlinked (requests in flight, none certain)",
		link, 1);
	a->trace_bad = metrics__counter(a->m, "sonde_trace_bad_headers_total",
					"Requests whose trace headers were malformed (a new trace "
					"was begun instead)",
					NULL, 0);
	a->tracer = tracer__new(sample_rate, a->conns);
	return a->tracer && a->trace_links && a->trace_bad ? 0 : -1;
}

/* sonde_trace_links_total from the tracer's counts (capture thread, once a second). */
static void update_trace_stats(struct agent *a)
{
	struct tracer_stats st;
	const char *names[] = { "root", "remote", "joined", "linked", "unlinked", "offset" };
	double v[6];

	if (!a->tracer)
		return;
	tracer__stats(a->tracer, &st);
	v[0] = (double)st.roots;
	v[1] = (double)st.remote;
	v[2] = (double)st.joined;
	v[3] = (double)st.linked;
	v[4] = (double)st.unlinked;
	v[5] = (double)st.offset_linked;
	for (int i = 0; i < 6; i++) {
		const char *l[] = { names[i] };

		metric__set(a->trace_links, l, v[i]);
	}
	metric__set(a->trace_bad, NULL, (double)st.bad_headers);
}

bool agent__tracer_stats(const struct agent *a, struct tracer_stats *st)
{
	if (!a->tracer)
		return false;
	tracer__stats(a->tracer, st);
	return true;
}

bool agent__produced(void *p, const char *topic, int32_t partition, int64_t from, int64_t to,
		     uint8_t flags, struct trace_ctx *out)
{
	struct agent *a = p;

	return a->tracer && tracer__produced(a->tracer, topic, partition, from, to, flags, out);
}

void agent__set_capture_hook(struct agent *a, agent_capture_fn fn, void *ctx)
{
	a->capture_fn = fn;
	a->capture_ctx = ctx;
}

void agent__set_k8s_hook(struct agent *a, agent_k8s_fn fn, void *ctx)
{
	a->k8s_fn = fn;
	a->k8s_ctx = ctx;
}

static const struct k8s_meta *k8s_of(const struct agent *a, uint32_t tgid)
{
	return a->k8s_fn ? a->k8s_fn(a->k8s_ctx, tgid) : NULL;
}

int agent__find_service(const struct agent *a, const char *name)
{
	for (int i = 0; i < a->nsvc; i++)
		if (!strcmp(a->names[i], name) && !a->k8s[i])
			return i;
	return -1;
}

int agent__service_count(const struct agent *a)
{
	return a->nsvc;
}

const char *agent__service_name(const struct agent *a, int i)
{
	return i >= 0 && i < a->nsvc ? a->names[i] : "";
}

static void k8s_key(const char *const *k8s, char *key, size_t n)
{
	key[0] = '\0';
	if (k8s)
		snprintf(key, n, "%s\n%s\n%s\n%s", k8s[0], k8s[1], k8s[2], k8s[3]);
}

int agent__find_service_k8s(const struct agent *a, const char *name, const char *const *k8s)
{
	char key[1024];

	k8s_key(k8s, key, sizeof(key));
	for (int i = 0; i < a->nsvc; i++)
		if (!strcmp(a->names[i], name) && (k8s ? a->k8s[i] && !strcmp(a->k8s[i], key) : !a->k8s[i]))
			return i;
	return -1;
}

int agent__add_service_k8s(struct agent *a, const char *name, const char *const *k8s)
{
	char key[1024], **nn, **nk;
	int i = agent__find_service_k8s(a, name, k8s);

	if (i >= 0)
		return i;
	k8s_key(k8s, key, sizeof(key));
	nn = realloc(a->names, (a->nsvc + 1) * sizeof(*nn));
	if (nn)
		a->names = nn;
	nk = nn ? realloc(a->k8s, (a->nsvc + 1) * sizeof(*nk)) : NULL;
	if (!nk)
		return -1;
	a->k8s = nk;
	nk[a->nsvc] = k8s ? strdup(key) : NULL;
	if (!(nn[a->nsvc] = strdup(name)) || (k8s && !nk[a->nsvc])) {
		free(nn[a->nsvc]);
		free(nk[a->nsvc]);
		return -1;
	}
	if (metrics_sink__add_service(a->ms, name, k8s) != a->nsvc) {
		free(nn[a->nsvc]);
		free(nk[a->nsvc]);
		return -1;
	}
	return a->nsvc++;
}

int agent__add_service(struct agent *a, const char *name)
{
	return agent__add_service_k8s(a, name, NULL);
}

/* The fields every exchange of c has. */
static void exchange_init(struct agent *a, const struct conn *c, struct exchange *x,
			  uint8_t proto, uint8_t kind, uint64_t start, uint64_t end)
{
	x->kind = kind;
	x->proto = proto;
	x->error = false;
	x->service = c->service;
	x->service_name = c->service < (uint32_t)a->nsvc ? a->names[c->service] : "";
	x->tgid = c->tgid;
	x->tid = 0;
	x->k8s = k8s_of(a, c->tgid);
	x->conn_id = c->conn_id;
	x->tuple = &c->tuple;
	x->start_ns = start;
	x->end_ns = end;
	x->status = 0;
	x->error_code = "";
	memset(&x->ctx, 0, sizeof(x->ctx));
}

/* Hand the exchanges of one feed to every sink. */
static void put(struct agent *a, const struct exchange *x, size_t n)
{
	if (!n || x->service >= (uint32_t)a->nsvc)
		return;
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i].put(a->sinks[i].ctx, x, n);
}

static void put_http(struct agent *a, struct conn *c, const struct http_exchange *hx, int n)
{
	struct exchange x[EXCHANGES_PER_FEED];
	int k = 0;

	for (int i = 0; i < n; i++) {
		const struct http_exchange *h = &hx[i];
		struct exchange *e = &x[k];

		exchange_init(a, c, e, EXCHANGE_HTTP,
			      h->role == HTTP_ROLE_SERVER ? EXCHANGE_SERVER : EXCHANGE_CLIENT,
			      h->req_begin_ts, h->resp_end_ts);
		e->operation = http_method_label(h->method);
		e->target = h->target;
		e->status = h->status;
		e->error = h->status >= 500 || (h->role == HTTP_ROLE_CLIENT && h->status >= 400);
		e->http.method = h->method;
		e->http.host = h->host;
		e->http.tracestate = h->trace.tracestate;
		e->http.parse_error = h->error;
		e->http.req_body = h->req_body;
		e->http.resp_body = h->resp_body;
		e->http.req_body_len = h->req_body_len;
		e->http.resp_body_len = h->resp_body_len;
		e->http.req_body_cut = h->req_body_cut;
		e->http.resp_body_cut = h->resp_body_cut;
		if ((h->req_body_cut || h->resp_body_cut) && !c->capture_raised && a->capture_fn) {
			/* A body a rule reads went past the capture: copy more of this connection. */
			c->capture_raised = true;
			a->capture_fn(a->capture_ctx, c->tgid, c->fd, c->conn_id, RAISED_CAPTURE, 0);
		}
		/* The tracer sees it even so: the request it ends is no longer in flight. */
		if (a->tracer)
			tracer__assign(a->tracer, c, e, h);
		/* No status line: a response that began in bytes we never saw. */
		if (h->status > 0)
			k++;
	}
	put(a, x, k);
}

static void put_redis(struct agent *a, struct conn *c, const struct redis_exchange *rx, int n)
{
	struct exchange x[REDIS_PIPELINE_MAX];
	int k = 0;

	for (int i = 0; i < n; i++) {
		const struct redis_exchange *r = &rx[i];
		struct exchange *e = &x[k];

		if (!r->command[0] || r->role != REDIS_ROLE_CLIENT)
			continue;
		exchange_init(a, c, e, EXCHANGE_REDIS, EXCHANGE_CLIENT, r->req_begin_ts,
			      r->resp_end_ts);
		e->operation = r->command;
		e->target = r->key;
		e->error = r->error;
		e->error_code = r->error_kind;
		e->redis.command_id = r->command_id;
		e->redis.flags = r->command_flags;
		e->redis.nil = r->nil;
		e->redis.elements = r->elements;
		e->redis.nil_elements = r->nil_elements;
		if (a->tracer)
			tracer__assign(a->tracer, c, e, NULL);
		k++;
	}
	put(a, x, k);
}

static void put_pg(struct agent *a, struct conn *c, const struct pg_exchange *px)
{
	struct exchange x;

	if (px->role != PG_ROLE_CLIENT)
		return;
	exchange_init(a, c, &x, EXCHANGE_PG, EXCHANGE_CLIENT, px->req_begin_ts, px->resp_end_ts);
	x.operation = px->operation;
	x.target = px->table;
	x.error = px->error;
	x.error_code = px->sqlstate;
	x.pg.db = px->db;
	x.pg.statement = px->statement;
	if (a->tracer)
		tracer__assign(a->tracer, c, &x, NULL);
	put(a, &x, 1);
}

static void put_kafka(struct agent *a, struct conn *c, const struct kafka_exchange *kx)
{
	struct exchange_part parts[KAFKA_PARTS_MAX];
	struct exchange x;
	uint8_t kind = EXCHANGE_CLIENT;

	if (kx->role != KAFKA_ROLE_CLIENT)
		return;
	if (kx->api_key == KAFKA_API_PRODUCE)
		kind = EXCHANGE_PRODUCER;
	else if (kx->api_key == KAFKA_API_FETCH)
		kind = EXCHANGE_CONSUMER;
	exchange_init(a, c, &x, EXCHANGE_KAFKA, kind, kx->req_begin_ts, kx->resp_end_ts);
	x.operation = kind == EXCHANGE_PRODUCER ? "send" : kind == EXCHANGE_CONSUMER ? "receive"
										 : "commit";
	x.target = "";
	x.error = kx->error_code != 0;
	for (uint32_t i = 0; i < kx->nparts && i < KAFKA_PARTS_MAX; i++) {
		const struct kafka_part *p = &kx->parts[i];

		parts[i] = (struct exchange_part){ .topic = p->topic,
						   .partition = p->partition,
						   .error_code = p->error_code,
						   .records = p->records,
						   .base_offset = p->base_offset,
						   .fetch_offset = p->fetch_offset,
						   .next_offset = p->next_offset,
						   .high_watermark = p->high_watermark,
						   .trace_fmt = p->trace_kind == KAFKA_TRACE_TRACEPARENT
									? EXCHANGE_TRACE_TRACEPARENT
								: p->trace_kind == KAFKA_TRACE_B3
									? EXCHANGE_TRACE_B3
									: EXCHANGE_TRACE_NONE,
						   .trace = p->trace };
		x.error |= p->error_code != 0;
	}
	x.kafka.api_key = kx->api_key;
	x.kafka.error_code = kx->error_code;
	x.kafka.nparts = kx->nparts < KAFKA_PARTS_MAX ? kx->nparts : KAFKA_PARTS_MAX;
	x.kafka.parts = parts;
	if (a->tracer)
		tracer__assign(a->tracer, c, &x, NULL);
	put(a, &x, 1);
}

static void conn_finish(struct agent *a, struct conn *c, uint64_t ts,
			const struct sonde_event *close);

/* The record's connection: a new one when the fd was reused and the close was missed. */
static struct conn *conn_current(struct agent *a, const struct sonde_event *e)
{
	struct conn *c = conn_table__get(a->conns, e->tgid, e->fd);

	if (c && c->conn_id != e->conn_id) {
		conn_finish(a, c, c->last_ts, NULL);
		conn_table__del(a->conns, c);
		c = NULL;
	}
	if (!c) {
		c = conn_table__add(a->conns, e->tgid, e->fd);
		if (!c)
			return NULL;
		c->conn_id = e->conn_id;
		c->service = e->service;
	}
	return c;
}

/* The line being given, and what it needs from its write. */
struct line_ctx {
	struct agent *a;
	const struct conn *c;
	uint32_t tid;
	uint64_t ts;
};

static void give_line(void *p, const char *text, size_t len, bool truncated)
{
	struct line_ctx *lc = p;
	struct agent *a = lc->a;
	struct app_line l = {
		.service = lc->c->service,
		.service_name = lc->c->service < (uint32_t)a->nsvc ? a->names[lc->c->service] : "",
		.tgid = lc->c->tgid,
		.tid = lc->tid,
		.fd = lc->c->fd,
		.ts_ns = lc->ts,
		.text = text,
		.len = len,
		.truncated = truncated,
	};

	l.k8s = k8s_of(a, l.tgid);
	if (a->tracer)
		l.has_ctx = tracer__thread_ctx(a->tracer, l.tgid, l.tid, l.ts_ns, &l.ctx);
	a->lines.put(a->lines.ctx, &l);
}

/* A write to a target's stdout or stderr. */
static void handle_log(struct agent *a, const struct sonde_event *e, const uint8_t *data)
{
	struct conn *c;
	struct line_ctx lc = { a, NULL, e->tid, e->ts_ns };
	uint32_t lost = 0;

	if (!a->lines.put || !(c = conn_current(a, e)))
		return;
	if (c->proto != CONN_PROTO_LINES) {
		if (c->proto != CONN_PROTO_UNKNOWN || c->parser)
			return; /* cannot be: the kernel gives a log fd an id of its own */
		c->proto = CONN_PROTO_LINES;
		c->parser = malloc(sizeof(struct line_conn));
		if (!c->parser) {
			conn_table__del(a->conns, c);
			return;
		}
		line_conn_init(c->parser);
	}
	c->last_ts = e->ts_ns;
	lc.c = c;
	line_conn_feed(c->parser, data, e->caplen, e->len, give_line, &lc, &lost);
	if (lost && a->lines.lost)
		a->lines.lost(a->lines.ctx, lost);
}

/* ---- calls that failed below their protocol: SONDE_EV_FAIL, unanswered at close ---- */

static const char *proto_name(enum conn_proto p);

/* Does c make the calls (a client), as the kernel saw it begin or its parser decided? */
static bool conn_client(const struct conn *c)
{
	if (c->tuple.role != SONDE_ROLE_UNKNOWN)
		return c->tuple.role == SONDE_ROLE_CLIENT;
	if (!c->parser)
		return false;
	switch (c->proto) {
	case CONN_PROTO_HTTP:
		return ((const struct http_conn *)c->parser)->role == HTTP_ROLE_CLIENT;
	case CONN_PROTO_REDIS:
		return ((const struct redis_conn *)c->parser)->role == REDIS_ROLE_CLIENT;
	case CONN_PROTO_PG:
		return ((const struct pg_conn *)c->parser)->role == PG_ROLE_CLIENT;
	case CONN_PROTO_KAFKA:
		return ((const struct kafka_conn *)c->parser)->role == KAFKA_ROLE_CLIENT;
	default:
		return false;
	}
}

/*
 * The oldest request on c still waiting for its answer, into x (its start,
 * target and net.request; *hx for HTTP); false if there is none. Kafka is
 * left out: a consumer's Fetch waits for records by design, and a client
 * that closes with one in flight has not failed.
 */
static bool conn_unanswered(const struct conn *c, struct exchange *x,
			    const struct http_exchange **hx)
{
	if (!c->parser)
		return false;
	switch (c->proto) {
	case CONN_PROTO_HTTP: {
		const struct http_conn *h = c->parser;
		const struct http_exchange *r =
			h->npending ? http_conn_request(h, h->first_seq) : NULL;

		if (!r || r->unanswered_request || r->error)
			return false;
		x->start_ns = r->req_begin_ts;
		x->target = r->target;
		x->net.request = http_method_label(r->method);
		*hx = r;
		return true;
	}
	case CONN_PROTO_REDIS: {
		const struct redis_conn *r = c->parser;
		const struct redis_pending *p = &r->pending[r->first % REDIS_PIPELINE_MAX];

		if (!r->npending || r->broken)
			return false;
		x->start_ns = p->begin_ts;
		x->target = p->key;
		x->net.request = p->command;
		return true;
	}
	case CONN_PROTO_PG:
		return pg_conn_busy(c->parser);
	default:
		return false;
	}
}

/*
 * A call of c (NULL: a connect that left no connection, to tuple) failed:
 * code is the errno's name or "no_response". only_unanswered: nothing unless
 * a request was waiting (a close).
 */
static void put_net(struct agent *a, struct conn *c, const struct sonde_event *e,
		    const struct sonde_conn_tuple *tuple, const char *op, const char *code,
		    bool only_unanswered)
{
	const struct http_exchange *hx = NULL;
	struct exchange x = {
		.kind = EXCHANGE_CLIENT,
		.proto = EXCHANGE_NET,
		.error = true,
		.service = c ? c->service : e->service,
		.tgid = e->tgid,
		.tid = e->tid,
		.conn_id = e->conn_id,
		.tuple = c ? &c->tuple : tuple,
		.start_ns = e->ts_ns,
		.end_ns = e->ts_ns,
		.operation = op,
		.target = "",
		.error_code = code,
	};

	x.service_name = x.service < (uint32_t)a->nsvc ? a->names[x.service] : "";
	x.k8s = k8s_of(a, x.tgid);
	x.net.app = c && c->proto >= CONN_PROTO_HTTP && c->proto <= CONN_PROTO_KAFKA
			    ? proto_name(c->proto)
			    : "";
	x.net.request = "";
	if (!(c && conn_unanswered(c, &x, &hx)) && only_unanswered)
		return;
	if (x.start_ns > x.end_ns)
		x.start_ns = x.end_ns;
	if (a->tracer)
		tracer__assign(a->tracer, c, &x, hx);
	put(a, &x, 1);
}

/* The errno names the kernel side sends (net_error in capture.bpf.c). */
static const char *errno_label(uint32_t err)
{
	switch (err) {
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNRESET:
		return "ECONNRESET";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EPIPE:
		return "EPIPE";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ENETUNREACH:
		return "ENETUNREACH";
	default:
		return "error";
	}
}

/* A SONDE_EV_FAIL record: one failed call per connection, on the client side. */
static void handle_fail(struct agent *a, const struct sonde_event *e,
			const struct sonde_conn_tuple *tuple)
{
	struct conn *c;
	bool was;

	if (!e->conn_id) { /* a blocking connect */
		if (tuple && tuple->role == SONDE_ROLE_CLIENT)
			put_net(a, NULL, e, tuple, "connect", errno_label(e->len), false);
		return;
	}
	c = conn_current(a, e);
	if (!c)
		return;
	if (tuple)
		c->tuple = *tuple;
	c->last_ts = e->ts_ns;
	was = c->failed;
	c->failed = true;
	if (was || !conn_client(c))
		return;
	put_net(a, c, e, NULL,
		e->call == SONDE_CALL_CONNECT || e->call == SONDE_CALL_GETSOCKOPT ? "connect"
		: e->dir == SONDE_DIR_INGRESS					   ? "receive"
										   : "send",
		errno_label(e->len), false);
}

/*
 * Flush what the parser still holds (a response read until close, a line
 * without its end). close: the target closed c (its record), else NULL.
 */
static void conn_finish(struct agent *a, struct conn *c, uint64_t ts,
			const struct sonde_event *close)
{
	struct http_exchange x[EXCHANGES_PER_FEED];
	int n;

	if (c->proto == CONN_PROTO_LINES && c->parser && a->lines.put) {
		struct line_ctx lc = { a, c, 0, ts };

		line_conn_close(c->parser, give_line, &lc);
		return;
	}

	if (c->proto == CONN_PROTO_HTTP && c->parser) {
		if (http_conn_truncated(c->parser))
			parse_error(a, "http", http_error_reason(HTTP_ERR_TRUNCATED), 1);
		n = http_conn_close(c->parser, ts, x, EXCHANGES_PER_FEED);
		if (n > 0)
			put_http(a, c, x, n);
	}
	/* A client that closes with a request unanswered gave up on it (a timeout). */
	if (close && !c->failed && conn_client(c)) {
		c->failed = true;
		put_net(a, c, close, NULL, "close", "no_response", true);
	}
	if (a->tracer)
		tracer__conn_gone(a->tracer, c);
}

static const char *proto_name(enum conn_proto p)
{
	switch (p) {
	case CONN_PROTO_HTTP:
		return "http";
	case CONN_PROTO_REDIS:
		return "redis";
	case CONN_PROTO_PG:
		return "postgresql";
	case CONN_PROTO_KAFKA:
		return "kafka";
	default:
		return "unknown";
	}
}

/*
 * Start a parser for proto on c; false on ENOMEM. from_start: every byte of the
 * connection will reach it (its role is known: sonde saw it accepted or
 * connected, and nothing was skipped while sniffing).
 */
static bool start_parser(struct agent *a, struct conn *c, enum conn_proto proto, bool from_start)
{
	enum sonde_role r = c->tuple.role;

	switch (proto) {
	case CONN_PROTO_HTTP:
		c->parser = malloc(sizeof(struct http_conn));
		if (c->parser && from_start && r != SONDE_ROLE_UNKNOWN)
			http_conn_init_from_start(c->parser, r == SONDE_ROLE_SERVER
								     ? HTTP_ROLE_SERVER
								     : HTTP_ROLE_CLIENT);
		else if (c->parser)
			http_conn_init(c->parser, r == SONDE_ROLE_SERVER   ? HTTP_ROLE_SERVER
						  : r == SONDE_ROLE_CLIENT ? HTTP_ROLE_CLIENT
									   : HTTP_ROLE_UNKNOWN);
		if (c->parser && a->bs)
			http_conn_set_keep(c->parser, business_sink__keep, a->bs);
		break;
	case CONN_PROTO_REDIS:
		c->parser = malloc(sizeof(struct redis_conn));
		if (c->parser)
			redis_conn_init(c->parser, r == SONDE_ROLE_SERVER   ? REDIS_ROLE_SERVER
						   : r == SONDE_ROLE_CLIENT ? REDIS_ROLE_CLIENT
									    : REDIS_ROLE_UNKNOWN);
		break;
	case CONN_PROTO_PG:
		c->parser = malloc(sizeof(struct pg_conn));
		if (c->parser)
			pg_conn_init(c->parser, r == SONDE_ROLE_SERVER   ? PG_ROLE_SERVER
						: r == SONDE_ROLE_CLIENT ? PG_ROLE_CLIENT
									 : PG_ROLE_UNKNOWN);
		break;
	case CONN_PROTO_KAFKA:
		c->parser = malloc(sizeof(struct kafka_conn));
		if (c->parser)
			kafka_conn_init(c->parser, r == SONDE_ROLE_SERVER   ? KAFKA_ROLE_SERVER
						   : r == SONDE_ROLE_CLIENT ? KAFKA_ROLE_CLIENT
									    : KAFKA_ROLE_UNKNOWN);
		break;
	default:
		return false;
	}
	if (!c->parser) {
		c->proto = CONN_PROTO_NONE;
		return false;
	}
	c->proto = proto;
	return true;
}

/* What the first bytes of a message say, by content (never by port). */
static enum conn_proto detect(const uint8_t *data, size_t len, bool *inline_text)
{
	*inline_text = false;
	if (http_looks_like_request(data, len) || http_looks_like_response(data, len))
		return CONN_PROTO_HTTP;
	if (redis_looks_like_request(data, len)) {
		/* "GET / RTSP/1.0" reads as a Redis inline GET too: the answer tells. */
		*inline_text = data[0] != '*';
		return CONN_PROTO_REDIS;
	}
	if (pg_looks_like_frontend(data, len))
		return CONN_PROTO_PG;
	if (kafka_looks_like_request(data, len))
		return CONN_PROTO_KAFKA;
	return CONN_PROTO_UNKNOWN;
}

/* The direction requests travel in, from the role the kernel saw; -1 if unknown. */
static int request_dir(const struct conn *c)
{
	switch (c->tuple.role) {
	case SONDE_ROLE_SERVER:
		return SONDE_DIR_INGRESS;
	case SONDE_ROLE_CLIENT:
		return SONDE_DIR_EGRESS;
	default:
		return -1;
	}
}

/* Hold a record back until the answer decides (see struct conn_stash). */
static void stash_record(struct conn *c, const struct sonde_event *e, const uint8_t *data,
			 bool inline_text)
{
	struct conn_stash *st = c->stash;
	struct conn_stash_rec *r;
	uint32_t n;

	if (!st) {
		st = c->stash = calloc(1, sizeof(*st));
		if (!st) {
			/* Without these bytes no parser could start from the first one. */
			c->proto = CONN_PROTO_NONE;
			return;
		}
	}
	st->redis_inline |= inline_text;
	if (st->n == CONN_STASH_RECORDS) {
		st->overflow = true;
		return;
	}
	n = e->caplen;
	if (n > CONN_STASH_BYTES - st->used) {
		n = CONN_STASH_BYTES - st->used;
		st->overflow = true;
	}
	r = &st->rec[st->n++];
	r->total = e->len;
	r->ts = e->ts_ns;
	r->tid = e->tid;
	r->off = st->used;
	r->caplen = n;
	r->dir = e->dir;
	memcpy(st->buf + st->used, data, n);
	st->used += n;
}

static int feed(struct agent *a, struct conn *c, bool egress, const uint8_t *data, size_t caplen,
		uint64_t total, uint64_t ts, uint32_t tid);

/*
 * Start proto's parser on c and give it the records held back, in order.
 * false if it could not start or the held-back bytes broke it.
 */
static bool start_with_stash(struct agent *a, struct conn *c, enum conn_proto proto)
{
	struct conn_stash *st = c->stash;
	bool ok = start_parser(a, c, proto, !st || !st->overflow);

	c->stash = NULL;
	for (int i = 0; ok && st && i < st->n; i++) {
		const struct conn_stash_rec *r = &st->rec[i];

		if (feed(a, c, r->dir == SONDE_DIR_EGRESS, st->buf + r->off, r->caplen, r->total,
			 r->ts, r->tid) < 0) {
			parse_error(a, proto_name(proto), "malformed", 1);
			free(c->parser);
			c->parser = NULL;
			c->proto = CONN_PROTO_NONE;
			ok = false;
		}
	}
	free(st);
	return ok;
}

/* Another record looked at while the protocol is undecided; after SNIFF_MAX, give up. */
static void sniff_miss(struct conn *c)
{
	if (++c->sniffed < SNIFF_MAX)
		return;
	c->proto = CONN_PROTO_NONE;
	free(c->stash);
	c->stash = NULL;
}

/*
 * Decide the protocol from the first bytes, by content (never by port). With
 * the role known, a request no sniffer is sure of (garbage, an unknown method
 * or version, a Redis-looking text line) is held back and the answer decides:
 * a status line makes it HTTP, whatever the request looked like (the server's
 * response is the truth); a Redis-looking request answered otherwise is Redis.
 * Returns whether c now has a parser for the record at hand.
 */
static bool sniff(struct agent *a, struct conn *c, const struct sonde_event *e,
		  const uint8_t *data)
{
	int rdir = request_dir(c);
	bool inline_text;
	enum conn_proto p;

	if (rdir >= 0 && e->dir != rdir) {
		/* The answer. */
		if (http_looks_like_response(data, e->caplen))
			return start_with_stash(a, c, CONN_PROTO_HTTP);
		if (c->stash && c->stash->redis_inline)
			return start_with_stash(a, c, CONN_PROTO_REDIS);
		if (c->stash) {
			/*
			 * A request held back and answered otherwise: none of our
			 * protocols (PostgreSQL and Kafka requests, RESP arrays
			 * are known at once). Give up now, not 8 records later:
			 * a TLS handshake costs one round trip of sniffing.
			 */
			c->sniffed = SNIFF_MAX - 1;
		}
		sniff_miss(c);
		return false;
	}
	p = detect(data, e->caplen, &inline_text);
	if (rdir < 0) {
		/* Open before sonde attached: content alone decides, mid-stream. */
		if (p != CONN_PROTO_UNKNOWN)
			return start_parser(a, c, p, false);
		sniff_miss(c);
		return false;
	}
	if (p != CONN_PROTO_UNKNOWN && !inline_text)
		return start_with_stash(a, c, p);
	stash_record(c, e, data, inline_text);
	sniff_miss(c);
	return false;
}

/*
 * What c's parser could not count so far: times it lost its framing to bytes
 * that were not captured (*desyncs), requests it forgot because too many
 * awaited an answer (*dropped).
 */
static void losses(const struct conn *c, uint32_t *desyncs, uint32_t *dropped)
{
	*desyncs = *dropped = 0;
	switch (c->proto) {
	case CONN_PROTO_REDIS:
		*desyncs = ((const struct redis_conn *)c->parser)->desyncs;
		*dropped = ((const struct redis_conn *)c->parser)->dropped;
		break;
	case CONN_PROTO_PG:
		*desyncs = ((const struct pg_conn *)c->parser)->desyncs;
		*dropped = ((const struct pg_conn *)c->parser)->dropped;
		break;
	case CONN_PROTO_KAFKA:
		*desyncs = ((const struct kafka_conn *)c->parser)->desyncs;
		*dropped = ((const struct kafka_conn *)c->parser)->dropped;
		break;
	default:
		break;
	}
}

/*
 * Count what c's parser could not count since the last look (what lay in
 * bytes that hid the framing, requests forgotten): never silently. True if
 * it lost its framing.
 */
static bool lost_framing(struct agent *a, struct conn *c)
{
	uint32_t desyncs, dropped;
	bool lost;

	losses(c, &desyncs, &dropped);
	if (dropped != c->dropped) {
		const char *v[] = { proto_name(c->proto), "too_many_in_flight" };

		metric__add(a->unparsed, v, dropped - c->dropped);
		c->dropped = dropped;
	}
	lost = desyncs != c->desyncs;
	if (lost) {
		const char *v[] = { proto_name(c->proto), "framing_lost" };

		metric__add(a->unparsed, v, desyncs - c->desyncs);
		c->desyncs = desyncs;
	}
	return lost;
}

/* Malformed HTTP messages the parser counted, into sonde_parse_errors_total by reason. */
static void take_http_errors(struct agent *a, struct http_conn *hc)
{
	unsigned counts[HTTP_ERR__COUNT] = { 0 };

	http_conn_take_errors(hc, counts);
	for (int i = HTTP_ERR_NONE + 1; i < HTTP_ERR__COUNT; i++)
		if (counts[i])
			parse_error(a, "http", http_error_reason(i), counts[i]);
}

/*
 * Is this a feed in the direction c's requests travel, as a client? sonde
 * follows Redis, PostgreSQL and Kafka from their clients: an egress feed is
 * one unless the parser knows the process to be the server (a connection
 * open before sonde came may not have shown its role yet).
 */
static bool client_request_dir(const struct conn *c, bool egress)
{
	if (!egress || !c->parser)
		return false;
	switch (c->proto) {
	case CONN_PROTO_REDIS:
		return ((struct redis_conn *)c->parser)->role != REDIS_ROLE_SERVER;
	case CONN_PROTO_PG:
		return ((struct pg_conn *)c->parser)->role != PG_ROLE_SERVER;
	case CONN_PROTO_KAFKA:
		return ((struct kafka_conn *)c->parser)->role != KAFKA_ROLE_SERVER;
	default:
		return false;
	}
}

/* Feed one record to the connection's parser and hand what completes to the sinks. */
static int feed(struct agent *a, struct conn *c, bool egress, const uint8_t *data, size_t caplen,
		uint64_t total, uint64_t ts, uint32_t tid)
{
	int n, i;

	if (a->tracer && client_request_dir(c, egress))
		tracer__client_feed(a->tracer, c, tid, ts);
	switch (c->proto) {
	case CONN_PROTO_HTTP: {
		struct http_exchange x[EXCHANGES_PER_FEED];
		struct http_conn *hc = c->parser;

		n = http_conn_feed(hc, egress ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS, data, caplen,
				   total, ts, x, EXCHANGES_PER_FEED);
		if (a->tracer)
			tracer__http_feed(a->tracer, c, tid, ts);
		if (n > 0)
			put_http(a, c, x, n);
		if (hc->err_pending) {
			metrics__lock(a->m);
			take_http_errors(a, hc);
			metrics__unlock(a->m);
		}
		return n;
	}
	case CONN_PROTO_REDIS: {
		struct redis_exchange x[REDIS_PIPELINE_MAX];

		n = redis_conn_feed(c->parser, egress ? REDIS_DIR_EGRESS : REDIS_DIR_INGRESS, data,
				    caplen, total, ts, x, REDIS_PIPELINE_MAX);
		if (n > 0)
			put_redis(a, c, x, n);
		return n;
	}
	case CONN_PROTO_PG: {
		struct pg_exchange x[PG_PENDING_MAX];

		n = pg_conn_feed(c->parser, egress ? PG_DIR_EGRESS : PG_DIR_INGRESS, data, caplen,
				 total, ts, x, PG_PENDING_MAX);
		for (i = 0; i < n; i++)
			put_pg(a, c, &x[i]);
		return n;
	}
	case CONN_PROTO_KAFKA: {
		/* ~5.5 KiB each (their partitions): librdkafka keeps <= 5 in flight. */
		struct kafka_exchange x[16];

		n = kafka_conn_feed(c->parser, egress ? KAFKA_DIR_EGRESS : KAFKA_DIR_INGRESS, data,
				    caplen, total, ts, x, 16);
		for (i = 0; i < n; i++)
			put_kafka(a, c, &x[i]);
		return n;
	}
	default:
		return 0;
	}
}

/* The kernel's way to walk large syscalls of a protocol (enum sonde_walk). */
static uint8_t walk_of(enum conn_proto p)
{
	switch (p) {
	case CONN_PROTO_REDIS:
		return SONDE_WALK_RESP;
	case CONN_PROTO_PG:
		return SONDE_WALK_PG;
	case CONN_PROTO_KAFKA:
		return SONDE_WALK_LEN32;
	default:
		return SONDE_WALK_NONE;
	}
}

/* One run of bytes of c's syscall e: data holds e->caplen of its e->len bytes. */
static void consume(struct agent *a, struct conn *c, const struct sonde_event *e,
		    const uint8_t *data)
{
	if (c->proto == CONN_PROTO_NONE)
		return;
	if (c->proto == CONN_PROTO_UNKNOWN && !sniff(a, c, e, data))
		return;
	if (!c->walk_set) {
		/* Length-framed messages: large syscalls are walked, not cut. Asked once. */
		c->walk_set = true;
		if (a->capture_fn && walk_of(c->proto))
			a->capture_fn(a->capture_ctx, c->tgid, c->fd, c->conn_id, 0,
				      walk_of(c->proto));
	}
	if (feed(a, c, e->dir == SONDE_DIR_EGRESS, data, e->caplen, e->len, e->ts_ns, e->tid) < 0) {
		parse_error(a, proto_name(c->proto), "malformed", 1);
		free(c->parser);
		c->parser = NULL;
		c->proto = CONN_PROTO_NONE;
	} else if (lost_framing(a, c) && !c->capture_raised && a->capture_fn) {
		/*
		 * Bytes past the capture cost this connection its framing (a
		 * Redis pipeline, a Kafka request with many partitions): from
		 * now on the kernel copies more of it, and of it only.
		 */
		c->capture_raised = true;
		a->capture_fn(a->capture_ctx, c->tgid, c->fd, c->conn_id, RAISED_CAPTURE, 0);
	} else if (c->proto == CONN_PROTO_PG && pg_conn_encrypted(c->parser)) {
		/* SSLRequest accepted: the rest is TLS. Count it once, stop looking. */
		const char *v[] = { "postgresql" };

		metric__add(a->encrypted, v, 1);
		free(c->parser);
		c->parser = NULL;
		c->proto = CONN_PROTO_NONE;
	}
}

/*
 * c's first plaintext from its TLS library: what its socket carried so far
 * (a handshake, a PostgreSQL SSLRequest and its 'S') decided nothing that
 * holds; the protocol is sniffed again from the plaintext's first byte.
 */
static void tls_begin(struct agent *a, struct conn *c)
{
	free(c->parser);
	c->parser = NULL;
	free(c->stash);
	c->stash = NULL;
	c->proto = CONN_PROTO_UNKNOWN;
	c->sniffed = 0;
	c->walk_set = false;
	c->capture_raised = false;
	c->tls = true;
	metric__add(a->tls_conns, NULL, 1);
}

static void handle_data(struct agent *a, const struct sonde_event *e,
			const struct sonde_conn_tuple *tuple, const struct sonde_segs *segs,
			const uint8_t *data, const struct sonde_ids *ids)
{
	struct conn *c = conn_current(a, e);

	if (!c)
		return;
	if (tuple)
		c->tuple = *tuple;
	if (e->flags & SONDE_F_TLS) {
		if (!c->tls)
			tls_begin(a, c);
	} else if (c->tls) {
		return; /* ciphertext the kernel sent before it knew */
	}
	c->last_ts = e->ts_ns;
	if (ids && a->tracer)
		tracer__kernel_ids(a->tracer, c, ids, e->ts_ns);
	if (!e->len)
		return; /* ids alone (B3 read by the kernel after the request's record) */
	if (!segs) {
		consume(a, c, e, data);
		return;
	}
	/* A walked syscall: each run as if it were a syscall of its own. */
	for (uint32_t i = 0; i < segs->n; i++) {
		struct sonde_event run = *e;

		run.caplen = segs->seg[i].cap;
		run.len = segs->seg[i].cap + segs->seg[i].skip;
		if (run.len)
			consume(a, c, &run, data);
		data += run.caplen;
	}
}

/* Do the runs of a walked record add up to what its header says? */
static bool segs_ok(const struct sonde_event *e, const struct sonde_segs *s)
{
	uint64_t cap = 0, len = 0;

	if (s->n == 0 || s->n > SONDE_SEGS_MAX)
		return false;
	for (uint32_t i = 0; i < s->n; i++) {
		cap += s->seg[i].cap;
		len += (uint64_t)s->seg[i].cap + s->seg[i].skip;
	}
	return cap == e->caplen && len == e->len;
}

void agent__handle(struct agent *a, const void *rec, size_t size)
{
	const struct sonde_event *e = rec;
	const struct sonde_conn_tuple *tuple = NULL;
	const struct sonde_segs *segs = NULL;
	const struct sonde_ids *ids = NULL;
	size_t hlen = sizeof(*e);
	struct conn *c;

	if (size >= sizeof(*e) && (e->flags & SONDE_F_TUPLE)) {
		tuple = (const struct sonde_conn_tuple *)(e + 1);
		hlen += sizeof(*tuple);
	}
	if (size >= hlen + sizeof(*segs) && (e->flags & SONDE_F_SEGS)) {
		segs = (const struct sonde_segs *)((const uint8_t *)rec + hlen);
		hlen += sizeof(*segs);
	} else if (size >= sizeof(*e) && (e->flags & SONDE_F_SEGS)) {
		hlen = size + 1; /* too short for its runs */
	}
	if (size < hlen || e->caplen > size - hlen || e->caplen > e->len ||
	    e->caplen > SONDE_CAPTURE_MAX || (segs && !segs_ok(e, segs))) {
		metric__add(a->malformed, NULL, 1);
		return;
	}
	if (e->flags & SONDE_F_IDS) {
		size_t at = SONDE_RECORD_ALIGN(hlen + e->caplen);

		if (e->type != SONDE_EV_DATA || size < at + sizeof(*ids)) {
			metric__add(a->malformed, NULL, 1);
			return;
		}
		ids = (const struct sonde_ids *)((const uint8_t *)rec + at);
	}
	a->events++;
	switch (e->type) {
	case SONDE_EV_DATA:
		/* Records are 8-byte aligned and all three structs are multiples of 8 bytes. */
		handle_data(a, e, tuple, segs, (const uint8_t *)rec + hlen, ids);
		break;
	case SONDE_EV_LOG:
		handle_log(a, e, (const uint8_t *)rec + hlen);
		break;
	case SONDE_EV_FAIL:
		handle_fail(a, e, tuple);
		break;
	case SONDE_EV_CLOSE:
		c = conn_table__get(a->conns, e->tgid, e->fd);
		if (c && c->conn_id == e->conn_id) {
			conn_finish(a, c, e->ts_ns, e);
			conn_table__del(a->conns, c);
		}
		break;
	default:
		metric__add(a->malformed, NULL, 1);
	}
}

struct expire_ctx {
	struct agent *a;
	uint64_t before; /* idle since before this ts: expire */
	uint32_t tgid;   /* or belongs to this tgid (0: none) */
};

static bool expire_one(struct conn *c, void *p)
{
	struct expire_ctx *x = p;

	if (c->last_ts >= x->before && (x->tgid == 0 || c->tgid != x->tgid))
		return false;
	conn_finish(x->a, c, c->last_ts, NULL);
	return true;
}

static struct pool *pool_of(struct agent *a, uint32_t service, const char *db)
{
	for (int i = 0; i < a->npools; i++)
		if (a->pools[i].service == service && !strcmp(a->pools[i].db, db))
			return &a->pools[i];
	if (a->npools == POOLS_MAX)
		return NULL;
	a->pools[a->npools].service = service;
	snprintf(a->pools[a->npools].db, sizeof(a->pools[0].db), "%s", db);
	return &a->pools[a->npools++];
}

static bool count_pool(struct conn *c, void *p)
{
	struct agent *a = p;
	struct pg_conn *pg = c->parser;
	struct pool *pool;

	if (c->proto != CONN_PROTO_PG || !pg || pg->role != PG_ROLE_CLIENT)
		return false;
	pool = pool_of(a, c->service, pg->db[0] ? pg->db : "unknown");
	if (pool) {
		if (pg_conn_busy(pg))
			pool->active++;
		else
			pool->idle++;
	}
	return false;
}

/* db_connections: every (service, db) seen keeps its series, at 0 when it has no connection. */
static void update_pools(struct agent *a)
{
	for (int i = 0; i < a->npools; i++)
		a->pools[i].active = a->pools[i].idle = 0;
	conn_table__sweep(a->conns, count_pool, a);
	for (int i = 0; i < a->npools; i++) {
		struct pool *p = &a->pools[i];
		const char *svc = p->service < (uint32_t)a->nsvc ? a->names[p->service] : "";
		const char *act[] = { svc, p->db, "active" };
		const char *idl[] = { svc, p->db, "idle" };

		metric__set(a->db_conns, act, p->active);
		metric__set(a->db_conns, idl, p->idle);
	}
}

void agent__expire(struct agent *a, uint64_t now_ns, uint64_t idle_ns)
{
	struct expire_ctx x = { a, now_ns > idle_ns ? now_ns - idle_ns : 0, 0 };

	conn_table__sweep(a->conns, expire_one, &x);
	update_pools(a);
	update_trace_stats(a);
	metric__set(a->connections, NULL, (double)conn_table__count(a->conns));
}

void agent__drop_tgid(struct agent *a, uint32_t tgid)
{
	struct expire_ctx x = { a, 0, tgid };

	conn_table__sweep(a->conns, expire_one, &x);
	if (a->tracer)
		tracer__drop_tgid(a->tracer, tgid);
}

uint64_t agent__events(const struct agent *a)
{
	return a->events;
}

size_t agent__connections(const struct agent *a)
{
	return conn_table__count(a->conns);
}
