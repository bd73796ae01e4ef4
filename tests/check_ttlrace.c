/*
 * check_ttlrace.c - the TTL sweeper against writes made between its
 * choice of an item and its delete, and a model.
 *
 * The hook (ttl.h ttl_set_test_hook) stops the sweep before each delete;
 * there the test changes the item or its table, on the store's database
 * and on a model (a database without a store), in turns: nothing, the
 * expiry moved to the future, the attribute removed or made a string, the
 * item deleted, a new expired value, the table's TTL attribute switched
 * off, back on, to another attribute, back; and a table dropped and
 * created again.  The model then deletes the item if, by the table's TTL
 * attribute as it is now, the item is expired (the rule: a renewal or a
 * switch made before the delete wins).  Afterwards the database, the
 * change feed (every delete "by": "ttl", none for an item that stayed)
 * and the store reopened must equal the model.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "feed.h"
#include "fix_store.h"
#include "item.h"
#include "storefmt.h"
#include "store.h"
#include "ttl.h"

#define NOW 1000   /* the sweep's clock */
#define NITEMS 40  /* expired items of table ttl */

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/check-tr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

struct race {
	db_t *db;    /* the store's */
	db_t *model; /* the same writes without a store; the rule's deletes */
	unsigned n;  /* deletes announced by the hook */
};

static void put2(struct race *r, const char *table, const char *json)
{
	ck_assert_int_eq(put_json(r->db, table, json), 0);
	ck_assert_int_eq(put_json(r->model, table, json), 0);
}

static void ttl2(struct race *r, const char *table, const char *attr)
{
	ck_assert_int_eq(tbl_set_ttl_attribute(r->db, table, attr, NULL), 0);
	ck_assert_int_eq(tbl_set_ttl_attribute(r->model, table, attr, NULL), 0);
}

static void create2(struct race *r, const char *table)
{
	create_table(r->db, table, "p", "s");
	create_table(r->model, table, "p", "s");
	ttl2(r, table, "exp");
}

/* The model's delete: the item, if it is expired by its table's TTL attribute now. */
struct rule {
	char attr[DB_ATTR_NAME_MAX + 1];
};

static int rule_expired(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	const struct rule *ru = ctx;

	(void)out;
	if (!old || !ttl_expired(old, ru->attr, NOW))
		return err_set(err, ECANCELED, "renewed");
	return 0;
}

static void model_delete(db_t *model, const char *table, const struct val *pk,
			 const struct val *sk)
{
	struct rule ru;
	struct db_op op;
	table_t *t;
	int rc;

	if (db_table_open(model, table, &t) < 0)
		return;
	tbl_ttl_attribute(t, ru.attr, sizeof(ru.attr));
	memset(&op, 0, sizeof(op));
	op.kind = DB_DELETE;
	op.table = t;
	op.pk = pk;
	op.sk = sk;
	op.flags = DB_IF_PRESENT | DB_BY_TTL;
	op.fn = rule_expired;
	op.ctx = &ru;
	rc = db_apply(model, &op, 1, NULL, NULL);
	ck_assert_msg(rc == 0 || rc == -ECANCELED || rc == -ENOENT, "model delete: %d", rc);
	tbl_close(t);
}

static void hook(void *ctx, const char *table, const struct val *pk, const struct val *sk)
{
	struct race *r = ctx;
	char json[200], s[32];
	unsigned i = r->n++;
	table_t *t;

	ck_assert_ptr_nonnull(sk);
	ck_assert_uint_lt(sk->s.len, sizeof(s));
	memcpy(s, sk->s.p, sk->s.len);
	s[sk->s.len] = 0;
	if (!strcmp(table, "tt2")) { /* dropped and created again, the item put again */
		ck_assert_int_eq(db_drop_table(r->db, "tt2", NULL), 0);
		ck_assert_int_eq(db_drop_table(r->model, "tt2", NULL), 0);
		create2(r, "tt2");
		put2(r, "tt2", "{\"p\": \"p\", \"s\": \"x\", \"exp\": 1}");
		return; /* the item chosen is gone with its table: nothing to delete */
	}
	switch (i % 10) {
	case 0:
		break;
	case 1: /* renewed */
		snprintf(json, sizeof(json), "{\"p\": \"p\", \"s\": \"%s\", \"exp\": 5000}", s);
		put2(r, table, json);
		break;
	case 2: /* no longer expires */
		snprintf(json, sizeof(json), "{\"p\": \"p\", \"s\": \"%s\"}", s);
		put2(r, table, json);
		break;
	case 3: /* a string never expires */
		snprintf(json, sizeof(json), "{\"p\": \"p\", \"s\": \"%s\", \"exp\": \"1\"}", s);
		put2(r, table, json);
		break;
	case 4: /* deleted */
		ck_assert_int_eq(db_table_open(r->db, table, &t), 0);
		ck_assert_int_eq(tbl_delete(t, pk, sk, 0, NULL), 0);
		tbl_close(t);
		ck_assert_int_eq(db_table_open(r->model, table, &t), 0);
		ck_assert_int_eq(tbl_delete(t, pk, sk, 0, NULL), 0);
		tbl_close(t);
		break;
	case 5: /* another value, still expired */
		snprintf(json, sizeof(json),
			 "{\"p\": \"p\", \"s\": \"%s\", \"exp\": 50, \"exp2\": 5000, \"v\": 2}", s);
		put2(r, table, json);
		break;
	case 6: /* TTL switched off */
		ttl2(r, table, NULL);
		break;
	case 7:
		ttl2(r, table, "exp");
		break;
	case 8: /* another attribute, which the item has in the future */
		ttl2(r, table, "exp2");
		break;
	default:
		ttl2(r, table, "exp");
	}
	model_delete(r->model, table, pk, sk);
}

