/*
 * expr_print.c - compiled expressions back to text with placeholders
 * (expr_to_text), for the remote client: conditions and updates are
 * parsed once by the one parser (expr_parse.c) and sent to a DynamoDB
 * service in the only form it accepts, with every name a #nK and every
 * constant a :vK.  This is a printer over the compiled tree, not a second
 * grammar; tests/check_expr_print.c checks parse(print(e)) against e.
 *
 * Parentheses: AND and OR are n-ary (expr_grammar.c's parse_chain), so
 * a child needs them only when it binds looser than its parent: OR
 * below AND or NOT, AND below NOT, and a same-kind chain that the user
 * nested explicitly (printed back nested, so the tree is the same).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exprint.h"
#include "storefmt.h"

void expr_text_init(struct expr_text *t)
{
	memset(t, 0, sizeof(*t));
	val_init_map(&t->names);
	val_init_map(&t->values);
}

void expr_text_free(struct expr_text *t)
{
	val_free(&t->names);
	val_free(&t->values);
	t->nnames = t->nvalues = 0;
}

/* #placeholder for name: the existing one if that name was seen. */
static int put_name(struct sf_buf *b, struct expr_text *t, const char *name, size_t len)
{
	char key[24];
	struct val v;
	size_t i;
	int rc;

	for (i = 0; i < t->names.m.len; i++) {
		const struct val *s = &t->names.m.a[i].v;

		if (s->s.len == len && !memcmp(s->s.p, name, len))
			return sf_buf_adds(b, t->names.m.a[i].name);
	}
	snprintf(key, sizeof(key), "#n%u", t->nnames++);
	rc = val_init_str(&v, name, len);
	if (rc == 0)
		rc = val_map_set(&t->names, key, strlen(key), &v);
	return rc ? rc : sf_buf_adds(b, key);
}

static int put_value(struct sf_buf *b, struct expr_text *t, const struct val *cv)
{
	char key[24];
	struct val v;
	int rc;

	snprintf(key, sizeof(key), ":v%u", t->nvalues++);
	rc = val_copy(&v, cv);
	if (rc == 0)
		rc = val_map_set(&t->values, key, strlen(key), &v);
	return rc ? rc : sf_buf_adds(b, key);
}

static int put_path(struct sf_buf *b, struct expr_text *t, const struct xpath *p)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < p->n; i++) {
		const struct xelem *el = &p->el[i];

		if (el->name) {
			if (i)
				rc = sf_buf_addc(b, '.');
			if (rc == 0)
				rc = put_name(b, t, el->name, el->len);
		} else {
			rc = sf_buf_printf(b, "[%zu]", el->index);
		}
	}
	return rc;
}

static int put_op(struct sf_buf *b, struct expr_text *t, const struct xop *o);

static int put_call(struct sf_buf *b, struct expr_text *t, const char *fn, const struct xop *a,
		    const struct xop *a2)
{
	int rc = sf_buf_printf(b, "%s(", fn);

	if (rc == 0)
		rc = put_op(b, t, a);
	if (rc == 0 && a2) {
		rc = sf_buf_adds(b, ", ");
		if (rc == 0)
			rc = put_op(b, t, a2);
	}
	return rc ? rc : sf_buf_addc(b, ')');
}

static int put_op(struct sf_buf *b, struct expr_text *t, const struct xop *o)
{
	int rc;

	switch (o->kind) {
	case XO_PATH:
		return put_path(b, t, &o->path);
	case XO_CONST:
		return put_value(b, t, o->cval);
	case XO_SIZE:
		return put_call(b, t, "size", o->a, NULL);
	case XO_IF_NOT_EXISTS:
		return put_call(b, t, "if_not_exists", o->a, o->b);
	case XO_LIST_APPEND:
		return put_call(b, t, "list_append", o->a, o->b);
	case XO_PLUS:
	case XO_MINUS:
		rc = put_op(b, t, o->a);
		if (rc == 0)
			rc = sf_buf_adds(b, o->kind == XO_PLUS ? " + " : " - ");
		return rc ? rc : put_op(b, t, o->b);
	}
	return -EINVAL;
}

static const char *const cmp_text[] = {
    [XCMP_EQ] = " = ",	[XCMP_NE] = " <> ", [XCMP_LT] = " < ",
    [XCMP_LE] = " <= ", [XCMP_GT] = " > ",  [XCMP_GE] = " >= ",
};

static int put_cond(struct sf_buf *b, struct expr_text *t, const struct xcond *c);

