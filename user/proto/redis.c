// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Redis RESP2/RESP3 framing and command/reply pairing (see redis.h).
 *
 * Each direction ("half") runs a streaming RESP decoder over the bytes of one
 * syscall at a time: a type byte, the rest of its line up to CRLF, then for
 * bulk strings a payload of the declared length and a CRLF, for aggregates
 * their elements. Only what the exchange needs is kept (the command name, the
 * first key, the first word of an error); payloads are skipped by length, so
 * unseen bytes inside one cost nothing and do not lose the framing.
 *
 * sonde may attach to a connection in the middle of a message, so a half
 * starts out of step (resync). Only a feed that *begins* with something that
 * can start a message brings it back in step, and only tentatively: that
 * "candidate" is checked as it is read, and if it turns out malformed before
 * its end, its bytes were more of whatever came before (back to resync, not
 * broken); if the capture ends before it does, it was what it looked like and
 * the framing is lost (lose_sync). Once a whole message was read, the half is
 * in step and anything malformed breaks the connection.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis.h"

enum half_state {
	ST_RESYNC = 0, /* out of step: wait for a feed that begins a message */
	ST_IDLE,       /* in step, between messages */
	ST_TYPE,       /* in a message, a value's type byte comes next */
	ST_LINE,       /* the rest of a type byte's line, up to CRLF */
	ST_INLINE,     /* an inline command, up to LF */
	ST_BULK,       /* a bulk string's payload */
	ST_BULK_CR,    /* the CRLF after it */
	ST_BULK_LF,    /* (its LF) */
	ST_DONE,       /* pub/sub, MONITOR, replication: nothing to pair, ignore all */
};

enum half_kind {
	KIND_ANY = 0, /* role unknown yet: look for commands in both directions */
	KIND_CMD = 1,
	KIND_REPLY = 2,
};

/* Where the bulk string being read is copied. */
enum cap { CAP_NONE = 0, CAP_CMD, CAP_KEY, CAP_ERR };

/* Redis's own limits: proto-max-bulk-len (512 MiB), PROTO_INLINE_MAX_SIZE (64 KiB). */
#define LEN_MAX (512LL * 1024 * 1024)
#define LINE_MAX (64U * 1024)

/* One call to redis_conn_feed(). */
struct feed {
	struct redis_conn *c;
	struct redis_half *h;
	enum redis_dir dir;
	const uint8_t *data;
	size_t len;
	size_t off;
	uint64_t unseen;
	uint64_t unseen0; /* unseen as the feed came, for a restart */
	uint64_t ts;
	struct redis_exchange *out;
	int max_out;
	int n;
};

/*
 * Every command the parser knows something about, sorted (strcmp order: the
 * lookup is a binary search), with what it knows:
 *  KL  the second argument is no key (a subcommand, a password, a script, a count...)
 *  IN  an inline request may begin with it (tells one from other text when out of step)
 *  SUB MON SYN  after it, no more replies to pair (pub/sub, MONITOR/PSYNC, SYNC)
 *  HGA HGETALL (an empty reply is a miss)
 *  CR  a read of one cached value (redis_is_cache_read); MR  one element per key
 */
