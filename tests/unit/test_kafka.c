// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the Kafka wire protocol parser (user/proto/kafka.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/kafka.h"

#define XMAX 64

/* ---- message writer ---- */

struct msg {
	uint8_t b[16384];
	size_t n;
	size_t size_at;
};

static void put(struct msg *m, uint64_t v, int bytes)
{
	assert_true(m->n + (size_t)bytes <= sizeof(m->b));
	for (int i = bytes - 1; i >= 0; i--)
		m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void i8(struct msg *m, int8_t v)
{
	put(m, (uint8_t)v, 1);
}

static void i16(struct msg *m, int16_t v)
{
	put(m, (uint16_t)v, 2);
}

static void i32(struct msg *m, int32_t v)
{
	put(m, (uint32_t)v, 4);
}

static void i64(struct msg *m, int64_t v)
{
	put(m, (uint64_t)v, 8);
}

static void uvarint(struct msg *m, uint32_t v)
{
	while (v >= 0x80) {
		put(m, (v & 0x7f) | 0x80, 1);
		v >>= 7;
	}
	put(m, v, 1);
}

static void zeros(struct msg *m, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memset(m->b + m->n, 0, n);
	m->n += n;
}

/* A nullable string (NULL: null), compact in flexible versions. */
static void str(struct msg *m, bool flex, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (flex)
		uvarint(m, s ? (uint32_t)n + 1 : 0);
	else
		i16(m, s ? (int16_t)n : -1);
	memcpy(m->b + m->n, s ? s : "", n);
	m->n += n;
}

static void arr(struct msg *m, bool flex, int32_t n)
{
	if (flex)
		uvarint(m, (uint32_t)(n + 1));
	else
		i32(m, n);
}

/* No tagged fields (flexible versions only). */
static void tags(struct msg *m, bool flex)
{
	if (flex)
		uvarint(m, 0);
}

static void begin(struct msg *m)
{
	m->size_at = m->n;
	i32(m, 0);
}

static void end(struct msg *m)
{
	uint32_t size = (uint32_t)(m->n - m->size_at - 4);

	for (int i = 0; i < 4; i++)
		m->b[m->size_at + i] = (uint8_t)(size >> (24 - 8 * i));
}

static void req_header(struct msg *m, int16_t key, int16_t ver, int32_t corr, bool flex)
{
	begin(m);
	i16(m, key);
	i16(m, ver);
	i32(m, corr);
	str(m, false, "rdkafka");
	tags(m, flex);
}

static void resp_header(struct msg *m, int32_t corr, bool flex)
{
	begin(m);
	i32(m, corr);
	tags(m, flex);
}

/* A RecordBatch header (magic 2) and body_len more bytes of records. */
static void batch(struct msg *m, int64_t base, int32_t count, size_t body_len)
{
	i64(m, base);
	i32(m, (int32_t)(49 + body_len));
	i32(m, 0); /* partition leader epoch */
	i8(m, 2);  /* magic */
	i32(m, 0); /* crc */
	i16(m, 0); /* attributes */
	i32(m, count - 1);
	i64(m, 1700000000000LL);
	i64(m, 1700000000000LL);
	i64(m, -1); /* producer id */
	i16(m, -1);
	i32(m, -1);
	i32(m, count);
	zeros(m, body_len);
}

/* A records field holding batches of the given counts (each with 10 bytes of records). */
static void records(struct msg *m, bool flex, int64_t base, const int32_t *counts, int nb)
{
	size_t len = 0;

	for (int i = 0; i < nb; i++)
		len += 61 + 10;
	if (flex)
		uvarint(m, nb ? (uint32_t)len + 1 : 0);
	else
		i32(m, nb ? (int32_t)len : -1);
	for (int i = 0; i < nb; i++) {
		batch(m, base, counts[i], 10);
		base += counts[i];
	}
}

/* ---- the connection under test ---- */

struct run {
	struct kafka_conn *c;
	struct kafka_exchange x[XMAX];
	int n;
};

static struct run *run_new(enum kafka_role hint)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->c = malloc(sizeof(*r->c));
	assert_non_null(r->c);
	kafka_conn_init(r->c, hint);
	return r;
}

static void run_free(struct run *r)
{
	free(r->c);
	free(r);
}

static int feedt(struct run *r, enum kafka_dir d, const uint8_t *s, size_t caplen, uint64_t total,
		 uint64_t ts)
{
	int rc = kafka_conn_feed(r->c, d, s, caplen, total, ts, r->x + r->n, XMAX - r->n);

	if (rc > 0)
		r->n += rc;
	return rc;
}

static int feedm(struct run *r, enum kafka_dir d, const struct msg *m, uint64_t ts)
{
	return feedt(r, d, m->b, m->n, m->n, ts);
}

static const struct kafka_part *part(const struct kafka_exchange *x, const char *topic, int32_t p)
{
	for (uint32_t i = 0; i < x->nparts; i++)
		if (!strcmp(x->parts[i].topic, topic) && x->parts[i].partition == p)
			return &x->parts[i];
	fail_msg("no part %s/%d", topic, p);
	return NULL;
}

/* ---- Produce ---- */

/* orders: p0 one batch of 3, p1 one of 5; payments: p2 batches of 3 and 5. */
static void produce_req(struct msg *m, int16_t ver, int32_t corr, int16_t acks)
{
	bool flex = ver >= 9;
	static const int32_t c3[] = {3}, c5[] = {5}, c35[] = {3, 5};

	req_header(m, 0, ver, corr, flex);
	str(m, flex, NULL); /* transactional_id */
	i16(m, acks);
	i32(m, 30000);
	arr(m, flex, 2);
	str(m, flex, "orders");
	arr(m, flex, 2);
	i32(m, 0);
	records(m, flex, 0, c3, 1);
	tags(m, flex);
	i32(m, 1);
	records(m, flex, 0, c5, 1);
	tags(m, flex);
	tags(m, flex);
	str(m, flex, "payments");
	arr(m, flex, 1);
	i32(m, 2);
	records(m, flex, 0, c35, 2);
	tags(m, flex);
	tags(m, flex);
	tags(m, flex);
	end(m);
}

