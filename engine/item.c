/*
 * item.c - items: DynamoDB's size and shape limits, and the compact
 * binary form items are stored in (item.h).  The JSON codec is in
 * item_parse.c and item_render.c, base64 in b64.c.
 *
 * Size (item_size) follows DynamoDB's published rules: names and S/B
 * values count their bytes, BOOL and NULL one byte, L and M three bytes
 * plus one per element (plus the nested names), sets the sum of their
 * elements.  For N, DynamoDB stores base-100 digits aligned on the decimal
 * point plus an exponent byte; we count exactly that - one byte, plus one
 * per pair of digits from the first to the last significant pair, plus one
 * for a negative number - which gives the documented "1 byte per two
 * significant digits + 1" (27 -> 2, -27 -> 3, 461 -> 3, 1.5 -> 3) and at
 * most 21 bytes for 38 digits.
 *
 * Depth: an item's attributes are level 1; a list or map counts one level
 * more than its container; at most ITEM_MAX_DEPTH.  Sets do not nest.
 *
 * Binary form (item_encode), as item.h lays out: type byte (enum
 * val_type), then the payload; lengths and counts are unsigned LEB128.
 * Decoding checks every length against the buffer, that types, numbers
 * and booleans are well-formed, that map names and set elements are in
 * strictly increasing order (sorted and unique), and bounds the nesting,
 * so a corrupt buffer gives -EINVAL rather than a bad value.  Varints must
 * be minimal, so every value has exactly one encoding.  It does not
 * re-validate UTF-8: only item_encode writes this form.
 */
#include "item.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting bound while decoding (well above the parser's). */
#define DECODE_MAX_DEPTH 64

/* ---- size ---- */

static long floor_half(long x)
{
	return x >= 0 ? x / 2 : -((-x + 1) / 2);
}

size_t item_num_size(const struct num *n)
{
	long hi, lo;

	if (n->ndigits == 0)
		return 1;
	/* Powers of ten of the first and last significant digits. */
	hi = n->exp - 1;
	lo = n->exp - n->ndigits;
	return (size_t)(1 + floor_half(hi) - floor_half(lo) + 1) + n->neg;
}

static size_t value_size(const struct val *v)
{
	size_t s = 0;

	switch (v->type) {
	case VAL_NULL:
	case VAL_BOOL:
		return 1;
	case VAL_S:
	case VAL_B:
		return v->s.len;
	case VAL_N:
		return item_num_size(&v->n);
	case VAL_L:
		s = 3;
		for (size_t i = 0; i < v->l.len; i++)
			s += value_size(&v->l.v[i]) + 1;
		return s;
	case VAL_M:
		s = 3;
		for (size_t i = 0; i < v->m.len; i++)
			s += v->m.a[i].name_len + value_size(&v->m.a[i].v) + 1;
		return s;
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		for (size_t i = 0; i < v->l.len; i++)
			s += value_size(&v->l.v[i]);
		return s;
	}
	return 0;
}

size_t item_size(const struct val *item)
{
	size_t s = 0;

	if (item->type != VAL_M)
		return value_size(item);
	for (size_t i = 0; i < item->m.len; i++)
		s += item->m.a[i].name_len + value_size(&item->m.a[i].v);
	return s;
}

/* ---- limits ---- */

/* Attribute path as a chain of frames on the C stack (see val.c). */
struct dframe {
	const struct dframe *up; /* enclosing level, NULL at the top */
	const char *name;	 /* attribute name, or NULL for a list element */
	size_t n;		 /* name length, or the element's index */
};

static size_t format_path(const struct dframe *f, char *buf, size_t size)
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

