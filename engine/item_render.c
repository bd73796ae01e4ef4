/*
 * item_render.c - canonical and compact document JSON (item.h:
 * item_render, item_render_compact).
 *
 * Rendering runs on every read of an item file, so it writes into one
 * growable buffer with no allocation per value: numbers are formatted in
 * place, base64 is encoded in place, strings are copied in runs between
 * the few bytes that need escaping (found eight at a time).  An allocation
 * failure sets a flag that turns later writes into no-ops, so the
 * recursive writers need no error paths; the flag becomes -ENOMEM at the
 * end.
 *
 * Canonical form (what item files contain), for example:
 *
 *   {
 *     "id": "hedy",
 *     "bin": {"$B": "AAE="},
 *     "big": {"$N": "12345678901234567890"},
 *     "level": 3,
 *     "scores": [
 *       95,
 *       {"$NS": [1, 2]}
 *     ],
 *     "tags": {"$SS": ["a", "b"]},
 *     "weird": {
 *       "$M": {
 *         "$N": "not a number"
 *       }
 *     }
 *   }
 *
 * Lists and maps are expanded one member per line with two-space indents;
 * the scalar-like typed values ($N, $B) and sets are written on one line,
 * since they are single values.  A map whose only key is a tag name is
 * wrapped in "$M" (expanded like any map), so that parsing it back gives a
 * map again.  Inside "$NS", numbers a double cannot hold exactly are
 * written as strings.  Compact form is the same with no whitespace at all
 * (jq -c style).
 *
 * The binary form (item.c) of a record renders straight, without building
 * the item as a val tree first: item_render_blob_append writes the
 * compact form (what snapshots are made of), item_render_blob the
 * canonical form (what cat reads).  The blob_* writers follow put_*'s
 * rules value by value (check_item_codec and fuzz_item compare the two).
 *
 * Counting.  An item file's size is its canonical rendering's length, and
 * a listing (ls -l, readdirplus) needs it for every item.  A buffer in
 * count mode (rbuf.count) runs the same writers but only adds up the
 * bytes each would write (string_text_len, num_format_len,
 * b64_encoded_len): item_blob_text_len walks a record's blob that way,
 * with no val tree and no output, item_render_len a val tree.  Every
 * primitive that writes has its count branch next to its write, so the
 * two cannot drift apart without check_item_codec's differential tests
 * and fuzz_item noticing.
 */
#include "item.h"
#include "jsonbytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rbuf {
	char *p;     /* output, NUL-terminated at the end */
	size_t len;  /* bytes written */
	size_t cap;  /* bytes allocated */
	bool nomem;  /* an allocation failed: writes are dropped */
	bool pretty; /* canonical (indented) rather than compact */
	bool count;  /* count the bytes (len) without writing them (p NULL) */
};

static bool grow(struct rbuf *b, size_t n)
{
	size_t ncap = b->cap ? b->cap : 1024;
	char *p;

	if (b->nomem)
		return false;
	while (ncap - b->len < n)
		ncap *= 2;
	p = realloc(b->p, ncap);
	if (!p) {
		b->nomem = true;
		return false;
	}
	b->p = p;
	b->cap = ncap;
	return true;
}

static inline bool reserve(struct rbuf *b, size_t n)
{
	return b->cap - b->len >= n || grow(b, n);
}

static inline void put(struct rbuf *b, const char *s, size_t n)
{
	if (b->count) {
		b->len += n;
		return;
	}
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static inline void putch(struct rbuf *b, char c)
{
	if (b->count) {
		b->len++;
		return;
	}
	if (!reserve(b, 1))
		return;
	b->p[b->len++] = c;
}

static void newline_indent(struct rbuf *b, int level)
{
	size_t n = 1 + 2 * (size_t)level;

	if (b->count && b->pretty)
		b->len += n;
	if (b->count || !b->pretty || !reserve(b, n))
		return;
	b->p[b->len] = '\n';
	memset(b->p + b->len + 1, ' ', n - 1);
	b->len += n;
}

/* ": " or ":"; ", " or "," for the one-line forms. */
static void colon(struct rbuf *b)
{
	if (b->pretty)
		PUTS(b, ": ");
	else
		putch(b, ':');
}

static void inline_comma(struct rbuf *b)
{
	if (b->pretty)
		PUTS(b, ", ");
	else
		putch(b, ',');
}

/* Escape letter for each byte: 0 = as is, 'u' = \u00XX. */
/* clang-format off */
static const char esc_tab[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\',
};
/* clang-format on */


/* Bytes escaping adds to each byte: 5 for \u00XX, 1 for \n and the like. */
/* clang-format off */
static const uint8_t esc_extra[256] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	['"'] = 1, ['\\'] = 1,
};
/* clang-format on */

