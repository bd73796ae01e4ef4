/*
 * check_item.c - the item codec: document JSON parsing (every rejection
 * rule, with position and path), canonical and compact rendering (byte
 * for byte), tags, Unicode, base64, DynamoDB's size and depth limits, the
 * binary form, and round-trip properties over a seeded random generator
 * of items covering all ten types.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

/* ---- helpers ---- */

static struct val parse_ok(const char *text)
{
	struct dyn_err e;
	struct val v;
	int rc;

	err_clear(&e);
	rc = item_parse_value(text, strlen(text), &v, &e);
	ck_assert_msg(rc == 0, "parse failed: %s (line %d, col %d) for %s", e.msg, e.line, e.col,
		      text);
	ck_assert_int_eq(val_check(&v, NULL), 0);
	return v;
}

/* Parse text expecting failure with errno code, message part, position and path. */
static void assert_fails_with(int (*fn)(const char *, size_t, struct val *, struct dyn_err *),
			      const char *text, int code, const char *msg, int line, int col,
			      const char *path)
{
	struct dyn_err e;
	struct val v;
	int rc;

	err_clear(&e);
	v.type = VAL_BOOL;
	rc = fn(text, strlen(text), &v, &e);
	ck_assert_msg(rc == -code, "rc %d for %s", rc, text);
	ck_assert_int_eq(e.code, code);
	ck_assert_int_eq(v.type, VAL_NULL);
	ck_assert_msg(strstr(e.msg, msg), "message \"%s\" lacks \"%s\"", e.msg, msg);
	if (line) {
		ck_assert_msg(e.line == line && e.col == col, "%s at line %d col %d, want %d:%d",
			      e.msg, e.line, e.col, line, col);
	}
	if (path)
		ck_assert_str_eq(e.path, path);
}

static void assert_fails(const char *text, const char *msg, int line, int col, const char *path)
{
	assert_fails_with(item_parse_value, text, EINVAL, msg, line, col, path);
}

