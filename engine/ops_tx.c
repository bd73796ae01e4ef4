/*
 * ops_tx.c - /_tx documents: up to DB_MAX_TX_OPS write requests on
 * distinct items of any tables, applied all or nothing by ONE db_apply()
 * (which write-locks every table involved, in table-id order, for the
 * whole evaluation: no reader sees half a transaction, and no writer can
 * change an item between a condition and the writes that depend on it).
 *
 * Everything that can be checked before taking the locks is: the JSON,
 * the envelopes and expressions (ops.c), the tables, the keys.  What is
 * left for db_apply() is what depends on the current items: conditions
 * (-ECANCELED, DynamoDB's TransactionCanceledException with reason
 * ConditionalCheckFailed), the resulting items' validity, and distinct
 * items.  The first failure in operation order is reported, with the
 * operation's index (0-based, as in the "ops" array) and its item.
 *
 * The document goes to a sink (engine/ops.h struct ops_sink): the
 * engine's own (ops_tx_run) applies it with one db_apply() as above; over
 * the backend face (ops_tx_run_sink with be_sink) the backend's apply
 * gives the same all-or-nothing (TransactWriteItems remotely).
 */
#include "opsint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

/* The tables a transaction names, each opened once. */
struct tx_tables {
	void **t;		  /* open handles of the sink */
	struct key_attr (*k)[2];  /* their key attributes, copied when opened */
	bool *has_sk;		  /* k[i][1] is a sort key */
	size_t n;		  /* used */
};

/* The handle of table name (ts->t[*i]), opened at its first use. */
static int tables_get(const struct ops_sink *s, struct tx_tables *ts, const char *name,
		      size_t *i, struct dyn_err *err)
{
	int rc;

	for (*i = 0; *i < ts->n; (*i)++)
		if (!strcmp(s->name(s->ctx, ts->t[*i]), name))
			return 0;
	rc = s->open(s->ctx, name, &ts->t[ts->n]);
	if (rc == -ENOENT)
		return err_set(err, EINVAL, "no table named %s", name);
	if (rc < 0)
		return rc;
	ts->has_sk[ts->n] = s->keys(s->ctx, ts->t[ts->n], ts->k[ts->n]);
	*i = ts->n++;
	return 0;
}

static void set_reason(struct ops_tx_result *res, int rc, const struct dyn_err *err)
{
	if (err && err->code)
		err_format(err, res->reason, sizeof(res->reason));
	else
		snprintf(res->reason, sizeof(res->reason), "%s", strerror(-rc));
	ops_utf8_sanitize(res->reason);
	res->code = -rc;
	res->status = rc == -ECANCELED		    ? OPS_TX_CANCELLED
		      : rc == -EIO || rc == -ENOMEM || rc == -ENOSPC || rc == -EDQUOT ||
				rc == -EROFS
			  ? OPS_TX_FAILED
						    : OPS_TX_INVALID;
}

/* The failing op's description: "update users/hedy" once bound. */
static void set_what(struct ops_tx_result *res, size_t i, const struct ops_req *r,
		     const struct ops_write *op)
{
	char key[sizeof(res->what) - 16];

	res->has_op = true;
	res->op = i;
	if (!r || !r->table) {
		res->what[0] = 0;
		return;
	}
	if (op && op->table)
		ops_describe_key(r->table, op->pk, op->sk, key, sizeof(key));
	else
		snprintf(key, sizeof(key), "%s", r->table);
	snprintf(res->what, sizeof(res->what), "%s %s", ops_kind_name(r->kind), key);
	ops_utf8_sanitize(res->what);
}

/* The "ops" list of a document, or -EINVAL. */
static int doc_ops(struct val *doc, struct val **ops, struct dyn_err *err)
{
	*ops = doc->type == VAL_M ? val_map_get(doc, "ops", 3) : NULL;
	if (!*ops || (*ops)->type != VAL_L || doc->m.len != 1)
		return err_set(err, EINVAL,
			       "a transaction is one JSON object {\"ops\": [OP, ...]} and nothing "
			       "else");
	if ((*ops)->l.len == 0)
		return err_set(err, EINVAL, "a transaction needs at least one operation");
	if ((*ops)->l.len > DB_MAX_TX_OPS)
		return err_set(err, EINVAL, "too many operations: %zu (at most %d in one "
					    "transaction)",
			       (*ops)->l.len, DB_MAX_TX_OPS);
	return 0;
}

