/*
 * store.c - a database on disk: lock, snapshot, journal, recovery
 * (store.h; formats in journal.h, snap.h and docs/formats.md).
 *
 * A store directory holds:
 *   snapshot.json  the database as of some lsn S (snap.h)
 *   journal        records of changes; those with lsn > S are replayed
 *   lock           flock()ed while open: exclusively by a read-write open,
 *                  shared by read-only ones; holds the writer's pid
 * and, transiently, snapshot.json.tmp and journal.new (removed on open),
 * and journal.torn-<lsn> files: damaged journal tails set aside at open.
 *
 * Write path.  The store is the database's log (db.h): db_apply() calls
 * log_append() under the tables' write locks, with every change of the
 * operation; we render them as one JSON payload and append one journal
 * record.  If that fails the operation fails with nothing applied.  After
 * the locks are dropped db_apply() calls log_sync(), which with
 * fsync=always waits for the record to be on disk (group commit: see
 * journal.c), with fsync=batch returns at once (a thread syncs every
 * second) and with fsync=off leaves it to the kernel.  An answer that
 * writes nothing (a no-op, a failed condition) still syncs: db_apply calls
 * log_sync(DB_LSN_ALL), because the state it read may hold changes whose
 * writers are still waiting for their sync.
 *
 * Snapshots without stopping the world.  A snapshot must not block readers
 * or writers for its duration, so it is *fuzzy*: we read the journal's
 * last lsn L0 (and its end offset), then copy every table, a chunk of
 * items per read-lock hold (snap.c), while writers keep going.  The file
 * says lsn = L0.  Why replaying the journal from L0+1 over it gives
 * exactly the database:
 *
 *   1. A record is appended (getting its lsn) under the write locks of the
 *      tables it touches and applied to memory before they are released.
 *      So when a chunk of table T is read under T's read lock, T's state is
 *      "all records touching T up to some lsn", and for a chunk read after
 *      we noted L0 that lsn is >= L0.  Hence every item (key) in the
 *      snapshot has the value it had after some lsn L_k >= L0, and every
 *      key that existed throughout is in it (chunks resume after the last
 *      key seen, so an untouched key is never skipped).
 *   2. Journal changes are full-item puts and deletes by key, so replaying
 *      records L0+1..end leaves each key with the value of the *last*
 *      record touching it, whatever value it started from.  A key touched
 *      by no record after L0 was not changed after L0, so its snapshot
 *      value is its value at L0 and also its final value.  Deletes of a
 *      key that is already absent are accepted as no-ops on replay.
 *   3. This needs replay to accept every record, which it does as long as
 *      the table set and schemas it replays against are the ones the
 *      records were written against.  Those only change through records
 *      tagged as schema changes (create/drop/set schema).  So the snapshot
 *      is discarded and retried if any tagged record has lsn > L0 when the
 *      copy ends (journal_position's marked lsn).  Without such a record
 *      the table set and every schema were constant from L0 to the end of
 *      the copy, the header's schemas are the ones of L0, every item copied
 *      was valid under them, and each replayed record meets the schema it
 *      was first applied under.
 *   4. THE RULE: a snapshot never becomes durable before every change it
 *      may contain is durable in the journal.  Changes after L0 copied
 *      into it (rule 1) are replayed from the journal; if a power loss
 *      took their records but left the snapshot, the snapshot would hold
 *      part of a transaction whose record is gone (one of its two puts).
 *      So after the copy we note the last lsn L1 and journal_sync(L1)
 *      before the rename.  If L1 == L0 nothing was appended during the
 *      copy: the snapshot holds every change up to L0 whole and needs
 *      nothing from the journal (which is how a snapshot can rescue a
 *      journal that can no longer be synced, below).
 *
 * After the new snapshot is renamed into place (and the directory synced)
 * the journal is rotated: journal.new gets the records with lsn > L0 (at
 * least those written during the copy), is synced and renamed over the
 * journal.  A crash between the two renames leaves the new snapshot with
 * the old journal, whose records <= L0 are skipped at replay: harmless.
 * A failed rotation is reported (the snapshot stands, the old journal
 * still covers it), so the snapshot thread pauses SNAP_RETRY_SEC instead
 * of snapshotting again on every write of a journal that stays large.
 *
 * When the disk fails (docs/formats.md, "Guarantees").  Nothing is ever
 * reported in a way the disk may contradict later:
 *   - An append that fails is cut back: the change is refused with the
 *     write's errno (ENOSPC for a full disk) and nothing applied; the
 *     next write tries again.  If the cut fails too the journal is broken.
 *   - A sync that fails (fdatasync: EIO, ENOSPC...) leaves the change in
 *     memory and the page cache untrustworthy.  rescue() writes a fresh
 *     snapshot (which holds the change, rule 4's L1 == L0 case) and a
 *     fresh journal; then the change is durable and the writer succeeds.
 *   - If that fails too, under fsync=always, the writer is told its change
 *     failed although readers may already see it and the disk may still
 *     get it: nobody can say.  So the store stops (fail-stop, as
 *     PostgreSQL does after a failed fsync): no writes, no snapshot from
 *     memory ever again (diverged), a "STOPPED" status saying to remount.
 *     After a remount the store holds every acknowledged change.
 *   - Otherwise (a broken journal with no change in doubt, or fsync=batch
 *     where nobody was told of a failure) the store refuses writes and the
 *     snapshot thread retries the rescue, backing off RESCUE_RETRY_MIN ..
 *     RESCUE_RETRY_MAX seconds, until writes work again ("recovered").
 *   Every change of state is a status line (store_get_status, and the
 *   status callback: /_errors in the filesystem).
 *
 * Recovery at open: store_recover.c.
 */
