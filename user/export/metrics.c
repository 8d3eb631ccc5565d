// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus registry and text-format (0.0.4) renderer.
 *
 * Layout: the registry keeps its families in a list (registration order). A
 * family keeps its series twice: in a chained hash table keyed by the label
 * values, so that an update from the capture thread costs O(1) whatever the
 * number of series, and in a list in creation order, so that the output is
 * stable from one scrape to the next. One mutex guards all of it: updates are
 * short, and a render holds it only while it formats text.
 *
 * Numbers are formatted with printf/strtod, which assumes the C locale for
 * LC_NUMERIC (the agent never calls setlocale), else "0,5" would appear.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "export/metrics.h"

#define COLLECTORS_MAX 8
#define TABLE_MIN 16 /* buckets allocated with the first series of a family */
#define NUM_MAX 32   /* longest formatted number ("-2.2250738585072014e-308") + NUL */

struct series {
	struct metric_family *f;
	struct series *hnext; /* hash chain */
	struct series *next;  /* creation order */
	uint64_t hash;
	size_t keylen; /* bytes in key: every label value with its NUL */
	char *key;
	char *labels; /* preformatted 'a="x",b="y"' (escaped), "" without labels */
	double value; /* counter, gauge */
	double sum;   /* histogram */
	uint64_t count;
	struct exemplar *ex; /* histogram: per bucket, the latest exemplar; NULL until one */
	uint64_t buckets[]; /* histogram: per bucket, not cumulative; +Inf last */
};

/* An OpenMetrics exemplar: the trace of one observation in a bucket. */
struct exemplar {
	char trace_id[33]; /* "" none */
	char span_id[17];
	double value;
	double ts; /* seconds since the epoch */
};

struct metric_family {
	struct metrics *m;
	struct metric_family *next;
	enum metric_type type;
	char *name;
	char *help; /* escaped at registration: it never changes */
	int nlabels;
	char *labels[METRIC_LABELS_MAX];
	int nbounds;
	double *bounds;
	char **le; /* nbounds + 1 formatted bounds, "+Inf" last */
	struct series **table;
	size_t tsize; /* power of two, 0 until the first series */
	size_t nseries;
	struct series *head, *tail;
};

struct collector {
	void (*fn)(void *ctx);
	void *ctx;
};

struct metrics {
	pthread_mutex_t lock; /* families, series, values, collectors */
	/*
	 * Serialises renders, so that collectors never run concurrently with
	 * each other and need not be reentrant. Never taken by updates.
	 */
	pthread_mutex_t render_lock;
	uint64_t seed;
	struct metric_family *head, *tail;
	struct collector collectors[COLLECTORS_MAX];
	int ncollectors;
	size_t last_len; /* size of the previous render: the next buffer starts there */
};

/*
 * The registry whose lock this thread holds through metrics__lock (at most
 * one at a time), and how many times: updates made by this thread then skip
 * the lock.
 */
static __thread struct metrics *held;
static __thread unsigned held_depth;

static void reg_lock(struct metrics *m)
{
	if (held != m)
		pthread_mutex_lock(&m->lock);
}

static void reg_unlock(struct metrics *m)
{
	if (held != m)
		pthread_mutex_unlock(&m->lock);
}

int metrics__lock(struct metrics *m)
{
	if (!m)
		return -EINVAL;
	if (held == m) {
		held_depth++;
		return 0;
	}
	if (held)
		return -EDEADLK;
	pthread_mutex_lock(&m->lock);
	held = m;
	held_depth = 1;
	return 0;
}

void metrics__unlock(struct metrics *m)
{
	if (!m || held != m)
		return;
	if (--held_depth)
		return;
	held = NULL;
	pthread_mutex_unlock(&m->lock);
}

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

/* ---- UTF-8 and escaping ---------------------------------------------- */

