/*
 * fsops.c - time N file operations of one kind in one directory, in one
 * process, so that bench/run measures the filesystem and not fork/exec.
 *
 * Usage: fsops OP DIR N [SIZE]
 *   create   open(O_CREAT|O_TRUNC) + write a small JSON item + close, N files
 *   stat     stat each of the N files
 *   read     open + read to EOF + close each file (what `cat` does)
 *   unlink   unlink each file
 *   readdir  opendir + readdir to the end (N is the expected entry count)
 * Files are DIR/k0000000.json ... in that (key) order; SIZE is the
 * approximate size of a created item in bytes (default 100).
 *
 * Prints one line "OP N TOTAL_US US_PER_OP".  Any failing call stops the
 * run with a message and exit status 1: a benchmark that silently did
 * less work would report nonsense.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fsops: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void name_of(char *buf, size_t len, const char *dir, long i)
{
	snprintf(buf, len, "%s/k%07ld.json", dir, i);
}

static void do_create(const char *dir, long n, int size)
{
	char path[4096], body[8192], pad[8192];
	int padlen = size > 40 ? size - 40 : 1;

	if (padlen >= (int)sizeof(pad))
		padlen = sizeof(pad) - 1;
	memset(pad, 'x', padlen);
	pad[padlen] = '\0';
	for (long i = 0; i < n; i++) {
		int len = snprintf(body, sizeof(body), "{\"n\": %ld, \"data\": \"%s\"}\n", i, pad);
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("open", path);
		if (write(fd, body, len) != len)
			die("write", path);
		if (close(fd) < 0)
			die("close", path);
	}
}

static void do_stat(const char *dir, long n)
{
	char path[4096];
	struct stat st;

	for (long i = 0; i < n; i++) {
		name_of(path, sizeof(path), dir, i);
		if (stat(path, &st) < 0)
			die("stat", path);
	}
}

static void do_read(const char *dir, long n)
{
	char path[4096], buf[65536];

	for (long i = 0; i < n; i++) {
		ssize_t r;
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open", path);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			;
		if (r < 0)
			die("read", path);
		if (close(fd) < 0)
			die("close", path);
	}
}

static void do_unlink(const char *dir, long n)
{
	char path[4096];

	for (long i = 0; i < n; i++) {
		name_of(path, sizeof(path), dir, i);
		if (unlink(path) < 0)
			die("unlink", path);
	}
}

static long do_readdir(const char *dir)
{
	DIR *d = opendir(dir);
	long count = 0;

	if (!d)
		die("opendir", dir);
	errno = 0;
	while (readdir(d))
		count++;
	if (errno)
		die("readdir", dir);
	closedir(d);
	return count;
}

int main(int argc, char **argv)
{
	const char *op, *dir;
	double t0, t;
	long n;
	int size;

	if (argc < 4) {
		fprintf(stderr, "usage: fsops create|stat|read|unlink|readdir DIR N [SIZE]\n");
		return 2;
	}
	op = argv[1];
	dir = argv[2];
	n = atol(argv[3]);
	size = argc > 4 ? atoi(argv[4]) : 100;
	t0 = now_us();
	if (strcmp(op, "create") == 0) {
		do_create(dir, n, size);
	} else if (strcmp(op, "stat") == 0) {
		do_stat(dir, n);
	} else if (strcmp(op, "read") == 0) {
		do_read(dir, n);
	} else if (strcmp(op, "unlink") == 0) {
		do_unlink(dir, n);
	} else if (strcmp(op, "readdir") == 0) {
		long got = do_readdir(dir);

		if (got < n) {
			fprintf(stderr, "fsops: readdir %s: %ld entries, expected %ld\n", dir, got, n);
			return 1;
		}
	} else {
		fprintf(stderr, "fsops: unknown op %s\n", op);
		return 2;
	}
	t = now_us() - t0;
	printf("%s %ld %.0f %.3f\n", op, n, t, n > 0 ? t / n : 0.0);
	return 0;
}
