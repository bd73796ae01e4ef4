/*
 * check_store.c - the store: durability across close and crash, recovery
 * rules (torn tails, corruption refusal with files untouched, gaps,
 * versions), the lock, fsync modes and group commit, fuzzy snapshots
 * taken while writers run, automatic snapshots and bulk loads.
 *
 * A "crash" is store_abandon(): the store goes away without a snapshot
 * or a sync, leaving the files as a kill -9 would.
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

#include "fix_file.h"
#include "fix_store.h"
#include "fix_val.h"
#include "db.h"
#include "item.h"
#include "journal.h"
#include "ops.h"
#include "snap.h"
#include "store.h"
#include "storefmt.h"

static char dir[64];
static char jpath[128];
static char spath[128];

static void setup(void)
{
	strcpy(dir, "/tmp/check-store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(jpath, sizeof(jpath), "%s/%s", dir, JOURNAL_NAME);
	snprintf(spath, sizeof(spath), "%s/%s", dir, SNAP_NAME);
}

static void teardown(void)
{
	rm_rf(dir);
}

static off_t fsize(const char *p)
{
	struct stat sb;

	ck_assert_int_eq(stat(p, &sb), 0);
	return sb.st_size;
}

static store_t *open_store(enum store_fsync mode, db_t **db)
{
	struct store_opts o = {mode, false, true};
	struct dyn_err err;
	store_t *st;

	err_clear(&err);
	ck_assert_msg(store_open(dir, &o, &st, db, &err) == 0, "store_open: %s", err.msg);
	return st;
}

static void close_store(store_t *st)
{
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(store_close(st, &err) == 0, "store_close: %s", err.msg);
}

static int try_open(bool readonly, struct dyn_err *err)
{
	struct store_opts o = {STORE_FSYNC_ALWAYS, readonly, true};
	store_t *st;
	db_t *db;
	int rc;

	err_clear(err);
	rc = store_open(dir, &o, &st, &db, err);
	if (rc == 0)
		store_close(st, NULL);
	return rc;
}

static int put(db_t *db, const char *table, const char *json)
{
	struct dyn_err err;
	struct val item;
	table_t *t;
	int rc;

	err_clear(&err);
	ck_assert_int_eq(db_table_open(db, table, &t), 0);
	ck_assert_msg(item_parse(json, strlen(json), &item, &err) == 0, "parse: %s", err.msg);
	rc = tbl_put(t, &item, 0, &err);
	val_free(&item);
	tbl_close(t);
	return rc;
}

static void del(db_t *db, const char *table, const char *pk)
{
	struct val k;
	table_t *t;

	ck_assert_int_eq(db_table_open(db, table, &t), 0);
	ck_assert_int_eq(val_init_str(&k, pk, strlen(pk)), 0);
	ck_assert_int_eq(tbl_delete(t, &k, NULL, 0, NULL), 0);
	val_free(&k);
	tbl_close(t);
}

/* The item's canonical text, or NULL if absent. */
static char *get(db_t *db, const char *table, const char *pk)
{
	struct val k;
	table_t *t;
	char *text = NULL;
	size_t len;
	int rc;

	if (db_table_open(db, table, &t) < 0)
		return NULL;
	ck_assert_int_eq(val_init_str(&k, pk, strlen(pk)), 0);
	rc = tbl_get_text(t, &k, NULL, &text, &len, NULL);
	val_free(&k);
	tbl_close(t);
	return rc == 0 ? text : NULL;
}

static void assert_has(db_t *db, const char *table, const char *pk, const char *needle)
{
	char *text = get(db, table, pk);

	ck_assert_msg(text != NULL, "%s/%s missing", table, pk);
	ck_assert_msg(strstr(text, needle), "%s/%s lacks %s: %s", table, pk, needle, text);
	free(text);
}

static void assert_absent(db_t *db, const char *table, const char *pk)
{
	char *text = get(db, table, pk);

	ck_assert_msg(text == NULL, "%s/%s present: %s", table, pk, text);
}

static void assert_integrity(db_t *db)
{
	char *why = NULL;

	ck_assert_msg(db_check_integrity(db, &why) == 0, "integrity: %s", why);
}

/* ---- durability ---- */

