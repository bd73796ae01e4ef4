/*
 * check_storefault.c - the store when things go wrong (issue 11): a
 * journal that cannot be synced or written (journal_set_faults: rescue by
 * a fresh snapshot, fail-stop, automatic recovery, ENOSPC said as such),
 * a rotation that keeps failing, torn tails set aside, store files that
 * are symlinks, directories or someone else's, permissions, and the
 * smaller recovery messages.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "db.h"
#include "fix_file.h"
#include "fix_store.h"
#include "item.h"
#include "journal.h"
#include "snap.h"
#include "store.h"

static char dir[64];
static char jpath[128];
static char spath[128];

static void setup(void)
{
	strcpy(dir, "/tmp/check-sf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(jpath, sizeof(jpath), "%s/%s", dir, JOURNAL_NAME);
	snprintf(spath, sizeof(spath), "%s/%s", dir, SNAP_NAME);
}

static void teardown(void)
{
	rm_rf(dir);
}

static int try_open_st(enum store_fsync mode, bool ro, store_t **st, db_t **db,
		       struct dyn_err *err)
{
	struct store_opts o = {mode, ro, true};

	err_clear(err);
	return store_open(dir, &o, st, db, err);
}

static store_t *open_store(enum store_fsync mode, db_t **db)
{
	struct dyn_err err;
	store_t *st;

	ck_assert_msg(try_open_st(mode, false, &st, db, &err) == 0, "store_open: %s", err.msg);
	return st;
}

static int try_open(bool ro, struct dyn_err *err)
{
	store_t *st;
	db_t *db;
	int rc = try_open_st(STORE_FSYNC_ALWAYS, ro, &st, &db, err);

	if (rc == 0)
		store_close(st, NULL);
	return rc;
}

static int put(db_t *db, const char *k, struct dyn_err *err)
{
	struct val item;
	table_t *t;
	char json[100];
	int rc;

	snprintf(json, sizeof(json), "{\"k\": \"%s\"}", k);
	ck_assert_int_eq(db_table_open(db, "users", &t), 0);
	ck_assert_int_eq(item_parse(json, strlen(json), &item, NULL), 0);
	err_clear(err);
	rc = tbl_put(t, &item, 0, err);
	val_free(&item);
	tbl_close(t);
	return rc;
}

static bool has(db_t *db, const char *k)
{
	table_t *t;
	struct val key;
	char *text = NULL;
	size_t len;
	int rc;

	if (db_table_open(db, "users", &t) < 0)
		return false;
	ck_assert_int_eq(val_init_str(&key, k, strlen(k)), 0);
	rc = tbl_get_text(t, &key, NULL, &text, &len, NULL);
	val_free(&key);
	tbl_close(t);
	free(text);
	return rc == 0;
}

/* ---- a journal that fails (11.2, 11.3) ---- */

struct statuses {
	int n;		/* calls */
	int last_code;	/* the last code */
	char last[STORE_STATUS_MAX];
};

static void on_status(void *ctx, int code, const char *msg)
{
	struct statuses *s = ctx;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", msg);
	__atomic_store_n(&s->last_code, code, __ATOMIC_SEQ_CST);
}

START_TEST(test_failed_sync_is_rescued_by_a_snapshot)
{
	struct statuses sts = {0};
	struct store_stats ss;
	struct dyn_err err;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_set_status_fn(st, on_status, &sts);
	create_table(db, "users", "k", NULL);
	store_set_faults(st, EIO, 0, false);
	/* the sync fails, a fresh snapshot makes the change durable: success */
	ck_assert_int_eq(put(db, "a", &err), 0);
	store_get_stats(st, &ss);
	ck_assert_int_eq(ss.failed, 0);
	ck_assert(!ss.stopped);
	ck_assert_uint_ge(ss.snapshot_lsn, ss.last_lsn);
	ck_assert_msg(strstr(sts.last, "recovered"), "%s", sts.last);
	store_set_faults(st, 0, 0, false);
	ck_assert_int_eq(put(db, "b", &err), 0);
	store_abandon(st);
	/* a crash now: both are there */
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert(has(db, "a"));
	ck_assert(has(db, "b"));
	store_close(st, NULL);
}
END_TEST

