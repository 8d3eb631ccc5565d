// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "export/zipkin.h"
#include "export/zipkin_kafka.h"

#define DELIVERY_TIMEOUT_MS 5000 /* message.timeout.ms: then the queue retries */
#define POLL_MS 100              /* how often a wait looks at span_queue__cancelled */

struct zipkin_kafka {
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic;
	struct span_queue *q;
	struct zbuf body;
	char *brokers;
	bool failing;
	/* The delivery report of the message in flight (sender thread only). */
	bool delivered;
	rd_kafka_resp_err_t err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct zipkin_kafka *z = opaque;

	(void)rk;
	z->delivered = true;
	z->err = m->err;
}

/* One line when exporting starts failing and one when it recovers. */
static void report(struct zipkin_kafka *z, rd_kafka_resp_err_t err)
{
	if (!err) {
		if (z->failing)
			fprintf(stderr, "sonde: zipkin-kafka: %s: exporting again\n", z->brokers);
		z->failing = false;
		return;
	}
	if (!z->failing)
		fprintf(stderr, "sonde: zipkin-kafka: %s: %s (retrying)\n", z->brokers,
			rd_kafka_err2str(err));
	z->failing = true;
}

static enum span_send_res kafka_send(void *ctx, struct span_queue *q, const struct span *s,
				     size_t n)
{
	struct zipkin_kafka *z = ctx;

	zbuf_reset(&z->body);
	if (zipkin_list_json(&z->body, s, n) < 0 || z->body.oom)
		return SPAN_SEND_DROP;
	z->delivered = false;
	z->err = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (rd_kafka_produce(z->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, z->body.p,
			     z->body.len, NULL, 0, NULL) == -1) {
		report(z, rd_kafka_last_error());
		return SPAN_SEND_RETRY;
	}
	/* Wait for its delivery report; librdkafka times a message out by itself. */
	while (!z->delivered && !span_queue__cancelled(q))
		rd_kafka_poll(z->rk, POLL_MS);
	if (!z->delivered)
		return SPAN_SEND_RETRY;
	report(z, z->err);
	if (!z->err)
		return SPAN_SEND_OK;
	return z->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? SPAN_SEND_DROP : SPAN_SEND_RETRY;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "sonde: zipkin-kafka: %s=%s: %s\n", k, v, err);
		return -1;
	}
	return 0;
}

static void zk_free(struct zipkin_kafka *z)
{
	if (z->topic)
		rd_kafka_topic_destroy(z->topic);
	if (z->rk)
		rd_kafka_destroy(z->rk);
	zbuf_free(&z->body);
	free(z->brokers);
	free(z);
}

struct zipkin_kafka *zipkin_kafka__start(const char *brokers, const struct span_queue_opts *o)
{
	struct span_queue_opts opts = { 0 };
	struct zipkin_kafka *z = calloc(1, sizeof(*z));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char timeout[16], err[256];

	if (o)
		opts = *o;
	if (!opts.name)
		opts.name = "sonde-zkafka";
	if (!z || !conf || !(z->brokers = strdup(brokers)))
		goto fail;
	snprintf(timeout, sizeof(timeout), "%d", DELIVERY_TIMEOUT_MS);
	/* Spans are a batch per message, and the queue already batches: send at once. */
	if (set(conf, "bootstrap.servers", brokers) || set(conf, "linger.ms", "0") ||
	    set(conf, "message.timeout.ms", timeout) || set(conf, "client.id", "sonde"))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, z);
	z->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!z->rk) {
		fprintf(stderr, "sonde: zipkin-kafka: %s\n", err);
		goto fail;
	}
	conf = NULL; /* the handle owns it */
	z->topic = rd_kafka_topic_new(z->rk, ZIPKIN_KAFKA_TOPIC, NULL);
	if (!z->topic)
		goto fail;
	z->q = span_queue__start(&opts, kafka_send, z);
	if (!z->q)
		goto fail;
	return z;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (z)
		zk_free(z);
	errno = EINVAL;
	return NULL;
}

void zipkin_kafka__stop(struct zipkin_kafka *z)
{
	if (!z)
		return;
	span_queue__stop(z->q); /* joins the sender: the handle is ours again */
	span_queue__free(z->q);
	rd_kafka_flush(z->rk, 1000);
	zk_free(z);
}

void zipkin_kafka__put(void *ctx, const struct span *s, size_t n)
{
	struct zipkin_kafka *z = ctx;

	span_queue__submit(z->q, s, n);
}

void zipkin_kafka__stats(const struct zipkin_kafka *z, struct span_queue_stats *st)
{
	span_queue__stats(z->q, st);
}
