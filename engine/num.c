/*
 * num.c - DynamoDB's N type: exact decimals (see num.h).
 *
 * A number is kept as its significant digits (at most 38, no leading or
 * trailing zeros) and a decimal exponent: value = +-0.d1d2...dn * 10^exp.
 * Because the form is canonical, equality is digit equality and ordering
 * is (sign, exponent, digits) - no doubles anywhere, so what the user wrote
 * is what is stored.
 *
 * Parsing is lenient in the way DynamoDB is: leading '+', leading zeros,
 * ".5" and "5." are accepted (the JSON parser in item.c is strict about
 * JSON's own number grammar before it gets here).  More than 38 digits are
 * accepted only when the surplus ones are zeros, since those are not
 * significant.
 *
 * Arithmetic aligns both operands in a fixed digit buffer wide enough for
 * any two numbers of the supported range (the powers of ten involved run
 * from 10^125 down to 10^-167), computes the exact result, and only then
 * checks it against DynamoDB's limits.  Nothing is ever rounded: a result
 * that needs more than 38 digits is an error, as in DynamoDB.
 *
 * Key encoding (num_key_encode), designed so that memcmp order is numeric
 * order and no encoding is a proper prefix of another (so encodings can be
 * concatenated into composite keys):
 *
 *   zero:      0x02
 *   positive:  0x03, exp + 129 (one byte, 0..255), digit pairs, 0x00
 *   negative:  0x01, ~(exp + 129), ~digit pairs, 0xff
 *
 * A digit pair byte is 1 + 10*d1 + d2 (1..100); an odd last digit is
 * paired with 0, which is harmless because digit strings never end in 0.
 * For positives, a longer digit string with the same prefix is a larger
 * number and the 0x00 terminator sorts below every pair byte; negatives are
 * the bitwise complement, so bigger magnitudes sort first and the 0xff
 * terminator sorts after every complemented pair byte (155..254).
 */
#include "num.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define NUM_EXP_MIN (-129) /* 0.1e-129 == 1e-130 */
#define NUM_EXP_MAX 126	   /* 0.99..9e126 == 9.9..9e125 */

#define KEY_NEG 0x01
#define KEY_ZERO 0x02
#define KEY_POS 0x03

/* Widest aligned sum: powers 10^126 (carry) down to 10^-167. */
#define ARITH_WIDTH 300

static const char msg_overflow[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
static const char msg_underflow[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

void num_zero(struct num *out)
{
	memset(out, 0, sizeof(*out));
}

bool num_is_zero(const struct num *n)
{
	return n->ndigits == 0;
}

/* Case-insensitive match of a word at p (for the NaN/Infinity message). */
static bool word_at(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(end - p) < n)
		return false;
	return strncasecmp(p, w, n) == 0;
}

static int bad_number(const char *s, size_t len, struct dyn_err *err)
{
	if (len > 40)
		return err_set(err, EINVAL, "invalid number \"%.40s...\"", s);
	return err_set(err, EINVAL, "invalid number \"%.*s\"", (int)len, s);
}

int num_parse(const char *s, size_t len, struct num *out, struct dyn_err *err)
{
	const char *p = s, *end = s + len;
	struct num n;
	long point = 0; /* power of the first significant digit, + 1 */
	long zeros = 0; /* zeros seen after the last stored nonzero digit */
	long e = 0;	/* explicit exponent, saturated */
	bool any_digit = false, sig = false, dot = false;
	int nd = 0;

	memset(&n, 0, sizeof(n));
	if (len == 0)
		return err_set(err, EINVAL, "empty number");
	if (*p == '+' || *p == '-')
		n.neg = *p++ == '-';
	if (p < end && (*p | 0x20) >= 'i' && (word_at(p, end, "nan") || word_at(p, end, "inf")))
		return err_set(err, EINVAL, "NaN and Infinity are not numbers");
	for (; p < end; p++) {
		char c = *p;

		if (c >= '1' && c <= '9') {
			if (nd + zeros + 1 > NUM_MAX_DIGITS)
				return err_set(err, EINVAL,
					       "number has more than 38 significant digits");
			while (zeros > 0) {
				n.digit[nd++] = 0;
				zeros--;
			}
			n.digit[nd++] = (uint8_t)(c - '0');
			sig = any_digit = true;
			if (!dot)
				point++;
		} else if (c == '0') {
			any_digit = true;
			if (sig) {
				zeros++;
				if (!dot)
					point++;
			} else if (dot) {
				point--;
			}
		} else if (c == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!any_digit)
		return bad_number(s, len, err);
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false, edig = false;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			edig = true;
			if (e < 1000000000L)
				e = e * 10 + (*p - '0');
		}
		if (!edig)
			return bad_number(s, len, err);
		if (eneg)
			e = -e;
	}
	if (p != end)
		return bad_number(s, len, err);
	if (nd == 0) {
		num_zero(out);
		return 0;
	}
	point += e;
	if (point > NUM_EXP_MAX)
		return err_set(err, EINVAL, "%s", msg_overflow);
	if (point < NUM_EXP_MIN)
		return err_set(err, EINVAL, "%s", msg_underflow);
	n.ndigits = (uint8_t)nd;
	n.exp = (int16_t)point;
	*out = n;
	return 0;
}

