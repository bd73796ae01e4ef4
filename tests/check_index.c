/*
 * check_index.c - secondary indexes: maintenance under every kind of
 * write, sparse items, type rejections, duplicates, index reads,
 * projection, backfill and drop through db_set_schema.
 *
 * The fixture's table "programs" (pk id S) has three indexes:
 *   username-index  username S / date N    ALL
 *   public-index    public N (no sort key) KEYS_ONLY
 *   name-index      username S / name S    INCLUDE [level]
 * and the teardown proves index and table agree (db_check_integrity).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dbint.h" /* struct ient: whose entry the index holds */
#include "instrumented.h"
#include "item.h"
#include "num.h"

#include "fix_val.h"

static db_t *db;
static table_t *tp;

/* ---- helpers (values: fix_val.h) ---- */

static void index_set(struct index_def *d, const char *name, const char *pk, enum val_type pt,
		      const char *sk, enum val_type st, enum proj_type proj)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	attr_set(&d->pk, pk, pt);
	if (sk) {
		d->has_sk = true;
		attr_set(&d->sk, sk, st);
	}
	d->proj = proj;
}

static char *include_level[] = {"level"};

/* The fixture's schema, with the first n of its indexes. */
static void programs_schema(struct table_schema *s, struct index_def *idx, size_t n)
{
	memset(s, 0, sizeof(*s));
	attr_set(&s->pk, "id", VAL_S);
	index_set(&idx[0], "username-index", "username", VAL_S, "date", VAL_N, PROJ_ALL);
	index_set(&idx[1], "public-index", "public", VAL_N, NULL, VAL_NULL, PROJ_KEYS_ONLY);
	index_set(&idx[2], "name-index", "username", VAL_S, "name", VAL_S, PROJ_INCLUDE);
	idx[2].include = include_level;
	idx[2].ninclude = 1;
	s->index = idx;
	s->nindex = n;
}

static int put_err(struct dyn_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_err(struct dyn_err *err, const char *fmt, ...)
{
	struct val item;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	jparse(&item, fmt, ap);
	va_end(ap);
	err_clear(err);
	rc = tbl_put(tp, &item, 0, err);
	val_free(&item);
	return rc;
}

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
	struct dyn_err err;
	struct val item;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	jparse(&item, fmt, ap);
	va_end(ap);
	err_clear(&err);
	rc = tbl_put(tp, &item, 0, &err);
	val_free(&item);
	ck_assert_msg(rc == 0, "put failed: %d %s", rc, err.msg);
}

/* Base ids of the items visited, comma-separated. */
struct coll {
	char out[8192]; /* ids */
	size_t n;	/* items */
};

static int collect(void *ctx, const struct item_ref *r)
{
	struct coll *c = ctx;
	const struct val *pk = iref_pk(r);
	size_t len = strlen(c->out);

	ck_assert_ptr_nonnull(pk);
	ck_assert_ptr_null(iref_sk(r));
	snprintf(c->out + len, sizeof(c->out) - len, "%s%.*s", c->n ? "," : "", (int)pk->s.len,
		 pk->s.p);
	c->n++;
	return 0;
}

static const char *iquery(const char *index, const struct val *pk, bool desc)
{
	static struct coll c;
	struct tbl_query q = {.index = index, .pk = pk, .desc = desc};
	struct dyn_err err;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&err);
	rc = tbl_query(tp, &q, collect, &c, &err);
	ck_assert_msg(rc == 0, "query failed: %d %s", rc, err.msg);
	return c.out;
}

static const char *run_query(const struct tbl_query *q)
{
	static struct coll c;
	struct dyn_err err;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&err);
	rc = tbl_query(tp, q, collect, &c, &err);
	ck_assert_msg(rc == 0, "query failed: %d %s", rc, err.msg);
	return c.out;
}

static void setup(void)
{
	struct index_def idx[3];
	struct table_schema s;

	ck_assert_int_eq(db_new(&db), 0);
	programs_schema(&s, idx, 3);
	ck_assert_int_eq(db_create_table(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "programs", &tp), 0);
}

static void teardown(void)
{
	char *why = NULL;
	int rc = db_check_integrity(db, &why);

	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
	free(why);
	tbl_close(tp);
	db_free(db);
	fix_val_free();
}

static uint64_t index_count(size_t i)
{
	struct tbl_stats st;

	tbl_stats(tp, &st);
	return st.index_items[i];
}

/* ---- maintenance ---- */

START_TEST(test_index_put_adds_entries)
{
	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 100, \"public\": 1, "
	    "\"name\": \"turtle\"}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "p1");
	ck_assert_str_eq(iquery("name-index", vs("hedy"), false), "p1");
	ck_assert_uint_eq(index_count(0), 1);
	ck_assert_uint_eq(index_count(1), 1);
	ck_assert_uint_eq(index_count(2), 1);
}
END_TEST

START_TEST(test_index_overwrite_moves_entries)
{
	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 100, \"public\": 1}");
	put("{\"id\": \"p1\", \"username\": \"felienne\", \"date\": 100, \"public\": 1}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "");
	ck_assert_str_eq(iquery("username-index", vs("felienne"), false), "p1");
	/* unchanged index key: the entry follows the new record */
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "p1");
	put("{\"id\": \"p1\", \"username\": \"felienne\", \"date\": 100, \"public\": 0}");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "");
	ck_assert_str_eq(iquery("public-index", vn("0"), false), "p1");
	ck_assert_uint_eq(index_count(1), 1);
}
END_TEST

