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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "snap.h"
#include "storefmt.h"

#define LOCK_NAME "lock"
#define SNAP_MIN_DEFAULT (16ull << 20) /* auto snapshot floor, bytes */
#define SNAP_ATTEMPTS 4		       /* fuzzy snapshot retries on schema changes */
#define SNAP_RETRY_SEC 10	       /* pause after a failed automatic snapshot */

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
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && st->opts.readonly) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
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

static int log_append(void *ctx, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	struct store *st = ctx;
	struct sf_buf b = SF_BUF_INIT;
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
	if (rc < 0)
		goto out;
	if (snapshot_due(st))
		want_snapshot(st);
out:
	sf_buf_free(&b);
	return rc;
}

static int log_sync(void *ctx, uint64_t lsn)
{
	struct store *st = ctx;

	if (st->opts.fsync != STORE_FSYNC_ALWAYS)
		return 0;
	return journal_sync(st->j, lsn);
}

/* ---- background threads ---- */

/* Sleep up to sec seconds or until stop; returns true if stopping. */
static bool bg_wait(struct store *st, int sec)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += sec;
	pthread_mutex_lock(&st->bg_mu);
	if (!st->bg_stop)
		pthread_cond_timedwait(&st->bg_cv, &st->bg_mu, &ts);
	stop = st->bg_stop;
	pthread_mutex_unlock(&st->bg_mu);
	return stop;
}

static void *sync_main(void *arg)
{
	struct store *st = arg;
	struct journal_stats js;

	while (!bg_wait(st, 1)) {
		journal_stats(st->j, &js);
		if (js.last_lsn > js.synced_lsn && journal_sync(st->j, js.last_lsn) < 0)
			fprintf(stderr, "dynfs: store %s: journal sync failed; further writes "
					"will fail with EIO\n",
				st->dir);
	}
	return NULL;
}

static void *snap_main(void *arg)
{
	struct store *st = arg;
	struct dyn_err err;
	char buf[600];

	pthread_mutex_lock(&st->bg_mu);
	while (!st->bg_stop) {
		if (!st->snap_wanted) {
			pthread_cond_wait(&st->bg_cv, &st->bg_mu);
			continue;
		}
		/* requests made while this one runs are kept, and re-checked */
		st->snap_wanted = false;
		pthread_mutex_unlock(&st->bg_mu);
		err_clear(&err);
		if (snapshot_due(st) && store_snapshot(st, &err) < 0) {
			fprintf(stderr, "dynfs: automatic snapshot failed: %s\n",
				err_format(&err, buf, sizeof(buf)));
			bg_wait(st, SNAP_RETRY_SEC);
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

/* Under snap_mu: write, check, commit, rotate.  See the header comment. */
static int snapshot_locked(struct store *st, struct dyn_err *err)
{
	struct snap_info si;
	struct dyn_err e;
	uint64_t lsn0, off0, marked;
	char buf[600];
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
		journal_position(st->j, NULL, NULL, &marked);
		if (marked > lsn0) {
			/* a table was created, dropped or changed during the copy */
			snap_discard(st->dir);
			continue;
		}
		rc = snap_commit(st->dir, err);
		if (rc < 0)
			return rc;
		st->snap_lsn = lsn0;
		st->snapshots++;
		st->unlogged = false;
		__atomic_store_n(&st->snap_bytes, si.bytes, __ATOMIC_RELAXED);
		err_clear(&e);
		if (journal_rotate(st->j, lsn0, off0, &e) < 0)
			/* the snapshot stands; the old journal still covers it */
			fprintf(stderr, "dynfs: store %s: snapshot written but the journal was not "
					"trimmed: %s\n",
				st->dir, err_format(&e, buf, sizeof(buf)));
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
		rc = err_set(err, EIO, "store %s: memory no longer matches the disk "
				       "(a bulk load failed); not writing a snapshot",
			     st->dir);
	else
		rc = snapshot_locked(st, err);
	pthread_mutex_unlock(&st->snap_mu);
	return rc;
}

/* ---- opening ---- */

struct replay_ctx {
	struct store *st;      /* target */
	const char *path;      /* journal path, for messages */
	struct dyn_err *err;   /* caller's */
};

static int replay_rec(void *ctx, uint64_t lsn, const char *payload, size_t len, uint64_t off)
{
	struct replay_ctx *r = ctx;
	struct sf_changes c;
	struct dyn_err e;
	char buf[600];
	size_t i;
	int rc;

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
	if (stat(path, &sb) == 0)
		return true;
	if (errno != ENOENT)
		*errp = errno;
	return false;
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
	struct replay_ctx rctx = {st, jp, err};
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
			rc = err_set(err, EINVAL,
				     "journal %s starts at lsn %llu but %s covers only up to lsn "
				     "%llu: changes %llu..%llu are missing; refusing to open, "
				     "nothing was changed",
				     jp, (unsigned long long)ji.start_lsn, sp,
				     (unsigned long long)si.lsn, (unsigned long long)si.lsn + 1,
				     (unsigned long long)ji.start_lsn - 1);
			goto out;
		}
	}
	if (ji.torn) {
		fprintf(stderr,
			"dynfs: journal %s: discarding a torn last record at offset %llu "
			"(%llu bytes, %s): a write interrupted by a crash, never acknowledged%s\n",
			jp, (unsigned long long)ji.valid_end,
			(unsigned long long)(ji.size - ji.valid_end), ji.torn_why,
			st->opts.readonly ? " (not truncated: read-only)" : "; truncating it");
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
	pthread_mutex_lock(&st->snap_mu);
	out->snapshot_lsn = st->snap_lsn;
	out->snapshots = st->snapshots;
	pthread_mutex_unlock(&st->snap_mu);
	out->snapshot_bytes = __atomic_load_n(&st->snap_bytes, __ATOMIC_RELAXED);
}

void store_set_sync_delay(store_t *st, unsigned usec)
{
	if (st->j)
		journal_set_sync_delay(st->j, usec);
}

void store_set_snapshot_min(store_t *st, uint64_t min_bytes)
{
	__atomic_store_n(&st->snap_min, min_bytes, __ATOMIC_RELAXED);
}
