/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * PostgreSQL frontend/backend protocol v3 over one connection, as a pure
 * function of the bytes seen in each direction (same feeding contract as
 * proto/http.h). No I/O, no globals, no allocation.
 *
 * Frontend: StartupMessage (and SSLRequest/GSSENCRequest), Query 'Q',
 * Parse 'P' / Bind 'B' / Describe 'D' / Execute 'E' / Sync 'S', Terminate 'X'.
 * Backend: CommandComplete 'C', ErrorResponse 'E', ReadyForQuery 'Z', and the
 * rest skipped by length. One struct pg_exchange per statement: a simple
 * query (each statement of a multi-statement 'Q' string is one), or an
 * extended-protocol Execute (several may be pipelined before one Sync).
 */
#ifndef SONDE_PROTO_POSTGRES_H
#define SONDE_PROTO_POSTGRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_OP_MAX      16  /* "SELECT", "INSERT", ... */
#define PG_TABLE_MAX   64
#define PG_DB_MAX      64
#define PG_PENDING_MAX 64
#define PG_STMTS_MAX   32  /* prepared statements remembered per connection */
#define PG_STMT_MAX    128 /* statement text kept, literals replaced by '?' (NUL included) */

enum pg_dir { PG_DIR_INGRESS = 0, PG_DIR_EGRESS = 1 };
enum pg_role { PG_ROLE_UNKNOWN = 0, PG_ROLE_SERVER = 1, PG_ROLE_CLIENT = 2 };

struct pg_exchange {
	enum pg_role role;
	char operation[PG_OP_MAX]; /* first keyword, upper case: SELECT INSERT UPDATE DELETE BEGIN COMMIT ... ("OTHER" if none) */
	char table[PG_TABLE_MAX];  /* first relation after FROM / INTO / UPDATE, lower case, "" if none */
	char db[PG_DB_MAX];        /* "database" from the startup message, "" if not seen */
	/*
	 * The statement with every literal (strings, numbers, dollar-quoted
	 * bodies) and parameter replaced by '?', comments dropped, blanks
	 * folded; "..." ends one longer than PG_STMT_MAX - 1 or cut by the capture.
	 */
	char statement[PG_STMT_MAX];
	bool error;                /* ErrorResponse */
	char sqlstate[6];          /* its SQLSTATE ("42P01"), "" if none */
	uint64_t req_begin_ts;     /* ts of the feed carrying the statement's first byte */
	uint64_t resp_end_ts;      /* ts of the feed carrying its completion (CommandComplete/ErrorResponse) */
};

/*
 * Private state; in the header only so that callers can embed it. Fields are
 * private to postgres.c.
 */

/* Streaming SQL scanner: statement boundaries, operation and table. */
struct pg_sql {
	uint8_t lex;          /* lexer state (word, literal, comment, dollar quote...) */
	uint8_t cmt_depth;    /* nesting of block comments */
	uint8_t tag_len;      /* dollar-quote tag */
	uint8_t tag_pos;      /* bytes of the closing tag matched */
	bool estr;            /* E'...' literal: backslash escapes */
	bool any;             /* the statement has a token (not only blanks/comments) */
	bool first;           /* its first token was seen */
	bool done;            /* the top-level table is known */
	uint8_t expect;       /* a table name (or the '.' of a qualified one) may follow */
	uint8_t prev;         /* keyword class of the previous token */
	uint8_t wlen;         /* bytes in word[] */
	bool wover;           /* the word did not fit */
	uint16_t depth;       /* parenthesis depth */
	uint16_t kw_depth;    /* depth of the FROM/INTO/UPDATE whose name is expected */
	uint8_t tlen;         /* bytes in text[] */
	bool tspace;          /* blanks or a comment since the last token */
	bool tover;           /* the text did not fit, or was cut */
	char tag[32];
	char word[PG_TABLE_MAX];
	char op[PG_OP_MAX];
	char cand[PG_TABLE_MAX];  /* name being read after FROM/INTO/UPDATE */
	char table[PG_TABLE_MAX]; /* first one at parenthesis depth 0 */
	char inner[PG_TABLE_MAX]; /* first one inside parentheses (fallback) */
	char text[PG_STMT_MAX];   /* the statement, literals replaced (see pg_exchange) */
};