#include "storeint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "snap.h"
#include "storefile.h"
#include "storefmt.h"

char *store_path(const struct store *st, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", st->dir, name) < 0)
		return NULL;
	return p;
}

/* ---- status ---- */

/*
 * Set the status line and queue it for the status callback, or print it
 * on stderr if there is none.  Callers may hold snap_mu; the callback
 * (which may notify the kernel) runs later, from status_flush(), with no
 * store lock held.
 */
static void status_set(struct store *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void status_set(struct store *st, int code, const char *fmt, ...)
{
	char msg[STORE_STATUS_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&st->bg_mu);
	snprintf(st->status, sizeof(st->status), "%s", msg);
	if (st->status_fn) {
		if (st->npending == 4) {
			memmove(st->pending[0], st->pending[1], sizeof(st->pending[0]) * 3);
			memmove(&st->pending_code[0], &st->pending_code[1], sizeof(int) * 3);
			st->npending--;
		}
		snprintf(st->pending[st->npending], STORE_STATUS_MAX, "%s", msg);
		st->pending_code[st->npending++] = code;
	}
	pthread_mutex_unlock(&st->bg_mu);
	if (!st->status_fn)
		fprintf(stderr, "dynfs: %s\n", msg);
}

/* Give queued status lines to the callback; call with no store lock held. */
static void status_flush(struct store *st)
{
	char msg[STORE_STATUS_MAX];
	int code;

	for (;;) {
		pthread_mutex_lock(&st->bg_mu);
		if (!st->npending) {
			pthread_mutex_unlock(&st->bg_mu);
			return;
		}
		memcpy(msg, st->pending[0], sizeof(msg));
		code = st->pending_code[0];
		memmove(st->pending[0], st->pending[1], sizeof(st->pending[0]) * 3);
		memmove(&st->pending_code[0], &st->pending_code[1], sizeof(int) * 3);
		st->npending--;
		pthread_mutex_unlock(&st->bg_mu);
		st->status_fn(st->status_ctx, code, msg);
	}
}

static void hook(struct store *st, enum store_hook_point p)
{
	if (st->hook)
		st->hook(st->hook_ctx, p);
}

/* ---- the log hooks ---- */

/* The journal outgrew the snapshot: journal > max(snapshot, snap_min). */
static bool snapshot_due(struct store *st)
{
	uint64_t end, limit, min;

	journal_position(st->j, NULL, &end, NULL);
	limit = __atomic_load_n(&st->snap_bytes, __ATOMIC_RELAXED);
	min = __atomic_load_n(&st->snap_min, __ATOMIC_RELAXED);
	return end > (limit > min ? limit : min);
}

static void want_snapshot(struct store *st)
{
	pthread_mutex_lock(&st->bg_mu);
	if (!st->snap_wanted) {
		st->snap_wanted = true;
		pthread_cond_broadcast(&st->bg_cv);
	}
	pthread_mutex_unlock(&st->bg_mu);
}

static int snapshot_locked(struct store *st, struct dyn_err *err);

/*
 * The journal refuses appends (a failed write could not be undone, or a
 * sync failed).  Under snap_mu: note it once, and wake the snapshot
 * thread, which retries (rescue_main) unless a change is in doubt.
 */
static void journal_failed_locked(struct store *st, int code)
{
	if (st->failed)
		return;
	st->failed = code;
	st->rescue_wait = RESCUE_RETRY_MIN;
	status_set(st, code,
		   "store %s: the journal could not be written or synced (%s); the store is "
		   "refusing writes (reads go on) and retries with a fresh snapshot and journal "
		   "every few seconds; free space or fix the disk",
		   st->dir, strerror(code));
	want_snapshot(st);
}

/* Records up to this size keep their buffer for the next one. */
#define LOGBUF_KEEP (1u << 20)

static int log_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct store *st = ctx;
	struct sf_buf own = SF_BUF_INIT, *b = &own;
	struct journal_stats js;
	bool mark = false, shared;
	size_t i;
	int rc;

	/*
	 * The record is rendered into the store's kept buffer, so a stream of
	 * writes allocates nothing for it; a writer that finds the buffer in
	 * use (another table's writer, at the same moment) renders into its
	 * own.  trylock: never waits, never nests with the journal's locks.
	 */
	shared = pthread_mutex_trylock(&st->logbuf_mu) == 0;
	if (shared)
		b = &st->logbuf;
	b->len = 0;
	/* room for the record header, filled in by journal_append */
	rc = sf_buf_grow(b, JOURNAL_REC_HDR + 256);
	if (rc < 0)
		goto out;
	memset(b->p, 0, JOURNAL_REC_HDR);
	b->len = JOURNAL_REC_HDR;
	rc = sf_changes_render(b, ch, n);
	if (rc == 0)
		rc = sf_buf_addc(b, '\n');
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (ch[i].kind != DB_CH_PUT && ch[i].kind != DB_CH_DELETE)
			mark = true;
	rc = journal_append(st->j, (uint8_t *)b->p, b->len - JOURNAL_REC_HDR, mark, lsn);
	if (rc < 0) {
		/* nothing of the change was applied; a cleanly refused write (ENOSPC
		 * with the file cut back) leaves the journal usable for the next */
		journal_stats(st->j, &js);
		if (js.broken) {
			pthread_mutex_lock(&st->snap_mu);
			journal_failed_locked(st, js.broken);
			pthread_mutex_unlock(&st->snap_mu);
			status_flush(st);
		}
		goto out;
	}
	if (snapshot_due(st))
		want_snapshot(st);
out:
	if (!shared || b->cap > LOGBUF_KEEP)
		sf_buf_free(b);
	if (shared)
		pthread_mutex_unlock(&st->logbuf_mu);
	return rc;
}

