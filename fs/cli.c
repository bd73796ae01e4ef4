/*
 * cli.c - `dynfs import` and `dynfs export` (cli.h; formats in
 * docs/formats.md).
 *
 *   dynfs import STORE FILE... [--format F] [--table NAME] [--schema FILE]
 *                              [--guess-keys] [--replace[=all]]
 *   dynfs export STORE [--format F] [--table NAME] [-o FILE] [--schema-out FILE]
 *   dynfs export STORE --schema-out FILE --schema-only
 *   dynfs export STORE --check
 *
 * Import opens the store read-write (creating the directory and an empty
 * store if needed) and loads every FILE inside one store_bulk(): the items
 * go into memory without journaling and are made durable by one snapshot,
 * so an import is all or nothing and as fast as the snapshot writer.  A
 * mounted store holds the lock, so import refuses it (EBUSY, naming the
 * pid).  Hedy's format takes its key schemas from schemas/hedy.json by
 * default (found next to the binary: PREFIX/share/dynfs/ when installed,
 * the source tree's schemas/ when run from build/), and prints one
 * warning line for each thing in the file that the store does not keep
 * as written.  Export opens the store read-only (a shared lock) and streams the
 * table(s) out; with -o the file is replaced atomically.  export --check
 * loads the store (which validates snapshot and journal) and runs the
 * engine's integrity checker instead of exporting.
 *
 * Progress goes to stderr, when it is a terminal, a few times a second.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/feed.h"
#include "../engine/journal.h"
#include "../engine/store.h"
#include "../engine/storefile.h"
#include "../engine/xfer.h"

/* Options of both subcommands. */
struct cli_opts {
	const char *store;	 /* STORE directory */
	char **files;		 /* import: input files */
	int nfiles;		 /* entries in files */
	enum xfer_format format; /* chosen format */
	bool have_format;	 /* --format given */
	const char *table;	 /* --table */
	const char *schema;	 /* import: --schema FILE */
	bool guess_keys;	 /* import: --guess-keys */
	enum xfer_replace replace; /* import: --replace[=all] */
	const char *out;	 /* export: -o FILE */
	const char *schema_out;	 /* export: --schema-out FILE */
	bool schema_only;	 /* export: --schema-only, no items */
	bool check;		 /* export: --check, verify integrity instead */
	bool quiet;		 /* --quiet: no progress, no summary */
};

/* Progress display state. */
struct progress {
	const char *verb;     /* "imported" / "exported" */
	bool tty;	      /* stderr is a terminal */
	bool shown;	      /* a progress line is on screen */
	struct timespec last; /* when it was last drawn */
};

static const char import_usage[] =
	"usage: dynfs import STORE FILE... [--format jsonl|dynamodb|hedy] [--table NAME]\n"
	"                    [--schema SCHEMA.json] [--guess-keys] [--replace[=all]] [--quiet]\n"
	"\n"
	"Load items into the store in directory STORE (created if missing).  The store\n"
	"must not be mounted.  The whole import is one step: if any item is rejected,\n"
	"nothing is imported.\n"
	"\n"
	"  --format F       input format (default: guessed from the first file)\n"
	"                     dynamodb  DynamoDB JSON Lines: {\"Item\": {\"a\": {\"S\": \"x\"}}}\n"
	"                               per line, as DynamoDB's export to S3 writes\n"
	"                     jsonl     JSON Lines of items in document form (item files)\n"
	"                     hedy      Hedy's dev_database.json: {\"table\": [items...]}\n"
	"  --table NAME     the table to load (required for dynamodb and jsonl; for hedy,\n"
	"                   load only this table)\n"
	"  --schema FILE    key schemas for tables that do not exist yet: one _schema.json\n"
	"                   (for --table) or {\"users\": {\"partition_key\": {\"name\":\n"
	"                   \"username\", \"type\": \"S\"}}, ...}; for hedy the default is\n"
	"                   Hedy's own tables (schemas/hedy.json, installed with dynfs)\n"
	"  --guess-keys     hedy: create a table no schema names, its key guessed\n"
	"  --replace        each table in the input ends up holding exactly its items\n"
	"                   (items not in the input are deleted)\n"
	"  --replace=all    hedy: also drop the store's tables the file does not have\n"
	"  --quiet          no progress or summary on stderr\n"
	"\n"
	"FILE may be - for standard input; gzip-compressed files are read through gzip -dc.\n";

