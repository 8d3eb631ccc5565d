// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Zipkin HTTP exporter's send: encode a batch, POST it with libcurl,
 * classify the answer. Runs only on the span queue's sender thread, so the
 * curl handles and the body buffer need no lock. One easy handle inside one
 * multi handle: the connection is kept alive between batches, and the
 * transfer is driven in short polls so that stop can cut a slow request short
 * (span_queue__cancelled) instead of waiting out its timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "export/span_queue.h"
#include "export/zipkin.h"
#include "export/zipkin_http.h"

#define DEF_TIMEOUT_MS 5000
#define POLL_MS 100 /* how late a cancelled request notices: stop's budget is 2 s */
#define THREAD_NAME "sonde-zipkin"

#ifndef SONDE_VERSION
#define SONDE_VERSION "dev"
#endif

struct zipkin_http {
	struct span_queue *q;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	struct zbuf body; /* reused: grows to the largest batch, bounded by batch_max */
	char *url;
	bool failing; /* the last request failed: log state changes, not every retry */
	int (*encode)(struct zbuf *b, const struct span *s, size_t n);
	const char *what;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not safe to race with other threads' curl calls: once, before any. */
static void curl_global(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The body of the answer is of no use to us; without this curl writes it to stdout. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

static bool url_ok(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	bool ok;

	if (!u)
		return false;
	ok = url && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	     !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	     (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"));
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

/*
 * Run the request to completion, or until stop's budget is spent. Returns
 * curl's result; CURLE_ABORTED_BY_CALLBACK when cancelled.
 */
static CURLcode perform(struct zipkin_http *z, struct span_queue *q)
{
	CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, left;
	CURLMsg *m;

	z->errbuf[0] = '\0';
	if (curl_multi_add_handle(z->multi, z->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running && !span_queue__cancelled(q)) {
		if (curl_multi_perform(z->multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(z->multi, NULL, 0, POLL_MS, NULL);
	}
	while ((m = curl_multi_info_read(z->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			rc = m->data.result;
	curl_multi_remove_handle(z->multi, z->easy);
	return rc;
}

static enum span_send_res classify(CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		return SPAN_SEND_RETRY; /* refused, reset, timed out: the receiver may come back */
	if (status >= 200 && status < 300)
		return SPAN_SEND_OK;
	if (status == 408 || status == 429 || status >= 500)
		return SPAN_SEND_RETRY;
	return SPAN_SEND_DROP;
}

/* One line when exporting starts failing and one when it recovers, not one per request. */
static void report(struct zipkin_http *z, CURLcode rc, long status, enum span_send_res res)
{
	if (res == SPAN_SEND_OK) {
		if (z->failing)
			fprintf(stderr, "sonde: %s: %s: exporting again\n", z->what, z->url);
		z->failing = false;
		return;
	}
	if (z->failing)
		return;
	z->failing = true;
	if (rc != CURLE_OK)
		fprintf(stderr, "sonde: %s: %s: %s (retrying)\n", z->what, z->url,
			z->errbuf[0] ? z->errbuf : curl_easy_strerror(rc));
	else
		fprintf(stderr, "sonde: %s: %s: HTTP %ld (%s)\n", z->what, z->url, status,
			res == SPAN_SEND_DROP ? "spans dropped, not retried" : "retrying");
}

static enum span_send_res zipkin_send(void *ctx, struct span_queue *q, const struct span *s,
				      size_t n)
{
	struct zipkin_http *z = ctx;
	enum span_send_res res;
	long status = 0;
	CURLcode rc;

	z->body.len = 0;
	z->body.oom = false;
	if (z->encode(&z->body, s, n) < 0 || z->body.oom) {
		fprintf(stderr, "sonde: %s: out of memory encoding %zu spans\n", z->what, n);
		return SPAN_SEND_DROP;
	}
	curl_easy_setopt(z->easy, CURLOPT_POSTFIELDS, z->body.p);
	curl_easy_setopt(z->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)z->body.len);
	rc = perform(z, q);
	if (span_queue__cancelled(q))
		return SPAN_SEND_RETRY; /* stop counts what is lost; nothing to report */
	if (rc == CURLE_OK)
		curl_easy_getinfo(z->easy, CURLINFO_RESPONSE_CODE, &status);
	res = classify(rc, status);
	report(z, rc, status, res);
	return res;
}

static int curl_setup(struct zipkin_http *z, unsigned int timeout_ms, const char *ctype)
{
	struct curl_slist *h;
	char ct[128];

	z->multi = curl_multi_init();
	z->easy = curl_easy_init();
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	h = curl_slist_append(NULL, ct);
	/* No "Expect: 100-continue": it would cost a round trip, or a 1 s wait
	 * on receivers that ignore it, for every body over 1 KiB. */
	if (h)
		z->headers = curl_slist_append(h, "Expect:");
	if (!z->multi || !z->easy || !z->headers) {
		if (!z->headers)
			curl_slist_free_all(h);
		return -ENOMEM;
	}
	curl_easy_setopt(z->easy, CURLOPT_URL, z->url);
	curl_easy_setopt(z->easy, CURLOPT_HTTPHEADER, z->headers);
	curl_easy_setopt(z->easy, CURLOPT_USERAGENT, "sonde/" SONDE_VERSION);
	curl_easy_setopt(z->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	/* Threaded: never SIGALRM for DNS timeouts. */
	curl_easy_setopt(z->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(z->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(z->easy, CURLOPT_ERRORBUFFER, z->errbuf);
	return 0;
}

static void zipkin_free(struct zipkin_http *z)
{
	if (z->easy)
		curl_easy_cleanup(z->easy);
	if (z->multi)
		curl_multi_cleanup(z->multi);
	curl_slist_free_all(z->headers);
	free(z->body.p);
	free(z->url);
	free(z);
}

struct zipkin_http *zipkin_http__start(const char *url, const struct zipkin_http_opts *o)
{
	struct zipkin_http_opts opts = {};
	struct zipkin_http *z;
	int err;

	if (o)
		opts = *o;
	if (!opts.timeout_ms)
		opts.timeout_ms = DEF_TIMEOUT_MS;
	if (!opts.queue.name)
		opts.queue.name = THREAD_NAME;
	if (!opts.encode)
		opts.encode = zipkin_list_json;
	if (!opts.content_type)
		opts.content_type = "application/json";
	if (!opts.what)
		opts.what = "zipkin";
	pthread_once(&curl_once, curl_global);
	if (curl_init_rc != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	if (!url_ok(url)) {
		errno = EINVAL;
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->url = strdup(url);
	z->encode = opts.encode;
	z->what = opts.what;
	err = z->url ? curl_setup(z, opts.timeout_ms, opts.content_type) : -ENOMEM;
	if (err)
		goto err_free;
	z->q = span_queue__start(&opts.queue, zipkin_send, z);
	if (!z->q) {
		err = -errno;
		goto err_free;
	}
	return z;

err_free:
	zipkin_free(z);
	errno = -err;
	return NULL;
}

void zipkin_http__stop(struct zipkin_http *z)
{
	struct span_queue_stats st;

	if (!z)
		return;
	span_queue__stop(z->q); /* joins the sender: the curl handles are ours again */
	span_queue__stats(z->q, &st);
	if (st.dropped_stopped)
		fprintf(stderr, "sonde: %s: %s: stopped with %llu spans unsent\n", z->what, z->url,
			(unsigned long long)st.dropped_stopped);
	span_queue__free(z->q);
	zipkin_free(z);
}

size_t zipkin_http__submit(struct zipkin_http *z, const struct span *s, size_t n)
{
	return span_queue__submit(z->q, s, n);
}

void zipkin_http__put(void *ctx, const struct span *s, size_t n)
{
	zipkin_http__submit(ctx, s, n);
}

void zipkin_http__stats(const struct zipkin_http *z, struct span_queue_stats *st)
{
	span_queue__stats(z->q, st);
}
