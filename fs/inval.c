/*
 * inval.c - keeping the kernel's caches honest.
 *
 * dynfs replies with long entry and attribute timeouts (and caches
 * negative lookups and file pages), because the kernel's caches make
 * stat, ls -l and repeated reads an order of magnitude faster.  That is
 * only correct if the kernel hears about every change, whichever path
 * made it (this mount's requests, _batch, _tx, rename).  The engine calls
 * fsx_observe() after every applied change; it finds what the kernel may
 * have cached and:
 *
 *   - invalidates attributes at once (notify_inval_inode with a negative
 *     offset: in the kernel this takes only the inode's spinlock, so it
 *     cannot block, even from the request that made the change -- which
 *     matters: `mv a.json b.json; stat b.json` must see the new size);
 *   - bumps the node's version (open handles compare it with their own);
 *   - queues data and entry invalidations to the invalidation thread:
 *     those may wait for page locks or the parent directory's lock, which
 *     a request in flight may hold.  The queue is never bounded by
 *     blocking: data invalidations are coalesced per node, and entry
 *     invalidations are only queued for names the kernel holds
 *     (positive: a node exists; negative: the name is in the negative set);
 *   - a deleted item's inode gets its attributes invalidated at once too,
 *     so a stat through a still-cached entry asks us and gets ENOENT.
 *
 * Settling.  A change must be visible to every system call made after
 * the call that made it returned, so each queued invalidation has a
 * ticket, and the thread that queued it waits for the invalidation
 * thread to pass its last ticket before that call returns
 * (inval_settle).  When is that wait safe?  The kernel's
 * notify_inval_entry takes the parent directory's i_rwsem; it blocks
 * while a request holding that lock is unanswered, so it must never be
 * waited for by such a request: create, mkdir, mknod, symlink, link,
 * unlink, rmdir and rename hold their parents' locks (and the kernel
 * updates the entries they change itself), so they never settle; their
 * other invalidations (a partition that lost its last item) are left to
 * the thread, and the inline attribute invalidation already makes a stat
 * of what they deleted ask us.  WRITE (_batch), FLUSH, FSYNC, RELEASE,
 * READ (of _batch/_tx) and SETATTR hold at most the file's own inode
 * lock, never a directory's: they settle before replying.  The one
 * cycle left -- an unlink or rename whose target is that very file holds
 * the directory and waits for the file's lock -- is why the wait is
 * bounded (FSX_SETTLE_NS); it ends as soon as the thread gets there.
 * Threads that are not FUSE workers (an API server calling db_apply)
 * hold no kernel lock at all: the observer settles for them before it
 * returns, so their callers need not know.
 *
 * What the kernel does itself.  An unlink through this mount: on its
 * reply the kernel drops the name's dentry, so for the name the request
 * removes (fsx_origin, set around its be_delete) no entry invalidation
 * is queued.  Its directory's attributes are still invalidated here:
 * the kernel's fuse_dir_changed() only marks them stale without bumping
 * their attr_version, so a GETATTR of the directory answered before the
 * delete and arriving after the reply would be kept for the whole
 * attribute timeout; notify_inval_inode bumps it (when attributes went
 * out since the last one: "Attributes nobody holds" below).  The item's own
 * attributes (an open descriptor's fstat), the table directory's, and
 * every change by another path are invalidated as above.
 *
 * A created item's first commits.  A put of an item whose node exists
 * queues a data invalidation (notify_inval_inode(ino, 0, 0)), and the
 * FLUSH that made it waits for the thread to run it: a hand-off of about
 * two context switches per save.  It is skipped for one kind of commit:
 * by the handle whose CREATE made the item (fh.made), while its file is
 * open (a flush or fsync; not at release), of a node that
 * served no READ since its last data invalidation ran (node.paged).
 * Nothing is lost there:
 *   - attributes: from the CREATE to that handle's release the node has a
 *     writer, so every attribute reply for it (lookup, getattr,
 *     readdirplus, setattr: resolve.c attr_of, readdir.c) has timeout 0
 *     and is never served from the kernel's cache.  The one cached reply
 *     is the CREATE's, which the kernel applied before open() returned,
 *     so before any commit through that handle; a reply read before the
 *     CREATE and arriving after it has an older attr_version than the
 *     CREATE gave the inode, and the open file keeps that inode (no new
 *     inode takes it).  After the commit's inline invalidation nothing
 *     stale can be cached, so the later one has nothing to drop;
 *   - pages: every item handle is direct I/O, so an item's pages come
 *     only from READs (a private mmap's faults) or from a scratch file it
 *     was renamed from (rename.c marks those); none were served;
 *   - the inline invalidation finds the inode (the open file holds it);
 *     should it not, the data invalidation is queued as before.
 * Every other commit keeps the later invalidation.  Without it CI saw 2
 * stale sizes in 12,000 t_visibility rounds (rename and _batch paths;
 * 80cfce8); with it a vis_stress run saw 1 in 27,000 (main, _batch:
 * stat 30 bytes, read 33, same inode, the next stat and a forced statx
 * right).  The window is not this invalidation's.  The one left that
 * is known is the kernel's ("The kernel's window" below); what was ruled
 * out on the daemon's side (December 7, kernel 6.18, libfuse 3.14):
 *   - the settle's bound: that write took 1.0 ms of FSX_SETTLE_NS, and
 *     the daemon said nothing (vis_stress greps its message);
 *   - a GETATTR answered before the commit whose reply the kernel reads
 *     after the invalidation (fuse_do_getattr fills its caller's stat
 *     from a reply it keeps out of the cache): the stat is made by the
 *     writing thread after write() returned, and the kernel shares no
 *     GETATTR between callers, so its own was answered after the commit;
 *   - replies read before a commit and applied after it: with `make
 *     trace`'s delays (trace.h) of up to 3 ms between the read and the
 *     reply of LOOKUP, GETATTR and READDIRPLUS, and before either
 *     invalidation, 1,000-1,500 rounds each were never stale: the kernel
 *     drops such a reply (attr_version), and a new inode is covered by
 *     the entry invalidation above and the kernel's evict counter.  A
 *     trace of 12,000 rounds under two busy loops: no stale answer, and
 *     no reply whose request started after a commit's observer with the
 *     size from before it.
 * "Right at the next stat" tells little: t_visibility's `ls -lR` loops
 * refresh every cached size within about a millisecond (a daemon
 * without these invalidations was stale in 3 of 120 checks, each right
 * after the read that followed).
 *
 * The kernel's window.  fuse_update_get_attr (6.18) reads the inode's
 * inval_mask and i_time without fi->lock, then copies the inode's
 * attributes; fuse_change_attributes, under fi->lock, clears the mask
 * and sets i_time, then the times and the rest, and writes i_size last.
 * A stat served from the cache while another process's reply is being
 * applied -- here, the first reply after the invalidation, carrying the
 * new size -- can see the mask clear and the old size.  It lasts as long
 * as the kernel takes to apply that reply (nanoseconds; longer if that
 * CPU takes an interrupt, or its vCPU is descheduled, under fi->lock),
 * and the next stat is right; statx with AT_STATX_FORCE_SYNC always is,
 * and an open after the change reads the new text (it asks dynfs).  No
 * daemon can close it short of not caching attributes: the reply being
 * applied is right, and
 * which process's reply lands when is the kernel's.  Shown without
 * dynfs by tests/e2e/attr_tear/run (a file whose GETATTRs alternate two
 * sizes and mtimes, two processes forcing GETATTRs, a third stat'ing
 * from the cache: about 1 stat in 1,000 pairs one reply's size with the
 * other's mtime).  t_visibility stats twice at once and counts a first
 * stat that is stale and a second that is right as torn, not stale
 * (visibility.py); the one stale size of 27,000 predates that count, so
 * which it was is not known.  README and dynfs.1 say what a user sees.
 *
 * Attributes nobody holds.  An attribute invalidation is a write to
 * /dev/fuse (a system call, as costly as a reply), and a create or an
 * unlink in a loop made three or four of them (the item, its partition,
 * its table directory) where the kernel held none of those attributes:
 * nothing on a private mount (no default_permissions) asks for a
 * directory's attributes on a path walk, and a created item's are
 * dropped by its first commit.  So each node notes whether attributes
 * were replied with a timeout since its last invalidation (node.attr_out:
 * attr_given sets it before the attributes are read, attr_take clears it
 * when the observer invalidates), and the observer skips the
 * invalidation of a node whose note is clear (a writer's release still
 * invalidates: ops_file.c).  Why nothing is lost:
 *   - a reply with timeout 0 leaves attributes the kernel re-reads before
 *     any stat uses them (its i_time is 0), so there is nothing to drop;
 *   - a reply with a timeout set the note before reading (attr_of), or,
 *     where the read came first (a lookup's item read, readdirplus), before
 *     its fsx_changed_since check, against the observer's bump of that
 *     counter before attr_take: either the reply goes out with timeouts 0,
 *     or the observer sees the note (store then load on both sides,
 *     sequentially consistent).  If an earlier observer cleared the note
 *     after the kernel sent the request, that observer's invalidation
 *     bumped the inode's attr_version after the kernel sampled it for the
 *     request: the reply is dropped, or invalidated if it came first --
 *     for the replies the kernel checks (lookup, getattr, readdirplus);
 *   - the kernel applies CREATE, MKNOD, MKDIR, SYMLINK and LINK replies
 *     unchecked.  A created item's first commit through its handle
 *     therefore always invalidates (fsx_made_commit: the CREATE's cached
 *     attributes, size 0); a MKDIR-like reply for a node the kernel
 *     already has an inode of (nlookup > 0) makes the node sticky
 *     (attr_sticky: always invalidated), and for a new inode an
 *     invalidation before the kernel makes it found nothing before this
 *     change either.  One window is left, older than the skips: a lookup
 *     of the same name, racing the MKDIR, makes the inode first, and a
 *     change's invalidation runs between the MKDIR reading its attributes
 *     and the kernel applying them; the old ones stay until the next
 *     change or the timeout.  Always invalidating directories made by
 *     mkdir would close it at 80 more notifications per 20 creates and
 *     20 unlinks in such a directory (measured), so it stays;
 *   - an invalidation that finds no inode (-ENOENT) puts the note back
 *     (inval_attr_taken): the reply that set it may be on its way, and the
 *     kernel makes the inode from it, with attributes from before the
 *     change, only when its requesting process runs again (review).
 *
 * The negative set remembers (parent, name) for every negative lookup we
 * answered with a long timeout, so that a name that comes into existence
 * by another path (an item put through _batch, a table made by the CLI)
 * gets its negative dentry invalidated.  It is bounded (FSX_NEG_MAX);
 * when full, negative replies get timeout 0 instead of being remembered.
 */
