/*
 * resolve.c - what a name in a directory stands for, and what the kernel
 * is told about it (attributes, entry replies).
 *
 * One function, resolve(), decides for every directory kind what a name
 * means, so lookup, create, mkdir, unlink and rename cannot disagree:
 *
 *   /            "_errors"; other "_" names reserved (ENOENT); a table
 *                name (SPEC §2 escapes, DynamoDB table-name rules)
 *   /<table>/    scratch children first (they shadow nothing: see below);
 *                "_schema.json"; other "_" names reserved, except names
 *                ending in '~' (editor backups of _schema.json), which
 *                are scratch names; then, without a sort key, item names
 *                "<pk>.json", with one, partition names "<pk>"
 *   /<t>/<pk>/   scratch children; reserved "_" names; item names
 *                "<sk>.json"
 *   scratch dir  scratch names, except as below
 *
 * Item names are strict (SPEC §5).  A name ending in ".json" that is not
 * a dotfile is an item's name wherever items live: a non-canonical
 * spelling of a key ("1.0.json", "007.json", "%41.json") is an alias of
 * the item with the canonical key (r->alias: the kernel is told not to
 * cache the alias, since only canonical names are invalidated), and a
 * name that cannot be a key there ("abc.json" for a number key, a bad
 * %-escape, "x.json" at the top of a table with a sort key or in a
 * scratch directory where items would be) is bad (RES_NONE, r->bad, the
 * reason in r->why): lookups find nothing, creating it fails with EINVAL
 * and a line in /_errors.  Partition names of N and B keys have aliases
 * too ("mkdir 1.0" is partition 1), and a partition name with a bad
 * %-escape cannot be made a directory.  Every other name (dotfiles,
 * "x.json~", "#x.json#", "4913", "sedAb12Cd") is a scratch name.
 *
 * In a table with a sort key a plain file may take a name that would be a
 * partition's (vim probes with "4913"): it is a scratch file, found before
 * partitions, and mkdir of that name fails with EEXIST while it exists.
 *
 * Attributes.  Items are 0644 and directories 0755, owned by the user who
 * mounted; an item's size is the exact length of its canonical text and
 * its times are the commit time; a table directory shows the table's last
 * change; a partition directory shows its table's last change too (the
 * engine keeps no per-partition time, and scanning a partition for one
 * would make `ls -l` of a table cost a full scan).  Directories have
 * st_nlink 1, the convention for "subdirectory count unknown" that find
 * and fts honour.
 */
#include "fsx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "ctl.h"
#include "ops.h"
#include "trace.h"

/* ---- shortened names: find the key among candidates ---- */

struct cand {
	const struct val *prefix; /* the keys sought start with it */
	const char *name;	  /* the name looked up */
	bool json;		  /* names carry ".json" */
	bool by_sk;		  /* compare the sort key (else pk) */
	bool unordered;		  /* a scan not in key order: every key is looked at */
	struct val found;	  /* the key, once found (owned) */
};

static int cand_key(struct cand *c, const struct val *key)
{
	char buf[NAME_BUF];

	if (!name_key_has_prefix(key, c->prefix))
		return c->unordered ? 0 : 1; /* past the keys with this prefix, in key order */
	if (name_make(key, c->json, buf) >= 0 && !strcmp(buf, c->name))
		return val_copy(&c->found, key) < 0 ? -ENOMEM : 2;
	return 0;
}

static int cand_item(void *ctx, const struct be_ref *r)
{
	struct cand *c = ctx;

	return cand_key(c, c->by_sk ? be_ref_sk(r) : be_ref_pk(r));
}

static int cand_part(void *ctx, const struct val *pk)
{
	return cand_key(ctx, pk);
}

/*
 * The key of a shortened name: within partition pk (by sort key) when pk
 * is given, else among partition keys (json false) or the keys of a table
 * without sort key (json true).  0 and *out (new), or -ENOENT.
 */
