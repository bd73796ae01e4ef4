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
	struct be base;	       /* methods: first */
	rmt_t *c;	       /* the client (owned) */
	struct rbe_opts o;     /* options (owned) */
	int64_t t0_ns;	       /* mount time: mtime of items we did not write */
	pthread_mutex_t mu;    /* guards everything below */
	char **names;	       /* cached table list (sorted, filtered), or NULL */
	size_t nnames;	       /* entries */
	time_t names_at;       /* when fetched */
	struct sc_ent *sc;     /* cached schemas */
	size_t nsc;	       /* entries */
	uint64_t gen;	       /* bumped by every write of this mount */
	char *parts_table;     /* last partition scan: table (owned) */
	char *parts_index;     /* and index (owned, NULL: the table) */
	struct val *parts;     /* distinct partition keys, sorted (owned) */
	size_t nparts;	       /* entries */
	time_t parts_at;       /* when scanned */
	uint64_t parts_gen;    /* gen then */
	be_change_fn watch_fn; /* or NULL */
	void *watch_ctx;       /* for watch_fn */
};

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
	be_change_fn fn;
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

static int m_schema(be_t *b, const char *table, struct table_schema *out, struct dyn_err *err)
{
	struct rbe *r = R(b);
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

/* ---- items ---- */

static void fill_meta(struct rbe *r, const struct table_schema *s, const struct val *item,
		      struct be_meta *meta)
{
	char *text = NULL;
	size_t len = 0;

	meta->mtime_ns = r->t0_ns;
	meta->size = 0;
	if (item_render(item, s ? s->pk.name : NULL, s && s->has_sk ? s->sk.name : NULL, &text,
			&len) == 0)
		meta->size = len;
	free(text);
}

static int m_get(be_t *b, const char *table, const struct val *key, bool consistent,
		 struct val *out, struct be_meta *meta, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct table_schema s;
	struct val v;
	bool found = false;
	int rc;

	if (!allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	val_init_null(&v);
	if ((rc = rmt_get_item(r->c, table, key, consistent, NULL, &v, &found, err)) < 0)
		return rc;
	if (!found) {
		val_free(&v);
		return -ENOENT;
	}
	if (meta) {
		memset(&s, 0, sizeof(s));
		if (m_schema(b, table, &s, NULL) == 0) {
			fill_meta(r, &s, &v, meta);
			schema_free(&s);
		} else {
			fill_meta(r, NULL, &v, meta);
		}
	}
	if (out)
		val_move(out, &v);
	else
		val_free(&v);
	return 0;
}

/* ---- reads ---- */

/* Key names of a table or one of its indexes. */
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

/* names[name] = S name; values[ph] = copy of v. */
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

/* The KeyConditionExpression of an ordered read (*out new). */
static int key_condition(const struct be_read *rd, const struct keys *k, expr_t **out,
			 struct dyn_err *err)
{
	struct val names, values;
	struct expr_bind bind = {.names = &names, .values = &values, .flags = EXPR_UNLIMITED};
	const struct tbl_range *g = &rd->sk;
	char text[128] = "#p = :p";
	int rc;

	val_init_map(&names);
	val_init_map(&values);
	rc = bind_name(&names, "#p", k->pk);
	if (rc == 0)
		rc = bind_value(&values, ":p", rd->pk);
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
	if (rc == 0)
		rc = expr_parse_key_condition(text, strlen(text), &bind, out, err);
	else
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

/* The ExclusiveStartKey that resumes after item (new M). */
static int start_key(const struct val *item, const struct keys *k, bool index, struct val *out)
{
	const char *names[4] = {k->tpk, k->tsk, index ? k->pk : NULL, index ? k->sk : NULL};
	struct val *v, c;
	size_t i;
	int rc = 0;

	val_init_map(out);
	for (i = 0; rc == 0 && i < 4; i++)
		if (names[i] && (v = val_map_get(item, names[i], strlen(names[i])))) {
			if ((rc = val_copy(&c, v)) == 0)
				rc = val_map_set(out, names[i], strlen(names[i]), &c);
		}
	return rc;
}

/* cursor = {"k": key, "n": scanned}. */
static int cursor_set(struct be_cursor *cur, struct val *key, uint64_t n)
{
	struct val m, nv;
	struct num num;
	char buf[32];
	int rc;

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	val_init_map(&m);
	rc = val_map_set(&m, "k", 1, key);
	if (rc == 0 && (rc = num_parse(buf, strlen(buf), &num, NULL)) == 0) {
		val_init_num(&nv, &num);
		rc = val_map_set(&m, "n", 1, &nv);
	}
	if (rc < 0) {
		val_free(&m);
		return rc;
	}
	val_free(&cur->key);
	cur->key = m;
	return 0;
}

static uint64_t cursor_count(const struct be_cursor *cur)
{
	const struct val *n = cur->key.type == VAL_M ? val_map_get(&cur->key, "n", 1) : NULL;
	int64_t v;

	if (!n || n->type != VAL_N || num_to_int64(&n->n, &v) < 0 || v < 0)
		return 0;
	return (uint64_t)v;
}

static int m_read(be_t *b, const struct be_read *rd, struct be_cursor *cur, be_visit_fn fn,
		  void *ctx, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct table_schema s;
	struct keys k;
	expr_t *kc = NULL;
	struct val start;
	struct rmt_page pg;
	struct rmt_read q;
	size_t delivered = 0, i, cap = max_list(r);
	uint64_t count = cursor_count(cur);
	bool ordered = rd->pk != NULL;
	int rc;

	if (cur->done)
		return 0;
	memset(&s, 0, sizeof(s));
	memset(&pg, 0, sizeof(pg));
	val_init_null(&start);
	if ((rc = m_schema(b, rd->table, &s, err)) < 0)
		return rc;
	if ((rc = keys_of(&s, rd->index, &k, err)) < 0)
		goto cleanup;
	if (ordered && (rc = key_condition(rd, &k, &kc, err)) < 0)
		goto cleanup;
	if (cur->key.type == VAL_M) {
		const struct val *kv = val_map_get(&cur->key, "k", 1);

		if (kv && (rc = val_copy(&start, kv)) < 0)
			goto cleanup;
	}
	for (;;) {
		q = (struct rmt_read){
		    .table = rd->table,
		    .index = rd->index,
		    .keycond = kc,
		    .filter = rd->filter,
		    .consistent = rd->consistent && !rd->index,
		    .backward = rd->desc,
		    .start = start.type == VAL_M ? &start : NULL,
		    .segment = (int)rd->segment,
		    .segments = (int)rd->total,
		};
		if (rd->limit && !(rd->sk.lo || rd->sk.hi || rd->sk.prefix))
			q.limit = (uint32_t)(rd->limit - delivered);
		rc = ordered ? rmt_query(r->c, &q, &pg, err) : rmt_scan(r->c, &q, &pg, err);
		if (rc < 0)
			goto cleanup;
		for (i = 0; i < pg.n; i++) {
			const struct val *it = &pg.items[i];
			const struct val *skv = k.sk ? val_map_get(it, k.sk, strlen(k.sk)) : NULL;
			struct be_meta meta;
			struct be_item bi = {.item = it, .meta = &meta};
			struct val key, proj;
			int stop;

			if (ordered && !in_range(&rd->sk, skv))
				continue;
			if (!ordered && count + i >= cap) {
				report(
				    r, rd->table,
				    "listing stopped after %zu items: a table-level listing is a "
				    "full Scan (-o max_list=N changes the cap)",
				    cap);
				cur->done = true;
				rc = 0;
				goto cleanup;
			}
			val_init_null(&proj);
			if (rd->proj && (rc = expr_project(rd->proj, it, &proj, err)) < 0)
				goto cleanup;
			if (rd->proj)
				bi.item = &proj;
			fill_meta(r, &s, it, &meta);
			stop = fn(ctx, &bi);
			val_free(&proj);
			delivered++;
			if (stop || (rd->limit && delivered >= rd->limit)) {
				if ((rc = start_key(it, &k, rd->index != NULL, &key)) == 0)
					rc = cursor_set(cur, &key, count + i + 1);
				if (rc < 0) {
					val_free(&key);
					rc = err_set(err, -rc, "out of memory");
				} else {
					rc = stop;
				}
				goto cleanup;
			}
		}
		count += pg.scanned > pg.n ? pg.scanned : pg.n;
		val_free(&start);
		val_move(&start, &pg.last);
		rmt_page_free(&pg);
		memset(&pg, 0, sizeof(pg));
		if (start.type != VAL_M) {
			cur->done = true;
			val_free(&cur->key);
			rc = 0;
			goto cleanup;
		}
		if (!ordered && count >= cap) {
			report(r, rd->table,
			       "listing stopped after %zu items: a table-level listing is a "
			       "full Scan (-o max_list=N changes the cap)",
			       cap);
			cur->done = true;
			rc = 0;
			goto cleanup;
		}
	}
cleanup:
	rmt_page_free(&pg);
	val_free(&start);
	expr_free(kc);
	schema_free(&s);
	return rc;
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
static int scan_partitions(struct rbe *r, const char *table, const char *index, struct val **out,
			   size_t *nout, struct dyn_err *err)
{
	struct table_schema s;
	struct keys k;
	struct val names, start, *all = NULL, *grown;
	struct expr_bind bind = {.names = &names, .flags = EXPR_UNLIMITED};
	expr_t *proj = NULL;
	struct rmt_page pg;
	size_t n = 0, cap = 0, i, j;
	uint64_t scanned = 0;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&pg, 0, sizeof(pg));
	val_init_map(&names);
	val_init_null(&start);
	if ((rc = m_schema(&r->base, table, &s, err)) < 0)
		goto cleanup;
	if ((rc = keys_of(&s, index, &k, err)) < 0)
		goto cleanup;
	if ((rc = bind_name(&names, "#p", k.pk)) < 0 ||
	    (rc = expr_parse_projection("#p", 2, &bind, &proj, err)) < 0)
		goto cleanup;
	for (;;) {
		struct rmt_read q = {.table = table,
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
		memset(&pg, 0, sizeof(pg));
		if (start.type != VAL_M)
			break;
		if (scanned >= max_list(r)) {
			report(r, table,
			       "partition listing stopped after %llu items: listing a table's "
			       "partitions is a full Scan (-o max_list=N changes the cap)",
			       (unsigned long long)scanned);
			break;
		}
	}
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
	schema_free(&s);
	return rc;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int m_list_partitions(be_t *b, const char *table, const char *index, const struct val *after,
			     tbl_pk_fn fn, void *ctx, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct val *parts = NULL;
	size_t n = 0, i;
	int rc = 0;
	bool reuse;

	if (!allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	pthread_mutex_lock(&r->mu);
	reuse = after && r->parts && same_str(r->parts_table, table) &&
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
		if ((rc = scan_partitions(r, table, index, &parts, &n, err)) < 0)
			return rc;
		/* keep a copy for the continuation */
		struct val *keep = calloc(n + 1, sizeof(*keep));
		size_t kept = 0;

		for (i = 0; keep && i < n; i++, kept++)
			if (val_copy(&keep[i], &parts[i]) < 0)
				break;
		pthread_mutex_lock(&r->mu);
		parts_free(r->parts, r->nparts);
		free(r->parts_table);
		free(r->parts_index);
		r->parts = keep;
		r->nparts = kept;
		r->parts_table = strdup(table);
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

/* ---- writes ---- */

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
	return 0;
}

static void to_rmt(const struct be_op *op, struct rmt_write *w)
{
	static const enum rmt_wkind k[] = {[BE_PUT] = RMT_PUT,
					   [BE_DELETE] = RMT_DELETE,
					   [BE_UPDATE] = RMT_UPDATE,
					   [BE_CHECK] = RMT_CHECK};

	*w = (struct rmt_write){.kind = k[op->kind],
				.table = op->table,
				.item = op->item,
				.update = op->update,
				.cond = op->cond};
}

/* After a failed condition: say what the service kept. */
static void explain_conflict(struct rbe *r, const struct be_op *op, struct dyn_err *err)
{
	struct val key, now;
	struct table_schema s;
	bool found = false;
	char *text = NULL;
	size_t len;
	const char *pk = NULL, *sk = NULL;

	if (!err)
		return;
	memset(&s, 0, sizeof(s));
	val_init_null(&now);
	val_init_null(&key);
	if (m_schema(&r->base, op->table, &s, NULL) == 0) {
		pk = s.pk.name;
		sk = s.has_sk ? s.sk.name : NULL;
	}
	if (op->kind == BE_PUT) {
		struct keys k = {.tpk = pk, .tsk = sk};

		if (!pk || start_key(op->item, &k, false, &key) < 0)
			goto cleanup;
	} else if (val_copy(&key, op->item) < 0) {
		goto cleanup;
	}
	if (rmt_get_item(r->c, op->table, &key, true, NULL, &now, &found, NULL) < 0)
		goto cleanup;
	err_clear(err);
	if (!found) {
		err_set(err, ECANCELED,
			"condition failed: the item does not exist on the service (changed by "
			"another writer?)");
	} else if (item_render_compact(&now, pk, sk, &text, &len) == 0) {
		err_set(err, ECANCELED,
			"condition failed: the item changed on the service since it was read; "
			"the service's version was kept: %.380s%s",
			text, len > 380 ? "..." : "");
	}
cleanup:
	free(text);
	val_free(&key);
	val_free(&now);
	schema_free(&s);
}

/* The change records of ops[0..n) as applied; items[i] holds update results. */
static void notify_ops(struct rbe *r, const struct be_op *ops, size_t n, const struct val *items)
{
	struct db_change ch[32];
	struct table_schema s;
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		memset(&ch[m], 0, sizeof(ch[m]));
		ch[m].table = ops[i].table;
		if (ops[i].kind == BE_CHECK)
			continue;
		if (ops[i].kind == BE_DELETE ||
		    (ops[i].kind == BE_UPDATE && items[i].type != VAL_M)) {
			memset(&s, 0, sizeof(s));
			if (m_schema(&r->base, ops[i].table, &s, NULL) < 0)
				continue;
			ch[m].kind = DB_CH_DELETE;
			ch[m].pk = val_map_get(ops[i].item, s.pk.name, strlen(s.pk.name));
			ch[m].sk = s.has_sk ? val_map_get(ops[i].item, s.sk.name, strlen(s.sk.name))
					    : NULL;
			schema_free(&s);
			if (!ch[m].pk)
				continue;
		} else {
			ch[m].kind = DB_CH_PUT;
			ch[m].item = ops[i].kind == BE_PUT ? ops[i].item : &items[i];
		}
		if (++m == sizeof(ch) / sizeof(ch[0])) {
			notify(r, ch, m);
			m = 0;
		}
	}
	notify(r, ch, m);
}

static int apply_one(struct rbe *r, const struct be_op *op, struct val *res, struct dyn_err *err)
{
	struct rmt_write w;

	switch (op->kind) {
	case BE_PUT:
		return rmt_put_item(r->c, op->table, op->item, op->cond, NULL, err);
	case BE_DELETE:
		return rmt_delete_item(r->c, op->table, op->item, op->cond, NULL, err);
	case BE_UPDATE:
		return rmt_update_item(r->c, op->table, op->item, op->update, op->cond, res, err);
	case BE_CHECK:
		to_rmt(op, &w);
		return rmt_transact_write(r->c, &w, 1, NULL, err);
	}
	return err_set(err, EINVAL, "unknown operation");
}

static int m_apply(be_t *b, const struct be_op *ops, size_t n, size_t *failed, struct val *new_item,
		   struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct rmt_write *w = NULL;
	struct val *res = NULL;
	size_t i;
	int rc = 0;

	if (failed)
		*failed = 0;
	for (i = 0; rc == 0 && i < n; i++)
		rc = deny_write(r, ops[i].table, err);
	if (rc < 0 || n == 0)
		return rc;
	if (!(res = calloc(n, sizeof(*res))))
		return err_set(err, ENOMEM, "out of memory");
	if (n == 1) {
		rc = apply_one(r, &ops[0], &res[0], err);
		if (rc == -ECANCELED && ops[0].kind != BE_CHECK)
			explain_conflict(r, &ops[0], err);
	} else {
		if (!(w = calloc(n, sizeof(*w)))) {
			rc = err_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
		for (i = 0; i < n; i++)
			to_rmt(&ops[i], &w[i]);
		rc = rmt_transact_write(r->c, w, n, NULL, err);
		if (rc == -ECANCELED && failed && err)
			*failed = failed_index(err->msg, n);
		if (rc == -EINVAL && err && strstr(err->msg, "UnknownOperation")) {
			err_clear(err);
			rc = err_set(err, ENOTSUP,
				     "the service has no transactions (TransactWriteItems)");
		}
		/* updates in a transaction return nothing: read them back for watchers */
		for (i = 0; rc == 0 && i < n; i++)
			if (ops[i].kind == BE_UPDATE) {
				bool found = false;

				rmt_get_item(r->c, ops[i].table, ops[i].item, true, NULL, &res[i],
					     &found, NULL);
			}
	}
	if (rc == 0) {
		bump(r);
		notify_ops(r, ops, n, res);
		if (new_item && n == 1) {
			if (ops[0].kind == BE_PUT)
				rc = val_copy(new_item, ops[0].item);
			else if (ops[0].kind == BE_UPDATE)
				val_move(new_item, &res[0]);
			else
				val_init_null(new_item);
			if (rc < 0)
				rc = err_set(err, -rc, "out of memory");
		}
	}
cleanup:
	for (i = 0; res && i < n; i++)
		val_free(&res[i]);
	free(res);
	free(w);
	return rc;
}

static bool plain(const struct be_op *op)
{
	return (op->kind == BE_PUT || op->kind == BE_DELETE) && !op->cond;
}

static int m_batch(be_t *b, const struct be_op *ops, size_t n,
		   void (*rep)(void *ctx, size_t i, int code, const char *msg), void *ctx)
{
	struct rbe *r = R(b);
	struct rmt_write *w = NULL;
	struct dyn_err e;
	size_t i = 0, j, k;
	int rc, worst = 0;

	if (n && !(w = calloc(n, sizeof(*w))))
		return -ENOMEM;
	while (i < n) {
		err_clear(&e);
		if ((rc = deny_write(r, ops[i].table, &e)) < 0) {
			rep(ctx, i, -rc, e.msg);
			worst = rc;
			i++;
			continue;
		}
		if (!plain(&ops[i])) {
			rc = m_apply(b, &ops[i], 1, NULL, NULL, &e);
			if (rc < 0) {
				rep(ctx, i, -rc, e.msg);
				worst = rc;
			}
			i++;
			continue;
		}
		/* a run of plain puts and deletes: BatchWriteItem, 25 a call, in order */
		for (j = i; j < n && plain(&ops[j]) && !deny_write(r, ops[j].table, NULL); j++)
			to_rmt(&ops[j], &w[j - i]);
		rc = rmt_batch_write(r->c, w, j - i, &e);
		bump(r);
		if (rc < 0) {
			for (k = i; k < j; k++)
				rep(ctx, k, -rc, e.msg);
			worst = rc;
		} else {
			notify_ops(r, &ops[i], j - i, NULL);
		}
		i = j;
	}
	free(w);
	return worst;
}

/* ---- the rest ---- */

static void m_watch(be_t *b, be_change_fn fn, void *ctx)
{
	struct rbe *r = R(b);

	pthread_mutex_lock(&r->mu);
	r->watch_fn = fn;
	r->watch_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

static int m_stats(be_t *b, const char *table, struct be_stats *out, struct dyn_err *err)
{
	struct rbe *r = R(b);
	struct sf_buf q = SF_BUF_INIT;
	struct sf_span whole, t, v;
	char *resp = NULL;
	size_t len = 0;
	int rc;

	if (!allowed(r, table))
		return err_set(err, ENOENT, "table %s is not in -o tables=", table);
	memset(out, 0, sizeof(*out));
	out->estimated = true;
	rc = sf_buf_adds(&q, "{\"TableName\":");
	if (rc == 0)
		rc = sf_json_str(&q, table, strlen(table));
	if (rc == 0)
		rc = sf_buf_addc(&q, '}');
	if (rc == 0)
		rc = rmt_call(r->c, "DescribeTable", q.p, q.len, true, &resp, &len, err);
	if (rc == 0 && sf_whole(resp, len, &whole) == 0 && rmt_member(whole, "Table", &t) == 0) {
		if (rmt_member(t, "ItemCount", &v) == 0)
			sf_span_u64(v, &out->items);
		if (rmt_member(t, "TableSizeBytes", &v) == 0)
			sf_span_u64(v, &out->bytes);
	}
	free(resp);
	sf_buf_free(&q);
	return rc;
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
    .schema = m_schema,
    .create_table = m_create_table,
    .drop_table = m_drop_table,
    .set_schema = m_set_schema,
    .get = m_get,
    .read = m_read,
    .list_partitions = m_list_partitions,
    .apply = m_apply,
    .batch = m_batch,
    .watch = m_watch,
    .stats = m_stats,
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

int be_remote_open(struct rmt *client, be_t **out)
{
	struct rbe_opts o;

	memset(&o, 0, sizeof(o));
	o.cache_s = -1;
	return rbe_open(client, &o, out);
}

rmt_t *rbe_client(be_t *b)
{
	return R(b)->c;
}
