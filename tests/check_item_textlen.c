/*
 * check_item_textlen.c - the canonical form straight from a record's
 * binary form (item_render_blob) and its length counted without rendering
 * (item_blob_text_len over the blob, item_render_len over a val tree,
 * num_format_len), each against item_render, the reference: over every
 * type and the edges of each (escapes, unicode, 38-digit and extreme
 * numbers, empty lists and maps, tag-named maps, binary of every length
 * mod 3, the deepest nesting), with one or two attributes as the keys.
 * Then the same through the table (tbl_get's meta.text_len, which a
 * listing's st_size is, and tbl_get_text), with key values that need
 * keyenc's escaping (a NUL in an S or B key) and N keys.  The random
 * items of check_item_codec and fuzz_item cover the rest.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fix_db.h"
#include "fix_item.h"
#include "item.h"
#include "keyenc.h"

/*
 * v with its first nkeys attributes as the keys: the blob of the others,
 * rendered and counted, must give item_render's bytes and length.
 */
static void assert_counts(const struct val *v, size_t nkeys)
{
	const struct val_attr *pk = &v->m.a[0], *sk = nkeys > 1 ? &v->m.a[1] : NULL;
	const char *skn = sk ? sk->name : NULL;
	const struct val *skv = sk ? &sk->v : NULL;
	struct val rest;
	uint8_t *blob;
	char *want, *got;
	size_t blen, wlen, glen, clen;

	ck_assert_int_eq(v->type, VAL_M);
	ck_assert_uint_ge(v->m.len, nkeys);
	val_init_map(&rest);
	rest.m.a = v->m.a + nkeys; /* a shallow view without the keys */
	rest.m.len = rest.m.cap = v->m.len - nkeys;
	ck_assert_int_eq(item_encode(&rest, &blob, &blen), 0);
	ck_assert_int_eq(item_render(v, pk->name, skn, &want, &wlen), 0);
	ck_assert_int_eq(item_render_blob(pk->name, &pk->v, skn, skv, blob, blen, &got, &glen), 0);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(glen, wlen);
	ck_assert_int_eq(item_blob_text_len(pk->name, &pk->v, skn, skv, blob, blen, &clen), 0);
	ck_assert_msg(clen == wlen, "counted %zu, rendered %zu:\n%s", clen, wlen, want);
	ck_assert_uint_eq(item_render_len(v, pk->name, skn), wlen);
	/* a blob cut short is refused by both */
	if (blen > 1) {
		ck_assert_int_eq(item_blob_text_len(pk->name, &pk->v, skn, skv, blob, blen - 1, &clen),
				 -EINVAL);
		ck_assert_int_eq(
		    item_render_blob(pk->name, &pk->v, skn, skv, blob, blen - 1, &got, &glen),
		    -EINVAL);
	}
	free(got);
	free(want);
	free(blob);
}

