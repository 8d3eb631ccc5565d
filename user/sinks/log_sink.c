// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "proto/lines.h"
#include "proto/route.h"
#include "sinks/log_sink.h"
#include "sinks/names.h"
#include "span.h"

#define OUTS_MAX 4

struct log_sink {
	const struct config *cfg;
	int64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, taken once */
	int min_level;
	_Atomic uint64_t access, app, app_lost;
	struct {
		log_out_fn fn;
		void *ctx;
	} out[OUTS_MAX];
	int nout;
};

struct log_sink *log_sink__new(const struct config *cfg)
{
	struct log_sink *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->cfg = cfg;
	ls->wall_offset_ns = span_clock_offset_ns();
	ls->min_level = cfg ? cfg->log_level : LOG_INFO;
	return ls;
}

void log_sink__free(struct log_sink *ls)
{
	free(ls);
}

int log_sink__add_out(struct log_sink *ls, log_out_fn fn, void *ctx)
{
	if (ls->nout == OUTS_MAX)
		return -1;
	ls->out[ls->nout].fn = fn;
	ls->out[ls->nout++].ctx = ctx;
	return 0;
}

void log_sink__counts(const struct log_sink *ls, struct log_sink_counts *c)
{
	c->access = atomic_load_explicit(&ls->access, memory_order_relaxed);
	c->app = atomic_load_explicit(&ls->app, memory_order_relaxed);
	c->app_lost = atomic_load_explicit(&ls->app_lost, memory_order_relaxed);
}

static void count(_Atomic uint64_t *v, uint64_t n)
{
	/* One writer (the capture thread): no read-modify-write needed. */
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}


/* A bump allocator over the caller's scratch: strings of one record. */
struct scratch {
	char *p;
	size_t used;
};

