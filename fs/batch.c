/*
 * batch.c - /<table>/_batch descriptors: a JSON Lines stream of write
 * requests (SPEC §6; grammar and semantics in engine/ops.h, streaming
 * and grouping in engine/ops_batch.c).
 *
 * Each write() feeds the descriptor's session: every line it completes
 * is applied, in order, each atomically on its own, before the write
 * returns.  A bad line (bad JSON or envelope, a rejected item, a failed
 * "if" condition) does not undo any line before it.
 *
 * The write protocol: a write()'s count is exactly the bytes consumed,
 * and a failed write() consumed nothing.  That is what every POSIX
 * writer assumes when it resends the rest after a short write, restarts
 * after EINTR or writes again after an error -- so no such retry can
 * apply a line twice.  The kernel splits one write() of more than
 * max_write bytes into several WRITE requests, sent one after the other;
 * it stops at the first request that fails or comes back short, and the
 * write() returns the bytes of the requests before (a short write) or,
 * if the first one failed, its error.  So an error replied to a request
 * in the middle of a write() is lost, and its bytes are resent.  Hence:
 *
 *   - a request is fed up to the first bad line (ops_batch_feed_some):
 *     the lines before it are applied, the bad line is rejected and
 *     consumed, and nothing after it is looked at.  The reply is the
 *     count up to the bad line's newline, excluded: always short of the
 *     request, so the kernel ends the write() there (a short write);
 *   - the error is then pending: the next request -- the first of the
 *     writer's next write(), since the last one ended short -- fails
 *     with it (EINVAL; EFBIG for an item over 400 KB; EIO if the journal
 *     failed; ENOENT if the table was dropped), consuming nothing; if
 *     no write comes, flush (close) or fsync return it;
 *   - the bad line's newline, held back from the count, is consumed
 *     silently when the next write() starts with it (a writer resending
 *     the rest); if the writer moves on to other bytes, the bad line is
 *     over all the same.  When the bad line's newline is a request's
 *     only byte, it is counted (the request is the last of its write()).
 *
 * So `cat dump.jsonl > _batch` applies every line up to the first bad
 * one and stops with "write error: Invalid argument"; a writer that
 * goes on after the error (writes the rest again) gets every other line
 * applied, each exactly once.  The unterminated last line is applied at
 * close (flush), fsync, or when the descriptor is read; at a close that
 * may not be the last, a last line that is visibly unfinished (an
 * unclosed string or bracket) waits for the rest (ctl.h), and is applied
 * at the last close at the latest.  Offsets are not used: with O_APPEND
 * the kernel's offset is its idea of the file size, not the stream's.
 *
 * Reporting: each bad line goes to /_errors as "/<table>/_batch: line N:
 * reason" (the first BATCH_LOG_MAX of a descriptor; one more line counts
 * the rest at release, so a broken import cannot flood the ring), and
 * reading the descriptor gives the summary {"applied": N, "failed": M,
 * "errors": [{"line": L, "error": "..."}]} (first 1000 failures).
 *
 * The descriptor is opened with direct I/O (fi->direct_io, set by the
 * caller for every control file), so writes arrive whole, up to the
 * connection's max_write, and nothing passes through the page cache.
 */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/ops.h"
#include "name.h"

#define BATCH_LOG_MAX 100 /* bad lines of one descriptor listed in /_errors */

struct batch {
	struct ctl c;		    /* first: the common part */
	ops_batch_t *b;		    /* the session */
	char path[NAME_BUF + 16];   /* "/<table>/_batch" for messages */
	uint64_t logged;	    /* bad lines written to /_errors */
	uint64_t unlogged;	    /* bad lines beyond BATCH_LOG_MAX */
	int pending;		    /* error of a bad line not yet returned (-errno) */
	bool nl_owed;		    /* the bad line's newline was consumed but not counted */
};

