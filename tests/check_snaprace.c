/*
 * check_snaprace.c - writes at every step boundary of a snapshot and of
 * the journal's rotation, against a model.
 *
 * The hooks (snap.h snap_set_step_hook, store.h store_set_test_hook)
 * stop the snapshot at each boundary: its start (the journal's position
 * noted), the tables taken, after every chunk of every table (chunks of
 * 4 items), the temp file written, renamed into place, the journal's
 * rotation half copied, the rotation done.  There the test writes, to the
 * store's database and to a model (a database without a store), items of
 * every shape: new keys before and beyond the last one copied, overwrites,
 * deletes, items entering and leaving an index (sparse), TTL deletions
 * (ttl_sweep), and once per snapshot a schema change (a table created or
 * dropped, an index added or removed, the TTL attribute switched).  After
 * each boundary's writes (fsync=always) a power-loss copy is taken
 * (crash_copy): opened later, it must equal the model as it was then.
 * After the snapshots the live database, and the store reopened, must
 * equal the model: every table's schema, its items in key order, each
 * index's items in index order, and db_check_integrity.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "fix_store.h"
#include "item.h"
#include "snap.h"
#include "store.h"
#include "ttl.h"

#define MAX_COPIES 300 /* power-loss copies per run */
#define CHUNK 4	       /* items per snapshot chunk */
#define NKEYS 24       /* keys per table drawn from (plus the tails) */
#define NOW 1000       /* the TTL sweeps' clock */

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/check-sr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

/* ---- writes, to both databases ---- */

static int del1(db_t *db, const char *table, const char *pk, const char *sk)
{
	struct val p, s;
	table_t *t;
	int rc;

	if (db_table_open(db, table, &t) < 0)
		return -ENOENT;
	ck_assert_int_eq(val_init_str(&p, pk, strlen(pk)), 0);
	if (sk)
		ck_assert_int_eq(val_init_str(&s, sk, strlen(sk)), 0);
	rc = tbl_delete(t, &p, sk ? &s : NULL, 0, NULL);
	val_free(&p);
	if (sk)
		val_free(&s);
	tbl_close(t);
	return rc;
}

struct race {
	store_t *st;
	char path[128]; /* its directory */
	db_t *db;    /* the store's */
	db_t *model; /* the same writes without a store */
	uint64_t seed;
	unsigned steps;	  /* boundaries so far */
	unsigned tail;	  /* keys beyond every other */
	bool schema_done; /* this snapshot made its schema change */
	unsigned nschema; /* schema changes so far */
	bool aaa_index;	  /* aaa has v-index */
	bool ttl_on;	  /* table ttl has a TTL attribute */
	bool copies;	  /* take power-loss copies (fsync=always) */
	unsigned ncopies;
	char *copy[MAX_COPIES];
	char *want[MAX_COPIES]; /* the model when the copy was taken */
	char where[MAX_COPIES][64];
	char at[64]; /* the boundary being written at */
};

static unsigned rnd(struct race *r)
{
	r->seed = r->seed * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(r->seed >> 33);
}

static void put2(struct race *r, const char *table, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put2(struct race *r, const char *table, const char *fmt, ...)
{
	char json[300];
	va_list ap;
	int a, b;

	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	a = put_json(r->db, table, json);
	b = put_json(r->model, table, json);
	ck_assert_msg(a == b, "%s: put %s %s: store %d, model %d", r->at, table, json, a, b);
}

static void del2(struct race *r, const char *table, const char *pk, const char *sk)
{
	int a = del1(r->db, table, pk, sk), b = del1(r->model, table, pk, sk);

	ck_assert_msg(a == b, "%s: delete %s %s: store %d, model %d", r->at, table, pk, a, b);
}

static void schema_aaa(struct table_schema *s, struct index_def *ix, bool with_index)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->pk.name, "k");
	s->pk.type = VAL_S;
	if (with_index) {
		memset(ix, 0, sizeof(*ix));
		strcpy(ix->name, "v-index");
		strcpy(ix->pk.name, "v");
		ix->pk.type = VAL_S;
		ix->proj = PROJ_KEYS_ONLY;
		s->index = ix;
		s->nindex = 1;
	}
}

static void schema_bbb(struct table_schema *s, struct index_def *ix)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->pk.name, "p");
	s->pk.type = VAL_S;
	strcpy(s->sk.name, "s");
	s->sk.type = VAL_S;
	s->has_sk = true;
	memset(ix, 0, sizeof(*ix));
	strcpy(ix->name, "g-index");
	strcpy(ix->pk.name, "g");
	ix->pk.type = VAL_S;
	strcpy(ix->sk.name, "s");
	ix->sk.type = VAL_S;
	ix->has_sk = true;
	ix->proj = PROJ_ALL;
	s->index = ix;
	s->nindex = 1;
}

static void create2(struct race *r, const char *name, const struct table_schema *s)
{
	int a = db_create_table(r->db, name, s, NULL), b = db_create_table(r->model, name, s, NULL);

	ck_assert_msg(a == b, "%s: create %s: store %d, model %d", r->at, name, a, b);
}