/* A run of digits from p: its end. */
static inline const char *digits_end(const char *p, const char *end)
{
	while (p < end && (unsigned)(*p - '0') <= 9)
		p++;
	return p;
}

size_t num_parse_plain(const char *s, const char *end, struct num *out)
{
	const char *p = s, *ip, *ie, *fp, *fe;
	struct num n;
	int nd = 0, exp = 0;

	if (p < end && *p == '-')
		p++;
	ip = p;
	ie = p = digits_end(p, end);
	if (ie == ip || (*ip == '0' && ie - ip > 1))
		return 0; /* no digit, or leading zeros: the general path's message */
	fp = fe = p; /* no fraction: an empty one */
	if (p < end && *p == '.') {
		fp = p + 1;
		fe = p = digits_end(fp, end);
		if (fe == fp)
			return 0;
	}
	if ((p < end && (*p == 'e' || *p == 'E')) || (ie - ip) + (fe - fp) > NUM_MAX_DIGITS)
		return 0;
	/* the significant digits: without leading zeros (only "0." has them)
	 * and trailing ones (in the fraction, then in the integer) */
	while (fe > fp && fe[-1] == '0')
		fe--;
	if (*ip == '0') {
		const char *f0 = fp;

		ie = ip; /* "0" or "0.ddd": the integer part holds none */
		while (fp < fe && *fp == '0')
			fp++;
		exp = -(int)(fp - f0);
	} else {
		exp = (int)(ie - ip);
		if (fe == fp)
			while (ie[-1] == '0')
				ie--; /* ip[0] is not '0': stops there */
	}
	memset(&n, 0, sizeof(n));
	for (; ip < ie; ip++)
		n.digit[nd++] = (uint8_t)(*ip - '0');
	for (; fp < fe; fp++)
		n.digit[nd++] = (uint8_t)(*fp - '0');
	if (nd) {
		n.neg = *s == '-';
		n.ndigits = (uint8_t)nd;
		n.exp = (int16_t)exp;
	}
	*out = n;
	return (size_t)(p - s);
}

static char *put_digits(char *p, const uint8_t *d, int n)
{
	for (int i = 0; i < n; i++)
		*p++ = (char)('0' + d[i]);
	return p;
}

size_t num_format(const struct num *n, char *buf)
{
	char *p = buf;
	int k = n->ndigits, e = n->exp;

	if (k == 0) {
		buf[0] = '0';
		buf[1] = 0;
		return 1;
	}
	if (n->neg)
		*p++ = '-';
	/* JavaScript's Number#toString, ECMA-262 Number::toString steps. */
	if (k <= e && e <= 21) {
		p = put_digits(p, n->digit, k);
		for (int i = k; i < e; i++)
			*p++ = '0';
	} else if (0 < e && e <= 21) {
		p = put_digits(p, n->digit, e);
		*p++ = '.';
		p = put_digits(p, n->digit + e, k - e);
	} else if (-6 < e && e <= 0) {
		*p++ = '0';
		*p++ = '.';
		for (int i = e; i < 0; i++)
			*p++ = '0';
		p = put_digits(p, n->digit, k);
	} else {
		int x = e - 1;

		*p++ = (char)('0' + n->digit[0]);
		if (k > 1) {
			*p++ = '.';
			p = put_digits(p, n->digit + 1, k - 1);
		}
		*p++ = 'e';
		*p++ = x < 0 ? '-' : '+';
		if (x < 0)
			x = -x;
		if (x >= 100)
			*p++ = (char)('0' + x / 100);
		if (x >= 10)
			*p++ = (char)('0' + x / 10 % 10);
		*p++ = (char)('0' + x % 10);
	}
	*p = 0;
	return (size_t)(p - buf);
}

