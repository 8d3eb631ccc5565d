// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PostgreSQL frontend/backend protocol v3 framing and statement pairing (see
 * postgres.h).
 *
 * Each direction ("half") frames messages on its own: a type byte and an
 * int32 length (the startup phase has no type byte). The frontend half turns
 * Query texts and Executes into pending statements; the backend half
 * completes the oldest one with CommandComplete / ErrorResponse /
 * EmptyQueryResponse / PortalSuspended, in order.
 *
 * ReadyForQuery ends one "batch" (a Query, the messages up to a Sync, the
 * startup): statements of that batch still pending were skipped by the server
 * after an error and are dropped. Batches are counted on both sides
 * (fe_seq sent, be_seq answered) so that pipelined batches stay apart.
 *
 * sonde may attach in the middle of a connection and captures only the first
 * bytes of each syscall, so a half may lose framing: unseen bytes reaching
 * beyond the current message. It then waits for a feed that begins with a
 * plausible chain of messages ("resync"), and stays "tentative" (a bad message
 * means out of step again, not malformed) until a Sync/Query or ReadyForQuery
 * confirms it. What was lost is approximated:
 *  - backend: a large result set's CommandComplete and ReadyForQuery are in
 *    the unseen bytes. A client sends its next request only once the previous
 *    one is answered, so the next request completes what is pending, at the
 *    last backend bytes seen;
 *  - frontend: a large Bind or Parse hides its Execute and Sync. Completions
 *    with nothing pending are then attributed to the statement being bound.
 */
#include <string.h>

#include "proto/postgres.h"

#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

enum half_state {
	HS_INIT = 0,   /* frontend, nothing seen: the first feed tells startup from mid-stream */
	HS_RESYNC,     /* out of step: wait for a feed beginning with a plausible message */
	HS_STARTUP,    /* frontend: reading a startup-phase packet's length and code */
	HS_SSL_ANSWER, /* backend: one byte answers SSLRequest/GSSENCRequest */
	HS_HDR,	       /* reading a message's type and length */
	HS_BODY,       /* reading its body */
	HS_DONE,       /* encrypted, cancelled or terminated: ignore everything */
};

/* Startup-phase packets (struct pg_half.kind). */
enum { SK_STARTUP = 1, SK_SSL, SK_GSS, SK_CANCEL };

#define PG_CODE_CANCEL 80877102u
#define PG_CODE_SSL 80877103u
#define PG_CODE_GSS 80877104u
#define PG_LEN_MAX (1u << 30)	/* a longer message is malformed */
#define PG_SNIFF_MAX (1u << 20) /* sniffing: longer first messages are not believed */
#define PG_STARTUP_MAX 10000u	/* the server's own limit on startup packets */
#define FIELD_SKIP 0xff		/* rest of the body not needed (or not seen) */

static const char other_op[] = "OTHER";

