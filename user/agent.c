// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
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
#include "proto/postgres.h"
#include "proto/redis.h"
#include "proto/route.h"

/* Spring Boot's default SLO-ish buckets, as the issue and the seeds' dashboards use them. */
const double agent_latency_buckets[13] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					   0.25,  0.5,	  1,	 2.5,  5,    10 };

/* A connection whose first events show no known protocol is dropped after this many. */
#define SNIFF_MAX 8
#define EXCHANGES_PER_FEED 16 /* HTTP: at most HTTP_PIPELINE_MAX complete per feed */
#define CACHES_MAX 50         /* distinct `cache` label values; more are "other" */
#define COMMANDS_MAX 100      /* distinct Redis `command` label values; more are "OTHER" */
#define POOLS_MAX 64          /* (service, db) pairs reported by db_connections */
#define RAISED_CAPTURE 4096   /* what a connection that lost its framing asks for */
#define LAGS_MAX 512          /* (service, topic, partition) consumer positions followed */

/* The last cache region a service's reads went to, and its series (NULL until needed). */
struct region_cache {
	const char *region; /* NULL: none */
	size_t len;
	bool prefix; /* region is the key prefix before the first ':' (no configured pattern) */
	struct metric_series *hit, *miss;
};

struct service {
	char *name;
	struct route_set *routes;
	struct route_set *caches;   /* admitted cache regions */
	struct route_set *commands; /* admitted Redis commands */
	/*
	 * Per known Redis command (redis_command_lookup id): its admitted
	 * `command` label, and the redis_commands_seconds series per outcome
	 * ([2 * id + error]). Both stay valid as long as the agent: admitted
	 * labels are never dropped, and these families are never cleared.
	 */
	const char **cmd_label;
	struct metric_series **cmd_series;
	struct region_cache region;
};

/*
 * http_server_requests_seconds series by (service, method label, uri label,
 * status): direct-mapped. The label pointers are stable (static strings and
 * route_set copies, kept as long as the agent), so they serve as keys.
 */
#define HTTP_SERIES_CACHE 256
struct http_series_slot {
	const char *method, *uri;
	int status;
	uint32_t service;
	struct metric_series *s;
};

/*
 * The uri label of a request-target, remembered per (service, target):
 * route_normalize is a pure function of the target (the patterns are fixed at
 * start) and a service's route set only grows, so a label once admitted stays
 * the answer for that target. Overflow answers are not remembered.
 */
#define ROUTE_CACHE 1024
#define ROUTE_CACHE_KEY 64
struct route_cache_slot {
	const char *uri; /* the route set's copy, NULL while empty */
	uint32_t service;
	uint32_t len;
	char target[ROUTE_CACHE_KEY];
};

/* db_connections, recomputed from the connection table once a second. */
struct pool {
	uint32_t service;
	char db[PG_DB_MAX];
	uint32_t active, idle;
};

/* A consumed partition: what the broker has, and where the consumer stands. */
struct lag {
	uint32_t service;
	int32_t partition;
	char topic[KAFKA_TOPIC_MAX];
	int64_t high_watermark; /* from the last Fetch response */
	int64_t fetched;        /* next offset the consumer's fetches reached */
	int64_t committed;      /* last offset it committed, -1 if none seen */
	int64_t counted;        /* records before this offset are counted as consumed; -1: none yet */
};

struct agent {
	struct metrics *m;
	struct conn_table *conns;
	const struct config *cfg;
	const struct route_patterns *routes;
	int max_routes;
	struct service *svc;
	int nsvc;
	uint64_t events;
	struct pool pools[POOLS_MAX];
	int npools;
	struct lag lags[LAGS_MAX];
	int nlags;
	agent_capture_fn capture_fn;
	void *capture_ctx;

