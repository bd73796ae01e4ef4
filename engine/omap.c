/*
 * omap.c - the B+tree behind omap.h.
 *
 * Shape.  Leaves hold up to OMAP_FANOUT value pointers and are linked both
 * ways, so a cursor is just (leaf, index) and needs no path stack.  Inner
 * nodes hold up to OMAP_FANOUT children and one separator between each
 * pair: a pointer to a value whose key bounds the two subtrees (see the
 * invariants in omap.h).
 *
 * Reading keys costs cache misses: every key lives in a record somewhere
 * in the heap.  So nodes carry just enough of their keys to decide most
 * comparisons alone: an inner node the prefix its separators share and
 * 16 bytes of each separator after it (node_refresh), a leaf a copy of
 * its first key (if short) and a 4-byte partial key per entry relative to
 * the previous one (leaf_find).  A lookup in a million keys reads about
 * one record (the one it finds) instead of twenty.  This costs about 4
 * bytes per entry.
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
 * almost completely instead of half.  Inserts in random order (an import
 * whose keys come unsorted, and any index) would leave leaves about 70%
 * full (ln 2); instead a full leaf first moves entries to a sibling
 * under the same parent that has room (B*-tree style; leaf_shift_insert)
 * and splits only when neither has, for leaves about 80-90% full: fewer
 * nodes to allocate and touch, fewer splits.  A node that falls below OMAP_MIN
 * after a deletion merges with a sibling when both fit in one node and
 * otherwise takes entries from it until they are even.
 *
 * Appending.  A run of inserts in ascending key order (a snapshot being
 * loaded, an import sorted by key) would descend with a binary search
 * per level and a leaf scan each time.  Once an insert added a key larger
 * than every other (m->appending), the next insert and lookup first walk
 * the rightmost path (no comparisons) and compare with the largest key
 * alone: larger still, it goes to the end of the rightmost leaf; else the
 * usual descent.  This is safe because every separator on the rightmost
 * path bounds the rightmost leaf from below, so a key larger than that
 * leaf's last is larger than them all (no separator equals it).  An
 * insert elsewhere clears the flag, so random inserts pay nothing.
 *
 * Allocation.  Nodes come from a per-map pool; an insertion first makes
 * sure the pool holds one leaf and height+1 inner nodes (the most a
 * cascade of splits can use), so it fails before changing anything.  The
 * pools draw on a bounded process-wide cache (omap_pool.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "omapint.h"

int omap_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
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
 * (up to OMAP_PRE bytes) and, per separator, the 16 bytes that follow it:
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
		p->pfx[i] = okey_pfx(a + p->plen, len - p->plen);
	}
}

/* sep[i] was set: compute its slice, or refresh if it breaks the prefix. */
static void sep_fix(omap_t *m, struct oinner *p, unsigned i)
{
	size_t len;
	const uint8_t *k = m->ops.key(p->sep[i], &len);

	if (len >= p->plen && memcmp(k, p->pre, p->plen) == 0)
		p->pfx[i] = okey_pfx(k + p->plen, len - p->plen);
	else
		node_refresh(m, p);
}

/*
 * Leaves use partial keys relative to the previous entry (Bohannon et al.,
 * "Main-memory index structures with fixed-size partial keys"): a search
 * compares the key with v[0] in full, then walks the partial keys keeping
 * lcp(key, previous entry), which decides almost every entry without
 * reading its record - about one record read per leaf instead of one per
 * binary-search probe.  The walk is linear but over 4-byte entries that
 * sit in four cache lines.
 */

/* Keep a copy of the first key (k) of the leaf, if it is short enough. */
static void k0_set(struct oleaf *l, const uint8_t *k, size_t len)
{
	if (len > OMAP_K0) {
		l->k0len = OMAP_K0_NONE;
		return;
	}
	memcpy(l->k0, k, len);
	l->k0len = (uint8_t)len;
}

/* v[0] changed to an existing value: read its key again. */
static void k0_fix(omap_t *m, struct oleaf *l)
{
	const uint8_t *k;
	size_t len;

	if (!l->h.n)
		return;
	k = m->ops.key(l->v[0], &len);
	k0_set(l, k, len);
}

