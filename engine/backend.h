/*
 * backend.h - DRAFT (issue 14, half B): the one face fs/ will talk to,
 * implemented by the local engine (db.h/ops.h) and by the DynamoDB
 * client (remote/remote.h).  Not used by any code yet: it is here so the
 * next round implements it as designed, and it compiles (tests include
 * it) so it cannot rot.  See docs/remote.md, "The backend face".
 *
 * Shape: a table of function pointers plus an opaque handle, like
 * SQLite's sqlite3_vfs / sqlite3_io_methods: one `const struct
 * be_methods` per implementation, a version field for growth, methods
 * named after what they do.  fs/ calls through it and never asks which
 * backend it has; where the two differ in cost or guarantees, the
 * backend says so in be_caps and fs/ adapts its policy (cache timeouts,
 * listing caps), not its code paths.
 *
 * Values are the engine's: items are struct val maps, schemas struct
 * table_schema, conditions/updates/filters/projections compiled expr_t
 * (the remote side prints them with expr_to_text).  Errors: 0 or a
 * negative errno with struct dyn_err, as everywhere in the engine;
 * -ECANCELED is a failed condition, -EAGAIN "throttled, try later",
 * -EIO with "outcome unknown" in err->msg a write that may or may not
 * have happened (remote only; fs/ reports it in /_errors).
 *
 * Threads: every method may be called from any FUSE worker thread at
 * once; implementations lock internally.
 */
#ifndef DYNFS_BACKEND_H
#define DYNFS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "expr.h"
#include "val.h"

#define BE_VERSION 1

typedef struct be be_t; /* an open backend: the local db, or a remote service */

/* What a backend can do and what it costs; fs/ adapts policy to these. */
enum be_caps {
	BE_CAP_TX = 1 << 0,	       /* apply() of n > 1 is atomic (DynamoDB Local, AWS) */
	BE_CAP_CHANGE_FEED = 1 << 1,   /* watch() sees every change, not only ours (local) */
	BE_CAP_CHEAP_LIST = 1 << 2,    /* list_partitions() costs no scan (local) */
	BE_CAP_SCHEMA_CHANGE = 1 << 3, /* set_schema() (remote: -o allow_schema_changes) */
	BE_CAP_EXACT_STATS = 1 << 4,   /* stats() are exact, not the service's estimates */
};

/* Metadata of one item as fs/ shows it (stat). */
struct be_meta {
	int64_t mtime_ns; /* local: commit time; remote: time we last saw it change */
	size_t size;	  /* bytes of the item as rendered (st_size) */
};

/* One item delivered to a reader: borrowed for the callback. */
struct be_item {
	const struct val *item;	    /* the item (index reads: as projected) */
	const struct be_meta *meta; /* its metadata */
};

/* Visitor: 0 to go on, nonzero to stop (that value is returned). */
typedef int (*be_visit_fn)(void *ctx, const struct be_item *it);

/*
 * A resume point: where a read stopped, to go on from there later (a
 * readdir offset, the next _query? page).  Opaque to fs/: local keeps
 * the last base key (and index sort key), remote the LastEvaluatedKey.
 * Owned by the caller; be_cursor_free releases it.
 */
struct be_cursor {
	struct val key; /* VAL_NULL: start / finished (see done) */
	bool done;	/* no more items */
};
void be_cursor_free(struct be_cursor *c);

/* An ordered read of one partition (Query) or an unordered one (Scan). */
struct be_read {
	const char *table;	 /* table */
	const char *index;	 /* NULL: the table; else an index */
	const struct val *pk;	 /* ordered: partition key value; NULL: unordered */
	struct tbl_range sk;	 /* ordered: sort key bounds (db.h) */
	bool desc;		 /* ordered: descending */
	const expr_t *filter;	 /* or NULL */
	const expr_t *proj;	 /* or NULL: whole items */
	uint32_t segment, total; /* unordered: parallel segment (total 0: all) */
	size_t limit;		 /* items to deliver, 0: until the visitor stops or the end */
	bool consistent;	 /* strongly consistent (base tables only) */
};

