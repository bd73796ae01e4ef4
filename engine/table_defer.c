/*
 * table_defer.c - db_apply() and its deferred journal syncs, and the
 * one-op wrappers (tbl_put, tbl_delete, tbl_check_item).
 *
 * A thread between db_defer_begin() and db_defer_end() applies without
 * waiting for each change's journal sync: the highest lsn it handed the
 * journal is kept per thread, and db_defer_sync() waits for it once (a
 * `_batch` write() pays one sync however many groups it applied;
 * ops_batch.c).  The apply itself is table_write.c's (db_apply_lsn).
 */
#include "dbint.h"

#include <stdlib.h>

#include "item.h"

/* The calling thread's deferred syncs (db_defer_begin). */
static __thread struct {
	int depth;	/* db_defer_begin()s not ended */
	struct db *db;	/* the database of the pending lsn */
	uint64_t lsn;	/* the highest change not yet synced */
} defer;

int db_apply(db_t *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	uint64_t lsn = 0;
	int rc;

	if (!defer.depth)
		return db_apply_lsn(db, ops, n, failed, err, NULL);
	if (defer.db && defer.db != db && (rc = db_defer_sync(err)) < 0)
		return rc; /* another database's changes first */
	rc = db_apply_lsn(db, ops, n, failed, err, &lsn);
	if (lsn) {
		defer.db = db;
		if (lsn > defer.lsn)
			defer.lsn = lsn;
	}
	return rc;
}

void db_defer_begin(void)
{
	defer.depth++;
}

int db_defer_sync(struct dyn_err *err)
{
	struct db *db = defer.db;
	uint64_t lsn = defer.lsn;

	defer.db = NULL;
	defer.lsn = 0;
	return db && lsn ? db_log_sync(db, lsn, err) : 0;
}

bool db_defer_pending(void)
{
	return defer.lsn != 0;
}

int db_defer_end(struct dyn_err *err)
{
	if (defer.depth > 0)
		defer.depth--;
	return db_defer_sync(err);
}

int db_apply_nosync(db_t *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
		    uint64_t *lsn)
{
	*lsn = 0;
	return db_apply_lsn(db, ops, n, failed, err, lsn);
}

int db_sync(db_t *db, uint64_t lsn, struct dyn_err *err)
{
	return lsn ? db_log_sync(db, lsn, err) : 0;
}

int tbl_check_item(table_t *t, const struct val *item, struct dyn_err *err)
{
	const struct val *pk, *sk;
	struct keyenc_buf kb;
	size_t i;
	int rc;

	rc = tbl_item_key(t, item, &pk, &sk, err);
	if (rc == 0)
		rc = item_check(item, err);
	if (rc < 0)
		return rc;
	keyenc_buf_init(&kb);
	pthread_rwlock_rdlock(&t->lock);
	for (i = 0; rc >= 0 && i < t->schema.nindex; i++)
		rc = idx_key(&t->schema.index[i], item, (const uint8_t *)"", 0, &kb, err);
	pthread_rwlock_unlock(&t->lock);
	keyenc_buf_free(&kb);
	return rc < 0 ? rc : 0;
}

int tbl_put(table_t *t, struct val *item, int flags, struct dyn_err *err)
{
	struct db_op op = {.kind = DB_PUT, .table = t, .item = item, .flags = flags};

	return db_apply(t->db, &op, 1, NULL, err);
}

int tbl_delete(table_t *t, const struct val *pk, const struct val *sk, int flags,
	       struct dyn_err *err)
{
	struct db_op op = {.kind = DB_DELETE, .table = t, .pk = pk, .sk = sk, .flags = flags};

	return db_apply(t->db, &op, 1, NULL, err);
}
