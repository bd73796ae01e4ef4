/*
 * schema.c - /<table>/_schema.json (SPEC §6): the key schema, read and
 * written as JSON.
 *
 *   {
 *     "partition_key": {"name": "id#level", "type": "S"},
 *     "sort_key": {"name": "week", "type": "S"},
 *     "indexes": []
 *   }
 *
 * "sort_key" is left out for a table without one (null is accepted when
 * writing).  Writing the file changes the key schema, which the engine
 * allows only while the table is empty (EBUSY otherwise); writing back
 * the schema the table already has is always fine, so editors can save
 * the file unchanged.  The text is parsed with jansson: strict JSON,
 * unknown members rejected so that a typo ("sortkey") cannot be silently
 * ignored.
 *
 * Indexes.  "indexes" lists every secondary index, by name (byte order:
 * two stores' schemas compare with diff whatever order their indexes were
 * made in, or a service lists them in), each
 *
 *   {"name": "email-index",
 *    "partition_key": {"name": "email", "type": "S"},
 *    "sort_key": {"name": "created", "type": "N"},       (optional)
 *    "projection": "ALL" | "KEYS_ONLY" | ["attr", ...]}  (INCLUDE)
 *
 * A written file is the whole schema: an index that is not listed any
 * more is dropped, a new one is added and backfilled from the items
 * already in the table, at any time (db_set_schema).  "projection" may
 * be left out (ALL); "indexes" too (no indexes).
 *
 * TTL.  "ttl_attribute": "expires" (optional; null or absent: none) names
 * the attribute whose number of epoch seconds says when an item expires
 * (engine/ttl.h); it can be set, changed or removed at any time.  A backfill that meets
 * an item whose index key attribute has a non-key type fails with EINVAL
 * naming the index, the item and the attribute, and changes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* Append printf-style text to a growing buffer. */
struct sbuf {
	char *p;    /* NUL-terminated */
	size_t len; /* without the NUL */
	int err;    /* first error */
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -ENOMEM;
		return;
	}
	char *np = realloc(b->p, b->len + (size_t)n + 1);
	if (!np) {
		free(s);
		b->err = -ENOMEM;
		return;
	}
	memcpy(np + b->len, s, (size_t)n + 1);
	b->p = np;
	b->len += (size_t)n;
	free(s);
}

/* A JSON string literal (new). */
static char *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	return out;
}

static void key_json(struct sbuf *b, const struct key_attr *a)
{
	char *name = jstr(a->name);

	if (!name) {
		b->err = -ENOMEM;
		return;
	}
	sb_printf(b, "{\"name\": %s, \"type\": \"%s\"}", name, val_type_name(a->type));
	free(name);
}

static void index_json(struct sbuf *b, const struct index_def *x)
{
	char *name = jstr(x->name);
	size_t i;

	sb_printf(b, "    {\"name\": %s,\n     \"partition_key\": ", name ? name : "\"\"");
	free(name);
	key_json(b, &x->pk);
	if (x->has_sk) {
		sb_printf(b, ",\n     \"sort_key\": ");
		key_json(b, &x->sk);
	}
	if (x->proj == PROJ_INCLUDE) {
		sb_printf(b, ",\n     \"projection\": [");
		for (i = 0; i < x->ninclude; i++) {
			char *a = jstr(x->include[i]);

			sb_printf(b, "%s%s", i ? ", " : "", a ? a : "\"\"");
			free(a);
		}
		sb_printf(b, "]}");
	} else {
		sb_printf(b, ",\n     \"projection\": \"%s\"}",
			  x->proj == PROJ_ALL ? "ALL" : "KEYS_ONLY");
	}
}

