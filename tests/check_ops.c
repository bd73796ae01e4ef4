/*
 * check_ops.c - write requests (ops.h): the `_batch` line grammar and
 * envelope rule, UpdateItem / conditional put / conditional delete
 * through db_apply, `_batch` sessions (order, bad lines, lines split
 * across writes, grouping), and /_tx transactions.
 *
 * The fixture has two tables, as in the design notes:
 *   users       username S, no sort key; index email-index (email S, ALL)
 *   quiz-stats  "id#level" S / week S
 * and the teardown proves every table and index consistent
 * (db_check_integrity) whatever the test did.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "expr.h"
#include "item.h"
#include "ops.h"
#include "opsint.h"

static db_t *db;
static table_t *tu; /* users */
static table_t *tq; /* quiz-stats */

/* ---- helpers ---- */

static void attr_set(struct key_attr *a, const char *name, enum val_type t)
{
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = t;
}

static void setup(void)
{
	struct table_schema s;
	struct index_def idx;

	ck_assert_int_eq(db_new(&db), 0);
	memset(&s, 0, sizeof(s));
	memset(&idx, 0, sizeof(idx));
	attr_set(&s.pk, "username", VAL_S);
	snprintf(idx.name, sizeof(idx.name), "email-index");
	attr_set(&idx.pk, "email", VAL_S);
	idx.proj = PROJ_ALL;
	s.index = &idx;
	s.nindex = 1;
	ck_assert_int_eq(db_create_table(db, "users", &s, NULL), 0);
	memset(&s, 0, sizeof(s));
	attr_set(&s.pk, "id#level", VAL_S);
	attr_set(&s.sk, "week", VAL_S);
	s.has_sk = true;
	ck_assert_int_eq(db_create_table(db, "quiz-stats", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "users", &tu), 0);
	ck_assert_int_eq(db_table_open(db, "quiz-stats", &tq), 0);
}

static void teardown(void)
{
	char *why = NULL;
	int rc = db_check_integrity(db, &why);

	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
	free(why);
	tbl_close(tu);
	tbl_close(tq);
	db_free(db);
}

static void parse_json(const char *text, struct val *out)
{
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(item_parse_value(text, strlen(text), out, &err) == 0, "bad test JSON %s: %s",
		      text, err.msg);
}

static struct val S(const char *s)
{
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, strlen(s)), 0);
	return v;
}

/* Compact JSON of users/<name> (static buffer), or "-" if absent. */
static const char *user(const char *name)
{
	static char buf[8192];
	struct val pk = S(name), item;
	char *text;
	size_t len;
	int rc = tbl_get(tu, &pk, NULL, &item, NULL);

	val_free(&pk);
	if (rc == -ENOENT)
		return "-";
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(item_render_compact(&item, "username", NULL, &text, &len), 0);
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	val_free(&item);
	return buf;
}

static const char *quiz(const char *id, const char *week)
{
	static char buf[8192];
	struct val pk = S(id), sk = S(week), item;
	char *text;
	size_t len;
	int rc = tbl_get(tq, &pk, &sk, &item, NULL);

	val_free(&pk);
	val_free(&sk);
	if (rc == -ENOENT)
		return "-";
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(item_render_compact(&item, "id#level", "week", &text, &len), 0);
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	val_free(&item);
	return buf;
}

static void put_user(const char *json)
{
	struct val item;

	parse_json(json, &item);
	ck_assert_int_eq(tbl_put(tu, &item, 0, NULL), 0);
	val_free(&item);
}

static size_t count_items(table_t *t)
{
	struct tbl_stats st;

	tbl_stats(t, &st);
	return (size_t)st.items;
}

/* ops_line_parse_arena ends as ops_line_parse did (rc, message), with
 * the same request, bare items in the arena and nothing else there. */
static void line_err_arena(table_t *t, const char *text, int want_rc, const char *want_msg)
{
	struct item_arena *ar = item_arena_new();
	struct ops_req r, r2;
	struct ops_write op;
	struct ops_sink sink;
	struct dyn_err err;
	char msg[1024] = "";
	int rc;

	ck_assert_ptr_nonnull(ar);
	err_clear(&err);
	ops_sink_db(NULL, &sink);
	rc = ops_line_parse_arena(text, strlen(text), ar, &r, &err);
	ck_assert_int_eq(rc == 1, want_rc == 1);
	if (rc == 0) {
		ck_assert_int_eq(ops_line_parse(text, strlen(text), &r2, NULL), 0);
		ck_assert_int_eq(r.kind, r2.kind);
		ck_assert(val_equal(&r.v, &r2.v));
		ck_assert(!r.arena || r.kind == OPS_PUT);
		ck_assert_int_eq(r.parsed, r2.parsed);
		ops_req_free(&r2);
		rc = ops_req_bind(&r, &sink, t, &op, &err);
		ops_req_free(&r);
	}
	if (rc < 0)
		err_format(&err, msg, sizeof(msg));
	if (rc != 1) {
		ck_assert_int_eq(rc, want_rc);
		ck_assert_str_eq(msg, want_msg);
	}
	item_arena_free(ar);
}

/* Parse one line and bind it to t: the error message or "" on success. */
static const char *line_err(table_t *t, const char *text)
{
	static char msg[1024];
	struct ops_req r;
	struct ops_write op;
	struct ops_sink sink;
	struct dyn_err err;
	int rc;

	err_clear(&err);
	ops_sink_db(NULL, &sink); /* binding needs only the table */
	rc = ops_line_parse(text, strlen(text), &r, &err);
	if (rc == 0) {
		rc = ops_req_bind(&r, &sink, t, &op, &err);
		ops_req_free(&r);
	}
	if (rc == 1)
		return "(blank)";
	if (rc == 0)
		msg[0] = 0;
	else {
		ck_assert_int_eq(rc, -err.code);
		err_format(&err, msg, sizeof(msg));
	}
	line_err_arena(t, text, rc, msg);
	return msg;
}

#define ck_assert_contains(hay, needle)                                                  \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", \
		      (hay), (needle))

/* A batch session that records its reports. */
struct rec_reports {
	char text[16384]; /* "line: code: msg\n" ... */
	size_t n;	  /* reports */
};

static void record(void *ctx, uint64_t line, int code, const char *msg)
{
	struct rec_reports *r = ctx;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%llu %d %s\n", (unsigned long long)line,
		 code, msg);
	r->n++;
}

static struct rec_reports reps;

static ops_batch_t *batch(table_t *t)
{
	ops_batch_t *b;

	memset(&reps, 0, sizeof(reps));
	ck_assert_int_eq(ops_batch_new(db, t, record, &reps, &b), 0);
	return b;
}

static int feed(ops_batch_t *b, const char *text)
{
	return ops_batch_feed(b, text, strlen(text));
}

