/*
 * check_remote_backend.c - the remote backend (remote/rbe.c) through the
 * backend face, its writes and schema: table permissions, conditional
 * writes and the save-against-the-version-read condition, _batch runs
 * (order, duplicates, a failing line reported alone), transactions (all
 * or nothing, the failing op named), schema changes, watch, stats; and
 * the target/option parser without a server.  Reads and the read caches
 * are in check_remote_backend_read.c; the fixture both use is fix_rbe.h.
 *
 * DYNFS_RBE_ENDPOINT=http://HOST:PORT runs the same tests against that
 * service instead (tests/remote/run: dynalite, DynamoDB Local); every
 * table is deleted after each test.  DYNFS_RBE_DYNALITE=1: the service has
 * no transactions and no UpdateTable of indexes (dynalite), so those
 * tests check -ENOTSUP instead or stop there.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "fix_val.h"
#include "item.h"
#include "ops.h"
#include "rbe.h"
#include "fix_rbe.h"

static bool no_tx(void)
{
	const char *e = getenv("DYNFS_RBE_DYNALITE");

	return e && *e == '1';
}

static int wr(be_table_t *t, enum ops_kind kind, const struct val *item_or_pk, const expr_t *cond,
	      int flags, const struct val *expect, struct val *out, struct dyn_err *err)
{
	be_op op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.table = t;
	if (kind == OPS_PUT)
		op.item = (struct val *)item_or_pk;
	else
		op.pk = item_or_pk;
	op.cond = cond;
	op.flags = flags;
	op.expect = expect;
	op.out = out;
	return be_apply(be, &op, 1, NULL, err);
}

static expr_t *C(const char *text)
{
	expr_t *e = NULL;
	struct dyn_err err = {0};

	ck_assert_msg(expr_parse_condition(text, strlen(text), NULL, &e, &err) == 0, "%s", err.msg);
	return e;
}

START_TEST(test_tables_and_permissions)
{
	struct table_schema s;
	struct dyn_err err = {0};
	char names[256] = "";
	be_table_t *t, *t2;

	mk_table("users", false, false);
	mk_table("logs", true, false);
	ck_assert_int_eq(be_list_tables(be, NULL, count_name, names, NULL), 0);
	ck_assert_str_eq(names, "logs users ");
	ck_assert_uint_eq(be_table_count(be), 2);
	names[0] = 0;
	ck_assert_int_eq(be_list_tables(be, "logs", count_name, names, NULL), 0);
	ck_assert_str_eq(names, "users ");
	t = open_t("logs");
	ck_assert_str_eq(be_table_name(t), "logs");
	ck_assert_str_eq(be_table_pk(t)->name, "p");
	ck_assert_str_eq(be_table_sk(t)->name, "s");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be_table_schema(t, &s, NULL), 0);
	ck_assert(s.has_sk);
	schema_free(&s);
	t2 = open_t("logs");
	ck_assert_uint_eq(be_table_id(t), be_table_id(t2));
	be_table_close(t2);
	ck_assert_int_eq(be_table_open(be, "nope", &t2, NULL), -ENOENT);
	ck_assert(be_table_alive(t));
	ck_assert_int_eq(be_drop_table(be, "logs", &err), 0);
	ck_assert(!be_table_alive(t));
	be_table_close(t);
	names[0] = 0;
	/* our own drop invalidated the cached table list at once */
	ck_assert_int_eq(be_list_tables(be, NULL, count_name, names, NULL), 0);
	ck_assert_str_eq(names, "users ");
	ck_assert_int_ge(nchanges, 3);
	teardown();

	/* without the allow_* options: refused before any call */
	struct rbe_opts o = {0};

	open_be(&o);
	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "p", VAL_S);
	err = (struct dyn_err){0};
	ck_assert_int_eq(be_create_table(be, "t1", &s, &err), -EPERM);
	ck_assert_msg(strstr(err.msg, "allow_table_create"), "%s", err.msg);
	ck_assert_uint_eq(be_table_count(be), 0);
	teardown();

	/* ro: every write refused; tables=: only those, without ListTables */
	struct rbe_opts o2 = {.ro = true, .allow_table_create = true};
	struct dyn_err e2 = {0};

	ck_assert_int_eq(rbe_parse_option("tables", "a_t,b_t", &(struct rmt_opts){0}, &o2, &e2), 1);
	open_be(&o2);
	ck_assert_int_eq(be_create_table(be, "a_t", &s, &err), -EROFS);
	names[0] = 0;
	ck_assert_int_eq(be_list_tables(be, NULL, count_name, names, NULL), 0);
	ck_assert_str_eq(names, "a_t b_t ");
	ck_assert_int_eq(be_table_open(be, "other", &t, NULL), -ENOENT);
}
END_TEST

