/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The exchange: one completed call, whatever its protocol, as the agent
 * builds it once from a parser's output, and the only thing its sinks see
 * (metrics, spans, and later logs and rules). It borrows: strings point into
 * the parser's output and the connection record, valid for the duration of
 * the sink call only; a sink that keeps something copies it.
 */
#ifndef SONDE_EXCHANGE_H
#define SONDE_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s.h"
#include "sonde.h"

enum exchange_kind {
	EXCHANGE_SERVER = 0, /* a request the process served */
	EXCHANGE_CLIENT,     /* a request it made: HTTP, Redis, PostgreSQL, Kafka commits */
	EXCHANGE_PRODUCER,   /* a Kafka Produce */
	EXCHANGE_CONSUMER,   /* a Kafka Fetch */
};

enum exchange_proto {
	EXCHANGE_HTTP = 0,
	EXCHANGE_REDIS,
	EXCHANGE_PG,
	EXCHANGE_KAFKA,
	/*
	 * A call that failed below its protocol: connection refused, reset,
	 * timed out, or closed by the caller before any answer (net.app tells
	 * the protocol when the connection had one).
	 */
	EXCHANGE_NET,
};

/* trace_ctx.flags */
#define TRACE_SAMPLED  0x01 /* export its span */
#define TRACE_UNLINKED 0x02 /* a client call that could not be tied to one request: own root */
#define TRACE_REMOTE   0x04 /* the parent came from headers (another process or node) */
#define TRACE_JOINED   0x08 /* a server whose parent is an observed client call on this node */
/*
 * A Kafka CONSUMER part begun (as a root, or from its records' headers) for
 * want of its Produce: sonde may read the Produce's answer a moment later, or
 * another sonde instance may have published it (--correlation-redis); the
 * span sink asks both.
 */
#define TRACE_PENDING  0x10

/*
 * Where the call stands in a trace. trace_id all zero: no context (tracing
 * off); the sinks that need one skip the exchange.
 */
struct trace_ctx {
	uint8_t trace_id[16];
	uint64_t span_id;
	uint64_t parent_id; /* 0: a root */
	uint8_t flags;      /* TRACE_* */
};

enum exchange_trace_fmt {
	EXCHANGE_TRACE_NONE = 0,
	EXCHANGE_TRACE_TRACEPARENT = 1,
	EXCHANGE_TRACE_B3 = 2, /* the single-header form */
};

/* One topic-partition of a Kafka exchange. */
struct exchange_part {
	const char *topic;
	int32_t partition;
	int16_t error_code;
	uint32_t records;       /* sent (Produce) or received (Fetch) */
	int64_t base_offset;    /* Produce: the response's base offset; -1 unknown */
	int64_t fetch_offset;   /* Fetch: asked for; -1 unknown */
	int64_t next_offset;    /* Fetch: last received + 1; OffsetCommit: the offset committed */
	int64_t high_watermark; /* Fetch: -1 unknown */
	/*
	 * The context the records carry in their headers, when all of them
	 * carry one of the same trace: a W3C traceparent or a B3 single value.
	 */
	uint8_t trace_fmt;      /* enum exchange_trace_fmt */
	const char *trace;      /* the header's value when trace_fmt */
	/*
	 * Produce and Fetch: this topic-partition's own place in a trace (a span
	 * each), set by the tracer: a Produce's parts are the exchange's call; a
	 * Fetch's part continues the trace of the Produce that wrote its records
	 * when sonde saw it (offsets), else starts its own.
	 */
	struct trace_ctx ctx;
};

