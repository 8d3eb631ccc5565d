// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `sonde traces`: an HTTP/1.0 GET of /api/traces over a plain socket, a JSON
 * reader for exactly the shapes sonde writes (Zipkin ListOfTraces, Trace,
 * ListOfSpans), and a timeline printer. The reader takes only what it prints
 * and skips every other member; it never trusts the input: strings are
 * bounded, nesting is bounded, and anything that is not JSON is an error.
 * What it prints is terminal-safe: control characters become '?'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "export/zipkin.h"
#include "span.h"
#include "traces_cli.h"

#define DEFAULT_LISTEN "127.0.0.1:9464"
#define DEFAULT_LIMIT 10
#define MAX_LIMIT 1000         /* the agent's own bound */
#define IO_TIMEOUT_S 5         /* connect, send and each read */
#define BODY_MAX (256u << 20)  /* far more than 1000 traces of a full store */
#define NEST_MAX 32            /* JSON nesting the reader follows before giving up */
#define INDENT_MAX 24          /* tree levels drawn; deeper spans are drawn at this depth */
#define NAME_COL_MAX 48        /* span names wider than this push the status column out */
#define STATUS_MAX 24

/* ---- the JSON reader ------------------------------------------------- */

/* A span, as much of it as a timeline shows. */
struct cspan {
	char trace_id[33], id[17], parent[17];
	char name[SPAN_NAME_MAX], service[SPAN_SERVICE_MAX], status[STATUS_MAX];
	uint64_t ts, dur;
	bool shared, error;
	size_t pos; /* in the input: keeps traces in the order the agent sent them */
};

struct spans {
	struct cspan *v;
	size_t n, cap;
};

struct rd {
	const char *p, *end;
	int depth;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool peek(struct rd *r, char c)
{
	ws(r);
	return r->p < r->end && *r->p == c;
}

static bool eat(struct rd *r, char c)
{
	if (!peek(r, c))
		return false;
	r->p++;
	return true;
}

static bool eat_word(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	ws(r);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n))
		return false;
	r->p += n;
	return true;
}

/* Append the UTF-8 of cp to out (size outsz, used *n) if it fits whole; C0/C1 controls as '?'. */
static void put_cp(char *out, size_t outsz, size_t *n, uint32_t cp)
{
	char u[4];
	size_t l;

	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		cp = '?';
	else if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp, l = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), l = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f)), l = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), l = 4;
	}
	if (!out || *n + l >= outsz)
		return; /* truncated on a character boundary */
	memcpy(out + *n, u, l);
	*n += l;
}

static int hex4(struct rd *r, uint32_t *v)
{
	*v = 0;
	if (r->end - r->p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		int d = span_hexval(*r->p++);

		if (d < 0)
			return -EINVAL;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

/* After a backslash: one escape, as a code point (lone surrogates become U+FFFD). */
static int unescape(struct rd *r, uint32_t *cp)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	uint32_t lo;

	if (r->p >= r->end)
		return -EINVAL;
	if (*r->p != 'u') {
		e = strchr(from, *r->p);
		if (!e || !*r->p)
			return -EINVAL;
		r->p++;
		*cp = (unsigned char)to[e - from];
		return 0;
	}
	r->p++;
	if (hex4(r, cp))
		return -EINVAL;
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		*cp = 0xfffd;
	} else if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') {
			*cp = 0xfffd;
			return 0;
		}
		r->p += 2;
		if (hex4(r, &lo))
			return -EINVAL;
		if (lo < 0xdc00 || lo > 0xdfff)
			*cp = 0xfffd; /* and lo is lost: fine for a display */
		else
			*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return 0;
}

/* One raw UTF-8 sequence (n > 0 bytes left) as a code point; bad bytes are U+FFFD, one each. */
static size_t raw_cp(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;

	*cp = s[0] < 0x80 ? s[0] : (uint32_t)(s[0] & (0x7f >> len));
	if (s[0] >= 0x80 && (len == 1 || s[0] >= 0xf8 || len > n))
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
bad:
	*cp = 0xfffd;
	return 1;
}

