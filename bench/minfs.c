/*
 * minfs.c - the FUSE floor: a minimal in-memory low-level FUSE filesystem.
 *
 * bench/run measures dynfs against this program to learn how much of a
 * file operation's cost is FUSE itself (the kernel round trip, libfuse's
 * request loop) and how much is dynfs.  So minfs does as little as a FUSE
 * filesystem can while still being a real one: one flat directory of
 * regular files held in memory, with the same kernel-facing choices a
 * fast FUSE filesystem makes:
 *
 *   - long entry and attribute timeouts (the kernel caches lookups and
 *     stat results; -o timeout=SECONDS changes them);
 *   - readdirplus, so `ls -l` gets names and attributes in one pass;
 *   - the multithreaded session loop (fuse_session_loop_mt with a
 *     fuse_loop_config);
 *   - no keep_cache on open: like dynfs, whose files render items and may
 *     read back differently from what was written, every open reads
 *     through FUSE; minfs gets no free reads from the page cache;
 *   - no FLUSH: minfs answers the first FLUSH with ENOSYS, and the kernel
 *     then stops sending it, so close() costs no round trip.  dynfs
 *     commits at close and cannot do that; -o flush makes minfs answer
 *     FLUSH (doing nothing), to measure that round trip on its own;
 *   - -o syncdir=DIR (implies flush): each FLUSH and each UNLINK also
 *     appends a record (258 and 75 bytes, a dynfs create's and unlink's
 *     journal records) to DIR/minfs-journal and fdatasyncs it, the file
 *     written with zeroes 1 MiB ahead as dynfs's journal is with
 *     fsync=always: a floor paying dynfs's sync in the same place, to
 *     tell what the sync costs any FUSE filesystem (bench/ctxsw.sh's
 *     floor-sync; bench/README.md, "Why a create's sync cost more than
 *     an unlink's").
 *
 * Usage: minfs MOUNTPOINT [-f] [-s] [-d] [-o opt,...]  (the usual libfuse
 * options, plus -o timeout=SECONDS, -o flush and -o syncdir=DIR).
 *
 * Design.  A node's address is its FUSE inode number (as in libfuse's
 * passthrough_ll.c), so requests find their node in O(1).  Names are found
 * through a chained hash table.  Directory order is creation order: the
 * slots of `order`, where an unlinked file leaves a NULL behind, so a
 * readdir offset (slot + 3; 1 and 2 are "." and "..") stays valid while
 * files come and go: no entry is listed twice or skipped.  When the
 * directory becomes empty the slot array starts over.
 *
 * Invariants (under mfs.lock): every linked node is in the hash table and
 * in order[node->slot]; an unlinked node is in neither and is freed when
 * the kernel forgets its last lookup reference (nlookup == 0).
 *
 * Locking.  One rwlock for everything: stats, reads and plain readdir
 * share it; whatever changes a node or its lookup count (lookup,
 * readdirplus, create, write, setattr, unlink, forget) takes it
 * exclusively.
 * That is enough for a 2-core benchmark machine and keeps the floor honest
 * (no lock-free tricks dynfs could not use).
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mfs_node {
	struct mfs_node *hnext; /* hash chain (linked nodes only) */
	uint64_t nlookup;	/* kernel lookup references */
	size_t slot;		/* index in mfs.order while linked */
	bool linked;		/* has a name in the directory */
	struct stat st;		/* mode, size, times, st_ino */
	char *data;		/* file contents, st.st_size bytes used */
	size_t cap;		/* bytes allocated at data */
	char name[];		/* NUL-terminated */
};

struct mfs {
	pthread_rwlock_t lock;	  /* protects everything below and all nodes */
	struct mfs_node **hash;	  /* name -> node, chained */
	size_t nbuckets;	  /* power of two */
	size_t nlinked;		  /* linked nodes */
	struct mfs_node **order;  /* readdir order; NULL = unlinked slot */
	size_t norder;		  /* slots used */
	size_t ordercap;	  /* slots allocated */
	uint64_t next_ino;	  /* st_ino of the next new file */
	struct stat root;	  /* the directory's attributes */
	double timeout;		  /* entry and attr timeout, seconds */
	int flush;		  /* -o flush: answer FLUSH (else ENOSYS once) */
	char *syncdir;		  /* -o syncdir=DIR: a synced record per FLUSH/UNLINK */
	int jfd;		  /* DIR/minfs-journal, or -1 */
	off_t jend, jready;	  /* records end here; zeroes written up to jready */
	pthread_mutex_t jmu;	  /* serialises the appends (not the syncs) */
};