static const char *sprint(struct scratch *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *sprint(struct scratch *s, const char *fmt, ...)
{
	char *at = s->p + s->used;
	size_t room = LOG_SCRATCH - s->used;
	va_list ap;
	int n;

	if (room < 2)
		return "";
	va_start(ap, fmt);
	n = vsnprintf(at, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return "";
	s->used += (size_t)n < room ? (size_t)n + 1 : room;
	return at;
}

static void field_s(struct log_record *r, const char *key, const char *v)
{
	if (r->nfields < LOG_FIELDS_MAX && v && v[0])
		r->fields[r->nfields++] = (struct log_field){ key, v, 0 };
}

static void field_n(struct log_record *r, const char *key, int64_t v)
{
	if (r->nfields < LOG_FIELDS_MAX)
		r->fields[r->nfields++] = (struct log_field){ key, NULL, v };
}

/* The peer: client.* for a request served, server.* for a call made. */
static void peer(struct log_record *r, const struct exchange *x, struct scratch *s)
{
	const struct sonde_conn_tuple *t = x->tuple;
	char addr[INET6_ADDRSTRLEN];
	bool server = x->kind == EXCHANGE_SERVER;

	if (!t || (t->family != SONDE_AF_INET && t->family != SONDE_AF_INET6) ||
	    !inet_ntop(t->family == SONDE_AF_INET ? AF_INET : AF_INET6, t->raddr, addr,
		       sizeof(addr)))
		return;
	field_s(r, server ? "client.address" : "server.address", sprint(s, "%s", addr));
	field_n(r, server ? "client.port" : "server.port", t->rport);
}

static const char *const loggers[] = { "sonde.http", "sonde.redis", "sonde.postgresql",
				       "sonde.kafka", "sonde.net" };

/* The pod of the process (ECS's and OpenTelemetry's k8s.* names), when known. */
static void k8s_fields(struct log_record *r, const struct k8s_meta *k)
{
	if (!k || !k->pod[0])
		return;
	field_s(r, "k8s.namespace.name", k->namespace_);
	field_s(r, "k8s.pod.name", k->pod);
	if (k->container[0])
		field_s(r, "k8s.container.name", k->container);
	if (k->node[0])
		field_s(r, "k8s.node.name", k->node);
}

bool log_sink__build(const struct log_sink *ls, const struct exchange *x, struct log_record *r,
		     char *scratch)
{
	struct scratch s = { scratch, 0 };
	double ms = x->end_ns > x->start_ns ? (double)(x->end_ns - x->start_ns) / 1e6 : 0;
	const char *msg = "";
	int level;

	/* Requests served always; calls made only when they failed. */
	if (x->kind != EXCHANGE_SERVER && !x->error)
		return false;
	if (x->proto == EXCHANGE_HTTP)
		level = x->status >= 500 || (x->kind != EXCHANGE_SERVER && x->error) ? LOG_ERROR
			: x->status >= 400					      ? LOG_WARN
										      : LOG_INFO;
	else
		level = x->error ? LOG_ERROR : LOG_INFO;
	if (level < ls->min_level)
		return false;
	memset(r, 0, offsetof(struct log_record, fields));
	r->time_ns = x->end_ns + ls->wall_offset_ns;
	r->level = (uint8_t)level;
	r->logger = x->proto < sizeof(loggers) / sizeof(loggers[0]) ? loggers[x->proto] : "sonde";
	r->service = x->service_name ? x->service_name : "";
	r->environment = ls->cfg ? ls->cfg->environment : "";
	r->pid = x->tgid;
	r->tid = x->tid;
	k8s_fields(r, x->k8s);
	if (x->ctx.span_id) {
		r->has_trace = true;
		memcpy(r->trace_id, x->ctx.trace_id, 16);
		r->span_id = x->ctx.span_id;
	}
	switch (x->proto) {
	case EXCHANGE_HTTP: {
		char route[ROUTE_MAX], path[256];

		route_normalize(ls->cfg ? &ls->cfg->routes : NULL, x->target, route, sizeof(route));
		sink_path_of(path, sizeof(path), x->target);
		msg = sprint(&s, "%s %s %d %.1f ms", x->operation, route, x->status, ms);
		field_s(r, "http.request.method", x->operation);
		field_s(r, "http.route", sprint(&s, "%s", route));
		field_s(r, "url.path", sprint(&s, "%s", path));
		field_n(r, "http.response.status_code", x->status);
		break;
	}
	case EXCHANGE_REDIS: {
		char region[64] = "";

		if (x->target[0])
			sink_region_of(ls->cfg, x->target, region, sizeof(region));
		msg = sprint(&s, "redis %s failed: %s %.1f ms", x->operation,
			     x->error_code[0] ? x->error_code : "error", ms);
		field_s(r, "db.system", "redis");
		field_s(r, "db.operation", x->operation);
		field_s(r, "cache", sprint(&s, "%s", region));
		field_s(r, "error.code", x->error_code);
		break;
	}
	case EXCHANGE_PG:
		msg = sprint(&s, "postgres %s%s%s failed: %s %.1f ms", x->operation,
			     x->target[0] ? " " : "", x->target,
			     x->error_code[0] ? x->error_code : "error", ms);
		field_s(r, "db.system", "postgresql");
		field_s(r, "db.name", x->pg.db);
		field_s(r, "db.operation", x->operation);
		field_s(r, "db.sql.table", x->target);
		field_s(r, "error.code", x->error_code);
		break;
	case EXCHANGE_KAFKA: {
		const struct exchange_part *bad = NULL;
		int code = x->kafka.error_code;

		for (uint32_t i = 0; i < x->kafka.nparts && !bad; i++)
			if (x->kafka.parts[i].error_code)
				bad = &x->kafka.parts[i];
		if (bad)
			code = bad->error_code;
		msg = sprint(&s, "kafka %s%s%s failed: error %d %.1f ms", x->operation,
			     bad ? " " : "", bad ? bad->topic : "", code, ms);
		field_s(r, "messaging.system", "kafka");
		field_s(r, "messaging.operation", x->operation);
		if (bad) {
			field_s(r, "messaging.destination.name", bad->topic);
			field_n(r, "messaging.kafka.destination.partition", bad->partition);
		}
		field_s(r, "error.code", sprint(&s, "%d", code));
		break;
	}
	case EXCHANGE_NET: {
		const char *app = x->net.app[0] ? x->net.app : "tcp";
		const char *where = "";

		if (!strcmp(app, "http") && x->net.request[0]) {
			char route[ROUTE_MAX], path[256];

			route_normalize(ls->cfg ? &ls->cfg->routes : NULL, x->target, route,
					sizeof(route));
			sink_path_of(path, sizeof(path), x->target);
			where = sprint(&s, " %s %s", x->net.request, route);
			field_s(r, "http.request.method", x->net.request);
			field_s(r, "http.route", sprint(&s, "%s", route));
			field_s(r, "url.path", sprint(&s, "%s", path));
		} else if (x->net.request[0]) {
			where = sprint(&s, " %s", x->net.request);
			field_s(r, "db.system", app);
			field_s(r, "db.operation", x->net.request);
		}
		if (x->net.app[0])
			r->logger = sprint(&s, "sonde.%s", x->net.app);
		msg = sprint(&s, "%s%s failed at %s: %s %.1f ms", app, where, x->operation,
			     x->error_code, ms);
		field_s(r, "network.transport", "tcp");
		field_s(r, "error.type", x->error_code);
		break;
	}
	default:
		return false;
	}
	field_n(r, "event.duration", (int64_t)(x->end_ns > x->start_ns ? x->end_ns - x->start_ns : 0));
	peer(r, x, &s);
	r->message = msg;
	r->message_len = strlen(msg);
	return true;
}

void log_sink__put(void *ctx, const struct exchange *x, size_t n)
{
	struct log_sink *ls = ctx;
	struct log_record r;
	char scratch[LOG_SCRATCH];

	if (!ls->nout)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!log_sink__build(ls, &x[i], &r, scratch))
			continue;
		count(&ls->access, 1);
		for (int k = 0; k < ls->nout; k++)
			ls->out[k].fn(ls->out[k].ctx, &r);
	}
}

