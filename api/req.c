/*
 * req.c - reading DynamoDB requests and writing answers: the helpers
 * every operation uses (apiint.h).  Members are read straight from the
 * body's spans; a member whose value is JSON null counts as absent, as
 * the SDKs' serializers treat it.
 */
#include "apiint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

/* ---- errors ---- */

int rq_fail(struct rq *r, const char *type, const char *fmt, ...)
{
	va_list ap;

	if (r->etype) /* the first error wins */
		return -1;
	r->etype = type;
	r->eprefix = API_TYPE_PREFIX;
	r->status = strcmp(type, "InternalServerError") ? 400 : 500;
	va_start(ap, fmt);
	vsnprintf(r->emsg, sizeof(r->emsg), fmt, ap);
	va_end(ap);
	return -1;
}

int rq_fail_err(struct rq *r, int rc, const struct dyn_err *err)
{
	if (rc == -ENOMEM || rc == -EIO)
		return rq_fail(r, "InternalServerError", "%s",
			       err && err->code ? err->msg : strerror(-rc));
	if (rc == -EFBIG)
		return rq_fail(r, "ValidationException",
			       "Item size has exceeded the maximum allowed size");
	if (err && err->code) /* DynamoDB's messages carry no path or position */
		return rq_fail(r, "ValidationException", "%s", err->msg);
	return rq_fail(r, "ValidationException", "%s", strerror(-rc));
}

int rq_no_table(struct rq *r, const char *name)
{
	return rq_fail(r, "ResourceNotFoundException", "Cannot do operations on a non-existent table");
}

/* ---- members ---- */

int rq_member(struct sf_span obj, const char *name, struct sf_span *out)
{
	struct sf_iter it;
	struct sf_span k, v;

	if (sf_obj_open(&it, obj) < 0)
		return 0;
	while (sf_obj_next(&it, &k, &v) > 0) {
		if (!sf_key_is(k, name))
			continue;
		if (v.len == 4 && !memcmp(v.p, "null", 4))
			return 0;
		*out = v;
		return 1;
	}
	return 0;
}

static int bad_type(struct rq *r, const char *name, const char *what)
{
	return rq_fail(r, "SerializationException", "%s must be %s", name, what);
}

int rq_str(struct rq *r, struct sf_span obj, const char *name, char **s)
{
	struct sf_span v;

	if (!rq_member(obj, name, &v))
		return 0;
	if (v.p[0] != '"' || sf_span_str(v, s, NULL, NULL) < 0)
		return bad_type(r, name, "a string");
	return 1;
}

int rq_str_req(struct rq *r, struct sf_span obj, const char *name, char **s)
{
	int rc = rq_str(r, obj, name, s);

	if (rc == 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at '%c%s' failed to satisfy "
			       "constraint: Member must not be null",
			       name[0] + 32 * (name[0] >= 'A' && name[0] <= 'Z'), name + 1);
	return rc;
}

int rq_int(struct rq *r, struct sf_span obj, const char *name, int64_t *v)
{
	struct sf_span s;
	char buf[32], *end;

	if (!rq_member(obj, name, &s))
		return 0;
	if (s.len == 0 || s.len >= sizeof(buf) || !strchr("-0123456789", s.p[0]))
		return bad_type(r, name, "a number");
	memcpy(buf, s.p, s.len);
	buf[s.len] = 0;
	*v = strtoll(buf, &end, 10);
	if (*end)
		return bad_type(r, name, "an integer");
	return 1;
}

int rq_bool(struct rq *r, struct sf_span obj, const char *name, bool *v)
{
	struct sf_span s;

	if (!rq_member(obj, name, &s))
		return 0;
	if (sf_span_bool(s, v) < 0)
		return bad_type(r, name, "a boolean");
	return 1;
}

int rq_map(struct rq *r, struct sf_span obj, const char *name, struct val *m)
{
	struct sf_span v;
	struct dyn_err err;
	int rc;

	if (!rq_member(obj, name, &v))
		return 0;
	if (v.p[0] != '{')
		return bad_type(r, name, "an object");
	err_clear(&err);
	rc = ddb_parse_map(v, m, &err);
	if (rc == -ENOMEM)
		return rq_fail_err(r, rc, &err);
	if (rc < 0)
		return rq_fail(r, "ValidationException", "%s", err.msg);
	return 1;
}

int rq_table(struct rq *r, struct sf_span obj, table_t **t)
{
	char *name = NULL;
	int rc = rq_str_req(r, obj, "TableName", &name);

	if (rc < 0)
		return -1;
	rc = db_table_open(r->a->db, name, t);
	if (rc < 0) {
		if (!db_name_valid(name))
			rq_fail(r, "ValidationException", "%s", API_BAD_NAME);
		else
			rq_no_table(r, name);
		free(name);
		return -1;
	}
	free(name);
	return 0;
}

