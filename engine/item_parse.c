/*
 * item_parse.c - the document-JSON parser (item.h: item_parse_value,
 * item_parse, item_parse_arena).
 *
 * One pass, straight into struct val, no intermediate tree.  Numbers are
 * read as the exact digits written (num_parse), strings are validated as
 * UTF-8 while they are scanned, and a string without escapes is copied
 * with one memcpy.  The scanner looks at eight bytes at a time for the
 * bytes that end a plain run ('"', '\\', controls, non-ASCII).
 *
 * Memory.  Every byte of the value comes from ipar_alloc(): malloc, or
 * with item_parse_arena() an arena (item_arena.c), whose values are
 * never freed one by one; error paths give back what they built through
 * ipar_free()/ipar_val_free(), which leave arena memory alone.
 *
 * Containers are collected on one parser-wide stack of slots rather than
 * grown in place: a map or list pushes its members while they are parsed
 * (nested containers push above them and pop before the parent goes on),
 * and when it closes it gets one exactly-sized array.  Members of a map
 * usually arrive sorted (canonical text is sorted); if not, the slice is
 * sorted once, which also brings duplicates together.  Every slot knows
 * where its text began, so a duplicate is reported at its own position.
 *
 * Tags.  An object whose ONLY key is "$N", "$B", "$SS", "$NS", "$BS" or
 * "$M" is a typed value; an object with such a key and any other key is
 * an ordinary map (its "$N" attribute is whatever its JSON value is).  So
 * that a tagged value can be parsed with precise positions, when the first
 * key is a tag name the parser looks ahead (a cheap bracket-counting skip
 * over the value) to see whether the object closes right after it.  The
 * object directly inside {"$M": ...} is always an ordinary map, even if
 * its own only key is a tag name; that is what the renderer relies on.
 *
 * Nesting: at most ITEM_MAX_DEPTH + 1 levels of lists and maps in the
 * text - the item's own object plus 32 levels of nested attributes, which
 * is DynamoDB's limit.  Tag wrappers do not count; the map inside "$M"
 * does.  The C recursion is bounded by the same limit.
 *
 * Errors: the first problem is reported with a user-facing message, the
 * 1-based line and byte column where it is, and the attribute path of the
 * value being parsed ("scores[2]", "a.b").  Positions are computed only
 * when an error happens.  JSON itself is parsed strictly (RFC 8259: no
 * leading zeros, no '+', no NaN/Infinity, no trailing commas, no
 * comments); a leading UTF-8 byte order mark is skipped.
 */
#include "item_parseint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tag { TAG_NONE, TAG_N, TAG_B, TAG_SS, TAG_NS, TAG_BS, TAG_M };

/* clang-format off */
static const char *const tag_names[] = {
	[TAG_N] = "$N", [TAG_B] = "$B", [TAG_SS] = "$SS",
	[TAG_NS] = "$NS", [TAG_BS] = "$BS", [TAG_M] = "$M",
};
/* clang-format on */

static int parse_value(struct parser *ps, struct val *out);
static int parse_object(struct parser *ps, struct val *out, bool literal);

/* ---- containers ---- */

static int push_slot(struct parser *ps, char *name, size_t name_len, const char *at, struct val *v)
{
	struct slot *s;

	if (ps->nslots == ps->cap) {
		size_t ncap = ps->cap * 2;
		struct slot *n;

		if (ps->slots == ps->inline_slots) {
			n = malloc(ncap * sizeof(*n));
			if (n)
				memcpy(n, ps->slots, ps->nslots * sizeof(*n));
		} else {
			n = realloc(ps->slots, ncap * sizeof(*n));
		}
		if (!n) {
			ipar_free(ps, name);
			ipar_val_free(ps, v);
			return ipar_fail_nomem(ps);
		}
		ps->slots = n;
		ps->cap = ncap;
	}
	s = &ps->slots[ps->nslots++];
	s->name = name;
	s->name_len = name_len;
	s->off = (size_t)(at - ps->text);
	s->v = *v;
	return 0;
}

static int slot_name_cmp(const void *x, const void *y)
{
	const struct slot *a = x, *b = y;
	int c = item_name_cmp(a->name, a->name_len, b->name, b->name_len);

	if (c)
		return c;
	return (a->off > b->off) - (a->off < b->off);
}

static int slot_elem_cmp(const void *x, const void *y)
{
	const struct slot *a = x, *b = y;
	int c = val_cmp(&a->v, &b->v);

	if (c)
		return c;
	return (a->off > b->off) - (a->off < b->off);
}

