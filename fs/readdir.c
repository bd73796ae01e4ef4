/*
 * readdir.c - directory listings that stream (SPEC §2).
 *
 * A listing is a sequence of phases: ".", "..", dynfs's own entries
 * ("_errors", "_schema.json"), scratch entries (by name), and then the
 * database's entries in key order (tables by name, partitions, items).
 * A position in a listing is (phase, last name or key emitted).  The
 * kernel resumes a listing with the offset of the last entry it used, so
 * each directory handle remembers, for the page it sent last, which
 * offset stands for which position (plus the position that page started
 * from, for a page the kernel could not use at all).  Resuming asks the
 * engine for what comes *after* that key (db_list_tables(after),
 * be_list_partitions(after, NULL), tbl_scan/tbl_query with a start key):
 *
 *   - memory is one page per open directory, whatever its size;
 *   - under concurrent inserts and deletes nothing is listed twice
 *     (positions only move forward in key order) and nothing that
 *     existed throughout is skipped.
 *
 * Offsets are a per-handle counter.  An offset from before the last page
 * (seekdir to an old telldir) ends the listing.
 *
 * Partitions made by mkdir exist only in memory (pins, inode.c); they are
 * merged into the engine's partitions in key order.
 *
 * readdirplus returns attributes and counts a lookup for every entry it
 * sends (but "." and "..", sent with inode 0 so the kernel links nothing).
 * d_ino of plain readdir entries is the inode number when the kernel
 * already knows the entry, else a stable number with the top bit set
 * (stat gives the real one).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "trace.h"

enum phase {
	PH_START,   /* before everything */
	PH_DOT,	    /* "." */
	PH_DOTDOT,  /* ".." */
	PH_SPECIAL, /* dynfs's own entries: idx */
	PH_SCRATCH, /* scratch entries: name */
	PH_ENGINE,  /* tables (name) or partitions/items (key); view entries */
	PH_TAIL,    /* dynfs's own entries listed last (_index: see index_view.c): idx */
	PH_END,
};

/* A position: the last entry emitted. */
struct dpos {
	enum phase ph;	 /* its phase */
	int idx;	 /* PH_SPECIAL: index in the specials */
	bool kref;	 /* key's bytes are borrowed from a page's karena */
	char *name;	 /* PH_SCRATCH; PH_ENGINE in the root (owned) */
	struct val key;	 /* PH_ENGINE below the root (owned unless kref) */
};

/*
 * The key bytes of one page's entries, in a few blocks instead of one
 * malloc per entry (an ls -l of 100,000 items made 100,000 of them).
 * Positions of a page borrow from it (dpos.kref); the page's handle keeps
 * it as long as the page.
 */
struct kblock {
	struct kblock *next;
	size_t used, cap;
	char data[];
};

struct karena {
	struct kblock *head; /* the block being filled, then older ones */
};

struct dmark {
	off_t off;	  /* the offset given with the entry */
	struct dpos pos;  /* the entry's position */
};

struct dirh {
	pthread_mutex_t lock; /* protects the fields below */
	struct node *dir;     /* the directory (a reference) */
	off_t last_off;	      /* offsets handed out so far */
	off_t start_off;      /* the offset the last page resumed from */
	struct dpos start;    /* ... and its position */
	struct dmark *page;   /* entries of the last page */
	size_t npage;
	struct karena page_ka; /* the key bytes the page's positions borrow */
	struct dent *dv;      /* room for collecting a page (reused) */
	size_t dcap;	      /* entries at dv */
};

/* One candidate entry.  name last: dl_add clears only what precedes it. */
struct dent {
	struct dpos pos;	/* owned */
	mode_t type;		/* S_IFDIR, S_IFREG, ... */
	fuse_ino_t ino;		/* known inode, or 0 */
	struct node *node;	/* plus: a reference */
	struct item_meta meta;	/* engine items, readdirplus only */
	bool is_item;		/* an engine item (meta valid if plus) */
	char name[NAME_BUF];	/* the name */
};