START_TEST(test_failed_sync_without_rescue_stops_the_store)
{
	struct statuses sts = {0};
	struct store_stats ss;
	struct dyn_err err;
	char snapdir[160];
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_set_status_fn(st, on_status, &sts);
	create_table(db, "users", "k", NULL);
	ck_assert_int_eq(put(db, "a", &err), 0);
	/* the sync fails and no snapshot can be written either */
	snprintf(snapdir, sizeof(snapdir), "%s/%s", dir, SNAP_TMP_NAME);
	ck_assert_int_eq(mkdir(snapdir, 0700), 0);
	store_set_faults(st, ENOSPC, 0, false);
	ck_assert_int_eq(put(db, "b", &err), -EIO);
	ck_assert_msg(strstr(err.msg, "No space left on device") && strstr(err.msg, "unknown"),
		      "%s", err.msg);
	store_get_stats(st, &ss);
	ck_assert(ss.stopped);
	ck_assert_msg(strstr(sts.last, "STOPPED") && strstr(sts.last, "mount again"), "%s",
		      sts.last);
	ck_assert_int_eq(sts.last_code, ENOSPC);
	/* fail-stop: even with the disk healthy again, no more writes... */
	store_set_faults(st, 0, 0, false);
	rmdir(snapdir);
	ck_assert_int_lt(put(db, "c", &err), 0);
	ck_assert(!has(db, "c"));
	/* ...and no snapshot from memory, at close either */
	ck_assert_int_lt(store_snapshot(st, &err), 0);
	store_close(st, NULL);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert(has(db, "a")); /* acknowledged */
	ck_assert(!has(db, "c"));
	store_close(st, NULL);
}
END_TEST

START_TEST(test_refused_append_says_enospc_and_changes_nothing)
{
	struct dyn_err err;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	store_set_faults(st, 0, ENOSPC, false);
	ck_assert_int_eq(put(db, "a", &err), -ENOSPC);
	ck_assert_int_eq(err.code, ENOSPC);
	ck_assert_msg(strstr(err.msg, "No space left on device") &&
			  strstr(err.msg, "nothing was changed"),
		      "%s", err.msg);
	ck_assert(!has(db, "a"));
	/* the file was cut back cleanly: the next write just works */
	store_set_faults(st, 0, 0, false);
	ck_assert_int_eq(put(db, "a", &err), 0);
	store_close(st, NULL);
}
END_TEST

START_TEST(test_broken_journal_recovers_automatically)
{
	struct statuses sts = {0};
	struct store_stats ss;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	int i;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_set_status_fn(st, on_status, &sts);
	create_table(db, "users", "k", NULL);
	ck_assert_int_eq(put(db, "a", &err), 0);
	/* the write fails and cannot even be cut back: the journal is unusable */
	store_set_faults(st, 0, EIO, true);
	ck_assert_int_eq(put(db, "b", &err), -EIO);
	store_get_stats(st, &ss);
	ck_assert_int_eq(ss.failed, EIO);
	ck_assert(!ss.stopped);
	ck_assert_msg(strstr(sts.last, "refusing writes") && strstr(sts.last, "retries"), "%s",
		      sts.last);
	store_set_faults(st, 0, 0, false);
	ck_assert_int_lt(put(db, "c", &err), 0); /* still refused until the retry */
	/* the cause is gone: within a few seconds writes work again */
	for (i = 0; i < 100; i++) {
		store_get_stats(st, &ss);
		if (!ss.failed && __atomic_load_n(&sts.last_code, __ATOMIC_SEQ_CST) == 0)
			break;
		usleep(100000);
	}
	ck_assert_int_eq(ss.failed, 0);
	ck_assert_msg(strstr(sts.last, "recovered"), "%s", sts.last);
	ck_assert_int_eq(sts.last_code, 0);
	ck_assert_int_eq(put(db, "d", &err), 0);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert(has(db, "a") && has(db, "d") && !has(db, "b") && !has(db, "c"));
	store_close(st, NULL);
}
END_TEST