int metrics_utf8_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	/* Each test reads the next byte only if the previous ones were valid
	 * continuation bytes, so a NUL stops the scan before the string's end. */
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2) /* stray continuation byte, or overlong 2-byte form */
		return 0;
	if (s[0] < 0xe0)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] < 0xf0) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0) /* overlong */
			return 0;
		if (s[0] == 0xed && s[1] >= 0xa0) /* UTF-16 surrogates */
			return 0;
		return 3;
	}
	if (s[0] < 0xf5) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xf0 && s[1] < 0x90) /* overlong */
			return 0;
		if (s[0] == 0xf4 && s[1] >= 0x90) /* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Escape in for a label value (quote: \\ \" \n) or a HELP text (\\ \n), and
 * replace each byte of invalid UTF-8 by '?': Prometheus rejects a whole
 * scrape over one bad byte, and label values come from observed traffic.
 * Writes whole escape units only, so a truncated result never ends in half a
 * sequence. Returns the bytes needed, NUL excluded. Output is at most twice
 * the input.
 */
static size_t escape(const char *in, char *out, size_t outsz, bool quote)
{
	size_t n = 0, w = 0; /* bytes needed, bytes written */

	while (*in) {
		const char *unit = in;
		size_t ulen;
		int l = metrics_utf8_len(in);

		if (l == 0) {
			unit = "?";
			ulen = 1;
			in++;
		} else {
			if (*in == '\\')
				unit = "\\\\";
			else if (*in == '\n')
				unit = "\\n";
			else if (quote && *in == '"')
				unit = "\\\"";
			ulen = unit == in ? (size_t)l : 2;
			in += l;
		}
		/* Once a unit did not fit, write nothing more: the output is a clean prefix. */
		if (w == n && n + ulen < outsz) {
			memcpy(out + n, unit, ulen);
			w += ulen;
		}
		n += ulen;
	}
	if (outsz)
		out[w] = '\0';
	return n;
}

size_t metrics_escape_label(const char *in, char *out, size_t outsz)
{
	if (!in)
		in = "";
	if (!out)
		outsz = 0;
	return escape(in, out, outsz, true);
}

/* ---- numbers ---------------------------------------------------------- */

/*
 * Format like the Prometheus clients: integers without a decimal point,
 * others in the shortest %g form that reads back as the same double (15
 * digits suffice for most values and avoid "0.10000000000000001").
 */
static void format_num(double v, char *buf, size_t sz)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, sz, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, sz, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) { /* also -0, which would print as "-0" */
		snprintf(buf, sz, "0");
		return;
	}
	/* Below 2^53 every integer-valued double is printed exactly by %.0f. */
	if (fabs(v) < 9007199254740992.0 && v == trunc(v)) {
		snprintf(buf, sz, "%.0f", v);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sz, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, sz, "%.17g", v);
}

/* ---- names ------------------------------------------------------------ */

static bool valid_metric_name(const char *s)
{
	if (!s || !*s)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

/* Label names: like metric names without ':', and "__" is reserved for Prometheus. */
static bool valid_label_name(const char *s)
{
	if (!valid_metric_name(s) || strchr(s, ':'))
		return false;
	return strncmp(s, "__", 2) != 0;
}

/* Is a1 a2 (concatenated) the same string as b1 b2? */
static bool cat_eq(const char *a1, const char *a2, const char *b1, const char *b2)
{
	for (;;) {
		if (!*a1) {
			a1 = a2;
			a2 = "";
		}
		if (!*b1) {
			b1 = b2;
			b2 = "";
		}
		if (*a1 != *b1)
			return false;
		if (!*a1)
			return true;
		a1++;
		b1++;
	}
}

/*
 * Would a new family clash with f? A histogram also owns its _bucket, _sum
 * and _count sample names, and no sample name may belong to two families:
 * Prometheus would merge or reject them.
 */
static bool family_clash(const struct metric_family *f, const char *name, enum metric_type type)
{
	static const char *const sfx[] = { "", "_bucket", "_sum", "_count" };
	int nf = f->type == METRIC_HISTOGRAM ? 4 : 1;
	int nn = type == METRIC_HISTOGRAM ? 4 : 1;
	int i, j;

	for (i = 0; i < nf; i++)
		for (j = 0; j < nn; j++)
			if (cat_eq(f->name, sfx[i], name, sfx[j]))
				return true;
	return false;
}

/* ---- registry --------------------------------------------------------- */

struct metrics *metrics__new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	/*
	 * A per-process hash seed, so the chain layout cannot be precomputed
	 * from label values. The real bound on series comes from the callers'
	 * cardinality guards; this only keeps chains short by chance.
	 */
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)m;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->render_lock, NULL);
	return m;
}

