/*
 * xfer_hedy.c - Hedy's dev_database.json values (xfer.h: xfer_hedy_parse,
 * xfer_hedy_render).
 *
 * Hedy's local database emulation writes plain JSON with sets as
 * {"$type": "set", "elements": [...]} (Python's json.dump, indent=2).  The
 * reader looks at each object before parsing it, so that Hedy's sets, the
 * document form's tags ({"$B": ...}) and literal maps protected as
 * {"$M": {...}} are told apart; the writer produces the same layout as
 * Python's json.dump(indent=2), wrapping in "$M" any map that would
 * otherwise be read back as something else.
 */
#include "xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

/* Is m a map shaped like Hedy's set encoding?  Then it needs "$M" on export. */
static bool hedy_set_shaped(const struct val *m)
{
	struct val *t, *e;

	if (m->type != VAL_M || m->m.len != 2)
		return false;
	t = val_map_get(m, "$type", 5);
	e = val_map_get(m, "elements", 8);
	return t && e && t->type == VAL_S && t->s.len == 3 && !memcmp(t->s.p, "set", 3) &&
	       e->type == VAL_L;
}

/* Where a Hedy conversion failed: the span whose parse set err. */
struct hedy_pos {
	const char *where; /* start of the offending value */
};

static int hedy_conv(struct sf_span v, struct val *out, int depth, struct hedy_pos *pos,
		     struct dyn_err *err);

static int hedy_fail(struct hedy_pos *pos, struct sf_span v, struct dyn_err *err, const char *msg)
{
	pos->where = v.p;
	return err_set(err, EINVAL, "%s", msg);
}

/* {"$type": "set", "elements": [...]} -> SS/NS/BS; 1 if the set is empty. */
static int hedy_set(struct sf_span elems, struct val *out, struct hedy_pos *pos,
		    struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span x;
	struct val e;
	bool init = false;
	int rc;

	if (sf_arr_open(&it, elems) < 0)
		return hedy_fail(pos, elems, err, "set elements must be a JSON array");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		pos->where = x.p;
		rc = item_parse_value(x.p, x.len, &e, err);
		if (rc < 0)
			goto out_free;
		if (!init) {
			if (e.type != VAL_S && e.type != VAL_N && e.type != VAL_B) {
				val_free(&e);
				rc = err_set(err, EINVAL, "set elements must be strings, numbers or "
							  "binary");
				goto out_free;
			}
			val_init_set(out, e.type == VAL_S ? VAL_SS : e.type == VAL_N ? VAL_NS : VAL_BS);
			init = true;
		}
		rc = val_set_add(out, &e);
		if (rc <= 0) {
			rc = rc < 0 ? err_set(err, EINVAL, "a set mixes element types")
				    : err_set(err, EINVAL, "duplicate set element");
			goto out_free;
		}
	}
	if (rc < 0) {
		rc = hedy_fail(pos, elems, err, "malformed set elements");
		goto out_free;
	}
	return init ? 0 : 1;
out_free:
	if (init)
		val_free(out);
	return rc;
}

/* Members of the object v into the map out; empty sets are dropped. */
static int hedy_members(struct sf_span v, struct val *out, int depth, struct hedy_pos *pos,
			struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	struct val e;
	size_t len;
	char *name;
	int rc;

	sf_obj_open(&it, v);
	val_init_map(out);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		pos->where = k.p;
		rc = sf_span_str(k, &name, &len, err);
		if (rc < 0)
			goto out_free;
		if (val_map_get(out, name, len)) {
			rc = err_set(err, EINVAL, "duplicate attribute \"%s\"", name);
		} else {
			rc = hedy_conv(x, &e, depth + 1, pos, err);
			if (rc == 0)
				rc = val_map_set(out, name, len, &e);
			else if (rc == 1)
				rc = 0; /* DynamoDB drops a set that becomes empty */
			if (rc < 0)
				err_path(err, name);
		}
		free(name);
		if (rc < 0)
			goto out_free;
	}
	if (rc == 0)
		return 0;
	rc = hedy_fail(pos, v, err, "malformed JSON object");
out_free:
	val_free(out);
	return rc;
}

/*
 * One JSON value of a Hedy file.  Objects are looked at before they are
 * parsed: Hedy's set encoding becomes a set, {"$M": {...}} is a map taken
 * literally (how export protects maps that look like tags or sets), other
 * document-form tags ({"$B": ...}, {"$N": ...}, {"$SS": ...}) go to the
 * item codec, and anything else is a map converted member by member.
 * Returns 1 for an empty set (removed by the caller).
 */
static int hedy_conv(struct sf_span v, struct val *out, int depth, struct hedy_pos *pos,
		     struct dyn_err *err)
{
	struct sf_span k, x, k2, x2, type = {NULL, 0}, elems = {NULL, 0};
	struct sf_iter it;
	struct val e;
	int rc, n = 0;

