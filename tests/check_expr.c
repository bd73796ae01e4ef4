/*
 * check_expr.c - the expression language: grammar (a table of valid and
 * invalid samples with DynamoDB's messages and the columns they point
 * at), bindings, limits, inline literals, condition evaluation over every
 * type, and projections.  Update semantics are in check_expr_update.c.
 *
 * Items and bindings are written as document JSON and parsed with
 * item_parse_value(), so every test reads like what a user types.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "item.h"

/* ---- helpers ---- */

static struct val json(const char *text)
{
	struct dyn_err err;
	struct val v;

	err_clear(&err);
	ck_assert_msg(item_parse_value(text, strlen(text), &v, &err) == 0, "bad test JSON %s: %s",
		      text, err.msg);
	return v;
}

enum pkind { PC, PF, PU, PP }; /* condition, filter, update, projection */

static int parse_kind(enum pkind k, const char *text, const struct expr_bind *b, expr_t **e,
		      struct dyn_err *err)
{
	size_t n = strlen(text);

	switch (k) {
	case PC:
		return expr_parse_condition(text, n, b, e, err);
	case PF:
		return expr_parse_filter(text, n, b, e, err);
	case PU:
		return expr_parse_update(text, n, b, e, err);
	case PP:
		return expr_parse_projection(text, n, b, e, err);
	}
	return -EINVAL;
}

/* Parse with optional JSON bindings; returns rc, *e (if rc == 0). */
static int parse_with(enum pkind k, const char *text, const char *names, const char *values,
		      expr_t **e, struct dyn_err *err)
{
	struct val n, v;
	struct expr_bind b = {NULL, NULL, 0};
	int rc;

	if (names) {
		n = json(names);
		b.names = &n;
	}
	if (values) {
		v = json(values);
		b.values = &v;
	}
	err_clear(err);
	*e = NULL;
	rc = parse_kind(k, text, &b, e, err);
	if (rc)
		ck_assert_ptr_null(*e);
	if (names)
		val_free(&n);
	if (values)
		val_free(&v);
	return rc;
}

/* Evaluate condition text (no bindings) against item JSON (NULL: absent). */
static bool cond(const char *item, const char *text)
{
	struct dyn_err err;
	struct val it;
	expr_t *e;
	bool r = false;

	ck_assert_msg(parse_with(PC, text, NULL, NULL, &e, &err) == 0, "%s: %s", text, err.msg);
	if (item)
		it = json(item);
	ck_assert_int_eq(expr_eval(e, item ? &it : NULL, &r, &err), 0);
	if (item)
		val_free(&it);
	expr_free(e);
	return r;
}

/* ---- grammar table ---- */

struct gcase {
	enum pkind kind;    /* grammar */
	const char *text;   /* the expression */
	const char *names;  /* ExpressionAttributeNames as JSON, or NULL */
	const char *values; /* ExpressionAttributeValues as JSON, or NULL */
	const char *msg;    /* NULL: valid; else a substring of the message */
	int col;	    /* column of the error (0: not checked) */
};

