/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Redis RESP2/RESP3 over one connection, as a pure function of the bytes seen
 * in each direction (same feeding contract as proto/http.h: per syscall, the
 * captured bytes, the total moved, a timestamp). No I/O, no globals, no
 * allocation: the caller embeds struct redis_conn.
 *
 * Requests are RESP arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
 * or inline commands ("PING\r\n"); replies are any RESP2/RESP3 value. Replies
 * are matched to requests in order (pipelining). One struct redis_exchange
 * per completed command.
 */
#ifndef SONDE_PROTO_REDIS_H
#define SONDE_PROTO_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDIS_CMD_MAX      32  /* command name, upper-cased, NUL included */
#define REDIS_KEY_MAX      128 /* first key, truncated, NUL included */
#define REDIS_ERR_MAX      24  /* first word of an error reply ("ERR", "WRONGTYPE") */
#define REDIS_PIPELINE_MAX 64  /* commands awaiting a reply */

enum redis_dir { REDIS_DIR_INGRESS = 0, REDIS_DIR_EGRESS = 1 };

/* What the parser knows of a command (redis_command_lookup, struct redis_exchange). */
#define REDIS_CMD_KEYLESS    0x01 /* its second argument is no key */
#define REDIS_CMD_INLINE     0x02 /* known to begin inline requests (sniffing, resync) */
#define REDIS_CMD_SUBSCRIBE  0x04 /* SUBSCRIBE PSUBSCRIBE SSUBSCRIBE */
#define REDIS_CMD_MONITOR    0x08 /* MONITOR PSYNC: a stream follows the reply */
#define REDIS_CMD_SYNC       0x10 /* SYNC: the reply is an RDB file, then a stream */
#define REDIS_CMD_HGETALL    0x20 /* an empty reply is nil (a missing hash) */
#define REDIS_CMD_CACHE_READ 0x40 /* redis_is_cache_read() */
#define REDIS_CMD_MULTI_READ 0x80 /* MGET HMGET: one reply element per key */
enum redis_role { REDIS_ROLE_UNKNOWN = 0, REDIS_ROLE_SERVER = 1, REDIS_ROLE_CLIENT = 2 };

struct redis_exchange {
	enum redis_role role;
	char command[REDIS_CMD_MAX]; /* "GET", "SET", "HGET", "MULTI", ... (upper case) */
	uint16_t command_id;         /* redis_command_lookup(command): 0 if unknown */
	uint16_t command_flags;      /* REDIS_CMD_*, 0 if unknown */
	char key[REDIS_KEY_MAX];     /* first key of keyed commands, "" otherwise; never values */
	bool error;                  /* the reply was an error (-ERR ..., !<len> bulk error) */
	char error_kind[REDIS_ERR_MAX]; /* "ERR", "WRONGTYPE", ... */
	bool nil;                    /* the reply was nil ($-1, *-1, _), or HGETALL's empty reply */
	uint32_t elements;           /* aggregate reply: its element count (map: entries) */
	uint32_t nil_elements;       /* aggregate reply: nil direct children (MGET misses) */
	uint64_t req_begin_ts;       /* ts of the feed carrying the command's first byte */
	uint64_t resp_end_ts;        /* ts of the feed carrying the reply's last byte */
};

/* Private state; in the header only so that callers can embed it. Fields: see redis.c. */
/*
 * Nested aggregates (attributes included) followed; deeper loses the framing
 * (Redis sets no limit: COMMAND DOCS nests 10 deep, subcommands' arguments).
 */
#define REDIS_DEPTH_MAX 32
#define REDIS_LINE_KEEP 256 /* first bytes of a line kept (type lines, inline commands) */

