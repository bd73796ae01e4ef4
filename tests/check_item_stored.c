/*
 * check_item_stored.c - item_parse_stored(), the snapshot loader's path
 * from an item's text straight to its stored form: what it takes gives
 * exactly the key values, blob and size of item_parse() + item_encode()
 * of the non-key attributes; what it declines (errors, unsorted names
 * below the top level or sets, B keys, tags at the top, limits) is left
 * to item_parse().  Top-level names come in any order (a bulk import's
 * lines); the captured attributes (cap_names) are item_parse's values.
 * fuzz/fuzz_stored.c checks the same on arbitrary input.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

static struct item_stored st;

static void setup(void)
{
	item_stored_init(&st);
}

static void teardown(void)
{
	item_stored_free(&st);
}

/* text is taken, with item_parse's key values, blob and size. */
static void assert_taken(const char *text, size_t len, const char *pk, const char *sk)
{
	struct val v, view;
	const struct val *a;
	struct dyn_err e;
	uint8_t *bin;
	size_t blen, i, n = 0;
	int rc;

	rc = item_parse_stored(text, len, pk, sk, &st);
	ck_assert_msg(rc == 0, "declined (%d): %.200s", rc, text);
	err_clear(&e);
	ck_assert_msg(item_parse(text, len, &v, &e) == 0, "item_parse: %s", e.msg);
	a = val_map_get(&v, pk, strlen(pk));
	ck_assert(a && a->type == st.pk.type && val_equal(a, &st.pk));
	if (sk) {
		a = val_map_get(&v, sk, strlen(sk));
		ck_assert(a && a->type == st.sk.type && val_equal(a, &st.sk));
	}
	ck_assert_uint_eq(item_size(&v), st.size);
	for (i = 0; i < st.ncap; i++) { /* captures: the item's S and N values */
		a = val_map_get(&v, st.cap_names[i], strlen(st.cap_names[i]));
		if (!a)
			ck_assert_int_eq(st.cap[i].type, VAL_NULL);
		else
			ck_assert(a->type == st.cap[i].type && val_equal(a, &st.cap[i]));
	}
	val_init_map(&view);
	view.m.a = malloc((v.m.len + 1) * sizeof(*view.m.a));
	ck_assert_ptr_nonnull(view.m.a);
	for (i = 0; i < v.m.len; i++)
		if (strcmp(v.m.a[i].name, pk) && (!sk || strcmp(v.m.a[i].name, sk)))
			view.m.a[n++] = v.m.a[i];
	view.m.len = view.m.cap = n;
	ck_assert_int_eq(item_encode(&view, &bin, &blen), 0);
	ck_assert_uint_eq(blen, st.blob_len);
	ck_assert_mem_eq(bin, st.blob, blen);
	free(bin);
	free(view.m.a);
	val_free(&v);
}

static void assert_declined(const char *text, const char *pk, const char *sk)
{
	int rc = item_parse_stored(text, strlen(text), pk, sk, &st);

	ck_assert_msg(rc == 1, "taken (%d): %.200s", rc, text);
}

