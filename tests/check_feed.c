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

/* ---- the line rendered from records against the reference ---- */

static unsigned rnd_state;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Append a random JSON value of the item syntax (depth-bounded). */
static void rnd_value(char *out, size_t size, int depth)
{
	static const char *strs[] = {"\"\"", "\"a\"", "\"q\\\"uote\"", "\"back\\\\slash\"",
				     "\"nl\\nand\\ttab\"", "\"ctl\\u0001\"", "\"z\\u0000ero\"",
				     "\"\xc3\xa9t\xc3\xa9\"", "\"$N\""};
	static const char *nums[] = {"0", "1", "-2.5", "1e3", "0.000001",
				     "123456789012345678901234567890", "-0.5e-10"};
	static const char *tags[] = {"{\"$SS\": [\"b\", \"a\"]}", "{\"$NS\": [3, 1.5]}",
				     "{\"$B\": \"AAEC\"}", "{\"$BS\": [\"AQ==\", \"AA==\"]}",
				     "{\"$M\": {\"$N\": 1}}", "{\"$N\": \"1e120\"}"};
	size_t len = strlen(out);
	unsigned k = rnd(depth > 2 ? 5 : 7), i, n;

	switch (k) {
	case 0:
		snprintf(out + len, size - len, "%s", strs[rnd(9)]);
		break;
	case 1:
		snprintf(out + len, size - len, "%s", nums[rnd(7)]);
		break;
	case 2:
		snprintf(out + len, size - len, "%s", rnd(2) ? "true" : "null");
		break;
	case 3:
	case 4:
		snprintf(out + len, size - len, "%s", tags[rnd(6)]);
		break;
	case 5:
		strncat(out, "[", size - len - 1);
		for (i = 0, n = rnd(4); i < n; i++) {
			if (i)
				strncat(out, ",", size - strlen(out) - 1);
			rnd_value(out, size, depth + 1);
		}
		strncat(out, "]", size - strlen(out) - 1);
		break;
	default:
		strncat(out, "{", size - len - 1);
		for (i = 0, n = rnd(4); i < n; i++) {
			len = strlen(out);
			snprintf(out + len, size - len, "%s\"m%u\": ", i ? ", " : "", i);
			rnd_value(out, size, depth + 1);
		}
		strncat(out, "}", size - strlen(out) - 1);
		break;
	}
}

struct rnd_tab {
	table_t *t;
	const char *pk, *sk;	 /* names (sk NULL: none) */
	const char *pks[3], *sks[3]; /* key values (JSON) */
};

/* A random item of r (one of 3 x 3 keys) into out; its keys into pk, sk. */
static void rnd_item(const struct rnd_tab *r, char *out, size_t size, const char **pk,
		     const char **sk)
{
	static const char *names[] = {"a", "b#", "\xc3\xa9", "$SS", "z"};
	unsigned i, n = rnd(4), first = rnd(5);
	size_t len;

	*pk = r->pks[rnd(3)];
	*sk = r->sk ? r->sks[rnd(3)] : NULL;
	/* an item whose only attribute is named like a tag is written in "$M" */
	snprintf(out, size, "%s{\"%s\": %s", !n && !r->sk && r->pk[0] == '$' ? "{\"$M\": " : "",
		 r->pk, *pk);
	if (r->sk) {
		len = strlen(out);
		snprintf(out + len, size - len, ", \"%s\": %s", r->sk, *sk);
	}
	for (i = 0; i < n; i++) {
		len = strlen(out);
		snprintf(out + len, size - len, ", \"%s\": ", names[(first + i) % 5]);
		rnd_value(out, size, 0);
	}
	strncat(out, !n && !r->sk && r->pk[0] == '$' ? "}}" : "}", size - strlen(out) - 1);
}

static void val_parse(struct val *v, const char *text)
{
	ck_assert_msg(item_parse_value(text, strlen(text), v, NULL) == 0, "%s", text);
}

struct lines {
	char *p;
	size_t len;
	unsigned refuse, calls; /* refuse every refuse-th line offered */
	unsigned enough, taken; /* say "enough" after every enough-th taken */
};