static void produce_part_resp(struct msg *m, int16_t ver, int32_t p, int16_t err, int64_t base)
{
	bool flex = ver >= 9;

	i32(m, p);
	i16(m, err);
	i64(m, base);
	i64(m, -1); /* log_append_time */
	if (ver >= 5)
		i64(m, 0);
	if (ver >= 8) {
		arr(m, flex, 0);
		str(m, flex, err ? "not leader" : NULL);
	}
	tags(m, flex);
}

static void produce_resp(struct msg *m, int16_t ver, int32_t corr)
{
	bool flex = ver >= 9;

	resp_header(m, corr, flex);
	arr(m, flex, 2);
	str(m, flex, "orders");
	arr(m, flex, 2);
	produce_part_resp(m, ver, 0, 0, 100);
	produce_part_resp(m, ver, 1, 6, -1);
	tags(m, flex);
	str(m, flex, "payments");
	arr(m, flex, 1);
	produce_part_resp(m, ver, 2, 0, 7);
	tags(m, flex);
	i32(m, 0); /* throttle */
	tags(m, flex);
	end(m);
}

static void assert_produce(const struct kafka_exchange *x, int16_t ver, int32_t corr)
{
	const struct kafka_part *p;

	assert_int_equal(x->api_key, 0);
	assert_int_equal(x->api_version, ver);
	assert_int_equal(x->correlation_id, corr);
	assert_string_equal(x->client_id, "rdkafka");
	assert_int_equal(x->error_code, 0);
	assert_int_equal(x->nparts, 3);
	assert_false(x->parts_truncated);
	p = part(x, "orders", 0);
	assert_int_equal(p->records, 3);
	assert_int_equal(p->error_code, 0);
	assert_int_equal(p->base_offset, 100);
	p = part(x, "orders", 1);
	assert_int_equal(p->records, 5);
	assert_int_equal(p->error_code, 6);
	assert_int_equal(p->base_offset, -1);
	p = part(x, "payments", 2);
	assert_int_equal(p->records, 8);
	assert_int_equal(p->error_code, 0);
	assert_int_equal(p->base_offset, 7);
	assert_int_equal(p->fetch_offset, -1);
	assert_int_equal(p->high_watermark, -1);
}

static void test_produce_versions(void **state)
{
	(void)state;
	for (int16_t ver = 3; ver <= 9; ver++) {
		struct run *r = run_new(KAFKA_ROLE_CLIENT);
		struct msg req = {0}, resp = {0};

		produce_req(&req, ver, 41, -1);
		produce_resp(&resp, ver, 41);
		assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 10), 0);
		assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 20), 1);
		assert_produce(&r->x[0], ver, 41);
		assert_int_equal(r->x[0].role, KAFKA_ROLE_CLIENT);
		assert_int_equal(r->x[0].req_begin_ts, 10);
		assert_int_equal(r->x[0].resp_end_ts, 20);
		assert_int_equal(r->c->ninflight, 0);
		assert_false(kafka_conn_broken(r->c));
		run_free(r);
	}
}

static void test_produce_server_role(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_SERVER);
	struct msg req = {0}, resp = {0};

	(void)state;
	produce_req(&req, 7, 5, 1);
	produce_resp(&resp, 7, 5);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &req, 1), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &resp, 2), 1);
	assert_produce(&r->x[0], 7, 5);
	assert_int_equal(r->x[0].role, KAFKA_ROLE_SERVER);
	run_free(r);

	/* Role unknown: the direction requests travel in is learned from them. */
	r = run_new(KAFKA_ROLE_UNKNOWN);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 1), 0); /* nothing to pair */
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &req, 2), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &resp, 3), 1);
	assert_produce(&r->x[0], 7, 5);
	assert_int_equal(r->x[0].role, KAFKA_ROLE_SERVER);
	run_free(r);
}

static void test_produce_acks0(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0};

	(void)state;
	produce_req(&req, 7, 9, 0);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 10), 1);
	assert_int_equal(r->x[0].nparts, 3);
	assert_int_equal(part(&r->x[0], "payments", 2)->records, 8);
	assert_int_equal(r->x[0].resp_end_ts, 10);
	assert_int_equal(r->c->ninflight, 0);
	run_free(r);
}

