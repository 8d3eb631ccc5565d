// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capture.skel.h"
#include "capture_compat.skel.h"
#include "loader.h"

#define TRACEFS "/sys/kernel/tracing"
#define BTF_PATH "/sys/kernel/btf/vmlinux"

/*
 * Records younger than this stay in their ring until the next drain: a record
 * on another CPU with an older ts may still be being written, and records are
 * handed to the agent in ts order across CPUs (a request read on one CPU, its
 * response written on another).
 */
#define HOLD_NS 1000000ULL

/* One CPU's ring, as the consumer sees it. */
struct ring {
	struct sonde_ring_ctl *ctl;
	const uint8_t *data;
	uint64_t pos;  /* next record to hand out */
	uint64_t end;  /* head when the drain began */
	struct sonde_event *next; /* during a drain: the record at pos, peeked */
	size_t next_size;
};

struct loader {
	struct capture_bpf *skel;
	struct bpf_link **links;
	int nprogs;
	int nlinks;
	int ncpus;
	int (*on_event)(void *ctx, void *data, size_t size);
	void *ctx;
	uint8_t *rings_mem;   /* mmap of the rings map */
	size_t rings_len;
	uint64_t ring_mask;
	struct ring *rings;   /* ncpus */
	int *busy;            /* drain's scratch: indices of rings with records */
	/*
	 * Targets found dead, told to the agent only once every record older
	 * than the moment they were found has been handed out: the records of
	 * their last millisecond may still be held in the rings (HOLD_NS), and
	 * the agent would otherwise forget their connections before seeing
	 * them (the last replies of a client that exits at once).
	 */
	struct dead { uint32_t tgid; uint64_t ts; } dead[256];
	int ndead;
	struct bpf_link **tls_links; /* the uprobes of TLS libraries (loader__attach_tls) */
	int ntls_links;
	void (*gone)(void *ctx, uint32_t tgid);
	void *gone_ctx;
};

static int verbosity;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && verbosity < 1)
		return 0;
	if (level == LIBBPF_WARN && verbosity < 1)
		return 0; /* failures are reported by us, in one line */
	return vfprintf(stderr, fmt, ap);
}

static bool has_caps(void)
{
	/* CAP_BPF 39, CAP_PERFMON 38 live in the second word. */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	static const int need[] = { 39, 38, 12 /* NET_ADMIN */, 19 /* SYS_PTRACE */ };

	if (syscall(SYS_capget, &h, d))
		return false;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(d[need[i] / 32].effective & (1u << (need[i] % 32))))
			return false;
	return true;
}

/* libbpf resolves tracepoint ids through tracefs, which may not be mounted. */
static int ensure_tracefs(char *err, size_t errsz)
{
	struct stat st;

	if (stat(TRACEFS "/events", &st) == 0)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		snprintf(err, errsz, "cannot mount tracefs on %s: %s", TRACEFS, strerror(errno));
		return -1;
	}
	return 0;
}

/* The targets array covers every possible tgid: 0 .. pid_max - 1. */
static __u32 pid_max(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	if (v < 32768)
		v = 32768;
	if (v > 64ULL * SONDE_TGID_WORDS)
		v = 64ULL * SONDE_TGID_WORDS;
	return (__u32)v;
}

int loader_check_env(char *err, size_t errsz)
{
	if (geteuid() != 0 && !has_caps()) {
		snprintf(err, errsz,
			 "must run as root (or with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and "
			 "CAP_SYS_PTRACE)");
		return -1;
	}
	if (access(BTF_PATH, R_OK)) {
		snprintf(err, errsz, "kernel has no BTF (%s: %s): a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF=y is needed", BTF_PATH, strerror(errno));
		return -1;
	}
	return ensure_tracefs(err, errsz);
}

