// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <snappy-c.h>
#include <zlib.h>

#include "export/byte_ring.h"
#include "export/log_json.h"
#include "export/otlp.h"
#include "export/log_http.h"

#define BATCH_BYTES (1u << 20) /* a push carries at most this much of lines */
#define FLUSH_MS 1000
#define RETRIES 3
#define BACKOFF_MS 250
#define STOP_MS 2000
#define TIMEOUT_MS 5000
#define ENTRIES_MAX 16384 /* lines per push */

struct log_http {
	char *url;
	enum log_http_format format;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	uint64_t stop_by;   /* monotonic ms: the sender gives up then */
	char *ring;
	size_t cap, head, tail;
	struct log_http_stats st;

	struct zbuf enc;    /* capture thread: the line being queued */
	/* Sender thread only. */
	CURL *easy;
	struct curl_slist *headers;
	char *batch;        /* records taken out of the ring */
	struct loki_entry *entries;
	struct zbuf body, gz; /* the request, and its gzip (JSON form) */
	char *snap;
	size_t snap_cap;
	bool failing;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- protobuf, the few wire types a PushRequest needs ---- */

static void pb_varint(struct zbuf *b, uint64_t v)
{
	char p[10];
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (char)v;
	zbuf_put(b, p, n);
}

static void pb_bytes(struct zbuf *b, unsigned field, const char *p, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	zbuf_put(b, p, n);
}

static void pb_uint(struct zbuf *b, unsigned field, uint64_t v)
{
	if (!v)
		return; /* proto3: zero is the default, not written */
	pb_varint(b, (uint64_t)field << 3 | 0);
	pb_varint(b, v);
}

/* logproto: PushRequest{streams=1: Stream{labels=1, entries=2: Entry{timestamp=1, line=2}}}. */
void loki_push_request(struct zbuf *b, const struct loki_entry *e, size_t n)
{
	struct zbuf stream = { 0 }, entry = { 0 }, ts = { 0 };
	bool *done = calloc(n ? n : 1, sizeof(*done));

	if (!done) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		zbuf_reset(&stream);
		pb_bytes(&stream, 1, e[i].labels, strlen(e[i].labels));
		for (size_t k = i; k < n; k++) {
			if (done[k] || strcmp(e[k].labels, e[i].labels))
				continue;
			done[k] = true;
			zbuf_reset(&ts);
			pb_uint(&ts, 1, e[k].ts_ns / 1000000000ULL);
			pb_uint(&ts, 2, e[k].ts_ns % 1000000000ULL);
			zbuf_reset(&entry);
			pb_bytes(&entry, 1, ts.p ? ts.p : "", ts.len);
			pb_bytes(&entry, 2, e[k].line, e[k].len);
			pb_bytes(&stream, 2, entry.p, entry.len);
		}
		pb_bytes(b, 1, stream.p, stream.len);
		if (stream.oom || entry.oom || ts.oom)
			b->oom = true;
	}
	free(done);
	zbuf_free(&stream);
	zbuf_free(&entry);
	zbuf_free(&ts);
}

/*
 * The JSON push body: {"streams":[{"stream":{...},"values":[["<ns>","<line>"],...]},...]},
 * one stream per label set, entries in order. Timestamps are nanosecond strings.
 */
void loki_push_json(struct zbuf *b, const struct loki_entry *e, size_t n)
{
	bool *done = calloc(n ? n : 1, sizeof(*done));
	bool first_stream = true;
	char ts[24];

	if (!done) {
		b->oom = true;
		return;
	}
	zbuf_puts(b, "{\"streams\":[");
	for (size_t i = 0; i < n; i++) {
		bool first = true;

		if (done[i])
			continue;
		if (!first_stream)
			zbuf_put(b, ",", 1);
		first_stream = false;
		zbuf_puts(b, "{\"stream\":");
		zbuf_puts(b, e[i].labels);
		zbuf_puts(b, ",\"values\":[");
		for (size_t k = i; k < n; k++) {
			if (done[k] || strcmp(e[k].labels, e[i].labels))
				continue;
			done[k] = true;
			if (!first)
				zbuf_put(b, ",", 1);
			first = false;
			zbuf_put(b, ts, snprintf(ts, sizeof(ts), "[\"%llu\",", (unsigned long long)e[k].ts_ns));
			zipkin_json_str(b, e[k].line, e[k].len);
			zbuf_put(b, "]", 1);
		}
		zbuf_puts(b, "]}");
	}
	zbuf_puts(b, "]}");
	free(done);
}

