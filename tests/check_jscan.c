/*
 * check_jscan.c - refusal at write(): the incremental scanner
 * (engine/jscan.c) and the write-sequence bookkeeping (fs/wcheck.c).
 * Documents are split at every byte offset: the full check must run
 * exactly once, at the write that completes (or breaks) the document,
 * and agree with what item_parse says of the whole text.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "jscan.h"
#include "wcheck.h"

static const char *const good[] = {
	"{}",
	"{}\n",
	"  \n{\"a\": 1}\n\n",
	"{\"a\": \"}]{[\", \"b\": [1, [2, {\"c\": \"\\\"}\"}]]}\n",
	"{\"s\": \"back\\\\\", \"t\": \"\\u00e9\\\\\\\"\"}",
	"{\"set\": {\"$SS\": [\"x\", \"y\"]}, \"n\": -1.5e3, \"z\": null}\n",
	"\xef\xbb\xbf{\"bom\": true}\n",
	"{\"k\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
};

/* where each bad text breaks (offset of the offending byte) */
static const struct {
	const char *text;
	size_t bad;
} bad[] = {
	{"hello\n", 0},
	{"  [1]", 2},
	{"{\"a\": \"b\n\"}", 8},
	{"{\"a\": [1}", 8},
	{"{\"a\": {]", 7},
	{"{}x", 2},
	{"{} {}", 3},
	{"{}\n{\"a\": 1}\n", 3},
	{"\"str\"", 0},
	{"{\"a\": 1}}", 8},
};

/* ---- jscan ---- */

START_TEST(test_feed_complete_at_every_split)
{
	size_t d, k, n, end;
	struct jscan s;

	for (d = 0; d < sizeof(good) / sizeof(good[0]); d++) {
		const char *t = good[d];

		n = strlen(t);
		end = strrchr(t, '}') - t + 1;
		for (k = 0; k <= n; k++) {
			jscan_init(&s);
			ck_assert_int_eq(jscan_feed(&s, t, k), k < end ? JSCAN_MORE : JSCAN_DONE);
			ck_assert_int_eq(jscan_feed(&s, t + k, n - k), JSCAN_DONE);
			ck_assert_uint_eq(s.end, end);
		}
		/* byte by byte */
		jscan_init(&s);
		for (k = 0; k < n; k++)
			ck_assert_int_eq(jscan_feed(&s, t + k, 1),
					 k + 1 < end ? JSCAN_MORE : JSCAN_DONE);
	}
}
END_TEST

/* Random documents with long strings (plain runs, escapes, raw quotes,
 * control bytes, UTF-8) fed in random pieces agree, state for state,
 * with the same bytes fed one at a time: the eight-at-a-time skip of
 * plain string bytes (jsonbytes.h) against the bytewise path. */
static uint64_t rng = 0x853c49e6748fea9bULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static size_t gen_str(char *p)
{
	static const char *const bits[] = {"a",	"xxxxxxxx", "0123456789abcdef", "\\\"", "\\\\",
					   "\\n",	"\xc3\xa9",	    " ",		"\"",	   "\x01",
					   "\n",	"\x1f",	    "\x7f\x80\xff"};
	size_t n = 0;
	unsigned k = rnd(12);

	for (unsigned i = 0; i < k; i++) {
		/* mostly plain: quotes and control bytes now and then */
		const char *b = bits[rnd(10) < 8 ? rnd(8) : rnd(13)];

		memcpy(p + n, b, strlen(b));
		n += strlen(b);
	}
	return n;
}

