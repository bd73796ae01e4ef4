/*
 * check_query.c - `_query?` parameters (fs/query.c): every parameter,
 * every rejection and its message, percent-decoding, combinations, key
 * value conversion for S, N and B sort keys; and the runner on a real
 * engine table: limits and after= across pages, positions that resume a
 * walk exactly, index partitions resumed after their item changed,
 * projection, the as= texts.
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

/* ---- parser fixtures ---- */

static struct key_attr ska_s, ska_n, ska_b, tpk, tsk_s;

static void attr_set(struct key_attr *a, const char *name, enum val_type t)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = t;
}

static void setup_attrs(void)
{
	attr_set(&ska_s, "week", VAL_S);
	attr_set(&ska_n, "score", VAL_N);
	attr_set(&ska_b, "blob", VAL_B);
	attr_set(&tpk, "id#level", VAL_S);
	attr_set(&tsk_s, "week", VAL_S);
}

/* In a base partition of quiz-stats (sort key week S). */
static struct qwhere in_part(const struct key_attr *sk)
{
	struct qwhere w = {.base_part = true, .sk = sk, .tpk = &tpk, .tsk = sk};

	return w;
}

/* At table level (a scan). */
static struct qwhere at_table(void)
{
	struct qwhere w = {.scan = true, .tpk = &tpk, .tsk = &tsk_s};

	return w;
}

/* In a partition of an index (sort key sk, NULL: none). */
static struct qwhere in_index(const struct key_attr *sk)
{
	struct qwhere w = {.sk = sk, .tpk = &tpk, .tsk = &tsk_s, .index = "email-index"};

	return w;
}

static struct qspec q;

static void teardown_q(void)
{
	query_free(&q);
}

static int parse(const char *text, struct qwhere w)
{
	query_free(&q);
	return query_parse(text, strlen(text), &w, &q, NULL);
}

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

static void is_s(const struct val *v, const char *s)
{
	ck_assert_int_eq(v->type, VAL_S);
	ck_assert_uint_eq(v->s.len, strlen(s));
	ck_assert_mem_eq(v->s.p, s, strlen(s));
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
