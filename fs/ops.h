/*
 * ops.h - the FUSE operations and what they share (private to fs/).
 *
 * main.c holds the one fuse_lowlevel_ops table; the operations live in
 * ops_dir.c (names: lookup, mkdir, unlink, rename, ...), readdir.c
 * (listings), ops_file.c (open files; text.c: item and schema handles),
 * and delegate to resolve.c (what a name means), commit.c (validating and
 * storing item text), schema.c (_schema.json) and scratch.c (tmpfs-like
 * scratch files).
 */
#ifndef DYNFS_FS_OPS_H
#define DYNFS_FS_OPS_H

#include "fsx.h"

/* ---- resolve.c ---- */

enum res_what {
	RES_NONE,    /* nothing may have this name here (reserved, invalid) */
	RES_NODE,    /* an existing object: r->node */
	RES_ITEM,    /* the name of an item that does not exist: r->pk, r->sk */
	RES_PART,    /* the name of a partition that does not exist: r->pk */
	RES_TABLE,   /* the name of a table that does not exist: r->tname */
	RES_SCRATCH, /* a scratch name that is free */
};

struct resolved {
	enum res_what what; /* see above */
	struct node *dir;   /* the directory (borrowed) */
	struct dyn_err err; /* why a backend read failed (read_err_log) */
	struct node *node;  /* RES_NODE: the node (a reference) */
	be_table_t *table;  /* the directory's table, borrowed from dir (or NULL) */
	struct val pk;	    /* RES_ITEM, RES_PART: the key (owned) */
	struct val sk;	    /* RES_ITEM in a partition (owned) */
	char *tname;	    /* RES_TABLE: decoded table name (owned) */
	bool exists;	    /* RES_NODE of an item that exists or is being created */
	bool own;	    /* RES_NODE: one of dynfs's own entries (_schema.json) */
	bool shortened;	    /* RES_ITEM/RES_PART: a shortened name, key unknown */
	bool item_like;	    /* RES_PART named "*.json": refused as a file (the
			       table has a sort key, items are one level down) */
	bool alias;	    /* RES_ITEM/RES_NODE/RES_PART reached by a
			       non-canonical spelling ("1.0.json"): entries
			       replied uncached (only canonical names are
			       invalidated) */
	bool bad;	    /* RES_NONE: a name that can be nothing here
			       (an item-like name that is no key, a bad
			       %-escape); why says so */
	char why[1024];	    /* bad: the reason, for /_errors */
	bool want_meta;	    /* resolve_lookup: keep the item read's meta */
	bool has_meta;	    /* meta is what the read of this RES_NODE item said */
	struct item_meta meta;
};

/* Refuse to make a bad name (r->bad): a line in /_errors, -EINVAL. */
int refuse_bad(struct fsx *fs, struct resolved *r, const char *name);
/* Reply the entry of a node reached through an alias: never cached. */
void reply_alias_entry(fuse_req_t req, struct fsx *fs, struct node *n);

/* Refuse a file named like an item where only partitions live. */
int refuse_item_like(struct fsx *fs, struct resolved *r, const char *name);

/* Resolve name in dir (a reference held by the caller).  0 or -errno. */
int resolve(struct fsx *fs, struct node *dir, const char *name, struct resolved *r);
/* The same for a lookup, whose entry then needs the item's attributes:
 * an existing item's meta from the read that found it (r->has_meta), so
 * the reply need not read it again. */
int resolve_lookup(struct fsx *fs, struct node *dir, const char *name, struct resolved *r);
void resolved_free(struct fsx *fs, struct resolved *r);
/* Attributes of n; *timeout is how long the kernel may cache them. */
int node_attr(struct fsx *fs, struct node *n, struct stat *st, double *timeout);
/* The mode node_attr gives every node of kind (after -o ro's mask), or 0
 * for the kinds whose mode is not fixed (scratch, dynfs's views). */
