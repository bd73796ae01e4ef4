/*
 * commit.c - turning the text of an item file into a stored item.
 *
 * An item file's content is checked when it is committed (flush, fsync,
 * rename of a scratch file onto the item), never while it is written:
 * editors and tools write in pieces and truncate first.  The key comes
 * from the path; the file may omit the key attributes, and if it states
 * them they must agree with the path, so that `mv` and `cp` between names
 * cannot silently produce an item stored under a key its text denies.
 *
 * While a file is written in one simple sequence, the same checks also
 * run at the write() that completes the document (item_precheck,
 * wcheck.h), and the checked item is what the close stores.
 *
 * Rejected content leaves the stored item alone and is reported twice:
 * as the errno of close/fsync (EINVAL, or EFBIG for size) and as a line
 * in /_errors naming the file, the position and the reason.
 *
 * Without a change feed (a remote backend: other writers' changes are
 * not seen, so nothing tells an editor that its buffer went stale), a
 * save is conditional on the version this mount last delivered or stored
 * (node.seen, commit_seen in ops.h): be_op.expect, which the remote
 * backend turns into a ConditionExpression.
 *
 * Forgotten nodes.  node.seen lives as long as the node, and the kernel
 * forgets a node it keeps no dentry for (memory pressure, a drop_caches):
 * an editor that has read an item holds no descriptor on it between its
 * saves.  Its next save then opens a new node for writing, and that
 * open's read -- after cache= seconds, another writer's version -- must
 * not become the version the save is conditional on: the other writer's
 * change would be overwritten.  So the version (be_text_version) of
 * node.seen is also kept beside the item's time, which outlives the node
 * (mtime.c): a writer that finds no node.seen takes its read as the
 * version only if it is the one remembered (or none is); otherwise the
 * node's version is lost (node.seen_lost) and the save fails as a
 * conflict would, once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/item.h"
#include "ops.h"

static bool saves_conditional(struct fsx *fs)
{
	return !(be_caps(fs->be) & BE_CAP_CHANGE_FEED);
}

void commit_seen(struct fsx *fs, struct node *n, const char *text, size_t len, bool writer)
{
	uint64_t version, known;
	char *copy;

	if (!saves_conditional(fs))
		return;
	version = be_text_version(text, len);
	pthread_mutex_lock(&fs->ilock);
	if (writer && !n->seen && !n->seen_lost && (known = item_seen_get_locked(fs, n)) &&
	    known != version) {
		n->seen_lost = true; /* forgotten since it was read, changed since */
	} else if ((!writer || (!n->seen && !n->seen_lost)) && (copy = strndup(text, len))) {
		free(n->seen);
		n->seen = copy;
		n->seen_lost = false;
		item_seen_set_locked(fs, n, version);
	}
	pthread_mutex_unlock(&fs->ilock);
}

/* The save of item to t whose version read was lost (commit_seen) fails
 * as a conflict would: -ESTALE, with the service's version in err. */
static int lost_conflict(be_table_t *t, const struct val *item, struct dyn_err *err)
{
	const struct key_attr *kb = be_table_sk(t);
	const struct key_attr *ka = be_table_pk(t);
	const struct val *pk = val_map_get(item, ka->name, strlen(ka->name));
	const struct val *sk = kb ? val_map_get(item, kb->name, strlen(kb->name)) : NULL;
	struct val cur;
	char *text = NULL;
	size_t len = 0;

	val_init_null(&cur);
	if (pk && be_get(t, pk, sk, &cur, NULL, NULL) == 0 &&
	    item_render_compact(&cur, ka->name, kb ? kb->name : NULL, &text, &len) < 0)
		text = NULL;
	err_set(err, ESTALE,
		"the item changed on the service since it was read (the mount forgot the "
		"version read with the file's inode); the service's version was kept: %s",
		text ? text : "(none)");
	free(text);
	val_free(&cur);
	return -ESTALE;
}

/* What a put of a checked item may tell the backend (be_op.checked,
 * item_text: the engine skips item_check and writes the text to the
 * journal instead of rendering the item). */
struct put_hint {
	size_t size;	  /* item_size of the item */
	const char *text; /* its text (item_text_join), or NULL */
	size_t len;
};

/*
 * be_put, conditional on n's version read (commit_seen) when there is
 * one and the item is not new; the version stored becomes the one read.
 * -ESTALE when another writer changed or deleted it since.
 */
