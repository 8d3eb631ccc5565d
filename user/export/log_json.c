// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export/log_json.h"
#include "span.h"

void log_json_time(uint64_t time_ns, char out[64])
{
	time_t sec = (time_t)(time_ns / 1000000000ULL);
	unsigned ms = (unsigned)(time_ns / 1000000ULL % 1000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

static void key(struct zbuf *b, const char *k, bool *first)
{
	if (!*first)
		zbuf_put(b, ",", 1);
	*first = false;
	zipkin_json_str(b, k, strlen(k));
	zbuf_put(b, ":", 1);
}

static void str_field(struct zbuf *b, const char *k, const char *v, bool *first)
{
	key(b, k, first);
	zipkin_json_str(b, v, strlen(v));
}

static void num_field(struct zbuf *b, const char *k, int64_t v, bool *first)
{
	char num[24];

	key(b, k, first);
	zbuf_put(b, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, v));
}

void log_json_line(struct zbuf *b, const struct log_record *r)
{
	char ts[64], trace[33], span[17];
	bool first = true;

	if (r->object) {
		/* The line's own object, its closing brace replaced by our fields. */
		size_t n = r->message_len;

		while (n && r->message[n - 1] != '}')
			n--;
		zbuf_put(b, r->message, n ? n - 1 : 0);
		first = n && memchr(r->message, ':', n) == NULL; /* "{}" has no member */
	} else {
		zbuf_put(b, "{", 1);
	}
	log_json_time(r->time_ns, ts);
	if (!(r->present & LOG_HAS_TIMESTAMP))
		str_field(b, "@timestamp", ts, &first);
	if (!(r->present & LOG_HAS_LEVEL))
		str_field(b, "log.level", log_level_name(r->level), &first);
	if (!(r->present & LOG_HAS_LOGGER))
		str_field(b, "log.logger", r->logger, &first);
	if (!r->object) {
		key(b, "message", &first);
		zipkin_json_str(b, r->message, r->message_len);
	}
	if (r->truncated && !(r->present & LOG_HAS_TRUNCATED))
		str_field(b, "sonde.truncated", "true", &first);
	if (!(r->present & LOG_HAS_SERVICE))
		str_field(b, "service.name", r->service, &first);
	if (r->environment && r->environment[0] && !(r->present & LOG_HAS_ENVIRONMENT))
		str_field(b, "service.environment", r->environment, &first);
	if (!(r->present & LOG_HAS_PID))
		num_field(b, "process.pid", r->pid, &first);
	if (r->tid && !(r->present & LOG_HAS_TID))
		num_field(b, "process.thread.id", r->tid, &first);
	if (r->has_trace && !(r->present & LOG_HAS_TRACE)) {
		span_trace_hex(r->trace_id, trace);
		span_id_hex(r->span_id, span);
		str_field(b, "trace.id", trace, &first);
		str_field(b, "span.id", span, &first);
	}
	for (uint32_t i = 0; i < r->nfields; i++) {
		if (r->fields[i].str)
			str_field(b, r->fields[i].key, r->fields[i].str, &first);
		else
			num_field(b, r->fields[i].key, r->fields[i].num, &first);
	}
	zbuf_put(b, "}\n", 2);
}
