/*
 * query_run.c - the `_query?` runner shared by query directories, query
 * files and index partition directories (the parameters are parsed by
 * query.c), over the backend face (backend/backend.h): positions, names
 * of results, running a query, matching one item, and the as= texts.
 *
 * Running.  A query is one backend read (be_query for a partition of the
 * table or of an index, be_scan of the table or an index) whose visitor
 * applies what the read does not: the filter, the projection of an index, the
 * limit counted in results (DynamoDB's Limit counts items read before
 * the filter; a file system user asking for "at most N" means results),
 * and the hand-over of each result with its position.
 *
 * Positions and resuming.  A position is the last result's base key, and
 * for an index also its index keys.  The table and its partitions resume
 * from the base key exactly, whether or not the item still exists; an
 * index partition from (index sort key, base key) (tbl_query's
 * start_isk), exactly too, even if that item was deleted or moved in the
 * index since; a scan of a whole index likewise from (index partition
 * key, index sort key, base key) (tbl_scan's start_ipk/start_isk) --
 * which is also the only resume that works where the backend's scan is
 * not in key order (no BE_CAP_ORDERED: DynamoDB's ExclusiveStartKey).  A
 * position without its index keys (none is made now) falls back to
 * checking the item: if it still has the position's index key the scan
 * resumes there, otherwise it restarts and skips entries up to the
 * position by key comparison.
 *
 * The text of as=jsonl/json/count is built in memory at open (query_text):
 * the file then is one consistent snapshot, reads at any offset are
 * plain copies, and st_size can stay 0 with direct I/O.  The price is
 * memory proportional to the result (bounded by limit=); listings, which
 * can be of any size, stream instead.
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/item.h"
#include "../engine/num.h"

/* ---- positions ---- */

void qpos_init(struct qpos *p)
{
	p->count = 0;
	val_init_null(&p->ipk);
	val_init_null(&p->isk);
	val_init_null(&p->pk);
	val_init_null(&p->sk);
}

void qpos_free(struct qpos *p)
{
	val_free(&p->ipk);
	val_free(&p->isk);
	val_free(&p->pk);
	val_free(&p->sk);
	p->count = 0;
}

int qpos_pack(const struct qpos *p, struct val *out)
{
	const struct val *parts[4] = {&p->ipk, &p->isk, &p->pk, &p->sk};
	struct num n;
	struct val v;
	size_t i;

	val_init_list(out);
	num_from_int64(&n, (int64_t)p->count);
	val_init_num(&v, &n);
	if (val_list_append(out, &v) < 0)
		goto nomem;
	for (i = 0; i < 4; i++) {
		if (val_copy(&v, parts[i]) < 0 || val_list_append(out, &v) < 0)
			goto nomem;
	}
	return 0;
nomem:
	val_free(out);
	return -ENOMEM;
}

int qpos_unpack(const struct val *v, struct qpos *p)
{
	int64_t c;

	qpos_init(p);
	if (v->type != VAL_L || v->l.len != 5 || v->l.v[0].type != VAL_N ||
	    num_to_int64(&v->l.v[0].n, &c) < 0 || c < 0)
		return -EINVAL;
	p->count = (uint64_t)c;
	if (val_copy(&p->ipk, &v->l.v[1]) < 0 || val_copy(&p->isk, &v->l.v[2]) < 0 ||
	    val_copy(&p->pk, &v->l.v[3]) < 0 || val_copy(&p->sk, &v->l.v[4]) < 0) {
		qpos_free(p);
		return -ENOMEM;
	}
	return 0;
}

/* ---- names ---- */

static const struct val *opt(const struct val *v)
{
	return v && v->type != VAL_NULL ? v : NULL;
}

int query_entry_name(const struct qloc *loc, const struct val *pk, const struct val *sk, char *buf)
{
	if (loc->pk && !loc->index)
		return name_make(sk, true, buf);
	return name_join_key(pk, opt(sk), true, buf);
}

int query_link_target(const struct val *pk, const struct val *sk, int depth, char *buf)
{
	char a[NAME_BUF], b[NAME_BUF];
	int n = 0, rc;

	rc = name_make(pk, !opt(sk), a);
	if (rc >= 0 && opt(sk))
		rc = name_make(sk, true, b);
	if (rc < 0)
		return rc;
	while (depth-- > 0 && n < 24) {
		memcpy(buf + n, "../", 3);
		n += 3;
	}
	return n + snprintf(buf + n, QUERY_TARGET_MAX - (size_t)n, opt(sk) ? "%s/%s" : "%s", a, b);
}

