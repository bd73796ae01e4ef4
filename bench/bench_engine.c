/*
 * bench_engine.c - throughput and memory of the storage engine (db.h).
 *
 * Build and run (from the repository root, after `make`):
 *
 *   cc -O2 -g -std=gnu11 -D_GNU_SOURCE -pthread -Iengine \
 *      -o build/bench_engine bench/bench_engine.c build/libengine.a \
 *      $(pkg-config --libs jansson) -lm
 *   build/bench_engine [N]          # N items, default 1000000
 *
 * The table is the quiz-stats table of the design notes: partition key
 * "id#level" (S), sort key "week" (S, "2023-31"), attributes id, level,
 * finished and scores (a list of numbers).  Each partition holds 100
 * weeks, so a query-100 reads one whole partition.  Items are inserted
 * in a shuffled order (the worst case for B+tree fill); BENCH_SEQ=1
 * inserts them in key order instead, as loading a snapshot does.
 * BENCH_CHECK=1 runs tbl_check_integrity() at the end.
 *
 * Times are CPU time of the process (CLOCK_PROCESS_CPUTIME_ID), so that a
 * busy machine skews them less than wall-clock time would.
 *
 * Reported: ns/op for put (tbl_put of a prebuilt val), get (tbl_get
 * decoding the item), get_text (the rendered file), query-100 (one
 * partition, keys decoded by the visitor), scan (whole table, per item);
 * resident memory per item (from /proc/self/statm before and after the
 * load, inputs freed) and its ratio to the item's compact JSON size
 * (item_render_compact), the target being <= 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "item.h"
#include "num.h"

#define WEEKS 100  /* items per partition */
#define BATCH 2000 /* items built before each timed batch of puts */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)rng;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_engine: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* Write x as exactly w decimal digits (the key builders run in timed loops). */
static char *put_digits(char *p, size_t x, int w)
{
	int i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + x % 10);
		x /= 10;
	}
	return p + w;
}

/* Partition p's key "user000123#7": user id and level. */
static void part_key(size_t p, char *buf, size_t size, char *id, size_t idsize, int *level)
{
	char *q;

	*level = (int)(p % 18) + 1;
	memcpy(id, "user", 4);
	*put_digits(id + 4, p / 18, 6) = 0;
	memcpy(buf, id, 10);
	buf[10] = '#';
	q = put_digits(buf + 11, (size_t)*level, *level >= 10 ? 2 : 1);
	*q = 0;
	(void)size;
	(void)idsize;
}

/* Week k of the partition: "2020-01" .. "2021-48". */
static void week_key(size_t k, char *buf, size_t size)
{
	char *q = put_digits(buf, 2020 + k / 52, 4);

	*q++ = '-';
	*put_digits(q, k % 52 + 1, 2) = 0;
	(void)size;
}

static void set_s(struct val *m, const char *name, const char *s)
{
	struct val v;

	if (val_init_str(&v, s, strlen(s)) < 0 || val_map_set(m, name, strlen(name), &v) < 0)
		die("building an item", -ENOMEM);
}

static void set_n(struct val *m, const char *name, long x)
{
	struct num n;
	struct val v;

	num_from_int64(&n, x);
	val_init_num(&v, &n);
	if (val_map_set(m, name, strlen(name), &v) < 0)
		die("building an item", -ENOMEM);
}

/* Item number i (partition i / WEEKS, week i % WEEKS). */
static void make_item(size_t i, struct val *item)
{
	char pk[64], id[32], week[16];
	struct val scores, s;
	struct num n;
	int level, k, ns;

	part_key(i / WEEKS, pk, sizeof(pk), id, sizeof(id), &level);
	week_key(i % WEEKS, week, sizeof(week));
	val_init_map(item);
	set_s(item, "id#level", pk);
	set_s(item, "week", week);
	set_s(item, "id", id);
	set_n(item, "level", level);
	set_n(item, "finished", (long)(rnd() % 2));
	val_init_list(&scores);
	ns = (int)(rnd() % 3) + 1;
	for (k = 0; k < ns; k++) {
		num_from_int64(&n, (int64_t)(rnd() % 101));
		val_init_num(&s, &n);
		if (val_list_append(&scores, &s) < 0)
			die("building an item", -ENOMEM);
	}
	if (val_map_set(item, "scores", 6, &scores) < 0)
		die("building an item", -ENOMEM);
}

static int count_visit(void *ctx, const struct item_ref *r)
{
	size_t *n = ctx;

	if (iref_sk(r))
		(*n)++;
	return 0;
}

