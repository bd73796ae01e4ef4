/*
 * legacy.c - the pre-2014 parameters, translated into expressions:
 *
 *   KeyConditions      -> KeyConditionExpression   (Query)
 *   QueryFilter        -> FilterExpression         (Query)
 *   ScanFilter         -> FilterExpression         (Scan)
 *   Expected           -> ConditionExpression      (PutItem, UpdateItem, DeleteItem)
 *   AttributeUpdates   -> UpdateExpression         (UpdateItem)
 *   ConditionalOperator  AND (default) or OR between the conditions
 *   (AttributesToGet is handled with ProjectionExpression, items.c)
 *
 * Each condition becomes expression text over generated bindings (#lgN
 * for the attribute, :lgN_M for its values), compiled by the engine's
 * one parser, so the semantics are the expression language's: EQ is =,
 * NOT_NULL is attribute_exists, CONTAINS is contains() and so on.
 * Mixing the two styles in one request is refused, as DynamoDB refuses
 * it.
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen {
	struct sf_buf text;	/* the expression */
	struct val names;	/* #lgN -> attribute name */
	struct val values;	/* :lgN_M -> value */
	size_t n;		/* conditions so far */
};

static int bind_name(struct gen *g, const char *name, size_t len, char *key, size_t ksize)
{
	struct val s;
	int rc;

	snprintf(key, ksize, "#lg%zu", g->n);
	rc = val_init_str(&s, name, len);
	if (rc == 0)
		rc = val_map_set(&g->names, key, strlen(key), &s);
	return rc;
}

/* Bind value number i of the current condition; its key into vkey. */
static int bind_value(struct rq *r, struct gen *g, struct sf_span v, size_t i, char *vkey,
		      size_t vsize)
{
	struct dyn_err err;
	struct val x;
	int rc;

	snprintf(vkey, vsize, ":lg%zu_%zu", g->n, i);
	err_clear(&err);
	rc = ddb_parse_value(v, &x, &err);
	if (rc < 0)
		return rq_fail(r, "ValidationException", "%s", err.msg);
	rc = val_map_set(&g->values, vkey, strlen(vkey), &x);
	return rc < 0 ? rq_fail_err(r, rc, NULL) : 0;
}

/* One {"ComparisonOperator": OP, "AttributeValueList": [...]} on #name. */
static int comparison(struct rq *r, struct gen *g, const char *nk, struct sf_span c, bool key)
{
	static const struct {
		const char *op;	  /* ComparisonOperator */
		int nvals;	  /* values it takes (-1: 1 or more) */
		const char *fmt;  /* expression: %1$s the name, %2$s/%3$s values */
		bool key_ok;	  /* allowed in KeyConditions */
	} ops[] = {
		{"EQ", 1, "%s = %s", true},	    {"NE", 1, "%s <> %s", false},
		{"LE", 1, "%s <= %s", true},	    {"LT", 1, "%s < %s", true},
		{"GE", 1, "%s >= %s", true},	    {"GT", 1, "%s > %s", true},
		{"BEGINS_WITH", 1, "begins_with(%s, %s)", true},
		{"CONTAINS", 1, "contains(%s, %s)", false},
		{"NOT_CONTAINS", 1, "NOT contains(%s, %s)", false},
		{"NOT_NULL", 0, "attribute_exists(%s)", false},
		{"NULL", 0, "attribute_not_exists(%s)", false},
		{"BETWEEN", 2, "%s BETWEEN %s AND %s", true},
		{"IN", -1, NULL, false},
	};
	struct sf_buf in = SF_BUF_INIT;
	struct sf_span list, v;
	struct sf_iter it;
	char *op = NULL, vk[3][48] = {"", "", ""};
	size_t i, nv = 0, k;
	int rc = -1;

	if (rq_str_req(r, c, "ComparisonOperator", &op) < 0)
		return -1;
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (!strcmp(ops[k].op, op))
			break;
	if (k == sizeof(ops) / sizeof(ops[0]) || (key && !ops[k].key_ok)) {
		rq_fail(r, "ValidationException", key ? "Unsupported operator on KeySchema: %s"
			: "Unsupported operator: %s", op);
		goto out;
	}
	if (rq_member(c, "AttributeValueList", &list)) {
		if (sf_arr_open(&it, list) < 0) {
			rq_fail(r, "SerializationException", "AttributeValueList must be a list");
			goto out;
		}
		while (sf_arr_next(&it, &v) > 0) {
			char key_buf[48];

			if (bind_value(r, g, v, nv, key_buf, sizeof(key_buf)) < 0)
				goto out;
			if (nv < 3)
				memcpy(vk[nv], key_buf, sizeof(key_buf));
			if (sf_buf_printf(&in, "%s%s", nv ? ", " : "", key_buf) < 0)
				goto nomem;
			nv++;
		}
	}
	if (ops[k].nvals == -1 ? nv == 0 : (int)nv != ops[k].nvals) {
		rq_fail(r, "ValidationException", "One or more parameter values were invalid: "
			"Invalid number of argument(s) for the %s ComparisonOperator", op);
		goto out;
	}
	if (ops[k].nvals == -1)
		i = (size_t)sf_buf_printf(&g->text, "%s IN (%s)", nk, in.p);
	else
		i = (size_t)sf_buf_printf(&g->text, ops[k].fmt, nk, vk[0], vk[1]);
	if ((int)i < 0)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	rq_fail_err(r, -ENOMEM, NULL);
out:
	sf_buf_free(&in);
	free(op);
	return rc;
}