static char *render(const struct val *v, const char *pk, const char *sk)
{
	char *out;
	size_t len;

	ck_assert_int_eq(item_render(v, pk, sk, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	return out;
}

static char *render_compact(const struct val *v)
{
	char *out;
	size_t len;

	ck_assert_int_eq(item_render_compact(v, NULL, NULL, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	return out;
}

static void assert_renders(const char *in, const char *pk, const char *sk, const char *want)
{
	struct val v = parse_ok(in);
	char *out = render(&v, pk, sk);

	ck_assert_str_eq(out, want);
	free(out);
	val_free(&v);
}

static void assert_compact(const char *in, const char *want)
{
	struct val v = parse_ok(in);
	char *out = render_compact(&v);

	ck_assert_str_eq(out, want);
	free(out);
	val_free(&v);
}

/* ---- canonical rendering ---- */

static const char canonical_example[] = "{\n"
					"  \"id\": \"hedy\",\n"
					"  \"week\": 7,\n"
					"  \"big\": {\"$N\": \"12345678901234567890\"},\n"
					"  \"bin\": {\"$B\": \"AAE=\"},\n"
					"  \"empty\": {},\n"
					"  \"level\": 3,\n"
					"  \"nothing\": null,\n"
					"  \"ok\": true,\n"
					"  \"scores\": [\n"
					"    95,\n"
					"    -0.5,\n"
					"    {\"$NS\": [1, 2, \"12345678901234567\"]},\n"
					"    []\n"
					"  ],\n"
					"  \"tags\": {\"$SS\": [\"a\", \"b\"]},\n"
					"  \"weird\": {\n"
					"    \"$M\": {\n"
					"      \"$N\": \"not a number\"\n"
					"    }\n"
					"  },\n"
					"  \"z\": {\n"
					"    \"a\": {\"$BS\": [\"\", \"AA==\"]},\n"
					"    \"b\": \"x\"\n"
					"  }\n"
					"}\n";

START_TEST(test_render_canonical_example)
{
	static const char messy[] =
	    "{\"z\":{\"b\":\"x\",\"a\":{\"$BS\":[\"AA\",\"\"]}},\"weird\":{\"$M\":{\"$N\":\"not a "
	    "number\"}},\"tags\":{\"$SS\":[\"b\",\"a\"]},\"scores\":[95,-5e-1,{\"$NS\":"
	    "[\"12345678901234567\",2,1.0]},[]],\"ok\":true,\"nothing\":null,\"level\":3.0,"
	    "\"empty\":{},\"bin\":{\"$B\":\"AAE\"},\"big\":12345678901234567890,"
	    "\"week\":7,\"id\":\"hedy\"}";

	assert_renders(messy, "id", "week", canonical_example);
}
END_TEST

START_TEST(test_render_canonical_is_fixed_point)
{
	assert_renders(canonical_example, "id", "week", canonical_example);
}
END_TEST

START_TEST(test_render_puts_keys_first)
{
	assert_renders("{\"b\": 1, \"a\": 2, \"pk\": 3, \"sk\": 4}", "pk", "sk",
		       "{\n  \"pk\": 3,\n  \"sk\": 4,\n  \"a\": 2,\n  \"b\": 1\n}\n");
	assert_renders("{\"b\": 1, \"a\": 2}", "missing", "b", "{\n  \"b\": 1,\n  \"a\": 2\n}\n");
	assert_renders("{\"b\": 1, \"a\": 2}", NULL, NULL, "{\n  \"a\": 2,\n  \"b\": 1\n}\n");
	assert_renders("{}", "id", NULL, "{}\n");
}
END_TEST

START_TEST(test_render_orders_names_by_bytes)
{
	assert_renders("{\"\\u00e9\": 1, \"b\": 2, \"B\": 3, \"ab\": 4, \"a\": 5, \"\": 6}", NULL,
		       NULL,
		       "{\n  \"\": 6,\n  \"B\": 3,\n  \"a\": 5,\n  \"ab\": 4,\n  \"b\": 2,\n"
		       "  \"\xc3\xa9\": 1\n}\n");
}
END_TEST

START_TEST(test_render_non_map_has_no_newline)
{
	assert_renders("\"x\"", NULL, NULL, "\"x\"");
	assert_renders("[1, [true]]", NULL, NULL, "[\n  1,\n  [\n    true\n  ]\n]");
	assert_renders("{\"$B\": \"\"}", NULL, NULL, "{\"$B\": \"\"}");
	assert_renders("-0", NULL, NULL, "0");
}
END_TEST

START_TEST(test_render_numbers_bare_only_when_exact_in_double)
{
	assert_renders("[1.0, 1e2, 0.1, 123456789012345, 1234567890123456, 1e-130, "
		       "-9.9999999999999999999999999999999999999e125, 1e21, 0.0000001]",
		       NULL, NULL,
		       "[\n  1,\n  100,\n  0.1,\n  123456789012345,\n"
		       "  {\"$N\": \"1234567890123456\"},\n  1e-130,\n"
		       "  {\"$N\": \"-9.9999999999999999999999999999999999999e+125\"},\n"
		       "  1e+21,\n  1e-7\n]");
}
END_TEST

START_TEST(test_render_escapes_controls_only)
{
	assert_renders("\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\\u0001\\u001F\\u007f\\u00e9\\u2028\"",
		       NULL, NULL,
		       "\"a\\\"b\\\\c/d\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\xc3\xa9\xe2\x80\xa8\"");
	assert_renders("\"nul\\u0000byte\"", NULL, NULL, "\"nul\\u0000byte\"");
}
END_TEST

START_TEST(test_render_compact_is_one_line)
{
	assert_compact("{ \"b\" : [ 1 , {\"x\": null} ], \"a\": {\"$SS\": [\"q\", \"p\"]} }",
		       "{\"a\":{\"$SS\":[\"p\",\"q\"]},\"b\":[1,{\"x\":null}]}");
	assert_compact(
	    "{\"m\": {\"$M\": {\"$B\": \"AAE=\"}}, \"n\": {\"$N\": \"1.234567890123456e115\"}}",
	    "{\"m\":{\"$M\":{\"$B\":\"AAE=\"}},\"n\":{\"$N\":\"1.234567890123456e+115\"}}");
}
END_TEST

START_TEST(test_render_compact_puts_keys_first)
{
	struct val v = parse_ok("{\"b\": 1, \"a\": 2, \"k\": 3}");
	char *out;
	size_t len;

	ck_assert_int_eq(item_render_compact(&v, "k", "b", &out, &len), 0);
	ck_assert_str_eq(out, "{\"k\":3,\"b\":1,\"a\":2}");
	free(out);
	val_free(&v);
}
END_TEST

/* Appending gives the same bytes after what the buffer held, with or
 * without a buffer to start from, and through a growth of the buffer. */
START_TEST(test_render_compact_append)
{
	struct val v = parse_ok("{\"b\": [1, \"x\"], \"a\": {\"$SS\": [\"q\", \"p\"]}, \"k\": 3}");
	char *want, *buf = NULL;
	size_t wlen, len = 0, cap = 0;
	int i;

	ck_assert_int_eq(item_render_compact(&v, "k", NULL, &want, &wlen), 0);
	ck_assert_int_eq(item_render_compact_append(&v, "k", NULL, &buf, &len, &cap), 0);
	ck_assert_uint_eq(len, wlen);
	ck_assert_str_eq(buf, want);
	for (i = 1; i < 100; i++) {
		ck_assert_int_eq(item_render_compact_append(&v, "k", NULL, &buf, &len, &cap), 0);
		ck_assert_uint_eq(len, wlen * (size_t)(i + 1));
		ck_assert_uint_le(len + 1, cap);
		ck_assert_int_eq(buf[len], 0);
		ck_assert_mem_eq(buf + len - wlen, want, wlen);
	}
	ck_assert_mem_eq(buf, want, wlen);
	free(buf);
	free(want);
	val_free(&v);
}
END_TEST

/* ---- tags ---- */

START_TEST(test_tag_with_other_keys_is_plain_map)
{
	struct val v = parse_ok("{\"$N\": \"5\", \"x\": 1}");

	ck_assert_int_eq(v.type, VAL_M);
	ck_assert_int_eq(val_map_get(&v, "$N", 2)->type, VAL_S);
	val_free(&v);
	v = parse_ok("{\"$SS\": [1, 1], \"$B\": \"!!\"}");
	ck_assert_int_eq(v.type, VAL_M);
	ck_assert_int_eq(val_map_get(&v, "$SS", 3)->type, VAL_L);
	val_free(&v);
}
END_TEST

START_TEST(test_tag_m_content_is_literal)
{
	struct val v = parse_ok("{\"$M\": {\"$B\": \"not base64!\"}}");
	char *out;

	ck_assert_int_eq(v.type, VAL_M);
	ck_assert_uint_eq(v.m.len, 1);
	ck_assert_int_eq(val_map_get(&v, "$B", 2)->type, VAL_S);
	out = render(&v, NULL, NULL);
	ck_assert_str_eq(out, "{\n  \"$M\": {\n    \"$B\": \"not base64!\"\n  }\n}\n");
	free(out);
	val_free(&v);
}
END_TEST

START_TEST(test_tag_m_wrapping_nests)
{
	/* A map whose only key is "$M", holding a map whose only key is "$N". */
	struct val v = parse_ok("{\"$M\": {\"$M\": {\"$M\": {\"$N\": 1}}}}");
	struct val *inner;

	ck_assert_int_eq(v.type, VAL_M);
	inner = val_map_get(&v, "$M", 2);
	ck_assert_ptr_nonnull(inner);
	ck_assert_int_eq(inner->type, VAL_M);
	ck_assert_int_eq(val_map_get(inner, "$N", 2)->type, VAL_N);
	assert_renders("{\"$M\": {\"$M\": {\"$M\": {\"$N\": 1}}}}", NULL, NULL,
		       "{\n  \"$M\": {\n    \"$M\": {\n      \"$M\": {\n        \"$N\": 1\n"
		       "      }\n    }\n  }\n}\n");
	val_free(&v);
}
END_TEST

START_TEST(test_tag_m_first_key_with_others)
{
	struct val v = parse_ok("{\"$M\": {\"$N\": \"7\"}, \"x\": 1}");

	ck_assert_int_eq(val_map_get(&v, "$M", 2)->type, VAL_N);
	val_free(&v);
}
END_TEST

START_TEST(test_tag_n_accepts_string_or_number)
{
	struct val v = parse_ok("{\"$N\": \"007.50\"}"), w = parse_ok("{\"$N\": 7.5}");

	ck_assert_int_eq(v.type, VAL_N);
	ck_assert(val_equal(&v, &w));
	val_free(&v);
	v = parse_ok("{\"$N\": \"+1E+2\"}");
	w = parse_ok("100");
	ck_assert(val_equal(&v, &w));
}
END_TEST

START_TEST(test_tag_ns_accepts_strings_and_numbers)
{
	struct val v = parse_ok("{\"$NS\": [\"3\", 1, \"2.0\"]}");

	ck_assert_int_eq(v.type, VAL_NS);
	ck_assert_uint_eq(v.l.len, 3);
	ck_assert_int_eq(val_check(&v, NULL), 0);
	val_free(&v);
}
END_TEST

START_TEST(test_tag_sets_are_sorted)
{
	assert_renders("{\"$SS\": [\"b\", \"\\u00e9\", \"a\", \"\"]}", NULL, NULL,
		       "{\"$SS\": [\"\", \"a\", \"b\", \"\xc3\xa9\"]}");
	assert_renders("{\"$NS\": [10, 9, -1, 0.5]}", NULL, NULL, "{\"$NS\": [-1, 0.5, 9, 10]}");
	assert_renders("{\"$BS\": [\"gA==\", \"fw==\", \"fwA=\"]}", NULL, NULL,
		       "{\"$BS\": [\"fw==\", \"fwA=\", \"gA==\"]}");
}
END_TEST

/* ---- Unicode and binary ---- */

START_TEST(test_parse_unicode_escapes)
{
	struct val v = parse_ok("\"\\u00e9\\u20AC\\ud83d\\ude00x\"");

	ck_assert_int_eq(v.type, VAL_S);
	ck_assert_str_eq(v.s.p, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x");
	ck_assert_uint_eq(v.s.len, 10);
	val_free(&v);
}
END_TEST

START_TEST(test_parse_raw_multibyte)
{
	struct val v = parse_ok("{\"\xe5\x90\x8d\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
	struct val *s = val_map_get(&v, "\xe5\x90\x8d", 3);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->s.p, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	val_free(&v);
}
END_TEST

START_TEST(test_parse_string_with_nul_escape)
{
	struct val v = parse_ok("\"a\\u0000b\"");

	ck_assert_uint_eq(v.s.len, 3);
	ck_assert_int_eq(memcmp(v.s.p, "a\0b", 4), 0);
	val_free(&v);
}
END_TEST

START_TEST(test_parse_long_string_fast_path)
{
	size_t n = 100000;
	char *text = malloc(n + 3);
	struct val v;

	text[0] = '"';
	for (size_t i = 1; i <= n; i++)
		text[i] = (char)('a' + i % 26);
	text[n + 1] = '"';
	text[n + 2] = 0;
	v = parse_ok(text);
	ck_assert_uint_eq(v.s.len, n);
	ck_assert_int_eq(memcmp(v.s.p, text + 1, n), 0);
	val_free(&v);
	free(text);
}
END_TEST

START_TEST(test_parse_binary_forms)
{
	struct val a = parse_ok("{\"$B\": \"+/8=\"}"), b = parse_ok("{\"$B\": \"-_8\"}");

	ck_assert_int_eq(a.type, VAL_B);
	ck_assert_uint_eq(a.s.len, 2);
	ck_assert_int_eq((uint8_t)a.s.p[0], 0xfb);
	ck_assert_int_eq((uint8_t)a.s.p[1], 0xff);
	ck_assert(val_equal(&a, &b));
	val_free(&a);
	val_free(&b);
	a = parse_ok("{\"$B\": \"\"}");
	ck_assert_uint_eq(a.s.len, 0);
	val_free(&a);
}
END_TEST

START_TEST(test_b64_encode_forms)
{
	char buf[16];

	ck_assert_uint_eq(b64_encoded_len(0, false), 0);
	ck_assert_uint_eq(b64_encoded_len(1, false), 4);
	ck_assert_uint_eq(b64_encoded_len(1, true), 2);
	ck_assert_uint_eq(b64_encoded_len(5, true), 7);
	ck_assert_uint_eq(b64_encode("\xfb\xff", 2, buf, false), 4);
	ck_assert_str_eq(buf, "+/8=");
	ck_assert_uint_eq(b64_encode("\xfb\xff", 2, buf, true), 3);
	ck_assert_str_eq(buf, "-_8");
	ck_assert_uint_eq(b64_encode("", 0, buf, false), 0);
	ck_assert_str_eq(buf, "");
	b64_encode("hello", 5, buf, false);
	ck_assert_str_eq(buf, "aGVsbG8=");
}
END_TEST

START_TEST(test_b64_decode_rejects_garbage)
{
	static const char *const bad[] = {
	    "A",	"AAAAA", "A===",   "AA=",  "AA=A",
	    "====",	"AA AA", "AA\nAA", "AA*A", "+-AA", /* mixed alphabets */
	    "AB==",					   /* non-zero unused bits */
	    "AAB",					   /* non-zero unused bits, unpadded */
	    "AAAA====",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *out = NULL;
		size_t len;

		ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), &out, &len) == -EINVAL, "%s",
			      bad[i]);
	}
}
END_TEST

START_TEST(test_b64_round_trips_all_lengths)
{
	uint8_t in[64];
	char enc[100];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		for (int url = 0; url < 2; url++) {
			uint8_t *out;
			size_t len, elen = b64_encode(in, n, enc, url);

			ck_assert_uint_eq(elen, b64_encoded_len(n, url));
			ck_assert_int_eq(b64_decode(enc, elen, &out, &len), 0);
			ck_assert_uint_eq(len, n);
			ck_assert_int_eq(memcmp(out, in, n), 0);
			free(out);
		}
	}
}
END_TEST

/* ---- rejection rules, one each ---- */

START_TEST(test_parse_rejects_empty_document)
{
	assert_fails("", "empty document", 1, 1, "");
	assert_fails(" \n ", "empty document", 2, 2, "");
}
END_TEST

START_TEST(test_parse_rejects_trailing_text)
{
	assert_fails("{\"a\": 1} x", "unexpected text after the JSON value", 1, 10, "");
}
END_TEST

START_TEST(test_parse_rejects_trailing_comma)
{
	assert_fails("{\"a\": [1, 2,]}", "trailing comma", 1, 12, "a");
	assert_fails("{\"a\": 1,\n}", "trailing comma", 1, 8, "");
}
END_TEST

START_TEST(test_parse_rejects_missing_colon)
{
	assert_fails("{\"a\" 1}", "expected ':'", 1, 6, "");
}
END_TEST

START_TEST(test_parse_rejects_missing_comma)
{
	assert_fails("{\"a\": [1\n 2]}", "expected ',' or ']'", 2, 2, "a");
	assert_fails("{\"a\": 1 \"b\": 2}", "expected ',' or '}'", 1, 9, "");
}
END_TEST

START_TEST(test_parse_rejects_bare_words)
{
	assert_fails("{\"a\": tru}", "unexpected 't'", 1, 7, "a");
	assert_fails("{\"a\": 'x'}", "unexpected '''", 1, 7, "a");
	assert_fails("{a: 1}", "expected a string (attribute name)", 1, 2, "");
}
END_TEST

START_TEST(test_parse_rejects_unterminated)
{
	assert_fails("{\"a\": \"xyz", "unterminated string", 1, 7, "a");
	assert_fails("{\"a\": [1", "unexpected end of input", 1, 9, "a");
	assert_fails("{\"a\": ", "unexpected end of input", 1, 7, "a");
}
END_TEST

START_TEST(test_parse_rejects_nan_and_infinity)
{
	assert_fails("{\"a\": NaN}", "NaN and Infinity", 1, 7, "a");
	assert_fails("{\"a\": Infinity}", "NaN and Infinity", 1, 7, "a");
	assert_fails("{\"a\": -Infinity}", "NaN and Infinity", 1, 7, "a");
	assert_fails("{\"a\": {\"$N\": \"NaN\"}}", "NaN and Infinity", 1, 14, "a");
}
END_TEST

START_TEST(test_parse_rejects_leading_zeros)
{
	assert_fails("{\"a\": 007}", "leading zeros", 1, 7, "a");
}
END_TEST

START_TEST(test_parse_rejects_bad_number_syntax)
{
	assert_fails("[1.]", "expected a digit after '.'", 1, 4, "[0]");
	assert_fails("[1e]", "expected a digit in the exponent", 1, 4, "[0]");
	assert_fails("[-]", "expected a digit after '-'", 1, 2, "[0]");
	assert_fails("[+1]", "unexpected '+'", 1, 2, "[0]");
	assert_fails("[.5]", "unexpected '.'", 1, 2, "[0]");
}
END_TEST

START_TEST(test_parse_rejects_39_digit_number)
{
	assert_fails("{\"n\": 1234567890123456789012345678901234567891}",
		     "number has more than 38 significant digits", 1, 7, "n");
}
END_TEST

START_TEST(test_parse_rejects_number_out_of_range)
{
	assert_fails("{\"n\": [1e126]}", "Number overflow", 1, 8, "n[0]");
	assert_fails("{\"n\": [-1e-131]}", "Number underflow", 1, 8, "n[0]");
}
END_TEST

START_TEST(test_parse_rejects_control_character)
{
	assert_fails("{\"a\": \"x\ty\"}", "unescaped control character 0x09 in string", 1, 9, "a");
}
END_TEST

START_TEST(test_parse_rejects_invalid_utf8)
{
	assert_fails("{\"a\": \"ok \xff\"}", "invalid UTF-8", 1, 11, "a");
	assert_fails("{\"a\": \"\xc0\xaf\"}", "invalid UTF-8", 1, 8, "a");
	assert_fails("{\"a\": \"\xed\xa0\x80\"}", "invalid UTF-8", 1, 8, "a");
	assert_fails("{\"a\": \"\xf4\x90\x80\x80\"}", "invalid UTF-8", 1, 8, "a");
	assert_fails("{\"\xe9\": 1}", "invalid UTF-8", 1, 3, "");
}
END_TEST

START_TEST(test_parse_rejects_lone_surrogate)
{
	assert_fails("{\"a\": \"x\\ud800\"}", "lone surrogate \\uD800", 1, 9, "a");
	assert_fails("{\"a\": \"\\udc00\"}", "lone surrogate \\uDC00", 1, 8, "a");
	assert_fails("{\"a\": \"\\ud800\\u0041\"}", "lone surrogate", 1, 8, "a");
}
END_TEST

START_TEST(test_parse_rejects_bad_escape)
{
	assert_fails("{\"a\": \"\\x41\"}", "invalid escape", 1, 8, "a");
	assert_fails("{\"a\": \"\\u12g4\"}", "invalid \\u escape", 1, 8, "a");
	assert_fails("{\"a\": \"\\u12\"}", "invalid \\u escape", 1, 8, "a");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_attribute)
{
	assert_fails("{\n  \"level\": 1,\n  \"a\": 2,\n  \"level\": 3\n}",
		     "duplicate attribute \"level\"", 4, 3, "");
}
END_TEST

/*
 * Unsorted members (item_parse.c sort_names: 8-byte prefixes decide most
 * comparisons): names that share 8 or more bytes, prefixes of each other,
 * bytes >= 0x80; the result is in byte order, and a duplicate among them
 * is reported at its second occurrence.
 */
START_TEST(test_parse_sorts_unsorted_names)
{
	static const char *names[] = {"abcdefghZ", "abcdefgh", "abcdefghA", "b", "abcdefg",
				      "\u00e9t\u00e9", "abcdefghAA", "", "a", "zz", "abcdefgi",
				      "ab"};
	static const char *want[] = {"", "a", "ab", "abcdefg", "abcdefgh", "abcdefghA",
				     "abcdefghAA", "abcdefghZ", "abcdefgi", "b", "zz",
				     "\xc3\xa9t\xc3\xa9"};
	char text[600], *p = text;
	struct val v;
	size_t i, n = sizeof(names) / sizeof(names[0]);

	p += sprintf(p, "{");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"%s\": %zu", i ? ", " : "", names[i], i);
	sprintf(p, "}");
	ck_assert_int_eq(item_parse(text, strlen(text), &v, NULL), 0);
	ck_assert_uint_eq(v.m.len, n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(v.m.a[i].name, want[i]);
	val_free(&v);
	assert_fails("{\"abcdefghij\": 1, \"abcdefgh\": 2, \"abcdefghij\": 3}",
		     "duplicate attribute \"abcdefghij\"", 1, 34, "");
	/* only the first member out of place (keys first, as rendered) */
	ck_assert_int_eq(item_parse("{\"m\": 1, \"a\": 2, \"b\": 3, \"z\": 4}", 32, &v, NULL), 0);
	ck_assert_str_eq(v.m.a[0].name, "a");
	ck_assert_str_eq(v.m.a[1].name, "b");
	ck_assert_str_eq(v.m.a[2].name, "m");
	ck_assert_str_eq(v.m.a[3].name, "z");
	val_free(&v);
	assert_fails("{\"m\": 1, \"a\": 2, \"m\": 3}", "duplicate attribute \"m\"", 1, 18, "");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_in_nested_map)
{
	assert_fails("{\"x\": [0, {\"b\": 1, \"a\": 2, \"b\": 3, \"a\": 4}]}",
		     "duplicate attribute \"b\"", 1, 28, "x[1]");
}
END_TEST

START_TEST(test_parse_rejects_nul_in_name)
{
	assert_fails("{\"a\\u0000b\": 1}", "attribute name contains a NUL", 1, 2, "");
}
END_TEST

START_TEST(test_parse_rejects_empty_set)
{
	assert_fails("{\"s\": {\"$SS\": []}}", "set \"$SS\" is empty", 1, 15, "s");
	assert_fails("{\"s\": {\"$NS\": [ ]}}", "set \"$NS\" is empty", 1, 15, "s");
	assert_fails("{\"s\": {\"$BS\": []}}", "set \"$BS\" is empty", 1, 15, "s");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_string_element)
{
	assert_fails("{\"s\": {\"$SS\": [\"x\", \"y\", \"x\"]}}",
		     "duplicate element \"x\" in string set", 1, 26, "s");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_number_element)
{
	assert_fails("{\"s\": {\"$NS\": [1, 2, \"1.0\"]}}", "duplicate element 1 in number set", 1,
		     22, "s");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_binary_element)
{
	assert_fails("{\"s\": {\"$BS\": [\"AAE=\", \"AAE\"]}}",
		     "duplicate element \"AAE=\" in binary set", 1, 24, "s");
}
END_TEST

START_TEST(test_parse_rejects_mixed_set)
{
	assert_fails("{\"s\": {\"$SS\": [\"a\", 1]}}", "\"$SS\" elements must be strings", 1, 21,
		     "s");
	assert_fails("{\"s\": {\"$NS\": [1, true]}}", "\"$NS\" elements must be numbers", 1, 19,
		     "s");
	assert_fails("{\"s\": {\"$BS\": [[]]}}", "\"$BS\" elements must be base64", 1, 16, "s");
	assert_fails("{\"s\": {\"$NS\": [\"one\"]}}", "invalid number \"one\"", 1, 16, "s");
}
END_TEST

START_TEST(test_parse_rejects_set_without_array)
{
	assert_fails("{\"s\": {\"$SS\": \"a\"}}", "\"$SS\" needs an array", 1, 15, "s");
}
END_TEST

START_TEST(test_parse_rejects_bad_base64)
{
	assert_fails("{\"b\": {\"$B\": \"AA=A\"}}", "invalid base64 in \"$B\"", 1, 14, "b");
	assert_fails("{\"b\": {\"$BS\": [\"AAAA\", \"%%\"]}}", "invalid base64 in \"$BS\"", 1, 24,
		     "b");
	assert_fails("{\"b\": {\"$B\": 5}}", "\"$B\" needs a base64 string", 1, 14, "b");
}
END_TEST

START_TEST(test_parse_rejects_bad_tagged_number)
{
	assert_fails("{\"n\": {\"$N\": \"12abc\"}}", "invalid number \"12abc\"", 1, 14, "n");
	assert_fails("{\"n\": {\"$N\": true}}", "\"$N\" needs a string holding a number", 1, 14,
		     "n");
}
END_TEST

START_TEST(test_parse_rejects_m_without_object)
{
	assert_fails("{\"m\": {\"$M\": [1]}}", "\"$M\" needs an object", 1, 14, "m");
}
END_TEST

/* Text of an item with `levels` nested maps under attribute "a". */
static char *nested(int levels, bool lists)
{
	char *s = malloc((size_t)levels * 8 + 32), *p = s;

	p += sprintf(p, "{\"a\": ");
	for (int i = 0; i < levels; i++)
		p += sprintf(p, lists ? "[" : "{\"a\": ");
	p += sprintf(p, "1");
	for (int i = 0; i < levels; i++)
		p += sprintf(p, lists ? "]" : "}");
	sprintf(p, "}");
	return s;
}

START_TEST(test_parse_accepts_32_levels)
{
	char *t = nested(32, false);
	struct val v;

	v = parse_ok(t);
	ck_assert_int_eq(item_check(&v, NULL), 0);
	val_free(&v);
	free(t);
	t = nested(32, true);
	ck_assert_int_eq(item_parse(t, strlen(t), &v, NULL), 0);
	val_free(&v);
	free(t);
}
END_TEST

START_TEST(test_parse_rejects_nesting_deeper_than_32)
{
	char *t = nested(33, false);

	assert_fails_with(item_parse, t, EINVAL, "nesting deeper than 32 levels", 1, 199, NULL);
	free(t);
	t = nested(33, true);
	assert_fails(t, "nesting deeper than 32 levels", 1, 39,
		     "a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
		     "[0][0][0][0][0][0][0][0][0]");
	free(t);
}
END_TEST

START_TEST(test_parse_rejects_huge_nesting_without_crash)
{
	size_t n = 1000000;
	char *t = malloc(n + 1);

	memset(t, '[', n);
	t[n] = 0;
	assert_fails(t, "nesting deeper than 32 levels", 1, 34, NULL);
	for (size_t i = 0; i + 7 <= n; i += 7)
		memcpy(t + i, "{\"$M\":", 6), t[i + 6] = ' ';
	assert_fails(t, "nesting", 0, 0, NULL);
	free(t);
}
END_TEST

START_TEST(test_parse_lookahead_survives_nul_bytes)
{
	static const char t[] = "{\"$M\": {\"$SS\": [\"x\"]\x01\0\0\x01}}";
	struct dyn_err e;
	struct val v;

	/* Found by fuzzing: the tag lookahead once looped forever on a NUL. */
	err_clear(&e);
	ck_assert_int_eq(item_parse_value(t, sizeof(t) - 1, &v, &e), -EINVAL);
	ck_assert_int_eq(e.line, 1);
}
END_TEST

START_TEST(test_parse_item_rejects_non_object)
{
	assert_fails_with(item_parse, "[1]", EINVAL, "an item must be a JSON object", 1, 1, "");
	assert_fails_with(item_parse, "  \"x\"", EINVAL, "an item must be a JSON object", 1, 3, "");
	assert_fails_with(item_parse, "{\"$N\": \"1\"}", EINVAL, "not a tagged N value", 1, 1, "");
}
END_TEST

START_TEST(test_parse_item_rejects_over_400kb)
{
	size_t n = ITEM_MAX_SIZE + 100, pos = 0;
	char *t = malloc(n + 64);
	struct dyn_err e;
	struct val v;

	pos += (size_t)sprintf(t, "{\"id\": \"x\", \"data\": \"");
	memset(t + pos, 'x', ITEM_MAX_SIZE);
	pos += ITEM_MAX_SIZE;
	strcpy(t + pos, "\"}");
	err_clear(&e);
	ck_assert_int_eq(item_parse(t, strlen(t), &v, &e), -EFBIG);
	ck_assert_int_eq(e.code, EFBIG);
	ck_assert_str_eq(e.msg, "item is 409607 bytes, over DynamoDB's 400 KB limit");
	ck_assert_int_eq(v.type, VAL_NULL);
	free(t);
}
END_TEST

START_TEST(test_parse_item_accepts_exactly_400kb)
{
	size_t pos = 0, data = ITEM_MAX_SIZE - 2 - 1 - 4; /* "id" + "x" + "data" */
	char *t = malloc(data + 64);
	struct val v;

	pos += (size_t)sprintf(t, "{\"id\": \"x\", \"data\": \"");
	memset(t + pos, 'x', data);
	pos += data;
	strcpy(t + pos, "\"}");
	ck_assert_int_eq(item_parse(t, strlen(t), &v, NULL), 0);
	ck_assert_uint_eq(item_size(&v), ITEM_MAX_SIZE);
	val_free(&v);
	free(t);
}
END_TEST

START_TEST(test_parse_skips_bom_and_whitespace)
{
	struct val v = parse_ok("\xef\xbb\xbf \r\n\t{\"a\" : 1 } \n");

	ck_assert_int_eq(v.type, VAL_M);
	val_free(&v);
}
END_TEST

START_TEST(test_parse_null_err_is_allowed)
{
	struct val v;

	ck_assert_int_eq(item_parse_value("{\"a\": [", 7, &v, NULL), -EINVAL);
	ck_assert_int_eq(item_parse_value("{\"a\": 1, \"a\": 2}", 16, &v, NULL), -EINVAL);
	ck_assert_int_eq(item_parse_value("[1]", 3, &v, NULL), 0);
	val_free(&v);
}
END_TEST

START_TEST(test_parse_unsorted_many_attributes)
{
	char *t = malloc(200000), *p = t;
	struct val v;

	p += sprintf(p, "{");
	for (int i = 9999; i >= 0; i--)
		p += sprintf(p, "%s\"k%d\": %d", i == 9999 ? "" : ",", i, i);
	sprintf(p, "}");
	v = parse_ok(t);
	ck_assert_uint_eq(v.m.len, 10000);
	ck_assert_ptr_nonnull(val_map_get(&v, "k5000", 5));
	val_free(&v);
	strcpy(p, ",\"k77\": 0}");
	assert_fails(t, "duplicate attribute \"k77\"", 0, 0, "");
	free(t);
}
END_TEST

/* ---- size and limits ---- */

static size_t size_of(const char *text)
{
	struct val v = parse_ok(text);
	size_t s = item_size(&v);

	val_free(&v);
	return s;
}

START_TEST(test_size_follows_dynamodb_rules)
{
	ck_assert_uint_eq(size_of("{\"ab\": \"xyz\"}"), 5);
	ck_assert_uint_eq(size_of("{\"a\": \"\\u00e9\"}"), 3);
	ck_assert_uint_eq(size_of("{\"a\": true, \"b\": null}"), 4);
	ck_assert_uint_eq(size_of("{\"a\": {\"$B\": \"AAEC\"}}"), 4);
	ck_assert_uint_eq(size_of("{\"a\": [1, 2]}"), 1 + 3 + (2 + 1) * 2);
	ck_assert_uint_eq(size_of("{\"a\": []}"), 4);
	ck_assert_uint_eq(size_of("{\"a\": {\"bc\": true}}"), 1 + 3 + 2 + 1 + 1);
	ck_assert_uint_eq(size_of("{\"a\": {\"$SS\": [\"x\", \"yz\"]}}"), 1 + 3);
	ck_assert_uint_eq(size_of("{\"a\": {\"$NS\": [27, -27]}}"), 1 + 2 + 3);
	ck_assert_uint_eq(size_of("{}"), 0);
}
END_TEST

START_TEST(test_size_of_numbers)
{
	static const struct {
		const char *n;
		size_t size;
	} cases[] = {
	    {"0", 1},
	    {"27", 2},
	    {"-27", 3},
	    {"461", 3},
	    {"1.5", 3},
	    {"100", 2},
	    {"1e125", 2},
	    {"1.2e124", 3},
	    {"0.01", 2},
	    {"123.45", 4},
	    {"12345678901234567890123456789012345678", 20},
	    {"-1.2345678901234567890123456789012345678", 22},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dyn_err e;
		struct val v;

		err_clear(&e);
		ck_assert_int_eq(item_parse_value(cases[i].n, strlen(cases[i].n), &v, &e), 0);
		ck_assert_msg(item_size(&v) == cases[i].size, "%s: %zu", cases[i].n, item_size(&v));
	}
}
END_TEST

START_TEST(test_check_rejects_non_map)
{
	struct val v;
	struct dyn_err e;

	val_init_list(&v);
	err_clear(&e);
	ck_assert_int_eq(item_check(&v, &e), -EINVAL);
	ck_assert(strstr(e.msg, "an item must be a map"));
}
END_TEST

START_TEST(test_check_rejects_deep_values_built_in_code)
{
	struct val item, cur, next;
	struct dyn_err e;

	val_init_map(&cur);
	for (int i = 0; i < 32; i++) {
		val_init_map(&next);
		ck_assert_int_eq(val_map_set(&next, "x", 1, &cur), 0);
		val_move(&cur, &next);
	}
	val_init_map(&item);
	ck_assert_int_eq(val_map_set(&item, "top", 3, &cur), 0);
	err_clear(&e);
	ck_assert_int_eq(item_check(&item, &e), -EINVAL);
	ck_assert_str_eq(e.msg, "nesting deeper than 32 levels");
	ck_assert(strncmp(e.path, "top.x.x.x", 9) == 0);
	val_free(&item);
}
END_TEST

START_TEST(test_check_reports_val_check_path)
{
	struct val v = parse_ok("{\"a\": {\"b\": \"x\"}}");
	struct dyn_err e;
	struct val *b = val_map_get(val_map_get(&v, "a", 1), "b", 1);

	b->s.p[0] = (char)0xff;
	err_clear(&e);
	ck_assert_int_eq(item_check(&v, &e), -EINVAL);
	ck_assert_str_eq(e.path, "a.b");
	val_free(&v);
}
END_TEST

/* ---- binary form ---- */

START_TEST(test_encode_decode_example)
{
	struct val v = parse_ok(canonical_example), w;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(item_encode(&v, &buf, &len), 0);
	ck_assert_uint_lt(len, strlen(canonical_example));
	ck_assert_int_eq(item_decode(buf, len, &w), 0);
	ck_assert(val_equal(&v, &w));
	ck_assert_int_eq(val_check(&w, NULL), 0);
	val_free(&w);
	/* Every proper prefix and every extension is malformed. */
	for (size_t n = 0; n < len; n++) {
		struct val x;

		ck_assert_msg(item_decode(buf, n, &x) == -EINVAL, "prefix %zu decoded", n);
		ck_assert_int_eq(x.type, VAL_NULL);
	}
	buf = realloc(buf, len + 1);
	buf[len] = 0;
	ck_assert_int_eq(item_decode(buf, len + 1, &w), -EINVAL);
	free(buf);
	val_free(&v);
}
END_TEST

START_TEST(test_decode_rejects_malformed)
{
	static const struct {
		uint8_t b[16];
		size_t len;
	} bad[] = {
	    {{10}, 1},				   /* unknown type */
	    {{VAL_BOOL, 2}, 2},			   /* bad boolean */
	    {{VAL_S, 5, 'a'}, 3},		   /* length past the end */
	    {{VAL_SS, 0}, 2},			   /* empty set */
	    {{VAL_SS, 2, 1, 'b', 1, 'a'}, 6},	   /* unsorted set */
	    {{VAL_SS, 2, 1, 'a', 1, 'a'}, 6},	   /* duplicate element */
	    {{VAL_M, 2, 1, 'b', 0, 1, 'a', 0}, 8}, /* unsorted names */
	    {{VAL_M, 1, 2, 'a', 0, 0}, 6},	   /* NUL in a name */
	    {{VAL_M, 1, 1, 'a'}, 4},		   /* missing value */
	    {{VAL_N, 2, 0x03, 0x80}, 4},	   /* bad number */
	    {{VAL_L, 1, 11}, 3},		   /* bad element type */
	    {{VAL_M, 0x80, 0x00}, 3},		   /* non-minimal varint */
	    {{VAL_S, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 11},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct val v;

		ck_assert_msg(item_decode(bad[i].b, bad[i].len, &v) == -EINVAL, "case %zu", i);
	}
}
END_TEST

/* ---- random items and round trips ---- */

static uint64_t rng = 1;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static size_t gen_text(char *buf, size_t max)
{
	static const char *const pieces[] = {
	    "a",
	    "b",
	    "z",
	    "A",
	    " ",
	    "\"",
	    "\\",
	    "/",
	    "\n",
	    "\t",
	    "\x01",
	    "\x1f",
	    "\x7f",
	    "$N",
	    "$M",
	    "$SS",
	    "{",
	    "}",
	    "[",
	    "]",
	    ":",
	    ",",
	    "0",
	    "9",
	    "\xc3\xa9",
	    "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80",
	    "\xef\xbf\xbf",
	    "\xe2\x80\xa8",
	    "long text run of plain ascii ",
	};
	size_t len = 0, n = rnd() % 6;

	if (rnd() % 8 == 0)
		n += rnd() % 40;
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(p);

		if (len + k >= max)
			break;
		memcpy(buf + len, p, k);
		len += k;
	}
	if (rnd() % 30 == 0 && len + 1 < max)
		buf[len++] = 0; /* NUL inside a string value */
	buf[len] = 0;
	return len;
}

static void gen_num(struct num *n)
{
	int nd;

	num_zero(n);
	if (rnd() % 10 == 0)
		return;
	nd = rnd() % 4 == 0 ? 1 + (int)(rnd() % NUM_MAX_DIGITS) : 1 + (int)(rnd() % 6);
	for (int i = 0; i < nd; i++)
		n->digit[i] = (uint8_t)(rnd() % 10);
	if (n->digit[0] == 0)
		n->digit[0] = 7;
	while (n->digit[nd - 1] == 0)
		nd--;
	n->ndigits = (uint8_t)nd;
	n->exp = rnd() % 5 == 0 ? (int16_t)(-129 + (int)(rnd() % 256))
				: (int16_t)(-2 + (int)(rnd() % 8));
	n->neg = rnd() % 3 == 0;
}

static void gen_value(struct val *v, int depth);

static void gen_name(char *buf, size_t max, size_t *len)
{
	static const char *const names[] = {"id",  "a",	  "b", "$N",	   "$M",  "$B", "$SS",
					    "$NS", "$BS", "",  "\xc3\xa9", "x.y", "$"};
	const char *n;

	if (rnd() % 3 == 0) {
		*len = gen_text(buf, max);
		if (memchr(buf, 0, *len))
			*len = strlen(buf);
		return;
	}
	n = names[rnd() % (sizeof(names) / sizeof(names[0]))];
	*len = strlen(n);
	memcpy(buf, n, *len + 1);
}

static void gen_map(struct val *m, int depth, size_t count)
{
	char name[256];
	size_t len;

	val_init_map(m);
	for (size_t i = 0; i < count; i++) {
		struct val x;

		gen_name(name, sizeof(name), &len);
		gen_value(&x, depth + 1);
		ck_assert_int_eq(val_map_set(m, name, len, &x), 0);
	}
}

static void gen_value(struct val *v, int depth)
{
	char buf[256];
	uint8_t bin[32];
	size_t len;
	struct num n;
	int t = (int)(rnd() % 10);

	if (depth >= 6 && (t == VAL_L || t == VAL_M))
		t = VAL_S;
	switch (t) {
	case VAL_NULL:
		val_init_null(v);
		break;
	case VAL_BOOL:
		val_init_bool(v, rnd() % 2);
		break;
	case VAL_S:
		len = gen_text(buf, sizeof(buf));
		ck_assert_int_eq(val_init_str(v, buf, len), 0);
		break;
	case VAL_N:
		gen_num(&n);
		val_init_num(v, &n);
		break;
	case VAL_B:
		len = rnd() % sizeof(bin);
		for (size_t i = 0; i < len; i++)
			bin[i] = (uint8_t)rnd();
		ck_assert_int_eq(val_init_bin(v, bin, len), 0);
		break;
	case VAL_L:
		val_init_list(v);
		for (size_t i = rnd() % 5; i > 0; i--) {
			struct val x;

			gen_value(&x, depth + 1);
			ck_assert_int_eq(val_list_append(v, &x), 0);
		}
		break;
	case VAL_M:
		/* Often exactly one attribute, to hit the "$M" wrapping. */
		gen_map(v, depth, rnd() % 3 == 0 ? 1 : rnd() % 5);
		break;
	default:
		val_init_set(v, (enum val_type)t);
		do {
			struct val x;

			if (t == VAL_SS) {
				len = gen_text(buf, sizeof(buf));
				ck_assert_int_eq(val_init_str(&x, buf, len), 0);
			} else if (t == VAL_NS) {
				gen_num(&n);
				val_init_num(&x, &n);
			} else {
				len = rnd() % 4;
				for (size_t i = 0; i < len; i++)
					bin[i] = (uint8_t)(rnd() % 3);
				ck_assert_int_eq(val_init_bin(&x, bin, len), 0);
			}
			ck_assert_int_ge(val_set_add(v, &x), 0);
		} while (rnd() % 3);
		break;
	}
}

static void gen_item(struct val *item)
{
	gen_map(item, 0, rnd() % 8);
	if (rnd() % 20 == 0) {
		/* A chain down to the deepest allowed level. */
		struct val cur, next;

		val_init_null(&cur);
		for (int i = 0; i < ITEM_MAX_DEPTH; i++) {
			if (rnd() % 2) {
				val_init_list(&next);
				ck_assert_int_eq(val_list_append(&next, &cur), 0);
			} else {
				val_init_map(&next);
				ck_assert_int_eq(val_map_set(&next, "d", 1, &cur), 0);
			}
			val_move(&cur, &next);
		}
		ck_assert_int_eq(val_map_set(item, "deep", 4, &cur), 0);
	}
}

static void assert_round_trips(const struct val *x, const char *pk)
{
	struct dyn_err e;
	struct val y, z, w;
	char *t1, *t2, *c1;
	size_t len;
	uint8_t *bin;

	ck_assert_int_eq(val_check(x, NULL), 0);
	ck_assert_int_eq(item_check(x, NULL), 0);
	t1 = render(x, pk, NULL);
	err_clear(&e);
	ck_assert_msg(item_parse(t1, strlen(t1), &y, &e) == 0, "%s at %d:%d in\n%s", e.msg, e.line,
		      e.col, t1);
	ck_assert_msg(val_equal(x, &y), "parse(render(x)) != x for\n%s", t1);
	if (x->type == VAL_M) {
		/* the arena parser builds the same value */
		struct item_arena *ar = item_arena_new();
		struct val a;

		ck_assert_ptr_nonnull(ar);
		ck_assert_int_eq(item_parse_arena(t1, strlen(t1), ar, &a, NULL, NULL), 0);
		ck_assert(val_equal(x, &a));
		item_arena_reset(ar);
		ck_assert_int_eq(item_parse_arena(t1, strlen(t1), ar, &a, NULL, NULL), 0);
		ck_assert(val_equal(x, &a));
		item_arena_free(ar);
	}
	t2 = render(&y, pk, NULL);
	ck_assert_str_eq(t1, t2);

	c1 = render_compact(x);
	ck_assert_ptr_null(strchr(c1, '\n'));
	err_clear(&e);
	ck_assert_msg(item_parse_value(c1, strlen(c1), &z, &e) == 0, "%s in %s", e.msg, c1);
	ck_assert(val_equal(x, &z));

	ck_assert_int_eq(item_encode(x, &bin, &len), 0);
	ck_assert_int_eq(item_decode(bin, len, &w), 0);
	ck_assert(val_equal(x, &w));
	ck_assert_int_eq(val_check(&w, NULL), 0);

	/* item_encode_into: the same bytes, in the caller's buffer when they
	 * fit, else in a new one (a buffer cut at every size up to the end) */
	{
		uint8_t fixed[600], *got;
		size_t glen, cap = len <= sizeof(fixed) ? len : sizeof(fixed);

		for (size_t c = cap > 40 ? cap - 40 : 1; c <= cap; c++) {
			ck_assert_int_eq(item_encode_into(x, fixed, c, &got, &glen), 0);
			ck_assert_uint_eq(glen, len);
			ck_assert(got != fixed || len <= c);
			ck_assert(got == fixed || len + 10 > c); /* reserves 10 at most ahead */
			ck_assert_mem_eq(got, bin, len);
			if (got != fixed)
				free(got);
		}
	}

	free(bin);
	free(t1);
	free(t2);
	free(c1);
	val_free(&y);
	val_free(&z);
	val_free(&w);
}

/*
 * item_render_blob_append(pk, sk, blob of the other attributes) writes
 * what item_render_compact writes for the whole item with pk and sk first
 * (the first one or two attributes play the keys, whatever their types).
 */
static void assert_blob_renders(const struct val *x, int nkeys)
{
	const struct val_attr *pk, *sk = NULL;
	struct val rest;
	char *want, *got = NULL;
	size_t wlen, glen = 0, cap = 0, blen;
	uint8_t *blob;

	if (x->type != VAL_M || x->m.len < (size_t)nkeys || nkeys == 0)
		return;
	pk = &x->m.a[0];
	if (nkeys == 2)
		sk = &x->m.a[1];
	val_init_map(&rest);
	rest.m.a = x->m.a + nkeys; /* a shallow view */
	rest.m.len = rest.m.cap = x->m.len - (size_t)nkeys;
	ck_assert_int_eq(item_encode(&rest, &blob, &blen), 0);
	ck_assert_int_eq(item_render_compact(x, pk->name, sk ? sk->name : NULL, &want, &wlen), 0);
	ck_assert_int_eq(item_render_blob_append(pk->name, &pk->v, sk ? sk->name : NULL,
						 sk ? &sk->v : NULL, blob, blen, &got, &glen, &cap),
			 0);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(glen, wlen);
	/* a blob cut short is refused, and the buffer keeps what it had */
	if (blen > 1) {
		ck_assert_int_eq(item_render_blob_append(pk->name, &pk->v, NULL, NULL, blob,
							 blen - 1, &got, &glen, &cap),
				 -EINVAL);
		ck_assert_uint_eq(glen, wlen);
		ck_assert_str_eq(got, want);
	}
	free(blob);
	free(want);
	free(got);
}

START_TEST(test_round_trip_random_items)
{
	rng = 0x2545f4914f6cdd1dULL;
	for (int i = 0; i < 3000; i++) {
		struct val x;

		gen_item(&x);
		assert_round_trips(&x, i % 2 ? "id" : NULL);
		assert_blob_renders(&x, 1 + i % 2);
		val_free(&x);
	}
}
END_TEST

/* A cycle of many blocks is followed by one block as large as all of them
 * (item_arena.c): values of the next cycle, and the ones after the block
 * of the first cycle, are whole; item_parse_value_arena takes any value. */
START_TEST(test_arena_reset_after_many_blocks)
{
	struct item_arena *ar = item_arena_new();
	struct val v[128], w, x;
	char text[1024];
	size_t i, round;

	ck_assert_ptr_nonnull(ar);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 128; i++) { /* about 1 KB each: several blocks */
			snprintf(text, sizeof(text),
				 "{\"k%zu\": [\"%0300zu\", \"%0300zu\", {\"a\": %zu}], \"s\": \"%0*zu\"}",
				 i, i, round, i, (int)(i % 300), i);
			ck_assert_int_eq(item_parse_arena(text, strlen(text), ar, &v[i], NULL, NULL), 0);
		}
		for (i = 0; i < 128; i++) {
			snprintf(text, sizeof(text),
				 "{\"k%zu\": [\"%0300zu\", \"%0300zu\", {\"a\": %zu}], \"s\": \"%0*zu\"}",
				 i, i, round, i, (int)(i % 300), i);
			ck_assert_int_eq(item_parse(text, strlen(text), &w, NULL), 0);
			ck_assert(val_equal(&w, &v[i]));
			val_free(&w);
		}
		item_arena_reset(ar);
	}
	ck_assert_int_eq(item_parse_value_arena("[1, \"x\"]", 8, ar, &x, NULL), 0);
	ck_assert_int_eq(x.type, VAL_L);
	ck_assert_int_eq(item_parse_value("[1, \"x\"]", 8, &w, NULL), 0);
	ck_assert(val_equal(&w, &x));
	val_free(&w);
	item_arena_free(ar);
}
END_TEST

