/*
 * db.h - the database: tables of items, ordered by key, with atomic writes.
 *
 * This header is the engine's whole face towards the filesystem layer (and
 * any other front end): tables, key schemas, reads, ordered range reads,
 * and one write primitive, db_apply(), through which every change goes.
 *
 * Model.  A table has a key schema (partition key, optional sort key; S, N
 * or B) and holds items (val.h maps) keyed by (pk, sk).  Items are kept in
 * one ordered map per table, sorted by partition key and then sort key,
 * each in DynamoDB order (S by UTF-8 bytes, B by unsigned bytes, N
 * numerically), so partitions and items list in key order, a partition is
 * found in O(log n) and a query costs O(log n + k).  Items are stored in
 * their compact binary form (item.h), never as jansson or val trees.
 *
 * Writes.  db_apply() takes one or more operations (put, delete, modify,
 * check), possibly on several tables, and applies all of them or none:
 * it write-locks the tables involved (in table-id order, so concurrent
 * transactions cannot deadlock), evaluates every operation against the
 * current items, validates every resulting item, hands the whole change to
 * the log (journal) as one record, and only if the log accepted it changes
 * memory.  Single puts, deletes, renames, batch lines and transactions are
 * all db_apply() calls.
 *
 * Locking.  One pthread rwlock per table (reads share it, writes take it
 * exclusively) and one rwlock for the table directory (db->tables).  A
 * long scan of one table never blocks readers or writers of another.
 * Callbacks run under a table's read lock: they must not call back into
 * the engine for that table.
 *
 * Lifetime.  table_t handles are reference counted.  db_table_open()
 * returns a new reference; tbl_close() drops it.  Dropping a table removes
 * it from the directory at once; operations through remaining handles then
 * fail with -ENOENT, and memory goes when the last handle is closed.
 */
#ifndef DYNFS_DB_H
#define DYNFS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "val.h"

typedef struct db db_t;
typedef struct table table_t;

#define DB_NAME_MIN 3	     /* table and index names: 3..255 chars of */
#define DB_NAME_MAX 255	     /* [A-Za-z0-9_.-] */
#define DB_ATTR_NAME_MAX 255 /* key attribute names, bytes */
#define DB_MAX_INDEXES 20    /* secondary indexes per table */
#define DB_MAX_TX_OPS 100    /* operations in one transaction */

/* A key attribute: its name and type (VAL_S, VAL_N or VAL_B). */
struct key_attr {
	char name[DB_ATTR_NAME_MAX + 1]; /* NUL-terminated, non-empty */
	enum val_type type;		  /* VAL_S, VAL_N or VAL_B */
};

enum proj_type {
	PROJ_ALL,	/* every attribute */
	PROJ_KEYS_ONLY, /* table and index keys */
	PROJ_INCLUDE,	/* keys plus the listed attributes */
};

/* A secondary index (global or local). */
struct index_def {
	char name[DB_NAME_MAX + 1]; /* index name, DB name rules */
	struct key_attr pk;	     /* index partition key */
	struct key_attr sk;	     /* index sort key, if has_sk */
	bool has_sk;		     /* index has a sort key */
	enum proj_type proj;	     /* projection */
	char **include;		     /* PROJ_INCLUDE attribute names (owned) */
	size_t ninclude;	     /* entries in include */
};

/* A table's schema: key schema plus indexes. */
struct table_schema {
	struct key_attr pk;	  /* partition key */
	struct key_attr sk;	  /* sort key, if has_sk */
	bool has_sk;		  /* table has a sort key */
	struct index_def *index;  /* secondary indexes (owned) */
	size_t nindex;		  /* entries in index */
	char ttl_attr[DB_ATTR_NAME_MAX + 1]; /* TTL attribute name, "" = none (ttl.h) */
	char *api_meta; /* a JSON object the API front end keeps with the table (billing
			 * mode, local indexes, stream, tags); the engine stores, copies,
			 * journals and snapshots it, never reads it (owned, may be NULL) */
};

