/*
 * rbe.c - the remote backend: backend/backend.h's face over the DynamoDB
 * client.  This file: the backend, its caches, tables and single items
 * (rbe_read.c: Query and Scan; rbe_write.c: writes).  The mapping of each method to calls is in
 * rbe.h; what is decided here:
 *
 * Caching.  The table list and each table's DescribeTable are kept for
 * meta_cache_s (60 s) and dropped at once when this mount changes a
 * table; items and listings are never cached here (fs/'s entry and
 * attribute timeouts, -o cache=, are the only item cache).  The one
 * exception is a partition listing's continuation: list_partitions with
 * `after` set (fs/ reading the rest of a directory it started) reuses
 * the scan made for the first call if it is under 30 s old and this
 * mount wrote nothing since, instead of scanning the table again for
 * every readdir buffer.  Every such cache (this scan, a listing page's
 * rest, the GetItem memo below) is stamped with the write generation
 * taken before its request (rbe_gen_now, rbeint.h) and answers only while
 * no write of this mount has begun or ended since.
 *
 * One FUSE operation, several gets.  The kernel's lookup, getattr, open
 * and read of one file each ask fs/ for the item (a stat is a lookup
 * and a getattr, a cat adds the open's read of the text), so one `cat`
 * would be three GetItems of the same key within a millisecond.  m_get
 * keeps the last few answers (found or absent), dropped by any write of
 * this mount (gen), and answers a repeat from them, never older than this
 * mount's own writes.  How old an answer may be depends on what becomes
 * of it:
 *   - a get for a lookup or getattr (m_get): GET_MEMO_MS (100 ms), since
 *     the kernel keeps those attributes for -o cache= seconds more;
 *   - the text of an open (m_get_text): the attribute timeout itself
 *     (-o cache=, 1 s), since the kernel keeps nothing of it (items are
 *     direct I/O: the handle's snapshot is read once per open).  So a
 *     `cat` or a shell's `> x.json` within cache= of a stat or an earlier
 *     cat of the file (whose attributes the kernel still holds, so it
 *     does not look the name up again) reads the version those attributes
 *     describe instead of asking again: what cache= allows, as for the
 *     attributes.  A writer's open reads the same way; its save then asks
 *     the service (see below), so a version older than another writer's
 *     change makes the save fail, never lose that change.
 * With -o cache=0 nothing is kept.  The write paths' own reads
 * (conditions, conflicts) always ask the service.
 *
 * Resume keys.  fs/ resumes a read from the base key of the last item
 * it saw (tbl_query/tbl_scan start_*); that is the ExclusiveStartKey of
 * a table read, and for an index read the index's key attributes are
 * added (start_isk, or read from the item when not given).  A Scan
 * stopped by its visitor remembers, under a hash of where it stopped,
 * how many items it has read, so the max_list cap counts a listing
 * resumed across readdir calls as one.
 *
 * Sort-key ranges.  A Query allows one sort key condition, so a range
 * with both bounds is sent as BETWEEN (or the prefix as begins_with)
 * and every bound is also checked here on the items that come back:
 * exclusive ends and a prefix combined with bounds are exact.
 *
 * Conditions and errors.  A failed condition on a single write is
 * followed by one consistent GetItem so the error says what the service
 * kept ("the service's version was kept: {...}"), which fs/ writes to
 * /_errors; a failed transaction says which operation failed (from the
 * service's CancellationReasons, in its message).  A service without
 * transactions (dynalite) gives -ENOTSUP for n > 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "rbeint.h"

static void forget_id(struct rbe *r, const char *name);

static bool allowed(const struct rbe *r, const char *table)
{
	size_t i;

	if (!r->o.ntables)
		return true;
	for (i = 0; i < r->o.ntables; i++)
		if (!strcmp(r->o.tables[i], table))
			return true;
	return false;
}

static int meta_ttl(const struct rbe *r)
{
	return r->o.meta_cache_s ? r->o.meta_cache_s : RBE_META_CACHE_S;
}

size_t rbe_max_list(const struct rbe *r)
{
	return r->o.max_list ? r->o.max_list : RBE_MAX_LIST_DEFAULT;
}

void rbe_report(struct rbe *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rbe_report(struct rbe *r, const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->o.report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->o.report(r->o.report_ctx, what, msg);
}

/* Drop what is cached about table (NULL: the table list only). Locked. */
static void invalidate_locked(struct rbe *r, const char *table)
{
	size_t i;

	rmt_free_names(r->names, r->nnames);
	r->names = NULL;
	r->nnames = 0;
	for (i = 0; table && i < r->nsc; i++)
		if (!strcmp(r->sc[i].table, table)) {
			free(r->sc[i].table);
			schema_free(&r->sc[i].s);
			r->sc[i] = r->sc[--r->nsc];
			break;
		}
	r->gen++;
}