/* ---- expressions ---- */

void rq_bind_init(struct rq_bind *bd)
{
	memset(bd, 0, sizeof(*bd));
	val_init_null(&bd->names);
	val_init_null(&bd->values);
}

int rq_bind_parse(struct rq *r, struct sf_span obj, struct rq_bind *bd)
{
	struct sf_span v, k, x;
	struct sf_iter it;
	struct val s;
	char *key, *name;
	size_t klen, nlen;
	int rc;

	rq_bind_init(bd);
	bd->b.flags = EXPR_BIND_SHARED | EXPR_STRICT;
	if (rq_member(obj, "ExpressionAttributeNames", &v)) {
		if (sf_obj_open(&it, v) < 0)
			return bad_type(r, "ExpressionAttributeNames", "an object");
		val_init_map(&bd->names);
		while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
			if (sf_span_str(k, &key, &klen, NULL) < 0)
				return bad_type(r, "ExpressionAttributeNames", "an object");
			if (x.p[0] != '"' || sf_span_str(x, &name, &nlen, NULL) < 0) {
				free(key);
				return bad_type(r, "ExpressionAttributeNames", "a map of strings");
			}
			rc = val_init_str(&s, name, nlen);
			free(name);
			if (rc == 0)
				rc = val_map_set(&bd->names, key, klen, &s);
			free(key);
			if (rc < 0)
				return rq_fail_err(r, rc, NULL);
		}
		if (bd->names.m.len == 0)
			return rq_fail(r, "ValidationException",
				       "ExpressionAttributeNames must not be empty");
		bd->b.names = &bd->names;
	}
	rc = rq_map(r, obj, "ExpressionAttributeValues", &bd->values);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (bd->values.m.len == 0)
			return rq_fail(r, "ValidationException",
				       "ExpressionAttributeValues must not be empty");
		bd->b.values = &bd->values;
	}
	return 0;
}

void rq_bind_free(struct rq_bind *bd)
{
	val_free(&bd->names);
	val_free(&bd->values);
}

int rq_expr(struct rq *r, struct sf_span obj, const char *name, rq_parse_fn parse,
	    struct rq_bind *bd, expr_t **e)
{
	struct dyn_err err;
	char *text;
	int rc;

	*e = NULL;
	rc = rq_str(r, obj, name, &text);
	if (rc == 0) { /* the pre-2014 form of the same thing, if any */
		const char *old = !strcmp(name, "ConditionExpression")	  ? "Expected"
				  : !strcmp(name, "UpdateExpression")	  ? "AttributeUpdates"
				  : !strcmp(name, "KeyConditionExpression") ? "KeyConditions"
				  : !strcmp(name, "FilterExpression")
					  ? (r->op && !strcmp(r->op, "Scan") ? "ScanFilter" : "QueryFilter")
					  : NULL;

		return old ? rq_legacy_expr(r, obj, old, parse, e) : 0;
	}
	if (rc < 0)
		return rc;
	err_clear(&err);
	rc = parse(text, strlen(text), &bd->b, e, &err);
	free(text);
	if (rc < 0) {
		/* the engine's messages are DynamoDB's; drop the column suffix */
		if (rc == -ENOMEM)
			return rq_fail_err(r, rc, &err);
		return rq_fail(r, "ValidationException", "%s", err.msg);
	}
	return 1;
}

int rq_bind_done(struct rq *r, struct rq_bind *bd, const expr_t *const *e, size_t n,
		 const char *null_what)
{
	struct dyn_err err;
	size_t i, used = 0;

	for (i = 0; i < n; i++)
		used += e[i] != NULL;
	if (!used && bd->b.names)
		return rq_fail(r, "ValidationException",
			       "ExpressionAttributeNames can only be specified when using "
			       "expressions%s%s", null_what ? ": " : "", null_what ? null_what : "");
	if (!used && bd->b.values)
		return rq_fail(r, "ValidationException",
			       "ExpressionAttributeValues can only be specified when using "
			       "expressions%s%s", null_what ? ": " : "", null_what ? null_what : "");
	err_clear(&err);
	if (expr_check_unused(&bd->b, e, n, &err) < 0)
		return rq_fail(r, "ValidationException", "%s", err.msg);
	return 0;
}

/* ---- keys ---- */

int rq_key_check(struct rq *r, table_t *t, const struct val *key, const struct val **pk,
		 const struct val **sk)
{
	const struct key_attr *ka = tbl_pk(t), *kb = tbl_sk(t);
	struct dyn_err err;

	*pk = val_map_get(key, ka->name, strlen(ka->name));
	*sk = kb ? val_map_get(key, kb->name, strlen(kb->name)) : NULL;
	if (key->m.len != (kb ? 2u : 1u))
		return rq_fail(r, "ValidationException", "The number of conditions on the keys is "
			       "invalid");
	if (!*pk || (kb && !*sk))
		return rq_fail(r, "ValidationException",
			       "The provided key element does not match the schema");
	if ((*pk)->type != ka->type || (kb && (*sk)->type != kb->type))
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: Type mismatch for key");
	err_clear(&err);
	if (key_check(ka, *pk, false, &err) < 0 || (kb && key_check(kb, *sk, true, &err) < 0))
		return rq_fail(r, "ValidationException",
			       "One or more parameter values are not valid. %s", err.msg);
	return 0;
}

