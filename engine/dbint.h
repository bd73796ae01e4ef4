/*
 * dbint.h - the database's private structures, shared by db.c (directory,
 * schemas, replay), table.c (records, table lifetime, metadata, integrity),
 * table_read.c (reads), table_write.c (db_apply) and index.c (secondary
 * indexes).  Nothing outside those files includes it.
 *
 * Storage.  A table is one ordered map (omap.h) from the tuple key
 * enc(pk) [enc(sk)] (keyenc.h) to a record; each secondary index is one
 * more ordered map from enc(ipk) [enc(isk)] enc(pk) [enc(sk)] to a small
 * index entry that points at the base record.  Index entries carry their
 * own key bytes, since the index key is not stored in the record.
 *
 * Records.  One malloc per item:
 *
 *   struct rec | key bytes (key_len) | blob (blob_len)
 *
 * The blob is item_encode() of the item WITHOUT its key attributes: those
 * are already in the key bytes, and storing them twice would cost about
 * the size of the key again (a third of a typical small item).  Decoding
 * puts them back (rec_decode).  A record is immutable once in a map, with
 * one exception: text_len, the length of the item's canonical rendering,
 * is computed on first demand by whichever reader asks and published with
 * __atomic operations, so readers under the shared lock may fill it.  It
 * is counted over the blob and key bytes (item_blob_text_len), and the
 * text itself is rendered from them too (item_render_blob): reading an
 * item builds no val tree.
 *
 * References.  A record's refs count its membership in the base map (1)
 * plus the omap separators that name it (omap.h: a deleted key may remain
 * a separator until the tree restructures) plus the change feed's records
 * that hold it as an old or new image (feed.c); index entries count their
 * map membership and separators.  A record's refs change atomically (the
 * feed drops its references under its own mutex, not the table's lock);
 * an index entry's change only under the table's write lock (or
 * single-threaded at teardown).  An index entry pinned only by a separator may point to a
 * freed record: such entries are used for their key bytes only.
 *
 * Locking.
 *   db->lock (rwlock) protects the directory: tables, ntables, next_id.
 *   t->lock (rwlock) protects everything mutable in a table: schema,
 *   maps, counters, mtime, and the records and entries in the maps.
 *   Lock order: db->lock before any t->lock; several t->lock in table-id
 *   order.  t->alive is written under t->lock (write) and read with
 *   __atomic loads, so tbl_alive() needs no lock.  t->refs is atomic.
 *   db->log and db->obs are set single-threaded at startup.
 */
#ifndef DYNFS_DBINT_H
#define DYNFS_DBINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "keyenc.h"
#include "omap.h"

/* A stored item (see the file comment for the layout). */
struct rec {
	int64_t mtime_ns;  /* commit time of the write that stored it */
	uint32_t text_len; /* rendering length + 1, 0 = unknown (atomic) */
	uint32_t size;	   /* item_size() of the whole item */
	uint32_t blob_len; /* bytes of the encoded non-key attributes */
	uint16_t key_len;  /* tuple key bytes (<= 2*(2048+1024)+4) */
	uint16_t refs;	   /* map membership + separators + feed (atomic) */
	uint8_t data[];	   /* key bytes, then the blob */
};

/* An entry of a secondary index. */
struct ient {
	struct rec *rec;  /* the base record (valid while in the map) */
	uint16_t refs;	  /* index map membership + separators + a _batch
			   * request's (db_stored_ents) (atomic) */
	uint16_t key_len; /* index key bytes */
	uint8_t key[];	  /* enc(ipk) [enc(isk)] + the base key */
};