/* Release what a schema owns (include lists, index array). */
void schema_free(struct table_schema *s);
/* Order a schema copy's indexes by name (byte order), as every schema
 * shown to a user lists them (_schema.json, export's schema files): two
 * stores' schemas then compare with diff whatever order their indexes
 * were made in, or a service lists them in. */
void schema_sort_indexes(struct table_schema *s);
/* Same name and type. */
bool key_attr_equal(const struct key_attr *a, const struct key_attr *b);
/* Same name, keys (names and types), projection and included attributes. */
bool index_def_equal(const struct index_def *a, const struct index_def *b);
/* Deep copy (new).  -ENOMEM. */
int schema_copy(struct table_schema *out, const struct table_schema *s);
/* Validate names, types, index definitions.  -EINVAL with a message. */
int schema_check(const struct table_schema *s, struct dyn_err *err);
/* True if name is a valid table or index name (3..255 of [A-Za-z0-9_.-]). */
bool db_name_valid(const char *name);

/* ---- the database ---- */

/* A new, empty database (new; db_free).  -ENOMEM. */
int db_new(db_t **out);
/* Free the database and every table (handles must all be closed). */
void db_free(db_t *db);

/*
 * Create a table.  -EEXIST if it exists, -EINVAL for a bad name or schema
 * (err says why), -EIO if the log refused.
 */
int db_create_table(db_t *db, const char *name, const struct table_schema *s,
		    struct dyn_err *err);
/* Drop a table and all its items.  -ENOENT, -EIO. */
int db_drop_table(db_t *db, const char *name, struct dyn_err *err);
/*
 * Drop a table only while it holds no item: -ENOTEMPTY (nothing changed)
 * otherwise.  The check and the drop are one step under the table's
 * lock, so an item put meanwhile is never dropped with it (rmdir).
 */
int db_drop_empty_table(db_t *db, const char *name, struct dyn_err *err);

/* How long index backfills held a table's lock (since db_open). */
struct db_backfill_stats {
	uint64_t steps;	      /* lock holds by backfills and their switches */
	uint64_t max_wall_ns; /* longest hold, wall clock (includes preemption) */
	uint64_t max_cpu_ns;  /* longest hold, CPU time of the holding thread */
	uint64_t items;	      /* base items scanned */
};
void db_backfill_stats(db_t *db, struct db_backfill_stats *out);
/*
 * Test hook: fn(ctx, done) runs in every backfill of db after each step,
 * with the table's lock released (done: the scan is complete, the switch
 * comes next); step_items > 0 ends every step after that many items.
 * Set it while no backfill runs; fn NULL removes it.
 */
void db_set_backfill_test_hook(db_t *db, void (*fn)(void *ctx, bool done), void *ctx,
			       unsigned step_items);

/*
 * Replace a table's schema.  The key schema may change only while the
 * table is empty (-EBUSY otherwise); indexes may be added (backfilled) and
 * dropped at any time.  -EINVAL (err) for a bad schema or an existing item
 * whose attribute has a non-key type for a new index key.
 *
 * A backfill runs while the table stays open: it holds the table's lock
 * in steps of a few milliseconds (readers are never blocked by a step,
 * writers for one step at most), and writes racing it keep the new index
 * exact.  Such a write is refused (-EINVAL naming the index) if its item
 * could not be stored once the index exists.  Schema changes of one table
 * run one at a time.
 */
int db_set_schema(db_t *db, const char *name, const struct table_schema *s,
		  struct dyn_err *err);

/*
 * Replace only the schema's api_meta (NULL: none), journaled, in one step
 * under the table's lock, so that a concurrent schema change is kept.
 * -ENOENT (no table), -ENOMEM, -EIO.
 */
int db_set_api_meta(db_t *db, const char *name, const char *meta, struct dyn_err *err);