int gzip_buf(struct zbuf *out, const char *p, size_t n)
{
	z_stream z = { 0 };
	size_t room;
	int rc;

	zbuf_reset(out);
	/* 15 + 16: a gzip header and trailer around the deflate stream; level 1: cheap. */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	room = deflateBound(&z, n) + 32;
	if (room > out->cap) {
		char *q = realloc(out->p, room);

		if (!q) {
			deflateEnd(&z);
			return -1;
		}
		out->p = q;
		out->cap = room;
	}
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->p;
	z.avail_out = (uInt)room;
	rc = deflate(&z, Z_FINISH);
	out->len = room - z.avail_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* A label value, escaped as Prometheus/LogQL label values are. */
static size_t label_value(char *out, size_t room, const char *v)
{
	size_t n = 0;

	for (; *v && n + 2 < room; v++) {
		if (*v == '"' || *v == '\\')
			out[n++] = '\\';
		out[n++] = *v == '\n' ? ' ' : *v;
	}
	out[n] = '\0';
	return n;
}

/* {"service":"..","environment":"..","level":".."}: the JSON form's stream. */
static void loki_labels_json(const struct log_record *r, char *out, size_t outsz)
{
	struct zbuf b = { 0 };

	zbuf_puts(&b, "{\"service\":");
	zipkin_json_str(&b, r->service ? r->service : "", 127);
	if (r->environment && r->environment[0]) {
		zbuf_puts(&b, ",\"environment\":");
		zipkin_json_str(&b, r->environment, 127);
	}
	zbuf_puts(&b, ",\"level\":\"");
	zbuf_puts(&b, log_level_name(r->level));
	zbuf_puts(&b, "\"}");
	snprintf(out, outsz, "%s", b.oom || !b.p ? "{}" : b.p);
	zbuf_free(&b);
}

void loki_labels(const struct log_record *r, bool json, char *out, size_t outsz)
{
	char svc[128], env[128];

	if (json) {
		loki_labels_json(r, out, outsz);
		return;
	}
	label_value(svc, sizeof(svc), r->service ? r->service : "");
	label_value(env, sizeof(env), r->environment ? r->environment : "");
	if (env[0])
		snprintf(out, outsz, "{service=\"%s\", environment=\"%s\", level=\"%s\"}", svc, env,
			 log_level_name(r->level));
	else
		snprintf(out, outsz, "{service=\"%s\", level=\"%s\"}", svc, log_level_name(r->level));
}

/* ---- the queue ---- */

/* A record in the ring: u32 size (all of it), u64 ts, u16 labels length, labels, line. */
#define REC_HDR 14

void log_http__out(void *ctx, const struct log_record *r)
{
	struct log_http *l = ctx;
	char labels[320];
	size_t ll, n;
	char hdr[REC_HDR];
	uint32_t size;

	zbuf_reset(&l->enc);
	if (l->format == LOG_HTTP_OTLP) {
		otlp_log_record_json(&l->enc, r, labels, sizeof(labels));
	} else {
		log_json_line(&l->enc, r);
		if (l->enc.len)
			l->enc.len--; /* its '\n': Loki's entries are lines already */
		loki_labels(r, l->format == LOG_HTTP_LOKI_JSON, labels, sizeof(labels));
	}
	if (l->enc.oom || !l->enc.len)
		return;
	ll = strlen(labels) + 1; /* with its NUL: the sender uses it in place */
	n = REC_HDR + ll + l->enc.len;
	size = (uint32_t)n;
	memcpy(hdr, &size, 4);
	memcpy(hdr + 4, &r->time_ns, 8);
	hdr[12] = (char)(ll & 0xff);
	hdr[13] = (char)(ll >> 8);
	pthread_mutex_lock(&l->mu);
	if (l->stop || n > BATCH_BYTES || l->cap - (l->head - l->tail) < n) {
		l->st.dropped_full++;
		pthread_mutex_unlock(&l->mu);
		return;
	}
	for (int part = 0; part < 3; part++) {
		const char *src = part == 0 ? hdr : part == 1 ? labels : l->enc.p;
		size_t len = part == 0 ? REC_HDR : part == 1 ? ll : l->enc.len;

		byte_ring_put(l->ring, l->cap, l->head, src, len);
		l->head += len;
	}
	if (l->head - l->tail >= BATCH_BYTES)
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* ---- sending ---- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

/* Abort a request in flight once stop's budget is spent. */
static int progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct log_http *l = ctx;

	(void)a, (void)b, (void)c, (void)d;
	return __atomic_load_n(&l->stop_by, __ATOMIC_RELAXED) &&
	       mono_ms() >= __atomic_load_n(&l->stop_by, __ATOMIC_RELAXED);
}

/* OTLP: an ExportLogsServiceRequest, one resource per key, records in order. */
static void otlp_request(struct log_http *l, size_t n)
{
	bool *done = calloc(n ? n : 1, sizeof(*done));
	bool first_res = true;

	if (!done) {
		l->body.oom = true;
		return;
	}
	zbuf_puts(&l->body, "{\"resourceLogs\":[");
	for (size_t i = 0; i < n; i++) {
		bool first = true;

		if (done[i])
			continue;
		if (!first_res)
			zbuf_put(&l->body, ",", 1);
		first_res = false;
		zbuf_puts(&l->body, "{\"resource\":");
		otlp_resource_json(&l->body, l->entries[i].labels);
		zbuf_puts(&l->body, ",\"scopeLogs\":[{\"scope\":{\"name\":\"sonde\"},\"logRecords\":[");
		for (size_t k = i; k < n; k++) {
			if (done[k] || strcmp(l->entries[k].labels, l->entries[i].labels))
				continue;
			done[k] = true;
			if (!first)
				zbuf_put(&l->body, ",", 1);
			first = false;
			zbuf_put(&l->body, l->entries[k].line, l->entries[k].len);
		}
		zbuf_puts(&l->body, "]}]}");
	}
	zbuf_puts(&l->body, "]}");
	free(done);
}

/* POST the batch; true when the receiver took it, false when it is to be dropped. */
static bool post(struct log_http *l, size_t nentries)
{
	size_t clen;
	long status = 0;

	zbuf_reset(&l->body);
	if (l->format == LOG_HTTP_OTLP) {
		otlp_request(l, nentries);
		if (l->body.oom)
			return false;
		curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->body.p);
		curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->body.len);
		goto send;
	}
	if (l->format == LOG_HTTP_LOKI_JSON) {
		loki_push_json(&l->body, l->entries, nentries);
		if (l->body.oom || gzip_buf(&l->gz, l->body.p, l->body.len))
			return false;
		curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->gz.p);
		curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->gz.len);
		goto send;
	}
	loki_push_request(&l->body, l->entries, nentries);
	if (l->body.oom)
		return false;
	clen = snappy_max_compressed_length(l->body.len);
	if (clen > l->snap_cap) {
		char *p = realloc(l->snap, clen);

		if (!p)
			return false;
		l->snap = p;
		l->snap_cap = clen;
	}
	if (snappy_compress(l->body.p, l->body.len, l->snap, &clen) != SNAPPY_OK)
		return false;
	curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->snap);
	curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)clen);
