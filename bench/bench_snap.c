/*
 * bench_snap.c - snapshot write and load throughput (snap.h), no FUSE.
 *
 *   build/bench/bench_snap [N] [DIR]   # N items (default 1000000), store in DIR
 *
 * Builds a table of N "users" (partition key "id", ~110 bytes of JSON
 * each, two string attributes, a number and a list), inserted in key
 * order, then times snap_write() of the database into DIR (a temp dir
 * under /tmp by default) and snap_load() of that file into a fresh
 * database.  Prints wall-clock and CPU seconds and MB/s (of the file's
 * size) for each.  While snap_write runs, a second thread overwrites
 * random items of the table in a loop; the longest and the median of its
 * tbl_put() latencies say how long the snapshot paused writers (on a
 * loaded machine the longest also includes being descheduled: compare
 * with the "idle" line, the same writer with no snapshot running).
 * BENCH_SNAP_KEEP=1
 * keeps the file; BENCH_SNAP_LOAD=FILE only loads FILE (a kept snapshot)
 * and prints its load line: what to run under perf or callgrind.  Wall-clock numbers are noisy on a shared machine;
 * CPU time and MB/s of CPU time are the ones to compare.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#include "db.h"
#include "item.h"
#include "num.h"
#include "snap.h"

static void die(const char *what, int rc, struct dyn_err *err)
{
	char buf[600] = "";

	if (err && err->code)
		err_format(err, buf, sizeof(buf));
	fprintf(stderr, "bench_snap: %s: %s %s\n", what, strerror(-rc), buf);
	exit(1);
}

static void set_s(struct val *m, const char *name, const char *s)
{
	struct val v;

	if (val_init_str(&v, s, strlen(s)) < 0 || val_map_set(m, name, strlen(name), &v) < 0)
		die("building an item", -ENOMEM, NULL);
}

static void set_n(struct val *m, const char *name, long x)
{
	struct num n;
	struct val v;

	num_from_int64(&n, x);
	val_init_num(&v, &n);
	if (val_map_set(m, name, strlen(name), &v) < 0)
		die("building an item", -ENOMEM, NULL);
}

static void make_item(size_t i, struct val *item)
{
	char id[32], name[64], mail[64];
	struct val l, s;
	struct num n;
	int k;

	snprintf(id, sizeof(id), "u%08zu", i);
	snprintf(name, sizeof(name), "User Number %zu", i);
	snprintf(mail, sizeof(mail), "user%zu@example.org", i);
	val_init_map(item);
	set_s(item, "id", id);
	set_s(item, "name", name);
	set_s(item, "email", mail);
	set_n(item, "level", (long)(i % 18));
	val_init_list(&l);
	for (k = 0; k < 3; k++) {
		num_from_int64(&n, (int64_t)((i * 7 + (size_t)k * 13) % 101));
		val_init_num(&s, &n);
		if (val_list_append(&l, &s) < 0)
			die("building an item", -ENOMEM, NULL);
	}
	if (val_map_set(item, "scores", 6, &l) < 0)
		die("building an item", -ENOMEM, NULL);
}

struct writer {
	table_t *t;
	size_t n;	     /* items in the table */
	volatile int stop;   /* set by main */
	double lat[1 << 20]; /* put latencies, seconds */
	size_t nlat;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	unsigned long long x = 88172645463325252ULL;
	struct val item;
	double t0;
	int rc;

	while (!w->stop && w->nlat < sizeof(w->lat) / sizeof(w->lat[0])) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		make_item((size_t)(x % w->n), &item);
		t0 = clk(CLOCK_MONOTONIC);
		rc = tbl_put(w->t, &item, 0, NULL);
		w->lat[w->nlat++] = clk(CLOCK_MONOTONIC) - t0;
		val_free(&item);
		if (rc < 0)
			die("writer put", rc, NULL);
	}
	return NULL;
}

/* Start the writer; run fn(ctx) (or sleep 0.3 s); stop it; print its latencies. */
static void with_writer(const char *what, struct writer *w, void (*fn)(void *), void *ctx)
{
	pthread_t th;

	w->stop = 0;
	w->nlat = 0;
	if (pthread_create(&th, NULL, writer_run, w) != 0)
		die("pthread_create", -EAGAIN, NULL);
	if (fn)
		fn(ctx);
	else
		usleep(300000);
	w->stop = 1;
	pthread_join(th, NULL);
	qsort(w->lat, w->nlat, sizeof(w->lat[0]), cmp_d);
	if (w->nlat)
		printf("writer %-9s %8zu puts, median %7.1f us, p99 %7.1f us, max %7.2f ms\n", what,
		       w->nlat, w->lat[w->nlat / 2] * 1e6, w->lat[w->nlat * 99 / 100] * 1e6,
		       w->lat[w->nlat - 1] * 1e3);
}

