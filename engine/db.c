/*
 * db.c - the database: the table directory, schemas, the log and observer
 * hooks, and journal replay.  (Tables are in table*.c and index.c; the
 * structures and the lock order are described in dbint.h.)
 *
 * The directory is an array of table pointers sorted by name under one
 * rwlock: lookups are binary searches, db_list_tables() resumes after a
 * name in O(log n), and a table count in the thousands makes insertion by
 * memmove cheaper than any tree.  Each entry holds one reference to its
 * table; a handle from db_table_open() holds another, so dropping a table
 * only unlinks it and marks it dead, and the memory goes with the last
 * reference.  Table ids come from a counter that only grows, so an id
 * names one table for the life of the db_t even across drop and create.
 *
 * Every change follows the same sequence as db_apply(): validate and
 * prepare everything that can fail, hand the change to the log under the
 * locks, and only then change memory (which can no longer fail), release
 * the locks, wait for log->sync, tell the observer.  db_replay() runs the
 * same code with logging and notification off.
 */
#include "dbint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- schemas ---- */

bool key_attr_equal(const struct key_attr *a, const struct key_attr *b)
{
	return a->type == b->type && !strcmp(a->name, b->name);
}

bool index_def_equal(const struct index_def *a, const struct index_def *b)
{
	size_t i;

	if (strcmp(a->name, b->name) || !key_attr_equal(&a->pk, &b->pk) || a->has_sk != b->has_sk ||
	    (a->has_sk && !key_attr_equal(&a->sk, &b->sk)) || a->proj != b->proj ||
	    a->ninclude != b->ninclude)
		return false;
	for (i = 0; i < a->ninclude; i++)
		if (strcmp(a->include[i], b->include[i]))
			return false;
	return true;
}

static int index_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct index_def *)a)->name, ((const struct index_def *)b)->name);
}

void schema_sort_indexes(struct table_schema *s)
{
	if (s->nindex > 1)
		qsort(s->index, s->nindex, sizeof(*s->index), index_name_cmp);
}

void schema_free(struct table_schema *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->nindex; i++) {
		for (j = 0; j < s->index[i].ninclude; j++)
			free(s->index[i].include[j]);
		free(s->index[i].include);
	}
	free(s->index);
	s->index = NULL;
	s->nindex = 0;
	free(s->api_meta);
	s->api_meta = NULL;
}

int schema_copy(struct table_schema *out, const struct table_schema *s)
{
	struct index_def *d;
	size_t i, j;

	*out = *s;
	out->index = NULL;
	out->nindex = 0;
	out->api_meta = NULL;
	if (s->api_meta && !(out->api_meta = strdup(s->api_meta)))
		return -ENOMEM;
	if (!s->nindex)
		return 0;
	out->index = calloc(s->nindex, sizeof(*out->index));
	if (!out->index)
		return -ENOMEM;
	for (i = 0; i < s->nindex; i++) {
		d = &out->index[i];
		*d = s->index[i];
		d->include = NULL;
		d->ninclude = 0;
		out->nindex++;
		if (!s->index[i].ninclude)
			continue;
		d->include = calloc(s->index[i].ninclude, sizeof(char *));
		if (!d->include)
			goto out_nomem;
		for (j = 0; j < s->index[i].ninclude; j++) {
			d->include[j] = strdup(s->index[i].include[j]);
			if (!d->include[j])
				goto out_nomem;
			d->ninclude++;
		}
	}
	return 0;
out_nomem:
	schema_free(out);
	return -ENOMEM;
}

bool db_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < DB_NAME_MIN || n > DB_NAME_MAX)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
	       n;
}

static int attr_check(const struct key_attr *a, const char *what, struct dyn_err *err)
{
	if (!memchr(a->name, 0, sizeof(a->name)) || !a->name[0])
		return err_set(err, EINVAL, "%s: the attribute name must be 1..%d bytes", what,
			       DB_ATTR_NAME_MAX);
	if (a->type != VAL_S && a->type != VAL_N && a->type != VAL_B)
		return err_set(err, EINVAL, "%s %s: a key attribute must be of type S, N or B",
			       what, a->name);
	return 0;
}