/* A batch much larger than the capture still counts, from its header. */
static void test_produce_big_batch(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg *req = calloc(1, sizeof(*req)), resp = {0};
	size_t body = 1000000, hdr;
	uint32_t size;

	(void)state;
	assert_non_null(req);
	req_header(req, 0, 7, 3, false);
	str(req, false, "tx-1");
	i16(req, -1);
	i32(req, 1000);
	arr(req, false, 1);
	str(req, false, "big");
	arr(req, false, 1);
	i32(req, 4);
	i32(req, (int32_t)(61 + body));
	batch(req, 0, 1000, 0);
	hdr = req->n;
	/* The message is hdr + body bytes: patch the size as if the records followed. */
	size = (uint32_t)(hdr + body - 4);
	req->b[0] = (uint8_t)(size >> 24);
	req->b[1] = (uint8_t)(size >> 16);
	req->b[2] = (uint8_t)(size >> 8);
	req->b[3] = (uint8_t)size;
	/* The batch length says 49 + body more bytes. */
	req->b[hdr - 61 + 8] = (uint8_t)((49 + body) >> 24);
	req->b[hdr - 61 + 9] = (uint8_t)((49 + body) >> 16);
	req->b[hdr - 61 + 10] = (uint8_t)((49 + body) >> 8);
	req->b[hdr - 61 + 11] = (uint8_t)(49 + body);
	/* One syscall moved it all; 256 bytes were captured. */
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req->b, hdr < 256 ? hdr : 256, hdr + body, 1),
			 0);
	resp_header(&resp, 3, false);
	arr(&resp, false, 1);
	str(&resp, false, "big");
	arr(&resp, false, 1);
	produce_part_resp(&resp, 7, 4, 0, 5000);
	i32(&resp, 0);
	end(&resp);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 2), 1);
	assert_int_equal(r->x[0].nparts, 1);
	assert_string_equal(r->x[0].parts[0].topic, "big");
	assert_int_equal(r->x[0].parts[0].partition, 4);
	assert_int_equal(r->x[0].parts[0].records, 1000);
	assert_int_equal(r->x[0].parts[0].base_offset, 5000);
	assert_false(r->x[0].parts_truncated);

	/* The same with only 40 bytes captured: the batch header is unseen, nothing guessed. */
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req->b, 40, hdr + body, 3), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 4), 1);
	assert_int_equal(r->x[1].nparts, 1);
	assert_int_equal(r->x[1].parts[0].records, 0);
	assert_int_equal(r->x[1].parts[0].base_offset, 5000);
	assert_true(r->x[1].parts_truncated);
	assert_false(kafka_conn_broken(r->c));
	free(req);
	run_free(r);
}

/* ---- Fetch ---- */

static void fetch_req(struct msg *m, int16_t ver, int32_t corr)
{
	bool flex = ver >= 12;

	req_header(m, 1, ver, corr, flex);
	i32(m, -1);
	i32(m, 500);
	i32(m, 1);
	i32(m, 52428800);
	i8(m, 0);
	if (ver >= 7) {
		i32(m, 0);
		i32(m, -1);
	}
	arr(m, flex, 1);
	str(m, flex, "events");
	arr(m, flex, 2);
	for (int p = 0; p < 2; p++) {
		i32(m, p);
		if (ver >= 9)
			i32(m, 3);
		i64(m, p ? 50 : 100);
		if (ver >= 12)
			i32(m, 3);
		if (ver >= 5)
			i64(m, 0);
		i32(m, 1048576);
		tags(m, flex);
	}
	tags(m, flex);
	if (ver >= 7)
		arr(m, flex, 0);
	if (ver >= 11)
		str(m, flex, "");
	tags(m, flex);
	end(m);
}

static void fetch_part_resp(struct msg *m, int16_t ver, int32_t p, int64_t hw, int64_t base,
			    const int32_t *counts, int nb)
{
	bool flex = ver >= 12;

	i32(m, p);
	i16(m, 0);
	i64(m, hw);
	i64(m, hw);
	if (ver >= 5)
		i64(m, 0);
	if (p == 0) {
		arr(m, flex, 1); /* an aborted transaction */
		i64(m, 77);
		i64(m, 90);
		tags(m, flex);
	} else {
		arr(m, flex, -1);
	}
	if (ver >= 11)
		i32(m, -1);
	records(m, flex, base, counts, nb);
	tags(m, flex);
}

static void fetch_resp(struct msg *m, int16_t ver, int32_t corr)
{
	bool flex = ver >= 12;
	static const int32_t c53[] = {5, 3};

	resp_header(m, corr, flex);
	i32(m, 0);
	if (ver >= 7) {
		i16(m, 0);
		i32(m, 123);
	}
	arr(m, flex, 1);
	str(m, flex, "events");
	arr(m, flex, 2);
	fetch_part_resp(m, ver, 0, 200, 100, c53, 2);
	fetch_part_resp(m, ver, 1, 50, 0, NULL, 0);
	tags(m, flex);
	tags(m, flex);
	end(m);
}

static void test_fetch_versions(void **state)
{
	(void)state;
	for (int16_t ver = 4; ver <= 12; ver++) {
		struct run *r = run_new(KAFKA_ROLE_CLIENT);
		struct msg req = {0}, resp = {0};
		const struct kafka_part *p;
		const struct kafka_exchange *x = &r->x[0];

		fetch_req(&req, ver, 7);
		fetch_resp(&resp, ver, 7);
		assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 10), 0);
		assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 20), 1);
		assert_int_equal(x->api_key, 1);
		assert_int_equal(x->api_version, ver);
		assert_int_equal(x->nparts, 2);
		assert_false(x->parts_truncated);
		p = part(x, "events", 0);
		assert_int_equal(p->fetch_offset, 100);
		assert_int_equal(p->records, 8);
		assert_int_equal(p->next_offset, 108);
		assert_int_equal(p->high_watermark, 200);
		p = part(x, "events", 1);
		assert_int_equal(p->fetch_offset, 50);
		assert_int_equal(p->records, 0);
		assert_int_equal(p->next_offset, 50);
		assert_int_equal(p->high_watermark, 50);
		assert_int_equal(x->req_begin_ts, 10);
		assert_int_equal(x->resp_end_ts, 20);
		run_free(r);
	}
}

