// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A deterministic driver for the agent path (agent__handle), to count
 * instructions per Redis command and per HTTP exchange. Not a unit test: it
 * checks nothing and `make check` never runs it. Build and measure:
 *
 *   make build/tests/bench_agent
 *   valgrind --tool=callgrind --toggle-collect=measure build/tests/bench_agent redis 2000
 *   valgrind --tool=callgrind --toggle-collect=measure build/tests/bench_agent http 20000
 *
 * and divide the Ir total by the "commands" / "requests" count it prints
 * (only the measured rounds, after WARMUP rounds that create the connections,
 * parsers and series). `--dump` prints the /metrics text at the end, to check
 * that a change leaves every value and label as it was.
 *
 * Workloads (all records built before measuring):
 *  redis  client side (as redis-benchmark is observed), 8 connections; each
 *         round writes 16 pipelined commands in one record and reads the 16
 *         replies in one record. Rounds alternate: 16 SETs of key:NNNNNNNNNNNN
 *         answered +OK; 16 GETs of products:NNN answered with 3-byte bulk
 *         strings, about one in four $-1 (miss); every 8th round a mix of
 *         GET/MGET/HGET/INCR/LPUSH with an error reply.
 *  http   server side (nginx), 32 keep-alive connections; one record per
 *         request ("GET /api/products/N HTTP/1.1 ...") and one per response
 *         ("HTTP/1.1 200 OK ... Content-Length: 3 ... ok\n").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "export/metrics.h"

#define WARMUP 4 /* rounds per connection fed before measuring */
#define REDIS_CONNS 8
#define HTTP_CONNS 32
#define PIPE 16

struct recs {
	uint8_t *buf;
	size_t len, cap;
	size_t *off; /* record start offsets */
	size_t n, ncap;
	size_t warm; /* records fed by warm_up() */
	uint64_t units; /* commands or requests in measured records */
};

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

/* Append one record: 8-byte aligned, as the ring buffer hands them out. */
static void add(struct recs *r, uint8_t dir, uint32_t fd, uint64_t conn_id, uint64_t ts,
		uint8_t role, bool tuple, const char *payload, size_t n)
{
	size_t hlen = sizeof(struct sonde_event) + (tuple ? sizeof(struct sonde_conn_tuple) : 0);
	size_t sz = (hlen + n + 7) & ~(size_t)7;
	struct sonde_event *e;

	if (r->len + sz > r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1 << 20;
		while (r->len + sz > r->cap)
			r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap);
	}
	if (r->n == r->ncap) {
		r->ncap = r->ncap ? r->ncap * 2 : 1024;
		r->off = xrealloc(r->off, r->ncap * sizeof(*r->off));
	}
	r->off[r->n++] = r->len;
	e = (struct sonde_event *)(r->buf + r->len);
	memset(e, 0, sz);
	e->type = SONDE_EV_DATA;
	e->dir = dir;
	e->call = dir == SONDE_DIR_EGRESS ? SONDE_CALL_WRITE : SONDE_CALL_READ;
	e->tgid = 4242;
	e->tid = 4242;
	e->fd = fd;
	e->service = 0;
	e->conn_id = conn_id;
	e->ts_ns = ts;
	e->len = e->caplen = (uint32_t)n;
	if (tuple) {
		struct sonde_conn_tuple *t = (struct sonde_conn_tuple *)(e + 1);

		e->flags = SONDE_F_TUPLE;
		t->family = SONDE_AF_INET;
		t->role = role;
		t->laddr[0] = 127;
		t->laddr[3] = 1;
		t->raddr[0] = 127;
		t->raddr[3] = 1;
		t->lport = (uint16_t)(40000 + fd);
		t->rport = role == SONDE_ROLE_CLIENT ? 6379 : 80;
	}
	memcpy(r->buf + r->len + hlen, payload, n);
	r->len += sz;
}

static size_t cat(char *dst, size_t pos, const char *s)
{
	size_t n = strlen(s);

	memcpy(dst + pos, s, n);
	return pos + n;
}

