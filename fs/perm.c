/*
 * perm.c - permissions, checked by dynfs where the kernel does not.
 *
 * A mount private to its user (neither -o allow_other nor -o allow_root)
 * is mounted without -o default_permissions: the kernel then lets only
 * the mounting user (and no one else, not even root unless root mounted)
 * in, and checks nothing but the exec bit of regular files.  With
 * default_permissions it would re-read a directory's attributes (a
 * GETATTR round trip) on every path walk after a create, an unlink or a
 * commit invalidated them: two of them per create and per unlink.
 *
 * So dynfs makes the checks the kernel made (generic_permission), here
 * and only here: perm_check() for the mode bits of a node against the
 * caller (owner, group or other bits; root may read and write anything
 * and search directories), perm_setattr() for chmod, chown, utimes and
 * truncate by path, op_access() for access(2).  The operations call
 * them where the kernel checked: lookup (search the directory), open
 * (read, write, O_TRUNC writes), opendir (read), create, mkdir, mknod,
 * symlink, link, unlink, rmdir, rename (write and search the
 * directories; a directory moved to another parent: write it), setattr,
 * and the extended attributes (write to set or remove, read to get).
 * Mounts with allow_other or allow_root keep default_permissions (the
 * kernel checks, fs->kernel_perms): then perm_check() allows all.
 *
 * The kernel walks into names it has cached without asking: a chmod of
 * a scratch directory makes it forget those in it (perm_dir_changed),
 * and a readdirplus of one the caller may not search gives names only.
 *
 * Only scratch files and directories can have other modes than their
 * kind's fixed one (node_fixed_mode); dynfs's own read-only files
 * (_errors, _stats.json, queries) refuse writes themselves as well.
 */
#include "ops.h"

#include <grp.h>
#include <string.h>
#include <unistd.h>

/* The mode and owner of n, as node_attr gives them, without reading an
 * item (the kinds with a fixed mode). */
static int perm_attr(struct fsx *fs, struct node *n, mode_t *mode, uid_t *uid, gid_t *gid)
{
	enum node_kind kind;
	struct stat st;
	double timeout;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	if (kind == NK_SCRATCH) {
		*mode = n->scr->mode;
		*uid = n->scr->uid;
		*gid = n->scr->gid;
	}
	pthread_mutex_unlock(&fs->ilock);
	if (kind == NK_SCRATCH)
		return 0;
	*mode = node_fixed_mode(fs, kind);
	*uid = fs->uid;
	*gid = fs->gid;
	if (*mode)
		return 0;
	rc = node_attr(fs, n, &st, &timeout);
	*mode = st.st_mode;
	*uid = st.st_uid;
	*gid = st.st_gid;
	return rc;
}

/* Whether the caller is in group g (its own or a supplementary one). */
static bool in_group(fuse_req_t req, const struct fuse_ctx *c, gid_t g)
{
	gid_t v[64];
	int n;

	if (c->gid == g)
		return true;
	n = fuse_req_getgroups(req, 64, v);
	for (int i = 0; i < n && i < 64; i++)
		if (v[i] == g)
			return true;
	return false;
}

/* generic_permission's verdict for mask (R_OK|W_OK|X_OK). */
static int perm_mode(fuse_req_t req, mode_t mode, uid_t uid, gid_t gid, int mask)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	unsigned bits;

	mask &= R_OK | W_OK | X_OK;
	if (c->uid == 0) /* CAP_DAC_OVERRIDE, taken for granted for uid 0 (a
			  * root without it is not told apart) */
		return !(mask & X_OK) || S_ISDIR(mode) || (mode & 0111) ? 0 : -EACCES;
	if (c->uid == uid)
		bits = mode >> 6;
	else if (((mode >> 3) & mask) != (mode & mask) && in_group(req, c, gid))
		bits = mode >> 3;
	else
		bits = mode;
	return (mask & ~bits & 7) ? -EACCES : 0;
}

int perm_check(fuse_req_t req, struct fsx *fs, struct node *n, int mask)
{
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int rc;

	if (fs->kernel_perms || !mask)
		return 0;
	rc = perm_attr(fs, n, &mode, &uid, &gid);
	return rc < 0 ? rc : perm_mode(req, mode, uid, gid, mask);
}

