/*
 * xfer_hedy_file.c - importing a whole Hedy dev_database.json
 * (xferint.h: xfer_import_hedy; the values are read by xfer_hedy.c).
 *
 * The file is read whole (Hedy's are small) and walked twice: once for
 * the table names (a name given twice keeps its last array, as
 * json.load does), then table by table.  Records are put in file order;
 * a record whose key an earlier record of the same table already had is
 * skipped, since Hedy's lookups (a linear search of the list) only ever
 * find the first.  Every such decision is one warning line.  A table no
 * schema names is an error unless --guess-keys (guess_schema); --replace
 * empties each table of the file first, keeping its schema, and
 * --replace=all also drops the store's tables the file does not have.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyenc.h"
#include "xferint.h"

/* Keys seen in the current table: an open-addressing hash of enc(key). */
struct seen_ent {
	uint8_t *k;	 /* enc(pk) [enc(sk)] (owned), NULL = free slot */
	size_t len;	 /* bytes of k */
	uint64_t record; /* index of the record that had it first */
};

struct seen {
	struct seen_ent *v; /* slots */
	size_t cap, n;	    /* slots (a power of two), used */
};

static void seen_free(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->v[i].k);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static uint64_t seen_hash(const uint8_t *k, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (len--)
		h = (h ^ *k++) * 1099511628211ULL;
	return h;
}

/* 1 and *first set if k was seen; else 0 after adding it.  -ENOMEM. */
static int seen_check(struct seen *s, const uint8_t *k, size_t len, uint64_t record,
		      uint64_t *first)
{
	struct seen_ent *e, *old;
	size_t i, oldcap;

	if (2 * (s->n + 1) > s->cap) {
		old = s->v;
		oldcap = s->cap;
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = calloc(s->cap, sizeof(*s->v));
		if (!s->v) {
			s->v = old, s->cap = oldcap;
			return -ENOMEM;
		}
		for (i = 0; i < oldcap; i++) {
			if (!old[i].k)
				continue;
			e = &s->v[seen_hash(old[i].k, old[i].len) & (s->cap - 1)];
			while (e->k)
				e = e + 1 < s->v + s->cap ? e + 1 : s->v;
			*e = old[i];
		}
		free(old);
	}
	e = &s->v[seen_hash(k, len) & (s->cap - 1)];
	for (; e->k; e = e + 1 < s->v + s->cap ? e + 1 : s->v) {
		if (e->len == len && !memcmp(e->k, k, len)) {
			*first = e->record;
			return 1;
		}
	}
	e->k = malloc(len ? len : 1);
	if (!e->k)
		return -ENOMEM;
	memcpy(e->k, k, len);
	e->len = len;
	e->record = record;
	s->n++;
	return 0;
}

