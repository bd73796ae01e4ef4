/*
 * check_db.c - the database and its tables: writes, key rules, db_apply
 * atomicity, the log and observer hooks, drop, stats, schema changes,
 * replay.  (Range reads: check_range.c; indexes: check_index.c; the
 * randomized comparison with a model: check_dbmodel.c.)
 *
 * Every test gets a fresh database from a checked fixture, and the
 * teardown runs db_check_integrity() on whatever the test left behind.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "item.h"
#include "num.h"

#include "fix_db.h"

/* ---- tbl_put / tbl_get / tbl_delete ---- */

START_TEST(test_put_then_get_returns_item)
{
	ck_assert_int_eq(put(tq, "{\"id#level\": \"hedy#1\", \"week\": \"2023-31\", \"id\": "
				 "\"hedy\", \"level\": 1, \"scores\": [60]}"),
			 0);
	ck_assert_str_eq(get_c(tq, vs("hedy#1"), vs("2023-31")),
			 "{\"id\":\"hedy\",\"id#level\":\"hedy#1\",\"level\":1,\"scores\":[60],"
			 "\"week\":\"2023-31\"}");
	ck_assert_ptr_null(get_c(tq, vs("hedy#1"), vs("2023-32")));
}
END_TEST

START_TEST(test_put_replaces_existing_item)
{
	struct tbl_stats st;

	ck_assert_int_eq(put(tu, "{\"username\": \"hedy\", \"email\": \"a@b\"}"), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"hedy\", \"level\": 3}"), 0);
	ck_assert_str_eq(get_c(tu, vs("hedy"), NULL), "{\"level\":3,\"username\":\"hedy\"}");
	tbl_stats(tu, &st);
	ck_assert_uint_eq(st.items, 1);
	ck_assert_uint_eq(st.partitions, 1);
}
END_TEST

START_TEST(test_put_if_absent_fails_when_present)
{
	struct dyn_err err;

	ck_assert_int_eq(put_err(tu, DB_IF_ABSENT, &err, "{\"username\": \"a\", \"x\": 1}"), 0);
	ck_assert_int_eq(put_err(tu, DB_IF_ABSENT, &err, "{\"username\": \"a\", \"x\": 2}"),
			 -EEXIST);
	ck_assert_str_eq(get_c(tu, vs("a"), NULL), "{\"username\":\"a\",\"x\":1}");
}
END_TEST

START_TEST(test_put_if_present_fails_when_absent)
{
	struct dyn_err err;

	ck_assert_int_eq(put_err(tu, DB_IF_PRESENT, &err, "{\"username\": \"a\"}"), -ENOENT);
	ck_assert_ptr_null(get_c(tu, vs("a"), NULL));
	ck_assert_int_eq(put(tu, "{\"username\": \"a\"}"), 0);
	ck_assert_int_eq(put_err(tu, DB_IF_PRESENT, &err, "{\"username\": \"a\", \"y\": 1}"), 0);
	ck_assert_str_eq(get_c(tu, vs("a"), NULL), "{\"username\":\"a\",\"y\":1}");
}
END_TEST

/* Key rules: each rejection is EINVAL, names the attribute, stores nothing. */
static void expect_rejected(table_t *t, int code, const char *attr, const char *json)
{
	struct tbl_stats before, after;
	struct dyn_err err;
	struct val item;
	va_list none;
	int rc;

	(void)none;
	tbl_stats(t, &before);
	err_clear(&err);
	ck_assert_int_eq(item_parse_value(json, strlen(json), &item, NULL), 0);
	rc = tbl_put(t, &item, 0, &err);
	val_free(&item);
	ck_assert_int_eq(rc, -code);
	ck_assert_int_eq(err.code, code);
	if (attr)
		ck_assert_msg(strstr(err.msg, attr), "message \"%s\" does not name %s", err.msg,
			      attr);
	tbl_stats(t, &after);
	ck_assert_uint_eq(after.items, before.items);
	ck_assert_uint_eq(after.bytes, before.bytes);
}

static void put_original(void)
{
	ck_assert_int_eq(put(tq, "{\"id#level\": \"a\", \"week\": \"w\", \"v\": 1}"), 0);
}

static void expect_original(void)
{
	ck_assert_str_eq(get_c(tq, vs("a"), vs("w")),
			 "{\"id#level\":\"a\",\"v\":1,\"week\":\"w\"}");
}

START_TEST(test_put_rejects_missing_partition_key)
{
	put_original();
	expect_rejected(tq, EINVAL, "id#level", "{\"week\": \"w\", \"v\": 2}");
	expect_original();
}
END_TEST

START_TEST(test_put_rejects_missing_sort_key)
{
	put_original();
	expect_rejected(tq, EINVAL, "week", "{\"id#level\": \"a\", \"v\": 2}");
	expect_original();
}
END_TEST

START_TEST(test_put_rejects_wrong_key_type)
{
	put_original();
	expect_rejected(tq, EINVAL, "week", "{\"id#level\": \"a\", \"week\": 5, \"v\": 2}");
	expect_rejected(tq, EINVAL, "id#level", "{\"id#level\": true, \"week\": \"w\"}");
	expect_rejected(tn, EINVAL, "n", "{\"p\": \"a\", \"n\": \"5\"}");
	expect_original();
}
END_TEST

START_TEST(test_put_rejects_empty_key)
{
	put_original();
	expect_rejected(tq, EINVAL, "id#level", "{\"id#level\": \"\", \"week\": \"w\"}");
	expect_rejected(tq, EINVAL, "week", "{\"id#level\": \"a\", \"week\": \"\"}");
	expect_rejected(tb, EINVAL, "b", "{\"p\": \"a\", \"b\": {\"$B\": \"\"}}");
	expect_original();
}
END_TEST