START_TEST(test_items_and_conditions)
{
	struct dyn_err err = {0};
	struct val got;
	struct item_meta meta;
	char *text = NULL;
	size_t len = 0;
	be_table_t *t;

	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_msg(be_put(t, J("{\"p\": \"ann\", \"age\": 30}"), DB_IF_ABSENT, &err) == 0, "%s",
		      err.msg);
	/* O_EXCL on an existing item: EEXIST, and the message says what the service kept */
	err = (struct dyn_err){0};
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"age\": 31}"), DB_IF_ABSENT, &err),
			 -EEXIST);
	ck_assert_msg(strstr(err.msg, "version was kept") && strstr(err.msg, "30"), "%s", err.msg);
	/* a user condition that fails: ECANCELED */
	expr_t *c = C("age > 40");
	ck_assert_int_eq(wr(t, OPS_PUT, J("{\"p\": \"ann\", \"age\": 1}"), c, 0, NULL, NULL, &err),
			 -ECANCELED);
	expr_free(c);
	val_init_null(&got);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, &meta, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"age\": 30}")));
	ck_assert_uint_gt(meta.text_len, 10);
	ck_assert_uint_eq(meta.size, item_size(&got));
	val_free(&got);
	/* no item times: the version is the hash of the canonical text (fs/mtime.c dates it) */
	ck_assert(!(be_caps(be) & BE_CAP_ITEM_TIMES));
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0);
	ck_assert_msg(strstr(text, "\"age\": 30"), "%s", text);
	ck_assert_uint_eq(meta.version, be_text_version(text, len));
	ck_assert_uint_ne(meta.version, 0);
	free(text);
	/* delete with out: the old item */
	ck_assert_int_eq(wr(t, OPS_DELETE, vs("ann"), NULL, DB_IF_PRESENT, NULL, &got, &err), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"age\": 30}")));
	val_free(&got);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(be_delete(t, vs("ann"), NULL, DB_IF_PRESENT, &err), -ENOENT);
	/* check_item: key types as the service would refuse them */
	ck_assert_int_eq(be_check_item(t, J("{\"p\": 5}"), &err), -EINVAL);
	ck_assert_int_eq(be_check_item(t, J("{\"q\": \"x\"}"), &err), -EINVAL);
	ck_assert_int_eq(be_check_item(t, J("{\"p\": \"x\"}"), &err), 0);
	be_table_close(t);
}
END_TEST