struct exchange {
	uint8_t kind;  /* enum exchange_kind */
	uint8_t proto; /* enum exchange_proto */
	bool error;    /* the call failed (5xx, error reply, ErrorResponse, error code, EXCHANGE_NET) */
	uint32_t service; /* index in the agent's services */
	const char *service_name;
	uint32_t tgid, tid; /* tid: the thread that made the request's first read or write; 0 unknown */
	const struct k8s_meta *k8s; /* the process's Kubernetes pod, NULL if none known */
	uint64_t conn_id;
	const struct sonde_conn_tuple *tuple; /* the connection's identity (zeroed if unknown) */
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC: first request byte, last response byte */
	/*
	 * operation: the HTTP method label (http_method_label), the Redis
	 * command, the SQL operation, "send" / "receive" / "commit" for Kafka.
	 * target: the HTTP request-target as sent (query included: sinks strip
	 * it), the Redis key ("" none), the SQL table ("" none), "" for Kafka.
	 * EXCHANGE_NET: operation is "connect", "send", "receive" or "close",
	 * target the unanswered request's (HTTP target, Redis key) or "".
	 */
	const char *operation;
	const char *target;
	int status;             /* HTTP status (0: none) */
	const char *error_code; /* SQLSTATE, Redis error kind, errno name or "no_response"; "" none */
	struct trace_ctx ctx;
	union {
		struct {
			const char *method; /* as sent */
			const char *host;
			const char *tracestate; /* W3C tracestate of the request ("" none) */
			uint8_t parse_error; /* enum http_error of the request */
			/*
			 * Bodies the HTTP parser kept (http_exchange's): only of
			 * the routes a business_metrics rule reads; NULL otherwise.
			 */
			const uint8_t *req_body, *resp_body;
			uint32_t req_body_len, resp_body_len;
			bool req_body_cut, resp_body_cut;
		} http;
		struct {
			uint16_t command_id, flags; /* redis_command_lookup's */
			bool nil;
			uint32_t elements, nil_elements;
		} redis;
		struct {
			const char *db; /* "" unknown */
			const char *statement; /* literals replaced by '?' ("" unknown) */
		} pg;
		struct {
			int16_t api_key;
			int16_t error_code; /* top-level */
			uint32_t nparts;
			const struct exchange_part *parts;
		} kafka;
		struct {
			const char *app;     /* "http", "redis", "postgresql", "kafka"; "" unknown */
			const char *request; /* the unanswered request: HTTP method, Redis command; "" */
		} net;
	};
};

/*
 * A line an observed process wrote to its stdout or stderr (--capture-app-logs),
 * with the context of the request its thread was serving when it wrote it.
 */
struct app_line {
	uint32_t service;
	const char *service_name;
	uint32_t tgid, tid, fd; /* fd: 1 stdout, 2 stderr */
	const struct k8s_meta *k8s; /* the process's Kubernetes pod, NULL if none known */
	uint64_t ts_ns;         /* CLOCK_MONOTONIC of the write that ended the line */
	const char *text;       /* not NUL-terminated, no '\n' */
	size_t len;
	bool truncated;
	bool has_ctx;           /* the thread served exactly one request: its span */
	struct trace_ctx ctx;
};

/* A request the kernel answered 429 (rate_limits:): the server never saw it. */
struct limited_request {
	const char *service_name;
	uint64_t ts_ns;         /* CLOCK_MONOTONIC */
	uint16_t family;        /* SONDE_AF_INET or SONDE_AF_INET6 */
	const uint8_t *addr;    /* the client's (16 bytes, IPv4 in the first 4) */
	uint16_t port;          /* the client's */
	const char *match;      /* the rule: "[METHOD ]/path" */
	unsigned limit;
	uint64_t window_ns;
	uint32_t retry_after;   /* seconds */
};

struct line_sink {
	void (*put)(void *ctx, const struct app_line *l);
	/* Writes whose bytes were not all captured: the lines in them are lost. */
	void (*lost)(void *ctx, uint32_t n);
	void *ctx;
};

/*
 * A sink: put receives the exchanges of one feed (n >= 1), in order. Called
 * from the capture thread only.
 */
struct sink {
	void (*put)(void *ctx, const struct exchange *x, size_t n);
	void *ctx;
};

#endif /* SONDE_EXCHANGE_H */
