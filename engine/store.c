/*
 * store.c - a database on disk: lock, snapshot, journal, recovery
 * (store.h; formats in journal.h, snap.h and docs/formats.md).
 *
 * A store directory holds:
 *   snapshot.json  the database as of some lsn S (snap.h)
 *   journal        records of changes; those with lsn > S are replayed
 *   lock           flock()ed while open: exclusively by a read-write open,
 *                  shared by read-only ones; holds the writer's pid
 * and, transiently, snapshot.json.tmp and journal.new (removed on open).
 *
 * Write path.  The store is the database's log (db.h): db_apply() calls
 * log_append() under the tables' write locks, with every change of the
 * operation; we render them as one JSON payload and append one journal
 * record.  If that fails the operation fails with nothing applied.  After
 * the locks are dropped db_apply() calls log_sync(), which with
 * fsync=always waits for the record to be on disk (group commit: see
 * journal.c), with fsync=batch returns at once (a thread syncs every
 * second) and with fsync=off leaves it to the kernel.
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
 *
 * After the new snapshot is renamed into place (and the directory synced)
 * the journal is rotated: journal.new gets the records with lsn > L0 (at
 * least those written during the copy), is synced and renamed over the
 * journal.  A crash between the two renames leaves the new snapshot with
 * the old journal, whose records <= L0 are skipped at replay: harmless.
 *
 * Recovery (store_open).  Take the lock; load the snapshot (every line
 * checked, checksum and end marker required); read the journal, which is
 * validated completely before any record is replayed; replay records with
 * lsn > S.  A torn last record is discarded with a warning and, on a
 * read-write open, cut off (it was never acknowledged).  A corrupt
 * snapshot, a checksum failure before the tail, a sequence gap or a
 * journal starting after S+1 refuse the open with -EINVAL naming file and
 * offset; a newer format version is -EPROTO.  Neither file is written
 * before all of that succeeded, and nothing unreadable is ever truncated,
 * overwritten or deleted.
 */
#include "store.h"

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

#define LOCK_NAME "lock"
#define SNAP_MIN_DEFAULT (16ull << 20) /* auto snapshot floor, bytes */
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

	pthread_mutex_t bg_mu;	 /* protects the next three */
	pthread_cond_t bg_cv;	 /* wakes the background threads */
	bool bg_stop;		 /* store_close: threads must exit */
	bool snap_wanted;	 /* the journal outgrew the snapshot */
	pthread_t snap_thread;	 /* runs automatic snapshots */
	pthread_t sync_thread;	 /* fsync=batch: syncs once a second */
	bool have_snap_thread;	 /* snap_thread was started */
	bool have_sync_thread;	 /* sync_thread was started */
};

static char *store_path(const struct store *st, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", st->dir, name) < 0)
		return NULL;
	return p;
}

/* ---- the lock file ---- */

/*
 * Format of dir/lock: empty, or the decimal pid of the read-write process
 * holding it and a newline.  The flock() is what counts; the pid is only
 * for the message another process shows.
 */
static int lock_take(struct store *st, struct dyn_err *err)
{
	char *path = store_path(st, LOCK_NAME), buf[32];
	ssize_t n;
	int fd, rc = 0;
	long pid;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, STF_FILE_MODE);
	if (fd < 0 && errno == ELOOP) {
		rc = err_set(err, ELOOP,
			     "store %s: lock file %s is a symbolic link; refusing to follow it",
			     st->dir, path);
		goto out;
	}
	if (fd < 0 && st->opts.readonly) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* read-only media without a lock file: nobody can write it either */
			st->lockfd = -1;
			goto out;
		}
	}
	if (fd < 0) {
		rc = err_set(err, errno, "store %s: cannot open lock file %s: %s", st->dir, path,
			     strerror(errno));
		goto out;
	}
	if (flock(fd, (st->opts.readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? EBUSY : errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		pid = strtol(buf, NULL, 10);
		if (rc == EBUSY && pid > 0)
			err_set(err, EBUSY,
				"store %s is in use by process %ld (lock file %s is held); "
				"unmount it first",
				st->dir, pid, path);
		else if (rc == EBUSY)
			err_set(err, EBUSY,
				"store %s is in use by another process (lock file %s is held)",
				st->dir, path);
		else
			err_set(err, rc, "store %s: flock: %s", st->dir, strerror(rc));
		close(fd);
		rc = -rc;
		goto out;
	}
	if (!st->opts.readonly) {
		n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
			rc = err_set(err, errno, "store %s: cannot write lock file: %s", st->dir,
				     strerror(errno));
			close(fd);
			goto out;
		}
	}
	st->lockfd = fd;
out:
	free(path);
	return rc;
}

