// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics sink: exchanges in, Prometheus series out (the families of
 * docs/metrics.md that describe calls: HTTP server and client, Redis and
 * cache regions, PostgreSQL statements, Kafka records and lag).
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "export/metrics.h"
#include "proto/http.h"
#include "proto/kafka.h"
#include "proto/postgres.h"
#include "proto/redis.h"
#include "proto/route.h"
#include "sinks/metrics_sink.h"
#include "span.h"

#define CACHES_MAX 50   /* distinct `cache` label values; more are "other" */
#define COMMANDS_MAX 100 /* distinct Redis `command` label values; more are "OTHER" */
#define LAGS_MAX 512    /* (service, topic, partition) consumer positions followed */

/* The last cache region a service's reads went to, and its series (NULL until needed). */
struct region_cache {
	const char *region; /* NULL: none */
	size_t len;
	bool prefix; /* region is the key prefix before the first ':' (no configured pattern) */
	struct metric_series *hit, *miss;
};

struct service {
	char *name;
	char *k8s[METRICS_K8S_LABELS]; /* --k8s-labels values ("" none) */
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

struct metrics_sink {
	struct metrics *m;
	bool k8s_labels; /* families with `service` carry k8s_namespace, k8s_pod, ... */
	int64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for exemplar times */
	const struct config *cfg;
	const struct route_patterns *routes;
	int max_routes;
	struct service *svc;
	int nsvc;
	struct lag lags[LAGS_MAX];
	int nlags;

	struct metric_family *http_server;
	struct metric_family *http_client;
	struct metric_family *cache_gets;
	struct metric_family *redis_cmds;
	struct metric_family *db_query;
	struct metric_family *db_errors;
	struct metric_family *kafka_sent, *kafka_send_errors, *kafka_produce_seconds;
	struct metric_family *kafka_consumed, *kafka_lag, *kafka_lag_max, *kafka_commit_seconds;