/* Finding the key of a shortened name among candidates. */
struct cand {
	const struct qloc *loc;	  /* names as at loc */
	const char *name;	  /* the name sought */
	const struct val *prefix; /* candidates' pk or sk start with it (NULL: any) */
	bool by_sk;		  /* the prefix is of the sort key */
	bool unordered;		  /* a scan not in key order: every key is looked at */
	struct val pk, sk;	  /* found (owned) */
	int found;		  /* 1 once found */
	struct dyn_err *err;	  /* why a read failed (may be NULL) */
};

static int cand_visit(void *ctx, const struct be_ref *r)
{
	struct cand *c = ctx;
	const struct val *pk = be_ref_pk(r), *sk = be_ref_sk(r);
	char buf[NAME_BUF];

	if (!pk)
		return -ENOMEM;
	if (c->prefix && !name_key_has_prefix(c->by_sk ? sk : pk, c->prefix))
		return c->unordered ? 0 : 1; /* past the candidates, in key order */
	if (query_entry_name(c->loc, pk, sk, buf) < 0 || strcmp(buf, c->name))
		return 0;
	if (val_copy(&c->pk, pk) < 0 || (sk && val_copy(&c->sk, sk) < 0))
		return -ENOMEM;
	c->found = 1;
	return 1;
}

/* Candidates among partitions whose key starts with the prefix. */
struct pcand {
	const struct val *prefix; /* partition keys sought start with it */
	struct val pks[64];	  /* a page of partition keys (owned) */
	size_t n;		  /* held */
	bool past;		  /* reached a key without the prefix */
};

static int pcand_visit(void *ctx, const struct val *pk)
{
	struct pcand *p = ctx;

	if (!name_key_has_prefix(pk, p->prefix)) {
		p->past = true;
		return 1;
	}
	if (val_copy(&p->pks[p->n], pk) < 0)
		return -ENOMEM;
	return ++p->n == 64;
}

/*
 * A table with a sort key and a shortened name that lost its separator:
 * the partition key is known by a prefix only, so every partition with
 * that prefix is searched, a page of partition keys at a time.  The
 * prefix may be the whole partition key (the cut fell on the separator,
 * which a prefix never ends in: name.c), so that partition comes first;
 * listing starts after the prefix.
 */
static int find_in_partitions(struct cand *c)
{
	struct pcand p = {.prefix = c->prefix};
	struct val after;
	bool more = true, first = true;
	size_t i;
	int rc = 0;

	val_init_null(&after);
	while (rc >= 0 && more && !c->found) {
		p.n = 0;
		if (first && be_partition_exists(c->loc->t, NULL, c->prefix, c->err) == 0) {
			rc = val_copy(&p.pks[p.n++], c->prefix);
			more = true;
		} else {
			rc = be_list_partitions(c->loc->t, NULL, opt(&after) ? &after : c->prefix,
						pcand_visit, &p, c->err);
			more = !p.past && p.n == 64;
		}
		first = false;
		for (i = 0; i < p.n; i++) {
			struct tbl_query q = {.pk = &p.pks[i]};
			struct cand c2 = {.loc = c->loc, .name = c->name};

			val_init_null(&c2.pk);
			val_init_null(&c2.sk);
			if (rc >= 0 && !c->found) {
				rc = be_query(c->loc->t, &q, cand_visit, &c2, c->err);
				if (c2.found) {
					val_move(&c->pk, &c2.pk);
					val_move(&c->sk, &c2.sk);
					c->found = 1;
				}
			}
			val_free(&c2.pk);
			val_free(&c2.sk);
			val_free(&after);
			val_move(&after, &p.pks[i]);
		}
	}
	val_free(&after);
	return rc < 0 ? rc : 0;
}

int query_name_key(const struct qloc *loc, const char *name, size_t len, struct val *pk,
		   struct val *sk, struct dyn_err *err)
{
	const struct key_attr *tpk = be_table_pk(loc->t), *tsk = be_table_sk(loc->t);
	struct cand c = {.loc = loc, .name = name, .err = err};
	struct name_key kp, ks;
	int rc;

