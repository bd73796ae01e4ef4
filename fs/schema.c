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
 * the file unchanged.  This file handles the key schema only: index
 * definitions are read back as they are and kept on write; writing new
 * ones is not supported here yet (the index views add that).  The text is
 * parsed with jansson: strict JSON, unknown members rejected so that a
 * typo ("sortkey") cannot be silently ignored.
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

int schema_text(table_t *t, char **out, size_t *len)
{
	struct table_schema s;
	struct sbuf b = {0};
	size_t i;
	int rc;

	rc = tbl_schema(t, &s);
	if (rc < 0)
		return rc;
	sb_printf(&b, "{\n  \"partition_key\": ");
	key_json(&b, &s.pk);
	if (s.has_sk) {
		sb_printf(&b, ",\n  \"sort_key\": ");
		key_json(&b, &s.sk);
	}
	sb_printf(&b, ",\n  \"indexes\": [");
	for (i = 0; i < s.nindex; i++) {
		sb_printf(&b, "%s\n", i ? "," : "");
		index_json(&b, &s.index[i]);
	}
	sb_printf(&b, "%s]\n}\n", s.nindex ? "\n  " : "");
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

/* Parse text into the key part of *s (indexes untouched). */
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
		if (strcmp(k, "partition_key") && strcmp(k, "sort_key") && strcmp(k, "indexes")) {
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
	v = json_object_get(root, "indexes");
	if (v && !json_is_array(v)) {
		rc = err_set(err, EINVAL, "indexes must be an array");
		goto out;
	}
	if (v && json_array_size(v) != s->nindex)
		rc = err_set(err, EINVAL, "changing indexes through _schema.json is not "
					  "supported yet; keep \"indexes\" as it reads");
out:
	json_decref(root);
	return rc;
}

static bool same_key(const struct key_attr *a, const struct key_attr *b)
{
	return a->type == b->type && !strcmp(a->name, b->name);
}

int schema_commit(struct fsx *fs, struct node *n, const char *text, size_t len)
{
	char path[NAME_BUF + 32];
	struct table_schema s;
	struct dyn_err err;
	struct tbl_stats st;
	struct val pk, sk;
	table_t *t;
	int rc;

	err_clear(&err);
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	rc = tbl_schema(t, &s);
	if (rc < 0)
		return rc;
	{
		struct key_attr opk = s.pk, osk = s.sk;
		bool ohas = s.has_sk;

		rc = parse_schema(text, len, &s, &err);
		if (rc == 0 && same_key(&opk, &s.pk) && ohas == s.has_sk &&
		    (!ohas || same_key(&osk, &s.sk)))
			goto out; /* unchanged: nothing to do, even on a full table */
	}
	if (rc == 0)
		rc = schema_check(&s, &err);
	if (rc == 0)
		rc = db_set_schema(fs->db, tbl_name(t), &s, &err);
	if (rc == -EBUSY) {
		tbl_stats(t, &st);
		err_clear(&err);
		err_set(&err, EBUSY,
			"the key schema can change only while the table is empty (it holds "
			"%llu items)", (unsigned long long)st.items);
	}
out:
	if (rc < 0) {
		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	schema_free(&s);
	return rc;
}
