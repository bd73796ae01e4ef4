/*
 * ddbjson.c - the DynamoDB JSON codec (ddbjson.h): AttributeValues
 * ({"S": "x"}, {"N": "12.5"}, {"L": [...]}, {"M": {...}}, ...) to and from
 * struct val.  The one codec for this wire format: import/export
 * (xfer_ddb.c) and the DynamoDB API front end (api/) both use it.
 *
 * Values are converted straight to struct val with the span scanner:
 * strings through the item codec (escapes, UTF-8), numbers with num_parse
 * from the exact digits of their string form, binary with b64_decode.  No
 * intermediate JSON tree, and nothing goes through a double.
 */
#include "ddbjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

static int ddb_value(struct sf_span v, struct val *out, int depth, struct dyn_err *err);

static int ddb_string(struct sf_span v, struct val *out, enum val_type t, struct dyn_err *err)
{
	struct num n;
	uint8_t *bin;
	size_t len;
	char *s;
	int rc;

	rc = sf_span_str(v, &s, &len, err);
	if (rc < 0)
		return rc == -ENOMEM ? rc
				     : err_set(err, EINVAL, "%s value must be a JSON string",
					       val_type_name(t));
	switch (t) {
	case VAL_S:
		val_init_str_take(out, s, len); /* sf_span_str's copy, NUL-terminated */
		return 0;
	case VAL_N:
		rc = num_parse(s, len, &n, err);
		if (rc == 0)
			val_init_num(out, &n);
		else if (err && !strncmp(err->msg, "invalid number", 14))
			snprintf(err->msg, sizeof(err->msg),
				 "A value provided cannot be converted into a number");
		break;
	default:
		rc = b64_decode(s, len, &bin, &len);
		if (rc < 0) {
			rc = err_set(err, EINVAL, "B value is not valid base64");
			break;
		}
		rc = val_init_bin(out, bin, len);
		free(bin);
		break;
	}
	free(s);
	return rc;
}

static int ddb_map(struct sf_span v, struct val *out, int depth, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	struct val e;
	size_t len;
	char *name;
	int rc;

	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "expected a JSON object of attributes");
	val_init_map(out);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		rc = sf_span_str(k, &name, &len, err);
		if (rc < 0)
			goto out_free;
		if (val_map_get(out, name, len)) {
			rc = err_set(err, EINVAL, "duplicate attribute \"%s\"", name);
			free(name);
			goto out_free;
		}
		rc = ddb_value(x, &e, depth + 1, err);
		if (rc == 0) {
			if ((rc = val_map_add_take(out, name, len, &e)) == 0)
				continue; /* the map took name */
			val_free(&e);
		}
		if (rc < 0)
			err_path(err, name);
		free(name);
		if (rc < 0)
			goto out_free;
	}
	if (rc == 0)
		return 0;
	rc = err_set(err, EINVAL, "malformed JSON object");
out_free:
	val_free(out);
	return rc;
}

static int ddb_list(struct sf_span v, struct val *out, enum val_type t, int depth,
		    struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span x;
	struct val e;
	int rc;

	if (sf_arr_open(&it, v) < 0)
		return err_set(err, EINVAL, "%s value must be a JSON array", val_type_name(t));
	if (t == VAL_L)
		val_init_list(out);
	else
		val_init_set(out, t);
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		if (t == VAL_L) {
			rc = ddb_value(x, &e, depth + 1, err);
			if (rc == 0)
				rc = val_list_append(out, &e);
		} else {
			rc = ddb_string(x, &e, val_set_elem_type(t), err);
			if (rc == 0) {
				rc = val_set_add(out, &e);
				if (rc == 0)
					rc = err_set(err, EINVAL,
						     "One or more parameter values were invalid: "
						     "Input collection contains duplicates");
				else if (rc == 1)
					rc = 0;
			}
		}
		if (rc < 0)
			goto out_free;
	}
	if (rc < 0) {
		rc = err_set(err, EINVAL, "malformed JSON array");
		goto out_free;
	}
	if (t != VAL_L && out->l.len == 0) {
		rc = err_set(err, EINVAL,
			     "One or more parameter values were invalid: An %s set  may not be empty",
			     t == VAL_SS ? "string" : t == VAL_NS ? "number" : "binary");
		goto out_free;
	}
	return 0;
