/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fd -> socket helpers for BPF programs running in syscall context: walk the
 * current task's fd table to the struct socket and read its identity.
 */
#ifndef SONDE_BPF_SOCK_H
#define SONDE_BPF_SOCK_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "sonde.h"

#define S_IFMT   00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM_T 1

/*
 * The struct file behind fd in the current task, or NULL. Four dependent
 * kernel reads: task->files->fdt->fd[fd].
 */
static __always_inline struct file *sonde_fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;

	if (!files)
		return NULL;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/*
 * Fill t from the stream socket behind fd. Returns 0 for a TCP (v4/v6) or
 * Unix stream socket, -1 for another socket (UDP, ...), -2 for no socket at
 * all (file, pipe, tty).
 */
static __always_inline int sonde_sock_tuple(__u32 fd, struct sonde_conn_tuple *t)
{
	struct file *f = sonde_fd_file(fd);
	struct inode *inode;
	struct socket *sock;
	struct sock *sk;
	__u16 family;
	__u32 mode;

	if (!f)
		return -1;
	inode = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return -2;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM_T)
		return -1;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return -1;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->family = family;
	/* Addresses by explicit size: BPF_CORE_READ_INTO on an array copies one byte. */
	if (family == SONDE_AF_INET) {
		bpf_core_read(t->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == SONDE_AF_INET6) {
		bpf_core_read(t->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else if (family == SONDE_AF_UNIX) {
		struct unix_sock *us = (struct unix_sock *)sk;
		struct sock *peer = BPF_CORE_READ(us, peer);

		t->lino = BPF_CORE_READ(inode, i_ino);
		if (peer) {
			struct socket *psock = BPF_CORE_READ(peer, sk_socket);
			struct file *pf = psock ? BPF_CORE_READ(psock, file) : NULL;
			struct inode *pinode = pf ? BPF_CORE_READ(pf, f_inode) : NULL;

			if (pinode)
				t->rino = BPF_CORE_READ(pinode, i_ino);
		}
		return 0;
	} else {
		return -1;
	}
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return 0;
}

#endif /* SONDE_BPF_SOCK_H */
