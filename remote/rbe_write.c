/*
 * rbe_write.c - the remote backend's writes: one be_op is a PutItem,
 * DeleteItem or UpdateItem (a check alone a one-item transaction), several
 * a TransactWriteItems; the op's flags (DB_IF_ABSENT/PRESENT) and
 * expected item (an editor's save, a rename) become its
 * ConditionExpression beside its own condition, and a failure is
 * classified by reading the item back.  See rbe.c for the design.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "rbeint.h"

/* ---- writes ---- */

int rbe_check_item(be_table_t *bt, const struct val *item, struct dyn_err *err)
{
	struct rtab *t = T(bt);
	const struct key_attr *ka[2] = {&t->s.pk, t->s.has_sk ? &t->s.sk : NULL};
	const struct val *v;
	int rc = item_check(item, err);

	for (int i = 0; rc == 0 && i < 2; i++) {
		if (!ka[i])
			continue;
		v = val_map_get(item, ka[i]->name, strlen(ka[i]->name));
		if (!v)
			rc = err_set(err, EINVAL, "missing the key attribute %s", ka[i]->name);
		else if (v->type != ka[i]->type)
			rc = err_set(err, EINVAL, "key attribute %s must be of type %s",
				     ka[i]->name, val_type_name(ka[i]->type));
	}
	for (size_t i = 0; rc == 0 && i < t->s.nindex; i++) {
		const struct index_def *ix = &t->s.index[i];
		const struct key_attr *ik[2] = {&ix->pk, ix->has_sk ? &ix->sk : NULL};

		for (int j = 0; rc == 0 && j < 2; j++)
			if (ik[j] && (v = val_map_get(item, ik[j]->name, strlen(ik[j]->name))) &&
			    v->type != ik[j]->type)
				rc = err_set(
				    err, EINVAL,
				    "attribute %s is a key of index %s and must be of type %s",
				    ik[j]->name, ix->name, val_type_name(ik[j]->type));
	}
	return rc;
}

/*
 * The condition of one write: its own (cond), its flags (DB_IF_ABSENT,
 * DB_IF_PRESENT) and its expected item (expect: rbe_cond_text), as one
 * expression (*out new, NULL when there is no condition at all).
 */
static int write_cond(const struct rtab *t, const be_op *w, expr_t **out, struct dyn_err *err)
{
	struct expr_text et;
	struct sf_buf b = SF_BUF_INIT;
	struct val names, values;
	struct expr_bind bind = {.names = &names, .values = &values, .flags = EXPR_UNLIMITED};
	char *text = NULL;
	int rc = 0;

	*out = NULL;
	if (!w->cond && !w->flags && !w->expect)
		return 0;
	expr_text_init(&et);
	val_init_map(&names);
	val_init_map(&values);
	if (w->cond && (rc = expr_to_text(w->cond, &et, &text)) == 0) {
		rc = sf_buf_printf(&b, "(%s)", text);
		if (rc == 0 && et.names.type == VAL_M)
			rc = val_copy(&names, &et.names) < 0 ? -ENOMEM : 0;
		if (rc == 0 && et.values.type == VAL_M) {
			val_free(&values);
			rc = val_copy(&values, &et.values) < 0 ? -ENOMEM : 0;
		}
	}
	if (rc == 0 && names.type != VAL_M)
		val_init_map(&names);
	if (rc == 0 && (w->flags & (DB_IF_ABSENT | DB_IF_PRESENT)))
		rc = rbe_bind_name(&names, "#fk", t->s.pk.name);
	if (rc == 0 && (w->flags & DB_IF_ABSENT))
		rc = sf_buf_printf(&b, "%sattribute_not_exists(#fk)", b.len ? " AND " : "");
	if (rc == 0 && (w->flags & DB_IF_PRESENT))
		rc = sf_buf_printf(&b, "%sattribute_exists(#fk)", b.len ? " AND " : "");
	if (rc == 0 && w->expect)
		rc = rbe_cond_text(w->expect, t->s.pk.name, w->kind == OPS_PUT ? w->item : NULL, 0,
				   &b, &names, &values, NULL);
	if (rc == 0) {
		/* empty maps are refused ("must not be empty"), as DynamoDB does */
		bind.names = names.m.len ? &names : NULL;
		bind.values = values.type == VAL_M && values.m.len ? &values : NULL;
		rc = expr_parse_condition(b.p, b.len, &bind, out, err);
	} else {
		rc = err_set(err, -rc, "out of memory");
	}
	free(text);
	expr_text_free(&et);
	sf_buf_free(&b);
	val_free(&names);
	val_free(&values);
	return rc;
}