out_free:
	val_free(out);
	return rc;
}

/*
 * A type key of capital letters only ("S", "BOOL"...: all the names
 * there are) into buf as a C string, without the allocation sf_span_str
 * makes: true.  Anything else (escapes, other bytes, too long): false,
 * and the caller takes sf_span_str's way, with its errors.
 */
static bool type_name(struct sf_span k, char buf[8])
{
	if (k.len < 3 || k.len > 2 + 7)
		return false;
	for (size_t i = 1; i + 1 < k.len; i++)
		if (k.p[i] < 'A' || k.p[i] > 'Z')
			return false;
	memcpy(buf, k.p + 1, k.len - 2);
	buf[k.len - 2] = 0;
	return true;
}

/* One typed value {"T": ...}. */
static int ddb_value(struct sf_span v, struct val *out, int depth, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x, k2, x2;
	enum val_type t;
	char *tn, tname[8];
	bool b;
	int rc;

	if (depth > ITEM_MAX_DEPTH)
		return err_set(err, EINVAL, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "a value must be an object with one type key, "
					    "such as {\"S\": \"text\"}");
	if (sf_obj_next(&it, &k, &x) != 1)
		return err_set(err, EINVAL, "Supplied AttributeValue is empty, must contain exactly "
					    "one of the supported datatypes");
	if (sf_obj_next(&it, &k2, &x2) != 0)
		return err_set(err, EINVAL, "Supplied AttributeValue has more than one datatypes "
					    "set, must contain exactly one of the supported datatypes");
	if (type_name(k, tname)) {
		rc = val_type_from_name(tname, &t);
	} else {
		if (sf_span_str(k, &tn, NULL, NULL) < 0)
			return err_set(err, EINVAL, "bad type name");
		rc = val_type_from_name(tn, &t);
		free(tn);
	}
	if (rc < 0)
		return err_set(err, EINVAL, "unknown type %.*s", (int)k.len, k.p);
	switch (t) {
	case VAL_S:
	case VAL_N:
	case VAL_B:
		return ddb_string(x, out, t, err);
	case VAL_BOOL:
		if (sf_span_bool(x, &b) < 0)
			return err_set(err, EINVAL, "BOOL value must be true or false");
		val_init_bool(out, b);
		return 0;
	case VAL_NULL:
		if (sf_span_bool(x, &b) < 0 || !b)
			return err_set(err, EINVAL, "NULL value must be true");
		val_init_null(out);
		return 0;
	case VAL_M:
		return ddb_map(x, out, depth, err);
	default:
		return ddb_list(x, out, t, depth, err);
	}
}

/*
 * A number as DynamoDB writes it: plain decimal notation, never an
 * exponent ("1E+2" comes back as "100", 1E-130 as 0.000...1), quoted.
 */
static int ddb_num(struct sf_buf *b, const struct num *n)
{
	char buf[NUM_MAX_DIGITS + 140 + 8], *p = buf;
	int i, exp = n->exp, nd = n->ndigits;

	*p++ = '"';
	if (nd == 0) {
		*p++ = '0';
	} else {
		if (n->neg)
			*p++ = '-';
		if (exp <= 0) {
			*p++ = '0';
			*p++ = '.';
			for (i = 0; i < -exp; i++)
				*p++ = '0';
			for (i = 0; i < nd; i++)
				*p++ = (char)('0' + n->digit[i]);
		} else {
			for (i = 0; i < nd || i < exp; i++) {
				if (i == exp)
					*p++ = '.';
				*p++ = (char)('0' + (i < nd ? n->digit[i] : 0));
			}
		}
	}
	*p++ = '"';
	return sf_buf_add(b, buf, (size_t)(p - buf));
}

static int ddb_render_val(struct sf_buf *b, const struct val *v);