/* Expected's short form: {"Exists": false} or {"Value": v[, "Exists": true]}. */
static int expected(struct rq *r, struct gen *g, const char *nk, struct sf_span c)
{
	struct sf_span v;
	bool exists = true;
	char vk[48];

	if (rq_member(c, "ComparisonOperator", &v))
		return comparison(r, g, nk, c, false);
	if (rq_bool(r, c, "Exists", &exists) < 0)
		return -1;
	if (!rq_member(c, "Value", &v)) {
		if (exists)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: Value must be "
				       "provided when Exists is true for Attribute: %s", nk);
		return sf_buf_printf(&g->text, "attribute_not_exists(%s)", nk) < 0
			       ? rq_fail_err(r, -ENOMEM, NULL) : 0;
	}
	if (!exists)
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: Value cannot be used "
			       "when Exists is false for Attribute: %s", nk);
	if (bind_value(r, g, v, 0, vk, sizeof(vk)) < 0)
		return -1;
	return sf_buf_printf(&g->text, "%s = %s", nk, vk) < 0 ? rq_fail_err(r, -ENOMEM, NULL) : 0;
}

/* AttributeUpdates: {"attr": {"Action": PUT|ADD|DELETE, "Value": v}}. */
static int updates(struct rq *r, struct gen *g, struct sf_span m)
{
	struct sf_buf set = SF_BUF_INIT, rem = SF_BUF_INIT, add = SF_BUF_INIT, del = SF_BUF_INIT;
	struct sf_span k, c, v;
	struct sf_iter it;
	char nk[32], vk[48], *name, *action = NULL;
	size_t len;
	int rc = -1;

	sf_obj_open(&it, m);
	while (sf_obj_next(&it, &k, &c) > 0) {
		struct sf_buf *b;

		if (sf_span_str(k, &name, &len, NULL) < 0)
			goto out;
		rc = bind_name(g, name, len, nk, sizeof(nk));
		free(name);
		if (rc < 0 || rq_str(r, c, "Action", &action) < 0)
			goto fail;
		if (!action || !strcmp(action, "PUT")) {
			if (!rq_member(c, "Value", &v)) {
				rq_fail(r, "ValidationException", "One or more parameter values were "
					"invalid: Only DELETE action is allowed when no attribute value "
					"is specified");
				goto fail;
			}
			if (bind_value(r, g, v, 0, vk, sizeof(vk)) < 0)
				goto fail;
			b = &set;
			rc = sf_buf_printf(b, "%s%s = %s", b->len ? ", " : "", nk, vk);
		} else if (!strcmp(action, "ADD") || !strcmp(action, "DELETE")) {
			b = action[0] == 'A' ? &add : &del;
			if (!rq_member(c, "Value", &v)) {
				if (b == &add) {
					rq_fail(r, "ValidationException", "One or more parameter values "
						"were invalid: Only DELETE action is allowed when no "
						"attribute value is specified");
					goto fail;
				}
				b = &rem;
				rc = sf_buf_printf(b, "%s%s", b->len ? ", " : "", nk);
			} else {
				const struct val *x;

				if (bind_value(r, g, v, 0, vk, sizeof(vk)) < 0)
					goto fail;
				x = val_map_get(&g->values, vk, strlen(vk));
				if (b == &add && x && x->type == VAL_L) {
					/* legacy ADD of a list appends (creating the list),
					 * as DynamoDB does; the expression ADD has no list form */
					char ek[48];
					struct val e;

					snprintf(ek, sizeof(ek), ":lg%zu_e", g->n);
					val_init_list(&e);
					if (val_map_set(&g->values, ek, strlen(ek), &e) < 0)
						goto fail;
					b = &set;
					rc = sf_buf_printf(b, "%s%s = list_append(if_not_exists(%s, %s), %s)",
							   b->len ? ", " : "", nk, nk, ek, vk);
				} else {
					rc = sf_buf_printf(b, "%s%s %s", b->len ? ", " : "", nk, vk);
				}
			}
		} else {
			rq_fail(r, "ValidationException", "Unknown Action: %s", action);
			goto fail;
		}
		if (rc < 0)
			goto fail;
		free(action);
		action = NULL;
		g->n++;
	}
	rc = 0;
	if (set.len)
		rc = sf_buf_printf(&g->text, "SET %s ", set.p);
	if (rc == 0 && rem.len)
		rc = sf_buf_printf(&g->text, "REMOVE %s ", rem.p);
	if (rc == 0 && add.len)
		rc = sf_buf_printf(&g->text, "ADD %s ", add.p);
	if (rc == 0 && del.len)
		rc = sf_buf_printf(&g->text, "DELETE %s ", del.p);
	if (rc < 0)
		rq_fail_err(r, -ENOMEM, NULL);
	goto out;
fail:
	rc = -1;
	if (!r->etype)
		rq_fail_err(r, -ENOMEM, NULL);
out:
	free(action);
	sf_buf_free(&set);
	sf_buf_free(&rem);
	sf_buf_free(&add);
	sf_buf_free(&del);
	return rc;
}

