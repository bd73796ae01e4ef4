/*
 * omap_pool.c - where the B+tree's nodes come from (omap.c has the tree).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "omapint.h"

/*
 * Behind every map's pool sits one process-wide cache of free nodes, so
 * that a map holds no spare nodes between writes (a few KB each, which
 * thousands of tables and indexes would otherwise keep): reserving takes
 * nodes from the cache, trimming gives them back, and the cache keeps at
 * most OMAP_CACHE nodes of each kind.
 */
#define OMAP_CACHE 256 /* free nodes of each kind kept process-wide */

static struct {
	pthread_mutex_t lock; /* protects the fields below */
	struct ofree *leaf;   /* free leaves */
	struct ofree *inner;  /* free inner nodes */
	size_t nleaf;	      /* entries in leaf */
	size_t ninner;	      /* entries in inner */
} ocache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Move up to n nodes from one free list to another; returns how many. */
static size_t list_move(struct ofree **from, size_t *nfrom, struct ofree **to, size_t *nto,
			size_t n)
{
	struct ofree *f;
	size_t k;

	for (k = 0; k < n && *from; k++) {
		f = *from;
		*from = f->next;
		f->next = *to;
		*to = f;
	}
	*nfrom -= k;
	*nto += k;
	return k;
}

static int list_fill(struct ofree **list, size_t *n, size_t want, size_t size)
{
	struct ofree *f;

	while (*n < want) {
		f = malloc(size);
		if (!f)
			return -ENOMEM;
		f->next = *list;
		*list = f;
		(*n)++;
	}
	return 0;
}

/* pool_fill's slow path (omapint.h): top the pool up from the cache,
 * then from malloc. */
int omap_pool_refill(omap_t *m, size_t leaves, size_t inners)
{
	pthread_mutex_lock(&ocache.lock);
	if (m->nfree_leaf < leaves)
		list_move(&ocache.leaf, &ocache.nleaf, &m->free_leaf, &m->nfree_leaf,
			  leaves - m->nfree_leaf);
	if (m->nfree_inner < inners)
		list_move(&ocache.inner, &ocache.ninner, &m->free_inner, &m->nfree_inner,
			  inners - m->nfree_inner);
	pthread_mutex_unlock(&ocache.lock);
	if (list_fill(&m->free_leaf, &m->nfree_leaf, leaves, sizeof(struct oleaf)) < 0 ||
	    list_fill(&m->free_inner, &m->nfree_inner, inners, sizeof(struct oinner)) < 0)
		return -ENOMEM;
	return 0;
}




static void pool_drain(struct ofree **list, size_t *n)
{
	struct ofree *f;

	while (*n) {
		f = *list;
		*list = f->next;
		free(f);
		(*n)--;
	}
}

/*
 * Each insert splits at most one leaf and height+1 inner nodes (a new
 * root included).  The height can grow during a run of inserts, but a
 * new root has two children and must gain OMAP_FANOUT-2 more before it
 * splits, so a run of up to a few hundred inserts (db_apply's limit is
 * DB_MAX_TX_OPS) grows it at most twice: hence height+3 per insert.
 */
static size_t inner_need(const omap_t *m, size_t n)
{
	return n * (m->height + 3) + 2;
}

int omap_reserve(omap_t *m, size_t n)
{
	return pool_fill(m, n, inner_need(m, n));
}

void omap_trim(omap_t *m)
{
	if (!m->nfree_leaf && !m->nfree_inner)
		return;
	pthread_mutex_lock(&ocache.lock);
	list_move(&m->free_leaf, &m->nfree_leaf, &ocache.leaf, &ocache.nleaf,
		  ocache.nleaf < OMAP_CACHE ? OMAP_CACHE - ocache.nleaf : 0);
	list_move(&m->free_inner, &m->nfree_inner, &ocache.inner, &ocache.ninner,
		  ocache.ninner < OMAP_CACHE ? OMAP_CACHE - ocache.ninner : 0);
	pthread_mutex_unlock(&ocache.lock);
	pool_drain(&m->free_leaf, &m->nfree_leaf);
	pool_drain(&m->free_inner, &m->nfree_inner);
}