/* One direction: message framing and the fields of the message being read. */
struct pg_half {
	uint8_t state;
	bool tentative;       /* resynchronised on a guess: a bad message is no error yet */
	uint8_t hdr_len;
	uint8_t hdr[8];       /* type byte + length, or startup length + code */
	uint8_t type;         /* message type, 0 for a startup-phase packet */
	uint8_t kind;         /* startup-phase packet kind */
	uint8_t field;        /* which NUL-terminated field of the body is being read */
	uint8_t aux;          /* ErrorResponse field type, startup parameter name class */
	uint8_t flen;         /* bytes in fbuf[] */
	bool fover;           /* the field did not fit in fbuf[] */
	bool got;             /* ErrorResponse: SQLSTATE taken; Query: a statement pushed */
	char fbuf[64];        /* the field being collected (statement name, value, SQLSTATE) */
	uint64_t left;        /* bytes of the current message body still to come */
	uint64_t msg_ts;      /* ts of the feed carrying the current message's first byte */
};

struct pg_pending {
	char operation[PG_OP_MAX];
	char table[PG_TABLE_MAX];
	char statement[PG_STMT_MAX];
	uint64_t begin_ts;
	uint32_t batch;       /* Query or Sync batch it belongs to (one ReadyForQuery each) */
};

struct pg_stmt {
	char name[64];
	char operation[PG_OP_MAX];
	char table[PG_TABLE_MAX];
	char statement[PG_STMT_MAX];
	uint32_t used;        /* last use, for replacement (0 = free) */
};

struct pg_conn {
	enum pg_role role;
	bool broken;
	bool encrypted;       /* SSLRequest answered 'S': nothing more to parse */
	bool startup_done;
	bool db_named;        /* db[] came from "database" (not the "user" fallback) */
	bool requested;       /* SSLRequest/GSSENCRequest sent: encrypted bytes may follow */
	bool fe_open;         /* extended-protocol messages sent since the last Sync */
	bool group_open;      /* Parse/Bind sent, their Execute not yet */
	bool fe_lost;         /* frontend framing lost (unseen bytes beyond a message) */
	bool lost_exec;       /* ... while a statement was being bound: its Execute was unseen */
	bool be_lost;         /* backend framing lost while answering */
	uint32_t desyncs;     /* times a direction's framing was lost to uncaptured bytes */
	uint32_t dropped;     /* statements forgotten: more than PG_PENDING_MAX awaited completion */
	char db[PG_DB_MAX];
	uint32_t npending, first;
	uint32_t fe_seq;      /* batches sent (startup, Query, Sync, FunctionCall) */
	uint32_t be_seq;      /* batches answered (ReadyForQuery) */
	uint32_t tick;        /* statement table use counter */
	uint64_t group_ts;    /* ts of the first message of the statement being bound */
	uint64_t be_lost_ts;  /* ts of the last backend feed since its framing was lost */
	struct pg_pending pending[PG_PENDING_MAX];
	struct pg_stmt stmts[PG_STMTS_MAX]; /* Parse'd statements, by name ("" = unnamed) */
	struct pg_half half[2];
	struct pg_sql sql;    /* the frontend's Query/Parse text */
	char bound_op[PG_OP_MAX];   /* statement of the last Bind (or Parse) */
	char bound_table[PG_TABLE_MAX];
	char bound_stmt[PG_STMT_MAX];
};

void pg_conn_init(struct pg_conn *c, enum pg_role role_hint);

/* Same contract as http_conn_feed. */
int pg_conn_feed(struct pg_conn *c, enum pg_dir dir, const uint8_t *data, size_t caplen,
		 uint64_t total, uint64_t ts, struct pg_exchange *out, int max_out);

bool pg_conn_broken(const struct pg_conn *c);
bool pg_conn_encrypted(const struct pg_conn *c);
/* A statement is in flight (sent, not completed): the connection is "active". */
bool pg_conn_busy(const struct pg_conn *c);

/* Do these bytes begin a startup message (protocol 3.0), an SSLRequest, or a
 * frontend message 'Q'/'P' with a plausible length? */
bool pg_looks_like_frontend(const uint8_t *data, size_t len);

/*
 * Operation and table of a SQL text (pure helper, exposed for tests): skips
 * comments and whitespace, takes the first keyword upper-cased as operation
 * and the first identifier after FROM / INTO / UPDATE (schema-qualified names
 * keep the table part, quotes removed, lower-cased) as table. Never copies
 * literals.
 */
void pg_sql_summary(const char *sql, size_t len, char *op, size_t opsz, char *table,
		    size_t tablesz);

/* The first statement of a SQL text as pg_exchange.statement gives it (pure helper). */
void pg_sql_statement(const char *sql, size_t len, char *out, size_t outsz);

#endif /* SONDE_PROTO_POSTGRES_H */
