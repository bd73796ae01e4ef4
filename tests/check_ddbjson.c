/*
 * check_ddbjson.c - the DynamoDB JSON codec's reading side (ddbjson.c
 * over storefmt's span scanner), which every remote answer and every
 * API request goes through: the scanner's string skip (memchr over the
 * bytes) against the byte-by-byte reference it replaced, random items
 * rendered and parsed back, and the type-name and attribute-name paths
 * that take their bytes without a copy, with the errors they had.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbjson.h"
#include "item.h"
#include "storefmt.h"

static uint64_t rng;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* The skip as it was: byte by byte, a backslash skipping the next byte. */
static const char *ref_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* The bracket walk as sf_skip_value does it, over the reference skip. */
static const char *ref_skip_compound(const char *p, const char *end)
{
	size_t depth = 0;

	while (p < end) {
		if (*p == '"') {
			if (!(p = ref_skip_string(p, end)))
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/* Any bytes after an opening quote: where the string ends (or that it
 * does not) is what the reference says, alone and inside an array. */
START_TEST(test_skip_string_matches_bytewise)
{
	static const char alpha[] = "ab\"\\\\x []";
	char buf[80];

	rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 20000; i++) {
		size_t n = 1 + rnd(40);
		const char *want, *got = NULL;
		int rc;

		buf[0] = '"';
		for (size_t j = 1; j < n; j++)
			buf[j] = alpha[rnd(sizeof(alpha) - 1)];
		want = ref_skip_string(buf, buf + n);
		rc = sf_skip_value(buf, buf + n, &got);
		if (!want) {
			ck_assert_msg(rc < 0, "accepted %.*s", (int)n, buf);
		} else {
			ck_assert_int_eq(rc, 0);
			ck_assert_msg(got == want, "%.*s: ends at %td, not %td", (int)n, buf,
				      got - buf, want - buf);
		}
		/* the same bytes in an array */
		{
			char arr[84];

			arr[0] = '[';
			memcpy(arr + 1, buf, n);
			arr[n + 1] = ']';
			want = ref_skip_compound(arr, arr + n + 2);
			got = NULL;
			rc = sf_skip_value(arr, arr + n + 2, &got);
			ck_assert_int_eq(rc == 0, want != NULL);
			ck_assert(!want || got == want);
		}
	}
}
END_TEST

/* A random value of depth <= 3 (strings with quotes, backslashes,
 * controls and UTF-8; numbers; sets; lists; maps). */
static void gen_value(struct val *v, int depth)
{
	static const char *const strs[] = {"", "a", "q\"uote", "back\\slash", "tab\there",
					   "ctl\x01x", "h\xc3\xa9llo", "\\\"", "long string of some length"};
	static const char *const nums[] = {"0", "-1", "1.5", "12345678901234567890123456789012345678",
					   "1E-130"};
	struct num n;
	struct val e;
	unsigned k = rnd(depth >= 3 ? 4 : 8);

	switch (k) {
	case 0:
		k = rnd(9);
		ck_assert_int_eq(val_init_str(v, strs[k], strlen(strs[k])), 0);
		break;
	case 1:
		k = rnd(5);
		ck_assert_int_eq(num_parse(nums[k], strlen(nums[k]), &n, NULL), 0);
		val_init_num(v, &n);
		break;
	case 2:
		val_init_bool(v, rnd(2));
		break;
	case 3:
		if (rnd(2))
			val_init_null(v);
		else
			ck_assert_int_eq(val_init_bin(v, "\x00\x01\xff", 1 + rnd(3)), 0);
		break;
	case 4:
	case 5:
		val_init_list(v);
		for (unsigned i = rnd(4); i; i--) {
			gen_value(&e, depth + 1);
			ck_assert_int_eq(val_list_append(v, &e), 0);
		}
		break;
	case 6:
		val_init_set(v, VAL_SS);
		for (unsigned i = 1 + rnd(3); i; i--) {
			k = rnd(9);
			ck_assert_int_eq(val_init_str(&e, strs[k], strlen(strs[k])), 0);
			ck_assert_int_ge(val_set_add(v, &e), 0);
		}
		break;
	default: {
		char name[16];

		val_init_map(v);
		for (unsigned i = rnd(5); i; i--) {
			size_t len = (size_t)snprintf(name, sizeof(name), "%s%u",
						      rnd(3) ? "k" : "n\"\\", rnd(6));

			gen_value(&e, depth + 1);
			ck_assert_int_eq(val_map_set(v, name, len, &e), 0);
		}
	}
	}
}

START_TEST(test_random_items_round_trip)
{
	rng = 0x2545f4914f6cdd1dULL;
	for (int i = 0; i < 1000; i++) {
		struct sf_buf b = SF_BUF_INIT;
		struct dyn_err err;
		struct val item, e, back;

		val_init_map(&item);
		ck_assert_int_eq(val_init_str(&e, "k", 1), 0);
		ck_assert_int_eq(val_map_set(&item, "id", 2, &e), 0);
		for (unsigned j = rnd(6); j; j--) {
			char name[16];
			size_t len = (size_t)snprintf(name, sizeof(name), "a%u", rnd(10));

			gen_value(&e, 1);
			ck_assert_int_eq(val_map_set(&item, name, len, &e), 0);
		}
		ck_assert_int_eq(ddb_render_map(&b, &item, "id", NULL), 0);
		err_clear(&err);
		ck_assert_msg(ddb_parse_map((struct sf_span){b.p, b.len}, &back, &err) == 0,
			      "%s: %s", b.p, err.msg);
		ck_assert_msg(val_equal(&item, &back), "%s", b.p);
		val_free(&item);
		val_free(&back);
		sf_buf_free(&b);
	}
}
END_TEST

/* parse text as an attribute map: 0, or the error (message in err) */
static int parse(const char *text, struct dyn_err *err)
{
	struct val v;
	int rc;

	err_clear(err);
	rc = ddb_parse_map((struct sf_span){text, strlen(text)}, &v, err);
	if (rc == 0)
		val_free(&v);
	return rc;
}

START_TEST(test_type_and_attribute_names)
{
	struct dyn_err err;
	struct val v, *x;
	static const char esc[] = "{\"a\":{\"\\u0053\":\"x\"},\"b\\u0063\":{\"N\":\"1\"}}";

	/* an escaped type or attribute name takes the copying way */
	err_clear(&err);
	ck_assert_msg(ddb_parse_map((struct sf_span){esc, strlen(esc)}, &v, &err) == 0, "%s",
		      err.msg);
	ck_assert_ptr_nonnull(x = val_map_get(&v, "a", 1));
	ck_assert_int_eq(x->type, VAL_S);
	ck_assert_str_eq(x->s.p, "x");
	ck_assert_ptr_nonnull(x = val_map_get(&v, "bc", 2));
	ck_assert_int_eq(x->type, VAL_N);
	val_free(&v);
	/* the errors stay as they were */
	ck_assert_int_eq(parse("{\"a\":{\"s\":\"x\"}}", &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "unknown type \"s\""), "%s", err.msg);
	ck_assert_int_eq(parse("{\"a\":{\"STRING\":\"x\"}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown type \"STRING\""));
	ck_assert_int_eq(parse("{\"a\":{\"SSSSSSSSSS\":\"x\"}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown type"));
	ck_assert_int_eq(parse("{\"a\":{\"S\":\"x\",\"N\":\"1\"}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than one datatypes"));
	ck_assert_int_eq(parse("{\"a\":{}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "is empty"));
	ck_assert_int_eq(parse("{\"a\":{\"S\":\"x\"},\"a\":{\"Q\":1}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "duplicate attribute \"a\""));
	ck_assert_int_eq(parse("{\"a\":{\"M\":{\"b\":{\"Q\":1}}}}", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown type \"Q\""));
	ck_assert_int_eq(parse("{\"a\":{\"S\":\"x\"},\"b\":{\"N\":\"x\"}}", &err), -EINVAL);
	ck_assert_int_eq(parse("{\"a\":{\"S\":\"unterminated}}", &err), -EINVAL);
}
END_TEST

/* A long string dense with escapes (an API request body may be 16 MB):
 * where it ends, found in work linear in its length.  Each escape used to
 * make the scan look for the closing quote again from just after it:
 * 2 MB of "\\n" took minutes, which the suite's time limit (seconds)
 * catches; linear, it is milliseconds. */
START_TEST(test_skip_string_long_and_dense_with_escapes)
{
	static const char *const unit[] = {"\\n", "\\\"", "ab\\\\"};
	size_t n = 2u << 20;

	for (size_t u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
		size_t ul = strlen(unit[u]), len = 1 + n / ul * ul;
		char *buf = malloc(len + 1);
		const char *got = NULL;

		ck_assert_ptr_nonnull(buf);
		buf[0] = '"';
		for (size_t j = 1; j + ul <= len; j += ul)
			memcpy(buf + j, unit[u], ul);
		buf[len] = '"';
		ck_assert_int_eq(sf_skip_value(buf, buf + len + 1, &got), 0);
		ck_assert_msg(got == buf + len + 1, "unit %s: ends at %td of %zu", unit[u], got - buf,
			      len + 1);
		ck_assert_int_lt(sf_skip_value(buf, buf + len, &got), 0); /* unterminated */
		free(buf);
	}
}
END_TEST

Suite *ddbjson_suite(void);
Suite *ddbjson_suite(void)
{
	Suite *s = suite_create("ddbjson");
	TCase *tc = tcase_create("ddbjson");

	tcase_add_test(tc, test_skip_string_matches_bytewise);
	tcase_add_test(tc, test_skip_string_long_and_dense_with_escapes);
	tcase_add_test(tc, test_random_items_round_trip);
	tcase_add_test(tc, test_type_and_attribute_names);
	suite_add_tcase(s, tc);
	return s;
}