static const struct gcase grammar[] = {
    /* valid conditions */
    {PC, "a = b", NULL, NULL, NULL, 0},
    {PC, "a <> :v", NULL, "{\":v\": 1}", NULL, 0},
    {PC, "a < b AND b <= c OR NOT c > d AND d >= e", NULL, NULL, NULL, 0},
    {PC, "a between 1 and 5", NULL, NULL, NULL, 0},
    {PC, "a BeTwEeN :lo AnD :hi", NULL, "{\":lo\": \"a\", \":hi\": \"b\"}", NULL, 0},
    {PC, "a IN (1)", NULL, NULL, NULL, 0},
    {PC, "a in (1, \"x\", [1], {\"k\": null}, true)", NULL, NULL, NULL, 0},
    {PC, "attribute_exists(a.b[1].c) and attribute_not_exists(#n)", "{\"#n\": \"x-y\"}", NULL, NULL,
     0},
    {PC, "attribute_type(a, \"SS\")", NULL, NULL, NULL, 0},
    {PC, "attribute_type(a, :t)", NULL, "{\":t\": \"NULL\"}", NULL, 0},
    {PC, "begins_with(a, \"x\") OR contains(b, 3)", NULL, NULL, NULL, 0},
    {PC, "size(a) > 3", NULL, NULL, NULL, 0},
    {PC, ":v < size(a)", NULL, "{\":v\": 1}", NULL, 0},
    {PC, "size(a) BETWEEN 1 AND 2 and size(b) IN (1, 2)", NULL, NULL, NULL, 0},
    {PC, "((a = b))", NULL, NULL, NULL, 0},
    {PC, "NOT NOT NOT a = b", NULL, NULL, NULL, 0},
    {PC, "`name-with-dash` = 1 AND `size` = 2", NULL, NULL, NULL, 0},
    {PC, "size = 1 AND contains = 2 AND _x = 3", NULL, NULL, NULL, 0},
    {PC, "`true` = true AND `null` = null", NULL, NULL, NULL, 0},
    {PC, "a = -1.5e3 and b = {\"$N\": \"123456789012345678901234567890.12345678\"}", NULL, NULL,
     NULL, 0},
    {PC, "x = {\"$B\": \"AAE=\"} and y = {\"$BS\": [\"AAE=\"]} and z = {\"$NS\": [1, 2]}", NULL,
     NULL, NULL, 0},
    {PC, "a = b\n  AND\tc = d", NULL, NULL, NULL, 0},
    {PF, "finished = 1 and contains(scores, 95)", NULL, NULL, NULL, 0},
    /* invalid conditions */
    {PC, "", NULL, NULL, "Invalid ConditionExpression: The expression can not be empty;", 0},
    {PC, "   ", NULL, NULL, "The expression can not be empty;", 0},
    {PF, "", NULL, NULL, "Invalid FilterExpression: The expression can not be empty;", 0},
    {PC, "a =", NULL, NULL, "Syntax error; token: \"\", near: \"=\"", 4},
    {PC, "attribute_exists(pk) x", NULL, NULL, "Syntax error; token: \"x\", near: \") x\"", 22},
    {PC, "attribute_exists(pk) x y", NULL, NULL, "token: \"x\", near: \") x y\"", 22},
    {PC, "a = :v AND", NULL, "{\":v\": 1}", "token: \"\", near: \"AND\"", 11},
    {PC, "(a = b", NULL, NULL, "token: \"\", near: \"b\"", 7},
    {PC, "a.", NULL, NULL, "token: \"\", near: \".\"", 3},
    {PC, "a[", NULL, NULL, "token: \"\", near: \"[\"", 3},
    {PC, "a[x] = 1", NULL, NULL, "token: \"x\", near: \"[x]\"", 3},
    {PC, "a[:v] = 1", NULL, "{\":v\": 1}", "Syntax error; token: \":v\"", 3},
    {PC, "a = b c = d", NULL, NULL, "token: \"c\", near: \"b c =\"", 7},
    {PC, "a", NULL, NULL, "token: \"\", near: \"a\"", 2},
    {PC, "a IN ()", NULL, NULL, "Syntax error; token: \")\"", 7},
    {PC, "a BETWEEN 1", NULL, NULL, "token: \"\", near: \"1\"", 12},
    {PC, "a BETWEEN 1 OR 2", NULL, NULL, "token: \"OR\"", 13},
    {PC, "a = b AND OR c = d", NULL, NULL, "token: \"OR\"", 11},
    {PC, "a ! b", NULL, NULL, "token: \"!\", near: \"a ! b\"", 3},
    {PC, "a = :", NULL, NULL, "token: \":\"", 5},
    {PC, "# = a", NULL, NULL, "token: \"#\"", 1},
    {PC, "(a) = b", NULL, NULL, "token: \")\"", 3},
    {PC, "a = `unterminated", NULL, NULL, "token: \"`\"", 5},
    {PC, "foo(a)", NULL, NULL, "Invalid function name; function: foo", 1},
    {PC, "SIZE(a) = 1", NULL, NULL, "Invalid function name; function: SIZE", 1},
    {PC, "size(a)", NULL, NULL,
     "The function is not allowed to be used this way in an expression; function: size", 1},
    {PC, "attribute_exists(a) = true", NULL, NULL,
     "not allowed to be used this way in an expression; function: attribute_exists", 1},
    {PC, "a = attribute_exists(b)", NULL, NULL, "function: attribute_exists", 5},
    {PC, "list_append(a, b) = c", NULL, NULL, "function: list_append", 1},
    {PC, "if_not_exists(a, 1) = c", NULL, NULL, "function: if_not_exists", 1},
    {PC, "size(a, b) = 1", NULL, NULL,
     "Incorrect number of operands for operator or function; operator or function: size, "
     "number of operands: 2",
     1},
    {PC, "begins_with(a)", NULL, NULL,
     "operator or function: begins_with, number of "
     "operands: 1",
     1},
    {PC, "attribute_exists(:v)", NULL, "{\":v\": 1}",
     "Operator or function requires a document path; operator or function: "
     "attribute_exists",
     18},
    {PC, "attribute_not_exists(1)", NULL, NULL, "requires a document path", 22},
    {PC, "attribute_type(a, b)", NULL, NULL,
     "Incorrect operand type for operator or function; operator or function: "
     "attribute_type",
     19},
    {PC, "attribute_type(a, :t)", NULL, "{\":t\": \"DOG\"}",
     "Invalid attribute type name found in type expression; type: DOG", 19},
    {PC, "attribute_type(a, 5)", NULL, NULL, "operand type: N", 19},
    {PC, "begins_with(a, 5)", NULL, NULL, "operator or function: begins_with, operand type: N", 16},
    {PC, "size(:v) = 1", NULL, "{\":v\": 5}", "operator or function: size, operand type: N", 6},
    {PC, "a < :v", NULL, "{\":v\": [1, 2]}",
     "Incorrect operand type for operator or function; operator or function: <, operand "
     "type: L",
     5},
    {PC, ":v >= a", NULL, "{\":v\": {\"x\": 1}}", "operator or function: >=, operand type: M", 1},
    {PC, "a BETWEEN true AND false", NULL, NULL, "operator or function: BETWEEN", 11},
    {PC, "a BETWEEN 5 AND 1", NULL, NULL,
     "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
     "lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: "
     "{N:1}",
     11},
    {PC, "a BETWEEN 1 AND \"x\"", NULL, NULL,
     "The BETWEEN operator requires same data type for lower and upper bounds", 11},
    {PC, ":v = a", NULL, NULL,
     "Invalid ConditionExpression: An expression attribute value used in expression is not "
     "defined; attribute value: :v",
     1},
    {PC, "a = :w", NULL, "{\":v\": 1}", "attribute value: :w", 5},
    {PC, "#n = a", NULL, NULL,
     "An expression attribute name used in the document path is not defined; attribute "
     "name: #n",
     1},
    {PC, "a.#m = 1", "{\"#n\": \"x\"}", NULL, "attribute name: #m", 3},
    {PC, "a = 1", "{\"#n\": \"x\"}", NULL,
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}", 0},
    {PC, "a = :v", NULL, "{\":v\": 1, \":w\": 2, \":x\": 3}",
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w, :x}", 0},
    {PC, "a = 1", "{}", NULL, "ExpressionAttributeNames must not be empty", 0},
    {PC, "a = 1", NULL, "{}", "ExpressionAttributeValues must not be empty", 0},
    {PC, "a = 1", "{\"n\": \"x\"}", NULL,
     "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\"", 0},
    {PC, "a = 1", "{\"#n\": 5}", NULL, "ExpressionAttributeNames contains invalid value", 0},
    {PC, "a = 1", NULL, "{\"v\": 5}", "ExpressionAttributeValues contains invalid key", 0},
    {PC, "a = {\"x\": }", NULL, NULL, "Invalid ConditionExpression: Invalid inline value:", 11},
    {PC, "a = [1, 2", NULL, NULL, "Invalid inline value", 0},
    {PC, "a = \"unterminated", NULL, NULL, "Invalid inline value", 0},
    {PC, "a = {\"$SS\": []}", NULL, NULL, "Invalid inline value", 0},
    {PC, "a = 1e999", NULL, NULL, "Invalid inline value", 5},
    {PC, "a = - 1", NULL, NULL, "Invalid inline value", 0},
    {PC, "a = True", NULL, NULL, NULL, 0}, /* the attribute True, not a literal */
    {PC, "a = b\n AND c ! d", NULL, NULL, "token: \"!\"", 8},
    {PC, "a[2147483648] = 1", NULL, NULL, "List index is too large", 3},
    /* valid updates */
    {PU, "SET a = :v", NULL, "{\":v\": 1}", NULL, 0},
    {PU, "set a = b, c = c + 1, d = d - :v", NULL, "{\":v\": 1}", NULL, 0},
    {PU, "SET l = list_append(l, [1]), x = if_not_exists(x, 0)", NULL, NULL, NULL, 0},
    {PU, "SET a = if_not_exists(a, 0) + 1", NULL, NULL, NULL, 0},
    {PU, "SET a = list_append(if_not_exists(a, []), [1])", NULL, NULL, NULL, 0},
    {PU, "REMOVE a, b[2], c.d", NULL, NULL, NULL, 0},
    {PU, "ADD n :v, s {\"$SS\": [\"x\"]}", NULL, "{\":v\": 1}", NULL, 0},
    {PU, "DELETE s {\"$NS\": [1]}", NULL, NULL, NULL, 0},
    {PU, "delete s :s add n 1 remove r set a = 1", NULL, "{\":s\": {\"$SS\": [\"a\"]}}", NULL, 0},
    {PU, "SET a.b = 1, a.c = 2, a.l[0] = 1, a.l[1] = 2", NULL, NULL, NULL, 0},
    {PU, "SET and = 1, or = 2", NULL, NULL, NULL, 0},
    {PU, "SET #a = #b", "{\"#a\": \"x\", \"#b\": \"y\"}", NULL, NULL, 0},
    /* invalid updates */
    {PU, "", NULL, NULL, "Invalid UpdateExpression: The expression can not be empty;", 0},
    {PU, "SET = x", NULL, NULL,
     "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"SET = x\"", 5},
    {PU, "SET", NULL, NULL, "token: \"\", near: \"SET\"", 4},
    {PU, "HELLO a = 1", NULL, NULL, "token: \"HELLO\"", 1},
    {PU, "SET a = 1 SET b = 2", NULL, NULL,
     "The \"SET\" section can only be used once in an update expression;", 11},
    {PU, "REMOVE a SET b = 1 REMOVE c", NULL, NULL, "The \"REMOVE\" section can only be used once",
     20},
    {PU, "ADD a 1 ADD b 2", NULL, NULL, "The \"ADD\" section", 9},
    {PU, "DELETE a :s delete b :s", NULL, "{\":s\": {\"$SS\": [\"a\"]}}", "The \"DELETE\" section",
     13},
    {PU, "SET a = 1, REMOVE b", NULL, NULL, "token: \"REMOVE\"", 12},
    {PU, "SET a = :v1 + :v2 + :v3", NULL, "{\":v1\": 1, \":v2\": 2, \":v3\": 3}", "token: \"+\"",
     19},
    {PU, "SET a = if_not_exists(a, 1 + 2)", NULL, NULL, "token: \"+\"", 28},
    {PU, "SET :a = 1", NULL, "{\":a\": 1}", "token: \":a\"", 5},
    {PU, "SET a = 1, a = 2", NULL, NULL,
     "Two document paths overlap with each other; must remove or rewrite one of these "
     "paths; path one: [a], path two: [a]",
     12},
    {PU, "SET #a1 = :v, #a2 = :v", "{\"#a1\": \"a\", \"#a2\": \"a\"}", "{\":v\": 1}",
     "path one: [a], path two: [a]", 15},
    {PU, "SET a = 1 REMOVE a", NULL, NULL, "overlap", 18},
    {PU, "SET a.b = 1, a = 2", NULL, NULL, "path one: [a, b], path two: [a]", 14},
    {PU, "SET a[1][1] = 1, a[1] = 2", NULL, NULL,
     "path one: [a, [1], [1]], path two: "
     "[a, [1]]",
     18},
    {PU, "SET a.b = 1, a[1] = 2", NULL, NULL,
     "Two document paths conflict with each other; must remove or rewrite one of these "
     "paths; path one: [a, b], path two: [a, [1]]",
     14},
    {PU, "ADD a 1 DELETE a :s", NULL, "{\":s\": {\"$SS\": [\"a\"]}}", "overlap", 16},
    {PU, "ADD a :v", NULL, "{\":v\": \"hello\"}",
     "Incorrect operand type for operator or function; operator: ADD, operand type: STRING", 7},
    {PU, "ADD a true", NULL, NULL, "operator: ADD, operand type: BOOLEAN", 7},
    {PU, "ADD a :l", NULL, "{\":l\": [1]}", "operator: ADD, operand type: LIST", 7},
    {PU, "ADD a [1]", NULL, NULL, "token: \"\", near: \"]\"", 10}, /* a[1], no value */
    {PU, "ADD a b", NULL, NULL, "token: \"b\"", 7},
    {PU, "DELETE a 1", NULL, NULL, "operator: DELETE, operand type: NUMBER", 10},
    {PU, "SET a = :v + 1", NULL, "{\":v\": \"x\"}",
     "Incorrect operand type for operator or function; operator or function: +, operand "
     "type: S",
     9},
    {PU, "SET a = list_append(:v, b)", NULL, "{\":v\": \"x\"}",
     "operator or function: list_append, operand type: S", 21},
    {PU, "SET a = list_append(list_append(a, b), c)", NULL, NULL,
     "The function is not allowed to be used this way in an expression; function: "
     "list_append",
     21},
    {PU, "SET a = list_append(a)", NULL, NULL,
     "Incorrect number of operands for operator or function; operator or function: "
     "list_append, number of operands: 1",
     9},
    {PU, "SET a = if_not_exists(:v, 1)", NULL, "{\":v\": 1}",
     "Operator or function requires a document path; operator or function: if_not_exists", 23},
    {PU, "SET a = size(b)", NULL, NULL,
     "The function is not allowed in an update expression; function: size", 9},
    {PU, "SET a = f(b)", NULL, NULL, "Invalid function name; function: f", 9},
    {PU, "SET a = :v", NULL, NULL,
     "Invalid UpdateExpression: An expression attribute value "
     "used in expression is not defined; attribute value: :v",
     9},
    {PU, "SET a = 1", NULL, "{\":v\": 1}", "ExpressionAttributeValues unused", 0},
    /* projections */
    {PP, "a, b.c, d[1], #n", "{\"#n\": \"x\"}", NULL, NULL, 0},
    {PP, "size, and, `a b`", NULL, NULL, NULL, 0},
    {PP, "", NULL, NULL, "Invalid ProjectionExpression: The expression can not be empty;", 0},
    {PP, "a,", NULL, NULL, "token: \"\", near: \",\"", 3},
    {PP, "a b", NULL, NULL, "token: \"b\"", 3},
    {PP, "a, a", NULL, NULL, "Invalid ProjectionExpression: Two document paths overlap", 4},
    {PP, "a.b, a", NULL, NULL, "path one: [a, b], path two: [a]", 6},
    {PP, "a[1], a.b", NULL, NULL, "conflict", 7},
    {PP, "a = 1", NULL, NULL, "token: \"=\"", 3},
};