#define KL REDIS_CMD_KEYLESS
#define IN REDIS_CMD_INLINE
#define SUB REDIS_CMD_SUBSCRIBE
#define MON REDIS_CMD_MONITOR
#define SYN REDIS_CMD_SYNC
#define HGA REDIS_CMD_HGETALL
#define CR REDIS_CMD_CACHE_READ
#define MR REDIS_CMD_MULTI_READ
static const struct {
	char name[16];
	uint8_t len;
	uint16_t flags;
} commands[] = {
	{ "ACL", 3, KL },
	{ "APPEND", 6, IN },
	{ "ASKING", 6, KL },
	{ "AUTH", 4, KL|IN },
	{ "BGREWRITEAOF", 12, KL },
	{ "BGSAVE", 6, KL|IN },
	{ "BITCOUNT", 8, IN },
	{ "BITOP", 5, KL },
	{ "BLMPOP", 6, KL },
	{ "BLPOP", 5, IN },
	{ "BRPOP", 5, IN },
	{ "BZMPOP", 6, KL },
	{ "CLIENT", 6, KL|IN },
	{ "CLUSTER", 7, KL|IN },
	{ "COMMAND", 7, KL|IN },
	{ "CONFIG", 6, KL|IN },
	{ "COPY", 4, IN },
	{ "DBSIZE", 6, KL|IN },
	{ "DEBUG", 5, KL },
	{ "DECR", 4, IN },
	{ "DECRBY", 6, IN },
	{ "DEL", 3, IN },
	{ "DISCARD", 7, KL|IN },
	{ "DUMP", 4, IN },
	{ "ECHO", 4, KL|IN },
	{ "EVAL", 4, KL|IN },
	{ "EVALSHA", 7, KL|IN },
	{ "EVALSHA_RO", 10, KL },
	{ "EVAL_RO", 7, KL },
	{ "EXEC", 4, KL|IN },
	{ "EXISTS", 6, IN },
	{ "EXPIRE", 6, IN },
	{ "EXPIREAT", 8, IN },
	{ "FAILOVER", 8, KL },
	{ "FCALL", 5, KL },
	{ "FCALL_RO", 8, KL },
	{ "FLUSHALL", 8, KL|IN },
	{ "FLUSHDB", 7, KL|IN },
	{ "FUNCTION", 8, KL },
	{ "GEOADD", 6, IN },
	{ "GET", 3, IN|CR },
	{ "GETDEL", 6, IN|CR },
	{ "GETEX", 5, IN|CR },
	{ "GETRANGE", 8, IN },
	{ "GETSET", 6, IN },
	{ "HDEL", 4, IN },
	{ "HELLO", 5, KL|IN },
	{ "HEXISTS", 7, IN },
	{ "HGET", 4, IN|CR },
	{ "HGETALL", 7, IN|HGA|CR },
	{ "HINCRBY", 7, IN },
	{ "HKEYS", 5, IN },
	{ "HLEN", 4, IN },
	{ "HMGET", 5, IN|CR|MR },
	{ "HMSET", 5, IN },
	{ "HSCAN", 5, IN },
	{ "HSET", 4, IN },
	{ "HSETNX", 6, IN },
	{ "HVALS", 5, IN },
	{ "INCR", 4, IN },
	{ "INCRBY", 6, IN },
	{ "INFO", 4, KL|IN },
	{ "KEYS", 4, KL|IN },
	{ "LASTSAVE", 8, KL|IN },
	{ "LATENCY", 7, KL },
	{ "LINDEX", 6, IN },
	{ "LINSERT", 7, IN },
	{ "LLEN", 4, IN },
	{ "LMOVE", 5, IN },
	{ "LMPOP", 5, KL },
	{ "LOLWUT", 6, KL },
	{ "LPOP", 4, IN },
	{ "LPUSH", 5, IN },
	{ "LRANGE", 6, IN },
	{ "LREM", 4, IN },
	{ "LSET", 4, IN },
	{ "LTRIM", 5, IN },
	{ "MEMORY", 6, KL|IN },
	{ "MGET", 4, IN|CR|MR },
	{ "MIGRATE", 7, KL },
	{ "MODULE", 6, KL },
	{ "MONITOR", 7, KL|IN|MON },
	{ "MSET", 4, IN },
	{ "MSETNX", 6, IN },
	{ "MULTI", 5, KL|IN },
	{ "OBJECT", 6, KL|IN },
	{ "PERSIST", 7, IN },
	{ "PEXPIRE", 7, IN },
	{ "PFADD", 5, IN },
	{ "PFCOUNT", 7, IN },
	{ "PING", 4, KL|IN },
	{ "PSETEX", 6, IN },
	{ "PSUBSCRIBE", 10, KL|IN|SUB },
	{ "PSYNC", 5, KL|MON },
	{ "PTTL", 4, IN },
	{ "PUBLISH", 7, IN },
	{ "PUBSUB", 6, KL|IN },
	{ "PUNSUBSCRIBE", 12, KL },
	{ "QUIT", 4, KL|IN },
	{ "RANDOMKEY", 9, KL|IN },
	{ "READONLY", 8, KL },
	{ "READWRITE", 9, KL },
	{ "RENAME", 6, IN },
	{ "REPLCONF", 8, KL },
	{ "REPLICAOF", 9, KL },
	{ "RESET", 5, KL|IN },
	{ "ROLE", 4, KL|IN },
	{ "RPOP", 4, IN },
	{ "RPUSH", 5, IN },
	{ "SADD", 4, IN },
	{ "SAVE", 4, KL|IN },
	{ "SCAN", 4, KL|IN },
	{ "SCARD", 5, IN },
	{ "SCRIPT", 6, KL|IN },
	{ "SDIFF", 5, IN },
	{ "SELECT", 6, KL|IN },
	{ "SENTINEL", 8, KL },
	{ "SET", 3, IN },
	{ "SETEX", 5, IN },
	{ "SETNX", 5, IN },
	{ "SHUTDOWN", 8, KL },
	{ "SINTER", 6, IN },
	{ "SINTERCARD", 10, KL },
	{ "SISMEMBER", 9, IN },
	{ "SLAVEOF", 7, KL },
	{ "SLOWLOG", 7, KL|IN },
	{ "SMEMBERS", 8, IN },
	{ "SPOP", 4, IN },
	{ "SREM", 4, IN },
	{ "SSCAN", 5, IN },
	{ "SSUBSCRIBE", 10, KL|SUB },
	{ "STRLEN", 6, IN },
	{ "SUBSCRIBE", 9, KL|IN|SUB },
	{ "SUNION", 6, IN },
	{ "SUNSUBSCRIBE", 12, KL },
	{ "SWAPDB", 6, KL },
	{ "SYNC", 4, KL|SYN },
	{ "TIME", 4, KL|IN },
	{ "TOUCH", 5, IN },
	{ "TTL", 3, IN },
	{ "TYPE", 4, IN },
	{ "UNLINK", 6, IN },
	{ "UNSUBSCRIBE", 11, KL|IN },
	{ "UNWATCH", 7, KL|IN },
	{ "WAIT", 4, KL|IN },
	{ "WAITAOF", 7, KL },
	{ "WATCH", 5, IN },
	{ "XADD", 4, IN },
	{ "XGROUP", 6, KL },
	{ "XINFO", 5, KL },
	{ "XLEN", 4, IN },
	{ "XRANGE", 6, IN },
	{ "XREAD", 5, KL|IN },
	{ "XREADGROUP", 10, KL },
	{ "ZADD", 4, IN },
	{ "ZCARD", 5, IN },
	{ "ZCOUNT", 6, IN },
	{ "ZDIFF", 5, KL },
	{ "ZINCRBY", 7, IN },
	{ "ZINTER", 6, KL },
	{ "ZINTERCARD", 10, KL },
	{ "ZMPOP", 5, KL },
	{ "ZRANGE", 6, IN },
	{ "ZRANK", 5, IN },
	{ "ZREM", 4, IN },
	{ "ZREVRANGE", 9, IN },
	{ "ZSCAN", 5, IN },
	{ "ZSCORE", 6, IN },
	{ "ZUNION", 6, KL },
};
#undef KL
#undef IN
#undef SUB
#undef MON
#undef SYN
#undef HGA
#undef CR
#undef MR

static bool is_alpha(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static uint8_t upper(uint8_t b)
{
	return (b >= 'a' && b <= 'z') ? b - ('a' - 'A') : b;
}

static bool is_resp_type(uint8_t b)
{
	switch (b) {
	case '+': case '-': case ':': case '$': case '*': case '_': case ',': case '#':
	case '!': case '=': case '(': case '%': case '~': case '>': case '|':
		return true;
	default:
		return false;
	}
}

/* The upper-cased name of a command, truncated; s need not end with a NUL. */
static void copy_upper(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i;

	if (n > dstsz - 1)
		n = dstsz - 1;
	for (i = 0; i < n; i++)
		dst[i] = upper(s[i]);
	dst[n] = '\0';
}

static void copy_str(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (n > dstsz - 1)
		n = dstsz - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Cut an error message after its first word ("WRONGTYPE Operation..." -> "WRONGTYPE"). */
static void first_word(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] != ' ' && s[i] != '\r' && s[i] != '\n'; i++)
		;
	copy_str(dst, dstsz, s, i);
}

