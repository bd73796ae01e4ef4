/*
 * err.h - error reporting shared by every engine module.
 *
 * Engine functions return 0 on success and a negative errno on failure
 * (libuv's rule).  Where a user needs to know *why* (a parse error, a bad
 * key, a failed condition) the caller may pass a struct dyn_err, which the
 * failing function fills with the code, a one-line message and, when known,
 * the position in the input and the attribute path.  The FUSE layer turns
 * it into a line in /_errors.  Passing NULL is always allowed.
 */
#ifndef DYNFS_ERR_H
#define DYNFS_ERR_H

#include <stddef.h>

struct dyn_err {
	int code;	 /* positive errno; 0 while no error was set */
	int line;	 /* 1-based line in the input, 0 if not applicable */
	int col;	 /* 1-based column (bytes) in the input, 0 if not applicable */
	char path[256];	 /* attribute path such as "scores[2].x", "" if none */
	char msg[512];	 /* human-readable reason, no trailing newline */
};

/* Reset e (if not NULL) to "no error". */
void err_clear(struct dyn_err *e);

/*
 * Record an error in e (if not NULL and no error was recorded yet: the
 * first, innermost reason wins) and return -code, so callers can write
 * `return err_set(err, EINVAL, "bad %s", what);`.
 */
int err_set(struct dyn_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set the input position of an already-recorded error (if not yet set). */
void err_at(struct dyn_err *e, int line, int col);

/* Set the attribute path of an already-recorded error (if not yet set). */
void err_path(struct dyn_err *e, const char *path);

/*
 * Format e as one line: "[path: ]msg[ (line L, column C)]" into buf.
 * Returns buf.
 */
const char *err_format(const struct dyn_err *e, char *buf, size_t size);

#endif
