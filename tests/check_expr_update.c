/*
 * check_expr_update.c - applying update expressions: DynamoDB's semantics
 * for SET (evaluated against the old item, list indexes past the end,
 * missing intermediates), exact arithmetic at 38 digits, list_append,
 * if_not_exists, REMOVE of list elements by old index, ADD and DELETE on
 * numbers and sets, and expr_update_touches.
 *
 * Every result is checked against the expected item and against the val
 * invariants (val_check), so an update can never produce an empty set, an
 * unsorted map or a duplicate set element.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "item.h"

static struct val json(const char *text)
{
	struct dyn_err err;
	struct val v;

	err_clear(&err);
	ck_assert_msg(item_parse_value(text, strlen(text), &v, &err) == 0, "bad test JSON %s: %s",
		      text, err.msg);
	return v;
}

/* Apply text (values bound from JSON if not NULL) to old (NULL: absent). */
static int apply(const char *old, const char *text, const char *values, struct val *out,
		 struct dyn_err *err)
{
	struct val o, v;
	struct expr_bind b = {NULL, NULL, 0};
	expr_t *e;
	int rc;

	if (values) {
		v = json(values);
		b.values = &v;
	}
	err_clear(err);
	rc = expr_parse_update(text, strlen(text), &b, &e, err);
	ck_assert_msg(rc == 0, "%s: %s", text, err->msg);
	if (values)
		val_free(&v);
	if (old)
		o = json(old);
	rc = expr_apply_update(e, old ? &o : NULL, out, err);
	if (rc)
		ck_assert_int_eq(out->type, VAL_NULL);
	if (old)
		val_free(&o);
	expr_free(e);
	return rc;
}

static void upd(const char *old, const char *text, const char *values, const char *want)
{
	struct dyn_err err;
	struct val out, w = json(want);
	int rc = apply(old, text, values, &out, &err);

	ck_assert_msg(rc == 0, "%s: %s (%s)", text, err.msg, err.path);
	ck_assert_msg(val_equal(&out, &w), "%s: result differs from %s", text, want);
	ck_assert_msg(val_check(&out, &err) == 0, "%s: %s", text, err.msg);
	val_free(&out);
	val_free(&w);
}

#define BADPATH "The document path provided in the update expression is invalid for update"
#define BADTYPE "An operand in the update expression has an incorrect data type"
#define MISSING "The provided expression refers to an attribute that does not exist in the item"

static void upd_fail(const char *old, const char *text, const char *values, const char *msg,
		     const char *path)
{
	struct dyn_err err;
	struct val out;
	int rc = apply(old, text, values, &out, &err);

	ck_assert_msg(rc == -EINVAL, "%s: accepted, expected %s", text, msg);
	ck_assert_msg(strstr(err.msg, msg), "%s:\n got \"%s\"\nwant \"%s\"", text, err.msg, msg);
	if (path)
		ck_assert_str_eq(err.path, path);
}

/* ---- SET ---- */

START_TEST(test_set_basic)
{
	upd(NULL, "SET a = 1", NULL, "{\"a\": 1}");
	upd("{\"a\": 1, \"b\": 2}", "SET a = \"x\", c = [1, {\"d\": null}]", NULL,
	    "{\"a\": \"x\", \"b\": 2, \"c\": [1, {\"d\": null}]}");
	upd("{\"m\": {\"x\": 1, \"y\": {\"z\": 2}}}", "SET m.y = 7, m.w = :v",
	    "{\":v\": {\"$SS\": [\"s\"]}}",
	    "{\"m\": {\"x\": 1, \"y\": 7, \"w\": {\"$SS\": [\"s\"]}}}");
	upd("{\"a\": {\"b\": 3, \"c\": [\"hi\", {\"x\": {\"y\": [3, 5, 7]}}]}}",
	    "SET a.c[1].x.y[1] = 9", NULL,
	    "{\"a\": {\"b\": 3, \"c\": [\"hi\", {\"x\": {\"y\": [3, 9, 7]}}]}}");
	upd("{\"a\": 1}", "SET a = a", NULL, "{\"a\": 1}");
	upd("{\"a\": {}, \"e\": []}", "SET a.b = e, e = a", NULL,
	    "{\"a\": {\"b\": []}, \"e\": {}}");
}
END_TEST

