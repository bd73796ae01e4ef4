/*
 * fuzz_num.c - differential libFuzzer target: num_parse_plain (the JSON
 * reader's fast path for short integers and decimals) against the
 * general path, item_lex.c's ipar_number_general (the JSON grammar, then
 * num_parse).  Where the fast path takes the input's leading number it
 * must read the same bytes and give the same struct num, byte for byte,
 * and the same key encoding; where it declines it must leave *out alone
 * and decline only numbers with an exponent or more than 38 digits, or
 * what the general path refuses.  The rule is tests/num_plain_agree.h,
 * which check_num's num_parse_plain cases apply to generated text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/num_plain_agree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = num_plain_disagree((const char *)data, size);

	if (why) {
		fprintf(stderr, "fuzz_num: %s: \"%.*s\"\n", why, (int)size, (const char *)data);
		abort();
	}
	return 0;
}
