/*
 * check_ops_batch.c - `_batch` write sessions (ops.h): order, bad lines
 * and their reports, lines split across writes, grouping into shared
 * db_apply calls and journal syncs, failing journals, arena-parsed items
 * across pieces and groups, summaries, and incomplete JSON at the end.
 * The line grammar, single writes and transactions are in check_ops.c.
 *
 * The fixture (fix_ops.h) has the users and quiz-stats tables, and the
 * teardown proves every table and index consistent (db_check_integrity)
 * whatever the test did.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "expr.h"
#include "item.h"
#include "ops.h"
#include "opsint.h"
#include "fix_ops.h"
#include "fix_val.h"

/* ---- helpers ---- */

static const char *summary(ops_batch_t *b)
{
	static char buf[16384];
	char *s;
	size_t len;

	ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
	ck_assert_uint_eq(strlen(s), len);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

/* Run a whole batch text in one feed plus finish; returns feed|finish. */
/* ---- batch sessions ---- */

START_TEST(test_batch_bad_line_fails_the_write_but_not_its_neighbours)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"), 0);
	ck_assert_int_eq(feed(b, "{\"username\": \"c\"}\n{\"username\": \n{\"username\": \"d\"}\n"),
			 -EINVAL);
	ck_assert_int_eq(feed(b, "{\"username\": \"e\"}\n"), 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\"}");
	ck_assert_str_eq(user("c"), "{\"username\":\"c\"}");
	ck_assert_str_eq(user("d"), "{\"username\":\"d\"}");
	ck_assert_str_eq(user("e"), "{\"username\":\"e\"}");
	ck_assert_uint_eq(reps.n, 1);
	ck_assert_str_eq(reps.text, "4 22 username: unexpected end of input, expected a value "
				    "(column 14)\n");
	ck_assert_str_eq(summary(b), "{\"applied\": 5, \"failed\": 1, \"errors\": [{\"line\": 4, "
				     "\"error\": \"username: unexpected end of input, expected a value "
				     "(column 14)\"}]}\n");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_lines_apply_in_order_on_one_item)
{
	ck_assert_int_eq(run_batch(tu, "{\"username\": \"a\", \"n\": 1}\n"
				       "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 10}}\n"
				       "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 100}}\n"
				       "{\"delete\": {\"username\": \"a\"}, \"if\": \"n = 111\"}\n"
				       "{\"username\": \"a\", \"n\": 2}\n"),
			 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\",\"n\":2}");
}
END_TEST

START_TEST(test_batch_split_across_writes_byte_by_byte)
{
	const char *text = "{\"username\": \"a\", \"s\": \"caf\xc3\xa9\"}\n"
			   "{\"update\": {\"username\": \"a\"}, \"add\": {\"n\": 1}}\n"
			   "bad\n"
			   "{\"username\": \"b\"}";
	ops_batch_t *b = batch(tu);
	size_t i;
	int rc = 0, r;

	for (i = 0; text[i]; i++) {
		r = ops_batch_feed(b, text + i, 1);
		if (r)
			rc = r;
	}
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_uint_eq(ops_batch_pending(b), strlen("{\"username\": \"b\"}"));
	ck_assert_str_eq(user("b"), "-");
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ck_assert_str_eq(user("a"), "{\"username\":\"a\",\"n\":1,\"s\":\"caf\xc3\xa9\"}");
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ck_assert_contains(reps.text, "3 22 ");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_unterminated_bad_last_line_fails_finish)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\""), 0);
	ck_assert_int_eq(ops_batch_finish(b), -EINVAL);
	ck_assert_int_eq(ops_batch_finish(b), 0); /* nothing left */
	ck_assert_contains(reps.text, "2 22 ");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_reports_every_bad_line_in_order)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(feed(b, "x\n{\"username\": \"a\"}\ny\n{\"username\": \"b\"}\n"
				 "{\"delete\": {\"username\": \"a\"}, \"if\": \"attribute_exists(q)\"}\n"),
			 -EINVAL);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_str_eq(reps.text, "1 22 unexpected 'x', expected a value (column 1)\n"
				    "3 22 unexpected 'y', expected a value (column 1)\n"
				    "5 125 condition failed: attribute_exists(q)\n");
	ck_assert_str_eq(user("a"), "{\"username\":\"a\"}");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_groups_share_db_apply_calls)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;
	char line[64];
	int i;

	for (i = 0; i < 250; i++) {
		snprintf(line, sizeof(line), "{\"username\": \"u%03d\"}\n", i);
		ck_assert_int_eq(feed(b, line), 0);
	}
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applies, 250); /* each feed applies what it completed */
	ops_batch_free(b);

	b = batch(tu);
	{
		static char big[250 * 64];
		size_t n = 0;

		for (i = 0; i < 250; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n,
					      "{\"username\": \"v%03d\", \"email\": \"%d@x\"}\n", i, i % 7);
		ck_assert_int_eq(feed(b, big), 0);
	}
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 250);
	ck_assert_uint_eq(st.applies, 3);
	ck_assert_uint_eq(count_items(tu), 500);
	ops_batch_free(b);
}
END_TEST

/* A journal that counts its syncs (and can fail them). */
struct count_log {
	uint64_t lsn;	 /* last appended */
	uint64_t syncs;	 /* sync calls */
	int sync_fail;	 /* what sync returns */
};