START_TEST(test_parse_grammar_table)
{
	const struct gcase *c = &grammar[_i];
	struct dyn_err err;
	expr_t *e;
	int rc = parse_with(c->kind, c->text, c->names, c->values, &e, &err);

	if (!c->msg) {
		ck_assert_msg(rc == 0, "[%d] %s: unexpected error: %s", _i, c->text, err.msg);
		ck_assert_ptr_nonnull(e);
		expr_free(e);
		return;
	}
	ck_assert_msg(rc == -EINVAL, "[%d] %s: accepted, expected \"%s\"", _i, c->text, c->msg);
	ck_assert_int_eq(err.code, EINVAL);
	ck_assert_msg(strstr(err.msg, c->msg), "[%d] %s:\n got \"%s\"\nwant \"%s\"", _i, c->text,
		      err.msg, c->msg);
	if (c->col) {
		ck_assert_msg(err.line == 1 || strchr(c->text, '\n'), "[%d] line %d", _i, err.line);
		ck_assert_msg(err.col == c->col, "[%d] %s: column %d, want %d (%s)", _i, c->text,
			      err.col, c->col, err.msg);
	}
}
END_TEST

START_TEST(test_parse_position_counts_lines)
{
	struct dyn_err err;
	expr_t *e;

	ck_assert_int_eq(parse_with(PC, "a = b\n AND c ! d", NULL, NULL, &e, &err), -EINVAL);
	ck_assert_int_eq(err.line, 2);
	ck_assert_int_eq(err.col, 8);
}
END_TEST

