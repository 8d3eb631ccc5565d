// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's HTTP endpoint on libmicrohttpd. One internal polling thread
 * serves every connection: a scrape is rare and cheap, and a single thread
 * means the health callbacks and metrics__render never race each other here.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "export/httpd.h"
#include "export/metrics.h"
#include "trace_store.h"
#include "web_assets.h" /* generated: scripts/embed.sh */

#define CONN_LIMIT 16     /* Prometheus needs one; the rest is for people with curl */
#define CONN_TIMEOUT_S 10 /* drop idle or trickling clients: one thread serves all */
#define REASON_MAX 256
#define TRACES_LIMIT 10       /* /api/traces without ?limit */
#define TRACES_LIMIT_MAX 1000 /* bounds one answer's size: 1000 traces can be megabytes */

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"

struct httpd {
	struct MHD_Daemon *daemon;
	struct metrics *metrics;
	struct httpd_health health; /* a copy: the caller's may live on its stack */
	bool has_health;
	struct trace_store *_Atomic traces; /* NULL: the trace routes answer empty */
	struct httpd_json routes[HTTPD_JSON_ROUTES]; /* httpd__add_json: written before nroutes */
	_Atomic int nroutes;
	struct sockaddr_storage addr; /* kept alive while the daemon runs */
};

int httpd_parse_listen(const char *listen, char *host, size_t hostsz, int *port)
{
	const char *h, *hend, *p;
	long val = 0;

	if (!listen || !host || !hostsz || !port)
		return -EINVAL;
	if (listen[0] == '[') {
		h = listen + 1;
		hend = strchr(h, ']');
		if (!hend || hend == h || hend[1] != ':')
			return -EINVAL;
		p = hend + 2;
	} else {
		h = listen;
		hend = strrchr(listen, ':');
		if (!hend)
			return -EINVAL;
		/* A bare IPv6 address ("::1:9464") is ambiguous: brackets are required. */
		if (memchr(h, ':', hend - h))
			return -EINVAL;
		p = hend + 1;
	}
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		val = val * 10 + (*p - '0');
		if (val > 65535)
			return -EINVAL;
	}
	if (val == 0)
		return -EINVAL;
	if ((size_t)(hend - h) >= hostsz)
		return -EINVAL;
	memcpy(host, h, hend - h);
	host[hend - h] = '\0';
	*port = (int)val;
	return 0;
}

/* Append s to out as the inside of a JSON string; the result stays valid UTF-8. */
static size_t json_escape(const char *s, char *out, size_t outsz)
{
	size_t n = 0;

	while (*s && n + 7 < outsz) { /* room for the longest unit, \u00XX, and a NUL */
		unsigned char c = *s;
		int l = metrics_utf8_len(s);

		if (l == 0) {
			out[n++] = '?';
			s++;
		} else if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = c;
			s++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			out[n++] = '\\';
			out[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			n += snprintf(out + n, outsz - n, "\\u%04x", c);
			s++;
		} else {
			memcpy(out + n, s, l);
			n += l;
			s += l;
		}
	}
	out[n] = '\0';
	return n;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *ctype,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_static(struct MHD_Connection *conn, unsigned int status,
				    const char *ctype, const char *body)
{
	return reply(conn, status, ctype, (void *)body, strlen(body), MHD_RESPMEM_PERSISTENT);
}

/*
 * Does the scraper accept OpenMetrics (Prometheus asks for it first)? Then
 * histogram buckets carry exemplars; plain text stays as it was otherwise.
 */
static bool wants_openmetrics(struct MHD_Connection *conn)
{
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "application/openmetrics-text");
}

static enum MHD_Result serve_metrics(struct httpd *h, struct MHD_Connection *conn)
{
	bool om = h->metrics && wants_openmetrics(conn);
	size_t len = 0;
	char *text = !h->metrics ? strdup("")
		     : om	 ? metrics__render_openmetrics(h->metrics, &len)
				 : metrics__render(h->metrics, &len);