/*
 * Does a line (its first n bytes) carry an HTTP version? "GET / HTTP/1.1"
 * begins like an inline GET; Redis itself refuses it as an attack.
 */
static bool is_http_line(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i + 7 <= n && s[i] != '\n'; i++)
		if (s[i] == 'H' && !memcmp(s + i, "HTTP/1.", 7))
			return true;
	return false;
}

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* 8 bytes as a big-endian number: comparing those compares the bytes as memcmp does. */
static uint64_t be64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

/* Binary search for the name of n (1..15) bytes packed in k0 k1 (big-endian, NUL-padded). */
static int lookup_packed(uint64_t k0, uint64_t k1, size_t n, uint16_t *flags)
{
	size_t lo = 0, hi = NCOMMANDS;

	*flags = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t e0 = be64(commands[mid].name), e1 = be64(commands[mid].name + 8);

		if (k0 < e0 || (k0 == e0 && k1 < e1)) {
			hi = mid;
		} else if (k0 > e0 || k1 > e1) {
			lo = mid + 1;
		} else {
			/* Same bytes, NUL padding included: a NUL inside s[0..n) is no match. */
			if (commands[mid].len != n)
				return 0;
			*flags = commands[mid].flags;
			return (int)mid + 1;
		}
	}
	return 0;
}

int redis_command_lookup(const char *s, size_t n, uint16_t *flags)
{
	uint8_t key[16] = { 0 };
	size_t i;

	*flags = 0;
	if (!s || !n || n >= sizeof(key))
		return 0;
	for (i = 0; i < n; i++)
		key[i] = upper((uint8_t)s[i]);
	return lookup_packed(be64(key), be64(key + 8), n, flags);
}

int redis_command_count(void)
{
	return (int)NCOMMANDS;
}

const char *redis_command_name(int id)
{
	return id >= 1 && (size_t)id <= NCOMMANDS ? commands[id - 1].name : NULL;
}

/*
 * Classify the command being read (h->command: upper case already, NUL-terminated,
 * REDIS_CMD_MAX >= 16 bytes). A pipeline repeats its command: the last name looked
 * up is kept, packed.
 */
static void classify_len(struct redis_half *h, size_t n)
{
	uint64_t k0, k1;

	_Static_assert(REDIS_CMD_MAX >= 16, "command buffer holds the packed name");
	if (!n || n >= 16) {
		h->cmd_id = 0;
		h->cmd_flags = 0;
		return;
	}
	/* Keep the name's n bytes (the high ones), zero what follows its NUL. */
	k0 = be64(h->command);
	k1 = be64(h->command + 8);
	if (n < 8) {
		k0 &= ~0ULL << (8 * (8 - n));
		k1 = 0;
	} else if (n == 8) {
		k1 = 0;
	} else {
		k1 &= ~0ULL << (8 * (16 - n));
	}
	if (n != h->last_len || k0 != h->last_k0 || k1 != h->last_k1) {
		h->last_id = (uint16_t)lookup_packed(k0, k1, n, &h->last_flags);
		h->last_len = (uint8_t)n;
		h->last_k0 = k0;
		h->last_k1 = k1;
	}
	h->cmd_id = h->last_id;
	h->cmd_flags = h->last_flags;
}

static void classify(struct redis_half *h)
{
	classify_len(h, strlen(h->command));
}

/* ---- pending commands ---- */

static void pending_pop(struct redis_conn *c)
{
	c->first = (c->first + 1) % REDIS_PIPELINE_MAX;
	c->npending--;
}

static void pending_push(struct redis_conn *c, const struct redis_half *h)
{
	struct redis_pending *p;

	/*
	 * More commands in flight than we keep: forget this one, but not its
	 * place, so that every reply still answers the command it answers.
	 */
	if (c->npending == REDIS_PIPELINE_MAX) {
		c->dropped++;
		c->skip_tail++;
		return;
	}
	p = &c->pending[(c->first + c->npending++) % REDIS_PIPELINE_MAX];
	p->skip_before = c->skip_tail;
	c->skip_tail = 0;
	memcpy(p->command, h->command, sizeof(p->command));
	memcpy(p->key, h->key, sizeof(p->key));
	p->begin_ts = h->begin_ts;
	p->cmd_id = h->cmd_id;
	p->cmd_flags = h->cmd_flags;
}

/* ---- message bookkeeping ---- */

static bool is_cmd_half(const struct redis_half *h)
{
	return h->kind != KIND_REPLY;
}

/*
 * Malformed bytes. In step, the connection is broken (-1). In a candidate, it
 * was no message start after all: back to resync. If it began in an earlier
 * feed, this feed may still begin a message of its own, so read it again from
 * its start (once: a candidate begun in this feed just skips the rest).
 */
static int lose_sync(struct feed *f);

static int bad(struct feed *f)
{
	struct redis_half *h = f->h;

	if (!h->cand)
		return -1;
	h->cand = false;
	h->state = ST_RESYNC;
	if (h->cand_feed != h->nfeed) {
		f->off = 0;
		f->unseen = f->unseen0;
	} else {
		f->off = f->len;
		f->unseen = 0;
	}
	return 0;
}

static void msg_begin(struct feed *f)
{
	struct redis_half *h = f->h;

	h->state = ST_TYPE;
	h->begin_ts = f->ts;
	h->depth = 0;
	h->attr = 0;
	h->arg_index = 0;
	h->want_key = false;
	h->push = false;
	h->is_error = false;
	h->is_nil = false;
	h->is_agg = false;
	h->elements = 0;
	h->nil_elements = 0;
	h->error_kind[0] = '\0';
	h->command[0] = '\0';
	h->key[0] = '\0';
	h->cmd_id = 0;
	h->cmd_flags = 0;
}

static void conn_done(struct redis_conn *c)
{
	c->half[0].state = ST_DONE;
	c->half[1].state = ST_DONE;
}

static void set_role(struct feed *f)
{
	struct redis_conn *c = f->c;
	struct redis_half *o = &c->half[!f->dir];

	c->role = f->dir == REDIS_DIR_INGRESS ? REDIS_ROLE_SERVER : REDIS_ROLE_CLIENT;
	f->h->kind = KIND_CMD;
	o->kind = KIND_REPLY;
	/* Whatever the other direction was reading, it was reading it as commands. */
	o->state = ST_RESYNC;
	o->cand = false;
}