void loader__close(struct loader *l)
{
	if (!l)
		return;
	if (l->rings_mem)
		munmap(l->rings_mem, l->rings_len);
	free(l->rings);
	free(l->busy);
	for (int i = 0; i < l->nlinks; i++)
		bpf_link__destroy(l->links[i]);
	free(l->links);
	for (int i = 0; i < l->ntls_links; i++)
		bpf_link__destroy(l->tls_links[i]);
	free(l->tls_links);
	capture_bpf__destroy(l->skel);
	free(l);
}

/*
 * Bytes of each CPU's ring: 32 MiB shared by the possible CPUs, at least 1 and
 * at most 8 MiB each (a power of two). At 8 MiB a CPU can produce 800 MB/s
 * between two 10 ms drains.
 */
static uint64_t ring_bytes(int ncpus)
{
	uint64_t b = 8ULL << 20;

	while (b > (1ULL << 20) && b * (uint64_t)(ncpus > 0 ? ncpus : 1) > (32ULL << 20))
		b >>= 1;
	return b;
}

/*
 * The largest ring of at most b bytes whose map value this kernel creates:
 * before 6.x an array's value may not pass KMALLOC_MAX_SIZE (4 MiB on x86;
 * Ubuntu's 5.15 refused 8 MiB with E2BIG).
 */
static uint64_t ring_fitting(uint64_t b)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);

	for (; b > (64ULL << 10); b >>= 1) {
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4,
					(__u32)(sizeof(struct sonde_ring_ctl) + b + SONDE_RING_SLACK), 1, &o);

		if (fd >= 0) {
			close(fd);
			break;
		}
		if (errno != E2BIG)
			break; /* the load says what is wrong */
	}
	return b;
}

static int rings_map(struct loader *l)
{
	struct bpf_map *m = l->skel->maps.rings;
	size_t elem = (bpf_map__value_size(m) + 7) & ~(size_t)7;
	long page = sysconf(_SC_PAGESIZE);
	void *mem;

	l->rings_len = (elem * (size_t)l->ncpus + page - 1) & ~(size_t)(page - 1);
	mem = mmap(NULL, l->rings_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (mem == MAP_FAILED)
		return -1;
	l->rings_mem = mem;
	l->rings = calloc(l->ncpus, sizeof(*l->rings));
	l->busy = calloc(l->ncpus, sizeof(*l->busy));
	if (!l->rings || !l->busy)
		return -1;
	for (int i = 0; i < l->ncpus; i++) {
		struct ring *r = &l->rings[i];

		r->ctl = (struct sonde_ring_ctl *)(l->rings_mem + elem * (size_t)i);
		r->data = (const uint8_t *)(r->ctl + 1);
		r->pos = __atomic_load_n(&r->ctl->tail, __ATOMIC_RELAXED);
	}
	return 0;
}

void loader_print_verified(const struct bpf_program *prog)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_program__fd(prog) >= 0 && !bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		fprintf(stderr, "sonde: %s: %u instructions verified\n", bpf_program__name(prog),
			info.verified_insns);
}

uint64_t loader_sample_below(double rate)
{
	if (!(rate > 0))
		return 0;
	if (rate >= 1)
		return 1ULL << 32;
	return (uint64_t)(rate * 4294967296.0);
}

int loader__map_fd(const struct loader *l, const char *name)
{
	struct bpf_map *m = l && l->skel ? bpf_object__find_map_by_name(l->skel->obj, name) : NULL;

	return m ? bpf_map__fd(m) : -1;
}

int loader_cgroup2_root(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[256], dir[512], type[64];
	int fd = -1;

	if (!f)
		return -1;
	while (fd < 0 && fscanf(f, "%255s %511s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2"))
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fclose(f);
	return fd;
}

uint64_t loader_percpu_sum(int fd, uint32_t idx, int ncpus)
{
	uint64_t v[ncpus], sum = 0;

	if (bpf_map_lookup_elem(fd, &idx, v))
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

/* A TLS library's probe (bpf/tls.h): attached per library file, not at load. */
static bool is_uprobe(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return !strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9);
}

