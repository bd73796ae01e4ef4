/*
 * check_aheadrace.c - a `_batch` session's lines parsed (ahead, by the
 * helper thread, into their stored form) under one schema and applied
 * under another, against a model.
 *
 * The hook (ops.h ops_ahead_set_test_hook) runs once the helper parsed
 * every line of a feed, before any is applied (the session waits for the
 * helper and groups more lines than the feed has).  There the test
 * changes the table's schema, in the store's database and in a model (a
 * database without a store): the key schema of the empty table (a sort
 * key dropped or added, another partition key, another type), the table
 * dropped and created again, an index added or removed.  The model then
 * puts each line's whole item (tbl_put), as a session parsing each line
 * when it applies it would.  The lines rejected, the table, and the store
 * reopened must equal the model.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fix_store.h"
#include "item.h"
#include "ops.h"
#include "store.h"

#define NLINES 12

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/check-ar.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

/* A schema from a short description: "pS" = partition key p of type S,
 * "pS sS" with a sort key; " +v" adds index v-index on v (N). */
static void schema_of(struct table_schema *s, struct index_def *ix, const char *d)
{
	memset(s, 0, sizeof(*s));
	s->pk.name[0] = d[0];
	s->pk.type = d[1] == 'N' ? VAL_N : VAL_S;
	if (d[2] == ' ' && d[3] != '+') {
		s->has_sk = true;
		s->sk.name[0] = d[3];
		s->sk.type = d[4] == 'N' ? VAL_N : VAL_S;
	}
	if (strstr(d, "+v")) {
		memset(ix, 0, sizeof(*ix));
		strcpy(ix->name, "v-index");
		strcpy(ix->pk.name, "v");
		ix->pk.type = VAL_N;
		s->index = ix;
		s->nindex = 1;
	}
}

struct scen {
	const char *name;   /* the table */
	const char *before; /* its schema when the session starts */
	const char *after;  /* and when the lines are applied; NULL: dropped and
			       created again as before */
	const char *line;   /* printf format of line i */
};

static const struct scen scens[] = {
	{"sk-dropped", "pS sS", "pS", "{\"p\": \"a%02d\", \"s\": \"x\", \"v\": %d}"},
	{"sk-added", "pS", "pS sS", "{\"p\": \"a%02d\", \"s\": \"x\", \"v\": %d}"},
	{"pk-renamed", "pS", "qS", "{\"p\": \"a%02d\", \"q\": \"b\", \"v\": %d}"},
	{"keys-swapped", "pS qS", "qS pS", "{\"p\": \"a%02d\", \"q\": \"b\", \"v\": %d}"},
	{"pk-retyped", "pS", "pN", "{\"p\": \"a%02d\", \"v\": %d}"},
	{"recreated", "pS", NULL, "{\"p\": \"a%02d\", \"v\": %d}"},
	{"index-added", "pS", "pS +v", "{\"p\": \"a%02d\", \"v\": %d}"},
	{"index-added-bad", "pS", "pS +v", "{\"p\": \"a%02d\", \"v\": \"x%d\"}"},
	{"index-removed", "pS +v", "pS", "{\"p\": \"a%02d\", \"v\": %d}"},
};

struct race {
	db_t *db, *model;
	const struct scen *sc;
	int hooked; /* hook runs */
};

static void change(db_t *db, const struct scen *sc)
{
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err;

	err_clear(&err);
	if (!sc->after) {
		ck_assert_int_eq(db_drop_table(db, sc->name, NULL), 0);
		schema_of(&s, &ix, sc->before);
		ck_assert_int_eq(db_create_table(db, sc->name, &s, NULL), 0);
		return;
	}
	schema_of(&s, &ix, sc->after);
	ck_assert_msg(db_set_schema(db, sc->name, &s, &err) == 0, "%s: %s", sc->name, err.msg);
}

static void hook(void *ctx)
{
	struct race *r = ctx;

	r->hooked++;
	change(r->db, r->sc);
	change(r->model, r->sc);
}