/* One schema change, in turns. */
static void schema_change(struct race *r)
{
	struct table_schema s;
	struct index_def ix;
	int a, b;

	switch (r->nschema++ % 4) {
	case 0: /* tmp created (with an item) or dropped */
		if (db_drop_table(r->db, "tmp", NULL) == 0) {
			ck_assert_int_eq(db_drop_table(r->model, "tmp", NULL), 0);
		} else {
			schema_aaa(&s, &ix, false);
			create2(r, "tmp", &s);
			put2(r, "tmp", "{\"k\": \"t%u\"}", r->steps);
		}
		break;
	case 1: /* aaa's index added or removed (backfilled online) */
		r->aaa_index = !r->aaa_index;
		schema_aaa(&s, &ix, r->aaa_index);
		a = db_set_schema(r->db, "aaa", &s, NULL);
		b = db_set_schema(r->model, "aaa", &s, NULL);
		ck_assert_msg(a == 0 && b == 0, "%s: aaa index: %d %d", r->at, a, b);
		break;
	case 2: /* the TTL attribute switched */
		r->ttl_on = !r->ttl_on;
		ck_assert_int_eq(tbl_set_ttl_attribute(r->db, "ttl", r->ttl_on ? "exp" : NULL, NULL),
				 0);
		ck_assert_int_eq(
		    tbl_set_ttl_attribute(r->model, "ttl", r->ttl_on ? "exp" : NULL, NULL), 0);
		break;
	default: /* bbb dropped and created again, with one item */
		ck_assert_int_eq(db_drop_table(r->db, "bbb", NULL), 0);
		ck_assert_int_eq(db_drop_table(r->model, "bbb", NULL), 0);
		schema_bbb(&s, &ix);
		create2(r, "bbb", &s);
		put2(r, "bbb", "{\"p\": \"p1\", \"s\": \"again%u\", \"g\": \"g1\"}", r->steps);
	}
}

/* Writes of every shape at one boundary. */
static void writes(struct race *r)
{
	char k[16], k2[16];
	size_t na, nb;
	unsigned i, x;

	for (i = 0; i < 6; i++) {
		x = rnd(r) % (NKEYS + 4);
		snprintf(k, sizeof(k), "a%03u", x);
		switch (rnd(r) % 7) {
		case 0:
			put2(r, "aaa", "{\"k\": \"%s\", \"v\": \"v%u\", \"n\": %u}", k, x % 3,
			     r->steps);
			break;
		case 1:
			put2(r, "aaa", "{\"k\": \"%s\", \"n\": %u}", k, r->steps); /* leaves v-index */
			break;
		case 2:
			del2(r, "aaa", k, NULL);
			break;
		case 3:
			snprintf(k, sizeof(k), "p%u", x % 4);
			put2(r, "bbb", "{\"p\": \"%s\", \"s\": \"s%03u\", \"g\": \"g%u\"}", k, x,
			     r->steps % 3);
			break;
		case 4:
			snprintf(k, sizeof(k), "p%u", x % 4);
			snprintf(k2, sizeof(k2), "s%03u", x);
			if (rnd(r) % 2)
				del2(r, "bbb", k, k2);
			else /* leaves g-index */
				put2(r, "bbb", "{\"p\": \"%s\", \"s\": \"%s\"}", k, k2);
			break;
		case 5:
			snprintf(k, sizeof(k), "t%03u", x);
			if (rnd(r) % 3)
				put2(r, "ttl", "{\"k\": \"%s\", \"exp\": %u}", k,
				     rnd(r) % 2 ? 100 : 5000);
			else
				put2(r, "ttl", "{\"k\": \"%s\"}", k);
			break;
		default:
			ck_assert_int_eq(ttl_sweep(r->db, NOW, 0, &na), 0);
			ck_assert_int_eq(ttl_sweep(r->model, NOW, 0, &nb), 0);
			ck_assert_uint_eq(na, nb);
		}
	}
	/* beyond the last key copied, of every table, instead of the last such
	 * key (the tables keep their size) */
	put2(r, "aaa", "{\"k\": \"z%04u\", \"v\": \"tail\"}", r->tail);
	put2(r, "bbb", "{\"p\": \"p%u\", \"s\": \"z%04u\", \"g\": \"tail\"}", r->tail % 4, r->tail);
	put2(r, "ttl", "{\"k\": \"z%04u\", \"exp\": 100}", r->tail);
	if (r->tail) {
		snprintf(k, sizeof(k), "z%04u", r->tail - 1);
		snprintf(k2, sizeof(k2), "p%u", (r->tail - 1) % 4);
		del2(r, "aaa", k, NULL);
		del2(r, "bbb", k2, k);
		del2(r, "ttl", k, NULL);
	}
	r->tail++;
	if (!r->schema_done && r->steps % 5 == 2) {
		r->schema_done = true;
		schema_change(r);
	}
}

