/*
 * check_keyenc.c - tuple key encoding: order against val_cmp, escapes,
 * prefixes, successors, decoding.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyenc.h"
#include "num.h"
#include "omap.h"
#include "val.h"

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);             \
	} while (0)

static unsigned long long rng_state;

static unsigned rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33);
}

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

static void mk_num(struct val *v, const char *text)
{
	struct num n;

	ck_assert_msg(num_parse(text, strlen(text), &n, NULL) == 0, "bad number %s", text);
	val_init_num(v, &n);
}

/* Random bytes from an alphabet rich in the bytes the escape touches. */
static void mk_bytes(struct val *v, enum val_type t)
{
	static const uint8_t alpha[] = {0x00, 0x01, 0x02, 'a', 'b', 0x7f, 0xfe, 0xff};
	uint8_t buf[8];
	size_t n = rnd() % 7, i;

	for (i = 0; i < n; i++)
		buf[i] = t == VAL_S ? "\001ab\x7f"[rnd() % 4] : alpha[rnd() % sizeof(alpha)];
	if (t == VAL_S)
		EXPECT(val_init_str(v, (const char *)buf, n) == 0);
	else
		EXPECT(val_init_bin(v, buf, n) == 0);
}

static void mk_random_num(struct val *v)
{
	char text[64];
	unsigned k = rnd() % 6;

	switch (k) {
	case 0:
		snprintf(text, sizeof(text), "%d", (int)(rnd() % 2001) - 1000);
		break;
	case 1:
		snprintf(text, sizeof(text), "%s%u.%ue%d", rnd() % 2 ? "-" : "", rnd() % 100,
			 rnd() % 1000, (int)(rnd() % 240) - 120);
		break;
	case 2:
		snprintf(text, sizeof(text), "%s0.%05u", rnd() % 2 ? "-" : "", rnd() % 100000);
		break;
	case 3:
		snprintf(text, sizeof(text), "%s%u%u%u", rnd() % 2 ? "-" : "", rnd(), rnd(), rnd());
		break;
	case 4:
		snprintf(text, sizeof(text), "%s1e%d", rnd() % 2 ? "-" : "",
			 (int)(rnd() % 250) - 125);
		break;
	default:
		snprintf(text, sizeof(text), "0");
	}
	mk_num(v, text);
}

static void enc(struct keyenc_buf *b, const struct val *v)
{
	keyenc_buf_init(b);
	EXPECT(keyenc_append(b, v) == 0);
}

static int enc_cmp(const struct keyenc_buf *a, const struct keyenc_buf *b)
{
	return sgn(omap_keycmp(a->p, a->len, b->p, b->len));
}

START_TEST(test_keyenc_escapes_zero_and_terminates)
{
	struct keyenc_buf b;
	struct val v;

	ck_assert_int_eq(val_init_str(&v, "a\0b", 3), 0);
	enc(&b, &v);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_mem_eq(b.p,
			 "a\0\xff"
			 "b\0\x01",
			 6);
	ck_assert_uint_eq(keyenc_next(b.p, b.len), 6);
	keyenc_buf_free(&b);
	val_free(&v);

	ck_assert_int_eq(val_init_str(&v, "", 0), 0);
	enc(&b, &v);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.p, "\0\x01", 2);
	keyenc_buf_free(&b);
	val_free(&v);
}
END_TEST

START_TEST(test_keyenc_rejects_non_key_types)
{
	struct keyenc_buf b;
	struct val v;

	keyenc_buf_init(&b);
	val_init_bool(&v, true);
	ck_assert_int_eq(keyenc_append(&b, &v), -EINVAL);
	val_init_null(&v);
	ck_assert_int_eq(keyenc_append(&b, &v), -EINVAL);
	keyenc_buf_free(&b);
}
END_TEST

START_TEST(test_keyenc_order_matches_val_cmp)
{
	static const enum val_type types[] = {VAL_S, VAL_B, VAL_N};
	struct keyenc_buf ea, eb;
	struct val a, b;
	int i;

	rng_state = 0x1234567ULL + (unsigned long long)_i;
	for (i = 0; i < 20000; i++) {
		enum val_type t = types[i % 3];

		if (t == VAL_N) {
			mk_random_num(&a);
			mk_random_num(&b);
		} else {
			mk_bytes(&a, t);
			mk_bytes(&b, t);
		}
		enc(&ea, &a);
		enc(&eb, &b);
		EXPECT(enc_cmp(&ea, &eb) == sgn(val_cmp(&a, &b)));
		keyenc_buf_free(&ea);
		keyenc_buf_free(&eb);
		val_free(&a);
		val_free(&b);
	}
}
END_TEST

