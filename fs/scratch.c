/*
 * scratch.c - scratch files: what editors and tools create next to items.
 *
 * vim's swap file and "4913" probe, backup files "x.json~", emacs's lock
 * symlink ".#x.json" and autosave "#x.json#", the temporaries of sed -i,
 * perl -pi and rsync: any name in a table or partition directory that is
 * not an item name is a scratch file.  Scratch files behave like tmpfs:
 * regular files, directories, symlinks and fifos, with modes, owners,
 * times and extended attributes, all in memory, never persisted, never
 * visible to queries or indexes, gone at unmount.  Renaming one onto an
 * item name commits its content as the item (rename.c).
 *
 * All scratch state is protected by fsx.ilock: scratch files are small
 * and short-lived, and one lock keeps renames and unlinks simple.  The
 * data lives in a struct scratch with its own reference count, so a
 * handle still open on a scratch file that was renamed onto an item
 * keeps valid (if orphaned) data.
 *
 * Memory: the data of all scratch files of the mount together may take
 * at most scratch_max bytes (-o scratch_max, default FSX_SCRATCH_MAX);
 * a write or truncate past it fails with ENOSPC, as on a full tmpfs, so
 * a runaway tool cannot exhaust the daemon's memory.  One mount per
 * process: the count is module state, under ilock like the rest.
 *
 * Extended attributes are off by default (-o noxattr): every xattr
 * request is answered ENOSYS, after which the kernel stops asking and
 * fails them with ENOTSUP itself.  Supporting them at all costs `ls -l`
 * two GETXATTR round trips per file (its ACL and SELinux probes), which
 * the kernel never caches -- about 4x the time of an `ls -l` of a big
 * directory (issue 12); SPEC §5 makes them optional, and editors and
 * rsync fall back.  With -o xattr scratch files keep extended attributes
 * like tmpfs, and item files have none (ENOTSUP on set, ENODATA on get,
 * an empty list): vim and rsync -X only copy what listxattr reports.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

#include "ops.h"

static size_t scratch_used;			 /* ilock: bytes allocated for data */
static size_t scratch_max = FSX_SCRATCH_MAX; /* set once at startup */

void scratch_set_max(size_t max)
{
	scratch_max = max;
}

size_t scratch_bytes_locked(void)
{
	return scratch_used;
}

struct scratch *scratch_new(mode_t mode, uid_t uid, gid_t gid)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->mode = mode;
	s->uid = uid;
	s->gid = gid;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	s->atime = s->ctime = s->mtime;
	return s;
}

void scratch_unref_locked(struct scratch *s)
{
	size_t i;

	if (!s || --s->refs)
		return;
	for (i = 0; i < s->nxa; i++) {
		free(s->xa[i].name);
		free(s->xa[i].value);
	}
	free(s->xa);
	scratch_used -= s->cap;
	free(s->data);
	free(s->target);
	free(s);
}

void scratch_attr(struct node *n, struct stat *st)
{
	struct scratch *s = n->scr;

	st->st_mode = s->mode;
	st->st_nlink = S_ISDIR(s->mode) ? 1 : s->nlink;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_rdev = s->rdev;
	st->st_size = S_ISLNK(s->mode) ? (off_t)strlen(s->target) : (off_t)s->len;
	st->st_atim = s->atime;
	st->st_mtim = s->mtime;
	st->st_ctim = s->ctime;
}

int scratch_truncate(struct scratch *s, off_t size)
{
	size_t n = (size_t)size;

	if (size < 0)
		return -EINVAL;
	if (n > FSX_WBUF_MAX)
		return -EFBIG;
	if (n > s->cap) {
		char *p;

		if (n - s->cap > scratch_max - scratch_used || scratch_used > scratch_max)
			return -ENOSPC; /* the mount's scratch memory is full (header) */
		p = realloc(s->data, n);
		if (!p)
			return -ENOMEM;
		s->data = p;
		scratch_used += n - s->cap;
		s->cap = n;
	}
	if (n > s->len)
		memset(s->data + s->len, 0, n - s->len);
	s->len = n;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	s->ctime = s->mtime;
	return 0;
}

