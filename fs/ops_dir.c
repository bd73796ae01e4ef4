/*
 * ops_dir.c - operations on names: lookup, mkdir, mknod, symlink, link,
 * unlink, rmdir, forget, statfs, and the session's init.
 *
 * Each operation resolves the name (resolve.c) and acts on what it
 * stands for:
 *
 *   mkdir   /t           create table t, partition key "id" (S)
 *           /t/<pk>      an empty partition directory, pinned in memory
 *                        until rmdir (not persisted): mkdir -p, editors
 *           other names  a scratch directory
 *   unlink  item         delete the item (tbl_delete); the partition
 *                        directory stays (pinned) until rmdir, as a
 *                        directory emptied with rm would
 *           _schema.json succeeds and does nothing: dynfs's own entries
 *                        cannot be removed, and `rm -r /db/t` must be
 *                        quiet about them (SPEC §5)
 *           scratch      tmpfs unlink
 *   rmdir   table        drop it, if it holds no items, scratch files or
 *                        pinned partitions (ENOTEMPTY otherwise); its own
 *                        "_" entries do not count
 *           partition    ENOTEMPTY while it has items or scratch files
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "ops.h"
#include "trace.h"

void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fsx *fs = userdata;

	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/*
	 * No writeback cache: it makes large writes faster but small-file
	 * create+close slower, and with it the kernel would own file sizes
	 * and times while dynfs's commit decides them (canonical text).
	 */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* READDIRPLUS_AUTO (libfuse's default) stays: plain readdir for
	 * `ls -f`-like scans, readdirplus once the kernel sees stats. */
	if (fs->debug)
		fsx_log(fs, "init: protocol %u.%u, want 0x%x", conn->proto_major, conn->proto_minor,
			conn->want);
}