START_TEST(test_put_rejects_partition_key_over_2048_bytes)
{
	char *pk = malloc(2050);

	memset(pk, 'x', 2049);
	pk[2049] = 0;
	expect_rejected(tu, EINVAL, "username", "{\"username\": \"\"}");
	{
		char *json;

		ck_assert_int_ge(asprintf(&json, "{\"username\": \"%s\"}", pk), 0);
		expect_rejected(tu, EINVAL, "username", json);
		free(json);
	}
	pk[2048] = 0; /* exactly the limit is fine */
	ck_assert_int_eq(put(tu, "{\"username\": \"%s\"}", pk), 0);
	ck_assert_ptr_nonnull(get_c(tu, vs(pk), NULL));
	free(pk);
}
END_TEST

START_TEST(test_put_rejects_sort_key_over_1024_bytes)
{
	char *sk = malloc(1026), *json;

	memset(sk, 'y', 1025);
	sk[1025] = 0;
	ck_assert_int_ge(asprintf(&json, "{\"id#level\": \"a\", \"week\": \"%s\"}", sk), 0);
	expect_rejected(tq, EINVAL, "week", json);
	free(json);
	sk[1024] = 0;
	ck_assert_int_eq(put(tq, "{\"id#level\": \"a\", \"week\": \"%s\"}", sk), 0);
	ck_assert_ptr_nonnull(get_c(tq, vs("a"), vs(sk)));
	free(sk);
}
END_TEST

START_TEST(test_put_rejects_item_over_400k_with_efbig)
{
	char *big = malloc(410 * 1024), *json;

	put_original();
	memset(big, 'z', 410 * 1024 - 1);
	big[410 * 1024 - 1] = 0;
	ck_assert_int_ge(
	    asprintf(&json, "{\"id#level\": \"a\", \"week\": \"w\", \"x\": \"%s\"}", big), 0);
	expect_rejected(tq, EFBIG, NULL, json);
	free(json);
	free(big);
	expect_original();
}
END_TEST

START_TEST(test_put_rejects_non_map_item)
{
	expect_rejected(tu, EINVAL, NULL, "[1, 2]");
	expect_rejected(tu, EINVAL, NULL, "\"hello\"");
}
END_TEST

START_TEST(test_get_missing_is_enoent)
{
	struct val out;

	ck_assert_int_eq(tbl_get(tq, vs("nope"), vs("w"), &out, NULL), -ENOENT);
	ck_assert_int_eq(tbl_get(tu, vs("nope"), NULL, NULL, NULL), -ENOENT);
}
END_TEST

START_TEST(test_get_wrong_key_type_is_einval)
{
	ck_assert_int_eq(tbl_get(tq, vn("1"), vs("w"), NULL, NULL), -EINVAL);
	ck_assert_int_eq(tbl_get(tq, vs("a"), NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(tbl_get(tu, vs("a"), vs("b"), NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_get_text_is_canonical_with_exact_meta)
{
	struct item_meta meta, meta2;
	char *text, *want;
	size_t len, wlen;
	struct val *item;

	item = J("{\"username\": \"hedy\", \"b\": {\"$B\": \"AAE=\"}, \"n\": 0.1, \"l\": []}");
	ck_assert_int_eq(tbl_put(tu, item, 0, NULL), 0);
	ck_assert_int_eq(tbl_get_text(tu, vs("hedy"), NULL, &text, &len, &meta), 0);
	ck_assert_int_eq(item_render(item, "username", NULL, &want, &wlen), 0);
	ck_assert_str_eq(text, want);
	ck_assert_uint_eq(len, wlen);
	ck_assert_uint_eq(meta.text_len, wlen);
	ck_assert_uint_eq(meta.size, item_size(item));
	ck_assert_int_gt(meta.mtime_ns, 0);
	/* meta alone (the cached length) agrees */
	ck_assert_int_eq(tbl_get(tu, vs("hedy"), NULL, NULL, &meta2), 0);
	ck_assert_uint_eq(meta2.text_len, wlen);
	free(text);
	free(want);
}
END_TEST

START_TEST(test_delete_removes_item)
{
	struct tbl_stats st;

	ck_assert_int_eq(put(tq, "{\"id#level\": \"a\", \"week\": \"1\"}"), 0);
	ck_assert_int_eq(put(tq, "{\"id#level\": \"a\", \"week\": \"2\"}"), 0);
	ck_assert_int_eq(tbl_delete(tq, vs("a"), vs("1"), 0, NULL), 0);
	ck_assert_ptr_null(get_c(tq, vs("a"), vs("1")));
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 1);
	ck_assert_uint_eq(st.partitions, 1);
	ck_assert_int_eq(tbl_delete(tq, vs("a"), vs("2"), 0, NULL), 0);
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 0);
	ck_assert_uint_eq(st.partitions, 0);
	ck_assert_uint_eq(st.bytes, 0);
}
END_TEST

START_TEST(test_delete_absent_is_noop_unless_if_present)
{
	ck_assert_int_eq(tbl_delete(tq, vs("a"), vs("1"), 0, NULL), 0);
	ck_assert_int_eq(tbl_delete(tq, vs("a"), vs("1"), DB_IF_PRESENT, NULL), -ENOENT);
	ck_assert_int_eq(tbl_delete(tq, vs(""), vs("1"), 0, NULL), -EINVAL);
}
END_TEST

/* ---- db_apply ---- */

START_TEST(test_apply_failing_op_applies_nothing)
{
	struct db_op ops[3] = {
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"new1\"}")},
	    {.kind = DB_PUT, .table = tq, .item = J("{\"id#level\": \"x\", \"week\": \"1\"}")},
	    {.kind = DB_PUT,
	     .table = tu,
	     .item = J("{\"username\": \"old\", \"v\": 2}"),
	     .flags = DB_IF_ABSENT},
	};
	struct dyn_err err;
	size_t failed = 99;

	ck_assert_int_eq(put(tu, "{\"username\": \"old\", \"v\": 1}"), 0);
	err_clear(&err);
	ck_assert_int_eq(db_apply(db, ops, 3, &failed, &err), -EEXIST);
	ck_assert_uint_eq(failed, 2);
	ck_assert_ptr_null(get_c(tu, vs("new1"), NULL));
	ck_assert_ptr_null(get_c(tq, vs("x"), vs("1")));
	ck_assert_str_eq(get_c(tu, vs("old"), NULL), "{\"username\":\"old\",\"v\":1}");
	/* without the failing op, the rest goes through */
	ck_assert_int_eq(db_apply(db, ops, 2, &failed, NULL), 0);
	ck_assert_ptr_nonnull(get_c(tu, vs("new1"), NULL));
	ck_assert_ptr_nonnull(get_c(tq, vs("x"), vs("1")));
}
END_TEST

