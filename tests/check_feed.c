/*
 * check_feed.c - the change feed (engine/feed.h): records from every kind
 * of db_apply() with both images, commit order across tables, tx ids,
 * the ring's retention and the fell-behind report, since= bounds, the
 * JSON line, subscribers, the persisted counter; and the TTL selection
 * and sweep (engine/ttl.h).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "feed.h"
#include "item.h"
#include "ttl.h"

#include "fix_db.h"

/* The next change of c as a short line "op key old new [tx] [ttl]". */
static const char *next_str(feed_cursor_t *c)
{
	static char out[1024];
	struct feed_change ch;
	char *o = NULL, *n = NULL, *k = NULL;
	size_t len;
	int rc = feed_next(c, &ch);

	if (rc <= 0) {
		snprintf(out, sizeof(out), "rc=%d", rc);
		return out;
	}
	ck_assert_int_eq(item_render_compact(&ch.keys, NULL, NULL, &k, &len), 0);
	if (ch.old.type != VAL_NULL)
		ck_assert_int_eq(item_render_compact(&ch.old, NULL, NULL, &o, &len), 0);
	if (ch.new.type != VAL_NULL)
		ck_assert_int_eq(item_render_compact(&ch.new, NULL, NULL, &n, &len), 0);
	snprintf(out, sizeof(out), "%s %s %s %s %s%s%s", ch.table,
		 ch.op == FEED_PUT ? "put" : "delete", k, o ? o : "-", n ? n : "-",
		 ch.tx ? " tx" : "", ch.by_ttl ? " ttl" : "");
	free(k);
	free(o);
	free(n);
	feed_change_free(&ch);
	return out;
}

static feed_cursor_t *cursor(table_t *t, uint64_t since)
{
	feed_cursor_t *c;
	struct dyn_err err;

	err_clear(&err);
	ck_assert_int_eq(feed_cursor_new(db_feed(db), t ? tbl_id(t) : 0, since, &c, &err), 0);
	return c;
}

START_TEST(test_next_yields_puts_updates_deletes_with_both_images)
{
	feed_cursor_t *c = cursor(tu, 0);

	ck_assert_str_eq(next_str(c), "rc=0");
	ck_assert_int_eq(put(tu, "{\"username\": \"a\", \"v\": 1}"), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"a\", \"v\": 2}"), 0);
	ck_assert_int_eq(tbl_delete(tu, vs("a"), NULL, 0, NULL), 0);
	ck_assert_int_eq(tbl_delete(tu, vs("a"), NULL, 0, NULL), 0); /* absent: no change */
	ck_assert_str_eq(next_str(c), "users put {\"username\":\"a\"} - "
				      "{\"username\":\"a\",\"v\":1}");
	ck_assert_str_eq(next_str(c), "users put {\"username\":\"a\"} "
				      "{\"username\":\"a\",\"v\":1} {\"username\":\"a\",\"v\":2}");
	ck_assert_str_eq(next_str(c), "users delete {\"username\":\"a\"} "
				      "{\"username\":\"a\",\"v\":2} -");
	ck_assert_str_eq(next_str(c), "rc=0");
	feed_cursor_free(c);
}
END_TEST

/*
 * The feed's records hold references to the table's stored records (no
 * copies): an image must stay what it was after the table replaced,
 * deleted or dropped the item -- the freed memory of a record the feed
 * did not hold would be reused by the next put's record.
 */
