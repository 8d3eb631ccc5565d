// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Shared rate-limit counts (ratelimit_redis.h). Redis layout, one sorted set
 * per (rule, client):
 *
 *   sonde:rl:<rule id>:<client>   member "<node>:<admission ns>", score = wall ms
 *   sonde:rl:active               member = such a key, score = its last push (ms)
 *
 * A member names one admission of one instance, so pushing it again is a
 * no-op: each sync pushes the admissions of the last sync period and a margin,
 * and none is lost to a race with the kernel writing it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include <linux/bpf.h>

#include "export/metrics.h"
#include "ratelimit_redis.h"
#include "ticker.h"
#include "sonde.h"
#include "sonde_ratelimit.h"

#define SYNC_NS 200000000ULL      /* a sync every 200 ms */
#define MARGIN_NS 100000000ULL    /* admissions pushed again: a race costs nothing */
#define TIMEOUT_MS 150            /* one Redis round trip, connecting included */
#define KEYS_MAX 8192             /* the kernel maps' size */
#define ACTIVE "sonde:rl:active"

struct rl_sync {
	struct ticker ticker;
	pthread_mutex_t lock; /* the rules: set by the main thread, read by the ticker's */
	char host[256];
	int port;
	int state_fd, times_fd, remote_fd;
	char node[64];
	redisContext *rc;
	struct rl_sync_rule rules[RL_RULES_MAX];
	int nrules;
	uint64_t last_push_ns; /* CLOCK_MONOTONIC */
	struct metric_family *errors;
	/* One sync's keys (scratch, thread only). */
	struct entry {
		struct rl_key key;
		uint32_t local; /* this instance's admissions in the window */
		uint64_t window_ns;
		unsigned limit;
		int pushed;     /* ZADD commands appended for it */
	} *keys;
	int nkeys;
	struct rl_key *remote_keys; /* written to rl_remote by the last sync */
	int nremote;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void key_name(char *out, size_t outsz, const struct rl_key *k)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(k->family == SONDE_AF_INET6 ? AF_INET6 : AF_INET, k->addr, a, sizeof(a));
	snprintf(out, outsz, "sonde:rl:%08x:%s", k->rule_id, a);
}

static int key_parse(const char *s, struct rl_key *k)
{
	char a[INET6_ADDRSTRLEN + 1];
	unsigned id;

	memset(k, 0, sizeof(*k));
	if (sscanf(s, "sonde:rl:%8x:%46s", &id, a) != 2)
		return -1;
	k->rule_id = id;
	if (inet_pton(AF_INET, a, k->addr) == 1)
		k->family = SONDE_AF_INET;
	else if (inet_pton(AF_INET6, a, k->addr) == 1)
		k->family = SONDE_AF_INET6;
	else
		return -1;
	return 0;
}

static const struct rl_sync_rule *rule_of(struct rl_sync *s, uint32_t id)
{
	for (int i = 0; i < s->nrules; i++)
		if (s->rules[i].id == id)
			return &s->rules[i];
	return NULL;
}

/* Forget what the others admitted: this instance limits alone. */
static void clear_remote(struct rl_sync *s)
{
	for (int i = 0; i < s->nremote; i++)
		bpf_map_delete_elem(s->remote_fd, &s->remote_keys[i]);
	s->nremote = 0;
}

static void failed(struct rl_sync *s)
{
	metric__add(s->errors, NULL, 1);
	clear_remote(s);
	if (s->rc) {
		redisFree(s->rc);
		s->rc = NULL;
	}
}

