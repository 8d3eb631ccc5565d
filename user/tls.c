// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/metrics.h"
#include "loader.h"
#include "tls.h"

#define FILES_MAX 1024 /* files looked at (probed or not), remembered by device and inode */
#define PENDING_MAX 1024 /* processes that mapped code since the last flush */

enum file_kind { FILE_PLAIN = 0, FILE_PROBED, FILE_UNSUPPORTED };

struct seen {
	dev_t dev;
	ino_t ino;
	uint8_t kind;
};

struct tls_libs {
	struct loader *l;
	int verbose;
	struct seen files[FILES_MAX];
	int nfiles;
	pid_t pending[PENDING_MAX];
	int npending;
	struct metric_family *libraries, *unsupported;
	int nprobed;
};

struct tls_libs *tls_libs__new(struct loader *l, struct metrics *m, int verbose)
{
	static const char *const binary[] = { "binary" };
	struct tls_libs *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->l = l;
	t->verbose = verbose;
	t->libraries = metrics__gauge(m, "sonde_tls_libraries",
				      "Files (TLS libraries, executables with OpenSSL inside) whose "
				      "SSL_read and SSL_write sonde probes",
				      NULL, 0);
	t->unsupported = metrics__gauge(m, "sonde_tls_unsupported",
					"1 for a TLS library an observed process maps whose plaintext "
					"sonde cannot read (no SSL_read and SSL_write symbols)",
					binary, 1);
	if (!t->libraries || !t->unsupported) {
		free(t);
		return NULL;
	}
	metric__set(t->libraries, NULL, 0);
	return t;
}

void tls_libs__free(struct tls_libs *t)
{
	free(t);
}

static struct seen *seen_find(struct tls_libs *t, dev_t dev, ino_t ino)
{
	for (int i = 0; i < t->nfiles; i++)
		if (t->files[i].dev == dev && t->files[i].ino == ino)
			return &t->files[i];
	return NULL;
}

/* Does the ELF file at path define (not import) both SSL_read and SSL_write? */
static bool elf_defines_ssl(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && found != 3 && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && found != 3; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF || !s.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (name && !strcmp(name, "SSL_read"))
				found |= 1;
			else if (name && !strcmp(name, "SSL_write"))
				found |= 2;
		}
	}
	elf_end(elf);
	close(fd);
	return found == 3;
}

/* "libssl.so.3", "libssl.so.1.1", "libssl.so": OpenSSL's (NSS's is libssl3.so). */
static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strncmp(base ? base + 1 : path, "libssl.so", 9);
}

/*
 * A file pid maps at range ("start-end" of its maps line; path as sonde sees
 * it): probe it if it is a TLS library not seen yet. The file is reached
 * through /proc/PID/map_files/RANGE, the very file mapped, whatever mount
 * namespace (container) the process lives in.
 */
static void look_at(struct tls_libs *t, pid_t pid, const char *range, const char *path, bool exe)
{
	char full[128];
	struct stat st;
	struct seen *s;
	int n;

	snprintf(full, sizeof(full), "/proc/%d/map_files/%s", pid, range);
	if (stat(full, &st) || seen_find(t, st.st_dev, st.st_ino) || t->nfiles == FILES_MAX)
		return;
	s = &t->files[t->nfiles++];
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->kind = FILE_PLAIN;
	if (exe && !elf_defines_ssl(full))
		return; /* an executable without OpenSSL inside: its libraries say */
	n = loader__attach_tls(t->l, full);
	if (n > 0) {
		s->kind = FILE_PROBED;
		metric__set(t->libraries, NULL, ++t->nprobed);
		if (t->verbose)
			fprintf(stderr, "sonde: TLS: probing %s (%d functions; pid %d maps it)\n", path,
				n, pid);
		return;
	}
	s->kind = FILE_UNSUPPORTED;
	metric__set(t->unsupported, (const char *const[]){ path }, 1);
	fprintf(stderr, "sonde: TLS: %s: cannot probe SSL_read and SSL_write (%s); its "
			"connections stay unread\n", path, strerror(n < 0 ? -n : ENOENT));
}

void tls_libs__scan(struct tls_libs *t, pid_t pid)
{
	char path[64], line[4096 + 256], exe[4096];
	ssize_t n;
	FILE *f;

	if (!t)
		return;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char range[40], perms[8], *file;
		int off = 0;

		/* address perms offset dev inode path */
		if (sscanf(line, "%39s %7s %*s %*s %*s %n", range, perms, &off) != 2 || !off ||
		    !strchr(perms, 'x'))
			continue;
		file = line + off;
		file[strcspn(file, "\n")] = '\0';
		if (file[0] != '/' || strstr(file, " (deleted)"))
			continue;
		if (is_libssl(file))
			look_at(t, pid, range, file, false);
		else if (exe[0] && !strcmp(file, exe))
			look_at(t, pid, range, file, true);
	}
	fclose(f);
}

void tls_libs__mapped(struct tls_libs *t, pid_t pid)
{
	if (!t)
		return;
	for (int i = 0; i < t->npending; i++)
		if (t->pending[i] == pid)
			return;
	if (t->npending < PENDING_MAX)
		t->pending[t->npending++] = pid;
}

void tls_libs__flush(struct tls_libs *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->npending; i++)
		tls_libs__scan(t, t->pending[i]);
	t->npending = 0;
}