struct write_ctx {
	const char *dir;
	db_t *db;
	struct snap_info *info;
	struct dyn_err *err;
	double wall, cpu;
	int rc;
};

static void do_write(void *arg)
{
	struct write_ctx *c = arg;
	double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_THREAD_CPUTIME_ID);

	c->rc = snap_write(c->dir, c->db, 1, c->info, c->err);
	c->cpu = clk(CLOCK_THREAD_CPUTIME_ID) - c0;
	c->wall = clk(CLOCK_MONOTONIC) - w0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000, i;
	char tmpl[] = "/tmp/bench_snap.XXXXXX", *dir = argc > 2 ? argv[2] : NULL, path[4096];
	struct table_schema s = {0};
	struct snap_info info, linfo;
	struct dyn_err err = {0};
	double w0, c0, ww, wc, lw, lc;
	struct write_ctx wctx = {0};
	struct writer *w;
	struct val item;
	table_t *t;
	db_t *db, *db2;
	int rc;

	if (getenv("BENCH_SNAP_LOAD")) {
		if ((rc = db_new(&db2)) < 0)
			die("db_new", rc, NULL);
		w0 = clk(CLOCK_MONOTONIC);
		c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
		rc = snap_load(getenv("BENCH_SNAP_LOAD"), db2, &linfo, &err);
		lc = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
		lw = clk(CLOCK_MONOTONIC) - w0;
		if (rc < 0)
			die("snap_load", rc, &err);
		printf("%-10s %8.3f %8.3f %10.1f %10.1f  (%llu items)\n", "load", lw, lc,
		       linfo.bytes / 1e6 / lw, linfo.bytes / 1e6 / lc,
		       (unsigned long long)linfo.items);
		db_free(db2);
		return 0;
	}
	if (!dir && !(dir = mkdtemp(tmpl)))
		die("mkdtemp", -errno, NULL);
	snprintf(s.pk.name, sizeof(s.pk.name), "id");
	s.pk.type = VAL_S;
	if ((rc = db_new(&db)) < 0 || (rc = db_create_table(db, "users", &s, NULL)) < 0 ||
	    (rc = db_table_open(db, "users", &t)) < 0)
		die("creating the table", rc, NULL);
	for (i = 0; i < n; i++) {
		make_item(i, &item);
		if ((rc = tbl_put(t, &item, 0, NULL)) < 0)
			die("put", rc, NULL);
		val_free(&item);
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		die("calloc", -ENOMEM, NULL);
	w->t = t;
	w->n = n;
	with_writer("idle", w, NULL, NULL);
	wctx.dir = dir;
	wctx.db = db;
	wctx.info = &info;
	wctx.err = &err;
	with_writer("snapshot", w, do_write, &wctx);
	ww = wctx.wall;
	wc = wctx.cpu;
	rc = wctx.rc;
	if (rc < 0 || (rc = snap_commit(dir, &err)) < 0)
		die("snap_write", rc, &err);
	tbl_close(t);
	free(w);
	db_free(db);

	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_NAME);
	if ((rc = db_new(&db2)) < 0)
		die("db_new", rc, NULL);
	w0 = clk(CLOCK_MONOTONIC);
	c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
	rc = snap_load(path, db2, &linfo, &err);
	lc = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
	lw = clk(CLOCK_MONOTONIC) - w0;
	if (rc < 0)
		die("snap_load", rc, &err);
	if (linfo.items != n)
		die("snap_load: item count", -EIO, NULL);
	db_free(db2);

	printf("snapshot of %zu items, %.1f MB (write: CPU time of the writing thread)\n", n,
	       info.bytes / 1e6);
	printf("%-10s %8s %8s %10s %10s\n", "op", "wall s", "cpu s", "MB/s wall", "MB/s cpu");
	printf("%-10s %8.3f %8.3f %10.1f %10.1f\n", "write", ww, wc, info.bytes / 1e6 / ww,
	       info.bytes / 1e6 / wc);
	printf("snap_write's longest chunk under a read lock: %.2f ms CPU\n",
	       info.max_hold_ns / 1e6);
	printf("%-10s %8.3f %8.3f %10.1f %10.1f\n", "load", lw, lc, info.bytes / 1e6 / lw,
	       info.bytes / 1e6 / lc);
	if (!getenv("BENCH_SNAP_KEEP")) {
		unlink(path);
		if (dir == tmpl)
			rmdir(dir);
	}
	return 0;
}
