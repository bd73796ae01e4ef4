/*
 * check_powerloss.c - a simulated power loss: what survives is the files
 * as they were synced.  crash_copy() copies a store directory at a chosen
 * moment, keeping the snapshot (always written synced and renamed) and
 * the journal only up to its last synced offset (store_synced_bytes);
 * the copy is then opened like a store after a power cut.  Every change
 * acknowledged before the copy must be in it, and every transaction must
 * be in it whole or not at all (issue 17).
 *
 * The moments: store test hooks inside a snapshot (before and after its
 * rename), a snapshot test hook between tables (a transaction that lands
 * between the copies of its two tables), and the return of writes that
 * changed nothing while another write waits for its (slowed) sync.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "fix_file.h"
#include "fix_store.h"
#include "item.h"
#include "journal.h"
#include "ops.h"
#include "snap.h"
#include "store.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/check-pl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

/* A new empty directory for a copy (caller frees and removes it). */
static char *new_copy_dir(void)
{
	char *d = strdup("/tmp/check-pl-copy.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static bool has(db_t *db, const char *table, const char *k)
{
	table_t *t;
	struct val key;
	char *text = NULL;
	size_t len;
	int rc;

	if (db_table_open(db, table, &t) < 0)
		return false;
	ck_assert_int_eq(val_init_str(&key, k, strlen(k)), 0);
	rc = tbl_get_text(t, &key, NULL, &text, &len, NULL);
	val_free(&key);
	tbl_close(t);
	free(text);
	return rc == 0;
}

/* Put {"k": k} into both tables with one db_apply (a transaction). */
static int tx2(db_t *db, const char *t1, const char *t2, const char *k)
{
	struct db_op ops[2];
	struct val it[2];
	table_t *t[2];
	char json[100];
	struct dyn_err err;
	int i, rc;

	memset(ops, 0, sizeof(ops));
	snprintf(json, sizeof(json), "{\"k\": \"%s\"}", k);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(db_table_open(db, i ? t2 : t1, &t[i]), 0);
		err_clear(&err);
		ck_assert_int_eq(item_parse(json, strlen(json), &it[i], &err), 0);
		ops[i].kind = DB_PUT;
		ops[i].table = t[i];
		ops[i].item = &it[i];
	}
	rc = db_apply(db, ops, 2, NULL, NULL);
	for (i = 0; i < 2; i++) {
		val_free(&it[i]);
		tbl_close(t[i]);
	}
	return rc;
}

/* ---- a transaction between the copies of its two tables (17.1) ---- */

struct mid {
	store_t *st;
	db_t *db;
	char *copy[2]; /* [0] before the rename, [1] after */
	bool done;     /* the transaction ran */
	const char *key; /* its key */
};

static void mid_table(void *ctx, const char *table)
{
	struct mid *m = ctx;

	if (!m->done && !strcmp(table, "aaa")) {
		m->done = true;
		ck_assert_int_eq(tx2(m->db, "aaa", "bbb", m->key), 0);
	}
}

static void mid_hook(void *ctx, enum store_hook_point p)
{
	struct mid *m = ctx;

	if (p == STORE_HOOK_SNAP_WRITTEN || p == STORE_HOOK_SNAP_COMMITTED)
		crash_copy(m->st, dir, m->copy[p == STORE_HOOK_SNAP_COMMITTED]);
}

static void check_whole(const char *d, const char *k, bool must)
{
	store_t *st;
	db_t *db;
	bool a, b;

	st = open_store_at(d, STORE_FSYNC_ALWAYS, &db);
	a = has(db, "aaa", k);
	b = has(db, "bbb", k);
	ck_assert_msg(a == b, "%s: transaction %s half applied: aaa %s, bbb %s", d, k,
		      a ? "present" : "absent", b ? "present" : "absent");
	if (must)
		ck_assert_msg(a, "%s: acknowledged transaction %s lost", d, k);
	store_abandon(st);
}

START_TEST(test_snapshot_never_holds_a_change_the_journal_lost)
{
	struct dyn_err err;
	struct mid m = {0};
	int mode;

	/* with fsync=off nothing is synced but what the snapshot syncs */
	for (mode = 0; mode < 2; mode++) {
		m.st = open_store_at(dir, mode ? STORE_FSYNC_BATCH : STORE_FSYNC_OFF, &m.db);
		m.done = false;
		if (mode == 0) {
			create_table(m.db, "aaa", "k", NULL);
			create_table(m.db, "bbb", "k", NULL);
		}
		m.key = mode ? "001" : "000";
		m.copy[0] = new_copy_dir();
		m.copy[1] = new_copy_dir();
		snap_set_test_hook(mid_table, &m);
		store_set_test_hook(m.st, mid_hook, &m);
		err_clear(&err);
		ck_assert_msg(store_snapshot(m.st, &err) == 0, "%s", err.msg);
		snap_set_test_hook(NULL, NULL);
		store_set_test_hook(m.st, NULL, NULL);
		ck_assert(m.done);
		check_whole(m.copy[0], m.key, false);
		check_whole(m.copy[1], m.key, false);
		store_close(m.st, NULL);
		rm_rf(m.copy[0]);
		rm_rf(m.copy[1]);
		free(m.copy[0]);
		free(m.copy[1]);
	}
}
END_TEST

/* ---- answers that changed nothing (17.2) ---- */

struct slow {
	db_t *db;
	int kind; /* 0 delete x, 1 put y */
};

/* Wait until table aaa has (or lacks) item k: the slow writer's change
 * is applied and it waits for its sync (a sleep would not order the two
 * threads on a loaded machine). */
static void wait_for(db_t *db, const char *k, bool present)
{
	while (has(db, "aaa", k) != present)
		usleep(1000);
}

static void *slow_writer(void *p)
{
	struct slow *s = p;
	table_t *t;
	struct val v;
	struct dyn_err err;

	ck_assert_int_eq(db_table_open(s->db, "aaa", &t), 0);
	if (s->kind == 0) {
		ck_assert_int_eq(val_init_str(&v, "x", 1), 0);
		ck_assert_int_eq(tbl_delete(t, &v, NULL, 0, NULL), 0);
	} else {
		err_clear(&err);
		ck_assert_int_eq(item_parse("{\"k\": \"y\"}", 10, &v, &err), 0);
		ck_assert_int_eq(tbl_put(t, &v, 0, NULL), 0);
	}
	val_free(&v);
	tbl_close(t);
	return NULL;
}

START_TEST(test_answers_that_changed_nothing_survive_a_power_loss)
{
	struct slow s;
	pthread_t th;
	table_t *t;
	struct val v;
	struct dyn_err err;
	store_t *st, *st2;
	db_t *db, *db2;
	char *copy;

	st = open_store_at(dir, STORE_FSYNC_ALWAYS, &db);
	create_table(db, "aaa", "k", NULL);
	err_clear(&err);
	ck_assert_int_eq(db_table_open(db, "aaa", &t), 0);
	ck_assert_int_eq(item_parse("{\"k\": \"x\"}", 10, &v, &err), 0);
	ck_assert_int_eq(tbl_put(t, &v, 0, NULL), 0);
	val_free(&v);
	store_set_sync_delay(st, 400000);

	/* A deletes x and waits for its sync; B's delete finds nothing */
	s.db = db;
	s.kind = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_writer, &s), 0);
	wait_for(db, "x", false); /* A's delete is applied, its sync pending */
	ck_assert_int_eq(val_init_str(&v, "x", 1), 0);
	ck_assert_int_eq(tbl_delete(t, &v, NULL, 0, NULL), 0);
	val_free(&v);
	copy = new_copy_dir();
	crash_copy(st, dir, copy);
	pthread_join(th, NULL);
	st2 = open_store_at(copy, STORE_FSYNC_ALWAYS, &db2);
	ck_assert_msg(!has(db2, "aaa", "x"), "an acknowledged delete (of an absent item) came back");
	store_abandon(st2);
	rm_rf(copy);
	free(copy);

	/* A puts y and waits; B's conditional put fails on A's y */
	s.kind = 1;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_writer, &s), 0);
	wait_for(db, "y", true); /* A's put is applied, its sync pending */
	err_clear(&err);
	ck_assert_int_eq(item_parse("{\"k\": \"y\"}", 10, &v, &err), 0);
	ck_assert_int_eq(tbl_put(t, &v, DB_IF_ABSENT, NULL), -EEXIST);
	val_free(&v);
	copy = new_copy_dir();
	crash_copy(st, dir, copy);
	pthread_join(th, NULL);
	st2 = open_store_at(copy, STORE_FSYNC_ALWAYS, &db2);
	ck_assert_msg(has(db2, "aaa", "y"), "the item a failed condition saw was lost");
	store_abandon(st2);
	rm_rf(copy);
	free(copy);

	tbl_close(t);
	store_close(st, NULL);
}
END_TEST

