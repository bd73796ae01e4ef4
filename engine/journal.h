/*
 * journal.h - the store's write-ahead journal: an append-only file of
 * checksummed, numbered records, with group commit.
 *
 * File format (all integers little-endian; docs/formats.md has the same
 * with examples):
 *
 *   File header, JOURNAL_HDR_SIZE (32) bytes:
 *     0   8  magic "DYNFSJNL"
 *     8   4  format version (JOURNAL_VERSION)
 *    12   4  header size (32)
 *    16   8  start_lsn: the lsn the file's first record has (if any)
 *    24   4  reserved, zero
 *    28   4  CRC-32C of bytes 0..27
 *
 *   Then records, back to back, each JOURNAL_REC_HDR (28) bytes + payload:
 *     0   4  magic "JREC"
 *     4   4  payload length in bytes (at most JOURNAL_MAX_PAYLOAD)
 *     8   8  lsn (log sequence number): start_lsn for the first record,
 *            then each record's is the previous one's plus one
 *    16   8  synced lsn: every record up to this lsn was durable (an
 *            fdatasync covering it had returned) when this one was
 *            written; always below the record's own lsn (0: none known)
 *    24   4  CRC-32C of the payload followed by bytes 0..23 of this header
 *    28   -  payload: opaque to this module (the store writes one JSON
 *            array of changes followed by a newline)
 *
 *   Format version 1 (JOURNAL_VERSION_1, stores made before version 2)
 *   has JOURNAL_REC_HDR_V1 (20) byte record headers without the synced
 *   lsn: magic, length, lsn, then the CRC of the payload followed by bytes
 *   0..15.  Such a journal is read with the version 1 rule below and
 *   appended to in version 1 (never with zeroes written ahead) until the
 *   next rotation, which writes a version 2 file.
 *
 * The records may be followed by zeroes written ahead (journal_set_ahead),
 * up to the end of the file: not records, not damage.
 *
 * Reading (journal_read) validates the whole file before handing any
 * record to its caller.  The records are read in order up to the first
 * one that is cut short or fails its checksum (lsn E, the one expected
 * there).  In a version 2 file, what follows it is a *torn tail* (a crash
 * in the middle of the last appends, or damage to the last records)
 * unless some later valid record has a synced lsn >= E: that proves
 * record E had been synced, so it was damaged on the disk after it was
 * acknowledged, and the file is refused as corrupt.  Valid records after
 * the damage (a power cut may keep a later unsynced sector and lose an
 * earlier one) are then part of the torn tail, counted in
 * info->torn_valid.  In a version 1 file a bad record is a torn tail only
 * if no valid record follows it.  A torn tail is reported in info->torn
 * and the caller decides what to do (the store sets it aside with
 * journal_set_aside, then truncates).  Anything else (a sequence gap, a
 * bad header, the proof above, a version 1 bad record with valid ones
 * after it) is corruption: -EINVAL with the file and byte offset in err,
 * nothing touched.  A format version newer than ours is -EPROTO.
 *
 * Writing: journal_append() frames and writes one record at the end (one
 * pwrite), and on any failure truncates the file back to the previous end,
 * so the file always ends on a record boundary or in a torn tail.  Every
 * file is opened with O_NOFOLLOW, journal.new is created O_EXCL mode 0600
 * (storefile.h).
 * journal_sync() is group commit: many threads waiting for their records
 * to be durable share one fdatasync().  journal_rotate() replaces the file
 * with a new one holding only the records after a snapshot's lsn.
 *
 * Locking: mu serialises appends and protects the write position; sync_mu
 * protects the sync state.  The two are never held together in the order
 * mu -> sync_mu.  All functions on a journal_t are thread-safe except
 * journal_close().
 */