START_TEST(test_index_delete_removes_entries)
{
	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 100, \"public\": 1}");
	put("{\"id\": \"p2\", \"username\": \"hedy\", \"date\": 101, \"public\": 1}");
	ck_assert_int_eq(tbl_delete(tp, vs("p1"), NULL, 0, NULL), 0);
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p2");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "p2");
	ck_assert_uint_eq(index_count(0), 1);
}
END_TEST

START_TEST(test_index_sparse_items_are_left_out)
{
	put("{\"id\": \"p1\", \"username\": \"hedy\"}");     /* no date */
	put("{\"id\": \"p2\", \"date\": 5, \"public\": 1}"); /* no username */
	put("{\"id\": \"p3\"}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "p2");
	ck_assert_uint_eq(index_count(0), 0);
	ck_assert_uint_eq(index_count(1), 1);
	/* gaining the attribute adds the entry, losing it removes it */
	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 7}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1");
	put("{\"id\": \"p1\", \"date\": 7}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "");
}
END_TEST

static void expect_index_rejection(const char *index, const char *attr, const char *json)
{
	struct tbl_stats before, after;
	struct dyn_err err;

	tbl_stats(tp, &before);
	ck_assert_int_eq(put_err(&err, "%s", json), -EINVAL);
	ck_assert_msg(strstr(err.msg, index) && strstr(err.msg, attr),
		      "message \"%s\" should name %s and %s", err.msg, index, attr);
	tbl_stats(tp, &after);
	ck_assert_uint_eq(after.items, before.items);
	ck_assert_uint_eq(after.index_items[0], before.index_items[0]);
}

START_TEST(test_index_rejects_non_key_types_naming_the_index)
{
	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 1}");
	expect_index_rejection("username-index", "username",
			       "{\"id\": \"p1\", \"username\": true, \"date\": 1}");
	expect_index_rejection("username-index", "date",
			       "{\"id\": \"p1\", \"username\": \"hedy\", \"date\": \"1\"}");
	expect_index_rejection("username-index", "username",
			       "{\"id\": \"p1\", \"username\": \"\", \"date\": 1}");
	expect_index_rejection("public-index", "public", "{\"id\": \"p1\", \"public\": [1]}");
	/* a wrong type is rejected even when the other key attribute is absent */
	expect_index_rejection("username-index", "date",
			       "{\"id\": \"p1\", \"date\": {\"$NS\": [1]}}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1");
}
END_TEST

START_TEST(test_index_duplicate_keys_ordered_by_base_key)
{
	static const char *ids[] = {"m", "c", "x", "a", "q"};
	size_t i;

	for (i = 0; i < 5; i++)
		put("{\"id\": \"%s\", \"username\": \"hedy\", \"date\": 5, \"public\": 1}", ids[i]);
	put("{\"id\": \"b\", \"username\": \"hedy\", \"date\": 4, \"public\": 1}");
	put("{\"id\": \"z\", \"username\": \"hedy\", \"date\": 6, \"public\": 0}");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "b,a,c,m,q,x,z");
	ck_assert_str_eq(iquery("username-index", vs("hedy"), true), "z,x,q,m,c,a,b");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "a,b,c,m,q,x");
}
END_TEST

START_TEST(test_index_query_bounds_limit_and_start)
{
	struct tbl_query q = {.index = "username-index", .pk = vs("hedy")};
	int i;

	for (i = 0; i < 10; i++)
		put("{\"id\": \"p%d\", \"username\": \"hedy\", \"date\": %d}", i, i / 2);
	/* dates: p0 p1 = 0, p2 p3 = 1, ..., p8 p9 = 4 */
	q.sk.lo = vn("1");
	q.sk.lo_incl = false;
	q.sk.hi = vn("3");
	q.sk.hi_incl = true;
	ck_assert_str_eq(run_query(&q), "p4,p5,p6,p7");
	q.desc = true;
	ck_assert_str_eq(run_query(&q), "p7,p6,p5,p4");
	q.start_pk = vs("p6");
	ck_assert_str_eq(run_query(&q), "p5,p4");
	q.desc = false;
	q.limit = 1;
	ck_assert_str_eq(run_query(&q), "p7");
	q.sk.lo_incl = true;
	q.start_pk = vs("p3");
	q.limit = 0;
	ck_assert_str_eq(run_query(&q), "p4,p5,p6,p7");
	/* a start item that is gone cannot be placed in the index... */
	ck_assert_int_eq(tbl_delete(tp, vs("p3"), NULL, 0, NULL), 0);
	ck_assert_int_eq(tbl_query(tp, &q, collect, &(struct coll){.n = 0}, NULL), -ENOENT);
	/* ...unless its index sort key comes along */
	q.start_isk = vn("1");
	ck_assert_str_eq(run_query(&q), "p4,p5,p6,p7");
	q.desc = true;
	ck_assert_str_eq(run_query(&q), "p2");
	q.start_isk = vs("1");
	ck_assert_int_eq(tbl_query(tp, &q, collect, &(struct coll){.n = 0}, NULL), -EINVAL);
}
END_TEST

