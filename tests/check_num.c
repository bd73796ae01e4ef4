/*
 * check_num.c - exact decimals: parsing, canonical text, ordering, the
 * order-preserving key encoding and DynamoDB's arithmetic limits.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_parseint.h"
#include "num.h"
#include "num_plain_agree.h"

#define MAX38 "9.9999999999999999999999999999999999999E+125"

static struct num P(const char *s) {
	struct dyn_err e;
	struct num n;
	int rc;

	err_clear(&e);
	rc = num_parse(s, strlen(s), &n, &e);
	ck_assert_msg(rc == 0, "num_parse(%s): %s", s, e.msg);
	return n;
}

/* Canonical text of s, in a static buffer. */
static const char *
canon(const char *s)
{
	static char buf[NUM_TEXT_MAX];
	struct num n = P(s);

	num_format(&n, buf);
	return buf;
}

static void assert_rejects(const char *s, const char *msg_part)
{
	struct dyn_err e;
	struct num n;

	err_clear(&e);
	ck_assert_msg(num_parse(s, strlen(s), &n, &e) == -EINVAL, "accepted \"%s\"", s);
	ck_assert_int_eq(e.code, EINVAL);
	ck_assert_msg(strstr(e.msg, msg_part), "\"%s\": message \"%s\" lacks \"%s\"", s, e.msg,
		      msg_part);
}

/* ---- num_parse ---- */

START_TEST(test_parse_canonicalises)
{
	ck_assert_str_eq(canon("007.50"), "7.5");
	ck_assert_str_eq(canon("-0"), "0");
	ck_assert_str_eq(canon("-0.000e5"), "0");
	ck_assert_str_eq(canon("1.0"), "1");
	ck_assert_str_eq(canon("1e2"), "100");
	ck_assert_str_eq(canon("1E+2"), "100");
	ck_assert_str_eq(canon("+5"), "5");
	ck_assert_str_eq(canon("0.1"), "0.1");
	ck_assert_str_eq(canon(".5"), "0.5");
	ck_assert_str_eq(canon("5."), "5");
	ck_assert_str_eq(canon("-12345678901234567890.5"), "-12345678901234567890.5");
	ck_assert_str_eq(canon("1500e-3"), "1.5");
	ck_assert_str_eq(canon("0.00012e4"), "1.2");
}
END_TEST

START_TEST(test_parse_negative_zero_is_zero)
{
	struct num z = P("-0"), zero;

	num_zero(&zero);
	ck_assert(num_is_zero(&z));
	ck_assert_int_eq(z.neg, 0);
	ck_assert_int_eq(memcmp(&z, &zero, sizeof(z)), 0);
}
END_TEST

START_TEST(test_parse_equal_spellings_are_identical)
{
	struct num a = P("1"), b = P("1.000"), c = P("0.1e1"), d = P("100e-2");

	ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
	ck_assert_int_eq(memcmp(&a, &c, sizeof(a)), 0);
	ck_assert_int_eq(memcmp(&a, &d, sizeof(a)), 0);
}
END_TEST

START_TEST(test_parse_accepts_range_ends)
{
	ck_assert_str_eq(canon("1E-130"), "1e-130");
	ck_assert_str_eq(canon("-1E-130"), "-1e-130");
	ck_assert_str_eq(canon(MAX38), "9.9999999999999999999999999999999999999e+125");
	ck_assert_str_eq(canon("-" MAX38), "-9.9999999999999999999999999999999999999e+125");
	ck_assert_str_eq(canon("0.1E-129"), "1e-130");
	ck_assert_str_eq(canon("0e999999999999999999999"), "0");
}
END_TEST

START_TEST(test_parse_rejects_too_large)
{
	assert_rejects("1E126", "Number overflow");
	assert_rejects("-1E126", "magnitude larger than supported range");
	assert_rejects("10E125", "Number overflow");
	assert_rejects("1e99999999999999999999", "Number overflow");
}
END_TEST