static const char *summary(ops_batch_t *b)
{
	static char buf[16384];
	char *s;
	size_t len;

	ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
	ck_assert_uint_eq(strlen(s), len);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

/* Run a whole batch text in one feed plus finish; returns feed|finish. */
static int run_batch(table_t *t, const char *text)
{
	ops_batch_t *b = batch(t);
	int rc = feed(b, text), rc2 = ops_batch_finish(b);

	ops_batch_free(b);
	return rc ? rc : rc2;
}

/* ---- the line grammar ---- */

START_TEST(test_line_bare_object_is_a_put)
{
	ck_assert_int_eq(run_batch(tu, "{\"username\": \"hedy\", \"level\": 3}\n"), 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"level\":3}");
}
END_TEST

START_TEST(test_line_put_envelope_with_condition)
{
	ck_assert_int_eq(run_batch(tu, "{\"put\": {\"username\": \"hedy\", \"n\": 1}, \"if\": "
				       "\"attribute_not_exists(username)\"}\n"),
			 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"n\":1}");
	ck_assert_int_eq(run_batch(tu, "{\"put\": {\"username\": \"hedy\", \"n\": 2}, \"if\": "
				       "\"attribute_not_exists(username)\"}\n"),
			 -EINVAL);
	ck_assert_contains(reps.text, "1 125 condition failed: attribute_not_exists(username)");
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"n\":1}");
}
END_TEST

START_TEST(test_line_item_with_envelope_names_needs_wrapping)
{
	/* "id" is not in the vocabulary: an item that has a "put" attribute */
	ck_assert_int_eq(run_batch(tu, "{\"username\": \"a\", \"put\": 1, \"if\": \"x\"}\n"), 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\",\"if\":\"x\",\"put\":1}");
	/* an item whose attributes are all vocabulary names is an envelope... */
	ck_assert_str_eq(line_err(tu, "{\"put\": 1, \"table\": \"users\"}"),
			 "\"put\" needs an object (the item)");
	/* ...and is written wrapped */
	ck_assert_str_eq(line_err(tu, "{\"put\": {\"put\": 1, \"username\": \"b\"}}"), "");
}
END_TEST

START_TEST(test_line_blank_lines_are_skipped)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;

	ck_assert_int_eq(feed(b, "\n  \t\r\n{\"username\": \"x\"}\r\n\n"), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.lines, 4);
	ck_assert_uint_eq(st.applied, 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_str_eq(line_err(tu, "   "), "(blank)");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_line_delete_forms)
{
	put_user("{\"username\": \"a\", \"n\": 1}");
	put_user("{\"username\": \"b\", \"n\": 2}");
	ck_assert_int_eq(run_batch(tu, "{\"delete\": {\"username\": \"a\"}}\n"
				       "{\"delete\": {\"username\": \"nobody\"}}\n"),
			 0);
	ck_assert_str_eq(user("a"), "-");
	ck_assert_int_eq(run_batch(tu, "{\"delete\": {\"username\": \"b\"}, \"if\": \"n = :v\", "
				       "\"values\": {\":v\": 3}}\n"),
			 -EINVAL);
	ck_assert_str_eq(user("b"), "{\"username\":\"b\",\"n\":2}");
	ck_assert_int_eq(run_batch(tu, "{\"delete\": {\"username\": \"b\"}, \"if\": \"n = 2\"}\n"),
			 0);
	ck_assert_str_eq(user("b"), "-");
	/* DynamoDB: a condition on an absent item sees every attribute missing */
	ck_assert_int_eq(
	    run_batch(tu, "{\"delete\": {\"username\": \"b\"}, \"if\": \"attribute_exists(n)\"}\n"),
	    -EINVAL);
}
END_TEST

START_TEST(test_line_update_sugar_forms)
{
	put_user("{\"username\": \"hedy\", \"old\": true, \"tags\": {\"$SS\": [\"a\", \"b\"]}, "
		 "\"visits\": 4}");
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"set\": "
				       "{\"email\": \"h@hedy.org\", \"a.b\": [1, 2]}, \"add\": "
				       "{\"visits\": 1, \"roles\": {\"$SS\": [\"admin\"]}}, "
				       "\"remove\": [\"old\"], \"delete_from\": {\"tags\": "
				       "{\"$SS\": [\"a\"]}}}\n"),
			 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"a.b\":[1,2],\"email\":"
				       "\"h@hedy.org\",\"roles\":{\"$SS\":[\"admin\"]},\"tags\":"
				       "{\"$SS\":[\"b\"]},\"visits\":5}");
	/* deleting the last element removes the attribute */
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"delete_from\": "
				       "{\"tags\": {\"$SS\": [\"b\"]}}}\n"),
			 0);
	ck_assert_ptr_null(strstr(user("hedy"), "tags"));
}
END_TEST

START_TEST(test_line_update_expression_form)
{
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"expr\": "
				       "\"ADD visits :one SET #n = :name\", \"values\": {\":one\": "
				       "1, \":name\": \"Hedy\"}, \"names\": {\"#n\": \"name\"}}\n"),
			 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"name\":\"Hedy\",\"visits\":1}");
	/* inline literals, and a condition sharing the bindings */
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"expr\": \"SET "
				       "visits = visits + :one\", \"if\": \"visits < :one + 0\", "
				       "\"values\": {\":one\": 1}}\n"),
			 -EINVAL); /* '+' is not allowed in a condition */
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"expr\": \"SET "
				       "visits = visits + :one\", \"if\": \"visits >= :one\", "
				       "\"values\": {\":one\": 1}}\n"),
			 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"name\":\"Hedy\",\"visits\":2}");
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"expr\": \"SET "
				       "tags = list_append(if_not_exists(tags, []), [\\\"x\\\"])\"}\n"),
			 0);
	ck_assert_contains(user("hedy"), "\"tags\":[\"x\"]");
}
END_TEST

START_TEST(test_line_sugar_condition_uses_user_bindings)
{
	put_user("{\"username\": \"hedy\", \"level\": 2}");
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"set\": "
				       "{\"level\": 3}, \"if\": \"#l = :two\", \"names\": {\"#l\": "
				       "\"level\"}, \"values\": {\":two\": 2}}\n"),
			 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"level\":3}");
	/* an unused binding is DynamoDB's error */
	ck_assert_contains(line_err(tu, "{\"update\": {\"username\": \"hedy\"}, \"set\": {\"x\": "
					"1}, \"values\": {\":v\": 1}}"),
			   "unused in expressions: keys: {:v}");
}
END_TEST