static int count_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct count_log *l = ctx;

	*lsn = ++l->lsn;
	return 0;
}

static int count_sync(void *ctx, uint64_t lsn)
{
	struct count_log *l = ctx;

	l->syncs++;
	return l->sync_fail;
}

/* Issue 12: a write() holding many groups costs one journal sync. */
START_TEST(test_batch_one_journal_sync_per_feed)
{
	struct count_log l = {0};
	struct db_log log = {.append = count_append, .sync = count_sync, .ctx = &l};
	static char big[250 * 64];
	struct ops_batch_stats st;
	ops_batch_t *b;
	size_t n = 0;
	int i;

	db_set_log(db, &log);
	b = batch(tu);
	for (i = 0; i < 250; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "{\"username\": \"v%03d\", \"email\": \"%d@x\"}\n", i, i % 7);
	ck_assert_int_eq(feed(b, big), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applies, 3);
	ck_assert_uint_eq(l.lsn, 3);
	ck_assert_uint_eq(l.syncs, 1);
	ck_assert_uint_eq(st.syncs, 1);
	/* a bad line in the middle: the lines before it are synced before it is
	 * reported, the ones after it at the end of the feed */
	l.syncs = 0;
	ck_assert_int_eq(feed(b, "{\"username\": \"w1\"}\nnot json\n{\"username\": \"w2\"}\n"),
			 -EINVAL);
	ck_assert_uint_eq(l.syncs, 2);
	ck_assert_str_eq(user("w2"), "{\"username\":\"w2\"}");
	ops_batch_free(b);
	db_set_log(db, NULL);
}
END_TEST

/* A failed sync fails every line it covered; with stop, the feed stops
 * after the first of them. */
START_TEST(test_batch_failed_sync_fails_the_lines_it_covered)
{
	struct count_log l = {.sync_fail = -EIO};
	struct db_log log = {.append = count_append, .sync = count_sync, .ctx = &l};
	const char *text = "{\"username\": \"a\"}\n{\"username\": \"b\"}\n{\"username\": \"c\"}\n";
	struct ops_batch_stats st;
	ops_batch_t *b;
	size_t used;

	db_set_log(db, &log);
	b = batch(tu);
	ck_assert_int_eq(feed(b, text), -EIO);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 0);
	ck_assert_uint_eq(st.failed, 3);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_contains(reps.text, "1 5 the journal could not be synced");
	ck_assert_contains(reps.text, "3 5 the journal could not be synced");
	ops_batch_free(b);

	b = batch(tu);
	ck_assert_int_eq(ops_batch_feed_some(b, text, strlen(text), &used), -EIO);
	ck_assert_uint_eq(used, strlen("{\"username\": \"a\"}\n"));
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 0);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.lines, 1);
	ops_batch_free(b);
	db_set_log(db, NULL);
}
END_TEST

START_TEST(test_batch_group_splits_around_a_failing_line)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;

	put_user("{\"username\": \"c\", \"n\": 1}");
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"
				 "{\"update\": {\"username\": \"c\"}, \"add\": {\"n\": 1}, \"if\": \"n = 5\"}\n"
				 "{\"username\": \"d\"}\n{\"username\": \"e\", \"email\": [1]}\n"
				 "{\"username\": \"f\"}\n"),
			 -EINVAL);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 4);
	ck_assert_uint_eq(st.failed, 2);
	ck_assert_str_eq(user("c"), "{\"username\":\"c\",\"n\":1}");
	ck_assert_str_eq(user("d"), "{\"username\":\"d\"}");
	ck_assert_str_eq(user("e"), "-");
	ck_assert_str_eq(user("f"), "{\"username\":\"f\"}");
	ck_assert_contains(reps.text, "3 125 condition failed: n = 5\n5 22 ");
	ops_batch_free(b);
}
END_TEST

/* ops_batch_feed_some stops right after the first bad line, inside a
 * group: the lines after it are neither applied nor counted, and feeding
 * the rest again applies each of them once. */
START_TEST(test_batch_feed_some_stops_at_the_bad_line)
{
	ops_batch_t *b = batch(tu);
	struct ops_batch_stats st;
	const char *text = "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"
			   "{\"update\": {\"username\": \"c\"}, \"add\": {\"n\": 1}, \"if\": \"n = 5\"}\n"
			   "{\"update\": {\"username\": \"d\"}, \"add\": {\"n\": 1}}\n{\"username\": \"e\"}";
	const char *bad = strstr(text, "{\"update\": {\"username\": \"c\"");
	size_t used, want = (size_t)(strchr(bad, '\n') + 1 - text), used2;

	put_user("{\"username\": \"c\", \"n\": 1}");
	ck_assert_int_eq(ops_batch_feed_some(b, text, strlen(text), &used), -EINVAL);
	ck_assert_uint_eq(used, want);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 2);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.lines, 3);
	ck_assert_str_eq(user("d"), "-");
	ck_assert_uint_eq(ops_batch_pending(b), 0); /* the unterminated end was not taken */
	/* the writer resends the rest, twice split */
	ck_assert_int_eq(ops_batch_feed_some(b, text + used, 10, &used2), 0);
	ck_assert_uint_eq(used2, 10);
	ck_assert_int_eq(ops_batch_feed_some(b, text + used + 10, strlen(text) - used - 10, &used2), 0);
	ck_assert_uint_eq(used2, strlen(text) - used - 10);
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 4);
	ck_assert_uint_eq(st.lines, 5);
	ck_assert_str_eq(user("d"), "{\"username\":\"d\",\"n\":1}");
	ck_assert_str_eq(user("e"), "{\"username\":\"e\"}");
	ck_assert_str_eq(user("c"), "{\"username\":\"c\",\"n\":1}");
	ck_assert_contains(reps.text, "3 125 condition failed: n = 5\n");
	ops_batch_free(b);
}
END_TEST

