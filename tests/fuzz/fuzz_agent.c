// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the agent's record path (agent__handle): what the
 * BPF side writes to the rings, decoded: the event header, the tuple, the runs
 * of a walked record (struct sonde_segs), then the parsers behind them. The
 * input is a sequence of records, each a 2-byte little-endian size and that
 * many bytes, copied to a buffer of exactly that size (8-byte aligned, as in
 * the rings) so that ASan sees any read past a record. The metrics are
 * rendered at the end, and every connection expired. Log records (access
 * lines, application lines of SONDE_EV_LOG records) are encoded as JSON
 * lines and as OTLP log records.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "export/metrics.h"
#include "exchange.h"
#include "export/log_json.h"
#include "export/otlp.h"
#include "export/zipkin.h"
#include "sinks/log_sink.h"
#include "sinks/span_sink.h"
#include "trace_store.h"

static void hook(void *ctx, uint32_t tgid, uint32_t fd, uint64_t conn_id, uint16_t bytes,
		 uint8_t walk)
{
	(void)ctx, (void)tgid, (void)fd, (void)conn_id, (void)bytes, (void)walk;
}

static void encode(void *ctx, const struct log_record *r)
{
	struct zbuf *b = ctx;
	char key[320];

	zbuf_reset(b);
	log_json_line(b, r);
	zbuf_reset(b);
	otlp_log_record_json(b, r, key, sizeof(key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zbuf lb = { 0 };
	struct log_sink *ls;
	struct config cfg;
	struct metrics *m = metrics__new();
	struct agent *a;
	struct span_sink *ss;
	struct trace_store *st;
	size_t off = 0, len;
	char *text;

	config_init(&cfg);
	a = m ? agent__new(m, &cfg) : NULL;
	if (!a) {
		metrics__free(m);
		config_free(&cfg);
		return 0;
	}
	agent__set_capture_hook(a, hook, NULL);
	agent__add_service(a, "fuzz");
	/* Traces too: trace headers, joins, spans, their JSON. */
	ss = span_sink__new(&cfg);
	st = trace_store__new(64);
	if (ss && st && !agent__enable_tracing(a, 1.0)) {
		span_sink__add_out(ss, trace_store__put, st);
		agent__add_sink(a, (struct sink){ span_sink__put, ss });
	}
	ls = log_sink__new(&cfg);
	if (ls) {
		struct line_sink lines = { log_sink__app_line, log_sink__app_lost, ls };

		log_sink__add_out(ls, encode, &lb);
		agent__add_sink(a, (struct sink){ log_sink__put, ls });
		agent__set_line_sink(a, &lines);
	}
	while (off + 2 <= size) {
		size_t n = data[off] | (size_t)data[off + 1] << 8;
		uint64_t *rec;

		off += 2;
		if (n > size - off)
			n = size - off;
		rec = malloc(n ? n : 1);
		if (!rec)
			break;
		memcpy(rec, data + off, n);
		agent__handle(a, rec, n);
		free(rec);
		off += n;
	}
	text = metrics__render(m, &len);
	free(text);
	text = metrics__render_openmetrics(m, &len);
	free(text);
	if (st) {
		struct zbuf b = { 0 };

		trace_store__traces_json(st, NULL, 100, &b);
		zbuf_free(&b);
	}
	agent__expire(a, UINT64_MAX, 0);
	agent__free(a);
	span_sink__free(ss);
	log_sink__free(ls);
	zbuf_free(&lb);
	trace_store__free(st);
	metrics__free(m);
	config_free(&cfg);
	return 0;
}
