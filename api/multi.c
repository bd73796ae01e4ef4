/*
 * multi.c - BatchGetItem, BatchWriteItem, TransactWriteItems,
 * TransactGetItems.
 *
 * Transactions are one db_apply() of all their actions: all or nothing,
 * isolated, conditions tested under the write locks (items.c's wr_fn).
 * TransactGetItems is a db_apply() of DB_CHECK operations, so its reads
 * are one consistent snapshot too.  BatchWriteItem is applied as one
 * db_apply() as well (DynamoDB promises less: each write on its own), so
 * UnprocessedItems is always empty.
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"
#include "ops.h"

#define BATCH_GET_MAX 100
#define BATCH_WRITE_MAX 25

/* One action of a batch or transaction. */
struct act {
	table_t *t;		/* its table (own reference) */
	int kind;		/* DB_PUT, DB_DELETE, DB_MODIFY, DB_CHECK */
	struct val v;		/* the item (PUT) or key (others) */
	const struct val *pk;	/* key, borrowed from v */
	const struct val *sk;
	struct rq_bind bd;	/* bindings */
	expr_t *cond, *update, *proj; /* expressions */
	bool want_old_on_fail;	/* ReturnValuesOnConditionCheckFailure ALL_OLD */
	struct wr w;		/* callback context */
};

static void act_init(struct act *a)
{
	memset(a, 0, sizeof(*a));
	val_init_null(&a->v);
	rq_bind_init(&a->bd);
	wr_clear(&a->w);
}

static void act_free(struct act *a)
{
	val_free(&a->v);
	rq_bind_free(&a->bd);
	expr_free(a->cond);
	expr_free(a->update);
	expr_free(a->proj);
	wr_free(&a->w);
	tbl_close(a->t);
}

/* Two actions on one item? */
static bool same_item(const struct act *a, const struct act *b)
{
	return a->t == b->t && val_equal(a->pk, b->pk) &&
	       (!a->sk || !b->sk ? a->sk == b->sk : val_equal(a->sk, b->sk));
}

static int check_dups(struct rq *r, struct act *acts, size_t n, const char *msg)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (same_item(&acts[i], &acts[j]))
				return rq_fail(r, "ValidationException", "%s", msg);
	return 0;
}

/* Open a table by name (borrowed span of its name). */
static int open_named(struct rq *r, struct sf_span k, table_t **t)
{
	char *name;
	int rc;

	if (sf_span_str(k, &name, NULL, NULL) < 0)
		return rq_fail(r, "SerializationException", "bad table name");
	rc = db_table_open(r->a->db, name, t);
	free(name);
	return rc < 0 ? rq_no_table(r, NULL) : 0;
}

static void to_db_op(struct act *a, struct db_op *op)
{
	memset(op, 0, sizeof(*op));
	op->kind = a->kind;
	op->table = a->t;
	op->item = a->kind == DB_PUT ? &a->v : NULL;
	op->pk = a->pk;
	op->sk = a->sk;
	op->fn = wr_fn;
	op->ctx = &a->w;
	a->w.kind = a->kind;
	a->w.cond = a->cond;
	a->w.update = a->update;
	a->w.pk = a->pk;
	a->w.sk = a->sk;
}

/* ---- BatchGetItem ---- */

/* Grow the action array by one (initialised).  NULL when out of memory. */
static struct act *act_push(struct act **acts, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct act *na = realloc(*acts, nc * sizeof(*na));

		if (!na)
			return NULL;
		*acts = na;
		*cap = nc;
	}
	act_init(&(*acts)[*n]);
	return &(*acts)[(*n)++];
}

