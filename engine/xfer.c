/*
 * xfer.c - import and export of whole streams, schema files, input files
 * (xfer.h; formats in docs/formats.md).  The per-value converters live in
 * xfer_ddb.c (DynamoDB JSON) and xfer_hedy.c (Hedy's dev_database.json);
 * JSON Lines of document items go through the item codec directly.
 *
 * Nothing is read with a JSON library: envelopes are walked with the span
 * scanner (storefmt.h) and values parsed by the item codec, so a 38-digit
 * number or a number like 0.1 arrives exactly as written.
 *
 * Import puts items one at a time with tbl_put(); the caller (dynfs
 * import) runs it inside store_bulk(), so the whole file lands with one
 * snapshot, or not at all.  Export scans tables in key order and writes
 * as it goes: memory stays at one item.
 */
#include "xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "item.h"
#include "keyenc.h"
#include "num.h"

#define PROGRESS_EVERY 4096 /* items between progress callbacks */

int xfer_format_from_name(const char *name, enum xfer_format *out)
{
	if (!strcmp(name, "jsonl") || !strcmp(name, "json"))
		*out = XFER_JSONL;
	else if (!strcmp(name, "dynamodb") || !strcmp(name, "ddb"))
		*out = XFER_DYNAMODB;
	else if (!strcmp(name, "hedy"))
		*out = XFER_HEDY;
	else
		return -EINVAL;
	return 0;
}

const char *xfer_format_name(enum xfer_format f)
{
	switch (f) {
	case XFER_JSONL:
		return "jsonl";
	case XFER_DYNAMODB:
		return "dynamodb";
	case XFER_HEDY:
		return "hedy";
	}
	return "?";
}

/* ---- schemas ---- */

void xfer_schemas_free(struct xfer_schemas *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->names[i]);
		schema_free(&s->s[i]);
	}
	free(s->names);
	free(s->s);
	memset(s, 0, sizeof(*s));
}

static int schemas_add(struct xfer_schemas *s, const char *name, struct sf_span v,
		       struct dyn_err *err)
{
	char **nn;
	struct table_schema *ss;
	int rc;

