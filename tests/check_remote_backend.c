/*
 * check_remote_backend.c - the remote backend (remote/rbe.c) through the
 * backend face, against an in-process `dynfs serve` (api/ over a fresh
 * db on 127.0.0.1, port 0) reached over HTTP by the real client: table
 * permissions, conditional writes and the save-against-the-version-read
 * condition, Query reads resumed through cursors (order, bounds, pages
 * = requests), the Scan cap, partition listings, index reads, _batch
 * runs (order, duplicates, a failing line reported alone), transactions
 * (all or nothing, the failing op named), schema changes, watch, stats;
 * and the target/option parser without a server.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fix_val.h"
#include "item.h"
#include "rbe.h"

static db_t *sdb;
static api_t *srv;
static be_t *be;
static char reports[4096]; /* what the backend reported (/_errors) */
static int nchanges;	   /* changes seen by watch */

static void on_report(void *ctx, const char *what, const char *msg)
{
	size_t n = strlen(reports);

	snprintf(reports + n, sizeof(reports) - n, "%s: %s\n", what, msg);
}

static void on_change(void *ctx, const struct db_change *ch, size_t n)
{
	nchanges += (int)n;
}

static void open_be(struct rbe_opts *o)
{
	struct rmt_opts co = {0};
	struct api_opts ao = {.listen = "127.0.0.1:0"};
	struct dyn_err err = {0};
	char ep[64];
	rmt_t *c;

	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	ck_assert_int_eq(db_new(&sdb), 0);
	ck_assert_int_eq(api_new(sdb, &ao, &srv, NULL), 0);
	ck_assert_int_eq(api_start(srv, &err), 0);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", api_port(srv));
	co.endpoint = ep;
	co.region = "us-east-1";
	ck_assert_msg(rmt_open(&co, &c, &err) == 0, "%s", err.msg);
	o->report = on_report;
	ck_assert_int_eq(rbe_open(c, o, &be), 0);
	be->m->watch(be, on_change, NULL);
}

static void setup(void)
{
	fix_val_free();
	struct rbe_opts o = {.allow_table_create = true,
			     .allow_table_delete = true,
			     .allow_schema_changes = true,
			     .max_list = 40};

	reports[0] = 0;
	nchanges = 0;
	open_be(&o);
}

static void teardown(void)
{
	if (be)
		be->m->close(be);
	be = NULL;
	api_free(srv);
	srv = NULL;
	if (sdb)
		db_free(sdb);
	sdb = NULL;
}

/* Create table t: pk "p" (S), sort key "s" (N) if sk, a GSI "by_g" on g (S) if gsi. */
static void mk_table(const char *t, bool sk, bool gsi)
{
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err = {0};

	memset(&s, 0, sizeof(s));
	memset(&ix, 0, sizeof(ix));
	attr_set(&s.pk, "p", VAL_S);
	if (sk) {
		attr_set(&s.sk, "s", VAL_N);
		s.has_sk = true;
	}
	if (gsi) {
		snprintf(ix.name, sizeof(ix.name), "by_g");
		attr_set(&ix.pk, "g", VAL_S);
		attr_set(&ix.sk, "s", VAL_N);
		ix.has_sk = sk;
		ix.proj = PROJ_ALL;
		s.index = &ix;
		s.nindex = 1;
	}
	ck_assert_msg(be->m->create_table(be, t, &s, &err) == 0, "%s", err.msg);
}

static int put(const char *t, const struct val *item, const expr_t *cond, struct dyn_err *err)
{
	struct be_op op = {.kind = BE_PUT, .table = t, .item = item, .cond = cond};

	return be->m->apply(be, &op, 1, NULL, NULL, err);
}

static expr_t *C(const char *text)
{
	expr_t *e = NULL;
	struct dyn_err err = {0};

	ck_assert_msg(expr_parse_condition(text, strlen(text), NULL, &e, &err) == 0, "%s", err.msg);
	return e;
}

static int count_name(void *ctx, const char *name)
{
	char *buf = ctx;

	strcat(buf, name);
	strcat(buf, " ");
	return 0;
}