/* A Fetch response far larger than the capture: only what was captured is reported. */
static void test_fetch_beyond_capture(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, *resp = calloc(1, sizeof(*resp));
	const struct kafka_exchange *x = &r->x[0];
	static const int32_t c[] = {10, 20};
	size_t cap;

	(void)state;
	assert_non_null(resp);
	fetch_req(&req, 11, 8);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 1), 0);
	resp_header(resp, 8, false);
	i32(resp, 0);
	i16(resp, 0);
	i32(resp, 0);
	arr(resp, false, 1);
	str(resp, false, "events");
	arr(resp, false, 2);
	/* Partition 0: two batches of 10 and 20 records, 2000 bytes each. */
	i32(resp, 0);
	i16(resp, 0);
	i64(resp, 9999);
	i64(resp, 9999);
	i64(resp, 0);
	i32(resp, -1);
	i32(resp, -1);
	i32(resp, 2 * (61 + 2000));
	batch(resp, 100, c[0], 2000);
	cap = resp->n - 2000 + 100; /* the first batch's header and some records */
	batch(resp, 110, c[1], 2000);
	fetch_part_resp(resp, 11, 1, 60, 50, c, 1);
	end(resp);
	/* The response comes in two reads; only the start of the first one is captured. */
	assert_int_equal(feedt(r, KAFKA_DIR_INGRESS, resp->b, cap, 3000, 2), 0);
	assert_int_equal(feedt(r, KAFKA_DIR_INGRESS, resp->b + 3000, 256, resp->n - 3000, 3), 1);
	assert_int_equal(x->nparts, 2);
	assert_true(x->parts_truncated);
	assert_int_equal(part(x, "events", 0)->high_watermark, 9999);
	assert_int_equal(part(x, "events", 0)->records, 10);
	assert_int_equal(part(x, "events", 0)->next_offset, 110);
	/* Partition 1 was never seen in the response: the request's view only. */
	assert_int_equal(part(x, "events", 1)->high_watermark, -1);
	assert_int_equal(part(x, "events", 1)->records, 0);
	assert_int_equal(part(x, "events", 1)->next_offset, 50);
	assert_int_equal(x->resp_end_ts, 3);

	/* All of it captured (in 4096-byte syscalls): everything counts. */
	feedm(r, KAFKA_DIR_EGRESS, &req, 4);
	for (size_t o = 0; o < resp->n; o += 4096) {
		size_t n = resp->n - o < 4096 ? resp->n - o : 4096;

		feedt(r, KAFKA_DIR_INGRESS, resp->b + o, n, n, 5);
	}
	assert_int_equal(r->n, 2);
	x = &r->x[1];
	assert_int_equal(part(x, "events", 0)->records, 30);
	assert_int_equal(part(x, "events", 0)->next_offset, 130);
	/* The second partition lies beyond the first 4096 bytes kept. */
	assert_true(x->parts_truncated);
	assert_false(kafka_conn_broken(r->c));
	free(resp);
	run_free(r);
}

/* A partial batch at the end of a Fetch answer (the broker's byte limit) is not counted. */
static void test_fetch_partial_batch(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, resp = {0};
	const struct kafka_part *p;

	(void)state;
	fetch_req(&req, 11, 8);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	resp_header(&resp, 8, false);
	i32(&resp, 0);
	i16(&resp, 0);
	i32(&resp, 0);
	arr(&resp, false, 1);
	str(&resp, false, "events");
	arr(&resp, false, 1);
	i32(&resp, 0);
	i16(&resp, 0);
	i64(&resp, 500);
	i64(&resp, 500);
	i64(&resp, 0);
	i32(&resp, -1);
	i32(&resp, -1);
	i32(&resp, 61 + 10 + 61 + 5);
	batch(&resp, 100, 4, 10);
	batch(&resp, 104, 6, 5); /* says 10 bytes of records: 5 are missing */
	resp.b[resp.n - 66 + 11] = 59;
	end(&resp);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 2), 1);
	p = part(&r->x[0], "events", 0);
	assert_int_equal(p->records, 4);
	assert_int_equal(p->next_offset, 104);
	assert_false(r->x[0].parts_truncated);
	run_free(r);
}

/* Incremental fetch sessions: the response names partitions the request did not. */
static void test_fetch_session_parts(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, resp = {0};
	static const int32_t c[] = {2};
	const struct kafka_part *p;

	(void)state;
	req_header(&req, 1, 11, 12, false);
	i32(&req, -1);
	i32(&req, 500);
	i32(&req, 1);
	i32(&req, 1000);
	i8(&req, 1);
	i32(&req, 77);
	i32(&req, 3);
	arr(&req, false, 0);
	arr(&req, false, 0);
	str(&req, false, "");
	end(&req);
	resp_header(&resp, 12, false);
	i32(&resp, 0);
	i16(&resp, 0);
	i32(&resp, 77);
	arr(&resp, false, 1);
	str(&resp, false, "bad/topic!");
	arr(&resp, false, 1);
	fetch_part_resp(&resp, 11, 3, 40, 30, c, 1);
	end(&resp);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 2), 1);
	assert_int_equal(r->x[0].nparts, 1);
	p = part(&r->x[0], "bad_topic_", 3);
	assert_int_equal(p->records, 2);
	assert_int_equal(p->fetch_offset, -1);
	assert_int_equal(p->next_offset, 32);
	assert_int_equal(p->high_watermark, 40);
	run_free(r);
}

/* ---- other APIs ---- */

