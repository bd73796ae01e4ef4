/*
 * check_fsseen.c - saves against the version read on a remote mount
 * (fs/commit.c: node.seen, "Forgotten nodes"), through the filesystem
 * layer without a mount: item handles (fs/text.c) over a remote backend
 * (fix_rbe.h: an in-process `dynfs serve`), the kernel's lookups and
 * forgets played by the test.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fs/fh.h"
#include "fix_rbe.h"

static struct fsx *fs;
static be_table_t *t;

/* A mount of the service with cache=0 (every open reads the service:
 * the state after cache= seconds), a table users (pk p) holding ann. */
static void fs_setup(void)
{
	struct rbe_opts o = {.cache_s = 0, .allow_table_create = true, .allow_table_delete = true};
	struct dyn_err err = {0};

	fix_val_free();
	reports[0] = 0;
	open_be(&o);
	mk_table("users", false, false);
	t = open_t("users");
	ck_assert_int_eq(be_put(t, J("{\"p\": \"ann\", \"age\": 30}"), 0, &err), 0);
	fs = calloc(1, sizeof(*fs));
	ck_assert_ptr_nonnull(fs);
	fs->be = be;
	ck_assert_int_eq(nodes_init(fs), 0);
	ck_assert_int_eq(errlog_init(&fs->errlog), 0);
	ck_assert_int_eq(inval_init(fs), 0);
	fs->errlog.to_syslog = true;
	fs->start_ns = fsx_now_ns();
}

static void fs_teardown(void)
{
	fh_free_unreleased(fs);
	be_table_close(t);
	nodes_fini(fs);
	inval_fini(fs);
	errlog_fini(&fs->errlog);
	item_mtimes_free(fs);
	free(fs);
	teardown();
}

/* The kernel looks ann.json up (one lookup reference): its node. */
static struct node *lookup(void)
{
	struct node *n = node_ident(fs, NK_ITEM, t, vs("ann"), NULL, true);

	ck_assert_ptr_nonnull(n);
	node_lookup_inc(fs, n);
	return n;
}

/* The kernel forgets n (no dentry left): the node is freed. */
static void forget(struct node *n)
{
	fuse_ino_t ino = n->ino;

	node_put(fs, n);
	node_forget(fs, ino, 1);
	ck_assert_ptr_null(node_get(fs, ino));
}

/* open(flags), with a reference on n for the handle. */
static struct fh *open_h(struct node *n, int flags)
{
	struct fuse_file_info fi;
	struct fh *h = NULL;

	memset(&fi, 0, sizeof(fi));
	fi.flags = flags;
	pthread_mutex_lock(&fs->ilock);
	n->refs++;
	pthread_mutex_unlock(&fs->ilock);
	ck_assert_int_eq(text_open(fs, n, &fi, false, &h), 0);
	return h;
}

/* vim's save: open O_WRONLY, ftruncate 0, write, fsync; its result. */
static int save(struct node *n, const char *text)
{
	struct fh *h = open_h(n, O_WRONLY | O_CREAT);
	int rc;

	ck_assert_int_eq(text_truncate(fs, n, 0, h), 0);
	ck_assert_int_eq(text_write(fs, h, text, strlen(text), 0), 0);
	pthread_mutex_lock(&h->lock);
	rc = text_commit(fs, h, false);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void age_is(const char *want)
{
	struct val got, *w = J(want);

	val_init_null(&got);
	ck_assert_int_eq(be_get(t, vs("ann"), NULL, &got, NULL, NULL), 0);
	ck_assert(val_equal(&got, w));
	val_free(&got);
}

/* Another writer, through the service directly. */
static void theirs(const char *item)
{
	struct dyn_err err = {0};

	ck_assert_int_eq(rmt_put_item(rbe_client(be), "users", J(item), NULL, NULL, &err), 0);
}

START_TEST(test_save_against_read_kept_node)
{
	struct node *n = lookup();

	open_h(n, O_RDONLY); /* vim reads ann.json */
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 31}"), 0);
	theirs("{\"p\": \"ann\", \"age\": 99}");
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 32}"), -ESTALE);
	age_is("{\"p\": \"ann\", \"age\": 99}");
	/* told once: saving again overwrites knowingly */
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 33}"), 0);
	age_is("{\"p\": \"ann\", \"age\": 33}");
	node_put(fs, n);
}
END_TEST