START_TEST(test_images_outlive_the_tables_records)
{
	feed_cursor_t *c = cursor(NULL, 0);
	struct dyn_err err;
	table_t *tt = mk_table("tmp", "k", VAL_S, NULL, VAL_NULL);
	char img[2][128], want[400], *junk[128];
	int i;

	for (i = 0; i < 300; i++)
		ck_assert_int_eq(put(tu, "{\"username\": \"a\", \"v\": %d, \"pad\": \"%0*d\"}",
				     i, 40, i),
				 0);
	ck_assert_int_eq(tbl_delete(tu, vs("a"), NULL, 0, NULL), 0);
	ck_assert_int_eq(put(tt, "{\"k\": \"x\", \"w\": \"gone with its table\"}"), 0);
	tbl_close(tt);
	err_clear(&err);
	ck_assert_int_eq(db_drop_table(db, "tmp", &err), 0);
	strcpy(img[1], "-");
	for (i = 0; i < 300; i++) {
		snprintf(img[i % 2], sizeof(img[0]), "{\"pad\":\"%0*d\",\"username\":\"a\",\"v\":%d}",
			 40, i, i);
		snprintf(want, sizeof(want), "users put {\"username\":\"a\"} %s %s", img[(i + 1) % 2],
			 img[i % 2]);
		ck_assert_str_eq(next_str(c), want);
	}
	snprintf(want, sizeof(want), "users delete {\"username\":\"a\"} %s -", img[1]);
	ck_assert_str_eq(next_str(c), want);
	ck_assert_str_eq(next_str(c), "tmp put {\"k\":\"x\"} - "
				      "{\"k\":\"x\",\"w\":\"gone with its table\"}");
	ck_assert_str_eq(next_str(c), "rc=0");
	feed_cursor_free(c);
	/* an old image whose change (as a new image) the ring dropped */
	feed_set_limits(db_feed(db), 2, 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(put(tu, "{\"username\": \"b\", \"v\": %d, \"pad\": \"%040d\"}", i, i),
				 0);
	for (i = 0; i < 128; i++) /* reuse what was freed (with glibc's malloc) */
		memset(junk[i] = malloc(64 + 16 * (size_t)(i % 8)), 'x', 64 + 16 * (size_t)(i % 8));
	c = cursor(tu, FEED_OLDEST);
	for (i = 8; i < 10; i++) {
		snprintf(want, sizeof(want),
			 "users put {\"username\":\"b\"} {\"pad\":\"%040d\",\"username\":\"b\",\"v\":%d} "
			 "{\"pad\":\"%040d\",\"username\":\"b\",\"v\":%d}",
			 i - 1, i - 1, i, i);
		ck_assert_str_eq(next_str(c), want);
	}
	feed_cursor_free(c);
	for (i = 0; i < 128; i++)
		free(junk[i]);
}
END_TEST

START_TEST(test_transaction_shares_tx_and_filter_by_table)
{
	feed_cursor_t *all = cursor(NULL, 0), *users = cursor(tu, 0);
	struct db_op ops[2] = {
	    {.kind = DB_PUT, .table = tu, .item = J("{\"username\": \"b\"}")},
	    {.kind = DB_PUT, .table = tn, .item = J("{\"p\": \"x\", \"n\": 1}")},
	};
	struct feed_change ch1, ch2;

	ck_assert_int_eq(db_apply(db, ops, 2, NULL, NULL), 0);
	ck_assert_int_eq(put(tn, "{\"p\": \"x\", \"n\": 2}"), 0);
	ck_assert_int_eq(feed_next(all, &ch1), 1);
	ck_assert_int_eq(feed_next(all, &ch2), 1);
	ck_assert_uint_eq(ch2.seq, ch1.seq + 1);
	ck_assert_uint_eq(ch1.tx, ch1.seq);
	ck_assert_uint_eq(ch2.tx, ch1.seq);
	feed_change_free(&ch1);
	feed_change_free(&ch2);
	ck_assert_str_eq(next_str(all), "nums put {\"n\":2,\"p\":\"x\"} - {\"n\":2,\"p\":\"x\"}");
	ck_assert_str_eq(next_str(users), "users put {\"username\":\"b\"} - "
					  "{\"username\":\"b\"} tx");
	ck_assert_str_eq(next_str(users), "rc=0");
	feed_cursor_free(all);
	feed_cursor_free(users);
}
END_TEST

START_TEST(test_failed_apply_publishes_nothing)
{
	feed_cursor_t *c = cursor(NULL, 0);

	ck_assert_int_eq(put(tu, "{\"username\": \"a\"}"), 0);
	ck_assert_int_eq(put_err(tu, DB_IF_ABSENT, NULL, "{\"username\": \"a\", \"x\": 1}"),
			 -EEXIST);
	ck_assert_int_eq(put(tu, "{\"username\": \"z\"}"), 0);
	ck_assert_str_eq(next_str(c), "users put {\"username\":\"a\"} - {\"username\":\"a\"}");
	ck_assert_str_eq(next_str(c), "users put {\"username\":\"z\"} - {\"username\":\"z\"}");
	feed_cursor_free(c);
}
END_TEST

/* Writers on two tables at once: every reader sees one order, and each
 * item's changes in the order they were made. */
struct writer {
	table_t *t;
	const char *fmt;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char buf[128];
	struct val item;
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(buf, sizeof(buf), w->fmt, i);
		ck_assert_int_eq(item_parse(buf, strlen(buf), &item, NULL), 0);
		ck_assert_int_eq(tbl_put(w->t, &item, 0, NULL), 0);
		val_free(&item);
	}
	return NULL;
}

