/*
 * check_range.c - the engine's range reads: tbl_query bounds (inclusive,
 * exclusive, empty, one-sided, prefix on S and B, N order with
 * negatives), order, limit and start keys; tbl_scan order, segments and
 * start keys; tbl_list_partitions and tbl_partition_exists.  (Writes:
 * check_db.c; index reads: check_index.c.)
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

/* ---- tbl_query ---- */

static void fill_weeks(void)
{
	static const char *weeks[] = {"2022-08", "2022-09", "2022-10",
				      "2022-11", "2023-01", "2023-31"};
	size_t i;

	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(
		    put(tq, "{\"id#level\": \"felienne#3\", \"week\": \"%s\"}", weeks[i]), 0);
		ck_assert_int_eq(put(tq, "{\"id#level\": \"hedy#1\", \"week\": \"%s\"}", weeks[i]),
				 0);
	}
	ck_assert_int_eq(put(tq, "{\"id#level\": \"felienne#30\", \"week\": \"2022-09\"}"), 0);
	ck_assert_int_eq(put(tq, "{\"id#level\": \"felienne#\", \"week\": \"2022-09\"}"), 0);
}

START_TEST(test_query_whole_partition_in_order)
{
	struct tbl_query q = {.pk = vs("felienne#3")};

	fill_weeks();
	ck_assert_str_eq(query(tq, &q), "2022-08,2022-09,2022-10,2022-11,2023-01,2023-31");
	q.desc = true;
	ck_assert_str_eq(query(tq, &q), "2023-31,2023-01,2022-11,2022-10,2022-09,2022-08");
	q.pk = vs("nobody");
	ck_assert_str_eq(query(tq, &q), "");
}
END_TEST

START_TEST(test_query_bounds_inclusive_and_exclusive)
{
	struct tbl_query q = {.pk = vs("felienne#3")};

	fill_weeks();
	q.sk.lo = vs("2022-09");
	q.sk.lo_incl = true;
	q.sk.hi = vs("2022-11");
	q.sk.hi_incl = true;
	ck_assert_str_eq(query(tq, &q), "2022-09,2022-10,2022-11");
	q.sk.lo_incl = false;
	ck_assert_str_eq(query(tq, &q), "2022-10,2022-11");
	q.sk.hi_incl = false;
	ck_assert_str_eq(query(tq, &q), "2022-10");
	q.desc = true;
	ck_assert_str_eq(query(tq, &q), "2022-10");
	q.sk.lo_incl = q.sk.hi_incl = true;
	ck_assert_str_eq(query(tq, &q), "2022-11,2022-10,2022-09");
	/* bounds that fall between keys */
	q.desc = false;
	q.sk.lo = vs("2022-085");
	q.sk.hi = vs("2022-1");
	ck_assert_str_eq(query(tq, &q), "2022-09");
	/* one-sided */
	q.sk.lo = NULL;
	q.sk.hi = vs("2022-09");
	ck_assert_str_eq(query(tq, &q), "2022-08,2022-09");
	q.sk.hi = NULL;
	q.sk.lo = vs("2023-01");
	q.sk.lo_incl = false;
	ck_assert_str_eq(query(tq, &q), "2023-31");
}
END_TEST

START_TEST(test_query_empty_ranges)
{
	struct tbl_query q = {.pk = vs("felienne#3")};

	fill_weeks();
	q.sk.lo = vs("2022-11");
	q.sk.hi = vs("2022-09");
	q.sk.lo_incl = q.sk.hi_incl = true;
	ck_assert_str_eq(query(tq, &q), "");
	q.sk.lo = q.sk.hi = vs("2022-10");
	ck_assert_str_eq(query(tq, &q), "2022-10");
	q.sk.lo_incl = false;
	ck_assert_str_eq(query(tq, &q), "");
	q.desc = true;
	ck_assert_str_eq(query(tq, &q), "");
	q.sk.lo = vs("2099");
	q.sk.hi = NULL;
	q.sk.lo_incl = true;
	ck_assert_str_eq(query(tq, &q), "");
}
END_TEST

