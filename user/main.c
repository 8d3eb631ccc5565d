// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sonde: observe running processes with eBPF, serve what they do as metrics.
 *
 * main thread: per-CPU rings -> agent (connections, parsers, exchanges -> sinks:
 *              metrics, spans -> recent-trace store and exporter queues)
 * httpd thread: /metrics, /healthz, /readyz, /api/traces
 * exporter threads: one per span exporter (Zipkin over HTTP)
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "discover.h"
#include "k8s.h"
#include "k8s_api.h"
#include "sinks/dependency_sink.h"
#include "export/httpd.h"
#include "export/log_file.h"
#include "export/log_http.h"
#include "export/otlp.h"
#include "export/metrics.h"
#include "export/zipkin_http.h"
#include "export/zipkin_kafka.h"
#include "inject.h"
#include "loader.h"
#include "tls.h"
#include "correlation.h"
#include "ratelimit.h"
#include "sinks/log_sink.h"
#include "sinks/span_sink.h"
#include "trace.h"
#include "trace_store.h"
#include "traces_cli.h"

#define POLL_MS 10                 /* ring drain period */
/*
 * Under load, drain more often: a drain costs about 1 us per record, and a
 * 10 ms batch at 90k records/s holds a CPU for about 1 ms, which a CPU-bound
 * service sharing that CPU sees in its tail latency. After a drain of more
 * than POLL_BUSY_RECORDS, the next comes after POLL_BUSY_MS.
 */
#define POLL_BUSY_MS 2
#define POLL_BUSY_RECORDS 200
#define SWEEP_NS 1000000000ULL     /* targets and idle connections, once a second */
#define IDLE_NS (600ULL * 1000000000ULL) /* a connection silent this long is forgotten */
#define HEALTHY_NS (5ULL * 1000000000ULL)

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t hup_signal; /* SIGHUP: the rate-limit rules are read again */

struct sonde {
	struct config cfg;
	struct metrics *m;
	struct agent *agent;
	struct loader *loader;
	struct httpd *httpd;
	struct span_sink *spans;   /* NULL: --no-tracing */
	struct trace_store *store; /* recent traces for /api/traces */
	struct zipkin_http *zipkin; /* NULL: no --zipkin-url */
	struct zipkin_kafka *zkafka; /* NULL: no --zipkin-kafka */
	struct zipkin_http *otlp;  /* NULL: no --otlp-url (spans to URL/v1/traces) */
	struct log_http *otlp_logs; /* log lines to URL/v1/logs */
	struct log_sink *logs;     /* NULL: no --log-file */
	struct log_file *log_file;
	struct log_http *loki;         /* NULL: no --loki-url */
	struct ratelimit *rl;      /* NULL: no rate_limits: */
	struct inject *inj; /* --inject-traceparent, else NULL */
	struct tls_libs *tls; /* TLS libraries probed (tls.h) */
	struct correlation *corr;  /* NULL: no --correlation-redis */
	struct metric_family *corr_links; /* sonde_trace_correlation_total */
	pid_t child;               /* -- COMMAND, or 0 */
	struct discover *disc;     /* --all, else NULL */
	struct k8s_slot *k8s;      /* pods of the observed processes, by tgid (K8S_SLOTS) */
	struct k8s_api *k8s_api;   /* the API server's pods of this node, else NULL */
	struct dependency_sink *deps; /* /api/dependencies, sonde_dependency_up */
	struct metric_family *discovered, *svc_overflow; /* --all */
	_Atomic uint64_t heartbeat; /* monotonic ns of the last loop turn */
	_Atomic int live_targets;

	struct metric_family *build_info, *events, *lost, *walked, *heads, *targets, *cpu, *rss;
	struct metric_family *tls_nofd;
	struct metric_family *spans_exported, *spans_dropped; /* while tracing */
	struct metric_family *log_lines, *log_dropped, *log_exported; /* while logging */
};

/* The log file being written, for SIGHUP (logrotate): reopened before the next write. */
static struct log_file *volatile hup_log_file;

