/*
 * index_view.c - the read-only views: /<table>/_index/ (SPEC §4),
 * `_query?` entries (SPEC §3) and /<table>/_stats.json, as nodes the rest
 * of the filesystem resolves, lists, stats and opens through the view_*
 * functions (ops.h).
 *
 *   /<t>/_index/                 NK_INDEX_DIR   index names
 *   /<t>/_index/<index>/         NK_INDEX       the index's partition keys
 *   /<t>/_index/<index>/<ipk>/   NK_INDEX_PART  its items, in index sort key
 *                                               order (ties by base key)
 *   .../<entry>                  NK_INDEX_ENTRY a symlink to the base item
 *   /<t>/_query?P, /<t>/<pk>/_query?P, /<t>/_index/<index>/_query?P,
 *   /<t>/_index/<index>/<ipk>/_query?P
 *                                NK_QUERY       a directory of symlinks, or
 *                                               with as= a regular file
 *   /<t>/_stats.json             NK_STATS       counts (stats.c)
 *
 * Entries are symlinks, everywhere: an index partition or a query gathers
 * items of several partitions, and a symlink is the one kind of entry
 * that is at the same time readable as the item (cat, jq, editors follow
 * it), writable as the item (the write lands on the item itself, so the
 * index follows), and honest about being a view (ls -l shows where it
 * points; rm of it fails instead of deleting data).  The target is
 * relative ("../../../felienne#3/2022-09.json" from an index partition),
 * so it also resolves in a copy of the tree (cp -r, tar).
 *
 * Identities.  View nodes are in the identity hash like the others, with
 * their coordinates in the node's key fields: NK_INDEX pk = S(index);
 * NK_INDEX_PART pk = S(index), sk = ipk; NK_INDEX_ENTRY pk = S(target)
 * (the same item seen from the same depth is one inode); NK_QUERY pk =
 * its location (VAL_NULL: the table, a base partition key, L[S(index)]:
 * the whole index, or L[S(index), ipk]), sk = S(its parameters as
 * written).  The query is
 * parsed again wherever it is used: parsing is cheap, and so a query
 * node never holds on to a schema that changed.
 *
 * Caching.  The database observer (inval.c) knows items, not views, so
 * nothing under _index/ and no query is ever cached by the kernel: entry
 * and attribute timeouts are 0 (view_volatile), names that do not exist
 * are ENOENT replies rather than cached negative entries, query files
 * are read with direct I/O and generated at open.  A query's result can
 * therefore never be stale.  _index/ and _stats.json themselves exist as
 * long as their table does, so their entries are cached normally (their
 * attributes are not: _stats.json changes size with every write).
 *
 * Read-only.  Nothing can be created, removed or renamed inside a view
 * (EPERM; view_ro_dir is checked by the name operations).  rmdir of
 * _index/, an index or an index partition succeeds without doing
 * anything once it is empty, like unlink of _schema.json, so that
 * `rm -r /db/t` (which reaches _index/ last, after the items: readdir
 * lists it after them) stays quiet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "query.h"

/* Where the entries of each view sit, in directories below the table. */
#define DEPTH_SCAN 1	/* /<t>/_query?/E */
#define DEPTH_PART 2	/* /<t>/<pk>/_query?/E */
#define DEPTH_INDEX 3	/* /<t>/_index/<i>/<ipk>/E and /<t>/_index/<i>/_query?/E */
#define DEPTH_INDEX_Q 4 /* /<t>/_index/<i>/<ipk>/_query?/E */

bool view_dir_kind(enum node_kind k)
{
	return k == NK_INDEX_DIR || k == NK_INDEX || k == NK_INDEX_PART || k == NK_QUERY;
}

bool view_ro_dir(struct fsx *fs, struct node *dir)
{
	enum node_kind k;

	pthread_mutex_lock(&fs->ilock);
	k = dir->kind;
	pthread_mutex_unlock(&fs->ilock);
	return view_dir_kind(k);
}

bool view_volatile(enum node_kind k)
{
	return k == NK_INDEX || k == NK_INDEX_PART || k == NK_INDEX_ENTRY || k == NK_QUERY;
}

bool view_is_dir_locked(struct node *n)
{
	switch (n->kind) {
	case NK_INDEX_DIR:
	case NK_INDEX:
	case NK_INDEX_PART:
		return true;
	case NK_QUERY:
		return n->sk.type == VAL_S && !query_is_file(n->sk.s.p, n->sk.s.len);
	default:
		return false;
	}
}

