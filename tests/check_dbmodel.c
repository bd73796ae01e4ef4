/*
 * check_dbmodel.c - the engine against a brute-force model, and under
 * concurrent readers and writers.
 *
 * The model is a sorted array of (pk, sk, item).  A seeded random
 * sequence of puts, deletes, modifies and small transactions, with random
 * flags and some invalid items, is run against both; every return code
 * must match what the model predicts (the engine checks an op's flags,
 * then the item, then its index keys, and the first failing op decides),
 * and every few hundred operations the whole table, random queries (both
 * directions, bounds, limits), index queries and the counters are
 * compared, and db_check_integrity() runs.
 *
 * Table "m": p S, s N; indexes g-index (g S, v N, ALL) and h-index (h N,
 * KEYS_ONLY).  Items carry g (sometimes a BOOL or "" - rejected), v and h
 * (sometimes absent - sparse).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "item.h"
#include "num.h"

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);             \
	} while (0)

static unsigned long long rng_state;

static unsigned rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33);
}

static db_t *db;
static table_t *tm;

/* ---- values ---- */

static void set_str(struct val *m, const char *name, const char *s, size_t len)
{
	struct val v;

	EXPECT(val_init_str(&v, s, len) == 0);
	EXPECT(val_map_set(m, name, strlen(name), &v) == 0);
}

static void set_int(struct val *m, const char *name, long x)
{
	struct num n;
	struct val v;

	num_from_int64(&n, x);
	val_init_num(&v, &n);
	EXPECT(val_map_set(m, name, strlen(name), &v) == 0);
}

static void set_bool(struct val *m, const char *name)
{
	struct val v;

	val_init_bool(&v, true);
	EXPECT(val_map_set(m, name, strlen(name), &v) == 0);
}

static const char *const pks[] = {"a", "ab", "b", "a\0", "\xc3\xa9"};
static const size_t pk_lens[] = {1, 2, 1, 2, 2};

static void rand_key(struct val *pk, struct val *sk)
{
	unsigned i = rnd() % 5;
	struct num n;

	EXPECT(val_init_str(pk, pks[i], pk_lens[i]) == 0);
	num_from_int64(&n, (long)(rnd() % 41) - 20);
	val_init_num(sk, &n);
}

/* A random item for key pk/sk; *bad is set when indexes must reject it. */
static void rand_item(struct val *item, const struct val *pk, const struct val *sk, bool *bad)
{
	struct val k;
	unsigned r = rnd() % 100;

	*bad = false;
	val_init_map(item);
	EXPECT(val_copy(&k, pk) == 0);
	EXPECT(val_map_set(item, "p", 1, &k) == 0);
	EXPECT(val_copy(&k, sk) == 0);
	EXPECT(val_map_set(item, "s", 1, &k) == 0);
	if (r < 60) {
		set_str(item, "g", "xyz" + rnd() % 3, 1);
	} else if (r < 64) {
		set_bool(item, "g");
		*bad = true;
	} else if (r < 67) {
		set_str(item, "g", "", 0);
		*bad = true;
	}
	if (rnd() % 5)
		set_int(item, "v", (long)(rnd() % 7) - 3);
	if (rnd() % 2)
		set_int(item, "h", (long)(rnd() % 4));
	if (rnd() % 3 == 0)
		set_str(item, "payload", "some text here", rnd() % 15);
}

/* ---- the model ---- */

struct mitem {
	struct val pk, sk; /* key */
	struct val item;   /* whole item */
};

static struct mitem *model;
static size_t nmodel, capmodel;

static int key_cmp(const struct val *p1, const struct val *s1, const struct val *p2,
		   const struct val *s2)
{
	int c = val_cmp(p1, p2);

	if (c)
		return c;
	/* S keys compare as bytes with the shorter first (val_cmp) */
	return val_cmp(s1, s2);
}