	if (depth > ITEM_MAX_DEPTH + 1)
		return hedy_fail(pos, v, err, "nesting too deep");
	if (v.p[0] == '[') {
		if (sf_arr_open(&it, v) < 0)
			return hedy_fail(pos, v, err, "malformed JSON array");
		val_init_list(out);
		while ((rc = sf_arr_next(&it, &x)) > 0) {
			rc = hedy_conv(x, &e, depth + 1, pos, err);
			if (rc == 1)
				rc = hedy_fail(pos, x, err, "an empty set inside a list");
			if (rc == 0)
				rc = val_list_append(out, &e);
			if (rc < 0)
				break;
		}
		if (rc < 0) {
			if (!err || !err->code)
				rc = hedy_fail(pos, v, err, "malformed JSON array");
			val_free(out);
		}
		return rc;
	}
	if (v.p[0] != '{') {
		pos->where = v.p;
		return item_parse_value(v.p, v.len, out, err);
	}
	if (sf_obj_open(&it, v) < 0)
		return hedy_fail(pos, v, err, "malformed JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0 && n < 3) {
		if (n++ == 0)
			k2 = k, x2 = x;
		if (sf_key_is(k, "$type"))
			type = x;
		else if (sf_key_is(k, "elements"))
			elems = x;
	}
	if (n == 2 && type.p && elems.p && type.len == 5 && !memcmp(type.p, "\"set\"", 5))
		return hedy_set(elems, out, pos, err);
	if (n == 1 && sf_key_is(k2, "$M")) {
		if (sf_obj_open(&it, x2) < 0)
			return hedy_fail(pos, x2, err, "\"$M\" must hold an object");
		return hedy_members(x2, out, depth, pos, err);
	}
	if (n == 1 && k2.len > 2 && k2.p[1] == '$') {
		pos->where = v.p;
		return item_parse_value(v.p, v.len, out, err);
	}
	return hedy_members(v, out, depth, pos, err);
}

int xfer_hedy_parse(const char *text, size_t len, struct val *item, const char **where,
		    struct dyn_err *err)
{
	struct hedy_pos pos = {text};
	struct sf_span v;
	int rc;

	if (sf_whole(text, len, &v) < 0 || v.p[0] != '{') {
		*where = text;
		return err_set(err, EINVAL, "an item must be a JSON object");
	}
	rc = hedy_conv(v, item, 0, &pos, err);
	if (rc == 1) {
		rc = err_set(err, EINVAL, "the item is an empty set");
	} else if (rc == 0) {
		rc = item_check(item, err);
		if (rc < 0)
			val_free(item);
	}
	*where = rc < 0 ? pos.where : NULL;
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


/* A map's body in Python json.dump(indent=2) layout; keys first. */
static int hedy_map(struct sf_buf *b, const struct val *m, int level, const char *pk,
		    const char *sk)
{
	const struct val_attr *order[2] = {NULL, NULL};
	size_t i, k, n = 0;
	int rc;

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
		rc = xfer_hedy_render(b, &a->v, level + 1, NULL, NULL);
		if (rc < 0)
			return rc;
	}
	if (indent(b, level) < 0)
		return -ENOMEM;
	return sf_buf_addc(b, '}');
}

/* Would this map be read back as something else?  Then it is wrapped in $M. */
static bool hedy_map_ambiguous(const struct val *m)
{
	static const char *const tags[] = {"$N", "$B", "$SS", "$NS", "$BS", "$M"};
	size_t i;

	if (hedy_set_shaped(m))
		return true;
	if (m->m.len != 1)
		return false;
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!strcmp(m->m.a[0].name, tags[i]))
			return true;
	return false;
}

int xfer_hedy_render(struct sf_buf *b, const struct val *v, int level, const char *pk,
		      const char *sk)
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
		return sf_num(b, &v->n, false);
	case VAL_B:
		if (sf_buf_adds(b, "{\"$B\": ") < 0 || sf_b64(b, v->s.p, v->s.len) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, '}');
	case VAL_M:
		if (!hedy_map_ambiguous(v))
			return hedy_map(b, v, level, pk, sk);
		if (sf_buf_addc(b, '{') < 0 || indent(b, level + 1) < 0 ||
		    sf_buf_adds(b, "\"$M\": ") < 0 || hedy_map(b, v, level + 1, NULL, NULL) < 0 ||
		    indent(b, level) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, '}');
	case VAL_L:
		if (v->l.len == 0)
			return sf_buf_adds(b, "[]");
		if (sf_buf_addc(b, '[') < 0)
			return -ENOMEM;
		for (i = 0; i < v->l.len; i++) {
			if ((i && sf_buf_addc(b, ',') < 0) || indent(b, level + 1) < 0)
				return -ENOMEM;
			rc = xfer_hedy_render(b, &v->l.v[i], level + 1, NULL, NULL);
			if (rc < 0)
				return rc;
		}
		if (indent(b, level) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, ']');
	default: /* sets, Hedy's way */
		if (sf_buf_addc(b, '{') < 0 || indent(b, level + 1) < 0 ||
		    sf_buf_adds(b, "\"$type\": \"set\",") < 0 || indent(b, level + 1) < 0 ||
		    sf_buf_adds(b, "\"elements\": [") < 0)
			return -ENOMEM;
		for (i = 0; i < v->l.len; i++) {
			if ((i && sf_buf_addc(b, ',') < 0) || indent(b, level + 2) < 0)
				return -ENOMEM;
			rc = xfer_hedy_render(b, &v->l.v[i], level + 2, NULL, NULL);
			if (rc < 0)
				return rc;
		}
		if (indent(b, level + 1) < 0 || sf_buf_addc(b, ']') < 0 || indent(b, level) < 0)
			return -ENOMEM;
		return sf_buf_addc(b, '}');
	}
}
