/*
 * check_query.c - `_query?` parameters (fs/query.c): every parameter,
 * every rejection and its message, percent-decoding, combinations, key
 * value conversion for S, N and B sort keys, entry names and positions.
 * The runner on a real engine table is in check_query_run.c; the parser
 * fixtures both use are in fix_query.h.
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

/* ---- parser fixtures ---- */

/* Parsing must fail with EINVAL and a message containing want. */
static void rejects(const char *text, struct qwhere w, const char *want)
{
	struct dyn_err err;
	int rc;

	err_clear(&err);
	query_free(&q);
	rc = query_parse(text, strlen(text), &w, &q, &err);
	ck_assert_msg(rc == -EINVAL, "%s: rc %d, expected -EINVAL", text, rc);
	ck_assert_int_eq(err.code, EINVAL);
	ck_assert_msg(strstr(err.msg, want), "%s: message \"%s\" lacks \"%s\"", text, err.msg,
		      want);
}

static void is_n(const struct val *v, const char *s)
{
	char buf[NUM_TEXT_MAX];

	ck_assert_int_eq(v->type, VAL_N);
	num_format(&v->n, buf);
	ck_assert_str_eq(buf, s);
}

/* ---- query_parse: each parameter ---- */

START_TEST(test_parse_empty_is_everything)
{
	ck_assert_int_eq(parse("", in_part(&ska_s)), 0);
	ck_assert(!q.has_lo && !q.has_hi && !q.has_prefix && !q.filter && !q.has_after);
	ck_assert_uint_eq(q.limit, 0);
	ck_assert(!q.desc);
	ck_assert_int_eq(q.out, QOUT_DIR);
	ck_assert_uint_eq(q.nseg, 0);
}
END_TEST

START_TEST(test_parse_eq_is_both_bounds)
{
	ck_assert_int_eq(parse("eq=2022-09", in_part(&ska_s)), 0);
	ck_assert(q.has_lo && q.lo_incl && q.has_hi && q.hi_incl);
	is_s(&q.lo, "2022-09");
	is_s(&q.hi, "2022-09");
}
END_TEST

START_TEST(test_parse_each_bound)
{
	ck_assert_int_eq(parse("ge=a", in_part(&ska_s)), 0);
	ck_assert(q.has_lo && q.lo_incl && !q.has_hi);
	ck_assert_int_eq(parse("gt=a", in_part(&ska_s)), 0);
	ck_assert(q.has_lo && !q.lo_incl && !q.has_hi);
	ck_assert_int_eq(parse("le=a", in_part(&ska_s)), 0);
	ck_assert(q.has_hi && q.hi_incl && !q.has_lo);
	ck_assert_int_eq(parse("lt=a", in_part(&ska_s)), 0);
	ck_assert(q.has_hi && !q.hi_incl && !q.has_lo);
	is_s(&q.hi, "a");
}
END_TEST

START_TEST(test_parse_ge_le_is_between)
{
	ck_assert_int_eq(parse("ge=2022-01&le=2022-12", in_part(&ska_s)), 0);
	ck_assert(q.has_lo && q.lo_incl && q.has_hi && q.hi_incl);
	is_s(&q.lo, "2022-01");
	is_s(&q.hi, "2022-12");
	/* in either order, and with exclusive bounds */
	ck_assert_int_eq(parse("lt=5&gt=1", in_part(&ska_n)), 0);
	ck_assert(q.has_lo && !q.lo_incl && q.has_hi && !q.hi_incl);
	is_n(&q.lo, "1");
	is_n(&q.hi, "5");
}
END_TEST

START_TEST(test_parse_prefix)
{
	ck_assert_int_eq(parse("prefix=2022-", in_part(&ska_s)), 0);
	ck_assert(q.has_prefix && !q.has_lo && !q.has_hi);
	is_s(&q.prefix, "2022-");
	/* prefix intersects with bounds */
	ck_assert_int_eq(parse("prefix=2022-&ge=2022-05&order=desc", in_part(&ska_s)), 0);
	ck_assert(q.has_prefix && q.has_lo && q.desc);
}
END_TEST

