// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the span sink's held CONSUMER spans (a Produce seen late, --correlation-redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sinks/span_sink.h"

struct fixture {
	struct span out[8];
	int nout;
	bool known; /* what the resolver answers */
	int asked;
	bool local_known; /* what the local resolver answers */
	int local_asked;
	uint8_t local_flags;
};

static void capture(void *ctx, const struct span *s, size_t n)
{
	struct fixture *f = ctx;

	for (size_t i = 0; i < n && f->nout < 8; i++)
		f->out[f->nout++] = s[i];
}

static bool resolve(void *ctx, const char *topic, int32_t partition, int64_t from, int64_t to,
		    struct trace_ctx *out)
{
	struct fixture *f = ctx;

	f->asked++;
	assert_string_equal(topic, "orders");
	assert_true(partition == 2 && from == 10 && to == 13);
	if (!f->known)
		return false;
	memset(out, 0, sizeof(*out));
	out->trace_id[0] = 0xab;
	out->span_id = 0x77;
	out->flags = TRACE_SAMPLED;
	return true;
}

/* The Produces this agent saw: known once local_known, as trace 0xcd, span 0x99. */
static bool local(void *ctx, const char *topic, int32_t partition, int64_t from, int64_t to,
		  uint8_t flags, struct trace_ctx *out)
{
	struct fixture *f = ctx;

	f->local_asked++;
	f->local_flags = flags;
	assert_string_equal(topic, "orders");
	assert_true(partition == 2 && from == 10 && to == 13);
	if (!f->local_known)
		return false;
	memset(out, 0, sizeof(*out));
	out->trace_id[0] = 0xcd;
	out->span_id = 0x99;
	out->flags = TRACE_SAMPLED;
	return true;
}

/* A Fetch of orders/2 [10, 13) that nothing joined: a root marked TRACE_PENDING. */
static struct exchange fetch(struct exchange_part *p, uint64_t end_ns)
{
	struct exchange x;

	memset(&x, 0, sizeof(x));
	memset(p, 0, sizeof(*p));
	x.kind = EXCHANGE_CONSUMER;
	x.proto = EXCHANGE_KAFKA;
	x.service_name = "consumer";
	x.start_ns = end_ns - 1000;
	x.end_ns = end_ns;
	x.operation = "receive";
	x.target = "";
	x.error_code = "";
	x.kafka.nparts = 1;
	x.kafka.parts = p;
	p->topic = "orders";
	p->partition = 2;
	p->records = 3;
	p->fetch_offset = 10;
	p->next_offset = 13;
	p->base_offset = -1;
	p->high_watermark = -1;
	p->ctx.trace_id[15] = 1;
	p->ctx.span_id = 0x55;
	p->ctx.flags = TRACE_SAMPLED | TRACE_PENDING;
	x.ctx = p->ctx;
	return x;
}

/* A sink whose spans go to f, asking resolve when with_resolver. */
static struct span_sink *sink(struct fixture *f, bool with_resolver)
{
	struct span_sink *ss = span_sink__new(NULL);

	assert_non_null(ss);
	span_sink__add_out(ss, capture, f);
	if (with_resolver)
		span_sink__set_resolver(ss, resolve, f);
	return ss;
}

static void test_held_then_joined(void **state)
{
	struct fixture f = { 0 };
	struct span_sink *ss = sink(&f, true);
	struct exchange_part p;
	struct exchange x = fetch(&p, 1000000000ULL);
	uint64_t joined, unjoined;

	(void)state;
	span_sink__put(ss, &x, 1);
	assert_int_equal(f.nout, 0); /* held */
	span_sink__tick(ss, 1500000000ULL);
	assert_int_equal(f.nout, 0); /* still unknown, within its second */
	f.known = true;
	span_sink__tick(ss, 1600000000ULL);
	assert_int_equal(f.nout, 1);
	assert_int_equal(f.out[0].trace_id[0], 0xab);
	assert_true(f.out[0].parent_id == 0x77 && f.out[0].id == 0x55);
	assert_int_equal(f.out[0].kind, SPAN_KIND_CONSUMER);
	span_sink__correlation(ss, &joined, &unjoined);
	assert_true(joined == 1 && unjoined == 0 && f.asked == 3);
	span_sink__free(ss);
}

static void test_held_then_sent_as_root(void **state)
{
	struct fixture f = { 0 };
	struct span_sink *ss = sink(&f, true);
	struct exchange_part p;
	struct exchange x = fetch(&p, 1000000000ULL);
	uint64_t joined, unjoined;

	(void)state;
	span_sink__put(ss, &x, 1);
	span_sink__tick(ss, 2000000001ULL); /* its second is over */
	assert_int_equal(f.nout, 1);
	assert_true(f.out[0].parent_id == 0 && f.out[0].trace_id[15] == 1);
	span_sink__correlation(ss, &joined, &unjoined);
	assert_true(joined == 0 && unjoined == 1);
	/* Without a resolver, the same exchange's span goes out at once. */
	span_sink__free(ss);
	f.nout = 0;
	ss = sink(&f, false);
	span_sink__put(ss, &x, 1);
	assert_int_equal(f.nout, 1);
	span_sink__free(ss);
}

/*
 * The consumer read the records before sonde read the Produce's answer: held,
 * then the child of the Produce seen here, asked first (not a correlation join).
 */
static void test_held_then_local(void **state)
{
	struct fixture f = { 0 };
	struct span_sink *ss = sink(&f, true);
	struct exchange_part p;
	struct exchange x = fetch(&p, 1000000000ULL);
	uint64_t joined, unjoined;

	(void)state;
	span_sink__set_local(ss, local, &f);
	p.ctx.flags |= TRACE_REMOTE; /* its records carried a context */
	span_sink__put(ss, &x, 1);
	assert_int_equal(f.nout, 0);
	assert_int_equal(f.local_flags, TRACE_SAMPLED | TRACE_PENDING | TRACE_REMOTE);
	f.local_known = f.known = true;
	span_sink__tick(ss, 1100000000ULL);
	assert_int_equal(f.nout, 1);
	assert_int_equal(f.out[0].trace_id[0], 0xcd);
	assert_true(f.out[0].parent_id == 0x99 && f.out[0].id == 0x55);
	span_sink__correlation(ss, &joined, &unjoined);
	assert_true(joined == 0 && unjoined == 0 && f.asked == 1 && f.local_asked == 2);
	/* Local only: a part never joined goes out as it was after its second, uncounted. */
	span_sink__free(ss);
	memset(&f, 0, sizeof(f));
	ss = sink(&f, false);
	span_sink__set_local(ss, local, &f);
	span_sink__put(ss, &x, 1);
	span_sink__tick(ss, 1900000000ULL);
	assert_int_equal(f.nout, 0);
	span_sink__tick(ss, 2000000001ULL);
	assert_int_equal(f.nout, 1);
	assert_true(f.out[0].parent_id == 0 && f.out[0].trace_id[15] == 1);
	span_sink__correlation(ss, &joined, &unjoined);
	assert_true(joined == 0 && unjoined == 0 && f.asked == 0);
	span_sink__free(ss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_held_then_joined),
	    cmocka_unit_test(test_held_then_sent_as_root),
	    cmocka_unit_test(test_held_then_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