static void on_hup(int sig)
{
	(void)sig;
	if (hup_log_file)
		log_file__reopen(hup_log_file);
	hup_signal = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void discovered(struct sonde *s, pid_t pid);
static void port_seen(struct sonde *s, pid_t pid, uint32_t port);

/*
 * The pod of each observed process, for spans and log lines: read once per
 * process from /proc and the kubelet's directories (user/k8s.h), kept by
 * tgid in a direct-mapped table, forgotten when the process ends.
 */
#define K8S_SLOTS 1024
struct k8s_slot {
	uint32_t tgid;
	bool known; /* read; m.pod[0] == 0: not in a pod */
	struct k8s_meta m;
};

/*
 * The pod of a process, from its cgroup's pod UID and container ID
 * (docs/kubernetes.md): the API server's view when it has the pod, else the
 * kubelet's directory of it, else the HOSTNAME its container was given (the
 * pod's name, its namespace unknown). The workload (the service name) into
 * workload. 0 when the process is in a pod whose name is known.
 */
static int pod_of(struct sonde *s, pid_t pid, const struct proc_info *p, struct k8s_pod *pod,
		  char *workload, size_t wsz)
{
	struct k8s_ids ids;
	struct k8s_pod disk;

	if (k8s_cgroup_ids(p->cgroup, &ids))
		return -1;
	if (s->k8s_api &&
	    !k8s_api__pod(s->k8s_api, ids.pod_uid, ids.container_id, pod, workload, wsz)) {
		if (!pod->container[0] && !k8s_pod_read(s->cfg.kubelet_pods, ids.pod_uid, &disk))
			snprintf(pod->container, sizeof(pod->container), "%s", disk.container);
		return 0;
	}
	if (k8s_pod_read(s->cfg.kubelet_pods, ids.pod_uid, pod) &&
	    k8s_environ_hostname(pid, pod->name, sizeof(pod->name)))
		return -1;
	k8s_workload(pod->name, workload, wsz);
	return 0;
}

static const struct k8s_meta *k8s_hook(void *ctx, uint32_t tgid)
{
	struct sonde *s = ctx;
	struct k8s_slot *e = &s->k8s[tgid % K8S_SLOTS];
	struct proc_info p;
	struct k8s_pod pod;
	char workload[254];
	const char *node = getenv("NODE_NAME");

	if (e->tgid != tgid || !e->known) {
		memset(e, 0, sizeof(*e));
		e->tgid = tgid;
		e->known = true;
		if (!proc_info_read((pid_t)tgid, &p) &&
		    !pod_of(s, (pid_t)tgid, &p, &pod, workload, sizeof(workload))) {
			snprintf(e->m.namespace_, sizeof(e->m.namespace_), "%s", pod.namespace_);
			snprintf(e->m.pod, sizeof(e->m.pod), "%s", pod.name);
			snprintf(e->m.container, sizeof(e->m.container), "%s", pod.container);
			snprintf(e->m.node, sizeof(e->m.node), "%s", node ? node : "");
		}
	}
	return e->m.pod[0] ? &e->m : NULL;
}

static void k8s_forget(struct sonde *s, uint32_t tgid)
{
	if (s->k8s && s->k8s[tgid % K8S_SLOTS].tgid == tgid)
		s->k8s[tgid % K8S_SLOTS].known = false;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct sonde *s = ctx;
	const struct sonde_event *e = data;

	if (size >= sizeof(*e) && e->type == SONDE_EV_EXEC) {
		discovered(s, (pid_t)e->tgid);
		return 0;
	}
	if (size >= sizeof(*e) && e->type == SONDE_EV_PORT) {
		port_seen(s, (pid_t)e->tgid, e->service);
		return 0;
	}
	if (size >= sizeof(*e) && e->type == SONDE_EV_MMAP) {
		tls_libs__mapped(s->tls, (pid_t)e->tgid);
		return 0;
	}
	if (size >= sizeof(*e) && e->type == SONDE_EV_EXIT) {
		/* The kernel unmarked it; its last records came before this one. */
		agent__drop_tgid(s->agent, e->tgid);
		k8s_forget(s, e->tgid);
		return 0;
	}
	agent__handle(s->agent, data, size);
	return 0;
}

static bool healthy(void *ctx)
{
	struct sonde *s = ctx;

	return now_ns() - atomic_load(&s->heartbeat) < HEALTHY_NS;
}

static bool ready(void *ctx, char *reason, size_t reasonsz)
{
	struct sonde *s = ctx;
	int total, n = loader__attached(s->loader, &total);

	if (n < total) {
		snprintf(reason, reasonsz, "%d of %d programs attached", n, total);
		return false;
	}
	if (!s->cfg.all && atomic_load(&s->live_targets) == 0) {
		/* --all: a node where nothing matches yet is ready all the same */
		snprintf(reason, reasonsz, "no observed process is alive");
		return false;
	}
	return true;
}

/* A log exporter's counts, as exporter (or output) NAME. */
static void log_http_metrics(struct sonde *s, struct log_http *lh, const char *name)
{
	struct log_http_stats st;
	const char *e[] = { name };
	const char *full[] = { name, "queue_full" }, *send[] = { name, "send_failed" },
		   *stop[] = { name, "stopped" };

	if (!lh)
		return;
	log_http__stats(lh, &st);
	metric__set(s->log_exported, e, (double)st.exported);
	metric__set(s->log_dropped, full, (double)st.dropped_full);
	metric__set(s->log_dropped, send, (double)st.dropped_send);
	metric__set(s->log_dropped, stop, (double)st.dropped_stop);
}

/* Self metrics, refreshed at each scrape (runs on the httpd thread). */
static void collect(void *ctx)
{
	struct sonde *s = ctx;
	uint64_t st[SONDE_STAT__MAX];
	unsigned long utime = 0, stime = 0;
	long rss_pages = 0;
	char buf[1024], *p;
	FILE *f;

	loader__stats(s->loader, st);
	metric__set(s->events, NULL, (double)st[SONDE_STAT_EVENTS]);
	metric__set(s->lost, NULL, (double)st[SONDE_STAT_LOST]);
	metric__set(s->walked, NULL, (double)st[SONDE_STAT_WALKED]);
	metric__set(s->heads, NULL, (double)st[SONDE_STAT_HEADS]);
	metric__set(s->tls_nofd, NULL, (double)st[SONDE_STAT_TLS_NOFD]);
	metric__set(s->targets, NULL, atomic_load(&s->live_targets));
	f = fopen("/proc/self/stat", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) == 2)
			metric__set(s->cpu, NULL, (double)(utime + stime) / sysconf(_SC_CLK_TCK));
		fclose(f);
	}
	if (s->corr_links) {
		uint64_t joined, unjoined;
		const char *j[] = { "joined" }, *u[] = { "not_found" };

		span_sink__correlation(s->spans, &joined, &unjoined);
		metric__set(s->corr_links, j, (double)joined);
		metric__set(s->corr_links, u, (double)unjoined);
	}
	if (s->spans_exported) {
		struct span_queue_stats q[3] = { { 0 } };
		const char *names[3] = { "zipkin_http", "zipkin_kafka", "otlp" };
		const bool on[3] = { s->zipkin != NULL, s->zkafka != NULL, s->otlp != NULL };

		if (s->zipkin)
			zipkin_http__stats(s->zipkin, &q[0]);
		if (s->zkafka)
			zipkin_kafka__stats(s->zkafka, &q[1]);
		if (s->otlp)
			zipkin_http__stats(s->otlp, &q[2]);
		for (int i = 0; i < 3; i++) {
			const char *e[] = { names[i] };
			const char *full[] = { names[i], "queue_full" },
				   *failed[] = { names[i], "send_failed" },
				   *stopped[] = { names[i], "stopped" };

			if (!on[i])
				continue;
			metric__set(s->spans_exported, e, (double)q[i].exported);
			metric__set(s->spans_dropped, full, (double)q[i].dropped_queue_full);
			metric__set(s->spans_dropped, failed, (double)q[i].dropped_send_failed);
			metric__set(s->spans_dropped, stopped, (double)q[i].dropped_stopped);
		}
	}
	if (s->logs) {
		struct log_file_stats ls = { 0 };
		struct log_sink_counts lc;
		const char *access[] = { "access" }, *app[] = { "app" };
		const char *full[] = { "file", "queue_full" }, *failed[] = { "file", "write_failed" },
			   *lost[] = { "capture", "not_captured" };

		log_sink__counts(s->logs, &lc);
		metric__set(s->log_lines, access, (double)lc.access);
		if (s->log_file) {
			log_file__stats(s->log_file, &ls);
			metric__set(s->log_dropped, full, (double)ls.dropped_full);
			metric__set(s->log_dropped, failed, (double)ls.dropped_write);
		}
		if (s->cfg.capture_app_logs) {
			metric__set(s->log_lines, app, (double)lc.app);
			metric__set(s->log_dropped, lost, (double)lc.app_lost);
		}
		log_http_metrics(s, s->otlp_logs, "otlp");
		log_http_metrics(s, s->loki, "loki");
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*d %ld", &rss_pages) == 1)
			metric__set(s->rss, NULL, (double)rss_pages * sysconf(_SC_PAGESIZE));
		fclose(f);
	}
}

