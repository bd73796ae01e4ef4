/*
 * val.c - attribute values (see val.h).
 *
 * Maps keep their attributes in one array sorted by name (memcmp order,
 * shorter first on a common prefix), so lookups are binary searches and
 * rendering in byte order needs no sort.  Sets keep their elements in one
 * array sorted by val_cmp() and unique, so set equality is elementwise
 * equality and membership is a binary search.  Both cost an O(n) memmove
 * on insert, which is fine for the sizes an item can have (400 KB) and
 * keeps reads - by far the common case - cheap.
 *
 * val_equal() relies on those invariants (maps and sets compare element by
 * element); val_check() proves them, with the attribute path of the first
 * violation in err.
 */
#include "val.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char *const type_names[] = {
	[VAL_NULL] = "NULL", [VAL_BOOL] = "BOOL", [VAL_S] = "S", [VAL_N] = "N",
	[VAL_B] = "B", [VAL_L] = "L", [VAL_M] = "M",
	[VAL_SS] = "SS", [VAL_NS] = "NS", [VAL_BS] = "BS",
};
/* clang-format on */

#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *val_type_name(enum val_type t)
{
	if ((unsigned)t >= NTYPES)
		return "?";
	return type_names[t];
}

int val_type_from_name(const char *name, enum val_type *out)
{
	for (size_t i = 0; i < NTYPES; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*out = (enum val_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool val_type_is_key(enum val_type t)
{
	return t == VAL_S || t == VAL_N || t == VAL_B;
}

bool val_type_is_set(enum val_type t)
{
	return t == VAL_SS || t == VAL_NS || t == VAL_BS;
}

enum val_type val_set_elem_type(enum val_type set)
{
	switch (set) {
	case VAL_SS:
		return VAL_S;
	case VAL_NS:
		return VAL_N;
	case VAL_BS:
		return VAL_B;
	default:
		return VAL_NULL;
	}
}

/* ---- constructors and ownership ---- */

void val_init_null(struct val *out)
{
	memset(out, 0, sizeof(*out));
	out->type = VAL_NULL;
}

void val_init_bool(struct val *out, bool b)
{
	val_init_null(out);
	out->type = VAL_BOOL;
	out->b = b;
}

void val_init_num(struct val *out, const struct num *n)
{
	val_init_null(out);
	out->type = VAL_N;
	out->n = *n;
}

static int init_bytes(struct val *out, enum val_type t, const void *p, size_t len)
{
	char *q = malloc(len + 1);

	val_init_null(out);
	if (!q)
		return -ENOMEM;
	if (len)
		memcpy(q, p, len);
	q[len] = 0;
	out->type = t;
	out->s.p = q;
	out->s.len = len;
	return 0;
}

int val_init_str(struct val *out, const char *p, size_t len)
{
	return init_bytes(out, VAL_S, p, len);
}

void val_init_str_take(struct val *out, char *p, size_t len)
{
	out->type = VAL_S;
	out->s.p = p;
	out->s.len = len;
}

int val_init_bin(struct val *out, const void *p, size_t len)
{
	return init_bytes(out, VAL_B, p, len);
}

void val_init_list(struct val *out)
{
	val_init_null(out);
	out->type = VAL_L;
}

void val_init_map(struct val *out)
{
	val_init_null(out);
	out->type = VAL_M;
}

void val_init_set(struct val *out, enum val_type set_type)
{
	val_init_null(out);
	out->type = set_type;
}

void val_free(struct val *v)
{
	if (!v)
		return;
	switch (v->type) {
	case VAL_S:
	case VAL_B:
		free(v->s.p);
		break;
	case VAL_L:
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		for (size_t i = 0; i < v->l.len; i++)
			val_free(&v->l.v[i]);
		free(v->l.v);
		break;
	case VAL_M:
		for (size_t i = 0; i < v->m.len; i++) {
			free(v->m.a[i].name);
			val_free(&v->m.a[i].v);
		}
		free(v->m.a);
		break;
	default:
		break;
	}
	val_init_null(v);
}

int val_copy(struct val *out, const struct val *v)
{
	struct val r;
	size_t i;

	switch (v->type) {
	case VAL_S:
	case VAL_B:
		return init_bytes(out, v->type, v->s.p, v->s.len);
	case VAL_L:
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		val_init_null(&r);
		r.type = v->type;
		if (v->l.len) {
			r.l.v = malloc(v->l.len * sizeof(*r.l.v));
			if (!r.l.v)
				goto out_nomem;
			r.l.cap = v->l.len;
		}
		for (i = 0; i < v->l.len; i++) {
			if (val_copy(&r.l.v[i], &v->l.v[i]))
				goto out_free;
			r.l.len++;
		}
		*out = r;
		return 0;
	case VAL_M:
		val_init_map(&r);
		if (v->m.len) {
			r.m.a = malloc(v->m.len * sizeof(*r.m.a));
			if (!r.m.a)
				goto out_nomem;
			r.m.cap = v->m.len;
		}
		for (i = 0; i < v->m.len; i++) {
			struct val_attr *d = &r.m.a[i];
			const struct val_attr *s = &v->m.a[i];

			d->name = malloc(s->name_len + 1);
			if (!d->name)
				goto out_free;
			memcpy(d->name, s->name, s->name_len + 1);
			d->name_len = s->name_len;
			if (val_copy(&d->v, &s->v)) {
				free(d->name);
				goto out_free;
			}
			r.m.len++;
		}
		*out = r;
		return 0;
	default:
		*out = *v;
		return 0;
	}
out_free:
	val_free(&r);
out_nomem:
	val_init_null(out);
	return -ENOMEM;
}

void val_move(struct val *out, struct val *v)
{
	*out = *v;
	val_init_null(v);
}

/* ---- comparison ---- */

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c < 0 ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

int val_cmp(const struct val *a, const struct val *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case VAL_S:
	case VAL_B:
		return cmp_bytes(a->s.p, a->s.len, b->s.p, b->s.len);
	case VAL_N:
		return num_cmp(&a->n, &b->n);
	default:
		return 0;
	}
}

bool val_equal(const struct val *a, const struct val *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case VAL_NULL:
		return true;
	case VAL_BOOL:
		return a->b == b->b;
	case VAL_N:
		return num_cmp(&a->n, &b->n) == 0;
	case VAL_S:
	case VAL_B:
		return a->s.len == b->s.len && memcmp(a->s.p, b->s.p, a->s.len) == 0;
	case VAL_L:
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		/* Sets are sorted and unique, so as-sets is elementwise. */
		if (a->l.len != b->l.len)
			return false;
		for (size_t i = 0; i < a->l.len; i++)
			if (!val_equal(&a->l.v[i], &b->l.v[i]))
				return false;
		return true;
	case VAL_M:
		if (a->m.len != b->m.len)
			return false;
		for (size_t i = 0; i < a->m.len; i++) {
			const struct val_attr *x = &a->m.a[i], *y = &b->m.a[i];

			if (x->name_len != y->name_len ||
			    memcmp(x->name, y->name, x->name_len) != 0 || !val_equal(&x->v, &y->v))
				return false;
		}
		return true;
	}
	return false;
}

/* ---- maps ---- */

/*
 * Binary search for name in m; returns the index where it is (*found set)
 * or where it would be inserted.
 */
static size_t map_find(const struct val *m, const char *name, size_t name_len, bool *found)
{
	size_t lo = 0, hi = m->m.len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct val_attr *a = &m->m.a[mid];
		int c = cmp_bytes(a->name, a->name_len, name, name_len);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct val *val_map_get(const struct val *m, const char *name, size_t name_len)
{
	bool found;
	size_t i;

	if (m->type != VAL_M)
		return NULL;
	i = map_find(m, name, name_len, &found);
	return found ? &m->m.a[i].v : NULL;
}

/* Make room for one more element of size sz in *arr (cap doubling). */
static int grow(void **arr, size_t *cap, size_t len, size_t sz)
{
	size_t ncap;
	void *p;

	if (len < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Put name (taken) and *v (moved) at index i of m; -ENOMEM (nothing taken). */
static int insert_at(struct val *m, size_t i, char *name, size_t name_len, struct val *v)
{
	struct val_attr *a;

	if (grow((void **)&m->m.a, &m->m.cap, m->m.len, sizeof(*m->m.a)))
		return -ENOMEM;
	a = &m->m.a[i];
	memmove(a + 1, a, (m->m.len - i) * sizeof(*a));
	a->name = name;
	a->name_len = name_len;
	val_move(&a->v, v);
	m->m.len++;
	return 0;
}

int val_map_set(struct val *m, const char *name, size_t name_len, struct val *v)
{
	bool found;
	size_t i;
	char *nm;

	i = map_find(m, name, name_len, &found);
	if (found) {
		val_free(&m->m.a[i].v);
		val_move(&m->m.a[i].v, v);
		return 0;
	}
	nm = malloc(name_len + 1);
	if (!nm)
		goto out_nomem;
	memcpy(nm, name, name_len);
	nm[name_len] = 0;
	if (insert_at(m, i, nm, name_len, v) == 0)
		return 0;
	free(nm);
out_nomem:
	val_free(v);
	return -ENOMEM;
}

int val_map_add_take(struct val *m, char *name, size_t name_len, struct val *v)
{
	bool found;
	size_t i = map_find(m, name, name_len, &found);

	return found ? -EEXIST : insert_at(m, i, name, name_len, v);
}

int val_map_remove(struct val *m, const char *name, size_t name_len)
{
	bool found;
	size_t i;

	if (m->type != VAL_M)
		return 0;
	i = map_find(m, name, name_len, &found);
	if (!found)
		return 0;
	free(m->m.a[i].name);
	val_free(&m->m.a[i].v);
	memmove(&m->m.a[i], &m->m.a[i + 1], (m->m.len - i - 1) * sizeof(m->m.a[0]));
	m->m.len--;
	return 1;
}

/* ---- lists and sets ---- */

int val_list_append(struct val *l, struct val *v)
{
	if (grow((void **)&l->l.v, &l->l.cap, l->l.len, sizeof(*l->l.v))) {
		val_free(v);
		return -ENOMEM;
	}
	val_move(&l->l.v[l->l.len++], v);
	return 0;
}

static size_t set_search(const struct val *set, const struct val *e, bool *found)
{
	size_t lo = 0, hi = set->l.len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = val_cmp(&set->l.v[mid], e);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

int val_set_add(struct val *set, struct val *v)
{
	bool found;
	size_t i;

	if (!val_type_is_set(set->type) || v->type != val_set_elem_type(set->type)) {
		val_free(v);
		return -EINVAL;
	}
	i = set_search(set, v, &found);
	if (found) {
		val_free(v);
		return 0;
	}
	if (grow((void **)&set->l.v, &set->l.cap, set->l.len, sizeof(*set->l.v))) {
		val_free(v);
		return -ENOMEM;
	}
	memmove(&set->l.v[i + 1], &set->l.v[i], (set->l.len - i) * sizeof(*set->l.v));
	val_move(&set->l.v[i], v);
	set->l.len++;
	return 1;
}

long val_set_find(const struct val *set, const struct val *e)
{
	bool found;
	size_t i;

	if (!val_type_is_set(set->type) || e->type != val_set_elem_type(set->type))
		return -1;
	i = set_search(set, e, &found);
	return found ? (long)i : -1;
}

int val_set_remove(struct val *set, const struct val *e)
{
	long i = val_set_find(set, e);

	if (i < 0)
		return 0;
	val_free(&set->l.v[i]);
	memmove(&set->l.v[i], &set->l.v[i + 1], (set->l.len - (size_t)i - 1) * sizeof(*set->l.v));
	set->l.len--;
	return 1;
}

/* ---- checking ---- */

/*
 * Attribute path of the value being checked, as a chain of frames on the C
 * stack (one per level, pointing at the parent).  It costs nothing until
 * an error needs it as text: "a.b", "scores[2]".
 */
struct vframe {
	const struct vframe *up; /* enclosing level, NULL at the top */
	const char *name;	 /* attribute name, or NULL for a list element */
	size_t n;		 /* name length, or the element's index */
};

static size_t format_path(const struct vframe *f, char *buf, size_t size)
{
	size_t len;
	int n;

	if (!f) {
		buf[0] = 0;
		return 0;
	}
	len = format_path(f->up, buf, size);
	if (len + 1 >= size)
		return len;
	if (f->name)
		n = snprintf(buf + len, size - len, "%s%.*s", len ? "." : "",
			     (int)(f->n > 200 ? 200 : f->n), f->name);
	else
		n = snprintf(buf + len, size - len, "[%zu]", f->n);
	if (n > 0)
		len += (size_t)n;
	return len < size ? len : size - 1;
}

static int check_fail(const struct vframe *p, struct dyn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int check_fail(const struct vframe *p, struct dyn_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)], path[sizeof(err->path)];
	va_list ap;
	int rc;

	if (!err)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rc = err_set(err, EINVAL, "%s", msg);
	format_path(p, path, sizeof(path));
	err_path(err, path);
	return rc;
}

static bool num_canonical(const struct num *n)
{
	if (n->ndigits == 0)
		return n->neg == 0 && n->exp == 0;
	if (n->ndigits > NUM_MAX_DIGITS || n->exp < -129 || n->exp > 126 || n->neg > 1)
		return false;
	if (n->digit[0] == 0 || n->digit[n->ndigits - 1] == 0)
		return false;
	for (int i = 0; i < NUM_MAX_DIGITS; i++)
		if (n->digit[i] > 9 || (i >= n->ndigits && n->digit[i]))
			return false;
	return true;
}

static const char *set_word(enum val_type t)
{
	return t == VAL_SS ? "string" : t == VAL_NS ? "number" : "binary";
}

static int check_rec(const struct val *v, const struct vframe *p, struct dyn_err *err);

static int check_set(const struct val *v, const struct vframe *p, struct dyn_err *err)
{
	enum val_type et = val_set_elem_type(v->type);
	char msg[96];

	if (v->l.len == 0) {
		snprintf(msg, sizeof(msg), "%s set is empty", set_word(v->type));
		return check_fail(p, err, "%s", msg);
	}
	if (v->l.len > v->l.cap || !v->l.v)
		return check_fail(p, err, "set array is corrupt");
	for (size_t i = 0; i < v->l.len; i++) {
		const struct val *e = &v->l.v[i];
		int rc, c;

		if (e->type != et) {
			snprintf(msg, sizeof(msg), "%s set holds a %s element", set_word(v->type),
				 val_type_name(e->type));
			return check_fail(p, err, "%s", msg);
		}
		rc = check_rec(e, p, err);
		if (rc)
			return rc;
		if (i == 0)
			continue;
		c = val_cmp(&v->l.v[i - 1], e);
		if (c == 0) {
			if (et == VAL_N) {
				char t[NUM_TEXT_MAX];

				num_format(&e->n, t);
				snprintf(msg, sizeof(msg), "duplicate element %s in number set", t);
				return check_fail(p, err, "%s", msg);
			}
			if (et == VAL_S)
				return check_fail(p, err,
						  "duplicate element \"%.*s\" in string set",
						  (int)(e->s.len > 64 ? 64 : e->s.len), e->s.p);
			return check_fail(p, err, "duplicate element in binary set");
		}
		if (c > 0) {
			snprintf(msg, sizeof(msg), "%s set elements are not sorted",
				 set_word(v->type));
			return check_fail(p, err, "%s", msg);
		}
	}
	return 0;
}

static int check_map(const struct val *v, const struct vframe *p, struct dyn_err *err)
{
	if (v->m.len > v->m.cap || (v->m.len && !v->m.a))
		return check_fail(p, err, "map array is corrupt");
	for (size_t i = 0; i < v->m.len; i++) {
		const struct val_attr *a = &v->m.a[i];
		struct vframe fr;
		int rc;

		if (!a->name || strlen(a->name) != a->name_len)
			return check_fail(p, err, "attribute name contains a NUL character");
		if (!val_utf8_valid(a->name, a->name_len))
			return check_fail(p, err, "attribute name is not valid UTF-8");
		if (i > 0) {
			const struct val_attr *b = &v->m.a[i - 1];
			int c = cmp_bytes(b->name, b->name_len, a->name, a->name_len);

			if (c == 0)
				return check_fail(p, err, "duplicate attribute \"%.*s\"",
						  (int)(a->name_len > 64 ? 64 : a->name_len),
						  a->name);
			if (c > 0)
				return check_fail(p, err, "attributes are not sorted by name");
		}
		fr = (struct vframe){p, a->name, a->name_len};
		rc = check_rec(&a->v, &fr, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_rec(const struct val *v, const struct vframe *p, struct dyn_err *err)
{
	switch (v->type) {
	case VAL_NULL:
		return 0;
	case VAL_BOOL:
		return 0;
	case VAL_N:
		if (!num_canonical(&v->n))
			return check_fail(p, err, "number is not in canonical form");
		return 0;
	case VAL_S:
	case VAL_B:
		if (!v->s.p || v->s.p[v->s.len] != 0)
			return check_fail(p, err, "value is not NUL-terminated");
		if (v->type == VAL_S && !val_utf8_valid(v->s.p, v->s.len))
			return check_fail(p, err, "string is not valid UTF-8");
		return 0;
	case VAL_L:
		if (v->l.len > v->l.cap || (v->l.len && !v->l.v))
			return check_fail(p, err, "list array is corrupt");
		for (size_t i = 0; i < v->l.len; i++) {
			struct vframe fr = {p, NULL, i};
			int rc = check_rec(&v->l.v[i], &fr, err);

			if (rc)
				return rc;
		}
		return 0;
	case VAL_M:
		return check_map(v, p, err);
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		return check_set(v, p, err);
	}
	return check_fail(p, err, "unknown value type");
}

int val_check(const struct val *v, struct dyn_err *err)
{
	return check_rec(v, NULL, err);
}

/* ---- UTF-8 ---- */

bool val_utf8_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + len;

	while (s < end) {
		unsigned c = *s;

		if (c < 0x80) {
			/* ASCII runs are the common case: take 8 bytes at a time. */
			while (end - s >= 8) {
				uint64_t w;

				memcpy(&w, s, 8);
				if (w & 0x8080808080808080ULL)
					break;
				s += 8;
			}
			while (s < end && *s < 0x80)
				s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (end - s < 2 || (s[1] & 0xc0) != 0x80)
				return false;
			s += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

			if (end - s < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
				return false;
			s += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

			if (end - s < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
			    (s[3] & 0xc0) != 0x80)
				return false;
			s += 4;
		} else {
			return false;
		}
	}
	return true;
}