START_TEST(test_query_limit_and_start_key)
{
	struct tbl_query q = {.pk = vs("felienne#3"), .limit = 2};

	fill_weeks();
	ck_assert_str_eq(query(tq, &q), "2022-08,2022-09");
	q.start_pk = vs("felienne#3");
	q.start_sk = vs("2022-09");
	ck_assert_str_eq(query(tq, &q), "2022-10,2022-11");
	q.desc = true;
	ck_assert_str_eq(query(tq, &q), "2022-08");
	/* a start key that is not stored still positions */
	q.start_sk = vs("2022-105");
	ck_assert_str_eq(query(tq, &q), "2022-10,2022-09");
	q.desc = false;
	q.limit = 0;
	ck_assert_str_eq(query(tq, &q), "2022-11,2023-01,2023-31");
	/* start before the range: the range wins */
	q.sk.lo = vs("2023");
	q.sk.lo_incl = true;
	q.start_sk = vs("2022-08");
	ck_assert_str_eq(query(tq, &q), "2023-01,2023-31");
}
END_TEST

START_TEST(test_query_prefix_on_strings)
{
	struct tbl_query q = {.pk = vs("felienne#3")};

	fill_weeks();
	q.sk.prefix = vs("2022-");
	ck_assert_str_eq(query(tq, &q), "2022-08,2022-09,2022-10,2022-11");
	q.sk.prefix = vs("2022-1");
	q.desc = true;
	ck_assert_str_eq(query(tq, &q), "2022-11,2022-10");
	q.sk.hi = vs("2022-10");
	q.sk.hi_incl = true;
	ck_assert_str_eq(query(tq, &q), "2022-10");
	q.sk.hi = NULL;
	q.sk.prefix = vs("2024");
	ck_assert_str_eq(query(tq, &q), "");
	/* a partition whose key is a prefix of another's stays apart */
	q.pk = vs("felienne#");
	q.sk.prefix = vs("");
	ck_assert_str_eq(query(tq, &q), "2022-09");
}
END_TEST

START_TEST(test_query_prefix_on_binary)
{
	static const uint8_t keys[][3] = {{0x00}, {0x00, 0x00}, {0x00, 0xff},
					  {0x01}, {0xff},	{0xff, 0xff, 0x00}};
	static const size_t lens[] = {1, 2, 2, 1, 1, 3};
	struct tbl_query q = {.pk = vs("p")};
	struct val *item;
	size_t i;

	for (i = 0; i < 6; i++) {
		item = J("{\"p\": \"p\"}");
		struct val b;

		ck_assert_int_eq(val_init_bin(&b, keys[i], lens[i]), 0);
		ck_assert_int_eq(val_map_set(item, "b", 1, &b), 0);
		ck_assert_int_eq(tbl_put(tb, item, 0, NULL), 0);
	}
	ck_assert_str_eq(query(tb, &q), "00,0000,00ff,01,ff,ffff00");
	q.sk.prefix = vb("\x00", 1);
	ck_assert_str_eq(query(tb, &q), "00,0000,00ff");
	q.sk.prefix = vb("\xff", 1);
	ck_assert_str_eq(query(tb, &q), "ff,ffff00");
	q.sk.prefix = vb("\xff\xff", 2);
	q.desc = true;
	ck_assert_str_eq(query(tb, &q), "ffff00");
}
END_TEST

START_TEST(test_query_numbers_order_numerically)
{
	static const char *nums[] = {"10",  "-1",   "2",    "-10",    "0",
				     "0.5", "-0.5", "1e10", "-1e-10", "100"};
	struct tbl_query q = {.pk = vs("p")};
	size_t i;

	for (i = 0; i < 10; i++)
		ck_assert_int_eq(put(tn, "{\"p\": \"p\", \"n\": %s}", nums[i]), 0);
	ck_assert_str_eq(query(tn, &q), "-10,-1,-0.5,-1e-10,0,0.5,2,10,100,10000000000");
	q.sk.lo = vn("-1");
	q.sk.lo_incl = false;
	q.sk.hi = vn("2.0");
	q.sk.hi_incl = true;
	ck_assert_str_eq(query(tn, &q), "-0.5,-1e-10,0,0.5,2");
	q.desc = true;
	ck_assert_str_eq(query(tn, &q), "2,0.5,0,-1e-10,-0.5");
	/* 1.0 and 1 are the same key */
	ck_assert_int_eq(put(tn, "{\"p\": \"q\", \"n\": 1.0, \"v\": 1}"), 0);
	ck_assert_int_eq(put(tn, "{\"p\": \"q\", \"n\": 1, \"v\": 2}"), 0);
	ck_assert_str_eq(get_c(tn, vs("q"), vn("1.00")), "{\"n\":1,\"p\":\"q\",\"v\":2}");
}
END_TEST