/* Without an index sort key the start position needs no lookup at all. */
START_TEST(test_index_start_without_sort_key_survives_delete)
{
	struct tbl_query q = {.index = "public-index", .pk = vn("1"), .start_pk = vs("c")};

	put("{\"id\": \"a\", \"public\": 1}");
	put("{\"id\": \"b\", \"public\": 1}");
	put("{\"id\": \"c\", \"public\": 1}");
	put("{\"id\": \"d\", \"public\": 1}");
	ck_assert_str_eq(run_query(&q), "d");
	ck_assert_int_eq(tbl_delete(tp, vs("c"), NULL, 0, NULL), 0);
	ck_assert_str_eq(run_query(&q), "d");
	q.desc = true;
	ck_assert_str_eq(run_query(&q), "b,a");
}
END_TEST

START_TEST(test_index_scan_and_partitions)
{
	struct tbl_scan s = {.index = "username-index"};
	struct coll c = {.n = 0};
	int i, seg;

	put("{\"id\": \"a\", \"username\": \"zed\", \"date\": 1}");
	put("{\"id\": \"b\", \"username\": \"amy\", \"date\": 2}");
	put("{\"id\": \"c\", \"username\": \"amy\", \"date\": 1}");
	put("{\"id\": \"d\", \"username\": \"kim\"}");
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "c,b,a");
	ck_assert_int_eq(tbl_partition_exists(tp, "username-index", vs("amy")), 0);
	ck_assert_int_eq(tbl_partition_exists(tp, "username-index", vs("kim")), -ENOENT);
	/* segments of an index scan partition by index partition key */
	for (i = 0; i < 40; i++)
		put("{\"id\": \"x%d\", \"username\": \"u%d\", \"date\": %d}", i, i % 7, i);
	memset(&c, 0, sizeof(c));
	s.total = 3;
	for (seg = 0; seg < 3; seg++) {
		s.segment = (uint32_t)seg;
		ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
	}
	ck_assert_uint_eq(c.n, 43);
}
END_TEST

/* Paging through an index scan with start keys visits each entry once. */
START_TEST(test_index_scan_pages_with_start_keys)
{
	struct tbl_scan s = {.index = "username-index", .limit = 3};
	struct coll c, all = {.n = 0};
	char last[32] = "";
	int i;

	for (i = 0; i < 20; i++)
		put("{\"id\": \"p%02d\", \"username\": \"u%d\", \"date\": %d}", i, i % 3, i % 4);
	ck_assert_int_eq(
	    tbl_scan(tp, &(struct tbl_scan){.index = "username-index"}, collect, &all, NULL), 0);
	ck_assert_uint_eq(all.n, 20);
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 10; i++) {
		size_t before = c.n;
		char *comma;

		if (last[0])
			s.start_pk = vs(last);
		ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
		if (c.n == before)
			break;
		comma = strrchr(c.out, ',');
		snprintf(last, sizeof(last), "%.31s", comma ? comma + 1 : c.out);
	}
	ck_assert_uint_eq(c.n, 20);
	ck_assert_str_eq(c.out, all.out);
}
END_TEST

/*
 * A scan of an index resumes exactly after a page's last item given its
 * index keys (start_ipk/start_isk), even when that item was deleted or
 * moved since; without them the item is looked up and -ENOENT says so.
 */
START_TEST(test_index_scan_resumes_at_an_exact_position)
{
	struct tbl_scan s = {.index = "username-index", .limit = 2};
	struct coll c = {.n = 0};

	put("{\"id\": \"a\", \"username\": \"u1\", \"date\": 1}");
	put("{\"id\": \"b\", \"username\": \"u1\", \"date\": 2}");
	put("{\"id\": \"c\", \"username\": \"u1\", \"date\": 3}");
	put("{\"id\": \"d\", \"username\": \"u2\", \"date\": 1}");
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "a,b");
	/* the page's last item goes away before the next page is read */
	ck_assert_int_eq(tbl_delete(tp, vs("b"), NULL, 0, NULL), 0);
	s.start_pk = vs("b");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), -ENOENT);
	s.start_ipk = vs("u1");
	s.start_isk = vn("2");
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "c,d");
	/* moved to another partition: the position is where it was */
	put("{\"id\": \"b\", \"username\": \"u9\", \"date\": 2}");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "c,d");
	/* a start key of the wrong type */
	s.start_ipk = vn("1");
	ck_assert_int_eq(tbl_scan(tp, &s, collect, &c, NULL), -EINVAL);
}
END_TEST

/* iref_decode_projected: the index's projection, under the read's lock. */
static int collect_projected(void *ctx, const struct item_ref *r)
{
	struct coll *c = ctx;
	size_t len = strlen(c->out);
	struct val item;
	char *text;
	size_t tlen;

	ck_assert_int_eq(iref_decode_projected(r, &item), 0);
	ck_assert_int_eq(item_render_compact(&item, NULL, NULL, &text, &tlen), 0);
	snprintf(c->out + len, sizeof(c->out) - len, "%s%s", c->n ? "|" : "", text);
	free(text);
	val_free(&item);
	c->n++;
	return 0;
}

