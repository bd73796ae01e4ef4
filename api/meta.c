/*
 * meta.c - what DynamoDB reports about a table beyond its data, and the
 * operations that only touch that: DescribeTimeToLive, UpdateTimeToLive,
 * TagResource, UntagResource, ListTagsOfResource, DescribeLimits,
 * DescribeEndpoints.
 *
 * The metadata (struct api_tmeta: billing mode and throughput, creation
 * time, local indexes, stream settings, tags) is kept in memory, one entry
 * per table, under api->lock, and saved with the table's schema
 * (table_schema.api_meta, journaled and snapshotted by the engine) after
 * every change, so a restart describes the table as it was.  The saved
 * form is one JSON object, every member optional (a store written before
 * it existed has none, and its tables get the defaults: PAY_PER_REQUEST,
 * indexes global, no stream):
 *
 *   {"created": 1733400000,              CreationDateTime, epoch seconds
 *    "provisioned": [5, 5],              BillingMode PROVISIONED: RCU, WCU
 *    "gsi_throughput": {"ix": [1, 1]},   a global index's own RCU, WCU
 *    "local_indexes": ["ix2"],           indexes declared local
 *    "stream": {"view": 4, "last_view": 4, "label": "2026-12-06T10:00:00.000",
 *               "created": 1733400000},  view 0 = disabled, 1 KEYS_ONLY,
 *                                        2 NEW_IMAGE, 3 OLD_IMAGE,
 *                                        4 NEW_AND_OLD_IMAGES
 *    "tags": {"k": "v"}}
 *
 * A stream's records live in the change feed, which starts empty at
 * every start: a loaded stream keeps its label (so its ARN) and begins
 * at the feed's next record.  Saves are serialised by api->save_lock so
 * that they reach the journal in the order the changes were made.
 */
#include "apiint.h"

#include "feed.h"
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

/* ---- the saved form ---- */

static int render_names(struct sf_buf *b, char **names, size_t n)
{
	size_t i;
	int rc = sf_buf_addc(b, '[');

	for (i = 0; rc == 0 && i < n; i++) {
		if (i)
			rc = sf_buf_addc(b, ',');
		if (rc == 0)
			rc = sf_json_str(b, names[i], strlen(names[i]));
	}
	return rc == 0 ? sf_buf_addc(b, ']') : rc;
}

/* m's saved form into b (see the top of the file). */
static int meta_render(const struct api_tmeta *m, struct sf_buf *b)
{
	size_t i;
	int rc = sf_buf_printf(b, "{\"created\":%lld", (long long)m->created);

	if (rc == 0 && m->provisioned)
		rc = sf_buf_printf(b, ",\"provisioned\":[%lld,%lld]", (long long)m->rcu,
				   (long long)m->wcu);
	for (i = 0; rc == 0 && i < m->ngtp; i++) {
		rc = sf_buf_adds(b, i ? "," : ",\"gsi_throughput\":{");
		if (rc == 0)
			rc = sf_json_str(b, m->gtp[i].name, strlen(m->gtp[i].name));
		if (rc == 0)
			rc = sf_buf_printf(b, ":[%lld,%lld]%s", (long long)m->gtp[i].rcu,
					   (long long)m->gtp[i].wcu, i + 1 == m->ngtp ? "}" : "");
	}
	if (rc == 0 && m->nlsi) {
		rc = sf_buf_adds(b, ",\"local_indexes\":");
		if (rc == 0)
			rc = render_names(b, m->lsi, m->nlsi);
	}
	if (rc == 0 && m->stream_label[0]) {
		rc = sf_buf_printf(b, ",\"stream\":{\"view\":%d,\"last_view\":%d,\"created\":%lld,"
				   "\"label\":",
				   m->stream_view, m->stream_last_view, (long long)m->stream_created);
		if (rc == 0)
			rc = sf_json_str(b, m->stream_label, strlen(m->stream_label));
		if (rc == 0)
			rc = sf_buf_addc(b, '}');
	}
	for (i = 0; rc == 0 && i < m->ntags; i++) {
		rc = sf_buf_adds(b, i ? "," : ",\"tags\":{");
		if (rc == 0)
			rc = sf_json_str(b, m->tag_k[i], strlen(m->tag_k[i]));
		if (rc == 0)
			rc = sf_buf_addc(b, ':');
		if (rc == 0)
			rc = sf_json_str(b, m->tag_v[i], strlen(m->tag_v[i]));
		if (rc == 0 && i + 1 == m->ntags)
			rc = sf_buf_addc(b, '}');
	}
	return rc == 0 ? sf_buf_addc(b, '}') : rc;
}