START_TEST(test_batch_mode_sync_failure_is_rescued_in_background)
{
	struct store_stats ss;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	int i;

	st = open_store(STORE_FSYNC_BATCH, &db);
	create_table(db, "users", "k", NULL);
	store_set_faults(st, EIO, 0, false);
	ck_assert_int_eq(put(db, "a", &err), 0); /* acknowledged before any sync */
	for (i = 0; i < 50; i++) {
		store_get_stats(st, &ss);
		if (ss.snapshot_lsn >= ss.last_lsn && ss.snapshots)
			break;
		usleep(100000);
	}
	ck_assert_uint_ge(ss.snapshot_lsn, ss.last_lsn);
	store_set_faults(st, 0, 0, false);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert(has(db, "a"));
	store_close(st, NULL);
}
END_TEST

/* 17.7b: a rotation that keeps failing must not snapshot on every write */
START_TEST(test_failing_rotation_backs_off)
{
	struct store_stats ss;
	struct dyn_err err;
	char p[160], k[16];
	store_t *st;
	db_t *db;
	int i;

	st = open_store(STORE_FSYNC_OFF, &db);
	create_table(db, "users", "k", NULL);
	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_NEW_NAME);
	ck_assert_int_eq(mkdir(p, 0700), 0); /* journal.new cannot be created */
	store_set_snapshot_min(st, 1);
	for (i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put(db, k, &err), 0);
		usleep(2000);
	}
	store_get_stats(st, &ss);
	ck_assert_msg(ss.snapshots <= 2, "%llu snapshots for 200 writes",
		      (unsigned long long)ss.snapshots);
	rmdir(p);
	store_close(st, NULL);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert(has(db, "k0") && has(db, "k199"));
	store_close(st, NULL);
}
END_TEST

/* ---- torn tails are set aside, never destroyed (11.4) ---- */