START_TEST(test_index_visitor_projection)
{
	struct coll c = {.n = 0};

	put("{\"id\": \"a\", \"username\": \"u1\", \"name\": \"n\", \"date\": 1, \"public\": 1, "
	    "\"level\": 3, \"x\": 9}");
	ck_assert_int_eq(tbl_scan(tp, &(struct tbl_scan){.index = "public-index"},
				  collect_projected, &c, NULL),
			 0);
	ck_assert_str_eq(c.out, "{\"id\":\"a\",\"public\":1}");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_scan(tp, &(struct tbl_scan){.index = "name-index"},
				  collect_projected, &c, NULL),
			 0);
	ck_assert_str_eq(c.out, "{\"id\":\"a\",\"level\":3,\"name\":\"n\",\"username\":\"u1\"}");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_scan(tp, &(struct tbl_scan){.index = NULL}, collect_projected, &c,
				  NULL),
			 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_msg(strstr(c.out, "\"x\":9"), "the table: everything (%s)", c.out);
}
END_TEST

struct pcoll {
	char out[1024]; /* partition keys */
	int n;		/* seen */
};

static int pcollect(void *ctx, const struct val *pk)
{
	struct pcoll *c = ctx;
	size_t len = strlen(c->out);

	snprintf(c->out + len, sizeof(c->out) - len, "%s%.*s", c->n ? "," : "", (int)pk->s.len,
		 pk->s.p);
	c->n++;
	return 0;
}

START_TEST(test_index_list_partitions)
{
	struct pcoll c = {.n = 0};

	put("{\"id\": \"a\", \"username\": \"zed\", \"date\": 1}");
	put("{\"id\": \"b\", \"username\": \"amy\", \"date\": 2}");
	put("{\"id\": \"c\", \"username\": \"amy\", \"date\": 1}");
	put("{\"id\": \"d\", \"username\": \"kim\", \"date\": 1}");
	ck_assert_int_eq(tbl_list_partitions(tp, "username-index", NULL, pcollect, &c), 0);
	ck_assert_str_eq(c.out, "amy,kim,zed");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_list_partitions(tp, "username-index", vs("amy"), pcollect, &c), 0);
	ck_assert_str_eq(c.out, "kim,zed");
	ck_assert_int_eq(tbl_list_partitions(tp, "nope", NULL, pcollect, &c), -ENOENT);
}
END_TEST

/* ---- projection ---- */

START_TEST(test_index_projection)
{
	struct val *item;
	char *text;
	size_t len;

	item = J("{\"id\": \"p\", \"username\": \"hedy\", \"date\": 1, \"public\": 1, "
		 "\"name\": \"n\", \"level\": 3, \"code\": \"print\"}");
	ck_assert_int_eq(tbl_project(tp, "username-index", item), 0);
	ck_assert_uint_eq(item->m.len, 7);
	ck_assert_int_eq(tbl_project(tp, "name-index", item), 0);
	ck_assert_int_eq(item_render_compact(item, NULL, NULL, &text, &len), 0);
	ck_assert_str_eq(text, "{\"id\":\"p\",\"level\":3,\"name\":\"n\",\"username\":\"hedy\"}");
	free(text);
	ck_assert_int_eq(tbl_project(tp, "public-index", item), 0);
	ck_assert_int_eq(item_render_compact(item, NULL, NULL, &text, &len), 0);
	ck_assert_str_eq(text, "{\"id\":\"p\"}");
	free(text);
	ck_assert_int_eq(tbl_project(tp, "nope", item), -ENOENT);
	ck_assert_int_eq(tbl_project(tp, NULL, item), 0);
}
END_TEST

/* ---- writes through db_apply ---- */

static int set_username(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct val s;
	const char *name = ctx;

	ck_assert_int_eq(val_copy(out, old), 0);
	ck_assert_int_eq(val_init_str(&s, name, strlen(name)), 0);
	ck_assert_int_eq(val_map_set(out, "username", 8, &s), 0);
	return 0;
}

START_TEST(test_index_follows_modify_and_rename)
{
	struct db_op mod = {
	    .kind = DB_MODIFY, .table = tp, .pk = vs("p1"), .fn = set_username, .ctx = "amy"};
	struct db_op ren[2] = {
	    {.kind = DB_DELETE, .table = tp, .pk = vs("p1")},
	    {.kind = DB_PUT,
	     .table = tp,
	     .item = J("{\"id\": \"p9\", \"username\": \"amy\", \"date\": 3}")},
	};

	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 3}");
	ck_assert_int_eq(db_apply(db, &mod, 1, NULL, NULL), 0);
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "");
	ck_assert_str_eq(iquery("username-index", vs("amy"), false), "p1");
	/* a rename changes the base key inside the index key */
	ck_assert_int_eq(db_apply(db, ren, 2, NULL, NULL), 0);
	ck_assert_str_eq(iquery("username-index", vs("amy"), false), "p9");
	/* a modify producing an unindexable item is refused whole */
	mod.pk = vs("p9");
	mod.ctx = "";
	ck_assert_int_eq(db_apply(db, &mod, 1, NULL, NULL), -EINVAL);
	ck_assert_str_eq(iquery("username-index", vs("amy"), false), "p9");
}
END_TEST