struct dlist {
	struct dent *v;	  /* entries (the handle's dv) */
	size_t n;	  /* used */
	size_t max;	  /* wanted */
	struct karena ka; /* key bytes of entries with pos.kref */
	bool plus;	  /* readdirplus: entries need their attributes */
};

static const char *const root_specials[] = {"_errors", "_tx", NULL};
static const char *const table_specials[] = {"_schema.json", "_stats.json", "_batch",
						      NULL};
static const char *const table_tail[] = {"_index", NULL};

/* The node kind of one of dynfs's own entries in a table. */
static enum node_kind special_kind(const char *name)
{
	if (!strcmp(name, "_stats.json"))
		return NK_STATS;
	if (!strcmp(name, "_index"))
		return NK_INDEX_DIR;
	if (!strcmp(name, "_batch"))
		return NK_BATCH;
	return NK_SCHEMA;
}

static void *ka_alloc(struct karena *a, size_t len)
{
	struct kblock *b = a->head;
	size_t cap;

	if (!b || b->cap - b->used < len) {
		cap = len > 8192 ? len : 8192;
		if (!(b = malloc(sizeof(*b) + cap)))
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	b->used += len;
	return b->data + b->used - len;
}

static void ka_free(struct karena *a)
{
	struct kblock *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

static void dpos_free(struct dpos *p)
{
	free(p->name);
	p->name = NULL;
	if (p->kref)
		val_init_null(&p->key);
	else
		val_free(&p->key);
	p->kref = false;
	p->ph = PH_START;
}

/* A copy of `from` that owns its bytes. */
static int dpos_copy(struct dpos *to, const struct dpos *from)
{
	*to = *from;
	to->kref = false;
	to->name = NULL;
	val_init_null(&to->key);
	if (from->name && !(to->name = strdup(from->name)))
		return -ENOMEM;
	if (from->key.type != VAL_NULL && val_copy(&to->key, &from->key) < 0) {
		free(to->name);
		return -ENOMEM;
	}
	return 0;
}

/* The next entry, cleared but for its name, which the caller sets (and
 * may have set already: col_key names the entry in place). */
static struct dent *dl_add(struct dlist *l, enum phase ph)
{
	struct dent *d = &l->v[l->n++];

	memset(d, 0, offsetof(struct dent, name));
	d->pos.ph = ph;
	val_init_null(&d->pos.key);
	return d;
}

static void dl_free(struct fsx *fs, struct dlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		dpos_free(&l->v[i].pos);
		node_put(fs, l->v[i].node);
	}
	ka_free(&l->ka);
}

static fuse_ino_t pseudo_ino(const char *name, fuse_ino_t dir)
{
	return (name_hash(name, strlen(name)) ^ dir) | (1ULL << 63);
}

/* ---- collecting entries ---- */

struct ecol {
	struct fsx *fs;	     /* the mount */
	struct dlist *l;     /* where entries go */
	bool by_sk;	     /* items of a partition (sk) or of a table (pk) */
	bool json;	     /* item names */
	int err;	     /* first error */
};

static int col_table(void *ctx, const char *name)
{
	struct ecol *c = ctx;
	char nm[NAME_BUF];
	struct dent *d;

	if (name_make_str(name, strlen(name), nm) < 0)
		return 0; /* unnameable (not possible for valid table names) */
	d = dl_add(c->l, PH_ENGINE);
	strcpy(d->name, nm);
	d->type = S_IFDIR;
	if (!(d->pos.name = strdup(name))) {
		c->err = -ENOMEM;
		return 1;
	}
	return c->l->n == c->l->max;
}

static int col_key(struct ecol *c, const struct val *key, const struct be_ref *r)
{
	struct dent *d = &c->l->v[c->l->n];

	if (name_make(key, c->json, d->name) < 0)
		return 0;
	d = dl_add(c->l, PH_ENGINE);
	d->type = c->json ? S_IFREG : S_IFDIR;
	if (key->type == VAL_S || key->type == VAL_B) {
		char *p = ka_alloc(&c->l->ka, key->s.len + 1);

		if (!p) {
			c->err = -ENOMEM;
			c->l->n--;
			return 1;
		}
		memcpy(p, key->s.p, key->s.len + 1);
		d->pos.key = *key;
		d->pos.key.s.p = p;
		d->pos.kref = true;
	} else if (val_copy(&d->pos.key, key) < 0) {
		c->err = -ENOMEM;
		c->l->n--;
		return 1;
	}
	if (r) {
		/* a plain readdir sends no size: leave the item's text length
		 * (counted over the record) to the stat that may follow */
		if (c->l->plus)
			be_ref_meta(r, &d->meta);
		d->is_item = true;
	}
	return c->l->n == c->l->max;
}

static int col_item(void *ctx, const struct be_ref *r)
{
	struct ecol *c = ctx;

	return col_key(c, c->by_sk ? be_ref_sk(r) : be_ref_pk(r), r);
}

static int col_part(void *ctx, const struct val *pk)
{
	return col_key(ctx, pk, NULL);
}

/* Merge pinned (empty, mkdir'd) partitions into a page of partitions. */
static int merge_pins(struct fsx *fs, struct node *dir, const struct val *after,
		      struct dlist *l, size_t from)
{
	struct node **pins;
	struct val *keys = NULL;
	size_t np, i;
	int rc = 0;

	pthread_mutex_lock(&fs->ilock);
	np = node_pins_after_locked(dir, after, &pins);
	if (np > l->max)
		np = l->max;
	if (np && !(keys = calloc(np, sizeof(*keys))))
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < np; i++)
		if (val_copy(&keys[i], &pins[i]->pk) < 0)
			rc = -ENOMEM;
	pthread_mutex_unlock(&fs->ilock);
	for (i = 0; rc == 0 && i < np; i++) {
		/* insert keys[i] in order among l->v[from..n), unless present */
		size_t at = from, j;
		int c = 1;

		while (at < l->n && (c = val_cmp(&l->v[at].pos.key, &keys[i])) < 0)
			at++;
		if (at < l->n && c == 0)
			continue;
		if (at == l->max)
			break; /* beyond this page */
		if (l->n == l->max) { /* drop the last engine entry */
			dpos_free(&l->v[l->n - 1].pos);
			l->n--;
		}
		for (j = l->n; j > at; j--)
			l->v[j] = l->v[j - 1];
		l->n++;
		memset(&l->v[at], 0, sizeof(l->v[at]));
		l->v[at].pos.ph = PH_ENGINE;
		l->v[at].type = S_IFDIR;
		val_move(&l->v[at].pos.key, &keys[i]);
		if (name_make(&l->v[at].pos.key, false, l->v[at].name) < 0)
			l->v[at].name[0] = 0;
	}
	for (i = 0; i < np; i++)
		val_free(&keys[i]);
	free(keys);
	return rc;
}

