/*
 * remote.h - a DynamoDB client: the whole face of remote/.
 *
 * It speaks DynamoDB's JSON 1.0 protocol over HTTP(S) (libcurl) to AWS
 * DynamoDB or any service that answers the same API (DynamoDB Local,
 * dynalite, ScyllaDB Alternator, `dynfs serve`).  Items are the engine's
 * struct val, converted by the one DynamoDB JSON codec (ddbjson.h);
 * conditions, updates, filters and projections are the engine's compiled
 * expressions (expr.h), printed to text with placeholders by
 * expr_to_text; schemas are the engine's struct table_schema.  No FUSE:
 * the FUSE backend (docs/remote.md, engine/backend.h) is built on this.
 *
 * Threads: an rmt_t is used by any number of threads at once.  Each call
 * borrows a connection from a pool (kept alive between calls) and
 * returns it; credentials are refreshed under a lock.
 *
 * Errors: 0 or a negative errno; err (optional) gets the service's error
 * type and message ("ConditionalCheckFailedException: The conditional
 * request failed").  The mapping:
 *   -ECANCELED  ConditionalCheckFailedException, TransactionCanceledException
 *   -ENOENT     ResourceNotFoundException (no such table or index)
 *   -EEXIST     ResourceInUseException (table exists, or busy)
 *   -EINVAL     ValidationException and other client errors
 *   -EACCES     authentication and authorisation errors
 *   -EAGAIN     still throttled after every retry
 *   -EIO        a 5xx after every retry, a dropped connection, an answer
 *               that is not DynamoDB's
 *   -ETIMEDOUT  no answer in time after every retry
 *
 * Retries (remote/http.c): full-jitter exponential backoff on throttling,
 * 5xx and transport errors; a request whose effect is unknown (the
 * connection dropped after it was sent) is retried only when repeating
 * it cannot apply it twice: reads, TransactWriteItems (ClientRequestToken),
 * and writes with a condition that the first attempt would make false
 * (see docs/remote.md, "Retries").  Expired credentials are refreshed once.
 */
#ifndef DYNFS_REMOTE_H
#define DYNFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "expr.h"
#include "val.h"

typedef struct rmt rmt_t;

/* Where and how to connect; every field may be 0/NULL for the default. */
struct rmt_opts {
	const char
	    *endpoint;	     /* "http://127.0.0.1:8000"; NULL: https://dynamodb.REGION.amazonaws.com
				(an explicit http:// endpoint without credentials uses dummy ones) */
	const char *region;  /* NULL: AWS_REGION, AWS_DEFAULT_REGION, config file, us-east-1 */
	const char *profile; /* NULL: AWS_PROFILE or "default" */
	int max_attempts;    /* per call, first one included (default 10) */
	int base_delay_ms;   /* backoff base (default 25) */
	int max_delay_ms;    /* backoff cap (default 5000) */
	int timeout_ms;	     /* per attempt, whole transfer (default 10000) */
	int connect_timeout_ms; /* default 3000 */
	int pool_size;		/* idle connections kept (default 8) */
};

/* Open a client (new; rmt_close).  Resolves region and credentials now
 * (-EACCES with err when there are none).  Contacts nothing yet. */
int rmt_open(const struct rmt_opts *o, rmt_t **out, struct dyn_err *err);
void rmt_close(rmt_t *c);

/* Counters since rmt_open. */
struct rmt_stats {
	uint64_t calls;	      /* API calls made */
	uint64_t attempts;    /* HTTP requests sent (calls + retries) */
	uint64_t throttled;   /* throttling answers */
	uint64_t server_err;  /* 5xx answers */
	uint64_t transport;   /* dropped connections, timeouts */
	uint64_t refreshes;   /* credential refreshes */
	uint64_t unprocessed; /* items/keys sent again after Unprocessed* */
	uint64_t connects;    /* new connections opened (keep-alive keeps this low) */
};
void rmt_get_stats(rmt_t *c, struct rmt_stats *out);
/* Where the current credentials came from ("env", "profile", "process",
 * "ecs", "imds", "dummy") and their access key id, for messages (copied
 * into a per-thread buffer: valid until the next call in this thread). */
const char *rmt_creds_source(rmt_t *c);
const char *rmt_creds_id(rmt_t *c);

/*
 * One raw call: target is the operation ("GetItem"), body its JSON.
 * *resp (new) is the answer body on success.  Used by the typed calls
 * below and by tests.
 */
int rmt_call(rmt_t *c, const char *op, const char *body, size_t len, bool idempotent, char **resp,
	     size_t *resp_len, struct dyn_err *err);

/* ---- tables ---- */

/* Every table name (all pages), *names new (rmt_free_names). */
int rmt_list_tables(rmt_t *c, char ***names, size_t *n, struct dyn_err *err);
void rmt_free_names(char **names, size_t n);

/* DescribeTable: keys, indexes (global and local) and projections into
 * *out (new; schema_free); status ("ACTIVE"...) into status if not NULL. */
int rmt_describe_table(rmt_t *c, const char *table, struct table_schema *out, char status[32],
		       struct dyn_err *err);
/* CreateTable (on-demand billing), then wait until ACTIVE. */
int rmt_create_table(rmt_t *c, const char *table, const struct table_schema *s,
		     struct dyn_err *err);