/* item_parse_arena fails as item_parse does, message and all, and its
 * values outlive a block change (an item bigger than one block). */
START_TEST(test_parse_arena_matches)
{
	static const char *const bad[] = {
	    "{\"a\": 1, \"a\": 2}", "{\"b\": {\"$B\": \"!!\"}}", "{\"s\": {\"$SS\": [\"x\", \"x\"]}}",
	    "{\"n\": {\"$N\": \"1e999\"}}", "{\"x\": [1, 2,]}", "[1]", "{\"q\": \"\\u0000\", \"\\u0000\": 1}",
	    "{\"l\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	struct item_arena *ar = item_arena_new();
	struct dyn_err e1, e2;
	struct val v, a;
	char *big;
	size_t i, n = 200000;

	ck_assert_ptr_nonnull(ar);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e1);
		err_clear(&e2);
		ck_assert_int_lt(item_parse(bad[i], strlen(bad[i]), &v, &e1), 0);
		ck_assert_int_eq(item_parse_arena(bad[i], strlen(bad[i]), ar, &a, NULL, &e2), e1.code ? -e1.code : -1);
		ck_assert_int_eq(e1.code, e2.code);
		ck_assert_str_eq(e1.msg, e2.msg);
	}
	/* one string of 200 KB and a binary set: more than a block */
	big = malloc(n + 64);
	ck_assert_ptr_nonnull(big);
	strcpy(big, "{\"b\": {\"$BS\": [\"AAE=\", \"AQ==\"]}, \"s\": \"");
	i = strlen(big);
	memset(big + i, 'x', n);
	memcpy(big + i + n, "\"}", 3);
	ck_assert_int_eq(item_parse(big, strlen(big), &v, NULL), 0);
	ck_assert_int_eq(item_parse_arena(big, strlen(big), ar, &a, NULL, NULL), 0);
	ck_assert(val_equal(&v, &a));
	val_free(&v);
	free(big);
	item_arena_free(ar);
}
END_TEST