static void set_time(struct timespec *ts, const struct timespec *v, bool now)
{
	if (now)
		clock_gettime(CLOCK_REALTIME, ts);
	else
		*ts = *v;
}

int scratch_setattr(struct node *n, const struct stat *attr, int to_set)
{
	struct scratch *s = n->scr;
	int rc;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(s->mode))
			return -EISDIR;
		rc = scratch_truncate(s, attr->st_size);
		if (rc < 0)
			return rc;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		s->mode = (s->mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		s->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		s->gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		set_time(&s->atime, &attr->st_atim, to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		set_time(&s->mtime, &attr->st_mtim, to_set & FUSE_SET_ATTR_MTIME_NOW);
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	return 0;
}

int scratch_read(struct scratch *s, char *buf, size_t size, off_t off)
{
	size_t o = (size_t)off;

	if (off < 0)
		return -EINVAL;
	if (o >= s->len)
		return 0;
	if (size > s->len - o)
		size = s->len - o;
	memcpy(buf, s->data + o, size);
	return (int)size;
}

int scratch_write(struct scratch *s, const char *buf, size_t size, off_t off)
{
	size_t end = (size_t)off + size;
	int rc;

	if (off < 0)
		return -EINVAL;
	if (end > s->len) {
		rc = scratch_truncate(s, (off_t)end);
		if (rc < 0)
			return rc;
	}
	memcpy(s->data + off, buf, size);
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	s->ctime = s->mtime;
	return (int)size;
}

int scratch_create_locked(struct fsx *fs, struct node *dir, const char *name, mode_t mode,
			  const struct fuse_ctx *ctx, struct node **out)
{
	struct node *n;
	int rc;

	n = node_new_scratch_locked(fs, dir->ino);
	if (!n)
		return -ENOMEM;
	n->scr = scratch_new(mode, ctx->uid, ctx->gid);
	if (!n->scr) {
		node_put_locked(fs, n);
		return -ENOMEM;
	}
	rc = kids_add(&dir->kids, name, n);
	if (rc < 0) {
		node_put_locked(fs, n);
		return rc;
	}
	*out = n;
	return 0;
}

/* ---- extended attributes and symlinks ---- */

static struct xattr *xa_find(struct scratch *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nxa; i++)
		if (!strcmp(s->xa[i].name, name))
			return &s->xa[i];
	return NULL;
}

/* The scratch data of ino, ilock held on success; NULL: *err set. */
static struct node *scratch_node_locked(struct fsx *fs, fuse_ino_t ino, int *err)
{
	struct node *n = node_get(fs, ino);

	if (!n) {
		*err = ENOENT;
		return NULL;
	}
	pthread_mutex_lock(&fs->ilock);
	if (n->kind != NK_SCRATCH) {
		node_put_locked(fs, n);
		pthread_mutex_unlock(&fs->ilock);
		*err = 0;
		return NULL;
	}
	return n;
}

static void scratch_done(struct fsx *fs, struct node *n)
{
	node_put_locked(fs, n);
	pthread_mutex_unlock(&fs->ilock);
}