/* Recompute pk[i] (i >= 1) from the keys of v[i-1] and v[i]. */
static void pk_fix(omap_t *m, struct oleaf *l, unsigned i)
{
	const uint8_t *a, *b;
	size_t al, bl;

	a = m->ops.key(l->v[i - 1], &al);
	b = m->ops.key(l->v[i], &bl);
	opk_make(&l->pk[i], a, al, b, bl);
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
	omap_trim(m);
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
static unsigned inner_find(const omap_t *m, const struct oinner *p, const uint8_t *k, size_t len,
			   int *eq)
{
	unsigned lo = 0, hi = p->h.n - 1, mid;
	size_t n = len < p->plen ? len : p->plen;
	struct oslice kp;
	int c = n ? memcmp(k, p->pre, n) : 0;

	*eq = 0;
	/* Outside the shared prefix: below or above every separator. */
	if (c < 0 || (c == 0 && len < p->plen))
		return 0;
	if (c > 0)
		return p->h.n - 1u;
	kp = okey_pfx(k + p->plen, len - p->plen);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = oslice_cmp(&p->pfx[mid], &kp);
		if (c == 0)
			c = oval_keycmp(m, p->sep[mid], k, len);
		if (c <= 0) {
			lo = mid + 1;
			*eq = c == 0;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/*
 * What leaf_find learns on its way that an insert at the position it
 * returns can use instead of reading the records around it (each read a
 * likely cache miss: records are all over the heap):
 *   d     lcp(k, v[pos-1]) when pos > 0: the new entry's partial key;
 *   succ  how v[pos]'s partial key relative to k is known: OF_SAME, it
 *         is v[pos]'s present one (v[pos] leaves v[pos-1] where k does
 *         not, or at the same byte); OF_KEY, from its key bytes skey
 *         (read anyway); OF_READ, not known.
 */
enum { OF_READ, OF_SAME, OF_KEY };

struct ofind {
	size_t d;	     /* lcp(k, v[pos-1]) (pos > 0) */
	int succ;	     /* OF_READ, OF_SAME, OF_KEY */
	const uint8_t *skey; /* OF_KEY: v[pos]'s key bytes */
	size_t slen;	     /* their length */
};

/*
 * First index in l whose key is >= k (upper: > k).  *eq: a key equals k
 * (at the returned index, or just before it when upper).  f (may be
 * NULL; not with upper): see struct ofind.
 *
 * Invariant of the walk: k > v[i-1] and d = lcp(k, v[i-1]).  With o the
 * offset of pk[i]: o > d means v[i] agrees with v[i-1] where k exceeds it,
 * so k > v[i] (d unchanged); o < d means v[i] exceeds v[i-1] where k
 * equals it, so k < v[i]; o == d compares k with v[i]'s bytes at d, and
 * only if those tie is v[i]'s record read.
 */
static unsigned leaf_find(const omap_t *m, const struct oleaf *l, const uint8_t *k, size_t len,
			  bool upper, int *eq, struct ofind *f)
{
	unsigned n = l->h.n, i;
	const uint8_t *vk;
	size_t d, o, vl, dprev;
	int c;

	*eq = 0;
	if (f)
		f->succ = OF_READ;
	if (!n)
		return 0;
	if (l->k0len != OMAP_K0_NONE) {
		vk = l->k0; /* no record read for the first key */
		vl = l->k0len;
	} else {
		vk = m->ops.key(l->v[0], &vl);
	}
	c = ocmp_from(vk, vl, k, len, 0, &d);
	if (c >= 0) {
		*eq = c == 0;
		if (f && c > 0) {
			f->succ = OF_KEY;
			f->skey = vk;
			f->slen = vl;
		}
		return c == 0 && upper ? 1 : 0;
	}
	for (i = 1; i < n; i++) {
		o = l->pk[i].off & ~OPK_B1;
		if (o > d)
			continue;
		if (o < d)
			goto same;
		/* k has a byte at d: else it would be a prefix of v[i-1] */
		if (k[d] != l->pk[i].b[0]) {
			if (k[d] < l->pk[i].b[0])
				goto same;
			continue;
		}
		if (!(l->pk[i].off & OPK_B1)) {
			/* v[i] ends at d + 1 */
			if (len == d + 1)
				goto found;
			d++;
			continue;
		}
		if (len == d + 1)
			goto ret; /* k is a proper prefix of v[i] */
		if (k[d + 1] != l->pk[i].b[1]) {
			if (k[d + 1] < l->pk[i].b[1])
				goto ret;
			d++;
			continue;
		}
		vk = m->ops.key(l->v[i], &vl);
		dprev = d;
		c = ocmp_from(vk, vl, k, len, d + 2, &d); /* both agree up to d + 2 */
		if (c > 0) {
			if (f) {
				f->succ = OF_KEY;
				f->skey = vk;
				f->slen = vl;
			}
			d = dprev;
			goto ret;
		}
		if (c == 0)
			goto found;
	}
	if (f)
		f->d = d;
	return n;
same:
	if (f)
		f->succ = OF_SAME;
ret:
	if (f)
		f->d = d;
	return i;
found:
	*eq = 1;
	return upper ? i + 1 : i;
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

/*
 * The rightmost leaf (and path, if asked), if k is larger than every key
 * of the map (or the map is empty); else NULL.  *last: the comparison of
 * k with the largest key (1: larger; 0: equal, the leaf is returned too).
 */
static struct oleaf *after_last(const omap_t *m, const uint8_t *k, size_t len,
				struct opath *path, int *last)
{
	struct onode *n = m->root;
	struct oleaf *l;
	unsigned lvl = 0;

	while (!n->leaf) {
		struct oinner *p = (struct oinner *)n;

		if (path) {
			path->node[lvl] = p;
			path->idx[lvl] = p->h.n - 1u;
			path->eq[lvl] = 0;
		}
		lvl++;
		n = p->child[p->h.n - 1];
	}
	l = (struct oleaf *)n;
	if (l->h.n == 0) {
		*last = 1;
		return m->height == 0 ? l : NULL; /* only an empty root is empty */
	}
	*last = -oval_keycmp(m, l->v[l->h.n - 1], k, len);
	return *last >= 0 ? l : NULL;
}

void *omap_get(const omap_t *m, const uint8_t *k, size_t len)
{
	struct oleaf *l;
	int eq, last;
	unsigned i;

	if (m->appending && (l = after_last(m, k, len, NULL, &last)))
		return last == 0 ? l->v[l->h.n - 1] : NULL;
	l = descend(m, k, len, NULL);
	i = leaf_find(m, l, k, len, false, &eq, NULL);

	return eq ? l->v[i] : NULL; /* eq: the key at i is k */
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
	unsigned i = leaf_find(m, l, k, len, upper, &eq, NULL);

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

/* The partial key of b after a key it shares d bytes with (opk_make's). */
static void opk_at(struct opk *pk, const uint8_t *b, size_t bl, size_t d)
{
	pk->off = (uint16_t)d;
	pk->b[0] = b[d];
	pk->b[1] = d + 1 < bl ? b[d + 1] : 0;
	if (d + 1 < bl)
		pk->off |= OPK_B1;
}

/*
 * Insert v (key k) at pos of a leaf with room, keeping the partial keys;
 * f (or NULL: read the neighbours' keys) is leaf_find's for pos, in this
 * leaf or in the one it was split from (entries keep their partial keys
 * when they move, and pos's neighbours stay pos's neighbours).
 */
static void leaf_put(omap_t *m, struct oleaf *l, unsigned pos, void *v, const uint8_t *k,
		     size_t len, const struct ofind *f)
{
	unsigned n = l->h.n;
	const uint8_t *a;
	struct opk succ;
	size_t al;
	int how = f && pos < n ? f->succ : OF_READ;

	/* before anything moves: skey may be this leaf's copy of v[0]'s key */
	if (how == OF_SAME)
		succ = l->pk[pos];
	else if (how == OF_KEY)
		opk_make(&succ, k, len, f->skey, f->slen);
	memmove(&l->v[pos + 1], &l->v[pos], (n - pos) * sizeof(l->v[0]));
	memmove(&l->pk[pos + 1], &l->pk[pos], (n - pos) * sizeof(l->pk[0]));
	l->v[pos] = v;
	l->h.n++;
	if (pos > 0 && f) {
		opk_at(&l->pk[pos], k, len, f->d);
	} else if (pos > 0) {
		a = m->ops.key(l->v[pos - 1], &al);
		opk_make(&l->pk[pos], a, al, k, len);
	} else {
		k0_set(l, k, len);
	}
	if (pos < n && how != OF_READ) {
		l->pk[pos + 1] = succ;
	} else if (pos < n) {
		a = m->ops.key(l->v[pos + 1], &al);
		opk_make(&l->pk[pos + 1], k, len, a, al);
	}
}

/*
 * Shifting (omap.c "Fill"): a full leaf gives entries to a sibling under
 * the same parent instead of splitting.  Entries keep their partial keys
 * when they move, except the one that lands after the sibling's last
 * entry; the parent's separator between the two becomes the right one's
 * new first key (every key left of it is smaller, every key right of it
 * is not: the bound holds, and the parent's own bounds do not move).
 */

/* Move l's first s entries (s < l->h.n) to the end of a, child ci-1 of p. */
static void leaf_shift_left(omap_t *m, struct oinner *p, unsigned ci, struct oleaf *a,
			    struct oleaf *l, unsigned s)
{
	unsigned an = a->h.n, n = l->h.n;
	void *old = p->sep[ci - 1];

	memcpy(&a->v[an], l->v, s * sizeof(l->v[0]));
	memcpy(&a->pk[an], l->pk, s * sizeof(l->pk[0]));
	a->h.n = an + s;
	if (an)
		pk_fix(m, a, an); /* l's old first now follows a's old last */
	else
		k0_fix(m, a);
	memmove(l->v, &l->v[s], (n - s) * sizeof(l->v[0]));
	memmove(l->pk, &l->pk[s], (n - s) * sizeof(l->pk[0]));
	l->h.n = n - s;
	k0_fix(m, l);
	sep_hold(m, l->v[0]);
	p->sep[ci - 1] = l->v[0];
	sep_fix(m, p, ci - 1);
	sep_release(m, old);
}

/* Move l's last s entries (s < l->h.n) to the front of b, child ci+1 of p. */
static void leaf_shift_right(omap_t *m, struct oinner *p, unsigned ci, struct oleaf *l,
			     struct oleaf *b, unsigned s)
{
	unsigned bn = b->h.n, n = l->h.n;
	void *old = p->sep[ci];

	memmove(&b->v[s], b->v, bn * sizeof(b->v[0]));
	memmove(&b->pk[s], b->pk, bn * sizeof(b->pk[0]));
	memcpy(b->v, &l->v[n - s], s * sizeof(l->v[0]));
	memcpy(b->pk, &l->pk[n - s], s * sizeof(l->pk[0]));
	b->h.n = bn + s;
	l->h.n = n - s;
	if (bn)
		pk_fix(m, b, s); /* b's old first now follows l's old last */
	k0_fix(m, b);
	sep_hold(m, b->v[0]);
	p->sep[ci] = b->v[0];
	sep_fix(m, p, ci);
	sep_release(m, old);
}

/*
 * Insert v (key k) at pos of the full leaf l by first moving entries to
 * the sibling with more room, if it has OMAP_SHIFT_ROOM or more: half of
 * that room, so the two end up about equally full.  Not at either end of
 * l (pos 0 or n): those are ordered loads, which the split keeps full.
 * false: nothing moved (split instead).  f is leaf_find's for pos in l;
 * with 0 < pos < n it stays true wherever k lands: its neighbours move
 * with their partial keys, and k never lands at a leaf's front.
 */
static bool leaf_shift_insert(omap_t *m, struct opath *path, struct oleaf *l, unsigned pos,
			      void *v, const uint8_t *k, size_t len, const struct ofind *f,
			      struct omap_cur *at)
{
	struct oinner *p;
	struct oleaf *a = NULL, *b = NULL, *dst;
	unsigned ci, n = l->h.n, ra = 0, rb = 0, s, q;

	if (!m->height || pos == 0 || pos == n)
		return false;
	p = path->node[m->height - 1];
	ci = path->idx[m->height - 1];
	if (ci > 0) {
		a = (struct oleaf *)p->child[ci - 1];
		ra = OMAP_FANOUT - a->h.n;
	}
	if (ci + 1 < p->h.n) {
		b = (struct oleaf *)p->child[ci + 1];
		rb = OMAP_FANOUT - b->h.n;
	}
	if (ra >= rb && ra >= OMAP_SHIFT_ROOM) {
		s = ra / 2;
		leaf_shift_left(m, p, ci, a, l, s);
		/* k follows old v[pos-1], a's now if pos <= s (its end if pos == s) */
		dst = pos <= s ? a : l;
		q = pos <= s ? a->h.n - s + pos : pos - s;
	} else if (rb >= OMAP_SHIFT_ROOM) {
		s = rb / 2;
		leaf_shift_right(m, p, ci, l, b, s);
		q = n - s; /* entries left in l */
		dst = pos <= q ? l : b;
		q = pos <= q ? pos : pos - q;
	} else {
		return false;
	}
	leaf_put(m, dst, q, v, k, len, f);
	cur_set(at, dst, q);
	return true;
}

static void leaf_split_insert(omap_t *m, struct opath *path, struct oleaf *l, unsigned pos, void *v,
			      const uint8_t *k, size_t len, const struct ofind *f,
			      struct omap_cur *at)
{
	struct oleaf *r;
	unsigned ls, n = l->h.n;

	if (pos == n)
		ls = n; /* ascending load: keep the left leaf full */
	else if (pos == 0)
		ls = 0; /* descending load: the new key goes left alone */
	else
		ls = (n + 1) / 2;
	/* Move the entries from ls on to a new right leaf, then insert.
	 * Partial keys move along: each still follows the same key, except
	 * the right leaf's first, which needs none. */
	r = leaf_alloc(m);
	memcpy(r->v, &l->v[ls], (n - ls) * sizeof(l->v[0]));
	memcpy(r->pk, &l->pk[ls], (n - ls) * sizeof(l->pk[0]));
	r->h.n = n - ls;
	l->h.n = ls;
	k0_fix(m, r);
	r->prev = l;
	r->next = l->next;
	if (l->next)
		l->next->prev = r;
	l->next = r;
	if (pos < ls || ls == 0) {
		leaf_put(m, l, pos, v, k, len, f);
		cur_set(at, l, pos);
	} else {
		leaf_put(m, r, pos - ls, v, k, len, f);
		cur_set(at, r, pos - ls);
	}
	sep_hold(m, r->v[0]);
	inner_insert(m, path, (int)m->height - 1, r->v[0], &r->h);
}

int omap_insert(omap_t *m, void *v, void **old)
{
	struct omap_cur at;

	return omap_insert_at(m, v, old, &at);
}

int omap_insert_at(omap_t *m, void *v, void **old, struct omap_cur *at)
{
	struct opath path;
	struct ofind fd, *f = NULL;
	struct oleaf *l;
	const uint8_t *k;
	size_t len;
	unsigned pos, lvl;
	int eq, last;

	*old = NULL;
	if (pool_fill(m, 1, m->height + 1) < 0)
		return -ENOMEM;
	k = m->ops.key(v, &len);
	if (m->appending && (l = after_last(m, k, len, &path, &last)) && last > 0) {
		/* larger than every key: the end of the rightmost leaf */
		pos = l->h.n;
		eq = 0;
	} else {
		l = descend(m, k, len, &path);
		f = &fd;
		pos = leaf_find(m, l, k, len, false, &eq, f);
		m->appending = !eq && pos == l->h.n && !l->next;
	}
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
		cur_set(at, l, pos);
		return 0;
	}
	m->count++;
	if (l->h.n < OMAP_FANOUT) {
		leaf_put(m, l, pos, v, k, len, f);
		cur_set(at, l, pos);
	} else if (!leaf_shift_insert(m, &path, l, pos, v, k, len, f, at)) {
		leaf_split_insert(m, &path, l, pos, v, k, len, f, at);
	}
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
	struct opk pks[2 * OMAP_FANOUT];
	void *old = p->sep[si];
	unsigned t = a->h.n + b->h.n, an, na = a->h.n;

	memcpy(all, a->v, na * sizeof(all[0]));
	memcpy(&all[na], b->v, b->h.n * sizeof(all[0]));
	memcpy(pks, a->pk, na * sizeof(pks[0]));
	memcpy(&pks[na], b->pk, b->h.n * sizeof(pks[0]));
	if (t <= OMAP_FANOUT) {
		memcpy(a->v, all, t * sizeof(all[0]));
		memcpy(a->pk, pks, t * sizeof(pks[0]));
		a->h.n = t;
		if (na && na < t)
			pk_fix(m, a, na); /* b's first now follows a's last */
		if (!na)
			k0_fix(m, a);
		a->next = b->next;
		if (b->next)
			b->next->prev = a;
		inner_remove(p, si);
		node_put(m, &b->h);
		sep_release(m, old);
		return;
	}
	an = t / 2;
	memcpy(a->v, all, an * sizeof(all[0]));
	memcpy(a->pk, pks, an * sizeof(pks[0]));
	a->h.n = an;
	memcpy(b->v, &all[an], (t - an) * sizeof(all[0]));
	memcpy(b->pk, &pks[an], (t - an) * sizeof(pks[0]));
	b->h.n = t - an;
	/* the old boundary (a's last | b's first) may now be inside a or b */
	if (na > 0 && na < an)
		pk_fix(m, a, na);
	else if (na > an)
		pk_fix(m, b, na - an);
	k0_fix(m, a);
	k0_fix(m, b);
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
	unsigned pos = leaf_find(m, l, k, len, false, &eq, NULL);
	void *v;

	if (!eq)
		return NULL;
	v = l->v[pos];
	memmove(&l->v[pos], &l->v[pos + 1], (l->h.n - pos - 1) * sizeof(l->v[0]));
	memmove(&l->pk[pos], &l->pk[pos + 1], (l->h.n - pos - 1) * sizeof(l->pk[0]));
	l->h.n--;
	if (pos > 0 && pos < l->h.n)
		pk_fix(m, l, pos); /* the successor now follows the predecessor */
	if (pos == 0)
		k0_fix(m, l);
	m->count--;
	if (m->height > 0 && l->h.n < OMAP_MIN)
		rebalance(m, &path, (int)m->height - 1);
	return v;
}