/* One write; conditions are compiled expressions (NULL: none). */
enum be_op_kind { BE_PUT, BE_DELETE, BE_UPDATE, BE_CHECK };
struct be_op {
	enum be_op_kind kind;	/* what */
	const char *table;	/* table */
	const struct val *item; /* BE_PUT: the item; others: the key */
	const expr_t *update;	/* BE_UPDATE */
	const expr_t *cond;	/* or NULL; O_EXCL is attribute_not_exists(pk) */
};

/* A change seen by watch(): after it was applied; borrowed for the call. */
typedef void (*be_change_fn)(void *ctx, const struct db_change *ch, size_t n);

/* Per-table figures for _stats.json. */
struct be_stats {
	uint64_t items; /* item count */
	uint64_t bytes; /* table size */
	bool estimated; /* the service's estimates (DynamoDB updates them ~6 h) */
};

struct be_methods {
	int version;	  /* BE_VERSION */
	const char *name; /* "local", "dynamodb" */
	unsigned caps;	  /* enum be_caps */

	/* Tables: names after `after` (NULL: first) in order, to fn. */
	int (*list_tables)(be_t *b, const char *after, db_name_fn fn, void *ctx,
			   struct dyn_err *err);
	/* Schema (new).  Remote: DescribeTable, cached by the caller's policy. */
	int (*schema)(be_t *b, const char *table, struct table_schema *out, struct dyn_err *err);
	int (*create_table)(be_t *b, const char *table, const struct table_schema *s,
			    struct dyn_err *err);
	int (*drop_table)(be_t *b, const char *table, struct dyn_err *err);
	/* Change indexes to match s (remote: one GSI per call, waiting for ACTIVE). */
	int (*set_schema)(be_t *b, const char *table, const struct table_schema *s,
			  struct dyn_err *err);

	/* One item by key: 0 and *out (new), -ENOENT if absent.  out/meta may be NULL. */
	int (*get)(be_t *b, const char *table, const struct val *key, bool consistent,
		   struct val *out, struct be_meta *meta, struct dyn_err *err);
	/*
	 * Items of r in order to fn, starting after *cur (updated to where it
	 * stopped: a later call with it resumes).  Remote: one or more
	 * Query/Scan pages; a page's items are delivered with their
	 * attributes, so readdirplus costs no request per entry.
	 */
	int (*read)(be_t *b, const struct be_read *r, struct be_cursor *cur, be_visit_fn fn,
		    void *ctx, struct dyn_err *err);
	/* Distinct partition key values (of the table or an index) after `after`. */
	int (*list_partitions)(be_t *b, const char *table, const char *index,
			       const struct val *after, tbl_pk_fn fn, void *ctx,
			       struct dyn_err *err);

	/*
	 * Apply ops: n == 1 a single conditional write (PutItem, DeleteItem,
	 * UpdateItem); n > 1 all or nothing (TransactWriteItems with a
	 * ClientRequestToken; -ENOTSUP without BE_CAP_TX).  *failed gets the
	 * index of the op whose condition failed.  new_item (if not NULL,
	 * n == 1) receives the item as written, so fs/ can remember the
	 * version a later save is conditional on.
	 */
	int (*apply)(be_t *b, const struct be_op *ops, size_t n, size_t *failed,
		     struct val *new_item, struct dyn_err *err);
	/*
	 * Non-atomic writes in order (_batch): BatchWriteItem for plain
	 * puts/deletes, single calls for the others; report(line, errno,
	 * message) for each failure, 0 when all landed.
	 */
	int (*batch)(be_t *b, const struct be_op *ops, size_t n,
		     void (*report)(void *ctx, size_t i, int code, const char *msg), void *ctx);

	/* Changes to fn: local every change; remote only this mount's own writes. */
	void (*watch)(be_t *b, be_change_fn fn, void *ctx);
	int (*stats)(be_t *b, const char *table, struct be_stats *out, struct dyn_err *err);
	void (*close)(be_t *b);
};

/* Every backend handle starts with its methods. */
struct be {
	const struct be_methods *m; /* the implementation */
};

/* Constructors (half B): the local engine, and a remote service. */
int be_local_open(db_t *db, be_t **out);
struct rmt;
int be_remote_open(struct rmt *client, be_t **out);

#endif