/* ---- a workload with snapshots, /_tx, _batch and direct writes ---- */

#define PL_WRITERS 3
#define PL_COPIES 8

struct work {
	store_t *st;
	db_t *db;
	int acked[PL_WRITERS]; /* writer w's transactions 0..acked-1 returned (atomic) */
	int want_copy;	       /* copies still to take (atomic) */
	bool stop;	       /* writers stop (atomic) */
	int ncopies;	       /* copies taken */
	char *copy[PL_COPIES]; /* their directories */
	int seen[PL_COPIES][PL_WRITERS]; /* acked counts before each copy */
	pthread_mutex_t mu;    /* protects ncopies, copy, seen */
};

static void take_copy(struct work *w)
{
	int i, n;

	pthread_mutex_lock(&w->mu);
	n = w->ncopies;
	if (n < PL_COPIES) {
		for (i = 0; i < PL_WRITERS; i++)
			w->seen[n][i] = __atomic_load_n(&w->acked[i], __ATOMIC_SEQ_CST);
		w->copy[n] = new_copy_dir();
		crash_copy(w->st, dir, w->copy[n]);
		w->ncopies++;
	}
	pthread_mutex_unlock(&w->mu);
}

static void work_hook(void *ctx, enum store_hook_point p)
{
	take_copy(ctx);
}