	val_init_null(pk);
	val_init_null(sk);
	val_init_null(&c.pk);
	val_init_null(&c.sk);
	val_init_null(&kp.key);
	val_init_null(&ks.key);
	if (len > NAME_LEN_MAX || memchr(name, 0, len) || name[len] != 0)
		return -EINVAL;
	if (loc->pk && !loc->index) { /* "<sk>.json" in a base partition */
		if (!tsk)
			return -EINVAL;
		rc = name_parse(name, len, tsk->type, true, &ks);
		if (rc < 0)
			return rc == -ENOMEM ? rc : -EINVAL;
		kp.kind = NAME_FULL;
		rc = val_copy(&kp.key, loc->pk);
	} else if (tsk) {
		rc = name_split_key(name, len, tpk->type, tsk->type, true, &kp, &ks);
	} else {
		rc = name_parse(name, len, tpk->type, true, &kp);
		ks.kind = NAME_FULL;
	}
	if (rc < 0) {
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto out;
	}
	if (kp.kind == NAME_FULL && ks.kind == NAME_FULL) {
		val_move(pk, &kp.key);
		val_move(sk, &ks.key);
		goto out;
	}
	if (kp.kind == NAME_FULL && tsk) { /* within partition kp */
		struct tbl_query q = {.pk = &kp.key};

		if (ks.key.type != VAL_NULL) { /* else an N sort key: all are candidates */
			q.sk.prefix = &ks.key;
			c.prefix = &ks.key;
		}
		c.by_sk = true;
		rc = be_query(loc->t, &q, cand_visit, &c, err);
	} else if (!tsk) {
		/* in key order the candidates follow the prefix; else (a
		 * service's Scan) they are anywhere: the whole table is read */
		struct tbl_scan s = {.start_pk = &kp.key};

		c.prefix = &kp.key;
		c.unordered = !(be_caps(loc->t->be) & BE_CAP_ORDERED);
		if (c.unordered)
			s.start_pk = NULL;
		rc = be_scan(loc->t, &s, cand_visit, &c, err);
	} else {
		c.prefix = &kp.key;
		rc = find_in_partitions(&c);
	}
	if (rc >= 0)
		rc = c.found ? 0 : -ENOENT;
	if (rc == 0) {
		val_move(pk, &c.pk);
		val_move(sk, &c.sk);
	}
out:
	val_free(&c.pk);
	val_free(&c.sk);
	name_key_free(&kp);
	name_key_free(&ks);
	return rc;
}

/* ---- running ---- */

#define RUN_LIMIT 0x51ed /* the visitor's "limit reached" */

static const struct index_def *find_index(const struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; name && i < s->nindex; i++)
		if (!strcmp(s->index[i].name, name))
			return &s->index[i];
	return NULL;
}

static bool keep_attr(const struct table_schema *s, const struct index_def *d, const char *name)
{
	size_t i;

	if (!strcmp(name, s->pk.name) || (s->has_sk && !strcmp(name, s->sk.name)) ||
	    !strcmp(name, d->pk.name) || (d->has_sk && !strcmp(name, d->sk.name)))
		return true;
	for (i = 0; d->proj == PROJ_INCLUDE && i < d->ninclude; i++)
		if (!strcmp(name, d->include[i]))
			return true;
	return false;
}

/*
 * The projection of index d, in place.  The same rule as be_project(),
 * applied here because visitors run under the table's read lock and may
 * not call back into the engine.
 */
static int project(const struct table_schema *s, const struct index_def *d, struct val *item)
{
	struct val out, v;
	size_t i;

	if (d->proj == PROJ_ALL)
		return 0;
	val_init_map(&out);
	for (i = 0; i < item->m.len; i++) {
		struct val_attr *a = &item->m.a[i];

		if (!keep_attr(s, d, a->name))
			continue;
		val_move(&v, &a->v);
		if (val_map_set(&out, a->name, a->name_len, &v) < 0) {
			val_free(&out);
			return -ENOMEM;
		}
	}
	val_free(item);
	*item = out;
	return 0;
}

/* Does a key value meet the sort key conditions of q? */
static bool in_range(const struct qspec *q, const struct val *v)
{
	int c;

	if (q->has_lo) {
		c = val_cmp(v, &q->lo);
		if (c < 0 || (c == 0 && !q->lo_incl))
			return false;
	}
	if (q->has_hi) {
		c = val_cmp(v, &q->hi);
		if (c > 0 || (c == 0 && !q->hi_incl))
			return false;
	}
	return !q->has_prefix || name_key_has_prefix(v, &q->prefix);
}

