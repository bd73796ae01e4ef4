/*
 * scan.c - Query and Scan.
 *
 * One visitor serves both.  DynamoDB's paging rules: an item counts
 * against Limit and against the 1 MB page when it is read, before the
 * FilterExpression looks at it (ScannedCount counts them; Count counts
 * those that pass).  A page ends at Limit items read or once 1 MB has
 * been read, and then LastEvaluatedKey names the last item read: the
 * table's key attributes, plus the index's for an index read, so the
 * next page can start right after it.  Items come from the engine in key
 * order (index key order for an index), descending with
 * ScanIndexForward=false.
 */
#include "apiint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

#define PAGE_BYTES (1u << 20)

struct sc {
	struct rq *r;			/* the request */
	table_t *t;			/* the table */
	const char *index;		/* index name or NULL */
	const expr_t *filter;		/* FilterExpression or NULL */
	const expr_t *proj;		/* ProjectionExpression or NULL */
	bool count_only;		/* Select COUNT */
	size_t limit;			/* Limit, 0 = none */
	size_t scanned, count, bytes;	/* progress */
	bool stopped;			/* page ended early (limit or size) */
	struct val last;		/* the last item read (projected to keys) */
	const struct key_attr *ipk;	/* index key attributes, or NULL */
	const struct key_attr *isk;
	size_t nitems;			/* items written */
	int rc;				/* failure inside the visitor */
};

/* Copy attribute a of item (if there) into map m. */
static int keep_attr(struct val *m, const struct val *item, const struct key_attr *a)
{
	const struct val *v;
	struct val c;
	int rc;

	if (!a || !(v = val_map_get(item, a->name, strlen(a->name))) ||
	    val_map_get(m, a->name, strlen(a->name)))
		return 0;
	rc = val_copy(&c, v);
	if (rc == 0)
		rc = val_map_set(m, a->name, strlen(a->name), &c);
	return rc;
}

static int sc_visit(void *ctx, const struct item_ref *ref)
{
	struct sc *c = ctx;
	struct val item, out;
	struct dyn_err err;
	bool pass = true;
	int rc;

	rc = iref_decode(ref, &item);
	if (rc < 0)
		return c->rc = rc;
	val_free(&c->last);
	val_init_map(&c->last);
	rc = keep_attr(&c->last, &item, tbl_pk(c->t));
	if (rc == 0)
		rc = keep_attr(&c->last, &item, tbl_sk(c->t));
	if (rc == 0)
		rc = keep_attr(&c->last, &item, c->ipk);
	if (rc == 0)
		rc = keep_attr(&c->last, &item, c->isk);
	if (rc == 0 && c->index)
		rc = tbl_project(c->t, c->index, &item);
	if (rc < 0)
		goto out;
	c->scanned++;
	c->bytes += item_size(&item);
	err_clear(&err);
	if (c->filter && (rc = expr_eval(c->filter, &item, &pass, &err)) < 0)
		goto out;
	if (pass) {
		c->count++;
		if (!c->count_only) {
			if (c->nitems++ && (rc = sf_buf_addc(&c->r->out, ',')) < 0)
				goto out;
			if (c->proj) {
				rc = expr_project(c->proj, &item, &out, &err);
				if (rc == 0)
					rc = ddb_render_map(&c->r->out, &out, NULL, NULL);
				val_free(&out);
			} else {
				rc = ddb_render_map(&c->r->out, &item, NULL, NULL);
			}
			if (rc < 0)
				goto out;
		}
	}
	if ((c->limit && c->scanned >= c->limit) || c->bytes >= PAGE_BYTES) {
		c->stopped = true;
		rc = 1;
	}
out:
	val_free(&item);
	if (rc < 0)
		c->rc = rc;
	return rc;
}

/* The index definition of t named name (into *d, copied), or -1 (error). */
static int find_index(struct rq *r, table_t *t, const char *name, struct table_schema *s,
		      const struct index_def **d)
{
	size_t i;
	int rc = tbl_schema(t, s);

	if (rc < 0)
		return rq_fail_err(r, rc, NULL);
	*d = NULL;
	if (!name)
		return 0;
	for (i = 0; i < s->nindex; i++)
		if (!strcmp(s->index[i].name, name))
			*d = &s->index[i];
	if (!*d)
		return rq_fail(r, "ValidationException",
			       "The table does not have the specified index: %s", name);
	return 0;
}

/* The common part of Query and Scan: everything but the key condition. */
struct common {
	table_t *t;		  /* the table */
	char *index;		  /* IndexName or NULL */
	struct table_schema s;	  /* the table's schema */
	const struct index_def *d; /* the index, or NULL */
	struct rq_bind bd;	  /* bindings */
	expr_t *filter, *proj;	  /* expressions */
	struct val esk;		  /* ExclusiveStartKey (M) or VAL_NULL */
	const struct val *spk, *ssk, *sisk; /* start keys borrowed from esk */
	size_t limit;		  /* Limit or 0 */
	bool count_only;	  /* Select COUNT */
};