/*
 * What put_string writes for s: n + 2 plus what escaping adds.  Words
 * without an escape are skipped eight bytes at a time, the rest (most
 * names and short values are all tail) added up byte by byte, branch-free.
 */
static size_t string_text_len(const char *s, size_t n)
{
	size_t i = 0, len = n + 2;

	for (; n - i >= 8; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (json_word_special(w))
			for (size_t j = i; j < i + 8; j++)
				len += esc_extra[(unsigned char)s[j]];
	}
	for (; i < n; i++)
		len += esc_extra[(unsigned char)s[i]];
	return len;
}

static void put_string(struct rbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	if (b->count) {
		b->len += string_text_len(s, n);
		return;
	}
	if (!reserve(b, n + 2))
		return;
	b->p[b->len++] = '"';
	while (i < n) {
		unsigned char c;

		while (n - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (json_word_special(w))
				break;
			i += 8;
		}
		while (i < n && !esc_tab[(unsigned char)s[i]])
			i++;
		put(b, s + run, i - run);
		if (i >= n)
			break;
		c = (unsigned char)s[i++];
		run = i;
		if (!reserve(b, 6 + (n - i) + 1))
			return;
		b->p[b->len++] = '\\';
		if (esc_tab[c] == 'u') {
			memcpy(b->p + b->len, "u00", 3);
			b->p[b->len + 3] = hex[c >> 4];
			b->p[b->len + 4] = hex[c & 15];
			b->len += 5;
		} else {
			b->p[b->len++] = esc_tab[c];
		}
	}
	putch(b, '"');
}

static void put_num_text(struct rbuf *b, const struct num *n)
{
	if (b->count) {
		b->len += num_format_len(n);
		return;
	}
	if (!reserve(b, NUM_TEXT_MAX))
		return;
	b->len += num_format(n, b->p + b->len);
}

/* A number: bare when a double holds it, else quoted (in_set) or {"$N": "..."}. */
static void put_num(struct rbuf *b, const struct num *n, bool in_set)
{
	if (num_fits_double(n)) {
		put_num_text(b, n);
		return;
	}
	if (!in_set) {
		PUTS(b, "{\"$N\"");
		colon(b);
	}
	putch(b, '"');
	put_num_text(b, n);
	putch(b, '"');
	if (!in_set)
		putch(b, '}');
}

static void put_b64(struct rbuf *b, const char *p, size_t n)
{
	size_t m = b64_encoded_len(n, false);

	if (b->count) {
		b->len += m + 2;
		return;
	}
	if (!reserve(b, m + 3))
		return;
	b->p[b->len++] = '"';
	b->len += b64_encode(p, n, b->p + b->len, false);
	b->p[b->len++] = '"';
}

static void put_set(struct rbuf *b, const struct val *v)
{
	switch (v->type) {
	case VAL_SS:
		PUTS(b, "{\"$SS\"");
		break;
	case VAL_NS:
		PUTS(b, "{\"$NS\"");
		break;
	default:
		PUTS(b, "{\"$BS\"");
		break;
	}
	colon(b);
	putch(b, '[');
	for (size_t i = 0; i < v->l.len; i++) {
		const struct val *e = &v->l.v[i];

		if (i)
			inline_comma(b);
		if (e->type == VAL_N)
			put_num(b, &e->n, true);
		else if (e->type == VAL_B)
			put_b64(b, e->s.p, e->s.len);
		else
			put_string(b, e->s.p, e->s.len);
	}
	PUTS(b, "]}");
}

static bool is_tag_name(const char *s, size_t n)
{
	switch (n) {
	case 2:
		return s[0] == '$' && (s[1] == 'N' || s[1] == 'B' || s[1] == 'M');
	case 3:
		return s[0] == '$' && (s[1] == 'S' || s[1] == 'N' || s[1] == 'B') && s[2] == 'S';
	default:
		return false;
	}
}