static int batch_get_table(struct rq *r, struct sf_span k, struct sf_span x, struct act **acts,
			   size_t *n, size_t *cap, bool first_t)
{
	struct sf_span keys, e;
	struct sf_iter ki;
	struct dyn_err err;
	struct val item, proj;
	struct act *a, *head;
	size_t start = *n, i;
	bool first_i = true;
	int rc;

	if (!rq_member(x, "Keys", &keys) || sf_arr_open(&ki, keys) < 0)
		return rq_fail(r, "ValidationException", "Keys must be a non-empty list");
	while (sf_arr_next(&ki, &e) > 0) {
		if (*n == BATCH_GET_MAX)
			return rq_fail(r, "ValidationException",
				       "Too many items requested for the BatchGetItem call");
		if (!(a = act_push(acts, n, cap)))
			return rq_fail_err(r, -ENOMEM, NULL);
		if (open_named(r, k, &a->t) < 0)
			return -1;
		err_clear(&err);
		if (ddb_parse_map(e, &a->v, &err) < 0) {
			val_init_null(&a->v);
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: %s", err.msg);
		}
		if (rq_key_check(r, a->t, &a->v, &a->pk, &a->sk) < 0)
			return -1;
	}
	if (*n == start)
		return rq_fail(r, "ValidationException", "Keys must be a non-empty list");
	head = &(*acts)[start];
	if (rq_bind_parse(r, x, &head->bd) < 0 || rq_projection(r, x, &head->bd, &head->proj) < 0 ||
	    rq_bind_done(r, &head->bd, (const expr_t *const *)&head->proj, 1, NULL) < 0)
		return -1;
	if (check_dups(r, head, *n - start, "Provided list of item keys contains duplicates") < 0)
		return -1;
	sf_buf_printf(&r->out, "%s%.*s:[", first_t ? "" : ",", (int)k.len, k.p);
	for (i = start; i < *n; i++) {
		a = &(*acts)[i];
		rc = tbl_get(a->t, a->pk, a->sk, &item, NULL);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return rq_fail_err(r, rc, NULL);
		if (head->proj) {
			err_clear(&err);
			rc = expr_project(head->proj, &item, &proj, &err);
			val_free(&item);
			if (rc < 0)
				return rq_fail_err(r, rc, &err);
			val_move(&item, &proj);
		}
		if (!first_i)
			sf_buf_addc(&r->out, ',');
		first_i = false;
		ddb_render_map(&r->out, &item, NULL, NULL);
		val_free(&item);
	}
	sf_buf_addc(&r->out, ']');
	return 0;
}

int op_batch_get(struct rq *r)
{
	struct sf_span req, k, x;
	struct sf_iter it;
	struct act *acts = NULL;
	size_t n = 0, cap = 0, i;
	bool first_t = true;
	int rc = -1;

	if (!rq_member(r->body, "RequestItems", &req) || sf_obj_open(&it, req) < 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'requestItems' failed to "
			       "satisfy constraint: Member must not be null");
	sf_buf_adds(&r->out, "{\"Responses\":{");
	while (sf_obj_next(&it, &k, &x) > 0) {
		if (batch_get_table(r, k, x, &acts, &n, &cap, first_t) < 0)
			goto out;
		first_t = false;
	}
	if (n == 0) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '{}' at 'requestItems' failed to satisfy "
			"constraint: Member must have length greater than or equal to 1");
		goto out;
	}
	sf_buf_adds(&r->out, "},\"UnprocessedKeys\":{}}");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		act_free(&acts[i]);
	free(acts);
	return rc;
}

/* ---- BatchWriteItem ---- */

static int batch_write_req(struct rq *r, struct sf_span k, struct sf_span e, struct act *a)
{
	struct sf_span pr;

	if (open_named(r, k, &a->t) < 0)
		return -1;
	if (rq_member(e, "PutRequest", &pr)) {
		a->kind = DB_PUT;
		if (rq_map(r, pr, "Item", &a->v) <= 0)
			return rq_fail(r, "ValidationException", "PutRequest needs an Item");
		return rq_item_key(r, a->t, &a->v, &a->pk, &a->sk);
	}
	if (rq_member(e, "DeleteRequest", &pr)) {
		a->kind = DB_DELETE;
		return rq_key(r, a->t, pr, "Key", &a->v, &a->pk, &a->sk);
	}
	return rq_fail(r, "ValidationException",
		       "Supplied AttributeValue has more than one datatypes set, must contain "
		       "exactly one of the supported datatypes");
}

