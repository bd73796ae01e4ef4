/*
 * table.c - records, table lifetime and metadata, key rules, and the
 * integrity checker.  (Reads are in table_read.c, db_apply() in
 * table_write.c, secondary indexes in index.c; the structures and their
 * locking are described in dbint.h.)
 *
 * Key rules (DynamoDB's): every key attribute is present, has the schema's
 * type, is not empty, and is at most 2048 bytes (partition key) or 1024
 * bytes (sort key).  An N key is never empty and its encoding is short.
 *
 * The checker proves what the rest of the engine assumes: every record
 * decodes to an item that passes item_check(), whose key encodes to the
 * record's key bytes and whose key attributes are not in the blob; keys
 * strictly increase (and the tree's own invariants hold); the item,
 * partition and byte counters match; every index entry maps to a live
 * base record whose attributes give exactly that index key; and every
 * item that qualifies for an index is in it (entries map back to distinct
 * items, so equal counts close the bijection).
 */
#include "dbint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"

/* ---- records ---- */

static const uint8_t *rec_omap_key(const void *v, size_t *len)
{
	const struct rec *r = v;

	*len = r->key_len;
	return r->data;
}

static void rec_hold(void *v)
{
	rec_ref(v);
}

static void rec_release(void *v)
{
	rec_unref(v);
}

const struct omap_ops rec_omap_ops = {
    .key = rec_omap_key,
    .hold = rec_hold,
    .release = rec_release,
};