START_TEST(test_save_against_read_forgotten_node)
{
	struct node *n = lookup();
	char *log;
	size_t len;

	open_h(n, O_RDONLY); /* vim reads ann.json, then closes it */
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 31}"), 0);
	fh_free_unreleased(fs); /* vim holds no descriptor between saves */
	forget(n);		/* memory pressure, a drop_caches */
	theirs("{\"p\": \"ann\", \"age\": 99}");
	/* vim's next save: a new lookup, a new node, whose open reads 99 */
	n = lookup();
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 32}"), -ESTALE);
	age_is("{\"p\": \"ann\", \"age\": 99}");
	ck_assert_int_eq(errlog_snapshot(fs, &log, &len), 0);
	ck_assert_msg(strstr(log, "changed on the service since it was read") &&
			  strstr(log, "\"age\":99"),
		      "%s", log);
	free(log);
	/* told once: saving again overwrites knowingly */
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 33}"), 0);
	age_is("{\"p\": \"ann\", \"age\": 33}");
	node_put(fs, n);
}
END_TEST

START_TEST(test_forgotten_node_unchanged_item_saves)
{
	struct node *n = lookup();

	open_h(n, O_RDONLY);
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 31}"), 0);
	fh_free_unreleased(fs);
	forget(n);
	/* nobody else wrote: the save lands, and is still conditional */
	n = lookup();
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 32}"), 0);
	age_is("{\"p\": \"ann\", \"age\": 32}");
	theirs("{\"p\": \"ann\", \"age\": 99}");
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 34}"), -ESTALE);
	age_is("{\"p\": \"ann\", \"age\": 99}");
	/* a reader after the change makes it the version read */
	fh_free_unreleased(fs);
	forget(n);
	n = lookup();
	open_h(n, O_RDONLY);
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 35}"), 0);
	node_put(fs, n);
}
END_TEST

/* An editor's file keeps its inode number across its saves, though the
 * kernel forgets the inode between them (nano refuses to save over a
 * file whose st_ino changed: "File was modified since you opened it");
 * a file only listed or stat'ed may get a new one. */
/* n's st_mtime, as a stat reports it (the service asked: cache=0). */
static int64_t mtime_of(struct node *n)
{
	struct stat st;
	double timeout;

	ck_assert_int_eq(node_attr(fs, n, &st, &timeout), 0);
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

START_TEST(test_forgotten_opened_item_keeps_its_inode_number)
{
	struct node *n = lookup(), *other;
	fuse_ino_t ino = n->ino;
	const struct val *bob = vs("bob");
	int64_t mt;

	open_h(n, O_RDONLY); /* nano reads ann.json */
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 31}"), 0);
	mt = mtime_of(n); /* nano's stat after its save */
	ck_assert_int_eq(mtime_of(n), mt); /* read again: the same version, time */
	fh_free_unreleased(fs);
	forget(n); /* a drop_caches between two saves */
	n = lookup();
	ck_assert_uint_eq(n->ino, ino);
	ck_assert_int_eq(mtime_of(n), mt);
	ck_assert_int_eq(save(n, "{\"p\": \"ann\", \"age\": 32}"), 0);
	fh_free_unreleased(fs);
	forget(n);
	forget(n = lookup()); /* looked up, never opened: still ann.json's number */
	n = lookup();
	ck_assert_uint_eq(n->ino, ino);
	/* another item never gets it */
	other = node_ident(fs, NK_ITEM, t, bob, NULL, true);
	ck_assert_ptr_nonnull(other);
	ck_assert_uint_ne(other->ino, ino);
	node_put(fs, other);
	node_put(fs, n);
}
END_TEST

Suite *fsseen_suite(void);
Suite *fsseen_suite(void)
{
	Suite *s = suite_create("fsseen");
	TCase *tc = tcase_create("forgotten");

	tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_save_against_read_kept_node);
	tcase_add_test(tc, test_save_against_read_forgotten_node);
	tcase_add_test(tc, test_forgotten_node_unchanged_item_saves);
	tcase_add_test(tc, test_forgotten_opened_item_keeps_its_inode_number);
	suite_add_tcase(s, tc);
	return s;
}
