/*
 * expr_eval.c - evaluating conditions and filters, and projecting items.
 *
 * Conditions are evaluated on borrowed pointers into the item: nothing is
 * copied and nothing allocated (size() produces a number in a struct val
 * on the stack), so evaluating a filter over a whole table costs no
 * mallocs.  An operand is either a value or "missing" (NULL): a path that
 * does not resolve, or size() of a type without a size.
 *
 * DynamoDB's rules, in one place: a comparison involving a missing operand
 * or values of different types is false, except <>, which is the negation
 * of = and so true; < <= > >= and BETWEEN order S and B by bytes and N
 * numerically and are false for other types; IN is = against each
 * operand; contains() is a substring test on S and B, membership on sets
 * (element of the set's type) and lists (any element equal).
 *
 * Projection walks the sorted path list (see exprint.h): paths sharing a
 * prefix are adjacent, so one recursive pass over the item builds the
 * result, merging a.b and a.c into one map a, and picking list elements
 * in index order into a compacted list.
 */
#include "exprint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An evaluated operand: v is NULL when missing; tmp holds computed values. */
struct xval {
	const struct val *v; /* the value, or NULL */
	struct val tmp;	     /* storage for size() */
};

static void xval_size(const struct val *v, struct xval *out)
{
	size_t n;
	struct num num;

	switch (v->type) {
	case VAL_S:
	case VAL_B:
		n = v->s.len;
		break;
	case VAL_L:
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		n = v->l.len;
		break;
	case VAL_M:
		n = v->m.len;
		break;
	default:
		out->v = NULL;
		return;
	}
	num_from_int64(&num, (int64_t)n);
	val_init_num(&out->tmp, &num);
	out->v = &out->tmp;
}

static void operand(const struct xop *op, const struct val *item, struct xval *out)
{
	out->v = NULL;
	switch (op->kind) {
	case XO_PATH:
		out->v = xpath_get(item, &op->path);
		break;
	case XO_CONST:
		out->v = op->cval;
		break;
	case XO_SIZE: {
		struct xval arg;

		operand(op->a, item, &arg);
		if (arg.v)
			xval_size(arg.v, out);
		break;
	}
	default:
		/* Update-only operands never reach a condition (see exprint.h). */
		break;
	}
}

static bool equal(const struct val *a, const struct val *b)
{
	return a && b && val_equal(a, b);
}

/* Ordering of two present values of one ordered type; false otherwise. */
static bool ordered(const struct val *a, const struct val *b, int *cmp)
{
	if (!a || !b || a->type != b->type)
		return false;
	if (a->type != VAL_S && a->type != VAL_N && a->type != VAL_B)
		return false;
	*cmp = val_cmp(a, b);
	return true;
}

static bool compare(enum xcmp op, const struct val *a, const struct val *b)
{
	int c;

	switch (op) {
	case XCMP_EQ:
		return equal(a, b);
	case XCMP_NE:
		return !equal(a, b);
	case XCMP_LT:
		return ordered(a, b, &c) && c < 0;
	case XCMP_LE:
		return ordered(a, b, &c) && c <= 0;
	case XCMP_GT:
		return ordered(a, b, &c) && c > 0;
	case XCMP_GE:
		return ordered(a, b, &c) && c >= 0;
	}
	return false;
}

static bool bytes_start(const struct val *a, const struct val *b)
{
	return a->s.len >= b->s.len && !memcmp(a->s.p, b->s.p, b->s.len);
}

static bool bytes_contain(const struct val *a, const struct val *b)
{
	if (!b->s.len)
		return true;
	return a->s.len >= b->s.len && memmem(a->s.p, a->s.len, b->s.p, b->s.len) != NULL;
}

static bool contains(const struct val *a, const struct val *b)
{
	if (!a || !b)
		return false;
	switch (a->type) {
	case VAL_S:
	case VAL_B:
		return b->type == a->type && bytes_contain(a, b);
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		return b->type == val_set_elem_type(a->type) && val_set_find(a, b) >= 0;
	case VAL_L:
		for (size_t i = 0; i < a->l.len; i++)
			if (val_equal(&a->l.v[i], b))
				return true;
		return false;
	default:
		return false;
	}
}

