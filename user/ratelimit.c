// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "config.h"
#include "export/metrics.h"
#include "loader.h"
#include "ratelimit.h"
#include "ratelimit_redis.h"
#include "ratelimit.skel.h"
#include "rules.h"
#include "sonde_ratelimit.h"

_Static_assert(CONFIG_RATE_LIMITS_MAX == RL_RULES_MAX, "rules: one limit");
_Static_assert(RULES_MAX == RL_RULES_MAX, "rules: one limit");
_Static_assert(RULES_LIMIT_MAX == RL_LIMIT_MAX, "rules: one limit");
_Static_assert(CONFIG_MATCH_MAX == RULES_MATCH_MAX, "rules: one limit");

#define TARGETS_MAX 64
#define PORTS_MAX 256
#define PORTS_EVERY_NS 1000000000ULL
#define SWEEP_EVERY_NS 10000000000ULL
#define SERIES_MAX 512

/* rate_limit_requests_total's totals of rules no longer in the kernel (reloads). */
struct series {
	int slot;
	char match[CONFIG_MATCH_MAX];
	uint64_t base[2]; /* by enum rl_result */
};

struct ratelimit {
	struct ratelimit_bpf *skel;
	struct bpf_link *sockops;
	int cgroup_fd;
	bool verdict_attached;
	struct ring_buffer *events;
	struct rl_sync *sync; /* --ratelimit-redis, else NULL */
	ratelimit_limited_fn on_limited;
	void *ctx;
	int ncpus;
	pthread_mutex_t lock; /* rules, services, series: the metrics thread reads them */
	struct metric_family *requests, *skipped;

	int half; /* the rules in use */
	int nrules[2];
	struct config_rate_limit rules[2][RL_RULES_MAX];

	int ntargets;
	struct {
		pid_t pid;
		int slot;
	} targets[TARGETS_MAX];
	int nservices;
	char services[RL_SERVICES_MAX][CONFIG_NAME_MAX];
	int nports;
	struct {
		uint32_t port;
		uint8_t slot;
	} ports[PORTS_MAX];
	int nseries;
	struct series series[SERIES_MAX];
	unsigned long long last_ports, last_sweep;
};

/* Sum of a per-CPU counter. */
static uint64_t percpu_sum(struct ratelimit *rl, int fd, uint32_t idx)
{
	return loader_percpu_sum(fd, idx, rl->ncpus);
}

static void percpu_zero(struct ratelimit *rl, int fd, uint32_t idx)
{
	uint64_t v[rl->ncpus];

	memset(v, 0, sizeof(v));
	bpf_map_update_elem(fd, &idx, v, BPF_ANY);
}

static uint32_t count_idx(int slot, int rule, int result)
{
	return (uint32_t)(((slot * 2 * RL_RULES_MAX) + rule) * 2 + result);
}

static struct series *series_of(struct ratelimit *rl, int slot, const char *match)
{
	for (int i = 0; i < rl->nseries; i++)
		if (rl->series[i].slot == slot && !strcmp(rl->series[i].match, match))
			return &rl->series[i];
	if (rl->nseries == SERIES_MAX)
		return NULL;
	rl->series[rl->nseries].slot = slot;
	snprintf(rl->series[rl->nseries].match, sizeof(rl->series[0].match), "%s", match);
	memset(rl->series[rl->nseries].base, 0, sizeof(rl->series[0].base));
	return &rl->series[rl->nseries++];
}

/* The metrics thread: the kernel's counts, plus what earlier rule sets counted. */
static void collect(void *p)
{
	static const char *const reasons[RL_SKIP__MAX] = { "split", "not_http", "chunked",
							   "too_long", "map_full", "pipelined" };
	static const char *const results[2] = { "allowed", "limited" };
	struct ratelimit *rl = p;
	int counts = bpf_map__fd(rl->skel->maps.rl_counts);
	int skips = bpf_map__fd(rl->skel->maps.rl_skips);

	pthread_mutex_lock(&rl->lock);
	for (int s = 0; s < rl->nservices; s++)
		for (int i = 0; i < rl->nrules[rl->half]; i++) {
			const char *match = rl->rules[rl->half][i].match;
			struct series *se = series_of(rl, s, match);

			for (int r = 0; r < 2; r++) {
				const char *v[] = { rl->services[s], match, results[r] };
				uint64_t n = percpu_sum(rl, counts,
							count_idx(s, rl->half * RL_RULES_MAX + i, r));

				metric__set(rl->requests, v, (double)(n + (se ? se->base[r] : 0)));
			}
		}
	for (int k = 0; k < RL_SKIP__MAX; k++) {
		const char *v[] = { reasons[k] };

		metric__set(rl->skipped, v, (double)percpu_sum(rl, skips, (uint32_t)k));
	}
	pthread_mutex_unlock(&rl->lock);
}

