/*
 * faultshim.c - an LD_PRELOAD library that makes file operations on a
 * store's files fail on demand, for tests/e2e/t_faults.sh (issue 11).
 *
 *   LD_PRELOAD=build/tests/faultshim.so DYNFS_FAULT_DIR=STORE \
 *   DYNFS_FAULTS=RULES dynfs STORE MNT ...
 *
 * RULES is a file re-read at every intercepted call on a file of the
 * store directory, so a test changes the faults while dynfs runs.  One
 * rule per line:
 *
 *   OP ERRNO [NAME]
 *
 * OP: write (write, pwrite, writev), fdatasync, fsync, ftruncate,
 * rename (the target's name), open (open/openat for writing or
 * creating); ERRNO: EIO, ENOSPC, EROFS, EDQUOT, EPERM; NAME: the file's
 * exact name in the store directory (any file if absent).  The matching
 * call fails with that errno and does nothing.  Only files directly in
 * the store directory are affected; everything else goes through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char store_dir[PATH_MAX];
static int have_dir = -1;

static const char *dir_of_store(void)
{
	const char *d;

	if (have_dir < 0) {
		d = getenv("DYNFS_FAULT_DIR");
		have_dir = d && realpath(d, store_dir) ? 1 : 0;
	}
	return have_dir ? store_dir : NULL;
}

static int errno_of(const char *s)
{
	static const struct {
		const char *name;
		int e;
	} t[] = {{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EROFS", EROFS}, {"EDQUOT", EDQUOT},
		 {"EPERM", EPERM}};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name))
			return t[i].e;
	return 0;
}

/* The errno a rule gives (op, name), or 0.  Reads the rules with raw syscalls. */
static int rule_for(const char *op, const char *name)
{
	const char *rules = getenv("DYNFS_FAULTS");
	char buf[4096], *line, *save = NULL;
	ssize_t n;
	int fd, e = 0;

	if (!rules)
		return 0;
	fd = (int)syscall(SYS_openat, AT_FDCWD, rules, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line && !e; line = strtok_r(NULL, "\n", &save)) {
		char o[32], er[32], nm[256] = "";
		int k = sscanf(line, "%31s %31s %255s", o, er, nm);

		if (k < 2 || strcmp(o, op))
			continue;
		if (k == 3 && strcmp(nm, name))
			continue;
		e = errno_of(er);
	}
	return e;
}

/* If path names a file directly in the store directory, its name; else NULL. */
static const char *store_name(const char *path, char *tmp, size_t size)
{
	const char *d = dir_of_store(), *base;
	char dirpart[PATH_MAX], real[PATH_MAX];
	size_t dl;

	if (!d || !path)
		return NULL;
	base = strrchr(path, '/');
	if (base) {
		dl = (size_t)(base - path);
		if (dl >= sizeof(dirpart))
			return NULL;
		memcpy(dirpart, path, dl);
		dirpart[dl] = 0;
		if (!dl)
			strcpy(dirpart, "/");
		base++;
	} else {
		strcpy(dirpart, ".");
		base = path;
	}
	if (!realpath(dirpart, real) || strcmp(real, d))
		return NULL;
	snprintf(tmp, size, "%s", base);
	return tmp;
}

static const char *fd_name(int fd, char *tmp, size_t size)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = 0;
	return store_name(path, tmp, size);
}

static int fd_fault(const char *op, int fd)
{
	char tmp[PATH_MAX];
	const char *nm;

	if (!dir_of_store())
		return 0;
	nm = fd_name(fd, tmp, sizeof(tmp));
	return nm ? rule_for(op, nm) : 0;
}

#define REAL(ret, name, ...)                                                                     \
	static ret (*real_##name)(__VA_ARGS__);                                                  \
	if (!real_##name)                                                                        \
		real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, int, const void *, size_t);
	int e = fd > 2 ? fd_fault("write", fd) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
	int e = fd_fault("write", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(ssize_t, writev, int, const struct iovec *, int);
	int e = fd > 2 ? fd_fault("write", fd) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	return real_writev(fd, iov, cnt);
}

int fdatasync(int fd)
{
	REAL(int, fdatasync, int);
	int e = fd_fault("fdatasync", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_fdatasync(fd);
}

int fsync(int fd)
{
	REAL(int, fsync, int);
	int e = fd_fault("fsync", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_fsync(fd);
}

int ftruncate(int fd, off_t len)
{
	REAL(int, ftruncate, int, off_t);
	int e = fd_fault("ftruncate", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

int rename(const char *from, const char *to)
{
	REAL(int, rename, const char *, const char *);
	char tmp[PATH_MAX];
	const char *nm = store_name(to, tmp, sizeof(tmp));
	int e = nm ? rule_for("rename", nm) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	return real_rename(from, to);
}

static int open_fault(const char *path, int flags)
{
	char tmp[PATH_MAX];
	const char *nm;

	if (!(flags & (O_WRONLY | O_RDWR | O_CREAT)) || !dir_of_store())
		return 0;
	nm = store_name(path, tmp, sizeof(tmp));
	return nm ? rule_for("open", nm) : 0;
}

int open(const char *path, int flags, ...)
{
	REAL(int, open, const char *, int, ...);
	mode_t mode = 0;
	va_list ap;
	int e = open_fault(path, flags);

	if (e) {
		errno = e;
		return -1;
	}
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return open(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	REAL(int, openat, int, const char *, int, ...);
	mode_t mode = 0;
	va_list ap;
	int e = path[0] == '/' || dirfd == AT_FDCWD ? open_fault(path, flags) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return real_openat(dirfd, path, flags, mode);
}