int op_batch_write(struct rq *r)
{
	struct sf_span req, k, x, e;
	struct sf_iter it, li;
	struct act acts[BATCH_WRITE_MAX];
	struct db_op ops[BATCH_WRITE_MAX];
	struct dyn_err err;
	size_t n = 0, i;
	int rc = -1;

	if (!rq_member(r->body, "RequestItems", &req) || sf_obj_open(&it, req) < 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'requestItems' failed to "
			       "satisfy constraint: Member must not be null");
	while (sf_obj_next(&it, &k, &x) > 0) {
		if (sf_arr_open(&li, x) < 0) {
			rq_fail(r, "SerializationException", "a list of write requests expected");
			goto out;
		}
		while (sf_arr_next(&li, &e) > 0) {
			if (n == BATCH_WRITE_MAX) {
				rq_fail(r, "ValidationException",
					"Too many items requested for the BatchWriteItem call");
				goto out;
			}
			act_init(&acts[n]);
			if (batch_write_req(r, k, e, &acts[n++]) < 0)
				goto out;
		}
	}
	if (n == 0) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '{}' at 'requestItems' failed to satisfy "
			"constraint: Member must have length greater than or equal to 1");
		goto out;
	}
	if (check_dups(r, acts, n, "Provided list of item keys contains duplicates") < 0)
		goto out;
	for (i = 0; i < n; i++) {
		wr_free(&acts[i].w);
		wr_init(&acts[i].w, acts[i].t, acts[i].kind);
		to_db_op(&acts[i], &ops[i]);
	}
	err_clear(&err);
	rc = db_apply(r->a->db, ops, n, NULL, &err);
	if (rc < 0) {
		rc = rq_write_failed(r, rc, &err);
		goto out;
	}
	r->wrote = true;
	sf_buf_adds(&r->out, "{\"UnprocessedItems\":{}}");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		act_free(&acts[i]);
	return rc;
}

/* ---- TransactWriteItems ---- */

/* Parse one transaction action (Put/Delete/Update/ConditionCheck). */
static int tx_action(struct rq *r, struct sf_span x, struct act *a)
{
	static const char *const kinds[] = {"Put", "Delete", "Update", "ConditionCheck"};
	static const int dbk[] = {DB_PUT, DB_DELETE, DB_MODIFY, DB_CHECK};
	struct sf_span body;
	struct dyn_err err;
	const expr_t *ex[2];
	char *mode = NULL;
	size_t i, found = 0;
	int k = -1;

	for (i = 0; i < 4; i++)
		if (rq_member(x, kinds[i], &body))
			k = (int)i, found++;
	if (found != 1)
		return rq_fail(r, "ValidationException",
			       "TransactItems can only contain one of Check, Put, Update or Delete");
	rq_member(x, kinds[k], &body);
	a->kind = dbk[k];
	if (rq_table(r, body, &a->t) < 0)
		return -1;
	wr_init(&a->w, a->t, a->kind);
	if (a->kind == DB_PUT) {
		if (rq_map(r, body, "Item", &a->v) <= 0)
			return rq_fail(r, "ValidationException", "Put needs an Item");
		if (rq_item_key(r, a->t, &a->v, &a->pk, &a->sk) < 0)
			return -1;
	} else if (rq_key(r, a->t, body, "Key", &a->v, &a->pk, &a->sk) < 0) {
		return -1;
	}
	if (rq_bind_parse(r, body, &a->bd) < 0 ||
	    rq_expr(r, body, "ConditionExpression", expr_parse_condition, &a->bd, &a->cond) < 0)
		return -1;
	if (a->kind == DB_MODIFY &&
	    rq_expr(r, body, "UpdateExpression", expr_parse_update, &a->bd, &a->update) <= 0)
		return r->etype ? -1 : rq_fail(r, "ValidationException",
					       "Update needs an UpdateExpression");
	if (a->kind == DB_CHECK && !a->cond)
		return rq_fail(r, "ValidationException",
			       "ConditionCheck needs a ConditionExpression");
	ex[0] = a->cond;
	ex[1] = a->update;
	if (rq_bind_done(r, &a->bd, ex, 2, NULL) < 0)
		return -1;
	err_clear(&err);
	if (a->update && ops_check_update_keys(a->t, a->update, &err) < 0)
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: %s", err.msg);
	if (rq_str(r, body, "ReturnValuesOnConditionCheckFailure", &mode) < 0)
		return -1;
	a->want_old_on_fail = mode && !strcmp(mode, "ALL_OLD");
	free(mode);
	return 0;
}