/* The change feed as text, one change a line (no times). */
static char *feed_text(feed_cursor_t *c)
{
	struct sf_buf b = SF_BUF_INIT;
	struct feed_change ch;
	char *o, *n, *k;
	size_t len;

	while (feed_next(c, &ch) > 0) {
		o = n = k = NULL;
		ck_assert_int_eq(item_render_compact(&ch.keys, NULL, NULL, &k, &len), 0);
		if (ch.old.type != VAL_NULL)
			ck_assert_int_eq(item_render_compact(&ch.old, NULL, NULL, &o, &len), 0);
		if (ch.new.type != VAL_NULL)
			ck_assert_int_eq(item_render_compact(&ch.new, NULL, NULL, &n, &len), 0);
		ck_assert_int_eq(sf_buf_printf(&b, "%s %s %s %s %s%s\n", ch.table,
					       ch.op == FEED_PUT ? "put" : "delete", k, o ? o : "-",
					       n ? n : "-", ch.by_ttl ? " ttl" : ""),
				 0);
		free(k);
		free(o);
		free(n);
		feed_change_free(&ch);
	}
	ck_assert_int_eq(sf_buf_addc(&b, 0), 0);
	return b.p;
}

static feed_cursor_t *cursor(db_t *db)
{
	feed_cursor_t *c;
	struct dyn_err err;

	err_clear(&err);
	ck_assert_int_eq(feed_cursor_new(db_feed(db), 0, 0, &c, &err), 0);
	return c;
}

START_TEST(test_ttl_sweep_against_writes_between_choice_and_delete)
{
	struct race r = {0};
	feed_cursor_t *c[2];
	store_t *st;
	char json[200], *a, *b, *m;
	size_t n;
	unsigned i;

	st = open_store_at(dir, STORE_FSYNC_OFF, &r.db);
	ck_assert_int_eq(db_new(&r.model), 0);
	create2(&r, "ttl");
	create2(&r, "tt2");
	for (i = 0; i < NITEMS; i++) {
		snprintf(json, sizeof(json),
			 "{\"p\": \"p\", \"s\": \"s%03u\", \"exp\": %u, \"exp2\": 5000}", i, 100 + i);
		put2(&r, "ttl", json);
	}
	put2(&r, "ttl", "{\"p\": \"p\", \"s\": \"z\", \"exp\": 5000}"); /* not expired */
	put2(&r, "tt2", "{\"p\": \"p\", \"s\": \"x\", \"exp\": 1}");
	c[0] = cursor(r.db);
	c[1] = cursor(r.model);
	ttl_set_test_hook(hook, &r);
	ck_assert_int_eq(ttl_sweep(r.db, NOW, 0, &n), 0);
	ttl_set_test_hook(NULL, NULL);
	ck_assert_uint_eq(r.n, NITEMS + 1);
	a = dump_db(r.db);
	b = dump_db(r.model);
	same_text("the database", a, b);
	free(a);
	a = feed_text(c[0]);
	m = feed_text(c[1]);
	same_text("the change feed", a, m);
	ck_assert_ptr_nonnull(strstr(a, " ttl\n"));
	free(a);
	free(m);
	feed_cursor_free(c[0]);
	feed_cursor_free(c[1]);
	same_after_reopen(st, dir, STORE_FSYNC_OFF, b);
	free(b);
	db_free(r.model);
}
END_TEST

Suite *ttlrace_suite(void);
Suite *ttlrace_suite(void)
{
	Suite *s = suite_create("ttlrace");
	TCase *tc;

	tc = tcase_create("ttlrace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ttl_sweep_against_writes_between_choice_and_delete);
	suite_add_tcase(s, tc);
	return s;
}
