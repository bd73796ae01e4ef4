/*
 * ops_req.c - the request envelope shared by `_batch` lines and /_tx
 * documents: one JSON object becomes a struct ops_req (opsint.h), bound
 * to a table of a sink as a struct ops_write.
 *
 * The envelope is decided by the member names alone (ops.h), never by
 * the values, so that whether a line is an item or an operation cannot
 * depend on data: a malformed envelope is an error, not an item.
 *
 * Sugar ("set", "add", "remove", "delete_from") becomes one update
 * expression with generated bindings #s0/:s0, #a0/:a0, #r0, #d0/:d0
 * (one per clause letter, so they never collide), parsed with
 * EXPR_UNLIMITED: DynamoDB's limits on expression size do not apply to
 * text the user never wrote.  The user's own "values"/"names" then serve
 * the "if" only.
 */
#include "opsint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

/* ---- messages ---- */

/* Rewrite err's message as "<prefix>msg (column C)" and forget the
 * position (the column is relative to whatever text was parsed). */
static void err_reframe(struct dyn_err *err, const char *prefix)
{
	char buf[sizeof(err->msg) + 64];

	if (!err || !err->code)
		return;
	if (err->col)
		snprintf(buf, sizeof(buf), "%s%s (column %d)", prefix, err->msg, err->col);
	else
		snprintf(buf, sizeof(buf), "%s%s", prefix, err->msg);
	buf[sizeof(err->msg) - 1] = 0;
	memcpy(err->msg, buf, sizeof(err->msg));
	err->line = err->col = 0;
}

/* ---- requests ---- */

void ops_req_init(struct ops_req *r)
{
	memset(r, 0, sizeof(*r));
	val_init_null(&r->v);
}

void ops_req_free(struct ops_req *r)
{
	if (!r->arena)
		val_free(&r->v);
	db_stored_release(&r->stored);
	expr_free(r->update);
	expr_free(r->cond);
	free(r->cond_text);
	free(r->table);
	ops_req_init(r);
}

/* The envelope vocabulary (ops.h); the verbs come first. */
enum member {
	M_PUT,
	M_DELETE,
	M_UPDATE,
	M_CHECK,
	M_IF,
	M_SET,
	M_ADD,
	M_REMOVE,
	M_DELETE_FROM,
	M_EXPR,
	M_VALUES,
	M_NAMES,
	M_TABLE,
	M_COUNT,
	M_VERBS = M_CHECK + 1,
};

static const char *const member_names[M_COUNT] = {
	"put", "delete", "update", "check", "if", "set", "add",
	"remove", "delete_from", "expr", "values", "names", "table",
};

static int member_of(const char *name, size_t len)
{
	int i;

	if (len < 2 || len > 11)
		return -1;
	for (i = 0; i < M_COUNT; i++)
		if (name[0] == member_names[i][0] && !strcmp(name, member_names[i]))
			return i;
	return -1;
}

/* Sort the members of an envelope into m[]; false if v is an item. */
static bool envelope_members(struct val *v, struct val *m[M_COUNT])
{
	bool verb = false;
	size_t i;
	int k;

	memset(m, 0, M_COUNT * sizeof(m[0]));
	for (i = 0; i < v->m.len; i++) {
		k = member_of(v->m.a[i].name, v->m.a[i].name_len);
		if (k < 0)
			return false;
		m[k] = &v->m.a[i].v;
		verb |= k < M_VERBS;
	}
	return verb;
}

/* Bind name (and optionally a value, stolen) as #<c><i> / :<c><i>. */
static int bind_one(struct val *names, struct val *values, char c, size_t i, const char *name,
		    size_t name_len, struct val *value)
{
	char key[32];
	struct val s;
	int n, rc;

	n = snprintf(key, sizeof(key), "#%c%zu", c, i);
	rc = val_init_str(&s, name, name_len);
	if (rc == 0)
		rc = val_map_set(names, key, (size_t)n, &s);
	if (rc == 0 && value) {
		key[0] = ':';
		rc = val_map_set(values, key, (size_t)n, value);
	}
	return rc;
}