static struct mfs *mfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct mfs_node *node_of(fuse_ino_t ino)
{
	return (struct mfs_node *)(uintptr_t)ino;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct mfs_node *find(struct mfs *fs, const char *name)
{
	struct mfs_node *n = fs->hash[name_hash(name) & (fs->nbuckets - 1)];

	while (n && strcmp(n->name, name) != 0)
		n = n->hnext;
	return n;
}

static int grow_hash(struct mfs *fs)
{
	size_t nb = fs->nbuckets * 2;
	struct mfs_node **h = calloc(nb, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct mfs_node *n = fs->hash[i], *next;

		for (; n; n = next) {
			size_t b = name_hash(n->name) & (nb - 1);

			next = n->hnext;
			n->hnext = h[b];
			h[b] = n;
		}
	}
	free(fs->hash);
	fs->hash = h;
	fs->nbuckets = nb;
	return 0;
}

/* Give a new node a name: hash table and the next readdir slot. */
static int link_node(struct mfs *fs, struct mfs_node *n)
{
	size_t b;

	if (fs->nlinked >= fs->nbuckets && grow_hash(fs) < 0)
		return -ENOMEM;
	if (fs->norder == fs->ordercap) {
		size_t cap = fs->ordercap ? fs->ordercap * 2 : 1024;
		struct mfs_node **o = realloc(fs->order, cap * sizeof(*o));

		if (!o)
			return -ENOMEM;
		fs->order = o;
		fs->ordercap = cap;
	}
	b = name_hash(n->name) & (fs->nbuckets - 1);
	n->hnext = fs->hash[b];
	fs->hash[b] = n;
	n->slot = fs->norder;
	fs->order[fs->norder++] = n;
	n->linked = true;
	fs->nlinked++;
	return 0;
}

static void unlink_node(struct mfs *fs, struct mfs_node *n)
{
	struct mfs_node **p = &fs->hash[name_hash(n->name) & (fs->nbuckets - 1)];

	while (*p != n)
		p = &(*p)->hnext;
	*p = n->hnext;
	fs->order[n->slot] = NULL;
	n->linked = false;
	if (--fs->nlinked == 0)
		fs->norder = 0; /* empty: start the slots over */
}

static void free_node(struct mfs_node *n)
{
	free(n->data);
	free(n);
}

static void fill_entry(struct mfs *fs, struct mfs_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr = n->st;
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	n->nlookup++;
}

static void mfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mfs *fs = mfs_of(req);
	struct fuse_entry_param e;
	struct mfs_node *n;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* nlookup changes, so this is a writer; lookups are short */
	pthread_rwlock_wrlock(&fs->lock);
	n = find(fs, name);
	if (n)
		fill_entry(fs, n, &e);
	pthread_rwlock_unlock(&fs->lock);
	if (n) {
		fuse_reply_entry(req, &e);
	} else {
		/* a negative entry the kernel may cache as long as others */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;
		fuse_reply_entry(req, &e);
	}
}

static void forget_one(struct mfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct mfs_node *n = node_of(ino);

	if (ino == FUSE_ROOT_ID)
		return;
	n->nlookup -= nlookup;
	if (n->nlookup == 0 && !n->linked)
		free_node(n);
}

static void mfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct mfs *fs = mfs_of(req);

	pthread_rwlock_wrlock(&fs->lock);
	forget_one(fs, ino, nlookup);
	pthread_rwlock_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void mfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct mfs *fs = mfs_of(req);

	pthread_rwlock_wrlock(&fs->lock);
	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	pthread_rwlock_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void mfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);
	struct stat st;

	pthread_rwlock_rdlock(&fs->lock);
	st = ino == FUSE_ROOT_ID ? fs->root : node_of(ino)->st;
	pthread_rwlock_unlock(&fs->lock);
	fuse_reply_attr(req, &st, fs->timeout);
}

static int set_size(struct mfs_node *n, size_t size)
{
	if (size > n->cap) {
		size_t cap = n->cap ? n->cap : 256;
		char *d;

		while (cap < size)
			cap *= 2;
		d = realloc(n->data, cap);
		if (!d)
			return -ENOMEM;
		n->data = d;
		n->cap = cap;
	}
	if (size > (size_t)n->st.st_size)
		memset(n->data + n->st.st_size, 0, size - n->st.st_size);
	n->st.st_size = size;
	return 0;
}

static void set_time(struct timespec *ts, const struct timespec *to, bool now)
{
	if (now)
		clock_gettime(CLOCK_REALTIME, ts);
	else
		*ts = *to;
}

