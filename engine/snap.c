/*
 * snap.c - writing and loading snapshots (format in snap.h).
 *
 * Writing never stops the database.  The list of tables and their schemas
 * is taken first; then each table's items are copied SNAP_CHUNK at a time
 * with tbl_scan() under the table's read lock, each chunk resuming after
 * the last key of the previous one: the records' bytes are copied under
 * the lock, rendered to text after it is dropped (struct chunk), and
 * written with no lock held.  The result
 * is not a point-in-time image: store.c's header comment explains why it
 * is nevertheless a correct base for replaying the journal from the lsn
 * in its header.
 *
 * Loading streams: one line at a time through getline(), so memory holds
 * one item's text at a time besides the database itself.  Every line is
 * checked; the trailer's item count and CRC-32C catch truncation at a
 * line boundary and any flipped byte that still parses.  An item line as
 * snap_write renders it, of a table without indexes, is parsed straight
 * into the record a table stores (item_parse_stored: no struct val tree,
 * the size measured on the way); anything that path is not sure of, it
 * declines, and the line takes the val-tree path, whose answers (items
 * and error messages) are the reference.
 */
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "item.h"
#include "keyenc.h"
#include "storefmt.h"
#include "storefile.h"

/* A table being written: an open handle and its schema, taken together. */
struct snap_table {
	table_t *t;		    /* new reference */
	char *name;		    /* owned copy of the name */
	struct table_schema schema; /* owned copy */
};

/* Output state: the FILE plus the running checksum of what went into it. */
struct snap_out {
	FILE *fp;	/* the temp file */
	uint32_t crc;	/* CRC-32C of everything written so far */
	uint64_t bytes; /* bytes written so far */
};

static int out_write(struct snap_out *o, const char *p, size_t n)
{
	if (n && fwrite(p, 1, n, o->fp) != n)
		return -errno ? -errno : -EIO;
	o->crc = crc32c(o->crc, p, n);
	o->bytes += n;
	return 0;
}

static char *snap_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* ---- writing ---- */

struct list_ctx {
	char **names; /* collected table names */
	size_t n;     /* used */
	int err;      /* -ENOMEM */
};

static int list_cb(void *ctx, const char *name)
{
	struct list_ctx *l = ctx;
	char **nn = realloc(l->names, (l->n + 1) * sizeof(*nn));

	if (!nn || !(nn[l->n] = strdup(name))) {
		if (nn)
			l->names = nn;
		l->err = -ENOMEM;
		return 1;
	}
	l->names = nn;
	l->n++;
	return 0;
}

static void tables_free(struct snap_table *tt, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		tbl_close(tt[i].t);
		free(tt[i].name);
		schema_free(&tt[i].schema);
	}
	free(tt);
}

/* Open every table and copy its schema.  -EAGAIN if one vanished. */
static int tables_take(db_t *db, struct snap_table **out, size_t *nout)
{
	struct list_ctx l = {NULL, 0, 0};
	struct snap_table *tt = NULL;
	size_t i;
	int rc = 0;

	db_list_tables(db, NULL, list_cb, &l);
	if (l.err) {
		rc = l.err;
		goto out_names;
	}
	tt = calloc(l.n ? l.n : 1, sizeof(*tt));
	if (!tt) {
		rc = -ENOMEM;
		goto out_names;
	}
	for (i = 0; i < l.n; i++) {
		tt[i].name = l.names[i];
		l.names[i] = NULL;
		rc = db_table_open(db, tt[i].name, &tt[i].t);
		if (rc == 0)
			rc = tbl_schema(tt[i].t, &tt[i].schema);
		if (rc < 0) {
			rc = rc == -ENOENT ? -EAGAIN : rc;
			tables_free(tt, i + 1);
			tt = NULL;
			goto out_names;
		}
	}
	*out = tt;
	*nout = l.n;
out_names:
	for (i = 0; i < l.n; i++)
		free(l.names[i]);
	free(l.names);
	return rc;
}

