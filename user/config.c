// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "proto/lines.h"
#include "rules.h"
#include "sonde.h"

#define DEFAULT_LISTEN "127.0.0.1:9464"
#define DEFAULT_MAX_ROUTES 200

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "%s", DEFAULT_LISTEN);
	c->capture_bytes = SONDE_CAPTURE_DEFAULT;
	c->max_routes = DEFAULT_MAX_ROUTES;
	c->trace_sample_rate = 1.0;
	c->trace_store_spans = 20000;
	c->log_level = LOG_INFO;
	c->log_max_size = 100ULL << 20;
	c->log_files = 5;
	c->max_services = 100;
	snprintf(c->kubelet_pods, sizeof(c->kubelet_pods), "/var/lib/kubelet/pods");
	snprintf(c->k8s_token, sizeof(c->k8s_token),
		 "/var/run/secrets/kubernetes.io/serviceaccount/token");
	snprintf(c->k8s_ca, sizeof(c->k8s_ca), "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
}

void config_free(struct config *c)
{
	for (int i = 0; i < c->routes.n; i++)
		free(c->routes.pattern[i]);
	c->routes.n = 0;
	for (int i = 0; i < c->ncaches; i++) {
		free(c->caches[i].name);
		free(c->caches[i].pattern);
	}
	c->ncaches = 0;
}

void config_usage(FILE *out)
{
	fprintf(out,
		"Usage: sonde [options] --pid PID[=NAME] [--pid PID[=NAME] ...]\n"
		"       sonde [options] -- COMMAND [ARGS...]\n"
		"       sonde [options] --all [--match-comm REGEX ...]\n"
		"\n"
		"Observe the HTTP traffic of running processes (and their threads and\n"
		"children) with eBPF and serve Prometheus metrics. Needs root, or\n"
		"CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_PTRACE.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID[=NAME]     observe PID; NAME is its service label\n"
		"                           (default: the process name)\n"
		"      --all                observe every process of the node (or those the\n"
		"                           --match-* options select), as they start and exit\n"
		"      --match-comm REGEX   --all: processes whose name matches (repeatable)\n"
		"      --match-exe REGEX    --all: processes whose executable's path matches\n"
		"      --match-cgroup PATH  --all: processes in this cgroup or below it\n"
		"      --match-port PORT    --all: processes listening on or connecting to PORT\n"
		"      --exclude-comm REGEX --all: never these (wins over --match-*)\n"
		"      --max-services N     distinct service names, past them \"other\" (100)\n"
		"      --k8s-api URL        the Kubernetes API to watch this node's pods on\n"
		"                           (default: in-cluster when a token is mounted; none)\n"
		"      --k8s-labels         k8s_namespace, k8s_pod, k8s_container, k8s_node on\n"
		"                           the call metrics' series\n"
		"  -l, --listen HOST:PORT   serve /metrics, /healthz, /readyz (default %s)\n"
		"  -c, --config FILE        YAML configuration (routes, limits)\n"
		"      --capture-bytes N    payload bytes copied per syscall, 1..%d (default %d)\n"
		"      --zipkin-url URL     send spans to a Zipkin v2 collector\n"
		"                           (e.g. http://127.0.0.1:9411/api/v2/spans)\n"
		"      --zipkin-kafka BROKERS  send spans to Kafka topic \"zipkin\"\n"
		"      --trace-sample-rate R  share of new traces recorded, 0..1 (default 1)\n"
		"      --no-tracing         metrics only: no trace context, no spans\n"
		"      --log-file PATH      JSON log lines (requests served, failed calls) to PATH,\n"
		"                           or to stdout with \"-\"\n"
		"      --log-level LEVEL    ERROR, WARN, INFO (default) or DEBUG\n"
		"      --log-max-size BYTES rotate the log file past this size (default 100M;\n"
		"                           K, M, G suffixes)\n"
		"      --log-files N        rotated log files kept, 1..100 (default 5)\n"
		"      --environment NAME   service.environment of every log line\n"
		"      --capture-app-logs   re-emit what the observed processes write to their\n"
		"                           stdout and stderr as JSON lines with trace ids\n"
		"      --loki-url URL       push the log lines to Loki\n"
		"                           (e.g. http://127.0.0.1:3100/loki/api/v1/push)\n"
		"      --loki-encoding E    protobuf (snappy, as Promtail; default) or json (gzip)\n"
		"      --otlp-url URL       send spans and log lines as OTLP/HTTP JSON to\n"
		"                           URL/v1/traces and URL/v1/logs (e.g. http://127.0.0.1:4318)\n"
		"      --ratelimit-redis URL  share rate-limit counts with other sonde instances\n"
		"                           through Redis (redis://HOST:PORT)\n"
		"      --correlation-redis URL  join Kafka consumers to producers observed by\n"
		"                           other sonde instances, through Redis (redis://HOST:PORT)\n"
		"      --inject-traceparent  write a traceparent header into the targets' outgoing\n"
		"                           HTTP/1.x requests, in the kernel (docs/tracing.md)\n"
		"  -v, --verbose            more logging on stderr (repeatable)\n"
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n",
		DEFAULT_LISTEN, SONDE_CAPTURE_MAX, SONDE_CAPTURE_DEFAULT);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* redis://HOST:PORT (or HOST:PORT) into out (256 bytes) as HOST:PORT; -1 if not that. */
static int redis_url(char *out, const char *s)
{
	const char *hp = s && !strncmp(s, "redis://", 8) ? s + 8 : s, *colon;
	unsigned long port;

	if (!hp || !*hp || strlen(hp) >= 256 || strchr(hp, '/'))
		return -1;
	colon = strrchr(hp, ':');
	if (!colon || colon == hp || parse_uint(colon + 1, 65535, &port) || !port)
		return -1;
	snprintf(out, 256, "%s", hp);
	return 0;
}

static int parse_target(struct config *c, const char *arg)
{
	struct config_target *t;
	const char *eq = strchr(arg, '=');
	char pidbuf[32];
	unsigned long pid;
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	if (c->ntargets >= CONFIG_TARGETS_MAX || n == 0 || n >= sizeof(pidbuf))
		return -1;
	memcpy(pidbuf, arg, n);
	pidbuf[n] = '\0';
	if (parse_uint(pidbuf, INT_MAX, &pid) || pid == 0)
		return -1;
	t = &c->targets[c->ntargets];
	t->pid = (pid_t)pid;
	t->name[0] = '\0';
	if (eq) {
		if (!eq[1] || strlen(eq + 1) >= sizeof(t->name))
			return -1;
		snprintf(t->name, sizeof(t->name), "%s", eq + 1);
	}
	c->ntargets++;
	return 0;
}

enum {
	OPT_CAPTURE = 256,
	OPT_ZIPKIN_URL,
	OPT_ZIPKIN_KAFKA,
	OPT_SAMPLE_RATE,
	OPT_NO_TRACING,
	OPT_LOG_FILE,
	OPT_LOG_LEVEL,
	OPT_LOG_MAX_SIZE,
	OPT_LOG_FILES,
	OPT_ENVIRONMENT,
	OPT_APP_LOGS,
	OPT_LOKI_URL,
	OPT_LOKI_ENCODING,
	OPT_OTLP_URL,
	OPT_RATELIMIT_REDIS,
	OPT_CORRELATION_REDIS,
	OPT_INJECT_TRACEPARENT,
	OPT_ALL,
	OPT_MATCH_COMM,
	OPT_MATCH_EXE,
	OPT_MATCH_CGROUP,
	OPT_EXCLUDE_COMM,
	OPT_MAX_SERVICES,
	OPT_MATCH_PORT,
	OPT_K8S_API,
	OPT_K8S_LABELS,
};

/* One selection rule into c; -1 when there are too many or the pattern is too long. */
static int add_select(struct config *c, int kind, const char *pattern)
{
	unsigned long port;

	if (c->nselect >= CONFIG_SELECT_MAX || !pattern || !*pattern ||
	    strlen(pattern) >= sizeof(c->select[0].pattern) ||
	    (kind == CONFIG_MATCH_CGROUP && pattern[0] != '/') ||
	    (kind == CONFIG_MATCH_PORT && (parse_uint(pattern, 65535, &port) || !port)))
		return -1;
	c->select[c->nselect].kind = kind;
	snprintf(c->select[c->nselect].pattern, sizeof(c->select[0].pattern), "%s", pattern);
	c->nselect++;
	return 0;
}

static bool url_ok(const char *s, size_t max)
{
	return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) && strlen(s) < max;
}