START_TEST(test_close_then_reopen_keeps_everything)
{
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	create_table(db, "quiz-stats", "id#level", "week");
	ck_assert_int_eq(put(db, "users", "{\"username\":\"hedy\",\"level\":3,"
					  "\"big\":{\"$N\":\"12345678901234567890123456789012345678\"}}"), 0);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"gone\"}"), 0);
	ck_assert_int_eq(put(db, "quiz-stats", "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\","
					       "\"scores\":{\"$NS\":[60]}}"), 0);
	del(db, "users", "gone");
	close_store(st);
	/* the snapshot holds everything; the journal is empty */
	ck_assert_int_eq(fsize(jpath), JOURNAL_HDR_SIZE);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "hedy", "1.2345678901234567890123456789012345678e+37");
	assert_absent(db, "users", "gone");
	ck_assert_uint_eq(db_table_count(db), 2);
	assert_integrity(db);
	close_store(st);
}
END_TEST

START_TEST(test_crash_replays_the_journal)
{
	struct store_stats ss;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\",\"v\":1}"), 0);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\",\"v\":2}"), 0);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\",\"v\":1}"), 0);
	del(db, "users", "b");
	store_get_stats(st, &ss);
	ck_assert_uint_eq(ss.last_lsn, 5);
	ck_assert_uint_eq(ss.synced_lsn, 5);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "a", "\"v\": 2");
	assert_absent(db, "users", "b");
	assert_integrity(db);
	store_abandon(st);
	/* and again, after a crash of a store that had recovered */
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "a", "\"v\": 2");
	close_store(st);
}
END_TEST

/* A _batch line of a bare item is journaled as its own text (trimmed),
 * not rendered again; it replays to the same item.  A line with a BOM
 * and an envelope's item are rendered as before. */