static int header_render(struct sf_buf *b, uint64_t lsn, struct snap_table *tt, size_t n)
{
	char when[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (sf_buf_printf(b, "{\"dynfs\":\"snapshot\",\"version\":%d,\"lsn\":%llu,"
			     "\"created\":\"%s\",\"tables\":[",
			  SNAP_VERSION, (unsigned long long)lsn, when) < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if ((i && sf_buf_addc(b, ',') < 0) || sf_buf_adds(b, "{\"name\":") < 0 ||
		    sf_json_str(b, tt[i].name, strlen(tt[i].name)) < 0 ||
		    sf_buf_adds(b, ",\"schema\":") < 0 || sf_schema_render(b, &tt[i].schema) < 0 ||
		    sf_buf_addc(b, '}') < 0)
			return -ENOMEM;
	}
	return sf_buf_adds(b, "]}\n");
}

/*
 * One chunk of one table.  Under the read lock the visitor only copies
 * each record's bytes (key and blob: a few hundred bytes, no decoding);
 * they are rendered after the lock is dropped, so a writer waits for a
 * chunk's copy, not for its rendering (about 20 times as long).  Each
 * copied item: key length (2 bytes), blob length (4), key, blob.
 */
struct chunk {
	struct sf_buf raw; /* the chunk's records, copied */
	size_t last;	   /* offset in raw of the last one */
	size_t n;	   /* items in this chunk */
	int rc;		   /* first error */
};

#define RAW_HDR 6 /* key length (2), blob length (4) */

static int chunk_visit(void *ctx, const struct item_ref *r)
{
	struct chunk *c = ctx;
	const uint8_t *key, *blob;
	size_t klen, blen;
	uint16_t k16;
	uint32_t b32;
	char *p;

	iref_bytes(r, &key, &klen, &blob, &blen);
	if (sf_buf_grow(&c->raw, RAW_HDR + klen + blen) < 0) {
		c->rc = -ENOMEM;
		return 1;
	}
	k16 = (uint16_t)klen;
	b32 = (uint32_t)blen;
	c->last = c->raw.len;
	p = c->raw.p + c->raw.len;
	memcpy(p, &k16, 2);
	memcpy(p + 2, &b32, 4);
	memcpy(p + RAW_HDR, key, klen);
	memcpy(p + RAW_HDR + klen, blob, blen);
	c->raw.len += RAW_HDR + klen + blen;
	c->n++;
	return 0;
}

/* The copied item at raw + off: its key and blob; the offset of the next. */
static size_t raw_item(const struct chunk *c, size_t off, const uint8_t **key, size_t *klen,
		       const uint8_t **blob, size_t *blen)
{
	const char *p = c->raw.p + off;
	uint16_t k16;
	uint32_t b32;

	memcpy(&k16, p, 2);
	memcpy(&b32, p + 2, 4);
	*key = (const uint8_t *)p + RAW_HDR;
	*klen = k16;
	*blob = *key + k16;
	*blen = b32;
	return off + RAW_HDR + k16 + b32;
}

/*
 * The key values of a copied key, viewed in place where they can be
 * (keyenc_view), else decoded (*own set: val_free them).  sk is NULL-typed
 * without sort key.  -EINVAL (a corrupt key), -ENOMEM.
 */
static int raw_keys(const struct table_schema *s, const uint8_t *key, size_t klen,
		    struct val *pk, struct val *sk, bool own[2])
{
	size_t used = 0;
	int rc;

	own[0] = own[1] = false;
	val_init_null(sk);
	rc = keyenc_view(key, klen, s->pk.type, pk, &used);
	if (rc == 1) {
		own[0] = true;
		rc = keyenc_decode(key, klen, s->pk.type, pk, &used);
	}
	if (rc < 0 || !s->has_sk)
		return rc;
	rc = keyenc_view(key + used, klen - used, s->sk.type, sk, NULL);
	if (rc == 1) {
		own[1] = true;
		rc = keyenc_decode(key + used, klen - used, s->sk.type, sk, NULL);
	}
	if (rc < 0 && own[0])
		val_free(pk);
	return rc;
}

/* Render the chunk's copied items after prefix ({"t":NAME,"i":), one line each. */
static int chunk_render(const struct chunk *c, const struct table_schema *s,
			const struct sf_buf *prefix, struct sf_buf *out)
{
	const uint8_t *key, *blob;
	size_t off = 0, klen, blen, i;
	struct val pk, sk;
	bool own[2];
	int rc = 0;

	out->len = 0;
	for (i = 0; i < c->n && rc == 0; i++) {
		off = raw_item(c, off, &key, &klen, &blob, &blen);
		rc = raw_keys(s, key, klen, &pk, &sk, own);
		if (rc < 0)
			break;
		rc = sf_buf_add(out, prefix->p, prefix->len);
		if (rc == 0)
			rc = item_render_blob_append(s->pk.name, &pk, s->has_sk ? s->sk.name : NULL,
						     s->has_sk ? &sk : NULL, blob, blen, &out->p,
						     &out->len, &out->cap);
		if (rc == 0)
			rc = sf_buf_add(out, "}\n", 2);
		if (own[0])
			val_free(&pk);
		if (own[1])
			val_free(&sk);
	}
	return rc;
}

/* Copy one table's items to the file, chunk by chunk. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where the next chunk starts: after the key of the chunk's last item. */
static int chunk_resume(const struct chunk *c, const struct table_schema *s, struct val *spk,
			struct val *ssk)
{
	const uint8_t *key, *blob;
	size_t klen, blen, used;
	int rc;

	raw_item(c, c->last, &key, &klen, &blob, &blen);
	val_free(spk);
	val_free(ssk);
	rc = keyenc_decode(key, klen, s->pk.type, spk, &used);
	if (rc == 0 && s->has_sk)
		rc = keyenc_decode(key + used, klen - used, s->sk.type, ssk, NULL);
	return rc;
}

static int table_write(struct snap_out *o, struct snap_table *st, uint64_t *items,
		       uint64_t *max_hold_ns)
{
	uint64_t t0;
	struct chunk c = {SF_BUF_INIT, 0, 0, 0};
	struct sf_buf prefix = SF_BUF_INIT, text = SF_BUF_INIT;
	struct val spk, ssk;
	struct tbl_scan sc = {0};
	int rc;

	val_init_null(&spk);
	val_init_null(&ssk);
	if (sf_buf_adds(&prefix, "{\"t\":") < 0 ||
	    sf_json_str(&prefix, st->name, strlen(st->name)) < 0 ||
	    sf_buf_adds(&prefix, ",\"i\":") < 0) {
		rc = -ENOMEM;
		goto out;
	}
	sc.limit = SNAP_CHUNK;
	for (;;) {
		c.n = 0;
		c.raw.len = 0;
		t0 = thread_cpu_ns();
		rc = tbl_scan(st->t, &sc, chunk_visit, &c, NULL);
		t0 = thread_cpu_ns() - t0;
		if (t0 > *max_hold_ns)
			*max_hold_ns = t0;
		if (c.rc < 0) {
			rc = c.rc;
			goto out;
		}
		if (rc < 0) {
			rc = rc == -ENOENT ? -EAGAIN : rc;
			goto out;
		}
		rc = chunk_render(&c, &st->schema, &prefix, &text);
		if (rc == 0)
			rc = out_write(o, text.p, text.len);
		if (rc < 0)
			goto out;
		*items += c.n;
		if (c.n < SNAP_CHUNK)
			break;
		/* resume after the last key seen */
		rc = chunk_resume(&c, &st->schema, &spk, &ssk);
		if (rc < 0)
			goto out;
		sc.start_pk = &spk;
		if (st->schema.has_sk)
			sc.start_sk = &ssk;
	}
	rc = 0;
out:
	val_free(&spk);
	val_free(&ssk);
	sf_buf_free(&c.raw);
	sf_buf_free(&text);
	sf_buf_free(&prefix);
	return rc;
}

static void (*test_hook)(void *ctx, const char *table);
static void *test_hook_ctx;

void snap_set_test_hook(void (*fn)(void *ctx, const char *table), void *ctx)
{
	test_hook = fn;
	test_hook_ctx = ctx;
}

static int write_body(struct snap_out *o, db_t *db, uint64_t lsn, struct snap_info *info)
{
	struct snap_table *tt = NULL;
	struct sf_buf b = SF_BUF_INIT;
	size_t n = 0, i;
	int rc;

	if (db) {
		rc = tables_take(db, &tt, &n);
		if (rc < 0)
			return rc;
	}
	rc = header_render(&b, lsn, tt, n);
	if (rc == 0)
		rc = out_write(o, b.p, b.len);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = table_write(o, &tt[i], &info->items, &info->max_hold_ns);
		if (rc == 0 && test_hook)
			test_hook(test_hook_ctx, tt[i].name);
	}
	if (rc == 0) {
		b.len = 0;
		rc = sf_buf_printf(&b, "{\"end\":\"snapshot\",\"tables\":%zu,\"items\":%llu,"
				       "\"crc32c\":\"%08x\"}\n",
				   n, (unsigned long long)info->items, o->crc);
		if (rc == 0)
			rc = out_write(o, b.p, b.len);
	}
	info->tables = n;
	sf_buf_free(&b);
	if (tt)
		tables_free(tt, n);
	return rc;
}