START_TEST(test_concurrent_writers_get_one_commit_order)
{
	feed_cursor_t *c = cursor(NULL, 0);
	struct writer w1 = {tu, "{\"username\": \"u\", \"i\": %d}"};
	struct writer w2 = {tn, "{\"p\": \"p\", \"n\": 1, \"i\": %d}"};
	struct feed_change ch;
	pthread_t a, b;
	uint64_t last = 0;
	int seen[2] = {0, 0}, k;
	const struct val *iv;

	pthread_create(&a, NULL, write_many, &w1);
	pthread_create(&b, NULL, write_many, &w2);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	while (feed_next(c, &ch) == 1) {
		ck_assert_uint_eq(ch.seq, last ? last + 1 : ch.seq);
		last = ch.seq;
		k = strcmp(ch.table, "users") == 0 ? 0 : 1;
		iv = val_map_get(&ch.new, "i", 1);
		ck_assert_ptr_nonnull(iv);
		ck_assert_str_eq(val_type_name(iv->type), "N");
		ck_assert_int_eq(ch.old.type == VAL_NULL, seen[k] == 0);
		seen[k]++;
		feed_change_free(&ch);
	}
	ck_assert_int_eq(seen[0], 500);
	ck_assert_int_eq(seen[1], 500);
	feed_cursor_free(c);
}
END_TEST

START_TEST(test_ring_drops_oldest_and_reader_learns_what_it_lost)
{
	feed_t *f = db_feed(db);
	feed_cursor_t *c, *late;
	uint64_t first, next;
	struct dyn_err err;
	int i;

	feed_set_limits(f, 8, 0);
	c = cursor(tu, 0);
	feed_bounds(f, &first, &next);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(put(tu, "{\"username\": \"u%d\"}", i), 0);
	feed_bounds(f, &first, &next);
	ck_assert_uint_eq(next - first, 8);
	ck_assert_str_eq(next_str(c), "rc=-75"); /* -EOVERFLOW */
	ck_assert_uint_eq(feed_cursor_lost(c), next - 20);
	ck_assert_uint_eq(feed_cursor_pos(c), first);
	ck_assert_str_eq(next_str(c), "rc=-75"); /* for good */
	feed_cursor_free(c);
	/* resume where it said: the 8 retained, in order */
	late = cursor(NULL, first);
	for (i = 12; i < 20; i++) {
		char want[128];

		snprintf(want, sizeof(want),
			 "users put {\"username\":\"u%d\"} - {\"username\":\"u%d\"}", i, i);
		ck_assert_str_eq(next_str(late), want);
	}
	ck_assert_str_eq(next_str(late), "rc=0");
	feed_cursor_free(late);
	/* older than retained, or never assigned: ERANGE with a message */
	err_clear(&err);
	ck_assert_int_eq(feed_cursor_new(f, 0, first - 1, &c, &err), -ERANGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "no longer retained"));
	ck_assert_int_eq(feed_cursor_new(f, 0, next + 1, &c, &err), -ERANGE);
	ck_assert_int_eq(feed_cursor_new(f, 0, next, &c, &err), 0); /* the next one: fine */
	feed_cursor_free(c);
}
END_TEST