/* Items (as text) whose first attribute in name order is the key. */
static const char *const edges[] = {
    /* every escape, control characters, DEL and / as they are */
    "{\"a\": \"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0000 \\u0001 \\u001f \\u007f end\"}",
    "{\"a\": \"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\", \"b\": \"0123456\\n\", \"c\": \"01234567\\n\"}",
    "{\"a\": \"\\u0000\", \"\\n\\u0001\\\"\": \"name escapes\"}",
    /* unicode: 2, 3, 4 byte UTF-8, U+2028, U+FFFF: written as they are */
    "{\"a\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xef\xbf\xbf\", "
    "\"\xc3\xa9t\xc3\xa9\": \"x\"}",
    /* numbers: bare, quoted {"$N"}, every num_format case */
    "{\"a\": 0, \"b\": -0.5, \"c\": 1e21, \"d\": 1e20, \"e\": 123456789012345, "
    "\"f\": 1234567890123456, \"g\": 0.000001, \"h\": 0.0000001, \"i\": -1.5e-7, "
    "\"j\": 1e-130, \"k\": 9.9999999999999999999999999999999999999e125, "
    "\"l\": -12345678901234567890123456789012345678, \"m\": 1.2345e100, \"n\": 100, "
    "\"o\": 12.5, \"p\": 1e-10, \"q\": -1e+100}",
    "{\"a\": {\"$NS\": [1, -2.5, 1e-130, 12345678901234567890123456789012345678, 1e21]}}",
    /* sets */
    "{\"a\": {\"$SS\": [\"\", \"\\\"\", \"x\\u0000y\", \"\xc3\xa9\"]}, "
    "\"b\": {\"$BS\": [\"\", \"AA==\", \"AAE=\", \"AAEC\", \"AAECAw==\"]}}",
    /* binary of lengths 0..5 */
    "{\"a\": {\"$B\": \"\"}, \"b\": {\"$B\": \"AA==\"}, \"c\": {\"$B\": \"AAE=\"}, "
    "\"d\": {\"$B\": \"AAEC\"}, \"e\": {\"$B\": \"AAECAw==\"}, \"f\": {\"$B\": \"AAECAwQ=\"}}",
    /* empty containers, null, booleans */
    "{\"a\": [], \"b\": {}, \"c\": [[], {}, [[]]], \"d\": {\"e\": {}}, \"n\": null, "
    "\"t\": true, \"u\": false}",
    /* maps named like tags, wrapped in "$M" at every level */
    "{\"a\": {\"$M\": {\"$N\": \"x\"}}, \"b\": [{\"$M\": {\"$SS\": [{\"$M\": {\"$B\": 1}}]}}], "
    "\"c\": {\"$M\": {\"$M\": {\"$M\": {\"$NS\": null}}}}}",
    "{\"a\": {\"$N\": \"12345678901234567890\"}, \"b\": {\"$N\": \"-1e-130\"}}",
    /* lists of everything */
    "{\"a\": [1, \"s\", null, true, {\"$B\": \"AA==\"}, {\"$SS\": [\"x\"]}, [2, [3]], "
    "{\"k\": [4, {}]}]}",
    /* the deepest nesting an item may have */
    "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"x\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": {\"h\": {\"i\": {\"j\": "
    "[{\"k\": [{\"l\": 1}]}]}}}}}}}}}}",
    /* only a key, and a key named like a tag */
    "{\"a\": \"only\"}",
    "{\"$M\": {\"$N\": \"tag-named key\"}}",
    "{\"$M\": {\"$M\": 5}}",
    "{\"$M\": {\"$B\": {\"$B\": \"AAE=\"}}}",
    "{\"$M\": {\"$SS\": 1, \"b\": 2}}",
};

START_TEST(test_counts_edges)
{
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		struct val v = parse_ok(edges[i]);

		assert_counts(&v, 1);
		if (v.m.len > 1)
			assert_counts(&v, 2);
		val_free(&v);
	}
}
END_TEST

/* Key values of every type and edge (the keys are rendered from vals). */
START_TEST(test_counts_key_values)
{
	static const char *const keys[] = {
	    "\"plain\"", "\"q\\\"\\\\\\n\\u0000\xc3\xa9\"", "0", "-1.5e-7", "1e21",
	    "12345678901234567890123456789012345678", "{\"$B\": \"\"}", "{\"$B\": \"AAECAw==\"}",
	};
	char text[512];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
			struct val v;

			snprintf(text, sizeof(text), "{\"a\": %s, \"b\": %s, \"c\": [1, {\"d\": 2}]}",
				 keys[i], keys[j]);
			v = parse_ok(text);
			assert_counts(&v, 1);
			assert_counts(&v, 2);
			val_free(&v);
			snprintf(text, sizeof(text), "{\"a\": %s, \"b\": %s}", keys[i], keys[j]);
			v = parse_ok(text);
			assert_counts(&v, 2);
			val_free(&v);
		}
}
END_TEST

