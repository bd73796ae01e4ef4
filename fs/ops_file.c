/*
 * ops_file.c - open files: items, _schema.json, /_errors, scratch files.
 *
 * Per-open isolation (SPEC §5).  Opening an item renders its committed
 * text into the handle (a snapshot).  Writes go to the handle's own
 * buffer, which starts as the snapshot, or empty with O_TRUNC (the kernel
 * passes O_TRUNC to open: FUSE_CAP_ATOMIC_O_TRUNC).  The buffer is
 * validated and committed at flush (every close) and fsync; a handle that
 * wrote nothing commits nothing; a failed commit leaves the item as it
 * was and the buffer in the handle.  So in `jq '.level = 5' x.json >
 * x.json` the shell's O_TRUNC empties only its own buffer, jq reads the
 * committed version, and the shell's close commits jq's output.
 *
 * Shells flush before writing.  `cmd > x.json` opens x.json, dup2()s it
 * to stdout and closes the original descriptor: a flush with nothing
 * written yet, before cmd runs.  Hence:
 *   - an O_TRUNC that has not been written to is not an empty write yet:
 *     the first such flush passes silently, the second (the shell closing
 *     stdout after `: > x.json`) or the release rejects it (item kept,
 *     line in /_errors);
 *   - a new item (create) is committed key-only at a flush before any
 *     write, as `touch` needs; if that handle's content later fails to
 *     commit, the provisional key-only item is removed again (unless
 *     something else changed it meanwhile), so `echo bad > new.json`
 *     leaves nothing behind.

 * Refusal at write().  While a handle's writes are one simple sequence
 * from an empty buffer, the write that completes (or definitely breaks)
 * the document runs the commit's checks and fails with their errno, so
 * that bash's builtin `echo > x.json` sees it (wcheck.h); the close then
 * stores the item checked there, or fails the same way without a second
 * /_errors line.  Nothing is stored before the close either way.

 * No page cache.  Every handle of an item or _schema.json uses direct
 * I/O, so each reads exactly its own snapshot.  Writers must: their
 * uncommitted bytes must never enter the page cache readers share.
 * Readers must too: the page cache is shared by every version, and a
 * page-cache read stops at the kernel's one i_size, which a writer's
 * O_TRUNC open, its commit's attribute invalidation and any stat move
 * under a reader of an older version -- which then read a truncated copy
 * (17 of 40 reads did, when quiet items were read through the cache).
 * The cost is small: the open renders the snapshot anyway, and reads are
 * served from it.  A reader's getattr (FUSE_GETATTR_FH) still reports
 * its own snapshot's size.

 * Handle kinds are a small switch (enum fh_type); _batch, _tx, _stats
 * and query results add theirs here; _changes descriptors (FH_CHANGES)
 * are followed in changes.c, which answers their reads, possibly later.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "ctl.h"
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
};

static void fh_release(struct fh *h);

static struct fh *fh_of(struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

static void fh_free(struct fsx *fs, struct fh *h)
{
	if (h->scr) {
		pthread_mutex_lock(&fs->ilock);
		scratch_unref_locked(h->scr);
		pthread_mutex_unlock(&fs->ilock);
	}
	ctl_release(h->ctl); /* completes what was written, then frees */
	changes_release(h->chg);
	node_put(fs, h->node);
	free(h->snap);
	free(h->buf);
	val_free(&h->ok_item);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct fh *fh_new(struct fsx *fs, enum fh_type type, struct node *n)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fs = fs;
	h->type = type;
	h->node = n;
	val_init_null(&h->ok_item);
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/* The committed text of an item or schema node (new). */
static int node_text(struct fsx *fs, struct node *n, char **text, size_t *len)
{
	struct val pk, sk;
	table_t *t;
	int rc = node_key(fs, n, &t, &pk, &sk);

	if (rc < 0)
		return rc;
	if (!tbl_alive(t))
		rc = -ENOENT;
	else if (n->kind == NK_SCHEMA)
		rc = schema_text(t, text, len);
	else
		rc = tbl_get_text(t, &pk, sk.type == VAL_NULL ? NULL : &sk, text, len, NULL);
	val_free(&pk);
	val_free(&sk);
	return rc;
}

