/*
 * backend.h - the backend face: the one interface fs/ talks to, whatever
 * holds the data.  Two implementations: the local engine (backend/local.c,
 * over engine/db.h, ops.h, feed.h, store.h) and a DynamoDB-API service
 * (the remote client, remote/).  The arrows: fs/ -> backend/ -> engine/ or
 * remote/; engine/ never includes backend/.  fs/ never asks which backend
 * it has (no `if (remote)`): where the two differ in cost or guarantees,
 * be_caps() says so and fs/ adapts its policy (cache timeouts, listing
 * caps), not its code paths; what only a local store has (journal status,
 * SIGUSR1 snapshots, the change feed with since=) is an optional method,
 * NULL when not supported, and fs/ answers ENOTSUP or omits the file.
 *
 * Shape.  Like SQLite's sqlite3_vfs/sqlite3_io_methods: one `const struct
 * be_methods` per implementation, a version field for growth.  The calls
 * mirror the engine calls fs/ made before the face, so converting a call
 * site changed its callee, not its logic:
 *
 *   db_table_open/tbl_close/...  be_table_open/be_table_close/...
 *   tbl_get, tbl_get_text        be_get, be_get_text
 *   tbl_query, tbl_scan          be_query, be_scan (the start key in
 *                                struct tbl_query/tbl_scan is the resume key)
 *   tbl_list_partitions/_exists  be_list_partitions, be_partition_exists
 *   iref_pk/sk/decode/meta       be_ref_pk/sk/decode/meta
 *   db_apply, tbl_put/delete     be_apply, be_put, be_delete (be_op:
 *                                conditions are data - flags, compiled
 *                                expressions, an expected item - never
 *                                callbacks)
 *   db_set_observer              be_watch
 *   ops_batch_new(db, t, ...)    ops_batch_new_sink(&sink, t, ...), be_sink(b, &sink)
 *   ops_tx_run(db, ...)          ops_tx_run_sink(&sink, ...)
 *   db_feed, store_snapshot,     be_feed, be_snapshot, be_set_status
 *   store_set_status_fn          (optional)
 *
 * Handles.  be_t is an open backend; be_table_t an open table.  Both are
 * opaque to fs/ and start with the methods pointer, so a call needs no
 * backend argument: be_get(t, ...) is t->m->get(t, ...), as cheap as the
 * engine call it replaced plus one indirect call (bench/callgrind_face.sh:
 * +0.47% instructions for a cat of 1,000 items, a _query? and an ls -l;
 * +0.57% for item writes, renames, a _batch and a /_tx).  Each implementation
 * embeds struct be_table as the first member of its own table handle.
 * Table handles are references: be_table_open gives a new one,
 * be_table_close drops it; a dropped table's handle stays valid but
 * be_table_alive() turns false and operations fail with -ENOENT.
 *
 * Values are the engine's: items are struct val maps, schemas struct
 * table_schema, conditions and updates compiled expr_t (the remote side
 * prints them with expr_to_text), key bounds struct tbl_range, item
 * metadata struct item_meta.  Errors: 0 or a negative errno with struct
 * dyn_err, as in the engine; -ECANCELED is a failed condition, -EAGAIN
 * "changed since read" (be_op.expect) or "throttled, try later", -EIO
 * with "outcome unknown" in err->msg a write that may or may not have
 * happened (remote only; fs/ reports it in /_errors).  Reads take a
 * struct dyn_err too (may be NULL): a service's reason for a failed read
 * (throttled after retries, access denied, unreachable), which fs/ puts
 * in /_errors once per failing operation (read_err_log); a plain miss is
 * -ENOENT and needs none.  table_alive is false only for a table known to
 * be gone, not for one that cannot be described now.
 *
 * Rows.  A read hands each item to a visitor as a borrowed struct be_ref,
 * valid only during the call; its key is read with be_ref_pk/sk and the
 * rest decoded on demand (local: the engine's stored bytes, nothing is
 * decoded unless asked; remote: the item of the Query/Scan page, so
 * readdirplus costs no request per entry).  Visitors run under the
 * table's read lock locally: they must not call back into the backend for
 * that table.
 *
 * Writes from _batch and /_tx.  The parsers of _batch lines and /_tx
 * documents stay in engine/ (ops_batch.c, ops_tx.c: they are front-end
 * neutral, the API endpoint uses them too) and apply what they parse
 * through a struct ops_sink they are given (engine/ops.h: table lookup
 * and apply).  be_sink() makes a sink of a backend, so the parsers work
 * over any backend, and a backend implements only be_apply for them.
 *
 * Threads: every method may be called from any FUSE worker thread at
 * once; implementations lock internally.
 */
