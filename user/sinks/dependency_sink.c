// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "export/metrics.h"
#include "sinks/dependency_sink.h"
#include "span.h"

#define SLOT_NS 10000000000ULL /* the minute is six slots of 10 s */
#define SLOTS 6
#define DEGRADED_RATE 0.10
#define DEGRADED_CALLS 5

enum dep_status { DEP_UP = 0, DEP_DEGRADED, DEP_DOWN };
static const char *const status_names[] = { "UP", "DEGRADED", "DOWN" };

struct dep {
	uint32_t service;
	/* The key: the peer's address and the protocol spoken. */
	uint16_t family, port;
	uint8_t addr[16];
	char service_name[64];
	char name[96]; /* "redis://127.0.0.1:6379" */
	const char *protocol;
	uint64_t slot_epoch[SLOTS]; /* which 10 s each slot counts */
	uint32_t calls[SLOTS], errors[SLOTS];
	uint64_t last_success, last_failure; /* CLOCK_MONOTONIC ns, 0 never */
	char last_error[32];
	bool down; /* the latest call failed below its protocol */
	struct metric_series *up;
};

struct dependency_sink {
	pthread_mutex_t mu;
	int64_t wall_offset_ns;
	struct dep *deps;
	int n;
	struct metric_family *up, *overflow;
};

struct dependency_sink *dependency_sink__new(struct metrics *m)
{
	static const char *const labels[] = { "service", "dependency" };
	struct dependency_sink *d = calloc(1, sizeof(*d));

	if (!d || !(d->deps = calloc(DEPS_MAX, sizeof(*d->deps)))) {
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	d->wall_offset_ns = span_clock_offset_ns();
	d->up = metrics__gauge(m, "sonde_dependency_up",
			       "1 while the dependency answers the service's calls (UP or DEGRADED), "
			       "0 when the latest call failed to connect or got no answer (DOWN)",
			       labels, 2);
	d->overflow = metrics__counter(m, "sonde_dependencies_overflow_total",
				       "Calls to dependencies not followed: more than 512 (service, "
				       "dependency) pairs",
				       NULL, 0);
	if (!d->up || !d->overflow) {
		dependency_sink__free(d);
		return NULL;
	}
	return d;
}

void dependency_sink__free(struct dependency_sink *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->mu);
	free(d->deps);
	free(d);
}

static const char *scheme(const struct exchange *x)
{
	switch (x->proto) {
	case EXCHANGE_HTTP:
		return "http";
	case EXCHANGE_REDIS:
		return "redis";
	case EXCHANGE_PG:
		return "postgresql";
	case EXCHANGE_KAFKA:
		return "kafka";
	default: /* EXCHANGE_NET: the protocol the connection had, if any */
		return x->net.app && x->net.app[0] ? x->net.app : "tcp";
	}
}

/* "SCHEME://ADDR:PORT", or false when the call has no network peer (a Unix socket). */
static bool dep_name(const struct exchange *x, char *out, size_t outsz)
{
	const struct sonde_conn_tuple *t = x->tuple;
	char ip[INET6_ADDRSTRLEN];

	if (!t || (t->family != SONDE_AF_INET && t->family != SONDE_AF_INET6) || !t->rport)
		return false;
	inet_ntop(t->family == SONDE_AF_INET ? AF_INET : AF_INET6, t->raddr, ip, sizeof(ip));
	snprintf(out, outsz, t->family == SONDE_AF_INET ? "%s://%s:%u" : "%s://[%s]:%u", scheme(x),
		 ip, t->rport);
	return true;
}

/* Did the call fail (for health: a 4xx is the caller's mistake, not the dependency's)? */
static bool failed(const struct exchange *x)
{
	if (x->proto == EXCHANGE_HTTP)
		return x->status >= 500;
	return x->error;
}

static struct dep *find(struct dependency_sink *d, const struct exchange *x)
{
	const struct sonde_conn_tuple *t = x->tuple;
	const char *sch = scheme(x);
	char name[96];

	bool unknown = !strcmp(sch, "tcp");

	/*
	 * A connect refused before any protocol was spoken ("tcp") is the
	 * dependency's at that address; a dependency first known by such a
	 * connect takes its protocol's name once one is spoken.
	 */
	for (int i = 0; i < d->n; i++) {
		struct dep *q = &d->deps[i];

		if (q->service != x->service || q->port != t->rport || q->family != t->family ||
		    memcmp(q->addr, t->raddr, 16))
			continue;
		if (unknown || !strcmp(q->protocol, sch))
			return q;
		if (!strcmp(q->protocol, "tcp") && dep_name(x, name, sizeof(name))) {
			q->protocol = sch;
			snprintf(q->name, sizeof(q->name), "%s", name);
			/* The series keeps the first name: Prometheus sees one dependency. */
			return q;
		}
	}
	if (!dep_name(x, name, sizeof(name)))
		return NULL;
	if (d->n == DEPS_MAX) {
		metric__add(d->overflow, NULL, 1);
		return NULL;
	}
	struct dep *p = &d->deps[d->n];
	const char *v[] = { x->service_name, name };