/* A JSON number into *out (negative numbers are not saved). */
static bool span_i64(struct sf_span v, int64_t *out)
{
	uint64_t u;

	if (sf_span_u64(v, &u) < 0 || u > INT64_MAX)
		return false;
	*out = (int64_t)u;
	return true;
}

/* [rcu, wcu] */
static bool span_pair(struct sf_span v, int64_t *a, int64_t *b)
{
	struct sf_iter it;
	struct sf_span x, y;

	return sf_arr_open(&it, v) == 0 && sf_arr_next(&it, &x) > 0 && sf_arr_next(&it, &y) > 0 &&
	       span_i64(x, a) && span_i64(y, b);
}

static void load_stream(struct api_tmeta *m, struct sf_span v, uint64_t feed_next)
{
	struct sf_iter it;
	struct sf_span k, x;
	int64_t n;
	char *s;

	if (sf_obj_open(&it, v) < 0)
		return;
	while (sf_obj_next(&it, &k, &x) > 0) {
		if (sf_key_is(k, "view") && span_i64(x, &n) && n <= STREAM_NEW_AND_OLD_IMAGES)
			m->stream_view = (int)n;
		else if (sf_key_is(k, "last_view") && span_i64(x, &n) &&
			 n <= STREAM_NEW_AND_OLD_IMAGES)
			m->stream_last_view = (int)n;
		else if (sf_key_is(k, "created"))
			span_i64(x, &m->stream_created);
		else if (sf_key_is(k, "label") && sf_span_str(x, &s, NULL, NULL) == 0) {
			snprintf(m->stream_label, sizeof(m->stream_label), "%s", s);
			free(s);
		}
	}
	/* the feed starts empty: the stream goes on from its next record */
	m->stream_start = feed_next;
	m->stream_end = m->stream_view ? 0 : feed_next;
}

static int load_strings(struct sf_span v, bool map, char ***keys, char ***vals, size_t *n)
{
	struct sf_iter it;
	struct sf_span k, x;
	char *ks, *vs;

	if ((map ? sf_obj_open(&it, v) : sf_arr_open(&it, v)) < 0)
		return 0;
	while ((map ? sf_obj_next(&it, &k, &x) : sf_arr_next(&it, &x)) > 0) {
		char **nk = realloc(*keys, (*n + 1) * sizeof(*nk)), **nv = NULL;

		if (nk)
			*keys = nk;
		if (map && nk && (nv = realloc(*vals, (*n + 1) * sizeof(*nv))))
			*vals = nv;
		if (!nk || (map && !nv))
			return -ENOMEM;
		ks = vs = NULL;
		if (sf_span_str(map ? k : x, &ks, NULL, NULL) < 0 ||
		    (map && sf_span_str(x, &vs, NULL, NULL) < 0)) {
			free(ks);
			continue;
		}
		(*keys)[*n] = ks;
		if (map)
			(*vals)[*n] = vs;
		(*n)++;
	}
	return 0;
}

