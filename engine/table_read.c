/*
 * table_read.c - reads: point lookups, queries, scans, partition listing,
 * and the item_ref views range reads hand to their visitors.
 *
 * Every range read is a seek plus a walk along the leaf chain, so a query
 * costs O(log n + k).  Sort key conditions become a half-open byte range
 * [L, U) of tuple keys inside the partition prefix P = enc(pk):
 *
 *   >= v: L = P enc(v)          > v: L = succ(P enc(v))
 *   <= v: U = succ(P enc(v))    < v: U = P enc(v)
 *   begins_with p: [P esc(p), succ(P esc(p)))
 *   no bound: L = P, U = succ(P)
 *
 * where succ(x) is the least string above every string starting with x
 * (keyenc_succ).  Using succ rather than "the key itself" makes the same
 * bounds right for indexes, whose keys continue after the index sort key
 * with the base key: "> v" must skip every entry whose index sort key is
 * v, whatever base key follows.  Descending reads seek below U and walk
 * backwards down to L.
 *
 * Exclusive start keys are base keys (db.h).  For the table they are the
 * position itself.  In an index the position is enc(ipk) [enc(isk)] +
 * base key: a query knows ipk, and with no index sort key (or the
 * caller's start_isk) needs nothing else; otherwise the base item is
 * looked up and its index key computed, so it must still exist (-ENOENT).
 * A caller paginating an index partition while items change passes the
 * last item's index sort key as start_isk and never depends on the item;
 * a scan of an index, which knows no partition, takes the last item's
 * index partition key as well (start_ipk) for the same exact position.
 *
 * Scan segments: an item belongs to segment hash(enc(pk)) % total, the
 * partition key of the map being scanned (keyenc_hash, stable across
 * runs), so a partition is never split between segments and the segments
 * partition the items.  A segment still walks the whole map, as DynamoDB's
 * do; the hash is computed once per partition.
 *
 * Visitors run under the table's read lock (db.h).  The item_ref they get
 * decodes keys lazily into a small cache that lives on the reader's stack.
 */
#include "dbint.h"
#include "item.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The map a read walks and the key attributes that order it. */
struct rview {
	omap_t *map;		   /* base map or index map */
	const struct key_attr *pk; /* its partition key */
	const struct key_attr *sk; /* its sort key, or NULL */
	bool is_index;		   /* values are struct ient */
	const struct index_def *d; /* the index, if is_index */
};

static int resolve(struct table *t, const char *index, struct rview *v, struct dyn_err *err)
{
	int i;

	memset(v, 0, sizeof(*v));
	if (!t->alive)
		return err_set(err, ENOENT, "table %s was dropped", t->name);
	if (!index) {
		v->map = t->base;
		v->pk = &t->schema.pk;
		v->sk = t->schema.has_sk ? &t->schema.sk : NULL;
		return 0;
	}
	i = idx_find(&t->schema, index);
	if (i < 0)
		return err_set(err, ENOENT, "table %s has no index %s", t->name, index);
	v->map = t->idx[i];
	v->is_index = true;
	v->d = &t->schema.index[i];
	v->pk = &v->d->pk;
	v->sk = v->d->has_sk ? &v->d->sk : NULL;
	return 0;
}

static struct rec *view_rec(const struct rview *v, void *val)
{
	return v->is_index ? ((struct ient *)val)->rec : val;
}

static const uint8_t *cur_key(const struct rview *v, const struct omap_cur *c, size_t *len)
{
	return omap_val_key(v->map, omap_cur_val(c), len);
}

/* ---- item_ref ---- */

static void keys_reset(struct iref_keys *k)
{
	if (k->pk_state == 1)
		val_free(&k->pk);
	if (k->sk_state == 1)
		val_free(&k->sk);
	k->pk_state = k->sk_state = 0;
}

/* At the end of a walk: keys_reset, and the buffers go. */
static void keys_done(struct iref_keys *k)
{
	keys_reset(k);
	free(k->buf[0]);
	free(k->buf[1]);
}

/*
 * A key component without an escaped zero (nearly all of them) is copied
 * into the walk's buffer for that component, NUL-terminated as a struct
 * val's bytes must be, and the value borrows it (state 2): a listing makes
 * no allocation per item once the buffer is large enough.  Else, or when
 * the buffer cannot grow, keyenc_decode makes an owned copy (state 1).
 */
static int key_borrow(struct iref_keys *k, int c, const uint8_t *p, size_t len,
		      enum val_type type, struct val *out)
{
	struct val v;
	char *nb;
	int rc = keyenc_view(p, len, type, &v, NULL);

