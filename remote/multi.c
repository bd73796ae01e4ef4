/*
 * multi.c - many items per call: BatchWriteItem, BatchGetItem,
 * TransactWriteItems, TransactGetItems.
 *
 * Batches: DynamoDB takes at most 25 writes (100 keys) per call and
 * refuses a call that names one key twice, so writes are cut into calls
 * in their order, a new call starting whenever a write's key is already
 * in the current one (the later write then lands after the earlier, as
 * the caller's order says).  A put names no key by itself, so the key
 * attributes come from DescribeTable, once per table per batch.
 * Unprocessed items or keys are sent again, as the service returned
 * them, after a full-jitter backoff, until none are left (or
 * max_attempts rounds without progress: -EAGAIN).
 *
 * Transactions carry a ClientRequestToken (random unless given), which
 * makes a repeat within 10 minutes a no-op on the service: so the call
 * is idempotent and the transport retries it even after an unknown
 * outcome.  A cancellation for a transaction conflict or throttling is
 * retried with backoff (same token is fine: a cancelled transaction
 * consumed nothing).
 */
#include "remoteint.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbjson.h"

#define BATCH_WRITE_MAX 25
#define BATCH_GET_MAX 100

/* Key names of the tables of one batch. */
struct keynames {
	const char *table[BATCH_WRITE_MAX * 4]; /* tables seen (borrowed) */
	struct table_schema s[BATCH_WRITE_MAX * 4];
	size_t n;
};

static int key_of(rmt_t *c, struct keynames *kn, const char *table, const struct val *item,
		  struct val *key, struct dyn_err *err)
{
	const struct table_schema *s = NULL;
	const struct val *v;
	struct val cp;
	size_t i;
	int rc;

	for (i = 0; i < kn->n; i++)
		if (!strcmp(kn->table[i], table))
			s = &kn->s[i];
	if (!s) {
		if (kn->n == sizeof(kn->table) / sizeof(kn->table[0]))
			return err_set(err, EINVAL, "too many tables in one batch");
		rc = rmt_describe_table(c, table, &kn->s[kn->n], NULL, err);
		if (rc < 0)
			return rc;
		kn->table[kn->n] = table;
		s = &kn->s[kn->n++];
	}
	val_init_map(key);
	for (i = 0; i < (s->has_sk ? 2u : 1u); i++) {
		const char *name = i ? s->sk.name : s->pk.name;

		v = val_map_get(item, name, strlen(name));
		if (!v) {
			val_free(key);
			return err_set(err, EINVAL, "item of %s lacks key attribute %s", table,
				       name);
		}
		rc = val_copy(&cp, v);
		if (rc == 0)
			rc = val_map_set(key, name, strlen(name), &cp);
		if (rc < 0) {
			val_free(key);
			return rc;
		}
	}
	return 0;
}

static void keynames_free(struct keynames *kn)
{
	for (size_t i = 0; i < kn->n; i++)
		schema_free(&kn->s[i]);
}

static void nap(rmt_t *c, int round)
{
	int d;

	pthread_mutex_lock(&c->lock);
	d = rmt_backoff_ms(round, c->o.base_delay_ms, c->o.max_delay_ms, &c->seed);
	pthread_mutex_unlock(&c->lock);
	usleep((useconds_t)d * 1000);
}

static size_t count_entries(struct sf_span reqitems, bool get)
{
	struct sf_iter it, at;
	struct sf_span k, v, e;
	size_t n = 0;

	if (sf_obj_open(&it, reqitems) < 0)
		return 0;
	while (sf_obj_next(&it, &k, &v) == 1) {
		if (get && rmt_member(v, "Keys", &v) < 0)
			continue;
		if (sf_arr_open(&at, v) < 0)
			continue;
		while (sf_arr_next(&at, &e) == 1)
			n++;
	}
	return n;
}

/*
 * Send {"RequestItems": req, extra} (op BatchWriteItem or BatchGetItem)
 * until nothing is unprocessed; each answer goes to on_answer.
 */
static int batch_rounds(rmt_t *c, const char *op, const char *req, size_t reqlen,
			int (*on_answer)(struct sf_span obj, void *arg), void *arg,
			struct dyn_err *err)
{
	const char *unk = !strcmp(op, "BatchGetItem") ? "UnprocessedKeys" : "UnprocessedItems";
	char *cur = strndup(req, reqlen);
	int rc = cur ? 0 : -ENOMEM, stalls = 0;

