/*
 * omap.c - the B+tree behind omap.h.
 *
 * Shape.  Leaves hold up to OMAP_FANOUT value pointers and are linked both
 * ways, so a cursor is just (leaf, index) and needs no path stack.  Inner
 * nodes hold up to OMAP_FANOUT children and one separator between each
 * pair: a pointer to a value whose key bounds the two subtrees (see the
 * invariants in omap.h), plus a slice of that key (see node_refresh), so
 * a descent mostly compares integers.  Keys inside a leaf are read
 * through ops->key() during the binary search.
 *
 * Separators.  A split makes the first key of the new right node the
 * separator (held); a redistribution between siblings sets it to the new
 * first key of the right one; a merge drops it (released).  Replacing a
 * value swaps every separator that points to the old value (they are all
 * on the descent path, found by an exact compare), so a replaced record is
 * not pinned.  A deleted value's separators stay: a deleted key is still
 * a valid bound, and the owner keeps the value alive until released.
 *
 * Fill.  Splitting a full leaf at its end keeps the left leaf full and
 * starts the right one with the new key (and symmetrically at position 0),
 * so key-ordered loading (bulk import, replay of a snapshot) fills leaves
 * almost completely instead of half.  A node that falls below OMAP_MIN
 * after a deletion merges with a sibling when both fit in one node and
 * otherwise takes entries from it until they are even.
 *
 * Allocation.  Nodes come from a per-map pool; an insertion first makes
 * sure the pool holds one leaf and height+1 inner nodes (the most a
 * cascade of splits can use), so it fails before changing anything.
 */
#include "omap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OMAP_FANOUT 64		    /* max leaf entries / inner children */
#define OMAP_MIN (OMAP_FANOUT / 4)  /* rebalance below this after a delete */
#define OMAP_MAXH 24		    /* inner levels; 2^48 entries need < 12 */
#define OMAP_PRE 64		    /* common separator prefix kept in a node */
#define OMAP_LPRE 45		    /* common key prefix kept in a leaf */

struct onode {
	uint16_t n;    /* leaf: entries; inner: children */
	uint8_t leaf;  /* 1 for a leaf */
};

struct oleaf {
	struct onode h;		   /* n = entries */
	uint8_t plen;		   /* bytes in pre */
	uint8_t pre[OMAP_LPRE];	   /* a prefix every key in the leaf shares */
	struct oleaf *prev;	   /* left neighbour in key order, or NULL */
	struct oleaf *next;	   /* right neighbour, or NULL */
	uint32_t sl[OMAP_FANOUT];  /* 4 key bytes of v[i] after pre */
	void *v[OMAP_FANOUT];	   /* values, in key order */
};

struct oinner {
	struct onode h;			     /* n = children */
	uint8_t plen;			     /* bytes in pre */
	uint8_t pre[OMAP_PRE];		     /* a prefix every sep[i] shares */
	uint64_t pfx[OMAP_FANOUT - 1];	     /* 8 key bytes of sep[i] after pre */
	void *sep[OMAP_FANOUT - 1];	     /* sep[i] bounds child[i] | child[i+1] */
	struct onode *child[OMAP_FANOUT];    /* subtrees */
};

/* A free node in the pool (its memory reused for the link). */
struct ofree {
	struct ofree *next; /* next free node of the same kind */
};

struct omap {
	struct omap_ops ops;	 /* key extraction, separator references */
	struct onode *root;	 /* never NULL: an empty leaf when empty */
	unsigned height;	 /* inner levels above the leaves */
	size_t count;		 /* entries */
	size_t nleaf;		 /* leaves in the tree */
	size_t ninner;		 /* inner nodes in the tree */
	struct ofree *free_leaf; /* pool of leaves */
	struct ofree *free_inner; /* pool of inner nodes */
	size_t nfree_leaf;	 /* entries in free_leaf */
	size_t nfree_inner;	 /* entries in free_inner */
};

/* A root-to-leaf path: the inner nodes and the child index taken. */
struct opath {
	struct oinner *node[OMAP_MAXH]; /* node[0] is the root */
	unsigned idx[OMAP_MAXH];	 /* child taken at each level */
	int eq[OMAP_MAXH];		 /* separator idx-1 equals the key */
};

