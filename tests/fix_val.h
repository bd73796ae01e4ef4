/*
 * fix_val.h - test helpers: values that live until the test's teardown.
 *
 * Shared by the engine suites (check_db, check_range, check_index): build
 * key values and items from short literals without freeing each one;
 * fix_val_free() in the teardown releases them all.
 */
#ifndef DYNFS_FIX_VAL_H
#define DYNFS_FIX_VAL_H

#include <stdarg.h>
#include <stddef.h>

#include "db.h"
#include "val.h"

/* Set a key attribute's name and type. */
void attr_set(struct key_attr *a, const char *name, enum val_type t);
/* A new zeroed value, kept until fix_val_free(). */
struct val *keep(void);
/* Kept S, N (from its text) and B values. */
const struct val *vs(const char *s);
const struct val *vn(const char *text);
const struct val *vb(const void *p, size_t len);
/* Parse printf-formatted document JSON into *out (new); fails the test on bad JSON. */
void jparse(struct val *out, const char *fmt, va_list ap);
/* A kept item from printf-formatted JSON. */
struct val *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Free every kept value (teardown). */
void fix_val_free(void);

#endif