START_TEST(test_set_reads_the_old_item)
{
	upd("{\"a\": 1, \"b\": 2}", "SET a = b, b = a", NULL, "{\"a\": 2, \"b\": 1}");
	upd("{\"a\": \"hello\"}", "REMOVE a SET b = a", NULL, "{\"b\": \"hello\"}");
	upd("{\"a\": \"hello\"}", "SET c = a REMOVE a", NULL, "{\"c\": \"hello\"}");
	upd("{\"n\": 1}", "SET n = n + 1, m = n", NULL, "{\"n\": 2, \"m\": 1}");
	/* x is not in the old item, so y = x fails even though x is being set. */
	upd_fail("{}", "SET x = 4, y = x", NULL, MISSING, "x");
	upd_fail(NULL, "SET c = z", NULL, MISSING, "z");
	upd_fail("{\"a\": 1}", "SET z = z", NULL, MISSING, "z");
}
END_TEST

START_TEST(test_set_invalid_paths)
{
	const char *it = "{\"a\": \"hello\", \"b\": [\"hi\"], \"m\": {\"x\": {}}}";

	upd_fail(it, "SET a.c = 1", NULL, BADPATH, "a.c");
	upd_fail(it, "SET b.c = 1", NULL, BADPATH, "b.c");
	upd_fail(it, "SET c.c = 1", NULL, BADPATH, "c.c");
	upd_fail(it, "SET m.y.z = 1", NULL, BADPATH, "m.y.z");
	upd_fail(it, "SET a[0] = 1", NULL, BADPATH, "a[0]");
	upd_fail(it, "SET m[0] = 1", NULL, BADPATH, "m[0]");
	upd_fail(it, "SET c[0] = 1", NULL, BADPATH, "c[0]");
	upd_fail(it, "SET b[5].x = 1", NULL, BADPATH, "b[5].x");
	upd_fail(NULL, "SET c.c = 1", NULL, BADPATH, "c.c");
	upd(it, "SET m.x.y = 1", NULL,
	    "{\"a\": \"hello\", \"b\": [\"hi\"], \"m\": {\"x\": {\"y\": 1}}}");
}
END_TEST

START_TEST(test_set_list_index)
{
	upd("{\"a\": [\"one\", \"two\", \"three\"]}", "SET a[1] = \"hello\"", NULL,
	    "{\"a\": [\"one\", \"hello\", \"three\"]}");
	upd("{\"a\": [\"one\", \"two\", \"three\"]}", "SET a[7] = \"hello\"", NULL,
	    "{\"a\": [\"one\", \"two\", \"three\", \"hello\"]}");
	/* Several past the end: appended in index order, not text order. */
	upd("{\"a\": [0]}", "SET a[84] = \"a1\", a[37] = \"a2\", a[17] = \"a3\", a[50] = \"a4\"",
	    NULL, "{\"a\": [0, \"a3\", \"a2\", \"a4\", \"a1\"]}");
	upd("{\"a\": []}", "SET a[0] = 1", NULL, "{\"a\": [1]}");
	/* A write to an existing index is not shifted by appends. */
	upd("{\"a\": [0, 1]}", "SET a[5] = 5, a[1] = 9", NULL, "{\"a\": [0, 9, 5]}");
	upd("{\"a\": [[1], [2]]}", "SET a[1][0] = 3, a[0][4] = 4", NULL, "{\"a\": [[1, 4], [3]]}");
}
END_TEST

/* ---- arithmetic ---- */

START_TEST(test_set_arithmetic_exact)
{
	upd("{\"a\": 2}", "SET a = a + 3, b = 1 + a, c = a - 5, d = 7 - a", NULL,
	    "{\"a\": 5, \"b\": 3, \"c\": -3, \"d\": 5}");
	upd("{\"a\": 0.1}", "SET a = a + 0.2", NULL, "{\"a\": 0.3}");
	upd("{\"a\": {\"$N\": \"12345678901234567890.5\"}}", "SET a = a + 0.5", NULL,
	    "{\"a\": {\"$N\": \"12345678901234567891\"}}");
	/* 38 significant digits, exactly. */
	upd("{\"a\": {\"$N\": \"1234567890123456789012345678901234567.8\"}}", "SET a = a + 0.1",
	    NULL, "{\"a\": {\"$N\": \"1234567890123456789012345678901234567.9\"}}");
	upd("{\"a\": {\"$N\": \"99999999999999999999999999999999999999\"}}", "SET a = a + 1", NULL,
	    "{\"a\": {\"$N\": \"100000000000000000000000000000000000000\"}}");
	upd("{\"a\": {\"$N\": \"-1E-130\"}}", "SET a = a + {\"$N\": \"1E-130\"}", NULL,
	    "{\"a\": 0}");
	upd(NULL, "SET a = :x - :y", "{\":x\": 1e125, \":y\": 1e125}", "{\"a\": 0}");
}
END_TEST

