/*
 * items.c - PutItem, GetItem, DeleteItem, UpdateItem.
 *
 * Every write is one db_apply() whose callback (wr_fn) runs under the
 * table's write lock with the current item: it keeps a copy of the old
 * item (for ReturnValues and ReturnValuesOnConditionCheckFailure),
 * evaluates the condition, and for an update computes the new item with
 * the engine's expr_apply_update().  So test and write are one atomic
 * step, indexes are maintained by db_apply(), and the mount's observer
 * sees the change like any other.
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "ops.h"

/* ---- the write callback ---- */

void wr_clear(struct wr *w)
{
	memset(w, 0, sizeof(*w));
	val_init_null(&w->old);
	val_init_null(&w->newv);
}

void wr_init(struct wr *w, table_t *t, int kind)
{
	const struct key_attr *kb = tbl_sk(t);

	wr_clear(w);
	w->kind = kind;
	w->pk_name = tbl_pk(t)->name;
	w->sk_name = kb ? kb->name : NULL;
}

void wr_free(struct wr *w)
{
	val_free(&w->old);
	val_free(&w->newv);
}

int wr_fn(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct wr *w = ctx;
	bool ok = true;
	int rc;

	val_free(&w->old);
	w->had_old = old != NULL;
	if (old && (rc = val_copy(&w->old, old)) < 0)
		return rc;
	if (w->cond) {
		rc = expr_eval(w->cond, old, &ok, err);
		if (rc < 0)
			return rc;
		if (!ok)
			return err_set(err, ECANCELED, "The conditional request failed");
	}
	if (w->kind != DB_MODIFY)
		return 0;
	if (!w->update && old) { /* no actions: the item stays as it is */
		val_free(&w->newv);
		return w->want_new && (rc = val_copy(&w->newv, old)) < 0 ? rc : 2;
	}
	if (w->update) {
		rc = expr_apply_update(w->update, old, out, err);
		if (rc < 0)
			return rc;
	} else {
		val_init_map(out);
	}
	rc = ops_add_key(out, w->pk_name, w->pk, w->sk_name, w->sk);
	if (rc == 0 && w->want_new) {
		val_free(&w->newv);
		rc = val_copy(&w->newv, out);
	}
	return rc;
}

int rq_write_failed(struct rq *r, int rc, const struct dyn_err *err)
{
	if (rc == -ECANCELED)
		return rq_fail(r, "ConditionalCheckFailedException", "The conditional request failed");
	if (rc == -ENOENT && err && !err->code)
		return rq_fail(r, "ResourceNotFoundException", "Requested resource not found");
	return rq_fail_err(r, rc, err);
}

/* ReturnValuesOnConditionCheckFailure: ALL_OLD puts the item in the error. */
static void cond_fail_item(struct rq *r, struct wr *w)
{
	char *mode = NULL;

	if (rq_str(r, r->body, "ReturnValuesOnConditionCheckFailure", &mode) > 0 &&
	    !strcmp(mode, "ALL_OLD") && w->had_old)
		rq_put_item(&r->extra, "Item", &w->old, false);
	free(mode);
}

/* ReturnValues: 0 NONE, else one of the names; -1 if not allowed. */
static int return_values(struct rq *r, const char *const *allowed, char **mode)
{
	size_t i;
	int rc;

	*mode = NULL;
	rc = rq_str(r, r->body, "ReturnValues", mode);
	if (rc <= 0)
		return rc;
	if (!strcmp(*mode, "NONE"))
		return 0;
	for (i = 0; allowed[i]; i++)
		if (!strcmp(*mode, allowed[i]))
			return 1;
	return rq_fail(r, "ValidationException", "Return values set to invalid value");
}

static double write_units(const struct val *a, const struct val *b)
{
	size_t n = a && a->type == VAL_M ? item_size(a) : 0, m = b && b->type == VAL_M ? item_size(b) : 0;

	if (m > n)
		n = m;
	return n ? (double)((n + 1023) / 1024) : 1;
}

