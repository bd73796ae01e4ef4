/*
 * storeint.h - the store's private state, shared by store.c (write path,
 * snapshots, health, background threads) and store_recover.c (the lock
 * and recovery at open).  Not for use outside engine/store*.c.
 */
#ifndef DYNFS_STOREINT_H
#define DYNFS_STOREINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "journal.h"
#include "store.h"
#include "storefmt.h"

#define LOCK_NAME "lock"
#define SNAP_MIN_DEFAULT (64ull << 20) /* auto snapshot floor, bytes (docs/formats.md) */
#define SNAP_ATTEMPTS 4		       /* fuzzy snapshot retries on schema changes */
#define SNAP_RETRY_SEC 10	       /* pause after a failed automatic snapshot */
#define RESCUE_RETRY_MIN 1	       /* first retry of a failed journal, seconds */
#define RESCUE_RETRY_MAX 30	       /* the retries back off up to this */

struct store {
	char *dir;		 /* the store directory */
	db_t *db;		 /* the database, owned */
	struct store_opts opts;	 /* as opened */
	int lockfd;		 /* dir/lock, flock()ed; -1 if none could be had (ro) */
	journal_t *j;		 /* the journal; NULL when read-only */
	struct db_log log;	 /* installed into db while writable */

	pthread_mutex_t snap_mu; /* one snapshot at a time; protects the next four */
	uint64_t snap_lsn;	 /* lsn of the snapshot on disk */
	uint64_t snapshots;	 /* snapshots written since open */
	bool unlogged;		 /* memory has changes no journal record holds (bulk) */
	bool diverged;		 /* memory differs from disk for good: no snapshot at close */
	int failed;		 /* 0, or the errno that stopped writes (journal unusable) */
	bool in_doubt;		 /* a writer was told "failed" for a change in memory */
	bool torn_seen;		 /* the journal had a torn tail at open */
	int rescue_wait;	 /* seconds until the next automatic retry (backoff) */
	struct timespec last_rescue; /* when rescue() last wrote a snapshot */
	char status[STORE_STATUS_MAX]; /* what state the store is in, for people */
	char pending[4][STORE_STATUS_MAX]; /* status lines not yet given to status_fn */
	int pending_code[4];	 /* and their codes */
	int npending;		 /* entries in pending (bg_mu) */
	store_status_fn status_fn; /* told about every status change */
	void *status_ctx;	 /* its context */
	store_hook_fn hook;	 /* test hook */
	void *hook_ctx;		 /* its context */
	uint64_t snap_bytes;	 /* size of the snapshot on disk (atomic access) */
	uint64_t snap_min;	 /* auto snapshot floor, bytes (atomic access) */

	pthread_mutex_t logbuf_mu; /* protects logbuf (taken with trylock only) */
	struct sf_buf logbuf;	 /* log_append's record buffer, kept between records */

	pthread_mutex_t bg_mu;	 /* protects the next three */
	pthread_cond_t bg_cv;	 /* wakes the background threads */
	bool bg_stop;		 /* store_close: threads must exit */
	bool snap_wanted;	 /* the journal outgrew the snapshot */
	pthread_t snap_thread;	 /* runs automatic snapshots */
	pthread_t sync_thread;	 /* fsync=batch: syncs once a second */
	bool have_snap_thread;	 /* snap_thread was started */
	bool have_sync_thread;	 /* sync_thread was started */
};

/* dir/name (new), or NULL. */
char *store_path(const struct store *st, const char *name);

/* store_recover.c */
int store_lock_take(struct store *st, struct dyn_err *err);
void store_lock_release(struct store *st);
/* Remove snapshot.json.tmp and journal.new (unfinished copies). */
void store_remove_temp_files(struct store *st);
/* Load snapshot and journal into st->db; on a writable store, open the journal. */
int store_recover(struct store *st, struct dyn_err *err);

#endif