/* The one case put_map wraps at the top: an item that is only its key,
 * the key named like a tag. */
START_TEST(test_blob_render_tag_named_key)
{
	struct val x = parse_ok("{\"$M\": {\"$N\": \"k\"}}");
	struct val y = parse_ok("{\"$M\": {\"$B\": 1, \"a\": {\"$M\": {\"$SS\": 1}}}}");

	ck_assert_int_eq(x.type, VAL_M);
	ck_assert_uint_eq(x.m.len, 1);

	assert_blob_renders(&x, 1);
	assert_blob_renders(&y, 1);
	val_free(&x);
	val_free(&y);
}
END_TEST

START_TEST(test_round_trip_random_values)
{
	rng = 12345;
	for (int i = 0; i < 3000; i++) {
		struct val x, y;
		char *t;
		struct dyn_err e;

		gen_value(&x, 0);
		t = render(&x, NULL, NULL);
		err_clear(&e);
		ck_assert_msg(item_parse_value(t, strlen(t), &y, &e) == 0, "%s in %s", e.msg, t);
		ck_assert_msg(val_equal(&x, &y), "value %s", t);
		free(t);
		val_free(&x);
		val_free(&y);
	}
}
END_TEST

Suite *item_suite(void);
Suite *item_suite(void)
{
	Suite *s = suite_create("item");
	TCase *tc;

	tc = tcase_create("item_render");
	tcase_add_test(tc, test_render_canonical_example);
	tcase_add_test(tc, test_render_canonical_is_fixed_point);
	tcase_add_test(tc, test_render_puts_keys_first);
	tcase_add_test(tc, test_render_orders_names_by_bytes);
	tcase_add_test(tc, test_render_non_map_has_no_newline);
	tcase_add_test(tc, test_render_numbers_bare_only_when_exact_in_double);
	tcase_add_test(tc, test_render_escapes_controls_only);
	tcase_add_test(tc, test_render_compact_is_one_line);
	tcase_add_test(tc, test_render_compact_puts_keys_first);
	tcase_add_test(tc, test_render_compact_append);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_parse_tags");
	tcase_add_test(tc, test_tag_with_other_keys_is_plain_map);
	tcase_add_test(tc, test_tag_m_content_is_literal);
	tcase_add_test(tc, test_tag_m_wrapping_nests);
	tcase_add_test(tc, test_tag_m_first_key_with_others);
	tcase_add_test(tc, test_tag_n_accepts_string_or_number);
	tcase_add_test(tc, test_tag_ns_accepts_strings_and_numbers);
	tcase_add_test(tc, test_tag_sets_are_sorted);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_parse_text");
	tcase_add_test(tc, test_parse_unicode_escapes);
	tcase_add_test(tc, test_parse_raw_multibyte);
	tcase_add_test(tc, test_parse_string_with_nul_escape);
	tcase_add_test(tc, test_parse_long_string_fast_path);
	tcase_add_test(tc, test_parse_binary_forms);
	tcase_add_test(tc, test_parse_skips_bom_and_whitespace);
	tcase_add_test(tc, test_parse_null_err_is_allowed);
	tcase_add_test(tc, test_parse_unsorted_many_attributes);
	suite_add_tcase(s, tc);

	tc = tcase_create("b64");
	tcase_add_test(tc, test_b64_encode_forms);
	tcase_add_test(tc, test_b64_decode_rejects_garbage);
	tcase_add_test(tc, test_b64_round_trips_all_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_parse_rejects");
	tcase_add_test(tc, test_parse_rejects_empty_document);
	tcase_add_test(tc, test_parse_rejects_trailing_text);
	tcase_add_test(tc, test_parse_rejects_trailing_comma);
	tcase_add_test(tc, test_parse_rejects_missing_colon);
	tcase_add_test(tc, test_parse_rejects_missing_comma);
	tcase_add_test(tc, test_parse_rejects_bare_words);
	tcase_add_test(tc, test_parse_rejects_unterminated);
	tcase_add_test(tc, test_parse_rejects_nan_and_infinity);
	tcase_add_test(tc, test_parse_rejects_leading_zeros);
	tcase_add_test(tc, test_parse_rejects_bad_number_syntax);
	tcase_add_test(tc, test_parse_rejects_39_digit_number);
	tcase_add_test(tc, test_parse_rejects_number_out_of_range);
	tcase_add_test(tc, test_parse_rejects_control_character);
	tcase_add_test(tc, test_parse_rejects_invalid_utf8);
	tcase_add_test(tc, test_parse_rejects_lone_surrogate);
	tcase_add_test(tc, test_parse_rejects_bad_escape);
	tcase_add_test(tc, test_parse_rejects_duplicate_attribute);
	tcase_add_test(tc, test_parse_sorts_unsorted_names);
	tcase_add_test(tc, test_parse_rejects_duplicate_in_nested_map);
	tcase_add_test(tc, test_parse_rejects_nul_in_name);
	tcase_add_test(tc, test_parse_rejects_empty_set);
	tcase_add_test(tc, test_parse_rejects_duplicate_string_element);
	tcase_add_test(tc, test_parse_rejects_duplicate_number_element);
	tcase_add_test(tc, test_parse_rejects_duplicate_binary_element);
	tcase_add_test(tc, test_parse_rejects_mixed_set);
	tcase_add_test(tc, test_parse_rejects_set_without_array);
	tcase_add_test(tc, test_parse_rejects_bad_base64);
	tcase_add_test(tc, test_parse_rejects_bad_tagged_number);
	tcase_add_test(tc, test_parse_rejects_m_without_object);
	tcase_add_test(tc, test_parse_accepts_32_levels);
	tcase_add_test(tc, test_parse_rejects_nesting_deeper_than_32);
	tcase_add_test(tc, test_parse_rejects_huge_nesting_without_crash);
	tcase_add_test(tc, test_parse_lookahead_survives_nul_bytes);
	tcase_add_test(tc, test_parse_item_rejects_non_object);
	tcase_add_test(tc, test_parse_item_rejects_over_400kb);
	tcase_add_test(tc, test_parse_item_accepts_exactly_400kb);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_check");
	tcase_add_test(tc, test_size_follows_dynamodb_rules);
	tcase_add_test(tc, test_size_of_numbers);
	tcase_add_test(tc, test_check_rejects_non_map);
	tcase_add_test(tc, test_check_rejects_deep_values_built_in_code);
	tcase_add_test(tc, test_check_reports_val_check_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_encode");
	tcase_add_test(tc, test_encode_decode_example);
	tcase_add_test(tc, test_decode_rejects_malformed);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("item_round_trip");
	tcase_add_test(tc, test_round_trip_random_items);
	tcase_add_test(tc, test_blob_render_tag_named_key);
	tcase_add_test(tc, test_parse_arena_matches);
	tcase_add_test(tc, test_arena_reset_after_many_blocks);
	tcase_add_test(tc, test_round_trip_random_values);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
