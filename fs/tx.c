/*
 * tx.c - /_tx descriptors: one transaction each (SPEC §6; document
 * grammar and semantics in engine/ops.h and engine/ops_tx.c).
 *
 * Writes edit the descriptor's own buffer (at their offsets, like an
 * item file; O_APPEND appends).  While they are one simple sequence from
 * offset 0 (wcheck.h), the write that completes the document runs it as
 * one transaction, and fails with its errno, so that `echo '{"ops":
 * ...}' > /_tx` in bash sees ECANCELED; a write that makes the document
 * impossible fails with EINVAL (nothing applied).  Whitespace may follow;
 * the close then does nothing more (the transaction ran once) and
 * returns the same errno, and a read gives the outcome.  Otherwise
 * nothing happens until flush (every close), fsync or a read on the
 * descriptor, which run the document as one transaction (a close that
 * may not be the last leaves a visibly unfinished document alone:
 * ctl.h):
 *   committed            0; later writes fail with EBUSY (a descriptor
 *                        carries one transaction: open /_tx again);
 *   a condition failed   ECANCELED, nothing applied;
 *   anything else wrong  EINVAL (bad JSON, unknown table, over 100 ops,
 *                        two ops on one item, a bad op), EFBIG, EIO;
 *                        nothing applied.
 * A failed document stays in the buffer and can be rewritten and
 * committed again on the same descriptor; each failure is one /_errors
 * line, "/_tx: op 3 (update users/hedy): condition failed: ...".  A
 * flush with nothing written since the last attempt does nothing (the
 * shell's `>` closes a duplicate before the command writes).
 *
 * Reading returns the outcome: {"status": "committed", "ops": 3},
 * {"status": "cancelled", "op": 2, "reason": "..."}, {"status":
 * "invalid", ...}, {"status": "failed", ...}, or {"status": "empty"}
 * before anything was written.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/ops.h"
#include "wcheck.h"

struct tx {
	struct ctl c;		   /* first: the common part */
	char *buf;		   /* the document */
	size_t len;		   /* its length */
	size_t cap;		   /* allocated */
	bool dirty;		   /* written since the last attempt */
	bool tried;		   /* res holds an attempt's outcome */
	bool done;		   /* committed: no more writes */
	bool append;		   /* O_APPEND: writes go to the end */
	struct wcheck wc;	   /* run at the write that completes it (wcheck.h) */
	struct ops_tx_result res;  /* the last attempt */
};

static int tx_open(struct ctl *c, int flags)
{
	/* The kernel places O_APPEND writes at the size it knows, 0. */
	((struct tx *)c)->append = flags & O_APPEND;
	wcheck_start(&((struct tx *)c)->wc);
	return 0;
}

static int tx_reserve(struct tx *x, size_t end)
{
	size_t ncap;
	char *p;

	if (end > FSX_WBUF_MAX)
		return -EFBIG;
	if (end <= x->cap)
		return 0;
	ncap = x->cap ? x->cap : 4096;
	while (ncap < end)
		ncap *= 2;
	p = realloc(x->buf, ncap);
	if (!p)
		return -ENOMEM;
	x->buf = p;
	x->cap = ncap;
	return 0;
}

/* Set the document's length, zero-filling a hole. */
static int tx_resize(struct tx *x, size_t len)
{
	int rc = tx_reserve(x, len);

	if (rc < 0)
		return rc;
	if (len > x->len)
		memset(x->buf + x->len, 0, len - x->len);
	x->len = len;
	x->dirty = true;
	if (len)
		wcheck_stop(&x->wc);
	else
		wcheck_start(&x->wc);
	return 0;
}

/* Run the document as the transaction; a failure is one /_errors line. */
static int tx_run(struct ctl *c)
{
	struct tx *x = (struct tx *)c;
	struct ops_sink sink;
	char msg[1024];
	int rc;

	x->dirty = false; /* retried only after new writes */
	x->tried = true;
	be_sink(c->fs->be, &sink);
	rc = ops_tx_run_sink(&sink, x->buf ? x->buf : "", x->len, &x->res);
	if (rc == 0)
		x->done = true;
	else
		errlog_add(c->fs, "/_tx", "%s", ops_tx_message(&x->res, msg, sizeof(msg)));
	return rc;
}

/* Only blanks in buf[0..n). */
static bool all_blank(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}

static int tx_write(struct ctl *c, const char *buf, size_t size, off_t off)
{
	struct tx *x = (struct tx *)c;
	size_t end, before = x->len;
	int rc;

	if (x->append)
		off = (off_t)x->len;
	if (x->done) { /* whitespace may end a document that ran at write() */
		if (x->append)
			off = (off_t)x->wc.len;
		return x->wc.checked && all_blank(buf, size) &&
				       wcheck_write(&x->wc, off, x->wc.len, buf, size) == WC_NONE &&
				       x->wc.checked
			       ? 0
			       : -EBUSY;
	}
	end = (size_t)off + size;
	rc = tx_reserve(x, end);
	if (rc < 0)
		return rc;
	if ((size_t)off > x->len)
		memset(x->buf + x->len, 0, (size_t)off - x->len);
	memcpy(x->buf + off, buf, size);
	if (end > x->len)
		x->len = end;
	x->dirty = true;
	switch (wcheck_write(&x->wc, off, before, buf, size)) {
	case WC_REFUSED:
		x->dirty = false; /* the same document: nothing to retry */
		return x->wc.refused;
	case WC_CHECK:
		rc = tx_run(c);
		wcheck_result(&x->wc, rc);
		return rc < 0 ? rc : (int)size;
	default:
		return (int)size; /* the count consumed (ctl.h) */
	}
}

static int tx_commit(struct ctl *c, enum ctl_when when)
{
	struct tx *x = (struct tx *)c;

	if (!x->dirty)
		return x->wc.refused; /* refused at write(): the same errno, once logged */
	if (when == CTL_FLUSH && ops_json_incomplete(x->buf, x->len))
		return 0; /* still being written (ctl.h) */
	return tx_run(c);
}

static int tx_outcome(struct ctl *c, char **out, size_t *len)
{
	struct tx *x = (struct tx *)c;

	if (!x->tried) {
		*out = strdup("{\"status\": \"empty\"}\n");
		*len = *out ? strlen(*out) : 0;
		return *out ? 0 : -ENOMEM;
	}
	return ops_tx_result_json(&x->res, out, len);
}

static int tx_truncate(struct ctl *c, off_t size)
{
	struct tx *x = (struct tx *)c;

	if (x->done)
		return (size_t)size == x->len ? 0 : -EBUSY;
	return tx_resize(x, (size_t)size);
}

static void tx_free(struct ctl *c)
{
	free(((struct tx *)c)->buf);
}

const struct ctl_class tx_class = {
	.size = sizeof(struct tx),
	.open = tx_open,
	.write = tx_write,
	.commit = tx_commit,
	.outcome = tx_outcome,
	.truncate = tx_truncate,
	.free = tx_free,
};