void op_destroy(void *userdata)
{
	struct fsx *fs = userdata;

	/* The kernel has let go (the request threads and the invalidation
	 * thread are done): nothing may be sent to it any more. */
	fs->se = NULL;
	scratch_discard_report(fs); /* SPEC §5: never lost without a word */
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsx *fs = fsx_of(req);
	struct node *dir = node_get(fs, parent);
	struct resolved r;
	uint64_t c0;
	int rc;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	c0 = fsx_chg(fs);
	fsx_trace("LOOKUP_START dir %lu %s pid %d", (unsigned long)parent, name,
		  (int)fuse_req_ctx(req)->pid);
	rc = perm_check(req, fs, dir, X_OK);
	if (rc < 0) {
		node_put(fs, dir);
		fuse_reply_err(req, -rc);
		return;
	}
	rc = resolve_lookup(fs, dir, name, &r);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
	} else if (r.what == RES_NODE && r.alias) {
		reply_alias_entry(req, fs, r.node);
	} else if (r.what == RES_NODE) {
		/* an item's attributes from the read that found it */
		reply_lookup_entry(req, fs, r.node, c0, r.has_meta ? &r.meta : NULL);
	} else if (r.alias || r.bad) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e)); /* absent, and not cached: see resolve.c */
		fuse_reply_entry(req, &e);
	} else {
		reply_negative(req, fs, parent, name, c0);
	}
	resolved_free(fs, &r);
	node_put(fs, dir);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fsx_trace("FORGET ino %lu n %llu", (unsigned long)ino, (unsigned long long)nlookup);
	node_forget(fsx_of(req), ino, nlookup);
	fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fsx *fs = fsx_of(req);
	size_t i;

	for (i = 0; i < count; i++) {
		fsx_trace("FORGET ino %lu n %llu", (unsigned long)forgets[i].ino,
			  (unsigned long long)forgets[i].nlookup);
		node_forget(fs, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

/*
 * A request is about to create parent/name: the kernel will replace its
 * negative entry itself, so forget ours first, or the observer would
 * invalidate the new positive entry (and the kernel forget the inode).
 * Returns whether it was remembered.
 */
static bool neg_claim(struct fsx *fs, fuse_ino_t parent, const char *name)
{
	return neg_take(fs, parent, name);
}

/* The request failed: the kernel keeps its negative entry. */
static void neg_unclaim(struct fsx *fs, bool had, fuse_ino_t parent, const char *name)
{
	if (had)
		neg_add(fs, parent, name);
}

/* Reply the entry of a node just made (reference dropped). */
static void reply_made(fuse_req_t req, struct fsx *fs, struct node *n)
{
	reply_node_entry(req, fs, n);
	node_put(fs, n);
}

/*
 * A request that makes a new name (mkdir, mknod, symlink): decide() is
 * called by make_entry() with the name resolved (rc is resolve()'s
 * result) and creates the node: 0 with *out set (a new reference), or a
 * negative errno.
 */
struct make_req {
	int (*decide)(const struct make_req *m, struct fsx *fs, struct node *dir, const char *name,
		      struct resolved *r, int rc, struct node **out);
	fuse_req_t req;	  /* the request */
	mode_t mode;	  /* mkdir, mknod: mode */
	dev_t rdev;	  /* mknod: device */
	const char *link; /* symlink: target */
};

/*
 * The frame shared by mkdir, mknod and symlink: look up the parent, take
 * over a negative entry the kernel may hold for the name (given back if
 * the request fails), resolve the name, let m->decide() make the node,
 * reply.
 */
static void make_entry(const struct make_req *m, fuse_ino_t parent, const char *name)
{
	struct fsx *fs = fsx_of(m->req);
	struct node *dir, *n = NULL;
	struct resolved r;
	bool had;
	int rc;

	RO_CHECK(m->req, fs);
	dir = node_get(fs, parent);
	if (!dir) {
		fuse_reply_err(m->req, ENOENT);
		return;
	}
	rc = perm_check(m->req, fs, dir, W_OK | X_OK);
	if (rc < 0) {
		node_put(fs, dir);
		fuse_reply_err(m->req, -rc);
		return;
	}
	had = neg_claim(fs, parent, name);
	rc = resolve(fs, dir, name, &r);
	rc = m->decide(m, fs, dir, name, &r, rc, &n);
	if (rc < 0) {
		neg_unclaim(fs, had, parent, name);
		fuse_reply_err(m->req, -rc);
	} else if (r.alias) {
		reply_alias_entry(m->req, fs, n);
		node_put(fs, n);
	} else {
		reply_made(m->req, fs, n);
	}
	resolved_free(fs, &r);
	node_put(fs, dir);
}

/* "<path of its parent>/<its name>" of scratch directory dir, into path. */
static void scratch_dir_path(struct fsx *fs, struct node *dir, char *path, size_t size)
{
	struct node *p = node_get(fs, dir->parent);
	char dname[NAME_BUF] = "?";
	size_t i;

	snprintf(path, size, "(scratch directory)");
	if (!p)
		return;
	pthread_mutex_lock(&fs->ilock);
	for (i = 0; i < p->kids.n; i++)
		if (p->kids.v[i].node == dir)
			snprintf(dname, sizeof(dname), "%s", p->kids.v[i].name);
	pthread_mutex_unlock(&fs->ilock);
	if (p->kind != NK_SCRATCH && node_path(fs, p, path, size) == 0)
		snprintf(path + strlen(path), size - strlen(path), "/%s", dname);
	node_put(fs, p);
}

int bad_name(struct fsx *fs, struct node *dir, const char *name, const char *why)
{
	char path[3 * NAME_BUF + 64];

	if (dir->kind == NK_SCRATCH) {
		scratch_dir_path(fs, dir, path, sizeof(path));
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
	} else if (dir->kind == NK_ROOT)
		snprintf(path, sizeof(path), "/%s", name);
	else if (node_path(fs, dir, path, sizeof(path)) == 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
	errlog_add(fs, path, "%s", why);
	return -EINVAL;
}

/* ---- mkdir ---- */

static int make_table(struct fsx *fs, struct resolved *r, struct node **out)
{
	struct table_schema s;
	struct dyn_err err;
	be_table_t *t;
	int rc;

	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "id");
	s.pk.type = VAL_S;
	err_clear(&err);
	rc = be_create_table(fs->be, r->tname, &s, &err);
	if (rc < 0) {
		if (rc != -EEXIST) {
			char path[NAME_BUF + 2];

			snprintf(path, sizeof(path), "/%s", r->tname);
			errlog_err(fs, path, &err, rc);
		}
		return rc;
	}
	rc = be_table_open(fs->be, r->tname, &t, NULL);
	if (rc < 0)
		return rc;
	*out = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	be_table_close(t);
	if (*out) {
		pthread_mutex_lock(&fs->ilock);
		(*out)->parent = FSX_ROOT_INO;
		pthread_mutex_unlock(&fs->ilock);
	}
	return *out ? 0 : -ENOMEM;
}

/* An empty partition directory: pinned so it lives without items. */
static int make_partition(struct fsx *fs, struct resolved *r, struct node **out)
{
	struct node *pn, *tn;
	int rc;

	tn = node_ident(fs, NK_TABLE, r->table, NULL, NULL, true);
	pn = node_ident(fs, NK_PART, r->table, &r->pk, NULL, true);
	if (!tn || !pn) {
		node_put(fs, tn);
		node_put(fs, pn);
		return -ENOMEM;
	}
	pthread_mutex_lock(&fs->ilock);
	pn->parent = r->dir->ino;
	rc = node_pin_locked(fs, tn, pn);
	pthread_mutex_unlock(&fs->ilock);
	node_put(fs, tn);
	if (rc < 0) {
		node_put(fs, pn);
		return rc;
	}
	*out = pn;
	return 0;
}

static int make_scratch(fuse_req_t req, struct fsx *fs, struct resolved *r, const char *name,
			mode_t mode, dev_t rdev, const char *target, struct node **out)
{
	int rc;

	pthread_mutex_lock(&fs->ilock);
	rc = scratch_create_locked(fs, r->dir, name, mode, fuse_req_ctx(req), out);
	if (rc == 0) {
		(*out)->scr->rdev = rdev;
		if (target && !((*out)->scr->target = strdup(target))) {
			struct node *n = kids_del(&r->dir->kids, name);

			node_put_locked(fs, n);
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&fs->ilock);
	return rc;
}

static int decide_mkdir(const struct make_req *m, struct fsx *fs, struct node *dir,
			const char *name, struct resolved *r, int rc, struct node **out)
{
	if (view_ro_dir(fs, dir))
		return rc == 0 && r->what == RES_NODE ? -EEXIST : -EPERM;
	if (rc < 0)
		return rc;
	switch (r->what) {
	case RES_NODE:
		rc = -EEXIST;
		break;
	case RES_TABLE:
		rc = make_table(fs, r, out);
		break;
	case RES_PART:
		rc = r->shortened ? bad_name(fs, dir, name, "a shortened name cannot be created")
				  : make_partition(fs, r, out);
		break;
	case RES_ITEM:
		rc = bad_name(fs, dir, name,
			      "this is an item's name; items are files, not "
			      "directories");
		break;
	case RES_SCRATCH:
		rc = r->bad ? refuse_bad(fs, r, name)
			    : make_scratch(m->req, fs, r, name, S_IFDIR | (m->mode & 07777), 0,
					   NULL, out);
		break;
	default:
		rc = r->bad ? refuse_bad(fs, r, name)
		     : dir->kind == NK_ROOT
			 ? bad_name(fs, dir, name,
				    "not a table name: tables are named with 3 to 255 of "
				    "A-Z a-z 0-9 _ . - (a leading _ or . written %5F or %2E)")
			 : bad_name(fs, dir, name, "names beginning with _ are dynfs's own");
	}
	return rc;
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct make_req m = {.decide = decide_mkdir, .req = req, .mode = mode};

	make_entry(&m, parent, name);
}

/* ---- mknod, symlink, link ---- */

/* mknod of a regular file with an item name: a key-only item, now. */
static int make_item(struct fsx *fs, struct resolved *r, struct node **out)
{
	const struct val *sk = r->sk.type == VAL_NULL ? NULL : &r->sk;
	struct node *n = node_ident(fs, NK_ITEM, r->table, &r->pk, sk, true);
	int rc;

	if (!n)
		return -ENOMEM;
	rc = item_commit(fs, n, "", 0, true, DB_IF_ABSENT);
	if (rc < 0) {
		node_put(fs, n);
		return rc;
	}
	*out = n;
	return 0;
}

static int decide_mknod(const struct make_req *m, struct fsx *fs, struct node *dir,
			const char *name, struct resolved *r, int rc, struct node **out)
{
	if (view_ro_dir(fs, dir))
		return -EPERM;
	if (rc < 0)
		return rc;
	if (r->what == RES_NODE)
		return -EEXIST;
	if (r->what == RES_ITEM && !r->shortened && S_ISREG(m->mode))
		return make_item(fs, r, out);
	if (r->item_like)
		return refuse_item_like(fs, r, name);
	if ((r->what == RES_SCRATCH || r->what == RES_PART) && !r->shortened)
		return make_scratch(m->req, fs, r, name, m->mode, m->rdev, NULL, out);
	if (r->what == RES_NONE && r->bad)
		return refuse_bad(fs, r, name);
	return dir->kind == NK_ROOT ? -EPERM : -EINVAL;
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct make_req m = {.decide = decide_mknod, .req = req, .mode = mode, .rdev = rdev};

	make_entry(&m, parent, name);
}

static int decide_symlink(const struct make_req *m, struct fsx *fs, struct node *dir,
			  const char *name, struct resolved *r, int rc, struct node **out)
{
	if (view_ro_dir(fs, dir))
		return -EPERM;
	if (rc < 0)
		return rc;
	if (r->what == RES_NODE)
		return -EEXIST;
	if (r->item_like)
		return refuse_item_like(fs, r, name);
	if ((r->what == RES_SCRATCH || r->what == RES_PART) && !r->shortened)
		return make_scratch(m->req, fs, r, name, S_IFLNK | 0777, 0, m->link, out);
	if (r->what == RES_ITEM)
		return bad_name(fs, dir, name, "an item cannot be a symbolic link");
	if (r->what == RES_NONE && r->bad)
		return refuse_bad(fs, r, name);
	return dir->kind == NK_ROOT ? -EPERM : -EINVAL;
}

void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct make_req m = {.decide = decide_symlink, .req = req, .link = link};

	make_entry(&m, parent, name);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fsx *fs = fsx_of(req);
	struct node *src, *dir;
	struct resolved r;
	bool had;
	int rc;

	RO_CHECK(req, fs);
	src = node_get(fs, ino);
	dir = node_get(fs, newparent);
	if (!src || !dir) {
		node_put(fs, src);
		node_put(fs, dir);
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = perm_check(req, fs, dir, W_OK | X_OK);
	if (rc < 0) {
		node_put(fs, src);
		node_put(fs, dir);
		fuse_reply_err(req, -rc);
		return;
	}
	had = neg_claim(fs, newparent, newname);
	rc = resolve(fs, dir, newname, &r);
	if (view_ro_dir(fs, dir))
		rc = -EPERM;
	if (rc == 0) {
		if (r.what == RES_NODE)
			rc = -EEXIST;
		else if (r.item_like)
			rc = refuse_item_like(fs, &r, newname);
		else if (r.what == RES_NONE && r.bad)
			rc = refuse_bad(fs, &r, newname);
		else if (r.what != RES_SCRATCH && r.what != RES_PART)
			rc = -EPERM;
	}
	if (rc == 0) { /* only scratch files have hard links */
		pthread_mutex_lock(&fs->ilock);
		if (src->kind != NK_SCRATCH || S_ISDIR(src->scr->mode))
			rc = -EPERM;
		else
			rc = kids_add(&dir->kids, newname, src);
		if (rc == 0)
			clock_gettime(CLOCK_REALTIME, &src->scr->ctime);
		pthread_mutex_unlock(&fs->ilock);
	}
	if (rc < 0) {
		neg_unclaim(fs, had, newparent, newname);
		fuse_reply_err(req, -rc);
	} else {
		reply_node_entry(req, fs, src);
	}
	resolved_free(fs, &r);
	node_put(fs, src);
	node_put(fs, dir);
}

/* ---- unlink and rmdir ---- */

static int unlink_item(struct fsx *fs, struct node *dir, struct node *n, const char *name)
{
	struct fsx_origin origin = {.dir = dir->ino, .name = name};
	struct node *tn = NULL;
	struct dyn_err err;
	struct val pk, sk;
	be_table_t *t;
	int rc;

	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	if (dir->kind == NK_PART) {
		/* keep the directory: rm of its last file must not make it vanish */
		tn = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
		if (tn) {
			pthread_mutex_lock(&fs->ilock);
			if (dir->hashed)
				node_pin_locked(fs, tn, dir);
			pthread_mutex_unlock(&fs->ilock);
			node_put(fs, tn);
		}
	}
	err_clear(&err);
	fsx_origin = &origin; /* the kernel drops name itself (fsx.h) */
	rc = be_delete(t, &pk, sk.type == VAL_NULL ? NULL : &sk, 0, &err);
	fsx_origin = NULL;
	if (rc == 0) {
		pthread_mutex_lock(&fs->ilock);
		node_unhash_locked(fs, n); /* also a creation still pending */
		pthread_mutex_unlock(&fs->ilock);
	} else {
		char path[3 * NAME_BUF + 16];

		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	val_free(&pk);
	val_free(&sk);
	return rc;
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsx *fs = fsx_of(req);
	struct node *dir, *gone;
	struct resolved r;
	int rc;

	RO_CHECK(req, fs);
	dir = node_get(fs, parent);
	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = resolve(fs, dir, name, &r);
	if (rc == 0 && r.what != RES_NODE)
		rc = -ENOENT;
	if (view_ro_dir(fs, dir))
		rc = -EPERM;
	rc = perm_over(req, fs, dir, W_OK | X_OK, rc);
	if (rc < 0)
		goto out;
	switch (r.node->kind) {
	case NK_ITEM:
		rc = unlink_item(fs, dir, r.node, name);
		break;
	case NK_SCHEMA:
	case NK_STATS:
	case NK_BATCH:
		break; /* dynfs's own: quietly stays */
	case NK_QUERY:
		rc = -EPERM;
		break;
	case NK_SCRATCH:
		pthread_mutex_lock(&fs->ilock);
		if (S_ISDIR(r.node->scr->mode)) {
			rc = -EISDIR;
		} else {
			gone = kids_del(&dir->kids, name);
			if (gone)
				clock_gettime(CLOCK_REALTIME, &gone->scr->ctime);
			else
				rc = -ENOENT;
		}
		pthread_mutex_unlock(&fs->ilock);
		break;
	case NK_ERRORS:
	case NK_TX:
		rc = -EPERM;
		break;
	default:
		rc = -EISDIR;
	}
out:
	resolved_free(fs, &r);
	node_put(fs, dir);
	fuse_reply_err(req, -rc);
}

/* rmdir of a table: the backend drops it only while it holds no item
 * (checked with the drop, not from the table's figures, which a service
 * only estimates); a pinned partition directory keeps it too. */
static int rmdir_table(struct fsx *fs, struct node *n)
{
	struct dyn_err err;
	bool busy;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	busy = n->kids.n || n->npins;
	pthread_mutex_unlock(&fs->ilock);
	if (busy)
		return -ENOTEMPTY;
	err_clear(&err);
	rc = be_drop_table(fs->be, n->tname, &err);
	if (rc < 0 && rc != -ENOENT && rc != -ENOTEMPTY) {
		char path[NAME_BUF + 2];

		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	return rc;
}

static int rmdir_part(struct fsx *fs, struct node *n)
{
	int rc;

	if (be_partition_exists(n->table, NULL, &n->pk, NULL) == 0)
		return -ENOTEMPTY;
	pthread_mutex_lock(&fs->ilock);
	if (n->kids.n) {
		rc = -ENOTEMPTY;
	} else {
		node_unpin_locked(fs, n);
		rc = 0;
	}
	pthread_mutex_unlock(&fs->ilock);
	return rc;
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsx *fs = fsx_of(req);
	struct node *dir;
	struct resolved r;
	int rc;

	RO_CHECK(req, fs);
	dir = node_get(fs, parent);
	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = resolve(fs, dir, name, &r);
	if (rc == 0 && r.what != RES_NODE)
		rc = -ENOENT;
	rc = perm_over(req, fs, dir, W_OK | X_OK, rc);
	if (rc < 0)
		goto out;
	switch (r.node->kind) {
	case NK_TABLE:
		rc = rmdir_table(fs, r.node);
		break;
	case NK_PART:
		rc = rmdir_part(fs, r.node);
		break;
	case NK_INDEX_DIR:
	case NK_INDEX:
	case NK_INDEX_PART:
	case NK_QUERY:
		rc = view_rmdir(fs, r.node);
		break;
	case NK_SCRATCH:
		pthread_mutex_lock(&fs->ilock);
		if (!S_ISDIR(r.node->scr->mode))
			rc = -ENOTDIR;
		else if (r.node->kids.n)
			rc = -ENOTEMPTY;
		else if (!kids_del(&dir->kids, name))
			rc = -ENOENT;
		pthread_mutex_unlock(&fs->ilock);
		break;
	default:
		rc = -ENOTDIR;
	}
out:
	resolved_free(fs, &r);
	node_put(fs, dir);
	fuse_reply_err(req, -rc);
}

/* ---- statfs ---- */

struct count {
	char last[DB_NAME_MAX + 1]; /* last table name seen */
	char *names[64];	    /* a page of table names */
	size_t n;		    /* names held */
};

static int count_name(void *ctx, const char *name)
{
	struct count *c = ctx;

	c->names[c->n] = strdup(name);
	if (!c->names[c->n])
		return -ENOMEM;
	return ++c->n == 64;
}

/*
 * df shows the store's disk for blocks, and the items for inodes: f_files
 * minus f_ffree (IUsed in df -i) is the number of items.
 */
void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fsx *fs = fsx_of(req);
	struct count c = {.n = 0};
	uint64_t items = 0, bytes = 0;
	struct statvfs sv, disk;
	struct tbl_stats st;
	bool more = true;
	be_table_t *t;
	size_t i;

	while (more) {
		c.n = 0;
		be_list_tables(fs->be, c.last[0] ? c.last : NULL, count_name, &c, NULL);
		more = c.n == 64;
		for (i = 0; i < c.n; i++) {
			if (be_table_open(fs->be, c.names[i], &t, NULL) == 0) {
				be_table_stats(t, &st);
				items += st.items;
				bytes += st.bytes;
				be_table_close(t);
			}
			snprintf(c.last, sizeof(c.last), "%s", c.names[i]);
			free(c.names[i]);
		}
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	if (fs->store_dir && statvfs(fs->store_dir, &disk) == 0)
		sv.f_bfree = sv.f_bavail = disk.f_bavail * disk.f_frsize / 4096;
	sv.f_blocks = (bytes + 4095) / 4096 + sv.f_bfree;
	sv.f_ffree = sv.f_favail = UINT32_MAX;
	sv.f_files = items + sv.f_ffree;
	sv.f_namemax = NAME_LEN_MAX;
	fuse_reply_statfs(req, &sv);
}