static const char export_usage[] =
	"usage: dynfs export STORE [--format jsonl|dynamodb|hedy] [--table NAME] [-o FILE]\n"
	"                    [--schema-out FILE [--schema-only]] [--check] [--quiet]\n"
	"\n"
	"Write the store's items in key order.  The store must not be mounted read-write.\n"
	"\n"
	"  --format F         jsonl (default), dynamodb or hedy (all tables in one file)\n"
	"  --table NAME       the table to export (required for jsonl and dynamodb when\n"
	"                     the store has more than one table)\n"
	"  -o, --output FILE  write to FILE (replaced atomically) instead of stdout\n"
	"  --schema-out FILE  also write the tables' schemas, as --schema of import reads\n"
	"  --schema-only      write only the --schema-out file (every table, or --table's)\n"
	"  --check            export nothing: load the store, verify every table's\n"
	"                     integrity (keys, order, counts, indexes) and report\n"
	"  --quiet            no progress or summary on stderr\n";

static void progress_cb(void *ctx, const struct xfer_progress *p)
{
	struct progress *pr = ctx;
	struct timespec now;

	if (!pr->tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pr->shown && (now.tv_sec - pr->last.tv_sec) * 1000000000L +
				 (now.tv_nsec - pr->last.tv_nsec) < 200000000L)
		return;
	pr->last = now;
	pr->shown = true;
	fprintf(stderr, "\r%s %llu items (%.1f MB)...", pr->verb, (unsigned long long)p->items,
		(double)p->bytes / 1e6);
}

static void progress_end(struct progress *pr)
{
	if (pr->shown)
		fputc('\n', stderr);
	pr->shown = false;
}

static void report(const char *what, const struct dyn_err *err, int rc)
{
	char buf[700];

	if (err->code)
		fprintf(stderr, "dynfs %s: %s\n", what, err_format(err, buf, sizeof(buf)));
	else
		fprintf(stderr, "dynfs %s: %s\n", what, strerror(-rc));
}

/* Parse the options of a subcommand: -1 to go on, else an exit status. */
static int parse_opts(int argc, char **argv, bool is_import, struct cli_opts *o)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"table", required_argument, NULL, 't'},
		{"schema", required_argument, NULL, 's'},
		{"guess-keys", no_argument, NULL, 'g'},
		{"replace", optional_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},
		{"schema-out", required_argument, NULL, 'S'},
		{"schema-only", no_argument, NULL, 'O'},
		{"check", no_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *usage = is_import ? import_usage : export_usage;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:t:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (xfer_format_from_name(optarg, &o->format) < 0) {
				fprintf(stderr, "dynfs: unknown format %s (jsonl, dynamodb, hedy)\n",
					optarg);
				return 2;
			}
			o->have_format = true;
			break;
		case 't':
			o->table = optarg;
			break;
		case 's':
			if (!is_import)
				goto bad;
			o->schema = optarg;
			break;
		case 'g':
			if (!is_import)
				goto bad;
			o->guess_keys = true;
			break;
		case 'r':
			if (!is_import)
				goto bad;
			if (!optarg || !strcmp(optarg, "tables"))
				o->replace = XFER_REPLACE_TABLES;
			else if (!strcmp(optarg, "all"))
				o->replace = XFER_REPLACE_ALL;
			else {
				fprintf(stderr, "dynfs: --replace=%s: say --replace or --replace=all\n",
					optarg);
				return 2;
			}
			break;
		case 'o':
		case 'S':
			if (is_import)
				goto bad;
			*(c == 'o' ? &o->out : &o->schema_out) = optarg;
			break;
		case 'c':
			if (is_import)
				goto bad;
			o->check = true;
			break;
		case 'O':
			if (is_import)
				goto bad;
			o->schema_only = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind >= argc)
		goto bad;
	o->store = argv[optind++];
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (is_import ? o->nfiles < 1 : o->nfiles != 0)
		goto bad;
	if (o->schema_only && !o->schema_out) {
		fprintf(stderr, "dynfs export: --schema-only needs --schema-out FILE\n");
		return 2;
	}
	if (o->replace == XFER_REPLACE_ALL && o->table) {
		fprintf(stderr, "dynfs import: --replace=all drops every other table; it does "
				"not go with --table\n");
		return 2;
	}
	if (o->replace && o->nfiles > 1) {
		fprintf(stderr, "dynfs import: --replace takes one FILE (each would empty the "
				"tables the others filled)\n");
		return 2;
	}
	return -1;