/* ---- a node's coordinates ---- */

/* What a view node stands for (copies, from node_key). */
struct vnode {
	be_table_t *t;		     /* borrowed from the node */
	struct val pk, sk;	     /* the node's key fields (owned) */
	char index[DB_NAME_MAX + 1]; /* NK_INDEX*, index queries: the index ("" if none) */
	const struct val *ipk;	     /* index partition key (into pk or sk) */
	const struct val *part;	     /* NK_QUERY in a base partition: its key */
};

static void vnode_free(struct vnode *v)
{
	val_free(&v->pk);
	val_free(&v->sk);
}

static int vnode_of(struct fsx *fs, struct node *n, enum node_kind kind, struct vnode *v)
{
	const struct val *ix = NULL;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = node_key(fs, n, &v->t, &v->pk, &v->sk);
	if (rc < 0)
		return rc;
	if (!be_table_alive(v->t)) {
		vnode_free(v);
		return -ENOENT;
	}
	if (kind == NK_INDEX || kind == NK_INDEX_PART) {
		ix = &v->pk;
		v->ipk = kind == NK_INDEX_PART ? &v->sk : NULL;
	} else if (kind == NK_QUERY && v->pk.type == VAL_L && v->pk.l.len >= 1) {
		ix = &v->pk.l.v[0];
		v->ipk = v->pk.l.len == 2 ? &v->pk.l.v[1] : NULL;
	} else if (kind == NK_QUERY && v->pk.type != VAL_NULL) {
		v->part = &v->pk;
	}
	if (ix && ix->type == VAL_S)
		snprintf(v->index, sizeof(v->index), "%s", ix->s.p);
	return 0;
}

/* The definition of index `index`: *s a schema copy (new; schema_free),
 * *d borrowed from it.  -ENOENT (and nothing to free) if there is none. */
static int index_def_of(be_table_t *t, const char *index, struct table_schema *s,
			const struct index_def **d, struct dyn_err *err)
{
	size_t i;
	int rc = be_table_schema(t, s, err);

	if (rc < 0)
		return rc;
	for (i = 0; i < s->nindex; i++) {
		if (!strcmp(s->index[i].name, index)) {
			*d = &s->index[i];
			return 0;
		}
	}
	schema_free(s);
	return -ENOENT;
}

/* ---- queries ---- */

/* A query ready to run: location, parse context and the parsed query. */
struct qctx {
	struct table_schema s; /* schema copy: key attributes for the parser */
	struct qwhere w;       /* where it is made */
	struct qloc loc;       /* where it runs */
	struct qspec q;	       /* the query */
	int depth;	       /* its entries' depth below the table */
	bool parsed;	       /* q holds something to free */
};

static void qctx_free(struct qctx *c)
{
	if (c->parsed)
		query_free(&c->q);
	schema_free(&c->s);
}

/*
 * Prepare a query at table t: index (NULL: the table) and pk (NULL: a
 * scan of the table or the index), then parse params.  -EINVAL (err) for
 * a bad query, -ENOENT for an index that is gone.
 */
static int qctx_init(struct qctx *c, be_table_t *t, const char *index, const struct val *pk,
		     const char *params, size_t plen, struct dyn_err *err)
{
	const struct index_def *d = NULL;
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = be_table_schema(t, &c->s, err);
	if (rc < 0)
		return rc;
	for (i = 0; index && i < c->s.nindex; i++)
		if (!strcmp(c->s.index[i].name, index))
			d = &c->s.index[i];
	if (index && !d) {
		schema_free(&c->s);
		return err_set(err, ENOENT, "no index %s", index);
	}
	c->w.scan = !pk;
	c->w.base_part = pk && !index;
	c->w.sk = d ? (d->has_sk ? &d->sk : NULL) : (c->s.has_sk ? &c->s.sk : NULL);
	c->w.tpk = &c->s.pk;
	c->w.tsk = c->s.has_sk ? &c->s.sk : NULL;
	c->w.index = index;
	c->loc.t = t;
	c->loc.index = d ? d->name : NULL;
	c->loc.pk = pk;
	c->depth = !pk ? (index ? DEPTH_INDEX : DEPTH_SCAN) : index ? DEPTH_INDEX_Q : DEPTH_PART;
	rc = query_parse(params, plen, &c->w, &c->q, err);
	if (rc < 0) {
		schema_free(&c->s);
		return rc;
	}
	c->parsed = true;
	return 0;
}

