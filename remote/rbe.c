/*
 * rbe.c - the remote backend: engine/backend.h's face over the DynamoDB
 * client.  The mapping of each method to calls is in rbe.h; what is
 * decided here:
 *
 * Caching.  The table list and each table's DescribeTable are kept for
 * meta_cache_s (60 s) and dropped at once when this mount changes a
 * table; items and listings are never cached here (fs/'s entry and
 * attribute timeouts, -o cache=, are the only item cache).  The one
 * exception is a partition listing's continuation: list_partitions with
 * `after` set (fs/ reading the rest of a directory it started) reuses
 * the scan made for the first call if it is under 30 s old and this
 * mount wrote nothing since, instead of scanning the table again for
 * every readdir buffer.
 *
 * Cursors.  A read's be_cursor holds, as an M opaque to fs/, {"k": the
 * key of the last item delivered (the table's key, plus the index's
 * for an index read: exactly an ExclusiveStartKey), "n": the items a
 * Scan has read so far}, so a listing resumed across readdir calls is
 * one sequence of pages and the max_list cap counts all of it.
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
#include "rbe.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"
#include "remoteint.h"

#define PARTS_REUSE_S 30 /* a partition listing's continuation reuses its scan */

/* One cached DescribeTable. */
struct sc_ent {
	char *table;	       /* name (owned) */
	struct table_schema s; /* schema (owned) */
	time_t at;	       /* when fetched (monotonic s) */
};

struct rbe {
	struct be base;		 /* methods: first */
	rmt_t *c;		 /* the client (owned) */
	struct rbe_opts o;	 /* options (owned) */
	int64_t t0_ns;		 /* mount time: mtime of items we did not write */
	pthread_mutex_t mu;	 /* guards everything below */
	char **names;		 /* cached table list (sorted, filtered), or NULL */
	size_t nnames;		 /* entries */
	time_t names_at;	 /* when fetched */
	struct sc_ent *sc;	 /* cached schemas */
	size_t nsc;		 /* entries */
	uint64_t gen;		 /* bumped by every write of this mount */
	char *parts_table;	 /* last partition scan: table (owned) */
	char *parts_index;	 /* and index (owned, NULL: the table) */
	struct val *parts;	 /* distinct partition keys, sorted (owned) */
	size_t nparts;		 /* entries */
	time_t parts_at;	 /* when scanned */
	uint64_t parts_gen;	 /* gen then */
	db_observer_fn watch_fn; /* or NULL */
	void *watch_ctx;	 /* for watch_fn */
	char **idn;		 /* table names with an id (owned) */
	uint64_t *ids;		 /* their ids */
	size_t nids;		 /* entries */
	uint64_t next_id;	 /* the last id given */
	struct scan_count {	 /* where Scans stopped, for the max_list cap */
		uint64_t hash;	 /* of table, index, segment, resume key */
		uint64_t n;	 /* items read so far */
	} counts[16];
	unsigned next_count; /* ring position */
};

static void forget_id(struct rbe *r, const char *name);

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct rbe *R(be_t *b)
{
	return (struct rbe *)b;
}

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

static size_t max_list(const struct rbe *r)
{
	return r->o.max_list ? r->o.max_list : RBE_MAX_LIST_DEFAULT;
}

static void report(struct rbe *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct rbe *r, const char *what, const char *fmt, ...)
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

static void bump(struct rbe *r)
{
	pthread_mutex_lock(&r->mu);
	r->gen++;
	pthread_mutex_unlock(&r->mu);
}

static void notify(struct rbe *r, const struct db_change *ch, size_t n)
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

static int deny_write(struct rbe *r, const char *table, struct dyn_err *err)
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

static int m_list_tables(be_t *b, const char *after, db_name_fn fn, void *ctx)
{
	struct rbe *r = R(b);
	struct dyn_err e;
	char **names = NULL;
	size_t n = 0, i;
	int rc = table_names(r, &names, &n, &e);

	if (rc < 0)
		report(r, "ListTables", "%s", e.msg);

	for (i = 0; rc == 0 && i < n; i++)
		if (!after || strcmp(names[i], after) > 0)
			rc = fn(ctx, names[i]);
	rmt_free_names(names, n);
	return rc;
}

static int schema_of(struct rbe *r, const char *table, struct table_schema *out,
		     struct dyn_err *err)
{
	struct table_schema s;
	struct sc_ent *grown;
	size_t i;
	int rc;

	if (!allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nsc; i++)
		if (!strcmp(r->sc[i].table, table)) {
			if (meta_ttl(r) > 0 && mono_s() - r->sc[i].at < meta_ttl(r)) {
				rc = schema_copy(out, &r->sc[i].s);
				pthread_mutex_unlock(&r->mu);
				return rc < 0 ? err_set(err, -rc, "out of memory") : 0;
			}
			break;
		}
	pthread_mutex_unlock(&r->mu);