START_TEST(test_apply_invalid_item_fails_whole_transaction)
{
	struct db_op ops[2] = {
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"a\"}")},
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": 7}")},
	};
	size_t failed;

	ck_assert_int_eq(db_apply(db, ops, 2, &failed, NULL), -EINVAL);
	ck_assert_uint_eq(failed, 1);
	ck_assert_ptr_null(get_c(tu, vs("a"), NULL));
}
END_TEST

START_TEST(test_apply_rejects_two_ops_on_one_item)
{
	struct db_op ops[2] = {
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"a\", \"v\": 1}")},
	    {.kind = DB_DELETE, .table = tu, .pk = vs("a")},
	};
	struct dyn_err err;
	size_t failed;

	err_clear(&err);
	ck_assert_int_eq(db_apply(db, ops, 2, &failed, &err), -EINVAL);
	ck_assert_uint_eq(failed, 1);
	ck_assert_ptr_nonnull(strstr(err.msg, "same item"));
	ck_assert_ptr_null(get_c(tu, vs("a"), NULL));
}
END_TEST

/*
 * Up to DB_MAX_TX_OPS ops (a _batch group) are checked through a hash of
 * their keys, a few pairwise: both name the first op that repeats an
 * earlier one, and the same key in two tables is two items.
 */
START_TEST(test_apply_names_the_first_repeated_item)
{
	static const size_t cases[][3] = {{2, 0, 1}, {8, 3, 7}, {9, 0, 8}, {9, 7, 8},
					  {100, 0, 99}, {100, 37, 81}, {100, 98, 99}, {50, 12, 13}};
	table_t *t2 = mk_table("users2", "username", VAL_S, NULL, VAL_NULL);
	struct db_op ops[DB_MAX_TX_OPS];
	struct dyn_err err;
	struct tbl_stats ts;
	char want[80];
	size_t c, k, failed;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c][0], i = cases[c][1], j = cases[c][2];

		fix_val_free(); /* the last case's items (J keeps 256) */
		for (k = 0; k < n; k++)
			ops[k] = (struct db_op){.kind = DB_PUT, .table = k % 2 ? tu : t2,
						.item = J("{\"username\": \"k%zu\"}", k)};
		ops[j].table = ops[i].table;
		ops[j].item = J("{\"username\": \"k%zu\", \"v\": 1}", i);
		if (j + 1 < n) /* a later repeat is not the one named */
			ops[j + 1] = (struct db_op){.kind = DB_DELETE, .table = t2, .pk = vs("k0")};
		err_clear(&err);
		ck_assert_int_eq(db_apply(db, ops, n, &failed, &err), -EINVAL);
		ck_assert_uint_eq(failed, j);
		snprintf(want, sizeof(want), "operations %zu and %zu are on the same item of %s", i, j,
			 i % 2 ? "users" : "users2");
		ck_assert_str_eq(err.msg, want);
		tbl_stats(tu, &ts);
		ck_assert_uint_eq(ts.items, 0);
	}
	/* k / 2 repeats each key once, in the other table: all distinct */
	fix_val_free();
	for (k = 0; k < DB_MAX_TX_OPS; k++)
		ops[k] = (struct db_op){.kind = DB_PUT, .table = k % 2 ? tu : t2,
					.item = J("{\"username\": \"k%zu\"}", k / 2)};
	ck_assert_int_eq(db_apply(db, ops, DB_MAX_TX_OPS, NULL, NULL), 0);
	tbl_stats(tu, &ts);
	ck_assert_uint_eq(ts.items, DB_MAX_TX_OPS / 2);
	tbl_close(t2);
}
END_TEST

START_TEST(test_apply_rejects_too_many_ops)
{
	struct db_op ops[DB_MAX_TX_OPS + 1];
	size_t i;

	for (i = 0; i <= DB_MAX_TX_OPS; i++)
		ops[i] = (struct db_op){.kind = DB_CHECK, .table = tu, .pk = vs("x")};
	ck_assert_int_eq(db_apply(db, ops, DB_MAX_TX_OPS + 1, NULL, NULL), -EINVAL);
}
END_TEST

/* A DB_MODIFY callback: add 1 to "v" (absent: create with v=1);
 * "v" reaching 3 deletes the item, and "keep" leaves it alone. */
