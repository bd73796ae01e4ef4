/*
 * check_fsinode.c - the filesystem layer's bookkeeping, without a mount:
 * the node table (fs/inode.c: identities, lookup counts, lifetime, pins,
 * scratch children), the /_errors ring (fs/errlog.c) and the negative
 * entry set (fs/inval.c).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/ops.h"

static struct fsx *fs;
static db_t *db; /* behind fs->be */

static void setup(void)
{
	fs = calloc(1, sizeof(*fs));
	ck_assert_ptr_nonnull(fs);
	ck_assert_int_eq(db_new(&db), 0);
	ck_assert_int_eq(be_local_open(db, NULL, &fs->be), 0);
	ck_assert_int_eq(nodes_init(fs), 0);
	ck_assert_int_eq(errlog_init(&fs->errlog), 0);
	ck_assert_int_eq(inval_init(fs), 0);
	fs->errlog.to_syslog = true; /* keep the test output quiet */
	fs->start_ns = fsx_now_ns();
}

static void teardown(void)
{
	nodes_fini(fs);
	inval_fini(fs);
	errlog_fini(&fs->errlog);
	be_close(fs->be);
	db_free(db);
	free(fs);
}

static be_table_t *make_table(const char *name, bool with_sk)
{
	struct table_schema s;
	be_table_t *t;

	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "id");
	s.pk.type = VAL_S;
	if (with_sk) {
		strcpy(s.sk.name, "n");
		s.sk.type = VAL_N;
		s.has_sk = true;
	}
	ck_assert_int_eq(db_create_table(db, name, &s, NULL), 0);
	ck_assert_int_eq(be_table_open(fs->be, name, &t, NULL), 0);
	return t;
}

static struct val S(const char *s)
{
	struct val v;

	ck_assert_int_eq(val_init_str(&v, s, strlen(s)), 0);
	return v;
}

/* ---- the observer ---- */

/* Whether the observer queues a data invalidation (which the committing
 * call would wait for) for a put of n's item, committed with
 * fsx_made_commit = by (inval.c, "A created item's first commits"). */
static bool put_queues_data_inval(be_table_t *t, struct node *n, const struct node *by)
{
	struct val pk = S("a"), item = S("{}");
	struct db_change ch;
	bool queued;

	memset(&ch, 0, sizeof(ch));
	ch.kind = DB_CH_PUT;
	ch.table = be_table_name(t);
	ch.item = &item;
	ch.pk = &pk;
	n->inval_queued = false; /* no thread here: nothing runs it */
	fsx_made_commit = by;
	fsx_observe(fs, &ch, 1);
	fsx_made_commit = NULL;
	queued = n->inval_queued;
	val_free(&pk);
	val_free(&item);
	return queued;
}

/* The reference rule (every put of a known item queues one) and the one
 * exception: the creating handle's commit of an item that served no READ
 * since its last data invalidation. */
START_TEST(test_observe_created_item_data_invalidation)
{
	be_table_t *t = make_table("users", false);
	struct val a = S("a"), b = S("b");
	struct node *tn = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	struct node *n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	struct node *other = node_ident(fs, NK_ITEM, t, &b, NULL, true);

	ck_assert(put_queues_data_inval(t, n, NULL));  /* _batch, _tx, another handle */
	ck_assert(put_queues_data_inval(t, n, other)); /* another item's creator */
	ck_assert(!put_queues_data_inval(t, n, n));    /* its creator, never read */
	n->paged = true;			       /* a READ served (op_read) */
	ck_assert(put_queues_data_inval(t, n, n));
	n->paged = false; /* the data invalidation ran (inval_main) */
	ck_assert(!put_queues_data_inval(t, n, n));
	node_put(fs, other);
	node_put(fs, n);
	node_put(fs, tn);
	val_free(&a);
	val_free(&b);
	be_table_close(t);
}
END_TEST

/* ---- node_ident ---- */

START_TEST(test_ident_same_key_same_node)
{
	be_table_t *t = make_table("users", false);
	struct val a = S("a"), b = S("b");
	struct node *n1, *n2, *n3;

	n1 = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	n2 = node_ident(fs, NK_ITEM, t, &a, NULL, false);
	n3 = node_ident(fs, NK_ITEM, t, &b, NULL, true);
	ck_assert_ptr_nonnull(n1);
	ck_assert_ptr_eq(n1, n2);
	ck_assert_ptr_nonnull(n3);
	ck_assert_uint_ne(n1->ino, n3->ino);
	ck_assert_ptr_null(node_ident(fs, NK_PART, t, &a, NULL, false)); /* kind counts */
	node_put(fs, n1);
	node_put(fs, n2);
	node_put(fs, n3);
	val_free(&a);
	val_free(&b);
	be_table_close(t);
}
END_TEST

