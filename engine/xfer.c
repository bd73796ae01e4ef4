/*
 * xfer.c - import and export of whole streams, schema files, input files
 * (xfer.h; formats in docs/formats.md).  The per-value converters live in
 * xfer_ddb.c (DynamoDB JSON) and xfer_hedy.c (Hedy's dev_database.json;
 * the whole-file Hedy import is xfer_hedy_file.c, sharing xferint.h);
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
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "item.h"
#include "num.h"
#include "xferint.h"

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

const struct table_schema *xfer_schemas_find(const struct xfer_schemas *s, const char *name)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return &s->s[i];
	return NULL;
}

int xfer_names_add(void *ctx, const char *name)
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

void xfer_names_free(struct names *nm)
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
		return xfer_names_add(nm, table);
	}
	rc = db_list_tables(db, NULL, xfer_names_add, nm);
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
		schema_sort_indexes(&s); /* as _schema.json lists them */
		if (sf_buf_adds(out, "  ") < 0 || sf_json_str(out, nm.v[i], strlen(nm.v[i])) < 0 ||
		    sf_buf_adds(out, ": ") < 0 || sf_schema_render(out, &s) < 0 ||
		    sf_buf_adds(out, i + 1 < nm.n ? ",\n" : "\n") < 0)
			rc = -ENOMEM;
		schema_free(&s);
	}
	if (rc == 0)
		rc = sf_buf_adds(out, "}\n");
out:
	xfer_names_free(&nm);
	return rc;
}

/* ---- import ---- */

/* Open (creating it from the schemas if needed) the table name into im->t. */
int xfer_imp_table(struct imp *im, const char *name, struct dyn_err *err)
{
	const struct table_schema *want = xfer_schemas_find(im->o->schemas, name);
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

int xfer_imp_put(struct imp *im, struct val *item, struct dyn_err *err)
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
int xfer_imp_empty(struct imp *im, const char *name, struct dyn_err *err)
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
int xfer_located(const struct imp *im, struct dyn_err *err, int rc, uint64_t line, int col)
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
	rc = xfer_imp_table(im, im->o->table, err);
	if (rc == 0 && im->o->replace != XFER_REPLACE_NONE)
		rc = xfer_imp_empty(im, im->o->table, err);
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
			rc = xfer_imp_put(im, &item, err);
		if (rc < 0) {
			rc = xfer_located(im, err, rc, lineno, err && err->line <= 1 ? err->col : 0);
			goto out;
		}
	}
	rc = ferror(in) ? err_set(err, EIO, "%s: read error", im->o->source) : 0;
out:
	free(line);
	return rc;
}

int xfer_slurp(FILE *in, struct sf_buf *b)
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

int xfer_import(db_t *db, FILE *in, const struct xfer_import_opts *o, uint64_t *items,
		struct dyn_err *err)
{
	struct imp im = {db, o, NULL, {0, 0}, NULL, 0};
	int rc;

	if (o->format == XFER_HEDY)
		rc = xfer_import_hedy(&im, in, err);
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
	xfer_names_free(&nm);
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
