/*
 * meta.c - what DynamoDB reports about a table beyond its data, and the
 * operations that only touch that: DescribeTimeToLive, UpdateTimeToLive,
 * TagResource, UntagResource, ListTagsOfResource, DescribeLimits,
 * DescribeEndpoints.
 *
 * The metadata (struct api_tmeta: billing mode and throughput, creation
 * time, local indexes, stream settings, tags) is kept in memory, one entry
 * per table created on first use, under api->lock; it does not survive a
 * restart (docs/api.md lists what that changes).
 */
#include "apiint.h"

#include "ttl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- metadata ---- */

static void tmeta_free(struct api_tmeta *m)
{
	size_t i;

	for (i = 0; i < m->nlsi; i++)
		free(m->lsi[i]);
	for (i = 0; i < m->ntags; i++) {
		free(m->tag_k[i]);
		free(m->tag_v[i]);
	}
	free(m->lsi);
	free(m->tag_k);
	free(m->tag_v);
	free(m->name);
	free(m);
}

struct api_tmeta *meta_get(api_t *a, const char *name)
{
	struct api_tmeta *m;

	for (m = a->meta; m; m = m->next)
		if (!strcmp(m->name, name))
			return m;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(name))) {
		free(m);
		return NULL;
	}
	m->created = time(NULL);
	m->next = a->meta;
	a->meta = m;
	return m;
}

