/*
 * fix_db.h - the checked fixture of the table suites (check_db,
 * check_range): a fresh database per test with four tables, and helpers
 * to put, get and collect items as short strings.  The teardown runs
 * db_check_integrity() on whatever the test left behind.
 */
#ifndef DYNFS_FIX_DB_H
#define DYNFS_FIX_DB_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "fix_val.h"

extern db_t *db;
extern table_t *tq; /* quiz-stats: "id#level" S, "week" S */
extern table_t *tu; /* users: "username" S, no sort key */
extern table_t *tn; /* nums: "p" S, "n" N */
extern table_t *tb; /* bins: "p" S, "b" B */

void fix_db_setup(void);
void fix_db_teardown(void);
/* A new test case of suite s running under fix_db_setup/teardown. */
TCase *fix_db_tcase(Suite *s, const char *name);

/* A schema with the given keys (sk NULL: none), no indexes. */
void schema_init(struct table_schema *s, const char *pk, enum val_type pt, const char *sk,
		 enum val_type st);
/* Create and open a table in db. */
table_t *mk_table(const char *name, const char *pk, enum val_type pt, const char *sk,
		  enum val_type st);
/* tbl_put of an item from printf-formatted JSON. */
int put(table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int put_err(table_t *t, int flags, struct dyn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Compact JSON of the stored item (static buffer), or NULL. */
const char *get_c(table_t *t, const struct val *pk, const struct val *sk);
/* A key value as text (S as is, N canonical, B as hex). */
void val_str(const struct val *v, char *buf, size_t size);

/* A visitor collecting "sk" (or "pk" without sort key) as a,b,c. */
struct coll {
	char out[8192]; /* comma-separated keys */
	size_t n;	/* items seen */
	bool full;	/* "pk/sk" instead of just the sort key */
};
int collect(void *ctx, const struct item_ref *r);
/* tbl_query collected (static buffer); fails the test on error. */
const char *query(table_t *t, const struct tbl_query *q);

#endif
