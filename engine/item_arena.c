/*
 * item_arena.c - the memory of item_parse_arena()'s values (item.h).
 *
 * A chain of blocks handed out front to back, 16-byte aligned; nothing
 * is freed on its own.  Reset keeps one block: the only one, or, when a
 * cycle (the values between two resets) took several, one as large as
 * all of them together, so a stream of similar items (a snapshot being
 * loaded, a `_batch` group) settles on one block and costs no allocation
 * per item at all.  The parser takes memory through
 * ipar_alloc() (item_parseint.h), which falls back to malloc without an
 * arena.
 */
#include "item_parseint.h"

#include <stdlib.h>

#define ARENA_BLOCK (64 * 1024)

struct arena_block {
	struct arena_block *next; /* older block */
	size_t size;		  /* bytes of data */
	max_align_t data[];	  /* the memory */
};

struct item_arena {
	struct arena_block *head; /* newest block, or NULL */
	size_t used;		  /* bytes of head handed out */
};

struct item_arena *item_arena_new(void)
{
	return calloc(1, sizeof(struct item_arena));
}

void *ipar_arena_alloc(struct item_arena *a, size_t n)
{
	struct arena_block *b;
	size_t size;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->size - a->used < n) {
		size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = a->head;
		b->size = size;
		a->head = b;
		a->used = 0;
	}
	p = (char *)a->head->data + a->used;
	a->used += n;
	return p;
}

size_t item_arena_bytes(const struct item_arena *a)
{
	const struct arena_block *b;
	size_t n = 0;

	for (b = a ? a->head : NULL; b; b = b->next)
		n += b->size;
	return n;
}

void *item_arena_alloc(struct item_arena *a, size_t n)
{
	return ipar_arena_alloc(a, n);
}

void item_arena_reset(struct item_arena *a)
{
	struct arena_block *b, *next;
	size_t total = 0;

	if (!a || !a->head)
		return;
	if (!a->head->next) {
		a->used = 0;
		return;
	}
	for (b = a->head; b; b = next) {
		next = b->next;
		total += b->size;
		free(b);
	}
	/* one block as large as the last cycle's whole: the next one like it
	 * takes nothing from malloc (without it, NULL: the next alloc gets one) */
	a->head = malloc(sizeof(*a->head) + total);
	if (a->head) {
		a->head->next = NULL;
		a->head->size = total;
	}
	a->used = 0;
}

void item_arena_free(struct item_arena *a)
{
	if (!a)
		return;
	item_arena_reset(a);
	free(a->head);
	free(a);
}
