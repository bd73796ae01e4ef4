/*
 * omapint.h - the B+tree's private structures, shared by omap.c (the
 * tree), omap_pool.c (its nodes' pool) and omap_check.c (its invariant
 * checker).  See omap.c for the design; nothing outside those files
 * includes this.
 */
#ifndef DYNFS_OMAPINT_H
#define DYNFS_OMAPINT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "omap.h"

#define OMAP_FANOUT 64		   /* max leaf entries / inner children */
#define OMAP_MIN (OMAP_FANOUT / 4) /* rebalance below this after a delete */
#define OMAP_SHIFT_ROOM 2	   /* a full leaf's sibling with this much room takes entries */
#define OMAP_MAXH 24		   /* inner levels; 2^48 entries need < 12 */
#define OMAP_PRE 64		   /* common separator prefix kept in a node */
#define OMAP_K0 51		   /* a leaf's first key is kept if this short */
#define OMAP_K0_NONE 0xFF	   /* k0len: first key not kept (too long) */

struct onode {
	uint16_t n;   /* leaf: entries; inner: children */
	uint8_t leaf; /* 1 for a leaf */
};

/*
 * A partial key: where v[i]'s key first differs from v[i-1]'s, and the
 * (one or two) bytes of v[i]'s key from there.  Meaningless for v[0].
 */
struct opk {
	uint16_t off; /* lcp with the previous key; OPK_B1 set if b[1] is valid */
	uint8_t b[2]; /* key bytes at off and off+1 */
};

#define OPK_B1 0x8000u /* the key has a byte at off+1 */

struct oleaf {
	struct onode h;		    /* n = entries */
	uint8_t k0len;		    /* bytes in k0, or OMAP_K0_NONE */
	uint8_t k0[OMAP_K0];	    /* v[0]'s key, if it is that short */
	struct oleaf *prev;	    /* left neighbour in key order, or NULL */
	struct oleaf *next;	    /* right neighbour, or NULL */
	struct opk pk[OMAP_FANOUT]; /* partial keys, pk[i] for v[i] (i >= 1) */
	void *v[OMAP_FANOUT];	    /* values, in key order */
};

/* 16 bytes of a key, big-endian, zero padded: compares like the bytes. */
struct oslice {
	uint64_t hi; /* bytes 0..7 */
	uint64_t lo; /* bytes 8..15 */
};

struct oinner {
	struct onode h;			    /* n = children */
	uint8_t plen;			    /* bytes in pre */
	uint8_t pre[OMAP_PRE];		    /* a prefix every sep[i] shares */
	struct oslice pfx[OMAP_FANOUT - 1]; /* 16 key bytes of sep[i] after pre */
	void *sep[OMAP_FANOUT - 1];	    /* sep[i] bounds child[i] | child[i+1] */
	struct onode *child[OMAP_FANOUT];   /* subtrees */
};

/* A free node in the pool (its memory reused for the link). */
struct ofree {
	struct ofree *next; /* next free node of the same kind */
};

struct omap {
	struct omap_ops ops;	  /* key extraction, separator references */
	struct onode *root;	  /* never NULL: an empty leaf when empty */
	unsigned height;	  /* inner levels above the leaves */
	size_t count;		  /* entries */
	size_t nleaf;		  /* leaves in the tree */
	size_t ninner;		  /* inner nodes in the tree */
	struct ofree *free_leaf;  /* pool of leaves */
	struct ofree *free_inner; /* pool of inner nodes */
	size_t nfree_leaf;	  /* entries in free_leaf */
	size_t nfree_inner;	  /* entries in free_inner */
	bool appending;		  /* the last insert added a largest key */
};

/* A root-to-leaf path: the inner nodes and the child index taken. */
struct opath {
	struct oinner *node[OMAP_MAXH]; /* node[0] is the root */
	unsigned idx[OMAP_MAXH];	/* child taken at each level */
	int eq[OMAP_MAXH];		/* separator idx-1 equals the key */
};

/* Big-endian first 8 bytes, zero padded: orders like the bytes do (byte
 * by byte: the reference omap_check compares the fast form with). */
static inline uint64_t okey_pfx8_bytes(const uint8_t *k, size_t len)
{
	uint64_t p = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		p = (p << 8) | (i < len ? k[i] : 0);
	return p;
}

/* The same, as one load and a byte swap (every descent computes two). */
static inline uint64_t okey_pfx8(const uint8_t *k, size_t len)
{
	uint64_t p = 0;
	size_t i;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len >= 8) {
		memcpy(&p, k, 8);
		return __builtin_bswap64(p);
	}
#else
	if (len >= 8)
		return okey_pfx8_bytes(k, len);
#endif
	for (i = 0; i < len; i++)
		p |= (uint64_t)k[i] << (56 - 8 * i);
	return p;
}

static inline struct oslice okey_pfx(const uint8_t *k, size_t len)
{
	struct oslice s = {okey_pfx8(k, len), len > 8 ? okey_pfx8(k + 8, len - 8) : 0};

	return s;
}

/* Order of two slices; 0 when the keys must be compared in full. */
static inline int oslice_cmp(const struct oslice *a, const struct oslice *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static inline int oval_keycmp(const omap_t *m, const void *v, const uint8_t *k, size_t len)
{
	size_t vl;
	const uint8_t *vk = m->ops.key(v, &vl);

	return omap_keycmp(vk, vl, k, len);
}

/* Compare a with b from byte `from` on (the bytes before are equal); *lcp. */
static inline int ocmp_from(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, size_t from,
			    size_t *lcp)
{
	size_t n = al < bl ? al : bl, i = from;

	while (i < n && a[i] == b[i])
		i++;
	*lcp = i;
	if (i < n)
		return a[i] < b[i] ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

/* Partial key of key b following key a (a < b). */
static inline void opk_make(struct opk *pk, const uint8_t *a, size_t al, const uint8_t *b,
			    size_t bl)
{
	size_t d;

	ocmp_from(a, al, b, bl, 0, &d);
	/* b > a and they agree on d bytes: b has a byte at d */
	pk->off = (uint16_t)d;
	pk->b[0] = b[d];
	pk->b[1] = d + 1 < bl ? b[d + 1] : 0;
	if (d + 1 < bl)
		pk->off |= OPK_B1;
}


/* ---- the node pool (omap_pool.c) ---- */

int omap_pool_refill(omap_t *m, size_t leaves, size_t inners);

/* Make sure m's pool holds this many free nodes of each kind. */
static inline int pool_fill(omap_t *m, size_t leaves, size_t inners)
{
	if (m->nfree_leaf >= leaves && m->nfree_inner >= inners)
		return 0;
	return omap_pool_refill(m, leaves, inners);
}

/* Callers made sure the pool is not empty (pool_fill). */
static inline struct oleaf *leaf_alloc(omap_t *m)
{
	struct ofree *f = m->free_leaf;
	struct oleaf *l = (struct oleaf *)f;

	m->free_leaf = f->next;
	m->nfree_leaf--;
	m->nleaf++;
	l->h.n = 0;
	l->h.leaf = 1;
	l->k0len = 0;
	l->prev = l->next = NULL;
	return l;
}

static inline struct oinner *inner_alloc(omap_t *m)
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

static inline void node_put(omap_t *m, struct onode *n)
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

#endif