static void test_offset_commit(void **state)
{
	static const int16_t vers[] = {2, 7, 8};

	(void)state;
	for (size_t i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
		struct run *r = run_new(KAFKA_ROLE_CLIENT);
		struct msg req = {0}, resp = {0};
		int16_t v = vers[i];
		bool flex = v >= 8;

		req_header(&req, 8, v, 100 + v, flex);
		str(&req, flex, "group");
		i32(&req, 5);
		str(&req, flex, "member-1");
		if (v <= 4)
			i64(&req, -1);
		if (v >= 7)
			str(&req, flex, NULL);
		arr(&req, flex, 1);
		str(&req, flex, "orders");
		arr(&req, flex, 1);
		i32(&req, 0);
		i64(&req, 42);
		if (v >= 6)
			i32(&req, -1);
		str(&req, flex, NULL);
		tags(&req, flex);
		tags(&req, flex);
		tags(&req, flex);
		end(&req);
		resp_header(&resp, 100 + v, flex);
		if (v >= 3)
			i32(&resp, 0);
		arr(&resp, flex, 1);
		str(&resp, flex, "orders");
		arr(&resp, flex, 1);
		i32(&resp, 0);
		i16(&resp, 25); /* UNKNOWN_MEMBER_ID */
		tags(&resp, flex);
		tags(&resp, flex);
		tags(&resp, flex);
		end(&resp);
		assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 5), 0);
		assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 9), 1);
		assert_int_equal(r->x[0].api_key, 8);
		assert_int_equal(r->x[0].api_version, v);
		assert_int_equal(r->x[0].error_code, 25);
		/* The committed offset, for consumer lag. */
		assert_int_equal(r->x[0].nparts, 1);
		assert_string_equal(r->x[0].parts[0].topic, "orders");
		assert_int_equal(r->x[0].parts[0].partition, 0);
		assert_int_equal(r->x[0].parts[0].next_offset, 42);
		assert_int_equal(r->x[0].req_begin_ts, 5);
		assert_int_equal(r->x[0].resp_end_ts, 9);
		run_free(r);
	}
}

static void test_timing_only(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg m = {0};

	(void)state;
	/* ApiVersions v3: request header v2, response header v0 (always). */
	req_header(&m, 18, 3, 1, true);
	str(&m, true, "librdkafka");
	str(&m, true, "2.0.2");
	tags(&m, true);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &m, 1), 0);
	m.n = 0;
	resp_header(&m, 1, false);
	i16(&m, 35); /* UNSUPPORTED_VERSION */
	arr(&m, true, 0);
	i32(&m, 0);
	tags(&m, true);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &m, 2), 1);
	assert_int_equal(r->x[0].api_key, 18);
	assert_int_equal(r->x[0].error_code, 35);
	assert_int_equal(r->x[0].nparts, 0);

	/* Metadata v4. */
	m.n = 0;
	req_header(&m, 3, 4, 2, false);
	arr(&m, false, 1);
	str(&m, false, "orders");
	i8(&m, 1);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &m, 3), 0);
	m.n = 0;
	resp_header(&m, 2, false);
	i32(&m, 0);
	arr(&m, false, 1);
	i32(&m, 1);
	str(&m, false, "broker-1");
	i32(&m, 9092);
	str(&m, false, NULL);
	str(&m, false, "cluster");
	i32(&m, 1);
	arr(&m, false, 0);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &m, 4), 1);
	assert_int_equal(r->x[1].api_key, 3);
	assert_int_equal(r->x[1].api_version, 4);
	assert_int_equal(r->x[1].correlation_id, 2);
	assert_int_equal(r->x[1].error_code, 0);
	assert_int_equal(r->x[1].nparts, 0);
	assert_int_equal(r->x[1].req_begin_ts, 3);
	assert_int_equal(r->x[1].resp_end_ts, 4);
	assert_false(kafka_conn_broken(r->c));
	run_free(r);
}

/* ---- pairing ---- */

static void test_pipelined(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg *req = calloc(1, sizeof(*req)), *resp = calloc(1, sizeof(*resp));

	(void)state;
	assert_non_null(req);
	assert_non_null(resp);
	for (int i = 0; i < 3; i++) {
		produce_req(req, 7, 10 + i, -1);
		produce_resp(resp, 7, 10 + i);
	}
	/* A heartbeat in between. */
	req_header(req, 12, 3, 13, false);
	str(req, false, "g");
	i32(req, 1);
	str(req, false, "m");
	str(req, false, NULL);
	end(req);
	resp_header(resp, 13, false);
	i32(resp, 0);
	i16(resp, 27);
	end(resp);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, req, 1), 0);
	assert_int_equal(r->c->ninflight, 4);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, resp, 2), 4);
	for (int i = 0; i < 3; i++)
		assert_produce(&r->x[i], 7, 10 + i);
	assert_int_equal(r->x[3].api_key, 12);
	assert_int_equal(r->x[3].correlation_id, 13);

	/* A response whose request was missed leaves the later ones paired. */
	req->n = 0;
	resp->n = 0;
	produce_req(req, 7, 20, -1);
	produce_req(req, 7, 21, -1);
	produce_resp(resp, 7, 19);
	produce_resp(resp, 7, 21);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, req, 3), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, resp, 4), 1);
	assert_int_equal(r->x[4].correlation_id, 21);
	/* 20 got no response before 21's: dropped. */
	assert_int_equal(r->c->ninflight, 0);

	/* max_out bounds what is written. */
	req->n = 0;
	resp->n = 0;
	for (int i = 0; i < 3; i++) {
		produce_req(req, 7, 30 + i, -1);
		produce_resp(resp, 7, 30 + i);
	}
	feedm(r, KAFKA_DIR_EGRESS, req, 5);
	assert_int_equal(
	    kafka_conn_feed(r->c, KAFKA_DIR_INGRESS, resp->b, resp->n, resp->n, 6, r->x, 1), 1);
	assert_int_equal(r->x[0].correlation_id, 30);
	assert_false(kafka_conn_broken(r->c));
	free(req);
	free(resp);
	run_free(r);
}