static bool cond_eval(const struct xcond *c, const struct val *item)
{
	struct xval a, b, x;
	int lo, hi;

	switch (c->kind) {
	case XC_AND:
		for (const struct xcond *k = c->kids; k; k = k->next)
			if (!cond_eval(k, item))
				return false;
		return true;
	case XC_OR:
		for (const struct xcond *k = c->kids; k; k = k->next)
			if (cond_eval(k, item))
				return true;
		return false;
	case XC_NOT:
		return !cond_eval(c->kids, item);
	case XC_CMP:
		operand(c->a, item, &a);
		operand(c->b, item, &b);
		return compare(c->cmp, a.v, b.v);
	case XC_BETWEEN:
		operand(c->a, item, &x);
		operand(c->b, item, &a);
		operand(c->c, item, &b);
		return ordered(x.v, a.v, &lo) && lo >= 0 && ordered(x.v, b.v, &hi) && hi <= 0;
	case XC_IN:
		operand(c->a, item, &x);
		for (const struct xop *op = c->b; op; op = op->next) {
			operand(op, item, &a);
			if (equal(x.v, a.v))
				return true;
		}
		return false;
	case XC_EXISTS:
	case XC_NOT_EXISTS:
		operand(c->a, item, &a);
		return (a.v != NULL) == (c->kind == XC_EXISTS);
	case XC_TYPE:
		operand(c->a, item, &a);
		return a.v && a.v->type == c->type;
	case XC_BEGINS:
		operand(c->a, item, &a);
		operand(c->b, item, &b);
		return a.v && b.v && a.v->type == b.v->type &&
		       (a.v->type == VAL_S || a.v->type == VAL_B) && bytes_start(a.v, b.v);
	case XC_CONTAINS:
		operand(c->a, item, &a);
		operand(c->b, item, &b);
		return contains(a.v, b.v);
	}
	return false;
}

int expr_eval(const expr_t *e, const struct val *item, bool *result, struct dyn_err *err)
{
	*result = false;
	if (!e || e->kind != EXPR_CONDITION)
		return err_set(err, EINVAL, "not a condition expression");
	*result = cond_eval(e->cond, item);
	return 0;
}

/* ---- projection ---- */

static bool same_elem(const struct xelem *a, const struct xelem *b)
{
	if (!a->name != !b->name)
		return false;
	if (a->name)
		return a->len == b->len && !memcmp(a->name, b->name, a->len);
	return a->index == b->index;
}

/*
 * Project v through paths[lo..hi), which agree on their first depth
 * elements and all go deeper, into *out (new).  *found is false when
 * nothing of v is selected (then *out is untouched).
 */
static int project(const struct val *v, const struct xpath *paths, size_t lo, size_t hi,
		   size_t depth, struct val *out, bool *found)
{
	bool map = paths[lo].el[depth].name != NULL;
	size_t i = lo;
	int rc;

	*found = false;
	if (map ? v->type != VAL_M : v->type != VAL_L)
		return 0;
	if (map)
		val_init_map(out);
	else
		val_init_list(out);
	while (i < hi) {
		const struct xelem *el = &paths[i].el[depth];
		const struct val *child;
		struct val sub;
		bool got = false;
		size_t j = i + 1;

		while (j < hi && same_elem(&paths[j].el[depth], el))
			j++;
		if (map)
			child = val_map_get(v, el->name, el->len);
		else
			child = el->index < v->l.len ? &v->l.v[el->index] : NULL;
		if (child && paths[i].n == depth + 1) {
			/* A whole value; overlap checks make it the only path here. */
			rc = val_copy(&sub, child);
			got = !rc;
		} else if (child) {
			rc = project(child, paths, i, j, depth + 1, &sub, &got);
		} else {
			rc = 0;
		}
		if (!rc && got)
			rc = map ? val_map_set(out, el->name, el->len, &sub)
				 : val_list_append(out, &sub);
		if (rc) {
			val_free(out);
			return rc;
		}
		if (got)
			*found = true;
		i = j;
	}
	if (!*found)
		val_free(out);
	return 0;
}

static int path_order(const void *a, const void *b)
{
	return xpath_cmp(a, b);
}

int expr_project_updated(const expr_t *update, const struct val *item, struct val *out,
			 struct dyn_err *err)
{
	struct xpath *paths;
	bool found;
	size_t i;
	int rc;

	val_init_map(out);
	if (!update || update->kind != EXPR_UPDATE)
		return err_set(err, EINVAL, "not an update expression");
	if (!item || !update->nact)
		return 0;
	/* project() wants paths sorted; an update's never overlap (exprint.h) */
	paths = malloc(update->nact * sizeof(*paths));
	if (!paths)
		return err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < update->nact; i++)
		paths[i] = update->act[i].path;
	qsort(paths, update->nact, sizeof(*paths), path_order);
	rc = project(item, paths, 0, update->nact, 0, out, &found);
	free(paths);
	if (rc)
		return err_set(err, -rc, "out of memory");
	if (!found)
		val_init_map(out);
	return 0;
}

int expr_project(const expr_t *proj, const struct val *item, struct val *out, struct dyn_err *err)
{
	bool found;
	int rc;

	val_init_map(out);
	if (!proj || proj->kind != EXPR_PROJECTION)
		return err_set(err, EINVAL, "not a projection expression");
	if (!item || !proj->npaths)
		return 0;
	rc = project(item, proj->paths, 0, proj->npaths, 0, out, &found);
	if (rc)
		return err_set(err, -rc, "out of memory");
	if (!found)
		val_init_map(out);
	return 0;
}
