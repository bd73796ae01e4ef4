/*
 * ops.c - the item operations (GetItem, PutItem, DeleteItem, UpdateItem,
 * Query, Scan) and the JSON helpers every operation shares.
 *
 * Requests are written with storefmt's buffer, items with the one
 * DynamoDB JSON codec (ddbjson.h), expressions with expr_to_text (all
 * the expressions of one request share one set of #n/:v maps, and empty
 * maps are left out, as DynamoDB requires).  Answers are read with
 * storefmt's span scanner, items again through ddbjson.h.
 *
 * Conditional writes after an unknown outcome (docs/remote.md,
 * "Retries"): a PutItem or DeleteItem is idempotent as a whole, so it
 * is retried; but if its first attempt did apply, the retry's condition
 * (written against the state before it) fails.  So on
 * ConditionalCheckFailed after a retried attempt, the item is read back
 * (consistently): if it is exactly what this call wrote (or absent, for
 * a delete), the call succeeded.
 */
#include "remoteint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ddbjson.h"

/* ---- JSON helpers ---- */

int rmt_member(struct sf_span obj, const char *name, struct sf_span *out)
{
	struct sf_iter it;
	struct sf_span k, v;
	int rc;

	if (sf_obj_open(&it, obj) < 0)
		return -EINVAL;
	while ((rc = sf_obj_next(&it, &k, &v)) == 1)
		if (sf_key_is(k, name)) {
			*out = v;
			return 0;
		}
	return rc < 0 ? rc : -ENOENT;
}

int rmt_key(struct sf_buf *b, bool *first, const char *name)
{
	int rc = *first ? 0 : sf_buf_addc(b, ',');

	*first = false;
	if (rc == 0)
		rc = sf_json_str(b, name, strlen(name));
	return rc ? rc : sf_buf_addc(b, ':');
}

static int put_str(struct sf_buf *b, bool *first, const char *name, const char *s)
{
	int rc = rmt_key(b, first, name);

	return rc ? rc : sf_json_str(b, s, strlen(s));
}

static int put_text(struct sf_buf *b, bool *first, const char *name, const expr_t *e,
		    struct expr_text *t)
{
	char *s;
	int rc;

	if (!e)
		return 0;
	rc = expr_to_text(e, t, &s);
	if (rc == 0)
		rc = put_str(b, first, name, s);
	free(s);
	return rc;
}

int rmt_put_exprs(struct sf_buf *b, bool *first, const struct rmt_exprs *x)
{
	struct expr_text t;
	int rc;

	expr_text_init(&t);
	rc = put_text(b, first, "KeyConditionExpression", x->keycond, &t);
	if (rc == 0)
		rc = put_text(b, first, "FilterExpression", x->filter, &t);
	if (rc == 0)
		rc = put_text(b, first, "ConditionExpression", x->cond, &t);
	if (rc == 0)
		rc = put_text(b, first, "UpdateExpression", x->update, &t);
	if (rc == 0)
		rc = put_text(b, first, "ProjectionExpression", x->proj, &t);
	if (rc == 0 && t.names.m.len) {
		size_t i;

		rc = rmt_key(b, first, "ExpressionAttributeNames");
		if (rc == 0)
			rc = sf_buf_addc(b, '{');
		for (i = 0; rc == 0 && i < t.names.m.len; i++) {
			const struct val_attr *a = &t.names.m.a[i];

			if (i)
				rc = sf_buf_addc(b, ',');
			if (rc == 0)
				rc = sf_json_str(b, a->name, a->name_len);
			if (rc == 0)
				rc = sf_buf_addc(b, ':');
			if (rc == 0)
				rc = sf_json_str(b, a->v.s.p, a->v.s.len);
		}
		if (rc == 0)
			rc = sf_buf_addc(b, '}');
	}
	if (rc == 0 && t.values.m.len) {
		rc = rmt_key(b, first, "ExpressionAttributeValues");
		if (rc == 0)
			rc = ddb_render_map(b, &t.values, NULL, NULL);
	}
	expr_text_free(&t);
	return rc;
}

static int call_obj(rmt_t *c, const char *op, const struct sf_buf *b, bool idempotent, char **resp,
		    struct sf_span *obj, bool *ambiguous, struct dyn_err *err)
{
	size_t len;
	int rc = rmt_call_ex(c, op, b->p, b->len, idempotent, resp, &len, ambiguous, err);

	if (rc < 0)
		return rc;
	if (sf_whole(*resp, len, obj) < 0 || *obj->p != '{') {
		free(*resp);
		*resp = NULL;
		return err_set(err, EIO, "%s: the answer is not a JSON object", op);
	}
	return 0;
}