START_TEST(test_keyenc_numbers_order_numerically)
{
	static const char *sorted[] = {
	    "-9.9999999999999999999999999999999999999e125",
	    "-1e100",
	    "-1000",
	    "-10",
	    "-2",
	    "-1.5",
	    "-1",
	    "-0.5",
	    "-1e-130",
	    "0",
	    "1e-130",
	    "0.001",
	    "0.5",
	    "1",
	    "1.5",
	    "2",
	    "10",
	    "12345678901234567890.5",
	    "1e100",
	    "9.9999999999999999999999999999999999999e125",
	};
	size_t n = sizeof(sorted) / sizeof(sorted[0]), i;
	struct keyenc_buf prev, cur;
	struct val v;

	keyenc_buf_init(&prev);
	for (i = 0; i < n; i++) {
		mk_num(&v, sorted[i]);
		enc(&cur, &v);
		if (i)
			ck_assert_msg(enc_cmp(&prev, &cur) < 0, "%s !< %s", sorted[i - 1],
				      sorted[i]);
		keyenc_buf_free(&prev);
		keyenc_buf_init(&prev);
		ck_assert_int_eq(keyenc_buf_put(&prev, cur.p, cur.len), 0);
		keyenc_buf_free(&cur);
		val_free(&v);
	}
	keyenc_buf_free(&prev);
}
END_TEST

START_TEST(test_keyenc_equal_numbers_encode_equal)
{
	struct keyenc_buf a, b;
	struct val x, y;

	mk_num(&x, "1.0");
	mk_num(&y, "1");
	enc(&a, &x);
	enc(&b, &y);
	ck_assert_int_eq(enc_cmp(&a, &b), 0);
	keyenc_buf_free(&a);
	keyenc_buf_free(&b);
	val_free(&x);
	val_free(&y);
	mk_num(&x, "-0");
	mk_num(&y, "0e5");
	enc(&a, &x);
	enc(&b, &y);
	ck_assert_int_eq(enc_cmp(&a, &b), 0);
	keyenc_buf_free(&a);
	keyenc_buf_free(&b);
	val_free(&x);
	val_free(&y);
}
END_TEST

/* enc(a1) enc(b1) vs enc(a2) enc(b2): first components, then second. */
START_TEST(test_keyenc_tuples_order_lexicographically)
{
	struct keyenc_buf x, y;
	struct val a1, b1, a2, b2;
	int i, want;

	rng_state = 99;
	for (i = 0; i < 20000; i++) {
		mk_bytes(&a1, VAL_B);
		mk_bytes(&a2, VAL_B);
		if (i % 2) {
			mk_random_num(&b1);
			mk_random_num(&b2);
		} else {
			mk_bytes(&b1, VAL_S);
			mk_bytes(&b2, VAL_S);
		}
		enc(&x, &a1);
		EXPECT(keyenc_append(&x, &b1) == 0);
		enc(&y, &a2);
		EXPECT(keyenc_append(&y, &b2) == 0);
		want = sgn(val_cmp(&a1, &a2));
		if (!want)
			want = sgn(val_cmp(&b1, &b2));
		EXPECT(enc_cmp(&x, &y) == want);
		keyenc_buf_free(&x);
		keyenc_buf_free(&y);
		val_free(&a1);
		val_free(&a2);
		val_free(&b1);
		val_free(&b2);
	}
}
END_TEST

START_TEST(test_keyenc_decode_round_trips)
{
	static const enum val_type types[] = {VAL_S, VAL_B, VAL_N};
	struct keyenc_buf b;
	struct val v, w, x;
	size_t used, first;
	int i;

	rng_state = 7;
	for (i = 0; i < 10000; i++) {
		enum val_type t = types[i % 3];

		if (t == VAL_N)
			mk_random_num(&v);
		else
			mk_bytes(&v, t);
		enc(&b, &v);
		first = b.len;
		/* a second component after it must not disturb decoding */
		mk_bytes(&x, VAL_B);
		EXPECT(keyenc_append(&b, &x) == 0);
		EXPECT(keyenc_next(b.p, b.len) == first);
		EXPECT(keyenc_decode(b.p, b.len, t, &w, &used) == 0);
		EXPECT(used == first);
		EXPECT(w.type == t && val_equal(&v, &w));
		val_free(&w);
		EXPECT(keyenc_decode(b.p + first, b.len - first, VAL_B, &w, &used) == 0);
		EXPECT(used == b.len - first && val_equal(&w, &x));
		val_free(&w);
		val_free(&x);
		val_free(&v);
		keyenc_buf_free(&b);
	}
}
END_TEST

START_TEST(test_keyenc_decode_rejects_malformed)
{
	struct val v;

	ck_assert_uint_eq(keyenc_next((const uint8_t *)"abc", 3), 0);
	ck_assert_uint_eq(keyenc_next((const uint8_t *)"a\0", 2), 0);
	ck_assert_uint_eq(keyenc_next((const uint8_t *)"a\0\x02", 3), 0);
	ck_assert_uint_eq(keyenc_next((const uint8_t *)"", 0), 0);
	ck_assert_int_eq(keyenc_decode((const uint8_t *)"a\0\x02", 3, VAL_S, &v, NULL), -EINVAL);
	/* a component that is not a number encoding */
	ck_assert_int_eq(keyenc_decode((const uint8_t *)"\x07\0\x01", 3, VAL_N, &v, NULL), -EINVAL);
}
END_TEST