#ifndef DYNFS_JOURNAL_H
#define DYNFS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JOURNAL_NAME "journal"		 /* file name inside the store directory */
#define JOURNAL_NEW_NAME "journal.new"	 /* temporary name while replacing it */
#define JOURNAL_TORN_PREFIX "journal.torn-" /* set-aside torn tails: journal.torn-<lsn> */
#define JOURNAL_VERSION 2		 /* format version written */
#define JOURNAL_VERSION_1 1		 /* the older format, still read and appended to */
#define JOURNAL_HDR_SIZE 32		 /* file header bytes */
#define JOURNAL_REC_HDR 28		 /* record header bytes */
#define JOURNAL_REC_HDR_V1 20		 /* record header bytes, version 1 */
#define JOURNAL_MAX_PAYLOAD (256u << 20) /* larger lengths are corruption */
#define JOURNAL_AHEAD (1u << 20)	 /* zeroes written ahead with fsync=always */
#define JOURNAL_AHEAD_REC (16u << 10)	 /* only records up to this size write ahead */

typedef struct journal journal_t;

/* What journal_read() found. */
struct journal_info {
	uint32_t version;    /* format version of the file */
	uint64_t start_lsn;  /* from the file header */
	uint64_t last_lsn;   /* lsn of the last valid record; start_lsn - 1 if none */
	uint64_t records;    /* valid records */
	uint64_t replayed;   /* records handed to the callback (lsn > after) */
	uint64_t valid_end;  /* offset just past the last valid record */
	uint64_t size;	     /* file size */
	uint64_t data_end;   /* past the last nonzero byte or the last valid record
			      * after the damage: zeroes after it are room
			      * written ahead (JOURNAL_AHEAD), not a torn tail */
	bool torn;	     /* a torn tail [valid_end, size) was found */
	const char *torn_why; /* what was wrong with it (static string) */
	uint64_t torn_valid;  /* valid records inside it, after the damage
			       * (version 2: unsynced records a power cut kept) */
	uint64_t crc_bytes;   /* bytes checksummed while reading (tests: linear) */
};

/* Called for each record; nonzero stops the read with that value. */
typedef int (*journal_rec_fn)(void *ctx, uint64_t lsn, const char *payload, size_t len,
			      uint64_t off);

/*
 * Validate the journal at path, then call fn (may be NULL) for each valid
 * record with lsn > after, in order.  info is filled in (also on most
 * errors, as far as known).  -ENOENT if there is no file, -EINVAL for
 * corruption (err names file and offset), -EPROTO for a newer version, or
 * fn's error.  Never writes.
 */
int journal_read(const char *path, uint64_t after, journal_rec_fn fn, void *ctx,
		 struct journal_info *info, struct dyn_err *err);

/*
 * Atomically create (or replace) dir/journal with an empty journal whose
 * first record will have start_lsn: written as journal.new, synced,
 * renamed, directory synced.
 */
int journal_create(const char *dir, uint64_t start_lsn, struct dyn_err *err);

/*
 * Keep the evidence of a torn tail before it is cut: copy bytes
 * [info->valid_end, info->data_end) of dir/journal into a new file
 * dir/journal.torn-<lsn> (lsn = info->last_lsn + 1, the lsn the damaged
 * record would have had; ".1", ".2", ... appended if that name is taken),
 * synced, directory synced.  *saved gets its path (new).
 */
int journal_set_aside(const char *dir, const struct journal_info *info, char **saved,
		      struct dyn_err *err);

/* Cut a torn tail: truncate path to len and sync it. */
int journal_truncate(const char *path, uint64_t len, struct dyn_err *err);

/*
 * Open dir/journal for appending after what journal_read() reported in
 * info (which must describe a journal without a torn tail), in its format
 * version.  The file is synced first, so every record in it counts as
 * durable (the synced lsn of the records appended after it).  *out new.
 */
int journal_open(const char *dir, const struct journal_info *info, journal_t **out,
		 struct dyn_err *err);
/* Close: the zeroes written ahead are cut off (and that synced); records
 * are not synced.  NULL-safe. */
void journal_close(journal_t *j);
/* Close as a crash would leave the file: zeroes and all.  NULL-safe. */
void journal_abandon(journal_t *j);

/*
 * Append one record.  rec points at JOURNAL_REC_HDR bytes of room followed
 * by len payload bytes; the header is filled in here (the last
 * JOURNAL_REC_HDR_V1 bytes of the room in a version 1 file), so the
 * record goes out in one write.  mark tags the record (journal_position reports the
 * last tagged lsn; the store tags schema changes).  On success *lsn is the
 * record's lsn.  The write's -errno (-ENOSPC, -EIO, ...) if it failed
 * (the file is cut back, nothing of the record remains), or the errno of
 * an earlier failure that left the journal unusable (journal_stats'
 * broken); -EFBIG if len > JOURNAL_MAX_PAYLOAD.
 */