static void common_free(struct common *c)
{
	free(c->index);
	schema_free(&c->s);
	rq_bind_free(&c->bd);
	expr_free(c->filter);
	expr_free(c->proj);
	val_free(&c->esk);
	tbl_close(c->t);
}

static int common_parse(struct rq *r, struct common *c, const char *filter_member)
{
	char *select = NULL;
	int64_t limit;
	bool consistent = false;
	int rc;

	memset(c, 0, sizeof(*c));
	val_init_null(&c->esk);
	rq_bind_init(&c->bd);
	if (rq_table(r, r->body, &c->t) < 0 || rq_str(r, r->body, "IndexName", &c->index) < 0 ||
	    find_index(r, c->t, c->index, &c->s, &c->d) < 0 || rq_bind_parse(r, r->body, &c->bd) < 0)
		return -1;
	if (rq_bool(r, r->body, "ConsistentRead", &consistent) < 0)
		return -1;
	if (consistent && c->d && !meta_is_lsi(r->a, tbl_name(c->t), c->d->name))
		return rq_fail(r, "ValidationException",
			       "Consistent reads are not supported on global secondary indexes");
	rc = rq_int(r, r->body, "Limit", &limit);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (limit < 1)
			return rq_fail(r, "ValidationException",
				       "1 validation error detected: Value '%lld' at 'limit' failed "
				       "to satisfy constraint: Member must have value greater than or "
				       "equal to 1",
				       (long long)limit);
		c->limit = (size_t)limit;
	}
	if (rq_expr(r, r->body, "FilterExpression", expr_parse_filter, &c->bd, &c->filter) < 0 ||
	    rq_projection(r, r->body, &c->bd, &c->proj) < 0)
		return -1;
	(void)filter_member;
	if (rq_str(r, r->body, "Select", &select) < 0)
		return -1;
	if (select) {
		rc = 0;
		if (!strcmp(select, "COUNT")) {
			c->count_only = true;
		} else if (!strcmp(select, "SPECIFIC_ATTRIBUTES")) {
			if (!c->proj)
				rc = rq_fail(r, "ValidationException",
					     "Must specify the AttributesToGet or ProjectionExpression "
					     "when choosing to get SPECIFIC_ATTRIBUTES");
		} else if (!strcmp(select, "ALL_PROJECTED_ATTRIBUTES")) {
			if (!c->d)
				rc = rq_fail(r, "ValidationException",
					     "ALL_PROJECTED_ATTRIBUTES can be used only when Querying "
					     "using an IndexName");
		} else if (!strcmp(select, "ALL_ATTRIBUTES")) {
			if (c->d && c->d->proj != PROJ_ALL &&
			    !meta_is_lsi(r->a, tbl_name(c->t), c->d->name))
				rc = rq_fail(r, "ValidationException",
					     "One or more parameter values were invalid: Select type "
					     "ALL_ATTRIBUTES is not supported for global secondary index "
					     "%s because its projection type is not ALL",
					     c->d->name);
		} else {
			rc = rq_fail(r, "ValidationException",
				     "1 validation error detected: Value '%s' at 'select' failed to "
				     "satisfy constraint: Member must satisfy enum value set: "
				     "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
				     "ALL_PROJECTED_ATTRIBUTES]",
				     select);
		}
		if (rc == 0 && c->proj && strcmp(select, "SPECIFIC_ATTRIBUTES"))
			rc = rq_fail(r, "ValidationException",
				     "Cannot specify the ProjectionExpression when choosing to get %s",
				     select);
		free(select);
		if (rc < 0)
			return -1;
	}
	rc = rq_map(r, r->body, "ExclusiveStartKey", &c->esk);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		const struct key_attr *pk = tbl_pk(c->t), *sk = tbl_sk(c->t);

		c->spk = val_map_get(&c->esk, pk->name, strlen(pk->name));
		c->ssk = sk ? val_map_get(&c->esk, sk->name, strlen(sk->name)) : NULL;
		if (c->d && c->d->has_sk)
			c->sisk = val_map_get(&c->esk, c->d->sk.name, strlen(c->d->sk.name));
		if (!c->spk || (sk && !c->ssk) || c->spk->type != pk->type ||
		    (sk && c->ssk->type != sk->type))
			return rq_fail(r, "ValidationException",
				       "The provided starting key is invalid: The provided key "
				       "element does not match the schema");
	}
	return 0;
}