/* The query of an NK_QUERY node (vn from vnode_of). */
static int qctx_of(struct qctx *c, struct vnode *vn, struct dyn_err *err)
{
	const struct val *pk = vn->ipk ? vn->ipk : vn->part;

	if (vn->sk.type != VAL_S)
		return -EIO;
	return qctx_init(c, vn->t, vn->index[0] ? vn->index : NULL, pk, vn->sk.s.p, vn->sk.s.len,
			 err);
}

/* ---- paths for messages ---- */

static void table_path(be_table_t *t, char *buf, size_t size)
{
	char nm[NAME_BUF];

	if (name_make_str(be_table_name(t), strlen(be_table_name(t)), nm) < 0)
		snprintf(nm, sizeof(nm), "%s", be_table_name(t));
	snprintf(buf, size, "/%s", nm);
}

/* The path of name in directory dir (a table, partition or view). */
static void entry_path(struct fsx *fs, struct node *dir, const char *name, char *buf, size_t size)
{
	enum node_kind kind;
	size_t n;

	pthread_mutex_lock(&fs->ilock);
	kind = dir->kind;
	pthread_mutex_unlock(&fs->ilock);
	buf[0] = 0;
	if (kind == NK_TABLE || kind == NK_PART)
		node_path(fs, dir, buf, size);
	else
		view_path(fs, dir, buf, size);
	n = strlen(buf);
	snprintf(buf + n, size - n, "/%s", name);
}

void view_path(struct fsx *fs, struct node *n, char *buf, size_t size)
{
	enum node_kind kind;
	struct vnode v;
	char a[NAME_BUF], b[NAME_BUF];
	size_t len;

	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	pthread_mutex_unlock(&fs->ilock);
	buf[0] = 0;
	if (vnode_of(fs, n, kind, &v) < 0)
		return;
	table_path(v.t, buf, size);
	len = strlen(buf);
	if (kind == NK_INDEX_DIR)
		snprintf(buf + len, size - len, "/_index");
	else if (v.index[0] && name_make_str(v.index, strlen(v.index), a) >= 0)
		snprintf(buf + len, size - len, "/_index/%s", a);
	len = strlen(buf);
	if ((v.ipk || v.part) && name_make(v.ipk ? v.ipk : v.part, false, b) >= 0)
		snprintf(buf + len, size - len, "/%s", b);
	len = strlen(buf);
	if (kind == NK_QUERY && v.sk.type == VAL_S)
		snprintf(buf + len, size - len, "/%s%s", QUERY_PREFIX, v.sk.s.p);
	vnode_free(&v);
}

/* ---- making nodes ---- */

static int found(struct fsx *fs, struct node *dir, struct node *n, struct resolved *r)
{
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&fs->ilock);
	n->parent = dir->ino;
	pthread_mutex_unlock(&fs->ilock);
	r->what = RES_NODE;
	r->node = n;
	r->own = true;
	return 0;
}

/* The symlink to base item pk/sk, seen from depth directories down. */
static int link_node(struct fsx *fs, struct node *dir, be_table_t *t, const struct val *pk,
		     const struct val *sk, int depth, struct resolved *r)
{
	char target[QUERY_TARGET_MAX];
	struct val tv;
	int n, rc;

	n = query_link_target(pk, sk, depth, target);
	if (n < 0)
		return n;
	rc = val_init_str(&tv, target, (size_t)n);
	if (rc < 0)
		return rc;
	rc = found(fs, dir, node_ident(fs, NK_INDEX_ENTRY, t, &tv, NULL, true), r);
	val_free(&tv);
	return rc;
}

/*
 * `_query?params` in dir: a scan (pk NULL) of the table or the index, a
 * query in a base partition, or in an index partition.  A malformed query
 * is EINVAL with a line in /_errors.
 */
