/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The uprobe family: plaintext of TLS connections, where a target hands it to
 * its TLS library (OpenSSL 3 and 1.1, and libraries that export the same
 * functions) and where the library hands it back. Included at the end of
 * capture.bpf.c: the plaintext goes through the same record path as a
 * socket's bytes (sonde_rec_ssl, rec_run), with the connection's identity, role and walk.
 *
 * Userspace attaches these programs once per library file (uprobe_multi is
 * not needed: a handful of functions), for every process that maps it; each
 * program first tests the caller's bit in target_bits, as the syscall
 * programs do.
 *
 *   SSL_set_fd(ssl, fd)                   the SSL * uses that socket
 *   SSL_write(ssl, buf, num) -> n         n bytes of buf went out
 *   SSL_write_ex(ssl, buf, num, *written) -> 1, *written bytes went out
 *   SSL_read(ssl, buf, num) -> n          n bytes came into buf
 *   SSL_read_ex(ssl, buf, num, *readbytes) -> 1
 *
 * Which socket: the read or write the same thread makes inside the call
 * (tls_syscall, in rec_run, notes it per SSL * in ssl_fds), or what ssl_fds
 * already holds for that SSL * (SSL_set_fd, an earlier call): an SSL_read
 * served from the library's buffer makes no syscall. A library that does its
 * own socket I/O around memory BIOs (Node.js) makes none inside its calls:
 * the first SSL_read of an SSL * gets the TLS socket the thread read last
 * (tls_reads), and its SSL_writes that socket through ssl_fds. A write is
 * never tied by the thread alone: an event loop's write may answer any of
 * its connections.
 */

static __always_inline int ssl_enter(struct pt_regs *ctx, __u8 dir, int ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call sc = {};
	__u64 bit, *w;

	if (!target_of(id >> 32))
		return 0;
	w = ssl_thread_word(id, &bit);
	if (!(*w & bit))
		__sync_fetch_and_or(w, bit);
	sc.ssl = PT_REGS_PARM1(ctx);
	sc.buf = PT_REGS_PARM2(ctx);
	sc.out = ex ? PT_REGS_PARM4(ctx) : 0;
	sc.fd = (__u32)-1;
	sc.dir = dir;
	sc.ts = bpf_ktime_get_ns();
	sc.num = (__u32)PT_REGS_PARM3(ctx);
	if (dir == SONDE_DIR_EGRESS) {
		struct sonde_ssl_key k = { .tgid = id >> 32, .ssl = sc.ssl };
		__u32 *n = bpf_map_lookup_elem(&ssl_wretry, &k);

		/* The same write again after WANT_WRITE: its bytes went out already. */
		if (n) {
			sc.emitted = *n == sc.num;
			bpf_map_delete_elem(&ssl_wretry, &k);
		}
	}
	bpf_map_update_elem(&ssl_calls, &id, &sc, BPF_ANY);
	return 0;
}

#define IO_DONE_SSL(ctx, r)                                                    \
	do {                                                                   \
		if ((r) == IO_REC)                                             \
			bpf_tail_call(ctx, &rec_ssl_tail, 0);                  \
		return 0;                                                      \
	} while (0)