/* More requests than the in-flight table holds: the oldest are forgotten. */
static void test_inflight_bound(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg m = {0};

	(void)state;
	for (int i = 0; i < KAFKA_INFLIGHT_MAX + 5; i++) {
		m.n = 0;
		req_header(&m, 3, 4, i, false);
		arr(&m, false, 0);
		i8(&m, 0);
		end(&m);
		assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &m, (uint64_t)i), 0);
	}
	assert_int_equal(r->c->ninflight, KAFKA_INFLIGHT_MAX);
	m.n = 0;
	resp_header(&m, 2, false);
	zeros(&m, 8);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &m, 100), 0);
	m.n = 0;
	resp_header(&m, KAFKA_INFLIGHT_MAX + 1, false);
	zeros(&m, 8);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &m, 101), 1);
	assert_int_equal(r->x[0].req_begin_ts, KAFKA_INFLIGHT_MAX + 1);
	run_free(r);
}

static void same_exchanges(const struct run *a, const struct run *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++)
		assert_memory_equal(&a->x[i], &b->x[i], sizeof(a->x[i]));
}

/* A connection starts out of step: an ApiVersions exchange brings it in step. */
static void prime(struct run *r)
{
	struct msg m = {0};

	req_header(&m, 18, 3, 999, true);
	str(&m, true, "librdkafka");
	str(&m, true, "2.0.2");
	tags(&m, true);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &m, 0), 0);
	m.n = 0;
	resp_header(&m, 999, false);
	zeros(&m, 8);
	end(&m);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &m, 0), 1);
	r->n = 0;
}

static void test_split_every_offset(void **state)
{
	struct msg req = {0}, resp = {0};
	struct run *whole = run_new(KAFKA_ROLE_CLIENT);
	static const int16_t vers[] = {7, 9};

	(void)state;
	for (size_t v = 0; v < 2; v++) {
		req.n = 0;
		resp.n = 0;
		produce_req(&req, vers[v], 1, -1);
		fetch_req(&req, vers[v] + 4, 2);
		produce_resp(&resp, vers[v], 1);
		fetch_resp(&resp, vers[v] + 4, 2);
		kafka_conn_init(whole->c, KAFKA_ROLE_CLIENT);
		whole->n = 0;
		feedm(whole, KAFKA_DIR_EGRESS, &req, 1);
		feedm(whole, KAFKA_DIR_INGRESS, &resp, 2);
		assert_int_equal(whole->n, 2);
		for (size_t k = 0; k <= req.n; k++) {
			struct run *r = run_new(KAFKA_ROLE_CLIENT);

			prime(r);
			assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req.b, k, k, 1), 0);
			assert_int_equal(
			    feedt(r, KAFKA_DIR_EGRESS, req.b + k, req.n - k, req.n - k, 1), 0);
			feedm(r, KAFKA_DIR_INGRESS, &resp, 2);
			same_exchanges(whole, r);
			run_free(r);
		}
		for (size_t k = 0; k <= resp.n; k++) {
			struct run *r = run_new(KAFKA_ROLE_CLIENT);

			prime(r);
			feedm(r, KAFKA_DIR_EGRESS, &req, 1);
			feedt(r, KAFKA_DIR_INGRESS, resp.b, k, k, 2);
			feedt(r, KAFKA_DIR_INGRESS, resp.b + k, resp.n - k, resp.n - k, 2);
			same_exchanges(whole, r);
			run_free(r);
		}
		/* Byte by byte. */
		{
			struct run *r = run_new(KAFKA_ROLE_CLIENT);

			prime(r);
			for (size_t k = 0; k < req.n; k++)
				feedt(r, KAFKA_DIR_EGRESS, req.b + k, 1, 1, 1);
			for (size_t k = 0; k < resp.n; k++)
				feedt(r, KAFKA_DIR_INGRESS, resp.b + k, 1, 1, 2);
			same_exchanges(whole, r);
			run_free(r);
		}
	}
	run_free(whole);
}

/* ---- out of step ---- */

static void test_mid_stream_start(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, resp = {0};

	(void)state;
	produce_req(&req, 7, 50, -1);
	produce_resp(&resp, 7, 50);
	/* The ends of a request and a response begun before sonde looked. */
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req.b + 30, req.n - 30, req.n - 30, 1), 0);
	assert_int_equal(feedt(r, KAFKA_DIR_INGRESS, resp.b + 9, resp.n - 9, resp.n - 9, 2), 0);
	/* A response nothing awaits is skipped, out of step. */
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 3), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 4), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 5), 1);
	assert_produce(&r->x[0], 7, 50);
	assert_int_equal(r->x[0].req_begin_ts, 4);
	assert_false(kafka_conn_broken(r->c));

	/* Framing lost at a message boundary (bytes past the capture): resync later. */
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req.b, req.n, req.n + 500, 6), 0);
	assert_int_equal(r->c->desyncs, 1);
	assert_int_equal(r->c->ninflight, 0);
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req.b + 40, 40, 40, 7), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 8), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 9), 0);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 10), 1);
	assert_int_equal(r->x[1].req_begin_ts, 9);
	assert_false(kafka_conn_broken(r->c));
	run_free(r);
}