static void lock_release(struct store *st)
{
	if (st->lockfd < 0)
		return;
	if (!st->opts.readonly && ftruncate(st->lockfd, 0) < 0) {
		/* a stale pid is only cosmetic: the flock goes with the fd */
	}
	close(st->lockfd);
	st->lockfd = -1;
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

static int log_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct store *st = ctx;
	struct sf_buf b = SF_BUF_INIT;
	struct journal_stats js;
	bool mark = false;
	size_t i;
	int rc;

	/* room for the record header, filled in by journal_append */
	rc = sf_buf_grow(&b, JOURNAL_REC_HDR + 256);
	if (rc < 0)
		return rc;
	memset(b.p, 0, JOURNAL_REC_HDR);
	b.len = JOURNAL_REC_HDR;
	rc = sf_changes_render(&b, ch, n);
	if (rc == 0)
		rc = sf_buf_addc(&b, '\n');
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (ch[i].kind != DB_CH_PUT && ch[i].kind != DB_CH_DELETE)
			mark = true;
	rc = journal_append(st->j, (uint8_t *)b.p, b.len - JOURNAL_REC_HDR, mark, lsn);
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
	sf_buf_free(&b);
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

/* ---- opening ---- */

struct replay_ctx {
	struct store *st;      /* target */
	const char *path;      /* journal path, for messages */
	const char *spath;     /* snapshot path, for messages */
	bool has_snap;	       /* the snapshot file exists */
	uint64_t after;	       /* the snapshot's lsn */
	bool started;	       /* a record was replayed */
	struct dyn_err *err;   /* caller's */
};

/* The first record replayed must follow the snapshot. */
static int replay_gap(struct replay_ctx *r, uint64_t lsn)
{
	if (!r->has_snap)
		return err_set(r->err, EINVAL,
			       "store %s: %s is missing and journal %s starts at lsn %llu: "
			       "changes 1..%llu are missing; refusing to open, nothing was changed "
			       "(restore %s from a backup, or export what the journal holds with "
			       "a copy of the store)",
			       r->st->dir, SNAP_NAME, r->path, (unsigned long long)lsn,
			       (unsigned long long)lsn - 1, SNAP_NAME);
	return err_set(r->err, EINVAL,
		       "journal %s starts at lsn %llu but %s covers only up to lsn %llu: changes "
		       "%llu..%llu are missing; refusing to open, nothing was changed",
		       r->path, (unsigned long long)lsn, r->spath, (unsigned long long)r->after,
		       (unsigned long long)r->after + 1, (unsigned long long)lsn - 1);
}

static int replay_rec(void *ctx, uint64_t lsn, const char *payload, size_t len, uint64_t off)
{
	struct replay_ctx *r = ctx;
	struct sf_changes c;
	struct dyn_err e;
	char buf[600];
	size_t i;
	int rc;

	if (!r->started && lsn != r->after + 1)
		return replay_gap(r, lsn);
	r->started = true;
	err_clear(&e);
	rc = sf_changes_parse(payload, len, &c, &e);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return err_set(r->err, EINVAL,
			       "journal %s: record at offset %llu (lsn %llu) has a valid checksum "
			       "but an unreadable payload: %s; refusing to open, nothing was changed",
			       r->path, (unsigned long long)off, (unsigned long long)lsn,
			       err_format(&e, buf, sizeof(buf)));
	for (i = 0; i < c.n; i++) {
		err_clear(&e);
		rc = db_replay(r->st->db, &c.ch[i], &e);
		if (rc == -ENOENT && c.ch[i].kind == DB_CH_DELETE)
			rc = 0; /* fuzzy snapshots: the key may be gone already */
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {
			rc = err_set(r->err, EINVAL,
				     "journal %s: record at offset %llu (lsn %llu) cannot be "
				     "applied: %s; refusing to open, nothing was changed",
				     r->path, (unsigned long long)off, (unsigned long long)lsn,
				     err_format(&e, buf, sizeof(buf)));
			break;
		}
	}
	sf_changes_free(&c);
	return rc;
}

static bool file_exists(const char *path, int *errp)
{
	struct stat sb;

	*errp = 0;
	if (lstat(path, &sb) == 0)
		return true;
	if (errno != ENOENT)
		*errp = errno;
	return false;
}

/* A store file for a read-write open: regular, not a symlink, ours. */
static int check_file(const char *path, const char *what, struct dyn_err *err)
{
	int fd = stf_open(path, what, O_RDONLY, true, err);

	if (fd < 0)
		return fd == -ENOENT ? err_set(err, ENOENT, "%s %s vanished", what, path) : fd;
	close(fd);
	return 0;
}

/* A new, empty store: journal first, so a crash in between leaves a valid store. */
static int store_create_files(struct store *st, struct dyn_err *err)
{
	int rc = journal_create(st->dir, 1, err);

	return rc < 0 ? rc : snap_write_empty(st->dir, 0, err);
}

static void remove_temp_files(struct store *st)
{
	char *p;

	/* both are unfinished copies; the real files are authoritative */
	p = store_path(st, SNAP_TMP_NAME);
	if (p)
		unlink(p);
	free(p);
	p = store_path(st, JOURNAL_NEW_NAME);
	if (p)
		unlink(p);
	free(p);
}

/* Load snapshot and journal into st->db; on a writable store, open the journal. */
static int store_recover(struct store *st, struct dyn_err *err)
{
	char *sp = store_path(st, SNAP_NAME), *jp = store_path(st, JOURNAL_NAME);
	struct replay_ctx rctx = {.st = st, .path = jp, .spath = sp, .err = err};
	char *aside = NULL;
	struct snap_info si = {0};
	struct journal_info ji;
	bool has_snap, has_jnl;
	int e1, e2, rc;

	if (!sp || !jp) {
		rc = -ENOMEM;
		goto out;
	}
	has_snap = file_exists(sp, &e1);
	has_jnl = file_exists(jp, &e2);
	if (e1 || e2) {
		rc = err_set(err, e1 ? e1 : e2, "store %s: %s", st->dir, strerror(e1 ? e1 : e2));
		goto out;
	}
	if (!st->opts.readonly) {
		/* a store is private to its user: refuse symlinks and other owners */
		rc = stf_check_dir(st->dir, err);
		if (rc == 0 && has_snap)
			rc = check_file(sp, "snapshot", err);
		if (rc == 0 && has_jnl)
			rc = check_file(jp, "journal", err);
		if (rc < 0)
			goto out;
	}
	if (!has_snap && !has_jnl) {
		if (!st->opts.create) {
			rc = err_set(err, ENOENT, "%s is not a dynfs store (no %s or %s)", st->dir,
				     SNAP_NAME, JOURNAL_NAME);
			goto out;
		}
		if (!st->opts.readonly) {
			rc = store_create_files(st, err);
			if (rc < 0)
				goto out;
			has_snap = has_jnl = true;
		}
	}
	if (has_snap) {
		rc = snap_load(sp, st->db, &si, err);
		if (rc < 0)
			goto out;
	}
	st->snap_lsn = si.lsn;
	st->snap_bytes = si.bytes;
	rctx.has_snap = has_snap;
	rctx.after = si.lsn;
	if (!has_jnl) {
		if (has_snap)
			fprintf(stderr, "dynfs: store %s: no journal; starting from %s alone\n",
				st->dir, SNAP_NAME);
		memset(&ji, 0, sizeof(ji));
		ji.start_lsn = si.lsn + 1;
		ji.last_lsn = si.lsn;
		ji.valid_end = JOURNAL_HDR_SIZE;
		rc = st->opts.readonly ? 0 : journal_create(st->dir, si.lsn + 1, err);
		if (rc < 0)
			goto out;
	} else {
		rc = journal_read(jp, si.lsn, replay_rec, &rctx, &ji, err);
		if (rc < 0)
			goto out;
		if (ji.start_lsn > si.lsn + 1) {
			rc = replay_gap(&rctx, ji.start_lsn);
			goto out;
		}
	}
	if (ji.torn) {
		/*
		 * A crash in the middle of the last append and damage to the last
		 * record(s) look the same; the first was never acknowledged, the
		 * second may have been.  So the bytes are kept, never destroyed.
		 */
		if (!st->opts.readonly) {
			rc = journal_set_aside(st->dir, &ji, &aside, err);
			if (rc < 0)
				goto out;
		}
		fprintf(stderr,
			"dynfs: journal %s: a damaged or incomplete last record at offset %llu "
			"(%llu bytes, %s) is not replayed: a write cut short by a crash (never "
			"acknowledged) or damage on the disk (then it may have held acknowledged "
			"changes from lsn %llu on); %s%s\n",
			jp, (unsigned long long)ji.valid_end,
			(unsigned long long)(ji.size - ji.valid_end), ji.torn_why,
			(unsigned long long)ji.last_lsn + 1,
			aside ? "its bytes were set aside in " : "read-only: the file is left as it is",
			aside ? aside : "");
		st->torn_seen = true;
		if (!st->opts.readonly) {
			rc = journal_truncate(jp, ji.valid_end, err);
			if (rc < 0)
				goto out;
		}
	}
	if (st->opts.readonly) {
		rc = 0;
		goto out;
	}
	if (ji.last_lsn < si.lsn) {
		/* everything in it is older than the snapshot: start a fresh one */
		rc = journal_create(st->dir, si.lsn + 1, err);
		if (rc < 0)
			goto out;
		ji.start_lsn = si.lsn + 1;
		ji.last_lsn = si.lsn;
		ji.valid_end = JOURNAL_HDR_SIZE;
	}
	rc = journal_open(st->dir, &ji, &st->j, err);
out:
	free(aside);
	free(sp);
	free(jp);
	return rc;
}

static void store_free(struct store *st)
{
	journal_close(st->j);
	if (st->db)
		db_free(st->db);
	lock_release(st);
	pthread_mutex_destroy(&st->snap_mu);
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
	pthread_mutex_init(&st->bg_mu, NULL);
	pthread_cond_init(&st->bg_cv, NULL);
	st->dir = strdup(dir);
	if (!st->dir) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = lock_take(st, err);
	if (rc < 0)
		goto out_free;
	if (!st->opts.readonly)
		remove_temp_files(st);
	rc = db_new(&st->db);
	if (rc < 0)
		goto out_free;
	rc = store_recover(st, err);
	if (rc < 0)
		goto out_free;
	if (st->j) {
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
	store_free(st);
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
	store_free(st);
	return rc;
}

void store_abandon(store_t *st)
{
	if (!st)
		return;
	threads_stop(st);
	if (st->j)
		db_set_log(st->db, NULL);
	store_free(st);
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

void store_set_test_hook(store_t *st, store_hook_fn fn, void *ctx)
{
	st->hook = fn;
	st->hook_ctx = ctx;
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
