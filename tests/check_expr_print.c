/*
 * check_expr_print.c - expressions back to text (expr_to_text,
 * engine/expr_print.c): for many expressions of every grammar, the
 * printed text with its #n/:v maps parses again under EXPR_STRICT (what
 * DynamoDB accepts) into the same tree (compared node by node here), and
 * printing that gives the same text and maps.  Sources: a table written
 * for the printer's edges (nesting, precedence, every function and
 * clause, names that need #placeholders) and the fuzz corpus of the
 * expression parser (fuzz/corpus/fuzz_expr) with the fuzzer's bindings.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exprint.h"
#include "fix_file.h"
#include "item.h"

enum pk { PC, PU, PP };

static int parse(enum pk k, const char *text, size_t n, const struct expr_bind *b, expr_t **e,
		 struct dyn_err *err)
{
	switch (k) {
	case PC:
		return expr_parse_condition(text, n, b, e, err);
	case PU:
		return expr_parse_update(text, n, b, e, err);
	case PP:
		return expr_parse_projection(text, n, b, e, err);
	}
	return -EINVAL;
}

/* ---- structural equality ---- */

static bool path_eq(const struct xpath *a, const struct xpath *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct xelem *x = &a->el[i], *y = &b->el[i];

		if (!x->name != !y->name)
			return false;
		if (x->name ? (x->len != y->len || memcmp(x->name, y->name, x->len))
			    : x->index != y->index)
			return false;
	}
	return true;
}

static bool op_eq(const struct xop *a, const struct xop *b)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case XO_PATH:
		return path_eq(&a->path, &b->path);
	case XO_CONST:
		return val_equal(a->cval, b->cval) && a->cval->type == b->cval->type;
	default:
		return op_eq(a->a, b->a) && op_eq(a->b, b->b);
	}
}

static bool oplist_eq(const struct xop *a, const struct xop *b)
{
	for (; a && b; a = a->next, b = b->next)
		if (!op_eq(a, b))
			return false;
	return !a && !b;
}

static bool cond_eq(const struct xcond *a, const struct xcond *b)
{
	const struct xcond *x, *y;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case XC_AND:
	case XC_OR:
	case XC_NOT:
		for (x = a->kids, y = b->kids; x && y; x = x->next, y = y->next) {
			if (!cond_eq(x, y))
				return false;
			if (a->kind == XC_NOT)
				return true;
		}
		return !x && !y;
	case XC_CMP:
		return a->cmp == b->cmp && op_eq(a->a, b->a) && op_eq(a->b, b->b);
	case XC_IN:
		return op_eq(a->a, b->a) && oplist_eq(a->b, b->b);
	case XC_TYPE:
		return a->type == b->type && op_eq(a->a, b->a);
	default:
		return op_eq(a->a, b->a) && op_eq(a->b, b->b) && op_eq(a->c, b->c);
	}
}

/* Updates: equal action by action within each clause kind. */
static bool update_eq(const struct expr *a, const struct expr *b)
{
	int k;

	if (a->nact != b->nact)
		return false;
	for (k = XA_SET; k <= XA_DELETE; k++) {
		size_t i = 0, j = 0;

		for (;;) {
			while (i < a->nact && (int)a->act[i].kind != k)
				i++;
			while (j < b->nact && (int)b->act[j].kind != k)
				j++;
			if (i == a->nact || j == b->nact)
				break;
			if (!path_eq(&a->act[i].path, &b->act[j].path) ||
			    !op_eq(a->act[i].val, b->act[j].val))
				return false;
			i++;
			j++;
		}
		if (i != a->nact || j != b->nact)
			return false;
	}
	return true;
}

static bool expr_eq(const struct expr *a, const struct expr *b)
{
	size_t i;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case EXPR_CONDITION:
		return cond_eq(a->cond, b->cond);
	case EXPR_UPDATE:
		return update_eq(a, b);
	case EXPR_PROJECTION:
		if (a->npaths != b->npaths)
			return false;
		for (i = 0; i < a->npaths; i++)
			if (!path_eq(&a->paths[i], &b->paths[i]))
				return false;
		return true;
	}
	return false;
}