/* Direct I/O for every handle (see the header); count the writers. */
static void cache_policy(struct fsx *fs, struct node *n, struct fh *h, uint64_t v1,
			 struct fuse_file_info *fi)
{
	pthread_mutex_lock(&fs->ilock);
	if (h->writer)
		n->writers++;
	fi->direct_io = 1;
	h->direct = true;
	pthread_mutex_unlock(&fs->ilock);
}

/* Open an item or _schema.json.  created: a new item from create(). */
static int open_text(struct fsx *fs, struct node *n, struct fuse_file_info *fi, bool created,
		     struct fh **out)
{
	int acc = fi->flags & O_ACCMODE;
	struct fh *h;
	uint64_t v1;
	int rc;

	if (acc != O_RDONLY && fs->readonly)
		return -EROFS;
	h = fh_new(fs, FH_TEXT, n);
	if (!h)
		return -ENOMEM;
	h->writer = acc != O_RDONLY;
	h->append = fi->flags & O_APPEND;
	pthread_mutex_lock(&fs->ilock);
	v1 = n->ver;
	pthread_mutex_unlock(&fs->ilock);
	if (created) {
		rc = 0;
	} else {
		rc = node_text(fs, n, &h->snap, &h->snap_len);
		if (rc == -ENOENT && n->kind == NK_ITEM) {
			pthread_mutex_lock(&fs->ilock);
			if (h->writer) {
				/* The kernel still believes in the file (a failed
				 * creation, a delete it has not heard of yet): the
				 * writer creates it. */
				created = true;
				n->pending++;
				rc = 0;
			} else if (n->pending && n->hashed) {
				rc = 0; /* another handle is creating it */
			}
			pthread_mutex_unlock(&fs->ilock);
		}
	}
	if (rc < 0) {
		free(h->snap);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return rc;
	}
	h->snap_ver = v1;
	if (h->writer && (created || (fi->flags & O_TRUNC))) {
		h->has_buf = true;
		h->trunc_empty = !created;
		wcheck_start(&h->wc);
	}
	h->created = created;
	h->excl = created && (fi->flags & O_EXCL);
	h->pending = created;
	cache_policy(fs, n, h, v1, fi);
	*out = h;
	return 0;
}

static int open_node(struct fsx *fs, struct node *n, struct fuse_file_info *fi, struct fh **out)
{
	int acc = fi->flags & O_ACCMODE;
	struct fh *h;
	int rc;

	switch (n->kind) {
	case NK_ITEM:
	case NK_SCHEMA:
		return open_text(fs, n, fi, false, out);
	case NK_ERRORS:
	case NK_STATS:
	case NK_QUERY: /* generated now: a query is never stale (direct I/O) */
		if (acc != O_RDONLY)
			return -EACCES;
		h = fh_new(fs, FH_SNAP, n);
		if (!h)
			return -ENOMEM;
		if (n->kind == NK_ERRORS)
			rc = errlog_snapshot(fs, &h->snap, &h->snap_len);
		else
			rc = view_open_text(fs, n, &h->snap, &h->snap_len);
		if (rc < 0) {
			pthread_mutex_destroy(&h->lock);
			free(h);
			return rc;
		}
		fi->direct_io = 1;
		*out = h;
		return 0;
	case NK_SCRATCH:
		if (acc != O_RDONLY && fs->readonly)
			return -EROFS;
		h = fh_new(fs, FH_SCRATCH, n);
		if (!h)
			return -ENOMEM;
		pthread_mutex_lock(&fs->ilock);
		rc = S_ISDIR(n->scr->mode) ? -EISDIR : 0;
		if (rc == 0 && acc != O_RDONLY && (fi->flags & O_TRUNC))
			rc = scratch_truncate(n->scr, 0);
		if (rc == 0) {
			h->scr = n->scr;
			h->scr->refs++;
		}
		pthread_mutex_unlock(&fs->ilock);
		if (rc < 0) {
			pthread_mutex_destroy(&h->lock);
			free(h);
			return rc;
		}
		h->writer = acc != O_RDONLY;
		h->append = fi->flags & O_APPEND;
		fi->keep_cache = 1; /* only the kernel changes scratch files */
		*out = h;
		return 0;
	case NK_BATCH:
	case NK_TX:
		h = fh_new(fs, FH_CTL, n);
		if (!h)
			return -ENOMEM;
		rc = ctl_open(fs, n, n->kind == NK_TX ? &tx_class : &batch_class, fi->flags,
			      &h->ctl);
		if (rc < 0) {
			pthread_mutex_destroy(&h->lock);
			free(h);
			return rc;
		}
		h->writer = acc != O_RDONLY;
		fi->direct_io = 1; /* sessions, not pages */
		*out = h;
		return 0;
	case NK_CHANGES:
		h = fh_new(fs, FH_CHANGES, n);
		if (!h)
			return -ENOMEM;
		rc = changes_open(fs, n, fi->flags, &h->chg);
		if (rc < 0) {
			pthread_mutex_destroy(&h->lock);
			free(h);
			return rc;
		}
		fi->direct_io = 1; /* a growing stream: every read comes to us */
		*out = h;
		return 0;
	default:
		return -EISDIR;
	}
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct node *n = node_get(fs, ino);
	struct fh *h;
	int rc;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = open_node(fs, n, fi, &h);
	if (rc < 0) {
		node_put(fs, n);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) < 0)
		fh_release(h);
}