/* Fail if there is a list or map at a level > ITEM_MAX_DEPTH in v (at level). */
static int depth_check(const struct val *v, int level, const struct dframe *f, struct dyn_err *err)
{
	int rc = 0;

	if (v->type != VAL_L && v->type != VAL_M)
		return 0;
	if (level > ITEM_MAX_DEPTH) {
		char path[sizeof(err->path)];

		rc = err_set(err, EINVAL, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
		if (err) {
			format_path(f, path, sizeof(path));
			err_path(err, path);
		}
		return rc;
	}
	if (v->type == VAL_L) {
		for (size_t i = 0; i < v->l.len && !rc; i++) {
			struct dframe fr = {f, NULL, i};

			rc = depth_check(&v->l.v[i], level + 1, &fr, err);
		}
	} else {
		for (size_t i = 0; i < v->m.len && !rc; i++) {
			struct dframe fr = {f, v->m.a[i].name, v->m.a[i].name_len};

			rc = depth_check(&v->m.a[i].v, level + 1, &fr, err);
		}
	}
	return rc;
}

static int check_size(const struct val *item, struct dyn_err *err)
{
	size_t size = item_size(item);

	if (size > ITEM_MAX_SIZE)
		return err_set(err, EFBIG, "item is %zu bytes, over DynamoDB's 400 KB limit", size);
	return 0;
}

int item_check(const struct val *item, struct dyn_err *err)
{
	int rc;

	if (item->type != VAL_M)
		return err_set(err, EINVAL, "an item must be a map, not %s",
			       val_type_name(item->type));
	rc = val_check(item, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < item->m.len; i++) {
		struct dframe fr = {NULL, item->m.a[i].name, item->m.a[i].name_len};

		rc = depth_check(&item->m.a[i].v, 1, &fr, err);
		if (rc)
			return rc;
	}
	return check_size(item, err);
}

/* ---- binary form ---- */

struct bbuf {
	uint8_t *p;  /* output */
	size_t len;  /* used */
	size_t cap;  /* allocated */
	bool nomem;  /* an allocation failed: writes are dropped */
	bool fixed;  /* p is the caller's storage (item_encode_into), not malloc'd */
};

/* bb_reserve's slow path: grow the buffer. */
static __attribute__((noinline)) bool bb_grow(struct bbuf *b, size_t n)
{
	size_t ncap;
	uint8_t *p;

	if (b->nomem)
		return false;
	ncap = b->cap ? b->cap * 2 : 512;
	while (ncap - b->len < n)
		ncap *= 2;
	if (b->fixed) {
		p = malloc(ncap);
		if (p) {
			memcpy(p, b->p, b->len);
			b->fixed = false;
		}
	} else {
		p = realloc(b->p, ncap);
	}
	if (!p) {
		b->nomem = true;
		return false;
	}
	b->p = p;
	b->cap = ncap;
	return true;
}

static inline bool bb_reserve(struct bbuf *b, size_t n)
{
	return b->cap - b->len >= n || bb_grow(b, n);
}

static void bb_varint(struct bbuf *b, uint64_t v)
{
	if (!bb_reserve(b, 10))
		return;
	while (v >= 0x80) {
		b->p[b->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->len++] = (uint8_t)v;
}

static void bb_bytes(struct bbuf *b, const void *p, size_t n)
{
	bb_varint(b, n);
	if (!bb_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void enc_value(struct bbuf *b, const struct val *v, bool with_type)
{
	if (with_type) {
		if (!bb_reserve(b, 1))
			return;
		b->p[b->len++] = (uint8_t)v->type;
	}
	switch (v->type) {
	case VAL_NULL:
		break;
	case VAL_BOOL:
		if (bb_reserve(b, 1))
			b->p[b->len++] = v->b ? 1 : 0;
		break;
	case VAL_S:
	case VAL_B:
		bb_bytes(b, v->s.p, v->s.len);
		break;
	case VAL_N: {
		uint8_t k[NUM_KEY_MAX];

		bb_bytes(b, k, num_key_encode(&v->n, k));
		break;
	}
	case VAL_L:
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		bb_varint(b, v->l.len);
		for (size_t i = 0; i < v->l.len; i++)
			enc_value(b, &v->l.v[i], v->type == VAL_L);
		break;
	case VAL_M:
		bb_varint(b, v->m.len);
		for (size_t i = 0; i < v->m.len; i++) {
			bb_bytes(b, v->m.a[i].name, v->m.a[i].name_len);
			enc_value(b, &v->m.a[i].v, true);
		}
		break;
	}
}

int item_encode(const struct val *v, uint8_t **out, size_t *len)
{
	struct bbuf b = {0};

	enc_value(&b, v, true);
	if (b.nomem || !bb_reserve(&b, 1)) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int item_encode_into(const struct val *v, uint8_t *buf, size_t cap, uint8_t **out, size_t *len)
{
	struct bbuf b = {.p = buf, .cap = cap, .fixed = true};

	enc_value(&b, v, true);
	if (b.nomem) {
		if (!b.fixed)
			free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

struct dec {
	const uint8_t *p;   /* cursor */
	const uint8_t *end; /* end of the buffer */
	int depth;	    /* lists and maps open */
};

static int get_varint(struct dec *d, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (d->p >= d->end)
			return -EINVAL;
		c = *d->p++;
		/* Only the minimal encoding: no padding bytes, no bits past 64. */
		if ((shift && c == 0) || (shift == 63 && c > 1))
			return -EINVAL;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* A length or count that cannot exceed the bytes left (each item >= 1 byte). */
static int get_count(struct dec *d, size_t *out)
{
	uint64_t v;

	if (get_varint(d, &v) || v > (uint64_t)(d->end - d->p))
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static int dec_value(struct dec *d, enum val_type t, struct val *out);

static int dec_bytes(struct dec *d, enum val_type t, struct val *out)
{
	size_t n;
	int rc;

	if (get_count(d, &n))
		return -EINVAL;
	rc = t == VAL_S ? val_init_str(out, (const char *)d->p, n) : val_init_bin(out, d->p, n);
	d->p += n;
	return rc;
}

static int dec_list(struct dec *d, enum val_type t, struct val *out)
{
	enum val_type et = val_set_elem_type(t);
	size_t n;
	int rc = 0;

	val_init_list(out);
	out->type = t;
	if (get_count(d, &n))
		return -EINVAL;
	if (t != VAL_L && n == 0)
		return -EINVAL;
	if (n) {
		out->l.v = malloc(n * sizeof(*out->l.v));
		if (!out->l.v)
			return -ENOMEM;
		out->l.cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		struct val *e = &out->l.v[i];

		if (t == VAL_L) {
			if (d->p >= d->end || *d->p > VAL_BS) {
				rc = -EINVAL;
				break;
			}
			et = (enum val_type) * d->p++;
		}
		rc = dec_value(d, et, e);
		if (rc)
			break;
		out->l.len++;
		if (t != VAL_L && i > 0 && val_cmp(&out->l.v[i - 1], e) >= 0) {
			rc = -EINVAL;
			break;
		}
	}
	if (rc)
		val_free(out);
	return rc;
}

static int dec_map(struct dec *d, struct val *out)
{
	size_t n;
	int rc = 0;

	val_init_map(out);
	if (get_count(d, &n))
		return -EINVAL;
	if (n) {
		out->m.a = malloc(n * sizeof(*out->m.a));
		if (!out->m.a)
			return -ENOMEM;
		out->m.cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		struct val_attr *a = &out->m.a[i];
		size_t k;

		if (get_count(d, &k) || memchr(d->p, 0, k) || (size_t)(d->end - d->p) < k + 1) {
			rc = -EINVAL;
			break;
		}
		if (i > 0) {
			const struct val_attr *b = &out->m.a[i - 1];
			size_t m = k < b->name_len ? k : b->name_len;
			int c = m ? memcmp(b->name, d->p, m) : 0;

			if (c > 0 || (c == 0 && b->name_len >= k)) {
				rc = -EINVAL;
				break;
			}
		}
		a->name = malloc(k + 1);
		if (!a->name) {
			rc = -ENOMEM;
			break;
		}
		memcpy(a->name, d->p, k);
		a->name[k] = 0;
		a->name_len = k;
		d->p += k;
		if (*d->p > VAL_BS) {
			free(a->name);
			rc = -EINVAL;
			break;
		}
		rc = dec_value(d, (enum val_type) * d->p++, &a->v);
		if (rc) {
			free(a->name);
			break;
		}
		out->m.len++;
	}
	if (rc)
		val_free(out);
	return rc;
}

static int dec_value(struct dec *d, enum val_type t, struct val *out)
{
	uint8_t k[NUM_KEY_MAX];
	size_t n;
	int rc;

	switch (t) {
	case VAL_NULL:
		val_init_null(out);
		return 0;
	case VAL_BOOL:
		if (d->p >= d->end || *d->p > 1)
			return -EINVAL;
		val_init_bool(out, *d->p++);
		return 0;
	case VAL_S:
	case VAL_B:
		return dec_bytes(d, t, out);
	case VAL_N:
		if (get_count(d, &n) || n > NUM_KEY_MAX)
			return -EINVAL;
		memcpy(k, d->p, n);
		d->p += n;
		val_init_null(out);
		out->type = VAL_N;
		return num_key_decode(k, n, &out->n);
	case VAL_L:
	case VAL_M:
		if (++d->depth > DECODE_MAX_DEPTH)
			return -EINVAL;
		rc = t == VAL_L ? dec_list(d, t, out) : dec_map(d, out);
		d->depth--;
		return rc;
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		return dec_list(d, t, out);
	}
	return -EINVAL;
}

int item_decode(const uint8_t *buf, size_t len, struct val *out)
{
	struct dec d = {buf, buf + len, 0};
	int rc;

	val_init_null(out);
	if (len == 0 || buf[0] > VAL_BS)
		return -EINVAL;
	d.p++;
	rc = dec_value(&d, (enum val_type)buf[0], out);
	if (rc == 0 && d.p != d.end) {
		val_free(out);
		rc = -EINVAL;
	}
	if (rc)
		val_init_null(out);
	return rc;
}