/*
 * After a failed condition: which part failed, in the engine's errnos
 * (-EEXIST flags IF_ABSENT, -ENOENT IF_PRESENT/expect on an absent item,
 * -EAGAIN expect on a changed one, -ECANCELED the condition), with what
 * the service kept in the message.
 */
static int explain_conflict(struct rtab *t, const be_op *w, struct dyn_err *err)
{
	const struct val *pk =
	    w->kind == OPS_PUT ? val_map_get(w->item, t->s.pk.name, strlen(t->s.pk.name)) : w->pk;
	const struct val *sk = !t->s.has_sk ? NULL
			       : w->kind == OPS_PUT
				   ? val_map_get(w->item, t->s.sk.name, strlen(t->s.sk.name))
				   : w->sk;
	struct val now;
	char *text = NULL;
	size_t len = 0;
	int rc, code = ECANCELED;

	if (!pk || ((rc = rbe_get_item(t, pk, sk, &now, NULL)) < 0 && rc != -ENOENT))
		return -ECANCELED;
	if (rc == -ENOENT) {
		code = (w->flags & DB_IF_PRESENT) || w->expect ? ENOENT : ECANCELED;
		err_clear(err);
		return err_set(err, code,
			       "condition failed%s%s: the item does not exist on the service%s",
			       !w->expect && w->cond_text ? ": " : "",
			       !w->expect && w->cond_text ? w->cond_text : "",
			       w->expect ? " (deleted since it was read)" : "");
	}
	if (w->flags & DB_IF_ABSENT)
		code = EEXIST;
	else if (w->expect && !val_equal(&now, w->expect))
		code = EAGAIN;
	item_render_compact(&now, t->s.pk.name, t->s.has_sk ? t->s.sk.name : NULL, &text, &len);
	err_clear(err);
	/* a failed condition names itself, as a local store's message does */
	err_set(err, code, "%s%s%s; the service's version was kept: %.360s%s",
		code == EAGAIN ? "the item changed on the service since it was read"
			       : "condition failed",
		code != EAGAIN && w->cond_text ? ": " : "",
		code != EAGAIN && w->cond_text ? w->cond_text : "", text ? text : "?",
		len > 360 ? "..." : "");
	free(text);
	val_free(&now);
	return -code;
}

/* The rmt_write of w, with its key and condition built (new, in key and cond). */
/* An unconditional put or delete: what BatchWriteItem can carry. */
static bool plain(const be_op *w)
{
	return (w->kind == OPS_PUT || w->kind == OPS_DELETE) && !w->cond && !w->flags &&
	       !w->expect && !w->out;
}

static int to_rmt(const be_op *w, struct rmt_write *rw, struct val *key, expr_t **cond,
		  struct dyn_err *err)
{
	static const enum rmt_wkind k[] = {[OPS_PUT] = RMT_PUT,
					   [OPS_DELETE] = RMT_DELETE,
					   [OPS_UPDATE] = RMT_UPDATE,
					   [OPS_CHECK] = RMT_CHECK};
	struct rtab *t = T(w->table);
	int rc;

