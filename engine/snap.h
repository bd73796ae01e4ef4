/*
 * snap.h - snapshots: the whole database as one human-readable,
 * line-oriented JSON file, written atomically and loaded as a stream.
 *
 * File format (docs/formats.md has it with examples).  UTF-8 text, one
 * JSON object per line, each line ending in "\n":
 *
 *   line 1, the header:
 *     {"dynfs":"snapshot","version":1,"lsn":L,"created":"<UTC ISO 8601>",
 *      "tables":[{"name":T,"schema":SCHEMA},...]}
 *   then one line per item, grouped by table (tables in name order, items
 *   in key order within a table):
 *     {"t":T,"i":ITEM}
 *   where ITEM is the item in compact document form (item_render_compact,
 *   key attributes first); then the trailer, the last line:
 *     {"end":"snapshot","tables":N,"items":M,"crc32c":"xxxxxxxx"}
 *   crc32c is the CRC-32C, in 8 lowercase hex digits, of every byte of the
 *   file before the trailer line.
 *
 * L, the snapshot's lsn, says which journal records it covers: recovery
 * replays the journal records with lsn > L.  The snapshot is *fuzzy*: it
 * holds every change up to L and possibly some later ones (store.c
 * explains why replaying those again is harmless).
 *
 * A snapshot is written to snapshot.json.tmp and synced (snap_write), then
 * renamed into place and the directory synced (snap_commit); a crash at
 * any point leaves either the old snapshot or the new one, never a mix.
 */
#ifndef DYNFS_SNAP_H
#define DYNFS_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

#define SNAP_NAME "snapshot.json"	  /* file name inside the store directory */
#define SNAP_TMP_NAME "snapshot.json.tmp" /* while being written */
#define SNAP_VERSION 1			  /* format version written */
#define SNAP_CHUNK 512			  /* items copied per table read-lock hold */

struct snap_info {
	uint32_t version; /* format version */
	uint64_t lsn;	  /* journal records <= lsn are covered */
	uint64_t tables;  /* tables */
	uint64_t items;	  /* items */
	uint64_t bytes;	  /* file size */
	uint64_t max_hold_ns; /* snap_write: the longest CPU time (of the writing
				 thread) spent in one chunk under a read lock */
};

/*
 * Write the database to dir/snapshot.json.tmp with lsn in the header, and
 * fsync it.  Tables are copied one at a time, SNAP_CHUNK items per read
 * lock, so readers and writers keep running.  -EAGAIN if a table went
 * away meanwhile (the caller retries).  On failure the temp file is gone.
 */
int snap_write(const char *dir, db_t *db, uint64_t lsn, struct snap_info *info,
	       struct dyn_err *err);
/* Rename the temp file over dir/snapshot.json and fsync the directory. */
int snap_commit(const char *dir, struct dyn_err *err);
/* Remove the temp file (a write that must not be committed). */
void snap_discard(const char *dir);

/*
 * Load the snapshot at path into db, which must be empty and have no log
 * installed.  Validates everything (header, every line, item count,
 * checksum, the end marker) and never writes.  -ENOENT if there is no
 * file, -EINVAL (err names file, line and offset) if it is corrupt or
 * truncated or its items are out of order or duplicated, -EPROTO for a
 * format version newer than SNAP_VERSION, -EISDIR / -ELOOP if path is a
 * directory / a symlink (storefile.h).
 */
int snap_load(const char *path, db_t *db, struct snap_info *info, struct dyn_err *err);

/*
 * Test hook: fn(ctx, table) runs in snap_write after each table is
 * copied, with no lock held (tests use it to change the database in the
 * middle of a snapshot).  NULL removes it.  Process-wide; tests only.
 */
void snap_set_test_hook(void (*fn)(void *ctx, const char *table), void *ctx);
/*
 * Test hook: fn(ctx, table, done) runs in snap_write at every step
 * boundary, with no lock held: once the tables and schemas are taken
 * (table NULL), after each chunk of a table but its last (done false),
 * after its last (done true).  chunk > 0: chunks of that many items
 * instead of SNAP_CHUNK while the hook is set.  NULL removes it.
 * Process-wide; tests only.
 */
void snap_set_step_hook(void (*fn)(void *ctx, const char *table, bool done), void *ctx,
			unsigned chunk);

/*
 * Write an empty snapshot (no tables) with the given lsn, atomically.
 * Used when a store is created.
 */
int snap_write_empty(const char *dir, uint64_t lsn, struct dyn_err *err);

#endif