/* Strings of every length up to 40 with an escape at every position:
 * string_text_len's eight-at-a-time scan and its tail. */
START_TEST(test_counts_escape_positions)
{
	static const char esc[] = {'"', '\\', '\n', 0, 1, 0x1f, 'x', (char)0xc3};
	char s[48], *want;
	size_t wlen;

	for (size_t n = 0; n <= 40; n++)
		for (size_t at = 0; at <= n; at++)
			for (size_t e = 0; e < sizeof(esc); e++) {
				struct val v, x;

				memset(s, 'a', n);
				if (at < n)
					s[at] = esc[e];
				if (at < n && esc[e] == (char)0xc3) {
					if (at + 1 >= n)
						continue;
					s[at + 1] = (char)0xa9; /* é */
				}
				val_init_map(&v);
				ck_assert_int_eq(val_init_str(&x, "k", 1), 0);
				ck_assert_int_eq(val_map_set(&v, "a", 1, &x), 0);
				ck_assert_int_eq(val_init_str(&x, s, n), 0);
				ck_assert_int_eq(val_map_set(&v, "s", 1, &x), 0);
				assert_counts(&v, 1);
				ck_assert_int_eq(item_render(&v, "a", NULL, &want, &wlen), 0);
				ck_assert_uint_eq(item_render_len(&v, "a", NULL), wlen);
				free(want);
				val_free(&v);
			}
}
END_TEST

/* num_format_len is num_format's length for every digit count and
 * exponent (with both signs). */
START_TEST(test_num_format_len_matches)
{
	char buf[NUM_TEXT_MAX];
	struct num n;

	num_zero(&n);
	ck_assert_uint_eq(num_format_len(&n), num_format(&n, buf));
	for (int k = 1; k <= NUM_MAX_DIGITS; k++)
		for (int e = -129; e <= 126; e++)
			for (int neg = 0; neg < 2; neg++) {
				num_zero(&n);
				n.ndigits = (uint8_t)k;
				n.exp = (int16_t)e;
				n.neg = (uint8_t)neg;
				for (int i = 0; i < k; i++)
					n.digit[i] = (uint8_t)(1 + (i * 7 + e + 130) % 9);
				ck_assert_msg(num_format_len(&n) == num_format(&n, buf),
					      "k=%d e=%d neg=%d: %s", k, e, neg, buf);
			}
}
END_TEST

/* keyenc_view gives keyenc_decode's value without a copy, or says 1 when
 * the value holds an escaped zero. */
START_TEST(test_keyenc_view)
{
	struct keyenc_buf b;
	struct val v, w;
	size_t used, used2;
	const struct val *cases[] = {vs("abc"), vn("-1.5e-7"), vn("0"), vb("\x01\x02", 2),
				     vn("12345678901234567890123456789012345678")};

	keyenc_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.len = 0;
		ck_assert_int_eq(keyenc_append(&b, cases[i]), 0);
		ck_assert_int_eq(keyenc_append(&b, vs("next")), 0);
		ck_assert_int_eq(keyenc_view(b.p, b.len, cases[i]->type, &v, &used), 0);
		ck_assert_int_eq(keyenc_decode(b.p, b.len, cases[i]->type, &w, &used2), 0);
		ck_assert(val_equal(&v, &w));
		ck_assert(val_equal(&v, cases[i]));
		ck_assert_uint_eq(used, used2);
		val_free(&w);
	}
	b.len = 0;
	ck_assert_int_eq(keyenc_append(&b, vs("a")), 0);
	b.p[0] = 0; /* not a component any more */
	ck_assert_int_eq(keyenc_view(b.p, b.len, VAL_S, &v, NULL), -EINVAL);
	b.len = 0;
	ck_assert_int_eq(keyenc_append(&b, vb("a\0b", 3)), 0);
	ck_assert_int_eq(keyenc_view(b.p, b.len, VAL_B, &v, NULL), 1);
	keyenc_buf_free(&b);
}
END_TEST

