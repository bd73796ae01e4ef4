/*
 * apiint.h - inside the API front end: one request's state, the helpers
 * every operation uses, and the front end's own metadata.
 *
 * Life of a request (api_handle, dispatch.c): the body is checked to be
 * one JSON object, the operation is looked up by name, and its handler
 * reads members straight from the body's spans (storefmt.h's scanner),
 * AttributeValues through the shared codec (ddbjson.h), expressions
 * through the engine's parser (expr.h), and writes its answer into
 * rq->out, or fails with rq_fail(), which records DynamoDB's error type
 * and message.  Handlers return 0 or -1 (error recorded).
 *
 * Metadata the engine does not act on (billing mode, throughput,
 * creation time, which indexes are local, tags, stream settings) lives in
 * struct api's table list, and is saved in the table's schema
 * (table_schema.api_meta) after each change (meta.c).
 */
#ifndef DYNFS_APIINT_H
#define DYNFS_APIINT_H

#include <pthread.h>
#include <stdbool.h>

#include "api.h"
#include "ddbjson.h"
#include "expr.h"
#include "sigv4.h"
#include "storefmt.h"

#define API_TYPE_PREFIX "com.amazonaws.dynamodb.v20120810#"
#define API_TOKEN_TTL_S 600 /* ClientRequestToken idempotency window */
#define API_BAD_NAME                                                                       \
	"Invalid table/index name.  Table/index names must be between 3 and 255 characters "  \
	"long, and may contain only the characters a-z, A-Z, 0-9, '_', '-', and '.'"

/* Per table metadata kept by the front end (protected by api->lock). */
struct api_tmeta {
	char *name;		 /* table name (owned) */
	int64_t created;	 /* CreationDateTime, epoch seconds */
	bool provisioned;	 /* BillingMode PROVISIONED */
	int64_t rcu, wcu;	 /* ProvisionedThroughput */
	struct {
		char name[DB_NAME_MAX + 1]; /* a global index */
		int64_t rcu, wcu;	     /* its own ProvisionedThroughput */
	} gtp[DB_MAX_INDEXES];		 /* GSI throughput, when given */
	size_t ngtp;			 /* entries in gtp */
	char **lsi;		 /* names of local secondary indexes (owned) */
	size_t nlsi;		 /* entries in lsi */
	int stream_view;	 /* STREAM_*: the enabled stream's view, 0 if none */
	int stream_last_view;	 /* the latest stream's view (kept when disabled) */
	char stream_label[32];	 /* latest stream's label, "" if never enabled */
	uint64_t stream_start;	 /* first feed seq of the latest stream */
	uint64_t stream_end;	 /* seq after its last record once disabled, else 0 */
	int64_t stream_created;	 /* when it was enabled, epoch seconds */
	char **tag_k, **tag_v;	 /* tags (owned) */
	size_t ntags;		 /* entries */
	struct api_tmeta *next;	 /* next table */
};

/* A TransactWriteItems token seen in the last API_TOKEN_TTL_S seconds. */
struct api_token {
	char *token;		 /* ClientRequestToken (owned) */
	uint32_t body_hash;	 /* crc32 of the request: same token, other body = error */
	int64_t at;		 /* when it committed, epoch seconds */
	struct api_token *next;	 /* next */
};

#define API_COUNT_OPS 32 /* operations counted per table (there are 26) */

/* One table's request counts (counts.c; protected by api->lock). */
struct api_tcount {
	char *name;		 /* table name (owned) */
	uint64_t requests;	 /* requests naming the table */
	uint64_t errors;	 /* of which answered with an error */
	struct {
		const char *name; /* operation (the dispatch table's string) */
		uint64_t requests, errors;
	} ops[API_COUNT_OPS];	 /* per operation, in order of first use */
	size_t nops;		 /* entries in ops */
	struct api_tcount *next; /* next table */
};

struct api_srv;

struct api {
	db_t *db;		   /* the engine (borrowed) */
	struct api_opts o;	   /* options (strings owned) */
	pthread_mutex_t lock;	   /* protects meta, tokens, counts */
	pthread_mutex_t save_lock; /* serialises meta_save (taken before lock) */
	struct api_tmeta *meta;	   /* table metadata */
	struct api_token *tokens;  /* recent transaction tokens */
	struct api_counts counts;  /* counters */
	struct api_tcount *tcounts; /* per table counters (counts.c) */
	struct api_srv *srv;	   /* the HTTP server, once started */
	struct api_keys *keys;	   /* SigV4 keys, if auth_file */
};

/* One request being handled. */
struct rq {
	api_t *a;		/* the front end */
	const char *op;		/* operation name */
	struct sf_span body;	/* the request object */
	struct sf_buf out;	/* the answer (a JSON object) */
	const char *etype;	/* error: DynamoDB's type name, else NULL */
	const char *eprefix;	/* its namespace (API_TYPE_PREFIX or coral's) */
	char emsg[1400];	/* error message */
	int status;		/* HTTP status of an error */
	struct sf_buf extra;	/* error: more members, ",\"Item\":{...}" */
	bool wrote;		/* a write happened (for counters) */
};

