/*
 * feed.h - the change feed: every committed put and delete, in commit
 * order, with both images, for readers that follow it (SPEC §11).
 *
 * Source.  db_apply() is the only write path, so it is the only producer:
 * while it holds the write locks of the tables it changes, right after the
 * journal accepted the change, it appends one record per changed item to
 * the database's feed (feed_t, one per db_t).  Records are numbered by a
 * sequence number taken under the feed's own mutex inside those locks, so
 *
 *   - two changes of one item are numbered in the order they committed
 *     (both held that item's table lock while being numbered);
 *   - the numbering is one total order over every table: changes of
 *     different tables commute, and the feed mutex serialises them;
 *   - the changes of one db_apply() get consecutive numbers and share a
 *     transaction id (the first one's seq) when there are several.
 *
 * What a record holds is cheap to take under the locks: byte copies of the
 * old and new stored records (no decoding, no rendering) and a reference
 * to the table's key schema.  Decoding and rendering happen in the reader.
 *
 * Retention.  A bounded in-memory ring (FEED_RING_DEFAULT records, at most
 * FEED_BYTES_DEFAULT bytes of images): the oldest record goes when either
 * bound is reached.  Nothing else is kept: the journal holds new images
 * only (docs/formats.md), so old images cannot be rebuilt after a restart.
 * Sequence numbers survive restarts (feed_set_next_seq, fed by a counter
 * the store keeps - see feed_seqfile_* below), so a `since` that is no
 * longer retained is always detected: feed_cursor_new() fails with -ERANGE
 * and a message naming the oldest sequence number still available.  Never
 * a silent skip.
 *
 * Readers.  A cursor is a position (the next seq it will return) plus an
 * optional table filter.  Readers never block writers: a writer only
 * appends to the ring and, after its locks are released, calls the
 * subscribers (feed_subscribe), which must return quickly (the FUSE layer
 * wakes its own thread).  The ring is every reader's buffer: a cursor
 * whose next record was dropped before it read it is cut off:
 * feed_next() returns -EOVERFLOW, feed_cursor_lost() is the first seq it
 * missed and feed_cursor_pos() the oldest still retained, from where a
 * new cursor (since = that seq) goes on.  Writers never wait for readers.
 *
 * Invariants (feed->mu):
 *   first_seq <= next_seq; records first_seq .. next_seq-1 are in the ring
 *   at ring[seq & (cap-1)]; next_seq - first_seq <= cap; bytes is the sum
 *   of their charges; a record is immutable once in the ring and freed
 *   when its last reference (ring or reader) goes.
 */
#ifndef DYNFS_FEED_H
#define DYNFS_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "val.h"

typedef struct feed feed_t;
typedef struct feed_cursor feed_cursor_t;

#define FEED_RING_DEFAULT 65536	       /* records retained */
#define FEED_BYTES_DEFAULT (64u << 20) /* bytes of images retained */
#define FEED_SEQ_BLOCK 1000000	       /* seqs reserved on disk at a time */
#define FEED_OLDEST UINT64_MAX	       /* since: the oldest retained (TRIM_HORIZON) */

enum feed_op {
	FEED_PUT,    /* an item was stored (created or replaced) */
	FEED_DELETE, /* an item was removed */
};

/* One change, decoded (feed_next).  Everything is owned: feed_change_free. */
struct feed_change {
	uint64_t seq;	   /* sequence number, > 0, unique in the store */
	int64_t time_ns;   /* commit time (CLOCK_REALTIME) */
	uint64_t tx;	   /* shared by the changes of one db_apply(); 0 if alone */
	enum feed_op op;   /* put or delete */
	bool by_ttl;	   /* a TTL expiry (DB_BY_TTL) */
	char *table;	   /* table name */
	uint64_t table_id; /* tbl_id() of the table */
	char *pk_name;	   /* key attribute names (sk_name NULL if none) */
	char *sk_name;
	struct val keys; /* M: the key attributes */
	struct val old;	 /* M: the item before, VAL_NULL if it did not exist */
	struct val new;	 /* M: the item after, VAL_NULL for a delete */
};
void feed_change_free(struct feed_change *c);

/*
 * The change as one JSON line (new, NUL-terminated, ends in '\n'):
 *   {"seq":N,"time":"2026-12-06T06:50:01.123456Z","table":"users",
 *    "op":"put","keys":{...},"old":{...},"new":{...},"tx":N,"by":"ttl"}
 * "table" only if with_table; "old" absent for a new item, "new" absent
 * for a delete; "tx" only for a change of a multi-change db_apply();
 * "by" only for TTL deletes.  Images in the canonical compact form of
 * item files.  -ENOMEM.
 */
int feed_change_line(const struct feed_change *c, bool with_table, char **out, size_t *len);
/*
 * The "time" of a line for a commit time (ns since the epoch, UTC):
 * "2026-12-06T06:50:01.123456Z" into out (FEED_TIME_MAX bytes), its
 * length returned.  gmtime_r + strftime's text, computed directly.
 */