static int find_short(be_table_t *t, const struct val *pk, const struct val *prefix,
		      const char *name, bool json, struct val *out)
{
	struct cand c = {.prefix = prefix, .name = name, .json = json, .by_sk = pk != NULL};
	int rc;

	val_init_null(&c.found);
	if (pk) {
		struct tbl_query q = {.pk = pk};

		q.sk.prefix = prefix;
		rc = be_query(t, &q, cand_item, &c, NULL);
	} else if (!json) {
		rc = be_list_partitions(t, NULL, prefix, cand_part, &c, NULL);
	} else {
		/* in key order the candidates follow the prefix; else (a
		 * service's Scan) they are anywhere: the whole table is read */
		struct tbl_scan s = {.start_pk = prefix};

		c.unordered = !(be_caps(t->be) & BE_CAP_ORDERED);
		if (c.unordered)
			s.start_pk = NULL;
		rc = be_scan(t, &s, cand_item, &c, NULL);
	}
	if (rc == 2) {
		val_move(out, &c.found);
		return 0;
	}
	val_free(&c.found);
	return rc < 0 ? rc : -ENOENT;
}

/* A key name of type t in the directory: 0 key found/complete, -EINVAL not
 * a key name, -ENOENT a shortened name that names no item. */
static int key_of_name(be_table_t *t, const struct val *pk, const char *name, enum val_type type,
		       bool json, struct val *out)
{
	struct name_key k;
	int rc = name_parse(name, strlen(name), type, json, &k);

	if (rc < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	if (k.kind == NAME_FULL) {
		val_move(out, &k.key);
		return 0;
	}
	rc = find_short(t, pk, &k.key, name, json, out);
	name_key_free(&k);
	return rc;
}

/* ---- strict item names ---- */

/* name ends in ".json" and is not a dotfile: an item name, never scratch */
static bool json_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > NAME_SUFFIX_LEN &&
	       !strcmp(name + n - NAME_SUFFIX_LEN, NAME_SUFFIX);
}

static const char *type_words(enum val_type t)
{
	switch (t) {
	case VAL_S:
		return "S (a string)";
	case VAL_N:
		return "N (a number)";
	default:
		return "B (binary, named in base64url)";
	}
}

