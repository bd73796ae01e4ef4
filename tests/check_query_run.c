/*
 * check_query_run.c - the `_query?` runner (fs/query.c) on a real engine
 * table: limits and after= across pages, positions that resume a walk
 * exactly, scan segments, index partitions resumed after their item
 * changed, projection, the as= texts, entry names, and a backend whose
 * scans are not in key order.  Parameter parsing is in check_query.c;
 * the parser fixtures both use are in fix_query.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "item.h"
#include "num.h"
#include "query.h"
#include "fix_query.h"
#include "fix_val.h"

/* ---- the runner, on a real table ---- */

static db_t *db;
static table_t *qs; /* quiz-stats: id#level S / week S; id-week-index id / week */
static be_t *be;    /* the face over db, as fs/ sees it */
static be_table_t *bqs; /* qs through the face */

static void put(const char *json)
{
	struct dyn_err err;
	struct val item;

	err_clear(&err);
	ck_assert_msg(item_parse(json, strlen(json), &item, &err) == 0, "%s: %s", json, err.msg);
	ck_assert_msg(tbl_put(qs, &item, 0, &err) == 0, "%s: %s", json, err.msg);
	val_free(&item);
}

static char *include_level[] = {"level"};

static void setup_db(void)
{
	struct table_schema s;
	struct index_def idx[3];
	char buf[256];
	int i, w;

	setup_attrs();
	ck_assert_int_eq(db_new(&db), 0);
	memset(&s, 0, sizeof(s));
	memset(idx, 0, sizeof(idx));
	attr_set(&s.pk, "id#level", VAL_S);
	attr_set(&s.sk, "week", VAL_S);
	s.has_sk = true;
	snprintf(idx[0].name, sizeof(idx[0].name), "id-week-index");
	attr_set(&idx[0].pk, "id", VAL_S);
	attr_set(&idx[0].sk, "week", VAL_S);
	idx[0].has_sk = true;
	idx[0].proj = PROJ_KEYS_ONLY;
	snprintf(idx[1].name, sizeof(idx[1].name), "level-index");
	attr_set(&idx[1].pk, "level", VAL_N);
	idx[1].proj = PROJ_INCLUDE;
	idx[1].include = include_level;
	idx[1].ninclude = 1;
	snprintf(idx[2].name, sizeof(idx[2].name), "fin-index");
	attr_set(&idx[2].pk, "id", VAL_S);
	attr_set(&idx[2].sk, "finished", VAL_N);
	idx[2].has_sk = true;
	idx[2].proj = PROJ_ALL;
	s.index = idx;
	s.nindex = 3;
	ck_assert_int_eq(db_create_table(db, "quiz-stats", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "quiz-stats", &qs), 0);
	ck_assert_int_eq(be_local_open(db, NULL, &be), 0);
	ck_assert_int_eq(be_table_open(be, "quiz-stats", &bqs, NULL), 0);
	/* 3 users x 2 levels x 10 weeks; the same weeks in every partition */
	for (i = 0; i < 6; i++) {
		for (w = 10; w < 20; w++) {
			snprintf(
			    buf, sizeof(buf),
			    "{\"id#level\": \"u%d#%d\", \"week\": \"2022-%02d\", \"id\": \"u%d\", "
			    "\"level\": %d, \"finished\": %d, \"scores\": [%d]}",
			    i / 2, i % 2 + 1, w, i / 2, i % 2 + 1, w % 2, w * 5);
			put(buf);
		}
	}
}

static void teardown_db(void)
{
	char *why = NULL;

	query_free(&q);
	ck_assert_msg(db_check_integrity(db, &why) == 0, "%s", why ? why : "");
	be_table_close(bqs);
	be_close(be);
	tbl_close(qs);
	db_free(db);
}

/* Collects names; stops after `page` results, keeping the last position. */
struct coll {
	const struct qloc *loc;
	char names[256][NAME_BUF];
	size_t n;
	size_t page;
	size_t in_page;
	struct qpos last;
};