START_TEST(test_ident_lookup_count_keeps_node)
{
	be_table_t *t = make_table("users", false);
	struct val a = S("a");
	struct node *n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	fuse_ino_t ino = n->ino, ino2;
	struct node *g;

	node_lookup_inc(fs, n);
	node_lookup_inc(fs, n);
	node_put(fs, n);
	g = node_get(fs, ino);
	ck_assert_ptr_eq(g, n); /* the kernel still knows it */
	node_put(fs, g);
	node_forget(fs, ino, 1);
	ck_assert_ptr_nonnull((g = node_get(fs, ino)));
	node_put(fs, g);
	node_forget(fs, ino, 1);
	ck_assert_ptr_null(node_get(fs, ino)); /* forgotten: freed */
	n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	ino2 = n->ino;
	ck_assert_uint_gt(ino2, ino); /* numbers are never reused */
	node_put(fs, n);
	val_free(&a);
	be_table_close(t);
}
END_TEST

/* The kernel looks n up once, then forgets it: n is freed. */
static fuse_ino_t forget_once(struct node *n)
{
	fuse_ino_t ino = n->ino;

	node_lookup_inc(fs, n);
	node_put(fs, n);
	node_forget(fs, ino, 1);
	ck_assert_ptr_null(node_get(fs, ino));
	return ino;
}

/* An opened file (text.c marks it) gets its number back after the kernel
 * forgot it; in a table made again under the same name it does not. */
START_TEST(test_ident_opened_file_keeps_its_number)
{
	be_table_t *t = make_table("users", false), *t2;
	struct val a = S("a");
	struct node *n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	struct node *s = node_ident(fs, NK_SCHEMA, t, NULL, NULL, true);
	fuse_ino_t ino, sino;

	n->opened = s->opened = true;
	ino = forget_once(n);
	sino = forget_once(s);
	n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	s = node_ident(fs, NK_SCHEMA, t, NULL, NULL, true);
	ck_assert_uint_eq(n->ino, ino);
	ck_assert_uint_eq(s->ino, sino);
	forget_once(s);
	forget_once(n); /* kept again, though not opened this time */
	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	t2 = make_table("users", false);
	n = node_ident(fs, NK_ITEM, t2, &a, NULL, true);
	ck_assert_uint_gt(n->ino, ino); /* another table's item */
	node_put(fs, n);
	val_free(&a);
	be_table_close(t);
	be_table_close(t2);
}
END_TEST

/* The kept number is found by a hash of the identity: two items whose
 * hashes collide must not trade numbers (an NFS handle, nano's check). */
START_TEST(test_ident_kept_number_only_for_its_identity)
{
	be_table_t *t = make_table("users", false);
	struct val a = S("a"), b = S("b");
	struct node *n = node_ident(fs, NK_ITEM, t, &a, NULL, true), *m;
	fuse_ino_t ino;

	ino_kept_test_key = 42;
	n->opened = true;
	ino = forget_once(n);
	m = node_ident(fs, NK_ITEM, t, &b, NULL, true);
	ck_assert_uint_ne(m->ino, ino); /* b's hash finds a's entry */
	n = node_ident(fs, NK_ITEM, t, &a, NULL, true);
	ck_assert_uint_eq(n->ino, ino); /* a's entry was left for a */
	ino_kept_test_key = 0;
	node_put(fs, m);
	node_put(fs, n);
	val_free(&a);
	val_free(&b);
	be_table_close(t);
}
END_TEST

START_TEST(test_ident_dropped_table_gets_new_nodes)
{
	be_table_t *t = make_table("users", false), *t2;
	struct node *old, *neu;

	old = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	node_lookup_inc(fs, old);
	ck_assert_int_eq(db_drop_table(db, "users", NULL), 0);
	be_table_close(t);
	t2 = make_table("users", true);
	neu = node_ident(fs, NK_TABLE, t2, NULL, NULL, true);
	ck_assert_ptr_nonnull(neu);
	ck_assert_ptr_ne(neu, old);
	ck_assert(!old->hashed);
	ck_assert_uint_eq(neu->tid, be_table_id(t2));
	node_put(fs, old);
	node_put(fs, neu);
	node_forget(fs, old->ino, 1);
	be_table_close(t2);
}
END_TEST