static void invalidate(struct rbe *r, const char *table)
{
	pthread_mutex_lock(&r->mu);
	invalidate_locked(r, table);
	pthread_mutex_unlock(&r->mu);
}

void rbe_notify(struct rbe *r, const struct db_change *ch, size_t n)
{
	db_observer_fn fn;
	void *ctx;

	pthread_mutex_lock(&r->mu);
	fn = r->watch_fn;
	ctx = r->watch_ctx;
	pthread_mutex_unlock(&r->mu);
	if (fn && n)
		fn(ctx, ch, n);
}

int rbe_deny_write(struct rbe *r, const char *table, struct dyn_err *err)
{
	if (r->o.ro)
		return err_set(err, EROFS, "mounted read-only (-o ro)");
	if (table && !allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	return 0;
}

/* ---- tables and schemas ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The table list (new copy in *names), from the cache or the service. */
static int table_names(struct rbe *r, char ***names, size_t *n, struct dyn_err *err)
{
	char **all = NULL, **keep;
	size_t nall = 0, nkeep = 0, i;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (r->names && meta_ttl(r) > 0 && mono_s() - r->names_at < meta_ttl(r)) {
		keep = calloc(r->nnames + 1, sizeof(*keep));
		for (i = 0; keep && i < r->nnames; i++)
			if (!(keep[i] = strdup(r->names[i])))
				break;
		pthread_mutex_unlock(&r->mu);
		if (!keep || i < r->nnames) {
			rmt_free_names(keep, i);
			return err_set(err, ENOMEM, "out of memory");
		}
		*names = keep;
		*n = r->nnames;
		return 0;
	}
	pthread_mutex_unlock(&r->mu);

	if (r->o.ntables) {
		/* tables= names them: no ListTables (an IAM policy may not allow it) */
		all = calloc(r->o.ntables, sizeof(*all));
		for (i = 0; all && i < r->o.ntables; i++)
			if (!(all[nall++] = strdup(r->o.tables[i])))
				break;
		if (!all || i < r->o.ntables) {
			rmt_free_names(all, nall);
			return err_set(err, ENOMEM, "out of memory");
		}
	} else if ((rc = rmt_list_tables(r->c, &all, &nall, err)) < 0) {
		return rc;
	}
	if (nall) /* qsort of a NULL array is undefined, even of none */
		qsort(all, nall, sizeof(*all), cmp_str);
	for (i = 0; i < nall; i++) /* drop duplicates */
		if (nkeep && !strcmp(all[nkeep - 1], all[i]))
			free(all[i]);
		else
			all[nkeep++] = all[i];

	/* cache a copy */
	keep = calloc(nkeep + 1, sizeof(*keep));
	for (i = 0; keep && i < nkeep; i++)
		if (!(keep[i] = strdup(all[i])))
			break;
	if (keep && i == nkeep) {
		pthread_mutex_lock(&r->mu);
		rmt_free_names(r->names, r->nnames);
		r->names = keep;
		r->nnames = nkeep;
		r->names_at = mono_s();
		pthread_mutex_unlock(&r->mu);
	} else {
		rmt_free_names(keep, i);
	}
	*names = all;
	*n = nkeep;
	return 0;
}

static int m_list_tables(be_t *b, const char *after, db_name_fn fn, void *ctx, struct dyn_err *err)
{
	struct rbe *r = R(b);
	char **names = NULL;
	size_t n = 0, i;
	int rc = table_names(r, &names, &n, err);

	for (i = 0; rc == 0 && i < n; i++)
		if (!after || strcmp(names[i], after) > 0)
			rc = fn(ctx, names[i]);
	rmt_free_names(names, n);
	return rc;
}

/* ItemCount of each index in DescribeTable's list into out, in s's order. */
static void index_counts(const struct table_schema *s, struct sf_span tb, const char *list,
			 struct tbl_stats *out)
{
	struct sf_span arr, ix, v;
	struct sf_iter it;
	char *name;
	size_t n, i;

	if (rmt_member(tb, list, &arr) < 0 || sf_arr_open(&it, arr) < 0)
		return;
	while (sf_arr_next(&it, &ix) == 1) {
		if (rmt_member(ix, "IndexName", &v) < 0 || sf_span_str(v, &name, &n, NULL) < 0)
			continue;
		for (i = 0; i < s->nindex && i < DB_MAX_INDEXES; i++)
			if (!strcmp(s->index[i].name, name) &&
			    rmt_member(ix, "ItemCount", &v) == 0)
				sf_span_u64(v, &out->index_items[i]);
		free(name);
	}
}

/* DescribeTable's figures (the answer's whole object) into *out. */
static void stats_of(const struct table_schema *s, int64_t t0_ns, struct sf_span whole,
		     struct tbl_stats *out)
{
	struct sf_span tb, v;

	memset(out, 0, sizeof(*out));
	out->mtime_ns = t0_ns;
	if (rmt_member(whole, "Table", &tb) < 0)
		return;
	if (rmt_member(tb, "ItemCount", &v) == 0)
		sf_span_u64(v, &out->items);
	if (rmt_member(tb, "TableSizeBytes", &v) == 0)
		sf_span_u64(v, &out->bytes);
	index_counts(s, tb, "GlobalSecondaryIndexes", out);
	index_counts(s, tb, "LocalSecondaryIndexes", out);
}

/* The cached schema of table, if it is under meta_cache_s old; under r->mu. */
static struct sc_ent *sc_fresh_locked(struct rbe *r, const char *table)
{
	size_t i;

	for (i = 0; i < r->nsc; i++)
		if (!strcmp(r->sc[i].table, table))
			break;
	if (i == r->nsc || meta_ttl(r) <= 0 || mono_s() - r->sc[i].at >= meta_ttl(r))
		return NULL;
	return &r->sc[i];
}

/* rbe_schema_of, and the version of the cache entry *out is a copy of
 * (*ver; 0 if it was not kept). */
static int schema_of(struct rbe *r, const char *table, struct table_schema *out, uint64_t *ver,
		     struct dyn_err *err)
{
	struct table_schema s;
	struct tbl_stats st;
	struct sc_ent *grown, *e;
	struct sf_span whole;
	char *resp = NULL;
	size_t i;
	int rc;

	if (!allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	pthread_mutex_lock(&r->mu);
	if ((e = sc_fresh_locked(r, table))) {
		rc = schema_copy(out, &e->s);
		*ver = e->ver;
		pthread_mutex_unlock(&r->mu);
		return rc < 0 ? err_set(err, -rc, "out of memory") : 0;
	}
	pthread_mutex_unlock(&r->mu);

	*ver = 0;
	memset(&s, 0, sizeof(s));
	if ((rc = rmt_describe_table_obj(r->c, table, &s, &resp, &whole, err)) < 0)
		return rc;
	stats_of(&s, r->t0_ns, whole, &st); /* the same answer's figures: no second call */
	free(resp);
	if ((rc = schema_copy(out, &s)) < 0) {
		schema_free(&s);
		return err_set(err, -rc, "out of memory");
	}
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nsc; i++)
		if (!strcmp(r->sc[i].table, table))
			break;
	if (i < r->nsc) {
		schema_free(&r->sc[i].s);
		r->sc[i].s = s;
		r->sc[i].at = mono_s();
		r->sc[i].st = st;
		r->sc[i].st_at = r->sc[i].at ? r->sc[i].at : 1;
		*ver = r->sc[i].ver = ++r->sc_ver;
	} else if ((grown = realloc(r->sc, (r->nsc + 1) * sizeof(*grown))) &&
		   (grown[r->nsc].table = strdup(table))) {
		r->sc = grown;
		grown[r->nsc].s = s;
		grown[r->nsc].at = mono_s();
		grown[r->nsc].st = st;
		grown[r->nsc].st_at = grown[r->nsc].at ? grown[r->nsc].at : 1;
		*ver = grown[r->nsc].ver = ++r->sc_ver;
		r->nsc++;
	} else {
		if (grown)
			r->sc = grown;
		schema_free(&s);
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int rbe_schema_of(struct rbe *r, const char *table, struct table_schema *out, struct dyn_err *err)
{
	uint64_t ver;

	return schema_of(r, table, out, &ver, err);
}

static int m_create_table(be_t *b, const char *table, const struct table_schema *s,
			  struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct db_change ch = {.kind = DB_CH_CREATE_TABLE, .table = table, .schema = s};
	int rc = rbe_deny_write(r, table, err);

	if (rc == 0 && !r->o.allow_table_create)
		rc = err_set(err, EPERM,
			     "creating a table on the service needs -o allow_table_create");
	if (rc == 0)
		rc = rmt_create_table(r->c, table, s, err);
	invalidate(r, table);
	if (rc == 0)
		rbe_notify(r, &ch, 1);
	return rc;
}

/*
 * -ENOTEMPTY (err) while table holds an item, by a strongly consistent
 * Scan of one item (a service's ItemCount is refreshed about every six
 * hours, so it cannot say).  DeleteTable has no condition: an item put
 * between this check and the delete goes with the table (docs/remote.md).
 */
static int has_items(struct rbe *r, const char *table, struct dyn_err *err)
{
	struct rmt_read rd = {.table = table, .consistent = true, .limit = 1};
	struct rmt_page pg;
	struct val start;
	int rc = 0, pages;

	val_init_null(&start);
	for (pages = 0; pages < 100; pages++) {
		rc = rmt_scan(r->c, &rd, &pg, err);
		if (rc < 0)
			break;
		val_free(&start);
		val_init_null(&start);
		if (pg.n > 0) {
			rc = err_set(err, ENOTEMPTY, "table %s is not empty", table);
		} else if (pg.last.type != VAL_NULL) {
			/* an empty page that goes on (a service may stop early):
			 * read on from where it stopped */
			start = pg.last;
			val_init_null(&pg.last);
			rd.start = &start;
			rmt_page_free(&pg);
			continue;
		}
		rmt_page_free(&pg);
		val_free(&start);
		return rc;
	}
	val_free(&start);
	return rc < 0 ? rc : err_set(err, EIO, "table %s: cannot tell whether it is empty", table);
}

static int m_drop_table(be_t *b, const char *table, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct db_change ch = {.kind = DB_CH_DROP_TABLE, .table = table};
	int rc = rbe_deny_write(r, table, err);

	if (rc == 0 && !r->o.allow_table_delete)
		rc = err_set(err, EPERM,
			     "deleting a table on the service needs -o allow_table_delete");
	if (rc == 0)
		rc = has_items(r, table, err);
	if (rc == 0)
		rc = rmt_delete_table(r->c, table, err);
	if (rc == 0)
		forget_id(r, table);
	invalidate(r, table);
	if (rc == 0)
		rbe_notify(r, &ch, 1);
	return rc;
}

const struct index_def *rbe_find_index(const struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; name && i < s->nindex; i++)
		if (!strcmp(s->index[i].name, name))
			return &s->index[i];
	return NULL;
}

static int m_set_schema(be_t *b, const char *table, const struct table_schema *s,
			struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct table_schema cur;
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = table, .schema = s};
	const struct index_def *o;
	size_t i;
	int rc = rbe_deny_write(r, table, err);

	if (rc == 0 && !r->o.allow_schema_changes)
		rc = err_set(
		    err, EPERM,
		    "changing a table's indexes on the service needs -o allow_schema_changes");
	if (rc < 0)
		return rc;
	invalidate(r, table);
	memset(&cur, 0, sizeof(cur));
	if ((rc = rmt_describe_table(r->c, table, &cur, NULL, err)) < 0)
		return rc;
	if (!key_attr_equal(&cur.pk, &s->pk) || cur.has_sk != s->has_sk ||
	    (s->has_sk && !key_attr_equal(&cur.sk, &s->sk))) {
		/* SPEC §4: the key schema changes while the table is empty,
		 * as `mkdir t` then writing t/_schema.json does.  DynamoDB
		 * cannot change a key schema: delete and create again, which
		 * needs both table options as well. */
		schema_free(&cur);
		if (!r->o.allow_table_create || !r->o.allow_table_delete)
			return err_set(err, EPERM,
				       "changing a remote table's key schema deletes and creates "
				       "it again: it needs -o allow_table_create,allow_table_delete");
		rc = has_items(r, table, err);
		if (rc == -ENOTEMPTY) {
			err_clear(err);
			rc = err_set(err, EBUSY,
				     "table %s is not empty: its key schema cannot change", table);
		}
		if (rc == 0)
			rc = rmt_delete_table(r->c, table, err);
		if (rc == 0) {
			struct db_change gone = {.kind = DB_CH_DROP_TABLE, .table = table};

			forget_id(r, table);
			invalidate(r, table);
			rbe_notify(r, &gone, 1);
			rc = rmt_create_table(r->c, table, s, err);
		}
		invalidate(r, table);
		if (rc == 0) {
			ch.kind = DB_CH_CREATE_TABLE;
			rbe_notify(r, &ch, 1);
		}
		return rc;
	} else if (strcmp(cur.ttl_attr, s->ttl_attr))
		rc = err_set(err, ENOTSUP,
			     "ttl_attribute of a remote table is set with UpdateTimeToLive, "
			     "which dynfs does not call");
	/* indexes gone or changed: drop; then new or changed: add, one call each */
	for (i = 0; rc == 0 && i < cur.nindex; i++) {
		o = rbe_find_index(s, cur.index[i].name);
		if (!o || !index_def_equal(o, &cur.index[i]))
			rc = rmt_drop_index(r->c, table, cur.index[i].name, err);
	}
	for (i = 0; rc == 0 && i < s->nindex; i++) {
		o = rbe_find_index(&cur, s->index[i].name);
		if (!o || !index_def_equal(o, &s->index[i]))
			rc = rmt_add_index(r->c, table, &s->index[i], err);
	}
	schema_free(&cur);
	invalidate(r, table);
	if (rc == 0)
		rbe_notify(r, &ch, 1);
	return rc;
}

/* ---- table handles ---- */

static uint64_t table_id_of(struct rbe *r, const char *name)
{
	char **nn;
	uint64_t *ni, id = 0;
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nids; i++)
		if (!strcmp(r->idn[i], name)) {
			id = r->ids[i];
			break;
		}
	if (!id && (nn = realloc(r->idn, (r->nids + 1) * sizeof(*nn)))) {
		r->idn = nn;
		if ((ni = realloc(r->ids, (r->nids + 1) * sizeof(*ni)))) {
			r->ids = ni;
			if ((nn[r->nids] = strdup(name))) {
				id = ni[r->nids] = ++r->next_id;
				r->nids++;
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
	return id ? id : ++r->next_id;
}

/* A dropped table's next incarnation gets a new id. */
static void forget_id(struct rbe *r, const char *name)
{
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nids; i++)
		if (!strcmp(r->idn[i], name)) {
			free(r->idn[i]);
			r->idn[i] = r->idn[--r->nids];
			r->ids[i] = r->ids[r->nids];
			break;
		}
	pthread_mutex_unlock(&r->mu);
}

static int m_table_open(be_t *b, const char *name, be_table_t **out, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct rtab *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	if ((rc = schema_of(r, name, &t->s, &t->ver, err)) < 0 || !(t->name = strdup(name))) {
		if (rc == 0)
			schema_free(&t->s);
		free(t);
		return rc < 0 ? rc : -ENOMEM;
	}
	t->base.m = &rbe_methods;
	t->base.be = b;
	t->r = r;
	t->id = table_id_of(r, name);
	t->refs = 1;
	*out = &t->base;
	return 0;
}

/*
 * fs/ takes a table reference per node (be_table_dup).  Opened by name,
 * each was a copy of the schema (about 840 bytes kept as long as the
 * kernel keeps the node, copied under rbe.mu): half of what a created
 * item's node cost the mount in memory, and page faults to grow it.
 * The handle is shared instead while an open by name would copy the
 * very schema it holds: the cache entry it was copied from is still
 * there, unchanged (ver), within meta_cache_s.  Else NULL, and
 * be_table_dup opens by name, as before.
 */
static be_table_t *m_table_dup(be_table_t *bt)
{
	struct rtab *t = T(bt);
	struct rbe *r = t->r;
	struct sc_ent *e;
	bool same;

	if (!t->ver || !allowed(r, t->name))
		return NULL;
	pthread_mutex_lock(&r->mu);
	e = sc_fresh_locked(r, t->name);
	same = e && e->ver == t->ver;
	pthread_mutex_unlock(&r->mu);
	if (!same)
		return NULL;
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return bt;
}

static void m_table_close(be_table_t *bt)
{
	struct rtab *t = T(bt);

	if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL))
		return;
	schema_free(&t->s);
	free(t->name);
	free(t);
}

