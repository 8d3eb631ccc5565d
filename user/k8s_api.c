// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "export/metrics.h"
#include "k8s_api.h"

#define LIST_MAX ((size_t)64 << 20) /* a PodList body */
#define LINE_MAX_ ((size_t)4 << 20) /* one watch event */
#define WATCH_SECONDS 290	    /* the server ends each watch after this; sonde resumes it */

struct k8s_api {
	char url[256], token_file[256], ca_file[256];
	char *node; /* URL-escaped */
	pthread_t thread;
	atomic_bool stop;

	pthread_mutex_t mu; /* pods, npods, synced */
	pthread_cond_t cv;
	bool synced;
	struct k8s_api_pod *pods;
	int npods;

	/* The thread's own. */
	char rv[128];
	bool relist;
	char *buf;
	size_t len, cap;
	struct k8s_api_pod *next; /* a list being read */
	int nnext;
	bool first_error;

	struct metric_family *m_pods, *m_events, *m_errors;
};

static void sleep_ms(struct k8s_api *a, int ms)
{
	struct timespec t = {0, 50 * 1000000L};

	for (int i = 0; i < ms / 50 && !atomic_load(&a->stop); i++)
		nanosleep(&t, NULL);
}

static int find(const struct k8s_api *a, const char *uid)
{
	for (int i = 0; i < a->npods; i++)
		if (!strcmp(a->pods[i].uid, uid))
			return i;
	return -1;
}

static void api_error(struct k8s_api *a, const char *what, long code)
{
	metric__add(a->m_errors, NULL, 1);
	if (!a->first_error) {
		fprintf(stderr,
			"sonde: the Kubernetes API (%s): %s%.0ld (pods are named from the "
			"node's files until it answers)\n",
			a->url, what, code);
		a->first_error = true;
	}
}

static bool append(struct k8s_api *a, const char *p, size_t n, size_t max)
{
	if (a->len + n > max)
		return false;
	if (a->len + n + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 65536;
		char *b;

		while (cap < a->len + n + 1)
			cap *= 2;
		if (!(b = realloc(a->buf, cap)))
			return false;
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
	a->buf[a->len] = '\0';
	return true;
}

static size_t on_list(char *p, size_t size, size_t n, void *ctx)
{
	struct k8s_api *a = ctx;

	return append(a, p, size * n, LIST_MAX) ? size * n : 0;
}

static void on_event(struct k8s_api *a, const char *line, size_t n)
{
	struct k8s_api_pod pod;
	char rv[sizeof(a->rv)];
	int type = k8s_watch_event(line, n, &pod, rv, sizeof(rv)), i;

	if (type < 0) {
		api_error(a, "an unreadable watch event", 0);
		return;
	}
	metric__add(a->m_events, NULL, 1);
	if (type == K8S_ERROR) {
		a->relist = true; /* 410 Gone: the resourceVersion is too old */
		return;
	}
	if (rv[0])
		snprintf(a->rv, sizeof(a->rv), "%s", rv);
	if (type == K8S_BOOKMARK)
		return;
	pthread_mutex_lock(&a->mu);
	i = find(a, pod.uid);
	if (type == K8S_DELETED) {
		if (i >= 0)
			a->pods[i] = a->pods[--a->npods];
	} else if (i >= 0) {
		a->pods[i] = pod;
	} else if (a->npods < K8S_API_PODS) {
		a->pods[a->npods++] = pod;
	}
	metric__set(a->m_pods, NULL, a->npods);
	pthread_mutex_unlock(&a->mu);
}

static size_t on_watch(char *p, size_t size, size_t n, void *ctx)
{
	struct k8s_api *a = ctx;
	size_t start = 0;
	char *nl;

	if (!append(a, p, size * n, LINE_MAX_))
		return 0;
	while (!a->relist && (nl = memchr(a->buf + start, '\n', a->len - start))) {
		on_event(a, a->buf + start, (size_t)(nl - a->buf - start));
		start = (size_t)(nl - a->buf) + 1;
	}
	memmove(a->buf, a->buf + start, a->len - start);
	a->len -= start;
	return a->relist ? 0 : size * n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct k8s_api *a = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&a->stop) ? 1 : 0;
}

/* GET path with the token; 0 when the server answered 200 in full. */
static int get(struct k8s_api *a, CURL *c, const char *query, bool watch)
{
	char url[1024], auth[8192 + 32], token[8192];
	struct curl_slist *h = NULL;
	FILE *f = fopen(a->token_file, "r");
	size_t tn = f ? fread(token, 1, sizeof(token) - 1, f) : 0;
	long code = 0;
	CURLcode rc;

	if (f)
		fclose(f);
	while (tn && (token[tn - 1] == '\n' || token[tn - 1] == '\r' || token[tn - 1] == ' '))
		tn--;
	token[tn] = '\0';
	snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s", a->url,
		 a->node, query);
	if (tn) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, watch ? (long)WATCH_SECONDS + 30 : 60L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch ? on_watch : on_list);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (!access(a->ca_file, R_OK))
		curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_file);
	a->len = 0;
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	memset(token, 0, sizeof(token));
	memset(auth, 0, sizeof(auth));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (atomic_load(&a->stop) || (watch && a->relist))
		return -1;
	if (rc != CURLE_OK && !(watch && rc == CURLE_OPERATION_TIMEDOUT && code == 200)) {
		api_error(a, curl_easy_strerror(rc), 0);
		return -1;
	}
	if (code != 200) {
		api_error(a, "HTTP ", code);
		return -1;
	}
	return 0;
}