static void series_free_all(struct metric_family *f)
{
	struct series *s, *next;

	for (s = f->head; s; s = next) {
		next = s->next;
		free(s->ex);
		free(s);
	}
	f->head = f->tail = NULL;
	f->nseries = 0;
	if (f->table)
		memset(f->table, 0, f->tsize * sizeof(*f->table));
}

static void family_free(struct metric_family *f)
{
	int i;

	if (!f)
		return;
	series_free_all(f);
	free(f->table);
	for (i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	if (f->le)
		for (i = 0; i <= f->nbounds; i++)
			free(f->le[i]);
	free(f->le);
	free(f->bounds);
	free(f->help);
	free(f->name);
	free(f);
}

void metrics__free(struct metrics *m)
{
	struct metric_family *f, *next;

	if (!m)
		return;
	for (f = m->head; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->render_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct metric_family *family_new(struct metrics *m, enum metric_type type, const char *name,
					const char *help, const char *const *labels, int nlabels,
					const double *bounds, int nbounds)
{
	struct metric_family *f, *it;
	size_t hlen;
	int i, j;

	if (!m || !valid_metric_name(name) || nlabels < 0 || nlabels > METRIC_LABELS_MAX ||
	    (nlabels && !labels) || nbounds < 0 || (nbounds && !bounds)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < nlabels; i++) {
		if (!valid_label_name(labels[i]))
			goto inval;
		/* "le" is the bucket label a histogram adds itself. */
		if (type == METRIC_HISTOGRAM && !strcmp(labels[i], "le"))
			goto inval;
		for (j = 0; j < i; j++)
			if (!strcmp(labels[i], labels[j]))
				goto inval;
	}
	for (i = 0; i < nbounds; i++)
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			goto inval;

	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->m = m;
	f->type = type;
	f->nlabels = nlabels;
	f->nbounds = nbounds;
	f->name = strdup(name);
	if (!help)
		help = "";
	hlen = escape(help, NULL, 0, false);
	f->help = malloc(hlen + 1);
	if (!f->name || !f->help)
		goto nomem;
	escape(help, f->help, hlen + 1, false);
	for (i = 0; i < nlabels; i++) {
		f->labels[i] = strdup(labels[i]);
		if (!f->labels[i])
			goto nomem;
	}
	if (type == METRIC_HISTOGRAM) {
		f->bounds = calloc(nbounds + 1, sizeof(*f->bounds));
		f->le = calloc(nbounds + 1, sizeof(*f->le));
		if (!f->bounds || !f->le)
			goto nomem;
		for (i = 0; i <= nbounds; i++) {
			char num[NUM_MAX];

			if (i < nbounds) {
				f->bounds[i] = bounds[i];
				format_num(bounds[i], num, sizeof(num));
			} else {
				f->bounds[i] = INFINITY;
				snprintf(num, sizeof(num), "+Inf");
			}
			f->le[i] = strdup(num);
			if (!f->le[i])
				goto nomem;
		}
	}

	reg_lock(m);
	for (it = m->head; it; it = it->next) {
		if (family_clash(it, name, type)) {
			reg_unlock(m);
			family_free(f);
			errno = EINVAL;
			return NULL;
		}
	}
	if (m->tail)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	reg_unlock(m);
	return f;

nomem:
	family_free(f);
	errno = ENOMEM;
	return NULL;
inval:
	errno = EINVAL;
	return NULL;
}

struct metric_family *metrics__counter(struct metrics *m, const char *name, const char *help,
				       const char *const *labels, int nlabels)
{
	return family_new(m, METRIC_COUNTER, name, help, labels, nlabels, NULL, 0);
}

struct metric_family *metrics__gauge(struct metrics *m, const char *name, const char *help,
				     const char *const *labels, int nlabels)
{
	return family_new(m, METRIC_GAUGE, name, help, labels, nlabels, NULL, 0);
}

struct metric_family *metrics__histogram(struct metrics *m, const char *name, const char *help,
					 const char *const *labels, int nlabels,
					 const double *bounds, int nbounds)
{
	return family_new(m, METRIC_HISTOGRAM, name, help, labels, nlabels, bounds, nbounds);
}

/* ---- series ----------------------------------------------------------- */

/*
 * FNV-1a over the values, NULs included so that ("ab", "") and ("a", "b")
 * differ, then a 64-bit finaliser so that the low bits used as the bucket
 * index depend on every input byte.
 */
static uint64_t key_hash(uint64_t seed, const char *const *values, int n, size_t *keylen)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)values[i];

		do {
			h ^= *p;
			h *= 0x100000001b3ULL;
			len++;
		} while (*p++);
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	*keylen = len;
	return h;
}

static bool key_equal(const struct series *s, const char *const *values, int n)
{
	const char *p = s->key;
	int i;

	/* Bound each comparison by keylen: s->key holds NULs, not one string. */
	for (i = 0; i < n; i++) {
		size_t l = strlen(values[i]) + 1;

		if ((size_t)(p - s->key) + l > s->keylen || memcmp(p, values[i], l))
			return false;
		p += l;
	}
	return (size_t)(p - s->key) == s->keylen;
}

/* Grow the table to keep chains at about one entry. On ENOMEM keep the old one:
 * lookups stay correct, only slower. */
static void table_grow(struct metric_family *f)
{
	size_t nsize = f->tsize ? f->tsize * 2 : TABLE_MIN;
	struct series **nt = calloc(nsize, sizeof(*nt));
	struct series *s;

	if (!nt)
		return;
	for (s = f->head; s; s = s->next) {
		size_t b = s->hash & (nsize - 1);

		s->hnext = nt[b];
		nt[b] = s;
	}
	free(f->table);
	f->table = nt;
	f->tsize = nsize;
}

/* Find or create the series for values. Called with the registry locked. */
static struct series *series_get(struct metric_family *f, const char *const *values)
{
	struct series *s;
	size_t keylen, lablen = 0, nb, sz;
	uint64_t h = key_hash(f->m->seed, values, f->nlabels, &keylen);
	char *p;
	int i;

	if (f->tsize) {
		for (s = f->table[h & (f->tsize - 1)]; s; s = s->hnext)
			if (s->hash == h && s->keylen == keylen && key_equal(s, values, f->nlabels))
				return s;
	}
	if (f->nseries >= f->tsize)
		table_grow(f);
	if (!f->tsize)
		return NULL;

	for (i = 0; i < f->nlabels; i++)
		lablen += strlen(f->labels[i]) + 3 + metrics_escape_label(values[i], NULL, 0) +
			  (i ? 1 : 0);
	nb = f->type == METRIC_HISTOGRAM ? (size_t)f->nbounds + 1 : 0;
	/* One allocation: header, bucket counts, raw key, formatted labels. */
	sz = sizeof(*s) + nb * sizeof(s->buckets[0]) + keylen + lablen + 1;
	s = calloc(1, sz);
	if (!s)
		return NULL;
	s->f = f;
	s->hash = h;
	s->keylen = keylen;
	s->key = (char *)&s->buckets[nb];
	s->labels = s->key + keylen;
	p = s->key;
	for (i = 0; i < f->nlabels; i++) {
		size_t l = strlen(values[i]) + 1;

		memcpy(p, values[i], l);
		p += l;
	}
	p = s->labels;
	for (i = 0; i < f->nlabels; i++) {
		p += sprintf(p, "%s%s=\"", i ? "," : "", f->labels[i]);
		p += metrics_escape_label(values[i], p, lablen + 1 - (p - s->labels));
		*p++ = '"';
	}
	*p = '\0';

	s->hnext = f->table[h & (f->tsize - 1)];
	f->table[h & (f->tsize - 1)] = s;
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	f->nseries++;
	return s;
}

static bool values_ok(const struct metric_family *f, const char *const *values)
{
	int i;

	if (f->nlabels && !values)
		return false;
	for (i = 0; i < f->nlabels; i++)
		if (!values[i])
			return false;
	return true;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

/* Is op with v valid on a family of type t? */
static bool op_ok(enum metric_type t, double v, enum op op)
{
	switch (t) {
	case METRIC_COUNTER:
		/* A counter only goes up; NaN would poison it for good. */
		return op != OP_OBSERVE && !isnan(v) && v >= 0;
	case METRIC_GAUGE:
		return op != OP_OBSERVE;
	case METRIC_HISTOGRAM:
		/* NaN fits no bucket and would turn _sum into NaN forever. */
		return op == OP_OBSERVE && !isnan(v);
	default:
		return false;
	}
}

/* Apply op to s, n times for an observation. Called with the registry locked. */
/* The bucket an observation of v falls in: the first whose bound is >= v ("le" is inclusive). */
static int bucket_of(const struct metric_family *f, double v)
{
	int lo = 0, hi = f->nbounds;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (v <= f->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void apply(struct series *s, double v, enum op op, uint64_t n)
{
	const struct metric_family *f = s->f;
	int lo;

	switch (op) {
	case OP_ADD:
		s->value += v;
		break;
	case OP_SET:
		s->value = v;
		break;
	case OP_OBSERVE:
		lo = bucket_of(f, v);
		s->buckets[lo] += n;
		s->count += n;
		/* One addition per observation: _sum ends bit for bit as with n calls. */
		for (; n; n--)
			s->sum += v;
		break;
	}
}

static int update(struct metric_family *f, const char *const *values, double v, enum op op,
		  uint64_t n)
{
	struct series *s;

	if (!f || !values_ok(f, values) || !op_ok(f->type, v, op))
		return -EINVAL;
	reg_lock(f->m);
	s = series_get(f, values);
	if (s)
		apply(s, v, op, n);
	reg_unlock(f->m);
	return s ? 0 : -ENOMEM;
}

int metric__add(struct metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_ADD, 1);
}

int metric__set(struct metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_SET, 1);
}

int metric__observe(struct metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_OBSERVE, 1);
}

int metric__observe_n(struct metric_family *f, const char *const *values, double v, uint64_t n)
{
	return update(f, values, v, OP_OBSERVE, n);
}

struct metric_series *metric__series(struct metric_family *f, const char *const *values)
{
	struct series *s;

	if (!f || !values_ok(f, values))
		return NULL;
	reg_lock(f->m);
	s = series_get(f, values);
	reg_unlock(f->m);
	return (struct metric_series *)s;
}

static int series_update(struct metric_series *h, double v, enum op op, uint64_t n)
{
	struct series *s = (struct series *)h;

	if (!s || !op_ok(s->f->type, v, op))
		return -EINVAL;
	reg_lock(s->f->m);
	apply(s, v, op, n);
	reg_unlock(s->f->m);
	return 0;
}

int metric__series_add(struct metric_series *s, double v)
{
	return series_update(s, v, OP_ADD, 1);
}

int metric__series_set(struct metric_series *s, double v)
{
	return series_update(s, v, OP_SET, 1);
}

int metric__series_observe_n(struct metric_series *s, double v, uint64_t n)
{
	return series_update(s, v, OP_OBSERVE, n);
}

int metric__series_observe_ex(struct metric_series *h, double v, const char *trace_id,
			      const char *span_id, double ts)
{
	struct series *s = (struct series *)h;
	struct exemplar *e;

	if (!s || s->f->type != METRIC_HISTOGRAM || !op_ok(s->f->type, v, OP_OBSERVE))
		return -EINVAL;
	reg_lock(s->f->m);
	apply(s, v, OP_OBSERVE, 1);
	if (!s->ex)
		s->ex = calloc(s->f->nbounds + 1, sizeof(*s->ex));
	if (s->ex) {
		e = &s->ex[bucket_of(s->f, v)];
		snprintf(e->trace_id, sizeof(e->trace_id), "%s", trace_id);
		snprintf(e->span_id, sizeof(e->span_id), "%s", span_id);
		e->value = v;
		e->ts = ts;
	}
	reg_unlock(s->f->m);
	return s->ex ? 0 : -ENOMEM;
}

int metric__observe_ex(struct metric_family *f, const char *const *values, double v,
		       const char *trace_id, const char *span_id, double ts)
{
	return metric__series_observe_ex(metric__series(f, values), v, trace_id, span_id, ts);
}

void metric__clear(struct metric_family *f)
{
	if (!f)
		return;
	reg_lock(f->m);
	series_free_all(f);
	reg_unlock(f->m);
}

int metrics__add_collector(struct metrics *m, void (*fn)(void *ctx), void *ctx)
{
	int ret = 0;

	if (!m || !fn)
		return -EINVAL;
	reg_lock(m);
	if (m->ncollectors == COLLECTORS_MAX) {
		ret = -ENOSPC;
	} else {
		m->collectors[m->ncollectors].fn = fn;
		m->collectors[m->ncollectors].ctx = ctx;
		m->ncollectors++;
	}
	reg_unlock(m);
	return ret;
}

/* ---- render ----------------------------------------------------------- */

struct sbuf {
	char *buf;
	size_t len, cap;
	bool failed;
};

/* Make room for more bytes plus a NUL; on failure every later write is dropped. */
static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *nb;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	while (cap < b->len + more + 1)
		cap *= 2;
	nb = realloc(b->buf, cap);
	if (!nb) {
		b->failed = true;
		return false;
	}
	b->buf = nb;
	b->cap = cap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_num(struct sbuf *b, double v)
{
	char num[NUM_MAX];

	format_num(v, num, sizeof(num));
	sb_puts(b, num);
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char num[NUM_MAX];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	sb_puts(b, num);
}

/* name + suffix + {labels} or {labels,le="x"}, then a space. */
static void sb_sample_name(struct sbuf *b, const struct metric_family *f, const char *suffix,
			   const struct series *s, const char *le)
{
	sb_puts(b, f->name);
	sb_puts(b, suffix);
	if (f->nlabels || le) {
		sb_put(b, "{", 1);
		sb_puts(b, s->labels);
		if (le) {
			sb_puts(b, f->nlabels ? ",le=\"" : "le=\"");
			sb_puts(b, le);
			sb_put(b, "\"", 1);
		}
		sb_put(b, "}", 1);
	}
	sb_put(b, " ", 1);
}

/* " # {trace_id="..",span_id=".."} value timestamp": an OpenMetrics exemplar. */
static void sb_exemplar(struct sbuf *b, const struct exemplar *e)
{
	char num[NUM_MAX];

	sb_puts(b, " # {trace_id=\"");
	sb_puts(b, e->trace_id);
	if (e->span_id[0]) {
		sb_puts(b, "\",span_id=\"");
		sb_puts(b, e->span_id);
	}
	sb_puts(b, "\"} ");
	sb_num(b, e->value);
	snprintf(num, sizeof(num), " %.3f", e->ts);
	sb_puts(b, num);
}

/*
 * The family name of the TYPE and HELP lines. OpenMetrics names a counter
 * family without its "_total", which its samples carry; a counter whose
 * name lacks it is typed "unknown" there (its samples cannot be renamed).
 */
static size_t family_name_len(const struct metric_family *f, bool om, const char **type)
{
	size_t n = strlen(f->name);

	*type = type_names[f->type];
	if (!om || f->type != METRIC_COUNTER)
		return n;
	if (n > 6 && !strcmp(f->name + n - 6, "_total"))
		return n - 6;
	*type = "unknown";
	return n;
}

/* HELP text in OpenMetrics: the text format's escapes (\\, \n) and also \". */
static void sb_help_om(struct sbuf *b, const char *help)
{
	for (const char *p = help; *p; p++) {
		if (*p == '"')
			sb_puts(b, "\\\"");
		else
			sb_put(b, p, 1);
	}
}

static void render_family(struct sbuf *b, const struct metric_family *f, bool om)
{
	const struct series *s;
	const char *type;
	size_t nlen = family_name_len(f, om, &type);
	uint64_t cum;
	int i;

	if (*f->help) {
		sb_puts(b, "# HELP ");
		sb_put(b, f->name, nlen);
		sb_put(b, " ", 1);
		if (om)
			sb_help_om(b, f->help);
		else
			sb_puts(b, f->help);
		sb_put(b, "\n", 1);
	}
	sb_puts(b, "# TYPE ");
	sb_put(b, f->name, nlen);
	sb_put(b, " ", 1);
	sb_puts(b, type);
	sb_put(b, "\n", 1);

	for (s = f->head; s; s = s->next) {
		if (f->type != METRIC_HISTOGRAM) {
			sb_sample_name(b, f, "", s, NULL);
			sb_num(b, s->value);
			sb_put(b, "\n", 1);
			continue;
		}
		/* Stored per bucket; Prometheus wants each bucket to count
		 * everything at or below its bound. */
		cum = 0;
		for (i = 0; i <= f->nbounds; i++) {
			cum += s->buckets[i];
			sb_sample_name(b, f, "_bucket", s, f->le[i]);
			sb_u64(b, cum);
			if (om && s->ex && s->ex[i].trace_id[0])
				sb_exemplar(b, &s->ex[i]);
			sb_put(b, "\n", 1);
		}
		sb_sample_name(b, f, "_sum", s, NULL);
		sb_num(b, s->sum);
		sb_put(b, "\n", 1);
		sb_sample_name(b, f, "_count", s, NULL);
		sb_u64(b, s->count);
		sb_put(b, "\n", 1);
	}
}

static char *render(struct metrics *m, size_t *len, bool om);

char *metrics__render(struct metrics *m, size_t *len)
{
	return render(m, len, false);
}

char *metrics__render_openmetrics(struct metrics *m, size_t *len)
{
	return render(m, len, true);
}

static char *render(struct metrics *m, size_t *len, bool om)
{
	struct collector cols[COLLECTORS_MAX];
	const struct metric_family *f;
	struct sbuf b = { 0 };
	int i, n;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	if (held == m) { /* would wait for itself */
		errno = EDEADLK;
		return NULL;
	}
	pthread_mutex_lock(&m->render_lock);

	/* Collectors update through metric__set & co., which take the lock. */
	pthread_mutex_lock(&m->lock);
	n = m->ncollectors;
	memcpy(cols, m->collectors, sizeof(cols[0]) * n);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n; i++)
		cols[i].fn(cols[i].ctx);

	pthread_mutex_lock(&m->lock);
	/* Start at the previous size so a steady state needs no realloc under the lock. */
	sb_reserve(&b, m->last_len);
	for (f = m->head; f; f = f->next)
		render_family(&b, f, om);
	if (om)
		sb_puts(&b, "# EOF\n");
	if (sb_reserve(&b, 0)) /* an empty registry still returns "" */
		b.buf[b.len] = '\0';
	if (!b.failed)
		m->last_len = b.len;
	pthread_mutex_unlock(&m->lock);

	pthread_mutex_unlock(&m->render_lock);
	if (b.failed) {
		free(b.buf);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.buf;
}