static int query_node(struct fsx *fs, struct node *dir, be_table_t *t, const char *index,
		      const struct val *pk, const char *name, struct resolved *r)
{
	const char *params = name + QUERY_PREFIX_LEN;
	char path[4 * NAME_BUF];
	struct dyn_err err;
	struct val loc, pv, ix, ipk;
	struct qctx c;
	int rc;

	err_clear(&err);
	rc = qctx_init(&c, t, index, pk, params, strlen(params), &err);
	if (rc < 0) {
		if (rc == -EINVAL) {
			entry_path(fs, dir, name, path, sizeof(path));
			errlog_err(fs, path, &err, rc);
		} else {
			r->err = err; /* a read failed: resolve() reports it */
		}
		return rc;
	}
	qctx_free(&c);
	val_init_null(&loc);
	rc = val_init_str(&pv, params, strlen(params));
	if (rc < 0)
		return rc;
	if (index) {
		val_init_list(&loc);
		if (val_init_str(&ix, index, strlen(index)) < 0 || val_list_append(&loc, &ix) < 0 ||
		    (pk && (val_copy(&ipk, pk) < 0 || val_list_append(&loc, &ipk) < 0)))
			rc = -ENOMEM;
	} else if (pk) {
		rc = val_copy(&loc, pk);
	}
	if (rc == 0)
		rc = found(fs, dir, node_ident(fs, NK_QUERY, t, &loc, &pv, true), r);
	val_free(&loc);
	val_free(&pv);
	return rc;
}

int view_special(struct fsx *fs, struct node *dir, be_table_t *t, const char *name,
		 struct resolved *r)
{
	enum node_kind kind;
	struct val pk, sk;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = dir->kind;
	pthread_mutex_unlock(&fs->ilock);
	if (kind == NK_TABLE && !strcmp(name, "_stats.json"))
		return found(fs, dir, node_ident(fs, NK_STATS, t, NULL, NULL, true), r);
	if (kind == NK_TABLE && !strcmp(name, "_index"))
		return found(fs, dir, node_ident(fs, NK_INDEX_DIR, t, NULL, NULL, true), r);
	if (strncmp(name, QUERY_PREFIX, QUERY_PREFIX_LEN))
		return 1;
	if (kind == NK_TABLE)
		return query_node(fs, dir, t, NULL, NULL, name, r);
	rc = node_key(fs, dir, &t, &pk, &sk);
	if (rc == 0)
		rc = query_node(fs, dir, t, NULL, &pk, name, r);
	val_free(&pk);
	val_free(&sk);
	return rc;
}

/* ---- names inside views ---- */

/* A shortened index partition name: the partition key it stands for. */
struct ipk_cand {
	const struct val *prefix; /* keys sought start with it */
	const char *name;	  /* the name looked up */
	struct val found;	  /* owned */
};

static int ipk_cand_visit(void *ctx, const struct val *pk)
{
	struct ipk_cand *c = ctx;
	char buf[NAME_BUF];

	if (!name_key_has_prefix(pk, c->prefix))
		return 1;
	if (name_make(pk, false, buf) >= 0 && !strcmp(buf, c->name))
		return val_copy(&c->found, pk) < 0 ? -ENOMEM : 2;
	return 0;
}

static int resolve_in_index_dir(struct fsx *fs, struct node *dir, struct vnode *v, const char *name,
				struct resolved *r)
{
	const struct index_def *d;
	struct table_schema s;
	const char *why;
	struct val iv;
	size_t len;
	char *iname;
	int rc;

	if (name_parse_str(name, strlen(name), &iname, &len) < 0)
		return name_escapes_ok(name, strlen(name), &why) ? -ENOENT : -EINVAL;
	rc = index_def_of(v->t, iname, &s, &d, &r->err);
	if (rc == 0) {
		schema_free(&s);
		rc = val_init_str(&iv, iname, len);
		if (rc == 0)
			rc = found(fs, dir, node_ident(fs, NK_INDEX, v->t, &iv, NULL, true), r);
		val_free(&iv);
	}
	free(iname);
	return rc;
}

static int resolve_in_index(struct fsx *fs, struct node *dir, struct vnode *v, const char *name,
			    struct resolved *r)
{
	struct ipk_cand c = {.name = name};
	const struct index_def *d;
	struct table_schema s;
	struct name_key k;
	const char *why;
	int rc;

