/*
 * api.h - the DynamoDB API front end (SPEC §9): DynamoDB's wire protocol
 * (HTTP POST, JSON 1.0, X-Amz-Target: DynamoDB_20120810.<Operation>)
 * over the engine, beside the FUSE mount or on its own (`dynfs serve`).
 *
 * Two layers.  api_handle() is the protocol: one request body and target
 * in, one status and body out, no sockets — the Check suites call it
 * directly.  api_start() puts libmicrohttpd in front of it (http.c):
 * keep-alive, a thread pool, a connection cap, bounded request bodies,
 * idle timeouts, optional SigV4 verification (sigv4.c).
 *
 * Every write goes through db_apply(), like the mount's, so the engine's
 * observer (the mount's kernel-cache invalidation) sees API writes as it
 * sees its own, and the journal makes them durable the same way.
 *
 * Thread safety: api_handle() may be called by any number of threads at
 * once; the engine locks tables, and the front end's own metadata (tags,
 * stream settings, transaction tokens, counters) has one mutex (apiint.h).
 */
#ifndef DYNFS_API_H
#define DYNFS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

typedef struct api api_t;

/* Where rejected writes are reported (the mount's /_errors): what is
 * "PutItem users", msg the reason.  Borrowed for the call. */
typedef void (*api_error_fn)(void *ctx, const char *what, const char *msg);

struct api_opts {
	const char *listen;	/* "HOST:PORT" ("127.0.0.1:8000" if NULL) */
	const char *auth_file;	/* SigV4 keys file, or NULL: any key accepted */
	unsigned threads;	/* worker threads (default 4) */
	unsigned max_conns;	/* connection cap (default 512; libmicrohttpd
				 * splits it evenly among the threads) */
	unsigned timeout_s;	/* idle connection timeout (default 60) */
	api_error_fn on_error;	/* may be NULL */
	void *ctx;		/* for on_error */
};

#define API_MAX_BODY (16u << 20) /* largest request body accepted, bytes */

/* A front end over db (borrowed; must outlive it).  *out new (api_free). */
int api_new(db_t *db, const struct api_opts *o, api_t **out, struct dyn_err *err);
/* Stop serving (if started) and free.  NULL-safe. */
void api_free(api_t *a);

/*
 * Listen and serve in background threads.  -EINVAL (err) for a bad
 * address, a non-loopback address without auth_file, an unreadable auth
 * file; -EADDRINUSE etc. if the socket cannot be bound.
 */
int api_start(api_t *a, struct dyn_err *err);
/* The port actually bound (useful with port 0). */
unsigned api_port(const api_t *a);

struct api_resp {
	int status;	    /* HTTP status: 200, 400, 413, 500 */
	char *body;	    /* response JSON (new; free()) */
	size_t len;	    /* bytes of body */
	char error[96];	    /* DynamoDB error type's short name, "" on success */
};

/*
 * Handle one request: target is the X-Amz-Target header value (may be
 * NULL), body the request JSON.  Always fills *out (new body) and
 * returns 0, or -ENOMEM.
 */
int api_handle(api_t *a, const char *target, const char *body, size_t len, struct api_resp *out);

struct api_counts {
	uint64_t requests; /* requests handled */
	uint64_t errors;   /* of which answered with an error */
	uint64_t writes;   /* successful write operations */
};
void api_get_counts(api_t *a, struct api_counts *out);

/*
 * table's request counts as members to append to its _stats.json object
 * (",\n  \"api\": {...}", counts.c says the form), into *out (new), or
 * *out NULL when no request has named the table.  -ENOMEM.
 */
int api_table_stats(api_t *a, const char *table, char **out);

/* `dynfs serve STORE [--listen ADDR] [--auth FILE]`: exit status. */
int api_serve_main(int argc, char **argv);

/* CRC32 (IEEE, zlib's) of the response body: the x-amz-crc32 header. */
uint32_t api_crc32(const void *p, size_t n);

#endif
