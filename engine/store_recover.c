/*
 * store_recover.c - the store's lock file and recovery at open (store.h,
 * storeint.h; formats in journal.h, snap.h and docs/formats.md).
 *
 * Recovery (store_open).  Take the lock; load the snapshot (every line
 * checked, checksum and end marker required); read the journal, which is
 * validated completely before any record is replayed; replay records with
 * lsn > S.  A torn last record is not replayed; on a read-write open its
 * bytes are first copied to journal.torn-<lsn> (synced) and then cut off.
 * A crash in the middle of an append and damage to the last records on
 * the disk look the same, and the second may have been acknowledged, so
 * the evidence is kept and the message says both.  Store files are
 * opened with O_NOFOLLOW and checked (storefile.h): symlinks, directories
 * and, read-write, files of another user are refused.  A journal whose
 * first record does not follow the snapshot (or with no snapshot at all
 * and a journal starting after lsn 1) names the missing changes.  A corrupt
 * snapshot, a checksum failure before the tail, a sequence gap or a
 * journal starting after S+1 refuse the open with -EINVAL naming file and
 * offset; a newer format version is -EPROTO.  Neither file is written
 * before all of that succeeded, and nothing unreadable is ever truncated,
 * overwritten or deleted.
 */
#include "storeint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snap.h"
#include "storefile.h"
#include "storefmt.h"

/* ---- the lock file ---- */

/*
 * Format of dir/lock: empty, or the decimal pid of the read-write process
 * holding it and a newline.  The flock() is what counts; the pid is only
 * for the message another process shows.
 */
int store_lock_take(struct store *st, struct dyn_err *err)
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

void store_lock_release(struct store *st)
{
	if (st->lockfd < 0)
		return;
	if (!st->opts.readonly && ftruncate(st->lockfd, 0) < 0) {
		/* a stale pid is only cosmetic: the flock goes with the fd */
	}
	close(st->lockfd);
	st->lockfd = -1;
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

void store_remove_temp_files(struct store *st)
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
int store_recover(struct store *st, struct dyn_err *err)
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
		char more[128] = "";

		if (!st->opts.readonly) {
			rc = journal_set_aside(st->dir, &ji, &aside, err);
			if (rc < 0)
				goto out;
		}
		if (ji.torn_valid)
			/* version 2: none of them says the damaged record was
			 * synced, so none was acknowledged (journal_read.c) */
			snprintf(more, sizeof(more),
				 ", then %llu valid records written before it was known synced, "
				 "not replayed either",
				 (unsigned long long)ji.torn_valid);
		fprintf(stderr,
			"dynfs: journal %s: a damaged or incomplete last record at offset %llu "
			"(%llu bytes, %s%s) is not replayed: a write cut short by a crash "
			"(never acknowledged) or damage on the disk (then it may have held "
			"acknowledged changes from lsn %llu on); %s%s\n",
			jp, (unsigned long long)ji.valid_end,
			(unsigned long long)(ji.data_end - ji.valid_end), ji.torn_why, more,
			(unsigned long long)ji.last_lsn + 1,
			aside ? "its bytes were set aside in "
			      : "read-only: the file is left as it is",
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