	if (!strncmp(name, QUERY_PREFIX, QUERY_PREFIX_LEN))
		return query_node(fs, dir, v->t, v->index, NULL, name, r);
	rc = index_def_of(v->t, v->index, &s, &d, &r->err);
	if (rc < 0)
		return rc;
	rc = name_parse(name, strlen(name), d->pk.type, false, &k);
	schema_free(&s);
	if (rc == -EINVAL && !name_escapes_ok(name, strlen(name), &why))
		return -EINVAL; /* %-escapes are strict everywhere */
	if (rc < 0)
		return rc == -ENOMEM ? rc : -ENOENT;
	val_init_null(&c.found);
	if (k.kind == NAME_SHORT) {
		c.prefix = &k.key;
		rc = be_list_partitions(v->t, v->index, &k.key, ipk_cand_visit, &c, &r->err);
		rc = rc == 2 ? 0 : rc < 0 ? rc : -ENOENT;
	} else {
		val_move(&c.found, &k.key);
		rc = be_partition_exists(v->t, v->index, &c.found, &r->err);
	}
	if (rc == 0)
		rc = found(fs, dir, node_ident(fs, NK_INDEX_PART, v->t, &v->pk, &c.found, true), r);
	val_free(&c.found);
	name_key_free(&k);
	return rc;
}

/* An entry of an index partition or of a query directory. */
static int resolve_entry(struct fsx *fs, struct node *dir, struct qctx *c, const char *name,
			 struct resolved *r)
{
	struct val pk, sk;
	int rc;

	rc = query_name_key(&c->loc, name, strlen(name), &pk, &sk, &r->err);
	if (rc == -EINVAL)
		rc = -ENOENT;
	if (rc == 0)
		rc = query_match(&c->loc, &c->q, &pk, &sk, &r->err);
	if (rc == 1)
		rc = link_node(fs, dir, c->loc.t, &pk, &sk, c->depth, r);
	else if (rc == 0)
		rc = -ENOENT;
	val_free(&pk);
	val_free(&sk);
	return rc;
}

int view_resolve(struct fsx *fs, struct node *dir, const char *name, struct resolved *r)
{
	enum node_kind kind;
	struct vnode v;
	struct qctx c;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = dir->kind;
	if (!view_is_dir_locked(dir))
		kind = NK_ROOT; /* not a directory */
	pthread_mutex_unlock(&fs->ilock);
	if (kind == NK_ROOT)
		return -ENOTDIR;
	rc = vnode_of(fs, dir, kind, &v);
	if (rc < 0)
		return rc;
	r->table = v.t;
	switch (kind) {
	case NK_INDEX_DIR:
		rc = resolve_in_index_dir(fs, dir, &v, name, r);
		break;
	case NK_INDEX:
		rc = resolve_in_index(fs, dir, &v, name, r);
		break;
	case NK_INDEX_PART:
		if (!strncmp(name, QUERY_PREFIX, QUERY_PREFIX_LEN)) {
			rc = query_node(fs, dir, v.t, v.index, v.ipk, name, r);
			break;
		}
		rc = qctx_init(&c, v.t, v.index, v.ipk, "", 0, &r->err);
		if (rc == 0) {
			c.depth = DEPTH_INDEX;
			rc = resolve_entry(fs, dir, &c, name, r);
			qctx_free(&c);
		}
		break;
	default: /* NK_QUERY */
		rc = qctx_of(&c, &v, &r->err);
		if (rc == 0) {
			rc = resolve_entry(fs, dir, &c, name, r);
			qctx_free(&c);
		}
		break;
	}
	vnode_free(&v);
	return rc;
}

/* ---- attributes ---- */

static int64_t table_mtime(struct fsx *fs, be_table_t *t)
{
	struct tbl_stats s;

	be_table_stats(t, &s);
	return s.mtime_ns ? s.mtime_ns : fs->start_ns;
}

int view_attr(struct fsx *fs, struct node *n, enum node_kind kind, struct stat *st, double *timeout)
{
	struct vnode v;
	size_t len;
	char *text;
	int64_t ns;
	bool dir;
	int rc;

	rc = vnode_of(fs, n, kind, &v);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->ilock);
	dir = view_is_dir_locked(n);
	pthread_mutex_unlock(&fs->ilock);
	*timeout = 0;
	ns = table_mtime(fs, v.t);
	switch (kind) {
	case NK_STATS:
		rc = stats_text_fs(fs, v.t, &text, &len);
		if (rc < 0)
			break;
		free(text);
		st->st_mode = node_fixed_mode(fs, kind);
		st->st_size = (off_t)len;
		break;
	case NK_INDEX_ENTRY:
		st->st_mode = S_IFLNK | 0777;
		st->st_size = v.pk.type == VAL_S ? (off_t)v.pk.s.len : 0;
		break;
	default:
		/* query files have no size until they are read (direct I/O) */
		st->st_mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
		break;
	}
	st->st_mtim.tv_sec = (time_t)(ns / 1000000000);
	st->st_mtim.tv_nsec = (long)(ns % 1000000000);
	st->st_atim = st->st_ctim = st->st_mtim;
	vnode_free(&v);
	return rc;
}