/* A tiny deterministic generator for the equivalence test. */
static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void random_script(uint32_t seed, char *out, size_t size)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 600 && n + 200 < size; i++) {
		unsigned k = rnd(&seed) % 12, op = rnd(&seed) % 9;

		switch (op) {
		case 0:
		case 1:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"username\": \"k%u\", \"v\": %u, \"email\": \"e%u\"}\n",
					      k, rnd(&seed) % 5, k % 3);
			break;
		case 2:
		case 3:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"update\": {\"username\": \"k%u\"}, \"add\": {\"v\": %u}}\n",
					      k, rnd(&seed) % 3);
			break;
		case 4:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"delete\": {\"username\": \"k%u\"}, \"if\": \"v > 3\"}\n", k);
			break;
		case 5:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"put\": {\"username\": \"k%u\", \"w\": 1}, \"if\": "
					      "\"attribute_not_exists(username)\"}\n",
					      k);
			break;
		case 6:
			n += (size_t)snprintf(out + n, size - n,
					      "{\"update\": {\"username\": \"k%u\"}, \"set\": {\"email\": %s}}\n",
					      k, rnd(&seed) % 4 ? "\"z\"" : "1");
			break;
		case 7:
			n += (size_t)snprintf(out + n, size - n, "{\"delete\": {\"username\": \"k%u\"}}\n", k);
			break;
		default:
			n += (size_t)snprintf(out + n, size - n, "{bad %u\n", k);
		}
	}
}

/* Every item of users, in key order, as one string. */
static int dump_item(void *ctx, const struct item_ref *r)
{
	char *buf = ctx, *text;
	size_t len;
	struct val v;

	ck_assert_int_eq(iref_decode(r, &v), 0);
	ck_assert_int_eq(item_render_compact(&v, "username", NULL, &text, &len), 0);
	strcat(buf, text);
	strcat(buf, "\n");
	free(text);
	val_free(&v);
	return 0;
}

START_TEST(test_batch_grouping_is_equivalent_to_one_by_one)
{
	static char script[200000], a[65536], b2[65536], sa[65536], sb[65536];
	struct tbl_scan scan = {0};
	ops_batch_t *b;
	char *s;
	size_t len;
	uint32_t seed;
	int ra, rb;

	for (seed = 1; seed <= 20; seed++) {
		random_script(seed, script, sizeof(script));
		teardown();
		setup();
		b = batch(tu);
		ops_batch_set_group(b, 1);
		ra = feed(b, script);
		ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
		snprintf(sa, sizeof(sa), "%s", s);
		free(s);
		ops_batch_free(b);
		a[0] = 0;
		ck_assert_int_eq(tbl_scan(tu, &scan, dump_item, a, NULL), 0);
		teardown();
		setup();
		b = batch(tu);
		rb = feed(b, script);
		ck_assert_int_eq(ops_batch_summary(b, &s, &len), 0);
		snprintf(sb, sizeof(sb), "%s", s);
		free(s);
		ops_batch_free(b);
		b2[0] = 0;
		ck_assert_int_eq(tbl_scan(tu, &scan, dump_item, b2, NULL), 0);
		ck_assert_int_eq(ra, rb);
		ck_assert_str_eq(sa, sb);
		ck_assert_str_eq(a, b2);
	}
}
END_TEST

static int log_refuse(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	return -EIO;
}

static int log_sync(void *ctx, uint64_t lsn)
{
	return 0;
}

START_TEST(test_batch_journal_failure_is_eio_and_applies_nothing)
{
	struct db_log log = {.append = log_refuse, .sync = log_sync};
	ops_batch_t *b = batch(tu);

	db_set_log(db, &log);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\nbad\n{\"username\": \"b\"}\n"), -EIO);
	db_set_log(db, NULL);
	ck_assert_uint_eq(count_items(tu), 0);
	ck_assert_uint_eq(reps.n, 3);
	ck_assert_contains(reps.text, "1 5 the journal could not be written");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_overlong_line_is_skipped)
{
	ops_batch_t *b = batch(tu);
	size_t chunk = 1 << 20, i;
	char *junk = malloc(chunk);

	memset(junk, ' ', chunk);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"x\", \"pad\": \""), 0);
	for (i = 0; i < 9; i++)
		if (i < 7)
			ck_assert_int_eq(ops_batch_feed(b, junk, chunk), 0);
		else
			ops_batch_feed(b, junk, chunk);
	ck_assert_uint_eq(reps.n, 1);
	ck_assert_str_eq(reps.text, "2 22 line too long (over 8 MiB)\n");
	ck_assert_uint_eq(ops_batch_pending(b), 0);
	ck_assert_int_eq(feed(b, "\"}\n{\"username\": \"b\"}\n"), 0);
	ck_assert_str_eq(user("x"), "-");
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ck_assert_contains(summary(b), "\"applied\": 2, \"failed\": 1");
	free(junk);
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_summary_escapes_and_sanitizes)
{
	ops_batch_t *b = batch(tu);

	/* a message quoting a non-UTF-8 byte and a quote */
	ck_assert_int_eq(feed(b, "{\"username\": \"\xff\"}\n"), -EINVAL);
	ck_assert_contains(summary(b), "{\"applied\": 0, \"failed\": 1, \"errors\": [{\"line\": 1, "
				       "\"error\": \"");
	ck_assert_ptr_null(strchr(summary(b), '\xff'));
	ops_batch_free(b);
}
END_TEST