/* One sugar clause ("set" and friends) into text and bindings. */
static int sugar_clause(struct ops_out *tb, struct val *names, struct val *values, int which,
			struct val *arg, struct dyn_err *err)
{
	static const char *const verbs[] = {[M_SET] = "SET", [M_ADD] = "ADD",
					    [M_REMOVE] = "REMOVE", [M_DELETE_FROM] = "DELETE"};
	const char *what = member_names[which];
	char c = what[0] == 'd' ? 'd' : what[0];
	bool list = which == M_REMOVE;
	size_t i, n;
	int rc;

	if (list ? arg->type != VAL_L : arg->type != VAL_M)
		return err_set(err, EINVAL, "\"%s\" needs %s", what,
			       list ? "a list of attribute names" : "an object of attribute names");
	n = list ? arg->l.len : arg->m.len;
	if (n == 0)
		return 0;
	ops_out_fmt(tb, "%s%s ", tb->len ? " " : "", verbs[which]);
	for (i = 0; i < n; i++) {
		const char *name;
		size_t len;

		if (list) {
			if (arg->l.v[i].type != VAL_S)
				return err_set(err, EINVAL, "\"remove\" needs a list of attribute "
							    "names (strings)");
			name = arg->l.v[i].s.p;
			len = arg->l.v[i].s.len;
		} else {
			name = arg->m.a[i].name;
			len = arg->m.a[i].name_len;
		}
		if (!len)
			return err_set(err, EINVAL, "\"%s\": an attribute name is empty", what);
		if (list && memchr(name, 0, len))
			return err_set(err, EINVAL, "\"remove\": an attribute name contains NUL");
		rc = bind_one(names, values, c, i, name, len, list ? NULL : &arg->m.a[i].v);
		if (rc < 0)
			return rc;
		if (which == M_SET)
			ops_out_fmt(tb, "%s#s%zu = :s%zu", i ? ", " : "", i, i);
		else if (list)
			ops_out_fmt(tb, "%s#r%zu", i ? ", " : "", i);
		else
			ops_out_fmt(tb, "%s#%c%zu :%c%zu", i ? ", " : "", c, i, c, i);
	}
	return tb->oom ? -ENOMEM : 0;
}

/* The sugar members of an update, compiled into r->update. */
static int parse_sugar(struct val *m[M_COUNT], struct ops_req *r, struct dyn_err *err)
{
	static const int order[] = {M_SET, M_REMOVE, M_ADD, M_DELETE_FROM};
	struct ops_out tb = {0};
	struct val names, values;
	struct expr_bind bind;
	size_t i;
	int rc = 0;

	val_init_map(&names);
	val_init_map(&values);
	for (i = 0; i < sizeof(order) / sizeof(order[0]) && rc == 0; i++)
		if (m[order[i]])
			rc = sugar_clause(&tb, &names, &values, order[i], m[order[i]], err);
	if (rc == 0 && tb.oom)
		rc = -ENOMEM;
	if (rc == 0 && tb.len) {
		bind.names = &names;
		bind.values = values.m.len ? &values : NULL;
		bind.flags = EXPR_UNLIMITED;
		rc = expr_parse_update(tb.p, tb.len, &bind, &r->update, err);
		if (rc < 0 && err)
			err->col = 0; /* a column of text the user never saw */
		err_reframe(err, "update: ");
	}
	free(tb.p);
	val_free(&names);
	val_free(&values);
	return rc;
}

/* Members allowed with each verb (bit i = member i). */
static unsigned allowed_with(int verb)
{
	unsigned common = 1u << M_IF | 1u << M_VALUES | 1u << M_NAMES | 1u << M_TABLE;

	if (verb == M_UPDATE)
		return common | 1u << M_UPDATE | 1u << M_SET | 1u << M_ADD | 1u << M_REMOVE |
		       1u << M_DELETE_FROM | 1u << M_EXPR;
	return common | 1u << verb;
}