static int bump(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	const struct val *v;
	struct num one, sum;
	struct val nv;
	int64_t cur = 0;

	(void)ctx;
	if (old && val_map_get(old, "keep", 4))
		return 2;
	if (old) {
		ck_assert_int_eq(val_copy(out, old), 0);
		v = val_map_get(old, "v", 1);
		if (v)
			ck_assert_int_eq(num_to_int64(&v->n, &cur), 0);
	} else {
		val_init_map(out);
	}
	if (cur + 1 >= 3)
		return 1;
	num_from_int64(&one, 1);
	num_from_int64(&sum, cur);
	ck_assert_int_eq(num_add(&sum, &one, &sum, err), 0);
	val_init_num(&nv, &sum);
	ck_assert_int_eq(val_map_set(out, "v", 1, &nv), 0);
	return 0;
}

START_TEST(test_apply_modify_creates_updates_and_deletes)
{
	struct db_op op = {
	    .kind = DB_MODIFY, .table = tq, .pk = vs("a"), .sk = vs("w"), .fn = bump};

	ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), 0);
	/* the key attributes come from the op */
	ck_assert_str_eq(get_c(tq, vs("a"), vs("w")),
			 "{\"id#level\":\"a\",\"v\":1,\"week\":\"w\"}");
	ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), 0);
	ck_assert_str_eq(get_c(tq, vs("a"), vs("w")),
			 "{\"id#level\":\"a\",\"v\":2,\"week\":\"w\"}");
	ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), 0);
	ck_assert_ptr_null(get_c(tq, vs("a"), vs("w")));
	ck_assert_int_eq(put(tq, "{\"id#level\": \"a\", \"week\": \"w\", \"keep\": 1}"), 0);
	ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), 0);
	ck_assert_str_eq(get_c(tq, vs("a"), vs("w")),
			 "{\"id#level\":\"a\",\"keep\":1,\"week\":\"w\"}");
}
END_TEST

static int change_key(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct val s;

	(void)ctx;
	(void)err;
	ck_assert_int_eq(val_copy(out, old), 0);
	ck_assert_int_eq(val_init_str(&s, "other", 5), 0);
	ck_assert_int_eq(val_map_set(out, "week", 4, &s), 0);
	return 0;
}

START_TEST(test_apply_modify_cannot_change_key)
{
	struct db_op op = {
	    .kind = DB_MODIFY, .table = tq, .pk = vs("a"), .sk = vs("w"), .fn = change_key};

	put_original();
	ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), -EINVAL);
	expect_original();
	ck_assert_ptr_null(get_c(tq, vs("a"), vs("other")));
}
END_TEST

static int fail_cond(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	int *calls = ctx;

	(*calls)++;
	return err_set(err, ECANCELED, "condition failed");
}

static int pass_cond(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	int *calls = ctx;

	(*calls)++;
	return 0;
}

START_TEST(test_apply_callback_error_cancels_everything)
{
	int calls = 0;
	struct db_op ops[3] = {
	    {.kind = DB_PUT,
	     .table = tu,
	     .item = J("{\"username\": \"a\"}"),
	     .fn = pass_cond,
	     .ctx = &calls},
	    {.kind = DB_DELETE, .table = tq, .pk = vs("a"), .sk = vs("w")},
	    {.kind = DB_CHECK, .table = tu, .pk = vs("zzz"), .fn = fail_cond, .ctx = &calls},
	};
	struct dyn_err err;
	size_t failed;

	put_original();
	err_clear(&err);
	ck_assert_int_eq(db_apply(db, ops, 3, &failed, &err), -ECANCELED);
	ck_assert_uint_eq(failed, 2);
	ck_assert_str_eq(err.msg, "condition failed");
	ck_assert_int_eq(calls, 2);
	ck_assert_ptr_null(get_c(tu, vs("a"), NULL));
	expect_original();
}
END_TEST

START_TEST(test_apply_check_writes_nothing)
{
	int calls = 0;
	struct db_op ops[2] = {
	    {.kind = DB_CHECK,
	     .table = tq,
	     .pk = vs("a"),
	     .sk = vs("w"),
	     .fn = pass_cond,
	     .ctx = &calls,
	     .flags = DB_IF_PRESENT},
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"b\"}")},
	};
	struct tbl_stats st;

	ck_assert_int_eq(db_apply(db, ops, 2, NULL, NULL), -ENOENT);
	put_original();
	ck_assert_int_eq(db_apply(db, ops, 2, NULL, NULL), 0);
	ck_assert_int_eq(calls, 1);
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 1);
	expect_original();
	ck_assert_ptr_nonnull(get_c(tu, vs("b"), NULL));
}
END_TEST

START_TEST(test_apply_rename_is_delete_plus_put)
{
	struct db_op ops[2] = {
	    {.kind = DB_DELETE, .table = tq, .pk = vs("a"), .sk = vs("w"), .flags = DB_IF_PRESENT},
	    {.kind = DB_PUT,
	     .table = tq,
	     .item = J("{\"id#level\": \"b\", \"week\": \"w\", \"v\": 1}"),
	     .flags = DB_IF_ABSENT},
	};
	struct tbl_stats st;

	put_original();
	ck_assert_int_eq(db_apply(db, ops, 2, NULL, NULL), 0);
	ck_assert_ptr_null(get_c(tq, vs("a"), vs("w")));
	ck_assert_str_eq(get_c(tq, vs("b"), vs("w")),
			 "{\"id#level\":\"b\",\"v\":1,\"week\":\"w\"}");
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 1);
	ck_assert_uint_eq(st.partitions, 1);
}
END_TEST