#define FEED_TIME_MAX 48
size_t feed_time_text(int64_t ns, char *out);

/* The database's feed (borrowed; lives as long as the db). */
feed_t *db_feed(db_t *db);

/* Retention bounds (tests and startup): records (>= 2) and bytes (0: the
 * default).  Drops records beyond the new bounds. */
void feed_set_limits(feed_t *f, size_t max_recs, size_t max_bytes);

/* The next seq to be assigned and the oldest still retained. */
void feed_bounds(feed_t *f, uint64_t *first_seq, uint64_t *next_seq);

/*
 * Start numbering at seq (at startup, before any change; an empty ring).
 * The changes before it are then "not retained".
 */
void feed_set_next_seq(feed_t *f, uint64_t seq);

/*
 * Called (under the feed mutex, so quickly) when the next seq reaches
 * `limit`; returns the new limit (> next seq) after making it durable.
 * Used to persist the counter a block at a time (FEED_SEQ_BLOCK).
 */
typedef uint64_t (*feed_reserve_fn)(void *ctx, uint64_t next_seq);
void feed_set_reserve(feed_t *f, uint64_t limit, feed_reserve_fn fn, void *ctx);

/*
 * Subscribers are called after every db_apply() that appended records,
 * outside every engine lock, with the last seq appended.  They must not
 * block.  At most FEED_MAX_SUBS, registered at startup (not thread-safe).
 */
#define FEED_MAX_SUBS 8
typedef void (*feed_sub_fn)(void *ctx, uint64_t last_seq);
int feed_subscribe(feed_t *f, feed_sub_fn fn, void *ctx);

/*
 * A new cursor (new; feed_cursor_free).  table_id 0: every table, else
 * only changes of that table.  since 0: start at the current end (the
 * next change; DynamoDB's LATEST); FEED_OLDEST: at the oldest change
 * retained (TRIM_HORIZON); else the first change returned is the one
 * numbered since (or the first later one of the table).  -ERANGE (err names the oldest
 * retained seq) if since is older than what is retained; since > next
 * seq is -ERANGE too (a number never assigned).
 */
int feed_cursor_new(feed_t *f, uint64_t table_id, uint64_t since, feed_cursor_t **out,
		    struct dyn_err *err);
void feed_cursor_free(feed_cursor_t *c);

/*
 * The next change for c: 1 with *out filled (new), 0 if there is none yet,
 * -EOVERFLOW if the record c was to return next had been dropped (the
 * reader fell behind the ring): c returns -EOVERFLOW from then on, with
 * feed_cursor_lost() the first seq it missed and feed_cursor_pos() the
 * oldest one retained at that moment (where to resume).  -ENOMEM.
 */
int feed_next(feed_cursor_t *c, struct feed_change *out);
/*
 * feed_next() rendered (feed_change_line's bytes): 1 with *out new.  Each
 * record is rendered once however many readers ask (the line is kept
 * with it), straight from the stored records (no decoding).
 */
int feed_next_line(feed_cursor_t *c, bool with_table, char **out, size_t *len);
/*
 * The next lines for c without copying them: take(ctx, line, len) for
 * each of the (up to FEED_TAKE_MAX) next changes there are, fetched under
 * one lock of the feed and rendered outside it (once for every reader,
 * straight from the stored records); line is borrowed for the call.  The
 * number taken (0: none yet), -EOVERFLOW as feed_next() (only when none
 * was taken), -ENOMEM, or take's negative return when it refused the
 * first (the change take refuses is the next one again).  take returns 0
 * to go on, 1 when it took the line and wants no more this call (a byte
 * target reached), -errno to refuse it.
 */
#define FEED_TAKE_MAX 64
typedef int (*feed_take_fn)(void *ctx, const char *line, size_t len);
int feed_next_lines(feed_cursor_t *c, bool with_table, feed_take_fn take, void *ctx);
/* The next seq c would return; after -EOVERFLOW, where to resume. */
uint64_t feed_cursor_pos(const feed_cursor_t *c);
/* After -EOVERFLOW: the first seq c missed (0 before). */
uint64_t feed_cursor_lost(const feed_cursor_t *c);
/* True if a change for c may be available (cheap; no decoding). */
bool feed_cursor_ready(feed_cursor_t *c);

/*
 * A persisted counter: dir/changes.seq holds the first seq not yet handed
 * out (a block is reserved ahead, so a crash only skips numbers).
 * feed_seqfile_open() reads it, starts the feed there and (unless
 * readonly) reserves the next block; feed_seqfile_close() records the
 * exact next seq.  The file is one line of decimal digits.
 */
int feed_seqfile_open(feed_t *f, const char *dir, bool readonly, struct dyn_err *err);
void feed_seqfile_close(feed_t *f);

#endif