static int coll_hit(void *ctx, const struct qhit *h)
{
	struct coll *c = ctx;

	ck_assert_uint_lt(c->n, 256);
	ck_assert_int_ge(query_entry_name(c->loc, &h->pos->pk, &h->pos->sk, c->names[c->n]), 0);
	c->n++;
	qpos_free(&c->last);
	c->last.count = h->pos->count;
	ck_assert_int_eq(val_copy(&c->last.pk, &h->pos->pk), 0);
	ck_assert_int_eq(val_copy(&c->last.sk, &h->pos->sk), 0);
	ck_assert_int_eq(val_copy(&c->last.isk, &h->pos->isk), 0);
	ck_assert_int_eq(val_copy(&c->last.ipk, &h->pos->ipk), 0);
	return c->page && ++c->in_page == c->page;
}

/* Run the query text at loc page by page (page 0: at once); names in c. */
static void run_pages(const struct qloc *loc, struct qwhere w, const char *text, size_t page,
		      struct coll *c)
{
	size_t before;
	int rc;

	memset(c, 0, sizeof(*c));
	qpos_init(&c->last);
	c->loc = loc;
	c->page = page;
	ck_assert_int_eq(parse(text, w), 0);
	rc = query_run(loc, &q, NULL, false, coll_hit, c, NULL);
	ck_assert_int_ge(rc, 0);
	while (page && c->in_page == page) {
		struct qpos from;

		c->in_page = 0;
		before = c->n;
		from = c->last;
		qpos_init(&c->last);
		rc = query_run(loc, &q, &from, false, coll_hit, c, NULL);
		qpos_free(&from);
		ck_assert_int_ge(rc, 0);
		if (c->n == before)
			break;
	}
	qpos_free(&c->last);
}

START_TEST(test_run_partition_range_and_order)
{
	struct val pk;
	struct qloc loc = {.t = bqs, .pk = &pk};
	struct coll c;

	ck_assert_int_eq(val_init_str(&pk, "u1#2", 4), 0);
	run_pages(&loc, in_part(&ska_s), "ge=2022-15&lt=2022-18", 0, &c);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_str_eq(c.names[0], "2022-15.json");
	ck_assert_str_eq(c.names[2], "2022-17.json");
	run_pages(&loc, in_part(&ska_s), "prefix=2022-1&order=desc&limit=4", 0, &c);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_str_eq(c.names[0], "2022-19.json");
	ck_assert_str_eq(c.names[3], "2022-16.json");
	run_pages(&loc, in_part(&ska_s), "filter=finished%20%3D%201", 0, &c);
	ck_assert_uint_eq(c.n, 5);
	ck_assert_str_eq(c.names[0], "2022-11.json");
	run_pages(&loc, in_part(&ska_s), "after=2022-17.json", 0, &c);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.names[0], "2022-18.json");
	/* after= a name that is not there: the position is still exact */
	run_pages(&loc, in_part(&ska_s), "after=2022-155.json&order=desc", 0, &c);
	ck_assert_uint_eq(c.n, 6);
	ck_assert_str_eq(c.names[0], "2022-15.json");
	val_free(&pk);
}
END_TEST

START_TEST(test_run_pages_keep_limit_and_order)
{
	struct val pk;
	struct qloc loc = {.t = bqs, .pk = &pk};
	struct coll c;
	size_t i;

	ck_assert_int_eq(val_init_str(&pk, "u0#1", 4), 0);
	run_pages(&loc, in_part(&ska_s), "limit=7&order=desc", 3, &c);
	ck_assert_uint_eq(c.n, 7);
	for (i = 0; i < 7; i++) {
		char want[32];

		snprintf(want, sizeof(want), "2022-%02zu.json", 19 - i);
		ck_assert_str_eq(c.names[i], want);
	}
	val_free(&pk);
}
END_TEST