/* A JSON string into out (NUL-terminated, truncated), or skipped when out is NULL. */
static int rd_str(struct rd *r, char *out, size_t outsz)
{
	size_t n = 0;
	uint32_t cp;

	if (!eat(r, '"'))
		return -EINVAL;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;

		if (c < 0x20)
			return -EINVAL; /* JSON forbids raw control characters */
		if (c == '\\') {
			r->p++;
			if (unescape(r, &cp))
				return -EINVAL;
		} else {
			r->p += raw_cp((const unsigned char *)r->p, r->end - r->p, &cp);
		}
		put_cp(out, outsz, &n, cp);
	}
	if (r->p >= r->end)
		return -EINVAL;
	r->p++;
	if (out)
		out[n] = '\0';
	return 0;
}

/* A non-negative integer (saturating); a sign, fraction or exponent is read and dropped. */
static int rd_u64(struct rd *r, uint64_t *v)
{
	bool neg = eat(r, '-'), digits = false;

	*v = 0;
	for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++, digits = true)
		*v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : *v * 10 + (uint64_t)(*r->p - '0');
	if (!digits)
		return -EINVAL;
	while (r->p < r->end && *r->p && strchr("0123456789.eE+-", *r->p))
		r->p++;
	if (neg)
		*v = 0;
	return 0;
}

typedef int (*member_fn)(struct rd *r, const char *key, void *ctx);

static int skip_value(struct rd *r);

/* An object, calling fn for each member with the reader at its value (fn consumes it). */
static int rd_object(struct rd *r, member_fn fn, void *ctx)
{
	char key[64];
	int err = 0;

	if (++r->depth > NEST_MAX || !eat(r, '{'))
		return -EINVAL;
	if (!eat(r, '}')) {
		do {
			if (rd_str(r, key, sizeof(key)) || !eat(r, ':'))
				return -EINVAL;
			err = fn(r, key, ctx);
			if (err)
				return err;
		} while (eat(r, ','));
		if (!eat(r, '}'))
			return -EINVAL;
	}
	r->depth--;
	return 0;
}

static int skip_member(struct rd *r, const char *key, void *ctx)
{
	(void)key;
	(void)ctx;
	return skip_value(r);
}

static int skip_value(struct rd *r)
{
	uint64_t v;

	ws(r);
	if (r->p >= r->end)
		return -EINVAL;
	switch (*r->p) {
	case '{':
		return rd_object(r, skip_member, NULL);
	case '[':
		if (++r->depth > NEST_MAX || !eat(r, '['))
			return -EINVAL;
		if (!eat(r, ']')) {
			do {
				if (skip_value(r))
					return -EINVAL;
			} while (eat(r, ','));
			if (!eat(r, ']'))
				return -EINVAL;
		}
		r->depth--;
		return 0;
	case '"':
		return rd_str(r, NULL, 0);
	case 't':
		return eat_word(r, "true") ? 0 : -EINVAL;
	case 'f':
		return eat_word(r, "false") ? 0 : -EINVAL;
	case 'n':
		return eat_word(r, "null") ? 0 : -EINVAL;
	default:
		return rd_u64(r, &v);
	}
}

/* A string member into out, any other type skipped: tolerant of what it does not show. */
static int str_or_skip(struct rd *r, char *out, size_t outsz)
{
	return peek(r, '"') ? rd_str(r, out, outsz) : skip_value(r);
}