int snap_write(const char *dir, db_t *db, uint64_t lsn, struct snap_info *info,
	       struct dyn_err *err)
{
	struct snap_out o = {NULL, 0, 0};
	char *tmp = snap_path(dir, SNAP_TMP_NAME);
	int fd, rc;

	memset(info, 0, sizeof(*info));
	info->version = SNAP_VERSION;
	info->lsn = lsn;
	if (!tmp)
		return -ENOMEM;
	fd = stf_create(tmp);
	if (fd < 0)
		errno = -fd;
	if (fd < 0 || !(o.fp = fdopen(fd, "w"))) {
		rc = err_set(err, errno, "snapshot %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out_unlink;
	}
	setvbuf(o.fp, NULL, _IOFBF, 1 << 20);
	rc = write_body(&o, db, lsn, info);
	if (rc == -EAGAIN) {
		err_set(err, EAGAIN, "snapshot: a table was dropped while it was being written");
		goto out_close;
	}
	if (rc == 0 && (fflush(o.fp) != 0 || fsync(fileno(o.fp)) < 0))
		rc = -errno;
	if (rc < 0) {
		err_set(err, -rc, "snapshot %s: %s", tmp, strerror(-rc));
		goto out_close;
	}
	if (fclose(o.fp) != 0) {
		o.fp = NULL;
		rc = err_set(err, errno, "snapshot %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	info->bytes = o.bytes;
	free(tmp);
	return 0;
out_close:
	fclose(o.fp);
out_unlink:
	unlink(tmp);
	free(tmp);
	return rc;
}

int snap_commit(const char *dir, struct dyn_err *err)
{
	char *tmp = snap_path(dir, SNAP_TMP_NAME), *path = snap_path(dir, SNAP_NAME);
	int fd, rc = 0;

	if (!tmp || !path) {
		rc = -ENOMEM;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = err_set(err, errno, "snapshot %s: rename: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = err_set(err, errno, "store %s: fsync: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
out:
	free(tmp);
	free(path);
	return rc;
}

void snap_discard(const char *dir)
{
	char *tmp = snap_path(dir, SNAP_TMP_NAME);

	if (tmp)
		unlink(tmp);
	free(tmp);
}

int snap_write_empty(const char *dir, uint64_t lsn, struct dyn_err *err)
{
	struct snap_info info;
	int rc = snap_write(dir, NULL, lsn, &info, err);

	return rc < 0 ? rc : snap_commit(dir, err);
}

/* ---- loading ---- */

/* Where we are in the file, for messages. */
struct snap_rd {
	const char *path;   /* file name */
	uint64_t line;	    /* 1-based line number */
	uint64_t off;	    /* byte offset of the line */
	char **names;	    /* tables declared in the header */
	char **pks, **sks;  /* their key attribute names (sks[k] NULL: no sort key) */
	struct sf_buf *pfx; /* their item lines' start as written: {"t":NAME,"i": */
	size_t nnames;	    /* entries in names, pks, sks, pfx */
	size_t cur;	    /* index of the table of the previous item */
	bool any;	    /* an item was loaded (cur and last are meaningful) */
	struct keyenc_buf last; /* key of the previous item, to check the order */
	struct keyenc_buf key;	/* key of this item */
	db_t *db;	    /* target */
	struct snap_info *info; /* results */
	table_t **tabs;	    /* the tables created, held in bulk mode (tbl_bulk_begin) */
	size_t ntabs;	    /* entries in tabs */
	struct item_arena *arena; /* the fast path's items (item_parse_arena), or NULL */
	bool *plain;	    /* per table: no indexes (items go in stored form) */
	struct item_stored st; /* the stored-form path's item (item_parse_stored) */
};

static int corrupt(struct snap_rd *r, struct dyn_err *err, const char *what)
{
	char buf[600];

	if (err && err->code && err->msg[0])
		err_format(err, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", what);
	if (err)
		err_clear(err);
	return err_set(err, EINVAL,
		       "snapshot %s: line %llu (offset %llu): %s; refusing to open, nothing was "
		       "changed",
		       r->path, (unsigned long long)r->line, (unsigned long long)r->off, buf);
}

static int header_table(struct snap_rd *r, struct sf_span v, struct dyn_err *err)
{
	struct table_schema s;
	struct db_change ch = {0};
	struct sf_iter it;
	struct sf_span k, x, sch = {NULL, 0};
	struct sf_buf *pfx = NULL;
	char *name = NULL, **nn;
	bool *plain = NULL;
	table_t **tabs;
	int rc;

	if (sf_obj_open(&it, v) < 0)
		return -EINVAL;
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "name") && !name) {
			rc = sf_span_str(x, &name, NULL, err);
			if (rc < 0)
				return rc;
		} else if (sf_key_is(k, "schema")) {
			sch = x;
		}
	}
	if (rc < 0 || !name || !sch.p) {
		free(name);
		return -EINVAL;
	}
	nn = realloc(r->names, (r->nnames + 1) * sizeof(*nn));
	if (nn)
		r->names = nn;
	if (nn && (nn = realloc(r->pks, (r->nnames + 1) * sizeof(*nn))))
		r->pks = nn;
	if (nn && (nn = realloc(r->sks, (r->nnames + 1) * sizeof(*nn))))
		r->sks = nn;
	if (nn && (pfx = realloc(r->pfx, (r->nnames + 1) * sizeof(*pfx))))
		r->pfx = pfx;
	if (nn && pfx && (plain = realloc(r->plain, (r->nnames + 1) * sizeof(*plain))))
		r->plain = plain;
	if (!nn || !pfx || !plain) {
		free(name);
		return -ENOMEM;
	}
	r->names[r->nnames] = name;
	r->pks[r->nnames] = r->sks[r->nnames] = NULL;
	r->plain[r->nnames] = false;
	r->pfx[r->nnames] = (struct sf_buf)SF_BUF_INIT;
	r->nnames++;
	pfx = &r->pfx[r->nnames - 1];
	if (sf_buf_adds(pfx, "{\"t\":") < 0 || sf_json_str(pfx, name, strlen(name)) < 0 ||
	    sf_buf_adds(pfx, ",\"i\":") < 0)
		return -ENOMEM;
	rc = sf_schema_parse(sch, &s, err);
	if (rc < 0)
		return rc;
	r->pks[r->nnames - 1] = strdup(s.pk.name);
	r->sks[r->nnames - 1] = s.has_sk ? strdup(s.sk.name) : NULL;
	if (!r->pks[r->nnames - 1] || (s.has_sk && !r->sks[r->nnames - 1])) {
		schema_free(&s);
		return -ENOMEM;
	}
	ch.kind = DB_CH_CREATE_TABLE;
	ch.table = name;
	ch.schema = &s;
	rc = db_replay(r->db, &ch, err);
	r->plain[r->nnames - 1] = s.nindex == 0;
	schema_free(&s);
	if (rc < 0)
		return rc;
	/* Loading is one long run of puts: keep the tree nodes reserved for
	 * one between them (db.h, tbl_bulk_begin). */
	tabs = realloc(r->tabs, (r->ntabs + 1) * sizeof(*tabs));
	if (!tabs)
		return -ENOMEM;
	r->tabs = tabs;
	/* tabs[k] is table k's (item_fast relies on it) */
	rc = db_table_open(r->db, name, &r->tabs[r->ntabs]);
	if (rc < 0)
		return rc;
	tbl_bulk_begin(r->tabs[r->ntabs++]);
	return 0;
}

static int header_parse(struct snap_rd *r, const char *line, size_t len, struct dyn_err *err)
{
	struct sf_span all, k, x, tables = {NULL, 0};
	struct sf_iter it;
	bool magic = false, have_version = false, have_lsn = false;
	uint64_t version = 0;
	char *s;
	int rc;

	if (sf_whole(line, len, &all) < 0 || sf_obj_open(&it, all) < 0)
		return corrupt(r, err, "not a dynfs snapshot (the first line is not a JSON object)");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "dynfs")) {
			if (sf_span_str(x, &s, NULL, NULL) == 0) {
				magic = !strcmp(s, "snapshot");
				free(s);
			}
		} else if (sf_key_is(k, "version")) {
			have_version = sf_span_u64(x, &version) == 0;
		} else if (sf_key_is(k, "lsn")) {
			have_lsn = sf_span_u64(x, &r->info->lsn) == 0;
		} else if (sf_key_is(k, "tables")) {
			tables = x;
		}
	}
	if (rc < 0 || !magic)
		return corrupt(r, err, "not a dynfs snapshot (bad header line)");
	if (!have_version || version == 0)
		return corrupt(r, err, "header without a valid version");
	r->info->version = (uint32_t)version;
	if (version > SNAP_VERSION)
		return err_set(err, EPROTO,
			       "snapshot %s: format version %llu is newer than this dynfs supports "
			       "(%d); use a newer dynfs",
			       r->path, (unsigned long long)version, SNAP_VERSION);
	if (!have_lsn || !tables.p || sf_arr_open(&it, tables) < 0)
		return corrupt(r, err, "header without lsn or tables");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		rc = header_table(r, x, err);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			return corrupt(r, err, "bad table in the header");
	}
	if (rc < 0)
		return corrupt(r, err, "malformed table list in the header");
	r->info->tables = r->nnames;
	return 0;
}