	val_init_null(key);
	*cond = NULL;
	if (w->kind != OPS_PUT && (rc = rbe_key_of(&t->s, w->pk, w->sk, key)) < 0)
		return err_set(err, -rc, "out of memory");
	if ((rc = write_cond(t, w, cond, err)) < 0)
		return rc;
	*rw = (struct rmt_write){.kind = k[w->kind],
				 .table = t->name,
				 .item = w->kind == OPS_PUT ? w->item : key,
				 .update = w->update,
				 .cond = *cond};
	if (w->kind == OPS_UPDATE && !w->update) /* no actions: create the item if absent */
		rw->kind = RMT_UPDATE;
	if (w->kind == OPS_CHECK && !*cond)
		return err_set(err, EINVAL, "a check needs a condition");
	return 0;
}

/* The index in a TransactionCanceled message's [reason, reason...] that failed. */
static size_t failed_index(const char *msg, size_t n)
{
	const char *p = strchr(msg, '[');
	size_t i = 0;

	while (p && *p && *p != ']' && i < n) {
		p++;
		while (*p == ' ')
			p++;
		if (strncmp(p, "None", 4) && *p != ',' && *p != ']')
			return i;
		p = strpbrk(p, ",]");
		if (p && *p == ',')
			i++;
		else
			break;
	}
	return n;
}

static void notify_ops(struct rbe *r, const be_op *ops, size_t n, const struct val *items)
{
	struct db_change ch;
	size_t i;

	for (i = 0; i < n; i++) {
		struct rtab *t = T(ops[i].table);

		memset(&ch, 0, sizeof(ch));
		ch.table = t->name;
		if (ops[i].kind == OPS_CHECK)
			continue;
		if (ops[i].kind == OPS_PUT) {
			ch.kind = DB_CH_PUT;
			ch.item = ops[i].item;
		} else if (ops[i].kind == OPS_UPDATE && items[i].type == VAL_M) {
			ch.kind = DB_CH_PUT;
			ch.item = &items[i];
		} else {
			ch.kind = DB_CH_DELETE;
			ch.pk = ops[i].pk;
			ch.sk = ops[i].sk;
		}
		rbe_notify(r, &ch, 1);
	}
}

/* The key values of a write (a put's from its item). */
static void op_key(const be_op *w, const struct val **pk, const struct val **sk)
{
	const struct table_schema *s = &T(w->table)->s;

	if (w->kind == OPS_PUT) {
		*pk = val_map_get(w->item, s->pk.name, strlen(s->pk.name));
		*sk = s->has_sk ? val_map_get(w->item, s->sk.name, strlen(s->sk.name)) : NULL;
	} else {
		*pk = w->pk;
		*sk = w->sk;
	}
}