/* An editor's save: conditional on the version it read (be_op.expect). */
START_TEST(test_save_against_version_read)
{
	struct dyn_err err = {0};
	struct val *v1 = J("{\"p\": \"ann\", \"age\": 30, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val *v2 = J("{\"p\": \"ann\", \"age\": 31, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val *v3 = J("{\"p\": \"ann\", \"age\": 31, \"tags\": [\"a\"], \"note\": \"hi\"}");
	struct val *theirs = J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val got;
	be_table_t *t;

	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(be_put(t, v1, 0, &err), 0);
	/* nothing changed: the save lands */
	ck_assert_msg(wr(t, OPS_PUT, v2, NULL, 0, v1, NULL, &err) == 0, "%s", err.msg);

	/* another writer changed it after we read v2: our save fails (EAGAIN), theirs stays */
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", theirs, NULL, NULL, &err), 0);
	err = (struct dyn_err){0};
	ck_assert_int_eq(wr(t, OPS_PUT, v3, NULL, 0, v2, NULL, &err), -EAGAIN);
	ck_assert_msg(strstr(err.msg, "changed on the service since it was read") &&
			  strstr(err.msg, "40"),
		      "%s", err.msg);
	val_init_null(&got);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, theirs));
	val_free(&got);

	/* another writer added the attribute our version adds: caught too */
	struct val *v5 =
	    J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}], \"k\": 1}");
	struct val *t5 =
	    J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}], \"k\": 2}");

	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", t5, NULL, NULL, &err), 0);
	ck_assert_int_eq(wr(t, OPS_PUT, v5, NULL, 0, theirs, NULL, &err), -EAGAIN);

	/* another writer added an attribute neither version has: the item is
	 * read and compared whole before the save, so that is caught too */
	struct val *t6 = J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}], \"k\": 2, "
			   "\"z\": 9}");
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", t6, NULL, NULL, &err), 0);
	err = (struct dyn_err){0};
	ck_assert_int_eq(wr(t, OPS_PUT, v5, NULL, 0, t5, NULL, &err), -EAGAIN);
	ck_assert_msg(strstr(err.msg, "\"z\":9"), "%s", err.msg);
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", t5, NULL, NULL, &err), 0);

	/* deleted by another writer: the save fails (ENOENT), does not resurrect it */
	ck_assert_int_eq(
	    rmt_delete_item(rbe_client(be), "users", J("{\"p\": \"ann\"}"), NULL, NULL, &err), 0);
	err = (struct dyn_err){0};
	ck_assert_int_eq(wr(t, OPS_PUT, v5, NULL, 0, t5, NULL, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "deleted since it was read"), "%s", err.msg);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), -ENOENT);

	/* a wide item: the condition covers 100 attributes and still holds */
	struct val wide, pv;
	val_init_map(&wide);
	for (int i = 0; i < 150; i++) {
		char name[16];
		struct val n;

		snprintf(name, sizeof(name), "a%03d", i);
		val_copy(&n, vn("1"));
		val_map_set(&wide, name, strlen(name), &n);
	}
	val_copy(&pv, vs("w"));
	val_map_set(&wide, "p", 1, &pv);
	ck_assert_int_eq(be_put(t, &wide, 0, &err), 0);
	ck_assert_msg(wr(t, OPS_PUT, &wide, NULL, 0, &wide, NULL, &err) == 0, "%s", err.msg);
	/* another writer changed an attribute beyond the condition's reach
	 * (a149, past the first ~90 in name order): caught by the read */
	{
		struct val theirs_w, n2;

		val_copy(&theirs_w, &wide);
		val_copy(&n2, vn("2"));
		val_map_set(&theirs_w, "a149", 4, &n2);
		ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", &theirs_w, NULL, NULL, &err),
				 0);
		err = (struct dyn_err){0};
		ck_assert_int_eq(wr(t, OPS_PUT, &wide, NULL, 0, &wide, NULL, &err), -EAGAIN);
		val_free(&theirs_w);
	}
	val_free(&wide);
	be_table_close(t);
}
END_TEST

struct failures {
	char lines[512];
};

static void on_fail(void *ctx, uint64_t line, int code, const char *msg)
{
	struct failures *f = ctx;
	size_t n = strlen(f->lines);

	snprintf(f->lines + n, sizeof(f->lines) - n, "%llu:%d ", (unsigned long long)line, code);
}

