/*
 * tables.c - table-level calls: ListTables (every page), DescribeTable
 * into the engine's struct table_schema, CreateTable, UpdateTable (one
 * global index per call, DynamoDB's own limit) and DeleteTable, each
 * waiting until the table (and index) is ACTIVE or gone, polling
 * DescribeTable with a growing interval.
 */
#include "remoteint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbschema.h"

#define WAIT_MAX_S 600	 /* a GSI backfill on a big table takes minutes */
#define INDEX_SHOWN_S 20 /* a new index is listed (CREATING) this soon */

static int str_of(struct sf_span obj, const char *name, char *out, size_t size)
{
	struct sf_span v;
	char *s = NULL;
	size_t n;

	if (rmt_member(obj, name, &v) < 0 || sf_span_str(v, &s, &n, NULL) < 0)
		return -ENOENT;
	if (n >= size) {
		free(s);
		return -EINVAL;
	}
	memcpy(out, s, n + 1);
	free(s);
	return 0;
}

/* ---- ListTables ---- */

void rmt_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int rmt_list_tables(rmt_t *c, char ***names, size_t *n, struct dyn_err *err)
{
	char last[DB_NAME_MAX + 1] = "", **out = NULL;
	size_t cnt = 0;
	int rc = 0;

	do {
		struct sf_buf b = SF_BUF_INIT;
		struct sf_span obj, v, el;
		struct sf_iter it;
		char *resp = NULL;
		bool first = true;

		rc = sf_buf_addc(&b, '{');
		if (rc == 0 && last[0]) {
			rc = rmt_key(&b, &first, "ExclusiveStartTableName");
			if (rc == 0)
				rc = sf_json_str(&b, last, strlen(last));
		}
		if (rc == 0)
			rc = sf_buf_addc(&b, '}');
		if (rc == 0)
			rc = rmt_call_obj(c, "ListTables", &b, true, &resp, &obj, err);
		sf_buf_free(&b);
		if (rc < 0)
			break;
		if (rmt_member(obj, "TableNames", &v) == 0 && (rc = sf_arr_open(&it, v)) == 0) {
			while ((rc = sf_arr_next(&it, &el)) == 1) {
				char **nn = realloc(out, (cnt + 1) * sizeof(*nn));
				size_t l;

				if (!nn) {
					rc = -ENOMEM;
					break;
				}
				out = nn;
				rc = sf_span_str(el, &out[cnt], &l, err);
				if (rc < 0)
					break;
				cnt++;
			}
		}
		if (rc == 0 && str_of(obj, "LastEvaluatedTableName", last, sizeof(last)) < 0)
			last[0] = 0;
		free(resp);
	} while (rc == 0 && last[0]);
	if (rc < 0) {
		rmt_free_names(out, cnt);
		return rc;
	}
	*names = out;
	*n = cnt;
	return 0;
}

/* ---- DescribeTable ---- */

static int attr_type(struct sf_span defs, const char *name, enum val_type *out)
{
	struct sf_iter it;
	struct sf_span el;
	char an[DB_ATTR_NAME_MAX + 1], at[8];
	int rc;

	if (sf_arr_open(&it, defs) < 0)
		return -EINVAL;
	while ((rc = sf_arr_next(&it, &el)) == 1)
		if (str_of(el, "AttributeName", an, sizeof(an)) == 0 && !strcmp(an, name) &&
		    str_of(el, "AttributeType", at, sizeof(at)) == 0)
			return val_type_from_name(at, out);
	return -EINVAL;
}

static int key_schema(struct sf_span ks, struct sf_span defs, struct key_attr *pk,
		      struct key_attr *sk, bool *has_sk)
{
	struct sf_iter it;
	struct sf_span el;
	char kt[8];
	int rc;

