/*
 * fsx.h - private state of the filesystem layer (private to fs/).
 *
 * The FUSE side of dynfs is built on the low-level (inode) API.  Every
 * inode the kernel knows is a struct node in one table per mount.  Nodes
 * that stand for something in the database (tables, partitions, items,
 * _schema.json) are also kept in an identity hash keyed by
 * (kind, table name, pk, sk), so the same item always has the same inode
 * number while the kernel remembers it, and the database observer can
 * find what the kernel has cached when something changes.  Scratch files
 * (editor and tool temporaries, SPEC §5) are nodes that live only in
 * their parent directory's list of children, like tmpfs.
 *
 * Caching.  Entries and attributes are replied with long timeouts
 * (FSX_TIMEOUT), negative lookups too; correctness comes from
 * invalidation: a db observer (inval.c) sees every change and tells the
 * kernel what became stale.  Attribute-only invalidation cannot block in
 * the kernel (it takes a spinlock), so it is done inline; entry and data
 * invalidation may wait for locks held by requests in flight, so they go
 * to a dedicated thread -- and the call that made the change waits for
 * that thread to have done them before it returns (inval_settle), unless
 * it is a request that holds a directory lock they may need (inval.c).
 *
 * Locking (outer to inner):
 *   1. a handle's lock (struct fh.lock)
 *   2. engine locks (db.h: table and directory rwlocks), held only
 *      inside engine calls; observers and visitors run under or after them
 *   3. fsx.ilock: the node table and every node field marked "ilock"
 *   4. leaf locks: errlog, the invalidation queue, the negative set
 * The filesystem never calls the engine while holding ilock, and waits
 * for the invalidation thread (inval_settle) only from requests that hold
 * no directory lock, and never for longer than FSX_SETTLE_NS.
 */
#ifndef DYNFS_FSX_H
#define DYNFS_FSX_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../backend/backend.h"
#include "../engine/db.h"
#include "../engine/err.h"
#include "../engine/val.h"
#include "name.h"

#define FSX_TIMEOUT 86400.0 /* entry/attr timeout for everything invalidated */
#define FSX_NEG_MAX 65536   /* negative entries remembered for invalidation */
#define FSX_ERRLOG_LINES 1000 /* lines kept in /_errors */
#define FSX_WBUF_MAX (64u << 20) /* largest write buffer of one open file */
#define FSX_SCRATCH_MAX ((size_t)512 << 20) /* default -o scratch_max */
#define FSX_SETTLE_NS 5000000000LL /* longest wait for the invalidation thread */
#define FSX_ROOT_INO FUSE_ROOT_ID

/*
 * What a node stands for.  The kinds after NK_SCRATCH are reserved for
 * the views and control files other modules add; each needs a case in
 * the dispatch points: resolve() (names: the specials of resolve.c and
 * readdir.c), node_attr(), open_node() (handle kinds), and the name
 * operations (ops_dir.c, rename.c), whose default for an unknown kind is
 * to refuse.
 */
enum node_kind {
	NK_ROOT,	/* the mount's root: one directory per table */
	NK_ERRORS,	/* /_errors */
	NK_TABLE,	/* /<table>/ */
	NK_SCHEMA,	/* /<table>/_schema.json */
	NK_PART,	/* /<table>/<pk>/ (tables with a sort key) */
	NK_ITEM,	/* <pk>.json or <pk>/<sk>.json */
	NK_SCRATCH,	/* anything else an editor or tool makes: tmpfs-like */
	NK_STATS,	/* /<table>/_stats.json (stats.c) */
	NK_BATCH,	/* reserved: /<table>/_batch */
	NK_TX,		/* reserved: /_tx */
	NK_INDEX_DIR,	/* /<table>/_index/ (index_view.c) */
	NK_INDEX,	/* /<table>/_index/<index>/: pk = S(index) */
	NK_INDEX_PART,	/* /<table>/_index/<index>/<ipk>/: pk = S(index), sk = ipk */
	NK_INDEX_ENTRY, /* a view entry, a symlink to an item: pk = S(target) */
	NK_QUERY,	/* _query?<params>: pk = where, sk = S(params) (index_view.c) */
	NK_CHANGES,	/* _changes[?since=N]: unhashed, one per lookup (changes.h) */
};