static void imp_warn(struct imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void imp_warn(struct imp *im, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!im->o->warn.fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	im->o->warn.fn(im->o->warn.ctx, msg);
}

/* The type a raw JSON value would have as a key: 'S', 'N' or 0. */
static char raw_key_type(struct sf_span x)
{
	if (x.p[0] == '"')
		return x.len > 2 ? 'S' : 0;
	if (x.p[0] == '-' || (x.p[0] >= '0' && x.p[0] <= '9'))
		return 'N';
	return 0;
}

/* Does every record of items hold attribute name as a key of one type? */
static char guess_try(struct sf_span items, const char *name)
{
	struct sf_iter it, m;
	struct sf_span rec, k, x;
	char type = 0, t;
	bool found;

	sf_arr_open(&it, items);
	while (sf_arr_next(&it, &rec) > 0) {
		if (sf_obj_open(&m, rec) < 0)
			return 0;
		found = false;
		t = 0;
		while (sf_obj_next(&m, &k, &x) > 0)
			if (sf_key_is(k, name))
				found = true, t = raw_key_type(x); /* the last one counts */
		if (!found || !t || (type && t != type))
			return 0;
		type = t;
	}
	return type;
}

/*
 * --guess-keys: the partition key of a table no schema names.  "id", then
 * "username", then the first record's attributes in order: the first that
 * every record has, as a string or number of one type.  No sort key.
 */
static int guess_schema(struct imp *im, const char *name, struct sf_span items,
			struct table_schema *out, struct dyn_err *err)
{
	struct sf_iter it, m;
	struct sf_span rec, k, x;
	char type = 0, *cand = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if ((type = guess_try(items, "id")))
		cand = strdup("id");
	else if ((type = guess_try(items, "username")))
		cand = strdup("username");
	sf_arr_open(&it, items);
	if (!cand && sf_arr_next(&it, &rec) > 0 && sf_obj_open(&m, rec) == 0) {
		while (!cand && sf_obj_next(&m, &k, &x) > 0) {
			rc = sf_span_str(k, &cand, NULL, err);
			if (rc < 0)
				return rc;
			if (!(type = guess_try(items, cand))) {
				free(cand);
				cand = NULL;
			}
		}
	}
	if (!cand && sf_arr_open(&it, items) == 0 && sf_arr_next(&it, &rec) > 0)
		return err_set(err, EINVAL, "table %s: no attribute that every record holds as "
					    "a string or number of one type, to guess a key from: "
					    "give its key schema with --schema",
			       name);
	if (!cand) {
		cand = strdup("id"), type = 'S'; /* an empty table: Hedy's usual key */
		if (!cand)
			return -ENOMEM;
	}
	if (strlen(cand) >= sizeof(out->pk.name)) {
		free(cand);
		return err_set(err, EINVAL, "table %s: guessed key name too long", name);
	}
	strcpy(out->pk.name, cand);
	out->pk.type = type == 'N' ? VAL_N : VAL_S;
	imp_warn(im, "%s: table %s is in no schema: created with partition key %s (%s), "
		     "guessed (--guess-keys)",
		 im->o->source, name, cand, type == 'N' ? "N" : "S");
	free(cand);
	return 0;
}

/* Open (create, guess, empty for --replace) the table of a Hedy file. */
static int hedy_table(struct imp *im, const char *name, struct sf_span items,
		      struct dyn_err *err)
{
	struct table_schema s;
	table_t *t;
	bool existed;
	int rc;

	existed = db_table_open(im->db, name, &t) == 0;
	if (existed)
		tbl_close(t);
	if (!existed && !xfer_schemas_find(im->o->schemas, name)) {
		if (!im->o->guess_keys)
			return err_set(err, ENOENT,
				       "%s: table %s is in no schema, so its key is unknown: pass "
				       "--guess-keys to create it with a guessed key, or give its "
				       "key schema with --schema",
				       im->o->source, name);
		rc = guess_schema(im, name, items, &s, err);
		if (rc == 0)
			rc = db_create_table(im->db, name, &s, err);
		schema_free(&s);
		if (rc < 0)
			return rc;
	}
	rc = xfer_imp_table(im, name, err);
	if (rc < 0 || !existed || im->o->replace == XFER_REPLACE_NONE)
		return rc;
	return xfer_imp_empty(im, name, err);
}

/*
 * The line of q in the file starting at base.  Records come in file
 * order, so counting on from the last answer keeps this linear (sf_pos
 * counts from the start: quadratic over a whole file).
 */
static int line_at(struct imp *im, const char *base, const char *q)
{
	const char *p;

	if (!im->lc_p || q < im->lc_p) {
		im->lc_p = base;
		im->lc_line = 1;
	}
	for (p = im->lc_p; p < q; p++)
		if (*p == '\n')
			im->lc_line++;
	im->lc_p = q;
	return im->lc_line;
}

/* Warnings from inside a record get the file's name and the record's line. */
struct item_warn {
	struct imp *im; /* the import */
	int line;	/* where the record starts */
};

static void item_warn_cb(void *ctx, const char *msg)
{
	struct item_warn *iw = ctx;

	imp_warn(iw->im, "%s:%d: %s", iw->im->o->source, iw->line, msg);
}

static int hedy_item(struct imp *im, const char *base, const char *name, struct sf_span x,
		     uint64_t record, struct seen *seen, struct dyn_err *err)
{
	const struct key_attr *sk = tbl_sk(im->t);
	const char *where = NULL;
	struct keyenc_buf kb;
	struct val item, *pkv, *skv;
	struct item_warn iw = {im, 0};
	struct xfer_warn w = {item_warn_cb, &iw};
	uint64_t first;
	int line, col, rc;

	iw.line = line_at(im, base, x.p);
	rc = xfer_hedy_parse(x.p, x.len, &item, &where, &w, name, record, err);
	if (rc == 0) {
		pkv = val_map_get(&item, tbl_pk(im->t)->name, strlen(tbl_pk(im->t)->name));
		skv = sk ? val_map_get(&item, sk->name, strlen(sk->name)) : NULL;
		keyenc_buf_init(&kb);
		/* a record without a usable key fails in tbl_put, with its message */
		if (pkv && (!sk || skv) && keyenc_append(&kb, pkv) == 0 &&
		    (!skv || keyenc_append(&kb, skv) == 0)) {
			rc = seen_check(seen, kb.p, kb.len, record, &first);
			if (rc == 1) {
				line = line_at(im, base, x.p);
				imp_warn(im, "%s:%d: %s[%llu] has the key of %s[%llu]: skipped, "
					     "since Hedy's lookups find the first",
					 im->o->source, line, name, (unsigned long long)record,
					 name, (unsigned long long)first);
				val_free(&item);
			}
		}
		keyenc_buf_free(&kb);
		if (rc == 0)
			rc = xfer_imp_put(im, &item, err);
		else if (rc == 1)
			rc = 0;
		else
			val_free(&item);
	}
	if (rc < 0 && err && err->code) {
		/* position of the error inside the file */
		sf_pos(base, where ? where : x.p, &line, &col);
		if (err->line > 1) {
			line += err->line - 1;
			col = err->col;
		} else if (err->line == 1) {
			col += err->col - 1;
		}
		/* and which record, as Hedy's list index: "adventures[12].public: ..." */
		{
			char msg[sizeof(err->msg) + sizeof(err->path) + 300];
			size_t n;

			snprintf(msg, sizeof(msg), "%s[%llu]%s%s: %s", name,
				 (unsigned long long)record, err->path[0] ? "." : "", err->path,
				 err->msg);
			n = strnlen(msg, sizeof(err->msg) - 1);
			memcpy(err->msg, msg, n);
			err->msg[n] = 0;
			err->path[0] = 0;
		}
		return xfer_located(im, err, rc, (uint64_t)line, col);
	}
	return rc;
}

/* The tables of the file: names and item arrays, the last of a repeated name kept. */
struct hedy_tables {
	char **names;	       /* decoded names (owned); NULL for a skipped repeat */
	struct sf_span *items; /* their arrays */
	size_t n;	       /* entries */
};

static void hedy_tables_free(struct hedy_tables *ht)
{
	size_t i;

	for (i = 0; i < ht->n; i++)
		free(ht->names[i]);
	free(ht->names);
	free(ht->items);
}

static int hedy_tables_read(struct imp *im, struct sf_span all, struct hedy_tables *ht,
			    struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	size_t i;
	void *p;
	int rc;

	memset(ht, 0, sizeof(*ht));
	sf_obj_open(&it, all);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (!(p = realloc(ht->names, (ht->n + 1) * sizeof(*ht->names))))
			return -ENOMEM;
		ht->names = p;
		if (!(p = realloc(ht->items, (ht->n + 1) * sizeof(*ht->items))))
			return -ENOMEM;
		ht->items = p;
		rc = sf_span_str(k, &ht->names[ht->n], NULL, err);
		if (rc < 0)
			return rc;
		ht->items[ht->n++] = x;
		if (x.p[0] != '[')
			return err_set(err, EINVAL, "%s: table %s is not a JSON array of items",
				       im->o->source, ht->names[ht->n - 1]);
		for (i = 0; i + 1 < ht->n; i++) {
			if (ht->names[i] && !strcmp(ht->names[i], ht->names[ht->n - 1])) {
				imp_warn(im, "%s: table %s appears more than once: the last one "
					     "is kept (as Hedy's json.load does)",
					 im->o->source, ht->names[i]);
				free(ht->names[i]);
				ht->names[i] = NULL;
			}
		}
	}
	return rc < 0 ? err_set(err, EINVAL, "%s: malformed JSON", im->o->source) : 0;
}

