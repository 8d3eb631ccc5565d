// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "export/metrics.h"
#include "proto/http.h"
#include "proto/route.h"

/* Spring Boot's default SLO-ish buckets, as the issue and the seeds' dashboards use them. */
const double agent_latency_buckets[13] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					   0.25,  0.5,	  1,	 2.5,  5,    10 };

/* A connection whose first events show no known protocol is dropped after this many. */
#define SNIFF_MAX 8
#define EXCHANGES_PER_FEED 16

struct service {
	char *name;
	struct route_set *routes;
};

struct agent {
	struct conn_table *conns;
	const struct route_patterns *routes;
	int max_routes;
	struct service *svc;
	int nsvc;
	uint64_t events;

	struct metric_family *http_server;
	struct metric_family *http_client;
	struct metric_family *parse_errors;
	struct metric_family *malformed;
	struct metric_family *connections;
};

struct agent *agent__new(struct metrics *m, const struct route_patterns *routes, int max_routes)
{
	static const char *const server_labels[] = { "service", "method", "uri", "status",
						     "outcome" };
	static const char *const client_labels[] = { "service", "method", "uri",
						     "status",	"outcome", "peer" };
	static const char *const proto_label[] = { "protocol" };
	static const char *const http_proto[] = { "http" };
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->routes = routes;
	a->max_routes = max_routes > 0 ? max_routes : 200;
	a->conns = conn_table__new();
	a->http_server = metrics__histogram(
		m, "http_server_requests_seconds",
		"Duration of HTTP requests served by the observed process, first request byte read "
		"to last response byte written",
		server_labels, 5, agent_latency_buckets, 13);
	a->http_client = metrics__histogram(
		m, "http_client_requests_seconds",
		"Duration of HTTP requests made by the observed process, request written to last "
		"response byte read",
		client_labels, 6, agent_latency_buckets, 13);
	a->parse_errors = metrics__counter(m, "sonde_parse_errors_total",
					   "Connections whose bytes could not be parsed, by protocol",
					   proto_label, 1);
	a->malformed = metrics__counter(m, "sonde_events_malformed_total",
					"Ring-buffer records dropped as inconsistent", NULL, 0);
	a->connections = metrics__gauge(m, "sonde_connections",
					"Connections sonde is following now", NULL, 0);
	if (!a->conns || !a->http_server || !a->http_client || !a->parse_errors ||
	    !a->malformed || !a->connections) {
		agent__free(a);
		return NULL;
	}
	/* Export the zero: a rise is then visible to rate() from the first error. */
	metric__add(a->parse_errors, http_proto, 0);
	metric__add(a->malformed, NULL, 0);
	metric__set(a->connections, NULL, 0);
	return a;
}

void agent__free(struct agent *a)
{
	if (!a)
		return;
	conn_table__free(a->conns);
	for (int i = 0; i < a->nsvc; i++) {
		free(a->svc[i].name);
		route_set__free(a->svc[i].routes);
	}
	free(a->svc);
	free(a);
}

int agent__add_service(struct agent *a, const char *name)
{
	struct service *ns;

	for (int i = 0; i < a->nsvc; i++)
		if (!strcmp(a->svc[i].name, name))
			return i;
	ns = realloc(a->svc, (a->nsvc + 1) * sizeof(*ns));
	if (!ns)
		return -1;
	a->svc = ns;
	ns[a->nsvc].name = strdup(name);
	ns[a->nsvc].routes = route_set__new(a->max_routes);
	if (!ns[a->nsvc].name || !ns[a->nsvc].routes) {
		free(ns[a->nsvc].name);
		route_set__free(ns[a->nsvc].routes);
		return -1;
	}
	return a->nsvc++;
}

static void peer_label(const struct sonde_conn_tuple *t, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];

	switch (t->family) {
	case SONDE_AF_INET:
		inet_ntop(AF_INET, t->raddr, ip, sizeof(ip));
		snprintf(out, outsz, "%s:%u", ip, t->rport);
		break;
	case SONDE_AF_INET6:
		inet_ntop(AF_INET6, t->raddr, ip, sizeof(ip));
		snprintf(out, outsz, "[%s]:%u", ip, t->rport);
		break;
	default:
		snprintf(out, outsz, "unix");
	}
}

static void record_http(struct agent *a, const struct conn *c, const struct http_exchange *x)
{
	const struct service *svc;
	char route[ROUTE_MAX], status[8], peer[64];
	const char *uri;
	double secs;

	/* Placeholders for messages that began in bytes we never saw: no status, no method. */
	if (x->status <= 0 || !x->method[0] || c->service >= (uint32_t)a->nsvc)
		return;
	svc = &a->svc[c->service];
	route_normalize(a->routes, x->target, route, sizeof(route));
	uri = route_set__admit(svc->routes, route);
	snprintf(status, sizeof(status), "%d", x->status);
	secs = x->resp_end_ts > x->req_begin_ts ? (x->resp_end_ts - x->req_begin_ts) / 1e9 : 0;
	if (x->role == HTTP_ROLE_SERVER) {
		const char *v[] = { svc->name, http_method_label(x->method), uri, status,
				    http_outcome(x->status) };

		metric__observe(a->http_server, v, secs);
	} else {
		const char *v[] = { svc->name, http_method_label(x->method), uri, status,
				    http_outcome(x->status), peer };

		peer_label(&c->tuple, peer, sizeof(peer));
		metric__observe(a->http_client, v, secs);
	}
}