int journal_append(journal_t *j, uint8_t *rec, size_t len, bool mark, uint64_t *lsn);

/*
 * Return when every record up to lsn is on disk (fdatasync).  If another
 * thread is syncing, wait for it and sync again only if lsn is still not
 * covered: concurrent callers share syncs.  fdatasync's -errno (-EIO,
 * -ENOSPC, ...) if a sync failed (sticky: after a failed fsync the page
 * cache can no longer be trusted, so the journal refuses appends until
 * the next rotation).
 */
int journal_sync(journal_t *j, uint64_t lsn);

/* Under the append lock: the last lsn, the end offset, the last tagged lsn. */
void journal_position(journal_t *j, uint64_t *last_lsn, uint64_t *end, uint64_t *marked_lsn);

/*
 * Replace the file with one holding only the records with lsn > after,
 * which begin at offset from of the current file (as journal_position
 * reported when `after` was the last lsn).  Appends continue during most
 * of the copy; they wait only while the last few records are copied and
 * the new file is synced and renamed into place.  Afterwards every record
 * is durable.  Callers serialise rotations.
 */
int journal_rotate(journal_t *j, uint64_t after, uint64_t from, struct dyn_err *err);

struct journal_stats {
	uint64_t appends;   /* records appended since open */
	uint64_t syncs;	    /* fdatasync calls by journal_sync */
	uint64_t last_lsn;  /* last appended lsn */
	uint64_t synced_lsn; /* records up to here are durable */
	uint64_t synced_bytes; /* the file is durable up to this offset (tests) */
	uint64_t bytes;	       /* end of the last record */
	uint64_t file_bytes;   /* file size: bytes plus zeroes written ahead */
	int broken;	    /* 0, or the errno that made the journal refuse appends */
};
void journal_stats(journal_t *j, struct journal_stats *out);

/*
 * Write zeroes ahead: when a record of at most JOURNAL_AHEAD_REC bytes
 * does not fit before the end of the file, first extend the file with
 * zeroes to bytes past it (0, the default: the file grows by each record).
 * Not in a version 1 file (its reader takes nothing after damage).  See
 * journal.c, "Room written ahead".
 */
void journal_set_ahead(journal_t *j, uint64_t bytes);

/*
 * Test hook: sleep usec before every fdatasync of journal_sync, as a slow
 * disk would, so tests can see group commit on any file system (on tmpfs
 * a sync costs nothing and threads rarely overlap).
 */
void journal_set_sync_delay(journal_t *j, unsigned usec);

/*
 * Test hook: fn(ctx) runs in journal_rotate once the records up to the
 * end seen at its start are copied and synced, before the rest is copied
 * under the lock (appends go on meanwhile).  NULL removes it.  Set it
 * while no rotation runs.
 */
void journal_set_rotate_hook(journal_t *j, void (*fn)(void *ctx), void *ctx);

/*
 * Test hook: journal_sync's fdatasync fails with sync_err, appends fail
 * with write_err, and with trunc_fails cutting a failed append back fails
 * too (0 / false: normal).  A disk that fails on demand, for the unit
 * tests; the e2e tests use the LD_PRELOAD shim (tests/faultshim.c).
 */
void journal_set_faults(journal_t *j, int sync_err, int write_err, bool trunc_fails);

/* Fill a record header for (lsn, payload) into hdr, synced lsn 0; for
 * tests and tools. */
void journal_frame(uint8_t hdr[JOURNAL_REC_HDR], uint64_t lsn, const void *payload, size_t len);
/* The same with a synced lsn. */
void journal_frame_synced(uint8_t hdr[JOURNAL_REC_HDR], uint64_t lsn, uint64_t synced,
			  const void *payload, size_t len);
/* A version 1 record header. */
void journal_frame_v1(uint8_t hdr[JOURNAL_REC_HDR_V1], uint64_t lsn, const void *payload,
		      size_t len);
/* Fill a file header; for tests and tools. */
void journal_file_header(uint8_t hdr[JOURNAL_HDR_SIZE], uint32_t version, uint64_t start_lsn);

#endif