START_TEST(test_batch_lines_parsed_ahead_across_schema_changes)
{
	const struct scen *sc = &scens[_i];
	struct race r = {0};
	struct ops_batch_stats bs;
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err;
	ops_batch_t *b;
	store_t *st;
	table_t *t;
	char text[NLINES * 80], json[80], *a, *m;
	size_t len = 0;
	unsigned failed = 0;
	int i, n;

	st = open_store_at(dir, STORE_FSYNC_OFF, &r.db);
	ck_assert_int_eq(db_new(&r.model), 0);
	r.sc = sc;
	schema_of(&s, &ix, sc->before);
	ck_assert_int_eq(db_create_table(r.db, sc->name, &s, NULL), 0);
	ck_assert_int_eq(db_create_table(r.model, sc->name, &s, NULL), 0);
	for (i = 0; i < NLINES; i++) {
		n = snprintf(text + len, sizeof(text) - len, sc->line, i, i);
		text[len + (size_t)n] = '\n';
		len += (size_t)n + 1;
	}
	ck_assert_int_eq(db_table_open(r.db, sc->name, &t), 0);
	ck_assert_int_eq(ops_batch_new(r.db, t, NULL, NULL, &b), 0);
	ops_batch_set_ahead(b, 1, true);
	ops_ahead_set_test_hook(hook, &r);
	ops_batch_feed(b, text, len);
	ops_ahead_set_test_hook(NULL, NULL);
	ck_assert_int_eq(r.hooked, 1);
	ck_assert_int_eq(ops_batch_finish(b), 0);
	ops_batch_stats(b, &bs);
	ck_assert_uint_eq(bs.lines, NLINES);
	ck_assert_uint_ge(bs.ahead, NLINES - 1); /* the first line is the feed's own */
	ops_batch_free(b);
	tbl_close(t);

	/* the model: each line's whole item, put under the schema as it is now */
	ck_assert_int_eq(db_table_open(r.model, sc->name, &t), 0);
	for (i = 0; i < NLINES; i++) {
		struct val v;

		snprintf(json, sizeof(json), sc->line, i, i);
		err_clear(&err);
		ck_assert_int_eq(item_parse(json, strlen(json), &v, &err), 0);
		/* the session's table is gone when it was created again */
		if (!sc->after || tbl_put(t, &v, 0, NULL) < 0)
			failed++;
		val_free(&v);
	}
	tbl_close(t);
	ck_assert_msg(bs.failed == failed, "%s: %llu lines rejected, the model %u", sc->name,
		      (unsigned long long)bs.failed, failed);
	a = dump_db(r.db);
	m = dump_db(r.model);
	same_text(sc->name, a, m);
	free(a);
	same_after_reopen(st, dir, STORE_FSYNC_OFF, m);
	free(m);
	db_free(r.model);
}
END_TEST

/*
 * Deletes, updates and checks bound under one key schema and applied
 * under another: a sink whose first apply renames the (empty) table's
 * partition key id to name and puts items with the key values the
 * lines name (under name) before it passes the writes on.  Every such
 * write must be refused, not applied to those items: the lines named
 * id, which is no key attribute any more.
 */
struct keysink {
	struct ops_sink inner; /* the engine's (ops_sink_db) */
	int applies;
};

static struct keysink ksink; /* the engine's sink functions take its db as ctx */

static const char *const key_items[] = {"{\"name\": \"x\", \"w\": 1}",
					"{\"name\": \"y\", \"w\": 2}",
					"{\"name\": \"z\", \"w\": 3}"};

static int keysink_apply(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
			 struct dyn_err *err)
{
	struct table_schema s;
	struct index_def ix;
	struct dyn_err e;
	size_t i;

	if (ksink.applies++ == 0) {
		schema_of(&s, &ix, "nS");
		strcpy(s.pk.name, "name");
		err_clear(&e);
		ck_assert_msg(db_set_schema(ctx, "ren", &s, &e) == 0, "%s", e.msg);
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(put_json(ctx, "ren", key_items[i]), 0);
	}
	return ksink.inner.apply(ctx, w, n, failed, err);
}