	*has_sk = false;
	if (sf_arr_open(&it, ks) < 0)
		return -EINVAL;
	while ((rc = sf_arr_next(&it, &el)) == 1) {
		struct key_attr *k;

		if (str_of(el, "KeyType", kt, sizeof(kt)) < 0)
			return -EINVAL;
		k = !strcmp(kt, "HASH") ? pk : sk;
		if (k == sk)
			*has_sk = true;
		if (str_of(el, "AttributeName", k->name, sizeof(k->name)) < 0 ||
		    attr_type(defs, k->name, &k->type) < 0)
			return -EINVAL;
	}
	return rc;
}

static int index_list(struct sf_span arr, struct sf_span defs, struct table_schema *s)
{
	struct sf_iter it, pit;
	struct sf_span el, v, proj, a;
	char pt[16];
	int rc;

	if (sf_arr_open(&it, arr) < 0)
		return -EINVAL;
	while ((rc = sf_arr_next(&it, &el)) == 1) {
		struct index_def *nx, *ix;
		char st[32];

		/* An index being deleted is no longer part of the schema (and
		 * DynamoDB Local describes it without its key schema). */
		if (str_of(el, "IndexStatus", st, sizeof(st)) == 0 && !strcmp(st, "DELETING"))
			continue;
		nx = realloc(s->index, (s->nindex + 1) * sizeof(*nx));
		if (!nx)
			return -ENOMEM;
		s->index = nx;
		ix = &s->index[s->nindex++];
		memset(ix, 0, sizeof(*ix));
		if (str_of(el, "IndexName", ix->name, sizeof(ix->name)) < 0 ||
		    rmt_member(el, "KeySchema", &v) < 0 ||
		    key_schema(v, defs, &ix->pk, &ix->sk, &ix->has_sk) < 0)
			return -EINVAL;
		ix->proj = PROJ_ALL;
		if (rmt_member(el, "Projection", &proj) < 0 ||
		    str_of(proj, "ProjectionType", pt, sizeof(pt)) < 0)
			continue;
		if (!strcmp(pt, "KEYS_ONLY"))
			ix->proj = PROJ_KEYS_ONLY;
		if (strcmp(pt, "INCLUDE"))
			continue;
		ix->proj = PROJ_INCLUDE;
		if (rmt_member(proj, "NonKeyAttributes", &v) < 0 || sf_arr_open(&pit, v) < 0)
			continue;
		while ((rc = sf_arr_next(&pit, &a)) == 1) {
			char **ni = realloc(ix->include, (ix->ninclude + 1) * sizeof(*ni));
			size_t l;

			if (!ni)
				return -ENOMEM;
			ix->include = ni;
			if (sf_span_str(a, &ix->include[ix->ninclude], &l, NULL) < 0)
				return -EINVAL;
			ix->ninclude++;
		}
	}
	return rc;
}

int rmt_table_desc_parse(struct sf_span obj, struct table_schema *s, char status[32],
			 const char *index, char istatus[32])
{
	struct sf_span t, ks, defs, v;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	if (status)
		status[0] = 0;
	if (index)
		istatus[0] = 0;
	if (rmt_member(obj, "Table", &t) < 0 || rmt_member(t, "KeySchema", &ks) < 0 ||
	    rmt_member(t, "AttributeDefinitions", &defs) < 0 ||
	    key_schema(ks, defs, &s->pk, &s->sk, &s->has_sk) < 0)
		return -EINVAL;
	if (rmt_member(t, "GlobalSecondaryIndexes", &v) == 0)
		rc = index_list(v, defs, s);
	if (rc == 0 && rmt_member(t, "LocalSecondaryIndexes", &v) == 0)
		rc = index_list(v, defs, s);
	if (rc < 0) {
		schema_free(s);
		return rc == -ENOMEM ? rc : -ERANGE;
	}
	if (status && str_of(t, "TableStatus", status, 32) < 0)
		status[0] = 0;
	if (index) {
		struct sf_iter it;
		struct sf_span el;
		char name[DB_NAME_MAX + 1];

		if (rmt_member(t, "GlobalSecondaryIndexes", &v) == 0 && sf_arr_open(&it, v) == 0)
			while (sf_arr_next(&it, &el) == 1)
				if (str_of(el, "IndexName", name, sizeof(name)) == 0 &&
				    !strcmp(name, index) &&
				    str_of(el, "IndexStatus", istatus, 32) < 0)
					snprintf(istatus, 32, "ACTIVE");
	}
	return 0;
}