/* begins_with(s, p) iff the escaped p is a byte prefix of enc(s). */
START_TEST(test_keyenc_prefix_is_byte_prefix)
{
	static const enum val_type types[] = {VAL_S, VAL_B};
	struct keyenc_buf es, ep;
	struct val s, p;
	int i, is_prefix, byte_prefix;

	rng_state = 4242;
	for (i = 0; i < 20000; i++) {
		enum val_type t = types[i % 2];

		mk_bytes(&s, t);
		mk_bytes(&p, t);
		if (p.s.len > 2 && i % 3 == 0) {
			/* make it a real prefix often */
			val_free(&p);
			if (t == VAL_S)
				EXPECT(val_init_str(&p, s.s.p, s.s.len / 2) == 0);
			else
				EXPECT(val_init_bin(&p, s.s.p, s.s.len / 2) == 0);
		}
		enc(&es, &s);
		keyenc_buf_init(&ep);
		EXPECT(keyenc_append_prefix(&ep, &p) == 0);
		is_prefix = p.s.len <= s.s.len && memcmp(p.s.p, s.s.p, p.s.len) == 0;
		byte_prefix = ep.len <= es.len && memcmp(ep.p, es.p, ep.len) == 0;
		EXPECT(is_prefix == byte_prefix);
		/* and every string with that prefix sorts below succ(prefix) */
		if (keyenc_succ(&ep) == 0)
			EXPECT(omap_keycmp(es.p, es.len, ep.p, ep.len) < 0 || !is_prefix);
		keyenc_buf_free(&es);
		keyenc_buf_free(&ep);
		val_free(&s);
		val_free(&p);
	}
}
END_TEST

START_TEST(test_keyenc_succ_bounds_a_prefix)
{
	struct keyenc_buf b;

	keyenc_buf_init(&b);
	ck_assert_int_eq(keyenc_succ(&b), -ERANGE);
	ck_assert_int_eq(keyenc_buf_put(&b, "a\0\xff\xff", 4), 0);
	ck_assert_int_eq(keyenc_succ(&b), 0);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.p, "a\x01", 2);
	b.len = 0;
	ck_assert_int_eq(keyenc_buf_put(&b, "\xff\xff", 2), 0);
	ck_assert_int_eq(keyenc_succ(&b), -ERANGE);
	keyenc_buf_free(&b);
}
END_TEST

START_TEST(test_keyenc_long_keys_grow_the_buffer)
{
	struct keyenc_buf b;
	struct val v, w;
	char *big = calloc(1, 3000); /* all zeros: doubles when escaped */

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(val_init_bin(&v, big, 3000), 0);
	enc(&b, &v);
	ck_assert_uint_eq(b.len, 6002);
	ck_assert_int_eq(keyenc_decode(b.p, b.len, VAL_B, &w, NULL), 0);
	ck_assert(val_equal(&v, &w));
	val_free(&v);
	val_free(&w);
	keyenc_buf_free(&b);
	free(big);
}
END_TEST

START_TEST(test_keyenc_hash_is_stable)
{
	unsigned seen[3] = {0, 0, 0};
	char k[16];
	int i;

	/* Fixed values: scan segments must not move between versions. */
	ck_assert_uint_eq(keyenc_hash((const uint8_t *)"", 0), 0xefd01f60ba992926ULL);
	ck_assert_uint_eq(keyenc_hash((const uint8_t *)"a", 1), 0x82a2a958a9bece5bULL);
	/* Similar keys spread over segments (plain FNV left one empty). */
	for (i = 1; i <= 12; i++) {
		snprintf(k, sizeof(k), "user%02d", i);
		seen[keyenc_hash((const uint8_t *)k, 6) % 3]++;
	}
	for (i = 0; i < 3; i++)
		ck_assert_uint_gt(seen[i], 0);
}
END_TEST

Suite *keyenc_suite(void);
Suite *keyenc_suite(void)
{
	Suite *s = suite_create("keyenc");
	TCase *tc;

	tc = tcase_create("keyenc_append");
	tcase_add_test(tc, test_keyenc_escapes_zero_and_terminates);
	tcase_add_test(tc, test_keyenc_rejects_non_key_types);
	tcase_add_loop_test(tc, test_keyenc_order_matches_val_cmp, 0, 2);
	tcase_add_test(tc, test_keyenc_numbers_order_numerically);
	tcase_add_test(tc, test_keyenc_equal_numbers_encode_equal);
	tcase_add_test(tc, test_keyenc_tuples_order_lexicographically);
	tcase_add_test(tc, test_keyenc_long_keys_grow_the_buffer);
	tcase_add_test(tc, test_keyenc_hash_is_stable);
	suite_add_tcase(s, tc);

	tc = tcase_create("keyenc_decode");
	tcase_add_test(tc, test_keyenc_decode_round_trips);
	tcase_add_test(tc, test_keyenc_decode_rejects_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("keyenc_append_prefix");
	tcase_add_test(tc, test_keyenc_prefix_is_byte_prefix);
	tcase_add_test(tc, test_keyenc_succ_bounds_a_prefix);
	suite_add_tcase(s, tc);
	return s;
}