/* A child of parent kind pk, in parentheses when it binds looser. */
static int put_child(struct sf_buf *b, struct expr_text *t, enum xcond_kind pk,
		     const struct xcond *c)
{
	bool paren = c->kind == XC_OR || (c->kind == XC_AND && pk != XC_OR);
	int rc = paren ? sf_buf_addc(b, '(') : 0;

	if (rc == 0)
		rc = put_cond(b, t, c);
	if (rc == 0 && paren)
		rc = sf_buf_addc(b, ')');
	return rc;
}

static int put_cond(struct sf_buf *b, struct expr_text *t, const struct xcond *c)
{
	const struct xcond *k;
	const struct xop *o;
	int rc = 0;

	switch (c->kind) {
	case XC_AND:
	case XC_OR:
		for (k = c->kids; rc == 0 && k; k = k->next) {
			if (k != c->kids)
				rc = sf_buf_adds(b, c->kind == XC_AND ? " AND " : " OR ");
			if (rc == 0)
				rc = put_child(b, t, c->kind, k);
		}
		return rc;
	case XC_NOT:
		rc = sf_buf_adds(b, "NOT ");
		return rc ? rc : put_child(b, t, XC_NOT, c->kids);
	case XC_CMP:
		rc = put_op(b, t, c->a);
		if (rc == 0)
			rc = sf_buf_adds(b, cmp_text[c->cmp]);
		return rc ? rc : put_op(b, t, c->b);
	case XC_BETWEEN:
		rc = put_op(b, t, c->a);
		if (rc == 0)
			rc = sf_buf_adds(b, " BETWEEN ");
		if (rc == 0)
			rc = put_op(b, t, c->b);
		if (rc == 0)
			rc = sf_buf_adds(b, " AND ");
		return rc ? rc : put_op(b, t, c->c);
	case XC_IN:
		rc = put_op(b, t, c->a);
		if (rc == 0)
			rc = sf_buf_adds(b, " IN (");
		for (o = c->b; rc == 0 && o; o = o->next) {
			if (o != c->b)
				rc = sf_buf_adds(b, ", ");
			if (rc == 0)
				rc = put_op(b, t, o);
		}
		return rc ? rc : sf_buf_addc(b, ')');
	case XC_EXISTS:
		return put_call(b, t, "attribute_exists", c->a, NULL);
	case XC_NOT_EXISTS:
		return put_call(b, t, "attribute_not_exists", c->a, NULL);
	case XC_TYPE:
		return put_call(b, t, "attribute_type", c->a, c->b);
	case XC_BEGINS:
		return put_call(b, t, "begins_with", c->a, c->b);
	case XC_CONTAINS:
		return put_call(b, t, "contains", c->a, c->b);
	}
	return -EINVAL;
}

static int put_update(struct sf_buf *b, struct expr_text *t, const struct expr *e)
{
	static const struct {
		enum xact_kind kind;
		const char *word;
	} clauses[] = {
	    {XA_SET, "SET"}, {XA_REMOVE, "REMOVE"}, {XA_ADD, "ADD"}, {XA_DELETE, "DELETE"}};
	size_t c, i;
	int rc = 0;

	for (c = 0; rc == 0 && c < sizeof(clauses) / sizeof(clauses[0]); c++) {
		bool first = true;

		for (i = 0; rc == 0 && i < e->nact; i++) {
			const struct xaction *a = &e->act[i];

			if (a->kind != clauses[c].kind)
				continue;
			if (first)
				rc = sf_buf_printf(b, "%s%s ", b->len ? " " : "", clauses[c].word);
			else
				rc = sf_buf_adds(b, ", ");
			first = false;
			if (rc == 0)
				rc = put_path(b, t, &a->path);
			if (rc == 0 && a->kind == XA_SET)
				rc = sf_buf_adds(b, " = ");
			else if (rc == 0 && a->kind != XA_REMOVE)
				rc = sf_buf_addc(b, ' ');
			if (rc == 0 && a->kind != XA_REMOVE)
				rc = put_op(b, t, a->val);
		}
	}
	return rc;
}

int expr_to_text(const expr_t *e, struct expr_text *t, char **text)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t i;
	int rc = 0;

	if (t->names.type != VAL_M || t->values.type != VAL_M)
		expr_text_init(t);
	switch (e->kind) {
	case EXPR_CONDITION:
		rc = put_cond(&b, t, e->cond);
		break;
	case EXPR_UPDATE:
		rc = put_update(&b, t, e);
		break;
	case EXPR_PROJECTION:
		for (i = 0; rc == 0 && i < e->npaths; i++) {
			if (i)
				rc = sf_buf_adds(&b, ", ");
			if (rc == 0)
				rc = put_path(&b, t, &e->paths[i]);
		}
		break;
	}
	if (rc == 0 && !b.p)
		rc = sf_buf_adds(&b, "");
	if (rc < 0) {
		sf_buf_free(&b);
		return rc;
	}
	*text = b.p;
	return 0;
}