struct table {
	struct db *db;		    /* owning database (immutable) */
	char *name;		    /* table name (immutable) */
	uint64_t id;		    /* never reused within db (immutable) */
	int refs;		    /* handles + the directory's (atomic) */
	bool alive;		    /* false once dropped (t->lock; atomic reads) */
	pthread_rwlock_t lock;	    /* see the file comment */
	struct table_schema schema; /* key schema and indexes (lock) */
	omap_t *base;		    /* tuple key -> struct rec (lock) */
	omap_t **idx;		    /* per schema.index[i]: -> struct ient (lock) */
	uint64_t bytes;		    /* sum of rec->size (lock) */
	uint64_t partitions;	    /* distinct partition keys (lock) */
	int64_t mtime_ns;	    /* last change (lock) */
	struct feed_tab *ftab;	    /* key schema for feed records (lock), or NULL */
	struct idx_bld *bld;	    /* indexes being backfilled (see below), or NULL */
	size_t nbld;		    /* entries in bld */
	pthread_mutex_t schema_mu;  /* one schema change at a time (before t->lock) */
	int bulk;		    /* tbl_bulk_begin()s not yet ended (atomic) */
};

/*
 * An index being backfilled while its table stays open (index.c,
 * idx_backfill).  The builder scans the base map in key order in short
 * steps under the READ side of t->lock, adding entries to map and moving
 * last forward; between steps writers run, and db_apply() maintains map
 * like a live index for base keys <= last (keys beyond last are picked up
 * by later steps).  The step that reaches the end of the base map sets
 * done, and from then on writers maintain map for every key: a key
 * beyond last written between that step and the switch (which takes the
 * write lock after the read lock was released) has no later step to
 * pick it up.  So map, last and done change under either side of t->lock
 * but never concurrently: readers never touch them, the builder (only
 * one: t->schema_mu) holds the read side, writers the write side.  The
 * set is installed and removed under the write side.
 */
struct idx_bld {
	const struct index_def *def; /* the new index (the builder's schema) */
	omap_t *map;		     /* entries for base keys <= last (all, once done) */
	struct keyenc_buf last;	     /* last base key scanned */
	bool started;		     /* last is valid */
	bool done;		     /* the scan reached the end: map covers every key */
};

/* Does the building index cover base key k (k <= last, or the scan is done)? */
static inline bool idx_bld_covers(const struct idx_bld *b, const uint8_t *k, size_t len)
{
	return b->done || (b->started && omap_keycmp(k, len, b->last.p, b->last.len) <= 0);
}

struct db {
	pthread_rwlock_t lock; /* the directory */
	struct table **tables; /* sorted by name, one reference each (lock) */
	size_t ntables;	       /* entries in tables (lock) */
	size_t cap;	       /* allocated entries (lock) */
	uint64_t next_id;      /* next table id (lock) */
	struct db_log log;     /* journal hooks (startup only) */
	bool has_log;	       /* log installed */
	db_observer_fn obs;    /* observer (startup only) */
	void *obs_ctx;	       /* its context */
	struct feed *feed;     /* the change feed (feed.h; its own lock) */
	struct db_backfill_stats bf; /* index backfills (atomics) */
	void (*bf_hook)(void *ctx, bool done); /* db_set_backfill_test_hook */
	void *bf_hook_ctx;		       /* its context */
	unsigned bf_step_items;		       /* its step length, 0 = by time */
};

/* An iterator's view of an item (db.h's opaque struct item_ref). */
struct iref_keys {
	struct val pk; /* decoded base partition key */
	struct val sk; /* decoded base sort key (if has_sk) */
	int pk_state;  /* 0 not decoded, 1 in pk (owned), 2 in pk (borrows buf or
			* holds a number), -errno failed */
	int sk_state;  /* same for sk */
	char *buf[2];  /* the walk's reused bytes of pk [0] and sk [1] */
	size_t cap[2]; /* their sizes */
};

struct item_ref {
	struct table *t;	/* the table */
	struct rec *rec;	/* the base record */
	struct iref_keys *keys; /* lazily decoded keys (mutable cache) */
	const struct index_def *d; /* the index the read walks, or NULL */
};

/* ---- the database (db.c) ---- */

