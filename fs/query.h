/*
 * query.h - `_query?` lookups (SPEC §3): the parameter parser and the
 * query runner, both free of FUSE so that they can be unit-tested
 * (tests/check_query.c, check_query_run.c) and reused by every view that
 * lists items: query directories, query files (as=jsonl/json/count) and
 * the index partition directories of _index/ (index_view.c).
 *
 * A query runs at a location (struct qloc): a partition of the table, a
 * partition of one of its indexes, the whole table or a whole index (a
 * Scan).  Results
 * come in result order; each has a position (struct qpos) from which a
 * later call resumes, so a directory listing streams page by page and
 * never holds more than one page (readdir.c keeps positions per handle).
 *
 * Entry names.  In a base partition an entry is named as the item is
 * there ("<sk>.json"); everywhere else (scans, indexes) by the
 * item's full primary key: "<pk>.json" for a table without sort key,
 * "<pk>~<sk>.json" with one (name_join_key: '~' is always %7E inside a
 * key value, so the name maps back to exactly one item).
 */
#ifndef DYNFS_QUERY_H
#define DYNFS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../engine/db.h"
#include "../engine/err.h"
#include "../engine/expr.h"
#include "../engine/val.h"
#include "name.h"

#define QUERY_PREFIX "_query?" /* the name of a query starts with it */
#define QUERY_PREFIX_LEN 7
#define QUERY_MAX_SEGMENTS 1000000 /* DynamoDB's TotalSegments limit */

/* What a query's entry is. */
enum qout {
	QOUT_DIR,   /* no as=: a directory of the matching items */
	QOUT_JSONL, /* as=jsonl: one compact item per line */
	QOUT_JSON,  /* as=json: a JSON array */
	QOUT_COUNT, /* as=count: the number of matches and a newline */
};

/* What the parser must know about the place a query is made in. */
struct qwhere {
	bool scan;		    /* a Scan of the table or an index: no sort key conditions */
	bool base_part;		    /* in a base partition: names are "<sk>.json" */
	const struct key_attr *sk;  /* the sort key conditions apply to (NULL: none) */
	const struct key_attr *tpk; /* the table's partition key (entry names) */
	const struct key_attr *tsk; /* the table's sort key, NULL if none */
	const char *index;	    /* the index queried (messages), NULL: the table */
};

/* A parsed query.  Values are of the sort key's type. */
struct qspec {
	bool has_lo;		  /* a lower bound: gt, ge or eq */
	bool lo_incl;		  /* ge/eq (true) or gt (false) */
	struct val lo;		  /* owned; VAL_NULL when none */
	bool has_hi;		  /* an upper bound: lt, le or eq */
	bool hi_incl;		  /* le/eq (true) or lt (false) */
	struct val hi;		  /* owned */
	bool has_prefix;	  /* begins_with */
	struct val prefix;	  /* owned */
	char *filter_text;	  /* decoded filter=, NUL-terminated (owned) */
	size_t filter_len;	  /* its length (it may hold a %00) */
	expr_t *filter;		  /* compiled filter (owned), NULL if none */
	uint64_t limit;		  /* at most this many results; 0: no limit */
	bool desc;		  /* order=desc */
	bool has_after;		  /* after= was given */
	char *after;		  /* decoded after= name (owned) */
	struct name_key after_pk; /* its key: full-key names (VAL_NULL otherwise) */
	struct name_key after_sk; /* its sort key (VAL_NULL if none) */
	enum qout out;		  /* as= */
	uint32_t seg;		  /* segment=I/N: I */
	uint32_t nseg;		  /* N; 0 when not given */
};

/*
 * Parse the parameters of a query (the text after "_query?", still
 * percent-encoded) made at w.  0 and *q filled (query_free), or -EINVAL
 * with err saying what is wrong (-ENOMEM).  Empty text is the whole
 * partition (or table).  Rules: parameters are name=value separated by
 * '&'; names and values are percent-decoded after splitting (so %26 is a
 * literal '&' inside a filter, %2F a '/'); '+' is a plus sign, not a
 * space.  Each parameter at most once; at most one lower bound (eq, gt,
 * ge) and one upper bound (eq, lt, le), eq being both; prefix combines
 * with bounds (the ranges intersect).
 */
int query_parse(const char *text, size_t len, const struct qwhere *w, struct qspec *q,
		struct dyn_err *err);
/* Release what q owns.  NULL-safe, idempotent. */
void query_free(struct qspec *q);

/* Whether the parameters (of a query that parses) ask for a file (as=). */
bool query_is_file(const char *text, size_t len);

/*
 * Percent-decode s[0..len) into *out (new, NUL-terminated; *outlen
 * without the NUL).  -EINVAL (err: the offending offset) for a '%' not
 * followed by two hex digits (either case).
 */
