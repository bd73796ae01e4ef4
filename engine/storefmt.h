/*
 * storefmt.h - text building blocks shared by the store's file formats:
 * the snapshot (snap.c), the journal payload (journal records) and the
 * import/export formats (xfer.c).  Formats themselves are described in
 * docs/formats.md and next to the code that writes them.
 *
 * Three things live here:
 *
 *   - sf_buf, a growable byte buffer (git's strbuf, minus the cleverness).
 *     Invariant: p is NULL and len == cap == 0, or p holds cap bytes of
 *     which the first len are used and p[len] == 0.
 *
 *   - A JSON *span scanner*.  The store's formats are JSON envelopes
 *     around items in document form, and items must be parsed by the item
 *     codec (item_parse_value), which reads numbers exactly; jansson would
 *     read them as doubles.  The scanner walks an envelope without
 *     building anything: it finds where each member's value starts and
 *     ends, and leaves the value to the right parser.  It checks the
 *     envelope's own syntax ({ "key" : value , ... }); values are checked
 *     by whoever parses them.  Skipping is iterative, so hostile nesting
 *     cannot exhaust the stack.
 *
 *   - Codecs for table schemas (the _schema.json shape of SPEC §6) and for
 *     database changes (struct db_change, the journal's payload).
 */
#ifndef DYNFS_STOREFMT_H
#define DYNFS_STOREFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "val.h"

/* ---- growable buffer ---- */

struct sf_buf {
	char *p;    /* bytes, NUL-terminated when non-NULL */
	size_t len; /* bytes used, without the NUL */
	size_t cap; /* bytes allocated */
};

#define SF_BUF_INIT {NULL, 0, 0}

void sf_buf_free(struct sf_buf *b);
/* Make room for n more bytes.  -ENOMEM. */
int sf_buf_grow(struct sf_buf *b, size_t n);
int sf_buf_add(struct sf_buf *b, const void *p, size_t n);
int sf_buf_adds(struct sf_buf *b, const char *s);
int sf_buf_addc(struct sf_buf *b, char c);
int sf_buf_printf(struct sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append p[0..n) as a quoted JSON string (escapes '"', '\\', controls). */
int sf_json_str(struct sf_buf *b, const char *p, size_t n);
/* Append bytes as a quoted base64 string (standard alphabet, padded). */
int sf_b64(struct sf_buf *b, const void *p, size_t n);
/* Append a number in canonical form (num_format), quoted or bare. */
int sf_num(struct sf_buf *b, const struct num *n, bool quoted);

/* ---- span scanner ---- */

/* A slice of the input: a JSON value, or a member name with its quotes. */
struct sf_span {
	const char *p; /* first byte */
	size_t len;    /* bytes */
};

/* Cursor over the members of an object or the elements of an array. */
struct sf_iter {
	const char *p;	 /* next unread byte */
	const char *end; /* end of input */
	char close;	 /* '}' or ']' */
	bool first;	 /* no member read yet */
};

/* Skip JSON whitespace. */
const char *sf_ws(const char *p, const char *end);
/* End of the value starting at p (after whitespace): -EINVAL if there is
 * no well-delimited value (unterminated string or bracket). */
int sf_skip_value(const char *p, const char *end, const char **vend);
/* Start iterating over the object (open '{') or array ('[') at v. */
int sf_obj_open(struct sf_iter *it, struct sf_span v);
int sf_arr_open(struct sf_iter *it, struct sf_span v);
/*
 * Next member: 1 with *key (including quotes) and *val, 0 at the end,
 * -EINVAL on a syntax error.  sf_arr_next is the same for elements.
 */
int sf_obj_next(struct sf_iter *it, struct sf_span *key, struct sf_span *val);
int sf_arr_next(struct sf_iter *it, struct sf_span *val);
/* True if the member name (quoted span) is exactly s (no escapes). */
bool sf_key_is(struct sf_span key, const char *s);
/* The whole text is one value plus whitespace: its span.  -EINVAL. */
int sf_whole(const char *p, size_t len, struct sf_span *out);
/* Decode a JSON string value (or a quoted member name).  *s new. */
int sf_span_str(struct sf_span v, char **s, size_t *len, struct dyn_err *err);
/* An unsigned decimal integer value. */
int sf_span_u64(struct sf_span v, uint64_t *out);
/* Is the span the literal true? (false: *out false; else -EINVAL) */
int sf_span_bool(struct sf_span v, bool *out);
/* 1-based line and column of q inside [base, q) for error messages. */
void sf_pos(const char *base, const char *q, int *line, int *col);

/* ---- schemas ---- */

/*
 * Render a schema as JSON on one line:
 *   {"partition_key":{"name":N,"type":T},"sort_key":{...},
 *    "indexes":[{"name":I,"partition_key":{...},"sort_key":{...},
 *                "projection":"ALL"|"KEYS_ONLY"|["attr",...]}]}
 * ("sort_key" only when present; "indexes" only when non-empty).
 */
int sf_schema_render(struct sf_buf *b, const struct table_schema *s);
/*
 * Parse that form (the _schema.json shape of SPEC §6; whitespace and
 * member order free; unknown top-level members ignored) into *out (new;
 * schema_free), then schema_check() it.  -EINVAL with err.
 */
int sf_schema_parse(struct sf_span v, struct table_schema *out, struct dyn_err *err);

/* ---- changes (journal payload) ---- */

/*
 * Render changes as a JSON array on one line, one object per change:
 *   {"put":TABLE,"item":ITEM}            item in compact document form
 *   {"delete":TABLE,"pk":V[,"sk":V]}     key values in document form
 *   {"create":TABLE,"schema":SCHEMA}
 *   {"drop":TABLE}
 *   {"set_schema":TABLE,"schema":SCHEMA}
 */
int sf_changes_render(struct sf_buf *b, const struct db_change *ch, size_t n);

/* Parsed changes: the array plus everything its pointers point to. */
struct sf_changes {
	struct db_change *ch;	     /* n changes */
	size_t n;		     /* entries in ch */
	char **names;		     /* table names (owned), one per change */
	struct val *vals;	     /* items and keys (owned), 2 per change */
	struct table_schema *schemas; /* owned, one per change (zeroed if unused) */
};

/* Parse what sf_changes_render wrote.  *out new (sf_changes_free). */
int sf_changes_parse(const char *p, size_t len, struct sf_changes *out, struct dyn_err *err);
void sf_changes_free(struct sf_changes *c);

#endif