int rmt_call_obj(rmt_t *c, const char *op, const struct sf_buf *b, bool idempotent, char **resp,
		 struct sf_span *obj, struct dyn_err *err)
{
	return call_obj(c, op, b, idempotent, resp, obj, NULL, err);
}

/* Parse member name of obj (an attribute map) into *out; VAL_NULL if absent. */
static int get_map(struct sf_span obj, const char *name, struct val *out, struct dyn_err *err)
{
	struct sf_span v;

	val_init_null(out);
	if (rmt_member(obj, name, &v) < 0)
		return 0;
	return ddb_parse_map(v, out, err);
}

/* ---- single items ---- */

static int start(struct sf_buf *b, bool *first, const char *table)
{
	int rc = sf_buf_addc(b, '{');

	*first = true;
	return rc ? rc : put_str(b, first, "TableName", table);
}

int rmt_get_item(rmt_t *c, const char *table, const struct val *key, bool consistent,
		 const expr_t *proj, struct val *out, bool *found, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct rmt_exprs x = {.proj = proj};
	struct sf_span obj;
	char *resp = NULL;
	bool first;
	int rc = start(&b, &first, table);

	if (rc == 0)
		rc = rmt_key(&b, &first, "Key");
	if (rc == 0)
		rc = ddb_render_map(&b, key, NULL, NULL);
	if (rc == 0 && consistent) {
		rc = rmt_key(&b, &first, "ConsistentRead");
		if (rc == 0)
			rc = sf_buf_adds(&b, "true");
	}
	if (rc == 0)
		rc = rmt_put_exprs(&b, &first, &x);
	if (rc == 0)
		rc = sf_buf_addc(&b, '}');
	if (rc == 0)
		rc = rmt_call_obj(c, "GetItem", &b, true, &resp, &obj, err);
	if (rc == 0)
		rc = get_map(obj, "Item", out, err);
	if (rc == 0)
		*found = out->type == VAL_M;
	free(resp);
	sf_buf_free(&b);
	return rc;
}

static int write_one(rmt_t *c, const char *op, const char *table, const char *what,
		     const struct val *v, const expr_t *update, const expr_t *cond, const char *ret,
		     struct val *out, bool *ambiguous, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct rmt_exprs x = {.cond = cond, .update = update};
	struct sf_span obj;
	char *resp = NULL;
	bool first;
	int rc = start(&b, &first, table);

	if (rc == 0)
		rc = rmt_key(&b, &first, what);
	if (rc == 0)
		rc = ddb_render_map(&b, v, NULL, NULL);
	if (rc == 0)
		rc = rmt_put_exprs(&b, &first, &x);
	if (rc == 0 && out && ret)
		rc = put_str(&b, &first, "ReturnValues", ret);
	if (rc == 0)
		rc = sf_buf_addc(&b, '}');
	/* UpdateItem may add or append: not repeatable (remote.h). */
	if (rc == 0)
		rc = call_obj(c, op, &b, update == NULL, &resp, &obj, ambiguous, err);
	if (rc == 0 && out)
		rc = get_map(obj, "Attributes", out, err);
	free(resp);
	sf_buf_free(&b);
	return rc;
}

/* After -ECANCELED of a call that was retried: was it our own first attempt? */
static bool applied_by_us(rmt_t *c, const char *table, const struct val *key,
			  const struct val *want)
{
	struct val got;
	bool found = false, ok = false;

	if (rmt_get_item(c, table, key, true, NULL, &got, &found, NULL) < 0)
		return false;
	ok = want ? found && val_equal(&got, want) : !found;
	val_free(&got);
	return ok;
}

int rmt_put_item(rmt_t *c, const char *table, const struct val *item, const expr_t *cond,
		 struct val *old, struct dyn_err *err)
{
	bool amb = false;
	int rc;

	rc = write_one(c, "PutItem", table, "Item", item, NULL, cond, "ALL_OLD", old, &amb, err);
	if (rc == -ECANCELED && cond && amb) {
		/* Read back by key; a put names no key, so DescribeTable says
		 * which attributes form it (only on this rare path). */
		struct table_schema s;
		struct val key;

		if (rmt_describe_table(c, table, &s, NULL, NULL) == 0) {
			val_init_map(&key);
			const struct val *pv = val_map_get(item, s.pk.name, strlen(s.pk.name));
			const struct val *sv =
			    s.has_sk ? val_map_get(item, s.sk.name, strlen(s.sk.name)) : NULL;
			struct val cp;

			if (pv && val_copy(&cp, pv) == 0)
				val_map_set(&key, s.pk.name, strlen(s.pk.name), &cp);
			if (sv && val_copy(&cp, sv) == 0)
				val_map_set(&key, s.sk.name, strlen(s.sk.name), &cp);
			if (applied_by_us(c, table, &key, item)) {
				rc = 0;
				if (err)
					err_clear(err);
			}
			val_free(&key);
			schema_free(&s);
		}
	}
	return rc;
}

