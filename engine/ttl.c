/*
 * ttl.c - the TTL sweeper (ttl.h).
 *
 * A pass lists the tables, and for each one whose schema names a TTL
 * attribute scans its items in chunks of TTL_CHUNK (each chunk one hold
 * of the table's read lock, resuming after the last key seen, so writers
 * wait at most for one chunk), collecting the keys of expired items (at
 * most the batch), then deletes
 * them one db_apply() each, outside the scan: a delete needs the write
 * lock, and one delete per db_apply() keeps the change lines free of a
 * shared "tx" id (they are independent expiries, not a transaction).
 * Each delete carries a condition that re-reads the item under the write
 * lock and cancels if it is no longer expired by the table's TTL
 * attribute as it is then, so a concurrent renewal (a put with a new
 * expiry time, or without one) and a concurrent switch of the attribute
 * (off, or to another) always win.
 */
#include "ttl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "num.h"

struct ttl_sweeper {
	db_t *db;	    /* borrowed */
	pthread_t thread;   /* the sweeper */
	pthread_mutex_t mu; /* protects the fields below */
	pthread_cond_t cv;  /* signalled by ttl_stop */
	bool stop;	    /* ttl_stop was called */
	uint64_t passes;    /* completed passes */
	uint64_t deleted;   /* items deleted */
};

bool ttl_expired(const struct val *item, const char *attr, int64_t now_s)
{
	const struct val *v;
	struct num now;

	if (!attr || !attr[0] || !item || item->type != VAL_M)
		return false;
	v = val_map_get(item, attr, strlen(attr));
	if (!v || v->type != VAL_N)
		return false;
	num_from_int64(&now, now_s);
	return num_cmp(&v->n, &now) < 0;
}

void tbl_ttl_attribute(table_t *t, char *buf, size_t size)
{
	struct table_schema s;

	buf[0] = 0;
	if (size == 0 || tbl_schema(t, &s) < 0)
		return;
	if (strlen(s.ttl_attr) < size)
		strcpy(buf, s.ttl_attr);
	schema_free(&s);
}

int tbl_set_ttl_attribute(db_t *db, const char *table, const char *attr, struct dyn_err *err)
{
	struct table_schema s;
	table_t *t;
	int rc;

	if (attr && strlen(attr) > DB_ATTR_NAME_MAX)
		return err_set(err, EINVAL, "ttl_attribute: at most %d bytes", DB_ATTR_NAME_MAX);
	if (db_table_open(db, table, &t) < 0)
		return err_set(err, ENOENT, "no table %s", table);
	rc = tbl_schema(t, &s);
	tbl_close(t);
	if (rc < 0)
		return rc;
	memset(s.ttl_attr, 0, sizeof(s.ttl_attr));
	if (attr)
		strcpy(s.ttl_attr, attr);
	rc = db_set_schema(db, table, &s, err);
	schema_free(&s);
	return rc;
}

/* ---- one pass ---- */

#define TTL_CHUNK 512 /* items per read-lock hold while scanning */

struct expired {
	table_t *t;	    /* the table */
	const char *attr;   /* the TTL attribute when the pass began */
	int64_t now_s;	    /* the pass's time */
	struct val *pk;	    /* keys found (owned) */
	struct val *sk;	    /* VAL_NULL without sort key */
	size_t n;	    /* found */
	size_t max;	    /* wanted at most */
	size_t seen;	    /* items visited in this chunk */
	struct val last_pk; /* key of the chunk's last item (owned) */
	struct val last_sk;
};

static int collect(void *ctx, const struct item_ref *r)
{
	struct expired *x = ctx;
	struct val item;
	int rc;

	rc = iref_decode(r, &item);
	if (rc < 0)
		return rc;
	if (ttl_expired(&item, x->attr, x->now_s)) {
		val_init_null(&x->sk[x->n]);
		rc = iref_key(r, &x->pk[x->n], &x->sk[x->n]);
		if (rc == 0)
			x->n++;
	}
	val_free(&item);
	if (rc == 0 && ++x->seen == TTL_CHUNK) { /* where the next chunk starts */
		val_free(&x->last_pk);
		val_free(&x->last_sk);
		val_init_null(&x->last_sk);
		rc = iref_key(r, &x->last_pk, &x->last_sk);
	}
	if (rc < 0)
		return rc;
	return x->n == x->max ? 1 : 0;
}

/*
 * DB_DELETE's condition: still expired under the write lock, by the TTL
 * attribute the table has now?  (The item may have been renewed, and the
 * attribute switched off or to another since the scan chose it.)
 */
static int still_expired(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	const struct expired *x = ctx;

	(void)out;
	if (!old || !ttl_expired(old, tbl_ttl_attr_locked(x->t), x->now_s))
		return err_set(err, ECANCELED, "renewed");
	return 0;
}