static int put_seen(struct fsx *fs, struct node *n, be_table_t *t, struct val *item, int flags,
		    bool created, const struct put_hint *hint, struct dyn_err *err)
{
	struct val expect;
	char *seen = NULL, *text = NULL;
	const struct key_attr *kb = be_table_sk(t);
	size_t len;
	be_op op;
	bool lost;
	int rc;

	if (!saves_conditional(fs)) {
		memset(&op, 0, sizeof(op));
		op.kind = OPS_PUT;
		op.table = t;
		op.item = item;
		op.flags = flags;
		if (hint) {
			op.checked = true;
			op.size = hint->size;
			op.item_text = hint->text;
			op.item_text_len = hint->len;
		}
		return be_apply(fs->be, &op, 1, NULL, err);
	}
	val_init_null(&expect);
	pthread_mutex_lock(&fs->ilock);
	if (!created && n->seen)
		seen = strdup(n->seen);
	lost = !created && n->seen_lost;
	if (lost) {
		n->seen_lost = false; /* told once: saving again overwrites */
		item_seen_set_locked(fs, n, 0);
	}
	pthread_mutex_unlock(&fs->ilock);
	if (lost)
		return lost_conflict(t, item, err);
	if (seen && item_parse(seen, strlen(seen), &expect, NULL) < 0)
		val_init_null(&expect);
	memset(&op, 0, sizeof(op));
	op.kind = OPS_PUT;
	op.table = t;
	op.item = item;
	op.flags = flags;
	op.expect = expect.type == VAL_M ? &expect : NULL;
	rc = be_apply(fs->be, &op, 1, NULL, err);
	pthread_mutex_lock(&fs->ilock);
	if (rc == 0 && item_render(item, be_table_pk(t)->name, kb ? kb->name : NULL, &text,
				   &len) == 0) {
		/* kept as long as the node: the render's buffer is 1 KiB at
		 * least, an item's text often a tenth of that */
		char *fit = realloc(text, len + 1);

		if (fit)
			text = fit;
		/* dated by its commit, and the version read from now on */
		item_mtime_stored_locked(fs, n, text, len);
		free(n->seen);
		n->seen = text;
		n->seen_lost = false;
		text = NULL;
	} else if (op.expect && (rc == -EAGAIN || rc == -ENOENT)) {
		free(n->seen); /* told once: saving again overwrites */
		n->seen = NULL;
		item_seen_set_locked(fs, n, 0);
		rc = -ESTALE;
	}
	pthread_mutex_unlock(&fs->ilock);
	free(text);
	free(seen);
	val_free(&expect);
	return rc;
}

/* Check (or add) one key attribute of item against the path's value:
 * 0 (the text has it), 1 (added), or -errno. */
static int key_attr(struct val *item, const struct key_attr *a, const struct val *key,
		    struct dyn_err *err)
{
	struct val *v = val_map_get(item, a->name, strlen(a->name));
	char *have = NULL, *want = NULL;
	size_t hl, wl;
	struct val copy;
	int rc;

	if (!v) {
		rc = val_copy(&copy, key);
		if (rc == 0)
			rc = val_map_set(item, a->name, strlen(a->name), &copy);
		return rc < 0 ? rc : 1; /* added from the path */
	}
	if (v->type == key->type && val_equal(v, key))
		return 0;
	if (item_render_compact(v, NULL, NULL, &have, &hl) < 0 ||
	    item_render_compact(key, NULL, NULL, &want, &wl) < 0) {
		free(have);
		return -ENOMEM;
	}
	rc = err_set(err, EINVAL, "key attribute %s is %s in the file but %s in the path",
		     a->name, have, want);
	free(have);
	free(want);
	return rc;
}

/* item_from_text, and which key attributes came from the path (*added:
 * ITEM_ADDED_PK, ITEM_ADDED_SK). */
static int item_from_text_added(be_table_t *t, const struct val *pk, const struct val *sk,
				const char *text, size_t len, bool created, struct val *out,
				unsigned *added, struct dyn_err *err)
{
	const struct key_attr *kb = be_table_sk(t);
	int rc;

	*added = 0;

	if (!len) {
		if (!created)
			return err_set(err, EINVAL,
				       "empty file: writing nothing would erase the item; "
				       "to delete it, use rm");
		val_init_map(out);
	} else {
		rc = item_parse(text, len, out, err);
		if (rc < 0)
			return rc;
	}
	rc = key_attr(out, be_table_pk(t), pk, err);
	if (rc == 1)
		*added |= ITEM_ADDED_PK;
	if (rc >= 0 && kb && sk) {
		rc = key_attr(out, kb, sk, err);
		if (rc == 1)
			*added |= ITEM_ADDED_SK;
	}
	if (rc < 0) {
		val_free(out);
		return rc;
	}
	return 0;
}

int item_from_text(be_table_t *t, const struct val *pk, const struct val *sk, const char *text,
		   size_t len, bool created, struct val *out, struct dyn_err *err)
{
	unsigned added;

	return item_from_text_added(t, pk, sk, text, len, created, out, &added, err);
}