START_TEST(test_line_envelope_errors_have_messages)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"{\"put\": {\"username\": \"a\"}, \"delete\": {\"username\": \"a\"}}",
	     "an operation has exactly one of put, delete, update, check; this one has \"put\" "
	     "and \"delete\""},
	    {"{\"check\": {\"username\": \"a\"}, \"if\": \"attribute_exists(x)\"}",
	     "\"check\" is only for transactions (/_tx)"},
	    {"{\"put\": {\"username\": \"a\"}, \"set\": {\"x\": 1}}",
	     "\"set\" does not go with \"put\" (only with \"update\")"},
	    {"{\"update\": {\"username\": \"a\"}, \"expr\": \"SET x = :v\", \"set\": {\"y\": 1}}",
	     "an update has either \"expr\" or set/add/remove/delete_from, not both"},
	    {"{\"delete\": {\"username\": \"a\"}, \"if\": 5}",
	     "\"if\" must be a condition expression (a string)"},
	    {"{\"update\": {\"username\": \"a\"}, \"expr\": [1]}",
	     "\"expr\" must be an update expression (a string)"},
	    {"{\"delete\": \"a\"}", "\"delete\" needs an object (the key)"},
	    {"{\"update\": {\"username\": \"a\"}, \"values\": [1], \"expr\": \"SET x = :v\"}",
	     "\"values\" must be an object"},
	    {"{\"put\": {\"username\": \"a\"}, \"table\": 7}",
	     "\"table\" must be a table name (a string)"},
	    {"{\"put\": {\"username\": \"a\"}, \"table\": \"quiz-stats\"}",
	     "\"table\" is quiz-stats, but this is table users"},
	    {"{\"update\": {\"username\": \"a\"}, \"remove\": \"x\"}",
	     "\"remove\" needs a list of attribute names"},
	    {"{\"update\": {\"username\": \"a\"}, \"remove\": [1]}",
	     "\"remove\" needs a list of attribute names (strings)"},
	    {"{\"update\": {\"username\": \"a\"}, \"set\": {\"\": 1}}",
	     "\"set\": an attribute name is empty"},
	    {"{\"update\": {\"username\": \"a\"}, \"add\": {\"x\": \"s\"}}",
	     "update: Invalid UpdateExpression: Incorrect operand type for operator or function; "
	     "operator: ADD, operand type: STRING"},
	    {"[1, 2]", "each line must be a JSON object"},
	    {"{\"$M\": {\"username\": \"a\"}}", "each line must be a JSON object"},
	    {"{\"username\": \"a\", }", "trailing comma before '}' (column 17)"},
	    {"{\"username\": \"a\"} x", "unexpected text after the JSON value (column 19)"},
	    {"{\"username\": \"a\"", "unexpected end of input"},
	    {"{\"name\": \"a\"}", "missing key attribute username"},
	    {"{\"username\": 5}", "key attribute username must be of type S, not N"},
	    {"{\"delete\": {\"username\": \"a\", \"email\": \"x\"}}",
	     "The provided key element does not match the schema: the key of users is "
	     "username, and \"email\" is not a key attribute"},
	    {"{\"delete\": {\"email\": \"x\"}}", "missing key attribute username"},
	    {"{\"update\": {\"username\": \"a\"}, \"set\": {\"username\": \"b\"}}",
	     "One or more parameter values were invalid: Cannot update attribute username. This "
	     "attribute is part of the key"},
	    {"{\"update\": {\"username\": \"a\"}, \"expr\": \"REMOVE username\"}",
	     "Cannot update attribute username"},
	    {"{\"update\": {\"username\": \"a\"}, \"expr\": \"SET = 1\"}",
	     "expr: Invalid UpdateExpression: Syntax error; token: \"=\""},
	    {"{\"delete\": {\"username\": \"a\"}, \"if\": \"a = :v\"}",
	     "if: Invalid ConditionExpression: An expression attribute value used in expression "
	     "is not defined; attribute value: :v"},
	    {"{\"put\": {\"username\": \"a\"}, \"values\": {\":v\": 1}}",
	     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"},
	    {"{\"update\": {\"username\": \"a\"}, \"set\": {\"x\": 1}, \"remove\": [\"x\"]}",
	     "Two document paths overlap"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = line_err(tu, cases[i].line);

		ck_assert_msg(strstr(got, cases[i].msg) != NULL, "line %s: got \"%s\", want \"%s\"",
			      cases[i].line, got, cases[i].msg);
	}
	ck_assert_uint_eq(count_items(tu), 0);
}
END_TEST

START_TEST(test_line_keys_of_a_table_with_sort_key)
{
	ck_assert_str_eq(line_err(tq, "{\"delete\": {\"id#level\": \"h#1\", \"week\": \"2023-31\"}}"),
			 "");
	ck_assert_str_eq(line_err(tq, "{\"delete\": {\"id#level\": \"h#1\"}}"),
			 "week: missing key attribute week");
	ck_assert_contains(line_err(tq, "{\"update\": {\"id#level\": \"h#1\", \"week\": \"w\"}, "
					"\"set\": {\"week\": \"x\"}}"),
			   "Cannot update attribute week");
	ck_assert_int_eq(run_batch(tq, "{\"update\": {\"id#level\": \"hedy#1\", \"week\": "
				       "\"2023-31\"}, \"add\": {\"scores\": {\"$NS\": [60]}}, \"set\": "
				       "{\"id\": \"hedy\", \"level\": 1, \"finished\": 1}}\n"),
			 0);
	ck_assert_str_eq(quiz("hedy#1", "2023-31"),
			 "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"finished\":1,\"id\":"
			 "\"hedy\",\"level\":1,\"scores\":{\"$NS\":[60]}}");
}
END_TEST

/* ---- UpdateItem, conditional put and delete ---- */

static expr_t *update_expr(const char *text)
{
	struct dyn_err err;
	expr_t *e;

	err_clear(&err);
	ck_assert_msg(expr_parse_update(text, strlen(text), NULL, &e, &err) == 0, "%s: %s", text,
		      err.msg);
	return e;
}

static expr_t *cond_expr(const char *text)
{
	struct dyn_err err;
	expr_t *e;

	err_clear(&err);
	ck_assert_msg(expr_parse_condition(text, strlen(text), NULL, &e, &err) == 0, "%s: %s",
		      text, err.msg);
	return e;
}

START_TEST(test_update_add_counter_on_missing_item_creates_it)
{
	expr_t *u = update_expr("ADD visits 1");
	struct val pk = S("hedy"), out;

	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u, NULL, &out, NULL), 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"visits\":1}");
	ck_assert_ptr_nonnull(val_map_get(&out, "username", 8));
	val_free(&out);
	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u, NULL, NULL, NULL), 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"visits\":2}");
	expr_free(u);
	val_free(&pk);
}
END_TEST

START_TEST(test_update_of_key_attribute_is_rejected)
{
	expr_t *u = update_expr("SET username = \"x\"");
	struct val pk = S("hedy");
	struct dyn_err err;

	put_user("{\"username\": \"hedy\"}");
	err_clear(&err);
	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u, NULL, NULL, &err), -EINVAL);
	ck_assert_contains(err.msg, "Cannot update attribute username. This attribute is part "
				    "of the key");
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\"}");
	ck_assert_str_eq(user("x"), "-");
	expr_free(u);
	val_free(&pk);
}
END_TEST

START_TEST(test_update_condition_failure_leaves_item_unchanged)
{
	expr_t *u = update_expr("SET level = 9 REMOVE email");
	expr_t *c = cond_expr("level = 1");
	struct val pk = S("hedy");
	struct dyn_err err;

	put_user("{\"username\": \"hedy\", \"level\": 2, \"email\": \"h@x\"}");
	err_clear(&err);
	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u, c, NULL, &err), -ECANCELED);
	ck_assert_str_eq(err.msg, "The conditional request failed");
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"email\":\"h@x\",\"level\":2}");
	{ /* and the index still has it */
		struct val e = S("h@x");

		ck_assert_int_eq(tbl_partition_exists(tu, "email-index", &e), 0);
		val_free(&e);
	}
	expr_free(u);
	expr_free(c);
	val_free(&pk);
}
END_TEST