#ifndef DYNFS_BACKEND_H
#define DYNFS_BACKEND_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/db.h"
#include "../engine/err.h"
#include "../engine/expr.h"
#include "../engine/feed.h"
#include "../engine/ops.h"
#include "../engine/val.h"

#define BE_VERSION 1

typedef struct be be_t;		    /* an open backend */
typedef struct be_table be_table_t; /* an open table of a backend */
struct be_methods;

/* Every backend handle starts with this. */
struct be {
	const struct be_methods *m; /* the implementation */
};

/* Every table handle starts with this. */
struct be_table {
	const struct be_methods *m; /* the implementation (= be->m) */
	be_t *be;		    /* the backend it belongs to */
};

/* A row seen by a read (see "Rows"): borrowed for the visitor call. */
struct be_ref {
	const struct be_methods *m; /* the implementation */
	const void *impl;	    /* its view of the row */
};

/* What a backend can do and what it costs; fs/ adapts policy to these. */
enum be_caps {
	BE_CAP_TX = 1 << 0,	       /* be_apply() of n > 1 is atomic */
	BE_CAP_CHANGE_FEED = 1 << 1,   /* be_watch() sees every change, not only ours */
	BE_CAP_CHEAP_LIST = 1 << 2,    /* table-level listings cost no full scan */
	BE_CAP_SCHEMA_CHANGE = 1 << 3, /* be_set_schema/create/drop allowed */
	BE_CAP_EXACT_STATS = 1 << 4,   /* be_table_stats() exact, not estimates */
	/* be_apply() of a group of n unrelated writes costs about what one
	 * does (one journal sync) and fails as a whole only for a reason of
	 * one op (*failed says which): _batch applies its lines in groups.
	 * Not a service, where a transaction costs twice the write units,
	 * caps the request size and fails whole on a conflict or throttling:
	 * there each _batch line is its own call. */
	BE_CAP_GROUP = 1 << 5,
	/* be_scan of a whole table or index (no segments) comes in key order
	 * and resumes after its start key in key order, so "the keys from X
	 * on" is a scan from X.  Without it (DynamoDB's Scan is in hash
	 * order) a scan resumed after X still lists each item once, but what
	 * comes after X is not "greater than X": fs/ looks for a key prefix
	 * with a whole scan, and skips to a position by equality, not by
	 * comparison.  be_query within a partition, be_list_partitions and
	 * be_list_tables are in key order with every backend. */
	BE_CAP_ORDERED = 1 << 6,
	/* item_meta.mtime_ns is the time of the write that stored the item
	 * (the local engine).  Without it (DynamoDB stores no modification
	 * time) the backend puts be_text_version() of the item's rendering in
	 * item_meta.version, and fs/ dates each version itself (fs/mtime.c):
	 * this mount's writes by their commit, another writer's by when this
	 * mount first saw it. */
	BE_CAP_ITEM_TIMES = 1 << 7,
};

/* The version hash of an item's canonical rendering (item_render, with
 * the table's key names): 64-bit FNV-1a, never 0. */