int schema_text(be_table_t *t, char **out, size_t *len, struct dyn_err *err)
{
	struct table_schema s;
	struct sbuf b = {0};
	size_t i;
	int rc;

	rc = be_table_schema(t, &s, err);
	if (rc < 0)
		return rc;
	sb_printf(&b, "{\n  \"partition_key\": ");
	key_json(&b, &s.pk);
	if (s.has_sk) {
		sb_printf(&b, ",\n  \"sort_key\": ");
		key_json(&b, &s.sk);
	}
	schema_sort_indexes(&s); /* by name (db.h) */
	sb_printf(&b, ",\n  \"indexes\": [");
	for (i = 0; i < s.nindex; i++) {
		sb_printf(&b, "%s\n", i ? "," : "");
		index_json(&b, &s.index[i]);
	}
	sb_printf(&b, "%s]", s.nindex ? "\n  " : "");
	if (s.ttl_attr[0]) {
		char *ttl = jstr(s.ttl_attr);

		if (ttl)
			sb_printf(&b, ",\n  \"ttl_attribute\": %s", ttl);
		else
			b.err = -ENOMEM;
		free(ttl);
	}
	sb_printf(&b, "\n}\n");
	schema_free(&s);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- writing ---- */

static int parse_key(json_t *j, const char *what, struct key_attr *a, struct dyn_err *err)
{
	const char *k, *name, *type;
	json_t *v;

	if (!json_is_object(j))
		return err_set(err, EINVAL, "%s must be an object {\"name\": ..., \"type\": ...}",
			       what);
	json_object_foreach(j, k, v) {
		if (strcmp(k, "name") && strcmp(k, "type"))
			return err_set(err, EINVAL, "%s: unknown member \"%s\"", what, k);
	}
	name = json_string_value(json_object_get(j, "name"));
	type = json_string_value(json_object_get(j, "type"));
	if (!name || !*name || strlen(name) > DB_ATTR_NAME_MAX)
		return err_set(err, EINVAL, "%s: \"name\" must be a string of 1 to %d bytes",
			       what, DB_ATTR_NAME_MAX);
	if (!type || val_type_from_name(type, &a->type) < 0 || !val_type_is_key(a->type))
		return err_set(err, EINVAL, "%s: \"type\" must be \"S\", \"N\" or \"B\"", what);
	snprintf(a->name, sizeof(a->name), "%s", name);
	return 0;
}

static int parse_projection(json_t *j, const char *what, struct index_def *x,
			    struct dyn_err *err)
{
	const char *p = json_string_value(j);
	json_t *v;
	size_t i;

	if (!j || (p && !strcmp(p, "ALL"))) {
		x->proj = PROJ_ALL;
		return 0;
	}
	if (p && !strcmp(p, "KEYS_ONLY")) {
		x->proj = PROJ_KEYS_ONLY;
		return 0;
	}
	if (!json_is_array(j) || json_array_size(j) == 0)
		return err_set(err, EINVAL,
			       "%s.projection must be \"ALL\", \"KEYS_ONLY\" or a non-empty list "
			       "of attribute names (INCLUDE)",
			       what);
	x->proj = PROJ_INCLUDE;
	x->include = calloc(json_array_size(j), sizeof(*x->include));
	if (!x->include)
		return -ENOMEM;
	json_array_foreach(j, i, v) {
		p = json_string_value(v);
		if (!p || !*p || strlen(p) > DB_ATTR_NAME_MAX)
			return err_set(err, EINVAL,
				       "%s.projection[%zu] must be an attribute name (a string of 1 "
				       "to %d bytes)",
				       what, i, DB_ATTR_NAME_MAX);
		x->include[i] = strdup(p);
		if (!x->include[i])
			return -ENOMEM;
		x->ninclude++;
	}
	return 0;
}

static int parse_index(json_t *j, size_t at, struct index_def *x, struct dyn_err *err)
{
	char what[DB_NAME_MAX + 32];
	const char *k, *name;
	json_t *v;
	int rc;

	snprintf(what, sizeof(what), "indexes[%zu]", at);
	if (!json_is_object(j))
		return err_set(err, EINVAL, "%s must be an object {\"name\": ..., "
					    "\"partition_key\": ..., \"projection\": ...}",
			       what);
	name = json_string_value(json_object_get(j, "name"));
	if (!name || !db_name_valid(name))
		return err_set(err, EINVAL,
			       "%s.name must be an index name: 3 to 255 characters of A-Z a-z "
			       "0-9 _ . -",
			       what);
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(what, sizeof(what), "index %s", name);
	json_object_foreach(j, k, v) {
		if (strcmp(k, "name") && strcmp(k, "partition_key") && strcmp(k, "sort_key") &&
		    strcmp(k, "projection"))
			return err_set(err, EINVAL, "%s: unknown member \"%s\"", what, k);
	}
	v = json_object_get(j, "partition_key");
	if (!v)
		return err_set(err, EINVAL, "%s: partition_key is missing", what);
	snprintf(what, sizeof(what), "index %s: partition_key", name);
	rc = parse_key(v, what, &x->pk, err);
	if (rc < 0)
		return rc;
	v = json_object_get(j, "sort_key");
	x->has_sk = v && !json_is_null(v);
	snprintf(what, sizeof(what), "index %s: sort_key", name);
	if (x->has_sk)
		rc = parse_key(v, what, &x->sk, err);
	snprintf(what, sizeof(what), "index %s", name);
	if (rc == 0)
		rc = parse_projection(json_object_get(j, "projection"), what, x, err);
	return rc;
}

/* The "indexes" member (NULL: none) into s, replacing what s had. */
static int parse_indexes(json_t *v, struct table_schema *s, struct dyn_err *err)
{
	size_t i, n = v ? json_array_size(v) : 0;
	int rc = 0;

	for (i = 0; i < s->nindex; i++) {
		for (size_t j = 0; j < s->index[i].ninclude; j++)
			free(s->index[i].include[j]);
		free(s->index[i].include);
	}
	free(s->index);
	s->index = NULL;
	s->nindex = 0;
	if (v && !json_is_array(v))
		return err_set(err, EINVAL, "indexes must be an array");
	if (n > DB_MAX_INDEXES)
		return err_set(err, EINVAL, "indexes: at most %d indexes per table",
			       DB_MAX_INDEXES);
	if (n && !(s->index = calloc(n, sizeof(*s->index))))
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		s->nindex++; /* owned from now on, even half-parsed */
		rc = parse_index(json_array_get(v, i), i, &s->index[i], err);
	}
	return rc;
}