START_TEST(test_query_rejects_bad_conditions)
{
	struct tbl_query q = {.pk = vs("p")};
	struct coll c = {0};
	struct dyn_err err;

	err_clear(&err);
	q.sk.lo = vs("1");
	ck_assert_int_eq(tbl_query(tn, &q, collect, &c, &err), -EINVAL);
	q.sk.lo = NULL;
	q.sk.prefix = vn("1");
	ck_assert_int_eq(tbl_query(tn, &q, collect, &c, NULL), -EINVAL);
	q.sk.prefix = vs("a");
	ck_assert_int_eq(tbl_query(tu, &q, collect, &c, NULL), -EINVAL);
	q.sk.prefix = NULL;
	q.pk = vn("1");
	ck_assert_int_eq(tbl_query(tu, &q, collect, &c, NULL), -EINVAL);
	q.pk = vs("p");
	q.index = "nope";
	ck_assert_int_eq(tbl_query(tu, &q, collect, &c, NULL), -ENOENT);
}
END_TEST

START_TEST(test_query_table_without_sort_key)
{
	struct tbl_query q = {.pk = vs("hedy")};

	ck_assert_int_eq(put(tu, "{\"username\": \"hedy\"}"), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"hedy2\"}"), 0);
	ck_assert_str_eq(query(tu, &q), "hedy");
}
END_TEST

static int stop_after_two(void *ctx, const struct item_ref *r)
{
	int *n = ctx;

	return ++*n == 2 ? 42 : 0;
}

START_TEST(test_query_visitor_stops_with_its_value)
{
	struct tbl_query q = {.pk = vs("felienne#3")};
	int n = 0;

	fill_weeks();
	ck_assert_int_eq(tbl_query(tq, &q, stop_after_two, &n, NULL), 42);
	ck_assert_int_eq(n, 2);
}
END_TEST

/* ---- tbl_scan ---- */

static int count_seen(void *ctx, const struct item_ref *r)
{
	int *seen = ctx;
	const struct val *pk = iref_pk(r), *sk = iref_sk(r);
	long p, s;

	p = strtol(pk->s.p + 1, NULL, 10);
	s = strtol(sk->s.p, NULL, 10);
	seen[p * 10 + s]++;
	return 0;
}

START_TEST(test_scan_segments_cover_every_item_once)
{
	int seen[500], i, total, seg;
	struct tbl_scan s = {0};

	for (i = 0; i < 500; i++)
		ck_assert_int_eq(
		    put(tq, "{\"id#level\": \"p%d\", \"week\": \"%d\"}", i / 10, i % 10), 0);
	for (total = 1; total <= 7; total++) {
		memset(seen, 0, sizeof(seen));
		for (seg = 0; seg < total; seg++) {
			s.segment = (uint32_t)seg;
			s.total = (uint32_t)total;
			ck_assert_int_eq(tbl_scan(tq, &s, count_seen, seen, NULL), 0);
		}
		for (i = 0; i < 500; i++)
			ck_assert_int_eq(seen[i], 1);
	}
	s.segment = 7;
	s.total = 7;
	ck_assert_int_eq(tbl_scan(tq, &s, count_seen, seen, NULL), -EINVAL);
}
END_TEST

