/*
 * journal.c - the write-ahead journal (format and rules in journal.h).
 *
 * Durability argument.  A record is written with one pwrite() at the end
 * of the file, under mu, after every earlier record; so at any moment the
 * file is a sequence of complete records possibly followed by one partial
 * or not-yet-synced stretch at the end.  A process crash (kill -9) loses
 * nothing that write() accepted: the page cache survives.  A power loss
 * loses what was not yet synced, which is only ever the tail; records a
 * caller was told are durable (journal_sync returned 0) were covered by an
 * fdatasync() that began after they were written.
 *
 * Group commit.  journal_sync(lsn) returns at once if synced_lsn >= lsn.
 * Otherwise, if no thread is syncing, the caller becomes the syncer: it
 * notes the last appended lsn, calls fdatasync() without holding any lock
 * (appends continue meanwhile), then publishes that lsn as synced and
 * wakes the waiters.  Threads that arrive while a sync is running wait for
 * it; those whose records it covered return, the others elect a new syncer
 * whose single fdatasync covers all of them.  Under N concurrent writers
 * the number of syncs per record tends to 1/N.
 *
 * Failure.  A failed write is undone with ftruncate() to the old end and
 * reported with its own errno (ENOSPC for a full disk); if even that
 * fails, or an fdatasync() fails, the journal is marked broken with that
 * errno and refuses appends: after a failed fsync Linux may have dropped
 * the dirty pages, so "retry the fsync" could report success for data that
 * is gone (the PostgreSQL fsync lesson).  A successful rotation starts a
 * fresh, fully synced file and clears the mark (store.c uses that to
 * rescue the changes a failed sync left in doubt).  synced_end tracks how
 * much of the file is known durable, for the power-loss tests.
 *
 * Room written ahead (journal_set_ahead; the store asks for JOURNAL_AHEAD
 * with fsync=always).  An fdatasync() after an append that grows the file
 * must commit the new size: on ext4 a file system journal commit (its own
 * writes and cache flushes) on top of the record's block.  So before a
 * small record that does not fit, the file is extended with zeroes; the
 * next sync makes them and the size durable once, and the syncs after it
 * only write the records put over them: the data block and a cache flush.
 * The file is then: header, records, zeroes.  Reading treats zeroes after
 * the last valid record as the end (a record starts with "JREC", so it is
 * never all zeroes).  A power loss leaves the synced records, then what
 * the disk kept of the unsynced ones: since they were written in place, a
 * later sector may be kept and an earlier one lost.  Each record's header
 * carries the synced lsn (durable_lsn) of its time, which lets
 * journal_read.c prove such damage unsynced rather than guess.  Records
 * over JOURNAL_AHEAD_REC (big items, batches, transactions; a bulk import
 * writes no records) write no zeroes ahead: they go over the zeroes when
 * they fit and grow the file when not (zeroes first would double their
 * bytes for one commit per write).  A version 1 file (20-byte headers, no
 * synced lsn) gets no zeroes ahead: its reader refuses damage followed by
 * valid records.  Rotation writes version 2, converting the records.
 *
 * Rotation copies the records the new snapshot does not cover into
 * journal.new, mostly while appends continue; only the final stretch is
 * copied with appends held off, then the new file is synced, renamed over
 * the old one and the directory synced.  The syncer token (sync_mu's
 * `syncing`) is held across the switch so no thread fdatasyncs the old
 * descriptor while it is being closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journalint.h"
#include "storefile.h"

struct journal {
	int fd;			 /* the journal file (O_RDWR); swapped by rotate (mu + token) */
	int dirfd;		 /* the store directory, for fsync after rename */
	char *path;		 /* dir/journal */
	char *newpath;		 /* dir/journal.new */
	pthread_mutex_t mu;	 /* serialises appends; protects the fields down to broken */
	uint64_t end;		 /* offset past the last complete record */
	uint64_t alloc_end;	 /* the file size: [end, alloc_end) is zeroes written ahead */
	uint64_t ahead;		 /* zeroes to write ahead of a small record (0: none) */
	uint64_t start_lsn;	 /* from the file header */
	uint32_t version;	 /* the file's format version (rotation makes it 2) */
	unsigned hs;		 /* its record header bytes */
	uint64_t last_lsn;	 /* lsn of the last appended record */
	uint64_t marked_lsn;	 /* lsn of the last record appended with mark */
	uint64_t appends;	 /* records appended since open */
	int broken;		 /* 0, or the errno of the write/sync that failed: refuse appends */
	pthread_mutex_t sync_mu; /* protects syncing, synced_lsn, synced_end, syncs */
	pthread_cond_t sync_cv;	 /* signalled when a sync finishes */
	bool syncing;		 /* a thread holds the syncer token */
	uint64_t synced_lsn;	 /* every record <= this is durable */
	uint64_t synced_end;	 /* the file is durable up to this offset */
	uint64_t syncs;		 /* fdatasync calls made by journal_sync */
	uint64_t durable_lsn;	 /* synced_lsn, for the records' headers (atomic) */
	unsigned sync_delay_us;	 /* test hook: simulated sync latency (atomic) */
	void (*rotate_hook)(void *ctx); /* test hook: journal_set_rotate_hook */
	void *rotate_hook_ctx;	 /* its context */
	int fail_sync;		 /* test hook: fdatasync fails with this errno (atomic) */
	int fail_write;		 /* test hook: appends fail with this errno (atomic) */
	bool fail_trunc;	 /* test hook: and so does cutting them back (atomic) */
};