struct redis_half {
	uint8_t state;            /* enum half_state */
	uint8_t kind;             /* enum half_kind: commands, replies, or not known yet */
	uint8_t type;             /* type byte of the line or bulk string being read */
	uint8_t depth;            /* aggregates open */
	uint32_t attr;            /* bit d: aggregate d is an attribute */
	uint8_t cap;              /* enum cap: where the bulk string being read is copied */
	bool cr;                  /* the last byte of the line being read was '\r' */
	bool cand;                /* began out of step: until it ends, malformed means resync */
	bool want_key;            /* the command's second argument is its key */
	bool push, is_error, is_nil, is_agg; /* the reply being read */
	uint32_t frames_left[REDIS_DEPTH_MAX]; /* elements still expected per open aggregate */
	uint32_t line_len;        /* bytes of the line so far (all of them, kept or not) */
	uint32_t cap_len;         /* bytes copied from the bulk string being read */
	uint32_t arg_index;       /* command: which bulk string of the array this is */
	uint32_t nfeed;           /* feeds seen in this direction */
	uint32_t cand_feed;       /* nfeed of the feed where the candidate began */
	uint32_t elements, nil_elements;
	uint64_t bulk_left;       /* payload bytes of the bulk string still to come */
	uint64_t begin_ts;        /* ts of the feed with the message's first byte */
	char line[REDIS_LINE_KEEP];
	char error_kind[REDIS_ERR_MAX];
	char command[REDIS_CMD_MAX];
	char key[REDIS_KEY_MAX];
	uint16_t cmd_id, cmd_flags; /* of command, once its name is read */
	uint8_t last_len;           /* the last name classified: length (0: none), */
	uint16_t last_id, last_flags; /* result, */
	uint64_t last_k0, last_k1;  /* and bytes */
};

struct redis_pending {
	char command[REDIS_CMD_MAX];
	char key[REDIS_KEY_MAX];
	uint64_t begin_ts;
	uint16_t cmd_id, cmd_flags;
	uint32_t skip_before; /* commands forgotten just before this one: their replies come first */
};

struct redis_conn {
	enum redis_role role;
	bool broken;
	uint32_t desyncs;   /* times framing was lost to uncaptured bytes (see redis.c) */
	uint32_t dropped;   /* commands forgotten: more than REDIS_PIPELINE_MAX awaited replies */
	uint32_t skip_tail; /* of those, sent after the last pending one */
	bool subscribed;  /* (P|S)SUBSCRIBE, MONITOR, (P)SYNC: pair that reply, then stop */
	bool slow_only;   /* no fast path (tests: redis_conn_set_fast_path) */
	uint32_t npending, first;
	struct redis_pending pending[REDIS_PIPELINE_MAX];
	struct redis_half half[2];
};

void redis_conn_init(struct redis_conn *c, enum redis_role role_hint);

/*
 * For tests: whether whole, plain messages are read by the fast path (the
 * default) or by the general state machine alone. Both give the same
 * exchanges and leave the same state; tests/fuzz/fuzz_redis_diff.c checks it.
 */
void redis_conn_set_fast_path(struct redis_conn *c, bool on);

/*
 * Feed one syscall's bytes; same contract as http_conn_feed: returns the
 * number of exchanges written (<= max_out), or -1 once when the bytes are
 * malformed (then the connection is broken and later calls return 0).
 * Unseen bytes (total > caplen) inside a bulk string are skipped by length;
 * elsewhere they lose the framing (desyncs): the commands awaiting replies are
 * forgotten and both directions resync at a later syscall.
 */
int redis_conn_feed(struct redis_conn *c, enum redis_dir dir, const uint8_t *data, size_t caplen,
		    uint64_t total, uint64_t ts, struct redis_exchange *out, int max_out);

bool redis_conn_broken(const struct redis_conn *c);

/*
 * Do these bytes begin a command: "*<n>\r\n$<len>\r\n<letter>", or an inline
 * command ("PING\r\n", "GET k") whose word is a known Redis command?
 */
bool redis_looks_like_request(const uint8_t *data, size_t len);

/*
 * Is command a read of one cached value, whose nil reply is a cache miss? (GET GETEX GETDEL
 * HGET HMGET MGET HGETALL; for MGET and HMGET the misses are nil_elements.) HGETALL of a
 * missing hash answers an empty map or array: the parser reports that as nil, since Redis
 * never keeps an empty hash.
 */
bool redis_is_cache_read(const char *command);

/*
 * The parser's table of command names: the id (1 .. redis_command_count()) of
 * the command s[0..n) (any case), and its REDIS_CMD_* flags in *flags; 0 and
 * no flags for a name it does not know. Pure lookup, no allocation.
 */
int redis_command_lookup(const char *s, size_t n, uint16_t *flags);
int redis_command_count(void);
/* The upper-case name of an id, NULL if out of range. */
const char *redis_command_name(int id);

#endif /* SONDE_PROTO_REDIS_H */