START_TEST(test_set_arithmetic_errors)
{
	/* Beyond 38 digits: precision loss, not rounding. */
	upd_fail("{\"a\": {\"$N\": \"12345678901234567890123456789012345678\"}}", "SET a = a + 0.5",
		 NULL, "Number overflow", "a");
	/* Beyond the magnitude range. */
	upd_fail("{\"a\": {\"$N\": \"9.9999999999999999999999999999999999999E+125\"}}",
		 "SET a = a + {\"$N\": \"9E+125\"}", NULL, "Number overflow", "a");
	upd_fail("{\"a\": \"1\"}", "SET a = a + 1", NULL, BADTYPE, "a");
	upd_fail("{\"a\": [1]}", "SET b = 1 - a", NULL, BADTYPE, "a");
	upd_fail("{}", "SET a = a + 1", NULL, MISSING, "a");
	upd_fail(NULL, "SET a = b - 1", NULL, MISSING, "b");
}
END_TEST

/* ---- functions ---- */

START_TEST(test_list_append)
{
	upd("{\"a\": [\"hi\", 2]}", "SET a = list_append(a, [4, \"hello\"])", NULL,
	    "{\"a\": [\"hi\", 2, 4, \"hello\"]}");
	upd("{\"a\": [\"hi\", 2]}", "SET a = list_append([\"dog\"], a)", NULL,
	    "{\"a\": [\"dog\", \"hi\", 2]}");
	upd("{\"a\": [1], \"b\": [2, [3]]}", "SET c = list_append(a, b)", NULL,
	    "{\"a\": [1], \"b\": [2, [3]], \"c\": [1, 2, [3]]}");
	upd("{\"a\": []}", "SET a = list_append(a, :e), b = list_append(:e, :e)", "{\":e\": []}",
	    "{\"a\": [], \"b\": []}");
	upd(NULL, "SET a = list_append(if_not_exists(a, []), [1])", NULL, "{\"a\": [1]}");
	upd_fail("{}", "SET a = list_append(b, [1])", NULL, MISSING, "b");
	upd_fail("{\"b\": {\"$SS\": [\"x\"]}}", "SET a = list_append([1], b)", NULL, BADTYPE, "b");
	upd_fail("{\"b\": {}}", "SET a = list_append(b, [1])", NULL, BADTYPE, "b");
}
END_TEST

START_TEST(test_if_not_exists)
{
	upd(NULL, "SET a = if_not_exists(a, 2)", NULL, "{\"a\": 2}");
	upd("{\"a\": 1}", "SET a = if_not_exists(a, 2)", NULL, "{\"a\": 1}");
	upd("{\"a\": 1}", "SET b = if_not_exists(c, 4), d = if_not_exists(a, 5)", NULL,
	    "{\"a\": 1, \"b\": 4, \"d\": 1}");
	upd("{\"m\": {\"n\": 7}}",
	    "SET x = if_not_exists(m.n, 0) + 1, y = if_not_exists(m.z, 0) + 1", NULL,
	    "{\"m\": {\"n\": 7}, \"x\": 8, \"y\": 1}");
	upd(NULL, "SET a = if_not_exists(b, if_not_exists(c, 3))", NULL, "{\"a\": 3}");
	upd_fail(NULL, "SET a = if_not_exists(b, c)", NULL, MISSING, "c");
}
END_TEST

/* ---- REMOVE ---- */