static int register_self_metrics(struct sonde *s)
{
	static const char *const version_label[] = { "version" };
	static const char *const version[] = { SONDE_VERSION };

	s->build_info = metrics__gauge(s->m, "sonde_build_info", "sonde's version",
				       version_label, 1);
	s->events = metrics__counter(s->m, "sonde_events_total",
				     "Records the BPF programs wrote to the per-CPU rings", NULL, 0);
	s->lost = metrics__counter(s->m, "sonde_events_lost_total",
				   "Records dropped in the kernel because the CPU's ring was full",
				   NULL, 0);
	s->walked = metrics__counter(s->m, "sonde_events_walked_total",
				     "Records of syscalls larger than the capture, copied message by "
				     "message (each message's head, its body skipped)",
				     NULL, 0);
	s->heads = metrics__counter(s->m, "sonde_events_long_heads_total",
				    "HTTP requests whose head went on past the capture, copied again "
				    "up to 4096 bytes",
				    NULL, 0);
	s->tls_nofd = metrics__counter(s->m, "sonde_tls_no_socket_total",
				       "TLS library calls whose socket sonde could not tell: their "
				       "plaintext dropped",
				       NULL, 0);
	s->targets = metrics__gauge(s->m, "sonde_targets", "Processes observed now", NULL, 0);
	s->cpu = metrics__counter(s->m, "process_cpu_seconds_total",
				  "User and system CPU time spent by sonde", NULL, 0);
	s->rss = metrics__gauge(s->m, "process_resident_memory_bytes",
				"Resident memory of sonde", NULL, 0);
	if (!s->build_info || !s->events || !s->lost || !s->walked || !s->targets || !s->cpu ||
	    !s->rss || !s->tls_nofd)
		return -1;
	metric__set(s->build_info, version, 1);
	return metrics__add_collector(s->m, collect, s);
}