	if (rc < 0)
		return rc;
	if (rc == 0 && type == VAL_N) {
		*out = v; /* held by value */
		return 2;
	}
	if (rc == 0 && k->cap[c] < v.s.len + 1) {
		nb = realloc(k->buf[c], v.s.len + 1);
		if (nb) {
			k->buf[c] = nb;
			k->cap[c] = v.s.len + 1;
		}
	}
	if (rc == 1 || k->cap[c] < v.s.len + 1) {
		rc = keyenc_decode(p, len, type, out, NULL);
		return rc < 0 ? rc : 1;
	}
	memcpy(k->buf[c], v.s.p, v.s.len);
	k->buf[c][v.s.len] = 0;
	out->type = type;
	out->s.p = k->buf[c];
	out->s.len = v.s.len;
	return 2;
}

/* Decode one key component on demand: listings usually need only one. */
static const struct val *keys_get(const struct item_ref *r, bool sort)
{
	const struct table_schema *s = &r->t->schema;
	struct iref_keys *k = r->keys;
	int *state = sort ? &k->sk_state : &k->pk_state;
	struct val *out = sort ? &k->sk : &k->pk;
	size_t off = 0;

	if (*state == 0) {
		if (sort)
			off = keyenc_next(r->rec->data, r->rec->key_len);
		*state = key_borrow(k, sort, r->rec->data + off, r->rec->key_len - off,
				    sort ? s->sk.type : s->pk.type, out);
	}
	return *state > 0 ? out : NULL;
}

int iref_decode(const struct item_ref *r, struct val *out)
{
	return rec_decode(&r->t->schema, r->rec, out);
}

int iref_decode_projected(const struct item_ref *r, struct val *out)
{
	int rc = rec_decode(&r->t->schema, r->rec, out);

	if (rc == 0 && r->d && (rc = idx_project(&r->t->schema, r->d, out)) < 0)
		val_free(out);
	return rc;
}

int iref_render(const struct item_ref *r, char **text, size_t *len)
{
	return rec_render(&r->t->schema, r->rec, text, len);
}

int iref_key(const struct item_ref *r, struct val *pk, struct val *sk)
{
	struct val tmp;
	int rc;

	rc = rec_key_vals(&r->t->schema, r->rec, pk, &tmp);
	if (rc < 0 || !r->t->schema.has_sk)
		return rc;
	if (sk)
		*sk = tmp; /* moved */
	else
		val_free(&tmp);
	return 0;
}

void iref_meta(const struct item_ref *r, struct item_meta *meta)
{
	rec_meta(&r->t->schema, r->rec, meta);
}

void iref_bytes(const struct item_ref *r, const uint8_t **key, size_t *key_len,
		const uint8_t **blob, size_t *blob_len)
{
	*key = rec_key(r->rec);
	*key_len = r->rec->key_len;
	*blob = rec_blob(r->rec);
	*blob_len = r->rec->blob_len;
}

const struct val *iref_pk(const struct item_ref *r)
{
	return keys_get(r, false);
}

const struct val *iref_sk(const struct item_ref *r)
{
	return r->t->schema.has_sk ? keys_get(r, true) : NULL;
}

int iref_render_compact_append(const struct item_ref *r, char **buf, size_t *len, size_t *cap)
{
	const struct table_schema *s = &r->t->schema;
	const struct val *pk = iref_pk(r), *sk = iref_sk(r);

	if (!pk || (s->has_sk && !sk))
		return -ENOMEM;
	return item_render_blob_append(s->pk.name, pk, s->has_sk ? s->sk.name : NULL, sk,
				       rec_blob(r->rec), r->rec->blob_len, buf, len, cap);
}

static int visit(struct table *t, const struct rview *v, void *val, struct iref_keys *keys,
		 tbl_visit_fn fn, void *ctx)
{
	struct item_ref r = {
	    .t = t, .rec = view_rec(v, val), .keys = keys, .d = v->is_index ? v->d : NULL};

	keys_reset(keys);
	return fn(ctx, &r);
}

/* ---- point reads ---- */

/* Find the record for pk/sk with t->lock held. */
static int lookup(struct table *t, const struct val *pk, const struct val *sk, struct rec **out)
{
	struct keyenc_buf kb;
	int rc;

	if (!t->alive)
		return -ENOENT;
	if (tbl_key_check(&t->schema, pk, sk, NULL) < 0)
		return -EINVAL;
	keyenc_buf_init(&kb);
	rc = tbl_key_encode(&kb, pk, sk);
	if (rc == 0) {
		*out = omap_get(t->base, kb.p, kb.len);
		rc = *out ? 0 : -ENOENT;
	}
	keyenc_buf_free(&kb);
	return rc;
}