#include "fsx.h"
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__thread bool fsx_fuse_worker;
__thread const struct fsx_origin *fsx_origin;
__thread const struct node *fsx_made_commit;
/* The last ticket this thread queued and has not settled. */
static __thread uint64_t owed;

enum inv_op {
	INV_ENTRY, /* notify_inval_entry(ino, name) */
	INV_DATA,  /* notify_inval_inode(ino, 0, 0): attributes and pages */
	INV_PART,  /* partition pk of table tname may be gone: entry in ino */
};

struct inv {
	enum inv_op op;	     /* what to do */
	fuse_ino_t ino;	     /* inode, or parent directory */
	char *name;	     /* entry name (owned) */
	char *tname;	     /* INV_PART: table (owned) */
	struct val pk;	     /* INV_PART: partition key (owned) */
	uint64_t seq;	     /* ticket */
	struct inv *next;    /* FIFO link */
};

struct neg {
	fuse_ino_t parent; /* directory */
	struct neg *next;  /* hash chain */
	char name[];	   /* NUL-terminated */
};

/* ---- the negative set ---- */

static size_t neg_bucket(struct negset *ns, fuse_ino_t parent, const char *name)
{
	uint64_t h = name_hash(name, strlen(name)) ^ (parent * 0x9e3779b97f4a7c15ULL);

	return h & (ns->cap - 1);
}

