/*
 * xferint.h - what the import files of the xfer module share (xfer.c,
 * xfer_hedy_file.c); not part of the module's face (xfer.h).
 */
#ifndef DYNFS_XFERINT_H
#define DYNFS_XFERINT_H

#include "xfer.h"

/* A list of table names. */
struct names {
	char **v; /* collected names */
	size_t n; /* used */
};

/* One import in progress. */
struct imp {
	db_t *db;			  /* target */
	const struct xfer_import_opts *o; /* options */
	table_t *t;			  /* current table */
	struct xfer_progress prog;	  /* counters */
	const char *lc_p;		  /* hedy: a position in the file whose line... */
	int lc_line;			  /* ...is known, to count lines incrementally */
};

/* The schema the user gave for table name, or NULL (borrowed). */
const struct table_schema *xfer_schemas_find(const struct xfer_schemas *s, const char *name);
/* Append a copy of name (a db_list_tables callback).  -ENOMEM. */
int xfer_names_add(void *ctx, const char *name);
void xfer_names_free(struct names *nm);

/* Open (creating it from the schemas if needed) the table name into im->t. */
int xfer_imp_table(struct imp *im, const char *name, struct dyn_err *err);
/* Put item (steals it) into im->t and count it. */
int xfer_imp_put(struct imp *im, struct val *item, struct dyn_err *err);
/* --replace: make im->t (table name) an empty table with the same schema. */
int xfer_imp_empty(struct imp *im, const char *name, struct dyn_err *err);
/* Prefix err's message with "source:line:col: " (col 0: none); returns rc. */
int xfer_located(const struct imp *im, struct dyn_err *err, int rc, uint64_t line, int col);
/* Read all of in into b (NUL-terminated).  -ENOMEM, -EIO. */
int xfer_slurp(FILE *in, struct sf_buf *b);

/* Import Hedy's dev_database.json from in (xfer_hedy_file.c). */
int xfer_import_hedy(struct imp *im, FILE *in, struct dyn_err *err);

#endif