START_TEST(test_remove)
{
	upd("{\"a\": 1, \"b\": 2}", "REMOVE a", NULL, "{\"b\": 2}");
	upd("{\"a\": {\"b\": 1}}", "REMOVE a.b", NULL, "{\"a\": {}}");
	upd("{\"a\": [1]}", "REMOVE a[0]", NULL, "{\"a\": []}");
	upd("{\"a\": {\"b\": 3, \"c\": [\"hi\", {\"x\": {\"y\": [3, 5, 7]}, \"q\": 2}]}}",
	    "REMOVE a.c[1].x.y[1], a.c[1].q", NULL,
	    "{\"a\": {\"b\": 3, \"c\": [\"hi\", {\"x\": {\"y\": [3, 7]}}]}}");
	/* Missing leaves are ignored. */
	upd("{\"a\": {\"x\": 3}, \"b\": [\"hi\"]}", "REMOVE a.y, b[7], c", NULL,
	    "{\"a\": {\"x\": 3}, \"b\": [\"hi\"]}");
	/* A missing or wrong parent is an error... */
	upd_fail("{\"a\": \"hello\", \"b\": [\"hi\"]}", "REMOVE a.c", NULL, BADPATH, "a.c");
	upd_fail("{\"a\": \"hello\"}", "REMOVE c.c", NULL, BADPATH, "c.c");
	upd_fail("{\"a\": \"hello\"}", "REMOVE a[0]", NULL, BADPATH, "a[0]");
	/* ...except when the whole item is absent. */
	upd(NULL, "REMOVE x.y, z[0]", NULL, "{}");
}
END_TEST

START_TEST(test_remove_list_indexes_refer_to_the_old_list)
{
	upd("{\"a\": [0, 1, 2, 3, 4, 5]}", "REMOVE a[1], a[3]", NULL, "{\"a\": [0, 2, 4, 5]}");
	upd("{\"a\": [0, 1, 2, 3, 4, 5]}", "REMOVE a[3], a[1], a[5], a[0]", NULL,
	    "{\"a\": [2, 4]}");
	upd("{\"a\": [2, 3, 4, 5, 6, 7]}", "REMOVE a[1] SET a[3] = 17", NULL,
	    "{\"a\": [2, 4, 17, 6, 7]}");
	upd("{\"a\": [2, 3, 4, 5, 6, 7]}", "SET a[3] = 17 REMOVE a[1]", NULL,
	    "{\"a\": [2, 4, 17, 6, 7]}");
	/* A removal inside a later element happens before the earlier removal shifts it. */
	upd("{\"a\": [0, 1, 2, [30, 31], {\"k\": 1, \"j\": 2}]}", "REMOVE a[1], a[3][0], a[4].k",
	    NULL, "{\"a\": [0, 2, [31], {\"j\": 2}]}");
	upd("{\"a\": [0, 1], \"b\": [0, 1, 2]}", "REMOVE a[0], b[2], b[0]", NULL,
	    "{\"a\": [1], \"b\": [1]}");
}
END_TEST

/*
 * Issue 17: every action sees the old item, so a REMOVE of an index past
 * the old list's end is a no-op even when a SET or ADD appended an element
 * at that position; each combination of SET/ADD/DELETE appends with
 * REMOVE of old, appended and absent positions.
 */