/* Table description into *s; status of the table, and of index (if not
 * NULL) into istatus ("" when the index is not there). */
static int describe_obj(rmt_t *c, const char *table, struct table_schema *s, char status[32],
			const char *index, char istatus[32], char **keep, struct sf_span *kept,
			struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct sf_span obj;
	char *resp = NULL;
	bool first = true;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = sf_buf_addc(&b, '{');
	if (rc == 0)
		rc = rmt_key(&b, &first, "TableName");
	if (rc == 0)
		rc = sf_json_str(&b, table, strlen(table));
	if (rc == 0)
		rc = sf_buf_addc(&b, '}');
	if (rc == 0)
		rc = rmt_call_obj(c, "DescribeTable", &b, true, &resp, &obj, err);
	sf_buf_free(&b);
	if (rc < 0)
		return rc;
	rc = rmt_table_desc_parse(obj, s, status, index, istatus);
	if (rc == 0 && keep) {
		*keep = resp;
		*kept = obj;
		resp = NULL;
	}
	free(resp);
	if (rc == -ENOMEM)
		return err_set(err, ENOMEM, "DescribeTable %s: out of memory", table);
	if (rc == -EINVAL)
		return err_set(err, EIO, "DescribeTable %s: cannot read the key schema", table);
	if (rc < 0)
		return err_set(err, EIO, "DescribeTable %s: cannot read the indexes", table);
	return 0;
}

static int describe(rmt_t *c, const char *table, struct table_schema *s, char status[32],
		    const char *index, char istatus[32], struct dyn_err *err)
{
	return describe_obj(c, table, s, status, index, istatus, NULL, NULL, err);
}

int rmt_describe_table_obj(rmt_t *c, const char *table, struct table_schema *out, char **resp,
			   struct sf_span *obj, struct dyn_err *err)
{
	return describe_obj(c, table, out, NULL, NULL, NULL, resp, obj, err);
}

int rmt_describe_table(rmt_t *c, const char *table, struct table_schema *out, char status[32],
		       struct dyn_err *err)
{
	return describe(c, table, out, status, NULL, NULL, err);
}

/*
 * Poll until the table is ACTIVE (want_gone: until it is not found) and,
 * for index, until the index is ACTIVE (index_gone: absent).
 */
static int wait_for(rmt_t *c, const char *table, bool want_gone, const char *index, bool index_gone,
		    struct dyn_err *err)
{
	int delay_ms = 50, waited_ms = 0;

	for (;;) {
		struct table_schema s;
		char st[32] = "", ist[32] = "";
		int rc = describe(c, table, &s, st, index, ist, NULL);

		if (rc == 0)
			schema_free(&s);
		if (want_gone && rc == -ENOENT)
			return 0;
		if (rc < 0 && rc != -ENOENT)
			return err_set(err, -rc, "waiting for table %s", table);
		if (!want_gone && rc == 0 && !strcmp(st, "ACTIVE") &&
		    (!index || (index_gone ? !ist[0] : !strcmp(ist, "ACTIVE"))))
			return 0;
		/* DynamoDB lists a new index (CREATING) at once; a service
		 * that accepted it and still does not show it never will
		 * (dynalite 4 validates a new index and ignores it) */
		if (index && !index_gone && rc == 0 && !ist[0] && waited_ms >= INDEX_SHOWN_S * 1000)
			return err_set(err, EIO,
				       "table %s: the service accepted index %s but does not show "
				       "it after %d s",
				       table, index, INDEX_SHOWN_S);
		if (waited_ms >= WAIT_MAX_S * 1000)
			return err_set(err, ETIMEDOUT, "table %s: still not ready after %d s",
				       table, WAIT_MAX_S);
		usleep((useconds_t)delay_ms * 1000);
		waited_ms += delay_ms;
		if (delay_ms < 2000)
			delay_ms *= 2;
	}
}