/* A new reference to the named table, or -ENOENT. */
int db_table_open(db_t *db, const char *name, table_t **out);
/* Drop a reference.  NULL-safe. */
void tbl_close(table_t *t);
/* Another reference to t, which the caller holds (tbl_close drops it). */
void tbl_ref(table_t *t);

/*
 * Call fn for each table name in byte order, starting after `after`
 * (NULL: from the first).  fn returns nonzero to stop; that value is
 * returned.  Runs under the directory read lock.
 */
typedef int (*db_name_fn)(void *ctx, const char *name);
int db_list_tables(db_t *db, const char *after, db_name_fn fn, void *ctx);
/* Number of tables. */
size_t db_table_count(db_t *db);

/* ---- table metadata ---- */

/* The table's name (borrowed, valid while the handle is open). */
const char *tbl_name(const table_t *t);
/* An id unique among all tables this db_t ever had (never reused). */
uint64_t tbl_id(const table_t *t);
/* False once the table was dropped. */
bool tbl_alive(table_t *t);
/* Copy of the schema (new; schema_free). */
int tbl_schema(table_t *t, struct table_schema *out);
/* Key attribute names/types, borrowed; valid until the key schema changes
 * (only possible while the table is empty). */
const struct key_attr *tbl_pk(table_t *t);
const struct key_attr *tbl_sk(table_t *t); /* NULL if no sort key */
/* A copy of the key attributes as they are now, under the table's lock
 * (tbl_pk() points at names a key schema change rewrites): k[0] the
 * partition key, k[1] the sort key; true if there is one. */
bool tbl_key_attrs(table_t *t, struct key_attr k[2]);
/*
 * The table's TTL attribute ("" if none), borrowed: only while holding
 * the table's lock, that is from a db_apply() callback of an op on t (the
 * TTL sweeper's condition, which must judge by the attribute as it is
 * when the delete happens, not as it was when the item was chosen).
 */
const char *tbl_ttl_attr_locked(table_t *t);

struct tbl_stats {
	uint64_t items;		     /* item count */
	uint64_t bytes;		     /* sum of item_size() */
	uint64_t partitions;	     /* distinct partition keys */
	int64_t mtime_ns;	     /* last change to the table (CLOCK_REALTIME) */
	uint64_t index_items[DB_MAX_INDEXES]; /* items per index, schema order */
};
void tbl_stats(table_t *t, struct tbl_stats *out);

/* ---- reads ---- */

/* Metadata of one stored item. */
struct item_meta {
	int64_t mtime_ns; /* time of the commit that wrote it */
	size_t size;	  /* item_size() */
	size_t text_len;  /* length of its canonical rendering (item_render) */
	/* A backend that keeps no item times (a DynamoDB-API service: see
	 * backend.h BE_CAP_ITEM_TIMES) puts a hash of that rendering here,
	 * so fs/ can tell a new version from the one it saw; 0 otherwise. */
	uint64_t version;
};

/*
 * Look up an item by key (sk NULL for a table without sort key).
 * 0 and *out (new) if found, -ENOENT if not, -EINVAL for a key of the
 * wrong type.  out or meta may be NULL (existence test).
 */
int tbl_get(table_t *t, const struct val *pk, const struct val *sk,
	    struct val *out, struct item_meta *meta);
/* Same, rendered in canonical form: *text new, *len without NUL. */
int tbl_get_text(table_t *t, const struct val *pk, const struct val *sk,
		 char **text, size_t *len, struct item_meta *meta);

/*
 * An item seen during a range read: a borrowed view, valid only during
 * the callback that received it.
 */
struct item_ref;
int iref_decode(const struct item_ref *r, struct val *out);      /* new */
/* iref_decode, then, when the read walks an index, that index's
 * projection (tbl_project's rule), under the read's lock: new. */
