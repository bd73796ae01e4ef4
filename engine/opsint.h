/*
 * opsint.h - private to ops.c, ops_req.c, ops_batch.c and ops_tx.c (and the ops
 * unit tests): one parsed write request and how it becomes a db_op.
 *
 * Life of a request: ops_req_parse() turns one JSON object (a `_batch`
 * line or an element of a /_tx "ops" list) into a struct ops_req,
 * compiling its expressions; ops_req_bind() checks it against a table
 * of a sink and fills a struct ops_write that points into the request;
 * the sink applies it (the engine's: ops_apply() turns it into a db_op
 * with a callback, struct ops_cb); ops_req_free() releases it.  A bound
 * request must not move in memory while its write is in use (the write
 * points at req->v).
 */
#ifndef DYNFS_OPSINT_H
#define DYNFS_OPSINT_H

#include "ops.h"


/* What a db_modify_fn of this module needs (db_op.ctx). */
struct ops_cb {
	const expr_t *update;	 /* OPS_UPDATE: the update, NULL = no actions */
	const expr_t *cond;	 /* the condition, or NULL */
	const char *cond_text;	 /* its text for messages, or NULL */
	const struct val *pk;	 /* the key (borrowed) */
	const struct val *sk;	 /* NULL without sort key */
	const char *pk_name;	 /* key attribute names (borrowed from the table) */
	const char *sk_name;	 /* NULL without sort key */
	struct val *out;	 /* UPDATE: new item / DELETE: old item, or NULL */
	const struct val *expect; /* the item must still be this (ops_write.expect) */
};

struct ops_req {
	enum ops_kind kind; /* what to do */
	struct val v;	    /* PUT: the item; others: the key object (M) */
	expr_t *update;	    /* OPS_UPDATE: compiled update, NULL = no actions */
	expr_t *cond;	    /* compiled "if", or NULL */
	char *cond_text;    /* the "if" text (owned), or NULL */
	char *table;	    /* the "table" member (owned), or NULL */
	bool parsed;	    /* PUT: v is item_parse_value()'s output, unchanged */
	bool arena;	    /* v's memory is an arena's (ops_line_parse_arena):
			     * read-only, never freed here */
	const char *text;   /* PUT: the object v was parsed from (in the
			     * arena; borrowed), or NULL (ops_write.item_text) */
	size_t text_len;    /* its bytes */
	struct db_stored stored; /* PUT from ops_line_parse_stored: v is partial,
				  * stored.rec its record (owned; db.h
				  * db_stored_rec), stored.blob in it (or, when
				  * that record could not be made, in the
				  * arena); else stored.blob is NULL */
	size_t size;	    /* then: item_size() of the whole item */
};

/* Where a request comes from: the rules differ slightly. */
enum ops_src {
	OPS_SRC_LINE, /* a _batch line: bare items allowed, no "check" */
	OPS_SRC_TX,   /* a /_tx op: envelope with "table" required */
};

/* Initialise an empty request (so ops_req_free is always safe). */
void ops_req_init(struct ops_req *r);
/* Release what r owns; r is then empty again. */
void ops_req_free(struct ops_req *r);

/*
 * Interpret the parsed JSON object *v (stolen, even on failure) as a
 * request.  -EINVAL with err saying what is wrong.  Expression errors
 * are prefixed with the member they come from ("if: ...").
 */
int ops_req_parse(struct val *v, enum ops_src src, struct ops_req *r, struct dyn_err *err);

/*
 * Parse one line of text (no newline) into r.  Returns 1 for a blank
 * line (r untouched), 0 on success, -EINVAL (err) for a bad line.
 */
int ops_line_parse(const char *text, size_t len, struct ops_req *r, struct dyn_err *err);
/*
 * The same, with a bare item's values taken from arena a (item.h
 * item_parse_value_arena): r->arena is set and r->v lives until a is
 * reset.  Anything else (an envelope, a bad line) is parsed again as
 * ops_line_parse does, so results and messages are the same.
 */