/*
 * Items are written in key order within a table and tables in header
 * order; a file where they are not was edited or damaged, and loading it
 * would silently keep one of two copies of an item.  Refuse it.
 */
static int check_order(struct snap_rd *r, size_t k, const struct val *pk, const struct val *sk,
		       struct dyn_err *err)
{
	const char *skn = r->sks[k];
	size_t n;
	int c;

	if (r->any && k < r->cur)
		return corrupt(r, err, "items out of order (an item of a table listed earlier in "
				       "the header after items of a later table)");
	if (!pk || (skn && !sk)) {
		r->cur = k;
		return 0; /* loading reports the missing key */
	}
	r->key.len = 0;
	if (keyenc_append(&r->key, pk) < 0 || (sk && keyenc_append(&r->key, sk) < 0))
		return -ENOMEM;
	if (r->any && k == r->cur) {
		n = r->key.len < r->last.len ? r->key.len : r->last.len;
		c = memcmp(r->key.p, r->last.p, n);
		if (c == 0 && r->key.len == r->last.len)
			return corrupt(r, err, "duplicate item (the same key as the previous line)");
		if (c < 0 || (c == 0 && r->key.len < r->last.len))
			return corrupt(r, err, "items out of order (a key smaller than the previous "
					       "line's)");
	}
	r->last.len = 0;
	if (keyenc_buf_put(&r->last, r->key.p, r->key.len) < 0)
		return -ENOMEM;
	r->any = true;
	r->cur = k;
	return 0;
}