int iref_decode_projected(const struct item_ref *r, struct val *out);
int iref_render(const struct item_ref *r, char **text, size_t *len); /* new */
int iref_key(const struct item_ref *r, struct val *pk, struct val *sk); /* new; sk untouched if none */
void iref_meta(const struct item_ref *r, struct item_meta *meta);
/* Borrowed pk/sk values of the base item: valid during the callback. */
const struct val *iref_pk(const struct item_ref *r);
const struct val *iref_sk(const struct item_ref *r); /* NULL if none */
/* The base item in compact form (item_render_compact, keys first),
 * appended to *buf as item_render_compact_append does, rendered from the
 * record without decoding it; -ENOMEM, -EINVAL (a corrupt record). */
int iref_render_compact_append(const struct item_ref *r, char **buf, size_t *len, size_t *cap);
/*
 * The base record's bytes (borrowed, valid during the callback): the
 * tuple key enc(pk) [enc(sk)] (keyenc.h) and the blob, item_encode() of
 * the item without its key attributes, which item_render_blob_append
 * renders.  A reader that copies them can render after the lock is
 * dropped (snap.c).
 */
void iref_bytes(const struct item_ref *r, const uint8_t **key, size_t *key_len,
		const uint8_t **blob, size_t *blob_len);

/* Visitor: return 0 to go on, nonzero to stop (the value is returned). */
typedef int (*tbl_visit_fn)(void *ctx, const struct item_ref *r);

/* Bounds on the sort key (of the table, or of the index for an index
 * query).  All NULL: the whole partition. */
struct tbl_range {
	const struct val *lo; /* lower bound or NULL */
	bool lo_incl;	      /* >= (true) or > (false) */
	const struct val *hi; /* upper bound or NULL */
	bool hi_incl;	      /* <= (true) or < (false) */
	const struct val *prefix; /* begins_with (S or B sort keys) or NULL */
};

struct tbl_query {
	const char *index;	  /* NULL: the table; else an index name */
	const struct val *pk;	  /* partition key value (table's or index's) */
	struct tbl_range sk;	  /* sort key condition */
	bool desc;		  /* descending order */
	size_t limit;		  /* stop after this many items; 0 = no limit */
	const struct val *start_pk; /* exclusive start: the base item's key */
	const struct val *start_sk; /* (after it in result order); NULL = none */
	const struct val *start_isk; /* index query: the start item's index sort
				      * key, so the start is found even if that
				      * item was deleted or changed since; NULL:
				      * look the item up (-ENOENT if gone) */
};

/*
 * Query one partition: fn is called for each item in sort key order (of
 * the index, for an index query, with ties in base key order).  -ENOENT
 * for an unknown index, -EINVAL (err) for bounds of the wrong type.
 */
int tbl_query(table_t *t, const struct tbl_query *q, tbl_visit_fn fn, void *ctx,
	      struct dyn_err *err);

struct tbl_scan {
	const char *index;	  /* NULL: the table; else an index name */
	uint32_t segment;	  /* this segment, 0..total-1 */
	uint32_t total;		  /* segments; 0 or 1 = whole table */
	size_t limit;		  /* 0 = no limit */
	const struct val *start_pk; /* exclusive start (base item key) or NULL */
	const struct val *start_sk;
	/*
	 * Index scan: the start item's index partition and sort key (as a
	 * page's last item had them), so the scan resumes exactly there even
	 * if that item was deleted or changed since (as tbl_query's
	 * start_isk).  NULL: the item is looked up (-ENOENT if gone).
	 */
	const struct val *start_ipk;
	const struct val *start_isk;
};

/*
 * Scan all items in key order (partition key, then sort key).  With
 * total > 1, only items whose partition key hashes to `segment`: the
 * segments are disjoint and together cover every item once.
 */
int tbl_scan(table_t *t, const struct tbl_scan *s, tbl_visit_fn fn, void *ctx,
	     struct dyn_err *err);

/*
 * Call fn for each distinct partition key value in key order, starting
 * after `after` (NULL: from the first).  index NULL: the table's
 * partitions; else the index's.  The value is borrowed for the call.
 */
