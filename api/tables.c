/*
 * tables.c - the table operations: CreateTable, DeleteTable,
 * DescribeTable, ListTables, UpdateTable (metadata-only operations are in
 * meta.c).
 *
 * The engine's schema (db.h) holds what changes data: key schema and
 * indexes.  What DynamoDB also reports but dynfs does not act on —
 * billing mode and throughput, creation time, whether an index was
 * declared local, tags, stream settings — is kept in struct api_tmeta
 * and saved with the schema (meta.c); a table made through the mount has
 * none and is described with defaults: PAY_PER_REQUEST, created when the
 * API first saw it, every index global.
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddbschema.h"
#include "item.h"

#define MAX_ATTR_DEFS 64

/* ---- describing ---- */

static int throughput(struct sf_buf *b, const struct api_tmeta *m)
{
	return sf_buf_printf(b,
			     "\"ProvisionedThroughput\":{\"LastIncreaseDateTime\":0,"
			     "\"LastDecreaseDateTime\":0,\"NumberOfDecreasesToday\":0,"
			     "\"ReadCapacityUnits\":%lld,\"WriteCapacityUnits\":%lld}",
			     (long long)(m && m->provisioned ? m->rcu : 0),
			     (long long)(m && m->provisioned ? m->wcu : 0));
}

static int index_desc(struct sf_buf *b, const char *table, const struct index_def *ix,
		      uint64_t items, bool local, const struct api_tmeta *m)
{
	char arn[400], iarn[700];
	size_t i;
	int rc;

	rc = ddb_render_index_open(b, ix);
	if (rc == 0 && !local)
		rc = sf_buf_adds(b, ",\"IndexStatus\":\"ACTIVE\"");
	/* a global index shows its own throughput if it was given one (kept
	 * when the table turns on-demand, as DynamoDB Local shows it), else
	 * the table's if provisioned; an on-demand table's others show none */
	if (rc == 0 && !local && m) {
		struct api_tmeta im = *m;
		bool own = false;

		for (i = 0; i < m->ngtp; i++)
			if (!strcmp(m->gtp[i].name, ix->name)) {
				im.rcu = m->gtp[i].rcu, im.wcu = m->gtp[i].wcu;
				own = true;
			}
		im.provisioned = true;
		if (own || m->provisioned) {
			rc = sf_buf_addc(b, ',');
			if (rc == 0)
				rc = throughput(b, &im);
		}
	}
	if (rc == 0)
		rc = sf_buf_printf(b, ",\"IndexSizeBytes\":0,\"ItemCount\":%llu,\"IndexArn\":",
				   (unsigned long long)items);
	api_arn(table, arn, sizeof(arn));
	snprintf(iarn, sizeof(iarn), "%s/index/%s", arn, ix->name);
	if (rc == 0)
		rc = sf_json_str(b, iarn, strlen(iarn));
	if (rc == 0)
		rc = sf_buf_addc(b, '}');
	return rc;
}