START_TEST(test_run_scan_segments_partition_the_table)
{
	struct qloc loc = {.t = bqs};
	struct coll c;
	size_t total = 0, s;
	char text[32];

	run_pages(&loc, at_table(), "", 7, &c);
	ck_assert_uint_eq(c.n, 60);
	ck_assert_str_eq(c.names[0], "u0#1~2022-10.json");
	for (s = 0; s < 3; s++) {
		snprintf(text, sizeof(text), "segment=%zu/3", s);
		run_pages(&loc, at_table(), text, 4, &c);
		ck_assert_uint_eq(c.n % 10, 0); /* partitions are never split */
		total += c.n;
	}
	ck_assert_uint_eq(total, 60);
	run_pages(&loc, at_table(), "filter=level%20%3D%202%20and%20finished%20%3D%200&limit=4", 3,
		  &c);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_str_eq(c.names[0], "u0#2~2022-10.json");
}
END_TEST

START_TEST(test_run_index_ties_by_base_key)
{
	struct val ipk;
	struct qloc loc = {.t = bqs, .index = "id-week-index", .pk = &ipk};
	struct coll c;

	ck_assert_int_eq(val_init_str(&ipk, "u2", 2), 0);
	run_pages(&loc, in_index(&ska_s), "", 3, &c);
	ck_assert_uint_eq(c.n, 20);
	/* week order, each week's two levels in base key order */
	ck_assert_str_eq(c.names[0], "u2#1~2022-10.json");
	ck_assert_str_eq(c.names[1], "u2#2~2022-10.json");
	ck_assert_str_eq(c.names[2], "u2#1~2022-11.json");
	run_pages(&loc, in_index(&ska_s), "order=desc&ge=2022-18", 1, &c);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_str_eq(c.names[0], "u2#2~2022-19.json");
	ck_assert_str_eq(c.names[3], "u2#1~2022-18.json");
	run_pages(&loc, in_index(&ska_s), "after=u2%232~2022-12.json", 0, &c);
	ck_assert_uint_eq(c.n, 14);
	ck_assert_str_eq(c.names[0], "u2#1~2022-13.json");
	val_free(&ipk);
}
END_TEST

START_TEST(test_run_index_scan)
{
	struct qloc loc = {.t = bqs, .index = "id-week-index"};
	struct qwhere w = at_table();
	struct coll c;
	struct val pk, sk;
	size_t i, total = 0;
	char text[32];

	w.index = "id-week-index";
	run_pages(&loc, w, "", 7, &c);
	ck_assert_uint_eq(c.n, 60);
	/* by index partition, then week, then base key */
	ck_assert_str_eq(c.names[0], "u0#1~2022-10.json");
	ck_assert_str_eq(c.names[1], "u0#2~2022-10.json");
	ck_assert_str_eq(c.names[20], "u1#1~2022-10.json");
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "segment=%zu/3", i);
		run_pages(&loc, w, text, 6, &c);
		ck_assert_uint_eq(c.n % 20, 0); /* index partitions are not split */
		total += c.n;
	}
	ck_assert_uint_eq(total, 60);
	/* resume after the position's item vanished: from the start, skipping */
	memset(&c, 0, sizeof(c));
	qpos_init(&c.last);
	c.loc = &loc;
	c.page = 25;
	ck_assert_int_eq(parse("", w), 0);
	ck_assert_int_ge(query_run(&loc, &q, NULL, false, coll_hit, &c, NULL), 0);
	ck_assert_str_eq(c.names[24], "u1#1~2022-12.json");
	ck_assert_int_eq(val_init_str(&pk, "u1#1", 4), 0);
	ck_assert_int_eq(val_init_str(&sk, "2022-12", 7), 0);
	ck_assert_int_eq(tbl_delete(qs, &pk, &sk, 0, NULL), 0);
	{
		struct qpos from = c.last;

		qpos_init(&c.last);
		c.page = 0;
		ck_assert_int_ge(query_run(&loc, &q, &from, false, coll_hit, &c, NULL), 0);
		qpos_free(&from);
	}
	ck_assert_uint_eq(c.n, 60); /* 25 + the 35 after it */
	ck_assert_str_eq(c.names[25], "u1#2~2022-12.json");
	qpos_free(&c.last);
	/* after= and a filter */
	run_pages(&loc, w, "after=u2%232~2022-18.json", 0, &c);
	ck_assert_uint_eq(c.n, 2);
	/* a KEYS_ONLY index: the filter sees the keys only */
	run_pages(&loc, w, "after=u2%232~2022-17.json&filter=finished%20%3D%201", 0, &c);
	ck_assert_uint_eq(c.n, 0);
	run_pages(&loc, w, "after=u2%232~2022-17.json&filter=begins_with(week,%222022-19%22)", 0,
		  &c);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.names[0], "u2#1~2022-19.json");
	val_free(&pk);
	val_free(&sk);
}
END_TEST

