/*
 * val.h - attribute values: DynamoDB's ten types as a tree of C structs.
 *
 * struct val is the engine's working form of an item.  Items are *stored*
 * compactly (item.h: item_encode) and decoded into this form only while an
 * operation works on them, so this form favours simplicity over size.
 *
 * Invariants (val_check() verifies them):
 *   - S and B hold len bytes at p, followed by a NUL that is not part of
 *     the value (so S can be printed; B may contain NULs).  S is UTF-8.
 *   - M: attributes sorted by name in byte order (memcmp, shorter first
 *     on a common prefix), names unique.
 *   - SS, NS, BS: at least one element, all of the set's element type
 *     (S, N, B), sorted (S and B by bytes, N numerically), no duplicates.
 *   - L: any elements, in order.
 *   - an item is a VAL_M at the top level.
 * Ownership: a struct val owns everything it points to; val_free() releases
 * the contents (not the struct itself, which is usually embedded).
 */
#ifndef DYNFS_VAL_H
#define DYNFS_VAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "num.h"

enum val_type {
	VAL_NULL,
	VAL_BOOL,
	VAL_S,
	VAL_N,
	VAL_B,
	VAL_L,
	VAL_M,
	VAL_SS,
	VAL_NS,
	VAL_BS,
};

struct val_attr;

struct val {
	enum val_type type; /* which member of the union is live */
	union {
		bool b;	      /* BOOL */
		struct num n; /* N */
		struct {
			char *p;    /* bytes + NUL terminator, never NULL */
			size_t len; /* length without the terminator */
		} s;		    /* S and B */
		struct {
			struct val *v; /* elements */
			size_t len;    /* used */
			size_t cap;    /* allocated */
		} l;		       /* L, SS, NS, BS */
		struct {
			struct val_attr *a; /* attributes, sorted by name */
			size_t len;	    /* used */
			size_t cap;	    /* allocated */
		} m;			    /* M */
	};
};

struct val_attr {
	char *name;	 /* NUL-terminated; may not contain NUL */
	size_t name_len; /* strlen(name) */
	struct val v;	 /* the value */
};

/* The order of a map's attribute names (and of set elements in stored
 * form): memcmp, then the shorter first.  <0, 0 or >0. */
static inline int val_name_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

/* "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS". */
const char *val_type_name(enum val_type t);
/* Inverse of val_type_name; -EINVAL for an unknown name. */
int val_type_from_name(const char *name, enum val_type *out);
/* S, N or B: the types a key attribute may have. */
bool val_type_is_key(enum val_type t);
/* SS, NS, BS. */
bool val_type_is_set(enum val_type t);
/* Element type of a set type (VAL_SS -> VAL_S ...). */
enum val_type val_set_elem_type(enum val_type set);

/* Constructors.  They initialise *out; strings are copied.  -ENOMEM. */
void val_init_null(struct val *out);
void val_init_bool(struct val *out, bool b);
void val_init_num(struct val *out, const struct num *n);
int val_init_str(struct val *out, const char *p, size_t len);  /* S */
int val_init_bin(struct val *out, const void *p, size_t len);  /* B */
/* An S that takes p (malloc'd, p[len] == 0) instead of copying it. */
void val_init_str_take(struct val *out, char *p, size_t len);
void val_init_list(struct val *out);			       /* empty L */
void val_init_map(struct val *out);			       /* empty M */
void val_init_set(struct val *out, enum val_type set_type);    /* empty SS/NS/BS */

/* Release everything v owns and leave it VAL_NULL.  NULL-safe. */
void val_free(struct val *v);
/* Deep copy into *out (new).  -ENOMEM. */
int val_copy(struct val *out, const struct val *v);
/* Move: *out takes v's contents, v becomes VAL_NULL. */
void val_move(struct val *out, struct val *v);

/* Deep equality (DynamoDB's: N numerically, sets as sets). */
bool val_equal(const struct val *a, const struct val *b);
/*
 * Order of two values of the same key type (S, B: bytes; N: numeric).
 * Only meaningful for S/N/B of equal type; returns 0 otherwise.
 */
int val_cmp(const struct val *a, const struct val *b);

/* Map access.  Lookups are binary searches (O(log n)). */
/* Borrowed pointer to the value of attribute name, or NULL. */
struct val *val_map_get(const struct val *m, const char *name, size_t name_len);
/*
 * Set attribute name to *v, stealing v's contents (v becomes VAL_NULL),
 * replacing any previous value.  -ENOMEM (then v is still freed).
 */
int val_map_set(struct val *m, const char *name, size_t name_len, struct val *v);
/*
 * Add attribute name, not yet in m, to *v: as val_map_set, but taking
 * name (malloc'd, name[name_len] == 0) instead of copying it.  On error
 * nothing is taken (name and v stay the caller's): -EEXIST if m has the
 * name already, -ENOMEM.  For parsers that made the name anyway.
 */
int val_map_add_take(struct val *m, char *name, size_t name_len, struct val *v);
/* Remove attribute name; returns 1 if removed, 0 if absent. */
int val_map_remove(struct val *m, const char *name, size_t name_len);

/* Append *v to an L, stealing it.  -ENOMEM. */
int val_list_append(struct val *l, struct val *v);

/*
 * Add *v (of the set's element type) to a set, stealing it, keeping the
 * set sorted.  Returns 1 if added, 0 if it was already there (v freed),
 * -EINVAL for a wrong element type.
 */
int val_set_add(struct val *set, struct val *v);
/* Remove an element equal to e; 1 if removed, 0 if absent. */
int val_set_remove(struct val *set, const struct val *e);
/* Index of an element equal to e, or -1. */
long val_set_find(const struct val *set, const struct val *e);

/*
 * Verify the invariants above, recursively.  Fills err (with the attribute
 * path) and returns -EINVAL on the first violation.
 */
int val_check(const struct val *v, struct dyn_err *err);

/* True if the bytes are valid UTF-8 (no overlongs, no surrogates). */
bool val_utf8_valid(const char *p, size_t len);

#endif
