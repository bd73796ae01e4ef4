/*
 * table_write.c - the one write primitive behind db_apply() (which, with
 * the deferred syncs and the one-op wrappers, is in table_defer.c).
 *
 * Phases (all under the write locks of the tables involved, taken in
 * table-id order so that concurrent transactions cannot deadlock):
 *
 *   1. resolve  every op's key (key rules checked), find the current record;
 *               reject two ops on one item;
 *   2. evaluate flags and callbacks against the current item, build the
 *               new items, validate them (item_check, key rules, index key
 *               types), and build everything memory will need: new
 *               records, new index entries, tree nodes (omap_reserve);
 *   3. log      copy the changes for the change feed (feed.h: the old
 *               and new records, no decoding), hand all changes to the
 *               journal as one record;
 *   4. commit   number the feed records and publish them, change the
 *               maps and counters - nothing here can fail;
 *   5. after unlocking: log->sync, the observer, the feed's subscribers.
 *
 * Any failure before phase 4 leaves memory exactly as it was, which is
 * what makes db_apply() all-or-nothing and a refused journal write -EIO
 * with nothing changed.  Each op sees the item as it was before the whole
 * db_apply() (ops are on distinct items, so there is no ambiguity).
 *
 * Index maintenance: the old item's index keys are computed from its
 * decoded form and its entries found in phase 2; when an update leaves an
 * index key unchanged, the existing entry is simply pointed at the new
 * record instead of being replaced.
 *
 * DB_MODIFY may return an item without its key attributes; they are
 * filled in from the op's key.  It may not change them (-EINVAL).
 *
 * *failed receives the index of the op that failed, or n when the
 * failure belongs to no single op (-ENOMEM while reserving, -EIO).
 */
#include "dbint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

enum aop_act {
	ACT_NONE, /* nothing to write */
	ACT_PUT,  /* store item (insert or replace) */
	ACT_DEL,  /* remove the current item */
};

/*
 * Index slots: t->schema.index[0..nindex), then the indexes being
 * backfilled, t->bld[0..nbld) (dbint.h), which are maintained only for
 * base keys the backfill has passed (idx_bld_covers: every key once its
 * scan is done) but checked for every item, so no item that the finished
 * index would refuse gets in.
 */
#define NSLOTS (2 * DB_MAX_INDEXES)

static size_t nslots(const struct table *t)
{
	return t->schema.nindex + t->nbld;
}

static const struct index_def *slot_def(const struct table *t, size_t i)
{
	return i < t->schema.nindex ? &t->schema.index[i] : t->bld[i - t->schema.nindex].def;
}

static omap_t *slot_map(const struct table *t, size_t i)
{
	return i < t->schema.nindex ? t->idx[i] : t->bld[i - t->schema.nindex].map;
}

static bool slot_covers(const struct table *t, size_t i, const uint8_t *k, size_t len)
{
	return i < t->schema.nindex || idx_bld_covers(&t->bld[i - t->schema.nindex], k, len);
}

/* One operation while db_apply() works on it. */
struct aop {
	struct table *t;		   /* its table (locked) */
	struct keyenc_buf key;		   /* base tuple key */
	const struct val *pk, *sk;	   /* key values (borrowed) */
	struct rec *cur;		   /* current record, or NULL */
	struct val old;			   /* decoded current item, if have_old */
	bool have_old;			   /* old holds the current item */
	enum aop_act act;		   /* what to write */
	const struct val *item;		   /* ACT_PUT: the new item */
	const char *text;		   /* DB_PUT: its text (db_op.text), or NULL */
	size_t text_len;		   /* its bytes */
	struct val nv;			   /* DB_MODIFY's new item (owned) */
	struct rec *nrec;		   /* ACT_PUT: the new record */
	/* per index slot (see slot_def): live indexes, then building ones */
	struct ient *oent[NSLOTS]; /* entries of the current item */
	struct ient *nent[NSLOTS]; /* entries for the new item */
	bool retarget[NSLOTS];	   /* oent stays, pointed at nrec */
	bool unstored;		   /* a stored put made for other key attributes:
				    * the whole item is in nv (stored_unstore) */
	size_t nent_end;	   /* nent[nent_end..] are all NULL */
};

static void aop_init(struct aop *a)
{
	memset(a, 0, sizeof(*a));
	keyenc_buf_init(&a->key);
	val_init_null(&a->old);
	val_init_null(&a->nv);
}

static void aop_clean(struct aop *a)
{
	size_t i;

	keyenc_buf_free(&a->key);
	val_free(&a->old);
	val_free(&a->nv);
	rec_unref(a->nrec);
	for (i = 0; i < a->nent_end; i++)
		ient_unref(a->nent[i]);
}

/* ---- phase 1: keys ---- */

/* Are ka, kb (a stored put's blob was made for them, a key was read by
 * them) the table's key attributes?  Names only: a type changed too is
 * the key's error.  A caller that does not say (no ka) vouches for them. */