send:
	for (int attempt = 0; attempt <= RETRIES; attempt++) {
		CURLcode rc = curl_easy_perform(l->easy);

		status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (l->failing)
				fprintf(stderr, "sonde: %s: %s: exporting again\n", l->format == LOG_HTTP_OTLP ? "otlp" : "loki", l->url);
			l->failing = false;
			return true;
		}
		if (!l->failing)
			fprintf(stderr, "sonde: %s: %s: %s%s\n", l->format == LOG_HTTP_OTLP ? "otlp" : "loki", l->url,
				rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error",
				rc == CURLE_OK && status < 500 && status != 408 && status != 429
					? " (lines dropped, not retried)"
					: " (retrying)");
		l->failing = true;
		if (rc == CURLE_OK && status < 500 && status != 408 && status != 429)
			return false; /* refused: retrying would not help */
		if (attempt == RETRIES || progress(l, 0, 0, 0, 0))
			break;
		struct timespec d = { 0, (long)(BACKOFF_MS << attempt) * 1000000L };
		nanosleep(&d, NULL);
	}
	return false;
}

static void *sender(void *arg)
{
	struct log_http *l = arg;
	uint64_t last = mono_ms();

	pthread_mutex_lock(&l->mu);
	for (;;) {
		size_t n = 0, take = 0, k = 0;
		struct timespec until;
		bool ok;

		while (!l->stop && l->head - l->tail < BATCH_BYTES && mono_ms() - last < FLUSH_MS) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&l->cv, &l->mu, &until);
		}
		last = mono_ms();
		if (l->head == l->tail) {
			if (l->stop)
				break;
			continue;
		}
		if (l->stop && mono_ms() >= l->stop_by)
			break;
		/* Whole records, up to a batch, copied out of the ring. */
		while (l->head - l->tail - take >= REC_HDR) {
			uint32_t size;

			byte_ring_get(l->ring, l->cap, l->tail + take, &size, 4);
			if (take + size > BATCH_BYTES + REC_HDR + 512 && take)
				break;
			byte_ring_get(l->ring, l->cap, l->tail + take, l->batch + take, size);
			take += size;
			n++;
			if (take >= BATCH_BYTES || n == ENTRIES_MAX)
				break;
		}
		pthread_mutex_unlock(&l->mu);
		/* Entries point into the batch: the labels (NUL-terminated) and line of each record. */
		for (size_t off = 0; k < n; k++) {
			uint32_t size;
			uint16_t ll;
			char *p = l->batch + off;

			memcpy(&size, p, 4);
			ll = (uint16_t)((uint8_t)p[12] | (uint8_t)p[13] << 8);
			memcpy(&l->entries[k].ts_ns, p + 4, 8);
			l->entries[k].labels = p + REC_HDR;
			l->entries[k].line = p + REC_HDR + ll;
			l->entries[k].len = size - REC_HDR - ll;
			off += size;
		}
		ok = n && post(l, n);
		pthread_mutex_lock(&l->mu);
		l->tail += take;
		if (ok)
			l->st.exported += n;
		else if (l->stop && mono_ms() >= l->stop_by)
			l->st.dropped_stop += n;
		else
			l->st.dropped_send += n;
	}
	/* What stop's budget could not send. */
	while (l->head - l->tail >= REC_HDR) {
		uint32_t size;

		byte_ring_get(l->ring, l->cap, l->tail, &size, 4);
		l->tail += size;
		l->st.dropped_stop++;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

struct log_http *log_http__start(const char *url, enum log_http_format format,
				 size_t queue_bytes)
{
	struct log_http *l;
	int err;

	if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->format = format;
	l->cap = queue_bytes ? queue_bytes : 8u << 20;
	if (l->cap < 2 * BATCH_BYTES)
		l->cap = 2 * BATCH_BYTES;
	l->url = strdup(url);
	l->ring = malloc(l->cap);
	l->batch = malloc(2 * BATCH_BYTES);
	l->entries = calloc(ENTRIES_MAX, sizeof(*l->entries));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	l->easy = curl_easy_init();
	l->headers = curl_slist_append(NULL, format == LOG_HTTP_LOKI
						       ? "Content-Type: application/x-protobuf"
						       : "Content-Type: application/json");
	if (l->headers && format == LOG_HTTP_LOKI_JSON)
		l->headers = curl_slist_append(l->headers, "Content-Encoding: gzip");
	if (l->headers)
		l->headers = curl_slist_append(l->headers, "Expect:");
	if (!l->url || !l->ring || !l->batch || !l->entries || !l->easy || !l->headers) {
		errno = ENOMEM;
		goto fail;
	}
	curl_easy_setopt(l->easy, CURLOPT_URL, l->url);
	curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, l->headers);
	curl_easy_setopt(l->easy, CURLOPT_USERAGENT, "sonde");
	curl_easy_setopt(l->easy, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
	curl_easy_setopt(l->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)TIMEOUT_MS);
	curl_easy_setopt(l->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(l->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(l->easy, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(l->easy, CURLOPT_XFERINFODATA, l);
	curl_easy_setopt(l->easy, CURLOPT_NOPROGRESS, 0L);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	err = pthread_create(&l->thread, NULL, sender, l);
	if (err) {
		errno = err;
		goto fail;
	}
	pthread_setname_np(l->thread, "sonde-loki");
	return l;
fail:
	err = errno;
	curl_slist_free_all(l->headers);
	if (l->easy)
		curl_easy_cleanup(l->easy);
	free(l->entries);
	free(l->batch);
	free(l->ring);
	free(l->url);
	free(l);
	errno = err;
	return NULL;
}

void log_http__stats(struct log_http *l, struct log_http_stats *s)
{
	pthread_mutex_lock(&l->mu);
	*s = l->st;
	pthread_mutex_unlock(&l->mu);
}

void log_http__free(struct log_http *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	__atomic_store_n(&l->stop_by, mono_ms() + STOP_MS, __ATOMIC_RELAXED);
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	curl_slist_free_all(l->headers);
	curl_easy_cleanup(l->easy);
	zbuf_free(&l->enc);
	zbuf_free(&l->body);
	zbuf_free(&l->gz);
	free(l->snap);
	free(l->entries);
	free(l->batch);
	free(l->ring);
	free(l->url);
	free(l);
}