/* BYTES with an optional K, M or G suffix (powers of 1024), at least 4 KiB. */
static int parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = 1ULL << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1ULL << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1ULL << 30, end++;
	if (*end || v > (1ULL << 50) / mul || v * mul < 4096)
		return -1;
	*out = v * mul;
	return 0;
}

/* An environment name: printable ASCII, no quotes or spaces, 1..63 bytes. */
static bool env_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n >= sizeof(((struct config *)0)->environment))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* A rate in [0, 1], all of the string. */
static int parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

enum config_result config_parse_args(struct config *c, int argc, char **argv, FILE *err)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "capture-bytes", required_argument, NULL, OPT_CAPTURE },
		{ "zipkin-url", required_argument, NULL, OPT_ZIPKIN_URL },
		{ "zipkin-kafka", required_argument, NULL, OPT_ZIPKIN_KAFKA },
		{ "trace-sample-rate", required_argument, NULL, OPT_SAMPLE_RATE },
		{ "no-tracing", no_argument, NULL, OPT_NO_TRACING },
		{ "log-file", required_argument, NULL, OPT_LOG_FILE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "log-max-size", required_argument, NULL, OPT_LOG_MAX_SIZE },
		{ "log-files", required_argument, NULL, OPT_LOG_FILES },
		{ "environment", required_argument, NULL, OPT_ENVIRONMENT },
		{ "capture-app-logs", no_argument, NULL, OPT_APP_LOGS },
		{ "loki-url", required_argument, NULL, OPT_LOKI_URL },
		{ "loki-encoding", required_argument, NULL, OPT_LOKI_ENCODING },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "match-comm", required_argument, NULL, OPT_MATCH_COMM },
		{ "match-exe", required_argument, NULL, OPT_MATCH_EXE },
		{ "match-cgroup", required_argument, NULL, OPT_MATCH_CGROUP },
		{ "exclude-comm", required_argument, NULL, OPT_EXCLUDE_COMM },
		{ "max-services", required_argument, NULL, OPT_MAX_SERVICES },
		{ "match-port", required_argument, NULL, OPT_MATCH_PORT },
		{ "k8s-api", required_argument, NULL, OPT_K8S_API },
		{ "k8s-labels", no_argument, NULL, OPT_K8S_LABELS },
		{ "otlp-url", required_argument, NULL, OPT_OTLP_URL },
		{ "ratelimit-redis", required_argument, NULL, OPT_RATELIMIT_REDIS },
		{ "correlation-redis", required_argument, NULL, OPT_CORRELATION_REDIS },
		{ "inject-traceparent", no_argument, NULL, OPT_INJECT_TRACEPARENT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int o;

	opterr = 0;
	optind = 1;
	/* "+": stop at the first non-option, so "--" and COMMAND work as expected. */
	while ((o = getopt_long(argc, argv, "+p:l:c:vhV", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			if (parse_target(c, optarg)) {
				fprintf(err, "sonde: bad --pid '%s' (want PID or PID=NAME)\n", optarg);
				goto usage;
			}
			break;
		case 'l':
			if (!*optarg || strlen(optarg) >= sizeof(c->listen) || !strchr(optarg, ':')) {
				fprintf(err, "sonde: bad --listen '%s' (want HOST:PORT)\n", optarg);
				goto usage;
			}
			snprintf(c->listen, sizeof(c->listen), "%s", optarg);
			c->cli_listen = true;
			break;
		case 'c':
			c->config_file = optarg;
			break;
		case OPT_CAPTURE:
			if (parse_uint(optarg, SONDE_CAPTURE_MAX, &v) || v == 0) {
				fprintf(err, "sonde: bad --capture-bytes '%s' (1..%d)\n", optarg,
					SONDE_CAPTURE_MAX);
				goto usage;
			}
			c->capture_bytes = (unsigned)v;
			c->cli_capture = true;
			break;
		case OPT_ZIPKIN_URL:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
				fprintf(err, "sonde: bad --zipkin-url '%s' (want http://...)\n", optarg);
				goto usage;
			}
			if (strlen(optarg) >= sizeof(c->zipkin_url)) {
				fprintf(err, "sonde: --zipkin-url too long\n");
				goto usage;
			}
			snprintf(c->zipkin_url, sizeof(c->zipkin_url), "%s", optarg);
			c->cli_zipkin_url = true;
			break;
		case OPT_ZIPKIN_KAFKA:
			if (!*optarg || strlen(optarg) >= sizeof(c->zipkin_kafka) ||
			    !strchr(optarg, ':')) {
				fprintf(err, "sonde: bad --zipkin-kafka '%s' (want HOST:PORT[,...])\n",
					optarg);
				goto usage;
			}
			snprintf(c->zipkin_kafka, sizeof(c->zipkin_kafka), "%s", optarg);
			c->cli_zipkin_kafka = true;
			break;
		case OPT_SAMPLE_RATE:
			if (parse_rate(optarg, &c->trace_sample_rate)) {
				fprintf(err, "sonde: bad --trace-sample-rate '%s' (0..1)\n", optarg);
				goto usage;
			}
			c->cli_sample = true;
			break;
		case OPT_NO_TRACING:
			c->no_tracing = true;
			c->cli_tracing = true;
			break;
		case OPT_LOG_FILE:
			if (!*optarg || strlen(optarg) >= sizeof(c->log_file)) {
				fprintf(err, "sonde: bad --log-file '%s'\n", optarg);
				goto usage;
			}
			snprintf(c->log_file, sizeof(c->log_file), "%s", optarg);
			c->cli_log_file = true;
			break;
		case OPT_LOG_LEVEL:
			if ((c->log_level = log_level_parse(optarg)) < 0) {
				fprintf(err, "sonde: bad --log-level '%s' (ERROR, WARN, INFO, DEBUG)\n",
					optarg);
				goto usage;
			}
			c->cli_log_level = true;
			break;
		case OPT_LOG_MAX_SIZE:
			if (parse_size(optarg, &c->log_max_size)) {
				fprintf(err, "sonde: bad --log-max-size '%s' (BYTES[K|M|G], >= 4K)\n",
					optarg);
				goto usage;
			}
			c->cli_log_max_size = true;
			break;
		case OPT_LOG_FILES:
			if (parse_uint(optarg, 100, &v) || v == 0) {
				fprintf(err, "sonde: bad --log-files '%s' (1..100)\n", optarg);
				goto usage;
			}
			c->log_files = (unsigned)v;
			c->cli_log_files = true;
			break;
		case OPT_ENVIRONMENT:
			if (!env_ok(optarg)) {
				fprintf(err, "sonde: bad --environment '%s'\n", optarg);
				goto usage;
			}
			snprintf(c->environment, sizeof(c->environment), "%s", optarg);
			c->cli_environment = true;
			break;
		case OPT_APP_LOGS:
			c->capture_app_logs = true;
			break;
		case OPT_LOKI_URL:
			if (!url_ok(optarg, sizeof(c->loki_url))) {
				fprintf(err, "sonde: bad --loki-url '%s' (want http://.../loki/api/v1/push)\n",
					optarg);
				goto usage;
			}
			snprintf(c->loki_url, sizeof(c->loki_url), "%s", optarg);
			c->cli_loki_url = true;
			break;
		case OPT_LOKI_ENCODING:
			if (strcmp(optarg, "json") && strcmp(optarg, "protobuf")) {
				fprintf(err, "sonde: bad --loki-encoding '%s' (want protobuf or json)\n",
					optarg);
				goto usage;
			}
			c->loki_json = !strcmp(optarg, "json");
			c->cli_loki_encoding = true;
			break;
		case OPT_INJECT_TRACEPARENT:
			c->inject_traceparent = true;
			break;
		case OPT_CORRELATION_REDIS:
			if (redis_url(c->correlation_redis, optarg)) {
				fprintf(err, "sonde: bad --correlation-redis '%s' (want redis://HOST:PORT)\n",
					optarg);
				goto usage;
			}
			break;
		case OPT_RATELIMIT_REDIS:
			if (redis_url(c->ratelimit_redis, optarg)) {
				fprintf(err, "sonde: bad --ratelimit-redis '%s' (want redis://HOST:PORT)\n",
					optarg);
				goto usage;
			}
			c->cli_ratelimit_redis = true;
			break;
		case OPT_OTLP_URL:
			if (!url_ok(optarg, sizeof(c->otlp_url) - 16)) {
				fprintf(err, "sonde: bad --otlp-url '%s' (want http://HOST:4318)\n", optarg);
				goto usage;
			}
			snprintf(c->otlp_url, sizeof(c->otlp_url), "%s", optarg);
			c->cli_otlp_url = true;
			break;
		case OPT_ALL:
			c->all = true;
			break;
		case OPT_MATCH_COMM:
		case OPT_MATCH_EXE:
		case OPT_MATCH_CGROUP:
		case OPT_EXCLUDE_COMM:
		case OPT_MATCH_PORT:
			if (add_select(c, o == OPT_MATCH_PORT ? CONFIG_MATCH_PORT : o - OPT_MATCH_COMM,
				       optarg)) {
				fprintf(err, "sonde: bad or too many --match-*/--exclude-comm: '%s' "
					     "(at most %d; --match-cgroup wants a path, --match-port "
					     "1..65535)\n",
					optarg, CONFIG_SELECT_MAX);
				goto usage;
			}
			c->cli_select = true;
			break;
		case OPT_K8S_API:
			if (strcmp(optarg, "none") && !url_ok(optarg, sizeof(c->k8s_api))) {
				fprintf(err, "sonde: bad --k8s-api '%s' (want https://HOST:PORT or none)\n",
					optarg);
				goto usage;
			}
			snprintf(c->k8s_api, sizeof(c->k8s_api), "%s", optarg);
			c->cli_k8s_api = true;
			break;
		case OPT_K8S_LABELS:
			c->k8s_labels = true;
			break;
		case OPT_MAX_SERVICES: {
			unsigned long n;

			if (parse_uint(optarg, 100000, &n) || n == 0) {
				fprintf(err, "sonde: bad --max-services '%s' (want 1..100000)\n", optarg);
				goto usage;
			}
			c->max_services = (int)n;
			c->cli_max_services = true;
			break;
		}
		case 'v':
			c->verbose++;
			break;
		case 'h':
			config_usage(stdout);
			return CONFIG_EXIT_OK;
		case 'V':
			printf("sonde %s\n", SONDE_VERSION);
			return CONFIG_EXIT_OK;
		default:
			if (optopt)
				fprintf(err, "sonde: bad option '-%c'\n", optopt);
			else
				fprintf(err, "sonde: bad option '%s'\n", argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			fprintf(err, "sonde: unexpected argument '%s' (a command goes after --)\n",
				argv[optind]);
			goto usage;
		}
		c->command = &argv[optind];
	}
	if (!c->ntargets && !c->command && !c->all) {
		fprintf(err, "sonde: nothing to observe: give --pid PID, -- COMMAND or --all\n");
		goto usage;
	}
	if (c->nselect && !c->all) {
		fprintf(err, "sonde: --match-* and --exclude-comm select processes for --all\n");
		goto usage;
	}
	return CONFIG_OK;
usage:
	config_usage(err);
	return CONFIG_USAGE;
}

/* --- YAML ------------------------------------------------------------------ */

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
	(void)d;
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

#define YERR(node, ...)                                                                 \
	do {                                                                            \
		int _l = snprintf(errbuf, errsz, "%s:%zu: ", name,                      \
				  (node) ? (node)->start_mark.line + 1 : 0);            \
		if (_l >= 0 && (size_t)_l < errsz)                                      \
			snprintf(errbuf + _l, errsz - _l, __VA_ARGS__);                 \
		goto out;                                                               \
	} while (0)

/* "60s", "1m", "500ms", "2h": 1 ms .. 24 h, in ns; -1 if not that. */
static long long parse_window(const char *s)
{
	unsigned long long v = 0, unit;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (unsigned)(*p - '0')) > 100000000)
			return -1;
	if (!strcmp(p, "ms"))
		unit = 1000000ULL;
	else if (!strcmp(p, "s"))
		unit = 1000000000ULL;
	else if (!strcmp(p, "m"))
		unit = 60000000000ULL;
	else if (!strcmp(p, "h"))
		unit = 3600000000000ULL;
	else
		return -1;
	v *= unit;
	return v < 1000000ULL || v > 24 * 3600000000000ULL ? -1 : (long long)v;
}