/* One call to pg_conn_feed(). */
struct feed {
	struct pg_conn *c;
	struct pg_half *h;
	bool fe; /* h carries frontend messages */
	const uint8_t *data;
	size_t len;
	size_t off;
	uint64_t unseen;
	uint64_t ts;
	struct pg_exchange *out;
	int max_out;
	int n;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static bool is_alpha(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

static bool is_space(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v';
}

static uint8_t lower(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') ? b + ('a' - 'A') : b;
}

static uint8_t upper(uint8_t b)
{
	return (b >= 'a' && b <= 'z') ? b - ('a' - 'A') : b;
}

/* SQL text: printable ASCII, blanks, or UTF-8. */
static bool is_text(uint8_t b)
{
	return (b >= 0x20 && b != 0x7f) || b == '\t' || b == '\n' || b == '\r';
}

static void copy_cstr(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	if (!dstsz)
		return;
	if (n > dstsz - 1)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- SQL scanner ---- */

enum lex_state {
	LX_NORMAL = 0,
	LX_WORD,
	LX_NUMBER,
	LX_SQUOTE,
	LX_SQUOTE_ESC,
	LX_SQUOTE_END, /* a quote ended the literal, unless another one follows ('') */
	LX_QIDENT,
	LX_QIDENT_END, /* likewise for "" inside a quoted identifier */
	LX_DOLLAR,     /* '$' at a token start: $tag$ opens a dollar quote, $1 is a parameter */
	LX_DQ_BODY,
	LX_DQ_CLOSE, /* '$' inside a dollar quote: maybe its closing tag */
	LX_DASH,
	LX_SLASH,
	LX_LINE_CMT,
	LX_BLOCK_CMT,
	LX_BC_STAR,
	LX_BC_SLASH,
};

enum tok_kind { TK_WORD, TK_QWORD, TK_PUNCT, TK_OTHER };
enum expect { EX_NONE = 0, EX_NAME, EX_DOT, EX_NAME2 };

/* Words that matter to the summary (struct pg_sql.prev). */
enum kw {
	KW_NONE = 0,
	KW_FROM,
	KW_INTO,
	KW_UPDATE,
	KW_FOR,
	KW_KEY,
	KW_DO,
	KW_DISTINCT,
	KW_ONLY,
	KW_TABLE,
	KW_LATERAL,
	KW_COPY,
	KW_TRUNCATE,
	KW_LOCK,
};

static const char *const kw_names[] = {
    [KW_FROM] = "from",		[KW_INTO] = "into", [KW_UPDATE] = "update",
    [KW_FOR] = "for",		[KW_KEY] = "key",   [KW_DO] = "do",
    [KW_DISTINCT] = "distinct", [KW_ONLY] = "only", [KW_TABLE] = "table",
    [KW_LATERAL] = "lateral",	[KW_COPY] = "copy", [KW_TRUNCATE] = "truncate",
    [KW_LOCK] = "lock",
};

static bool ident_start(uint8_t b)
{
	return is_alpha(b) || b == '_' || b >= 0x80;
}

static bool ident_char(uint8_t b)
{
	return ident_start(b) || is_digit(b) || b == '$';
}

static enum kw keyword(const struct pg_sql *s)
{
	size_t i, k;

	if (s->wover || s->wlen > 8)
		return KW_NONE;
	for (k = 1; k < sizeof(kw_names) / sizeof(kw_names[0]); k++) {
		const char *n = kw_names[k];

		if (strlen(n) != s->wlen)
			continue;
		for (i = 0; i < s->wlen && lower(s->word[i]) == (uint8_t)n[i]; i++)
			;
		if (i == s->wlen)
			return k;
	}
	return KW_NONE;
}

static void sql_stmt_reset(struct pg_sql *s)
{
	s->any = false;
	s->first = false;
	s->done = false;
	s->expect = EX_NONE;
	s->prev = KW_NONE;
	s->depth = 0;
	s->kw_depth = 0;
	s->op[0] = '\0';
	s->cand[0] = '\0';
	s->table[0] = '\0';
	s->inner[0] = '\0';
	s->tlen = 0;
	s->tspace = false;
	s->tover = false;
	s->text[0] = '\0';
}

static void sql_init(struct pg_sql *s)
{
	memset(s, 0, sizeof(*s));
}

static void word_add(struct pg_sql *s, uint8_t b)
{
	if (s->wlen < sizeof(s->word) - 1)
		s->word[s->wlen++] = b;
	else
		s->wover = true;
}

/* The word just read becomes the candidate table name: unquoted names fold to lower case. */
static void cand_set(struct pg_sql *s, bool quoted)
{
	size_t i;

	for (i = 0; i < s->wlen; i++) {
		uint8_t b = s->word[i];

		/* Quoted names may hold anything; keep control bytes out of labels. */
		if (b < 0x20 || b == 0x7f)
			b = '_';
		s->cand[i] = quoted ? b : lower(b);
	}
	s->cand[i] = '\0';
}

static void cand_done(struct pg_sql *s)
{
	if (!s->cand[0])
		return;
	if (s->kw_depth == 0) {
		memcpy(s->table, s->cand, sizeof(s->table));
		/* The statement's own relation: nothing later can change the answer. */
		s->done = true;
	} else if (!s->inner[0]) {
		memcpy(s->inner, s->cand, sizeof(s->inner));
	}
	s->cand[0] = '\0';
}

/* Room kept at the end of text[] for "..." and the NUL. */
#define TEXT_ROOM (PG_STMT_MAX - 4)

static void text_put(struct pg_sql *s, const char *p, size_t n)
{
	if (s->tover)
		return;
	if (s->tspace && s->tlen) {
		if (s->tlen >= TEXT_ROOM) {
			s->tover = true;
			return;
		}
		s->text[s->tlen++] = ' ';
	}
	s->tspace = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)p[i];

		if (s->tlen >= TEXT_ROOM) {
			s->tover = true;
			return;
		}
		/*
		 * Quoted names may hold anything: no control bytes out, and no
		 * quote, so that a quote in the text always means a bug.
		 */
		s->text[s->tlen++] = b < 0x20 || b == 0x7f || b == '\'' ? '_' : (char)b;
	}
}

/* A token into the statement's text: names and punctuation as written, any literal as '?'. */
static void text_token(struct pg_sql *s, enum tok_kind kind, uint8_t c)
{
	switch (kind) {
	case TK_WORD:
		text_put(s, s->word, s->wlen);
		break;
	case TK_QWORD:
		text_put(s, "\"", 1);
		s->tspace = false;
		text_put(s, s->word, s->wlen);
		text_put(s, "\"", 1);
		break;
	case TK_PUNCT:
		text_put(s, (const char *)&c, 1);
		break;
	default:
		/* E'...' is two tokens (the E, then the literal): one '?'. */
		if (s->tspace || !s->tlen || s->text[s->tlen - 1] != '?')
			text_put(s, "?", 1);
		break;
	}
}

/* The statement's text, NUL-terminated, "..." when it did not fit or was cut. */
static const char *sql_text(struct pg_sql *s)
{
	size_t n = s->tlen;

	if (s->tover) {
		memcpy(s->text + n, "...", 3);
		n += 3;
	}
	s->text[n] = '\0';
	return s->text;
}

static void sql_token(struct pg_sql *s, enum tok_kind kind, uint8_t c)
{
	bool word = kind == TK_WORD, name = word || kind == TK_QWORD;
	enum kw kw = word ? keyword(s) : KW_NONE;
	enum kw prev = s->prev;
	size_t i;

	text_token(s, kind, c);
	s->prev = kw;
	if (!s->first) {
		s->first = true;
		if (word) {
			for (i = 0; i < s->wlen && i < sizeof(s->op) - 1; i++)
				s->op[i] = upper(s->word[i]);
			s->op[i] = '\0';
			/* These name their relation right away: UPDATE t, COPY t, TRUNCATE t... */
			if (kw == KW_UPDATE || kw == KW_COPY || kw == KW_TRUNCATE ||
			    kw == KW_TABLE || kw == KW_LOCK)
				s->expect = EX_NAME;
			return;
		}
	}
	if (s->done)
		return;
	switch (s->expect) {
	case EX_NAME:
		if (kw == KW_ONLY || kw == KW_TABLE || kw == KW_LATERAL)
			return;
		fallthrough;
	case EX_NAME2:
		if (name) {
			cand_set(s, !word);
			s->expect = EX_DOT;
			return;
		}
		cand_done(s);
		s->expect = EX_NONE;
		break;
	case EX_DOT:
		if (kind == TK_PUNCT && c == '.') {
			/* schema.table: the last part is the table. */
			s->expect = EX_NAME2;
			return;
		}
		cand_done(s);
		s->expect = EX_NONE;
		break;
	default:
		break;
	}
	if (s->done)
		return;
	if (kind == TK_PUNCT) {
		if (c == '(' && s->depth < UINT16_MAX)
			s->depth++;
		else if (c == ')' && s->depth)
			s->depth--;
		return;
	}
	/* Not IS DISTINCT FROM, FOR [NO KEY] UPDATE, ON CONFLICT DO UPDATE. */
	if ((kw == KW_FROM && prev != KW_DISTINCT) || kw == KW_INTO ||
	    (kw == KW_UPDATE && prev != KW_FOR && prev != KW_KEY && prev != KW_DO)) {
		s->expect = EX_NAME;
		s->kw_depth = s->depth;
	}
}

/*
 * Scan SQL text up to the end of a statement. Returns the bytes consumed; *end
 * tells whether a top-level ';' ended the statement (consumed too).
 */
static size_t sql_scan(struct pg_sql *s, const uint8_t *p, size_t n, bool *end)
{
	size_t i = 0;

	*end = false;
	while (i < n) {
		uint8_t b = p[i];

		switch (s->lex) {
		case LX_NORMAL:
			i++;
			if (is_space(b)) {
				s->tspace = true;
				break;
			}
			if (b == '-') {
				s->lex = LX_DASH;
				break;
			}
			if (b == '/') {
				s->lex = LX_SLASH;
				break;
			}
			if (b == ';') {
				*end = true;
				return i;
			}
			s->any = true;
			if (ident_start(b)) {
				s->lex = LX_WORD;
				s->wlen = 0;
				s->wover = false;
				word_add(s, b);
			} else if (is_digit(b)) {
				s->lex = LX_NUMBER;
			} else if (b == '\'') {
				s->lex = LX_SQUOTE;
				s->estr = false;
			} else if (b == '"') {
				s->lex = LX_QIDENT;
				s->wlen = 0;
				s->wover = false;
			} else if (b == '$') {
				s->lex = LX_DOLLAR;
				s->tag_len = 0;
			} else {
				sql_token(s, TK_PUNCT, b);
			}
			break;
		case LX_WORD:
			if (ident_char(b)) {
				word_add(s, b);
				i++;
				break;
			}
			if (b == '\'' && s->wlen == 1 && (s->word[0] == 'e' || s->word[0] == 'E')) {
				/* E'...': an escape string, where \' does not end it. */
				i++;
				s->lex = LX_SQUOTE;
				s->estr = true;
				sql_token(s, TK_OTHER, 0);
				break;
			}
			s->lex = LX_NORMAL;
			sql_token(s, TK_WORD, 0);
			break;
		case LX_NUMBER:
			if (is_alpha(b) || is_digit(b) || b == '_' || b == '.') {
				i++;
				break;
			}
			s->lex = LX_NORMAL;
			sql_token(s, TK_OTHER, 0);
			break;
		case LX_SQUOTE: {
			/* Literal bodies are skipped whole, never copied. */
			const uint8_t *q = memchr(p + i, '\'', n - i);
			size_t stop = q ? (size_t)(q - p) : n;

			if (s->estr) {
				const uint8_t *bs = memchr(p + i, '\\', stop - i);

				if (bs) {
					i = bs - p + 1;
					s->lex = LX_SQUOTE_ESC;
					break;
				}
			}
			i = stop;
			if (q) {
				i++;
				s->lex = LX_SQUOTE_END;
			}
			break;
		}
		case LX_SQUOTE_ESC:
			i++;
			s->lex = LX_SQUOTE;
			break;
		case LX_SQUOTE_END:
			if (b == '\'') {
				i++;
				s->lex = LX_SQUOTE;
				break;
			}
			s->lex = LX_NORMAL;
			sql_token(s, TK_OTHER, 0);
			break;
		case LX_QIDENT:
			i++;
			if (b == '"')
				s->lex = LX_QIDENT_END;
			else
				word_add(s, b);
			break;
		case LX_QIDENT_END:
			if (b == '"') {
				i++;
				word_add(s, b);
				s->lex = LX_QIDENT;
				break;
			}
			s->lex = LX_NORMAL;
			sql_token(s, TK_QWORD, 0);
			break;
		case LX_DOLLAR:
			if (b == '$') {
				i++;
				s->lex = LX_DQ_BODY;
				break;
			}
			if ((s->tag_len ? ident_start(b) || is_digit(b) : ident_start(b)) &&
			    s->tag_len < sizeof(s->tag)) {
				s->tag[s->tag_len++] = b;
				i++;
				break;
			}
			if (!s->tag_len && is_digit(b)) {
				s->lex = LX_NUMBER; /* $1 */
				break;
			}
			s->lex = LX_NORMAL;
			sql_token(s, TK_OTHER, 0);
			break;
		case LX_DQ_BODY: {
			const uint8_t *q = memchr(p + i, '$', n - i);

			if (!q) {
				i = n;
				break;
			}
			i = q - p + 1;
			s->lex = LX_DQ_CLOSE;
			s->tag_pos = 0;
			break;
		}
		case LX_DQ_CLOSE:
			i++;
			if (s->tag_pos < s->tag_len && b == (uint8_t)s->tag[s->tag_pos]) {
				s->tag_pos++;
			} else if (s->tag_pos == s->tag_len && b == '$') {
				s->lex = LX_NORMAL;
				sql_token(s, TK_OTHER, 0);
			} else if (b == '$') {
				/* Tags hold no '$': this one may begin the closing tag. */
				s->tag_pos = 0;
			} else {
				s->lex = LX_DQ_BODY;
			}
			break;
		case LX_DASH:
			if (b == '-') {
				i++;
				s->lex = LX_LINE_CMT;
				s->tspace = true;
				break;
			}
			s->lex = LX_NORMAL;
			s->any = true;
			sql_token(s, TK_PUNCT, '-');
			break;
		case LX_SLASH:
			if (b == '*') {
				i++;
				s->lex = LX_BLOCK_CMT;
				s->cmt_depth = 1;
				s->tspace = true;
				break;
			}
			s->lex = LX_NORMAL;
			s->any = true;
			sql_token(s, TK_PUNCT, '/');
			break;
		case LX_LINE_CMT:
			i++;
			if (b == '\n' || b == '\r')
				s->lex = LX_NORMAL;
			break;
		case LX_BLOCK_CMT:
			i++;
			if (b == '*')
				s->lex = LX_BC_STAR;
			else if (b == '/')
				s->lex = LX_BC_SLASH;
			break;
		case LX_BC_STAR:
			i++;
			if (b == '/')
				s->lex = --s->cmt_depth ? LX_BLOCK_CMT : LX_NORMAL;
			else if (b != '*')
				s->lex = LX_BLOCK_CMT;
			break;
		case LX_BC_SLASH:
			i++;
			if (b == '*') {
				if (s->cmt_depth < UINT8_MAX)
					s->cmt_depth++;
				s->lex = LX_BLOCK_CMT;
			} else if (b != '/') {
				s->lex = LX_BLOCK_CMT;
			}
			break;
		default:
			s->lex = LX_NORMAL;
			break;
		}
	}
	return i;
}

/*
 * The statement ends here. cut: the text goes on in bytes we did not see, so a
 * word in progress may be only the beginning of one and is dropped.
 */
static void sql_end(struct pg_sql *s, bool cut)
{
	switch (s->lex) {
	case LX_WORD:
		if (!cut)
			sql_token(s, TK_WORD, 0);
		break;
	case LX_QIDENT_END:
		sql_token(s, TK_QWORD, 0);
		break;
	case LX_NUMBER:
	case LX_SQUOTE_END:
		sql_token(s, TK_OTHER, 0);
		break;
	case LX_DASH:
		s->any = true;
		sql_token(s, TK_PUNCT, '-');
		break;
	case LX_SLASH:
		s->any = true;
		sql_token(s, TK_PUNCT, '/');
		break;
	default:
		break;
	}
	s->lex = LX_NORMAL;
	if (s->expect == EX_DOT || s->expect == EX_NAME2)
		cand_done(s);
	s->expect = EX_NONE;
	if (cut)
		s->tover = true;
}

static const char *sql_op(const struct pg_sql *s)
{
	return s->op[0] ? s->op : other_op;
}

static const char *sql_table(const struct pg_sql *s)
{
	return s->table[0] ? s->table : s->inner;
}

/* ---- pending statements ---- */

static void emit(struct feed *f, const struct pg_exchange *x)
{
	if (f->out && f->n < f->max_out)
		f->out[f->n++] = *x;
}

static void push(struct pg_conn *c, const char *op, const char *table, const char *stmt,
		 uint64_t ts)
{
	struct pg_pending *p;

	/*
	 * Full: drop the newest. Completions go to the oldest, and the backend
	 * answers the dropped ones within the same batch, whose ReadyForQuery
	 * realigns everything.
	 */
	if (c->npending >= PG_PENDING_MAX) {
		c->dropped++;
		return;
	}
	p = &c->pending[(c->first + c->npending++) % PG_PENDING_MAX];
	copy_cstr(p->operation, sizeof(p->operation), op);
	copy_cstr(p->table, sizeof(p->table), table);
	copy_cstr(p->statement, sizeof(p->statement), stmt);
	p->begin_ts = ts;
	p->batch = c->fe_seq;
}

static void pop(struct pg_conn *c)
{
	c->first = (c->first + 1) % PG_PENDING_MAX;
	c->npending--;
}

static void exchange_init(const struct pg_conn *c, struct pg_exchange *x, const char *op,
			  const char *table, const char *stmt, uint64_t begin_ts)
{
	memset(x, 0, sizeof(*x));
	x->role = c->role;
	copy_cstr(x->operation, sizeof(x->operation), op);
	copy_cstr(x->table, sizeof(x->table), table);
	copy_cstr(x->db, sizeof(x->db), c->db);
	copy_cstr(x->statement, sizeof(x->statement), stmt);
	x->req_begin_ts = begin_ts;
}

/* The backend finished a statement (CommandComplete, ErrorResponse, ...). */
static void complete(struct feed *f, bool error, const char *sqlstate)
{
	struct pg_conn *c = f->c;
	struct pg_exchange x;

	if (c->npending && c->pending[c->first].batch == c->be_seq) {
		const struct pg_pending *p = &c->pending[c->first];

		exchange_init(c, &x, p->operation, p->table, p->statement, p->begin_ts);
		pop(c);
	} else if (c->lost_exec) {
		/* Its Execute was in bytes we did not see: the statement being bound. */
		exchange_init(c, &x, c->bound_op, c->bound_table, c->bound_stmt, c->group_ts);
	} else {
		/* Answers something we did not see (mid-stream start, dropped). */
		return;
	}
	x.error = error;
	if (error && sqlstate)
		copy_cstr(x.sqlstate, sizeof(x.sqlstate), sqlstate);
	x.resp_end_ts = f->ts;
	emit(f, &x);
}

/* ReadyForQuery: the oldest batch is answered. */
static void ready(struct pg_conn *c)
{
	if (c->be_seq == c->fe_seq) {
		/* No batch outstanding: its Sync was unseen, or we came in mid-stream. */
		if (!c->fe_lost)
			return;
		c->fe_seq++;
	}
	/* Skipped after an error: no completion will come for them. */
	while (c->npending && c->pending[c->first].batch == c->be_seq)
		pop(c);
	c->be_seq++;
	c->lost_exec = false;
}

/*
 * A new request while the backend is out of step: the client sends one only
 * once the previous ones are answered, so they all ended with the last
 * backend bytes seen.
 */
static void lost_flush(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_exchange x;

	while (c->npending) {
		const struct pg_pending *p = &c->pending[c->first];

		exchange_init(c, &x, p->operation, p->table, p->statement, p->begin_ts);
		x.resp_end_ts = c->be_lost_ts > p->begin_ts ? c->be_lost_ts : p->begin_ts;
		emit(f, &x);
		pop(c);
	}
	c->be_seq = c->fe_seq;
	c->be_lost = false;
}

/* ---- prepared statements ---- */

static struct pg_stmt *stmt_find(struct pg_conn *c, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < PG_STMTS_MAX; i++) {
		struct pg_stmt *st = &c->stmts[i];