/*
 * Check the order of item, then load it into table k.  checked: the item
 * came from item_parse_arena() (checked, size its item_size() -- which
 * may be 0 -- and the arena's: not freed here; db_replay keeps no
 * pointer into it); else it is freed.
 */
static int item_load(struct snap_rd *r, size_t k, struct val *item, bool checked, size_t size,
		     struct dyn_err *err)
{
	struct db_change ch = {0};
	int rc;

	rc = check_order(r, k, val_map_get(item, r->pks[k], strlen(r->pks[k])),
			 r->sks[k] ? val_map_get(item, r->sks[k], strlen(r->sks[k])) : NULL, err);
	if (rc < 0) {
		if (!checked)
			val_free(item);
		return rc;
	}
	ch.kind = DB_CH_PUT;
	ch.table = r->names[r->cur];
	ch.item = item;
	ch.checked = checked;
	ch.size = size;
	rc = db_replay(r->db, &ch, err);
	if (!checked)
		val_free(item);
	if (rc < 0)
		return rc == -ENOMEM ? rc : corrupt(r, err, "item cannot be loaded");
	r->info->items++;
	return 0;
}

/*
 * An item of table k (no indexes) straight into its stored form
 * (item_parse_stored): no struct val tree, no second pass to size and
 * encode it.  Returns 1 if that path declines the text or its key breaks
 * the key rules - nothing was done, and the caller's val-tree path then
 * loads the item or reports it in its own words - else 0 or <0 as
 * item_load.
 */