/* ---- round trip ---- */

/* print(e) parses back (strict) to e; printing again is a fixed point. */
static void round_trip(enum pk k, const expr_t *e, const char *src)
{
	struct expr_text t1, t2;
	struct expr_bind b;
	struct dyn_err err;
	char *s1, *s2;
	expr_t *e2;
	int rc;

	expr_text_init(&t1);
	expr_text_init(&t2);
	ck_assert_int_eq(expr_to_text(e, &t1, &s1), 0);
	/* Empty maps are left out, as DynamoDB requires. */
	b = (struct expr_bind){t1.names.m.len ? &t1.names : NULL,
			       t1.values.m.len ? &t1.values : NULL, EXPR_STRICT | EXPR_UNLIMITED};
	err_clear(&err);
	rc = parse(k, s1, strlen(s1), &b, &e2, &err);
	ck_assert_msg(rc == 0, "%s\n  printed as %s\n  does not parse: %s", src, s1, err.msg);
	ck_assert_msg(expr_eq(e, e2), "%s\n  printed as %s\n  parses to another tree", src, s1);
	ck_assert_int_eq(expr_to_text(e2, &t2, &s2), 0);
	ck_assert_str_eq(s1, s2);
	ck_assert(val_equal(&t1.names, &t2.names));
	ck_assert(val_equal(&t1.values, &t2.values));
	for (size_t i = 0; i < t1.names.m.len; i++)
		ck_assert(t1.names.m.a[i].name[0] == '#');
	expr_free(e2);
	free(s1);
	free(s2);
	expr_text_free(&t1);
	expr_text_free(&t2);
}

struct pcase {
	enum pk kind;	  /* grammar */
	const char *text; /* with inline literals (no bindings) */
};

static const struct pcase cases[] = {
    {PC, "a = b"},
    {PC, "a <> 1 AND b < 2 AND c <= 3"},
    {PC, "a > \"x\" OR b >= {\"$B\": \"AQ==\"}"},
    {PC, "a < b AND b <= c OR NOT c > d AND d >= e"},
    {PC, "(a = 1 OR b = 2) AND c = 3"},
    {PC, "a = 1 AND (b = 2 AND c = 3)"},
    {PC, "(a = 1 OR b = 2) OR c = 3"},
    {PC, "NOT (a = 1 AND b = 2)"},
    {PC, "NOT (a = 1 OR b = 2)"},
    {PC, "NOT NOT a = 1"},
    {PC, "NOT a = 1 OR NOT (b = 2 OR NOT c = 3)"},
    {PC, "a BETWEEN 1 AND 5 AND b BETWEEN \"a\" AND \"z\""},
    {PC, "a IN (1, \"x\", [1], {\"k\": null}, true)"},
    {PC, "attribute_exists(a.b[1].c) AND attribute_not_exists(`x-y`)"},
    {PC, "attribute_type(a, \"SS\")"},
    {PC, "begins_with(a, \"pre\") OR begins_with(b, {\"$B\": \"AQ==\"})"},
    {PC, "contains(tags, \"red\") AND contains(s, x)"},
    {PC, "size(a) > 3 AND size(l[2].m) = size(b)"},
    {PC, "m.level = 1 AND m.`name` = \"n\" AND status = null"},
    {PC, "a[0][1].b[2] = {\"$NS\": [1, 2.5]}"},
    {PC, "x = {\"$N\": \"1e100\"} AND y = -0.5 AND z = {\"$N\": "
	 "\"9.9999999999999999999999999999999999999E+125\"}"},
    {PC, "u = \"\\u00e9t\\u00e9 \\ud83d\\ude00\" AND `sp ace` = \"\""},
    {PC, "a = a AND a = a"},
    {PU, "SET a = 1"},
    {PU, "SET a = b, c = b + 1, d = 5 - c, e = if_not_exists(e, 0)"},
    {PU, "SET l = list_append(l, [1, 2]), m = list_append([0], if_not_exists(m, []))"},
    {PU,
     "SET a.b[3].c = \"x\" REMOVE d, e[1] ADD n 1, s {\"$SS\": [\"q\"]} DELETE t {\"$NS\": [4]}"},
    {PU, "REMOVE x SET y = 2"},
    {PU, "DELETE s {\"$SS\": [\"a\"]} ADD c -1"},
    {PU, "SET level = level + 1, `name` = \"n\""},
    {PP, "a"},
    {PP, "a, b.c, d[1], e[0].f, `x-y`"},
    {PP, "m.level, status, l[3], l[1]"},
};