START_TEST(test_apply_on_dropped_table_is_enoent)
{
	struct dyn_err err;

	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	ck_assert(!tbl_alive(tu));
	ck_assert_int_eq(put_err(tu, 0, &err, "{\"username\": \"a\"}"), -ENOENT);
	ck_assert_int_eq(tbl_get(tu, vs("a"), NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(tbl_scan(tu, &(struct tbl_scan){0}, collect, &(struct coll){0}, NULL),
			 -ENOENT);
}
END_TEST

/* ---- a stored put's own record (db.h db_stored_rec) ---- */

struct blob_at {
	const char *pk;	     /* the item looked for */
	const uint8_t *blob; /* where its record keeps its blob */
};

static int blob_at_cb(void *ctx, const struct item_ref *r)
{
	struct blob_at *b = ctx;
	const struct val *pk = iref_pk(r);
	const uint8_t *key;
	size_t klen, blen;

	if (pk->s.len == strlen(b->pk) && memcmp(pk->s.p, b->pk, pk->s.len) == 0)
		iref_bytes(r, &key, &klen, &b->blob, &blen);
	return 0;
}

/* Where tu's record of item pk keeps its blob (NULL: no such item). */
static const uint8_t *blob_of(const char *pk)
{
	struct blob_at b = {pk, NULL};

	ck_assert_int_eq(tbl_scan(tu, &(struct tbl_scan){0}, blob_at_cb, &b, NULL), 0);
	return b.blob;
}

/* A stored put of {"username": pk, "x": x} to tu, its record in st made
 * for key mk (NULL: st is as an earlier call left it). */
static int stored_put(const char *pk, int x, const char *mk, struct db_stored *st)
{
	struct val *rest = J("{\"x\": %d}", x), *part = J("{\"username\": \"%s\"}", pk);
	struct val *whole = J("{\"username\": \"%s\", \"x\": %d}", pk, x);
	struct db_op op = {.kind = DB_PUT, .table = tu, .item = part, .flags = DB_F_CHECKED};
	char text[64];
	uint8_t *blob;
	size_t blen;

	if (mk) {
		ck_assert_int_eq(item_encode(rest, &blob, &blen), 0);
		memset(st, 0, sizeof(*st));
		ck_assert_int_eq(db_stored_rec(st, vs(mk), NULL, blob, blen, item_size(whole)), 0);
		ck_assert_ptr_ne(st->blob, blob); /* st points into its record */
		free(blob);
	}
	snprintf(text, sizeof(text), "{\"username\":\"%s\",\"x\":%d}", pk, x);
	op.text = text;
	op.text_len = strlen(text);
	op.size = item_size(whole);
	op.stored = st;
	return db_apply(db, &op, 1, NULL, NULL);
}

/*
 * db_apply takes the caller's record as it is only when it holds the
 * op's key and is the caller's alone; else it stores a copy, as without
 * one: a record made for another key, or one a first apply of the same
 * op stored already (it is in the table and immutable), is never taken.
 */
START_TEST(test_stored_put_takes_the_callers_record_only_when_it_fits)
{
	struct db_stored st, other;
	struct tbl_stats ts;

	/* its own key: taken (the table's record is st's) */
	ck_assert_int_eq(stored_put("a", 1, "a", &st), 0);
	ck_assert_str_eq(get_c(tu, vs("a"), NULL), "{\"username\":\"a\",\"x\":1}");
	ck_assert_ptr_eq(blob_of("a"), st.blob);
	/* the same op again: a copy (the stored record stays as it was) */
	ck_assert_int_eq(stored_put("a", 1, NULL, &st), 0);
	ck_assert_ptr_nonnull(blob_of("a"));
	ck_assert_ptr_ne(blob_of("a"), st.blob);
	ck_assert_str_eq(get_c(tu, vs("a"), NULL), "{\"username\":\"a\",\"x\":1}");
	db_stored_release(&st);
	ck_assert_ptr_null(st.rec);
	/* a record made for another key: a copy, under the op's key */
	ck_assert_int_eq(stored_put("b", 2, "c", &other), 0);
	ck_assert_str_eq(get_c(tu, vs("b"), NULL), "{\"username\":\"b\",\"x\":2}");
	ck_assert_ptr_null(get_c(tu, vs("c"), NULL));
	ck_assert_ptr_ne(blob_of("b"), other.blob);
	db_stored_release(&other);
	db_stored_release(&other); /* NULL-safe */
	tbl_stats(tu, &ts);
	ck_assert_uint_eq(ts.items, 2);
}
END_TEST

/* ---- log and observer ---- */

struct fake_log {
	int fail;		       /* append fails with this (negative) */
	int sync_fail;		       /* sync fails with this */
	size_t appends;		       /* records appended */
	size_t changes;		       /* changes in them */
	size_t last_n;		       /* changes in the last record */
	uint64_t lsn;		       /* last lsn handed out */
	uint64_t synced;	       /* last lsn synced */
	enum db_change_kind kinds[16]; /* kinds of the last record */
};

static int fake_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct fake_log *l = ctx;
	size_t i;

	if (l->fail)
		return l->fail;
	l->appends++;
	l->changes += n;
	l->last_n = n;
	for (i = 0; i < n && i < 16; i++)
		l->kinds[i] = ch[i].kind;
	*lsn = ++l->lsn;
	return 0;
}

static int fake_sync(void *ctx, uint64_t lsn)
{
	struct fake_log *l = ctx;

	if (l->sync_fail)
		return l->sync_fail;
	l->synced = lsn;
	return 0;
}

static void install_log(struct fake_log *l)
{
	struct db_log log = {.append = fake_append, .sync = fake_sync, .ctx = l};

	memset(l, 0, sizeof(*l));
	db_set_log(db, &log);
}

START_TEST(test_log_failure_passes_errno_and_nothing_changes)
{
	struct db_op ops[2] = {
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"x\"}")},
	    {.kind = DB_DELETE, .table = tq, .pk = vs("a"), .sk = vs("w")},
	};
	struct table_schema s;
	struct fake_log l;
	struct dyn_err err;
	table_t *t;

	put_original();
	install_log(&l);
	l.fail = -ENOSPC;
	err_clear(&err);
	/* the log's errno is passed on: a full disk says ENOSPC, not a bare EIO */
	ck_assert_int_eq(db_apply(db, ops, 2, NULL, &err), -ENOSPC);
	ck_assert_int_eq(err.code, ENOSPC);
	ck_assert_msg(strstr(err.msg, "No space left on device") &&
			  strstr(err.msg, "nothing was changed"),
		      "%s", err.msg);
	ck_assert_ptr_null(get_c(tu, vs("x"), NULL));
	expect_original();
	/* table operations too */
	schema_init(&s, "k", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "newtable", &s, NULL), -ENOSPC);
	ck_assert_int_eq(db_table_open(db, "newtable", &t), -ENOENT);
	ck_assert_int_eq(db_drop_table(db, "quiz-stats", NULL), -ENOSPC);
	ck_assert(tbl_alive(tq));
	expect_original();
	l.fail = 0;
	ck_assert_int_eq(db_apply(db, ops, 2, NULL, NULL), 0);
	ck_assert_uint_eq(l.appends, 1);
	ck_assert_uint_eq(l.last_n, 2);
	ck_assert_int_eq(l.kinds[0], DB_CH_PUT);
	ck_assert_int_eq(l.kinds[1], DB_CH_DELETE);
	ck_assert_uint_eq(l.synced, l.lsn);
	db_set_log(db, NULL);
}
END_TEST

