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

#define HTTP_METHOD_MAX  24  /* the longest registered method, UPDATEREDIRECTREF, is 17 */
#define HTTP_TARGET_MAX  256  /* request-target kept (truncated beyond) */
#define HTTP_HOST_MAX    128
#define HTTP_TRACEPARENT_MAX 64  /* "00-<32 hex>-<16 hex>-<2 hex>" + NUL = 56 */
#define HTTP_B3_MAX      80   /* single "b3" header value */
#define HTTP_TRACESTATE_MAX 128 /* W3C tracestate kept: whole list-members only */
#define HTTP_HEAD_MAX    4096 /* a message head larger than this is malformed */
#define HTTP_PIPELINE_MAX 16  /* requests awaiting a response per connection */
#define HTTP_BODY_MAX    2048 /* body bytes kept of a message the caller asked for */

/* What a keep function asks of a request (http_conn_set_keep): its body, its response's. */
#define HTTP_KEEP_REQ  0x01
#define HTTP_KEEP_RESP 0x02
typedef unsigned (*http_keep_fn)(void *ctx, const char *method, const char *target);

enum http_dir {
	HTTP_DIR_INGRESS = 0, /* bytes read by the observed process */
	HTTP_DIR_EGRESS = 1,  /* bytes written by the observed process */
};

enum http_role {
	HTTP_ROLE_UNKNOWN = 0,
	HTTP_ROLE_SERVER = 1, /* requests arrive on ingress */
	HTTP_ROLE_CLIENT = 2, /* requests leave on egress */
};

/*
 * Why bytes could not be parsed, one count each (sonde_parse_errors_total's
 * reason label). A request that cannot be parsed still takes its place in the
 * pairing, so that the server's answer to it is counted (see http_conn_feed).
 */
enum http_error {
	HTTP_ERR_NONE = 0,
	HTTP_ERR_REQUEST_LINE,   /* a request line that is not method SP target SP version */
	HTTP_ERR_VERSION,        /* a version that is not HTTP/1.x (HTTP/2.0, ICE/1.0, RTSP/1.0) */
	HTTP_ERR_HEADER,         /* a header line without a name and a colon */
	HTTP_ERR_CONTENT_LENGTH, /* a Content-Length that is not a number, or two that differ */
	HTTP_ERR_CHUNKED,        /* chunked framing that does not follow the grammar */
	HTTP_ERR_TOO_LARGE,      /* a head longer than HTTP_HEAD_MAX */
	HTTP_ERR_STATUS_LINE,    /* the server wrote no status line where a response was due */
	HTTP_ERR_TRUNCATED,      /* the connection ended inside a request head (counted by the caller) */
	HTTP_ERR__COUNT,
};

/* Trace context headers found in a request head (empty strings if absent). */
struct http_trace_hdrs {
	char traceparent[HTTP_TRACEPARENT_MAX];
	char b3[HTTP_B3_MAX];
	char x_b3_traceid[33];
	char x_b3_spanid[17];
	char x_b3_parentspanid[17];
	char x_b3_sampled[2];
	char tracestate[HTTP_TRACESTATE_MAX]; /* every tracestate header, joined with ',' */
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
	/*
	 * Why the request could not be parsed (HTTP_ERR_NONE if it was). Then
	 * method and target hold what could be read of it: the first token if it
	 * ended in a space, the second if it ended in a space or the line's end;
	 * "" otherwise. A response that answers no request the parser saw has
	 * both "" and error HTTP_ERR_NONE, and its req_*_ts are its own resp_begin_ts.
	 */
	uint8_t error;                 /* enum http_error */
	bool unanswered_request;       /* no request was seen for this response */
	uint32_t seq;                  /* the request's number on the connection (http_conn_begun) */
	struct http_trace_hdrs trace;  /* from the request head */
	/*
	 * Bodies kept (HTTP_KEEP_*, asked by the keep function when the request
	 * head was read): set in the exchanges http_conn_feed writes, NULL when
	 * not asked or not seen; they point into the connection and last until
	 * its next feed. *_cut: bytes of it were not captured, or were past
	 * HTTP_BODY_MAX, or it did not end (a response before the request's end).
	 */
	uint8_t keep;
	bool req_body_cut, resp_body_cut;
	uint32_t req_body_len, resp_body_len;
	const uint8_t *req_body, *resp_body;
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
	bool head_in_step;      /* the head in progress began in step (not as a candidate) */
	bool tunnel_maybe;      /* the last request asked for a tunnel (CONNECT, Upgrade) */
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
	/* The body of the message numbered body_seq, when it is kept (HTTP_KEEP_*). */
	bool body_keep;         /* the current message's body goes into body[] */
	bool body_cut;
	bool body_done;         /* its end was read */
	uint32_t body_seq;
	uint32_t body_len;
	uint8_t body[HTTP_BODY_MAX];
};