START_TEST(test_update_maintains_indexes)
{
	expr_t *u1 = update_expr("SET email = \"new@x\"");
	expr_t *u2 = update_expr("REMOVE email");
	struct val pk = S("hedy"), e1 = S("old@x"), e2 = S("new@x");

	put_user("{\"username\": \"hedy\", \"email\": \"old@x\"}");
	ck_assert_int_eq(tbl_partition_exists(tu, "email-index", &e1), 0);
	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u1, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tbl_partition_exists(tu, "email-index", &e1), -ENOENT);
	ck_assert_int_eq(tbl_partition_exists(tu, "email-index", &e2), 0);
	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, u2, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tbl_partition_exists(tu, "email-index", &e2), -ENOENT);
	ck_assert_int_eq(tbl_check_integrity(tu, NULL), 0);
	/* an index key of a non-key type is rejected and nothing changes */
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}, \"set\": "
				       "{\"email\": true}}\n"),
			 -EINVAL);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\"}");
	expr_free(u1);
	expr_free(u2);
	val_free(&pk);
	val_free(&e1);
	val_free(&e2);
}
END_TEST

START_TEST(test_update_without_actions_creates_key_only_item)
{
	struct val pk = S("hedy");

	ck_assert_int_eq(ops_update(db, tu, &pk, NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\"}");
	put_user("{\"username\": \"hedy\", \"x\": 1}");
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"hedy\"}}\n"), 0);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"x\":1}");
	val_free(&pk);
}
END_TEST

START_TEST(test_update_remove_on_missing_item_creates_key_only_item)
{
	ck_assert_int_eq(run_batch(tu, "{\"update\": {\"username\": \"x\"}, \"remove\": [\"a\"]}\n"),
			 0);
	ck_assert_str_eq(user("x"), "{\"username\":\"x\"}");
}
END_TEST

START_TEST(test_update_result_too_large_is_efbig)
{
	static char line[450 * 1024];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "{\"update\": {\"username\": \"big\"}, \"set\": "
						 "{\"blob\": \"");
	memset(line + n, 'x', 410 * 1024);
	n += 410 * 1024;
	snprintf(line + n, sizeof(line) - n, "\"}}\n");
	ck_assert_int_eq(run_batch(tu, line), -EFBIG);
	ck_assert_str_eq(user("big"), "-");
	ck_assert_contains(reps.text, "over DynamoDB's 400 KB limit");
}
END_TEST

START_TEST(test_put_if_and_delete_if)
{
	expr_t *absent = cond_expr("attribute_not_exists(username)");
	expr_t *lvl = cond_expr("level = 2");
	struct val item, pk = S("hedy"), old;
	struct dyn_err err;

	parse_json("{\"username\": \"hedy\", \"level\": 2}", &item);
	ck_assert_int_eq(ops_put_if(db, tu, &item, absent, 0, NULL), 0);
	err_clear(&err);
	ck_assert_int_eq(ops_put_if(db, tu, &item, absent, 0, &err), -ECANCELED);
	ck_assert_int_eq(ops_put_if(db, tu, &item, NULL, DB_IF_ABSENT, NULL), -EEXIST);
	val_free(&item);
	ck_assert_int_eq(ops_delete_if(db, tu, &pk, NULL, absent, NULL, NULL), -ECANCELED);
	ck_assert_int_eq(ops_delete_if(db, tu, &pk, NULL, lvl, &old, NULL), 0);
	ck_assert_int_eq(old.type, VAL_M);
	ck_assert_ptr_nonnull(val_map_get(&old, "level", 5));
	val_free(&old);
	ck_assert_str_eq(user("hedy"), "-");
	ck_assert_int_eq(ops_delete_if(db, tu, &pk, NULL, NULL, &old, NULL), 0);
	ck_assert_int_eq(old.type, VAL_NULL);
	expr_free(absent);
	expr_free(lvl);
	val_free(&pk);
}
END_TEST

/* ---- batch sessions ---- */

START_TEST(test_batch_bad_line_fails_the_write_but_not_its_neighbours)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"), 0);
	ck_assert_int_eq(feed(b, "{\"username\": \"c\"}\n{\"username\": \n{\"username\": \"d\"}\n"),
			 -EINVAL);
	ck_assert_int_eq(feed(b, "{\"username\": \"e\"}\n"), 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\"}");
	ck_assert_str_eq(user("c"), "{\"username\":\"c\"}");
	ck_assert_str_eq(user("d"), "{\"username\":\"d\"}");
	ck_assert_str_eq(user("e"), "{\"username\":\"e\"}");
	ck_assert_uint_eq(reps.n, 1);
	ck_assert_str_eq(reps.text, "4 22 username: unexpected end of input, expected a value "
				    "(column 14)\n");
	ck_assert_str_eq(summary(b), "{\"applied\": 5, \"failed\": 1, \"errors\": [{\"line\": 4, "
				     "\"error\": \"username: unexpected end of input, expected a value "
				     "(column 14)\"}]}\n");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_lines_apply_in_order_on_one_item)
{
	ck_assert_int_eq(run_batch(tu, "{\"username\": \"a\", \"n\": 1}\n"
				       "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 10}}\n"
				       "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 100}}\n"
				       "{\"delete\": {\"username\": \"a\"}, \"if\": \"n = 111\"}\n"
				       "{\"username\": \"a\", \"n\": 2}\n"),
			 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\",\"n\":2}");
}
END_TEST

START_TEST(test_batch_split_across_writes_byte_by_byte)
{
	const char *text = "{\"username\": \"a\", \"s\": \"caf\xc3\xa9\"}\n"
			   "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 1}}\n"
			   "bad\n"
			   "{\"username\": \"b\"}";
	ops_batch_t *b = batch(tu);
	size_t i;
	int rc = 0, r;

	for (i = 0; text[i]; i++) {
		r = ops_batch_feed(b, text + i, 1);
		if (r)
			rc = r;
	}
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_uint_eq(ops_batch_pending(b), strlen("{\"username\": \"b\"}"));
	ck_assert_str_eq(user("b"), "-");
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\",\"n\":1,\"s\":\"caf\xc3\xa9\"}");
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ck_assert_contains(reps.text, "3 22 ");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_unterminated_bad_last_line_fails_finish)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\""), 0);
	ck_assert_int_eq(ops_batch_finish(b), -EINVAL);
	ck_assert_int_eq(ops_batch_finish(b), 0); /* nothing left */
	ck_assert_contains(reps.text, "2 22 ");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_reports_every_bad_line_in_order)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "x\n{\"username\": \"a\"}\ny\n{\"username\": \"b\"}\n"
				 "{\"delete\": {\"username\": \"a\"}, \"if\": \"attribute_exists(q)\"}\n"),
			 -EINVAL);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_str_eq(reps.text, "1 22 unexpected 'x', expected a value (column 1)\n"
				    "3 22 unexpected 'y', expected a value (column 1)\n"
				    "5 125 condition failed: attribute_exists(q)\n");
	ck_assert_str_eq(user("a"), "{\"username\":\"a\"}");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_groups_share_db_apply_calls)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;
	char line[64];
	int i;

	for (i = 0; i < 250; i++) {
		snprintf(line, sizeof(line), "{\"username\": \"u%03d\"}\n", i);
		ck_assert_int_eq(feed(b, line), 0);
	}
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applies, 250); /* each feed applies what it completed */
	ops_batch_free(b);

	b = batch(tu);
	{
		static char big[250 * 64];
		size_t n = 0;

		for (i = 0; i < 250; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n,
					      "{\"username\": \"v%03d\", \"email\": \"%d@x\"}\n", i, i % 7);
		ck_assert_int_eq(feed(b, big), 0);
	}
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 250);
	ck_assert_uint_eq(st.applies, 3);
	ck_assert_uint_eq(count_items(tu), 500);
	ops_batch_free(b);
}
END_TEST