/* ---- a stored put's own index entries (db.h db_stored_ents) ---- */

static const char *const stored_ix_attrs[] = {"date", "name", "public", "username"};

/* A stored put of whole ({"id": ..., "username": "hedy", "date": 100,
 * "public": 1}): its record and the entries for tp's indexes as they
 * are now, in st, made for key mk. */
static void stored_make_ix(const char *mk, struct val *whole, struct db_stored *st)
{
	struct val *rest = J("{\"username\": \"hedy\", \"date\": 100, \"public\": 1}");
	struct table_schema s;
	uint8_t *blob;
	size_t blen;

	ck_assert_int_eq(item_encode(rest, &blob, &blen), 0);
	memset(st, 0, sizeof(*st));
	ck_assert_int_eq(db_stored_rec(st, vs(mk), NULL, blob, blen, item_size(whole)), 0);
	free(blob);
	ck_assert_int_eq(tbl_schema(tp, &s), 0);
	db_stored_ents(st, &s, whole);
	schema_free(&s);
	st->attrs = stored_ix_attrs;
	st->nattrs = 4;
}

/* db_apply of that put of whole with st. */
static int stored_apply_ix(struct val *whole, struct db_stored *st, struct dyn_err *err)
{
	struct db_op op = {.kind = DB_PUT, .table = tp, .item = whole, .flags = DB_F_CHECKED};

	op.text = "{}";
	op.text_len = 2;
	op.size = item_size(whole);
	op.stored = st;
	err_clear(err);
	return db_apply(db, &op, 1, NULL, err);
}

static struct val *stored_whole_ix(const char *id)
{
	return J("{\"id\": \"%s\", \"username\": \"hedy\", \"date\": 100, \"public\": 1}",
		 id);
}

/* stored_make_ix for key mk, then stored_apply_ix. */
static int stored_put_ix(const char *id, const char *mk, struct db_stored *st)
{
	struct val *whole = stored_whole_ix(id);
	struct dyn_err err;

	stored_make_ix(mk, whole, st);
	ck_assert_ptr_nonnull(st->ent[0]); /* username-index */
	ck_assert_ptr_nonnull(st->ent[1]); /* public-index */
	ck_assert_ptr_null(st->ent[2]);	   /* name-index: no name */
	return stored_apply_ix(whole, st, &err);
}

/*
 * db_apply takes the caller's index entries when their key bytes are the
 * ones it computes (an entry made after another item's key is not); the
 * index lists the items under their own keys either way.
 */
START_TEST(test_index_stored_put_takes_entries_only_when_they_fit)
{
	struct db_stored st;

	ck_assert_int_eq(stored_put_ix("p1", "p1", &st), 0);
	ck_assert_uint_eq(st.ent[0]->refs, 2); /* the index holds it */
	ck_assert_uint_eq(st.ent[1]->refs, 2);
	db_stored_release(&st);
	ck_assert_int_eq(stored_put_ix("p2", "px", &st), 0);
	ck_assert_uint_eq(st.ent[0]->refs, 1); /* not taken: made after px */
	ck_assert_uint_eq(st.ent[1]->refs, 1);
	db_stored_release(&st);
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1,p2");
	ck_assert_str_eq(iquery("public-index", vn("1"), false), "p1,p2");
	ck_assert_uint_eq(index_count(0), 2);
	ck_assert_uint_eq(index_count(1), 2);
	ck_assert_uint_eq(index_count(2), 0);
}
END_TEST

/*
 * Entries made for indexes that changed before the apply (db_apply takes
 * them without computing their keys only when the index slot reads the
 * same members, of the same types): an index whose key attributes swapped
 * roles, and one whose attribute's type no longer fits the item -- which
 * refuses the put, naming the index, as it would without entries.
 */
START_TEST(test_index_stored_put_entries_for_changed_indexes)
{
	struct index_def idx[3];
	struct table_schema s;
	struct db_stored st;
	struct dyn_err err;
	struct val *w1 = stored_whole_ix("p1"), *w2 = stored_whole_ix("p2");

	programs_schema(&s, idx, 2); /* username-index, public-index */
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	stored_make_ix("p1", w1, &st);
	ck_assert_uint_eq(st.ent_known, 3);
	/* the same types, another sort key: username / public, not date */
	index_set(&idx[0], "user-public-index", "username", VAL_S, "public", VAL_N, PROJ_ALL);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(stored_apply_ix(w1, &st, &err), 0);
	ck_assert_uint_eq(st.ent[0]->refs, 1); /* made for username-index */
	ck_assert_uint_eq(st.ent[1]->refs, 2); /* public-index as it was */
	db_stored_release(&st);
	ck_assert_int_eq(tbl_delete(tp, vs("p1"), NULL, 0, NULL), 0);
	ck_assert_uint_eq(index_count(0), 0); /* the entry it added was found */
	/* the key attributes' roles swapped */
	stored_make_ix("p1", w1, &st);
	index_set(&idx[0], "date-index", "date", VAL_N, "username", VAL_S, PROJ_ALL);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(stored_apply_ix(w1, &st, &err), 0);
	ck_assert_uint_eq(st.ent[0]->refs, 1);
	ck_assert_uint_eq(st.ent[1]->refs, 2);
	db_stored_release(&st);
	ck_assert_str_eq(iquery("date-index", vn("100"), false), "p1");
	stored_make_ix("p2", w2, &st);
	index_set(&idx[1], "public-s-index", "public", VAL_S, NULL, VAL_NULL, PROJ_ALL);
	ck_assert_int_eq(tbl_delete(tp, vs("p1"), NULL, 0, NULL), 0);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(stored_apply_ix(w2, &st, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "public-s-index"), "message: %s", err.msg);
	ck_assert_uint_eq(st.ent[0]->refs, 1);
	ck_assert_uint_eq(st.ent[1]->refs, 1);
	db_stored_release(&st);
	ck_assert_uint_eq(index_count(0), 0);
	ck_assert_uint_eq(index_count(1), 0);
}
END_TEST