/* ---- create ---- */

static int create_item(struct fsx *fs, struct resolved *r, struct fuse_file_info *fi,
		       struct node **out, struct fh **fh)
{
	const struct val *sk = r->sk.type == VAL_NULL ? NULL : &r->sk;
	struct node *n = node_ident(fs, NK_ITEM, r->table, &r->pk, sk, true);
	int rc;

	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&fs->ilock);
	n->pending++;
	n->parent = r->dir->ino;
	n->ctime_ns = fsx_now_ns();
	pthread_mutex_unlock(&fs->ilock);
	rc = open_text(fs, n, fi, true, fh);
	if (rc < 0) {
		pthread_mutex_lock(&fs->ilock);
		n->pending--;
		pthread_mutex_unlock(&fs->ilock);
		node_put(fs, n);
		return rc;
	}
	*out = n;
	return 0;
}

static int create_scratch(struct fsx *fs, fuse_req_t req, struct resolved *r, const char *name,
			  mode_t mode, struct fuse_file_info *fi, struct node **out,
			  struct fh **fh)
{
	struct node *n;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	rc = scratch_create_locked(fs, r->dir, name, S_IFREG | (mode & 07777), fuse_req_ctx(req),
				   &n);
	pthread_mutex_unlock(&fs->ilock);
	if (rc < 0)
		return rc;
	fi->flags &= ~O_TRUNC;
	rc = open_node(fs, n, fi, fh);
	if (rc < 0) {
		node_put(fs, n);
		return rc;
	}
	*out = n;
	return 0;
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct fuse_entry_param e;
	struct node *dir, *n = NULL;
	struct resolved r;
	struct fh *h = NULL;
	double timeout;
	bool had;
	int rc;

	RO_CHECK(req, fs);
	dir = node_get(fs, parent);
	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* the kernel replaces its negative entry itself (see neg_claim) */
	had = neg_take(fs, parent, name);
	rc = resolve(fs, dir, name, &r);
	if (view_ro_dir(fs, dir))
		rc = -EPERM;
	if (rc < 0)
		goto out;
	switch (r.what) {
	case RES_NODE:
		if (fi->flags & O_EXCL) {
			rc = -EEXIST;
			break;
		}
		n = r.node;
		r.node = NULL;
		rc = open_node(fs, n, fi, &h);
		break;
	case RES_ITEM:
		rc = r.shortened ? bad_name(fs, dir, name, "a shortened name can only be "
							   "created through _batch")
				 : create_item(fs, &r, fi, &n, &h);
		break;
	case RES_SCRATCH:
	case RES_PART: /* a plain file with a partition's name: scratch */
		if (r.item_like)
			rc = refuse_item_like(fs, &r, name);
		else
			rc = r.shortened ? -EINVAL
					 : create_scratch(fs, req, &r, name, mode, fi, &n, &h);
		break;
	case RES_TABLE:
		rc = -EPERM; /* only directories (tables) at the top */
		break;
	default:
		rc = r.bad		     ? refuse_bad(fs, &r, name)
		     : dir->kind == NK_ROOT ? -EPERM
					    : bad_name(fs, dir, name,
						       "names beginning with _ are dynfs's own");
		break;
	}
	if (rc < 0)
		goto out;
	memset(&e, 0, sizeof(e));
	rc = node_attr(fs, n, &e.attr, &timeout);
	if (rc < 0)
		goto out;
	e.ino = n->ino;
	e.generation = fs->gen;
	e.attr_timeout = 0; /* the first commit changes size and times */
	e.entry_timeout = r.alias ? 0 : FSX_TIMEOUT; /* aliases: see resolve.c */
	fi->fh = (uintptr_t)h;
	node_lookup_inc(fs, n);
	if (fuse_reply_create(req, &e, fi) < 0) {
		node_forget(fs, n->ino, 1);
		fh_release(h);
	}
	h = NULL;
	n = NULL;
out:
	if (h)
		fh_release(h); /* holds the reference on n */
	else
		node_put(fs, n);
	resolved_free(fs, &r);
	node_put(fs, dir);
	if (rc < 0) {
		if (had)
			neg_add(fs, parent, name);
		fuse_reply_err(req, -rc);
	}
}