static bool keys_fit(const struct table *t, const struct key_attr *ka, const struct key_attr *kb)
{
	if (!ka)
		return true;
	if (strcmp(ka->name, t->schema.pk.name) || !kb != !t->schema.has_sk)
		return false;
	return !kb || !strcmp(kb->name, t->schema.sk.name);
}

/*
 * A stored put whose blob was made for other key attributes (the table's
 * key schema changed, while it was empty, after the line was parsed):
 * the whole item into a->nv, the blob decoded plus every member of the
 * partial item (its key attributes as the parse had them, and the index
 * ones), and the op goes on as an ordinary put of it (a->unstored).
 */
static int stored_unstore(const struct db_op *op, struct aop *a)
{
	const struct val_attr *m;
	struct val c;
	size_t i;
	int rc;

	rc = item_decode(op->stored->blob, op->stored->blob_len, &a->nv);
	if (rc == 0 && (a->nv.type != VAL_M || op->item->type != VAL_M))
		rc = -EINVAL;
	for (i = 0; rc == 0 && i < op->item->m.len; i++) {
		m = &op->item->m.a[i];
		rc = val_copy(&c, &m->v);
		if (rc == 0)
			rc = val_map_set(&a->nv, m->name, m->name_len, &c);
	}
	a->unstored = rc == 0;
	return rc;
}

static int resolve_op(const struct db_op *op, struct aop *a, struct dyn_err *err)
{
	struct table *t = op->table;
	int rc;

	a->t = t;
	if (!t->alive)
		return err_set(err, ENOENT, "table %s was dropped", t->name);
	if (op->kind == DB_PUT && op->stored && !keys_fit(t, op->stored->ka, op->stored->kb)) {
		rc = stored_unstore(op, a);
		if (rc < 0)
			return rc;
	}
	if (op->kind == DB_PUT) {
		rc = tbl_key_of(&t->schema, a->unstored ? &a->nv : op->item, &a->pk, &a->sk, err);
	} else if (!keys_fit(t, op->ka, op->kb)) {
		const struct key_attr *kb = t->schema.has_sk ? &t->schema.sk : NULL;

		rc = err_set(err, EINVAL,
			     "The provided key element does not match the schema: the key of %s "
			     "is %s%s%s now, not %s%s%s (its key schema changed after the key "
			     "was read)",
			     t->name, t->schema.pk.name, kb ? " + " : "", kb ? kb->name : "",
			     op->ka->name, op->kb ? " + " : "", op->kb ? op->kb->name : "");
	} else {
		a->pk = op->pk;
		a->sk = op->sk;
		rc = tbl_key_check(&t->schema, op->pk, op->sk, err);
	}
	if (rc < 0)
		return rc;
	rc = tbl_key_encode(&a->key, a->pk, a->sk);
	if (rc < 0)
		return rc;
	a->cur = omap_get(t->base, a->key.p, a->key.len);
	return 0;
}

static bool same_item(const struct aop *x, const struct aop *y)
{
	return x->t == y->t && x->key.len == y->key.len &&
	       memcmp(x->key.p, y->key.p, x->key.len) == 0;
}

#define DISTINCT_SLOTS 256 /* open addressing over at most DB_MAX_TX_OPS ops */
_Static_assert(DB_MAX_TX_OPS < 255 && 2 * DB_MAX_TX_OPS <= DISTINCT_SLOTS, "slot numbers");

/* Two ops on one item?  A hash of the keys (a group of 100 puts compared
 * every pair: 4,950 comparisons); a few ops compare pairwise.  The op
 * reported is the first with an equal one before it, as pairwise. */
static int check_distinct(const struct aop *a, size_t n, size_t *failed, struct dyn_err *err)
{
	uint8_t slot[DISTINCT_SLOTS];
	size_t i, j, pos;
	uint64_t h;

	for (j = 1; j < n && n <= 8; j++)
		for (i = 0; i < j; i++)
			if (same_item(&a[i], &a[j]))
				goto dup;
	if (n <= 8)
		return 0;
	memset(slot, 0, sizeof(slot));
	for (j = 0; j < n; j++) {
		h = 0xcbf29ce484222325ull ^ (uint64_t)(uintptr_t)a[j].t;
		for (i = 0; i < a[j].key.len; i++)
			h = (h ^ a[j].key.p[i]) * 0x100000001b3ull;
		for (pos = (size_t)(h ^ h >> 29) & (DISTINCT_SLOTS - 1); slot[pos];
		     pos = (pos + 1) & (DISTINCT_SLOTS - 1)) {
			i = slot[pos] - 1u;
			if (same_item(&a[i], &a[j]))
				goto dup;
		}
		slot[pos] = (uint8_t)(j + 1);
	}
	return 0;
dup:
	*failed = j;
	return err_set(err, EINVAL, "operations %zu and %zu are on the same item of %s", i, j,
		       a[j].t->name);
}

