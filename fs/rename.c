/*
 * rename.c - rename(2): how items change keys and how tools commit.
 *
 *   item -> item name (same table)   the key changes, atomically: one
 *        db_apply() deletes the old key and puts the item under the new
 *        one, key attributes rewritten from the new path; an existing
 *        target is replaced (RENAME_NOREPLACE: EEXIST).  The delete is
 *        conditional on the item still being what was read, so a
 *        concurrent write is never lost (the rename retries).
 *   scratch -> item name             an atomic, validated put of the
 *        scratch file's content (sed -i, perl -pi, rsync, vim with
 *        backupcopy=no, mv of a prepared file): on success the scratch
 *        file is gone; on invalid content EINVAL, a line in /_errors,
 *        and both files stay as they were.
 *   scratch -> _schema.json          the same, for the table's schema.
 *   scratch -> scratch               tmpfs rename.
 *   anything else                    EXDEV: an item onto a scratch name,
 *        into another table; partition and table directories; dynfs's
 *        own entries.  Tools fall back to copy + unlink, so an item
 *        never disappears half-way through a save.  (Moving a partition
 *        would be a multi-item move of unbounded size; mv's fallback
 *        does it item by item instead.)
 *
 * After a rename the kernel believes the source inode has the new name,
 * so the source node takes the target's identity (node_become): its
 * inode number stays, and whatever node had that identity is orphaned,
 * as the replaced file's inode is in any filesystem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define RENAME_RETRIES 8

/* The table id of a directory (0: not a table or partition). */
static uint64_t dir_tid(struct fsx *fs, struct node *dir)
{
	uint64_t tid;

	pthread_mutex_lock(&fs->ilock);
	tid = (dir->kind == NK_TABLE || dir->kind == NK_PART) ? dir->tid : 0;
	pthread_mutex_unlock(&fs->ilock);
	return tid;
}

/* The path a rename targets, for /_errors. */
static void target_path(struct fsx *fs, struct resolved *dst, const char *name, char *buf,
			size_t size)
{
	if (dst->node) {
		node_path(fs, dst->node, buf, size);
		return;
	}
	node_path(fs, dst->dir, buf, size);
	snprintf(buf + strlen(buf), size - strlen(buf), "/%s", name);
}

/*
 * After a successful commit the source node n becomes the target object
 * (kind, key pk/sk in ddir's table).  tref: a table reference for a node
 * that has none yet (scratch).
 */
static int become(struct fsx *fs, struct node *sdir, const char *sname, struct node *n,
		  enum node_kind kind, struct node *ddir, be_table_t **tref, const struct val *pk,
		  const struct val *sk)
{
	int rc;

	pthread_mutex_lock(&fs->ilock);
	if (n->kind == NK_SCRATCH && kids_find(&sdir->kids, sname) == n)
		kids_del(&sdir->kids, sname);
	rc = node_become_locked(fs, n, kind, ddir, tref, pk, sk);
	n->parent = ddir->ino;
	__atomic_store_n(&n->paged, true, __ATOMIC_SEQ_CST); /* a scratch file's pages */
	inval_data_async(fs, n); /* the kernel cached the old content */
	pthread_mutex_unlock(&fs->ilock);
	inval_attr_now(fs, n->ino);
	return rc;
}

/* ---- item -> item ---- */

static int set_key(struct val *item, const struct key_attr *a, const struct val *v)
{
	struct val copy;
	int rc = val_copy(&copy, v);

	return rc < 0 ? rc : val_map_set(item, a->name, strlen(a->name), &copy);
}