/*
 * At most one rescue snapshot per RESCUE_RETRY_MIN seconds: a disk whose
 * journal syncs keep failing must not turn every write into a full
 * snapshot.  Writers arriving meanwhile are refused (the journal is
 * broken) or covered by the next rescue.
 */
static void rescue_pace(struct store *st)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - st->last_rescue.tv_sec) * 1000 +
	     (now.tv_nsec - st->last_rescue.tv_nsec) / 1000000;
	if (st->last_rescue.tv_sec && ms >= 0 && ms < RESCUE_RETRY_MIN * 1000)
		usleep((useconds_t)(RESCUE_RETRY_MIN * 1000 - ms) * 1000);
	clock_gettime(CLOCK_MONOTONIC, &st->last_rescue);
}

/*
 * A sync failed with change lsn in memory.  Make it durable another way:
 * a fresh snapshot (of memory, which holds it) and a fresh journal.  If a
 * snapshot covering lsn is on disk the change is durable: 0.  Otherwise
 * nobody can say whether the change will survive, so the store stops for
 * good (fail-stop): writes are refused until it is remounted, no snapshot
 * is written from memory again, and the caller reports the failure.
 */
static int rescue(struct store *st, uint64_t lsn, int code)
{
	struct dyn_err e;
	char buf[600];
	int rc = 0;

	pthread_mutex_lock(&st->snap_mu);
	journal_failed_locked(st, code);
	if (st->snap_lsn >= lsn)
		goto out; /* a snapshot since the failure holds the change */
	err_clear(&e);
	rescue_pace(st);
	if (!st->diverged && snapshot_locked(st, &e) == 0) {
		st->failed = 0;
		status_set(st, 0,
			   "store %s: recovered: the changes the journal could not sync are "
			   "durable in a fresh snapshot, and a fresh journal accepts writes again",
			   st->dir);
		goto out;
	}
	if (st->snap_lsn >= lsn && !st->diverged)
		goto out; /* the snapshot stands; only trimming the journal failed */
	rc = -code;
	if (!st->in_doubt && st->opts.fsync == STORE_FSYNC_ALWAYS) {
		st->in_doubt = st->diverged = true;
		status_set(st, code,
			   "store %s: STOPPED: a change could not be made durable (journal sync: "
			   "%s; fresh snapshot: %s); its writer was told it failed, but it is visible "
			   "until unmount and may or may not be on disk.  No more writes are "
			   "accepted.  Unmount, fix the disk, and mount again: the store then holds "
			   "every change that was acknowledged",
			   st->dir, strerror(code), e.code ? err_format(&e, buf, sizeof(buf)) : "-");
	}
out:
	pthread_mutex_unlock(&st->snap_mu);
	status_flush(st);
	return rc;
}

