/*
 * ttl.h - items that expire (SPEC §11): a table's schema may name a TTL
 * attribute (struct table_schema.ttl_attr, "ttl_attribute" in
 * _schema.json); an item whose value for it is a number N of epoch
 * seconds with N < now is deleted by a sweeper, through db_apply() like
 * any write, with DB_BY_TTL so the change feed says "by": "ttl".
 *
 * Selection (ttl_expired): only a top-level attribute of type N counts;
 * a string, a set, a map, an absent attribute never expire (DynamoDB's
 * rule).  Every delete re-checks the item under the write lock (a
 * condition callback) by the table's TTL attribute as it is then, so an
 * item renewed, or a table whose TTL was switched off or to another
 * attribute, between the scan and the delete keeps the item.
 *
 * Sweeping is a scan of each table that has a TTL attribute, at most
 * TTL_BATCH deletes per table per pass, a pass every TTL_PERIOD_MS: an
 * expired item goes within about a second, and the cost is one scan of
 * the table's items per pass (measured in bench/).  DynamoDB itself
 * deletes within days; reads here stop showing an item once it is swept,
 * not at the exact second it expires.
 *
 * The sweeper thread (ttl_start) runs one pass at start, so items that
 * expired while the store was closed go at mount.
 */
#ifndef DYNFS_TTL_H
#define DYNFS_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "val.h"

#define TTL_PERIOD_MS 500 /* between sweeper passes */
#define TTL_BATCH 1000	  /* deletes per table per pass */

typedef struct ttl_sweeper ttl_sweeper_t;

/* Has item expired at now_s (epoch seconds) under TTL attribute attr? */
bool ttl_expired(const struct val *item, const char *attr, int64_t now_s);

/*
 * One pass: delete up to max (0: TTL_BATCH) expired items of each table
 * that has a TTL attribute.  *deleted (may be NULL) counts them.  Returns
 * 0 or the first error other than a lost race (-ECANCELED: the item was
 * renewed; -ENOENT: gone already).
 */
int ttl_sweep(db_t *db, int64_t now_s, size_t max, size_t *deleted);

/* The table's TTL attribute into buf (size >= DB_ATTR_NAME_MAX + 1); "" if none. */
void tbl_ttl_attribute(table_t *t, char *buf, size_t size);

/*
 * Enable (attr non-empty) or disable (NULL or "") TTL on a table, keeping
 * the rest of its schema: a schema change (journaled, replayed, in the
 * snapshot).  For the API's UpdateTimeToLive.  -ENOENT, -EINVAL (err).
 */
int tbl_set_ttl_attribute(db_t *db, const char *table, const char *attr, struct dyn_err *err);

/*
 * Test hook: fn(ctx, table, pk, sk) runs in every pass before each
 * delete, with no lock held: the item of that key was found expired and
 * is deleted next if it still is (sk NULL without sort key).  NULL
 * removes it.  Process-wide; tests only.
 */
void ttl_set_test_hook(void (*fn)(void *ctx, const char *table, const struct val *pk,
				  const struct val *sk),
		       void *ctx);

/* Start the background sweeper: one pass at once, then every
 * TTL_PERIOD_MS.  *out new (ttl_stop). */
int ttl_start(db_t *db, ttl_sweeper_t **out);
/* Stop and free it (waits for a pass in progress).  NULL-safe. */
void ttl_stop(ttl_sweeper_t *s);
/* Passes and deletions so far (stats, tests). */
void ttl_stats(ttl_sweeper_t *s, uint64_t *passes, uint64_t *deleted);

#endif