START_TEST(test_parse_filter_compiles)
{
	struct val item;
	bool ok;

	ck_assert_int_eq(
	    parse("filter=finished%20%3D%201%20and%20contains(scores,%2095)", in_part(&ska_s)), 0);
	ck_assert_ptr_nonnull(q.filter);
	ck_assert_str_eq(q.filter_text, "finished = 1 and contains(scores, 95)");
	ck_assert_int_eq(
	    item_parse("{\"finished\": 1, \"scores\": {\"$NS\": [60, 95]}}", 44, &item, NULL), 0);
	ck_assert_int_eq(expr_eval(q.filter, &item, &ok, NULL), 0);
	ck_assert(ok);
	val_free(&item);
	/* spaces may be written raw; = inside the value is data */
	ck_assert_int_eq(parse("filter=level = 3", in_part(&ska_s)), 0);
	ck_assert_str_eq(q.filter_text, "level = 3");
}
END_TEST

START_TEST(test_parse_limit)
{
	ck_assert_int_eq(parse("limit=5", in_part(&ska_s)), 0);
	ck_assert_uint_eq(q.limit, 5);
	ck_assert_int_eq(parse("limit=18446744073709551615", in_part(&ska_s)), 0);
	ck_assert_uint_eq(q.limit, UINT64_MAX);
}
END_TEST

START_TEST(test_parse_order)
{
	ck_assert_int_eq(parse("order=desc", in_part(&ska_s)), 0);
	ck_assert(q.desc);
	ck_assert_int_eq(parse("order=asc", in_part(&ska_s)), 0);
	ck_assert(!q.desc);
	ck_assert_int_eq(parse("order=asc", at_table()), 0);
}
END_TEST

START_TEST(test_parse_as)
{
	ck_assert_int_eq(parse("as=jsonl", in_part(&ska_s)), 0);
	ck_assert_int_eq(q.out, QOUT_JSONL);
	ck_assert_int_eq(parse("as=json", in_part(&ska_s)), 0);
	ck_assert_int_eq(q.out, QOUT_JSON);
	ck_assert_int_eq(parse("as=count", at_table()), 0);
	ck_assert_int_eq(q.out, QOUT_COUNT);
}
END_TEST

START_TEST(test_parse_segment)
{
	ck_assert_int_eq(parse("segment=0/3", at_table()), 0);
	ck_assert_uint_eq(q.seg, 0);
	ck_assert_uint_eq(q.nseg, 3);
	ck_assert_int_eq(parse("segment=2/3", at_table()), 0);
	ck_assert_uint_eq(q.seg, 2);
	ck_assert_int_eq(parse("segment=0/1", at_table()), 0);
	ck_assert_int_eq(parse("segment=999999/1000000", at_table()), 0);
	ck_assert_uint_eq(q.nseg, 1000000);
}
END_TEST

START_TEST(test_parse_after)
{
	ck_assert_int_eq(parse("after=2022-09.json", in_part(&ska_s)), 0);
	ck_assert(q.has_after);
	ck_assert_str_eq(q.after, "2022-09.json");
	is_s(&q.after_sk.key, "2022-09");
	/* full-key names at table level and in index partitions */
	ck_assert_int_eq(parse("after=felienne%233~2022-09.json", at_table()), 0);
	is_s(&q.after_pk.key, "felienne#3");
	is_s(&q.after_sk.key, "2022-09");
	ck_assert_int_eq(parse("after=felienne#3~2022-09.json", in_index(NULL)), 0);
	is_s(&q.after_pk.key, "felienne#3");
	/* a table without sort key: the item's own name */
	{
		struct qwhere w = {.scan = true, .tpk = &tpk};

		ck_assert_int_eq(parse("after=hedy.json", w), 0);
		is_s(&q.after_pk.key, "hedy");
	}
	/* an N sort key's canonical name */
	ck_assert_int_eq(parse("after=100.json", in_part(&ska_n)), 0);
	is_n(&q.after_sk.key, "100");
}
END_TEST

