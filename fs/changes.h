/*
 * changes.h - /_changes and /<table>/_changes (private to fs/): the change
 * feed (engine/feed.h) as files you follow (SPEC §11; docs/changes.md).
 *
 * Names.  `_changes` and `_changes?since=SEQ` (since=0: from the oldest
 * change retained) in the root (every table,
 * lines carry "table") and in a table directory.  Each lookup makes a
 * fresh, unhashed node (NK_CHANGES) holding the table (or none) and the
 * parameters; nothing else refers to it, so it goes when the kernel
 * forgets it.
 *
 * An open descriptor is a cursor: at the current end, or at `since`
 * (refused with ERANGE and a line in /_errors when that is no longer
 * retained).  Reads return whole lines as they are committed and block
 * while there are none: a read with nothing to return is parked (the
 * request is answered later, from the feed thread, so no FUSE worker
 * waits), answered EINTR when interrupted (Ctrl-C), EAGAIN under
 * O_NONBLOCK.  poll() reports POLLIN when a line is ready.  fstat() on
 * the descriptor reports as size the bytes delivered plus those ready,
 * so `tail -f`, which on FUSE polls the size once a second, reads them;
 * a read at the end after the size was asked through the descriptor
 * (lseek SEEK_END: tail's first pass) returns end of file once instead
 * of waiting.  A reader whose next change was dropped from the feed's
 * ring before it read it gets one line
 *   {"fell_behind":true,"lost":FIRST_MISSED,"since":OLDEST_RETAINED}
 * and then end of file: reopen with `_changes?since=OLDEST_RETAINED`.
 *
 * Locking: hub.lock (the list of parked descriptors) before a
 * descriptor's chg.lock; the feed's subscriber touches only hub.kick_mu,
 * so writers never wait for a reader.
 */
#ifndef DYNFS_CHANGES_H
#define DYNFS_CHANGES_H

#include "fsx.h"

struct chg;

int changes_init(struct fsx *fs);
/* Subscribe to the feed and start the thread that answers parked reads. */
int changes_start(struct fsx *fs);
/* Answer every parked read with end of file, stop the thread. */
void changes_stop(struct fsx *fs);
void changes_fini(struct fsx *fs);

/* `_changes` or `_changes?...` in dir (t NULL: the root): 0 with *out (a
 * new node, referenced), 1 if name is not one, -EINVAL (a line in
 * /_errors) for bad parameters, -ENOMEM. */
int changes_resolve(struct fsx *fs, struct node *dir, be_table_t *t, const char *name,
		    struct node **out);
/* Attributes of an NK_CHANGES node without a descriptor. */
void changes_attr(struct fsx *fs, struct node *n, struct stat *st);

/* open(2) of n with flags: *out new (changes_release).  -EACCES for writing,
 * -ERANGE for a since= no longer retained, -ENOENT for a dropped table. */
int changes_open(struct fsx *fs, struct node *n, int flags, struct chg **out);
/* A read: replies now or later (req is consumed). */
void changes_read(fuse_req_t req, struct chg *c, size_t size, off_t off, int flags);
/* poll: replies now; remembers ph (consumed) for a notification. */
void changes_poll(fuse_req_t req, struct chg *c, struct fuse_pollhandle *ph);
/* The size a getattr reports: the stream's end after rendering what is
 * ready.  asked: through the descriptor (lseek SEEK_END): the next read
 * at that end returns end of file instead of waiting, once. */
off_t changes_size(struct chg *c, bool asked);
void changes_release(struct chg *c);

#endif