START_TEST(test_log_sync_failure_is_eio_but_change_stands)
{
	struct fake_log l;

	install_log(&l);
	l.sync_fail = -EIO;
	ck_assert_int_eq(put(tu, "{\"username\": \"x\"}"), -EIO);
	ck_assert_ptr_nonnull(get_c(tu, vs("x"), NULL));
	db_set_log(db, NULL);
}
END_TEST

START_TEST(test_log_skips_writes_that_change_nothing)
{
	struct fake_log l;

	install_log(&l);
	ck_assert_int_eq(tbl_delete(tu, vs("absent"), NULL, 0, NULL), 0);
	ck_assert_uint_eq(l.appends, 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"x\"}"), 0);
	ck_assert_uint_eq(l.appends, 1);
	db_set_log(db, NULL);
}
END_TEST

/*
 * Issue 17: an answer that wrote nothing still depends on the state it
 * read (thread A deleted x and waits for its sync; B's delete of x finds
 * nothing); it must wait until that state is durable: a sync of
 * DB_LSN_ALL, and a failed sync makes the answer an error.
 */
START_TEST(test_answers_that_write_nothing_wait_for_durable_state)
{
	struct table_schema s;
	struct fake_log l;

	install_log(&l);
	ck_assert_int_eq(tbl_delete(tu, vs("absent"), NULL, 0, NULL), 0);
	ck_assert_uint_eq(l.appends, 0);
	ck_assert_uint_eq(l.synced, DB_LSN_ALL);
	l.synced = 0;
	ck_assert_int_eq(tbl_delete(tu, vs("absent"), NULL, DB_IF_PRESENT, NULL), -ENOENT);
	ck_assert_uint_eq(l.synced, DB_LSN_ALL);
	l.synced = 0;
	ck_assert_int_eq(put(tu, "{\"username\": \"y\"}"), 0);
	ck_assert_uint_eq(l.synced, l.lsn);
	ck_assert_int_eq(put_err(tu, DB_IF_ABSENT, NULL, "{\"username\": \"y\"}"), -EEXIST);
	ck_assert_uint_eq(l.synced, DB_LSN_ALL);
	/* tables too: "exists" and "no such table" depend on state */
	l.synced = 0;
	ck_assert_int_eq(db_drop_table(db, "no-such-table", NULL), -ENOENT);
	ck_assert_uint_eq(l.synced, DB_LSN_ALL);
	l.synced = 0;
	schema_init(&s, "k", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "users", &s, NULL), -EEXIST);
	ck_assert_uint_eq(l.synced, DB_LSN_ALL);
	/* the state cannot be made durable: no answer from it */
	l.sync_fail = -EIO;
	ck_assert_int_eq(tbl_delete(tu, vs("absent"), NULL, 0, NULL), -EIO);
	db_set_log(db, NULL);
}
END_TEST

struct obs {
	size_t calls;		  /* observer calls */
	size_t changes;		  /* changes seen */
	char last[256];		  /* table of the last change */
	enum db_change_kind kind; /* its kind */
};

static void observe(void *ctx, const struct db_change *ch, size_t n)
{
	struct obs *o = ctx;

	o->calls++;
	o->changes += n;
	snprintf(o->last, sizeof(o->last), "%s", ch[n - 1].table);
	o->kind = ch[n - 1].kind;
	/* called after the locks are released: reading is fine */
	ck_assert_uint_ge(db_table_count(db), 1);
}

START_TEST(test_observer_sees_changes)
{
	struct table_schema s;
	struct obs o = {0};

	db_set_observer(db, observe, &o);
	ck_assert_int_eq(put(tu, "{\"username\": \"x\"}"), 0);
	ck_assert_uint_eq(o.calls, 1);
	ck_assert_str_eq(o.last, "users");
	ck_assert_int_eq(o.kind, DB_CH_PUT);
	ck_assert_int_eq(tbl_delete(tu, vs("x"), NULL, 0, NULL), 0);
	ck_assert_int_eq(o.kind, DB_CH_DELETE);
	ck_assert_int_eq(tbl_delete(tu, vs("x"), NULL, 0, NULL), 0);
	ck_assert_uint_eq(o.calls, 2); /* nothing changed: not observed */
	schema_init(&s, "k", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "t3x", &s, NULL), 0);
	ck_assert_int_eq(o.kind, DB_CH_CREATE_TABLE);
	ck_assert_int_eq(db_drop_table(db, "t3x", NULL), 0);
	ck_assert_int_eq(o.kind, DB_CH_DROP_TABLE);
	ck_assert_uint_eq(o.calls, 4);
	db_set_observer(db, NULL, NULL);
}
END_TEST

