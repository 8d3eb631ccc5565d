// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "export/metrics.h"
#include "proto/http.h"
#include "rules.h"
#include "sinks/business_sink.h"

#define RULE_STATES 256 /* automaton states of one rule's match */

struct rule {
	const struct config_business *c;
	uint16_t *next; /* rules_compile's automaton of this rule's match alone */
	uint8_t *accept;
	struct metric_family *f;
};

struct business_sink {
	int n;
	struct rule r[CONFIG_BUSINESS_MAX];
	struct metric_family *unread;
};

void business_sink__free(struct business_sink *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->n; i++) {
		free(b->r[i].next);
		free(b->r[i].accept);
	}
	free(b);
}

struct business_sink *business_sink__new(struct metrics *m, const struct config *cfg, char *err,
					 size_t errsz)
{
	static const char *const svc[] = { "service" };
	static const char *const unread_labels[] = { "metric", "reason" };
	struct business_sink *b;

	err[0] = '\0';
	if (!cfg || !cfg->nbusiness)
		return NULL;
	if (!(b = calloc(1, sizeof(*b)))) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	b->unread = metrics__counter(m, "sonde_business_metrics_unread_total",
				     "Requests a business_metrics rule matched whose JSON field could "
				     "not be added, by metric and reason",
				     unread_labels, 2);
	for (int i = 0; i < cfg->nbusiness; i++) {
		struct rule *r = &b->r[b->n];
		const char *match = cfg->business[i].match;
		char help[512];

		r->c = &cfg->business[i];
		r->next = calloc((size_t)RULE_STATES * 256, sizeof(uint16_t));
		r->accept = calloc(RULE_STATES, 1);
		b->n++;
		if (!r->next || !r->accept ||
		    rules_compile(&match, 1, r->next, r->accept, RULE_STATES, err, errsz) < 0) {
			if (!err[0])
				snprintf(err, errsz, "out of memory");
			business_sink__free(b);
			return NULL;
		}
		/* Rules of one name add to one counter. */
		for (int j = 0; j < i; j++)
			if (!strcmp(cfg->business[j].name, r->c->name))
				r->f = b->r[j].f;
		if (r->f)
			continue;
		snprintf(help, sizeof(help), "business_metrics: %s requests served%s%s",
			 r->c->match, r->c->sum_field[0] ? ", the sum of their JSON field " : "",
			 r->c->sum_field);
		r->f = metrics__counter(m, r->c->name, help, svc, 1);
		if (!r->f) {
			snprintf(err, errsz, "business_metrics: %s: a name sonde uses already",
				 r->c->name);
			business_sink__free(b);
			return NULL;
		}
	}
	if (!b->unread) {
		snprintf(err, errsz, "out of memory");
		business_sink__free(b);
		return NULL;
	}
	return b;
}

static bool matches(const struct rule *r, const char *method, const char *target)
{
	char line[HTTP_METHOD_MAX + HTTP_TARGET_MAX + 2];

	snprintf(line, sizeof(line), "%s %s", method, target);
	return rules_run(r->next, r->accept, line) >= 0;
}

unsigned business_sink__keep(void *ctx, const char *method, const char *target)
{
	const struct business_sink *b = ctx;
	unsigned keep = 0;

	for (int i = 0; i < b->n; i++)
		if (b->r[i].c->sum_field[0] && matches(&b->r[i], method, target))
			keep |= b->r[i].c->from_response ? HTTP_KEEP_RESP : HTTP_KEEP_REQ;
	return keep;
}

/* The number at path (dots between names) in body; a reason it is not there, else NULL. */
static const char *json_number(const uint8_t *body, uint32_t len, const char *path, double *v)
{
	json_tokener *tok = json_tokener_new();
	json_object *root, *o;
	const char *why = NULL;
	char name[128];

	if (!tok)
		return "no_memory";
	root = json_tokener_parse_ex(tok, (const char *)body, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(root);
		return "not_json";
	}
	json_tokener_free(tok);
	o = root;
	for (const char *p = path; *p && o;) {
		size_t n = strcspn(p, ".");

		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, name, &o))
			o = NULL;
		p += n + (p[n] == '.');
	}
	if (!o) {
		why = "no_field";
	} else if (json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)) {
		*v = json_object_get_double(o);
	} else if (json_object_is_type(o, json_type_string)) {
		/* A decimal in a string ("12.50"), as money often is. */
		const char *s = json_object_get_string(o);
		char *end;

		*v = strtod(s, &end);
		if (end == s || *end)
			why = "not_a_number";
	} else {
		why = "not_a_number";
	}
	if (!why && (!isfinite(*v) || *v < 0))
		why = "not_a_number"; /* a counter only grows */
	json_object_put(root);
	return why;
}

static void unread(struct business_sink *b, const struct rule *r, const char *why)
{
	const char *v[] = { r->c->name, why };

	metric__add(b->unread, v, 1);
}

static void apply(struct business_sink *b, const struct rule *r, const struct exchange *x)
{
	const char *v[] = { x->service_name };
	const uint8_t *body = r->c->from_response ? x->http.resp_body : x->http.req_body;
	uint32_t len = r->c->from_response ? x->http.resp_body_len : x->http.req_body_len;
	bool cut = r->c->from_response ? x->http.resp_body_cut : x->http.req_body_cut;
	const char *why;
	double sum = 0;

	if (!r->c->sum_field[0]) {
		metric__add(r->f, v, 1);
		return;
	}
	if (!body) {
		unread(b, r, "no_body");
	} else if ((why = json_number(body, len, r->c->sum_field, &sum))) {
		/* A body cut short is rarely JSON: say why it could not be read. */
		unread(b, r, cut && !strcmp(why, "not_json") ? "truncated" : why);
	} else {
		metric__add(r->f, v, sum);
	}
}

void business_sink__put(void *ctx, const struct exchange *x, size_t n)
{
	struct business_sink *b = ctx;

	if (x->proto != EXCHANGE_HTTP)
		return;
	for (size_t i = 0; i < n; i++) {
		if (x[i].kind != EXCHANGE_SERVER || !x[i].status)
			continue;
		for (int k = 0; k < b->n; k++) {
			const struct rule *r = &b->r[k];

			if (x[i].status >= r->c->status_lo && x[i].status <= r->c->status_hi &&
			    (!r->c->service[0] || !strcmp(r->c->service, x[i].service_name)) &&
			    matches(r, x[i].http.method, x[i].target))
				apply(b, r, &x[i]);
		}
	}
}