/* The database entries after `after` (NULL: from the first). */
static int collect_engine(struct fsx *fs, struct node *dir, const struct dpos *after,
			  struct dlist *l)
{
	struct ecol c = {.fs = fs, .l = l};
	const struct val *akey = after && after->key.type != VAL_NULL ? &after->key : NULL;
	struct dyn_err err;
	struct val pk, sk;
	size_t from = l->n;
	be_table_t *t;
	int rc;

	err_clear(&err);
	if (dir->kind == NK_ROOT) {
		rc = be_list_tables(fs->be, after ? after->name : NULL, col_table, &c, &err);
		read_err_log(fs, dir, NULL, &err, rc);
		return c.err ? c.err : (rc < 0 ? rc : 0);
	}
	rc = node_key(fs, dir, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	if (!be_table_alive(t)) {
		rc = 0;
	} else if (dir->kind == NK_PART) {
		struct tbl_query q = {.pk = &pk, .start_pk = akey ? &pk : NULL, .start_sk = akey,
				      .limit = l->max - l->n};

		c.by_sk = c.json = true;
		rc = be_query(t, &q, col_item, &c, &err);
	} else if (be_table_sk(t)) {
		rc = be_list_partitions(t, NULL, akey, col_part, &c, &err);
		if (rc >= 0 && !c.err)
			rc = merge_pins(fs, dir, akey, l, from);
	} else {
		struct tbl_scan s = {.start_pk = akey, .limit = l->max - l->n};

		c.json = true;
		rc = be_scan(t, &s, col_item, &c, &err);
	}
	read_err_log(fs, dir, NULL, &err, rc);
	val_free(&pk);
	val_free(&sk);
	return c.err ? c.err : (rc < 0 ? rc : 0);
}

static int col_view(void *ctx, const char *name, mode_t type, const struct val *pos)
{
	struct ecol *c = ctx;
	struct dent *d = dl_add(c->l, PH_ENGINE);

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->type = type;
	if (val_copy(&d->pos.key, pos) < 0) {
		c->err = -ENOMEM;
		c->l->n--;
		return 1;
	}
	return c->l->n == c->l->max;
}

/* The entries of a view (index_view.c) after position `after`. */
static int collect_view(struct fsx *fs, struct node *dir, const struct dpos *after,
			struct dlist *l)
{
	struct ecol c = {.fs = fs, .l = l};
	int rc;

