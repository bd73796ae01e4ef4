/*
 * remoteint.h - inside the DynamoDB client: credentials (creds.c), the
 * transport with its pool and retry policy (http.c), the JSON helpers
 * the operations share (ops.c, tables.c, multi.c).
 *
 * Pure functions (INI and JSON parsing, the retry decision, the backoff)
 * are separate from the I/O so that tests call them without a socket
 * (tests/check_remote_creds.c, tests/check_remote_http.c).
 */
#ifndef DYNFS_REMOTEINT_H
#define DYNFS_REMOTEINT_H

#include <pthread.h>
#include <time.h>

#include "remote.h"
#include "storefmt.h"

/* ---- credentials (creds.c) ---- */

struct rmt_creds {
	char id[256];	  /* access key id */
	char secret[256]; /* secret access key */
	char *token;	  /* session token or NULL (owned) */
	time_t expires;	  /* 0: never */
	char source[32];  /* "env", "profile", "process", "ecs", "imds", "dummy" */
};

/* Refresh credentials this long before they expire (as the SDKs do). */
#define RMT_REFRESH_EARLY_S (5 * 60)

void rmt_creds_free(struct rmt_creds *c);

/*
 * The value of key in [section] of INI text (the AWS files' dialect:
 * '#' and ';' comments, "key = value", names trimmed).  *out new.
 * -ENOENT if absent.
 */
int rmt_ini_get(const char *text, const char *section, const char *key, char **out);
/* A nested setting: in [section], the key's indented lines ("dynamodb =" then
 * "  endpoint_url = URL"), sub's value.  0 (*out new) or -ENOENT. */
int rmt_ini_get_sub(const char *text, const char *section, const char *key, const char *sub,
		    char **out);

/*
 * Credentials from a JSON document: credential_process output
 * ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}) or the ECS/IMDS form ("Token" for the session token).
 * -EINVAL (err) when a field is missing or the version is not 1.
 */
int rmt_creds_parse_json(const char *json, size_t len, struct rmt_creds *out, struct dyn_err *err);
/* "2026-12-06T08:00:00Z" (fractions and offsets allowed) to epoch; -1 if bad. */
time_t rmt_parse_iso8601(const char *s);

/* How to look for credentials. */
struct rmt_chain {
	const char *profile; /* NULL: AWS_PROFILE or "default" */
	bool instance;	     /* try ECS and IMDS (off for a local endpoint) */
	int timeout_ms;	     /* for ECS/IMDS requests */
};

/*
 * The standard chain: environment, shared credentials and config files
 * (profile, with credential_process), ECS container credentials, EC2
 * IMDSv2.  -ENOENT (err) when none gave credentials; another error when
 * a source was configured but failed.
 */
int rmt_creds_resolve(const struct rmt_chain *ch, struct rmt_creds *out, struct dyn_err *err);

/* Region: opt, AWS_REGION, AWS_DEFAULT_REGION, the profile's config, NULL. *out new. */
int rmt_region_resolve(const char *opt, const char *profile, char **out);

/*
 * The DynamoDB endpoint configured outside the command line, as the AWS
 * SDKs and CLI read it: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the
 * profile's services section (`services = NAME`, then [services NAME]
 * "dynamodb =" / "  endpoint_url = URL"), the profile's endpoint_url.
 * None when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, or, when it is
 * not set, the profile's ignore_configured_endpoint_urls is.  0 (*out
 * new) or -ENOENT.
 */
int rmt_endpoint_resolve(const char *profile, char **out);

/* A small HTTP request outside the pool (credentials endpoints). */
int rmt_http_simple(const char *method, const char *url, const char *const *headers, int timeout_ms,
		    long *status, char **body, size_t *len);

/* ---- transport (http.c) ---- */

struct rmt_conn;