/* ---- CreateTable, UpdateTable, DeleteTable ---- */

int rmt_put_schema(struct sf_buf *b, bool *first, const struct table_schema *s)
{
	size_t i;
	int rc;

	rc = rmt_key(b, first, "AttributeDefinitions");
	if (rc == 0)
		rc = ddb_render_attr_defs(b, s);
	if (rc == 0)
		rc = rmt_key(b, first, "KeySchema");
	if (rc == 0)
		rc = ddb_render_key_schema(b, &s->pk, s->has_sk ? &s->sk : NULL);
	if (rc == 0 && s->nindex) {
		/* Every index is global: a local one must be declared at creation
		 * with the table's partition key, and the engine does not say which
		 * is which; a global index serves the same reads. */
		rc = rmt_key(b, first, "GlobalSecondaryIndexes");
		if (rc == 0)
			rc = sf_buf_addc(b, '[');
		for (i = 0; rc == 0 && i < s->nindex; i++) {
			if (i)
				rc = sf_buf_addc(b, ',');
			if (rc == 0)
				rc = ddb_render_index_open(b, &s->index[i]);
			if (rc == 0)
				rc = sf_buf_addc(b, '}');
		}
		if (rc == 0)
			rc = sf_buf_addc(b, ']');
	}
	return rc;
}

static int simple(rmt_t *c, const char *op, struct sf_buf *b, struct dyn_err *err)
{
	struct sf_span obj;
	char *resp = NULL;
	int rc = sf_buf_addc(b, '}');

	if (rc == 0)
		rc = rmt_call_obj(c, op, b, false, &resp, &obj, err);
	free(resp);
	sf_buf_free(b);
	return rc;
}

static int table_start(struct sf_buf *b, bool *first, const char *table)
{
	int rc = sf_buf_addc(b, '{');

	*first = true;
	if (rc == 0)
		rc = rmt_key(b, first, "TableName");
	return rc ? rc : sf_json_str(b, table, strlen(table));
}

int rmt_create_table(rmt_t *c, const char *table, const struct table_schema *s, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	bool first;
	int rc = table_start(&b, &first, table);

	if (rc == 0)
		rc = rmt_put_schema(&b, &first, s);
	if (rc == 0)
		rc = rmt_key(&b, &first, "BillingMode");
	if (rc == 0)
		rc = sf_buf_adds(&b, "\"PAY_PER_REQUEST\"");
	rc = rc ? (sf_buf_free(&b), rc) : simple(c, "CreateTable", &b, err);
	if (rc == -EIO || rc == -ETIMEDOUT) {
		/* Outcome unknown (CreateTable is not repeated: a repeat of a
		 * success says ResourceInUse).  If the table is there with our
		 * keys, this call made it. */
		struct dyn_err e2;
		struct table_schema got;

		int tries, drc = -ENOENT;

		err_clear(&e2);
		for (tries = 0; tries < 10 && drc == -ENOENT; tries++) {
			drc = rmt_describe_table(c, table, &got, NULL, &e2);
			if (drc == -ENOENT)
				usleep(200 * 1000);
		}
		if (drc == 0)
			schema_free(&got);
		if (drc == 0 && wait_for(c, table, false, NULL, false, &e2) == 0 &&
		    rmt_describe_table(c, table, &got, NULL, &e2) == 0) {
			bool same = !strcmp(got.pk.name, s->pk.name) && got.pk.type == s->pk.type &&
				    got.has_sk == s->has_sk &&
				    (!s->has_sk || (!strcmp(got.sk.name, s->sk.name) &&
						    got.sk.type == s->sk.type));

			schema_free(&got);
			if (same) {
				if (err)
					err_clear(err);
				return 0;
			}
		}
		return rc;
	}
	return rc ? rc : wait_for(c, table, false, NULL, false, err);
}

/*
 * The table's provisioned capacity when it is billed PROVISIONED (no
 * BillingModeSummary says so too: tables made before on-demand billing,
 * and DynamoDB Local's): DynamoDB requires a ProvisionedThroughput on a
 * new global index of such a table, and refuses one on an on-demand
 * table.  *rcu = *wcu = 0 when on demand or not said.
 */