/* ---- tables ---- */

START_TEST(test_create_table_validates_name_and_schema)
{
	struct table_schema s;
	struct dyn_err err;

	schema_init(&s, "k", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "ab", &s, NULL), -EINVAL);
	ck_assert_int_eq(db_create_table(db, "a b c", &s, NULL), -EINVAL);
	ck_assert_int_eq(db_create_table(db, "users", &s, NULL), -EEXIST);
	ck_assert_int_eq(db_create_table(db, "A-b_c.9", &s, NULL), 0);
	schema_init(&s, "k", VAL_BOOL, NULL, VAL_NULL);
	err_clear(&err);
	ck_assert_int_eq(db_create_table(db, "bad-type", &s, &err), -EINVAL);
	schema_init(&s, "k", VAL_S, "k", VAL_N);
	ck_assert_int_eq(db_create_table(db, "same-keys", &s, NULL), -EINVAL);
	schema_init(&s, "", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "no-name", &s, NULL), -EINVAL);
	ck_assert(db_name_valid("abc"));
	ck_assert(!db_name_valid("ab/c"));
	ck_assert(!db_name_valid(""));
}
END_TEST

struct ncoll {
	char out[1024]; /* comma-separated names */
	int n;		/* seen */
};

static int list_names(void *ctx, const char *name)
{
	struct ncoll *c = ctx;
	size_t len = strlen(c->out);

	snprintf(c->out + len, sizeof(c->out) - len, "%s%s", c->n ? "," : "", name);
	c->n++;
	return 0;
}

START_TEST(test_list_tables_sorted_after)
{
	struct ncoll c = {.n = 0};

	ck_assert_int_eq(db_list_tables(db, NULL, list_names, &c), 0);
	ck_assert_str_eq(c.out, "bins,nums,quiz-stats,users");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(db_list_tables(db, "nums", list_names, &c), 0);
	ck_assert_str_eq(c.out, "quiz-stats,users");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(db_list_tables(db, "o", list_names, &c), 0);
	ck_assert_str_eq(c.out, "quiz-stats,users");
	ck_assert_uint_eq(db_table_count(db), 4);
}
END_TEST

START_TEST(test_drop_table_with_open_handle)
{
	struct table_schema s;
	table_t *t2, *t3;
	uint64_t id = tbl_id(tu);

	ck_assert_int_eq(put(tu, "{\"username\": \"a\"}"), 0);
	ck_assert_int_eq(db_table_open(db, "users", &t2), 0);
	ck_assert_ptr_eq(t2, tu);
	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	ck_assert_int_eq(db_drop_table(db, "users", NULL), -ENOENT);
	ck_assert(!tbl_alive(t2));
	ck_assert_str_eq(tbl_name(t2), "users");
	ck_assert_int_eq(tbl_get(t2, vs("a"), NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(db_table_open(db, "users", &t3), -ENOENT);
	tbl_close(t2);
	/* a new table of the same name is a different table */
	schema_init(&s, "username", VAL_S, NULL, VAL_NULL);
	ck_assert_int_eq(db_create_table(db, "users", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "users", &t3), 0);
	ck_assert_uint_ne(tbl_id(t3), id);
	ck_assert_int_eq(tbl_get(t3, vs("a"), NULL, NULL, NULL), -ENOENT);
	tbl_close(t3);
}
END_TEST

START_TEST(test_stats_track_items_bytes_partitions)
{
	struct tbl_stats st, st2;
	struct val *a = J("{\"id#level\": \"a\", \"week\": \"1\", \"x\": \"hello\"}");
	struct val *b = J("{\"id#level\": \"a\", \"week\": \"2\", \"y\": [1, 2, 3]}");
	struct val *c = J("{\"id#level\": \"b\", \"week\": \"1\"}");

	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 0);
	ck_assert_int_eq(tbl_put(tq, a, 0, NULL), 0);
	ck_assert_int_eq(tbl_put(tq, b, 0, NULL), 0);
	ck_assert_int_eq(tbl_put(tq, c, 0, NULL), 0);
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 3);
	ck_assert_uint_eq(st.partitions, 2);
	ck_assert_uint_eq(st.bytes, item_size(a) + item_size(b) + item_size(c));
	ck_assert_int_gt(st.mtime_ns, 0);
	ck_assert_int_eq(tbl_delete(tq, vs("a"), vs("2"), 0, NULL), 0);
	tbl_stats(tq, &st2);
	ck_assert_uint_eq(st2.bytes, item_size(a) + item_size(c));
	ck_assert_uint_eq(st2.partitions, 2);
	ck_assert_int_ge(st2.mtime_ns, st.mtime_ns);
}
END_TEST

/* ---- db_set_schema ---- */

START_TEST(test_set_schema_key_change_only_while_empty)
{
	struct table_schema s;
	struct dyn_err err;

	schema_init(&s, "id", VAL_N, NULL, VAL_NULL);
	ck_assert_int_eq(db_set_schema(db, "users", &s, NULL), 0);
	ck_assert_str_eq(tbl_pk(tu)->name, "id");
	ck_assert_ptr_null(tbl_sk(tu));
	ck_assert_int_eq(put(tu, "{\"id\": 5}"), 0);
	schema_init(&s, "username", VAL_S, NULL, VAL_NULL);
	err_clear(&err);
	ck_assert_int_eq(db_set_schema(db, "users", &s, &err), -EBUSY);
	ck_assert_int_eq(tbl_pk(tu)->type, VAL_N);
	ck_assert_int_eq(db_set_schema(db, "nosuch", &s, NULL), -ENOENT);
}
END_TEST