static void test_garbage_broken(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0};
	static const uint8_t small[] = {0, 0, 0, 3, 1, 2, 3};
	static const uint8_t huge[] = {0x10, 0, 0, 0, 0, 0, 0, 0};
	const char *text = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	/* Out of step, garbage is skipped. */
	assert_int_equal(
	    feedt(r, KAFKA_DIR_EGRESS, (const uint8_t *)text, strlen(text), strlen(text), 1), 0);
	assert_false(kafka_conn_broken(r->c));
	produce_req(&req, 7, 1, -1);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 2), 0);
	/* In step, it breaks the connection: -1 once, then 0. */
	assert_int_equal(
	    feedt(r, KAFKA_DIR_EGRESS, (const uint8_t *)text, strlen(text), strlen(text), 3), -1);
	assert_true(kafka_conn_broken(r->c));
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 4), 0);
	run_free(r);

	/* Bad sizes. */
	r = run_new(KAFKA_ROLE_CLIENT);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, small, sizeof(small), sizeof(small), 2), -1);
	run_free(r);
	r = run_new(KAFKA_ROLE_CLIENT);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, huge, 2, 2, 2), 0);
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, huge + 2, 6, 6, 3), -1);
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, huge, 8, 8, 4), 0);
	run_free(r);

	/* A response with a bad size, in step. */
	r = run_new(KAFKA_ROLE_CLIENT);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	req.n = 0;
	produce_resp(&req, 7, 1);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &req, 2), 1);
	assert_int_equal(feedt(r, KAFKA_DIR_INGRESS, huge, 8, 8, 3), -1);
	run_free(r);

	/* A request whose client id does not fit in it. */
	r = run_new(KAFKA_ROLE_CLIENT);
	req.n = 0;
	produce_req(&req, 7, 1, -1);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	req.n = 0;
	begin(&req);
	i16(&req, 3);
	i16(&req, 4);
	i32(&req, 9);
	i16(&req, 100);
	end(&req);
	assert_int_equal(feedm(r, KAFKA_DIR_EGRESS, &req, 2), -1);
	run_free(r);
}

/* Bodies that do not add up end their decoding, not the connection. */
static void test_truncated_bodies(void **state)
{
	struct msg req = {0}, resp = {0};

	(void)state;
	produce_req(&req, 7, 1, -1);
	produce_resp(&resp, 7, 1);
	/* From the first byte past the header (21 bytes with its size). */
	for (size_t cut = 21; cut < req.n; cut += 7) {
		struct run *r = run_new(KAFKA_ROLE_CLIENT);
		struct msg m = req;

		/* A shorter size: the body ends before its fields do. */
		m.n = cut;
		end(&m);
		feedm(r, KAFKA_DIR_EGRESS, &m, 1);
		assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 2), 1);
		assert_true(r->x[0].parts_truncated);
		assert_false(kafka_conn_broken(r->c));
		run_free(r);
	}
}