/* A journal that counts its syncs (and can fail them). */
struct count_log {
	uint64_t lsn;	 /* last appended */
	uint64_t syncs;	 /* sync calls */
	int sync_fail;	 /* what sync returns */
};

static int count_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct count_log *l = ctx;

	*lsn = ++l->lsn;
	return 0;
}

static int count_sync(void *ctx, uint64_t lsn)
{
	struct count_log *l = ctx;

	l->syncs++;
	return l->sync_fail;
}

/* Issue 12: a write() holding many groups costs one journal sync. */
START_TEST(test_batch_one_journal_sync_per_feed)
{
	struct count_log l = {0};
	struct db_log log = {.append = count_append, .sync = count_sync, .ctx = &l};
	static char big[250 * 64];
	struct ops_batch_stats st;
	ops_batch_t *b;
	size_t n = 0;
	int i;

	db_set_log(db, &log);
	b = batch(tu);
	for (i = 0; i < 250; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "{\"username\": \"v%03d\", \"email\": \"%d@x\"}\n", i, i % 7);
	ck_assert_int_eq(feed(b, big), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applies, 3);
	ck_assert_uint_eq(l.lsn, 3);
	ck_assert_uint_eq(l.syncs, 1);
	ck_assert_uint_eq(st.syncs, 1);
	/* a bad line in the middle: the lines before it are synced before it is
	 * reported, the ones after it at the end of the feed */
	l.syncs = 0;
	ck_assert_int_eq(feed(b, "{\"username\": \"w1\"}\nnot json\n{\"username\": \"w2\"}\n"),
			 -EINVAL);
	ck_assert_uint_eq(l.syncs, 2);
	ck_assert_str_eq(user("w2"), "{\"username\":\"w2\"}");
	ops_batch_free(b);
	db_set_log(db, NULL);
}
END_TEST

/* A failed sync fails every line it covered; with stop, the feed stops
 * after the first of them. */
START_TEST(test_batch_failed_sync_fails_the_lines_it_covered)
{
	struct count_log l = {.sync_fail = -EIO};
	struct db_log log = {.append = count_append, .sync = count_sync, .ctx = &l};
	const char *text = "{\"username\": \"a\"}\n{\"username\": \"b\"}\n{\"username\": \"c\"}\n";
	struct ops_batch_stats st;
	ops_batch_t *b;
	size_t used;

	db_set_log(db, &log);
	b = batch(tu);
	ck_assert_int_eq(feed(b, text), -EIO);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 0);
	ck_assert_uint_eq(st.failed, 3);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_contains(reps.text, "1 5 the journal could not be synced");
	ck_assert_contains(reps.text, "3 5 the journal could not be synced");
	ops_batch_free(b);

	b = batch(tu);
	ck_assert_int_eq(ops_batch_feed_some(b, text, strlen(text), &used), -EIO);
	ck_assert_uint_eq(used, strlen("{\"username\": \"a\"}\n"));
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 0);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.lines, 1);
	ops_batch_free(b);
	db_set_log(db, NULL);
}
END_TEST

START_TEST(test_batch_group_splits_around_a_failing_line)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;

	put_user("{\"username\": \"c\", \"n\": 1}");
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"
				 "{\"update\": {\"username\": \"c\"}, \"add\": {\"n\": 1}, \"if\": \"n = 5\"}\n"
				 "{\"username\": \"d\"}\n{\"username\": \"e\", \"email\": [1]}\n"
				 "{\"username\": \"f\"}\n"),
			 -EINVAL);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 4);
	ck_assert_uint_eq(st.failed, 2);
	ck_assert_str_eq(user("c"), "{\"username\":\"c\",\"n\":1}");
	ck_assert_str_eq(user("d"), "{\"username\":\"d\"}");
	ck_assert_str_eq(user("e"), "-");
	ck_assert_str_eq(user("f"), "{\"username\":\"f\"}");
	ck_assert_contains(reps.text, "3 125 condition failed: n = 5\n5 22 ");
	ops_batch_free(b);
}
END_TEST

/* ops_batch_feed_some stops right after the first bad line, inside a
 * group: the lines after it are neither applied nor counted, and feeding
 * the rest again applies each of them once. */
START_TEST(test_batch_feed_some_stops_at_the_bad_line)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;
	const char *text = "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"
			   "{\"update\": {\"username\": \"c\"}, \"add\": {\"n\": 1}, \"if\": \"n = 5\"}\n"
			   "{\"update\": {\"username\": \"d\"}, \"add\": {\"n\": 1}}\n{\"username\": \"e\"}";
	const char *bad = strstr(text, "{\"update\": {\"username\": \"c\"");
	size_t used, want = (size_t)(strchr(bad, '\n') + 1 - text), used2;

	put_user("{\"username\": \"c\", \"n\": 1}");
	ck_assert_int_eq(ops_batch_feed_some(b, text, strlen(text), &used), -EINVAL);
	ck_assert_uint_eq(used, want);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 2);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.lines, 3);
	ck_assert_str_eq(user("d"), "-");
	ck_assert_uint_eq(ops_batch_pending(b), 0); /* the unterminated end was not taken */
	/* the writer resends the rest, twice split */
	ck_assert_int_eq(ops_batch_feed_some(b, text + used, 10, &used2), 0);
	ck_assert_uint_eq(used2, 10);
	ck_assert_int_eq(ops_batch_feed_some(b, text + used + 10, strlen(text) - used - 10, &used2), 0);
	ck_assert_uint_eq(used2, strlen(text) - used - 10);
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 4);
	ck_assert_uint_eq(st.lines, 5);
	ck_assert_str_eq(user("d"), "{\"username\":\"d\",\"n\":1}");
	ck_assert_str_eq(user("e"), "{\"username\":\"e\"}");
	ck_assert_str_eq(user("c"), "{\"username\":\"c\",\"n\":1}");
	ck_assert_contains(reps.text, "3 125 condition failed: n = 5\n");
	ops_batch_free(b);
}
END_TEST

/* A tiny deterministic generator for the equivalence test. */
static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void random_script(uint32_t seed, char *out, size_t size)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 600 && n + 200 < size; i++) {
		unsigned k = rnd(&seed) % 12, op = rnd(&seed) % 9;

		switch (op) {
		case 0:
		case 1:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"username\": \"k%u\", \"v\": %u, \"email\": \"e%u\"}\n",
					      k, rnd(&seed) % 5, k % 3);
			break;
		case 2:
		case 3:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"update\": {\"username\": \"k%u\"}, \"add\": {\"v\": %u}}\n",
					      k, rnd(&seed) % 3);
			break;
		case 4:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"delete\": {\"username\": \"k%u\"}, \"if\": \"v > 3\"}\n", k);
			break;
		case 5:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"put\": {\"username\": \"k%u\", \"w\": 1}, \"if\": "
					      "\"attribute_not_exists(username)\"}\n",
					      k);
			break;
		case 6:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"update\": {\"username\": \"k%u\"}, \"set\": {\"email\": %s}}\n",
					      k, rnd(&seed) % 4 ? "\"z\"" : "1");
			break;
		case 7:
			n += (size_t)snprintf(out + n, size - n, "{\"delete\": {\"username\": \"k%u\"}}\n", k);
			break;
		default:
			n += (size_t)snprintf(out + n, size - n, "{bad %u\n", k);
		}
	}
}

