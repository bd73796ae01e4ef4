/*
 * ops.h - write requests over db_apply(): UpdateItem, conditional PutItem
 * and DeleteItem, `_batch` JSON Lines and `/_tx` transaction documents.
 *
 * Everything here is a thin layer of meaning over db_apply(), the one
 * atomic write primitive (db.h): a condition or an update expression
 * becomes a db_modify_fn callback that runs under the table's write lock
 * with the current item, so "read, test, write" is one atomic step and
 * indexes are maintained by db_apply() as for any other write.
 *
 * Errors (negative errno, dyn_err filled):
 *   -ECANCELED  a condition ("if") was false: DynamoDB's
 *               ConditionalCheckFailedException.  The item is unchanged.
 *               Front ends map it as they must: a `_batch` line with a
 *               failed condition is a bad line (write() fails with
 *               EINVAL); a /_tx with one fails close/fsync with ECANCELED.
 *   -EINVAL     bad request: JSON, envelope, expression, key (missing,
 *               wrong type, extra attributes), an update of a key
 *               attribute ("Cannot update attribute id. This attribute is
 *               part of the key"), a resulting item that is invalid, two
 *               operations on one item in a transaction.
 *   -EFBIG      the resulting item is over 400 KB.
 *   -ENOENT     the table was dropped.
 *   -EIO        the journal refused the write; nothing changed.
 *
 * The `_batch` line grammar (SPEC §6), one JSON object per line:
 *
 *   ITEM                                    put (a bare object)
 *   {"put": ITEM, "if": EXPR}               put, optionally conditional
 *   {"delete": KEY, "if": EXPR}             delete (absent item: no-op)
 *   {"update": KEY, "set": {...}, "add": {...}, "remove": [...],
 *    "delete_from": {...}, "if": EXPR}      update, sugar form
 *   {"update": KEY, "expr": "ADD visits :one", "values": {":one": 1},
 *    "names": {"#n": "name"}, "if": EXPR}   update, expression form
 *   {"check": KEY, "if": EXPR}              condition check (/_tx only)
 *
 * The envelope rule.  An object is an envelope exactly when ALL its
 * members are from the vocabulary {put, delete, update, check, if, set,
 * add, remove, delete_from, expr, values, names, table} and at least one
 * of put/delete/update/check is among them; any other object is an item
 * to put.  So an item whose attributes happen to be only such names
 * (say {"put": {...}, "if": "x"}) must itself be wrapped: {"put": ITEM}.
 * Inside an envelope:
 *   - exactly one of put/delete/update/check;
 *   - ITEM is a document-form object (item files' format); KEY is an
 *     object holding exactly the table's key attributes;
 *   - "if" is a condition expression, "expr" an update expression (text;
 *     literals may be inline, as everywhere in dynfs); "values" (":v" ->
 *     any value) and "names" ("#n" -> attribute name) bind both, and
 *     every binding must be used (DynamoDB's rule);
 *   - "set" {name: value}, "add" {name: number or set}, "remove" [name],
 *     "delete_from" {name: set} name TOP-LEVEL attributes literally (a
 *     name with a '.' is one attribute, not a path); they are turned into
 *     one update expression with generated #names and :values, and may
 *     not be combined with "expr";
 *   - an update with no actions at all creates the key-only item if it
 *     is absent and leaves an existing one untouched;
 *   - "table" names the table: required in /_tx; in `_batch` optional,
 *     and if given it must be the table of the `_batch` file;
 *   - blank lines (only spaces, tabs, CR) are skipped.
 * UpdateItem semantics are DynamoDB's: an update of a missing item
 * creates it with its key attributes plus whatever the update sets (ADD
 * counts from 0), the condition sees the item as it was (absent: every
 * attribute missing), key attributes can be neither set nor removed.
 *
 * Thread safety: the single-item calls and ops_tx_run() are thread-safe
 * (db_apply's locking).  An ops_batch_t is used by one thread at a time.
 */
#ifndef DYNFS_OPS_H
#define DYNFS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "expr.h"
#include "val.h"