int api_describe(struct rq *r, table_t *t, const char *status, struct sf_buf *b)
{
	struct table_schema s;
	struct tbl_stats st;
	struct api_tmeta *m, mc;
	const char *name = tbl_name(t);
	char arn[400];
	size_t i, pass;
	bool any, local;
	int rc;

	rc = tbl_schema(t, &s);
	if (rc < 0)
		return rq_fail_err(r, rc, NULL);
	tbl_stats(t, &st);
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, name);
	memset(&mc, 0, sizeof(mc));
	if (m)
		mc = *m; /* scalars only below; lsi names checked with meta_is_lsi */
	pthread_mutex_unlock(&r->a->lock);

	rc = sf_buf_adds(b, "{\"AttributeDefinitions\":");
	if (rc == 0)
		rc = ddb_render_attr_defs(b, &s);
	if (rc == 0)
		rc = sf_buf_adds(b, ",\"TableName\":");
	if (rc == 0)
		rc = sf_json_str(b, name, strlen(name));
	if (rc == 0)
		rc = sf_buf_adds(b, ",\"KeySchema\":");
	if (rc == 0)
		rc = ddb_render_key_schema(b, &s.pk, s.has_sk ? &s.sk : NULL);
	if (rc == 0)
		rc = sf_buf_printf(b, ",\"TableStatus\":\"%s\",\"CreationDateTime\":%lld,", status,
				   (long long)mc.created);
	if (rc == 0)
		rc = throughput(b, &mc);
	api_arn(name, arn, sizeof(arn));
	if (rc == 0)
		rc = sf_buf_printf(b, ",\"TableSizeBytes\":%llu,\"ItemCount\":%llu,\"TableArn\":",
				   (unsigned long long)st.bytes, (unsigned long long)st.items);
	if (rc == 0)
		rc = sf_json_str(b, arn, strlen(arn));
	if (rc == 0)
		rc = sf_buf_printf(b, ",\"TableId\":\"00000000-0000-0000-0000-%012llx\"",
				   (unsigned long long)tbl_id(t));
	if (rc == 0)
		rc = stream_describe(&mc, name, b);
	if (rc == 0 && !mc.provisioned)
		rc = sf_buf_printf(b, ",\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\","
				   "\"LastUpdateToPayPerRequestDateTime\":%lld}",
				   (long long)mc.created);
	/* local indexes, then global ones */
	for (pass = 0; rc == 0 && pass < 2; pass++) {
		any = false;
		for (i = 0; rc == 0 && i < s.nindex; i++) {
			local = meta_is_lsi(r->a, name, s.index[i].name);
			if (local != (pass == 0))
				continue;
			rc = sf_buf_printf(b, any ? "," : ",\"%s\":[",
					   pass == 0 ? "LocalSecondaryIndexes"
						     : "GlobalSecondaryIndexes");
			any = true;
			if (rc == 0)
				rc = index_desc(b, name, &s.index[i], st.index_items[i], local, &mc);
		}
		if (rc == 0 && any)
			rc = sf_buf_addc(b, ']');
	}
	if (rc == 0)
		rc = sf_buf_addc(b, '}');
	schema_free(&s);
	return rc < 0 ? rq_fail_err(r, rc, NULL) : 0;
}

/* ---- parsing definitions ---- */

struct defs {
	char name[MAX_ATTR_DEFS][DB_ATTR_NAME_MAX + 1]; /* AttributeDefinitions */
	enum val_type type[MAX_ATTR_DEFS];		 /* their types */
	bool used[MAX_ATTR_DEFS];			 /* named by some key schema */
	size_t n;					 /* entries */
};

static int parse_defs(struct rq *r, struct defs *d, bool required)
{
	struct sf_span v, x;
	struct sf_iter it;
	char *name = NULL, *type = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!rq_member(r->body, "AttributeDefinitions", &v)) {
		if (!required)
			return 0;
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'attributeDefinitions' "
			       "failed to satisfy constraint: Member must not be null");
	}
	if (sf_arr_open(&it, v) < 0)
		return rq_fail(r, "SerializationException", "AttributeDefinitions must be a list");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		if (rq_str_req(r, x, "AttributeName", &name) < 0 ||
		    rq_str_req(r, x, "AttributeType", &type) < 0)
			goto fail;
		if (d->n == MAX_ATTR_DEFS || strlen(name) == 0 || strlen(name) > DB_ATTR_NAME_MAX) {
			rq_fail(r, "ValidationException", "Invalid AttributeDefinitions");
			goto fail;
		}
		if (strcmp(type, "S") && strcmp(type, "N") && strcmp(type, "B")) {
			rq_fail(r, "ValidationException",
				"1 validation error detected: Value '%s' at "
				"'attributeDefinitions.%zu.member.attributeType' failed to satisfy "
				"constraint: Member must satisfy enum value set: [B, N, S]",
				type, d->n + 1);
			goto fail;
		}
		strcpy(d->name[d->n], name);
		d->type[d->n] = type[0] == 'S' ? VAL_S : type[0] == 'N' ? VAL_N : VAL_B;
		d->n++;
		free(name);
		free(type);
		name = type = NULL;
	}
	return 0;
fail:
	free(name);
	free(type);
	return -1;
}

static int def_type(struct rq *r, struct defs *d, const char *name, struct key_attr *k)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (!strcmp(d->name[i], name)) {
			d->used[i] = true;
			snprintf(k->name, sizeof(k->name), "%s", name);
			k->type = d->type[i];
			return 0;
		}
	}
	return rq_fail(r, "ValidationException",
		       "One or more parameter values were invalid: Some index key attributes are "
		       "not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [...]",
		       name);
}