static void cmd_end(struct feed *f)
{
	struct redis_conn *c = f->c;
	struct redis_half *h = f->h;

	h->state = ST_IDLE;
	if (h->cand) {
		h->cand = false;
		if (h->kind == KIND_ANY)
			set_role(f);
	}
	pending_push(c, h);
	/*
	 * After these, the server sends pub/sub messages, the commands it runs,
	 * or an RDB file and the replication stream: no more replies to pair.
	 * Stop reading commands; the replies stop after this one's.
	 */
	if (h->cmd_flags & (REDIS_CMD_SUBSCRIBE | REDIS_CMD_MONITOR)) {
		c->subscribed = true;
		h->state = ST_DONE;
	} else if (h->cmd_flags & REDIS_CMD_SYNC) {
		/* Its reply is the RDB file itself, not even ended by CRLF. */
		c->subscribed = true;
		conn_done(c);
	}
}

static void reply_end(struct feed *f)
{
	struct redis_conn *c = f->c;
	struct redis_half *h = f->h;
	struct redis_pending *p = &c->pending[c->first];
	struct redis_exchange tmp, *xp;

	h->state = ST_IDLE;
	h->cand = false;
	if (!c->npending) {
		/* Answers a command forgotten, or sent before we looked. */
		if (!h->push && c->skip_tail)
			c->skip_tail--;
		return;
	}
	/*
	 * A push (RESP3 '>': invalidation, pub/sub message) answers no command,
	 * except that a RESP3 server confirms SUBSCRIBE with a push.
	 */
	if (h->push && !(p->cmd_flags & REDIS_CMD_SUBSCRIBE))
		return;
	if (p->skip_before) { /* answers a command forgotten before this one */
		p->skip_before--;
		return;
	}
	/* Written in place in out[] when there is room for it, else dropped. */
	xp = f->out && f->n < f->max_out ? &f->out[f->n++] : &tmp;
	/*
	 * role .. key are written whole below (no padding among them); clear the
	 * rest, padding included, as a memset of the whole exchange would.
	 */
	_Static_assert(offsetof(struct redis_exchange, command) == sizeof(xp->role) &&
			       offsetof(struct redis_exchange, command_id) ==
				       offsetof(struct redis_exchange, command) + REDIS_CMD_MAX &&
			       offsetof(struct redis_exchange, command_flags) ==
				       offsetof(struct redis_exchange, command_id) + 2 &&
			       offsetof(struct redis_exchange, key) ==
				       offsetof(struct redis_exchange, command_flags) + 2 &&
			       offsetof(struct redis_exchange, error) ==
				       offsetof(struct redis_exchange, key) + REDIS_KEY_MAX,
		       "no padding from role to key");
	memset(&xp->error, 0, sizeof(*xp) - offsetof(struct redis_exchange, error));
	xp->role = c->role;
	xp->command_id = p->cmd_id;
	xp->command_flags = p->cmd_flags;
	memcpy(xp->command, p->command, sizeof(xp->command));
	memcpy(xp->key, p->key, sizeof(xp->key));
	xp->error = h->is_error;
	memcpy(xp->error_kind, h->error_kind, sizeof(xp->error_kind));
	xp->nil = h->is_nil;
	xp->elements = h->elements;
	xp->nil_elements = h->nil_elements;
	/* Redis deletes a hash when its last field goes: an empty HGETALL is a miss. */
	if (h->is_agg && !h->elements && (p->cmd_flags & REDIS_CMD_HGETALL))
		xp->nil = true;
	xp->req_begin_ts = p->begin_ts;
	xp->resp_end_ts = f->ts;
	pending_pop(c);
	if (c->subscribed && !c->npending)
		h->state = ST_DONE;
}

/* A value is complete; so may be the aggregates it ends, and the message. */
static void value_end(struct feed *f)
{
	struct redis_half *h = f->h;

	for (;;) {
		uint8_t d;

		if (!h->depth) {
			if (is_cmd_half(h))
				cmd_end(f);
			else
				reply_end(f);
			return;
		}
		d = h->depth - 1;
		h->state = ST_TYPE;
		if (--h->frames_left[d])
			return;
		h->depth--;
		if (h->attr & (1U << d)) {
			/* An attribute annotates the value after it and is no element itself. */
			h->attr &= ~(1U << d);
			return;
		}
	}
}

/* The header of a reply value (type and, for aggregates, count) was read. */
static void value_begin(struct redis_half *h, uint8_t t, bool null, uint32_t count)
{
	if (t == '|')
		return;
	if (!h->depth) {
		h->push = t == '>';
		h->is_nil = null;
		h->is_error = t == '-' || t == '!';
		if (!null && (t == '*' || t == '%' || t == '~' || t == '>')) {
			h->is_agg = true;
			h->elements = count;
		}
	} else if (h->depth == 1 && !(h->attr & 1) && null) {
		h->nil_elements++;
	}
}

/* ---- lines ---- */

static void line_begin(struct redis_half *h, enum half_state st)
{
	h->state = st;
	h->line_len = 0;
	h->cr = false;
}

/* A length: digits up to LEN_MAX, or "-1" (null) when allowed. */
static bool parse_len(const char *s, size_t n, bool null_ok, int64_t *v)
{
	size_t i;

	*v = 0;
	if (n == 2 && s[0] == '-' && s[1] == '1') {
		*v = -1;
		return null_ok;
	}
	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
		if (*v > LEN_MAX)
			return false;
	}
	return true;
}