static int ddb_render_elems(struct sf_buf *b, const struct val *v)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < v->l.len; i++) {
		const struct val *e = &v->l.v[i];

		if (i && sf_buf_addc(b, ',') < 0)
			return -ENOMEM;
		switch (v->type) {
		case VAL_SS:
			rc = sf_json_str(b, e->s.p, e->s.len);
			break;
		case VAL_NS:
			rc = ddb_num(b, &e->n);
			break;
		case VAL_BS:
			rc = sf_b64(b, e->s.p, e->s.len);
			break;
		default:
			rc = ddb_render_val(b, e);
		}
	}
	return rc;
}

static int ddb_render_attr(struct sf_buf *b, const struct val_attr *a, bool first)
{
	if ((!first && sf_buf_addc(b, ',') < 0) || sf_json_str(b, a->name, a->name_len) < 0 ||
	    sf_buf_addc(b, ':') < 0)
		return -ENOMEM;
	return ddb_render_val(b, &a->v);
}

/* The members of map m, key attributes pk and sk (if given) first. */
static int ddb_render_members(struct sf_buf *b, const struct val *m, const char *pk,
			      const char *sk)
{
	const struct val_attr *kp = NULL, *ks = NULL;
	bool first = true;
	size_t i;
	int rc;

	for (i = 0; i < m->m.len; i++) {
		if (pk && !strcmp(m->m.a[i].name, pk))
			kp = &m->m.a[i];
		else if (sk && !strcmp(m->m.a[i].name, sk))
			ks = &m->m.a[i];
	}
	if (kp && (rc = ddb_render_attr(b, kp, first)) < 0)
		return rc;
	first = first && !kp;
	if (ks && (rc = ddb_render_attr(b, ks, first)) < 0)
		return rc;
	first = first && !ks;
	for (i = 0; i < m->m.len; i++) {
		if (&m->m.a[i] == kp || &m->m.a[i] == ks)
			continue;
		rc = ddb_render_attr(b, &m->m.a[i], first);
		if (rc < 0)
			return rc;
		first = false;
	}
	return 0;
}

static int ddb_render_val(struct sf_buf *b, const struct val *v)
{
	int rc;

	if (sf_buf_printf(b, "{\"%s\":", val_type_name(v->type)) < 0)
		return -ENOMEM;
	switch (v->type) {
	case VAL_NULL:
		rc = sf_buf_adds(b, "true");
		break;
	case VAL_BOOL:
		rc = sf_buf_adds(b, v->b ? "true" : "false");
		break;
	case VAL_S:
		rc = sf_json_str(b, v->s.p, v->s.len);
		break;
	case VAL_N:
		rc = ddb_num(b, &v->n);
		break;
	case VAL_B:
		rc = sf_b64(b, v->s.p, v->s.len);
		break;
	case VAL_M:
		rc = sf_buf_addc(b, '{');
		if (rc == 0)
			rc = ddb_render_members(b, v, NULL, NULL);
		if (rc == 0)
			rc = sf_buf_addc(b, '}');
		break;
	default: /* L and sets */
		rc = sf_buf_addc(b, '[');
		if (rc == 0)
			rc = ddb_render_elems(b, v);
		if (rc == 0)
			rc = sf_buf_addc(b, ']');
	}
	if (rc < 0)
		return rc;
	return sf_buf_addc(b, '}');
}

int ddb_parse_value(struct sf_span v, struct val *out, struct dyn_err *err)
{
	return ddb_value(v, out, 1, err);
}

int ddb_parse_map(struct sf_span v, struct val *out, struct dyn_err *err)
{
	return ddb_map(v, out, 1, err);
}

int ddb_render_value(struct sf_buf *b, const struct val *v)
{
	return ddb_render_val(b, v);
}

int ddb_render_map(struct sf_buf *b, const struct val *m, const char *pk, const char *sk)
{
	int rc;

	if (sf_buf_addc(b, '{') < 0)
		return -ENOMEM;
	rc = ddb_render_members(b, m, pk, sk);
	if (rc < 0)
		return rc;
	return sf_buf_addc(b, '}');
}