static const char *m_table_name(const be_table_t *t)
{
	return T(t)->name;
}

static uint64_t m_table_id(const be_table_t *t)
{
	return T(t)->id;
}

/* Alive while the table exists and is the one this handle opened (a
 * key schema change of an empty table makes it anew: a new id).  Gone
 * only when the service says so: a table that cannot be described now
 * (throttled, unreachable) is alive, and the read that follows fails with
 * the reason, instead of ENOENT. */
static bool m_table_alive(be_table_t *bt)
{
	struct table_schema s;
	int rc = rbe_schema_of(T(bt)->r, T(bt)->name, &s, NULL);

	if (rc == -ENOENT)
		return false;
	if (rc == 0)
		schema_free(&s);
	return table_id_of(T(bt)->r, T(bt)->name) == T(bt)->id;
}

static int m_table_schema(be_table_t *bt, struct table_schema *out, struct dyn_err *err)
{
	return rbe_schema_of(T(bt)->r, T(bt)->name, out, err);
}

static const struct key_attr *m_table_pk(be_table_t *t)
{
	return &T(t)->s.pk;
}

static const struct key_attr *m_table_sk(be_table_t *t)
{
	return T(t)->s.has_sk ? &T(t)->s.sk : NULL;
}

static size_t m_table_count(be_t *b)
{
	char **names = NULL;
	size_t n = 0;

	if (table_names(R(b), &names, &n, NULL) < 0)
		return 0;
	rmt_free_names(names, n);
	return n;
}

