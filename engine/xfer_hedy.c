/*
 * xfer_hedy.c - Hedy's dev_database.json values (xfer.h: xfer_hedy_parse,
 * xfer_hedy_render).
 *
 * Hedy's local database emulation (MemoryStorage in Hedy's website/
 * dynamo.py) saves its tables with Python's json.dump(indent=2) and a set
 * encoder that writes a set as {"$type": "set", "elements": [...]}; it
 * loads them with json.load and an object hook that turns every object
 * whose "$type" is "set" into set(elements).  The reader here gives the
 * values Hedy gets:
 *
 *   - a repeated member name keeps its last value (Python's dict), with a
 *     warning, since the earlier value is silently lost in Hedy;
 *   - any object with "$type": "set" is a set, whatever else it holds
 *     (other members ignored, with a warning); repeated elements count
 *     once; an empty set is dropped from its map (DynamoDB cannot store
 *     one) with a warning, and is an error inside a list;
 *   - every other object is a plain map: "$B", "$M" and the document
 *     form's other tags mean nothing to Hedy, so they mean nothing here.
 *
 * The writer produces Python's json.dump(indent=2) layout and refuses
 * what Hedy's loader would turn into something else: binary values and
 * sets (Python has no such JSON type) and maps holding "$type": "set".
 */
#include "xfer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

/* The longest integer written out digit by digit (DynamoDB's largest is 126). */
#define NUM_MAX_EXP_DIGITS 130

/* State of one item's conversion. */
struct hedy_rd {
	const char *where;	   /* start of the value being converted (errors) */
	const struct xfer_warn *w; /* warnings, or NULL */
	const char *what;	   /* table name, for warnings */
	uint64_t record;	   /* record index in its table, for warnings */
	char path[256];		   /* attribute path of the value being converted */
	size_t plen;		   /* used bytes of path */
};

static void hedy_warn(struct hedy_rd *rd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void hedy_warn(struct hedy_rd *rd, const char *fmt, ...)
{
	char msg[512], line[900];
	va_list ap;

	if (!rd->w || !rd->w->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s[%llu]%s%s: %s", rd->what ? rd->what : "item",
		 (unsigned long long)rd->record, rd->plen ? "." : "", rd->path, msg);
	rd->w->fn(rd->w->ctx, line);
}

/* Push ".name" or "[i]" on the path; returns the old length, to pop. */
static size_t path_push(struct hedy_rd *rd, const char *name, size_t len, long idx)
{
	size_t old = rd->plen, room = sizeof(rd->path) - rd->plen;
	int n;

	if (name)
		n = snprintf(rd->path + rd->plen, room, "%s%.*s", rd->plen ? "." : "", (int)len,
			     name);
	else
		n = snprintf(rd->path + rd->plen, room, "[%ld]", idx);
	if (n > 0)
		rd->plen = (size_t)n < room ? rd->plen + (size_t)n : sizeof(rd->path) - 1;
	return old;
}

static void path_pop(struct hedy_rd *rd, size_t old)
{
	rd->plen = old;
	rd->path[old] = 0;
}

static int hedy_conv(struct sf_span v, struct val *out, int depth, struct hedy_rd *rd,
		     struct dyn_err *err);

static int hedy_fail(struct hedy_rd *rd, struct sf_span v, struct dyn_err *err, const char *msg)
{
	rd->where = v.p;
	return err_set(err, EINVAL, "%s", msg);
}

/* set(elements) -> SS/NS; 1 if the set is empty. */
static int hedy_set(struct sf_span elems, struct val *out, struct hedy_rd *rd,
		    struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span x;
	struct val e;
	bool init = false;
	int rc;

	if (sf_arr_open(&it, elems) < 0)
		return hedy_fail(rd, elems, err, "set elements must be a JSON array");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		rd->where = x.p;
		if (x.p[0] != '"' && x.p[0] != '-' && (x.p[0] < '0' || x.p[0] > '9')) {
			rc = err_set(err, EINVAL, "set elements must be strings or numbers "
						  "(DynamoDB's string and number sets)");
			goto out_free;
		}
		rc = item_parse_value(x.p, x.len, &e, err);
		if (rc < 0)
			goto out_free;
		if (!init) {
			val_init_set(out, e.type == VAL_S ? VAL_SS : VAL_NS);
			init = true;
		}
		rc = val_set_add(out, &e);
		if (rc < 0) {
			rc = err_set(err, EINVAL, "a set mixes strings and numbers (DynamoDB's sets "
						  "hold one type)");
			goto out_free;
		}
		if (rc == 0)
			hedy_warn(rd, "set element %.*s appears more than once; kept once (a "
				      "set, as Hedy reads it)",
				  (int)(x.len > 60 ? 60 : x.len), x.p);
	}
	if (rc < 0) {
		rc = hedy_fail(rd, elems, err, "malformed set elements");
		goto out_free;
	}
	return init ? 0 : 1;
out_free:
	if (init)
		val_free(out);
	return rc;
}