/* ---- writing helpers ---- */

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = pwrite(fd, c, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Copy [from, to) of src to the end (at *dst_off) of dst. */
static int copy_range(int src, uint64_t from, uint64_t to, int dst, uint64_t *dst_off)
{
	char buf[1 << 16];
	size_t want;
	ssize_t r;
	int rc;

	while (from < to) {
		want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		r = pread(src, buf, want, (off_t)from);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		rc = write_all(dst, buf, (size_t)r, *dst_off);
		if (rc < 0)
			return rc;
		from += (uint64_t)r;
		*dst_off += (uint64_t)r;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;
	ssize_t r;

	while (n) {
		r = pread(fd, c, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/*
 * Copy the version 1 records in [from, to) of src to the end (at
 * *dst_off) of dst as version 2 records, synced lsn 0 (it claims nothing;
 * the rotation syncs them all anyway).  Each record's checksum is checked
 * on the way.
 */
static int copy_v1_as_v2(int src, uint64_t from, uint64_t to, int dst, uint64_t *dst_off)
{
	uint8_t h[JOURNAL_REC_HDR_V1], *rec = NULL, *p;
	size_t cap = 0;
	uint32_t len, pcrc;
	int rc = 0;

	while (from < to) {
		rc = read_all(src, h, sizeof(h), from);
		if (rc < 0)
			break;
		len = jget32(h + 4);
		if (memcmp(h, journal_rec_magic, 4) || len > JOURNAL_MAX_PAYLOAD ||
		    to - from < JOURNAL_REC_HDR_V1 + (uint64_t)len) {
			rc = -EIO;
			break;
		}
		if (cap < JOURNAL_REC_HDR + (size_t)len) {
			p = realloc(rec, JOURNAL_REC_HDR + (size_t)len);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			rec = p;
			cap = JOURNAL_REC_HDR + (size_t)len;
		}
		rc = read_all(src, rec + JOURNAL_REC_HDR, len, from + JOURNAL_REC_HDR_V1);
		if (rc < 0)
			break;
		pcrc = crc32c(0, rec + JOURNAL_REC_HDR, len);
		if (crc32c(pcrc, h, JOURNAL_REC_HDR_V1 - 4) != jget32(h + JOURNAL_REC_HDR_V1 - 4)) {
			rc = -EIO;
			break;
		}
		journal_put_header(rec, JOURNAL_REC_HDR, pcrc, len, jget64(h + 8), 0);
		rc = write_all(dst, rec, JOURNAL_REC_HDR + (size_t)len, *dst_off);
		if (rc < 0)
			break;
		from += JOURNAL_REC_HDR_V1 + (uint64_t)len;
		*dst_off += JOURNAL_REC_HDR + (uint64_t)len;
	}
	free(rec);
	return rc;
}

/* Rotation: copy the records in [from, to) into the new (version 2) file. */
static int copy_records(journal_t *j, uint64_t from, uint64_t to, int dst, uint64_t *dst_off)
{
	if (j->version == JOURNAL_VERSION_1)
		return copy_v1_as_v2(j->fd, from, to, dst, dst_off);
	return copy_range(j->fd, from, to, dst, dst_off);
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Create path (truncating) with a file header; *fdp stays open on success. */
static int new_file(const char *path, uint64_t start_lsn, int *fdp)
{
	uint8_t hdr[JOURNAL_HDR_SIZE];
	int fd, rc;

	fd = stf_create(path);
	if (fd < 0)
		return fd;
	journal_file_header(hdr, JOURNAL_VERSION, start_lsn);
	rc = write_all(fd, hdr, sizeof(hdr), 0);
	if (rc < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	*fdp = fd;
	return 0;
}

int journal_create(const char *dir, uint64_t start_lsn, struct dyn_err *err)
{
	char *path = path_join(dir, JOURNAL_NAME), *tmp = path_join(dir, JOURNAL_NEW_NAME);
	int fd = -1, rc;

	if (!path || !tmp) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = new_file(tmp, start_lsn, &fd);
	if (rc < 0) {
		err_set(err, -rc, "journal %s: %s", tmp, strerror(-rc));
		goto out_free;
	}
	if (fdatasync(fd) < 0 || rename(tmp, path) < 0) {
		rc = err_set(err, errno, "journal %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out_close;
	}
	rc = stf_sync_dir(dir);
	if (rc < 0)
		err_set(err, -rc, "store %s: fsync: %s", dir, strerror(-rc));
out_close:
	close(fd);
out_free:
	free(path);
	free(tmp);
	return rc;
}

int journal_truncate(const char *path, uint64_t len, struct dyn_err *err)
{
	int fd = stf_open(path, "journal", O_WRONLY, true, err), rc = 0;

	if (fd < 0)
		return fd == -ENOENT ? err_set(err, ENOENT, "journal %s: %s", path, strerror(ENOENT))
				     : fd;
	if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0)
		rc = err_set(err, errno, "journal %s: truncate: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int journal_set_aside(const char *dir, const struct journal_info *info, char **saved,
		      struct dyn_err *err)
{
	char *path = path_join(dir, JOURNAL_NAME), *aside = NULL;
	uint64_t dst_off = 0;
	int src = -1, dst = -1, i, rc;

	*saved = NULL;
	if (!path)
		return -ENOMEM;
	src = stf_open(path, "journal", O_RDONLY, true, err);
	if (src < 0) {
		rc = src;
		goto out;
	}
	for (i = 0; i < 100; i++) {
		free(aside);
		if ((i ? asprintf(&aside, "%s/%s%llu.%d", dir, JOURNAL_TORN_PREFIX,
				  (unsigned long long)info->last_lsn + 1, i)
		       : asprintf(&aside, "%s/%s%llu", dir, JOURNAL_TORN_PREFIX,
				  (unsigned long long)info->last_lsn + 1)) < 0) {
			aside = NULL;
			rc = -ENOMEM;
			goto out;
		}
		/* never replace an earlier set-aside file: it is evidence too */
		dst = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   STF_FILE_MODE);
		if (dst >= 0 || errno != EEXIST)
			break;
	}
	if (dst < 0) {
		rc = err_set(err, errno, "journal %s: cannot set the damaged tail aside in %s: %s",
			     path, aside, strerror(errno));
		goto out;
	}
	rc = copy_range(src, info->valid_end, info->data_end, dst, &dst_off);
	if (rc == 0 && fsync(dst) < 0)
		rc = -errno;
	if (rc == 0)
		rc = stf_sync_dir(dir);
	if (rc < 0) {
		err_set(err, -rc, "journal %s: cannot set the damaged tail aside in %s: %s", path,
			aside, strerror(-rc));
		unlink(aside);
		goto out;
	}
	*saved = aside;
	aside = NULL;
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	free(aside);
	free(path);
	return rc;
}

/* ---- the open journal ---- */

static uint8_t zeroes[1 << 16];

/* Whether bytes [from, to) of fd are all zero. */
static bool all_zero(int fd, uint64_t from, uint64_t to)
{
	uint8_t buf[1 << 14];
	ssize_t r;

	while (from < to) {
		r = pread(fd, buf, to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf),
			  (off_t)from);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || memcmp(buf, zeroes, (size_t)r))
			return false;
		from += (uint64_t)r;
	}
	return true;
}

/*
 * Under mu: write zeroes from alloc_end to at least need + ahead (whole
 * pages).  The next fdatasync makes them and the new size durable; the
 * syncs after it only write the records put over them (no size change,
 * no allocation: no file system journal commit).  A failure is no error:
 * the record then grows the file, as without room.
 */
static void zero_ahead(journal_t *j, uint64_t need)
{
	uint64_t to = (need + j->ahead + 4095) & ~(uint64_t)4095, n;

	while (j->alloc_end < to) {
		n = to - j->alloc_end < sizeof(zeroes) ? to - j->alloc_end : sizeof(zeroes);
		if (write_all(j->fd, zeroes, (size_t)n, j->alloc_end) < 0) {
			struct stat sb;

			/* cut short (ENOSPC): the zeroes that did land count
			 * (a clean close cuts them off, file_bytes says them) */
			if (fstat(j->fd, &sb) == 0 && (uint64_t)sb.st_size > j->alloc_end)
				j->alloc_end = (uint64_t)sb.st_size;
			return;
		}
		j->alloc_end += n;
	}
}

int journal_open(const char *dir, const struct journal_info *info, journal_t **out,
		 struct dyn_err *err)
{
	uint8_t fh[JOURNAL_HDR_SIZE];
	struct journal *j;
	struct stat sb;
	int rc;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = j->dirfd = -1;
	j->path = path_join(dir, JOURNAL_NAME);
	j->newpath = path_join(dir, JOURNAL_NEW_NAME);
	if (!j->path || !j->newpath) {
		rc = -ENOMEM;
		goto out_free;
	}
	j->fd = stf_open(j->path, "journal", O_RDWR, true, err);
	if (j->fd < 0) {
		rc = j->fd == -ENOENT ? err_set(err, ENOENT, "journal %s: %s", j->path,
						strerror(ENOENT))
				      : j->fd;
		goto out_free;
	}
	if (fstat(j->fd, &sb) < 0) {
		rc = err_set(err, errno, "journal %s: %s", j->path, strerror(errno));
		goto out_free;
	}
	/* past the records only zeroes written ahead (journal_read checked) */
	if ((uint64_t)sb.st_size < info->valid_end ||
	    !all_zero(j->fd, info->valid_end, (uint64_t)sb.st_size)) {
		rc = err_set(err, EINVAL, "journal %s: changed while opening", j->path);
		goto out_free;
	}
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = err_set(err, errno, "store %s: %s", dir, strerror(errno));
		goto out_free;
	}
	/* The records are appended in the format the file's header names,
	 * not info's: the store may have replaced the file it read with a
	 * fresh one (journal_create, version 2) since. */
	if (pread(j->fd, fh, sizeof(fh), 0) != (ssize_t)sizeof(fh) ||
	    (jget32(fh + 8) != JOURNAL_VERSION_1 && jget32(fh + 8) != JOURNAL_VERSION)) {
		rc = err_set(err, EINVAL, "journal %s: changed while opening", j->path);
		goto out_free;
	}
	/* every record in it counts as durable from here on (the synced lsn
	 * of the records appended after them): make it so, and its name too
	 * (a rotation's rename may not have been synced before a crash) */
	if (fdatasync(j->fd) < 0 || fsync(j->dirfd) < 0) {
		rc = err_set(err, errno, "journal %s: sync: %s", j->path, strerror(errno));
		goto out_free;
	}
	j->end = info->valid_end;
	j->alloc_end = (uint64_t)sb.st_size;
	j->start_lsn = info->start_lsn;
	j->version = jget32(fh + 8);
	j->hs = journal_rec_hdr(j->version);
	j->last_lsn = j->synced_lsn = j->durable_lsn = info->last_lsn;
	j->synced_end = info->valid_end;
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->sync_mu, NULL);
	pthread_cond_init(&j->sync_cv, NULL);
	*out = j;
	return 0;
out_free:
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->path);
	free(j->newpath);
	free(j);
	return rc;
}

void journal_close(journal_t *j)
{
	if (!j)
		return;
	/* A clean close leaves no zeroes written ahead: the file reads the
	 * same to a dynfs that knows nothing of them.  Synced, so that a power
	 * cut soon after leaves it so too (zeroes after the records read as
	 * the end either way). */
	if (j->alloc_end > j->end && ftruncate(j->fd, (off_t)j->end) == 0) {
		j->alloc_end = j->end;
		(void)fdatasync(j->fd);
	}
	journal_abandon(j);
}

void journal_abandon(journal_t *j)
{
	if (!j)
		return;
	close(j->fd);
	close(j->dirfd);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->sync_mu);
	pthread_cond_destroy(&j->sync_cv);
	free(j->path);
	free(j->newpath);
	free(j);
}

int journal_append(journal_t *j, uint8_t *rec, size_t len, bool mark, uint64_t *lsn)
{
	uint32_t pcrc;
	uint64_t l, need;
	uint8_t *h;
	int rc;

	if (len > JOURNAL_MAX_PAYLOAD)
		return -EFBIG;
	pcrc = crc32c(0, rec + JOURNAL_REC_HDR, len);
	pthread_mutex_lock(&j->mu);
	if (j->broken) {
		rc = -j->broken;
		goto out_unlock;
	}
	l = j->last_lsn + 1;
	/* a version 1 file takes the last JOURNAL_REC_HDR_V1 bytes of the room */
	h = rec + JOURNAL_REC_HDR - j->hs;
	journal_put_header(h, j->hs, pcrc, (uint32_t)len, l,
			   __atomic_load_n(&j->durable_lsn, __ATOMIC_ACQUIRE));
	need = j->end + j->hs + len;
	if (need > j->alloc_end && j->ahead && len <= JOURNAL_AHEAD_REC &&
	    j->version == JOURNAL_VERSION)
		zero_ahead(j, need);
	rc = __atomic_load_n(&j->fail_write, __ATOMIC_RELAXED);
	if (rc)
		rc = -rc;
	else
		rc = write_all(j->fd, h, j->hs + len, j->end);
	if (rc < 0) {
		/* leave no partial record behind: the file must stay well-formed */
		if (__atomic_load_n(&j->fail_trunc, __ATOMIC_RELAXED) ||
		    ftruncate(j->fd, (off_t)j->end) < 0)
			j->broken = -rc;
		else
			j->alloc_end = j->end;
		goto out_unlock;
	}
	j->end = need;
	if (need > j->alloc_end)
		j->alloc_end = need;
	j->last_lsn = l;
	if (mark)
		j->marked_lsn = l;
	j->appends++;
	*lsn = l;
out_unlock:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int journal_sync(journal_t *j, uint64_t lsn)
{
	uint64_t target, tend;
	int fd, r, rc = 0;

	pthread_mutex_lock(&j->sync_mu);
	while (j->synced_lsn < lsn) {
		if (j->syncing) {
			pthread_cond_wait(&j->sync_cv, &j->sync_mu);
			continue;
		}
		j->syncing = true;
		pthread_mutex_unlock(&j->sync_mu);

		pthread_mutex_lock(&j->mu);
		target = j->last_lsn;
		tend = j->end;
		fd = j->fd;
		r = -j->broken;
		pthread_mutex_unlock(&j->mu);
		if (r == 0 && __atomic_load_n(&j->sync_delay_us, __ATOMIC_RELAXED))
			usleep(__atomic_load_n(&j->sync_delay_us, __ATOMIC_RELAXED));
		if (r == 0 && __atomic_load_n(&j->fail_sync, __ATOMIC_RELAXED))
			r = -__atomic_load_n(&j->fail_sync, __ATOMIC_RELAXED);
		else if (r == 0 && fdatasync(fd) < 0)
			r = -errno;

		pthread_mutex_lock(&j->mu);
		if (r < 0 && !j->broken)
			j->broken = -r;
		pthread_mutex_unlock(&j->mu);
		pthread_mutex_lock(&j->sync_mu);
		j->syncing = false;
		j->syncs++;
		if (r == 0 && target > j->synced_lsn) {
			j->synced_lsn = target;
			j->synced_end = tend;
			__atomic_store_n(&j->durable_lsn, target, __ATOMIC_RELEASE);
		}
		pthread_cond_broadcast(&j->sync_cv);
		if (r < 0) {
			rc = r;
			break;
		}
	}
	pthread_mutex_unlock(&j->sync_mu);
	return rc;
}

void journal_position(journal_t *j, uint64_t *last_lsn, uint64_t *end, uint64_t *marked_lsn)
{
	pthread_mutex_lock(&j->mu);
	if (last_lsn)
		*last_lsn = j->last_lsn;
	if (end)
		*end = j->end;
	if (marked_lsn)
		*marked_lsn = j->marked_lsn;
	pthread_mutex_unlock(&j->mu);
}

/* Take or give back the syncer token (excludes journal_sync's fdatasync). */
static void sync_token(journal_t *j, bool take, uint64_t synced, uint64_t synced_end)
{
	pthread_mutex_lock(&j->sync_mu);
	if (take) {
		while (j->syncing)
			pthread_cond_wait(&j->sync_cv, &j->sync_mu);
		j->syncing = true;
	} else {
		j->syncing = false;
		if (synced_end) {
			/* a new file: everything in it is durable */
			j->synced_lsn = synced;
			j->synced_end = synced_end;
			__atomic_store_n(&j->durable_lsn, synced, __ATOMIC_RELEASE);
		}
		pthread_cond_broadcast(&j->sync_cv);
	}
	pthread_mutex_unlock(&j->sync_mu);
}

int journal_rotate(journal_t *j, uint64_t after, uint64_t from, struct dyn_err *err)
{
	uint64_t e1, dst = JOURNAL_HDR_SIZE, synced = 0, synced_end = 0;
	int fd, old, rc;

	rc = new_file(j->newpath, after + 1, &fd);
	if (rc < 0)
		return err_set(err, -rc, "journal %s: %s", j->newpath, strerror(-rc));
	/* bulk of the copy while appends go on */
	pthread_mutex_lock(&j->mu);
	e1 = j->end;
	pthread_mutex_unlock(&j->mu);
	rc = copy_records(j, from, e1, fd, &dst);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc < 0)
		goto out_unlink;
	if (j->rotate_hook)
		j->rotate_hook(j->rotate_hook_ctx);

	sync_token(j, true, 0, 0);
	pthread_mutex_lock(&j->mu);
	rc = copy_records(j, e1, j->end, fd, &dst);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0 && rename(j->newpath, j->path) < 0)
		rc = -errno;
	if (rc < 0) {
		pthread_mutex_unlock(&j->mu);
		sync_token(j, false, 0, 0);
		goto out_unlink;
	}
	old = j->fd;
	j->fd = fd;
	j->end = j->alloc_end = dst;
	j->start_lsn = after + 1;
	j->version = JOURNAL_VERSION;
	j->hs = JOURNAL_REC_HDR;
	j->broken = 0;
	if (fsync(j->dirfd) < 0) {
		/* the rename may not survive a crash: stop accepting records */
		j->broken = errno;
		rc = err_set(err, j->broken, "journal %s: fsync of the directory: %s", j->path,
			     strerror(j->broken));
	} else {
		synced = j->last_lsn;
		synced_end = dst;
	}
	pthread_mutex_unlock(&j->mu);
	sync_token(j, false, synced, synced_end);
	close(old);
	return rc;

out_unlink:
	close(fd);
	unlink(j->newpath);
	return err_set(err, -rc, "journal %s: rotation failed: %s", j->newpath, strerror(-rc));
}

