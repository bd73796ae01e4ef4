/*
 * fix_store.h - test helpers shared by the suites that keep a database
 * in a store directory or build one table by table (check_store,
 * check_storefault, check_powerloss, check_xfer): a temporary directory
 * removed with everything in it, and a table with string keys.
 */
#ifndef DYNFS_FIX_STORE_H
#define DYNFS_FIX_STORE_H

#include "db.h"
#include "store.h"

/* Remove directory d and everything below it.  Fails the test on error. */
void rm_rf(const char *d);
/* Create table name in db with partition key pk and sort key sk (NULL:
 * none), both of type S.  Fails the test on error. */
void create_table(db_t *db, const char *name, const char *pk, const char *sk);

/*
 * The store st in directory dir as a power loss now would leave it, into
 * directory to (which exists): the snapshot, and the journal up to its
 * synced offset with what follows it lost in one of four ways, in turns
 * (fix_store.c).
 */
void crash_copy(store_t *st, const char *dir, const char *to);

/*
 * The database as text (new, free it): every table's name and schema, its
 * items in key order and each index's items in index order, one compact
 * item a line; db_check_integrity() must pass first.  Two databases with
 * the same contents give the same text.
 */
char *dump_db(db_t *db);

#endif