static void on_listed(void *ctx, const struct k8s_api_pod *p)
{
	struct k8s_api *a = ctx;

	if (a->nnext < K8S_API_PODS)
		a->next[a->nnext++] = *p;
}

/* The node's pods, all at once: 0 when listed. */
static int list(struct k8s_api *a, CURL *c)
{
	a->nnext = 0;
	if (get(a, c, "", false))
		return -1;
	if (k8s_pod_list(a->buf, a->len, on_listed, a, a->rv, sizeof(a->rv)) || !a->rv[0]) {
		api_error(a, "not a PodList", 0);
		return -1;
	}
	pthread_mutex_lock(&a->mu);
	memcpy(a->pods, a->next, (size_t)a->nnext * sizeof(*a->pods));
	a->npods = a->nnext;
	a->synced = true;
	metric__set(a->m_pods, NULL, a->npods);
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	a->relist = false;
	return 0;
}

static void *run(void *arg)
{
	struct k8s_api *a = arg;
	CURL *c = curl_easy_init();
	int backoff = 500;

	while (c && !atomic_load(&a->stop)) {
		char q[256];

		if ((a->relist || !a->rv[0]) && list(a, c)) {
			sleep_ms(a, backoff);
			backoff = backoff < 30000 ? backoff * 2 : 30000;
			continue;
		}
		snprintf(q, sizeof(q),
			 "&watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
			 WATCH_SECONDS, a->rv);
		if (get(a, c, q, true) && !a->relist) {
			sleep_ms(a, backoff);
			backoff = backoff < 30000 ? backoff * 2 : 30000;
			a->relist = true; /* what happened meanwhile is not known */
			continue;
		}
		backoff = 500;
	}
	curl_easy_cleanup(c);
	return NULL;
}

struct k8s_api *k8s_api__start(const char *url, const char *node, const char *token_file,
			       const char *ca_file, struct metrics *m, int wait_ms, char *err,
			       size_t errsz)
{
	struct k8s_api *a = calloc(1, sizeof(*a));
	struct timespec until;
	int e;

	if (!a || !(a->pods = calloc(K8S_API_PODS, sizeof(*a->pods))) ||
	    !(a->next = calloc(K8S_API_PODS, sizeof(*a->next))) ||
	    !(a->node = curl_easy_escape(NULL, node, 0))) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	snprintf(a->url, sizeof(a->url), "%s", url);
	while (strlen(a->url) > 8 && a->url[strlen(a->url) - 1] == '/')
		a->url[strlen(a->url) - 1] = '\0';
	snprintf(a->token_file, sizeof(a->token_file), "%s", token_file);
	snprintf(a->ca_file, sizeof(a->ca_file), "%s", ca_file);
	a->m_pods =
	    metrics__gauge(m, "sonde_k8s_api_pods",
			   "Pods of this node known from the Kubernetes API's watch", NULL, 0);
	a->m_events = metrics__counter(m, "sonde_k8s_api_events_total",
				       "Watch events read from the Kubernetes API", NULL, 0);
	a->m_errors = metrics__counter(m, "sonde_k8s_api_errors_total",
				       "Failed lists and watches of the Kubernetes API (refused, "
				       "timed out, not 200, unreadable), and unreadable events",
				       NULL, 0);
	if (!a->m_pods || !a->m_events || !a->m_errors) {
		snprintf(err, errsz, "cannot register its metrics");
		goto fail;
	}
	metric__add(a->m_events, NULL, 0);
	metric__add(a->m_errors, NULL, 0);
	metric__set(a->m_pods, NULL, 0);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if ((e = pthread_create(&a->thread, NULL, run, a))) {
		snprintf(err, errsz, "cannot start its thread: %s", strerror(e));
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->mu);
	while (!a->synced && pthread_cond_timedwait(&a->cv, &a->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->mu);
	return a;
fail:
	if (a) {
		curl_free(a->node);
		free(a->pods);
		free(a->next);
		free(a);
	}
	return NULL;
}

void k8s_api__stop(struct k8s_api *a)
{
	if (!a)
		return;
	atomic_store(&a->stop, true);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	curl_free(a->node);
	free(a->pods);
	free(a->next);
	free(a->buf);
	free(a);
}

int k8s_api__pod(struct k8s_api *a, const char *uid, const char *container_id, struct k8s_pod *out,
		 char *workload, size_t wsz)
{
	int i, rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&a->mu);
	if ((i = find(a, uid)) >= 0) {
		const struct k8s_api_pod *p = &a->pods[i];

		snprintf(out->name, sizeof(out->name), "%s", p->name);
		snprintf(out->namespace_, sizeof(out->namespace_), "%s", p->namespace_);
		for (int j = 0; j < p->ncontainers; j++)
			if (p->ncontainers == 1 ||
			    (container_id[0] && !strcmp(p->containers[j].id, container_id)))
				snprintf(out->container, sizeof(out->container), "%s",
					 p->containers[j].name);
		snprintf(workload, wsz, "%s", p->workload[0] ? p->workload : p->name);
		rc = 0;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}