/*
 * Sort n slots.  Objects are small and nearly sorted in practice, where
 * insertion sort beats qsort (which may also allocate); big ones go to qsort.
 */
static void sort_slots(struct slot *s, size_t n, int (*cmp)(const void *, const void *))
{
	if (n > 24) {
		qsort(s, n, sizeof(*s), cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct slot t = s[i];
		size_t j = i;

		while (j > 0 && cmp(&s[j - 1], &t) > 0) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = t;
	}
}

/* A name's first 8 bytes, big-endian, zero padded: orders as item_name_cmp
 * does (names hold no NUL), or ties when the first 8 bytes do. */
static inline uint64_t name_pfx(const char *p, size_t len)
{
	uint8_t b[8] = {0};

	memcpy(b, p, len < 8 ? len : 8);
	return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
	       (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
	       (uint64_t)b[6] << 8 | b[7];
}

/*
 * Sort a map's n slots by name (then position) when n is small: an
 * insertion sort of (8-byte prefix, index) pairs, which decides most
 * comparisons without reading the names and moves 16 bytes instead of a
 * slot, then one permutation of the slots.  Objects written by programs
 * in field order (a _batch dump) arrive unsorted, so this is per line.
 */
#define SORT_SMALL 24
static void sort_names(struct slot *s, size_t n)
{
	struct skey {
		uint64_t pfx;
		size_t i;
	} k[SORT_SMALL], t;
	struct slot tmp[SORT_SMALL];
	size_t i, j;

	if (n > SORT_SMALL) {
		sort_slots(s, n, slot_name_cmp);
		return;
	}
	/* Key attributes first, then the rest in order (how items are
	 * rendered: a snapshot, a cat of an item file): move the first ones. */
	for (i = 2; i < n && slot_name_cmp(&s[i - 1], &s[i]) < 0; i++)
		;
	if (i == n) {
		struct slot first = s[0];

		for (j = 1; j < n && slot_name_cmp(&s[j], &first) < 0; j++)
			;
		memmove(&s[0], &s[1], (j - 1) * sizeof(*s));
		s[j - 1] = first;
		return;
	}
	for (i = 0; i < n; i++) {
		k[i].pfx = name_pfx(s[i].name, s[i].name_len);
		k[i].i = i;
	}
	for (i = 1; i < n; i++) {
		t = k[i];
		for (j = i; j > 0; j--) {
			if (k[j - 1].pfx < t.pfx ||
			    (k[j - 1].pfx == t.pfx && slot_name_cmp(&s[k[j - 1].i], &s[t.i]) <= 0))
				break;
			k[j] = k[j - 1];
		}
		k[j] = t;
	}
	for (i = 0; i < n; i++)
		tmp[i] = s[k[i].i];
	memcpy(s, tmp, n * sizeof(*s));
}

/* Close a map: its members are slots[base..]. */
static int finish_map(struct parser *ps, size_t base, struct val *out)
{
	struct slot *s = ps->slots + base;
	size_t n = ps->nslots - base;
	struct val_attr *a = NULL;

	for (size_t i = 1; i < n; i++) {
		if (item_name_cmp(s[i - 1].name, s[i - 1].name_len, s[i].name, s[i].name_len) >= 0) {
			const struct slot *dup = NULL;

			sort_names(s, n);
			for (size_t j = 1; j < n; j++)
				if (s[j - 1].name_len == s[j].name_len &&
				    memcmp(s[j - 1].name, s[j].name, s[j].name_len) == 0 &&
				    (!dup || s[j].off < dup->off))
					dup = &s[j];
			if (dup)
				return ipar_fail_at(
				    ps, ps->text + dup->off, "duplicate attribute \"%.*s\"",
				    (int)(dup->name_len > 100 ? 100 : dup->name_len), dup->name);
			break;
		}
	}
	if (n) {
		a = ipar_alloc(ps, n * sizeof(*a));
		if (!a)
			return ipar_fail_nomem(ps);
	}
	for (size_t i = 0; i < n; i++) {
		a[i].name = s[i].name;
		a[i].name_len = s[i].name_len;
		a[i].v = s[i].v;
	}
	ps->nslots = base;
	val_init_map(out);
	out->m.a = a;
	out->m.len = out->m.cap = n;
	return 0;
}

/* Close a list or set: its elements are slots[base..]. */
static int finish_list(struct parser *ps, size_t base, enum val_type t, struct val *out)
{
	size_t n = ps->nslots - base;
	struct val *v = NULL;

	if (n) {
		v = ipar_alloc(ps, n * sizeof(*v));
		if (!v)
			return ipar_fail_nomem(ps);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = ps->slots[base + i].v;
	ps->nslots = base;
	val_init_list(out);
	out->type = t;
	out->l.v = v;
	out->l.len = out->l.cap = n;
	return 0;
}

/* After a member: ',' (returns 1, cursor on the next member) or the closer (0). */
static int next_member(struct parser *ps, char closer, const char *what)
{
	const char *p = skip_ws(ps->p, ps->end);

	if (p < ps->end && *p == closer) {
		ps->p = p + 1;
		return 0;
	}
	if (p < ps->end && *p == ',') {
		const char *q = skip_ws(p + 1, ps->end);

		if (q < ps->end && *q == closer)
			return ipar_fail_at(ps, p, "trailing comma before '%c'", closer);
		ps->p = q;
		return 1;
	}
	return ipar_fail_unexpected(ps, p, what);
}

static int parse_list(struct parser *ps, struct val *out)
{
	const char *open = ps->p;
	size_t base = ps->nslots, index = 0;
	int rc;

	if (ps->depth >= PARSE_MAX_DEPTH)
		return ipar_fail_at(ps, open, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
	ps->p = skip_ws(open + 1, ps->end);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		val_init_list(out);
		return 0;
	}
	ps->depth++;
	do {
		const char *at = ps->p;
		struct val v;

		ps->path[ps->npath++] = (struct frame){NULL, index++};
		rc = parse_value(ps, &v);
		ps->npath--;
		if (rc)
			return rc;
		rc = push_slot(ps, NULL, 0, at, &v);
		if (rc)
			return rc;
		rc = next_member(ps, ']', "',' or ']'");
	} while (rc == 1);
	ps->depth--;
	if (rc)
		return rc;
	return finish_list(ps, base, VAL_L, out);
}

/* Parse an attribute name at the cursor (which must be a string). */
static int parse_name(struct parser *ps, char **name, size_t *len)
{
	const char *at = ps->p;
	bool escaped;
	int rc;

	if (at >= ps->end || *at != '"')
		return ipar_fail_unexpected(ps, at, "a string (attribute name)");
	rc = ipar_str_esc(ps, name, len, &escaped);
	if (rc)
		return rc;
	if (escaped && memchr(*name, 0, *len)) {
		ipar_free(ps, *name);
		return ipar_fail_at(ps, at, "attribute name contains a NUL character");
	}
	ps->p = skip_ws(ps->p, ps->end);
	if (ps->p >= ps->end || *ps->p != ':') {
		ipar_free(ps, *name);
		return ipar_fail_unexpected(ps, ps->p, "':' after the attribute name");
	}
	ps->p = skip_ws(ps->p + 1, ps->end);
	return 0;
}

static enum tag tag_of(const char *name, size_t len)
{
	if (len < 2 || len > 3 || name[0] != '$')
		return TAG_NONE;
	for (int t = TAG_N; t <= TAG_M; t++)
		if (strcmp(name, tag_names[t]) == 0)
			return (enum tag)t;
	return TAG_NONE;
}

static inline bool is_delim(char c)
{
	switch (c) {
	case ' ':
	case '\t':
	case '\r':
	case '\n':
	case ',':
	case ':':
	case '[':
	case ']':
	case '{':
	case '}':
	case '"':
		return true;
	default:
		return false;
	}
}

/*
 * Skip one JSON value loosely (brackets and strings only) from q; returns
 * the position after it, or NULL if the text is malformed.  Used only to
 * look ahead; the real parse validates.
 */
static const char *skip_value(const char *q, const char *end)
{
	long depth = 0;

	do {
		q = skip_ws(q, end);
		if (q >= end)
			return NULL;
		switch (*q) {
		case '"':
			for (q++; q < end && *q != '"'; q++)
				if (*q == '\\')
					q++;
			if (q >= end)
				return NULL;
			q++;
			break;
		case '{':
		case '[':
			depth++;
			q++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return NULL;
			depth--;
			q++;
			break;
		case ',':
		case ':':
			if (depth == 0)
				return NULL;
			q++;
			break;
		default:
			/* A scalar: up to the next delimiter, at least one byte. */
			do
				q++;
			while (q < end && !is_delim(*q));
			break;
		}
	} while (depth > 0);
	return q;
}

/* b64_decode's output (malloc'd) as memory of the value being built. */
static int own_bytes(struct parser *ps, uint8_t **bin, size_t len)
{
	uint8_t *p;

	if (!ps->arena)
		return 0;
	p = ipar_alloc(ps, len + 1);
	if (p) {
		memcpy(p, *bin, len + 1);
	}
	free(*bin);
	*bin = p;
	return p ? 0 : -ENOMEM;
}

/* One element of a "$SS"/"$NS"/"$BS" array. */
static int parse_set_elem(struct parser *ps, enum tag t, struct val *v)
{
	const char *at = ps->p;
	uint8_t *bin;
	size_t len, blen;
	char *s;
	int rc;

	if (t == TAG_NS && at < ps->end && (*at == '-' || is_digit(*at))) {
		val_init_null(v);
		v->type = VAL_N;
		return ipar_number(ps, &v->n);
	}
	if (at >= ps->end || *at != '"')
		return ipar_fail_at(ps, at, "\"%s\" elements must be %s", tag_names[t],
			       t == TAG_SS   ? "strings"
			       : t == TAG_NS ? "numbers"
					     : "base64 strings");
	rc = ipar_str(ps, &s, &len);
	if (rc)
		return rc;
	val_init_null(v);
	if (t == TAG_SS) {
		v->type = VAL_S;
		v->s.p = s;
		v->s.len = len;
		return 0;
	}
	if (t == TAG_NS) {
		v->type = VAL_N;
		rc = num_parse(s, len, &v->n, ps->err);
		ipar_free(ps, s);
		if (rc)
			ipar_locate(ps, at);
		return rc;
	}
	rc = b64_decode(s, len, &bin, &blen);
	ipar_free(ps, s);
	if (rc == 0)
		rc = own_bytes(ps, &bin, blen);
	if (rc == -ENOMEM)
		return ipar_fail_nomem(ps);
	if (rc)
		return ipar_fail_at(ps, at, "invalid base64 in \"$BS\"");
	v->type = VAL_B;
	v->s.p = (char *)bin;
	v->s.len = blen;
	return 0;
}

static int fail_dup_elem(struct parser *ps, enum tag t, const struct slot *dup)
{
	const char *at = ps->text + dup->off;
	const struct val *v = &dup->v;

	if (t == TAG_NS) {
		char buf[NUM_TEXT_MAX];

		num_format(&v->n, buf);
		return ipar_fail_at(ps, at, "duplicate element %s in number set", buf);
	}
	if (t == TAG_SS)
		return ipar_fail_at(ps, at, "duplicate element \"%.*s\" in string set",
			       (int)(v->s.len > 100 ? 100 : v->s.len), v->s.p);
	{
		char buf[b64_encoded_len(48, false) + 1];

		b64_encode(v->s.p, v->s.len > 48 ? 48 : v->s.len, buf, false);
		return ipar_fail_at(ps, at, "duplicate element \"%s%s\" in binary set", buf,
			       v->s.len > 48 ? "..." : "");
	}
}

static int parse_set(struct parser *ps, enum tag t, struct val *out)
{
	static const enum val_type types[] = {
	    [TAG_SS] = VAL_SS, [TAG_NS] = VAL_NS, [TAG_BS] = VAL_BS};
	const char *open = ps->p;
	size_t base = ps->nslots, n;
	struct slot *s;
	int rc;

	if (open >= ps->end || *open != '[')
		return ipar_fail_at(ps, open, "\"%s\" needs an array of %s", tag_names[t],
			       t == TAG_SS   ? "strings"
			       : t == TAG_NS ? "numbers"
					     : "base64 strings");
	ps->p = skip_ws(open + 1, ps->end);
	if (ps->p < ps->end && *ps->p == ']')
		return ipar_fail_at(ps, open, "set \"%s\" is empty", tag_names[t]);
	do {
		const char *at = ps->p;
		struct val v;

		rc = parse_set_elem(ps, t, &v);
		if (rc)
			return rc;
		rc = push_slot(ps, NULL, 0, at, &v);
		if (rc)
			return rc;
		rc = next_member(ps, ']', "',' or ']'");
	} while (rc == 1);
	if (rc)
		return rc;
	s = ps->slots + base;
	n = ps->nslots - base;
	for (size_t i = 1; i < n; i++) {
		if (val_cmp(&s[i - 1].v, &s[i].v) >= 0) {
			const struct slot *dup = NULL;

			sort_slots(s, n, slot_elem_cmp);
			for (size_t j = 1; j < n; j++)
				if (val_cmp(&s[j - 1].v, &s[j].v) == 0 &&
				    (!dup || s[j].off < dup->off))
					dup = &s[j];
			if (dup)
				return fail_dup_elem(ps, t, dup);
			break;
		}
	}
	return finish_list(ps, base, types[t], out);
}

/* The value of a one-key tag object, cursor at the value. */
static int parse_tag(struct parser *ps, enum tag t, struct val *out)
{
	const char *at = ps->p;
	uint8_t *bin;
	size_t len, blen;
	char *s;
	int rc;

	switch (t) {
	case TAG_N:
		val_init_null(out);
		out->type = VAL_N;
		if (at < ps->end && (*at == '-' || is_digit(*at)))
			return ipar_number(ps, &out->n);
		if (at >= ps->end || *at != '"')
			return ipar_fail_at(ps, at, "\"$N\" needs a string holding a number");
		rc = ipar_str(ps, &s, &len);
		if (rc)
			return rc;
		rc = num_parse(s, len, &out->n, ps->err);
		ipar_free(ps, s);
		if (rc)
			ipar_locate(ps, at);
		return rc;
	case TAG_B:
		if (at >= ps->end || *at != '"')
			return ipar_fail_at(ps, at, "\"$B\" needs a base64 string");
		rc = ipar_str(ps, &s, &len);
		if (rc)
			return rc;
		rc = b64_decode(s, len, &bin, &blen);
		ipar_free(ps, s);
		if (rc == 0)
			rc = own_bytes(ps, &bin, blen);
		if (rc == -ENOMEM)
			return ipar_fail_nomem(ps);
		if (rc)
			return ipar_fail_at(ps, at, "invalid base64 in \"$B\"");
		val_init_null(out);
		out->type = VAL_B;
		out->s.p = (char *)bin;
		out->s.len = blen;
		return 0;
	case TAG_M:
		if (at >= ps->end || *at != '{')
			return ipar_fail_at(ps, at, "\"$M\" needs an object");
		return parse_object(ps, out, true);
	default:
		return parse_set(ps, t, out);
	}
}

/*
 * An object at the cursor: a tagged value or a map.  literal: it is a map
 * whatever its keys (the object directly inside "$M").
 */
static int parse_object(struct parser *ps, struct val *out, bool literal)
{
	const char *open = ps->p, *key;
	size_t base = ps->nslots, name_len;
	char *name;
	int rc;

	ps->p = skip_ws(open + 1, ps->end);
	if (ps->p < ps->end && *ps->p == '}') {
		if (ps->depth >= PARSE_MAX_DEPTH)
			return ipar_fail_at(ps, open, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
		ps->p++;
		val_init_map(out);
		return 0;
	}
	key = ps->p;
	rc = parse_name(ps, &name, &name_len);
	if (rc)
		return rc;
	if (!literal) {
		enum tag t = tag_of(name, name_len);
		const char *after = t ? skip_value(ps->p, ps->end) : NULL;

		if (after && (after = skip_ws(after, ps->end)) < ps->end && *after == '}') {
			ipar_free(ps, name);
			rc = parse_tag(ps, t, out);
			if (rc)
				return rc;
			ps->p = skip_ws(ps->p, ps->end);
			if (ps->p >= ps->end || *ps->p != '}') {
				ipar_val_free(ps, out);
				return ipar_fail_unexpected(ps, ps->p, "'}' after the tagged value");
			}
			ps->p++;
			return 0;
		}
	}
	if (ps->depth >= PARSE_MAX_DEPTH) {
		ipar_free(ps, name);
		return ipar_fail_at(ps, open, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
	}
	ps->depth++;
	for (;;) {
		struct val v;

		ps->path[ps->npath++] = (struct frame){name, name_len};
		rc = parse_value(ps, &v);
		ps->npath--;
		if (rc) {
			ipar_free(ps, name);
			return rc;
		}
		rc = push_slot(ps, name, name_len, key, &v);
		if (rc)
			return rc;
		rc = next_member(ps, '}', "',' or '}'");
		if (rc != 1)
			break;
		key = ps->p;
		rc = parse_name(ps, &name, &name_len);
		if (rc)
			return rc;
	}
	ps->depth--;
	if (rc)
		return rc;
	return finish_map(ps, base, out);
}

static int parse_value(struct parser *ps, struct val *out)
{
	const char *p = ps->p, *end = ps->end;
	size_t len;
	char *s;
	int rc;

	if (p >= end)
		return ipar_fail_unexpected(ps, p, "a value");
	switch (*p) {
	case '{':
		return parse_object(ps, out, false);
	case '[':
		return parse_list(ps, out);
	case '"':
		rc = ipar_str(ps, &s, &len);
		if (rc)
			return rc;
		val_init_null(out);
		out->type = VAL_S;
		out->s.p = s;
		out->s.len = len;
		return 0;
	case '-':
	case '0' ... '9':
		val_init_null(out);
		out->type = VAL_N;
		return ipar_number(ps, &out->n);
	case 't':
		if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
			ps->p += 4;
			val_init_bool(out, true);
			return 0;
		}
		break;
	case 'f':
		if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
			ps->p += 5;
			val_init_bool(out, false);
			return 0;
		}
		break;
	case 'n':
		if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
			ps->p += 4;
			val_init_null(out);
			return 0;
		}
		break;
	case 'N':
	case 'I':
		if ((end - p >= 3 && memcmp(p, "NaN", 3) == 0) ||
		    (end - p >= 8 && memcmp(p, "Infinity", 8) == 0))
			return ipar_fail_at(ps, p, "NaN and Infinity are not valid JSON numbers");
		break;
	}
	return ipar_fail_unexpected(ps, p, "a value");
}

static int parse_top(const char *text, size_t len, struct val *out, struct dyn_err *err, bool item,
		     struct item_arena *arena)
{
	struct parser pbuf, *ps = &pbuf;
	struct val v;
	int rc;

	val_init_null(out);
	ps->arena = arena;
	ps->text = text;
	ps->p = text;
	ps->end = text + len;
	ps->err = err;
	ps->slots = ps->inline_slots;
	ps->nslots = 0;
	ps->cap = INLINE_SLOTS;
	ps->depth = 0;
	ps->npath = 0;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;
	ps->p = skip_ws(ps->p, ps->end);
	if (ps->p >= ps->end) {
		rc = ipar_fail_at(ps, ps->p, "empty document: expected a JSON %s",
			     item ? "object" : "value");
		goto out_free;
	}
	if (item && *ps->p != '{') {
		rc = ipar_fail_at(ps, ps->p, "an item must be a JSON object");
		goto out_free;
	}
	rc = parse_value(ps, &v);
	if (rc)
		goto out_free;
	ps->p = skip_ws(ps->p, ps->end);
	if (ps->p < ps->end) {
		rc = ipar_fail_at(ps, ps->p, "unexpected text after the JSON value");
		ipar_val_free(ps, &v);
		goto out_free;
	}
	if (item && v.type != VAL_M) {
		rc = ipar_fail_at(ps, text, "an item must be a JSON object, not a tagged %s value",
			     val_type_name(v.type));
		ipar_val_free(ps, &v);
		goto out_free;
	}
	*out = v;
out_free:
	for (size_t i = 0; i < ps->nslots; i++) {
		ipar_free(ps, ps->slots[i].name);
		ipar_val_free(ps, &ps->slots[i].v);
	}
	if (ps->slots != ps->inline_slots)
		free(ps->slots);
	return rc;
}

int item_parse_value(const char *text, size_t len, struct val *out, struct dyn_err *err)
{
	return parse_top(text, len, out, err, false, NULL);
}

int item_parse_value_arena(const char *text, size_t len, struct item_arena *arena,
			   struct val *out, struct dyn_err *err)
{
	return parse_top(text, len, out, err, false, arena);
}

/*
 * The parser's output already satisfies val_check() and the depth limit by
 * construction (the fuzz target and the round-trip tests verify that), so
 * of item_check() only the size remains to be checked.
 */
static int parse_item(const char *text, size_t len, struct val *out, struct dyn_err *err,
		      struct item_arena *arena, size_t *sizep)
{
	int rc = parse_top(text, len, out, err, true, arena);
	size_t size;

	if (rc)
		return rc;
	size = item_size(out);
	if (size > ITEM_MAX_SIZE) {
		if (!arena)
			val_free(out);
		val_init_null(out);
		return err_set(err, EFBIG, "item is %zu bytes, over DynamoDB's 400 KB limit", size);
	}
	if (sizep)
		*sizep = size;
	return 0;
}

int item_parse(const char *text, size_t len, struct val *out, struct dyn_err *err)
{
	return parse_item(text, len, out, err, NULL, NULL);
}

int item_parse_arena(const char *text, size_t len, struct item_arena *arena, struct val *out,
		     size_t *size, struct dyn_err *err)
{
	return parse_item(text, len, out, err, arena, size);
}