START_TEST(test_tables_and_permissions)
{
	struct table_schema s;
	struct dyn_err err = {0};
	char names[256] = "";

	mk_table("users", false, false);
	mk_table("logs", true, false);
	ck_assert_int_eq(be->m->list_tables(be, NULL, count_name, names, &err), 0);
	ck_assert_str_eq(names, "logs users ");
	names[0] = 0;
	ck_assert_int_eq(be->m->list_tables(be, "logs", count_name, names, &err), 0);
	ck_assert_str_eq(names, "users ");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be->m->schema(be, "logs", &s, &err), 0);
	ck_assert_str_eq(s.pk.name, "p");
	ck_assert(s.has_sk);
	schema_free(&s);
	ck_assert_int_eq(be->m->schema(be, "nope", &s, &err), -ENOENT);
	ck_assert_int_eq(be->m->drop_table(be, "logs", &err), 0);
	names[0] = 0;
	/* our own drop invalidated the cached table list at once */
	ck_assert_int_eq(be->m->list_tables(be, NULL, count_name, names, &err), 0);
	ck_assert_str_eq(names, "users ");
	ck_assert_int_ge(nchanges, 3);
	teardown();

	/* without the allow_* options: refused before any call */
	struct rbe_opts o = {0};

	open_be(&o);
	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "p", VAL_S);
	err = (struct dyn_err){0};
	ck_assert_int_eq(be->m->create_table(be, "t1", &s, &err), -EPERM);
	ck_assert_msg(strstr(err.msg, "allow_table_create"), "%s", err.msg);
	ck_assert_int_eq(db_table_count(sdb), 0);
	teardown();

	/* ro: every write refused; tables=: only those, without ListTables */
	struct rbe_opts o2 = {.ro = true, .allow_table_create = true};
	struct dyn_err e2 = {0};

	ck_assert_int_eq(rbe_parse_option("tables", "a_t,b_t", &(struct rmt_opts){0}, &o2, &e2), 1);
	open_be(&o2);
	ck_assert_int_eq(be->m->create_table(be, "a_t", &s, &err), -EROFS);
	ck_assert_int_eq(put("a_t", J("{\"p\": \"x\"}"), NULL, &err), -EROFS);
	names[0] = 0;
	ck_assert_int_eq(be->m->list_tables(be, NULL, count_name, names, &err), 0);
	ck_assert_str_eq(names, "a_t b_t ");
	ck_assert_int_eq(be->m->schema(be, "other", &s, &err), -ENOENT);
}
END_TEST

START_TEST(test_items_and_conditions)
{
	struct dyn_err err = {0};
	struct val got;
	struct be_meta meta;
	struct be_op del = {.kind = BE_DELETE, .table = "users", .item = J("{\"p\": \"ann\"}")};
	expr_t *excl = C("attribute_not_exists(p)");

	mk_table("users", false, false);
	ck_assert_int_eq(put("users", J("{\"p\": \"ann\", \"age\": 30}"), excl, &err), 0);
	/* O_EXCL on an existing item: the error says what the service kept */
	err = (struct dyn_err){0};
	ck_assert_int_eq(put("users", J("{\"p\": \"ann\", \"age\": 31}"), excl, &err), -ECANCELED);
	ck_assert_msg(strstr(err.msg, "version was kept") && strstr(err.msg, "30"), "%s", err.msg);
	val_init_null(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"ann\"}"), true, &got, &meta, &err),
			 0);
	ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"age\": 30}")));
	ck_assert_uint_gt(meta.size, 10);
	val_free(&got);
	ck_assert_int_eq(be->m->apply(be, &del, 1, NULL, NULL, &err), 0);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"ann\"}"), true, NULL, NULL, &err),
			 -ENOENT);
	expr_free(excl);
}
END_TEST