/* Fill m from the saved form in t's schema, if there is one. */
static void meta_load(api_t *a, struct api_tmeta *m)
{
	struct table_schema s;
	struct sf_iter it;
	struct sf_span v, k, x;
	uint64_t first, next;
	table_t *t;
	size_t i;

	if (db_table_open(a->db, m->name, &t) < 0)
		return;
	if (tbl_schema(t, &s) < 0)
		goto out_close;
	if (!s.api_meta || sf_whole(s.api_meta, strlen(s.api_meta), &v) < 0 ||
	    sf_obj_open(&it, v) < 0)
		goto out_free;
	feed_bounds(db_feed(a->db), &first, &next);
	while (sf_obj_next(&it, &k, &x) > 0) {
		if (sf_key_is(k, "created")) {
			span_i64(x, &m->created);
		} else if (sf_key_is(k, "provisioned")) {
			m->provisioned = span_pair(x, &m->rcu, &m->wcu);
		} else if (sf_key_is(k, "gsi_throughput")) {
			struct sf_iter gi;
			struct sf_span gk, gv;
			char *name;

			if (sf_obj_open(&gi, x) < 0)
				continue;
			while (m->ngtp < DB_MAX_INDEXES && sf_obj_next(&gi, &gk, &gv) > 0) {
				i = m->ngtp;
				if (sf_span_str(gk, &name, NULL, NULL) < 0)
					continue;
				snprintf(m->gtp[i].name, sizeof(m->gtp[i].name), "%s", name);
				free(name);
				if (span_pair(gv, &m->gtp[i].rcu, &m->gtp[i].wcu))
					m->ngtp++;
			}
		} else if (sf_key_is(k, "local_indexes")) {
			load_strings(x, false, &m->lsi, NULL, &m->nlsi);
		} else if (sf_key_is(k, "stream")) {
			load_stream(m, x, next);
		} else if (sf_key_is(k, "tags")) {
			load_strings(x, true, &m->tag_k, &m->tag_v, &m->ntags);
		}
	}
out_free:
	schema_free(&s);
out_close:
	tbl_close(t);
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
	meta_load(a, m);
	m->next = a->meta;
	a->meta = m;
	return m;
}

int meta_save(api_t *a, const char *name)
{
	struct sf_buf b = SF_BUF_INIT;
	struct api_tmeta *m;
	struct dyn_err err;
	int rc = -ENOMEM;

	pthread_mutex_lock(&a->save_lock);
	pthread_mutex_lock(&a->lock);
	m = meta_get(a, name);
	if (m)
		rc = meta_render(m, &b);
	pthread_mutex_unlock(&a->lock);
	err_clear(&err);
	if (rc == 0)
		rc = db_set_api_meta(a->db, name, b.p, &err);
	pthread_mutex_unlock(&a->save_lock);
	sf_buf_free(&b);
	return rc;
}

struct names {
	char **v;   /* table names (owned) */
	size_t n;   /* entries */
	size_t cap; /* allocated */
};

static int name_cb(void *ctx, const char *name)
{
	struct names *nm = ctx;

	if (nm->n == nm->cap) {
		char **v = realloc(nm->v, (nm->cap = nm->cap * 2 + 16) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		nm->v = v;
	}
	if (!(nm->v[nm->n] = strdup(name)))
		return -ENOMEM;
	nm->n++;
	return 0;
}

void meta_load_all(api_t *a)
{
	struct names nm = {0};
	size_t i;

	/* names first: meta_get opens tables, which db_list_tables's lock
	 * should not be held across */
	db_list_tables(a->db, NULL, name_cb, &nm);
	for (i = 0; i < nm.n; i++) {
		pthread_mutex_lock(&a->lock);
		meta_get(a, nm.v[i]);
		pthread_mutex_unlock(&a->lock);
		free(nm.v[i]);
	}
	free(nm.v);
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

int meta_add_tags(struct rq *r, struct api_tmeta *m, struct sf_span tags)
{
	struct sf_span x;
	struct sf_iter it;
	char *k = NULL, *val = NULL;
	size_t i;
	int rc = 0;

	if (sf_arr_open(&it, tags) < 0)
		return rq_fail(r, "ValidationException", "Tags must be a non-empty list");
	while (rc == 0 && sf_arr_next(&it, &x) > 0) {
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
	free(k);
	free(val);
	return rc;
}

int op_tag_resource(struct rq *r)
{
	struct api_tmeta *m;
	struct sf_span v;
	table_t *t;
	int rc;

	if (arn_table(r, r->body, &t) < 0)
		return -1;
	if (!rq_member(r->body, "Tags", &v)) {
		tbl_close(t);
		return rq_fail(r, "ValidationException", "Tags must be a non-empty list");
	}
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, tbl_name(t));
	rc = m ? meta_add_tags(r, m, v) : rq_fail_err(r, -ENOMEM, NULL);
	pthread_mutex_unlock(&r->a->lock);
	if (rc == 0 && (rc = meta_save(r->a, tbl_name(t))) < 0)
		rc = rq_fail_err(r, rc, NULL);
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
	int rc;

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
	rc = meta_save(r->a, tbl_name(t));
	tbl_close(t);
	if (rc < 0)
		return rq_fail_err(r, rc, NULL);
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