static int move_item(struct fsx *fs, struct resolved *src, struct resolved *dst,
		     const char *name, unsigned int flags)
{
	const struct val *dsk = dst->sk.type == VAL_NULL ? NULL : &dst->sk;
	const struct key_attr *ska;
	struct val opk, osk, orig, moved;
	be_op ops[2];
	struct dyn_err err;
	int rc, tries = 0;
	be_table_t *t;

	rc = node_key(fs, src->node, &t, &opk, &osk);
	if (rc < 0)
		return rc;
	ska = be_table_sk(t);
	if (src->dir->kind == NK_PART) { /* the source directory stays, as with rm */
		struct node *tn = node_ident(fs, NK_TABLE, t, NULL, NULL, true);

		if (tn) {
			pthread_mutex_lock(&fs->ilock);
			if (src->dir->hashed)
				node_pin_locked(fs, tn, src->dir);
			pthread_mutex_unlock(&fs->ilock);
			node_put(fs, tn);
		}
	}
	do {
		err_clear(&err);
		rc = be_get(t, &opk, osk.type == VAL_NULL ? NULL : &osk, &orig, NULL, NULL);
		if (rc < 0)
			break;
		rc = val_copy(&moved, &orig);
		if (rc == 0)
			rc = set_key(&moved, be_table_pk(t), &dst->pk);
		if (rc == 0 && ska && dsk)
			rc = set_key(&moved, ska, dsk);
		if (rc == 0) {
			memset(ops, 0, sizeof(ops));
			ops[0].kind = OPS_DELETE;
			ops[0].table = t;
			ops[0].pk = &opk;
			ops[0].sk = osk.type == VAL_NULL ? NULL : &osk;
			ops[0].expect = &orig; /* still the version read: else -EAGAIN */
			ops[1].kind = OPS_PUT;
			ops[1].table = t;
			ops[1].item = &moved;
			ops[1].flags = (flags & RENAME_NOREPLACE) ? DB_IF_ABSENT : 0;
			rc = be_apply(fs->be, ops, 2, NULL, &err);
		}
		val_free(&orig);
		val_free(&moved);
	} while (rc == -EAGAIN && ++tries < RENAME_RETRIES);
	if (rc == 0) {
		be_table_t *none = NULL;

		rc = become(fs, src->dir, name, src->node, NK_ITEM, dst->dir, &none, &dst->pk, dsk);
	} else if (rc != -EEXIST && rc != -ENOENT) {
		char path[3 * NAME_BUF + 16];

		node_path(fs, src->node, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	val_free(&opk);
	val_free(&osk);
	return rc == -EAGAIN ? -EBUSY : rc;
}

/* ---- scratch -> item, scratch -> _schema.json ---- */

/* A copy of a regular scratch file's content (new); -EXDEV otherwise. */
static int scratch_text(struct fsx *fs, struct node *n, char **text, size_t *len)
{
	int rc = 0;

	pthread_mutex_lock(&fs->ilock);
	if (n->kind != NK_SCRATCH || !S_ISREG(n->scr->mode)) {
		rc = -EXDEV;
	} else {
		*len = n->scr->len;
		*text = malloc(*len ? *len : 1);
		if (!*text)
			rc = -ENOMEM;
		else if (*len)
			memcpy(*text, n->scr->data, *len);
	}
	pthread_mutex_unlock(&fs->ilock);
	return rc;
}

static int commit_scratch(struct fsx *fs, struct resolved *src, const char *sname,
			  struct resolved *dst, const char *dname, unsigned int flags)
{
	const struct val *dsk = dst->sk.type == VAL_NULL ? NULL : &dst->sk;
	bool exists = dst->what == RES_NODE;
	bool schema = exists && dst->node->kind == NK_SCHEMA;
	char path[3 * NAME_BUF + 16];
	be_table_t *tref = NULL;
	struct dyn_err err;
	struct val item;
	size_t len;
	char *text;
	int rc;

	if (exists && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	rc = scratch_text(fs, src->node, &text, &len);
	if (rc < 0)
		return rc;
	rc = be_table_open(fs->be, be_table_name(dst->table), &tref, NULL);
	if (rc == 0 && be_table_id(tref) != be_table_id(dst->table))
		rc = -ENOENT;
	if (rc < 0)
		goto out;
	err_clear(&err);
	if (schema) {
		rc = schema_commit(fs, dst->node, text, len); /* logs its errors */
	} else {
		rc = item_from_text(dst->table, &dst->pk, dsk, text, len, !exists, &item, &err);
		if (rc == 0) {
			rc = be_put(dst->table, &item,
				    (flags & RENAME_NOREPLACE) ? DB_IF_ABSENT : 0, &err);
			val_free(&item);
		}
		if (rc < 0 && rc != -EEXIST) {
			target_path(fs, dst, dname, path, sizeof(path));
			errlog_err(fs, path, &err, rc);
		}
	}
	if (rc == 0)
		rc = become(fs, src->dir, sname, src->node, schema ? NK_SCHEMA : NK_ITEM, dst->dir,
			    &tref, schema ? NULL : &dst->pk, schema ? NULL : dsk);
out:
	if (tref)
		be_table_close(tref);
	free(text);
	return rc;
}

/* ---- scratch -> scratch ---- */

static int move_scratch(struct fsx *fs, struct resolved *src, const char *name,
			struct resolved *dst, const char *newname, unsigned int flags)
{
	struct node *n = src->node, *d;
	int rc = 0;

	pthread_mutex_lock(&fs->ilock);
	d = kids_find(&dst->dir->kids, newname);
	if (kids_find(&src->dir->kids, name) != n) {
		rc = -ENOENT;
	} else if (d && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else if (d) {
		if (S_ISDIR(n->scr->mode) && !S_ISDIR(d->scr->mode))
			rc = -ENOTDIR;
		else if (!S_ISDIR(n->scr->mode) && S_ISDIR(d->scr->mode))
			rc = -EISDIR;
		else if (d->kids.n)
			rc = -ENOTEMPTY;
		else
			kids_del(&dst->dir->kids, newname); /* d: freed with dst */
	}
	if (rc == 0) {
		n->refs++; /* kept alive between the two lists */
		kids_del(&src->dir->kids, name);
		rc = kids_add(&dst->dir->kids, newname, n);
		if (rc < 0)
			kids_add(&src->dir->kids, name, n);
		n->parent = dst->dir->ino;
		clock_gettime(CLOCK_REALTIME, &n->scr->ctime);
		node_put_locked(fs, n);
	}
	pthread_mutex_unlock(&fs->ilock);
	return rc;
}

/* ---- dispatch ---- */

static int do_rename(struct fsx *fs, struct resolved *src, const char *name,
		     struct resolved *dst, const char *newname, unsigned int flags)
{
	enum node_kind sk = src->node->kind;
	enum node_kind dk = dst->what == RES_NODE ? dst->node->kind : NK_ROOT;
	uint64_t stid = dir_tid(fs, src->dir), dtid = dir_tid(fs, dst->dir);
	bool to_item = dst->what == RES_ITEM || (dst->what == RES_NODE && dk == NK_ITEM);
	bool to_scratch = dst->what == RES_SCRATCH || dst->what == RES_PART ||
			  (dst->what == RES_NODE && dk == NK_SCRATCH);

	if (dst->what == RES_NODE && dst->node == src->node)
		return 0; /* the same file */
	if (dst->shortened)
		return -EINVAL; /* a shortened name of no item: key unknown */
	if (sk == NK_ITEM) {
		if (!to_item || stid != dtid)
			return -EXDEV;
		return move_item(fs, src, dst, name, flags);
	}
	if (sk != NK_SCRATCH)
		return -EXDEV; /* directories, dynfs's own entries */
	if (dst->item_like && !S_ISDIR(src->node->scr->mode))
		return refuse_item_like(fs, dst, newname);
	if (to_scratch)
		return move_scratch(fs, src, name, dst, newname, flags);
	if (to_item || (dst->what == RES_NODE && dk == NK_SCHEMA)) {
		if (stid && stid != dtid)
			return -EXDEV;
		return commit_scratch(fs, src, name, dst, newname, flags);
	}
	if (dst->what == RES_NONE && dst->bad)
		return refuse_bad(fs, dst, newname);
	if (dst->what == RES_NONE)
		return dst->dir->kind == NK_ROOT ? -EXDEV : -EINVAL;
	return -EXDEV;
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct fsx *fs = fsx_of(req);
	struct node *d1, *d2;
	struct resolved src, dst;
	bool had;
	int rc;

	RO_CHECK(req, fs);
	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, WHITEOUT */
		return;
	}
	d1 = node_get(fs, parent);
	d2 = node_get(fs, newparent);
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	if (!d1 || !d2) {
		rc = -ENOENT;
		goto out;
	}
	/* the kernel moves the source's entry over any negative one it has
	 * for the new name: the observer must not invalidate it */
	had = neg_take(fs, newparent, newname);
	rc = resolve(fs, d1, name, &src);
	if (rc == 0 && src.what != RES_NODE)
		rc = -ENOENT;
	if (rc == 0)
		rc = resolve(fs, d2, newname, &dst);
	if (view_ro_dir(fs, d1) || view_ro_dir(fs, d2))
		rc = -EPERM; /* _index/ and queries are read-only */
	rc = perm_over(req, fs, d1, W_OK | X_OK, rc);
	rc = perm_over(req, fs, d2, W_OK | X_OK, rc);
	if (rc == 0 && d1 != d2) { /* a directory moved: its ".." changes */
		bool dir;

		pthread_mutex_lock(&fs->ilock);
		dir = src.node->kind == NK_SCRATCH && S_ISDIR(src.node->scr->mode);
		pthread_mutex_unlock(&fs->ilock);
		if (dir)
			rc = perm_check(req, fs, src.node, W_OK);
	}
	if (rc == 0)
		rc = do_rename(fs, &src, name, &dst, newname, flags);
	if (rc < 0 && had)
		neg_add(fs, newparent, newname);
	if (rc == 0 && dst.alias) /* the kernel must not keep the alias */
		inval_entry_async(fs, newparent, newname);
out:
	resolved_free(fs, &src);
	resolved_free(fs, &dst);
	node_put(fs, d1);
	node_put(fs, d2);
	fuse_reply_err(req, -rc);
}
