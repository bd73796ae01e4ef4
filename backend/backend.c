/*
 * backend.c - what the face builds once over any backend's methods: the
 * put/delete conveniences and the ops sink that lets the engine's _batch
 * and /_tx parsers (engine/ops_batch.c, ops_tx.c) write through a backend.
 */
#include "backend.h"

#include <string.h>

int be_put(be_table_t *t, struct val *item, int flags, struct dyn_err *err)
{
	be_op op;

	memset(&op, 0, sizeof(op));
	op.kind = OPS_PUT;
	op.table = t;
	op.item = item;
	op.flags = flags;
	return be_apply(t->be, &op, 1, NULL, err);
}

int be_delete(be_table_t *t, const struct val *pk, const struct val *sk, int flags,
	      struct dyn_err *err)
{
	be_op op;

	memset(&op, 0, sizeof(op));
	op.kind = OPS_DELETE;
	op.table = t;
	op.pk = pk;
	op.sk = sk;
	op.flags = flags;
	return be_apply(t->be, &op, 1, NULL, err);
}

/* ---- the ops sink: table handles are be_table_t * ---- */

static int sink_open(void *ctx, const char *name, void **table)
{
	be_table_t *t;
	int rc = be_table_open(ctx, name, &t, NULL);

	if (rc == 0)
		*table = t;
	return rc;
}

static void sink_close(void *ctx, void *table)
{
	be_table_close(table);
}

static const char *sink_name(void *ctx, void *table)
{
	return be_table_name(table);
}

static bool sink_keys(void *ctx, void *table, struct key_attr k[2])
{
	be_t *b = ctx;
	const struct key_attr *sk;

	if (b->m->table_keys) /* local: a copy under the table's lock */
		return b->m->table_keys(table, k);
	k[0] = *be_table_pk(table);
	sk = be_table_sk(table);
	if (sk)
		k[1] = *sk;
	return sk != NULL;
}

static int sink_apply(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
		      struct dyn_err *err)
{
	return be_apply(ctx, w, n, failed, err);
}

static int sink_apply_each(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
			   struct dyn_err *err)
{
	be_t *b = ctx;

	return b->m->apply_each(b, w, n, failed, err);
}

static void sink_bulk(void *ctx, void *table, bool begin)
{
	be_t *b = ctx;

	b->m->bulk(table, begin);
}

static int sink_stored_attrs(void *ctx, void *table, char (*names)[DB_ATTR_NAME_MAX + 1],
			     size_t max)
{
	be_t *b = ctx;

	return b->m->stored_attrs(table, names, max);
}

static int sink_stored_schema(void *ctx, void *table, struct table_schema *out)
{
	be_t *b = ctx;

	return b->m->stored_schema(table, out);
}

void be_sink(be_t *b, struct ops_sink *out)
{
	out->ctx = b;
	out->open = sink_open;
	out->close = sink_close;
	out->name = sink_name;
	out->keys = sink_keys;
	out->apply = sink_apply;
	out->bulk = b->m->bulk ? sink_bulk : NULL; /* local: tbl_bulk_begin's pools */
	out->apply_each = b->m->apply_each ? sink_apply_each : NULL;
	out->stored_attrs = b->m->stored_attrs ? sink_stored_attrs : NULL;
	out->stored_schema = b->m->stored_schema ? sink_stored_schema : NULL;
}