		if (st->used && !strncmp(st->name, name, len) && st->name[len] == '\0')
			return st;
	}
	return NULL;
}

static void stmt_store(struct pg_conn *c, const char *name, size_t len, const char *op,
		       const char *table, const char *stmt)
{
	struct pg_stmt *st = stmt_find(c, name, len);
	size_t i;

	if (!st) {
		/* A free slot, else the least recently used one. */
		st = &c->stmts[0];
		for (i = 0; i < PG_STMTS_MAX && st->used; i++)
			if (!c->stmts[i].used || c->stmts[i].used < st->used)
				st = &c->stmts[i];
	}
	if (len > sizeof(st->name) - 1)
		len = sizeof(st->name) - 1;
	memcpy(st->name, name, len);
	st->name[len] = '\0';
	copy_cstr(st->operation, sizeof(st->operation), op);
	copy_cstr(st->table, sizeof(st->table), table);
	copy_cstr(st->statement, sizeof(st->statement), stmt);
	st->used = ++c->tick ? c->tick : ++c->tick;
}

static void bind_set(struct pg_conn *c, const char *op, const char *table, const char *stmt)
{
	copy_cstr(c->bound_op, sizeof(c->bound_op), op);
	copy_cstr(c->bound_table, sizeof(c->bound_table), table);
	copy_cstr(c->bound_stmt, sizeof(c->bound_stmt), stmt);
}