int item_commit(struct fsx *fs, struct node *n, const char *text, size_t len, bool created,
		int flags)
{
	char path[3 * NAME_BUF + 16];
	struct dyn_err err;
	struct val pk, sk, item;
	be_table_t *t;
	int rc;

	err_clear(&err);
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	rc = item_from_text(t, &pk, sk.type == VAL_NULL ? NULL : &sk, text, len, created, &item,
			    &err);
	if (rc == 0) {
		rc = put_seen(fs, n, t, &item, flags, created, NULL, &err);
		val_free(&item);
	}
	if (rc < 0 && rc != -EEXIST) {
		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
	}
	val_free(&pk);
	val_free(&sk);
	return rc;
}

/* The path of n and its error, into /_errors. */
static void log_refusal(struct fsx *fs, struct node *n, const struct dyn_err *err, int rc)
{
	char path[3 * NAME_BUF + 16];

	node_path(fs, n, path, sizeof(path));
	errlog_err(fs, path, err, rc);
}

int item_precheck(struct fsx *fs, struct node *n, const char *text, size_t len, bool created,
		  struct val *out, unsigned *added)
{
	struct dyn_err err;
	struct val pk, sk;
	be_table_t *t;
	int rc;

	err_clear(&err);
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	rc = item_from_text_added(t, &pk, sk.type == VAL_NULL ? NULL : &sk, text, len, created,
				  out, added, &err);
	if (rc == 0) {
		rc = be_check_item(t, out, &err);
		if (rc < 0)
			val_free(out);
	}
	if (rc < 0)
		log_refusal(fs, n, &err, rc);
	val_free(&pk);
	val_free(&sk);
	return rc;
}

/* item's attribute a is exactly key. */
static bool has_key(const struct val *item, const struct key_attr *a, const struct val *key)
{
	const struct val *v = val_map_get(item, a->name, strlen(a->name));

	return v && v->type == key->type && val_equal(v, key);
}

/* The names of the key attributes added from the path (added) with
 * their values in item, as a map that borrows them (not to be freed). */
static void added_keys(be_table_t *t, const struct val *item, unsigned added,
		       struct val_attr a[2], struct val *m)
{
	const struct key_attr *ka[2] = {be_table_pk(t), be_table_sk(t)};
	size_t n = 0;

	for (int i = 0; i < 2; i++) {
		const struct val *v;

		if (!(added & (i ? ITEM_ADDED_SK : ITEM_ADDED_PK)) || !ka[i])
			continue;
		v = val_map_get(item, ka[i]->name, strlen(ka[i]->name));
		if (!v)
			continue;
		a[n].name = (char *)ka[i]->name;
		a[n].name_len = strlen(ka[i]->name);
		a[n].v = *v;
		n++;
	}
	/* sorted by name, as a map's attributes are (val.h) */
	if (n == 2 && val_name_cmp(a[0].name, a[0].name_len, a[1].name, a[1].name_len) > 0) {
		struct val_attr x = a[0];

		a[0] = a[1];
		a[1] = x;
	}
	memset(m, 0, sizeof(*m));
	m->type = VAL_M;
	m->m.a = a;
	m->m.len = m->m.cap = n;
}

int item_commit_checked(struct fsx *fs, struct node *n, struct val *item, const char *text,
			size_t len, unsigned added, int flags)
{
	const struct key_attr *kb;
	struct dyn_err err;
	struct val pk, sk, add;
	struct val_attr addv[2];
	struct put_hint hint = {0};
	char *jbuf = NULL;
	be_table_t *t;
	int rc;

	err_clear(&err);
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	kb = be_table_sk(t);
	if (!has_key(item, be_table_pk(t), &pk) || (kb && !has_key(item, kb, &sk))) {
		rc = 1; /* renamed since: the text decides */
		goto out;
	}
	/* item passed be_check_item (item_precheck) and is unchanged since;
	 * text, with the key attributes the path added, parses to it -- unless
	 * padded far beyond it (as ops_req.c: a journal record stays small) */
	hint.size = item_size(item);
	added_keys(t, item, added, addv, &add);
	if (len <= 4 * hint.size + 1024 &&
	    item_text_join(text, len, &add, &jbuf, &hint.text, &hint.len) < 0)
		hint.text = NULL;
	rc = put_seen(fs, n, t, item, flags, false, &hint, &err);
	free(jbuf);
	if (rc < 0 && rc != -EEXIST)
		log_refusal(fs, n, &err, rc);
out:
	val_free(&pk);
	val_free(&sk);
	return rc;
}