static int log_sync(void *ctx, uint64_t lsn)
{
	struct store *st = ctx;
	int rc;

	if (st->opts.fsync != STORE_FSYNC_ALWAYS)
		return 0;
	if (lsn == DB_LSN_ALL)
		journal_position(st->j, &lsn, NULL, NULL);
	rc = journal_sync(st->j, lsn);
	if (rc == 0)
		return 0;
	return rescue(st, lsn, -rc);
}

/* ---- background threads ---- */

/*
 * Sleep sec seconds or until stop; returns true if stopping.  Snapshot
 * requests (which also signal bg_cv) do not cut the sleep short: that is
 * what makes a pause after a failure a pause.
 */
static bool bg_wait(struct store *st, int sec)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += sec;
	pthread_mutex_lock(&st->bg_mu);
	while (!st->bg_stop && pthread_cond_timedwait(&st->bg_cv, &st->bg_mu, &ts) != ETIMEDOUT)
		;
	stop = st->bg_stop;
	pthread_mutex_unlock(&st->bg_mu);
	return stop;
}

static void *sync_main(void *arg)
{
	struct store *st = arg;
	struct journal_stats js;
	int rc;

	while (!bg_wait(st, 1)) {
		journal_stats(st->j, &js);
		if (js.last_lsn > js.synced_lsn && !js.broken &&
		    (rc = journal_sync(st->j, js.last_lsn)) < 0)
			/* acknowledged changes are in memory: make them durable by a snapshot */
			rescue(st, js.last_lsn, -rc);
	}
	return NULL;
}

/*
 * The journal failed and no change is in doubt: retry a fresh snapshot
 * and journal, backing off from RESCUE_RETRY_MIN to RESCUE_RETRY_MAX
 * seconds.  Returns true if the store works again.
 */
static bool rescue_retry(struct store *st)
{
	struct dyn_err e;
	char buf[600];
	int rc;

	pthread_mutex_lock(&st->snap_mu);
	if (!st->failed || st->diverged) {
		pthread_mutex_unlock(&st->snap_mu);
		return !st->failed;
	}
	err_clear(&e);
	rc = snapshot_locked(st, &e);
	if (rc == 0) {
		st->failed = 0;
		status_set(st, 0,
			   "store %s: recovered: a fresh snapshot and journal were written; writes "
			   "are accepted again",
			   st->dir);
		pthread_mutex_unlock(&st->snap_mu);
		status_flush(st);
		return true;
	}
	if (st->rescue_wait < RESCUE_RETRY_MAX)
		st->rescue_wait *= 2;
	pthread_mutex_unlock(&st->snap_mu);
	fprintf(stderr, "dynfs: store %s: still refusing writes: %s\n", st->dir,
		err_format(&e, buf, sizeof(buf)));
	return false;
}

