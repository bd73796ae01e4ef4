/*
 * rbe_read.c - the remote backend's reads: a partition or an index
 * partition is Query pages, a table-level listing Scan pages (capped at
 * max_list items, counted across resumed calls), partition listings a
 * Scan projected on the partition key.  Rows are the pages' items, so a
 * readdirplus costs no request per entry.  See rbe.c for the design.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "rbeint.h"

/* ---- reads ---- */

int rbe_keys_of(const struct table_schema *s, const char *index, struct keys *k,
		struct dyn_err *err)
{
	const struct index_def *ix = rbe_find_index(s, index);

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

int rbe_bind_name(struct val *names, const char *ph, const char *name)
{
	struct val v;
	int rc = val_init_str(&v, name, strlen(name));

	return rc < 0 ? rc : val_map_set(names, ph, strlen(ph), &v);
}

int rbe_bind_value(struct val *values, const char *ph, const struct val *v)
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
	rc = rbe_bind_name(&names, "#p", k->pk);
	if (rc == 0)
		rc = rbe_bind_value(&values, ":p", q->pk);
	if (rc == 0 && k->sk && (g->prefix || g->lo || g->hi)) {
		rc = rbe_bind_name(&names, "#s", k->sk);
		if (rc == 0 && g->prefix) {
			strcat(text, " AND begins_with(#s, :a)");
			rc = rbe_bind_value(&values, ":a", g->prefix);
		} else if (rc == 0 && g->lo && g->hi) {
			strcat(text, " AND #s BETWEEN :a AND :b");
			rc = rbe_bind_value(&values, ":a", g->lo);
			if (rc == 0)
				rc = rbe_bind_value(&values, ":b", g->hi);
		} else if (rc == 0 && g->lo) {
			strcat(text, g->lo_incl ? " AND #s >= :a" : " AND #s > :a");
			rc = rbe_bind_value(&values, ":a", g->lo);
		} else if (rc == 0) {
			strcat(text, g->hi_incl ? " AND #s <= :a" : " AND #s < :a");
			rc = rbe_bind_value(&values, ":a", g->hi);
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
	if ((rc = rbe_key_of(&t->s, pk, sk, out)) < 0 || !index)
		return rc;
	if (!ipk || (k->sk && !isk)) {
		if ((rc = rbe_get_item(t, pk, sk, &item, err)) < 0) {
			val_free(out);
			return rc;
		}
		v = val_map_get(&item, k->pk, strlen(k->pk));
		rc = v ? rbe_bind_value(out, k->pk, v) : 0;
		v = k->sk ? val_map_get(&item, k->sk, strlen(k->sk)) : NULL;
		if (rc == 0 && v)
			rc = rbe_bind_value(out, k->sk, v);
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

#define REST_KEEP_S 10 /* a page's rest waits this long for the next readdir */

/* FNV-1a of a value's compact text into h. */
static uint64_t mix(uint64_t h, const struct val *v)
{
	char *text = NULL;
	size_t len = 0, i;

	if (v && item_render_compact(v, NULL, NULL, &text, &len) == 0)
		for (i = 0; i < len; i++)
			h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
	free(text);
	return (h ^ 0xff) * 1099511628211ull;
}

/* Which read (q or sc) resumes where (pk, sk): the key of a page's rest. */
static uint64_t rest_hash(const struct rtab *t, const struct tbl_query *q,
			  const struct tbl_scan *sc, const struct val *pk, const struct val *sk)
{
	const char *index = q ? q->index : sc->index;
	uint64_t h = scan_hash(t->name, index, q ? 0 : sc->segment, pk, sk);

	if (q) {
		h = mix(mix(mix(mix(h, q->pk), q->sk.lo), q->sk.hi), q->sk.prefix);
		h ^= (uint64_t)q->desc << 1 | (uint64_t)q->sk.lo_incl << 2 |
		     (uint64_t)q->sk.hi_incl << 3;
	} else {
		h ^= (uint64_t)sc->total << 32 | 1;
	}
	return h ? h : 1;
}

/*
 * The rest of the page a read stopped in, if this read resumes inside it
 * (fs/ reading a directory one readdir buffer at a time resumes after
 * the last entry the kernel took, which may come before the last one
 * delivered): so a listing costs one request per page, not one per
 * readdir call.  *pos: the item after the resume key (pk, sk).
 */
/* The index in pg of the item with base key (pk, sk), or pg->n. */
static size_t page_find(const struct rmt_page *pg, const struct keys *k, const struct val *pk,
			const struct val *sk)
{
	const struct val *v;
	size_t j;

	for (j = 0; j < pg->n; j++) {
		v = val_map_get(&pg->items[j], k->tpk, strlen(k->tpk));
		if (!v || !val_equal(v, pk))
			continue;
		v = k->tsk ? val_map_get(&pg->items[j], k->tsk, strlen(k->tsk)) : NULL;
		if (!k->tsk || (v && sk && val_equal(v, sk)))
			break;
	}
	return j;
}

/*
 * The same, when the resume key is in the page before the kept one (the
 * kernel took fewer entries than the readdir call that crossed into the
 * next page delivered): *pg is that page from *pos on, *next the kept
 * page, to be delivered whole after it.
 */
static bool rest_take(struct rbe *r, uint64_t h, const struct keys *k, const struct val *pk,
		      const struct val *sk, struct rmt_page *pg, size_t *pos, uint64_t *count,
		      struct rmt_page *next)
{
	struct page_rest *slot = NULL;
	size_t i, j;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < sizeof(r->rests) / sizeof(r->rests[0]); i++)
		if (r->rests[i].hash == h && rbe_gen_fresh_locked(r, r->rests[i].gen) &&
		    mono_s() - r->rests[i].at <= REST_KEEP_S) {
			slot = &r->rests[i];
			break;
		}
	if (slot && (j = page_find(&slot->pg, k, pk, sk)) < slot->pg.n) {
		*pg = slot->pg;
		*pos = j + 1;
		*count = slot->count > slot->pos - *pos ? slot->count - (slot->pos - *pos) : 0;
		rmt_page_free(&slot->prev);
	} else if (slot && (j = page_find(&slot->prev, k, pk, sk)) < slot->prev.n) {
		*pg = slot->prev;
		*pos = j + 1;
		*next = slot->pg;
		*count = slot->count > slot->pos + (slot->prev.n - *pos)
			     ? slot->count - slot->pos - (slot->prev.n - *pos)
			     : 0;
	} else {
		pthread_mutex_unlock(&r->mu);
		return false;
	}
	slot->hash = 0;
	memset(&slot->pg, 0, sizeof(slot->pg));
	memset(&slot->prev, 0, sizeof(slot->prev));
	pthread_mutex_unlock(&r->mu);
	return true;
}

/* Keep pg (moved out) from pos on, and the page before it in the same
 * read (prev, moved out; n 0: none), for the read that resumes at hash h;
 * gen: rbe_gen_now() before the requests that fetched them. */
static void rest_keep(struct rbe *r, uint64_t h, struct rmt_page *pg, size_t pos, uint64_t count,
		      struct rmt_page *prev, uint64_t gen)
{
	struct page_rest *slot;

	/* the next call may resume before pos: the whole page is kept; also
	 * when nothing is left after it (the last page, delivered to its
	 * end): the call that resumes after its last item then ends without
	 * a request instead of asking the service for what follows */
	pthread_mutex_lock(&r->mu);
	slot = NULL;
	for (size_t i = 0; i < sizeof(r->rests) / sizeof(r->rests[0]); i++)
		if (r->rests[i].hash == h)
			slot = &r->rests[i]; /* the same read's older page: replaced */
	if (!slot) {
		slot = &r->rests[r->next_rest];
		r->next_rest = (r->next_rest + 1) % (sizeof(r->rests) / sizeof(r->rests[0]));
	}
	rmt_page_free(&slot->pg);
	rmt_page_free(&slot->prev);
	slot->pg = *pg;
	slot->prev = *prev;
	memset(prev, 0, sizeof(*prev));
	slot->pos = pos;
	slot->count = count;
	slot->hash = h;
	slot->at = mono_s();
	slot->gen = gen;
	memset(pg, 0, sizeof(*pg));
	pthread_mutex_unlock(&r->mu);
}

/* Free the kept pages (close). */
void rbe_rests_free(struct rbe *r)
{
	size_t i;

	for (i = 0; i < sizeof(r->rests) / sizeof(r->rests[0]); i++) {
		rmt_page_free(&r->rests[i].pg);
		rmt_page_free(&r->rests[i].prev);
	}
}

/* One read: Query (q) or Scan (sc) pages to fn. */
static int read_pages(struct rtab *t, const struct tbl_query *q, const struct tbl_scan *sc,
		      be_visit_fn fn, void *ctx, struct dyn_err *err)
{
	struct rbe *r = t->r;
	const char *index = q ? q->index : sc->index;
	size_t limit = q ? q->limit : sc->limit, delivered = 0, i, cap = rbe_max_list(r);
	struct keys k;
	expr_t *kc = NULL;
	struct val start;
	struct rmt_page pg, prev, next;
	struct rmt_read rq;
	uint64_t count = 0, h, gen = rbe_gen_now(r); /* before any request of this read */
	const struct val *spk = q ? q->start_pk : sc->start_pk,
			 *ssk = q ? q->start_sk : sc->start_sk;
	bool have_rest;
	size_t i0 = 0;
	int rc;

	memset(&pg, 0, sizeof(pg));
	memset(&prev, 0, sizeof(prev));
	memset(&next, 0, sizeof(next));
	val_init_null(&start);
	if ((rc = rbe_keys_of(&t->s, index, &k, err)) < 0)
		return rc;
	if (q && (rc = key_condition(q, &k, &kc, err)) < 0)
		return rc;
	have_rest = spk && rest_take(r, rest_hash(t, q, sc, NULL, NULL), &k, spk, ssk, &pg, &i0,
				     &count, &next);
	if (!have_rest && (rc = start_key(t, &k, index, spk, ssk, q ? q->pk : sc->start_ipk,
					  q ? q->start_isk : sc->start_isk, &start, err)) < 0)
		goto cleanup;
	if (!q && spk && !have_rest) { /* a Scan resumed: go on counting toward the cap */
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
		/* Full pages even for a limited read (a readdir buffer): the rest of
		 * the page serves the next call; only an existence check asks for 1 */
		if (limit == 1 && !(q && (q->sk.lo || q->sk.hi || q->sk.prefix)))
			rq.limit = 1;
		if (have_rest) {
			have_rest = false;
		} else if (next.n || next.last.type == VAL_M) {
			pg = next; /* the kept page after the one resumed in */
			memset(&next, 0, sizeof(next));
			i0 = 0;
		} else {
			i0 = 0;
			rc = q ? rmt_query(r->c, &rq, &pg, err) : rmt_scan(r->c, &rq, &pg, err);
			if (rc < 0)
				goto cleanup;
		}
		for (i = i0; i < pg.n; i++) {
			const struct val *it = &pg.items[i];
			struct rrow row = {.item = it};
			struct be_ref ref = {.m = &rbe_methods, .impl = &row};
			int stop;

			if (q &&
			    !in_range(&q->sk, k.sk ? val_map_get(it, k.sk, strlen(k.sk)) : NULL))
				continue;
			if (!q && count >= cap) {
				rbe_report(
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
			rbe_fill_meta(r, &t->s, it, &row.meta);
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
				/* (a page of one item, an existence check's, is
				 * no use to a listing: it would only push out
				 * the listing's own page of the same read) */
				if (rq.limit != 1)
					rest_keep(r, rest_hash(t, q, sc, NULL, NULL), &pg, i + 1,
						  count, &prev, gen);
				rc = stop;
				goto cleanup;
			}
		}
		val_free(&start);
		val_move(&start, &pg.last);
		rmt_page_free(&prev);
		prev = pg; /* kept for a resume from one of its items */
		memset(&pg, 0, sizeof(pg));
		if (start.type != VAL_M && !next.n) {
			/* the last page, delivered to its end: kept, so that the
			 * call resuming after its last item (the kernel's next
			 * readdir) ends here instead of asking for what follows */
			struct rmt_page none;

			memset(&none, 0, sizeof(none));
			if (prev.n)
				rest_keep(r, rest_hash(t, q, sc, NULL, NULL), &prev, prev.n, count,
					  &none, gen);
			rc = 0;
			goto cleanup;
		}
	}
cleanup:
	rmt_page_free(&pg);
	rmt_page_free(&prev);
	rmt_page_free(&next);
	val_free(&start);
	expr_free(kc);
	return rc;
}

int rbe_query(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
	      struct dyn_err *err)
{
	return read_pages(T(t), q, NULL, fn, ctx, err);
}

int rbe_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
	     struct dyn_err *err)
{
	return read_pages(T(t), NULL, s, fn, ctx, err);
}

static int cmp_val(const void *a, const void *b)
{
	return val_cmp(a, b);
}

void rbe_parts_free(struct val *p, size_t n)
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
	if ((rc = rbe_keys_of(&t->s, index, &k, err)) < 0)
		goto cleanup;
	if ((rc = rbe_bind_name(&names, "#p", k.pk)) < 0 ||
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
		if (scanned >= rbe_max_list(r)) {
			rbe_report(r, t->name,
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
	rbe_parts_free(all, n);
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

int rbe_list_partitions(be_table_t *bt, const char *index, const struct val *after, tbl_pk_fn fn,
			void *ctx, struct dyn_err *err)
{
	struct rtab *t = T(bt);
	struct rbe *r = t->r;
	struct val *parts = NULL, *keep;
	size_t n = 0, i, kept = 0;
	int rc = 0;
	bool reuse;

	uint64_t gen = rbe_gen_now(r); /* before the scan */

	pthread_mutex_lock(&r->mu);
	reuse = after && r->parts && same_str(r->parts_table, t->name) &&
		same_str(r->parts_index, index) && rbe_gen_fresh_locked(r, r->parts_gen) &&
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
		rbe_parts_free(parts, n);
		parts = NULL;
		n = 0;
		if ((rc = scan_partitions(t, index, &parts, &n, err)) < 0)
			return rc;
		keep = calloc(n + 1, sizeof(*keep));
		for (i = 0; keep && i < n; i++, kept++)
			if (val_copy(&keep[i], &parts[i]) < 0)
				break;
		pthread_mutex_lock(&r->mu);
		rbe_parts_free(r->parts, r->nparts);
		free(r->parts_table);
		free(r->parts_index);
		r->parts = keep;
		r->nparts = kept;
		r->parts_table = strdup(t->name);
		r->parts_index = index ? strdup(index) : NULL;
		r->parts_at = mono_s();
		r->parts_gen = gen;
		if (!r->parts_table || (index && !r->parts_index) || kept < n) {
			rbe_parts_free(r->parts, r->nparts);
			r->parts = NULL;
			r->nparts = 0;
		}
		pthread_mutex_unlock(&r->mu);
	}
	for (i = 0; rc == 0 && i < n; i++)
		if (!after || val_cmp(&parts[i], after) > 0)
			rc = fn(ctx, &parts[i]);
	rbe_parts_free(parts, n);
	return rc;
}

static int stop_first(void *ctx, const struct be_ref *r)
{
	return 1;
}

int rbe_partition_exists(be_table_t *bt, const char *index, const struct val *pk,
			 struct dyn_err *err)
{
	struct tbl_query q = {.index = index, .pk = pk, .limit = 1};
	struct rbe *r = T(bt)->r;
	uint64_t h = rest_hash(T(bt), &q, NULL, NULL, NULL);
	bool seen = false;
	int rc;

	/* a listing of this partition in progress holds a page of it kept
	 * in the last second, and this mount wrote nothing since (the kernel
	 * looks the directory up again while a long `ls` reads it) */
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; r->o.cache_s != 0 && i < sizeof(r->rests) / sizeof(r->rests[0]); i++)
		if (r->rests[i].hash == h && rbe_gen_fresh_locked(r, r->rests[i].gen) &&
		    mono_s() - r->rests[i].at <= 1 &&
		    (r->rests[i].pg.n || r->rests[i].prev.n))
			seen = true;
	pthread_mutex_unlock(&r->mu);
	if (seen)
		return 0;
	rc = read_pages(T(bt), &q, NULL, stop_first, NULL, err);

	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

int rbe_project(be_table_t *bt, const char *index, struct val *item)
{
	struct rtab *t = T(bt);
	const struct index_def *ix = rbe_find_index(&t->s, index);
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