	if (!text)
		return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT,
				    "out of memory\n");
	/* MHD frees the buffer with free() once sent. */
	return reply(conn, MHD_HTTP_OK, om ? CT_OPENMETRICS : CT_METRICS, text, len,
		     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_readyz(struct httpd *h, struct MHD_Connection *conn)
{
	static const char head[] = "{\"status\":\"not ready\",\"reason\":\"";
	char reason[REASON_MAX] = "";
	/* Worst case every reason byte becomes \u00XX (6 bytes). */
	char body[sizeof(head) + 6 * REASON_MAX + 8];
	size_t n;

	if (!h->has_health || !h->health.ready ||
	    h->health.ready(h->health.ctx, reason, sizeof(reason)))
		return reply_static(conn, MHD_HTTP_OK, CT_JSON, "{\"status\":\"ready\"}");

	reason[sizeof(reason) - 1] = '\0'; /* do not trust the callback to terminate it */
	memcpy(body, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	n += json_escape(reason, body + n, sizeof(body) - n - 2);
	memcpy(body + n, "\"}", 3);
	n += 2;
	return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, CT_JSON, body, n, MHD_RESPMEM_MUST_COPY);
}

void httpd__set_traces(struct httpd *h, struct trace_store *st)
{
	if (h)
		atomic_store(&h->traces, st);
}

int httpd__add_json(struct httpd *h, const char *path, char *(*fn)(void *ctx), void *ctx)
{
	int n;

	if (!h || !path || !fn || strlen(path) >= sizeof(h->routes[0].path))
		return -EINVAL;
	n = atomic_load(&h->nroutes);
	if (n == HTTPD_JSON_ROUTES)
		return -ENOSPC;
	snprintf(h->routes[n].path, sizeof(h->routes[n].path), "%s", path);
	h->routes[n].fn = fn;
	h->routes[n].ctx = ctx;
	atomic_store(&h->nroutes, n + 1);
	return 0;
}

/* A route httpd__add_json gave: its JSON, or false if url is none of them. */
static bool serve_json(struct httpd *h, struct MHD_Connection *conn, const char *url,
		       enum MHD_Result *ret)
{
	int n = atomic_load(&h->nroutes);

	for (int i = 0; i < n; i++) {
		char *body;

		if (strcmp(url, h->routes[i].path))
			continue;
		body = h->routes[i].fn(h->routes[i].ctx);
		*ret = body ? reply(conn, MHD_HTTP_OK, CT_JSON, body, strlen(body),
				    MHD_RESPMEM_MUST_FREE)
			    : reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON,
					   "{\"error\":\"out of memory\"}");
		return true;
	}
	return false;
}

/* Send b's JSON (MHD takes the buffer), or a 500 if building it failed. */
static enum MHD_Result reply_zbuf(struct MHD_Connection *conn, struct zbuf *b, int err)
{
	if (err || b->oom || !b->p) {
		zbuf_free(b);
		return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON,
				    "{\"error\":\"out of memory\"}");
	}
	return reply(conn, MHD_HTTP_OK, CT_JSON, b->p, b->len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_trace(struct trace_store *st, struct MHD_Connection *conn,
				   const char *id)
{
	struct zbuf b = { 0 };
	int err = st ? trace_store__trace_json(st, id, &b) : -ENOENT;

	if (err == -EINVAL || err == -ENOENT)
		zbuf_free(&b);
	if (err == -EINVAL)
		return reply_static(conn, MHD_HTTP_BAD_REQUEST, CT_JSON,
				    "{\"error\":\"a trace id is 32 or 16 hex digits\"}");
	if (err == -ENOENT)
		return reply_static(conn, MHD_HTTP_NOT_FOUND, CT_JSON,
				    "{\"error\":\"trace not found\"}");
	return reply_zbuf(conn, &b, err);
}

/* ?limit=N (default 10, at most 1000), ?serviceName=S as Zipkin names it, or ?service=S. */
static enum MHD_Result serve_trace_list(struct trace_store *st, struct MHD_Connection *conn)
{
	const char *lim = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *svc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "serviceName");
	long limit = lim ? strtol(lim, NULL, 10) : TRACES_LIMIT;
	struct zbuf b = { 0 };

	if (!svc)
		svc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "service");
	if (limit < 1)
		limit = TRACES_LIMIT;
	if (limit > TRACES_LIMIT_MAX)
		limit = TRACES_LIMIT_MAX;
	if (!st)
		return reply_static(conn, MHD_HTTP_OK, CT_JSON, "[]");
	return reply_zbuf(conn, &b, trace_store__traces_json(st, svc, (size_t)limit, &b));
}

static enum MHD_Result serve_services(struct trace_store *st, struct MHD_Connection *conn)
{
	struct zbuf b = { 0 };

	if (!st)
		return reply_static(conn, MHD_HTTP_OK, CT_JSON, "[]");
	return reply_zbuf(conn, &b, trace_store__services_json(st, &b));
}

