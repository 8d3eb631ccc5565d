/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kafka wire protocol over one connection, as a pure function of the bytes
 * seen in each direction (same feeding contract as proto/http.h). No I/O, no
 * globals, no allocation: the caller embeds struct kafka_conn.
 *
 * Every request is [int32 size][int16 api_key][int16 api_version][int32
 * correlation_id][client_id][...]; its response is [int32 size][int32
 * correlation_id][...], matched by correlation id. Produce (0), Fetch (1) and
 * OffsetCommit (8) bodies are decoded, in the versions librdkafka 2.0 speaks,
 * flexible versions (compact strings/arrays, tagged fields) included; other
 * APIs are timed and skipped by length. Record batches are counted from their
 * headers (base offset, last offset delta, record count), so a batch larger
 * than the capture still counts; the records themselves are read, when kept
 * whole and uncompressed, only for their trace headers (never keys or values).
 */
#ifndef SONDE_PROTO_KAFKA_H
#define SONDE_PROTO_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KAFKA_TOPIC_MAX 128 /* topic name, truncated, NUL included */
#define KAFKA_CLIENT_MAX 64
#define KAFKA_PARTS_MAX 32    /* topic-partitions reported per exchange */
#define KAFKA_INFLIGHT_MAX 32 /* requests awaiting a response */
#define KAFKA_TRACE_MAX 80    /* a record's trace header value, NUL included */

/*
 * The trace context the records of one topic-partition carry in their headers
 * (a producer that propagates: `traceparent` or `b3`). Reported only when every
 * record of the topic-partition was read (uncompressed, captured) and all carry
 * the same trace id: the value of the first one.
 */
enum kafka_trace_kind { KAFKA_TRACE_NONE = 0, KAFKA_TRACE_TRACEPARENT = 1, KAFKA_TRACE_B3 = 2 };

enum kafka_dir { KAFKA_DIR_INGRESS = 0, KAFKA_DIR_EGRESS = 1 };
enum kafka_role { KAFKA_ROLE_UNKNOWN = 0, KAFKA_ROLE_SERVER = 1, KAFKA_ROLE_CLIENT = 2 };

enum kafka_api { KAFKA_API_PRODUCE = 0, KAFKA_API_FETCH = 1, KAFKA_API_OFFSET_COMMIT = 8 };

/* One topic-partition of a Produce or Fetch exchange. */
struct kafka_part {
	char topic[KAFKA_TOPIC_MAX];
	int32_t partition;
	int16_t error_code;   /* from the response */
	uint32_t records;     /* Produce: records sent (request batches); Fetch: records received */
	int64_t base_offset;  /* Produce: response base offset; -1 if unknown */
	int64_t fetch_offset; /* Fetch: offset asked for in the request; -1 if unknown */
	int64_t next_offset;  /* Fetch: last offset received + 1, else fetch_offset;
			       * OffsetCommit: the offset committed */
	int64_t high_watermark; /* Fetch: from the response; -1 if unknown */
	uint8_t trace_kind;     /* enum kafka_trace_kind */
	char trace[KAFKA_TRACE_MAX]; /* the records' trace header, when trace_kind */
};

struct kafka_exchange {
	enum kafka_role role;
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	char client_id[KAFKA_CLIENT_MAX];
	int16_t error_code; /* top-level error where the API has one, else 0 */
	uint64_t req_begin_ts;
	uint64_t resp_end_ts;
	uint32_t nparts;      /* entries in parts[] */
	bool parts_truncated; /* more topic-partitions than KAFKA_PARTS_MAX, or unreadable */
	struct kafka_part parts[KAFKA_PARTS_MAX];
};

/* Private state (see kafka.c); in the header only so callers can embed it. */
#define KAFKA_BUF_MAX 4096    /* first bytes of a message kept (SONDE_CAPTURE_MAX) */
#define KAFKA_REQ_PARTS_MAX 8 /* topic-partitions kept per in-flight request */

struct kafka_half {
	uint8_t state;		    /* enum half_state */
	uint8_t kind;		    /* enum half_kind: requests, responses, or not known yet */
	uint8_t nsize;		    /* bytes of the size prefix read */
	bool partial;		    /* some of the message was not captured: buf ends at have */
	uint8_t size[4];	    /* the size prefix so far */
	uint32_t have;		    /* bytes of buf filled */
	uint32_t msize;		    /* the current message's size (its prefix excluded) */
	uint64_t left;		    /* bytes of the current message still to come */
	uint64_t begin_ts;	    /* ts of the feed with the message's first byte */
	uint8_t buf[KAFKA_BUF_MAX]; /* the first bytes of the current message, after its size */
};

/* What a request said about one topic-partition. */
struct kafka_req_part {
	char topic[KAFKA_TOPIC_MAX];
	int32_t partition;
	uint32_t records;
	int64_t fetch_offset;
	uint8_t trace_kind;
	char trace[KAFKA_TRACE_MAX];
};

struct kafka_inflight {
	int32_t correlation_id;
	int16_t api_key, api_version;
	uint64_t begin_ts;
	char client_id[KAFKA_CLIENT_MAX];
	uint32_t nparts;
	bool parts_truncated;
	struct kafka_req_part parts[KAFKA_REQ_PARTS_MAX];
};

struct kafka_conn {
	enum kafka_role role;
	bool broken;
	uint32_t desyncs;	   /* times framing was lost to uncaptured bytes */
	uint32_t dropped;	   /* requests forgotten: more than KAFKA_INFLIGHT_MAX awaited one */
	uint32_t ninflight, first; /* ring of requests awaiting a response */
	struct kafka_inflight inflight[KAFKA_INFLIGHT_MAX];
	struct kafka_half half[2];
};

void kafka_conn_init(struct kafka_conn *c, enum kafka_role role_hint);

/* Same contract as http_conn_feed. */
int kafka_conn_feed(struct kafka_conn *c, enum kafka_dir dir, const uint8_t *data, size_t caplen,
		    uint64_t total, uint64_t ts, struct kafka_exchange *out, int max_out);

bool kafka_conn_broken(const struct kafka_conn *c);

/* Do these bytes begin a Kafka request (plausible size, known api key and
 * version, client id length that fits)? */
bool kafka_looks_like_request(const uint8_t *data, size_t len);

#endif /* SONDE_PROTO_KAFKA_H */