/* ---- message validation ---- */

static bool fe_type_len_ok(uint8_t t, uint32_t l)
{
	switch (t) {
	case 'Q':
		return l >= 5;
	case 'P':
		return l >= 8;
	case 'B':
		return l >= 12;
	case 'E':
		return l >= 9;
	case 'D':
	case 'C':
		return l >= 6;
	case 'S':
	case 'H':
	case 'X':
	case 'c':
		return l == 4;
	case 'F':
		return l >= 14;
	case 'f':
		return l >= 5;
	case 'd':
	case 'p':
		return true;
	default:
		return false;
	}
}

static bool be_type_len_ok(uint8_t t, uint32_t l)
{
	switch (t) {
	case 'Z':
		return l == 5;
	case '1':
	case '2':
	case '3':
	case 'n':
	case 'I':
	case 'c':
	case 's':
		return l == 4;
	case 'K':
		return l >= 12 && l <= 4 + 4 + 256;
	case 'R':
	case 'V':
		return l >= 8;
	case 'C':
	case 'E':
	case 'N':
		return l >= 5;
	case 'S':
	case 'T':
	case 'D':
	case 't':
		return l >= 6;
	case 'G':
	case 'H':
	case 'W':
		return l >= 7;
	case 'A':
		return l >= 10;
	case 'v':
		return l >= 12;
	case 'd':
		return true;
	default:
		return false;
	}
}