	nn = realloc(s->names, (s->n + 1) * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	s->names = nn;
	ss = realloc(s->s, (s->n + 1) * sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	s->s = ss;
	s->names[s->n] = strdup(name);
	if (!s->names[s->n])
		return -ENOMEM;
	rc = sf_schema_parse(v, &s->s[s->n], err);
	if (rc < 0) {
		free(s->names[s->n]);
		err_path(err, name);
		return rc;
	}
	s->n++;
	return 0;
}

int xfer_schemas_parse(const char *text, size_t len, const char *default_table,
		       struct xfer_schemas *out, struct dyn_err *err)
{
	struct sf_span all, k, x;
	struct sf_iter it;
	bool single = false;
	char *name;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sf_whole(text, len, &all) < 0 || sf_obj_open(&it, all) < 0)
		return err_set(err, EINVAL, "a schema file must hold one JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0)
		if (sf_key_is(k, "partition_key"))
			single = true;
	if (rc < 0)
		return err_set(err, EINVAL, "schema file: malformed JSON");
	if (single) {
		if (!default_table)
			return err_set(err, EINVAL, "a single-table schema needs a table name "
						    "(--table)");
		rc = schemas_add(out, default_table, all, err);
		goto out;
	}
	sf_obj_open(&it, all);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		rc = sf_span_str(k, &name, NULL, err);
		if (rc < 0)
			goto out;
		rc = schemas_add(out, name, x, err);
		free(name);
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		xfer_schemas_free(out);
	return rc < 0 ? rc : 0;
}

static const struct table_schema *schemas_find(const struct xfer_schemas *s, const char *name)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return &s->s[i];
	return NULL;
}

struct names {
	char **v; /* collected names */
	size_t n; /* used */
};

static int names_cb(void *ctx, const char *name)
{
	struct names *nm = ctx;
	char **v = realloc(nm->v, (nm->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	nm->v = v;
	v[nm->n] = strdup(name);
	if (!v[nm->n])
		return -ENOMEM;
	nm->n++;
	return 0;
}

static void names_free(struct names *nm)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
}

/* The tables to export: one (must exist) or all. */
static int names_of(db_t *db, const char *table, struct names *nm, struct dyn_err *err)
{
	table_t *t;
	int rc;

	memset(nm, 0, sizeof(*nm));
	if (table) {
		rc = db_table_open(db, table, &t);
		if (rc < 0)
			return err_set(err, -rc, "no table %s in the store", table);
		tbl_close(t);
		return names_cb(nm, table);
	}
	rc = db_list_tables(db, NULL, names_cb, nm);
	return rc < 0 ? rc : 0;
}

int xfer_schemas_render(db_t *db, const char *table, struct sf_buf *out, struct dyn_err *err)
{
	struct table_schema s;
	struct names nm;
	table_t *t;
	size_t i;
	int rc;

	rc = names_of(db, table, &nm, err);
	if (rc < 0)
		goto out;
	rc = sf_buf_adds(out, "{\n");
	for (i = 0; rc == 0 && i < nm.n; i++) {
		rc = db_table_open(db, nm.v[i], &t);
		if (rc < 0)
			break;
		rc = tbl_schema(t, &s);
		tbl_close(t);
		if (rc < 0)
			break;
		if (sf_buf_adds(out, "  ") < 0 || sf_json_str(out, nm.v[i], strlen(nm.v[i])) < 0 ||
		    sf_buf_adds(out, ": ") < 0 || sf_schema_render(out, &s) < 0 ||
		    sf_buf_adds(out, i + 1 < nm.n ? ",\n" : "\n") < 0)
			rc = -ENOMEM;
		schema_free(&s);
	}
	if (rc == 0)
		rc = sf_buf_adds(out, "}\n");
out:
	names_free(&nm);
	return rc;
}

/* ---- import ---- */

struct imp {
	db_t *db;			  /* target */
	const struct xfer_import_opts *o; /* options */
	table_t *t;			  /* current table */
	struct xfer_progress prog;	  /* counters */
};

/* Open (creating it from the schemas if needed) the table name into im->t. */
static int imp_table(struct imp *im, const char *name, struct dyn_err *err)
{
	const struct table_schema *want = schemas_find(im->o->schemas, name);
	struct table_schema have;
	int rc;

	tbl_close(im->t);
	im->t = NULL;
	rc = db_table_open(im->db, name, &im->t);
	if (rc == -ENOENT) {
		if (!want)
			return err_set(err, ENOENT,
				       "no table %s in the store: create it first, or pass its key "
				       "schema with --schema",
				       name);
		rc = db_create_table(im->db, name, want, err);
		if (rc == 0)
			rc = db_table_open(im->db, name, &im->t);
		return rc;
	}
	if (rc < 0 || !want)
		return rc;
	rc = tbl_schema(im->t, &have);
	if (rc < 0)
		return rc;
	if (strcmp(have.pk.name, want->pk.name) || have.pk.type != want->pk.type ||
	    have.has_sk != want->has_sk ||
	    (have.has_sk && (strcmp(have.sk.name, want->sk.name) || have.sk.type != want->sk.type)))
		rc = err_set(err, EINVAL, "table %s exists with a different key schema than "
					  "the schema file gives",
			     name);
	schema_free(&have);
	return rc;
}

static int imp_put(struct imp *im, struct val *item, struct dyn_err *err)
{
	int rc = tbl_put(im->t, item, 0, err);

	val_free(item);
	if (rc < 0)
		return rc;
	im->prog.items++;
	if (im->o->progress && im->prog.items % PROGRESS_EVERY == 0)
		im->o->progress(im->o->progress_ctx, &im->prog);
	return 0;
}

/* --replace: make im->t (table name) an empty table with the same schema. */
static int imp_empty(struct imp *im, const char *name, struct dyn_err *err)
{
	struct table_schema s;
	int rc;

	rc = tbl_schema(im->t, &s);
	if (rc < 0)
		return rc;
	tbl_close(im->t);
	im->t = NULL;
	rc = db_drop_table(im->db, name, err);
	if (rc == 0)
		rc = db_create_table(im->db, name, &s, err);
	if (rc == 0)
		rc = db_table_open(im->db, name, &im->t);
	schema_free(&s);
	return rc;
}

/* Prefix err's message with "source:line:col: ". */
static int located(const struct imp *im, struct dyn_err *err, int rc, uint64_t line, int col)
{
	char buf[sizeof(err->path) + sizeof(err->msg) + 4];

	if (!err || !err->code)
		return rc;
	/* the position goes in front, GNU style, instead of err_format's suffix */
	if (err->path[0])
		snprintf(buf, sizeof(buf), "%s: %s", err->path, err->msg);
	else
		snprintf(buf, sizeof(buf), "%s", err->msg);
	err_clear(err);
	if (col > 0)
		err_set(err, -rc, "%s:%llu:%d: %s", im->o->source, (unsigned long long)line, col,
			buf);
	else
		err_set(err, -rc, "%s:%llu: %s", im->o->source, (unsigned long long)line, buf);
	return rc;
}

static int import_lines(struct imp *im, FILE *in, struct dyn_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0;
	struct val item;
	int rc;

	if (!im->o->table)
		return err_set(err, EINVAL, "importing %s needs --table NAME",
			       xfer_format_name(im->o->format));
	rc = imp_table(im, im->o->table, err);
	if (rc == 0 && im->o->replace != XFER_REPLACE_NONE)
		rc = imp_empty(im, im->o->table, err);
	if (rc < 0)
		return rc;
	while ((len = getline(&line, &cap, in)) > 0) {
		lineno++;
		im->prog.bytes += (uint64_t)len;
		if (sf_ws(line, line + len) == line + len)
			continue;
		err_clear(err);
		if (im->o->format == XFER_DYNAMODB)
			rc = xfer_ddb_parse(line, (size_t)len, &item, err);
		else
			rc = item_parse(line, (size_t)len, &item, err);
		if (rc == 0)
			rc = imp_put(im, &item, err);
		if (rc < 0) {
			rc = located(im, err, rc, lineno, err && err->line <= 1 ? err->col : 0);
			goto out;
		}
	}
	rc = ferror(in) ? err_set(err, EIO, "%s: read error", im->o->source) : 0;
out:
	free(line);
	return rc;
}

static int slurp(FILE *in, struct sf_buf *b)
{
	size_t n;

	for (;;) {
		if (sf_buf_grow(b, 1 << 16) < 0)
			return -ENOMEM;
		n = fread(b->p + b->len, 1, b->cap - b->len - 1, in);
		b->len += n;
		b->p[b->len] = 0;
		if (n == 0)
			return ferror(in) ? -EIO : 0;
	}
}

/*
 * ---- Hedy's dev_database.json ----
 *
 * The file is read whole (Hedy's are small) and walked twice: once for
 * the table names (a name given twice keeps its last array, as
 * json.load does), then table by table.  Records are put in file order;
 * a record whose key an earlier record of the same table already had is
 * skipped, since Hedy's lookups (a linear search of the list) only ever
 * find the first.  Every such decision is one warning line.
 */

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
	if (!existed && !schemas_find(im->o->schemas, name)) {
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
	rc = imp_table(im, name, err);
	if (rc < 0 || !existed || im->o->replace == XFER_REPLACE_NONE)
		return rc;
	return imp_empty(im, name, err);
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

	sf_pos(base, x.p, &iw.line, &col);
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
				sf_pos(base, x.p, &line, &col);
				imp_warn(im, "%s:%d: %s[%llu] has the key of %s[%llu]: skipped, "
					     "since Hedy's lookups find the first",
					 im->o->source, line, name, (unsigned long long)record,
					 name, (unsigned long long)first);
				val_free(&item);
			}
		}
		keyenc_buf_free(&kb);
		if (rc == 0)
			rc = imp_put(im, &item, err);
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
		return located(im, err, rc, (uint64_t)line, col);
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
	return names_cb(&dc->gone, name);
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
	names_free(&dc.gone);
	return rc < 0 ? rc : 0;
}