bad:
	fputs(usage, stderr);
	return 2;
}

/* The whole file (through gzip if compressed), NUL-terminated; *text new. */
static int read_file(const char *path, char **text, size_t *len)
{
	struct xfer_in in;
	struct dyn_err err;
	size_t cap = 0, n;
	char *p = NULL, *q;

	err_clear(&err);
	*len = 0;
	if (xfer_in_open(path, &in, &err) < 0) {
		fprintf(stderr, "dynfs import: %s\n", err.msg);
		return -1;
	}
	for (;;) {
		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : 65536;
			q = realloc(p, cap + 1);
			if (!q) {
				free(p);
				xfer_in_close(&in, path, NULL);
				return -1;
			}
			p = q;
		}
		n = fread(p + *len, 1, cap - *len, in.fp);
		*len += n;
		if (n == 0)
			break;
	}
	p[*len] = 0;
	xfer_in_close(&in, path, NULL);
	*text = p;
	return 0;
}

/*
 * Guess the format of an uncompressed file from its first line: an object
 * with an "Item" member is DynamoDB JSON, another complete object is JSON
 * Lines (unless all its members are arrays: Hedy's format on one line),
 * anything else (an object spread over lines) Hedy's pretty JSON.
 * Compressed files are taken to be DynamoDB's S3 export.
 */
static enum xfer_format guess_format(const char *path)
{
	char buf[65536], *nl;
	struct sf_span all, k, x;
	struct sf_iter it;
	bool arrays = true;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return XFER_JSONL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b)
		return XFER_DYNAMODB;
	if (n <= 0)
		return XFER_JSONL;
	buf[n] = 0;
	nl = memchr(buf, '\n', (size_t)n);
	if (sf_whole(buf, nl ? (size_t)(nl - buf) : (size_t)n, &all) < 0 ||
	    sf_obj_open(&it, all) < 0)
		return XFER_HEDY;
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "Item"))
			return XFER_DYNAMODB;
		arrays = arrays && x.p[0] == '[';
	}
	return rc == 0 && arrays ? XFER_HEDY : XFER_JSONL;
}

struct import_job {
	struct cli_opts *o;	      /* options */
	struct xfer_schemas *schemas; /* from --schema, or NULL */
	struct progress pr;	      /* display */
	uint64_t items;		      /* total imported */
	struct xfer_schemas hedy;     /* the default schemas of the hedy format */
	bool hedy_loaded;	      /* hedy was read */
	uint64_t warnings;	      /* warning lines printed */
};

static void warn_cb(void *ctx, const char *msg)
{
	struct import_job *job = ctx;

	progress_end(&job->pr);
	fprintf(stderr, "dynfs import: warning: %s\n", msg);
	job->warnings++;
}

/*
 * The default schema file of the hedy format: PREFIX/share/dynfs/hedy.json
 * next to an installed binary, else the source tree's schemas/hedy.json
 * next to build/dynfs.  *path new.
 */
static int hedy_schema_path(char **path)
{
	static const char *const rel[] = {"/../share/dynfs/hedy.json", "/../schemas/hedy.json",
					  "/../../schemas/hedy.json"};
	char exe[4096], *slash;
	ssize_t n;
	size_t i;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (asprintf(path, "%s%s", exe, rel[i]) < 0)
			return -ENOMEM;
		if (access(*path, R_OK) == 0)
			return 0;
		free(*path);
	}
	*path = NULL;
	return -ENOENT;
}

static int read_file(const char *path, char **text, size_t *len);

