/*
 * check_name.c - the name codec (fs/name.c): every key has one name,
 * every name at most one key, long names shorten and still resolve.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "num.h"
#include "val.h"

/* ---- helpers ---- */

static struct val S(const char *s)
{
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, strlen(s)), 0);
	return v;
}

static struct val Sn(const char *s, size_t n)
{
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, n), 0);
	return v;
}

static struct val N(const char *s)
{
	struct val v;
	struct num n;

	ck_assert_int_eq(num_parse(s, strlen(s), &n, NULL), 0);
	val_init_num(&v, &n);
	return v;
}

static struct val B(const void *p, size_t n)
{
	struct val v;

	ck_assert_int_eq(val_init_bin(&v, p, n), 0);
	return v;
}

/* name_make(v, json) must be want, and parse back to v. */
static void roundtrip(struct val v, bool json, const char *want)
{
	char buf[NAME_BUF];
	struct name_key k;
	int n = name_make(&v, json, buf);

	ck_assert_int_ge(n, 0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_int_eq(name_parse(buf, (size_t)n, v.type, json, &k), 0);
	ck_assert_int_eq(k.kind, NAME_FULL);
	ck_assert(val_equal(&k.key, &v));
	name_key_free(&k);
	val_free(&v);
}

/* name must not parse as a key of type t. */
static void rejects(const char *name, enum val_type t, bool json)
{
	struct name_key k;
	int rc = name_parse(name, strlen(name), t, json, &k);

	ck_assert_msg(rc < 0, "\"%s\" parsed as a %s key", name, val_type_name(t));
	ck_assert_int_eq(k.key.type, VAL_NULL);
}

/* ---- name_make / name_parse ---- */

START_TEST(test_make_plain_strings_stay_readable)
{
	roundtrip(S("felienne#3"), false, "felienne#3");
	roundtrip(S("2022-09"), true, "2022-09.json");
	roundtrip(S("hedy@hedy.org"), true, "hedy@hedy.org.json");
	roundtrip(S("a b*c?[d]\\e'f\"g"), true, "a b*c?[d]\\e'f\"g.json");
	roundtrip(S("x.json"), true, "x.json.json");
	roundtrip(S("a.b"), true, "a.b.json");
	roundtrip(S("x_"), true, "x_.json");
	roundtrip(S("-rf"), true, "-rf.json");
}
END_TEST

START_TEST(test_make_escapes_every_special_byte)
{
	roundtrip(S("a/b"), true, "a%2Fb.json");
	roundtrip(S("100%"), true, "100%25.json");
	roundtrip(S("a~b"), true, "a%7Eb.json");
	roundtrip(S("~"), false, "%7E");
	roundtrip(S(".hidden"), true, "%2Ehidden.json");
	roundtrip(S("."), false, "%2E");
	roundtrip(S(".."), false, "%2E.");
	roundtrip(S("_schema.json"), false, "%5Fschema.json");
	roundtrip(S("_"), true, "%5F.json");
	roundtrip(S("a\nb"), true, "a%0Ab.json");
	roundtrip(S("\t"), true, "%09.json");
	roundtrip(S("\x7f"), true, "%7F.json");
	roundtrip(S("\x1f"), true, "%1F.json");
	roundtrip(Sn("a\0b", 3), true, "a%00b.json");
	roundtrip(S("%2F"), true, "%252F.json");
}
END_TEST

START_TEST(test_make_keeps_unicode_raw)
{
	roundtrip(S("h\xc3\xa9llo"), true, "h\xc3\xa9llo.json");
	roundtrip(S("\xe6\x97\xa5\xe6\x9c\xac"), false, "\xe6\x97\xa5\xe6\x9c\xac");
	roundtrip(S("\xf0\x9f\x98\x80"), true, "\xf0\x9f\x98\x80.json");
}
END_TEST

START_TEST(test_make_numbers_canonical)
{
	roundtrip(N("-5"), true, "-5.json");
	roundtrip(N("2"), true, "2.json");
	roundtrip(N("10"), true, "10.json");
	roundtrip(N("1e3"), true, "1000.json");
	roundtrip(N("1.0"), true, "1.json");
	roundtrip(N("-0"), true, "0.json");
	roundtrip(N("0.1"), true, "0.1.json");
	roundtrip(N("1e21"), true, "1e+21.json");
	roundtrip(N("-1e-130"), true, "-1e-130.json");
	roundtrip(N("12345678901234567890.5"), false, "12345678901234567890.5");
	roundtrip(N("9.9999999999999999999999999999999999999E+125"), true,
		  "9.9999999999999999999999999999999999999e+125.json");
}
END_TEST

START_TEST(test_make_binary_base64url)
{
	static const unsigned char fc[] = {0xfc, 0x00};
	static const unsigned char fb[] = {0xfb, 0xff};

	roundtrip(B("hi", 2), true, "aGk.json");
	roundtrip(B("\x00", 1), true, "AA.json");
	roundtrip(B("abc", 3), false, "YWJj");
	roundtrip(B(fc, 2), true, "%5FAA.json");
	roundtrip(B(fb, 2), true, "-_8.json");
}
END_TEST

START_TEST(test_make_rejects_bad_values)
{
	char buf[NAME_BUF];
	struct val v;

	v = S("");
	ck_assert_int_eq(name_make(&v, true, buf), -EINVAL);
	val_free(&v);
	v = B("", 0);
	ck_assert_int_eq(name_make(&v, true, buf), -EINVAL);
	val_free(&v);
	val_init_bool(&v, true);
	ck_assert_int_eq(name_make(&v, true, buf), -EINVAL);
}
END_TEST

START_TEST(test_parse_rejects_non_canonical)
{
	rejects("%41.json", VAL_S, true);	/* 'A' need not be escaped */
	rejects("a%2fb.json", VAL_S, true);	/* lowercase hex */
	rejects("%2.json", VAL_S, true);	/* truncated escape */
	rejects("abc%", VAL_S, false);
	rejects(".x.json", VAL_S, true);	/* raw leading dot */
	rejects(".x.swp", VAL_S, false);
	rejects("_x.json", VAL_S, true);	/* raw leading underscore */
	rejects("a~b.json", VAL_S, true);	/* raw separator */
	rejects("x.json~", VAL_S, true);	/* editor backup */
	rejects("#x.json#", VAL_S, true);
	rejects("x", VAL_S, true);		/* no suffix */
	rejects(".json", VAL_S, true);		/* empty key */
	rejects("", VAL_S, false);
	rejects("%FF.json", VAL_S, true);	/* not UTF-8 */
	rejects("\xc3.json", VAL_S, true);
	rejects("%2E%2E.json", VAL_S, true);	/* only the leading dot */
	rejects("1.0.json", VAL_N, true);
	rejects("+1.json", VAL_N, true);
	rejects("01.json", VAL_N, true);
	rejects("1e3.json", VAL_N, true);
	rejects("1E+21.json", VAL_N, true);
	rejects("-0.json", VAL_N, true);
	rejects("abc.json", VAL_N, true);
	rejects("4913", VAL_N, true);
	rejects("AB.json", VAL_B, true);	/* stray bits */
	rejects("AA==.json", VAL_B, true);	/* padding */
	rejects("a+b/.json", VAL_B, true);	/* standard alphabet */
	rejects("_AA.json", VAL_B, true);
	rejects("A.json", VAL_B, true);
}
END_TEST

START_TEST(test_parse_too_long)
{
	char name[300];
	struct name_key k;

	memset(name, 'a', sizeof(name));
	ck_assert_int_eq(name_parse(name, 256, VAL_S, false, &k), -ENAMETOOLONG);
	ck_assert_int_eq(name_parse(name, 255, VAL_S, false, &k), 0);
	name_key_free(&k);
}
END_TEST

START_TEST(test_one_name_per_key_exhaustive_bytes)
{
	/* every single- and two-byte S key round-trips; its name is unique */
	char buf[NAME_BUF], prev[NAME_BUF] = "";
	unsigned a;

	for (a = 1; a < 0x80; a++) {
		char s[2] = {(char)a, 'x'};
		struct val v = Sn(s, 2);
		struct name_key k;
		int n = name_make(&v, true, buf);

		ck_assert_int_gt(n, 0);
		ck_assert(strcmp(buf, prev) != 0);
		ck_assert(!memchr(buf, '/', (size_t)n));
		ck_assert_int_eq(name_parse(buf, (size_t)n, VAL_S, true, &k), 0);
		ck_assert(val_equal(&k.key, &v));
		name_key_free(&k);
		val_free(&v);
		strcpy(prev, buf);
	}
}
END_TEST

/* ---- long names ---- */

/* A long key: its name is shortened, parses as NAME_SHORT with a prefix
 * the key starts with, and name_make gives the same name again. */
static void check_long(struct val v, bool json)
{
	char buf[NAME_BUF], again[NAME_BUF];
	struct name_key k;
	int n = name_make(&v, json, buf);

	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, NAME_LEN_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "~~"));
	if (json)
		ck_assert_str_eq(buf + n - 5, ".json");
	ck_assert_int_eq(name_parse(buf, (size_t)n, v.type, json, &k), 0);
	ck_assert_int_eq(k.kind, NAME_SHORT);
	ck_assert(name_key_has_prefix(&v, &k.key));
	ck_assert_int_lt(k.key.s.len, v.s.len);
	ck_assert_int_eq(name_make(&v, json, again), n);
	ck_assert_str_eq(again, buf);
	name_key_free(&k);
	val_free(&v);
}

