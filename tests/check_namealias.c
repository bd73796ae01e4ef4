/*
 * check_namealias.c - strict item names (fs/name.c name_parse_alias,
 * name_escapes_ok): every canonical name maps to itself, every alias
 * (another spelling of a key) maps to the canonical name, and what is no
 * key of the type is refused with a reason.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "num.h"
#include "val.h"

/* The canonical name of the key that name spells (type t, json), or NULL. */
static const char *canon_of(const char *name, enum val_type t, bool json)
{
	static char buf[NAME_BUF];
	const char *why = NULL;
	struct val v;
	int rc = name_parse_alias(name, strlen(name), t, json, &v, &why);

	if (rc < 0) {
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_ptr_nonnull(why);
		ck_assert_int_eq(v.type, VAL_NULL);
		return NULL;
	}
	ck_assert_int_ge(name_make(&v, json, buf), 0);
	val_free(&v);
	return buf;
}

static void alias(const char *name, enum val_type t, const char *want)
{
	const char *got = canon_of(name, t, true);

	ck_assert_msg(got, "\"%s\" is no %s key", name, val_type_name(t));
	ck_assert_str_eq(got, want);
}

static void no_key(const char *name, enum val_type t, bool json)
{
	const char *got = canon_of(name, t, json);

	ck_assert_msg(!got, "\"%s\" became \"%s\"", name, got ? got : "");
}

START_TEST(test_alias_numbers)
{
	alias("1.0.json", VAL_N, "1.json");
	alias("007.json", VAL_N, "7.json");
	alias("1e0.json", VAL_N, "1.json");
	alias("+5.json", VAL_N, "5.json");
	alias("-0.json", VAL_N, "0.json");
	alias("2.50.json", VAL_N, "2.5.json");
	alias("1E3.json", VAL_N, "1000.json");
	alias("0.10e-1.json", VAL_N, "0.01.json");
	alias("1e21.json", VAL_N, "1e+21.json");
	no_key("abc.json", VAL_N, true);
	no_key("Infinity.json", VAL_N, true);
	no_key("NaN.json", VAL_N, true);
	no_key("1e.json", VAL_N, true);
	no_key("1 .json", VAL_N, true);
	no_key("1e999.json", VAL_N, true); /* over DynamoDB's range */
	no_key("1%00.json", VAL_N, true);
}
END_TEST

START_TEST(test_alias_strings)
{
	alias("%41.json", VAL_S, "A.json");
	alias("h%c3%a9.json", VAL_S, "h\xc3\xa9.json");
	alias("h%C3%A9.json", VAL_S, "h\xc3\xa9.json");
	alias("a~b.json", VAL_S, "a%7Eb.json");
	alias("a%2fb.json", VAL_S, "a%2Fb.json");
	alias("%2ehidden.json", VAL_S, "%2Ehidden.json");
	alias("%5fx.json", VAL_S, "%5Fx.json");
	alias("a%00b.json", VAL_S, "a%00b.json"); /* a key may hold NUL: its canonical name */
	no_key("%zz.json", VAL_S, true);
	no_key("%.json", VAL_S, true);
	no_key("a%2.json", VAL_S, true);
	no_key("a%.json", VAL_S, true);
	no_key("%C3.json", VAL_S, true);      /* a lone lead byte */
	no_key("%C0%AF.json", VAL_S, true);   /* overlong '/' */
	no_key("%ED%A0%80.json", VAL_S, true); /* a surrogate */
	no_key("\xff.json", VAL_S, true);
	no_key(".x.json", VAL_S, true); /* dotfiles are scratch names */
	no_key("x.json~", VAL_S, true);
}
END_TEST

START_TEST(test_alias_binary)
{
	alias("aGk=.json", VAL_B, "aGk.json");
	alias("%2F%2F8%3D.json", VAL_B, "%5F_8.json"); /* standard alphabet, padded */
	alias("__8.json", VAL_B, "%5F_8.json");
	no_key("a.json", VAL_B, true);	   /* one base64 digit is no byte */
	no_key("a*b.json", VAL_B, true);
	no_key("ab=c.json", VAL_B, true);
	no_key("a+_b.json", VAL_B, true); /* mixed alphabets */
}
END_TEST

START_TEST(test_alias_without_suffix)
{
	const char *got = canon_of("1.0", VAL_N, false);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "1");
	no_key("1.0.json", VAL_N, false);
	no_key("1.0", VAL_N, true);
}
END_TEST

/* Random keys: the canonical name maps to itself, and spellings made by
 * escaping bytes needlessly or in lowercase map to it too. */