static int stored_load(struct snap_rd *r, size_t k, const char *text, size_t len,
		       struct dyn_err *err)
{
	const struct val *sk;
	int rc;

	rc = item_parse_stored(text, len, r->pks[k], r->sks[k], &r->st);
	if (rc != 0)
		return rc;
	sk = r->sks[k] ? &r->st.sk : NULL;
	if (!tbl_key_valid(r->tabs[k], &r->st.pk, sk))
		return 1;
	rc = check_order(r, k, &r->st.pk, sk, err);
	if (rc < 0)
		return rc;
	rc = tbl_replay_stored(r->tabs[k], &r->st.pk, sk, r->st.blob, r->st.blob_len, r->st.size,
			       err);
	if (rc < 0)
		return rc == -ENOMEM ? rc : corrupt(r, err, "item cannot be loaded");
	r->info->items++;
	return 0;
}

/*
 * The fast path for an item line exactly as snap_write renders it:
 * {"t":NAME,"i":ITEM}\n with NAME one of the header's tables.  An item
 * of a table without indexes goes straight into its stored form
 * (stored_load); otherwise, or when that path declines, the item
 * is parsed once with item_parse_arena() (which applies item_check(), so
 * loading does not check it again; its values take no allocation of their
 * own and are dropped together once the record is made); the line is not
 * scanned as a whole.  Returns 1
 * if the line was not taken (any other shape, or an item that does not
 * parse: the general path then reports it with its own words), else 0 or
 * <0 as item_line.
 */