static bool msg_ok(bool fe, uint8_t t, uint32_t l)
{
	if (l < 4 || l > PG_LEN_MAX)
		return false;
	return fe ? fe_type_len_ok(t, l) : be_type_len_ok(t, l);
}

/* Query text: printable up to its NUL (or as far as we see it). */
static bool text_ok(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i]; i++)
		if (!is_text(p[i]))
			return false;
	return true;
}

/* A message a frontend may begin a request with (not copy data or a password). */
static bool fe_starts_request(uint8_t t)
{
	return t && strchr("QPBEDCSHFX", t);
}

/*
 * Out of step, does this feed begin a plausible chain of messages? Every
 * header within the captured bytes must be valid.
 */
static bool chain_ok(bool fe, const uint8_t *d, size_t len)
{
	size_t p = 0;

	if (len < 5)
		return false;
	if (fe && !fe_starts_request(d[0]))
		return false;
	while (p + 5 <= len) {
		uint8_t t = d[p];
		uint32_t l = be32(d + p + 1);
		size_t avail = len - p - 5;

		if (!msg_ok(fe, t, l))
			return false;
		if (avail > l - 4)
			avail = l - 4;
		if (fe && t == 'Q' && !text_ok(d + p + 5, avail))
			return false;
		if (!fe && t == 'Z' && avail && !strchr("ITE", d[p + 5] ? d[p + 5] : '?'))
			return false;
		if (!fe && t == 'C' && avail && !(d[p + 5] >= 'A' && d[p + 5] <= 'Z'))
			return false;
		if ((uint64_t)l + 1 > len - p)
			break;
		p += (size_t)l + 1;
	}
	return true;
}

bool pg_looks_like_frontend(const uint8_t *data, size_t len)
{
	uint32_t l;

	if (!data || len < 5)
		return false;
	if (data[0] == 0) {
		uint32_t code;

		if (len < 8)
			return false;
		l = be32(data);
		code = be32(data + 4);
		/*
		 * Protocol 3.x, then parameter names (user, database, options,
		 * _pq_.*): a Kafka Metadata v2 request has the same first eight
		 * bytes, then a binary correlation id.
		 */
		if (code >> 16 == 3)
			return l > 8 && l <= PG_STARTUP_MAX &&
			       (len == 8 || (data[8] >= 'a' && data[8] <= 'z') || data[8] == '_');
		return (code == PG_CODE_SSL || code == PG_CODE_GSS) && l == 8;
	}
	l = be32(data + 1);
	if (data[0] == 'Q') {
		size_t n = len - 5;

		if (l < 5 || l > PG_SNIFF_MAX)
			return false;
		if (n > l - 4)
			n = l - 4;
		return text_ok(data + 5, n);
	}
	return data[0] == 'P' && l >= 8 && l <= PG_SNIFF_MAX;
}

/* ---- state changes ---- */

static void encrypt(struct pg_conn *c)
{
	c->encrypted = true;
	c->half[0].state = HS_DONE;
	c->half[1].state = HS_DONE;
}

static void half_expect_hdr(struct pg_half *h, bool tentative)
{
	h->state = HS_HDR;
	h->hdr_len = 0;
	h->tentative = tentative;
}

static struct pg_half *other_half(struct feed *f)
{
	return f->h == &f->c->half[0] ? &f->c->half[1] : &f->c->half[0];
}

/* Framing lost: the rest of the feed (and maybe more) is some message we cannot follow. */
static void lost(struct feed *f)
{
	struct pg_conn *c = f->c;

	f->h->state = HS_RESYNC;
	f->off = f->len;
	f->unseen = 0;
	c->desyncs++;
	if (f->fe) {
		c->fe_lost = true;
		c->lost_exec = c->group_open;
	} else {
		c->be_lost = true;
		c->be_lost_ts = f->ts;
	}
}

/* A feed begins a plausible message: follow it, tentatively. */
static void resync(struct feed *f)
{
	struct pg_conn *c = f->c;

	half_expect_hdr(f->h, true);
	if (f->fe) {
		c->fe_lost = false;
		c->lost_exec = false;
		c->group_open = false;
		c->fe_open = false;
	} else {
		c->be_lost = false;
	}
}

/* A malformed message: out of step again if we were guessing, else the connection is broken. */
static int bad(struct feed *f)
{
	if (!f->h->tentative)
		return -1;
	lost(f);
	return 0;
}

/* ---- frontend messages ---- */