/* ---- read and write ---- */

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct fh *h = fh_of(fi);
	const char *src;
	size_t len;
	char *tmp;
	int rc;

	if (h->type == FH_CHANGES) {
		changes_read(req, h->chg, size, off, fi->flags); /* replies, maybe later */
		return;
	}
	if (h->type == FH_CTL) {
		rc = ctl_read(h->ctl, size, off, &tmp, &len);
		inval_settle(fs); /* it may have completed a change (fsx.h) */
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_buf(req, tmp, len);
		free(tmp);
		return;
	}
	if (h->type == FH_SCRATCH) {
		tmp = malloc(size ? size : 1);
		if (!tmp) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		pthread_mutex_lock(&fs->ilock);
		rc = scratch_read(h->scr, tmp, size, off);
		pthread_mutex_unlock(&fs->ilock);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_buf(req, tmp, (size_t)rc);
		free(tmp);
		return;
	}
	pthread_mutex_lock(&h->lock);
	src = h->has_buf ? h->buf : h->snap;
	len = h->has_buf ? h->len : h->snap_len;
	if (off < 0 || (size_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
	tmp = malloc(size ? size : 1);
	if (tmp && size)
		memcpy(tmp, src + off, size);
	pthread_mutex_unlock(&h->lock);
	/* the handle may be released as soon as the reply is out */
	if (!tmp)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, tmp, size);
	free(tmp);
}

/* Make room for end bytes in the write buffer (h->lock held). */
static int buf_reserve(struct fh *h, size_t end)
{
	size_t ncap;
	char *p;

	if (end > FSX_WBUF_MAX)
		return -EFBIG;
	if (!h->has_buf) {
		h->buf = h->snap_len ? malloc(h->snap_len) : NULL;
		if (h->snap_len && !h->buf)
			return -ENOMEM;
		if (h->snap_len)
			memcpy(h->buf, h->snap, h->snap_len);
		h->len = h->cap = h->snap_len;
		h->has_buf = true;
	}
	if (end <= h->cap)
		return 0;
	ncap = h->cap ? h->cap : 4096;
	while (ncap < end)
		ncap *= 2;
	if (ncap > FSX_WBUF_MAX)
		ncap = FSX_WBUF_MAX;
	p = realloc(h->buf, ncap);
	if (!p)
		return -ENOMEM;
	h->buf = p;
	h->cap = ncap;
	return 0;
}

/* Set the buffer's length (h->lock held): truncate or extend with zeros. */
static int buf_resize(struct fh *h, size_t len)
{
	int rc = buf_reserve(h, len);

	if (rc < 0)
		return rc;
	if (len > h->len)
		memset(h->buf + h->len, 0, len - h->len);
	h->len = len;
	h->dirty = true;
	h->trunc_empty = false;
	if (len)
		wcheck_stop(&h->wc);
	else
		wcheck_start(&h->wc);
	val_free(&h->ok_item);
	return 0;
}

/*
 * After a write of size bytes at off to a buffer of len bytes: refuse it
 * now if the document it completes or breaks is bad (wcheck.h).  h->lock
 * held.  0 or the write's -errno.
 */