START_TEST(test_batch_dropped_table_is_enoent)
{
	ops_batch_t *b = batch(tu);

	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b\"}\n"), -ENOENT);
	ck_assert_contains(reps.text, "was dropped");
	ops_batch_free(b);
}
END_TEST

START_TEST(test_json_incomplete)
{
	static const struct {
		const char *text;
		bool incomplete;
	} cases[] = {
	    {"", true},
	    {" \t\r\n", true},
	    {"{", true},
	    {"{\"a\": [1, {\"b\": \"x", true},
	    {"{\"a\": \"}\\\"", true},
	    {"{\"a\": \"}\\\\\"", true},
	    {"{\"a\": \"}\\\\\"}", false},
	    {"{\"a\": 1}", false},
	    {"{\"a\": ]", false}, /* finished, and wrong */
	    {"tru", false},
	    {"[[]]   ", false},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(ops_json_incomplete(cases[i].text, strlen(cases[i].text)) ==
				  cases[i].incomplete,
			      "%s", cases[i].text);
}
END_TEST

START_TEST(test_batch_pending_incomplete)
{
	ops_batch_t *b = batch(tu);

	ck_assert(!ops_batch_pending_incomplete(b));
	ck_assert_int_eq(feed(b, "{\"username\": \"a\"}\n{\"username\": \"b"), 0);
	ck_assert(ops_batch_pending_incomplete(b));
	ck_assert_int_eq(feed(b, "\"}"), 0);
	ck_assert(!ops_batch_pending_incomplete(b));
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ck_assert_str_eq(user("b"), "{\"username\":\"b\"}");
	ops_batch_free(b);
}
END_TEST

/* Each line of a stream of puts of ONE item closes the group of the line
 * before (same item): the memory of parsed lines stays that of a group or
 * two, however long the stream. */
START_TEST(test_batch_arena_memory_bounded_on_one_item)
{
	static char text[40000 * 400];
	struct ops_batch_stats st;
	size_t len = 0, i;
	ops_batch_t *b;
	char want[512];

	for (i = 0; i < 40000; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"{\"username\": \"same\", \"n\": %zu, \"pad\": \"%0200zu\"}\n", i,
					i);
	b = batch(tu);
	ck_assert_int_eq(ops_batch_feed(b, text, len), 0);
	ops_batch_stats(b, &st);
	ck_assert_uint_eq(st.applied, 40000);
	ck_assert_msg(st.arena_bytes <= 1024 * 1024, "arena holds %llu bytes",
		      (unsigned long long)st.arena_bytes);
	ops_batch_free(b);
	snprintf(want, sizeof(want), "{\"username\":\"same\",\"n\":39999,\"pad\":\"%0200d\"}", 39999);
	ck_assert_str_eq(user("same"), want);
}
END_TEST

/* Bare items parsed into the session's arena stay whole until their group
 * is applied: lines split across feeds (kept in the tail, which the next
 * unterminated end overwrites), groups of every size, envelopes between. */
START_TEST(test_batch_arena_items_across_pieces_and_groups)
{
	static char text[400000];
	static const size_t pieces[] = {1, 7, 97, 4096, 65536};
	size_t len, i, p, k;
	char name[32], want[512];
	ops_batch_t *b;

	for (p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		teardown();
		setup();
		len = 0;
		for (i = 0; i < 700; i++) {
			if (i % 50 == 49)
				len += (size_t)snprintf(text + len, sizeof(text) - len,
							"{\"update\": {\"username\": \"u%zu\"}, "
							"\"add\": {\"n\": 1}}\n",
							i - 1);
			else
				len += (size_t)snprintf(text + len, sizeof(text) - len,
							"{\"z\": \"%0*zu\", \"username\": \"u%zu\", "
							"\"n\": %zu, \"l\": [\"x\", {\"y\": %zu}]}\n",
							(int)(i % 300), i, i, i, i);
		}
		b = batch(tu);
		if (p == 1)
			ops_batch_set_group(b, 3);
		for (i = 0; i < len; i += k) {
			k = len - i < pieces[p] ? len - i : pieces[p];
			ck_assert_int_eq(ops_batch_feed(b, text + i, k), 0);
		}
		ck_assert_int_eq(ops_batch_finish(b), 0);
		ops_batch_free(b);
		ck_assert_uint_eq(count_items(tu), 700 - 700 / 50);
		for (i = 0; i < 700; i++) {
			if (i % 50 == 49)
				continue;
			snprintf(name, sizeof(name), "u%zu", i);
			snprintf(want, sizeof(want),
				 "{\"username\":\"u%zu\",\"l\":[\"x\",{\"y\":%zu}],\"n\":%zu,"
				 "\"z\":\"%0*zu\"}",
				 i, i, i + (i % 50 == 48), (int)(i % 300), i);
			ck_assert_str_eq(user(name), want);
		}
	}
}
END_TEST

/* ---- the stored path (ops_line_parse_stored) against the value tree ---- */

/* A table like Hedy's users (3 indexes) plus an index on a B attribute. */
static table_t *stored_table(const char *name, bool extra)
{
	struct index_def idx[5];
	struct table_schema s;
	table_t *t;
	size_t n = 0;

	memset(&s, 0, sizeof(s));
	memset(idx, 0, sizeof(idx));
	attr_set(&s.pk, "id", VAL_S);
	snprintf(idx[n].name, sizeof(idx[n].name), "idx-e");
	attr_set(&idx[n++].pk, "email", VAL_S);
	snprintf(idx[n].name, sizeof(idx[n].name), "idx-c");
	attr_set(&idx[n].pk, "epoch", VAL_N);
	idx[n].has_sk = true;
	attr_set(&idx[n++].sk, "created", VAL_N);
	snprintf(idx[n].name, sizeof(idx[n].name), "idx-u");
	attr_set(&idx[n].pk, "epoch", VAL_N);
	idx[n].has_sk = true;
	attr_set(&idx[n].sk, "id", VAL_S);
	idx[n++].proj = PROJ_KEYS_ONLY;
	snprintf(idx[n].name, sizeof(idx[n].name), "idx-b");
	attr_set(&idx[n++].pk, "bin", VAL_B);
	if (extra) { /* added while a session is open */
		snprintf(idx[n].name, sizeof(idx[n].name), "idx-l");
		attr_set(&idx[n++].pk, "lvl", VAL_N);
	}
	s.index = idx;
	s.nindex = n;
	if (extra) {
		ck_assert_int_eq(db_set_schema(db, name, &s, NULL), 0);
		return NULL;
	}
	ck_assert_int_eq(db_create_table(db, name, &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, name, &t), 0);
	return t;
}

static const char *const stored_vals[][12] = {
    /* id */ {"\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"\\u00e9\"", "\"f\"", "7", "\"\"", "true",
	      "{\"$B\":\"AA==\"}", "\"a\"", "\"g\""},
    /* email */ {"\"a@x\"", "\"b@x\"", "\"\"", "true", "null", "[1]", "{\"$B\":\"AA==\"}", "7",
		 "\"\\u0041\\n\"", "{\"$SS\":[\"a\"]}", "\"alice@mail.example\"", "\"c@x.org\""},
    /* epoch */ {"1", "2", "\"1\"", "1.50", "-0", "{\"$N\":\"3\"}", "null", "1e3", "[]", "2", "1",
		 "3"},
    /* created */ {"1681239902406", "5", "\"x\"", "[ ]", "-1.5e-3", "{}", "5", "6", "7", "8", "9",
		   "10"},
    /* bin */ {"{\"$B\":\"AQ==\"}", "{\"$B\":\"\"}", "\"s\"", "1", "{\"$B\":\"Ag==\"}", "null",
	       "{\"$B\":\"AQ==\"}", "[]", "\"\"", "2", "{\"$B\":\"Aw==\"}", "true"},
    /* other */ {"{\"b\":1,\"a\":2}", "{\"a\":1,\"b\":[2,{\"c\":null}]}", "{\"$SS\":[\"b\",\"a\"]}",
		 "{\"$NS\":[1,2]}", "\"caf\xc3\xa9\"", "1e5", "false", "{\"$M\":{\"put\":1}}",
		 "\"\\ud83d\\ude00\"", "[[[]]]", "0.000", "\"x\""},
    /* lvl */ {"1", "2", "\"x\"", "3", "null", "4", "5", "6", "7", "8", "9", "10"},
};
static const char *const stored_names[] = {"id",  "email", "epoch",	"created",
					    "bin", "other", "lvl"};

static uint32_t stored_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* A random line: attributes in random order, some missing, some broken. */
static size_t stored_line(uint32_t *seed, bool lvl, char *out, size_t cap)
{
	size_t order[7] = {0, 1, 2, 3, 4, 5, 6}, len = 0, i, j, k, tmp;
	uint32_t r = stored_rand(seed);

	for (i = 7; i > 1; i--) {
		j = stored_rand(seed) % i;
		tmp = order[i - 1];
		order[i - 1] = order[j];
		order[j] = tmp;
	}
	len += (size_t)snprintf(out + len, cap - len, "%s{", r % 23 == 0 ? " " : "");
	for (i = k = 0; i < 7; i++) {
		if (order[i] != 0 && stored_rand(seed) % 4 == 0)
			continue; /* missing (the key only rarely) */
		if (order[i] == 6 && !lvl)
			continue;
		if (order[i] == 0 && r % 29 == 1)
			continue;
		j = stored_rand(seed) % 12;
		len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":%s", k++ ? "," : "",
					stored_names[order[i]],
					order[i] == 0 && r % 3 ? stored_vals[0][j % 6]
							       : stored_vals[order[i]][j]);
		if (r % 31 == 2 && i == 3) /* a duplicate name */
			len += (size_t)snprintf(out + len, cap - len, ",\"%s\":1",
						stored_names[order[i]]);
	}
	if (r % 37 == 3)
		len += (size_t)snprintf(out + len, cap - len, ",\"put\":{\"id\":\"p\"}");
	len += (size_t)snprintf(out + len, cap - len, "%s\n",
				r % 41 == 4 ? "" : r % 43 == 5 ? "} x" : r % 19 == 6 ? " }\r" : "}");
	return len;
}