START_TEST(test_batch_line_text_is_journaled_and_replays)
{
	static const char lines[] =
	    "  {\"v\": 1.0, \"username\": \"a\", \"s\": \"caf\\u00e9 \\\"q\\\"\", \"l\": [ 1 , {\"y\": -0, \"z\": {\"$SS\": [\"b\", \"a\"]}}]}\t\r\n"
	    "\xef\xbb\xbf{\"username\": \"bom\", \"n\": 2}\n"
	    "{\"put\": {\"z\": 3, \"username\": \"c\"}}\n";
	const char *names[] = {"a", "bom", "c", "pad"};
	const char *want[] = {
	    "{\"put\":\"users\",\"item\":{\"v\": 1.0, \"username\": \"a\", \"s\": \"caf\\u00e9 "
	    "\\\"q\\\"\", \"l\": [ 1 , {\"y\": -0, \"z\": {\"$SS\": [\"b\", \"a\"]}}]}}",
	    "{\"put\":\"users\",\"item\":{\"n\":2,\"username\":\"bom\"}}",
	    "{\"put\":\"users\",\"item\":{\"username\":\"c\",\"z\":3}}",
	    /* padded far beyond its item: rendered, not journaled as is */
	    "{\"put\":\"users\",\"item\":{\"n\":1,\"username\":\"pad\"}}",
	};
	char *before[4], *after, *jr, *all;
	ops_batch_t *b;
	size_t i, jlen;
	store_t *st;
	table_t *t;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(db_table_open(db, "users", &t), 0);
	ck_assert_int_eq(ops_batch_new(db, t, NULL, NULL, &b), 0);
	/* the lines above, then {"username": "pad", <20,000 blanks> "n": 1} */
	all = malloc(strlen(lines) + 20100);
	ck_assert_ptr_nonnull(all);
	i = (size_t)sprintf(all, "%s{\"username\": \"pad\",", lines);
	memset(all + i, ' ', 20000);
	strcpy(all + i + 20000, "\"n\": 1}\n");
	ck_assert_int_eq(ops_batch_feed(b, all, strlen(all)), 0);
	free(all);
	ops_batch_free(b);
	tbl_close(t);
	for (i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(before[i] = get(db, "users", names[i]));
	jr = slurp(jpath, &jlen);
	for (i = 0; i < 4; i++)
		ck_assert_msg(memmem(jr, jlen, want[i], strlen(want[i])), "journal lacks %s", want[i]);
	free(jr);
	store_abandon(st); /* a crash: the next open replays the journal */
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	for (i = 0; i < 4; i++) {
		after = get(db, "users", names[i]);
		ck_assert_ptr_nonnull(after);
		ck_assert_str_eq(after, before[i]);
		free(after);
		free(before[i]);
	}
	assert_has(db, "users", "a", "\"v\": 1");
	assert_integrity(db);
	close_store(st);
}
END_TEST

/*
 * A journal record of many changes copies a change's head ({"put":"t",
 * "item":) from the one before when kind and table agree: byte for byte
 * what rendering each change alone gives, on random mixes of kinds,
 * tables (the same pointer, an equal name elsewhere, other names), puts
 * with and without their text; and it parses back.
 */
START_TEST(test_changes_render_reuses_heads_byte_for_byte)
{
	static const char *const tables[] = {"users", "users", "quiz-stats", "a.b_c-9"};
	char other[] = "users"; /* equal to tables[0], another pointer */
	struct table_schema schema;
	struct sf_buf all = SF_BUF_INIT, one = SF_BUF_INIT, ref = SF_BUF_INIT;
	struct db_change ch[40];
	struct sf_changes back;
	struct dyn_err err;
	struct val *item = J("{\"username\": \"a\", \"n\": 1.50}");
	const struct val *k = vs("k"), *sv = vs("s");
	uint32_t seed = 7;
	size_t round, i, n;

	memset(&schema, 0, sizeof(schema));
	snprintf(schema.pk.name, sizeof(schema.pk.name), "username");
	schema.pk.type = VAL_S;
	for (round = 0; round < 500; round++) {
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 40;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			memset(&ch[i], 0, sizeof(ch[i]));
			ch[i].table = (seed >> 20) % 5 == 4 ? other : tables[(seed >> 16) % 4];
			switch ((seed >> 24) % 8) {
			case 0:
				ch[i].kind = DB_CH_DELETE;
				ch[i].pk = k;
				ch[i].sk = (seed >> 27) % 2 ? sv : NULL;
				break;
			case 1:
				ch[i].kind = (seed >> 27) % 2 ? DB_CH_CREATE_TABLE : DB_CH_SET_SCHEMA;
				ch[i].schema = &schema;
				break;
			case 2:
				ch[i].kind = DB_CH_DROP_TABLE;
				break;
			default:
				ch[i].kind = DB_CH_PUT;
				ch[i].item = item;
				if ((seed >> 27) % 4) {
					ch[i].item_text = "{\"username\":\"a\",\"n\":1.50}";
					ch[i].item_text_len = strlen(ch[i].item_text);
				}
			}
		}
		all.len = ref.len = 0;
		ck_assert_int_eq(sf_changes_render(&all, ch, n), 0);
		ck_assert_int_eq(sf_buf_addc(&ref, '['), 0);
		for (i = 0; i < n; i++) { /* one change alone: nothing to copy */
			one.len = 0;
			ck_assert_int_eq(sf_changes_render(&one, &ch[i], 1), 0);
			if (i)
				ck_assert_int_eq(sf_buf_addc(&ref, ','), 0);
			ck_assert_int_eq(sf_buf_add(&ref, one.p + 1, one.len - 2), 0);
		}
		ck_assert_int_eq(sf_buf_addc(&ref, ']'), 0);
		ck_assert_str_eq(all.p, ref.p);
		ck_assert_uint_eq(strlen(all.p), all.len);
		err_clear(&err);
		ck_assert_int_eq(sf_changes_parse(all.p, all.len, &back, &err), 0);
		ck_assert_uint_eq(back.n, n);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(back.ch[i].kind, ch[i].kind);
			ck_assert_str_eq(back.ch[i].table, ch[i].table);
		}
		sf_changes_free(&back);
	}
	sf_buf_free(&all);
	sf_buf_free(&one);
	sf_buf_free(&ref);
	fix_val_free();
}
END_TEST

