/*
 * omap.h - an ordered map from byte-string keys to pointers (a B+tree).
 *
 * The map stores only pointers.  A key is not copied into the tree: it is
 * read out of the value through ops->key(), so a record that already holds
 * its own key bytes costs the tree one pointer and a 4-byte partial key
 * per entry: about 13 bytes per entry in full leaves (key-ordered loads),
 * about 16 in random order (a full leaf gives entries to a sibling before
 * it splits; 20 without).  Keys compare with memcmp(), a
 * shorter key first on a common prefix.
 *
 * Inner nodes separate their children with pointers to values as well.  A
 * separator may outlive the value's membership in the map (a deleted key
 * stays a valid bound), so the map tells the owner when a separator starts
 * and stops referring to a value (ops->hold / ops->release); the owner
 * keeps such a value allocated until released, which a reference count
 * does.  In exchange the tree never copies keys and needs no allocation
 * other than whole nodes.
 *
 * No allocation after reservation.  omap_reserve(m, k) fills a private pool
 * with enough nodes that the next k insertions cannot fail; deletions
 * never allocate.  The database reserves before it hands a change to the
 * journal, so a change the journal accepted always reaches memory.
 *
 * Invariants (omap_check() verifies them):
 *   - every leaf is at the same depth; leaves are linked in key order;
 *   - keys are unique and strictly increasing along the leaf chain;
 *   - an inner node has 2..OMAP_FANOUT children (the root too, unless the
 *     root is a leaf); a leaf other than the root holds 1..OMAP_FANOUT;
 *   - for separator s between children i and i+1: every key in child i is
 *     < key(s) <= every key in child i+1;
 *   - count equals the number of entries in the leaves.
 *
 * Thread safety: none; the caller locks (the database's table rwlock:
 * lookups and cursors under the read side, changes under the write side).
 * Cursors are invalidated by any change to the map.
 */
#ifndef DYNFS_OMAP_H
#define DYNFS_OMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct omap omap_t;

struct omap_ops {
	/* The key bytes of value v (borrowed from v). */
	const uint8_t *(*key)(const void *v, size_t *len);
	/* A separator starts referring to v (may be NULL: no-op). */
	void (*hold)(void *v);
	/* A separator stops referring to v (may be NULL: no-op). */
	void (*release)(void *v);
};

/* A position in the map: valid until the next change. */
struct omap_cur {
	void *leaf; /* current leaf, NULL when not positioned */
	unsigned i; /* entry index in the leaf */
};

enum omap_seek {
	OMAP_GE, /* first key >= k */
	OMAP_GT, /* first key > k */
	OMAP_LE, /* last key <= k */
	OMAP_LT, /* last key < k */
};

/* A new empty map (new; omap_free).  ops is copied.  -ENOMEM. */
int omap_new(const struct omap_ops *ops, omap_t **out);
/*
 * Free the map.  fn (may be NULL) is called once for every value in the
 * map; separators are released through ops->release.  NULL-safe.
 */
void omap_free(omap_t *m, void (*fn)(void *v, void *ctx), void *ctx);

/* Number of entries. */
size_t omap_count(const omap_t *m);
/* Bytes of tree nodes (not counting the values). */
size_t omap_mem(const omap_t *m);

/* The value with key k, or NULL. */
void *omap_get(const omap_t *m, const uint8_t *k, size_t len);

/*
 * Make sure the next n insertions cannot fail (allocates nodes into the
 * map's pool).  -ENOMEM (the map is unchanged).
 */
int omap_reserve(omap_t *m, size_t n);
/* Give pooled nodes beyond a small reserve back to malloc. */
void omap_trim(omap_t *m);

/*
 * Insert v under its key.  If a value with the same key exists it is
 * replaced and returned in *old (which the map no longer holds), else
 * *old is NULL.  -ENOMEM only if no reservation covers this insert; the
 * map is unchanged then.
 */
int omap_insert(omap_t *m, void *v, void **old);
/* omap_insert, and *at positioned on v afterwards. */
int omap_insert_at(omap_t *m, void *v, void **old, struct omap_cur *at);
/* Remove the entry with key k; returns its value, or NULL if absent. */
void *omap_delete(omap_t *m, const uint8_t *k, size_t len);

/* Position c at the first / last entry; false if the map is empty. */
bool omap_first(const omap_t *m, struct omap_cur *c);
bool omap_last(const omap_t *m, struct omap_cur *c);
/* Position c by key; false (c cleared) if there is no such entry. */
bool omap_seek(const omap_t *m, const uint8_t *k, size_t len, enum omap_seek how,
	       struct omap_cur *c);
/* Move to the next / previous entry; false (c cleared) past the end. */
bool omap_next(struct omap_cur *c);
bool omap_prev(struct omap_cur *c);
/* The value at c (c must be positioned). */
void *omap_cur_val(const struct omap_cur *c);
/* The key bytes of v through m's ops (borrowed from v). */
const uint8_t *omap_val_key(const omap_t *m, const void *v, size_t *len);

/*
 * Verify the invariants above.  0, or -EUCLEAN with a description of the
 * first violation in buf.
 */
int omap_check(const omap_t *m, char *buf, size_t size);

/* memcmp order of two byte strings, a shorter one first on a tie. */
int omap_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

#endif