/*
 * Zipkin's query API over the recent-trace store: sonde's own /api/traces and
 * /api/traces/{id}, and the paths the Zipkin UI asks for. Returns false if url
 * is none of them.
 */
static bool serve_traces(struct httpd *h, struct MHD_Connection *conn, const char *url,
			 enum MHD_Result *ret)
{
	struct trace_store *st = atomic_load(&h->traces);

	if (!strcmp(url, "/api/traces") || !strcmp(url, "/api/v2/traces"))
		*ret = serve_trace_list(st, conn);
	else if (!strncmp(url, "/api/traces/", 12))
		*ret = serve_trace(st, conn, url + 12);
	else if (!strncmp(url, "/api/v2/trace/", 14))
		*ret = serve_trace(st, conn, url + 14);
	else if (!strcmp(url, "/api/v2/services"))
		*ret = serve_services(st, conn);
	else
		return false;
	return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct httpd *h = cls;
	enum MHD_Result ret;
	bool healthy;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	/*
	 * Answer on the first call: no route takes a body, and MHD closes the
	 * connection after the response if a body was announced but not read.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, CT_TEXT,
				    "method not allowed\n");
	/* HEAD: MHD sends the headers, Content-Length included, and drops the body. */
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, conn);
	if (!strcmp(url, "/healthz")) {
		healthy = !h->has_health || !h->health.healthy || h->health.healthy(h->health.ctx);
		if (healthy)
			return reply_static(conn, MHD_HTTP_OK, CT_TEXT, "ok\n");
		return reply_static(conn, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, "unhealthy\n");
	}
	if (!strcmp(url, "/readyz"))
		return serve_readyz(h, conn);
	if (serve_traces(h, conn, url, &ret) || serve_json(h, conn, url, &ret))
		return ret;
	/* The web view: static, embedded, read-only (user/export/web/). */
	for (size_t i = 0; i < sizeof(web_assets) / sizeof(web_assets[0]); i++)
		if (!strcmp(url, web_assets[i].path))
			return reply(conn, MHD_HTTP_OK, web_assets[i].type,
				     (void *)web_assets[i].data, web_assets[i].len,
				     MHD_RESPMEM_PERSISTENT);
	return reply_static(conn, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n");
}

/*
 * MHD reports a failed start without a reliable errno. When it fails, bind a
 * socket of our own to the same address, as MHD does (SO_REUSEADDR, v6-only),
 * to learn why: EADDRINUSE, EADDRNOTAVAIL, EACCES.
 */
static int bind_errno(const struct sockaddr *sa, socklen_t salen)
{
	int one = 1, err = 0;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, 1) < 0)
		err = errno;
	close(fd);
	return err;
}

static struct MHD_Daemon *start_one(struct httpd *h, const struct addrinfo *ai, int *err)
{
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD;
	struct MHD_Daemon *d;
	uint16_t port;

	if (ai->ai_addrlen > sizeof(h->addr)) {
		*err = EINVAL;
		return NULL;
	}
	memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
	if (ai->ai_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)&h->addr)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)&h->addr)->sin_port);
	}
	d = MHD_start_daemon(flags, port, NULL, NULL, handle, h,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
			     MHD_OPTION_END);
	if (!d) {
		*err = bind_errno(ai->ai_addr, ai->ai_addrlen);
		if (!*err)
			*err = EIO; /* the address is fine: MHD failed for another reason */
	}
	return d;
}

struct httpd *httpd__start(const char *listen, struct metrics *m,
			   const struct httpd_health *health)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char host[256], service[8];
	struct httpd *h;
	int port, ret, err = EINVAL;

	if (httpd_parse_listen(listen, host, sizeof(host), &port)) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(service, sizeof(service), "%d", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (!host[0])
		hints.ai_family = AF_INET; /* ":PORT" means 0.0.0.0, as documented */
	ret = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
	if (ret) {
		errno = ret == EAI_MEMORY ? ENOMEM : ret == EAI_SYSTEM ? errno : EINVAL;
		return NULL;
	}

	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(res);
		errno = ENOMEM;
		return NULL;
	}
	h->metrics = m;
	if (health) {
		h->health = *health;
		h->has_health = true;
	}
	/* "localhost" may give ::1 and 127.0.0.1: serve on the first that works. */
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		h->daemon = start_one(h, ai, &err);
		if (h->daemon)
			break;
	}
	freeaddrinfo(res);
	if (!h->daemon) {
		free(h);
		errno = err;
		return NULL;
	}
	return h;
}

void httpd__stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