static int parse_key_schema(struct rq *r, struct sf_span obj, struct defs *d, struct key_attr *pk,
			    struct key_attr *sk, bool *has_sk)
{
	struct sf_span v, x;
	struct sf_iter it;
	char *name = NULL, *type = NULL;
	size_t n = 0;
	int rc;

	*has_sk = false;
	if (!rq_member(obj, "KeySchema", &v))
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'keySchema' failed to "
			       "satisfy constraint: Member must not be null");
	if (sf_arr_open(&it, v) < 0)
		return rq_fail(r, "SerializationException", "KeySchema must be a list");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		if (rq_str_req(r, x, "AttributeName", &name) < 0 ||
		    rq_str_req(r, x, "KeyType", &type) < 0)
			goto fail;
		if (n >= 2) {
			rq_fail(r, "ValidationException",
				"1 validation error detected: Value '[...]' at 'keySchema' failed to "
				"satisfy constraint: Member must have length less than or equal to 2");
			goto fail;
		}
		if (strcmp(type, n == 0 ? "HASH" : "RANGE")) {
			rq_fail(r, "ValidationException",
				n == 0 ? "Invalid KeySchema: The first KeySchemaElement is not a HASH key "
					 "type"
				: !strcmp(type, "HASH") ? "Too many hash keys specified.  All Dynamo DB "
							  "tables must have exactly one hash key"
							: "Invalid KeySchema: The second KeySchemaElement "
							  "is not a RANGE key type");
			goto fail;
		}
		if (def_type(r, d, name, n == 0 ? pk : sk) < 0)
			goto fail;
		if (n == 1) {
			if (!strcmp(pk->name, sk->name)) {
				rq_fail(r, "ValidationException",
					"Both the Hash Key and the Range Key element in the KeySchema "
					"have the same name");
				goto fail;
			}
			*has_sk = true;
		}
		n++;
		free(name);
		free(type);
		name = type = NULL;
	}
	if (n == 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value '[]' at 'keySchema' failed to "
			       "satisfy constraint: Member must have length greater than or equal to 1");
	return 0;
fail:
	free(name);
	free(type);
	return -1;
}

static int parse_projection(struct rq *r, struct sf_span obj, struct index_def *ix)
{
	struct sf_span v, x;
	struct sf_iter it;
	char *type = NULL, *name;
	int rc;

	if (!rq_member(obj, "Projection", &v))
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at 'projection' failed to "
			       "satisfy constraint: Member must not be null");
	if (rq_str(r, v, "ProjectionType", &type) < 0)
		return -1;
	if (!type || !strcmp(type, "ALL")) {
		ix->proj = PROJ_ALL;
	} else if (!strcmp(type, "KEYS_ONLY")) {
		ix->proj = PROJ_KEYS_ONLY;
	} else if (!strcmp(type, "INCLUDE")) {
		ix->proj = PROJ_INCLUDE;
	} else {
		free(type);
		return rq_fail(r, "ValidationException", "Unknown ProjectionType");
	}
	if (rq_member(v, "NonKeyAttributes", &x)) {
		if (ix->proj != PROJ_INCLUDE) {
			free(type);
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: "
				       "ProjectionType is %s, but NonKeyAttributes is specified",
				       type ? type : "ALL");
		}
		if (sf_arr_open(&it, x) < 0) {
			free(type);
			return rq_fail(r, "SerializationException", "NonKeyAttributes must be a list");
		}
		while ((rc = sf_arr_next(&it, &v)) > 0) {
			char **n2 = realloc(ix->include, (ix->ninclude + 1) * sizeof(*n2));

			if (!n2 || sf_span_str(v, &name, NULL, NULL) < 0) {
				if (n2)
					ix->include = n2;
				free(type);
				return rq_fail(r, "SerializationException", "bad NonKeyAttributes");
			}
			ix->include = n2;
			ix->include[ix->ninclude++] = name;
		}
	} else if (ix->proj == PROJ_INCLUDE) {
		free(type);
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: ProjectionType is INCLUDE, "
			       "but NonKeyAttributes is not specified");
	}
	free(type);
	return 0;
}