typedef int (*tbl_pk_fn)(void *ctx, const struct val *pk);
int tbl_list_partitions(table_t *t, const char *index, const struct val *after,
			tbl_pk_fn fn, void *ctx);
/* 0 if the partition has at least one item, -ENOENT otherwise. */
int tbl_partition_exists(table_t *t, const char *index, const struct val *pk);

/* Apply an index's projection to a full item, in place. */
int tbl_project(table_t *t, const char *index, struct val *item);

/* ---- writes ---- */

enum db_op_kind {
	DB_PUT,	   /* store item (replacing any item with its key) */
	DB_DELETE, /* remove the item with key pk/sk (absent: no-op) */
	DB_MODIFY, /* read-modify-write through fn */
	DB_CHECK,  /* condition only (fn), writes nothing */
};

/* Flags of an operation. */
#define DB_IF_ABSENT 0x1  /* fail with -EEXIST if the item exists */
#define DB_IF_PRESENT 0x2 /* fail with -ENOENT if it does not */
/*
 * DB_PUT's item came from item_parse()/item_parse_value() unchanged and its
 * item_size() is within ITEM_MAX_SIZE: valid by construction (item_parse.c),
 * so db_apply() skips item_check() (about a tenth of a bulk import's CPU).
 * Set by db_replay() and by the _batch parser (ops_req_bind), and by
 * fs/commit.c for an item that passed item_check() (tbl_check_item, at
 * the write() that completed its file) and is unchanged since; never for
 * an item a caller built or changed unchecked.
 */
#define DB_F_CHECKED 0x100
#define DB_BY_TTL 0x4	  /* a TTL expiry: the change feed says "by": "ttl" */

/*
 * Callback of DB_MODIFY and DB_CHECK, and optional condition of DB_PUT and
 * DB_DELETE: called under the write lock with the current item (old, NULL
 * if absent).  For DB_MODIFY it fills *out with the new item and returns
 * 0 to store it, 1 to delete the item, 2 to leave it alone.  For the
 * others it returns 0 to go on.  A negative return (err filled, e.g.
 * -ECANCELED for a failed condition) cancels the whole db_apply().
 */
typedef int (*db_modify_fn)(void *ctx, const struct val *old, struct val *out,
			    struct dyn_err *err);

/*
 * A put whose stored form the caller already has (db_op.stored; the
 * _batch parser's item_parse_stored, ops_req.c): blob is item_encode()
 * of the item without its key attributes, exactly what rec_new() would
 * store, and db_op.item is then a partial item: the key attributes and
 * every attribute named in attrs that the whole item has (S or N values).
 * db_apply() stores blob as it is and computes index keys from the
 * partial item; an index on an attribute not in attrs (one added since)
 * makes it decode the whole item from blob.  Requires DB_F_CHECKED with
 * size, and text (the journal writes the line, never the partial item).
 */
#define DB_STORED_ENTS 4 /* index entries a stored put brings, at most */

struct rec;
struct ient;
struct db_stored {
	const uint8_t *blob;	   /* the record's encoding (borrowed) */
	size_t blob_len;	   /* its bytes */
	const char *const *attrs;  /* attributes the partial item holds if set */
	size_t nattrs;		   /* how many */
	/* the key attributes the blob leaves out, as the parse had them (ka,
	 * kb: NULL without sort key); NULL ka: the caller vouches that they
	 * are the table's.  Otherwise db_apply() checks
	 * them against the table's under its lock: a key schema changed
	 * since (an empty table's) makes it put the whole item, decoded
	 * from the blob plus the partial item, as an ordinary put */
	const struct key_attr *ka, *kb;
	struct rec *rec;	   /* the record itself (db_stored_rec), or NULL */
	struct ient *ent[DB_STORED_ENTS]; /* index entries (db_stored_ents), or NULL */
	/* where db_stored_ents found each entry's index key attributes: */
	const struct val_attr *ents_of;	  /* the item's members (its m.a) */
	size_t ents_n;			  /* and their count */
	uint8_t ent_at[DB_STORED_ENTS][2]; /* ent[i]'s pk, sk member; DB_STORED_NOSK */
	uint8_t ent_known;		  /* bit i: ent_at[i] holds them */
};