static void *snap_main(void *arg)
{
	struct store *st = arg;
	struct dyn_err err;
	char buf[600];
	int wait;

	pthread_mutex_lock(&st->bg_mu);
	while (!st->bg_stop) {
		if (!st->snap_wanted) {
			pthread_cond_wait(&st->bg_cv, &st->bg_mu);
			continue;
		}
		/* requests made while this one runs are kept, and re-checked */
		st->snap_wanted = false;
		pthread_mutex_unlock(&st->bg_mu);
		pthread_mutex_lock(&st->snap_mu);
		wait = st->failed && !st->diverged ? st->rescue_wait : 0;
		pthread_mutex_unlock(&st->snap_mu);
		if (wait) {
			/* rate-limited: one retry per wait, however many writes ask */
			if (bg_wait(st, wait))
				break;
			if (!rescue_retry(st))
				want_snapshot(st);
		} else {
			err_clear(&err);
			if (snapshot_due(st) && store_snapshot(st, &err) < 0) {
				fprintf(stderr, "dynfs: automatic snapshot failed: %s\n",
					err_format(&err, buf, sizeof(buf)));
				bg_wait(st, SNAP_RETRY_SEC);
			}
		}
		pthread_mutex_lock(&st->bg_mu);
	}
	pthread_mutex_unlock(&st->bg_mu);
	return NULL;
}

static int threads_start(struct store *st)
{
	if (pthread_create(&st->snap_thread, NULL, snap_main, st) != 0)
		return -EAGAIN;
	st->have_snap_thread = true;
	if (st->opts.fsync == STORE_FSYNC_BATCH) {
		if (pthread_create(&st->sync_thread, NULL, sync_main, st) != 0)
			return -EAGAIN;
		st->have_sync_thread = true;
	}
	return 0;
}

static void threads_stop(struct store *st)
{
	pthread_mutex_lock(&st->bg_mu);
	st->bg_stop = true;
	pthread_cond_broadcast(&st->bg_cv);
	pthread_mutex_unlock(&st->bg_mu);
	if (st->have_snap_thread)
		pthread_join(st->snap_thread, NULL);
	if (st->have_sync_thread)
		pthread_join(st->sync_thread, NULL);
	st->have_snap_thread = st->have_sync_thread = false;
}

/* ---- snapshots ---- */

/*
 * Under snap_mu: write, check, sync the journal, commit, rotate.  See the
 * header comment; the journal sync before the commit is rule 4.
 */
static int snapshot_locked(struct store *st, struct dyn_err *err)
{
	struct snap_info si;
	uint64_t lsn0, off0, lsn1, marked;
	int attempt, rc;

	for (attempt = 0; attempt < SNAP_ATTEMPTS; attempt++) {
		journal_position(st->j, &lsn0, &off0, NULL);
		hook(st, STORE_HOOK_SNAP_BEGIN);
		rc = snap_write(st->dir, st->db, lsn0, &si, err);
		if (rc == -EAGAIN) {
			err_clear(err);
			continue;
		}
		if (rc < 0)
			return rc;
		hook(st, STORE_HOOK_SNAP_WRITTEN);
		journal_position(st->j, &lsn1, NULL, &marked);
		if (marked > lsn0) {
			/* a table was created, dropped or changed during the copy */
			snap_discard(st->dir);
			continue;
		}
		/*
		 * The copy may hold changes up to lsn1 (those made while it ran):
		 * they must be durable in the journal before the snapshot is.
		 * When nothing was appended during the copy (lsn1 == lsn0) the
		 * snapshot holds every change up to lsn0 whole and needs nothing
		 * from the journal - which is what lets a fresh snapshot rescue a
		 * journal that can no longer be synced.
		 */
		if (lsn1 > lsn0) {
			rc = journal_sync(st->j, lsn1);
			if (rc < 0) {
				snap_discard(st->dir);
				if (attempt + 1 < SNAP_ATTEMPTS && st->failed)
					continue; /* appends have stopped: the next copy is whole */
				return err_set(err, -rc,
					       "snapshot not written: the journal could not be "
					       "synced first: %s",
					       strerror(-rc));
			}
		}
		rc = snap_commit(st->dir, err);
		if (rc < 0)
			return rc;
		st->snap_lsn = lsn0;
		st->snapshots++;
		st->unlogged = false;
		__atomic_store_n(&st->snap_bytes, si.bytes, __ATOMIC_RELAXED);
		hook(st, STORE_HOOK_SNAP_COMMITTED);
		rc = journal_rotate(st->j, lsn0, off0, err);
		if (rc < 0)
			/*
			 * The snapshot stands and the old journal still covers
			 * it, so nothing is lost; but the journal keeps its size,
			 * so report the failure (the snapshot thread then waits
			 * SNAP_RETRY_SEC instead of snapshotting on every write).
			 */
			return rc;
		hook(st, STORE_HOOK_ROTATED);
		return 0;
	}
	return err_set(err, EAGAIN,
		       "snapshot abandoned: tables were created, dropped or changed their schema "
		       "during %d attempts; the journal still holds every change",
		       SNAP_ATTEMPTS);
}