	while (rc == 0) {
		struct sf_buf b = SF_BUF_INIT;
		struct sf_span obj, un;
		char *resp = NULL;
		size_t before = 0, left;

		rc = sf_buf_printf(&b, "{\"RequestItems\":%s}", cur);
		if (rc == 0) {
			struct sf_span s;

			if (sf_whole(cur, strlen(cur), &s) == 0)
				before = count_entries(s, unk[11] == 'K');
			rc = rmt_call_obj(c, op, &b, true, &resp, &obj, err);
		}
		sf_buf_free(&b);
		if (rc == 0 && on_answer)
			rc = on_answer(obj, arg);
		if (rc == 0 && rmt_member(obj, unk, &un) == 0 &&
		    (left = count_entries(un, unk[11] == 'K')) > 0) {
			pthread_mutex_lock(&c->lock);
			c->stats.unprocessed += left;
			pthread_mutex_unlock(&c->lock);
			stalls = left < before ? 0 : stalls + 1;
			if (stalls >= c->o.max_attempts) {
				rc = err_set(err, EAGAIN,
					     "%s: %zu still unprocessed after %d rounds", op, left,
					     stalls);
			} else {
				free(cur);
				cur = strndup(un.p, un.len);
				if (!cur)
					rc = -ENOMEM;
				else
					nap(c, stalls);
			}
			free(resp);
			continue;
		}
		free(resp);
		break;
	}
	free(cur);
	return rc;
}

/* ---- BatchWriteItem ---- */

/* {"T":[{"PutRequest":{"Item":...}},...],...} for w[0..n), grouped by table in order. */
static int write_request(struct sf_buf *b, const struct rmt_write *w, size_t n)
{
	size_t i, j;
	int rc = sf_buf_addc(b, '{');
	bool firstt = true;

	for (i = 0; rc == 0 && i < n; i++) {
		bool seen = false, firsti = true;

		for (j = 0; j < i; j++)
			if (!strcmp(w[j].table, w[i].table))
				seen = true;
		if (seen)
			continue;
		rc = rmt_key(b, &firstt, w[i].table);
		if (rc == 0)
			rc = sf_buf_addc(b, '[');
		for (j = i; rc == 0 && j < n; j++) {
			if (strcmp(w[j].table, w[i].table))
				continue;
			if (!firsti)
				rc = sf_buf_addc(b, ',');
			firsti = false;
			if (rc == 0)
				rc = sf_buf_adds(b, w[j].kind == RMT_PUT
							? "{\"PutRequest\":{\"Item\":"
							: "{\"DeleteRequest\":{\"Key\":");
			if (rc == 0)
				rc = ddb_render_map(b, w[j].item, NULL, NULL);
			if (rc == 0)
				rc = sf_buf_adds(b, "}}");
		}
		if (rc == 0)
			rc = sf_buf_addc(b, ']');
	}
	return rc ? rc : sf_buf_addc(b, '}');
}

int rmt_batch_write(rmt_t *c, const struct rmt_write *w, size_t n, struct dyn_err *err)
{
	struct keynames *kn = calloc(1, sizeof(*kn));
	struct val keys[BATCH_WRITE_MAX];
	size_t i = 0, nk = 0, from = 0;
	int rc = kn ? 0 : -ENOMEM;

	for (i = 0; rc == 0 && i <= n; i++) {
		struct val k;
		bool dup = false;

		val_init_null(&k);
		if (i < n) {
			if (w[i].kind != RMT_PUT && w[i].kind != RMT_DELETE) {
				rc = err_set(err, EINVAL, "a batch takes puts and deletes only");
				break;
			}
			rc = key_of(c, kn, w[i].table, w[i].item, &k, err);
			if (rc < 0)
				break;
			for (size_t j = 0; j < nk; j++)
				if (!strcmp(w[from + j].table, w[i].table) &&
				    val_equal(&keys[j], &k))
					dup = true;
		}
		if (i == n || dup || nk == BATCH_WRITE_MAX) {
			struct sf_buf b = SF_BUF_INIT;

			if (nk) {
				rc = write_request(&b, w + from, nk);
				if (rc == 0)
					rc = batch_rounds(c, "BatchWriteItem", b.p, b.len, NULL,
							  NULL, err);
			}
			sf_buf_free(&b);
			for (size_t j = 0; j < nk; j++)
				val_free(&keys[j]);
			nk = 0;
			from = i;
		}
		if (i < n)
			val_move(&keys[nk++], &k);
		else
			val_free(&k);
	}
	for (size_t j = 0; j < nk; j++)
		val_free(&keys[j]);
	if (kn)
		keynames_free(kn);
	free(kn);
	return rc;
}