/* "10.0.0.0/8", "::1", "fd00::/8" into proxy i; -1 if not a CIDR. */
static int parse_cidr(struct config *c, int i, const char *s)
{
	char addr[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned long bits;
	size_t n;

	if (!s || (n = slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(c->proxies[i].addr, 0, sizeof(c->proxies[i].addr));
	if (inet_pton(AF_INET, addr, c->proxies[i].addr) == 1)
		c->proxies[i].family = 4;
	else if (inet_pton(AF_INET6, addr, c->proxies[i].addr) == 1)
		c->proxies[i].family = 6;
	else
		return -1;
	bits = c->proxies[i].family == 4 ? 32 : 128;
	if (slash && parse_uint(slash + 1, bits, &bits))
		return -1;
	c->proxies[i].bits = (unsigned char)bits;
	return 0;
}

/* rate_limits: a list of {match, limit, window}. */
static int load_rate_limits(struct config *c, yaml_document_t *d, yaml_node_t *vn,
			    const char *name, char *errbuf, size_t errsz)
{
	int err = -1;

	c->nrate_limits = 0;
	if (vn->type != YAML_SEQUENCE_NODE)
		YERR(vn, "rate_limits: want a list of {match, limit, window}");
	for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
	     it++) {
		yaml_node_t *rn = yaml_document_get_node(d, *it);
		struct config_rate_limit *r = &c->rate_limits[c->nrate_limits];
		char why[256];

		if (c->nrate_limits == CONFIG_RATE_LIMITS_MAX)
			YERR(rn, "rate_limits: at most %d rules", CONFIG_RATE_LIMITS_MAX);
		if (rn->type != YAML_MAPPING_NODE)
			YERR(rn, "rate_limits: each rule is {match: \"POST /path\", limit: N, window: 60s}");
		memset(r, 0, sizeof(*r));
		for (yaml_node_pair_t *pp = rn->data.mapping.pairs.start;
		     pp < rn->data.mapping.pairs.top; pp++) {
			yaml_node_t *kn = yaml_document_get_node(d, pp->key);
			yaml_node_t *v = yaml_document_get_node(d, pp->value);
			const char *key = scalar(d, kn), *val = scalar(d, v);
			unsigned long n;
			long long w;

			if (!key)
				YERR(kn, "rate_limits: keys must be plain strings");
			if (!strcmp(key, "match")) {
				if (!val || strlen(val) >= sizeof(r->match) ||
				    rules_check(val, why, sizeof(why)))
					YERR(v, "%s", val ? why : "rate_limits: match: want \"[METHOD ]/path\"");
				snprintf(r->match, sizeof(r->match), "%s", val);
			} else if (!strcmp(key, "limit")) {
				if (parse_uint(val, RULES_LIMIT_MAX, &n) || n == 0)
					YERR(v, "rate_limits: limit: want 1..%d", RULES_LIMIT_MAX);
				r->limit = (unsigned)n;
			} else if (!strcmp(key, "window")) {
				if ((w = parse_window(val)) < 0)
					YERR(v, "rate_limits: window: want a duration, 1ms..24h (60s, 1m, 500ms)");
				r->window_ns = (unsigned long long)w;
			} else {
				YERR(kn, "rate_limits: unknown setting '%s' (match, limit, window)", key);
			}
		}
		if (!r->match[0] || !r->limit || !r->window_ns)
			YERR(rn, "rate_limits: each rule needs match, limit and window");
		c->nrate_limits++;
	}
	err = 0;
out:
	return err;
}

/* A Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), not one of sonde's own. */
static bool metric_name_ok(const char *s)
{
	if (!s || !*s || isdigit((unsigned char)*s) || !strncmp(s, "sonde_", 6) ||
	    !strncmp(s, "__", 2))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != ':')
			return false;
	return true;
}

/* "2xx" (200..299), "402", "any": into lo..hi. */
static int parse_status(const char *s, int *lo, int *hi)
{
	if (!s)
		return -1;
	if (!strcmp(s, "any")) {
		*lo = 100, *hi = 599;
		return 0;
	}
	if (strlen(s) != 3 || s[0] < '1' || s[0] > '5')
		return -1;
	if (s[1] == 'x' && s[2] == 'x') {
		*lo = (s[0] - '0') * 100, *hi = *lo + 99;
		return 0;
	}
	if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
		return -1;
	*lo = *hi = atoi(s);
	return 0;
}

/* business_metrics: a list of {name, match, status, sum_json_field, from, service}. */
static int load_business(struct config *c, yaml_document_t *d, yaml_node_t *vn, const char *name,
			 char *errbuf, size_t errsz)
{
	int err = -1;

	c->nbusiness = 0;
	if (vn->type != YAML_SEQUENCE_NODE)
		YERR(vn, "business_metrics: want a list of {name, match, status, sum_json_field}");
	for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
	     it++) {
		yaml_node_t *rn = yaml_document_get_node(d, *it);
		struct config_business *b = &c->business[c->nbusiness];
		char why[256];

		if (c->nbusiness == CONFIG_BUSINESS_MAX)
			YERR(rn, "business_metrics: at most %d", CONFIG_BUSINESS_MAX);
		if (rn->type != YAML_MAPPING_NODE)
			YERR(rn, "business_metrics: each is {name: orders_created_total, match: \"POST "
				 "/api/orders\", status: 2xx}");
		memset(b, 0, sizeof(*b));
		b->status_lo = 200, b->status_hi = 299;
		for (yaml_node_pair_t *pp = rn->data.mapping.pairs.start;
		     pp < rn->data.mapping.pairs.top; pp++) {
			yaml_node_t *kn = yaml_document_get_node(d, pp->key);
			yaml_node_t *v = yaml_document_get_node(d, pp->value);
			const char *key = scalar(d, kn), *val = scalar(d, v);

			if (!key)
				YERR(kn, "business_metrics: keys must be plain strings");
			if (!strcmp(key, "name")) {
				if (!metric_name_ok(val) || strlen(val) >= sizeof(b->name))
					YERR(v, "business_metrics: name: want a Prometheus metric name "
						"(not sonde_*), < %zu bytes", sizeof(b->name));
				snprintf(b->name, sizeof(b->name), "%s", val);
			} else if (!strcmp(key, "match")) {
				if (!val || strlen(val) >= sizeof(b->match) ||
				    rules_check(val, why, sizeof(why)))
					YERR(v, "%s", val ? why : "business_metrics: match: want \"[METHOD ]/path\"");
				snprintf(b->match, sizeof(b->match), "%s", val);
			} else if (!strcmp(key, "status")) {
				if (parse_status(val, &b->status_lo, &b->status_hi))
					YERR(v, "business_metrics: status: want 2xx, 4xx, 402, ... or any");
			} else if (!strcmp(key, "sum_json_field")) {
				if (!val || !*val || strlen(val) >= sizeof(b->sum_field) || val[0] == '.' ||
				    val[strlen(val) - 1] == '.' || strstr(val, ".."))
					YERR(v, "business_metrics: sum_json_field: want a field name, or "
						"a path of them with dots (order.total)");
				snprintf(b->sum_field, sizeof(b->sum_field), "%s", val);
			} else if (!strcmp(key, "from")) {
				if (!val || (strcmp(val, "request") && strcmp(val, "response")))
					YERR(v, "business_metrics: from: want request or response");
				b->from_response = !strcmp(val, "response");
			} else if (!strcmp(key, "service")) {
				if (!val || !*val || strlen(val) >= sizeof(b->service))
					YERR(v, "business_metrics: service: want a service name");
				snprintf(b->service, sizeof(b->service), "%s", val);
			} else {
				YERR(kn, "business_metrics: unknown setting '%s' (name, match, status, "
					 "sum_json_field, from, service)", key);
			}
		}
		if (!b->name[0] || !b->match[0])
			YERR(rn, "business_metrics: each needs a name and a match");
		for (int i = 0; i < c->nbusiness; i++)
			if (!strcmp(c->business[i].name, b->name) &&
			    !!c->business[i].sum_field[0] != !!b->sum_field[0])
				YERR(rn, "business_metrics: %s both counts and sums", b->name);
		c->nbusiness++;
	}
	err = 0;
out:
	return err;
}

