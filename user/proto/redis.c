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
 * broken). Once a whole message was read, the half is in step and anything
 * malformed breaks the connection.
 */
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
 * Commands whose second argument is no key (a subcommand, a password, a
 * script, a count...). Sorted (strcmp): looked up for every command.
 */
static const char *const keyless[] = {
    "ACL",	  "ASKING",   "AUTH",	      "BGREWRITEAOF", "BGSAVE",	      "BITOP",
    "BLMPOP",	  "BZMPOP",   "CLIENT",	      "CLUSTER",      "COMMAND",      "CONFIG",
    "DBSIZE",	  "DEBUG",    "DISCARD",      "ECHO",	      "EVAL",	      "EVALSHA",
    "EVALSHA_RO", "EVAL_RO",  "EXEC",	      "FAILOVER",     "FCALL",	      "FCALL_RO",
    "FLUSHALL",	  "FLUSHDB",  "FUNCTION",     "HELLO",	      "INFO",	      "KEYS",
    "LASTSAVE",	  "LATENCY",  "LMPOP",	      "LOLWUT",	      "MEMORY",	      "MIGRATE",
    "MODULE",	  "MONITOR",  "MULTI",	      "OBJECT",	      "PING",	      "PSUBSCRIBE",
    "PSYNC",	  "PUBSUB",   "PUNSUBSCRIBE", "QUIT",	      "RANDOMKEY",    "READONLY",
    "READWRITE",  "REPLCONF", "REPLICAOF",    "RESET",	      "ROLE",	      "SAVE",
    "SCAN",	  "SCRIPT",   "SELECT",	      "SENTINEL",     "SHUTDOWN",     "SINTERCARD",
    "SLAVEOF",	  "SLOWLOG",  "SSUBSCRIBE",   "SUBSCRIBE",    "SUNSUBSCRIBE", "SWAPDB",
    "SYNC",	  "TIME",     "UNSUBSCRIBE",  "UNWATCH",      "WAIT",	      "WAITAOF",
    "XGROUP",	  "XINFO",    "XREAD",	      "XREADGROUP",   "ZDIFF",	      "ZINTER",
    "ZINTERCARD", "ZMPOP",    "ZUNION",
};

/* Commands an inline request may begin with, to tell one from other text when out of step. */
static const char *const inline_known[] = {
    "APPEND",	"AUTH",	    "BGSAVE",	 "BITCOUNT", "BLPOP",	   "BRPOP",	  "CLIENT",
    "CLUSTER",	"COMMAND",  "CONFIG",	 "COPY",     "DBSIZE",	   "DECR",	  "DECRBY",
    "DEL",	"DISCARD",  "DUMP",	 "ECHO",     "EVAL",	   "EVALSHA",	  "EXEC",
    "EXISTS",	"EXPIRE",   "EXPIREAT",	 "FLUSHALL", "FLUSHDB",	   "GEOADD",	  "GET",
    "GETDEL",	"GETEX",    "GETRANGE",	 "GETSET",   "HDEL",	   "HELLO",	  "HEXISTS",
    "HGET",	"HGETALL",  "HINCRBY",	 "HKEYS",    "HLEN",	   "HMGET",	  "HMSET",
    "HSCAN",	"HSET",	    "HSETNX",	 "HVALS",    "INCR",	   "INCRBY",	  "INFO",
    "KEYS",	"LASTSAVE", "LINDEX",	 "LINSERT",  "LLEN",	   "LMOVE",	  "LPOP",
    "LPUSH",	"LRANGE",   "LREM",	 "LSET",     "LTRIM",	   "MEMORY",	  "MGET",
    "MONITOR",	"MSET",	    "MSETNX",	 "MULTI",    "OBJECT",	   "PERSIST",	  "PEXPIRE",
    "PFADD",	"PFCOUNT",  "PING",	 "PSETEX",   "PSUBSCRIBE", "PTTL",	  "PUBLISH",
    "PUBSUB",	"QUIT",	    "RANDOMKEY", "RENAME",   "RESET",	   "ROLE",	  "RPOP",
    "RPUSH",	"SADD",	    "SAVE",	 "SCAN",     "SCARD",	   "SCRIPT",	  "SDIFF",
    "SELECT",	"SET",	    "SETEX",	 "SETNX",    "SINTER",	   "SISMEMBER",	  "SLOWLOG",
    "SMEMBERS", "SPOP",	    "SREM",	 "SSCAN",    "STRLEN",	   "SUBSCRIBE",	  "SUNION",
    "TIME",	"TOUCH",    "TTL",	 "TYPE",     "UNLINK",	   "UNSUBSCRIBE", "UNWATCH",
    "WAIT",	"WATCH",    "XADD",	 "XLEN",     "XRANGE",	   "XREAD",	  "ZADD",
    "ZCARD",	"ZCOUNT",   "ZINCRBY",	 "ZRANGE",   "ZRANK",	   "ZREM",	  "ZREVRANGE",
    "ZSCAN",	"ZSCORE",
};

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
	return b && strchr("+-:$*_,#!=(%~>|", b);
}