START_TEST(test_to_text_round_trips)
{
	const struct pcase *c = &cases[_i];
	struct dyn_err err;
	expr_t *e;

	err_clear(&err);
	ck_assert_msg(parse(c->kind, c->text, strlen(c->text), NULL, &e, &err) == 0, "%s: %s",
		      c->text, err.msg);
	round_trip(c->kind, e, c->text);
	expr_free(e);
}
END_TEST

START_TEST(test_to_text_shares_maps_across_expressions)
{
	struct expr_text t;
	expr_t *u, *c;
	char *su, *sc;

	ck_assert_int_eq(expr_parse_update("SET a = 1, b = a", 16, NULL, &u, NULL), 0);
	ck_assert_int_eq(expr_parse_condition("a = 2 AND attribute_exists(c)", 29, NULL, &c, NULL),
			 0);
	expr_text_init(&t);
	ck_assert_int_eq(expr_to_text(u, &t, &su), 0);
	ck_assert_int_eq(expr_to_text(c, &t, &sc), 0);
	ck_assert_str_eq(su, "SET #n0 = :v0, #n1 = #n0");
	ck_assert_str_eq(sc, "#n0 = :v1 AND attribute_exists(#n2)");
	ck_assert_uint_eq(t.names.m.len, 3);
	ck_assert_uint_eq(t.values.m.len, 2);
	free(su);
	free(sc);
	expr_text_free(&t);
	expr_free(u);
	expr_free(c);
}
END_TEST

/* The fuzzer's bindings (fuzz/fuzz_expr.c), so corpus inputs resolve. */
static const char names_json[] = "{\"#n\": \"a\", \"#m\": \"m\", \"#d\": \"x-y\"}";
static const char values_json[] =
    "{\":v\": 1, \":s\": \"he\", \":l\": [1], \":ss\": {\"$SS\": [\"a\", \"c\"]},"
    " \":ns\": {\"$NS\": [1]}, \":m\": {\"k\": 2}, \":t\": \"N\", \":big\": {\"$N\": \"9E+125\"}}";

START_TEST(test_to_text_round_trips_fuzz_corpus)
{
	const char *dir = "fuzz/corpus/fuzz_expr";
	struct val names, values;
	struct expr_bind b = {&names, &values, EXPR_BIND_SHARED};
	struct dirent *de;
	int parsed = 0, k;
	DIR *d = opendir(dir);

	ck_assert_msg(d != NULL, "run from the source tree: %s", dir);
	ck_assert_int_eq(item_parse_value(names_json, strlen(names_json), &names, NULL), 0);
	ck_assert_int_eq(item_parse_value(values_json, strlen(values_json), &values, NULL), 0);
	while ((de = readdir(d))) {
		char path[512];
		size_t n;
		char *text;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = slurp(path, &n);
		for (k = PC; k <= PP; k++) {
			expr_t *e;

			if (parse((enum pk)k, text, n, &b, &e, NULL) == 0) {
				round_trip((enum pk)k, e, de->d_name);
				expr_free(e);
				parsed++;
			}
		}
		free(text);
	}
	closedir(d);
	ck_assert_int_gt(parsed, 10);
	val_free(&names);
	val_free(&values);
}
END_TEST

Suite *expr_print_suite(void);
Suite *expr_print_suite(void)
{
	Suite *s = suite_create("expr_print");
	TCase *tc = tcase_create("expr_to_text");

	tcase_add_loop_test(tc, test_to_text_round_trips, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_to_text_shares_maps_across_expressions);
	tcase_add_test(tc, test_to_text_round_trips_fuzz_corpus);
	suite_add_tcase(s, tc);
	return s;
}
