/*
 * item_stored.c - an item's document JSON straight into the stored form
 * (item.h: item_parse_stored), for the snapshot loader.
 *
 * Loading a snapshot used to parse each item into a struct val tree
 * (item_parse_arena), measure it (item_size) and encode it (rec_new:
 * item_encode of the non-key attributes); most of the load's time went
 * into building the tree only to walk it twice.  This parser writes the
 * binary form (item.c's layout) while it reads the text, adds up the size
 * on the way, and keeps only the two key values as struct val.
 *
 * It is a fast path, not a second parser with its own rules: it takes a
 * text only when it is sure item_parse() would accept it and produce
 * exactly the same item, and declines (returns 1) at the first doubt -
 * any syntax error, names or set elements not already in order (the old
 * parser would sort them, or report duplicates), a top-level object that
 * could be a tagged value, a key that is missing or not S or a bare
 * number, nesting at the limit, an item over the size limit.  The caller
 * then parses the text with item_parse(), whose answer - value or error
 * message - is the reference.  So errors stay identical by construction,
 * and what must hold is one direction: taken implies item_parse() gives
 * the same key values, blob bytes and size (fuzz/fuzz_stored.c and
 * check_item's tests compare the two on arbitrary and edge-case input).
 *
 * The lexical work (strings with UTF-8 checks, escapes, numbers) is
 * item_lex.c's, with no error record (a failure only declines).  Tags
 * follow item_parse.c's rule: an object whose first key is a tag name is
 * a tagged value when the object closes right after that value; here the
 * value is parsed as the tag's and the path declines unless '}' follows
 * (the old parser's look-ahead would then have seen the same); when the
 * object goes on after that value instead, it is an ordinary map, parsed
 * again as one.  Counts of lists, maps and sets are written as one
 * placeholder byte and widened afterwards in the rare case they need more.
 */
#include "item_parseint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DECLINE 1

/* The parse: the lexer's state (no error record) and the output. */
struct sp {
	struct parser ps;	/* cursor, end; err NULL */
	struct item_stored *st; /* output */
	int depth;		/* lists and maps open (as item_parse.c counts) */
};

/* ---- output ---- */

static __attribute__((noinline)) int out_grow(struct item_stored *st, size_t n)
{
	size_t ncap = st->blob_cap ? st->blob_cap * 2 : 1024;
	uint8_t *p;

	while (ncap - st->blob_len < n)
		ncap *= 2;
	p = realloc(st->blob, ncap);
	if (!p)
		return -ENOMEM;
	st->blob = p;
	st->blob_cap = ncap;
	return 0;
}

