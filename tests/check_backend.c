/*
 * check_backend.c - the backend face (backend/backend.h) over the local
 * engine (backend/local.c): what fs/ relies on beyond the engine calls it
 * forwards.  Table handles (a dropped and recreated table is a new table
 * with a new id; handles of the dropped one stay valid and say so), rows
 * through be_ref, writes with conditions as data (flags, expressions,
 * expect), n-op applies all or nothing, the sink that the _batch and /_tx
 * parsers write through, and the optional methods.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/ops.h" /* stats_text */
#include "backend.h"
#include "item.h"
#include "num.h"

static db_t *db;
static be_t *be;

static void setup(void)
{
	struct table_schema s;

	ck_assert_int_eq(db_new(&db), 0);
	ck_assert_int_eq(be_local_open(db, NULL, &be), 0);
	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "id");
	s.pk.type = VAL_S;
	ck_assert_int_eq(be_create_table(be, "users", &s, NULL), 0);
	strcpy(s.sk.name, "n");
	s.sk.type = VAL_N;
	s.has_sk = true;
	ck_assert_int_eq(be_create_table(be, "quiz", &s, NULL), 0);
}

static void teardown(void)
{
	be_close(be);
	db_free(db);
}

static struct val item(const char *json)
{
	struct dyn_err err;
	struct val v;

	err_clear(&err);
	ck_assert_msg(item_parse(json, strlen(json), &v, &err) == 0, "%s: %s", json, err.msg);
	return v;
}

static struct val S(const char *s) {
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, strlen(s)), 0);
	return v;
}

static void
put(be_table_t *t, const char *json)
{
	struct val v = item(json);
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(be_put(t, &v, 0, &err) == 0, "%s: %s", json, err.msg);
	val_free(&v);
}

START_TEST(test_methods_and_caps)
{
	ck_assert_str_eq(be_name(be), "local");
	ck_assert_uint_eq(be_caps(be) & (BE_CAP_TX | BE_CAP_CHANGE_FEED | BE_CAP_CHEAP_LIST),
			  BE_CAP_TX | BE_CAP_CHANGE_FEED | BE_CAP_CHEAP_LIST);
	ck_assert_int_eq(be->m->version, BE_VERSION);
	ck_assert_ptr_nonnull(be_feed(be));
	/* no store behind this db: the optional store methods say so */
	ck_assert_int_eq(be_snapshot(be, NULL), -ENOTSUP);
	ck_assert_uint_eq(be_table_count(be), 2);
}
END_TEST

START_TEST(test_table_handles)
{
	be_table_t *a, *b, *c;
	struct table_schema s;
	uint64_t id;

	ck_assert_int_eq(be_table_open(be, "nope", &a, NULL), -ENOENT);
	ck_assert_int_eq(be_table_open(be, "users", &a, NULL), 0);
	ck_assert_int_eq(be_table_open(be, "users", &b, NULL), 0);
	ck_assert_ptr_eq(a->be, be);
	ck_assert_str_eq(be_table_name(a), "users");
	ck_assert_uint_eq(be_table_id(a), be_table_id(b));
	ck_assert_str_eq(be_table_pk(a)->name, "id");
	ck_assert_ptr_null(be_table_sk(a));
	id = be_table_id(a);
	be_table_close(b);
	put(a, "{\"id\": \"hedy\"}");

	/* a table with an item is not dropped (rmdir), checked under the
	 * table's lock with the drop */
	{
		struct dyn_err err;
		struct val pk;

		err_clear(&err);
		ck_assert_int_eq(be_drop_table(be, "users", &err), -ENOTEMPTY);
		ck_assert_str_eq(err.msg, "table users is not empty");
		ck_assert(be_table_alive(a));
		val_init_str(&pk, "hedy", 4);
		ck_assert_int_eq(be_delete(a, &pk, NULL, 0, NULL), 0);
		val_free(&pk);
	}

	/* dropped: the handle stays valid and says so; a new table of the
	 * same name is another table */
	ck_assert_int_eq(be_drop_table(be, "users", NULL), 0);
	ck_assert(!be_table_alive(a));
	ck_assert_int_eq(be_table_open(be, "users", &c, NULL), -ENOENT);
	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "name");
	s.pk.type = VAL_S;
	ck_assert_int_eq(be_create_table(be, "users", &s, NULL), 0);
	ck_assert_int_eq(be_table_open(be, "users", &c, NULL), 0);
	ck_assert(be_table_alive(c));
	ck_assert_uint_ne(be_table_id(c), id);
	ck_assert_str_eq(be_table_pk(c)->name, "name");
	ck_assert_uint_eq(be_table_id(a), id);
	be_table_close(a);
	be_table_close(c);
	be_table_close(NULL);
}
END_TEST

