/*
 * bench_ingest.c - the engine's side of a `_batch` bulk import, no FUSE.
 *
 *   build/bench/bench_ingest FILE.jsonl [CHUNK]
 *
 * Feeds FILE (JSON Lines, e.g. bench_batch.sh's users dump) through one
 * ops_batch session into a table with the schema of Hedy's users table
 * (username S; email-index; epoch-created-index; epoch-username-index),
 * in pieces of CHUNK bytes (default 131072, FUSE's max_write), the way
 * fs/batch.c does for `cat FILE > _batch`.  No journal: this is the CPU
 * cost of parsing, checking and storing.  Prints wall and CPU seconds,
 * MB/s of CPU time, the session's db_apply/sync counts and how many lines
 * were parsed straight into their stored form (BENCH_INGEST_TREE=1: none,
 * every line through the value tree, the reference path).  Under
 * `valgrind --tool=callgrind` the instruction count is the repeatable
 * number to compare.  BENCH_INGEST_STORE=DIR (an empty directory) puts the
 * database in a store there, default options (fsync=always): the journal
 * and the snapshots the import triggers are counted too, the unmount's
 * snapshot is not (the store is abandoned, as after a kill -9).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

#include "db.h"
#include "ops.h"
#include "store.h"

static void attr(struct key_attr *a, const char *name, enum val_type t)
{
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = t;
}

int main(int argc, char **argv)
{
	struct index_def idx[3];
	struct table_schema s;
	struct ops_batch_stats st;
	size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 10) : 131072, len, off, used;
	double w0, c0, w, c;
	struct store_opts so = {STORE_FSYNC_ALWAYS, false, true};
	const char *sdir = getenv("BENCH_INGEST_STORE");
	store_t *store = NULL;
	ops_batch_t *b;
	table_t *t;
	db_t *db;
	char *buf;
	FILE *f;
	int rc;

	if (argc < 2 || !chunk) {
		fprintf(stderr, "usage: bench_ingest FILE.jsonl [CHUNK]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0) {
		perror(argv[1]);
		return 1;
	}
	len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(len);
	if (!buf || fread(buf, 1, len, f) != len) {
		perror("read");
		return 1;
	}
	fclose(f);
	memset(&s, 0, sizeof(s));
	memset(idx, 0, sizeof(idx));
	attr(&s.pk, "username", VAL_S);
	snprintf(idx[0].name, sizeof(idx[0].name), "email-index");
	attr(&idx[0].pk, "email", VAL_S);
	snprintf(idx[1].name, sizeof(idx[1].name), "epoch-created-index");
	attr(&idx[1].pk, "epoch", VAL_N);
	idx[1].has_sk = true;
	attr(&idx[1].sk, "created", VAL_N);
	snprintf(idx[2].name, sizeof(idx[2].name), "epoch-username-index");
	attr(&idx[2].pk, "epoch", VAL_N);
	idx[2].has_sk = true;
	attr(&idx[2].sk, "username", VAL_S);
	idx[2].proj = PROJ_KEYS_ONLY;
	s.index = idx;
	s.nindex = 3;
	if ((sdir && *sdir ? store_open(sdir, &so, &store, &db, NULL) : db_new(&db)) < 0 ||
	    db_create_table(db, "users", &s, NULL) < 0 ||
	    db_table_open(db, "users", &t) < 0 || ops_batch_new(db, t, NULL, NULL, &b) < 0) {
		fprintf(stderr, "bench_ingest: setup failed\n");
		return 1;
	}
	if (getenv("BENCH_INGEST_TREE"))
		ops_batch_set_stored(b, false);
	w0 = clk(CLOCK_MONOTONIC);
	c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
	for (off = 0; off < len; off += used) {
		rc = ops_batch_feed_some(b, buf + off, len - off < chunk ? len - off : chunk, &used);
		if (rc < 0)
			fprintf(stderr, "bench_ingest: a line failed: %s\n", strerror(-rc));
		if (!used)
			break;
	}
	ops_batch_finish(b);
	w = clk(CLOCK_MONOTONIC) - w0;
	c = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
	ops_batch_stats(b, &st);
	printf("ingest: %zu bytes, %llu lines applied (%llu failed) in %.3f s wall, %.3f s CPU: "
	       "%.1f MB/s of CPU; %llu db_apply, %llu syncs, %llu lines stored directly\n",
	       len, (unsigned long long)st.applied, (unsigned long long)st.failed, w, c,
	       len / c / 1e6, (unsigned long long)st.applies, (unsigned long long)st.syncs,
	       (unsigned long long)st.stored);
	ops_batch_free(b);
	tbl_close(t);
	if (store)
		store_abandon(store);
	else
		db_free(db);
	free(buf);
	return 0;
}