/* The table t keyed by id, empty; the sink over db. */
static void keysink_of(db_t *db, struct ops_sink *out)
{
	struct table_schema s;
	struct index_def ix;

	schema_of(&s, &ix, "iS");
	strcpy(s.pk.name, "id");
	ck_assert_int_eq(db_create_table(db, "ren", &s, NULL), 0);
	memset(&ksink, 0, sizeof(ksink));
	ops_sink_db(db, &ksink.inner);
	*out = ksink.inner;
	out->apply = keysink_apply;
}

/* The three items as the sink put them, none touched by the lines. */
static void keysink_untouched(db_t *db)
{
	struct table_schema s;
	struct index_def ix;
	db_t *m;
	char *a, *b;
	size_t i;

	ck_assert_int_ge(ksink.applies, 1); /* the first made the change */
	ck_assert_int_eq(db_new(&m), 0);
	schema_of(&s, &ix, "nS");
	strcpy(s.pk.name, "name");
	ck_assert_int_eq(db_create_table(m, "ren", &s, NULL), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(put_json(m, "ren", key_items[i]), 0);
	a = dump_db(db);
	b = dump_db(m);
	same_text("the items put after the key schema changed", a, b);
	free(a);
	free(b);
	db_free(m);
}

static const char batch_lines[] = "{\"delete\": {\"id\": \"x\"}}\n"
				  "{\"update\": {\"id\": \"y\"}, \"set\": {\"w\": 20}}\n"
				  "{\"delete\": {\"id\": \"z\"}, \"if\": \"attribute_exists(w)\"}\n";

static int key_reports; /* lines refused for a key schema changed */

static void key_report(void *ctx, uint64_t line, int code, const char *msg)
{
	if (strstr(msg, "key schema changed"))
		key_reports++;
}

START_TEST(test_batch_keys_read_before_a_key_schema_change)
{
	struct ops_batch_stats bs;
	struct ops_sink sink;
	ops_batch_t *b;
	table_t *t;
	db_t *db;

	ck_assert_int_eq(db_new(&db), 0);
	keysink_of(db, &sink);
	ck_assert_int_eq(db_table_open(db, "ren", &t), 0);
	key_reports = 0;
	ck_assert_int_eq(ops_batch_new_sink(&sink, t, key_report, NULL, &b), 0);
	ops_batch_feed(b, batch_lines, strlen(batch_lines));
	ops_batch_finish(b);
	ops_batch_stats(b, &bs);
	ck_assert_uint_eq(bs.lines, 3);
	ck_assert_uint_eq(bs.failed, 3);
	ck_assert_int_eq(key_reports, 3);
	ops_batch_free(b);
	tbl_close(t);
	keysink_untouched(db);
	db_free(db);
}
END_TEST

START_TEST(test_tx_keys_read_before_a_key_schema_change)
{
	static const char doc[] =
	    "{\"ops\": [{\"delete\": {\"id\": \"x\"}, \"table\": \"ren\"},"
	    " {\"update\": {\"id\": \"y\"}, \"set\": {\"w\": 20}, \"table\": \"ren\"},"
	    " {\"check\": {\"id\": \"z\"}, \"if\": \"attribute_exists(w)\", \"table\": \"ren\"}]}";
	struct ops_tx_result res;
	struct ops_sink sink;
	db_t *db;

	ck_assert_int_eq(db_new(&db), 0);
	keysink_of(db, &sink);
	ck_assert_int_lt(ops_tx_run_sink(&sink, doc, strlen(doc), &res), 0);
	ck_assert_msg(strstr(res.reason, "key schema changed"), "%s", res.reason);
	keysink_untouched(db);
	db_free(db);
}
END_TEST

Suite *aheadrace_suite(void);
Suite *aheadrace_suite(void)
{
	Suite *s = suite_create("aheadrace");
	TCase *tc;

	tc = tcase_create("aheadrace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_batch_lines_parsed_ahead_across_schema_changes, 0,
			    (int)(sizeof(scens) / sizeof(scens[0])));
	tcase_add_test(tc, test_batch_keys_read_before_a_key_schema_change);
	tcase_add_test(tc, test_tx_keys_read_before_a_key_schema_change);
	suite_add_tcase(s, tc);
	return s;
}