static void m_table_stats(be_table_t *bt, struct tbl_stats *out)
{
	struct rtab *t = T(bt);
	struct rbe *r = t->r;
	struct sf_buf q = SF_BUF_INIT;
	struct sf_span whole;
	char *resp = NULL;
	size_t len = 0, i;

	/* DynamoDB refreshes these every few hours: kept as long as the schema */
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nsc; i++)
		if (!strcmp(r->sc[i].table, t->name) && r->sc[i].st_at &&
		    mono_s() - r->sc[i].st_at < meta_ttl(r)) {
			*out = r->sc[i].st;
			pthread_mutex_unlock(&r->mu);
			return;
		}
	pthread_mutex_unlock(&r->mu);
	memset(out, 0, sizeof(*out));
	out->mtime_ns = t->r->t0_ns;
	if (sf_buf_adds(&q, "{\"TableName\":") == 0 &&
	    sf_json_str(&q, t->name, strlen(t->name)) == 0 && sf_buf_addc(&q, '}') == 0 &&
	    rmt_call(t->r->c, "DescribeTable", q.p, q.len, true, &resp, &len, NULL) == 0 &&
	    sf_whole(resp, len, &whole) == 0) {
		stats_of(&t->s, t->r->t0_ns, whole, out);
		pthread_mutex_lock(&r->mu);
		for (i = 0; i < r->nsc; i++)
			if (!strcmp(r->sc[i].table, t->name)) {
				r->sc[i].st = *out;
				r->sc[i].st_at = mono_s() ? mono_s() : 1;
			}
		pthread_mutex_unlock(&r->mu);
	}
	free(resp);
	sf_buf_free(&q);
}