/* ---- listings ---- */

struct vlist {
	const struct qloc *loc; /* query and index partition listings */
	view_emit_fn emit;	/* readdir's collector */
	void *ctx;
	int err; /* an error of our own */
};

static int list_hit(void *ctx, const struct qhit *h)
{
	struct vlist *l = ctx;
	char name[NAME_BUF];
	struct val pos;
	int rc;

	if (query_entry_name(l->loc, &h->pos->pk, &h->pos->sk, name) < 0)
		return 0; /* unnameable: cannot happen for a stored key */
	if (qpos_pack(h->pos, &pos) < 0) {
		l->err = -ENOMEM;
		return 1;
	}
	rc = l->emit(l->ctx, name, S_IFLNK, &pos);
	val_free(&pos);
	return rc;
}

static int list_ipk(void *ctx, const struct val *pk)
{
	struct vlist *l = ctx;
	char name[NAME_BUF];

	if (name_make(pk, false, name) < 0)
		return 0;
	return l->emit(l->ctx, name, S_IFDIR, pk);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_indexes(struct vnode *v, const struct val *after, struct vlist *l,
			struct dyn_err *err)
{
	const char *names[DB_MAX_INDEXES + 1];
	struct table_schema s;
	char nm[NAME_BUF];
	struct val pos;
	size_t i, n;
	int rc;

	rc = be_table_schema(v->t, &s, err);
	if (rc < 0)
		return rc;
	n = s.nindex < DB_MAX_INDEXES ? s.nindex : DB_MAX_INDEXES;
	for (i = 0; i < n; i++)
		names[i] = s.index[i].name;
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc == 0; i++) {
		if (after && after->type == VAL_S && strcmp(names[i], after->s.p) <= 0)
			continue;
		if (name_make_str(names[i], strlen(names[i]), nm) < 0)
			continue;
		rc = val_init_str(&pos, names[i], strlen(names[i]));
		if (rc < 0)
			break;
		rc = l->emit(l->ctx, nm, S_IFDIR, &pos);
		val_free(&pos);
	}
	schema_free(&s);
	return rc < 0 ? rc : 0;
}

/* Entries of a query directory or an index partition after `after`. */
static int list_query(struct qctx *c, const struct val *after, struct vlist *l,
		      struct dyn_err *err)
{
	struct qpos from;
	int rc;

	l->loc = &c->loc;
	if (after) {
		rc = qpos_unpack(after, &from);
		if (rc < 0)
			return rc;
		rc = query_run(&c->loc, &c->q, &from, false, list_hit, l, err);
		qpos_free(&from);
	} else {
		rc = query_run(&c->loc, &c->q, NULL, false, list_hit, l, err);
	}
	return rc < 0 ? rc : 0;
}

int view_list(struct fsx *fs, struct node *dir, const struct val *after, view_emit_fn emit,
	      void *ctx)
{
	struct vlist l = {.emit = emit, .ctx = ctx};
	enum node_kind kind;
	struct dyn_err err;
	struct vnode v;
	struct qctx c;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = dir->kind;
	pthread_mutex_unlock(&fs->ilock);
	rc = vnode_of(fs, dir, kind, &v);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	err_clear(&err);
	switch (kind) {
	case NK_INDEX_DIR:
		rc = list_indexes(&v, after, &l, &err);
		break;
	case NK_INDEX:
		rc = be_list_partitions(v.t, v.index, after, list_ipk, &l, &err);
		if (rc == -ENOENT)
			rc = 0; /* the index was dropped */
		break;
	case NK_INDEX_PART:
	case NK_QUERY:
		if (kind == NK_QUERY)
			rc = qctx_of(&c, &v, &err);
		else
			rc = qctx_init(&c, v.t, v.index, v.ipk, "", 0, &err);
		if (rc == 0) {
			rc = list_query(&c, after, &l, &err);
			qctx_free(&c);
		}
		if (rc == -ENOENT)
			rc = 0; /* the index was dropped */
		break;
	default:
		rc = -ENOTDIR;
	}
	vnode_free(&v);
	read_err_log(fs, dir, NULL, &err, rc); /* a read failed: once, with the reason */
	if (l.err)
		return l.err;
	return rc < 0 ? rc : 0;
}

/* ---- files, links, rmdir ---- */

