/*
 * session.c - a store opened for serving (session.h): the startup and
 * shutdown steps every front end shares.
 */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed.h"

int session_open(const char *dir, const struct store_opts *so, struct session *s,
		 struct dyn_err *err)
{
	feed_t *f;
	const char *env;
	size_t n;
	int rc;

	memset(s, 0, sizeof(*s));
	s->readonly = so->readonly;
	rc = store_open(dir, so, &s->store, &s->db, err);
	if (rc < 0)
		return rc;
	f = db_feed(s->db);
	rc = feed_seqfile_open(f, dir, so->readonly, err);
	if (rc < 0) {
		if (!err->code)
			err_set(err, EIO, "cannot read %s/changes.seq", dir);
		store_close(s->store, NULL);
		memset(s, 0, sizeof(*s));
		return -EIO;
	}
	env = getenv("DYNFS_CHANGES_RING");
	if (env && atol(env) > 0)
		feed_set_limits(f, (size_t)atol(env), 0);
	if (so->readonly)
		return 0;
	do {
		n = 0;
		if (ttl_sweep(s->db, (int64_t)time(NULL), 0, &n) < 0)
			break;
	} while (n == TTL_BATCH);
	return 0;
}

int session_start(struct session *s)
{
	if (s->readonly || s->ttl)
		return 0;
	return ttl_start(s->db, &s->ttl);
}

void session_stop(struct session *s)
{
	ttl_stop(s->ttl);
	s->ttl = NULL;
}

int session_close(struct session *s, struct dyn_err *err)
{
	int rc;

	session_stop(s);
	if (!s->store)
		return 0;
	feed_seqfile_close(db_feed(s->db));
	rc = store_close(s->store, err);
	s->store = NULL;
	s->db = NULL;
	return rc;
}