int ops_tx_run_sink(const struct ops_sink *s, const char *text, size_t len,
		    struct ops_tx_result *res)
{
	struct tx_tables ts = {0};
	struct ops_req *reqs = NULL;
	struct ops_write *dops = NULL;
	struct val doc, *ops;
	struct dyn_err err;
	size_t i, j, n = 0, failed;
	int rc;

	memset(res, 0, sizeof(*res));
	err_clear(&err);
	rc = item_parse_value(text, len, &doc, &err);
	if (rc < 0) {
		set_reason(res, rc, &err);
		return rc;
	}
	rc = doc_ops(&doc, &ops, &err);
	if (rc < 0)
		goto out;
	n = res->nops = ops->l.len;
	reqs = calloc(n, sizeof(*reqs));
	dops = calloc(n, sizeof(*dops));
	ts.t = calloc(n, sizeof(*ts.t));
	ts.k = calloc(n, sizeof(*ts.k));
	ts.has_sk = calloc(n, sizeof(*ts.has_sk));
	if (!reqs || !dops || !ts.t || !ts.k || !ts.has_sk) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		ops_req_init(&reqs[i]);
	for (i = 0; i < n; i++) {
		rc = ops_req_parse(&ops->l.v[i], OPS_SRC_TX, &reqs[i], &err);
		if (rc < 0) {
			set_what(res, i, NULL, NULL);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		rc = tables_get(s, &ts, reqs[i].table, &j, &err);
		if (rc == 0)
			rc = ops_req_bind(&reqs[i], s, ts.t[j], &ts.k[j][0],
					  ts.has_sk[j] ? &ts.k[j][1] : NULL, &dops[i], &err);
		if (rc < 0) {
			set_what(res, i, &reqs[i], NULL);
			goto out;
		}
	}
	failed = n;
	rc = s->apply(s->ctx, dops, n, &failed, &err);
	if (rc < 0 && failed < n)
		set_what(res, failed, &reqs[failed], &dops[failed]);
out:
	if (rc < 0)
		set_reason(res, rc, &err);
	else
		res->status = OPS_TX_COMMITTED;
	for (i = 0; reqs && i < n; i++)
		ops_req_free(&reqs[i]);
	for (i = 0; i < ts.n; i++)
		s->close(s->ctx, ts.t[i]);
	free(ts.t);
	free(ts.k);
	free(ts.has_sk);
	free(reqs);
	free(dops);
	val_free(&doc);
	return rc;
}

int ops_tx_run(db_t *db, const char *text, size_t len, struct ops_tx_result *res)
{
	struct ops_sink s;

	ops_sink_db(db, &s);
	return ops_tx_run_sink(&s, text, len, res);
}

const char *ops_tx_message(const struct ops_tx_result *res, char *buf, size_t size)
{
	if (res->status == OPS_TX_COMMITTED)
		snprintf(buf, size, "committed %zu operations", res->nops);
	else if (res->has_op && res->what[0])
		snprintf(buf, size, "op %zu (%s): %s", res->op, res->what, res->reason);
	else if (res->has_op)
		snprintf(buf, size, "op %zu: %s", res->op, res->reason);
	else
		snprintf(buf, size, "%s", res->reason);
	return buf;
}

int ops_tx_result_json(const struct ops_tx_result *res, char **out, size_t *len)
{
	static const char *const status[] = {
		[OPS_TX_COMMITTED] = "committed", [OPS_TX_CANCELLED] = "cancelled",
		[OPS_TX_INVALID] = "invalid", [OPS_TX_FAILED] = "failed"};
	struct ops_out o = {0};
	char reason[sizeof(res->what) + sizeof(res->reason) + 4];

	ops_out_fmt(&o, "{\"status\": \"%s\"", status[res->status]);
	if (res->status == OPS_TX_COMMITTED) {
		ops_out_fmt(&o, ", \"ops\": %zu", res->nops);
	} else {
		if (res->has_op)
			ops_out_fmt(&o, ", \"op\": %zu", res->op);
		if (res->what[0])
			snprintf(reason, sizeof(reason), "%s: %s", res->what, res->reason);
		else
			snprintf(reason, sizeof(reason), "%s", res->reason);
		ops_out_add(&o, ", \"reason\": ", 12);
		ops_out_json_string(&o, reason);
	}
	ops_out_add(&o, "}\n", 2);
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