int tbl_get(table_t *t, const struct val *pk, const struct val *sk, struct val *out,
	    struct item_meta *meta)
{
	struct rec *r;
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = lookup(t, pk, sk, &r);
	if (rc == 0 && out)
		rc = rec_decode(&t->schema, r, out);
	if (rc == 0 && meta)
		rec_meta(&t->schema, r, meta);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int tbl_get_text(table_t *t, const struct val *pk, const struct val *sk, char **text, size_t *len,
		 struct item_meta *meta)
{
	struct rec *r;
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = lookup(t, pk, sk, &r);
	if (rc == 0)
		rc = rec_render(&t->schema, r, text, len);
	if (rc == 0 && meta)
		rec_meta(&t->schema, r, meta);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* ---- range reads ---- */

/*
 * The position (map key) of the exclusive start item, into b.  ipk and
 * isk, when known (a query: its partition; the caller's start_isk), make
 * an index position without looking the item up.
 */
static int start_pos(struct table *t, const struct rview *v, const struct val *ipk,
		     const struct val *isk, const struct val *spk, const struct val *ssk,
		     struct keyenc_buf *b, struct dyn_err *err)
{
	struct keyenc_buf kb;
	struct dyn_err e2;
	struct val item;
	struct rec *r;
	int rc;

	rc = tbl_key_check(&t->schema, spk, ssk, err);
	if (rc < 0)
		return rc;
	if (!v->is_index)
		return tbl_key_encode(b, spk, ssk);
	if (ipk && (!v->sk || isk)) {
		if (isk && isk->type != v->sk->type)
			return err_set(err, EINVAL, "the start index sort key must be of type %s",
				       val_type_name(v->sk->type));
		rc = tbl_key_encode(b, ipk, v->sk ? isk : NULL);
		if (rc == 0)
			rc = tbl_key_encode(b, spk, ssk);
		return rc;
	}
	keyenc_buf_init(&kb);
	rc = tbl_key_encode(&kb, spk, ssk);
	if (rc < 0)
		goto out;
	r = omap_get(t->base, kb.p, kb.len);
	if (!r) {
		rc = err_set(err, ENOENT, "the start item is gone from the table");
		goto out;
	}
	rc = rec_decode(&t->schema, r, &item);
	if (rc < 0)
		goto out;
	err_clear(&e2);
	rc = idx_key(v->d, &item, r->data, r->key_len, b, &e2);
	val_free(&item);
	if (rc == 0)
		rc = err_set(err, ENOENT, "the start item is not in index %s", v->d->name);
	else if (rc > 0)
		rc = 0;
out:
	keyenc_buf_free(&kb);
	return rc;
}

static int range_check(const struct rview *v, const struct tbl_range *sk, struct dyn_err *err)
{
	const struct key_attr *a = v->sk;

	if (!a) {
		if (sk->lo || sk->hi || sk->prefix)
			return err_set(err, EINVAL, "no sort key to put a condition on");
		return 0;
	}
	if ((sk->lo && sk->lo->type != a->type) || (sk->hi && sk->hi->type != a->type))
		return err_set(err, EINVAL, "sort key %s is of type %s: bounds must be too",
			       a->name, val_type_name(a->type));
	if (sk->prefix && (a->type == VAL_N || sk->prefix->type != a->type))
		return err_set(err, EINVAL,
			       "begins_with needs an S or B sort key and a value "
			       "of its type (%s is %s)",
			       a->name, val_type_name(a->type));
	return 0;
}

/* Build [lo, hi) for the query q; returns 1 if the range is empty. */
static int query_bounds(const struct tbl_query *q, struct keyenc_buf *lo, struct keyenc_buf *hi)
{
	const struct tbl_range *r = &q->sk;
	struct keyenc_buf p;
	size_t plen;
	int rc;

	rc = keyenc_append(lo, q->pk);
	if (rc < 0)
		return rc;
	plen = lo->len;
	rc = keyenc_buf_put(hi, lo->p, plen);
	if (rc == 0 && r->lo) {
		rc = keyenc_append(lo, r->lo);
		if (rc == 0 && !r->lo_incl)
			rc = keyenc_succ(lo);
	}
	if (rc == 0 && r->hi) {
		rc = keyenc_append(hi, r->hi);
		if (rc == 0 && r->hi_incl)
			rc = keyenc_succ(hi);
	} else if (rc == 0) {
		rc = keyenc_succ(hi);
	}
	if (rc == 0 && r->prefix) {
		keyenc_buf_init(&p);
		rc = keyenc_buf_put(&p, lo->p, plen);
		if (rc == 0)
			rc = keyenc_append_prefix(&p, r->prefix);
		if (rc == 0 && omap_keycmp(p.p, p.len, lo->p, lo->len) > 0) {
			lo->len = 0;
			rc = keyenc_buf_put(lo, p.p, p.len);
		}
		if (rc == 0)
			rc = keyenc_succ(&p);
		if (rc == 0 && omap_keycmp(p.p, p.len, hi->p, hi->len) < 0) {
			hi->len = 0;
			rc = keyenc_buf_put(hi, p.p, p.len);
		}
		keyenc_buf_free(&p);
	}
	if (rc < 0)
		return rc;
	return omap_keycmp(lo->p, lo->len, hi->p, hi->len) >= 0;
}

static int query_walk(struct table *t, const struct rview *v, const struct tbl_query *q,
		      const struct keyenc_buf *lo, const struct keyenc_buf *hi,
		      const struct keyenc_buf *start, tbl_visit_fn fn, void *ctx)
{
	struct iref_keys keys = {.pk_state = 0};
	struct omap_cur c;
	const uint8_t *k;
	size_t len, n = 0;
	bool ok;
	int rc = 0;

	if (!q->desc) {
		if (start && omap_keycmp(start->p, start->len, lo->p, lo->len) >= 0)
			ok = omap_seek(v->map, start->p, start->len, OMAP_GT, &c);
		else
			ok = omap_seek(v->map, lo->p, lo->len, OMAP_GE, &c);
	} else {
		if (start && omap_keycmp(start->p, start->len, hi->p, hi->len) < 0)
			ok = omap_seek(v->map, start->p, start->len, OMAP_LT, &c);
		else
			ok = omap_seek(v->map, hi->p, hi->len, OMAP_LT, &c);
	}
	for (; ok && !rc; ok = q->desc ? omap_prev(&c) : omap_next(&c)) {
		k = cur_key(v, &c, &len);
		if (!q->desc && omap_keycmp(k, len, hi->p, hi->len) >= 0)
			break;
		if (q->desc && omap_keycmp(k, len, lo->p, lo->len) < 0)
			break;
		rc = visit(t, v, omap_cur_val(&c), &keys, fn, ctx);
		if (q->limit && ++n >= q->limit)
			break;
	}
	keys_done(&keys);
	return rc;
}

int tbl_query(table_t *t, const struct tbl_query *q, tbl_visit_fn fn, void *ctx,
	      struct dyn_err *err)
{
	struct keyenc_buf lo, hi, start;
	struct rview v;
	int rc;