/* Two key attribute declarations with one name must agree on the type. */
static int attr_consistent(const struct key_attr **all, size_t n, struct dyn_err *err)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(all[i]->name, all[j]->name) == 0 && all[i]->type != all[j]->type)
				return err_set(err, EINVAL,
					       "attribute %s is declared both %s and %s",
					       all[i]->name, val_type_name(all[j]->type),
					       val_type_name(all[i]->type));
	return 0;
}

static int index_check(const struct table_schema *s, size_t i, struct dyn_err *err)
{
	const struct index_def *d = &s->index[i];
	size_t j, k;
	int rc;

	if (!memchr(d->name, 0, sizeof(d->name)) || !db_name_valid(d->name))
		return err_set(err, EINVAL,
			       "invalid index name: use 3..255 characters of A-Z a-z 0-9 _ . -");
	for (j = 0; j < i; j++)
		if (strcmp(s->index[j].name, d->name) == 0)
			return err_set(err, EINVAL, "index %s is defined twice", d->name);
	rc = attr_check(&d->pk, "index partition key", err);
	if (rc == 0 && d->has_sk)
		rc = attr_check(&d->sk, "index sort key", err);
	if (rc < 0)
		return rc;
	if (d->has_sk && strcmp(d->pk.name, d->sk.name) == 0)
		return err_set(err, EINVAL, "index %s: partition and sort key are both %s", d->name,
			       d->pk.name);
	if (d->proj != PROJ_ALL && d->proj != PROJ_KEYS_ONLY && d->proj != PROJ_INCLUDE)
		return err_set(err, EINVAL, "index %s: unknown projection", d->name);
	if (d->proj != PROJ_INCLUDE)
		return 0;
	if (d->ninclude && !d->include)
		return err_set(err, EINVAL, "index %s: missing include list", d->name);
	for (j = 0; j < d->ninclude; j++) {
		if (!d->include[j] || !d->include[j][0])
			return err_set(err, EINVAL,
				       "index %s: empty attribute name in include list", d->name);
		for (k = 0; k < j; k++)
			if (strcmp(d->include[j], d->include[k]) == 0)
				return err_set(err, EINVAL, "index %s: %s is included twice",
					       d->name, d->include[j]);
	}
	return 0;
}

int schema_check(const struct table_schema *s, struct dyn_err *err)
{
	const struct key_attr *all[2 + 2 * DB_MAX_INDEXES];
	size_t n = 0, i;
	int rc;

	rc = attr_check(&s->pk, "partition key", err);
	if (rc == 0 && s->has_sk)
		rc = attr_check(&s->sk, "sort key", err);
	if (rc < 0)
		return rc;
	if (s->has_sk && strcmp(s->pk.name, s->sk.name) == 0)
		return err_set(err, EINVAL, "partition and sort key are both %s", s->pk.name);
	if (!memchr(s->ttl_attr, 0, sizeof(s->ttl_attr)))
		return err_set(err, EINVAL, "ttl_attribute: at most %d bytes", DB_ATTR_NAME_MAX);
	if (s->nindex > DB_MAX_INDEXES)
		return err_set(err, EINVAL, "at most %d indexes per table", DB_MAX_INDEXES);
	if (s->nindex && !s->index)
		return err_set(err, EINVAL, "missing index list");
	all[n++] = &s->pk;
	if (s->has_sk)
		all[n++] = &s->sk;
	for (i = 0; i < s->nindex; i++) {
		rc = index_check(s, i, err);
		if (rc < 0)
			return rc;
		all[n++] = &s->index[i].pk;
		if (s->index[i].has_sk)
			all[n++] = &s->index[i].sk;
	}
	return attr_consistent(all, n, err);
}

static bool attr_eq(const struct key_attr *a, const struct key_attr *b)
{
	return a->type == b->type && strcmp(a->name, b->name) == 0;
}

static bool key_schema_eq(const struct table_schema *a, const struct table_schema *b)
{
	return attr_eq(&a->pk, &b->pk) && a->has_sk == b->has_sk &&
	       (!a->has_sk || attr_eq(&a->sk, &b->sk));
}