START_TEST(test_long_names_shorten)
{
	char *s = malloc(2049);
	unsigned char *b = malloc(2048);
	size_t i;

	memset(s, 'a', 2048);
	s[2048] = 0;
	check_long(Sn(s, 2048), true);
	check_long(Sn(s, 251), true); /* 256 bytes with .json */
	check_long(Sn(s, 256), false);
	memset(s, '%', 1024); /* every byte escaped: the cut must not split %25 */
	check_long(Sn(s, 1024), true);
	for (i = 0; i + 2 <= 2048; i += 2) { /* two-byte UTF-8: never split */
		s[i] = (char)0xc3;
		s[i + 1] = (char)0xa9;
	}
	check_long(Sn(s, 2048), true);
	for (i = 0; i < 2048; i++)
		b[i] = (unsigned char)(i * 7 + 3);
	check_long(B(b, 2048), true);
	b[0] = 0xfc; /* leading '_' in base64url */
	check_long(B(b, 1000), false);
	free(s);
	free(b);
}
END_TEST

START_TEST(test_long_names_exact_limit)
{
	char s[300], buf[NAME_BUF];
	struct val v;

	memset(s, 'x', sizeof(s));
	v = Sn(s, 250); /* 250 + ".json" = 255: not shortened */
	ck_assert_int_eq(name_make(&v, true, buf), 255);
	ck_assert_ptr_null(strstr(buf, "~~"));
	val_free(&v);
	roundtrip(Sn(s, 255), false, (s[255] = 0, s));
}
END_TEST