/* An integer or big number: an optional sign, then digits. */
static bool is_integer(const char *s, size_t n)
{
	size_t i = 0;

	if (n && (s[0] == '-' || s[0] == '+'))
		i++;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static int bulk_begin(struct feed *f, int64_t len, enum cap cap)
{
	struct redis_half *h = f->h;

	h->bulk_left = (uint64_t)len;
	h->cap = cap;
	h->cap_len = 0;
	h->state = len ? ST_BULK : ST_BULK_CR;
	return 0;
}

static int cmd_line(struct feed *f, const char *s, size_t n)
{
	struct redis_half *h = f->h;
	int64_t v;

	if (!h->depth) {
		/* Redis skips an empty or null array where it expects a command. */
		if (!parse_len(s, n, true, &v))
			return bad(f);
		if (v <= 0) {
			if (h->cand)
				return bad(f);
			h->state = ST_IDLE;
			return 0;
		}
		h->frames_left[0] = (uint32_t)v;
		h->depth = 1;
		h->state = ST_TYPE;
		return 0;
	}
	if (!parse_len(s, n, false, &v))
		return bad(f);
	if (h->arg_index == 0) {
		h->command[0] = '\0';
		return bulk_begin(f, v, CAP_CMD);
	}
	return bulk_begin(f, v, h->arg_index == 1 && h->want_key ? CAP_KEY : CAP_NONE);
}

static int reply_line(struct feed *f, const char *s, size_t n)
{
	struct redis_half *h = f->h;
	uint8_t t = h->type;
	bool null = false;
	uint32_t count;
	int64_t v;

	switch (t) {
	case '-':
		if (!h->depth)
			first_word(h->error_kind, sizeof(h->error_kind), s, n);
		break;
	case ':':
	case '(':
		if (!is_integer(s, n))
			return bad(f);
		break;
	case ',':
		if (!n)
			return bad(f);
		break;
	case '#':
		if (n != 1 || (s[0] != 't' && s[0] != 'f'))
			return bad(f);
		break;
	case '_':
		if (n)
			return bad(f);
		null = true;
		break;
	case '$':
	case '=':
	case '!':
		if (!parse_len(s, n, t == '$', &v))
			return bad(f);
		if (v < 0) {
			null = true;
			break;
		}
		value_begin(h, t, false, 0);
		return bulk_begin(f, v, t == '!' && !h->depth ? CAP_ERR : CAP_NONE);
	case '*':
	case '%':
	case '~':
	case '>':
	case '|':
		if (!parse_len(s, n, t == '*', &v))
			return bad(f);
		if (v < 0) {
			null = true;
			break;
		}
		if (h->depth >= REDIS_DEPTH_MAX)
			return h->cand ? bad(f) : lose_sync(f);
		value_begin(h, t, false, (uint32_t)v);
		/* Maps and attributes: a key and a value per entry. */
		count = (uint32_t)v * (t == '%' || t == '|' ? 2 : 1);
		if (!count) {
			if (t == '|') {
				h->state = ST_TYPE;
				return 0;
			}
			value_end(f);
			return 0;
		}
		h->frames_left[h->depth] = count;
		if (t == '|')
			h->attr |= 1U << h->depth;
		h->depth++;
		h->state = ST_TYPE;
		return 0;
	default: /* '+' */
		break;
	}
	value_begin(h, t, null, 0);
	value_end(f);
	return 0;
}

/* The next space-separated (or quoted) word of an inline command, from *pos. */
static size_t next_word(const char *s, size_t n, size_t *pos, const char **w)
{
	size_t i = *pos, start, wl;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && (s[i] == '"' || s[i] == '\'')) {
		char q = s[i++];

		start = i;
		while (i < n && s[i] != q)
			i++;
		wl = i - start;
		if (i < n)
			i++;
	} else {
		start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		wl = i - start;
	}
	*pos = i;
	*w = s + start;
	return wl;
}

/* An inline command's line (kept part s[0..n), CR stripped) ended. */
static int inline_line(struct feed *f, const char *s, size_t n)
{
	struct redis_half *h = f->h;
	const char *w;
	size_t pos = 0, wl;

	wl = next_word(s, n, &pos, &w);
	if (h->cand) {
		uint16_t flags;

		/* Out of step, only a known command word followed by ' ' or CRLF will do. */
		if (wl < 3 || wl > 16 || w != s)
			return bad(f);
		redis_command_lookup(w, wl, &flags);
		if (!(flags & REDIS_CMD_INLINE))
			return bad(f);
		if (wl == n ? !h->cr : s[wl] != ' ')
			return bad(f);
		if (is_http_line((const uint8_t *)s, n))
			return bad(f);
	}
	copy_upper(h->command, sizeof(h->command), w, wl);
	classify(h);
	if (!(h->cmd_flags & REDIS_CMD_KEYLESS)) {
		wl = next_word(s, n, &pos, &w);
		copy_str(h->key, sizeof(h->key), w, wl);
	}
	value_end(f);
	return 0;
}

/* Read a line up to LF; at its end, hand what was kept of it on. */
static int line_feed(struct feed *f)
{
	struct redis_half *h = f->h;
	const uint8_t *p = f->data + f->off;
	const uint8_t *nl = memchr(p, '\n', f->len - f->off);
	size_t n = nl ? (size_t)(nl - p) : f->len - f->off;
	const char *line = h->line;
	size_t keep, full;

	if (n) {
		if ((uint64_t)h->line_len + n > LINE_MAX)
			return bad(f);
		if (nl && !h->line_len) {
			/* The whole line is in this feed: read it there. */
			line = (const char *)p;
		} else if (h->line_len < REDIS_LINE_KEEP) {
			keep = REDIS_LINE_KEEP - h->line_len;
			if (keep > n)
				keep = n;
			memcpy(h->line + h->line_len, p, keep);
		}
		h->line_len += (uint32_t)n; /* <= LINE_MAX */
		h->cr = p[n - 1] == '\r';
		f->off += n;
	}
	if (!nl)
		return 0;
	f->off++;
	full = h->line_len - h->cr;
	if (h->state == ST_INLINE)
		return inline_line(f, line, full < REDIS_LINE_KEEP ? full : REDIS_LINE_KEEP);
	if (!h->cr)
		return bad(f); /* a RESP line ends with CRLF */
	if (full > REDIS_LINE_KEEP) {
		/* Only strings and errors need none of their end (nor a bound on their size). */
		if (!strchr("+-(,", h->type))
			return bad(f);
		full = REDIS_LINE_KEEP;
	}
	if (is_cmd_half(h))
		return cmd_line(f, line, full);
	return reply_line(f, line, full);
}

/* ---- bulk strings ---- */