static int xa_set(struct scratch *s, const char *name, const char *value, size_t size,
		  int flags)
{
	struct xattr *x = xa_find(s, name), *nx;
	char *v = malloc(size ? size : 1);

	if (!v)
		return -ENOMEM;
	memcpy(v, value, size);
	if (x && (flags & XATTR_CREATE)) {
		free(v);
		return -EEXIST;
	}
	if (!x && (flags & XATTR_REPLACE)) {
		free(v);
		return -ENODATA;
	}
	if (!x) {
		nx = realloc(s->xa, (s->nxa + 1) * sizeof(*nx));
		if (!nx || !(nx[s->nxa].name = strdup(name))) {
			if (nx)
				s->xa = nx;
			free(v);
			return -ENOMEM;
		}
		s->xa = nx;
		x = &s->xa[s->nxa++];
		x->value = NULL;
	}
	free(x->value);
	x->value = v;
	x->len = size;
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	return 0;
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	struct fsx *fs = fsx_of(req);
	struct node *n;
	int err, rc;

	if (fs->noxattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	RO_CHECK(req, fs);
	rc = perm_xattr(req, fs, ino, name, W_OK);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	n = scratch_node_locked(fs, ino, &err);
	if (!n) {
		fuse_reply_err(req, err ? err : ENOTSUP);
		return;
	}
	rc = xa_set(n->scr, name, value, size, flags);
	scratch_done(fs, n);
	fuse_reply_err(req, -rc);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fsx *fs = fsx_of(req);
	struct xattr *x;
	struct node *n;
	char *copy;
	size_t len;
	int err;

	if (fs->noxattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = perm_xattr(req, fs, ino, name, R_OK);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	n = scratch_node_locked(fs, ino, &err);
	if (!n) {
		fuse_reply_err(req, err ? err : ENODATA);
		return;
	}
	x = xa_find(n->scr, name);
	if (!x) {
		scratch_done(fs, n);
		fuse_reply_err(req, ENODATA);
		return;
	}
	len = x->len;
	copy = size && len <= size ? malloc(len ? len : 1) : NULL;
	if (copy)
		memcpy(copy, x->value, len);
	scratch_done(fs, n);
	if (!size)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else if (!copy)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, copy, len);
	free(copy);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fsx *fs = fsx_of(req);
	struct node *n;
	size_t i, len = 0, off = 0;
	char *buf = NULL;
	int err;

	if (fs->noxattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	n = scratch_node_locked(fs, ino, &err);
	if (!n) {
		if (err)
			fuse_reply_err(req, err);
		else if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	for (i = 0; i < n->scr->nxa; i++)
		len += strlen(n->scr->xa[i].name) + 1;
	if (size && len <= size && (buf = malloc(len ? len : 1))) {
		for (i = 0; i < n->scr->nxa; i++) {
			size_t l = strlen(n->scr->xa[i].name) + 1;

			memcpy(buf + off, n->scr->xa[i].name, l);
			off += l;
		}
	}
	scratch_done(fs, n);
	if (!size)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else if (!buf)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fsx *fs = fsx_of(req);
	struct scratch *s;
	struct xattr *x;
	struct node *n;
	int err;

	if (fs->noxattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	RO_CHECK(req, fs);
	err = perm_xattr(req, fs, ino, name, W_OK);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	n = scratch_node_locked(fs, ino, &err);
	if (!n) {
		fuse_reply_err(req, err ? err : ENODATA);
		return;
	}
	s = n->scr;
	x = xa_find(s, name);
	if (x) {
		free(x->name);
		free(x->value);
		*x = s->xa[--s->nxa];
		clock_gettime(CLOCK_REALTIME, &s->ctime);
	}
	scratch_done(fs, n);
	fuse_reply_err(req, x ? 0 : ENODATA);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fsx *fs = fsx_of(req);
	struct node *n;
	char *target = NULL;
	int err;

	n = scratch_node_locked(fs, ino, &err);
	if (!n && !err && (n = node_get(fs, ino))) { /* _index/ and query entries */
		err = -view_readlink(fs, n, &target);
		node_put(fs, n);
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_readlink(req, target);
		free(target);
		return;
	}
	if (!n) {
		fuse_reply_err(req, err ? err : EINVAL);
		return;
	}
	if (n->scr->target)
		target = strdup(n->scr->target);
	scratch_done(fs, n);
	if (target)
		fuse_reply_readlink(req, target);
	else
		fuse_reply_err(req, EINVAL);
	free(target);
}