	memset(p, 0, sizeof(*p));
	p->service = x->service;
	p->family = t->family;
	p->port = t->rport;
	memcpy(p->addr, t->raddr, 16);
	snprintf(p->service_name, sizeof(p->service_name), "%s", x->service_name);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->protocol = sch;
	if (!(p->up = metric__series(d->up, v)))
		return NULL;
	d->n++;
	return p;
}

static void count(struct dep *p, uint64_t ts, bool error)
{
	uint64_t epoch = ts / SLOT_NS;
	int s = (int)(epoch % SLOTS);

	if (p->slot_epoch[s] != epoch) {
		p->slot_epoch[s] = epoch;
		p->calls[s] = p->errors[s] = 0;
	}
	p->calls[s]++;
	p->errors[s] += error;
}

/* Calls and errors of the minute before now. */
static void minute(const struct dep *p, uint64_t now, uint32_t *calls, uint32_t *errors)
{
	uint64_t epoch = now / SLOT_NS;

	*calls = *errors = 0;
	for (int s = 0; s < SLOTS; s++)
		if (p->slot_epoch[s] + SLOTS > epoch && p->slot_epoch[s] <= epoch) {
			*calls += p->calls[s];
			*errors += p->errors[s];
		}
}

static enum dep_status status(const struct dep *p, uint64_t now)
{
	uint32_t calls, errors;

	if (p->down)
		return DEP_DOWN;
	minute(p, now, &calls, &errors);
	if (calls >= DEGRADED_CALLS && errors >= DEGRADED_RATE * calls)
		return DEP_DEGRADED;
	return DEP_UP;
}

void dependency_sink__put(void *ctx, const struct exchange *x, size_t n)
{
	struct dependency_sink *d = ctx;

	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < n; i++) {
		const struct exchange *e = &x[i];
		bool net = e->proto == EXCHANGE_NET, bad = net || failed(e), latest;
		struct dep *p;

		if (e->kind == EXCHANGE_SERVER || !e->tuple ||
		    (e->tuple->family != SONDE_AF_INET && e->tuple->family != SONDE_AF_INET6) ||
		    !e->tuple->rport || !(p = find(d, e)))
			continue;
		latest = e->end_ns >= p->last_success && e->end_ns >= p->last_failure;
		count(p, e->end_ns, bad);
		/* A reply, even an error, says the dependency is there; records may come late. */
		if (latest)
			p->down = net;
		if (bad) {
			p->last_failure = e->end_ns;
			snprintf(p->last_error, sizeof(p->last_error), "%s",
				 e->error_code && e->error_code[0] ? e->error_code
				 : e->status			   ? "status"
								   : "error");
			if (e->proto == EXCHANGE_HTTP && e->status)
				snprintf(p->last_error, sizeof(p->last_error), "%d", e->status);
		} else {
			p->last_success = e->end_ns;
		}
		metric__series_set(p->up, p->down ? 0 : 1);
	}
	pthread_mutex_unlock(&d->mu);
}

static json_object *when(const struct dependency_sink *d, uint64_t mono)
{
	char buf[96];
	int64_t wall = (int64_t)mono + d->wall_offset_ns;
	time_t sec = (time_t)(wall / 1000000000);
	struct tm tm;

	if (!mono)
		return NULL;
	gmtime_r(&sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(wall % 1000000000 / 1000000));
	return json_object_new_string(buf);
}

char *dependency_sink__json(struct dependency_sink *d, uint64_t now_ns)
{
	json_object *arr = json_object_new_array();
	char *out = NULL;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&d->mu);
	for (int i = 0; i < d->n; i++) {
		const struct dep *p = &d->deps[i];
		json_object *o = json_object_new_object();
		uint32_t calls, errors;

		if (!o)
			break;
		minute(p, now_ns, &calls, &errors);
		json_object_object_add(o, "service", json_object_new_string(p->service_name));
		json_object_object_add(o, "dependency", json_object_new_string(p->name));
		json_object_object_add(o, "protocol", json_object_new_string(p->protocol));
		json_object_object_add(o, "status",
				       json_object_new_string(status_names[status(p, now_ns)]));
		json_object_object_add(o, "calls_1m", json_object_new_int64(calls));
		json_object_object_add(o, "errors_1m", json_object_new_int64(errors));
		json_object_object_add(o, "error_rate_1m",
				       json_object_new_double(calls ? (double)errors / calls : 0));
		json_object_object_add(o, "last_success", when(d, p->last_success));
		json_object_object_add(o, "last_failure", when(d, p->last_failure));
		json_object_object_add(o, "last_error",
				       p->last_failure ? json_object_new_string(p->last_error) : NULL);
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&d->mu);
	out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return out;
}