	struct metric_family *http_server;
	struct metric_family *http_client;
	struct metric_family *cache_gets;
	struct metric_family *redis_cmds;
	struct metric_family *db_query;
	struct metric_family *db_errors;
	struct metric_family *db_conns;
	struct metric_family *kafka_sent, *kafka_send_errors, *kafka_produce_seconds;
	struct metric_family *kafka_consumed, *kafka_lag, *kafka_lag_max, *kafka_commit_seconds;
	struct metric_family *parse_errors;
	struct metric_family *unparsed;
	struct metric_family *encrypted;
	struct metric_family *malformed;
	struct metric_family *connections;

	struct http_series_slot http_series[HTTP_SERIES_CACHE];
	struct route_cache_slot route_cache[ROUTE_CACHE];
};

static int register_kafka_metrics(struct agent *a, struct metrics *m)
{
	static const char *const svc_topic[] = { "service", "topic" };
	static const char *const svc[] = { "service" };
	static const char *const lag_labels[] = { "service", "topic", "partition" };

	a->kafka_sent = metrics__counter(m, "kafka_producer_record_send_total",
					 "Records the observed process produced, acknowledged without "
					 "error (from the record batch headers)",
					 svc_topic, 2);
	a->kafka_send_errors = metrics__counter(m, "kafka_producer_record_error_total",
						"Records whose Produce partition response carried an "
						"error code",
						svc_topic, 2);
	a->kafka_produce_seconds = metrics__histogram(m, "kafka_producer_request_seconds",
						      "Produce requests, sent to response read",
						      svc, 1, agent_latency_buckets, 13);
	a->kafka_consumed = metrics__counter(m, "kafka_consumer_records_consumed_total",
					     "Records received in Fetch responses", svc_topic, 2);
	a->kafka_lag = metrics__gauge(m, "kafka_consumer_records_lag",
				      "High watermark minus the consumer's position (its last "
				      "commit, else where its fetches reached)",
				      lag_labels, 3);
	a->kafka_lag_max = metrics__gauge(m, "kafka_consumer_records_lag_max",
					  "The largest kafka_consumer_records_lag of the service", svc,
					  1);
	a->kafka_commit_seconds = metrics__histogram(m, "kafka_consumer_commit_latency_seconds",
						     "OffsetCommit requests, sent to response read",
						     svc, 1, agent_latency_buckets, 13);
	return a->kafka_sent && a->kafka_send_errors && a->kafka_produce_seconds &&
			       a->kafka_consumed && a->kafka_lag && a->kafka_lag_max &&
			       a->kafka_commit_seconds
		       ? 0
		       : -1;
}

static int register_data_metrics(struct agent *a, struct metrics *m)
{
	static const char *const cache_labels[] = { "service", "cache", "result" };
	static const char *const redis_labels[] = { "service", "command", "outcome" };
	static const char *const db_labels[] = { "service", "db", "operation", "table", "outcome" };
	static const char *const dberr_labels[] = { "service", "db", "operation", "sqlstate_class" };
	static const char *const pool_labels[] = { "service", "db", "state" };

	a->cache_gets = metrics__counter(
		m, "cache_gets_total",
		"Redis reads of cached values (GET, MGET, HGET, ...) by key region: a nil reply is "
		"a miss",
		cache_labels, 3);
	a->redis_cmds = metrics__histogram(m, "redis_commands_seconds",
					   "Redis commands of the observed process, command written "
					   "to reply read",
					   redis_labels, 3, agent_latency_buckets, 13);
	a->db_query = metrics__histogram(m, "database_query_duration_seconds",
					 "PostgreSQL statements of the observed process, sent to "
					 "completion (CommandComplete or ErrorResponse)",
					 db_labels, 5, agent_latency_buckets, 13);
	a->db_errors = metrics__counter(m, "database_query_errors_total",
					"PostgreSQL statements that failed, by SQLSTATE class",
					dberr_labels, 4);
	a->db_conns = metrics__gauge(m, "db_connections",
				     "PostgreSQL connections of the observed process: active = a "
				     "statement in flight",
				     pool_labels, 3);
	if (!a->cache_gets || !a->redis_cmds || !a->db_query || !a->db_errors || !a->db_conns)
		return -1;
	return register_kafka_metrics(a, m);
}