/* Many tables, opened and closed in turn: handles stay distinct and right. */
START_TEST(test_many_tables)
{
	be_table_t *t[150];
	struct table_schema s;
	char name[32];
	int i;

	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "id");
	s.pk.type = VAL_S;
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "t%03d", i);
		ck_assert_int_eq(be_create_table(be, name, &s, NULL), 0);
		ck_assert_int_eq(be_table_open(be, name, &t[i], NULL), 0);
	}
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "t%03d", i);
		ck_assert_str_eq(be_table_name(t[i]), name);
		be_table_close(t[i]);
		if (i % 2)
			ck_assert_int_eq(be_drop_table(be, name, NULL), 0);
	}
	for (i = 0; i < 150; i += 2) {
		snprintf(name, sizeof(name), "t%03d", i);
		ck_assert_int_eq(be_table_open(be, name, &t[i], NULL), 0);
		ck_assert_str_eq(be_table_name(t[i]), name);
		be_table_close(t[i]);
	}
}
END_TEST

struct seen {
	char keys[256];
	int n;
};

static int see(void *ctx, const struct be_ref *r)
{
	struct seen *c = ctx;
	const struct val *sk = be_ref_sk(r);
	struct item_meta meta;
	struct val v;
	char buf[32];

	ck_assert_int_eq(be_ref_decode(r, &v), 0);
	ck_assert_ptr_nonnull(val_map_get(&v, "x", 1));
	val_free(&v);
	be_ref_meta(r, &meta);
	ck_assert_uint_gt(meta.size, 0);
	ck_assert_uint_eq(meta.version, 0);
	ck_assert_int_gt(meta.mtime_ns, 0);
	snprintf(buf, sizeof(buf), "%.*s/%s ", (int)be_ref_pk(r)->s.len, be_ref_pk(r)->s.p,
		 sk ? "sk" : "-");
	strcat(c->keys, buf);
	return ++c->n == 3;
}

START_TEST(test_reads)
{
	struct seen c = {{0}, 0};
	struct val pk = S("a"), got;
	struct tbl_query q = {.pk = &pk};
	struct tbl_scan sc = {0};
	struct item_meta meta;
	be_table_t *t;

	ck_assert_int_eq(be_table_open(be, "quiz", &t, NULL), 0);
	put(t, "{\"id\": \"a\", \"n\": 1, \"x\": 1}");
	put(t, "{\"id\": \"a\", \"n\": 2, \"x\": 2}");
	put(t, "{\"id\": \"b\", \"n\": 1, \"x\": 3}");
	put(t, "{\"id\": \"c\", \"n\": 1, \"x\": 4}");
	ck_assert_int_eq(be_query(t, &q, see, &c, NULL), 0);
	ck_assert_str_eq(c.keys, "a/sk a/sk ");
	/* the local engine keeps item times: no version for fs/ to date */
	ck_assert(be_caps(be) & BE_CAP_ITEM_TIMES);
	memset(&c, 0, sizeof(c));
	/* the visitor's nonzero return stops the read and is returned */
	ck_assert_int_eq(be_scan(t, &sc, see, &c, NULL), 1);
	ck_assert_str_eq(c.keys, "a/sk a/sk b/sk ");
	ck_assert_int_eq(be_partition_exists(t, NULL, &pk, NULL), 0);
	val_free(&pk);
	pk = S("z");
	ck_assert_int_eq(be_partition_exists(t, NULL, &pk, NULL), -ENOENT);
	val_free(&pk);
	pk = S("b");
	{
		struct val one;
		struct num n1;

		num_from_int64(&n1, 1);
		val_init_num(&one, &n1);
		ck_assert_int_eq(be_get(t, &pk, &one, &got, &meta, NULL), 0);
		ck_assert_ptr_nonnull(val_map_get(&got, "x", 1));
		val_free(&got);
		val_free(&one);
	}
	val_free(&pk);
	be_table_close(t);
}
END_TEST

