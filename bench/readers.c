/*
 * readers.c - one reader or one writer of bench_readers.sh: open, read
 * to EOF and close the files named in a list, round and round, for a
 * while; or write items in a loop.  Several of these run at once to
 * measure how reads scale over cores and whether a writer stalls them.
 *
 * Usage:
 *   readers read SECONDS LISTFILE    read the paths in LISTFILE (one a
 *                                    line) in turn until SECONDS passed
 *   readers write SECONDS DIR        open(O_CREAT|O_TRUNC) + write a
 *                                    small item + close DIR/w%04d.json,
 *                                    cycling over 1000 names
 * Prints one line:
 *   OP OPS SECONDS OPS_PER_S P50_US P99_US MAX_US
 * the latencies being those of single open-read-close (write: open-
 * write-close) sequences.  Any failing call stops the run with a message
 * and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "readers: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Latencies of the operations done so far. */
static double *lat;
static size_t nlat, caplat;

static void record(double us)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 65536;
		lat = realloc(lat, caplat * sizeof(*lat));
		if (!lat) {
			fprintf(stderr, "readers: out of memory\n");
			exit(1);
		}
	}
	lat[nlat++] = us;
}

static char **read_list(const char *file, size_t *n)
{
	FILE *f = fopen(file, "r");
	char **v = NULL, line[4096];
	size_t cap = 0;

	if (!f)
		die("open", file);
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if (!(v = realloc(v, cap * sizeof(*v))))
				die("realloc", file);
		}
		if (!(v[(*n)++] = strdup(line)))
			die("strdup", file);
	}
	fclose(f);
	if (*n == 0) {
		fprintf(stderr, "readers: %s names no file\n", file);
		exit(1);
	}
	return v;
}

static void one_read(const char *path)
{
	char buf[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die("open", path);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	if (r < 0)
		die("read", path);
	if (close(fd) < 0)
		die("close", path);
}

static void one_write(const char *dir, long i)
{
	char path[4096], body[256];
	int len, fd;

	snprintf(path, sizeof(path), "%s/w%04ld.json", dir, i % 1000);
	len = snprintf(body, sizeof(body), "{\"n\": %ld, \"data\": \"%s\"}\n", i,
		       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open", path);
	if (write(fd, body, len) != len)
		die("write", path);
	if (close(fd) < 0)
		die("close", path);
}

int main(int argc, char **argv)
{
	double secs, t0, t1, end, t;
	char **paths = NULL;
	size_t npaths = 0;
	long i;
	int wr;

	if (argc != 4 || (strcmp(argv[1], "read") && strcmp(argv[1], "write"))) {
		fprintf(stderr, "usage: readers read SECONDS LISTFILE | write SECONDS DIR\n");
		return 2;
	}
	wr = !strcmp(argv[1], "write");
	secs = atof(argv[2]);
	if (!wr)
		paths = read_list(argv[3], &npaths);
	t0 = now_us();
	end = t0 + secs * 1e6;
	for (i = 0, t = t0; t < end; i++) {
		if (wr)
			one_write(argv[3], i);
		else
			one_read(paths[i % npaths]);
		t1 = now_us();
		record(t1 - t);
		t = t1;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_d);
	printf("%s %zu %.3f %.1f %.1f %.1f %.1f\n", argv[1], nlat, (t - t0) / 1e6,
	       nlat / ((t - t0) / 1e6), lat[nlat / 2], lat[(size_t)(nlat * 0.99)],
	       lat[nlat - 1]);
	return 0;
}
