/*
 * expr_key.c - KeyConditionExpression: the condition grammar, read as a
 * key condition (expr.h: expr_parse_key_condition, expr_key_condition).
 *
 * A key condition is parsed by the one expression parser (so #names and
 * :values are bound exactly as everywhere else) and then its tree is
 * checked for the shape DynamoDB allows and taken apart:
 *
 *   pk = v                      the partition, whole
 *   pk = v AND <sk condition>   (either order)
 *   <sk condition> ::= sk = | < | <= | > | >= v
 *                    | sk BETWEEN v1 AND v2 | begins_with(sk, v)
 *
 * Operands must be a top-level attribute name on one side and a value
 * on the other; `v = pk` is accepted with the comparison mirrored, as
 * DynamoDB does.  Anything else is DynamoDB's "Invalid operator used in
 * KeyConditionExpression" or "Conditions can be of length 1 or 2 only".
 */
#include "exprint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int expr_parse_key_condition(const char *text, size_t len, const struct expr_bind *bind,
			     expr_t **out, struct dyn_err *err)
{
	int rc = expr_parse_condition(text, len, bind, out, err);

	if (rc < 0 && err && !strncmp(err->msg, "Invalid ConditionExpression", 27)) {
		char buf[sizeof(err->msg)];

		snprintf(buf, sizeof(buf), "Invalid KeyConditionExpression%s", err->msg + 27);
		memcpy(err->msg, buf, sizeof(buf));
	}
	if (rc == 0)
		(*out)->what = "KeyConditionExpression";
	return rc;
}

static bool top_name(const struct xop *o, const char **name)
{
	if (o->kind != XO_PATH || o->path.n != 1 || !o->path.el[0].name)
		return false;
	*name = o->path.el[0].name;
	return true;
}

static enum xcmp mirror(enum xcmp c)
{
	switch (c) {
	case XCMP_LT:
		return XCMP_GT;
	case XCMP_LE:
		return XCMP_GE;
	case XCMP_GT:
		return XCMP_LT;
	case XCMP_GE:
		return XCMP_LE;
	default:
		return c;
	}
}

static const enum expr_kc_op cmp_op[] = {
	[XCMP_EQ] = EXPR_KC_EQ, [XCMP_NE] = EXPR_KC_NONE, [XCMP_LT] = EXPR_KC_LT,
	[XCMP_LE] = EXPR_KC_LE, [XCMP_GT] = EXPR_KC_GT,	  [XCMP_GE] = EXPR_KC_GE,
};

/* One term of the key condition: name op value(s). */
static int key_term(const struct xcond *c, const char **name, enum expr_kc_op *op,
		    const struct val **v1, const struct val **v2, struct dyn_err *err)
{
	*v2 = NULL;
	switch (c->kind) {
	case XC_CMP:
		if (top_name(c->a, name) && c->b->kind == XO_CONST) {
			*op = cmp_op[c->cmp];
			*v1 = c->b->cval;
		} else if (top_name(c->b, name) && c->a->kind == XO_CONST) {
			*op = cmp_op[mirror(c->cmp)];
			*v1 = c->a->cval;
		} else {
			break;
		}
		if (*op == EXPR_KC_NONE)
			break;
		return 0;
	case XC_BETWEEN:
		if (!top_name(c->a, name) || c->b->kind != XO_CONST || c->c->kind != XO_CONST)
			break;
		*op = EXPR_KC_BETWEEN;
		*v1 = c->b->cval;
		*v2 = c->c->cval;
		return 0;
	case XC_BEGINS:
		if (!top_name(c->a, name) || c->b->kind != XO_CONST)
			break;
		*op = EXPR_KC_BEGINS;
		*v1 = c->b->cval;
		return 0;
	default:
		break;
	}
	return err_set(err, EINVAL, "Invalid operator used in KeyConditionExpression: %s",
		       c->kind == XC_OR	     ? "OR"
		       : c->kind == XC_NOT   ? "NOT"
		       : c->kind == XC_IN    ? "IN"
		       : c->kind == XC_CMP   ? "<>"
		       : c->kind == XC_EXISTS ? "attribute_exists"
		       : c->kind == XC_NOT_EXISTS ? "attribute_not_exists"
		       : c->kind == XC_CONTAINS ? "contains"
		       : c->kind == XC_TYPE	? "attribute_type"
					      : "an operand that is not a key attribute");
}

int expr_key_condition(const expr_t *e, struct expr_keycond *out, struct dyn_err *err)
{
	const struct xcond *terms[3];
	size_t n = 0, i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (e->kind != EXPR_CONDITION)
		return err_set(err, EINVAL, "not a condition");
	if (e->cond->kind == XC_AND) {
		const struct xcond *k;

		for (k = e->cond->kids; k && n < 3; k = k->next)
			terms[n++] = k;
	} else {
		terms[n++] = e->cond;
	}
	if (n > 2)
		return err_set(err, EINVAL, "Conditions can be of length 1 or 2 only");
	for (i = 0; i < n; i++) {
		struct expr_kc_term *t = i == 0 ? &out->a : &out->b;

		rc = key_term(terms[i], &t->name, &t->op, &t->v1, &t->v2, err);
		if (rc < 0)
			return rc;
	}
	out->n = n;
	return 0;
}