size_t num_format_len(const struct num *n)
{
	int k = n->ndigits, e = n->exp, x = e - 1;
	size_t sign = n->neg;

	if (k == 0)
		return 1;
	/* num_format's cases, counted */
	if (k <= e && e <= 21)
		return sign + (size_t)e;
	if (0 < e && e <= 21)
		return sign + (size_t)k + 1;
	if (-6 < e && e <= 0)
		return sign + 2 + (size_t)-e + (size_t)k;
	if (x < 0)
		x = -x;
	return sign + (k > 1 ? (size_t)k + 1 : 1) + 2 + (x >= 100) + (x >= 10) + 1;
}

bool num_fits_double(const struct num *n)
{
	/* |x| >= 1e-307 <=> exp - 1 >= -307; the top of our range is 1e126. */
	return n->ndigits <= 15 && (n->ndigits == 0 || n->exp >= -306);
}

/* Compare magnitudes of two nonzero numbers. */
static int cmp_abs(const struct num *a, const struct num *b)
{
	int k = a->ndigits < b->ndigits ? a->ndigits : b->ndigits;

	if (a->exp != b->exp)
		return a->exp < b->exp ? -1 : 1;
	for (int i = 0; i < k; i++)
		if (a->digit[i] != b->digit[i])
			return a->digit[i] < b->digit[i] ? -1 : 1;
	return (a->ndigits > b->ndigits) - (a->ndigits < b->ndigits);
}

static int sign_of(const struct num *n)
{
	return n->ndigits == 0 ? 0 : n->neg ? -1 : 1;
}

int num_cmp(const struct num *a, const struct num *b)
{
	int sa = sign_of(a), sb = sign_of(b);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	return sa > 0 ? cmp_abs(a, b) : cmp_abs(b, a);
}

void num_from_int64(struct num *out, int64_t v)
{
	uint8_t tmp[20];
	uint64_t u;
	int n = 0, k;

	num_zero(out);
	if (v == 0)
		return;
	out->neg = v < 0;
	u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	while (u) {
		tmp[n++] = (uint8_t)(u % 10);
		u /= 10;
	}
	out->exp = (int16_t)n;
	k = 0;
	while (tmp[k] == 0)
		k++; /* trailing zeros of the integer are not digits */
	for (int i = n - 1; i >= k; i--)
		out->digit[out->ndigits++] = tmp[i];
}

int num_to_int64(const struct num *n, int64_t *out)
{
	uint64_t u = 0, lim;

	if (n->ndigits == 0) {
		*out = 0;
		return 0;
	}
	if (n->exp < n->ndigits || n->exp > 19)
		return -ERANGE;
	lim = n->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (int i = 0; i < n->exp; i++) {
		unsigned d = i < n->ndigits ? n->digit[i] : 0;

		if (u > (lim - d) / 10)
			return -ERANGE;
		u = u * 10 + d;
	}
	if (n->neg)
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	else
		*out = (int64_t)u;
	return 0;
}

/* Spread n's digits into buf where buf[i] holds the digit of power hi - i. */
static void spread(const struct num *n, int hi, uint8_t *buf)
{
	int off = hi - n->exp + 1;

	memcpy(buf + off, n->digit, n->ndigits);
}

/* out = a + (negate_b ? -b : b), exactly, then checked against limits. */
static int add_signed(const struct num *a, const struct num *b, bool negate_b, struct num *out,
		      struct dyn_err *err)
{
	uint8_t x[ARITH_WIDTH], y[ARITH_WIDTH], *big, *small;
	int bneg = b->neg ^ negate_b;
	int hi, lo, w, first, last, carry, rneg;
	struct num r;

