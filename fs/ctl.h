/*
 * ctl.h - the control files /<table>/_batch and /_tx (private to fs/).
 *
 * A control file is not a stored object: each open descriptor is its own
 * session (a `_batch` stream, a /_tx transaction), writes feed it, and
 * reads on the same descriptor return the session's outcome as one line
 * of JSON.  ops_file.c keeps its handle kinds and calls these through one
 * handle class (FH_CTL); everything specific is in batch.c and tx.c, the
 * meaning of the requests in engine/ops.h.
 *
 * Common rules (ctl.c):
 *   - attributes: a regular file, 0644 (0444 on -o ro), size 0, so
 *     `ls -l` shows it writable and `cat` reads it (direct I/O: the
 *     kernel asks us whatever the size says);
 *   - a read first completes what was written (the `_batch` unterminated
 *     last line, the /_tx commit), then returns the outcome.  The outcome
 *     is served from the offset of the read that produced it, not from
 *     0: in `exec 3<>_batch; printf ... >&3; cat <&3` the descriptor's
 *     offset is past the bytes written, and cat must still see the whole
 *     outcome.  A read at the offset where the previous one stopped
 *     continues the same text (EOF after its end); a read anywhere else
 *     produces a fresh outcome;
 *   - truncate (O_TRUNC, ftruncate) of _batch is a no-op; of /_tx it
 *     edits the descriptor's document;
 *   - flush (every close) and fsync complete the session's pending work
 *     and return its errno, except that a close keeps a document or line
 *     that is visibly unfinished (an unclosed string or bracket) for the
 *     writes that may follow on another copy of the descriptor; release
 *     (the last close) completes everything, its errors only logged.
 * Locking: ctl.lock protects the session; it is taken outside every
 * engine lock (fsx.h lock order: "a handle's lock").
 */
#ifndef DYNFS_CTL_H
#define DYNFS_CTL_H

#include <sys/types.h>

#include "fsx.h"

struct ctl;

/* Why pending work is being completed. */
enum ctl_when {
	CTL_FLUSH,   /* a close that may not be the last: a document or line that
		      * is visibly unfinished (ops_json_incomplete) is kept, since
		      * another copy of the descriptor may still write the rest
		      * (bash flushes after every builtin redirected to an fd) */
	CTL_FSYNC,   /* fsync: complete everything */
	CTL_READ,    /* a read of the outcome: complete everything */
	CTL_RELEASE, /* the last close: complete everything, errors only logged */
};

/* What batch.c and tx.c provide; every call is made with ctl.lock held. */
struct ctl_class {
	size_t size; /* of the class's session struct, which begins with struct ctl */
	/* Set up the session (c->fs, c->node, c->writer are set). */
	int (*open)(struct ctl *c, int flags);
	/* Consume written bytes: the count consumed (at most size; the
	 * kernel ends the write() at a short count), or -errno, having
	 * consumed nothing (the write() fails with it, or is cut short). */
	int (*write)(struct ctl *c, const char *buf, size_t size, off_t off);
	/* Complete pending work.  0 or -errno. */
	int (*commit)(struct ctl *c, enum ctl_when when);
	/* The outcome text (new). */
	int (*outcome)(struct ctl *c, char **out, size_t *len);
	/* ftruncate on the descriptor. */
	int (*truncate)(struct ctl *c, off_t size);
	/* Release the session (after a last commit). */
	void (*free)(struct ctl *c);
};

struct ctl {
	const struct ctl_class *cls; /* immutable */
	struct fsx *fs;		     /* immutable */
	struct node *node;	     /* immutable, borrowed: the handle holds it */
	bool writer;		     /* immutable: opened for writing */
	pthread_mutex_t lock;	     /* protects everything below and the session */
	char *out;		     /* outcome being read, or NULL */
	size_t out_len;		     /* its length */
	off_t rd_base;		     /* read offset where out starts */
	off_t rd_next;		     /* where the last read stopped */
};

extern const struct ctl_class batch_class; /* batch.c */
extern const struct ctl_class tx_class;	   /* tx.c */

/* Open a descriptor of n (&batch_class for NK_BATCH, &tx_class for
 * NK_TX) with open(2) flags.  *out new (ctl_release). */
int ctl_open(struct fsx *fs, struct node *n, const struct ctl_class *cls, int flags,
	     struct ctl **out);
/* A write of size bytes at off: the count consumed, or -errno. */
int ctl_write(struct ctl *c, const char *buf, size_t size, off_t off);
/* Read up to size bytes at off into *out (new, may be NULL when *len 0). */
int ctl_read(struct ctl *c, size_t size, off_t off, char **out, size_t *len);
/* flush (a close) and fsync. */
int ctl_flush(struct ctl *c);
int ctl_fsync(struct ctl *c);
int ctl_truncate(struct ctl *c, off_t size);
/* The last close: complete, then free. */
void ctl_release(struct ctl *c);
/* Attributes of a control file node (mode, size, times). */
void ctl_attr(struct fsx *fs, struct node *n, int64_t mtime_ns, struct stat *st);
/*
 * The st_blksize of /<table>/_batch: the I/O size it prefers.  cat, cp and
 * stdio write in pieces of st_blksize (128 KiB at least for coreutils), and
 * each write() of a bulk import costs one journal sync with fsync=always;
 * 1 MiB pieces (FUSE's largest request: the kernel's max_pages) make a
 * 100,000-line import 36 writes instead of 284.  A write() larger than the
 * connection's max_write reaches batch.c as several requests, as before.
 */
#define CTL_BATCH_BLKSIZE (1 << 20)

#endif
