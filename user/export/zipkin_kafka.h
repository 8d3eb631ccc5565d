/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Zipkin Kafka exporter (--zipkin-kafka BROKERS): the same Zipkin v2 JSON
 * lists as the HTTP exporter, one list per message, to topic "zipkin", as
 * Zipkin's Kafka collector reads them. librdkafka, driven from the span
 * queue's sender thread (export/span_queue.h): batching, retries and drop
 * counting are the queue's. A message librdkafka could not deliver within
 * the timeout is retried, then dropped and counted.
 */
#ifndef SONDE_EXPORT_ZIPKIN_KAFKA_H
#define SONDE_EXPORT_ZIPKIN_KAFKA_H

#include <stddef.h>

#include "export/span_queue.h"
#include "span.h"

#define ZIPKIN_KAFKA_TOPIC "zipkin"

struct zipkin_kafka;

/*
 * brokers: librdkafka's bootstrap.servers ("host:port[,host:port]"). o may be
 * NULL (the queue's defaults). NULL and errno on failure.
 */
struct zipkin_kafka *zipkin_kafka__start(const char *brokers, const struct span_queue_opts *o);
/* Flush what is queued (the queue's stop budget), then stop and free. Accepts NULL. */
void zipkin_kafka__stop(struct zipkin_kafka *z);
/* A span sink output (span_out_fn): ctx is the zipkin_kafka. Never blocks. */
void zipkin_kafka__put(void *ctx, const struct span *s, size_t n);
void zipkin_kafka__stats(const struct zipkin_kafka *z, struct span_queue_stats *st);

#endif /* SONDE_EXPORT_ZIPKIN_KAFKA_H */