int perm_over(fuse_req_t req, struct fsx *fs, struct node *dir, int mask, int rc)
{
	int p;

	if (rc != 0 && rc != -EPERM)
		return rc;
	p = perm_check(req, fs, dir, mask);
	return p < 0 ? p : rc;
}

/* The kernel checks the mode for an extended attribute's name only
 * outside the security., system. and trusted. namespaces (its
 * xattr_permission: the first two are unrestricted, trusted. wants
 * CAP_SYS_ADMIN, which it checks itself). */
int perm_xattr(fuse_req_t req, struct fsx *fs, fuse_ino_t ino, const char *name, int mask)
{
	static const char *const free_ns[] = {"security.", "system.", "trusted."};

	for (size_t i = 0; i < sizeof(free_ns) / sizeof(free_ns[0]); i++)
		if (!strncmp(name, free_ns[i], strlen(free_ns[i])))
			return 0;
	return perm_ino(req, fs, ino, mask);
}

int perm_ino(fuse_req_t req, struct fsx *fs, fuse_ino_t ino, int mask)
{
	struct node *n;
	int rc;

	if (fs->kernel_perms)
		return 0;
	n = node_get(fs, ino);
	if (!n)
		return -ENOENT;
	rc = perm_check(req, fs, n, mask);
	node_put(fs, n);
	return rc;
}

/* The kernel's __FMODE_EXEC in an open's flags: execve opening the file
 * (it checked only that some x bit is set; the caller's own is ours). */
#define PERM_FMODE_EXEC 040

int perm_open_mask(int flags)
{
	int acc = flags & O_ACCMODE;

	if (flags & PERM_FMODE_EXEC)
		return X_OK;
	return (acc == O_WRONLY ? W_OK
		: acc == O_RDWR ? R_OK | W_OK
				: R_OK) |
	       (flags & O_TRUNC ? W_OK : 0);
}

int perm_setattr(fuse_req_t req, struct fsx *fs, struct node *n, const struct stat *attr,
		 int to_set, bool has_fh)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	bool owner;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int rc;

	if (fs->kernel_perms || c->uid == 0) /* CAP_CHOWN, CAP_FOWNER */
		return 0;
	rc = perm_attr(fs, n, &mode, &uid, &gid);
	if (rc < 0)
		return rc;
	owner = c->uid == uid;
	if ((to_set & FUSE_SET_ATTR_UID) && (!owner || attr->st_uid != uid))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) &&
	    (!owner || (attr->st_gid != gid && !in_group(req, c, attr->st_gid))))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_MODE) && !owner)
		return -EPERM;
	if ((to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) &&
	    !(to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && !owner)
		return -EPERM; /* explicit times: the owner's */
	if ((to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && !owner &&
	    perm_mode(req, mode, uid, gid, W_OK) < 0)
		return -EACCES;			      /* touch: the owner's, or a writer's */
	if ((to_set & FUSE_SET_ATTR_SIZE) && !has_fh) /* truncate(path) */
		return perm_mode(req, mode, uid, gid, W_OK);
	return 0;
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
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
	/* the exact attributes, whatever the kind: access() is rare */
	rc = node_attr(fs, n, &st, &timeout);
	if (rc == 0)
		rc = perm_mode(req, st.st_mode, st.st_uid, st.st_gid, mask);
	if (rc == 0 && (mask & W_OK) && fs->readonly)
		rc = -EROFS;
	node_put(fs, n);
	fuse_reply_err(req, -rc);
}

void perm_dir_changed(struct fsx *fs, struct node *n)
{
	if (fs->kernel_perms)
		return;
	pthread_mutex_lock(&fs->ilock);
	if (n->kind == NK_SCRATCH && S_ISDIR(n->scr->mode))
		for (size_t i = 0; i < n->kids.n; i++)
			inval_entry_async(fs, n->ino, n->kids.v[i].name);
	pthread_mutex_unlock(&fs->ilock);
}
