/*
 * check_omap.c - the B+tree, against a sorted-array model.
 *
 * Values are reference-counted test records, so the suite also proves the
 * separator hold/release protocol: a value is freed exactly when neither
 * the model nor any separator refers to it, and nothing leaks at the end.
 * Keys are drawn to hit the awkward cases: shared prefixes longer than the
 * 8 bytes an inner node caches, keys that are prefixes of others, NUL
 * bytes, and the empty key.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omap.h"

/*
 * Check reports every passing ck_assert to the parent process through a
 * pipe; the model loops assert millions of times, so they test first and
 * call into Check only on failure.
 */
#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);             \
	} while (0)

struct tv {
	int refs;    /* model membership + separators */
	size_t len;  /* key length */
	uint8_t k[]; /* key bytes */
};

static long live; /* struct tv allocated and not yet freed */

static struct tv *tv_new(const uint8_t *k, size_t len)
{
	struct tv *v = malloc(sizeof(*v) + len + 1);

	EXPECT((v) != NULL);
	v->refs = 1;
	v->len = len;
	memcpy(v->k, k, len);
	live++;
	return v;
}

static void tv_unref(struct tv *v)
{
	EXPECT((v->refs) > (0));
	if (--v->refs == 0) {
		free(v);
		live--;
	}
}

static const uint8_t *tv_key(const void *p, size_t *len)
{
	const struct tv *v = p;

	*len = v->len;
	return v->k;
}

static void tv_hold(void *p)
{
	((struct tv *)p)->refs++;
}

static void tv_release(void *p)
{
	tv_unref(p);
}

static void tv_free_cb(void *p, void *ctx)
{
	(void)ctx;
	tv_unref(p);
}

static const struct omap_ops tv_ops = {
    .key = tv_key,
    .hold = tv_hold,
    .release = tv_release,
};

/* ---- the model: a sorted array of values ---- */

struct model {
	struct tv **v; /* sorted by key */
	size_t n;      /* used */
	size_t cap;    /* allocated */
};

static int tv_cmp(const struct tv *a, const uint8_t *k, size_t len)
{
	return omap_keycmp(a->k, a->len, k, len);
}