START_TEST(test_torn_tail_is_set_aside)
{
	struct store_stats ss;
	struct dyn_err err;
	char aside[200], *j, *t;
	size_t len, flen, tlen;
	off_t good;
	struct stat sb;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	ck_assert_int_eq(put(db, "a", &err), 0);
	good = (off_t)records_len(jpath); /* zeroes written ahead follow */
	ck_assert_int_eq(put(db, "b", &err), 0);
	store_abandon(st);
	/* a flipped bit in the (complete, acknowledged) last record */
	j = slurp(jpath, &flen);
	len = records_len(jpath);
	j[len - 3] ^= 1;
	spit(jpath, j, flen);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_get_stats(st, &ss);
	ck_assert(ss.torn_tail);
	ck_assert(has(db, "a") && !has(db, "b"));
	store_close(st, NULL);
	snprintf(aside, sizeof(aside), "%s/%s3", dir, JOURNAL_TORN_PREFIX);
	t = slurp(aside, &tlen);
	ck_assert_uint_eq(tlen, len - (size_t)good);
	ck_assert_mem_eq(t, j + good, tlen);
	ck_assert_int_eq(stat(aside, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	free(t);
	free(j);
}
END_TEST

/* ---- store files: symlinks, directories, owners, modes (11.5, 11.6) ---- */

START_TEST(test_store_files_are_private)
{
	char p[160];
	const char *names[] = {SNAP_NAME, JOURNAL_NAME, "lock"};
	struct stat sb;
	store_t *st;
	db_t *db;
	size_t i;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	store_close(st, NULL);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert_msg((sb.st_mode & 0777) == 0600, "%s is %o", names[i], sb.st_mode & 0777);
	}
}
END_TEST

START_TEST(test_symlinked_store_files_are_refused)
{
	char target[160], p[160];
	struct dyn_err err;
	struct stat sb;
	store_t *st;
	db_t *db;
	char *s;
	size_t len;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	/* a planted temporary is never followed */
	snprintf(target, sizeof(target), "%s/victim", dir);
	spit(target, "precious\n", 9);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_TMP_NAME);
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_eq(store_snapshot(st, &err), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_NEW_NAME);
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_eq(store_snapshot(st, &err), 0);
	store_close(st, NULL);
	s = slurp(target, &len);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(s, "precious\n", 9);
	free(s);
	ck_assert_int_eq(lstat(spath, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(lstat(jpath, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	/* a store whose snapshot or journal is a symlink is refused */
	snprintf(p, sizeof(p), "%s/real-snapshot", dir);
	ck_assert_int_eq(rename(spath, p), 0);
	ck_assert_int_eq(symlink(p, spath), 0);
	ck_assert_int_eq(try_open(false, &err), -ELOOP);
	ck_assert_msg(strstr(err.msg, "symbolic link"), "%s", err.msg);
	ck_assert_int_eq(try_open(true, &err), -ELOOP);
	ck_assert_int_eq(unlink(spath), 0);
	ck_assert_int_eq(rename(p, spath), 0);
	snprintf(p, sizeof(p), "%s/real-journal", dir);
	ck_assert_int_eq(rename(jpath, p), 0);
	ck_assert_int_eq(symlink(p, jpath), 0);
	ck_assert_int_eq(try_open(false, &err), -ELOOP);
	ck_assert_int_eq(try_open(true, &err), -ELOOP);
}
END_TEST

START_TEST(test_directories_and_foreign_owners_are_refused)
{
	struct dyn_err err;
	char p[160];
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	store_close(st, NULL);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(jpath, 12345, 12345), 0);
		ck_assert_int_eq(try_open(false, &err), -EPERM);
		ck_assert_msg(strstr(err.msg, "owned by uid 12345"), "%s", err.msg);
		ck_assert_int_eq(try_open(true, &err), 0); /* reading is allowed */
		ck_assert_int_eq(chown(jpath, 0, 0), 0);
	}
	snprintf(p, sizeof(p), "%s/old-journal", dir);
	ck_assert_int_eq(rename(jpath, p), 0);
	ck_assert_int_eq(mkdir(jpath, 0700), 0);
	ck_assert_int_eq(try_open(false, &err), -EISDIR);
	ck_assert_msg(strstr(err.msg, "is a directory"), "%s", err.msg);
	ck_assert_int_eq(try_open(true, &err), -EISDIR);
	ck_assert_int_eq(rmdir(jpath), 0);
	ck_assert_int_eq(rename(p, jpath), 0);
	snprintf(p, sizeof(p), "%s/old-snap", dir);
	ck_assert_int_eq(rename(spath, p), 0);
	ck_assert_int_eq(mkdir(spath, 0700), 0);
	ck_assert_int_eq(try_open(false, &err), -EISDIR);
	ck_assert_msg(strstr(err.msg, "is a directory"), "%s", err.msg);
	ck_assert_int_eq(try_open(true, &err), -EISDIR);
}
END_TEST

/* ---- recovery messages (11.6) ---- */

START_TEST(test_missing_snapshot_names_the_missing_changes)
{
	struct dyn_err err;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "k", NULL);
	ck_assert_int_eq(put(db, "a", &err), 0);
	ck_assert_int_eq(store_snapshot(st, &err), 0); /* journal now starts at 3 */
	ck_assert_int_eq(put(db, "b", &err), 0);
	store_abandon(st);
	ck_assert_int_eq(unlink(spath), 0);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "missing") && strstr(err.msg, "changes 1..2 are missing"),
		      "%s", err.msg);
	ck_assert_int_eq(try_open(true, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "changes 1..2 are missing"), "%s", err.msg);
}
END_TEST