static int count_only(void *ctx, const struct item_ref *r)
{
	(*(size_t *)ctx)++;
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000, nparts, i, j, b, got;
	size_t *perm, json_bytes = 0, rss0, rss1, lookups;
	struct table_schema s = {0};
	struct val *batch, item;
	struct tbl_stats st;
	double t0, tput = 0, tget, ttext, tq, tscan;
	char pk[64], id[32], week[16], *text;
	struct tbl_query q = {0};
	struct val pkv, skv;
	table_t *t;
	db_t *db;
	int rc, level;

	n = n / WEEKS * WEEKS;
	if (n == 0)
		n = WEEKS;
	nparts = n / WEEKS;
	snprintf(s.pk.name, sizeof(s.pk.name), "id#level");
	s.pk.type = VAL_S;
	s.has_sk = true;
	snprintf(s.sk.name, sizeof(s.sk.name), "week");
	s.sk.type = VAL_S;
	perm = malloc(n * sizeof(*perm));
	batch = malloc(BATCH * sizeof(*batch));
	if (!perm || !batch)
		die("allocating", -ENOMEM);
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0 && !getenv("BENCH_SEQ"); i--) {
		j = rnd() % (i + 1);
		b = perm[i];
		perm[i] = perm[j];
		perm[j] = b;
	}
	if ((rc = db_new(&db)) < 0 || (rc = db_create_table(db, "quiz-stats", &s, NULL)) < 0 ||
	    (rc = db_table_open(db, "quiz-stats", &t)) < 0)
		die("creating the table", rc);

	/* put: build a batch (untimed), store it (timed), free the inputs */
	rss0 = rss_bytes();
	for (i = 0; i < n; i += b) {
		b = n - i < BATCH ? n - i : BATCH;
		for (j = 0; j < b; j++) {
			make_item(perm[i + j], &batch[j]);
			if (item_render_compact(&batch[j], NULL, NULL, &text, &got) < 0)
				die("rendering", -ENOMEM);
			json_bytes += got;
			free(text);
		}
		t0 = now_s();
		for (j = 0; j < b; j++)
			if ((rc = tbl_put(t, &batch[j], 0, NULL)) < 0)
				die("put", rc);
		tput += now_s() - t0;
		for (j = 0; j < b; j++)
			val_free(&batch[j]);
	}
	rss1 = rss_bytes();

	/* get: random items, decoded */
	lookups = n < 1000000 ? n : 1000000;
	t0 = now_s();
	for (i = 0; i < lookups; i++) {
		size_t k = rnd() % n;

		part_key(k / WEEKS, pk, sizeof(pk), id, sizeof(id), &level);
		week_key(k % WEEKS, week, sizeof(week));
		val_init_str(&pkv, pk, strlen(pk));
		val_init_str(&skv, week, strlen(week));
		if ((rc = tbl_get(t, &pkv, &skv, &item, NULL)) < 0)
			die("get", rc);
		val_free(&item);
		val_free(&pkv);
		val_free(&skv);
	}
	tget = now_s() - t0;

	/* get_text: the same, rendered as the item file */
	t0 = now_s();
	for (i = 0; i < lookups; i++) {
		size_t k = rnd() % n;

		part_key(k / WEEKS, pk, sizeof(pk), id, sizeof(id), &level);
		week_key(k % WEEKS, week, sizeof(week));
		val_init_str(&pkv, pk, strlen(pk));
		val_init_str(&skv, week, strlen(week));
		if ((rc = tbl_get_text(t, &pkv, &skv, &text, &got, NULL)) < 0)
			die("get_text", rc);
		free(text);
		val_free(&pkv);
		val_free(&skv);
	}
	ttext = now_s() - t0;

	/* query-100: one whole partition, in order */
	t0 = now_s();
	for (i = 0; i < lookups / 100; i++) {
		part_key(rnd() % nparts, pk, sizeof(pk), id, sizeof(id), &level);
		val_init_str(&pkv, pk, strlen(pk));
		q.pk = &pkv;
		got = 0;
		if ((rc = tbl_query(t, &q, count_visit, &got, NULL)) < 0 || got != WEEKS)
			die("query", rc < 0 ? rc : -EIO);
		val_free(&pkv);
	}
	tq = now_s() - t0;

	/* scan: every item in key order */
	got = 0;
	t0 = now_s();
	if ((rc = tbl_scan(t, &(struct tbl_scan){0}, count_only, &got, NULL)) < 0 || got != n)
		die("scan", rc < 0 ? rc : -EIO);
	tscan = now_s() - t0;

	tbl_stats(t, &st);
	printf("items            %zu (%zu partitions of %d)\n", n, nparts, WEEKS);
	printf("put              %8.0f ns/op\n", tput * 1e9 / n);
	printf("get              %8.0f ns/op\n", tget * 1e9 / lookups);
	printf("get_text         %8.0f ns/op\n", ttext * 1e9 / lookups);
	printf("query-100        %8.0f ns/query (%.0f ns/item)\n", tq * 1e9 / (lookups / 100),
	       tq * 1e9 / (lookups / 100) / WEEKS);
	printf("scan             %8.1f ns/item\n", tscan * 1e9 / n);
	printf("compact JSON     %8.1f bytes/item\n", (double)json_bytes / n);
	printf("item_size        %8.1f bytes/item\n", (double)st.bytes / n);
	printf("resident memory  %8.1f bytes/item\n", (double)(rss1 - rss0) / n);
	printf("memory / JSON    %8.2f\n", (double)(rss1 - rss0) / (double)json_bytes);
	if (getenv("BENCH_CHECK")) {
		char *why = NULL;

		rc = tbl_check_integrity(t, &why);
		printf("integrity        %s\n", rc ? why : "ok");
		free(why);
	}
	tbl_close(t);
	db_free(db);
	free(perm);
	free(batch);
	return 0;
}