static size_t model_find(const struct val *pk, const struct val *sk, bool *found)
{
	size_t lo = 0, hi = nmodel, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = key_cmp(&model[mid].pk, &model[mid].sk, pk, sk);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void model_put(const struct val *item)
{
	const struct val *pk = val_map_get(item, "p", 1), *sk = val_map_get(item, "s", 1);
	bool found;
	size_t i = model_find(pk, sk, &found);

	if (found) {
		val_free(&model[i].item);
		EXPECT(val_copy(&model[i].item, item) == 0);
		return;
	}
	if (nmodel == capmodel) {
		capmodel = capmodel ? 2 * capmodel : 64;
		model = realloc(model, capmodel * sizeof(*model));
		EXPECT(model != NULL);
	}
	memmove(&model[i + 1], &model[i], (nmodel - i) * sizeof(*model));
	EXPECT(val_copy(&model[i].pk, pk) == 0);
	EXPECT(val_copy(&model[i].sk, sk) == 0);
	EXPECT(val_copy(&model[i].item, item) == 0);
	nmodel++;
}

static void model_del(const struct val *pk, const struct val *sk)
{
	bool found;
	size_t i = model_find(pk, sk, &found);

	if (!found)
		return;
	val_free(&model[i].pk);
	val_free(&model[i].sk);
	val_free(&model[i].item);
	memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof(*model));
	nmodel--;
}

static void model_clear(void)
{
	while (nmodel)
		model_del(&model[0].pk, &model[0].sk);
	free(model);
	model = NULL;
	capmodel = 0;
}

/* ---- operations ---- */

/* What the test wants one op to do, and what the model says will happen. */
struct mop {
	struct db_op op;   /* handed to db_apply */
	struct val pk, sk; /* key */
	struct val item;   /* PUT / MODIFY result */
	bool bad;	   /* item fails index validation */
	int ret;	   /* MODIFY callback return: 0, 1, 2 */
	int expect;	   /* predicted error of this op alone, 0 if none */
};

static int modify_cb(void *ctx, const struct val *old, struct val *out, struct dyn_err *err)
{
	struct mop *m = ctx;

	(void)err;
	if (m->ret == 0)
		EXPECT(val_copy(out, &m->item) == 0);
	return m->ret;
}

static void mop_make(struct mop *m)
{
	unsigned k = rnd() % 100;
	bool found;

	memset(m, 0, sizeof(*m));
	rand_key(&m->pk, &m->sk);
	val_init_null(&m->item);
	m->op.table = tm;
	m->op.pk = &m->pk;
	m->op.sk = &m->sk;
	k = rnd() % 10;
	m->op.flags = k == 0 ? DB_IF_ABSENT : k == 1 ? DB_IF_PRESENT : 0;
	k = rnd() % 100;
	if (k < 55) {
		m->op.kind = DB_PUT;
		rand_item(&m->item, &m->pk, &m->sk, &m->bad);
		m->op.item = &m->item;
	} else if (k < 80) {
		m->op.kind = DB_DELETE;
	} else {
		m->op.kind = DB_MODIFY;
		m->op.fn = modify_cb;
		m->op.ctx = m;
		m->ret = (int)(rnd() % 3);
		if (m->ret == 0)
			rand_item(&m->item, &m->pk, &m->sk, &m->bad);
	}
	model_find(&m->pk, &m->sk, &found);
	if ((m->op.flags & DB_IF_ABSENT) && found)
		m->expect = -EEXIST;
	else if ((m->op.flags & DB_IF_PRESENT) && !found)
		m->expect = -ENOENT;
	else if ((m->op.kind == DB_PUT || (m->op.kind == DB_MODIFY && m->ret == 0)) && m->bad)
		m->expect = -EINVAL;
}

static void mop_apply_model(struct mop *m)
{
	if (m->op.kind == DB_PUT || (m->op.kind == DB_MODIFY && m->ret == 0))
		model_put(&m->item);
	else if (m->op.kind == DB_DELETE || (m->op.kind == DB_MODIFY && m->ret == 1))
		model_del(&m->pk, &m->sk);
}

static void mop_free(struct mop *m)
{
	val_free(&m->pk);
	val_free(&m->sk);
	val_free(&m->item);
}

/* One db_apply of n random ops, checked against the model. */
static void step(size_t n)
{
	struct mop m[4];
	struct db_op ops[4];
	size_t i, j, failed, want_failed = n;
	int rc, want = 0;

	for (i = 0; i < n; i++) {
		mop_make(&m[i]);
		ops[i] = m[i].op;
	}
	/* two ops on one item: EINVAL before anything is evaluated */
	for (j = 1; j < n && !want; j++)
		for (i = 0; i < j && !want; i++)
			if (key_cmp(&m[i].pk, &m[i].sk, &m[j].pk, &m[j].sk) == 0) {
				want = -EINVAL;
				want_failed = j;
			}
	for (i = 0; i < n && !want; i++)
		if (m[i].expect) {
			want = m[i].expect;
			want_failed = i;
		}
	rc = db_apply(db, ops, n, &failed, NULL);
	ck_assert_int_eq(rc, want);
	if (rc)
		ck_assert_uint_eq(failed, want_failed);
	else
		for (i = 0; i < n; i++)
			mop_apply_model(&m[i]);
	for (i = 0; i < n; i++)
		mop_free(&m[i]);
}