START_TEST(test_parse_rejects_too_small)
{
	assert_rejects("1E-131", "Number underflow");
	assert_rejects("-0.9E-130", "magnitude smaller than supported range");
	assert_rejects("1e-99999999999999999999", "Number underflow");
}
END_TEST

START_TEST(test_parse_accepts_38_digits)
{
	ck_assert_str_eq(canon("12345678901234567890123456789012345678"),
			 "1.2345678901234567890123456789012345678e+37");
	ck_assert_str_eq(canon("1234567890123456789.0123456789012345678"),
			 "1234567890123456789.0123456789012345678");
	ck_assert_str_eq(canon("-0.12345678901234567890123456789012345678"),
			 "-0.12345678901234567890123456789012345678");
	/* Zeros beyond the 38th digit are not significant. */
	ck_assert_str_eq(canon("123456789012345678901234567890123456780000"),
			 "1.2345678901234567890123456789012345678e+41");
	ck_assert_str_eq(canon("00000000000000000000000000000000000000001.5000000000000000000000000"
			       "00000000000000000000"),
			 "1.5");
}
END_TEST

START_TEST(test_parse_rejects_39_digits)
{
	assert_rejects("123456789012345678901234567890123456789",
		       "number has more than 38 significant digits");
	assert_rejects("1.00000000000000000000000000000000000001",
		       "more than 38 significant digits");
	assert_rejects("0.000123456789012345678901234567890123456789", "38 significant digits");
}
END_TEST