struct big_reports {
	char *text;
	size_t len;
};

static void big_record(void *ctx, uint64_t line, int code, const char *msg)
{
	struct big_reports *r = ctx;
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%llu %d %s\n", (unsigned long long)line, code, msg);

	r->text = realloc(r->text, r->len + (size_t)n + 1);
	ck_assert_ptr_nonnull(r->text);
	memcpy(r->text + r->len, buf, (size_t)n + 1);
	r->len += (size_t)n;
}

static int render_cb(void *ctx, const struct item_ref *r)
{
	struct big_reports *out = ctx;
	char *text;
	size_t len;

	ck_assert_int_eq(iref_render(r, &text, &len), 0);
	out->text = realloc(out->text, out->len + len + 2);
	ck_assert_ptr_nonnull(out->text);
	memcpy(out->text + out->len, text, len);
	out->len += len;
	out->text[out->len++] = '\n';
	out->text[out->len] = 0;
	free(text);
	return 0;
}

/* The table and each index, rendered in their order. */
static char *stored_dump(table_t *t)
{
	static const char *const idx[] = {NULL, "idx-e", "idx-c", "idx-u", "idx-b", "idx-l"};
	struct big_reports out = {calloc(1, 1), 0};
	size_t i;

	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		int rc = tbl_scan(t, &(struct tbl_scan){.index = idx[i]}, render_cb, &out, NULL);

		ck_assert(rc == 0 || rc == -ENOENT); /* recorded: both sides alike */
		big_record(&out, i, rc, "--"); /* where each part ends */
	}
	return out.text;
}