void journal_set_faults(journal_t *j, int sync_err, int write_err, bool trunc_fails)
{
	__atomic_store_n(&j->fail_sync, sync_err, __ATOMIC_RELAXED);
	__atomic_store_n(&j->fail_write, write_err, __ATOMIC_RELAXED);
	__atomic_store_n(&j->fail_trunc, trunc_fails, __ATOMIC_RELAXED);
}

void journal_set_ahead(journal_t *j, uint64_t bytes)
{
	pthread_mutex_lock(&j->mu);
	j->ahead = bytes;
	pthread_mutex_unlock(&j->mu);
}

void journal_set_rotate_hook(journal_t *j, void (*fn)(void *ctx), void *ctx)
{
	j->rotate_hook = fn;
	j->rotate_hook_ctx = ctx;
}

void journal_set_sync_delay(journal_t *j, unsigned usec)
{
	__atomic_store_n(&j->sync_delay_us, usec, __ATOMIC_RELAXED);
}

void journal_stats(journal_t *j, struct journal_stats *out)
{
	pthread_mutex_lock(&j->mu);
	out->appends = j->appends;
	out->last_lsn = j->last_lsn;
	out->bytes = j->end;
	out->file_bytes = j->alloc_end;
	out->broken = j->broken;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_lock(&j->sync_mu);
	out->syncs = j->syncs;
	out->synced_lsn = j->synced_lsn;
	out->synced_bytes = j->synced_end;
	pthread_mutex_unlock(&j->sync_mu);
}