/* Parse text into *s (whose key part and indexes it replaces). */
static int parse_schema(const char *text, size_t len, struct table_schema *s,
			struct dyn_err *err)
{
	json_error_t je;
	json_t *root, *v;
	const char *k;
	int rc = 0;

	if (!len)
		return err_set(err, EINVAL, "empty file: the schema needs a partition_key");
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		err_set(err, EINVAL, "%s", je.text);
		err_at(err, je.line, je.column);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		rc = err_set(err, EINVAL, "the schema must be a JSON object");
		goto out;
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "partition_key") && strcmp(k, "sort_key") && strcmp(k, "indexes") &&
		    strcmp(k, "ttl_attribute")) {
			rc = err_set(err, EINVAL, "unknown member \"%s\"", k);
			goto out;
		}
	}
	v = json_object_get(root, "partition_key");
	if (!v) {
		rc = err_set(err, EINVAL, "partition_key is missing");
		goto out;
	}
	rc = parse_key(v, "partition_key", &s->pk, err);
	if (rc < 0)
		goto out;
	v = json_object_get(root, "sort_key");
	s->has_sk = v && !json_is_null(v);
	if (s->has_sk) {
		rc = parse_key(v, "sort_key", &s->sk, err);
		if (rc < 0)
			goto out;
		if (!strcmp(s->sk.name, s->pk.name)) {
			rc = err_set(err, EINVAL, "sort_key and partition_key are both \"%s\"",
				     s->pk.name);
			goto out;
		}
	} else {
		memset(&s->sk, 0, sizeof(s->sk));
	}
	rc = parse_indexes(json_object_get(root, "indexes"), s, err);
	if (rc < 0)
		goto out;
	memset(s->ttl_attr, 0, sizeof(s->ttl_attr));
	v = json_object_get(root, "ttl_attribute");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !json_string_length(v) ||
		    json_string_length(v) > DB_ATTR_NAME_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			rc = err_set(err, EINVAL,
				     "ttl_attribute must be an attribute name (1..%d bytes) or null",
				     DB_ATTR_NAME_MAX);
			goto out;
		}
		strcpy(s->ttl_attr, json_string_value(v));
	}
out:
	json_decref(root);
	return rc;
}

/* The schema as written is the one the table has (nothing to do). */
static bool same_schema(const struct table_schema *a, const struct table_schema *b)
{
	size_t i;

	if (!key_attr_equal(&a->pk, &b->pk) || a->has_sk != b->has_sk ||
	    (a->has_sk && !key_attr_equal(&a->sk, &b->sk)) || a->nindex != b->nindex ||
	    strcmp(a->ttl_attr, b->ttl_attr))
		return false;
	for (i = 0; i < a->nindex; i++)
		if (!index_def_equal(&a->index[i], &b->index[i]))
			return false;
	return true;
}