/* One round of connection c: a 16-command write, then the 16 replies. */
static void redis_round(struct recs *r, int c, int round, uint64_t *ts, bool measured)
{
	char cmd[4096], rep[4096], tmp[128];
	size_t cl = 0, rl = 0;
	int kind = round % 8 == 7 ? 2 : round % 2;

	for (int i = 0; i < PIPE; i++) {
		uint32_t k = next_rand();

		if (kind == 0) {
			snprintf(tmp, sizeof(tmp), "key:%012u", k % 100000);
			cl += (size_t)sprintf(cmd + cl, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$3\r\nxxx\r\n",
					      strlen(tmp), tmp);
			rl = cat(rep, rl, "+OK\r\n");
		} else if (kind == 1) {
			snprintf(tmp, sizeof(tmp), "products:%u", k % 1000);
			cl += (size_t)sprintf(cmd + cl, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
					      strlen(tmp), tmp);
			rl = cat(rep, rl, k % 4 == 0 ? "$-1\r\n" : "$3\r\nabc\r\n");
		} else {
			switch (i % 5) {
			case 0:
				cl = cat(cmd, cl, "*2\r\n$3\r\nGET\r\n$9\r\nusers:123\r\n");
				rl = cat(rep, rl, "$5\r\nhello\r\n");
				break;
			case 1:
				cl = cat(cmd, cl,
					 "*3\r\n$4\r\nMGET\r\n$9\r\nusers:123\r\n$9\r\nusers:456\r\n");
				rl = cat(rep, rl, "*2\r\n$1\r\na\r\n$-1\r\n");
				break;
			case 2:
				cl = cat(cmd, cl, "*3\r\n$4\r\nHGET\r\n$7\r\ncart:77\r\n$3\r\nqty\r\n");
				rl = cat(rep, rl, "$1\r\n3\r\n");
				break;
			case 3:
				cl = cat(cmd, cl, "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n");
				rl = cat(rep, rl, ":42\r\n");
				break;
			default:
				cl = cat(cmd, cl, "*3\r\n$5\r\nLPUSH\r\n$7\r\ncounter\r\n$1\r\nx\r\n");
				rl = cat(rep, rl, "-WRONGTYPE Operation against a key holding the "
						  "wrong kind of value\r\n");
			}
		}
	}
	add(r, SONDE_DIR_EGRESS, 10 + c, 1000 + c, *ts, SONDE_ROLE_CLIENT, round == 0, cmd, cl);
	*ts += 20000 + next_rand() % 100000;
	add(r, SONDE_DIR_INGRESS, 10 + c, 1000 + c, *ts, SONDE_ROLE_CLIENT, false, rep, rl);
	*ts += 5000;
	if (measured)
		r->units += PIPE;
}

static void build_redis(struct recs *r, int rounds)
{
	uint64_t ts = 1000000000ULL;

	for (int round = 0; round < rounds; round++) {
		for (int c = 0; c < REDIS_CONNS; c++)
			redis_round(r, c, round, &ts, round >= WARMUP);
		if (round == WARMUP - 1)
			r->warm = r->n;
	}
}

static void build_http(struct recs *r, int rounds)
{
	static const char *const resp = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
					"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
					"Content-Type: text/plain\r\nContent-Length: 3\r\n"
					"Connection: keep-alive\r\n\r\nok\n";
	uint64_t ts = 1000000000ULL;
	char req[512];

	for (int round = 0; round < rounds; round++) {
		for (int c = 0; c < HTTP_CONNS; c++) {
			int n = snprintf(req, sizeof(req),
					 "GET /api/products/%u HTTP/1.1\r\nHost: x\r\n"
					 "User-Agent: wrk\r\n\r\n",
					 next_rand() % 1000);

			add(r, SONDE_DIR_INGRESS, 100 + c, 5000 + c, ts, SONDE_ROLE_SERVER,
			    round == 0, req, (size_t)n);
			ts += 30000 + next_rand() % 200000;
			add(r, SONDE_DIR_EGRESS, 100 + c, 5000 + c, ts, SONDE_ROLE_SERVER, false, resp,
			    strlen(resp));
			ts += 3000;
			if (round >= WARMUP)
				r->units++;
		}
		if (round == WARMUP - 1)
			r->warm = r->n;
	}
}

static void feed(struct agent *a, const struct recs *r, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		size_t end = i + 1 < r->n ? r->off[i + 1] : r->len;

		agent__handle(a, r->buf + r->off[i], end - r->off[i]);
	}
}

/* Not measured (callgrind --toggle-collect=measure). */
__attribute__((noinline)) void warm_up(struct agent *a, const struct recs *r)
{
	feed(a, r, 0, r->warm);
}

__attribute__((noinline)) void measure(struct agent *a, const struct recs *r)
{
	feed(a, r, r->warm, r->n);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "redis";
	int rounds = argc > 2 ? atoi(argv[2]) : 1000;
	bool dump = argc > 3 && !strcmp(argv[3], "--dump");
	struct metrics *m = metrics__new();
	struct agent *a = m ? agent__new(m, NULL) : NULL;
	struct recs r = { 0 };
	struct timespec t0, t1;
	double ns;

	if (!a || agent__add_service(a, "bench") != 0 || rounds <= WARMUP) {
		fprintf(stderr, "usage: bench_agent redis|http ROUNDS(>%d) [--dump]\n", WARMUP);
		return 2;
	}
	if (!strcmp(mode, "redis"))
		build_redis(&r, rounds);
	else if (!strcmp(mode, "http"))
		build_http(&r, rounds);
	else
		return 2;
	warm_up(a, &r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	measure(a, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "%s: %zu records measured, %llu %s, %.1f ns each\n", mode, r.n - r.warm,
		(unsigned long long)r.units, !strcmp(mode, "redis") ? "commands" : "requests",
		r.units ? ns / (double)r.units : 0.0);
	if (dump) {
		size_t len;
		char *text = metrics__render(m, &len);

		if (text)
			fwrite(text, 1, len, stdout);
		free(text);
	}
	agent__free(a);
	metrics__free(m);
	free(r.buf);
	free(r.off);
	return 0;
}
