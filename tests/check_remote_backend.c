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

static bool external(void)
{
	const char *e = getenv("DYNFS_RBE_ENDPOINT");

	return e && *e;
}

static bool no_tx(void)
{
	const char *e = getenv("DYNFS_RBE_DYNALITE");

	return e && *e == '1';
}

static void drop_all(void);

static void open_be(struct rbe_opts *o)
{
	struct rmt_opts co = {0};
	struct api_opts ao = {.listen = "127.0.0.1:0"};
	struct dyn_err err = {0};
	char ep[256];
	rmt_t *c;

	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (external()) {
		snprintf(ep, sizeof(ep), "%s", getenv("DYNFS_RBE_ENDPOINT"));
	} else {
		ck_assert_int_eq(db_new(&sdb), 0);
		ck_assert_int_eq(api_new(sdb, &ao, &srv, NULL), 0);
		ck_assert_int_eq(api_start(srv, &err), 0);
		snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", api_port(srv));
	}
	co.endpoint = ep;
	co.region = "us-east-1";
	ck_assert_msg(rmt_open(&co, &c, &err) == 0, "%s", err.msg);
	o->report = on_report;
	ck_assert_int_eq(rbe_open(c, o, &be), 0);
	drop_all();
	be_watch(be, on_change, NULL);
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

/* An external service keeps its tables (also those of a test that failed): delete them all. */
static void drop_all(void)
{
	char **names = NULL;
	size_t n = 0, i;

	if (be && external() && rmt_list_tables(rbe_client(be), &names, &n, NULL) == 0) {
		for (i = 0; i < n; i++)
			rmt_delete_table(rbe_client(be), names[i], NULL);
		rmt_free_names(names, n);
	}
}

static void teardown(void)
{
	drop_all();
	if (be)
		be_close(be);
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
	ck_assert_msg(be_create_table(be, t, &s, &err) == 0, "%s", err.msg);
}

static be_table_t *open_t(const char *name)
{
	be_table_t *t = NULL;

	ck_assert_int_eq(be_table_open(be, name, &t, NULL), 0);
	return t;
}

/* One write through be_apply. */
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

struct coll {
	char out[8192];	     /* sort keys delivered */
	int n;		     /* items delivered */
	int stop_every;	     /* stop after this many per call (0: never) */
	int in_call;	     /* delivered in this call */
	bool had_attrs;	     /* every item came with its attribute "d" */
	struct val lpk, lsk; /* the last base key delivered */
};

static int collect(void *ctx, const struct be_ref *r)
{
	struct coll *c = ctx;
	struct val item;
	const struct val *s, *p;
	char buf[64];

	ck_assert_int_eq(be_ref_decode(r, &item), 0);
	s = val_map_get(&item, "s", 1);
	p = val_map_get(&item, "p", 1);
	if (!val_map_get(&item, "d", 1))
		c->had_attrs = false;
	if (s)
		num_format(&s->n, buf);
	else
		snprintf(buf, sizeof(buf), "%s", p ? p->s.p : "?");
	strcat(c->out, buf);
	strcat(c->out, " ");
	c->n++;
	val_free(&c->lpk);
	val_free(&c->lsk);
	val_copy(&c->lpk, be_ref_pk(r));
	if (be_ref_sk(r))
		val_copy(&c->lsk, be_ref_sk(r));
	val_free(&item);
	if (c->stop_every && ++c->in_call == c->stop_every) {
		c->in_call = 0;
		return 1;
	}
	return 0;
}

static void coll_init(struct coll *c, int stop_every)
{
	memset(c, 0, sizeof(*c));
	c->stop_every = stop_every;
	c->had_attrs = true;
	val_init_null(&c->lpk);
	val_init_null(&c->lsk);
}

static void coll_free(struct coll *c)
{
	val_free(&c->lpk);
	val_free(&c->lsk);
}

/* Query all of q, resuming after every stop from the last item's key. */
static int query_all(be_table_t *t, struct tbl_query q, struct coll *c)
{
	struct dyn_err err = {0};
	int calls = 0, rc;

	for (;;) {
		rc = be_query(t, &q, collect, c, &err);
		ck_assert_msg(rc >= 0, "%s", err.msg);
		calls++;
		ck_assert_int_lt(calls, 1000);
		if (rc == 0)
			return calls;
		q.start_pk = &c->lpk;
		q.start_sk = c->lsk.type == VAL_NULL ? NULL : &c->lsk;
		q.start_isk = NULL;
	}
}

static int scan_all(be_table_t *t, struct tbl_scan s, struct coll *c)
{
	struct dyn_err err = {0};
	int calls = 0, rc;

	for (;;) {
		rc = be_scan(t, &s, collect, c, &err);
		ck_assert_msg(rc >= 0, "%s", err.msg);
		calls++;
		ck_assert_int_lt(calls, 1000);
		if (rc == 0)
			return calls;
		s.start_pk = &c->lpk;
		s.start_sk = c->lsk.type == VAL_NULL ? NULL : &c->lsk;
	}
}

static void fill(be_table_t *t, const char *pk, int n, const char *g)
{
	for (int i = 0; i < n; i++) {
		struct dyn_err err = {0};

		ck_assert_msg(
		    be_put(t,
			   J("{\"p\": \"%s\", \"s\": %d, \"d\": \"%0100d\", \"g\": \"%s\"}", pk, i,
			     i, g),
			   0, &err) == 0,
		    "%s", err.msg);
	}
}

START_TEST(test_query_reads)
{
	struct coll c;
	struct rmt_stats st0, st1;
	struct tbl_query q = {.pk = vs("a")};
	be_table_t *t;

	mk_table("logs", true, true);
	t = open_t("logs");
	fill(t, "a", 30, "x");
	fill(t, "b", 5, "y");

	/* in sort key order, resumed after every 7 items: nothing lost or repeated,
	 * and the resumed calls are served from the page already read */
	coll_init(&c, 7);
	rmt_get_stats(rbe_client(be), &st0);
	query_all(t, q, &c);
	rmt_get_stats(rbe_client(be), &st1);
	ck_assert_uint_eq(st1.calls - st0.calls, 1);
	ck_assert_int_eq(c.n, 30);
	ck_assert(c.had_attrs);
	ck_assert(!strncmp(c.out, "0 1 2 3 4 5 6 7 8 9 10 11 ", 26));
	ck_assert(strstr(c.out, " 28 29 ") && !strstr(c.out, "30"));
	coll_free(&c);

	/* descending, exclusive bounds (sent as BETWEEN, the ends dropped here) */
	coll_init(&c, 0);
	q.desc = true;
	q.sk = (struct tbl_range){.lo = vn("3"), .lo_incl = false, .hi = vn("8"), .hi_incl = false};
	query_all(t, q, &c);
	ck_assert_str_eq(c.out, "7 6 5 4 ");
	coll_free(&c);
	coll_init(&c, 0);
	q.desc = false;
	q.sk = (struct tbl_range){.lo = vn("27"), .lo_incl = true};
	query_all(t, q, &c);
	ck_assert_str_eq(c.out, "27 28 29 ");
	coll_free(&c);

	/* limit, then resume from a key */
	coll_init(&c, 0);
	q.sk = (struct tbl_range){0};
	q.limit = 4;
	query_all(t, q, &c);
	q.start_pk = vs("a");
	q.start_sk = vn("3");
	query_all(t, q, &c);
	ck_assert_str_eq(c.out, "0 1 2 3 4 5 6 7 ");
	coll_free(&c);
	q.limit = 0;
	q.start_pk = q.start_sk = NULL;

	/* a whole partition costs one Query per page, with attributes: no GetItem each
	 * (after a write elsewhere, so that no page of the reads above is kept) */
	ck_assert_int_eq(be_put(t, J("{\"p\": \"c\", \"s\": 1, \"g\": \"z\"}"), 0, NULL), 0);
	coll_init(&c, 0);
	rmt_get_stats(rbe_client(be), &st0);
	query_all(t, q, &c);
	rmt_get_stats(rbe_client(be), &st1);
	ck_assert_int_eq(c.n, 30);
	ck_assert_uint_eq(st1.calls - st0.calls, 1);
	/* and the call resuming after its last item (fs/'s readdir asks
	 * again after the end) is answered from that page: no request */
	q.start_pk = &c.lpk;
	q.start_sk = &c.lsk;
	ck_assert_int_eq(be_query(t, &q, collect, &c, NULL), 0);
	rmt_get_stats(rbe_client(be), &st0);
	ck_assert_int_eq(c.n, 30);
	ck_assert_uint_eq(st0.calls - st1.calls, 0);
	q.start_pk = q.start_sk = NULL;
	coll_free(&c);

	/* the index: Query on it, resumed (the index sort key read from the item) */
	coll_init(&c, 2);
	q = (struct tbl_query){.index = "by_g", .pk = vs("y")};
	query_all(t, q, &c);
	ck_assert_str_eq(c.out, "0 1 2 3 4 ");
	coll_free(&c);
	ck_assert_int_eq(be_partition_exists(t, "by_g", vs("y"), NULL), 0);
	ck_assert_int_eq(be_partition_exists(t, "by_g", vs("nope"), NULL), -ENOENT);
	ck_assert_int_eq(be_partition_exists(t, NULL, vs("a"), NULL), 0);
	q.index = "nope";
	struct dyn_err err = {0};
	ck_assert_int_eq(be_query(t, &q, collect, &c, &err), -ENOENT);
	be_table_close(t);
}
END_TEST

/* What a read's visitor sees of item s=1 after a write made during the read. */
struct racer {
	be_table_t *t;	/* the table */
	int calls;	/* items seen */
	char d1[128];	/* attribute d of item s=1, as delivered */
};

static int write_during(void *ctx, const struct be_ref *r)
{
	struct racer *x = ctx;
	struct dyn_err err = {0};
	struct val item;
	const struct val *s, *d;
	char buf[64];

	ck_assert_int_eq(be_ref_decode(r, &item), 0);
	s = val_map_get(&item, "s", 1);
	d = val_map_get(&item, "d", 1);
	num_format(&s->n, buf);
	if (!strcmp(buf, "1") && d)
		snprintf(x->d1, sizeof(x->d1), "%s", d->s.p);
	val_free(&item);
	if (x->calls++ == 0) /* a write of this mount completes while the page is in hand */
		ck_assert_int_eq(
		    be_put(x->t, J("{\"p\": \"a\", \"s\": 1, \"d\": \"changed\", \"g\": \"x\"}"), 0,
			   &err),
		    0);
	return 1;
}

/* A listing page kept for the next readdir call is stamped with the
 * generation taken before its request: a write of this mount that
 * completed while the page was read (here: while it is delivered) makes
 * the next call ask the service again instead of serving the old page. */
START_TEST(test_page_rest_after_write)
{
	struct rbe_opts o = {.cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	struct racer x = {0};
	struct tbl_query q = {.pk = vs("a")};
	struct dyn_err err = {0};
	struct rmt_stats st0, st1;
	struct coll c;

	teardown();
	open_be(&o);
	mk_table("logs", true, true);
	x.t = open_t("logs");
	fill(x.t, "a", 30, "x");
	ck_assert_int_eq(be_query(x.t, &q, write_during, &x, &err), 1);
	q.start_pk = vs("a");
	q.start_sk = vn("0");
	ck_assert_int_eq(be_query(x.t, &q, write_during, &x, &err), 1);
	ck_assert_str_eq(x.d1, "changed");

	/* the directory looked up again while it is listed (the kernel does,
	 * during a long `ls`): answered from the listing's page, which stays
	 * for the listing's next call: one request in all */
	q.start_pk = q.start_sk = NULL;
	coll_init(&c, 7);
	rmt_get_stats(rbe_client(be), &st0);
	ck_assert_int_eq(be_query(x.t, &q, collect, &c, NULL), 1);
	ck_assert_int_eq(be_partition_exists(x.t, NULL, vs("a"), NULL), 0);
	q.start_pk = &c.lpk;
	q.start_sk = &c.lsk;
	ck_assert_int_eq(be_query(x.t, &q, collect, &c, NULL), 1);
	rmt_get_stats(rbe_client(be), &st1);
	ck_assert_int_eq(c.n, 14);
	ck_assert_uint_eq(st1.calls - st0.calls, 1);
	coll_free(&c);
	be_table_close(x.t);
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
	char parts[256] = "";
	be_table_t *t;

	mk_table("logs", true, true);
	t = open_t("logs");
	fill(t, "c", 20, "x");
	fill(t, "a", 20, "x");
	fill(t, "b", 10, "z");

	/* 50 items, max_list 40: a table-level listing stops there, across calls, and says so */
	coll_init(&c, 9);
	scan_all(t, (struct tbl_scan){0}, &c);
	ck_assert_int_eq(c.n, 40);
	ck_assert_msg(strstr(reports, "logs: listing stopped after 40 items") &&
			  strstr(reports, "max_list"),
		      "%s", reports);
	coll_free(&c);

	/* segments split the table */
	int total = 0;
	for (uint32_t seg = 0; seg < 2; seg++) {
		coll_init(&c, 0);
		scan_all(t, (struct tbl_scan){.segment = seg, .total = 2}, &c);
		total += c.n;
		coll_free(&c);
	}
	ck_assert_int_le(total, 50);

	/* distinct partition keys, sorted, after a key */
	ck_assert_int_eq(be_list_partitions(t, NULL, NULL, collect_pk, parts, NULL), 0);
	ck_assert_str_eq(parts, "a b c ");
	parts[0] = 0;
	ck_assert_int_eq(be_list_partitions(t, NULL, vs("a"), collect_pk, parts, NULL), 0);
	ck_assert_str_eq(parts, "b c ");
	parts[0] = 0;
	ck_assert_int_eq(be_list_partitions(t, "by_g", NULL, collect_pk, parts, NULL), 0);
	ck_assert_str_eq(parts, "x z ");

	/* projections as the index defines them */
	struct val item;
	val_copy(&item, J("{\"p\": \"a\", \"s\": 1, \"g\": \"x\", \"d\": \"x\"}"));
	ck_assert_int_eq(be_project(t, "by_g", &item), 0);
	ck_assert_ptr_nonnull(val_map_get(&item, "d", 1)); /* PROJ_ALL */
	val_free(&item);
	be_table_close(t);
}
END_TEST

/* Every read of a service that stopped answering fails with the service's
 * reason in err (what fs/ puts in /_errors), not a bare errno, and the
 * backend reports nothing itself (fs/ logs it once per failing call). */
START_TEST(test_read_errors_have_reasons)
{
	struct rmt_opts co = {0};
	struct rbe_opts o = {.meta_cache_s = -1};
	struct dyn_err err;
	struct table_schema s;
	struct coll c;
	char ep[64], names[64] = "";
	be_table_t *t, *t2;
	rmt_t *cl;
	struct val v;
	char *text;
	size_t len;

	if (external())
		return; /* a service we did not start cannot be stopped */
	mk_table("logs", true, false);
	/* a backend that gives up quickly and caches no schema */
	be_close(be);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", api_port(srv));
	co.endpoint = ep;
	co.region = "us-east-1";
	co.max_attempts = 2;
	co.base_delay_ms = 1;
	co.max_delay_ms = 5;
	o.report = on_report;
	ck_assert_int_eq(rmt_open(&co, &cl, &err), 0);
	ck_assert_int_eq(rbe_open(cl, &o, &be), 0);
	t = open_t("logs");
	fill(t, "a", 3, "x");
	api_free(srv); /* the service is gone */
	srv = NULL;

#define FAILS_WITH(call, op)                                                                       \
	do {                                                                                       \
		err_clear(&err);                                                                   \
		int rc_ = (call);                                                                  \
		ck_assert_msg(rc_ < 0 && rc_ != -ENOENT, "%s: %d", #call, rc_);                    \
		ck_assert_msg(err.code == -rc_ && strstr(err.msg, op), "%s: %s", #call, err.msg);  \
	} while (0)

	FAILS_WITH(be_get(t, vs("a"), vn("1"), &v, NULL, &err), "GetItem");
	FAILS_WITH(be_get_text(t, vs("a"), vn("1"), &text, &len, NULL, &err), "GetItem");
	coll_init(&c, 0);
	FAILS_WITH(be_query(t, &(struct tbl_query){.pk = vs("a")}, collect, &c, &err), "Query");
	FAILS_WITH(be_scan(t, &(struct tbl_scan){0}, collect, &c, &err), "Scan");
	coll_free(&c);
	FAILS_WITH(be_partition_exists(t, NULL, vs("a"), &err), "Query");
	FAILS_WITH(be_list_partitions(t, NULL, NULL, collect_pk, names, &err), "Scan");
	FAILS_WITH(be_list_tables(be, NULL, count_name, names, &err), "ListTables");
	FAILS_WITH(be_table_open(be, "logs", &t2, &err), "DescribeTable");
	memset(&s, 0, sizeof(s));
	FAILS_WITH(be_table_schema(t, &s, &err), "DescribeTable");
#undef FAILS_WITH
	/* unreachable is not gone: the next read says why, not ENOENT */
	ck_assert(be_table_alive(t));
	ck_assert_msg(reports[0] == 0, "%s", reports);
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
	if (no_tx()) { /* the last three lines are one group: not plain, no transactions */
		ck_assert_str_eq(f.lines, "61:95 62:95 63:95 ");
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

/* One FUSE operation asks for the same item several times (lookup,
 * getattr, open): GetItem once per 100 ms, found or absent, and never
 * past a write of this mount; a put or delete of this mount that
 * succeeded answers the next get itself (a created file's release asks
 * whether the item is there); -o cache=0 keeps nothing. */
START_TEST(test_get_memo)
{
	struct rbe_opts o = {.cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	struct rmt_stats a, b;
	struct dyn_err err = {0};
	struct val got;
	be_table_t *t;

	teardown();
	open_be(&o);
	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"v\": 1}"), 0, &err), 0);
	rmt_get_stats(rbe_client(be), &a);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, NULL, NULL), 0);
		ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"v\": 1}")));
		val_free(&got);
		ck_assert_int_eq(be_get(t, vs("bob"), NULL, NULL, NULL, NULL), -ENOENT);
	}
	rmt_get_stats(rbe_client(be), &b);
	ck_assert_uint_eq(b.calls - a.calls, 1); /* bob; ann: what the put left */
	/* our own write: seen at once, without asking */
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"v\": 2}"), 0, &err), 0);
	rmt_get_stats(rbe_client(be), &a);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"v\": 2}")));
	val_free(&got);
	ck_assert_int_eq(be_delete(t, vs("ann"), NULL, 0, &err), 0);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), -ENOENT);
	rmt_get_stats(rbe_client(be), &b);
	ck_assert_uint_eq(b.calls - a.calls, 1); /* the delete */
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"v\": 2}"), 0, &err), 0);
	/* another writer's: after 100 ms */
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", J("{\"p\": \"ann\", \"v\": 3}"),
				      NULL, NULL, &err),
			 0);
	usleep(150 * 1000);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, J("{\"p\": \"ann\", \"v\": 3}")));
	val_free(&got);
	be_table_close(t);
	/* cache=0: every get asks */
	teardown();
	o = (struct rbe_opts){.cache_s = 0, .allow_table_create = true, .allow_table_delete = true};
	open_be(&o);
	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"v\": 1}"), 0, &err), 0);
	rmt_get_stats(rbe_client(be), &a);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0);
	rmt_get_stats(rbe_client(be), &b);
	ck_assert_uint_eq(b.calls - a.calls, 2);
	be_table_close(t);
}
END_TEST