struct item_arena;
struct item_stored;
/*
 * A bulk import's bare item straight into its stored form (item.h
 * item_parse_stored, st the caller's scratch with cap_names set to the
 * table's index key attributes not among its keys, ka and kb its key
 * attributes): 0 taken, r a put of a partial item (the key attributes
 * and the captured ones; values in a) with r->stored its record and
 * r->text the line; 1 declined (anything the path is unsure of): parse
 * with ops_line_parse_arena, whose answer is the reference.  When taken,
 * ops_line_parse_arena would give a bare put of the whole item with the
 * same keys, index key values, size and record.
 */
int ops_line_parse_stored(const char *text, size_t len, struct item_arena *a,
			  struct item_stored *st, const struct key_attr *ka,
			  const struct key_attr *kb, const struct table_schema *ix,
			  struct ops_req *r);
int ops_line_parse_arena(const char *text, size_t len, struct item_arena *a, struct ops_req *r,
			 struct dyn_err *err);

/*
 * The parse-ahead helper of a `_batch` session (ops_ahead.c).  new: a
 * helper whose parse uses these key attributes and captures (NULL if it
 * cannot be made); start: parse the lines of buf after its first one
 * (false if the configuration differs from the helper's, or buf holds no
 * such line); take: the parsed line starting at off (asked in order), or
 * NULL (parse it yourself); without wait it never waits; end: the job is
 * over (before buf goes away).
 */
struct ahead_slot {
	size_t off;	    /* where the line starts in the feed */
	int rc;		    /* ops_line_parse_stored's answer (0: req holds it) */
	struct ops_req req; /* the request */
};
struct ops_ahead;
struct ops_ahead *ops_ahead_new(const struct key_attr *ka, const struct key_attr *kb,
			       const struct table_schema *ix, const char *const *cap_names,
			       size_t ncap);
void ops_ahead_free(struct ops_ahead *h);
bool ops_ahead_start(struct ops_ahead *h, const struct key_attr *ka, const struct key_attr *kb,
		     const struct table_schema *ix, const char *const *cap_names, size_t ncap,
		     const char *buf, size_t len, bool wait);
struct ahead_slot *ops_ahead_take(struct ops_ahead *h, size_t off);
void ops_ahead_end(struct ops_ahead *h);

/* ops_check_update_keys (ops.h) on key attributes rather than a table:
 * -EINVAL when update writes pka or ska (ska may be NULL). */
int ops_check_update_key_attrs(const struct key_attr *pka, const struct key_attr *ska,
			       const expr_t *update, struct dyn_err *err);

/*
 * Check r against table `table` of sink s (borrowed; must stay open while
 * w is used) and fill w.  Checks the key (present, right types, and for a
 * KEY object nothing else), key attributes untouched by an update.
 * ka, kb: the caller's copy of table's key attributes (s->keys; kb NULL:
 * no sort key), which must outlive w: w says it was bound by them
 * (ops_write.ka), and the apply refuses it if they are no longer the
 * table's.  -EINVAL.
 */
int ops_req_bind(struct ops_req *r, const struct ops_sink *s, void *table,
		 const struct key_attr *ka, const struct key_attr *kb, struct ops_write *w,
		 struct dyn_err *err);

/* "users/hedy" or "quiz-stats/felienne#3/2022-09" for messages. */
void ops_describe_key(const char *table, const struct val *pk, const struct val *sk,
		      char *buf, size_t size);
/* A growable NUL-terminated text; allocation failure is sticky (oom). */
struct ops_out {
	char *p;    /* the text (new; caller frees), NULL while empty */
	size_t len; /* without the NUL */
	size_t cap; /* allocated */
	bool oom;   /* an allocation failed: the text is incomplete */
};
void ops_out_add(struct ops_out *o, const char *s, size_t n);
void ops_out_fmt(struct ops_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (s must be UTF-8: see ops_utf8_sanitize). */
void ops_out_json_string(struct ops_out *o, const char *s);
/* Replace bytes of s that are not UTF-8 with '?', in place. */
void ops_utf8_sanitize(char *s);

/* "put", "delete", "update", "check". */
const char *ops_kind_name(enum ops_kind k);

#endif