/* Hand changes to the log, if any (0 and *lsn = 0 without one). */
int db_log_append(struct db *db, const struct db_change *ch, size_t n, uint64_t *lsn);
/* After the locks are released: wait for durability; -EIO on failure. */
int db_log_sync(struct db *db, uint64_t lsn, struct dyn_err *err);
/* Tell the observer, if any. */
void db_notify(struct db *db, const struct db_change *ch, size_t n);
/* db_apply(); logit false for replay (no log, no observer). */
int db_apply_x(struct db *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
	       bool logit);
/* db_apply() with the journal: lsn NULL waits for the change's sync, else
 * *lsn receives what db_log_sync must wait for (table_write.c; its
 * callers, db_apply and the deferred syncs, are in table_defer.c). */
int db_apply_lsn(struct db *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
		 uint64_t *lsn);

/* ---- the change feed (feed.c; feed.h is the public face) ---- */

struct feed_tab;
struct feed_batch;

/* One change as db_apply() hands it to the feed: borrowed records. */
struct feed_in {
	struct table *t;	/* its table (write-locked) */
	struct rec *old;	/* the item before, or NULL */
	struct rec *new;	/* the item after, or NULL (a delete) */
	bool by_ttl;		/* DB_BY_TTL */
};

struct feed *feed_new(void);
void feed_free(struct feed *f);
/* Make the changes' records, each holding a reference to its old and new
 * stored records (before the journal; t->lock held).  -ENOMEM. */
int feed_prepare(struct feed *f, const struct feed_in *in, size_t n, struct feed_batch **out);
/* Number and publish them (after the journal; cannot fail; consumes b). */
void feed_commit(struct feed *f, struct feed_batch *b, int64_t now_ns);
/* Drop prepared records that were not committed.  NULL-safe. */
void feed_abort(struct feed_batch *b);
/* After the locks are released: tell the subscribers. */
void feed_notify(struct feed *f);
void feed_tab_unref(struct feed_tab *t);

/* ---- records (table.c) ---- */

static inline const uint8_t *rec_key(const struct rec *r)
{
	return r->data;
}

static inline const uint8_t *rec_blob(const struct rec *r)
{
	return r->data + r->key_len;
}

/*
 * A new record for item under key (refs = 1).  size is item_size(item).
 * -ENOMEM.
 */
int rec_new(const struct table_schema *s, const struct val *item, const uint8_t *key,
	    size_t key_len, size_t size, int64_t mtime_ns, struct rec **out);
/* The same from blob, the item's encoding without its key attributes. */
int rec_new_blob(const uint8_t *key, size_t key_len, const uint8_t *blob, size_t blob_len,
		 size_t size, int64_t mtime_ns, struct rec **out);
/* Drop a reference; frees at zero. */
/* One more reference to r / one less (r freed with the last; NULL is
 * fine for rec_unref).  Atomic: the change feed holds records too. */
void rec_ref(struct rec *r);
void rec_unref(struct rec *r);
/* The whole item (new): the blob plus the key attributes. */
int rec_decode(const struct table_schema *s, const struct rec *r, struct val *out);
/* Decode the record's key values (new); sk untouched without sort key. */
int rec_key_vals(const struct table_schema *s, const struct rec *r, struct val *pk, struct val *sk);
/* Length of the canonical text, computed once and cached; -errno. */
long rec_text_len(const struct table_schema *s, struct rec *r);
/* Render (new) and fill the cache on the way. */
int rec_render(const struct table_schema *s, struct rec *r, char **text, size_t *len);
/*
 * The compact form (item_render_compact_append's bytes for rec_decode's
 * item) appended to *buf straight from the record; keys_only: of the item
 * made of its key attributes alone.  -EINVAL, -ENOMEM (*len unchanged).
 */
int rec_render_compact_append(const struct table_schema *s, const struct rec *r, bool keys_only,
			      char **buf, size_t *len, size_t *cap);