int view_open_text(struct fsx *fs, struct node *n, char **text, size_t *len)
{
	enum node_kind kind;
	struct dyn_err err;
	char path[4 * NAME_BUF];
	struct vnode v;
	struct qctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	pthread_mutex_unlock(&fs->ilock);
	rc = vnode_of(fs, n, kind, &v);
	if (rc < 0)
		return rc;
	err_clear(&err);
	if (kind == NK_STATS) {
		rc = stats_text_fs(fs, v.t, text, len);
	} else if (kind != NK_QUERY) {
		rc = -EISDIR;
	} else {
		rc = qctx_of(&c, &v, &err);
		if (rc == 0 && c.q.out == QOUT_DIR)
			rc = -EISDIR;
		else if (rc == 0)
			rc = query_text(&c.loc, &c.q, text, len, &err);
		if (c.parsed)
			qctx_free(&c);
		if (rc == -EINVAL && err.code) {
			table_path(v.t, path, sizeof(path));
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "/.../%s%s",
				 QUERY_PREFIX, v.sk.type == VAL_S ? v.sk.s.p : "");
			errlog_err(fs, path, &err, rc);
		} else {
			read_err_log(fs, n, NULL, &err, rc); /* a read failed */
		}
	}
	vnode_free(&v);
	return rc;
}

int view_readlink(struct fsx *fs, struct node *n, char **target)
{
	enum node_kind kind;
	struct vnode v;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	pthread_mutex_unlock(&fs->ilock);
	if (kind != NK_INDEX_ENTRY)
		return -EINVAL;
	rc = vnode_of(fs, n, NK_INDEX_ENTRY, &v);
	if (rc < 0)
		return rc;
	if (v.pk.type != VAL_S)
		rc = -EINVAL;
	else if (!(*target = strdup(v.pk.s.p)))
		rc = -ENOMEM;
	vnode_free(&v);
	return rc;
}

static int stop_at_first(void *ctx, const struct val *pk)
{
	*(bool *)ctx = true;
	return 1;
}

/* Whether index (NULL: any of s's) has an entry: 1, 0, or -errno when
 * that cannot be told (then rmdir fails with it rather than guess).  A
 * backend without exact statistics (a service's index item counts are
 * estimates, refreshed about every six hours) is asked for one partition. */
static int index_has_entries(struct fsx *fs, be_table_t *t, const struct table_schema *s,
			     const char *index)
{
	struct tbl_stats st;
	bool found = false;
	size_t i;
	int rc;

	if (!(be_caps(fs->be) & BE_CAP_EXACT_STATS)) {
		for (i = 0; !found && i < s->nindex; i++)
			if (!index || !strcmp(index, s->index[i].name)) {
				rc = be_list_partitions(t, s->index[i].name, NULL, stop_at_first,
							&found, NULL);
				if (rc < 0)
					return rc;
			}
		return found;
	}
	be_table_stats(t, &st);
	for (i = 0; i < s->nindex && i < DB_MAX_INDEXES; i++)
		if ((!index || !strcmp(index, s->index[i].name)) && st.index_items[i])
			return 1;
	return 0;
}

int view_rmdir(struct fsx *fs, struct node *n)
{
	const struct index_def *d;
	struct table_schema s;
	enum node_kind kind;
	struct vnode v;
	int rc;

	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	pthread_mutex_unlock(&fs->ilock);
	if (kind == NK_QUERY)
		return -EPERM;
	rc = vnode_of(fs, n, kind, &v);
	if (rc < 0)
		return rc;
	switch (kind) {
	case NK_INDEX_DIR:
		rc = be_table_schema(v.t, &s, NULL);
		if (rc < 0)
			break;
		rc = index_has_entries(fs, v.t, &s, NULL);
		if (rc > 0)
			rc = -ENOTEMPTY;
		schema_free(&s);
		break;
	case NK_INDEX:
		rc = index_def_of(v.t, v.index, &s, &d, NULL);
		if (rc < 0)
			break;
		rc = index_has_entries(fs, v.t, &s, d->name);
		if (rc > 0)
			rc = -ENOTEMPTY;
		schema_free(&s);
		break;
	case NK_INDEX_PART:
		rc = be_partition_exists(v.t, v.index, v.ipk, NULL) == 0 ? -ENOTEMPTY : 0;
		break;
	default:
		rc = -ENOTDIR;
	}
	vnode_free(&v);
	return rc;
}