int rbe_apply(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct rmt_write *w = NULL;
	struct val *keys = NULL, *res = NULL;
	expr_t **conds = NULL;
	size_t i, f;
	int rc = 0;

	if (failed)
		*failed = n;
	if (n == 0)
		return 0;
	w = calloc(n, sizeof(*w));
	keys = calloc(n, sizeof(*keys));
	res = calloc(n, sizeof(*res));
	conds = calloc(n, sizeof(*conds));
	if (!w || !keys || !res || !conds) {
		rc = err_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		if ((rc = rbe_deny_write(r, T(ops[i].table)->name, err)) == 0)
			rc = to_rmt(&ops[i], &w[i], &keys[i], &conds[i], err);
		if (rc < 0 && failed)
			*failed = i;
	}
	if (rc < 0)
		goto cleanup;
	rbe_write_begin(r); /* ended at failed: below, on every path */
	if (n == 1 && ops[0].expect && w[0].kind != RMT_CHECK) {
		/*
		 * The condition (rbe_cond_text) compares the attributes of the
		 * version read, at most about 90 of them, and cannot say "no
		 * other attributes".  So the item is read first and compared
		 * whole: an attribute another writer added, or changed beyond
		 * the condition's reach, fails the write here.  The condition
		 * then covers the round trip between this read and the write.
		 */
		const struct val *kp, *ks;
		struct val now;
		int pr;

		op_key(&ops[0], &kp, &ks);
		pr = kp ? rbe_get_item(T(ops[0].table), kp, ks, &now, err) : -ENOENT;

		if (pr == 0) {
			if (!val_equal(&now, ops[0].expect))
				rc = -ECANCELED; /* explained below */
			val_free(&now);
		} else if (pr == -ENOENT) {
			rc = -ECANCELED;
		} else {
			rc = pr;
		}
		if (rc < 0) {
			f = 0;
			goto failed;
		}
	}
	if (n == 1) {
		switch (w[0].kind) {
		case RMT_PUT:
			rc = rmt_put_item(r->c, w[0].table, w[0].item, w[0].cond, NULL, err);
			break;
		case RMT_DELETE:
			rc = rmt_delete_item(r->c, w[0].table, w[0].item, w[0].cond,
					     ops[0].out ? &res[0] : NULL, err);
			break;
		case RMT_UPDATE:
			rc = rmt_update_item(r->c, w[0].table, w[0].item, w[0].update, w[0].cond,
					     &res[0], err);
			break;
		case RMT_CHECK:
			rc = rmt_transact_write(r->c, w, 1, NULL, err);
			break;
		}
		f = 0;
	} else {
		/* deletes that return the old item: read before (not atomic with the write) */
		for (i = 0; i < n; i++)
			if (ops[i].kind == OPS_DELETE && ops[i].out)
				rbe_get_item(T(ops[i].table), ops[i].pk, ops[i].sk, &res[i], NULL);
		if (__atomic_load_n(&r->base.m, __ATOMIC_ACQUIRE) != &rbe_methods_notx) {
			rc = rmt_transact_write(r->c, w, n, NULL, err);
			if (rc == -EINVAL && err && strstr(err->msg, "UnknownOperation")) {
				/* from now on be_caps() has no BE_CAP_TX */
				__atomic_store_n(&r->base.m, &rbe_methods_notx, __ATOMIC_RELEASE);
				err_clear(err);
			}
		}
		/*
		 * No transactions (dynalite): nothing here can be done, not
		 * even plain puts and deletes, which BatchWriteItem would
		 * apply one by one: the caller (/_tx) was promised all or
		 * none.  (_batch's groups need not be atomic: rbe_apply_each.)
		 */
		if (__atomic_load_n(&r->base.m, __ATOMIC_ACQUIRE) == &rbe_methods_notx)
			rc = err_set(err, ENOTSUP, "the service has no transactions (TransactWriteItems)");
		f = rc == -ECANCELED && err ? failed_index(err->msg, n) : n;
		for (i = 0; rc == 0 && i < n; i++)
			if (ops[i].kind == OPS_UPDATE) {
				val_free(&res[i]);
				rbe_get_item(T(ops[i].table), ops[i].pk, ops[i].sk, &res[i], NULL);
			}
	}
failed:
	if (rc == -ECANCELED && f < n) {
		if (failed)
			*failed = f;
		if (ops[f].kind != OPS_CHECK || ops[f].expect || ops[f].flags)
			rc = explain_conflict(T(ops[f].table), &ops[f], err);
	}
	/* any attempt, failed ones too (a conflict: the next read must be
	 * the service's version), drops what was read before (rbe.c); a
	 * single put or delete that succeeded says what the item is now */
	if (rc == 0 && n == 1 && (w[0].kind == RMT_PUT || w[0].kind == RMT_DELETE)) {
		const struct val *kp, *ks;
		struct val none;

		val_init_null(&none);
		op_key(&ops[0], &kp, &ks);
		rbe_write_end_known(r, T(ops[0].table), kp, ks,
				    w[0].kind == RMT_PUT ? ops[0].item : &none);
	} else {
		rbe_write_end(r);
	}
	if (rc == 0) {
		notify_ops(r, ops, n, res);
		for (i = 0; i < n; i++)
			if (ops[i].out) {
				val_free(ops[i].out);
				val_move(ops[i].out, &res[i]);
			}
	}
cleanup:
	for (i = 0; i < n; i++) {
		if (keys)
			val_free(&keys[i]);
		if (res)
			val_free(&res[i]);
		if (conds)
			expr_free(conds[i]);
	}
	free(w);
	free(keys);
	free(res);
	free(conds);
	return rc;
}

