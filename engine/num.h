/*
 * num.h - DynamoDB's N type: exact decimal numbers.
 *
 * A number has at most 38 significant decimal digits and a magnitude of
 * zero or between 1E-130 and 9.9999999999999999999999999999999999999E+125.
 * Nothing here goes through a double: parsing reads the digits the user
 * wrote, comparison and arithmetic work on the digits.
 *
 * Invariants of struct num (always canonical, so equal numbers are
 * byte-identical structs up to unused digit slots, which are zero):
 *   - ndigits == 0 means zero; then neg == 0 and exp == 0.
 *   - otherwise digit[0] != 0 and digit[ndigits-1] != 0 (no leading or
 *     trailing zeros), 1 <= ndigits <= 38, each digit 0..9, and the value is
 *     (neg ? -1 : 1) * 0.d[0]d[1]...d[n-1] * 10^exp, with -129 <= exp <= 126.
 *   - digit[i] == 0 for i >= ndigits.
 */
#ifndef DYNFS_NUM_H
#define DYNFS_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NUM_MAX_DIGITS 38
/* Longest canonical text (num_format), including the terminating NUL. */
#define NUM_TEXT_MAX 64
/* Longest order-preserving key encoding (num_key_encode). */
#define NUM_KEY_MAX 24

struct num {
	uint8_t neg;			  /* 1 if negative (never for zero) */
	uint8_t ndigits;		  /* significant digits, 0 for zero */
	int16_t exp;			  /* value = 0.digits * 10^exp */
	uint8_t digit[NUM_MAX_DIGITS];	  /* 0..9, most significant first */
};

/*
 * Parse a decimal number: optional '-' (a leading '+' is accepted too),
 * digits with an optional '.', optional exponent [eE][+-]digits.  Leading
 * and trailing zeros are not significant ("007.50" is 7.5), so more than 38
 * digits are accepted only when the extra ones are zeros.  Rejects (EINVAL
 * with a message) empty text, junk, NaN/Infinity, more than 38 significant
 * digits, and magnitudes outside DynamoDB's range.
 */
int num_parse(const char *s, size_t len, struct num *out, struct dyn_err *err);

/*
 * The common case of a JSON number, without num_parse's generality: an
 * integer or a decimal with no exponent, in strict JSON form (optional
 * '-', no leading zeros, digits on both sides of a '.'), of at most 38
 * digits in all, at s (before end).  Returns the bytes read - the number
 * ends at the first byte that cannot continue it, as a JSON reader's does -
 * with *out what num_parse() gives for them; 0 when the text is anything
 * else (an exponent, more digits, no number), *out untouched: the caller's
 * general path decides, errors included.  A fast path; check_num and
 * fuzz_num compare it with the general one.
 */
size_t num_parse_plain(const char *s, const char *end, struct num *out);

/*
 * Canonical text, NUL-terminated, into buf (at least NUM_TEXT_MAX bytes);
 * returns its length.  The format is JavaScript's Number#toString applied
 * to the exact value: positional when 1e-6 <= |x| < 1e21 ("100", "0.1",
 * "-12345678901234567890.5"), otherwise d[.ddd]e+X / e-X ("1e-130",
 * "9.99e+125").  It is what jq and node print for the same value.  "-0",
 * "1.0" and "1e2" are "0", "1" and "100".
 */
size_t num_format(const struct num *n, char *buf);

/* num_format's length, without writing the text. */
size_t num_format_len(const struct num *n);

/*
 * True when a binary64 double holds this value well enough that printing it
 * back gives the same decimal: at most 15 significant digits and a magnitude
 * within 1e-307..1e308.  The item codec writes such numbers as bare JSON
 * numbers and all others as {"$N": "..."}, so that jq and JavaScript, which
 * read numbers as doubles, never silently change a value.
 */
bool num_fits_double(const struct num *n);

/* Numeric comparison: <0, 0, >0. */
int num_cmp(const struct num *a, const struct num *b);

/* Zero. */
void num_zero(struct num *out);
bool num_is_zero(const struct num *n);

/* Conversions for small integers (list indexes, limits, counters). */
void num_from_int64(struct num *out, int64_t v);
/* -ERANGE if not an integer in int64 range (out untouched). */
int num_to_int64(const struct num *n, int64_t *out);

/*
 * Exact arithmetic with DynamoDB's rules: the result must fit in 38
 * significant digits (else EINVAL "Number overflow"/"precision loss", as
 * DynamoDB reports it) and in the magnitude range.  out may alias a or b.
 */
int num_add(const struct num *a, const struct num *b, struct num *out, struct dyn_err *err);
int num_sub(const struct num *a, const struct num *b, struct num *out, struct dyn_err *err);

/*
 * Order-preserving binary encoding for keys: memcmp() of two encodings
 * orders them exactly as num_cmp() orders the numbers.  Writes at most
 * NUM_KEY_MAX bytes into buf and returns the length.  The encoding never
 * needs a terminator to compare correctly against another encoding.
 */
size_t num_key_encode(const struct num *n, uint8_t *buf);
/* Inverse of num_key_encode; -EINVAL on malformed input. */
int num_key_decode(const uint8_t *buf, size_t len, struct num *out);

#endif