/* URL/v1/WHAT, as OTEL_EXPORTER_OTLP_ENDPOINT is joined to its signal paths. */
static void otlp_endpoint(char *out, size_t outsz, const char *base, const char *what)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	snprintf(out, outsz, "%.*s/v1/%s", (int)n, base, what);
}

/* Spans: the tracer, the span sink, and where spans go. */
static int start_tracing(struct sonde *s)
{
	static const char *const exporter[] = { "exporter" };
	static const char *const reason[] = { "exporter", "reason" };

	if (s->cfg.no_tracing)
		return 0;
	s->spans_exported = metrics__counter(s->m, "sonde_spans_exported_total",
					     "Spans the exporter's receiver accepted", exporter, 1);
	s->spans_dropped = metrics__counter(
		s->m, "sonde_spans_dropped_total",
		"Spans not exported: queue_full (the receiver is slower than the spans come), "
		"send_failed (given up after retries, or refused), stopped (queued at exit)",
		reason, 2);
	s->spans = span_sink__new(&s->cfg);
	s->store = trace_store__new(s->cfg.trace_store_spans);
	if (!s->spans_exported || !s->spans_dropped || !s->spans || !s->store ||
	    span_sink__add_out(s->spans, trace_store__put, s->store) ||
	    agent__enable_tracing(s->agent, s->cfg.trace_sample_rate) ||
	    agent__add_sink(s->agent, (struct sink){ span_sink__put, s->spans }))
		return -ENOMEM;
	span_sink__set_local(s->spans, agent__produced, s->agent);
	if (s->cfg.zipkin_url[0]) {
		s->zipkin = zipkin_http__start(s->cfg.zipkin_url, NULL);
		if (!s->zipkin)
			return -errno;
		span_sink__add_out(s->spans, zipkin_http__put, s->zipkin);
	}
	if (s->cfg.zipkin_kafka[0]) {
		s->zkafka = zipkin_kafka__start(s->cfg.zipkin_kafka, NULL);
		if (!s->zkafka)
			return -errno;
		span_sink__add_out(s->spans, zipkin_kafka__put, s->zkafka);
	}
	if (s->cfg.otlp_url[0]) {
		struct zipkin_http_opts o = { .encode = otlp_traces_json, .what = "otlp" };
		char url[sizeof(s->cfg.otlp_url) + 16];

		o.queue.name = "sonde-otlp";
		otlp_endpoint(url, sizeof(url), s->cfg.otlp_url, "traces");
		s->otlp = zipkin_http__start(url, &o);
		if (!s->otlp)
			return -errno;
		span_sink__add_out(s->spans, zipkin_http__put, s->otlp);
	}
	if (s->cfg.correlation_redis[0]) {
		static const char *const result[] = { "result" };
		struct tracer_correlator tc = { correlation__produced, NULL };

		s->corr = correlation__start(s->cfg.correlation_redis, s->m);
		s->corr_links = metrics__counter(
			s->m, "sonde_trace_correlation_total",
			"Fetched Kafka partitions that nothing on this node joined, by what Redis "
			"told within a second: joined (another instance's Produce) or not_found",
			result, 1);
		if (!s->corr || !s->corr_links)
			return -ENOMEM;
		tc.ctx = s->corr;
		agent__set_correlator(s->agent, &tc);
		span_sink__set_resolver(s->spans, correlation__lookup, s->corr);
	}
	return 0;
}

/* JSON log lines: the log sink and the file (or stdout) it writes to. */
static int start_logs(struct sonde *s)
{
	static const char *const source[] = { "source" };
	static const char *const reason[] = { "output", "reason" };
	static const char *const exporter[] = { "exporter" };
	struct log_file_opts o = { 0 };

	if (!s->cfg.log_file[0] && !s->cfg.capture_app_logs && !s->cfg.loki_url[0] &&
	    !s->cfg.otlp_url[0])
		return 0;
	s->log_lines = metrics__counter(s->m, "sonde_log_lines_total",
					"JSON log lines made, by source: access (requests served "
					"and failed calls), app (lines the observed processes wrote)",
					source, 1);
	s->log_dropped = metrics__counter(s->m, "sonde_log_lines_dropped_total",
					  "Log lines not written or exported, by output (file, loki, "
					  "capture) and reason: queue_full (the output is slower than "
					  "lines come), write_failed, send_failed, stopped, not_captured "
					  "(writes to stdout/stderr longer than 4096 bytes: one per write)",
					  reason, 2);
	s->log_exported = metrics__counter(s->m, "sonde_log_lines_exported_total",
					   "Log lines the exporter's receiver accepted", exporter, 1);
	/* --capture-app-logs with no other output: the lines go to stdout. */
	if (s->cfg.log_file[0] || (!s->cfg.loki_url[0] && !s->cfg.otlp_url[0])) {
		o.path = s->cfg.log_file[0] ? s->cfg.log_file : "-";
		o.max_size = s->cfg.log_max_size;
		o.files = s->cfg.log_files;
		s->log_file = log_file__start(&o);
		if (!s->log_file)
			return -errno;
	}
	s->logs = log_sink__new(&s->cfg);
	if (s->cfg.loki_url[0]) {
		s->loki = log_http__start(s->cfg.loki_url, s->cfg.loki_json ? LOG_HTTP_LOKI_JSON : LOG_HTTP_LOKI, 0);
		if (!s->loki)
			return -errno;
	}
	if (s->cfg.otlp_url[0]) {
		char url[sizeof(s->cfg.otlp_url) + 16];

		otlp_endpoint(url, sizeof(url), s->cfg.otlp_url, "logs");
		s->otlp_logs = log_http__start(url, LOG_HTTP_OTLP, 0);
		if (!s->otlp_logs)
			return -errno;
	}
	if (!s->log_lines || !s->log_dropped || !s->log_exported || !s->logs ||
	    (s->loki && log_sink__add_out(s->logs, log_http__out, s->loki)) ||
	    (s->otlp_logs && log_sink__add_out(s->logs, log_http__out, s->otlp_logs)) ||
	    (s->log_file && log_sink__add_out(s->logs, log_file__out, s->log_file)) ||
	    agent__add_sink(s->agent, (struct sink){ log_sink__put, s->logs }))
		return -ENOMEM;
	if (s->cfg.capture_app_logs) {
		struct line_sink lines = { log_sink__app_line, log_sink__app_lost, s->logs };

		agent__set_line_sink(s->agent, &lines);
	}
	hup_log_file = s->log_file;
	return 0;
}

