/*
 * check_item.c - the item codec's document JSON parsing: tags, Unicode,
 * binary and base64 forms, and every rejection rule (with position and
 * path), DynamoDB's nesting limit and the 400 KB item limit.  Rendering,
 * size, the binary form and round trips are in check_item_codec.c;
 * helpers both share are in fix_item.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "fix_item.h"

/* ---- helpers ---- */

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

Suite *item_suite(void);
Suite *item_suite(void)
{
	Suite *s = suite_create("item");
	TCase *tc;

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

	return s;
}