static unsigned *neg_dir(struct negset *ns, fuse_ino_t parent)
{
	return &ns->dirs[(parent * 0x9e3779b97f4a7c15ULL) >> 58]; /* FSX_NEG_DIRS */
}

/* One entry more or less in parent's summary (ns->lock held). */
static void neg_dir_add(struct negset *ns, fuse_ino_t parent, int d)
{
	unsigned *c = neg_dir(ns, parent);

	__atomic_store_n(c, *c + (unsigned)d, __ATOMIC_SEQ_CST);
}

bool neg_maybe(struct fsx *fs, fuse_ino_t parent)
{
	return __atomic_load_n(neg_dir(&fs->neg, parent), __ATOMIC_SEQ_CST) != 0;
}

bool neg_add(struct fsx *fs, fuse_ino_t parent, const char *name)
{
	struct negset *ns = &fs->neg;
	struct neg *e;
	size_t b;
	bool ok = true;

	pthread_mutex_lock(&ns->lock);
	b = neg_bucket(ns, parent, name);
	for (e = ns->tab[b]; e; e = e->next)
		if (e->parent == parent && !strcmp(e->name, name))
			goto out;
	if (ns->n >= FSX_NEG_MAX || !(e = malloc(sizeof(*e) + strlen(name) + 1))) {
		ok = false;
		goto out;
	}
	e->parent = parent;
	strcpy(e->name, name);
	e->next = ns->tab[b];
	ns->tab[b] = e;
	ns->n++;
	neg_dir_add(ns, parent, 1);
out:
	pthread_mutex_unlock(&ns->lock);
	return ok;
}