static void comm_of(pid_t pid, char *out, size_t outsz)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	out[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		if (fgets(out, (int)outsz, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
	if (!out[0])
		snprintf(out, outsz, "pid%d", pid);
}

/* The service index for a discovered process's name: past --max-services new names, "other". */
static int service_for(struct sonde *s, const char *name, const char *const *k8s)
{
	int svc = agent__find_service_k8s(s->agent, name, k8s);

	if (svc >= 0)
		return svc;
	if (agent__service_count(s->agent) >= s->cfg.max_services) {
		metric__add(s->svc_overflow, NULL, 1);
		return agent__add_service(s->agent, "other");
	}
	return agent__add_service_k8s(s->agent, name, k8s);
}

/* Observe pid (--all): its service name, the kernel's target, the rate limits. */
static void observe(struct sonde *s, pid_t pid, const struct proc_info *pp, const char *why)
{
	struct proc_info p = *pp;
	struct k8s_pod pod;
	char name[CONFIG_NAME_MAX], workload[254];
	const char *mapped;
	int svc;

	/* In a pod: its workload; else discovery.names; else its comm (docs/kubernetes.md). */
	if (!pod_of(s, pid, &p, &pod, workload, sizeof(workload)))
		snprintf(name, sizeof(name), "%.*s", CONFIG_NAME_MAX - 1, workload);
	else if ((mapped = discover_name(s->disc, &p)))
		snprintf(name, sizeof(name), "%s", mapped), pod.name[0] = pod.namespace_[0] = '\0';
	else
		snprintf(name, sizeof(name), "%s", p.comm), pod.name[0] = pod.namespace_[0] = '\0';
	if (s->cfg.k8s_labels && pod.name[0]) {
		const char *node = getenv("NODE_NAME");
		const char *k8s[] = { pod.namespace_, pod.name, pod.container, node ? node : "" };

		svc = service_for(s, name, k8s);
	} else {
		svc = service_for(s, name, NULL);
	}
	if (svc < 0 || loader__add_target(s->loader, pid, (uint32_t)svc, false))
		return;
	tls_libs__scan(s->tls, pid);
	ratelimit__add_target(s->rl, pid, name);
	metric__add(s->discovered, NULL, 1);
	if (s->cfg.verbose >= 2)
		fprintf(stderr, "sonde: --all: observing pid %d (%s%s%s%s%s)%s as \"%s\"\n", pid, p.exe,
			pod.name[0] ? ", pod " : "", pod.namespace_, pod.name[0] ? "/" : "", pod.name,
			why, agent__service_name(s->agent, svc));
}

/*
 * --all: a process that exec'd (or that ran when sonde started) is observed
 * if the rules match it, and stops being observed if it no longer matches.
 */
static void discovered(struct sonde *s, pid_t pid)
{
	struct proc_info p;

	if (!s->disc || pid == getpid() || proc_info_read(pid, &p))
		return;
	if (!discover_match(s->disc, &p)) {
		for (int i = 0; i < s->cfg.ntargets; i++)
			if (s->cfg.targets[i].pid == pid)
				return; /* given with --pid: observed whatever it runs */
		if (loader__is_target(s->loader, (uint32_t)pid)) {
			loader__del_target(s->loader, (uint32_t)pid);
			agent__drop_tgid(s->agent, (uint32_t)pid);
		}
		return;
	}
	observe(s, pid, &p, "");
}

/* --match-port: the kernel saw pid listen on or connect to a watched port. */
static void port_seen(struct sonde *s, pid_t pid, uint32_t port)
{
	struct proc_info p;
	char why[32];

	if (!s->disc || pid == getpid() || loader__is_target(s->loader, (uint32_t)pid) ||
	    proc_info_read(pid, &p) || discover_excluded(s->disc, &p))
		return;
	snprintf(why, sizeof(why), " (port %u)", port);
	observe(s, pid, &p, why);
}

static bool has_port_rule(const struct config *c)
{
	for (int i = 0; i < c->nselect; i++)
		if (c->select[i].kind == CONFIG_MATCH_PORT)
			return true;
	return false;
}

/* The TLS libraries of every process observed now (--pid and its descendants), once at start. */
static void tls_scan_targets(struct sonde *s)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	while (d && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name);

		if (pid > 0 && loader__is_target(s->loader, (uint32_t)pid))
			tls_libs__scan(s->tls, pid);
	}
	if (d)
		closedir(d);
}