/* ---- phase 2: evaluate and prepare ---- */

/* DB_MODIFY's item: fill in missing key attributes, refuse changed ones. */
static int fix_modified_key(struct aop *a, struct dyn_err *err)
{
	const struct table_schema *s = &a->t->schema;
	const struct key_attr *attrs[2] = {&s->pk, s->has_sk ? &s->sk : NULL};
	const struct val *vals[2] = {a->pk, a->sk};
	const struct val *pk, *sk;
	struct keyenc_buf kb;
	struct val copy;
	int rc, i;

	if (a->nv.type != VAL_M)
		return err_set(err, EINVAL, "an item must be a map of attributes");
	for (i = 0; i < 2 && attrs[i]; i++) {
		if (val_map_get(&a->nv, attrs[i]->name, strlen(attrs[i]->name)))
			continue;
		rc = val_copy(&copy, vals[i]);
		if (rc == 0)
			rc = val_map_set(&a->nv, attrs[i]->name, strlen(attrs[i]->name), &copy);
		if (rc < 0)
			return rc;
	}
	rc = tbl_key_of(s, &a->nv, &pk, &sk, err);
	if (rc < 0)
		return rc;
	keyenc_buf_init(&kb);
	rc = tbl_key_encode(&kb, pk, sk);
	if (rc == 0 && (kb.len != a->key.len || memcmp(kb.p, a->key.p, kb.len) != 0))
		rc = err_set(err, EINVAL, "an update cannot change the key attributes");
	keyenc_buf_free(&kb);
	return rc;
}

/* Run the callback and decide what to write. */
static int evaluate(const struct db_op *op, struct aop *a, struct dyn_err *err)
{
	const struct val *old = a->have_old ? &a->old : NULL;
	struct val scratch;
	int rc = 0;

	if ((op->flags & DB_IF_ABSENT) && a->cur)
		return err_set(err, EEXIST, "the item exists");
	if ((op->flags & DB_IF_PRESENT) && !a->cur)
		return err_set(err, ENOENT, "no such item");
	if (op->kind == DB_MODIFY) {
		rc = op->fn(op->ctx, old, &a->nv, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			a->act = ACT_PUT;
			a->item = &a->nv;
			return fix_modified_key(a, err);
		}
		if (rc == 1)
			a->act = a->cur ? ACT_DEL : ACT_NONE;
		else if (rc != 2)
			return err_set(err, EINVAL, "bad return %d from an update callback", rc);
		return 0;
	}
	if (op->fn) {
		val_init_null(&scratch);
		rc = op->fn(op->ctx, old, &scratch, err);
		val_free(&scratch);
		if (rc < 0)
			return rc;
	}
	if (op->kind == DB_PUT) {
		a->act = ACT_PUT;
		a->item = a->unstored ? &a->nv : op->item;
		a->text = op->text;
		a->text_len = op->text_len;
	} else if (op->kind == DB_DELETE) {
		a->act = a->cur ? ACT_DEL : ACT_NONE;
	}
	return 0;
}

/* The caller's entry for slot i (db_stored_ents), when it is the one
 * ient_new would make from ib and still the caller's alone. */
static struct ient *stored_ent(const struct db_stored *st, size_t i, const struct keyenc_buf *ib)
{
	struct ient *e = st && i < DB_STORED_ENTS ? st->ent[i] : NULL;

