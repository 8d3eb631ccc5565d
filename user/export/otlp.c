// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/otlp.h"

static char host[256];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_init(void)
{
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "unknown");
}

static void str(struct zbuf *b, const char *s)
{
	zipkin_json_str(b, s, strlen(s));
}

static void u64_str(struct zbuf *b, uint64_t v)
{
	char num[32];

	zbuf_put(b, num, (size_t)snprintf(num, sizeof(num), "\"%" PRIu64 "\"", v));
}

/* {"key":K,"value":{"stringValue":V}}, with a leading comma unless first. */
static void attr_s(struct zbuf *b, bool *first, const char *k, const char *v)
{
	zbuf_puts(b, *first ? "{\"key\":" : ",{\"key\":");
	*first = false;
	str(b, k);
	zbuf_puts(b, ",\"value\":{\"stringValue\":");
	str(b, v);
	zbuf_puts(b, "}}");
}

static void attr_i(struct zbuf *b, bool *first, const char *k, int64_t v)
{
	char num[32];

	zbuf_puts(b, *first ? "{\"key\":" : ",{\"key\":");
	*first = false;
	str(b, k);
	zbuf_puts(b, ",\"value\":{\"intValue\":");
	zbuf_put(b, num, (size_t)snprintf(num, sizeof(num), "\"%" PRId64 "\"", v));
	zbuf_puts(b, "}}");
}

/* The resource of an observed process. */
static void resource(struct zbuf *b, const char *service, uint32_t pid)
{
	bool first = true;

	pthread_once(&host_once, host_init);
	zbuf_puts(b, "{\"attributes\":[");
	attr_s(b, &first, "service.name", service);
	attr_s(b, &first, "host.name", host);
	attr_i(b, &first, "process.pid", pid);
	zbuf_puts(b, "]}");
}

void otlp_resource_json(struct zbuf *b, const char *key)
{
	char *end;
	unsigned long pid = strtoul(key, &end, 10);

	resource(b, *end == ' ' ? end + 1 : "", (uint32_t)pid);
}

/* Zipkin tag names (docs/tracing.md) to the OpenTelemetry semantic conventions'. */
static const struct {
	const char *tag, *attr;
	bool integer;
} names[] = {
	{ "http.method", "http.request.method", false },
	{ "http.path", "url.path", false },
	{ "http.status_code", "http.response.status_code", true },
	{ "messaging.destination", "messaging.destination.name", false },
	{ "messaging.kafka.partition", "messaging.destination.partition.id", false },
	{ "messaging.kafka.offset", "messaging.kafka.offset", true },
	{ "messaging.batch.message_count", "messaging.batch.message_count", true },
};

static void span_attr(struct zbuf *b, bool *first, const struct span_tag *t)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *end;
		long long v;

		if (strcmp(t->key, names[i].tag))
			continue;
		if (names[i].integer) {
			errno = 0;
			v = strtoll(t->value, &end, 10);
			if (!errno && end != t->value && !*end) {
				attr_i(b, first, names[i].attr, v);
				return;
			}
		}
		attr_s(b, first, names[i].attr, t->value);
		return;
	}
	attr_s(b, first, t->key, t->value);
}

static void peer(struct zbuf *b, bool *first, const struct span *s)
{
	char addr[INET6_ADDRSTRLEN];
	bool server = s->kind == SPAN_KIND_SERVER;

	if (!s->remote.family ||
	    !inet_ntop(s->remote.family == 4 ? AF_INET : AF_INET6, s->remote.addr, addr, sizeof(addr)))
		return;
	attr_s(b, first, server ? "client.address" : "server.address", addr);
	attr_i(b, first, server ? "client.port" : "server.port", s->remote.port);
}

/* "traceId":"...","spanId":"..." (hex, as OTLP/JSON has them). */
static void ids(struct zbuf *b, const uint8_t trace_id[16], uint64_t span_id)
{
	char trace[33], id[17];

	span_trace_hex(trace_id, trace);
	span_id_hex(span_id, id);
	zbuf_puts(b, "\"traceId\":\"");
	zbuf_puts(b, trace);
	zbuf_puts(b, "\",\"spanId\":\"");
	zbuf_puts(b, id);
	zbuf_puts(b, "\"");
}

