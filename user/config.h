/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sonde's configuration: command line first, then the YAML file given with
 * --config for what does not fit on a command line. See docs/configuration.md.
 */
#ifndef SONDE_CONFIG_H
#define SONDE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "proto/route.h"

#define CONFIG_TARGETS_MAX 64
#define CONFIG_CACHES_MAX  50
#define CONFIG_NAME_MAX    64
#define CONFIG_RATE_LIMITS_MAX 32 /* RL_RULES_MAX */
#define CONFIG_MATCH_MAX 200      /* RULES_MATCH_MAX */
#define CONFIG_PROXIES_MAX 64
#define CONFIG_SELECT_MAX  64  /* --match-* and --exclude-comm rules */

/* A node-wide selection rule (--all; user/discover.h). */
enum config_select_kind {
	CONFIG_MATCH_COMM = 0, /* --match-comm REGEX */
	CONFIG_MATCH_EXE,      /* --match-exe REGEX */
	CONFIG_MATCH_CGROUP,   /* --match-cgroup PATH (a prefix) */
	CONFIG_EXCLUDE_COMM,   /* --exclude-comm REGEX */
	CONFIG_MATCH_PORT,     /* --match-port PORT (pattern: its digits) */
};

struct config_select {
	int kind; /* enum config_select_kind */
	char pattern[256];
};

/* discovery.names: a service name for the processes that match every given pattern. */
#define CONFIG_NAMES_MAX 32
struct config_name {
	char name[CONFIG_NAME_MAX];
	char comm[256], exe[256], cgroup[256]; /* "" not given; comm, exe: regexes */
};

struct config_target {
	pid_t pid;
	char name[CONFIG_NAME_MAX]; /* "" = use the process's comm */
};

/* One of business_metrics: (docs/metrics.md "Business metrics"). */
#define CONFIG_BUSINESS_MAX 32
struct config_business {
	char name[128];               /* the counter's name */
	char match[CONFIG_MATCH_MAX]; /* "[METHOD ]/path" (rules.h) */
	int status_lo, status_hi;     /* the statuses counted: "2xx" 200..299, "402", "any" */
	char sum_field[128];          /* "" count the requests; else add this JSON field */
	bool from_response;           /* sum_field is read from the response's body */
	char service[CONFIG_NAME_MAX]; /* "" any service */
};

/* One of rate_limits: (docs/ratelimit.md). */
struct config_rate_limit {
	char match[CONFIG_MATCH_MAX]; /* "[METHOD ]/path" (rules.h) */
	unsigned limit;               /* requests per window and client */
	unsigned long long window_ns;
};

struct config {
	char listen[128];          /* --listen HOST:PORT */
	unsigned capture_bytes;    /* --capture-bytes N */
	int verbose;               /* -v, repeatable */
	const char *config_file;   /* --config FILE */
	int ntargets;
	struct config_target targets[CONFIG_TARGETS_MAX];
	bool all;                  /* --all: node-wide (user/discover.h) */
	int nselect;               /* --match-*, --exclude-comm, or discovery: in the file */
	struct config_select select[CONFIG_SELECT_MAX];
	int max_services;          /* --max-services N: distinct service names (100) */
	char kubelet_pods[256];    /* discovery.kubelet_pods: the kubelet's pod directories */
	int nnames;                /* discovery.names */
	struct config_name names[CONFIG_NAMES_MAX];
	/* The Kubernetes API (docs/kubernetes.md): "" the in-cluster one when its token is mounted. */
	char k8s_api[256];         /* --k8s-api URL, discovery.kubernetes_api; "none": never */
	char k8s_token[256];       /* discovery.kubernetes_token: the bearer token's file */
	char k8s_ca[256];          /* discovery.kubernetes_ca: the CA bundle that signed the API's */
	bool k8s_labels;           /* --k8s-labels: k8s_namespace, k8s_pod, ... on metric series */
	bool cli_select, cli_max_services, cli_k8s_api;
	char **command;            /* argv after "--", NULL-terminated, or NULL */
	bool cli_listen, cli_capture; /* set on the command line: wins over the file */