START_TEST(test_parse_combination)
{
	ck_assert_int_eq(parse("prefix=2022-&order=desc&limit=5&as=jsonl", in_part(&ska_s)), 0);
	ck_assert(q.has_prefix && q.desc);
	ck_assert_uint_eq(q.limit, 5);
	ck_assert_int_eq(q.out, QOUT_JSONL);
	ck_assert_int_eq(
	    parse("filter=attribute_not_exists(email)&as=count&segment=1/4&limit=3", at_table()),
	    0);
	ck_assert_int_eq(q.out, QOUT_COUNT);
	ck_assert_uint_eq(q.nseg, 4);
	ck_assert_uint_eq(q.limit, 3);
	ck_assert_int_eq(parse("ge=1700000000&order=desc", in_index(&ska_n)), 0);
	is_n(&q.lo, "1700000000");
}
END_TEST

/* ---- percent-decoding ---- */

START_TEST(test_pct_decode)
{
	char *out;
	size_t n;

	ck_assert_int_eq(query_pct_decode("a%20b%2Fc%2fd%25", 16, &out, &n, NULL), 0);
	ck_assert_str_eq(out, "a b/c/d%");
	ck_assert_uint_eq(n, 8);
	free(out);
	ck_assert_int_eq(query_pct_decode("x%00y", 5, &out, &n, NULL), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, "x\0y", 3);
	free(out);
	ck_assert_int_eq(query_pct_decode("1+1", 3, &out, &n, NULL), 0);
	ck_assert_str_eq(out, "1+1"); /* '+' is not a space */
	free(out);
	ck_assert_int_eq(query_pct_decode("%", 1, &out, &n, NULL), -EINVAL);
	ck_assert_int_eq(query_pct_decode("%4", 2, &out, &n, NULL), -EINVAL);
	ck_assert_int_eq(query_pct_decode("%zz", 3, &out, &n, NULL), -EINVAL);
	ck_assert_int_eq(query_pct_decode("ok%g0", 5, &out, &n, NULL), -EINVAL);
}
END_TEST

START_TEST(test_parse_decodes_after_splitting)
{
	/* %26 and %3D are data: they do not split parameters */
	ck_assert_int_eq(parse("eq=a%26b%3Dc", in_part(&ska_s)), 0);
	is_s(&q.lo, "a&b=c");
	ck_assert_int_eq(parse("prefix=%E2%82%AC", in_part(&ska_s)), 0);
	is_s(&q.prefix, "\xe2\x82\xac");
	/* parameter names are decoded too */
	ck_assert_int_eq(parse("%6Cimit=2", in_part(&ska_s)), 0);
	ck_assert_uint_eq(q.limit, 2);
	ck_assert_int_eq(parse("filter=begins_with(week,%20%222022-%22)", in_part(&ska_s)), 0);
	ck_assert_str_eq(q.filter_text, "begins_with(week, \"2022-\")");
}
END_TEST

/* ---- key value conversion ---- */

START_TEST(test_parse_number_keys)
{
	ck_assert_int_eq(parse("ge=1e2&lt=1000.50", in_part(&ska_n)), 0);
	is_n(&q.lo, "100");
	is_n(&q.hi, "1000.5");
	ck_assert_int_eq(parse("eq=-0.000001", in_part(&ska_n)), 0);
	is_n(&q.lo, "-0.000001");
	ck_assert_int_eq(parse("eq=12345678901234567890.5", in_part(&ska_n)), 0);
	is_n(&q.lo, "12345678901234567890.5");
}
END_TEST

START_TEST(test_parse_binary_keys)
{
	ck_assert_int_eq(parse("ge=AAEC&prefix=AA", in_part(&ska_b)), 0);
	ck_assert_int_eq(q.lo.type, VAL_B);
	ck_assert_uint_eq(q.lo.s.len, 3);
	ck_assert_mem_eq(q.lo.s.p, "\x00\x01\x02", 3);
	ck_assert_int_eq(q.prefix.type, VAL_B);
	ck_assert_uint_eq(q.prefix.s.len, 1);
	/* url-safe and padded forms are accepted */
	ck_assert_int_eq(parse("eq=_-8%3D", in_part(&ska_b)), 0);
	ck_assert_uint_eq(q.lo.s.len, 2);
	ck_assert_mem_eq(q.lo.s.p, "\xff\xef", 2);
}
END_TEST

