/*
 * xfer.h - import and export: converting between a database and the
 * interchange formats of SPEC §7 (docs/formats.md has examples).
 *
 *   XFER_DYNAMODB  DynamoDB JSON Lines, as DynamoDB's export to S3 writes:
 *                  one {"Item": {"name": {"S": "..."}, ...}} per line, every
 *                  value typed ({"N": "12.5"} with the number as a string,
 *                  {"B": base64}, {"SS": [...]}, {"L": [...]}, {"M": {...}},
 *                  {"NULL": true}, {"BOOL": false}).  A line without the
 *                  "Item" wrapper is read as the item map itself.
 *   XFER_JSONL     JSON Lines of items in document form (SPEC §5), the
 *                  form item files have, one compact item per line.
 *   XFER_HEDY      Hedy's dev_database.json: one JSON object mapping table
 *                  names to arrays of items, plain JSON values, sets written
 *                  {"$type": "set", "elements": [...]}.  Read the way Hedy's
 *                  loader (Python's json.load with its set hook) reads it:
 *                  a repeated member name keeps its last value, an object
 *                  whose "$type" is "set" is a set, every other object is
 *                  a map (no "$B"/"$M" tags), and of records sharing a key
 *                  the first is kept (Hedy's lookups return the first).
 *                  Everything that is not kept is reported through the
 *                  warning callback.  Binary values cannot be written
 *                  (Hedy's file has no binary type): export refuses them.
 *
 * Numbers are exact in every format: DynamoDB JSON carries them as
 * strings, the others as the digits written (read by the item codec, never
 * through a double).  Export then import gives back the same items.
 */
#ifndef DYNFS_XFER_H
#define DYNFS_XFER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "db.h"
#include "err.h"
#include "storefmt.h"
#include "val.h"

enum xfer_format {
	XFER_JSONL,    /* document-form JSON Lines */
	XFER_DYNAMODB, /* DynamoDB JSON Lines */
	XFER_HEDY,     /* Hedy dev_database.json */
};

/* "jsonl", "dynamodb" (or "ddb"), "hedy".  -EINVAL. */
int xfer_format_from_name(const char *name, enum xfer_format *out);
const char *xfer_format_name(enum xfer_format f);

/* ---- schemas supplied by the user (--schema) ---- */

struct xfer_schemas {
	char **names;		    /* table names (owned) */
	struct table_schema *s;	    /* their schemas (owned) */
	size_t n;		    /* entries */
};

/*
 * Parse a schema file: either one schema in the _schema.json form of SPEC
 * §6 (then it is for default_table, which must not be NULL), or an object
 * mapping table names to such schemas.  *out new (xfer_schemas_free).
 */
int xfer_schemas_parse(const char *text, size_t len, const char *default_table,
		       struct xfer_schemas *out, struct dyn_err *err);
void xfer_schemas_free(struct xfer_schemas *s);
/* The schemas of the db's tables (or of one) as a file xfer_schemas_parse reads. */
int xfer_schemas_render(db_t *db, const char *table, struct sf_buf *out, struct dyn_err *err);

/* ---- warnings (hedy: what the file holds that the store will not) ---- */

struct xfer_warn {
	void (*fn)(void *ctx, const char *msg); /* one line, no newline; NULL: none */
	void *ctx;				/* for fn */
};

/* ---- single items (also used by tests) ---- */

/* One DynamoDB JSON line into an item (*item new).  -EINVAL with err. */
int xfer_ddb_parse(const char *text, size_t len, struct val *item, struct dyn_err *err);
/* {"Item":{...}} for item, key attributes first (either may be NULL). */
int xfer_ddb_render(struct sf_buf *b, const struct val *item, const char *pk, const char *sk);
/*
 * One item of a Hedy file (*item new), read as Hedy's loader reads it:
 * plain JSON values; any object whose "$type" member is "set" is the set
 * of its "elements" (other members ignored, repeated elements kept once);
 * every other object is a map, whatever its member names; a repeated
 * member name keeps its last value.  An empty set is dropped from its map
 * (DynamoDB cannot hold one; in a list it is an error).  Each thing not
 * kept as written is reported to w (may be NULL) as "<what>[<record>]
 * .<path>: ...", what naming the table.  On error *where points at the
 * offending value in text (err's line/column, if any, are relative to it).
 */