static void parse_error(struct agent *a, const char *protocol)
{
	const char *v[] = { protocol };

	metric__add(a->parse_errors, v, 1);
}

static void record_all(struct agent *a, const struct conn *c, const struct http_exchange *x, int n)
{
	for (int i = 0; i < n; i++)
		record_http(a, c, &x[i]);
}

/* Flush what the parser still holds (a response read until close) and forget c. */
static void conn_finish(struct agent *a, struct conn *c, uint64_t ts)
{
	struct http_exchange x[EXCHANGES_PER_FEED];

	if (c->proto != CONN_PROTO_HTTP || !c->http)
		return;
	if (http_conn_truncated(c->http))
		parse_error(a, "http");
	record_all(a, c, x, http_conn_close(c->http, ts, x, EXCHANGES_PER_FEED));
}

static enum http_role role_hint(const struct conn *c)
{
	switch (c->tuple.role) {
	case SONDE_ROLE_SERVER:
		return HTTP_ROLE_SERVER;
	case SONDE_ROLE_CLIENT:
		return HTTP_ROLE_CLIENT;
	default:
		return HTTP_ROLE_UNKNOWN;
	}
}

/* Decide the protocol from the first bytes; true once it is HTTP. */
static bool sniff(struct agent *a, struct conn *c, const uint8_t *data, size_t len)
{
	if (http_looks_like_request(data, len) || http_looks_like_response(data, len)) {
		/*
		 * A connection seen from its start (accept/connect) whose first
		 * bytes were not HTTP but that carries HTTP now: the peer sent
		 * garbage and the server answered it (400). Malformed traffic.
		 */
		if (c->sniffed && c->tuple.role != SONDE_ROLE_UNKNOWN) {
			parse_error(a, "http");
			c->proto = CONN_PROTO_NONE;
			return false;
		}
		c->http = malloc(sizeof(*c->http));
		if (!c->http) {
			c->proto = CONN_PROTO_NONE;
			return false;
		}
		http_conn_init(c->http, role_hint(c));
		c->proto = CONN_PROTO_HTTP;
		return true;
	}
	if (++c->sniffed >= SNIFF_MAX)
		c->proto = CONN_PROTO_NONE;
	return false;
}

static void handle_data(struct agent *a, const struct sonde_event *e,
			const struct sonde_conn_tuple *tuple, const uint8_t *data)
{
	struct conn *c = conn_table__get(a->conns, e->tgid, e->fd);
	struct http_exchange x[EXCHANGES_PER_FEED];
	int n;

	if (c && c->conn_id != e->conn_id) {
		/* The fd was reused and we missed the close. */
		conn_finish(a, c, c->last_ts);
		conn_table__del(a->conns, c);
		c = NULL;
	}
	if (!c) {
		c = conn_table__add(a->conns, e->tgid, e->fd);
		if (!c)
			return;
		c->conn_id = e->conn_id;
		c->service = e->service;
	}
	if (tuple)
		c->tuple = *tuple;
	c->last_ts = e->ts_ns;
	if (c->proto == CONN_PROTO_NONE)
		return;
	if (c->proto == CONN_PROTO_UNKNOWN && !sniff(a, c, data, e->caplen))
		return;
	n = http_conn_feed(c->http, e->dir == SONDE_DIR_EGRESS ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS,
			   data, e->caplen, e->len, e->ts_ns, x, EXCHANGES_PER_FEED);
	if (n < 0) {
		parse_error(a, "http");
		free(c->http);
		c->http = NULL;
		c->proto = CONN_PROTO_NONE;
		return;
	}
	record_all(a, c, x, n);
}

void agent__handle(struct agent *a, const void *rec, size_t size)
{
	const struct sonde_event *e = rec;
	const struct sonde_conn_tuple *tuple = NULL;
	size_t hlen = sizeof(*e);
	struct conn *c;

	if (size >= sizeof(*e) && (e->flags & SONDE_F_TUPLE)) {
		tuple = (const struct sonde_conn_tuple *)(e + 1);
		hlen += sizeof(*tuple);
	}
	if (size < hlen || e->caplen > size - hlen || e->caplen > e->len ||
	    e->caplen > SONDE_CAPTURE_MAX) {
		metric__add(a->malformed, NULL, 1);
		return;
	}
	a->events++;
	switch (e->type) {
	case SONDE_EV_DATA:
		/* Records are 8-byte aligned and both structs are multiples of 8 bytes. */
		handle_data(a, e, tuple, (const uint8_t *)rec + hlen);
		break;
	case SONDE_EV_CLOSE:
		c = conn_table__get(a->conns, e->tgid, e->fd);
		if (c && c->conn_id == e->conn_id) {
			conn_finish(a, c, e->ts_ns);
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
	conn_finish(x->a, c, c->last_ts);
	return true;
}

void agent__expire(struct agent *a, uint64_t now_ns, uint64_t idle_ns)
{
	struct expire_ctx x = { a, now_ns > idle_ns ? now_ns - idle_ns : 0, 0 };

	conn_table__sweep(a->conns, expire_one, &x);
	metric__set(a->connections, NULL, (double)conn_table__count(a->conns));
}

void agent__drop_tgid(struct agent *a, uint32_t tgid)
{
	struct expire_ctx x = { a, 0, tgid };

	conn_table__sweep(a->conns, expire_one, &x);
}

uint64_t agent__events(const struct agent *a)
{
	return a->events;
}

size_t agent__connections(const struct agent *a)
{
	return conn_table__count(a->conns);
}