static int take_into(void *ctx, const char *line, size_t len)
{
	struct lines *l = ctx;

	if (l->refuse && ++l->calls % l->refuse == 0)
		return -ENOMEM; /* must come again with the next call */

	l->p = realloc(l->p, l->len + len + 1);
	ck_assert_ptr_nonnull(l->p);
	memcpy(l->p + l->len, line, len + 1);
	l->len += len;
	return l->enough && ++l->taken % l->enough == 0; /* 1: stop after this one */
}

/*
 * Differential: the line rendered straight from the records
 * (feed_next_line, feed_next_lines) is byte for byte the reference,
 * feed_change_line() of feed_next()'s decoded change, for random items
 * (escapes, zero bytes in keys, numbers, sets, binaries, "$M" tags, key
 * attributes named like tags), updates, deletes, transactions, TTL marks,
 * with and without "table", filtered by table or not.
 */
START_TEST(test_line_from_records_equals_reference)
{
	table_t *tg = mk_table("tags", "$N", VAL_S, NULL, VAL_NULL);
	struct rnd_tab tabs[] = {
	    {tu, "username", NULL, {"\"a\"", "\"b\\\"\"", "\"z\\u0000\""}, {0}},
	    {tq, "id#level", "week", {"\"h#1\"", "\"\xc3\xa9\"", "\"x\""}, {"\"w\"", "\"s\"", "\"v\\n\""}},
	    {tn, "p", "n", {"\"p\"", "\"q\"", "\"r\""}, {"1", "-2.5", "1e30"}},
	    {tb, "p", "b", {"\"p\"", "\"q\"", "\"r\""}, {"{\"$B\": \"AA==\"}", "{\"$B\": \"AAEC\"}", "{\"$B\": \"/w==\"}"}},
	    {tg, "$N", NULL, {"\"t\"", "\"u\"", "\"v\""}, {0}},
	};
	const size_t ntabs = sizeof(tabs) / sizeof(tabs[0]);
	feed_cursor_t *fast = cursor(NULL, 0), *ref = cursor(NULL, 0), *batch = cursor(NULL, 0);
	feed_cursor_t *ufast = cursor(tq, 0), *uref = cursor(tq, 0);
	struct lines want = {0}, got = {.refuse = 7, .enough = 5};
	char text[4096], text2[4096];
	const char *pk, *sk, *pk2, *sk2;
	struct feed_change ch;
	char *a, *b;
	size_t na, nb, i, n = 0;
	unsigned k;
	int rc;

	rnd_state = 20261207;
	for (i = 0; i < 600; i++) {
		const struct rnd_tab *r = &tabs[rnd(ntabs)], *r2 = &tabs[rnd(ntabs)];
		struct db_op ops[2] = {{.kind = DB_PUT, .table = r->t}, {.kind = DB_PUT}};
		struct val v[4];

		if (r2 == r)
			r2 = &tabs[(size_t)(r - tabs + 1) % ntabs];
		k = rnd(10);
		rnd_item(r, text, sizeof(text), &pk, &sk);
		rnd_item(r2, text2, sizeof(text2), &pk2, &sk2);
		val_parse(&v[0], text);
		val_parse(&v[1], text2);
		val_parse(&v[2], pk);
		val_parse(&v[3], sk ? sk : "null");
		ops[0].item = &v[0];
		if (k < 6) {
			ck_assert_msg(db_apply(db, ops, 1, NULL, NULL) == 0, "%s", text);
		} else if (k < 8) { /* a delete (no change if absent) */
			ops[0].kind = DB_DELETE;
			ops[0].pk = &v[2];
			ops[0].sk = sk ? &v[3] : NULL;
			ops[0].flags = rnd(2) ? DB_BY_TTL : 0;
			ck_assert_int_eq(db_apply(db, ops, 1, NULL, NULL), 0);
		} else { /* two items: "tx" */
			ops[1].table = r2->t;
			ops[1].item = &v[1];
			ck_assert_msg(db_apply(db, ops, 2, NULL, NULL) == 0, "%s %s", text, text2);
		}
		for (k = 0; k < 4; k++)
			val_free(&v[k]);
	}
	for (;;) {
		bool with_table = rnd(2);

		rc = feed_next_line(fast, with_table, &a, &na);
		ck_assert_int_eq(feed_next(ref, &ch), rc);
		if (rc == 0)
			break;
		ck_assert_int_eq(rc, 1);
		ck_assert_int_eq(feed_change_line(&ch, with_table, &b, &nb), 0);
		ck_assert_str_eq(a, b);
		ck_assert_uint_eq(na, nb);
		ck_assert_uint_eq(na, strlen(a));
		/* the same record again, the other form (the cache holds each) */
		free(a);
		free(b);
		ck_assert_int_eq(feed_change_line(&ch, true, &b, &nb), 0);
		take_into(&want, b, nb);
		free(b);
		feed_change_free(&ch);
		n++;
	}
	ck_assert_uint_gt(n, 400);
	while ((rc = feed_next_lines(batch, true, take_into, &got)) != 0) {
		ck_assert_int_le(rc, 5); /* take's "enough" ends the call */
		ck_assert(rc > 0 || rc == -ENOMEM);
	}
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_str_eq(got.p, want.p);
	/* filtered by table */
	while ((rc = feed_next_line(ufast, false, &a, &na)) == 1) {
		ck_assert_int_eq(feed_next(uref, &ch), 1);
		ck_assert_str_eq(ch.table, "quiz-stats");
		ck_assert_int_eq(feed_change_line(&ch, false, &b, &nb), 0);
		ck_assert_str_eq(a, b);
		free(a);
		free(b);
		feed_change_free(&ch);
	}
	ck_assert_int_eq(feed_next(uref, &ch), 0);
	free(want.p);
	free(got.p);
	feed_cursor_free(fast);
	feed_cursor_free(ref);
	feed_cursor_free(batch);
	feed_cursor_free(ufast);
	feed_cursor_free(uref);
	tbl_close(tg);
}
END_TEST