	rc = view_list(fs, dir, after ? &after->key : NULL, col_view, &c);
	return c.err ? c.err : (rc < 0 ? rc : 0);
}

static int collect_scratch(struct fsx *fs, struct node *dir, const char *after, struct dlist *l)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&fs->ilock);
	for (i = kids_after(&dir->kids, after); i < dir->kids.n && l->n < l->max; i++) {
		struct kid *k = &dir->kids.v[i];
		struct dent *d = dl_add(l, PH_SCRATCH);

		snprintf(d->name, sizeof(d->name), "%s", k->name);
		d->type = k->node->scr->mode & S_IFMT;
		d->ino = k->node->ino;
		d->node = k->node;
		k->node->refs++;
		if (!(d->pos.name = strdup(k->name))) {
			rc = -ENOMEM;
			break;
		}
	}
	pthread_mutex_unlock(&fs->ilock);
	return rc;
}

/* Entries after position p, up to l->max. */
static int collect(struct fsx *fs, struct node *dir, const struct dpos *p, struct dlist *l)
{
	const char *const *specials = dir->kind == NK_ROOT    ? root_specials
				      : dir->kind == NK_TABLE ? table_specials
							      : NULL;
	bool has_kids = dir->kind != NK_ROOT;
	enum phase ph = p->ph;
	int i, rc;

	if (ph < PH_DOT && l->n < l->max) {
		struct dent *d = dl_add(l, PH_DOT);

		strcpy(d->name, ".");
		d->type = S_IFDIR;
		d->ino = dir->ino;
	}
	if (ph < PH_DOTDOT && l->n < l->max) {
		struct dent *d = dl_add(l, PH_DOTDOT);

		strcpy(d->name, "..");
		d->type = S_IFDIR;
		pthread_mutex_lock(&fs->ilock);
		d->ino = dir->parent ? dir->parent : FSX_ROOT_INO;
		pthread_mutex_unlock(&fs->ilock);
	}
	if (view_dir_kind(dir->kind)) { /* a view: only its own entries */
		if (ph <= PH_ENGINE && l->n < l->max)
			return collect_view(fs, dir, ph == PH_ENGINE ? p : NULL, l);
		return 0;
	}
	for (i = ph == PH_SPECIAL ? p->idx + 1 : 0; specials && ph <= PH_SPECIAL && specials[i] &&
						     l->n < l->max; i++) {
		struct dent *d = dl_add(l, PH_SPECIAL);

		d->pos.idx = i;
		strcpy(d->name, specials[i]);
		d->type = S_IFREG;
	}
	if (has_kids && ph <= PH_SCRATCH && l->n < l->max) {
		rc = collect_scratch(fs, dir, ph == PH_SCRATCH ? p->name : NULL, l);
		if (rc < 0)
			return rc;
	}
	if (dir->kind != NK_SCRATCH && ph <= PH_ENGINE && l->n < l->max) {
		rc = collect_engine(fs, dir, ph == PH_ENGINE ? p : NULL, l);
		if (rc < 0)
			return rc;
	}
	/* an engine phase that did not fill the page is complete */
	for (i = ph == PH_TAIL ? p->idx + 1 : 0; dir->kind == NK_TABLE && ph <= PH_TAIL &&
						 table_tail[i] && l->n < l->max; i++) {
		struct dent *d = dl_add(l, PH_TAIL);

		d->pos.idx = i;
		strcpy(d->name, table_tail[i]);
		d->type = S_IFDIR;
	}
	return 0;
}