START_TEST(test_apply_conditions)
{
	struct val a = item("{\"id\": \"hedy\", \"v\": 1}"),
		   b = item("{\"id\": \"hedy\", \"v\": 2}");
	struct val pk = S("hedy"), other, out;
	struct dyn_err err;
	expr_t *cond = NULL;
	be_table_t *t;
	be_op op;
	size_t failed;

	ck_assert_int_eq(be_table_open(be, "users", &t, NULL), 0);
	ck_assert_int_eq(be_put(t, &a, DB_IF_ABSENT, NULL), 0);
	ck_assert_int_eq(be_put(t, &a, DB_IF_ABSENT, NULL), -EEXIST);

	/* a condition expression, as data */
	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition("v = 5", 5, NULL, &cond, &err), 0);
	memset(&op, 0, sizeof(op));
	op.kind = OPS_PUT;
	op.table = t;
	op.item = &b;
	op.cond = cond;
	op.cond_text = "v = 5";
	err_clear(&err);
	ck_assert_int_eq(be_apply(be, &op, 1, NULL, &err), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(err.msg, "v = 5"));

	/* expect: only the version read; changed -> -EAGAIN, gone -> -ENOENT */
	other = item("{\"id\": \"hedy\", \"v\": 7}");
	memset(&op, 0, sizeof(op));
	op.kind = OPS_DELETE;
	op.table = t;
	op.pk = &pk;
	op.expect = &other;
	ck_assert_int_eq(be_apply(be, &op, 1, NULL, NULL), -EAGAIN);
	op.expect = &a;
	op.out = &out;
	ck_assert_int_eq(be_apply(be, &op, 1, NULL, NULL), 0);
	ck_assert(val_equal(&out, &a));
	val_free(&out);
	op.out = NULL;
	ck_assert_int_eq(be_apply(be, &op, 1, NULL, NULL), -ENOENT);

	/* n ops: all or nothing, *failed names the one that failed */
	{
		be_op two[2];

		memset(two, 0, sizeof(two));
		two[0].kind = OPS_PUT;
		two[0].table = t;
		two[0].item = &b;
		two[1].kind = OPS_PUT;
		two[1].table = t;
		two[1].item = &other;
		two[1].cond = cond;
		ck_assert_int_eq(be_apply(be, two, 2, &failed, NULL), -EINVAL); /* one item twice */
		other = (val_free(&other), item("{\"id\": \"ada\", \"v\": 7}"));
		two[1].item = &other;
		ck_assert_int_eq(be_apply(be, two, 2, &failed, NULL), -ECANCELED);
		ck_assert_uint_eq(failed, 1);
		ck_assert_int_eq(be_get(t, &pk, NULL, NULL, NULL, NULL), -ENOENT);
		two[1].cond = NULL;
		ck_assert_int_eq(be_apply(be, two, 2, &failed, NULL), 0);
		ck_assert_int_eq(be_get(t, &pk, NULL, NULL, NULL, NULL), 0);
	}
	expr_free(cond);
	val_free(&a);
	val_free(&b);
	val_free(&other);
	val_free(&pk);
	be_table_close(t);
}
END_TEST

/* Counts what the parsers send, then applies it through the backend. */
struct counting {
	struct ops_sink inner;
	size_t applies, ops;
};

static int count_apply(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
		       struct dyn_err *err)
{
	struct counting *c = ctx;

	c->applies++;
	c->ops += n;
	return c->inner.apply(c->inner.ctx, w, n, failed, err);
}

static int count_open(void *ctx, const char *name, void **t)
{
	struct counting *c = ctx;

	return c->inner.open(c->inner.ctx, name, t);
}

static void count_close(void *ctx, void *t)
{
	struct counting *c = ctx;

	c->inner.close(c->inner.ctx, t);
}

static const char *count_name(void *ctx, void *t)
{
	struct counting *c = ctx;

	return c->inner.name(c->inner.ctx, t);
}

static bool count_keys(void *ctx, void *t, struct key_attr k[2])
{
	struct counting *c = ctx;

	return c->inner.keys(c->inner.ctx, t, k);
}