static void parse_error(struct agent *a, const char *protocol, const char *reason, double n)
{
	const char *v[] = { protocol, reason };

	metric__add(a->parse_errors, v, n);
}

struct agent *agent__new(struct metrics *m, const struct config *cfg)
{
	static const char *const server_labels[] = { "service", "method", "uri", "status",
						     "outcome" };
	static const char *const client_labels[] = { "service", "method", "uri",
						     "status",	"outcome", "peer" };
	static const char *const proto_label[] = { "protocol" };
	static const char *const proto_reason[] = { "protocol", "reason" };
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->m = m;
	a->cfg = cfg;
	a->routes = cfg ? &cfg->routes : NULL;
	a->max_routes = cfg && cfg->max_routes > 0 ? cfg->max_routes : 200;
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
	if (!a->conns || !a->http_server || !a->http_client || !a->parse_errors || !a->unparsed ||
	    !a->malformed || !a->connections || !a->encrypted || register_data_metrics(a, m)) {
		agent__free(a);
		return NULL;
	}
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
	for (int i = 0; i < a->nsvc; i++) {
		free(a->svc[i].name);
		route_set__free(a->svc[i].routes);
		route_set__free(a->svc[i].caches);
		route_set__free(a->svc[i].commands);
		free(a->svc[i].cmd_label);
		free(a->svc[i].cmd_series);
	}
	free(a->svc);
	free(a);
}