/* ---- replying ---- */

/* The node and attributes of an entry, for readdirplus. */
static int plus_entry(struct fsx *fs, struct node *dir, struct dent *d, be_table_t *t,
		      int64_t tmtime, uint64_t c0, struct fuse_entry_param *e)
{
	double timeout = fs->timeout;
	int64_t mt;
	int rc;

	memset(e, 0, sizeof(*e));
	if (d->pos.ph == PH_DOT || d->pos.ph == PH_DOTDOT) {
		e->attr.st_ino = d->ino;
		e->attr.st_mode = S_IFDIR;
		return 0;
	}
	if (view_dir_kind(dir->kind)) {
		/* view entries change without invalidation: no node, no
		 * attributes; the kernel looks each one up when it is used */
		e->attr.st_ino = pseudo_ino(d->name, dir->ino);
		e->attr.st_mode = d->type;
		return 0;
	}
	if (!d->node) {
		if (d->pos.ph == PH_SPECIAL && dir->kind == NK_ROOT) {
			d->node = strcmp(d->name, "_tx") ? fs->errors : fs->tx;
			pthread_mutex_lock(&fs->ilock);
			d->node->refs++;
			pthread_mutex_unlock(&fs->ilock);
		} else if (d->pos.ph == PH_SPECIAL || d->pos.ph == PH_TAIL) {
			d->node = node_ident(fs, special_kind(d->name), t, NULL, NULL, true);
		} else if (dir->kind == NK_ROOT) {
			be_table_t *tt;

			rc = be_table_open(fs->be, d->pos.name, &tt, NULL);
			if (rc < 0)
				return rc;
			d->node = node_ident(fs, NK_TABLE, tt, NULL, NULL, true);
			be_table_close(tt);
		} else if (d->is_item && dir->kind == NK_PART) {
			d->node = node_ident(fs, NK_ITEM, t, &dir->pk, &d->pos.key, true);
		} else {
			d->node = node_ident(fs, d->is_item ? NK_ITEM : NK_PART, t, &d->pos.key,
					     NULL, true);
		}
		if (!d->node)
			return -ENOMEM;
		if (!d->is_item) {
			pthread_mutex_lock(&fs->ilock);
			d->node->parent = dir->ino;
			pthread_mutex_unlock(&fs->ilock);
		}
	}
	if (d->is_item) {
		e->attr.st_ino = d->node->ino;
		e->attr.st_mode = S_IFREG | (fs->readonly ? 0444 : 0644);
		e->attr.st_nlink = 1;
		e->attr.st_uid = fs->uid;
		e->attr.st_gid = fs->gid;
		e->attr.st_size = (off_t)d->meta.text_len;
		e->attr.st_blksize = 4096;
		e->attr.st_blocks = (e->attr.st_size + 511) / 512;
		mt = item_mtime(fs, d->node, &d->meta);
		e->attr.st_mtim.tv_sec = (time_t)(mt / 1000000000);
		e->attr.st_mtim.tv_nsec = (long)(mt % 1000000000);
		e->attr.st_atim = e->attr.st_ctim = e->attr.st_mtim;
		pthread_mutex_lock(&fs->ilock);
		d->node->parent = dir->ino;
		if (d->node->writers)
			timeout = 0;
		pthread_mutex_unlock(&fs->ilock);
	} else if (d->pos.ph == PH_ENGINE && dir->kind == NK_TABLE) {
		memset(&e->attr, 0, sizeof(e->attr));
		e->attr.st_ino = d->node->ino;
		e->attr.st_mode = S_IFDIR | 0755;
		e->attr.st_nlink = 1;
		e->attr.st_uid = fs->uid;
		e->attr.st_gid = fs->gid;
		e->attr.st_blksize = 4096;
		e->attr.st_mtim.tv_sec = (time_t)(tmtime / 1000000000);
		e->attr.st_mtim.tv_nsec = (long)(tmtime % 1000000000);
		e->attr.st_atim = e->attr.st_ctim = e->attr.st_mtim;
	} else {
		rc = node_attr(fs, d->node, &e->attr, &timeout);
		if (rc < 0)
			return rc;
	}
	e->ino = d->node->ino;
	e->generation = fs->gen;
	e->attr_timeout = timeout;
	e->entry_timeout = fs->timeout;
	if (timeout > 0)
		attr_given(d->node); /* read before: the check below decides */
	if (fsx_changed_since(fs, c0)) /* the listing may be stale (fsx.h) */
		e->attr_timeout = e->entry_timeout = 0;
	return 0;
}