static void capture(struct redis_half *h, const uint8_t *p, size_t n)
{
	char *dst;
	size_t max, i;

	switch (h->cap) {
	case CAP_CMD:
		dst = h->command;
		max = sizeof(h->command) - 1;
		break;
	case CAP_KEY:
		dst = h->key;
		max = sizeof(h->key) - 1;
		break;
	case CAP_ERR:
		dst = h->error_kind;
		max = sizeof(h->error_kind) - 1;
		break;
	default:
		return;
	}
	if (h->cap_len >= max)
		return;
	if (n > max - h->cap_len)
		n = max - h->cap_len;
	if (h->cap == CAP_CMD)
		for (i = 0; i < n; i++)
			dst[h->cap_len + i] = upper(p[i]);
	else
		memcpy(dst + h->cap_len, p, n);
	h->cap_len += (uint32_t)n; /* < REDIS_KEY_MAX */
	dst[h->cap_len] = '\0';
}

static int bulk_end(struct feed *f)
{
	struct redis_half *h = f->h;

	if (h->cap == CAP_ERR)
		h->error_kind[strcspn(h->error_kind, " \r\n")] = '\0';
	if (is_cmd_half(h)) {
		if (h->arg_index == 0) {
			/* Out of step, a command name tells an array of commands from others. */
			if (h->cand && !is_alpha(h->command[0]))
				return bad(f);
			classify(h);
			h->want_key = !(h->cmd_flags & REDIS_CMD_KEYLESS);
		}
		h->arg_index++;
	}
	h->cap = CAP_NONE;
	value_end(f);
	return 0;
}

static void bulk_feed(struct feed *f)
{
	struct redis_half *h = f->h;
	uint64_t n = f->len - f->off;

	if (n > h->bulk_left)
		n = h->bulk_left;
	capture(h, f->data + f->off, n);
	f->off += n;
	h->bulk_left -= n;
	if (!h->bulk_left)
		h->state = ST_BULK_CR;
}

/*
 * Framing lost to bytes past the capture (a pipeline longer than the capture:
 * normal traffic, not malformed). What those bytes held is unknown, so the
 * commands waiting for replies can no longer be matched: forget them, and let
 * both directions resync at the start of a later feed (clients send the next
 * batch once the replies to the last one are read). Counted in c->desyncs.
 */
static int lose_sync(struct feed *f)
{
	struct redis_conn *c = f->c;

	c->desyncs++;
	c->npending = 0;
	c->first = 0;
	c->skip_tail = 0;
	for (int d = 0; d < 2; d++) {
		c->half[d].state = ST_RESYNC;
		c->half[d].cand = false;
	}
	f->off = f->len;
	f->unseen = 0;
	return 0;
}

/*
 * Bytes past the capture. Inside a bulk string (its CRLF included) they are
 * skipped by length; anywhere else we no longer know where values begin.
 */
static int unseen_feed(struct feed *f)
{
	struct redis_half *h = f->h;
	uint64_t u;

	switch (h->state) {
	case ST_RESYNC:
		f->unseen = 0;
		return 0;
	case ST_BULK:
		u = f->unseen < h->bulk_left ? f->unseen : h->bulk_left;
		f->unseen -= u;
		h->bulk_left -= u;
		if (!h->bulk_left)
			h->state = ST_BULK_CR;
		return 0;
	case ST_BULK_CR:
		f->unseen--;
		h->state = ST_BULK_LF;
		return 0;
	case ST_BULK_LF:
		f->unseen--;
		return bulk_end(f);
	default:
		/*
		 * A candidate too: it was well formed as far as the capture
		 * went, so it may well be the message it looks like (a reply's
		 * first syscall walked up to the kernel's budget): its bytes
		 * cannot be taken for the tail of an earlier one, and the
		 * commands waiting may have been answered in them.
		 */
		return lose_sync(f);
	}
}

/* ---- fast path ---- */

/*
 * Most traffic is whole messages of a few plain shapes, each in one feed: an
 * array of bulk strings for a command; +OK, $3 abc, $-1, :1, -ERR, an array of
 * bulk strings for a reply. At a message boundary (ST_IDLE, in step) those are
 * read here by length, not byte by byte, and leave exactly what the state
 * machine above would have: the same exchanges, pending commands and half
 * state (down to the fields it no longer needs: type, line_len, cap_len...).
 * A message is first checked whole without changing anything; whatever is not
 * one of these shapes, or is cut by the end of the capture, goes to the state
 * machine from its first byte. tests/fuzz/fuzz_redis_diff.c checks the two
 * against each other.
 */

/*
 * "<digits>\r\n" at p: its value (at most LEN_MAX), the number of digits, and
 * the byte after the LF. Anything else (a sign, no digits, more than 9 of
 * them, no CRLF right after) is for the state machine to judge.
 */
static inline __attribute__((always_inline)) bool
fast_len(const uint8_t *p, const uint8_t *end, uint64_t *v, uint32_t *ndig, const uint8_t **next)
{
	const uint8_t *q = p + 1;
	uint64_t x, d;

	if (end - p < 3 || (x = (uint64_t)p[0] - '0') > 9)
		return false;
	while ((d = (uint64_t)*q - '0') <= 9) { /* p[0..2] are in, and p[0] is a digit */
		if (q - p == 9)
			return false;
		x = x * 10 + d;
		if (++q == end)
			return false;
	}
	if (end - q < 2 || q[0] != '\r' || q[1] != '\n' || x > (uint64_t)LEN_MAX)
		return false;
	*v = x;
	*ndig = (uint32_t)(q - p);
	*next = q + 2;
	return true;
}

/* A bulk string's payload of len bytes at p, then its CRLF, all before end. */
static inline bool fast_payload(const uint8_t *p, const uint8_t *end, uint64_t len)
{
	return (uint64_t)(end - p) >= len + 2 && p[len] == '\r' && p[len + 1] == '\n';
}

/*
 * One command at f->off ('*'): an array of n >= 1 bulk strings, all in the
 * capture. False, with nothing changed, for anything else.
 */