static inline uint64_t be_text_version(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* Visitors: 0 to go on, nonzero to stop (that value is returned). */
typedef int (*be_visit_fn)(void *ctx, const struct be_ref *r);

/*
 * One write.  Conditions are data (compiled expressions, flags, an
 * expected item), never callbacks, so a remote service can evaluate them
 * (ConditionExpression).  This is the engine's neutral write (engine/ops.h
 * struct ops_write), so the _batch and /_tx parsers hand theirs over
 * as they are; `table` is a be_table_t * of the backend applying it.
 */
typedef struct ops_write be_op;

struct be_methods {
	int version;	  /* BE_VERSION */
	const char *name; /* "local", "dynamodb" */
	unsigned caps;	  /* enum be_caps */

	/* ---- tables (db.h's directory calls) ---- */
	/* Names after `after` (NULL: first) in byte order, to fn. */
	int (*list_tables)(be_t *b, const char *after, db_name_fn fn, void *ctx,
			   struct dyn_err *err);
	size_t (*table_count)(be_t *b);
	int (*create_table)(be_t *b, const char *name, const struct table_schema *s,
			    struct dyn_err *err);
	/*
	 * Drop a table that holds no item; -ENOTEMPTY (nothing changed)
	 * otherwise.  Local: checked and dropped in one step under the
	 * table's lock.  A service without a conditional DeleteTable checks
	 * with a one-item Scan first (say so in its docs: an item put in
	 * between is lost with the table).  Never decide emptiness from
	 * table_stats: a service's item count is an estimate.
	 */
	int (*drop_table)(be_t *b, const char *name, struct dyn_err *err);
	/* Change a table's schema (indexes; key schema only while empty). */
	int (*set_schema)(be_t *b, const char *name, const struct table_schema *s,
			  struct dyn_err *err);
	/* A new reference to the named table, or -ENOENT. */
	int (*table_open)(be_t *b, const char *name, be_table_t **out, struct dyn_err *err);

	/* ---- one table (db.h's tbl_ calls) ---- */
	void (*table_close)(be_table_t *t);
	/* Optional (NULL: table_open by name): a new reference to t itself,
	 * without a lookup by name (fs/ takes one per node it makes); it may
	 * return NULL, and the reference is then opened by name. */
	be_table_t *(*table_dup)(be_table_t *t);
	const char *(*table_name)(const be_table_t *t); /* borrowed */
	uint64_t (*table_id)(const be_table_t *t);	/* never reused in this backend */
	bool (*table_alive)(be_table_t *t);
	int (*table_schema)(be_table_t *t, struct table_schema *out, struct dyn_err *err); /* new */
	const struct key_attr *(*table_pk)(be_table_t *t);
	const struct key_attr *(*table_sk)(be_table_t *t); /* NULL: no sort key */
	/* Optional (NULL: copies of the two above): a copy of the key
	 * attributes under the table's lock (db.h tbl_key_attrs). */
	bool (*table_keys)(be_table_t *t, struct key_attr k[2]);
	void (*table_stats)(be_table_t *t, struct tbl_stats *out);

	/* ---- reads ---- */
	int (*get)(be_table_t *t, const struct val *pk, const struct val *sk, struct val *out,
		   struct item_meta *meta, struct dyn_err *err);
	int (*get_text)(be_table_t *t, const struct val *pk, const struct val *sk, char **text,
			size_t *len, struct item_meta *meta, struct dyn_err *err);
	/* One partition in sort key order; q->start_* is the resume key. */
	int (*query)(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
		     struct dyn_err *err);
	/* The table in key order (BE_CAP_ORDERED; else the backend's order;
	 * segments: unordered parts); s->start_* resumes after that item. */
	int (*scan)(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
		    struct dyn_err *err);
	int (*list_partitions)(be_table_t *t, const char *index, const struct val *after,
			       tbl_pk_fn fn, void *ctx, struct dyn_err *err);
	int (*partition_exists)(be_table_t *t, const char *index, const struct val *pk,
				struct dyn_err *err);
	int (*project)(be_table_t *t, const char *index, struct val *item);
	/* Rows (struct be_ref.impl). */
	const struct val *(*ref_pk)(const void *impl);
	const struct val *(*ref_sk)(const void *impl); /* NULL: no sort key */
	int (*ref_decode)(const void *impl, struct val *out); /* new */
	void (*ref_meta)(const void *impl, struct item_meta *meta);

	/* ---- writes ---- */
	/*
	 * Apply ops (on tables of this backend): all or nothing (needs
	 * BE_CAP_TX for n > 1 and ops on several items; -ENOTSUP without).
	 * *failed (may be NULL) gets the index of the failing op.
	 */
	int (*apply)(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err);
	/*
	 * Optional (NULL: none): apply ops in order, each on its own, not all
	 * or nothing (engine/ops.h ops_sink.apply_each: a _batch group, on
	 * distinct items).  A service sends the unconditional puts and
	 * deletes among them as BatchWriteItem, 25 a call; *failed the first
	 * that failed, those before it applied.  fs/ uses it for _batch
	 * where BE_CAP_GROUP is missing.
	 */
	int (*apply_each)(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err);
	/* What a put would refuse (key rules, size, index key types; it
	 * runs item_check, so a put of the same item, unchanged, may say
	 * be_op.checked). */
	int (*check_item)(be_table_t *t, const struct val *item, struct dyn_err *err);

	/* ---- changes ---- */
	/* Every change applied (BE_CAP_CHANGE_FEED), or this mount's own. */
	void (*watch)(be_t *b, db_observer_fn fn, void *ctx);

	/* ---- optional (NULL: not supported) ---- */
	feed_t *(*feed)(be_t *b); /* the change feed (_changes) */
	int (*snapshot)(be_t *b, struct dyn_err *err); /* write a snapshot now */
	/* The store's health changes (journal errors, recovery) to fn. */
	void (*set_status)(be_t *b, void (*fn)(void *ctx, int code, const char *msg), void *ctx);
	/*
	 * Many applies on t follow (begin true) or are done (false): the
	 * local backend keeps the table's reserved tree nodes between them
	 * (tbl_bulk_begin), which a _batch import otherwise allocates and
	 * frees again on every apply.  be_sink passes it on as ops_sink.bulk.
	 */
	void (*bulk)(be_table_t *t, bool begin);
	/*
	 * Optional (NULL: none): apply takes puts with a stored form
	 * (engine/ops.h ops_write.stored); the table's index key attributes
	 * as ops_sink.stored_attrs gives them.  be_sink passes it on.
	 */
	int (*stored_attrs)(be_table_t *t, char (*names)[DB_ATTR_NAME_MAX + 1], size_t max);
	/* Optional (NULL: none): ops_sink.stored_schema.  be_sink passes it on. */
	int (*stored_schema)(be_table_t *t, struct table_schema *out);

	void (*close)(be_t *b);
};

/* ---- calls (what fs/ uses) ---- */

static inline unsigned be_caps(const be_t *b) { return b->m->caps; }
static inline const char *be_name(const be_t *b) { return b->m->name; }
/* Close the backend; every table handle must have been closed. */
static inline void be_close(be_t *b) { b->m->close(b); }

static inline int be_list_tables(be_t *b, const char *after, db_name_fn fn, void *ctx,
				 struct dyn_err *err)
{
	return b->m->list_tables(b, after, fn, ctx, err);
}
static inline size_t be_table_count(be_t *b) { return b->m->table_count(b); }
static inline int be_create_table(be_t *b, const char *name, const struct table_schema *s,
				  struct dyn_err *err)
{
	return b->m->create_table(b, name, s, err);
}
static inline int be_drop_table(be_t *b, const char *name, struct dyn_err *err)
{
	return b->m->drop_table(b, name, err);
}
static inline int be_set_schema(be_t *b, const char *name, const struct table_schema *s,
				struct dyn_err *err)
{
	return b->m->set_schema(b, name, s, err);
}
static inline int be_table_open(be_t *b, const char *name, be_table_t **out, struct dyn_err *err)
{
	return b->m->table_open(b, name, out, err);
}
/* NULL-safe. */
static inline void be_table_close(be_table_t *t)
{
	if (t)
		t->m->table_close(t);
}
static inline const char *be_table_name(const be_table_t *t) { return t->m->table_name(t); }
/* A new reference to the table t is (be_table_close drops it): t itself
 * where the backend can (table_dup), else the table now of t's name,
 * which may be another one (compare be_table_id). */
static inline int be_table_dup(be_table_t *t, be_table_t **out)
{
	if (t->m->table_dup && (*out = t->m->table_dup(t)))
		return 0;
	return t->m->table_open(t->be, t->m->table_name(t), out, NULL);
}
static inline uint64_t be_table_id(const be_table_t *t) { return t->m->table_id(t); }
static inline bool be_table_alive(be_table_t *t) { return t->m->table_alive(t); }
static inline int be_table_schema(be_table_t *t, struct table_schema *out, struct dyn_err *err)
{
	return t->m->table_schema(t, out, err);
}
static inline const struct key_attr *be_table_pk(be_table_t *t) { return t->m->table_pk(t); }
static inline const struct key_attr *be_table_sk(be_table_t *t) { return t->m->table_sk(t); }
static inline void be_table_stats(be_table_t *t, struct tbl_stats *out)
{
	t->m->table_stats(t, out);
}

static inline int be_get(be_table_t *t, const struct val *pk, const struct val *sk, struct val *out,
			 struct item_meta *meta, struct dyn_err *err)
{
	return t->m->get(t, pk, sk, out, meta, err);
}
static inline int be_get_text(be_table_t *t, const struct val *pk, const struct val *sk,
			      char **text, size_t *len, struct item_meta *meta, struct dyn_err *err)
{
	return t->m->get_text(t, pk, sk, text, len, meta, err);
}
static inline int be_query(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
			   struct dyn_err *err)
{
	return t->m->query(t, q, fn, ctx, err);
}
static inline int be_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
			  struct dyn_err *err)
{
	return t->m->scan(t, s, fn, ctx, err);
}
static inline int be_list_partitions(be_table_t *t, const char *index, const struct val *after,
				     tbl_pk_fn fn, void *ctx, struct dyn_err *err)
{
	return t->m->list_partitions(t, index, after, fn, ctx, err);
}
static inline int be_partition_exists(be_table_t *t, const char *index, const struct val *pk,
				      struct dyn_err *err)
{
	return t->m->partition_exists(t, index, pk, err);
}
static inline int be_project(be_table_t *t, const char *index, struct val *item)
{
	return t->m->project(t, index, item);
}
static inline const struct val *be_ref_pk(const struct be_ref *r) { return r->m->ref_pk(r->impl); }
static inline const struct val *be_ref_sk(const struct be_ref *r) { return r->m->ref_sk(r->impl); }
static inline int be_ref_decode(const struct be_ref *r, struct val *out)
{
	return r->m->ref_decode(r->impl, out);
}
static inline void be_ref_meta(const struct be_ref *r, struct item_meta *meta)
{
	r->m->ref_meta(r->impl, meta);
}

