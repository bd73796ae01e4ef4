/*
 * item_stored_val.c - values into the stored form, for item_parse_stored
 * (item_stored.c has the design and the item's top level).
 *
 * The lexical work (strings with UTF-8 checks, escapes, numbers) is
 * item_lex.c's, with no error record (a failure only declines); plain
 * strings are copied out while they are scanned, 16 bytes at a time.
 * Tags follow item_parse.c's rule: an object whose first key is a tag
 * name is a tagged value when the object closes right after that value;
 * here the value is parsed as the tag's and the path declines unless '}'
 * follows (the old parser's look-ahead would then have seen the same);
 * when the object goes on after that value instead, it is an ordinary
 * map, parsed again as one.  Counts of lists, maps and sets are written
 * as one placeholder byte and widened afterwards in the rare case they
 * need more.
 */
#include "item_storedint.h"

#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) int ist_out_grow(struct item_stored *st, size_t n)
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

/* ---- output ---- */

int ist_fix_count(struct item_stored *st, size_t pos, size_t count)
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

/* The string's length as a varint at the output's end, its raw bytes
 * copied one byte further on: moved when the length needs more. */
static inline size_t put_len(struct item_stored *st, size_t raw)
{
	size_t k = 1;

	if (raw < 0x80) {
		st->blob[st->blob_len] = (uint8_t)raw;
	} else {
		k = varint_len(raw);
		memmove(st->blob + st->blob_len + k, st->blob + st->blob_len + 1, raw);
		put_varint(st->blob + st->blob_len, raw);
	}
	return k;
}

/*
 * The string at the cursor as length + bytes at the end of the output;
 * *off and *n say where its bytes are, *escaped whether it had escapes.
 * A plain string (no escape, no control or non-ASCII byte) is copied 16
 * bytes at a time as it is scanned; from its first other byte on, the
 * general scan (item_lex.c) goes on, and the string is copied after.
 */
int ist_string(struct sp *s, size_t *off, size_t *n, bool *escaped)
{
	struct item_stored *st = s->st;
	const char *open = s->ps.p, *from = open, *close;
	size_t raw, k, m;

#ifdef __SSE2__
	const char *q = open + 1, *end = s->ps.end;

	if (end - q >= 16) {
		unsigned bits;
		uint8_t *o;

		/* room for the rest of the text, a vector more and a length */
		if (out_reserve(st, (size_t)(end - q) + 16 + 10) < 0)
			return -ENOMEM;
		o = st->blob + st->blob_len + 1;
		for (;;) {
			__m128i v = _mm_loadu_si128((const __m128i *)q);

			_mm_storeu_si128((__m128i *)o, v);
			bits = str_special16v(v);
			if (bits) {
				q += __builtin_ctz(bits);
				break;
			}
			q += 16;
			o += 16;
			if (end - q < 16)
				break;
		}
		if (bits && *q == '"') {
			raw = (size_t)(q - open - 1);
			k = put_len(st, raw);
			*off = st->blob_len + k;
			*n = raw;
			*escaped = false;
			st->blob_len += k + raw;
			s->ps.p = q + 1;
			return 0;
		}
		/* the bytes before q are plain: the scan goes on from q, as if
		 * q - 1 opened the string (no error record: positions unused) */
		from = q - 1;
	}
#endif
	if (ipar_scan_string(&s->ps, from, &close, escaped) < 0)
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
int ist_num(struct item_stored *st, const struct num *n)
{
	size_t len;

	if (out_reserve(st, NUM_KEY_MAX + 1) < 0)
		return -ENOMEM;
	len = num_key_encode(n, st->blob + st->blob_len + 1);
	st->blob[st->blob_len] = (uint8_t)len; /* NUM_KEY_MAX < 128 */
	st->blob_len += 1 + len;
	return 0;
}

/* ---- values ---- */

static int sv_object(struct sp *s, bool literal, bool more, size_t *size);

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
		rc = ist_value(s, &esize);
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
	return ist_fix_count(st, pos, count);
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
	rc = ist_string(s, &soff, &slen, &esc);
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
	rc = ist_string(s, &off, &len, &esc);
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
			rc = ist_num(st, &num);
			if (rc)
				return rc;
			total += item_num_size(&num);
			prev = num;
		} else {
			if (t == VAL_SS) {
				if (s->ps.p >= s->ps.end || *s->ps.p != '"')
					return DECLINE;
				rc = ist_string(s, &off, &n, &esc);
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
	return ist_fix_count(st, pos, count);
}

enum val_type ist_tag_type(const uint8_t *name, size_t n, bool *is_m)
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
		return rc ? rc : ist_num(st, &num);
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

/* A name at the cursor (*esc: it had escapes), written at the output's end. */
int ist_name(struct sp *s, size_t *off, size_t *n, bool *esc)
{
	int rc;

	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE;
	rc = ist_string(s, off, n, esc);
	if (rc)
		return rc;
	if (*esc && memchr(s->st->blob + *off, 0, *n))
		return DECLINE;
	return sv_colon(s);
}

/* Parse a name at the cursor and the ':' after it, written at the output's end. */
static int sv_name(struct sp *s, size_t *off, size_t *n)
{
	bool esc;

	return ist_name(s, off, n, &esc);
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
	if (!literal && (t = ist_tag_type(st->blob + off, n, &is_m)) != VAL_NULL) {
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
		rc = ist_value(s, &vsize);
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
	return ist_fix_count(st, pos, count);
}

int ist_value(struct sp *s, size_t *size)
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
			rc = ist_string(s, &off, &n, &esc);
		*size = n;
		return rc;
	case '-':
	case '0' ... '9':
		rc = sv_number(s, &num);
		if (rc)
			return rc;
		*size = item_num_size(&num);
		rc = out_byte(st, VAL_N);
		return rc ? rc : ist_num(st, &num);
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