START_TEST(test_parse_rejects_junk)
{
	static const char *const bad[] = {
	    "-",    "+",  ".",	"-.",	"1e",  "1e+", "e5",  "abc", "1.2.3",
	    "0x10", " 1", "1 ", "1e5x", "--1", "1-",  "1,5", "１",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejects(bad[i], "invalid number");
}
END_TEST

START_TEST(test_parse_rejects_empty)
{
	assert_rejects("", "empty number");
}
END_TEST

START_TEST(test_parse_rejects_nan_and_infinity)
{
	assert_rejects("NaN", "NaN and Infinity");
	assert_rejects("Infinity", "NaN and Infinity");
	assert_rejects("-Infinity", "NaN and Infinity");
	assert_rejects("inf", "NaN and Infinity");
}
END_TEST

/* ---- num_format ---- */

START_TEST(test_format_follows_javascript)
{
	static const char *const cases[][2] = {
	    {"100", "100"},
	    {"1e20", "100000000000000000000"},
	    {"123456789012345678901", "123456789012345678901"},
	    {"1e21", "1e+21"},
	    {"1.5e21", "1.5e+21"},
	    {"0.000001", "0.000001"},
	    {"0.0000015", "0.0000015"},
	    {"1e-7", "1e-7"},
	    {"1.5e-7", "1.5e-7"},
	    {"-1.2345e30", "-1.2345e+30"},
	    {"12.5", "12.5"},
	    {"1e-10", "1e-10"},
	    {"1.0000000000000000000000000000000000001e5",
	     "100000.00000000000000000000000000000001"},
	    {"1e100", "1e+100"},
	    {"-9.99e-100", "-9.99e-100"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(canon(cases[i][0]), cases[i][1]);
}
END_TEST

START_TEST(test_format_longest_fits_buffer)
{
	char buf[NUM_TEXT_MAX];
	struct num n = P("-0.0000012345678901234567890123456789012345678");
	size_t len = num_format(&n, buf);

	ck_assert_uint_lt(len, NUM_TEXT_MAX);
	ck_assert_str_eq(buf, "-0.0000012345678901234567890123456789012345678");
	n = P("-1.2345678901234567890123456789012345678e-100");
	ck_assert_uint_lt(num_format(&n, buf), NUM_TEXT_MAX);
}
END_TEST

/* ---- num_fits_double ---- */

START_TEST(test_fits_double_at_15_digits)
{
	struct num n;

	n = P("123456789012345");
	ck_assert(num_fits_double(&n));
	n = P("1234567890123456");
	ck_assert(!num_fits_double(&n));
	n = P("0");
	ck_assert(num_fits_double(&n));
	n = P("1e-130");
	ck_assert(num_fits_double(&n));
	n = P("0.1");
	ck_assert(num_fits_double(&n));
	n = P("9007199254740993");
	ck_assert(!num_fits_double(&n));
}
END_TEST

/* ---- num_cmp and num_key_encode ---- */

/* clang-format off */
static const char *const ordered[] = {
	"-" MAX38, "-1e100", "-100", "-10", "-2", "-1.52", "-1.5", "-1.05", "-1", "-0.1",
	"-1e-129", "-1e-130", "0", "1e-130", "1.5e-130", "1e-129", "0.1", "1", "1.05", "1.5",
	"1.52", "2", "9.99999", "10", "11", "100", "12345678901234567890123456789012345678",
	"1e100", MAX38,
};
/* clang-format on */
#define NORDERED (sizeof(ordered) / sizeof(ordered[0]))

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

/* memcmp of two encodings as a key store would (shorter first on a tie). */
static int key_cmp(const struct num *a, const struct num *b)
{
	uint8_t ka[NUM_KEY_MAX], kb[NUM_KEY_MAX];
	size_t la = num_key_encode(a, ka), lb = num_key_encode(b, kb);
	int c = memcmp(ka, kb, la < lb ? la : lb);

	if (c == 0 && la != lb)
		ck_abort_msg("one encoding is a prefix of another");
	return sgn(c ? c : (int)la - (int)lb);
}

START_TEST(test_cmp_orders_edge_values)
{
	for (size_t i = 0; i < NORDERED; i++) {
		for (size_t j = 0; j < NORDERED; j++) {
			struct num a = P(ordered[i]), b = P(ordered[j]);
			int want = sgn((int)i - (int)j);

			ck_assert_msg(sgn(num_cmp(&a, &b)) == want, "cmp %s %s", ordered[i],
				      ordered[j]);
			ck_assert_msg(key_cmp(&a, &b) == want, "key %s %s", ordered[i], ordered[j]);
		}
	}
}
END_TEST

START_TEST(test_cmp_treats_spellings_as_equal)
{
	struct num a = P("1.0"), b = P("1"), c = P("1e2"), d = P("100");

	ck_assert_int_eq(num_cmp(&a, &b), 0);
	ck_assert_int_eq(num_cmp(&c, &d), 0);
	ck_assert_int_eq(key_cmp(&c, &d), 0);
}
END_TEST

/* xorshift64*: a small deterministic generator for the random samples. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* A random canonical number, biased towards shared prefixes and ends. */
static void random_num(struct num *n)
{
	static const uint8_t base[NUM_MAX_DIGITS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4,
						     5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8,
						     9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2};
	int nd;

	num_zero(n);
	if (rnd() % 20 == 0)
		return;
	nd = 1 + (int)(rnd() % NUM_MAX_DIGITS);
	for (int i = 0; i < nd; i++) {
		if (rnd() % 2)
			n->digit[i] = base[i];
		else
			n->digit[i] = (uint8_t)(rnd() % 10);
	}
	if (n->digit[0] == 0)
		n->digit[0] = 1;
	while (n->digit[nd - 1] == 0)
		nd--;
	n->ndigits = (uint8_t)nd;
	switch (rnd() % 4) {
	case 0:
		n->exp = (int16_t)(-129 + (int)(rnd() % 256));
		break;
	case 1:
		n->exp = (int16_t)(rnd() % 2 ? -129 : 126);
		break;
	default:
		n->exp = (int16_t)(-3 + (int)(rnd() % 7));
		break;
	}
	n->neg = rnd() % 2;
}

START_TEST(test_key_order_matches_cmp_on_random_sample)
{
	enum { N = 1200 };
	static struct num v[N];

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < N; i++)
		random_num(&v[i]);
	for (int i = 0; i < N; i++) {
		for (int j = i; j < N; j += 1 + (int)(rnd() % 9)) {
			int want = sgn(num_cmp(&v[i], &v[j]));

			ck_assert_int_eq(key_cmp(&v[i], &v[j]), want);
			ck_assert_int_eq(sgn(num_cmp(&v[j], &v[i])), -want);
		}
	}
}
END_TEST

START_TEST(test_key_decode_inverts_encode)
{
	rng_state = 42;
	for (int i = 0; i < 20000; i++) {
		uint8_t k[NUM_KEY_MAX];
		struct num a, b;
		size_t len;

		random_num(&a);
		len = num_key_encode(&a, k);
		ck_assert_uint_le(len, NUM_KEY_MAX);
		ck_assert_int_eq(num_key_decode(k, len, &b), 0);
		ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
	}
}
END_TEST

START_TEST(test_key_decode_rejects_malformed)
{
	static const struct {
		uint8_t b[24];
		size_t len;
	} bad[] = {
	    {{0}, 0},
	    {{0x03}, 1},
	    {{0x03, 0x80, 0x00}, 3},		 /* no digits */
	    {{0x03, 0x80, 0x00, 0x00}, 4},	 /* pair byte 0 */
	    {{0x03, 0x80, 0x66, 0x00}, 4},	 /* pair byte 102 */
	    {{0x03, 0x80, 0x02, 0x00}, 4},	 /* leading zero digit "01" */
	    {{0x03, 0x80, 0x0b, 0x01, 0x00}, 5}, /* trailing "00" pair */
	    {{0x03, 0x80, 0x0b, 0xff}, 4},	 /* wrong terminator */
	    {{0x01, 0x7f, 0xf4, 0x00}, 4},	 /* negative with 0x00 terminator */
	    {{0x04, 0x80, 0x0b, 0x00}, 4},	 /* unknown class */
	    {{0x02, 0x00}, 2},			 /* zero with trailing junk */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct num n;

		ck_assert_msg(num_key_decode(bad[i].b, bad[i].len, &n) == -EINVAL, "case %zu", i);
	}
}
END_TEST

START_TEST(test_key_longest_fits)
{
	uint8_t k[NUM_KEY_MAX];
	struct num n = P("-" MAX38);

	ck_assert_uint_le(num_key_encode(&n, k), NUM_KEY_MAX);
}
END_TEST

START_TEST(test_format_parse_round_trip_random)
{
	rng_state = 7;
	for (int i = 0; i < 20000; i++) {
		char buf[NUM_TEXT_MAX];
		struct num a, b;
		size_t len;

		random_num(&a);
		len = num_format(&a, buf);
		ck_assert_uint_eq(len, strlen(buf));
		ck_assert_int_eq(num_parse(buf, len, &b, NULL), 0);
		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "round trip of %s", buf);
	}
}
END_TEST

/* ---- int64 ---- */

START_TEST(test_from_int64_extremes)
{
	char buf[NUM_TEXT_MAX];
	struct num n;
	int64_t v;

	num_from_int64(&n, INT64_MIN);
	num_format(&n, buf);
	ck_assert_str_eq(buf, "-9223372036854775808");
	ck_assert_int_eq(num_to_int64(&n, &v), 0);
	ck_assert(v == INT64_MIN);
	num_from_int64(&n, INT64_MAX);
	num_format(&n, buf);
	ck_assert_str_eq(buf, "9223372036854775807");
	num_from_int64(&n, 0);
	ck_assert(num_is_zero(&n));
	num_from_int64(&n, -1200);
	num_format(&n, buf);
	ck_assert_str_eq(buf, "-1200");
	ck_assert_int_eq(n.ndigits, 2);
}
END_TEST

START_TEST(test_to_int64_rejects_fractions_and_overflow)
{
	struct num n;
	int64_t v = 7;

	n = P("1.5");
	ck_assert_int_eq(num_to_int64(&n, &v), -ERANGE);
	ck_assert_int_eq(v, 7);
	n = P("9223372036854775808");
	ck_assert_int_eq(num_to_int64(&n, &v), -ERANGE);
	n = P("-9223372036854775809");
	ck_assert_int_eq(num_to_int64(&n, &v), -ERANGE);
	n = P("1e19");
	ck_assert_int_eq(num_to_int64(&n, &v), -ERANGE);
	n = P("1e2");
	ck_assert_int_eq(num_to_int64(&n, &v), 0);
	ck_assert_int_eq(v, 100);
	n = P("9223372036854775807");
	ck_assert_int_eq(num_to_int64(&n, &v), 0);
	ck_assert(v == INT64_MAX);
}
END_TEST

/* ---- num_add / num_sub ---- */

static const char *arith(int (*fn)(const struct num *, const struct num *, struct num *,
				   struct dyn_err *),
			 const char *a, const char *b)
{
	static char buf[NUM_TEXT_MAX];
	struct num x = P(a), y = P(b), r;
	struct dyn_err e;

	err_clear(&e);
	ck_assert_msg(fn(&x, &y, &r, &e) == 0, "%s op %s: %s", a, b, e.msg);
	num_format(&r, buf);
	return buf;
}

static void assert_arith_fails(int (*fn)(const struct num *, const struct num *, struct num *,
					 struct dyn_err *),
			       const char *a, const char *b, const char *msg_part)
{
	struct num x = P(a), y = P(b), r = P("42"), keep = r;
	struct dyn_err e;

	err_clear(&e);
	ck_assert_int_eq(fn(&x, &y, &r, &e), -EINVAL);
	ck_assert_msg(strstr(e.msg, msg_part), "message \"%s\"", e.msg);
	ck_assert_int_eq(memcmp(&r, &keep, sizeof(r)), 0);
}

START_TEST(test_add_is_exact)
{
	ck_assert_str_eq(arith(num_add, "1", "2"), "3");
	ck_assert_str_eq(arith(num_add, "0.1", "0.2"), "0.3");
	ck_assert_str_eq(arith(num_add, "-1.5", "1"), "-0.5");
	ck_assert_str_eq(arith(num_add, "1.5", "-1.5"), "0");
	ck_assert_str_eq(arith(num_add, "0", "-7"), "-7");
	ck_assert_str_eq(arith(num_add, "99999999999999999999999999999999999999", "1"), "1e+38");
	ck_assert_str_eq(arith(num_add, "1e37", "1"),
			 "1.0000000000000000000000000000000000001e+37");
	ck_assert_str_eq(arith(num_add, "1e19", "0.000000000000000001"),
			 "10000000000000000000.000000000000000001");
	ck_assert_str_eq(arith(num_add, "1e-130", "1e-130"), "2e-130");
	ck_assert_str_eq(arith(num_add, "-" MAX38, "1e88"),
			 "-9.9999999999999999999999999999999999998e+125");
}
END_TEST

START_TEST(test_add_rejects_precision_loss)
{
	assert_arith_fails(num_add, "1e38", "1", "38 significant digits");
	assert_arith_fails(num_add, "12345678901234567890123456789012345678", "0.1",
			   "38 significant digits");
	assert_arith_fails(num_add, "1e125", "1e-125", "38 significant digits");
}
END_TEST

START_TEST(test_add_rejects_overflow)
{
	assert_arith_fails(num_add, MAX38, "1e125",
			   "Number overflow. Attempting to store a number with magnitude "
			   "larger than supported range");
	assert_arith_fails(num_add, "-" MAX38, "-1e88", "Number overflow");
}
END_TEST

START_TEST(test_sub_is_exact)
{
	ck_assert_str_eq(arith(num_sub, "3", "5"), "-2");
	ck_assert_str_eq(arith(num_sub, "1e-130", "1e-130"), "0");
	ck_assert_str_eq(arith(num_sub, "100", "0.01"), "99.99");
	ck_assert_str_eq(arith(num_sub, "0", "5"), "-5");
	ck_assert_str_eq(arith(num_sub, "-1", "-1"), "0");
	ck_assert_str_eq(arith(num_sub, "1e38", "1"),
			 "9.9999999999999999999999999999999999999e+37");
}
END_TEST

START_TEST(test_sub_rejects_underflow)
{
	assert_arith_fails(num_sub, "1.2345e-130", "1.2344e-130", "Number underflow");
	assert_arith_fails(num_sub, "-" MAX38, "1e125", "Number overflow");
}
END_TEST

START_TEST(test_add_allows_aliasing)
{
	struct num a = P("1.25");

	ck_assert_int_eq(num_add(&a, &a, &a, NULL), 0);
	ck_assert_int_eq(num_cmp(&a, &(struct num){0}) > 0, 1);
	ck_assert_str_eq(arith(num_add, "2.5", "0"), "2.5");
	{
		char buf[NUM_TEXT_MAX];

		num_format(&a, buf);
		ck_assert_str_eq(buf, "2.5");
		ck_assert_int_eq(num_sub(&a, &a, &a, NULL), 0);
		ck_assert(num_is_zero(&a));
	}
}
END_TEST

START_TEST(test_add_matches_int64_on_random_sample)
{
	rng_state = 99;
	for (int i = 0; i < 20000; i++) {
		int64_t x = (int64_t)(rnd() % 2000000001ULL) - 1000000000;
		int64_t y = (int64_t)(rnd() % 2000000001ULL) - 1000000000;
		struct num a, b, r;
		int64_t got;

		if (i % 3 == 0)
			x *= 1000000;
		num_from_int64(&a, x);
		num_from_int64(&b, y);
		ck_assert_int_eq(num_add(&a, &b, &r, NULL), 0);
		ck_assert_int_eq(num_to_int64(&r, &got), 0);
		ck_assert(got == x + y);
		ck_assert_int_eq(num_sub(&a, &b, &r, NULL), 0);
		ck_assert_int_eq(num_to_int64(&r, &got), 0);
		ck_assert(got == x - y);
	}
}
END_TEST

/* ---- num_parse_plain, the JSON reader's fast path ---- */

/* The fast path against the general one (num_plain_agree.h). */
static void assert_plain_agrees(const char *t, size_t len)
{
	const char *why = num_plain_disagree(t, len);

	ck_assert_msg(!why, "\"%.*s\": %s", (int)len, t, why);
}

static void assert_plain_agrees_str(const char *t)
{
	assert_plain_agrees(t, strlen(t));
}

/* A run of n digits: zeros often, so that trailing and leading zeros and
 * their stripping come up. */
static size_t random_digits(char *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] = (char)(rnd() % 3 == 0 ? '0' : '0' + rnd() % 10);
	return n;
}