struct drop_ctx {
	const struct hedy_tables *keep; /* tables of the file */
	struct names gone;		/* store tables not in it */
};

static int drop_cb(void *ctx, const char *name)
{
	struct drop_ctx *dc = ctx;
	size_t i;

	for (i = 0; i < dc->keep->n; i++)
		if (dc->keep->names[i] && !strcmp(dc->keep->names[i], name))
			return 0;
	return xfer_names_add(&dc->gone, name);
}

/* --replace=all: drop the store's tables that the file does not have. */
static int drop_others(struct imp *im, const struct hedy_tables *ht, struct dyn_err *err)
{
	struct drop_ctx dc = {ht, {NULL, 0}};
	size_t i;
	int rc;

	rc = db_list_tables(im->db, NULL, drop_cb, &dc);
	for (i = 0; rc >= 0 && i < dc.gone.n; i++) {
		rc = db_drop_table(im->db, dc.gone.v[i], err);
		if (rc == 0)
			imp_warn(im, "%s: table %s is not in the file: dropped (--replace=all)",
				 im->o->source, dc.gone.v[i]);
	}
	xfer_names_free(&dc.gone);
	return rc < 0 ? rc : 0;
}

int xfer_import_hedy(struct imp *im, FILE *in, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct hedy_tables ht = {0};
	struct sf_span all, item;
	struct sf_iter it;
	struct seen seen = {0};
	uint64_t record;
	size_t i;
	int rc;

	rc = xfer_slurp(in, &b);
	if (rc < 0) {
		rc = err_set(err, -rc, "%s: read error", im->o->source);
		goto out;
	}
	im->prog.bytes = b.len;
	if (!b.len || sf_whole(b.p, b.len, &all) < 0 || sf_obj_open(&it, all) < 0) {
		rc = err_set(err, EINVAL, "%s: not a JSON object of tables (Hedy's "
					  "dev_database.json)",
			     im->o->source);
		goto out;
	}
	rc = hedy_tables_read(im, all, &ht, err);
	if (rc == 0 && im->o->replace == XFER_REPLACE_ALL && !im->o->table)
		rc = drop_others(im, &ht, err);
	for (i = 0; rc == 0 && i < ht.n; i++) {
		if (!ht.names[i] || (im->o->table && strcmp(ht.names[i], im->o->table)))
			continue;
		rc = hedy_table(im, ht.names[i], ht.items[i], err);
		sf_arr_open(&it, ht.items[i]);
		for (record = 0; rc == 0 && (rc = sf_arr_next(&it, &item)) > 0; record++) {
			err_clear(err);
			rc = hedy_item(im, b.p, ht.names[i], item, record, &seen, err);
		}
		if (rc > 0 || (rc < 0 && (!err || !err->code)))
			rc = rc < 0 ? err_set(err, EINVAL, "%s: malformed JSON in table %s",
					      im->o->source, ht.names[i])
				    : 0;
		seen_free(&seen);
	}
out:
	hedy_tables_free(&ht);
	seen_free(&seen);
	sf_buf_free(&b);
	return rc;
}