static bool index_keys_eq(const struct index_def *a, const struct index_def *b)
{
	return attr_eq(&a->pk, &b->pk) && a->has_sk == b->has_sk &&
	       (!a->has_sk || attr_eq(&a->sk, &b->sk));
}

/* ---- log and observer ---- */

void db_set_log(db_t *db, const struct db_log *log)
{
	db->has_log = log != NULL;
	if (log)
		db->log = *log;
	else
		memset(&db->log, 0, sizeof(db->log));
}

void db_set_observer(db_t *db, db_observer_fn fn, void *ctx)
{
	db->obs = fn;
	db->obs_ctx = ctx;
}

int db_log_append(struct db *db, const struct db_change *ch, size_t n, uint64_t *lsn)
{
	*lsn = 0;
	if (!db->has_log || !db->log.append)
		return 0;
	return db->log.append(db->log.ctx, ch, n, lsn);
}

int db_log_sync(struct db *db, uint64_t lsn, struct dyn_err *err)
{
	int rc;

	if (!db->has_log || !db->log.sync)
		return 0;
	rc = db->log.sync(db->log.ctx, lsn);
	if (rc < 0)
		return err_set(err, EIO,
			       "the journal could not be synced (%s): whether the change survives a "
			       "remount is unknown, and the store stopped accepting writes (its "
			       "status says what to do)",
			       strerror(-rc));
	return 0;
}

void db_notify(struct db *db, const struct db_change *ch, size_t n)
{
	if (db->obs)
		db->obs(db->obs_ctx, ch, n);
}

/* ---- the directory ---- */

int db_new(db_t **out)
{
	struct db *db = calloc(1, sizeof(*db));

	if (!db)
		return -ENOMEM;
	db->feed = feed_new();
	if (!db->feed) {
		free(db);
		return -ENOMEM;
	}
	pthread_rwlock_init(&db->lock, NULL);
	db->next_id = 1;
	*out = db;
	return 0;
}

void db_free(db_t *db)
{
	size_t i;

	if (!db)
		return;
	for (i = 0; i < db->ntables; i++)
		tbl_close(db->tables[i]);
	free(db->tables);
	feed_free(db->feed);
	pthread_rwlock_destroy(&db->lock);
	free(db);
}