/* ---- neutral writes and where they go ---- */

/* What one write does. */
enum ops_kind {
	OPS_PUT,    /* store an item */
	OPS_DELETE, /* delete by key */
	OPS_UPDATE, /* read-modify-write by key */
	OPS_CHECK,  /* condition only (/_tx) */
};

/*
 * One write with its conditions as data (compiled expressions, flags, an
 * expected item), never as callbacks, so that any store can apply it: the
 * engine turns it into a db_op (ops_apply), a DynamoDB client into a
 * request.  This is also the backend face's write (backend/backend.h
 * be_op): the _batch and /_tx parsers hand theirs to a sink as they are.
 */
struct ops_write {
	enum ops_kind kind;	  /* what */
	void *table;		  /* the sink's table handle (ops_apply: table_t *) */
	struct val *item;	  /* OPS_PUT: the item (borrowed; not changed) */
	const struct val *pk;	  /* others: the key */
	const struct val *sk;	  /* (NULL for tables without sort key) */
	int flags;		  /* DB_IF_ABSENT, DB_IF_PRESENT */
	const expr_t *cond;	  /* condition, or NULL (-ECANCELED when false) */
	const char *cond_text;	  /* its text for messages, or NULL */
	const expr_t *update;	  /* OPS_UPDATE: the update, NULL = no actions */
	const struct val *expect; /* or NULL: the current item must equal it:
				   * -ENOENT if absent, -EAGAIN if different */
	struct val *out;	  /* or NULL: UPDATE the item as stored, DELETE
				   * the old one (VAL_NULL: none); new */
	bool checked;		  /* OPS_PUT: item is the parser's output and
				   * within the size limit (db.h DB_F_CHECKED);
				   * a hint a sink may ignore */
	size_t size;		  /* OPS_PUT with checked: its item_size() */
	const char *item_text;	  /* OPS_PUT: the JSON object item_parse_value
				   * made item from (borrowed), or NULL: the
				   * journal may write it instead of rendering
				   * item (db.h db_op.text); a hint as checked */
	size_t item_text_len;	  /* its bytes */
	const struct db_stored *stored; /* OPS_PUT: item is partial, its record
					 * precomputed (db.h db_stored); only
					 * to a sink with stored_attrs */
	/* the key attributes pk, sk (or item's key) were read by (kb NULL: no
	 * sort key), or NULL ka: the table's as they are.  ops_apply refuses
	 * a delete, update or check whose names are no longer the table's
	 * (db.h db_op.ka); a put is keyed by the table's when applied */
	const struct key_attr *ka, *kb;
};

/*
 * Where the _batch and /_tx parsers send what they parse: tables by name
 * and an apply of n writes, all or nothing.  ops_sink_db() is the
 * engine's own; a front end may give its own (backend/backend.h
 * be_sink), so the parsers work over any store.
 */