START_TEST(test_parse_text_limit)
{
	char *text = malloc(EXPR_MAX_TEXT + 2);
	struct dyn_err err;
	expr_t *e;
	size_t n;

	/* "a = 1 OR a = 1 OR ..." padded with spaces to exactly the limit. */
	n = (size_t)sprintf(text, "a = 1");
	memset(text + n, ' ', EXPR_MAX_TEXT - n);
	text[EXPR_MAX_TEXT] = 0;
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), 0);
	expr_free(e);
	text[EXPR_MAX_TEXT] = ' ';
	text[EXPR_MAX_TEXT + 1] = 0;
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "Invalid ConditionExpression: Expression size has exceeded the "
				  "maximum allowed size; expression size: 4097");
	free(text);
}
END_TEST

/* n comparisons joined by AND: 2n - 1 operators. */
static char *chain(int n)
{
	char *t = malloc((size_t)n * 16 + 1);
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(t + len, "%sa<b", i ? " AND " : "");
	return t;
}

START_TEST(test_parse_operator_limit)
{
	struct dyn_err err;
	expr_t *e;
	char *t = chain(150); /* 299 operators */

	ck_assert_int_eq(parse_with(PC, t, NULL, NULL, &e, &err), 0);
	expr_free(e);
	free(t);
	t = chain(151); /* 301 */
	ck_assert_int_eq(parse_with(PC, t, NULL, NULL, &e, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "Invalid ConditionExpression: The expression contains too many "
				  "operators; operator count: 301");
	free(t);
}
END_TEST

START_TEST(test_parse_depth_limit)
{
	char text[EXPR_MAX_TEXT + 1];
	struct dyn_err err;
	expr_t *e;
	int d;

	/* EXPR_MAX_DEPTH parentheses are fine, one more is not. */
	for (d = EXPR_MAX_DEPTH; d <= EXPR_MAX_DEPTH + 1; d++) {
		size_t n = 0;

		for (int i = 0; i < d; i++)
			text[n++] = '(';
		n += (size_t)sprintf(text + n, "a=b");
		for (int i = 0; i < d; i++)
			text[n++] = ')';
		text[n] = 0;
		if (d == EXPR_MAX_DEPTH) {
			ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), 0);
			expr_free(e);
		} else {
			ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
			ck_assert_ptr_nonnull(strstr(err.msg, "nested too deeply"));
			ck_assert_int_eq(err.col, EXPR_MAX_DEPTH + 1);
		}
	}
	/* Thousands of ( within the text limit never reach the stack's end. */
	memset(text, '(', EXPR_MAX_TEXT);
	text[EXPR_MAX_TEXT] = 0;
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
	memset(text, 0, sizeof(text));
	for (d = 0; d + 4 < EXPR_MAX_TEXT; d += 4)
		memcpy(text + d, "NOT ", 4);
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
}
END_TEST