/* --all at start: the processes already running, read once. */
static int discover_running(struct sonde *s)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	uint16_t ports[CONFIG_SELECT_MAX];
	int nports = discover_ports(s->disc, ports, CONFIG_SELECT_MAX);

	for (int i = 0; i < nports; i++)
		if (loader__watch_port(s->loader, ports[i])) {
			closedir(d);
			return -ENOMEM;
		}
	while ((de = readdir(d))) {
		pid_t pid = atoi(de->d_name);
		struct proc_info p;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		discovered(s, pid);
		if (nports && !loader__is_target(s->loader, (uint32_t)pid) &&
		    proc_uses_port(pid, ports, nports) && !proc_info_read(pid, &p) &&
		    !discover_excluded(s->disc, &p) && pid != getpid())
			observe(s, pid, &p, " (its port)");
	}
	closedir(d);
	return 0;
}

/*
 * The Kubernetes API: --k8s-api URL, else the cluster's own when sonde runs in
 * a pod with a ServiceAccount token (KUBERNETES_SERVICE_HOST); only with
 * NODE_NAME (the downward API), to watch this node's pods alone.
 */
static int k8s_api_start(struct sonde *s)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *node = getenv("NODE_NAME");
	char url[sizeof(s->cfg.k8s_api)], err[256];

	if (!strcmp(s->cfg.k8s_api, "none"))
		return 0;
	if (s->cfg.k8s_api[0])
		snprintf(url, sizeof(url), "%s", s->cfg.k8s_api);
	else if (host && *host && !access(s->cfg.k8s_token, R_OK))
		snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
			 host, port && *port ? port : "443");
	else
		return 0;
	if (!node || !*node) {
		fprintf(stderr, "sonde: the Kubernetes API (%s) is not watched: NODE_NAME is not set "
				"(the DaemonSet sets it from spec.nodeName)\n", url);
		return 0;
	}
	s->k8s_api = k8s_api__start(url, node, s->cfg.k8s_token, s->cfg.k8s_ca, s->m, 3000, err,
				    sizeof(err));
	if (!s->k8s_api) {
		fprintf(stderr, "sonde: the Kubernetes API: %s\n", err);
		return -1;
	}
	if (s->cfg.verbose)
		fprintf(stderr, "sonde: watching the pods of node %s at %s\n", node, url);
	return 0;
}

static char *dependencies_json(void *ctx)
{
	return dependency_sink__json(ctx, now_ns());
}

static void raise_capture(void *ctx, uint32_t tgid, uint32_t fd, uint64_t conn_id,
			  uint16_t bytes, uint8_t walk)
{
	struct sonde *s = ctx;

	loader__set_capture(s->loader, tgid, fd, conn_id, bytes, walk);
}

static void target_gone(void *ctx, uint32_t tgid)
{
	struct sonde *s = ctx;

	agent__drop_tgid(s->agent, tgid);
	k8s_forget(s, tgid);
}

/*
 * Start COMMAND stopped behind a pipe, make it a target, then let it exec:
 * nothing it does escapes observation.
 */