/* Every type, tags, escapes, Unicode, 38-digit and tiny numbers. */
START_TEST(test_parse_stored_takes_canonical_items)
{
	static const char *const ok[] = {
	    "{\"id\":\"u1\",\"email\":\"u@x.org\",\"level\":1,\"scores\":[7,20,33]}",
	    "{\"id\":\"k\"}",
	    "{\"id\":-1.5e-3}",
	    " { \"a\" : 1 , \"id\" : \"after\" , \"b\" : [ ] } ",
	    "{\"id\":\"a\",\"bin\":{\"$B\":\"AAEC/w==\"},\"bs\":{\"$BS\":[\"AA==\",\"AQ==\"]},"
	    "\"el\":[],\"em\":{},\"f\":false,\"l\":[1,\"x\",null,true,{\"m\":{\"deep\":[[]]}}],"
	    "\"m\":{\"$M\":{\"$N\":\"not a number\"}},"
	    "\"n38\":{\"$N\":\"12345678901234567890123456789012345678\"},\"neg\":-0.1,"
	    "\"ns\":{\"$NS\":[-3,1,\"2.5\"]},\"nul\":null,\"ss\":{\"$SS\":[\"a\",\"b\"]},"
	    "\"tiny\":{\"$N\":\"1e-130\"}}",
	    "{\"id\":\"h\\u00e9llo \\\"q\\\" \\n\\t\\ud83d\\ude00\",\"z\":\"\\u0000\",\"\\u00e9\":\"\\/\"}",
	    "{\"id\":\"\xc3\xa9\xf0\x9f\x98\x80\",\"s\":\"\xe2\x82\xac\"}",
	    "{\"id\":\"a\",\"$N\":1,\"x\":{\"$M\":{}}}",
	    "{\"id\":\"a\",\"b\":{\"$B\":\"\"},\"e\":\"\"}",
	    /* maps whose first attribute is named like a tag: ordinary maps */
	    "{\"id\":\"a\",\"r\":{\"$N\":true,\"id\":\"u\",\"r\":\"0\"}}",
	    "{\"id\":\"a\",\"r\":{\"$N\":\"5\",\"x\":1},\"s\":{\"$SS\":[\"b\",\"a\"],\"t\":2}}",
	    "{\"id\":\"a\",\"r\":{\"$M\":{\"a\":1,\"b\":2},\"x\":1}}",
	    "{\"id\":\"a\",\"x\":{\"$N\":1,\"y\":2}}",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_taken(ok[i], strlen(ok[i]), "id", NULL);
	assert_taken("{\"pk\":\"p\",\"sk\":7,\"a\":1}", strlen("{\"pk\":\"p\",\"sk\":7,\"a\":1}"), "pk", "sk");
	assert_taken("{\"sk\":\"s\",\"a\":1,\"pk\":2}", strlen("{\"sk\":\"s\",\"a\":1,\"pk\":2}"), "pk", "sk");
}
END_TEST

/* Anything else goes to item_parse: errors, and valid forms it need not handle. */
START_TEST(test_parse_stored_declines_the_rest)
{
	static const char *const no[] = {
	    "", "[1]", "{}", "{\"a\":1}",			     /* no item, no key */
	    "{\"id\":\"a\",\"a\":1,\"a\":2}",		     /* duplicate */
	    "{\"id\":\"a\",\"b\":1,\"a\":2,\"b\":3}",	     /* duplicate, out of order */
	    "{\"id\":\"a\",\"abcdefghij\":1,\"b\":2,\"abcdefghij\":3}", /* past the prefix */
	    "{\"id\":\"a\",\"id\":\"b\"}",		     /* duplicate key */
	    "{\"id\":\"a\",\"m\":{\"b\":1,\"a\":2}}",	     /* unsorted nested map */
	    "{\"id\":\"a\",\"s\":{\"$SS\":[\"b\",\"a\"]}}",  /* unsorted set (valid) */
	    "{\"id\":\"a\",\"s\":{\"$SS\":[\"a\",\"a\"]}}",  /* duplicate element */
	    "{\"id\":\"a\",\"s\":{\"$NS\":[1,\"1.0\"]}}",    /* equal numbers */
	    "{\"id\":\"a\",\"s\":{\"$SS\":[]}}",	     /* empty set */
	    "{\"id\":{\"$B\":\"AA==\"}}",		     /* B key: left to item_parse */
	    "{\"id\":{\"$N\":\"5\"}}",			     /* tagged key */
	    "{\"id\":true}", "{\"id\":[1]}",		     /* wrong key types */
	    "{\"$M\":{\"id\":\"a\"}}",			     /* tagged value at the top */
	    "{\"id\":\"a\",\"r\":{\"$M\":{\"b\":1,\"a\":2},\"x\":1}}", /* unsorted inside */
	    "{\"id\":\"a\",\"x\":{\"$N\":\"abc\"}}",	     /* bad number */
	    "{\"id\":\"a\",\"x\":{\"$N\":true}}",	     /* a tag's bad value */
	    "{\"id\":\"a\",\"x\":{\"$N\":true,}}",	     /* ... and a comma */
	    "{\"id\":\"a\",\"x\":{\"$N\":1,\"$N\":2}}",	     /* a duplicate tag name */
	    "{\"id\":\"a\",\"x\":{\"$B\":\"!!\"}}",	     /* bad base64 */
	    "{\"id\":\"a\",\"x\":[1,]}", "{\"id\":\"a\",}", /* trailing commas */
	    "{\"id\":\"a\"} x", "{\"id\":\"a\"",	     /* after, unterminated */
	    "{\"id\":\"a\",\"\\u0000\":1}",		     /* NUL in a name */
	    "{\"id\":\"a\",\"x\":\"\xff\"}",		     /* invalid UTF-8 */
	    "{\"id\":\"a\",\"x\":01}", "{\"id\":NaN}",	     /* numbers */
	    "{\"id\":\"a\",\"x\":1e999}",
	    "\xef\xbb\xbf{\"id\":\"a\"}",		     /* BOM: item_parse's business */
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_declined(no[i], "id", NULL);
	assert_declined("{\"pk\":\"p\",\"a\":1}", "pk", "sk"); /* no sort key */
}
END_TEST

/* Lists, maps and sets of 128 members and more need a wider count. */
START_TEST(test_parse_stored_widens_counts)
{
	size_t cap = 1 << 20, len, i;
	char *t = malloc(cap);

	ck_assert_ptr_nonnull(t);
	len = (size_t)sprintf(t, "{\"id\":\"a\",\"l\":[");
	for (i = 0; i < 20000; i++)
		len += (size_t)sprintf(t + len, "%s%zu", i ? "," : "", i);
	len += (size_t)sprintf(t + len, "],\"m\":{");
	for (i = 0; i < 300; i++)
		len += (size_t)sprintf(t + len, "%s\"k%05zu\":[{}]", i ? "," : "", i);
	len += (size_t)sprintf(t + len, "},\"s\":{\"$SS\":[");
	for (i = 0; i < 200; i++)
		len += (size_t)sprintf(t + len, "%s\"%05zu\"", i ? "," : "", i);
	len += (size_t)sprintf(t + len, "]}");
	for (i = 0; i < 130; i++)
		len += (size_t)sprintf(t + len, ",\"z%03zu\":%zu", i, i);
	len += (size_t)sprintf(t + len, "}");
	assert_taken(t, len, "id", NULL);
	free(t);
}
END_TEST

/* The limits hold exactly where item_parse's do. */
START_TEST(test_parse_stored_limits)
{
	size_t n = 400 * 1024 - 2 - 1, len; /* names "id" + "s" */
	char *t = malloc(n + 64), deep[256];
	int i;

	ck_assert_ptr_nonnull(t);
	/* exactly 400 KB: taken; one byte more: declined (item_parse: EFBIG) */
	len = (size_t)sprintf(t, "{\"id\":\"\",\"s\":\"");
	memset(t + len, 'x', n);
	len += n;
	memcpy(t + len, "\"}", 3);
	assert_taken(t, len + 2, "id", NULL);
	memcpy(t + len, "x\"}", 4);
	assert_declined(t, "id", NULL);
	ck_assert_int_eq(item_parse(t, len + 3, &(struct val){0}, NULL), -EFBIG);
	free(t);
	/* 32 levels of nesting below the item: taken; 33: declined */
	for (int levels = 32; levels <= 33; levels++) {
		len = (size_t)sprintf(deep, "{\"id\":\"a\",\"l\":");
		for (i = 0; i < levels; i++)
			deep[len++] = '[';
		for (i = 0; i < levels; i++)
			deep[len++] = ']';
		deep[len++] = '}';
		deep[len] = 0;
		if (levels == 32) {
			assert_taken(deep, len, "id", NULL);
		} else {
			ck_assert_int_lt(item_parse(deep, len, &(struct val){0}, NULL), 0);
			assert_declined(deep, "id", NULL);
		}
	}
}
END_TEST

/* Top-level names in any order are put in order (the prefix compare, and
 * names equal in their first 8 bytes); more than 64 out of order decline. */
START_TEST(test_parse_stored_sorts_the_top_level)
{
	static const char *const ok[] = {
	    "{\"id\":\"a\",\"b\":1,\"a\":2}",
	    "{\"c\":[1],\"id\":\"a\",\"b\":{\"y\":1,\"z\":2},\"a\":null}",
	    "{\"id\":\"a\",\"abcdefghij\":1,\"abcdefgh\":2,\"abcdefghi\":3,\"abcdefga\":4}",
	    "{\"ab\":1,\"a\":2,\"id\":\"x\",\"\":3,\"\u00e9\":4,\"\\u0041\":5}",
	    "{\"username\":\"hedy\",\"password\":\"p\",\"email\":\"h@x.org\",\"created\":1681239902406,"
	    "\"teacher_request\":null,\"epoch\":1,\"experience_languages\":[\"other\"],"
	    "\"verification_pending\":\"v\",\"program_count\":31}",
	};
	char t[8192];
	size_t len, i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_taken(ok[i], strlen(ok[i]), strstr(ok[i], "username") ? "username" : "id",
			     NULL);
	assert_taken("{\"z\":1,\"sk\":\"s\",\"a\":1,\"pk\":2}", strlen("{\"z\":1,\"sk\":\"s\",\"a\":1,\"pk\":2}"),
		     "pk", "sk");
	/* 64 members after one out of order: taken (and 130: a wide count) */
	for (size_t total = 64; total <= 130; total += 66) {
		len = (size_t)sprintf(t, "{\"id\":\"a\"");
		for (i = total; i-- > 0;)
			len += (size_t)sprintf(t + len, ",\"k%03zu\":%zu", i, i);
		len += (size_t)sprintf(t + len, "}");
		if (total == 64)
			assert_taken(t, len, "id", NULL);
		else
			assert_declined(t, "id", NULL);
	}
	/* in order, any number */
	len = (size_t)sprintf(t, "{\"id\":\"a\"");
	for (i = 0; i < 200; i++)
		len += (size_t)sprintf(t + len, ",\"k%03zu\":%zu", i, i);
	len += (size_t)sprintf(t + len, "}");
	assert_taken(t, len, "id", NULL);
}
END_TEST

/* Captured attributes: S and bare N values as item_parse has them, absent
 * ones VAL_NULL; any other type (or a tagged S/N) declines. */
START_TEST(test_parse_stored_captures)
{
	static const char *const caps[] = {"email", "epoch", "created"};
	static const char *const ok[] = {
	    "{\"id\":\"a\",\"email\":\"a@x\",\"epoch\":1,\"created\":-1.5e3}",
	    "{\"email\":\"alice@mail.example\",\"id\":\"a\",\"epoch\":1681239902406}",
	    "{\"created\":12345678901234567890123456789012345678,\"id\":\"a\"}",
	    "{\"id\":\"a\",\"email\":\"\",\"x\":[\"email\"]}",
	    "{\"id\":\"a\",\"email\":\"\\u00e9\\n\",\"m\":{\"epoch\":true}}",
	    "{\"id\":\"a\"}",
	};
	static const char *const no[] = {
	    "{\"id\":\"a\",\"email\":true}",
	    "{\"id\":\"a\",\"epoch\":null}",
	    "{\"id\":\"a\",\"epoch\":[1]}",
	    "{\"id\":\"a\",\"email\":{\"$B\":\"AA==\"}}",
	    "{\"id\":\"a\",\"epoch\":{\"$N\":\"1\"}}",
	    "{\"id\":\"a\",\"email\":{\"$SS\":[\"a\"]}}",
	    "{\"id\":\"a\",\"epoch\":1,\"epoch\":2}",
	};
	size_t i;

	st.cap_names = caps;
	st.ncap = 3;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_taken(ok[i], strlen(ok[i]), "id", NULL);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_declined(no[i], "id", NULL);
}
END_TEST

/* ---- the names a session has seen (st->names), over many lines ---- */

static uint32_t names_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Names: prefixes of each other, equal in 8 bytes, long, escaped spellings
 * of plain ones, UTF-8, empty, and enough of them to fill the table. */
static const char *const pool[] = {
    "password", "email", "language", "keyword_language", "created", "teacher_request",
    "third_party", "last_login", "country", "birth_year", "gender", "prog_experience", "epoch",
    "experience_languages", "is_teacher", "heard_about", "verification_pending",
    "program_count", "emailx", "e", "epochs", "verification_pendinG",
    "a name of more than thirty bytes, never matched as text", "\\u0065mail", "\xc3\xa9t\xc3\xa9",
    "\\u00e9t\\u00e9", "", "abcdefgh", "abcdefghi", "abcdefga", "ABCDEFGH1", "z",
};

/* A value: strings short and long (over 16 bytes: the vector copy), with
 * escapes and UTF-8 at various places, numbers, lists, a sorted map. */
static size_t random_value(uint32_t *x, char *o, bool num_or_str)
{
	static const char *const strs[] = {
	    "\"\"", "\"a\"", "\"hedy@hedy.org\"", "\"$2b$09$44c832468d3df7e445ec8c\"",
	    "\"0123456789abcdef\"", "\"0123456789abcde\"", "\"0123456789abcdef0\"",
	    "\"a long string of plain text, longer than two vectors\"",
	    "\"with \\\"escapes\\\" \\n inside a long enough string\"", "\"\\u00e9\"",
	    "\"UTF-8 \xc3\xa9 after fifteen \xe2\x82\xac\"", "\"0123456789abcdef\\\\\"",
	};
	static const char *const nums[] = {"1", "-1", "0", "-0", "31", "1681239902406", "1.5",
					   "-0.05", "100", "1e3", "12345678901234567890123456789012345678"};
	static const char *const other[] = {"null", "true", "false", "[]", "{}",
					    "[\"other_block\",\"other_text\",\"scratch\"]",
					    "{\"a\":1,\"b\":[\"x\"]}", "[1,{\"$N\":\"2\"}]"};
	const char *v;
	unsigned k = names_rand(x) % (num_or_str ? 2 : 3);

	if (k == 0)
		v = strs[names_rand(x) % (sizeof(strs) / sizeof(strs[0]))];
	else if (k == 1)
		v = nums[names_rand(x) % (sizeof(nums) / sizeof(nums[0]))];
	else
		v = other[names_rand(x) % (sizeof(other) / sizeof(other[0]))];
	memcpy(o, v, strlen(v));
	return strlen(v);
}

/* Is pool name i the same name as j (an escaped spelling of it)? */
static bool same_name(size_t i, size_t j)
{
	static const size_t alias[][2] = {{1, 23}, {24, 25}};

	if (i == j)
		return true;
	for (size_t a = 0; a < 2; a++)
		if ((alias[a][0] == i && alias[a][1] == j) || (alias[a][0] == j && alias[a][1] == i))
			return true;
	return false;
}

/*
 * Lines as a bulk import sends them - mostly one order with names left
 * out, sometimes shuffled, blanks here and there, now and then a name
 * twice - through one struct item_stored: each is taken with item_parse's
 * record, or declined exactly when a name repeats.  The table fills up
 * (more names than NAMES_MAX come by), so lines mix names with entries and
 * names without.
 */
static void names_over_lines(bool captures, uint32_t seed)
{
	static const char *const caps[] = {"email", "epoch", "created"};
	size_t npool = sizeof(pool) / sizeof(pool[0]), pick[48], np, i, j, len;
	char t[8192], extra[64][12];
	uint32_t x = seed;
	bool dup;
	int rc;

	st.cap_names = caps;
	st.ncap = captures ? 3 : 0;
	for (i = 0; i < 64; i++)
		sprintf(extra[i], "x%02zu", i);
	for (int line = 0; line < 4000; line++) {
		/* the usual order, names left out; past line 2000 more names */
		np = 0;
		for (i = 0; i < npool; i++)
			if (names_rand(&x) % 4)
				pick[np++] = i;
		if (line > 2000)
			for (i = 0; i < 8 && np < 48; i++)
				pick[np++] = npool + names_rand(&x) % 64;
		if (names_rand(&x) % 8 == 0) /* shuffled */
			for (i = np; i > 1; i--) {
				j = names_rand(&x) % i;
				size_t tmp = pick[i - 1];
				pick[i - 1] = pick[j];
				pick[j] = tmp;
			}
		if (np && names_rand(&x) % 16 == 0) /* a name twice */
			pick[names_rand(&x) % np] = pick[names_rand(&x) % np];
		dup = false;
		for (i = 0; i < np; i++)
			for (j = i + 1; j < np; j++)
				dup = dup || (pick[i] < npool && pick[j] < npool ? same_name(pick[i], pick[j])
									      : pick[i] == pick[j]);
		len = (size_t)sprintf(t, "{\"username\":\"u%d\"", line);
		for (i = 0; i < np; i++) {
			const char *name = pick[i] < npool ? pool[pick[i]] : extra[pick[i] - npool];
			bool cap = captures && (!strcmp(name, "email") || !strcmp(name, "epoch") ||
						!strcmp(name, "created") || !strcmp(name, "\\u0065mail"));

			len += (size_t)sprintf(t + len, names_rand(&x) % 10 ? ",\"%s\":" : " , \"%s\" : ",
					       name);
			len += random_value(&x, t + len, cap);
		}
		t[len++] = '}';
		t[len] = 0;
		if (dup) {
			rc = item_parse_stored(t, len, "username", NULL, &st);
			ck_assert_msg(rc == 1, "taken with a name twice: %s", t);
		} else {
			assert_taken(t, len, "username", NULL);
		}
	}
}

START_TEST(test_parse_stored_names_over_lines)
{
	names_over_lines(false, 12345);
}
END_TEST

START_TEST(test_parse_stored_names_over_lines_with_captures)
{
	names_over_lines(true, 777);
}
END_TEST

/* A name expected next must match as a whole: a longer name, one that
 * differs in its last byte, or an escaped spelling is another text. */
START_TEST(test_parse_stored_expected_names_match_whole)
{
	static const char *const lines[] = {
	    "{\"id\":\"a\",\"email\":1,\"epoch\":2}",
	    "{\"id\":\"a\",\"emailx\":1,\"epoch\":2}",
	    "{\"id\":\"a\",\"emai\":1,\"epoch\":2}",
	    "{\"id\":\"a\",\"\\u0065mail\":1,\"epoch\":2}",
	    "{\"id\":\"a\",\"email\":1,\"epocH\":2}",
	    "{\"id\":\"a\",\"email\":1,\"epoch\" : 2}",
	    "{\"id\":\"a\",\"email\":1,\"epoch\":2,\"email\":3}",
	    "{\"id\":\"a\",\"email\":1}",
	    "{\"id\":\"a\",\"epoch\":2,\"email\":1}",
	};
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			if (strstr(lines[i], "\"email\":3"))
				assert_declined(lines[i], "id", NULL);
			else
				assert_taken(lines[i], strlen(lines[i]), "id", NULL);
		}
	/* the same names at the very end of the text (no 32 bytes left) */
	assert_taken("{\"id\":\"a\",\"email\":1}", strlen("{\"id\":\"a\",\"email\":1}"), "id", NULL);
	assert_declined("{\"id\":\"a\",\"email\":1,\"email\":1}", "id", NULL);
}
END_TEST

Suite *item_stored_suite(void);
Suite *item_stored_suite(void)
{
	Suite *s = suite_create("item_stored");
	TCase *tc = tcase_create("item_parse_stored");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_stored_takes_canonical_items);
	tcase_add_test(tc, test_parse_stored_declines_the_rest);
	tcase_add_test(tc, test_parse_stored_widens_counts);
	tcase_add_test(tc, test_parse_stored_limits);
	tcase_add_test(tc, test_parse_stored_sorts_the_top_level);
	tcase_add_test(tc, test_parse_stored_captures);
	tcase_add_test(tc, test_parse_stored_names_over_lines);
	tcase_add_test(tc, test_parse_stored_names_over_lines_with_captures);
	tcase_add_test(tc, test_parse_stored_expected_names_match_whole);
	suite_add_tcase(s, tc);
	return s;
}