int omap_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* Big-endian first 8 bytes, zero padded: orders like the bytes do. */
static uint64_t key_pfx(const uint8_t *k, size_t len)
{
	uint64_t p = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		p = (p << 8) | (i < len ? k[i] : 0);
	return p;
}

/* Big-endian first 4 bytes, zero padded. */
static uint32_t key_sl(const uint8_t *k, size_t len)
{
	uint32_t p = 0;
	size_t i;

	for (i = 0; i < 4; i++)
		p = (p << 8) | (i < len ? k[i] : 0);
	return p;
}

static int val_keycmp(const omap_t *m, const void *v, const uint8_t *k, size_t len)
{
	size_t vl;
	const uint8_t *vk = m->ops.key(v, &vl);

	return omap_keycmp(vk, vl, k, len);
}

static void sep_hold(omap_t *m, void *v)
{
	if (m->ops.hold)
		m->ops.hold(v);
}

static void sep_release(omap_t *m, void *v)
{
	if (m->ops.release)
		m->ops.release(v);
}

/*
 * Separator slices.  An inner node keeps the prefix its separators share
 * (up to OMAP_PRE bytes) and, per separator, the 8 bytes that follow it:
 * a descent compares the key with the prefix once and then compares
 * integers, reading a separator's record only on a tie.  Keys with long
 * common prefixes (every key of a table starting "user0000...") would
 * otherwise tie on any fixed leading bytes.
 */
static void node_refresh(omap_t *m, struct oinner *p)
{
	const uint8_t *a, *b;
	size_t al, bl, n, i, len;

	a = m->ops.key(p->sep[0], &al);
	b = m->ops.key(p->sep[p->h.n - 2], &bl);
	n = al < bl ? al : bl;
	if (n > OMAP_PRE)
		n = OMAP_PRE;
	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	p->plen = (uint8_t)i;
	memcpy(p->pre, a, i);
	for (i = 0; i + 1 < p->h.n; i++) {
		a = m->ops.key(p->sep[i], &len);
		p->pfx[i] = key_pfx(a + p->plen, len - p->plen);
	}
}

/* sep[i] was set: compute its slice, or refresh if it breaks the prefix. */
static void sep_fix(omap_t *m, struct oinner *p, unsigned i)
{
	size_t len;
	const uint8_t *k = m->ops.key(p->sep[i], &len);

	if (len >= p->plen && memcmp(k, p->pre, p->plen) == 0)
		p->pfx[i] = key_pfx(k + p->plen, len - p->plen);
	else
		node_refresh(m, p);
}

/*
 * Leaves do the same with 4-byte slices, one per entry: the binary search
 * in a leaf, which would otherwise read a record per probe, reads one
 * only on a tie.  Any subset of a leaf's keys shares its prefix, so a
 * split keeps the slices and only recomputes them when the halves share
 * a longer prefix.
 */
static size_t leaf_lcp(omap_t *m, const struct oleaf *l)
{
	const uint8_t *a, *b;
	size_t al, bl, n, i;

	if (!l->h.n)
		return 0;
	a = m->ops.key(l->v[0], &al);
	b = m->ops.key(l->v[l->h.n - 1], &bl);
	n = al < bl ? al : bl;
	if (n > OMAP_LPRE)
		n = OMAP_LPRE;
	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	return i;
}

static void leaf_refresh(omap_t *m, struct oleaf *l)
{
	const uint8_t *k;
	size_t len, i;

	l->plen = (uint8_t)leaf_lcp(m, l);
	if (!l->h.n)
		return;
	k = m->ops.key(l->v[0], &len);
	memcpy(l->pre, k, l->plen);
	for (i = 0; i < l->h.n; i++) {
		k = m->ops.key(l->v[i], &len);
		l->sl[i] = key_sl(k + l->plen, len - l->plen);
	}
}

/* Refresh only if the keys now share a longer prefix (after a split). */
static void leaf_tighten(omap_t *m, struct oleaf *l)
{
	if (leaf_lcp(m, l) > l->plen)
		leaf_refresh(m, l);
}

/* ---- node pool ---- */

