/*
 * item_lex.c - the document-JSON parser's lexical half: errors with their
 * line, column and attribute path, strings (UTF-8 checked while scanned,
 * eight bytes at a time), and numbers read exactly.  item_parse.c has the
 * design and the structure (containers, tags, the entry points).
 */
#include "item_parseint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

void ipar_locate(struct parser *ps, const char *at)
{
	const char *q = ps->text, *line_start = ps->text;
	char path[sizeof(ps->err->path)];
	size_t len = 0;
	int line = 1;

	if (!ps->err)
		return;
	while (q < at && (q = memchr(q, '\n', (size_t)(at - q))) != NULL) {
		line++;
		line_start = ++q;
	}
	err_at(ps->err, line, (int)(at - line_start) + 1);
	path[0] = 0;
	for (int i = 0; i < ps->npath && len < sizeof(path) - 1; i++) {
		const struct frame *f = &ps->path[i];
		int n;

		if (f->name)
			n = snprintf(path + len, sizeof(path) - len, "%s%.*s", len ? "." : "",
				     (int)(f->n > 200 ? 200 : f->n), f->name);
		else
			n = snprintf(path + len, sizeof(path) - len, "[%zu]", f->n);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	err_path(ps->err, path);
}

int ipar_fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
	char msg[sizeof(ps->err->msg)];
	va_list ap;

	if (!ps->err)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(ps->err, EINVAL, "%s", msg);
	ipar_locate(ps, at);
	return -EINVAL;
}

int ipar_fail_nomem(struct parser *ps)
{
	return err_set(ps->err, ENOMEM, "out of memory");
}

/* Describe the byte at p for "unexpected ..." messages. */
int ipar_fail_unexpected(struct parser *ps, const char *p, const char *expected)
{
	unsigned char c;

	if (p >= ps->end)
		return ipar_fail_at(ps, p, "unexpected end of input, expected %s", expected);
	c = (unsigned char)*p;
	if (c >= 0x20 && c < 0x7f)
		return ipar_fail_at(ps, p, "unexpected '%c', expected %s", c, expected);
	return ipar_fail_at(ps, p, "unexpected byte 0x%02x, expected %s", c, expected);
}

/* ---- lexing helpers ---- */

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static inline int utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return end - p >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return end - p >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return end - p >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
			       (p[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Non-zero if any of the 8 bytes in w is '"', '\\', < 0x20 or >= 0x80. */
static inline uint64_t str_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

	return ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w) | w;
}

/*
 * Scan the string whose opening quote is at q: validate UTF-8 and control
 * characters, find the closing quote (*close) and whether it has escapes.
 */
int ipar_scan_string(struct parser *ps, const char *q, const char **close, bool *escapes)
{
	const char *open = q++, *end = ps->end;

	*escapes = false;
	for (;;) {
		unsigned char c;

#ifdef __SSE2__
		while (end - q >= 16) {
			unsigned m = str_special16(q);

			if (m) {
				q += __builtin_ctz(m);
				goto special;
			}
			q += 16;
		}
#endif
		while (end - q >= 8) {
			uint64_t w;

			memcpy(&w, q, 8);
			uint64_t m = str_special(w) & HIGHS;

			if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				/* the lowest flagged byte is a real one (borrows
				 * only flag bytes above it): go straight to it */
				q += __builtin_ctzll(m) >> 3;
#endif
				break;
			}
			q += 8;
		}
		if (q >= end)
			return ipar_fail_at(ps, open, "unterminated string");
#ifdef __SSE2__
special:
#endif
		c = (unsigned char)*q;
		if (c == '"')
			break;
		if (c == '\\') {
			*escapes = true;
			if (end - q < 2)
				return ipar_fail_at(ps, open, "unterminated string");
			q += 2;
		} else if (c < 0x20) {
			return ipar_fail_at(ps, q, "unescaped control character 0x%02x in string", c);
		} else if (c >= 0x80) {
			int n = utf8_seq((const unsigned char *)q, (const unsigned char *)end);

			if (!n)
				return ipar_fail_at(ps, q, "invalid UTF-8 in string");
			q += n;
		} else {
			q++;
		}
	}
	*close = q;
	return 0;
}