	keyenc_buf_init(&lo);
	keyenc_buf_init(&hi);
	keyenc_buf_init(&start);
	pthread_rwlock_rdlock(&t->lock);
	rc = resolve(t, q->index, &v, err);
	if (rc == 0)
		rc = key_check(v.pk, q->pk, false, err);
	if (rc == 0)
		rc = range_check(&v, &q->sk, err);
	if (rc == 0 && q->start_pk)
		rc = start_pos(t, &v, q->pk, q->start_isk, q->start_pk, q->start_sk, &start, err);
	if (rc < 0)
		goto out_unlock;
	rc = query_bounds(q, &lo, &hi);
	if (rc == 0)
		rc = query_walk(t, &v, q, &lo, &hi, q->start_pk ? &start : NULL, fn, ctx);
	else if (rc == 1)
		rc = 0; /* empty range */
out_unlock:
	pthread_rwlock_unlock(&t->lock);
	keyenc_buf_free(&lo);
	keyenc_buf_free(&hi);
	keyenc_buf_free(&start);
	return rc;
}

/* Does the entry with key k belong to segment seg of total?  Cached per partition. */
struct segcache {
	const uint8_t *p; /* partition prefix of the last entry */
	size_t len;	  /* its length */
	bool mine;	  /* its verdict */
};

static bool in_segment(struct segcache *sc, const uint8_t *k, size_t len, uint32_t seg,
		       uint32_t total)
{
	size_t plen;

	if (sc->p && len >= sc->len && memcmp(k, sc->p, sc->len) == 0)
		return sc->mine;
	plen = keyenc_next(k, len);
	sc->p = k;
	sc->len = plen;
	sc->mine = keyenc_hash(k, plen) % total == seg;
	return sc->mine;
}

int tbl_scan(table_t *t, const struct tbl_scan *s, tbl_visit_fn fn, void *ctx, struct dyn_err *err)
{
	struct iref_keys keys = {.pk_state = 0};
	struct segcache sc = {0};
	struct keyenc_buf start;
	struct omap_cur c;
	struct rview v;
	const uint8_t *k;
	size_t len, n = 0;
	bool ok;
	int rc;

	keyenc_buf_init(&start);
	pthread_rwlock_rdlock(&t->lock);
	rc = resolve(t, s->index, &v, err);
	if (rc == 0 && s->total > 1 && s->segment >= s->total)
		rc = err_set(err, EINVAL, "segment %u of %u does not exist", s->segment, s->total);
	if (rc == 0 && s->start_pk && s->start_ipk && s->start_ipk->type != v.pk->type)
		rc = err_set(err, EINVAL, "the start index partition key must be of type %s",
			     val_type_name(v.pk->type));
	if (rc == 0 && s->start_pk)
		rc = start_pos(t, &v, s->start_ipk, s->start_isk, s->start_pk, s->start_sk, &start,
			       err);
	if (rc < 0)
		goto out_unlock;
	if (s->start_pk)
		ok = omap_seek(v.map, start.p, start.len, OMAP_GT, &c);
	else
		ok = omap_first(v.map, &c);
	for (; ok && !rc; ok = omap_next(&c)) {
		if (s->total > 1) {
			k = cur_key(&v, &c, &len);
			if (!in_segment(&sc, k, len, s->segment, s->total))
				continue;
		}
		rc = visit(t, &v, omap_cur_val(&c), &keys, fn, ctx);
		if (s->limit && ++n >= s->limit)
			break;
	}
	keys_done(&keys);
out_unlock:
	pthread_rwlock_unlock(&t->lock);
	keyenc_buf_free(&start);
	return rc;
}

/* ---- partitions ---- */

int tbl_list_partitions(table_t *t, const char *index, const struct val *after, tbl_pk_fn fn,
			void *ctx)
{
	struct keyenc_buf kb;
	struct omap_cur c;
	struct rview v;
	struct val pk;
	const uint8_t *k;
	size_t len, plen;
	bool ok;
	int rc;

	keyenc_buf_init(&kb);
	pthread_rwlock_rdlock(&t->lock);
	rc = resolve(t, index, &v, NULL);
	if (rc == 0 && after && after->type != v.pk->type)
		rc = -EINVAL;
	if (rc < 0)
		goto out_unlock;
	if (after) {
		rc = keyenc_append(&kb, after);
		if (rc == 0)
			rc = keyenc_succ(&kb);
		if (rc < 0)
			goto out_unlock;
		ok = omap_seek(v.map, kb.p, kb.len, OMAP_GE, &c);
	} else {
		ok = omap_first(v.map, &c);
	}
	/* Skip-scan: one seek per partition, past every key under it. */
	while (ok && !rc) {
		k = cur_key(&v, &c, &len);
		plen = keyenc_next(k, len);
		rc = keyenc_decode(k, plen, v.pk->type, &pk, NULL);
		if (rc < 0)
			break;
		rc = fn(ctx, &pk);
		val_free(&pk);
		kb.len = 0;
		if (rc == 0 && keyenc_buf_put(&kb, k, plen) == 0 && keyenc_succ(&kb) == 0)
			ok = omap_seek(v.map, kb.p, kb.len, OMAP_GE, &c);
		else if (rc == 0)
			rc = -ENOMEM;
	}
out_unlock:
	pthread_rwlock_unlock(&t->lock);
	keyenc_buf_free(&kb);
	return rc;
}

int tbl_partition_exists(table_t *t, const char *index, const struct val *pk)
{
	struct keyenc_buf kb;
	struct rview v;
	int rc;

	keyenc_buf_init(&kb);
	pthread_rwlock_rdlock(&t->lock);
	rc = resolve(t, index, &v, NULL);
	if (rc == 0 && (!pk || pk->type != v.pk->type))
		rc = -EINVAL;
	if (rc == 0)
		rc = keyenc_append(&kb, pk);
	if (rc == 0 && !tbl_map_has_prefix(v.map, kb.p, kb.len))
		rc = -ENOENT;
	pthread_rwlock_unlock(&t->lock);
	keyenc_buf_free(&kb);
	return rc;
}