START_TEST(test_torn_tail_is_cut_on_read_write_open)
{
	struct dyn_err err;
	store_t *st;
	db_t *db;
	off_t before, full;
	size_t len;
	char *orig;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	before = (off_t)records_len(jpath); /* zeroes written ahead follow */
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\"}"), 0);
	store_abandon(st);
	full = (off_t)records_len(jpath);
	ck_assert_int_gt(full, before);
	orig = slurp(jpath, &len);
	/* a crash in the middle of the last append, at every byte */
	for (off_t cut = before + 1; cut < full; cut += 3) {
		spit(jpath, orig, (size_t)cut);
		/* read-only: discarded but not cut */
		ck_assert_int_eq(try_open(true, &err), 0);
		ck_assert_int_eq(fsize(jpath), cut);
		st = open_store(STORE_FSYNC_ALWAYS, &db);
		ck_assert_int_eq(fsize(jpath), before);
		assert_has(db, "users", "a", "\"a\"");
		assert_absent(db, "users", "b");
		store_abandon(st);
	}
	free(orig);
}
END_TEST

/* Copies of both files, to prove a refused open left them alone. */
struct files {
	char *snap, *jnl; /* contents */
	size_t slen, jlen; /* sizes */
};

static void files_save(struct files *f)
{
	f->snap = slurp(spath, &f->slen);
	f->jnl = slurp(jpath, &f->jlen);
}

static void files_assert_same(struct files *f)
{
	size_t l;
	char *p;

	p = slurp(spath, &l);
	ck_assert_uint_eq(l, f->slen);
	ck_assert_mem_eq(p, f->snap, l);
	free(p);
	p = slurp(jpath, &l);
	ck_assert_uint_eq(l, f->jlen);
	ck_assert_mem_eq(p, f->jnl, l);
	free(p);
	free(f->snap);
	free(f->jnl);
}

START_TEST(test_mid_journal_corruption_refuses_and_touches_nothing)
{
	struct files f;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	size_t len;
	char *j;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\"}"), 0);
	store_abandon(st);
	j = slurp(jpath, &len);
	j[JOURNAL_HDR_SIZE + JOURNAL_REC_HDR + 5] ^= 0x20; /* inside record 1 */
	spit(jpath, j, len);
	free(j);
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, jpath));
	ck_assert_ptr_nonnull(strstr(err.msg, "offset 32"));
	ck_assert_int_eq(try_open(true, &err), -EINVAL);
	files_assert_same(&f);
}
END_TEST

START_TEST(test_corrupt_snapshot_refuses_and_touches_nothing)
{
	struct files f;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	size_t len;
	char *s;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\",\"x\":\"hello\"}"), 0);
	close_store(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\"}"), 0);
	store_abandon(st); /* the journal holds b */
	s = slurp(spath, &len);
	*strstr(s, "hello") = 'j';
	spit(spath, s, len);
	free(s);
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, spath));
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
	files_assert_same(&f);
	/* truncated snapshot, likewise */
	s = slurp(spath, &len);
	spit(spath, s, len / 2);
	free(s);
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	files_assert_same(&f);
}
END_TEST

START_TEST(test_newer_versions_are_eproto)
{
	struct files f;
	struct dyn_err err;
	uint8_t fh[JOURNAL_HDR_SIZE];
	store_t *st;
	db_t *db;
	size_t len;
	char *j;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	close_store(st);
	j = slurp(jpath, &len);
	journal_file_header(fh, JOURNAL_VERSION + 1, 1);
	memcpy(j, fh, sizeof(fh));
	spit(jpath, j, len);
	free(j);
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
	files_assert_same(&f);
}
END_TEST

START_TEST(test_journal_starting_after_snapshot_is_refused)
{
	struct files f;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	size_t oldlen;
	char *oldsnap;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	oldsnap = slurp(spath, &oldlen); /* lsn 0 */
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	close_store(st); /* snapshot lsn 2, journal starts at 3 */
	spit(spath, oldsnap, oldlen);
	free(oldsnap);
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
	files_assert_same(&f);
}
END_TEST

START_TEST(test_journal_behind_snapshot_starts_fresh)
{
	store_t *st;
	db_t *db;
	size_t len;
	char *old;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	old = slurp(jpath, &len); /* records 1..2 */
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\"}"), 0);
	ck_assert_int_eq(store_snapshot(st, NULL), 0); /* snapshot lsn 3 */
	store_abandon(st);
	/* as if unsynced journal records older than the snapshot were lost */
	spit(jpath, old, len);
	free(old);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "b", "\"b\"");
	ck_assert_int_eq(fsize(jpath), JOURNAL_HDR_SIZE);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"c\"}"), 0);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "c", "\"c\"");
	assert_has(db, "users", "a", "\"a\"");
	close_store(st);
}
END_TEST

