/*
 * local.c - the backend face over the local engine (engine/db.h, ops.h,
 * feed.h, store.h): every method is the engine call fs/ made before the
 * face, so the local mount behaves exactly as it did.
 *
 * Table handles.  The face's handle must start with struct be_table, and
 * the engine's table_t is opaque, so each engine table gets a wrapper
 * (struct ltable: the face's header and the table_t), made the first
 * time the table is opened and kept, in a hash by table_t address, until
 * the backend is closed.  A handle is a wrapper plus one engine reference
 * (db_table_open), so opening costs the engine's open plus a lookup
 * under a mutex, and closing is tbl_close: no allocation per open, which
 * fs/ does for every node it makes (an allocation per open cost 1% more
 * instructions on a cat of 1,000 items).  A wrapper whose table was freed
 * has no handle left (each held a reference), so when a new table gets the
 * same address (tbl_id differs) the wrapper is simply reused for it.
 *
 * Rows are the engine's struct item_ref, handed to the visitor as a
 * struct be_ref {methods, item_ref} built on the stack by a trampoline,
 * so nothing is decoded unless the visitor asks (be_ref_decode).
 * be_apply is ops_apply (engine/ops.c) after the handles are unwrapped:
 * conditions and updates become db_apply callbacks under the table's
 * write lock, as they always were.
 *
 * Everything a remote service lacks is here as the optional methods: the
 * change feed (db_feed), snapshots (store_snapshot, SIGUSR1) and the
 * store's status line (store_set_status_fn).
 */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/store.h"

struct ltable {
	struct be_table h; /* the face's header */
	table_t *t;	   /* the engine table (each handle holds a reference) */
	uint64_t id;	   /* tbl_id(t) */
};

struct lbe {
	struct be h;	      /* the face's header */
	db_t *db;	      /* borrowed */
	store_t *store;	      /* borrowed, or NULL */
	pthread_mutex_t lock; /* protects the wrapper hash */
	struct ltable **wrap; /* open addressing by table_t address (owned) */
	size_t cap;	      /* slots, a power of two (0: none yet) */
	size_t n;	      /* wrappers */
};

static const struct be_methods local_methods;

static inline db_t *DB(be_t *b)
{
	return ((struct lbe *)b)->db;
}

static inline table_t *T(const be_table_t *t)
{
	return ((const struct ltable *)t)->t;
}

/* ---- tables ---- */

static int l_list_tables(be_t *b, const char *after, db_name_fn fn, void *ctx, struct dyn_err *err)
{
	return db_list_tables(DB(b), after, fn, ctx);
}

static size_t l_table_count(be_t *b)
{
	return db_table_count(DB(b));
}

static int l_create_table(be_t *b, const char *name, const struct table_schema *s,
			  struct dyn_err *err)
{
	return db_create_table(DB(b), name, s, err);
}

static int l_drop_table(be_t *b, const char *name, struct dyn_err *err)
{
	return db_drop_empty_table(DB(b), name, err);
}

static int l_set_schema(be_t *b, const char *name, const struct table_schema *s,
			struct dyn_err *err)
{
	return db_set_schema(DB(b), name, s, err);
}

static size_t wrap_slot(const struct lbe *l, const table_t *t)
{
	uintptr_t h = (uintptr_t)t;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 7) & (l->cap - 1);
}

/* Double the hash (lock held).  -ENOMEM. */
static int wrap_grow(struct lbe *l)
{
	size_t ncap = l->cap ? l->cap * 2 : 64, ocap = l->cap, i, j;
	struct ltable **nw = calloc(ncap, sizeof(*nw)), **ow = l->wrap;

	if (!nw)
		return -ENOMEM;
	l->wrap = nw;
	l->cap = ncap;
	for (i = 0; i < ocap; i++) {
		if (!ow[i])
			continue;
		for (j = wrap_slot(l, ow[i]->t); nw[j]; j = (j + 1) & (ncap - 1))
			;
		nw[j] = ow[i];
	}
	free(ow);
	return 0;
}

/* The wrapper of t (lock held): found, reused or made.  NULL: -ENOMEM. */
static struct ltable *wrap_of(struct lbe *l, table_t *t)
{
	uint64_t id = tbl_id(t);
	struct ltable *w;
	size_t i;