/* Check the shape of the envelope; returns the verb or -EINVAL. */
static int envelope_verb(struct val *m[M_COUNT], enum ops_src src, struct dyn_err *err)
{
	int verb = -1, i;

	for (i = 0; i < M_VERBS; i++) {
		if (!m[i])
			continue;
		if (verb >= 0)
			return err_set(err, EINVAL,
				       "an operation has exactly one of put, delete, update, "
				       "check; this one has \"%s\" and \"%s\"",
				       member_names[verb], member_names[i]);
		verb = i;
	}
	if (verb == M_CHECK && src == OPS_SRC_LINE)
		return err_set(err, EINVAL, "\"check\" is only for transactions (/_tx)");
	for (i = 0; i < M_COUNT; i++)
		if (m[i] && !(allowed_with(verb) & (1u << i)))
			return err_set(err, EINVAL, "\"%s\" does not go with \"%s\"%s",
				       member_names[i], member_names[verb],
				       i == M_EXPR || i == M_SET || i == M_ADD || i == M_REMOVE ||
						       i == M_DELETE_FROM
					       ? " (only with \"update\")"
					       : "");
	if (m[M_EXPR] && (m[M_SET] || m[M_ADD] || m[M_REMOVE] || m[M_DELETE_FROM]))
		return err_set(err, EINVAL, "an update has either \"expr\" or "
					    "set/add/remove/delete_from, not both");
	if (verb == M_CHECK && !m[M_IF])
		return err_set(err, EINVAL, "\"check\" needs an \"if\" condition");
	if (src == OPS_SRC_TX && !m[M_TABLE])
		return err_set(err, EINVAL, "missing \"table\"");
	if (m[M_TABLE] && (m[M_TABLE]->type != VAL_S || !m[M_TABLE]->s.len))
		return err_set(err, EINVAL, "\"table\" must be a table name (a string)");
	if ((m[M_VALUES] && m[M_VALUES]->type != VAL_M) || (m[M_NAMES] && m[M_NAMES]->type != VAL_M))
		return err_set(err, EINVAL, "\"%s\" must be an object",
			       m[M_VALUES] && m[M_VALUES]->type != VAL_M ? "values" : "names");
	if (m[M_IF] && m[M_IF]->type != VAL_S)
		return err_set(err, EINVAL, "\"if\" must be a condition expression (a string)");
	if (m[M_EXPR] && m[M_EXPR]->type != VAL_S)
		return err_set(err, EINVAL, "\"expr\" must be an update expression (a string)");
	if (m[verb]->type != VAL_M)
		return err_set(err, EINVAL, "\"%s\" needs an object (%s)", member_names[verb],
			       verb == M_PUT ? "the item" : "the key");
	return verb;
}

/* "if" and "expr" with the user's bindings. */
static int parse_exprs(struct val *m[M_COUNT], struct ops_req *r, struct dyn_err *err)
{
	struct expr_bind bind = {.names = m[M_NAMES], .values = m[M_VALUES],
				 .flags = EXPR_BIND_SHARED};
	const expr_t *used[2];
	int rc;

	if (m[M_IF]) {
		r->cond_text = strndup(m[M_IF]->s.p, m[M_IF]->s.len);
		if (!r->cond_text)
			return -ENOMEM;
		rc = expr_parse_condition(m[M_IF]->s.p, m[M_IF]->s.len, &bind, &r->cond, err);
		if (rc < 0) {
			err_reframe(err, "if: ");
			return rc;
		}
	}
	if (m[M_EXPR]) {
		rc = expr_parse_update(m[M_EXPR]->s.p, m[M_EXPR]->s.len, &bind, &r->update, err);
		if (rc < 0) {
			err_reframe(err, "expr: ");
			return rc;
		}
	}
	if (!m[M_NAMES] && !m[M_VALUES])
		return 0;
	used[0] = r->cond;
	used[1] = r->update;
	return expr_check_unused(&bind, used, 2, err);
}