START_TEST(test_node_key_copies)
{
	be_table_t *t = make_table("quiz", true), *bt;
	struct val p = S("p"), k, s;
	struct node *n = node_ident(fs, NK_PART, t, &p, NULL, true);

	ck_assert_int_eq(node_key(fs, n, &bt, &k, &s), 0);
	ck_assert_ptr_eq(bt, n->table);
	ck_assert(val_equal(&k, &p));
	ck_assert_int_eq(s.type, VAL_NULL);
	val_free(&k);
	node_put(fs, n);
	ck_assert_int_eq(node_key(fs, fs->root, &bt, &k, &s), -ENOENT);
	val_free(&p);
	be_table_close(t);
}
END_TEST

/* ---- pins ---- */

START_TEST(test_pins_keep_partitions)
{
	be_table_t *t = make_table("quiz", true);
	struct val a = S("a"), b = S("b"), c = S("c");
	struct node *tn, *pa, *pc, **first;
	fuse_ino_t ia, ic;

	tn = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	pc = node_ident(fs, NK_PART, t, &c, NULL, true);
	pa = node_ident(fs, NK_PART, t, &a, NULL, true);
	ia = pa->ino;
	ic = pc->ino;
	pthread_mutex_lock(&fs->ilock);
	ck_assert_int_eq(node_pin_locked(fs, tn, pc), 0);
	ck_assert_int_eq(node_pin_locked(fs, tn, pa), 0);
	ck_assert_int_eq(node_pin_locked(fs, tn, pa), 0); /* idempotent */
	ck_assert_uint_eq(node_pins_after_locked(tn, NULL, &first), 2);
	ck_assert(val_equal(&first[0]->pk, &a)); /* sorted by key */
	ck_assert_uint_eq(node_pins_after_locked(tn, &a, &first), 1);
	ck_assert_uint_eq(node_pins_after_locked(tn, &b, &first), 1);
	ck_assert(val_equal(&first[0]->pk, &c));
	ck_assert_uint_eq(node_pins_after_locked(tn, &c, &first), 0);
	pthread_mutex_unlock(&fs->ilock);
	node_put(fs, pa);
	node_put(fs, pc);
	node_put(fs, tn);
	/* nobody references them, the pins keep them (and the table node) */
	ck_assert_ptr_nonnull((pa = node_get(fs, ia)));
	pthread_mutex_lock(&fs->ilock);
	node_unpin_locked(fs, pa);
	node_put_locked(fs, pa);
	pthread_mutex_unlock(&fs->ilock);
	ck_assert_ptr_null(node_get(fs, ia));
	ck_assert_ptr_nonnull((pc = node_get(fs, ic)));
	node_put(fs, pc);
	val_free(&a);
	val_free(&b);
	val_free(&c);
	be_table_close(t);
}
END_TEST

/* A pinned partition that only its pin keeps (the kernel forgot it), of
 * a table dropped and made again before the observer unhashed it: the
 * next node_ident of its key unhashes it, which unpins it -- and used to
 * free it in the middle of node_unhash_locked, which went on writing to
 * it (valgrind and ASan runs of this suite caught the use after free). */
START_TEST(test_unhash_of_an_unreferenced_pinned_partition)
{
	be_table_t *t = make_table("quiz", true), *t2;
	struct val a = S("a");
	struct node *tn, *pa, *neu;
	fuse_ino_t ia;
	size_t before;

	tn = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	pa = node_ident(fs, NK_PART, t, &a, NULL, true);
	ia = pa->ino;
	node_lookup_inc(fs, tn);
	pthread_mutex_lock(&fs->ilock);
	ck_assert_int_eq(node_pin_locked(fs, tn, pa), 0);
	pthread_mutex_unlock(&fs->ilock);
	node_put(fs, pa); /* only the pin keeps it now */
	node_put(fs, tn);
	ck_assert_int_eq(db_drop_table(db, "quiz", NULL), 0); /* no observer here */
	be_table_close(t);
	t2 = make_table("quiz", true);
	before = fs->nnodes;
	neu = node_ident(fs, NK_PART, t2, &a, NULL, true);
	ck_assert_ptr_nonnull(neu);
	ck_assert_uint_ne(neu->ino, ia);
	ck_assert_ptr_null(node_get(fs, ia)); /* the old one is gone, once */
	ck_assert_uint_eq(fs->nnodes, before); /* one freed, one made */
	node_put(fs, neu);
	pthread_mutex_lock(&fs->ilock);
	tn = node_find_locked(fs, NK_TABLE, "quiz", NULL, NULL);
	pthread_mutex_unlock(&fs->ilock);
	ck_assert_ptr_nonnull(tn);
	node_forget(fs, tn->ino, 1);
	val_free(&a);
	be_table_close(t2);
}
END_TEST