	if (2 * (l->n + 1) > l->cap && wrap_grow(l) < 0)
		return NULL;
	for (i = wrap_slot(l, t); (w = l->wrap[i]); i = (i + 1) & (l->cap - 1))
		if (w->t == t)
			break;
	if (w) {
		if (w->id != id) /* a new table at a freed one's address */
			w->id = id;
		return w;
	}
	if (!(w = malloc(sizeof(*w))))
		return NULL;
	w->h.m = &local_methods;
	w->h.be = &l->h;
	w->t = t;
	w->id = id;
	l->wrap[i] = w;
	l->n++;
	return w;
}

static int l_table_open(be_t *b, const char *name, be_table_t **out, struct dyn_err *err)
{
	struct lbe *l = (struct lbe *)b;
	struct ltable *w;
	table_t *t;
	int rc;

	rc = db_table_open(l->db, name, &t);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->lock);
	w = wrap_of(l, t);
	pthread_mutex_unlock(&l->lock);
	if (!w) {
		tbl_close(t);
		return -ENOMEM;
	}
	*out = &w->h;
	return 0;
}

static void l_table_close(be_table_t *t)
{
	tbl_close(T(t));
}

/* The wrapper is shared by every handle of the table: a handle is one
 * engine reference. */
static be_table_t *l_table_dup(be_table_t *t)
{
	tbl_ref(T(t));
	return t;
}

static const char *l_table_name(const be_table_t *t)
{
	return tbl_name(T(t));
}

static uint64_t l_table_id(const be_table_t *t)
{
	return ((const struct ltable *)t)->id;
}

static bool l_table_alive(be_table_t *t)
{
	return tbl_alive(T(t));
}

static int l_table_schema(be_table_t *t, struct table_schema *out, struct dyn_err *err)
{
	return tbl_schema(T(t), out);
}

static const struct key_attr *l_table_pk(be_table_t *t)
{
	return tbl_pk(T(t));
}

static const struct key_attr *l_table_sk(be_table_t *t)
{
	return tbl_sk(T(t));
}

static bool l_table_keys(be_table_t *t, struct key_attr k[2])
{
	return tbl_key_attrs(T(t), k);
}

static void l_table_stats(be_table_t *t, struct tbl_stats *out)
{
	tbl_stats(T(t), out);
}

/* ---- reads ---- */

static int l_get(be_table_t *t, const struct val *pk, const struct val *sk, struct val *out,
		 struct item_meta *meta, struct dyn_err *err)
{
	return tbl_get(T(t), pk, sk, out, meta);
}

static int l_get_text(be_table_t *t, const struct val *pk, const struct val *sk, char **text,
		      size_t *len, struct item_meta *meta, struct dyn_err *err)
{
	return tbl_get_text(T(t), pk, sk, text, len, meta);
}

/* A face visitor called from an engine read. */
struct tramp {
	be_visit_fn fn;
	void *ctx;
};

static int tramp_visit(void *ctx, const struct item_ref *r)
{
	struct tramp *w = ctx;
	struct be_ref br = {&local_methods, r};

	return w->fn(w->ctx, &br);
}

static int l_query(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
		   struct dyn_err *err)
{
	struct tramp w = {fn, ctx};

	return tbl_query(T(t), q, tramp_visit, &w, err);
}

static int l_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
		  struct dyn_err *err)
{
	struct tramp w = {fn, ctx};

	return tbl_scan(T(t), s, tramp_visit, &w, err);
}

static int l_list_partitions(be_table_t *t, const char *index, const struct val *after,
			     tbl_pk_fn fn, void *ctx, struct dyn_err *err)
{
	return tbl_list_partitions(T(t), index, after, fn, ctx);
}

static int l_partition_exists(be_table_t *t, const char *index, const struct val *pk,
			      struct dyn_err *err)
{
	return tbl_partition_exists(T(t), index, pk);
}

static int l_project(be_table_t *t, const char *index, struct val *item)
{
	return tbl_project(T(t), index, item);
}

static const struct val *l_ref_pk(const void *impl)
{
	return iref_pk(impl);
}

static const struct val *l_ref_sk(const void *impl)
{
	return iref_sk(impl);
}