static void test_sniffing(void **state)
{
	struct msg m = {0};
	uint8_t b[32];

	(void)state;
	produce_req(&m, 7, 1, -1);
	assert_true(kafka_looks_like_request(m.b, m.n));
	assert_true(kafka_looks_like_request(m.b, 14));
	assert_false(kafka_looks_like_request(m.b, 13));
	assert_false(kafka_looks_like_request(NULL, 100));
	memcpy(b, m.b, sizeof(b));
	b[4] = 0x01; /* api key 256 */
	assert_false(kafka_looks_like_request(b, sizeof(b)));
	memcpy(b, m.b, sizeof(b));
	b[7] = 21; /* version 21 */
	assert_false(kafka_looks_like_request(b, sizeof(b)));
	memcpy(b, m.b, sizeof(b));
	b[12] = 0x7f; /* client id too long */
	assert_false(kafka_looks_like_request(b, sizeof(b)));
	memcpy(b, m.b, sizeof(b));
	b[0] = 0x7f; /* size */
	assert_false(kafka_looks_like_request(b, sizeof(b)));
	assert_false(kafka_looks_like_request((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18));
	assert_false(
	    kafka_looks_like_request((const uint8_t *)"*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 20));
}

static void test_topic_names(void **state)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, resp = {0};
	char name[300];
	static const int32_t c[] = {1};

	(void)state;
	memset(name, 'a', 249);
	name[249] = '\0';
	name[3] = ' ';
	req_header(&req, 0, 7, 1, false);
	str(&req, false, NULL);
	i16(&req, 1);
	i32(&req, 1);
	arr(&req, false, 1);
	str(&req, false, name);
	arr(&req, false, 1);
	i32(&req, 0);
	records(&req, false, 0, c, 1);
	end(&req);
	resp_header(&resp, 1, false);
	arr(&resp, false, 1);
	str(&resp, false, name);
	arr(&resp, false, 1);
	produce_part_resp(&resp, 7, 0, 0, 1);
	i32(&resp, 0);
	end(&resp);
	feedm(r, KAFKA_DIR_EGRESS, &req, 1);
	assert_int_equal(feedm(r, KAFKA_DIR_INGRESS, &resp, 2), 1);
	assert_int_equal(r->x[0].nparts, 1);
	assert_int_equal(strlen(r->x[0].parts[0].topic), KAFKA_TOPIC_MAX - 1);
	assert_memory_equal(r->x[0].parts[0].topic, "aaa_aaaa", 8);
	assert_int_equal(r->x[0].parts[0].records, 1);
	assert_int_equal(r->x[0].parts[0].base_offset, 1);
	run_free(r);
}

/* ---- trace headers in records ---- */

static void zz(uint8_t *b, size_t *n, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u >= 0x80) {
		b[(*n)++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	b[(*n)++] = (uint8_t)u;
}

static void zbytes(uint8_t *b, size_t *n, const char *s)
{
	zz(b, n, s ? (int64_t)strlen(s) : -1);
	if (s) {
		memcpy(b + *n, s, strlen(s));
		*n += strlen(s);
	}
}

/* One record: key, value, and a header hkey: hval unless hkey is NULL (plus an unrelated one). */
static size_t record(uint8_t *out, int i, const char *hkey, const char *hval)
{
	uint8_t r[512];
	size_t n = 0, o = 0;

	r[n++] = 0; /* attributes */
	zz(r, &n, i);  /* timestamp delta */
	zz(r, &n, i);  /* offset delta */
	zbytes(r, &n, "order-17");
	zbytes(r, &n, "{\"traceparent\": \"not a header\"}");
	zz(r, &n, hkey ? 2 : 1);
	zbytes(r, &n, "content-type");
	zbytes(r, &n, "json");
	if (hkey) {
		zbytes(r, &n, hkey);
		zbytes(r, &n, hval);
	}
	zz(out, &o, (int64_t)n);
	memcpy(out + o, r, n);
	return o + n;
}

/* A Produce v7 of one batch to orders/0 whose records carry these headers. */
static void traced_produce(struct msg *m, int nrec, const char *const *keys,
			   const char *const *vals, int16_t attributes)
{
	uint8_t recs[4096];
	size_t n = 0;

	for (int i = 0; i < nrec; i++)
		n += record(recs + n, i, keys[i], vals[i]);
	req_header(m, 0, 7, 5, false);
	str(m, false, NULL);
	i16(m, -1);
	i32(m, 30000);
	arr(m, false, 1);
	str(m, false, "orders");
	arr(m, false, 1);
	i32(m, 0);
	i32(m, (int32_t)(61 + n));
	i64(m, 0);
	i32(m, (int32_t)(49 + n));
	i32(m, 0);
	i8(m, 2);
	i32(m, 0);
	i16(m, attributes);
	i32(m, nrec - 1);
	i64(m, 1700000000000LL);
	i64(m, 1700000000000LL);
	i64(m, -1);
	i16(m, -1);
	i32(m, -1);
	i32(m, nrec);
	memcpy(m->b + m->n, recs, n);
	m->n += n;
	end(m);
}

static void traced_response(struct msg *m)
{
	resp_header(m, 5, false);
	arr(m, false, 1);
	str(m, false, "orders");
	arr(m, false, 1);
	produce_part_resp(m, 7, 0, 0, 40);
	i32(m, 0);
	end(m);
}

/* The part of a Produce with these records, fed with caplen bytes of the request captured. */
static struct kafka_part traced(int nrec, const char *const *keys, const char *const *vals,
				int16_t attributes, size_t caplen)
{
	struct run *r = run_new(KAFKA_ROLE_CLIENT);
	struct msg req = {0}, resp = {0};
	struct kafka_part p = { .trace_kind = KAFKA_TRACE_NONE };

	traced_produce(&req, nrec, keys, vals, attributes);
	traced_response(&resp);
	if (caplen > req.n)
		caplen = req.n;
	assert_int_equal(feedt(r, KAFKA_DIR_EGRESS, req.b, caplen, req.n, 10), 0);
	if (feedm(r, KAFKA_DIR_INGRESS, &resp, 20) == 1 && r->x[0].nparts)
		p = *part(&r->x[0], "orders", 0);
	if (caplen == req.n) { /* all of it seen: exact */
		assert_int_equal(r->n, 1);
		assert_int_equal(p.records, (uint32_t)nrec);
		assert_int_equal(p.base_offset, 40);
	}
	run_free(r);
	return p;
}

#define TP1 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TP2 "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
#define TP3 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void test_record_trace_headers(void **state)
{
	const char *tp[] = { "traceparent", "traceparent", "traceparent" };
	const char *same[] = { TP1, TP2, TP1 }, *mixed[] = { TP1, TP3, TP1 };
	const char *partial_keys[] = { "traceparent", NULL, "traceparent" };
	const char *b3k[] = { "b3", "B3" }, *b3v[] = { "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
						       "80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-1" };
	const char *bad_len[] = { "traceparent" }, *long_v[] = {
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-"
		"0123456789012345678901234567890123456789" };
	struct kafka_part p;

	(void)state;
	/* Every record of one trace: the first one's value. */
	p = traced(3, tp, same, 0, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_TRACEPARENT);
	assert_string_equal(p.trace, TP1);
	/* Two traces in one batch: no context (a wrong join is worse than none). */
	p = traced(3, tp, mixed, 0, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_NONE);
	/* A record without one: none. */
	p = traced(3, partial_keys, same, 0, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_NONE);
	/* B3 single, header names in any case. */
	p = traced(2, b3k, b3v, 0, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_B3);
	assert_string_equal(p.trace, b3v[0]);
	/* Compressed records are not read. */
	p = traced(3, tp, same, 1, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_NONE);
	/* The last record not captured: none. */
	p = traced(3, tp, same, 0, 300);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_NONE);
	/* A value longer than any context is not kept. */
	p = traced(1, bad_len, long_v, 0, 4096);
	assert_int_equal(p.trace_kind, KAFKA_TRACE_NONE);
	/* Every prefix of the capture: never more than what was seen, never a crash. */
	for (size_t cap = 1; cap < 400; cap++) {
		p = traced(3, tp, same, 0, cap);
		assert_true(p.trace_kind == KAFKA_TRACE_NONE || !strcmp(p.trace, TP1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_produce_versions),
	    cmocka_unit_test(test_produce_server_role),
	    cmocka_unit_test(test_produce_acks0),
	    cmocka_unit_test(test_produce_big_batch),
	    cmocka_unit_test(test_fetch_versions),
	    cmocka_unit_test(test_fetch_beyond_capture),
	    cmocka_unit_test(test_fetch_partial_batch),
	    cmocka_unit_test(test_fetch_session_parts),
	    cmocka_unit_test(test_offset_commit),
	    cmocka_unit_test(test_timing_only),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_inflight_bound),
	    cmocka_unit_test(test_split_every_offset),
	    cmocka_unit_test(test_mid_stream_start),
	    cmocka_unit_test(test_garbage_broken),
	    cmocka_unit_test(test_truncated_bodies),
	    cmocka_unit_test(test_sniffing),
	    cmocka_unit_test(test_topic_names),
	    cmocka_unit_test(test_record_trace_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
