/*
 * wcheck.h - refusing a bad document at write() (SPEC §5 "Rejected
 * content"), for item files, _schema.json and /_tx.
 *
 * bash's builtin echo and printf ignore the errno of close(), where a
 * file's content is checked.  So while the writes to a descriptor are one
 * simple sequence -- the buffer was empty (create, O_TRUNC, truncate to
 * 0) and every write lands exactly at its end -- the bytes are also fed
 * to an incremental scanner (engine/jscan.h), and the full check runs
 * once, at the write that completes the document or makes it impossible.
 * A refused write fails with the errno close() would give; the refusal
 * is logged once and is sticky: later writes in the sequence and the
 * close fail with the same errno and log nothing more (one refused save,
 * one /_errors line).  Any other write or truncate -- an editor's
 * rewrite, `dd seek=`, a write at a hole -- switches the descriptor back
 * to the close-time check, and a new refusal there is a new save.
 *
 * Nothing is committed before close/fsync (except /_tx, which runs its
 * transaction when complete: it is one atomic step either way).
 *
 * wcheck is pure bookkeeping; the caller holds the handle's lock.
 */
#ifndef DYNFS_WCHECK_H
#define DYNFS_WCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../engine/jscan.h"

struct wcheck {
	bool on;	  /* the writes are one sequence from offset 0 */
	bool checked;	  /* the complete document passed the full check */
	int refused;	  /* -errno the sequence was refused with (0: none) */
	size_t len;	  /* bytes in the sequence */
	struct jscan js;  /* scanner over the sequence */
};

/* What the writer must do after a write. */
enum wcheck_act {
	WC_NONE,    /* nothing now (incomplete, close-time check, or checked) */
	WC_CHECK,   /* run the full check of the buffer now; wcheck_result() */
	WC_REFUSED, /* fail the write with w->refused; log nothing */
};

/* The buffer is empty: (re)start tracking (clears any refusal). */
void wcheck_start(struct wcheck *w);
/* The buffer changed otherwise (truncate to non-zero...): close-time. */
void wcheck_stop(struct wcheck *w);
/*
 * A write of p[0..n) at offset off into a buffer that held len bytes
 * before it (the bytes are stored by the caller either way).
 */
enum wcheck_act wcheck_write(struct wcheck *w, off_t off, size_t len, const char *p, size_t n);
/* The full check after WC_CHECK returned rc (0 or -errno). */
void wcheck_result(struct wcheck *w, int rc);

#endif