	if (!e || __atomic_load_n(&e->refs, __ATOMIC_ACQUIRE) != 1 || e->key_len != ib->len ||
	    memcmp(e->key, ib->p, ib->len) != 0)
		return NULL;
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

/* Were the caller's entries (db_stored_ents) made from a's item and key? */
static bool stored_ents_of(const struct db_stored *st, const struct aop *a)
{
	return st && st->ent_known && st->rec && a->item->type == VAL_M &&
	       st->ents_of == a->item->m.a && st->ents_n == a->item->m.len &&
	       st->rec->key_len == a->key.len && memcmp(st->rec->data, a->key.p, a->key.len) == 0;
}

/* Has a member of item this name and type? */
static bool member_is(const struct val *item, uint8_t at, const struct key_attr *ka)
{
	const struct val_attr *m;

	if (at >= item->m.len)
		return false;
	m = &item->m.a[at];
	return m->v.type == ka->type && strcmp(m->name, ka->name) == 0;
}

/*
 * The caller's entry for slot i when it is what idx_key() would make for
 * d, the item and key it was made from (stored_ents_of): d's key
 * attributes are the members it was made from, of d's types, so idx_key
 * would find these values, pass its checks and encode the same bytes.
 * The entry may be in a table already (a request applied twice): the
 * caller checks that before taking it.
 */
static struct ient *stored_ent_known(const struct db_stored *st, size_t i,
				     const struct index_def *d, const struct val *item)
{
	if (i >= DB_STORED_ENTS || !st->ent[i] || !(st->ent_known & (1u << i)) ||
	    !member_is(item, st->ent_at[i][0], &d->pk))
		return NULL;
	if (d->has_sk ? st->ent_at[i][1] == DB_STORED_NOSK || !member_is(item, st->ent_at[i][1], &d->sk)
		      : st->ent_at[i][1] != DB_STORED_NOSK)
		return NULL;
	return st->ent[i];
}

/* Index entries to remove (old item) and to add (new item; st: the
 * caller's entries, db_stored_ents, or NULL). */
static int prepare_indexes(struct aop *a, const struct db_stored *st, struct dyn_err *err)
{
	const struct table *t = a->t;
	const struct index_def *d;
	struct keyenc_buf ib;
	struct ient *known;
	const uint8_t *k;
	bool covered, of = a->act == ACT_PUT && stored_ents_of(st, a);
	size_t i, len;
	int rc = 0;

	keyenc_buf_init(&ib);
	for (i = 0; i < nslots(t); i++) {
		d = slot_def(t, i);
		covered = slot_covers(t, i, a->key.p, a->key.len);
		if (covered && a->have_old &&
		    idx_key(d, &a->old, a->cur->data, a->cur->key_len, &ib, NULL) == 1)
			a->oent[i] = omap_get(slot_map(t, i), ib.p, ib.len);
		if (a->act != ACT_PUT)
			continue;
		known = of ? stored_ent_known(st, i, d, a->item) : NULL;
		if (known) { /* its bytes are idx_key's (stored_ent_known) */
			k = known->key;
			len = known->key_len;
			rc = 1;
		} else {
			rc = idx_key(d, a->item, a->key.p, a->key.len, &ib, err);
			if (rc < 0)
				break;
			k = ib.p;
			len = ib.len;
		}
		if (rc == 0 || !covered)
			continue;
		if (a->oent[i] && a->oent[i]->key_len == len && memcmp(a->oent[i]->key, k, len) == 0) {
			a->retarget[i] = true;
			continue;
		}
		if (a->nent_end < i + 1)
			a->nent_end = i + 1;
		if (known && __atomic_load_n(&known->refs, __ATOMIC_ACQUIRE) == 1) {
			__atomic_add_fetch(&known->refs, 1, __ATOMIC_RELAXED);
			a->nent[i] = known;
			continue;
		}
		if (!known && (a->nent[i] = stored_ent(st, i, &ib)))
			continue;
		rc = ient_new(k, len, NULL, &a->nent[i]);
		if (rc < 0)
			break;
	}
	keyenc_buf_free(&ib);
	return rc < 0 ? rc : 0;
}

/* Does a stored put's partial item hold every index key attribute it has? */
static bool stored_covers(const struct table *t, const struct db_stored *st)
{
	const struct index_def *d;
	const char *name;
	size_t i, j, k;
	bool found;

	for (i = 0; i < nslots(t); i++) {
		d = slot_def(t, i);
		for (k = 0; k < (d->has_sk ? 2u : 1u); k++) {
			name = k ? d->sk.name : d->pk.name;
			if (!strcmp(name, t->schema.pk.name) ||
			    (t->schema.has_sk && !strcmp(name, t->schema.sk.name)))
				continue;
			for (j = 0, found = false; j < st->nattrs && !found; j++)
				found = !strcmp(name, st->attrs[j]);
			if (!found)
				return false;
		}
	}
	return true;
}

/* A stored put's whole item, decoded from its blob (an index added since
 * the caller captured the attributes): into a->nv, the item from then on. */
static int stored_whole(const struct table *t, const struct db_stored *st, struct aop *a)
{
	struct val k;
	int rc;

	rc = item_decode(st->blob, st->blob_len, &a->nv);
	if (rc == 0 && a->nv.type != VAL_M)
		rc = -EINVAL;
	if (rc == 0)
		rc = val_copy(&k, a->pk);
	if (rc == 0)
		rc = val_map_set(&a->nv, t->schema.pk.name, strlen(t->schema.pk.name), &k);
	if (rc == 0 && t->schema.has_sk) {
		rc = val_copy(&k, a->sk);
		if (rc == 0)
			rc = val_map_set(&a->nv, t->schema.sk.name, strlen(t->schema.sk.name), &k);
	}
	if (rc == 0)
		a->item = &a->nv;
	return rc;
}

/* stored_covers() of the last stored put of this apply: the ops of a
 * _batch group share their table and attribute list (schemas cannot
 * change under the locks). */
struct covers_memo {
	const struct table *t;	  /* NULL: nothing remembered */
	const char *const *attrs; /* the db_stored's attrs */
	size_t nattrs;		  /* and their count */
	bool covers;		  /* what stored_covers said */
};

static bool stored_covers_memo(const struct table *t, const struct db_stored *st,
			       struct covers_memo *m)
{
	if (m->t != t || m->attrs != st->attrs || m->nattrs != st->nattrs) {
		m->t = t;
		m->attrs = st->attrs;
		m->nattrs = st->nattrs;
		m->covers = stored_covers(t, st);
	}
	return m->covers;
}

/*
 * Is the caller's record (db_stored_rec) what rec_new_blob would make for
 * a: its key, this blob, this size -- and still the caller's alone?  A
 * record already in a table or the change feed is immutable (its date
 * was set when it was stored), so a request applied a second time gets a
 * copy instead.
 */
static bool stored_rec_fits(const struct db_stored *st, const struct aop *a, size_t size)
{
	const struct rec *r = st->rec;

	return r && __atomic_load_n(&r->refs, __ATOMIC_ACQUIRE) == 1 && r->key_len == a->key.len &&
	       memcmp(r->data, a->key.p, a->key.len) == 0 && rec_blob(r) == st->blob &&
	       r->blob_len == st->blob_len && r->size == size;
}

static int prepare_op(const struct db_op *op, struct aop *a, struct covers_memo *cm,
		      struct dyn_err *err)
{
	const struct db_stored *sd = a->unstored ? NULL : op->stored;
	struct table *t = a->t;
	int rc;