/* Number-like text: mostly well-formed (sign, integer part, fraction,
 * exponent, up to 45 digits, what follows it), sometimes any bytes of
 * the number alphabet. */
static size_t random_number_text(char *o)
{
	static const char alphabet[] = "-+0123456789.eE ,}x";
	static const char *const after[] = {"", ",", "}", "]", " ", ".", "-", "e", "x", "0", ".5"};
	size_t n = 0, k;

	if (rnd() % 10 == 0) {
		k = rnd() % 20;
		for (size_t i = 0; i < k; i++)
			o[n++] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		return n;
	}
	if (rnd() % 3 == 0)
		o[n++] = '-';
	switch (rnd() % 4) {
	case 0:
		o[n++] = '0';
		break;
	case 1:
		n += random_digits(o + n, 1 + rnd() % 45); /* leading zeros too */
		break;
	default:
		o[n++] = (char)('1' + rnd() % 9);
		n += random_digits(o + n, rnd() % (rnd() % 2 ? 16 : 45));
	}
	if (rnd() % 2) {
		o[n++] = '.';
		n += random_digits(o + n, rnd() % 40);
	}
	if (rnd() % 6 == 0) {
		o[n++] = rnd() % 2 ? 'e' : 'E';
		if (rnd() % 2)
			o[n++] = rnd() % 2 ? '+' : '-';
		n += (size_t)snprintf(o + n, 8, "%u", (unsigned)(rnd() % 200));
	}
	k = rnd() % (sizeof(after) / sizeof(after[0]));
	memcpy(o + n, after[k], strlen(after[k]));
	return n + strlen(after[k]);
}