/*
 * Random Hedy-like lines (index attributes of every type, missing, empty,
 * names out of order and duplicated, envelopes, broken lines, items
 * replaced within and across groups) through two sessions, one with the
 * stored path and one without: the same reports, summary, items and
 * index contents; and an index added mid-session is filled.
 */
/* Two sessions fed the same lines ended alike: counts, reports,
 * summaries, and their tables' items and index entries. */
static void sessions_agree(ops_batch_t *x, const struct big_reports *rx, table_t *tx,
			   ops_batch_t *y, const struct big_reports *ry, table_t *ty)
{
	struct ops_batch_stats sx, sy;
	char *s1, *s2, *dx, *dy;
	size_t l1, l2;

	struct tbl_stats tsx, tsy;

	ops_batch_stats(x, &sx);
	ops_batch_stats(y, &sy);
	tbl_stats(tx, &tsx); /* the records' sizes too */
	tbl_stats(ty, &tsy);
	ck_assert_uint_eq(tsx.items, tsy.items);
	ck_assert_uint_eq(tsx.bytes, tsy.bytes);
	ck_assert_uint_eq(tsx.partitions, tsy.partitions);
	ck_assert_uint_eq(sx.lines, sy.lines);
	ck_assert_uint_eq(sx.applied, sy.applied);
	ck_assert_uint_eq(sx.failed, sy.failed);
	ck_assert_str_eq(rx->text, ry->text);
	ck_assert_int_eq(ops_batch_summary(x, &s1, &l1), 0);
	ck_assert_int_eq(ops_batch_summary(y, &s2, &l2), 0);
	ck_assert_str_eq(s1, s2);
	dx = stored_dump(tx);
	dy = stored_dump(ty);
	ck_assert_str_eq(dx, dy);
	free(s1);
	free(s2);
	free(dx);
	free(dy);
}

START_TEST(test_batch_stored_path_equals_the_tree_path)
{
	table_t *tf = stored_table("fast", false), *tr = stored_table("ref", false);
	struct big_reports rf = {NULL, 0}, rr = {NULL, 0};
	struct ops_batch_stats sf, sr;
	ops_batch_t *bf, *br;
	char *text = malloc(1 << 20), *df;
	size_t len = 0, half = 0, i, off, k;
	uint32_t seed = 12345;

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < 3000; i++) {
		if (i == 1500)
			half = len;
		len += stored_line(&seed, i >= 1500, text + len, (1 << 20) - len);
	}
	ck_assert_int_eq(ops_batch_new(db, tf, big_record, &rf, &bf), 0);
	ck_assert_int_eq(ops_batch_new(db, tr, big_record, &rr, &br), 0);
	ops_batch_set_stored(br, false);
	for (off = 0; off < len; off += k) { /* uneven pieces */
		k = 1 + (off * 7919) % 4096;
		if (k > len - off)
			k = len - off;
		if (off < half && off + k >= half)
			k = half - off;
		if (off == half) { /* an index appears, the sessions open */
			stored_table("fast", true);
			stored_table("ref", true);
		}
		ops_batch_feed(bf, text + off, k);
		ops_batch_feed(br, text + off, k);
	}
	ck_assert_int_eq(ops_batch_finish(bf), ops_batch_finish(br));
	ops_batch_stats(bf, &sf);
	ops_batch_stats(br, &sr);
	ck_assert_uint_gt(sf.stored, 400);
	ck_assert_uint_eq(sr.stored, 0);
	ck_assert_uint_gt(sf.failed, 100);
	sessions_agree(bf, &rf, tf, br, &rr, tr);
	df = stored_dump(tf);
	ck_assert_ptr_nonnull(strstr(df, "\"lvl\":"));
	free(df);
	free(rf.text);
	free(rr.text);
	free(text);
	ops_batch_free(bf);
	ops_batch_free(br);
	tbl_close(tf);
	tbl_close(tr);
}
END_TEST

