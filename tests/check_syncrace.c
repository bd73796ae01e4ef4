/*
 * check_syncrace.c - every acknowledged write is on disk before its
 * answer (fsync=always: group commit), or within seconds (fsync=batch:
 * the sync thread), while snapshots rotate the journal under the writers.
 *
 * A log wrapped around the store's (db_set_log) notes, per thread, the
 * lsn of the last record the thread's writes appended.  Writers (direct
 * puts and deletes, two-table transactions, `_batch` feeds, whose one
 * sync per feed covers all their lines) check after every answer that
 * the journal says it is durable up to that lsn (store_get_stats'
 * synced_lsn); the journal's sync is slowed to 1 ms so that writers
 * share syncs, and the main thread snapshots (a journal rotation each)
 * meanwhile.  With fsync=batch nothing is checked at the answer, but
 * every lsn must be durable within 3 seconds.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "fix_store.h"
#include "item.h"
#include "ops.h"
#include "store.h"
#include "storeint.h"

#define WRITERS 4
#define EACH 150 /* writes per writer */

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/check-sy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

/* ---- the wrapped log ---- */

static const struct db_log *inner; /* the store's */
static __thread uint64_t my_lsn;   /* the last lsn this thread appended */

static int w_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	int rc = inner->append(inner->ctx, ch, n, lsn);

	if (rc == 0 && *lsn > my_lsn)
		my_lsn = *lsn;
	return rc;
}

static int w_sync(void *ctx, uint64_t lsn)
{
	return inner->sync(inner->ctx, lsn);
}

static const struct db_log wrapped = {w_append, w_sync, NULL};

/* ---- writers ---- */

static int finished; /* writers done (atomic) */

struct wr {
	store_t *st;
	db_t *db;
	int id;
	bool always;	 /* check at every answer */
	uint64_t last;	 /* the last lsn appended */
	unsigned checks; /* answers checked */
};

static void durable(struct wr *w, const char *what, int i)
{
	struct store_stats ss;

	if (!w->always)
		return;
	store_get_stats(w->st, &ss);
	ck_assert_msg(ss.synced_lsn >= my_lsn,
		      "writer %d, %s %d: answered with lsn %llu appended, durable up to %llu",
		      w->id, what, i, (unsigned long long)my_lsn,
		      (unsigned long long)ss.synced_lsn);
	w->checks++;
}

static void *writer(void *p)
{
	struct wr *w = p;
	struct ops_tx_result res;
	ops_batch_t *b = NULL;
	table_t *t = NULL;
	struct val k;
	char json[300];
	int i;

	if (w->id == 3) {
		ck_assert_int_eq(db_table_open(w->db, "aaa", &t), 0);
		ck_assert_int_eq(ops_batch_new(w->db, t, NULL, NULL, &b), 0);
	}
	for (i = 0; i < EACH; i++) {
		switch (w->id) {
		case 0: /* puts and deletes */
			snprintf(json, sizeof(json), "{\"k\": \"w0-%d\", \"v\": %d}", i % 20, i);
			if (i % 3 == 2) {
				ck_assert_int_eq(db_table_open(w->db, "aaa", &t), 0);
				snprintf(json, sizeof(json), "w0-%d", (i * 7) % 20);
				ck_assert_int_eq(val_init_str(&k, json, strlen(json)), 0);
				ck_assert_int_eq(tbl_delete(t, &k, NULL, 0, NULL), 0);
				val_free(&k);
				tbl_close(t);
				t = NULL;
			} else {
				ck_assert_int_eq(put_json(w->db, "aaa", json), 0);
			}
			durable(w, "put/delete", i);
			break;
		case 1:
		case 2: /* transactions over two tables */
			snprintf(json, sizeof(json),
				 "{\"ops\": [{\"table\": \"aaa\", \"put\": {\"k\": \"w%d-%d\"}}, "
				 "{\"table\": \"bbb\", \"put\": {\"k\": \"w%d-%d\"}}]}",
				 w->id, i, w->id, i);
			ck_assert_msg(ops_tx_run(w->db, json, strlen(json), &res) == 0, "tx: %s",
				      res.reason);
			durable(w, "transaction", i);
			break;
		case 3: /* _batch feeds of three lines, one sync each */
			snprintf(json, sizeof(json),
				 "{\"k\": \"b-%d-0\"}\n{\"k\": \"b-%d-1\"}\n{\"k\": \"b-%d-2\"}\n", i, i,
				 i);
			ck_assert_int_eq(ops_batch_feed(b, json, strlen(json)), 0);
			durable(w, "_batch feed", i);
		}
		if (!w->always)
			usleep(3000); /* let the sync thread and rotations come between */
	}
	if (b)
		ops_batch_free(b);
	if (t)
		tbl_close(t);
	w->last = my_lsn;
	__atomic_add_fetch(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void run(enum store_fsync mode)
{
	struct wr w[WRITERS];
	pthread_t th[WRITERS];
	struct store_stats ss;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	unsigned snaps = 0, checks = 0;
	int i;

	st = open_store_at(dir, mode, &db);
	create_table(db, "aaa", "k", NULL);
	create_table(db, "bbb", "k", NULL);
	store_set_sync_delay(st, 1000); /* a 1 ms disk, even on tmpfs */
	finished = 0;
	inner = &st->log;
	db_set_log(db, &wrapped);
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct wr){st, db, i, mode == STORE_FSYNC_ALWAYS, 0, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer, &w[i]), 0);
	}
	/* journal rotations under the writers until they are done */
	do {
		err_clear(&err);
		ck_assert_msg(store_snapshot(st, &err) == 0, "%s", err.msg);
		snaps++;
		usleep(2000);
	} while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < WRITERS);
	for (i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < WRITERS; i++) {
		checks += w[i].checks;
		ck_assert_uint_gt(w[i].last, 0);
	}
	if (mode == STORE_FSYNC_BATCH) {
		for (i = 0; i < 30; i++) {
			store_get_stats(st, &ss);
			if (ss.synced_lsn >= ss.last_lsn)
				break;
			usleep(100000);
		}
		for (i = 0; i < WRITERS; i++)
			ck_assert_msg(ss.synced_lsn >= w[i].last,
				      "fsync=batch: lsn %llu not durable after 3 s (%llu)",
				      (unsigned long long)w[i].last,
				      (unsigned long long)ss.synced_lsn);
	} else {
		ck_assert_uint_eq(checks, WRITERS * EACH);
	}
	store_get_stats(st, &ss);
	fprintf(stderr, "syncrace %s: %u answers checked, %u snapshots, %llu syncs for %llu appends\n",
		mode == STORE_FSYNC_ALWAYS ? "always" : "batch", checks, snaps,
		(unsigned long long)ss.syncs, (unsigned long long)ss.appends);
	db_set_log(db, inner);
	store_close(st, NULL);
}

START_TEST(test_every_answer_is_durable_fsync_always)
{
	run(STORE_FSYNC_ALWAYS);
}
END_TEST

START_TEST(test_every_write_durable_within_seconds_fsync_batch)
{
	run(STORE_FSYNC_BATCH);
}
END_TEST

Suite *syncrace_suite(void);
Suite *syncrace_suite(void)
{
	Suite *s = suite_create("syncrace");
	TCase *tc;

	tc = tcase_create("syncrace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_answer_is_durable_fsync_always);
	tcase_add_test(tc, test_every_write_durable_within_seconds_fsync_batch);
	suite_add_tcase(s, tc);
	return s;
}