START_TEST(test_scan_in_key_order_with_start_and_limit)
{
	struct tbl_scan s = {.limit = 3};
	struct coll c = {.full = true};

	fill_weeks();
	ck_assert_int_eq(tbl_scan(tq, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "felienne#/2022-09,felienne#3/2022-08,felienne#3/2022-09");
	memset(&c, 0, sizeof(c));
	c.full = true;
	s.start_pk = vs("felienne#30");
	s.start_sk = vs("2022-09");
	ck_assert_int_eq(tbl_scan(tq, &s, collect, &c, NULL), 0);
	ck_assert_str_eq(c.out, "hedy#1/2022-08,hedy#1/2022-09,hedy#1/2022-10");
}
END_TEST

/* ---- tbl_list_partitions ---- */

struct pcoll {
	char out[1024]; /* comma-separated partition keys */
	int n;		/* seen */
	int stop;	/* stop after this many (0: never) */
};

static int pcollect(void *ctx, const struct val *pk)
{
	struct pcoll *c = ctx;
	size_t len = strlen(c->out);
	char b[300];

	val_str(pk, b, sizeof(b));
	snprintf(c->out + len, sizeof(c->out) - len, "%s%s", c->n ? "," : "", b);
	c->n++;
	return c->stop && c->n >= c->stop ? 1 : 0;
}

START_TEST(test_list_partitions_in_order_after)
{
	struct pcoll c = {.stop = 0};

	fill_weeks();
	ck_assert_int_eq(tbl_list_partitions(tq, NULL, NULL, pcollect, &c), 0);
	ck_assert_str_eq(c.out, "felienne#,felienne#3,felienne#30,hedy#1");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_list_partitions(tq, NULL, vs("felienne#3"), pcollect, &c), 0);
	ck_assert_str_eq(c.out, "felienne#30,hedy#1");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tbl_list_partitions(tq, NULL, vs("felienne#4"), pcollect, &c), 0);
	ck_assert_str_eq(c.out, "hedy#1");
	memset(&c, 0, sizeof(c));
	c.stop = 2;
	ck_assert_int_eq(tbl_list_partitions(tq, NULL, NULL, pcollect, &c), 1);
	ck_assert_str_eq(c.out, "felienne#,felienne#3");
	ck_assert_int_eq(tbl_list_partitions(tq, NULL, vn("1"), pcollect, &c), -EINVAL);
}
END_TEST

START_TEST(test_partition_exists)
{
	fill_weeks();
	ck_assert_int_eq(tbl_partition_exists(tq, NULL, vs("felienne#3")), 0);
	ck_assert_int_eq(tbl_partition_exists(tq, NULL, vs("felienne")), -ENOENT);
	ck_assert_int_eq(tbl_partition_exists(tq, NULL, vs("zzz")), -ENOENT);
	ck_assert_int_eq(tbl_delete(tq, vs("felienne#"), vs("2022-09"), 0, NULL), 0);
	ck_assert_int_eq(tbl_partition_exists(tq, NULL, vs("felienne#")), -ENOENT);
	ck_assert_int_eq(tbl_partition_exists(tq, "nope", vs("a")), -ENOENT);
}
END_TEST

Suite *range_suite(void);
Suite *range_suite(void)
{
	Suite *s = suite_create("range");
	TCase *tc;

#define TC(name) (tc = fix_db_tcase(s, name))

	TC("tbl_query");
	tcase_add_test(tc, test_query_whole_partition_in_order);
	tcase_add_test(tc, test_query_bounds_inclusive_and_exclusive);
	tcase_add_test(tc, test_query_empty_ranges);
	tcase_add_test(tc, test_query_limit_and_start_key);
	tcase_add_test(tc, test_query_prefix_on_strings);
	tcase_add_test(tc, test_query_prefix_on_binary);
	tcase_add_test(tc, test_query_numbers_order_numerically);
	tcase_add_test(tc, test_query_rejects_bad_conditions);
	tcase_add_test(tc, test_query_table_without_sort_key);
	tcase_add_test(tc, test_query_visitor_stops_with_its_value);

	TC("tbl_scan");
	tcase_add_test(tc, test_scan_segments_cover_every_item_once);
	tcase_add_test(tc, test_scan_in_key_order_with_start_and_limit);

	TC("tbl_list_partitions");
	tcase_add_test(tc, test_list_partitions_in_order_after);
	tcase_add_test(tc, test_partition_exists);

#undef TC
	return s;
}