struct node;
struct ino_kept;
/* Test hook: when not 0, every identity's kept-number key (inode.c). */
extern uint64_t ino_kept_test_key;

/* A scratch directory entry. */
struct kid {
	char *name;	    /* owned */
	struct node *node;  /* the child (counted in its scr->nlink) */
};

/* Children of a directory that may hold scratch entries, sorted by name. */
struct kids {
	struct kid *v; /* sorted by strcmp(name) */
	size_t n;      /* used */
	size_t cap;    /* allocated */
};

struct xattr {
	char *name;   /* owned */
	char *value;  /* owned */
	size_t len;   /* of value */
};

/* The data of a scratch node; reference counted so that open handles
 * survive the node becoming an item (scratch -> item rename). */
struct scratch {
	unsigned refs;		   /* ilock: node + open handles */
	mode_t mode;		   /* ilock: type and permissions */
	uid_t uid;		   /* ilock */
	gid_t gid;		   /* ilock */
	dev_t rdev;		   /* ilock: mknod */
	nlink_t nlink;		   /* ilock: directory entries naming it */
	struct timespec atime;	   /* ilock */
	struct timespec mtime;	   /* ilock */
	struct timespec ctime;	   /* ilock */
	char *data;		   /* ilock: file content */
	size_t len;		   /* ilock: file size */
	size_t cap;		   /* ilock: allocated */
	char *target;		   /* ilock: symlink target */
	struct xattr *xa;	   /* ilock: extended attributes */
	size_t nxa;		   /* ilock */
};

/*
 * One per inode the kernel may know: `ls -l` of a big directory makes one
 * per entry, so a node is kept small (fields ordered to leave no holes,
 * the table name borrowed from the table reference, the key's bytes in
 * the same allocation as the node: see inode.c, "Memory").
 */
struct node {
	fuse_ino_t ino;		/* immutable, never reused within a mount for
				 * another object (an opened file forgotten by
				 * the kernel gets its number back: inode.c) */
	uint64_t nlookup;	/* ilock: kernel references */
	enum node_kind kind;	/* ilock (changes only by node_become) */
	unsigned refs;		/* ilock: temporary references (requests, handles) */
	unsigned writers;	/* ilock: open handles that may write */
	unsigned pending;	/* ilock: open handles that created the item */
	unsigned npins;		/* ilock: NK_TABLE: pinned partitions at pins */
	unsigned pins_cap;	/* ilock: allocated at pins */
	bool hashed;		/* ilock: in the identity hash */
	bool pinned;		/* ilock: NK_PART kept without items (mkdir, unlink) */
	bool inval_queued;	/* ilock: a data invalidation is queued */
	bool key_inline;	/* ilock: pk's and sk's bytes live in the node's own
				 * allocation (not val_free'd) */
	bool slab;		/* set once: its memory is nodemem's (nodemem_free) */
	bool opened;		/* ilock: NK_ITEM, NK_SCHEMA: opened (text.c); its
				 * number is kept when it is freed (inode.c) */
	bool seen_lost;		/* ilock: NK_ITEM without a change feed: the version
				 * read is not known, and the item changed since
				 * (commit.c, "Forgotten nodes"): seen is NULL */
	bool paged;		/* __atomic: NK_ITEM: may have pages in the kernel's
				 * cache (served a READ, or was a scratch file) since
				 * its last data invalidation ran (inval.c) */
	bool attr_out;		/* __atomic: attributes were replied with a timeout
				 * since the last attribute invalidation (inval.c,
				 * "Attributes nobody holds") */
	bool attr_sticky;	/* __atomic, set once: a reply the kernel applies
				 * without a version check gave an inode it had
				 * attributes with a timeout: always invalidate */
	uint64_t ver;		/* ilock: bumped on every change to the item */
	int64_t ctime_ns;	/* ilock: creation (pending items, pins) */
	fuse_ino_t parent;	/* ilock: parent directory, for ".." */
	uint64_t id_hash;	/* ilock: hash of the identity */
	struct node *ino_next;	/* ilock: chain in fsx.ino_tab */
	struct node *id_next;	/* ilock: chain in fsx.id_tab */
	be_table_t *table;	/* ref; set once (table-bound kinds), else NULL */
	const char *tname;	/* set once: be_table_name(table), borrowed from the
				 * reference (table-bound kinds), else NULL */
	uint64_t tid;		/* set once: be_table_id(table) */
	struct val pk;		/* ilock: NK_PART, NK_ITEM (VAL_NULL otherwise) */
	struct val sk;		/* ilock: NK_ITEM of a table with a sort key */
	struct kids kids;	/* ilock: scratch children (table, partition, scratch dir) */
	struct node **pins;	/* ilock: NK_TABLE: pinned partitions, by pk */
	struct scratch *scr;	/* ilock: NK_SCRATCH data (one reference) */
	uint64_t since;		/* set once: NK_CHANGES since= (0: none) */
	struct chg *chg;	/* ilock: NK_CHANGES: its latest descriptor */
	char *seen;		/* ilock: NK_ITEM without a change feed (remote):
				 * the text last read or written through this mount,
				 * which a save is conditional on (commit.c); or NULL */
};