void rec_ref(struct rec *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

void rec_unref(struct rec *r)
{
	if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(r);
}

void rec_free_cb(void *v, void *ctx)
{
	(void)ctx;
	rec_unref(v);
}

/* Is attribute a one of the key attributes of s? */
static bool is_key_attr(const struct table_schema *s, const struct val_attr *a)
{
	return strcmp(a->name, s->pk.name) == 0 || (s->has_sk && strcmp(a->name, s->sk.name) == 0);
}

int rec_new(const struct table_schema *s, const struct val *item, const uint8_t *key,
	    size_t key_len, size_t size, int64_t mtime_ns, struct rec **out)
{
	struct val_attr small[16], *attrs = small;
	struct val view;
	uint8_t stack[2048], *blob;
	size_t blen, i, n = 0;
	int rc;

	/* A shallow view of the item without its key attributes. */
	if (item->m.len > sizeof(small) / sizeof(small[0])) {
		attrs = malloc(item->m.len * sizeof(*attrs));
		if (!attrs)
			return -ENOMEM;
	}
	for (i = 0; i < item->m.len; i++)
		if (!is_key_attr(s, &item->m.a[i]))
			attrs[n++] = item->m.a[i];
	val_init_map(&view);
	view.m.a = attrs;
	view.m.len = view.m.cap = n;
	/* encoded on the stack (most items fit), then one allocation */
	rc = item_encode_into(&view, stack, sizeof(stack), &blob, &blen);
	if (attrs != small)
		free(attrs);
	if (rc < 0)
		return rc;
	rc = rec_new_blob(key, key_len, blob, blen, size, mtime_ns, out);
	if (blob != stack)
		free(blob);
	return rc;
}

int rec_new_blob(const uint8_t *key, size_t key_len, const uint8_t *blob, size_t blob_len,
		 size_t size, int64_t mtime_ns, struct rec **out)
{
	struct rec *r = malloc(sizeof(*r) + key_len + blob_len);

	if (!r)
		return -ENOMEM;
	r->mtime_ns = mtime_ns;
	r->text_len = 0;
	r->size = (uint32_t)size;
	r->blob_len = (uint32_t)blob_len;
	r->key_len = (uint16_t)key_len;
	r->refs = 1;
	memcpy(r->data, key, key_len);
	memcpy(r->data + key_len, blob, blob_len);
	*out = r;
	return 0;
}

int db_stored_rec(struct db_stored *st, const struct val *pk, const struct val *sk,
		  const uint8_t *blob, size_t blob_len, size_t size)
{
	struct keyenc_buf kb;
	struct rec *r = NULL;
	int rc;

	keyenc_buf_init(&kb);
	rc = tbl_key_encode(&kb, pk, sk);
	if (rc == 0)
		rc = rec_new_blob(kb.p, kb.len, blob, blob_len, size, 0, &r);
	keyenc_buf_free(&kb);
	if (rc < 0)
		return rc;
	st->rec = r;
	st->blob = rec_blob(r);
	st->blob_len = blob_len;
	return 0;
}

void db_stored_release(struct db_stored *st)
{
	size_t i;

	rec_unref(st->rec);
	st->rec = NULL;
	for (i = 0; i < DB_STORED_ENTS; i++) {
		ient_unref(st->ent[i]);
		st->ent[i] = NULL;
	}
	st->ent_known = 0;
	st->ents_of = NULL;
	st->ents_n = 0;
}

int rec_key_vals(const struct table_schema *s, const struct rec *r, struct val *pk, struct val *sk)
{
	size_t used;
	int rc;

	rc = keyenc_decode(r->data, r->key_len, s->pk.type, pk, &used);
	if (rc < 0 || !s->has_sk)
		return rc;
	rc = keyenc_decode(r->data + used, r->key_len - used, s->sk.type, sk, NULL);
	if (rc < 0)
		val_free(pk);
	return rc;
}

int rec_decode(const struct table_schema *s, const struct rec *r, struct val *out)
{
	struct val pk, sk;
	int rc;

	rc = item_decode(rec_blob(r), r->blob_len, out);
	if (rc < 0)
		return rc;
	if (out->type != VAL_M) {
		rc = -EINVAL;
		goto out_free;
	}
	rc = rec_key_vals(s, r, &pk, &sk);
	if (rc < 0)
		goto out_free;
	rc = val_map_set(out, s->pk.name, strlen(s->pk.name), &pk);
	if (rc < 0) {
		if (s->has_sk)
			val_free(&sk);
		goto out_free;
	}
	if (s->has_sk) {
		rc = val_map_set(out, s->sk.name, strlen(s->sk.name), &sk);
		if (rc < 0)
			goto out_free;
	}
	return 0;
out_free:
	val_free(out);
	return rc;
}

/*
 * A record's key values for rendering: views into its key bytes
 * (keyenc_view: no copy, nothing to free) unless a value holds an escaped
 * zero, which is decoded into a copy (own_*).
 */
struct rec_keys {
	struct val pk; /* the partition key */
	struct val sk; /* the sort key (if the schema has one) */
	bool own_pk;   /* pk is a copy: val_free it */
	bool own_sk;   /* sk is a copy */
};

static int key_view(const uint8_t *k, size_t len, enum val_type t, struct val *out, bool *own,
		    size_t *used)
{
	int rc = keyenc_view(k, len, t, out, used);

	*own = false;
	if (rc == 1) {
		rc = keyenc_decode(k, len, t, out, used);
		*own = rc == 0;
	}
	return rc;
}

static void rec_keys_done(struct rec_keys *k)
{
	if (k->own_pk)
		val_free(&k->pk);
	if (k->own_sk)
		val_free(&k->sk);
}

static int rec_keys_view(const struct table_schema *s, const struct rec *r, struct rec_keys *k)
{
	size_t used = 0;
	int rc;

	k->own_sk = false;
	rc = key_view(r->data, r->key_len, s->pk.type, &k->pk, &k->own_pk, &used);
	if (rc < 0 || !s->has_sk)
		return rc;
	rc = key_view(r->data + used, r->key_len - used, s->sk.type, &k->sk, &k->own_sk, NULL);
	if (rc < 0)
		rec_keys_done(k);
	return rc;
}

/*
 * The canonical text straight from the record (item_render_blob: no val
 * tree), the same bytes item_render gives for rec_decode's item.
 */
int rec_render(const struct table_schema *s, struct rec *r, char **text, size_t *len)
{
	struct rec_keys k;
	int rc;

	rc = rec_keys_view(s, r, &k);
	if (rc < 0)
		return rc;
	rc = item_render_blob(s->pk.name, &k.pk, s->has_sk ? s->sk.name : NULL,
			      s->has_sk ? &k.sk : NULL, rec_blob(r), r->blob_len, text, len);
	rec_keys_done(&k);
	if (rc == 0)
		__atomic_store_n(&r->text_len, (uint32_t)(*len + 1), __ATOMIC_RELAXED);
	return rc;
}

int rec_render_compact_append(const struct table_schema *s, const struct rec *r, bool keys_only,
			      char **buf, size_t *len, size_t *cap)
{
	static const uint8_t no_attrs[2] = {VAL_M, 0}; /* item_encode of {} */
	struct rec_keys k;
	int rc;

	rc = rec_keys_view(s, r, &k);
	if (rc < 0)
		return rc;
	rc = item_render_blob_append(s->pk.name, &k.pk, s->has_sk ? s->sk.name : NULL,
				     s->has_sk ? &k.sk : NULL, keys_only ? no_attrs : rec_blob(r),
				     keys_only ? sizeof(no_attrs) : r->blob_len, buf, len, cap);
	rec_keys_done(&k);
	return rc;
}

/* The length counted over the record (item_blob_text_len), not cached. */
static long rec_walk_len(const struct table_schema *s, const struct rec *r)
{
	struct rec_keys k;
	size_t len;
	int rc;

	rc = rec_keys_view(s, r, &k);
	if (rc < 0)
		return rc;
	rc = item_blob_text_len(s->pk.name, &k.pk, s->has_sk ? s->sk.name : NULL,
				s->has_sk ? &k.sk : NULL, rec_blob(r), r->blob_len, &len);
	rec_keys_done(&k);
	return rc < 0 ? rc : (long)len;
}

/* Does the rendering straight from r differ from text (1), or fail (-errno)? */
static int rec_differs(const struct table_schema *s, const struct rec *r, const char *text,
		       size_t len)
{
	struct rec_keys k;
	char *got;
	size_t glen;
	int rc;

	rc = rec_keys_view(s, r, &k);
	if (rc < 0)
		return rc;
	rc = item_render_blob(s->pk.name, &k.pk, s->has_sk ? s->sk.name : NULL,
			      s->has_sk ? &k.sk : NULL, rec_blob(r), r->blob_len, &got, &glen);
	rec_keys_done(&k);
	if (rc < 0)
		return rc;
	rc = glen != len || memcmp(got, text, len) != 0;
	free(got);
	return rc;
}

/*
 * A listing asks this for every item (st_size): the length is counted
 * over the record without rendering it (a few hundred instructions for
 * a small item, against ~20,000 to decode and render it), then cached.
 */
long rec_text_len(const struct table_schema *s, struct rec *r)
{
	uint32_t cached = __atomic_load_n(&r->text_len, __ATOMIC_RELAXED);
	long len;

	if (cached)
		return (long)cached - 1;
	len = rec_walk_len(s, r);
	if (len >= 0)
		__atomic_store_n(&r->text_len, (uint32_t)(len + 1), __ATOMIC_RELAXED);
	return len;
}

void rec_meta(const struct table_schema *s, struct rec *r, struct item_meta *meta)
{
	long tl = rec_text_len(s, r);

	meta->mtime_ns = r->mtime_ns;
	meta->size = r->size;
	meta->text_len = tl < 0 ? 0 : (size_t)tl;
	meta->version = 0; /* mtime_ns is the item's own */
}

/* ---- tables ---- */

int64_t tbl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tbl_new(struct db *db, const char *name, uint64_t id, const struct table_schema *s,
	    struct table **out)
{
	struct table *t = calloc(1, sizeof(*t));
	size_t i;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	t->db = db;
	t->id = id;
	t->refs = 1;
	t->alive = true;
	t->mtime_ns = tbl_now_ns();
	t->name = strdup(name);
	if (!t->name)
		goto out_free;
	rc = schema_copy(&t->schema, s);
	if (rc < 0)
		goto out_free_name;
	rc = omap_new(&rec_omap_ops, &t->base);
	if (rc < 0)
		goto out_free_schema;
	if (s->nindex) {
		t->idx = calloc(s->nindex, sizeof(t->idx[0]));
		if (!t->idx)
			goto out_free_maps;
		for (i = 0; i < s->nindex; i++) {
			rc = omap_new(&ient_omap_ops, &t->idx[i]);
			if (rc < 0)
				goto out_free_maps;
		}
	}
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->schema_mu, NULL);
	*out = t;
	return 0;
out_free_maps:
	rc = -ENOMEM;
	for (i = 0; t->idx && i < s->nindex; i++)
		idx_map_free(t->idx[i]);
	free(t->idx);
	omap_free(t->base, NULL, NULL);
out_free_schema:
	schema_free(&t->schema);
out_free_name:
	free(t->name);
out_free:
	free(t);
	return rc;
}