void agent__set_capture_hook(struct agent *a, agent_capture_fn fn, void *ctx)
{
	a->capture_fn = fn;
	a->capture_ctx = ctx;
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
	memset(&ns[a->nsvc], 0, sizeof(ns[a->nsvc]));
	ns[a->nsvc].name = strdup(name);
	ns[a->nsvc].routes = route_set__new(a->max_routes);
	ns[a->nsvc].caches = route_set__new(CACHES_MAX);
	ns[a->nsvc].commands = route_set__new(COMMANDS_MAX);
	ns[a->nsvc].cmd_label = calloc(redis_command_count() + 1, sizeof(char *));
	ns[a->nsvc].cmd_series = calloc(2 * (redis_command_count() + 1), sizeof(void *));
	if (!ns[a->nsvc].name || !ns[a->nsvc].routes || !ns[a->nsvc].caches ||
	    !ns[a->nsvc].commands || !ns[a->nsvc].cmd_label || !ns[a->nsvc].cmd_series) {
		free(ns[a->nsvc].name);
		route_set__free(ns[a->nsvc].routes);
		route_set__free(ns[a->nsvc].caches);
		route_set__free(ns[a->nsvc].commands);
		free(ns[a->nsvc].cmd_label);
		free(ns[a->nsvc].cmd_series);
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

/* "%d" of a positive int, as snprintf would write it; out holds 12 bytes. */
static void format_status(int v, char *out)
{
	char tmp[12];
	int n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	out[i] = '\0';
}

/* The server series of these labels, from the cache or looked up (and cached). */
static struct metric_series *http_server_series(struct agent *a, uint32_t service,
						const char *method, const char *uri, int status)
{
	uintptr_t h = ((uintptr_t)method >> 3) * 31 + ((uintptr_t)uri >> 3) * 131 +
		      (uintptr_t)status * 7 + service;
	struct http_series_slot *slot = &a->http_series[(h ^ h >> 8) % HTTP_SERIES_CACHE];
	char st[12];

	if (slot->s && slot->method == method && slot->uri == uri && slot->status == status &&
	    slot->service == service)
		return slot->s;
	format_status(status, st);
	{
		const char *v[] = { a->svc[service].name, method, uri, st, http_outcome(status) };
		struct metric_series *s = metric__series(a->http_server, v);

		if (s) {
			slot->method = method;
			slot->uri = uri;
			slot->status = status;
			slot->service = service;
			slot->s = s;
		}
		return s;
	}
}

/*
 * The uri label of target for service: normalised and admitted, or from the
 * cache. No target (a request that could not be read, a response to none):
 * "UNKNOWN", as Spring names a request it could not map.
 */
static const char *http_uri(struct agent *a, uint32_t service, const char *target)
{
	size_t len = strnlen(target, ROUTE_CACHE_KEY);
	struct route_cache_slot *slot = NULL;
	char route[ROUTE_MAX];
	const char *uri;

	if (!len)
		return "UNKNOWN";
	if (len < ROUTE_CACHE_KEY) {
		uint32_t h = 2166136261u ^ service; /* FNV-1a */

		for (size_t i = 0; i < len; i++)
			h = (h ^ (uint8_t)target[i]) * 16777619u;
		slot = &a->route_cache[(h ^ h >> 16) % ROUTE_CACHE];
		if (slot->uri && slot->service == service && slot->len == len &&
		    !memcmp(slot->target, target, len))
			return slot->uri;
	}
	route_normalize(a->routes, target, route, sizeof(route));
	uri = route_set__admit(a->svc[service].routes, route);
	if (slot && uri != route && strcmp(uri, ROUTE_OVERFLOW)) {
		slot->uri = uri;
		slot->service = service;
		slot->len = (uint32_t)len;
		memcpy(slot->target, target, len);
	}
	return uri;
}

static void record_http(struct agent *a, const struct conn *c, const struct http_exchange *x)
{
	const struct service *svc;
	char status[12], peer[64];
	const char *uri, *method;
	double secs;

	/*
	 * A status line written is an exchange, whatever its request was (its
	 * labels say what could be read of it). No status: a response that began
	 * in bytes we never saw.
	 */
	if (x->status <= 0 || c->service >= (uint32_t)a->nsvc)
		return;
	svc = &a->svc[c->service];
	uri = http_uri(a, c->service, x->target);
	method = http_method_label(x->method);
	secs = x->resp_end_ts > x->req_begin_ts ? (x->resp_end_ts - x->req_begin_ts) / 1e9 : 0;
	if (x->role == HTTP_ROLE_SERVER) {
		struct metric_series *s = http_server_series(a, c->service, method, uri, x->status);

		if (s)
			metric__series_observe_n(s, secs, 1);
	} else {
		const char *v[] = { svc->name, method, uri, status, http_outcome(x->status), peer };

		format_status(x->status, status);
		peer_label(&c->tuple, peer, sizeof(peer));
		metric__observe(a->http_client, v, secs);
	}
}

static void record_all(struct agent *a, const struct conn *c, const struct http_exchange *x, int n)
{
	for (int i = 0; i < n; i++)
		record_http(a, c, &x[i]);
}

static double span_seconds(uint64_t begin, uint64_t end)
{
	return end > begin ? (end - begin) / 1e9 : 0;
}

/*
 * The cache region of a key: the first configured pattern that matches it,
 * else the prefix before the first ':' ("products::42" and "products:42" are
 * both "products"), else "other". At most CACHES_MAX regions per service.
 */
static const char *cache_region(struct agent *a, const struct service *svc, const char *key,
				char *buf, size_t bufsz)
{
	const char *colon;
	const char *r;

	for (int i = 0; a->cfg && i < a->cfg->ncaches; i++)
		if (!fnmatch(a->cfg->caches[i].pattern, key, 0))
			return a->cfg->caches[i].name;
	colon = strchr(key, ':');
	if (!colon || colon == key || (size_t)(colon - key) >= bufsz)
		return "other";
	memcpy(buf, key, colon - key);
	buf[colon - key] = '\0';
	r = route_set__admit(svc->caches, buf);
	return strcmp(r, ROUTE_OVERFLOW) ? r : "other";
}

/* Consecutive observations of one series with one value: recorded as one. */
struct obs_run {
	struct metric_series *s;
	double v;
	uint64_t n;
};

static void obs_run_add(struct obs_run *r, struct metric_series *s, double v)
{
	if (r->n && r->s == s && r->v == v) {
		r->n++;
		return;
	}
	if (r->n)
		metric__series_observe_n(r->s, r->v, r->n);
	r->s = s;
	r->v = v;
	r->n = 1;
}

static void obs_run_flush(struct obs_run *r)
{
	if (r->n)
		metric__series_observe_n(r->s, r->v, r->n);
	r->n = 0;
}

/* Consecutive additions to one counter series. */
struct add_run {
	struct metric_series *s;
	uint64_t n;
};

static void add_run_add(struct add_run *r, struct metric_series *s, uint64_t n)
{
	if (r->n && r->s != s) {
		metric__series_add(r->s, (double)r->n);
		r->n = 0;
	}
	r->s = s;
	r->n += n;
}

static void add_run_flush(struct add_run *r)
{
	if (r->n)
		metric__series_add(r->s, (double)r->n);
	r->n = 0;
}

/* The redis_commands_seconds series of an exchange (cached for known commands). */
static struct metric_series *redis_series(struct agent *a, struct service *svc,
					  const struct redis_exchange *x)
{
	unsigned id = x->command_id, e = x->error ? 1 : 0;
	struct metric_series *s;
	const char *cmd = id ? svc->cmd_label[id] : NULL;

	if (id && svc->cmd_series[2 * id + e])
		return svc->cmd_series[2 * id + e];
	if (!cmd) {
		cmd = route_set__admit(svc->commands, x->command);
		if (!strcmp(cmd, ROUTE_OVERFLOW))
			cmd = "OTHER";
		else if (id)
			svc->cmd_label[id] = cmd; /* admitted for good */
	}
	{
		const char *v[] = { svc->name, cmd, e ? "ERROR" : "SUCCESS" };

		s = metric__series(a->redis_cmds, v);
	}
	if (id && s && cmd == svc->cmd_label[id])
		svc->cmd_series[2 * id + e] = s;
	return s;
}

/* The cache region of a read's key, and the region cache of svc set to it. */
static struct region_cache *redis_region(struct agent *a, struct service *svc, const char *key)
{
	struct region_cache *rc = &svc->region;
	bool patterns = a->cfg && a->cfg->ncaches > 0;
	char buf[REDIS_KEY_MAX];
	const char *region;

	/* The key begins with the last region, then its first ':': same region. */
	if (rc->region && rc->prefix && !patterns && !strncmp(key, rc->region, rc->len) &&
	    key[rc->len] == ':')
		return rc;
	region = cache_region(a, svc, key, buf, sizeof(buf));
	if (region != rc->region) {
		rc->region = region;
		rc->hit = rc->miss = NULL;
	}
	/* cache_region returned the admitted prefix itself (not "other", not a pattern's name). */
	rc->len = strlen(region);
	rc->prefix = !patterns && !strncmp(key, region, rc->len) && key[rc->len] == ':';
	return rc;
}

static struct metric_series *region_series(struct agent *a, const struct service *svc,
					   struct region_cache *rc, bool hit)
{
	struct metric_series **sp = hit ? &rc->hit : &rc->miss;

	if (!*sp) {
		const char *v[] = { svc->name, rc->region, hit ? "hit" : "miss" };

		*sp = metric__series(a->cache_gets, v);
	}
	return *sp;
}

/*
 * The exchanges of one feed. Pipelined commands come in runs of the same
 * command, outcome and duration (written in one syscall, answered in one):
 * such a run is one observation of weight n. Series are looked up (created)
 * in exchange order, as one update per exchange would.
 */
static void record_redis(struct agent *a, const struct conn *c, const struct redis_exchange *x,
			 int n)
{
	struct obs_run cmds = { 0 };
	struct add_run hits = { 0 }, misses = { 0 };
	struct service *svc;

	if (c->service >= (uint32_t)a->nsvc)
		return;
	svc = &a->svc[c->service];
	for (int i = 0; i < n; i++, x++) {
		struct metric_series *s;
		struct region_cache *rc;
		uint32_t h = 0, m = 0;

		if (!x->command[0] || x->role != REDIS_ROLE_CLIENT)
			continue;
		s = redis_series(a, svc, x);
		if (s)
			obs_run_add(&cmds, s, span_seconds(x->req_begin_ts, x->resp_end_ts));
		if (x->error || !x->key[0] || !(x->command_flags & REDIS_CMD_CACHE_READ))
			continue;
		/* MGET/HMGET answer one element per key: each nil is a miss. */
		if (x->elements && (x->command_flags & REDIS_CMD_MULTI_READ)) {
			m = x->nil_elements;
			h = x->elements - x->nil_elements;
		} else if (x->nil) {
			m = 1;
		} else {
			h = 1;
		}
		rc = redis_region(a, svc, x->key);
		if (h && (s = region_series(a, svc, rc, true)))
			add_run_add(&hits, s, h);
		if (m && (s = region_series(a, svc, rc, false)))
			add_run_add(&misses, s, m);
	}
	obs_run_flush(&cmds);
	add_run_flush(&hits);
	add_run_flush(&misses);
}

static void record_pg(struct agent *a, const struct conn *c, const struct pg_exchange *x)
{
	const struct service *svc;
	const char *db, *table, *op;

	if (c->service >= (uint32_t)a->nsvc || x->role != PG_ROLE_CLIENT)
		return;
	svc = &a->svc[c->service];
	db = x->db[0] ? x->db : "unknown";
	table = x->table[0] ? x->table : "none";
	op = x->operation[0] ? x->operation : "OTHER";
	{
		const char *v[] = { svc->name, db, op, table, x->error ? "ERROR" : "SUCCESS" };

		metric__observe(a->db_query, v, span_seconds(x->req_begin_ts, x->resp_end_ts));
	}
	if (x->error) {
		char cls[3] = { x->sqlstate[0] ? x->sqlstate[0] : '?',
				x->sqlstate[0] && x->sqlstate[1] ? x->sqlstate[1] : '?', 0 };
		const char *v[] = { svc->name, db, op, cls };

		metric__add(a->db_errors, v, 1);
	}
}

static struct lag *lag_of(struct agent *a, uint32_t service, const char *topic, int32_t part)
{
	struct lag *l;

	for (int i = 0; i < a->nlags; i++) {
		l = &a->lags[i];
		if (l->service == service && l->partition == part && !strcmp(l->topic, topic))
			return l;
	}
	if (a->nlags == LAGS_MAX)
		return NULL;
	l = &a->lags[a->nlags++];
	l->service = service;
	l->partition = part;
	snprintf(l->topic, sizeof(l->topic), "%s", topic);
	l->high_watermark = l->fetched = l->committed = l->counted = -1;
	return l;
}

/* Publish the lag of l, and the service's largest. */
static void lag_update(struct agent *a, const struct lag *l)
{
	const struct service *svc = &a->svc[l->service];
	int64_t pos = l->committed >= 0 ? l->committed : l->fetched;
	double max = 0;
	char part[16];

	if (l->high_watermark < 0 || pos < 0)
		return;
	snprintf(part, sizeof(part), "%d", l->partition);
	{
		const char *v[] = { svc->name, l->topic, part };
		int64_t lag = l->high_watermark > pos ? l->high_watermark - pos : 0;

		metric__set(a->kafka_lag, v, (double)lag);
	}
	for (int i = 0; i < a->nlags; i++) {
		const struct lag *o = &a->lags[i];
		int64_t p = o->committed >= 0 ? o->committed : o->fetched;

		if (o->service == l->service && o->high_watermark >= 0 && p >= 0 &&
		    o->high_watermark - p > max)
			max = (double)(o->high_watermark - p);
	}
	{
		const char *v[] = { svc->name };

		metric__set(a->kafka_lag_max, v, max);
	}
}

/*
 * Records consumed from a partition, told by a Fetch that asked for offset
 * from and read the headers of records batches up to next (records in them),
 * or by a commit of offset from (next = from, records = 0). Batches past the
 * capture are not read, yet the client received them: its next fetch (or
 * commit) starts past them, and the offsets skipped since what was counted
 * are counted then. Offsets counted once, however often fetched.
 */
static uint64_t consumed(struct lag *l, int64_t from, int64_t next, uint32_t records)
{
	uint64_t n = 0;

	if (!l)
		return records;
	if (from < 0)
		return 0;
	if (l->counted < 0)
		l->counted = from; /* where we came in: what came before is not ours */
	if (from > l->counted) {
		n += (uint64_t)(from - l->counted);
		l->counted = from;
	}
	if (next > l->counted) {
		n += from == l->counted ? records : (uint64_t)(next - l->counted);
		l->counted = next;
	}
	return n;
}

static void record_kafka(struct agent *a, const struct conn *c, const struct kafka_exchange *x)
{
	const struct service *svc;
	double secs = span_seconds(x->req_begin_ts, x->resp_end_ts);

	if (c->service >= (uint32_t)a->nsvc || x->role != KAFKA_ROLE_CLIENT)
		return;
	svc = &a->svc[c->service];
	for (uint32_t i = 0; i < x->nparts; i++) {
		const struct kafka_part *p = &x->parts[i];
		const char *v[] = { svc->name, p->topic };
		struct lag *l;

		if (!p->topic[0])
			continue;
		switch (x->api_key) {
		case KAFKA_API_PRODUCE:
			metric__add(p->error_code ? a->kafka_send_errors : a->kafka_sent, v,
				    p->records);
			break;
		case KAFKA_API_FETCH:
			if (p->error_code)
				break;
			l = lag_of(a, c->service, p->topic, p->partition);
			metric__add(a->kafka_consumed, v, consumed(l, p->fetch_offset, p->next_offset,
								   p->records));
			if (l) {
				if (p->high_watermark >= 0)
					l->high_watermark = p->high_watermark;
				if (p->next_offset >= 0)
					l->fetched = p->next_offset;
				lag_update(a, l);
			}
			break;
		case KAFKA_API_OFFSET_COMMIT:
			l = x->error_code ? NULL : lag_of(a, c->service, p->topic, p->partition);
			if (l && p->next_offset >= 0) {
				metric__add(a->kafka_consumed, v,
					    consumed(l, p->next_offset, p->next_offset, 0));
				l->committed = p->next_offset;
				lag_update(a, l);
			}
			break;
		}
	}
	{
		const char *v[] = { svc->name };

		if (x->api_key == KAFKA_API_PRODUCE)
			metric__observe(a->kafka_produce_seconds, v, secs);
		else if (x->api_key == KAFKA_API_OFFSET_COMMIT)
			metric__observe(a->kafka_commit_seconds, v, secs);
	}
}

/* Flush what the parser still holds (a response read until close) and forget c. */
static void conn_finish(struct agent *a, struct conn *c, uint64_t ts)
{
	struct http_exchange x[EXCHANGES_PER_FEED];
	int n;

	if (c->proto != CONN_PROTO_HTTP || !c->parser)
		return;
	if (http_conn_truncated(c->parser))
		parse_error(a, "http", http_error_reason(HTTP_ERR_TRUNCATED), 1);
	n = http_conn_close(c->parser, ts, x, EXCHANGES_PER_FEED);
	if (n > 0) {
		metrics__lock(a->m);
		record_all(a, c, x, n);
		metrics__unlock(a->m);
	}
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
static bool start_parser(struct conn *c, enum conn_proto proto, bool from_start)
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
	r->off = st->used;
	r->caplen = n;
	r->dir = e->dir;
	memcpy(st->buf + st->used, data, n);
	st->used += n;
}

static int feed(struct agent *a, struct conn *c, bool egress, const uint8_t *data, size_t caplen,
		uint64_t total, uint64_t ts);

/*
 * Start proto's parser on c and give it the records held back, in order.
 * false if it could not start or the held-back bytes broke it.
 */
static bool start_with_stash(struct agent *a, struct conn *c, enum conn_proto proto)
{
	struct conn_stash *st = c->stash;
	bool ok = start_parser(c, proto, !st || !st->overflow);

	c->stash = NULL;
	for (int i = 0; ok && st && i < st->n; i++) {
		const struct conn_stash_rec *r = &st->rec[i];

		if (feed(a, c, r->dir == SONDE_DIR_EGRESS, st->buf + r->off, r->caplen, r->total,
			 r->ts) < 0) {
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
			return start_parser(c, p, false);
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

/* Feed one record to the connection's parser and record what completes. */
static int feed(struct agent *a, struct conn *c, bool egress, const uint8_t *data, size_t caplen,
		uint64_t total, uint64_t ts)
{
	int n, i;

	switch (c->proto) {
	case CONN_PROTO_HTTP: {
		struct http_exchange x[EXCHANGES_PER_FEED];
		struct http_conn *hc = c->parser;

		n = http_conn_feed(hc, egress ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS, data, caplen,
				   total, ts, x, EXCHANGES_PER_FEED);
		if (n > 0 || hc->err_pending) {
			metrics__lock(a->m);
			record_all(a, c, x, n);
			if (hc->err_pending)
				take_http_errors(a, hc);
			metrics__unlock(a->m);
		}
		return n;
	}
	case CONN_PROTO_REDIS: {
		struct redis_exchange x[REDIS_PIPELINE_MAX];

		n = redis_conn_feed(c->parser, egress ? REDIS_DIR_EGRESS : REDIS_DIR_INGRESS, data,
				    caplen, total, ts, x, REDIS_PIPELINE_MAX);
		if (n > 0) {
			metrics__lock(a->m);
			record_redis(a, c, x, n);
			metrics__unlock(a->m);
		}
		return n;
	}
	case CONN_PROTO_PG: {
		struct pg_exchange x[PG_PENDING_MAX];

		n = pg_conn_feed(c->parser, egress ? PG_DIR_EGRESS : PG_DIR_INGRESS, data, caplen,
				 total, ts, x, PG_PENDING_MAX);
		for (i = 0; i < n; i++)
			record_pg(a, c, &x[i]);
		return n;
	}
	case CONN_PROTO_KAFKA: {
		/* ~5.5 KiB each (their partitions): librdkafka keeps <= 5 in flight. */
		struct kafka_exchange x[16];

		n = kafka_conn_feed(c->parser, egress ? KAFKA_DIR_EGRESS : KAFKA_DIR_INGRESS, data,
				    caplen, total, ts, x, 16);
		for (i = 0; i < n; i++)
			record_kafka(a, c, &x[i]);
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
	if (feed(a, c, e->dir == SONDE_DIR_EGRESS, data, e->caplen, e->len, e->ts_ns) < 0) {
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

static void handle_data(struct agent *a, const struct sonde_event *e,
			const struct sonde_conn_tuple *tuple, const struct sonde_segs *segs,
			const uint8_t *data)
{
	struct conn *c = conn_table__get(a->conns, e->tgid, e->fd);

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
	a->events++;
	switch (e->type) {
	case SONDE_EV_DATA:
		/* Records are 8-byte aligned and all three structs are multiples of 8 bytes. */
		handle_data(a, e, tuple, segs, (const uint8_t *)rec + hlen);
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
		const char *svc = p->service < (uint32_t)a->nsvc ? a->svc[p->service].name : "";
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