static void report(void *ctx, uint64_t line, int code, const char *msg)
{
	struct batch *bt = ctx;

	if (bt->logged >= BATCH_LOG_MAX) {
		bt->unlogged++;
		return;
	}
	bt->logged++;
	errlog_add(bt->c.fs, bt->path, "line %llu: %s", (unsigned long long)line, msg);
}

static int batch_open(struct ctl *c, int flags)
{
	struct batch *bt = (struct batch *)c;
	be_table_t *t = c->node->table;
	char name[NAME_BUF];

	if (!t || !be_table_alive(t))
		return -ENOENT;
	if (name_make_str(be_table_name(t), strlen(be_table_name(t)), name) < 0)
		snprintf(name, sizeof(name), "%s", be_table_name(t));
	snprintf(bt->path, sizeof(bt->path), "/%s/_batch", name);
	struct ops_sink sink;
	int rc;

	be_sink(c->fs->be, &sink);
	rc = ops_batch_new_sink(&sink, t, report, bt, &bt->b);
	/* lines are applied in atomic groups only where a group costs what
	 * one write does and fails only for one line's reason (backend.h);
	 * else in groups that need not be atomic where the backend has a
	 * bulk write (a service's BatchWriteItem), else one at a time */
	if (rc == 0 && !(be_caps(c->fs->be) & BE_CAP_GROUP)) {
		if (sink.apply_each)
			ops_batch_set_each(bt->b, DB_MAX_TX_OPS);
		else
			ops_batch_set_group(bt->b, 1);
	}
	return rc;
}

static int batch_write(struct ctl *c, const char *buf, size_t size, off_t off)
{
	struct batch *bt = (struct batch *)c;
	size_t skip = 0, used;
	int rc;

	if (bt->pending) { /* the first request of a write(): see the header */
		rc = bt->pending;
		bt->pending = 0;
		return rc;
	}
	if (bt->nl_owed && size && buf[0] == '\n')
		skip = 1; /* the resent newline of the bad line */
	bt->nl_owed = false;
	rc = ops_batch_feed_some(bt->b, buf + skip, size - skip, &used);
	used += skip;
	if (rc == 0 || used == 0)
		return rc < 0 ? rc : (int)used;
	bt->pending = rc;
	if (used == size && size > 1 && buf[size - 1] == '\n') {
		bt->nl_owed = true; /* end the write() here: count it short */
		used--;
	}
	return (int)used;
}

static int batch_commit(struct ctl *c, enum ctl_when when)
{
	struct batch *bt = (struct batch *)c;
	int rc;

	if (bt->pending) { /* a bad line no write() has reported yet */
		rc = bt->pending;
		bt->pending = 0;
		if (when != CTL_FLUSH || !ops_batch_pending_incomplete(bt->b))
			ops_batch_finish(bt->b);
		goto out;
	}
	if (when == CTL_FLUSH && ops_batch_pending_incomplete(bt->b))
		return 0; /* the rest of the line may still come (ctl.h) */
	rc = ops_batch_finish(bt->b);
out:
	if (when == CTL_RELEASE && bt->unlogged) {
		errlog_add(c->fs, bt->path,
			   "%llu more bad lines not listed here (the descriptor's summary "
			   "lists the first 1000)",
			   (unsigned long long)bt->unlogged);
		bt->unlogged = 0;
	}
	return rc;
}

static int batch_outcome(struct ctl *c, char **out, size_t *len)
{
	return ops_batch_summary(((struct batch *)c)->b, out, len);
}

static int batch_truncate(struct ctl *c, off_t size)
{
	return 0; /* a stream has nothing to truncate (O_TRUNC, `dd`) */
}

static void batch_free(struct ctl *c)
{
	ops_batch_free(((struct batch *)c)->b);
}

const struct ctl_class batch_class = {
	.size = sizeof(struct batch),
	.open = batch_open,
	.write = batch_write,
	.commit = batch_commit,
	.outcome = batch_outcome,
	.truncate = batch_truncate,
	.free = batch_free,
};