mode_t node_fixed_mode(struct fsx *fs, enum node_kind kind);
/* Reply an entry for n (counting the kernel's new reference). */
void reply_node_entry(fuse_req_t req, struct fsx *fs, struct node *n);
/* The same for a lookup that began when fsx_chg() was c0 (fsx.h); known
 * (or NULL): an item's meta as the lookup's own read gave it. */
void reply_lookup_entry(fuse_req_t req, struct fsx *fs, struct node *n, uint64_t c0,
			const struct item_meta *known);
/* Reply a negative entry, cached long if it can be invalidated. */
void reply_negative(fuse_req_t req, struct fsx *fs, fuse_ino_t parent, const char *name,
		    uint64_t c0);
/* The path of n inside the mount ("/users/hedy.json"), for messages. */
int node_path(struct fsx *fs, struct node *n, char *buf, size_t size);
/*
 * A backend read that failed for a reason the backend gave (a service
 * still throttling after its retries, an access denial, an unreachable
 * endpoint: e->code set) into /_errors as "<path of n>[/name]: reason";
 * nothing for a plain miss (ENOENT) or a failure without a reason.  Called
 * once per failing operation, where its errno is replied (lookup, getattr,
 * open, readdir), never per entry; the same failure again within
 * FSX_ERRLOG_ONCE_S (the kernel's second lookup) adds no line.
 */
void read_err_log(struct fsx *fs, struct node *n, const char *name, const struct dyn_err *e,
		  int rc);

/* ---- commit.c ---- */

/*
 * Validate text as the new content of item node n and store it: key
 * attributes from the path (added if absent, must agree if present), an
 * empty text only for a new item (created: a key-only item), flags
 * DB_IF_ABSENT for O_EXCL.  On failure a line goes to /_errors and the
 * stored item is unchanged.  0, -EINVAL, -EFBIG, -EEXIST, -ENOENT, -EIO.
 */
int item_commit(struct fsx *fs, struct node *n, const char *text, size_t len, bool created,
		int flags);
/*
 * Saves against the version read (a backend without a change feed, i.e.
 * remote: other writers' changes are not seen).  An opener of item n
 * that read text: a reader makes it the version later saves of n are
 * conditional on; a writer only if none is known yet (an editor's save
 * opens for writing long after it read).  item_commit and
 * item_commit_checked then store with be_op.expect = that version: a
 * change by another writer since makes the save fail with ESTALE and an
 * /_errors line with the version the service kept; the version is then
 * forgotten, so saving again overwrites knowingly.  A writer that finds
 * no version on n (the kernel forgot the node since it was read) but
 * another version remembered for the item (item_seen_get_locked) marks
 * n's version lost: the save fails the same way.  No-op with a change
 * feed (local).
 */
void commit_seen(struct fsx *fs, struct node *n, const char *text, size_t len, bool writer);

/* ---- mtime.c: item times (see there) ---- */

/* The mtime of item n whose metadata is meta (no ilock held). */
int64_t item_mtime(struct fsx *fs, struct node *n, const struct item_meta *meta);
/* This mount stored n's item, rendered as text (item_render with the
 * table's key names), now: its mtime is now, and that text's version is
 * the one read (item_seen_get_locked) (ilock held). */
void item_mtime_stored_locked(struct fsx *fs, struct node *n, const char *text, size_t len);
/* The version (be_text_version) of n last read by an opener or stored,
 * which outlives the node (commit.c, "Forgotten nodes"); 0: none known.
 * ilock held. */
void item_seen_set_locked(struct fsx *fs, struct node *n, uint64_t version);
uint64_t item_seen_get_locked(struct fsx *fs, struct node *n);
/* At unmount. */
void item_mtimes_free(struct fsx *fs);
/* Key attributes item_precheck added from the path (the text has not). */
#define ITEM_ADDED_PK 1u
#define ITEM_ADDED_SK 2u
/*
 * Everything item_commit would refuse, without storing (a write() that
 * completes the document: wcheck.h): *out is the item to store (new),
 * *added which key attributes came from the path.  On failure a line
 * goes to /_errors.  0, -EINVAL, -EFBIG, -ENOENT.
 */