static void mfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);
	struct stat *st;
	struct stat out;
	int rc = 0;

	pthread_rwlock_wrlock(&fs->lock);
	st = ino == FUSE_ROOT_ID ? &fs->root : &node_of(ino)->st;
	if ((to_set & FUSE_SET_ATTR_SIZE) && ino != FUSE_ROOT_ID)
		rc = set_size(node_of(ino), attr->st_size);
	if (rc == 0) {
		if (to_set & FUSE_SET_ATTR_MODE)
			st->st_mode = (st->st_mode & S_IFMT) | (attr->st_mode & 07777);
		if (to_set & FUSE_SET_ATTR_UID)
			st->st_uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			st->st_gid = attr->st_gid;
		if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
			set_time(&st->st_atim, &attr->st_atim, to_set & FUSE_SET_ATTR_ATIME_NOW);
		if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
			set_time(&st->st_mtim, &attr->st_mtim, to_set & FUSE_SET_ATTR_MTIME_NOW);
		clock_gettime(CLOCK_REALTIME, &st->st_ctim);
	}
	out = *st;
	pthread_rwlock_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &out, fs->timeout);
}

static struct mfs_node *new_node(struct mfs *fs, const char *name, mode_t mode,
				 const struct fuse_ctx *ctx)
{
	size_t len = strlen(name);
	struct mfs_node *n = calloc(1, sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	memcpy(n->name, name, len + 1);
	n->st.st_ino = fs->next_ino++;
	n->st.st_mode = S_IFREG | (mode & 07777);
	n->st.st_nlink = 1;
	n->st.st_uid = ctx->uid;
	n->st.st_gid = ctx->gid;
	n->st.st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &n->st.st_mtim);
	n->st.st_atim = n->st.st_ctim = n->st.st_mtim;
	return n;
}

static void mfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);
	struct fuse_entry_param e;
	struct mfs_node *n;
	int rc = 0;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pthread_rwlock_wrlock(&fs->lock);
	n = find(fs, name);
	if (n && (fi->flags & O_EXCL)) {
		rc = -EEXIST;
	} else if (n) {
		if (fi->flags & O_TRUNC)
			n->st.st_size = 0;
	} else {
		n = new_node(fs, name, mode & ~fuse_req_ctx(req)->umask, fuse_req_ctx(req));
		rc = n ? link_node(fs, n) : -ENOMEM;
		if (rc < 0) {
			free(n);
			n = NULL;
		}
	}
	if (rc == 0)
		fill_entry(fs, n, &e);
	pthread_rwlock_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_create(req, &e, fi);
}

static void mfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);

	if (fi->flags & O_TRUNC) {
		pthread_rwlock_wrlock(&fs->lock);
		node_of(ino)->st.st_size = 0;
		pthread_rwlock_unlock(&fs->lock);
	}
	fuse_reply_open(req, fi);
}

static void mfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);
	struct mfs_node *n = node_of(ino);
	char stackbuf[8192];
	char *buf = stackbuf;
	size_t len = 0;

	pthread_rwlock_rdlock(&fs->lock);
	if (off < n->st.st_size) {
		len = n->st.st_size - off;
		if (len > size)
			len = size;
		if (len > sizeof(stackbuf))
			buf = malloc(len);
		if (buf)
			memcpy(buf, n->data + off, len);
	}
	pthread_rwlock_unlock(&fs->lock);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fuse_reply_buf(req, buf, len);
	if (buf != stackbuf)
		free(buf);
}

static void mfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);
	struct mfs_node *n = node_of(ino);
	int rc = 0;

	pthread_rwlock_wrlock(&fs->lock);
	if ((size_t)off + size > (size_t)n->st.st_size)
		rc = set_size(n, off + size);
	if (rc == 0) {
		memcpy(n->data + off, buf, size);
		clock_gettime(CLOCK_REALTIME, &n->st.st_mtim);
		n->st.st_ctim = n->st.st_mtim;
	}
	pthread_rwlock_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* -o syncdir: append a record of len bytes and make it durable. */
static int jsync(struct mfs *fs, size_t len)
{
	static const char rec[258] = {'x'};
	static char zeroes[1 << 20];
	int rc = 0;

	pthread_mutex_lock(&fs->jmu);
	if (fs->jend + (off_t)len > fs->jready) {
		if (pwrite(fs->jfd, zeroes, sizeof(zeroes), fs->jready) != (ssize_t)sizeof(zeroes))
			rc = EIO;
		else
			fs->jready += (off_t)sizeof(zeroes);
	}
	if (rc == 0 && pwrite(fs->jfd, rec, len, fs->jend) != (ssize_t)len)
		rc = EIO;
	if (rc == 0)
		fs->jend += (off_t)len;
	pthread_mutex_unlock(&fs->jmu);
	if (rc == 0 && fdatasync(fs->jfd) < 0)
		rc = EIO;
	return rc;
}