START_TEST(test_parse_string_keys)
{
	ck_assert_int_eq(parse("eq=caf%C3%A9", in_part(&ska_s)), 0);
	is_s(&q.lo, "caf\xc3\xa9");
	ck_assert_int_eq(parse("eq=a%2Fb", in_part(&ska_s)), 0);
	is_s(&q.lo, "a/b");
}
END_TEST

/* ---- rejections ---- */

START_TEST(test_rejects_unknown_and_malformed)
{
	rejects("bogus=1", in_part(&ska_s), "unknown parameter \"bogus\"");
	rejects("Limit=1", in_part(&ska_s), "unknown parameter \"Limit\"");
	rejects("limit", in_part(&ska_s), "has no value");
	rejects("limit=1&&order=asc", in_part(&ska_s), "empty parameter");
	rejects("limit=1&", in_part(&ska_s), "empty parameter");
	rejects("&limit=1", in_part(&ska_s), "empty parameter");
	rejects("limit=1&limit=2", in_part(&ska_s), "limit given twice");
	rejects("prefix=a&prefix=b", in_part(&ska_s), "prefix given twice");
}
END_TEST

START_TEST(test_rejects_bad_percent_encoding)
{
	rejects("eq=100%", in_part(&ska_s), "bad percent-encoding");
	rejects("eq=%4", in_part(&ska_s), "bad percent-encoding");
	rejects("filter=a%zz", in_part(&ska_s), "filter: bad percent-encoding");
	rejects("lim%it=1", in_part(&ska_s), "bad percent-encoding");
}
END_TEST

START_TEST(test_rejects_two_bounds)
{
	rejects("ge=a&gt=b", in_part(&ska_s), "ge and gt: two lower bounds");
	rejects("le=a&lt=b", in_part(&ska_s), "le and lt: two upper bounds");
	rejects("eq=a&ge=a", in_part(&ska_s), "eq and ge: two lower bounds");
	rejects("lt=b&eq=a", in_part(&ska_s), "lt and eq: two upper bounds");
	rejects("eq=a&eq=b", in_part(&ska_s), "eq given twice");
	rejects("ge=b&le=a", in_part(&ska_s), "the lower bound ge=b is above the upper bound le=a");
	rejects("gt=10&lt=9", in_part(&ska_n),
		"the lower bound gt=10 is above the upper bound lt=9");
}
END_TEST

START_TEST(test_rejects_bad_key_values)
{
	rejects("ge=abc", in_part(&ska_n), "ge=abc: not a number (sort key score is of type N)");
	rejects("eq=1e999", in_part(&ska_n), "not a number");
	rejects("eq=", in_part(&ska_s), "eq=: empty value");
	rejects("ge=%FF", in_part(&ska_s), "not valid UTF-8");
	rejects("order=desc%00x", in_part(&ska_s), "NUL byte");
	rejects("as%00x=jsonl", in_part(&ska_s), "NUL byte");
	rejects("filter=a%00b", in_part(&ska_s), "NUL byte");
	rejects("eq=!!", in_part(&ska_b), "not base64");
	rejects("prefix=1", in_part(&ska_n), "begins_with needs a sort key of type S or B");
}
END_TEST

START_TEST(test_rejects_limit)
{
	rejects("limit=0", in_part(&ska_s), "limit=0: not a positive integer");
	rejects("limit=-1", in_part(&ska_s), "not a positive integer");
	rejects("limit=1.5", in_part(&ska_s), "not a positive integer");
	rejects("limit=", in_part(&ska_s), "not a positive integer");
	rejects("limit=abc", in_part(&ska_s), "not a positive integer");
	rejects("limit=+3", in_part(&ska_s), "not a positive integer");
	rejects("limit=007", in_part(&ska_s), "not a positive integer");
	rejects("limit=18446744073709551616", in_part(&ska_s), "not a positive integer");
}
END_TEST