int rmt_delete_item(rmt_t *c, const char *table, const struct val *key, const expr_t *cond,
		    struct val *old, struct dyn_err *err)
{
	bool amb = false;
	int rc;

	rc = write_one(c, "DeleteItem", table, "Key", key, NULL, cond, "ALL_OLD", old, &amb, err);
	if (rc == -ECANCELED && cond && amb && applied_by_us(c, table, key, NULL)) {
		rc = 0;
		if (err)
			err_clear(err);
	}
	return rc;
}

int rmt_update_item(rmt_t *c, const char *table, const struct val *key, const expr_t *update,
		    const expr_t *cond, struct val *out, struct dyn_err *err)
{
	return write_one(c, "UpdateItem", table, "Key", key, update, cond, "ALL_NEW", out, NULL,
			 err);
}

/* ---- Query and Scan ---- */

static int read_page(rmt_t *c, const char *op, const struct rmt_read *r, struct rmt_page *out,
		     struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct rmt_exprs x = {.keycond = r->keycond, .filter = r->filter, .proj = r->proj};
	struct sf_span obj, v, el;
	struct sf_iter it;
	char *resp = NULL;
	bool first;
	int rc = start(&b, &first, r->table);

	memset(out, 0, sizeof(*out));
	val_init_null(&out->last);
	if (rc == 0 && r->index)
		rc = put_str(&b, &first, "IndexName", r->index);
	if (rc == 0)
		rc = rmt_put_exprs(&b, &first, &x);
	if (rc == 0 && r->consistent) {
		rc = rmt_key(&b, &first, "ConsistentRead");
		if (rc == 0)
			rc = sf_buf_adds(&b, "true");
	}
	if (rc == 0 && r->backward) {
		rc = rmt_key(&b, &first, "ScanIndexForward");
		if (rc == 0)
			rc = sf_buf_adds(&b, "false");
	}
	if (rc == 0 && r->limit) {
		rc = rmt_key(&b, &first, "Limit");
		if (rc == 0)
			rc = sf_buf_printf(&b, "%u", r->limit);
	}
	if (rc == 0 && r->segments > 0) {
		rc = rmt_key(&b, &first, "Segment");
		if (rc == 0)
			rc = sf_buf_printf(&b, "%d", r->segment);
		if (rc == 0)
			rc = rmt_key(&b, &first, "TotalSegments");
		if (rc == 0)
			rc = sf_buf_printf(&b, "%d", r->segments);
	}
	if (rc == 0 && r->start) {
		rc = rmt_key(&b, &first, "ExclusiveStartKey");
		if (rc == 0)
			rc = ddb_render_map(&b, r->start, NULL, NULL);
	}
	if (rc == 0)
		rc = sf_buf_addc(&b, '}');
	if (rc == 0)
		rc = rmt_call_obj(c, op, &b, true, &resp, &obj, err);
	if (rc == 0 && rmt_member(obj, "Items", &v) == 0) {
		rc = sf_arr_open(&it, v);
		while (rc == 0 && (rc = sf_arr_next(&it, &el)) == 1) {
			struct val *ni = realloc(out->items, (out->n + 1) * sizeof(*ni));

			if (!ni) {
				rc = -ENOMEM;
				break;
			}
			out->items = ni;
			rc = ddb_parse_map(el, &out->items[out->n], err);
			if (rc == 0)
				out->n++;
		}
	}
	if (rc >= 0 && rmt_member(obj, "ScannedCount", &v) == 0)
		sf_span_u64(v, &out->scanned);
	if (rc >= 0)
		rc = get_map(obj, "LastEvaluatedKey", &out->last, err);
	free(resp);
	sf_buf_free(&b);
	if (rc < 0)
		rmt_page_free(out);
	return rc < 0 ? rc : 0;
}

int rmt_query(rmt_t *c, const struct rmt_read *r, struct rmt_page *out, struct dyn_err *err)
{
	if (!r->keycond)
		return err_set(err, EINVAL, "Query needs a key condition");
	return read_page(c, "Query", r, out, err);
}

int rmt_scan(rmt_t *c, const struct rmt_read *r, struct rmt_page *out, struct dyn_err *err)
{
	return read_page(c, "Scan", r, out, err);
}

void rmt_page_free(struct rmt_page *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		val_free(&p->items[i]);
	free(p->items);
	val_free(&p->last);
	memset(p, 0, sizeof(*p));
	val_init_null(&p->last);
}