static bool same_item(const be_op *a, const be_op *b)
{
	const struct val *apk, *ask, *bpk, *bsk;

	if (T(a->table) != T(b->table) && strcmp(T(a->table)->name, T(b->table)->name))
		return false;
	op_key(a, &apk, &ask);
	op_key(b, &bpk, &bsk);
	if (!apk || !bpk || !val_equal(apk, bpk))
		return !apk || !bpk; /* a put without its key: let the service say */
	return (!ask && !bsk) || (ask && bsk && val_equal(ask, bsk));
}

/*
 * ops[0..n) plain, on distinct items, n <= RMT_BATCH_WRITE_MAX: one
 * BatchWriteItem.  If the service refuses it (one bad item fails the
 * whole call) or gives up on part of it (still throttled), the writes go
 * again one call each, in order, so the first that fails is known and
 * the ones before it are applied (again: plain puts and deletes).
 */
static int bulk_chunk(struct rbe *r, const be_op *ops, size_t n, size_t *failed,
		      struct dyn_err *err)
{
	struct rmt_write w[RMT_BATCH_WRITE_MAX] = {{0}};
	struct val keys[RMT_BATCH_WRITE_MAX], nores[RMT_BATCH_WRITE_MAX];
	expr_t *cond;
	size_t i, made = 0;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		if ((rc = rbe_deny_write(r, T(ops[i].table)->name, err)) < 0)
			break;
		rc = to_rmt(&ops[i], &w[i], &keys[i], &cond, err);
		expr_free(cond); /* (none: plain) */
		made = rc == 0 ? i + 1 : i;
		if (rc < 0)
			val_free(&keys[i]);
	}
	if (rc < 0) {
		*failed = i;
		goto out;
	}
	rbe_write_begin(r);
	rc = rmt_batch_write_call(r->c, w, n, err);
	rbe_write_end(r);
	if (rc == 0) {
		for (i = 0; i < n; i++)
			val_init_null(&nores[i]);
		notify_ops(r, ops, n, nores);
		goto out;
	}
	for (i = 0; i < n; i++) { /* one at a time: which one fails */
		err_clear(err);
		if ((rc = rbe_apply(&r->base, &ops[i], 1, NULL, err)) < 0) {
			*failed = i;
			break;
		}
	}
out:
	for (i = 0; i < made; i++)
		val_free(&keys[i]);
	return rc;
}

int rbe_apply_each(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	struct rbe *r = R(b);
	size_t i = 0, j, k, f;
	int rc = 0;

	*failed = n;
	while (i < n) {
		if (!plain(&ops[i])) {
			if ((rc = rbe_apply(b, &ops[i], 1, NULL, err)) < 0) {
				*failed = i;
				return rc;
			}
			i++;
			continue;
		}
		/* a run of plain writes on distinct items, up to one call's worth */
		for (j = i + 1; j < n && j - i < RMT_BATCH_WRITE_MAX && plain(&ops[j]); j++) {
			for (k = i; k < j && !same_item(&ops[k], &ops[j]); k++)
				;
			if (k < j)
				break;
		}
		if (j - i == 1) {
			rc = rbe_apply(b, &ops[i], 1, NULL, err);
			f = 0;
		} else {
			rc = bulk_chunk(r, ops + i, j - i, &f, err);
		}
		if (rc < 0) {
			*failed = i + f;
			return rc;
		}
		i = j;
	}
	return 0;
}