START_TEST(test_rejects_order_as)
{
	rejects("order=up", in_part(&ska_s), "order=up: order is asc or desc");
	rejects("order=DESC", in_part(&ska_s), "order is asc or desc");
	rejects("order=desc", at_table(), "order=desc: a scan");
	rejects("as=csv", in_part(&ska_s), "as=csv: as is jsonl, json or count");
	rejects("as=", in_part(&ska_s), "as is jsonl, json or count");
}
END_TEST

START_TEST(test_rejects_segment)
{
	rejects("segment=3/3", at_table(), "segment=3/3: write I%2FN with 0 <= I < N");
	rejects("segment=1/0", at_table(), "write I%2FN");
	rejects("segment=0/1000001", at_table(), "write I%2FN");
	rejects("segment=-1/3", at_table(), "write I%2FN");
	rejects("segment=a/3", at_table(), "write I%2FN");
	rejects("segment=1", at_table(), "write I%2FN");
	rejects("segment=1/", at_table(), "write I%2FN");
	rejects("segment=01/3", at_table(), "write I%2FN");
	rejects("segment=0/3", in_part(&ska_s), "segments split a scan");
}
END_TEST

START_TEST(test_rejects_key_conditions_out_of_place)
{
	rejects("ge=a", at_table(),
		"ge=a: _query? here (at table level, or of a whole index) is a scan");
	rejects("prefix=a", at_table(), "is a scan");
	rejects("eq=x", in_index(NULL), "eq=x: index email-index has no sort key");
}
END_TEST

START_TEST(test_rejects_filter)
{
	rejects("filter=a%20%3D", in_part(&ska_s), "filter: ");
	rejects("filter=", in_part(&ska_s), "filter: ");
	rejects("filter=size(x)", in_part(&ska_s), "filter: ");
	rejects("filter=a%20%3D%20%7B", in_part(&ska_s), "filter: ");
}
END_TEST

START_TEST(test_rejects_after)
{
	rejects("after=", in_part(&ska_s), "after=: empty name");
	rejects("after=2022-09", in_part(&ska_s),
		"not the name of an entry here (expected "
		"<sort key>.json)");
	rejects("after=a%2Fb.json", in_part(&ska_s), "not the name of an entry here");
	rejects("after=abc.json", in_part(&ska_n), "not the name of an entry here");
	rejects("after=felienne.json", at_table(), "expected <partition key>~<sort key>.json");
}
END_TEST

START_TEST(test_error_names_the_first_problem)
{
	/* the first bad parameter is the one reported */
	rejects("limit=x&order=y", in_part(&ska_s), "limit=x");
	rejects("order=y&limit=x", in_part(&ska_s), "order=y");
}
END_TEST

START_TEST(test_query_is_file)
{
	ck_assert(query_is_file("as=jsonl", 8));
	ck_assert(query_is_file("limit=1&as=count", 16));
	ck_assert(query_is_file("%61s=json", 9));
	ck_assert(!query_is_file("", 0));
	ck_assert(!query_is_file("filter=x%20%3D%20%22as%3D1%22", 29));
	ck_assert(!query_is_file("ask=1", 5));
}
END_TEST

/* ---- names, targets, positions ---- */

START_TEST(test_entry_names_and_targets)
{
	struct val pk, sk, ipk;
	struct qloc part = {.pk = &pk}, scan = {0}, idx = {.index = "x-index", .pk = &ipk};
	char buf[QUERY_TARGET_MAX];

	ck_assert_int_eq(val_init_str(&pk, "felienne#3", 10), 0);
	ck_assert_int_eq(val_init_str(&sk, "2022-09", 7), 0);
	ck_assert_int_eq(val_init_str(&ipk, "felienne", 8), 0);
	ck_assert_int_ge(query_entry_name(&part, &pk, &sk, buf), 0);
	ck_assert_str_eq(buf, "2022-09.json");
	ck_assert_int_ge(query_entry_name(&scan, &pk, &sk, buf), 0);
	ck_assert_str_eq(buf, "felienne#3~2022-09.json");
	ck_assert_int_ge(query_entry_name(&idx, &pk, &sk, buf), 0);
	ck_assert_str_eq(buf, "felienne#3~2022-09.json");
	ck_assert_int_ge(query_entry_name(&idx, &pk, NULL, buf), 0);
	ck_assert_str_eq(buf, "felienne#3.json");
	ck_assert_int_eq(query_link_target(&pk, &sk, 3, buf), 32);
	ck_assert_str_eq(buf, "../../../felienne#3/2022-09.json");
	ck_assert_int_gt(query_link_target(&pk, NULL, 1, buf), 0);
	ck_assert_str_eq(buf, "../felienne#3.json");
	val_free(&pk);
	val_free(&sk);
	/* escapes: the target names the item as its directory does */
	ck_assert_int_eq(val_init_str(&pk, "a/b~c", 5), 0);
	ck_assert_int_gt(query_link_target(&pk, NULL, 2, buf), 0);
	ck_assert_str_eq(buf, "../../a%2Fb%7Ec.json");
	val_free(&pk);
	val_free(&ipk);
}
END_TEST