	struct http_series_slot http_series[HTTP_SERIES_CACHE];
	struct route_cache_slot route_cache[ROUTE_CACHE];
};

/*
 * --k8s-labels: a family's label names with k8s_namespace, k8s_pod,
 * k8s_container and k8s_node after them, into out (a label array of the
 * caller's). Every series' values end with K8S_VALUES(service): a family
 * without them reads only its own.
 */
static int k8s_labels(const struct metrics_sink *a, const char *const *base, int n,
		      const char **out)
{
	static const char *const k8s[METRICS_K8S_LABELS] = { "k8s_namespace", "k8s_pod",
							     "k8s_container", "k8s_node" };

	memcpy(out, base, (size_t)n * sizeof(*out));
	if (!a->k8s_labels)
		return n;
	memcpy(out + n, k8s, sizeof(k8s));
	return n + METRICS_K8S_LABELS;
}
#define K8S_LABELS(base, n) lb, k8s_labels(a, base, n, lb)
#define K8S_VALUES(svc) (svc)->k8s[0], (svc)->k8s[1], (svc)->k8s[2], (svc)->k8s[3]

static void service_free(struct service *s);

static int register_kafka_metrics(struct metrics_sink *a, struct metrics *m)
{
	const char *lb[METRIC_LABELS_MAX];
	static const char *const svc_topic[] = { "service", "topic" };
	static const char *const svc[] = { "service" };
	static const char *const lag_labels[] = { "service", "topic", "partition" };

	a->kafka_sent = metrics__counter(m, "kafka_producer_record_send_total",
					 "Records the observed process produced, acknowledged without "
					 "error (from the record batch headers)",
					 K8S_LABELS(svc_topic, 2));
	a->kafka_send_errors = metrics__counter(m, "kafka_producer_record_error_total",
						"Records whose Produce partition response carried an "
						"error code",
						K8S_LABELS(svc_topic, 2));
	a->kafka_produce_seconds = metrics__histogram(m, "kafka_producer_request_seconds",
						      "Produce requests, sent to response read",
						      K8S_LABELS(svc, 1), agent_latency_buckets, 13);
	a->kafka_consumed = metrics__counter(m, "kafka_consumer_records_consumed_total",
					     "Records received in Fetch responses", K8S_LABELS(svc_topic, 2));
	a->kafka_lag = metrics__gauge(m, "kafka_consumer_records_lag",
				      "High watermark minus the consumer's position (its last "
				      "commit, else where its fetches reached)",
				      K8S_LABELS(lag_labels, 3));
	a->kafka_lag_max = metrics__gauge(m, "kafka_consumer_records_lag_max",
					  "The largest kafka_consumer_records_lag of the service", svc,
					  1);
	a->kafka_commit_seconds = metrics__histogram(m, "kafka_consumer_commit_latency_seconds",
						     "OffsetCommit requests, sent to response read",
						     K8S_LABELS(svc, 1), agent_latency_buckets, 13);
	return a->kafka_sent && a->kafka_send_errors && a->kafka_produce_seconds &&
			       a->kafka_consumed && a->kafka_lag && a->kafka_lag_max &&
			       a->kafka_commit_seconds
		       ? 0
		       : -1;
}

static int register_data_metrics(struct metrics_sink *a, struct metrics *m)
{
	static const char *const cache_labels[] = { "service", "cache", "result" };
	static const char *const redis_labels[] = { "service", "command", "outcome" };
	static const char *const db_labels[] = { "service", "db", "operation", "table", "outcome" };
	static const char *const dberr_labels[] = { "service", "db", "operation", "sqlstate_class" };
	const char *lb[METRIC_LABELS_MAX];

	a->cache_gets = metrics__counter(
		m, "cache_gets_total",
		"Redis reads of cached values (GET, MGET, HGET, ...) by key region: a nil reply is "
		"a miss",
		K8S_LABELS(cache_labels, 3));
	a->redis_cmds = metrics__histogram(m, "redis_commands_seconds",
					   "Redis commands of the observed process, command written "
					   "to reply read",
					   K8S_LABELS(redis_labels, 3), agent_latency_buckets, 13);
	a->db_query = metrics__histogram(m, "database_query_duration_seconds",
					 "PostgreSQL statements of the observed process, sent to "
					 "completion (CommandComplete or ErrorResponse)",
					 K8S_LABELS(db_labels, 5), agent_latency_buckets, 13);
	a->db_errors = metrics__counter(m, "database_query_errors_total",
					"PostgreSQL statements that failed, by SQLSTATE class",
					K8S_LABELS(dberr_labels, 4));
	if (!a->cache_gets || !a->redis_cmds || !a->db_query || !a->db_errors)
		return -1;
	return register_kafka_metrics(a, m);
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
static struct metric_series *http_server_series(struct metrics_sink *a, uint32_t service,
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
		const char *v[] = { a->svc[service].name, method, uri, st, http_outcome(status),
				    K8S_VALUES(&a->svc[service]) };
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
static const char *http_uri(struct metrics_sink *a, uint32_t service, const char *target)
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

static double span_seconds(uint64_t begin, uint64_t end)
{
	return end > begin ? (end - begin) / 1e9 : 0;
}

/*
 * The cache region of a key: the first configured pattern that matches it,
 * else the prefix before the first ':' ("products::42" and "products:42" are
 * both "products"), else "other". At most CACHES_MAX regions per service.
 */
static const char *cache_region(struct metrics_sink *a, const struct service *svc, const char *key,
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
/*
 * The trace of a sampled exchange, as an exemplar: ids in hex and the end's
 * wall time. Exemplars are only rendered in the OpenMetrics format.
 */
struct ex {
	char trace[33], span[17];
	double ts;
};

static bool exemplar_of(const struct metrics_sink *a, const struct exchange *x, struct ex *e)
{
	if (!(x->ctx.flags & TRACE_SAMPLED) || !x->ctx.span_id)
		return false;
	span_trace_hex(x->ctx.trace_id, e->trace);
	span_id_hex(x->ctx.span_id, e->span);
	e->ts = (double)((int64_t)x->end_ns + a->wall_offset_ns) / 1e9;
	return true;
}

/* One observation, with its exemplar when the exchange was sampled. */
static void observe(const struct metrics_sink *a, struct metric_series *s, double v,
		    const struct exchange *x)
{
	struct ex e;

	if (exemplar_of(a, x, &e))
		metric__series_observe_ex(s, v, e.trace, e.span, e.ts);
	else
		metric__series_observe_n(s, v, 1);
}

/*
 * Consecutive observations of one series with one value: recorded as one
 * (the last sampled exchange of the run gives the exemplar).
 */
struct obs_run {
	struct metric_series *s;
	double v;
	uint64_t n;
	bool has_ex;
	struct ex ex;
};

static void obs_run_flush(struct obs_run *r)
{
	if (!r->n)
		return;
	if (r->has_ex) {
		metric__series_observe_ex(r->s, r->v, r->ex.trace, r->ex.span, r->ex.ts);
		if (r->n > 1)
			metric__series_observe_n(r->s, r->v, r->n - 1);
	} else {
		metric__series_observe_n(r->s, r->v, r->n);
	}
	r->n = 0;
	r->has_ex = false;
}

static void obs_run_add(const struct metrics_sink *a, struct obs_run *r, struct metric_series *s,
			double v, const struct exchange *x)
{
	if (!(r->n && r->s == s && r->v == v))
		obs_run_flush(r);
	r->s = s;
	r->v = v;
	r->n++;
	if (exemplar_of(a, x, &r->ex))
		r->has_ex = true;
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
static struct metric_series *redis_series(struct metrics_sink *a, struct service *svc,
					  const struct exchange *x)
{
	unsigned id = x->redis.command_id, e = x->error ? 1 : 0;
	struct metric_series *s;
	const char *cmd = id ? svc->cmd_label[id] : NULL;

	if (id && svc->cmd_series[2 * id + e])
		return svc->cmd_series[2 * id + e];
	if (!cmd) {
		cmd = route_set__admit(svc->commands, x->operation);
		if (!strcmp(cmd, ROUTE_OVERFLOW))
			cmd = "OTHER";
		else if (id)
			svc->cmd_label[id] = cmd; /* admitted for good */
	}
	{
		const char *v[] = { svc->name, cmd, e ? "ERROR" : "SUCCESS", K8S_VALUES(svc) };

		s = metric__series(a->redis_cmds, v);
	}
	if (id && s && cmd == svc->cmd_label[id])
		svc->cmd_series[2 * id + e] = s;
	return s;
}

/* The cache region of a read's key, and the region cache of svc set to it. */
static struct region_cache *redis_region(struct metrics_sink *a, struct service *svc, const char *key)
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

static struct metric_series *region_series(struct metrics_sink *a, const struct service *svc,
					   struct region_cache *rc, bool hit)
{
	struct metric_series **sp = hit ? &rc->hit : &rc->miss;

	if (!*sp) {
		const char *v[] = { svc->name, rc->region, hit ? "hit" : "miss", K8S_VALUES(svc) };

		*sp = metric__series(a->cache_gets, v);
	}
	return *sp;
}

static struct lag *lag_of(struct metrics_sink *a, uint32_t service, const char *topic, int32_t part)
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
static void lag_update(struct metrics_sink *a, const struct lag *l)
{
	const struct service *svc = &a->svc[l->service];
	int64_t pos = l->committed >= 0 ? l->committed : l->fetched;
	double max = 0;
	char part[16];

	if (l->high_watermark < 0 || pos < 0)
		return;
	snprintf(part, sizeof(part), "%d", l->partition);
	{
		const char *v[] = { svc->name, l->topic, part, K8S_VALUES(svc) };
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
		const char *v[] = { svc->name, K8S_VALUES(svc) };

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


static void record_http(struct metrics_sink *a, const struct exchange *x)
{
	const struct service *svc = &a->svc[x->service];
	char status[12], peer[64];
	const char *uri;
	double secs;

	/*
	 * A status line written is an exchange, whatever its request was (its
	 * labels say what could be read of it). No status: a response that began
	 * in bytes we never saw.
	 */
	if (x->status <= 0)
		return;
	uri = http_uri(a, x->service, x->target);
	secs = span_seconds(x->start_ns, x->end_ns);
	if (x->kind == EXCHANGE_SERVER) {
		struct metric_series *s =
			http_server_series(a, x->service, x->operation, uri, x->status);

		if (s)
			observe(a, s, secs, x);
	} else {
		const char *v[] = { svc->name, x->operation, uri, status, http_outcome(x->status),
				    peer, K8S_VALUES(svc) };

		format_status(x->status, status);
		peer_label(x->tuple, peer, sizeof(peer));
		observe(a, metric__series(a->http_client, v), secs, x);
	}
}

/*
 * The Redis exchanges of one feed. Pipelined commands come in runs of the
 * same command, outcome and duration (written in one syscall, answered in
 * one): such a run is one observation of weight n. Series are looked up
 * (created) in exchange order, as one update per exchange would.
 */
static void record_redis(struct metrics_sink *a, const struct exchange *x, size_t n)
{
	struct obs_run cmds = { 0 };
	struct add_run hits = { 0 }, misses = { 0 };
	struct service *svc = &a->svc[x->service];

	for (size_t i = 0; i < n; i++, x++) {
		struct metric_series *s;
		struct region_cache *rc;
		uint32_t h = 0, m = 0;

		if (!x->operation[0] || x->proto != EXCHANGE_REDIS)
			continue;
		s = redis_series(a, svc, x);
		if (s)
			obs_run_add(a, &cmds, s, span_seconds(x->start_ns, x->end_ns), x);
		if (x->error || !x->target[0] || !(x->redis.flags & REDIS_CMD_CACHE_READ))
			continue;
		/* MGET/HMGET answer one element per key: each nil is a miss. */
		if (x->redis.elements && (x->redis.flags & REDIS_CMD_MULTI_READ)) {
			m = x->redis.nil_elements;
			h = x->redis.elements - x->redis.nil_elements;
		} else if (x->redis.nil) {
			m = 1;
		} else {
			h = 1;
		}
		rc = redis_region(a, svc, x->target);
		if (h && (s = region_series(a, svc, rc, true)))
			add_run_add(&hits, s, h);
		if (m && (s = region_series(a, svc, rc, false)))
			add_run_add(&misses, s, m);
	}
	obs_run_flush(&cmds);
	add_run_flush(&hits);
	add_run_flush(&misses);
}

static void record_pg(struct metrics_sink *a, const struct exchange *x)
{
	const struct service *svc = &a->svc[x->service];
	const char *db, *table, *op;

	db = x->pg.db[0] ? x->pg.db : "unknown";
	table = x->target[0] ? x->target : "none";
	op = x->operation[0] ? x->operation : "OTHER";
	{
		const char *v[] = { svc->name, db, op, table, x->error ? "ERROR" : "SUCCESS",
				    K8S_VALUES(svc) };

		observe(a, metric__series(a->db_query, v), span_seconds(x->start_ns, x->end_ns), x);
	}
	if (x->error) {
		const char *st = x->error_code;
		char cls[3] = { st[0] ? st[0] : '?', st[0] && st[1] ? st[1] : '?', 0 };
		const char *v[] = { svc->name, db, op, cls, K8S_VALUES(svc) };

		metric__add(a->db_errors, v, 1);
	}
}

static void record_kafka(struct metrics_sink *a, const struct exchange *x)
{
	const struct service *svc = &a->svc[x->service];
	double secs = span_seconds(x->start_ns, x->end_ns);

	for (uint32_t i = 0; i < x->kafka.nparts; i++) {
		const struct exchange_part *p = &x->kafka.parts[i];
		const char *v[] = { svc->name, p->topic, K8S_VALUES(svc) };
		struct lag *l;

		if (!p->topic[0])
			continue;
		switch (x->kafka.api_key) {
		case KAFKA_API_PRODUCE:
			metric__add(p->error_code ? a->kafka_send_errors : a->kafka_sent, v,
				    p->records);
			/* Both series of a topic exist from its first Produce (errors at 0). */
			metric__add(p->error_code ? a->kafka_sent : a->kafka_send_errors, v, 0);
			break;
		case KAFKA_API_FETCH:
			if (p->error_code)
				break;
			l = lag_of(a, x->service, p->topic, p->partition);
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
			l = x->kafka.error_code ? NULL : lag_of(a, x->service, p->topic, p->partition);
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
		const char *v[] = { svc->name, K8S_VALUES(svc) };

		if (x->kafka.api_key == KAFKA_API_PRODUCE)
			metric__observe(a->kafka_produce_seconds, v, secs);
		else if (x->kafka.api_key == KAFKA_API_OFFSET_COMMIT)
			metric__observe(a->kafka_commit_seconds, v, secs);
	}
}

/* The exchanges of one feed: one connection, so one service and one protocol. */
void metrics_sink__put(void *ctx, const struct exchange *x, size_t n)
{
	struct metrics_sink *a = ctx;

	if (!n || x->service >= (uint32_t)a->nsvc)
		return;
	metrics__lock(a->m);
	switch (x->proto) {
	case EXCHANGE_HTTP:
		for (size_t i = 0; i < n; i++)
			record_http(a, &x[i]);
		break;
	case EXCHANGE_REDIS:
		record_redis(a, x, n);
		break;
	case EXCHANGE_PG:
		for (size_t i = 0; i < n; i++)
			record_pg(a, &x[i]);
		break;
	case EXCHANGE_KAFKA:
		for (size_t i = 0; i < n; i++)
			record_kafka(a, &x[i]);
		break;
	}
	metrics__unlock(a->m);
}

struct metrics_sink *metrics_sink__new(struct metrics *m, const struct config *cfg)
{
	static const char *const server_labels[] = { "service", "method", "uri", "status",
						     "outcome" };
	static const char *const client_labels[] = { "service", "method", "uri",
						     "status",	"outcome", "peer" };
	struct metrics_sink *a = calloc(1, sizeof(*a));
	const char *lb[METRIC_LABELS_MAX];

	if (!a)
		return NULL;
	a->m = m;
	a->k8s_labels = cfg && cfg->k8s_labels;
	a->cfg = cfg;
	a->wall_offset_ns = span_clock_offset_ns();
	a->routes = cfg ? &cfg->routes : NULL;
	a->max_routes = cfg && cfg->max_routes > 0 ? cfg->max_routes : 200;
	a->http_server = metrics__histogram(
		m, "http_server_requests_seconds",
		"Duration of HTTP requests served by the observed process, first request byte read "
		"to last response byte written",
		K8S_LABELS(server_labels, 5), agent_latency_buckets, 13);
	a->http_client = metrics__histogram(
		m, "http_client_requests_seconds",
		"Duration of HTTP requests made by the observed process, request written to last "
		"response byte read",
		K8S_LABELS(client_labels, 6), agent_latency_buckets, 13);
	if (!a->http_server || !a->http_client || register_data_metrics(a, m)) {
		metrics_sink__free(a);
		return NULL;
	}
	return a;
}

void metrics_sink__free(struct metrics_sink *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->nsvc; i++)
		service_free(&a->svc[i]);
	free(a->svc);
	free(a);
}

static bool same_k8s(const struct service *s, const char *const *k8s)
{
	for (int i = 0; i < METRICS_K8S_LABELS; i++)
		if (strcmp(s->k8s[i], k8s ? k8s[i] : ""))
			return false;
	return true;
}

static void service_free(struct service *s)
{
	free(s->name);
	for (int i = 0; i < METRICS_K8S_LABELS; i++)
		free(s->k8s[i]);
	route_set__free(s->routes);
	route_set__free(s->caches);
	route_set__free(s->commands);
	free(s->cmd_label);
	free(s->cmd_series);
}

int metrics_sink__add_service(struct metrics_sink *a, const char *name, const char *const *k8s)
{
	struct service *ns;
	bool k8s_ok = true;

	for (int i = 0; i < a->nsvc; i++)
		if (!strcmp(a->svc[i].name, name) && same_k8s(&a->svc[i], k8s))
			return i;
	ns = realloc(a->svc, (a->nsvc + 1) * sizeof(*ns));
	if (!ns)
		return -1;
	a->svc = ns;
	memset(&ns[a->nsvc], 0, sizeof(ns[a->nsvc]));
	for (int i = 0; i < METRICS_K8S_LABELS; i++)
		k8s_ok = (ns[a->nsvc].k8s[i] = strdup(k8s ? k8s[i] : "")) && k8s_ok;
	ns[a->nsvc].name = strdup(name);
	ns[a->nsvc].routes = route_set__new(a->max_routes);
	ns[a->nsvc].caches = route_set__new(CACHES_MAX);
	ns[a->nsvc].commands = route_set__new(COMMANDS_MAX);
	ns[a->nsvc].cmd_label = calloc(redis_command_count() + 1, sizeof(char *));
	ns[a->nsvc].cmd_series = calloc(2 * (redis_command_count() + 1), sizeof(void *));
	if (!k8s_ok || !ns[a->nsvc].name || !ns[a->nsvc].routes || !ns[a->nsvc].caches ||
	    !ns[a->nsvc].commands || !ns[a->nsvc].cmd_label || !ns[a->nsvc].cmd_series) {
		service_free(&ns[a->nsvc]);
		return -1;
	}
	return a->nsvc++;
}