START_TEST(test_long_names_differ_by_hash)
{
	char *s = malloc(1000), a[NAME_BUF], b[NAME_BUF];
	struct val v, w;

	memset(s, 'k', 1000);
	v = Sn(s, 1000);
	s[999] = 'j';
	w = Sn(s, 1000);
	ck_assert_int_gt(name_make(&v, true, a), 0);
	ck_assert_int_gt(name_make(&w, true, b), 0);
	ck_assert(strcmp(a, b) != 0);
	/* same prefix, different tail: only the hash differs */
	ck_assert_int_eq(memcmp(a, b, strlen(a) - 5 - 16), 0);
	val_free(&v);
	val_free(&w);
	free(s);
}
END_TEST

START_TEST(test_long_names_reject_malformed)
{
	char name[NAME_BUF];

	rejects("abc~~0123456789abcdeX.json", VAL_S, true);	/* not hex */
	rejects("abc~~0123456789ABCDEF.json", VAL_S, true);	/* uppercase */
	rejects("~~0123456789abcdef.json", VAL_S, true);	/* empty prefix ok? no: prefix "" */
	rejects("ab%2~~0123456789abcdef.json", VAL_S, true);	/* split escape */
	rejects("a~b~~0123456789abcdef.json", VAL_S, true);	/* raw ~ in prefix */
	rejects("1234~~0123456789abcdef.json", VAL_N, true);	/* N never shortens */
	snprintf(name, sizeof(name), "x~~0123456789abcdef");
	rejects(name, VAL_S, true);				/* no suffix */
}
END_TEST