/* ---- rows ---- */

void rbe_fill_meta(struct rbe *r, const struct table_schema *s, const struct val *item,
		   struct item_meta *meta)
{
	char *text = NULL;
	size_t len = 0;

	meta->mtime_ns = r->t0_ns;
	meta->size = item_size(item);
	meta->text_len = 0;
	meta->version = 1;
	if (item_render(item, s->pk.name, s->has_sk ? s->sk.name : NULL, &text, &len) == 0) {
		meta->text_len = len;
		meta->version = be_text_version(text, len); /* fs/ dates it (no item times) */
	}
	free(text);
}

static const struct val *m_ref_pk(const void *impl)
{
	return ((const struct rrow *)impl)->pk;
}

static const struct val *m_ref_sk(const void *impl)
{
	return ((const struct rrow *)impl)->sk;
}

static int m_ref_decode(const void *impl, struct val *out)
{
	return val_copy(out, ((const struct rrow *)impl)->item);
}

static void m_ref_meta(const void *impl, struct item_meta *meta)
{
	*meta = ((const struct rrow *)impl)->meta;
}

/* ---- items ---- */

/* The key map of pk/sk under the table's names (new). */
int rbe_key_of(const struct table_schema *s, const struct val *pk, const struct val *sk,
	       struct val *out)
{
	struct val c;
	int rc;