/* ---- verification ---- */

struct walk {
	size_t i;      /* next model position expected */
	size_t *order; /* expected model positions, in order */
	size_t n;      /* entries in order */
	bool items;    /* compare whole items, not just keys */
};

static int walk_cb(void *ctx, const struct item_ref *r)
{
	struct walk *w = ctx;
	struct mitem *mi;
	struct val item;

	EXPECT(w->i < w->n);
	mi = &model[w->order[w->i++]];
	EXPECT(val_equal(iref_pk(r), &mi->pk));
	EXPECT(val_equal(iref_sk(r), &mi->sk));
	if (w->items) {
		EXPECT(iref_decode(r, &item) == 0);
		EXPECT(val_equal(&item, &mi->item));
		val_free(&item);
	}
	return 0;
}

static const struct val *attr(size_t i, const char *name)
{
	return val_map_get(&model[i].item, name, strlen(name));
}

static bool g_indexed(size_t i)
{
	const struct val *g = attr(i, "g"), *v = attr(i, "v");

	return g && v && g->type == VAL_S;
}

/* Sort positions by g-index order: (g, v, p, s). */
static int gcmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = val_cmp(attr(x, "g"), attr(y, "g"));

	if (!c)
		c = val_cmp(attr(x, "v"), attr(y, "v"));
	if (!c)
		c = key_cmp(&model[x].pk, &model[x].sk, &model[y].pk, &model[y].sk);
	return c;
}

static void verify_scan(size_t *order)
{
	struct walk w = {.order = order, .n = nmodel, .items = true};
	struct tbl_stats st;
	uint64_t bytes = 0;
	size_t i, parts = 0, gcount = 0, hcount = 0;

	for (i = 0; i < nmodel; i++) {
		order[i] = i;
		bytes += item_size(&model[i].item);
		parts += i == 0 || !val_equal(&model[i].pk, &model[i - 1].pk);
		gcount += g_indexed(i);
		hcount += attr(i, "h") != NULL;
	}
	ck_assert_int_eq(tbl_scan(tm, &(struct tbl_scan){0}, walk_cb, &w, NULL), 0);
	ck_assert_uint_eq(w.i, nmodel);
	tbl_stats(tm, &st);
	ck_assert_uint_eq(st.items, nmodel);
	ck_assert_uint_eq(st.bytes, bytes);
	ck_assert_uint_eq(st.partitions, parts);
	ck_assert_uint_eq(st.index_items[0], gcount);
	ck_assert_uint_eq(st.index_items[1], hcount);
}

static void verify_queries(size_t *order)
{
	struct tbl_query q;
	struct val pk, lo, hi, dummy;
	struct walk w;
	size_t i, n, lim, round;

	for (round = 0; round < 20; round++) {
		memset(&q, 0, sizeof(q));
		rand_key(&pk, &lo);
		rand_key(&dummy, &hi);
		val_free(&dummy);
		q.pk = &pk;
		q.sk.lo = rnd() % 3 ? &lo : NULL;
		q.sk.hi = rnd() % 3 ? &hi : NULL;
		q.sk.lo_incl = rnd() % 2;
		q.sk.hi_incl = rnd() % 2;
		q.desc = rnd() % 2;
		q.limit = rnd() % 3 ? 0 : rnd() % 5 + 1;
		lim = q.limit ? q.limit : (size_t)-1;
		n = 0;
		for (i = 0; i < nmodel; i++) {
			size_t j = q.desc ? nmodel - 1 - i : i;
			int cl = q.sk.lo ? val_cmp(&model[j].sk, q.sk.lo) : 1;
			int ch = q.sk.hi ? val_cmp(&model[j].sk, q.sk.hi) : -1;

			if (!val_equal(&model[j].pk, &pk))
				continue;
			if (cl < 0 || (cl == 0 && !q.sk.lo_incl))
				continue;
			if (ch > 0 || (ch == 0 && !q.sk.hi_incl))
				continue;
			if (n < lim)
				order[n++] = j;
		}
		w = (struct walk){.order = order, .n = n};
		ck_assert_int_eq(tbl_query(tm, &q, walk_cb, &w, NULL), 0);
		ck_assert_uint_eq(w.i, n);
		val_free(&pk);
		val_free(&lo);
		val_free(&hi);
	}
}

