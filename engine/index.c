/*
 * index.c - secondary indexes: index keys, entries, backfill, projection.
 *
 * An index is an ordered map from enc(ipk) [enc(isk)] enc(pk) [enc(sk)]
 * to a struct ient pointing at the base record (dbint.h).  Appending the
 * base key makes every entry unique even when many items share index key
 * values, and orders such ties by base key, so index partitions list and
 * paginate exactly like base partitions.  Entries are maintained by
 * db_apply() in the same critical section as the base map, so an index
 * never disagrees with its table (tbl_check_integrity proves it).
 *
 * Sparse indexes: an item that lacks an index key attribute is not in the
 * index.  An item whose index key attribute is present but unusable (a
 * type other than the index's, an empty S/B, over the 2048/1024-byte key
 * limits) is rejected, as DynamoDB rejects it, with a message naming the
 * index and the attribute.  Both attributes are checked when present, so
 * an item cannot be stored with a malformed index attribute merely
 * because the other one is missing.
 *
 * Projection is applied when an item is read through an index
 * (tbl_project): entries always reach the whole base item, so changing a
 * projection costs nothing and never needs a rebuild.
 */
#include "dbint.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"

/* ---- entries ---- */

static const uint8_t *ient_omap_key(const void *v, size_t *len)
{
	const struct ient *e = v;

	*len = e->key_len;
	return e->key;
}

static void ient_hold(void *v)
{
	__atomic_add_fetch(&((struct ient *)v)->refs, 1, __ATOMIC_RELAXED);
}

static void ient_release(void *v)
{
	ient_unref(v);
}

const struct omap_ops ient_omap_ops = {
    .key = ient_omap_key,
    .hold = ient_hold,
    .release = ient_release,
};

/* Atomic: a _batch request's entry (db_stored_ents) is released by its
 * thread outside the table's lock while the index map holds it too. */
void ient_unref(struct ient *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(e);
}

void ient_free_cb(void *v, void *ctx)
{
	(void)ctx;
	ient_unref(v);
}

int ient_new(const uint8_t *k, size_t len, struct rec *rec, struct ient **out)
{
	struct ient *e = malloc(sizeof(*e) + len);

	if (!e)
		return -ENOMEM;
	e->rec = rec;
	e->refs = 1;
	e->key_len = (uint16_t)len;
	memcpy(e->key, k, len);
	*out = e;
	return 0;
}

static int idx_key_of(const struct index_def *d, const struct val *pk, const struct val *sk,
		      const uint8_t *bkey, size_t blen, struct keyenc_buf *b, struct dyn_err *err);

/* Where member v (val_map_get's) is among item's members, if below
 * DB_STORED_NOSK; else DB_STORED_NOSK. */
static uint8_t member_at(const struct val *item, const struct val *v)
{
	size_t k = (size_t)((const struct val_attr *)(const void *)((const char *)v -
								   offsetof(struct val_attr, v)) -
			    item->m.a);

	return k < DB_STORED_NOSK ? (uint8_t)k : DB_STORED_NOSK;
}

void db_stored_ents(struct db_stored *st, const struct table_schema *s, const struct val *item)
{
	const struct index_def *d;
	const struct val *pk, *sk;
	struct keyenc_buf ib;
	uint8_t p, q;
	size_t i;

	if (!st->rec)
		return;
	keyenc_buf_init(&ib);
	for (i = 0; i < s->nindex && i < DB_STORED_ENTS; i++) {
		d = &s->index[i];
		if (st->ent[i])
			continue;
		pk = val_map_get(item, d->pk.name, strlen(d->pk.name));
		sk = d->has_sk ? val_map_get(item, d->sk.name, strlen(d->sk.name)) : NULL;
		if (idx_key_of(d, pk, sk, st->rec->data, st->rec->key_len, &ib, NULL) != 1)
			continue;
		if (ient_new(ib.p, ib.len, NULL, &st->ent[i]) < 0) {
			st->ent[i] = NULL;
			continue;
		}
		/* the members it was made from (db_apply skips idx_key then) */
		p = member_at(item, pk);
		q = sk ? member_at(item, sk) : DB_STORED_NOSK;
		if (p == DB_STORED_NOSK || (sk && q == DB_STORED_NOSK))
			continue;
		st->ent_at[i][0] = p;
		st->ent_at[i][1] = q;
		st->ent_known |= (uint8_t)(1u << i);
	}
	st->ents_of = item->type == VAL_M ? item->m.a : NULL;
	st->ents_n = item->type == VAL_M ? item->m.len : 0;
	keyenc_buf_free(&ib);
}