/* Resuming an index walk after the position's item vanished or moved. */
START_TEST(test_run_index_resume_after_change)
{
	struct val ipk, pk, sk;
	struct qloc loc = {.t = bqs, .index = "id-week-index", .pk = &ipk};
	struct qloc fin = {.t = bqs, .index = "fin-index", .pk = &ipk};
	struct coll c;
	struct qpos from;
	size_t i, j, dup;

	ck_assert_int_eq(val_init_str(&ipk, "u1", 2), 0);
	memset(&c, 0, sizeof(c));
	qpos_init(&c.last);
	c.loc = &loc;
	c.page = 5;
	ck_assert_int_eq(parse("", in_index(&ska_s)), 0);
	ck_assert_int_ge(query_run(&loc, &q, NULL, false, coll_hit, &c, NULL), 0);
	ck_assert_uint_eq(c.n, 5);
	ck_assert_str_eq(c.names[4], "u1#1~2022-12.json");
	/* the last item listed is deleted: the listing goes on after it */
	ck_assert_int_eq(val_init_str(&pk, "u1#1", 4), 0);
	ck_assert_int_eq(val_init_str(&sk, "2022-12", 7), 0);
	ck_assert_int_eq(tbl_delete(qs, &pk, &sk, 0, NULL), 0);
	from = c.last;
	qpos_init(&c.last);
	c.page = 0;
	ck_assert_int_ge(query_run(&loc, &q, &from, false, coll_hit, &c, NULL), 0);
	qpos_free(&from);
	ck_assert_uint_eq(c.n, 20); /* 5 + the 15 after it */
	ck_assert_str_eq(c.names[5], "u1#2~2022-12.json");
	for (i = 1; i < c.n; i++)
		ck_assert_str_ne(c.names[i], c.names[i - 1]);
	val_free(&pk);
	val_free(&sk);
	qpos_free(&c.last);

	/* fin-index (id / finished): the last item listed moves from the
	 * finished=0 entries to the finished=1 ones.  Resuming at its new
	 * place would skip the finished=0 entries after its old one. */
	memset(&c, 0, sizeof(c));
	qpos_init(&c.last);
	c.loc = &fin;
	c.page = 3;
	ck_assert_int_eq(parse("", in_index(&ska_n)), 0);
	ck_assert_int_ge(query_run(&fin, &q, NULL, false, coll_hit, &c, NULL), 0);
	ck_assert_str_eq(c.names[2], "u1#1~2022-16.json");
	put("{\"id#level\": \"u1#1\", \"week\": \"2022-16\", \"id\": \"u1\", \"level\": 1, "
	    "\"finished\": 1}");
	from = c.last;
	qpos_init(&c.last);
	c.page = 0;
	ck_assert_int_ge(query_run(&fin, &q, &from, false, coll_hit, &c, NULL), 0);
	qpos_free(&from);
	/* all 19 items of u1; the one that moved is seen at both places */
	ck_assert_uint_eq(c.n, 20);
	ck_assert_str_eq(c.names[3], "u1#1~2022-18.json");
	for (i = dup = 0; i < c.n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(c.names[i], c.names[j])) {
				ck_assert_str_eq(c.names[i], "u1#1~2022-16.json");
				dup++;
			}
	ck_assert_uint_eq(dup, 1);
	qpos_free(&c.last);
	val_free(&ipk);
}
END_TEST