static void boundary(struct race *r)
{
	unsigned n = r->ncopies;

	writes(r);
	if (r->copies && n < MAX_COPIES) {
		r->copy[n] = strdup("/tmp/check-sr-copy.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(r->copy[n]));
		crash_copy(r->st, r->path, r->copy[n]);
		r->want[n] = dump_db(r->model);
		snprintf(r->where[n], sizeof(r->where[n]), "%s", r->at);
		r->ncopies++;
	}
	r->steps++;
}

static void snap_step(void *ctx, const char *table, bool done)
{
	struct race *r = ctx;

	snprintf(r->at, sizeof(r->at), "step %u: %s %s", r->steps, table ? table : "(tables)",
		 !table ? "taken" : done ? "copied" : "chunk");
	boundary(r);
}

static void store_step(void *ctx, enum store_hook_point p)
{
	static const char *const names[] = {"written", "committed", "begin", "rotate-copied",
					    "rotated"};
	struct race *r = ctx;

	snprintf(r->at, sizeof(r->at), "step %u: snapshot %s", r->steps, names[p]);
	boundary(r);
}

/* ---- the test ---- */

static void run(enum store_fsync mode, const char *sub)
{
	struct race *r = calloc(1, sizeof(*r));
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err;
	char *path, *a, *b;
	unsigned i, round;

	ck_assert_ptr_nonnull(r);
	path = r->path;
	snprintf(path, sizeof(r->path), "%s/%s", dir, sub);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	r->seed = 11 + mode;
	r->copies = mode == STORE_FSYNC_ALWAYS;
	r->st = open_store_at(path, mode, &r->db);
	store_set_snapshot_min(r->st, 1ull << 40); /* no automatic snapshot meanwhile */
	ck_assert_int_eq(db_new(&r->model), 0);
	snprintf(r->at, sizeof(r->at), "start");
	schema_aaa(&s, &ix, false);
	create2(r, "aaa", &s);
	create2(r, "ttl", &s);
	schema_bbb(&s, &ix);
	create2(r, "bbb", &s);
	ck_assert_int_eq(tbl_set_ttl_attribute(r->db, "ttl", "exp", NULL), 0);
	ck_assert_int_eq(tbl_set_ttl_attribute(r->model, "ttl", "exp", NULL), 0);
	r->ttl_on = true;
	for (i = 0; i < NKEYS; i += 2) {
		put2(r, "aaa", "{\"k\": \"a%03u\", \"v\": \"v%u\"}", i, i % 3);
		put2(r, "bbb", "{\"p\": \"p%u\", \"s\": \"s%03u\", \"g\": \"g%u\"}", i % 4, i, i % 3);
		put2(r, "ttl", "{\"k\": \"t%03u\", \"exp\": %u}", i, i % 4 ? 5000 : 100);
	}
	snap_set_step_hook(snap_step, r, CHUNK);
	store_set_test_hook(r->st, store_step, r);
	for (round = 0; round < 6; round++) {
		r->schema_done = false;
		err_clear(&err);
		ck_assert_msg(store_snapshot(r->st, &err) == 0, "snapshot %u: %s", round, err.msg);
		a = dump_db(r->db);
		b = dump_db(r->model);
		same_text("the live database", a, b);
		free(a);
		free(b);
	}
	snap_set_step_hook(NULL, NULL, 0);
	store_set_test_hook(r->st, NULL, NULL);
	b = dump_db(r->model);
	same_after_reopen(r->st, path, mode, b);
	free(b);
	for (i = 0; i < r->ncopies; i++) {
		store_t *st = open_store_at(r->copy[i], STORE_FSYNC_ALWAYS, &r->db);
		char what[128];

		a = dump_db(r->db);
		snprintf(what, sizeof(what), "a power-loss copy at %s", r->where[i]);
		same_text(what, a, r->want[i]);
		free(a);
		store_abandon(st);
		rm_rf(r->copy[i]);
		free(r->copy[i]);
		free(r->want[i]);
	}
	fprintf(stderr, "snaprace %s: %u step boundaries, %u power-loss copies, %u schema changes\n",
		sub, r->steps, r->ncopies, r->nschema);
	if (r->copies)
		ck_assert_uint_ge(r->ncopies, 100);
	ck_assert_uint_ge(r->nschema, 6);
	db_free(r->model);
	free(r);
}

START_TEST(test_writes_at_every_snapshot_step_fsync_always)
{
	run(STORE_FSYNC_ALWAYS, "always");
}
END_TEST

START_TEST(test_writes_at_every_snapshot_step_fsync_off)
{
	run(STORE_FSYNC_OFF, "off");
}
END_TEST

Suite *snaprace_suite(void);
Suite *snaprace_suite(void)
{
	Suite *s = suite_create("snaprace");
	TCase *tc;

	tc = tcase_create("snaprace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_writes_at_every_snapshot_step_fsync_always);
	tcase_add_test(tc, test_writes_at_every_snapshot_step_fsync_off);
	suite_add_tcase(s, tc);
	return s;
}