/* Load the hedy format's default schemas (once). */
static int hedy_defaults(struct import_job *job, struct dyn_err *err)
{
	char *path = NULL, *text;
	size_t len;
	int rc;

	if (job->hedy_loaded)
		return 0;
	if (hedy_schema_path(&path) < 0)
		return err_set(err, ENOENT, "Hedy's schema file (hedy.json) is neither in "
					    "../share/dynfs/ nor in ../schemas/ next to the dynfs "
					    "binary: give one with --schema");
	if (read_file(path, &text, &len) < 0) {
		rc = err_set(err, EIO, "%s: cannot read it", path);
		free(path);
		return rc;
	}
	rc = xfer_schemas_parse(text, len, NULL, &job->hedy, err);
	free(text);
	if (rc < 0)
		err_path(err, path);
	else
		job->hedy_loaded = true;
	free(path);
	return rc;
}

static int import_fn(void *ctx, db_t *db, struct dyn_err *err)
{
	struct import_job *job = ctx;
	struct xfer_import_opts xo = {0};
	struct xfer_in in;
	uint64_t n;
	int i, rc;

	for (i = 0; i < job->o->nfiles; i++) {
		const char *path = job->o->files[i];

		xo.format = job->o->format;
		if (!job->o->have_format) {
			if (!strcmp(path, "-"))
				return err_set(err, EINVAL, "reading standard input needs --format");
			xo.format = guess_format(path);
			if (!job->o->quiet)
				fprintf(stderr, "dynfs import: %s: format %s (guessed; use --format "
						"to choose)\n",
					path, xfer_format_name(xo.format));
		}
		xo.table = job->o->table;
		xo.schemas = job->schemas;
		if (xo.format == XFER_HEDY && !xo.schemas) {
			rc = hedy_defaults(job, err);
			if (rc < 0)
				return rc;
			xo.schemas = &job->hedy;
		}
		xo.guess_keys = job->o->guess_keys;
		xo.replace = job->o->replace;
		xo.warn.fn = warn_cb;
		xo.warn.ctx = job;
		xo.source = path;
		xo.progress = job->o->quiet ? NULL : progress_cb;
		xo.progress_ctx = &job->pr;
		rc = xfer_in_open(path, &in, err);
		if (rc < 0)
			return rc;
		rc = xfer_import(db, in.fp, &xo, &n, err);
		if (xfer_in_close(&in, path, rc < 0 ? NULL : err) < 0 && rc == 0)
			rc = -EIO;
		progress_end(&job->pr);
		if (rc < 0)
			return rc;
		job->items += n;
	}
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	struct cli_opts o;
	struct xfer_schemas schemas = {0};
	struct import_job job = {&o, NULL, {"imported", false, false, {0, 0}}, 0, {0}, false, 0};
	struct store_opts so = {STORE_FSYNC_OFF, false, true};
	struct dyn_err err;
	store_t *st;
	db_t *db;
	char *text;
	size_t len;
	int rc, crc;

	rc = parse_opts(argc, argv, true, &o);
	if (rc >= 0)
		return rc;
	err_clear(&err);
	job.pr.tty = isatty(2);
	if (o.schema) {
		if (read_file(o.schema, &text, &len) < 0)
			return 1;
		rc = xfer_schemas_parse(text, len, o.table, &schemas, &err);
		free(text);
		if (rc < 0) {
			fprintf(stderr, "dynfs import: %s: ", o.schema);
			report("import", &err, rc);
			return 1;
		}
		job.schemas = &schemas;
	}
	if (mkdir(o.store, STF_DIR_MODE) < 0 && errno != EEXIST) {
		rc = -errno;
		fprintf(stderr, "dynfs import: %s: %s\n", o.store, strerror(-rc));
		goto out_schemas;
	}
	rc = store_open(o.store, &so, &st, &db, &err);
	if (rc < 0) {
		report("import", &err, rc);
		goto out_schemas;
	}
	/* The imported items are numbered in the change feed's sequence too
	 * (nobody follows them), so a `_changes?since=` from before the import
	 * fails as no longer retained instead of silently skipping them. */
	rc = feed_seqfile_open(db_feed(db), o.store, false, &err);
	if (rc == 0)
		rc = store_bulk(st, import_fn, &job, &err);
	feed_seqfile_close(db_feed(db));
	if (rc < 0) {
		progress_end(&job.pr);
		report("import", &err, rc);
		fprintf(stderr, "dynfs import: nothing was imported; %s is unchanged\n", o.store);
	}
	err_clear(&err);
	crc = store_close(st, &err);
	if (crc < 0 && rc == 0) {
		report("import", &err, crc);
		rc = crc;
	}
	if (rc == 0 && !o.quiet)
		fprintf(stderr, "dynfs import: %llu items imported into %s%s\n",
			(unsigned long long)job.items, o.store,
			job.warnings ? " (see the warnings above)" : "");
out_schemas:
	xfer_schemas_free(&schemas);
	xfer_schemas_free(&job.hedy);
	return rc < 0 ? 1 : 0;
}