/* ---- table names ---- */

START_TEST(test_str_names)
{
	char buf[NAME_BUF], *out;
	size_t n;

	ck_assert_int_eq(name_make_str("users", 5, buf), 5);
	ck_assert_str_eq(buf, "users");
	ck_assert_int_eq(name_make_str("_errors", 7, buf), 9);
	ck_assert_str_eq(buf, "%5Ferrors");
	ck_assert_int_eq(name_parse_str(buf, 9, &out, &n), 0);
	ck_assert_str_eq(out, "_errors");
	ck_assert_uint_eq(n, 7);
	free(out);
	ck_assert_int_eq(name_make_str(".t", 2, buf), 4);
	ck_assert_str_eq(buf, "%2Et");
	ck_assert_int_eq(name_parse_str("_errors", 7, &out, &n), -EINVAL);
	ck_assert_int_eq(name_parse_str(".t", 2, &out, &n), -EINVAL);
	ck_assert_int_eq(name_parse_str("%74", 3, &out, &n), -EINVAL);
	ck_assert_int_eq(name_parse_str("", 0, &out, &n), -EINVAL);
}
END_TEST

/* ---- joined names ---- */

START_TEST(test_join_and_split)
{
	char buf[NAME_BUF];
	struct val pk = S("felienne#3"), sk = S("2022-09"), npk = N("-1.5");
	struct name_key a, b;
	int n;

	n = name_join_key(&pk, &sk, true, buf);
	ck_assert_str_eq(buf, "felienne#3~2022-09.json");
	ck_assert_int_eq(name_split_key(buf, (size_t)n, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert(val_equal(&a.key, &pk) && val_equal(&b.key, &sk));
	name_key_free(&a);
	name_key_free(&b);

	n = name_join_key(&npk, &sk, false, buf);
	ck_assert_str_eq(buf, "-1.5~2022-09");
	ck_assert_int_eq(name_split_key(buf, (size_t)n, VAL_N, VAL_S, false, &a, &b), 0);
	ck_assert(val_equal(&a.key, &npk));
	name_key_free(&a);
	name_key_free(&b);

	/* without sort key: the item's own name */
	ck_assert_int_eq(name_join_key(&pk, NULL, true, buf), 15);
	ck_assert_str_eq(buf, "felienne#3.json");

	ck_assert_int_lt(name_split_key("a~b~c.json", 10, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_lt(name_split_key("ab.json", 7, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_lt(name_split_key("~b.json", 7, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_lt(name_split_key("a~.json", 7, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_lt(name_split_key("%61~b.json", 10, VAL_S, VAL_S, true, &a, &b), 0);
	val_free(&pk);
	val_free(&sk);
	val_free(&npk);
}
END_TEST

START_TEST(test_join_keys_with_separator_inside)
{
	char buf[NAME_BUF];
	struct val pk = S("a~b"), sk = S("~");
	struct name_key a, b;
	int n = name_join_key(&pk, &sk, true, buf);

	ck_assert_str_eq(buf, "a%7Eb~%7E.json");
	ck_assert_int_eq(name_split_key(buf, (size_t)n, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert(val_equal(&a.key, &pk) && val_equal(&b.key, &sk));
	name_key_free(&a);
	name_key_free(&b);
	val_free(&pk);
	val_free(&sk);
}
END_TEST

START_TEST(test_join_long_shortens)
{
	char *s = malloc(2048), buf[NAME_BUF];
	struct val pk, sk, small = S("p");
	struct name_key a, b;
	int n;

	memset(s, 'q', 2048);
	pk = Sn(s, 2048);
	sk = Sn(s, 10);
	/* long pk: only a pk prefix survives */
	n = name_join_key(&pk, &sk, true, buf);
	ck_assert_int_le(n, NAME_LEN_MAX);
	ck_assert_int_eq(name_split_key(buf, (size_t)n, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_eq(a.kind, NAME_SHORT);
	ck_assert(name_key_has_prefix(&pk, &a.key));
	ck_assert_int_eq(b.key.type, VAL_NULL);
	name_key_free(&a);
	name_key_free(&b);
	/* short pk, long sk: pk complete, sk prefix */
	val_free(&sk);
	sk = Sn(s, 1024);
	n = name_join_key(&small, &sk, true, buf);
	ck_assert_int_eq(name_split_key(buf, (size_t)n, VAL_S, VAL_S, true, &a, &b), 0);
	ck_assert_int_eq(a.kind, NAME_FULL);
	ck_assert(val_equal(&a.key, &small));
	ck_assert_int_eq(b.kind, NAME_SHORT);
	ck_assert(name_key_has_prefix(&sk, &b.key));
	name_key_free(&a);
	name_key_free(&b);
	val_free(&pk);
	val_free(&sk);
	val_free(&small);
	free(s);
}
END_TEST

/* A key of type t whose body is about len bytes (S: with escapes and
 * two-byte characters, so cuts meet them; N: a few fixed numbers). */
static struct val key_of(enum val_type t, size_t len, unsigned variant)
{
	static const char *nums[] = {"12345678901234567890", "-0.000123456789", "1e+21", "7"};
	static const char *pieces[] = {"a", "%", "\xc3\xa9", "~", "b/", "#"};
	char s[4096];
	unsigned char b[4096];
	size_t n = 0, i;

	switch (t) {
	case VAL_S:
		for (i = 0; n < len; i++) {
			const char *p = variant ? pieces[(i + variant) % 6] : "s";

			memcpy(s + n, p, strlen(p));
			n += strlen(p);
		}
		return Sn(s, n ? n : 1);
	case VAL_N:
		return N(nums[variant % 4]);
	default:
		for (i = 0; i < (len * 3) / 4 + 1; i++)
			b[i] = (unsigned char)(i * 37 + variant);
		return B(b, i);
	}
}

/* Every joined name parses, for every key type pair and every cut
 * position: the long partition key's length walks the cut across it,
 * the separator and the whole sort key (a cut inside an N sort key gave
 * -EINVAL: listed index entries that could not be opened). */
START_TEST(test_join_every_type_every_cut)
{
	static const enum val_type types[] = {VAL_S, VAL_N, VAL_B};
	char buf[NAME_BUF];
	struct name_key a, b;
	size_t pi, si, len, shortened = 0, sk_cut = 0;
	unsigned v, sv;
	int n, json;

	for (pi = 0; pi < 3; pi++)
		for (si = 0; si < 3; si++)
			for (json = 0; json < 2; json++)
				for (v = 0; v < 2; v++)
					for (sv = 0; sv < 4; sv++)
						for (len = 180; len <= 270; len++) {
		struct val pk = key_of(types[pi], len, v), sk = key_of(types[si], 3 + 6 * sv, sv);

		n = name_join_key(&pk, &sk, json, buf);
		ck_assert_int_gt(n, 0);
		ck_assert_msg(name_split_key(buf, (size_t)n, pk.type, sk.type, json, &a, &b) == 0,
			      "%s does not parse", buf);
		if (a.kind == NAME_FULL && b.kind == NAME_FULL) {
			ck_assert(val_equal(&a.key, &pk) && val_equal(&b.key, &sk));
		} else if (a.kind == NAME_FULL) {
			ck_assert(val_equal(&a.key, &pk));
			if (b.key.type == VAL_NULL)
				ck_assert_int_eq(sk.type, VAL_N);
			else
				ck_assert(name_key_has_prefix(&sk, &b.key));
			sk_cut++;
		} else {
			ck_assert(name_key_has_prefix(&pk, &a.key));
			ck_assert_int_eq(b.key.type, VAL_NULL);
		}
		shortened += a.kind == NAME_SHORT || b.kind == NAME_SHORT;
		name_key_free(&a);
		name_key_free(&b);
		val_free(&pk);
		val_free(&sk);
	}
	ck_assert_uint_gt(shortened, 1000);
	ck_assert_uint_gt(sk_cut, 100);
}
END_TEST

/* The same for single keys (S and B; N names are never long). */
START_TEST(test_single_every_cut)
{
	char buf[NAME_BUF];
	struct name_key k;
	size_t len;
	unsigned v;
	int n, json;

	for (json = 0; json < 2; json++)
		for (v = 0; v < 6; v++)
			for (len = 200; len <= 300; len++) {
				struct val s = key_of(VAL_S, len, v), b = key_of(VAL_B, len, v);
				struct val *keys[] = {&s, &b};
				int i;

				for (i = 0; i < 2; i++) {
					n = name_make(keys[i], json, buf);
					ck_assert_int_gt(n, 0);
					ck_assert_msg(name_parse(buf, (size_t)n, keys[i]->type, json,
								 &k) == 0, "%s does not parse", buf);
					if (k.kind == NAME_FULL)
						ck_assert(val_equal(&k.key, keys[i]));
					else
						ck_assert(name_key_has_prefix(keys[i], &k.key));
					name_key_free(&k);
				}
				val_free(&s);
				val_free(&b);
			}
}
END_TEST

START_TEST(test_hash_is_fnv1a)
{
	ck_assert_uint_eq(name_hash("", 0), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(name_hash("a", 1), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(name_hash("foobar", 6), 0x85944171f73967e8ULL);
}
END_TEST

Suite *name_suite(void);
Suite *name_suite(void)
{
	Suite *s = suite_create("name");
	TCase *tc;

	tc = tcase_create("name_make");
	tcase_add_test(tc, test_make_plain_strings_stay_readable);
	tcase_add_test(tc, test_make_escapes_every_special_byte);
	tcase_add_test(tc, test_make_keeps_unicode_raw);
	tcase_add_test(tc, test_make_numbers_canonical);
	tcase_add_test(tc, test_make_binary_base64url);
	tcase_add_test(tc, test_make_rejects_bad_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("name_parse");
	tcase_add_test(tc, test_parse_rejects_non_canonical);
	tcase_add_test(tc, test_parse_too_long);
	tcase_add_test(tc, test_one_name_per_key_exhaustive_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("shortening");
	tcase_add_test(tc, test_long_names_shorten);
	tcase_add_test(tc, test_long_names_exact_limit);
	tcase_add_test(tc, test_long_names_differ_by_hash);
	tcase_add_test(tc, test_long_names_reject_malformed);
	tcase_add_test(tc, test_hash_is_fnv1a);
	suite_add_tcase(s, tc);

	tc = tcase_create("name_str");
	tcase_add_test(tc, test_str_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("name_join_key");
	tcase_add_test(tc, test_join_and_split);
	tcase_add_test(tc, test_join_keys_with_separator_inside);
	tcase_add_test(tc, test_join_long_shortens);
	tcase_add_test(tc, test_join_every_type_every_cut);
	tcase_add_test(tc, test_single_every_cut);
	suite_add_tcase(s, tc);
	return s;
}