static int item_fast(struct snap_rd *r, const char *line, size_t len, struct dyn_err *err)
{
	const struct sf_buf *pfx;
	struct val item;
	size_t k, j, size;
	int rc;

	if (len < 3 || line[len - 2] != '}' || r->nnames == 0)
		return 1;
	for (j = 0; j < r->nnames; j++) {
		k = j == 0 ? r->cur : j - (j <= r->cur);
		pfx = &r->pfx[k];
		if (len > pfx->len + 2 && memcmp(line, pfx->p, pfx->len) == 0)
			break;
	}
	/* parse_top skips a byte-order mark, which is not JSON mid-line */
	if (j == r->nnames || (unsigned char)line[pfx->len] == 0xef)
		return 1;
	if (r->plain[k] && k < r->ntabs) {
		rc = stored_load(r, k, line + pfx->len, len - 2 - pfx->len, err);
		if (rc != 1)
			return rc;
	}
	if (!r->arena && !(r->arena = item_arena_new()))
		return -ENOMEM;
	item_arena_reset(r->arena);
	if (item_parse_arena(line + pfx->len, len - 2 - pfx->len, r->arena, &item, &size, NULL) <
	    0)
		return 1;
	return item_load(r, k, &item, true, size, err);
}

static int item_line(struct snap_rd *r, struct sf_span t, struct sf_span i, struct dyn_err *err)
{
	struct val item;
	char *name;
	size_t k;
	int rc;

	rc = sf_span_str(t, &name, NULL, err);
	if (rc < 0)
		return rc == -ENOMEM ? rc : corrupt(r, err, "bad table name");
	k = r->cur;
	if (k >= r->nnames || strcmp(r->names[k], name)) {
		for (k = 0; k < r->nnames && strcmp(r->names[k], name); k++)
			;
		if (k == r->nnames) {
			free(name);
			return corrupt(r, err, "item of a table the header does not declare");
		}
	}
	free(name);
	rc = item_parse_value(i.p, i.len, &item, err);
	if (rc < 0)
		return rc == -ENOMEM ? rc : corrupt(r, err, "bad item");
	if (item.type != VAL_M) {
		val_free(&item);
		return corrupt(r, err, "item is not a JSON object");
	}
	return item_load(r, k, &item, false, 0, err);
}

/* Returns 1 for the trailer (checked), 0 for an item, <0 on error. */
static int body_line(struct snap_rd *r, const char *line, size_t len, uint32_t crc,
		     struct dyn_err *err)
{
	struct sf_span all, k, x, t = {NULL, 0}, i = {NULL, 0}, end = {NULL, 0}, cs = {NULL, 0};
	struct sf_span ni = {NULL, 0}, nt = {NULL, 0};
	struct sf_iter it;
	uint64_t n;
	char *s = NULL, want[9];
	int rc;