bool neg_take(struct fsx *fs, fuse_ino_t parent, const char *name)
{
	struct negset *ns = &fs->neg;
	struct neg **pp, *e;
	bool found = false;

	pthread_mutex_lock(&ns->lock);
	for (pp = &ns->tab[neg_bucket(ns, parent, name)]; (e = *pp); pp = &e->next) {
		if (e->parent == parent && !strcmp(e->name, name)) {
			*pp = e->next;
			neg_dir_add(ns, e->parent, -1);
			free(e);
			ns->n--;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&ns->lock);
	return found;
}

static int cmp_ino(const void *a, const void *b)
{
	fuse_ino_t x = *(const fuse_ino_t *)a, y = *(const fuse_ino_t *)b;

	return x < y ? -1 : x > y;
}

void neg_forget_parents(struct fsx *fs, const fuse_ino_t *dirs, size_t n)
{
	struct negset *ns = &fs->neg;
	fuse_ino_t *sorted = malloc(n * sizeof(*sorted));
	size_t i;

	if (!sorted)
		return;
	memcpy(sorted, dirs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_ino);
	pthread_mutex_lock(&ns->lock);
	for (i = 0; i < ns->cap; i++) {
		struct neg **pp = &ns->tab[i], *e;

		while ((e = *pp)) {
			if (bsearch(&e->parent, sorted, n, sizeof(*sorted), cmp_ino)) {
				*pp = e->next;
				neg_dir_add(ns, e->parent, -1);
				free(e);
				ns->n--;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&ns->lock);
	free(sorted);
}

/* ---- the queue ---- */

static void inv_free(struct inv *q)
{
	free(q->name);
	free(q->tname);
	val_free(&q->pk);
	free(q);
}

static void enqueue(struct fsx *fs, struct inv *q)
{
	struct inval *iv = &fs->inval;

	pthread_mutex_lock(&iv->lock);
	if (iv->stop || !iv->running) {
		pthread_mutex_unlock(&iv->lock);
		inv_free(q);
		return;
	}
	q->next = NULL;
	q->seq = ++iv->seq;
	owed = q->seq;
	fsx_trace("IQ op %d ino %lu seq %llu", q->op, (unsigned long)q->ino,
		  (unsigned long long)q->seq);
	if (iv->tail)
		iv->tail->next = q;
	else
		iv->head = q;
	iv->tail = q;
	pthread_cond_signal(&iv->cond);
	pthread_mutex_unlock(&iv->lock);
}

static struct inv *inv_new(enum inv_op op, fuse_ino_t ino, const char *name)
{
	struct inv *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->op = op;
	q->ino = ino;
	val_init_null(&q->pk);
	if (name && !(q->name = strdup(name))) {
		free(q);
		return NULL;
	}
	return q;
}

void inval_entry_async(struct fsx *fs, fuse_ino_t parent, const char *name)
{
	struct inv *q = inv_new(INV_ENTRY, parent, name);

	if (q)
		enqueue(fs, q);
}

void inval_data_async(struct fsx *fs, struct node *n)
{
	struct inv *q;

	if (n->inval_queued)
		return;
	q = inv_new(INV_DATA, n->ino, NULL);
	if (q) {
		n->inval_queued = true;
		enqueue(fs, q);
	}
}

static void inval_part_async(struct fsx *fs, fuse_ino_t tino, const char *tname,
			     const struct val *pk, const char *name)
{
	struct inv *q = inv_new(INV_PART, tino, name);

	if (!q)
		return;
	if (!(q->tname = strdup(tname)) || val_copy(&q->pk, pk) < 0) {
		inv_free(q);
		return;
	}
	enqueue(fs, q);
}

void attr_given(struct node *n)
{
	__atomic_store_n(&n->attr_out, true, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* before the attributes are read */
}

bool attr_take(struct node *n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* after the change was published */
	return __atomic_exchange_n(&n->attr_out, false, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&n->attr_sticky, __ATOMIC_SEQ_CST);
}

int inval_attr_now(struct fsx *fs, fuse_ino_t ino)
{
	return fs->se ? fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0) : 0;
}

/* The partition may have lost its last item: if so, and nothing keeps
 * its directory (a pin, scratch files), drop the kernel's entry. */
static void check_part(struct fsx *fs, struct inv *q)
{
	struct node *pn;
	be_table_t *t;
	bool keep;

	if (be_table_open(fs->be, q->tname, &t, NULL) < 0)
		return;
	if (be_partition_exists(t, NULL, &q->pk, NULL) == 0) {
		be_table_close(t);
		return;
	}
	be_table_close(t);
	pthread_mutex_lock(&fs->ilock);
	pn = node_find_locked(fs, NK_PART, q->tname, &q->pk, NULL);
	keep = pn && (pn->pinned || pn->kids.n);
	pthread_mutex_unlock(&fs->ilock);
	if (!keep)
		fuse_lowlevel_notify_inval_entry(fs->se, q->ino, q->name, strlen(q->name));
}

static void *inval_main(void *arg)
{
	struct fsx *fs = arg;
	struct inval *iv = &fs->inval;
	struct inv *q;

	for (;;) {
		pthread_mutex_lock(&iv->lock);
		while (!iv->head && !iv->stop)
			pthread_cond_wait(&iv->cond, &iv->lock);
		q = iv->head;
		if (!q) {
			pthread_mutex_unlock(&iv->lock);
			return NULL;
		}
		iv->head = q->next;
		if (!iv->head)
			iv->tail = NULL;
		pthread_mutex_unlock(&iv->lock);
		fsx_delay("inval");

		switch (q->op) {
		case INV_ENTRY:
			fuse_lowlevel_notify_inval_entry(fs->se, q->ino, q->name,
							 strlen(q->name));
			break;
		case INV_DATA: {
			struct node *n = node_get(fs, q->ino);

			if (n) {
				pthread_mutex_lock(&fs->ilock);
				n->inval_queued = false;
				/* before the notification: a READ after this
				 * sets it again */
				__atomic_store_n(&n->paged, false, __ATOMIC_SEQ_CST);
				pthread_mutex_unlock(&fs->ilock);
				node_put(fs, n);
				fuse_lowlevel_notify_inval_inode(fs->se, q->ino, 0, 0);
			}
			break;
		}
		case INV_PART:
			check_part(fs, q);
			break;
		}
		fsx_trace("IRUN op %d ino %lu seq %llu", q->op, (unsigned long)q->ino,
			  (unsigned long long)q->seq);
		pthread_mutex_lock(&iv->lock);
		iv->done = q->seq;
		pthread_cond_broadcast(&iv->done_cond);
		pthread_mutex_unlock(&iv->lock);
		inv_free(q);
	}
}

void inval_settle(struct fsx *fs)
{
	struct inval *iv = &fs->inval;
	struct timespec ts;
	bool timed_out = false;
	int64_t until;

	if (!owed)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + FSX_SETTLE_NS;
	ts.tv_sec = (time_t)(until / 1000000000LL);
	ts.tv_nsec = (long)(until % 1000000000LL);
	pthread_mutex_lock(&iv->lock);
	while (iv->done < owed && !iv->stop)
		if (pthread_cond_timedwait(&iv->done_cond, &iv->lock, &ts) == ETIMEDOUT) {
			timed_out = true;
			break;
		}
	pthread_mutex_unlock(&iv->lock);
	fsx_trace("SETTLE owed %llu timed_out %d", (unsigned long long)owed, timed_out);
	owed = 0;
	/* Should never happen but in the cycle the header describes; when
	 * it does, the kernel may show an old size or name until its cache
	 * times out, so say so (a stale answer in a test can be told apart). */
	if (timed_out)
		fprintf(stderr, "dynfs: a change was acknowledged after waiting %lld s for the "
				"invalidation thread; the kernel may show the old size or "
				"name until its cache times out\n",
			FSX_SETTLE_NS / 1000000000LL);
}

int inval_init(struct fsx *fs)
{
	struct negset *ns = &fs->neg;

	pthread_condattr_t ca;

	pthread_mutex_init(&fs->inval.lock, NULL);
	pthread_cond_init(&fs->inval.cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->inval.done_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ns->lock, NULL);
	ns->cap = 1 << 14;
	ns->tab = calloc(ns->cap, sizeof(*ns->tab));
	return ns->tab ? 0 : -ENOMEM;
}

int inval_start(struct fsx *fs)
{
	struct inval *iv = &fs->inval;
	int rc;

	pthread_mutex_lock(&iv->lock);
	iv->stop = false;
	iv->running = true;
	pthread_mutex_unlock(&iv->lock);
	rc = pthread_create(&iv->thread, NULL, inval_main, fs);
	if (rc) {
		iv->running = false;
		return -rc;
	}
	return 0;
}

/* Stop the thread; what is still queued is dropped (the kernel is gone). */
void inval_stop(struct fsx *fs)
{
	struct inval *iv = &fs->inval;
	struct inv *q, *next;
	bool running;

	pthread_mutex_lock(&iv->lock);
	running = iv->running;
	iv->stop = true;
	for (q = iv->head; q; q = next) {
		next = q->next;
		inv_free(q);
	}
	iv->head = iv->tail = NULL;
	iv->done = iv->seq;
	pthread_cond_signal(&iv->cond);
	pthread_cond_broadcast(&iv->done_cond);
	pthread_mutex_unlock(&iv->lock);
	if (running) {
		/* A notification stuck on a kernel lock of an unanswerable
		 * request must not hang the unmount: give up after a while. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(iv->thread, NULL, &ts) != 0)
			pthread_detach(iv->thread);
	}
	iv->running = false;
}

void inval_fini(struct fsx *fs)
{
	struct negset *ns = &fs->neg;
	size_t i;

	for (i = 0; i < ns->cap; i++) {
		struct neg *e = ns->tab[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(ns->tab);
	pthread_mutex_destroy(&ns->lock);
	pthread_mutex_destroy(&fs->inval.lock);
	pthread_cond_destroy(&fs->inval.cond);
	pthread_cond_destroy(&fs->inval.done_cond);
}

/* ---- the observer ---- */

/* An item was put (item != NULL) or deleted (pk, sk). */
/*
 * The directories whose attributes a group of changes invalidates (the
 * table's, a partition's): once per group, not once per item (a syscall
 * each; a 100-line _batch group changes one table 100 times).
 */
#define DIRS_MAX 8
struct dirs {
	fuse_ino_t ino[DIRS_MAX];
	size_t n;
};

/* The attributes of a node whose note attr_take took.  An invalidation
 * that found no inode puts the note back: a reply that set it may be on
 * its way to make that inode (the kernel makes it when the requesting
 * process runs again), with the attributes from before this change; the
 * next change must drop them. */
int inval_attr_taken(struct fsx *fs, fuse_ino_t ino)
{
	int rc = inval_attr_now(fs, ino);
	struct node *n;

	if (rc == -ENOENT && (n = node_get(fs, ino))) {
		attr_given(n);
		node_put(fs, n);
	}
	return rc;
}

static void dirs_flush(struct fsx *fs, struct dirs *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		inval_attr_taken(fs, d->ino[i]);
	d->n = 0;
}

static void dirs_add(struct fsx *fs, struct dirs *d, fuse_ino_t ino)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->ino[i] == ino)
			return;
	if (d->n == DIRS_MAX)
		dirs_flush(fs, d);
	d->ino[d->n++] = ino;
}

/* The entry names of an item's key (pk's in the table, sk's in the
 * partition), made on first use; false if the key has no name. */
struct item_names {
	const struct val *pk, *sk; /* the key */
	int made;		   /* 0 not yet, 1 made, -1 the key has no name */
	char pk_name[NAME_BUF];	   /* its name in the table */
	char sk_name[NAME_BUF];	   /* (with a sort key) in the partition */
};

static bool names_of(struct item_names *nm)
{
	if (!nm->made)
		nm->made = name_make(nm->pk, !nm->sk, nm->pk_name) >= 0 &&
				   (!nm->sk || name_make(nm->sk, true, nm->sk_name) >= 0)
			       ? 1
			       : -1;
	return nm->made > 0;
}

/* The item's name in dir (the partition's with a sort key). */
static const char *leaf_name(struct item_names *nm)
{
	return nm->sk ? nm->sk_name : nm->pk_name;
}

/* The change is the removal of name from dir by this very request
 * (fsx_origin): the kernel drops that entry itself. */
static bool by_origin(fuse_ino_t dir, const char *name)
{
	return fsx_origin && fsx_origin->dir == dir && !strcmp(fsx_origin->name, name);
}

/*
 * A put's names are made only where a name is looked for: a negative
 * entry in the directory (neg_maybe says whether there can be one), an
 * entry to drop.  A bulk import of new items into a table nobody looked
 * into makes none (it made two per item: a fifth of the observer).
 */
static void on_item(struct fsx *fs, const char *tname, const struct val *item,
		    const struct val *pk, const struct val *sk, struct dirs *dirs)
{
	struct item_names nm;
	fuse_ino_t attr[3] = {0, 0, 0}, idir = 0;
	struct node *tn, *pn = NULL, *in, *made = NULL;
	bool has_sk;
	int rc;
	size_t i;

	__atomic_add_fetch(&fs->chg, 1, __ATOMIC_SEQ_CST); /* fsx_changed_since */
	pthread_mutex_lock(&fs->ilock);
	tn = node_find_locked(fs, NK_TABLE, tname, NULL, NULL);
	if (tn)
		tn->refs++;
	pthread_mutex_unlock(&fs->ilock);
	if (!tn)
		return; /* the kernel caches nothing under this table */

	if (item && !pk) { /* key attributes by the table's schema (an engine call) */
		const struct key_attr *ka = be_table_pk(tn->table), *kb = be_table_sk(tn->table);

		pk = val_map_get(item, ka->name, strlen(ka->name));
		sk = kb ? val_map_get(item, kb->name, strlen(kb->name)) : NULL;
	}
	has_sk = sk != NULL;
	nm.pk = pk;
	nm.sk = sk;
	nm.made = 0;
	if (!pk || (!item && !names_of(&nm)))
		goto out;

	pthread_mutex_lock(&fs->ilock);
	/* directories and items whose attributes nobody holds: not
	 * invalidated ("Attributes nobody holds") */
	if (attr_take(tn))
		attr[0] = tn->ino;
	if (has_sk && (pn = node_find_locked(fs, NK_PART, tname, pk, NULL)) && attr_take(pn))
		attr[1] = pn->ino;
	in = node_find_locked(fs, NK_ITEM, tname, pk, sk);
	if (!item) {
		fuse_ino_t dir = has_sk ? (pn ? pn->ino : 0) : tn->ino;

		if (in) {
			in->ver++;
			if (attr_take(in))
				attr[2] = in->ino; /* a stat through a cached entry asks us */
			node_unhash_locked(fs, in);
			if (dir && !by_origin(dir, leaf_name(&nm)))
				inval_entry_async(fs, dir, leaf_name(&nm));
		}
		if (has_sk && pn && !pn->pinned && !pn->kids.n)
			inval_part_async(fs, tn->ino, tname, pk, nm.pk_name);
	} else {
		fuse_ino_t dir = has_sk ? (pn ? pn->ino : 0) : tn->ino;

		if (in) {
			in->ver++;
			/* the creating handle's commit: the CREATE's attributes,
			 * applied unchecked, whatever the note says */
			if (attr_take(in) || in == fsx_made_commit)
				attr[2] = in->ino;
			idir = dir;
			/* Items have no pages (direct I/O), but this second,
			 * later invalidation, which the call waits for, is kept:
			 * without it t_visibility saw 2 stale sizes in 12,000
			 * rounds under load (CI), with it none in many runs.
			 * Not for a created item committed by its creating
			 * handle, if it served no READ (header). */
			if (in == fsx_made_commit &&
			    !__atomic_load_n(&in->paged, __ATOMIC_SEQ_CST))
				made = in; /* a reference: the committing handle's */
			else
				inval_data_async(fs, in);
		}
		/* even with a node: a lookup may have answered "absent" while
		 * an old node of the name was still hashed */
		if (dir && neg_maybe(fs, dir) && names_of(&nm) && neg_take(fs, dir, leaf_name(&nm)))
			inval_entry_async(fs, dir, leaf_name(&nm));
	}
	if (item && has_sk && !pn && neg_maybe(fs, tn->ino) && names_of(&nm) &&
	    neg_take(fs, tn->ino, nm.pk_name))
		inval_entry_async(fs, tn->ino, nm.pk_name);
	tn->refs--;
	node_maybe_free_locked(fs, tn);
	pthread_mutex_unlock(&fs->ilock);
	for (i = 0; i < 2; i++)
		if (attr[i])
			dirs_add(fs, dirs, attr[i]); /* fsx_observe invalidates them */
	/* No inode for a node of a present item: a lookup or readdirplus
	 * reply read before this change may be on its way to make it (fsx.h).
	 * Dropping the name waits for that request's directory lock, so the
	 * inode it makes is dropped with its old attributes. */
	fsx_delay("obs");
	rc = attr[2] ? inval_attr_taken(fs, attr[2]) : 0;
	fsx_trace("OBS %s ino %lu rc %d", item ? "put" : "del", (unsigned long)attr[2], rc);
	if (rc == -ENOENT && item && idir && names_of(&nm))
		inval_entry_async(fs, idir, leaf_name(&nm));
	if (made && rc != 0) { /* the open file holds its inode: never so far */
		pthread_mutex_lock(&fs->ilock);
		inval_data_async(fs, made);
		pthread_mutex_unlock(&fs->ilock);
	}
	return;
out:
	node_put(fs, tn);
}

/* A table was dropped: its nodes stop standing for anything (ilock held). */
static void drop_nodes_locked(struct fsx *fs, const char *tname)
{
	struct node **v = NULL, **nv;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < fs->id_cap; i++) {
		struct node *x;

		for (x = fs->id_tab[i]; x; x = x->id_next) {
			if (strcmp(x->tname, tname))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto unhash;
				v = nv;
			}
			x->refs++;
			v[n++] = x;
		}
	}
unhash:
	for (i = 0; i < n; i++)
		node_unhash_locked(fs, v[i]);
	for (i = 0; i < n; i++)
		node_put_locked(fs, v[i]);
	free(v);
}

static void on_table(struct fsx *fs, const struct db_change *ch)
{
	char name[NAME_BUF];
	struct node *tn, *sn;
	fuse_ino_t attr[2] = {0, 0};
	size_t i;

	if (name_make_str(ch->table, strlen(ch->table), name) < 0)
		return;
	__atomic_add_fetch(&fs->chg, 1, __ATOMIC_SEQ_CST); /* fsx_changed_since */
	pthread_mutex_lock(&fs->ilock);
	switch (ch->kind) {
	case DB_CH_CREATE_TABLE:
		fs->root_mtime_ns = fsx_now_ns();
		if (neg_take(fs, FSX_ROOT_INO, name))
			inval_entry_async(fs, FSX_ROOT_INO, name);
		attr[0] = FSX_ROOT_INO;
		break;
	case DB_CH_DROP_TABLE:
		fs->root_mtime_ns = fsx_now_ns();
		drop_nodes_locked(fs, ch->table);
		inval_entry_async(fs, FSX_ROOT_INO, name);
		attr[0] = FSX_ROOT_INO;
		break;
	case DB_CH_SET_SCHEMA:
		tn = node_find_locked(fs, NK_TABLE, ch->table, NULL, NULL);
		if (tn) {
			attr[0] = tn->ino;
			tn->refs++;
			/* pinned partitions had keys of the old schema */
			while (tn->npins) {
				struct node *pn = tn->pins[0];

				if (name_make(&pn->pk, false, name) >= 0)
					inval_entry_async(fs, tn->ino, name);
				node_unpin_locked(fs, pn);
			}
			node_put_locked(fs, tn);
		}
		sn = node_find_locked(fs, NK_SCHEMA, ch->table, NULL, NULL);
		if (sn) {
			sn->ver++;
			attr[1] = sn->ino;
			inval_data_async(fs, sn);
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&fs->ilock);
	for (i = 0; i < 2; i++)
		if (attr[i])
			inval_attr_now(fs, attr[i]);
}

void fsx_observe(void *ctx, const struct db_change *ch, size_t n)
{
	struct fsx *fs = ctx;
	struct dirs dirs = {.n = 0};
	size_t i;

	for (i = 0; i < n; i++) {
		switch (ch[i].kind) {
		case DB_CH_PUT: /* the key, where db_apply gives it with the item */
			on_item(fs, ch[i].table, ch[i].item, ch[i].pk, ch[i].pk ? ch[i].sk : NULL,
				&dirs);
			break;
		case DB_CH_DELETE:
			on_item(fs, ch[i].table, NULL, ch[i].pk, ch[i].sk, &dirs);
			break;
		default:
			dirs_flush(fs, &dirs); /* in order with the table's own */
			on_table(fs, &ch[i]);
			break;
		}
	}
	dirs_flush(fs, &dirs);
	nodes_reap(fs);
	if (!fsx_fuse_worker)
		inval_settle(fs); /* an API thread: nothing of the kernel's is held */
}