static int start_command(struct sonde *s)
{
	char name[16];
	int go[2], svc;
	char c = 0;

	snprintf(name, sizeof(name), "%s", basename(s->cfg.command[0]));
	svc = agent__add_service(s->agent, name);
	if (svc < 0 || pipe(go))
		return -1;
	s->child = fork();
	if (s->child < 0)
		return -1;
	if (s->child == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		close(go[0]);
		execvp(s->cfg.command[0], s->cfg.command);
		fprintf(stderr, "sonde: cannot run %s: %s\n", s->cfg.command[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	if (loader__add_target(s->loader, s->child, (uint32_t)svc, true) ||
	    ratelimit__add_target(s->rl, s->child, name)) {
		kill(s->child, SIGKILL);
		return -1;
	}
	if (write(go[1], &c, 1) != 1)
		return -1;
	close(go[1]);
	return 0;
}

/* A request the kernel answered 429: a log line. */
static void on_limited(void *ctx, const struct limited_request *l)
{
	struct sonde *s = ctx;

	if (s->logs)
		log_sink__limited(s->logs, l);
}

/* SIGHUP: the configuration file's rate_limits: again (the rest needs a restart). */
static void reload_rules(struct sonde *s)
{
	struct config nc;
	char err[512];

	if (!s->cfg.config_file)
		return;
	config_init(&nc);
	nc.config_file = s->cfg.config_file;
	if (config_load_file(&nc, err, sizeof(err)))
		fprintf(stderr, "sonde: SIGHUP: %s; the rate limits are unchanged\n", err);
	else if (!s->rl && nc.nrate_limits)
		fprintf(stderr, "sonde: SIGHUP: rate_limits: were added: restart sonde to enforce "
				"them\n");
	else if (s->rl && ratelimit__reload(s->rl, &nc, err, sizeof(err)))
		fprintf(stderr, "sonde: SIGHUP: %s; the rate limits are unchanged\n", err);
	else if (s->rl && s->cfg.verbose)
		fprintf(stderr, "sonde: SIGHUP: %d rate-limit rules\n", nc.nrate_limits);
	config_free(&nc);
}

static int run(struct sonde *s)
{
	uint64_t last_sweep = 0;
	int status = 0, period = POLL_MS;

	while (!stop_signal) {
		uint64_t now;
		int n = loader__poll(s->loader, period);

		if (n < 0 && errno != EINTR)
			break;
		tls_libs__flush(s->tls); /* libraries the targets loaded meanwhile */
		period = n > POLL_BUSY_RECORDS ? POLL_BUSY_MS : POLL_MS;
		now = now_ns();
		atomic_store(&s->heartbeat, now);
		if (hup_signal) {
			hup_signal = 0;
			reload_rules(s);
		}
		ratelimit__poll(s->rl, now);
		if (s->spans)
			span_sink__tick(s->spans, now);
		if (now - last_sweep >= SWEEP_NS) {
			last_sweep = now;
			atomic_store(&s->live_targets,
				     loader__sweep(s->loader, target_gone, s));
			agent__expire(s->agent, now, IDLE_NS);
		}
		if (s->child > 0 && waitpid(s->child, &status, WNOHANG) == s->child) {
			loader__poll(s->loader, 0); /* what it said last */
			s->child = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
	/* What the rings still hold (the last millisecond is held back): log lines, spans. */
	loader__poll(s->loader, 0);
	if (s->child > 0) {
		kill(s->child, SIGTERM);
		waitpid(s->child, &status, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sonde s;
	struct httpd_health health = { healthy, ready, &s };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int ret = 1, e;

	if (argc > 1 && !strcmp(argv[1], "traces"))
		return traces_cli_main(argc - 1, argv + 1);
	config_init(&s.cfg);
	switch (config_parse_args(&s.cfg, argc, argv, stderr)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		return 0;
	default:
		return 2;
	}
	if (config_load_file(&s.cfg, err, sizeof(err))) {
		fprintf(stderr, "sonde: %s\n", err);
		return 2;
	}
	if (loader_check_env(err, sizeof(err))) {
		fprintf(stderr, "sonde: %s\n", err);
		return 1;
	}
	for (int i = 0; i < s.cfg.ntargets; i++) {
		if (kill(s.cfg.targets[i].pid, 0) && errno == ESRCH) {
			fprintf(stderr, "sonde: no such process: pid %d\n", s.cfg.targets[i].pid);
			return 1;
		}
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);

	s.m = metrics__new();
	s.agent = s.m ? agent__new(s.m, &s.cfg) : NULL;
	s.deps = s.m ? dependency_sink__new(s.m) : NULL;
	if (!s.agent || register_self_metrics(&s) || !s.deps ||
	    agent__add_sink(s.agent, (struct sink){ dependency_sink__put, s.deps })) {
		fprintf(stderr, "sonde: out of memory\n");
		goto out;
	}
	if ((e = start_tracing(&s))) {
		fprintf(stderr, "sonde: cannot start tracing: %s\n", strerror(-e));
		goto out;
	}
	if ((e = start_logs(&s))) {
		fprintf(stderr, "sonde: cannot write logs to %s: %s\n", s.cfg.log_file,
			strerror(-e));
		goto out;
	}
	if (!loader__has_loop() && (s.cfg.inject_traceparent || s.cfg.nrate_limits)) {
		fprintf(stderr, "sonde: the kernel has no bpf_loop (before 5.17): %s%s%s off\n",
			s.cfg.inject_traceparent ? "--inject-traceparent" : "",
			s.cfg.inject_traceparent && s.cfg.nrate_limits ? " and " : "",
			s.cfg.nrate_limits ? "rate_limits:" : "");
		s.cfg.inject_traceparent = false;
		s.cfg.nrate_limits = 0;
	}
	s.loader = loader__open(s.cfg.capture_bytes, s.cfg.capture_app_logs,
				s.cfg.inject_traceparent, s.cfg.trace_sample_rate, s.cfg.all,
				s.cfg.all && has_port_rule(&s.cfg), s.cfg.verbose, on_event, &s, err,
				sizeof(err));
	if (!s.loader) {
		fprintf(stderr, "sonde: %s\n", err);
		goto out;
	}
	agent__set_capture_hook(s.agent, raise_capture, &s);
	s.tls = tls_libs__new(s.loader, s.m, s.cfg.verbose);
	s.k8s = calloc(K8S_SLOTS, sizeof(*s.k8s));
	if (!s.k8s || !s.tls) {
		fprintf(stderr, "sonde: out of memory\n");
		goto out;
	}
	agent__set_k8s_hook(s.agent, k8s_hook, &s);
	if (k8s_api_start(&s))
		goto out;
	if (s.cfg.inject_traceparent &&
	    !(s.inj = inject__start(s.loader, s.cfg.trace_sample_rate, s.m, err, sizeof(err)))) {
		fprintf(stderr, "sonde: %s\n", err);
		goto out;
	}
	s.rl = ratelimit__start(&s.cfg, s.m, on_limited, &s, err, sizeof(err));
	if (!s.rl && err[0]) {
		fprintf(stderr, "sonde: %s\n", err);
		goto out;
	}
	for (int i = 0; i < s.cfg.ntargets; i++) {
		struct config_target *t = &s.cfg.targets[i];
		char name[CONFIG_NAME_MAX];
		int svc;

		if (t->name[0])
			snprintf(name, sizeof(name), "%s", t->name);
		else
			comm_of(t->pid, name, sizeof(name));
		svc = agent__add_service(s.agent, name);
		e = svc < 0 ? -ENOMEM : loader__add_target(s.loader, t->pid, (uint32_t)svc, true);
		if (!e && ratelimit__add_target(s.rl, t->pid, name))
			e = -E2BIG;
		if (e) {
			fprintf(stderr, "sonde: cannot observe pid %d: %s\n", t->pid, strerror(-e));
			goto out;
		}
		if (s.cfg.verbose)
			fprintf(stderr, "sonde: observing pid %d as service \"%s\"\n", t->pid, name);
	}
	if (s.cfg.all) {
		s.disc = discover__new(&s.cfg, err, sizeof(err));
		s.discovered = metrics__counter(s.m, "sonde_discovered_processes_total",
						"Processes --all started observing (at start, then at "
						"each exec that matched)", NULL, 0);
		s.svc_overflow = metrics__counter(s.m, "sonde_services_overflow_total",
						  "Processes named \"other\": --max-services distinct "
						  "service names were taken", NULL, 0);
		if (!s.disc || !s.discovered || !s.svc_overflow) {
			fprintf(stderr, "sonde: --all: %s\n", s.disc ? "out of memory" : err);
			goto out;
		}
		if ((e = discover_running(&s))) {
			fprintf(stderr, "sonde: --all: cannot read /proc: %s\n", strerror(-e));
			goto out;
		}
	}
	if (!s.cfg.all) /* --all: each one as it was found */
		tls_scan_targets(&s);
	inject__adopt(s.inj, s.loader, s.cfg.verbose);
	if (s.cfg.command && start_command(&s)) {
		fprintf(stderr, "sonde: cannot start %s: %s\n", s.cfg.command[0], strerror(errno));
		goto out;
	}
	atomic_store(&s.live_targets, loader__sweep(s.loader, target_gone, &s));
	atomic_store(&s.heartbeat, now_ns());
	s.httpd = httpd__start(s.cfg.listen, s.m, &health);
	if (!s.httpd) {
		fprintf(stderr, "sonde: cannot listen on %s: %s\n", s.cfg.listen, strerror(errno));
		if (s.child > 0)
			kill(s.child, SIGTERM);
		goto out;
	}
	httpd__set_traces(s.httpd, s.store);
	httpd__add_json(s.httpd, "/api/dependencies", dependencies_json, s.deps);
	if (s.cfg.verbose)
		fprintf(stderr, "sonde: serving http://%s/metrics\n", s.cfg.listen);
	ret = run(&s);
out:
	httpd__stop(s.httpd);
	ratelimit__free(s.rl); /* the kernel stops limiting: connections flow as before */
	inject__free(s.inj); /* no more rewriting: requests go out as written */
	loader__close(s.loader); /* the TLS probes too */
	tls_libs__free(s.tls);
	if (s.spans) /* what still waits for its Produce goes out as it is */
		span_sink__tick(s.spans, UINT64_MAX);
	correlation__stop(s.corr);
	zipkin_http__stop(s.zipkin); /* flushes what is queued, for at most 2 s */
	zipkin_kafka__stop(s.zkafka);
	zipkin_http__stop(s.otlp);
	hup_log_file = NULL;
	log_file__free(s.log_file); /* writes what is queued */
	log_http__free(s.loki);     /* sends what is queued, for at most 2 s */
	log_http__free(s.otlp_logs);
	agent__free(s.agent);
	dependency_sink__free(s.deps);
	log_sink__free(s.logs);
	span_sink__free(s.spans);
	trace_store__free(s.store);
	metrics__free(s.m);
	discover__free(s.disc);
	k8s_api__stop(s.k8s_api);
	free(s.k8s);
	config_free(&s.cfg);
	return ret;
}
