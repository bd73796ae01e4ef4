/*
 * fix_store.h - test helpers shared by the suites that keep a database
 * in a store directory or build one table by table (check_store,
 * check_storefault, check_powerloss, check_xfer): a temporary directory
 * removed with everything in it, and a table with string keys.
 */
#ifndef DYNFS_FIX_STORE_H
#define DYNFS_FIX_STORE_H

#include "db.h"

/* Remove directory d and everything below it.  Fails the test on error. */
void rm_rf(const char *d);
/* Create table name in db with partition key pk and sort key sk (NULL:
 * none), both of type S.  Fails the test on error. */
void create_table(db_t *db, const char *name, const char *pk, const char *sk);

#endif