static int u64_or_skip(struct rd *r, uint64_t *v)
{
	ws(r);
	if (r->p < r->end && (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')))
		return rd_u64(r, v);
	return skip_value(r);
}

static int endpoint_member(struct rd *r, const char *key, void *ctx)
{
	struct cspan *s = ctx;

	if (!strcmp(key, "serviceName"))
		return str_or_skip(r, s->service, sizeof(s->service));
	return skip_value(r);
}

static int tag_member(struct rd *r, const char *key, void *ctx)
{
	struct cspan *s = ctx;

	if (!strcmp(key, "http.status_code"))
		return str_or_skip(r, s->status, sizeof(s->status));
	if (!strcmp(key, "error"))
		s->error = true;
	return skip_value(r);
}

static int span_member(struct rd *r, const char *key, void *ctx)
{
	struct cspan *s = ctx;

	if (!strcmp(key, "traceId"))
		return str_or_skip(r, s->trace_id, sizeof(s->trace_id));
	if (!strcmp(key, "id"))
		return str_or_skip(r, s->id, sizeof(s->id));
	if (!strcmp(key, "parentId"))
		return str_or_skip(r, s->parent, sizeof(s->parent));
	if (!strcmp(key, "name"))
		return str_or_skip(r, s->name, sizeof(s->name));
	if (!strcmp(key, "timestamp"))
		return u64_or_skip(r, &s->ts);
	if (!strcmp(key, "duration"))
		return u64_or_skip(r, &s->dur);
	if (!strcmp(key, "shared")) {
		s->shared = eat_word(r, "true");
		return s->shared ? 0 : skip_value(r);
	}
	if (!strcmp(key, "localEndpoint") && peek(r, '{'))
		return rd_object(r, endpoint_member, s);
	if (!strcmp(key, "tags") && peek(r, '{'))
		return rd_object(r, tag_member, s);
	return skip_value(r);
}

static int rd_span(struct rd *r, struct spans *ss)
{
	struct cspan *s;

	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 64;
		void *v = realloc(ss->v, cap * sizeof(*ss->v));

		if (!v)
			return -ENOMEM;
		ss->v = v;
		ss->cap = cap;
	}
	s = &ss->v[ss->n];
	memset(s, 0, sizeof(*s));
	s->pos = ss->n;
	if (rd_object(r, span_member, s))
		return -EINVAL;
	ss->n++;
	return 0;
}

/* A ListOfTraces (arrays of spans) or a Trace / ListOfSpans (spans), mixed even. */
static int rd_doc(struct rd *r, struct spans *ss)
{
	int err;

	if (!eat(r, '['))
		return -EINVAL;
	if (!eat(r, ']')) {
		do {
			if (!peek(r, '[')) {
				err = rd_span(r, ss);
			} else {
				r->p++;
				err = 0;
				if (!eat(r, ']')) {
					do
						err = rd_span(r, ss);
					while (!err && eat(r, ','));
					if (!err && !eat(r, ']'))
						err = -EINVAL;
				}
			}
			if (err)
				return err;
		} while (eat(r, ','));
		if (!eat(r, ']'))
			return -EINVAL;
	}
	ws(r);
	return r->p == r->end ? 0 : -EINVAL;
}

/* ---- the timeline ---------------------------------------------------- */

struct idref {
	const char *id;
	long i;
};

/* The spans of one id: the first two shared and the first two not, by time (one may be self). */
struct idrun {
	const char *id;
	long shared[2], plain[2];
};

static int by_run(const void *pa, const void *pb)
{
	return strcmp(((const struct idrun *)pa)->id, ((const struct idrun *)pb)->id);
}

/* One trace being drawn: spans t[0..n) (pointers into the parsed spans), by timestamp. */
struct tree {
	struct cspan **t;
	size_t n;
	struct idref *ids;   /* by id, then time */
	struct idrun *runs;  /* one per distinct id, by id */
	size_t nruns;
	long *parent, *child, *next; /* indices into t; -1: none */
	long *order;                 /* drawing order */
	int *depth;
	bool *last, *seen;
};

static int by_trace_pos(const void *pa, const void *pb)
{
	const struct cspan *a = *(struct cspan *const *)pa, *b = *(struct cspan *const *)pb;
	int c = strcmp(a->trace_id, b->trace_id);

	return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

static int by_time(const void *pa, const void *pb)
{
	const struct cspan *a = *(struct cspan *const *)pa, *b = *(struct cspan *const *)pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

static int by_id(const void *pa, const void *pb)
{
	const struct idref *a = pa, *b = pb;
	int c = strcmp(a->id, b->id);

	return c ? c : (a->i > b->i) - (a->i < b->i);
}

static void run_add(struct idrun *r, long i, bool shared)
{
	long *v = shared ? r->shared : r->plain;

	if (v[0] < 0)
		v[0] = i;
	else if (v[1] < 0)
		v[1] = i;
}

/* The spans of each id, for find_parent: O(n log n) where a scan per span would be O(n²). */
static void index_ids(struct tree *tr)
{
	size_t i, j;

	for (i = 0; i < tr->n; i++)
		tr->ids[i] = (struct idref){ .id = tr->t[i]->id, .i = (long)i };
	qsort(tr->ids, tr->n, sizeof(*tr->ids), by_id);
	tr->nruns = 0;
	for (i = 0; i < tr->n; i = j) {
		struct idrun *r = &tr->runs[tr->nruns++];

		*r = (struct idrun){ .id = tr->ids[i].id, .shared = { -1, -1 }, .plain = { -1, -1 } };
		for (j = i; j < tr->n && !strcmp(tr->ids[j].id, r->id); j++)
			run_add(r, tr->ids[j].i, tr->t[tr->ids[j].i]->shared);
	}
}

static const struct idrun *run_of(const struct tree *tr, const char *id)
{
	struct idrun key = { .id = id };

	return bsearch(&key, tr->runs, tr->nruns, sizeof(*tr->runs), by_run);
}

/* The first of v that is not self, or -1. */
static long other(const long v[2], long self)
{
	return v[0] != self ? v[0] : v[1];
}

/*
 * The span a span hangs under: a shared SERVER span under the CLIENT span
 * with its id; any other under the span whose id is its parentId, the shared
 * one if there are both (the server side, whose calls name it as parent).
 */
static long find_parent(const struct tree *tr, long i)
{
	const struct cspan *s = tr->t[i];
	const struct idrun *r;
	long p = -1;

	if (s->shared && s->id[0] && (r = run_of(tr, s->id)))
		p = other(r->plain, i);
	if (p < 0 && s->parent[0] && (r = run_of(tr, s->parent))) {
		p = other(r->shared, i);
		if (p < 0)
			p = other(r->plain, i);
	}
	return p;
}

/* Depth-first from root, children by time, iteratively: a trace may be a long chain. */
static void walk(struct tree *tr, long root, size_t *no, long *stack)
{
	size_t sp = 0;

	tr->depth[root] = 0;
	tr->last[root] = true;
	stack[sp++] = root;
	while (sp) {
		long i = stack[--sp], c, k = (long)sp;

		if (tr->seen[i])
			continue;
		tr->seen[i] = true;
		tr->order[(*no)++] = i;
		/*
		 * Push the children not drawn yet (in a cycle one is), then reverse
		 * them in place so that the oldest pops first.
		 */
		for (c = tr->child[i]; c >= 0; c = tr->next[c]) {
			if (tr->seen[c])
				continue;
			tr->depth[c] = tr->depth[i] + 1;
			tr->last[c] = false;
			stack[sp++] = c;
		}
		if ((long)sp > k)
			tr->last[stack[sp - 1]] = true;
		for (long a = k, b = (long)sp - 1; a < b; a++, b--) {
			long t = stack[a];

			stack[a] = stack[b];
			stack[b] = t;
		}
	}
}

/* Parents, children and the drawing order: roots and orphans first, then cycles' members. */
static void build(struct tree *tr, long *stack)
{
	size_t no = 0;

	index_ids(tr);
	for (size_t i = 0; i < tr->n; i++) {
		tr->parent[i] = find_parent(tr, (long)i);
		tr->child[i] = tr->next[i] = -1;
		tr->seen[i] = false;
	}
	/* Backwards, prepending: each child list ends up by time. */
	for (size_t k = tr->n; k-- > 0;) {
		long p = tr->parent[k];

		if (p >= 0) {
			tr->next[k] = tr->child[p];
			tr->child[p] = (long)k;
		}
	}
	for (size_t i = 0; i < tr->n; i++)
		if (tr->parent[i] < 0)
			walk(tr, (long)i, &no, stack);
	/* Spans whose parents form a cycle (not sonde's output, but possible input). */
	for (size_t i = 0; i < tr->n; i++)
		if (!tr->seen[i])
			walk(tr, (long)i, &no, stack);
}

/* Display columns of a UTF-8 string (one per character: good enough for names). */
static int width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void pad(FILE *out, const char *s, int w)
{
	fputs(s, out);
	for (int i = width(s); i < w; i++)
		fputc(' ', out);
}

/* "│  " for each open ancestor level, then "├─ " or "└─ ". */
static int draw_prefix(const struct tree *tr, long i, const bool *more, FILE *out)
{
	int d = tr->depth[i] < INDENT_MAX ? tr->depth[i] : INDENT_MAX;

	if (!d)
		return 0;
	if (out) {
		for (int l = 1; l < d; l++)
			fputs(more[l] ? "\u2502  " : "   ", out);
		fputs(tr->last[i] ? "\u2514\u2500 " : "\u251c\u2500 ", out);
	}
	return 3 * d;
}

static const char *status_of(const struct cspan *s)
{
	if (s->status[0])
		return s->status;
	return s->error ? "error" : "ok";
}

static void trace_header(const struct tree *tr, uint64_t start, FILE *out)
{
	time_t sec = (time_t)(start / 1000000);
	char when[48] = "";
	uint64_t end = start;
	struct tm tm;
	size_t n;

	for (size_t i = 0; i < tr->n; i++)
		if (tr->t[i]->ts + tr->t[i]->dur > end)
			end = tr->t[i]->ts + tr->t[i]->dur;
	if (start && localtime_r(&sec, &tm)) {
		n = strftime(when, sizeof(when), "  %Y-%m-%d %H:%M:%S", &tm);
		snprintf(when + n, sizeof(when) - n, ".%03u", (unsigned int)(start / 1000 % 1000));
	}
	fprintf(out, "Trace %s  %zu span%s  %.3f ms%s\n",
		tr->t[0]->trace_id[0] ? tr->t[0]->trace_id : "?", tr->n, tr->n == 1 ? "" : "s",
		(double)(end - start) / 1000.0, when);
}

static void draw(struct tree *tr, FILE *out)
{
	bool more[INDENT_MAX + 1] = { false };
	uint64_t start = tr->t[0]->ts; /* t is by time */
	int wsvc = (int)strlen("service"), wname = (int)strlen("span");

	for (size_t k = 0; k < tr->n; k++) {
		long i = tr->order[k];
		int w = draw_prefix(tr, i, NULL, NULL) + width(tr->t[i]->service);

		wsvc = w > wsvc ? w : wsvc;
		w = width(tr->t[i]->name);
		wname = w > wname ? w : wname;
	}
	wname = wname < NAME_COL_MAX ? wname : NAME_COL_MAX;
	trace_header(tr, start, out);
	fprintf(out, "  %10s %10s  ", "start ms", "dur ms");
	pad(out, "service", wsvc + 2);
	pad(out, "span", wname + 2);
	fputs("status\n", out);
	for (size_t k = 0; k < tr->n; k++) {
		long i = tr->order[k];
		const struct cspan *s = tr->t[i];
		int d = tr->depth[i] < INDENT_MAX ? tr->depth[i] : INDENT_MAX;
		int w;

		if (d)
			more[d] = !tr->last[i];
		fprintf(out, "  %10.3f %10.3f  ", (double)(s->ts - start) / 1000.0,
			(double)s->dur / 1000.0);
		w = draw_prefix(tr, i, more, out);
		pad(out, s->service[0] ? s->service : "?", wsvc - w + 2);
		pad(out, s->name[0] ? s->name : "?", wname + 2);
		fprintf(out, "%s\n", status_of(s));
	}
	fputc('\n', out);
}

static int tree_alloc(struct tree *tr, size_t n, long **stack)
{
	tr->parent = calloc(n, sizeof(long));
	tr->child = calloc(n, sizeof(long));
	tr->next = calloc(n, sizeof(long));
	tr->order = calloc(n, sizeof(long));
	tr->depth = calloc(n, sizeof(int));
	tr->last = calloc(n, sizeof(bool));
	tr->seen = calloc(n, sizeof(bool));
	tr->ids = calloc(n, sizeof(*tr->ids));
	tr->runs = calloc(n, sizeof(*tr->runs));
	*stack = calloc(n + 1, sizeof(long)); /* a cycle's first span can be pushed twice */
	if (tr->parent && tr->child && tr->next && tr->order && tr->depth && tr->last &&
	    tr->seen && tr->ids && tr->runs && *stack)
		return 0;
	return -ENOMEM;
}

static void tree_free(struct tree *tr, long *stack)
{
	free(tr->parent);
	free(tr->child);
	free(tr->next);
	free(tr->order);
	free(tr->depth);
	free(tr->last);
	free(tr->seen);
	free(tr->ids);
	free(tr->runs);
	free(stack);
}

static int by_first_pos(const void *pa, const void *pb)
{
	const struct tree *a = pa, *b = pb;
	size_t x = a->t[0]->pos, y = b->t[0]->pos;

	return (x > y) - (x < y);
}

/*
 * Group the spans by trace id (ptr sorted by trace, then input position), put
 * the traces in the order they came, and draw each.
 */
static int draw_all(struct cspan **ptr, size_t n, FILE *out)
{
	struct tree *trees = calloc(n, sizeof(*trees)), all = { 0 };
	size_t nt = 0, i, j;
	long *stack = NULL;
	int err;

	err = trees ? tree_alloc(&all, n, &stack) : -ENOMEM;
	for (i = 0; !err && i < n; i = j) {
		for (j = i; j < n && !strcmp(ptr[j]->trace_id, ptr[i]->trace_id); j++)
			;
		trees[nt++] = (struct tree){ .t = ptr + i, .n = j - i };
	}
	if (!err)
		qsort(trees, nt, sizeof(*trees), by_first_pos);
	for (i = 0; !err && i < nt; i++) {
		struct tree tr = all; /* the scratch arrays are shared: one trace at a time */

		tr.t = trees[i].t;
		tr.n = trees[i].n;
		qsort(tr.t, tr.n, sizeof(*tr.t), by_time);
		build(&tr, stack);
		draw(&tr, out);
	}
	tree_free(&all, stack);
	free(trees);
	return err;
}

int traces_cli_render(const char *json, size_t len, FILE *out)
{
	struct rd r = { .p = json, .end = json + len };
	struct spans ss = { 0 };
	struct cspan **ptr = NULL;
	int err;

	err = json ? rd_doc(&r, &ss) : -EINVAL;
	if (!err && ss.n) {
		ptr = malloc(ss.n * sizeof(*ptr));
		err = ptr ? 0 : -ENOMEM;
	}
	if (!err && !ss.n)
		fputs("no traces\n", out);
	if (!err && ss.n) {
		for (size_t i = 0; i < ss.n; i++)
			ptr[i] = &ss.v[i];
		qsort(ptr, ss.n, sizeof(*ptr), by_trace_pos);
		err = draw_all(ptr, ss.n, out);
	}
	free(ptr);
	free(ss.v);
	return err;
}

/* ---- fetching --------------------------------------------------------- */

/*
 * "HOST:PORT", "[v6]:PORT" or ":PORT" (127.0.0.1) into host and port, as the
 * agent's --listen takes it. Not httpd_parse_listen: the client links without
 * the HTTP server (the agent fuzzer builds everything but it).
 */
static int split_addr(const char *addr, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *colon = strrchr(addr, ':'), *h = addr, *hend = colon;
	size_t digits;

	if (!colon)
		return -EINVAL;
	if (addr[0] == '[') {
		h = addr + 1;
		hend = colon - 1;
		if (hend < h || *hend != ']')
			return -EINVAL;
	} else if (memchr(addr, ':', colon - addr)) {
		return -EINVAL; /* a bare IPv6 address is ambiguous: brackets are required */
	}
	digits = strspn(colon + 1, "0123456789");
	if (!digits || colon[1 + digits] || digits >= portsz || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535 || (size_t)(hend - h) >= hostsz)
		return -EINVAL;
	memcpy(host, h, hend - h);
	host[hend - h] = '\0';
	if (!host[0])
		snprintf(host, hostsz, "127.0.0.1");
	memcpy(port, colon + 1, digits + 1);
	return 0;
}

static int connect_to(const char *listen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res, *ai;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char host[256], port[8];
	int fd = -1, err = EINVAL, ret;

	if (split_addr(listen, host, sizeof(host), port, sizeof(port)))
		return -EINVAL;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret)
		return ret == EAI_SYSTEM ? -errno : ret == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* On Linux SO_SNDTIMEO bounds connect() too. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		err = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -err;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 && errno != EAGAIN ? -errno : -ETIMEDOUT;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read until the server closes (HTTP/1.0) into b. */
static int recv_all(int fd, struct zbuf *b)
{
	char buf[16384];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (!n)
			return 0;
		if (b->len + (size_t)n > BODY_MAX)
			return -EFBIG;
		zbuf_put(b, buf, (size_t)n);
		if (b->oom)
			return -ENOMEM;
	}
}

/* The status of "HTTP/1.x NNN ...", and where the body starts; -EPROTO if not that. */
static int parse_response(const struct zbuf *raw, size_t *body)
{
	const char *p = raw->p, *end;
	int status = 0;

	if (!p || raw->len < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
		status = status * 10 + (p[i] - '0');
	}
	end = memmem(p, raw->len, "\r\n\r\n", 4);
	if (!end)
		return -EPROTO;
	*body = (size_t)(end + 4 - p);
	return status;
}

int traces_cli_fetch(const char *listen, const char *target, struct zbuf *body)
{
	struct zbuf raw = { 0 }, req = { 0 };
	size_t off = 0;
	int fd, ret;

	fd = connect_to(listen);
	if (fd < 0)
		return fd;
	zbuf_puts(&req, "GET ");
	zbuf_puts(&req, target);
	zbuf_puts(&req, " HTTP/1.0\r\nAccept: application/json\r\nUser-Agent: sonde-traces\r\n\r\n");
	ret = req.oom ? -ENOMEM : send_all(fd, req.p, req.len);
	if (!ret)
		ret = recv_all(fd, &raw);
	close(fd);
	if (!ret)
		ret = parse_response(&raw, &off);
	if (ret > 0) {
		zbuf_put(body, raw.p + off, raw.len - off);
		if (body->oom)
			ret = -ENOMEM;
	}
	zbuf_free(&raw);
	zbuf_free(&req);
	return ret;
}

/* ---- the command ------------------------------------------------------ */

static const char usage_text[] =
	"Usage: sonde traces [--listen HOST:PORT] [--limit N] [--service NAME] [--trace ID]\n"
	"\n"
	"Print the most recent traces a running sonde holds (its /api/traces), newest\n"
	"first, each as a timeline: one line per span with its start from the trace's\n"
	"first span (ms), its duration (ms), its service and name, and its status (the\n"
	"HTTP status, else \"error\" or \"ok\"); a span is indented under its parent.\n"
	"\n"
	"  -l, --listen HOST:PORT  the agent's --listen address (default " DEFAULT_LISTEN ")\n"
	"  -n, --limit N           how many traces, 1 to 1000 (default 10)\n"
	"  -s, --service NAME      only traces with a span of that service\n"
	"  -t, --trace ID          that trace alone (16 or 32 hex digits)\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 done, 1 the agent could not be reached or answered badly, 2 usage.\n";

/* The query string value: percent-encoding all but the unreserved characters. */
static void put_query_value(struct zbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '%' };

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c)) {
			zbuf_put(b, s, 1);
		} else {
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			zbuf_put(b, e, 3);
		}
	}
}