struct ops_sink {
	void *ctx; /* passed to every call */
	/* A new handle of the named table, or -ENOENT. */
	int (*open)(void *ctx, const char *name, void **table);
	void (*close)(void *ctx, void *table);
	const char *(*name)(void *ctx, void *table); /* borrowed */
	/* A copy of the key attributes as they are now: k[0] the partition
	 * key, k[1] the sort key; true if there is one.  An (empty) table's
	 * key schema may change after: writes bound by the copy say so
	 * (ops_write.ka) and the apply refuses those it no longer fits. */
	bool (*keys)(void *ctx, void *table, struct key_attr k[2]);
	int (*apply)(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
		     struct dyn_err *err);
	/*
	 * Optional (NULL: none): a bulk writer is about to make many applies
	 * on table (begin true), or is done (false); ops_sink_db keeps the
	 * table's reserved tree nodes between them (tbl_bulk_begin).
	 */
	void (*bulk)(void *ctx, void *table, bool begin);
	/*
	 * Optional (NULL: none): apply w[0..n) in order, each on its own, not
	 * all or nothing -- a _batch group (ops_batch_set_each): its writes
	 * are on distinct items, so their order within it is unobservable,
	 * and a service can send its unconditional puts and deletes in bulk
	 * (BatchWriteItem).  0: all applied.  Otherwise *failed is the first
	 * write that failed (err says why): those before it are applied,
	 * those after it are not -- except that unconditional puts and
	 * deletes after it may have been (a bulk call the service gave up on
	 * half done), which applying them again does not change.
	 */
	int (*apply_each)(void *ctx, const struct ops_write *w, size_t n, size_t *failed,
			  struct dyn_err *err);
	/*
	 * Optional (NULL: none): the sink's apply takes puts with a stored
	 * form (ops_write.stored, db.h db_stored).  Copies the table's index
	 * key attributes that are not its key attributes into names[0..max)
	 * and returns how many, or -1 if there are more than max.
	 */
	int (*stored_attrs)(void *ctx, void *table, char (*names)[DB_ATTR_NAME_MAX + 1],
			    size_t max);
	/*
	 * Optional (NULL: none), with stored_attrs: a copy of the table's
	 * schema (its indexes), from which the parse makes a stored put's
	 * index entries too (db.h db_stored_ents).  0, or negative.
	 */
	int (*stored_schema)(void *ctx, void *table, struct table_schema *out);
};

/* The engine's sink: tables of db, writes by ops_apply. */
void ops_sink_db(db_t *db, struct ops_sink *out);
/*
 * Apply n writes on table_t handles with one db_apply(): all or nothing.
 * Errors as db_apply(), plus -ECANCELED (a condition), -EINVAL (an update
 * of a key attribute), -EAGAIN/-ENOENT (expect).
 */
int ops_apply(db_t *db, const struct ops_write *w, size_t n, size_t *failed,
	      struct dyn_err *err);

/* ---- single items ---- */

/*
 * PutItem: store item (borrowed, not changed), replacing any item with
 * its key, if cond (may be NULL) holds for the current item.  flags:
 * DB_IF_ABSENT / DB_IF_PRESENT as for db_apply.  -ECANCELED when cond is
 * false.
 */
int ops_put_if(db_t *db, table_t *t, struct val *item, const expr_t *cond, int flags,
	       struct dyn_err *err);

/*
 * DeleteItem: delete the item with key pk/sk (sk NULL without a sort
 * key) if cond (may be NULL) holds.  Deleting an absent item succeeds
 * (the condition still sees it as absent).  old_out (may be NULL)
 * receives the deleted item (new), VAL_NULL if there was none.
 */
int ops_delete_if(db_t *db, table_t *t, const struct val *pk, const struct val *sk,
		  const expr_t *cond, struct val *old_out, struct dyn_err *err);

/*
 * UpdateItem: apply update (an expr_parse_update() result; NULL: no
 * actions) to the item with key pk/sk, creating it if absent, if cond
 * (may be NULL) holds.  new_out (may be NULL) receives the item as
 * stored (new; DynamoDB's ReturnValues ALL_NEW).  -EINVAL when update
 * touches a key attribute.
 */
int ops_update(db_t *db, table_t *t, const struct val *pk, const struct val *sk,
	       const expr_t *update, const expr_t *cond, struct val *new_out,
	       struct dyn_err *err);

/* -EINVAL (DynamoDB's message) if update writes a key attribute of t. */
int ops_check_update_keys(table_t *t, const expr_t *update, struct dyn_err *err);

/*
 * Add the key attributes pk (named pk_name) and sk (sk_name; NULL or sk
 * NULL: none) to item where it lacks them: an update of a missing item
 * starts from its key.  -ENOMEM.
 */
int ops_add_key(struct val *item, const char *pk_name, const struct val *pk, const char *sk_name,
		const struct val *sk);

/* ---- _batch: JSON Lines ---- */

typedef struct ops_batch ops_batch_t;

#define OPS_LINE_MAX (8u << 20)	 /* longest line accepted, bytes */
#define OPS_BATCH_KEEP_ERRORS 1000 /* failures kept for the summary */