struct rmt {
	char *endpoint;		/* "https://dynamodb.us-east-1.amazonaws.com" (owned) */
	char *host;		/* Host header value (owned) */
	char *region;		/* (owned) */
	struct rmt_opts o;	/* options with defaults filled in (strings not kept) */
	struct rmt_chain chain; /* how to refresh credentials */
	char *profile;		/* chain.profile points here (owned) */
	bool dummy;		/* dummy credentials for a local endpoint */
	bool debug;		/* DYNFS_REMOTE_DEBUG: each attempt to stderr */
	pthread_mutex_t lock;	/* protects creds, pool, stats */
	struct rmt_creds creds; /* current credentials */
	struct rmt_conn *pool;	/* idle connections */
	int npool;		/* entries in pool */
	struct rmt_stats stats; /* counters */
	unsigned seed;		/* jitter (rand_r, under lock) */
};

/* What an attempt's outcome asks of the retry loop. */
enum rmt_verdict {
	RMT_DONE,    /* success or a final error */
	RMT_RETRY,   /* throttled, 5xx, or safe to repeat */
	RMT_REFRESH, /* expired token: refresh credentials and repeat once */
};

/*
 * Decide after one attempt: status 0 means the transport failed (sent
 * tells whether the request may have reached the server); etype is the
 * error type from the body ("ThrottlingException"), may be "".
 */
enum rmt_verdict rmt_classify(long status, bool sent, const char *etype, bool idempotent);
/* Full jitter: a random delay in [0, min(cap, base * 2^attempt)] ms. */
int rmt_backoff_ms(int attempt, int base_ms, int cap_ms, unsigned *seed);
/* The error type of a DynamoDB error body ("...#ThrottlingException" -> "ThrottlingException")
 * and its message, into the buffers. */
void rmt_error_of(const char *body, size_t len, char *etype, size_t tsize, char *msg, size_t msize);
/* errno for a final error type / status. */
int rmt_errno_of(long status, const char *etype);

/* ---- JSON helpers (ops.c) ---- */

/* Member name of obj as a span (-ENOENT if absent). */
int rmt_member(struct sf_span obj, const char *name, struct sf_span *out);
/* Append "\"name\":" with a leading comma unless first. */
int rmt_key(struct sf_buf *b, bool *first, const char *name);
/* Append the expression members for cond/update/filter/proj and the
 * shared name/value maps (left out when empty). */
struct rmt_exprs {
	const expr_t *keycond, *filter, *cond, *update, *proj; /* any may be NULL */
};
int rmt_put_exprs(struct sf_buf *b, bool *first, const struct rmt_exprs *x);
/* Call op with body b, parse the answer as one object: *resp (new) and its span *obj. */
int rmt_call_obj(rmt_t *c, const char *op, const struct sf_buf *b, bool idempotent, char **resp,
		 struct sf_span *obj, struct dyn_err *err);
/*
 * rmt_call with *ambiguous (if not NULL) set when an attempt before the
 * last may have been applied (a 5xx or a transport failure after the
 * request was sent): a final ConditionalCheckFailed may then be this
 * call's own earlier attempt (ops.c resolves that).
 */
int rmt_call_ex(rmt_t *c, const char *op, const char *body, size_t len, bool idempotent,
		char **resp, size_t *resp_len, bool *ambiguous, struct dyn_err *err);

/* tables.c */

/*
 * A DescribeTable answer (the whole object) into *s (new); the table's
 * status into status and, for index (if not NULL), the index's status
 * into istatus ("" when absent).  -EINVAL without a readable key schema,
 * -ERANGE when an index cannot be read, -ENOMEM.  No request: the parse
 * half of rmt_describe_table, fuzzed by fuzz/fuzz_remote.c.
 */
int rmt_table_desc_parse(struct sf_span obj, struct table_schema *s, char status[32],
			 const char *index, char istatus[32]);
/* rmt_describe_table that also gives the whole answer: *resp (new, on
 * success) and its span *obj, for the figures beside the schema. */
int rmt_describe_table_obj(rmt_t *c, const char *table, struct table_schema *out, char **resp,
			   struct sf_span *obj, struct dyn_err *err);
int rmt_put_schema(struct sf_buf *b, bool *first, const struct table_schema *s);

#endif