void log_sink__limited(struct log_sink *ls, const struct limited_request *l)
{
	struct log_record r;
	char scratch[LOG_SCRATCH], addr[64] = "";
	struct scratch s = { scratch, 0 };
	const char *sp = strchr(l->match, ' ');
	const char *route = sp ? sp + 1 : l->match;

	if (LOG_WARN < ls->min_level || !ls->nout)
		return;
	memset(&r, 0, offsetof(struct log_record, fields));
	r.time_ns = l->ts_ns + ls->wall_offset_ns;
	r.level = LOG_WARN;
	r.logger = "sonde.ratelimit";
	r.service = l->service_name ? l->service_name : "";
	r.environment = ls->cfg ? ls->cfg->environment : "";
	inet_ntop(l->family == SONDE_AF_INET6 ? AF_INET6 : AF_INET, l->addr, addr, sizeof(addr));
	r.message = sprint(&s, "429 %s from %s: over %u per %.3gs, retry after %u s", l->match, addr,
			   l->limit, (double)l->window_ns / 1e9, l->retry_after);
	r.message_len = strlen(r.message);
	if (sp)
		field_s(&r, "http.request.method", sprint(&s, "%.*s", (int)(sp - l->match), l->match));
	field_s(&r, "http.route", route);
	field_n(&r, "http.response.status_code", 429);
	field_s(&r, "client.address", sprint(&s, "%s", addr));
	field_n(&r, "client.port", l->port);
	field_s(&r, "sonde.rate_limit.rule", l->match);
	field_n(&r, "sonde.rate_limit.limit", l->limit);
	field_n(&r, "sonde.rate_limit.window_ms", (int64_t)(l->window_ns / 1000000));
	field_n(&r, "sonde.rate_limit.retry_after", l->retry_after);
	count(&ls->access, 1);
	for (int k = 0; k < ls->nout; k++)
		ls->out[k].fn(ls->out[k].ctx, &r);
}

/* A string member of o, if any. */
static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The line as a JSON object (the whole of it), or NULL. */
static struct json_object *line_object(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len < 2 || text[0] != '{' || text[len - 1] != '}' || len > INT32_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

void log_sink__app_line(void *ctx, const struct app_line *l)
{
	static const struct {
		const char *key;
		uint32_t bit;
	} keys[] = {
		{ "@timestamp", LOG_HAS_TIMESTAMP }, { "log.level", LOG_HAS_LEVEL },
		{ "log.logger", LOG_HAS_LOGGER },    { "service.name", LOG_HAS_SERVICE },
		{ "service.environment", LOG_HAS_ENVIRONMENT },
		{ "process.pid", LOG_HAS_PID },	     { "process.thread.id", LOG_HAS_TID },
		{ "trace.id", LOG_HAS_TRACE },	     { "span.id", LOG_HAS_TRACE },
		{ "sonde.truncated", LOG_HAS_TRUNCATED },
	};
	struct log_sink *ls = ctx;
	struct log_record r;
	struct json_object *o = l->truncated ? NULL : line_object(l->text, l->len);
	const char *lv = NULL;
	int level = -1;

	if (o) {
		lv = member_str(o, "log.level");
		if (!lv)
			lv = member_str(o, "level");
		if (!lv)
			lv = member_str(o, "severity");
		level = lv ? line_level(lv, strlen(lv)) : -1;
	} else {
		level = line_level(l->text, l->len < 128 ? l->len : 128);
	}
	if (level < 0)
		level = LOG_INFO;
	if (level < ls->min_level || !ls->nout) {
		json_object_put(o);
		return;
	}
	memset(&r, 0, offsetof(struct log_record, fields));
	r.time_ns = l->ts_ns + ls->wall_offset_ns;
	r.level = (uint8_t)level;
	r.logger = "app";
	r.message = l->text;
	r.message_len = l->len;
	r.truncated = l->truncated;
	r.service = l->service_name ? l->service_name : "";
	r.environment = ls->cfg ? ls->cfg->environment : "";
	r.pid = l->tgid;
	r.tid = l->tid;
	k8s_fields(&r, l->k8s);
	if (l->has_ctx) {
		r.has_trace = true;
		memcpy(r.trace_id, l->ctx.trace_id, 16);
		r.span_id = l->ctx.span_id;
	}
	if (o) {
		r.object = true;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_object_get_ex(o, keys[i].key, NULL))
				r.present |= keys[i].bit;
		if (!json_object_object_get_ex(o, "log.iostream", NULL))
			field_s(&r, "log.iostream", l->fd == 2 ? "stderr" : "stdout");
		json_object_put(o);
	} else {
		field_s(&r, "log.iostream", l->fd == 2 ? "stderr" : "stdout");
	}
	count(&ls->app, 1);
	for (int k = 0; k < ls->nout; k++)
		ls->out[k].fn(ls->out[k].ctx, &r);
}

void log_sink__app_lost(void *ctx, uint32_t n)
{
	struct log_sink *ls = ctx;

	count(&ls->app_lost, n);
}