START_TEST(test_canonical_round_trip_and_random_aliases)
{
	static const char pool[] = "abcXYZ09 -._~%/#\x01\x7f\xc3\xa9";
	char name[NAME_BUF], spelled[4 * NAME_BUF], key[40];
	unsigned seed = 12345;
	int i, j, n, len;

	for (i = 0; i < 20000; i++) {
		struct val v;
		const char *back;

		len = 1 + (int)(rand_r(&seed) % 30);
		for (j = 0; j < len; j++) {
			char c = pool[rand_r(&seed) % (sizeof(pool) - 1)];

			if ((unsigned char)c == 0xc3) { /* keep UTF-8 whole */
				if (j + 1 >= len)
					c = 'e';
				else
					key[j++] = c, c = (char)0xa9;
			} else if ((unsigned char)c == 0xa9) {
				c = 'f';
			}
			key[j] = c;
		}
		ck_assert_int_eq(val_init_str(&v, key, (size_t)len), 0);
		n = name_make(&v, true, name);
		ck_assert_int_gt(n, 0);
		back = canon_of(name, VAL_S, true);
		if (name[0] == '.') { /* never: a leading '.' is escaped */
			ck_abort_msg("canonical name %s is a dotfile", name);
		}
		ck_assert_msg(back && !strcmp(back, name), "canonical %s maps to %s", name,
			      back ? back : "(none)");
		/* an alias: escape every plain byte after the first, lowercase hex */
		spelled[0] = name[0];
		n -= 5;
		len = 1;
		for (j = 1; j < n; j++) {
			if (name[j] == '%') {
				spelled[len++] = '%';
				spelled[len++] = (char)(name[j + 1] | 0x20);
				spelled[len++] = (char)(name[j + 2] | 0x20);
				j += 2;
			} else {
				len += sprintf(spelled + len, "%%%02x", (unsigned char)name[j]);
			}
		}
		strcpy(spelled + len, ".json");
		if (strlen(spelled) <= NAME_LEN_MAX && spelled[0] != '%') {
			back = canon_of(spelled, VAL_S, true);
			ck_assert_msg(back && !strcmp(back, name), "alias %s maps to %s, not %s",
				      spelled, back ? back : "(none)", name);
		}
		val_free(&v);
	}
}
END_TEST

START_TEST(test_canonical_numbers_map_to_themselves)
{
	static const char *const nums[] = {"0", "1", "-1", "0.5", "-0.25", "1e+21", "1e-7",
					   "12345678901234567890", "9.9999999999999999999999999999999999999e+125",
					   "1e-130", "-1e-130"};
	char name[NAME_BUF];
	struct num x;
	struct val v;
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		ck_assert_int_eq(num_parse(nums[i], strlen(nums[i]), &x, NULL), 0);
		val_init_num(&v, &x);
		ck_assert_int_gt(name_make(&v, true, name), 0);
		ck_assert_str_eq(canon_of(name, VAL_N, true), name);
		val_free(&v);
	}
}
END_TEST

START_TEST(test_escapes_ok)
{
	const char *why;

	ck_assert(name_escapes_ok("plain", 5, &why));
	ck_assert(name_escapes_ok("ok%41%c3%a9", 11, &why));
	ck_assert(!name_escapes_ok("xyz%00junk", 10, &why));
	ck_assert(!name_escapes_ok("a%zz", 4, &why));
	ck_assert(!name_escapes_ok("a%", 2, &why));
	ck_assert(!name_escapes_ok("a%4", 3, &why));
	ck_assert(!name_escapes_ok("%FF", 3, &why));
	ck_assert(!name_escapes_ok("%C0%AF", 6, &why));
}
END_TEST

START_TEST(test_table_names_never_hold_nul)
{
	char *out;
	size_t len;

	ck_assert_int_eq(name_parse_str("xyz%00junk", 10, &out, &len), -EINVAL);
	ck_assert_int_eq(name_parse_str("xyz", 3, &out, &len), 0);
	ck_assert_str_eq(out, "xyz");
	free(out);
}
END_TEST

Suite *namealias_suite(void);
Suite *namealias_suite(void)
{
	Suite *s = suite_create("namealias");
	TCase *tc = tcase_create("name_parse_alias");

	tcase_add_test(tc, test_alias_numbers);
	tcase_add_test(tc, test_alias_strings);
	tcase_add_test(tc, test_alias_binary);
	tcase_add_test(tc, test_alias_without_suffix);
	tcase_add_test(tc, test_canonical_round_trip_and_random_aliases);
	tcase_add_test(tc, test_canonical_numbers_map_to_themselves);
	suite_add_tcase(s, tc);
	tc = tcase_create("name_escapes_ok");
	tcase_add_test(tc, test_escapes_ok);
	tcase_add_test(tc, test_table_names_never_hold_nul);
	suite_add_tcase(s, tc);
	return s;
}