/* ---- db_set_schema ---- */

START_TEST(test_index_backfill_on_add)
{
	struct index_def idx[3];
	struct table_schema s;
	int i;

	programs_schema(&s, idx, 0);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	for (i = 0; i < 300; i++)
		put("{\"id\": \"p%03d\", \"username\": \"u%d\", \"date\": %d, \"public\": %d}", i,
		    i % 10, i, i % 2);
	put("{\"id\": \"sparse\"}");
	programs_schema(&s, idx, 2);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_uint_eq(index_count(0), 300);
	ck_assert_uint_eq(index_count(1), 300);
	ck_assert_str_eq(iquery("username-index", vs("u3"), false),
			 "p003,p013,p023,p033,p043,p053,p063,p073,p083,p093,p103,p113,p123,p133,"
			 "p143,p153,p163,p173,p183,p193,p203,p213,p223,p233,p243,p253,p263,p273,"
			 "p283,p293");
	/* and maintained afterwards */
	ck_assert_int_eq(tbl_delete(tp, vs("p003"), NULL, 0, NULL), 0);
	ck_assert_uint_eq(index_count(0), 299);
}
END_TEST

START_TEST(test_index_backfill_rejects_bad_item_naming_it)
{
	struct index_def idx[4];
	struct table_schema s;
	struct dyn_err err;
	struct tbl_query q = {.index = "tag-index", .pk = vs("x")};
	struct coll c = {.n = 0};

	put("{\"id\": \"good\", \"tag\": \"x\"}");
	put("{\"id\": \"bad-one\", \"tag\": true}");
	programs_schema(&s, idx, 3);
	index_set(&idx[3], "tag-index", "tag", VAL_S, NULL, VAL_NULL, PROJ_ALL);
	s.nindex = 4;
	err_clear(&err);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "bad-one") && strstr(err.msg, "tag") &&
			  strstr(err.msg, "tag-index"),
		      "message: %s", err.msg);
	ck_assert_int_eq(tbl_query(tp, &q, collect, &c, NULL), -ENOENT);
	/* fix the item, and the index can be added */
	put("{\"id\": \"bad-one\", \"tag\": \"x\"}");
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(tbl_query(tp, &q, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "bad-one,good");
}
END_TEST

/*
 * Issue 12: a backfill of a 200k-item table holds the table's lock in
 * short steps (counted inside the engine: no step, and not the switch,
 * holds it for 50 ms of CPU), while a writer and a reader race it; the
 * index is exact afterwards (teardown: db_check_integrity), and a racing
 * write of an item the new index would refuse is refused.
 */
#define BIG_N 200000

/*
 * The bound on one lock hold, in CPU time.  Sanitizers make every
 * allocation slower and, now and then, much slower (ASan recycling its
 * quarantine inside one free()): the steps are cut the same way, but a
 * step that meets such a free() runs long; so, as for Check's timeouts
 * (CK_TIMEOUT_MULTIPLIER), the bound is scaled under them.  Under
 * valgrind (make memcheck) every instruction costs tens of times its
 * native time, so the steps (cut every IDX_STEP_CHECK items) are checked
 * but their length is not.
 */
#if INSTR_ASAN || INSTR_TSAN
#define HOLD_MAX_NS (4 * 50 * 1000000ull)
#else
#define HOLD_MAX_NS (50 * 1000000ull)
#endif

struct bf_run {
	struct table_schema *s;
	int rc;
	char msg[sizeof(((struct dyn_err *)0)->msg)];
	int done; /* atomic */
};