static void fe_msg_begin(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;
	uint8_t t = h->type;
	bool ext = t == 'P' || t == 'B' || t == 'D' || t == 'E' || t == 'C' || t == 'H';

	if (t != 'd' && t != 'c' && t != 'f' && t != 'p' &&
	    (!c->fe_open || t == 'Q' || t == 'F' || t == 'X') && c->be_lost)
		lost_flush(f);
	if (ext)
		c->fe_open = true;
	if ((t == 'P' || t == 'B' || t == 'D' || t == 'E') && !c->group_open) {
		c->group_open = true;
		c->group_ts = h->msg_ts;
	}
	switch (t) {
	case 'Q':
		c->group_open = false;
		sql_init(&c->sql);
		break;
	case 'P':
		sql_init(&c->sql);
		bind_set(c, other_op, "", "");
		break;
	case 'B':
		/* Unless its statement is known, the Execute will be "OTHER". */
		bind_set(c, other_op, "", "");
		break;
	case 'E':
		push(c, c->bound_op, c->bound_table, c->bound_stmt, c->group_ts);
		c->group_open = false;
		break;
	default:
		break;
	}
}

/*
 * Collect a NUL-terminated field into h->fbuf. Returns the bytes consumed
 * (the NUL included); *end tells whether the NUL was found.
 */
static size_t field_take(struct pg_half *h, const uint8_t *p, size_t n, size_t cap, bool *end)
{
	const uint8_t *z = memchr(p, 0, n);
	size_t k = z ? (size_t)(z - p) : n, room;

	if (cap > sizeof(h->fbuf))
		cap = sizeof(h->fbuf);
	room = h->flen < cap - 1 ? cap - 1 - h->flen : 0;
	if (k > room)
		h->fover = true;
	memcpy(h->fbuf + h->flen, p, k < room ? k : room);
	h->flen += k < room ? k : room;
	h->fbuf[h->flen] = '\0';
	*end = z != NULL;
	return z ? k + 1 : k;
}

static void field_next(struct pg_half *h)
{
	h->field++;
	h->flen = 0;
	h->fover = false;
	h->fbuf[0] = '\0';
}

/* One statement of a Query ends (';', the end of the text, or unseen bytes). */
static void query_stmt(struct feed *f, bool cut)
{
	struct pg_conn *c = f->c;
	struct pg_sql *s = &c->sql;

	sql_end(s, cut);
	if (s->any) {
		push(c, sql_op(s), sql_table(s), sql_text(s), f->h->msg_ts);
		f->h->got = true;
	}
	sql_stmt_reset(s);
}

static void query_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_half *h = f->h;
	const uint8_t *z;
	size_t k, i = 0;
	bool end;

	if (h->field)
		return;
	z = memchr(p, 0, n);
	k = z ? (size_t)(z - p) : n;
	while (i < k) {
		i += sql_scan(&f->c->sql, p + i, k - i, &end);
		if (end)
			query_stmt(f, false);
	}
	if (z) {
		query_stmt(f, false);
		h->field = FIELD_SKIP;
	}
}

static void parse_query_end(struct feed *f, bool cut)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;

	sql_end(&c->sql, cut);
	stmt_store(c, h->fbuf, h->flen, sql_op(&c->sql), sql_table(&c->sql), sql_text(&c->sql));
	bind_set(c, sql_op(&c->sql), sql_table(&c->sql), c->sql.text);
	h->field = FIELD_SKIP;
}

/* Parse: statement name, query text, parameter types. */
static void parse_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_half *h = f->h;
	size_t i = 0;
	bool end;

	if (h->field == 0) {
		i = field_take(h, p, n, sizeof(h->fbuf), &end);
		if (!end)
			return;
		/* fbuf keeps the name while the query streams through the scanner. */
		h->field = 1;
	}
	if (h->field == 1 && i < n) {
		const uint8_t *z = memchr(p + i, 0, n - i);
		size_t k = z ? (size_t)(z - p) : n;

		while (i < k) {
			i += sql_scan(&f->c->sql, p + i, k - i, &end);
			/* One statement per Parse: a trailing ';' ends it. */
			if (end) {
				parse_query_end(f, false);
				return;
			}
		}
		if (z)
			parse_query_end(f, false);
	}
}

/* Bind: portal name, statement name, then parameters we do not need. */
static void bind_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;
	size_t i = 0;
	bool end;

	while (i < n && h->field < 2) {
		i += field_take(h, p + i, n - i, sizeof(h->fbuf), &end);
		if (!end)
			return;
		if (h->field == 1) {
			struct pg_stmt *st = h->fover ? NULL : stmt_find(c, h->fbuf, h->flen);

			if (st) {
				st->used = ++c->tick ? c->tick : ++c->tick;
				bind_set(c, st->operation, st->table, st->statement);
			}
			h->field = FIELD_SKIP;
			return;
		}
		field_next(h);
	}
}

/* StartupMessage: name/value pairs, an empty name ends them. */
static void startup_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;
	size_t i = 0;
	bool end;

	while (i < n && h->field != FIELD_SKIP) {
		i += field_take(h, p + i, n - i, sizeof(h->fbuf), &end);
		if (!end)
			return;
		if (!(h->field & 1)) {
			if (!h->flen && !h->fover) {
				h->field = FIELD_SKIP;
				return;
			}
			h->aux = 0;
			if (!h->fover && !strcmp(h->fbuf, "database"))
				h->aux = 1;
			else if (!h->fover && !strcmp(h->fbuf, "user"))
				h->aux = 2;
		} else if ((h->aux == 1 && h->flen) || (h->aux == 2 && !c->db_named)) {
			/* The database defaults to the user name. */
			copy_cstr(c->db, sizeof(c->db), h->fbuf);
			if (h->aux == 1)
				c->db_named = true;
		}
		field_next(h);
		h->field &= 1; /* alternate name/value without ever reaching FIELD_SKIP */
	}
}

/* The body goes on in unseen bytes: what we parse from it stops here. */
static void fe_body_cut(struct feed *f)
{
	struct pg_half *h = f->h;

	if (h->type == 'Q' && h->field == 0)
		query_stmt(f, true);
	else if (h->type == 'P' && h->field == 1)
		parse_query_end(f, true);
	h->field = FIELD_SKIP;
}

static void fe_msg_end(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;

	switch (h->type) {
	case 'Q':
		if (h->field == 0)
			query_stmt(f, false);
		/* An empty query still gets an answer (EmptyQueryResponse). */
		if (!h->got)
			push(c, other_op, "", "", h->msg_ts);
		fallthrough;
	case 'S':
		c->fe_seq++;
		c->fe_open = false;
		c->group_open = false;
		h->tentative = false;
		break;
	case 'P':
		if (h->field == 1)
			parse_query_end(f, false);
		break;
	case 'F':
		/* Answered with FunctionCallResponse and ReadyForQuery. */
		c->fe_seq++;
		break;
	default:
		break;
	}
}

