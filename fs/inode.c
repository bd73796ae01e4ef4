/*
 * inode.c - the node table: inode numbers, lookup counts, identities
 * (the sorted lists of pins and scratch children are in kids.c).
 *
 * Two hash tables under fsx.ilock: ino -> node for every node, and
 * identity -> node for nodes that stand for a database object.  The
 * identity of a node is (kind, table name, pk, sk); the table id (never
 * reused by the engine) is kept next to it, so that a table dropped and
 * created again under the same name gets new inodes.
 *
 * Inode numbers are never reused within a mount for another object, so
 * the generation is the same for all of them: the mount's start time,
 * which differs from one mount to the next (what NFS export needs).
 *
 * Stable inode numbers.  The kernel forgets an inode nothing holds open
 * (memory pressure, a drop_caches, a lookup that failed: editors hold no
 * descriptor between saves), and the next lookup of the name makes a new
 * node.  An item or _schema.json that was opened gets its old number
 * back then, so that the file keeps its st_ino across its saves: nano
 * refuses to save over a file whose inode number changed ("File was
 * modified since you opened it"), taking it for another file put in its
 * place.  The numbers of the INO_KEPT forgotten files opened last are
 * kept by identity (and table id: a table made again gets new numbers)
 * in a direct-mapped table (384 KB, made at the first such forget, each
 * used slot with a copy of its file's key); a number is given back only
 * to the identity it was kept for (the slot is chosen by a hash, which
 * two keys may share) and while no live node has it, and a file whose
 * slot was taken by another gets a new number, as every node did before.
 *
 * Lifetime.  A node lives while the kernel references it (nlookup), while
 * a request or handle holds a temporary reference (refs), and while it
 * holds state the kernel may ask for again: scratch children, a pin (an
 * empty partition made by mkdir or left by unlink), pins of its
 * partitions (table), or a directory entry naming it (scratch).  A node
 * that is removed from the identity hash (its object was deleted, its
 * table dropped) keeps its inode number for the kernel's sake but holds
 * nothing alive.
 *
 * Nodes hold a table reference; closing it is an engine call, which must
 * not happen under ilock, so freed nodes leave their reference on a list
 * that nodes_reap() closes after the lock is released.
 *
 * Memory.  `ls -l` of a big directory makes one node per entry, which the
 * kernel forgets later in large FORGET batches; after every
 * NODES_TRIM_EVERY nodes freed, malloc_trim() hands the freed pages back
 * to the system (glibc keeps them otherwise: issue 11 item 7).  While the
 * kernel holds them, a node is one allocation: its table name is the
 * table reference's own (be_table_name, valid while the node holds the
 * reference), and the bytes of an S or B key are placed after the
 * struct (key_inline) instead of in a malloc each -- an item node of a
 * partition was four allocations (node, table name, pk, sk).  A node
 * whose key changes (node_become: rename) takes heap copies.  The node
 * itself comes from nodemem.c (2 MB chunks backed by a huge page where
 * the kernel has one, given back when empty), not from malloc: a listing
 * after the kernel forgot the last one page-faulted once per dozen nodes
 * (the larger part of ls -l's time in the daemon).
 *
 * node_ident hashes the identity once and takes the node's table
 * reference from the table it was given (be_table_dup), not by name.
 */
#include "ops.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODES_TRIM_EVERY 4096 /* nodes freed between malloc_trim() calls */
#define INO_KEPT (1u << 14)	/* forgotten opened files whose number is kept */

/* A forgotten file's inode number (fsx.kept). */
struct ino_kept {
	uint64_t key;	      /* kept_key of its identity; 0: free */
	fuse_ino_t ino;	      /* its number */
	struct kept_id *id;   /* its identity, compared before the number is
			       * given back (the key is only a hash) */
};

/* A forgotten file's identity: kind, table id, key (copies). */
struct kept_id {
	enum node_kind kind;
	uint64_t tid;
	struct val pk, sk;
};

static unsigned nodes_freed; /* since the last malloc_trim (atomic) */

