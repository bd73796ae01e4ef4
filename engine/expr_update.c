/*
 * expr_update.c - applying a compiled update expression to an item.
 *
 * DynamoDB defines an update as if every action saw the old item, whatever
 * the order the actions are written in.  The work is done in three passes
 * that make this true:
 *
 *  1. Every SET right-hand side is evaluated against the old item into an
 *     owned value (so "SET a = b, b = a" swaps, and "REMOVE a SET b = a"
 *     copies a before it goes).
 *  2. Writes (SET, ADD, DELETE) are applied to a copy of the old item in
 *     path order with list indexes ascending: several SETs past the end of
 *     one list append in index order, and an append never happens before
 *     a write that names a lower, existing index.
 *  3. Removals (REMOVE, and sets that DELETE emptied) are applied in path
 *     order with list indexes descending: removing a[1] shifts only later
 *     elements, which have all been handled by then, so every index means
 *     what it meant in the old item.  Each removal is resolved against the
 *     old item first: a path whose parent is missing there is invalid, and
 *     a list index at or past the old list's end names nothing (a no-op),
 *     even when pass 2 appended an element at that position ("SET a[10] =
 *     :y REMOVE a[3]" on a 3-element list keeps y).  Pass 2 only replaces
 *     elements in place or appends, so an index below the old length still
 *     names the same element in pass 3.
 *
 * Writes and removals never touch each other's paths: the parser rejects
 * overlapping and conflicting paths, so the passes do not interfere.
 * Between passes 2 and 3 a set emptied by DELETE briefly exists empty,
 * which the val invariants forbid; pass 3 removes it.
 */
#include "exprint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MSG_BADPATH "The document path provided in the update expression is invalid for update"
#define MSG_BADTYPE "An operand in the update expression has an incorrect data type"
#define MSG_MISSING "The provided expression refers to an attribute that does not exist in the item"

static int path_err(struct dyn_err *err, const struct xpath *p, const char *msg)
{
	char buf[256];

	err_set(err, EINVAL, "%s", msg);
	err_path(err, xpath_str(p, buf, sizeof(buf)));
	return -EINVAL;
}

static int nomem(struct dyn_err *err)
{
	return err_set(err, ENOMEM, "out of memory");
}

/* The path of an operand, when it is one, for messages. */
static const struct xpath *op_path(const struct xop *op)
{
	return op->kind == XO_PATH ? &op->path : NULL;
}

static int bad_type(struct dyn_err *err, const struct xop *op)
{
	const struct xpath *p = op_path(op);

	if (p)
		return path_err(err, p, MSG_BADTYPE);
	return err_set(err, EINVAL, MSG_BADTYPE);
}

/* Evaluate a SET right-hand side against old into *out (new). */
static int rhs_eval(const struct xop *op, const struct val *old, struct val *out,
		    struct dyn_err *err)
{
	const struct val *v;
	struct val a, b;
	int rc;

	val_init_null(out);
	switch (op->kind) {
	case XO_PATH:
		v = xpath_get(old, &op->path);
		if (!v)
			return path_err(err, &op->path, MSG_MISSING);
		return val_copy(out, v) ? nomem(err) : 0;
	case XO_CONST:
		return val_copy(out, op->cval) ? nomem(err) : 0;
	case XO_IF_NOT_EXISTS:
		v = xpath_get(old, &op->a->path);
		if (v)
			return val_copy(out, v) ? nomem(err) : 0;
		return rhs_eval(op->b, old, out, err);
	case XO_LIST_APPEND:
	case XO_PLUS:
	case XO_MINUS:
		break;
	default:
		return err_set(err, EINVAL, "function not allowed in an update");
	}
	rc = rhs_eval(op->a, old, &a, err);
	if (rc)
		return rc;
	rc = rhs_eval(op->b, old, &b, err);
	if (rc)
		goto out_free_a;
	if (op->kind == XO_LIST_APPEND) {
		if (a.type != VAL_L || b.type != VAL_L) {
			rc = bad_type(err, a.type != VAL_L ? op->a : op->b);
			goto out_free_b;
		}
		for (size_t i = 0; i < b.l.len && !rc; i++)
			rc = val_list_append(&a, &b.l.v[i]);
		if (rc) {
			rc = nomem(err);
			goto out_free_b;
		}
	} else {
		if (a.type != VAL_N || b.type != VAL_N) {
			rc = bad_type(err, a.type != VAL_N ? op->a : op->b);
			goto out_free_b;
		}
		rc = op->kind == XO_PLUS ? num_add(&a.n, &b.n, &a.n, err)
					 : num_sub(&a.n, &b.n, &a.n, err);
		if (rc)
			goto out_free_b;
	}
	val_move(out, &a);
	val_free(&b);
	return 0;
out_free_b:
	val_free(&b);
out_free_a:
	val_free(&a);
	return rc;
}