#define DB_STORED_NOSK 0xFF /* ent_at: the index has no sort key */

/*
 * Make st->rec, the record a put of this key (pk, sk: the op's key
 * values), blob and size stores, and point st->blob into it.  db_apply()
 * then takes that record (a reference) instead of allocating one and
 * copying blob, when the record is still the caller's alone (not yet in
 * a table, nor the change feed) and holds exactly the key db_apply()
 * encodes for the op and this blob and size; else it copies, as without
 * it.  This lets a parser on another thread (ops_ahead.c) touch the
 * record's fresh memory instead of the writer.  0, or -ENOMEM (st
 * unchanged).  db_stored_release() drops st->rec (NULL-safe).
 */
int db_stored_rec(struct db_stored *st, const struct val *pk, const struct val *sk,
		  const uint8_t *blob, size_t blob_len, size_t size);
/*
 * The same for the index entries: st->ent[i], for the first
 * DB_STORED_ENTS indexes of s that item (the partial item: key and index
 * key attributes) is in, is the entry a put of it adds (keyed after
 * st->rec's key; needs st->rec).  db_apply() takes one instead of
 * allocating it when its key bytes are those it computes for index slot
 * i and it is still the caller's alone; else it allocates, as without.
 * It does not compute them again (idx_key, most of an index's cost in
 * the writer) when the op's item is this one (the same members, item
 * unchanged since), the op's key is st->rec's, and slot i's key
 * attributes are the members the entry was made from (names and types
 * compared): then the bytes are the same by construction.  What cannot
 * be made stays NULL.  db_stored_release() drops them too.
 */
void db_stored_ents(struct db_stored *st, const struct table_schema *s, const struct val *item);
void db_stored_release(struct db_stored *st);

struct db_op {
	enum db_op_kind kind;	 /* what to do */
	table_t *table;		 /* borrowed handle */
	struct val *item;	 /* DB_PUT: the item (borrowed; not changed) */
	const char *text;	 /* DB_PUT: JSON text item was parsed from by
				  * item_parse_value (borrowed), or NULL; the
				  * journal writes it instead of rendering item */
	size_t text_len;	 /* its bytes */
	const struct val *pk;	 /* DELETE/MODIFY/CHECK: the key */
	const struct val *sk;	 /* (sk NULL for tables without sort key) */
	int flags;		 /* DB_IF_ABSENT, DB_IF_PRESENT, DB_F_CHECKED */
	size_t size;		 /* DB_PUT with DB_F_CHECKED: item_size(item) if
				  * the caller has it, else 0 (read only then) */
	const struct db_stored *stored; /* DB_PUT: item's record, precomputed
					 * (see db_stored), or NULL */
	db_modify_fn fn;	 /* see db_modify_fn; may be NULL for PUT/DELETE */
	void *ctx;		 /* passed to fn */
	/* DELETE/MODIFY/CHECK: the key attributes pk and sk were taken by (kb
	 * NULL: no sort key); NULL ka: the caller vouches that they are the
	 * table's.  Otherwise db_apply() compares the names with the table's
	 * under its lock and refuses the op (-EINVAL) if they differ: the
	 * (empty) table's key schema changed after the key was read */
	const struct key_attr *ka, *kb;
};

/*
 * Apply ops atomically: all or nothing, isolated from concurrent readers
 * and writers.  At most DB_MAX_TX_OPS operations, on distinct items.
 * Errors: -EINVAL (err: bad key, bad item, index key type, two ops on one
 * item), -EFBIG (item too large), -EEXIST/-ENOENT (flags), a callback's
 * error, -ENOENT (table dropped), -EIO (log refused; nothing changed).
 * *failed (if not NULL) receives the index of the failing op.
 */