static int pool_fill(omap_t *m, size_t leaves, size_t inners)
{
	struct ofree *f;

	while (m->nfree_leaf < leaves) {
		f = malloc(sizeof(struct oleaf));
		if (!f)
			return -ENOMEM;
		f->next = m->free_leaf;
		m->free_leaf = f;
		m->nfree_leaf++;
	}
	while (m->nfree_inner < inners) {
		f = malloc(sizeof(struct oinner));
		if (!f)
			return -ENOMEM;
		f->next = m->free_inner;
		m->free_inner = f;
		m->nfree_inner++;
	}
	return 0;
}

/* Callers made sure the pool is not empty (pool_fill). */
static struct oleaf *leaf_alloc(omap_t *m)
{
	struct ofree *f = m->free_leaf;
	struct oleaf *l = (struct oleaf *)f;

	m->free_leaf = f->next;
	m->nfree_leaf--;
	m->nleaf++;
	l->h.n = 0;
	l->h.leaf = 1;
	l->plen = 0;
	l->prev = l->next = NULL;
	return l;
}

static struct oinner *inner_alloc(omap_t *m)
{
	struct ofree *f = m->free_inner;
	struct oinner *p = (struct oinner *)f;

	m->free_inner = f->next;
	m->nfree_inner--;
	m->ninner++;
	p->h.n = 0;
	p->h.leaf = 0;
	return p;
}

static void node_put(omap_t *m, struct onode *n)
{
	struct ofree *f = (struct ofree *)n;

	if (n->leaf) {
		m->nleaf--;
		f->next = m->free_leaf;
		m->free_leaf = f;
		m->nfree_leaf++;
	} else {
		m->ninner--;
		f->next = m->free_inner;
		m->free_inner = f;
		m->nfree_inner++;
	}
}

static void pool_drain(struct ofree **list, size_t *n, size_t keep)
{
	struct ofree *f;

	while (*n > keep) {
		f = *list;
		*list = f->next;
		free(f);
		(*n)--;
	}
}

int omap_reserve(omap_t *m, size_t n)
{
	/* Each insert splits at most one leaf and height+1 inner nodes (a
	 * new root included); the height grows by one at most once within
	 * any run of fewer than OMAP_FANOUT inserts, hence the +2. */
	return pool_fill(m, n, n * (m->height + 2) + 2);
}

void omap_trim(omap_t *m)
{
	pool_drain(&m->free_leaf, &m->nfree_leaf, 1);
	pool_drain(&m->free_inner, &m->nfree_inner, m->height + 2);
}

/* ---- creation and teardown ---- */

int omap_new(const struct omap_ops *ops, omap_t **out)
{
	omap_t *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->ops = *ops;
	if (pool_fill(m, 1, 0) < 0) {
		free(m);
		return -ENOMEM;
	}
	m->root = &leaf_alloc(m)->h;
	*out = m;
	return 0;
}

static void node_free(omap_t *m, struct onode *n, void (*fn)(void *, void *), void *ctx)
{
	unsigned i;

	if (n->leaf) {
		struct oleaf *l = (struct oleaf *)n;

		if (fn)
			for (i = 0; i < l->h.n; i++)
				fn(l->v[i], ctx);
	} else {
		struct oinner *p = (struct oinner *)n;

		for (i = 0; i < p->h.n; i++)
			node_free(m, p->child[i], fn, ctx);
		for (i = 0; i + 1 < p->h.n; i++)
			sep_release(m, p->sep[i]);
	}
	free(n);
}

void omap_free(omap_t *m, void (*fn)(void *v, void *ctx), void *ctx)
{
	if (!m)
		return;
	node_free(m, m->root, fn, ctx);
	pool_drain(&m->free_leaf, &m->nfree_leaf, 0);
	pool_drain(&m->free_inner, &m->nfree_inner, 0);
	free(m);
}

size_t omap_count(const omap_t *m)
{
	return m->count;
}

size_t omap_mem(const omap_t *m)
{
	return m->nleaf * sizeof(struct oleaf) + m->ninner * sizeof(struct oinner) +
	       m->nfree_leaf * sizeof(struct oleaf) + m->nfree_inner * sizeof(struct oinner) +
	       sizeof(*m);
}

/* ---- searching ---- */

/*
 * The child of p whose range holds k: the number of separators <= k.
 * *eq is set when the separator just left of that child equals k.
 */