/* Append a well-framed record with this payload to the journal's
 * records (over the zeroes written ahead of them). */
static void append_raw(uint64_t lsn, const char *payload)
{
	uint8_t hdr[JOURNAL_REC_HDR];
	FILE *fp;

	ck_assert_int_eq(truncate(jpath, (off_t)records_len(jpath)), 0);
	fp = fopen(jpath, "ab");

	ck_assert_ptr_nonnull(fp);
	journal_frame(hdr, lsn, payload, strlen(payload));
	ck_assert_int_eq(fwrite(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
	ck_assert_int_eq(fwrite(payload, 1, strlen(payload), fp), strlen(payload));
	ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(test_checksummed_but_unusable_records_are_refused)
{
	struct files f;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	size_t len;
	char *orig;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	store_abandon(st); /* journal: lsn 1 */
	orig = slurp(jpath, &len);
	/* a valid frame around text that is not a change list */
	append_raw(2, "[{\"put\":\"users\",\"item\":{\"username\":tru}}]\n");
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "unreadable payload"), "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "lsn 2"));
	files_assert_same(&f);
	/* a valid change that cannot be applied: an item of a table that is not there */
	spit(jpath, orig, len);
	append_raw(2, "[{\"put\":\"nosuch\",\"item\":{\"id\":\"x\"}}]\n");
	files_save(&f);
	ck_assert_int_eq(try_open(false, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "cannot be applied"), "%s", err.msg);
	files_assert_same(&f);
	/* and the well-formed version of it replays */
	spit(jpath, orig, len);
	append_raw(2, "[{\"put\":\"users\",\"item\":{\"username\":\"raw\",\"n\":1}},"
		      "{\"delete\":\"users\",\"pk\":\"absent\"}]\n");
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "raw", "\"n\": 1");
	close_store(st);
	free(orig);
}
END_TEST

/* ---- the lock ---- */

START_TEST(test_second_open_is_busy_and_names_pid)
{
	struct dyn_err err;
	char want[32];
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	ck_assert_int_eq(try_open(false, &err), -EBUSY);
	snprintf(want, sizeof(want), "process %ld", (long)getpid());
	ck_assert_msg(strstr(err.msg, want), "message: %s", err.msg);
	ck_assert_int_eq(try_open(true, &err), -EBUSY);
	close_store(st);
	/* released at close; read-only opens share */
	{
		struct store_opts ro = {STORE_FSYNC_ALWAYS, true, false};
		store_t *a, *b;
		db_t *da, *dbb;

		ck_assert_int_eq(store_open(dir, &ro, &a, &da, NULL), 0);
		ck_assert_int_eq(store_open(dir, &ro, &b, &dbb, NULL), 0);
		ck_assert_int_eq(try_open(false, &err), -EBUSY);
		store_close(a, NULL);
		store_close(b, NULL);
	}
	ck_assert_int_eq(try_open(false, &err), 0);
}
END_TEST

START_TEST(test_open_errors)
{
	struct store_opts o = {STORE_FSYNC_ALWAYS, false, false};
	struct dyn_err err;
	store_t *st;
	db_t *db;

	err_clear(&err);
	ck_assert_int_eq(store_open("/nonexistent/dynfs", &o, &st, &db, &err), -ENOENT);
	err_clear(&err);
	ck_assert_int_eq(store_open(dir, &o, &st, &db, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a dynfs store"));
}
END_TEST

START_TEST(test_read_only_open_writes_nothing)
{
	struct files f;
	struct dyn_err err;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	store_abandon(st);
	files_save(&f);
	ck_assert_int_eq(try_open(true, &err), 0);
	files_assert_same(&f);
}
END_TEST

/* ---- fsync modes, group commit ---- */

#define GC_THREADS 8
#define GC_EACH 30

struct gc_arg {
	db_t *db; /* target */
	int id;	  /* thread number */
};

static void *gc_writer(void *p)
{
	struct gc_arg *a = p;
	char json[96];
	int i;

	for (i = 0; i < GC_EACH; i++) {
		snprintf(json, sizeof(json), "{\"username\":\"t%d-%d\",\"v\":%d}", a->id, i, i);
		ck_assert_int_eq(put(a->db, "users", json), 0);
	}
	return NULL;
}

START_TEST(test_group_commit_shares_fsyncs)
{
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct store_stats ss;
	store_t *st;
	db_t *db;
	int i;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	store_set_sync_delay(st, 1000); /* a 1 ms disk, even on tmpfs */
	create_table(db, "users", "username", NULL);
	for (i = 0; i < GC_THREADS; i++) {
		args[i].db = db;
		args[i].id = i;
		pthread_create(&th[i], NULL, gc_writer, &args[i]);
	}
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);
	store_get_stats(st, &ss);
	ck_assert_uint_eq(ss.appends, GC_THREADS * GC_EACH + 1);
	ck_assert_uint_eq(ss.synced_lsn, ss.last_lsn);
	ck_assert_msg(ss.syncs < ss.appends, "%llu syncs for %llu appends",
		      (unsigned long long)ss.syncs, (unsigned long long)ss.appends);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "t7-29", "\"v\": 29");
	close_store(st);
}
END_TEST

START_TEST(test_fsync_off_never_syncs_batch_syncs_within_seconds)
{
	struct store_stats ss;
	store_t *st;
	db_t *db;
	int i;

	st = open_store(STORE_FSYNC_OFF, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	store_get_stats(st, &ss);
	ck_assert_uint_eq(ss.syncs, 0);
	close_store(st);

	st = open_store(STORE_FSYNC_BATCH, &db);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"b\"}"), 0);
	store_get_stats(st, &ss);
	ck_assert_uint_eq(ss.syncs, 0);
	for (i = 0; i < 40; i++) {
		usleep(100000);
		store_get_stats(st, &ss);
		if (ss.synced_lsn == ss.last_lsn)
			break;
	}
	ck_assert_uint_eq(ss.synced_lsn, ss.last_lsn);
	ck_assert_uint_ge(ss.syncs, 1);
	store_abandon(st);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	assert_has(db, "users", "a", "\"a\"");
	assert_has(db, "users", "b", "\"b\"");
	close_store(st);
}
END_TEST