int db_apply(db_t *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err);
/*
 * db_apply() that does not wait for the journal's sync: the changes are
 * applied and handed to the journal, and *lsn receives what db_sync()
 * must wait for before they may be reported done (0: nothing).  Lets a
 * bulk writer pay one sync for many db_apply() calls (ops_batch.c).
 */
int db_apply_nosync(db_t *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
		    uint64_t *lsn);
/*
 * The same for a caller that reaches db_apply() through layers it does
 * not control (ops_apply, a backend face): between db_defer_begin() and
 * db_defer_end(), db_apply() on the CALLING THREAD applies and journals
 * but does not wait for the journal's sync; db_defer_sync() waits once
 * for everything deferred so far (0, or -EIO as db_apply's failed sync),
 * db_defer_pending() says whether anything is, and db_defer_end() syncs
 * and ends the bracket.  A bulk writer (ops_batch.c) reports nothing as
 * done before the sync that covers it.  Brackets nest.
 */
void db_defer_begin(void);
int db_defer_sync(struct dyn_err *err);
bool db_defer_pending(void);
int db_defer_end(struct dyn_err *err);
/*
 * Wait until every change up to lsn (from db_apply_nosync) is durable.
 * 0, or -EIO (err says so; the store then refuses writes, as db_apply's
 * -EIO after a failed sync).
 */
int db_sync(db_t *db, uint64_t lsn, struct dyn_err *err);

/*
 * A bulk writer (ops_batch.c) brackets its many db_apply() calls with
 * these: in between, the table's maps keep the tree nodes reserved for
 * one db_apply() instead of returning them after each (omap_trim), which
 * saves a malloc and free of every reserved node per call - a few MB per
 * call of 100 puts into a table with indexes.  tbl_bulk_end (the last
 * one) returns them.  Counted: sessions may overlap.
 */
void tbl_bulk_begin(table_t *t);
void tbl_bulk_end(table_t *t);

/*
 * The attributes of t's index keys (live and being built) that are not
 * t's key attributes, each once, into names[0..max): how many, or -1 if
 * more (index.c; db_stored.attrs' source).  Takes t's read lock.
 */
int tbl_index_attrs(table_t *t, char (*names)[DB_ATTR_NAME_MAX + 1], size_t max);
/*
 * Replay (no journal, no feed, no observer: as db_replay) the put of an
 * item given in stored form: its key values pk and sk (sk NULL iff the
 * table has no sort key) and blob, item_encode() of its other attributes,
 * with size its item_size() - what item_parse_stored() (item.h) makes,
 * so a loader needs no struct val tree.  The blob and size are trusted
 * (item_parse_stored guarantees they are what item_parse + rec_new would
 * give); the key rules are checked as tbl_put checks them.  A table with
 * indexes decodes the item for them.  0, -EINVAL, -ENOENT, -ENOMEM.
 */
int tbl_replay_stored(table_t *t, const struct val *pk, const struct val *sk,
		      const uint8_t *blob, size_t blob_len, size_t size, struct dyn_err *err);
/* Would pk and sk pass the table's key rules (tbl_put's)? */
bool tbl_key_valid(table_t *t, const struct val *pk, const struct val *sk);

/* Conveniences over db_apply(). */
int tbl_put(table_t *t, struct val *item, int flags, struct dyn_err *err);
int tbl_delete(table_t *t, const struct val *pk, const struct val *sk, int flags,
	       struct dyn_err *err);

/*
 * Extract the key of an item according to the table's schema, with the
 * key rules checked (present, right type, non-empty, within 2048/1024
 * bytes).  *pk and *sk are borrowed pointers into item.
 */
int tbl_item_key(table_t *t, const struct val *item, const struct val **pk,
		 const struct val **sk, struct dyn_err *err);