/* First index with key >= k (or > k when upper). */
static size_t model_lb(const struct model *md, const uint8_t *k, size_t len, int upper)
{
	size_t lo = 0, hi = md->n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = tv_cmp(md->v[mid], k, len);
		if (c < 0 || (upper && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void model_free(struct model *md)
{
	size_t i;

	for (i = 0; i < md->n; i++)
		tv_unref(md->v[i]);
	free(md->v);
	memset(md, 0, sizeof(*md));
}

/* ---- key generation ---- */

static unsigned long long rng_state;

static unsigned rnd(void)
{
	/* xorshift64*: reproducible from the seed in the test */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33);
}

static size_t gen_key(uint8_t *buf, unsigned range)
{
	static const char *prefixes[] = {"", "PPPPPPPPPPPP", "PPPPPPPPPPPP\0"};
	static const size_t plen[] = {0, 12, 13};
	unsigned p = rnd() % 3;
	size_t n = plen[p];

	memcpy(buf, prefixes[p], n);
	if (rnd() % 50 == 0)
		return n; /* the bare prefix, possibly the empty key */
	n += (size_t)sprintf((char *)buf + n, "%u", rnd() % range);
	if (rnd() % 4 == 0)
		buf[n++] = 0;
	return n;
}

/* ---- checks against the model ---- */

static void check_struct(omap_t *m)
{
	char why[256];
	int rc = omap_check(m, why, sizeof(why));

	ck_assert_msg(rc == 0, "%s", why);
}

static void check_full(omap_t *m, const struct model *md)
{
	struct omap_cur c;
	size_t i = 0;
	bool ok;

	check_struct(m);
	EXPECT((omap_count(m)) == (md->n));
	for (ok = omap_first(m, &c); ok; ok = omap_next(&c), i++) {
		EXPECT((i) < (md->n));
		EXPECT((omap_cur_val(&c)) == (md->v[i]));
	}
	EXPECT((i) == (md->n));
	for (ok = omap_last(m, &c); ok; ok = omap_prev(&c)) {
		EXPECT((i) > (0));
		EXPECT((omap_cur_val(&c)) == (md->v[--i]));
	}
	EXPECT((i) == (0));
}

static void check_seek(omap_t *m, const struct model *md, const uint8_t *k, size_t len)
{
	struct omap_cur c;
	size_t lb = model_lb(md, k, len, 0), ub = model_lb(md, k, len, 1);
	bool ok;
	int step;

	ok = omap_seek(m, k, len, OMAP_GE, &c);
	EXPECT((ok) == (lb < md->n));
	if (ok) {
		EXPECT((omap_cur_val(&c)) == (md->v[lb]));
		/* walk a little: crosses leaf boundaries */
		for (step = 1; step < 5 && lb + step < md->n; step++) {
			EXPECT(omap_next(&c));
			EXPECT((omap_cur_val(&c)) == (md->v[lb + step]));
		}
	}
	ok = omap_seek(m, k, len, OMAP_GT, &c);
	EXPECT((ok) == (ub < md->n));
	if (ok)
		EXPECT((omap_cur_val(&c)) == (md->v[ub]));
	ok = omap_seek(m, k, len, OMAP_LE, &c);
	EXPECT((ok) == (ub > 0));
	if (ok) {
		EXPECT((omap_cur_val(&c)) == (md->v[ub - 1]));
		for (step = 1; step < 5 && ub - 1 >= (size_t)step; step++) {
			EXPECT(omap_prev(&c));
			EXPECT((omap_cur_val(&c)) == (md->v[ub - 1 - step]));
		}
	}
	ok = omap_seek(m, k, len, OMAP_LT, &c);
	EXPECT((ok) == (lb > 0));
	if (ok)
		EXPECT((omap_cur_val(&c)) == (md->v[lb - 1]));
	EXPECT(omap_get(m, k, len) == (lb < ub ? md->v[lb] : NULL));
}

static void do_insert(omap_t *m, struct model *md, const uint8_t *k, size_t len)
{
	struct tv *v = tv_new(k, len);
	size_t i = model_lb(md, k, len, 0);
	void *old;

	EXPECT(omap_insert(m, v, &old) == 0);
	if (i < md->n && tv_cmp(md->v[i], k, len) == 0) {
		EXPECT((old) == (md->v[i]));
		tv_unref(old);
		md->v[i] = v;
		return;
	}
	EXPECT((old) == NULL);
	if (md->n == md->cap) {
		md->cap = md->cap ? 2 * md->cap : 64;
		md->v = realloc(md->v, md->cap * sizeof(md->v[0]));
		EXPECT((md->v) != NULL);
	}
	memmove(&md->v[i + 1], &md->v[i], (md->n - i) * sizeof(md->v[0]));
	md->v[i] = v;
	md->n++;
}

static void do_delete(omap_t *m, struct model *md, const uint8_t *k, size_t len)
{
	size_t i = model_lb(md, k, len, 0);
	void *got = omap_delete(m, k, len);

	if (i < md->n && tv_cmp(md->v[i], k, len) == 0) {
		EXPECT((got) == (md->v[i]));
		tv_unref(got);
		memmove(&md->v[i], &md->v[i + 1], (md->n - i - 1) * sizeof(md->v[0]));
		md->n--;
	} else {
		EXPECT((got) == NULL);
	}
}

/* ---- tests ---- */

START_TEST(test_omap_empty_map_has_nothing)
{
	omap_t *m;
	struct omap_cur c;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	ck_assert_uint_eq(omap_count(m), 0);
	ck_assert_ptr_null(omap_get(m, (const uint8_t *)"a", 1));
	ck_assert(!omap_first(m, &c));
	ck_assert(!omap_last(m, &c));
	ck_assert(!omap_seek(m, (const uint8_t *)"", 0, OMAP_GE, &c));
	ck_assert(!omap_seek(m, (const uint8_t *)"z", 1, OMAP_LE, &c));
	ck_assert_ptr_null(omap_delete(m, (const uint8_t *)"a", 1));
	check_struct(m);
	omap_free(m, NULL, NULL);
}
END_TEST

/*
 * Grow, shrink to nothing, grow again, churn: every operation checked
 * against the model, the whole structure every few thousand.
 */
START_TEST(test_omap_random_ops_match_model)
{
	static const struct {
		unsigned ops;	  /* operations in this phase */
		unsigned ins_pct; /* share of inserts */
		unsigned range;	  /* key numbers 0..range-1 */
	} phases[] = {
	    {60000, 85, 40000}, {60000, 10, 40000}, {40000, 70, 500},
	    {60000, 50, 40000}, {30000, 5, 40000},  {20000, 60, 200000},
	};
	struct model md = {0};
	uint8_t k[64];
	size_t len, p, i;
	unsigned op;
	omap_t *m;

	live = 0;
	rng_state = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)_i;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
		for (op = 0; op < phases[p].ops; op++) {
			unsigned r = rnd() % 100;

			if (r < phases[p].ins_pct) {
				len = gen_key(k, phases[p].range);
				do_insert(m, &md, k, len);
			} else if (r < phases[p].ins_pct + (100 - phases[p].ins_pct) * 3 / 4) {
				/* delete: mostly a present key */
				if (md.n && rnd() % 4) {
					i = rnd() % md.n;
					len = md.v[i]->len;
					memcpy(k, md.v[i]->k, len);
				} else {
					len = gen_key(k, phases[p].range);
				}
				do_delete(m, &md, k, len);
			} else {
				len = gen_key(k, phases[p].range);
				check_seek(m, &md, k, len);
			}
			if (op % 5000 == 0)
				check_full(m, &md);
		}
		check_full(m, &md);
	}
	/* Empty it completely: every rebalancing path down to a lone leaf. */
	while (md.n) {
		i = rnd() % md.n;
		len = md.v[i]->len;
		memcpy(k, md.v[i]->k, len);
		do_delete(m, &md, k, len);
		if (md.n % 997 == 0)
			check_full(m, &md);
	}
	check_full(m, &md);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

/*
 * Load keys 0..n-1 in ascending or descending order into an empty map.
 * The model is built directly in sorted order (inserting at its front n
 * times would cost O(n^2) memmoves).
 */
static void fill_seq(omap_t *m, struct model *md, unsigned n, int desc)
{
	uint8_t k[16];
	unsigned i, j;
	size_t len;
	void *old;

	EXPECT(md->n == 0);
	md->cap = n;
	md->v = realloc(md->v, n * sizeof(md->v[0]));
	EXPECT(md->v != NULL);
	for (i = 0; i < n; i++) {
		len = (size_t)sprintf((char *)k, "%08u", i);
		md->v[i] = tv_new(k, len);
	}
	md->n = n;
	for (i = 0; i < n; i++) {
		j = desc ? n - 1 - i : i;
		EXPECT(omap_insert(m, md->v[j], &old) == 0);
		EXPECT(old == NULL);
	}
}

/* Insert keys 0..n-1 in the given order into a map that has some already. */
static void insert_seq(omap_t *m, struct model *md, unsigned n, int desc)
{
	uint8_t k[16];
	unsigned i;
	size_t len;

	for (i = 0; i < n; i++) {
		len = (size_t)sprintf((char *)k, "%08u", desc ? n - 1 - i : i);
		do_insert(m, md, k, len);
	}
}

START_TEST(test_omap_ascending_load_fills_leaves)
{
	struct model md = {0};
	omap_t *m;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	fill_seq(m, &md, 200000, 0);
	check_full(m, &md);
	/* Near-full leaves: about 13 bytes of tree per entry (half full: 26). */
	ck_assert_uint_lt(omap_mem(m) / omap_count(m), 16);
	/* omap_free hands every value to fn: the model's references. */
	omap_free(m, tv_free_cb, NULL);
	free(md.v);
	ck_assert_int_eq(live, 0);
}
END_TEST

/*
 * The append path (omap.c "Appending"): ascending runs interleaved with
 * deletes of the largest keys (whose separators stay), re-inserts of those
 * keys, equal keys (replace), lookups and out-of-order inserts; the tree
 * and the model agree after every step.
 */
START_TEST(test_omap_append_path_matches_model)
{
	struct model md = {0};
	uint8_t k[32];
	unsigned i, round, next = 0;
	size_t len;
	omap_t *m;

	live = 0;
	rng_state = 12345;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	for (round = 0; round < 60; round++) {
		/* an ascending run */
		for (i = 0; i < 150 + rnd() % 300; i++) {
			len = (size_t)sprintf((char *)k, "k%08u", next++);
			EXPECT(omap_get(m, k, len) == NULL);
			do_insert(m, &md, k, len);
		}
		/* the same largest key again: a replace, on the append path */
		if (md.n && round % 3 == 0)
			do_insert(m, &md, md.v[md.n - 1]->k, md.v[md.n - 1]->len);
		/* delete some of the largest (their separators may stay) */
		for (i = rnd() % 200; i > 0 && md.n; i--) {
			struct tv *v = md.v[md.n - 1];

			memcpy(k, v->k, v->len);
			len = v->len;
			do_delete(m, &md, k, len);
			if (rnd() % 2)
				next--; /* re-inserted by the next run */
			next = next < 1 ? 0 : next;
		}
		check_full(m, &md);
		/* an insert elsewhere, then a run again */
		if (round % 4 == 1) {
			len = (size_t)sprintf((char *)k, "k%08u", rnd() % (next + 1));
			do_insert(m, &md, k, len);
			check_seek(m, &md, k, len);
		}
		len = (size_t)sprintf((char *)k, "k%08u", next);
		check_seek(m, &md, k, len);
		check_seek(m, &md, (const uint8_t *)"z", 1);
	}
	check_full(m, &md);
	while (md.n)
		do_delete(m, &md, md.v[0]->k, md.v[0]->len);
	check_full(m, &md);
	omap_free(m, tv_free_cb, NULL);
	free(md.v);
	ck_assert_int_eq(live, 0);
}
END_TEST

START_TEST(test_omap_descending_load_fills_leaves)
{
	struct model md = {0};
	omap_t *m;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	fill_seq(m, &md, 200000, 1);
	check_full(m, &md);
	ck_assert_uint_lt(omap_mem(m) / omap_count(m), 16);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

/*
 * Keys in random order (an unsorted import, any index): full leaves give
 * entries to a sibling before they split (omap.c "Fill"), so the leaves
 * end up fuller than the 70% (ln 2) of split-only inserts: about 20
 * bytes of tree per entry without the shift, under 17 with it.  Every
 * step that moved entries is checked against the model on the way.
 */
START_TEST(test_omap_random_load_fills_leaves)
{
	struct model md = {0};
	unsigned n = 200000, i, j, t, *perm;
	void *old;
	omap_t *m;

	live = 0;
	rng_state = 0x2545f4914f6cdd1dULL;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	md.v = realloc(md.v, n * sizeof(md.v[0]));
	perm = malloc(n * sizeof(perm[0]));
	EXPECT(md.v != NULL && perm != NULL);
	for (i = 0; i < n; i++) {
		uint8_t k[16];
		size_t len = (size_t)sprintf((char *)k, "%08u", i);

		md.v[i] = tv_new(k, len);
		perm[i] = i;
	}
	md.n = md.cap = n;
	for (i = n - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++) {
		EXPECT(omap_insert(m, md.v[perm[i]], &old) == 0);
		EXPECT(old == NULL);
		if (i % 20000 == 0)
			check_struct(m);
	}
	check_full(m, &md);
	ck_assert_uint_lt(omap_mem(m) / omap_count(m), 17);
	free(perm);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

/* Deleting in key order empties the left edge first: merges every time. */
START_TEST(test_omap_ordered_deletes_rebalance)
{
	struct model md = {0};
	uint8_t k[16];
	size_t len;
	unsigned i, n = 50000;
	omap_t *m;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	fill_seq(m, &md, n, 0);
	for (i = 0; i < n; i += 2) {
		len = (size_t)sprintf((char *)k, "%08u", i);
		do_delete(m, &md, k, len);
	}
	check_full(m, &md);
	for (i = n; i-- > 0;) {
		len = (size_t)sprintf((char *)k, "%08u", i);
		do_delete(m, &md, k, len);
		if (i % 1000 == 0)
			check_full(m, &md);
	}
	ck_assert_uint_eq(omap_count(m), 0);
	check_full(m, &md);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

/* Deleted values that separators still name are freed once released. */
START_TEST(test_omap_separator_pins_then_releases)
{
	struct model md = {0};
	uint8_t k[16];
	size_t len;
	unsigned i;
	omap_t *m;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	fill_seq(m, &md, 10000, 0);
	/* Replace every value: separators must move to the new ones. */
	insert_seq(m, &md, 10000, 0);
	ck_assert_int_eq(live, 10000);
	check_full(m, &md);
	/* Delete all but one: pinned values go as the tree shrinks. */
	for (i = 1; i < 10000; i++) {
		len = (size_t)sprintf((char *)k, "%08u", i);
		do_delete(m, &md, k, len);
	}
	check_full(m, &md);
	ck_assert_int_eq(live, 1);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

START_TEST(test_omap_reserve_covers_inserts)
{
	struct model md = {0};
	omap_t *m;

	live = 0;
	ck_assert_int_eq(omap_new(&tv_ops, &m), 0);
	fill_seq(m, &md, 5000, 0);
	ck_assert_int_eq(omap_reserve(m, 100), 0);
	insert_seq(m, &md, 5100, 1);
	omap_trim(m);
	check_full(m, &md);
	omap_free(m, NULL, NULL);
	model_free(&md);
	ck_assert_int_eq(live, 0);
}
END_TEST

Suite *omap_suite(void);
Suite *omap_suite(void)
{
	Suite *s = suite_create("omap");
	TCase *tc;

	tc = tcase_create("omap_insert");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_omap_empty_map_has_nothing);
	tcase_add_test(tc, test_omap_ascending_load_fills_leaves);
	tcase_add_test(tc, test_omap_descending_load_fills_leaves);
	tcase_add_test(tc, test_omap_random_load_fills_leaves);
	tcase_add_test(tc, test_omap_append_path_matches_model);
	tcase_add_test(tc, test_omap_reserve_covers_inserts);
	suite_add_tcase(s, tc);

	tc = tcase_create("omap_delete");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_omap_ordered_deletes_rebalance);
	tcase_add_test(tc, test_omap_separator_pins_then_releases);
	suite_add_tcase(s, tc);

	tc = tcase_create("omap_model");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_omap_random_ops_match_model, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}