static int finish(struct rq *r, struct common *c, struct sc *v)
{
	int rc;

	rc = sf_buf_printf(&r->out, "%s\"Count\":%zu,\"ScannedCount\":%zu", c->count_only ? "" : "],",
			   v->count, v->scanned);
	if (rc == 0 && v->stopped && v->last.type == VAL_M)
		rc = rq_put_item(&r->out, "LastEvaluatedKey", &v->last, false);
	if (rc == 0)
		rc = rq_capacity(r, tbl_name(c->t),
				 0.5 * (double)((v->bytes + 4095) / 4096 ? (v->bytes + 4095) / 4096 : 1),
				 false);
	if (rc == 0)
		rc = sf_buf_addc(&r->out, '}');
	return rc;
}

static void sc_init(struct sc *v, struct rq *r, struct common *c)
{
	memset(v, 0, sizeof(*v));
	v->r = r;
	v->t = c->t;
	v->index = c->index;
	v->filter = c->filter;
	v->proj = c->proj;
	v->count_only = c->count_only;
	v->limit = c->limit;
	if (c->d) {
		v->ipk = &c->d->pk;
		v->isk = c->d->has_sk ? &c->d->sk : NULL;
	}
	val_init_null(&v->last);
}

static int run_error(struct rq *r, int rc, struct dyn_err *err)
{
	if (rc == -ENOENT && err->code)
		return rq_fail(r, "ValidationException", "The provided starting key is invalid: %s",
			       err->msg);
	if (rc == -EINVAL)
		return rq_fail(r, "ValidationException", "%s", err->code ? err->msg : "invalid");
	return rq_fail_err(r, rc, err);
}

/* ---- Query ---- */

/* The key condition terms checked against the key attributes. */
static int key_terms(struct rq *r, const struct expr_keycond *kc, const struct key_attr *pk,
		     const struct key_attr *sk, const struct expr_kc_term **tp,
		     const struct expr_kc_term **ts)
{
	const struct expr_kc_term *t[2] = {&kc->a, &kc->b};
	size_t i;

	*tp = *ts = NULL;
	for (i = 0; i < kc->n; i++) {
		if (!strcmp(t[i]->name, pk->name) && !*tp)
			*tp = t[i];
		else if (sk && !strcmp(t[i]->name, sk->name) && !*ts)
			*ts = t[i];
		else
			return rq_fail(r, "ValidationException",
				       "Query condition missed key schema element: %s",
				       sk && (*tp || strcmp(t[i]->name, pk->name)) ? sk->name
										   : pk->name);
	}
	if (!*tp)
		return rq_fail(r, "ValidationException",
			       "Query condition missed key schema element: %s", pk->name);
	if ((*tp)->op != EXPR_KC_EQ)
		return rq_fail(r, "ValidationException", "Query key condition not supported");
	if ((*tp)->v1->type != pk->type ||
	    (*ts && ((*ts)->v1->type != sk->type || ((*ts)->v2 && (*ts)->v2->type != sk->type))))
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: Condition parameter type "
			       "does not match schema type");
	if (*ts && (*ts)->op == EXPR_KC_BEGINS && sk->type == VAL_N)
		return rq_fail(r, "ValidationException",
			       "Invalid KeyConditionExpression: Incorrect operand type for operator "
			       "or function; operator or function: begins_with, operand type: N");
	if (*ts && (*ts)->op == EXPR_KC_BETWEEN && val_cmp((*ts)->v1, (*ts)->v2) > 0)
		return rq_fail(r, "ValidationException",
			       "Invalid KeyConditionExpression: The BETWEEN operator requires upper "
			       "bound to be greater than or equal to lower bound");
	return 0;
}

static void set_range(struct tbl_range *rg, const struct expr_kc_term *ts)
{
	memset(rg, 0, sizeof(*rg));
	if (!ts)
		return;
	switch (ts->op) {
	case EXPR_KC_EQ:
		rg->lo = rg->hi = ts->v1;
		rg->lo_incl = rg->hi_incl = true;
		break;
	case EXPR_KC_LT:
	case EXPR_KC_LE:
		rg->hi = ts->v1;
		rg->hi_incl = ts->op == EXPR_KC_LE;
		break;
	case EXPR_KC_GT:
	case EXPR_KC_GE:
		rg->lo = ts->v1;
		rg->lo_incl = ts->op == EXPR_KC_GE;
		break;
	case EXPR_KC_BETWEEN:
		rg->lo = ts->v1;
		rg->hi = ts->v2;
		rg->lo_incl = rg->hi_incl = true;
		break;
	case EXPR_KC_BEGINS:
		rg->prefix = ts->v1;
		break;
	default:
		break;
	}
}

