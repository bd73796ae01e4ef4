/*
 * check_remote_backend_read.c - the remote backend (remote/rbe.c) through
 * the backend face, its reads: Query reads resumed through cursors
 * (order, bounds, pages = requests), a page's rest after a write, the
 * Scan cap, partition listings, index reads, reads of a service that
 * stopped answering (the reason in err), and the caches: the GetItem
 * memo and the text of an open.  Writes, schema and the option parser
 * are in check_remote_backend.c; the fixture both use is fix_rbe.h.
 *
 * DYNFS_RBE_ENDPOINT=http://HOST:PORT runs the same tests against that
 * service instead (tests/remote/run: dynalite, DynamoDB Local); every
 * table is deleted after each test.
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

/*
 * The memo answers with a key's newest answer: a lookup that fetched
 * again (its 100 ms are over) shadows the older answer an open could
 * still take (cache= seconds), so a cat never reads backwards from the
 * size the kernel was just given.
 */
START_TEST(test_memo_answers_newest)
{
	struct rbe_opts o = {.cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	struct dyn_err err = {0};
	int64_t t0;
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
	t0 = rbe_test_mono_ns();
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0); /* v 1 kept */
	/* another writer */
	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", J("{\"p\": \"ann\", \"v\": 22}"),
				      NULL, NULL, &err),
			 0);
	usleep(150 * 1000);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, NULL, NULL), 0); /* asks: v 22 kept */
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, NULL, NULL), 0);
	if (rbe_test_mono_ns() - t0 < 900 * 1000000LL) /* else v 1 is too old anyway (load) */
		ck_assert_msg(strstr(text, "\"v\": 22"), "an open read backwards: %s", text);
	free(text);
	be_table_close(t);
}
END_TEST

START_TEST(test_open_text_memo)
{
	int64_t t0;
	struct rbe_opts o = {.cache_s = -1, .allow_table_create = true, .allow_table_delete = true};
	struct rmt_stats a, b;
	struct item_meta meta, meta2;
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
	/* stat's lookup: its meta from the item the memo then takes */
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, NULL, &meta, NULL), 0);
	usleep(300 * 1000);
	ck_assert_int_eq(be_get_text(t, vs("ann"), NULL, &text, &len, &meta2, NULL), 0); /* cat */
	ck_assert_str_eq(text, "{\n  \"p\": \"ann\",\n  \"v\": 1\n}\n");
	ck_assert_uint_eq(meta.text_len, len);
	ck_assert_uint_eq(meta.version, be_text_version(text, len));
	ck_assert_uint_eq(meta2.version, meta.version);
	ck_assert_uint_eq(meta2.size, meta.size);
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

Suite *remote_backend_read_suite(void);
Suite *remote_backend_read_suite(void)
{
	Suite *s = suite_create("remote_backend_read");
	TCase *tc = tcase_create("service");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_query_reads);
	tcase_add_test(tc, test_page_rest_after_write);
	tcase_add_test(tc, test_scan_cap_and_partitions);
	tcase_add_test(tc, test_read_errors_have_reasons);
	tcase_add_test(tc, test_get_memo);
	tcase_add_test(tc, test_open_text_memo);
	tcase_add_test(tc, test_memo_answers_newest);
	suite_add_tcase(s, tc);
	return s;
}