START_TEST(test_qpos_roundtrip)
{
	struct qpos a, b;
	struct val packed;

	qpos_init(&a);
	a.count = 42;
	ck_assert_int_eq(val_init_str(&a.pk, "p", 1), 0);
	ck_assert_int_eq(val_init_str(&a.isk, "i", 1), 0);
	ck_assert_int_eq(qpos_pack(&a, &packed), 0);
	ck_assert_int_eq(qpos_unpack(&packed, &b), 0);
	ck_assert_uint_eq(b.count, 42);
	is_s(&b.pk, "p");
	is_s(&b.isk, "i");
	ck_assert_int_eq(b.sk.type, VAL_NULL);
	qpos_free(&b);
	val_free(&packed);
	ck_assert_int_eq(qpos_unpack(&a.pk, &b), -EINVAL);
	qpos_free(&a);
}
END_TEST

Suite *query_suite(void);

Suite *query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc;

	tc = tcase_create("query_parse");
	tcase_add_checked_fixture(tc, setup_attrs, teardown_q);
	tcase_add_test(tc, test_parse_empty_is_everything);
	tcase_add_test(tc, test_parse_eq_is_both_bounds);
	tcase_add_test(tc, test_parse_each_bound);
	tcase_add_test(tc, test_parse_ge_le_is_between);
	tcase_add_test(tc, test_parse_prefix);
	tcase_add_test(tc, test_parse_filter_compiles);
	tcase_add_test(tc, test_parse_limit);
	tcase_add_test(tc, test_parse_order);
	tcase_add_test(tc, test_parse_as);
	tcase_add_test(tc, test_parse_segment);
	tcase_add_test(tc, test_parse_after);
	tcase_add_test(tc, test_parse_combination);
	tcase_add_test(tc, test_parse_decodes_after_splitting);
	tcase_add_test(tc, test_parse_number_keys);
	tcase_add_test(tc, test_parse_binary_keys);
	tcase_add_test(tc, test_parse_string_keys);
	tcase_add_test(tc, test_query_is_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("query_parse_rejects");
	tcase_add_checked_fixture(tc, setup_attrs, teardown_q);
	tcase_add_test(tc, test_rejects_unknown_and_malformed);
	tcase_add_test(tc, test_rejects_bad_percent_encoding);
	tcase_add_test(tc, test_rejects_two_bounds);
	tcase_add_test(tc, test_rejects_bad_key_values);
	tcase_add_test(tc, test_rejects_limit);
	tcase_add_test(tc, test_rejects_order_as);
	tcase_add_test(tc, test_rejects_segment);
	tcase_add_test(tc, test_rejects_key_conditions_out_of_place);
	tcase_add_test(tc, test_rejects_filter);
	tcase_add_test(tc, test_rejects_after);
	tcase_add_test(tc, test_error_names_the_first_problem);
	suite_add_tcase(s, tc);

	tc = tcase_create("query_pct_decode");
	tcase_add_test(tc, test_pct_decode);
	suite_add_tcase(s, tc);

	tc = tcase_create("query_names");
	tcase_add_test(tc, test_entry_names_and_targets);
	tcase_add_test(tc, test_qpos_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