/*
 * Called for every rejected line, in line order: line number (1-based,
 * counting every line including blank ones), errno (positive; ECANCELED
 * for a failed condition) and a one-line reason.  All borrowed for the
 * call.
 */
typedef void (*ops_report_fn)(void *ctx, uint64_t line, int code, const char *msg);

/*
 * A batch session for table t (borrowed: the caller keeps it open for
 * the session's lifetime).  report may be NULL.  *out new
 * (ops_batch_free).  -ENOMEM.
 */
int ops_batch_new(db_t *db, table_t *t, ops_report_fn report, void *ctx, ops_batch_t **out);
/* The same over a sink (ops_sink_db, or a front end's): t is a handle of
 * that sink (borrowed), every group goes to its apply. */
int ops_batch_new_sink(const struct ops_sink *sink, void *t, ops_report_fn report, void *ctx,
		       ops_batch_t **out);
void ops_batch_free(ops_batch_t *b);

/*
 * Consecutive lines on distinct items are applied with one db_apply() of
 * up to max operations (default DB_MAX_TX_OPS; 1 = one db_apply() per
 * line), which shares one journal record and one fsync among them.  The
 * outcome is the same as applying them one by one: each line's result
 * depends only on its own item, a line on an item already in the group
 * starts a new group, and when a group fails, it is split around the
 * failing line, which alone is rejected.
 */
void ops_batch_set_group(ops_batch_t *b, size_t max);
/*
 * Groups of up to max lines on distinct items that need not be atomic:
 * each goes to the sink's apply_each (which must be set), lines are
 * applied in order, each on its own, and a failing line is reported
 * alone without re-applying the lines before it.  For a sink where an
 * atomic group costs more than its lines (a service's transaction) but a
 * bulk write costs less (BatchWriteItem).
 */
void ops_batch_set_each(ops_batch_t *b, size_t max);
/*
 * Bare items straight into their stored form (on by default where the
 * sink has stored_attrs): a line the stored path takes skips the value
 * tree, its record encoded while it is read (ops_line_parse_stored);
 * the outcome is the same either way.  Off: every line through the tree
 * (the reference, for tests and the benchmark).  Only before the first
 * feed (later calls do nothing).
 */
void ops_batch_set_stored(ops_batch_t *b, bool on);
/*
 * Feeds of at least min_bytes (64 KiB by default) have their lines'
 * stored-form parse done ahead by a helper thread of the session while
 * this one applies the lines before (ops_batch.c, "Parsing ahead"); 0:
 * never.  A line the helper has not reached yet is parsed by the feed
 * itself, unless wait (for tests: every line the helper can take is
 * its).  The outcome is the same either way.
 */
void ops_batch_set_ahead(ops_batch_t *b, size_t min_bytes, bool wait);
/*
 * Test hook: fn(ctx) runs on the helper thread of every session once it
 * has parsed the last line it takes of a feed, before the feed is told:
 * with wait (above) and a group longer than the feed, no line of it is
 * applied yet.  NULL removes it.  Process-wide; tests only.
 */
void ops_ahead_set_test_hook(void (*fn)(void *ctx), void *ctx);

/*
 * Feed bytes of the stream.  Every line completed by them is applied, in
 * order; an unterminated last line is kept for the next call (or
 * ops_batch_finish).  Bad lines are rejected, reported, and do not stop
 * the lines after them.  Returns 0 if every line completed here was
 * applied, else the errno of the first rejected one (ECANCELED and
 * EEXIST mapped to EINVAL), overridden by -EIO / -ENOMEM / -ENOENT
 * (table dropped) if any line met those.
 */
int ops_batch_feed(ops_batch_t *b, const char *buf, size_t len);

/*
 * The same, but stop after the first rejected line: *used is the number
 * of bytes consumed, up to and including that line's newline (len when
 * no line was rejected, or the rejected line does not end in buf: an
 * overlong line being skipped).  Lines after it are neither applied nor
 * reported nor counted: feeding buf + *used again later treats them as
 * new.  Returns 0, or the rejected line's errno as ops_batch_feed.
 */