int rmt_batch_write_call(rmt_t *c, const struct rmt_write *w, size_t n, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t i;
	int rc = 0;

	if (n > BATCH_WRITE_MAX)
		return err_set(err, EINVAL, "more than %d writes in one BatchWriteItem",
			       BATCH_WRITE_MAX);
	for (i = 0; i < n; i++)
		if (w[i].kind != RMT_PUT && w[i].kind != RMT_DELETE)
			return err_set(err, EINVAL, "a batch takes puts and deletes only");
	if (n)
		rc = write_request(&b, w, n);
	if (rc == 0 && n)
		rc = batch_rounds(c, "BatchWriteItem", b.p, b.len, NULL, NULL, err);
	else if (rc < 0)
		rc = err_set(err, -rc, "out of memory");
	sf_buf_free(&b);
	return rc;
}

/* ---- BatchGetItem ---- */

struct getctx {
	const struct rmt_get *g; /* the keys */
	size_t n;		 /* entries */
	struct val *out;	 /* results */
};

/* Does item carry every attribute of key with the same value? */
static bool has_key(const struct val *item, const struct val *key)
{
	for (size_t i = 0; i < key->m.len; i++) {
		const struct val_attr *a = &key->m.a[i];
		const struct val *v = val_map_get(item, a->name, a->name_len);

		if (!v || !val_equal(v, &a->v))
			return false;
	}
	return true;
}

static int place(struct getctx *x, const char *table, struct val *item)
{
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->g[i].table, table) && x->out[i].type == VAL_NULL &&
		    has_key(item, x->g[i].key)) {
			val_move(&x->out[i], item);
			return 0;
		}
	val_free(item);
	return 0;
}

static int on_get_answer(struct sf_span obj, void *arg)
{
	struct getctx *x = arg;
	struct sf_iter it, at;
	struct sf_span resp, k, v, e;
	int rc;

	if (rmt_member(obj, "Responses", &resp) < 0 || sf_obj_open(&it, resp) < 0)
		return 0;
	while ((rc = sf_obj_next(&it, &k, &v)) == 1) {
		char *table;
		size_t tl;

		if (sf_span_str(k, &table, &tl, NULL) < 0)
			return -EIO;
		if (sf_arr_open(&at, v) == 0)
			while (sf_arr_next(&at, &e) == 1) {
				struct val item;

				if (ddb_parse_map(e, &item, NULL) == 0)
					place(x, table, &item);
			}
		free(table);
	}
	return rc < 0 ? -EIO : 0;
}

int rmt_batch_get(rmt_t *c, const struct rmt_get *g, size_t n, bool consistent, struct val *out,
		  struct dyn_err *err)
{
	size_t i, from = 0;
	int rc = 0;

	for (i = 0; i < n; i++)
		val_init_null(&out[i]);
	while (rc == 0 && from < n) {
		struct sf_buf b = SF_BUF_INIT;
		struct getctx x;
		size_t to = from, j, k;
		bool firstt = true;

		/* up to 100 keys, none twice */
		while (to < n && to - from < BATCH_GET_MAX) {
			bool dup = false;

			for (j = from; j < to; j++)
				if (!strcmp(g[j].table, g[to].table) &&
				    val_equal(g[j].key, g[to].key))
					dup = true;
			if (dup)
				break;
			to++;
		}
		rc = sf_buf_addc(&b, '{');
		for (i = from; rc == 0 && i < to; i++) {
			bool seen = false, firstk = true;

			for (j = from; j < i; j++)
				if (!strcmp(g[j].table, g[i].table))
					seen = true;
			if (seen)
				continue;
			rc = rmt_key(&b, &firstt, g[i].table);
			if (rc == 0)
				rc = sf_buf_adds(&b, "{\"Keys\":[");
			for (k = i; rc == 0 && k < to; k++) {
				if (strcmp(g[k].table, g[i].table))
					continue;
				if (!firstk)
					rc = sf_buf_addc(&b, ',');
				firstk = false;
				if (rc == 0)
					rc = ddb_render_map(&b, g[k].key, NULL, NULL);
			}
			if (rc == 0)
				rc = sf_buf_printf(&b, "]%s}",
						   consistent ? ",\"ConsistentRead\":true" : "");
		}
		if (rc == 0)
			rc = sf_buf_addc(&b, '}');
		x = (struct getctx){g + from, to - from, out + from};
		if (rc == 0)
			rc = batch_rounds(c, "BatchGetItem", b.p, b.len, on_get_answer, &x, err);
		sf_buf_free(&b);
		from = to;
	}
	if (rc < 0)
		for (i = 0; i < n; i++)
			val_free(&out[i]);
	return rc;
}