static long find_attr(const struct val *m, const char *name)
{
	size_t lo = 0, hi = m->m.len, n = strlen(name);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, k = m->m.a[mid].name_len;
		int c = memcmp(m->m.a[mid].name, name, k < n ? k : n);

		if (c == 0)
			c = (k > n) - (k < n);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void put_value(struct rbuf *b, const struct val *v, int level);

static void put_member(struct rbuf *b, const struct val_attr *a, bool first, int level)
{
	if (!first)
		putch(b, ',');
	newline_indent(b, level);
	put_string(b, a->name, a->name_len);
	colon(b);
	put_value(b, &a->v, level);
}

/* A map's members; at the top level pk and sk (either may be NULL) first. */
static void put_map_body(struct rbuf *b, const struct val *m, int level, const char *pk,
			 const char *sk)
{
	long ipk = pk ? find_attr(m, pk) : -1, isk = sk ? find_attr(m, sk) : -1;
	bool first = true;

	if (isk == ipk)
		isk = -1;
	putch(b, '{');
	if (ipk >= 0) {
		put_member(b, &m->m.a[ipk], first, level + 1);
		first = false;
	}
	if (isk >= 0) {
		put_member(b, &m->m.a[isk], first, level + 1);
		first = false;
	}
	for (size_t i = 0; i < m->m.len; i++) {
		if ((long)i == ipk || (long)i == isk)
			continue;
		put_member(b, &m->m.a[i], first, level + 1);
		first = false;
	}
	newline_indent(b, level);
	putch(b, '}');
}

static void put_map(struct rbuf *b, const struct val *m, int level, const char *pk, const char *sk)
{
	if (m->m.len == 0) {
		PUTS(b, "{}");
		return;
	}
	if (m->m.len == 1 && is_tag_name(m->m.a[0].name, m->m.a[0].name_len)) {
		putch(b, '{');
		newline_indent(b, level + 1);
		PUTS(b, "\"$M\"");
		colon(b);
		put_map_body(b, m, level + 1, NULL, NULL);
		newline_indent(b, level);
		putch(b, '}');
		return;
	}
	put_map_body(b, m, level, pk, sk);
}

static void put_list(struct rbuf *b, const struct val *l, int level)
{
	if (l->l.len == 0) {
		PUTS(b, "[]");
		return;
	}
	putch(b, '[');
	for (size_t i = 0; i < l->l.len; i++) {
		if (i)
			putch(b, ',');
		newline_indent(b, level + 1);
		put_value(b, &l->l.v[i], level + 1);
	}
	newline_indent(b, level);
	putch(b, ']');
}

static void put_value(struct rbuf *b, const struct val *v, int level)
{
	switch (v->type) {
	case VAL_NULL:
		PUTS(b, "null");
		break;
	case VAL_BOOL:
		if (v->b)
			PUTS(b, "true");
		else
			PUTS(b, "false");
		break;
	case VAL_N:
		put_num(b, &v->n, false);
		break;
	case VAL_S:
		put_string(b, v->s.p, v->s.len);
		break;
	case VAL_B:
		PUTS(b, "{\"$B\"");
		colon(b);
		put_b64(b, v->s.p, v->s.len);
		putch(b, '}');
		break;
	case VAL_L:
		put_list(b, v, level);
		break;
	case VAL_M:
		put_map(b, v, level, NULL, NULL);
		break;
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		put_set(b, v);
		break;
	}
}

static int render(const struct val *v, const char *pk, const char *sk, bool pretty, char **out,
		  size_t *len)
{
	struct rbuf b = {.pretty = pretty};

	if (v->type == VAL_M)
		put_map(&b, v, 0, pk, sk);
	else
		put_value(&b, v, 0);
	if (pretty && v->type == VAL_M)
		putch(&b, '\n');
	if (!reserve(&b, 1)) {
		free(b.p);
		return -ENOMEM;
	}
	b.p[b.len] = 0;
	*out = b.p;
	*len = b.len;
	return 0;
}

int item_render(const struct val *v, const char *pk_name, const char *sk_name, char **out,
		size_t *len)
{
	return render(v, pk_name, sk_name, true, out, len);
}

int item_render_compact(const struct val *v, const char *pk_name, const char *sk_name, char **out,
			size_t *len)
{
	return render(v, pk_name, sk_name, false, out, len);
}

size_t item_render_len(const struct val *v, const char *pk_name, const char *sk_name)
{
	struct rbuf b = {.pretty = true, .count = true};

	if (v->type == VAL_M) {
		put_map(&b, v, 0, pk_name, sk_name);
		putch(&b, '\n');
	} else {
		put_value(&b, v, 0);
	}
	return b.len;
}

int item_render_compact_append(const struct val *v, const char *pk_name, const char *sk_name,
			       char **buf, size_t *len, size_t *cap)
{
	struct rbuf b = {.p = *buf, .len = *len, .cap = *buf ? *cap : 0};

	if (v->type == VAL_M)
		put_map(&b, v, 0, pk_name, sk_name);
	else
		put_value(&b, v, 0);
	/* on failure the caller's bytes are kept, the partial value is not */
	if (reserve(&b, 1))
		b.p[b.len] = 0;
	*buf = b.p;
	*cap = b.cap;
	if (b.nomem) {
		if (b.p)
			b.p[*len] = 0;
		return -ENOMEM;
	}
	*len = b.len;
	return 0;
}

/* ---- an item's text with attributes added (item_text_join) ---- */

static bool text_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int item_text_join(const char *text, size_t len, const struct val *add, char **buf,
		   const char **out, size_t *out_len)
{
	struct rbuf rb = {0};
	size_t a = 0, z = len, i;
	bool empty;

	*buf = NULL;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		a = 3;
	while (a < z && text_blank(text[a]))
		a++;
	while (z > a && text_blank(text[z - 1]))
		z--;
	if (z - a < 2 || text[a] != '{' || text[z - 1] != '}')
		return -EINVAL;
	if (!add || add->type != VAL_M || !add->m.len) {
		*out = text + a;
		*out_len = z - a;
		return 0;
	}
	for (i = a + 1; i < z - 1 && text_blank(text[i]); i++)
		;
	empty = i == z - 1; /* "{}": no comma before the closing brace */
	/* a tag's object ({"$M": {...}} is the map inside) or a name that may
	 * be one once unescaped: one more member would make it attributes;
	 * and a lone added attribute with a tag's name would be rendered
	 * wrapped in "$M" */
	if (!empty && i + 1 < z && (text[i + 1] == '$' || text[i + 1] == '\\'))
		return -EINVAL;
	for (size_t k = 0; k < add->m.len; k++)
		if (add->m.a[k].name_len && add->m.a[k].name[0] == '$')
			return -EINVAL;
	/* one allocation: add's members, compact, then text after its '{' */
	if (!reserve(&rb, (z - a) + 256))
		return -ENOMEM;
	put_map_body(&rb, add, 0, NULL, NULL);
	rb.len--; /* its '}' */
	if (!empty)
		putch(&rb, ',');
	put(&rb, text + a + 1, z - a - 1);
	if (rb.nomem) {
		free(rb.p);
		return -ENOMEM;
	}
	*buf = rb.p;
	*out = rb.p;
	*out_len = rb.len;
	return 0;
}

/* ---- compact form from the binary form ---- */

struct bcur {
	const uint8_t *p;   /* cursor */
	const uint8_t *end; /* end of the blob */
	int depth;	    /* lists and maps open */
};

static bool bc_varint(struct bcur *c, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && c->p < c->end; shift += 7) {
		uint8_t x = *c->p++;

		v |= (uint64_t)(x & 0x7f) << shift;
		if (!(x & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* A length-prefixed byte string. */
static bool bc_bytes(struct bcur *c, const uint8_t **p, size_t *n)
{
	uint64_t len;

	if (!bc_varint(c, &len) || len > (uint64_t)(c->end - c->p))
		return false;
	*p = c->p;
	*n = (size_t)len;
	c->p += len;
	return true;
}

static bool bc_num(struct bcur *c, struct num *n)
{
	const uint8_t *p;
	size_t len;

	return bc_bytes(c, &p, &len) && num_key_decode(p, len, n) == 0;
}

static bool blob_value(struct rbuf *b, struct bcur *c, int type, int level);

/*
 * A map's members at level, after its count: ,"name": value each on its
 * own line (first: no comma before the first).
 */
static bool blob_members(struct rbuf *b, struct bcur *c, uint64_t n, bool first, int level)
{
	const uint8_t *name;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if (!bc_bytes(c, &name, &len) || c->p >= c->end)
			return false;
		if (!first)
			putch(b, ',');
		first = false;
		newline_indent(b, level);
		put_string(b, (const char *)name, len);
		colon(b);
		if (!blob_value(b, c, *c->p++, level))
			return false;
	}
	return true;
}

/* put_map's rules, from the binary form. */
static bool blob_map(struct rbuf *b, struct bcur *c, int level)
{
	const uint8_t *name;
	uint64_t n;
	size_t len;
	struct bcur peek;

	if (!bc_varint(c, &n))
		return false;
	if (n == 0) {
		PUTS(b, "{}");
		return true;
	}
	peek = *c;
	if (n == 1 && bc_bytes(&peek, &name, &len) && is_tag_name((const char *)name, len)) {
		putch(b, '{');
		newline_indent(b, level + 1);
		PUTS(b, "\"$M\"");
		colon(b);
		putch(b, '{');
		if (!blob_members(b, c, n, true, level + 2))
			return false;
		newline_indent(b, level + 1);
		putch(b, '}');
		newline_indent(b, level);
		putch(b, '}');
		return true;
	}
	putch(b, '{');
	if (!blob_members(b, c, n, true, level + 1))
		return false;
	newline_indent(b, level);
	putch(b, '}');
	return true;
}

/* put_list's rules, from the binary form. */
static bool blob_list(struct rbuf *b, struct bcur *c, int level)
{
	uint64_t n;

	if (!bc_varint(c, &n))
		return false;
	if (n == 0) {
		PUTS(b, "[]");
		return true;
	}
	putch(b, '[');
	for (uint64_t i = 0; i < n; i++) {
		if (i)
			putch(b, ',');
		newline_indent(b, level + 1);
		if (c->p >= c->end || !blob_value(b, c, *c->p++, level + 1))
			return false;
	}
	newline_indent(b, level);
	putch(b, ']');
	return true;
}

static bool blob_set(struct rbuf *b, struct bcur *c, int type)
{
	const uint8_t *p;
	uint64_t n;
	size_t len;
	struct num x;

	if (!bc_varint(c, &n))
		return false;
	if (type == VAL_SS)
		PUTS(b, "{\"$SS\"");
	else if (type == VAL_NS)
		PUTS(b, "{\"$NS\"");
	else
		PUTS(b, "{\"$BS\"");
	colon(b);
	putch(b, '[');
	for (uint64_t i = 0; i < n; i++) {
		if (i)
			inline_comma(b);
		if (type == VAL_NS) {
			if (!bc_num(c, &x))
				return false;
			put_num(b, &x, true);
			continue;
		}
		if (!bc_bytes(c, &p, &len))
			return false;
		if (type == VAL_BS)
			put_b64(b, (const char *)p, len);
		else
			put_string(b, (const char *)p, len);
	}
	PUTS(b, "]}");
	return true;
}

/* put_value's rules, from the binary form (type already read). */
static bool blob_value(struct rbuf *b, struct bcur *c, int type, int level)
{
	const uint8_t *p;
	size_t len;
	struct num x;
	bool ok;

	switch (type) {
	case VAL_NULL:
		PUTS(b, "null");
		return true;
	case VAL_BOOL:
		if (c->p >= c->end)
			return false;
		if (*c->p++)
			PUTS(b, "true");
		else
			PUTS(b, "false");
		return true;
	case VAL_S:
		if (!bc_bytes(c, &p, &len))
			return false;
		put_string(b, (const char *)p, len);
		return true;
	case VAL_N:
		if (!bc_num(c, &x))
			return false;
		put_num(b, &x, false);
		return true;
	case VAL_B:
		if (!bc_bytes(c, &p, &len))
			return false;
		PUTS(b, "{\"$B\"");
		colon(b);
		put_b64(b, (const char *)p, len);
		putch(b, '}');
		return true;
	case VAL_SS:
	case VAL_NS:
	case VAL_BS:
		return blob_set(b, c, type);
	case VAL_L:
	case VAL_M:
		if (++c->depth > 64)
			return false;
		ok = type == VAL_M ? blob_map(b, c, level) : blob_list(b, c, level);
		c->depth--;
		return ok;
	}
	return false;
}

/* One key member at level 1 (first: the item's first). */
static void blob_key(struct rbuf *b, const char *name, const struct val *v, bool first, int level)
{
	if (!first)
		putch(b, ',');
	newline_indent(b, level);
	put_string(b, name, strlen(name));
	colon(b);
	put_value(b, v, level);
}

/*
 * The whole item from pk, sk and the blob of the other attributes, as
 * put_map writes it at the top level (keys first, then the blob's members,
 * which are in name order already), a newline after it in canonical form.
 * false if the blob is malformed.
 */
static bool blob_item(struct rbuf *b, const char *pk_name, const struct val *pk,
		      const char *sk_name, const struct val *sk, const uint8_t *blob,
		      size_t blob_len)
{
	struct bcur c = {blob, blob + blob_len, 0};
	uint64_t n;
	bool ok = c.p < c.end && *c.p++ == VAL_M && bc_varint(&c, &n);

	if (!ok)
		return false;
	if (n == 0 && !sk && is_tag_name(pk_name, strlen(pk_name))) {
		/* the item's only attribute is its key, named like a tag */
		putch(b, '{');
		newline_indent(b, 1);
		PUTS(b, "\"$M\"");
		colon(b);
		putch(b, '{');
		blob_key(b, pk_name, pk, true, 2);
		newline_indent(b, 1);
		putch(b, '}');
		ok = c.p == c.end;
	} else {
		putch(b, '{');
		blob_key(b, pk_name, pk, true, 1);
		if (sk)
			blob_key(b, sk_name, sk, false, 1);
		ok = blob_members(b, &c, n, false, 1) && c.p == c.end;
	}
	newline_indent(b, 0);
	putch(b, '}');
	if (b->pretty)
		putch(b, '\n');
	return ok;
}

/* Hand an appending render's buffer back to the caller (*len unchanged
 * unless it succeeded): 0, -ENOMEM, -EINVAL (!ok: malformed blob). */
static int append_done(struct rbuf *b, bool ok, char **buf, size_t *len, size_t *cap)
{
	if (reserve(b, 1))
		b->p[b->len] = 0;
	*buf = b->p;
	*cap = b->cap;
	if (b->nomem || !ok) {
		if (b->p)
			b->p[*len] = 0;
		return b->nomem ? -ENOMEM : -EINVAL;
	}
	*len = b->len;
	return 0;
}

int item_render_blob_append(const char *pk_name, const struct val *pk, const char *sk_name,
			    const struct val *sk, const uint8_t *blob, size_t blob_len, char **buf,
			    size_t *len, size_t *cap)
{
	struct rbuf b = {.p = *buf, .len = *len, .cap = *buf ? *cap : 0};
	bool ok = blob_item(&b, pk_name, pk, sk_name, sk, blob, blob_len);

	return append_done(&b, ok, buf, len, cap);
}

int item_render_blob_rest_append(const uint8_t *blob, size_t blob_len, char **buf, size_t *len,
				 size_t *cap)
{
	struct rbuf b = {.p = *buf, .len = *len, .cap = *buf ? *cap : 0};
	struct bcur c = {blob, blob + blob_len, 0};
	uint64_t n;
	bool ok = c.p < c.end && *c.p++ == VAL_M && bc_varint(&c, &n) &&
		  blob_members(&b, &c, n, false, 1) && c.p == c.end;

	putch(&b, '}');
	return append_done(&b, ok, buf, len, cap);
}

int item_render_blob(const char *pk_name, const struct val *pk, const char *sk_name,
		     const struct val *sk, const uint8_t *blob, size_t blob_len, char **out,
		     size_t *len)
{
	struct rbuf b = {.pretty = true};
	bool ok = blob_item(&b, pk_name, pk, sk_name, sk, blob, blob_len);

	if (!ok || !reserve(&b, 1)) {
		free(b.p);
		return ok ? -ENOMEM : -EINVAL;
	}
	b.p[b.len] = 0;
	*out = b.p;
	*len = b.len;
	return 0;
}

int item_blob_text_len(const char *pk_name, const struct val *pk, const char *sk_name,
		       const struct val *sk, const uint8_t *blob, size_t blob_len, size_t *len)
{
	struct rbuf b = {.pretty = true, .count = true};

	if (!blob_item(&b, pk_name, pk, sk_name, sk, blob, blob_len))
		return -EINVAL;
	*len = b.len;
	return 0;
}
