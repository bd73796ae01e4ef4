/*
 * store.h - a database on disk: a store directory holding a JSON snapshot
 * and a journal of changes since it (SPEC §7; formats in docs/formats.md).
 *
 * store_open() locks the directory, loads the snapshot, replays the
 * journal, and installs itself as the database's log (db_set_log), so that
 * from then on every db_apply() is journaled before it returns.
 * store_close() writes a final snapshot, syncs, unlocks and frees the db.
 */
#ifndef DYNFS_STORE_H
#define DYNFS_STORE_H

#include <stdbool.h>

#include "db.h"
#include "err.h"

typedef struct store store_t;

enum store_fsync {
	STORE_FSYNC_ALWAYS, /* durable before each change returns (group commit) */
	STORE_FSYNC_BATCH,  /* fsync at most once a second */
	STORE_FSYNC_OFF,    /* leave it to the OS */
};

struct store_opts {
	enum store_fsync fsync; /* journal sync policy */
	bool readonly;		/* open without writing anything (no journal) */
	bool create;		/* create an empty store if dir has none */
};

/*
 * Open (or create) the store in directory dir.  On success *st and *db are
 * new; the db is owned by the store.  Errors (err says what to do):
 * -ENOENT no such directory, -EBUSY locked by another process, -EINVAL a
 * corrupt snapshot or journal (nothing is modified), -EPROTO a format
 * version from a newer dynfs.
 */
int store_open(const char *dir, const struct store_opts *opts, store_t **st, db_t **db,
	       struct dyn_err *err);

/* Write a snapshot now (SIGUSR1; also automatic).  Thread-safe. */
int store_snapshot(store_t *st, struct dyn_err *err);

/* Final snapshot (unless read-only), unlock, free the store and its db. */
int store_close(store_t *st, struct dyn_err *err);

/* ---- additions (store engineer): bulk loading, statistics, test hooks ---- */

/*
 * Bulk load (dynfs import): run fn with journaling suspended, then make
 * everything it did durable with one snapshot.  All or nothing: if fn or
 * the snapshot fails, nothing reaches the disk and the store is marked so
 * that store_close() writes no snapshot either (the files keep their old
 * contents).  Only while no other thread uses the database.  -EROFS on a
 * read-only store.
 */
typedef int (*store_bulk_fn)(void *ctx, db_t *db, struct dyn_err *err);
int store_bulk(store_t *st, store_bulk_fn fn, void *ctx, struct dyn_err *err);

struct store_stats {
	uint64_t last_lsn;	 /* last journaled change */
	uint64_t synced_lsn;	 /* changes up to here are on disk */
	uint64_t appends;	 /* journal records written since open */
	uint64_t syncs;		 /* journal fdatasync calls since open */
	uint64_t journal_bytes;	 /* current journal size */
	uint64_t snapshot_lsn;	 /* lsn of the snapshot on disk */
	uint64_t snapshot_bytes; /* its size */
	uint64_t snapshots;	 /* snapshots written since open */
	uint64_t synced_bytes;	 /* the journal file is durable up to here (tests) */
	int failed;		 /* 0, or the errno that made the store refuse writes */
	bool stopped;		 /* failed for good (fail-stop) until remounted */
	bool torn_tail;		 /* a damaged/incomplete last record was set aside at open */
};
void store_get_stats(store_t *st, struct store_stats *out);

/*
 * Automatic snapshots start when the journal outgrows the snapshot:
 * journal bytes > max(snapshot bytes, min_bytes).  Default 64 MiB (or the
 * DYNFS_SNAPSHOT_MIN environment variable, in bytes).
 */
void store_set_snapshot_min(store_t *st, uint64_t min_bytes);

/*
 * Health.  When the journal cannot be written or synced the store refuses
 * writes (reads go on) and says so: the status line is set, printed on
 * stderr and passed to fn (from whichever thread noticed; code is the
 * errno, 0 when the store works again).  docs/formats.md "Guarantees".
 */
#define STORE_STATUS_MAX 1024
typedef void (*store_status_fn)(void *ctx, int code, const char *msg);
void store_set_status_fn(store_t *st, store_status_fn fn, void *ctx);
/* The current status line ("" while nothing went wrong) into buf. */
void store_get_status(store_t *st, char *buf, size_t size);

/* Test hook: make every journal sync take at least usec longer (a slow disk). */
void store_set_sync_delay(store_t *st, unsigned usec);

/*
 * Test hook: drop the store the way a crash would (no snapshot, no sync,
 * nothing flushed beyond what write() already handed to the kernel), and
 * free it and its db.
 */
void store_abandon(store_t *st);

/*
 * Test hook: fn(ctx, point) runs at these points of a snapshot, under
 * the snapshot lock (fn may read files and stats and write to the
 * database, not snapshot):
 */
enum store_hook_point {
	STORE_HOOK_SNAP_WRITTEN,   /* snapshot.json.tmp written and synced */
	STORE_HOOK_SNAP_COMMITTED, /* renamed into place; journal not yet rotated */
	STORE_HOOK_SNAP_BEGIN,	   /* the journal's position noted, nothing copied */
	STORE_HOOK_ROTATE_COPIED,  /* journal.new has the records up to some point;
				      the rest is copied next, under the journal's lock */
	STORE_HOOK_ROTATED,	   /* journal.new renamed over the journal */
};
typedef void (*store_hook_fn)(void *ctx, enum store_hook_point p);
void store_set_test_hook(store_t *st, store_hook_fn fn, void *ctx);

/*
 * Test hook: the journal file is durable up to this offset (what a power
 * loss now would leave of it).  Safe to call from a store hook.
 */
uint64_t store_synced_bytes(store_t *st);

/* Test hook: journal_set_faults on the store's journal. */
void store_set_faults(store_t *st, int sync_err, int write_err, bool trunc_fails);

#endif
