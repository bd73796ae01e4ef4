/*
 * nodemem.c - memory for nodes (inode.c): 2 MB chunks of same-size
 * slots, backed by a transparent huge page where the kernel gives one.
 *
 * Why.  `ls -l` of a big directory makes one node per entry.  Once the
 * kernel forgot a listing (and malloc_trim gave the pages back, for the
 * RSS goal of t_memory), the next listing's nodes touched fresh pages: a
 * page fault per dozen nodes, which on the 2-core development VM costs
 * about 20 µs (32 MB touched page by page: 180 ms; as huge pages: 3 ms).
 * With glibc's own work on a heap the FORGETs had fragmented, that was
 * the largest part of the daemon's time in `ls -l` (perf, issue 12).
 *
 * Layout.  A chunk is NM_CHUNK bytes aligned to NM_CHUNK: a header, then
 * slots of one size class (multiples of NM_ALIGN bytes up to NM_MAX), so
 * a slot's chunk is its address rounded down.  Free slots are a list
 * inside their chunk; slots never used yet come from `bump`.  Chunks
 * with a free slot are on their class's list.  A chunk whose last slot is
 * freed is unmapped, but one empty chunk per class is kept (one node made
 * and forgotten over and over must not map and unmap 2 MB each time):
 * after the kernel forgets a listing the memory goes back to the system.
 * Without huge pages (THP "never") a chunk's pages fault in one by one,
 * as malloc's did.
 *
 * Bigger nodes (long keys), and builds run under AddressSanitizer or
 * valgrind (which must see every node to catch its misuse), use calloc.
 * Memory is zeroed.  Thread-safe: one mutex.
 */
#include "fsx.h"
#include "../engine/instrumented.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NM_CHUNK ((size_t)2 << 20) /* a chunk: one huge page */
#define NM_ALIGN 32		   /* slot sizes are multiples of this */
#define NM_MAX 640		   /* bigger nodes use calloc */
#define NM_CLASSES (NM_MAX / NM_ALIGN + 1)

struct nm_chunk {
	struct nm_chunk *next, *prev; /* on its class's list (has a free slot) */
	bool listed;		      /* on the list */
	unsigned cls;		      /* size class: slot bytes / NM_ALIGN */
	size_t used;		      /* slots in use */
	void *free;		      /* freed slots (each starts with the next) */
	char *bump;		      /* slots never used start here */
	char *end;		      /* end of the last whole slot */
};

#define NM_HDR ((sizeof(struct nm_chunk) + 63) & ~(size_t)63)

static pthread_mutex_t nm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nm_chunk *nm_avail[NM_CLASSES]; /* chunks with a free slot */
static struct nm_chunk *nm_spare[NM_CLASSES]; /* one empty chunk kept */
static int nm_mode;			      /* 0 unknown, 1 chunks, -1 calloc */

static bool nm_enabled(void)
{
	int m = __atomic_load_n(&nm_mode, __ATOMIC_RELAXED);

	if (m == 0) {
		m = INSTR_ASAN || instr_valgrind() ? -1 : 1;
		__atomic_store_n(&nm_mode, m, __ATOMIC_RELAXED);
	}
	return m > 0;
}

static struct nm_chunk *chunk_new(unsigned cls)
{
	size_t slot = (size_t)cls * NM_ALIGN;
	char *p, *base;
	struct nm_chunk *c;

	p = mmap(NULL, 2 * NM_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)p + NM_CHUNK - 1) & ~(uintptr_t)(NM_CHUNK - 1));
	if (base > p)
		munmap(p, (size_t)(base - p));
	if (base + NM_CHUNK < p + 2 * NM_CHUNK)
		munmap(base + NM_CHUNK, (size_t)(p + 2 * NM_CHUNK - (base + NM_CHUNK)));
#ifdef MADV_HUGEPAGE
	madvise(base, NM_CHUNK, MADV_HUGEPAGE);
#endif
	c = (struct nm_chunk *)base;
	c->cls = cls;
	c->bump = base + NM_HDR;
	c->end = base + NM_HDR + (NM_CHUNK - NM_HDR) / slot * slot;
	return c;
}

static void avail_add(struct nm_chunk *c)
{
	c->prev = NULL;
	c->next = nm_avail[c->cls];
	if (c->next)
		c->next->prev = c;
	nm_avail[c->cls] = c;
	c->listed = true;
}

static void avail_del(struct nm_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		nm_avail[c->cls] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->listed = false;
}

void *nodemem_alloc(size_t size, bool *slab)
{
	unsigned cls = (unsigned)((size + NM_ALIGN - 1) / NM_ALIGN);
	struct nm_chunk *c;
	void *p;

	*slab = false;
	if (size > NM_MAX || !nm_enabled())
		return calloc(1, size);
	pthread_mutex_lock(&nm_lock);
	c = nm_avail[cls];
	if (!c && (c = nm_spare[cls]))
		nm_spare[cls] = NULL;
	else if (!c && !(c = chunk_new(cls))) {
		pthread_mutex_unlock(&nm_lock);
		return calloc(1, size);
	}
	if (!c->listed)
		avail_add(c);
	if (c->free) {
		p = c->free;
		c->free = *(void **)p;
	} else {
		p = c->bump;
		c->bump += (size_t)cls * NM_ALIGN;
	}
	c->used++;
	if (!c->free && c->bump == c->end)
		avail_del(c); /* full */
	pthread_mutex_unlock(&nm_lock);
	memset(p, 0, (size_t)cls * NM_ALIGN);
	*slab = true;
	return p;
}

void nodemem_free(void *p, bool slab)
{
	struct nm_chunk *c, *drop = NULL;

	if (!slab) {
		free(p);
		return;
	}
	if (!p)
		return;
	c = (struct nm_chunk *)((uintptr_t)p & ~(uintptr_t)(NM_CHUNK - 1));
	pthread_mutex_lock(&nm_lock);
	*(void **)p = c->free;
	c->free = p;
	c->used--;
	if (c->used == 0) {
		if (c->listed)
			avail_del(c);
		/* forget its slots: a spare starts over from bump */
		c->free = NULL;
		c->bump = (char *)c + NM_HDR;
		if (nm_spare[c->cls])
			drop = c;
		else
			nm_spare[c->cls] = c;
	} else if (!c->listed) {
		avail_add(c);
	}
	pthread_mutex_unlock(&nm_lock);
	if (drop)
		munmap(drop, NM_CHUNK);
}