	val_init_map(out);
	if ((rc = val_copy(&c, pk)) == 0)
		rc = val_map_set(out, s->pk.name, strlen(s->pk.name), &c);
	if (rc == 0 && s->has_sk && sk && (rc = val_copy(&c, sk)) == 0)
		rc = val_map_set(out, s->sk.name, strlen(s->sk.name), &c);
	if (rc < 0)
		val_free(out);
	return rc;
}

int rbe_get_item(struct rtab *t, const struct val *pk, const struct val *sk, struct val *out,
		 struct dyn_err *err)
{
	struct val key;
	bool found = false;
	int rc;

	val_init_null(out);
	if ((rc = rbe_key_of(&t->s, pk, sk, &key)) < 0)
		return rc;
	rc = rmt_get_item(t->r->c, t->name, &key, true, NULL, out, &found, err);
	val_free(&key);
	if (rc == 0 && !found) {
		val_free(out);
		rc = -ENOENT;
	}
	return rc;
}

/* m_get with answers of the memo up to max_age_ns old. */
static int get_memo(be_table_t *bt, const struct val *pk, const struct val *sk, struct val *out,
		    struct item_meta *meta, int64_t max_age_ns, struct dyn_err *err)
{
	struct rtab *t = T(bt);
	struct rbe *r = t->r;
	struct val v;
	char *key = NULL;
	size_t klen = 0;
	int64_t at = rbe_mono_ns();
	uint64_t gen;
	bool filled = false;
	int rc;