/* Table name's indexes become those of order (indexes of stored_table by
 * letter: e, c, u, b, l), in that order. */
static void set_indexes(const char *name, const char *order)
{
	struct index_def idx[5];
	struct table_schema s;
	size_t n = 0;

	memset(&s, 0, sizeof(s));
	memset(idx, 0, sizeof(idx));
	attr_set(&s.pk, "id", VAL_S);
	for (; *order; order++, n++) {
		snprintf(idx[n].name, sizeof(idx[n].name), "idx-%c", *order);
		switch (*order) {
		case 'e':
			attr_set(&idx[n].pk, "email", VAL_S);
			break;
		case 'c':
		case 'u':
			attr_set(&idx[n].pk, "epoch", VAL_N);
			idx[n].has_sk = true;
			attr_set(&idx[n].sk, *order == 'c' ? "created" : "id",
				 *order == 'c' ? VAL_N : VAL_S);
			idx[n].proj = *order == 'u' ? PROJ_KEYS_ONLY : idx[n].proj;
			break;
		case 'b':
			attr_set(&idx[n].pk, "bin", VAL_B);
			break;
		default:
			attr_set(&idx[n].pk, "lvl", VAL_N);
		}
	}
	s.index = idx;
	s.nindex = n;
	ck_assert_int_eq(db_set_schema(db, name, &s, NULL), 0);
}

/*
 * Index entries made by the parse with the schema the session started
 * with, applied after indexes were dropped, added and reordered (a
 * _schema.json write between two writes of a _batch session): the
 * entries are taken only where their bytes still fit the slot, so the
 * tables and every index end as in a session without the stored path,
 * the same changes made at the same points (review of the import work).
 */
START_TEST(test_batch_stored_entries_across_index_changes)
{
	/* one dropped; one added in front (no line before it has lvl);
	 * one dropped and the rest reordered; the added one dropped */
	static const char *const orders[] = {"cub", "lcub", "bul", "bu"};
	table_t *tf = stored_table("chf", false), *tr = stored_table("chr", false);
	struct big_reports rf = {NULL, 0}, rr = {NULL, 0};
	struct ops_batch_stats sf;
	ops_batch_t *bf, *br;
	char *text = malloc(1 << 20);
	size_t len = 0, cut[4], i, off, k, c = 0;
	uint32_t seed = 4242;

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < 4000; i++) {
		if (i % 800 == 799 && c < 4)
			cut[c++] = len; /* at 800, 1600, 2400, 3200 lines */
		len += stored_line(&seed, i >= 1600, text + len, (1 << 20) - len);
	}
	ck_assert_int_eq(ops_batch_new(db, tf, big_record, &rf, &bf), 0);
	ck_assert_int_eq(ops_batch_new(db, tr, big_record, &rr, &br), 0);
	ops_batch_set_stored(br, false);
	for (c = 0, off = 0; off < len; off += k) {
		k = 1 + (off * 7919) % 4096;
		if (k > len - off)
			k = len - off;
		if (c < 4 && off + k >= cut[c])
			k = cut[c] - off;
		if (c < 4 && off == cut[c]) {
			set_indexes("chf", orders[c]);
			set_indexes("chr", orders[c]);
			c++;
			if (!k)
				continue;
		}
		ops_batch_feed(bf, text + off, k);
		ops_batch_feed(br, text + off, k);
	}
	ck_assert_uint_eq(c, 4);
	ck_assert_int_eq(ops_batch_finish(bf), ops_batch_finish(br));
	ops_batch_stats(bf, &sf);
	ck_assert_uint_gt(sf.stored, 400);
	sessions_agree(bf, &rf, tf, br, &rr, tr);
	free(rf.text);
	free(rr.text);
	free(text);
	ops_batch_free(bf);
	ops_batch_free(br);
	tbl_close(tf);
	tbl_close(tr);
}
END_TEST

/*
 * Parsing ahead (a helper thread parses a feed's lines while the feed
 * applies the ones before) against the same session without it: the
 * same counts, reports, items and index entries, and ops_batch_feed_some
 * stopping at the same bytes, over random lines (bad ones, items
 * repeated, envelopes) fed in pieces of up to 64 KiB.
 */