/* An editor's save: conditional on the version it read. */
START_TEST(test_save_against_version_read)
{
	struct dyn_err err = {0};
	struct val *v1 = J("{\"p\": \"ann\", \"age\": 30, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val *v2 = J("{\"p\": \"ann\", \"age\": 31, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val *v3 = J("{\"p\": \"ann\", \"age\": 31, \"tags\": [\"a\"], \"note\": \"hi\"}");
	struct val got, now;
	bool complete = false, found = false;
	expr_t *cond = NULL;

	mk_table("users", false, false);
	ck_assert_int_eq(put("users", v1, NULL, &err), 0);
	/* nothing changed: the save lands */
	ck_assert_int_eq(rbe_cond_unchanged(v1, "p", v2, 0, &cond, &complete, &err), 0);
	ck_assert(complete);
	ck_assert_msg(put("users", v2, cond, &err) == 0, "%s", err.msg);
	expr_free(cond);

	/* another writer changed it after we read v2: our save of v3 fails, theirs stays */
	ck_assert_int_eq(rbe_cond_unchanged(v2, "p", v3, 0, &cond, NULL, &err), 0);
	ck_assert_int_eq(
	    rmt_put_item(rbe_client(be), "users",
			 J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}]}"), NULL,
			 NULL, &err),
	    0);
	err = (struct dyn_err){0};
	ck_assert_int_eq(put("users", v3, cond, &err), -ECANCELED);
	ck_assert_msg(strstr(err.msg, "changed on the service") && strstr(err.msg, "40"), "%s",
		      err.msg);
	val_init_null(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"ann\"}"), true, &got, NULL, &err), 0);
	ck_assert_int_eq(val_map_get(&got, "age", 3)->type, VAL_N);
	ck_assert(!val_map_get(&got, "note", 4));
	val_free(&got);
	expr_free(cond);

	/* another writer added the attribute our version adds: caught too */
	struct val *v4 = J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}]}");
	struct val *v5 =
	    J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}], \"k\": 1}");

	ck_assert_int_eq(rbe_cond_unchanged(v4, "p", v5, 0, &cond, NULL, &err), 0);
	ck_assert_int_eq(
	    rmt_put_item(
		rbe_client(be), "users",
		J("{\"p\": \"ann\", \"age\": 40, \"tags\": [\"a\", {\"x\": 1}], \"k\": 2}"), NULL,
		NULL, &err),
	    0);
	ck_assert_int_eq(put("users", v5, cond, &err), -ECANCELED);
	expr_free(cond);

	/* deleted by another writer: the save fails, does not resurrect it */
	ck_assert_int_eq(rbe_cond_unchanged(v4, "p", v5, 0, &cond, NULL, &err), 0);
	ck_assert_int_eq(
	    rmt_delete_item(rbe_client(be), "users", J("{\"p\": \"ann\"}"), NULL, NULL, &err), 0);
	err = (struct dyn_err){0};
	ck_assert_int_eq(put("users", v5, cond, &err), -ECANCELED);
	ck_assert_msg(strstr(err.msg, "does not exist"), "%s", err.msg);
	val_init_null(&now);
	ck_assert_int_eq(rmt_get_item(rbe_client(be), "users", J("{\"p\": \"ann\"}"), true, NULL,
				      &now, &found, &err),
			 0);
	ck_assert(!found);
	val_free(&now);
	expr_free(cond);

	/* a wide item: the condition covers max_attrs attributes, says it is partial */
	struct val wide;
	val_init_map(&wide);
	for (int i = 0; i < 150; i++) {
		char name[16];
		struct val n;

		snprintf(name, sizeof(name), "a%03d", i);
		val_copy(&n, vn("1"));
		val_map_set(&wide, name, strlen(name), &n);
	}
	struct val pv;
	val_copy(&pv, vs("w"));
	val_map_set(&wide, "p", 1, &pv);
	ck_assert_int_eq(put("users", &wide, NULL, &err), 0);
	ck_assert_int_eq(rbe_cond_unchanged(&wide, "p", &wide, 0, &cond, &complete, &err), 0);
	ck_assert(!complete);
	ck_assert_msg(put("users", &wide, cond, &err) == 0, "%s", err.msg);
	expr_free(cond);
	val_free(&wide);
}
END_TEST

struct coll {
	char out[8192]; /* sort keys delivered */
	int n;		/* items delivered */
	int stop_every; /* stop after this many per call (0: never) */
	int in_call;	/* delivered in this call */
	bool had_attrs; /* every item came with its attribute "d" */
};