static void one_span(struct zbuf *b, const struct span *s)
{
	static const int kinds[] = { 2, 3, 4, 5 }; /* SERVER, CLIENT, PRODUCER, CONSUMER */
	char id[17], kind[8];
	const char *error = NULL;
	bool first = true;

	zbuf_puts(b, "{");
	ids(b, s->trace_id, s->id);
	if (s->parent_id) {
		span_id_hex(s->parent_id, id);
		zbuf_puts(b, ",\"parentSpanId\":\"");
		zbuf_puts(b, id);
		zbuf_puts(b, "\"");
	}
	zbuf_puts(b, ",\"name\":");
	str(b, s->name);
	snprintf(kind, sizeof(kind), "%d", s->kind < 4 ? kinds[s->kind] : 0);
	zbuf_puts(b, ",\"kind\":");
	zbuf_puts(b, kind);
	zbuf_puts(b, ",\"startTimeUnixNano\":");
	u64_str(b, s->timestamp_us * 1000);
	zbuf_puts(b, ",\"endTimeUnixNano\":");
	u64_str(b, (s->timestamp_us + s->duration_us) * 1000);
	zbuf_puts(b, ",\"attributes\":[");
	for (int i = 0; i < s->ntags && i < SPAN_TAGS_MAX; i++) {
		if (!strcmp(s->tags[i].key, "error")) {
			error = s->tags[i].value;
			continue;
		}
		span_attr(b, &first, &s->tags[i]);
	}
	peer(b, &first, s);
	zbuf_puts(b, "]");
	if (error) {
		zbuf_puts(b, ",\"status\":{\"code\":2,\"message\":");
		str(b, error);
		zbuf_puts(b, "}");
	}
	zbuf_puts(b, "}");
}

int otlp_traces_json(struct zbuf *b, const struct span *s, size_t n)
{
	bool *done = calloc(n ? n : 1, sizeof(*done));
	bool first_res = true;

	if (!done)
		return -ENOMEM;
	zbuf_puts(b, "{\"resourceSpans\":[");
	for (size_t i = 0; i < n; i++) {
		bool first = true;

		if (done[i])
			continue;
		zbuf_puts(b, first_res ? "{\"resource\":" : ",{\"resource\":");
		first_res = false;
		resource(b, s[i].local.service, s[i].pid);
		zbuf_puts(b, ",\"scopeSpans\":[{\"scope\":{\"name\":\"sonde\"},\"spans\":[");
		for (size_t k = i; k < n; k++) {
			if (done[k] || s[k].pid != s[i].pid || strcmp(s[k].local.service, s[i].local.service))
				continue;
			done[k] = true;
			if (!first)
				zbuf_put(b, ",", 1);
			first = false;
			one_span(b, &s[k]);
		}
		zbuf_puts(b, "]}]}");
	}
	zbuf_puts(b, "]}");
	free(done);
	return b->oom ? -ENOMEM : 0;
}

void otlp_log_record_json(struct zbuf *b, const struct log_record *r, char *key, size_t keysz)
{
	static const int severity[] = { 5, 9, 13, 17 }; /* DEBUG, INFO, WARN, ERROR */
	char num[32];
	bool first = true;

	snprintf(key, keysz, "%u %s", r->pid, r->service ? r->service : "");
	zbuf_puts(b, "{\"timeUnixNano\":");
	u64_str(b, r->time_ns);
	zbuf_puts(b, ",\"observedTimeUnixNano\":");
	u64_str(b, r->time_ns);
	snprintf(num, sizeof(num), "%d", severity[r->level <= LOG_ERROR ? r->level : LOG_INFO]);
	zbuf_puts(b, ",\"severityNumber\":");
	zbuf_puts(b, num);
	zbuf_puts(b, ",\"severityText\":");
	str(b, log_level_name(r->level));
	zbuf_puts(b, ",\"body\":{\"stringValue\":");
	zipkin_json_str(b, r->message, r->message_len);
	zbuf_puts(b, "},\"attributes\":[");
	attr_s(b, &first, "log.logger", r->logger);
	if (r->environment && r->environment[0])
		attr_s(b, &first, "deployment.environment", r->environment);
	if (r->tid)
		attr_i(b, &first, "thread.id", r->tid);
	if (r->truncated)
		attr_s(b, &first, "sonde.truncated", "true");
	for (uint32_t i = 0; i < r->nfields; i++) {
		if (r->fields[i].str)
			attr_s(b, &first, r->fields[i].key, r->fields[i].str);
		else
			attr_i(b, &first, r->fields[i].key, r->fields[i].num);
	}
	zbuf_puts(b, "]");
	if (r->has_trace) {
		zbuf_puts(b, ",");
		ids(b, r->trace_id, r->span_id);
	}
	zbuf_puts(b, "}");
}