/* discovery.names: a list of {name, match_comm, match_exe, match_cgroup}. */
static int discovery_names(struct config *c, yaml_document_t *d, yaml_node_t *vn,
			   const char *name, char *errbuf, size_t errsz)
{
	int err = -1;

	c->nnames = 0;
	if (vn->type != YAML_SEQUENCE_NODE)
		YERR(vn, "discovery.names: want a list of {name, match_comm, match_exe, match_cgroup}");
	for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
	     it++) {
		yaml_node_t *nn = yaml_document_get_node(d, *it);
		struct config_name *e = &c->names[c->nnames];
		regex_t re;

		if (c->nnames == CONFIG_NAMES_MAX)
			YERR(nn, "discovery.names: at most %d", CONFIG_NAMES_MAX);
		if (nn->type != YAML_MAPPING_NODE)
			YERR(nn, "discovery.names: each is {name: NAME, match_comm: REGEX, ...}");
		memset(e, 0, sizeof(*e));
		for (yaml_node_pair_t *pp = nn->data.mapping.pairs.start;
		     pp < nn->data.mapping.pairs.top; pp++) {
			yaml_node_t *kn = yaml_document_get_node(d, pp->key);
			yaml_node_t *v = yaml_document_get_node(d, pp->value);
			const char *key = scalar(d, kn), *val = scalar(d, v);
			char *dst = !key ? NULL
				    : !strcmp(key, "name")	  ? e->name
				    : !strcmp(key, "match_comm")   ? e->comm
				    : !strcmp(key, "match_exe")    ? e->exe
				    : !strcmp(key, "match_cgroup") ? e->cgroup
								   : NULL;
			size_t max = dst == e->name ? sizeof(e->name) : sizeof(e->comm);

			if (!dst)
				YERR(kn, "discovery.names: unknown key (name, match_comm, match_exe, "
					 "match_cgroup)");
			if (!val || !*val || strlen(val) >= max)
				YERR(v, "discovery.names: %s: want a string of 1..%zu bytes", key, max - 1);
			if (dst == e->comm || dst == e->exe) {
				if (regcomp(&re, val, REG_EXTENDED | REG_NOSUB))
					YERR(v, "discovery.names: %s: bad regular expression", key);
				regfree(&re);
			}
			if (dst == e->cgroup && val[0] != '/')
				YERR(v, "discovery.names: match_cgroup: want a path");
			snprintf(dst, max, "%s", val);
		}
		if (!e->name[0] || !(e->comm[0] || e->exe[0] || e->cgroup[0]))
			YERR(nn, "discovery.names: each needs a name and match_comm, match_exe or "
				 "match_cgroup");
		c->nnames++;
	}
	err = 0;