/* ---- snapshots while writers run ---- */

#define SW_THREADS 4
#define SW_KEYS 300
#define SW_SNAPSHOTS 8

static bool sw_stop; /* atomic: the snapshots are done */

struct sw_arg {
	db_t *db;	    /* target */
	int id;		    /* thread number */
	int last[SW_KEYS];  /* expected final value per key; -1 = deleted */
};

/* Rewrite (or delete) every key, round after round, until told to stop. */
static void *sw_writer(void *p)
{
	struct sw_arg *a = p;
	char json[96], key[32];
	int r, k;

	for (r = 0; r < 2 || !__atomic_load_n(&sw_stop, __ATOMIC_RELAXED); r++) {
		for (k = 0; k < SW_KEYS; k++) {
			snprintf(key, sizeof(key), "w%d-%04d", a->id, k);
			if ((k + r) % 5 == 0 && r > 0) {
				del(a->db, "users", key);
				a->last[k] = -1;
			} else {
				snprintf(json, sizeof(json), "{\"username\":\"%s\",\"round\":%d}", key,
					 r);
				ck_assert_int_eq(put(a->db, "users", json), 0);
				a->last[k] = r;
			}
		}
	}
	return NULL;
}

START_TEST(test_snapshot_while_writers_run)
{
	static struct sw_arg args[SW_THREADS];
	pthread_t th[SW_THREADS];
	struct store_stats before, after;
	struct dyn_err err;
	char key[32], want[32];
	store_t *st;
	db_t *db;
	int i, k, overlapped = 0;

	st = open_store(STORE_FSYNC_OFF, &db);
	create_table(db, "users", "username", NULL);
	__atomic_store_n(&sw_stop, false, __ATOMIC_RELAXED);
	for (i = 0; i < SW_THREADS; i++) {
		args[i].db = db;
		args[i].id = i;
		pthread_create(&th[i], NULL, sw_writer, &args[i]);
	}
	/* once every key exists, snapshots back to back while the writers run */
	do {
		usleep(1000);
		store_get_stats(st, &before);
	} while (before.last_lsn < 2 * SW_THREADS * SW_KEYS);
	for (i = 0; i < SW_SNAPSHOTS; i++) {
		store_get_stats(st, &before);
		err_clear(&err);
		ck_assert_msg(store_snapshot(st, &err) == 0, "snapshot: %s", err.msg);
		store_get_stats(st, &after);
		overlapped += after.last_lsn > before.last_lsn;
	}
	__atomic_store_n(&sw_stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < SW_THREADS; i++)
		pthread_join(th[i], NULL);
	/* writes went on during snapshots: they were fuzzy (how many depends on scheduling) */
	ck_assert_int_ge(overlapped, 1);
	store_abandon(st); /* crash: the last snapshot plus the journal must do */
	st = open_store(STORE_FSYNC_OFF, &db);
	for (i = 0; i < SW_THREADS; i++)
		for (k = 0; k < SW_KEYS; k++) {
			snprintf(key, sizeof(key), "w%d-%04d", i, k);
			if (args[i].last[k] < 0) {
				assert_absent(db, "users", key);
			} else {
				snprintf(want, sizeof(want), "\"round\": %d", args[i].last[k]);
				assert_has(db, "users", key, want);
			}
		}
	assert_integrity(db);
	close_store(st);
}
END_TEST