int rq_legacy_expr(struct rq *r, struct sf_span obj, const char *member, rq_parse_fn parse,
		   expr_t **e)
{
	struct gen g = {.text = SF_BUF_INIT};
	struct expr_bind b = {.names = &g.names, .values = &g.values, .flags = EXPR_UNLIMITED};
	struct sf_span m, k, c;
	struct sf_iter it;
	struct dyn_err err;
	char nk[32], *name, *conj = NULL;
	size_t len;
	int rc = -1;

	*e = NULL;
	if (!rq_member(obj, member, &m))
		return 0;
	if (sf_obj_open(&it, m) < 0)
		return rq_fail(r, "SerializationException", "%s must be a map", member);
	val_init_map(&g.names);
	val_init_map(&g.values);
	if (rq_str(r, obj, "ConditionalOperator", &conj) < 0)
		goto out;
	if (conj && strcmp(conj, "AND") && strcmp(conj, "OR")) {
		rq_fail(r, "ValidationException", "Unknown ConditionalOperator: %s", conj);
		goto out;
	}
	if (!strcmp(member, "AttributeUpdates")) {
		if (updates(r, &g, m) < 0)
			goto out;
	} else {
		while (sf_obj_next(&it, &k, &c) > 0) {
			if (sf_span_str(k, &name, &len, NULL) < 0 ||
			    bind_name(&g, name, len, nk, sizeof(nk)) < 0) {
				rq_fail(r, "SerializationException", "bad attribute name in %s", member);
				goto out;
			}
			free(name);
			/* ConditionalOperator joins filters and expectations, never keys */
			if (g.n && sf_buf_printf(&g.text, " %s ",
						 conj && strcmp(member, "KeyConditions") ? conj : "AND") < 0)
				goto out;
			if ((!strcmp(member, "Expected") ? expected(r, &g, nk, c)
			     : comparison(r, &g, nk, c, !strcmp(member, "KeyConditions"))) < 0)
				goto out;
			g.n++;
		}
	}
	if (g.n == 0) {
		rc = 0; /* an empty map: no condition */
		goto out;
	}
	if (g.values.m.len == 0)
		b.values = NULL; /* (the parser refuses an empty map) */
	err_clear(&err);
	rc = parse(g.text.p, g.text.len, &b, e, &err);
	if (rc < 0)
		rq_fail(r, "ValidationException", "%s", err.msg);
	else
		rc = 1;
out:
	free(conj);
	val_free(&g.names);
	val_free(&g.values);
	sf_buf_free(&g.text);
	return rc < 0 ? -1 : rc;
}