static void *bf_thread(void *arg)
{
	struct bf_run *r = arg;
	struct dyn_err err;

	err_clear(&err);
	r->rc = db_set_schema(db, "programs", r->s, &err);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

START_TEST(test_index_backfill_in_steps_while_writes_race)
{
	struct index_def idx[3];
	struct table_schema s;
	struct db_backfill_stats st;
	struct bf_run run = {.s = &s};
	struct dyn_err err;
	struct val got, key;
	char id[16];
	pthread_t th;
	uint64_t t0, dt, max_ns = 0, ops = 0, seed = 1, bad = 0;
	unsigned k;
	int rc;

	programs_schema(&s, idx, 0);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	for (k = 0; k < BIG_N; k++)
		put("{\"id\": \"i%06u\", \"username\": \"u%u\", \"date\": %u, \"public\": %u}", k,
		    k % 1000, k, k % 2);
	programs_schema(&s, idx, 2);
	ck_assert_int_eq(pthread_create(&th, NULL, bf_thread, &run), 0);
	do
		db_backfill_stats(db, &st);
	while (st.steps == 0 && !__atomic_load_n(&run.done, __ATOMIC_ACQUIRE));
	while (!__atomic_load_n(&run.done, __ATOMIC_ACQUIRE)) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		k = (unsigned)(seed >> 33) % (BIG_N + 1000);
		t0 = now_ns();
		switch (ops % 4) {
		case 0: /* move the item to another index partition */
			put("{\"id\": \"i%06u\", \"username\": \"w%u\", \"date\": %llu}", k,
			    k % 7, (unsigned long long)ops);
			break;
		case 1:
			put("{\"id\": \"i%06u\"}", k); /* leaves both indexes (sparse) */
			break;
		case 2:
			snprintf(id, sizeof(id), "i%06u", k);
			ck_assert_int_eq(val_init_str(&key, id, strlen(id)), 0);
			tbl_delete(tp, &key, NULL, 0, NULL);
			val_free(&key);
			break;
		default:
			snprintf(id, sizeof(id), "i%06u", k);
			ck_assert_int_eq(val_init_str(&key, id, strlen(id)), 0);
			rc = tbl_get(tp, &key, NULL, &got, NULL);
			val_free(&key);
			if (rc == 0)
				val_free(&got);
			rc = put_err(&err, "{\"id\": \"i%06u\", \"username\": true}", k);
			ck_assert_msg(rc == -EINVAL && strstr(err.msg, "username-index"),
				      "a write the new index refuses: %d %s", rc, err.msg);
			bad++;
		}
		dt = now_ns() - t0;
		if (dt > max_ns)
			max_ns = dt;
		ops++;
	}
	pthread_join(th, NULL);
	ck_assert_msg(run.rc == 0, "backfill: %d %s", run.rc, run.msg);
	db_backfill_stats(db, &st);
	fprintf(stderr,
		"backfill of %d items: %llu lock holds, longest %.1f ms wall / %.1f ms CPU; "
		"%llu racing ops, slowest %.1f ms\n",
		BIG_N, (unsigned long long)st.steps, st.max_wall_ns / 1e6, st.max_cpu_ns / 1e6,
		(unsigned long long)ops, max_ns / 1e6);
	ck_assert_uint_ge(st.items, BIG_N - ops);
	ck_assert_uint_ge(st.steps, 3);
	ck_assert_msg(instr_valgrind() || st.max_cpu_ns < HOLD_MAX_NS, "a lock hold of %.1f ms CPU",
		      st.max_cpu_ns / 1e6);
	ck_assert_uint_gt(bad, 0);
	ck_assert_str_eq(iquery("username-index", vs("nobody"), false), "");
}
END_TEST

/*
 * Writes at every step boundary of a backfill cut into 3-item steps (the
 * test hook runs them with the lock released): moves between partitions,
 * sparse puts, deletes, re-puts, refused puts, new keys before and after
 * the scan position; and once the scan is done, a new key beyond the last
 * one scanned, which no later step picks up (it went missing until the
 * scan's end made writers maintain every key).  Exact after each round.
 */
struct bf_hook_ctx {
	uint64_t seed;	  /* the writes' pseudo-random sequence */
	unsigned n, tail; /* items at the start, new keys after the done */
};

static void bf_hook_writes(void *arg, bool done)
{
	struct bf_hook_ctx *h = arg;
	struct dyn_err err;
	struct val key;
	char id[16];
	unsigned i, k;

	if (done) {
		put("{\"id\": \"z%03u\", \"username\": \"tail\", \"date\": 1}", h->tail++);
		return;
	}
	for (i = 0; i < 4; i++) {
		h->seed = h->seed * 6364136223846793005ull + 1442695040888963407ull;
		k = (unsigned)(h->seed >> 33) % (h->n + 8);
		snprintf(id, sizeof(id), "i%03u", k);
		switch ((h->seed >> 20) % 5) {
		case 0:
			put("{\"id\": \"%s\", \"username\": \"w%u\", \"date\": %u}", id, k % 3, i);
			break;
		case 1:
			put("{\"id\": \"%s\", \"date\": 2}", id);
			break;
		case 2:
			ck_assert_int_eq(val_init_str(&key, id, strlen(id)), 0);
			tbl_delete(tp, &key, NULL, 0, NULL);
			val_free(&key);
			break;
		case 3:
			put("{\"id\": \"%s\", \"username\": \"u%u\", \"date\": %u}", id, k % 5, k);
			break;
		default:
			ck_assert_int_eq(put_err(&err, "{\"id\": \"%s\", \"username\": 1}", id),
					 -EINVAL);
		}
	}
}

START_TEST(test_index_backfill_step_boundaries_and_end)
{
	struct bf_hook_ctx h = {.seed = 7, .n = 64};
	struct index_def idx[3];
	struct table_schema s;
	char *why = NULL;
	unsigned k, round;

	programs_schema(&s, idx, 0);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	for (k = 0; k < h.n; k++)
		put("{\"id\": \"i%03u\", \"username\": \"u%u\", \"date\": %u}", k, k % 5, k);
	db_set_backfill_test_hook(db, bf_hook_writes, &h, 3);
	for (round = 0; round < 20; round++) {
		programs_schema(&s, idx, round % 2 ? 3 : 2);
		ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
		ck_assert_msg(db_check_integrity(db, &why) == 0, "round %u: %s", round,
			      why ? why : "?");
		programs_schema(&s, idx, 0);
		ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	}
	db_set_backfill_test_hook(db, NULL, NULL, 0);
	ck_assert_uint_eq(h.tail, 20);
}
END_TEST

