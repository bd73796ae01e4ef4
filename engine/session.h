/*
 * session.h - a store opened for serving, the same way for every front
 * end (the mount in fs/main.c, `dynfs serve` in api/serve.c): the store,
 * the change feed's persisted numbering, TTL expiry at open and the
 * background TTL sweeper, and the reverse at close.
 *
 * Order matters and is kept here once:
 *   open:  store_open -> feed_seqfile_open (numbering continues from
 *          changes.seq) -> retention knob (DYNFS_CHANGES_RING=records, for
 *          tests) -> sweep what expired while closed (before any reader);
 *   start: the sweeper thread (not read-only), once the front end is up;
 *   close: stop the sweeper -> feed_seqfile_close (exact next seq) ->
 *          store_close (final snapshot).
 * The front end stops its own writers (API server, FUSE loop) between
 * session_stop() and session_close().
 */
#ifndef DYNFS_SESSION_H
#define DYNFS_SESSION_H

#include <stdbool.h>

#include "db.h"
#include "err.h"
#include "store.h"
#include "ttl.h"

struct session {
	store_t *store;	    /* the store (owned) */
	db_t *db;	    /* its database (owned by the store) */
	ttl_sweeper_t *ttl; /* the sweeper, once started, or NULL */
	bool readonly;	    /* opened read-only: no sweeping */
};

/*
 * Open the store in dir and its feed numbering; delete what expired.
 * 0, or store_open()'s errors (-EBUSY, -EPROTO, ...), or -EIO when
 * changes.seq cannot be read (err says which).  On failure nothing stays
 * open.
 */
int session_open(const char *dir, const struct store_opts *so, struct session *s,
		 struct dyn_err *err);
/* Start the TTL sweeper (nothing if read-only).  0 or -errno. */
int session_start(struct session *s);
/* Stop the sweeper (idempotent). */
void session_stop(struct session *s);
/* session_stop, record the feed's counter, close the store.  0 or -errno (err). */
int session_close(struct session *s, struct dyn_err *err);

#endif