START_TEST(test_remove_never_drops_what_this_update_appended)
{
	const char *pqr = "{\"a\": [\"p\", \"q\", \"r\"]}";
	const char *y = "{\":y\": \"y\"}", *yz = "{\":y\": \"y\", \":z\": \"z\"}";

	upd(pqr, "SET a[10] = :y REMOVE a[3]", y, "{\"a\": [\"p\", \"q\", \"r\", \"y\"]}");
	upd(pqr, "REMOVE a[3] SET a[10] = :y", y, "{\"a\": [\"p\", \"q\", \"r\", \"y\"]}");
	upd(pqr, "SET a[10] = :y REMOVE a[4], a[3]", y,
	    "{\"a\": [\"p\", \"q\", \"r\", \"y\"]}");
	upd(pqr, "SET a[5] = :y, a[6] = :z REMOVE a[3], a[4]", yz,
	    "{\"a\": [\"p\", \"q\", \"r\", \"y\", \"z\"]}");
	upd(pqr, "SET a[10] = :y REMOVE a[2]", y, "{\"a\": [\"p\", \"q\", \"y\"]}");
	upd(pqr, "SET a[10] = :y REMOVE a[0]", y, "{\"a\": [\"q\", \"r\", \"y\"]}");
	upd(pqr, "SET a[10] = :y REMOVE a[0], a[1], a[2]", y, "{\"a\": [\"y\"]}");
	upd(pqr, "SET a[10] = :y, a[11] = :z REMOVE a[1], a[3]", yz,
	    "{\"a\": [\"p\", \"r\", \"y\", \"z\"]}");
	upd(pqr, "SET a[1] = :y REMOVE a[0], a[2], a[3]", y, "{\"a\": [\"y\"]}");
	upd(pqr, "SET a[4] = a[0] REMOVE a[0], a[3]", NULL,
	    "{\"a\": [\"q\", \"r\", \"p\"]}");
	upd(pqr, "SET a[3] = list_append(a, :l) REMOVE a[4]", "{\":l\": [\"s\"]}",
	    "{\"a\": [\"p\", \"q\", \"r\", [\"p\", \"q\", \"r\", \"s\"]]}");
	/* ADD past the end appends too */
	upd("{\"l\": [5]}", "ADD l[3] 1 REMOVE l[1]", NULL, "{\"l\": [5, 1]}");
	upd("{\"l\": [5, 6]}", "ADD l[3] 1, l[0] 1 REMOVE l[1], l[2]", NULL,
	    "{\"l\": [6, 1]}");
	upd("{\"l\": [5]}", "ADD l[2] {\"$SS\": [\"x\"]} REMOVE l[1], l[0]", NULL,
	    "{\"l\": [{\"$SS\": [\"x\"]}]}");
	/* DELETE emptying a set, an append and removals of old and new positions */
	upd("{\"l\": [{\"$SS\": [\"x\"]}, 1]}",
	    "DELETE l[0] {\"$SS\": [\"x\"]} SET l[5] = :y REMOVE l[1], l[2]", y,
	    "{\"l\": [\"y\"]}");
	upd("{\"l\": [1, {\"$SS\": [\"x\", \"w\"]}]}",
	    "DELETE l[1] {\"$SS\": [\"x\"]} SET l[3] = :y REMOVE l[2], l[0]", y,
	    "{\"l\": [{\"$SS\": [\"w\"]}, \"y\"]}");
	/* nested lists */
	upd("{\"m\": {\"l\": [1, 2]}}", "SET m.l[7] = 9 REMOVE m.l[2]", NULL,
	    "{\"m\": {\"l\": [1, 2, 9]}}");
	upd("{\"m\": [[1, 2], [3]]}", "SET m[0][5] = 9, m[1][0] = 4 REMOVE m[0][2], m[1][1]",
	    NULL, "{\"m\": [[1, 2, 9], [4]]}");
	/* a path through an element the old item does not have is invalid */
	upd_fail(pqr, "SET a[10] = :l REMOVE a[3][0]", "{\":l\": [1]}", BADPATH, "a[3][0]");
	upd_fail("{\"m\": [[1]]}", "SET m[2] = :l REMOVE m[1][0]", "{\":l\": [1]}", BADPATH,
		 "m[1][0]");
}
END_TEST

/* ---- ADD ---- */

START_TEST(test_add_numbers)
{
	upd("{\"a\": 3}", "ADD a 4", NULL, "{\"a\": 7}");
	upd("{\"a\": \"hello\"}", "ADD b :v", "{\":v\": 7}", "{\"a\": \"hello\", \"b\": 7}");
	upd(NULL, "ADD b 8", NULL, "{\"b\": 8}");
	upd("{\"a\": 0.1}", "ADD a -0.1", NULL, "{\"a\": 0}");
	upd("{\"m\": {\"c\": 1}, \"l\": [5]}", "ADD m.c 1, m.d 2, l[0] 1, l[3] 1", NULL,
	    "{\"m\": {\"c\": 2, \"d\": 2}, \"l\": [6, 1]}");
	upd_fail("{\"a\": \"hi\"}", "ADD a 1", NULL, BADTYPE, "a");
	upd_fail("{\"a\": {\"$NS\": [1]}}", "ADD a 1", NULL, BADTYPE, "a");
	upd_fail("{}", "ADD m.c 1", NULL, BADPATH, "m.c");
	upd_fail("{\"a\": {\"$N\": \"9.9999999999999999999999999999999999999E+125\"}}",
		 "ADD a {\"$N\": \"1E+125\"}", NULL, "Number overflow", "a");
}
END_TEST