/* Members of the object v into the map out: the last of a repeated name wins. */
static int hedy_members(struct sf_span v, struct val *out, int depth, struct hedy_rd *rd,
			struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	struct val e;
	size_t len, old;
	bool again;
	char *name;
	int rc;

	sf_obj_open(&it, v);
	val_init_map(out);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		rd->where = k.p;
		rc = sf_span_str(k, &name, &len, err);
		if (rc < 0)
			goto out_free;
		old = path_push(rd, name, len, 0);
		again = val_map_get(out, name, len) != NULL;
		if (again)
			hedy_warn(rd, "attribute repeated in the same object; the last value is "
				      "kept (as Hedy's json.load does)");
		rc = hedy_conv(x, &e, depth + 1, rd, err);
		if (rc == 0) {
			rc = val_map_set(out, name, len, &e);
		} else if (rc == 1) {
			/* Hedy holds an empty set here; DynamoDB cannot */
			hedy_warn(rd, "empty set dropped (DynamoDB stores no empty sets; Hedy's "
				      "code reads a missing set as empty)");
			val_map_remove(out, name, len);
			rc = 0;
		}
		if (rc < 0)
			err_path(err, rd->path);
		path_pop(rd, old);
		free(name);
		if (rc < 0)
			goto out_free;
	}
	if (rc == 0)
		return 0;
	rc = hedy_fail(rd, v, err, "malformed JSON object");
out_free:
	val_free(out);
	return rc;
}

/*
 * One JSON value of a Hedy file.  An object is looked at before it is
 * converted: if its (last) "$type" member is the string "set" it is a set
 * of its (last) "elements"; otherwise a map, member by member.  Returns 1
 * for an empty set (removed by the caller).
 */
static int hedy_conv(struct sf_span v, struct val *out, int depth, struct hedy_rd *rd,
		     struct dyn_err *err)
{
	struct sf_span k, x, type = {NULL, 0}, elems = {NULL, 0};
	struct sf_iter it;
	struct val e;
	size_t old;
	long i = 0;
	int rc, n = 0;

	if (depth > ITEM_MAX_DEPTH + 1)
		return hedy_fail(rd, v, err, "nesting too deep");
	if (v.p[0] == '[') {
		if (sf_arr_open(&it, v) < 0)
			return hedy_fail(rd, v, err, "malformed JSON array");
		val_init_list(out);
		while ((rc = sf_arr_next(&it, &x)) > 0) {
			old = path_push(rd, NULL, 0, i++);
			rc = hedy_conv(x, &e, depth + 1, rd, err);
			if (rc == 1)
				rc = hedy_fail(rd, x, err, "an empty set inside a list (DynamoDB "
							   "cannot store it)");
			if (rc == 0)
				rc = val_list_append(out, &e);
			path_pop(rd, old);
			if (rc < 0)
				break;
		}
		if (rc < 0) {
			if (!err || !err->code)
				rc = hedy_fail(rd, v, err, "malformed JSON array");
			val_free(out);
		}
		return rc;
	}
	if (v.p[0] != '{') {
		rd->where = v.p;
		return item_parse_value(v.p, v.len, out, err);
	}
	if (sf_obj_open(&it, v) < 0)
		return hedy_fail(rd, v, err, "malformed JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		n++;
		if (sf_key_is(k, "$type"))
			type = x;
		else if (sf_key_is(k, "elements"))
			elems = x;
	}
	if (rc < 0)
		return hedy_fail(rd, v, err, "malformed JSON object");
	if (!type.p || type.len != 5 || memcmp(type.p, "\"set\"", 5))
		return hedy_members(v, out, depth, rd, err);
	if (!elems.p)
		return hedy_fail(rd, v, err, "a {\"$type\": \"set\"} object without \"elements\" "
					     "(Hedy's loader fails on it too)");
	if (n > 2)
		hedy_warn(rd, "members of a {\"$type\": \"set\"} object other than \"elements\" "
			      "are ignored (as Hedy's loader does)");
	return hedy_set(elems, out, rd, err);
}

int xfer_hedy_parse(const char *text, size_t len, struct val *item, const char **where,
		    const struct xfer_warn *w, const char *what, uint64_t record,
		    struct dyn_err *err)
{
	struct hedy_rd rd = {text, w, what, record, "", 0};
	struct sf_span v;
	int rc;

	if (sf_whole(text, len, &v) < 0 || v.p[0] != '{') {
		*where = text;
		return err_set(err, EINVAL, "an item must be a JSON object");
	}
	rc = hedy_conv(v, item, 0, &rd, err);
	if (rc == 1) {
		rc = err_set(err, EINVAL, "the item is a set, not an object");
	} else if (rc == 0 && item->type != VAL_M) {
		val_free(item);
		rc = err_set(err, EINVAL, "the item is a set, not an object");
	} else if (rc == 0) {
		rc = item_check(item, err);
		if (rc < 0)
			val_free(item);
	}
	*where = rc < 0 ? rd.where : NULL;
	return rc;
}

static int indent(struct sf_buf *b, int level)
{
	if (sf_buf_addc(b, '\n') < 0 || sf_buf_grow(b, (size_t)level * 2) < 0)
		return -ENOMEM;
	memset(b->p + b->len, ' ', (size_t)level * 2);
	b->len += (size_t)level * 2;
	b->p[b->len] = 0;
	return 0;
}