/* The negative-entry set: names the kernel caches as absent. */
#define FSX_NEG_DIRS 64 /* buckets of neg_maybe's summary by directory */
struct negset {
	pthread_mutex_t lock;	/* protects the fields below */
	struct neg **tab;	/* hash chains */
	size_t cap;		/* buckets */
	size_t n;		/* entries */
	/* entries per directory hash (lock to change, __atomic seq_cst):
	 * the observer skips a directory with none without the lock or the
	 * entry's name (neg_maybe) */
	unsigned dirs[FSX_NEG_DIRS];
};

/* /_errors: a ring of the last FSX_ERRLOG_LINES lines. */
struct errlog {
	pthread_mutex_t lock;	/* protects the fields below */
	char *line[FSX_ERRLOG_LINES]; /* owned, each ends in '\n' */
	size_t head;		/* index of the oldest line */
	size_t n;		/* lines held */
	size_t bytes;		/* total length of the lines */
	int64_t mtime_ns;	/* time of the last line */
	bool to_syslog;		/* daemonized: log to syslog instead of stderr */
	char *last_once;	/* errlog_err_once: the last such line's text (owned) */
	int64_t last_once_ns;	/* and when it was added */
};

/* The invalidation queue and its thread. */
struct inval {
	pthread_mutex_t lock;	/* protects the fields below */
	pthread_cond_t cond;	/* signalled on enqueue and stop */
	pthread_cond_t done_cond; /* signalled when done advances */
	uint64_t seq;		/* ticket of the last entry queued */
	uint64_t done;		/* every ticket up to this one is done */
	struct inv *head;	/* FIFO */
	struct inv *tail;
	bool stop;		/* thread should exit */
	bool running;		/* thread was started */
	pthread_t thread;
};

struct fsx {
	be_t *be;		 /* immutable after startup: the backend face */
	struct fuse_session *se; /* immutable after mount */
	char *store_dir;	 /* immutable: for statfs (NULL: no local store) */
	bool readonly;		/* -o ro */
	bool kernel_perms;	/* -o default_permissions (allow_other, allow_root):
				 * the kernel checks permissions, else perm.c */
	double timeout;		/* entry/attr timeout: FSX_TIMEOUT, or for a backend
				 * that sees only its own changes (remote) -o cache= */
	bool noxattr;		/* no extended attributes at all (the default;
				 * -o xattr: scratch files have them) */
	bool debug;		/* -d */
	uid_t uid;		/* owner of everything but scratch files */
	gid_t gid;
	uint64_t gen;		/* generation of every inode of this mount */
	int64_t start_ns;	/* mount time */