START_TEST(test_ring_bytes_bound)
{
	feed_t *f = db_feed(db);
	uint64_t first, next;
	int i;

	feed_set_limits(f, 1000, 4096);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(put(tu, "{\"username\": \"u%d\", \"pad\": \"%0200d\"}", i, 0), 0);
	feed_bounds(f, &first, &next);
	ck_assert_uint_lt(next - first, 50);
	ck_assert_uint_gt(next - first, 0);
}
END_TEST

START_TEST(test_change_line_json)
{
	feed_cursor_t *c = cursor(NULL, 0);
	struct feed_change ch;
	char *line;
	size_t len;

	ck_assert_int_eq(put(tq, "{\"id#level\": \"h#1\", \"week\": \"w\", \"v\": 1}"), 0);
	ck_assert_int_eq(feed_next(c, &ch), 1);
	ch.time_ns = 1700000000123456789LL;
	ch.seq = 42;
	ck_assert_int_eq(feed_change_line(&ch, true, &line, &len), 0);
	ck_assert_str_eq(line, "{\"seq\":42,\"time\":\"2023-11-14T22:13:20.123456Z\","
			       "\"table\":\"quiz-stats\",\"op\":\"put\","
			       "\"keys\":{\"id#level\":\"h#1\",\"week\":\"w\"},"
			       "\"new\":{\"id#level\":\"h#1\",\"week\":\"w\",\"v\":1}}\n");
	ck_assert_uint_eq(len, strlen(line));
	free(line);
	ch.by_ttl = true;
	ch.tx = 7;
	ck_assert_int_eq(feed_change_line(&ch, false, &line, &len), 0);
	ck_assert_ptr_nonnull(strstr(line, ",\"tx\":7,\"by\":\"ttl\"}\n"));
	ck_assert_ptr_null(strstr(line, "\"table\""));
	free(line);
	feed_change_free(&ch);
	feed_cursor_free(c);
}
END_TEST

START_TEST(test_next_line_same_for_every_reader_and_oldest)
{
	feed_cursor_t *a = cursor(NULL, 0), *b = cursor(NULL, 0), *o;
	char *la, *lb, *lo;
	size_t na, nb, no;

	ck_assert_int_eq(put(tu, "{\"username\": \"a\", \"v\": 1}"), 0);
	ck_assert_int_eq(feed_next_line(a, true, &la, &na), 1);
	ck_assert_int_eq(feed_next_line(b, true, &lb, &nb), 1);
	ck_assert_str_eq(la, lb);
	ck_assert_uint_eq(na, strlen(la));
	ck_assert_ptr_nonnull(strstr(la, "\"table\":\"users\""));
	ck_assert_int_eq(feed_next_line(a, false, &lo, &no), 0);
	o = cursor(NULL, FEED_OLDEST); /* TRIM_HORIZON: the first change there is */
	ck_assert_int_eq(feed_next_line(o, false, &lo, &no), 1);
	ck_assert_ptr_null(strstr(lo, "\"table\""));
	ck_assert_str_eq(strstr(lo, ",\"op\""), strstr(la, ",\"op\""));
	free(la);
	free(lb);
	free(lo);
	feed_cursor_free(a);
	feed_cursor_free(b);
	feed_cursor_free(o);
}
END_TEST