/* Position of name in the directory, or where it would go (*found false). */
static size_t dir_find(const struct db *db, const char *name, bool *found)
{
	size_t lo = 0, hi = db->ntables, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(db->tables[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int create_x(struct db *db, const char *name, const struct table_schema *s,
		    struct dyn_err *err, bool logit)
{
	struct db_change ch = {.kind = DB_CH_CREATE_TABLE, .table = name, .schema = s};
	struct table *t, **tabs;
	uint64_t lsn = 0;
	bool found;
	size_t pos;
	int rc;

	if (!db_name_valid(name))
		return err_set(err, EINVAL,
			       "invalid table name: use 3..255 characters of A-Z a-z 0-9 _ . -");
	rc = schema_check(s, err);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&db->lock);
	pos = dir_find(db, name, &found);
	if (found) {
		rc = err_set(err, EEXIST, "table %s exists", name);
		pthread_rwlock_unlock(&db->lock);
		/* the answer depends on the create that made it: durable first */
		if (logit && db_log_sync(db, DB_LSN_ALL, err) < 0)
			rc = -EIO;
		return rc;
	}
	if (db->ntables == db->cap) {
		size_t cap = db->cap ? 2 * db->cap : 16;

		tabs = realloc(db->tables, cap * sizeof(*tabs));
		if (!tabs) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		db->tables = tabs;
		db->cap = cap;
	}
	rc = tbl_new(db, name, db->next_id, s, &t);
	if (rc < 0)
		goto out_unlock;
	if (logit && (rc = db_log_append(db, &ch, 1, &lsn)) < 0) {
		tbl_close(t);
		rc = err_set(err, -rc, "the journal could not be written (%s); nothing was changed",
			     strerror(-rc));
		goto out_unlock;
	}
	db->next_id++;
	memmove(&db->tables[pos + 1], &db->tables[pos], (db->ntables - pos) * sizeof(t));
	db->tables[pos] = t;
	db->ntables++;
	pthread_rwlock_unlock(&db->lock);
	if (!logit)
		return 0;
	rc = db_log_sync(db, lsn, err);
	db_notify(db, &ch, 1);
	return rc;
out_unlock:
	pthread_rwlock_unlock(&db->lock);
	return rc;
}

int db_create_table(db_t *db, const char *name, const struct table_schema *s, struct dyn_err *err)
{
	return create_x(db, name, s, err, true);
}

static int drop_x(struct db *db, const char *name, struct dyn_err *err, bool logit,
		  bool only_empty)
{
	struct db_change ch = {.kind = DB_CH_DROP_TABLE, .table = name};
	struct table *t;
	uint64_t lsn = 0;
	bool found;
	size_t pos;
	int rc;

	pthread_rwlock_wrlock(&db->lock);
	pos = dir_find(db, name, &found);
	if (!found) {
		pthread_rwlock_unlock(&db->lock);
		rc = err_set(err, ENOENT, "no table %s", name);
		/* the answer may depend on a drop not yet durable */
		if (logit && db_log_sync(db, DB_LSN_ALL, err) < 0)
			rc = -EIO;
		return rc;
	}
	t = db->tables[pos];
	pthread_rwlock_wrlock(&t->lock);
	if (only_empty && omap_count(t->base) > 0) {
		pthread_rwlock_unlock(&t->lock);
		pthread_rwlock_unlock(&db->lock);
		return err_set(err, ENOTEMPTY, "table %s is not empty", name);
	}
	if (logit && (rc = db_log_append(db, &ch, 1, &lsn)) < 0) {
		pthread_rwlock_unlock(&t->lock);
		pthread_rwlock_unlock(&db->lock);
		return err_set(err, -rc, "the journal could not be written (%s); nothing was changed",
			       strerror(-rc));
	}
	__atomic_store_n(&t->alive, false, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&t->lock);
	memmove(&db->tables[pos], &db->tables[pos + 1], (db->ntables - pos - 1) * sizeof(t));
	db->ntables--;
	pthread_rwlock_unlock(&db->lock);
	rc = 0;
	if (logit) {
		rc = db_log_sync(db, lsn, err);
		db_notify(db, &ch, 1);
	}
	tbl_close(t); /* the directory's reference */
	return rc;
}

int db_drop_table(db_t *db, const char *name, struct dyn_err *err)
{
	return drop_x(db, name, err, true, false);
}

int db_drop_empty_table(db_t *db, const char *name, struct dyn_err *err)
{
	return drop_x(db, name, err, true, true);
}

int db_table_open(db_t *db, const char *name, table_t **out)
{
	bool found;
	size_t pos;

	pthread_rwlock_rdlock(&db->lock);
	pos = dir_find(db, name, &found);
	if (found) {
		*out = db->tables[pos];
		tbl_ref(*out);
	}
	pthread_rwlock_unlock(&db->lock);
	return found ? 0 : -ENOENT;
}

int db_list_tables(db_t *db, const char *after, db_name_fn fn, void *ctx)
{
	bool found;
	size_t i = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&db->lock);
	if (after) {
		i = dir_find(db, after, &found);
		if (found)
			i++;
	}
	for (; i < db->ntables && !rc; i++)
		rc = fn(ctx, db->tables[i]->name);
	pthread_rwlock_unlock(&db->lock);
	return rc;
}

size_t db_table_count(db_t *db)
{
	size_t n;

	pthread_rwlock_rdlock(&db->lock);
	n = db->ntables;
	pthread_rwlock_unlock(&db->lock);
	return n;
}

/* ---- schema changes ---- */

/* Maps for the new index list: reused where the keys are unchanged. */
static int plan_indexes(struct table *t, const struct table_schema *ns, bool keychg, omap_t **nidx,
			bool *reused, struct dyn_err *err)
{
	size_t j;
	int i, rc;

	for (j = 0; j < ns->nindex; j++) {
		i = idx_find(&t->schema, ns->index[j].name);
		if (!keychg && i >= 0 && !reused[i] &&
		    index_keys_eq(&t->schema.index[i], &ns->index[j])) {
			nidx[j] = t->idx[i];
			reused[i] = true;
			continue;
		}
		rc = idx_build(&t->schema, &ns->index[j], t->base, &nidx[j], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void unplan_indexes(struct table *t, size_t n, omap_t **nidx)
{
	size_t i, j;

	for (j = 0; j < n; j++) {
		if (!nidx[j])
			continue;
		for (i = 0; i < t->schema.nindex; i++)
			if (t->idx[i] == nidx[j])
				break;
		if (i == t->schema.nindex)
			idx_map_free(nidx[j]);
	}
}

/*
 * Switch t to schema ns (owned, consumed) with index maps nidx (owned,
 * consumed; those equal to t->idx[i] where reused[i]).  Under the write
 * lock; nothing here can fail.  Maps no longer used are returned in
 * *gone (the caller frees them after unlocking: freeing a big index is
 * slow).
 */
static void switch_schema_locked(struct table *t, struct table_schema *ns, bool keychg,
				 omap_t **nidx, const bool *reused, omap_t ***gone, size_t *ngone)
{
	struct table_schema old;
	size_t i;

	*ngone = 0;
	for (i = 0; i < t->schema.nindex; i++)
		if (!reused[i])
			t->idx[(*ngone)++] = t->idx[i];
	*gone = t->idx;
	t->idx = nidx;
	old = t->schema;
	if (keychg) {
		t->schema = *ns;
		feed_tab_unref(t->ftab); /* records keep their own reference */
		t->ftab = NULL;
	} else {
		/* Leave the key attributes in place: tbl_pk() pointers stay valid. */
		t->schema.index = ns->index;
		t->schema.nindex = ns->nindex;
		memcpy(t->schema.ttl_attr, ns->ttl_attr, sizeof(ns->ttl_attr));
		t->schema.api_meta = ns->api_meta;
	}
	schema_free(&old);
	t->mtime_ns = tbl_now_ns();
}

static void free_maps(omap_t **m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		idx_map_free(m[i]);
	free(m);
}

static int set_schema_locked(struct table *t, const struct table_schema *s, struct dyn_err *err,
			     bool logit, uint64_t *lsn)
{
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = t->name, .schema = s};
	struct table_schema ns;
	bool keychg, *reused = NULL;
	omap_t **nidx = NULL, **gone;
	size_t ngone;
	int rc;

	if (!t->alive)
		return err_set(err, ENOENT, "no table %s", t->name);
	keychg = !key_schema_eq(&t->schema, s);
	if (keychg && omap_count(t->base))
		return err_set(
		    err, EBUSY,
		    "table %s has items: its key schema can change only while it is empty",
		    t->name);
	rc = schema_copy(&ns, s);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	nidx = calloc(ns.nindex + 1, sizeof(*nidx));
	reused = calloc(t->schema.nindex + 1, sizeof(*reused));
	if (!nidx || !reused)
		goto out_free;
	rc = plan_indexes(t, &ns, keychg, nidx, reused, err);
	if (rc < 0)
		goto out_unplan;
	if (logit && (rc = db_log_append(t->db, &ch, 1, lsn)) < 0) {
		rc = err_set(err, -rc, "the journal could not be written (%s); nothing was changed",
			     strerror(-rc));
		goto out_unplan;
	}
	/* Committed: nothing below can fail. */
	switch_schema_locked(t, &ns, keychg, nidx, reused, &gone, &ngone);
	free_maps(gone, ngone);
	free(reused);
	return 0;
out_unplan:
	unplan_indexes(t, ns.nindex, nidx);
out_free:
	free(nidx);
	free(reused);
	schema_free(&ns);
	return rc;
}

/* ---- online backfill (index.c does the scanning) ---- */

/* Release what an online schema change set up (t->bld already detached). */
static void bld_free(struct idx_bld *bld, size_t n)
{
	size_t j;

	for (j = 0; bld && j < n; j++) {
		idx_map_free(bld[j].map);
		keyenc_buf_free(&bld[j].last);
	}
	free(bld);
}

/*
 * Plan under the write lock: the maps ns reuses (nidx, reused) and the
 * ones to build (*bld, installed as t->bld).  1 if there is nothing to
 * build (the caller switches at once), 0, -ENOMEM.
 */
static int plan_online(struct table *t, const struct table_schema *ns, omap_t **nidx,
		       bool *reused, struct idx_bld **out, size_t *nout)
{
	struct idx_bld *bld;
	size_t j, n = 0;
	int i, rc;

	bld = calloc(ns->nindex + 1, sizeof(*bld));
	if (!bld)
		return -ENOMEM;
	for (j = 0; j < ns->nindex; j++) {
		i = idx_find(&t->schema, ns->index[j].name);
		if (i >= 0 && !reused[i] && index_keys_eq(&t->schema.index[i], &ns->index[j])) {
			nidx[j] = t->idx[i];
			reused[i] = true;
			continue;
		}
		bld[n].def = &ns->index[j];
		keyenc_buf_init(&bld[n].last);
		rc = omap_new(&ient_omap_ops, &bld[n].map);
		if (rc < 0) {
			bld_free(bld, n);
			return rc;
		}
		n++;
	}
	*out = bld;
	*nout = n;
	return n ? 0 : 1;
}

/* The built maps into their places in nidx (nidx[j] NULL = built). */
static void place_built(const struct table_schema *ns, omap_t **nidx, struct idx_bld *bld)
{
	size_t j, k = 0;

	for (j = 0; j < ns->nindex; j++)
		if (!nidx[j]) {
			nidx[j] = bld[k].map;
			bld[k++].map = NULL;
		}
}

static uint64_t mono_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * db_set_schema() with logging: indexes are backfilled by idx_backfill()
 * in steps while the table stays open, then switched in under the write
 * lock.  A key schema change (only on an empty table) or a change that
 * builds nothing runs in one critical section, as replay does.
 */
static int set_schema_online(struct table *t, const struct table_schema *s, struct dyn_err *err,
			     uint64_t *lsn)
{
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = t->name, .schema = s};
	struct idx_bld *bld = NULL;
	struct table_schema ns;
	omap_t **nidx = NULL, **gone = NULL;
	bool *reused = NULL;
	size_t nbld = 0, ngone = 0;
	uint64_t w0, c0;
	int rc;

	pthread_rwlock_wrlock(&t->lock);
	if (!t->alive || !key_schema_eq(&t->schema, s) || !omap_count(t->base)) {
		rc = set_schema_locked(t, s, err, true, lsn);
		pthread_rwlock_unlock(&t->lock);
		return rc;
	}
	rc = schema_copy(&ns, s);
	if (rc < 0)
		goto out_unlock;
	rc = -ENOMEM;
	nidx = calloc(ns.nindex + 1, sizeof(*nidx));
	reused = calloc(t->schema.nindex + 1, sizeof(*reused));
	if (nidx && reused)
		rc = plan_online(t, &ns, nidx, reused, &bld, &nbld);
	if (rc < 0)
		goto out_free_locked;
	if (rc == 0) {
		t->bld = bld;
		t->nbld = nbld;
		pthread_rwlock_unlock(&t->lock);
		rc = idx_backfill(t, err);
		pthread_rwlock_wrlock(&t->lock);
	} else {
		rc = 0; /* nothing to build */
	}
	w0 = mono_ns(CLOCK_MONOTONIC);
	c0 = mono_ns(CLOCK_THREAD_CPUTIME_ID);
	t->bld = NULL;
	t->nbld = 0;
	if (rc == 0 && !t->alive)
		rc = err_set(err, ENOENT, "table %s was dropped", t->name);
	if (rc == 0 && (rc = db_log_append(t->db, &ch, 1, lsn)) < 0)
		rc = err_set(err, -rc, "the journal could not be written (%s); nothing was changed",
			     strerror(-rc));
	if (rc == 0) {
		place_built(&ns, nidx, bld);
		switch_schema_locked(t, &ns, false, nidx, reused, &gone, &ngone);
		nidx = NULL;
	}
	if (nbld)
		idx_note_hold(t->db, mono_ns(CLOCK_MONOTONIC) - w0,
			      mono_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
	pthread_rwlock_unlock(&t->lock);
	free_maps(gone, ngone);
	bld_free(bld, nbld);
	free(reused);
	if (nidx) {
		free(nidx);
		schema_free(&ns);
	}
	return rc;
out_free_locked:
	pthread_rwlock_unlock(&t->lock);
	free(nidx);
	free(reused);
	schema_free(&ns);
	return rc;
out_unlock:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

static int set_schema_x(struct db *db, const char *name, const struct table_schema *s,
			struct dyn_err *err, bool logit)
{
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = name, .schema = s};
	struct table *t;
	uint64_t lsn = 0;
	int rc;

	rc = schema_check(s, err);
	if (rc < 0)
		return rc;
	if (db_table_open(db, name, &t) < 0)
		return err_set(err, ENOENT, "no table %s", name);
	pthread_mutex_lock(&t->schema_mu);
	if (logit) {
		rc = set_schema_online(t, s, err, &lsn);
	} else {
		pthread_rwlock_wrlock(&t->lock);
		rc = set_schema_locked(t, s, err, false, &lsn);
		pthread_rwlock_unlock(&t->lock);
	}
	pthread_mutex_unlock(&t->schema_mu);
	if (rc == 0 && logit) {
		rc = db_log_sync(db, lsn, err);
		db_notify(db, &ch, 1);
	}
	tbl_close(t);
	return rc;
}

int db_set_schema(db_t *db, const char *name, const struct table_schema *s, struct dyn_err *err)
{
	return set_schema_x(db, name, s, err, true);
}

int db_set_api_meta(db_t *db, const char *name, const char *meta, struct dyn_err *err)
{
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = name};
	struct table_schema s;
	struct table *t;
	uint64_t lsn = 0;
	int rc;

	if (db_table_open(db, name, &t) < 0)
		return err_set(err, ENOENT, "no table %s", name);
	pthread_rwlock_wrlock(&t->lock);
	rc = schema_copy(&s, &t->schema);
	if (rc == 0) {
		free(s.api_meta);
		s.api_meta = meta ? strdup(meta) : NULL;
		rc = meta && !s.api_meta ? -ENOMEM : set_schema_locked(t, &s, err, true, &lsn);
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc == 0) {
		ch.schema = &s;
		rc = db_log_sync(db, lsn, err);
		db_notify(db, &ch, 1);
	}
	schema_free(&s); /* safe after a failed schema_copy too */
	tbl_close(t);
	return rc;
}

/* ---- replay and integrity ---- */

int db_replay(db_t *db, const struct db_change *ch, struct dyn_err *err)
{
	struct db_op op = {0};
	table_t *t;
	int rc;

	switch (ch->kind) {
	case DB_CH_CREATE_TABLE:
		return create_x(db, ch->table, ch->schema, err, false);
	case DB_CH_DROP_TABLE:
		return drop_x(db, ch->table, err, false, false);
	case DB_CH_SET_SCHEMA:
		return set_schema_x(db, ch->table, ch->schema, err, false);
	case DB_CH_PUT:
	case DB_CH_DELETE:
		break;
	default:
		return err_set(err, EINVAL, "unknown change kind %d", (int)ch->kind);
	}
	if (db_table_open(db, ch->table, &t) < 0)
		return err_set(err, ENOENT, "no table %s", ch->table);
	op.table = t;
	if (ch->kind == DB_CH_PUT) {
		op.kind = DB_PUT;
		op.item = (struct val *)ch->item; /* DB_PUT never changes it */
		op.flags = ch->checked ? DB_F_CHECKED : 0;
		op.size = ch->size;
	} else {
		op.kind = DB_DELETE;
		op.pk = ch->pk;
		op.sk = ch->sk;
	}
	rc = db_apply_x(db, &op, 1, NULL, err, false);
	tbl_close(t);
	return rc;
}

int db_check_integrity(db_t *db, char **why)
{
	size_t i;
	int rc = 0;

	if (why)
		*why = NULL;
	pthread_rwlock_rdlock(&db->lock);
	for (i = 0; i < db->ntables && !rc; i++) {
		if (i > 0 && strcmp(db->tables[i - 1]->name, db->tables[i]->name) >= 0) {
			rc = -EUCLEAN;
			if (why)
				*why = strdup("table directory out of order");
			break;
		}
		rc = tbl_check_integrity(db->tables[i], why);
	}
	pthread_rwlock_unlock(&db->lock);
	return rc;
}