static int import_hedy(struct imp *im, FILE *in, struct dyn_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct hedy_tables ht = {0};
	struct sf_span all, item;
	struct sf_iter it;
	struct seen seen = {0};
	uint64_t record;
	size_t i;
	int rc;

	rc = slurp(in, &b);
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

int xfer_import(db_t *db, FILE *in, const struct xfer_import_opts *o, uint64_t *items,
		struct dyn_err *err)
{
	struct imp im = {db, o, NULL, {0, 0}};
	int rc;

	if (o->format == XFER_HEDY)
		rc = import_hedy(&im, in, err);
	else
		rc = import_lines(&im, in, err);
	tbl_close(im.t);
	if (o->progress)
		o->progress(o->progress_ctx, &im.prog);
	if (items)
		*items = im.prog.items;
	return rc;
}

/* ---- export ---- */

struct exp {
	FILE *out;			  /* destination */
	const struct xfer_export_opts *o; /* options */
	const char *pk, *sk;		  /* key attribute names of the table */
	struct sf_buf b;		  /* one item's text */
	struct xfer_progress prog;	  /* counters */
	bool first;			  /* no item written yet in this table (hedy) */
	int rc;				  /* first error */
	const char *table;		  /* the table being written */
	struct dyn_err *err;		  /* for refusals, or NULL */
};

/* Say which item Hedy's file cannot hold: "table T, item {key}: path: why". */
static void hedy_refused(struct exp *ex, const struct val *item)
{
	const char *names[2] = {ex->pk, ex->sk};
	char msg[sizeof(ex->err->msg) + sizeof(ex->err->path) + 400], *key = NULL;
	struct val k, c;
	const struct val *v;
	size_t len, i;

	val_init_map(&k);
	for (i = 0; i < 2; i++)
		if (names[i] && (v = val_map_get(item, names[i], strlen(names[i]))) &&
		    val_copy(&c, v) == 0)
			val_map_set(&k, names[i], strlen(names[i]), &c);
	if (item_render_compact(&k, ex->pk, ex->sk, &key, &len) == 0 && len > 120)
		strcpy(key + 117, "...");
	val_free(&k);
	snprintf(msg, sizeof(msg), "table %s, item %s: %s%s%s", ex->table, key ? key : "?",
		 ex->err->path, ex->err->path[0] ? ": " : "", ex->err->msg);
	free(key);
	err_clear(ex->err);
	err_set(ex->err, EINVAL, "%s", msg);
}

static int export_visit(void *ctx, const struct item_ref *r)
{
	struct exp *ex = ctx;
	struct val v;
	char *text;
	size_t len;
	int rc;

	rc = iref_decode(r, &v);
	if (rc < 0)
		goto out;
	ex->b.len = 0;
	switch (ex->o->format) {
	case XFER_JSONL:
		rc = item_render_compact(&v, ex->pk, ex->sk, &text, &len);
		if (rc == 0) {
			rc = sf_buf_add(&ex->b, text, len);
			free(text);
		}
		if (rc == 0)
			rc = sf_buf_addc(&ex->b, '\n');
		break;
	case XFER_DYNAMODB:
		rc = xfer_ddb_render(&ex->b, &v, ex->pk, ex->sk);
		if (rc == 0)
			rc = sf_buf_addc(&ex->b, '\n');
		break;
	case XFER_HEDY:
		rc = sf_buf_adds(&ex->b, ex->first ? "\n    " : ",\n    ");
		if (rc == 0)
			rc = xfer_hedy_render(&ex->b, &v, 2, ex->pk, ex->sk, ex->err);
		if (rc < 0 && ex->err && ex->err->code)
			hedy_refused(ex, &v);
		break;
	}
	val_free(&v);
	if (rc == 0 && fwrite(ex->b.p, 1, ex->b.len, ex->out) != ex->b.len)
		rc = -EIO;
	if (rc < 0)
		goto out;
	ex->first = false;
	ex->prog.items++;
	ex->prog.bytes += ex->b.len;
	if (ex->o->progress && ex->prog.items % PROGRESS_EVERY == 0)
		ex->o->progress(ex->o->progress_ctx, &ex->prog);
	return 0;
out:
	ex->rc = rc;
	return 1;
}

static int export_table(struct exp *ex, db_t *db, const char *name, bool last,
			struct dyn_err *err)
{
	struct tbl_scan sc = {0};
	table_t *t;
	int rc;

	rc = db_table_open(db, name, &t);
	if (rc < 0)
		return err_set(err, -rc, "no table %s in the store", name);
	ex->pk = tbl_pk(t)->name;
	ex->sk = tbl_sk(t) ? tbl_sk(t)->name : NULL;
	ex->first = true;
	ex->table = name;
	ex->err = err;
	if (ex->o->format == XFER_HEDY) {
		fputs("  ", ex->out);
		ex->b.len = 0;
		sf_json_str(&ex->b, name, strlen(name));
		fwrite(ex->b.p, 1, ex->b.len, ex->out);
		fputs(": [", ex->out);
	}
	rc = tbl_scan(t, &sc, export_visit, ex, err);
	if (ex->rc < 0)
		rc = ex->rc;
	if (rc == 0 && ex->o->format == XFER_HEDY)
		fputs(ex->first ? "]" : "\n  ]", ex->out), fputs(last ? "\n" : ",\n", ex->out);
	tbl_close(t);
	return rc < 0 ? rc : 0;
}

int xfer_export(db_t *db, FILE *out, const struct xfer_export_opts *o, uint64_t *items,
		struct dyn_err *err)
{
	struct exp ex = {out, o, NULL, NULL, SF_BUF_INIT, {0, 0}, true, 0, NULL, NULL};
	struct names nm;
	size_t i;
	int rc;

	rc = names_of(db, o->table, &nm, err);
	if (rc < 0)
		goto out;
	if (o->format != XFER_HEDY && nm.n != 1) {
		rc = err_set(err, EINVAL,
			     nm.n ? "the store has %zu tables: choose one with --table"
				  : "the store has no tables (%zu)",
			     nm.n);
		goto out;
	}
	if (o->format == XFER_HEDY)
		fputs(nm.n ? "{\n" : "{}\n", out);
	for (i = 0; rc == 0 && i < nm.n; i++)
		rc = export_table(&ex, db, nm.v[i], i + 1 == nm.n, err);
	if (rc == 0 && o->format == XFER_HEDY && nm.n)
		fputs("}\n", out);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = err_set(err, EIO, "write error");
	if (o->progress)
		o->progress(o->progress_ctx, &ex.prog);
	if (items)
		*items = ex.prog.items;
out:
	names_free(&nm);
	sf_buf_free(&ex.b);
	return rc;
}

/* ---- input files ---- */

int xfer_in_open(const char *path, struct xfer_in *in, struct dyn_err *err)
{
	unsigned char magic[2];
	int fd, p[2];
	ssize_t n;
	pid_t pid;

	in->child = 0;
	if (!strcmp(path, "-")) {
		in->fp = stdin;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	n = read(fd, magic, 2);
	if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		/* gzip: let gzip -dc do it rather than linking zlib */
		if (lseek(fd, 0, SEEK_SET) < 0 || pipe2(p, O_CLOEXEC) < 0) {
			close(fd);
			return err_set(err, errno, "%s: %s", path, strerror(errno));
		}
		pid = fork();
		if (pid < 0) {
			close(fd);
			close(p[0]);
			close(p[1]);
			return err_set(err, errno, "fork: %s", strerror(errno));
		}
		if (pid == 0) {
			dup2(fd, 0);
			dup2(p[1], 1);
			execlp("gzip", "gzip", "-dc", (char *)NULL);
			_exit(127);
		}
		close(fd);
		close(p[1]);
		in->child = pid;
		in->fp = fdopen(p[0], "r");
		if (!in->fp) {
			close(p[0]);
			return err_set(err, errno, "%s: %s", path, strerror(errno));
		}
		return 0;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 || !(in->fp = fdopen(fd, "r"))) {
		close(fd);
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int xfer_in_close(struct xfer_in *in, const char *path, struct dyn_err *err)
{
	int status = 0, rc = 0;

	if (in->fp && in->fp != stdin)
		fclose(in->fp);
	in->fp = NULL;
	if (in->child > 0) {
		if (waitpid(in->child, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			rc = err_set(err, EIO, "%s: gzip -dc failed (damaged or truncated file?)",
				     path);
		in->child = 0;
	}
	return rc;
}