static void key_of(char *k, size_t n, int w, int i)
{
	snprintf(k, n, "w%d-%05d", w, i);
}

struct wargs {
	struct work *w;
	int id;
};

/* Writer 0: /_tx documents; 1: _batch lines into aaa then bbb... (pairs
 * per feed are not a transaction, so _batch only puts into aaa and bbb
 * gets the same key through a /_tx check-free put); 2: db_apply. */
static void *work_writer(void *p)
{
	struct wargs *a = p;
	struct work *w = a->w;
	struct ops_tx_result res;
	ops_batch_t *b = NULL;
	table_t *t = NULL;
	char k[32], doc[300];
	int i, rc;

	if (a->id == 1) {
		ck_assert_int_eq(db_table_open(w->db, "ccc", &t), 0);
		ck_assert_int_eq(ops_batch_new(w->db, t, NULL, NULL, &b), 0);
	}
	for (i = 0; !__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST); i++) {
		key_of(k, sizeof(k), a->id, i);
		if (a->id == 0) {
			snprintf(doc, sizeof(doc),
				 "{\"ops\": [{\"table\": \"aaa\", \"put\": {\"k\": \"%s\"}}, "
				 "{\"table\": \"bbb\", \"put\": {\"k\": \"%s\"}}]}",
				 k, k);
			rc = ops_tx_run(w->db, doc, strlen(doc), &res);
			ck_assert_msg(rc == 0, "tx: %s", res.reason);
		} else if (a->id == 1) {
			/* two lines in one feed: each acknowledged when the feed returns */
			snprintf(doc, sizeof(doc), "{\"k\": \"%s\"}\n{\"k\": \"%s-b\"}\n", k, k);
			ck_assert_int_eq(ops_batch_feed(b, doc, strlen(doc)), 0);
		} else {
			ck_assert_int_eq(tx2(w->db, "aaa", "bbb", k), 0);
		}
		__atomic_store_n(&w->acked[a->id], i + 1, __ATOMIC_SEQ_CST);
	}
	if (b)
		ops_batch_free(b);
	if (t)
		tbl_close(t);
	return NULL;
}