	if (r->o.cache_s != 0 && (key = rbe_memo_key(t, pk, sk, &klen)) &&
	    rbe_memo_find(r, key, klen, max_age_ns, &v)) {
		free(key);
		key = NULL;
		rc = v.type == VAL_NULL ? -ENOENT : 0;
	} else {
		gen = rbe_gen_now(r); /* before the read: a write during it makes the answer stale */
		rc = rbe_get_item(t, pk, sk, &v, err);
		if (rc == -ENOENT)
			val_init_null(&v);
		if (key && (rc == 0 || rc == -ENOENT)) {
			if (rc == 0 && meta) {
				rbe_fill_meta(t->r, &t->s, &v, meta);
				filled = true;
			}
			/* v is VAL_NULL for -ENOENT; the memo takes v itself
			 * when the caller wants only its meta (a lookup) */
			rbe_memo_keep(r, key, klen, &v, at, gen, !out);
		} else {
			free(key);
		}
	}
	if (rc < 0)
		return rc;
	if (meta && !filled)
		rbe_fill_meta(t->r, &t->s, &v, meta);
	if (out)
		val_move(out, &v);
	else
		val_free(&v);
	return 0;
}

static int m_get(be_table_t *bt, const struct val *pk, const struct val *sk, struct val *out,
		 struct item_meta *meta, struct dyn_err *err)
{
	return get_memo(bt, pk, sk, out, meta, (int64_t)GET_MEMO_MS * 1000000, err);
}

/* An open's text: the memo's answer within the attribute timeout (above). */
static int m_get_text(be_table_t *bt, const struct val *pk, const struct val *sk, char **text,
		      size_t *len, struct item_meta *meta, struct dyn_err *err)
{
	struct rtab *t = T(bt);
	int cache_s = t->r->o.cache_s < 0 ? 1 : t->r->o.cache_s;
	int64_t max_ns = (int64_t)cache_s * 1000000000;
	struct val v;
	int rc;

	if (max_ns < (int64_t)GET_MEMO_MS * 1000000)
		max_ns = (int64_t)GET_MEMO_MS * 1000000;
	rc = get_memo(bt, pk, sk, &v, meta, max_ns, err);

	if (rc < 0)
		return rc;
	rc = item_render(&v, t->s.pk.name, t->s.has_sk ? t->s.sk.name : NULL, text, len);
	val_free(&v);
	return rc;
}