static inline int be_apply(be_t *b, const be_op *ops, size_t n, size_t *failed,
			   struct dyn_err *err)
{
	return b->m->apply(b, ops, n, failed, err);
}
static inline int be_check_item(be_table_t *t, const struct val *item, struct dyn_err *err)
{
	return t->m->check_item(t, item, err);
}
/* Conveniences over be_apply (as tbl_put/tbl_delete over db_apply). */
int be_put(be_table_t *t, struct val *item, int flags, struct dyn_err *err);
int be_delete(be_table_t *t, const struct val *pk, const struct val *sk, int flags,
	      struct dyn_err *err);

static inline void be_watch(be_t *b, db_observer_fn fn, void *ctx) { b->m->watch(b, fn, ctx); }
/* The change feed, or NULL (no _changes). */
static inline feed_t *be_feed(be_t *b) { return b->m->feed ? b->m->feed(b) : NULL; }
/* -ENOTSUP without snapshots. */
static inline int be_snapshot(be_t *b, struct dyn_err *err)
{
	return b->m->snapshot ? b->m->snapshot(b, err) : -ENOTSUP;
}
static inline void be_set_status(be_t *b, void (*fn)(void *ctx, int code, const char *msg),
				 void *ctx)
{
	if (b->m->set_status)
		b->m->set_status(b, fn, ctx);
}

/* A sink for the _batch and /_tx parsers (engine/ops.h) writing to b. */
void be_sink(be_t *b, struct ops_sink *out);

/* ---- constructors ---- */

/* The local engine: db (borrowed; outlives the backend), its store (borrowed,
 * may be NULL: no snapshots or status).  *out new (be_close). */
struct store;
int be_local_open(db_t *db, struct store *store, be_t **out);

#endif