static __always_inline int ssl_return(struct pt_regs *ctx, const __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sonde_target *t = target_of(id >> 32); /* others stop here, as at the entry */
	struct ssl_call *p;
	struct io_args a = {};
	struct ssl_call sc;
	long ret = (int)PT_REGS_RC(ctx); /* an int: -1 is 0xffffffff in the register */
	__u64 bit, *w;
	int ok;

	if (!t)
		return 0;
	w = ssl_thread_word(id, &bit);
	if (*w & bit)
		__sync_fetch_and_and(w, ~bit);
	if (!(p = bpf_map_lookup_elem(&ssl_calls, &id)))
		return 0;
	sc = *p;
	bpf_map_delete_elem(&ssl_calls, &id);
	if (sc.dir != dir)
		return 0; /* not the call that returns: a probe attached in between */
	ok = sc.out ? ret == 1 : ret > 0; /* _ex: 1 and the count, or 0 */
	if (dir == SONDE_DIR_EGRESS && sc.emitted) {
		/* Sent at its write syscall; failed: the caller must repeat it. */
		struct sonde_ssl_key k = { .tgid = id >> 32, .ssl = sc.ssl };

		if (!ok)
			bpf_map_update_elem(&ssl_wretry, &k, &sc.num, BPF_ANY);
		return 0;
	}
	if (!ok)
		return 0;
	if (sc.out) {
		__u64 n = 0;

		if (bpf_probe_read_user(&n, sizeof(n), (void *)sc.out))
			return 0;
		ret = (long)n;
	}
	if (ret <= 0)
		return 0;
	if (sc.fd == (__u32)-1) {
		struct sonde_ssl_key k = { .tgid = id >> 32, .ssl = sc.ssl };
		__u32 *fd = bpf_map_lookup_elem(&ssl_fds, &k);

		/* A memory BIO: the socket this thread read the ciphertext from. */
		if (!fd && dir == SONDE_DIR_INGRESS &&
		    (fd = bpf_map_lookup_elem(&tls_reads, &id))) {
			struct conn_state *cs = conn_cached(k.tgid, *fd, t->gen);

			bpf_map_update_elem(&ssl_fds, &k, fd, BPF_ANY);
			if (cs)
				cs->tls = 1; /* from now on its ciphertext is not sent */
		}
		if (!fd) {
			stat_inc(SONDE_STAT_TLS_NOFD);
			return 0;
		}
		sc.fd = *fd;
	}
	a.id = id;
	a.buf = sc.buf;
	a.fd = sc.fd;
	/*
	 * Dated now: bytes read, and bytes written that no syscall of the call
	 * carried (a memory BIO: they leave after the return).
	 */
	IO_DONE_SSL(ctx, io_pass_set(ret, dir == SONDE_DIR_EGRESS ? SONDE_CALL_SSL_WRITE
								  : SONDE_CALL_SSL_READ,
				     dir, IO_TLS_NOW, &a));
}

/* TLS calls' records (tail-called by ssl_return). */
SEC("uprobe")
int sonde_rec_ssl(struct pt_regs *ctx)
{
	rec_run(IO_TLS_NOW, -1);
	return 0;
}

/*
 * A target maps a file executable (ld.so and dlopen map a library's code so):
 * userspace looks for TLS libraries among its maps again. Rare, and only
 * targets get past the first test.
 */
SEC("tp/syscalls/sys_enter_mmap")
int sonde_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_target *t = target_of(tgid);

	if (!t || !(ctx->args[2] & 4 /* PROT_EXEC */) || (long)ctx->args[4] < 0)
		return 0;
	proc_record(SONDE_EV_MMAP, tgid, t->service);
	return 0;
}

SEC("uprobe")
int sonde_ssl_set_fd(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sonde_ssl_key k = { .tgid = id >> 32, .ssl = PT_REGS_PARM1(ctx) };
	__u32 fd = (__u32)PT_REGS_PARM2(ctx);
	struct sonde_target *t = target_of(id >> 32);
	struct conn_state *cs;

	if (!t)
		return 0;
	cs = conn_cached(k.tgid, fd, t->gen);
	if (!cs)
		cs = conn_learn(k.tgid, fd, t->gen, SONDE_ROLE_UNKNOWN);
	if (!cs || cs->watch != SONDE_WATCH_SOCKET)
		return 0;
	cs->tls = 1; /* from the handshake on, its bytes are ciphertext */
	bpf_map_update_elem(&ssl_fds, &k, &fd, BPF_ANY);
	return 0;
}

SEC("uprobe")
int sonde_ssl_write(struct pt_regs *ctx)
{
	return ssl_enter(ctx, SONDE_DIR_EGRESS, 0);
}

SEC("uprobe")
int sonde_ssl_write_ex(struct pt_regs *ctx)
{
	return ssl_enter(ctx, SONDE_DIR_EGRESS, 1);
}

SEC("uprobe")
int sonde_ssl_read(struct pt_regs *ctx)
{
	return ssl_enter(ctx, SONDE_DIR_INGRESS, 0);
}

SEC("uprobe")
int sonde_ssl_read_ex(struct pt_regs *ctx)
{
	return ssl_enter(ctx, SONDE_DIR_INGRESS, 1);
}

/* The returns of SSL_write and SSL_write_ex; the entry said where _ex's count is. */
SEC("uretprobe")
int sonde_ssl_write_ret(struct pt_regs *ctx)
{
	return ssl_return(ctx, SONDE_DIR_EGRESS);
}

SEC("uretprobe")
int sonde_ssl_read_ret(struct pt_regs *ctx)
{
	return ssl_return(ctx, SONDE_DIR_INGRESS);
}