/* ---- scratch children ---- */

START_TEST(test_kids_sorted_and_linked)
{
	static const char *names[] = {"4913", ".x.swp", "x.json~", "#x.json#", ".#x.json"};
	struct node *dir, *n, *kid[5];
	struct fuse_ctx ctx = {0};
	size_t i;

	pthread_mutex_lock(&fs->ilock);
	dir = node_new_scratch_locked(fs, FSX_ROOT_INO);
	dir->scr = scratch_new(S_IFDIR | 0755, 0, 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(scratch_create_locked(fs, dir, names[i], S_IFREG | 0644, &ctx,
						       &kid[i]), 0);
	ck_assert_int_eq(scratch_create_locked(fs, dir, "4913", S_IFREG, &ctx, &n), -EEXIST);
	ck_assert_uint_eq(dir->kids.n, 5);
	for (i = 1; i < dir->kids.n; i++)
		ck_assert_int_lt(strcmp(dir->kids.v[i - 1].name, dir->kids.v[i].name), 0);
	ck_assert_ptr_eq(kids_find(&dir->kids, "x.json~"), kid[2]);
	ck_assert_uint_eq(kid[2]->scr->nlink, 1);
	ck_assert_uint_eq(kids_after(&dir->kids, NULL), 0);
	ck_assert_str_eq(dir->kids.v[kids_after(&dir->kids, ".x.swp")].name, "4913");
	ck_assert_uint_eq(kids_after(&dir->kids, "x.json~"), 5);
	ck_assert_int_eq(kids_add(&dir->kids, "link", kid[0]), 0); /* a hard link */
	ck_assert_uint_eq(kid[0]->scr->nlink, 2);
	ck_assert_ptr_eq(kids_del(&dir->kids, "4913"), kid[0]);
	ck_assert_uint_eq(kid[0]->scr->nlink, 1);
	ck_assert_ptr_null(kids_del(&dir->kids, "4913"));
	for (i = 0; i < 5; i++)
		node_put_locked(fs, kid[i]); /* still linked: kept */
	ck_assert_uint_eq(dir->kids.n, 5);
	node_put_locked(fs, dir); /* a scratch dir without a parent entry: freed */
	pthread_mutex_unlock(&fs->ilock);
}
END_TEST

START_TEST(test_scratch_data)
{
	struct scratch *s = scratch_new(S_IFREG | 0600, 1, 2);
	char buf[16];

	ck_assert_int_eq(scratch_write(s, "hello", 5, 0), 5);
	ck_assert_int_eq(scratch_write(s, "!", 1, 8), 1); /* a hole of zeros */
	ck_assert_uint_eq(s->len, 9);
	ck_assert_int_eq(scratch_read(s, buf, sizeof(buf), 0), 9);
	ck_assert_int_eq(memcmp(buf, "hello\0\0\0!", 9), 0);
	ck_assert_int_eq(scratch_read(s, buf, 4, 7), 2);
	ck_assert_int_eq(scratch_read(s, buf, 4, 100), 0);
	ck_assert_int_eq(scratch_truncate(s, 2), 0);
	ck_assert_int_eq(scratch_read(s, buf, sizeof(buf), 0), 2);
	ck_assert_int_eq(scratch_truncate(s, (off_t)FSX_WBUF_MAX + 1), -EFBIG);
	scratch_unref_locked(s);
}
END_TEST

/* ---- /_errors ---- */

START_TEST(test_errlog_keeps_last_lines)
{
	int64_t mtime;
	char *text;
	size_t len, n = 0;
	char *p;
	int i;

	ck_assert_uint_eq(errlog_size(fs, &mtime), 0);
	for (i = 0; i < FSX_ERRLOG_LINES + 5; i++)
		errlog_add(fs, "/users/x.json", "reason %d", i);
	ck_assert_int_eq(errlog_snapshot(fs, &text, &len), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_uint_eq(len, errlog_size(fs, &mtime));
	for (p = text; (p = strchr(p, '\n')); p++)
		n++;
	ck_assert_uint_eq(n, FSX_ERRLOG_LINES);
	ck_assert_ptr_nonnull(strstr(text, " /users/x.json: reason 5\n"));
	ck_assert_ptr_null(strstr(text, " /users/x.json: reason 4\n"));
	ck_assert(text[4] == '-' && text[10] == 'T' && text[23] == 'Z'); /* ISO time */
	free(text);
}
END_TEST

START_TEST(test_errlog_formats_dyn_err)
{
	struct dyn_err e;
	char *text;
	size_t len;

	err_clear(&e);
	err_set(&e, EINVAL, "duplicate attribute");
	err_path(&e, "a");
	err_at(&e, 2, 3);
	errlog_err(fs, "/t/k.json", &e, -EINVAL);
	errlog_err(fs, "/t/k.json", NULL, -EFBIG);
	ck_assert_int_eq(errlog_snapshot(fs, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "/t/k.json: a: duplicate attribute (line 2, column 3)\n"));
	ck_assert_ptr_nonnull(strstr(text, "/t/k.json: File too large\n"));
	free(text);
}
END_TEST

/* ---- the negative set ---- */

/* nodemem (fs/nodemem.c): every allocation zeroed, none overlapping,
 * freed slots reused zeroed, across many chunks and size classes. */
START_TEST(test_nodemem_slots_zeroed_and_distinct)
{
	enum { N = 30000 };
	static unsigned char *p[N];
	static size_t sz[N];
	static bool slab[N];
	size_t i, j;
	int round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			if (round == 1 && i % 2)
				continue; /* still held from round 0 */
			sz[i] = 296 + (i * 37) % 420; /* both sides of nodemem's largest slot */
			p[i] = nodemem_alloc(sz[i], &slab[i]);
			ck_assert_ptr_nonnull(p[i]);
			for (j = 0; j < sz[i] && p[i][j] == 0; j++)
				;
			ck_assert_msg(j == sz[i], "allocation %zu not zeroed at %zu", i, j);
			memset(p[i], (int)(i & 0xff) | 1, sz[i]);
		}
		for (i = 0; i < N; i++) {
			for (j = 0; j < sz[i] && p[i][j] == ((i & 0xff) | 1); j++)
				;
			ck_assert_msg(j == sz[i], "allocation %zu overwritten at %zu", i, j);
		}
		for (i = 0; i < N; i += 2) /* free half: round 1 reuses their slots */
			nodemem_free(p[i], slab[i]);
	}
	for (i = 1; i < N; i += 2)
		nodemem_free(p[i], slab[i]);
}
END_TEST

