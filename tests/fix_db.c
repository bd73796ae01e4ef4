/*
 * fix_db.c - the table suites' fixture and helpers (fix_db.h).
 */
#include "fix_db.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

db_t *db;
table_t *tq;
table_t *tu;
table_t *tn;
table_t *tb;

void schema_init(struct table_schema *s, const char *pk, enum val_type pt, const char *sk,
		 enum val_type st)
{
	memset(s, 0, sizeof(*s));
	attr_set(&s->pk, pk, pt);
	if (sk) {
		s->has_sk = true;
		attr_set(&s->sk, sk, st);
	}
}

table_t *mk_table(const char *name, const char *pk, enum val_type pt, const char *sk,
		  enum val_type st)
{
	struct table_schema s;
	table_t *t;

	schema_init(&s, pk, pt, sk, st);
	ck_assert_int_eq(db_create_table(db, name, &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, name, &t), 0);
	return t;
}

int put(table_t *t, const char *fmt, ...)
{
	struct val item;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	jparse(&item, fmt, ap);
	va_end(ap);
	rc = tbl_put(t, &item, 0, NULL);
	val_free(&item);
	return rc;
}

const char *get_c(table_t *t, const struct val *pk, const struct val *sk)
{
	static char buf[4096];
	struct val item;
	char *text;
	size_t len;

	if (tbl_get(t, pk, sk, &item, NULL) < 0)
		return NULL;
	ck_assert_int_eq(item_render_compact(&item, NULL, NULL, &text, &len), 0);
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	val_free(&item);
	return buf;
}

void val_str(const struct val *v, char *buf, size_t size)
{
	char num[NUM_TEXT_MAX];
	size_t i, n = 0;

	if (!v) {
		snprintf(buf, size, "-");
	} else if (v->type == VAL_S) {
		snprintf(buf, size, "%.*s", (int)v->s.len, v->s.p);
	} else if (v->type == VAL_N) {
		num_format(&v->n, num);
		snprintf(buf, size, "%s", num);
	} else {
		for (i = 0; i < v->s.len && n + 3 < size; i++)
			n += snprintf(buf + n, size - n, "%02x", (unsigned char)v->s.p[i]);
		if (!v->s.len)
			buf[0] = 0;
	}
}

int collect(void *ctx, const struct item_ref *r)
{
	struct coll *c = ctx;
	const struct val *pk = iref_pk(r), *sk = iref_sk(r);
	char a[300], b[300];
	size_t len = strlen(c->out);
	struct item_meta meta;
	struct val item;

	ck_assert_ptr_nonnull(pk);
	/* the view decodes to an item holding those keys */
	ck_assert_int_eq(iref_decode(r, &item), 0);
	val_free(&item);
	iref_meta(r, &meta);
	ck_assert_uint_gt(meta.text_len, 0);
	val_str(pk, a, sizeof(a));
	val_str(sk, b, sizeof(b));
	if (c->full)
		snprintf(c->out + len, sizeof(c->out) - len, "%s%s/%s", c->n ? "," : "", a, b);
	else
		snprintf(c->out + len, sizeof(c->out) - len, "%s%s", c->n ? "," : "", sk ? b : a);
	c->n++;
	return 0;
}

const char *query(table_t *t, const struct tbl_query *q)
{
	static struct coll c;
	struct dyn_err err;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&err);
	rc = tbl_query(t, q, collect, &c, &err);
	ck_assert_msg(rc == 0, "query failed: %d %s", rc, err.msg);
	return c.out;
}

int put_err(table_t *t, int flags, struct dyn_err *err, const char *fmt, ...)
{
	struct val item;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	jparse(&item, fmt, ap);
	va_end(ap);
	err_clear(err);
	rc = tbl_put(t, &item, flags, err);
	val_free(&item);
	return rc;
}

void fix_db_setup(void)
{
	ck_assert_int_eq(db_new(&db), 0);
	tq = mk_table("quiz-stats", "id#level", VAL_S, "week", VAL_S);
	tu = mk_table("users", "username", VAL_S, NULL, VAL_NULL);
	tn = mk_table("nums", "p", VAL_S, "n", VAL_N);
	tb = mk_table("bins", "p", VAL_S, "b", VAL_B);
}

void fix_db_teardown(void)
{
	char *why = NULL;
	int rc = db_check_integrity(db, &why);

	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
	free(why);
	tbl_close(tq);
	tbl_close(tu);
	tbl_close(tn);
	tbl_close(tb);
	db_free(db);
	fix_val_free();
}

TCase *fix_db_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, fix_db_setup, fix_db_teardown);
	suite_add_tcase(s, tc);
	return tc;
}