static uint64_t notified;
static void on_sub(void *ctx, uint64_t last)
{
	(void)ctx;
	notified = last;
}

START_TEST(test_subscriber_told_after_commit)
{
	feed_t *f = db_feed(db);
	uint64_t first, next;

	ck_assert_int_eq(feed_subscribe(f, on_sub, NULL), 0);
	notified = 0;
	ck_assert_int_eq(put(tu, "{\"username\": \"a\"}"), 0);
	feed_bounds(f, &first, &next);
	ck_assert_uint_eq(notified, next - 1);
}
END_TEST

START_TEST(test_seqfile_continues_numbering)
{
	char dir[] = "/tmp/check_feed.XXXXXX", path[64], buf[32];
	feed_t *f = db_feed(db);
	uint64_t first, next;
	struct dyn_err err;
	FILE *fp;

	err_clear(&err);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/changes.seq", dir);
	fp = fopen(path, "w");
	fputs("500\n", fp);
	fclose(fp);
	ck_assert_int_eq(feed_seqfile_open(f, dir, false, &err), 0);
	feed_bounds(f, &first, &next);
	ck_assert_uint_eq(first, 500);
	ck_assert_uint_eq(next, 500);
	fp = fopen(path, "r"); /* a block reserved: a crash skips, never reuses */
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	ck_assert_uint_eq(strtoull(buf, NULL, 10), 500 + FEED_SEQ_BLOCK);
	ck_assert_int_eq(put(tu, "{\"username\": \"a\"}"), 0);
	feed_seqfile_close(f);
	fp = fopen(path, "r"); /* a clean close: exactly the next */
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	ck_assert_str_eq(buf, "501\n");
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- TTL ---- */

START_TEST(test_ttl_expired_only_numbers_in_the_past)
{
	ck_assert(ttl_expired(J("{\"e\": 99}"), "e", 100));
	ck_assert(ttl_expired(J("{\"e\": 99.5}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": 100}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": 101}"), "e", 100));
	ck_assert(ttl_expired(J("{\"e\": -5}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": \"99\"}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": {\"$NS\": [\"1\"]}}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": [1]}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"x\": 1}"), "e", 100));
	ck_assert(!ttl_expired(J("{\"e\": 1}"), "", 100));
	ck_assert(ttl_expired(J("{\"e\": 1e-130}"), "e", 1));
	ck_assert(
	    !ttl_expired(J("{\"e\": 9.9999999999999999999999999999999999999E+125}"), "e", 100));
}
END_TEST