/* ---- the rest ---- */

static void m_watch(be_t *b, db_observer_fn fn, void *ctx)
{
	struct rbe *r = R(b);

	pthread_mutex_lock(&r->mu);
	r->watch_fn = fn;
	r->watch_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

static void m_close(be_t *b)
{
	struct rbe *r = R(b);
	size_t i;

	if (!r)
		return;
	rmt_close(r->c);
	rbe_opts_free(&r->o);
	rmt_free_names(r->names, r->nnames);
	for (i = 0; i < r->nsc; i++) {
		free(r->sc[i].table);
		schema_free(&r->sc[i].s);
	}
	free(r->sc);
	for (i = 0; i < r->nids; i++)
		free(r->idn[i]);
	free(r->idn);
	free(r->ids);
	rbe_parts_free(r->parts, r->nparts);
	rbe_rests_free(r);
	rbe_memo_free(r);
	free(r->parts_table);
	free(r->parts_index);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

#define RBE_METHODS                                                                                \
	.version = BE_VERSION, .name = "dynamodb", .list_tables = m_list_tables,                   \
	.table_count = m_table_count, .create_table = m_create_table, .drop_table = m_drop_table,  \
	.set_schema = m_set_schema, .table_open = m_table_open, .table_close = m_table_close,      \
	.table_dup = m_table_dup, .table_name = m_table_name, .table_id = m_table_id,              \
	.table_alive = m_table_alive,                                                              \
	.table_schema = m_table_schema, .table_pk = m_table_pk, .table_sk = m_table_sk,            \
	.table_stats = m_table_stats, .get = m_get, .get_text = m_get_text, .query = rbe_query,    \
	.scan = rbe_scan, .list_partitions = rbe_list_partitions,                                  \
	.partition_exists = rbe_partition_exists, .project = rbe_project, .ref_pk = m_ref_pk,      \
	.ref_sk = m_ref_sk, .ref_decode = m_ref_decode, .ref_meta = m_ref_meta,                    \
	.apply = rbe_apply, .apply_each = rbe_apply_each, .check_item = rbe_check_item,            \
	.watch = m_watch, .close = m_close,

const struct be_methods rbe_methods = {.caps = BE_CAP_TX | BE_CAP_SCHEMA_CHANGE, RBE_METHODS};
/* The same once the service answered that it has no transactions (dynalite). */
const struct be_methods rbe_methods_notx = {.caps = BE_CAP_SCHEMA_CHANGE, RBE_METHODS};

int rbe_open(rmt_t *c, struct rbe_opts *o, be_t **out)
{
	struct rbe *r = calloc(1, sizeof(*r));
	struct timespec ts;

	if (!r) {
		rmt_close(c);
		rbe_opts_free(o);
		return -ENOMEM;
	}
	r->base.m = &rbe_methods;
	r->c = c;
	r->o = *o;
	memset(o, 0, sizeof(*o)); /* the table names moved */
	clock_gettime(CLOCK_REALTIME, &ts);
	r->t0_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	pthread_mutex_init(&r->mu, NULL);
	*out = &r->base;
	return 0;
}

int rbe_probe(be_t *b, struct dyn_err *err)
{
	struct rbe *r = R(b);
	char **names = NULL, *resp = NULL;
	size_t n = 0, len = 0;
	struct dyn_err e;
	int rc = table_names(r, &names, &n, err);

	if (rc < 0)
		return rc;
	rmt_free_names(names, n);
	/* a TransactWriteItems on a table that cannot exist (a one-letter
	 * name): a ValidationException where there are transactions,
	 * UnknownOperationException where there are none */
	static const char probe[] =
	    "{\"TransactItems\":[{\"ConditionCheck\":{\"TableName\":\"x\",\"Key\":{\"k\":{\"S\":"
	    "\"k\"}},\"ConditionExpression\":\"attribute_exists(k)\"}}]}";
	err_clear(&e);
	if (rmt_call(r->c, "TransactWriteItems", probe, strlen(probe), true, &resp, &len, &e) < 0 &&
	    strstr(e.msg, "UnknownOperation"))
		__atomic_store_n(&r->base.m, &rbe_methods_notx, __ATOMIC_RELEASE);
	free(resp);
	return 0;
}

rmt_t *rbe_client(be_t *b)
{
	return R(b)->c;
}
