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

#endif