	pthread_mutex_t ilock;	/* the node table and node fields marked ilock */
	struct node **ino_tab;	/* ilock: ino -> node */
	size_t ino_cap;		/* ilock: buckets (power of two) */
	size_t nnodes;		/* ilock */
	struct node **id_tab;	/* ilock: identity -> node (hashed nodes) */
	size_t id_cap;		/* ilock */
	size_t nid;		/* ilock */
	uint64_t next_ino;	/* ilock */
	struct node *root;	/* immutable */
	struct node *errors;	/* immutable: /_errors */
	struct node *tx;	/* immutable: /_tx (ctl.h) */
	int64_t root_mtime_ns;	/* ilock: last table create/drop */
	uint64_t chg;		/* atomic: changes the observer has begun (inval.c) */
	be_table_t **dead;	/* ilock: table refs of freed nodes, closed
				   outside ilock by nodes_reap() */
	size_t ndead;		/* ilock */
	size_t dead_cap;	/* ilock */
	struct ino_kept *kept;	/* ilock: inode numbers of forgotten opened
				 * files by identity (inode.c), made at first
				 * use; or NULL */
	fuse_ino_t *dead_dirs;	/* ilock: freed directories, whose negative
				   entries nodes_reap() forgets */
	size_t ndead_dirs;	/* ilock */
	size_t dead_dirs_cap;	/* ilock */

	struct negset neg;	/* own lock */
	struct vtimes *vtimes;	/* ilock (the pointer; own lock inside): item
				 * times without BE_CAP_ITEM_TIMES (mtime.c),
				 * made at first use; or NULL */
	struct errlog errlog;	/* own lock */
	struct inval inval;	/* own lock */
	struct chg_hub *changes; /* own locks: /_changes readers (changes.h) */
	/* -o api=: the API's request counts of a table, appended to its
	 * _stats.json (api_table_stats).  api_ctx is set before api_stats,
	 * which is stored and loaded atomically; NULL without the API. */
	int (*api_stats)(void *ctx, const char *table, char **out);
	void *api_ctx;
};

/* This thread is one of the FUSE loop's workers (set by fsx_of). */
extern __thread bool fsx_fuse_worker;

/*
 * The name this FUSE request removes itself (op_unlink, around its
 * be_delete): the kernel drops that dentry on the reply (d_delete), so
 * the observer queues no entry invalidation for it.  The parent's
 * attributes are still invalidated (inval.c, "What the kernel does
 * itself").  Any other change -- another name, another directory,
 * _batch, _tx, rename, the API server -- is invalidated as always.
 */
struct fsx_origin {
	fuse_ino_t dir;	  /* the request's directory */
	const char *name; /* the name it removes */
};
extern __thread const struct fsx_origin *fsx_origin;

/*
 * The node whose item the handle that created it is committing in this
 * thread (text_commit at a flush or fsync, the file still open; not at
 * release), or NULL.  Its commit needs no data
 * invalidation through the thread if the node served no READ
 * (node.paged): inval.c, "A created item's first commits".  A
 * thread-local is right only because the engine calls the observer
 * synchronously, in the committing thread (db_apply); an observer run
 * elsewhere would have to be told by the change itself.
 */
extern __thread const struct node *fsx_made_commit;

/* The one accessor for per-mount state; every request handler calls it
 * first, which marks the thread as a FUSE worker (inval.c). */
static inline struct fsx *fsx_of(fuse_req_t req)
{
	fsx_fuse_worker = true;
	return fuse_req_userdata(req);
}

int64_t fsx_now_ns(void);

/* ---- inode.c: the node table ---- */

/* Zeroed memory for a node of `size` bytes; *slab says whose it is
 * (nodemem.c), for nodemem_free. */
void *nodemem_alloc(size_t size, bool *slab);
void nodemem_free(void *p, bool slab);
int nodes_init(struct fsx *fs);
void nodes_fini(struct fsx *fs);
/* The node for ino with a temporary reference (node_put), or NULL. */
struct node *node_get(struct fsx *fs, fuse_ino_t ino);
void node_put(struct fsx *fs, struct node *n);
void node_put_locked(struct fsx *fs, struct node *n);
/*
 * Find (or, if create, make) the node of a database object, with a
 * temporary reference.  t is borrowed (the node takes its own reference).
 * NULL on allocation failure or (create false) when absent.
 */