static bool churn_stop; /* atomic */

static void *churn(void *p)
{
	db_t *db = p;
	struct table_schema s;
	int n = 0;

	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "id");
	s.pk.type = VAL_S;
	while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
		ck_assert_int_eq(db_create_table(db, "churn", &s, NULL), 0);
		ck_assert_int_eq(put(db, "churn", "{\"id\":\"x\"}"), 0);
		ck_assert_int_eq(db_drop_table(db, "churn", NULL), 0);
		n++;
	}
	/* leave it existing, with one item */
	ck_assert_int_eq(db_create_table(db, "churn", &s, NULL), 0);
	ck_assert_int_eq(put(db, "churn", "{\"id\":\"final\"}"), 0);
	return NULL;
}

START_TEST(test_snapshot_races_table_create_and_drop)
{
	struct dyn_err err;
	pthread_t th;
	store_t *st;
	db_t *db;
	char json[64];
	int i, rc, ok = 0;

	st = open_store(STORE_FSYNC_OFF, &db);
	create_table(db, "users", "username", NULL);
	for (i = 0; i < 2000; i++) {
		snprintf(json, sizeof(json), "{\"username\":\"u%d\"}", i);
		ck_assert_int_eq(put(db, "users", json), 0);
	}
	__atomic_store_n(&churn_stop, false, __ATOMIC_RELAXED);
	pthread_create(&th, NULL, churn, db);
	for (i = 0; i < 20; i++) {
		err_clear(&err);
		rc = store_snapshot(st, &err);
		ck_assert_msg(rc == 0 || rc == -EAGAIN, "snapshot: %d %s", rc, err.msg);
		ok += rc == 0;
	}
	__atomic_store_n(&churn_stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	store_abandon(st);
	st = open_store(STORE_FSYNC_OFF, &db);
	assert_has(db, "churn", "final", "final");
	assert_absent(db, "churn", "x");
	assert_has(db, "users", "u1999", "u1999");
	assert_integrity(db);
	close_store(st);
}
END_TEST

START_TEST(test_automatic_snapshot_when_journal_outgrows)
{
	struct store_stats ss;
	store_t *st;
	db_t *db;
	char json[128];
	int i;

	st = open_store(STORE_FSYNC_OFF, &db);
	store_set_snapshot_min(st, 8192);
	create_table(db, "users", "username", NULL);
	for (i = 0; i < 300; i++) {
		snprintf(json, sizeof(json), "{\"username\":\"u%03d\",\"pad\":\"%080d\"}", i, i);
		ck_assert_int_eq(put(db, "users", json), 0);
	}
	/* settles at journal <= max(snapshot, floor) */
	for (i = 0; i < 50; i++) {
		store_get_stats(st, &ss);
		if (ss.snapshots > 0 &&
		    ss.journal_bytes <= (ss.snapshot_bytes > 8192 ? ss.snapshot_bytes : 8192))
			break;
		usleep(100000);
	}
	ck_assert_uint_ge(ss.snapshots, 1);
	ck_assert_uint_le(ss.journal_bytes, (ss.snapshot_bytes > 8192 ? ss.snapshot_bytes : 8192));
	store_abandon(st);
	st = open_store(STORE_FSYNC_OFF, &db);
	assert_has(db, "users", "u299", "u299");
	assert_has(db, "users", "u000", "u000");
	close_store(st);
}
END_TEST

START_TEST(test_clean_close_without_changes_keeps_snapshot_file)
{
	struct stat a, b;
	store_t *st;
	db_t *db;

	st = open_store(STORE_FSYNC_ALWAYS, &db);
	create_table(db, "users", "username", NULL);
	close_store(st);
	ck_assert_int_eq(stat(spath, &a), 0);
	st = open_store(STORE_FSYNC_ALWAYS, &db);
	close_store(st);
	ck_assert_int_eq(stat(spath, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
}
END_TEST

/* ---- bulk loads ---- */

static int bulk_put(void *ctx, db_t *db, struct dyn_err *err)
{
	int n = *(int *)ctx, i;
	char json[64];

	create_table(db, "bulk", "id", NULL);
	for (i = 0; i < 1000; i++) {
		snprintf(json, sizeof(json), "{\"id\":\"k%04d\"}", i);
		ck_assert_int_eq(put(db, "bulk", json), 0);
	}
	return n < 0 ? err_set(err, EINVAL, "bad line %d", -n) : 0;
}

START_TEST(test_bulk_load_is_all_or_nothing)
{
	struct store_stats ss;
	struct dyn_err err;
	store_t *st;
	db_t *db;
	int fail = -7, ok = 0;

	st = open_store(STORE_FSYNC_OFF, &db);
	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(put(db, "users", "{\"username\":\"a\"}"), 0);
	close_store(st);

	st = open_store(STORE_FSYNC_OFF, &db);
	err_clear(&err);
	ck_assert_int_eq(store_bulk(st, bulk_put, &fail, &err), -EINVAL);
	store_close(st, NULL);
	st = open_store(STORE_FSYNC_OFF, &db);
	ck_assert_uint_eq(db_table_count(db), 1);
	assert_has(db, "users", "a", "\"a\"");

	ck_assert_int_eq(store_bulk(st, bulk_put, &ok, &err), 0);
	store_get_stats(st, &ss);
	ck_assert_uint_eq(ss.appends, 0); /* nothing journaled: the snapshot holds it */
	store_abandon(st);
	st = open_store(STORE_FSYNC_OFF, &db);
	assert_has(db, "bulk", "k0999", "k0999");
	assert_has(db, "users", "a", "\"a\"");
	assert_integrity(db);
	close_store(st);
}
END_TEST

Suite *store_suite(void);
Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("store_open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_close_then_reopen_keeps_everything);
	tcase_add_test(tc, test_crash_replays_the_journal);
	tcase_add_test(tc, test_batch_line_text_is_journaled_and_replays);
	tcase_add_test(tc, test_changes_render_reuses_heads_byte_for_byte);
	tcase_add_test(tc, test_torn_tail_is_cut_on_read_write_open);
	tcase_add_test(tc, test_mid_journal_corruption_refuses_and_touches_nothing);
	tcase_add_test(tc, test_corrupt_snapshot_refuses_and_touches_nothing);
	tcase_add_test(tc, test_newer_versions_are_eproto);
	tcase_add_test(tc, test_journal_starting_after_snapshot_is_refused);
	tcase_add_test(tc, test_journal_behind_snapshot_starts_fresh);
	tcase_add_test(tc, test_checksummed_but_unusable_records_are_refused);
	tcase_add_test(tc, test_second_open_is_busy_and_names_pid);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_read_only_open_writes_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_group_commit_shares_fsyncs);
	tcase_add_test(tc, test_fsync_off_never_syncs_batch_syncs_within_seconds);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_snapshot_while_writers_run);
	tcase_add_test(tc, test_snapshot_races_table_create_and_drop);
	tcase_add_test(tc, test_automatic_snapshot_when_journal_outgrows);
	tcase_add_test(tc, test_clean_close_without_changes_keeps_snapshot_file);
	tcase_add_test(tc, test_bulk_load_is_all_or_nothing);
	suite_add_tcase(s, tc);
	return s;
}