int ops_req_parse(struct val *v, enum ops_src src, struct ops_req *r, struct dyn_err *err)
{
	struct val *m[M_COUNT];
	int verb, rc;

	ops_req_init(r);
	if (v->type != VAL_M) {
		val_free(v);
		return err_set(err, EINVAL, "an operation must be a JSON object");
	}
	if (!envelope_members(v, m)) {
		if (src == OPS_SRC_TX) {
			val_free(v);
			return err_set(err, EINVAL,
				       "expected an operation: an object with \"table\" and one "
				       "of put, delete, update, check");
		}
		r->kind = OPS_PUT;
		val_move(&r->v, v);
		return 0;
	}
	verb = envelope_verb(m, src, err);
	if (verb < 0) {
		rc = verb;
		goto out;
	}
	r->kind = verb == M_PUT ? OPS_PUT : verb == M_DELETE ? OPS_DELETE
				       : verb == M_UPDATE ? OPS_UPDATE : OPS_CHECK;
	if (m[M_TABLE] && !(r->table = strndup(m[M_TABLE]->s.p, m[M_TABLE]->s.len))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = parse_exprs(m, r, err);
	if (rc == 0 && verb == M_UPDATE && !m[M_EXPR])
		rc = parse_sugar(m, r, err);
	if (rc == 0)
		val_move(&r->v, m[verb]);
out:
	val_free(v);
	if (rc < 0)
		ops_req_free(r);
	return rc;
}

/* Only spaces, tabs and CRs. */
static bool blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* The text is a tagged {"$M": {...}} at the top level (an M value, not
 * an object): the first member is "$M" and the result has no such one. */
static bool tagged_top(const char *p, size_t len, const struct val *v)
{
	const char *end = p + len;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p == end || *p++ != '{')
		return false;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return end - p >= 4 && !memcmp(p, "\"$M\"", 4) && !val_map_get(v, "$M", 2);
}

int ops_line_parse(const char *text, size_t len, struct ops_req *r, struct dyn_err *err)
{
	struct val v;
	int rc;

	if (blank(text, len))
		return 1;
	rc = item_parse_value(text, len, &v, err);
	if (rc < 0) {
		err_reframe(err, "");
		return rc;
	}
	if (v.type != VAL_M || tagged_top(text, len, &v)) {
		val_free(&v);
		return err_set(err, EINVAL, "each line must be a JSON object: an item, or an "
					    "operation such as {\"delete\": KEY}");
	}
	rc = ops_req_parse(&v, OPS_SRC_LINE, r, err);
	if (rc == 0 && r->kind == OPS_PUT)
		r->parsed = true; /* straight from item_parse_value: ops_req_bind */
	return rc;
}

/* The object's own text in a line: no blanks around it (no BOM before it). */
static bool object_text(const char *text, size_t len, size_t *s, size_t *e)
{
	*s = 0;
	*e = len;
	while (*s < *e && (text[*s] == ' ' || text[*s] == '\t' || text[*s] == '\r'))
		(*s)++;
	while (*e > *s && (text[*e - 1] == ' ' || text[*e - 1] == '\t' || text[*e - 1] == '\r'))
		(*e)--;
	return *s < *e && text[*s] == '{' && text[*e - 1] == '}';
}

int ops_line_parse_arena(const char *text, size_t len, struct item_arena *a, struct ops_req *r,
			 struct dyn_err *err)
{
	struct val *m[M_COUNT];
	struct val v;
	size_t s, e;
	char *copy;

	if (!a)
		return ops_line_parse(text, len, r, err);
	if (blank(text, len))
		return 1;
	/* the common line of a bulk import: a bare item, no value allocated */
	if (item_parse_value_arena(text, len, a, &v, NULL) == 0 && v.type == VAL_M &&
	    !tagged_top(text, len, &v) && !envelope_members(&v, m)) {
		ops_req_init(r);
		r->kind = OPS_PUT;
		r->v = v;
		r->parsed = true;
		r->arena = true;
		/* the object's own text (no blanks around it, no BOM before
		 * it), kept with it: the journal writes it as it is */
		if (object_text(text, len, &s, &e) && (copy = item_arena_alloc(a, e - s))) {
			memcpy(copy, text + s, e - s);
			r->text = copy;
			r->text_len = e - s;
		}
		return 0;
	}
	return ops_line_parse(text, len, r, err);
}

/* The longest line text journaled for an item of this size (else the
 * item is rendered): 100 lines of 400 KB items stay under 160 MB. */
#define TEXT_MAX(size) (4 * (size_t)(size) + 1024)

/* A string value's copy in the arena (NUL-terminated, as struct val's). */
static int arena_val(struct item_arena *a, const struct val *v, struct val *out)
{
	*out = *v;
	if (v->type != VAL_S)
		return 0;
	out->s.p = item_arena_alloc(a, v->s.len + 1);
	if (!out->s.p)
		return -ENOMEM;
	memcpy(out->s.p, v->s.p, v->s.len + 1);
	return 0;
}