void idx_map_free(omap_t *m)
{
	omap_free(m, ient_free_cb, NULL);
}

/* ---- index keys ---- */

int idx_find(const struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nindex; i++)
		if (strcmp(s->index[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Is v usable as index key attribute a?  0, or -EINVAL naming both. */
static int idx_attr_check(const struct index_def *d, const struct key_attr *a, const struct val *v,
			  bool is_sort, struct dyn_err *err)
{
	size_t max = is_sort ? ITEM_MAX_SK : ITEM_MAX_PK;
	int rc;

	if (v->type != a->type)
		rc = err_set(err, EINVAL, "index %s: attribute %s must be of type %s, not %s",
			     d->name, a->name, val_type_name(a->type), val_type_name(v->type));
	else if ((v->type == VAL_S || v->type == VAL_B) && v->s.len == 0)
		rc = err_set(err, EINVAL, "index %s: key attribute %s must not be empty", d->name,
			     a->name);
	else if ((v->type == VAL_S || v->type == VAL_B) && v->s.len > max)
		rc = err_set(err, EINVAL,
			     "index %s: key attribute %s is %zu bytes, over the %zu-byte limit",
			     d->name, a->name, v->s.len, max);
	else
		return 0;
	err_path(err, a->name);
	return rc;
}

/* idx_key() of the values it looks up: d's key attributes' in the item
 * (pk, sk; NULL when the item lacks them). */
static int idx_key_of(const struct index_def *d, const struct val *pk, const struct val *sk,
		      const uint8_t *bkey, size_t blen, struct keyenc_buf *b, struct dyn_err *err)
{
	int rc;

	b->len = 0;
	rc = pk ? idx_attr_check(d, &d->pk, pk, false, err) : 0;
	if (rc == 0 && sk)
		rc = idx_attr_check(d, &d->sk, sk, true, err);
	if (rc < 0)
		return rc;
	if (!pk || (d->has_sk && !sk))
		return 0;
	rc = tbl_key_encode(b, pk, sk);
	if (rc == 0)
		rc = keyenc_buf_put(b, bkey, blen);
	return rc < 0 ? rc : 1;
}

int idx_key(const struct index_def *d, const struct val *item, const uint8_t *bkey, size_t blen,
	    struct keyenc_buf *b, struct dyn_err *err)
{
	return idx_key_of(d, val_map_get(item, d->pk.name, strlen(d->pk.name)),
			  d->has_sk ? val_map_get(item, d->sk.name, strlen(d->sk.name)) : NULL, bkey,
			  blen, b, err);
}

/* ---- backfill ---- */

/* "pk" or "pk / sk" of a record, for messages. */
static void describe_rec(const struct table_schema *s, const struct rec *r, char *buf, size_t size)
{
	struct val pk, sk;
	char a[160], b[160];

	if (rec_key_vals(s, r, &pk, &sk) < 0) {
		snprintf(buf, size, "(undecodable key)");
		return;
	}
	tbl_describe_val(&pk, a, sizeof(a));
	if (s->has_sk) {
		tbl_describe_val(&sk, b, sizeof(b));
		snprintf(buf, size, "%s=%s, %s=%s", s->pk.name, a, s->sk.name, b);
		val_free(&sk);
	} else {
		snprintf(buf, size, "%s=%s", s->pk.name, a);
	}
	val_free(&pk);
}

int idx_build(const struct table_schema *s, const struct index_def *d, omap_t *base, omap_t **out,
	      struct dyn_err *err)
{
	struct keyenc_buf kb;
	struct omap_cur c;
	struct dyn_err e2;
	struct val item;
	struct ient *e;
	struct rec *r;
	char desc[1100];
	omap_t *m;
	void *old;
	bool ok;
	int rc;

	rc = omap_new(&ient_omap_ops, &m);
	if (rc < 0)
		return rc;
	keyenc_buf_init(&kb);
	for (ok = omap_first(base, &c); ok; ok = omap_next(&c)) {
		r = omap_cur_val(&c);
		rc = rec_decode(s, r, &item);
		if (rc < 0)
			goto out_fail;
		err_clear(&e2);
		rc = idx_key(d, &item, r->data, r->key_len, &kb, &e2);
		val_free(&item);
		if (rc < 0) {
			describe_rec(s, r, desc, sizeof(desc));
			err_set(err, -rc, "cannot add index %s: item (%s): %s", d->name, desc,
				e2.code ? e2.msg : "out of memory");
			err_path(err, e2.path);
			goto out_fail;
		}
		if (rc == 0)
			continue;
		rc = ient_new(kb.p, kb.len, r, &e);
		if (rc < 0)
			goto out_fail;
		rc = omap_insert(m, e, &old);
		if (rc < 0) {
			ient_unref(e);
			goto out_fail;
		}
	}
	keyenc_buf_free(&kb);
	omap_trim(m);
	*out = m;
	return 0;
out_fail:
	keyenc_buf_free(&kb);
	idx_map_free(m);
	return rc;
}

/* ---- online backfill ---- */

/*
 * A step ends after this much wall time (checked every few records), so a
 * step holds t->lock well under the 50 ms a backfill may block writers.
 */
#define IDX_STEP_NS (5 * 1000 * 1000ull)
#define IDX_STEP_CHECK 4 /* records between clock reads */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void max_store(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > cur &&
	       !__atomic_compare_exchange_n(p, &cur, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void idx_note_hold(struct db *db, uint64_t wall_ns, uint64_t cpu_ns)
{
	__atomic_add_fetch(&db->bf.steps, 1, __ATOMIC_RELAXED);
	max_store(&db->bf.max_wall_ns, wall_ns);
	max_store(&db->bf.max_cpu_ns, cpu_ns);
}

void db_backfill_stats(db_t *db, struct db_backfill_stats *out)
{
	out->steps = __atomic_load_n(&db->bf.steps, __ATOMIC_RELAXED);
	out->max_wall_ns = __atomic_load_n(&db->bf.max_wall_ns, __ATOMIC_RELAXED);
	out->max_cpu_ns = __atomic_load_n(&db->bf.max_cpu_ns, __ATOMIC_RELAXED);
	out->items = __atomic_load_n(&db->bf.items, __ATOMIC_RELAXED);
}

void db_set_backfill_test_hook(db_t *db, void (*fn)(void *ctx, bool done), void *ctx,
			       unsigned step_items)
{
	db->bf_hook = fn;
	db->bf_hook_ctx = ctx;
	db->bf_step_items = step_items;
}

/* Add record r's entries to every building map.  0, -EINVAL (err), -ENOMEM. */
static int bld_add(struct table *t, struct rec *r, struct keyenc_buf *kb, struct dyn_err *err)
{
	struct idx_bld *b;
	struct dyn_err e2;
	struct val item;
	struct ient *e;
	char desc[1100];
	void *old;
	size_t j;
	int rc;

	rc = rec_decode(&t->schema, r, &item);
	if (rc < 0)
		return rc;
	for (j = 0; j < t->nbld; j++) {
		b = &t->bld[j];
		err_clear(&e2);
		rc = idx_key(b->def, &item, r->data, r->key_len, kb, &e2);
		if (rc < 0) {
			describe_rec(&t->schema, r, desc, sizeof(desc));
			err_set(err, -rc, "cannot add index %s: item (%s): %s", b->def->name, desc,
				e2.code ? e2.msg : "out of memory");
			err_path(err, e2.path);
			break;
		}
		if (rc == 0)
			continue;
		rc = ient_new(kb->p, kb->len, r, &e);
		if (rc < 0)
			break;
		rc = omap_insert(b->map, e, &old);
		if (rc < 0) {
			ient_unref(e);
			break;
		}
		ient_unref(old); /* none: base keys are unique */
	}
	val_free(&item);
	return rc < 0 ? rc : 0;
}

/* Move every building map's last to key k. */
static int bld_advance(struct table *t, const uint8_t *k, size_t len)
{
	struct idx_bld *b;
	size_t j;
	int rc;

	for (j = 0; j < t->nbld; j++) {
		b = &t->bld[j];
		b->last.len = 0;
		rc = keyenc_buf_put(&b->last, k, len);
		if (rc < 0)
			return rc;
		b->started = true;
	}
	return 0;
}

/* One step under the read lock: 1 when the scan is complete, 0 if not. */
static int bld_step(struct table *t, struct keyenc_buf *kb, struct dyn_err *err)
{
	const struct idx_bld *b0 = &t->bld[0];
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), n = 0, max = t->db->bf_step_items;
	struct omap_cur c;
	struct rec *r;
	size_t j;
	bool ok;
	int rc = 0;

	if (b0->started)
		ok = omap_seek(t->base, b0->last.p, b0->last.len, OMAP_GT, &c);
	else
		ok = omap_first(t->base, &c);
	for (; ok; ok = omap_next(&c)) {
		r = omap_cur_val(&c);
		rc = bld_add(t, r, kb, err);
		if (rc == 0)
			rc = bld_advance(t, r->data, r->key_len);
		if (rc < 0)
			break;
		if (++n == max ||
		    (n % IDX_STEP_CHECK == 0 && clock_ns(CLOCK_MONOTONIC) - t0 >= IDX_STEP_NS)) {
			ok = omap_next(&c);
			break;
		}
	}
	__atomic_add_fetch(&t->db->bf.items, n, __ATOMIC_RELAXED);
	if (rc < 0)
		return rc;
	if (ok)
		return 0;
	for (j = 0; j < t->nbld; j++)
		t->bld[j].done = true; /* writers from now on maintain every key */
	return 1;
}

int idx_backfill(struct table *t, struct dyn_err *err)
{
	uint64_t w0, c0;
	struct keyenc_buf kb;
	int rc = 0;

	keyenc_buf_init(&kb);
	while (rc == 0) {
		pthread_rwlock_rdlock(&t->lock);
		w0 = clock_ns(CLOCK_MONOTONIC);
		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		if (!__atomic_load_n(&t->alive, __ATOMIC_ACQUIRE))
			rc = err_set(err, ENOENT, "table %s was dropped", t->name);
		else
			rc = bld_step(t, &kb, err);
		idx_note_hold(t->db, clock_ns(CLOCK_MONOTONIC) - w0,
			      clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
		pthread_rwlock_unlock(&t->lock);
		if (rc >= 0 && t->db->bf_hook)
			t->db->bf_hook(t->db->bf_hook_ctx, rc == 1);
		if (rc == 0)
			sched_yield(); /* let waiting writers in */
	}
	keyenc_buf_free(&kb);
	return rc < 0 ? rc : 0;
}

/* ---- projection ---- */

static bool keep_attr(const struct table_schema *s, const struct index_def *d, const char *name)
{
	size_t i;

	if (strcmp(name, s->pk.name) == 0 || (s->has_sk && strcmp(name, s->sk.name) == 0) ||
	    strcmp(name, d->pk.name) == 0 || (d->has_sk && strcmp(name, d->sk.name) == 0))
		return true;
	if (d->proj != PROJ_INCLUDE)
		return false;
	for (i = 0; i < d->ninclude; i++)
		if (strcmp(name, d->include[i]) == 0)
			return true;
	return false;
}

int idx_project(const struct table_schema *s, const struct index_def *d, struct val *item)
{
	struct val_attr *a;
	size_t i;
	char *name;

	if (d->proj == PROJ_ALL)
		return 0;
	for (i = item->m.len; i-- > 0;) {
		a = &item->m.a[i];
		if (keep_attr(s, d, a->name))
			continue;
		/* val_map_remove frees the stored name: look it up by a copy. */
		name = strndup(a->name, a->name_len);
		if (!name)
			return -ENOMEM;
		val_map_remove(item, name, strlen(name));
		free(name);
	}
	return 0;
}

int tbl_project(table_t *t, const char *index, struct val *item)
{
	int rc = 0, pos;

	if (!index)
		return 0;
	if (!item || item->type != VAL_M)
		return -EINVAL;
	pthread_rwlock_rdlock(&t->lock);
	pos = idx_find(&t->schema, index);
	if (pos < 0)
		rc = -ENOENT;
	else
		rc = idx_project(&t->schema, &t->schema.index[pos], item);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* ---- attributes of the index keys (tbl_index_attrs) ---- */

static int attr_add(const struct table_schema *s, const char *name,
		    char (*names)[DB_ATTR_NAME_MAX + 1], size_t *n, size_t max)
{
	size_t i;

	if (!strcmp(name, s->pk.name) || (s->has_sk && !strcmp(name, s->sk.name)))
		return 0;
	for (i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return 0;
	if (*n == max)
		return -1;
	snprintf(names[(*n)++], DB_ATTR_NAME_MAX + 1, "%s", name);
	return 0;
}

int tbl_index_attrs(table_t *t, char (*names)[DB_ATTR_NAME_MAX + 1], size_t max)
{
	const struct index_def *d;
	size_t i, n = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	for (i = 0; rc == 0 && i < t->schema.nindex + t->nbld; i++) {
		d = i < t->schema.nindex ? &t->schema.index[i] : t->bld[i - t->schema.nindex].def;
		rc = attr_add(&t->schema, d->pk.name, names, &n, max);
		if (rc == 0 && d->has_sk)
			rc = attr_add(&t->schema, d->sk.name, names, &n, max);
	}
	pthread_rwlock_unlock(&t->lock);
	return rc < 0 ? -1 : (int)n;
}