	/* Traces (docs/tracing.md). */
	bool no_tracing;           /* --no-tracing: metrics only, no trace context, no spans */
	double trace_sample_rate;  /* --trace-sample-rate R: share of new traces kept (1.0) */
	char zipkin_url[512];      /* --zipkin-url URL: POST Zipkin v2 JSON there ("" none) */
	char zipkin_kafka[512];    /* --zipkin-kafka BROKERS: the same to topic "zipkin" ("" none) */
	unsigned trace_store_spans; /* recent spans kept for /api/traces (20000) */
	bool cli_tracing, cli_sample, cli_zipkin_url, cli_zipkin_kafka; /* set on the command line */

	/* Logs (docs/logs.md). */
	char log_file[512];        /* --log-file PATH: JSON lines there ("-": stdout; "" none) */
	int log_level;             /* --log-level: enum log_level, lines below it are not written */
	unsigned long long log_max_size; /* --log-max-size BYTES: rotate past it (100 MiB) */
	unsigned log_files;        /* --log-files N: rotated files kept (5) */
	char environment[64];      /* --environment NAME, or environment: in the file ("" none) */
	bool capture_app_logs;     /* --capture-app-logs: targets' stdout/stderr lines re-emitted */
	char loki_url[512];        /* --loki-url URL: push the lines to Loki ("" none) */
	char otlp_url[512];        /* --otlp-url URL: OTLP/HTTP JSON to URL/v1/traces, URL/v1/logs */
	bool loki_json;            /* --loki-encoding json: gzip JSON push (else protobuf, snappy) */
	bool cli_loki_url, cli_otlp_url, cli_loki_encoding;
	bool cli_log_file, cli_log_level, cli_log_max_size, cli_log_files, cli_environment;

	/* From the YAML file. */
	struct route_patterns routes; /* routes: ["/api/products/{id}", ...] */
	int max_routes;               /* max_routes_per_service: N (default 200) */
	int ncaches;                  /* caches: {products: "products:*", ...} */
	struct {
		char *name;
		char *pattern;        /* fnmatch(3) glob over the whole key */
	} caches[CONFIG_CACHES_MAX];
	int nbusiness;                /* business_metrics: [{name, match, status, ...}] */
	struct config_business business[CONFIG_BUSINESS_MAX];
	int nrate_limits;             /* rate_limits: [{match, limit, window}, ...] */
	struct config_rate_limit rate_limits[CONFIG_RATE_LIMITS_MAX];
	char ratelimit_redis[256];    /* --ratelimit-redis HOST:PORT: counts shared ("" none) */
	char correlation_redis[256];  /* --correlation-redis HOST:PORT: Kafka joins across nodes */
	bool inject_traceparent;      /* --inject-traceparent: traceparent written in the kernel */
	bool cli_ratelimit_redis;
	int nproxies;                 /* trusted_proxies: ["10.0.0.0/8", "::1", ...] */
	struct {
		unsigned char family; /* 4 or 6 */
		unsigned char bits;
		unsigned char addr[16];
	} proxies[CONFIG_PROXIES_MAX];
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK,    /* --help / --version printed: exit 0 */
	CONFIG_USAGE,      /* bad usage: message printed, exit 2 */
};

void config_init(struct config *c);
void config_free(struct config *c);

/* Parse argv; messages go to err. */
enum config_result config_parse_args(struct config *c, int argc, char **argv, FILE *err);

/*
 * Load the YAML file c->config_file (if set) into c. Returns 0, or -1 with a
 * one-line message (file:line: what) written to errbuf.
 */
int config_load_file(struct config *c, char *errbuf, size_t errsz);

/* Same, from a string (for tests). */
int config_load_yaml(struct config *c, const char *yaml, size_t len, const char *name,
		     char *errbuf, size_t errsz);

void config_usage(FILE *out);

#endif /* SONDE_CONFIG_H */
