/*
 * fuzz_num.c - differential libFuzzer target: num_parse_plain (the JSON
 * reader's fast path for short integers and decimals) against the
 * general path, item_lex.c's ipar_number_general (the JSON grammar, then
 * num_parse).  Where the fast path takes the input's leading number it
 * must read the same bytes and give the same struct num, byte for byte,
 * and the same key encoding; where it declines it must leave *out alone
 * and decline only numbers with an exponent or more than 38 digits, or
 * what the general path refuses.  check_num's num_parse_plain cases do
 * the same on generated text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_parseint.h"
#include "num.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_num: check failed: %s (line %d)\n", #cond, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	static struct parser ps;
	struct num a, b, untouched;
	uint8_t ka[NUM_KEY_MAX], kb[NUM_KEY_MAX];
	size_t k, digits = 0, i, la;
	int expo = 0, rc;

	memset(&a, 0xa5, sizeof(a));
	untouched = a;
	k = num_parse_plain(t, t + size, &a);
	memset(&ps, 0, sizeof(ps));
	ps.text = ps.p = t;
	ps.end = t + size;
	rc = ipar_number_general(&ps, &b);
	if (k) {
		CHECK(rc == 0);
		CHECK(k == (size_t)(ps.p - t));
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		la = num_key_encode(&a, ka);
		CHECK(la == num_key_encode(&b, kb) && memcmp(ka, kb, la) == 0);
		return 0;
	}
	CHECK(memcmp(&a, &untouched, sizeof(a)) == 0);
	if (rc != 0)
		return 0;
	for (i = 0; i < (size_t)(ps.p - t); i++) {
		digits += t[i] >= '0' && t[i] <= '9';
		expo |= t[i] == 'e' || t[i] == 'E';
	}
	CHECK(expo || digits > NUM_MAX_DIGITS);
	return 0;
}