static int collect(void *ctx, const struct be_item *it)
{
	struct coll *c = ctx;
	const struct val *s = val_map_get(it->item, "s", 1);
	const struct val *p = val_map_get(it->item, "p", 1);
	char buf[64];

	if (!val_map_get(it->item, "d", 1))
		c->had_attrs = false;
	if (s)
		num_format(&s->n, buf);
	else
		snprintf(buf, sizeof(buf), "%s", p ? p->s.p : "?");
	strcat(c->out, buf);
	strcat(c->out, " ");
	c->n++;
	if (c->stop_every && ++c->in_call == c->stop_every) {
		c->in_call = 0;
		return 1;
	}
	return 0;
}

/* Read all of r, calling read again after every stop; returns the calls made. */
static int read_all(const struct be_read *r, struct coll *c)
{
	struct be_cursor cur = {.done = false};
	struct dyn_err err = {0};
	int calls = 0, rc;

	val_init_null(&cur.key);
	c->had_attrs = true;
	do {
		rc = be->m->read(be, r, &cur, collect, c, &err);
		ck_assert_msg(rc >= 0, "%s", err.msg);
		calls++;
		ck_assert_int_lt(calls, 1000);
	} while (!cur.done);
	val_free(&cur.key);
	return calls;
}

static void fill(const char *t, const char *pk, int n, const char *g)
{
	for (int i = 0; i < n; i++) {
		struct dyn_err err = {0};

		ck_assert_msg(put(t,
				  J("{\"p\": \"%s\", \"s\": %d, \"d\": \"%0100d\", \"g\": \"%s\"}",
				    pk, i, i, g),
				  NULL, &err) == 0,
			      "%s", err.msg);
	}
}

START_TEST(test_query_reads)
{
	struct coll c;
	struct rmt_stats st0, st1;
	struct be_read r = {.table = "logs", .pk = vs("a"), .consistent = true};

	mk_table("logs", true, true);
	fill("logs", "a", 30, "x");
	fill("logs", "b", 5, "y");

	/* in sort key order, resumed after every 7 items: nothing lost or repeated */
	memset(&c, 0, sizeof(c));
	c.stop_every = 7;
	read_all(&r, &c);
	ck_assert_int_eq(c.n, 30);
	ck_assert(c.had_attrs);
	ck_assert(!strncmp(c.out, "0 1 2 3 4 5 6 7 8 9 10 11 ", 26));
	ck_assert(strstr(c.out, " 28 29 ") && !strstr(c.out, "30"));

	/* descending, exclusive bounds (sent as BETWEEN, the ends dropped here) */
	memset(&c, 0, sizeof(c));
	r.desc = true;
	r.sk = (struct tbl_range){.lo = vn("3"), .lo_incl = false, .hi = vn("8"), .hi_incl = false};
	read_all(&r, &c);
	ck_assert_str_eq(c.out, "7 6 5 4 ");
	memset(&c, 0, sizeof(c));
	r.desc = false;
	r.sk = (struct tbl_range){.lo = vn("27"), .lo_incl = true};
	read_all(&r, &c);
	ck_assert_str_eq(c.out, "27 28 29 ");

	/* limit: delivers that many and the cursor resumes */
	memset(&c, 0, sizeof(c));
	r.sk = (struct tbl_range){0};
	r.limit = 4;
	struct be_cursor cur = {.done = false};
	struct dyn_err err = {0};
	val_init_null(&cur.key);
	ck_assert_int_eq(be->m->read(be, &r, &cur, collect, &c, &err), 0);
	ck_assert_int_eq(be->m->read(be, &r, &cur, collect, &c, &err), 0);
	ck_assert_str_eq(c.out, "0 1 2 3 4 5 6 7 ");
	val_free(&cur.key);
	r.limit = 0;

	/* a whole partition costs one Query per page, with attributes: no GetItem each */
	memset(&c, 0, sizeof(c));
	rmt_get_stats(rbe_client(be), &st0);
	read_all(&r, &c);
	rmt_get_stats(rbe_client(be), &st1);
	ck_assert_int_eq(c.n, 30);
	ck_assert_uint_eq(st1.calls - st0.calls, 1);

	/* the index: Query on it */
	memset(&c, 0, sizeof(c));
	r = (struct be_read){.table = "logs", .index = "by_g", .pk = vs("y"), .consistent = true};
	c.stop_every = 2;
	read_all(&r, &c);
	ck_assert_str_eq(c.out, "0 1 2 3 4 ");
	r.index = "nope";
	ck_assert_int_eq(be->m->read(be, &r, &cur, collect, &c, &err), -ENOENT);
}
END_TEST