/* ---- PutItem ---- */

int op_put_item(struct rq *r)
{
	static const char *const rv[] = {"ALL_OLD", NULL};
	struct db_op op = {.kind = DB_PUT, .fn = wr_fn};
	const struct val *pk, *sk;
	struct val item;
	struct rq_bind bd;
	struct dyn_err err;
	table_t *t = NULL;
	expr_t *cond = NULL;
	char *mode = NULL;
	struct wr w;
	int rc, want;

	val_init_null(&item);
	rq_bind_init(&bd);
	wr_clear(&w);
	rc = -1;
	if (rq_table(r, r->body, &t) < 0)
		goto out;
	wr_init(&w, t, DB_PUT);
	if ((rc = rq_map(r, r->body, "Item", &item)) <= 0) {
		if (rc == 0)
			rq_fail(r, "ValidationException",
				"1 validation error detected: Value null at 'item' failed to "
				"satisfy constraint: Member must not be null");
		rc = -1;
		goto out;
	}
	rc = -1;
	if (rq_bind_parse(r, r->body, &bd) < 0 ||
	    rq_expr(r, r->body, "ConditionExpression", expr_parse_condition, &bd, &cond) < 0 ||
	    rq_bind_done(r, &bd, (const expr_t *const *)&cond, 1, "ConditionExpression is null") < 0 ||
	    (want = return_values(r, rv, &mode)) < 0)
		goto out;
	err_clear(&err);
	if (rq_item_key(r, t, &item, &pk, &sk) < 0)
		goto out;
	w.cond = cond;
	op.table = t;
	op.item = &item;
	op.ctx = &w;
	rc = db_apply(r->a->db, &op, 1, NULL, &err);
	if (rc < 0) {
		if (rc == -ECANCELED)
			cond_fail_item(r, &w);
		rq_write_failed(r, rc, &err);
		rc = -1;
		goto out;
	}
	r->wrote = true;
	sf_buf_addc(&r->out, '{');
	if (want && w.had_old)
		rq_put_item(&r->out, "Attributes", &w.old, true);
	rq_capacity(r, tbl_name(t), write_units(&item, &w.old), !(want && w.had_old));
	sf_buf_addc(&r->out, '}');
	rc = 0;
out:
	free(mode);
	expr_free(cond);
	rq_bind_free(&bd);
	val_free(&item);
	wr_free(&w);
	tbl_close(t);
	return rc;
}

/* ---- GetItem ---- */

/*
 * ProjectionExpression, or the legacy AttributesToGet turned into one
 * (names bound as #a0, #a1...).  1 and *proj, 0 none, -1.
 */
int rq_projection(struct rq *r, struct sf_span obj, struct rq_bind *bd, expr_t **proj)
{
	struct sf_span v, x;
	struct sf_iter it;
	struct sf_buf text = SF_BUF_INIT;
	struct val names, s;
	struct expr_bind b = {.names = &names};
	struct dyn_err err;
	char key[16], *name;
	size_t len, n = 0;
	int rc;

	rc = rq_expr(r, obj, "ProjectionExpression", expr_parse_projection, bd, proj);
	if (rc != 0 || !rq_member(obj, "AttributesToGet", &v))
		return rc;
	if (sf_arr_open(&it, v) < 0)
		return rq_fail(r, "SerializationException", "AttributesToGet must be a list");
	val_init_map(&names);
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		if (sf_span_str(x, &name, &len, NULL) < 0) {
			rc = rq_fail(r, "SerializationException", "AttributesToGet must be strings");
			goto out;
		}
		snprintf(key, sizeof(key), "#a%zu", n);
		rc = val_init_str(&s, name, len);
		free(name);
		if (rc == 0)
			rc = val_map_set(&names, key, strlen(key), &s);
		if (rc == 0)
			rc = sf_buf_printf(&text, "%s%s", n ? ", " : "", key);
		if (rc < 0) {
			rc = rq_fail_err(r, rc, NULL);
			goto out;
		}
		n++;
	}
	if (n == 0) {
		rc = rq_fail(r, "ValidationException", "1 validation error detected: Value '[]' at "
			     "'attributesToGet' failed to satisfy constraint: Member must have "
			     "length greater than or equal to 1");
		goto out;
	}
	err_clear(&err);
	rc = expr_parse_projection(text.p, text.len, &b, proj, &err);
	if (rc < 0)
		rc = rq_fail(r, "ValidationException", "%s", err.msg);
	else
		rc = 1;