START_TEST(test_add_sets)
{
	upd("{\"a\": {\"$SS\": [\"dog\", \"cat\", \"mouse\"]}}", "ADD a :v",
	    "{\":v\": {\"$SS\": [\"pig\"]}}",
	    "{\"a\": {\"$SS\": [\"cat\", \"dog\", \"mouse\", \"pig\"]}}");
	upd("{\"a\": {\"$SS\": [\"beaver\", \"lynx\", \"coati\"]}}",
	    "ADD a {\"$SS\": [\"coati\", \"beaver\", \"badger\"]}", NULL,
	    "{\"a\": {\"$SS\": [\"badger\", \"beaver\", \"coati\", \"lynx\"]}}");
	upd("{\"a\": {\"$NS\": [1, 2.5]}}", "ADD a {\"$NS\": [2.50, 10, -1]}", NULL,
	    "{\"a\": {\"$NS\": [-1, 1, 2.5, 10]}}");
	upd("{\"a\": {\"$BS\": [\"AQ==\"]}}", "ADD a {\"$BS\": [\"AQ==\", \"AA==\"]}", NULL,
	    "{\"a\": {\"$BS\": [\"AA==\", \"AQ==\"]}}");
	upd(NULL, "ADD b {\"$SS\": [\"cat\"]}", NULL, "{\"b\": {\"$SS\": [\"cat\"]}}");
	upd_fail("{\"a\": {\"$SS\": [\"x\"]}}", "ADD a {\"$NS\": [1]}", NULL, BADTYPE, "a");
	upd_fail("{\"a\": [1, 2]}", "ADD a {\"$NS\": [3]}", NULL, BADTYPE, "a");
	upd_fail("{\"a\": 1}", "ADD a {\"$NS\": [3]}", NULL, BADTYPE, "a");
}
END_TEST

/* ---- DELETE ---- */

START_TEST(test_delete_sets)
{
	const char *it = "{\"a\": {\"$SS\": [\"dog\", \"cat\", \"mouse\"]}, \"b\": \"hi\"}";

	upd(it, "DELETE a {\"$SS\": [\"cat\", \"mouse\"]}", NULL,
	    "{\"a\": {\"$SS\": [\"dog\"]}, \"b\": \"hi\"}");
	upd(it, "DELETE a {\"$SS\": [\"pig\"]}", NULL, it);
	/* Deleting the last elements removes the attribute. */
	upd(it, "DELETE a {\"$SS\": [\"dog\", \"cat\", \"mouse\", \"pig\"]}", NULL,
	    "{\"b\": \"hi\"}");
	upd("{\"b\": \"hi\"}", "DELETE a {\"$SS\": [\"dog\"]}", NULL, "{\"b\": \"hi\"}");
	upd(NULL, "DELETE a {\"$SS\": [\"dog\"]}", NULL, "{}");
	upd("{\"n\": {\"$NS\": [1, 2.5, 3]}}", "DELETE n {\"$NS\": [2.50, 3e0]}", NULL,
	    "{\"n\": {\"$NS\": [1]}}");
	upd("{\"m\": {\"s\": {\"$BS\": [\"AQ==\"]}, \"k\": 1}}", "DELETE m.s {\"$BS\": [\"AQ==\"]}",
	    NULL, "{\"m\": {\"k\": 1}}");
	/* An emptied set inside a list goes, after the other list work. */
	upd("{\"l\": [{\"$SS\": [\"x\"]}, 1, {\"$SS\": [\"y\", \"z\"]}]}",
	    "DELETE l[0] {\"$SS\": [\"x\"]} SET l[1] = 2 REMOVE l[2]", NULL, "{\"l\": [2]}");
	upd_fail(it, "DELETE a {\"$NS\": [1]}", NULL, BADTYPE, "a");
	upd_fail(it, "DELETE b {\"$SS\": [\"hi\"]}", NULL, BADTYPE, "b");
	upd_fail(it, "DELETE c.d {\"$SS\": [\"hi\"]}", NULL, BADPATH, "c.d");
}
END_TEST

/* ---- all together ---- */