/*
 * An output file.  A regular file (or a new one) is replaced atomically:
 * written to a temporary file, synced and renamed over the target.  Any
 * other existing target (/dev/null, a FIFO, /dev/stdout) is written in
 * place, since renaming over it would replace the device with a file.
 */
struct out_file {
	FILE *fp;	  /* where to write */
	char *tmp;	  /* temporary name, or NULL when writing in place */
	const char *path; /* the target */
};

static int out_open(struct out_file *of, const char *path)
{
	struct stat sb;

	of->path = path;
	of->tmp = NULL;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		of->fp = fopen(path, "we");
		return of->fp ? 0 : -errno;
	}
	if (asprintf(&of->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		of->tmp = NULL;
		return -ENOMEM;
	}
	of->fp = fopen(of->tmp, "we");
	if (!of->fp) {
		int rc = -errno;

		free(of->tmp);
		of->tmp = NULL;
		return rc;
	}
	return 0;
}

/* fsync the directory holding path, so that a rename into it is durable. */
static void sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Finish: on ok, sync and rename into place; else remove the temp file. */
static int out_close(struct out_file *of, bool ok)
{
	int rc = 0;

	if (ok && fflush(of->fp) != 0)
		rc = -errno;
	if (ok && rc == 0 && of->tmp && fsync(fileno(of->fp)) < 0)
		rc = -errno;
	if (fclose(of->fp) != 0 && ok && rc == 0)
		rc = -errno;
	if (of->tmp) {
		if (ok && rc == 0 && rename(of->tmp, of->path) < 0)
			rc = -errno;
		if (ok && rc == 0)
			sync_dir(of->path);
		if (!ok || rc < 0)
			unlink(of->tmp);
		free(of->tmp);
	}
	return rc;
}

/* Write buf to path (atomically for regular files). */
static int write_atomic(const char *path, const char *buf, size_t len)
{
	struct out_file of;
	int rc;

	rc = out_open(&of, path);
	if (rc < 0)
		return rc;
	if (fwrite(buf, 1, len, of.fp) != len)
		rc = errno ? -errno : -EIO;
	return out_close(&of, rc == 0) ?: rc;
}

static int export_run(struct cli_opts *o, db_t *db, struct progress *pr, uint64_t *n,
		      struct dyn_err *err)
{
	struct xfer_export_opts xo = {o->format, o->table, o->quiet ? NULL : progress_cb, pr};
	struct sf_buf sb = SF_BUF_INIT;
	struct out_file of = {stdout, NULL, NULL};
	int rc = 0, rc2;

	if (o->schema_only)
		goto schemas;
	if (o->out) {
		rc = out_open(&of, o->out);
		if (rc < 0)
			return err_set(err, -rc, "%s: %s", o->out, strerror(-rc));
	}
	rc = xfer_export(db, of.fp, &xo, n, err);
	progress_end(pr);
	if (o->out) {
		rc2 = out_close(&of, rc == 0);
		if (rc == 0 && rc2 < 0)
			rc = err_set(err, -rc2, "%s: %s", o->out, strerror(-rc2));
	}
schemas:
	if (rc == 0 && o->schema_out) {
		rc = xfer_schemas_render(db, o->table, &sb, err);
		if (rc == 0 && (rc = write_atomic(o->schema_out, sb.p, sb.len)) < 0)
			err_set(err, -rc, "%s: %s", o->schema_out, strerror(-rc));
		sf_buf_free(&sb);
	}
	return rc;
}