int ops_batch_feed_some(ops_batch_t *b, const char *buf, size_t len, size_t *used);

/* Apply the unterminated last line, if any.  Returns as ops_batch_feed. */
int ops_batch_finish(ops_batch_t *b);

/* Bytes of an unterminated last line waiting for its newline. */
size_t ops_batch_pending(const ops_batch_t *b);
/* The unterminated last line is not a whole JSON value yet (see
 * ops_json_incomplete): more of it may still come. */
bool ops_batch_pending_incomplete(const ops_batch_t *b);

struct ops_batch_stats {
	uint64_t lines;	  /* complete lines seen (blank ones too) */
	uint64_t applied; /* lines applied */
	uint64_t failed;  /* lines rejected */
	uint64_t applies; /* db_apply() calls made (for benchmarks) */
	uint64_t syncs;	  /* journal syncs waited for: at most one per feed */
	uint64_t arena_bytes; /* memory held for parsed lines (for tests) */
	uint64_t stored;  /* lines parsed straight into their stored form */
	uint64_t ahead;	  /* ... of which by the parse-ahead helper */
};
void ops_batch_stats(const ops_batch_t *b, struct ops_batch_stats *out);

/*
 * The session's summary as one line of JSON plus newline (new):
 * {"applied": N, "failed": M, "errors": [{"line": L, "error": "..."}]}
 * with the first OPS_BATCH_KEEP_ERRORS failures.  -ENOMEM.
 */
int ops_batch_summary(const ops_batch_t *b, char **out, size_t *len);

/*
 * True if text[0..len) may be the beginning of a JSON value that has not
 * ended yet: nothing but whitespace, or an unclosed string, object or
 * array.  (Not a validity check: `{"a": ]` is "complete", and wrong.)
 * Front ends use it to tell a document still being written from a
 * finished one at a close that is not the last.
 */
bool ops_json_incomplete(const char *text, size_t len);

/* ---- /_tx: transactions ---- */

enum ops_tx_status {
	OPS_TX_COMMITTED, /* everything applied */
	OPS_TX_CANCELLED, /* a condition failed: nothing applied */
	OPS_TX_INVALID,	  /* a bad document or operation: nothing applied */
	OPS_TX_FAILED,	  /* journal or memory failure: nothing applied */
};

struct ops_tx_result {
	enum ops_tx_status status; /* see above */
	int code;		   /* 0, or the positive errno returned */
	size_t nops;		   /* operations in the document (if it parsed) */
	bool has_op;		   /* the failure belongs to operation `op` */
	size_t op;		   /* 0-based index into "ops" */
	char what[300];		   /* that op: "update users/hedy", or "" */
	char reason[600];	   /* why it failed, or "" */
};

/*
 * Run one transaction document {"ops": [OP, ...]}: each OP an envelope
 * (grammar above) with a "table"; 1..DB_MAX_TX_OPS operations on
 * distinct items; all applied by one db_apply(), so all or nothing and
 * isolated.  Returns 0 (committed), -ECANCELED (a condition failed),
 * -EINVAL (bad JSON, unknown table, too many operations, two on one
 * item, any bad operation), -EFBIG, -EIO, -ENOMEM; res says which
 * operation and why.
 */
int ops_tx_run(db_t *db, const char *text, size_t len, struct ops_tx_result *res);
/* The same over a sink: tables by its open, one apply of all the ops. */
int ops_tx_run_sink(const struct ops_sink *s, const char *text, size_t len,
		    struct ops_tx_result *res);

/* res as one line "op 3 (update users/hedy): reason" (or the reason). */
const char *ops_tx_message(const struct ops_tx_result *res, char *buf, size_t size);

/*
 * res as one line of JSON plus newline (new): {"status": "committed",
 * "ops": N}, {"status": "cancelled", "op": I, "reason": "..."},
 * {"status": "invalid", ["op": I,] "reason": "..."} or {"status":
 * "failed", "reason": "..."}.  -ENOMEM.
 */
int ops_tx_result_json(const struct ops_tx_result *res, char **out, size_t *len);

#endif
