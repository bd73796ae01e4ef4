/*
 * omap_check.c - the B+tree's invariant checker (omap_check, omap.h).
 *
 * It walks the whole tree and recomputes everything the tree caches:
 * depth, fill, order along the leaf chain and against every separator
 * bound, each inner node's shared prefix and separator slices, each
 * leaf's copy of its first key and its partial keys, and the count.
 */
#include <errno.h>
#include <stdio.h>

#include "omapint.h"

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
	if (l->h.n && l->k0len != OMAP_K0_NONE) {
		k = m->ops.key(l->v[0], &len);
		if (len != l->k0len || memcmp(k, l->k0, len) != 0)
			return check_fail(c, "stale copy of a leaf's first key");
	}
	for (i = 0; i < l->h.n; i++) {
		k = m->ops.key(l->v[i], &len);
		if (i > 0 && oval_keycmp(m, l->v[i - 1], k, len) >= 0)
			return check_fail(c, "keys out of order in a leaf");
		if (i > 0) {
			struct opk want;
			const uint8_t *pk;
			size_t pl;

			pk = m->ops.key(l->v[i - 1], &pl);
			opk_make(&want, pk, pl, k, len);
			if (memcmp(&want, &l->pk[i], sizeof(want)) != 0)
				return check_fail(c, "stale partial key in a leaf");
		}
		if (lo && oval_keycmp(m, lo, k, len) > 0)
			return check_fail(c, "key below its separator");
		if (hi && oval_keycmp(m, hi, k, len) <= 0)
			return check_fail(c, "key not below the next separator");
	}
	if (c->prev_leaf && c->prev_leaf->h.n && l->h.n) {
		k = m->ops.key(l->v[0], &len);
		if (oval_keycmp(m, c->prev_leaf->v[c->prev_leaf->h.n - 1], k, len) >= 0)
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
		/* the byte-wise form, the reference for okey_pfx's */
		struct oslice want = {okey_pfx8_bytes(k + p->plen, len - p->plen),
				      len - p->plen > 8
					  ? okey_pfx8_bytes(k + p->plen + 8, len - p->plen - 8)
					  : 0};

		if (oslice_cmp(&p->pfx[i], &want) != 0)
			return check_fail(c, "separator slice mismatch");
		if (i > 0 && oval_keycmp(m, p->sep[i - 1], k, len) >= 0)
			return check_fail(c, "separators out of order");
		if (lo && oval_keycmp(m, lo, k, len) > 0)
			return check_fail(c, "separator below its bound");
		if (hi && oval_keycmp(m, hi, k, len) <= 0)
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
	struct ocheck c = {.m = m, .buf = buf, .size = size};
	int rc = check_node(&c, m->root, 0, NULL, NULL, true);

	if (rc)
		return rc;
	if (c.prev_leaf && c.prev_leaf->next)
		return check_fail(&c, "leaf chain runs past the last leaf");
	if (c.count != m->count)
		return check_fail(&c, "count does not match the leaves");
	return 0;
}
