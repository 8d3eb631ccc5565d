/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.0 and HTTP/1.1 over one connection, as a pure function of the bytes
 * seen in each direction. No I/O, no globals, no allocation: the caller embeds
 * struct http_conn in its connection record.
 *
 * The caller feeds what each syscall moved, in order, per direction:
 *   data[0..caplen)  the bytes sonde captured (the first caplen of the syscall)
 *   total            the bytes the syscall really moved (>= caplen); the
 *                    remaining total - caplen are "unseen" (not captured, or
 *                    sendfile) and still advance body framing.
 *   ts               a timestamp (ns) the parser only carries around.
 *
 * The parser decides the connection's role from content (the first complete
 * request line seen tells which direction carries requests), pairs requests
 * with responses in order (pipelining, keep-alive), and emits one
 * struct http_exchange per completed request/response pair.
 */
#ifndef SONDE_PROTO_HTTP_H
#define SONDE_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_MAX  16
#define HTTP_TARGET_MAX  256  /* request-target kept (truncated beyond) */
#define HTTP_HOST_MAX    128
#define HTTP_TRACEPARENT_MAX 64  /* "00-<32 hex>-<16 hex>-<2 hex>" + NUL = 56 */
#define HTTP_B3_MAX      80   /* single "b3" header value */
#define HTTP_HEAD_MAX    4096 /* a message head larger than this is malformed */
#define HTTP_PIPELINE_MAX 16  /* requests awaiting a response per connection */

enum http_dir {
	HTTP_DIR_INGRESS = 0, /* bytes read by the observed process */
	HTTP_DIR_EGRESS = 1,  /* bytes written by the observed process */
};

enum http_role {
	HTTP_ROLE_UNKNOWN = 0,
	HTTP_ROLE_SERVER = 1, /* requests arrive on ingress */
	HTTP_ROLE_CLIENT = 2, /* requests leave on egress */
};

/* Trace context headers found in a request head (empty strings if absent). */
struct http_trace_hdrs {
	char traceparent[HTTP_TRACEPARENT_MAX];
	char b3[HTTP_B3_MAX];
	char x_b3_traceid[33];
	char x_b3_spanid[17];
	char x_b3_parentspanid[17];
	char x_b3_sampled[2];
};

/* One completed request/response pair. */
struct http_exchange {
	enum http_role role;
	char method[HTTP_METHOD_MAX];  /* as sent ("GET", "PATCH", ...), truncated */
	char target[HTTP_TARGET_MAX];  /* request-target as sent, truncated */
	char host[HTTP_HOST_MAX];      /* Host header, "" if absent */
	int status;                    /* response status code, 0 if none was parsed */
	int version_minor;             /* 0 or 1, from the request line */
	uint64_t req_begin_ts;         /* ts of the feed carrying the request's first byte */
	uint64_t req_end_ts;           /* ts of the feed carrying the request's last byte */
	uint64_t resp_begin_ts;        /* ts of the feed carrying the response's first byte */
	uint64_t resp_end_ts;          /* ts of the feed carrying the response's last byte */
	uint64_t req_bytes;            /* bytes of the request (head + body) */
	uint64_t resp_bytes;           /* bytes of the response (head + body) */
	bool target_truncated;         /* target did not fit in target[] */
	bool head_truncated;           /* the response/request head was not fully seen */
	struct http_trace_hdrs trace;  /* from the request head */
};

/*
 * Internal state of one direction. Fields are private to http.c; they are in
 * the header only so that the caller can embed the struct.
 */
struct http_half {
	uint8_t state;          /* resync, idle, head, body-length, body-chunked, until-close... */
	uint8_t kind;           /* 0 unknown, 1 requests, 2 responses */
	bool head_partial;      /* the head had unseen bytes */
	bool cand;              /* the head in progress began a feed while out of step */
	uint8_t cand_prev;      /* state to fall back to if the candidate is no message start */
	uint8_t sl_state;       /* start-line validator state */
	uint8_t sl_pos;         /* position inside the current start-line element */
	uint8_t eoh;            /* end-of-head scanner state */
	bool has_msg;           /* the current message belongs to pending request seq */
	bool head_answers;      /* a request (head_seq) was pending when the response head began */
	uint32_t seq;           /* sequence number of that pending request */
	uint32_t head_seq;      /* oldest pending request when the response head began */
	uint32_t nfeed;         /* feeds seen in this direction */
	uint32_t cand_feed;     /* nfeed of the feed where the candidate began */
	uint32_t head_len;      /* bytes in head[] */
	uint64_t head_ts;       /* ts of the feed where the head in progress began */
	uint64_t head_last_ts;  /* ts of the last feed that added to the head in progress */
	uint64_t remaining;     /* body bytes left (length or current chunk) */
	uint64_t msg_bytes;     /* bytes of the current message so far */
	uint64_t begin_ts;      /* ts of the feed where the current message began */
	uint64_t last_ts;       /* ts of the feed with the current message's latest bytes */
	uint32_t chunk_state;   /* sub-state of the chunked decoder */
	uint64_t chunk_size;    /* chunk size being parsed */
	char head[HTTP_HEAD_MAX];
};

