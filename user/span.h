/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A finished span, as the span sink hands it to whatever keeps or exports it
 * (the recent-trace store, the Zipkin exporters). Self-contained: fixed-size
 * strings, no pointers, so that it can be copied into queues and outlive the
 * exchange it came from. Wire formats (Zipkin v2 JSON) live in export/.
 */
#ifndef SONDE_SPAN_H
#define SONDE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPAN_NAME_MAX    128
#define SPAN_SERVICE_MAX 64
#define SPAN_TAGS_MAX    14 /* 10 of the call, 4 of its pod */
#define SPAN_TAG_KEY_MAX 32
#define SPAN_TAG_VAL_MAX 128

enum span_kind {
	SPAN_KIND_SERVER = 0,
	SPAN_KIND_CLIENT,
	SPAN_KIND_PRODUCER,
	SPAN_KIND_CONSUMER,
};

/* An endpoint: service name (may be ""), IPv4 or IPv6 address (family 0: none), port (0: none). */
struct span_endpoint {
	char service[SPAN_SERVICE_MAX];
	uint8_t family; /* 0, 4 or 6 */
	uint8_t addr[16];
	uint16_t port;
};

struct span_tag {
	char key[SPAN_TAG_KEY_MAX];
	char value[SPAN_TAG_VAL_MAX];
};

struct span {
	uint8_t trace_id[16]; /* 128 bits; never all zero */
	uint64_t id;          /* never 0 */
	uint64_t parent_id;   /* 0: a root */
	uint8_t kind;         /* enum span_kind */
	bool shared;          /* a SERVER span that shares its id with the caller's CLIENT span */
	uint32_t pid;         /* the observed process (OTLP's resource process.pid) */
	char name[SPAN_NAME_MAX];
	uint64_t timestamp_us; /* wall clock, µs since the epoch */
	uint64_t duration_us;  /* >= 1 */
	struct span_endpoint local, remote;
	uint8_t ntags;
	struct span_tag tags[SPAN_TAGS_MAX];
};

/* Lowercase hex of a trace id (32 characters + NUL) and of a span id (16 + NUL). */
void span_trace_hex(const uint8_t id[16], char out[33]);
void span_id_hex(uint64_t id, char out[17]);

/* The value of a hex digit, or -1. */
int span_hexval(char c);
/* A trace id from 32 hex digits, or 16 (the high half zero). 0, or -1 if it is not one. */
int span_trace_parse(const char *hex, uint8_t id[16]);

/*
 * CLOCK_REALTIME - CLOCK_MONOTONIC now: added to a kernel timestamp
 * (bpf_ktime_get_ns, monotonic) it gives wall time. Taken once by each sink.
 */
int64_t span_clock_offset_ns(void);

/* dst = src, truncated to cap - 1 bytes (without printf's cost: spans are built per call). */
void span_copy(char *dst, size_t cap, const char *src);
/* The bytes of s that hold something: its fixed part and its ntags tags (the rest is unused). */
size_t span_size(const struct span *s);

/* Add a tag (truncating key and value); ignored when the span has SPAN_TAGS_MAX already. */
void span_tag(struct span *s, const char *key, const char *value);

#endif /* SONDE_SPAN_H */
