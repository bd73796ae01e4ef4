/*
 * jscan.h - an incremental scanner that tells, byte by byte, whether a
 * stream holds a complete JSON object yet, and whether it can still
 * become one.
 *
 * Front ends (item files, _schema.json, /_tx) refuse a bad document at
 * the write() that completes or breaks it, so that bash's builtin `echo >
 * file` sees the error (SPEC §5).  Parsing the whole buffer after every
 * write would be quadratic; the scanner keeps just enough state (depth,
 * the bracket kinds of the first JSCAN_MAX_DEPTH levels, inside a string
 * or an escape) to say when the full parser is worth running: once, when
 * the top-level object closes, or when a byte makes success impossible.
 *
 * It is not a validator: `{"a": ]` closes (the parser then says why it
 * is wrong).  Its verdicts are conservative:
 *   JSCAN_MORE  the bytes so far may be the start of one JSON object;
 *   JSCAN_DONE  a top-level object closed at `end` and only whitespace
 *               followed (more whitespace keeps it DONE);
 *   JSCAN_BAD   the byte at `bad` can never be part of a single valid
 *               JSON object: a first non-blank byte other than '{' (a
 *               leading UTF-8 byte order mark is skipped), a raw control
 *               byte inside a string, a closing bracket that does not
 *               match, nesting over JSCAN_MAX_DEPTH, or anything but
 *               whitespace after the object.  Final: later bytes are
 *               not looked at.
 */
#ifndef DYNFS_JSCAN_H
#define DYNFS_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSCAN_MAX_DEPTH 64 /* deeper is never a valid item, schema or /_tx */

enum jscan_verdict {
	JSCAN_MORE, /* incomplete, could still be valid */
	JSCAN_DONE, /* one complete object, then only whitespace */
	JSCAN_BAD,  /* can no longer be one valid object */
};

struct jscan {
	enum jscan_verdict verdict; /* after the bytes fed so far */
	size_t off;		    /* bytes fed */
	size_t end;		    /* DONE: offset just past the closing '}' */
	size_t bad;		    /* BAD: offset of the offending byte */
	unsigned depth;		    /* containers open */
	bool in_str;		    /* inside a string */
	bool esc;		    /* after a backslash in a string */
	bool started;		    /* the top-level '{' was seen */
	uint64_t kinds;		    /* bit d: level d+1 is an array ('[') */
};

void jscan_init(struct jscan *s);

/* Feed the next n bytes of the stream; returns the new verdict. */
enum jscan_verdict jscan_feed(struct jscan *s, const char *p, size_t n);

#endif