static void verify_index(size_t *order)
{
	static const char *gs[] = {"x", "y", "z"};
	struct tbl_query q = {.index = "g-index"};
	struct val g;
	struct walk w;
	size_t i, n, k;

	for (k = 0; k < 3; k++) {
		EXPECT(val_init_str(&g, gs[k], 1) == 0);
		n = 0;
		for (i = 0; i < nmodel; i++)
			if (g_indexed(i) && val_equal(attr(i, "g"), &g))
				order[n++] = i;
		qsort(order, n, sizeof(*order), gcmp);
		q.pk = &g;
		q.desc = false;
		w = (struct walk){.order = order, .n = n};
		ck_assert_int_eq(tbl_query(tm, &q, walk_cb, &w, NULL), 0);
		ck_assert_uint_eq(w.i, n);
		/* descending is the exact reverse */
		for (i = 0; i < n / 2; i++) {
			size_t t = order[i];

			order[i] = order[n - 1 - i];
			order[n - 1 - i] = t;
		}
		q.desc = true;
		w = (struct walk){.order = order, .n = n};
		ck_assert_int_eq(tbl_query(tm, &q, walk_cb, &w, NULL), 0);
		ck_assert_uint_eq(w.i, n);
		val_free(&g);
	}
}

static void verify_all(void)
{
	size_t *order = malloc((nmodel + 1) * sizeof(*order));
	char *why = NULL;
	int rc;

	EXPECT(order != NULL);
	verify_scan(order);
	verify_queries(order);
	verify_index(order);
	free(order);
	rc = tbl_check_integrity(tm, &why);
	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
}

/* ---- fixture ---- */

static void setup(void)
{
	struct index_def idx[2];
	struct table_schema s;

	memset(&s, 0, sizeof(s));
	memset(idx, 0, sizeof(idx));
	snprintf(s.pk.name, sizeof(s.pk.name), "p");
	s.pk.type = VAL_S;
	s.has_sk = true;
	snprintf(s.sk.name, sizeof(s.sk.name), "s");
	s.sk.type = VAL_N;
	snprintf(idx[0].name, sizeof(idx[0].name), "g-index");
	snprintf(idx[0].pk.name, sizeof(idx[0].pk.name), "g");
	idx[0].pk.type = VAL_S;
	idx[0].has_sk = true;
	snprintf(idx[0].sk.name, sizeof(idx[0].sk.name), "v");
	idx[0].sk.type = VAL_N;
	snprintf(idx[1].name, sizeof(idx[1].name), "h-index");
	snprintf(idx[1].pk.name, sizeof(idx[1].pk.name), "h");
	idx[1].pk.type = VAL_N;
	idx[1].proj = PROJ_KEYS_ONLY;
	s.index = idx;
	s.nindex = 2;
	ck_assert_int_eq(db_new(&db), 0);
	ck_assert_int_eq(db_create_table(db, "m-table", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "m-table", &tm), 0);
}

static void teardown(void)
{
	char *why = NULL;
	int rc = db_check_integrity(db, &why);

	ck_assert_msg(rc == 0, "integrity: %s", why ? why : "?");
	tbl_close(tm);
	db_free(db);
	model_clear();
}

START_TEST(test_random_ops_match_model)
{
	int i;

	rng_state = 0xdecafbadULL + 7919ULL * (unsigned long long)_i;
	for (i = 1; i <= 20000; i++) {
		unsigned k = rnd() % 100;

		step(k < 80 ? 1 : 2 + rnd() % 3);
		if (i % 500 == 0)
			verify_all();
	}
	verify_all();
	/* delete everything that is left, through transactions */
	while (nmodel) {
		struct db_op op = {.kind = DB_DELETE,
				   .table = tm,
				   .pk = &model[0].pk,
				   .sk = &model[0].sk,
				   .flags = DB_IF_PRESENT};

		ck_assert_int_eq(db_apply(db, &op, 1, NULL, NULL), 0);
		model_del(&model[0].pk, &model[0].sk);
	}
	verify_all();
}
END_TEST

/* ---- concurrency ---- */

struct worker {
	table_t *t;	 /* table written */
	table_t *shared; /* table both writers touch in transactions */
	int id;		 /* worker number */
	int ops;	 /* operations to run */
	int failures;	 /* unexpected return codes */
	int *stop;	 /* readers run until set (atomic) */
};