struct run {
	const struct qloc *loc;	      /* where */
	const struct qspec *q;	      /* what */
	const struct table_schema *s; /* schema copy */
	const struct index_def *d;    /* the index, or NULL */
	bool want_item;		      /* decode every result */
	qhit_fn fn;		      /* the consumer */
	void *ctx;
	uint64_t count;		 /* results delivered, earlier pages included */
	const struct qpos *skip; /* skip entries up to this position */
};

/* Order of entry (ipk, isk, pk, sk) against position p in the walk's
 * direction (the index partition key matters in an index scan only). */
static int pos_cmp(const struct run *u, const struct val *ipk, const struct val *isk,
		   const struct val *pk, const struct val *sk, const struct qpos *p)
{
	int c = 0;

	if (u->d && !u->loc->pk && ipk && opt(&p->ipk))
		c = val_cmp(ipk, &p->ipk);
	if (c == 0 && u->d && u->d->has_sk && isk && opt(&p->isk))
		c = val_cmp(isk, &p->isk);
	if (c == 0)
		c = val_cmp(pk, &p->pk);
	if (c == 0 && sk && opt(&p->sk))
		c = val_cmp(sk, &p->sk);
	return u->q->desc ? -c : c;
}

static int run_visit(void *ctx, const struct be_ref *r)
{
	struct run *u = ctx;
	const struct val *pk = be_ref_pk(r), *sk = be_ref_sk(r), *ipk = NULL, *isk = NULL;
	bool need = u->want_item || u->q->filter || u->d, ok = true;
	struct qhit h = {.r = r};
	struct qpos pos;
	struct val item;
	int rc = 0;

	if (!pk)
		return -ENOMEM;
	qpos_init(&pos);
	val_init_null(&item);
	if (need) {
		rc = be_ref_decode(r, &item);
		if (rc < 0)
			return rc;
	}
	if (u->d) {
		ipk = val_map_get(&item, u->d->pk.name, strlen(u->d->pk.name));
		if (ipk && val_copy(&pos.ipk, ipk) < 0)
			rc = -ENOMEM;
		ipk = opt(&pos.ipk);
	}
	if (u->d && u->d->has_sk) {
		isk = val_map_get(&item, u->d->sk.name, strlen(u->d->sk.name));
		if (isk && val_copy(&pos.isk, isk) < 0)
			rc = -ENOMEM;
		isk = opt(&pos.isk);
	}
	if (rc == 0 && u->skip) {
		if (pos_cmp(u, ipk, isk, pk, sk, u->skip) <= 0)
			goto out;
		u->skip = NULL;
	}
	if (rc == 0 && u->d)
		rc = project(u->s, u->d, &item);
	if (rc == 0 && u->q->filter)
		rc = expr_eval(u->q->filter, &item, &ok, NULL);
	if (rc < 0 || !ok)
		goto out;
	pos.count = ++u->count;
	pos.pk = *pk; /* borrowed for the call */
	if (sk)
		pos.sk = *sk;
	h.item = need ? &item : NULL;
	h.pos = &pos;
	rc = u->fn(u->ctx, &h);
	val_init_null(&pos.pk);
	val_init_null(&pos.sk);
	if (rc == 0 && u->q->limit && u->count >= u->q->limit)
		rc = RUN_LIMIT;
out:
	val_free(&item);
	qpos_free(&pos);
	return rc;
}

/* Does the base item of position p still have its index key there? */
static bool index_start_ok(const struct qloc *loc, const struct index_def *d, const struct qpos *p)
{
	const struct val *ipk = loc->pk ? loc->pk : &p->ipk, *a, *b = NULL;
	struct val item;
	bool ok;

	if (!opt(ipk) || be_get(loc->t, &p->pk, opt(&p->sk), &item, NULL, NULL) < 0)
		return false;
	a = val_map_get(&item, d->pk.name, strlen(d->pk.name));
	if (d->has_sk)
		b = val_map_get(&item, d->sk.name, strlen(d->sk.name));
	ok = a && a->type == ipk->type && val_equal(a, ipk) &&
	     (!d->has_sk || (b && opt(&p->isk) && b->type == p->isk.type && val_equal(b, &p->isk)));
	val_free(&item);
	return ok;
}