out:
	val_free(&names);
	sf_buf_free(&text);
	return rc;
}

int op_get_item(struct rq *r)
{
	const struct val *pk, *sk;
	struct val key, item, proj;
	struct rq_bind bd;
	struct dyn_err err;
	struct item_meta meta;
	table_t *t = NULL;
	expr_t *pe = NULL;
	int rc = -1;

	val_init_null(&key);
	val_init_null(&item);
	val_init_null(&proj);
	rq_bind_init(&bd);
	if (rq_table(r, r->body, &t) < 0 || rq_key(r, t, r->body, "Key", &key, &pk, &sk) < 0 ||
	    rq_bind_parse(r, r->body, &bd) < 0 || rq_projection(r, r->body, &bd, &pe) < 0 ||
	    rq_bind_done(r, &bd, (const expr_t *const *)&pe, 1, "ProjectionExpression is null") < 0)
		goto out;
	rc = tbl_get(t, pk, sk, &item, &meta);
	if (rc < 0 && rc != -ENOENT) {
		rc = rq_fail_err(r, rc, NULL);
		goto out;
	}
	sf_buf_addc(&r->out, '{');
	if (rc == 0) {
		if (pe) {
			err_clear(&err);
			if (expr_project(pe, &item, &proj, &err) < 0) {
				rc = rq_fail_err(r, -ENOMEM, &err);
				goto out;
			}
			rq_put_item(&r->out, "Item", &proj, true);
		} else {
			rq_put_item(&r->out, "Item", &item, true);
		}
	}
	rq_capacity(r, tbl_name(t), 0.5 * (double)((rc == 0 ? meta.size + 4095 : 4096) / 4096),
		    rc != 0);
	sf_buf_addc(&r->out, '}');
	rc = 0;
out:
	expr_free(pe);
	rq_bind_free(&bd);
	val_free(&key);
	val_free(&item);
	val_free(&proj);
	tbl_close(t);
	return rc;
}

/* ---- DeleteItem ---- */

int op_delete_item(struct rq *r)
{
	static const char *const rv[] = {"ALL_OLD", NULL};
	struct db_op op = {.kind = DB_DELETE, .fn = wr_fn};
	const struct val *pk, *sk;
	struct val key;
	struct rq_bind bd;
	struct dyn_err err;
	table_t *t = NULL;
	expr_t *cond = NULL;
	char *mode = NULL;
	struct wr w;
	int rc = -1, want;

	val_init_null(&key);
	rq_bind_init(&bd);
	wr_clear(&w);
	if (rq_table(r, r->body, &t) < 0)
		goto out;
	wr_init(&w, t, DB_DELETE);
	if (rq_key(r, t, r->body, "Key", &key, &pk, &sk) < 0 || rq_bind_parse(r, r->body, &bd) < 0 ||
	    rq_expr(r, r->body, "ConditionExpression", expr_parse_condition, &bd, &cond) < 0 ||
	    rq_bind_done(r, &bd, (const expr_t *const *)&cond, 1, "ConditionExpression is null") < 0 ||
	    (want = return_values(r, rv, &mode)) < 0)
		goto out;
	w.cond = cond;
	op.table = t;
	op.pk = pk;
	op.sk = sk;
	op.ctx = &w;
	err_clear(&err);
	rc = db_apply(r->a->db, &op, 1, NULL, &err);
	if (rc < 0) {
		if (rc == -ECANCELED)
			cond_fail_item(r, &w);
		rc = rq_write_failed(r, rc, &err);
		goto out;
	}
	r->wrote = true;
	sf_buf_addc(&r->out, '{');
	if (want && w.had_old)
		rq_put_item(&r->out, "Attributes", &w.old, true);
	rq_capacity(r, tbl_name(t), write_units(&w.old, NULL), !(want && w.had_old));
	sf_buf_addc(&r->out, '}');
	rc = 0;
out:
	free(mode);
	expr_free(cond);
	rq_bind_free(&bd);
	val_free(&key);
	wr_free(&w);
	tbl_close(t);
	return rc;
}