/* One index definition (GSI or LSI) into ix. */
static int parse_index(struct rq *r, struct sf_span obj, struct defs *d, struct index_def *ix)
{
	char *name = NULL;

	memset(ix, 0, sizeof(*ix));
	if (rq_str_req(r, obj, "IndexName", &name) < 0)
		return -1;
	if (!db_name_valid(name)) {
		rq_fail(r, "ValidationException", "Invalid index name: %s", name);
		free(name);
		return -1;
	}
	snprintf(ix->name, sizeof(ix->name), "%s", name);
	free(name);
	if (parse_key_schema(r, obj, d, &ix->pk, &ix->sk, &ix->has_sk) < 0)
		return -1;
	return parse_projection(r, obj, ix);
}

/* Append a parsed index to s (steals ix's include list). */
static int schema_add_index(struct rq *r, struct table_schema *s, struct index_def *ix)
{
	struct index_def *n;
	size_t i;

	for (i = 0; i < s->nindex; i++)
		if (!strcmp(s->index[i].name, ix->name))
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: Duplicate index "
				       "name: %s",
				       ix->name);
	if (s->nindex == DB_MAX_INDEXES)
		return rq_fail(r, "LimitExceededException",
			       "Subscriber limit exceeded: the number of indexes per table");
	n = realloc(s->index, (s->nindex + 1) * sizeof(*n));
	if (!n)
		return rq_fail_err(r, -ENOMEM, NULL);
	s->index = n;
	s->index[s->nindex++] = *ix;
	memset(ix, 0, sizeof(*ix));
	return 0;
}

static void index_def_free(struct index_def *ix)
{
	size_t i;

	for (i = 0; i < ix->ninclude; i++)
		free(ix->include[i]);
	free(ix->include);
	ix->include = NULL;
	ix->ninclude = 0;
}

/* BillingMode and ProvisionedThroughput into m's fields. */
static int parse_billing(struct rq *r, bool *prov, int64_t *rcu, int64_t *wcu, bool create)
{
	struct sf_span pt;
	char *mode = NULL;
	bool has_pt;

	if (rq_str(r, r->body, "BillingMode", &mode) < 0)
		return -1;
	has_pt = rq_member(r->body, "ProvisionedThroughput", &pt);
	if (mode && strcmp(mode, "PROVISIONED") && strcmp(mode, "PAY_PER_REQUEST")) {
		free(mode);
		return rq_fail(r, "ValidationException", "Invalid BillingMode");
	}
	*prov = mode ? !strcmp(mode, "PROVISIONED") : (create ? true : *prov || has_pt);
	free(mode);
	if (*prov && has_pt) {
		if (rq_int(r, pt, "ReadCapacityUnits", rcu) <= 0 ||
		    rq_int(r, pt, "WriteCapacityUnits", wcu) <= 0)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: ReadCapacityUnits "
				       "and WriteCapacityUnits must both be specified");
		if (*rcu < 1 || *wcu < 1)
			return rq_fail(r, "ValidationException",
				       "One or more parameter values were invalid: Each of "
				       "ReadCapacityUnits and WriteCapacityUnits must be at least 1");
	} else if (*prov && create) {
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: ReadCapacityUnits and "
			       "WriteCapacityUnits must both be specified when BillingMode is "
			       "PROVISIONED");
	} else if (!*prov && has_pt && create) {
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: Neither "
			       "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
			       "BillingMode is PAY_PER_REQUEST");
	}
	return 0;
}

/* Remember a global index's own ProvisionedThroughput (obj: its definition). */
static void note_gsi_throughput(struct rq *r, struct api_tmeta *m, struct sf_span obj,
				const char *index)
{
	struct sf_span pt;
	int64_t rcu, wcu;
	size_t i;

	if (!rq_member(obj, "ProvisionedThroughput", &pt) || rq_int(r, pt, "ReadCapacityUnits", &rcu) <= 0 ||
	    rq_int(r, pt, "WriteCapacityUnits", &wcu) <= 0)
		return;
	for (i = 0; i < m->ngtp && strcmp(m->gtp[i].name, index); i++)
		;
	if (i == DB_MAX_INDEXES)
		return;
	snprintf(m->gtp[i].name, sizeof(m->gtp[i].name), "%s", index);
	m->gtp[i].rcu = rcu;
	m->gtp[i].wcu = wcu;
	if (i == m->ngtp)
		m->ngtp++;
}

/* A new global index's own ProvisionedThroughput, as DynamoDB wants it:
 * required on a PROVISIONED table, refused on an on-demand one. */