/* Every item of users, in key order, as one string. */
static int dump_item(void *ctx, const struct item_ref *r)
{
	char *buf = ctx, *text;
	size_t len;
	struct val v;

	ck_assert_int_eq(iref_decode(r, &v), 0);
	ck_assert_int_eq(item_render_compact(&v, "username", NULL, &text, &len), 0);
	strcat(buf, text);
	strcat(buf, "\n");
	free(text);
	val_free(&v);
	return 0;
}

START_TEST(test_batch_grouping_is_equivalent_to_one_by_one)
{
	static char script[200000], a[65536], b2[65536], sa[65536], sb[65536];
	struct tbl_scan scan = {0};
	ops_batch_t *b;
	char *s;
	size_t len;
	uint32_t seed;
	int ra, rb;

	for (seed = 1; seed <= 20; seed++) {
		random_script(seed, script, sizeof(script));
		teardown();
		setup();
		b = batch(tu);
		ops_batch_set_group(b, 1);
		ra = feed(b, script);
		ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
		snprintf(sa, sizeof(sa), "%s", s);
		free(s);
		ops_batch_free(b);
		a[0] = 0;
		ck_assert_int_eq(tbl_scan(tu, &scan, dump_item, a, NULL), 0);
		teardown();
		setup();
		b = batch(tu);
		rb = feed(b, script);
		ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
		snprintf(sb, sizeof(sb), "%s", s);
		free(s);
		ops_batch_free(b);
		b2[0] = 0;
		ck_assert_int_eq(tbl_scan(tu, &scan, dump_item, b2, NULL), 0);
		ck_assert_int_eq(ra, rb);
		ck_assert_str_eq(sa, sb);
		ck_assert_str_eq(a, b2);
	}
}
END_TEST

static int log_refuse(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	return -EIO;
}

static int log_sync(void *ctx, uint64_t lsn)
{
	return 0;
}

START_TEST(test_batch_journal_failure_is_eio_and_applies_nothing)
{
	struct db_log log = {.append = log_refuse, .sync = log_sync};
	ops_batch_t *b = batch(tu);

	db_set_log(db, &log);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\nbad\n{\"username\": \"b\"}\n"), -EIO);
	db_set_log(db, NULL);
	ck_assert_uint_eq(count_items(tu), 0);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_contains(reps.text, "1 5 the journal could not be written");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_overlong_line_is_skipped)
{
	ops_batch_t *b = batch(tu);
	size_t chunk = 1 << 20, i;
	char *junk = malloc(chunk);

	memset(junk, ' ', chunk);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"x\", \"pad\": \""), 0);
	for (i = 0; i < 9; i++)
		if (i < 7)
			ck_assert_int_eq(ops_batch_feed(b, junk, chunk), 0);
		else
			ops_batch_feed(b, junk, chunk);
	ck_assert_uint_eq(reps.n, 1);
	ck_assert_str_eq(reps.text, "2 22 line too long (over 8 MiB)\n");
	ck_assert_uint_eq(ops_batch_pending(b), 0);
	ck_assert_int_eq(feed(b, "\"}\n{\"username\": \"b\"}\n"), 0);
	ck_assert_str_eq(user("x"), "-");
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ck_assert_contains(summary(b), "\"applied\": 2, \"failed\": 1");
	free(junk);
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_summary_escapes_and_sanitizes)
{
	ops_batch_t *b = batch(tu);

	/* a message quoting a non-UTF-8 byte and a quote */
	ck_assert_int_eq(feed(b, "{\"username\": \"\xff\"}\n"), -EINVAL);
	ck_assert_contains(summary(b), "{\"applied\": 0, \"failed\": 1, \"errors\": [{\"line\": 1, "
				       "\"error\": \"");
	ck_assert_ptr_null(strchr(summary(b), '\xff'));
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_dropped_table_is_enoent)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"), -ENOENT);
	ck_assert_contains(reps.text, "was dropped");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_json_incomplete)
{
	static const struct {
		const char *text;
		bool incomplete;
	} cases[] = {
	    {"", true},
	    {" \t\r\n", true},
	    {"{", true},
	    {"{\"a\": [1, {\"b\": \"x", true},
	    {"{\"a\": \"}\\\"", true},
	    {"{\"a\": \"}\\\\\"", true},
	    {"{\"a\": \"}\\\\\"}", false},
	    {"{\"a\": 1}", false},
	    {"{\"a\": ]", false}, /* finished, and wrong */
	    {"tru", false},
	    {"[[]]   ", false},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(ops_json_incomplete(cases[i].text, strlen(cases[i].text)) ==
				  cases[i].incomplete,
			      "%s", cases[i].text);
}
END_TEST

START_TEST(test_batch_pending_incomplete)
{
	ops_batch_t *b = batch(tu);

	ck_assert(!ops_batch_pending_incomplete(b));
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b"), 0);
	ck_assert(ops_batch_pending_incomplete(b));
	ck_assert_int_eq(feed(b, "\"}"), 0);
	ck_assert(!ops_batch_pending_incomplete(b));
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ops_batch_free(b);
}
END_TEST

/* ---- transactions ---- */

static int tx(const char *doc, struct ops_tx_result *res)
{
	return ops_tx_run(db, doc, strlen(doc), res);
}

static const char *tx_json(const struct ops_tx_result *res)
{
	static char buf[2048];
	char *s;
	size_t len;

	ck_assert_int_eq(ops_tx_result_json(res, &s, &len), 0);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

static const char *tx_msg(const struct ops_tx_result *res)
{
	static char buf[2048];

	return ops_tx_message(res, buf, sizeof(buf));
}

static const char transfer[] =
    "{\"ops\": ["
    " {\"update\": {\"username\": \"hedy\"}, \"table\": \"users\", \"expr\": \"SET coins = coins "
    "- :n\", \"if\": \"coins >= :n\", \"values\": {\":n\": 10}},"
    " {\"update\": {\"id#level\": \"hedy#1\", \"week\": \"2023-31\"}, \"table\": "
    "\"quiz-stats\", \"add\": {\"coins\": 10}},"
    " {\"check\": {\"username\": \"felienne\"}, \"table\": \"users\", \"if\": "
    "\"attribute_exists(username)\"}"
    "]}";

START_TEST(test_tx_commits_across_two_tables)
{
	struct ops_tx_result res;

	put_user("{\"username\": \"hedy\", \"coins\": 25}");
	put_user("{\"username\": \"felienne\"}");
	ck_assert_int_eq(tx(transfer, &res), 0);
	ck_assert_str_eq(tx_json(&res), "{\"status\": \"committed\", \"ops\": 3}\n");
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"coins\":15}");
	ck_assert_str_eq(quiz("hedy#1", "2023-31"),
			 "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"coins\":10}");
	ck_assert_int_eq(tx(transfer, &res), 0);
	ck_assert_int_eq(tx(transfer, &res), -ECANCELED);
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"coins\":5}");
	ck_assert_str_eq(quiz("hedy#1", "2023-31"),
			 "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"coins\":20}");
}
END_TEST