/*
 * bpf_rdonly_cast (a kfunc of 6.2) lets the data exits find the user
 * registers without two helper calls. A kernel without it gets
 * capture_compat.bpf.o: the same programs, built without kfuncs, which ask
 * the helper every time. SONDE_BPF_COMPAT=1 chooses it anyway (to measure it).
 */
static bool kernel_has_kfuncs(void)
{
	const char *force = getenv("SONDE_BPF_COMPAT");
	struct btf *btf;
	bool has;

	if (force && (!strcmp(force, "1") || !strcmp(force, "noloop")))
		return false;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return true; /* the load says what is wrong */
	has = btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return has;
}

bool loader__has_loop(void)
{
	static int has = -1; /* asked by main and by loader__open: probed once */
	const char *force = getenv("SONDE_BPF_COMPAT");

	if (has < 0)
		has = !(force && !strcmp(force, "noloop")) &&
		      libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL) == 1;
	return has;
}

/*
 * What the compat programs cannot do without: the user registers of a task
 * (bpf_task_pt_regs, 5.15). Before it, one line says so and sonde stops.
 */
static bool kernel_has_task_pt_regs(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) == 1;
}

/* capture_bpf__open(), with capture_compat's bytes when compat: the same maps and programs. */
static struct capture_bpf *capture_open(bool compat)
{
	struct capture_bpf *obj = calloc(1, sizeof(*obj));
	int e;

	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	e = capture_bpf__create_skeleton(obj);
	if (!e && compat)
		obj->skeleton->data = (void *)capture_compat_bpf__elf_bytes(&obj->skeleton->data_sz);
	if (!e)
		e = bpf_object__open_skeleton(obj->skeleton, NULL);
	if (e) {
		capture_bpf__destroy(obj);
		errno = e < 0 ? -e : e;
		return NULL;
	}
	return obj;
}

/* Programs run by tail calls only: loaded, never attached. */
static bool tail_called(const struct loader *l, const struct bpf_program *prog)
{
	return prog == l->skel->progs.sonde_inj_b3 || prog == l->skel->progs.sonde_rec_in ||
	       prog == l->skel->progs.sonde_rec_out || prog == l->skel->progs.sonde_rec_ssl;
}

/* prog into a slot of a program array: 0, or -1 (errno). */
static int prog_slot(struct bpf_map *map, __u32 slot, struct bpf_program *prog)
{
	int fd = bpf_program__fd(prog);

	return bpf_map_update_elem(bpf_map__fd(map), &slot, &fd, BPF_ANY) ? -1 : 0;
}

int loader__attach_tls(struct loader *l, const char *path)
{
	const struct {
		const char *sym;
		struct bpf_program *prog;
		bool ret;
		bool core; /* without it, the file is no TLS library sonde can read */
	} probes[] = {
		/* Returns first: an entry whose return is not probed yet would only wait. */
		{ "SSL_write", l->skel->progs.sonde_ssl_write_ret, true, true },
		{ "SSL_write", l->skel->progs.sonde_ssl_write, false, true },
		{ "SSL_read", l->skel->progs.sonde_ssl_read_ret, true, true },
		{ "SSL_read", l->skel->progs.sonde_ssl_read, false, true },
		{ "SSL_write_ex", l->skel->progs.sonde_ssl_write_ret, true, false },
		{ "SSL_write_ex", l->skel->progs.sonde_ssl_write_ex, false, false },
		{ "SSL_read_ex", l->skel->progs.sonde_ssl_read_ret, true, false },
		{ "SSL_read_ex", l->skel->progs.sonde_ssl_read_ex, false, false },
		{ "SSL_set_fd", l->skel->progs.sonde_ssl_set_fd, false, false },
	};
	size_t n = sizeof(probes) / sizeof(probes[0]);
	struct bpf_link **links = realloc(l->tls_links, (l->ntls_links + n) * sizeof(*links));
	int first = l->ntls_links, e = 0;

	if (!links)
		return -ENOMEM;
	l->tls_links = links;
	for (size_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = probes[i].sym, .retprobe = probes[i].ret);
		struct bpf_link *link = bpf_program__attach_uprobe_opts(probes[i].prog, -1, path, 0, &o);

		if (link) {
			l->tls_links[l->ntls_links++] = link;
			continue;
		}
		if (probes[i].core) {
			e = errno ? -errno : -ENOENT;
			break;
		}
	}
	if (e) { /* all or nothing: half a library would see one direction */
		while (l->ntls_links > first)
			bpf_link__destroy(l->tls_links[--l->ntls_links]);
		return e;
	}
	l->skel->bss->tls_on = 1;
	return l->ntls_links - first;
}