/* feed_time_text() against gmtime_r + strftime over random times, each
 * second twice (the second time from the thread's cache). */
START_TEST(test_time_text_equals_strftime)
{
	int64_t edge[] = {0, 999, 1000000000LL * 86400 - 1, 951782400000000000LL /* 2000-02-29 */,
			  4107542399999999999LL /* 2100-02-28T23:59:59 */,
			  INT64_MAX /* 2262-04-11 */, -1, -1000000001LL, INT64_MIN};
	char got[FEED_TIME_MAX], want[96], ts[64];
	struct tm tm;
	time_t sec;
	int64_t ns;
	size_t n;
	int i;

	rnd_state = 7;
	for (i = 0; i < 50000 + (int)(sizeof(edge) / sizeof(edge[0])); i++) {
		if (i < (int)(sizeof(edge) / sizeof(edge[0])))
			ns = edge[i];
		else
			ns = (int64_t)(((uint64_t)rnd(1u << 30) << 33 ^ (uint64_t)rnd(1u << 30) << 10 ^
					rnd(1024)) % (uint64_t)INT64_MAX);
		sec = (time_t)(ns / 1000000000);
		gmtime_r(&sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof(want), "%s.%06ldZ", ts, (long)(ns % 1000000000 / 1000));
		n = feed_time_text(ns, got);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(n, strlen(want));
		if (ns < 0)
			continue;
		/* another time in the same second: this thread's cached date */
		ns = ns / 1000000000 * 1000000000 + rnd(1000000000);
		snprintf(want, sizeof(want), "%s.%06ldZ", ts, (long)(ns % 1000000000 / 1000));
		ck_assert_uint_eq(feed_time_text(ns, got), strlen(want));
		ck_assert_str_eq(got, want);
	}
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
	tcase_add_test(tc, test_line_from_records_equals_reference);
	tcase_add_test(tc, test_time_text_equals_strftime);

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