static bool fast_cmd(struct feed *f)
{
	struct redis_half *h = f->h;
	const uint8_t *end = f->data + f->len, *p = f->data + f->off + 1;
	const uint8_t *name = NULL, *key = NULL;
	uint64_t nargs, len, i, name_len = 0, key_len = 0;
	uint32_t ndig = 0;
	size_t n;

	if (!fast_len(p, end, &nargs, &ndig, &p) || !nargs)
		return false;
	for (i = 0; i < nargs; i++) {
		if (p == end || *p != '$' || !fast_len(p + 1, end, &len, &ndig, &p) ||
		    !fast_payload(p, end, len))
			return false;
		if (i == 0) {
			name = p;
			name_len = len;
		} else if (i == 1) {
			key = p;
			key_len = len;
		}
		p += len + 2;
	}
	/* What msg_begin, type_byte, line_feed, cmd_line, capture and bulk_end leave. */
	msg_begin(f);
	h->type = '$';
	h->line_len = ndig + 1;
	h->cr = true;
	h->frames_left[0] = 0;
	h->bulk_left = 0;
	h->cap = CAP_NONE;
	h->arg_index = (uint32_t)nargs;
	n = name_len < sizeof(h->command) - 1 ? name_len : sizeof(h->command) - 1;
	if (n) {
		uint8_t all = 0xff;

		for (i = 0; i < n; i++) {
			all &= name[i];
			h->command[i] = (char)upper(name[i]);
		}
		h->command[n] = '\0';
		/* strlen(h->command) is n unless the name holds a NUL (rare; let it count). */
		if (!all)
			classify(h);
		else
			classify_len(h, n);
	} else {
		classify_len(h, 0);
	}
	h->cap_len = (uint32_t)n;
	h->want_key = !(h->cmd_flags & REDIS_CMD_KEYLESS);
	if (nargs >= 2) {
		h->cap_len = 0;
		if (h->want_key) {
			n = key_len < sizeof(h->key) - 1 ? key_len : sizeof(h->key) - 1;
			if (n) {
				memcpy(h->key, key, n);
				h->key[n] = '\0';
			}
			if (nargs == 2)
				h->cap_len = (uint32_t)n;
		}
	}
	f->off = (size_t)(p - f->data);
	cmd_end(f);
	return true;
}

/* A null reply of type t (`_`, `$-1`, `*-1`) whose header line holds line_len bytes before CRLF. */
static bool fast_nil(struct feed *f, uint8_t t, uint32_t line_len, const uint8_t *next)
{
	struct redis_half *h = f->h;

	msg_begin(f);
	h->type = t;
	h->line_len = line_len;
	h->cr = true;
	h->is_nil = true;
	f->off = (size_t)(next - f->data);
	reply_end(f);
	return true;
}

/*
 * One reply at f->off: a simple string, error, integer, null, bulk string, or
 * an array of bulk strings (nulls among them), all in the capture. False,
 * with nothing changed, for anything else.
 */
static bool fast_reply(struct feed *f)
{
	struct redis_half *h = f->h;
	const uint8_t *end = f->data + f->len, *p = f->data + f->off, *s = p + 1, *nl;
	uint8_t t = *p;
	uint64_t len, count, i, nils = 0;
	uint32_t ndig = 0, line_len;
	bool bulk = false;
	size_t n, full;

	switch (t) {
	case '+':
	case '-':
	case ':':
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			return false;
		n = (size_t)(nl - s);
		if (!n || nl[-1] != '\r' || n > LINE_MAX)
			return false;
		full = n - 1;
		if (full > REDIS_LINE_KEEP) {
			if (t == ':')
				return false;
			full = REDIS_LINE_KEEP;
		}
		if (t == ':' && !is_integer((const char *)s, full))
			return false;
		msg_begin(f);
		h->type = t;
		h->line_len = (uint32_t)n;
		h->cr = true;
		if (t == '-') {
			first_word(h->error_kind, sizeof(h->error_kind), (const char *)s, full);
			h->is_error = true; /* what value_begin() would set */
		}
		f->off = (size_t)(nl + 1 - f->data);
		reply_end(f);
		return true;
	case '_':
		if (end - s < 2 || s[0] != '\r' || s[1] != '\n')
			return false;
		return fast_nil(f, t, 1, s + 2);
	case '$':
		if (end - s >= 4 && !memcmp(s, "-1\r\n", 4))
			return fast_nil(f, t, 3, s + 4);
		if (!fast_len(s, end, &len, &ndig, &p) || !fast_payload(p, end, len))
			return false;
		msg_begin(f);
		h->type = t;
		h->line_len = ndig + 1;
		h->cr = true;
		h->bulk_left = 0;
		h->cap = CAP_NONE;
		h->cap_len = 0;
		f->off = (size_t)(p + len + 2 - f->data);
		reply_end(f);
		return true;
	case '*':
		if (end - s >= 4 && !memcmp(s, "-1\r\n", 4))
			return fast_nil(f, t, 3, s + 4);
		if (!fast_len(s, end, &count, &ndig, &p))
			return false;
		line_len = ndig + 1;
		for (i = 0; i < count; i++) {
			if (p == end || *p != '$')
				return false;
			if (end - p >= 5 && !memcmp(p + 1, "-1\r\n", 4)) {
				nils++;
				line_len = 3;
				p += 5;
				continue;
			}
			if (!fast_len(p + 1, end, &len, &ndig, &p) || !fast_payload(p, end, len))
				return false;
			line_len = ndig + 1;
			bulk = true;
			p += len + 2;
		}
		msg_begin(f);
		h->is_agg = true;
		h->elements = (uint32_t)count;
		h->type = count ? '$' : t;
		h->line_len = line_len;
		h->cr = true;
		if (count)
			h->frames_left[0] = 0;
		h->nil_elements = (uint32_t)nils;
		if (bulk) {
			h->bulk_left = 0;
			h->cap = CAP_NONE;
			h->cap_len = 0;
		}
		f->off = (size_t)(p - f->data);
		reply_end(f);
		return true;
	default:
		return false;
	}
}

/*
 * At a message boundary in step: read the messages the fast path knows, one
 * after the other, until one it does not (left at f->off for the state
 * machine), the end of the capture, or a state other than ST_IDLE.
 */
static void fast_feed(struct feed *f)
{
	struct redis_half *h = f->h;

	if (h->cand)
		return;
	if (h->kind == KIND_CMD) {
		while (h->state == ST_IDLE && f->off < f->len) {
			uint8_t b = f->data[f->off];

			if (b == '\r' || b == '\n') {
				f->off++; /* empty lines between commands */
				continue;
			}
			if (b != '*' || !fast_cmd(f))
				return;
		}
	} else if (h->kind == KIND_REPLY) {
		while (h->state == ST_IDLE && f->off < f->len)
			if (!fast_reply(f))
				return;
	}
}

/* ---- one direction ---- */

