/*
 * rbe.h - the remote backend: the backend face (backend/backend.h)
 * implemented over the DynamoDB client (remote.h), and the parsing of a
 * remote mount's target and options (SPEC §10).
 *
 * A mount of `http://HOST:PORT`, `https://...` or `dynamodb://REGION`
 * builds an rmt_t from the target and the -o options it understands
 * (rbe_parse_target, rbe_parse_option), then be_t from it (rbe_open).
 * fs/ talks to the be_t like to any backend; where the service differs
 * (no change feed, no cheap listing, estimated stats) the caps say so.
 *
 * The mapping (docs/remote.md, "What a mount does on the service"):
 *   get               GetItem, ConsistentRead on base tables
 *   apply, n == 1     PutItem / DeleteItem / UpdateItem with the condition
 *                     (its flags and expected item included; a check
 *                     alone is a one-item transaction)
 *   apply, n > 1      TransactWriteItems with a ClientRequestToken (the
 *                     /_tx parser applies through be_sink)
 *   apply_each        a _batch group: runs of plain puts and deletes as
 *                     BatchWriteItem (25 a call), other lines one call
 *                     each; a refused bulk call is sent again one line a
 *                     call, so the failing line is known
 *   query             Query pages (ExclusiveStartKey), table or index
 *   scan              Scan pages (segments), capped at max_list items
 *   list_partitions   a Scan projected on the partition key, capped
 *   schema, tables    DescribeTable, ListTables, cached meta_cache_s
 *                     (60 s), dropped at once by this mount's changes
 *   create/drop/set   CreateTable / DeleteTable / UpdateTable (one GSI a
 *                     call), only when allowed by the options
 *   table_stats       DescribeTable's ItemCount/TableSizeBytes (estimates)
 *   watch             this mount's own writes only
 */
#ifndef DYNFS_RBE_H
#define DYNFS_RBE_H

#include <stdbool.h>
#include <stddef.h>

#include "../backend/backend.h"
#include "remote.h"
#include "storefmt.h"

/* Where a non-fatal problem is reported (the mount's /_errors). */
typedef void (*rbe_report_fn)(void *ctx, const char *what, const char *msg);

#define RBE_MAX_LIST_DEFAULT 100000 /* items a table-level listing reads */
#define RBE_META_CACHE_S 60	    /* table list and DescribeTable */
#define RBE_MAX_TABLES 64	    /* names in tables= */

/* A remote mount's options (all 0/NULL: defaults). */
struct rbe_opts {
	char *tables[RBE_MAX_TABLES]; /* tables=a,b: only these (owned); none: all */
	size_t ntables;		      /* entries in tables */
	bool ro;		      /* every write -EROFS */
	bool allow_schema_changes;    /* set_schema (UpdateTable) */
	bool allow_table_create;      /* create_table */
	bool allow_table_delete;      /* drop_table */
	size_t max_list;	      /* 0: RBE_MAX_LIST_DEFAULT */
	int cache_s;		      /* entry/attr timeout for fs/; -1: unset (1 s) */
	int meta_cache_s;	      /* 0: RBE_META_CACHE_S; <0: no caching */
	rbe_report_fn report;	      /* may be NULL */
	void *report_ctx;	      /* for report */
};

/* Free what o owns (the table names). */
void rbe_opts_free(struct rbe_opts *o);

/* True if arg names a remote target (http://, https://, dynamodb://). */
bool rbe_is_target(const char *arg);
/*
 * Fill the client options from a target: "http://HOST:PORT" and
 * "https://..." are endpoints; "dynamodb://REGION" is AWS in REGION,
 * "dynamodb://" alone takes the region from the environment/config.
 * Strings point into arg (borrowed).  -EINVAL (err) otherwise.
 */
int rbe_parse_target(const char *arg, struct rmt_opts *co, struct dyn_err *err);
/*
 * One -o option: key (and value, NULL for a flag).  1 if it is a remote
 * option and was taken (into co: region, profile; into o: the rest), 0
 * if it is not a remote option (the caller handles it), -EINVAL (err)
 * for a bad value.  co's strings point into value (borrowed).
 */
int rbe_parse_option(const char *key, const char *value, struct rmt_opts *co, struct rbe_opts *o,
		     struct dyn_err *err);

/*
 * The backend over client c (owned from now on, even on failure; closed
 * by the backend's close), with options o (copied; o->tables moved out
 * of o).  *out new.
 */
int rbe_open(rmt_t *c, struct rbe_opts *o, be_t **out);

/*
 * Contact the service once, at mount: the table list (so a wrong
 * endpoint or missing credentials fail now, err says why), and whether
 * it has transactions (an empty TransactWriteItems: dynalite answers
 * UnknownOperationException; be_caps then lacks BE_CAP_TX, so fs/ sends
 * _batch lines one at a time).
 */
int rbe_probe(be_t *b, struct dyn_err *err);

/* The client under a remote backend (borrowed), for counters. */
rmt_t *rbe_client(be_t *b);

/*
 * The condition that an item is still `item` (be_op.expect: the version
 * an editor opened, the item a rename moves), appended to the text in b
 * (" AND " first if b is not empty) with its names and values added to
 * names/values (placeholders #eN, :eN): the item exists (attribute_exists
 * of the partition key) and each of its top-level attributes equals the
 * value read (lists and maps element by element with their size(), as
 * dynalite has no = on them), up to max_attrs comparisons (0: 90) and
 * about 3 KB of text, under DynamoDB's 300 operators and 4 KB: a larger
 * item is checked on its first attributes in name order.  new_item (may be NULL):
 * each of its attributes that item lacks must still be absent, so a
 * concurrent writer that added the same attribute is caught.  Neither
 * catches a concurrent writer that only added an attribute that neither
 * version has: DynamoDB has no "no other attributes" condition
 * (docs/remote.md, "Saves are conditional"); rbe_apply therefore reads
 * the item and compares it whole before a single write with an expected
 * item, and the condition covers only the time from that read on.  *complete (may be NULL)
 * false if attributes were left out.  -ENOMEM.
 */
int rbe_cond_text(const struct val *item, const char *pk_name, const struct val *new_item,
		  size_t max_attrs, struct sf_buf *b, struct val *names, struct val *values,
		  bool *complete);

#endif