/* Compile rules into half h of the kernel's tables. */
static int write_rules(struct ratelimit *rl, int h, const struct config *cfg, char *err,
		       size_t errsz)
{
	const char *matches[RL_RULES_MAX];
	uint16_t *next = calloc((size_t)RL_DFA_STATES * 256, sizeof(uint16_t));
	uint8_t *accept = calloc(RL_DFA_STATES, 1);
	int dfa = bpf_map__fd(rl->skel->maps.rl_dfa);
	int acc = bpf_map__fd(rl->skel->maps.rl_accept);
	int rules = bpf_map__fd(rl->skel->maps.rl_rules);
	int n = cfg->nrate_limits, states, ret = -1;

	if (!next || !accept) {
		snprintf(err, errsz, "rate_limits: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		matches[i] = cfg->rate_limits[i].match;
	states = rules_compile(matches, n, next, accept, RL_DFA_STATES, err, errsz);
	if (states < 0)
		goto out;
	for (int s = 0; s < states; s++) {
		uint32_t k = (uint32_t)(h * RL_DFA_STATES + s);
		struct rl_row row;
		uint8_t a = accept[s] ? (uint8_t)(h * RL_RULES_MAX + accept[s]) : 0;

		for (int b = 0; b < 256; b++)
			row.next[b] = (uint16_t)(h * RL_DFA_STATES + next[(size_t)s * 256 + b]);
		if (bpf_map_update_elem(dfa, &k, &row, BPF_ANY) ||
		    bpf_map_update_elem(acc, &k, &a, BPF_ANY)) {
			snprintf(err, errsz, "rate_limits: writing the matcher: %s", strerror(errno));
			goto out;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct config_rate_limit *c = &cfg->rate_limits[i];
		struct rl_rule r = { .window_ns = c->window_ns, .limit = c->limit,
				     .id = rules_id(c->match, c->limit, c->window_ns) };
		uint32_t k = (uint32_t)(h * RL_RULES_MAX + i);

		if (bpf_map_update_elem(rules, &k, &r, BPF_ANY)) {
			snprintf(err, errsz, "rate_limits: writing rule %d: %s", i, strerror(errno));
			goto out;
		}
	}
	rl->nrules[h] = n;
	memcpy(rl->rules[h], cfg->rate_limits, sizeof(cfg->rate_limits[0]) * (size_t)n);
	ret = 0;
out:
	free(next);
	free(accept);
	return ret;
}

/* The trusted proxies, replacing those in the kernel's table. */
static int write_proxies(struct ratelimit *rl, const struct config *cfg)
{
	int fd = bpf_map__fd(rl->skel->maps.rl_trusted);
	struct rl_prefix k, next;
	uint8_t one = 1;

	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		k = next;
		if (bpf_map_delete_elem(fd, &k))
			break;
	}
	for (int i = 0; i < cfg->nproxies; i++) {
		memset(&k, 0, sizeof(k));
		k.prefixlen = 8u + cfg->proxies[i].bits;
		k.family = cfg->proxies[i].family == 4 ? SONDE_AF_INET : SONDE_AF_INET6;
		memcpy(k.addr, cfg->proxies[i].addr, 16);
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
			return -1;
	}
	return 0;
}

static int fill_response(struct ratelimit *rl)
{
	static const char head[] = RL_RESP_HEAD, tail[] = RL_RESP_TAIL;
	size_t sz = (sizeof(struct rl_resp) + 7) & ~(size_t)7;
	uint8_t *v = calloc((size_t)rl->ncpus, sz);
	uint32_t zero = 0;
	int err;

	if (!v)
		return -ENOMEM;
	for (int c = 0; c < rl->ncpus; c++) {
		uint8_t *b = v + (size_t)c * sz;

		memcpy(b, head, sizeof(head) - 1);
		memset(b + RL_RETRY_AT, ' ', RL_RETRY_DIGITS);
		memcpy(b + RL_RETRY_AT + RL_RETRY_DIGITS, tail, sizeof(tail) - 1);
	}
	err = bpf_map_update_elem(bpf_map__fd(rl->skel->maps.rl_resp), &zero, v, BPF_ANY);
	free(v);
	return err;
}

/* The rules in force, for the Redis sync. */
static void sync_rules(struct ratelimit *rl, const struct config *cfg)
{
	struct rl_sync_rule r[RL_RULES_MAX];

	for (int i = 0; i < cfg->nrate_limits; i++) {
		const struct config_rate_limit *c = &cfg->rate_limits[i];

		r[i] = (struct rl_sync_rule){ rules_id(c->match, c->limit, c->window_ns), c->limit,
					      c->window_ns };
	}
	rl_sync__set_rules(rl->sync, r, cfg->nrate_limits);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ratelimit *rl = ctx;
	const struct rl_event *ev = data;
	int h = ev->rule / RL_RULES_MAX, i = ev->rule % RL_RULES_MAX;
	const struct config_rate_limit *r;
	struct limited_request l;

	if (size < sizeof(*ev) || i >= rl->nrules[h] || ev->slot >= rl->nservices ||
	    !rl->on_limited)
		return 0;
	r = &rl->rules[h][i];
	l = (struct limited_request){
		.service_name = rl->services[ev->slot],
		.ts_ns = ev->ts_ns,
		.family = ev->family,
		.addr = ev->addr,
		.port = ev->port,
		.match = r->match,
		.limit = r->limit,
		.window_ns = r->window_ns,
		.retry_after = ev->retry_after,
	};
	rl->on_limited(rl->ctx, &l);
	return 0;
}

struct ratelimit *ratelimit__start(const struct config *cfg, struct metrics *m,
				   ratelimit_limited_fn on_limited, void *ctx, char *err,
				   size_t errsz)
{
	static const char *const labels[] = { "service", "rule", "result" };
	static const char *const reason[] = { "reason" };
	struct ratelimit *rl;
	int e;

	err[0] = '\0';
	if (!cfg->nrate_limits)
		return NULL;
	rl = calloc(1, sizeof(*rl));
	if (!rl) {
		snprintf(err, errsz, "rate_limits: out of memory");
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	rl->cgroup_fd = -1;
	rl->on_limited = on_limited;
	rl->ctx = ctx;
	rl->ncpus = libbpf_num_possible_cpus();
	rl->skel = ratelimit_bpf__open_and_load();
	if (rl->ncpus <= 0 || !rl->skel) {
		snprintf(err, errsz, "rate_limits: the kernel refused the rate-limit programs (%s)",
			 strerror(errno));
		goto fail;
	}
	if (fill_response(rl) || write_proxies(rl, cfg)) {
		snprintf(err, errsz, "rate_limits: writing the kernel's tables: %s", strerror(errno));
		goto fail;
	}
	if (write_rules(rl, 0, cfg, err, errsz))
		goto fail;
	rl->skel->bss->rl_half = 0;
	if (bpf_prog_attach(bpf_program__fd(rl->skel->progs.sonde_rl_verdict),
			    bpf_map__fd(rl->skel->maps.rl_socks), BPF_SK_SKB_VERDICT, 0)) {
		snprintf(err, errsz, "rate_limits: cannot attach the sk_skb verdict program: %s",
			 strerror(errno));
		goto fail;
	}
	rl->verdict_attached = true;
	rl->cgroup_fd = loader_cgroup2_root();
	if (rl->cgroup_fd < 0) {
		snprintf(err, errsz, "rate_limits: no cgroup v2 hierarchy mounted (/proc/mounts)");
		goto fail;
	}
	rl->sockops = bpf_program__attach_cgroup(rl->skel->progs.sonde_rl_sockops, rl->cgroup_fd);
	if (!rl->sockops) {
		snprintf(err, errsz, "rate_limits: cannot attach the sockops program: %s",
			 strerror(errno));
		goto fail;
	}
	rl->events = ring_buffer__new(bpf_map__fd(rl->skel->maps.rl_events), on_event, rl, NULL);
	if (cfg->ratelimit_redis[0]) {
		rl->sync = rl_sync__start(cfg->ratelimit_redis, bpf_map__fd(rl->skel->maps.rl_state),
					  bpf_map__fd(rl->skel->maps.rl_times),
					  bpf_map__fd(rl->skel->maps.rl_remote), m);
		if (!rl->sync) {
			snprintf(err, errsz, "--ratelimit-redis: cannot start: %s", strerror(errno));
			goto fail;
		}
		sync_rules(rl, cfg);
	}
	rl->requests = metrics__counter(m, "rate_limit_requests_total",
					"Requests that matched a rate-limit rule, by result: allowed "
					"(passed to the server) or limited (answered 429 by the kernel)",
					labels, 3);
	rl->skipped = metrics__counter(m, "sonde_ratelimit_skipped_total",
				       "Requests on limited ports the kernel could not match, allowed: "
				       "by reason",
				       reason, 1);
	if (!rl->events || !rl->requests || !rl->skipped || metrics__add_collector(m, collect, rl)) {
		snprintf(err, errsz, "rate_limits: out of memory");
		goto fail;
	}
	return rl;
fail:
	e = errno;
	ratelimit__free(rl);
	errno = e;
	return NULL;
}

void ratelimit__free(struct ratelimit *rl)
{
	if (!rl)
		return;
	rl_sync__stop(rl->sync);
	ring_buffer__free(rl->events);
	bpf_link__destroy(rl->sockops);
	if (rl->verdict_attached)
		bpf_prog_detach2(bpf_program__fd(rl->skel->progs.sonde_rl_verdict),
				 bpf_map__fd(rl->skel->maps.rl_socks), BPF_SK_SKB_VERDICT);
	if (rl->cgroup_fd >= 0)
		close(rl->cgroup_fd);
	ratelimit_bpf__destroy(rl->skel);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

int ratelimit__add_target(struct ratelimit *rl, pid_t pid, const char *service)
{
	int slot = -1;

	if (!rl)
		return 0;
	pthread_mutex_lock(&rl->lock);
	for (int i = 0; i < rl->nservices; i++)
		if (!strcmp(rl->services[i], service))
			slot = i;
	if (slot < 0 && rl->nservices < RL_SERVICES_MAX) {
		slot = rl->nservices++;
		snprintf(rl->services[slot], sizeof(rl->services[0]), "%s", service);
	}
	pthread_mutex_unlock(&rl->lock);
	if (slot < 0 || rl->ntargets == TARGETS_MAX)
		return -1;
	rl->targets[rl->ntargets].pid = pid;
	rl->targets[rl->ntargets++].slot = slot;
	rl->last_ports = 0; /* now */
	return 0;
}

/* Inodes of pid's sockets, sorted; returns how many (at most max). */
static int socket_inodes(pid_t pid, unsigned long *ino, int max)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char fp[384];
		ssize_t l;

		snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
		l = readlink(fp, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

/* Add the TCP ports pid listens on (in its network namespace) to out[]. */
static int listening_ports(pid_t pid, uint32_t *out, int n, int max)
{
	static unsigned long ino[4096];
	int nino = socket_inodes(pid, ino, 4096);

	for (int v6 = 0; v6 < 2 && nino; v6++) {
		char path[64], line[512];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/tcp%s", pid, v6 ? "6" : "");
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned port, st;
			unsigned long inode;
			bool dup = false;

			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x "
					 "%*u %*u %lu",
				   &port, &st, &inode) != 3 ||
			    st != 0x0A)
				continue;
			for (int i = 0; i < n; i++)
				dup |= out[i] == port;
			for (int i = 0; i < nino && !dup && n < max; i++)
				if (ino[i] == inode) {
					out[n++] = port;
					break;
				}
		}
		fclose(f);
	}
	return n;
}

/* The limited ports: those the targets listen on now. */
static void refresh_ports(struct ratelimit *rl)
{
	int fd = bpf_map__fd(rl->skel->maps.rl_ports);
	uint32_t now[PORTS_MAX];
	uint8_t slot_of[PORTS_MAX];
	int n = 0;

	for (int t = 0; t < rl->ntargets; t++) {
		int before = n;

		n = listening_ports(rl->targets[t].pid, now, n, PORTS_MAX);
		for (int i = before; i < n; i++)
			slot_of[i] = (uint8_t)rl->targets[t].slot;
	}
	for (int i = 0; i < rl->nports; i++) { /* gone */
		bool kept = false;

		for (int j = 0; j < n && !kept; j++)
			kept = now[j] == rl->ports[i].port;
		if (!kept)
			bpf_map_delete_elem(fd, &rl->ports[i].port);
	}
	for (int j = 0; j < n; j++) {
		uint8_t v = slot_of[j] + 1;

		bpf_map_update_elem(fd, &now[j], &v, BPF_ANY);
		rl->ports[j].port = now[j];
		rl->ports[j].slot = slot_of[j];
	}
	rl->nports = n;
}

/* Forget clients whose last admission left its rule's window (and rules gone). */
static void sweep(struct ratelimit *rl, unsigned long long now)
{
	int fd = bpf_map__fd(rl->skel->maps.rl_state);
	int times = bpf_map__fd(rl->skel->maps.rl_times);
	struct rl_key k, next, dead[256];
	struct rl_times t;
	struct rl_log v;
	int ndead = 0;
	void *prev = NULL;

	while (ndead < 256 && !bpf_map_get_next_key(fd, prev, &next)) {
		unsigned long long window = 0;

		k = next;
		prev = &k;
		for (int i = 0; i < rl->nrules[rl->half]; i++) {
			const struct config_rate_limit *r = &rl->rules[rl->half][i];

			if (rules_id(r->match, r->limit, r->window_ns) == k.rule_id)
				window = r->window_ns;
		}
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (window && v.n && v.limit && !bpf_map_lookup_elem(times, &k, &t)) {
			uint32_t last = (v.pos + v.limit - 1) % v.limit;

			if (t.ts[last % RL_LIMIT_MAX] + window > now)
				continue;
		}
		dead[ndead++] = k;
	}
	for (int i = 0; i < ndead; i++) {
		bpf_map_delete_elem(fd, &dead[i]);
		bpf_map_delete_elem(times, &dead[i]);
	}
}

void ratelimit__poll(struct ratelimit *rl, unsigned long long now)
{
	if (!rl)
		return;
	ring_buffer__consume(rl->events);
	if (now - rl->last_ports >= PORTS_EVERY_NS) {
		rl->last_ports = now;
		refresh_ports(rl);
	}
	if (now - rl->last_sweep >= SWEEP_EVERY_NS) {
		rl->last_sweep = now;
		sweep(rl, now);
	}
}

int ratelimit__reload(struct ratelimit *rl, const struct config *cfg, char *err, size_t errsz)
{
	int old, counts;

	if (!rl)
		return 0;
	old = rl->half;
	if (write_rules(rl, 1 - old, cfg, err, errsz))
		return -1;
	if (write_proxies(rl, cfg)) {
		snprintf(err, errsz, "trusted_proxies: %s", strerror(errno));
		return -1;
	}
	sync_rules(rl, cfg);
	__atomic_store_n(&rl->skel->bss->rl_half, (uint32_t)(1 - old), __ATOMIC_SEQ_CST);
	/* The old half's counts go to their series, and its counters back to 0. */
	counts = bpf_map__fd(rl->skel->maps.rl_counts);
	pthread_mutex_lock(&rl->lock);
	for (int s = 0; s < rl->nservices; s++)
		for (int i = 0; i < rl->nrules[old]; i++) {
			struct series *se = series_of(rl, s, rl->rules[old][i].match);

			for (int r = 0; r < 2; r++) {
				uint32_t idx = count_idx(s, old * RL_RULES_MAX + i, r);

				if (se)
					se->base[r] += percpu_sum(rl, counts, idx);
				percpu_zero(rl, counts, idx);
			}
		}
	rl->half = 1 - old;
	pthread_mutex_unlock(&rl->lock);
	return 0;
}