static bool can_begin(const struct redis_half *h, uint8_t b)
{
	if (is_cmd_half(h))
		return b == '*' || is_alpha(b);
	return is_resp_type(b);
}

static int type_byte(struct feed *f)
{
	struct redis_half *h = f->h;
	uint8_t b = f->data[f->off];

	if (is_cmd_half(h)) {
		if (!h->depth && is_alpha(b)) {
			line_begin(h, ST_INLINE);
			return 0;
		}
		if (b != (h->depth ? '$' : '*'))
			return bad(f);
	} else if (!is_resp_type(b)) {
		return bad(f);
	}
	h->type = b;
	f->off++;
	line_begin(h, ST_LINE);
	return 0;
}

static int half_feed(struct feed *f)
{
	struct redis_half *h = f->h;
	int rc = 0;

	while (!rc && (f->off < f->len || f->unseen)) {
		if (h->state == ST_DONE)
			return 0;
		if (f->off == f->len) {
			rc = unseen_feed(f);
			continue;
		}
		switch (h->state) {
		case ST_RESYNC:
			if (f->off == 0 && can_begin(h, f->data[0])) {
				msg_begin(f);
				h->cand = true;
				h->cand_feed = h->nfeed;
				break;
			}
			f->off = f->len;
			f->unseen = 0;
			break;
		case ST_IDLE:
			if (!f->c->slow_only) {
				fast_feed(f);
				if (h->state != ST_IDLE || f->off == f->len)
					break;
			}
			/* Redis ignores empty lines between commands (telnet users). */
			if (is_cmd_half(h) &&
			    (f->data[f->off] == '\r' || f->data[f->off] == '\n')) {
				f->off++;
				break;
			}
			msg_begin(f);
			break;
		case ST_TYPE:
			rc = type_byte(f);
			break;
		case ST_LINE:
		case ST_INLINE:
			rc = line_feed(f);
			break;
		case ST_BULK:
			if (f->len - f->off >= h->bulk_left + 2 &&
			    f->data[f->off + h->bulk_left] == '\r' &&
			    f->data[f->off + h->bulk_left + 1] == '\n') {
				/* The payload and its CRLF are all here (ST_BULK_CR, ST_BULK_LF at once). */
				capture(h, f->data + f->off, h->bulk_left);
				f->off += h->bulk_left + 2;
				h->bulk_left = 0;
				rc = bulk_end(f);
				break;
			}
			bulk_feed(f);
			break;
		case ST_BULK_CR:
			if (f->data[f->off] != '\r') {
				rc = bad(f);
				break;
			}
			f->off++;
			h->state = ST_BULK_LF;
			break;
		case ST_BULK_LF:
			if (f->data[f->off] != '\n') {
				rc = bad(f);
				break;
			}
			f->off++;
			rc = bulk_end(f);
			break;
		default:
			return -1;
		}
	}
	return rc;
}

/* ---- public API ---- */

void redis_conn_init(struct redis_conn *c, enum redis_role role_hint)
{
	memset(c, 0, sizeof(*c));
	if (role_hint == REDIS_ROLE_SERVER) {
		c->half[REDIS_DIR_INGRESS].kind = KIND_CMD;
		c->half[REDIS_DIR_EGRESS].kind = KIND_REPLY;
	} else if (role_hint == REDIS_ROLE_CLIENT) {
		c->half[REDIS_DIR_INGRESS].kind = KIND_REPLY;
		c->half[REDIS_DIR_EGRESS].kind = KIND_CMD;
	} else {
		role_hint = REDIS_ROLE_UNKNOWN;
	}
	c->role = role_hint;
}

int redis_conn_feed(struct redis_conn *c, enum redis_dir dir, const uint8_t *data, size_t caplen,
		    uint64_t total, uint64_t ts, struct redis_exchange *out, int max_out)
{
	struct feed f;

	if (!c || c->broken || (dir != REDIS_DIR_INGRESS && dir != REDIS_DIR_EGRESS))
		return 0;
	if (!data)
		caplen = 0;
	if (caplen > total)
		caplen = total;
	if (!total || c->half[dir].state == ST_DONE)
		return 0;
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.h = &c->half[dir];
	f.dir = dir;
	f.data = data;
	f.len = caplen;
	f.unseen = total - caplen;
	f.unseen0 = f.unseen;
	f.ts = ts;
	f.out = out;
	f.max_out = max_out;
	f.h->nfeed++;
	if (half_feed(&f)) {
		c->broken = true;
		return -1;
	}
	return f.n;
}

void redis_conn_set_fast_path(struct redis_conn *c, bool on)
{
	c->slow_only = !on;
}

bool redis_conn_broken(const struct redis_conn *c)
{
	return c && c->broken;
}

bool redis_looks_like_request(const uint8_t *data, size_t len)
{
	uint16_t flags;
	size_t i = 1, n;

	if (!data || !len)
		return false;
	if (data[0] == '*') {
		/* "*<digits>\r\n$<digits>\r\n<letter>" */
		for (n = 0; i < len && is_digit(data[i]) && n < 10; i++, n++)
			;
		if (!n || i + 2 >= len || data[i] != '\r' || data[i + 1] != '\n' ||
		    data[i + 2] != '$')
			return false;
		for (i += 3, n = 0; i < len && is_digit(data[i]) && n < 10; i++, n++)
			;
		if (!n || i + 2 >= len || data[i] != '\r' || data[i + 1] != '\n')
			return false;
		return is_alpha(data[i + 2]);
	}
	/* Inline: a known command word of 3..16 letters, then ' ' or CRLF. */
	for (n = 0; n < len && n <= 16 && is_alpha(data[n]); n++)
		;
	if (n < 3 || n > 16 || n >= len)
		return false;
	if (data[n] != ' ' && !(data[n] == '\r' && n + 1 < len && data[n + 1] == '\n'))
		return false;
	if (is_http_line(data, len < REDIS_LINE_KEEP ? len : REDIS_LINE_KEEP))
		return false;
	redis_command_lookup((const char *)data, n, &flags);
	return flags & REDIS_CMD_INLINE;
}

bool redis_is_cache_read(const char *command)
{
	uint16_t flags;

	if (!command)
		return false;
	redis_command_lookup(command, strlen(command), &flags);
	return flags & REDIS_CMD_CACHE_READ;
}
