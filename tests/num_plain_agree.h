/*
 * num_plain_agree.h - the differential rule for num_parse_plain (the
 * JSON reader's fast path for short integers and decimals) against the
 * general path (item_lex.c's ipar_number_general: the JSON grammar, then
 * num_parse), shared by tests/check_num.c and fuzz/fuzz_num.c.
 *
 * On text t: where the fast path takes a number, the same bytes read,
 * the same struct num byte for byte (unused digit slots included) and
 * the same key encoding; where it declines, its output untouched - and
 * it declines only what it leaves to the general path: an exponent, more
 * than 38 digits, or what the general path refuses.
 */
#ifndef DYNFS_NUM_PLAIN_AGREE_H
#define DYNFS_NUM_PLAIN_AGREE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "item_parseint.h"
#include "num.h"

/* NULL when both paths agree on t[0..len), else what differs. */
static inline const char *num_plain_disagree(const char *t, size_t len)
{
	struct parser ps;
	struct num a, b, untouched;
	uint8_t ka[NUM_KEY_MAX], kb[NUM_KEY_MAX];
	size_t k, digits = 0, i, la;
	bool expo = false;
	int rc;

	memset(&a, 0xa5, sizeof(a));
	untouched = a;
	k = num_parse_plain(t, t + len, &a);
	memset(&ps, 0, sizeof(ps));
	ps.text = ps.p = t;
	ps.end = t + len;
	rc = ipar_number_general(&ps, &b);
	if (k) {
		if (rc != 0)
			return "the fast path took a number the general one refuses";
		if (k != (size_t)(ps.p - t))
			return "the fast path read another length than the general one";
		if (memcmp(&a, &b, sizeof(a)) != 0)
			return "the fast path gave another number";
		la = num_key_encode(&a, ka);
		if (la != num_key_encode(&b, kb) || memcmp(ka, kb, la) != 0)
			return "the fast path's number has another key encoding";
		return NULL;
	}
	if (memcmp(&a, &untouched, sizeof(a)) != 0)
		return "the fast path declined, yet wrote its output";
	if (rc != 0)
		return NULL;
	for (i = 0; i < (size_t)(ps.p - t); i++) {
		digits += t[i] >= '0' && t[i] <= '9';
		expo = expo || t[i] == 'e' || t[i] == 'E';
	}
	if (!expo && digits <= NUM_MAX_DIGITS)
		return "the fast path declined a plain number";
	return NULL;
}

#endif