static int gsi_billing(struct rq *r, struct sf_span obj, const char *index, bool prov)
{
	struct sf_span pt;
	bool has_pt = rq_member(obj, "ProvisionedThroughput", &pt);

	if (prov && !has_pt)
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: ProvisionedThroughput "
			       "is not specified for index: %s", index);
	if (!prov && has_pt)
		return rq_fail(r, "ValidationException",
			       "One or more parameter values were invalid: ProvisionedThroughput "
			       "should not be specified for index: %s when BillingMode is "
			       "PAY_PER_REQUEST", index);
	return 0;
}

/* ---- CreateTable ---- */

int op_create_table(struct rq *r)
{
	struct table_schema s;
	struct index_def ix;
	struct defs d;
	struct sf_span v, x;
	struct sf_iter it;
	struct dyn_err err;
	struct api_tmeta *m, tags; /* tags: CreateTable's Tags, checked before creating */
	char *name = NULL, **lsi = NULL;
	size_t nlsi = 0, i, which;
	bool prov = false;
	int64_t rcu = 0, wcu = 0;
	table_t *t = NULL;
	int rc = -1, stream;

	memset(&s, 0, sizeof(s));
	memset(&ix, 0, sizeof(ix));
	memset(&tags, 0, sizeof(tags));
	if (rq_str_req(r, r->body, "TableName", &name) < 0)
		goto out;
	if (!db_name_valid(name)) {
		rq_fail(r, "ValidationException", "%s", API_BAD_NAME);
		goto out;
	}
	if (parse_defs(r, &d, true) < 0 ||
	    parse_key_schema(r, r->body, &d, &s.pk, &s.sk, &s.has_sk) < 0)
		goto out;
	for (which = 0; which < 2; which++) {
		const char *member = which ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes";

		if (!rq_member(r->body, member, &v))
			continue;
		if (sf_arr_open(&it, v) < 0) {
			rq_fail(r, "SerializationException", "%s must be a list", member);
			goto out;
		}
		while (sf_arr_next(&it, &x) > 0) {
			if (parse_index(r, x, &d, &ix) < 0)
				goto out;
			if (which == 0) {
				char **n2;

				if (!ix.has_sk || strcmp(ix.pk.name, s.pk.name) || !s.has_sk) {
					rq_fail(r, "ValidationException",
						"One or more parameter values were invalid: Index "
						"KeySchema does not have a range key for index: %s",
						ix.name);
					goto out;
				}
				n2 = realloc(lsi, (nlsi + 1) * sizeof(*n2));
				if (!n2 || !(n2[nlsi] = strdup(ix.name))) {
					lsi = n2 ? n2 : lsi;
					rq_fail_err(r, -ENOMEM, NULL);
					goto out;
				}
				lsi = n2;
				nlsi++;
			}
			if (schema_add_index(r, &s, &ix) < 0)
				goto out;
		}
	}
	for (i = 0; i < d.n; i++) {
		if (!d.used[i]) {
			rq_fail(r, "ValidationException",
				"The number of attributes in key schema must match the number of "
				"attributes defined in attribute definitions.");
			goto out;
		}
	}
	if (parse_billing(r, &prov, &rcu, &wcu, true) < 0 || stream_spec(r, r->body, &stream) < 0 ||
	    (rq_member(r->body, "Tags", &v) && meta_add_tags(r, &tags, v) < 0))
		goto out;
	err_clear(&err);
	rc = db_create_table(r->a->db, name, &s, &err);
	if (rc == -EEXIST) {
		rc = rq_fail(r, "ResourceInUseException", "Cannot create preexisting table");
		goto out;
	}
	if (rc < 0) {
		rc = rq_fail(r, "ValidationException", "One or more parameter values were invalid: %s",
			     err.code ? err.msg : strerror(-rc));
		goto out;
	}
	r->wrote = true;
	meta_drop(r->a, name);
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, name);
	if (m) {
		m->provisioned = prov;
		m->rcu = rcu;
		m->wcu = wcu;
		m->lsi = lsi;
		m->nlsi = nlsi;
		lsi = NULL;
		nlsi = 0;
		m->tag_k = tags.tag_k;
		m->tag_v = tags.tag_v;
		m->ntags = tags.ntags;
		memset(&tags, 0, sizeof(tags));
		if (rq_member(r->body, "GlobalSecondaryIndexes", &v) && sf_arr_open(&it, v) == 0) {
			while (sf_arr_next(&it, &x) > 0) {
				char *iname = NULL;

				if (rq_str(r, x, "IndexName", &iname) > 0)
					note_gsi_throughput(r, m, x, iname);
				free(iname);
			}
		}
	}
	pthread_mutex_unlock(&r->a->lock);
	if ((rc = stream_apply(r, name, stream, true)) < 0)
		goto out;
	if ((rc = meta_save(r->a, name)) < 0) {
		rc = rq_fail_err(r, rc, NULL);
		goto out;
	}
	rc = db_table_open(r->a->db, name, &t);
	if (rc < 0) {
		rc = rq_no_table(r, name);
		goto out;
	}
	sf_buf_adds(&r->out, "{\"TableDescription\":");
	rc = api_describe(r, t, "ACTIVE", &r->out);
	sf_buf_addc(&r->out, '}');
