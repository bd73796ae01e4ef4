/*
 * snap_load.c - loading snapshots (format in snap.h; writing in snap.c).
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
#include <unistd.h>

#include "crc32c.h"
#include "item.h"
#include "keyenc.h"
#include "storefmt.h"
#include "storefile.h"

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