START_TEST(test_run_index_no_sort_key_resume)
{
	struct val ipk, pk, sk;
	struct qloc loc = {.t = bqs, .index = "level-index", .pk = &ipk};
	struct qwhere w = in_index(NULL);
	struct coll c;
	struct qpos from;
	struct num n;

	num_from_int64(&n, 2);
	val_init_num(&ipk, &n);
	memset(&c, 0, sizeof(c));
	qpos_init(&c.last);
	c.loc = &loc;
	c.page = 4;
	ck_assert_int_eq(parse("", w), 0);
	ck_assert_int_ge(query_run(&loc, &q, NULL, false, coll_hit, &c, NULL), 0);
	ck_assert_str_eq(c.names[3], "u0#2~2022-13.json");
	ck_assert_int_eq(val_init_str(&pk, "u0#2", 4), 0);
	ck_assert_int_eq(val_init_str(&sk, "2022-13", 7), 0);
	ck_assert_int_eq(tbl_delete(qs, &pk, &sk, 0, NULL), 0);
	from = c.last;
	qpos_init(&c.last);
	c.page = 0;
	ck_assert_int_ge(query_run(&loc, &q, &from, false, coll_hit, &c, NULL), 0);
	qpos_free(&from);
	ck_assert_uint_eq(c.n, 30); /* 4 + the 26 after the deleted one */
	ck_assert_str_eq(c.names[4], "u0#2~2022-14.json");
	val_free(&pk);
	val_free(&sk);
	qpos_free(&c.last);
	val_free(&ipk);
}
END_TEST