/* ---- errors ---- */

/* Record an error (-1).  type: "ValidationException"... */
int rq_fail(struct rq *r, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ValidationException with the engine's message. */
int rq_fail_err(struct rq *r, int rc, const struct dyn_err *err);
/* ResourceNotFoundException for a table. */
int rq_no_table(struct rq *r, const char *name);

/* ---- reading the request ---- */

/* Member name of object obj: 1 and *out if present and not null, 0 if not. */
int rq_member(struct sf_span obj, const char *name, struct sf_span *out);
/* String member: 1 (*s new), 0 absent, -1 (error recorded: wrong type). */
int rq_str(struct rq *r, struct sf_span obj, const char *name, char **s);
/* Same, required (absent: ValidationException naming it). */
int rq_str_req(struct rq *r, struct sf_span obj, const char *name, char **s);
/* Integer member: 1 and *v, 0 absent, -1. */
int rq_int(struct rq *r, struct sf_span obj, const char *name, int64_t *v);
/* Boolean member: 1 and *v, 0 absent, -1. */
int rq_bool(struct rq *r, struct sf_span obj, const char *name, bool *v);
/* Attribute map member (an item or key): 1 and *m (new), 0 absent, -1. */
int rq_map(struct rq *r, struct sf_span obj, const char *name, struct val *m);
/* The TableName member, opened: 0 and *t (new ref), -1. */
int rq_table(struct rq *r, struct sf_span obj, table_t **t);

/* ExpressionAttributeNames/Values of obj. */
struct rq_bind {
	struct val names;	/* M of S, or VAL_NULL */
	struct val values;	/* M, or VAL_NULL */
	struct expr_bind b;	/* points at the two above, EXPR_BIND_SHARED */
};
/* Empty bindings (what rq_bind_free may be called on). */
void rq_bind_init(struct rq_bind *bd);
int rq_bind_parse(struct rq *r, struct sf_span obj, struct rq_bind *bd);
void rq_bind_free(struct rq_bind *bd);
/* Compile the string member `name` with parse(): 1 (*e new), 0 absent, -1. */
typedef int (*rq_parse_fn)(const char *, size_t, const struct expr_bind *, expr_t **,
			   struct dyn_err *);
int rq_expr(struct rq *r, struct sf_span obj, const char *name, rq_parse_fn parse,
	    struct rq_bind *bd, expr_t **e);
/*
 * ProjectionExpression, or the legacy AttributesToGet turned into one
 * (names bound as #a0, #a1...).  1 and *proj (new), 0 none, -1.
 */
int rq_projection(struct rq *r, struct sf_span obj, struct rq_bind *bd, expr_t **proj);
/*
 * The legacy parameter `member` (Expected, AttributeUpdates, KeyConditions,
 * QueryFilter, ScanFilter) of obj compiled with parse into *e (legacy.c):
 * 1 (*e new), 0 absent or empty, -1.
 */
int rq_legacy_expr(struct rq *r, struct sf_span obj, const char *member, rq_parse_fn parse,
		   expr_t **e);
/* After all expressions: every binding used.  null_what names the
 * expressions that were absent, for DynamoDB's message.  0 or -1. */
int rq_bind_done(struct rq *r, struct rq_bind *bd, const expr_t *const *e, size_t n,
		 const char *null_what);
/* The key of an item to put, with DynamoDB's checks and messages (also
 * index key types).  *pk, *sk borrowed from item.  0 or -1. */
int rq_item_key(struct rq *r, table_t *t, const struct val *item, const struct val **pk,
		const struct val **sk);

/*
 * A Key member against t's schema: exactly the key attributes with
 * their types.  *key new (M); *pk, *sk borrowed from it (sk NULL without
 * sort key).  0 or -1.
 */
int rq_key(struct rq *r, table_t *t, struct sf_span obj, const char *member, struct val *key,
	   const struct val **pk, const struct val **sk);
/* Check a parsed key map against t (as rq_key). */
int rq_key_check(struct rq *r, table_t *t, const struct val *key, const struct val **pk,
		 const struct val **sk);

/* ---- writing the answer ---- */

/* ,"name":{item} (first: no comma) into b. */
int rq_put_item(struct sf_buf *b, const char *name, const struct val *item, bool first);
/* ConsumedCapacity if ReturnConsumedCapacity asked: ,"ConsumedCapacity":{...}. */
int rq_capacity(struct rq *r, const char *table, double units, bool first);

/* ---- metadata (meta.c) ---- */

/* The metadata of table name, created on first use, or NULL (no memory).
 * Call with a->lock held. */
struct api_tmeta *meta_get(api_t *a, const char *name);

/* Save table name's metadata with its schema (journaled): after every
 * change to it.  0 or -errno.  Call without a->lock. */
int meta_save(api_t *a, const char *name);
/* Add or replace the tags of a Tags list in m.  0 or -1 (error recorded).
 * Call with a->lock held. */
int meta_add_tags(struct rq *r, struct api_tmeta *m, struct sf_span tags);
/* Load every table's saved metadata (at start, before serving). */
void meta_load_all(api_t *a);
/* Forget a dropped table's metadata. */
void meta_drop(api_t *a, const char *name);
/* Whether the index of table is local (LSI). */
bool meta_is_lsi(api_t *a, const char *table, const char *index);
/* Render DescribeTable's TableDescription of t into b (tables.c). */
int api_describe(struct rq *r, table_t *t, const char *status, struct sf_buf *b);

/* ---- per table counts (counts.c) ---- */

/* Count r's answer against the tables it names. */
void counts_note(api_t *a, const struct rq *r, bool failed);
void counts_free(api_t *a);

/* ---- operations ---- */

int op_create_table(struct rq *r);
int op_delete_table(struct rq *r);
int op_describe_table(struct rq *r);
int op_list_tables(struct rq *r);
int op_update_table(struct rq *r);
int op_describe_ttl(struct rq *r);
int op_update_ttl(struct rq *r);
int op_describe_limits(struct rq *r);
int op_describe_endpoints(struct rq *r);
int op_tag_resource(struct rq *r);
int op_untag_resource(struct rq *r);
int op_list_tags(struct rq *r);
int op_put_item(struct rq *r);
int op_get_item(struct rq *r);
int op_delete_item(struct rq *r);
int op_update_item(struct rq *r);
int op_query(struct rq *r);
int op_scan(struct rq *r);
int op_batch_get(struct rq *r);
int op_batch_write(struct rq *r);
int op_transact_write(struct rq *r);
int op_transact_get(struct rq *r);

/* ---- DynamoDB Streams over the change feed (streams.c) ---- */

enum { STREAM_KEYS_ONLY = 1, STREAM_NEW_IMAGE, STREAM_OLD_IMAGE, STREAM_NEW_AND_OLD_IMAGES };
/* StreamSpecification of obj: *want -1 absent, 0 disable, else STREAM_*.  0 or -1. */
int stream_spec(struct rq *r, struct sf_span obj, int *want);
/* Apply it to table (after CreateTable: create true).  0 or -1. */
int stream_apply(struct rq *r, const char *table, int want, bool create);
/* DescribeTable's stream members (",\"StreamSpecification\":..."), from m. */
int stream_describe(const struct api_tmeta *m, const char *table, struct sf_buf *b);

int op_list_streams(struct rq *r);
int op_describe_stream(struct rq *r);
int op_get_shard_iterator(struct rq *r);
int op_get_records(struct rq *r);

/* Read-modify-write context shared by single-item and transaction writes (items.c). */
struct wr {
	int kind;		 /* DB_PUT, DB_DELETE, DB_MODIFY, DB_CHECK */
	const expr_t *cond;	 /* condition or NULL */
	const expr_t *update;	 /* update or NULL */
	const char *pk_name;	 /* key attribute names */
	const char *sk_name;	 /* NULL without sort key */
	const struct val *pk;	 /* key values */
	const struct val *sk;
	struct val old;		 /* the item before (VAL_NULL: absent) */
	bool had_old;		 /* there was one */
	struct val newv;	 /* the item after, for UPDATE */
	bool want_new;		 /* keep newv */
};
/* A zeroed context, before its table is known (what wr_free may be called on). */
void wr_clear(struct wr *w);
void wr_init(struct wr *w, table_t *t, int kind);
void wr_free(struct wr *w);
int wr_fn(void *ctx, const struct val *old, struct val *out, struct dyn_err *err);
/* Map a db_apply() failure of a write to DynamoDB's error; the condition
 * failure's old item goes in if ReturnValuesOnConditionCheckFailure. */
int rq_write_failed(struct rq *r, int rc, const struct dyn_err *err);

/* http.c: stop the server (NULL-safe, idempotent). */
void api_http_stop(api_t *a);

/* ---- SigV4 (sigv4.c) ---- */

/* Access keys and their secrets, from an auth file. */
struct api_keys;
/*
 * Load an auth file: one "ACCESS_KEY_ID SECRET_ACCESS_KEY" pair per line
 * (blank lines and # comments skipped).  *out new.  -EINVAL (err).
 */
int api_keys_load(const char *path, struct api_keys **out, struct dyn_err *err);
void api_keys_free(struct api_keys *k);

/*
 * Verify a request's Authorization header against keys.  0 if valid;
 * else -1 with DynamoDB's error type (etype: "MissingAuthenticationTokenException",
 * "UnrecognizedClientException", "InvalidSignatureException",
 * "IncompleteSignatureException") and message in msg.
 */
int sigv4_verify(const struct api_keys *k, const struct sigv4_req *req, const char **etype,
		 char *msg, size_t msg_size);

/* ARN of a table (for DescribeTable and tagging). */
void api_arn(const char *table, char *buf, size_t size);

#endif