/* UpdateTable adding one global index, then wait for table and index ACTIVE. */
int rmt_add_index(rmt_t *c, const char *table, const struct index_def *ix, struct dyn_err *err);
/* UpdateTable dropping one global index, then wait until it is gone. */
int rmt_drop_index(rmt_t *c, const char *table, const char *index, struct dyn_err *err);
/* DeleteTable, then wait until it is gone. */
int rmt_delete_table(rmt_t *c, const char *table, struct dyn_err *err);

/* ---- items ---- */

/* GetItem.  *out new (VAL_NULL and *found false when absent). */
int rmt_get_item(rmt_t *c, const char *table, const struct val *key, bool consistent,
		 const expr_t *proj, struct val *out, bool *found, struct dyn_err *err);
/* PutItem if cond (NULL: always) holds; old item into *old (new) if not NULL. */
int rmt_put_item(rmt_t *c, const char *table, const struct val *item, const expr_t *cond,
		 struct val *old, struct dyn_err *err);
/* DeleteItem if cond holds; old item into *old if not NULL. */
int rmt_delete_item(rmt_t *c, const char *table, const struct val *key, const expr_t *cond,
		    struct val *old, struct dyn_err *err);
/* UpdateItem: the update expression if cond holds; new item into *out if not NULL. */
int rmt_update_item(rmt_t *c, const char *table, const struct val *key, const expr_t *update,
		    const expr_t *cond, struct val *out, struct dyn_err *err);

/* ---- reads of many items ---- */

/* One Query or Scan page request. */
struct rmt_read {
	const char *table;	 /* table */
	const char *index;	 /* index name or NULL */
	const expr_t *keycond;	 /* Query: key condition (required); Scan: NULL */
	const expr_t *filter;	 /* or NULL */
	const expr_t *proj;	 /* or NULL: all attributes */
	bool consistent;	 /* ConsistentRead */
	bool backward;		 /* Query: ScanIndexForward false */
	uint32_t limit;		 /* items evaluated per page, 0: the service's 1 MB */
	const struct val *start; /* ExclusiveStartKey or NULL */
	int segment, segments;	 /* Scan: parallel segment (segments 0: none) */
};

/* One page of results. */
struct rmt_page {
	struct val *items; /* items in order (owned) */
	size_t n;	   /* entries */
	struct val last;   /* LastEvaluatedKey, VAL_NULL at the end */
	uint64_t scanned;  /* ScannedCount */
};

int rmt_query(rmt_t *c, const struct rmt_read *r, struct rmt_page *out, struct dyn_err *err);
int rmt_scan(rmt_t *c, const struct rmt_read *r, struct rmt_page *out, struct dyn_err *err);
void rmt_page_free(struct rmt_page *p);

/* ---- batches and transactions ---- */

enum rmt_wkind {
	RMT_PUT,    /* item: the whole item */
	RMT_DELETE, /* item: the key */
	RMT_UPDATE, /* item: the key; update (transactions only) */
	RMT_CHECK,  /* item: the key; cond required (transactions only) */
};

/* One write of a batch or transaction. */
struct rmt_write {
	enum rmt_wkind kind;	/* what */
	const char *table;	/* table */
	const struct val *item; /* item or key, see kind */
	const expr_t *update;	/* RMT_UPDATE */
	const expr_t *cond;	/* transactions only; NULL: none */
};

/*
 * BatchWriteItem of w[0..n) (RMT_PUT/RMT_DELETE; no conditions): in
 * calls of at most 25, in order, a write whose key was already in the
 * current call starting the next one (DynamoDB refuses duplicates);
 * UnprocessedItems sent again with backoff until none are left.
 */
int rmt_batch_write(rmt_t *c, const struct rmt_write *w, size_t n, struct dyn_err *err);
#define RMT_BATCH_WRITE_MAX 25 /* writes in one BatchWriteItem */
/*
 * One BatchWriteItem call of w[0..n), n <= RMT_BATCH_WRITE_MAX, puts and
 * deletes on distinct keys (the caller knows: no DescribeTable to check),
 * UnprocessedItems sent again with backoff until none are left.  On
 * failure some of them may have been applied.
 */
int rmt_batch_write_call(rmt_t *c, const struct rmt_write *w, size_t n, struct dyn_err *err);

/* One key to read. */
struct rmt_get {
	const char *table;     /* table */
	const struct val *key; /* key */
};

/*
 * BatchGetItem (100 keys a call, UnprocessedKeys sent again): out[i]
 * (new, caller allocates n) is the item of g[i], VAL_NULL if absent.
 */
int rmt_batch_get(rmt_t *c, const struct rmt_get *g, size_t n, bool consistent, struct val *out,
		  struct dyn_err *err);

/*
 * TransactWriteItems of w[0..n) with ClientRequestToken token (NULL: a
 * random one), so a retry after an unknown outcome cannot apply it twice.
 * -ECANCELED when a condition failed (err says which).
 */
int rmt_transact_write(rmt_t *c, const struct rmt_write *w, size_t n, const char *token,
		       struct dyn_err *err);
/* TransactGetItems: out[i] as rmt_batch_get. */
int rmt_transact_get(rmt_t *c, const struct rmt_get *g, size_t n, struct val *out,
		     struct dyn_err *err);

#endif