START_TEST(test_parse_in_limit)
{
	char text[1024];
	struct dyn_err err;
	expr_t *e;
	size_t n;

	n = (size_t)sprintf(text, "a IN (0");
	for (int i = 1; i < EXPR_MAX_IN; i++)
		n += (size_t)sprintf(text + n, ",%d", i);
	strcpy(text + n, ")");
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), 0);
	expr_free(e);
	strcpy(text + n, ",100)");
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "The IN operator is provided with too many operands; "
					      "number of operands: 101"));
}
END_TEST

START_TEST(test_parse_path_limit)
{
	char text[256];
	struct dyn_err err;
	expr_t *e;
	size_t n = 0;

	for (int i = 0; i < EXPR_MAX_PATH; i++)
		n += (size_t)sprintf(text + n, "%sa", i ? "." : "");
	strcpy(text + n, " = 1");
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), 0);
	expr_free(e);
	strcpy(text + n, "[0] = 1");
	ck_assert_int_eq(parse_with(PC, text, NULL, NULL, &e, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "too many nesting levels"));
}
END_TEST

START_TEST(test_bind_shared_checks_unused_across_expressions)
{
	struct val names = json("{\"#k\": \"id\", \"#s\": \"status\"}");
	struct val values = json("{\":pk\": \"u1\", \":s\": \"on\", \":x\": 1}");
	struct expr_bind b = {&names, &values, EXPR_BIND_SHARED};
	struct dyn_err err;
	expr_t *c, *u;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition("#k = :pk", 8, &b, &c, &err), 0);
	ck_assert_int_eq(expr_parse_update("SET #s = :s", 11, &b, &u, &err), 0);
	{
		const expr_t *both[] = {c, u, NULL};

		ck_assert_int_eq(expr_check_unused(&b, both, 3, &err), -EINVAL);
		ck_assert_str_eq(err.msg, "Value provided in ExpressionAttributeValues unused in "
					  "expressions: keys: {:x}");
	}
	expr_free(u);
	err_clear(&err);
	ck_assert_int_eq(expr_parse_update("SET #s = :s ADD n :x", 20, &b, &u, &err), 0);
	{
		const expr_t *both[] = {c, u};

		ck_assert_int_eq(expr_check_unused(&b, both, 2, &err), 0);
		/* Without the condition, #k and :pk are unused. */
		ck_assert_int_eq(expr_check_unused(&b, both + 1, 1, &err), -EINVAL);
		ck_assert_str_eq(err.msg, "Value provided in ExpressionAttributeNames unused in "
					  "expressions: keys: {#k}");
	}
	expr_free(c);
	expr_free(u);
	ck_assert_int_eq(expr_check_unused(NULL, NULL, 0, &err), 0);
	val_free(&names);
	val_free(&values);
}
END_TEST

START_TEST(test_bind_values_are_copied)
{
	struct val values = json("{\":v\": [1, 2]}");
	struct expr_bind b = {NULL, &values, 0};
	struct val item = json("{\"a\": [1, 2]}");
	struct dyn_err err;
	expr_t *e;
	bool r;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition("a = :v", 6, &b, &e, &err), 0);
	val_free(&values); /* the compiled expression keeps its own copy */
	ck_assert_int_eq(expr_eval(e, &item, &r, &err), 0);
	ck_assert(r);
	expr_free(e);
	val_free(&item);
}
END_TEST