START_TEST(test_negset)
{
	fuse_ino_t dirs[1] = {7};
	char name[32];
	int i;

	ck_assert(!neg_take(fs, 7, "x.json"));
	ck_assert(neg_add(fs, 7, "x.json"));
	ck_assert(neg_add(fs, 7, "x.json")); /* once */
	ck_assert(neg_add(fs, 8, "x.json"));
	ck_assert(neg_take(fs, 7, "x.json"));
	ck_assert(!neg_take(fs, 7, "x.json"));
	for (i = 1; i < FSX_NEG_MAX; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert(neg_add(fs, 7, name));
	}
	ck_assert(!neg_add(fs, 9, "full")); /* bounded: the caller replies timeout 0 */
	neg_forget_parents(fs, dirs, 1);
	ck_assert(neg_add(fs, 9, "room again"));
	ck_assert(neg_take(fs, 8, "x.json"));
	ck_assert(!neg_take(fs, 7, "n5"));
}
END_TEST

Suite *fsinode_suite(void);
Suite *fsinode_suite(void)
{
	Suite *s = suite_create("fsinode");
	TCase *tc;

	tc = tcase_create("node_ident");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ident_same_key_same_node);
	tcase_add_test(tc, test_ident_lookup_count_keeps_node);
	tcase_add_test(tc, test_ident_opened_file_keeps_its_number);
	tcase_add_test(tc, test_ident_kept_number_only_for_its_identity);
	tcase_add_test(tc, test_ident_dropped_table_gets_new_nodes);
	tcase_add_test(tc, test_node_key_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("node_pin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pins_keep_partitions);
	tcase_add_test(tc, test_unhash_of_an_unreferenced_pinned_partition);
	suite_add_tcase(s, tc);

	tc = tcase_create("kids");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kids_sorted_and_linked);
	tcase_add_test(tc, test_scratch_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("errlog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_errlog_keeps_last_lines);
	tcase_add_test(tc, test_errlog_formats_dyn_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("observe");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_observe_created_item_data_invalidation);
	suite_add_tcase(s, tc);

	tc = tcase_create("neg");
	tcase_add_checked_fixture(tc, setup, teardown);
	/* 60,000 slot allocations, each checked: about 0.3 s of CPU, which a
	 * machine at load 15-20 stretched past Check's 4 s default */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_negset);
	tcase_add_test(tc, test_nodemem_slots_zeroed_and_distinct);
	suite_add_tcase(s, tc);
	return s;
}