/* The position that q's after= name stands for (new). */
static int after_pos(const struct qloc *loc, const struct qspec *q, const struct index_def *d,
		     struct qpos *out, struct dyn_err *err)
{
	char shown[QUERY_SHOW_MAX + 4];
	const struct val *a, *b = NULL;
	struct val item;
	int rc;

	query_show(q->after, strlen(q->after), shown);
	rc = query_name_key(loc, q->after, strlen(q->after), &out->pk, &out->sk, err);
	if (rc == -ENOENT || rc == -EINVAL)
		return err_set(err, EINVAL, "after=%s: no entry of that name here", shown);
	if (rc < 0 || !d)
		return rc;
	/* an index: the start is the item's place in it, so it must be there */
	rc = be_get(loc->t, &out->pk, opt(&out->sk), &item, NULL, err);
	if (rc == -ENOENT)
		return err_set(err, EINVAL,
			       "after=%s: that item no longer exists, so its place "
			       "in index %s is unknown (start over without after=)",
			       shown, d->name);
	if (rc < 0)
		return rc;
	a = val_map_get(&item, d->pk.name, strlen(d->pk.name));
	if (d->has_sk)
		b = val_map_get(&item, d->sk.name, strlen(d->sk.name));
	if (!a || a->type != d->pk.type || (loc->pk && !val_equal(a, loc->pk)) ||
	    (d->has_sk && (!b || b->type != d->sk.type)))
		rc = err_set(err, EINVAL, "after=%s: that item is not in %s index %s", shown,
			     loc->pk ? "this partition of" : "", d->name);
	else
		rc = val_copy(&out->ipk, a);
	if (rc == 0 && b)
		rc = val_copy(&out->isk, b);
	val_free(&item);
	return rc;
}

int query_run(const struct qloc *loc, const struct qspec *q, const struct qpos *from,
	      bool want_item, qhit_fn fn, void *ctx, struct dyn_err *err)
{
	struct run u = {.loc = loc, .q = q, .want_item = want_item, .fn = fn, .ctx = ctx};
	struct table_schema s;
	struct qpos start;
	int rc;

	qpos_init(&start);
	rc = be_table_schema(loc->t, &s, err);
	if (rc < 0)
		return rc;
	u.s = &s;
	u.d = find_index(&s, loc->index);
	if (loc->index && !u.d) {
		rc = err_set(err, ENOENT, "no index %s", loc->index);
		goto out;
	}
	if (!from && q->has_after) {
		rc = after_pos(loc, q, u.d, &start, err);
		if (rc < 0)
			goto out;
		from = &start;
	}
	u.count = from ? from->count : 0;
	if (q->limit && u.count >= q->limit)
		goto out;
	if (!loc->pk) {
		struct tbl_scan sc = {.index = loc->index, .segment = q->seg, .total = q->nseg};

		if (from && u.d && opt(&from->ipk)) {
			/* the position in the index, exact whatever became of
			 * its item (and the only way to resume where the scan is
			 * not in key order: no skipping to it by comparison) */
			sc.start_pk = &from->pk;
			sc.start_sk = opt(&from->sk);
			sc.start_ipk = &from->ipk;
			sc.start_isk = u.d->has_sk ? opt(&from->isk) : NULL;
		} else if (from && (!u.d || from == &start || index_start_ok(loc, u.d, from))) {
			sc.start_pk = &from->pk;
			sc.start_sk = opt(&from->sk);
		} else if (from) {
			u.skip = from; /* from the start: an index scan has no bounds */
		}
		rc = be_scan(loc->t, &sc, run_visit, &u, err);
	} else {
		struct tbl_query tq = {.index = loc->index, .pk = loc->pk, .desc = q->desc};

		tq.sk.lo = q->has_lo ? &q->lo : NULL;
		tq.sk.lo_incl = q->lo_incl;
		tq.sk.hi = q->has_hi ? &q->hi : NULL;
		tq.sk.hi_incl = q->hi_incl;
		tq.sk.prefix = q->has_prefix ? &q->prefix : NULL;
		if (from) {
			tq.start_pk = &from->pk;
			tq.start_sk = opt(&from->sk);
			tq.start_isk = u.d ? opt(&from->isk) : NULL; /* exact, item or not */
		}
		rc = be_query(loc->t, &tq, run_visit, &u, err);
	}
	if (rc == RUN_LIMIT)
		rc = 0;
out:
	qpos_free(&start);
	schema_free(&s);
	return rc;
}

