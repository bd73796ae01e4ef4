/*
 * text.c - the handle of an item or _schema.json (FH_TEXT, fh.h): its
 * snapshot, its write buffer, refusal at write() and the commit at flush,
 * fsync and release.  ops_file.c opens it and routes the operations here.
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
 *
 * No FLUSH for readers.  A read-only handle commits nothing, so its open
 * asks the kernel for no FLUSH at close (FOPEN_NOFLUSH): a `cat` is
 * OPEN, READ(s), RELEASE, one round trip fewer (issue 12).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fh.h"

/* The committed text of an item or schema node (new). */
static int node_text(struct fsx *fs, struct node *n, char **text, size_t *len)
{
	struct val pk, sk;
	struct dyn_err err;
	be_table_t *t;
	int rc = node_key(fs, n, &t, &pk, &sk);

	if (rc < 0)
		return rc;
	err_clear(&err);
	if (!be_table_alive(t))
		rc = -ENOENT;
	else if (n->kind == NK_SCHEMA)
		rc = schema_text(t, text, len, &err);
	else
		rc = be_get_text(t, &pk, sk.type == VAL_NULL ? NULL : &sk, text, len, NULL, &err);
	read_err_log(fs, n, NULL, &err, rc);
	val_free(&pk);
	val_free(&sk);
	return rc;
}

/* Direct I/O for every handle (see the header); count the writers. */
static void cache_policy(struct fsx *fs, struct node *n, struct fh *h, uint64_t v1,
			 struct fuse_file_info *fi)
{
	pthread_mutex_lock(&fs->ilock);
	n->opened = true; /* keeps its inode number if forgotten (inode.c) */
	if (h->writer)
		n->writers++;
	else
		fi->noflush = 1; /* a reader commits nothing: no FLUSH round trip */
	fi->direct_io = 1;
	h->direct = true;
	pthread_mutex_unlock(&fs->ilock);
}

int text_open(struct fsx *fs, struct node *n, struct fuse_file_info *fi, bool created,
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
		fh_discard(h);
		return rc;
	}
	if (!created && n->kind == NK_ITEM && h->snap)
		commit_seen(fs, n, h->snap, h->snap_len, h->writer);
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

/* ---- the write buffer ---- */

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
	/* small first: a one-write item of a few hundred bytes then takes a
	 * chunk from malloc's per-thread cache, not a 4 KB one from its bins
	 * (about 1,000 instructions of malloc and free per create) */
	ncap = h->cap ? h->cap : 256;
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
			rc = item_precheck(fs, h->node, h->buf, h->len, true, &h->ok_item,
					   &h->ok_added);
		wcheck_result(&h->wc, rc);
		return rc;
	default:
		if (!h->wc.checked)
			val_free(&h->ok_item);
		return 0;
	}
}

int text_write(struct fsx *fs, struct fh *h, const char *buf, size_t size, off_t off)
{
	int rc;

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
	return rc;
}

/* ---- commit ---- */

void text_drop_ghost(struct fsx *fs, struct node *n)
{
	char name[NAME_BUF];
	fuse_ino_t parent = 0;
	struct val pk, sk;
	be_table_t *t;
	int rc;

	if (node_key(fs, n, &t, &pk, &sk) < 0)
		return;
	rc = be_get(t, &pk, sk.type == VAL_NULL ? NULL : &sk, NULL, NULL, NULL);
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

/* Undo a provisional key-only commit whose content then failed. */
static void rollback_provisional(struct fsx *fs, struct node *n)
{
	struct val pk, sk, keyonly;
	be_op op;
	be_table_t *t;

	if (node_key(fs, n, &t, &pk, &sk) < 0)
		return;
	if (item_from_text(t, &pk, sk.type == VAL_NULL ? NULL : &sk, "", 0, true, &keyonly,
			   NULL) == 0) {
		memset(&op, 0, sizeof(op));
		op.kind = OPS_DELETE;
		op.table = t;
		op.pk = &pk;
		op.sk = sk.type == VAL_NULL ? NULL : &sk;
		op.expect = &keyonly; /* only the key-only item we made */
		be_apply(fs->be, &op, 1, NULL, NULL);
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

int text_commit(struct fsx *fs, struct fh *h, bool last)
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
	/* the creating handle, file still open: inval.c, "A created item's
	 * first commits" */
	fsx_made_commit = h->made && !last ? n : NULL;
	if (n->kind == NK_ITEM && h->wc.checked && h->ok_item.type != VAL_NULL)
		rc = item_commit_checked(fs, n, &h->ok_item, text, len, h->ok_added,
					 h->excl ? DB_IF_ABSENT : 0);
	if (rc == 1)
		rc = n->kind == NK_SCHEMA
			     ? schema_commit(fs, n, text, len)
			     : item_commit(fs, n, text, len, h->created || h->provisional,
					   h->excl ? DB_IF_ABSENT : 0);
	fsx_made_commit = NULL;
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

int text_truncate(struct fsx *fs, struct node *n, off_t size, struct fh *h)
{
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