static int collect_pk(void *ctx, const struct val *pk)
{
	strcat(ctx, pk->s.p);
	strcat(ctx, " ");
	return 0;
}

START_TEST(test_scan_cap_and_partitions)
{
	struct coll c;
	struct be_read r = {.table = "logs"};
	struct dyn_err err = {0};
	char parts[256] = "";

	mk_table("logs", true, true);
	fill("logs", "c", 20, "x");
	fill("logs", "a", 20, "x");
	fill("logs", "b", 10, "z");

	/* 50 items, max_list 40: a table-level listing stops there and says so */
	memset(&c, 0, sizeof(c));
	c.stop_every = 9;
	read_all(&r, &c);
	ck_assert_int_eq(c.n, 40);
	ck_assert_msg(strstr(reports, "logs: listing stopped after 40 items") &&
			  strstr(reports, "max_list"),
		      "%s", reports);

	/* segments split the table */
	int total = 0;
	for (uint32_t seg = 0; seg < 2; seg++) {
		memset(&c, 0, sizeof(c));
		r = (struct be_read){.table = "logs", .segment = seg, .total = 2};
		read_all(&r, &c);
		total += c.n;
	}
	ck_assert_int_le(total, 50);

	/* distinct partition keys, sorted, after a key */
	ck_assert_int_eq(be->m->list_partitions(be, "logs", NULL, NULL, collect_pk, parts, &err),
			 0);
	ck_assert_str_eq(parts, "a b c ");
	parts[0] = 0;
	ck_assert_int_eq(be->m->list_partitions(be, "logs", NULL, vs("a"), collect_pk, parts, &err),
			 0);
	ck_assert_str_eq(parts, "b c ");
	parts[0] = 0;
	ck_assert_int_eq(be->m->list_partitions(be, "logs", "by_g", NULL, collect_pk, parts, &err),
			 0);
	ck_assert_str_eq(parts, "x z ");
}
END_TEST

struct failures {
	char lines[512];
	int n;
};

static void on_fail(void *ctx, size_t i, int code, const char *msg)
{
	struct failures *f = ctx;
	size_t n = strlen(f->lines);

	snprintf(f->lines + n, sizeof(f->lines) - n, "%zu:%d ", i, code);
	f->n++;
}

START_TEST(test_batch)
{
	struct be_op ops[70];
	struct failures f = {0};
	struct dyn_err err = {0};
	struct val got;
	expr_t *excl = C("attribute_not_exists(p)");
	size_t n = 0;
	int i;

	mk_table("users", false, false);
	/* 60 puts with keys repeating (u0..u19 three times: the last one wins) */
	for (i = 0; i < 60; i++)
		ops[n++] = (struct be_op){.kind = BE_PUT,
					  .table = "users",
					  .item = J("{\"p\": \"u%d\", \"v\": %d}", i % 20, i)};
	/* a conditional put that fails (u1 exists), reported alone */
	ops[n++] = (struct be_op){.kind = BE_PUT,
				  .table = "users",
				  .item = J("{\"p\": \"u1\", \"v\": -1}"),
				  .cond = excl};
	/* then deletes */
	ops[n++] =
	    (struct be_op){.kind = BE_DELETE, .table = "users", .item = J("{\"p\": \"u2\"}")};
	ops[n++] = (struct be_op){
	    .kind = BE_PUT, .table = "users", .item = J("{\"p\": \"u2\", \"v\": 99}")};
	ck_assert_int_eq(be->m->batch(be, ops, n, on_fail, &f), -ECANCELED);
	ck_assert_str_eq(f.lines, "60:125 ");
	val_init_null(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"u1\"}"), true, &got, NULL, &err), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u1\", \"v\": 41}")));
	val_free(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"u2\"}"), true, &got, NULL, &err), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"u2\", \"v\": 99}")));
	val_free(&got);
	expr_free(excl);
}
END_TEST

