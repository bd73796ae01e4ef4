/*
 * snap.c - writing snapshots (format in snap.h; loading in snap_load.c).
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

static void (*step_hook)(void *ctx, const char *table, bool done);
static void *step_hook_ctx;
static unsigned step_chunk; /* items per chunk (tests); 0: SNAP_CHUNK */

static int table_write(struct snap_out *o, struct snap_table *st, uint64_t *items,
		       uint64_t *max_hold_ns)
{
	size_t chunk = step_hook && step_chunk ? step_chunk : SNAP_CHUNK;
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
	sc.limit = chunk;
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
		if (c.n < chunk)
			break;
		if (step_hook)
			step_hook(step_hook_ctx, st->name, false);
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

void snap_set_step_hook(void (*fn)(void *ctx, const char *table, bool done), void *ctx,
			unsigned chunk)
{
	step_hook = fn;
	step_hook_ctx = ctx;
	step_chunk = chunk;
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
	if (rc == 0 && step_hook)
		step_hook(step_hook_ctx, NULL, false);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = table_write(o, &tt[i], &info->items, &info->max_hold_ns);
		if (rc == 0 && test_hook)
			test_hook(test_hook_ctx, tt[i].name);
		if (rc == 0 && step_hook)
			step_hook(step_hook_ctx, tt[i].name, true);
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
