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
	suite_add_tcase(s, tc);
	return s;
}