struct count {
	db_t *db;	/* the database */
	uint64_t items; /* items in all tables */
};

static int count_cb(void *ctx, const char *name)
{
	struct count *c = ctx;
	struct tbl_stats ts;
	table_t *t;

	if (db_table_open(c->db, name, &t) == 0) {
		tbl_stats(t, &ts);
		c->items += ts.items;
		tbl_close(t);
	}
	return 0;
}

/*
 * export --check: damaged journal tails are reported, whether found now
 * (the journal's last record is not replayed) or set aside by an earlier
 * read-write open (journal.torn-*): they may hold acknowledged changes.
 */
static void check_torn(struct cli_opts *o, store_t *st)
{
	struct store_stats ss;
	struct dirent *de;
	struct stat sb;
	char *p;
	DIR *d;

	store_get_stats(st, &ss);
	if (ss.torn_tail)
		fprintf(stderr,
			"dynfs export: %s: warning: the journal's last record is damaged or "
			"incomplete and is not replayed (the next read-write mount sets it aside "
			"in %sN)\n",
			o->store, JOURNAL_TORN_PREFIX);
	d = opendir(o->store);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, JOURNAL_TORN_PREFIX, strlen(JOURNAL_TORN_PREFIX)))
			continue;
		if (asprintf(&p, "%s/%s", o->store, de->d_name) < 0)
			break;
		fprintf(stderr,
			"dynfs export: %s: warning: %s (%lld bytes) holds a damaged or incomplete "
			"journal tail set aside at an earlier open; it may contain acknowledged "
			"changes (docs/formats.md, \"Guarantees\")\n",
			o->store, p, stat(p, &sb) == 0 ? (long long)sb.st_size : -1LL);
		free(p);
	}
	closedir(d);
}

/* export --check: loading validated the files; now every table's invariants. */
static int check_run(struct cli_opts *o, db_t *db)
{
	struct count c = {db, 0};
	char *why = NULL;

	if (db_check_integrity(db, &why) < 0) {
		fprintf(stderr, "dynfs export: %s: integrity violation: %s\n", o->store,
			why ? why : "?");
		free(why);
		return -EUCLEAN;
	}
	db_list_tables(db, NULL, count_cb, &c);
	if (!o->quiet)
		printf("%s: ok: %zu tables, %llu items\n", o->store, db_table_count(db),
		       (unsigned long long)c.items);
	return 0;
}

static int cmd_export(int argc, char **argv)
{
	struct cli_opts o;
	struct store_opts so = {STORE_FSYNC_OFF, true, false};
	struct progress pr = {"exported", false, false, {0, 0}};
	struct dyn_err err;
	uint64_t n = 0;
	store_t *st;
	db_t *db;
	int rc;

	rc = parse_opts(argc, argv, false, &o);
	if (rc >= 0)
		return rc;
	if (!o.have_format)
		o.format = XFER_JSONL;
	err_clear(&err);
	pr.tty = isatty(2);
	rc = store_open(o.store, &so, &st, &db, &err);
	if (rc < 0) {
		report("export", &err, rc);
		return 1;
	}
	if (o.check) {
		check_torn(&o, st);
		rc = check_run(&o, db);
		store_close(st, NULL);
		return rc < 0 ? 1 : 0;
	}
	rc = export_run(&o, db, &pr, &n, &err);
	if (rc < 0)
		report("export", &err, rc);
	else if (!o.quiet)
		fprintf(stderr, "dynfs export: %llu items exported from %s\n",
			(unsigned long long)n, o.store);
	err_clear(&err);
	store_close(st, &err);
	return rc < 0 ? 1 : 0;
}

int cli_main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return cmd_import(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "export"))
		return cmd_export(argc - 1, argv + 1);
	fprintf(stderr, "usage: dynfs import|export ... (--help for details)\n");
	return 2;
}
