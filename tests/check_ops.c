/*
 * check_ops.c - write requests (ops.h), one at a time: the `_batch` line
 * grammar and envelope rule (and the arena parse of bare items),
 * UpdateItem / conditional put / conditional delete through db_apply,
 * and /_tx transactions.  `_batch` sessions are in check_ops_batch.c.
 *
 * The fixture (fix_ops.h) has two tables, as in the design notes:
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
#include "fix_ops.h"

/* ---- helpers ---- */

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
		struct key_attr k[2];

		rc = ops_req_bind(&r, &sink, t, &k[0], sink.keys(sink.ctx, t, k) ? &k[1] : NULL,
				  &op, &err);
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
		struct key_attr k[2];

		rc = ops_req_bind(&r, &sink, t, &k[0], sink.keys(sink.ctx, t, k) ? &k[1] : NULL,
				  &op, &err);
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

Suite *ops_suite(void);
Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc;

#define TC(name) (tc = fix_ops_tcase(s, name))

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

	TC("ops_tx_run");
	tcase_add_test(tc, test_tx_commits_across_two_tables);
	tcase_add_test(tc, test_tx_failing_check_cancels_everything);
	tcase_add_test(tc, test_tx_holds_at_most_100_ops);
	tcase_add_test(tc, test_tx_rejects_two_ops_on_one_item);
	tcase_add_test(tc, test_tx_invalid_documents);
	tcase_add_test(tc, test_tx_json_keeps_exact_numbers);
	return s;
}
