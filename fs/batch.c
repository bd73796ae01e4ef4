/*
 * batch.c - /<table>/_batch descriptors: a JSON Lines stream of write
 * requests (SPEC §6; grammar and semantics in engine/ops.h, streaming
 * and grouping in engine/ops_batch.c).
 *
 * Each write() feeds the descriptor's session: every line it completes
 * is applied, in order, each atomically on its own, before the write
 * returns.  A bad line (bad JSON or envelope, a rejected item, a failed
 * "if" condition) does not undo or stop any other line, before or after
 * it in the same write; the write() that completed it fails with EINVAL
 * (EFBIG for an item over 400 KB; EIO if the journal failed; ENOENT if
 * the table was dropped), although all of its bytes were consumed: do not
 * retry it.  So `cat dump.jsonl > _batch` applies every good line of
 * each write and reports every bad one, and cat stops at the first
 * write that held a bad line (its "write error: Invalid argument").
 * The unterminated last line is applied at close (flush), fsync, or when
 * the descriptor is read; at a close that may not be the last, a last
 * line that is visibly unfinished (an unclosed string or bracket) waits
 * for the rest (ctl.h), and is applied at the last close at the latest.
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
	table_t *t = c->node->table;
	char name[NAME_BUF];

	if (!t || !tbl_alive(t))
		return -ENOENT;
	if (name_make_str(tbl_name(t), strlen(tbl_name(t)), name) < 0)
		snprintf(name, sizeof(name), "%s", tbl_name(t));
	snprintf(bt->path, sizeof(bt->path), "/%s/_batch", name);
	return ops_batch_new(c->fs->db, t, report, bt, &bt->b);
}

static int batch_write(struct ctl *c, const char *buf, size_t size, off_t off)
{
	struct batch *bt = (struct batch *)c;

	return ops_batch_feed(bt->b, buf, size); /* a stream: offsets do not matter */
}

static int batch_commit(struct ctl *c, enum ctl_when when)
{
	struct batch *bt = (struct batch *)c;
	int rc;

	if (when == CTL_FLUSH && ops_batch_pending_incomplete(bt->b))
		return 0; /* the rest of the line may still come (ctl.h) */
	rc = ops_batch_finish(bt->b);
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