struct loader *loader__open(unsigned capture_bytes, bool app_logs, bool inject,
			    double sample_rate, bool watch_all, bool watch_ports, int verbose,
			    int (*on_event)(void *ctx, void *data, size_t size), void *ctx,
			    char *err, size_t errsz)
{
	struct loader *l = calloc(1, sizeof(*l));
	struct bpf_program *prog;
	int e;

	verbosity = verbose;
	libbpf_set_print(libbpf_print);
	if (!l) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	l->ncpus = libbpf_num_possible_cpus();
	if (!kernel_has_kfuncs()) {
		if (!kernel_has_task_pt_regs()) {
			snprintf(err, errsz, "the kernel has neither bpf_rdonly_cast nor "
					     "bpf_task_pt_regs: sonde needs Linux 5.15 or later");
			goto fail;
		}
		fprintf(stderr, "sonde: %s%s: the data programs find the user registers by helper "
				"(slower path)\n",
			getenv("SONDE_BPF_COMPAT") ? "SONDE_BPF_COMPAT="
						   : "the kernel has no bpf_rdonly_cast kfunc (before 6.2)",
			getenv("SONDE_BPF_COMPAT") ? getenv("SONDE_BPF_COMPAT") : "");
		l->skel = capture_open(true);
	} else {
		l->skel = capture_open(false);
	}
	if (l->skel && !loader__has_loop()) {
		fprintf(stderr, "sonde: %s: syscalls larger than the capture are walked %d messages "
				"deep, not 512 (longer pipelines lose their framing, counted)\n",
			getenv("SONDE_BPF_COMPAT") ? "SONDE_BPF_COMPAT=noloop"
						   : "the kernel has no bpf_loop (before 5.17)",
			SONDE_WALK_BOUNDED);
		l->skel->rodata->no_loop = 1;
		inject = false;
	}
	if (!l->skel) {
		snprintf(err, errsz, "cannot open BPF object: %s", strerror(errno));
		goto fail;
	}
	l->skel->rodata->capture_bytes = capture_bytes;
	l->skel->rodata->app_logs = app_logs;
	l->skel->rodata->inject_on = inject;
	l->skel->rodata->watch_all = watch_all;
	l->skel->rodata->watch_ports = watch_ports;
	l->skel->rodata->sample_below = loader_sample_below(sample_rate);
	bpf_map__set_max_entries(l->skel->maps.targets, pid_max());
	l->ring_mask = ring_fitting(ring_bytes(l->ncpus)) - 1;
	l->skel->rodata->ring_mask = l->ring_mask;
	bpf_map__set_max_entries(l->skel->maps.rings, l->ncpus);
	bpf_map__set_value_size(l->skel->maps.rings,
				sizeof(struct sonde_ring_ctl) + l->ring_mask + 1 + SONDE_RING_SLACK);
	/* B3 headers are read by a tail call, and only with injection. */
	bpf_program__set_autoload(l->skel->progs.sonde_inj_b3, inject);
	e = capture_bpf__load(l->skel);
	if (e) {
		snprintf(err, errsz, "kernel refused the BPF programs (%s); run with -v for the "
			 "verifier log", strerror(-e));
		goto fail;
	}
	bpf_object__for_each_program(prog, l->skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (verbose >= 2)
			loader_print_verified(prog);
		if (!tail_called(l, prog) && !is_uprobe(prog))
			l->nprogs++; /* the ones attached */
	}
	if (inject) {
		__u32 zero = 0;
		int fd = bpf_program__fd(l->skel->progs.sonde_inj_b3);

		if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.inj_tail), &zero, &fd, BPF_ANY)) {
			snprintf(err, errsz, "cannot set the B3 tail call: %s", strerror(errno));
			goto fail;
		}
	}
	if (prog_slot(l->skel->maps.rec_tail, SONDE_DIR_INGRESS, l->skel->progs.sonde_rec_in) ||
	    prog_slot(l->skel->maps.rec_tail, SONDE_DIR_EGRESS, l->skel->progs.sonde_rec_out) ||
	    prog_slot(l->skel->maps.rec_ssl_tail, 0, l->skel->progs.sonde_rec_ssl)) {
		snprintf(err, errsz, "cannot set the record tail calls: %s", strerror(errno));
		goto fail;
	}
	l->links = calloc(l->nprogs, sizeof(*l->links));
	if (!l->links) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	bpf_object__for_each_program(prog, l->skel->obj) {
		struct bpf_link *link;

		if (tail_called(l, prog) || is_uprobe(prog))
			continue; /* tail-called; attached per TLS library (loader__attach_tls) */
		link = bpf_program__attach(prog);
		if (!link) {
			snprintf(err, errsz, "kernel lacks a needed feature: cannot attach %s (%s): %s",
				 bpf_program__name(prog), bpf_program__section_name(prog),
				 strerror(errno));
			goto fail;
		}
		l->links[l->nlinks++] = link;
	}
	if (rings_map(l)) {
		snprintf(err, errsz, "cannot map the record rings: %s", strerror(errno));
		goto fail;
	}
	l->on_event = on_event;
	l->ctx = ctx;
	return l;
