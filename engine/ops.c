/*
 * ops.c - conditional and read-modify-write operations on one item, the
 * engine's sink for `_batch` lines and /_tx documents, and the output
 * text helpers they share (the grammar and the envelope rule are in
 * ops.h; parsing a request is ops_req.c's).
 *
 * Conditions and updates run inside db_apply() as db_modify_fn callbacks
 * (cb_cond, cb_update), under the table's write lock, against the item
 * as it is at that moment: nothing can slip in between the test and the
 * write, and index maintenance is db_apply's.  The callbacks never call
 * back into the engine.
 */
#include "opsint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

/* ---- output text ---- */

void ops_out_add(struct ops_out *o, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		ncap = o->cap ? o->cap * 2 : 256;
		while (ncap < o->len + n + 1)
			ncap *= 2;
		np = realloc(o->p, ncap);
		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = ncap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

void ops_out_fmt(struct ops_out *o, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ops_out_add(o, small, (size_t)n);
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->oom = true;
		return;
	}
	ops_out_add(o, big, (size_t)n);
	free(big);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (!n || n > left || p[0] > 0xf4)
		return 0;
	cp = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void ops_utf8_sanitize(char *s)
{
	size_t len = strlen(s), i = 0, k;

	while (i < len) {
		k = utf8_seq((unsigned char *)s + i, len - i);
		if (!k) {
			s[i] = '?';
			k = 1;
		}
		i += k;
	}
}

void ops_out_json_string(struct ops_out *o, const char *s)
{
	const char *run = s;
	char esc[8];

	ops_out_add(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ops_out_add(o, run, (size_t)(s - run));
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		ops_out_add(o, esc, strlen(esc));
		run = s + 1;
	}
	ops_out_add(o, run, (size_t)(s - run));
	ops_out_add(o, "\"", 1);
}

const char *ops_kind_name(enum ops_kind k)
{
	static const char *const names[] = {"put", "delete", "update", "check"};

	return k <= OPS_CHECK ? names[k] : "?";
}

static size_t describe_val(const struct val *v, char *buf, size_t size)
{
	char num[NUM_TEXT_MAX], *b64;
	size_t n;
	int w = 0;

	switch (v->type) {
	case VAL_S:
		w = snprintf(buf, size, "%.*s%s", v->s.len > 100 ? 100 : (int)v->s.len, v->s.p,
			     v->s.len > 100 ? "..." : "");
		break;
	case VAL_N:
		num_format(&v->n, num);
		w = snprintf(buf, size, "%s", num);
		break;
	case VAL_B:
		n = v->s.len > 60 ? 60 : v->s.len;
		b64 = malloc(b64_encoded_len(n, true) + 1);
		if (b64)
			b64_encode(v->s.p, n, b64, true);
		w = snprintf(buf, size, "%s%s", b64 ? b64 : "?", n < v->s.len ? "..." : "");
		free(b64);
		break;
	default:
		w = snprintf(buf, size, "(%s)", val_type_name(v->type));
	}
	return w < 0 ? 0 : (size_t)w >= size ? size - 1 : (size_t)w;
}

void ops_describe_key(const char *table, const struct val *pk, const struct val *sk,
		      char *buf, size_t size)
{
	size_t n;

	if (!size)
		return;
	n = (size_t)snprintf(buf, size, "%s/", table);
	if (n >= size)
		return;
	if (pk)
		n += describe_val(pk, buf + n, size - n);
	if (sk && n + 1 < size) {
		buf[n++] = '/';
		buf[n] = 0;
		describe_val(sk, buf + n, size - n);
	}
}

/* ---- callbacks (run by db_apply under the write lock) ---- */

static int cond_holds(const struct ops_cb *c, const struct val *old, struct dyn_err *err)
{
	bool ok;
	int rc;

	if (c->expect) {
		if (!old)
			return err_set(err, ENOENT, "the item was deleted meanwhile");
		if (!val_equal(old, c->expect))
			return err_set(err, EAGAIN, "the item changed meanwhile");
	}
	if (!c->cond)
		return 0;
	rc = expr_eval(c->cond, old, &ok, err);
	if (rc < 0)
		return rc;
	if (ok)
		return 0;
	if (c->cond_text)
		return err_set(err, ECANCELED, "condition failed: %s", c->cond_text);
	return err_set(err, ECANCELED, "The conditional request failed");
}

/* Condition of a put, delete or check; a delete may also want old. */
static int cb_cond(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct ops_cb *c = ctx;
	int rc = cond_holds(c, old, err);

	if (rc == 0 && c->out) {
		val_free(c->out);
		if (old)
			rc = val_copy(c->out, old);
	}
	return rc;
}

int ops_add_key(struct val *item, const char *pk_name, const struct val *pk, const char *sk_name,
		const struct val *sk)
{
	const char *names[2] = {pk_name, sk_name};
	const struct val *vals[2] = {pk, sk};
	struct val copy;
	int i, rc;

	for (i = 0; i < 2; i++) {
		if (!names[i] || !vals[i] || val_map_get(item, names[i], strlen(names[i])))
			continue;
		rc = val_copy(&copy, vals[i]);
		if (rc == 0)
			rc = val_map_set(item, names[i], strlen(names[i]), &copy);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* UpdateItem: condition, then the update against the current item. */
static int cb_update(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct ops_cb *c = ctx;
	int rc = cond_holds(c, old, err);

	if (rc < 0)
		return rc;
	if (!c->update && old) { /* nothing to do: leave it alone */
		if (c->out) {
			val_free(c->out);
			rc = val_copy(c->out, old);
		}
		return rc < 0 ? rc : 2;
	}
	if (c->update) {
		rc = expr_apply_update(c->update, old, out, err);
		if (rc < 0)
			return rc;
	} else {
		val_init_map(out);
	}
	rc = ops_add_key(out, c->pk_name, c->pk, c->sk_name, c->sk);
	if (rc == 0 && c->out) {
		val_free(c->out);
		rc = val_copy(c->out, out);
	}
	return rc;
}

/* ---- single items ---- */

static void cb_init_keys(struct ops_cb *c, const struct key_attr *ka, const struct key_attr *kb,
			 const struct val *pk, const struct val *sk)
{
	memset(c, 0, sizeof(*c));
	c->pk = pk;
	c->sk = sk;
	c->pk_name = ka->name;
	c->sk_name = kb ? kb->name : NULL;
}

static void cb_init(struct ops_cb *c, table_t *t, const struct val *pk, const struct val *sk)
{
	cb_init_keys(c, tbl_pk(t), tbl_sk(t), pk, sk);
}

int ops_check_update_key_attrs(const struct key_attr *pka, const struct key_attr *ska,
			       const expr_t *update, struct dyn_err *err)
{
	const struct key_attr *ka[2] = {pka, ska};
	bool touches;
	int i, rc;

	if (!update)
		return 0;
	for (i = 0; i < 2 && ka[i]; i++) {
		rc = expr_update_touches(update, ka[i]->name, &touches);
		if (rc < 0)
			return rc;
		if (touches)
			return err_set(err, EINVAL,
				       "One or more parameter values were invalid: Cannot update "
				       "attribute %s. This attribute is part of the key",
				       ka[i]->name);
	}
	return 0;
}

int ops_check_update_keys(table_t *t, const expr_t *update, struct dyn_err *err)
{
	return ops_check_update_key_attrs(tbl_pk(t), tbl_sk(t), update, err);
}

int ops_put_if(db_t *db, table_t *t, struct val *item, const expr_t *cond, int flags,
	       struct dyn_err *err)
{
	struct db_op op = {.kind = DB_PUT, .table = t, .item = item, .flags = flags};
	struct ops_cb c;

	cb_init(&c, t, NULL, NULL);
	c.cond = cond;
	if (cond) {
		op.fn = cb_cond;
		op.ctx = &c;
	}
	return db_apply(db, &op, 1, NULL, err);
}

int ops_delete_if(db_t *db, table_t *t, const struct val *pk, const struct val *sk,
		  const expr_t *cond, struct val *old_out, struct dyn_err *err)
{
	struct db_op op = {.kind = DB_DELETE, .table = t, .pk = pk, .sk = sk};
	struct ops_cb c;
	int rc;

	cb_init(&c, t, pk, sk);
	c.cond = cond;
	c.out = old_out;
	if (old_out)
		val_init_null(old_out);
	if (cond || old_out) {
		op.fn = cb_cond;
		op.ctx = &c;
	}
	rc = db_apply(db, &op, 1, NULL, err);
	if (rc < 0 && old_out)
		val_free(old_out);
	return rc;
}

int ops_update(db_t *db, table_t *t, const struct val *pk, const struct val *sk,
	       const expr_t *update, const expr_t *cond, struct val *new_out,
	       struct dyn_err *err)
{
	struct db_op op = {.kind = DB_MODIFY, .table = t, .pk = pk, .sk = sk, .fn = cb_update};
	struct ops_cb c;
	int rc;

	if (new_out)
		val_init_null(new_out);
	rc = ops_check_update_keys(t, update, err);
	if (rc < 0)
		return rc;
	cb_init(&c, t, pk, sk);
	c.update = update;
	c.cond = cond;
	c.out = new_out;
	op.ctx = &c;
	rc = db_apply(db, &op, 1, NULL, err);
	if (rc < 0 && new_out)
		val_free(new_out);
	return rc;
}

/* ---- neutral writes (ops_write) ---- */

int ops_apply(db_t *db, const struct ops_write *w, size_t n, size_t *failed,
	      struct dyn_err *err)
{
	struct db_op op[DB_MAX_TX_OPS];
	struct ops_cb cb[DB_MAX_TX_OPS];
	size_t i;
	int rc;

	if (failed)
		*failed = n;
	if (n > DB_MAX_TX_OPS)
		return err_set(err, EINVAL, "too many operations: %zu (at most %d)", n,
			       DB_MAX_TX_OPS);
	for (i = 0; i < n; i++) {
		table_t *t = w[i].table;

		/* bound by a copy of the key attributes: never read the
		 * table's outside its lock (a key schema change rewrites them) */
		if (w[i].ka)
			cb_init_keys(&cb[i], w[i].ka, w[i].kb, w[i].pk, w[i].sk);
		else
			cb_init(&cb[i], t, w[i].pk, w[i].sk);
		cb[i].update = w[i].update;
		cb[i].cond = w[i].cond;
		cb[i].cond_text = w[i].cond_text;
		cb[i].expect = w[i].expect;
		cb[i].out = w[i].kind == OPS_PUT || w[i].kind == OPS_CHECK ? NULL : w[i].out;
		if (cb[i].out)
			val_init_null(cb[i].out);
		memset(&op[i], 0, sizeof(op[i]));
		op[i].table = t;
		op[i].pk = w[i].pk;
		op[i].sk = w[i].sk;
		op[i].flags = w[i].flags | (w[i].kind == OPS_PUT && w[i].checked ? DB_F_CHECKED : 0);
		op[i].size = w[i].kind == OPS_PUT && w[i].checked ? w[i].size : 0;
		op[i].ctx = &cb[i];
		if (w[i].kind != OPS_PUT) {
			op[i].ka = w[i].ka;
			op[i].kb = w[i].kb;
		}
		switch (w[i].kind) {
		case OPS_PUT:
			op[i].kind = DB_PUT;
			op[i].item = w[i].item;
			op[i].text = w[i].item_text;
			op[i].text_len = w[i].item_text_len;
			op[i].stored = w[i].stored;
			op[i].fn = w[i].cond || w[i].expect ? cb_cond : NULL;
			break;
		case OPS_DELETE:
			op[i].kind = DB_DELETE;
			op[i].fn = w[i].cond || w[i].expect || w[i].out ? cb_cond : NULL;
			break;
		case OPS_UPDATE:
			rc = w[i].ka ? ops_check_update_key_attrs(w[i].ka, w[i].kb, w[i].update, err)
				     : ops_check_update_keys(t, w[i].update, err);
			if (rc < 0) {
				if (failed)
					*failed = i;
				goto fail;
			}
			op[i].kind = DB_MODIFY;
			op[i].fn = cb_update;
			break;
		case OPS_CHECK:
			op[i].kind = DB_CHECK;
			op[i].fn = cb_cond;
			break;
		}
	}
	rc = db_apply(db, op, n, failed, err);
	if (rc == 0)
		return 0;
	i = n;
fail:
	while (i-- > 0)
		if (cb[i].out)
			val_free(cb[i].out);
	return rc;
}

static int sink_open(void *ctx, const char *name, void **table)
{
	table_t *t;
	int rc = db_table_open(ctx, name, &t);

	if (rc == 0)
		*table = t;
	return rc;
}

static void sink_close(void *ctx, void *table)
{
	tbl_close(table);
}

static const char *sink_name(void *ctx, void *table)
{
	return tbl_name(table);
}

static bool sink_keys(void *ctx, void *table, struct key_attr k[2])
{
	return tbl_key_attrs(table, k);
}

static int sink_apply(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
		      struct dyn_err *err)
{
	return ops_apply(ctx, w, n, failed, err);
}

static int sink_stored_attrs(void *ctx, void *table, char (*names)[DB_ATTR_NAME_MAX + 1],
			     size_t max)
{
	return tbl_index_attrs(table, names, max);
}

static int sink_stored_schema(void *ctx, void *table, struct table_schema *out)
{
	return tbl_schema(table, out);
}

static void sink_bulk(void *ctx, void *table, bool begin)
{
	if (begin)
		tbl_bulk_begin(table);
	else
		tbl_bulk_end(table);
}

void ops_sink_db(db_t *db, struct ops_sink *out)
{
	out->ctx = db;
	out->open = sink_open;
	out->close = sink_close;
	out->name = sink_name;
	out->keys = sink_keys;
	out->apply = sink_apply;
	out->bulk = sink_bulk;
	out->apply_each = NULL; /* groups are atomic and cheap: one db_apply */
	out->stored_attrs = sink_stored_attrs;
	out->stored_schema = sink_stored_schema;
}