int ops_line_parse_stored(const char *text, size_t len, struct item_arena *a,
			  struct item_stored *st, const struct key_attr *ka,
			  const struct key_attr *kb, const struct table_schema *ix,
			  struct ops_req *r)
{
	struct val_attr at[2 + ITEM_STORED_CAP], x, *m;
	size_t s, e, n = 0, i, j;
	uint8_t *blob;
	char *copy;

	/* an envelope holds envelope members only: the key rules it out */
	if (!object_text(text, len, &s, &e) || member_of(ka->name, strlen(ka->name)) >= 0 ||
	    item_parse_stored(text + s, e - s, ka->name, kb ? kb->name : NULL, st) != 0 ||
	    e - s > TEXT_MAX(st->size))
		return 1;
	at[n++] = (struct val_attr){(char *)ka->name, strlen(ka->name), st->pk};
	if (kb)
		at[n++] = (struct val_attr){(char *)kb->name, strlen(kb->name), st->sk};
	for (i = 0; i < st->ncap; i++)
		if (st->cap[i].type != VAL_NULL)
			at[n++] = (struct val_attr){(char *)st->cap_names[i],
						    strlen(st->cap_names[i]), st->cap[i]};
	for (i = 1; i < n; i++) { /* in name order, as a map holds them */
		x = at[i];
		for (j = i; j > 0 && val_name_cmp(at[j - 1].name, at[j - 1].name_len, x.name,
						   x.name_len) > 0;
		     j--)
			at[j] = at[j - 1];
		at[j] = x;
	}
	m = item_arena_alloc(a, n * sizeof(*m));
	copy = item_arena_alloc(a, e - s);
	if (!m || !copy)
		return 1;
	for (i = 0; i < n; i++) {
		m[i] = at[i];
		if (arena_val(a, &at[i].v, &m[i].v) < 0)
			return 1;
	}
	memcpy(copy, text + s, e - s);
	ops_req_init(r);
	/* the record itself, which db_apply takes as it is (db.h
	 * db_stored_rec): its fresh memory is touched here, by whichever
	 * thread parses (the helper's, parsing ahead), not by the writer;
	 * without memory for it, a copy in the arena as before */
	if (db_stored_rec(&r->stored, &st->pk, kb ? &st->sk : NULL, st->blob, st->blob_len,
			  st->size) < 0) {
		blob = item_arena_alloc(a, st->blob_len);
		if (!blob)
			return 1;
		memcpy(blob, st->blob, st->blob_len);
		r->stored.blob = blob;
		r->stored.blob_len = st->blob_len;
	}
	r->kind = OPS_PUT;
	val_init_map(&r->v);
	r->v.m.a = m;
	r->v.m.len = r->v.m.cap = n;
	r->parsed = true;
	r->arena = true;
	r->text = copy;
	r->text_len = e - s;
	if (ix) /* and its index entries (db.h db_stored_ents) */
		db_stored_ents(&r->stored, ix, &r->v);
	r->stored.attrs = st->cap_names;
	r->stored.nattrs = st->ncap;
	r->stored.ka = ka;
	r->stored.kb = kb;
	r->size = st->size;
	return 0;
}

bool ops_json_incomplete(const char *p, size_t len)
{
	bool in_str = false, esc = false, any = false;
	size_t i, depth = 0;

	for (i = 0; i < len; i++) {
		char c = p[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = any = true;
			break;
		case '{':
		case '[':
			depth++;
			any = true;
			break;
		case '}':
		case ']':
			if (depth)
				depth--;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			any = true;
		}
	}
	return in_str || depth > 0 || !any;
}

/* ---- binding to a table ---- */

/* KEY objects hold exactly the key attributes. */
static int key_from_map(const char *tname, const struct key_attr *ka, const struct key_attr *kb,
			const struct val *m, const struct val **pk, const struct val **sk,
			struct dyn_err *err)
{
	size_t i;
	int rc;