int store_snapshot(store_t *st, struct dyn_err *err)
{
	int rc;

	if (!st->j)
		return err_set(err, EROFS, "store %s is open read-only", st->dir);
	pthread_mutex_lock(&st->snap_mu);
	if (st->diverged)
		rc = err_set(err, EIO,
			     "store %s: memory no longer matches the disk (%s); not writing a "
			     "snapshot",
			     st->dir,
			     st->in_doubt ? "a change that could not be made durable is in memory"
					  : "a bulk load failed");
	else
		rc = snapshot_locked(st, err);
	if (rc == 0 && st->failed) {
		st->failed = 0;
		status_set(st, 0,
			   "store %s: recovered: a fresh snapshot and journal were written; writes "
			   "are accepted again",
			   st->dir);
	}
	pthread_mutex_unlock(&st->snap_mu);
	status_flush(st);
	return rc;
}

/* crashed: the journal is left as a crash would leave it (store_abandon) */
static void store_free(struct store *st, bool crashed)
{
	if (crashed)
		journal_abandon(st->j);
	else
		journal_close(st->j);
	if (st->db)
		db_free(st->db);
	store_lock_release(st);
	pthread_mutex_destroy(&st->snap_mu);
	sf_buf_free(&st->logbuf);
	pthread_mutex_destroy(&st->logbuf_mu);
	pthread_mutex_destroy(&st->bg_mu);
	pthread_cond_destroy(&st->bg_cv);
	free(st->dir);
	free(st);
}

int store_open(const char *dir, const struct store_opts *opts, store_t **out, db_t **dbp,
	       struct dyn_err *err)
{
	static const struct store_opts defaults = {STORE_FSYNC_ALWAYS, false, true};
	struct store *st;
	struct stat sb;
	const char *env;
	uint64_t ahead;
	int rc;

	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return err_set(err, ENOENT, "store %s: no such directory", dir);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->lockfd = -1;
	st->opts = opts ? *opts : defaults;
	st->snap_min = SNAP_MIN_DEFAULT;
	env = getenv("DYNFS_SNAPSHOT_MIN");
	if (env && *env)
		st->snap_min = strtoull(env, NULL, 10);
	pthread_mutex_init(&st->snap_mu, NULL);
	pthread_mutex_init(&st->logbuf_mu, NULL);
	pthread_mutex_init(&st->bg_mu, NULL);
	pthread_cond_init(&st->bg_cv, NULL);
	st->dir = strdup(dir);
	if (!st->dir) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = store_lock_take(st, err);
	if (rc < 0)
		goto out_free;
	if (!st->opts.readonly)
		store_remove_temp_files(st);
	rc = db_new(&st->db);
	if (rc < 0)
		goto out_free;
	rc = store_recover(st, err);
	if (rc < 0)
		goto out_free;
	if (st->j) {
		/* room written ahead pays off where every record is synced */
		ahead = st->opts.fsync == STORE_FSYNC_ALWAYS ? JOURNAL_AHEAD : 0;
		env = getenv("DYNFS_JOURNAL_AHEAD");
		if (env && *env) {
			char *endp;
			unsigned long long v;

			errno = 0;
			v = strtoull(env, &endp, 10);
			if (errno || *endp || *env < '0' || *env > '9' || v > 64u << 20)
				fprintf(stderr,
					"dynfs: DYNFS_JOURNAL_AHEAD=%s is not a number of bytes "
					"up to 64 MiB; using %llu\n",
					env, (unsigned long long)ahead);
			else
				ahead = v;
		}
		journal_set_ahead(st->j, ahead);
		st->log.append = log_append;
		st->log.sync = log_sync;
		st->log.ctx = st;
		db_set_log(st->db, &st->log);
		rc = threads_start(st);
		if (rc < 0) {
			threads_stop(st);
			goto out_free;
		}
	}
	*out = st;
	*dbp = st->db;
	return 0;
out_free:
	store_free(st, false);
	return rc;
}