int64_t fsx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- hashing ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t val_hash(uint64_t h, const struct val *v)
{
	char buf[NUM_TEXT_MAX];
	unsigned char t;
	size_t n;

	if (!v || v->type == VAL_NULL)
		return mix(h, "", 1);
	t = (unsigned char)v->type;
	h = mix(h, &t, 1);
	if (v->type == VAL_N) {
		n = num_format(&v->n, buf);
		return mix(h, buf, n);
	}
	if (v->type == VAL_S || v->type == VAL_B)
		return mix(h, v->s.p, v->s.len);
	return h;
}

static uint64_t ident_hash(enum node_kind kind, const char *tname, const struct val *pk,
			   const struct val *sk)
{
	unsigned char k = (unsigned char)kind;
	uint64_t h = mix(0xcbf29ce484222325ULL, &k, 1);

	h = mix(h, tname, strlen(tname) + 1);
	h = val_hash(h, pk);
	return val_hash(h, sk);
}

static bool key_eq(const struct val *a, const struct val *b)
{
	bool an = !a || a->type == VAL_NULL, bn = !b || b->type == VAL_NULL;

	if (an || bn)
		return an == bn;
	return a->type == b->type && val_equal(a, b);
}

/* ---- the two tables ---- */

static int grow(struct node ***tab, size_t *cap, bool by_ino)
{
	size_t ncap = *cap ? *cap * 2 : 1024, i;
	struct node **nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (i = 0; i < *cap; i++) {
		struct node *n = (*tab)[i], *next;

		for (; n; n = next) {
			size_t b;

			if (by_ino) {
				next = n->ino_next;
				b = n->ino & (ncap - 1);
				n->ino_next = nt[b];
			} else {
				next = n->id_next;
				b = n->id_hash & (ncap - 1);
				n->id_next = nt[b];
			}
			nt[b] = n;
		}
	}
	free(*tab);
	*tab = nt;
	*cap = ncap;
	return 0;
}