START_TEST(test_bind_names_any_characters)
{
	struct val names = json("{\"#n\": \"3can include any character!.#=\", \"#d\": \"a.b\"}");
	struct expr_bind b = {&names, NULL, 0};
	struct val item = json("{\"3can include any character!.#=\": 1, \"a.b\": 2, "
			       "\"a\": {\"b\": 3}}");
	struct dyn_err err;
	expr_t *e;
	bool r;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition("#n = 1 AND #d = 2 AND a.b = 3", 29, &b, &e, &err),
			 0);
	ck_assert_int_eq(expr_eval(e, &item, &r, &err), 0);
	ck_assert(r);
	expr_free(e);
	val_free(&item);
	val_free(&names);
}
END_TEST

START_TEST(test_parse_nul_bytes)
{
	static const char lit[] = "a = {\"$SS\": [\"b\")S\0 \"";
	static const char name[] = "a\0 = 1";
	struct dyn_err err;
	expr_t *e;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition(lit, sizeof(lit) - 1, NULL, &e, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "Invalid ConditionExpression: Invalid inline value: unexpected "
				  "NUL byte");
	ck_assert_int_eq(err.col, 19);
	err_clear(&err);
	ck_assert_int_eq(expr_parse_condition(name, sizeof(name) - 1, NULL, &e, &err), -EINVAL);
	ck_assert_int_eq(err.col, 2);
	ck_assert_ptr_nonnull(strstr(err.msg, "Syntax error; token: \" \""));
}
END_TEST

START_TEST(test_parse_null_bind_and_null_err)
{
	expr_t *e;

	ck_assert_int_eq(expr_parse_condition("a = 1", 5, NULL, &e, NULL), 0);
	expr_free(e);
	ck_assert_int_eq(expr_parse_condition("a = ", 4, NULL, &e, NULL), -EINVAL);
	ck_assert_ptr_null(e);
	expr_free(NULL);
}
END_TEST

/* ---- evaluation ---- */

/* One attribute of every type. */
static const char *const every_type =
    "{\"s\": \"hello\", \"n\": 42, \"b\": {\"$B\": \"aGVsbG8=\"}, \"t\": true, \"f\": false, "
    "\"z\": null, \"l\": [1, \"two\", {\"x\": 3}, [4]], \"m\": {\"a\": 1, \"b\": {\"c\": [5, 6]}},"
    " \"ss\": {\"$SS\": [\"a\", \"b\"]}, \"ns\": {\"$NS\": [1, 2.5]}, "
    "\"bs\": {\"$BS\": [\"AQ==\", \"Ag==\"]}, \"e\": \"\", \"el\": [], \"em\": {}, "
    "\"big\": {\"$N\": \"12345678901234567890123456789012345678\"}}";

struct ecase {
	const char *cond; /* condition */
	bool want;	  /* its value on every_type */
};

