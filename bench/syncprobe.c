/*
 * syncprobe.c - what one durable small append costs on a disk, by how
 * the file is written.  Each mode writes N records of SIZE bytes one
 * after another to its own fresh file in DIR, making each durable before
 * the next; the modes take turns record by record, so that the disk's
 * other traffic hits them alike.  Prints per mode the median, 10th and
 * 90th percentile µs of write + sync.
 *
 * Usage: syncprobe DIR [N [SIZE [MODE[:SIZE]...]]]   (defaults 200 200, all modes)
 *   append      write at the end (the file grows) + fdatasync: what
 *               bench/run's probe and a journal that grows pay
 *   falloc      the same into space fallocate()d ahead with
 *               FALLOC_FL_KEEP_SIZE (the size still grows per record)
 *   unwritten   fallocate()d ahead, size set (unwritten extents: the
 *               first write to each block converts it, a metadata change)
 *   zeroed      into a region written with zeroes and synced ahead: the
 *               size and the blocks are already on disk, so fdatasync has
 *               only the data to write (and the cache flush); what a
 *               journal record pays with fsync=always (engine/journal.c,
 *               "Room written ahead")
 *   zeroed-dsync  the same with O_DSYNC writes instead of fdatasync
 *   zeroed-stat   zeroed, with an fstat() after each sync (untimed): the
 *               file's ctime was queried, so the next write takes a
 *               fine-grained timestamp and its mtime always moves; on an
 *               ext4 without a journal fdatasync then also writes the
 *               inode's block (what a journal record pays whenever the
 *               clock moved since the last one; bench/README.md, "Why a
 *               create's sync cost more than an unlink's")
 * MODE:SIZE gives that mode its own record size (zeroed:258 zeroed:75:
 * the same layout, two sizes, taking turns).
 * The ahead-of-time work (1 MiB at a time) is not timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timing.h"

#define CHUNK (1 << 20)
#define MAXMODES 8

struct probe {
	const char *mode;
	char path[4096];
	int fd;
	bool dsync, stat;
	int size;
	off_t end, ready;
	double *t;
};

static void die(const char *what)
{
	fprintf(stderr, "syncprobe: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Make room for the next record as the mode does, untimed. */
static void ahead(struct probe *p, int size)
{
	static char z[CHUNK];

	if (p->end + size <= p->ready)
		return;
	if (!strcmp(p->mode, "falloc") &&
	    fallocate(p->fd, FALLOC_FL_KEEP_SIZE, p->ready, CHUNK) < 0)
		die("fallocate");
	if (!strcmp(p->mode, "unwritten") &&
	    (fallocate(p->fd, 0, p->ready, CHUNK) < 0 || fsync(p->fd) < 0))
		die("fallocate");
	if (!strncmp(p->mode, "zeroed", 6) &&
	    (pwrite(p->fd, z, CHUNK, p->ready) != CHUNK || fsync(p->fd) < 0))
		die("zeroing ahead");
	p->ready += CHUNK;
}

int main(int argc, char **argv)
{
	static const char *all[] = {"append", "falloc", "unwritten", "zeroed", "zeroed-dsync"};
	static const char *known = " append falloc unwritten zeroed zeroed-dsync zeroed-stat ";
	int n = argc > 2 ? atoi(argv[2]) : 200, size = argc > 3 ? atoi(argv[3]) : 200, nm = 0;
	struct probe pr[MAXMODES];
	char rec[65536], word[64], *colon;
	double t0;

	if (argc < 2 || n < 10 || size < 1 || size > 65536 || argc - 4 > MAXMODES) {
		fprintf(stderr, "usage: syncprobe DIR [N [SIZE [MODE[:SIZE]...]]]\n");
		return 2;
	}
	memset(rec, 'x', sizeof(rec));
	for (int i = 0; i < (argc > 4 ? argc - 4 : 5); i++) {
		struct probe *p = &pr[nm];

		p->mode = argc > 4 ? argv[4 + i] : all[i];
		p->size = size;
		colon = strchr(p->mode, ':');
		if (colon) {
			*colon = 0;
			p->size = atoi(colon + 1);
			if (p->size < 1 || p->size > 65536) {
				fprintf(stderr, "syncprobe: bad size %s\n", colon + 1);
				return 2;
			}
		}
		snprintf(word, sizeof(word), " %s ", p->mode);
		if (!strstr(known, word)) {
			fprintf(stderr, "syncprobe: unknown mode %s\n", p->mode);
			return 2;
		}
		p->dsync = !strcmp(p->mode, "zeroed-dsync");
		p->stat = !strcmp(p->mode, "zeroed-stat");
		snprintf(p->path, sizeof(p->path), "%s/syncprobe.%d.%d", argv[1], (int)getpid(),
			 nm);
		p->fd =
		    open(p->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | (p->dsync ? O_DSYNC : 0),
			 0600);
		if (p->fd < 0)
			die(p->path);
		p->end = p->ready = 0;
		p->t = calloc((size_t)n, sizeof(double));
		if (!p->t)
			die("calloc");
		nm++;
	}
	for (int r = 0; r < n; r++)
		for (int m = 0; m < nm; m++) {
			struct probe *p = &pr[m];

			ahead(p, p->size);
			t0 = now_us();
			if (pwrite(p->fd, rec, (size_t)p->size, p->end) != p->size)
				die("pwrite");
			if (!p->dsync && fdatasync(p->fd) < 0)
				die("fdatasync");
			p->t[r] = now_us() - t0;
			p->end += p->size;
			if (p->stat) {
				struct stat sb;

				if (fstat(p->fd, &sb) < 0)
					die("fstat");
			}
		}
	for (int m = 0; m < nm; m++) {
		struct probe *p = &pr[m];

		close(p->fd);
		unlink(p->path);
		qsort(p->t, (size_t)n, sizeof(double), cmp_d);
		printf("%-13s %d x %d B: median %7.1f us  p10 %7.1f  p90 %7.1f\n", p->mode, n, p->size,
		       p->t[n / 2], p->t[n / 10], p->t[n * 9 / 10]);
		free(p->t);
	}
	return 0;
}