START_TEST(test_plain_agrees_on_edge_cases)
{
	static const char *const cases[] = {
	    "0", "-0", "-0.0", "0.0000", "0.5", "-0.05", "0.000000000000000000000000000000000001",
	    "1", "-1", "10", "100", "1000000", "10.01", "100.0500", "7.50", "1.000", "31",
	    "1681239902406", "-1681239902406", "1637851898170",
	    "12345678901234567890123456789012345678",  /* 38 digits */
	    "-99999999999999999999999999999999999999", /* 38 nines */
	    "123456789012345678901234567890123456789", /* 39: the general path */
	    "100000000000000000000000000000000000000", /* 39, one significant */
	    "1234567890123456789.0123456789012345678", /* 38 in all */
	    "1234567890123456789.01234567890123456789", /* 39 in all */
	    "0.00000000000000000000000000000000000001", /* 39 with the "0" */
	    "01", "00", "-01", "-00", "0.", "1.", "-", "-.5", ".5", "+1", "", "-x", "x",
	    "1e5", "1E+2", "1.5e-3", "0e0", "1e", "1.5E", "1,", "1}", "1 ", "1.2.3", "1-2",
	    "-Infinity", "NaN", "1x", "0x10", "2.", "9.9999999999999999999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_plain_agrees_str(cases[i]);
}
END_TEST

START_TEST(test_plain_agrees_on_random_text)
{
	char t[256];

	rng_state = 0x5eed5eedULL;
	for (int i = 0; i < 300000; i++)
		assert_plain_agrees(t, random_number_text(t));
}
END_TEST

Suite *num_suite(void);
Suite *num_suite(void)
{
	Suite *s = suite_create("num");
	TCase *tc;

	tc = tcase_create("num_parse");
	tcase_add_test(tc, test_parse_canonicalises);
	tcase_add_test(tc, test_parse_negative_zero_is_zero);
	tcase_add_test(tc, test_parse_equal_spellings_are_identical);
	tcase_add_test(tc, test_parse_accepts_range_ends);
	tcase_add_test(tc, test_parse_rejects_too_large);
	tcase_add_test(tc, test_parse_rejects_too_small);
	tcase_add_test(tc, test_parse_accepts_38_digits);
	tcase_add_test(tc, test_parse_rejects_39_digits);
	tcase_add_test(tc, test_parse_rejects_junk);
	tcase_add_test(tc, test_parse_rejects_empty);
	tcase_add_test(tc, test_parse_rejects_nan_and_infinity);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_parse_plain");
	tcase_add_test(tc, test_plain_agrees_on_edge_cases);
	tcase_add_test(tc, test_plain_agrees_on_random_text);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_format");
	tcase_add_test(tc, test_format_follows_javascript);
	tcase_add_test(tc, test_format_longest_fits_buffer);
	tcase_add_test(tc, test_format_parse_round_trip_random);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_fits_double");
	tcase_add_test(tc, test_fits_double_at_15_digits);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_cmp");
	tcase_add_test(tc, test_cmp_orders_edge_values);
	tcase_add_test(tc, test_cmp_treats_spellings_as_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_key_encode");
	tcase_add_test(tc, test_key_order_matches_cmp_on_random_sample);
	tcase_add_test(tc, test_key_decode_inverts_encode);
	tcase_add_test(tc, test_key_decode_rejects_malformed);
	tcase_add_test(tc, test_key_longest_fits);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_int64");
	tcase_add_test(tc, test_from_int64_extremes);
	tcase_add_test(tc, test_to_int64_rejects_fractions_and_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("num_add");
	tcase_add_test(tc, test_add_is_exact);
	tcase_add_test(tc, test_add_rejects_precision_loss);
	tcase_add_test(tc, test_add_rejects_overflow);
	tcase_add_test(tc, test_sub_is_exact);
	tcase_add_test(tc, test_sub_rejects_underflow);
	tcase_add_test(tc, test_add_allows_aliasing);
	tcase_add_test(tc, test_add_matches_int64_on_random_sample);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