int rq_key(struct rq *r, table_t *t, struct sf_span obj, const char *member, struct val *key,
	   const struct val **pk, const struct val **sk)
{
	int rc = rq_map(r, obj, member, key);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at '%s' failed to satisfy "
			       "constraint: Member must not be null",
			       !strcmp(member, "Key") ? "key" : member);
	if (rq_key_check(r, t, key, pk, sk) < 0) {
		val_free(key);
		return -1;
	}
	return 0;
}

int rq_item_key(struct rq *r, table_t *t, const struct val *item, const struct val **pk,
		const struct val **sk)
{
	const struct key_attr *ka[2] = {tbl_pk(t), tbl_sk(t)};
	struct table_schema s;
	struct dyn_err err;
	const struct val *v;
	size_t i, j;

	for (i = 0; i < 2; i++) {
		if (!ka[i])
			continue;
		v = val_map_get(item, ka[i]->name, strlen(ka[i]->name));
		if (!v)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: Missing the key %s "
				       "in the item", ka[i]->name);
		if (v->type != ka[i]->type)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: Type mismatch for "
				       "key %s expected: %s actual: %s", ka[i]->name,
				       val_type_name(ka[i]->type), val_type_name(v->type));
		if ((v->type == VAL_S || v->type == VAL_B) && v->s.len == 0)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values are not valid. The AttributeValue "
				       "for a key attribute cannot contain an empty %s value. Key: %s",
				       v->type == VAL_S ? "string" : "binary", ka[i]->name);
	}
	if (tbl_schema(t, &s) == 0) {
		for (i = 0; i < s.nindex; i++) {
			const struct key_attr *ik[2] = {&s.index[i].pk,
							s.index[i].has_sk ? &s.index[i].sk : NULL};

			for (j = 0; j < 2; j++) {
				if (!ik[j] || !(v = val_map_get(item, ik[j]->name, strlen(ik[j]->name))))
					continue;
				if (v->type != ik[j]->type) {
					rq_fail(r, "ValidationException",
						"One or more parameter values were invalid: Type mismatch "
						"for Index Key %s Expected: %s Actual: %s IndexName: %s",
						ik[j]->name, val_type_name(ik[j]->type),
						val_type_name(v->type), s.index[i].name);
					schema_free(&s);
					return -1;
				}
				if ((v->type == VAL_S || v->type == VAL_B) && v->s.len == 0) {
					rq_fail(r, "ValidationException",
						"One or more parameter values are not valid. A value "
						"specified for a secondary index key is not supported. The "
						"AttributeValue for a key attribute cannot contain an empty "
						"%s value. IndexName: %s, IndexKey: %s",
						v->type == VAL_S ? "string" : "binary", s.index[i].name,
						ik[j]->name);
					schema_free(&s);
					return -1;
				}
			}
		}
		schema_free(&s);
	}
	err_clear(&err);
	if (tbl_item_key(t, item, pk, sk, &err) < 0)
		return rq_fail(r, "ValidationException", "One or more parameter values were invalid: %s",
			       err.msg);
	return 0;
}

/* ---- answers ---- */

int rq_put_item(struct sf_buf *b, const char *name, const struct val *item, bool first)
{
	if (sf_buf_printf(b, "%s\"%s\":", first ? "" : ",", name) < 0)
		return -ENOMEM;
	return ddb_render_map(b, item, NULL, NULL);
}

int rq_capacity(struct rq *r, const char *table, double units, bool first)
{
	char *mode = NULL;
	int rc;

	if (rq_str(r, r->body, "ReturnConsumedCapacity", &mode) <= 0)
		return 0;
	rc = 0;
	if (strcmp(mode, "NONE")) {
		rc = sf_buf_printf(&r->out, "%s\"ConsumedCapacity\":{\"TableName\":", first ? "" : ",");
		if (rc == 0)
			rc = sf_json_str(&r->out, table, strlen(table));
		if (rc == 0)
			rc = sf_buf_printf(&r->out, ",\"CapacityUnits\":%g", units);
		if (rc == 0 && !strcmp(mode, "INDEXES"))
			rc = sf_buf_printf(&r->out, ",\"Table\":{\"CapacityUnits\":%g}", units);
		if (rc == 0)
			rc = sf_buf_addc(&r->out, '}');
	}
	free(mode);
	return rc;
}