struct node *node_ident(struct fsx *fs, enum node_kind kind, be_table_t *t, const struct val *pk,
			const struct val *sk, bool create);
/* The same, under ilock, by table name (no new node). */
struct node *node_find_locked(struct fsx *fs, enum node_kind kind, const char *tname,
			      const struct val *pk, const struct val *sk);
/* Close the table references of freed nodes (call without ilock). */
void nodes_reap(struct fsx *fs);
/*
 * A new node of kind that is in no hash and no directory (NK_CHANGES),
 * with one temporary reference, child of parent, bound to table t (a
 * reference is taken) or to none.  NULL on allocation failure.
 */
struct node *node_new_plain(struct fsx *fs, enum node_kind kind, fuse_ino_t parent, be_table_t *t);
/* A new scratch node (ilock held), with one temporary reference. */
struct node *node_new_scratch_locked(struct fsx *fs, fuse_ino_t parent);
/* Remove from the identity hash (the object is gone or renamed). */
void node_unhash_locked(struct fsx *fs, struct node *n);
/*
 * Turn n into the database object (kind, key of `like`'s table, pk, sk):
 * it replaces whatever node had that identity (rename: the kernel moved
 * n's inode there).  *tref is a table reference for n if it has none yet
 * (taken, and set to NULL, when used).  pk and sk are copied.  ilock held.
 */
int node_become_locked(struct fsx *fs, struct node *n, enum node_kind kind, struct node *like,
		       be_table_t **tref, const struct val *pk, const struct val *sk);
/* The kernel took one more reference (entry replies). */
void node_lookup_inc(struct fsx *fs, struct node *n);
void node_forget(struct fsx *fs, fuse_ino_t ino, uint64_t nlookup);
/* Nodes the mount holds now (every kind; _stats.json's "nodes"). */
size_t nodes_count(struct fsx *fs);
/* Free n if nothing refers to it any more (ilock held). */
void node_maybe_free_locked(struct fsx *fs, struct node *n);
/*
 * Copy the key of n into pk/sk (new; val_free; VAL_NULL when none) and
 * its table (borrowed: valid while the caller holds a reference on n).
 * -ENOMEM; -ENOENT if n is not table-bound.
 */
int node_key(struct fsx *fs, struct node *n, be_table_t **t, struct val *pk, struct val *sk);

/* ---- kids.c: pins and scratch children ---- */

/* Pin / unpin a partition node (ilock held); pins live in the table node. */
int node_pin_locked(struct fsx *fs, struct node *tn, struct node *pn);
void node_unpin_locked(struct fsx *fs, struct node *pn);
/* Pinned partitions of table node tn with pk > after, sorted (ilock held). */
size_t node_pins_after_locked(struct node *tn, const struct val *after, struct node ***first);

/* Children lists (ilock held). */
struct node *kids_find(struct kids *k, const char *name);
int kids_add(struct kids *k, const char *name, struct node *child);
struct node *kids_del(struct kids *k, const char *name);
/* Index of the first child whose name sorts after `after` (NULL: 0). */
size_t kids_after(struct kids *k, const char *after);

/* Scratch data (scratch.c). */
struct scratch *scratch_new(mode_t mode, uid_t uid, gid_t gid);
/* The cap on all scratch data of the mount (startup), and its use (ilock). */
void scratch_set_max(size_t max);
size_t scratch_bytes_locked(void);
void scratch_unref_locked(struct scratch *s);

/* ---- errlog.c: /_errors ---- */