out:
	for (i = 0; i < nlsi; i++)
		free(lsi[i]);
	free(lsi);
	for (i = 0; i < tags.ntags; i++) {
		free(tags.tag_k[i]);
		free(tags.tag_v[i]);
	}
	free(tags.tag_k);
	free(tags.tag_v);
	index_def_free(&ix);
	schema_free(&s);
	tbl_close(t);
	free(name);
	return rc;
}

/* ---- DeleteTable, DescribeTable, ListTables ---- */

int op_delete_table(struct rq *r)
{
	struct sf_buf desc = SF_BUF_INIT;
	struct dyn_err err;
	table_t *t = NULL;
	char *name;
	int rc;

	if (rq_table(r, r->body, &t) < 0)
		return -1;
	name = strdup(tbl_name(t));
	rc = api_describe(r, t, "DELETING", &desc);
	tbl_close(t);
	if (rc == 0 && name) {
		err_clear(&err);
		rc = db_drop_table(r->a->db, name, &err);
		if (rc == -ENOENT)
			rc = rq_no_table(r, name);
		else if (rc < 0)
			rc = rq_fail_err(r, rc, &err);
	}
	if (rc == 0) {
		r->wrote = true;
		meta_drop(r->a, name);
		sf_buf_printf(&r->out, "{\"TableDescription\":%s}", desc.p);
	}
	free(name);
	sf_buf_free(&desc);
	return rc;
}

int op_describe_table(struct rq *r)
{
	table_t *t;
	int rc;

	if (rq_table(r, r->body, &t) < 0)
		return -1;
	sf_buf_adds(&r->out, "{\"Table\":");
	rc = api_describe(r, t, "ACTIVE", &r->out);
	sf_buf_addc(&r->out, '}');
	tbl_close(t);
	return rc;
}

struct list_ctx {
	struct sf_buf *b; /* output */
	size_t n, limit;  /* names written, wanted */
	char *last;	  /* last name written (owned) */
	bool more;	  /* a name beyond the limit exists */
};

static int list_cb(void *ctx, const char *name)
{
	struct list_ctx *c = ctx;

	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if ((c->n && sf_buf_addc(c->b, ',') < 0) || sf_json_str(c->b, name, strlen(name)) < 0)
		return -ENOMEM;
	free(c->last);
	c->last = strdup(name);
	c->n++;
	return 0;
}

int op_list_tables(struct rq *r)
{
	struct list_ctx c = {.b = &r->out, .limit = 100};
	char *start = NULL;
	int64_t limit;
	int rc;

	if ((rc = rq_int(r, r->body, "Limit", &limit)) < 0 ||
	    rq_str(r, r->body, "ExclusiveStartTableName", &start) < 0)
		return -1;
	if (rc > 0) {
		if (limit < 1 || limit > 100) {
			free(start);
			return rq_fail(r, "ValidationException",
				       "1 validation error detected: Value '%lld' at 'limit' failed "
				       "to satisfy constraint: Member must have value %s",
				       (long long)limit,
				       limit < 1 ? "greater than or equal to 1"
						 : "less than or equal to 100");
		}
		c.limit = (size_t)limit;
	}
	sf_buf_adds(&r->out, "{\"TableNames\":[");
	rc = db_list_tables(r->a->db, start, list_cb, &c);
	sf_buf_addc(&r->out, ']');
	if (rc >= 0 && c.more && c.last) {
		sf_buf_adds(&r->out, ",\"LastEvaluatedTableName\":");
		sf_json_str(&r->out, c.last, strlen(c.last));
	}
	sf_buf_addc(&r->out, '}');
	free(c.last);
	free(start);
	return rc < 0 ? rq_fail_err(r, rc, NULL) : 0;
}

