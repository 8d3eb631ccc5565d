// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the HTTP parser. The input is a role hint byte, then
 * a sequence of feeds, each a 3-byte control header followed by its bytes:
 *
 *   c0 bit 0     direction (0 ingress, 1 egress)
 *   c0 bits 1-2  unseen bytes: none, c2, c2 * 97, c2 * 65537
 *   c0 bits 3-4  high bits of the captured length (caplen = c1 + 256 * bits)
 *   c0 bit 5     pass NULL as out (max_out 0)
 *   c0 bit 6     caplen claims one byte more than total (the parser must clamp)
 *   c0 bit 7     max_out 1 instead of XMAX
 *
 * Each feed's bytes are copied to a buffer of exactly caplen bytes so that
 * ASan sees any read past the end. Invariants of the API are checked too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

#define XMAX 4

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_exchange(const struct http_exchange *x)
{
	check(memchr(x->method, 0, sizeof(x->method)) != NULL);
	check(memchr(x->target, 0, sizeof(x->target)) != NULL);
	check(memchr(x->host, 0, sizeof(x->host)) != NULL);
	check(memchr(x->trace.traceparent, 0, sizeof(x->trace.traceparent)) != NULL);
	check(memchr(x->trace.b3, 0, sizeof(x->trace.b3)) != NULL);
	check(memchr(x->trace.x_b3_traceid, 0, sizeof(x->trace.x_b3_traceid)) != NULL);
	check(memchr(x->trace.x_b3_spanid, 0, sizeof(x->trace.x_b3_spanid)) != NULL);
	check(memchr(x->trace.x_b3_parentspanid, 0, sizeof(x->trace.x_b3_parentspanid)) != NULL);
	check(memchr(x->trace.x_b3_sampled, 0, sizeof(x->trace.x_b3_sampled)) != NULL);
	check(x->status >= 0 && x->status <= 999);
	check(x->role == HTTP_ROLE_SERVER || x->role == HTTP_ROLE_CLIENT);
	/* The harness's clock only goes forward. */
	check(x->req_begin_ts <= x->req_end_ts);
	check(x->resp_begin_ts <= x->resp_end_ts);
	check(x->req_begin_ts <= x->resp_begin_ts);
	check(x->req_bytes > 0 && x->resp_bytes > 0);
	(void)http_method_label(x->method);
	(void)http_outcome(x->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_exchange out[XMAX];
	struct http_conn *c;
	uint64_t ts = 1;
	bool broken = false;
	size_t off = 1;
	int n, i;

	if (size < 1)
		return 0;
	c = malloc(sizeof(*c));
	if (!c)
		return 0;
	http_conn_init(c, (enum http_role)(data[0] % 4));
	while (off + 3 <= size) {
		uint8_t c0 = data[off], c1 = data[off + 1], c2 = data[off + 2];
		size_t caplen = c1 + 256 * ((c0 >> 3) & 3);
		static const uint64_t mult[] = {0, 1, 97, 65537};
		uint64_t unseen = c2 * mult[(c0 >> 1) & 3];
		uint64_t total;
		int max_out = (c0 & 0x80) ? 1 : XMAX;
		uint8_t *buf;

		off += 3;
		if (caplen > size - off)
			caplen = size - off;
		total = caplen + unseen;
		buf = malloc(caplen ? caplen : 1);
		if (!buf)
			break;
		memcpy(buf, data + off, caplen);
		off += caplen;
		if ((c0 & 0x40) && total)
			total--;
		if (c0 & 0x20)
			n = http_conn_feed(c, c0 & 1, buf, caplen, total, ts++, NULL, 0);
		else
			n = http_conn_feed(c, c0 & 1, buf, caplen, total, ts++, out, max_out);
		free(buf);
		check(n >= -1 && n <= max_out);
		check(!broken || n == 0);
		if (n < 0) {
			check(http_conn_broken(c));
			broken = true;
		}
		if (c0 & 0x20)
			continue;
		for (i = 0; i < n; i++)
			check_exchange(&out[i]);
	}
	n = http_conn_close(c, ts, out, XMAX);
	check(n >= 0 && n <= XMAX && (!broken || n == 0));
	for (i = 0; i < n; i++)
		check_exchange(&out[i]);
	check(http_conn_close(c, ts + 1, out, XMAX) == 0);
	(void)http_looks_like_request(data, size);
	(void)http_looks_like_response(data, size);
	free(c);
	return 0;
}