START_TEST(test_feed_pieces_match_bytewise)
{
	char doc[4096];
	struct jscan a, b;

	for (int round = 0; round < 4000; round++) {
		size_t n = 0, k, step;

		n += (size_t)sprintf(doc + n, "{\"s\": \"");
		n += gen_str(doc + n);
		n += (size_t)sprintf(doc + n, "\", \"t\": [\"");
		n += gen_str(doc + n);
		n += (size_t)sprintf(doc + n, "\", {\"u\": \"");
		n += gen_str(doc + n);
		n += (size_t)sprintf(doc + n, "\"}]}%s", rnd(4) ? "\n" : " x");
		jscan_init(&a);
		jscan_init(&b);
		for (k = 0; k < n; k += step) {
			step = 1 + rnd(rnd(2) ? 40 : 8);
			if (step > n - k)
				step = n - k;
			enum jscan_verdict va = jscan_feed(&a, doc + k, step), vb = JSCAN_MORE;

			for (size_t j = k; j < k + step; j++)
				vb = jscan_feed(&b, doc + j, 1);
			ck_assert_int_eq(va, vb);
			ck_assert_uint_eq(a.off, b.off);
			ck_assert_int_eq(a.in_str, b.in_str);
			ck_assert_int_eq(a.esc, b.esc);
			ck_assert_uint_eq(a.depth, b.depth);
			if (va == JSCAN_BAD)
				ck_assert_uint_eq(a.bad, b.bad);
			if (va == JSCAN_DONE)
				ck_assert_uint_eq(a.end, b.end);
		}
	}
}
END_TEST

START_TEST(test_feed_breaks_at_the_offending_byte)
{
	size_t d, k, n;
	struct jscan s;

	for (d = 0; d < sizeof(bad) / sizeof(bad[0]); d++) {
		const char *t = bad[d].text;

		n = strlen(t);
		for (k = 0; k <= n; k++) {
			jscan_init(&s);
			if (k > bad[d].bad)
				ck_assert_int_eq(jscan_feed(&s, t, k), JSCAN_BAD);
			else
				ck_assert_int_ne(jscan_feed(&s, t, k), JSCAN_BAD);
			ck_assert_msg(jscan_feed(&s, t + k, n - k) == JSCAN_BAD, "%s split %zu",
				      t, k);
			ck_assert_uint_eq(s.bad, bad[d].bad);
		}
	}
}
END_TEST

START_TEST(test_feed_incomplete_stays_more)
{
	static const char *const more[] = {"", "  ", "{", "{\"a\": \"}", "{\"a\": [1, {",
					   "{\"a\": \"\\"};
	struct jscan s;
	size_t i;

	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		jscan_init(&s);
		ck_assert_int_eq(jscan_feed(&s, more[i], strlen(more[i])), JSCAN_MORE);
	}
}
END_TEST

START_TEST(test_feed_depth_limit)
{
	char buf[2 * JSCAN_MAX_DEPTH + 8];
	struct jscan s;
	size_t i, n = 0;

	buf[n++] = '{';
	buf[n++] = '"';
	buf[n++] = 'a';
	buf[n++] = '"';
	buf[n++] = ':';
	for (i = 1; i < JSCAN_MAX_DEPTH; i++)
		buf[n++] = '[';
	jscan_init(&s);
	ck_assert_int_eq(jscan_feed(&s, buf, n), JSCAN_MORE);
	ck_assert_int_eq(jscan_feed(&s, "[", 1), JSCAN_BAD);
	ck_assert_uint_eq(s.bad, n);
}
END_TEST

/* ---- wcheck: one sequence of writes ---- */

/*
 * Write text in two pieces split at k through wcheck, running item_parse
 * whenever it says so.  Returns how many full checks ran; *rc the last
 * result, *failed_write which write failed (0: none, 1, 2).
 */
static int write_split(const char *text, size_t k, int *rc, int *failed_write)
{
	struct wcheck w;
	size_t n = strlen(text), len = 0, cut[3] = {0, k, n};
	int checks = 0, i;
	struct val v;

	*rc = 0;
	*failed_write = 0;
	wcheck_start(&w);
	for (i = 0; i < 2; i++) {
		size_t sz = cut[i + 1] - cut[i];
		int r = 0;

		switch (wcheck_write(&w, (off_t)len, len, text + cut[i], sz)) {
		case WC_CHECK:
			checks++;
			r = item_parse(text, cut[i + 1], &v, NULL);
			if (r == 0)
				val_free(&v);
			wcheck_result(&w, r);
			*rc = r;
			break;
		case WC_REFUSED:
			r = w.refused;
			break;
		default:
			break;
		}
		len += sz;
		if (r < 0 && !*failed_write)
			*failed_write = i + 1;
	}
	return checks;
}