void meta_drop(api_t *a, const char *name)
{
	struct api_tmeta **pp, *m;

	pthread_mutex_lock(&a->lock);
	for (pp = &a->meta; (m = *pp); pp = &m->next) {
		if (!strcmp(m->name, name)) {
			*pp = m->next;
			tmeta_free(m);
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

bool meta_is_lsi(api_t *a, const char *table, const char *index)
{
	struct api_tmeta *m;
	bool lsi = false;
	size_t i;

	pthread_mutex_lock(&a->lock);
	m = meta_get(a, table);
	for (i = 0; m && i < m->nlsi; i++)
		lsi = lsi || !strcmp(m->lsi[i], index);
	pthread_mutex_unlock(&a->lock);
	return lsi;
}

void api_arn(const char *table, char *buf, size_t size)
{
	snprintf(buf, size, "arn:aws:dynamodb:ddblocal:000000000000:table/%s", table);
}

/* ---- TTL ---- */

int op_describe_ttl(struct rq *r)
{
	char attr[DB_ATTR_NAME_MAX + 1];
	table_t *t;

	if (rq_table(r, r->body, &t) < 0)
		return -1;
	tbl_ttl_attribute(t, attr, sizeof(attr));
	tbl_close(t);
	if (!attr[0])
		return sf_buf_adds(&r->out, "{\"TimeToLiveDescription\":{\"TimeToLiveStatus\":"
				   "\"DISABLED\"}}") < 0 ? rq_fail_err(r, -ENOMEM, NULL) : 0;
	sf_buf_adds(&r->out, "{\"TimeToLiveDescription\":{\"TimeToLiveStatus\":\"ENABLED\","
		    "\"AttributeName\":");
	sf_json_str(&r->out, attr, strlen(attr));
	sf_buf_adds(&r->out, "}}");
	return 0;
}

/*
 * The TTL attribute is the engine's (tbl_set_ttl_attribute: a journaled
 * schema change, the same "ttl_attribute" as _schema.json's), so the
 * sweeper acts on it and it survives a restart.
 */
int op_update_ttl(struct rq *r)
{
	char cur[DB_ATTR_NAME_MAX + 1];
	struct dyn_err err;
	struct sf_span spec;
	char *attr = NULL;
	bool enabled;
	table_t *t;
	int rc = -1;

	if (rq_table(r, r->body, &t) < 0)
		return -1;
	if (!rq_member(r->body, "TimeToLiveSpecification", &spec)) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value null at 'timeToLiveSpecification' failed "
			"to satisfy constraint: Member must not be null");
		goto out;
	}
	if (rq_str_req(r, spec, "AttributeName", &attr) < 0 ||
	    rq_bool(r, spec, "Enabled", &enabled) <= 0) {
		rq_fail(r, "ValidationException", "TimeToLiveSpecification needs AttributeName and "
			"Enabled");
		goto out;
	}
	if (!attr[0] || strlen(attr) > DB_ATTR_NAME_MAX) {
		rq_fail(r, "ValidationException",
			"Names of key attributes and attributes projected into an index must be "
			"between 1 and 255 characters, inclusive");
		goto out;
	}
	tbl_ttl_attribute(t, cur, sizeof(cur));
	if (cur[0] && strcmp(cur, attr)) {
		rq_fail(r, "ValidationException", "TimeToLive is active on a different AttributeName");
		goto out;
	}
	if (enabled && cur[0]) {
		rq_fail(r, "ValidationException", "TimeToLive is already enabled");
		goto out;
	}
	if (!enabled && !cur[0]) {
		rq_fail(r, "ValidationException", "TimeToLive is already disabled");
		goto out;
	}
	err_clear(&err);
	rc = tbl_set_ttl_attribute(r->a->db, tbl_name(t), enabled ? attr : NULL, &err);
	if (rc == -ENOENT) {
		rc = rq_no_table(r, tbl_name(t));
		goto out;
	}
	if (rc < 0) {
		rc = rq_fail_err(r, rc, &err);
		goto out;
	}
	r->wrote = true;
	sf_buf_printf(&r->out, "{\"TimeToLiveSpecification\":{\"Enabled\":%s,\"AttributeName\":",
		      enabled ? "true" : "false");
	sf_json_str(&r->out, attr, strlen(attr));
	sf_buf_adds(&r->out, "}}");
	rc = 0;
out:
	free(attr);
	tbl_close(t);
	return rc;
}

/* ---- what SDKs ask on their own ---- */

int op_describe_limits(struct rq *r)
{
	sf_buf_adds(&r->out, "{\"AccountMaxReadCapacityUnits\":80000,"
		    "\"AccountMaxWriteCapacityUnits\":80000,\"TableMaxReadCapacityUnits\":40000,"
		    "\"TableMaxWriteCapacityUnits\":40000}");
	return 0;
}

int op_describe_endpoints(struct rq *r)
{
	const char *l = r->a->o.listen;

	sf_buf_adds(&r->out, "{\"Endpoints\":[{\"Address\":");
	sf_json_str(&r->out, l, strlen(l));
	sf_buf_adds(&r->out, ",\"CachePeriodInMinutes\":1440}]}");
	return 0;
}

/* ---- tags ---- */

/* The table named by an ARN (…:table/NAME), opened. */
static int arn_table(struct rq *r, struct sf_span obj, table_t **t)
{
	char *arn = NULL, *p;
	int rc;

	if (rq_str_req(r, obj, "ResourceArn", &arn) < 0)
		return -1;
	p = strstr(arn, ":table/");
	rc = p ? db_table_open(r->a->db, p + 7, t) : -EINVAL;
	if (rc < 0)
		rq_fail(r, p ? "ResourceNotFoundException" : "ValidationException",
			p ? "Requested resource not found: ResourcArn: %s not found"
			  : "Invalid TableArn: %s",
			arn);
	free(arn);
	return rc < 0 ? -1 : 0;
}

int op_tag_resource(struct rq *r)
{
	struct api_tmeta *m;
	struct sf_span v, x;
	struct sf_iter it;
	char *k = NULL, *val = NULL;
	size_t i;
	table_t *t;
	int rc = 0;

	if (arn_table(r, r->body, &t) < 0)
		return -1;
	if (!rq_member(r->body, "Tags", &v) || sf_arr_open(&it, v) < 0) {
		tbl_close(t);
		return rq_fail(r, "ValidationException", "Tags must be a non-empty list");
	}
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	while (m && rc == 0 && sf_arr_next(&it, &x) > 0) {
		if (rq_str_req(r, x, "Key", &k) < 0 || rq_str_req(r, x, "Value", &val) < 0) {
			rc = -1;
			break;
		}
		for (i = 0; i < m->ntags && strcmp(m->tag_k[i], k); i++)
			;
		if (i == m->ntags) {
			char **nk = realloc(m->tag_k, (i + 1) * sizeof(*nk));
			char **nv = nk ? realloc(m->tag_v, (i + 1) * sizeof(*nv)) : NULL;

			if (nk)
				m->tag_k = nk;
			if (nv)
				m->tag_v = nv;
			if (!nk || !nv) {
				rc = rq_fail_err(r, -ENOMEM, NULL);
				break;
			}
			m->tag_k[i] = k;
			m->tag_v[i] = NULL;
			m->ntags++;
			k = NULL;
		}
		free(m->tag_v[i]);
		m->tag_v[i] = val;
		val = NULL;
		free(k);
		k = NULL;
	}
	pthread_mutex_unlock(&r->a->lock);
	free(k);
	free(val);
	tbl_close(t);
	if (rc == 0)
		sf_buf_adds(&r->out, "{}");
	return rc;
}

int op_untag_resource(struct rq *r)
{
	struct api_tmeta *m;
	struct sf_span v, x;
	struct sf_iter it;
	char *k;
	size_t i;
	table_t *t;

	if (arn_table(r, r->body, &t) < 0)
		return -1;
	if (!rq_member(r->body, "TagKeys", &v) || sf_arr_open(&it, v) < 0) {
		tbl_close(t);
		return rq_fail(r, "ValidationException", "TagKeys must be a list");
	}
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	while (m && sf_arr_next(&it, &x) > 0) {
		if (sf_span_str(x, &k, NULL, NULL) < 0)
			break;
		for (i = 0; i < m->ntags; i++) {
			if (strcmp(m->tag_k[i], k))
				continue;
			free(m->tag_k[i]);
			free(m->tag_v[i]);
			m->ntags--;
			m->tag_k[i] = m->tag_k[m->ntags];
			m->tag_v[i] = m->tag_v[m->ntags];
			break;
		}
		free(k);
	}
	pthread_mutex_unlock(&r->a->lock);
	tbl_close(t);
	sf_buf_adds(&r->out, "{}");
	return 0;
}

int op_list_tags(struct rq *r)
{
	struct api_tmeta *m;
	size_t i;
	table_t *t;

	if (arn_table(r, r->body, &t) < 0)
		return -1;
	sf_buf_adds(&r->out, "{\"Tags\":[");
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	for (i = 0; m && i < m->ntags; i++) {
		sf_buf_adds(&r->out, i ? ",{\"Key\":" : "{\"Key\":");
		sf_json_str(&r->out, m->tag_k[i], strlen(m->tag_k[i]));
		sf_buf_adds(&r->out, ",\"Value\":");
		sf_json_str(&r->out, m->tag_v[i], strlen(m->tag_v[i]));
		sf_buf_addc(&r->out, '}');
	}
	pthread_mutex_unlock(&r->a->lock);
	sf_buf_adds(&r->out, "]}");
	tbl_close(t);
	return 0;
}