/*
 * Through the table: meta.text_len (counted, before anything rendered
 * the item), then tbl_get_text (rendered from the record) against
 * item_render of the item as put.  The teardown's integrity check
 * compares the count and the rendering of every record again.
 */
static void assert_table_counts(table_t *t, const char *pkn, const char *skn, struct val *item,
				const struct val *pk, const struct val *sk)
{
	struct item_meta meta;
	char *text, *want;
	size_t len, wlen;

	ck_assert_int_eq(tbl_put(t, item, 0, NULL), 0);
	ck_assert_int_eq(item_render(item, pkn, skn, &want, &wlen), 0);
	ck_assert_int_eq(tbl_get(t, pk, sk, NULL, &meta), 0);
	ck_assert_msg(meta.text_len == wlen, "counted %zu, rendered %zu:\n%s", meta.text_len, wlen,
		      want);
	ck_assert_int_eq(tbl_get_text(t, pk, sk, &text, &len, &meta), 0);
	ck_assert_str_eq(text, want);
	ck_assert_uint_eq(len, wlen);
	ck_assert_uint_eq(meta.text_len, wlen);
	free(text);
	free(want);
}

/* A kept S value of n bytes (NUL allowed). */
static const struct val *vsn(const char *p, size_t n)
{
	struct val *v = keep();

	ck_assert_int_eq(val_init_str(v, p, n), 0);
	return v;
}

START_TEST(test_table_counts_escaped_keys)
{
	/* an S key with NUL inside (keyenc escapes it), quotes and unicode */
	assert_table_counts(tu, "username", NULL,
			    J("{\"username\": \"a\\u0000b\\\"\xc3\xa9\", \"x\": [1, {\"y\": null}]}"),
			    vsn("a\0b\"\xc3\xa9", 6), NULL);
	assert_table_counts(tq, "id#level", "week",
			    J("{\"id#level\": \"\\u0000\", \"week\": \"w\\u0000\", "
			      "\"s\": {\"$SS\": [\"a\"]}}"),
			    vsn("\0", 1), vsn("w\0", 2));
	assert_table_counts(tq, "id#level", "week",
			    J("{\"id#level\": \"p\", \"week\": \"w\\u0000\"}"), vs("p"),
			    vsn("w\0", 2));
}
END_TEST

START_TEST(test_table_counts_number_and_binary_keys)
{
	static const char *const nums[] = {"0", "-1.5e-7", "1e21", "1e-130",
					   "12345678901234567890123456789012345678", "-0.5"};
	char text[256];

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(text, sizeof(text), "{\"p\": \"x\", \"n\": %s, \"v\": %zu}", nums[i], i);
		assert_table_counts(tn, "p", "n", J("%s", text), vs("x"), vn(nums[i]));
	}
	/* B sort keys, one with a zero byte (escaped in the key) */
	assert_table_counts(tb, "p", "b", J("{\"p\": \"y\", \"b\": {\"$B\": \"AAE=\"}, \"z\": 1}"),
			    vs("y"), vb("\0\1", 2));
	assert_table_counts(tb, "p", "b", J("{\"p\": \"y\", \"b\": {\"$B\": \"AQ==\"}}"), vs("y"),
			    vb("\1", 1));
}
END_TEST

Suite *item_textlen_suite(void);
Suite *item_textlen_suite(void)
{
	Suite *s = suite_create("item_textlen");
	TCase *tc;

	tc = tcase_create("item_blob_text_len");
	tcase_add_test(tc, test_counts_edges);
	tcase_add_test(tc, test_counts_key_values);
	tcase_add_test(tc, test_counts_escape_positions);
	tcase_add_test(tc, test_num_format_len_matches);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = fix_db_tcase(s, "rec_text_len");
	tcase_add_test(tc, test_keyenc_view);
	tcase_add_test(tc, test_table_counts_escaped_keys);
	tcase_add_test(tc, test_table_counts_number_and_binary_keys);
	return s;
}
