/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection table: one record per observed (tgid, fd), holding the identity
 * the kernel reported and the protocol parser state. Owned by the capture
 * thread only: no locking.
 */
#ifndef SONDE_CONN_H
#define SONDE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sonde.h"

enum conn_proto {
	CONN_PROTO_UNKNOWN = 0, /* not decided yet: sniffing the first bytes */
	CONN_PROTO_HTTP,
	CONN_PROTO_REDIS,
	CONN_PROTO_PG,
	CONN_PROTO_KAFKA,
	CONN_PROTO_NONE,        /* not a protocol we parse, or broken: ignored */
	CONN_PROTO_LINES,       /* a target's stdout or stderr (--capture-app-logs) */
};

/*
 * The first records of a connection whose protocol is not decided yet, held
 * back in the direction its requests travel until the other side's answer
 * decides (agent.c, sniff): a request no sniffer recognises, answered by a
 * status line, was a malformed HTTP request, and is parsed as one.
 */
#define CONN_STASH_RECORDS 8
#define CONN_STASH_BYTES 8192
struct conn_stash_rec {
	uint64_t total; /* bytes the syscall moved */
	uint64_t ts;
	uint32_t tid;
	uint32_t off;   /* of its captured bytes in buf */
	uint32_t caplen;
	uint8_t dir;    /* enum sonde_dir */
};

struct conn_stash {
	uint32_t used;     /* bytes of buf */
	uint8_t n;         /* records */
	bool redis_inline; /* they read as Redis inline commands (or an HTTP lookalike) */
	bool overflow;     /* a record, or part of one, did not fit: not every byte is here */
	struct conn_stash_rec rec[CONN_STASH_RECORDS];
	uint8_t buf[CONN_STASH_BYTES];
};

struct conn {
	uint32_t tgid;
	uint32_t fd;
	uint64_t conn_id;
	uint32_t service;
	enum conn_proto proto;
	uint32_t sniffed;       /* data events looked at while UNKNOWN */
	bool capture_raised;    /* asked the kernel for a larger capture */
	bool walk_set;          /* told the kernel how to walk its large syscalls */
	bool failed;            /* a failed call (EXCHANGE_NET) went out for it */
	bool tls;               /* its records are its TLS library's plaintext (SONDE_F_TLS) */
	uint32_t desyncs;       /* the parser's framing losses counted so far */
	uint32_t dropped;       /* the parser's forgotten requests counted so far */
	uint64_t last_ts;       /* ts of the last event (for idle expiry) */
	struct sonde_conn_tuple tuple;
	void *parser;           /* owned: struct http_conn, redis_conn, pg_conn, kafka_conn or line_conn */
	struct conn_stash *stash; /* owned, while UNKNOWN and records are held back; else NULL */
	void *trace;            /* owned: struct trace_conn (trace.c) while tracing, else NULL */
	struct conn *next;      /* hash chain */
};

struct conn_table;

struct conn_table *conn_table__new(void);
/* Frees every record (and its parser state). Accepts NULL. */
void conn_table__free(struct conn_table *t);
struct conn *conn_table__get(struct conn_table *t, uint32_t tgid, uint32_t fd);
/* A zeroed record for (tgid, fd), which must not be in the table. NULL on ENOMEM. */
struct conn *conn_table__add(struct conn_table *t, uint32_t tgid, uint32_t fd);
/* Unlink and free c (and its parser state). */
void conn_table__del(struct conn_table *t, struct conn *c);
size_t conn_table__count(const struct conn_table *t);
/* Call fn on every record; records for which it returns true are deleted after the call. */
void conn_table__sweep(struct conn_table *t, bool (*fn)(struct conn *c, void *ctx), void *ctx);

#endif /* SONDE_CONN_H */