static unsigned inner_find(const omap_t *m, const struct oinner *p, const uint8_t *k,
			   size_t len, int *eq)
{
	unsigned lo = 0, hi = p->h.n - 1, mid;
	size_t n = len < p->plen ? len : p->plen;
	uint64_t kp;
	int c = n ? memcmp(k, p->pre, n) : 0;

	*eq = 0;
	/* Outside the shared prefix: below or above every separator. */
	if (c < 0 || (c == 0 && len < p->plen))
		return 0;
	if (c > 0)
		return p->h.n - 1u;
	kp = key_pfx(k + p->plen, len - p->plen);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (p->pfx[mid] != kp)
			c = p->pfx[mid] < kp ? -1 : 1;
		else
			c = val_keycmp(m, p->sep[mid], k, len);
		if (c <= 0) {
			lo = mid + 1;
			*eq = c == 0;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* First index in l whose key is >= k (upper: > k).  *eq: key == k there. */
static unsigned leaf_find(const omap_t *m, const struct oleaf *l, const uint8_t *k, size_t len,
			  bool upper, int *eq)
{
	unsigned lo = 0, hi = l->h.n, mid;
	size_t n = len < l->plen ? len : l->plen;
	int c = n ? memcmp(k, l->pre, n) : 0;
	uint32_t ks;

	*eq = 0;
	if (c < 0 || (c == 0 && len < l->plen))
		return 0;
	if (c > 0)
		return l->h.n;
	ks = key_sl(k + l->plen, len - l->plen);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (l->sl[mid] != ks)
			c = l->sl[mid] < ks ? -1 : 1;
		else
			c = val_keycmp(m, l->v[mid], k, len);
		if (c == 0)
			*eq = 1;
		if (c < 0 || (upper && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct oleaf *descend(const omap_t *m, const uint8_t *k, size_t len, struct opath *path)
{
	struct onode *n = m->root;
	unsigned lvl = 0, i;
	int eq;

	while (!n->leaf) {
		struct oinner *p = (struct oinner *)n;

		i = inner_find(m, p, k, len, &eq);
		if (path) {
			path->node[lvl] = p;
			path->idx[lvl] = i;
			path->eq[lvl] = eq;
		}
		lvl++;
		n = p->child[i];
	}
	return (struct oleaf *)n;
}

void *omap_get(const omap_t *m, const uint8_t *k, size_t len)
{
	struct oleaf *l = descend(m, k, len, NULL);
	int eq;
	unsigned i = leaf_find(m, l, k, len, false, &eq);

	return i < l->h.n && eq && val_keycmp(m, l->v[i], k, len) == 0 ? l->v[i] : NULL;
}

/* ---- cursors ---- */

static bool cur_set(struct omap_cur *c, struct oleaf *l, unsigned i)
{
	c->leaf = l;
	c->i = i;
	return l != NULL;
}

bool omap_first(const omap_t *m, struct omap_cur *c)
{
	struct onode *n = m->root;

	while (!n->leaf)
		n = ((struct oinner *)n)->child[0];
	return cur_set(c, n->n ? (struct oleaf *)n : NULL, 0);
}

bool omap_last(const omap_t *m, struct omap_cur *c)
{
	struct onode *n = m->root;

	while (!n->leaf)
		n = ((struct oinner *)n)->child[n->n - 1];
	return cur_set(c, n->n ? (struct oleaf *)n : NULL, n->n ? n->n - 1u : 0);
}

bool omap_seek(const omap_t *m, const uint8_t *k, size_t len, enum omap_seek how,
	       struct omap_cur *c)
{
	struct oleaf *l = descend(m, k, len, NULL);
	bool upper = how == OMAP_GT || how == OMAP_LE;
	int eq;
	unsigned i = leaf_find(m, l, k, len, upper, &eq);

	if (how == OMAP_GE || how == OMAP_GT) {
		if (i < l->h.n)
			return cur_set(c, l, i);
		l = l->next;
		return cur_set(c, l, 0);
	}
	if (i > 0)
		return cur_set(c, l, i - 1);
	l = l->prev;
	return cur_set(c, l, l ? l->h.n - 1u : 0);
}

bool omap_next(struct omap_cur *c)
{
	struct oleaf *l = c->leaf;

	if (!l)
		return false;
	if (c->i + 1 < l->h.n)
		return cur_set(c, l, c->i + 1);
	return cur_set(c, l->next, 0);
}

bool omap_prev(struct omap_cur *c)
{
	struct oleaf *l = c->leaf;

	if (!l)
		return false;
	if (c->i > 0)
		return cur_set(c, l, c->i - 1);
	l = l->prev;
	return cur_set(c, l, l ? l->h.n - 1u : 0);
}

void *omap_cur_val(const struct omap_cur *c)
{
	return ((struct oleaf *)c->leaf)->v[c->i];
}

const uint8_t *omap_val_key(const omap_t *m, const void *v, size_t *len)
{
	return m->ops.key(v, len);
}

/* ---- insertion ---- */

/*
 * Insert separator s and child r into p right after child ci, splitting p
 * (and its ancestors) when full.  lvl is p's level in path.
 */
static void inner_insert(omap_t *m, struct opath *path, int lvl, void *s, struct onode *r)
{
	struct oinner *p, *q, *root;
	unsigned ci, n, ls, i;
	void *seps[OMAP_FANOUT];
	struct onode *kids[OMAP_FANOUT + 1];

	for (;;) {
		if (lvl < 0) {
			/* The root split: grow a level. */
			root = inner_alloc(m);
			root->h.n = 2;
			root->child[0] = m->root;
			root->child[1] = r;
			root->sep[0] = s;
			node_refresh(m, root);
			m->root = &root->h;
			m->height++;
			return;
		}
		p = path->node[lvl];
		ci = path->idx[lvl];
		n = p->h.n;
		if (n < OMAP_FANOUT) {
			memmove(&p->sep[ci + 1], &p->sep[ci], (n - 1 - ci) * sizeof(p->sep[0]));
			memmove(&p->pfx[ci + 1], &p->pfx[ci], (n - 1 - ci) * sizeof(p->pfx[0]));
			memmove(&p->child[ci + 2], &p->child[ci + 1],
				(n - 1 - ci) * sizeof(p->child[0]));
			p->sep[ci] = s;
			p->child[ci + 1] = r;
			p->h.n++;
			sep_fix(m, p, ci);
			return;
		}
		/* Full: lay out the F+1 children and F separators, then cut. */
		memcpy(seps, p->sep, ci * sizeof(seps[0]));
		seps[ci] = s;
		memcpy(&seps[ci + 1], &p->sep[ci], (n - 1 - ci) * sizeof(seps[0]));
		memcpy(kids, p->child, (ci + 1) * sizeof(kids[0]));
		kids[ci + 1] = r;
		memcpy(&kids[ci + 2], &p->child[ci + 1], (n - 1 - ci) * sizeof(kids[0]));
		/* Appending at the end: keep the left node (almost) full. */
		ls = ci + 1 == n ? OMAP_FANOUT - 1 : (OMAP_FANOUT + 1) / 2;
		q = inner_alloc(m);
		p->h.n = ls;
		for (i = 0; i < ls; i++)
			p->child[i] = kids[i];
		for (i = 0; i + 1 < ls; i++)
			p->sep[i] = seps[i];
		q->h.n = OMAP_FANOUT + 1 - ls;
		for (i = 0; i < q->h.n; i++)
			q->child[i] = kids[ls + i];
		for (i = 0; i + 1 < q->h.n; i++)
			q->sep[i] = seps[ls + i];
		node_refresh(m, p);
		node_refresh(m, q);
		s = seps[ls - 1];
		r = &q->h;
		lvl--;
	}
}

/* Insert v (key k) at pos of a leaf with room, keeping the slices. */
static void leaf_put(omap_t *m, struct oleaf *l, unsigned pos, void *v, const uint8_t *k,
		     size_t len)
{
	unsigned n = l->h.n;

	memmove(&l->v[pos + 1], &l->v[pos], (n - pos) * sizeof(l->v[0]));
	memmove(&l->sl[pos + 1], &l->sl[pos], (n - pos) * sizeof(l->sl[0]));
	l->v[pos] = v;
	l->h.n++;
	if (n && len >= l->plen && memcmp(k, l->pre, l->plen) == 0)
		l->sl[pos] = key_sl(k + l->plen, len - l->plen);
	else
		leaf_refresh(m, l);
}

static void leaf_split_insert(omap_t *m, struct opath *path, struct oleaf *l, unsigned pos,
			      void *v, const uint8_t *k, size_t len)
{
	struct oleaf *r;
	unsigned ls, n = l->h.n;

	if (pos == n)
		ls = n; /* ascending load: keep the left leaf full */
	else if (pos == 0)
		ls = 0; /* descending load: the new key goes left alone */
	else
		ls = (n + 1) / 2;
	/* Move the entries from ls on to a new right leaf, then insert. */
	r = leaf_alloc(m);
	r->plen = l->plen;
	memcpy(r->pre, l->pre, l->plen);
	memcpy(r->v, &l->v[ls], (n - ls) * sizeof(l->v[0]));
	memcpy(r->sl, &l->sl[ls], (n - ls) * sizeof(l->sl[0]));
	r->h.n = n - ls;
	l->h.n = ls;
	r->prev = l;
	r->next = l->next;
	if (l->next)
		l->next->prev = r;
	l->next = r;
	if (pos <= ls && (pos < ls || ls == 0))
		leaf_put(m, l, pos, v, k, len);
	else
		leaf_put(m, r, pos - ls, v, k, len);
	leaf_tighten(m, l);
	leaf_tighten(m, r);
	sep_hold(m, r->v[0]);
	inner_insert(m, path, (int)m->height - 1, r->v[0], &r->h);
}

int omap_insert(omap_t *m, void *v, void **old)
{
	struct opath path;
	struct oleaf *l;
	const uint8_t *k;
	size_t len;
	unsigned pos, lvl;
	int eq;

	*old = NULL;
	if (pool_fill(m, 1, m->height + 1) < 0)
		return -ENOMEM;
	k = m->ops.key(v, &len);
	l = descend(m, k, len, &path);
	pos = leaf_find(m, l, k, len, false, &eq);
	/*
	 * A separator with this very key (the old value's, or a deleted
	 * value's that it still pins) can name v instead: same bound, and
	 * the old value is no longer kept alive by the tree.
	 */
	for (lvl = 0; lvl < m->height; lvl++) {
		struct oinner *p = path.node[lvl];
		unsigned si = path.idx[lvl] - 1;

		if (path.eq[lvl] && p->sep[si] != v) {
			void *was = p->sep[si];

			sep_hold(m, v);
			p->sep[si] = v;
			sep_release(m, was);
		}
	}
	if (eq) {
		*old = l->v[pos];
		l->v[pos] = v;
		return 0;
	}
	m->count++;
	if (l->h.n < OMAP_FANOUT)
		leaf_put(m, l, pos, v, k, len);
	else
		leaf_split_insert(m, &path, l, pos, v, k, len);
	return 0;
}

/* ---- deletion ---- */

/* Remove separator si and child si+1 from p (the child was merged away). */
static void inner_remove(struct oinner *p, unsigned si)
{
	unsigned n = p->h.n;

	memmove(&p->sep[si], &p->sep[si + 1], (n - 2 - si) * sizeof(p->sep[0]));
	memmove(&p->pfx[si], &p->pfx[si + 1], (n - 2 - si) * sizeof(p->pfx[0]));
	memmove(&p->child[si + 1], &p->child[si + 2], (n - 2 - si) * sizeof(p->child[0]));
	p->h.n--;
}

/* Rebalance leaves a and b, children si and si+1 of p. */
static void leaf_rebalance(omap_t *m, struct oinner *p, unsigned si, struct oleaf *a,
			   struct oleaf *b)
{
	void *all[2 * OMAP_FANOUT];
	void *old = p->sep[si];
	unsigned t = a->h.n + b->h.n, an;

	if (t <= OMAP_FANOUT) {
		memcpy(&a->v[a->h.n], b->v, b->h.n * sizeof(b->v[0]));
		a->h.n = t;
		a->next = b->next;
		if (b->next)
			b->next->prev = a;
		leaf_refresh(m, a);
		inner_remove(p, si);
		node_put(m, &b->h);
		sep_release(m, old);
		return;
	}
	memcpy(all, a->v, a->h.n * sizeof(all[0]));
	memcpy(&all[a->h.n], b->v, b->h.n * sizeof(all[0]));
	an = t / 2;
	memcpy(a->v, all, an * sizeof(all[0]));
	a->h.n = an;
	memcpy(b->v, &all[an], (t - an) * sizeof(all[0]));
	b->h.n = t - an;
	leaf_refresh(m, a);
	leaf_refresh(m, b);
	sep_hold(m, b->v[0]);
	p->sep[si] = b->v[0];
	sep_fix(m, p, si);
	sep_release(m, old);
}

/* Rebalance inner nodes a and b, children si and si+1 of p. */
static void inner_rebalance(omap_t *m, struct oinner *p, unsigned si, struct oinner *a,
			    struct oinner *b)
{
	void *seps[2 * OMAP_FANOUT];
	struct onode *kids[2 * OMAP_FANOUT];
	unsigned t = a->h.n + b->h.n, an, i;

	memcpy(kids, a->child, a->h.n * sizeof(kids[0]));
	memcpy(&kids[a->h.n], b->child, b->h.n * sizeof(kids[0]));
	memcpy(seps, a->sep, (a->h.n - 1) * sizeof(seps[0]));
	seps[a->h.n - 1] = p->sep[si];
	memcpy(&seps[a->h.n], b->sep, (b->h.n - 1) * sizeof(seps[0]));
	if (t <= OMAP_FANOUT) {
		/* Merge: the parent's separator moves down between them. */
		for (i = a->h.n; i < t; i++)
			a->child[i] = kids[i];
		for (i = a->h.n - 1; i + 1 < t; i++)
			a->sep[i] = seps[i];
		a->h.n = t;
		node_refresh(m, a);
		inner_remove(p, si);
		node_put(m, &b->h);
		return;
	}
	an = t / 2;
	for (i = 0; i < an; i++)
		a->child[i] = kids[i];
	for (i = 0; i + 1 < an; i++)
		a->sep[i] = seps[i];
	a->h.n = an;
	for (i = 0; i < t - an; i++)
		b->child[i] = kids[an + i];
	for (i = 0; i + 1 < t - an; i++)
		b->sep[i] = seps[an + i];
	b->h.n = t - an;
	node_refresh(m, a);
	node_refresh(m, b);
	p->sep[si] = seps[an - 1];
	sep_fix(m, p, si);
}

/* Node at level lvl+1 (child path->idx[lvl] of path->node[lvl]) is short. */
static void rebalance(omap_t *m, struct opath *path, int lvl)
{
	struct oinner *p;
	struct onode *x, *a, *b;
	unsigned ci, si;

	for (; lvl >= 0; lvl--) {
		p = path->node[lvl];
		ci = path->idx[lvl];
		x = p->child[ci];
		if (x->n >= OMAP_MIN)
			return;
		si = ci > 0 ? ci - 1 : ci;
		a = p->child[si];
		b = p->child[si + 1];
		if (x->leaf)
			leaf_rebalance(m, p, si, (struct oleaf *)a, (struct oleaf *)b);
		else
			inner_rebalance(m, p, si, (struct oinner *)a, (struct oinner *)b);
	}
	/* The root lost children: shrink a level while it has only one. */
	while (!m->root->leaf && m->root->n == 1) {
		struct oinner *r = (struct oinner *)m->root;

		m->root = r->child[0];
		m->height--;
		node_put(m, &r->h);
	}
}

void *omap_delete(omap_t *m, const uint8_t *k, size_t len)
{
	struct opath path;
	struct oleaf *l = descend(m, k, len, &path);
	int eq;
	unsigned pos = leaf_find(m, l, k, len, false, &eq);
	void *v;

	if (!eq)
		return NULL;
	v = l->v[pos];
	memmove(&l->v[pos], &l->v[pos + 1], (l->h.n - pos - 1) * sizeof(l->v[0]));
	memmove(&l->sl[pos], &l->sl[pos + 1], (l->h.n - pos - 1) * sizeof(l->sl[0]));
	l->h.n--;
	m->count--;
	if (m->height > 0 && l->h.n < OMAP_MIN)
		rebalance(m, &path, (int)m->height - 1);
	return v;
}

/* ---- checking ---- */

struct ocheck {
	const omap_t *m;	 /* the map */
	char *buf;		 /* message buffer */
	size_t size;		 /* its size */
	struct oleaf *prev_leaf; /* last leaf visited, for the chain check */
	size_t count;		 /* entries seen */
};

static int check_fail(struct ocheck *c, const char *msg)
{
	snprintf(c->buf, c->size, "omap: %s", msg);
	return -EUCLEAN;
}

static int check_node(struct ocheck *c, const struct onode *n, unsigned depth, const void *lo,
		      const void *hi, bool is_root);

static int check_leaf(struct ocheck *c, const struct oleaf *l, unsigned depth, const void *lo,
		      const void *hi, bool is_root)
{
	const omap_t *m = c->m;
	const uint8_t *k;
	size_t len;
	unsigned i;

	if (depth != m->height)
		return check_fail(c, "leaves at different depths");
	if (l->h.n > OMAP_FANOUT || (!is_root && l->h.n == 0))
		return check_fail(c, "leaf entry count out of range");
	if (l->prev != c->prev_leaf || (c->prev_leaf && c->prev_leaf->next != l))
		return check_fail(c, "broken leaf chain");
	for (i = 0; i < l->h.n; i++) {
		k = m->ops.key(l->v[i], &len);
		if (l->plen > OMAP_LPRE || len < l->plen || memcmp(k, l->pre, l->plen) != 0)
			return check_fail(c, "key outside its leaf's prefix");
		if (l->sl[i] != key_sl(k + l->plen, len - l->plen))
			return check_fail(c, "leaf slice mismatch");
		if (i > 0 && val_keycmp(m, l->v[i - 1], k, len) >= 0)
			return check_fail(c, "keys out of order in a leaf");
		if (lo && val_keycmp(m, lo, k, len) > 0)
			return check_fail(c, "key below its separator");
		if (hi && val_keycmp(m, hi, k, len) <= 0)
			return check_fail(c, "key not below the next separator");
	}
	if (c->prev_leaf && c->prev_leaf->h.n && l->h.n) {
		k = m->ops.key(l->v[0], &len);
		if (val_keycmp(m, c->prev_leaf->v[c->prev_leaf->h.n - 1], k, len) >= 0)
			return check_fail(c, "keys out of order across leaves");
	}
	c->prev_leaf = (struct oleaf *)l;
	c->count += l->h.n;
	return 0;
}

static int check_inner(struct ocheck *c, const struct oinner *p, unsigned depth, const void *lo,
		       const void *hi)
{
	const omap_t *m = c->m;
	const uint8_t *k;
	size_t len;
	unsigned i;
	int rc;

	if (p->h.n < 2 || p->h.n > OMAP_FANOUT)
		return check_fail(c, "inner child count out of range");
	for (i = 0; i + 1 < p->h.n; i++) {
		k = m->ops.key(p->sep[i], &len);
		if (p->plen > OMAP_PRE || len < p->plen || memcmp(k, p->pre, p->plen) != 0)
			return check_fail(c, "separator outside its node's prefix");
		if (p->pfx[i] != key_pfx(k + p->plen, len - p->plen))
			return check_fail(c, "separator slice mismatch");
		if (i > 0 && val_keycmp(m, p->sep[i - 1], k, len) >= 0)
			return check_fail(c, "separators out of order");
		if (lo && val_keycmp(m, lo, k, len) > 0)
			return check_fail(c, "separator below its bound");
		if (hi && val_keycmp(m, hi, k, len) <= 0)
			return check_fail(c, "separator above its bound");
	}
	for (i = 0; i < p->h.n; i++) {
		rc = check_node(c, p->child[i], depth + 1, i ? p->sep[i - 1] : lo,
				i + 1 < p->h.n ? p->sep[i] : hi, false);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_node(struct ocheck *c, const struct onode *n, unsigned depth, const void *lo,
		      const void *hi, bool is_root)
{
	if (n->leaf)
		return check_leaf(c, (const struct oleaf *)n, depth, lo, hi, is_root);
	return check_inner(c, (const struct oinner *)n, depth, lo, hi);
}

int omap_check(const omap_t *m, char *buf, size_t size)
{
	struct ocheck c = { .m = m, .buf = buf, .size = size };
	int rc = check_node(&c, m->root, 0, NULL, NULL, true);

	if (rc)
		return rc;
	if (c.prev_leaf && c.prev_leaf->next)
		return check_fail(&c, "leaf chain runs past the last leaf");
	if (c.count != m->count)
		return check_fail(&c, "count does not match the leaves");
	return 0;
}
