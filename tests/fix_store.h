/*
 * fix_store.h - test helpers shared by the suites that keep a database
 * in a store directory or build one table by table (check_store,
 * check_storefault, check_powerloss, check_xfer, and the race suites
 * check_snaprace, check_ttlrace, check_aheadrace, check_syncrace): a
 * temporary directory removed with everything in it, a table with string
 * keys, a store opened, a power-loss copy, a database as text.
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

/* tbl_put of the item in json (which must parse) into table: its answer,
 * -ENOENT if there is no such table. */
int put_json(db_t *db, const char *table, const char *json);
/* store_open of directory d (created if empty) with fsync mode; fails
 * the test on error. */
store_t *open_store_at(const char *d, enum store_fsync mode, db_t **db);
/* Fail the test, showing both, unless got and want are the same text. */
void same_text(const char *what, const char *got, const char *want);
/* Close st (its database with it), open directory d again with fsync
 * mode, and fail the test unless its database reads as want (dump_db);
 * then close it. */
void same_after_reopen(store_t *st, const char *d, enum store_fsync mode, const char *want);

#endif