static int set_bad(struct resolved *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_bad(struct resolved *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->bad = true;
	r->what = RES_NONE;
	return 0;
}

/*
 * The canonical parse of name failed: an alias of a key of attribute a
 * (0, *out new, r->alias), or -EINVAL with r->why saying why not.
 */
static int alias_of_name(struct resolved *r, const char *name, const struct key_attr *a,
			 bool json, struct val *out)
{
	const char *why;
	int rc = name_parse_alias(name, strlen(name), a->type, json, out, &why);

	if (rc == 0)
		r->alias = true;
	else if (rc == -EINVAL)
		snprintf(r->why, sizeof(r->why),
			 "not an item name: the key attribute %s is of type %s, and this name "
			 "%s", a->name, type_words(a->type), why);
	return rc;
}

/*
 * A ".json" name in a scratch directory that sits where partitions or
 * items live (directly in a table or partition, not a dotfile): items
 * cannot be there, so the name is bad rather than a silent scratch file.
 */
static int scratch_dir_json(struct fsx *fs, struct node *dir, const char *name,
			    struct resolved *r)
{
	const struct key_attr *ka, *kb;
	struct node *p = node_get(fs, dir->parent);
	enum node_kind pk = NK_ROOT;
	char dname[NAME_BUF] = "";
	be_table_t *t = NULL;
	size_t i;

	if (!p)
		return 0;
	pthread_mutex_lock(&fs->ilock);
	if (p->kind == NK_TABLE || p->kind == NK_PART) {
		pk = p->kind;
		t = p->table;
		for (i = 0; i < p->kids.n; i++)
			if (p->kids.v[i].node == dir)
				snprintf(dname, sizeof(dname), "%s", p->kids.v[i].name);
	}
	pthread_mutex_unlock(&fs->ilock);
	if (t && dname[0] && dname[0] != '.' && be_table_alive(t)) {
		ka = be_table_pk(t);
		kb = be_table_sk(t);
		if (pk == NK_PART)
			set_bad(r, "items of a partition are <%s>.json directly in the partition "
				   "(%s: %s); %s is a scratch directory, not stored",
				kb->name, kb->name, type_words(kb->type), dname);
		else if (!kb)
			set_bad(r, "this table has no sort key: its items are <%s>.json directly "
				   "in the table (%s: %s); %s is a scratch directory, not stored",
				ka->name, ka->name, type_words(ka->type), dname);
		else
			set_bad(r, "%s is not a partition (the partition key %s is of type %s), "
				   "so it holds no items", dname, ka->name, type_words(ka->type));
	}
	node_put(fs, p);
	return 0;
}

/* ---- resolve ---- */

static bool is_backup_name(const char *name)
{
	size_t n = strlen(name);

	return n > 1 && name[n - 1] == '~';
}

void resolved_free(struct fsx *fs, struct resolved *r)
{
	node_put(fs, r->node);
	r->node = NULL;
	val_free(&r->pk);
	val_free(&r->sk);
	free(r->tname);
	r->tname = NULL;
}

static int resolve_root(struct fsx *fs, const char *name, struct resolved *r)
{
	size_t len;
	be_table_t *t;
	int rc;

	if (!strcmp(name, "_errors")) {
		r->what = RES_NODE;
		r->own = true;
		pthread_mutex_lock(&fs->ilock);
		fs->errors->refs++;
		pthread_mutex_unlock(&fs->ilock);
		r->node = fs->errors;
		return 0;
	}
	if (!strcmp(name, "_tx")) { /* a control file (ctl.h) */
		r->what = RES_NODE;
		r->own = true;
		pthread_mutex_lock(&fs->ilock);
		fs->tx->refs++;
		pthread_mutex_unlock(&fs->ilock);
		r->node = fs->tx;
		return 0;
	}
	rc = changes_resolve(fs, fs->root, NULL, name, &r->node); /* changes.h */
	if (rc <= 0) {
		if (rc == 0) {
			r->what = RES_NODE;
			r->own = true;
		}
		return rc;
	}
	if (name[0] == '_' || name_parse_str(name, strlen(name), &r->tname, &len) < 0 ||
	    !db_name_valid(r->tname)) {
		r->what = RES_NONE;
		return 0;
	}
	rc = be_table_open(fs->be, r->tname, &t, &r->err);
	if (rc == -ENOENT) {
		r->what = RES_TABLE;
		return 0;
	}
	if (rc < 0)
		return rc;
	r->node = node_ident(fs, NK_TABLE, t, NULL, NULL, true);
	if (r->node) {
		pthread_mutex_lock(&fs->ilock);
		r->node->parent = FSX_ROOT_INO;
		pthread_mutex_unlock(&fs->ilock);
	}
	be_table_close(t);
	r->what = RES_NODE;
	return r->node ? 0 : -ENOMEM;
}

/* An item key: an existing item (or one being created) is a node. */
static int resolve_item(struct fsx *fs, struct node *dir, be_table_t *t, struct resolved *r)
{
	const struct val *sk = r->sk.type == VAL_NULL ? NULL : &r->sk;
	struct node *n;
	int rc;

	r->what = RES_ITEM;
	rc = be_get(t, &r->pk, sk, NULL, r->want_meta ? &r->meta : NULL, &r->err);
	r->has_meta = rc == 0 && r->want_meta;
	n = node_ident(fs, NK_ITEM, t, &r->pk, sk, rc == 0);
	if (rc < 0 && rc != -ENOENT) {
		node_put(fs, n);
		return rc;
	}
	if (n) {
		pthread_mutex_lock(&fs->ilock);
		if (rc == 0 || n->pending) {
			n->parent = dir->ino;
			r->node = n;
			r->what = RES_NODE;
			n = NULL;
		}
		pthread_mutex_unlock(&fs->ilock);
		node_put(fs, n);
	} else if (rc == 0) {
		return -ENOMEM;
	}
	r->exists = r->what == RES_NODE;
	return 0;
}

static int resolve_part(struct fsx *fs, struct node *dir, be_table_t *t, struct resolved *r)
{
	struct node *n;
	int rc;

	r->what = RES_PART;
	rc = be_partition_exists(t, NULL, &r->pk, &r->err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	n = node_ident(fs, NK_PART, t, &r->pk, NULL, rc == 0);
	if (!n)
		return rc == 0 ? -ENOMEM : 0;
	pthread_mutex_lock(&fs->ilock);
	if (rc == 0 || n->pinned || n->kids.n) {
		n->parent = dir->ino;
		r->node = n;
		r->what = RES_NODE;
		n = NULL;
	}
	pthread_mutex_unlock(&fs->ilock);
	node_put(fs, n);
	return 0;
}

static int resolve_in(struct fsx *fs, struct node *dir, const char *name, struct resolved *r,
		      bool want_meta);

int resolve(struct fsx *fs, struct node *dir, const char *name, struct resolved *r)
{
	int rc = resolve_in(fs, dir, name, r, false);

	read_err_log(fs, dir, name, &r->err, rc);
	return rc;
}

int resolve_lookup(struct fsx *fs, struct node *dir, const char *name, struct resolved *r)
{
	int rc = resolve_in(fs, dir, name, r, true);

	read_err_log(fs, dir, name, &r->err, rc);
	return rc;
}

static int resolve_in(struct fsx *fs, struct node *dir, const char *name, struct resolved *r,
		      bool want_meta)
{
	const struct key_attr *ska;
	enum node_kind kind;
	const char *why;
	struct node *kid;
	struct val dpk, dsk;
	be_table_t *t;
	int rc;

	memset(r, 0, sizeof(*r));
	err_clear(&r->err);
	val_init_null(&r->pk);
	val_init_null(&r->sk);
	r->dir = dir;
	r->want_meta = want_meta;
	if (strlen(name) > NAME_LEN_MAX)
		return -ENAMETOOLONG;

	pthread_mutex_lock(&fs->ilock);
	kind = dir->kind;
	if (kind == NK_SCRATCH && !S_ISDIR(dir->scr->mode))
		kind = NK_ITEM; /* not a directory */
	kid = (kind == NK_TABLE || kind == NK_PART || kind == NK_SCRATCH)
		      ? kids_find(&dir->kids, name) : NULL;
	if (kid)
		kid->refs++;
	pthread_mutex_unlock(&fs->ilock);
	if (kid) {
		r->what = RES_NODE;
		r->node = kid;
		return 0;
	}
	switch (kind) {
	case NK_ROOT:
		return resolve_root(fs, name, r);
	case NK_SCRATCH:
		r->what = RES_SCRATCH;
		return json_name(name) ? scratch_dir_json(fs, dir, name, r) : 0;
	case NK_TABLE:
	case NK_PART:
		break;
	case NK_INDEX_DIR:
	case NK_INDEX:
	case NK_INDEX_PART:
	case NK_QUERY:
		return view_resolve(fs, dir, name, r);
	default:
		return -ENOTDIR;
	}

	rc = node_key(fs, dir, &t, &dpk, &dsk);
	if (rc < 0)
		return rc;
	r->table = t;
	if (!be_table_alive(t)) {
		rc = -ENOENT;
		goto out;
	}
	if (name[0] == '_') {
		if (kind == NK_TABLE && !strcmp(name, "_schema.json")) {
			r->node = node_ident(fs, NK_SCHEMA, t, NULL, NULL, true);
			r->what = RES_NODE;
			r->own = true;
			rc = r->node ? 0 : -ENOMEM;
			goto out;
		}
		if (kind == NK_TABLE && !strcmp(name, "_batch")) { /* ctl.h */
			r->node = node_ident(fs, NK_BATCH, t, NULL, NULL, true);
			r->what = RES_NODE;
			r->own = true;
			rc = r->node ? 0 : -ENOMEM;
			goto out;
		}
		if (kind == NK_TABLE) { /* _changes, _changes?since= (changes.h) */
			rc = changes_resolve(fs, dir, t, name, &r->node);
			if (rc <= 0) {
				if (rc == 0) {
					r->what = RES_NODE;
					r->own = true;
				}
				goto out;
			}
		}
		rc = view_special(fs, dir, t, name, r); /* _stats.json, _index, _query? */
		if (rc <= 0)
			goto out;
		rc = 0;
		r->what = is_backup_name(name) ? RES_SCRATCH : RES_NONE;
		goto out;
	}
	ska = be_table_sk(t);
	if (kind == NK_TABLE) {
		const struct key_attr *ka = be_table_pk(t);

		rc = key_of_name(t, NULL, name, ka->type, !ska, &r->pk);
		if (rc == -EINVAL && (ska ? ka->type != VAL_S : json_name(name)))
			rc = alias_of_name(r, name, ka, !ska, &r->pk);
		if (rc == 0)
			rc = ska ? resolve_part(fs, dir, t, r) : resolve_item(fs, dir, t, r);
		else if (rc == -EINVAL && ska && json_name(name))
			rc = set_bad(r, "this table has a sort key: its items are "
					"<%s>/<%s>.json, one directory down (%s: %s; %s: %s)",
				     ka->name, ska->name, ka->name, type_words(ka->type),
				     ska->name, type_words(ska->type));
		else if (rc == -EINVAL && ska && !name_escapes_ok(name, strlen(name), &why)) {
			/* a file may have this name, a partition may not */
			snprintf(r->why, sizeof(r->why), "not a partition name: it %s", why);
			r->bad = true;
		}
	} else {
		/* (a partition of a table whose key schema changed since: no items) */
		rc = ska ? key_of_name(t, &dpk, name, ska->type, true, &r->sk) : -EINVAL;
		if (rc == -EINVAL && ska && json_name(name))
			rc = alias_of_name(r, name, ska, true, &r->sk);
		else if (rc == -EINVAL && !ska)
			snprintf(r->why, sizeof(r->why),
				 "this table has no sort key (any more): no items here");
		if (rc == 0) {
			val_move(&r->pk, &dpk);
			rc = resolve_item(fs, dir, t, r);
		}
	}
	if (rc == -EINVAL && json_name(name)) { /* never a scratch name */
		r->bad = true;
		r->what = RES_NONE;
		rc = 0;
	} else if (rc == -EINVAL) { /* not a key's name */
		r->what = RES_SCRATCH;
		rc = 0;
	} else if (rc == -ENOENT) { /* a shortened name of no item */
		r->what = kind == NK_TABLE && ska ? RES_PART : RES_ITEM;
		r->shortened = true;
		rc = 0;
	}
	if (r->what == RES_PART)
		r->item_like = json_name(name);
out:
	val_free(&dpk);
	val_free(&dsk);
	return rc;
}

int refuse_bad(struct fsx *fs, struct resolved *r, const char *name)
{
	return bad_name(fs, r->dir, name, r->why);
}

int refuse_item_like(struct fsx *fs, struct resolved *r, const char *name)
{
	return bad_name(fs, r->dir, name,
			"this table has a sort key: its items are <partition>/<sort key>.json, "
			"one directory down");
}

/* ---- attributes ---- */

static void ts_of(struct timespec *ts, int64_t ns)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

static void set_times(struct stat *st, int64_t ns)
{
	ts_of(&st->st_mtim, ns);
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static int64_t table_mtime(struct fsx *fs, be_table_t *t)
{
	struct tbl_stats s;

	be_table_stats(t, &s);
	return s.mtime_ns ? s.mtime_ns : fs->start_ns;
}

/* Attributes of a table-bound node (no ilock held); known: an item's
 * meta as a read made for this request gave it (or NULL: read it). */
static int bound_attr(struct fsx *fs, struct node *n, enum node_kind kind, struct stat *st,
		      double *timeout, const struct item_meta *known)
{
	struct item_meta meta;
	struct dyn_err err;
	struct val pk, sk;
	be_table_t *t;
	size_t len;
	char *text;
	int rc;

	err_clear(&err);
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0)
		return rc;
	if (!be_table_alive(t)) {
		rc = -ENOENT;
		goto out;
	}
	switch (kind) {
	case NK_TABLE:
	case NK_PART:
		st->st_mode = node_fixed_mode(fs, kind);
		set_times(st, table_mtime(fs, t));
		break;
	case NK_BATCH:
		ctl_attr(fs, n, fs->start_ns, st);
		st->st_blksize = CTL_BATCH_BLKSIZE;
		break;
	case NK_SCHEMA:
		rc = schema_text(t, &text, &len, &err);
		if (rc < 0)
			goto out;
		free(text);
		st->st_mode = node_fixed_mode(fs, kind);
		st->st_size = (off_t)len;
		set_times(st, table_mtime(fs, t));
		break;
	case NK_ITEM:
		st->st_mode = node_fixed_mode(fs, kind);
		if (known)
			meta = *known;
		else
			rc = be_get(t, &pk, sk.type == VAL_NULL ? NULL : &sk, NULL, &meta, &err);
		if (rc == -ENOENT) {
			/* being created, or deleted while open */
			pthread_mutex_lock(&fs->ilock);
			st->st_nlink = n->pending && n->hashed ? 1 : 0;
			set_times(st, n->ctime_ns);
			pthread_mutex_unlock(&fs->ilock);
			*timeout = 0;
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		st->st_size = (off_t)meta.text_len;
		set_times(st, item_mtime(fs, n, &meta));
		break;
	default:
		rc = -EIO;
	}
out:
	read_err_log(fs, n, NULL, &err, rc);
	val_free(&pk);
	val_free(&sk);
	return rc;
}

static int attr_of(struct fsx *fs, struct node *n, struct stat *st, double *timeout,
		   const struct item_meta *known);

mode_t node_fixed_mode(struct fsx *fs, enum node_kind kind)
{
	switch (kind) {
	case NK_ROOT:
	case NK_TABLE:
	case NK_PART:
		return S_IFDIR | 0755;
	case NK_ITEM:
	case NK_SCHEMA:
		return S_IFREG | (fs->readonly ? 0444 : 0644);
	case NK_ERRORS:
	case NK_STATS:
		return S_IFREG | 0444;
	default:
		return 0;
	}
}

int node_attr(struct fsx *fs, struct node *n, struct stat *st, double *timeout)
{
	return attr_of(fs, n, st, timeout, NULL);
}

static int attr_of(struct fsx *fs, struct node *n, struct stat *st, double *timeout,
		   const struct item_meta *known)
{
	enum node_kind kind;
	int64_t ns;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	*timeout = fs->timeout;

	pthread_mutex_lock(&fs->ilock);
	kind = n->kind;
	if (kind == NK_SCRATCH) {
		scratch_attr(n, st);
	} else if (kind == NK_ROOT) {
		st->st_mode = node_fixed_mode(fs, kind);
		set_times(st, fs->root_mtime_ns);
	} else if ((kind == NK_ITEM || kind == NK_SCHEMA) && (n->writers || !n->hashed)) {
		*timeout = 0; /* a writer's commit must show at once */
	}
	pthread_mutex_unlock(&fs->ilock);
	if (*timeout > 0)
		attr_given(n); /* before reading them (inval.c) */

	switch (kind) {
	case NK_ROOT:
	case NK_SCRATCH:
		break;
	case NK_ERRORS:
		st->st_mode = node_fixed_mode(fs, kind);
		st->st_size = (off_t)errlog_size(fs, &ns);
		set_times(st, ns);
		*timeout = 0;
		break;
	case NK_STATS:
	case NK_INDEX_DIR:
	case NK_INDEX:
	case NK_INDEX_PART:
	case NK_INDEX_ENTRY:
	case NK_QUERY:
		rc = view_attr(fs, n, kind, st, timeout);
		break;
	case NK_TX:
		ctl_attr(fs, n, fs->start_ns, st);
		break;
	case NK_CHANGES:
		changes_attr(fs, n, st);
		*timeout = 0;
		break;
	default:
		rc = bound_attr(fs, n, kind, st, timeout, kind == NK_ITEM ? known : NULL);
	}
	if (fs->readonly && S_ISREG(st->st_mode))
		st->st_mode &= ~0222;
	st->st_blocks = (st->st_size + 511) / 512;
	return rc;
}

/* ---- replies ---- */

void reply_node_entry(fuse_req_t req, struct fsx *fs, struct node *n)
{
	bool known;

	/* mkdir, mknod, symlink, link: the kernel applies the reply's
	 * attributes unchecked; to an inode it has, they may be older than a
	 * change whose invalidation came first (inval.c) */
	pthread_mutex_lock(&fs->ilock);
	known = n->nlookup > 0;
	pthread_mutex_unlock(&fs->ilock);
	if (known)
		__atomic_store_n(&n->attr_sticky, true, __ATOMIC_SEQ_CST);
	reply_lookup_entry(req, fs, n, fsx_chg(fs), NULL);
}

/*
 * Reply n's entry.  alias: reached by a non-canonical spelling, never
 * cached (the observer invalidates canonical names only); else cached
 * unless something changed since c0.
 */
static void reply_entry(fuse_req_t req, struct fsx *fs, struct node *n, bool alias, uint64_t c0,
			const struct item_meta *known)
{
	struct fuse_entry_param e;
	double timeout;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = attr_of(fs, n, &e.attr, &timeout, known);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = n->ino;
	e.generation = fs->gen;
	e.attr_timeout = timeout;
	/* _changes: a fresh node per lookup, so each open has its own size */
	e.entry_timeout = view_volatile(n->kind) || n->kind == NK_CHANGES ? 0 : fs->timeout;
	if (alias || fsx_changed_since(fs, c0))
		e.entry_timeout = e.attr_timeout = 0; /* uncached, or may be stale already */
	node_lookup_inc(fs, n);
	fsx_trace("LOOKUP ino %lu size %lld ato %g eto %g", (unsigned long)n->ino,
		  (long long)e.attr.st_size, e.attr_timeout, e.entry_timeout);
	fsx_delay("lookup");
	if (fuse_reply_entry(req, &e) < 0)
		node_forget(fs, n->ino, 1); /* the kernel never saw it */
}

void reply_lookup_entry(fuse_req_t req, struct fsx *fs, struct node *n, uint64_t c0,
			const struct item_meta *known)
{
	reply_entry(req, fs, n, false, c0, known);
}

void reply_alias_entry(fuse_req_t req, struct fsx *fs, struct node *n)
{
	reply_entry(req, fs, n, true, 0, NULL);
}

void reply_negative(fuse_req_t req, struct fsx *fs, fuse_ino_t parent, const char *name,
		    uint64_t c0)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.entry_timeout = neg_add(fs, parent, name) ? fs->timeout : 0;
	if (fsx_changed_since(fs, c0))
		e.entry_timeout = 0; /* the change may have missed our entry */
	fuse_reply_entry(req, &e);
}

void read_err_log(struct fsx *fs, struct node *n, const char *name, const struct dyn_err *e, int rc)
{
	char path[3 * NAME_BUF + 16];
	size_t len;

	if (rc >= 0 || rc == -ENOENT || !e->code)
		return;
	if (n->kind == NK_ROOT)
		path[0] = 0;
	else if (view_dir_kind(n->kind))
		view_path(fs, n, path, sizeof(path));
	else
		node_path(fs, n, path, sizeof(path));
	len = strlen(path);
	if (name)
		snprintf(path + len, sizeof(path) - len, "/%s", name);
	else if (!len)
		snprintf(path, sizeof(path), "/");
	errlog_err_once(fs, path, e, rc);
}

int node_path(struct fsx *fs, struct node *n, char *buf, size_t size)
{
	char a[NAME_BUF], b[NAME_BUF], c[NAME_BUF];
	struct val pk, sk;
	be_table_t *t;
	int rc;

	if (n->kind == NK_ERRORS)
		return snprintf(buf, size, "/_errors") < 0 ? -EIO : 0;
	rc = node_key(fs, n, &t, &pk, &sk);
	if (rc < 0) {
		snprintf(buf, size, "(scratch file)");
		return 0;
	}
	if (name_make_str(be_table_name(t), strlen(be_table_name(t)), a) < 0)
		snprintf(a, sizeof(a), "%s", be_table_name(t));
	if (n->kind == NK_SCHEMA)
		snprintf(buf, size, "/%s/_schema.json", a);
	else if (pk.type == VAL_NULL)
		snprintf(buf, size, "/%s", a);
	else if (sk.type != VAL_NULL && name_make(&pk, false, b) >= 0 &&
		 name_make(&sk, true, c) >= 0)
		snprintf(buf, size, "/%s/%s/%s", a, b, c);
	else if (name_make(&pk, n->kind == NK_ITEM, b) >= 0)
		snprintf(buf, size, "/%s/%s", a, b);
	val_free(&pk);
	val_free(&sk);
	return 0;
}