static int table_throughput(rmt_t *c, const char *table, uint64_t *rcu, uint64_t *wcu,
			    struct dyn_err *err)
{
	struct table_schema s;
	struct sf_span obj, t, v, pt;
	char *resp = NULL, mode[32] = "PROVISIONED";
	int rc = rmt_describe_table_obj(c, table, &s, &resp, &obj, err);

	*rcu = *wcu = 0;
	if (rc < 0)
		return rc;
	schema_free(&s);
	if (rmt_member(obj, "Table", &t) == 0) {
		if (rmt_member(t, "BillingModeSummary", &v) == 0 &&
		    str_of(v, "BillingMode", mode, sizeof(mode)) < 0)
			snprintf(mode, sizeof(mode), "PROVISIONED");
		if (!strcmp(mode, "PROVISIONED") &&
		    rmt_member(t, "ProvisionedThroughput", &pt) == 0 &&
		    (rmt_member(pt, "ReadCapacityUnits", &v) < 0 || sf_span_u64(v, rcu) < 0 ||
		     rmt_member(pt, "WriteCapacityUnits", &v) < 0 || sf_span_u64(v, wcu) < 0 ||
		     !*rcu || !*wcu))
			*rcu = *wcu = 0;
	}
	free(resp);
	return 0;
}

int rmt_add_index(rmt_t *c, const char *table, const struct index_def *ix, struct dyn_err *err)
{
	/* the definitions of the index's own key attributes */
	struct table_schema keys = {.pk = ix->pk, .sk = ix->sk, .has_sk = ix->has_sk};
	struct sf_buf b = SF_BUF_INIT;
	uint64_t rcu, wcu;
	bool first;
	int rc = table_throughput(c, table, &rcu, &wcu, err);

	if (rc < 0)
		return rc;
	rc = table_start(&b, &first, table);

	if (rc == 0)
		rc = rmt_key(&b, &first, "AttributeDefinitions");
	if (rc == 0)
		rc = ddb_render_attr_defs(&b, &keys);
	if (rc == 0)
		rc = rmt_key(&b, &first, "GlobalSecondaryIndexUpdates");
	if (rc == 0)
		rc = sf_buf_adds(&b, "[{\"Create\":");
	if (rc == 0)
		rc = ddb_render_index_open(&b, ix);
	if (rc == 0 && rcu) /* the index gets the table's capacity */
		rc = sf_buf_printf(&b,
				   ",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":%llu,"
				   "\"WriteCapacityUnits\":%llu}",
				   (unsigned long long)rcu, (unsigned long long)wcu);
	if (rc == 0)
		rc = sf_buf_adds(&b, "}}]");
	rc = rc ? (sf_buf_free(&b), rc) : simple(c, "UpdateTable", &b, err);
	return rc ? rc : wait_for(c, table, false, ix->name, false, err);
}

int rmt_drop_index(rmt_t *c, const char *table, const char *index, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	bool first;
	int rc = table_start(&b, &first, table);

	if (rc == 0)
		rc = rmt_key(&b, &first, "GlobalSecondaryIndexUpdates");
	if (rc == 0)
		rc = sf_buf_adds(&b, "[{\"Delete\":{\"IndexName\":");
	if (rc == 0)
		rc = sf_json_str(&b, index, strlen(index));
	if (rc == 0)
		rc = sf_buf_adds(&b, "}}]");
	rc = rc ? (sf_buf_free(&b), rc) : simple(c, "UpdateTable", &b, err);
	return rc ? rc : wait_for(c, table, false, index, true, err);
}

int rmt_delete_table(rmt_t *c, const char *table, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	bool first;
	int rc = table_start(&b, &first, table);

	rc = rc ? (sf_buf_free(&b), rc) : simple(c, "DeleteTable", &b, err);
	return rc ? rc : wait_for(c, table, true, NULL, false, err);
}
