/*
 * check_item_codec.c - the item codec's output side: canonical and
 * compact rendering (byte for byte), DynamoDB's size rules and value
 * checks, the binary form, and round-trip properties over a seeded random
 * generator of items covering all ten types.  Parsing and its rejection
 * rules are in check_item.c; helpers both share are in fix_item.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "fix_item.h"

/* ---- helpers ---- */

static char *render_compact(const struct val *v)
{
	char *out;
	size_t len;

	ck_assert_int_eq(item_render_compact(v, NULL, NULL, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	return out;
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
 * (the first one or two attributes play the keys, whatever their types);
 * item_render_blob what item_render writes, and item_blob_text_len and
 * item_render_len count its length.
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
	free(want);
	/* the canonical form from the blob, and its length counted */
	{
		char *cw, *cg;
		size_t cwl, cgl, cnt;

		ck_assert_int_eq(item_render(x, pk->name, sk ? sk->name : NULL, &cw, &cwl), 0);
		ck_assert_int_eq(item_render_blob(pk->name, &pk->v, sk ? sk->name : NULL,
						  sk ? &sk->v : NULL, blob, blen, &cg, &cgl),
				 0);
		ck_assert_str_eq(cg, cw);
		ck_assert_uint_eq(cgl, cwl);
		ck_assert_int_eq(item_blob_text_len(pk->name, &pk->v, sk ? sk->name : NULL,
						    sk ? &sk->v : NULL, blob, blen, &cnt),
				 0);
		ck_assert_uint_eq(cnt, cwl);
		ck_assert_uint_eq(item_render_len(x, pk->name, sk ? sk->name : NULL), cwl);
		free(cg);
		free(cw);
	}
	ck_assert_int_eq(item_render_compact(x, pk->name, sk ? sk->name : NULL, &want, &wlen), 0);
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

/*
 * item_text_join against the journal's own rendering (the reference
 * path): a random item split into the attributes a file states (rendered
 * pretty or compact, with a BOM and whitespace around it) and up to two
 * added ones; the joined text parses to the whole item, as the item's
 * compact rendering does.
 */
START_TEST(test_text_join_random_items)
{
	static const char *const lead[] = {"", " ", "\n\t ", "\xef\xbb\xbf", "\xef\xbb\xbf \r\n"};
	static const char *const tail[] = {"", "\n", " \n\n", "\t"};

	int joined = 0, refused = 0, rc;

	rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 3000; i++) {
		struct val x, rest, add, j, r;
		char *body, *text, *buf, *ref;
		const char *out;
		size_t blen, len, olen, rlen, nadd = 0;
		const char *l = lead[rnd() % 5], *t = tail[rnd() % 4];

		gen_item(&x);
		val_init_map(&rest);
		val_init_map(&add);
		for (size_t k = 0; k < x.m.len; k++) {
			struct val c;
			bool to_add = nadd < 2 && rnd() % 3 == 0;

			ck_assert_int_eq(val_copy(&c, &x.m.a[k].v), 0);
			ck_assert_int_eq(val_map_set(to_add ? &add : &rest, x.m.a[k].name,
						     x.m.a[k].name_len, &c), 0);
			nadd += to_add;
		}
		if (rnd() % 2)
			ck_assert_int_eq(item_render(&rest, NULL, NULL, &body, &blen), 0);
		else
			ck_assert_int_eq(item_render_compact(&rest, NULL, NULL, &body, &blen), 0);
		len = strlen(l) + blen + strlen(t);
		text = malloc(len + 1);
		ck_assert_ptr_nonnull(text);
		snprintf(text, len + 1, "%s%s%s", l, body, t);
		rc = item_text_join(text, len, rnd() % 4 || nadd ? &add : NULL, &buf, &out, &olen);
		if (rc == -EINVAL) { /* a tag's name first in text or added */
			size_t f = strspn(body + 1, " \t\r\n") + 1;
			bool tag = body[f] == '"' && (body[f + 1] == '$' || body[f + 1] == '\\');

			for (size_t k = 0; k < add.m.len; k++)
				tag |= add.m.a[k].name[0] == '$';
			ck_assert(tag);
			ck_assert(nadd > 0);
			refused++;
			goto next;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert(buf ? out == buf : (out >= text && out < text + len));
		ck_assert_int_eq(out[0], '{');
		ck_assert_int_eq(out[olen - 1], '}');
		ck_assert_int_eq(item_parse_value(out, olen, &j, NULL), 0);
		ck_assert(val_equal(&j, &x));
		/* the reference: the journal's rendering of the whole item */
		ck_assert_int_eq(item_render_compact(&x, NULL, NULL, &ref, &rlen), 0);
		ck_assert_int_eq(item_parse_value(ref, rlen, &r, NULL), 0);
		ck_assert(val_equal(&j, &r));
		val_free(&r);
		val_free(&j);
		free(ref);
		free(buf);
		joined++;
	next:
		free(text);
		free(body);
		val_free(&add);
		val_free(&rest);
		val_free(&x);
	}
	ck_assert_int_gt(joined, 1000); /* the generator names many attributes "$..." */
	ck_assert_int_eq(joined + refused, 3000);
}
END_TEST

/* What item_text_join refuses or passes through as it is. */
START_TEST(test_text_join_edges)
{
	struct val add, v, j;
	char *buf;
	const char *out;
	size_t olen;

	val_init_map(&add);
	ck_assert_int_eq(val_init_str(&v, "p1", 2), 0);
	ck_assert_int_eq(val_map_set(&add, "p", 1, &v), 0);
	ck_assert_int_eq(item_text_join("[1]", 3, &add, &buf, &out, &olen), -EINVAL);
	ck_assert_int_eq(item_text_join("  ", 2, &add, &buf, &out, &olen), -EINVAL);
	ck_assert_int_eq(item_text_join(" {} ", 4, &add, &buf, &out, &olen), 0);
	ck_assert_int_eq(olen, 10);
	ck_assert_int_eq(memcmp(out, "{\"p\":\"p1\"}", olen), 0);
	free(buf);
	ck_assert_int_eq(item_text_join("{ \"a\" : 1 }\n", 12, &add, &buf, &out, &olen), 0);
	ck_assert_int_eq(item_parse_value(out, olen, &j, NULL), 0);
	ck_assert_int_eq(j.m.len, 2);
	val_free(&j);
	free(buf);
	ck_assert_int_eq(item_text_join("\n{\"a\":1}\n", 9, NULL, &buf, &out, &olen), 0);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(olen, 7);
	val_free(&add);
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

Suite *item_codec_suite(void);
Suite *item_codec_suite(void)
{
	Suite *s = suite_create("item_codec");
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
	tcase_add_test(tc, test_text_join_random_items);
	tcase_add_test(tc, test_text_join_edges);
	tcase_add_test(tc, test_blob_render_tag_named_key);
	tcase_add_test(tc, test_parse_arena_matches);
	tcase_add_test(tc, test_arena_reset_after_many_blocks);
	tcase_add_test(tc, test_round_trip_random_values);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