static const struct ecase evals[] = {
    /* = and <> on every type, inline literals of every type */
    {"s = \"hello\"", true},
    {"s = \"Hello\"", false},
    {"n = 42 AND n = 42.0 AND n = 4.2e1 AND n = {\"$N\": \"42\"}", true},
    {"b = {\"$B\": \"aGVsbG8=\"}", true},
    {"t = true AND f = false AND t <> false", true},
    {"z = null", true},
    {"l = [1, \"two\", {\"x\": 3}, [4]]", true},
    {"l = [1, \"two\", {\"x\": 3}]", false},
    {"m = {\"b\": {\"c\": [5, 6]}, \"a\": 1}", true},
    {"ss = {\"$SS\": [\"b\", \"a\"]} AND ns = {\"$NS\": [2.5, 1]}", true},
    {"bs = {\"$BS\": [\"Ag==\", \"AQ==\"]}", true},
    {"ss = {\"$SS\": [\"a\"]}", false},
    {"e = \"\" AND el = [] AND em = {}", true},
    {"big = {\"$N\": \"12345678901234567890123456789012345678\"}", true},
    {"big = {\"$N\": \"12345678901234567890123456789012345679\"}", false},
    {"big < {\"$N\": \"12345678901234567890123456789012345679\"}", true},
    /* different types: = false, <> true, ordering false */
    {"n = \"42\"", false},
    {"n <> \"42\"", true},
    {"s = b", false},
    {"ns = [1, 2.5]", false},
    {"n < \"50\" OR n > \"1\" OR n <= \"x\" OR n >= \"x\"", false},
    {"t < 1 OR l < 1 OR m > 1 OR ss >= \"a\" OR z <= 1", false},
    {"z = false", false},
    /* missing attributes */
    {"nope = 1", false},
    {"nope <> 1", true},
    {"nope = nope2", false},
    {"nope <> nope2", true},
    {"nope < 1 OR nope <= 1 OR nope > 1 OR nope >= 1", false},
    {"1 > nope", false},
    {"nope BETWEEN 1 AND 2", false},
    {"nope IN (1, 2)", false},
    {"s.x = 1 OR n[0] = 1 OR l[9] = 1 OR l.x = 1 OR m[0] = 1", false},
    /* ordering S, N, B */
    {"s < \"hellp\" AND s > \"hell\" AND s <= \"hello\" AND s >= \"hello\"", true},
    {"s < \"Z\"", false},
    {"n < 42.000001 AND n > 41.9 AND n >= 42 AND n <= 42", true},
    {"n < -1", false},
    {"b > {\"$B\": \"aGVs\"} AND b < {\"$B\": \"aQ==\"}", true},
    /* BETWEEN, IN */
    {"n BETWEEN 42 AND 42", true},
    {"n BETWEEN 1 AND 41", false},
    {"s BETWEEN \"a\" AND \"z\"", true},
    {"n BETWEEN \"a\" AND \"z\"", false},
    {"n BETWEEN m.a AND 100", true},
    {"n BETWEEN 1 AND s", false},
    {"n IN (1, 2, 42)", true},
    {"n IN (\"42\", [42])", false},
    {"l IN (1, [1, \"two\", {\"x\": 3}, [4]])", true},
    {"ss IN ({\"$SS\": [\"a\", \"b\"]})", true},
    /* nested paths and list indexes */
    {"m.b.c[1] = 6 AND l[2].x = 3 AND l[3][0] = 4 AND l[0] = 1", true},
    {"m.b.c[2] = 6", false},
    {"m.a < m.b.c[0]", true},
    /* attribute_exists / not_exists / type */
    {"attribute_exists(s) AND attribute_exists(z) AND attribute_exists(m.b.c[1])", true},
    {"attribute_exists(nope) OR attribute_exists(m.b.c[2]) OR attribute_exists(s.x)", false},
    {"attribute_not_exists(nope) AND NOT attribute_not_exists(el)", true},
    {"attribute_type(s, \"S\") AND attribute_type(n, \"N\") AND attribute_type(b, \"B\")", true},
    {"attribute_type(t, \"BOOL\") AND attribute_type(z, \"NULL\") AND attribute_type(l, \"L\")",
     true},
    {"attribute_type(m, \"M\") AND attribute_type(ss, \"SS\") AND attribute_type(ns, \"NS\")",
     true},
    {"attribute_type(bs, \"BS\") AND attribute_type(m.b.c, \"L\")", true},
    {"attribute_type(s, \"N\") OR attribute_type(nope, \"NULL\") OR attribute_type(ss, \"L\")",
     false},
    {"attribute_type(123, \"N\")", true},
    /* begins_with */
    {"begins_with(s, \"he\") AND begins_with(s, \"hello\") AND begins_with(s, \"\")", true},
    {"begins_with(s, \"hello!\") OR begins_with(s, \"e\") OR begins_with(nope, \"\")", false},
    {"begins_with(b, {\"$B\": \"aGU=\"})", true},
    {"begins_with(b, \"he\") OR begins_with(n, \"4\") OR begins_with(ss, \"a\")", false},
    {"begins_with(\"hello world\", s)", true},
    /* contains */
    {"contains(s, \"ell\") AND contains(s, \"\") AND contains(s, \"hello\")", true},
    {"contains(s, \"hello!\") OR contains(s, 1)", false},
    {"contains(b, {\"$B\": \"bGw=\"})", true},
    {"contains(b, \"ll\")", false},
    {"contains(ss, \"a\") AND contains(ns, 2.50) AND contains(bs, {\"$B\": \"Ag==\"})", true},
    {"contains(ss, \"c\") OR contains(ns, \"1\") OR contains(ns, 3) OR contains(bs, \"AQ==\")",
     false},
    {"contains(l, 1) AND contains(l, \"two\") AND contains(l, {\"x\": 3}) AND contains(l, [4])",
     true},
    {"contains(l, \"1\") OR contains(l, 4) OR contains(el, 1)", false},
    {"contains(n, 4) OR contains(m, \"a\") OR contains(nope, 1) OR contains(t, true)", false},
    /* size */
    {"size(s) = 5 AND size(b) = 5 AND size(e) = 0", true},
    {"size(l) = 4 AND size(m) = 2 AND size(ss) = 2 AND size(ns) = 2 AND size(bs) = 2", true},
    {"size(el) = 0 AND size(em) = 0 AND size(m.b.c) = 2", true},
    {"size(n) = 2 OR size(t) = 1 OR size(z) = 0 OR size(nope) = 0", false},
    {"size(n) <> 2", true},
    {"size(s) = \"5\"", false},
    {"size(s) = n OR size(l) < n", true},
    {"size(\"héllo\") = 6", true},
    {"size(s) BETWEEN 1 AND 5 AND size(l) IN (3, 4)", true},
    /* logic and precedence */
    {"n = 1 OR n = 42 AND s = \"hello\"", true},
    {"n = 42 OR n = 1 AND s = \"nope\"", true},
    {"(n = 42 OR n = 1) AND s = \"nope\"", false},
    {"NOT n = 1 AND s = \"hello\"", true},
    {"NOT (n = 42 AND s = \"hello\")", false},
    {"NOT NOT n = 42", true},
    {"n BETWEEN 1 AND 50 AND s = \"hello\"", true},
    {"n = 1 OR n = 2 OR n = 3 OR n = 42", true},
    {"n = 42 AND s = \"hello\" AND t = true AND z = null AND f = true", false},
    /* constants on both sides */
    {"1 = 1 AND \"a\" < \"b\" AND NOT 1 = 2", true},
};

START_TEST(test_eval_table)
{
	const struct ecase *c = &evals[_i];

	ck_assert_msg(cond(every_type, c->cond) == c->want, "[%d] %s should be %s", _i, c->cond,
		      c->want ? "true" : "false");
}
END_TEST

START_TEST(test_eval_absent_item)
{
	ck_assert(!cond(NULL, "a = 1"));
	ck_assert(cond(NULL, "a <> 1"));
	ck_assert(cond(NULL, "attribute_not_exists(id)"));
	ck_assert(!cond(NULL, "attribute_exists(id)"));
	ck_assert(cond(NULL, "1 = 1"));
}
END_TEST

