/*
 * expr.c - what every part of the expression module shares: the arena
 * compiled expressions live in, their constants, the binding checks
 * (shape of ExpressionAttributeNames/Values, unused entries), path
 * helpers (order, overlap, printing, lookup) and expr_free.
 *
 * The arena.  A compiled expression is a few hundred small nodes built
 * once and freed together, so nodes are carved out of 4 KB chunks with a
 * bump pointer and never freed one by one.  A failed parse therefore
 * cleans up with a single expr_free(), whatever state it stopped in.
 */
#include "exprint.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XCHUNK_SIZE 4096

struct xchunk {
	struct xchunk *next;			   /* older chunk */
	size_t used;				   /* bytes handed out from data */
	size_t cap;				   /* bytes in data */
	alignas(max_align_t) unsigned char data[]; /* the nodes */
};

struct expr *xexpr_new(enum expr_kind kind, const char *what)
{
	struct expr *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	e->what = what;
	return e;
}

void *xalloc(struct expr *e, size_t size)
{
	struct xchunk *c = e->arena;
	size_t align = alignof(max_align_t);
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!c || c->cap - c->used < size) {
		size_t cap = size > XCHUNK_SIZE ? size : XCHUNK_SIZE;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = e->arena;
		c->used = 0;
		c->cap = cap;
		e->arena = c;
	}
	p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *xstrdup(struct expr *e, const char *s, size_t n)
{
	char *p = xalloc(e, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

int xconst_add(struct expr *e, struct val *v, const struct val **out)
{
	struct xconst *c = malloc(sizeof(*c));

	if (!c) {
		val_free(v);
		return -ENOMEM;
	}
	val_move(&c->v, v);
	c->next = e->consts;
	e->consts = c;
	*out = &c->v;
	return 0;
}

void expr_free(expr_t *e)
{
	if (!e)
		return;
	while (e->consts) {
		struct xconst *c = e->consts;

		e->consts = c->next;
		val_free(&c->v);
		free(c);
	}
	while (e->arena) {
		struct xchunk *c = e->arena;

		e->arena = c->next;
		free(c);
	}
	free(e);
}

/* ---- bindings ---- */

/* A binding key is the sigil followed by one or more [A-Za-z0-9_]. */
static bool key_ok(const char *k, size_t n, char sigil)
{
	if (n < 2 || k[0] != sigil)
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];

		if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

int xbind_check(const struct expr_bind *bind, struct dyn_err *err)
{
	const struct val *names = bind ? bind->names : NULL;
	const struct val *values = bind ? bind->values : NULL;
	char buf[128];

	if (names) {
		if (names->type != VAL_M)
			return err_set(err, EINVAL, "ExpressionAttributeNames must be a map");
		if (!names->m.len)
			return err_set(err, EINVAL, "ExpressionAttributeNames must not be empty");
		for (size_t i = 0; i < names->m.len; i++) {
			const struct val_attr *a = &names->m.a[i];

			if (!key_ok(a->name, a->name_len, '#'))
				return err_set(err, EINVAL,
					       "ExpressionAttributeNames contains invalid key: "
					       "Syntax error; key: \"%s\"",
					       xsnip(buf, sizeof(buf), a->name, a->name_len));
			if (a->v.type != VAL_S)
				return err_set(err, EINVAL,
					       "ExpressionAttributeNames contains invalid value: "
					       "the value of %s is not a string",
					       a->name);
			if (!a->v.s.len)
				return err_set(err, EINVAL,
					       "ExpressionAttributeNames contains invalid value: "
					       "Empty attribute name; key: %s",
					       a->name);
			if (memchr(a->v.s.p, 0, a->v.s.len))
				return err_set(err, EINVAL,
					       "ExpressionAttributeNames contains invalid value: "
					       "the name of %s contains a NUL character",
					       a->name);
		}
	}
	if (values) {
		if (values->type != VAL_M)
			return err_set(err, EINVAL, "ExpressionAttributeValues must be a map");
		if (!values->m.len)
			return err_set(err, EINVAL, "ExpressionAttributeValues must not be empty");
		for (size_t i = 0; i < values->m.len; i++) {
			const struct val_attr *a = &values->m.a[i];

			if (!key_ok(a->name, a->name_len, ':'))
				return err_set(err, EINVAL,
					       "ExpressionAttributeValues contains invalid key: "
					       "Syntax error; key: \"%s\"",
					       xsnip(buf, sizeof(buf), a->name, a->name_len));
		}
	}
	return 0;
}

static bool ref_used(const struct xref *r, const char *key)
{
	for (; r; r = r->next)
		if (!strcmp(r->key, key))
			return true;
	return false;
}

/* Report the entries of map that no expression referenced. */
static int unused_in(const struct val *map, const expr_t *const *exprs, size_t n, bool values,
		     struct dyn_err *err)
{
	char list[400];
	size_t len = 0;
	bool any = false;

	if (!map || map->type != VAL_M)
		return 0;
	list[0] = 0;
	for (size_t i = 0; i < map->m.len; i++) {
		const char *key = map->m.a[i].name;
		bool used = false;

		for (size_t j = 0; j < n && !used; j++)
			if (exprs[j])
				used = ref_used(
				    values ? exprs[j]->used_values : exprs[j]->used_names, key);
		if (used)
			continue;
		if (len < sizeof(list))
			len +=
			    snprintf(list + len, sizeof(list) - len, "%s%s", any ? ", " : "", key);
		any = true;
	}
	if (!any)
		return 0;
	if (len >= sizeof(list))
		strcpy(list + sizeof(list) - 4, "...");
	return err_set(err, EINVAL,
		       "Value provided in ExpressionAttribute%s unused in expressions: keys: {%s}",
		       values ? "Values" : "Names", list);
}

int expr_check_unused(const struct expr_bind *bind, const expr_t *const *exprs, size_t n,
		      struct dyn_err *err)
{
	int rc;

	if (!bind)
		return 0;
	rc = unused_in(bind->names, exprs, n, false, err);
	if (rc)
		return rc;
	return unused_in(bind->values, exprs, n, true, err);
}

int expr_update_touches(const expr_t *e, const char *attr, bool *touches)
{
	size_t n = strlen(attr);

	*touches = false;
	if (!e || e->kind != EXPR_UPDATE)
		return -EINVAL;
	for (size_t i = 0; i < e->nact; i++) {
		const struct xelem *el = &e->act[i].path.el[0];

		if (el->len == n && !memcmp(el->name, attr, n)) {
			*touches = true;
			break;
		}
	}
	return 0;
}

/* ---- paths ---- */

int xelem_cmp(const struct xelem *a, const struct xelem *b)
{
	if (a->name && b->name) {
		size_t n = a->len < b->len ? a->len : b->len;
		int c = memcmp(a->name, b->name, n);

		if (c)
			return c;
		return a->len < b->len ? -1 : a->len > b->len;
	}
	if (a->name || b->name)
		return a->name ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

int xpath_cmp(const struct xpath *a, const struct xpath *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		int c = xelem_cmp(&a->el[i], &b->el[i]);

		if (c)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

enum xoverlap xpath_overlap(const struct xpath *a, const struct xpath *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		const struct xelem *x = &a->el[i], *y = &b->el[i];

		if (!x->name != !y->name)
			return XOV_CONFLICT;
		if (xelem_cmp(x, y))
			return XOV_NONE;
	}
	return XOV_OVERLAP;
}

const char *xpath_str(const struct xpath *p, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < p->n && len < size; i++) {
		const struct xelem *el = &p->el[i];

		if (el->name)
			len += snprintf(buf + len, size - len, "%s%s", i ? "." : "", el->name);
		else
			len += snprintf(buf + len, size - len, "[%zu]", el->index);
	}
	return buf;
}

const char *xpath_list(const struct xpath *p, char *buf, size_t size)
{
	size_t len = snprintf(buf, size, "[");

	for (size_t i = 0; i < p->n && len < size; i++) {
		const struct xelem *el = &p->el[i];
		const char *sep = i ? ", " : "";

		if (el->name)
			len += snprintf(buf + len, size - len, "%s%s", sep, el->name);
		else
			len += snprintf(buf + len, size - len, "%s[%zu]", sep, el->index);
	}
	if (len < size)
		snprintf(buf + len, size - len, "]");
	return buf;
}

const struct val *xpath_get(const struct val *item, const struct xpath *p)
{
	const struct val *v = item;

	for (size_t i = 0; v && i < p->n; i++) {
		const struct xelem *el = &p->el[i];

		if (el->name) {
			v = v->type == VAL_M ? val_map_get(v, el->name, el->len) : NULL;
		} else {
			if (v->type != VAL_L || el->index >= v->l.len)
				return NULL;
			v = &v->l.v[el->index];
		}
	}
	return v;
}

const char *xtype_word(enum val_type t)
{
	switch (t) {
	case VAL_NULL:
		return "NULL";
	case VAL_BOOL:
		return "BOOLEAN";
	case VAL_S:
		return "STRING";
	case VAL_N:
		return "NUMBER";
	case VAL_B:
		return "BINARY";
	case VAL_L:
		return "LIST";
	case VAL_M:
		return "MAP";
	case VAL_SS:
		return "STRING_SET";
	case VAL_NS:
		return "NUMBER_SET";
	case VAL_BS:
		return "BINARY_SET";
	}
	return "?";
}