int errlog_init(struct errlog *el);
void errlog_fini(struct errlog *el);
/* Add "<ISO time> <path>: <reason>\n" to /_errors and to the log. */
void errlog_add(struct fsx *fs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same with a dyn_err as the reason. */
void errlog_err(struct fsx *fs, const char *path, const struct dyn_err *e, int rc);
/* errlog_err, unless the same path and reason were added this way in the
 * last FSX_ERRLOG_ONCE_S seconds (the kernel repeats a failed lookup once
 * to revalidate, a retried read takes seconds: one line says it). */
#define FSX_ERRLOG_ONCE_S 10
void errlog_err_once(struct fsx *fs, const char *path, const struct dyn_err *e, int rc);
/* A consistent copy of the whole content (new). */
int errlog_snapshot(struct fsx *fs, char **buf, size_t *len);
size_t errlog_size(struct fsx *fs, int64_t *mtime_ns);
/* Debug and startup messages (stderr, or syslog once daemonized). */
void fsx_log(struct fsx *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- inval.c: keeping the kernel's caches honest ---- */

int inval_init(struct fsx *fs);
int inval_start(struct fsx *fs);
void inval_stop(struct fsx *fs);
void inval_fini(struct fsx *fs);
/* The db observer (db_set_observer(db, fsx_observe, fs)). */
void fsx_observe(void *ctx, const struct db_change *ch, size_t n);
/* Attributes only: safe from any request handler.  0, or -ENOENT when
 * the kernel holds no inode of that number (yet: see below). */
int inval_attr_now(struct fsx *fs, fuse_ino_t ino);
/*
 * n's attributes are about to be read for a reply with a timeout: called
 * before they are read (or, where they were read earlier, before the
 * fsx_changed_since check that makes the reply's timeouts 0), so that a
 * change whose observer comes later invalidates them (inval.c).
 */
void attr_given(struct node *n);
/* Whether the kernel may hold n's attributes with a timeout since the
 * last invalidation; true clears it: the caller invalidates them. */
bool attr_take(struct node *n);
/* Invalidate the attributes of a node whose note attr_take took; when
 * the kernel has no inode of it yet, the note goes back.  As
 * inval_attr_now. */
int inval_attr_taken(struct fsx *fs, fuse_ino_t ino);
/*
 * Lookups and readdirplus race with changes: they read the database,
 * then make a node or a negative entry, then reply; a change whose
 * observer ran in between found nothing to invalidate.  They note
 * fsx_chg() before reading and reply with timeouts 0 if it moved
 * (fsx_changed_since) after making their node or negative entry: a change
 * whose observer starts later sees what they made.  One window is left:
 * after the reply is sent, the kernel makes the inode only when the
 * requester runs again; an attribute invalidation in between finds no
 * inode, and the new inode takes the reply's old attributes.  The
 * observer then invalidates the name's entry as well (inval.c).
 */
static inline uint64_t fsx_chg(struct fsx *fs)
{
	return __atomic_load_n(&fs->chg, __ATOMIC_SEQ_CST);
}
static inline bool fsx_changed_since(struct fsx *fs, uint64_t c0)
{
	return fsx_chg(fs) != c0;
}
/* Queued to the invalidation thread. */
void inval_entry_async(struct fsx *fs, fuse_ino_t parent, const char *name);
/*
 * Wait until the invalidation thread has done everything this thread
 * queued (at most FSX_SETTLE_NS).  Every request that changes the
 * database calls it before replying, unless it holds a directory lock
 * (create, mkdir, mknod, symlink, link, unlink, rmdir, rename: see
 * inval.c); threads that are not FUSE workers never need to, the
 * observer does it for them.
 */
void inval_settle(struct fsx *fs);
void inval_data_async(struct fsx *fs, struct node *n); /* ilock held */
/* Remember a negative reply; false if the set is full (reply timeout 0). */
bool neg_add(struct fsx *fs, fuse_ino_t parent, const char *name);
/* Forget a negative entry; true if it was remembered. */
bool neg_take(struct fsx *fs, fuse_ino_t parent, const char *name);
/*
 * May a negative entry in parent be remembered?  false: none is, nor can
 * one be added that a change made before this call would have to take
 * (reply_negative's check of fsx_changed_since after neg_add, against the
 * observer's bump of the counter before this call: both sides store,
 * then load, sequentially consistent).
 */
bool neg_maybe(struct fsx *fs, fuse_ino_t parent);
/* Forget the negative entries of directories the kernel has forgotten. */
void neg_forget_parents(struct fsx *fs, const fuse_ino_t *dirs, size_t n);

#endif