static int parse_limit(const char *s, long *limit)
{
	char *end;

	errno = 0;
	*limit = strtol(s, &end, 10);
	if (errno || end == s || *end || *limit < 1 || *limit > MAX_LIMIT)
		return -EINVAL;
	return 0;
}

/* Fetch and print; the exit status. */
static int run(const char *listen, long limit, const char *service, const char *trace)
{
	struct zbuf target = { 0 }, body = { 0 };
	char num[24];
	int ret;

	snprintf(num, sizeof(num), "%ld", limit);
	if (trace) {
		zbuf_puts(&target, "/api/traces/");
		zbuf_puts(&target, trace);
		zbuf_puts(&body, "["); /* one trace, as a list of one */
	} else {
		zbuf_puts(&target, "/api/traces?limit=");
		zbuf_puts(&target, num);
	}
	if (!trace && service && service[0]) {
		zbuf_puts(&target, "&serviceName=");
		put_query_value(&target, service);
	}
	ret = target.oom ? -ENOMEM : traces_cli_fetch(listen, target.p, &body);
	if (trace && ret == 200)
		zbuf_puts(&body, "]");
	if (ret < 0)
		fprintf(stderr, "sonde traces: cannot reach the agent at %s: %s\n", listen,
			strerror(-ret));
	else if (ret != 200)
		fprintf(stderr, "sonde traces: %s answered HTTP %d\n", listen, ret);
	else if ((ret = traces_cli_render(body.p ? body.p : "", body.len, stdout)))
		fprintf(stderr, "sonde traces: %s did not answer a list of traces: %s\n", listen,
			strerror(-ret));
	zbuf_free(&target);
	zbuf_free(&body);
	return ret ? 1 : 0;
}