int op_query(struct rq *r)
{
	const struct expr_kc_term *tp, *ts;
	const struct key_attr *pk, *sk;
	struct expr_keycond kc;
	struct tbl_query q = {0};
	struct dyn_err err;
	struct common c;
	struct sc v;
	expr_t *kce = NULL;
	const expr_t *all[3];
	bool fwd = true;
	int rc = -1;

	if (common_parse(r, &c, "QueryFilter") < 0)
		goto out0;
	if (rq_expr(r, r->body, "KeyConditionExpression", expr_parse_key_condition, &c.bd, &kce) <= 0) {
		if (!r->etype)
			rq_fail(r, "ValidationException",
				"Either the KeyConditions or KeyConditionExpression parameter must be "
				"specified in the request.");
		goto out0;
	}
	all[0] = kce;
	all[1] = c.filter;
	all[2] = c.proj;
	if (rq_bind_done(r, &c.bd, all, 3, NULL) < 0 || rq_bool(r, r->body, "ScanIndexForward", &fwd) < 0)
		goto out0;
	err_clear(&err);
	if (expr_key_condition(kce, &kc, &err) < 0) {
		rq_fail(r, "ValidationException", "%s", err.msg);
		goto out0;
	}
	pk = c.d ? &c.d->pk : tbl_pk(c.t);
	sk = c.d ? (c.d->has_sk ? &c.d->sk : NULL) : tbl_sk(c.t);
	if (key_terms(r, &kc, pk, sk, &tp, &ts) < 0)
		goto out0;
	q.index = c.index;
	q.pk = tp->v1;
	set_range(&q.sk, ts);
	q.desc = !fwd;
	q.start_pk = c.spk;
	q.start_sk = c.ssk;
	q.start_isk = c.sisk;
	sc_init(&v, r, &c);
	if (!c.count_only)
		sf_buf_adds(&r->out, "{\"Items\":[");
	else
		sf_buf_addc(&r->out, '{');
	rc = tbl_query(c.t, &q, sc_visit, &v, &err);
	if (rc < 0 || v.rc < 0) {
		rc = run_error(r, rc < 0 ? rc : v.rc, &err);
	} else {
		rc = finish(r, &c, &v) < 0 ? rq_fail_err(r, -ENOMEM, NULL) : 0;
	}
	val_free(&v.last);
out0:
	expr_free(kce);
	common_free(&c);
	return rc;
}

/* ---- Scan ---- */

int op_scan(struct rq *r)
{
	struct tbl_scan s = {0};
	struct dyn_err err;
	struct common c;
	struct sc v;
	const expr_t *all[2];
	int64_t seg = -1, total = -1;
	int rc = -1, hs, ht;

	if (common_parse(r, &c, "ScanFilter") < 0)
		goto out;
	all[0] = c.filter;
	all[1] = c.proj;
	if (rq_bind_done(r, &c.bd, all, 2, "FilterExpression and ProjectionExpression are null") < 0 || (hs = rq_int(r, r->body, "Segment", &seg)) < 0 ||
	    (ht = rq_int(r, r->body, "TotalSegments", &total)) < 0)
		goto out;
	if (hs != ht) {
		rq_fail(r, "ValidationException", hs ? "If segment is specified, total segment must "
			"also be specified" : "If total segment is specified, segment must also be "
			"specified");
		goto out;
	}
	if (ht) {
		if (total < 1 || total > 1000000) {
			rq_fail(r, "ValidationException",
				"1 validation error detected: Value '%lld' at 'totalSegments' failed to "
				"satisfy constraint: Member must have value %s",
				(long long)total, total < 1 ? "greater than or equal to 1"
							    : "less than or equal to 1000000");
			goto out;
		}
		if (seg < 0 || seg >= total) {
			rq_fail(r, "ValidationException",
				"1 validation error detected: Value '%lld' at 'segment' failed to "
				"satisfy constraint: Member must have value %s %lld", (long long)seg,
				seg < 0 ? "greater than or equal to" : "less than or equal to",
				seg < 0 ? 0LL : (long long)total - 1);
			goto out;
		}
		s.segment = (uint32_t)seg;
		s.total = (uint32_t)total;
	}
	s.index = c.index;
	s.start_pk = c.spk;
	s.start_sk = c.ssk;
	sc_init(&v, r, &c);
	if (!c.count_only)
		sf_buf_adds(&r->out, "{\"Items\":[");
	else
		sf_buf_addc(&r->out, '{');
	err_clear(&err);
	rc = tbl_scan(c.t, &s, sc_visit, &v, &err);
	if (rc < 0 || v.rc < 0)
		rc = run_error(r, rc < 0 ? rc : v.rc, &err);
	else
		rc = finish(r, &c, &v) < 0 ? rq_fail_err(r, -ENOMEM, NULL) : 0;
	val_free(&v.last);
out:
	common_free(&c);
	return rc;
}