/* ---- startup phase ---- */

static void startup_end(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h, *o = other_half(f);

	switch (h->kind) {
	case SK_SSL:
	case SK_GSS:
		/* The answer is one byte, then TLS/GSSAPI or the startup message. */
		c->requested = true;
		h->state = HS_STARTUP;
		h->hdr_len = 0;
		o->state = HS_SSL_ANSWER;
		break;
	case SK_CANCEL:
		h->state = HS_DONE;
		o->state = HS_DONE;
		break;
	default:
		c->startup_done = true;
		/* Authentication ends with ReadyForQuery: a batch of its own. */
		c->fe_seq++;
		half_expect_hdr(h, false);
		if (o->state != HS_SSL_ANSWER)
			half_expect_hdr(o, false);
		break;
	}
}

static int startup_hdr(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;
	uint32_t l, code;
	size_t n;

	if (f->off == f->len) {
		lost(f);
		return 0;
	}
	if (!h->hdr_len) {
		/* After SSLRequest/GSSENCRequest: a TLS record or GSSAPI token, not a startup. */
		if (c->requested && f->data[f->off] != 0) {
			encrypt(c);
			return 0;
		}
		h->msg_ts = f->ts;
	}
	n = 8 - h->hdr_len;
	if (n > f->len - f->off)
		n = f->len - f->off;
	memcpy(h->hdr + h->hdr_len, f->data + f->off, n);
	h->hdr_len += n;
	f->off += n;
	if (h->hdr_len < 8)
		return 0;
	l = be32(h->hdr);
	code = be32(h->hdr + 4);
	h->type = 0;
	h->field = 0;
	h->flen = 0;
	h->fover = false;
	if (code == PG_CODE_SSL || code == PG_CODE_GSS) {
		if (l != 8)
			return -1;
		h->kind = code == PG_CODE_SSL ? SK_SSL : SK_GSS;
	} else if (code == PG_CODE_CANCEL) {
		/* 16 bytes; protocol 3.2 allows longer keys. */
		if (l < 16 || l > 8 + 4 + 256)
			return -1;
		h->kind = SK_CANCEL;
	} else if (code >> 16 == 3) {
		if (l <= 8 || l > PG_STARTUP_MAX)
			return -1;
		h->kind = SK_STARTUP;
	} else if (c->requested) {
		/* Encrypted bytes that happen to begin with 0 (a GSSAPI token length). */
		encrypt(c);
		return 0;
	} else {
		/* Not a startup packet: we came in mid-stream. */
		h->state = HS_RESYNC;
		f->off = f->len;
		f->unseen = 0;
		return 0;
	}
	h->left = l - 8;
	if (!h->left) {
		startup_end(f);
		return 0;
	}
	h->state = HS_BODY;
	return 0;
}

static int ssl_answer(struct feed *f)
{
	struct pg_half *h = f->h;

	if (f->off == f->len) {
		/* Not captured: assume 'N'; a TLS hello on the frontend would say otherwise. */
		f->unseen--;
		half_expect_hdr(h, false);
		return 0;
	}
	switch (f->data[f->off]) {
	case 'S':
	case 'G':
		encrypt(f->c);
		return 0;
	case 'N':
		f->off++;
		half_expect_hdr(h, false);
		return 0;
	case 'E':
		/* A server without SSL support answers with an ErrorResponse. */
		half_expect_hdr(h, false);
		return 0;
	default:
		return -1;
	}
}

/* ---- backend messages ---- */

/* ErrorResponse: (type byte, NUL-terminated value)*, then a 0 type. Keep the 'C' value. */
static void error_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_half *h = f->h;
	size_t i = 0;
	bool end;

	while (i < n && h->field != FIELD_SKIP) {
		if (h->field == 0) {
			h->aux = p[i++];
			h->field = h->aux ? 1 : FIELD_SKIP;
			continue;
		}
		if (h->aux == 'C' && !h->got) {
			i += field_take(h, p + i, n - i, 6, &end);
			if (end)
				h->got = true;
		} else {
			const uint8_t *z = memchr(p + i, 0, n - i);

			end = z != NULL;
			i = z ? (size_t)(z - p) + 1 : n;
		}
		if (end)
			h->field = 0;
	}
}

static bool sqlstate_ok(const struct pg_half *h)
{
	size_t i;

	if (!h->got || h->fover || h->flen != 5)
		return false;
	for (i = 0; i < 5; i++)
		if (!is_digit(h->fbuf[i]) && !(h->fbuf[i] >= 'A' && h->fbuf[i] <= 'Z'))
			return false;
	return true;
}

static void be_msg_end(struct feed *f)
{
	struct pg_half *h = f->h;

	switch (h->type) {
	case 'C':
	case 'I':
	case 's':
		complete(f, false, NULL);
		break;
	case 'E':
		complete(f, true, sqlstate_ok(h) ? h->fbuf : "");
		break;
	case 'Z':
		ready(f->c);
		h->tentative = false;
		break;
	default:
		break;
	}
}

/* ---- framing ---- */

static void msg_end(struct feed *f)
{
	struct pg_half *h = f->h;

	if (!h->type) {
		startup_end(f);
		return;
	}
	h->state = HS_HDR;
	h->hdr_len = 0;
	if (f->fe)
		fe_msg_end(f);
	else
		be_msg_end(f);
	/* Terminate: nothing more is parsed. */
	if (f->fe && h->type == 'X')
		h->state = HS_DONE;
}

static int hdr(struct feed *f)
{
	struct pg_half *h = f->h;
	uint32_t l;
	size_t n;

	if (f->off == f->len) {
		/* The next message begins in unseen bytes. */
		lost(f);
		return 0;
	}
	if (!h->hdr_len)
		h->msg_ts = f->ts;
	n = 5 - h->hdr_len;
	if (n > f->len - f->off)
		n = f->len - f->off;
	memcpy(h->hdr + h->hdr_len, f->data + f->off, n);
	h->hdr_len += n;
	f->off += n;
	if (h->hdr_len < 5)
		return 0;
	l = be32(h->hdr + 1);
	if (!msg_ok(f->fe, h->hdr[0], l))
		return bad(f);
	h->type = h->hdr[0];
	h->left = l - 4;
	h->field = 0;
	h->flen = 0;
	h->fover = false;
	h->got = false;
	h->aux = 0;
	h->state = HS_BODY;
	if (f->fe)
		fe_msg_begin(f);
	if (!h->left)
		msg_end(f);
	return 0;
}