	rc = item_fast(r, line, len, err);
	if (rc != 1)
		return rc;
	if (sf_whole(line, len, &all) < 0 || sf_obj_open(&it, all) < 0)
		return corrupt(r, err, "not a JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "t"))
			t = x;
		else if (sf_key_is(k, "i"))
			i = x;
		else if (sf_key_is(k, "end"))
			end = x;
		else if (sf_key_is(k, "crc32c"))
			cs = x;
		else if (sf_key_is(k, "items"))
			ni = x;
		else if (sf_key_is(k, "tables"))
			nt = x;
		else
			return corrupt(r, err, "unexpected member");
	}
	if (rc < 0)
		return corrupt(r, err, "malformed JSON");
	if (t.p && i.p && !end.p)
		return item_line(r, t, i, err);
	if (!end.p || !cs.p || !ni.p || !nt.p || end.len != 10 || memcmp(end.p, "\"snapshot\"", 10))
		return corrupt(r, err, "neither an item nor the end marker");
	if (sf_span_u64(ni, &n) < 0 || n != r->info->items)
		return corrupt(r, err, "end marker: item count does not match (truncated file?)");
	if (sf_span_u64(nt, &n) < 0 || n != r->nnames)
		return corrupt(r, err, "end marker: table count does not match");
	snprintf(want, sizeof(want), "%08x", crc);
	if (sf_span_str(cs, &s, NULL, NULL) < 0 || strcmp(s, want)) {
		free(s);
		return corrupt(r, err, "checksum mismatch (the file was changed or damaged)");
	}
	free(s);
	return 1;
}

int snap_load(const char *path, db_t *db, struct snap_info *info, struct dyn_err *err)
{
	struct snap_rd r = {.path = path, .db = db, .info = info};
	char *line = NULL;
	size_t cap = 0, k;
	ssize_t len;
	uint32_t crc = 0;
	bool ended = false;
	FILE *fp;
	int fd, rc = 0;

	memset(info, 0, sizeof(*info));
	fd = stf_open(path, "snapshot", O_RDONLY, false, err);
	if (fd < 0)
		return fd;
	fp = fdopen(fd, "r");
	if (!fp) {
		close(fd);
		return -ENOMEM;
	}
	__fsetlocking(fp, FSETLOCKING_BYCALLER); /* one reader: no lock per getline */
	setvbuf(fp, NULL, _IOFBF, 1 << 20);
	keyenc_buf_init(&r.last);
	keyenc_buf_init(&r.key);
	item_stored_init(&r.st);
	while ((len = getline(&line, &cap, fp)) > 0) {
		r.line++;
		if (ended) {
			rc = corrupt(&r, err, "data after the end marker");
			goto out;
		}
		if (line[len - 1] != '\n') {
			rc = corrupt(&r, err, "last line is cut short (truncated file)");
			goto out;
		}
		if (r.line == 1)
			rc = header_parse(&r, line, (size_t)len, err);
		else
			rc = body_line(&r, line, (size_t)len, crc, err);
		if (rc < 0)
			goto out;
		ended = rc == 1;
		crc = crc32c(crc, line, (size_t)len);
		r.off += (uint64_t)len;
	}
	if (ferror(fp)) {
		rc = err_set(err, errno ? errno : EIO, "snapshot %s: read error", path);
		goto out;
	}
	if (r.line == 0) {
		rc = corrupt(&r, err, "empty file");
		goto out;
	}
	if (!ended) {
		r.line++;
		rc = corrupt(&r, err, "no end marker (truncated file)");
		goto out;
	}
	info->bytes = r.off;
	rc = 0;
out:
	free(line);
	fclose(fp);
	for (k = 0; k < r.nnames; k++) {
		free(r.names[k]);
		free(r.pks[k]);
		free(r.sks[k]);
		sf_buf_free(&r.pfx[k]);
	}
	free(r.pfx);
	free(r.plain);
	item_stored_free(&r.st);
	free(r.names);
	free(r.pks);
	free(r.sks);
	keyenc_buf_free(&r.last);
	keyenc_buf_free(&r.key);
	item_arena_free(r.arena);
	for (k = 0; k < r.ntabs; k++) {
		tbl_bulk_end(r.tabs[k]);
		tbl_close(r.tabs[k]);
	}
	free(r.tabs);
	return rc;
}