/*
 * Everything tbl_put() would check about item without storing it: the
 * key rules, the item limits (item_check: size -> -EFBIG, depth) and the
 * index key types.  For refusing a bad item early (a write() before the
 * close that commits it); tbl_put() checks again.  0, -EINVAL, -EFBIG.
 */
int tbl_check_item(table_t *t, const struct val *item, struct dyn_err *err);
/* Check a key value for attribute a (type, non-empty, size for pk/sk). */
int key_check(const struct key_attr *a, const struct val *v, bool is_sort, struct dyn_err *err);

/* ---- change log and observers ---- */

enum db_change_kind {
	DB_CH_PUT,	    /* table, item */
	DB_CH_DELETE,	    /* table, pk, sk */
	DB_CH_CREATE_TABLE, /* table, schema */
	DB_CH_DROP_TABLE,   /* table */
	DB_CH_SET_SCHEMA,   /* table, schema */
};

/* One change; all pointers borrowed for the duration of the call. */
struct db_change {
	enum db_change_kind kind;	  /* what happened */
	const char *table;		  /* table name */
	const struct val *item;		  /* DB_CH_PUT: the new item */
	const char *item_text;		  /* DB_CH_PUT: item as JSON text that
					   * item_parse_value turns into it
					   * (db_op.text), or NULL */
	size_t item_text_len;		  /* its bytes */
	const struct val *pk, *sk;	  /* DB_CH_DELETE: key (sk may be NULL);
					   * DB_CH_PUT: the item's key values
					   * (db_apply's), or pk NULL */
	const struct table_schema *schema; /* CREATE_TABLE, SET_SCHEMA */
	bool checked; /* DB_CH_PUT to db_replay: item came from item_parse(), which
			 already applied item_check(); it is not checked again */
	size_t size;  /* DB_CH_PUT to db_replay: item_size(item) if known, else 0 */
};

/*
 * The log (the journal) sees every change before memory does.  append()
 * gets all changes of one db_apply() (or one table operation) as one
 * record and returns 0 with *lsn set, or a negative errno, in which case
 * nothing is applied and the operation fails with -EIO.  append() runs
 * under the write locks.  After the locks are released, sync(lsn) is
 * called and the operation returns only when it returned (group commit
 * happens there); its failure is reported as -EIO although the change
 * stands in memory.
 */
struct db_log {
	int (*append)(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn);
	int (*sync)(void *ctx, uint64_t lsn); /* lsn DB_LSN_ALL: all appended so far */
	void *ctx;
};
/*
 * sync's lsn for "every change logged so far": an answer that changed
 * nothing (a no-op write, a failed condition) still depends on the state
 * it read, so it waits for that state to be durable (cheap when it is).
 */
#define DB_LSN_ALL UINT64_MAX
/* Install (or, with NULL, remove) the log.  Not thread-safe: at startup. */
void db_set_log(db_t *db, const struct db_log *log);

/*
 * An observer sees every applied change after the locks are released (the
 * FUSE layer uses it to invalidate kernel caches).  Not thread-safe to set.
 */
typedef void (*db_observer_fn)(void *ctx, const struct db_change *ch, size_t n);
void db_set_observer(db_t *db, db_observer_fn fn, void *ctx);

/*
 * Replay one logged change into memory without logging it again (journal
 * recovery, snapshot loading).  Single-threaded use.
 */
int db_replay(db_t *db, const struct db_change *ch, struct dyn_err *err);

/* ---- integrity ---- */

/*
 * Verify every invariant of a table: every item decodes and is valid, sits
 * under its own key, keys are in order, counts and byte totals match, and
 * every index entry maps back to a live base item and vice versa.  Returns
 * 0, or -EUCLEAN with *why (new) describing the first violation.
 */
int tbl_check_integrity(table_t *t, char **why);
/* All tables. */
int db_check_integrity(db_t *db, char **why);

#endif