static struct node *ino_find(struct fsx *fs, fuse_ino_t ino)
{
	struct node *n = fs->ino_tab[ino & (fs->ino_cap - 1)];

	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

static int ino_insert(struct fsx *fs, struct node *n)
{
	size_t b;

	if (fs->nnodes >= fs->ino_cap && grow(&fs->ino_tab, &fs->ino_cap, true) < 0)
		return -ENOMEM;
	b = n->ino & (fs->ino_cap - 1);
	n->ino_next = fs->ino_tab[b];
	fs->ino_tab[b] = n;
	fs->nnodes++;
	return 0;
}

static void ino_remove(struct fsx *fs, struct node *n)
{
	struct node **pp = &fs->ino_tab[n->ino & (fs->ino_cap - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->ino_next;
	if (*pp) {
		*pp = n->ino_next;
		fs->nnodes--;
	}
}

/* ---- stable inode numbers (see the header) ---- */

static bool ino_kept_kind(enum node_kind kind)
{
	return kind == NK_ITEM || kind == NK_SCHEMA;
}

uint64_t ino_kept_test_key;

/* The key of an identity hashing to h in the table of id tid (not 0). */
static uint64_t kept_key(uint64_t h, uint64_t tid)
{
	uint64_t k = h ^ (tid * 0x9e3779b97f4a7c15ULL);

	if (ino_kept_test_key)
		return ino_kept_test_key; /* every identity collides (tests) */

	return k ? k : 1;
}

static void kept_clear(struct ino_kept *e)
{
	if (e->id) {
		val_free(&e->id->pk);
		val_free(&e->id->sk);
		free(e->id);
		e->id = NULL;
	}
	e->key = 0;
}

/* n is being freed: keep its number if it is an opened file's. */
static void ino_keep_locked(struct fsx *fs, struct node *n)
{
	struct ino_kept *e;
	struct kept_id *id;
	uint64_t k;

	if (!n->hashed || !n->opened || !ino_kept_kind(n->kind))
		return;
	if (!fs->kept && !(fs->kept = calloc(INO_KEPT, sizeof(*fs->kept))))
		return; /* it gets a new number, as before */
	k = kept_key(n->id_hash, n->tid);
	e = &fs->kept[k % INO_KEPT];
	kept_clear(e);
	if (!(id = calloc(1, sizeof(*id))))
		return;
	id->kind = n->kind;
	id->tid = n->tid;
	val_init_null(&id->pk);
	val_init_null(&id->sk);
	if (val_copy(&id->pk, &n->pk) < 0 || val_copy(&id->sk, &n->sk) < 0) {
		val_free(&id->pk);
		free(id);
		return;
	}
	e->id = id;
	e->key = k;
	e->ino = n->ino;
}

/* Number n, a new node whose identity hashes to h: the number its file
 * had when the kernel forgot it, if kept and not in use (and then it
 * counts as opened: kept again), else a new one. */
static void ino_give_locked(struct fsx *fs, struct node *n, uint64_t h)
{
	uint64_t k = kept_key(h, n->tid);
	struct ino_kept *e = fs->kept && ino_kept_kind(n->kind) ? &fs->kept[k % INO_KEPT] : NULL;

	if (e && e->key == k && e->id->kind == n->kind && e->id->tid == n->tid &&
	    key_eq(&e->id->pk, &n->pk) && key_eq(&e->id->sk, &n->sk) && !ino_find(fs, e->ino)) {
		kept_clear(e);
		n->ino = e->ino;
		n->opened = true;
		return;
	}
	n->ino = fs->next_ino++;
}

/* Insert n, whose identity hashes to h. */
static int id_insert_hashed(struct fsx *fs, struct node *n, uint64_t h)
{
	size_t b;

	if (fs->nid >= fs->id_cap && grow(&fs->id_tab, &fs->id_cap, false) < 0)
		return -ENOMEM;
	n->id_hash = h;
	b = n->id_hash & (fs->id_cap - 1);
	n->id_next = fs->id_tab[b];
	fs->id_tab[b] = n;
	fs->nid++;
	n->hashed = true;
	return 0;
}

static int id_insert(struct fsx *fs, struct node *n)
{
	return id_insert_hashed(fs, n, ident_hash(n->kind, n->tname, &n->pk, &n->sk));
}

/* The node of an identity that hashes to h, or NULL. */
static struct node *find_hashed_locked(struct fsx *fs, uint64_t h, enum node_kind kind,
				       const char *tname, const struct val *pk,
				       const struct val *sk)
{
	struct node *n = fs->id_cap ? fs->id_tab[h & (fs->id_cap - 1)] : NULL;

	for (; n; n = n->id_next)
		if (n->id_hash == h && n->kind == kind && !strcmp(n->tname, tname) &&
		    key_eq(&n->pk, pk) && key_eq(&n->sk, sk))
			return n;
	return NULL;
}

struct node *node_find_locked(struct fsx *fs, enum node_kind kind, const char *tname,
			      const struct val *pk, const struct val *sk)
{
	return find_hashed_locked(fs, ident_hash(kind, tname, pk, sk), kind, tname, pk, sk);
}

static void unpin_all_locked(struct fsx *fs, struct node *tn)
{
	size_t i, n = tn->npins;
	struct node **p = tn->pins;

	tn->pins = NULL;
	tn->npins = tn->pins_cap = 0;
	for (i = 0; i < n; i++) {
		p[i]->pinned = false;
		node_maybe_free_locked(fs, p[i]);
	}
	free(p);
}

/*
 * Never frees n, so a caller may go on using it (and must call
 * node_maybe_free_locked if it held no reference).  Unpinning a partition
 * would otherwise free it: a pinned partition is kept by its pin alone
 * once the kernel forgot it (no lookups, no references), and
 * node_unpin_locked frees what nothing keeps -- in the middle of this
 * function, which then unlinked and marked freed memory (node_ident's
 * stale-table path: a table dropped and made again before the observer
 * unhashed its nodes; node_become's replaced node).  The temporary
 * reference below keeps n until the end.
 */
void node_unhash_locked(struct fsx *fs, struct node *n)
{
	struct node **pp;

	if (!n->hashed)
		return;
	if (n->kind == NK_PART && n->pinned) {
		n->refs++;
		node_unpin_locked(fs, n);
		n->refs--;
	}
	pp = &fs->id_tab[n->id_hash & (fs->id_cap - 1)];
	while (*pp && *pp != n)
		pp = &(*pp)->id_next;
	if (*pp) {
		*pp = n->id_next;
		fs->nid--;
	}
	n->hashed = false;
	if (n->kind == NK_TABLE)
		unpin_all_locked(fs, n);
}

/* ---- allocation and freeing ---- */

/* Whether key v can be copied inline: S, B, N (or none); a view's
 * coordinates (NK_QUERY's "where": a list) are copied to the heap. */
static bool key_flat(const struct val *v)
{
	return !v || v->type == VAL_NULL || v->type == VAL_S || v->type == VAL_B ||
	       v->type == VAL_N;
}

/* Bytes an inline copy of key v takes after the node (key_inline). */
static size_t key_extra(const struct val *v)
{
	return v && (v->type == VAL_S || v->type == VAL_B) ? v->s.len + 1 : 0;
}

/* Copy key v into *to, its bytes (if any) at *at, which advances. */
static void key_put_inline(struct val *to, const struct val *v, char **at)
{
	if (!v || v->type == VAL_NULL) {
		val_init_null(to);
		return;
	}
	*to = *v; /* N, BOOL: no pointers */
	if (v->type == VAL_S || v->type == VAL_B) {
		memcpy(*at, v->s.p, v->s.len + 1);
		to->s.p = *at;
		*at += v->s.len + 1;
	}
}

static void key_free(struct node *n)
{
	if (!n->key_inline) {
		val_free(&n->pk);
		val_free(&n->sk);
	}
	val_init_null(&n->pk);
	val_init_null(&n->sk);
	n->key_inline = false;
}

/* A new node with `extra` bytes after the struct (inline key bytes). */
static struct node *node_alloc_locked(struct fsx *fs, enum node_kind kind, fuse_ino_t ino,
				      size_t extra)
{
	bool slab;
	struct node *n = nodemem_alloc(sizeof(*n) + extra, &slab);

	if (!n)
		return NULL;
	n->slab = slab;
	n->ino = ino ? ino : fs->next_ino++;
	n->kind = kind;
	n->ver = 1;
	n->ctime_ns = fsx_now_ns();
	val_init_null(&n->pk);
	val_init_null(&n->sk);
	if (ino_insert(fs, n) < 0) {
		nodemem_free(n, n->slab);
		return NULL;
	}
	return n;
}

static bool retained(struct node *n)
{
	if (n == NULL)
		return false;
	if (n->kind == NK_ROOT || n->kind == NK_ERRORS || n->kind == NK_TX)
		return true;
	if (n->kind == NK_SCRATCH)
		return n->scr && n->scr->nlink > 0;
	return n->hashed && (n->kids.n || n->pinned || n->npins);
}

static void free_kids_locked(struct fsx *fs, struct kids *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		struct node *c = k->v[i].node;

		free(k->v[i].name);
		if (c->scr && c->scr->nlink)
			c->scr->nlink--;
		node_maybe_free_locked(fs, c);
	}
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static void bury_table(struct fsx *fs, be_table_t *t)
{
	if (!t)
		return;
	if (fs->ndead == fs->dead_cap) {
		size_t ncap = fs->dead_cap ? fs->dead_cap * 2 : 16;
		be_table_t **nd = realloc(fs->dead, ncap * sizeof(*nd));

		if (!nd)
			return; /* leaks one reference; the table outlives the mount */
		fs->dead = nd;
		fs->dead_cap = ncap;
	}
	fs->dead[fs->ndead++] = t;
}

static void bury_dir(struct fsx *fs, struct node *n)
{
	if (n->kind != NK_TABLE && n->kind != NK_PART &&
	    !(n->kind == NK_SCRATCH && n->scr && S_ISDIR(n->scr->mode)))
		return;
	if (fs->ndead_dirs == fs->dead_dirs_cap) {
		size_t ncap = fs->dead_dirs_cap ? fs->dead_dirs_cap * 2 : 64;
		fuse_ino_t *nd = realloc(fs->dead_dirs, ncap * sizeof(*nd));

		if (!nd)
			return; /* its negative entries stay until the set is swept */
		fs->dead_dirs = nd;
		fs->dead_dirs_cap = ncap;
	}
	fs->dead_dirs[fs->ndead_dirs++] = n->ino;
}

void node_maybe_free_locked(struct fsx *fs, struct node *n)
{
	if (n->nlookup || n->refs || retained(n))
		return;
	bury_dir(fs, n);
	ino_keep_locked(fs, n);
	node_unhash_locked(fs, n);
	ino_remove(fs, n);
	free_kids_locked(fs, &n->kids);
	free(n->pins);
	if (n->scr)
		scratch_unref_locked(n->scr);
	key_free(n);
	bury_table(fs, n->table); /* n->tname is its name: gone with it */
	free(n->seen);
	if (!n->slab) /* nodemem's chunks are given back by nodemem */
		__atomic_add_fetch(&nodes_freed, 1, __ATOMIC_RELAXED);
	nodemem_free(n, n->slab);
}

void nodes_reap(struct fsx *fs)
{
	fuse_ino_t *dirs;
	be_table_t **dead;
	size_t n, nd, i;

	pthread_mutex_lock(&fs->ilock);
	dead = fs->dead;
	n = fs->ndead;
	fs->dead = NULL;
	fs->ndead = fs->dead_cap = 0;
	dirs = NULL;
	nd = 0;
	if (fs->ndead_dirs >= 64) { /* batch: each batch scans the set once */
		dirs = fs->dead_dirs;
		nd = fs->ndead_dirs;
		fs->dead_dirs = NULL;
		fs->ndead_dirs = fs->dead_dirs_cap = 0;
	}
	pthread_mutex_unlock(&fs->ilock);
	for (i = 0; i < n; i++)
		be_table_close(dead[i]);
	free(dead);
	if (nd)
		neg_forget_parents(fs, dirs, nd);
	free(dirs);
}

struct node *node_new_plain(struct fsx *fs, enum node_kind kind, fuse_ino_t parent, be_table_t *t)
{
	be_table_t *ref = NULL;
	struct node *n;

	if (t && (be_table_open(fs->be, be_table_name(t), &ref, NULL) < 0 ||
		  be_table_id(ref) != be_table_id(t))) {
		be_table_close(ref);
		return NULL;
	}
	pthread_mutex_lock(&fs->ilock);
	n = node_alloc_locked(fs, kind, 0, 0);
	if (n) {
		n->parent = parent;
		n->refs = 1;
		n->table = ref;
		n->tname = ref ? be_table_name(ref) : NULL;
		n->tid = t ? be_table_id(t) : 0;
		ref = NULL;
	}
	pthread_mutex_unlock(&fs->ilock);
	be_table_close(ref);
	return n;
}

/* ---- public entry points ---- */

int nodes_init(struct fsx *fs)
{
	pthread_mutex_init(&fs->ilock, NULL);
	fs->next_ino = FSX_ROOT_INO + 1;
	if (grow(&fs->ino_tab, &fs->ino_cap, true) < 0 ||
	    grow(&fs->id_tab, &fs->id_cap, false) < 0)
		return -ENOMEM;
	fs->root = node_alloc_locked(fs, NK_ROOT, FSX_ROOT_INO, 0);
	fs->errors = node_alloc_locked(fs, NK_ERRORS, 0, 0);
	fs->tx = node_alloc_locked(fs, NK_TX, 0, 0);
	if (!fs->root || !fs->errors || !fs->tx)
		return -ENOMEM;
	fs->root->parent = fs->errors->parent = fs->tx->parent = FSX_ROOT_INO;
	fs->root_mtime_ns = fsx_now_ns();
	return 0;
}

void nodes_fini(struct fsx *fs)
{
	size_t i, j;

	/* The kernel has forgotten everything: free wholesale. */
	for (i = 0; i < fs->ino_cap; i++) {
		struct node *n = fs->ino_tab[i], *next;

		for (; n; n = next) {
			next = n->ino_next;
			for (j = 0; j < n->kids.n; j++)
				free(n->kids.v[j].name);
			free(n->kids.v);
			free(n->pins);
			key_free(n);
			if (n->table)
				be_table_close(n->table);
			if (n->scr) {
				n->scr->refs = 1;
				scratch_unref_locked(n->scr);
			}
			free(n->seen);
			nodemem_free(n, n->slab);
		}
	}
	for (i = 0; i < fs->ndead; i++)
		be_table_close(fs->dead[i]);
	free(fs->dead);
	free(fs->dead_dirs);
	free(fs->ino_tab);
	free(fs->id_tab);
	if (fs->kept)
		for (i = 0; i < INO_KEPT; i++)
			kept_clear(&fs->kept[i]);
	free(fs->kept);
	fs->kept = NULL;
	pthread_mutex_destroy(&fs->ilock);
}

struct node *node_get(struct fsx *fs, fuse_ino_t ino)
{
	struct node *n;

	pthread_mutex_lock(&fs->ilock);
	n = ino_find(fs, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&fs->ilock);
	return n;
}

void node_put_locked(struct fsx *fs, struct node *n)
{
	if (n && n->refs) {
		n->refs--;
		node_maybe_free_locked(fs, n);
	}
}

/* Whether nodes_reap() has work (ilock held). */
static bool reap_due(struct fsx *fs)
{
	return fs->ndead || fs->ndead_dirs >= 64;
}

/* After many nodes were freed (outside ilock): see "Memory" above. */
static void maybe_trim(void)
{
	if (__atomic_load_n(&nodes_freed, __ATOMIC_RELAXED) >= NODES_TRIM_EVERY &&
	    __atomic_exchange_n(&nodes_freed, 0, __ATOMIC_RELAXED) >= NODES_TRIM_EVERY)
		malloc_trim(0);
}

size_t nodes_count(struct fsx *fs)
{
	size_t n;

	pthread_mutex_lock(&fs->ilock);
	n = fs->nnodes;
	pthread_mutex_unlock(&fs->ilock);
	return n;
}

void node_put(struct fsx *fs, struct node *n)
{
	bool reap;

	if (!n)
		return;
	pthread_mutex_lock(&fs->ilock);
	node_put_locked(fs, n);
	reap = reap_due(fs);
	pthread_mutex_unlock(&fs->ilock);
	if (reap)
		nodes_reap(fs);
	maybe_trim();
}

void node_lookup_inc(struct fsx *fs, struct node *n)
{
	pthread_mutex_lock(&fs->ilock);
	n->nlookup++;
	pthread_mutex_unlock(&fs->ilock);
}

void node_forget(struct fsx *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n;
	bool reap;

	pthread_mutex_lock(&fs->ilock);
	n = ino_find(fs, ino);
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		node_maybe_free_locked(fs, n);
	}
	reap = reap_due(fs);
	pthread_mutex_unlock(&fs->ilock);
	if (reap)
		nodes_reap(fs);
	maybe_trim();
}

struct node *node_ident(struct fsx *fs, enum node_kind kind, be_table_t *t, const struct val *pk,
			const struct val *sk, bool create)
{
	const char *tname = be_table_name(t);
	uint64_t tid = be_table_id(t);
	bool flat = key_flat(pk) && key_flat(sk), reap, slab;
	uint64_t h = ident_hash(kind, tname, pk, sk);
	be_table_t *ref = NULL;
	struct node *n, *fresh = NULL;
	char *at;

	pthread_mutex_lock(&fs->ilock);
	n = find_hashed_locked(fs, h, kind, tname, pk, sk);
	if (n && n->tid != tid) {
		node_unhash_locked(fs, n); /* a dropped table's node */
		node_maybe_free_locked(fs, n);
		n = NULL;
	}
	if (n || !create) {
		if (n)
			n->refs++;
		pthread_mutex_unlock(&fs->ilock);
		return n;
	}
	pthread_mutex_unlock(&fs->ilock);

	/* The table reference and the allocation are made outside the lock
	 * (an engine call, an allocation); another thread may win the race, and
	 * then both are given back. */
	if (be_table_dup(t, &ref) < 0 || be_table_id(ref) != tid)
		goto out;
	fresh = nodemem_alloc(sizeof(*fresh) + (flat ? key_extra(pk) + key_extra(sk) : 0), &slab);
	if (!fresh)
		goto out;
	fresh->slab = slab;
	val_init_null(&fresh->pk);
	val_init_null(&fresh->sk);
	if (flat) {
		at = (char *)(fresh + 1);
		key_put_inline(&fresh->pk, pk, &at);
		key_put_inline(&fresh->sk, sk, &at);
		fresh->key_inline = true;
	} else if ((pk && val_copy(&fresh->pk, pk) < 0) || (sk && val_copy(&fresh->sk, sk) < 0)) {
		goto out;
	}
	fresh->kind = kind;
	fresh->ver = 1;
	fresh->ctime_ns = fsx_now_ns();
	fresh->tid = tid;
	fresh->tname = be_table_name(ref);
	fresh->refs = 1;

	pthread_mutex_lock(&fs->ilock);
	n = find_hashed_locked(fs, h, kind, tname, pk, sk);
	if (n && n->tid == tid) {
		n->refs++;
		reap = reap_due(fs);
		pthread_mutex_unlock(&fs->ilock);
		goto out;
	}
	if (n) {
		node_unhash_locked(fs, n);
		node_maybe_free_locked(fs, n);
	}
	n = NULL;
	ino_give_locked(fs, fresh, h);
	if (ino_insert(fs, fresh) == 0) {
		fresh->table = ref;
		ref = NULL;
		if (id_insert_hashed(fs, fresh, h) < 0) {
			fresh->refs = 0;
			node_maybe_free_locked(fs, fresh); /* buries ref */
		} else {
			n = fresh;
		}
		fresh = NULL;
	}
	reap = reap_due(fs);
	pthread_mutex_unlock(&fs->ilock);
	if (reap)
		nodes_reap(fs);
out:
	if (fresh) {
		key_free(fresh);
		nodemem_free(fresh, fresh->slab);
	}
	if (ref)
		be_table_close(ref);
	return n;
}

struct node *node_new_scratch_locked(struct fsx *fs, fuse_ino_t parent)
{
	struct node *n = node_alloc_locked(fs, NK_SCRATCH, 0, 0);

	if (n) {
		n->refs = 1;
		n->parent = parent;
	}
	return n;
}

int node_become_locked(struct fsx *fs, struct node *n, enum node_kind kind, struct node *like,
		       be_table_t **tref, const struct val *pk, const struct val *sk)
{
	struct val cpk, csk;
	struct node *old;
	int rc;

	val_init_null(&cpk);
	val_init_null(&csk);
	if ((pk && val_copy(&cpk, pk) < 0) || (sk && val_copy(&csk, sk) < 0))
		goto nomem;
	if (!n->table && !*tref)
		goto nomem;
	if (n->kind == NK_ITEM)
		item_seen_set_locked(fs, n, 0); /* moved away: no version read */
	node_unhash_locked(fs, n);
	old = node_find_locked(fs, kind, like->tname, &cpk, &csk);
	if (old && old != n) {
		node_unhash_locked(fs, old);
		node_maybe_free_locked(fs, old);
	}
	if (!n->table) {
		n->table = *tref;
		*tref = NULL;
		n->tid = like->tid;
		n->tname = be_table_name(n->table);
	}
	if (n->scr) {
		scratch_unref_locked(n->scr);
		n->scr = NULL;
	}
	n->kind = kind;
	free(n->seen); /* another item now */
	n->seen = NULL;
	n->seen_lost = false;
	key_free(n); /* heap copies from now on */
	val_move(&n->pk, &cpk);
	val_move(&n->sk, &csk);
	n->ver++;
	rc = id_insert(fs, n);
	if (rc == 0 && kind == NK_ITEM)
		item_seen_set_locked(fs, n, 0); /* another item's text now: none read */
	return rc;
nomem:
	val_free(&cpk);
	val_free(&csk);
	return -ENOMEM;
}

int node_key(struct fsx *fs, struct node *n, be_table_t **t, struct val *pk, struct val *sk)
{
	int rc = 0;

	val_init_null(pk);
	val_init_null(sk);
	pthread_mutex_lock(&fs->ilock);
	*t = n->table;
	if (!n->table)
		rc = -ENOENT;
	else if ((n->pk.type != VAL_NULL && val_copy(pk, &n->pk) < 0) ||
		 (n->sk.type != VAL_NULL && val_copy(sk, &n->sk) < 0))
		rc = -ENOMEM;
	pthread_mutex_unlock(&fs->ilock);
	if (rc < 0) {
		val_free(pk);
		val_free(sk);
	}
	return rc;
}