START_TEST(test_sink_tx_and_batch)
{
	static const char doc[] = "{\"ops\": [{\"put\": {\"id\": \"x\"}, \"table\": \"users\"},"
				  " {\"update\": {\"id\": \"a\", \"n\": 1}, \"set\": {\"k\": 1},"
				  " \"table\": \"quiz\"}]}";
	static const char bad[] =
	    "{\"ops\": [{\"put\": {\"id\": \"y\"}, \"table\": \"users\"},"
	    " {\"check\": {\"id\": \"x\"}, \"if\": \"attribute_exists(nope)\","
	    " \"table\": \"users\"}]}";
	static const char lines[] =
	    "{\"id\": \"l1\"}\n{\"id\": \"l2\"}\n{\"delete\": {\"id\": \"x\"}}\n";
	struct counting c = {.applies = 0};
	struct ops_sink s = {&c,	 count_open,  count_close, count_name,
			     count_keys, count_apply, NULL,	   NULL, NULL, NULL};
	struct ops_tx_result res;
	struct val pk = S("y");
	ops_batch_t *b;
	be_table_t *t;

	be_sink(be, &c.inner);
	ck_assert_int_eq(ops_tx_run_sink(&s, doc, strlen(doc), &res), 0);
	ck_assert_uint_eq(c.applies, 1);
	ck_assert_uint_eq(c.ops, 2);
	ck_assert_int_eq(ops_tx_run_sink(&s, bad, strlen(bad), &res), -ECANCELED);
	ck_assert_uint_eq(res.op, 1);
	ck_assert_int_eq(be_table_open(be, "users", &t, NULL), 0);
	ck_assert_int_eq(be_get(t, &pk, NULL, NULL, NULL, NULL), -ENOENT); /* all or nothing */

	/* _batch over the sink: one group of three lines, then one line at a
	 * time (what fs/batch.c does without BE_CAP_TX) */
	c.applies = c.ops = 0;
	ck_assert_int_eq(ops_batch_new_sink(&s, t, NULL, NULL, &b), 0);
	ck_assert_int_eq(ops_batch_feed(b, lines, strlen(lines)), 0);
	ck_assert_uint_eq(c.applies, 1);
	ck_assert_uint_eq(c.ops, 3);
	ops_batch_set_group(b, 1);
	c.applies = c.ops = 0;
	ck_assert_int_eq(ops_batch_feed(b, lines, strlen(lines)), 0);
	ck_assert_uint_eq(c.applies, 3);
	ck_assert_uint_eq(c.ops, 3);
	ops_batch_free(b);
	val_free(&pk);
	pk = S("l2");
	ck_assert_int_eq(be_get(t, &pk, NULL, NULL, NULL, NULL), 0);
	val_free(&pk);
	be_table_close(t);
}
END_TEST

struct watched {
	int n;
	enum db_change_kind last;
};

static void on_change(void *ctx, const struct db_change *ch, size_t n)
{
	struct watched *w = ctx;

	w->n += (int)n;
	w->last = ch[n - 1].kind;
}

START_TEST(test_watch)
{
	struct watched w = {0};
	be_table_t *t;

	be_watch(be, on_change, &w);
	ck_assert_int_eq(be_table_open(be, "users", &t, NULL), 0);
	put(t, "{\"id\": \"hedy\"}");
	ck_assert_int_eq(w.n, 1);
	ck_assert_int_eq(w.last, DB_CH_PUT);
	be_watch(be, NULL, NULL);
	put(t, "{\"id\": \"ada\"}");
	ck_assert_int_eq(w.n, 1);
	be_table_close(t);
}
END_TEST

/* fs/ adapts to capabilities, not to backend types: _stats.json says
 * when the figures are estimates. */
START_TEST(test_stats_estimated)
{
	const struct be_methods *local = be->m;
	struct be_methods est = *local;
	be_table_t *t;
	size_t len;
	char *text;

	ck_assert_int_eq(be_table_open(be, "users", &t, NULL), 0);
	put(t, "{\"id\": \"hedy\"}");
	ck_assert_int_eq(stats_text(t, &text, &len), 0);
	ck_assert_ptr_null(strstr(text, "estimated"));
	ck_assert_ptr_nonnull(strstr(text, "\"items\": 1,"));
	free(text);
	est.caps &= ~(unsigned)BE_CAP_EXACT_STATS;
	be->m = &est;
	ck_assert_int_eq(stats_text(t, &text, &len), 0);
	be->m = local;
	ck_assert_ptr_nonnull(strstr(text, "\"partitions\": 1,\n  \"estimated\": true,\n"));
	ck_assert_uint_eq(strlen(text), len);
	free(text);
	be_table_close(t);
}
END_TEST

Suite *backend_suite(void);
Suite *backend_suite(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = tcase_create("local");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_methods_and_caps);
	tcase_add_test(tc, test_table_handles);
	tcase_add_test(tc, test_many_tables);
	tcase_add_test(tc, test_reads);
	tcase_add_test(tc, test_apply_conditions);
	tcase_add_test(tc, test_sink_tx_and_batch);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_stats_estimated);
	suite_add_tcase(s, tc);
	return s;
}