int item_precheck(struct fsx *fs, struct node *n, const char *text, size_t len, bool created,
		  struct val *out, unsigned *added);
/*
 * Store item (borrowed), checked by item_precheck for node n from text
 * (len bytes; whitespace may have been written after it since) with the
 * key attributes added, if its key attributes are still n's key (a
 * rename may have moved n); 1 if they are not (the caller commits the
 * text instead).  The item is not checked again (be_op.checked) and the
 * journal writes text with the added attributes joined in
 * (item_text_join) instead of rendering the item.  Errors as
 * item_commit.
 */
int item_commit_checked(struct fsx *fs, struct node *n, struct val *item, const char *text,
			size_t len, unsigned added, int flags);
/* Build the item for key (pk, sk) of table t from text (new).  Used by
 * item_commit and rename; fills err. */
int item_from_text(be_table_t *t, const struct val *pk, const struct val *sk, const char *text,
		   size_t len, bool created, struct val *out, struct dyn_err *err);

/* ---- schema.c ---- */

/* The text of _schema.json (new). */
int schema_text(be_table_t *t, char **out, size_t *len, struct dyn_err *err);
/* Validate and apply a new _schema.json; errors to /_errors. */
int schema_commit(struct fsx *fs, struct node *n, const char *text, size_t len);
/*
 * What schema_commit would refuse without applying anything (a write()
 * that completes the document: wcheck.h): syntax, the schema rules, a
 * key schema change on a non-empty table (EBUSY).  Index backfills are
 * checked at commit only.  Errors to /_errors.
 */
int schema_precheck(struct fsx *fs, struct node *n, const char *text, size_t len);

/* ---- index_view.c: _index/, _query?, _stats.json ---- */

/* k is a view directory kind (_index/..., a query: as= queries too). */
bool view_dir_kind(enum node_kind k);
/* dir is a read-only view (_index/..., a query directory): nothing can be
 * made, removed or renamed in it (EPERM).  Takes ilock. */
bool view_ro_dir(struct fsx *fs, struct node *dir);
/* Nodes of kind k change without invalidation: timeouts 0. */
bool view_volatile(enum node_kind k);
/* n is a view that is a directory (ilock held). */
bool view_is_dir_locked(struct node *n);
/*
 * "_stats.json", "_index" (tables) and "_query?..." (tables, partitions)
 * in dir: 0 with r filled (RES_NODE), -EINVAL for a malformed query (a
 * line in /_errors), other -errno; 1 if name is none of them.
 */
int view_special(struct fsx *fs, struct node *dir, be_table_t *t, const char *name,
		 struct resolved *r);
/* A name inside a view directory: 0 (RES_NODE), -ENOENT, -ENOTDIR, -EINVAL. */
int view_resolve(struct fsx *fs, struct node *dir, const char *name, struct resolved *r);
/* Attributes of a view node (timeout 0). */
int view_attr(struct fsx *fs, struct node *n, enum node_kind kind, struct stat *st,
	      double *timeout);
/* readdir of a view: emit(ctx, name, type, pos) per entry after position
 * `after` (NULL: the first); emit returns nonzero when the page is full. */
typedef int (*view_emit_fn)(void *ctx, const char *name, mode_t type, const struct val *pos);
int view_list(struct fsx *fs, struct node *dir, const struct val *after, view_emit_fn emit,
	      void *ctx);
/* The content of _stats.json or an as= query, generated now (new). */
int view_open_text(struct fsx *fs, struct node *n, char **text, size_t *len);
/* The target of an NK_INDEX_ENTRY symlink (new). */
int view_readlink(struct fsx *fs, struct node *n, char **target);
/* The path of view node n (a directory of a view, a query) for messages. */
void view_path(struct fsx *fs, struct node *n, char *buf, size_t size);
/* rmdir of _index/ things: 0 (a no-op) when empty, -ENOTEMPTY, -EPERM. */
int view_rmdir(struct fsx *fs, struct node *n);

/* ---- stats.c ---- */

