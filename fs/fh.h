/*
 * fh.h - open file handles (private to ops_file.c and text.c).
 *
 * ops_file.c opens every kind of handle and routes the FUSE file
 * operations by kind; text.c implements the handle of an item or
 * _schema.json (FH_TEXT): snapshot, write buffer, refusal at write() and
 * commit.
 */
#ifndef DYNFS_FH_H
#define DYNFS_FH_H

#include "ops.h"
#include "wcheck.h"

enum fh_type {
	FH_TEXT,    /* item or _schema.json: snapshot + write buffer */
	FH_SNAP,    /* read-only snapshot (/_errors) */
	FH_SCRATCH, /* scratch file data */
	FH_CTL,     /* _batch, /_tx: a control file session (ctl.h) */
	FH_CHANGES, /* _changes: a feed cursor (changes.h) */
};

struct fh {
	struct fsx *fs;		/* immutable */
	enum fh_type type;	/* immutable */
	struct node *node;	/* immutable: a reference */
	bool writer;		/* immutable: opened for writing */
	bool direct;		/* immutable: direct I/O */
	bool append;		/* immutable: O_APPEND */
	bool made;		/* immutable: its CREATE made the item (a new node
				 * or inode for the kernel; inval.c, "A created
				 * item's first commits") */
	struct scratch *scr;	/* immutable: FH_SCRATCH data (a reference) */
	struct ctl *ctl;	/* immutable: FH_CTL session (owned) */
	struct chg *chg;	/* immutable: FH_CHANGES cursor (owned) */
	pthread_mutex_t lock;	/* protects the fields below */
	char *snap;		/* committed text at open */
	size_t snap_len;
	uint64_t snap_ver;	/* node version the snapshot is of */
	char *buf;		/* write buffer, once has_buf */
	size_t len;		/* bytes in buf */
	size_t cap;		/* allocated */
	bool has_buf;		/* buf replaces snap for this handle */
	bool dirty;		/* written since the last commit attempt */
	bool created;		/* a new item, not yet committed */
	bool provisional;	/* committed key-only before any write */
	bool excl;		/* O_EXCL: the first commit must not replace */
	bool pending;		/* counted in node->pending (until release) */
	bool trunc_empty;	/* O_TRUNC, nothing written since */
	bool empty_logged;	/* the empty write was rejected already */
	int empty_flushes;	/* flushes seen while trunc_empty */
	struct wcheck wc;	/* refusal at write() (wcheck.h) */
	struct val ok_item;	/* wc.checked: the checked item (items; else VAL_NULL) */
	unsigned ok_added;	/* its key attributes from the path (ITEM_ADDED_*) */
	struct fh *live_prev, *live_next; /* on the live list (ops_file.c's live_lock) */
};

/* A new handle of type on n; it holds the caller's reference on n once
 * opened.  NULL: out of memory. */
struct fh *fh_new(struct fsx *fs, enum fh_type type, struct node *n);
/* Free a handle whose opening failed: its lock and itself (not its
 * snapshot, nor its node). */
void fh_discard(struct fh *h);
/* At exit, after the FUSE session is destroyed: free the handles the
 * kernel never released (a signal can end the loop between a close's
 * FLUSH and its asynchronous RELEASE), except _batch/_tx and _changes
 * handles, whose release has effects.  Nothing is committed here. */
void fh_free_unreleased(struct fsx *fs);

/* ---- text.c: items and _schema.json (FH_TEXT) ---- */

/* Open n (an item or _schema.json) into *out.  created: a new item from
 * create().  0 or -errno. */
int text_open(struct fsx *fs, struct node *n, struct fuse_file_info *fi, bool created,
	      struct fh **out);
/* write() of size bytes at off into h's buffer.  0, or -errno: also the
 * refusal of the document it completes or breaks (wcheck.h). */
int text_write(struct fsx *fs, struct fh *h, const char *buf, size_t size, off_t off);
/* What a flush, fsync or release commits (h->lock held; 0 for other
 * kinds and for readers).  last: the release, after which nothing more
 * can be written.  0 or -errno. */
int text_commit(struct fsx *fs, struct fh *h, bool last);
/* A created item that does not exist after all: drop the kernel's
 * positive entry so the name reads as absent again. */
void text_drop_ghost(struct fsx *fs, struct node *n);
/* truncate() of an item or schema: through h (the caller's handle, or
 * NULL) if it is a writer's FH_TEXT, else as a commit of its own.  0 or
 * -errno. */
int text_truncate(struct fsx *fs, struct node *n, off_t size, struct fh *h);

#endif