static void check_copy(struct work *w, int n)
{
	store_t *st;
	db_t *db;
	char k[32], kb[40];
	int id, i;

	st = open_store_at(w->copy[n], STORE_FSYNC_ALWAYS, &db);
	for (id = 0; id < PL_WRITERS; id++) {
		for (i = 0; i < w->seen[n][id] + 50; i++) {
			bool must = i < w->seen[n][id];

			key_of(k, sizeof(k), id, i);
			if (id == 1) {
				snprintf(kb, sizeof(kb), "%s-b", k);
				if (must)
					ck_assert_msg(has(db, "ccc", k) && has(db, "ccc", kb),
						      "copy %d: acknowledged _batch line %s lost", n,
						      k);
				continue;
			}
			{
				bool a = has(db, "aaa", k), b = has(db, "bbb", k);

				ck_assert_msg(a == b, "copy %d: transaction %s half applied", n, k);
				ck_assert_msg(a || !must, "copy %d: acknowledged transaction %s lost",
					      n, k);
			}
		}
	}
	store_abandon(st);
}

START_TEST(test_power_loss_during_snapshots_tx_and_batch)
{
	struct wargs args[PL_WRITERS];
	pthread_t th[PL_WRITERS];
	struct work *w = calloc(1, sizeof(*w));
	struct dyn_err err;
	int i, snaps = 0;

	pthread_mutex_init(&w->mu, NULL);
	w->st = open_store_at(dir, STORE_FSYNC_ALWAYS, &w->db);
	create_table(w->db, "aaa", "k", NULL);
	create_table(w->db, "bbb", "k", NULL);
	create_table(w->db, "ccc", "k", NULL);
	store_set_sync_delay(w->st, 1000);
	store_set_test_hook(w->st, work_hook, w);
	for (i = 0; i < PL_WRITERS; i++) {
		args[i].w = w;
		args[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, work_writer, &args[i]), 0);
	}
	/* snapshots while they write, each taking two copies (before and after its rename) */
	while (w->ncopies < PL_COPIES) {
		usleep(20000);
		err_clear(&err);
		ck_assert_msg(store_snapshot(w->st, &err) == 0, "%s", err.msg);
		snaps++;
	}
	__atomic_store_n(&w->stop, true, __ATOMIC_SEQ_CST);
	for (i = 0; i < PL_WRITERS; i++)
		pthread_join(th[i], NULL);
	store_set_test_hook(w->st, NULL, NULL);
	store_close(w->st, NULL);
	for (i = 0; i < w->ncopies; i++) {
		check_copy(w, i);
		rm_rf(w->copy[i]);
		free(w->copy[i]);
	}
	pthread_mutex_destroy(&w->mu);
	free(w);
}
END_TEST

Suite *powerloss_suite(void);
Suite *powerloss_suite(void)
{
	Suite *s = suite_create("powerloss");
	TCase *tc;

	tc = tcase_create("powerloss");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_snapshot_never_holds_a_change_the_journal_lost);
	tcase_add_test(tc, test_answers_that_changed_nothing_survive_a_power_loss);
	tcase_add_test(tc, test_power_loss_during_snapshots_tx_and_batch);
	suite_add_tcase(s, tc);
	return s;
}