START_TEST(test_batch_through_the_parser)
{
	struct ops_sink sink;
	ops_batch_t *ob = NULL;
	struct failures f = {{0}};
	struct val got;
	char text[16384] = "";
	be_table_t *t;
	int i;

	mk_table("users", false, false);
	t = open_t("users");
	be_sink(be, &sink);
	/* 60 puts with keys repeating (u0..u19 three times: the last one wins) */
	for (i = 0; i < 60; i++)
		sprintf(text + strlen(text), "{\"p\": \"u%d\", \"v\": %d}\n", i % 20, i);
	/* a conditional put that fails (u1 exists), reported alone; then a delete and a put */
	strcat(text,
	       "{\"put\": {\"p\": \"u1\", \"v\": -1}, \"if\": \"attribute_not_exists(p)\"}\n");
	strcat(text, "{\"delete\": {\"p\": \"u2\"}}\n");
	strcat(text, "{\"update\": {\"p\": \"u3\"}, \"add\": {\"v\": 100}}\n");
	ck_assert_int_eq(ops_batch_new_sink(&sink, t, on_fail, &f, &ob), 0);
	ops_batch_feed(ob, text, strlen(text));
	ck_assert_int_eq(ops_batch_finish(ob), 0);
	ops_batch_free(ob);
	if (no_tx()) {
		/* atomic groups cannot be had without transactions, not even of
		 * plain puts (BatchWriteItem would apply them one by one): every
		 * line is refused (fs/batch.c uses apply_each there instead:
		 * test_batch_bulk_writes) */
		char want[512] = "";

		for (i = 1; i <= 63; i++)
			sprintf(want + strlen(want), "%d:%d ", i, ENOTSUP);
		ck_assert_str_eq(f.lines, want);
		be_table_close(t);
		return;
	}
	ck_assert_str_eq(f.lines, "61:125 ");
	val_init_null(&got);
	ck_assert_int_eq(be_get(t, vs("u1"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u1\", \"v\": 41}")));
	val_free(&got);
	ck_assert_int_eq(be_get(t, vs("u2"), NULL, NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(be_get(t, vs("u3"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u3\", \"v\": 143}")));
	val_free(&got);
	be_table_close(t);
}
END_TEST

/* _batch groups that need not be atomic (what fs/batch.c does over a
 * service): plain puts and deletes go as BatchWriteItem, 25 a call, in
 * line order, a duplicate key starting the next call; conditional and
 * update lines one call each; a line the service refuses inside a bulk
 * call is found by sending that call's lines one at a time, and is the
 * only line reported; a feed that stops at it applied nothing after it. */
START_TEST(test_batch_bulk_writes)
{
	struct ops_sink sink;
	ops_batch_t *ob = NULL;
	struct failures f = {{0}};
	struct rmt_stats st0, st1;
	struct val got;
	char *text = malloc(200000), *end31;
	size_t used = 0;
	be_table_t *t;
	int i;

	mk_table("users", false, true);
	t = open_t("users");
	be_sink(be, &sink);
	ck_assert_ptr_nonnull(sink.apply_each);

	/* 1,000 plain puts: 40 BatchWriteItem calls */
	text[0] = 0;
	for (i = 0; i < 1000; i++)
		sprintf(text + strlen(text), "{\"p\": \"k%d\", \"g\": \"x\", \"v\": %d}\n", i, i);
	ck_assert_int_eq(ops_batch_new_sink(&sink, t, on_fail, &f, &ob), 0);
	ops_batch_set_each(ob, DB_MAX_TX_OPS);
	rmt_get_stats(rbe_client(be), &st0);
	ck_assert_int_eq(ops_batch_feed(ob, text, strlen(text)), 0);
	ck_assert_int_eq(ops_batch_finish(ob), 0);
	rmt_get_stats(rbe_client(be), &st1);
	ck_assert_uint_eq(st1.calls - st0.calls, 40);
	ops_batch_free(ob);
	ck_assert_str_eq(f.lines, "");
	ck_assert_int_eq(be_get(t, vs("k999"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"k999\", \"g\": \"x\", \"v\": 999}")));
	val_free(&got);

	/* keys repeating: the last line wins; a delete, a conditional put that
	 * fails alone, an update */
	text[0] = 0;
	for (i = 0; i < 60; i++)
		sprintf(text + strlen(text), "{\"p\": \"u%d\", \"v\": %d}\n", i % 20, i);
	strcat(text, "{\"delete\": {\"p\": \"k5\"}}\n");
	strcat(text,
	       "{\"put\": {\"p\": \"u1\", \"v\": -1}, \"if\": \"attribute_not_exists(p)\"}\n");
	strcat(text, "{\"update\": {\"p\": \"u3\"}, \"add\": {\"v\": 100}}\n");
	strcat(text, "{\"delete\": {\"p\": \"k6\"}}\n");
	ck_assert_int_eq(ops_batch_new_sink(&sink, t, on_fail, &f, &ob), 0);
	ops_batch_set_each(ob, DB_MAX_TX_OPS);
	ops_batch_feed(ob, text, strlen(text));
	ck_assert_int_eq(ops_batch_finish(ob), 0);
	ops_batch_free(ob);
	ck_assert_str_eq(f.lines, "62:125 ");
	ck_assert_int_eq(be_get(t, vs("u1"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u1\", \"v\": 41}")));
	val_free(&got);
	ck_assert_int_eq(be_get(t, vs("u3"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u3\", \"v\": 143}")));
	val_free(&got);
	ck_assert_int_eq(be_get(t, vs("k5"), NULL, NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(be_get(t, vs("k6"), NULL, NULL, NULL, NULL), -ENOENT);

	/* line 31 has a GSI key of the wrong type: the parser cannot know,
	 * the service refuses its whole BatchWriteItem (lines 26..50) */
	f.lines[0] = 0;
	text[0] = 0;
	end31 = NULL;
	for (i = 1; i <= 60; i++) {
		if (i == 31)
			strcat(text, "{\"p\": \"bad\", \"g\": 5}\n");
		else
			sprintf(text + strlen(text), "{\"p\": \"n%d\", \"g\": \"y\"}\n", i);
		if (i == 31)
			end31 = text + strlen(text);
	}
	ck_assert_int_eq(ops_batch_new_sink(&sink, t, on_fail, &f, &ob), 0);
	ops_batch_set_each(ob, DB_MAX_TX_OPS);
	ck_assert_int_eq(ops_batch_feed_some(ob, text, strlen(text), &used), -EINVAL);
	ck_assert_uint_eq(used, (size_t)(end31 - text)); /* up to line 31's newline */
	ck_assert_str_eq(f.lines, "31:22 ");
	ck_assert_int_eq(be_get(t, vs("n30"), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(be_get(t, vs("bad"), NULL, NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(be_get(t, vs("n32"), NULL, NULL, NULL, NULL), -ENOENT);
	/* the writer goes on with the rest: every other line applied once */
	ck_assert_int_eq(ops_batch_feed_some(ob, text + used, strlen(text) - used, &used), 0);
	ck_assert_int_eq(ops_batch_finish(ob), 0);
	ops_batch_free(ob);
	ck_assert_int_eq(be_get(t, vs("n60"), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(be_get(t, vs("n32"), NULL, NULL, NULL, NULL), 0);
	ck_assert_str_eq(f.lines, "31:22 ");
	be_table_close(t);
	free(text);
}
END_TEST

START_TEST(test_transactions)
{
	struct ops_sink sink;
	struct ops_tx_result res;
	struct dyn_err err = {0};
	struct val got;
	size_t failed = 9;
	be_table_t *t;
	be_op ops[2];
	static const char doc[] =
	    "{\"ops\": ["
	    " {\"update\": {\"p\": \"hedy\"}, \"table\": \"users\", \"expr\": \"SET coins = coins "
	    "- "
	    ":n\", \"if\": \"coins >= :n\", \"values\": {\":n\": 10}},"
	    " {\"update\": {\"p\": \"felienne\"}, \"table\": \"users\", \"add\": {\"coins\": 10}},"
	    " {\"check\": {\"p\": \"ann\"}, \"table\": \"users\", \"if\": \"attribute_exists(p)\"}"
	    "]}";

	mk_table("users", false, false);
	t = open_t("users");
	be_sink(be, &sink);
	ck_assert_int_eq(be_put(t, J("{\"p\": \"hedy\", \"coins\": 25}"), 0, &err), 0);
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\"}"), 0, &err), 0);
	if (no_tx()) { /* dynalite: refused, nothing applied, and the caps say so */
		ck_assert_int_eq(ops_tx_run_sink(&sink, doc, strlen(doc), &res), -ENOTSUP);
		ck_assert(!(be_caps(be) & BE_CAP_TX));
		ck_assert_int_eq(be_get(t, vs("felienne"), NULL, NULL, NULL, NULL), -ENOENT);
		be_table_close(t);
		return;
	}
	ck_assert_int_eq(ops_tx_run_sink(&sink, doc, strlen(doc), &res), 0);
	ck_assert_int_eq(ops_tx_run_sink(&sink, doc, strlen(doc), &res), 0);
	/* the third run: hedy has 5 coins, the first op's condition fails, nothing lands */
	ck_assert_int_eq(ops_tx_run_sink(&sink, doc, strlen(doc), &res), -ECANCELED);
	ck_assert(res.has_op);
	ck_assert_uint_eq(res.op, 0);
	val_init_null(&got);
	ck_assert_int_eq(be_get(t, vs("felienne"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"felienne\", \"coins\": 20}")));
	val_free(&got);

	/* a rename: put the new key if absent, delete the old one if still as read */
	memset(ops, 0, sizeof(ops));
	ops[0].kind = OPS_PUT;
	ops[0].table = t;
	ops[0].item = J("{\"p\": \"ann2\"}");
	ops[0].flags = DB_IF_ABSENT;
	ops[1].kind = OPS_DELETE;
	ops[1].table = t;
	ops[1].pk = vs("ann");
	ops[1].expect = J("{\"p\": \"ann\", \"x\": 1}"); /* not what is there */
	ck_assert_int_eq(be_apply(be, ops, 2, &failed, &err), -EAGAIN);
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(be_get(t, vs("ann2"), NULL, NULL, NULL, NULL), -ENOENT);
	ops[1].expect = J("{\"p\": \"ann\"}");
	nchanges = 0;
	ck_assert_msg(be_apply(be, ops, 2, &failed, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(nchanges, 2);
	ck_assert_int_eq(be_get(t, vs("ann2"), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), -ENOENT);
	be_table_close(t);
}
END_TEST

/* Schema s's indexes set to one, ix: by_e, keyed by e (S), keys only (borrowed). */
static void add_index_by_e(struct table_schema *s, struct index_def *ix)
{
	memset(ix, 0, sizeof(*ix));
	snprintf(ix->name, sizeof(ix->name), "by_e");
	attr_set(&ix->pk, "e", VAL_S);
	ix->proj = PROJ_KEYS_ONLY;
	s->index = ix;
	s->nindex = 1;
}

START_TEST(test_schema_changes_and_stats)
{
	struct table_schema s;
	struct dyn_err err = {0};
	struct tbl_stats st;
	struct index_def ix;
	be_table_t *t;

	mk_table("users", false, false);
	t = open_t("users");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be_table_schema(t, &s, NULL), 0); /* now cached */
	ck_assert_uint_eq(s.nindex, 0);
	add_index_by_e(&s, &ix);
	if (no_tx()) { /* dynalite: UpdateTable of a GSI wants provisioned throughput */
		s.index = NULL;
		s.nindex = 0;
		schema_free(&s);
		be_table_close(t);
		return;
	}
	ck_assert_msg(be_set_schema(be, "users", &s, &err) == 0, "%s", err.msg);
	s.index = NULL;
	s.nindex = 0;
	schema_free(&s);
	/* our change dropped the cached DescribeTable */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be_table_schema(t, &s, NULL), 0);
	ck_assert_uint_eq(s.nindex, 1);
	ck_assert_str_eq(s.index[0].name, "by_e");
	/* key changes: refused while the table holds an item (SPEC §4) */
	ck_assert_int_eq(be_put(t, J("{\"p\": \"a\"}"), 0, &err), 0);
	attr_set(&s.pk, "q", VAL_S);
	ck_assert_int_eq(be_set_schema(be, "users", &s, &err), -EBUSY);
	schema_free(&s);
	/* of an empty table: DeleteTable and CreateTable, a new table (old handles dead) */
	{
		struct table_schema e;
		be_table_t *et;

		mk_table("empty1", false, false);
		et = open_t("empty1");
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(be_table_schema(et, &e, NULL), 0);
		attr_set(&e.pk, "q", VAL_N);
		ck_assert_msg(be_set_schema(be, "empty1", &e, &err) == 0, "%s", err.msg);
		schema_free(&e);
		ck_assert(!be_table_alive(et));
		be_table_close(et);
		et = open_t("empty1");
		ck_assert_str_eq(be_table_pk(et)->name, "q");
		ck_assert_int_eq(be_table_pk(et)->type, VAL_N);
		be_table_close(et);
	}
	be_table_stats(t, &st);
	{ /* a table opened afresh: its schema and its figures from one DescribeTable */
		struct rmt_stats c0, c1;
		be_table_t *ft;

		mk_table("fresh1", false, false);
		rmt_get_stats(rbe_client(be), &c0);
		ft = open_t("fresh1");
		be_table_stats(ft, &st);
		rmt_get_stats(rbe_client(be), &c1);
		ck_assert_uint_eq(c1.calls - c0.calls, 1);
		be_table_close(ft);
	}
	ck_assert(!(be_caps(be) & (BE_CAP_CHANGE_FEED | BE_CAP_CHEAP_LIST | BE_CAP_EXACT_STATS)));
	ck_assert(be_caps(be) & BE_CAP_TX);
	ck_assert_ptr_null(be_feed(be));
	ck_assert_int_eq(be_snapshot(be, &err), -ENOTSUP);
	be_table_close(t);
}
END_TEST

/* The schema a handle holds (pk, sk, index names), as one text. */
static void schema_text(be_table_t *t, char *buf, size_t len)
{
	struct table_schema s;
	size_t n;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be_table_schema(t, &s, NULL), 0);
	n = (size_t)snprintf(buf, len, "%s/%d %s #%zu", s.pk.name, (int)s.pk.type,
			     s.has_sk ? s.sk.name : "-", s.nindex);
	for (size_t i = 0; i < s.nindex && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, " %s", s.index[i].name);
	schema_free(&s);
}

/*
 * be_table_dup (one per node fs/ makes) shares the handle while an open
 * by name would copy the same schema, and opens by name otherwise: each
 * dup compared with a fresh open of the name, after a schema change
 * through this mount, after the table was made anew, and with no cache.
 */
START_TEST(test_table_dup_against_open)
{
	char a[512], b[512];
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err = {0};
	be_table_t *t, *d, *f;

	mk_table("dups", true, false);
	t = open_t("dups");
	ck_assert_int_eq(be_table_dup(t, &d), 0);
	ck_assert_ptr_eq(d, t); /* shared: the schema cached is the one t holds */
	f = open_t("dups");
	schema_text(d, a, sizeof(a));
	schema_text(f, b, sizeof(b));
	ck_assert_str_eq(a, b);
	ck_assert_uint_eq(be_table_id(d), be_table_id(f));
	be_table_close(f);
	be_table_close(t); /* d still holds it */
	ck_assert_str_eq(be_table_name(d), "dups");
	ck_assert_str_eq(be_table_sk(d)->name, "s");
	t = d;

	if (!no_tx()) { /* an index added: the cache entry t came from is gone */
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(be_table_schema(t, &s, NULL), 0);
		add_index_by_e(&s, &ix);
		ck_assert_msg(be_set_schema(be, "dups", &s, &err) == 0, "%s", err.msg);
		s.index = NULL;
		s.nindex = 0;
		schema_free(&s);
		f = open_t("dups"); /* the new schema cached (a new entry) */
		ck_assert_int_eq(be_table_dup(t, &d), 0);
		ck_assert_ptr_ne(d, t);
		schema_text(d, a, sizeof(a));
		schema_text(f, b, sizeof(b));
		ck_assert_str_eq(a, b);
		ck_assert_ptr_nonnull(strstr(a, "by_e"));
		be_table_close(f);
		be_table_close(t);
		t = d;
		ck_assert_int_eq(be_table_dup(t, &d), 0); /* and that one is shared again */
		ck_assert_ptr_eq(d, t);
		be_table_close(d);
	}

	/* made anew with another key: a dup is the new table, as an open is */
	ck_assert_int_eq(be_drop_table(be, "dups", &err), 0);
	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "q", VAL_N);
	ck_assert_msg(be_create_table(be, "dups", &s, &err) == 0, "%s", err.msg);
	schema_free(&s);
	f = open_t("dups");
	ck_assert_int_eq(be_table_dup(t, &d), 0);
	ck_assert_ptr_ne(d, t);
	ck_assert_str_eq(be_table_pk(d)->name, "q");
	ck_assert_ptr_null(be_table_sk(d));
	ck_assert_uint_eq(be_table_id(d), be_table_id(f));
	be_table_close(f);
	be_table_close(d);
	be_table_close(t);
}
END_TEST

/* With no schema cache (meta_cache_s < 0) every dup is an open by name. */
START_TEST(test_table_dup_uncached)
{
	struct rbe_opts o = {.meta_cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	be_table_t *t, *d;

	teardown();
	open_be(&o);
	mk_table("dups", false, false);
	t = open_t("dups");
	ck_assert_int_eq(be_table_dup(t, &d), 0);
	ck_assert_ptr_ne(d, t);
	ck_assert_str_eq(be_table_pk(d)->name, "p");
	be_table_close(d);
	be_table_close(t);
}
END_TEST

START_TEST(test_parse_target_and_options)
{
	struct rmt_opts co = {0};
	struct rbe_opts o = {0};
	struct dyn_err err = {0};

	ck_assert(rbe_is_target("http://127.0.0.1:8000"));
	ck_assert(rbe_is_target("dynamodb://eu-west-1"));
	ck_assert(!rbe_is_target("/var/lib/store"));
	ck_assert_int_eq(rbe_parse_target("http://127.0.0.1:8000", &co, &err), 0);
	ck_assert_str_eq(co.endpoint, "http://127.0.0.1:8000");
	co = (struct rmt_opts){0};
	ck_assert_int_eq(rbe_parse_target("dynamodb://eu-west-1", &co, &err), 0);
	ck_assert_ptr_null(co.endpoint);
	ck_assert_str_eq(co.region, "eu-west-1");
	co = (struct rmt_opts){0};
	ck_assert_int_eq(rbe_parse_target("dynamodb://", &co, &err), 0);
	ck_assert_ptr_null(co.region);
	ck_assert_int_eq(rbe_parse_target("dynamodb://eu/x", &co, &err), -EINVAL);
	ck_assert_int_eq(rbe_parse_target("http://", &co, &err), -EINVAL);
	ck_assert_int_eq(rbe_parse_target("ftp://x", &co, &err), -EINVAL);

	ck_assert_int_eq(rbe_parse_option("region", "us-west-2", &co, &o, &err), 1);
	ck_assert_str_eq(co.region, "us-west-2");
	ck_assert_int_eq(rbe_parse_option("profile", "prod", &co, &o, &err), 1);
	ck_assert_str_eq(co.profile, "prod");
	ck_assert_int_eq(rbe_parse_option("tables", "users,orders", &co, &o, &err), 1);
	ck_assert_uint_eq(o.ntables, 2);
	ck_assert_str_eq(o.tables[1], "orders");
	ck_assert_int_eq(rbe_parse_option("tables", "a:b", &co, &o, &err), -EINVAL); /* too short */
	ck_assert_int_eq(rbe_parse_option("cache", "0", &co, &o, &err), 1);
	ck_assert_int_eq(o.cache_s, 0);
	ck_assert_int_eq(rbe_parse_option("cache", "x", &co, &o, &err), -EINVAL);
	ck_assert_int_eq(rbe_parse_option("max_list", "500", &co, &o, &err), 1);
	ck_assert_uint_eq(o.max_list, 500);
	ck_assert_int_eq(rbe_parse_option("max_list", "0", &co, &o, &err), -EINVAL);
	ck_assert_int_eq(rbe_parse_option("allow_table_create", NULL, &co, &o, &err), 1);
	ck_assert(o.allow_table_create);
	ck_assert_int_eq(rbe_parse_option("ro", NULL, &co, &o, &err), 1);
	ck_assert(o.ro);
	ck_assert_int_eq(rbe_parse_option("ro", "1", &co, &o, &err), -EINVAL);
	ck_assert_int_eq(rbe_parse_option("allow_other", NULL, &co, &o, &err), 0);
	rbe_opts_free(&o);
}
END_TEST

Suite *remote_backend_suite(void);
Suite *remote_backend_suite(void)
{
	Suite *s = suite_create("remote_backend");
	TCase *tc = tcase_create("service");
	TCase *tp = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tables_and_permissions);
	tcase_add_test(tc, test_items_and_conditions);
	tcase_add_test(tc, test_save_against_version_read);
	tcase_add_test(tc, test_batch_through_the_parser);
	tcase_add_test(tc, test_batch_bulk_writes);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_schema_changes_and_stats);
	tcase_add_test(tc, test_table_dup_against_open);
	tcase_add_test(tc, test_table_dup_uncached);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, test_parse_target_and_options);
	suite_add_tcase(s, tp);
	return s;
}