START_TEST(test_text_outputs_and_projection)
{
	struct val pk, ipk;
	struct qloc part = {.t = bqs, .pk = &pk};
	struct qloc idx = {.t = bqs, .index = "id-week-index", .pk = &ipk};
	struct qloc lvl = {.t = bqs, .index = "level-index", .pk = &ipk};
	struct num n;
	size_t len;
	char *text;

	ck_assert_int_eq(val_init_str(&pk, "u0#1", 4), 0);
	ck_assert_int_eq(parse("prefix=2022-1&order=desc&limit=2&as=jsonl", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_text(&part, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "{\"id#level\":\"u0#1\",\"week\":\"2022-19\",\"finished\":1,\"id\":"
			       "\"u0\",\"level\":1,\"scores\":[95]}\n"
			       "{\"id#level\":\"u0#1\",\"week\":\"2022-18\",\"finished\":0,\"id\":"
			       "\"u0\",\"level\":1,\"scores\":[90]}\n");
	ck_assert_uint_eq(len, strlen(text));
	free(text);
	ck_assert_int_eq(parse("filter=finished%20%3D%201&as=count", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_text(&part, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "5\n");
	free(text);
	ck_assert_int_eq(parse("eq=nothing&as=json", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_text(&part, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "[]\n");
	free(text);
	ck_assert_int_eq(parse("eq=2022-10&as=json", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_text(&part, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text,
			 "[\n{\"id#level\":\"u0#1\",\"week\":\"2022-10\",\"finished\":0,\"id\":"
			 "\"u0\",\"level\":1,\"scores\":[50]}\n]\n");
	free(text);
	/* KEYS_ONLY: table and index keys */
	ck_assert_int_eq(val_init_str(&ipk, "u0", 2), 0);
	ck_assert_int_eq(parse("eq=2022-10&as=jsonl", in_index(&ska_s)), 0);
	ck_assert_int_eq(query_text(&idx, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "{\"id#level\":\"u0#1\",\"week\":\"2022-10\",\"id\":\"u0\"}\n"
			       "{\"id#level\":\"u0#2\",\"week\":\"2022-10\",\"id\":\"u0\"}\n");
	free(text);
	/* a filter sees the projection only, as in DynamoDB */
	ck_assert_int_eq(parse("filter=attribute_exists(scores)&as=count", in_index(&ska_s)), 0);
	ck_assert_int_eq(query_text(&idx, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "0\n");
	free(text);
	val_free(&ipk);
	/* INCLUDE [level] */
	num_from_int64(&n, 1);
	val_init_num(&ipk, &n);
	ck_assert_int_eq(parse("limit=1&as=jsonl", in_index(NULL)), 0);
	ck_assert_int_eq(query_text(&lvl, &q, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "{\"id#level\":\"u0#1\",\"week\":\"2022-10\",\"level\":1}\n");
	free(text);
	val_free(&ipk);
	val_free(&pk);
}
END_TEST

START_TEST(test_name_key_and_match)
{
	struct val pk, sk, part, ipk;
	struct qloc at_part = {.t = bqs, .pk = &part};
	struct qloc scan = {.t = bqs};
	struct qloc idx = {.t = bqs, .index = "id-week-index", .pk = &ipk};

	ck_assert_int_eq(val_init_str(&part, "u1#1", 4), 0);
	ck_assert_int_eq(val_init_str(&ipk, "u1", 2), 0);
	ck_assert_int_eq(query_name_key(&at_part, "2022-11.json", 12, &pk, &sk, NULL), 0);
	is_s(&pk, "u1#1");
	is_s(&sk, "2022-11");
	ck_assert_int_eq(parse("ge=2022-11", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_match(&at_part, &q, &pk, &sk, NULL), 1);
	ck_assert_int_eq(query_match(&idx, &q, &pk, &sk, NULL), 1);
	ck_assert_int_eq(parse("gt=2022-11", in_part(&ska_s)), 0);
	ck_assert_int_eq(query_match(&at_part, &q, &pk, &sk, NULL), 0);
	ck_assert_int_eq(parse("filter=finished%20%3D%201", at_table()), 0);
	ck_assert_int_eq(query_match(&scan, &q, &pk, &sk, NULL), 1);
	val_free(&pk);
	val_free(&sk);
	ck_assert_int_eq(query_name_key(&scan, "u1#1~2022-11.json", 17, &pk, &sk, NULL), 0);
	is_s(&sk, "2022-11");
	val_free(&pk);
	val_free(&sk);
	ck_assert_int_eq(query_name_key(&scan, "u1#1.json", 9, &pk, &sk, NULL), -EINVAL);
	ck_assert_int_eq(query_name_key(&at_part, "x~y.json", 8, &pk, &sk, NULL), -EINVAL);
	/* not in this index partition */
	ck_assert_int_eq(val_init_str(&pk, "u2#1", 4), 0);
	ck_assert_int_eq(val_init_str(&sk, "2022-11", 7), 0);
	ck_assert_int_eq(parse("", in_index(&ska_s)), 0);
	ck_assert_int_eq(query_match(&idx, &q, &pk, &sk, NULL), 0);
	val_free(&pk);
	val_free(&sk);
	val_free(&part);
	val_free(&ipk);
}
END_TEST

/* Long keys get shortened names; the runner and the lookup agree. */
START_TEST(test_shortened_names)
{
	char big[700], json[900], name[NAME_BUF];
	struct val pk, sk, part;
	struct qloc at_part = {.t = bqs, .pk = &part};
	struct qloc scan = {.t = bqs};
	struct coll c;

	memset(big, 'w', 600);
	big[600] = 0;
	snprintf(json, sizeof(json), "{\"id#level\": \"u0#1\", \"week\": \"%s\"}", big);
	put(json);
	ck_assert_int_eq(val_init_str(&part, "u0#1", 4), 0);
	ck_assert_int_eq(val_init_str(&sk, big, 600), 0);
	ck_assert_int_ge(query_entry_name(&at_part, &part, &sk, name), 0);
	ck_assert_int_le(strlen(name), NAME_LEN_MAX);
	val_free(&sk);
	ck_assert_int_eq(query_name_key(&at_part, name, strlen(name), &pk, &sk, NULL), 0);
	ck_assert_uint_eq(sk.s.len, 600);
	val_free(&pk);
	val_free(&sk);
	ck_assert_int_eq(val_init_str(&sk, big, 600), 0);
	ck_assert_int_ge(query_entry_name(&scan, &part, &sk, name), 0);
	val_free(&sk);
	ck_assert_int_eq(query_name_key(&scan, name, strlen(name), &pk, &sk, NULL), 0);
	ck_assert_uint_eq(sk.s.len, 600);
	val_free(&pk);
	val_free(&sk);
	/* a partition key so long that the name loses the separator */
	{
		char lp[400], lname[NAME_BUF];
		struct val lpk, lsk;

		memset(lp, 'p', 300);
		lp[300] = 0;
		snprintf(json, sizeof(json), "{\"id#level\": \"%s\", \"week\": \"w1\"}", lp);
		put(json);
		snprintf(json, sizeof(json), "{\"id#level\": \"%sq\", \"week\": \"w1\"}", lp);
		put(json);
		ck_assert_int_eq(val_init_str(&lpk, lp, 300), 0);
		ck_assert_int_eq(val_init_str(&lsk, "w1", 2), 0);
		ck_assert_int_ge(query_entry_name(&scan, &lpk, &lsk, lname), 0);
		ck_assert_ptr_eq(strchr(lname, '~'), strstr(lname, "~~")); /* no separator */
		ck_assert_int_eq(query_name_key(&scan, lname, strlen(lname), &pk, &sk, NULL), 0);
		ck_assert(val_equal(&pk, &lpk));
		is_s(&sk, "w1");
		val_free(&pk);
		val_free(&sk);
		val_free(&lpk);
		val_free(&lsk);
	}
	/* after= a shortened name */
	{
		char text[NAME_BUF + 16];

		snprintf(text, sizeof(text), "after=%s", name);
		run_pages(&scan, at_table(), text, 0, &c);
		ck_assert_uint_eq(c.n, 50); /* the partitions after u0#1 */
		ck_assert_str_eq(c.names[0], "u0#2~2022-10.json");
	}
	val_free(&part);
}
END_TEST

/* ---- a backend whose scans are not in key order (a service's Scan) ---- */

static const struct be_methods *ordered_m; /* the local methods */
static struct be_methods unordered_m;	   /* the same, scans in descending key order */

struct keys {
	struct val pk[128], sk[128];
	size_t n;
};

static int keys_add(void *ctx, const struct be_ref *r)
{
	struct keys *k = ctx;

	ck_assert_uint_lt(k->n, 128);
	ck_assert_int_eq(val_copy(&k->pk[k->n], be_ref_pk(r)), 0);
	val_init_null(&k->sk[k->n]);
	if (be_ref_sk(r))
		ck_assert_int_eq(val_copy(&k->sk[k->n], be_ref_sk(r)), 0);
	k->n++;
	return 0;
}

static int key_cmp(const struct keys *k, size_t i, const struct val *pk, const struct val *sk)
{
	int c = val_cmp(&k->pk[i], pk);

	return c || !sk ? c : val_cmp(&k->sk[i], sk);
}

/* The whole table in descending key order; resuming after start_* goes on
 * with the keys below it, as a resumed DynamoDB Scan goes on in its order. */
static int desc_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
		     struct dyn_err *err)
{
	static struct keys k; /* (large: not on the stack) */
	struct tbl_scan all = {0};
	size_t i, delivered = 0;
	int rc;

	ck_assert_ptr_null(s->index);
	k.n = 0;
	ck_assert_int_eq(ordered_m->scan(t, &all, keys_add, &k, err), 0);
	for (i = k.n; s->start_pk && i > 0 && key_cmp(&k, i - 1, s->start_pk, s->start_sk) >= 0;)
		i--;
	for (rc = 0; rc == 0 && i > 0; i--) {
		struct tbl_query one = {.pk = &k.pk[i - 1]};

		if (k.sk[i - 1].type != VAL_NULL) {
			one.sk.lo = one.sk.hi = &k.sk[i - 1];
			one.sk.lo_incl = one.sk.hi_incl = true;
		}
		rc = ordered_m->query(t, &one, fn, ctx, err);
		if (rc == 0 && s->limit && ++delivered >= s->limit)
			break;
	}
	for (i = 0; i < k.n; i++) {
		val_free(&k.pk[i]);
		val_free(&k.sk[i]);
	}
	return rc;
}

static void be_putj(be_table_t *t, const char *json)
{
	struct dyn_err err;
	struct val item;

	err_clear(&err);
	ck_assert_msg(item_parse(json, strlen(json), &item, &err) == 0, "%s: %s", json, err.msg);
	ck_assert_msg(be_put(t, &item, 0, &err) == 0, "%s: %s", json, err.msg);
	val_free(&item);
}

static void go_unordered(be_table_t *t)
{
	ordered_m = be->m;
	unordered_m = *ordered_m;
	unordered_m.caps &= ~(unsigned)BE_CAP_ORDERED;
	unordered_m.scan = desc_scan;
	be->m = &unordered_m;
	t->m = &unordered_m;
}

static void go_ordered(be_table_t *t)
{
	be->m = ordered_m;
	t->m = ordered_m;
}

/* Where scans are not in key order (no BE_CAP_ORDERED), a shortened name
 * is still found (the candidates are not "the keys from the prefix on"),
 * and a table-level query read page by page lists every item once. */
START_TEST(test_unordered_scans)
{
	struct table_schema s;
	char lp[400], json[600], name[NAME_BUF];
	struct val lpk, pk, sk;
	struct qloc scan = {.t = NULL};
	struct coll c;
	be_table_t *t;
	size_t i, j;

	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "id", VAL_S);
	ck_assert_int_eq(db_create_table(db, "longs", &s, NULL), 0);
	ck_assert_int_eq(be_table_open(be, "longs", &t, NULL), 0);
	memset(lp, 'p', 300);
	lp[300] = 0;
	for (i = 0; i < 4; i++) {
		snprintf(json, sizeof(json), "{\"id\": \"%s%c\"}", lp, (int)('a' + i));
		be_putj(t, json);
	}
	be_putj(t, "{\"id\": \"zz\"}");
	be_putj(t, "{\"id\": \"a\"}");
	scan.t = t;
	go_unordered(t);
	for (i = 0; i < 4; i++) {
		snprintf(json, sizeof(json), "%s%c", lp, (int)('a' + i));
		ck_assert_int_eq(val_init_str(&lpk, json, strlen(json)), 0);
		ck_assert_int_ge(query_entry_name(&scan, &lpk, NULL, name), 0);
		ck_assert_int_le(strlen(name), NAME_LEN_MAX);
		ck_assert_int_eq(query_name_key(&scan, name, strlen(name), &pk, &sk, NULL), 0);
		ck_assert(val_equal(&pk, &lpk));
		val_free(&pk);
		val_free(&sk);
		val_free(&lpk);
	}
	go_ordered(t);
	be_table_close(t);

	/* quiz-stats at table level, a page of 7 at a time: 60 items, once each */
	scan.t = bqs;
	go_unordered(bqs);
	run_pages(&scan, at_table(), "", 7, &c);
	go_ordered(bqs);
	ck_assert_uint_eq(c.n, 60);
	ck_assert_str_eq(c.names[0], "u2#2~2022-19.json"); /* descending: not key order */
	for (i = 0; i < c.n; i++)
		for (j = i + 1; j < c.n; j++)
			ck_assert_str_ne(c.names[i], c.names[j]);
}
END_TEST

Suite *query_run_suite(void);

Suite *query_run_suite(void)
{
	Suite *s = suite_create("query_run");
	TCase *tc;

	tc = tcase_create("query_run");
	tcase_add_checked_fixture(tc, setup_db, teardown_db);
	tcase_add_test(tc, test_run_partition_range_and_order);
	tcase_add_test(tc, test_run_pages_keep_limit_and_order);
	tcase_add_test(tc, test_run_scan_segments_partition_the_table);
	tcase_add_test(tc, test_run_index_ties_by_base_key);
	tcase_add_test(tc, test_run_index_scan);
	tcase_add_test(tc, test_run_index_resume_after_change);
	tcase_add_test(tc, test_run_index_no_sort_key_resume);
	tcase_add_test(tc, test_text_outputs_and_projection);
	tcase_add_test(tc, test_name_key_and_match);
	tcase_add_test(tc, test_shortened_names);
	tcase_add_test(tc, test_unordered_scans);
	suite_add_tcase(s, tc);
	return s;
}