static inline int out_reserve(struct item_stored *st, size_t n)
{
	return st->blob_cap - st->blob_len >= n ? 0 : out_grow(st, n);
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline void put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

/* One byte (room reserved by the caller or here). */
static inline int out_byte(struct item_stored *st, uint8_t b)
{
	if (out_reserve(st, 1) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = b;
	return 0;
}

/* Write count into the one-byte placeholder at pos, widening it if needed. */
static int fix_count(struct item_stored *st, size_t pos, size_t count)
{
	size_t k = varint_len(count);

	if (k > 1) {
		if (out_reserve(st, k - 1) < 0)
			return -ENOMEM;
		memmove(st->blob + pos + k, st->blob + pos + 1, st->blob_len - pos - 1);
		st->blob_len += k - 1;
	}
	put_varint(st->blob + pos, count);
	return 0;
}

/*
 * The string at the cursor as length + bytes at the end of the output;
 * *off and *n say where its bytes are, *escaped whether it had escapes.
 */
static int out_string(struct sp *s, size_t *off, size_t *n, bool *escaped)
{
	struct item_stored *st = s->st;
	const char *open = s->ps.p, *close;
	size_t raw, k, m;

	if (ipar_scan_string(&s->ps, open, &close, escaped) < 0)
		return DECLINE;
	raw = (size_t)(close - open - 1);
	if (out_reserve(st, raw + 10) < 0)
		return -ENOMEM;
	if (!*escaped) {
		k = varint_len(raw);
		put_varint(st->blob + st->blob_len, raw);
		memcpy(st->blob + st->blob_len + k, open + 1, raw);
		m = raw;
	} else {
		/* unescaped after room for the longest length, then moved down */
		if (ipar_unescape(&s->ps, open + 1, close, (char *)st->blob + st->blob_len + 10,
				  &m) < 0)
			return DECLINE;
		k = varint_len(m);
		put_varint(st->blob + st->blob_len, m);
		memmove(st->blob + st->blob_len + k, st->blob + st->blob_len + 10, m);
	}
	*off = st->blob_len + k;
	*n = m;
	st->blob_len += k + m;
	s->ps.p = close + 1;
	return 0;
}

/* A number (struct num) as length + num_key_encode() bytes. */
static int out_num(struct item_stored *st, const struct num *n)
{
	uint8_t k[NUM_KEY_MAX];
	size_t len = num_key_encode(n, k);

	if (out_reserve(st, len + 1) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = (uint8_t)len; /* NUM_KEY_MAX < 128 */
	memcpy(st->blob + st->blob_len, k, len);
	st->blob_len += len;
	return 0;
}

/* ---- values ---- */

static int sv_value(struct sp *s, size_t *size);
static int sv_object(struct sp *s, bool literal, bool more, size_t *size);

/* After a member: 1 on ',' (cursor on the next member), 0 on closer, else declines. */
static int next_member(struct sp *s, char closer)
{
	const char *p = skip_ws(s->ps.p, s->ps.end), *q;

	if (p < s->ps.end && *p == closer) {
		s->ps.p = p + 1;
		return 0;
	}
	if (p >= s->ps.end || *p != ',')
		return -DECLINE;
	q = skip_ws(p + 1, s->ps.end);
	if (q >= s->ps.end || *q == closer)
		return -DECLINE;
	s->ps.p = q;
	return 1;
}

static int sv_number(struct sp *s, struct num *n)
{
	return ipar_number(&s->ps, n) < 0 ? DECLINE : 0;
}

static int sv_list(struct sp *s, size_t *size)
{
	struct item_stored *st = s->st;
	size_t pos, count = 0, esize, total = 3;
	int rc;

	if (s->depth >= PARSE_MAX_DEPTH)
		return DECLINE;
	if (out_reserve(st, 2) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = VAL_L;
	pos = st->blob_len++;
	s->ps.p = skip_ws(s->ps.p + 1, s->ps.end);
	if (s->ps.p < s->ps.end && *s->ps.p == ']') {
		s->ps.p++;
		st->blob[pos] = 0;
		*size = 3;
		return 0;
	}
	s->depth++;
	do {
		rc = sv_value(s, &esize);
		if (rc)
			return rc;
		total += esize + 1;
		count++;
		rc = next_member(s, ']');
	} while (rc == 1);
	if (rc < 0)
		return rc == -DECLINE ? DECLINE : rc;
	s->depth--;
	*size = total;
	return fix_count(st, pos, count);
}

/* The bytes of a "$B" / "$BS" string: decoded base64 at the output's end. */
static int sv_base64(struct sp *s, size_t *off, size_t *n)
{
	struct item_stored *st = s->st;
	size_t start = st->blob_len, soff, slen, blen, k;
	uint8_t *bin;
	bool esc;
	int rc;

	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE;
	rc = out_string(s, &soff, &slen, &esc);
	if (rc)
		return rc;
	rc = b64_decode((const char *)st->blob + soff, slen, &bin, &blen);
	st->blob_len = start;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return DECLINE;
	k = varint_len(blen);
	if (out_reserve(st, k + blen) < 0) {
		free(bin);
		return -ENOMEM;
	}
	put_varint(st->blob + st->blob_len, blen);
	if (blen)
		memcpy(st->blob + st->blob_len + k, bin, blen);
	free(bin);
	*off = st->blob_len + k;
	*n = blen;
	st->blob_len += k + blen;
	return 0;
}

/* A "$N" value: a bare number or a string holding one. */
static int sv_tag_num(struct sp *s, struct num *n)
{
	struct item_stored *st = s->st;
	size_t start = st->blob_len, off, len;
	bool esc;
	int rc;

	if (s->ps.p < s->ps.end && (*s->ps.p == '-' || is_digit(*s->ps.p)))
		return sv_number(s, n);
	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE;
	rc = out_string(s, &off, &len, &esc);
	if (rc)
		return rc;
	rc = num_parse((const char *)st->blob + off, len, n, NULL);
	st->blob_len = start;
	return rc < 0 ? DECLINE : 0;
}

/* "$SS", "$NS", "$BS": elements strictly increasing, else decline. */
static int sv_set(struct sp *s, enum val_type t, size_t *size)
{
	struct item_stored *st = s->st;
	size_t pos, count = 0, total = 0, off = 0, n = 0, poff = 0, pn = 0;
	struct num num, prev;
	bool esc;
	int rc;

	num_zero(&prev);
	if (s->ps.p >= s->ps.end || *s->ps.p != '[')
		return DECLINE;
	if (out_reserve(st, 2) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = (uint8_t)t;
	pos = st->blob_len++;
	s->ps.p = skip_ws(s->ps.p + 1, s->ps.end);
	do {
		if (t == VAL_NS) {
			rc = sv_tag_num(s, &num);
			if (rc)
				return rc;
			if (count && num_cmp(&prev, &num) >= 0)
				return DECLINE;
			rc = out_num(st, &num);
			if (rc)
				return rc;
			total += item_num_size(&num);
			prev = num;
		} else {
			if (t == VAL_SS) {
				if (s->ps.p >= s->ps.end || *s->ps.p != '"')
					return DECLINE;
				rc = out_string(s, &off, &n, &esc);
			} else {
				rc = sv_base64(s, &off, &n);
			}
			if (rc)
				return rc;
			if (count && item_name_cmp(st->blob + poff, pn, st->blob + off, n) >= 0)
				return DECLINE;
			total += n;
			poff = off;
			pn = n;
		}
		count++;
		rc = next_member(s, ']');
	} while (rc == 1);
	if (rc < 0)
		return rc == -DECLINE ? DECLINE : rc;
	*size = total;
	return fix_count(st, pos, count);
}

/* Is name[0..n) one of item_parse.c's tags?  Its type, or VAL_NULL. */
static enum val_type tag_type(const uint8_t *name, size_t n, bool *is_m)
{
	*is_m = false;
	if (n < 2 || n > 3 || name[0] != '$')
		return VAL_NULL;
	if (n == 2 && name[1] == 'N')
		return VAL_N;
	if (n == 2 && name[1] == 'B')
		return VAL_B;
	if (n == 2 && name[1] == 'M') {
		*is_m = true;
		return VAL_M;
	}
	if (n == 3 && name[2] == 'S') {
		if (name[1] == 'S')
			return VAL_SS;
		if (name[1] == 'N')
			return VAL_NS;
		if (name[1] == 'B')
			return VAL_BS;
	}
	return VAL_NULL;
}

/* The value of a one-key tag object (cursor at it), written at the output's end. */
static int sv_tag(struct sp *s, enum val_type t, size_t *size)
{
	struct item_stored *st = s->st;
	size_t off, n = 0;
	struct num num;
	int rc;

	switch (t) {
	case VAL_N:
		rc = sv_tag_num(s, &num);
		if (rc)
			return rc;
		*size = item_num_size(&num);
		rc = out_byte(st, VAL_N);
		return rc ? rc : out_num(st, &num);
	case VAL_B:
		rc = out_byte(st, VAL_B);
		if (rc == 0)
			rc = sv_base64(s, &off, &n);
		*size = n;
		return rc;
	case VAL_M:
		if (s->ps.p >= s->ps.end || *s->ps.p != '{')
			return DECLINE;
		return sv_object(s, true, false, size);
	default:
		return sv_set(s, t, size);
	}
}

/* Parse a name at the cursor and the ':' after it, written at the output's end. */
static int sv_name(struct sp *s, size_t *off, size_t *n)
{
	bool esc;
	int rc;

	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE;
	rc = out_string(s, off, n, &esc);
	if (rc)
		return rc;
	if (esc && memchr(s->st->blob + *off, 0, *n))
		return DECLINE;
	s->ps.p = skip_ws(s->ps.p, s->ps.end);
	if (s->ps.p >= s->ps.end || *s->ps.p != ':')
		return DECLINE;
	s->ps.p = skip_ws(s->ps.p + 1, s->ps.end);
	return 0;
}

/*
 * An object at the cursor: a tagged value or a map (literal: always a
 * map; more: one of at least two members, else declined).
 */
static int sv_object(struct sp *s, bool literal, bool more, size_t *size)
{
	struct item_stored *st = s->st;
	size_t mark = st->blob_len, pos, off, n, poff, pn, count = 0, vsize, total = 3;
	const char *open = s->ps.p;
	int depth = s->depth;
	enum val_type t;
	bool is_m;
	int rc;

	s->ps.p = skip_ws(s->ps.p + 1, s->ps.end);
	if (s->ps.p < s->ps.end && *s->ps.p == '}') {
		if (s->depth >= PARSE_MAX_DEPTH)
			return DECLINE;
		s->ps.p++;
		if (out_reserve(st, 2) < 0)
			return -ENOMEM;
		st->blob[st->blob_len++] = VAL_M;
		st->blob[st->blob_len++] = 0;
		*size = 3;
		return 0;
	}
	if (out_reserve(st, 2) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = VAL_M;
	pos = st->blob_len++;
	rc = sv_name(s, &off, &n);
	if (rc)
		return rc;
	if (!literal && (t = tag_type(st->blob + off, n, &is_m)) != VAL_NULL) {
		st->blob_len = mark;
		rc = sv_tag(s, t, size);
		if (rc < 0)
			return rc;
		if (rc == 0 && (s->ps.p = skip_ws(s->ps.p, s->ps.end)) < s->ps.end &&
		    *s->ps.p == '}') {
			s->ps.p++;
			return 0;
		}
		/* an ordinary map with a "$N" attribute if more members follow
		 * (item_parse's look-ahead), else a tagged value this path does
		 * not take, or an error: the object again, as a map */
		s->ps.p = open;
		st->blob_len = mark;
		s->depth = depth;
		return sv_object(s, true, true, size);
	}
	if (s->depth >= PARSE_MAX_DEPTH)
		return DECLINE;
	s->depth++;
	for (;;) {
		rc = sv_value(s, &vsize);
		if (rc)
			return rc;
		total += n + vsize + 1;
		count++;
		rc = next_member(s, '}');
		if (rc == 0 && more && count == 1)
			return DECLINE;
		if (rc != 1)
			break;
		poff = off;
		pn = n;
		rc = sv_name(s, &off, &n);
		if (rc)
			return rc;
		if (item_name_cmp(st->blob + poff, pn, st->blob + off, n) >= 0)
			return DECLINE; /* unsorted or a duplicate: item_parse decides */
	}
	if (rc < 0)
		return rc == -DECLINE ? DECLINE : rc;
	s->depth--;
	*size = total;
	return fix_count(st, pos, count);
}

static int sv_value(struct sp *s, size_t *size)
{
	const char *p = s->ps.p, *end = s->ps.end;
	struct item_stored *st = s->st;
	size_t off, n = 0;
	struct num num;
	bool esc;
	int rc;

	if (p >= end)
		return DECLINE;
	switch (*p) {
	case '{':
		return sv_object(s, false, false, size);
	case '[':
		return sv_list(s, size);
	case '"':
		rc = out_byte(st, VAL_S);
		if (rc == 0)
			rc = out_string(s, &off, &n, &esc);
		*size = n;
		return rc;
	case '-':
	case '0' ... '9':
		rc = sv_number(s, &num);
		if (rc)
			return rc;
		*size = item_num_size(&num);
		rc = out_byte(st, VAL_N);
		return rc ? rc : out_num(st, &num);
	case 't':
	case 'f':
		if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
			s->ps.p += 4;
			rc = out_byte(st, VAL_BOOL);
			if (rc == 0)
				rc = out_byte(st, 1);
		} else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
			s->ps.p += 5;
			rc = out_byte(st, VAL_BOOL);
			if (rc == 0)
				rc = out_byte(st, 0);
		} else {
			return DECLINE;
		}
		*size = 1;
		return rc;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return DECLINE;
		s->ps.p += 4;
		*size = 1;
		return out_byte(st, VAL_NULL);
	}
	return DECLINE;
}

/* ---- the item ---- */

/* A key attribute's value (S or a bare number) into kv, its bytes in kb[i]. */
static int sv_key(struct sp *s, int i, struct val *kv, size_t *size)
{
	struct item_stored *st = s->st;
	size_t start = st->blob_len, off, n;
	bool esc;
	char *b;
	int rc;

	val_init_null(kv);
	if (s->ps.p < s->ps.end && (*s->ps.p == '-' || is_digit(*s->ps.p))) {
		kv->type = VAL_N;
		rc = sv_number(s, &kv->n);
		*size = rc ? 0 : item_num_size(&kv->n);
		return rc;
	}
	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE; /* B keys, "$N" keys, wrong types: item_parse */
	rc = out_string(s, &off, &n, &esc);
	if (rc)
		return rc;
	if (st->kcap[i] < n + 1) {
		b = realloc(st->kb[i], n + 1);
		if (!b)
			return -ENOMEM;
		st->kb[i] = b;
		st->kcap[i] = n + 1;
	}
	memcpy(st->kb[i], st->blob + off, n);
	st->kb[i][n] = 0;
	st->blob_len = start;
	kv->type = VAL_S;
	kv->s.p = st->kb[i];
	kv->s.len = n;
	*size = n;
	return 0;
}

void item_stored_init(struct item_stored *st)
{
	memset(st, 0, sizeof(*st));
	val_init_null(&st->pk);
	val_init_null(&st->sk);
}

void item_stored_free(struct item_stored *st)
{
	size_t i;

	free(st->blob);
	free(st->kb[0]);
	free(st->kb[1]);
	for (i = 0; i < ITEM_STORED_CAP; i++)
		free(st->cb[i]);
	item_stored_init(st);
}

/* A top-level member's bytes in the output (name and value), for the sort. */
struct member {
	uint64_t pfx;	   /* the name's first 8 bytes, big-endian, zero-padded */
	size_t start, end; /* [start, end) in st->blob */
	size_t off, n;	   /* its name's bytes */
};

/* Names hold no NUL (sv_name), so prefixes in integer order are names in
 * byte order, up to equal prefixes. */
static inline uint64_t name_prefix(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i, k = n < 8 ? n : 8;

	for (i = 0; i < k; i++)
		v = v << 8 | p[i];
	return k ? v << (8 * (8 - k)) : 0;
}

/* val_name_cmp of two members' names (<0, 0, >0), the prefixes first. */
static inline int member_cmp(const struct item_stored *st, const struct member *a,
			     const struct member *b)
{
	if (a->pfx != b->pfx)
		return a->pfx < b->pfx ? -1 : 1;
	return item_name_cmp(st->blob + a->off, a->n, st->blob + b->off, b->n);
}

/* Capture index of a top-level name, or -1. */
static int cap_index(const struct item_stored *st, const uint8_t *name, size_t n)
{
	size_t i;

	for (i = 0; i < st->ncap; i++)
		if (st->cap_len[i] == n && memcmp(st->cap_names[i], name, n) == 0)
			return (int)i;
	return -1;
}

/* A captured value (cursor at it): S or a bare number, else declines. */
static int sv_capture(struct sp *s, int i, size_t *size)
{
	struct item_stored *st = s->st;
	struct val *v = &st->cap[i];
	size_t off, n;
	bool esc;
	char *b;
	int rc;

	if (v->type != VAL_NULL)
		return DECLINE; /* a duplicate name: item_parse decides */
	if (s->ps.p < s->ps.end && (*s->ps.p == '-' || is_digit(*s->ps.p))) {
		rc = sv_number(s, &v->n);
		if (rc)
			return rc;
		v->type = VAL_N;
		*size = item_num_size(&v->n);
		rc = out_byte(st, VAL_N);
		return rc ? rc : out_num(st, &v->n);
	}
	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE; /* other types: item_parse's tree, idx_key's messages */
	rc = out_byte(st, VAL_S);
	if (rc == 0)
		rc = out_string(s, &off, &n, &esc);
	if (rc)
		return rc;
	if (st->ccap[i] < n + 1) {
		b = realloc(st->cb[i], n + 1);
		if (!b)
			return -ENOMEM;
		st->cb[i] = b;
		st->ccap[i] = n + 1;
	}
	memcpy(st->cb[i], st->blob + off, n);
	st->cb[i][n] = 0;
	v->type = VAL_S;
	v->s.p = st->cb[i];
	v->s.len = n;
	*size = n;
	return 0;
}

/*
 * Put the top-level members m[0..count) (in text order, after the map's
 * header at base) in name order, as item_parse's map holds them.  Equal
 * names decline (item_parse reports or merges them, its rule).
 */
static int sort_members(struct item_stored *st, struct member *m, size_t count, size_t base)
{
	size_t i, j, at;
	struct member x;

	for (i = 1; i < count; i++) {
		x = m[i];
		for (j = i; j > 0 && member_cmp(st, &m[j - 1], &x) > 0; j--)
			m[j] = m[j - 1];
		m[j] = x;
	}
	for (i = 1; i < count; i++)
		if (member_cmp(st, &m[i - 1], &m[i]) == 0)
			return DECLINE;
	/* in order after the output's end, then moved down over the members */
	if (out_reserve(st, st->blob_len - base) < 0)
		return -ENOMEM;
	for (i = 0, at = st->blob_len; i < count; i++) {
		memcpy(st->blob + at, st->blob + m[i].start, m[i].end - m[i].start);
		at += m[i].end - m[i].start;
	}
	memcpy(st->blob + base, st->blob + st->blob_len, st->blob_len - base);
	return 0;
}

#define SORT_MAX 64 /* top-level members put in order; more must come in order */

int item_parse_stored(const char *text, size_t len, const char *pk_name, const char *sk_name,
		      struct item_stored *st)
{
	struct sp s; /* not zeroed whole: the lexer's slot array is unused */
	struct member m[SORT_MAX], cur, prev = {0};
	size_t pkl = strlen(pk_name), skl = sk_name ? strlen(sk_name) : 0;
	size_t pos, off = 0, n = 0, mark, count = 0, vsize, total = 0, i;
	bool have_pk = false, have_sk = false, any = false, sorted = true, is_m;
	int rc, c;

	s.st = st;
	s.ps.text = s.ps.p = text;
	s.ps.end = text + len;
	s.ps.err = NULL;
	s.ps.arena = NULL;
	s.ps.npath = 0;
	st->blob_len = 0;
	val_init_null(&st->pk);
	val_init_null(&st->sk);
	for (i = 0; i < st->ncap; i++) {
		val_init_null(&st->cap[i]);
		st->cap_len[i] = strlen(st->cap_names[i]);
	}
	s.ps.p = skip_ws(s.ps.p, s.ps.end);
	/* a byte-order mark (item_parse skips it) is left to item_parse */
	if (s.ps.p >= s.ps.end || *s.ps.p != '{')
		return DECLINE;
	if (out_reserve(st, 2) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = VAL_M;
	pos = st->blob_len++;
	s.ps.p = skip_ws(s.ps.p + 1, s.ps.end);
	s.depth = 1;
	for (;;) {
		mark = st->blob_len;
		rc = sv_name(&s, &off, &n);
		if (rc)
			return rc;
		if (!any && tag_type(st->blob + off, n, &is_m) != VAL_NULL)
			return DECLINE; /* possibly a tagged value at the top */
		any = true;
		if (n == pkl && memcmp(st->blob + off, pk_name, n) == 0) {
			st->blob_len = mark;
			if (have_pk)
				return DECLINE;
			have_pk = true;
			rc = sv_key(&s, 0, &st->pk, &vsize);
		} else if (sk_name && n == skl && memcmp(st->blob + off, sk_name, n) == 0) {
			st->blob_len = mark;
			if (have_sk)
				return DECLINE;
			have_sk = true;
			rc = sv_key(&s, 1, &st->sk, &vsize);
		} else {
			cur.pfx = name_prefix(st->blob + off, n);
			cur.start = mark;
			cur.off = off;
			cur.n = n;
			if (count && sorted && member_cmp(st, &prev, &cur) >= 0)
				sorted = false; /* put in order at the end (or declined) */
			if (!sorted && count >= SORT_MAX)
				return DECLINE;
			c = st->ncap ? cap_index(st, st->blob + off, n) : -1;
			rc = c < 0 ? sv_value(&s, &vsize) : sv_capture(&s, c, &vsize);
			cur.end = st->blob_len;
			if (count < SORT_MAX)
				m[count] = cur;
			prev = cur;
			count++;
		}
		if (rc)
			return rc;
		total += n + vsize;
		rc = next_member(&s, '}');
		if (rc == 0)
			break;
		if (rc < 0)
			return rc == -DECLINE ? DECLINE : rc;
	}
	if (skip_ws(s.ps.p, s.ps.end) != s.ps.end || !have_pk || (sk_name && !have_sk) ||
	    total > ITEM_MAX_SIZE)
		return DECLINE;
	if (!sorted) {
		rc = sort_members(st, m, count, pos + 1);
		if (rc)
			return rc;
	}
	st->size = total;
	return fix_count(st, pos, count);
}