START_TEST(test_eval_bound_values)
{
	struct val names = json("{\"#l\": \"level\", \"#w\": \"week\"}");
	struct val values = json("{\":lo\": 1, \":hi\": 3, \":p\": \"2022-\", "
				 "\":set\": {\"$NS\": [1, 2]}}");
	struct expr_bind b = {&names, &values, 0};
	struct val item = json("{\"level\": 2, \"week\": \"2022-09\", \"s\": {\"$NS\": [2, 1]}}");
	const char *text = "#l BETWEEN :lo AND :hi AND begins_with(#w, :p) AND s = :set";
	struct dyn_err err;
	expr_t *e;
	bool r;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_filter(text, strlen(text), &b, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, &item, &r, &err), 0);
	ck_assert(r);
	expr_free(e);
	val_free(&item);
	val_free(&names);
	val_free(&values);
}
END_TEST

START_TEST(test_eval_rejects_other_kinds)
{
	struct dyn_err err;
	expr_t *e;
	bool r = true;

	ck_assert_int_eq(parse_with(PU, "SET a = 1", NULL, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, NULL, &r, &err), -EINVAL);
	ck_assert(!r);
	expr_free(e);
}
END_TEST

/* ---- projection ---- */

static void project(const char *item, const char *text, const char *want)
{
	struct dyn_err err;
	struct val it, out, w = json(want);
	expr_t *e;

	ck_assert_msg(parse_with(PP, text, NULL, NULL, &e, &err) == 0, "%s: %s", text, err.msg);
	if (item)
		it = json(item);
	ck_assert_int_eq(expr_project(e, item ? &it : NULL, &out, &err), 0);
	ck_assert_msg(val_equal(&out, &w), "projection %s differs from %s", text, want);
	ck_assert_int_eq(val_check(&out, &err), 0);
	val_free(&out);
	val_free(&w);
	if (item)
		val_free(&it);
	expr_free(e);
}

START_TEST(test_project_paths)
{
	const char *it =
	    "{\"id\": \"x\", \"a\": 1, \"m\": {\"p\": 1, \"q\": {\"r\": 2}, \"s\": 3}, "
	    "\"l\": [10, {\"k\": 1, \"j\": 2}, 30, [40, 41]], \"ss\": {\"$SS\": [\"a\"]}}";

	project(it, "id", "{\"id\": \"x\"}");
	project(it, "a, ss", "{\"a\": 1, \"ss\": {\"$SS\": [\"a\"]}}");
	project(it, "m.q.r, m.s", "{\"m\": {\"q\": {\"r\": 2}, \"s\": 3}}");
	project(it, "l[2], l[0]", "{\"l\": [10, 30]}");
	project(it, "l[1].j, l[3][1], l[9]", "{\"l\": [{\"j\": 2}, [41]]}");
	project(it, "nope, m.nope, l[9], a.b", "{}");
	project(it, "l.x, m[0], ss[0]", "{}");
	project(it, "m, id", "{\"id\": \"x\", \"m\": {\"p\": 1, \"q\": {\"r\": 2}, \"s\": 3}}");
	project(it, "m.q, m.p", "{\"m\": {\"p\": 1, \"q\": {\"r\": 2}}}");
	project(NULL, "a", "{}");
}
END_TEST

START_TEST(test_project_bound_names)
{
	struct val names = json("{\"#a\": \"x-y\"}");
	struct expr_bind b = {&names, NULL, 0};
	struct val item = json("{\"x-y\": 1, \"z\": 2}"), out, want = json("{\"x-y\": 1}");
	struct dyn_err err;
	expr_t *e;

	err_clear(&err);
	ck_assert_int_eq(expr_parse_projection("#a", 2, &b, &e, &err), 0);
	ck_assert_int_eq(expr_project(e, &item, &out, &err), 0);
	ck_assert(val_equal(&out, &want));
	val_free(&out);
	expr_free(e);
	ck_assert_int_eq(expr_parse_projection("`x-y`", 5, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_project(e, &item, &out, &err), 0);
	ck_assert(val_equal(&out, &want));
	val_free(&out);
	expr_free(e);
	val_free(&item);
	val_free(&want);
	val_free(&names);
}
END_TEST

Suite *expr_suite(void);
Suite *expr_suite(void)
{
	Suite *s = suite_create("expr");
	TCase *tc;

	tc = tcase_create("expr_parse");
	tcase_add_loop_test(tc, test_parse_grammar_table, 0, sizeof(grammar) / sizeof(grammar[0]));
	tcase_add_test(tc, test_parse_position_counts_lines);
	tcase_add_test(tc, test_parse_text_limit);
	tcase_add_test(tc, test_parse_operator_limit);
	tcase_add_test(tc, test_parse_depth_limit);
	tcase_add_test(tc, test_parse_in_limit);
	tcase_add_test(tc, test_parse_path_limit);
	tcase_add_test(tc, test_parse_nul_bytes);
	tcase_add_test(tc, test_parse_null_bind_and_null_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("expr_bind");
	tcase_add_test(tc, test_bind_shared_checks_unused_across_expressions);
	tcase_add_test(tc, test_bind_values_are_copied);
	tcase_add_test(tc, test_bind_names_any_characters);
	suite_add_tcase(s, tc);

	tc = tcase_create("expr_eval");
	tcase_add_loop_test(tc, test_eval_table, 0, sizeof(evals) / sizeof(evals[0]));
	tcase_add_test(tc, test_eval_absent_item);
	tcase_add_test(tc, test_eval_bound_values);
	tcase_add_test(tc, test_eval_rejects_other_kinds);
	suite_add_tcase(s, tc);

	tc = tcase_create("expr_project");
	tcase_add_test(tc, test_project_paths);
	tcase_add_test(tc, test_project_bound_names);
	suite_add_tcase(s, tc);
	return s;
}