/*
 * The container that holds the last element of p in item: a map for a
 * name, a list for an index.  NULL when an intermediate is missing or of
 * the wrong type.
 */
static struct val *parent_of(struct val *item, const struct xpath *p)
{
	struct val *v = item;
	const struct xelem *last = &p->el[p->n - 1];

	for (size_t i = 0; v && i + 1 < p->n; i++) {
		const struct xelem *el = &p->el[i];

		if (el->name)
			v = v->type == VAL_M ? val_map_get(v, el->name, el->len) : NULL;
		else
			v = v->type == VAL_L && el->index < v->l.len ? &v->l.v[el->index] : NULL;
	}
	if (!v || v->type != (last->name ? VAL_M : VAL_L))
		return NULL;
	return v;
}

static struct val *slot_of(struct val *parent, const struct xelem *el)
{
	if (el->name)
		return val_map_get(parent, el->name, el->len);
	return el->index < parent->l.len ? &parent->l.v[el->index] : NULL;
}

/* Store *v (stolen) at el in parent: replace, add, or append past the end. */
static int store(struct val *parent, const struct xelem *el, struct val *v)
{
	if (el->name)
		return val_map_set(parent, el->name, el->len, v);
	if (el->index < parent->l.len) {
		val_free(&parent->l.v[el->index]);
		val_move(&parent->l.v[el->index], v);
		return 0;
	}
	return val_list_append(parent, v);
}

static int do_add(struct val *parent, const struct xaction *a, struct dyn_err *err)
{
	const struct xelem *last = &a->path.el[a->path.n - 1];
	const struct val *v = a->val->cval;
	struct val *slot = slot_of(parent, last);
	struct val copy;
	int rc;

	if (!slot) {
		if (val_copy(&copy, v))
			return nomem(err);
		return store(parent, last, &copy) ? nomem(err) : 0;
	}
	if (slot->type != v->type)
		return path_err(err, &a->path, MSG_BADTYPE);
	if (v->type == VAL_N)
		return num_add(&slot->n, &v->n, &slot->n, err);
	for (size_t i = 0; i < v->l.len; i++) {
		if (val_copy(&copy, &v->l.v[i]))
			return nomem(err);
		rc = val_set_add(slot, &copy);
		if (rc < 0)
			return rc == -ENOMEM ? nomem(err) : path_err(err, &a->path, MSG_BADTYPE);
	}
	return 0;
}

/* DELETE; *emptied is set when the set lost its last element. */
static int do_delete(struct val *parent, const struct xaction *a, bool *emptied,
		     struct dyn_err *err)
{
	const struct val *v = a->val->cval;
	struct val *slot = slot_of(parent, &a->path.el[a->path.n - 1]);

	*emptied = false;
	if (!slot)
		return 0;
	if (slot->type != v->type)
		return path_err(err, &a->path, MSG_BADTYPE);
	for (size_t i = 0; i < v->l.len; i++)
		val_set_remove(slot, &v->l.v[i]);
	*emptied = slot->l.len == 0;
	return 0;
}

static void remove_at(struct val *parent, const struct xelem *el)
{
	struct val *l = parent;

	if (el->name) {
		val_map_remove(parent, el->name, el->len);
		return;
	}
	if (el->index >= l->l.len)
		return;
	val_free(&l->l.v[el->index]);
	memmove(&l->l.v[el->index], &l->l.v[el->index + 1],
		(l->l.len - el->index - 1) * sizeof(l->l.v[0]));
	l->l.len--;
}

static int cmp_write(const void *x, const void *y)
{
	const struct xaction *a = *(const struct xaction *const *)x;
	const struct xaction *b = *(const struct xaction *const *)y;

	return xpath_cmp(&a->path, &b->path);
}