START_TEST(test_batch_parse_ahead_equals_parsing_in_line)
{
	table_t *tf = stored_table("ahead", false), *tr = stored_table("inline", false);
	table_t *tn = stored_table("nowait", false);
	struct big_reports rf = {NULL, 0}, rr = {NULL, 0}, rn = {NULL, 0};
	struct ops_batch_stats sf, sr;
	ops_batch_t *bf, *br, *bn;
	char *text = malloc(1 << 21);
	size_t len = 0, i, off, k, uf, ur, un;
	uint32_t seed = 777;
	int round, rcf, rcr;

	ck_assert_ptr_nonnull(text);
	stored_table("ahead", true); /* the lvl index too, from the start */
	stored_table("inline", true);
	stored_table("nowait", true);
	for (i = 0; i < 6000; i++)
		len += stored_line(&seed, true, text + len, (1 << 21) - len);
	ck_assert_int_eq(ops_batch_new(db, tf, big_record, &rf, &bf), 0);
	ck_assert_int_eq(ops_batch_new(db, tr, big_record, &rr, &br), 0);
	ck_assert_int_eq(ops_batch_new(db, tn, big_record, &rn, &bn), 0);
	ops_batch_set_ahead(bn, 1, false);
	ops_batch_set_ahead(bf, 1, true);
	ops_batch_set_ahead(br, 0, false);
	for (round = 0, off = 0; off < len; round++, off += uf) {
		k = 1 + (off * 7919 + (size_t)round * 104729) % 65536;
		if (k > len - off)
			k = len - off;
		if (off < len / 2) { /* the first half stops at each bad line */
			rcf = ops_batch_feed_some(bf, text + off, k, &uf);
			rcr = ops_batch_feed_some(br, text + off, k, &ur);
		} else {
			rcf = ops_batch_feed(bf, text + off, k);
			rcr = ops_batch_feed(br, text + off, k);
			uf = ur = k;
		}
		ck_assert_int_eq(rcf, rcr);
		ck_assert_uint_eq(uf, ur);
		ck_assert_uint_gt(uf, 0);
		/* and without waiting for the helper (as in production) */
		if (off < len / 2) {
			ck_assert_int_eq(ops_batch_feed_some(bn, text + off, k, &un), rcr);
			ck_assert_uint_eq(un, ur);
		} else {
			ck_assert_int_eq(ops_batch_feed(bn, text + off, k), rcr);
		}
	}

	ck_assert_int_eq(ops_batch_finish(bf), ops_batch_finish(br));
	ck_assert_int_eq(ops_batch_finish(bn), 0);
	ops_batch_stats(bf, &sf);
	ops_batch_stats(br, &sr);
	ck_assert_uint_gt(sf.stored, 1000);
	ck_assert_uint_eq(sf.stored, sr.stored);
	ck_assert_uint_gt(sf.ahead, 1000); /* the helper parsed lines */
	ck_assert_uint_eq(sr.ahead, 0);
	ck_assert_uint_gt(sf.failed, 100);
	sessions_agree(bf, &rf, tf, br, &rr, tr);
	sessions_agree(bn, &rn, tn, br, &rr, tr);
	free(rf.text);
	free(rr.text);
	free(rn.text);
	free(text);
	ops_batch_free(bf);
	ops_batch_free(br);
	ops_batch_free(bn);
	tbl_close(tf);
	tbl_close(tr);
	tbl_close(tn);
}
END_TEST

Suite *ops_batch_suite(void);
Suite *ops_batch_suite(void)
{
	Suite *s = suite_create("ops_batch");
	TCase *tc;

#define TC(name) (tc = fix_ops_tcase(s, name))

	TC("ops_batch");
	tcase_add_test(tc, test_batch_bad_line_fails_the_write_but_not_its_neighbours);
	tcase_add_test(tc, test_batch_lines_apply_in_order_on_one_item);
	tcase_add_test(tc, test_batch_split_across_writes_byte_by_byte);
	tcase_add_test(tc, test_batch_unterminated_bad_last_line_fails_finish);
	tcase_add_test(tc, test_batch_reports_every_bad_line_in_order);
	tcase_add_test(tc, test_batch_groups_share_db_apply_calls);
	tcase_add_test(tc, test_batch_one_journal_sync_per_feed);
	tcase_add_test(tc, test_batch_failed_sync_fails_the_lines_it_covered);
	tcase_add_test(tc, test_batch_group_splits_around_a_failing_line);
	tcase_add_test(tc, test_batch_feed_some_stops_at_the_bad_line);
	tcase_add_test(tc, test_batch_grouping_is_equivalent_to_one_by_one);
	tcase_add_test(tc, test_batch_arena_items_across_pieces_and_groups);
	tcase_add_test(tc, test_batch_arena_memory_bounded_on_one_item);
	tcase_add_test(tc, test_batch_journal_failure_is_eio_and_applies_nothing);
	tcase_add_test(tc, test_batch_overlong_line_is_skipped);
	tcase_add_test(tc, test_batch_summary_escapes_and_sanitizes);
	tcase_add_test(tc, test_batch_dropped_table_is_enoent);
	tcase_add_test(tc, test_json_incomplete);
	tcase_add_test(tc, test_batch_pending_incomplete);
	tcase_add_test(tc, test_batch_stored_path_equals_the_tree_path);
	tcase_add_test(tc, test_batch_parse_ahead_equals_parsing_in_line);
	tcase_add_test(tc, test_batch_stored_entries_across_index_changes);
	return s;
}