/* ---- matching one item ---- */

int query_match(const struct qloc *loc, const struct qspec *q, const struct val *pk,
		const struct val *sk, struct dyn_err *err)
{
	const struct index_def *d = NULL;
	const struct val *key = NULL;
	struct table_schema s;
	struct val item;
	bool ok = true;
	int rc;

	rc = be_get(loc->t, pk, opt(sk), &item, NULL, err);
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc < 0)
		return rc;
	rc = be_table_schema(loc->t, &s, err);
	if (rc < 0)
		goto out_item;
	if (loc->index) {
		const struct val *a;

		d = find_index(&s, loc->index);
		a = d ? val_map_get(&item, d->pk.name, strlen(d->pk.name)) : NULL;
		ok = a && a->type == d->pk.type && (!loc->pk || val_equal(a, loc->pk));
		if (ok && d->has_sk) {
			key = val_map_get(&item, d->sk.name, strlen(d->sk.name));
			ok = key && key->type == d->sk.type;
		}
	} else if (loc->pk) {
		ok = val_equal(pk, loc->pk);
		key = opt(sk);
	}
	if (ok && key)
		ok = in_range(q, key);
	if (ok && d)
		rc = project(&s, d, &item);
	if (ok && rc == 0 && q->filter)
		rc = expr_eval(q->filter, &item, &ok, NULL);
	schema_free(&s);
out_item:
	val_free(&item);
	return rc < 0 ? rc : ok;
}

/* ---- as=jsonl / json / count ---- */

struct qtext {
	char *p;			/* the text */
	size_t len;			/* used */
	size_t cap;			/* allocated */
	enum qout out;			/* format */
	uint64_t n;			/* results */
	char pkn[DB_ATTR_NAME_MAX + 1]; /* the table's key names: rendered first */
	char skn[DB_ATTR_NAME_MAX + 1];
};

static int qt_put(struct qtext *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t ncap = t->cap ? t->cap : 4096;
		char *np;

		while (ncap < t->len + n + 1)
			ncap *= 2;
		np = realloc(t->p, ncap);
		if (!np)
			return -ENOMEM;
		t->p = np;
		t->cap = ncap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
	return 0;
}

static int qt_visit(void *ctx, const struct qhit *h)
{
	struct qtext *t = ctx;
	size_t len;
	char *s;
	int rc;

	if (t->out == QOUT_COUNT) {
		t->n++;
		return 0;
	}
	rc = item_render_compact(h->item, t->pkn, t->skn[0] ? t->skn : NULL, &s, &len);
	if (rc < 0)
		return rc;
	if (t->out == QOUT_JSON)
		rc = qt_put(t, t->n ? ",\n" : "\n", t->n ? 2 : 1);
	if (rc == 0)
		rc = qt_put(t, s, len);
	if (rc == 0 && t->out == QOUT_JSONL)
		rc = qt_put(t, "\n", 1);
	free(s);
	t->n++;
	return rc;
}

int query_text(const struct qloc *loc, const struct qspec *q, char **out, size_t *len,
	       struct dyn_err *err)
{
	struct qtext t = {.out = q->out};
	const struct key_attr *a = be_table_pk(loc->t), *b = be_table_sk(loc->t);
	char num[32];
	int rc;

	snprintf(t.pkn, sizeof(t.pkn), "%s", a->name);
	if (b)
		snprintf(t.skn, sizeof(t.skn), "%s", b->name);
	if (t.out == QOUT_JSON)
		rc = qt_put(&t, "[", 1);
	else
		rc = qt_put(&t, "", 0);
	if (rc == 0)
		rc = query_run(loc, q, NULL, q->out != QOUT_COUNT, qt_visit, &t, err);
	if (rc == 0 && t.out == QOUT_JSON)
		rc = qt_put(&t, t.n ? "\n]\n" : "]\n", t.n ? 3 : 2);
	if (rc == 0 && t.out == QOUT_COUNT) {
		snprintf(num, sizeof(num), "%llu\n", (unsigned long long)t.n);
		rc = qt_put(&t, num, strlen(num));
	}
	if (rc < 0) {
		free(t.p);
		return rc;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}