/* Like xpath_cmp, but higher list indexes first. */
static int cmp_remove(const void *x, const void *y)
{
	const struct xpath *a = *(const struct xpath *const *)x;
	const struct xpath *b = *(const struct xpath *const *)y;
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		const struct xelem *p = &a->el[i], *q = &b->el[i];
		int c = xelem_cmp(p, q);

		if (c)
			return !p->name && !q->name ? -c : c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

struct xwork {
	struct val *rhs;	       /* SET values, by action index */
	const struct xaction **writes; /* SET/ADD/DELETE, sorted */
	const struct xpath **removals; /* REMOVE and emptied sets */
	size_t nwrites;		       /* entries in writes */
	size_t nremovals;	       /* entries in removals */
};

static int apply_writes(const expr_t *e, struct xwork *w, struct val *out, struct dyn_err *err)
{
	for (size_t i = 0; i < w->nwrites; i++) {
		const struct xaction *a = w->writes[i];
		struct val *parent = parent_of(out, &a->path);
		bool emptied;
		int rc;

		if (!parent)
			return path_err(err, &a->path, MSG_BADPATH);
		switch (a->kind) {
		case XA_SET:
			rc = store(parent, &a->path.el[a->path.n - 1], &w->rhs[a - e->act]);
			if (rc)
				return nomem(err);
			break;
		case XA_ADD:
			rc = do_add(parent, a, err);
			if (rc) {
				char buf[256];

				err_path(err, xpath_str(&a->path, buf, sizeof(buf)));
				return rc;
			}
			break;
		case XA_DELETE:
			rc = do_delete(parent, a, &emptied, err);
			if (rc)
				return rc;
			if (emptied)
				w->removals[w->nremovals++] = &a->path;
			break;
		case XA_REMOVE:
			break;
		}
	}
	return 0;
}

static int apply_removals(struct xwork *w, const struct val *old, struct val *out,
			  struct dyn_err *err)
{
	qsort(w->removals, w->nremovals, sizeof(*w->removals), cmp_remove);
	for (size_t i = 0; i < w->nremovals; i++) {
		const struct xpath *p = w->removals[i];
		const struct xelem *last = &p->el[p->n - 1];
		const struct val *oparent = parent_of((struct val *)old, p);
		struct val *parent;

		/* every action sees the old item (see the header comment) */
		if (!oparent)
			return path_err(err, p, MSG_BADPATH);
		if (!last->name && last->index >= oparent->l.len)
			continue;
		parent = parent_of(out, p);
		if (!parent)
			return path_err(err, p, MSG_BADPATH);
		remove_at(parent, last);
	}
	return 0;
}

int expr_apply_update(const expr_t *e, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct xwork w;
	int rc = 0;

	val_init_null(out);
	if (!e || e->kind != EXPR_UPDATE)
		return err_set(err, EINVAL, "not an update expression");
	if (old && old->type != VAL_M)
		return err_set(err, EINVAL, "an item must be a map");
	memset(&w, 0, sizeof(w));
	w.rhs = calloc(e->nact, sizeof(*w.rhs));
	w.writes = malloc(e->nact * sizeof(*w.writes));
	w.removals = malloc(e->nact * sizeof(*w.removals));
	if (!w.rhs || !w.writes || !w.removals) {
		rc = nomem(err);
		goto out_free_work;
	}
	for (size_t i = 0; i < e->nact; i++) {
		const struct xaction *a = &e->act[i];

		val_init_null(&w.rhs[i]);
		if (a->kind == XA_REMOVE) {
			/* DynamoDB ignores REMOVE when there is no item at all. */
			if (old)
				w.removals[w.nremovals++] = &a->path;
			continue;
		}
		w.writes[w.nwrites++] = a;
		if (a->kind == XA_SET) {
			rc = rhs_eval(a->val, old, &w.rhs[i], err);
			if (rc) {
				char buf[256];

				err_path(err, xpath_str(&a->path, buf, sizeof(buf)));
				goto out_free_work;
			}
		}
	}
	qsort(w.writes, w.nwrites, sizeof(*w.writes), cmp_write);

	if (!old) {
		val_init_map(out);
	} else if (val_copy(out, old)) {
		rc = nomem(err);
		goto out_free_work;
	}
	rc = apply_writes(e, &w, out, err);
	if (!rc)
		rc = apply_removals(&w, old, out, err);
	if (rc)
		val_free(out);
out_free_work:
	if (w.rhs)
		for (size_t i = 0; i < e->nact; i++)
			val_free(&w.rhs[i]);
	free(w.rhs);
	free(w.writes);
	free(w.removals);
	return rc;
}