static int count_cb(void *ctx, const struct item_ref *r)
{
	struct val item;
	size_t *n = ctx;

	if (iref_decode(r, &item) == 0) {
		val_free(&item);
		(*n)++;
	}
	return 0;
}

static void *writer(void *arg)
{
	struct worker *w = arg;
	struct val item, item2, pk, sk;
	struct db_op ops[2];
	struct num n;
	char key[32];
	int i, rc;

	for (i = 0; i < w->ops; i++) {
		snprintf(key, sizeof(key), "w%d-%d", w->id, i % 300);
		val_init_map(&item);
		set_str(&item, "p", key, strlen(key));
		set_int(&item, "s", i % 7);
		set_str(&item, "g", "x", 1);
		set_int(&item, "v", i);
		val_init_map(&item2);
		set_str(&item2, "p", key, strlen(key));
		set_int(&item2, "s", 0);
		ops[0] = (struct db_op){.kind = DB_PUT, .table = w->t, .item = &item};
		ops[1] = (struct db_op){.kind = DB_PUT, .table = w->shared, .item = &item2};
		/* both writers lock both tables: id order avoids deadlock */
		rc = db_apply(db, ops, i % 2 ? 2 : 1, NULL, NULL);
		w->failures += rc != 0;
		if (i % 5 == 0) {
			EXPECT(val_init_str(&pk, key, strlen(key)) == 0);
			num_from_int64(&n, (i + 3) % 7);
			val_init_num(&sk, &n);
			rc = tbl_delete(w->t, &pk, &sk, 0, NULL);
			w->failures += rc != 0;
			val_free(&pk);
			val_free(&sk);
		}
		val_free(&item);
		val_free(&item2);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *w = arg;
	struct tbl_query q = {.index = "g-index"};
	struct val g;
	size_t n;

	EXPECT(val_init_str(&g, "x", 1) == 0);
	q.pk = &g;
	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		n = 0;
		w->failures +=
		    tbl_scan(w->t, &(struct tbl_scan){.total = 2}, count_cb, &n, NULL) != 0;
		w->failures += tbl_query(w->t, &q, count_cb, &n, NULL) != 0;
		w->failures += tbl_scan(w->shared, &(struct tbl_scan){0}, count_cb, &n, NULL) != 0;
	}
	val_free(&g);
	return NULL;
}

START_TEST(test_concurrent_readers_and_writers)
{
	struct worker w[4];
	pthread_t th[4];
	int stop = 0;
	struct index_def idx;
	struct table_schema s;
	table_t *t2, *t3;
	int i;

	/* a second table with the same schema, and a shared one */
	ck_assert_int_eq(tbl_schema(tm, &s), 0);
	ck_assert_int_eq(db_create_table(db, "m-table-2", &s, NULL), 0);
	schema_free(&s);
	memset(&s, 0, sizeof(s));
	memset(&idx, 0, sizeof(idx));
	snprintf(s.pk.name, sizeof(s.pk.name), "p");
	s.pk.type = VAL_S;
	s.has_sk = true;
	snprintf(s.sk.name, sizeof(s.sk.name), "s");
	s.sk.type = VAL_N;
	ck_assert_int_eq(db_create_table(db, "shared", &s, NULL), 0);
	ck_assert_int_eq(db_table_open(db, "m-table-2", &t2), 0);
	ck_assert_int_eq(db_table_open(db, "shared", &t3), 0);
	w[0] = (struct worker){.t = tm, .shared = t3, .id = 0, .ops = 20000, .stop = &stop};
	w[1] = (struct worker){.t = t2, .shared = t3, .id = 1, .ops = 20000, .stop = &stop};
	w[2] = (struct worker){.t = tm, .shared = t3, .id = 2, .stop = &stop};
	w[3] = (struct worker){.t = t2, .shared = t3, .id = 3, .stop = &stop};
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, i < 2 ? writer : reader, &w[i]), 0);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th[2], NULL);
	pthread_join(th[3], NULL);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(w[i].failures, 0);
	tbl_close(t2);
	tbl_close(t3);
}
END_TEST

Suite *dbmodel_suite(void);
Suite *dbmodel_suite(void)
{
	Suite *s = suite_create("dbmodel");
	TCase *tc;

	tc = tcase_create("db_apply_model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_random_ops_match_model, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("db_concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_concurrent_readers_and_writers);
	suite_add_tcase(s, tc);
	return s;
}