/* Case-insensitive: does s[0..n) spell the upper-case word w? */
static bool word_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || upper(s[i]) != (uint8_t)w[i])
			return false;
	return !w[i];
}

static bool in_table(const char *const *t, size_t nt, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < nt; i++)
		if (word_eq(s, n, t[i]))
			return true;
	return false;
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

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

/* command is upper case already. */
static bool has_key(const char *command)
{
	return !bsearch(command, keyless, sizeof(keyless) / sizeof(keyless[0]), sizeof(keyless[0]),
			cmp_name);
}

static bool is_subscribe(const char *command)
{
	return !strcmp(command, "SUBSCRIBE") || !strcmp(command, "PSUBSCRIBE") ||
	       !strcmp(command, "SSUBSCRIBE");
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

	/* A server that never answers must not stall pairing for later commands. */
	if (c->npending == REDIS_PIPELINE_MAX)
		pending_pop(c);
	p = &c->pending[(c->first + c->npending++) % REDIS_PIPELINE_MAX];
	memcpy(p->command, h->command, sizeof(p->command));
	memcpy(p->key, h->key, sizeof(p->key));
	p->begin_ts = h->begin_ts;
}

static void emit(struct feed *f, const struct redis_exchange *x)
{
	if (f->out && f->n < f->max_out)
		f->out[f->n++] = *x;
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
	if (is_subscribe(h->command) || !strcmp(h->command, "MONITOR") ||
	    !strcmp(h->command, "PSYNC")) {
		c->subscribed = true;
		h->state = ST_DONE;
	} else if (!strcmp(h->command, "SYNC")) {
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
	struct redis_exchange x;

	h->state = ST_IDLE;
	h->cand = false;
	if (!c->npending)
		return; /* answers a command sent before we looked */
	/*
	 * A push (RESP3 '>': invalidation, pub/sub message) answers no command,
	 * except that a RESP3 server confirms SUBSCRIBE with a push.
	 */
	if (h->push && !is_subscribe(p->command))
		return;
	memset(&x, 0, sizeof(x));
	x.role = c->role;
	memcpy(x.command, p->command, sizeof(x.command));
	memcpy(x.key, p->key, sizeof(x.key));
	x.error = h->is_error;
	memcpy(x.error_kind, h->error_kind, sizeof(x.error_kind));
	x.nil = h->is_nil;
	x.elements = h->elements;
	x.nil_elements = h->nil_elements;
	/* Redis deletes a hash when its last field goes: an empty HGETALL is a miss. */
	if (h->is_agg && !h->elements && !strcmp(p->command, "HGETALL"))
		x.nil = true;
	x.req_begin_ts = p->begin_ts;
	x.resp_end_ts = f->ts;
	emit(f, &x);
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
			h->attr &= (uint8_t) ~(1U << d);
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
		if (!null && strchr("*%~>", t)) {
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
			return bad(f);
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
		/* Out of step, only a known command word followed by ' ' or CRLF will do. */
		if (wl < 3 || wl > 16 || w != s ||
		    !in_table(inline_known, sizeof(inline_known) / sizeof(inline_known[0]), w, wl))
			return bad(f);
		if (wl == n ? !h->cr : s[wl] != ' ')
			return bad(f);
		if (is_http_line((const uint8_t *)s, n))
			return bad(f);
	}
	copy_upper(h->command, sizeof(h->command), w, wl);
	if (has_key(h->command)) {
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
	size_t keep, full;

	if (n) {
		if ((uint64_t)h->line_len + n > LINE_MAX)
			return bad(f);
		if (h->line_len < REDIS_LINE_KEEP) {
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
		return inline_line(f, h->line, full < REDIS_LINE_KEEP ? full : REDIS_LINE_KEEP);
	if (!h->cr)
		return bad(f); /* a RESP line ends with CRLF */
	if (full > REDIS_LINE_KEEP) {
		/* Only strings and errors need none of their end (nor a bound on their size). */
		if (!strchr("+-(,", h->type))
			return bad(f);
		full = REDIS_LINE_KEEP;
	}
	if (is_cmd_half(h))
		return cmd_line(f, h->line, full);
	return reply_line(f, h->line, full);
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
	for (i = 0; i < n; i++)
		dst[h->cap_len + i] = h->cap == CAP_CMD ? upper(p[i]) : p[i];
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
			h->want_key = has_key(h->command);
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
		return h->cand ? bad(f) : lose_sync(f);
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

bool redis_conn_broken(const struct redis_conn *c)
{
	return c && c->broken;
}

bool redis_looks_like_request(const uint8_t *data, size_t len)
{
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
	return in_table(inline_known, sizeof(inline_known) / sizeof(inline_known[0]),
			(const char *)data, n);
}

bool redis_is_cache_read(const char *command)
{
	static const char *const reads[] = {
	    "GET", "GETEX", "GETDEL", "HGET", "HMGET", "MGET", "HGETALL",
	};

	if (!command)
		return false;
	return in_table(reads, sizeof(reads) / sizeof(reads[0]), command, strlen(command));
}