void rec_meta(const struct table_schema *s, struct rec *r, struct item_meta *meta);

/* omap ops for base maps (values are struct rec). */
extern const struct omap_ops rec_omap_ops;
/* omap_free callback dropping the map's reference on a record. */
void rec_free_cb(void *v, void *ctx);

/* ---- tables (table.c) ---- */

/* A new table (refs = 1, alive) with a copy of s.  -ENOMEM. */
int tbl_new(struct db *db, const char *name, uint64_t id, const struct table_schema *s,
	    struct table **out);
/* Take a reference. */
void tbl_ref(struct table *t);
/* Extract and check the key of item under schema s (borrowed pointers). */
int tbl_key_of(const struct table_schema *s, const struct val *item, const struct val **pk,
	       const struct val **sk, struct dyn_err *err);
/* Check pk/sk given separately against schema s (sk NULL iff no sort key). */
int tbl_key_check(const struct table_schema *s, const struct val *pk, const struct val *sk,
		  struct dyn_err *err);
/* Append enc(pk) [enc(sk)] to b.  -ENOMEM. */
int tbl_key_encode(struct keyenc_buf *b, const struct val *pk, const struct val *sk);
/* Is the first component of key (a partition) present in map m? */
bool tbl_map_has_prefix(const omap_t *m, const uint8_t *key, size_t plen);
/* Current CLOCK_REALTIME in ns. */
int64_t tbl_now_ns(void);
/* Integrity check with t->lock held (any mode). */
int tbl_check_locked(struct table *t, char **why);
/* A short printable description of a key value, for messages. */
void tbl_describe_val(const struct val *v, char *buf, size_t size);

/* ---- indexes (index.c) ---- */

/* omap ops for index maps (values are struct ient). */
extern const struct omap_ops ient_omap_ops;
void ient_free_cb(void *v, void *ctx);
void ient_unref(struct ient *e);
/* A new entry with key bytes k pointing at rec (refs = 1).  -ENOMEM. */
int ient_new(const uint8_t *k, size_t len, struct rec *rec, struct ient **out);

/*
 * The index key of item (whose base key is bkey) for index d, into b
 * (cleared first).  1 if the item belongs in the index, 0 if it lacks an
 * index key attribute (sparse), -EINVAL (err names the index and the
 * attribute) if an index key attribute has the wrong type, is empty or
 * too long, -ENOMEM.
 */
int idx_key(const struct index_def *d, const struct val *item, const uint8_t *bkey, size_t blen,
	    struct keyenc_buf *b, struct dyn_err *err);
/* Position of the named index in s, or -1. */
int idx_find(const struct table_schema *s, const char *name);
/*
 * Build the map of index d over every record of base (backfill).  Every
 * item is checked first; -EINVAL names the first item that cannot be
 * indexed.  *out new.
 */
int idx_build(const struct table_schema *s, const struct index_def *d, omap_t *base, omap_t **out,
	      struct dyn_err *err);
/* Free an index map and its entries. */
void idx_map_free(omap_t *m);
/* Index d's projection of item (of a table with schema s), in place: the
 * rule tbl_project() and iref_decode_projected() share.  -ENOMEM. */
int idx_project(const struct table_schema *s, const struct index_def *d, struct val *item);
/*
 * Fill t->bld[0..t->nbld) (installed by the caller under the write lock,
 * with t->schema_mu held and t->lock NOT held) over every record of t, in
 * steps that hold t->lock's read side for at most ~IDX_STEP_NS each.  0
 * when every map is complete (the caller switches under the write lock);
 * -EINVAL naming the first item that cannot be indexed, -ENOENT if the
 * table was dropped meanwhile, -ENOMEM.
 */
int idx_backfill(struct table *t, struct dyn_err *err);
/* Record one hold of t->lock by a schema change (stats, db_backfill_stats). */
void idx_note_hold(struct db *db, uint64_t wall_ns, uint64_t cpu_ns);

#endif