int traces_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'n' },
		{ "service", required_argument, NULL, 's' },
		{ "trace", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = DEFAULT_LISTEN, *service = NULL, *trace = NULL;
	char host[256], port[8];
	long limit = DEFAULT_LIMIT;
	int o;

	optind = 0; /* glibc: a full re-initialisation, whatever parsed argv before */
	while ((o = getopt_long(argc, argv, "l:n:s:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			listen = optarg;
			if (split_addr(listen, host, sizeof(host), port, sizeof(port))) {
				fprintf(stderr, "sonde traces: bad --listen '%s' (want HOST:PORT)\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_limit(optarg, &limit)) {
				fprintf(stderr, "sonde traces: bad --limit '%s' (1 to %d)\n", optarg,
					MAX_LIMIT);
				return 2;
			}
			break;
		case 's':
			service = optarg;
			break;
		case 't':
			trace = optarg;
			if ((strlen(trace) != 16 && strlen(trace) != 32) ||
			    strspn(trace, "0123456789abcdef") != strlen(trace)) {
				fprintf(stderr, "sonde traces: bad --trace '%s' (16 or 32 hex digits)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sonde traces: unexpected argument '%s'\n", argv[optind]);
		fputs(usage_text, stderr);
		return 2;
	}
	return run(listen, limit, service, trace);
}