static void body_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct pg_half *h = f->h;

	if (h->field == FIELD_SKIP)
		return;
	if (!f->fe) {
		if (h->type == 'E')
			error_bytes(f, p, n);
		return;
	}
	switch (h->type) {
	case 0:
		if (h->kind == SK_STARTUP)
			startup_bytes(f, p, n);
		break;
	case 'Q':
		query_bytes(f, p, n);
		break;
	case 'P':
		parse_bytes(f, p, n);
		break;
	case 'B':
		bind_bytes(f, p, n);
		break;
	default:
		break;
	}
}

static void body(struct feed *f)
{
	struct pg_half *h = f->h;
	uint64_t n;

	if (f->off < f->len) {
		n = f->len - f->off;
		if (n > h->left)
			n = h->left;
		body_bytes(f, f->data + f->off, (size_t)n);
		f->off += n;
	} else {
		/* Unseen bytes of the body still advance the framing. */
		n = f->unseen < h->left ? f->unseen : h->left;
		if (f->fe)
			fe_body_cut(f);
		h->field = FIELD_SKIP;
		f->unseen -= n;
	}
	h->left -= n;
	if (!h->left)
		msg_end(f);
}

static int half_feed(struct feed *f)
{
	struct pg_conn *c = f->c;
	struct pg_half *h = f->h;

	while (f->off < f->len || f->unseen) {
		switch (h->state) {
		case HS_DONE:
			return 0;
		case HS_INIT:
			if (f->fe && f->off == 0 && f->len) {
				if (f->data[0] == 0) {
					h->state = HS_STARTUP;
					h->hdr_len = 0;
					break;
				}
				/* A TLS record: direct SSL negotiation. */
				if (f->data[0] == 0x16) {
					encrypt(c);
					return 0;
				}
			}
			h->state = HS_RESYNC;
			break;
		case HS_RESYNC:
			if (f->off == 0 && chain_ok(f->fe, f->data, f->len)) {
				resync(f);
				break;
			}
			/*
			 * Skipped bytes may hold what we wait for: a Sync, or the end of
			 * a response (then these are its latest bytes).
			 */
			if (f->fe) {
				c->fe_lost = true;
			} else {
				c->be_lost = true;
				c->be_lost_ts = f->ts;
			}
			f->off = f->len;
			f->unseen = 0;
			break;
		case HS_STARTUP:
			if (startup_hdr(f))
				return -1;
			break;
		case HS_SSL_ANSWER:
			if (ssl_answer(f))
				return -1;
			break;
		case HS_HDR:
			if (hdr(f))
				return -1;
			break;
		case HS_BODY:
			body(f);
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* ---- public API ---- */

void pg_conn_init(struct pg_conn *c, enum pg_role role_hint)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	if (role_hint != PG_ROLE_SERVER && role_hint != PG_ROLE_CLIENT)
		role_hint = PG_ROLE_UNKNOWN;
	c->role = role_hint;
	copy_cstr(c->bound_op, sizeof(c->bound_op), other_op);
}

int pg_conn_feed(struct pg_conn *c, enum pg_dir dir, const uint8_t *data, size_t caplen,
		 uint64_t total, uint64_t ts, struct pg_exchange *out, int max_out)
{
	struct feed f;
	enum pg_dir fe_dir;

	if (!c || c->broken || c->encrypted || (dir != PG_DIR_INGRESS && dir != PG_DIR_EGRESS))
		return 0;
	if (!data)
		caplen = 0;
	if (caplen > total)
		caplen = total;
	if (!total)
		return 0;
	if (c->role == PG_ROLE_UNKNOWN) {
		/* Whoever sends frontend messages first is the frontend. */
		if (!pg_looks_like_frontend(data, caplen))
			return 0;
		c->role = dir == PG_DIR_EGRESS ? PG_ROLE_CLIENT : PG_ROLE_SERVER;
	}
	fe_dir = c->role == PG_ROLE_CLIENT ? PG_DIR_EGRESS : PG_DIR_INGRESS;
	memset(&f, 0, sizeof(f));
	f.c = c;
	f.h = &c->half[dir];
	f.fe = dir == fe_dir;
	f.data = data;
	f.len = caplen;
	f.unseen = total - caplen;
	f.ts = ts;
	f.out = out;
	f.max_out = max_out > 0 ? max_out : 0;
	if (half_feed(&f)) {
		c->broken = true;
		return -1;
	}
	return f.n;
}

bool pg_conn_broken(const struct pg_conn *c)
{
	return c && c->broken;
}

bool pg_conn_encrypted(const struct pg_conn *c)
{
	return c && c->encrypted;
}

bool pg_conn_busy(const struct pg_conn *c)
{
	return c && !c->broken && (c->npending > 0 || c->lost_exec);
}

void pg_sql_summary(const char *sql, size_t len, char *op, size_t opsz, char *table, size_t tablesz)
{
	struct pg_sql s;
	const char *z;
	bool end;

	sql_init(&s);
	if (sql) {
		z = memchr(sql, 0, len);
		if (z)
			len = z - sql;
		/* The first statement only. */
		sql_scan(&s, (const uint8_t *)sql, len, &end);
	}
	sql_end(&s, false);
	if (op)
		copy_cstr(op, opsz, sql_op(&s));
	if (table)
		copy_cstr(table, tablesz, sql_table(&s));
}

void pg_sql_statement(const char *sql, size_t len, char *out, size_t outsz)
{
	struct pg_sql s;
	const char *z;
	size_t i = 0;
	bool end = false;

	sql_init(&s);
	if (sql) {
		z = memchr(sql, 0, len);
		if (z)
			len = z - sql;
		while (i < len && !end)
			i += sql_scan(&s, (const uint8_t *)sql + i, len - i, &end);
	}
	sql_end(&s, false);
	copy_cstr(out, outsz, sql_text(&s));
}