static void mfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs *fs = mfs_of(req);

	if (fs->jfd >= 0) {
		fuse_reply_err(req, jsync(fs, 258));
		return;
	}
	fuse_reply_err(req, fs->flush ? 0 : ENOSYS);
}

static void mfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mfs *fs = mfs_of(req);
	struct mfs_node *n;

	pthread_rwlock_wrlock(&fs->lock);
	n = parent == FUSE_ROOT_ID ? find(fs, name) : NULL;
	if (n) {
		unlink_node(fs, n);
		n->st.st_nlink = 0;
		if (n->nlookup == 0)
			free_node(n);
	}
	pthread_rwlock_unlock(&fs->lock);
	fuse_reply_err(req, !n ? ENOENT : fs->jfd >= 0 ? jsync(fs, 75) : 0);
}

/*
 * readdir and readdirplus: offsets 1 and 2 are "." and "..", slot s is
 * offset s + 3.  readdirplus entries carry a lookup reference, except "."
 * and ".." (the kernel does not count those; passthrough_ll.c does the
 * same).
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct mfs *fs = mfs_of(req);
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* readdirplus hands out lookup references: a writer */
	if (plus)
		pthread_rwlock_wrlock(&fs->lock);
	else
		pthread_rwlock_rdlock(&fs->lock);
	for (;; off++) {
		struct fuse_entry_param e;
		const char *name;
		struct mfs_node *n = NULL;
		size_t len;

		if (off == 0 || off == 1) {
			name = off == 0 ? "." : "..";
			memset(&e, 0, sizeof(e));
			e.attr = fs->root;
		} else if ((size_t)off - 2 < fs->norder) {
			n = fs->order[off - 2];
			if (!n)
				continue;
			name = n->name;
			e.attr = n->st;
		} else {
			break;
		}
		if (plus) {
			if (n)
				fill_entry(fs, n, &e);
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, off + 1);
			if (len > size - used) {
				if (n)
					n->nlookup--; /* not sent after all */
				break;
			}
		} else {
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr, off + 1);
			if (len > size - used)
				break;
		}
		used += len;
	}
	pthread_rwlock_unlock(&fs->lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void mfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

static void mfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

static void mfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_blocks = 1 << 20,
		.f_bfree = 1 << 20,
		.f_bavail = 1 << 20,
		.f_files = 1 << 24,
		.f_ffree = 1 << 24,
		.f_favail = 1 << 24,
		.f_namemax = 255,
	};

	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops mfs_ops = {
	.lookup = mfs_lookup,
	.forget = mfs_forget,
	.forget_multi = mfs_forget_multi,
	.getattr = mfs_getattr,
	.setattr = mfs_setattr,
	.create = mfs_create,
	.open = mfs_open,
	.read = mfs_read,
	.write = mfs_write,
	.flush = mfs_flush,
	.unlink = mfs_unlink,
	.readdir = mfs_readdir,
	.readdirplus = mfs_readdirplus,
	.statfs = mfs_statfs,
};

static const struct fuse_opt mfs_opts[] = {
	{"timeout=%lf", offsetof(struct mfs, timeout), 0},
	{"flush", offsetof(struct mfs, flush), 1},
	{"syncdir=%s", offsetof(struct mfs, syncdir), 0},
	FUSE_OPT_END,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	struct mfs fs = {.nbuckets = 1024, .next_ino = 2, .timeout = 86400.0, .jfd = -1};
	int ret = 1;

	pthread_rwlock_init(&fs.lock, NULL);
	fs.hash = calloc(fs.nbuckets, sizeof(*fs.hash));
	if (!fs.hash)
		return 1;
	fs.root.st_ino = FUSE_ROOT_ID;
	fs.root.st_mode = S_IFDIR | 0755;
	fs.root.st_nlink = 2;
	fs.root.st_uid = getuid();
	fs.root.st_gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs.root.st_mtim);
	fs.root.st_atim = fs.root.st_ctim = fs.root.st_mtim;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s MOUNTPOINT [-f] [-s] [-d] [-o timeout=SECONDS,flush,syncdir=DIR,...]\n",
		       argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = opts.show_help ? 0 : 1;
		goto out_args;
	}
	if (fuse_opt_parse(&args, &fs, mfs_opts, NULL) == -1)
		goto out_args;
	pthread_mutex_init(&fs.jmu, NULL);
	if (fs.syncdir) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/minfs-journal", fs.syncdir);
		fs.jfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fs.jfd < 0) {
			perror(path);
			goto out_args;
		}
		fs.flush = 1;
	}
	se = fuse_session_new(&args, &mfs_ops, sizeof(mfs_ops), &fs);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