/* One pending request (sent, response not yet complete). */
struct http_pending {
	struct http_exchange x; /* request fields filled, response fields as they come */
	bool is_head;           /* HEAD request: its response has no body */
	bool resp_started;
};

struct http_conn {
	enum http_role role;
	bool slow_only;         /* no fast path (tests: http_conn_set_fast_path) */
	bool err_pending;       /* errors[] has counts that http_conn_take_errors has not taken */
	uint16_t errors[HTTP_ERR__COUNT]; /* malformed messages seen, by reason, not yet taken */
	uint32_t npending;
	uint32_t first;         /* ring index of the oldest pending request */
	uint32_t first_seq;     /* sequence number of the oldest pending request */
	struct http_pending pending[HTTP_PIPELINE_MAX];
	http_keep_fn keep_fn;   /* NULL: no body is kept */
	void *keep_ctx;
	struct http_half half[2]; /* indexed by enum http_dir */
};

/*
 * Reset to the state of a connection first seen now; role_hint may be
 * HTTP_ROLE_UNKNOWN. Both directions are out of step: a message is only
 * believed to begin where a feed begins with a valid start line (sonde may have
 * attached in the middle of the connection), and anything else is skipped.
 */
void http_conn_init(struct http_conn *c, enum http_role role_hint);

/*
 * Reset to the state of a connection seen from its first byte (accepted or
 * connected while observed), whose role is known: both directions are in step,
 * so the first bytes are a message start whatever they hold, and a request
 * that cannot be parsed is a malformed request (counted, paired, answered),
 * not bytes to skip. role: HTTP_ROLE_SERVER or HTTP_ROLE_CLIENT.
 */
void http_conn_init_from_start(struct http_conn *c, enum http_role role);

/*
 * For tests: whether a whole message head inside one feed, at a message
 * boundary in step, is read by the fast path (the default) or by the general
 * state machine alone. Both give the same exchanges and leave the same state
 * (but for the bytes of a head buffer the fast path does not fill and nothing
 * reads); tests/fuzz/fuzz_http_diff.c checks it.
 */
void http_conn_set_fast_path(struct http_conn *c, bool on);

/*
 * Ask for bodies: fn is called with each request's method and target once its
 * head is read (not for malformed or cut heads), and answers which bodies to
 * keep (HTTP_KEEP_REQ, HTTP_KEEP_RESP) for that request's exchange. Bodies
 * with a Content-Length or chunked are kept (decoded), up to HTTP_BODY_MAX.
 */
void http_conn_set_keep(struct http_conn *c, http_keep_fn fn, void *ctx);

/*
 * For tests: a and b are in the same state, byte for byte (padding too), but
 * for the fast-path switch and the bytes of each half's head buffer that no
 * head in progress holds (nothing reads them).
 */
bool http_conn_same_state(const struct http_conn *a, const struct http_conn *b);

/*
 * Feed one syscall's bytes. Writes at most max_out completed exchanges to out
 * and returns how many it wrote (>= 0). Never reads past data[caplen), never
 * crashes on any input, never gives up on a connection:
 * - The server's response is the truth: every status line written in step is
 *   one exchange, also when its request could not be parsed (the exchange
 *   then carries the request's error and what could be read of it) or was
 *   never seen.
 * - A request that cannot be parsed is counted in errors[], takes its place in
 *   the pairing, and lasts until a later feed begins with a request line
 *   (resynchronisation). Bytes after a request that asked for a tunnel
 *   (CONNECT, Upgrade) are not counted as malformed: they may be the tunnel's.
 * - A response that cannot be parsed is counted; the half waits for a feed
 *   beginning with a status line.
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

/*
 * Requests begun on the connection so far (their heads read): the seq of the
 * next one. A caller that compares it before and after a feed learns which
 * requests that feed began, and finds them with http_conn_request.
 */
uint32_t http_conn_begun(const struct http_conn *c);

/* The pending request numbered seq (its request fields), or NULL if answered or forgotten. */
const struct http_exchange *http_conn_request(const struct http_conn *c, uint32_t seq);

/*
 * Moves the error counts not yet taken into counts[] (added) and clears them.
 * Returns their sum. A caller checks c->err_pending first (it is cheap).
 */
unsigned http_conn_take_errors(struct http_conn *c, unsigned counts[HTTP_ERR__COUNT]);

/* The reason label of an error: "request_line", "version", ... */
const char *http_error_reason(enum http_error e);

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

/*
 * The method label: the method if it is in IANA's HTTP Method Registry (GET,
 * PROPFIND, QUERY, ...; "*" excepted) or is PURGE (the cache invalidation
 * method of Varnish, Squid and nginx, unregistered but common), else "OTHER",
 * so that the label's values stay a fixed set. The string returned is static.
 */
const char *http_method_label(const char *method);

#endif /* SONDE_PROTO_HTTP_H */