/* ---- db_replay ---- */

START_TEST(test_replay_rebuilds_state)
{
	struct table_schema s;
	struct db_change ch;
	db_t *db2;
	table_t *t;
	struct val *item = J("{\"k\": \"a\", \"v\": 1}");
	struct fake_log l;
	char *why;

	ck_assert_int_eq(db_new(&db2), 0);
	schema_init(&s, "k", VAL_S, NULL, VAL_NULL);
	install_log(&l); /* replay must not log: this log is on db, not db2 */
	ch = (struct db_change){.kind = DB_CH_CREATE_TABLE, .table = "tbl", .schema = &s};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), 0);
	ch = (struct db_change){.kind = DB_CH_PUT, .table = "tbl", .item = item};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), 0);
	ch = (struct db_change){.kind = DB_CH_PUT, .table = "tbl", .item = J("{\"k\": \"b\"}")};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), 0);
	ch = (struct db_change){.kind = DB_CH_DELETE, .table = "tbl", .pk = vs("b")};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), 0);
	ck_assert_int_eq(db_table_open(db2, "tbl", &t), 0);
	ck_assert_str_eq(get_c(t, vs("a"), NULL), "{\"k\":\"a\",\"v\":1}");
	ck_assert_ptr_null(get_c(t, vs("b"), NULL));
	ck_assert_int_eq(tbl_check_integrity(t, &why), 0);
	tbl_close(t);
	ch = (struct db_change){.kind = DB_CH_DROP_TABLE, .table = "tbl"};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), 0);
	ck_assert_uint_eq(db_table_count(db2), 0);
	ch = (struct db_change){.kind = DB_CH_PUT, .table = "tbl", .item = item};
	ck_assert_int_eq(db_replay(db2, &ch, NULL), -ENOENT);
	db_free(db2);
	db_set_log(db, NULL);
}
END_TEST

Suite *db_suite(void);
Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc;

#define TC(name) (tc = fix_db_tcase(s, name))

	TC("tbl_put");
	tcase_add_test(tc, test_put_then_get_returns_item);
	tcase_add_test(tc, test_put_replaces_existing_item);
	tcase_add_test(tc, test_put_if_absent_fails_when_present);
	tcase_add_test(tc, test_put_if_present_fails_when_absent);
	tcase_add_test(tc, test_put_rejects_missing_partition_key);
	tcase_add_test(tc, test_stored_put_takes_the_callers_record_only_when_it_fits);
	tcase_add_test(tc, test_put_rejects_missing_sort_key);
	tcase_add_test(tc, test_put_rejects_wrong_key_type);
	tcase_add_test(tc, test_put_rejects_empty_key);
	tcase_add_test(tc, test_put_rejects_partition_key_over_2048_bytes);
	tcase_add_test(tc, test_put_rejects_sort_key_over_1024_bytes);
	tcase_add_test(tc, test_put_rejects_item_over_400k_with_efbig);
	tcase_add_test(tc, test_put_rejects_non_map_item);

	TC("tbl_get");
	tcase_add_test(tc, test_get_missing_is_enoent);
	tcase_add_test(tc, test_get_wrong_key_type_is_einval);
	tcase_add_test(tc, test_get_text_is_canonical_with_exact_meta);

	TC("tbl_delete");
	tcase_add_test(tc, test_delete_removes_item);
	tcase_add_test(tc, test_delete_absent_is_noop_unless_if_present);

	TC("db_apply");
	tcase_add_test(tc, test_apply_failing_op_applies_nothing);
	tcase_add_test(tc, test_apply_invalid_item_fails_whole_transaction);
	tcase_add_test(tc, test_apply_rejects_two_ops_on_one_item);
	tcase_add_test(tc, test_apply_names_the_first_repeated_item);
	tcase_add_test(tc, test_apply_rejects_too_many_ops);
	tcase_add_test(tc, test_apply_modify_creates_updates_and_deletes);
	tcase_add_test(tc, test_apply_modify_cannot_change_key);
	tcase_add_test(tc, test_apply_callback_error_cancels_everything);
	tcase_add_test(tc, test_apply_check_writes_nothing);
	tcase_add_test(tc, test_apply_rename_is_delete_plus_put);
	tcase_add_test(tc, test_apply_on_dropped_table_is_enoent);

	TC("db_set_log");
	tcase_add_test(tc, test_log_failure_passes_errno_and_nothing_changes);
	tcase_add_test(tc, test_log_sync_failure_is_eio_but_change_stands);
	tcase_add_test(tc, test_log_skips_writes_that_change_nothing);
	tcase_add_test(tc, test_answers_that_write_nothing_wait_for_durable_state);

	TC("db_set_observer");
	tcase_add_test(tc, test_observer_sees_changes);

	TC("db_create_table");
	tcase_add_test(tc, test_create_table_validates_name_and_schema);
	tcase_add_test(tc, test_list_tables_sorted_after);

	TC("db_drop_table");
	tcase_add_test(tc, test_drop_table_with_open_handle);

	TC("tbl_stats");
	tcase_add_test(tc, test_stats_track_items_bytes_partitions);

	TC("db_set_schema");
	tcase_add_test(tc, test_set_schema_key_change_only_while_empty);

	TC("db_replay");
	tcase_add_test(tc, test_replay_rebuilds_state);
#undef TC
	return s;
}