/* ---- transactions ---- */

static int tx_item(struct sf_buf *b, const struct rmt_write *w)
{
	static const char *const kind[] = {[RMT_PUT] = "Put",
					   [RMT_DELETE] = "Delete",
					   [RMT_UPDATE] = "Update",
					   [RMT_CHECK] = "ConditionCheck"};
	struct rmt_exprs x = {.cond = w->cond, .update = w->kind == RMT_UPDATE ? w->update : NULL};
	bool first = true;
	int rc = sf_buf_printf(b, "{\"%s\":{", kind[w->kind]);

	if (rc == 0)
		rc = rmt_key(b, &first, "TableName");
	if (rc == 0)
		rc = sf_json_str(b, w->table, strlen(w->table));
	if (rc == 0)
		rc = rmt_key(b, &first, w->kind == RMT_PUT ? "Item" : "Key");
	if (rc == 0)
		rc = ddb_render_map(b, w->item, NULL, NULL);
	if (rc == 0)
		rc = rmt_put_exprs(b, &first, &x);
	return rc ? rc : sf_buf_adds(b, "}}");
}

int rmt_transact_write(rmt_t *c, const struct rmt_write *w, size_t n, const char *token,
		       struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	unsigned char rnd[16];
	char tok[40];
	size_t i;
	int rc = 0, round;

	if (!token) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return err_set(err, EIO, "no random bytes for a ClientRequestToken");
		for (i = 0; i < sizeof(rnd); i++)
			snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
		token = tok;
	}
	rc = sf_buf_adds(&b, "{\"TransactItems\":[");
	for (i = 0; rc == 0 && i < n; i++) {
		if (i)
			rc = sf_buf_addc(&b, ',');
		if (rc == 0)
			rc = tx_item(&b, &w[i]);
	}
	if (rc == 0)
		rc = sf_buf_adds(&b, "],\"ClientRequestToken\":");
	if (rc == 0)
		rc = sf_json_str(&b, token, strlen(token));
	if (rc == 0)
		rc = sf_buf_addc(&b, '}');
	for (round = 0; rc == 0; round++) {
		struct dyn_err e2;
		struct sf_span obj;
		char *resp = NULL;

		err_clear(&e2);
		rc = rmt_call_obj(c, "TransactWriteItems", &b, true, &resp, &obj, &e2);
		free(resp);
		if (rc == -ECANCELED && round + 1 < c->o.max_attempts &&
		    (strstr(e2.msg, "TransactionConflict") || strstr(e2.msg, "Throttling"))) {
			nap(c, round);
			rc = 0;
			continue;
		}
		if (rc < 0 && err)
			*err = e2;
		break;
	}
	sf_buf_free(&b);
	return rc;
}

int rmt_transact_get(rmt_t *c, const struct rmt_get *g, size_t n, struct val *out,
		     struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct sf_span obj, arr, e, item;
	struct sf_iter it;
	char *resp = NULL;
	size_t i;
	int rc = sf_buf_adds(&b, "{\"TransactItems\":[");

	for (i = 0; i < n; i++)
		val_init_null(&out[i]);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = sf_buf_adds(&b, i ? ",{\"Get\":{\"TableName\":" : "{\"Get\":{\"TableName\":");
		if (rc == 0)
			rc = sf_json_str(&b, g[i].table, strlen(g[i].table));
		if (rc == 0)
			rc = sf_buf_adds(&b, ",\"Key\":");
		if (rc == 0)
			rc = ddb_render_map(&b, g[i].key, NULL, NULL);
		if (rc == 0)
			rc = sf_buf_adds(&b, "}}");
	}
	if (rc == 0)
		rc = sf_buf_adds(&b, "]}");
	if (rc == 0)
		rc = rmt_call_obj(c, "TransactGetItems", &b, true, &resp, &obj, err);
	if (rc == 0 && rmt_member(obj, "Responses", &arr) == 0 && sf_arr_open(&it, arr) == 0)
		for (i = 0; rc == 0 && i < n && sf_arr_next(&it, &e) == 1; i++)
			if (rmt_member(e, "Item", &item) == 0)
				rc = ddb_parse_map(item, &out[i], err);
	free(resp);
	sf_buf_free(&b);
	if (rc < 0)
		for (i = 0; i < n; i++)
			val_free(&out[i]);
	return rc;
}