/*
 * A number as Python's json reads back the same value: an integer as all
 * its digits (1.2e+22 would become a float and lose digits), anything
 * else in the canonical form (Python reads it as the nearest float, as it
 * read the original).
 */
static int hedy_num(struct sf_buf *b, const struct num *n)
{
	int i;

	if (n->ndigits == 0 || n->exp < n->ndigits || n->exp > NUM_MAX_EXP_DIGITS)
		return sf_num(b, n, false);
	if (sf_buf_grow(b, (size_t)n->exp + 2) < 0)
		return -ENOMEM;
	if (n->neg)
		b->p[b->len++] = '-';
	for (i = 0; i < n->exp; i++)
		b->p[b->len++] = (char)('0' + (i < n->ndigits ? n->digit[i] : 0));
	b->p[b->len] = 0;
	return 0;
}

/* Would Hedy's loader read this map back as a set? */
static bool hedy_set_shaped(const struct val *m)
{
	const struct val *t = val_map_get(m, "$type", 5);

	return t && t->type == VAL_S && t->s.len == 3 && !memcmp(t->s.p, "set", 3);
}

/* A map's body in Python json.dump(indent=2) layout; keys first. */
static int hedy_map(struct sf_buf *b, const struct val *m, int level, const char *pk,
		    const char *sk, struct dyn_err *err)
{
	const struct val_attr *order[2] = {NULL, NULL};
	size_t i, k, n = 0;
	int rc;

	if (hedy_set_shaped(m))
		return err_set(err, EINVAL, "a map with \"$type\": \"set\": Hedy's loader would "
					    "read it as a set");
	if (m->m.len == 0)
		return sf_buf_adds(b, "{}");
	for (i = 0; i < m->m.len; i++) {
		if (pk && !strcmp(m->m.a[i].name, pk))
			order[0] = &m->m.a[i];
		else if (sk && !strcmp(m->m.a[i].name, sk))
			order[1] = &m->m.a[i];
	}
	if (sf_buf_addc(b, '{') < 0)
		return -ENOMEM;
	for (k = 0; k < 2 + m->m.len; k++) {
		const struct val_attr *a = k < 2 ? order[k] : &m->m.a[k - 2];

		if (!a || (k >= 2 && (a == order[0] || a == order[1])))
			continue;
		if ((n++ && sf_buf_addc(b, ',') < 0) || indent(b, level + 1) < 0 ||
		    sf_json_str(b, a->name, a->name_len) < 0 || sf_buf_adds(b, ": ") < 0)
			return -ENOMEM;
		rc = xfer_hedy_render(b, &a->v, level + 1, NULL, NULL, err);
		if (rc < 0) {
			err_path(err, a->name);
			return rc;
		}
	}
	if (indent(b, level) < 0)
		return -ENOMEM;
	return sf_buf_addc(b, '}');
}

int xfer_hedy_render(struct sf_buf *b, const struct val *v, int level, const char *pk,
		     const char *sk, struct dyn_err *err)
{
	size_t i;
	int rc;

	switch (v->type) {
	case VAL_NULL:
		return sf_buf_adds(b, "null");
	case VAL_BOOL:
		return sf_buf_adds(b, v->b ? "true" : "false");
	case VAL_S:
		return sf_json_str(b, v->s.p, v->s.len);
	case VAL_N:
		return hedy_num(b, &v->n);
	case VAL_B:
	case VAL_BS:
		return err_set(err, EINVAL, "a binary value: Hedy's dev_database.json has no "
					    "binary type (export it with --format jsonl or "
					    "dynamodb)");
	case VAL_M:
		return hedy_map(b, v, level, pk, sk, err);
	case VAL_L:
		if (v->l.len == 0)
			return sf_buf_adds(b, "[]");
		if (sf_buf_addc(b, '[') < 0)
			return -ENOMEM;
		for (i = 0; i < v->l.len; i++) {
			if ((i && sf_buf_addc(b, ',') < 0) || indent(b, level + 1) < 0)
				return -ENOMEM;
			rc = xfer_hedy_render(b, &v->l.v[i], level + 1, NULL, NULL, err);
			if (rc < 0)
				return rc;
		}
		if (indent(b, level) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, ']');
	default: /* SS, NS: Hedy's set encoding */
		if (sf_buf_addc(b, '{') < 0 || indent(b, level + 1) < 0 ||
		    sf_buf_adds(b, "\"$type\": \"set\",") < 0 || indent(b, level + 1) < 0 ||
		    sf_buf_adds(b, "\"elements\": [") < 0)
			return -ENOMEM;
		for (i = 0; i < v->l.len; i++) {
			if ((i && sf_buf_addc(b, ',') < 0) || indent(b, level + 2) < 0)
				return -ENOMEM;
			rc = xfer_hedy_render(b, &v->l.v[i], level + 2, NULL, NULL, err);
			if (rc < 0)
				return rc;
		}
		if (indent(b, level + 1) < 0 || sf_buf_addc(b, ']') < 0 || indent(b, level) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, '}');
	}
}
