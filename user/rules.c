// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rule matches to one DFA (rules.h). Each match is a sequence of tokens; the
 * NFA's states are (rule, token, inside) triples, and the DFA is their subset
 * construction, breadth first from the start set.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

enum tok_type {
	T_LIT,    /* one byte */
	T_METHOD, /* [A-Z]+ (a rule without a method) */
	T_SEG,    /* [^/]+ ({name} or *) */
	T_TAIL,   /* "" or "/" then anything (a final slash and two stars) */
};

#define POS_MAX (RULES_MATCH_MAX + 8) /* tokens of one rule, its end included */

struct tok {
	uint8_t type;
	uint8_t c;
};

struct prog {
	struct tok t[POS_MAX];
	int n;
};

static int perr(char *err, size_t errsz, const char *match, const char *what)
{
	snprintf(err, errsz, "rate_limits: match \"%s\": %s", match, what);
	return -1;
}

static int push(struct prog *p, uint8_t type, uint8_t c)
{
	if (p->n >= POS_MAX - 1)
		return -1;
	p->t[p->n].type = type;
	p->t[p->n++].c = c;
	return 0;
}

static int tokenize(const char *m, struct prog *p, char *err, size_t errsz)
{
	const char *sp = strchr(m, ' '), *path = m, *q;

	p->n = 0;
	if (strlen(m) >= RULES_MATCH_MAX)
		return perr(err, errsz, m, "too long");
	if (sp) {
		if (sp == m)
			return perr(err, errsz, m, "a method is upper-case letters");
		for (q = m; q < sp; q++)
			if (*q < 'A' || *q > 'Z' || push(p, T_LIT, (uint8_t)*q))
				return perr(err, errsz, m, "a method is upper-case letters");
		path = sp + 1;
	} else {
		push(p, T_METHOD, 0);
	}
	push(p, T_LIT, ' ');
	if (path[0] != '/')
		return perr(err, errsz, m, "want \"[METHOD ]/path\"");
	for (q = path; *q;) {
		if (!strcmp(q, "/**"))
			return push(p, T_TAIL, 0) ? perr(err, errsz, m, "too long") : 0;
		if (*q == '{' || *q == '*') {
			const char *end = *q == '*' ? q : strchr(q, '}');

			if (!end || end == q + 1 || q[-1] != '/' || (end[1] && end[1] != '/'))
				return perr(err, errsz, m,
					    "{name} and * stand for a whole segment, /** for the rest");
			if (push(p, T_SEG, 0))
				return perr(err, errsz, m, "too long");
			q = end + 1;
			continue;
		}
		if (*q <= ' ' || *q >= 0x7f || *q == '?' || *q == '#' || *q == '}')
			return perr(err, errsz, m, "a path has no spaces, query, fragment or '}'");
		if (push(p, T_LIT, (uint8_t)*q))
			return perr(err, errsz, m, "too long");
		q++;
	}
	return 0;
}

int rules_check(const char *match, char *err, size_t errsz)
{
	struct prog p;

	return tokenize(match, &p, err, errsz);
}

/* ---- the NFA's state sets ---- */

struct nfa {
	const struct prog *prog; /* by rule */
	int nrules;
	int words; /* uint64_t per set */
};

static inline int sid(int r, int pos, int in)
{
	return (r * POS_MAX + pos) * 2 + in;
}

static inline void add(uint64_t *set, int s)
{
	set[s >> 6] |= 1ULL << (s & 63);
}

/* Add what a state that is inside a METHOD or SEG token reaches without a byte. */
static void closure(const struct nfa *a, uint64_t *set)
{
	for (int w = 0; w < a->words; w++)
		for (uint64_t bits = set[w]; bits; bits &= bits - 1) {
			int s = w * 64 + __builtin_ctzll(bits), in = s & 1, pos = (s >> 1) % POS_MAX,
			    r = (s >> 1) / POS_MAX;
			uint8_t t = a->prog[r].t[pos].type;

			if (in && pos < a->prog[r].n && (t == T_METHOD || t == T_SEG))
				add(set, sid(r, pos + 1, 0)); /* a later word, or this one's later bit */
		}
}

static void step(const struct nfa *a, const uint64_t *set, uint8_t b, uint64_t *out)
{
	memset(out, 0, (size_t)a->words * 8);
	for (int w = 0; w < a->words; w++)
		for (uint64_t bits = set[w]; bits; bits &= bits - 1) {
			int s = w * 64 + __builtin_ctzll(bits), in = s & 1, pos = (s >> 1) % POS_MAX,
			    r = (s >> 1) / POS_MAX;
			const struct prog *p = &a->prog[r];
			const struct tok *t = &p->t[pos];

			if (pos >= p->n)
				continue;
			switch (t->type) {
			case T_LIT:
				if (!in && b == t->c)
					add(out, sid(r, pos + 1, 0));
				break;
			case T_METHOD:
				if (b >= 'A' && b <= 'Z')
					add(out, sid(r, pos, 1));
				break;
			case T_SEG:
				if (b != '/')
					add(out, sid(r, pos, 1));
				break;
			case T_TAIL:
				if (in || b == '/')
					add(out, sid(r, pos, 1));
				break;
			}
		}
	closure(a, out);
}