static void tbl_destroy(struct table *t)
{
	size_t i;

	/* Index entries first: they point into the base records. */
	for (i = 0; i < t->schema.nindex; i++)
		idx_map_free(t->idx[i]);
	free(t->idx);
	omap_free(t->base, rec_free_cb, NULL);
	schema_free(&t->schema);
	feed_tab_unref(t->ftab);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->schema_mu);
	free(t->name);
	free(t);
}

void tbl_ref(struct table *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void tbl_close(table_t *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		tbl_destroy(t);
}

const char *tbl_name(const table_t *t)
{
	return t->name;
}

uint64_t tbl_id(const table_t *t)
{
	return t->id;
}

bool tbl_alive(table_t *t)
{
	return __atomic_load_n(&t->alive, __ATOMIC_ACQUIRE);
}

int tbl_schema(table_t *t, struct table_schema *out)
{
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = schema_copy(out, &t->schema);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

const struct key_attr *tbl_pk(table_t *t)
{
	return &t->schema.pk;
}

const struct key_attr *tbl_sk(table_t *t)
{
	return t->schema.has_sk ? &t->schema.sk : NULL;
}

bool tbl_key_attrs(table_t *t, struct key_attr k[2])
{
	bool has_sk;

	pthread_rwlock_rdlock(&t->lock);
	k[0] = t->schema.pk;
	has_sk = t->schema.has_sk;
	if (has_sk)
		k[1] = t->schema.sk;
	pthread_rwlock_unlock(&t->lock);
	return has_sk;
}

const char *tbl_ttl_attr_locked(table_t *t)
{
	return t->schema.ttl_attr;
}

void tbl_stats(table_t *t, struct tbl_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&t->lock);
	out->items = omap_count(t->base);
	out->bytes = t->bytes;
	out->partitions = t->partitions;
	out->mtime_ns = t->mtime_ns;
	for (i = 0; i < t->schema.nindex && i < DB_MAX_INDEXES; i++)
		out->index_items[i] = omap_count(t->idx[i]);
	pthread_rwlock_unlock(&t->lock);
}

/* ---- keys ---- */

void tbl_describe_val(const struct val *v, char *buf, size_t size)
{
	char num[NUM_TEXT_MAX];
	size_t i, n;

	if (!size)
		return;
	switch (v->type) {
	case VAL_N:
		num_format(&v->n, num);
		snprintf(buf, size, "%s", num);
		return;
	case VAL_S:
		snprintf(buf, size, "\"%.*s%s\"", v->s.len > 64 ? 64 : (int)v->s.len, v->s.p,
			 v->s.len > 64 ? "..." : "");
		return;
	case VAL_B:
		n = snprintf(buf, size, "0x");
		for (i = 0; i < v->s.len && i < 32 && n + 3 < size; i++)
			n += snprintf(buf + n, size - n, "%02x", (uint8_t)v->s.p[i]);
		if (i < v->s.len && n + 4 < size)
			snprintf(buf + n, size - n, "...");
		return;
	default:
		snprintf(buf, size, "(%s)", val_type_name(v->type));
	}
}

int key_check(const struct key_attr *a, const struct val *v, bool is_sort, struct dyn_err *err)
{
	size_t max = is_sort ? ITEM_MAX_SK : ITEM_MAX_PK;
	int rc;

	if (!v)
		rc = err_set(err, EINVAL, "missing key attribute %s", a->name);
	else if (v->type != a->type)
		rc = err_set(err, EINVAL, "key attribute %s must be of type %s, not %s", a->name,
			     val_type_name(a->type), val_type_name(v->type));
	else if ((v->type == VAL_S || v->type == VAL_B) && v->s.len == 0)
		rc = err_set(err, EINVAL, "key attribute %s must not be empty", a->name);
	else if ((v->type == VAL_S || v->type == VAL_B) && v->s.len > max)
		rc = err_set(err, EINVAL,
			     "key attribute %s is %zu bytes, over the %zu-byte %s key limit",
			     a->name, v->s.len, max, is_sort ? "sort" : "partition");
	else
		return 0;
	err_path(err, a->name);
	return rc;
}

int tbl_key_check(const struct table_schema *s, const struct val *pk, const struct val *sk,
		  struct dyn_err *err)
{
	int rc = key_check(&s->pk, pk, false, err);

	if (rc < 0)
		return rc;
	if (!s->has_sk) {
		if (sk)
			return err_set(err, EINVAL, "the table has no sort key");
		return 0;
	}
	return key_check(&s->sk, sk, true, err);
}

int tbl_key_of(const struct table_schema *s, const struct val *item, const struct val **pk,
	       const struct val **sk, struct dyn_err *err)
{
	int rc;

	if (!item || item->type != VAL_M)
		return err_set(err, EINVAL, "an item must be a map of attributes");
	*pk = val_map_get(item, s->pk.name, strlen(s->pk.name));
	*sk = s->has_sk ? val_map_get(item, s->sk.name, strlen(s->sk.name)) : NULL;
	rc = key_check(&s->pk, *pk, false, err);
	if (rc == 0 && s->has_sk)
		rc = key_check(&s->sk, *sk, true, err);
	return rc;
}

int tbl_item_key(table_t *t, const struct val *item, const struct val **pk, const struct val **sk,
		 struct dyn_err *err)
{
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = tbl_key_of(&t->schema, item, pk, sk, err);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int tbl_key_encode(struct keyenc_buf *b, const struct val *pk, const struct val *sk)
{
	int rc = keyenc_append(b, pk);

	if (rc == 0 && sk)
		rc = keyenc_append(b, sk);
	return rc;
}

bool tbl_map_has_prefix(const omap_t *m, const uint8_t *key, size_t plen)
{
	struct omap_cur c;
	const uint8_t *k;
	size_t len;

	if (!omap_seek(m, key, plen, OMAP_GE, &c))
		return false;
	k = omap_val_key(m, omap_cur_val(&c), &len);
	return len >= plen && memcmp(k, key, plen) == 0;
}

/* ---- integrity ---- */

static int why_set(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int why_set(char **why, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		if (vasprintf(why, fmt, ap) < 0)
			*why = NULL;
		va_end(ap);
	}
	return -EUCLEAN;
}

/* Check one record; *qual[i] counts items that qualify for index i. */
static int check_rec(struct table *t, struct rec *r, size_t *qual, char **why)
{
	const struct table_schema *s = &t->schema;
	struct keyenc_buf kb, ib;
	const struct val *pk, *sk;
	struct dyn_err err;
	struct val item, blob;
	struct ient *e;
	size_t i;
	long tl;
	int rc;

	err_clear(&err);
	keyenc_buf_init(&kb);
	keyenc_buf_init(&ib);
	val_init_null(&item);
	if (item_decode(rec_blob(r), r->blob_len, &blob) < 0)
		return why_set(why, "%s: a record's blob does not decode", t->name);
	rc = val_map_get(&blob, s->pk.name, strlen(s->pk.name)) ||
	     (s->has_sk && val_map_get(&blob, s->sk.name, strlen(s->sk.name)));
	val_free(&blob);
	if (rc) {
		rc = why_set(why, "%s: a record's blob holds key attributes", t->name);
		goto out;
	}
	if (rec_decode(s, r, &item) < 0) {
		rc = why_set(why, "%s: a record does not decode", t->name);
		goto out;
	}
	if (item_check(&item, &err) < 0 || tbl_key_of(s, &item, &pk, &sk, &err) < 0) {
		rc = why_set(why, "%s: invalid stored item: %s", t->name, err.msg);
		goto out;
	}
	if (tbl_key_encode(&kb, pk, sk) < 0 || kb.len != r->key_len ||
	    memcmp(kb.p, r->data, kb.len) != 0) {
		rc = why_set(why, "%s: a record's key bytes differ from its item's key", t->name);
		goto out;
	}
	if (item_size(&item) != r->size) {
		rc = why_set(why, "%s: a record's cached size is wrong", t->name);
		goto out;
	}
	tl = __atomic_load_n(&r->text_len, __ATOMIC_RELAXED);
	{
		char *text;
		size_t len;

		/* the rendering from the val tree is the reference for the
		 * cache and for the two walks over the record */
		rc = item_render(&item, s->pk.name, s->has_sk ? s->sk.name : NULL, &text, &len);
		if (rc < 0) {
			rc = why_set(why, "%s: out of memory", t->name);
			goto out;
		}
		if (tl && (size_t)tl != len + 1) {
			free(text);
			rc = why_set(why, "%s: a record's cached text length is wrong", t->name);
			goto out;
		}
		if (rec_walk_len(s, r) != (long)len) {
			free(text);
			rc = why_set(why, "%s: a record's counted text length is wrong", t->name);
			goto out;
		}
		rc = rec_differs(s, r, text, len);
		free(text);
		if (rc) {
			rc = why_set(why, "%s: a record renders wrong from its blob", t->name);
			goto out;
		}
	}
	for (i = 0; i < s->nindex; i++) {
		rc = idx_key(&s->index[i], &item, r->data, r->key_len, &ib, &err);
		if (rc < 0) {
			rc = why_set(why, "%s: stored item not indexable: %s", t->name, err.msg);
			goto out;
		}
		if (rc == 0)
			continue;
		qual[i]++;
		e = omap_get(t->idx[i], ib.p, ib.len);
		if (!e || e->rec != r) {
			rc = why_set(why, "%s: an item is missing from index %s", t->name,
				     s->index[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	val_free(&item);
	keyenc_buf_free(&kb);
	keyenc_buf_free(&ib);
	return rc;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

/*
 * Every entry of index i points to a live record with that index key.
 * live holds the base records sorted by address, so a dangling entry is
 * caught before it is followed.
 */
static int check_index(struct table *t, size_t i, void **live, size_t nlive, char **why)
{
	const struct index_def *d = &t->schema.index[i];
	struct keyenc_buf ib;
	struct omap_cur c;
	struct dyn_err err;
	struct val item;
	struct ient *e;
	char buf[200];
	bool ok;
	int rc = 0;

	if (omap_check(t->idx[i], buf, sizeof(buf)) < 0)
		return why_set(why, "%s: index %s: %s", t->name, d->name, buf);
	keyenc_buf_init(&ib);
	for (ok = omap_first(t->idx[i], &c); ok && !rc; ok = omap_next(&c)) {
		e = omap_cur_val(&c);
		if (!bsearch(&e->rec, live, nlive, sizeof(void *), ptr_cmp)) {
			rc = why_set(why, "%s: index %s has an entry for a missing item", t->name,
				     d->name);
			break;
		}
		if (rec_decode(&t->schema, e->rec, &item) < 0) {
			rc = why_set(why, "%s: index %s: item does not decode", t->name, d->name);
			break;
		}
		if (idx_key(d, &item, e->rec->data, e->rec->key_len, &ib, &err) != 1 ||
		    ib.len != e->key_len || memcmp(ib.p, e->key, ib.len) != 0)
			rc = why_set(why, "%s: index %s has an entry under a stale key", t->name,
				     d->name);
		val_free(&item);
	}
	keyenc_buf_free(&ib);
	return rc;
}

/* The base records sorted by address (new), for check_index. */
static int live_records(struct table *t, void ***out)
{
	size_t n = omap_count(t->base), k = 0;
	struct omap_cur c;
	void **live;
	bool ok;

	live = malloc((n + 1) * sizeof(*live));
	if (!live)
		return -ENOMEM;
	for (ok = omap_first(t->base, &c); ok && k < n; ok = omap_next(&c))
		live[k++] = omap_cur_val(&c);
	qsort(live, k, sizeof(*live), ptr_cmp);
	*out = live;
	return (int)k;
}

int tbl_check_locked(struct table *t, char **why)
{
	const struct table_schema *s = &t->schema;
	size_t qual[DB_MAX_INDEXES] = {0}, items = 0, plen, parts = 0, i;
	const uint8_t *prevp = NULL;
	size_t prevplen = 0;
	uint64_t bytes = 0;
	struct omap_cur c;
	struct rec *r;
	void **live;
	char buf[200];
	bool ok;
	int rc;

	if (why)
		*why = NULL;
	if (s->nindex > DB_MAX_INDEXES)
		return why_set(why, "%s: too many indexes", t->name);
	if (omap_check(t->base, buf, sizeof(buf)) < 0)
		return why_set(why, "%s: %s", t->name, buf);
	for (ok = omap_first(t->base, &c); ok; ok = omap_next(&c)) {
		r = omap_cur_val(&c);
		rc = check_rec(t, r, qual, why);
		if (rc)
			return rc;
		items++;
		bytes += r->size;
		plen = keyenc_next(r->data, r->key_len);
		if (!prevp || plen != prevplen || memcmp(prevp, r->data, plen) != 0)
			parts++;
		prevp = r->data;
		prevplen = plen;
	}
	if (items != omap_count(t->base) || bytes != t->bytes || parts != t->partitions)
		return why_set(why,
			       "%s: counters wrong: %zu items, %llu bytes, %zu partitions; "
			       "recorded %zu, %llu, %llu",
			       t->name, items, (unsigned long long)bytes, parts,
			       omap_count(t->base), (unsigned long long)t->bytes,
			       (unsigned long long)t->partitions);
	if (!s->nindex)
		return 0;
	rc = live_records(t, &live);
	if (rc < 0)
		return why_set(why, "%s: out of memory while checking", t->name);
	for (i = 0, rc = 0; i < s->nindex && !rc; i++) {
		rc = check_index(t, i, live, items, why);
		if (!rc && omap_count(t->idx[i]) != qual[i])
			rc = why_set(why, "%s: index %s holds %zu entries for %zu items", t->name,
				     s->index[i].name, omap_count(t->idx[i]), qual[i]);
	}
	free(live);
	return rc;
}

int tbl_check_integrity(table_t *t, char **why)
{
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = tbl_check_locked(t, why);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