static int hex4(const char *s, const char *end)
{
	int v = 0;

	if (end - s < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* Decode the escapes of s..close into o (which has room: escapes shrink). */
int ipar_unescape(struct parser *ps, const char *s, const char *close, char *o, size_t *outlen)
{
	char *start = o;

	while (s < close) {
		const char *bs = memchr(s, '\\', (size_t)(close - s));
		int cp, lo;

		if (!bs) {
			memcpy(o, s, (size_t)(close - s));
			o += close - s;
			break;
		}
		memcpy(o, s, (size_t)(bs - s));
		o += bs - s;
		s = bs + 2;
		switch (bs[1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = bs[1];
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			cp = hex4(s, close);
			if (cp < 0)
				return ipar_fail_at(ps, bs, "invalid \\u escape in string");
			s += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return ipar_fail_at(ps, bs, "lone surrogate \\u%04X in string", cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (close - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				    (lo = hex4(s + 2, close)) < 0xdc00 || lo > 0xdfff)
					return ipar_fail_at(ps, bs, "lone surrogate \\u%04X in string",
						       cp);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			o = put_utf8(o, (unsigned)cp);
			break;
		default:
			return ipar_fail_at(ps, bs, "invalid escape in string");
		}
	}
	*outlen = (size_t)(o - start);
	return 0;
}

/*
 * Parse the string at the cursor into a new NUL-terminated buffer.
 * *escaped tells whether it had escapes (only then can it hold a NUL).
 */
int ipar_str_esc(struct parser *ps, char **out, size_t *len, bool *escaped)
{
	const char *open = ps->p, *close = NULL;
	bool escapes = false;
	size_t n;
	char *buf;
	int rc;

	rc = ipar_scan_string(ps, open, &close, &escapes);
	if (rc)
		return rc;
	n = (size_t)(close - open - 1);
	buf = ipar_alloc(ps, n + 1);
	if (!buf)
		return ipar_fail_nomem(ps);
	if (!escapes) {
		memcpy(buf, open + 1, n);
	} else {
		rc = ipar_unescape(ps, open + 1, close, buf, &n);
		if (rc) {
			ipar_free(ps, buf);
			return rc;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	*escaped = escapes;
	ps->p = close + 1;
	return 0;
}

int ipar_str(struct parser *ps, char **out, size_t *len)
{
	bool escaped;

	return ipar_str_esc(ps, out, len, &escaped);
}

/*
 * Strict JSON number at the cursor, read exactly (num_parse does the
 * digits and DynamoDB's limits): the general path.
 */
int ipar_number_general(struct parser *ps, struct num *out)
{
	const char *s = ps->p, *q = s, *end = ps->end;
	int rc;

	if (q < end && *q == '-')
		q++;
	if (q >= end || !is_digit(*q)) {
		if (end - q >= 8 && memcmp(q, "Infinity", 8) == 0)
			return ipar_fail_at(ps, s, "NaN and Infinity are not valid JSON numbers");
		return ipar_fail_at(ps, s, "invalid number: expected a digit after '-'");
	}
	if (*q == '0') {
		q++;
		if (q < end && is_digit(*q))
			return ipar_fail_at(ps, s, "invalid number: leading zeros are not allowed");
	} else {
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && *q == '.') {
		q++;
		if (q >= end || !is_digit(*q))
			return ipar_fail_at(ps, q, "invalid number: expected a digit after '.'");
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !is_digit(*q))
			return ipar_fail_at(ps, q, "invalid number: expected a digit in the exponent");
		while (q < end && is_digit(*q))
			q++;
	}
	rc = num_parse(s, (size_t)(q - s), out, ps->err);
	if (rc) {
		ipar_locate(ps, s);
		return rc;
	}
	ps->p = q;
	return 0;
}

/* Most numbers are short integers and decimals: num_parse_plain reads
 * them in one pass; anything else (and every error) is the general path's. */
int ipar_number(struct parser *ps, struct num *out)
{
	size_t k = num_parse_plain(ps->p, ps->end, out);

	if (k) {
		ps->p += k;
		return 0;
	}
	return ipar_number_general(ps, out);
}