int query_pct_decode(const char *s, size_t len, char **out, size_t *outlen, struct dyn_err *err);

#define QUERY_SHOW_MAX 80 /* bytes of a value quoted in a message */
/* s[0..len) for a message (buf: QUERY_SHOW_MAX + 4 bytes): control bytes
 * as '?', cut at QUERY_SHOW_MAX with "...".  Returns buf. */
const char *query_show(const char *s, size_t len, char *buf);

/* ---- running queries ---- */

/* Where a query runs.  All pointers borrowed. */
struct qloc {
	be_table_t *t;	      /* the table */
	const char *index;    /* NULL: the table itself; else an index */
	const struct val *pk; /* the partition (the table's or the index's); NULL: a scan
				 of the table or the index */
};

/*
 * A position in a query's results: the last result delivered and how
 * many results were delivered up to it (for limit= across pages).
 */
struct qpos {
	uint64_t count; /* results up to and including this one */
	struct val ipk; /* its index partition key (index queries), else NULL */
	struct val isk; /* its index sort key value (index with a sort key), else NULL */
	struct val pk;	/* its base key */
	struct val sk;	/* VAL_NULL for a table without sort key */
};

void qpos_init(struct qpos *p);
void qpos_free(struct qpos *p);
/* A position as one value (an L: [count, ipk, isk, pk, sk], NULL where absent),
 * for readdir handles (new).  -ENOMEM. */
int qpos_pack(const struct qpos *p, struct val *out);
/* Inverse of qpos_pack (new).  -EINVAL for anything else. */
int qpos_unpack(const struct val *v, struct qpos *p);

/* One result, valid during the callback only. */
struct qhit {
	const struct be_ref *r;	  /* the backend's view of the base item */
	const struct val *item;	  /* decoded (projected for an index), if asked for */
	const struct qpos *pos;	  /* its position (borrowed values) */
};

/* Called per result under the table's read lock: no engine calls on the
 * table.  Nonzero stops the run (returned as is; negative: an error). */
typedef int (*qhit_fn)(void *ctx, const struct qhit *h);

/*
 * Run q at loc, calling fn for each result in order, after position
 * `from` (NULL: from the start, or from q's after= name), until q's limit
 * or fn stops it.  want_item: decode every result into h->item (it is
 * decoded anyway when a filter or an index needs it).  0 (or fn's
 * nonzero value), -ENOENT (no such index), -EINVAL with err (an after=
 * name that names no entry here).
 */
int query_run(const struct qloc *loc, const struct qspec *q, const struct qpos *from,
	      bool want_item, qhit_fn fn, void *ctx, struct dyn_err *err);

/*
 * The content of an as=jsonl / as=json / as=count query (new): every
 * result, projected for an index, rendered compactly.  The whole result
 * is built in memory (see query.c on the trade-off).
 */
int query_text(const struct qloc *loc, const struct qspec *q, char **out, size_t *len,
	       struct dyn_err *err);

/*
 * The name of a result's entry at loc into buf (NAME_BUF bytes):
 * "<sk>.json" in a base partition, the full-key name elsewhere.
 * Returns the length or a negative errno.
 */
int query_entry_name(const struct qloc *loc, const struct val *pk, const struct val *sk, char *buf);

/*
 * The base key named by an entry name at loc (as query_entry_name makes
 * them), shortened names included (looked up among the candidates).
 * 0 with *pk and *sk filled (new; sk VAL_NULL without sort key), -EINVAL
 * if the name is not an entry name here, -ENOENT if it is a shortened
 * name of no item, another -errno with err (may be NULL) when a read of
 * the backend failed (read_err_log).
 */
int query_name_key(const struct qloc *loc, const char *name, size_t len, struct val *pk,
		   struct val *sk, struct dyn_err *err);

/*
 * Whether the existing item with base key pk/sk is a result of q at loc,
 * ignoring limit= and after= (which only shape listings): it is in the
 * partition, meets the sort key conditions and the filter.  1 yes, 0 no,
 * -errno (err, may be NULL: why a backend read failed).  Used by lookups
 * inside query and index directories.
 */
int query_match(const struct qloc *loc, const struct qspec *q, const struct val *pk,
		const struct val *sk, struct dyn_err *err);

/*
 * The symlink target of a result whose entry sits `depth` directories
 * below the table directory: "../" x depth, then the item's path in the
 * table ("<pk>.json" or "<pk>/<sk>.json").  Returns the length or
 * -EINVAL/-ENOMEM; buf holds QUERY_TARGET_MAX bytes.
 */
#define QUERY_TARGET_MAX (3 * 8 + 2 * NAME_BUF + 2)
int query_link_target(const struct val *pk, const struct val *sk, int depth, char *buf);

#endif