/* ---- UpdateTable ---- */

static int remove_index(struct rq *r, struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nindex; i++) {
		if (strcmp(s->index[i].name, name))
			continue;
		index_def_free(&s->index[i]);
		memmove(&s->index[i], &s->index[i + 1], (s->nindex - i - 1) * sizeof(s->index[0]));
		s->nindex--;
		return 0;
	}
	return rq_fail(r, "ResourceNotFoundException", "Requested resource not found: Index: %s "
		       "not found", name);
}

int op_update_table(struct rq *r)
{
	struct table_schema s;
	struct index_def ix;
	struct defs d;
	struct sf_span v, x, c;
	struct sf_iter it;
	struct dyn_err err;
	struct api_tmeta *m;
	bool prov, changed = false;
	int64_t rcu, wcu;
	char *iname = NULL;
	table_t *t = NULL;
	int rc = -1, stream;

	memset(&s, 0, sizeof(s));
	memset(&ix, 0, sizeof(ix));
	if (rq_table(r, r->body, &t) < 0)
		return -1;
	if ((rc = tbl_schema(t, &s)) < 0) {
		rc = rq_fail_err(r, rc, NULL);
		goto out;
	}
	rc = -1;
	if (parse_defs(r, &d, false) < 0)
		goto out;
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	prov = m && m->provisioned;
	rcu = m ? m->rcu : 0;
	wcu = m ? m->wcu : 0;
	pthread_mutex_unlock(&r->a->lock);
	if (parse_billing(r, &prov, &rcu, &wcu, false) < 0 || stream_spec(r, r->body, &stream) < 0)
		goto out;
	if (rq_member(r->body, "GlobalSecondaryIndexUpdates", &v)) {
		if (sf_arr_open(&it, v) < 0) {
			rq_fail(r, "SerializationException",
				"GlobalSecondaryIndexUpdates must be a list");
			goto out;
		}
		while (sf_arr_next(&it, &x) > 0) {
			if (rq_member(x, "Create", &c)) {
				if (parse_index(r, c, &d, &ix) < 0 || gsi_billing(r, c, ix.name, prov) < 0)
					goto out;
				pthread_mutex_lock(&r->a->lock);
				m = meta_get(r->a, tbl_name(t));
				if (m)
					note_gsi_throughput(r, m, c, ix.name);
				pthread_mutex_unlock(&r->a->lock);
				if (schema_add_index(r, &s, &ix) < 0)
					goto out;
				changed = true;
			} else if (rq_member(x, "Delete", &c)) {
				if (rq_str_req(r, c, "IndexName", &iname) < 0 ||
				    remove_index(r, &s, iname) < 0)
					goto out;
				free(iname);
				iname = NULL;
				changed = true;
			} else if (!rq_member(x, "Update", &c)) {
				rq_fail(r, "ValidationException",
					"One or more parameter values were invalid: One of "
					"GlobalSecondaryIndexUpdate.Create, Update or Delete must be "
					"specified");
				goto out;
			}
		}
	}
	if (changed) {
		err_clear(&err);
		rc = db_set_schema(r->a->db, tbl_name(t), &s, &err);
		if (rc < 0) {
			rc = rq_fail(r, "ValidationException", "%s", err.code ? err.msg : strerror(-rc));
			goto out;
		}
		r->wrote = true;
	}
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	if (m) {
		m->provisioned = prov;
		m->rcu = rcu;
		m->wcu = wcu;
	}
	pthread_mutex_unlock(&r->a->lock);
	if ((rc = stream_apply(r, tbl_name(t), stream, false)) < 0)
		goto out;
	if ((rc = meta_save(r->a, tbl_name(t))) < 0) {
		rc = rq_fail_err(r, rc, NULL);
		goto out;
	}
	r->wrote = true;
	sf_buf_adds(&r->out, "{\"TableDescription\":");
	rc = api_describe(r, t, "ACTIVE", &r->out);
	sf_buf_addc(&r->out, '}');
out:
	free(iname);
	index_def_free(&ix);
	schema_free(&s);
	tbl_close(t);
	return rc;
}