START_TEST(test_all_clauses)
{
	upd("{\"id\": \"u1\", \"visits\": 4, \"tags\": {\"$SS\": [\"a\", \"b\"]}, \"old\": 1, "
	    "\"hist\": [1]}",
	    "REMOVE old ADD visits :one, tags {\"$SS\": [\"c\"]} "
	    "DELETE tags2 {\"$SS\": [\"z\"]} SET hist = list_append(hist, [4]), seen = true",
	    "{\":one\": 1}",
	    "{\"id\": \"u1\", \"visits\": 5, \"tags\": {\"$SS\": [\"a\", \"b\", \"c\"]}, "
	    "\"hist\": [1, 4], \"seen\": true}");
}
END_TEST

START_TEST(test_apply_rejects_other_kinds)
{
	struct dyn_err err;
	struct val out;
	expr_t *e;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition("a = 1", 5, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_apply_update(e, NULL, &out, &err), -EINVAL);
	ck_assert_int_eq(out.type, VAL_NULL);
	expr_free(e);
}
END_TEST

START_TEST(test_update_touches)
{
	struct dyn_err err;
	struct val names = json("{\"#k\": \"id\"}");
	struct expr_bind b = {&names, NULL, 0};
	expr_t *e;
	bool t;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_update("SET a.b = 1 REMOVE c[2] ADD #k 1", 32, &b, &e, &err),
			 0);
	ck_assert_int_eq(expr_update_touches(e, "a", &t), 0);
	ck_assert(t);
	ck_assert_int_eq(expr_update_touches(e, "c", &t), 0);
	ck_assert(t);
	ck_assert_int_eq(expr_update_touches(e, "id", &t), 0);
	ck_assert(t);
	ck_assert_int_eq(expr_update_touches(e, "b", &t), 0);
	ck_assert(!t);
	ck_assert_int_eq(expr_update_touches(e, "", &t), 0);
	ck_assert(!t);
	expr_free(e);
	ck_assert_int_eq(expr_parse_condition("id = 1", 6, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_update_touches(e, "id", &t), -EINVAL);
	expr_free(e);
	val_free(&names);
}
END_TEST

/* SET #a0 = :v0, ... for n attributes, plus an optional last action. */
static char *big_update(size_t n, const char *extra, struct val *names, struct val *values)
{
	char *t = malloc(n * 24 + 64);
	size_t len = (size_t)sprintf(t, "SET ");

	val_init_map(names);
	val_init_map(values);
	for (size_t i = 0; i < n; i++) {
		char key[32], attr[32];
		struct val v;
		struct num num;

		len += (size_t)sprintf(t + len, "%s#a%zu = :v%zu", i ? ", " : "", i, i);
		sprintf(attr, "attr-%zu", i);
		ck_assert_int_eq(val_init_str(&v, attr, strlen(attr)), 0);
		sprintf(key, "#a%zu", i);
		ck_assert_int_eq(val_map_set(names, key, strlen(key), &v), 0);
		num_from_int64(&num, (int64_t)i);
		val_init_num(&v, &num);
		sprintf(key, ":v%zu", i);
		ck_assert_int_eq(val_map_set(values, key, strlen(key), &v), 0);
	}
	strcpy(t + len, extra);
	return t;
}