#define TX_TOO_MANY                                                                          \
	"1 validation error detected: Value '[...]' at 'transactItems' failed to satisfy "  \
	"constraint: Member must have length less than or equal to 100"

/* A transaction's n parsed actions into ops: at least one, no item twice.  0 or -1. */
static int tx_ops(struct rq *r, struct act *acts, size_t n, struct db_op *ops)
{
	size_t i;

	if (n == 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value '[]' at 'transactItems' failed to "
			       "satisfy constraint: Member must have length greater than or equal to 1");
	if (check_dups(r, acts, n,
		       "Transaction request cannot include multiple operations on one item") < 0)
		return -1;
	for (i = 0; i < n; i++)
		to_db_op(&acts[i], &ops[i]);
	return 0;
}

/* A recent token: 1 same request (answer success), 0 unknown, -1 mismatch. */
static int token_seen(api_t *a, const char *token, uint32_t hash, bool remember)
{
	struct api_token **pp, *t;
	int64_t now = time(NULL);
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	for (pp = &a->tokens; (t = *pp);) {
		if (now - t->at > API_TOKEN_TTL_S) {
			*pp = t->next;
			free(t->token);
			free(t);
			continue;
		}
		if (!strcmp(t->token, token))
			rc = t->body_hash == hash ? 1 : -1;
		pp = &t->next;
	}
	if (rc == 0 && remember && (t = calloc(1, sizeof(*t)))) {
		t->token = strdup(token);
		t->body_hash = hash;
		t->at = now;
		if (t->token) {
			t->next = a->tokens;
			a->tokens = t;
		} else {
			free(t);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static int cancel_reasons(struct rq *r, struct act *acts, size_t n, size_t failed, int rc,
			  const struct dyn_err *err)
{
	const char *code = rc == -ECANCELED ? "ConditionalCheckFailed" : "ValidationError";
	size_t i;

	sf_buf_adds(&r->extra, ",\"CancellationReasons\":[");
	for (i = 0; i < n; i++) {
		if (i)
			sf_buf_addc(&r->extra, ',');
		if (i != failed) {
			sf_buf_adds(&r->extra, "{\"Code\":\"None\"}");
			continue;
		}
		sf_buf_printf(&r->extra, "{\"Code\":\"%s\",\"Message\":", code);
		if (rc == -ECANCELED)
			sf_buf_adds(&r->extra, "\"The conditional request failed\"");
		else
			sf_json_str(&r->extra, err->msg, strlen(err->msg));
		if (rc == -ECANCELED && acts[i].want_old_on_fail && acts[i].w.had_old)
			rq_put_item(&r->extra, "Item", &acts[i].w.old, false);
		sf_buf_addc(&r->extra, '}');
	}
	sf_buf_addc(&r->extra, ']');
	rq_fail(r, "TransactionCanceledException",
		"Transaction cancelled, please refer cancellation reasons for specific reasons [");
	for (i = 0; i < n; i++) {
		size_t len = strlen(r->emsg);

		snprintf(r->emsg + len, sizeof(r->emsg) - len, "%s%s", i ? ", " : "",
			 i == failed ? code : "None");
	}
	strncat(r->emsg, "]", sizeof(r->emsg) - strlen(r->emsg) - 1);
	return -1;
}

int op_transact_write(struct rq *r)
{
	struct act acts[DB_MAX_TX_OPS];
	struct db_op ops[DB_MAX_TX_OPS];
	struct sf_span list, x;
	struct sf_iter it;
	struct dyn_err err;
	char *token = NULL;
	uint32_t hash = 0;
	size_t n = 0, i, failed = 0;
	int rc = -1, seen;

	if (rq_str(r, r->body, "ClientRequestToken", &token) < 0)
		return -1;
	if (token) {
		hash = api_crc32(r->body.p, r->body.len);
		seen = token_seen(r->a, token, hash, false);
		if (seen < 0) {
			free(token);
			return rq_fail(r, "IdempotentParameterMismatchException",
				       "The request uses the same client token as a previous, but "
				       "non-identical request.");
		}
		if (seen > 0) {
			free(token);
			sf_buf_adds(&r->out, "{}");
			return 0;
		}
	}
	if (!rq_member(r->body, "TransactItems", &list) || sf_arr_open(&it, list) < 0) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value null at 'transactItems' failed to "
			"satisfy constraint: Member must not be null");
		goto out;
	}
	while (sf_arr_next(&it, &x) > 0) {
		if (n == DB_MAX_TX_OPS) {
			rq_fail(r, "ValidationException", "%s", TX_TOO_MANY);
			goto out;
		}
		act_init(&acts[n]);
		if (tx_action(r, x, &acts[n++]) < 0)
			goto out;
	}
	if (tx_ops(r, acts, n, ops) < 0)
		goto out;
	err_clear(&err);
	rc = db_apply(r->a->db, ops, n, &failed, &err);
	if (rc < 0) {
		if ((rc == -ECANCELED || rc == -EINVAL || rc == -EFBIG) && failed < n)
			cancel_reasons(r, acts, n, failed, rc, &err);
		else
			rq_write_failed(r, rc, &err);
		rc = -1;
		goto out;
	}
	r->wrote = true;
	if (token)
		token_seen(r->a, token, hash, true);
	sf_buf_adds(&r->out, "{}");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		act_free(&acts[i]);
	free(token);
	return rc;
}

/* ---- TransactGetItems ---- */

int op_transact_get(struct rq *r)
{
	struct act acts[DB_MAX_TX_OPS];
	struct db_op ops[DB_MAX_TX_OPS];
	struct sf_span list, x, body;
	struct sf_iter it;
	struct dyn_err err;
	struct val proj;
	size_t n = 0, i;
	int rc = -1;

	if (!rq_member(r->body, "TransactItems", &list) || sf_arr_open(&it, list) < 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'transactItems' failed to "
			       "satisfy constraint: Member must not be null");
	while (sf_arr_next(&it, &x) > 0) {
		struct act *a;

		if (n == DB_MAX_TX_OPS) {
			rq_fail(r, "ValidationException", "%s", TX_TOO_MANY);
			goto out;
		}
		a = &acts[n++];
		act_init(a);
		if (!rq_member(x, "Get", &body)) {
			rq_fail(r, "ValidationException", "TransactGetItems takes Get actions only");
			goto out;
		}
		a->kind = DB_CHECK;
		if (rq_table(r, body, &a->t) < 0 ||
		    rq_key(r, a->t, body, "Key", &a->v, &a->pk, &a->sk) < 0 ||
		    rq_bind_parse(r, body, &a->bd) < 0 || rq_projection(r, body, &a->bd, &a->proj) < 0 ||
		    rq_bind_done(r, &a->bd, (const expr_t *const *)&a->proj, 1, NULL) < 0)
			goto out;
		wr_init(&a->w, a->t, DB_CHECK);
	}
	if (tx_ops(r, acts, n, ops) < 0)
		goto out;
	err_clear(&err);
	rc = db_apply(r->a->db, ops, n, NULL, &err);
	if (rc < 0) {
		rc = rq_write_failed(r, rc, &err);
		goto out;
	}
	sf_buf_adds(&r->out, "{\"Responses\":[");
	for (i = 0; i < n; i++) {
		if (i)
			sf_buf_addc(&r->out, ',');
		if (!acts[i].w.had_old) {
			sf_buf_adds(&r->out, "{}");
			continue;
		}
		sf_buf_addc(&r->out, '{');
		if (acts[i].proj) {
			val_init_null(&proj);
			if (expr_project(acts[i].proj, &acts[i].w.old, &proj, &err) == 0)
				rq_put_item(&r->out, "Item", &proj, true);
			val_free(&proj);
		} else {
			rq_put_item(&r->out, "Item", &acts[i].w.old, true);
		}
		sf_buf_addc(&r->out, '}');
	}
	sf_buf_adds(&r->out, "]}");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		act_free(&acts[i]);
	return r->etype ? -1 : rc;
}