/* One pending request (sent, response not yet complete). */
struct http_pending {
	struct http_exchange x; /* request fields filled, response fields as they come */
	bool is_head;           /* HEAD request: its response has no body */
	bool resp_started;
};

struct http_conn {
	enum http_role role;
	bool broken;            /* malformed bytes seen: ignore the rest of the connection */
	bool slow_only;         /* no fast path (tests: http_conn_set_fast_path) */
	uint32_t npending;
	uint32_t first;         /* ring index of the oldest pending request */
	uint32_t first_seq;     /* sequence number of the oldest pending request */
	struct http_pending pending[HTTP_PIPELINE_MAX];
	struct http_half half[2]; /* indexed by enum http_dir */
};

/* Reset to the state of a fresh connection; role_hint may be HTTP_ROLE_UNKNOWN. */
void http_conn_init(struct http_conn *c, enum http_role role_hint);

/*
 * For tests: whether a whole message head inside one feed, at a message
 * boundary in step, is read by the fast path (the default) or by the general
 * state machine alone. Both give the same exchanges and leave the same state
 * (but for the bytes of a head buffer the fast path does not fill and nothing
 * reads); tests/fuzz/fuzz_http_diff.c checks it.
 */
void http_conn_set_fast_path(struct http_conn *c, bool on);

/*
 * For tests: a and b are in the same state, byte for byte (padding too), but
 * for the fast-path switch and the bytes of each half's head buffer that no
 * head in progress holds (nothing reads them).
 */
bool http_conn_same_state(const struct http_conn *a, const struct http_conn *b);

/*
 * Feed one syscall's bytes. Writes at most max_out completed exchanges to out
 * and returns how many it wrote (>= 0). On malformed input the connection is
 * marked broken (http_conn_broken() turns true), the function returns -1 the
 * first time and 0 on every later call, and no more exchanges come from it.
 * Never reads past data[caplen), never crashes on any input.
 */
int http_conn_feed(struct http_conn *c, enum http_dir dir, const uint8_t *data, size_t caplen,
		   uint64_t total, uint64_t ts, struct http_exchange *out, int max_out);

/*
 * The connection closed (or the caller gives up on it). Emits the exchange
 * whose response was being read until close, or whose response had begun but
 * whose framing could not be followed (end = last response bytes seen).
 * Requests that never got a response are dropped. Returns the count written.
 */
int http_conn_close(struct http_conn *c, uint64_t ts, struct http_exchange *out, int max_out);

bool http_conn_broken(const struct http_conn *c);

/*
 * Call before http_conn_close: does the connection end inside a request head
 * (request line or headers begun, never finished)? That is malformed traffic
 * (a truncated request), worth counting; a response cut short is not.
 */
bool http_conn_truncated(const struct http_conn *c);

/* Content sniffing for protocol detection: do these bytes begin an HTTP/1.x
 * request line ("GET / HTTP/1.1\r\n" or a prefix of it long enough to tell)? */
bool http_looks_like_request(const uint8_t *data, size_t len);
/* ... a status line ("HTTP/1.1 200 ...")? */
bool http_looks_like_response(const uint8_t *data, size_t len);

/* Spring's outcome for a status code: "INFORMATIONAL", "SUCCESS", "REDIRECTION",
 * "CLIENT_ERROR", "SERVER_ERROR", or "UNKNOWN" (status outside 100..599). */
const char *http_outcome(int status);

/* The method label: the method if it is one of GET HEAD POST PUT DELETE
 * CONNECT OPTIONS TRACE PATCH, else "OTHER". */
const char *http_method_label(const char *method);

#endif /* SONDE_PROTO_HTTP_H */