START_TEST(test_unlimited_generated_update)
{
	struct val names, values, out;
	struct expr_bind b = {&names, &values, 0};
	struct dyn_err err;
	expr_t *e;
	char *t = big_update(3000, "", &names, &values);

	err_clear(&err);
	ck_assert_int_eq(expr_parse_update(t, strlen(t), &b, &e, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "Expression size has exceeded the maximum"));
	b.flags = EXPR_UNLIMITED;
	err_clear(&err);
	ck_assert_int_eq(expr_parse_update(t, strlen(t), &b, &e, &err), 0);
	ck_assert_int_eq(expr_apply_update(e, NULL, &out, &err), 0);
	ck_assert_uint_eq(out.m.len, 3000);
	ck_assert_int_eq(val_check(&out, &err), 0);
	val_free(&out);
	expr_free(e);
	free(t);
	val_free(&names);
	val_free(&values);

	/* One overlap among thousands of paths is still found, at the later path. */
	t = big_update(3000, " REMOVE `attr-1500`.x", &names, &values);
	b.names = &names;
	b.values = &values;
	err_clear(&err);
	ck_assert_int_eq(expr_parse_update(t, strlen(t), &b, &e, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "Invalid UpdateExpression: Two document paths overlap with each "
				  "other; must remove or rewrite one of these paths; path one: "
				  "[attr-1500], path two: [attr-1500, x]");
	ck_assert_int_eq(err.col, (int)(strstr(t, "`attr-1500`.x") - t) + 1);
	free(t);
	val_free(&names);
	val_free(&values);
}
END_TEST


/* ---- expr_project_updated (ReturnValues UPDATED_OLD / UPDATED_NEW) ---- */

/* The paths of update text projected from item (NULL: absent) equal want. */
static void updated(const char *item, const char *text, const char *want)
{
	struct expr_bind b = {NULL, NULL, 0};
	struct dyn_err err;
	struct val it, out, w = json(want);
	expr_t *e;

	err_clear(&err);
	ck_assert_msg(expr_parse_update(text, strlen(text), &b, &e, &err) == 0, "%s: %s", text,
		      err.msg);
	if (item)
		it = json(item);
	ck_assert_int_eq(expr_project_updated(e, item ? &it : NULL, &out, &err), 0);
	ck_assert_msg(val_equal(&out, &w), "%s on %s: not %s", text, item ? item : "nothing", want);
	if (item)
		val_free(&it);
	val_free(&out);
	val_free(&w);
	expr_free(e);
}

START_TEST(test_project_updated_nested_parts)
{
	static const char *const item = "{\"a\": {\"b\": 1, \"n\": 2, \"keep\": \"k\"}, "
					"\"l\": [0, 1, 2], \"top\": \"t\"}";
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"SET a.b = 9", "{\"a\": {\"b\": 1}}"},
		{"SET a.c = 9", "{}"},
		{"SET l[1] = 9, l[2] = 8", "{\"l\": [1, 2]}"},
		{"REMOVE a.b, top", "{\"a\": {\"b\": 1}, \"top\": \"t\"}"},
		{"SET x = 1 REMOVE nothere", "{}"},
		{"SET top = 1, a.n = 3, a.b = 2", "{\"a\": {\"b\": 1, \"n\": 2}, \"top\": \"t\"}"},
		{"SET a = 1", "{\"a\": {\"b\": 1, \"n\": 2, \"keep\": \"k\"}}"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		updated(item, cases[i].text, cases[i].want);
	updated(NULL, "SET a.b = 9", "{}");
}
END_TEST

START_TEST(test_project_updated_rejects_other_kinds)
{
	struct expr_bind b = {NULL, NULL, 0};
	struct dyn_err err;
	struct val out;
	expr_t *e;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_projection("a", 1, &b, &e, &err), 0);
	ck_assert_int_eq(expr_project_updated(e, NULL, &out, &err), -EINVAL);
	ck_assert_int_eq(out.type, VAL_M);
	val_free(&out);
	expr_free(e);
}
END_TEST

Suite *expr_update_suite(void);
Suite *expr_update_suite(void)
{
	Suite *s = suite_create("expr_update");
	TCase *tc;

	tc = tcase_create("expr_apply_update");
	tcase_add_test(tc, test_set_basic);
	tcase_add_test(tc, test_set_reads_the_old_item);
	tcase_add_test(tc, test_set_invalid_paths);
	tcase_add_test(tc, test_set_list_index);
	tcase_add_test(tc, test_set_arithmetic_exact);
	tcase_add_test(tc, test_set_arithmetic_errors);
	tcase_add_test(tc, test_list_append);
	tcase_add_test(tc, test_if_not_exists);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_remove_list_indexes_refer_to_the_old_list);
	tcase_add_test(tc, test_remove_never_drops_what_this_update_appended);
	tcase_add_test(tc, test_add_numbers);
	tcase_add_test(tc, test_add_sets);
	tcase_add_test(tc, test_delete_sets);
	tcase_add_test(tc, test_all_clauses);
	tcase_add_test(tc, test_apply_rejects_other_kinds);
	tcase_add_test(tc, test_unlimited_generated_update);
	suite_add_tcase(s, tc);

	tc = tcase_create("expr_update_touches");
	tcase_add_test(tc, test_update_touches);
	suite_add_tcase(s, tc);

	tc = tcase_create("expr_project_updated");
	tcase_add_test(tc, test_project_updated_nested_parts);
	tcase_add_test(tc, test_project_updated_rejects_other_kinds);
	suite_add_tcase(s, tc);
	return s;
}