/* The text of an open: answered from the memo within the attribute
 * timeout (-o cache=, 1 s), as the kernel's own attributes are; a lookup's
 * get only within GET_MEMO_MS (the kernel keeps its attributes cache= more). */
static int64_t rbe_test_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

START_TEST(test_open_text_memo)
{
	int64_t t0;
	struct rbe_opts o = {.cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	struct rmt_stats a, b;
	struct dyn_err err = {0};
	char *text;
	size_t len;
	be_table_t *t;

	teardown();
	open_be(&o);
	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", J("{\"p\": \"ann\", \"v\": 1}"),
				      NULL, NULL, &err),
			 0);
	rmt_get_stats(rbe_client(be), &a);
	t0 = rbe_test_mono_ns();
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0); /* stat's lookup */
	usleep(300 * 1000);
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0); /* cat */
	ck_assert_str_eq(text, "{\n  \"p\": \"ann\",\n  \"v\": 1\n}\n");
	free(text);
	rmt_get_stats(rbe_client(be), &b);
	if (rbe_test_mono_ns() - t0 < 900 * 1000000LL) /* else too slow to tell (load) */
		ck_assert_uint_eq(b.calls - a.calls, 1);
	/* a getattr's get 300 ms on asks: the kernel keeps its answer 1 s more */
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0);
	rmt_get_stats(rbe_client(be), &a);
	ck_assert_uint_eq(a.calls - b.calls, 1);
	/* another writer's change: an open sees it after cache= (1 s) */
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", J("{\"p\": \"ann\", \"v\": 2}"),
				      NULL, NULL, &err),
			 0);
	usleep(1050 * 1000);
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"v\": 2"));
	free(text);
	/* a write of this mount drops the memo: the open asks */
	ck_assert_int_eq(be_put(t, J("{\"p\": \"bob\", \"v\": 1}"), 0, &err), 0);
	rmt_get_stats(rbe_client(be), &a);
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0);
	free(text);
	rmt_get_stats(rbe_client(be), &b);
	ck_assert_uint_eq(b.calls - a.calls, 1);
	be_table_close(t);
	/* cache=0: every open asks */
	teardown();
	o = (struct rbe_opts){.cache_s = 0, .allow_table_create = true, .allow_table_delete = true};
	open_be(&o);
	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"v\": 1}"), 0, &err), 0);
	rmt_get_stats(rbe_client(be), &a);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0);
	free(text);
	rmt_get_stats(rbe_client(be), &b);
	ck_assert_uint_eq(b.calls - a.calls, 2);
	be_table_close(t);
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
	memset(&ix, 0, sizeof(ix));
	snprintf(ix.name, sizeof(ix.name), "by_e");
	attr_set(&ix.pk, "e", VAL_S);
	ix.proj = PROJ_KEYS_ONLY;
	s.index = &ix;
	s.nindex = 1;
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
	tcase_add_test(tc, test_page_rest_after_write);
	tcase_add_test(tc, test_scan_cap_and_partitions);
	tcase_add_test(tc, test_read_errors_have_reasons);
	tcase_add_test(tc, test_batch_through_the_parser);
	tcase_add_test(tc, test_batch_bulk_writes);
	tcase_add_test(tc, test_get_memo);
	tcase_add_test(tc, test_open_text_memo);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_schema_changes_and_stats);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, test_parse_target_and_options);
	suite_add_tcase(s, tp);
	return s;
}