START_TEST(test_journal_header_checksum_comes_before_version)
{
	struct dyn_err err;
	uint8_t fh[JOURNAL_HDR_SIZE];
	store_t *st;
	db_t *db;
	size_t len;
	char *j;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_close(st, NULL);
	j = slurp(jpath, &len);
	journal_file_header(fh, JOURNAL_VERSION + 1, 1);
	fh[29] ^= 0x40; /* a damaged header that happens to read as a newer version */
	memcpy(j, fh, sizeof(fh));
	spit(jpath, j, len);
	free(j);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "checksum"), "%s", err.msg);
}
END_TEST

/* A snapshot file with the given item lines (valid checksum). */
static void write_snapshot(const char *items[], size_t n)
{
	char buf[4096], tail[200];
	size_t len = 0, i;

	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
				"{\"dynfs\":\"snapshot\",\"version\":1,\"lsn\":0,\"created\":"
				"\"2026-01-01T00:00:00Z\",\"tables\":[{\"name\":\"users\",\"schema\":"
				"{\"partition_key\":{\"name\":\"k\",\"type\":\"S\"}}}]}\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"t\":\"users\",\"i\":%s}\n",
					items[i]);
	snprintf(tail, sizeof(tail), "{\"end\":\"snapshot\",\"tables\":1,\"items\":%zu,"
				     "\"crc32c\":\"%08x\"}\n",
		 n, crc32c(0, buf, len));
	memcpy(buf + len, tail, strlen(tail));
	len += strlen(tail);
	spit(spath, buf, len);
}

START_TEST(test_snapshot_items_out_of_order_or_duplicated_are_refused)
{
	const char *ok[] = {"{\"k\":\"a\"}", "{\"k\":\"b\"}"};
	const char *dup[] = {"{\"k\":\"a\"}", "{\"k\":\"b\",\"v\":1}", "{\"k\":\"b\",\"v\":2}"};
	const char *order[] = {"{\"k\":\"b\"}", "{\"k\":\"a\"}"};
	struct dyn_err err;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_close(st, NULL);
	write_snapshot(ok, 2);
	ck_assert_msg(try_open(true, &err) == 0, "%s", err.msg);
	write_snapshot(dup, 3);
	ck_assert_int_eq(try_open(true, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "duplicate") && strstr(err.msg, "line 4") &&
			  strstr(err.msg, "offset"),
		      "%s", err.msg);
	write_snapshot(order, 2);
	ck_assert_int_eq(try_open(true, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "out of order") && strstr(err.msg, "line 3"), "%s",
		      err.msg);
}
END_TEST

Suite *storefault_suite(void);
Suite *storefault_suite(void)
{
	Suite *s = suite_create("storefault");
	TCase *tc;

	tc = tcase_create("journal_faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_failed_sync_is_rescued_by_a_snapshot);
	tcase_add_test(tc, test_failed_sync_without_rescue_stops_the_store);
	tcase_add_test(tc, test_refused_append_says_enospc_and_changes_nothing);
	tcase_add_test(tc, test_broken_journal_recovers_automatically);
	tcase_add_test(tc, test_batch_mode_sync_failure_is_rescued_in_background);
	tcase_add_test(tc, test_failing_rotation_backs_off);
	tcase_add_test(tc, test_torn_tail_is_set_aside);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_files_are_private);
	tcase_add_test(tc, test_symlinked_store_files_are_refused);
	tcase_add_test(tc, test_directories_and_foreign_owners_are_refused);
	tcase_add_test(tc, test_missing_snapshot_names_the_missing_changes);
	tcase_add_test(tc, test_journal_header_checksum_comes_before_version);
	tcase_add_test(tc, test_snapshot_items_out_of_order_or_duplicated_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