static int write_check(struct fsx *fs, struct fh *h, off_t off, size_t len, const char *buf,
		       size_t size)
{
	int rc;

	switch (wcheck_write(&h->wc, off, len, buf, size)) {
	case WC_REFUSED:
		return h->wc.refused;
	case WC_CHECK:
		val_free(&h->ok_item);
		if (h->node->kind == NK_SCHEMA)
			rc = schema_precheck(fs, h->node, h->buf, h->len);
		else
			rc = item_precheck(fs, h->node, h->buf, h->len, true, &h->ok_item);
		wcheck_result(&h->wc, rc);
		return rc;
	default:
		if (!h->wc.checked)
			val_free(&h->ok_item);
		return 0;
	}
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct fh *h = fh_of(fi);
	int rc;

	RO_CHECK(req, fs);
	if (!h->writer || h->type == FH_SNAP) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->type == FH_CTL) {
		rc = ctl_write(h->ctl, buf, size, off);
		inval_settle(fs); /* what it changed is seen once it returns */
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, (size_t)rc); /* may be short (batch.c) */
		return;
	}
	if (h->type == FH_SCRATCH) {
		pthread_mutex_lock(&fs->ilock);
		rc = scratch_write(h->scr, buf, size, h->append ? (off_t)h->scr->len : off);
		pthread_mutex_unlock(&fs->ilock);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, (size_t)rc);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off < 0) {
		rc = -EINVAL;
	} else {
		if (h->append)
			off = (off_t)(h->has_buf ? h->len : h->snap_len);
		rc = buf_reserve(h, (size_t)off + size);
	}
	if (rc == 0) {
		size_t len = h->len;

		if ((size_t)off > h->len)
			memset(h->buf + h->len, 0, (size_t)off - h->len);
		memcpy(h->buf + off, buf, size);
		if ((size_t)off + size > h->len)
			h->len = (size_t)off + size;
		h->dirty = true;
		h->trunc_empty = false;
		rc = write_check(fs, h, off, len, buf, size);
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* ---- commit: flush, fsync, release ---- */

/* A created item that does not exist after all: drop the kernel's
 * positive entry so the name reads as absent again. */
static void drop_ghost(struct fsx *fs, struct node *n)
{
	char name[NAME_BUF];
	fuse_ino_t parent = 0;
	struct val pk, sk;
	table_t *t;
	int rc;

	if (node_key(fs, n, &t, &pk, &sk) < 0)
		return;
	rc = tbl_get(t, &pk, sk.type == VAL_NULL ? NULL : &sk, NULL, NULL);
	if (rc == -ENOENT) {
		pthread_mutex_lock(&fs->ilock);
		if (n->pending == 0 && n->hashed && n->kind == NK_ITEM) {
			rc = name_make(sk.type != VAL_NULL ? &sk : &pk, true, name);
			parent = n->parent;
			node_unhash_locked(fs, n);
		}
		pthread_mutex_unlock(&fs->ilock);
		if (rc >= 0 && parent)
			inval_entry_async(fs, parent, name);
	}
	val_free(&pk);
	val_free(&sk);
}

/* db_apply condition: the item is still the key-only item we made. */
static int still_key_only(void *ctx, const struct val *old, struct val *out,
			  struct dyn_err *err)
{
	return old && val_equal(old, ctx) ? 0 : -ECANCELED;
}

/* Undo a provisional key-only commit whose content then failed. */
static void rollback_provisional(struct fsx *fs, struct node *n)
{
	struct val pk, sk, keyonly;
	struct db_op op;
	table_t *t;

	if (node_key(fs, n, &t, &pk, &sk) < 0)
		return;
	if (item_from_text(t, &pk, sk.type == VAL_NULL ? NULL : &sk, "", 0, true, &keyonly,
			   NULL) == 0) {
		memset(&op, 0, sizeof(op));
		op.kind = DB_DELETE;
		op.table = t;
		op.pk = &pk;
		op.sk = sk.type == VAL_NULL ? NULL : &sk;
		op.fn = still_key_only;
		op.ctx = &keyonly;
		db_apply(fs->db, &op, 1, NULL, NULL);
		val_free(&keyonly);
	}
	val_free(&pk);
	val_free(&sk);
}

/* Reject an O_TRUNC that was never followed by a write. */
static int reject_empty(struct fsx *fs, struct fh *h)
{
	char path[3 * NAME_BUF + 16];

	h->empty_logged = true;
	node_path(fs, h->node, path, sizeof(path));
	if (h->node->kind == NK_SCHEMA)
		errlog_add(fs, path, "empty file: the schema needs a partition_key; it is "
				     "unchanged");
	else
		errlog_add(fs, path, "empty file: writing nothing would erase the item, which "
				     "is kept; to delete it, use rm");
	return -EINVAL;
}

/*
 * What a flush, fsync or release commits (h->lock held).  last: the
 * release, after which nothing more can be written.
 */
static int fh_commit(struct fsx *fs, struct fh *h, bool last)
{
	struct node *n = h->node;
	const char *text;
	size_t len;
	int rc;

	if (h->type != FH_TEXT || !h->writer)
		return 0;
	if (h->wc.refused) {
		/* refused at write() and logged there: the same errno, no new line */
		if (h->provisional) {
			rollback_provisional(fs, n);
			h->provisional = false;
			h->created = true;
		}
		h->dirty = false;
		return h->wc.refused;
	}
	if (!h->dirty && !h->created) {
		if (h->trunc_empty && !h->empty_logged && (last || ++h->empty_flushes >= 2))
			return reject_empty(fs, h);
		return 0;
	}
	text = h->has_buf ? h->buf : h->snap;
	len = h->has_buf ? h->len : h->snap_len;
	rc = 1; /* not stored yet */
	if (n->kind == NK_ITEM && h->wc.checked && h->ok_item.type != VAL_NULL)
		rc = item_commit_checked(fs, n, &h->ok_item, h->excl ? DB_IF_ABSENT : 0);
	if (rc == 1)
		rc = n->kind == NK_SCHEMA
			     ? schema_commit(fs, n, text, len)
			     : item_commit(fs, n, text, len, h->created || h->provisional,
					   h->excl ? DB_IF_ABSENT : 0);
	if (rc == 0) {
		h->provisional = h->created && !h->dirty;
		h->created = h->excl = false;
	} else if (h->provisional) {
		rollback_provisional(fs, n);
		h->provisional = false;
		h->created = true;
	}
	h->dirty = false; /* retried only after new writes */
	return rc;
}

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct fh *h = fh_of(fi);
	int rc;

	if (h->type == FH_CTL) {
		rc = ctl_flush(h->ctl);
		inval_settle(fs);
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_lock(&h->lock);
	rc = fh_commit(fs, h, false);
	pthread_mutex_unlock(&h->lock);
	inval_settle(fs);
	fuse_reply_err(req, -rc);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	int rc;

	if (h->type == FH_CTL) {
		rc = ctl_fsync(h->ctl);
		inval_settle(fsx_of(req));
		fuse_reply_err(req, -rc);
		return;
	}
	op_flush(req, ino, fi);
}

/* The last close of a handle (also for one the kernel never saw). */
static void fh_release(struct fh *h)
{
	struct fsx *fs = h->fs;
	struct node *n = h->node;
	bool ghost;

	pthread_mutex_lock(&h->lock);
	if (h->dirty || h->trunc_empty)
		fh_commit(fs, h, true); /* errors go to /_errors */
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&fs->ilock);
	if (h->writer && h->type == FH_TEXT)
		n->writers--;
	ghost = h->pending;
	if (h->pending)
		n->pending--;
	pthread_mutex_unlock(&fs->ilock);
	if (ghost)
		drop_ghost(fs, n);
	if (h->writer && h->type == FH_TEXT)
		inval_attr_now(fs, n->ino); /* size back to the committed one */
	fh_free(fs, h);
}