/* ---- UpdateItem ---- */

int op_update_item(struct rq *r)
{
	static const char *const rv[] = {"ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", NULL};
	struct db_op op = {.kind = DB_MODIFY, .fn = wr_fn};
	const struct val *pk, *sk;
	struct val key, upd;
	struct rq_bind bd;
	struct dyn_err err;
	table_t *t = NULL;
	expr_t *ex[2] = {NULL, NULL}; /* update, condition */
	char *mode = NULL;
	struct wr w;
	int rc = -1, want = 0;
	bool first = true;

	val_init_null(&key);
	val_init_null(&upd);
	rq_bind_init(&bd);
	wr_clear(&w);
	if (rq_table(r, r->body, &t) < 0)
		goto out;
	wr_init(&w, t, DB_MODIFY);
	if (rq_key(r, t, r->body, "Key", &key, &pk, &sk) < 0 || rq_bind_parse(r, r->body, &bd) < 0 ||
	    rq_expr(r, r->body, "UpdateExpression", expr_parse_update, &bd, &ex[0]) < 0 ||
	    rq_expr(r, r->body, "ConditionExpression", expr_parse_condition, &bd, &ex[1]) < 0 ||
	    rq_bind_done(r, &bd, (const expr_t *const *)ex, 2,
			 "UpdateExpression and ConditionExpression are null") < 0 ||
	    (want = return_values(r, rv, &mode)) < 0)
		goto out;
	err_clear(&err);
	if (ex[0] && ops_check_update_keys(t, ex[0], &err) < 0) {
		rq_fail(r, "ValidationException", "%s", err.msg);
		goto out;
	}
	w.update = ex[0];
	w.cond = ex[1];
	w.pk = pk;
	w.sk = sk;
	w.want_new = true;
	op.table = t;
	op.pk = pk;
	op.sk = sk;
	op.ctx = &w;
	rc = db_apply(r->a->db, &op, 1, NULL, &err);
	if (rc < 0) {
		if (rc == -ECANCELED)
			cond_fail_item(r, &w);
		rc = rq_write_failed(r, rc, &err);
		goto out;
	}
	r->wrote = true;
	sf_buf_addc(&r->out, '{');
	if (want) {
		if (!strcmp(mode, "ALL_NEW")) {
			rq_put_item(&r->out, "Attributes", &w.newv, true);
			first = false;
		} else if (!strcmp(mode, "ALL_OLD")) {
			if (w.had_old) {
				rq_put_item(&r->out, "Attributes", &w.old, true);
				first = false;
			}
		} else {
			/* only the written paths: SET a.b = :v returns {a: {b: v}} */
			rc = ex[0] ? expr_project_updated(ex[0], !strcmp(mode, "UPDATED_OLD")
							  ? &w.old : &w.newv, &upd, &err) : 0;
			if (rc == 0 && upd.type == VAL_M && upd.m.len) {
				rq_put_item(&r->out, "Attributes", &upd, true);
				first = false;
			}
		}
	}
	rq_capacity(r, tbl_name(t), write_units(&w.old, &w.newv), first);
	sf_buf_addc(&r->out, '}');
	rc = 0;
out:
	free(mode);
	expr_free(ex[0]);
	expr_free(ex[1]);
	rq_bind_free(&bd);
	val_free(&key);
	val_free(&upd);
	wr_free(&w);
	tbl_close(t);
	return rc;
}