/* The first rule the set has matched whole, + 1; 0 if none. */
static uint8_t accepting(const struct nfa *a, const uint64_t *set)
{
	for (int r = 0; r < a->nrules; r++) {
		const struct prog *p = &a->prog[r];

		for (int pos = 0; pos <= p->n; pos++)
			for (int in = 0; in < 2; in++) {
				int s = sid(r, pos, in);
				bool acc = pos == p->n ? !in : p->t[pos].type == T_TAIL;

				if (acc && (set[s >> 6] >> (s & 63) & 1))
					return (uint8_t)(r + 1);
			}
	}
	return 0;
}

static uint64_t set_hash(const uint64_t *set, int words)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < words; i++)
		h = (h ^ set[i]) * 1099511628211ULL;
	return h;
}

int rules_compile(const char *const *matches, int n, uint16_t *next, uint8_t *accept,
		  int max_states, char *err, size_t errsz)
{
	struct prog *prog = calloc(n > 0 ? n : 1, sizeof(*prog));
	struct nfa a = { prog, n, 0 };
	uint64_t *sets = NULL, *tmp = NULL;
	int *slots = NULL, nslots = 1, nstates = 2, ret = -1;

	if (!prog || n > RULES_MAX || max_states < 2) {
		snprintf(err, errsz, "rate_limits: at most %d rules", RULES_MAX);
		goto out;
	}
	for (int r = 0; r < n; r++)
		if (tokenize(matches[r], &prog[r], err, errsz))
			goto out;
	a.words = (n * POS_MAX * 2 + 63) / 64;
	if (!a.words)
		a.words = 1;
	while (nslots < 2 * max_states)
		nslots *= 2;
	sets = calloc((size_t)max_states * a.words, 8);
	tmp = calloc(a.words, 8);
	slots = malloc(sizeof(int) * nslots);
	if (!sets || !tmp || !slots) {
		snprintf(err, errsz, "rate_limits: out of memory");
		goto out;
	}
	memset(slots, -1, sizeof(int) * nslots);
	/* State 0: the empty set (dead); 1: the start. */
	for (int r = 0; r < n; r++)
		add(&sets[a.words], sid(r, 0, 0));
	closure(&a, &sets[a.words]);
	for (int i = 0; i < 2; i++) {
		uint64_t h = set_hash(&sets[(size_t)i * a.words], a.words);

		for (int k = h & (nslots - 1);; k = (k + 1) & (nslots - 1))
			if (slots[k] < 0) {
				slots[k] = i;
				break;
			}
	}
	memset(next, 0, sizeof(uint16_t) * 256 * (size_t)max_states);
	memset(accept, 0, (size_t)max_states);
	for (int i = 1; i < nstates; i++) {
		accept[i] = accepting(&a, &sets[(size_t)i * a.words]);
		for (int b = 0; b < 256; b++) {
			uint64_t h;
			int k, found = -1;

			step(&a, &sets[(size_t)i * a.words], (uint8_t)b, tmp);
			h = set_hash(tmp, a.words);
			for (k = h & (nslots - 1); slots[k] >= 0; k = (k + 1) & (nslots - 1))
				if (!memcmp(&sets[(size_t)slots[k] * a.words], tmp, (size_t)a.words * 8)) {
					found = slots[k];
					break;
				}
			if (found < 0) {
				if (nstates == max_states) {
					snprintf(err, errsz,
						 "rate_limits: the rules need more than %d matcher states: "
						 "fewer rules, or fewer {name} and /** in them",
						 max_states);
					goto out;
				}
				memcpy(&sets[(size_t)nstates * a.words], tmp, (size_t)a.words * 8);
				slots[k] = found = nstates++;
			}
			next[(size_t)i * 256 + b] = (uint16_t)found;
		}
	}
	ret = nstates;
out:
	free(prog);
	free(sets);
	free(tmp);
	free(slots);
	return ret;
}

int rules_run(const uint16_t *next, const uint8_t *accept, const char *line)
{
	const char *sp = strchr(line, ' ');
	unsigned s = 1;

	if (!sp)
		return -1;
	for (const char *q = line; *q; q++) {
		if (q > sp && (*q == ' ' || *q == '?' || *q == '#'))
			break;
		s = next[s * 256 + (uint8_t)*q];
	}
	return accept[s] ? accept[s] - 1 : -1;
}

uint32_t rules_id(const char *match, unsigned limit, uint64_t window_ns)
{
	uint32_t h = 2166136261u;
	char tail[48];

	snprintf(tail, sizeof(tail), "|%u|%llu", limit, (unsigned long long)window_ns);
	for (const char *p = match; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (const char *p = tail; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h ? h : 1;
}
