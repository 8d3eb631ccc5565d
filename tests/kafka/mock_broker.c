// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Kafka broker for tests and the demo: librdkafka's in-process mock cluster, kept alive until
 * SIGINT or SIGTERM. Prints the bootstrap address as its only line on stdout.
 *
 * Usage: mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]... [--ready-file PATH]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64
#define MAX_BROKERS 16
#define MAX_PARTITIONS 1024

struct topic {
	char name[250];
	int partitions;
};

struct opts {
	int brokers;
	const char *ready_file;
	struct topic topics[MAX_TOPICS];
	int ntopics;
};

static void usage(void)
{
	fprintf(stderr, "usage: mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]... "
			"[--ready-file PATH]\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_topic(const char *arg, struct topic *t)
{
	const char *colon = strrchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);

	if (len == 0 || len >= sizeof(t->name))
		return -1;
	memcpy(t->name, arg, len);
	t->name[len] = '\0';
	t->partitions = 1;
	if (colon && parse_int(colon + 1, 1, MAX_PARTITIONS, &t->partitions))
		return -1;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	o->brokers = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			exit(0);
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "mock_broker: bad argument '%s'\n", a);
			return -1;
		}
		if (strcmp(a, "--brokers") == 0) {
			if (parse_int(argv[++i], 1, MAX_BROKERS, &o->brokers)) {
				fprintf(stderr, "mock_broker: bad broker count '%s' (1..%d)\n",
					argv[i], MAX_BROKERS);
				return -1;
			}
		} else if (strcmp(a, "--topic") == 0) {
			if (o->ntopics >= MAX_TOPICS) {
				fprintf(stderr, "mock_broker: too many topics (max %d)\n",
					MAX_TOPICS);
				return -1;
			}
			if (parse_topic(argv[++i], &o->topics[o->ntopics])) {
				fprintf(stderr, "mock_broker: bad topic '%s' (NAME[:1..%d])\n",
					argv[i], MAX_PARTITIONS);
				return -1;
			}
			o->ntopics++;
		} else if (strcmp(a, "--ready-file") == 0) {
			o->ready_file = argv[++i];
		} else {
			fprintf(stderr, "mock_broker: bad argument '%s'\n", a);
			return -1;
		}
	}
	return 0;
}

/* Written to a temporary name then renamed, so a reader never sees a partial line. */
static int write_ready_file(const char *path, const char *addr)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", addr);
	if (fclose(f)) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The handle has no bootstrap.servers by design: drop that one warning, pass the rest on. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	if (strstr(buf, "bootstrap.servers"))
		return;
	fprintf(stderr, "mock_broker: %s: %s\n", fac, buf);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	const char *addr;
	char err[512];
	rd_kafka_t *rk;
	sigset_t set;
	int i, sig, ret = 1;

	if (parse_args(argc, argv, &o))
		return 1;

	/*
	 * Blocked before librdkafka starts its threads, so they inherit the mask, and taken back
	 * from SIG_IGN (a shell script's background jobs ignore SIGINT), which sigwait never sees.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) || signal(SIGINT, SIG_DFL) == SIG_ERR ||
	    signal(SIGTERM, SIG_DFL) == SIG_ERR) {
		fprintf(stderr, "mock_broker: signals: %s\n", strerror(errno));
		return 1;
	}

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "mock_broker: rd_kafka_new: %s\n", err);
		return 1;
	}

	mc = rd_kafka_mock_cluster_new(rk, o.brokers);
	if (!mc) {
		fprintf(stderr, "mock_broker: cannot create a mock cluster of %d broker(s)\n",
			o.brokers);
		goto out_rk;
	}

	for (i = 0; i < o.ntopics; i++) {
		rd_kafka_resp_err_t e;

		e = rd_kafka_mock_topic_create(mc, o.topics[i].name, o.topics[i].partitions, 1);
		if (e) {
			fprintf(stderr, "mock_broker: topic '%s': %s\n", o.topics[i].name,
				rd_kafka_err2str(e));
			goto out_mc;
		}
	}

	addr = rd_kafka_mock_cluster_bootstraps(mc);
	if (!addr || !*addr) {
		fprintf(stderr, "mock_broker: no bootstrap address\n");
		goto out_mc;
	}
	if (o.ready_file && write_ready_file(o.ready_file, addr)) {
		fprintf(stderr, "mock_broker: ready file '%s': %s\n", o.ready_file,
			strerror(errno));
		goto out_mc;
	}
	printf("%s\n", addr);
	if (fflush(stdout)) {
		fprintf(stderr, "mock_broker: stdout: %s\n", strerror(errno));
		goto out_mc;
	}

	do {
		sig = 0;
		if (sigwait(&set, &sig))
			sig = 0;
	} while (sig != SIGINT && sig != SIGTERM);
	ret = 0;

out_mc:
	rd_kafka_mock_cluster_destroy(mc);
out_rk:
	rd_kafka_destroy(rk);
	return ret;
}