fail:
	loader__close(l);
	return NULL;
}

/* The filter bit of tgid, in the BPF side's .bss (mmapped by the skeleton). */
static __u64 *target_word(struct loader *l, __u32 tgid, __u64 *mask)
{
	*mask = 1ULL << (tgid & 63);
	return &l->skel->bss->target_bits[(tgid >> 6) & (SONDE_TGID_WORDS - 1)];
}

static int target_put(struct loader *l, pid_t pid, uint32_t svc)
{
	struct timespec ts;
	struct sonde_target t = { .service = svc };
	__u32 k = (__u32)pid;
	__u64 mask, *w;

	/* A fresh gen: conns entries left by an earlier process with this tgid are stale. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t.gen = (__u32)ts.tv_nsec | 1;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.targets), &k, &t, BPF_ANY))
		return -errno;
	/* Atomic: sonde_fork sets bits of the same words concurrently. */
	w = target_word(l, k, &mask);
	__atomic_fetch_or(w, mask, __ATOMIC_SEQ_CST);
	return 0;
}

static void target_del(struct loader *l, __u32 tgid)
{
	__u64 mask, *w = target_word(l, tgid, &mask);
	struct sonde_target none = { 0 };

	__atomic_fetch_and(w, ~mask, __ATOMIC_SEQ_CST);
	/* gen 0: not a target for programs that do not see the bits (inject.bpf.c). */
	bpf_map_update_elem(bpf_map__fd(l->skel->maps.targets), &tgid, &none, BPF_ANY);
}

int loader__watch_port(struct loader *l, uint16_t port)
{
	__u8 one = 1;

	return bpf_map_update_elem(bpf_map__fd(l->skel->maps.match_ports), &port, &one, BPF_ANY)
		       ? -errno
		       : 0;
}

bool loader__is_target(struct loader *l, uint32_t tgid)
{
	__u64 mask, *w = target_word(l, tgid, &mask);

	return __atomic_load_n(w, __ATOMIC_RELAXED) & mask;
}

void loader__del_target(struct loader *l, uint32_t tgid)
{
	target_del(l, tgid);
}