START_TEST(test_wcheck_checks_once_at_every_split)
{
	static const char *const docs[] = {
		"{\"a\": 1, \"b\": [true, \"x}\"]}\n",
		"{\"a\": {\"$SS\": []}}\n",	  /* empty set: refused */
		"{\"a\": 1, \"a\": 2}\n",	  /* duplicate: refused */
		"{\"email\": }\n",		  /* syntax: refused */
		"{\"a\": 1}\n{\"b\": 2}\n",	  /* a second document */
		"{\"a\": \"unterminated\n\"}\n", /* raw newline in a string */
	};
	size_t d, k, n, end;
	int rc, failed, checks, want;
	struct val v;

	for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		const char *t = docs[d];

		n = strlen(t);
		want = item_parse(t, n, &v, NULL);
		if (want == 0)
			val_free(&v);
		end = strrchr(t, '}') - t + 1;
		for (k = 0; k <= n; k++) {
			checks = write_split(t, k, &rc, &failed);
			ck_assert_msg(checks >= 1 && checks <= 2, "%s split %zu: %d checks", t,
				      k, checks);
			ck_assert_msg((rc < 0) == (want < 0), "%s split %zu: rc %d, parse %d",
				      t, k, rc, want);
			if (want < 0 && d < 4) /* a bad first document: refused once */
				ck_assert_int_eq(checks, 1);
			if (want < 0 && d < 4)
				ck_assert_int_eq(failed, k >= end ? 1 : 2);
			if (want == 0)
				ck_assert_int_eq(failed, 0);
		}
	}
}
END_TEST

START_TEST(test_wcheck_out_of_order_falls_back)
{
	const char *t = "{\"a\": 1}\n";
	struct wcheck w;

	/* a write past the end (a hole), as dd seek= makes */
	wcheck_start(&w);
	ck_assert_int_eq(wcheck_write(&w, 0, 0, t, 3), WC_NONE);
	ck_assert_int_eq(wcheck_write(&w, 5, 3, t + 5, 4), WC_NONE);
	ck_assert(!w.on);
	ck_assert_int_eq(wcheck_write(&w, 3, 9, t + 3, 2), WC_NONE);
	/* a rewrite of the start (an editor's second pass) */
	wcheck_start(&w);
	ck_assert_int_eq(wcheck_write(&w, 0, 0, "{\"a\": 1", 7), WC_NONE);
	ck_assert_int_eq(wcheck_write(&w, 0, 7, "{\"b\"", 4), WC_NONE);
	ck_assert(!w.on);
	ck_assert_int_eq(wcheck_write(&w, 7, 7, "}\n", 2), WC_NONE);
	/* garbage after a refusal stays refused, without a new check */
	wcheck_start(&w);
	ck_assert_int_eq(wcheck_write(&w, 0, 0, "x", 1), WC_CHECK);
	wcheck_result(&w, -EINVAL);
	ck_assert_int_eq(wcheck_write(&w, 1, 1, "{}", 2), WC_REFUSED);
	ck_assert_int_eq(w.refused, -EINVAL);
	/* ...until the buffer is truncated: a new save */
	wcheck_start(&w);
	ck_assert_int_eq(w.refused, 0);
	ck_assert_int_eq(wcheck_write(&w, 0, 0, "{}", 2), WC_CHECK);
	wcheck_result(&w, 0);
	ck_assert(w.checked);
	ck_assert_int_eq(wcheck_write(&w, 2, 2, "\n \n", 3), WC_NONE);
	ck_assert(w.checked);
	ck_assert_int_eq(wcheck_write(&w, 5, 5, "x", 1), WC_CHECK);
	ck_assert(!w.checked);
}
END_TEST

Suite *jscan_suite(void);
Suite *jscan_suite(void)
{
	Suite *s = suite_create("jscan");
	TCase *tc = tcase_create("jscan_feed");

	tcase_add_test(tc, test_feed_complete_at_every_split);
	tcase_add_test(tc, test_feed_pieces_match_bytewise);
	tcase_add_test(tc, test_feed_breaks_at_the_offending_byte);
	tcase_add_test(tc, test_feed_incomplete_stays_more);
	tcase_add_test(tc, test_feed_depth_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("wcheck_write");
	tcase_add_test(tc, test_wcheck_checks_once_at_every_split);
	tcase_add_test(tc, test_wcheck_out_of_order_falls_back);
	suite_add_tcase(s, tc);
	return s;
}