/* An entry with its name, number and type only (readdir, or readdirplus
 * with node 0: the kernel makes no dentry for it). */
static void plain_entry(struct node *dir, const struct dent *d, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr.st_ino = d->node ? d->node->ino : d->ino ? d->ino : pseudo_ino(d->name, dir->ino);
	e->attr.st_mode = d->type;
}

static size_t dent_size_guess(bool plus)
{
	return plus ? 160 : 40;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
		       bool plus)
{
	struct fsx *fs = fsx_of(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	struct node *dir = dh->dir;
	struct dlist l = {0};
	struct dmark *page = NULL;
	struct dpos from;
	struct val dpk, dsk;
	be_table_t *t = NULL;
	int64_t tmtime = fs->start_ns;
	size_t used = 0, i, np = 0;
	bool hide = false;
	uint64_t c0;
	off_t next;
	char *buf;
	int rc = 0;

	memset(&from, 0, sizeof(from));
	val_init_null(&from.key);
	val_init_null(&dpk);
	val_init_null(&dsk);
	buf = malloc(size);
	pthread_mutex_lock(&dh->lock);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (off == 0) {
		from.ph = PH_START;
	} else if (off == dh->start_off) {
		rc = dpos_copy(&from, &dh->start);
	} else {
		for (i = 0; i < dh->npage && dh->page[i].off != off; i++)
			;
		if (i == dh->npage)
			goto reply; /* not resumable: end of listing */
		rc = dpos_copy(&from, &dh->page[i].pos);
	}
	if (rc < 0)
		goto out;
	l.plus = plus;
	l.max = size / dent_size_guess(plus) + 2;
	if (l.max > 4096)
		l.max = 4096;
	if (dh->dcap < l.max) {
		free(dh->dv);
		dh->dcap = 0;
		if (!(dh->dv = malloc(l.max * sizeof(*dh->dv)))) {
			rc = -ENOMEM;
			goto out;
		}
		dh->dcap = l.max;
	}
	l.v = dh->dv;
	c0 = fsx_chg(fs);
	fsx_trace("RDP_START dir %lu off %lld plus %d pid %d", (unsigned long)dir->ino, (long long)off,
		  plus, (int)fuse_req_ctx(req)->pid);
	rc = collect(fs, dir, &from, &l);
	if (rc < 0)
		goto out;
	if (plus && dir->kind != NK_ROOT && dir->kind != NK_SCRATCH) {
		struct tbl_stats st;

		if (node_key(fs, dir, &t, &dpk, &dsk) == 0) {
			be_table_stats(t, &st);
			if (st.mtime_ns)
				tmtime = st.mtime_ns;
		}
	}
	page = calloc(l.n ? l.n : 1, sizeof(*page));
	if (!page) {
		rc = -ENOMEM;
		goto out;
	}
	/* a scratch directory the caller may not search lists names only:
	 * entries would let the kernel walk into it (perm.c) */
	if (plus && dir->kind == NK_SCRATCH && perm_check(req, fs, dir, X_OK) < 0)
		hide = true;
	next = dh->last_off;
	for (i = 0; i < l.n; i++) {
		struct dent *d = &l.v[i];
		struct fuse_entry_param e;
		size_t need;

		if (plus) {
			rc = plus_entry(fs, dir, d, t, tmtime, c0, &e);
			if (rc == -ENOENT)
				continue; /* vanished meanwhile */
			if (rc < 0) /* listed, but no attributes now (a remote
				     * table not described: throttled, refused):
				     * the name without them (node 0), so the
				     * kernel looks it up when it is used and
				     * that lookup reports the error */
				plain_entry(dir, d, &e);
			rc = 0;
			if (hide)
				e.ino = 0; /* a name, no entry */
			need = fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e,
						      next + 1);
		} else {
			plain_entry(dir, d, &e);
			need = fuse_add_direntry(req, buf + used, size - used, d->name, &e.attr,
						 next + 1);
		}
		if (need > size - used)
			break;
		if (fs->debug)
			fsx_log(fs, "readdir%s %lld: %s off %lld ino %llu", plus ? "plus" : "",
				(long long)off, d->name, (long long)next + 1,
				(unsigned long long)(plus ? e.ino : e.attr.st_ino));
		used += need;
		next++;
		if (plus && e.ino)
			node_lookup_inc(fs, d->node);
		if (plus && e.ino && d->is_item)
			fsx_trace("RDP ino %lu %s size %lld ato %g", (unsigned long)e.ino, d->name,
				  (long long)e.attr.st_size, e.attr_timeout);
		page[np].off = next;
		page[np].pos = d->pos; /* moved */
		memset(&d->pos, 0, sizeof(d->pos));
		np++;
	}
	/* this page replaces the last one */
	for (i = 0; i < dh->npage; i++)
		dpos_free(&dh->page[i].pos);
	free(dh->page);
	dh->page = page;
	dh->npage = np;
	page = NULL;
	ka_free(&dh->page_ka);
	dh->page_ka = l.ka; /* the page's positions borrow from it */
	l.ka.head = NULL;
	dpos_free(&dh->start);
	dh->start = from;
	memset(&from, 0, sizeof(from));
	dh->start_off = off;
	dh->last_off = next;
reply:
	/* reply only after the handle is let go: releasedir may follow at
	 * once (and free dh->dv, which l uses) */
	dl_free(fs, &l);
	pthread_mutex_unlock(&dh->lock);
	fsx_delay("rdp");
	fsx_trace("RDP_REPLY dir %lu", (unsigned long)dir->ino);
	fuse_reply_buf(req, buf, used);
	goto done;
out:
	dl_free(fs, &l);
	pthread_mutex_unlock(&dh->lock);
	fuse_reply_err(req, -rc);
done:
	free(page);
	dpos_free(&from);
	val_free(&dpk);
	val_free(&dsk);
	free(buf);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, true);
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct node *n = node_get(fs, ino);
	struct dirh *dh;
	bool ok;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&fs->ilock);
	ok = n->kind == NK_ROOT || n->kind == NK_TABLE || n->kind == NK_PART ||
	     (n->kind == NK_SCRATCH && S_ISDIR(n->scr->mode)) || view_is_dir_locked(n);
	pthread_mutex_unlock(&fs->ilock);
	if (!ok || (n->table && !be_table_alive(n->table))) {
		node_put(fs, n);
		fuse_reply_err(req, ok ? ENOENT : ENOTDIR);
		return;
	}
	if (perm_check(req, fs, n, R_OK) < 0) {
		node_put(fs, n);
		fuse_reply_err(req, EACCES);
		return;
	}
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		node_put(fs, n);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&dh->lock, NULL);
	val_init_null(&dh->start.key);
	dh->dir = n;
	dh->start_off = -1;
	fi->fh = (uintptr_t)dh;
	if (fuse_reply_open(req, fi) < 0) {
		node_put(fs, n);
		pthread_mutex_destroy(&dh->lock);
		free(dh);
	}
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsx *fs = fsx_of(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	size_t i;

	for (i = 0; i < dh->npage; i++)
		dpos_free(&dh->page[i].pos);
	free(dh->page);
	ka_free(&dh->page_ka);
	free(dh->dv);
	dpos_free(&dh->start);
	node_put(fs, dh->dir);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
	fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}