int xfer_hedy_parse(const char *text, size_t len, struct val *item, const char **where,
		    const struct xfer_warn *w, const char *what, uint64_t record,
		    struct dyn_err *err);

/*
 * Append v in Hedy's layout (Python's json.dump(indent=2)) at nesting
 * level `level` (two spaces each); for an item, pk/sk (may be NULL) first.
 * -EINVAL (err names the attribute) for what Hedy's file cannot hold: a
 * binary value or set, or a map with a "$type": "set" member (Hedy would
 * read it back as a set).
 */
int xfer_hedy_render(struct sf_buf *b, const struct val *v, int level, const char *pk,
		     const char *sk, struct dyn_err *err);

/* ---- whole streams ---- */

struct xfer_progress {
	uint64_t items; /* items so far */
	uint64_t bytes; /* input or output bytes so far */
};
typedef void (*xfer_progress_fn)(void *ctx, const struct xfer_progress *p);

enum xfer_replace {
	XFER_REPLACE_NONE,   /* upsert: items not in the input stay */
	XFER_REPLACE_TABLES, /* each table in the input ends up holding exactly its items */
	XFER_REPLACE_ALL,    /* and tables not in the input are dropped (hedy) */
};

struct xfer_import_opts {
	enum xfer_format format;	    /* input format */
	const char *table;		    /* target (jsonl, dynamodb); hedy: only it, NULL = all */
	const struct xfer_schemas *schemas; /* create missing tables from these; may be NULL */
	bool guess_keys;		    /* hedy: create a table no schema names, key guessed */
	enum xfer_replace replace;	    /* what happens to items not in the input */
	const char *source;		    /* input name for messages */
	xfer_progress_fn progress;	    /* called every few thousand items; may be NULL */
	void *progress_ctx;		    /* for progress */
	struct xfer_warn warn;		    /* hedy: what is not kept as written */
};

/*
 * Read items from in and put them into db (a table must exist or be in
 * o->schemas; an existing table must agree with a given schema's keys).
 * JSON Lines: later items replace earlier ones with the same key.  Hedy:
 * the first record with a key is kept (a warning names both).  With
 * o->replace, a table named in the input is emptied first (keeping its
 * schema).  *items counts the items stored.  Stops at the first bad item:
 * -EINVAL etc. with err naming source, line and column; the caller's
 * store_bulk() then leaves the store as it was.
 */
int xfer_import(db_t *db, FILE *in, const struct xfer_import_opts *o, uint64_t *items,
		struct dyn_err *err);

struct xfer_export_opts {
	enum xfer_format format;   /* output format */
	const char *table;	   /* the table; NULL: all (hedy) or the only one */
	xfer_progress_fn progress; /* may be NULL */
	void *progress_ctx;	   /* for progress */
};

/* Write the table(s) to out in key order.  -ENOENT, -EINVAL (err), -EIO. */
int xfer_export(db_t *db, FILE *out, const struct xfer_export_opts *o, uint64_t *items,
		struct dyn_err *err);

/* ---- input files ---- */

/* An input stream: a plain file, stdin, or gzip -dc reading a .gz file. */
struct xfer_in {
	FILE *fp;    /* read from here */
	pid_t child; /* gzip's pid, or 0 */
};

/* Open path ("-" = stdin); gzip input (magic 1f 8b) is piped through gzip -dc. */
int xfer_in_open(const char *path, struct xfer_in *in, struct dyn_err *err);
/* Close; -EIO (err) if gzip reported a damaged file. */
int xfer_in_close(struct xfer_in *in, const char *path, struct dyn_err *err);

#endif