/* The message of db_set_schema's EBUSY, with the item count. */
static int busy_err(struct fsx *fs, be_table_t *t, struct dyn_err *err)
{
	struct tbl_stats st;

	err_clear(err);
	if (!(be_caps(fs->be) & BE_CAP_EXACT_STATS)) /* a count would be an estimate */
		return err_set(err, EBUSY,
			       "the key schema can change only while the table is empty (it "
			       "holds items)");
	be_table_stats(t, &st);
	return err_set(err, EBUSY,
		       "the key schema can change only while the table is empty (it holds "
		       "%llu items)", (unsigned long long)st.items);
}

/*
 * n's table (*t) and two copies of its schema (*s, to parse the new one
 * over, and *old), both the caller's to free; *err cleared.  Or -errno,
 * with nothing to free.
 */
static int current_schema(struct fsx *fs, struct node *n, be_table_t **t, struct table_schema *s,
			  struct table_schema *old, struct dyn_err *err)
{
	struct val pk, sk;
	int rc;

	err_clear(err);
	rc = node_key(fs, n, t, &pk, &sk);
	if (rc < 0)
		return rc;
	val_free(&pk);
	val_free(&sk);
	rc = be_table_schema(*t, s, NULL);
	if (rc < 0)
		return rc;
	rc = be_table_schema(*t, old, NULL);
	if (rc < 0) {
		schema_free(s);
		return rc;
	}
	return 0;
}

static int found_one(void *ctx, const struct be_ref *r)
{
	*(bool *)ctx = true;
	return 1;
}

/* Whether t holds an item: its count, where exact; else one item read
 * (a service's item count is an estimate, refreshed about every six
 * hours, so a key schema change would pass here and fail at close). */
static bool has_items(struct fsx *fs, be_table_t *t)
{
	struct tbl_scan sc = {.limit = 1};
	struct dyn_err err;
	struct tbl_stats st;
	bool found = false;

	if (!(be_caps(fs->be) & BE_CAP_EXACT_STATS)) {
		err_clear(&err);
		return be_scan(t, &sc, found_one, &found, &err) < 0 || found;
	}
	be_table_stats(t, &st);
	return st.items != 0;
}

int schema_precheck(struct fsx *fs, struct node *n, const char *text, size_t len)
{
	char path[NAME_BUF + 32];
	struct table_schema s, old;
	struct dyn_err err;
	be_table_t *t;
	int rc;

	rc = current_schema(fs, n, &t, &s, &old, &err);
	if (rc < 0)
		return rc;
	rc = parse_schema(text, len, &s, &err);
	if (rc == 0 && !same_schema(&old, &s)) {
		rc = schema_check(&s, &err);
		if (rc == 0 && (!key_attr_equal(&old.pk, &s.pk) || old.has_sk != s.has_sk ||
				(s.has_sk && !key_attr_equal(&old.sk, &s.sk))) &&
		    has_items(fs, t))
			rc = busy_err(fs, t, &err);
	}
	if (rc < 0) {
		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	schema_free(&old);
	schema_free(&s);
	return rc;
}

int schema_commit(struct fsx *fs, struct node *n, const char *text, size_t len)
{
	char path[NAME_BUF + 32];
	struct table_schema s, old;
	struct dyn_err err;
	be_table_t *t;
	int rc;

	rc = current_schema(fs, n, &t, &s, &old, &err);
	if (rc < 0)
		return rc;
	rc = parse_schema(text, len, &s, &err);
	if (rc == 0 && same_schema(&old, &s)) {
		schema_free(&old);
		goto out; /* unchanged: nothing to do, even on a full table */
	}
	schema_free(&old);
	if (rc == 0)
		rc = schema_check(&s, &err);
	if (rc == 0)
		rc = be_set_schema(fs->be, be_table_name(t), &s, &err);
	if (rc == -EBUSY)
		busy_err(fs, t, &err);
out:
	if (rc < 0) {
		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	schema_free(&s);
	return rc;
}