	*pk = val_map_get(m, ka->name, strlen(ka->name));
	*sk = kb ? val_map_get(m, kb->name, strlen(kb->name)) : NULL;
	rc = key_check(ka, *pk, false, err);
	if (rc == 0 && kb)
		rc = key_check(kb, *sk, true, err);
	if (rc < 0)
		return rc;
	if (m->m.len == (kb ? 2u : 1u))
		return 0;
	for (i = 0; i < m->m.len; i++)
		if (&m->m.a[i].v != *pk && &m->m.a[i].v != *sk)
			break;
	return err_set(err, EINVAL,
		       "The provided key element does not match the schema: the key of %s is "
		       "%s%s%s, and \"%s\" is not a key attribute",
		       tname, ka->name, kb ? " + " : "", kb ? kb->name : "",
		       i < m->m.len ? m->m.a[i].name : "?");
}

/* The key of an item to put (db.h's tbl_item_key, by key attributes). */
static int key_of_item(const struct key_attr *ka, const struct key_attr *kb,
		       const struct val *item, const struct val **pk, const struct val **sk,
		       struct dyn_err *err)
{
	int rc;

	if (!item || item->type != VAL_M)
		return err_set(err, EINVAL, "an item must be a map of attributes");
	*pk = val_map_get(item, ka->name, strlen(ka->name));
	*sk = kb ? val_map_get(item, kb->name, strlen(kb->name)) : NULL;
	rc = key_check(ka, *pk, false, err);
	if (rc == 0 && kb)
		rc = key_check(kb, *sk, true, err);
	return rc;
}

int ops_req_bind(struct ops_req *r, const struct ops_sink *s, void *table,
		 const struct key_attr *ka, const struct key_attr *kb, struct ops_write *w,
		 struct dyn_err *err)
{
	const char *tname = s->name(s->ctx, table);
	const struct val *pk = NULL, *sk = NULL;
	int rc;

	memset(w, 0, sizeof(*w));
	if (r->kind == OPS_PUT && r->stored.blob && r->stored.ka) {
		/* a stored put's partial item holds the key attributes it was
		 * parsed with, which db_apply checks against the table's */
		ka = r->stored.ka;
		kb = r->stored.kb;
	}
	if (r->table && strcmp(r->table, tname))
		return err_set(err, EINVAL, "\"table\" is %s, but this is table %s", r->table,
			       tname);
	if (r->kind == OPS_PUT)
		rc = key_of_item(ka, kb, &r->v, &pk, &sk, err);
	else
		rc = key_from_map(tname, ka, kb, &r->v, &pk, &sk, err);
	if (rc == 0 && r->kind == OPS_UPDATE)
		rc = ops_check_update_key_attrs(ka, kb, r->update, err);
	if (rc < 0)
		return rc;
	/* A parsed item is valid by construction but for its size
	 * (item_parse.c): check that here, and db_apply skips item_check. */
	if (r->kind == OPS_PUT && r->parsed) {
		size_t size = r->stored.blob ? r->size : item_size(&r->v);

		if (size > ITEM_MAX_SIZE)
			return err_set(err, EFBIG, "item is %zu bytes, over DynamoDB's 400 KB limit",
				       size);
		w->checked = true;
		w->size = size;
	}
	w->kind = r->kind;
	w->table = table;
	w->ka = ka; /* the apply refuses a key read by names no longer the table's */
	w->kb = kb;
	w->pk = pk;
	w->sk = sk;
	w->update = r->update;
	w->cond = r->cond;
	w->cond_text = r->cond_text;
	if (r->kind == OPS_PUT) {
		w->item = &r->v;
		/* The line's own text for the journal, unless it is padded far
		 * beyond its item: a group's record must stay well within
		 * JOURNAL_MAX_PAYLOAD (an 8 MiB line may hold a 1 KB item) */
		if (r->text && w->checked && r->text_len <= TEXT_MAX(w->size)) {
			w->item_text = r->text;
			w->item_text_len = r->text_len;
		}
		/* a partial item goes only where the line is journaled */
		if (r->stored.blob && (!w->item_text || !s->stored_attrs))
			return err_set(err, EINVAL, "a stored put needs its text and a sink for it");
		w->stored = r->stored.blob ? &r->stored : NULL;
	}
	return 0;
}