/* Read this instance's logs: what to push, and how many are in each window. */
static void read_local(struct rl_sync *s, uint64_t mono, uint64_t wall_ms, uint64_t since)
{
	struct rl_key k, next;
	void *prev = NULL;

	s->nkeys = 0;
	while (s->nkeys < KEYS_MAX && !bpf_map_get_next_key(s->state_fd, prev, &next)) {
		const struct rl_sync_rule *r;
		struct entry *e = &s->keys[s->nkeys];
		struct rl_times t;
		struct rl_log l;
		char name[96];

		k = next;
		prev = &k;
		pthread_mutex_lock(&s->lock);
		r = rule_of(s, k.rule_id);
		e->window_ns = r ? r->window_ns : 0;
		e->limit = r ? r->limit : 0;
		pthread_mutex_unlock(&s->lock);
		if (!e->window_ns || bpf_map_lookup_elem(s->state_fd, &k, &l) ||
		    bpf_map_lookup_elem(s->times_fd, &k, &t))
			continue;
		e->key = k;
		e->local = 0;
		e->pushed = 0;
		key_name(name, sizeof(name), &k);
		for (uint32_t i = 0; i < l.n && i < RL_LIMIT_MAX; i++) {
			uint64_t ts = t.ts[i];

			if (!ts || ts > mono || mono - ts >= e->window_ns)
				continue;
			e->local++;
			if (ts + MARGIN_NS > since) {
				redisAppendCommand(s->rc, "ZADD %s %llu %s:%llu", name,
						   (unsigned long long)(wall_ms - (mono - ts) / 1000000),
						   s->node, (unsigned long long)ts);
				e->pushed++;
			}
		}
		if (e->pushed) {
			redisAppendCommand(s->rc, "PEXPIRE %s %llu", name,
					   (unsigned long long)(2 * e->window_ns / 1000000 + 1000));
			redisAppendCommand(s->rc, "ZADD " ACTIVE " %llu %s",
					   (unsigned long long)wall_ms, name);
			e->pushed += 2;
		}
		s->nkeys++;
	}
}

static int drain(struct rl_sync *s, int n)
{
	for (int i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(s->rc, (void **)&r) != REDIS_OK)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

static uint32_t local_of(struct rl_sync *s, const struct rl_key *k)
{
	for (int i = 0; i < s->nkeys; i++)
		if (!memcmp(&s->keys[i].key, k, sizeof(*k)))
			return s->keys[i].local;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct rl_key));
}

/*
 * The others' counts into rl_remote: new values first, then the keys of the
 * last sync that have none now are deleted (never a moment without them).
 */
static void write_remote(struct rl_sync *s, struct rl_key *keys, const uint32_t *remote, int n)
{
	int kept = 0;

	for (int i = 0; i < n; i++)
		bpf_map_update_elem(s->remote_fd, &keys[i], &remote[i], BPF_ANY);
	qsort(keys, (size_t)n, sizeof(*keys), key_cmp);
	for (int i = 0; i < s->nremote; i++)
		if (!bsearch(&s->remote_keys[i], keys, (size_t)n, sizeof(*keys), key_cmp))
			bpf_map_delete_elem(s->remote_fd, &s->remote_keys[i]);
	for (int i = 0; i < n; i++)
		s->remote_keys[kept++] = keys[i];
	s->nremote = kept;
}