	if (b->ndigits == 0) {
		*out = *a;
		return 0;
	}
	if (a->ndigits == 0) {
		*out = *b;
		out->neg = (uint8_t)bneg;
		return 0;
	}
	hi = a->exp > b->exp ? a->exp : b->exp;
	lo = a->exp - a->ndigits < b->exp - b->ndigits ? a->exp - a->ndigits : b->exp - b->ndigits;
	w = hi - lo + 1; /* index 0 is the carry position, power hi */
	memset(x, 0, (size_t)w);
	memset(y, 0, (size_t)w);
	spread(a, hi, x);
	spread(b, hi, y);
	if (a->neg == bneg) {
		carry = 0;
		for (int i = w - 1; i >= 0; i--) {
			int s = x[i] + y[i] + carry;

			carry = s >= 10;
			x[i] = (uint8_t)(carry ? s - 10 : s);
		}
		big = x;
		rneg = a->neg;
	} else {
		/* Subtract the smaller magnitude from the larger. */
		int c = cmp_abs(a, b);

		if (c == 0) {
			num_zero(out);
			return 0;
		}
		big = c > 0 ? x : y;
		small = c > 0 ? y : x;
		rneg = c > 0 ? a->neg : bneg;
		carry = 0;
		for (int i = w - 1; i >= 0; i--) {
			int s = big[i] - small[i] - carry;

			carry = s < 0;
			big[i] = (uint8_t)(carry ? s + 10 : s);
		}
	}
	for (first = 0; first < w && big[first] == 0; first++)
		;
	for (last = w - 1; last > first && big[last] == 0; last--)
		;
	memset(&r, 0, sizeof(r));
	r.neg = (uint8_t)rneg;
	r.exp = (int16_t)(hi - first + 1);
	if (r.exp > NUM_EXP_MAX)
		return err_set(err, EINVAL, "%s", msg_overflow);
	if (r.exp < NUM_EXP_MIN)
		return err_set(err, EINVAL, "%s", msg_underflow);
	if (last - first + 1 > NUM_MAX_DIGITS)
		return err_set(err, EINVAL,
			       "Number overflow. Attempting to store a number with more than 38 "
			       "significant digits (precision loss)");
	r.ndigits = (uint8_t)(last - first + 1);
	memcpy(r.digit, big + first, r.ndigits);
	*out = r;
	return 0;
}

int num_add(const struct num *a, const struct num *b, struct num *out, struct dyn_err *err)
{
	return add_signed(a, b, false, out, err);
}

int num_sub(const struct num *a, const struct num *b, struct num *out, struct dyn_err *err)
{
	return add_signed(a, b, true, out, err);
}

size_t num_key_encode(const struct num *n, uint8_t *buf)
{
	uint8_t mask;
	size_t len = 0;

	if (n->ndigits == 0) {
		buf[0] = KEY_ZERO;
		return 1;
	}
	mask = n->neg ? 0xff : 0x00;
	buf[len++] = n->neg ? KEY_NEG : KEY_POS;
	buf[len++] = (uint8_t)(n->exp - NUM_EXP_MIN) ^ mask;
	for (int i = 0; i < n->ndigits; i += 2) {
		int d2 = i + 1 < n->ndigits ? n->digit[i + 1] : 0;

		buf[len++] = (uint8_t)(1 + 10 * n->digit[i] + d2) ^ mask;
	}
	buf[len++] = mask; /* terminator: 0x00 or 0xff */
	return len;
}

int num_key_decode(const uint8_t *buf, size_t len, struct num *out)
{
	struct num r;
	uint8_t mask;
	size_t npairs;

	if (len == 1 && buf[0] == KEY_ZERO) {
		num_zero(out);
		return 0;
	}
	if (len < 4 || (buf[0] != KEY_NEG && buf[0] != KEY_POS))
		return -EINVAL;
	mask = buf[0] == KEY_NEG ? 0xff : 0x00;
	npairs = len - 3;
	if (npairs > (NUM_MAX_DIGITS + 1) / 2 || buf[len - 1] != mask)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.neg = buf[0] == KEY_NEG;
	r.exp = (int16_t)((buf[1] ^ mask) + NUM_EXP_MIN);
	for (size_t i = 0; i < npairs; i++) {
		int v = (buf[2 + i] ^ mask) - 1;

		if (v < 0 || v > 99)
			return -EINVAL;
		r.digit[r.ndigits++] = (uint8_t)(v / 10);
		r.digit[r.ndigits++] = (uint8_t)(v % 10);
	}
	if (r.digit[r.ndigits - 1] == 0)
		r.ndigits--; /* the pad of an odd count */
	if (r.digit[0] == 0 || r.digit[r.ndigits - 1] == 0)
		return -EINVAL;
	*out = r;
	return 0;
}