/* The text of _stats.json (new). */
int stats_text(be_table_t *t, char **out, size_t *len);

/* ---- discard.c: scratch files are never lost without a word ---- */

/* stats_text plus the table's non-empty scratch files (new). */
int stats_text_fs(struct fsx *fs, be_table_t *t, char **out, size_t *len);
/* The "scratch_files"/"scratch" members of _stats.json (new). */
int scratch_stats_json(struct fsx *fs, be_table_t *t, char **out, size_t *len);
/* At unmount: one line per directory holding non-empty scratch files. */
void scratch_discard_report(struct fsx *fs);

/* ---- scratch.c ---- */

void scratch_attr(struct node *n, struct stat *st);	/* ilock held */
int scratch_setattr(struct node *n, const struct stat *attr, int to_set); /* ilock held */
int scratch_read(struct scratch *s, char *buf, size_t size, off_t off); /* ilock held */
int scratch_write(struct scratch *s, const char *buf, size_t size, off_t off); /* ilock held */
int scratch_truncate(struct scratch *s, off_t size); /* ilock held */
/* Create a scratch node named name in dir (ilock held); *out referenced. */
int scratch_create_locked(struct fsx *fs, struct node *dir, const char *name, mode_t mode,
			  const struct fuse_ctx *ctx, struct node **out);
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void op_readlink(fuse_req_t req, fuse_ino_t ino);

/* ---- ops_dir.c ---- */

void op_init(void *userdata, struct fuse_conn_info *conn);
void op_destroy(void *userdata);
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void op_statfs(fuse_req_t req, fuse_ino_t ino);
/* Log in /_errors why name cannot be made in dir; returns -EINVAL. */
int bad_name(struct fsx *fs, struct node *dir, const char *name, const char *why);

/* ---- rename.c ---- */

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);

/* ---- readdir.c ---- */

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* ---- ops_file.c ---- */

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	     struct fuse_pollhandle *ph);
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);

/* ---- perm.c: the checks of a mount without default_permissions ---- */

/* May the caller of req access n as mask (R_OK|W_OK|X_OK)?  0 or
 * -EACCES, as the kernel's generic_permission would say; always 0 where
 * the kernel checks (fs->kernel_perms). */
int perm_check(fuse_req_t req, struct fsx *fs, struct node *n, int mask);
/* The error of an operation that resolved its name to rc (0, -EPERM:
 * dynfs refuses it): the permission check's -EACCES first, as the kernel
 * checks before it asks; other errors (ENOENT) stay. */
int perm_over(fuse_req_t req, struct fsx *fs, struct node *dir, int mask, int rc);
int perm_ino(fuse_req_t req, struct fsx *fs, fuse_ino_t ino, int mask);
/* perm_ino for extended attribute name: the security., system. and
 * trusted. namespaces are not checked against the mode (as the kernel). */
int perm_xattr(fuse_req_t req, struct fsx *fs, fuse_ino_t ino, const char *name, int mask);
/* What open(2) flags need: R_OK, W_OK or both, W_OK for O_TRUNC. */
int perm_open_mask(int flags);
/* May the caller change attr's to_set of n (chown, chmod, times; a
 * truncate by path, !has_fh, needs write permission)?  0, -EPERM or
 * -EACCES. */
int perm_setattr(fuse_req_t req, struct fsx *fs, struct node *n, const struct stat *attr,
		 int to_set, bool has_fh);
void op_access(fuse_req_t req, fuse_ino_t ino, int mask);
/* After a chmod of n: if n is a scratch directory, the kernel forgets the
 * names it knows in it (it would walk into them without asking), queued
 * after the reply (the kernel holds n's lock during the chmod). */
void perm_dir_changed(struct fsx *fs, struct node *n);

/* The error that ends a write request on a read-only mount. */
#define RO_CHECK(req, fs)                                 \
	do {                                              \
		if ((fs)->readonly) {                     \
			fuse_reply_err((req), EROFS);     \
			return;                           \
		}                                         \
	} while (0)

#endif