START_TEST(test_index_drop_and_projection_change)
{
	struct index_def idx[3];
	struct table_schema s, got;
	struct tbl_stats st;
	struct coll c = {.n = 0};
	struct tbl_query q = {.index = "public-index", .pk = vn("1")};

	put("{\"id\": \"p1\", \"username\": \"hedy\", \"date\": 3, \"public\": 1}");
	/* keep username-index (projection changed), drop the other two */
	programs_schema(&s, idx, 1);
	idx[0].proj = PROJ_KEYS_ONLY;
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), 0);
	ck_assert_int_eq(tbl_query(tp, &q, collect, &c, NULL), -ENOENT);
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1");
	tbl_stats(tp, &st);
	ck_assert_uint_eq(st.index_items[0], 1);
	ck_assert_uint_eq(st.index_items[1], 0);
	ck_assert_int_eq(tbl_schema(tp, &got), 0);
	ck_assert_uint_eq(got.nindex, 1);
	ck_assert_int_eq(got.index[0].proj, PROJ_KEYS_ONLY);
	schema_free(&got);
	/* the key schema cannot change under items, indexes stay as they were */
	attr_set(&s.pk, "other", VAL_S);
	ck_assert_int_eq(db_set_schema(db, "programs", &s, NULL), -EBUSY);
	ck_assert_str_eq(iquery("username-index", vs("hedy"), false), "p1");
}
END_TEST

START_TEST(test_index_schema_check_rejects_bad_definitions)
{
	struct index_def idx[3];
	struct table_schema s;
	struct dyn_err err;

	programs_schema(&s, idx, 3);
	snprintf(idx[1].name, sizeof(idx[1].name), "username-index");
	err_clear(&err);
	ck_assert_int_eq(schema_check(&s, &err), -EINVAL);
	programs_schema(&s, idx, 3);
	idx[1].pk.type = VAL_BOOL;
	ck_assert_int_eq(schema_check(&s, NULL), -EINVAL);
	programs_schema(&s, idx, 3);
	idx[1].pk.type = VAL_S; /* "public" declared N nowhere else: fine */
	ck_assert_int_eq(schema_check(&s, NULL), 0);
	idx[2].sk.type = VAL_N; /* name-index.username S, username-index... */
	idx[0].sk.type = VAL_S; /* date S here vs ... */
	attr_set(&idx[2].sk, "date", VAL_N);
	ck_assert_int_eq(schema_check(&s, NULL), -EINVAL); /* date: S and N */
	programs_schema(&s, idx, 3);
	snprintf(idx[0].name, sizeof(idx[0].name), "x");
	ck_assert_int_eq(schema_check(&s, NULL), -EINVAL);
}
END_TEST

Suite *index_suite(void);
Suite *index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc;

#define TC(name)                                                                                   \
	do {                                                                                       \
		tc = tcase_create(name);                                                           \
		tcase_add_checked_fixture(tc, setup, teardown);                                    \
		suite_add_tcase(s, tc);                                                            \
	} while (0)

	TC("index_maintenance");
	tcase_add_test(tc, test_index_put_adds_entries);
	tcase_add_test(tc, test_index_stored_put_takes_entries_only_when_they_fit);
	tcase_add_test(tc, test_index_stored_put_entries_for_changed_indexes);
	tcase_add_test(tc, test_index_overwrite_moves_entries);
	tcase_add_test(tc, test_index_delete_removes_entries);
	tcase_add_test(tc, test_index_sparse_items_are_left_out);
	tcase_add_test(tc, test_index_rejects_non_key_types_naming_the_index);
	tcase_add_test(tc, test_index_follows_modify_and_rename);

	TC("tbl_query_index");
	tcase_add_test(tc, test_index_duplicate_keys_ordered_by_base_key);
	tcase_add_test(tc, test_index_query_bounds_limit_and_start);
	tcase_add_test(tc, test_index_start_without_sort_key_survives_delete);
	tcase_add_test(tc, test_index_scan_and_partitions);
	tcase_add_test(tc, test_index_scan_pages_with_start_keys);
	tcase_add_test(tc, test_index_scan_resumes_at_an_exact_position);
	tcase_add_test(tc, test_index_list_partitions);

	TC("tbl_project");
	tcase_add_test(tc, test_index_projection);
	tcase_add_test(tc, test_index_visitor_projection);

	TC("db_set_schema_index");
	tcase_add_test(tc, test_index_backfill_on_add);
	tcase_add_test(tc, test_index_backfill_rejects_bad_item_naming_it);
	tcase_add_test(tc, test_index_drop_and_projection_change);
	tcase_add_test(tc, test_index_schema_check_rejects_bad_definitions);
	TC("db_set_schema_online");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_index_backfill_in_steps_while_writes_race);
	tcase_add_test(tc, test_index_backfill_step_boundaries_and_end);
#undef TC
	return s;
}