START_TEST(test_transactions)
{
	struct dyn_err err = {0};
	struct val got;
	size_t failed = 9;
	expr_t *excl = C("attribute_not_exists(p)");
	expr_t *upd = NULL;
	struct be_op ops[3];

	ck_assert_int_eq(expr_parse_update("ADD v :one", 10,
					   &(struct expr_bind){.values = J("{\":one\": 1}")}, &upd,
					   &err),
			 0);
	mk_table("users", false, false);
	ck_assert_int_eq(put("users", J("{\"p\": \"a\", \"v\": 1}"), NULL, &err), 0);
	/* the second op's condition fails: nothing lands, the failing op is named */
	ops[0] = (struct be_op){
	    .kind = BE_PUT, .table = "users", .item = J("{\"p\": \"b\", \"v\": 1}"), .cond = excl};
	ops[1] = (struct be_op){
	    .kind = BE_PUT, .table = "users", .item = J("{\"p\": \"a\", \"v\": 2}"), .cond = excl};
	ops[2] = (struct be_op){
	    .kind = BE_UPDATE, .table = "users", .item = J("{\"p\": \"z\"}"), .update = upd};
	ck_assert_msg(be->m->apply(be, ops, 3, &failed, NULL, &err) == -ECANCELED, "%s", err.msg);
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"b\"}"), true, NULL, NULL, &err),
			 -ENOENT);
	/* all three land together */
	ops[1] = (struct be_op){.kind = BE_DELETE, .table = "users", .item = J("{\"p\": \"c\"}")};
	nchanges = 0;
	ck_assert_msg(be->m->apply(be, ops, 3, &failed, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(nchanges, 3);
	val_init_null(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"z\"}"), true, &got, NULL, &err), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"z\", \"v\": 1}")));
	val_free(&got);
	ck_assert_int_eq(be->m->get(be, "users", J("{\"p\": \"b\"}"), true, NULL, NULL, &err), 0);
	/* a single update returns the item written */
	ck_assert_int_eq(be->m->apply(be, &ops[2], 1, NULL, &got, &err), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"z\", \"v\": 2}")));
	val_free(&got);
	expr_free(excl);
	expr_free(upd);
}
END_TEST

START_TEST(test_schema_changes_and_stats)
{
	struct table_schema s;
	struct dyn_err err = {0};
	struct be_stats st;
	struct index_def ix;

	mk_table("users", false, false);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be->m->schema(be, "users", &s, &err), 0); /* now cached */
	ck_assert_uint_eq(s.nindex, 0);
	memset(&ix, 0, sizeof(ix));
	snprintf(ix.name, sizeof(ix.name), "by_e");
	attr_set(&ix.pk, "e", VAL_S);
	ix.proj = PROJ_KEYS_ONLY;
	s.index = &ix;
	s.nindex = 1;
	ck_assert_msg(be->m->set_schema(be, "users", &s, &err) == 0, "%s", err.msg);
	s.index = NULL;
	s.nindex = 0;
	schema_free(&s);
	/* our change dropped the cached DescribeTable */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(be->m->schema(be, "users", &s, &err), 0);
	ck_assert_uint_eq(s.nindex, 1);
	ck_assert_str_eq(s.index[0].name, "by_e");
	/* key changes are refused */
	attr_set(&s.pk, "q", VAL_S);
	ck_assert_int_eq(be->m->set_schema(be, "users", &s, &err), -EINVAL);
	schema_free(&s);
	ck_assert_int_eq(put("users", J("{\"p\": \"a\"}"), NULL, &err), 0);
	ck_assert_int_eq(be->m->stats(be, "users", &st, &err), 0);
	ck_assert(st.estimated);
	ck_assert(!(be->m->caps & (BE_CAP_CHANGE_FEED | BE_CAP_CHEAP_LIST | BE_CAP_EXACT_STATS)));
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
	tcase_add_test(tc, test_query_reads);
	tcase_add_test(tc, test_scan_cap_and_partitions);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_schema_changes_and_stats);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, test_parse_target_and_options);
	suite_add_tcase(s, tp);
	return s;
}