/* ppid of pid from /proc/PID/stat, or -1. */
static pid_t read_ppid(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int loader__add_target(struct loader *l, pid_t pid, uint32_t svc, bool descendants)
{
	pid_t *set = NULL;
	size_t n = 0, cap = 0;
	bool grew = true;
	DIR *d;
	struct dirent *de;
	int e;

	if (kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	e = target_put(l, pid, svc);
	if (e || !descendants)
		return e;
	/*
	 * Children forked from now on are added by the kernel side (the programs
	 * are attached already); those that exist are found here, to any depth.
	 */
	set = malloc(sizeof(*set) * 16);
	if (!set)
		return -ENOMEM;
	cap = 16;
	set[n++] = pid;
	while (grew) {
		grew = false;
		d = opendir("/proc");
		if (!d)
			break;
		while ((de = readdir(d))) {
			pid_t p, pp;
			bool known = false, parent_in = false;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			p = atoi(de->d_name);
			pp = read_ppid(p);
			for (size_t i = 0; i < n; i++) {
				known |= set[i] == p;
				parent_in |= set[i] == pp;
			}
			if (known || !parent_in)
				continue;
			if (n == cap) {
				pid_t *ns = realloc(set, sizeof(*set) * cap * 2);

				if (!ns)
					break;
				set = ns;
				cap *= 2;
			}
			set[n++] = p;
			target_put(l, p, svc);
			grew = true;
		}
		closedir(d);
	}
	free(set);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int loader__sweep(struct loader *l, void (*gone)(void *ctx, uint32_t tgid), void *ctx)
{
	const volatile __u64 *bits = l->skel->bss->target_bits;
	uint64_t now = mono_ns();
	int alive = 0;

	/* The filter bitmap is the set of targets: 512 KiB to scan, once a second. */
	for (__u32 w = 0; w < SONDE_TGID_WORDS; w++) {
		__u64 v = bits[w];

		while (v) {
			__u32 tgid = w * 64 + __builtin_ctzll(v);

			v &= v - 1;
			if (kill((pid_t)tgid, 0) && errno == ESRCH) {
				if (l->ndead == (int)(sizeof(l->dead) / sizeof(l->dead[0])))
					continue; /* found again at the next sweep */
				/* It writes no more records: it can stop being a target now. */
				target_del(l, tgid);
				l->dead[l->ndead++] = (struct dead){ tgid, now };
			} else {
				alive++;
			}
		}
	}
	l->gone = gone;
	l->gone_ctx = ctx;
	return alive;
}

int loader__set_capture(struct loader *l, uint32_t tgid, uint32_t fd, uint64_t conn_id,
			uint16_t bytes, uint8_t walk)
{
	int mfd = bpf_map__fd(l->skel->maps.conns);
	struct sonde_fd_key k = { .tgid = tgid, .fd = fd };
	struct sonde_conn_state cs;

	if (bytes > SONDE_CAPTURE_MAX)
		bytes = SONDE_CAPTURE_MAX;
	if (bpf_map_lookup_elem(mfd, &k, &cs))
		return -errno;
	if (cs.conn_id != conn_id)
		return -ESTALE; /* the fd is another connection by now */
	/*
	 * Read-modify-write of a value the BPF side also writes (announced*):
	 * losing such a write only re-sends the tuple once.
	 */
	if (bytes)
		cs.capture = bytes;
	if (walk && cs.walk != walk) {
		cs.walk = walk;
		cs.left[0] = cs.left[1] = 0;
	}
	if (bpf_map_update_elem(mfd, &k, &cs, BPF_EXIST))
		return -errno;
	return 0;
}

/* The record at r->pos, if one was published before the drain began; else NULL. */
static struct sonde_event *ring_peek(struct loader *l, struct ring *r, size_t *size)
{
	struct sonde_event *e;
	size_t sz;

	if (r->pos >= r->end)
		return NULL;
	e = (struct sonde_event *)(r->data + (r->pos & l->ring_mask));
	sz = sizeof(*e) + ((e->flags & SONDE_F_TUPLE) ? sizeof(struct sonde_conn_tuple) : 0) +
	     ((e->flags & SONDE_F_SEGS) ? sizeof(struct sonde_segs) : 0) + e->caplen;
	if (e->flags & SONDE_F_IDS)
		sz = SONDE_RECORD_ALIGN(sz) + sizeof(struct sonde_ids);
	if (e->caplen > SONDE_CAPTURE_MAX || SONDE_RECORD_ALIGN(sz) > r->end - r->pos) {
		/*
		 * Cannot happen with our BPF code. Never read past what was
		 * published; the agent counts it (sonde_events_malformed_total).
		 */
		l->on_event(l->ctx, e, 0);
		r->pos = r->end;
		return NULL;
	}
	*size = sz;
	return e;
}

/*
 * Hand out every record older than limit, oldest first across CPUs, then give
 * the space back. Returns the number of records.
 */
static int drain(struct loader *l, uint64_t limit)
{
	int n = 0, nbusy = 0;

	/* The rings with records (usually one or two of many CPUs), each peeked once. */
	for (int i = 0; i < l->ncpus; i++) {
		struct ring *r = &l->rings[i];

		r->end = __atomic_load_n(&r->ctl->head, __ATOMIC_ACQUIRE);
		if (r->end != r->pos && (r->next = ring_peek(l, r, &r->next_size)))
			l->busy[nbusy++] = i;
	}
	while (nbusy) {
		int k, best = 0;
		struct ring *r;

		for (k = 1; k < nbusy; k++)
			if (l->rings[l->busy[k]].next->ts_ns < l->rings[l->busy[best]].next->ts_ns)
				best = k;
		r = &l->rings[l->busy[best]];
		if (r->next->ts_ns > limit)
			break;
		l->on_event(l->ctx, r->next, r->next_size);
		r->pos += SONDE_RECORD_ALIGN(r->next_size);
		n++;
		/* Only this ring moved: peek its next record; drained, it leaves the merge. */
		if (!(r->next = ring_peek(l, r, &r->next_size)))
			l->busy[best] = l->busy[--nbusy];
	}
	for (int i = 0; i < l->ncpus; i++) {
		struct ring *r = &l->rings[i];

		if (__atomic_load_n(&r->ctl->tail, __ATOMIC_RELAXED) != r->pos)
			__atomic_store_n(&r->ctl->tail, r->pos, __ATOMIC_RELEASE);
	}
	return n;
}

int loader__poll(struct loader *l, int timeout_ms)
{
	/*
	 * The producers never wake us: sleep, then take everything in one batch.
	 * timeout 0 is the last drain before exit: nothing is held back.
	 */
	uint64_t limit;
	int n, k = 0;

	if (timeout_ms > 0 && poll(NULL, 0, timeout_ms) < 0)
		return -1;
	limit = timeout_ms > 0 ? mono_ns() - HOLD_NS : UINT64_MAX;
	n = drain(l, limit);

	/* Everything the dead wrote before they were found has been handed out. */
	for (int i = 0; i < l->ndead; i++) {
		if (l->dead[i].ts > limit)
			l->dead[k++] = l->dead[i];
		else if (l->gone)
			l->gone(l->gone_ctx, l->dead[i].tgid);
	}
	l->ndead = k;
	return n;
}

void loader__stats(struct loader *l, uint64_t out[SONDE_STAT__MAX])
{
	int fd = bpf_map__fd(l->skel->maps.stats);
	__u64 *v = calloc(l->ncpus, sizeof(*v));

	memset(out, 0, sizeof(uint64_t) * SONDE_STAT__MAX);
	if (!v)
		return;
	for (__u32 i = 0; i < SONDE_STAT__MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < l->ncpus; c++)
			out[i] += v[c];
	}
	free(v);
}

int loader__attached(const struct loader *l, int *total)
{
	if (total)
		*total = l->nprogs;
	return l->nlinks;
}