START_TEST(test_tx_failing_check_cancels_everything)
{
	struct ops_tx_result res;

	put_user("{\"username\": \"hedy\", \"coins\": 25}");
	ck_assert_int_eq(tx(transfer, &res), -ECANCELED);
	ck_assert_int_eq(res.status, OPS_TX_CANCELLED);
	ck_assert(res.has_op);
	ck_assert_uint_eq(res.op, 2);
	ck_assert_str_eq(tx_msg(&res), "op 2 (check users/felienne): condition failed: "
				       "attribute_exists(username)");
	ck_assert_str_eq(tx_json(&res), "{\"status\": \"cancelled\", \"op\": 2, \"reason\": "
					"\"check users/felienne: condition failed: "
					"attribute_exists(username)\"}\n");
	ck_assert_str_eq(user("hedy"), "{\"username\":\"hedy\",\"coins\":25}");
	ck_assert_str_eq(quiz("hedy#1", "2023-31"), "-");
}
END_TEST

static char *tx_of_puts(int n, bool dup)
{
	struct ops_out o = {0};
	int i;

	ops_out_add(&o, "{\"ops\": [", 9);
	for (i = 0; i < n; i++)
		ops_out_fmt(&o, "%s{\"put\": {\"username\": \"u%d\"}, \"table\": \"users\"}",
			    i ? ", " : "", dup && i == n - 1 ? 0 : i);
	ops_out_add(&o, "]}", 2);
	ck_assert(!o.oom);
	return o.p;
}

START_TEST(test_tx_holds_at_most_100_ops)
{
	struct ops_tx_result res;
	char *doc = tx_of_puts(101, false);

	ck_assert_int_eq(tx(doc, &res), -EINVAL);
	ck_assert_str_eq(tx_msg(&res), "too many operations: 101 (at most 100 in one transaction)");
	ck_assert_uint_eq(count_items(tu), 0);
	free(doc);
	doc = tx_of_puts(100, false);
	ck_assert_int_eq(tx(doc, &res), 0);
	ck_assert_uint_eq(count_items(tu), 100);
	free(doc);
}
END_TEST

START_TEST(test_tx_rejects_two_ops_on_one_item)
{
	struct ops_tx_result res;
	char *doc = tx_of_puts(5, true);

	ck_assert_int_eq(tx(doc, &res), -EINVAL);
	ck_assert_uint_eq(res.op, 4);
	ck_assert_contains(tx_msg(&res), "operations 0 and 4 are on the same item of users");
	ck_assert_uint_eq(count_items(tu), 0);
	free(doc);
}
END_TEST

START_TEST(test_tx_invalid_documents)
{
	static const struct {
		const char *doc, *msg;
	} cases[] = {
	    {"{\"ops\": [}", "unexpected '}'"},
	    {"[]", "a transaction is one JSON object {\"ops\": [OP, ...]} and nothing else"},
	    {"{\"ops\": [], \"x\": 1}", "a transaction is one JSON object"},
	    {"{\"ops\": []}", "a transaction needs at least one operation"},
	    {"{\"ops\": [{\"username\": \"a\"}]}",
	     "op 0: expected an operation: an object with \"table\" and one of put, delete, "
	     "update, check"},
	    {"{\"ops\": [{\"put\": {\"username\": \"a\"}}]}", "op 0: missing \"table\""},
	    {"{\"ops\": [{\"put\": {\"username\": \"a\"}, \"table\": \"users\"}, {\"put\": "
	     "{\"username\": \"b\"}, \"table\": \"nope\"}]}",
	     "op 1 (put nope): no table named nope"},
	    {"{\"ops\": [{\"delete\": {\"username\": 1}, \"table\": \"users\"}]}",
	     "op 0 (delete users): username: key attribute username must be of type S, not N"},
	    {"{\"ops\": [{\"update\": {\"username\": \"a\"}, \"table\": \"users\", \"set\": "
	     "{\"username\": \"b\"}}]}",
	     "Cannot update attribute username"},
	    {"{\"ops\": [{\"check\": {\"username\": \"a\"}, \"table\": \"users\"}]}",
	     "\"check\" needs an \"if\" condition"},
	    {"{\"ops\": [{\"put\": {\"username\": \"a\", \"email\": 5}, \"table\": \"users\"}]}",
	     "op 0 (put users/a): "},
	};
	struct ops_tx_result res;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(tx(cases[i].doc, &res), -EINVAL);
		ck_assert_int_eq(res.status, OPS_TX_INVALID);
		ck_assert_msg(strstr(tx_msg(&res), cases[i].msg) != NULL,
			      "doc %s: got \"%s\", want \"%s\"", cases[i].doc, tx_msg(&res),
			      cases[i].msg);
	}
	ck_assert_uint_eq(count_items(tu), 0);
	ck_assert_contains(tx_json(&res), "{\"status\": \"invalid\", \"op\": 0, \"reason\": ");
}
END_TEST

START_TEST(test_tx_json_keeps_exact_numbers)
{
	struct ops_tx_result res;

	ck_assert_int_eq(tx("{\"ops\": [{\"put\": {\"username\": \"n\", \"x\": "
			    "12345678901234567890.5, \"y\": 0.1}, \"table\": \"users\"}]}",
			    &res),
			 0);
	ck_assert_str_eq(user("n"), "{\"username\":\"n\",\"x\":{\"$N\":\"12345678901234567890.5\"},"
				    "\"y\":0.1}");
}
END_TEST

/* Each line of a stream of puts of ONE item closes the group of the line
 * before (same item): the memory of parsed lines stays that of a group or
 * two, however long the stream. */
START_TEST(test_batch_arena_memory_bounded_on_one_item)
{
	static char text[40000 * 400];
	struct ops_batch_stats st;
	size_t len = 0, i;
	ops_batch_t *b;
	char want[512];

	for (i = 0; i < 40000; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"{\"username\": \"same\", \"n\": %zu, \"pad\": \"%0200zu\"}\n", i,
					i);
	b = batch(tu);
	ck_assert_int_eq(ops_batch_feed(b, text, len), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 40000);
	ck_assert_msg(st.arena_bytes <= 1024 * 1024, "arena holds %llu bytes",
		      (unsigned long long)st.arena_bytes);
	ops_batch_free(b);
	snprintf(want, sizeof(want), "{\"username\":\"same\",\"n\":39999,\"pad\":\"%0200d\"}", 39999);
	ck_assert_str_eq(user("same"), want);
}
END_TEST

/* A bare item's values come from the arena; an envelope, a tagged or
 * non-object line and a bad one are parsed as ops_line_parse does. */
