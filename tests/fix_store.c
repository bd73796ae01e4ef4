/*
 * fix_store.c - temporary store directories and string-keyed tables for
 * tests (fix_store.h).
 */
#include "fix_store.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fix_file.h"
#include "item.h"
#include "journal.h"
#include "snap.h"
#include "storefmt.h"

void rm_rf(const char *d)
{
	char cmd[200];

	ck_assert_uint_lt(strlen(d), sizeof(cmd) - 8);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	ck_assert_int_eq(system(cmd), 0);
}

void create_table(db_t *db, const char *name, const char *pk, const char *sk)
{
	struct table_schema s;
	struct dyn_err err;

	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "%s", pk);
	s.pk.type = VAL_S;
	if (sk) {
		s.has_sk = true;
		snprintf(s.sk.name, sizeof(s.sk.name), "%s", sk);
		s.sk.type = VAL_S;
	}
	err_clear(&err);
	ck_assert_msg(db_create_table(db, name, &s, &err) == 0, "create %s: %s", name, err.msg);
}

/*
 * The store st in directory dir as a power loss now would leave it, into
 * directory to.  The
 * journal past its synced offset, in turns: cut off (the size was not
 * synced); zeroes to the file's size (the size was, and the bytes are
 * zeroes written ahead, or blocks the disk never got); the first half of
 * the unsynced bytes kept, zeroes after (a write into that room cut
 * short); each unsynced 4 KiB page kept or lost at random (a disk that
 * wrote the pages in its own order: a later one kept, an earlier lost).
 */
void crash_copy(store_t *st, const char *dir, const char *to)
{
	static int turn;
	char from[200], dst[200];
	uint64_t synced = store_synced_bytes(st);
	size_t len, keep;
	char *p;

	snprintf(from, sizeof(from), "%s/%s", dir, SNAP_NAME);
	snprintf(dst, sizeof(dst), "%s/%s", to, SNAP_NAME);
	p = slurp(from, &len);
	spit(dst, p, len);
	free(p);
	snprintf(from, sizeof(from), "%s/%s", dir, JOURNAL_NAME);
	snprintf(dst, sizeof(dst), "%s/%s", to, JOURNAL_NAME);
	p = slurp(from, &len);
	ck_assert_uint_le(synced, len);
	keep = turn % 4 == 2 ? synced + (len - synced) / 2 : turn % 4 == 3 ? len : synced;
	memset(p + keep, 0, len - keep);
	if (turn % 4 == 3) {
		size_t pg;

		for (pg = synced / 4096 * 4096; pg < len; pg += 4096)
			if (random() % 2) {
				size_t a = pg < synced ? synced : pg;
				size_t b = pg + 4096 < len ? pg + 4096 : len;

				memset(p + a, 0, b - a);
			}
	}
	spit(dst, p, turn % 4 ? len : (size_t)synced);
	turn++;
	free(p);
}

struct dump_names {
	char *v[64];
	int n;
};

static int dump_name(void *ctx, const char *name)
{
	struct dump_names *l = ctx;

	ck_assert_int_lt(l->n, 64);
	l->v[l->n++] = strdup(name);
	return 0;
}

struct dump_ctx {
	struct sf_buf *b;
	const char *pk, *sk;
};

static int dump_item(void *ctx, const struct item_ref *r)
{
	struct dump_ctx *d = ctx;
	struct val v;
	char *text;
	size_t len;

	ck_assert_int_eq(iref_decode(r, &v), 0);
	ck_assert_int_eq(item_render_compact(&v, d->pk, d->sk, &text, &len), 0);
	ck_assert_int_eq(sf_buf_add(d->b, text, len), 0);
	ck_assert_int_eq(sf_buf_addc(d->b, '\n'), 0);
	free(text);
	val_free(&v);
	return 0;
}

char *dump_db(db_t *db)
{
	struct sf_buf b = SF_BUF_INIT;
	struct dump_names l = {.n = 0};
	struct table_schema s;
	struct tbl_scan sc;
	struct dump_ctx d = {&b, NULL, NULL};
	table_t *t;
	char *why = NULL;
	size_t i;
	int k;

	ck_assert_msg(db_check_integrity(db, &why) == 0, "integrity: %s", why ? why : "?");
	ck_assert_int_eq(db_list_tables(db, NULL, dump_name, &l), 0);
	for (k = 0; k < l.n; k++) {
		ck_assert_int_eq(db_table_open(db, l.v[k], &t), 0);
		ck_assert_int_eq(tbl_schema(t, &s), 0);
		ck_assert_int_eq(sf_buf_printf(&b, "table %s ", l.v[k]), 0);
		ck_assert_int_eq(sf_schema_render(&b, &s), 0);
		ck_assert_int_eq(sf_buf_addc(&b, '\n'), 0);
		d.pk = s.pk.name;
		d.sk = s.has_sk ? s.sk.name : NULL;
		memset(&sc, 0, sizeof(sc));
		ck_assert_int_eq(tbl_scan(t, &sc, dump_item, &d, NULL), 0);
		for (i = 0; i < s.nindex; i++) {
			ck_assert_int_eq(sf_buf_printf(&b, "index %s\n", s.index[i].name), 0);
			sc.index = s.index[i].name;
			ck_assert_int_eq(tbl_scan(t, &sc, dump_item, &d, NULL), 0);
		}
		schema_free(&s);
		tbl_close(t);
		free(l.v[k]);
	}
	ck_assert_int_eq(sf_buf_addc(&b, 0), 0);
	return b.p;
}

int put_json(db_t *db, const char *table, const char *json)
{
	struct dyn_err err;
	struct val v;
	table_t *t;
	int rc;

	if (db_table_open(db, table, &t) < 0)
		return -ENOENT;
	err_clear(&err);
	ck_assert_msg(item_parse(json, strlen(json), &v, &err) == 0, "%s: %s", json, err.msg);
	rc = tbl_put(t, &v, 0, NULL);
	val_free(&v);
	tbl_close(t);
	return rc;
}

store_t *open_store_at(const char *d, enum store_fsync mode, db_t **db)
{
	struct store_opts o = {mode, false, true};
	struct dyn_err err;
	store_t *st;

	err_clear(&err);
	ck_assert_msg(store_open(d, &o, &st, db, &err) == 0, "store_open %s: %s", d, err.msg);
	return st;
}

void same_text(const char *what, const char *got, const char *want)
{
	ck_assert_msg(!strcmp(got, want), "%s differs from the model:\n--- got\n%s--- want\n%s",
		      what, got, want);
}

void same_after_reopen(store_t *st, const char *d, enum store_fsync mode, const char *want)
{
	db_t *db;
	char *got;

	ck_assert_int_eq(store_close(st, NULL), 0);
	st = open_store_at(d, mode, &db);
	got = dump_db(db);
	same_text("the store reopened", got, want);
	free(got);
	store_close(st, NULL);
}