	memset(&s, 0, sizeof(s));
	if ((rc = rmt_describe_table(r->c, table, &s, NULL, err)) < 0)
		return rc;
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
	} else if ((grown = realloc(r->sc, (r->nsc + 1) * sizeof(*grown))) &&
		   (grown[r->nsc].table = strdup(table))) {
		r->sc = grown;
		grown[r->nsc].s = s;
		grown[r->nsc].at = mono_s();
		r->nsc++;
	} else {
		if (grown)
			r->sc = grown;
		schema_free(&s);
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int m_create_table(be_t *b, const char *table, const struct table_schema *s,
			  struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct db_change ch = {.kind = DB_CH_CREATE_TABLE, .table = table, .schema = s};
	int rc = deny_write(r, table, err);

	if (rc == 0 && !r->o.allow_table_create)
		rc = err_set(err, EPERM,
			     "creating a table on the service needs -o allow_table_create");
	if (rc == 0)
		rc = rmt_create_table(r->c, table, s, err);
	invalidate(r, table);
	if (rc == 0)
		notify(r, &ch, 1);
	return rc;
}

static int m_drop_table(be_t *b, const char *table, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct db_change ch = {.kind = DB_CH_DROP_TABLE, .table = table};
	int rc = deny_write(r, table, err);

	if (rc == 0 && !r->o.allow_table_delete)
		rc = err_set(err, EPERM,
			     "deleting a table on the service needs -o allow_table_delete");
	if (rc == 0)
		rc = rmt_delete_table(r->c, table, err);
	if (rc == 0)
		forget_id(r, table);
	invalidate(r, table);
	if (rc == 0)
		notify(r, &ch, 1);
	return rc;
}

static const struct index_def *find_index(const struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; name && i < s->nindex; i++)
		if (!strcmp(s->index[i].name, name))
			return &s->index[i];
	return NULL;
}

static bool key_equal(const struct key_attr *a, const struct key_attr *b)
{
	return !strcmp(a->name, b->name) && a->type == b->type;
}

static bool index_equal(const struct index_def *a, const struct index_def *b)
{
	size_t i;

	if (!key_equal(&a->pk, &b->pk) || a->has_sk != b->has_sk ||
	    (a->has_sk && !key_equal(&a->sk, &b->sk)) || a->proj != b->proj ||
	    a->ninclude != b->ninclude)
		return false;
	for (i = 0; i < a->ninclude; i++)
		if (strcmp(a->include[i], b->include[i]))
			return false;
	return true;
}

static int m_set_schema(be_t *b, const char *table, const struct table_schema *s,
			struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct table_schema cur;
	struct db_change ch = {.kind = DB_CH_SET_SCHEMA, .table = table, .schema = s};
	const struct index_def *o;
	size_t i;
	int rc = deny_write(r, table, err);

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
	if (!key_equal(&cur.pk, &s->pk) || cur.has_sk != s->has_sk ||
	    (s->has_sk && !key_equal(&cur.sk, &s->sk)))
		rc = err_set(err, EINVAL, "a table's key schema cannot change");
	else if (strcmp(cur.ttl_attr, s->ttl_attr))
		rc = err_set(err, ENOTSUP,
			     "ttl_attribute of a remote table is set with UpdateTimeToLive, "
			     "which dynfs does not call");
	/* indexes gone or changed: drop; then new or changed: add, one call each */
	for (i = 0; rc == 0 && i < cur.nindex; i++) {
		o = find_index(s, cur.index[i].name);
		if (!o || !index_equal(o, &cur.index[i]))
			rc = rmt_drop_index(r->c, table, cur.index[i].name, err);
	}
	for (i = 0; rc == 0 && i < s->nindex; i++) {
		o = find_index(&cur, s->index[i].name);
		if (!o || !index_equal(o, &s->index[i]))
			rc = rmt_add_index(r->c, table, &s->index[i], err);
	}
	schema_free(&cur);
	invalidate(r, table);
	if (rc == 0)
		notify(r, &ch, 1);
	return rc;
}

/* ---- table handles ---- */

struct rtab {
	struct be_table base;  /* first */
	struct rbe *r;	       /* the backend */
	char *name;	       /* table name (owned) */
	struct table_schema s; /* schema when opened (owned) */
	uint64_t id;	       /* id (rbe.ids) */
};

static struct rtab *T(const be_table_t *t)
{
	return (struct rtab *)t;
}

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

static const struct be_methods rbe_methods;

static int m_table_open(be_t *b, const char *name, be_table_t **out)
{
	struct rbe *r = R(b);
	struct rtab *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	if ((rc = schema_of(r, name, &t->s, NULL)) < 0 || !(t->name = strdup(name))) {
		if (rc == 0)
			schema_free(&t->s);
		free(t);
		return rc < 0 ? rc : -ENOMEM;
	}
	t->base.m = &rbe_methods;
	t->base.be = b;
	t->r = r;
	t->id = table_id_of(r, name);
	*out = &t->base;
	return 0;
}