/* ---- closing, bulk loads, stats ---- */

int store_close(store_t *st, struct dyn_err *err)
{
	struct journal_stats js;
	int rc = 0;

	if (!st)
		return 0;
	threads_stop(st);
	if (st->j) {
		journal_stats(st->j, &js);
		pthread_mutex_lock(&st->snap_mu);
		/* skip the snapshot when it would be identical to the one on disk */
		if (!st->diverged &&
		    (js.last_lsn != st->snap_lsn || js.bytes > JOURNAL_HDR_SIZE || st->unlogged))
			rc = snapshot_locked(st, err);
		pthread_mutex_unlock(&st->snap_mu);
		if (rc < 0 && !st->diverged)
			journal_sync(st->j, js.last_lsn);
		db_set_log(st->db, NULL);
	}
	store_free(st, false);
	return rc;
}

void store_abandon(store_t *st)
{
	if (!st)
		return;
	threads_stop(st);
	if (st->j)
		db_set_log(st->db, NULL);
	store_free(st, true);
}

int store_bulk(store_t *st, store_bulk_fn fn, void *ctx, struct dyn_err *err)
{
	int rc;

	if (!st->j)
		return err_set(err, EROFS, "store %s is open read-only", st->dir);
	db_set_log(st->db, NULL);
	pthread_mutex_lock(&st->snap_mu);
	st->unlogged = true;
	pthread_mutex_unlock(&st->snap_mu);
	rc = fn(ctx, st->db, err);
	db_set_log(st->db, &st->log);
	pthread_mutex_lock(&st->snap_mu);
	if (rc == 0 && !st->diverged)
		rc = snapshot_locked(st, err);
	if (rc < 0)
		st->diverged = true;
	pthread_mutex_unlock(&st->snap_mu);
	return rc;
}

void store_get_stats(store_t *st, struct store_stats *out)
{
	struct journal_stats js = {0};

	memset(out, 0, sizeof(*out));
	if (st->j)
		journal_stats(st->j, &js);
	out->last_lsn = js.last_lsn;
	out->synced_lsn = js.synced_lsn;
	out->appends = js.appends;
	out->syncs = js.syncs;
	out->journal_bytes = js.bytes;
	out->synced_bytes = js.synced_bytes;
	out->torn_tail = st->torn_seen;
	pthread_mutex_lock(&st->snap_mu);
	out->snapshot_lsn = st->snap_lsn;
	out->snapshots = st->snapshots;
	out->failed = st->failed;
	out->stopped = st->in_doubt;
	pthread_mutex_unlock(&st->snap_mu);
	out->snapshot_bytes = __atomic_load_n(&st->snap_bytes, __ATOMIC_RELAXED);
}

void store_set_sync_delay(store_t *st, unsigned usec)
{
	if (st->j)
		journal_set_sync_delay(st->j, usec);
}

static void rotate_hook(void *ctx)
{
	hook(ctx, STORE_HOOK_ROTATE_COPIED);
}

void store_set_test_hook(store_t *st, store_hook_fn fn, void *ctx)
{
	st->hook = fn;
	st->hook_ctx = ctx;
	if (st->j)
		journal_set_rotate_hook(st->j, fn ? rotate_hook : NULL, st);
}

void store_set_faults(store_t *st, int sync_err, int write_err, bool trunc_fails)
{
	if (st->j)
		journal_set_faults(st->j, sync_err, write_err, trunc_fails);
}

uint64_t store_synced_bytes(store_t *st)
{
	struct journal_stats js = {0};

	if (st->j)
		journal_stats(st->j, &js);
	return js.synced_bytes;
}

void store_set_status_fn(store_t *st, store_status_fn fn, void *ctx)
{
	st->status_fn = fn;
	st->status_ctx = ctx;
}

void store_get_status(store_t *st, char *buf, size_t size)
{
	pthread_mutex_lock(&st->bg_mu);
	snprintf(buf, size, "%s", st->status);
	pthread_mutex_unlock(&st->bg_mu);
}

void store_set_snapshot_min(store_t *st, uint64_t min_bytes)
{
	__atomic_store_n(&st->snap_min, min_bytes, __ATOMIC_RELAXED);
}
