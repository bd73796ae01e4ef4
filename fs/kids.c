/*
 * kids.c - the sorted lists a node keeps of other nodes (split from
 * inode.c): a table's pinned partitions (empty partitions made by mkdir
 * or left by unlink, which exist only in memory; readdir lists them
 * among the stored ones, fs/readdir.c), sorted by partition key, and a
 * directory's scratch children (editor and tool temporaries, like
 * tmpfs), sorted by name.  Both are arrays under fs.ilock, searched by
 * bisection.
 */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- pins ---- */

static size_t pins_lower(struct node *tn, const struct val *pk, bool after)
{
	size_t lo = 0, hi = tn->npins;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = val_cmp(&tn->pins[mid]->pk, pk);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int node_pin_locked(struct fsx *fs, struct node *tn, struct node *pn)
{
	size_t at;

	if (pn->pinned)
		return 0;
	if (tn->npins == tn->pins_cap) {
		size_t ncap = tn->pins_cap ? tn->pins_cap * 2 : 8;
		struct node **np = realloc(tn->pins, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		tn->pins = np;
		tn->pins_cap = ncap;
	}
	at = pins_lower(tn, &pn->pk, false);
	memmove(tn->pins + at + 1, tn->pins + at, (tn->npins - at) * sizeof(*tn->pins));
	tn->pins[at] = pn;
	tn->npins++;
	pn->pinned = true;
	pn->ctime_ns = fsx_now_ns();
	return 0;
}

void node_unpin_locked(struct fsx *fs, struct node *pn)
{
	struct node *tn;
	size_t i;

	if (!pn->pinned)
		return;
	pn->pinned = false;
	tn = node_find_locked(fs, NK_TABLE, pn->tname, NULL, NULL);
	if (tn) {
		for (i = 0; i < tn->npins && tn->pins[i] != pn; i++)
			;
		if (i < tn->npins) {
			memmove(tn->pins + i, tn->pins + i + 1,
				(tn->npins - i - 1) * sizeof(*tn->pins));
			tn->npins--;
		}
		node_maybe_free_locked(fs, tn);
	}
	node_maybe_free_locked(fs, pn);
}

size_t node_pins_after_locked(struct node *tn, const struct val *after, struct node ***first)
{
	size_t at = after ? pins_lower(tn, after, true) : 0;

	*first = tn->pins + at;
	return tn->npins - at;
}

/* ---- scratch children ---- */

static size_t kids_lower(struct kids *k, const char *name, bool after)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(k->v[mid].name, name);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct node *kids_find(struct kids *k, const char *name)
{
	size_t at = kids_lower(k, name, false);

	return at < k->n && !strcmp(k->v[at].name, name) ? k->v[at].node : NULL;
}

int kids_add(struct kids *k, const char *name, struct node *child)
{
	size_t at = kids_lower(k, name, false);
	char *copy;

	if (at < k->n && !strcmp(k->v[at].name, name))
		return -EEXIST;
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 8;
		struct kid *nv = realloc(k->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		k->v = nv;
		k->cap = ncap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	memmove(k->v + at + 1, k->v + at, (k->n - at) * sizeof(*k->v));
	k->v[at].name = copy;
	k->v[at].node = child;
	k->n++;
	child->scr->nlink++;
	return 0;
}

struct node *kids_del(struct kids *k, const char *name)
{
	size_t at = kids_lower(k, name, false);
	struct node *c;

	if (at >= k->n || strcmp(k->v[at].name, name))
		return NULL;
	c = k->v[at].node;
	free(k->v[at].name);
	memmove(k->v + at, k->v + at + 1, (k->n - at - 1) * sizeof(*k->v));
	k->n--;
	if (c->scr && c->scr->nlink)
		c->scr->nlink--;
	return c;
}

size_t kids_after(struct kids *k, const char *after)
{
	return after ? kids_lower(k, after, true) : 0;
}