START_TEST(test_line_arena_holds_bare_items_only)
{
	static const struct {
		const char *text; /* the line */
		int rc;		  /* ops_line_parse_arena's result */
		bool arena;	  /* r.v is in the arena */
	} cases[] = {
		{"{\"username\": \"hedy\", \"n\": [1, {\"x\": \"caf\\u00e9\"}]}", 0, true},
		{"{\"put\": 1, \"username\": \"hedy\"}", 0, true},
		{"{\"put\": {\"username\": \"hedy\"}}", 0, false},
		{"{\"delete\": {\"username\": \"hedy\"}}", 0, false},
		{"{\"$M\": {\"username\": \"hedy\"}}", -EINVAL, false},
		{"[1, 2]", -EINVAL, false},
		{"{\"username\": \"hedy\", \"n\": }", -EINVAL, false},
		{"  \t\r", 1, false},
	};
	struct item_arena *ar = item_arena_new();
	struct dyn_err e1, e2;
	struct ops_req r, r2;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;

		err_clear(&e1);
		err_clear(&e2);
		rc = ops_line_parse_arena(t, strlen(t), ar, &r, &e1);
		ck_assert_msg(rc == cases[i].rc, "%s: %d", t, rc);
		ck_assert_int_eq(ops_line_parse(t, strlen(t), &r2, &e2), rc);
		if (rc == 0) {
			ck_assert_msg(r.arena == cases[i].arena, "%s", t);
			ck_assert(val_equal(&r.v, &r2.v));
			ck_assert_int_eq(r.parsed, r2.parsed);
			ops_req_free(&r);
			ops_req_free(&r2);
		} else if (rc < 0) {
			ck_assert_str_eq(e1.msg, e2.msg);
			ck_assert_int_eq(e1.col, e2.col);
		}
	}
	item_arena_free(ar);
}
END_TEST

/* Bare items parsed into the session's arena stay whole until their group
 * is applied: lines split across feeds (kept in the tail, which the next
 * unterminated end overwrites), groups of every size, envelopes between. */
START_TEST(test_batch_arena_items_across_pieces_and_groups)
{
	static char text[400000];
	static const size_t pieces[] = {1, 7, 97, 4096, 65536};
	size_t len, i, p, k;
	char name[32], want[512];
	ops_batch_t *b;

	for (p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		teardown();
		setup();
		len = 0;
		for (i = 0; i < 700; i++) {
			if (i % 50 == 49)
				len += (size_t)snprintf(text + len, sizeof(text) - len,
							"{\"update\": {\"username\": \"u%zu\"}, "
							"\"add\": {\"n\": 1}}\n",
							i - 1);
			else
				len += (size_t)snprintf(text + len, sizeof(text) - len,
							"{\"z\": \"%0*zu\", \"username\": \"u%zu\", "
							"\"n\": %zu, \"l\": [\"x\", {\"y\": %zu}]}\n",
							(int)(i % 300), i, i, i, i);
		}
		b = batch(tu);
		if (p == 1)
			ops_batch_set_group(b, 3);
		for (i = 0; i < len; i += k) {
			k = len - i < pieces[p] ? len - i : pieces[p];
			ck_assert_int_eq(ops_batch_feed(b, text + i, k), 0);
		}
		ck_assert_int_eq(ops_batch_finish(b), 0);
		ops_batch_free(b);
		ck_assert_uint_eq(count_items(tu), 700 - 700 / 50);
		for (i = 0; i < 700; i++) {
			if (i % 50 == 49)
				continue;
			snprintf(name, sizeof(name), "u%zu", i);
			snprintf(want, sizeof(want),
				 "{\"username\":\"u%zu\",\"l\":[\"x\",{\"y\":%zu}],\"n\":%zu,"
				 "\"z\":\"%0*zu\"}",
				 i, i, i + (i % 50 == 48), (int)(i % 300), i);
			ck_assert_str_eq(user(name), want);
		}
	}
}
END_TEST

Suite *ops_suite(void);
Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc;

#define TC(name)                                                \
	do {                                                    \
		tc = tcase_create(name);                        \
		tcase_add_checked_fixture(tc, setup, teardown); \
		tcase_set_timeout(tc, 60);                      \
		suite_add_tcase(s, tc);                         \
	} while (0)

	TC("ops_line_parse");
	tcase_add_test(tc, test_line_bare_object_is_a_put);
	tcase_add_test(tc, test_line_put_envelope_with_condition);
	tcase_add_test(tc, test_line_item_with_envelope_names_needs_wrapping);
	tcase_add_test(tc, test_line_blank_lines_are_skipped);
	tcase_add_test(tc, test_line_delete_forms);
	tcase_add_test(tc, test_line_update_sugar_forms);
	tcase_add_test(tc, test_line_update_expression_form);
	tcase_add_test(tc, test_line_sugar_condition_uses_user_bindings);
	tcase_add_test(tc, test_line_envelope_errors_have_messages);
	tcase_add_test(tc, test_line_keys_of_a_table_with_sort_key);
	tcase_add_test(tc, test_line_arena_holds_bare_items_only);

	TC("ops_update");
	tcase_add_test(tc, test_update_add_counter_on_missing_item_creates_it);
	tcase_add_test(tc, test_update_of_key_attribute_is_rejected);
	tcase_add_test(tc, test_update_condition_failure_leaves_item_unchanged);
	tcase_add_test(tc, test_update_maintains_indexes);
	tcase_add_test(tc, test_update_without_actions_creates_key_only_item);
	tcase_add_test(tc, test_update_remove_on_missing_item_creates_key_only_item);
	tcase_add_test(tc, test_update_result_too_large_is_efbig);
	tcase_add_test(tc, test_put_if_and_delete_if);

	TC("ops_batch");
	tcase_add_test(tc, test_batch_bad_line_fails_the_write_but_not_its_neighbours);
	tcase_add_test(tc, test_batch_lines_apply_in_order_on_one_item);
	tcase_add_test(tc, test_batch_split_across_writes_byte_by_byte);
	tcase_add_test(tc, test_batch_unterminated_bad_last_line_fails_finish);
	tcase_add_test(tc, test_batch_reports_every_bad_line_in_order);
	tcase_add_test(tc, test_batch_groups_share_db_apply_calls);
	tcase_add_test(tc, test_batch_one_journal_sync_per_feed);
	tcase_add_test(tc, test_batch_failed_sync_fails_the_lines_it_covered);
	tcase_add_test(tc, test_batch_group_splits_around_a_failing_line);
	tcase_add_test(tc, test_batch_feed_some_stops_at_the_bad_line);
	tcase_add_test(tc, test_batch_grouping_is_equivalent_to_one_by_one);
	tcase_add_test(tc, test_batch_arena_items_across_pieces_and_groups);
	tcase_add_test(tc, test_batch_arena_memory_bounded_on_one_item);
	tcase_add_test(tc, test_batch_journal_failure_is_eio_and_applies_nothing);
	tcase_add_test(tc, test_batch_overlong_line_is_skipped);
	tcase_add_test(tc, test_batch_summary_escapes_and_sanitizes);
	tcase_add_test(tc, test_batch_dropped_table_is_enoent);
	tcase_add_test(tc, test_json_incomplete);
	tcase_add_test(tc, test_batch_pending_incomplete);

	TC("ops_tx_run");
	tcase_add_test(tc, test_tx_commits_across_two_tables);
	tcase_add_test(tc, test_tx_failing_check_cancels_everything);
	tcase_add_test(tc, test_tx_holds_at_most_100_ops);
	tcase_add_test(tc, test_tx_rejects_two_ops_on_one_item);
	tcase_add_test(tc, test_tx_invalid_documents);
	tcase_add_test(tc, test_tx_json_keeps_exact_numbers);
	return s;
}