static int l_ref_decode(const void *impl, struct val *out)
{
	return iref_decode(impl, out);
}

static void l_ref_meta(const void *impl, struct item_meta *meta)
{
	iref_meta(impl, meta);
}

/* ---- writes ---- */

static int l_apply(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	struct ops_write w[DB_MAX_TX_OPS];
	size_t i;

	if (n > DB_MAX_TX_OPS)
		return ops_apply(DB(b), ops, n, failed, err); /* refuses */
	for (i = 0; i < n; i++) {
		w[i] = ops[i];
		w[i].table = ops[i].table ? T(ops[i].table) : NULL; /* db_apply refuses NULL */
	}
	return ops_apply(DB(b), w, n, failed, err);
}

static int l_check_item(be_table_t *t, const struct val *item, struct dyn_err *err)
{
	return tbl_check_item(T(t), item, err);
}

static void l_bulk(be_table_t *t, bool begin)
{
	if (begin)
		tbl_bulk_begin(T(t));
	else
		tbl_bulk_end(T(t));
}

static int l_stored_attrs(be_table_t *t, char (*names)[DB_ATTR_NAME_MAX + 1], size_t max)
{
	return tbl_index_attrs(T(t), names, max);
}

static int l_stored_schema(be_table_t *t, struct table_schema *out)
{
	return tbl_schema(T(t), out);
}

/* ---- changes and the store ---- */

static void l_watch(be_t *b, db_observer_fn fn, void *ctx)
{
	db_set_observer(DB(b), fn, ctx);
}

static feed_t *l_feed(be_t *b)
{
	return db_feed(DB(b));
}

static int l_snapshot(be_t *b, struct dyn_err *err)
{
	store_t *st = ((struct lbe *)b)->store;

	return st ? store_snapshot(st, err) : -ENOTSUP;
}

static void l_set_status(be_t *b, void (*fn)(void *ctx, int code, const char *msg), void *ctx)
{
	store_t *st = ((struct lbe *)b)->store;

	if (st)
		store_set_status_fn(st, fn, ctx);
}

static void l_close(be_t *b)
{
	struct lbe *l = (struct lbe *)b;
	size_t i;

	for (i = 0; i < l->cap; i++)
		free(l->wrap[i]);
	free(l->wrap);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static const struct be_methods local_methods = {
    .version = BE_VERSION,
    .name = "local",
    .caps = BE_CAP_TX | BE_CAP_GROUP | BE_CAP_CHANGE_FEED | BE_CAP_CHEAP_LIST |
	    BE_CAP_SCHEMA_CHANGE | BE_CAP_EXACT_STATS | BE_CAP_ORDERED | BE_CAP_ITEM_TIMES,
    .list_tables = l_list_tables,
    .table_count = l_table_count,
    .create_table = l_create_table,
    .drop_table = l_drop_table,
    .set_schema = l_set_schema,
    .table_open = l_table_open,
    .table_close = l_table_close,
    .table_dup = l_table_dup,
    .table_name = l_table_name,
    .table_id = l_table_id,
    .table_alive = l_table_alive,
    .table_schema = l_table_schema,
    .table_pk = l_table_pk,
    .table_sk = l_table_sk,
    .table_keys = l_table_keys,
    .table_stats = l_table_stats,
    .get = l_get,
    .get_text = l_get_text,
    .query = l_query,
    .scan = l_scan,
    .list_partitions = l_list_partitions,
    .partition_exists = l_partition_exists,
    .project = l_project,
    .ref_pk = l_ref_pk,
    .ref_sk = l_ref_sk,
    .ref_decode = l_ref_decode,
    .ref_meta = l_ref_meta,
    .apply = l_apply,
    .check_item = l_check_item,
    .watch = l_watch,
    .feed = l_feed,
    .snapshot = l_snapshot,
    .set_status = l_set_status,
    .bulk = l_bulk,
    .stored_attrs = l_stored_attrs,
    .stored_schema = l_stored_schema,
    .close = l_close,
};

int be_local_open(db_t *db, struct store *store, be_t **out)
{
	struct lbe *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->h.m = &local_methods;
	b->db = db;
	b->store = store;
	pthread_mutex_init(&b->lock, NULL);
	*out = &b->h;
	return 0;
}