static void (*test_hook)(void *ctx, const char *table, const struct val *pk,
			  const struct val *sk);
static void *test_hook_ctx;

void ttl_set_test_hook(void (*fn)(void *ctx, const char *table, const struct val *pk,
				  const struct val *sk),
		       void *ctx)
{
	test_hook = fn;
	test_hook_ctx = ctx;
}

static int sweep_table(db_t *db, const char *name, int64_t now_s, size_t max, size_t *deleted)
{
	struct table_schema s;
	struct expired x = {.now_s = now_s, .max = max};
	struct tbl_scan scan = {0};
	struct db_op op;
	table_t *t;
	size_t i;
	int rc, rc2;

	if (db_table_open(db, name, &t) < 0)
		return 0; /* dropped meanwhile */
	rc = tbl_schema(t, &s);
	if (rc < 0 || !s.ttl_attr[0])
		goto out_close;
	x.attr = s.ttl_attr;
	x.t = t;
	x.pk = calloc(max, sizeof(*x.pk));
	x.sk = calloc(max, sizeof(*x.sk));
	if (!x.pk || !x.sk) {
		rc = -ENOMEM;
		goto out_free;
	}
	val_init_null(&x.last_pk);
	val_init_null(&x.last_sk);
	scan.limit = TTL_CHUNK;
	do {
		x.seen = 0;
		rc = tbl_scan(t, &scan, collect, &x, NULL);
		scan.start_pk = &x.last_pk;
		scan.start_sk = x.last_sk.type == VAL_NULL ? NULL : &x.last_sk;
	} while (rc == 0 && x.seen == TTL_CHUNK);
	val_free(&x.last_pk);
	val_free(&x.last_sk);
	if (rc > 0)
		rc = 0;
	for (i = 0; i < x.n; i++) {
		memset(&op, 0, sizeof(op));
		op.kind = DB_DELETE;
		op.table = t;
		op.pk = &x.pk[i];
		op.sk = x.sk[i].type == VAL_NULL ? NULL : &x.sk[i];
		op.flags = DB_IF_PRESENT | DB_BY_TTL;
		op.fn = still_expired;
		op.ctx = &x;
		if (test_hook)
			test_hook(test_hook_ctx, name, op.pk, op.sk);
		rc2 = db_apply(db, &op, 1, NULL, NULL);
		if (rc2 == 0 && deleted)
			(*deleted)++;
		else if (rc2 < 0 && rc2 != -ECANCELED && rc2 != -ENOENT && rc == 0)
			rc = rc2;
	}
out_free:
	for (i = 0; i < x.n; i++) {
		val_free(&x.pk[i]);
		val_free(&x.sk[i]);
	}
	free(x.pk);
	free(x.sk);
out_close:
	schema_free(&s);
	tbl_close(t);
	return rc;
}

struct names {
	char **v;
	size_t n, cap;
};

static int add_name(void *ctx, const char *name)
{
	struct names *l = ctx;
	char **nv;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		nv = realloc(l->v, l->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
	}
	l->v[l->n] = strdup(name);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

int ttl_sweep(db_t *db, int64_t now_s, size_t max, size_t *deleted)
{
	struct names l = {0};
	size_t i;
	int rc, rc2;

	if (deleted)
		*deleted = 0;
	rc = db_list_tables(db, NULL, add_name, &l);
	for (i = 0; i < l.n; i++) {
		if (rc == 0 && l.v[i]) {
			rc2 = sweep_table(db, l.v[i], now_s, max ? max : TTL_BATCH, deleted);
			if (rc2 < 0 && rc == 0)
				rc = rc2;
		}
		free(l.v[i]);
	}
	free(l.v);
	return rc;
}

/* ---- the thread ---- */

static void *sweeper_main(void *arg)
{
	struct ttl_sweeper *s = arg;
	struct timespec until;
	size_t n;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		n = 0;
		ttl_sweep(s->db, (int64_t)time(NULL), 0, &n);
		pthread_mutex_lock(&s->mu);
		s->passes++;
		s->deleted += n;
		if (n == TTL_BATCH)
			continue; /* more to do: no pause */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TTL_PERIOD_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int ttl_start(db_t *db, ttl_sweeper_t **out)
{
	struct ttl_sweeper *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->db = db;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	rc = pthread_create(&s->thread, NULL, sweeper_main, s);
	if (rc != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return -rc;
	}
	*out = s;
	return 0;
}

void ttl_stop(ttl_sweeper_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void ttl_stats(ttl_sweeper_t *s, uint64_t *passes, uint64_t *deleted)
{
	pthread_mutex_lock(&s->mu);
	*passes = s->passes;
	*deleted = s->deleted;
	pthread_mutex_unlock(&s->mu);
}
