/*
 * fix_ops.c - the fixture and helpers of the write-request suites; see
 * fix_ops.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fix_ops.h"
#include "fix_val.h"
#include "item.h"
#include "ops.h"

void setup(void)
{
	struct table_schema s;
	struct index_def idx;

	ck_assert_int_eq(db_new(&db), 0);
	memset(&s, 0, sizeof(s));
	memset(&idx, 0, sizeof(idx));
	attr_set(&s.pk, "username", VAL_S);
	snprintf(idx.name, sizeof(idx.name), "email-index");
	attr_set(&idx.pk, "email", VAL_S);
	idx.proj = PROJ_ALL;
	s.index = &idx;
	s.nindex = 1;
	ck_assert_int_eq(db_create_table(db, "users", &s, NULL), 0);
	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "id#level", VAL_S);
	attr_set(&s.sk, "week", VAL_S);
	s.has_sk = true;
	ck_assert_int_eq(db_create_table(db, "quiz-stats", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "users", &tu), 0);
	ck_assert_int_eq(db_table_open(db, "quiz-stats", &tq), 0);
}

void teardown(void)
{
	char *why = NULL;
	int rc = db_check_integrity(db, &why);

	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
	free(why);
	tbl_close(tu);
	tbl_close(tq);
	db_free(db);
}

TCase *fix_ops_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

void parse_json(const char *text, struct val *out)
{
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(item_parse_value(text, strlen(text), out, &err) == 0, "bad test JSON %s: %s",
		      text, err.msg);
}

struct val S(const char *s)
{
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, strlen(s)), 0);
	return v;
}

/* Compact JSON of users/<name> (static buffer), or "-" if absent. */
const char *user(const char *name)
{
	static char buf[8192];
	struct val pk = S(name), item;
	char *text;
	size_t len;
	int rc = tbl_get(tu, &pk, NULL, &item, NULL);

	val_free(&pk);
	if (rc == -ENOENT)
		return "-";
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(item_render_compact(&item, "username", NULL, &text, &len), 0);
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	val_free(&item);
	return buf;
}

void put_user(const char *json)
{
	struct val item;

	parse_json(json, &item);
	ck_assert_int_eq(tbl_put(tu, &item, 0, NULL), 0);
	val_free(&item);
}

size_t count_items(table_t *t)
{
	struct tbl_stats st;

	tbl_stats(t, &st);
	return (size_t)st.items;
}

void record(void *ctx, uint64_t line, int code, const char *msg)
{
	struct rec_reports *r = ctx;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%llu %d %s\n", (unsigned long long)line,
		 code, msg);
	r->n++;
}

struct rec_reports reps;

ops_batch_t *batch(table_t *t)
{
	ops_batch_t *b;

	memset(&reps, 0, sizeof(reps));
	ck_assert_int_eq(ops_batch_new(db, t, record, &reps, &b), 0);
	return b;
}

int feed(ops_batch_t *b, const char *text)
{
	return ops_batch_feed(b, text, strlen(text));
}

/* Run a whole batch text in one feed plus finish; returns feed|finish. */
int run_batch(table_t *t, const char *text)
{
	ops_batch_t *b = batch(t);
	int rc = feed(b, text), rc2 = ops_batch_finish(b);

	ops_batch_free(b);
	return rc ? rc : rc2;
}