static int sync_once(struct rl_sync *s)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), wall_ms = clock_ns(CLOCK_REALTIME) / 1000000;
	uint64_t max_window = 0;
	redisReply *active = NULL;
	struct rl_key *pull = NULL;
	uint32_t *remote = NULL;
	int appended = 0, npull = 0, nremote = 0, ret = -1;

	if (!s->rc) {
		struct timeval tv = { 0, TIMEOUT_MS * 1000 };

		s->rc = redisConnectWithTimeout(s->host, s->port, tv);
		if (!s->rc || s->rc->err || redisSetTimeout(s->rc, tv) != REDIS_OK)
			return -1;
	}
	read_local(s, mono, wall_ms, s->last_push_ns);
	for (int i = 0; i < s->nkeys; i++)
		appended += s->keys[i].pushed;
	if (drain(s, appended))
		return -1;
	s->last_push_ns = mono;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nrules; i++)
		if (s->rules[i].window_ns > max_window)
			max_window = s->rules[i].window_ns;
	pthread_mutex_unlock(&s->lock);
	/* Every (rule, client) any instance pushed within the longest window. */
	active = redisCommand(s->rc, "ZRANGEBYSCORE " ACTIVE " %llu +inf LIMIT 0 %d",
			      (unsigned long long)(wall_ms - max_window / 1000000), KEYS_MAX);
	pull = calloc(KEYS_MAX, sizeof(*pull));
	remote = calloc(KEYS_MAX, sizeof(*remote));
	if (!active || active->type != REDIS_REPLY_ARRAY || !pull || !remote)
		goto out;
	redisAppendCommand(s->rc, "ZREMRANGEBYSCORE " ACTIVE " -inf (%llu",
			   (unsigned long long)(wall_ms - max_window / 1000000));
	for (size_t i = 0; i < active->elements && npull < KEYS_MAX; i++) {
		const struct rl_sync_rule *r;
		uint64_t window;

		if (active->element[i]->type != REDIS_REPLY_STRING ||
		    key_parse(active->element[i]->str, &pull[npull]))
			continue;
		pthread_mutex_lock(&s->lock);
		r = rule_of(s, pull[npull].rule_id);
		window = r ? r->window_ns : 0;
		pthread_mutex_unlock(&s->lock);
		if (!window)
			continue;
		redisAppendCommand(s->rc, "ZCOUNT %s (%llu +inf", active->element[i]->str,
				   (unsigned long long)(wall_ms - window / 1000000));
		npull++;
	}
	if (drain(s, 1))
		goto out;
	for (int i = 0; i < npull; i++) {
		redisReply *c;
		uint32_t local = local_of(s, &pull[i]);

		if (redisGetReply(s->rc, (void **)&c) != REDIS_OK)
			goto out;
		if (c->type == REDIS_REPLY_INTEGER && c->integer > local) {
			pull[nremote] = pull[i];
			remote[nremote++] = (uint32_t)(c->integer - local);
		}
		freeReplyObject(c);
	}
	write_remote(s, pull, remote, nremote);
	ret = 0;
out:
	freeReplyObject(active);
	free(pull);
	free(remote);
	return ret;
}

static void tick(void *p)
{
	struct rl_sync *s = p;

	if (sync_once(s))
		failed(s);
}

struct rl_sync *rl_sync__start(const char *hostport, int state_fd, int times_fd, int remote_fd,
			       struct metrics *m)
{
	struct rl_sync *s = calloc(1, sizeof(*s));
	const char *colon = strrchr(hostport, ':');
	char host[256];

	if (!s || !colon || (size_t)(colon - hostport) >= sizeof(s->host))
		goto fail;
	memcpy(s->host, hostport, (size_t)(colon - hostport));
	s->port = atoi(colon + 1);
	s->state_fd = state_fd;
	s->times_fd = times_fd;
	s->remote_fd = remote_fd;
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "node");
	host[sizeof(host) - 1] = '\0';
	snprintf(s->node, sizeof(s->node), "%.40s-%d", host, (int)getpid());
	s->keys = calloc(KEYS_MAX, sizeof(*s->keys));
	s->remote_keys = calloc(KEYS_MAX, sizeof(*s->remote_keys));
	s->errors = metrics__counter(m, "sonde_ratelimit_sync_errors_total",
				     "Syncs of rate-limit counts with Redis that failed "
				     "(--ratelimit-redis): each instance limits alone until one "
				     "succeeds",
				     NULL, 0);
	if (!s->keys || !s->remote_keys || !s->errors)
		goto fail;
	metric__add(s->errors, NULL, 0);
	pthread_mutex_init(&s->lock, NULL);
	if (ticker_start(&s->ticker, SYNC_NS, tick, s)) {
		pthread_mutex_destroy(&s->lock);
		goto fail;
	}
	return s;
fail:
	if (s) {
		free(s->keys);
		free(s->remote_keys);
		free(s);
	}
	errno = ENOMEM;
	return NULL;
}

void rl_sync__set_rules(struct rl_sync *s, const struct rl_sync_rule *r, int n)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->nrules = n < RL_RULES_MAX ? n : RL_RULES_MAX;
	memcpy(s->rules, r, sizeof(*r) * (size_t)s->nrules);
	pthread_mutex_unlock(&s->lock);
}

void rl_sync__stop(struct rl_sync *s)
{
	if (!s)
		return;
	ticker_stop(&s->ticker);
	if (s->rc)
		redisFree(s->rc);
	pthread_mutex_destroy(&s->lock);
	free(s->keys);
	free(s->remote_keys);
	free(s);
}