	if (a->cur && (op->fn || (nslots(t) && op->kind != DB_CHECK))) {
		rc = rec_decode(&t->schema, a->cur, &a->old);
		if (rc < 0)
			return rc;
		a->have_old = true;
	}
	rc = evaluate(op, a, err);
	if (rc < 0 || a->act == ACT_NONE)
		return rc;
	if (a->act == ACT_PUT && !(op->flags & DB_F_CHECKED)) {
		rc = item_check(a->item, err);
		if (rc < 0)
			return rc;
	}
	if (a->act == ACT_PUT && sd && !stored_covers_memo(t, sd, cm)) {
		rc = stored_whole(t, sd, a);
		if (rc < 0)
			return rc;
	}
	if (nslots(t)) {
		rc = prepare_indexes(a, a->act == ACT_PUT ? sd : NULL, err);
		if (rc < 0)
			return rc;
	}
	if (a->act == ACT_PUT && sd && stored_rec_fits(sd, a, op->size)) {
		a->nrec = sd->rec; /* the caller's record (db.h db_stored_rec) */
		rec_ref(a->nrec);
		return 0;
	}
	if (a->act == ACT_PUT && sd) /* the caller's encoding (db.h db_stored) */
		return rec_new_blob(a->key.p, a->key.len, sd->blob, sd->blob_len,
				    op->size, 0, &a->nrec);
	/* the size the caller measured (a parser computes it anyway), else now */
	if (a->act == ACT_PUT)
		rc = rec_new(&t->schema, a->item, a->key.p, a->key.len,
			     op->kind == DB_PUT && (op->flags & DB_F_CHECKED) && op->size
				 ? op->size
				 : item_size(a->item), 0,
			     &a->nrec);
	return rc;
}

/* Make sure phase 4 cannot run out of tree nodes. */
static int reserve(struct aop *a, size_t n, struct table **tabs, size_t ntabs)
{
	size_t k, j, i, puts, ents;
	int rc;

	for (k = 0; k < ntabs; k++) {
		puts = 0;
		for (j = 0; j < n; j++)
			puts += a[j].t == tabs[k] && a[j].act == ACT_PUT;
		rc = omap_reserve(tabs[k]->base, puts);
		if (rc < 0)
			return rc;
		for (i = 0; i < nslots(tabs[k]); i++) {
			ents = 0;
			for (j = 0; j < n; j++)
				ents += a[j].t == tabs[k] && a[j].nent[i] != NULL;
			rc = omap_reserve(slot_map(tabs[k], i), ents);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- phase 4: commit ---- */

static void must_insert(omap_t *m, void *v, void **old, struct omap_cur *at)
{
	/* Reserved in phase 2: an insert cannot fail here. */
	if (omap_insert_at(m, v, old, at) < 0)
		abort();
}

static bool has_prefix(const omap_t *m, const struct omap_cur *c, const uint8_t *p, size_t plen)
{
	size_t len;
	const uint8_t *k = omap_val_key(m, omap_cur_val(c), &len);

	return len >= plen && memcmp(k, p, plen) == 0;
}

/* Is the entry at `at` alone in its partition (the first plen bytes)? */
static bool alone_in_partition(const omap_t *m, const struct omap_cur *at, const uint8_t *p,
			       size_t plen)
{
	struct omap_cur c = *at;

	if (omap_prev(&c) && has_prefix(m, &c, p, plen))
		return false;
	c = *at;
	return !(omap_next(&c) && has_prefix(m, &c, p, plen));
}

/* Apply a to its table (a put's record dated by the caller, before the
 * change feed could see it). */
static void commit_op(struct aop *a, int64_t now)
{
	struct table *t = a->t;
	size_t i, plen = keyenc_next(a->key.p, a->key.len);
	struct omap_cur at;
	struct ient *e;
	void *old;

	for (i = 0; i < nslots(t); i++) {
		if (a->retarget[i]) {
			a->oent[i]->rec = a->nrec;
			continue;
		}
		if (a->oent[i]) {
			e = omap_delete(slot_map(t, i), a->oent[i]->key, a->oent[i]->key_len);
			ient_unref(e);
		}
		if (a->nent[i]) {
			a->nent[i]->rec = a->nrec;
			must_insert(slot_map(t, i), a->nent[i], &old, &at);
			a->nent[i] = NULL;
		}
	}
	/* without a sort key an item is its partition (an encoded key
	 * value is never a prefix of another: keyenc.h) */
	if (a->act == ACT_PUT) {
		t->bytes += a->nrec->size;
		must_insert(t->base, a->nrec, &old, &at);
		if (!old && (!t->schema.has_sk || alone_in_partition(t->base, &at, a->key.p, plen)))
			t->partitions++;
		a->nrec = NULL;
	} else {
		old = omap_delete(t->base, a->key.p, a->key.len);
		if (!t->schema.has_sk || !tbl_map_has_prefix(t->base, a->key.p, plen))
			t->partitions--;
	}
	if (old) {
		t->bytes -= ((struct rec *)old)->size;
		rec_unref(old);
	}
	a->cur = NULL;
	t->mtime_ns = now;
}

/* Return spare reserved nodes (a big transaction may have reserved many). */
static void trim_maps(struct table *t)
{
	size_t i;

	if (__atomic_load_n(&t->bulk, __ATOMIC_RELAXED))
		return; /* a bulk writer keeps them until tbl_bulk_end */

	omap_trim(t->base);
	for (i = 0; i < nslots(t); i++)
		omap_trim(slot_map(t, i));
}

/* ---- db_apply ---- */

static int lock_tables(struct db_op *ops, size_t n, struct table **tabs)
{
	size_t i, j, k = 0;
	struct table *t;

	for (i = 0; i < n; i++) {
		t = ops[i].table;
		for (j = k; j > 0 && tabs[j - 1]->id > t->id; j--)
			;
		if (j > 0 && tabs[j - 1] == t)
			continue;
		memmove(&tabs[j + 1], &tabs[j], (k - j) * sizeof(tabs[0]));
		tabs[j] = t;
		k++;
	}
	for (i = 0; i < k; i++)
		pthread_rwlock_wrlock(&tabs[i]->lock);
	return (int)k;
}

static int check_ops(struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err)
{
	size_t i;

	if (n > DB_MAX_TX_OPS)
		return err_set(err, EINVAL, "at most %d operations at once", DB_MAX_TX_OPS);
	for (i = 0; i < n; i++) {
		*failed = i;
		if (!ops[i].table)
			return err_set(err, EINVAL, "operation %zu has no table", i);
		switch (ops[i].kind) {
		case DB_PUT:
			if (!ops[i].item)
				return err_set(err, EINVAL, "operation %zu: put without item", i);
			if (ops[i].stored && (!(ops[i].flags & DB_F_CHECKED) || !ops[i].size ||
					      !ops[i].text))
				return err_set(err, EINVAL,
					       "operation %zu: stored put without size or text", i);
			break;
		case DB_MODIFY:
		case DB_CHECK:
			if (!ops[i].fn && ops[i].kind == DB_MODIFY)
				return err_set(err, EINVAL,
					       "operation %zu: update without callback", i);
			break;
		case DB_DELETE:
			break;
		default:
			return err_set(err, EINVAL, "operation %zu: unknown kind", i);
		}
	}
	*failed = n;
	return 0;
}

/* The feed's view of the changes (after changes_of: same order). */
static int feed_of(struct db *db, struct db_op *ops, struct aop *a, size_t n, size_t nch,
		   struct feed_batch **out)
{
	struct feed_in one, *in = &one;
	size_t i, k = 0;
	int rc;

	if (nch > 1) {
		in = calloc(nch, sizeof(*in));
		if (!in)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (a[i].act == ACT_NONE)
			continue;
		in[k].t = a[i].t;
		in[k].old = a[i].cur;
		in[k].new = a[i].act == ACT_PUT ? a[i].nrec : NULL;
		in[k].by_ttl = (ops[i].flags & DB_BY_TTL) != 0;
		k++;
	}
	rc = feed_prepare(db->feed, in, k, out);
	if (in != &one)
		free(in);
	return rc;
}

static size_t changes_of(struct aop *a, size_t n, struct db_change *ch)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (a[i].act == ACT_NONE)
			continue;
		memset(&ch[k], 0, sizeof(ch[k]));
		ch[k].table = a[i].t->name;
		if (a[i].act == ACT_PUT) {
			ch[k].kind = DB_CH_PUT;
			ch[k].item = a[i].item;
			ch[k].item_text = a[i].text;
			ch[k].item_text_len = a[i].text_len;
			ch[k].pk = a[i].pk; /* the observer needs no lookup */
			ch[k].sk = a[i].sk;
		} else {
			ch[k].kind = DB_CH_DELETE;
			ch[k].pk = a[i].pk;
			ch[k].sk = a[i].sk;
		}
		k++;
	}
	return k;
}

/* db_apply_x(); with defer (logit only), no wait for the sync of a
 * change made: its lsn goes to *defer for the caller's db_sync(). */
/*
 * The per-op arrays of a multi-op apply, kept per thread: about 1 KB per op
 * (struct aop), so 100 ops allocated and freed on every apply made glibc
 * give the memory back and fault it in again each time (a _batch import
 * applies groups of 100).  A nested apply on the same thread (a callback)
 * allocates its own.  Freed when the thread exits.
 */
struct apply_mem {
	struct aop a[DB_MAX_TX_OPS];
	struct table *tabs[DB_MAX_TX_OPS];
	struct db_change ch[DB_MAX_TX_OPS];
	bool busy; /* an apply of this thread uses it */
};

static pthread_key_t mem_key;
static pthread_once_t mem_once = PTHREAD_ONCE_INIT;
static bool mem_key_ok;

static void mem_key_init(void)
{
	mem_key_ok = pthread_key_create(&mem_key, free) == 0;
}

/* This thread's arrays for n ops, or NULL (then the caller allocates). */
static struct apply_mem *mem_take(size_t n)
{
	struct apply_mem *m;

	pthread_once(&mem_once, mem_key_init);
	if (!mem_key_ok || n > DB_MAX_TX_OPS)
		return NULL;
	m = pthread_getspecific(mem_key);
	if (!m) {
		m = malloc(sizeof(*m));
		if (!m)
			return NULL;
		if (pthread_setspecific(mem_key, m) != 0) {
			free(m);
			return NULL;
		}
		m->busy = false;
	}
	if (m->busy)
		return NULL;
	m->busy = true;
	memset(m->tabs, 0, n * sizeof(m->tabs[0]));
	memset(m->ch, 0, n * sizeof(m->ch[0]));
	return m;
}

static int apply(struct db *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
		 bool logit, uint64_t *defer)
{
	struct apply_mem *mem = NULL;
	struct table *tabs_one[1], **tabs = tabs_one;
	struct db_change ch_one[1], *ch = ch_one;
	struct aop one, *a = &one;
	struct feed_batch *fb = NULL;
	struct covers_memo cm = {NULL, NULL, 0, false};
	size_t i, nch, dummy, ntabs = 0;
	uint64_t lsn = 0;
	int64_t now;
	int rc;

	if (!failed)
		failed = &dummy;
	*failed = n;
	if (n == 0)
		return 0;
	rc = check_ops(ops, n, failed, err);
	if (rc < 0)
		return rc;
	if (n > 1 && (mem = mem_take(n))) {
		a = mem->a;
		tabs = mem->tabs;
		ch = mem->ch;
	} else if (n > 1) {
		a = calloc(n, sizeof(*a));
		tabs = calloc(n, sizeof(*tabs));
		ch = calloc(n, sizeof(*ch));
		if (!a || !tabs || !ch) {
			rc = -ENOMEM;
			goto out_free;
		}
	}
	for (i = 0; i < n; i++)
		aop_init(&a[i]);
	ntabs = (size_t)lock_tables(ops, n, tabs);
	for (i = 0; i < n; i++) {
		*failed = i;
		rc = resolve_op(&ops[i], &a[i], err);
		if (rc < 0)
			goto out_unlock;
	}
	*failed = n;
	rc = check_distinct(a, n, failed, err);
	if (rc < 0)
		goto out_unlock;
	for (i = 0; i < n; i++) {
		*failed = i;
		rc = prepare_op(&ops[i], &a[i], &cm, err);
		if (rc < 0)
			goto out_unlock;
	}
	*failed = n;
	nch = changes_of(a, n, ch);
	if (nch == 0)
		goto out_unlock;
	rc = reserve(a, n, tabs, ntabs);
	if (rc == 0 && logit)
		rc = feed_of(db, ops, a, n, nch, &fb);
	if (rc < 0)
		goto out_unlock;
	if (logit && (rc = db_log_append(db, ch, nch, &lsn)) < 0) {
		rc = err_set(err, -rc, "the journal could not be written (%s); nothing was changed",
			     strerror(-rc));
		logit = false; /* nothing to wait for: refused before anything was done */
		goto out_unlock;
	}
	now = tbl_now_ns();
	/* stored records are immutable once the feed holds them: dated first */
	for (i = 0; i < n; i++)
		if (a[i].act == ACT_PUT)
			a[i].nrec->mtime_ns = now;
	feed_commit(db->feed, fb, now);
	fb = NULL;
	for (i = 0; i < n; i++)
		if (a[i].act != ACT_NONE)
			commit_op(&a[i], now);
	for (i = 0; i < ntabs; i++)
		trim_maps(tabs[i]);
	for (i = 0; i < ntabs; i++)
		pthread_rwlock_unlock(&tabs[i]->lock);
	ntabs = 0;
	if (logit) {
		if (defer)
			*defer = lsn;
		else
			rc = db_log_sync(db, lsn, err);
		db_notify(db, ch, nch);
		feed_notify(db->feed);
	}
	goto out_clean;
out_unlock:
	feed_abort(fb);
	for (i = 0; i < ntabs; i++) {
		trim_maps(tabs[i]);
		pthread_rwlock_unlock(&tabs[i]->lock);
	}
	/*
	 * Nothing was written (a no-op, a failed condition, a refused item):
	 * the answer still reflects the state read under the locks, which
	 * may include changes whose writers are still waiting for their
	 * sync.  Answer only once that state is durable (issue 17).
	 */
	if (logit && rc != -ENOMEM && db_log_sync(db, DB_LSN_ALL, err) < 0)
		rc = -EIO;
out_clean:
	for (i = 0; i < n; i++)
		aop_clean(&a[i]);
out_free:
	if (mem) {
		mem->busy = false;
		return rc;
	}
	if (a != &one)
		free(a);
	if (tabs != tabs_one)
		free(tabs);
	if (ch != ch_one)
		free(ch);
	return rc;
}

int db_apply_x(struct db *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
	       bool logit)
{
	return apply(db, ops, n, failed, err, logit, NULL);
}

int db_apply_lsn(struct db *db, struct db_op *ops, size_t n, size_t *failed, struct dyn_err *err,
		 uint64_t *lsn)
{
	return apply(db, ops, n, failed, err, true, lsn);
}

void tbl_bulk_begin(table_t *t)
{
	__atomic_add_fetch(&t->bulk, 1, __ATOMIC_RELAXED);
}

void tbl_bulk_end(table_t *t)
{
	if (__atomic_sub_fetch(&t->bulk, 1, __ATOMIC_RELAXED))
		return;
	pthread_rwlock_wrlock(&t->lock);
	if (!__atomic_load_n(&t->bulk, __ATOMIC_RELAXED))
		trim_maps(t);
	pthread_rwlock_unlock(&t->lock);
}

/* ---- replay of a stored-form item (tbl_replay_stored) ---- */

bool tbl_key_valid(table_t *t, const struct val *pk, const struct val *sk)
{
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = tbl_key_check(&t->schema, pk, sk, NULL);
	pthread_rwlock_unlock(&t->lock);
	return rc == 0;
}

/* With indexes: the whole item (decoded from the record) through apply(). */
static int replay_decoded(struct table *t, struct rec *r, struct dyn_err *err)
{
	struct db_op op = {0};
	struct val item;
	int rc;

	rc = rec_decode(&t->schema, r, &item);
	pthread_rwlock_unlock(&t->lock);
	rec_unref(r);
	if (rc < 0)
		return rc;
	op.table = t;
	op.kind = DB_PUT;
	op.item = &item;
	op.flags = DB_F_CHECKED;
	rc = db_apply_x(t->db, &op, 1, NULL, err, false);
	val_free(&item);
	return rc;
}

int tbl_replay_stored(table_t *t, const struct val *pk, const struct val *sk,
		      const uint8_t *blob, size_t blob_len, size_t size, struct dyn_err *err)
{
	struct aop a;
	struct rec *r;
	int rc;

	aop_init(&a);
	pthread_rwlock_wrlock(&t->lock);
	if (!t->alive) {
		rc = err_set(err, ENOENT, "table %s was dropped", t->name);
		goto out_unlock;
	}
	rc = tbl_key_check(&t->schema, pk, sk, err);
	if (rc == 0)
		rc = tbl_key_encode(&a.key, pk, sk);
	if (rc < 0)
		goto out_unlock;
	rc = rec_new_blob(a.key.p, a.key.len, blob, blob_len, size, 0, &r);
	if (rc < 0)
		goto out_unlock;
	if (nslots(t)) {
		aop_clean(&a);
		return replay_decoded(t, r, err); /* unlocks */
	}
	a.t = t;
	a.act = ACT_PUT;
	a.nrec = r;
	r->mtime_ns = tbl_now_ns();
	rc = omap_reserve(t->base, 1);
	if (rc == 0)
		commit_op(&a, r->mtime_ns); /* takes nrec */
	trim_maps(t);
out_unlock:
	pthread_rwlock_unlock(&t->lock);
	aop_clean(&a);
	return rc;
}