out:
	return err;
}

int config_load_yaml(struct config *c, const char *yaml, size_t len, const char *name,
		     char *errbuf, size_t errsz)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *root;
	unsigned long v;
	int err = -1;

	if (!yaml_parser_initialize(&p)) {
		snprintf(errbuf, errsz, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(errbuf, errsz, "%s:%zu: %s", name, p.problem_mark.line + 1,
			 p.problem ? p.problem : "YAML error");
		yaml_parser_delete(&p);
		return -1;
	}
	root = yaml_document_get_root_node(&d);
	if (!root) { /* empty file */
		err = 0;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE)
		YERR(root, "the top level must be a mapping");
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(&d, pr->key);
		yaml_node_t *vn = yaml_document_get_node(&d, pr->value);
		const char *k = scalar(&d, kn), *s = scalar(&d, vn);

		if (!k)
			YERR(kn, "keys must be plain strings");
		if (!strcmp(k, "listen")) {
			if (!s || !strchr(s, ':') || strlen(s) >= sizeof(c->listen))
				YERR(vn, "listen: want HOST:PORT");
			if (!c->cli_listen)
				snprintf(c->listen, sizeof(c->listen), "%s", s);
		} else if (!strcmp(k, "capture_bytes")) {
			if (parse_uint(s, SONDE_CAPTURE_MAX, &v) || v == 0)
				YERR(vn, "capture_bytes: want 1..%d", SONDE_CAPTURE_MAX);
			if (!c->cli_capture)
				c->capture_bytes = (unsigned)v;
		} else if (!strcmp(k, "max_routes_per_service")) {
			if (parse_uint(s, 100000, &v) || v == 0)
				YERR(vn, "max_routes_per_service: want 1..100000");
			c->max_routes = (int)v;
		} else if (!strcmp(k, "routes")) {
			if (vn->type != YAML_SEQUENCE_NODE)
				YERR(vn, "routes: want a list of path patterns");
			for (yaml_node_item_t *it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top; it++) {
				yaml_node_t *in = yaml_document_get_node(&d, *it);
				const char *pat = scalar(&d, in);

				if (!pat || pat[0] != '/' || strlen(pat) >= ROUTE_MAX)
					YERR(in, "routes: each pattern is a path starting with /");
				if (c->routes.n >= ROUTE_PATTERNS_MAX)
					YERR(in, "routes: at most %d patterns", ROUTE_PATTERNS_MAX);
				c->routes.pattern[c->routes.n] = strdup(pat);
				if (!c->routes.pattern[c->routes.n])
					YERR(in, "out of memory");
				c->routes.n++;
			}
		} else if (!strcmp(k, "caches")) {
			if (vn->type != YAML_MAPPING_NODE)
				YERR(vn, "caches: want a mapping of cache name to key pattern");
			for (yaml_node_pair_t *cp = vn->data.mapping.pairs.start;
			     cp < vn->data.mapping.pairs.top; cp++) {
				yaml_node_t *cn = yaml_document_get_node(&d, cp->key);
				yaml_node_t *pn = yaml_document_get_node(&d, cp->value);
				const char *cname = scalar(&d, cn), *pat = scalar(&d, pn);
				int i = c->ncaches;

				if (!cname || !*cname || strlen(cname) > 64 || !pat || !*pat)
					YERR(cn, "caches: each entry is NAME: \"key-pattern*\"");
				if (i >= CONFIG_CACHES_MAX)
					YERR(cn, "caches: at most %d", CONFIG_CACHES_MAX);
				c->caches[i].name = strdup(cname);
				c->caches[i].pattern = strdup(pat);
				c->ncaches++;
				if (!c->caches[i].name || !c->caches[i].pattern)
					YERR(cn, "out of memory");
			}
		} else if (!strcmp(k, "rate_limits")) {
			if (load_rate_limits(c, &d, vn, name, errbuf, errsz))
				goto out;
		} else if (!strcmp(k, "business_metrics")) {
			if (load_business(c, &d, vn, name, errbuf, errsz))
				goto out;
		} else if (!strcmp(k, "ratelimit_redis")) {
			char keep[sizeof(c->ratelimit_redis)];

			snprintf(keep, sizeof(keep), "%s", c->ratelimit_redis);
			if (redis_url(c->ratelimit_redis, scalar(&d, vn)))
				YERR(vn, "ratelimit_redis: want redis://HOST:PORT");
			if (c->cli_ratelimit_redis)
				snprintf(c->ratelimit_redis, sizeof(c->ratelimit_redis), "%s", keep);
		} else if (!strcmp(k, "trusted_proxies")) {
			c->nproxies = 0;
			if (vn->type != YAML_SEQUENCE_NODE)
				YERR(vn, "trusted_proxies: want a list of addresses or CIDRs");
			for (yaml_node_item_t *it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top; it++) {
				yaml_node_t *in = yaml_document_get_node(&d, *it);

				if (c->nproxies == CONFIG_PROXIES_MAX)
					YERR(in, "trusted_proxies: at most %d", CONFIG_PROXIES_MAX);
				if (parse_cidr(c, c->nproxies, scalar(&d, in)))
					YERR(in, "trusted_proxies: want an address or a CIDR "
						 "(10.0.0.0/8, fd00::/8)");
				c->nproxies++;
			}
		} else if (!strcmp(k, "environment")) {
			const char *val = scalar(&d, vn);

			if (!env_ok(val))
				YERR(vn, "environment: want a name (no spaces or quotes, < 64 bytes)");
			if (!c->cli_environment)
				snprintf(c->environment, sizeof(c->environment), "%s", val);
		} else if (!strcmp(k, "otlp_url")) {
			const char *val = scalar(&d, vn);

			if (!url_ok(val, sizeof(c->otlp_url) - 16))
				YERR(vn, "otlp_url: want http://HOST:4318");
			if (!c->cli_otlp_url)
				snprintf(c->otlp_url, sizeof(c->otlp_url), "%s", val);
		} else if (!strcmp(k, "discovery")) {
			static const char *const keys[] = { "match_comm", "match_exe", "match_cgroup",
							    "exclude_comm", "match_port" };

			if (vn->type != YAML_MAPPING_NODE)
				YERR(vn, "discovery: want a mapping (match_comm, match_exe, "
					 "match_cgroup, exclude_comm, match_port, max_services, names, "
					 "kubelet_pods, kubernetes_api, kubernetes_token, kubernetes_ca, "
					 "k8s_labels)");
			for (yaml_node_pair_t *dp = vn->data.mapping.pairs.start;
			     dp < vn->data.mapping.pairs.top; dp++) {
				yaml_node_t *dk = yaml_document_get_node(&d, dp->key);
				yaml_node_t *dv = yaml_document_get_node(&d, dp->value);
				const char *key = scalar(&d, dk);
				unsigned long n;
				int kind = -1;

				for (int i = 0; key && i < 5; i++)
					if (!strcmp(key, keys[i]))
						kind = i;
				if (key && !strcmp(key, "names")) {
					if (discovery_names(c, &d, dv, name, errbuf, errsz))
						goto out;
					continue;
				}
				if (key && (!strcmp(key, "kubernetes_api") ||
					    !strcmp(key, "kubernetes_token") ||
					    !strcmp(key, "kubernetes_ca"))) {
					const char *v = scalar(&d, dv);
					bool api = key[11] == 'a';
					char *dst = api ? c->k8s_api : key[11] == 't' ? c->k8s_token : c->k8s_ca;

					if (api ? !v || (strcmp(v, "none") && !url_ok(v, sizeof(c->k8s_api)))
						: !v || v[0] != '/' || strlen(v) >= sizeof(c->k8s_token))
						YERR(dv, "discovery.%s: want %s", key,
						     api ? "https://HOST:PORT or none" : "an absolute path");
					if (!api || !c->cli_k8s_api)
						snprintf(dst, sizeof(c->k8s_api), "%s", v);
					continue;
				}
				if (key && !strcmp(key, "k8s_labels")) {
					const char *v = scalar(&d, dv);

					if (!v || (strcmp(v, "true") && strcmp(v, "false")))
						YERR(dv, "discovery.k8s_labels: want true or false");
					c->k8s_labels = c->k8s_labels || !strcmp(v, "true");
					continue;
				}
				if (key && !strcmp(key, "kubelet_pods")) {
					const char *v = scalar(&d, dv);

					if (!v || v[0] != '/' || strlen(v) >= sizeof(c->kubelet_pods))
						YERR(dv, "discovery.kubelet_pods: want an absolute path");
					snprintf(c->kubelet_pods, sizeof(c->kubelet_pods), "%s", v);
					continue;
				}
				if (key && !strcmp(key, "max_services")) {
					if (parse_uint(scalar(&d, dv), 100000, &n) || n == 0)
						YERR(dv, "discovery.max_services: want 1..100000");
					if (!c->cli_max_services)
						c->max_services = (int)n;
					continue;
				}
				if (kind < 0)
					YERR(dk, "discovery: unknown key (match_comm, match_exe, "
						 "match_cgroup, exclude_comm, match_port, max_services, "
						 "names, kubelet_pods, kubernetes_api, kubernetes_token, "
						 "kubernetes_ca, k8s_labels)");
				if (dv->type != YAML_SEQUENCE_NODE)
					YERR(dv, "discovery.%s: want a list", key);
				for (yaml_node_item_t *it = dv->data.sequence.items.start;
				     it < dv->data.sequence.items.top; it++) {
					yaml_node_t *in = yaml_document_get_node(&d, *it);

					if (c->cli_select)
						continue; /* the command line's rules win */
					if (add_select(c, kind, scalar(&d, in)))
						YERR(in, "discovery.%s: a pattern%s, at most %d rules in all",
						     key, kind == CONFIG_MATCH_CGROUP ? " (a path)"
							  : kind == CONFIG_MATCH_PORT ? " (a port)" : "",
						     CONFIG_SELECT_MAX);
				}
			}
		} else if (!strcmp(k, "logs")) {
			if (vn->type != YAML_MAPPING_NODE)
				YERR(vn, "logs: want a mapping (file, level, max_size, files, "
					 "capture_app_logs, loki_url, loki_encoding)");
			for (yaml_node_pair_t *lp = vn->data.mapping.pairs.start;
			     lp < vn->data.mapping.pairs.top; lp++) {
				yaml_node_t *lk = yaml_document_get_node(&d, lp->key);
				yaml_node_t *lv = yaml_document_get_node(&d, lp->value);
				const char *key = scalar(&d, lk), *val = scalar(&d, lv);
				unsigned long long size;
				unsigned long n;
				int level;

				if (!key)
					YERR(lk, "logs: keys must be plain strings");
				if (!strcmp(key, "file")) {
					if (!val || !*val || strlen(val) >= sizeof(c->log_file))
						YERR(lv, "logs.file: want a path, or \"-\" for stdout");
					if (!c->cli_log_file)
						snprintf(c->log_file, sizeof(c->log_file), "%s", val);
				} else if (!strcmp(key, "level")) {
					if (!val || (level = log_level_parse(val)) < 0)
						YERR(lv, "logs.level: want ERROR, WARN, INFO or DEBUG");
					if (!c->cli_log_level)
						c->log_level = level;
				} else if (!strcmp(key, "max_size")) {
					if (parse_size(val, &size))
						YERR(lv, "logs.max_size: want BYTES[K|M|G], at least 4K");
					if (!c->cli_log_max_size)
						c->log_max_size = size;
				} else if (!strcmp(key, "loki_url")) {
					if (!url_ok(val, sizeof(c->loki_url)))
						YERR(lv, "logs.loki_url: want http://...");
					if (!c->cli_loki_url)
						snprintf(c->loki_url, sizeof(c->loki_url), "%s", val);
				} else if (!strcmp(key, "loki_encoding")) {
					if (!val || (strcmp(val, "json") && strcmp(val, "protobuf")))
						YERR(lv, "logs.loki_encoding: want protobuf or json");
					if (!c->cli_loki_encoding)
						c->loki_json = !strcmp(val, "json");
				} else if (!strcmp(key, "capture_app_logs")) {
					if (!val || (strcmp(val, "true") && strcmp(val, "false")))
						YERR(lv, "logs.capture_app_logs: want true or false");
					if (!strcmp(val, "true"))
						c->capture_app_logs = true;
				} else if (!strcmp(key, "files")) {
					if (parse_uint(val, 100, &n) || n == 0)
						YERR(lv, "logs.files: want 1..100");
					if (!c->cli_log_files)
						c->log_files = (unsigned)n;
				} else {
					YERR(lk, "unknown setting 'logs.%s'", key);
				}
			}
		} else if (!strcmp(k, "tracing")) {
			if (vn->type != YAML_MAPPING_NODE)
				YERR(vn, "tracing: want a mapping (enabled, sample_rate, zipkin_url, "
					 "zipkin_kafka, inject_traceparent)");
			for (yaml_node_pair_t *tp = vn->data.mapping.pairs.start;
			     tp < vn->data.mapping.pairs.top; tp++) {
				yaml_node_t *tk = yaml_document_get_node(&d, tp->key);
				yaml_node_t *tv = yaml_document_get_node(&d, tp->value);
				const char *key = scalar(&d, tk), *val = scalar(&d, tv);
				double rate;

				if (!key)
					YERR(tk, "tracing: keys must be plain strings");
				if (!strcmp(key, "enabled")) {
					if (!val || (strcmp(val, "true") && strcmp(val, "false")))
						YERR(tv, "tracing.enabled: want true or false");
					if (!c->cli_tracing)
						c->no_tracing = !strcmp(val, "false");
				} else if (!strcmp(key, "sample_rate")) {
					if (!val || parse_rate(val, &rate))
						YERR(tv, "tracing.sample_rate: want 0..1");
					if (!c->cli_sample)
						c->trace_sample_rate = rate;
				} else if (!strcmp(key, "zipkin_url")) {
					if (!url_ok(val, sizeof(c->zipkin_url)))
						YERR(tv, "tracing.zipkin_url: want http://...");
					if (!c->cli_zipkin_url)
						snprintf(c->zipkin_url, sizeof(c->zipkin_url), "%s", val);
				} else if (!strcmp(key, "inject_traceparent")) {
					if (!val || (strcmp(val, "true") && strcmp(val, "false")))
						YERR(tv, "tracing.inject_traceparent: want true or false");
					if (!strcmp(val, "true"))
						c->inject_traceparent = true;
				} else if (!strcmp(key, "zipkin_kafka")) {
					if (!val || !strchr(val, ':') || strlen(val) >= sizeof(c->zipkin_kafka))
						YERR(tv, "tracing.zipkin_kafka: want HOST:PORT[,...]");
					if (!c->cli_zipkin_kafka)
						snprintf(c->zipkin_kafka, sizeof(c->zipkin_kafka), "%s", val);
				} else {
					YERR(tk, "unknown setting 'tracing.%s'", key);
				}
			}
		} else {
			YERR(kn, "unknown setting '%s'", k);
		}
	}
	err = 0;
out:
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	return err;
}

int config_load_file(struct config *c, char *errbuf, size_t errsz)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err;

	if (!c->config_file)
		return 0;
	f = fopen(c->config_file, "r");
	if (!f) {
		snprintf(errbuf, errsz, "%s: %s", c->config_file, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			if (cap > (1 << 24) || !(nb = realloc(buf, cap))) {
				snprintf(errbuf, errsz, "%s: too large", c->config_file);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	err = config_load_yaml(c, buf ? buf : "", len, c->config_file, errbuf, errsz);
	free(buf);
	return err;
}