void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	     struct fuse_pollhandle *ph)
{
	struct fh *h = fh_of(fi);

	if (h->type == FH_CHANGES) {
		changes_poll(req, h->chg, ph);
		return;
	}
	if (ph) /* everything else is always ready, like a regular file */
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);

	fh_release(fh_of(fi));
	inval_settle(fs);
	fuse_reply_err(req, 0);
}

/* ---- attributes ---- */

/*
 * The kernel refreshes a file's size through the handle it reads with
 * (FUSE_GETATTR_FH), and stops reading from the page cache at that size.
 * A reader's size must therefore be its snapshot's, not the latest
 * version's, or a commit between its open and its read would cut the old
 * version short.  Not cached: another reader may hold another version.
 */
static void snapshot_size(struct fsx *fs, struct fh *h, struct stat *st, double *timeout)
{
	if (h->type == FH_CHANGES) { /* what `tail -f` polls: changes.h */
		st->st_size = changes_size(h->chg, true);
		st->st_blocks = 0;
		*timeout = 0;
		return;
	}
	if (h->type != FH_TEXT || h->writer)
		return;
	pthread_mutex_lock(&h->lock);
	if ((off_t)h->snap_len != st->st_size) {
		st->st_size = (off_t)h->snap_len;
		st->st_blocks = (st->st_size + 511) / 512;
		*timeout = 0;
	}
	pthread_mutex_unlock(&h->lock);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct node *n = node_get(fs, ino);
	struct stat st;
	double timeout;
	int rc;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = node_attr(fs, n, &st, &timeout);
	if (rc == 0 && fi)
		snapshot_size(fs, fh_of(fi), &st, &timeout);
	node_put(fs, n);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* truncate() of an item or schema: through the handle, or as a commit. */
static int truncate_text(struct fsx *fs, struct node *n, off_t size, struct fuse_file_info *fi)
{
	struct fh *h = fi ? fh_of(fi) : NULL;
	char *text;
	size_t len;
	int rc;

	if (size < 0)
		return -EINVAL;
	if (h && h->writer && h->type == FH_TEXT) {
		pthread_mutex_lock(&h->lock);
		rc = buf_resize(h, (size_t)size);
		pthread_mutex_unlock(&h->lock);
		return rc;
	}
	rc = node_text(fs, n, &text, &len);
	if (rc < 0)
		return rc;
	if ((size_t)size != len) {
		char *t2 = realloc(text, (size_t)size + 1);

		if (!t2) {
			free(text);
			return -ENOMEM;
		}
		text = t2;
		if ((size_t)size > len)
			memset(text + len, 0, (size_t)size - len);
		rc = n->kind == NK_SCHEMA ? schema_commit(fs, n, text, (size_t)size)
					  : item_commit(fs, n, text, (size_t)size, false, 0);
	}
	free(text);
	return rc;
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct node *n = node_get(fs, ino);
	enum node_kind kind;
	struct stat st;
	double timeout;
	int rc = 0;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fs->readonly) {
		rc = -EROFS;
		goto out;
	}
	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	if (kind == NK_SCRATCH)
		rc = scratch_setattr(n, attr, to_set);
	pthread_mutex_unlock(&fs->ilock);
	/* Items and directories have a fixed mode and owner (0644/0755, the
	 * mounting user): chmod and chown that would change them fail with
	 * EPERM rather than succeed and change nothing; ones that change
	 * nothing succeed (cp -p, rsync -a, tar of what is there). */
	if (kind != NK_SCRATCH &&
	    (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		rc = node_attr(fs, n, &st, &timeout);
		if (rc == 0 && (((to_set & FUSE_SET_ATTR_MODE) &&
				 (attr->st_mode & 07777) != (st.st_mode & 07777)) ||
				((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid) ||
				((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != st.st_gid)))
			rc = -EPERM;
		if (rc < 0)
			goto out;
	}
	if (kind != NK_SCRATCH && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (kind == NK_ITEM || kind == NK_SCHEMA)
			rc = truncate_text(fs, n, attr->st_size, fi);
		else if (kind == NK_BATCH || kind == NK_TX) /* per descriptor */
			rc = fi && fh_of(fi)->type == FH_CTL
				     ? ctl_truncate(fh_of(fi)->ctl, attr->st_size) : 0;
		else
			rc = (kind == NK_ERRORS || kind == NK_STATS || kind == NK_QUERY) ? -EACCES
											 : -EISDIR;
	}
	/* times of items and directories: accepted and ignored (editors
	 * and tar set them as a matter of course) */
out:
	inval_settle(fs); /* a truncate commits (fsx.h) */
	if (rc == 0)
		rc = node_attr(fs, n, &st, &timeout);
	if (rc == 0 && fi)
		snapshot_size(fs, fh_of(fi), &st, &timeout);
	node_put(fs, n);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}