START_TEST(test_ttl_sweep_deletes_expired_through_the_feed)
{
	feed_cursor_t *c;
	char attr[DB_ATTR_NAME_MAX + 1];
	size_t n;
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(put(tu, "{\"username\": \"old%d\", \"exp\": %d}", i, 100 + i), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"new\", \"exp\": 5000}"), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"str\", \"exp\": \"1\"}"), 0);
	ck_assert_int_eq(ttl_sweep(db, 1000, 0, &n), 0);
	ck_assert_uint_eq(n, 0); /* no ttl_attribute yet */
	ck_assert_int_eq(tbl_set_ttl_attribute(db, "users", "exp", NULL), 0);
	tbl_ttl_attribute(tu, attr, sizeof(attr));
	ck_assert_str_eq(attr, "exp");
	c = cursor(tu, 0);
	ck_assert_int_eq(ttl_sweep(db, 1000, 3, &n), 0); /* batch of 3 */
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ttl_sweep(db, 1000, 3, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ttl_sweep(db, 1000, 3, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(next_str(c), "users delete {\"username\":\"old0\"} "
				      "{\"exp\":100,\"username\":\"old0\"} - ttl");
	ck_assert_ptr_nonnull(get_c(tu, vs("new"), NULL));
	ck_assert_ptr_nonnull(get_c(tu, vs("str"), NULL));
	ck_assert_ptr_null(get_c(tu, vs("old4"), NULL));
	ck_assert_int_eq(tbl_set_ttl_attribute(db, "users", NULL, NULL), 0);
	tbl_ttl_attribute(tu, attr, sizeof(attr));
	ck_assert_str_eq(attr, "");
	feed_cursor_free(c);
}
END_TEST

START_TEST(test_ttl_sweep_scans_past_chunks_and_sort_keys)
{
	struct tbl_stats st;
	size_t n;
	int i;

	/* more items than one read-lock chunk, expired ones spread among
	 * them, in a table with a sort key */
	for (i = 0; i < 1500; i++)
		ck_assert_int_eq(put(tq,
				     "{\"id#level\": \"p%d\", \"week\": \"w%04d\", \"exp\": %d}",
				     i % 3, i, i % 2 ? 10 : 5000),
				 0);
	ck_assert_int_eq(tbl_set_ttl_attribute(db, "quiz-stats", "exp", NULL), 0);
	ck_assert_int_eq(ttl_sweep(db, 1000, 0, &n), 0);
	ck_assert_uint_eq(n, 750);
	tbl_stats(tq, &st);
	ck_assert_uint_eq(st.items, 750);
	ck_assert_ptr_null(get_c(tq, vs("p1"), vs("w0001")));
	ck_assert_ptr_nonnull(get_c(tq, vs("p0"), vs("w0000")));
}
END_TEST

START_TEST(test_ttl_sweeper_thread_runs_at_start)
{
	ttl_sweeper_t *s;
	uint64_t passes = 0, deleted = 0;
	int i;

	ck_assert_int_eq(tbl_set_ttl_attribute(db, "users", "exp", NULL), 0);
	ck_assert_int_eq(put(tu, "{\"username\": \"gone\", \"exp\": 1}"), 0);
	ck_assert_int_eq(ttl_start(db, &s), 0);
	for (i = 0; i < 200 && passes == 0; i++) {
		usleep(10000);
		ttl_stats(s, &passes, &deleted);
	}
	ttl_stop(s);
	ck_assert_uint_ge(passes, 1);
	ck_assert_uint_eq(deleted, 1);
	ck_assert_ptr_null(get_c(tu, vs("gone"), NULL));
}
END_TEST

Suite *feed_suite(void);
Suite *feed_suite(void)
{
	Suite *s = suite_create("feed");
	TCase *tc;

#define TC(name) (tc = fix_db_tcase(s, name))

	TC("feed_next");
	tcase_add_test(tc, test_next_yields_puts_updates_deletes_with_both_images);
	tcase_add_test(tc, test_images_outlive_the_tables_records);
	tcase_add_test(tc, test_transaction_shares_tx_and_filter_by_table);
	tcase_add_test(tc, test_failed_apply_publishes_nothing);
	tcase_add_test(tc, test_concurrent_writers_get_one_commit_order);

	TC("feed_set_limits");
	tcase_add_test(tc, test_ring_drops_oldest_and_reader_learns_what_it_lost);
	tcase_add_test(tc, test_ring_bytes_bound);

	TC("feed_change_line");
	tcase_add_test(tc, test_change_line_json);
	tcase_add_test(tc, test_next_line_same_for_every_reader_and_oldest);

	TC("feed_subscribe");
	tcase_add_test(tc, test_subscriber_told_after_commit);

	TC("feed_seqfile");
	tcase_add_test(tc, test_seqfile_continues_numbering);

	TC("ttl_expired");
	tcase_add_test(tc, test_ttl_expired_only_numbers_in_the_past);

	TC("ttl_sweep");
	tcase_add_test(tc, test_ttl_sweep_deletes_expired_through_the_feed);
	tcase_add_test(tc, test_ttl_sweep_scans_past_chunks_and_sort_keys);
	tcase_add_test(tc, test_ttl_sweeper_thread_runs_at_start);
#undef TC
	return s;
}