static void m_table_close(be_table_t *bt)
{
	struct rtab *t = T(bt);

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

static bool m_table_alive(be_table_t *bt)
{
	struct table_schema s;

	if (schema_of(T(bt)->r, T(bt)->name, &s, NULL) < 0)
		return false;
	schema_free(&s);
	return true;
}

static int m_table_schema(be_table_t *bt, struct table_schema *out)
{
	return schema_of(T(bt)->r, T(bt)->name, out, NULL);
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
	struct sf_buf q = SF_BUF_INIT;
	struct sf_span whole, tb, v;
	char *resp = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	out->mtime_ns = t->r->t0_ns;
	if (sf_buf_adds(&q, "{\"TableName\":") == 0 &&
	    sf_json_str(&q, t->name, strlen(t->name)) == 0 && sf_buf_addc(&q, '}') == 0 &&
	    rmt_call(t->r->c, "DescribeTable", q.p, q.len, true, &resp, &len, NULL) == 0 &&
	    sf_whole(resp, len, &whole) == 0 && rmt_member(whole, "Table", &tb) == 0) {
		if (rmt_member(tb, "ItemCount", &v) == 0)
			sf_span_u64(v, &out->items);
		if (rmt_member(tb, "TableSizeBytes", &v) == 0)
			sf_span_u64(v, &out->bytes);
	}
	free(resp);
	sf_buf_free(&q);
}

/* ---- rows ---- */

struct rrow {
	const struct val *item;	   /* as the service returned it */
	const struct val *pk, *sk; /* the base table's key */
	struct item_meta meta;	   /* metadata */
};

static void fill_meta(struct rbe *r, const struct table_schema *s, const struct val *item,
		      struct item_meta *meta)
{
	char *text = NULL;
	size_t len = 0;

	meta->mtime_ns = r->t0_ns;
	meta->size = item_size(item);
	meta->text_len = 0;
	if (item_render(item, s->pk.name, s->has_sk ? s->sk.name : NULL, &text, &len) == 0)
		meta->text_len = len;
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
static int key_of(const struct table_schema *s, const struct val *pk, const struct val *sk,
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

static int get_item(struct rtab *t, const struct val *pk, const struct val *sk, struct val *out,
		    struct dyn_err *err)
{
	struct val key;
	bool found = false;
	int rc;

	val_init_null(out);
	if ((rc = key_of(&t->s, pk, sk, &key)) < 0)
		return rc;
	rc = rmt_get_item(t->r->c, t->name, &key, true, NULL, out, &found, err);
	val_free(&key);
	if (rc == 0 && !found) {
		val_free(out);
		rc = -ENOENT;
	}
	return rc;
}

static int m_get(be_table_t *bt, const struct val *pk, const struct val *sk, struct val *out,
		 struct item_meta *meta)
{
	struct rtab *t = T(bt);
	struct val v;
	struct dyn_err e;
	int rc = get_item(t, pk, sk, &v, &e);

	if (rc < 0 && rc != -ENOENT)
		report(t->r, t->name, "GetItem: %s", e.msg);
	if (rc < 0)
		return rc;
	if (meta)
		fill_meta(t->r, &t->s, &v, meta);
	if (out)
		val_move(out, &v);
	else
		val_free(&v);
	return 0;
}

static int m_get_text(be_table_t *bt, const struct val *pk, const struct val *sk, char **text,
		      size_t *len, struct item_meta *meta)
{
	struct rtab *t = T(bt);
	struct val v;
	int rc = m_get(bt, pk, sk, &v, meta);

	if (rc < 0)
		return rc;
	rc = item_render(&v, t->s.pk.name, t->s.has_sk ? t->s.sk.name : NULL, text, len);
	val_free(&v);
	return rc;
}

/* ---- reads ---- */

/* Key names of the table or one of its indexes. */
struct keys {
	const char *pk, *sk;   /* of what is read (sk NULL: none) */
	const char *tpk, *tsk; /* of the table (tsk NULL: none) */
};

static int keys_of(const struct table_schema *s, const char *index, struct keys *k,
		   struct dyn_err *err)
{
	const struct index_def *ix = find_index(s, index);

	k->tpk = s->pk.name;
	k->tsk = s->has_sk ? s->sk.name : NULL;
	if (!index) {
		k->pk = k->tpk;
		k->sk = k->tsk;
		return 0;
	}
	if (!ix)
		return err_set(err, ENOENT, "no index %s", index);
	k->pk = ix->pk.name;
	k->sk = ix->has_sk ? ix->sk.name : NULL;
	return 0;
}

static int bind_name(struct val *names, const char *ph, const char *name)
{
	struct val v;
	int rc = val_init_str(&v, name, strlen(name));

	return rc < 0 ? rc : val_map_set(names, ph, strlen(ph), &v);
}

static int bind_value(struct val *values, const char *ph, const struct val *v)
{
	struct val c;
	int rc = val_copy(&c, v);

	return rc < 0 ? rc : val_map_set(values, ph, strlen(ph), &c);
}

/* The KeyConditionExpression of a query (*out new). */
static int key_condition(const struct tbl_query *q, const struct keys *k, expr_t **out,
			 struct dyn_err *err)
{
	struct val names, values;
	struct expr_bind bind = {.names = &names, .values = &values, .flags = EXPR_UNLIMITED};
	const struct tbl_range *g = &q->sk;
	char text[128] = "#p = :p";
	int rc;

	val_init_map(&names);
	val_init_map(&values);
	rc = bind_name(&names, "#p", k->pk);
	if (rc == 0)
		rc = bind_value(&values, ":p", q->pk);
	if (rc == 0 && k->sk && (g->prefix || g->lo || g->hi)) {
		rc = bind_name(&names, "#s", k->sk);
		if (rc == 0 && g->prefix) {
			strcat(text, " AND begins_with(#s, :a)");
			rc = bind_value(&values, ":a", g->prefix);
		} else if (rc == 0 && g->lo && g->hi) {
			strcat(text, " AND #s BETWEEN :a AND :b");
			rc = bind_value(&values, ":a", g->lo);
			if (rc == 0)
				rc = bind_value(&values, ":b", g->hi);
		} else if (rc == 0 && g->lo) {
			strcat(text, g->lo_incl ? " AND #s >= :a" : " AND #s > :a");
			rc = bind_value(&values, ":a", g->lo);
		} else if (rc == 0) {
			strcat(text, g->hi_incl ? " AND #s <= :a" : " AND #s < :a");
			rc = bind_value(&values, ":a", g->hi);
		}
	}
	if (rc == 0) {
		bind.values = values.m.len ? &values : NULL;
		rc = expr_parse_key_condition(text, strlen(text), &bind, out, err);
	} else
		rc = err_set(err, -rc, "out of memory");
	val_free(&names);
	val_free(&values);
	return rc;
}

/* Whether sk (NULL: missing) is inside the range; the service checked part of it. */
static bool in_range(const struct tbl_range *g, const struct val *sk)
{
	int c;

	if (!g->lo && !g->hi && !g->prefix)
		return true;
	if (!sk)
		return false;
	if (g->lo && ((c = val_cmp(sk, g->lo)) < 0 || (c == 0 && !g->lo_incl)))
		return false;
	if (g->hi && ((c = val_cmp(sk, g->hi)) > 0 || (c == 0 && !g->hi_incl)))
		return false;
	if (g->prefix && (sk->type != g->prefix->type || sk->s.len < g->prefix->s.len ||
			  memcmp(sk->s.p, g->prefix->s.p, g->prefix->s.len)))
		return false;
	return true;
}

/*
 * The ExclusiveStartKey after the base item start_pk/start_sk: its key,
 * plus for an index read its index keys (isk if given, else read from the
 * item: -ENOENT if it is gone).  out VAL_NULL when there is no start.
 */
static int start_key(struct rtab *t, const struct keys *k, const char *index, const struct val *pk,
		     const struct val *sk, const struct val *ipk, const struct val *isk,
		     struct val *out, struct dyn_err *err)
{
	struct val item, c;
	const struct val *v;
	int rc;

	val_init_null(out);
	if (!pk)
		return 0;
	if ((rc = key_of(&t->s, pk, sk, out)) < 0 || !index)
		return rc;
	if (!ipk || (k->sk && !isk)) {
		if ((rc = get_item(t, pk, sk, &item, err)) < 0) {
			val_free(out);
			return rc;
		}
		v = val_map_get(&item, k->pk, strlen(k->pk));
		rc = v ? bind_value(out, k->pk, v) : 0;
		v = k->sk ? val_map_get(&item, k->sk, strlen(k->sk)) : NULL;
		if (rc == 0 && v)
			rc = bind_value(out, k->sk, v);
		val_free(&item);
		return rc;
	}
	if ((rc = val_copy(&c, ipk)) == 0)
		rc = val_map_set(out, k->pk, strlen(k->pk), &c);
	if (rc == 0 && k->sk && (rc = val_copy(&c, isk)) == 0)
		rc = val_map_set(out, k->sk, strlen(k->sk), &c);
	return rc;
}

/* FNV-1a of where a Scan resumes, for the max_list count. */
static uint64_t scan_hash(const char *table, const char *index, uint32_t seg, const struct val *pk,
			  const struct val *sk)
{
	uint64_t h = 1469598103934665603ull;
	char *a = NULL, *b = NULL;
	size_t la = 0, lb = 0, i;
	const char *parts[4];
	size_t lens[4];

	if (pk)
		item_render_compact(pk, NULL, NULL, &a, &la);
	if (sk)
		item_render_compact(sk, NULL, NULL, &b, &lb);
	parts[0] = table, lens[0] = strlen(table) + 1;
	parts[1] = index ? index : "", lens[1] = strlen(parts[1]) + 1;
	parts[2] = a ? a : "", lens[2] = a ? la : 0;
	parts[3] = b ? b : "", lens[3] = b ? lb : 0;
	for (int p = 0; p < 4; p++)
		for (i = 0; i < lens[p]; i++)
			h = (h ^ (unsigned char)parts[p][i]) * 1099511628211ull;
	h ^= seg;
	free(a);
	free(b);
	return h;
}

/* One read: Query (q) or Scan (sc) pages to fn. */
static int read_pages(struct rtab *t, const struct tbl_query *q, const struct tbl_scan *sc,
		      be_visit_fn fn, void *ctx, struct dyn_err *err)
{
	struct rbe *r = t->r;
	const char *index = q ? q->index : sc->index;
	size_t limit = q ? q->limit : sc->limit, delivered = 0, i, cap = max_list(r);
	struct keys k;
	expr_t *kc = NULL;
	struct val start;
	struct rmt_page pg;
	struct rmt_read rq;
	uint64_t count = 0, h;
	const struct val *spk = q ? q->start_pk : sc->start_pk,
			 *ssk = q ? q->start_sk : sc->start_sk;
	int rc;

	memset(&pg, 0, sizeof(pg));
	val_init_null(&start);
	if ((rc = keys_of(&t->s, index, &k, err)) < 0)
		return rc;
	if (q && (rc = key_condition(q, &k, &kc, err)) < 0)
		return rc;
	if ((rc = start_key(t, &k, index, spk, ssk, q ? q->pk : NULL, q ? q->start_isk : NULL,
			    &start, err)) < 0)
		goto cleanup;
	if (!q && spk) { /* a Scan resumed: go on counting toward the cap */
		h = scan_hash(t->name, index, sc->segment, spk, ssk);
		pthread_mutex_lock(&r->mu);
		for (i = 0; i < sizeof(r->counts) / sizeof(r->counts[0]); i++)
			if (r->counts[i].hash == h)
				count = r->counts[i].n;
		pthread_mutex_unlock(&r->mu);
	}
	for (;;) {
		rq = (struct rmt_read){
		    .table = t->name,
		    .index = index,
		    .keycond = kc,
		    .consistent = !index,
		    .backward = q && q->desc,
		    .start = start.type == VAL_M ? &start : NULL,
		    .segment = q ? 0 : (int)sc->segment,
		    .segments = q || sc->total < 2 ? 0 : (int)sc->total,
		};
		if (limit && !(q && (q->sk.lo || q->sk.hi || q->sk.prefix)))
			rq.limit = (uint32_t)(limit - delivered);
		rc = q ? rmt_query(r->c, &rq, &pg, err) : rmt_scan(r->c, &rq, &pg, err);
		if (rc < 0)
			goto cleanup;
		for (i = 0; i < pg.n; i++) {
			const struct val *it = &pg.items[i];
			struct rrow row = {.item = it};
			struct be_ref ref = {.m = &rbe_methods, .impl = &row};
			int stop;

			if (q &&
			    !in_range(&q->sk, k.sk ? val_map_get(it, k.sk, strlen(k.sk)) : NULL))
				continue;
			if (!q && count >= cap) {
				report(
				    r, t->name,
				    "listing stopped after %zu items: a table-level listing is a "
				    "full Scan (-o max_list=N changes the cap)",
				    cap);
				rc = 0;
				goto cleanup;
			}
			count++;
			row.pk = val_map_get(it, k.tpk, strlen(k.tpk));
			row.sk = k.tsk ? val_map_get(it, k.tsk, strlen(k.tsk)) : NULL;
			if (!row.pk)
				continue;
			fill_meta(r, &t->s, it, &row.meta);
			stop = fn(ctx, &ref);
			delivered++;
			if (!q && (stop || (limit && delivered >= limit))) {
				h = scan_hash(t->name, index, sc->segment, row.pk, row.sk);
				pthread_mutex_lock(&r->mu);
				r->counts[r->next_count].hash = h;
				r->counts[r->next_count].n = count;
				r->next_count = (r->next_count + 1) %
						(sizeof(r->counts) / sizeof(r->counts[0]));
				pthread_mutex_unlock(&r->mu);
			}
			if (stop || (limit && delivered >= limit)) {
				rc = stop;
				goto cleanup;
			}
		}
		val_free(&start);
		val_move(&start, &pg.last);
		rmt_page_free(&pg);
		if (start.type != VAL_M) {
			rc = 0;
			goto cleanup;
		}
	}
cleanup:
	rmt_page_free(&pg);
	val_free(&start);
	expr_free(kc);
	return rc;
}

static int m_query(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
		   struct dyn_err *err)
{
	return read_pages(T(t), q, NULL, fn, ctx, err);
}

static int m_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
		  struct dyn_err *err)
{
	return read_pages(T(t), NULL, s, fn, ctx, err);
}

static int cmp_val(const void *a, const void *b)
{
	return val_cmp(a, b);
}

static void parts_free(struct val *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		val_free(&p[i]);
	free(p);
}

/* Scan the distinct partition keys of a table or index (sorted, *out new). */
static int scan_partitions(struct rtab *t, const char *index, struct val **out, size_t *nout,
			   struct dyn_err *err)
{
	struct rbe *r = t->r;
	struct keys k;
	struct val names, start, *all = NULL, *grown;
	struct expr_bind bind = {.names = &names, .flags = EXPR_UNLIMITED};
	expr_t *proj = NULL;
	struct rmt_page pg;
	size_t n = 0, cap = 0, i, j;
	uint64_t scanned = 0;
	int rc;

	memset(&pg, 0, sizeof(pg));
	val_init_map(&names);
	val_init_null(&start);
	if ((rc = keys_of(&t->s, index, &k, err)) < 0)
		goto cleanup;
	if ((rc = bind_name(&names, "#p", k.pk)) < 0 ||
	    (rc = expr_parse_projection("#p", 2, &bind, &proj, err)) < 0)
		goto cleanup;
	for (;;) {
		struct rmt_read q = {.table = t->name,
				     .index = index,
				     .proj = proj,
				     .start = start.type == VAL_M ? &start : NULL};

		if ((rc = rmt_scan(r->c, &q, &pg, err)) < 0)
			goto cleanup;
		for (i = 0; i < pg.n; i++) {
			struct val *v = val_map_get(&pg.items[i], k.pk, strlen(k.pk));

			if (!v)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				if (!(grown = realloc(all, cap * sizeof(*all)))) {
					rc = err_set(err, ENOMEM, "out of memory");
					goto cleanup;
				}
				all = grown;
			}
			val_move(&all[n++], v);
		}
		scanned += pg.scanned > pg.n ? pg.scanned : pg.n;
		val_free(&start);
		val_move(&start, &pg.last);
		rmt_page_free(&pg);
		if (start.type != VAL_M)
			break;
		if (scanned >= max_list(r)) {
			report(r, t->name,
			       "partition listing stopped after %llu items: listing a table's "
			       "partitions is a full Scan (-o max_list=N changes the cap)",
			       (unsigned long long)scanned);
			break;
		}
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_val);
	for (i = j = 0; i < n; i++)
		if (j && val_equal(&all[j - 1], &all[i]))
			val_free(&all[i]);
		else if (j++ != i)
			val_move(&all[j - 1], &all[i]);
	*out = all;
	*nout = j;
	all = NULL;
	n = 0;
cleanup:
	parts_free(all, n);
	rmt_page_free(&pg);
	val_free(&start);
	val_free(&names);
	expr_free(proj);
	return rc;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int m_list_partitions(be_table_t *bt, const char *index, const struct val *after,
			     tbl_pk_fn fn, void *ctx)
{
	struct rtab *t = T(bt);
	struct rbe *r = t->r;
	struct val *parts = NULL, *keep;
	struct dyn_err e;
	size_t n = 0, i, kept = 0;
	int rc = 0;
	bool reuse;

	pthread_mutex_lock(&r->mu);
	reuse = after && r->parts && same_str(r->parts_table, t->name) &&
		same_str(r->parts_index, index) && r->parts_gen == r->gen &&
		mono_s() - r->parts_at < PARTS_REUSE_S;
	if (reuse) {
		parts = calloc(r->nparts + 1, sizeof(*parts));
		for (i = 0; parts && i < r->nparts; i++, n++)
			if (val_copy(&parts[i], &r->parts[i]) < 0)
				break;
		reuse = parts && n == r->nparts;
	}
	pthread_mutex_unlock(&r->mu);
	if (!reuse) {
		parts_free(parts, n);
		parts = NULL;
		n = 0;
		if ((rc = scan_partitions(t, index, &parts, &n, &e)) < 0) {
			report(r, t->name, "Scan: %s", e.msg);
			return rc;
		}
		keep = calloc(n + 1, sizeof(*keep));
		for (i = 0; keep && i < n; i++, kept++)
			if (val_copy(&keep[i], &parts[i]) < 0)
				break;
		pthread_mutex_lock(&r->mu);
		parts_free(r->parts, r->nparts);
		free(r->parts_table);
		free(r->parts_index);
		r->parts = keep;
		r->nparts = kept;
		r->parts_table = strdup(t->name);
		r->parts_index = index ? strdup(index) : NULL;
		r->parts_at = mono_s();
		r->parts_gen = r->gen;
		if (!r->parts_table || (index && !r->parts_index) || kept < n) {
			parts_free(r->parts, r->nparts);
			r->parts = NULL;
			r->nparts = 0;
		}
		pthread_mutex_unlock(&r->mu);
	}
	for (i = 0; rc == 0 && i < n; i++)
		if (!after || val_cmp(&parts[i], after) > 0)
			rc = fn(ctx, &parts[i]);
	parts_free(parts, n);
	return rc;
}

static int stop_first(void *ctx, const struct be_ref *r)
{
	return 1;
}

static int m_partition_exists(be_table_t *bt, const char *index, const struct val *pk)
{
	struct tbl_query q = {.index = index, .pk = pk, .limit = 1};
	int rc = read_pages(T(bt), &q, NULL, stop_first, NULL, NULL);

	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

static int m_project(be_table_t *bt, const char *index, struct val *item)
{
	struct rtab *t = T(bt);
	const struct index_def *ix = find_index(&t->s, index);
	struct val out, c;
	size_t i, j;
	int rc = 0;

	if (!ix)
		return index ? -ENOENT : 0;
	if (ix->proj == PROJ_ALL)
		return 0;
	val_init_map(&out);
	for (i = 0; rc == 0 && i < item->m.len; i++) {
		const struct val_attr *a = &item->m.a[i];
		bool keep = !strcmp(a->name, t->s.pk.name) ||
			    (t->s.has_sk && !strcmp(a->name, t->s.sk.name)) ||
			    !strcmp(a->name, ix->pk.name) ||
			    (ix->has_sk && !strcmp(a->name, ix->sk.name));

		for (j = 0; !keep && ix->proj == PROJ_INCLUDE && j < ix->ninclude; j++)
			keep = !strcmp(a->name, ix->include[j]);
		if (keep && (rc = val_copy(&c, &a->v)) == 0)
			rc = val_map_set(&out, a->name, a->name_len, &c);
	}
	if (rc < 0) {
		val_free(&out);
		return rc;
	}
	val_free(item);
	*item = out;
	return 0;
}

/* ---- writes ---- */

static int m_check_item(be_table_t *bt, const struct val *item, struct dyn_err *err)
{
	struct rtab *t = T(bt);
	const struct key_attr *ka[2] = {&t->s.pk, t->s.has_sk ? &t->s.sk : NULL};
	const struct val *v;
	int rc = item_check(item, err);

	for (int i = 0; rc == 0 && i < 2; i++) {
		if (!ka[i])
			continue;
		v = val_map_get(item, ka[i]->name, strlen(ka[i]->name));
		if (!v)
			rc = err_set(err, EINVAL, "missing the key attribute %s", ka[i]->name);
		else if (v->type != ka[i]->type)
			rc = err_set(err, EINVAL, "key attribute %s must be of type %s",
				     ka[i]->name, val_type_name(ka[i]->type));
	}
	for (size_t i = 0; rc == 0 && i < t->s.nindex; i++) {
		const struct index_def *ix = &t->s.index[i];
		const struct key_attr *ik[2] = {&ix->pk, ix->has_sk ? &ix->sk : NULL};

		for (int j = 0; rc == 0 && j < 2; j++)
			if (ik[j] && (v = val_map_get(item, ik[j]->name, strlen(ik[j]->name))) &&
			    v->type != ik[j]->type)
				rc = err_set(
				    err, EINVAL,
				    "attribute %s is a key of index %s and must be of type %s",
				    ik[j]->name, ix->name, val_type_name(ik[j]->type));
	}
	return rc;
}

/*
 * The condition of one write: its own (cond), its flags (DB_IF_ABSENT,
 * DB_IF_PRESENT) and its expected item (expect: rbe_cond_text), as one
 * expression (*out new, NULL when there is no condition at all).
 */
static int write_cond(const struct rtab *t, const be_op *w, expr_t **out, struct dyn_err *err)
{
	struct expr_text et;
	struct sf_buf b = SF_BUF_INIT;
	struct val names, values;
	struct expr_bind bind = {.names = &names, .values = &values, .flags = EXPR_UNLIMITED};
	char *text = NULL;
	int rc = 0;

	*out = NULL;
	if (!w->cond && !w->flags && !w->expect)
		return 0;
	expr_text_init(&et);
	val_init_map(&names);
	val_init_map(&values);
	if (w->cond && (rc = expr_to_text(w->cond, &et, &text)) == 0) {
		rc = sf_buf_printf(&b, "(%s)", text);
		if (rc == 0 && et.names.type == VAL_M)
			rc = val_copy(&names, &et.names) < 0 ? -ENOMEM : 0;
		if (rc == 0 && et.values.type == VAL_M) {
			val_free(&values);
			rc = val_copy(&values, &et.values) < 0 ? -ENOMEM : 0;
		}
	}
	if (rc == 0 && names.type != VAL_M)
		val_init_map(&names);
	if (rc == 0 && (w->flags & (DB_IF_ABSENT | DB_IF_PRESENT)))
		rc = bind_name(&names, "#fk", t->s.pk.name);
	if (rc == 0 && (w->flags & DB_IF_ABSENT))
		rc = sf_buf_printf(&b, "%sattribute_not_exists(#fk)", b.len ? " AND " : "");
	if (rc == 0 && (w->flags & DB_IF_PRESENT))
		rc = sf_buf_printf(&b, "%sattribute_exists(#fk)", b.len ? " AND " : "");
	if (rc == 0 && w->expect)
		rc = rbe_cond_text(w->expect, t->s.pk.name, w->kind == OPS_PUT ? w->item : NULL, 0,
				   &b, &names, &values, NULL);
	if (rc == 0) {
		/* empty maps are refused ("must not be empty"), as DynamoDB does */
		bind.names = names.m.len ? &names : NULL;
		bind.values = values.type == VAL_M && values.m.len ? &values : NULL;
		rc = expr_parse_condition(b.p, b.len, &bind, out, err);
	} else {
		rc = err_set(err, -rc, "out of memory");
	}
	free(text);
	expr_text_free(&et);
	sf_buf_free(&b);
	val_free(&names);
	val_free(&values);
	return rc;
}

/*
 * After a failed condition: which part failed, in the engine's errnos
 * (-EEXIST flags IF_ABSENT, -ENOENT IF_PRESENT/expect on an absent item,
 * -EAGAIN expect on a changed one, -ECANCELED the condition), with what
 * the service kept in the message.
 */
static int explain_conflict(struct rtab *t, const be_op *w, struct dyn_err *err)
{
	const struct val *pk =
	    w->kind == OPS_PUT ? val_map_get(w->item, t->s.pk.name, strlen(t->s.pk.name)) : w->pk;
	const struct val *sk = !t->s.has_sk ? NULL
			       : w->kind == OPS_PUT
				   ? val_map_get(w->item, t->s.sk.name, strlen(t->s.sk.name))
				   : w->sk;
	struct val now;
	char *text = NULL;
	size_t len = 0;
	int rc, code = ECANCELED;

	if (!pk || ((rc = get_item(t, pk, sk, &now, NULL)) < 0 && rc != -ENOENT))
		return -ECANCELED;
	if (rc == -ENOENT) {
		code = (w->flags & DB_IF_PRESENT) || w->expect ? ENOENT : ECANCELED;
		err_clear(err);
		return err_set(err, code,
			       "condition failed: the item does not exist on the service%s",
			       w->expect ? " (deleted since it was read)" : "");
	}
	if (w->flags & DB_IF_ABSENT)
		code = EEXIST;
	else if (w->expect && !val_equal(&now, w->expect))
		code = EAGAIN;
	item_render_compact(&now, t->s.pk.name, t->s.has_sk ? t->s.sk.name : NULL, &text, &len);
	err_clear(err);
	err_set(err, code, "%s; the service's version was kept: %.360s%s",
		code == EAGAIN ? "the item changed on the service since it was read"
			       : "condition failed",
		text ? text : "?", len > 360 ? "..." : "");
	free(text);
	val_free(&now);
	return -code;
}

/* The rmt_write of w, with its key and condition built (new, in key and cond). */
static int to_rmt(const be_op *w, struct rmt_write *rw, struct val *key, expr_t **cond,
		  struct dyn_err *err)
{
	static const enum rmt_wkind k[] = {[OPS_PUT] = RMT_PUT,
					   [OPS_DELETE] = RMT_DELETE,
					   [OPS_UPDATE] = RMT_UPDATE,
					   [OPS_CHECK] = RMT_CHECK};
	struct rtab *t = T(w->table);
	int rc;

	val_init_null(key);
	*cond = NULL;
	if (w->kind != OPS_PUT && (rc = key_of(&t->s, w->pk, w->sk, key)) < 0)
		return err_set(err, -rc, "out of memory");
	if ((rc = write_cond(t, w, cond, err)) < 0)
		return rc;
	*rw = (struct rmt_write){.kind = k[w->kind],
				 .table = t->name,
				 .item = w->kind == OPS_PUT ? w->item : key,
				 .update = w->update,
				 .cond = *cond};
	if (w->kind == OPS_UPDATE && !w->update) /* no actions: create the item if absent */
		rw->kind = RMT_UPDATE;
	if (w->kind == OPS_CHECK && !*cond)
		return err_set(err, EINVAL, "a check needs a condition");
	return 0;
}

/* The index in a TransactionCanceled message's [reason, reason...] that failed. */
static size_t failed_index(const char *msg, size_t n)
{
	const char *p = strchr(msg, '[');
	size_t i = 0;

	while (p && *p && *p != ']' && i < n) {
		p++;
		while (*p == ' ')
			p++;
		if (strncmp(p, "None", 4) && *p != ',' && *p != ']')
			return i;
		p = strpbrk(p, ",]");
		if (p && *p == ',')
			i++;
		else
			break;
	}
	return n;
}

static void notify_ops(struct rbe *r, const be_op *ops, size_t n, const struct val *items)
{
	struct db_change ch;
	size_t i;

	for (i = 0; i < n; i++) {
		struct rtab *t = T(ops[i].table);

		memset(&ch, 0, sizeof(ch));
		ch.table = t->name;
		if (ops[i].kind == OPS_CHECK)
			continue;
		if (ops[i].kind == OPS_PUT) {
			ch.kind = DB_CH_PUT;
			ch.item = ops[i].item;
		} else if (ops[i].kind == OPS_UPDATE && items[i].type == VAL_M) {
			ch.kind = DB_CH_PUT;
			ch.item = &items[i];
		} else {
			ch.kind = DB_CH_DELETE;
			ch.pk = ops[i].pk;
			ch.sk = ops[i].sk;
		}
		notify(r, &ch, 1);
	}
}

static int m_apply(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct rmt_write *w = NULL;
	struct val *keys = NULL, *res = NULL;
	expr_t **conds = NULL;
	size_t i, f;
	int rc = 0;

	if (failed)
		*failed = n;
	if (n == 0)
		return 0;
	w = calloc(n, sizeof(*w));
	keys = calloc(n, sizeof(*keys));
	res = calloc(n, sizeof(*res));
	conds = calloc(n, sizeof(*conds));
	if (!w || !keys || !res || !conds) {
		rc = err_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		if ((rc = deny_write(r, T(ops[i].table)->name, err)) == 0)
			rc = to_rmt(&ops[i], &w[i], &keys[i], &conds[i], err);
		if (rc < 0 && failed)
			*failed = i;
	}
	if (rc < 0)
		goto cleanup;
	if (n == 1) {
		switch (w[0].kind) {
		case RMT_PUT:
			rc = rmt_put_item(r->c, w[0].table, w[0].item, w[0].cond, NULL, err);
			break;
		case RMT_DELETE:
			rc = rmt_delete_item(r->c, w[0].table, w[0].item, w[0].cond,
					     ops[0].out ? &res[0] : NULL, err);
			break;
		case RMT_UPDATE:
			rc = rmt_update_item(r->c, w[0].table, w[0].item, w[0].update, w[0].cond,
					     &res[0], err);
			break;
		case RMT_CHECK:
			rc = rmt_transact_write(r->c, w, 1, NULL, err);
			break;
		}
		f = 0;
	} else {
		/* deletes that return the old item: read before (not atomic with the write) */
		for (i = 0; i < n; i++)
			if (ops[i].kind == OPS_DELETE && ops[i].out)
				get_item(T(ops[i].table), ops[i].pk, ops[i].sk, &res[i], NULL);
		rc = rmt_transact_write(r->c, w, n, NULL, err);
		f = rc == -ECANCELED && err ? failed_index(err->msg, n) : n;
		if (rc == -EINVAL && err && strstr(err->msg, "UnknownOperation")) {
			err_clear(err);
			rc = err_set(err, ENOTSUP,
				     "the service has no transactions (TransactWriteItems)");
		}
		for (i = 0; rc == 0 && i < n; i++)
			if (ops[i].kind == OPS_UPDATE) {
				val_free(&res[i]);
				get_item(T(ops[i].table), ops[i].pk, ops[i].sk, &res[i], NULL);
			}
	}
	if (rc == -ECANCELED && f < n) {
		if (failed)
			*failed = f;
		if (ops[f].kind != OPS_CHECK || ops[f].expect || ops[f].flags)
			rc = explain_conflict(T(ops[f].table), &ops[f], err);
	}
	if (rc == 0) {
		bump(r);
		notify_ops(r, ops, n, res);
		for (i = 0; i < n; i++)
			if (ops[i].out) {
				val_free(ops[i].out);
				val_move(ops[i].out, &res[i]);
			}
	}
cleanup:
	for (i = 0; i < n; i++) {
		if (keys)
			val_free(&keys[i]);
		if (res)
			val_free(&res[i]);
		if (conds)
			expr_free(conds[i]);
	}
	free(w);
	free(keys);
	free(res);
	free(conds);
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
	parts_free(r->parts, r->nparts);
	free(r->parts_table);
	free(r->parts_index);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static const struct be_methods rbe_methods = {
    .version = BE_VERSION,
    .name = "dynamodb",
    .caps = BE_CAP_TX | BE_CAP_SCHEMA_CHANGE,
    .list_tables = m_list_tables,
    .table_count = m_table_count,
    .create_table = m_create_table,
    .drop_table = m_drop_table,
    .set_schema = m_set_schema,
    .table_open = m_table_open,
    .table_close = m_table_close,
    .table_name = m_table_name,
    .table_id = m_table_id,
    .table_alive = m_table_alive,
    .table_schema = m_table_schema,
    .table_pk = m_table_pk,
    .table_sk = m_table_sk,
    .table_stats = m_table_stats,
    .get = m_get,
    .get_text = m_get_text,
    .query = m_query,
    .scan = m_scan,
    .list_partitions = m_list_partitions,
    .partition_exists = m_partition_exists,
    .project = m_project,
    .ref_pk = m_ref_pk,
    .ref_sk = m_ref_sk,
    .ref_decode = m_ref_decode,
    .ref_meta = m_ref_meta,
    .apply = m_apply,
    .check_item = m_check_item,
    .watch = m_watch,
    .close = m_close,
};

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

rmt_t *rbe_client(be_t *b)
{
	return R(b)->c;
}
