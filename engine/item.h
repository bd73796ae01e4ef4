/*
 * item.h - items: the document JSON codec, DynamoDB's size and shape
 * limits, and the compact binary form items are stored in.
 *
 * Document JSON (SPEC §5).  S, BOOL, NULL, L, M are plain JSON.  N is a
 * bare JSON number when num_fits_double(), else {"$N": "text"}.  B is
 * {"$B": "base64"} (standard alphabet, padded; the parser also accepts
 * unpadded and url-safe input).  Sets are {"$SS": [...]}, {"$NS": [...]}
 * ({"$NS"} elements are JSON numbers or strings holding numbers),
 * {"$BS": [base64...]}, elements sorted.  A map whose only key is one of
 * "$N" "$B" "$SS" "$NS" "$BS" "$M" is written {"$M": {...}}.
 *
 * Canonical rendering: a JSON object, two-space indentation, one attribute
 * per line, key attributes first (partition key, then sort key), then the
 * other attributes in byte order of their names, nested maps in byte order
 * too; empty lists and maps as [] and {}; a final newline.  Non-ASCII UTF-8
 * is written as is; control characters, '"' and '\\' are escaped (\n \t
 * \r \b \f, else \u00XX).  render(parse(x)) == x for canonical text and
 * parse(render(v)) == v for every item.
 *
 * The parser is written for this job rather than built on jansson: it reads
 * numbers as the exact digits written, reports line and column, rejects
 * duplicate names, and goes straight to struct val without a second tree
 * (bulk import speed).
 *
 * Compact binary form (item_encode): what tables store.  A value is a type
 * byte followed by its payload; lengths and counts are LEB128 varints:
 *   NULL: -            BOOL: 1 byte 0/1
 *   S, B: len, bytes   N: len, num_key_encode() bytes
 *   L: count, values   SS/NS/BS: count, values without type bytes
 *   M: count, then (name len, name bytes, value) in name order
 * An item is encoded as an M.  The form is internal to one process's
 * memory and to nothing on disk, so it may change freely.
 */
#ifndef DYNFS_ITEM_H
#define DYNFS_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "val.h"

/* DynamoDB's limits. */
#define ITEM_MAX_SIZE (400 * 1024) /* bytes, by item_size() */
#define ITEM_MAX_DEPTH 32	   /* nesting levels of L/M */
#define ITEM_MAX_PK 2048	   /* partition key value bytes */
#define ITEM_MAX_SK 1024	   /* sort key value bytes */

/*
 * Parse one document-form JSON value (any type) from text[0..len).
 * Whitespace around it is allowed; anything else after it is an error.
 * On success *out is initialised (new).  On failure returns -EINVAL with
 * err filled: message, line/column, and attribute path.  Rejects invalid
 * JSON, non-UTF-8, duplicate names, NaN/Infinity, bad numbers (num_parse
 * rules), malformed $ tags, bad base64, empty/duplicate/mixed sets,
 * nesting deeper than ITEM_MAX_DEPTH.  Does not check the item size.
 */
int item_parse_value(const char *text, size_t len, struct val *out, struct dyn_err *err);

/*
 * Parse an item: as item_parse_value, but the value must be an object,
 * and the item limits (item_check) are applied.  EFBIG for size.
 */
int item_parse(const char *text, size_t len, struct val *out, struct dyn_err *err);

/*
 * DynamoDB's item size: for each attribute, UTF-8 length of its name plus
 * the size of its value (S: bytes; B: bytes; N: about 1 byte per two
 * significant digits + 1; BOOL/NULL: 1; L/M: 3 + elements (+ nested names);
 * sets: sum of elements).
 */
size_t item_size(const struct val *item);

/*
 * Limits on a whole item: top level is a map, size <= ITEM_MAX_SIZE (EFBIG),
 * depth <= ITEM_MAX_DEPTH, and val_check() invariants.
 */
int item_check(const struct val *item, struct dyn_err *err);

/*
 * Render v in canonical document form into *out (new, NUL-terminated,
 * caller frees), *len without the NUL.  For an item, pk_name/sk_name
 * (either may be NULL) are written first.  A non-map v is rendered as a
 * single JSON value with the same rules (no trailing newline then).
 * -ENOMEM.
 */
int item_render(const struct val *v, const char *pk_name, const char *sk_name,
		char **out, size_t *len);

/* Compact single-line JSON of any value (for JSON Lines output), no newline. */
int item_render_compact(const struct val *v, const char *pk_name, const char *sk_name,
			char **out, size_t *len);
/*
 * The same, appended to the growable buffer *buf (malloc'd or NULL; *cap
 * bytes allocated, *len used): no allocation of its own when the buffer
 * has room.  The buffer stays NUL-terminated at *len.  -ENOMEM leaves
 * *len as it was (the buffer, possibly moved, is still the caller's).
 */
int item_render_compact_append(const struct val *v, const char *pk_name, const char *sk_name,
			       char **buf, size_t *len, size_t *cap);

/*
 * The text of an item for the journal (db.h db_op.text) from the text
 * it was parsed from and the attributes added to it since: text is one
 * JSON object (item_parse accepted it, so: a BOM and whitespace may lead,
 * whitespace may follow), add a map of attributes text does not have
 * (NULL or empty: none).  With nothing to add, *out is the object inside
 * text (no BOM, no surrounding whitespace) and *buf NULL; else *buf is
 * a new text (caller frees) -- add's attributes, rendered compact, then
 * text's own -- and *out == *buf.  item_parse_value(*out) is the item
 * text parses to with add's attributes: the journal writes it instead of
 * rendering the item.  -EINVAL if text is no object, or when attributes
 * are to be added and text's first member name begins with '$' or an
 * escape (a tag: {"$M": {...}} is the map inside) or one of add's names
 * with '$' (the caller renders the item then); -ENOMEM.
 */
int item_text_join(const char *text, size_t len, const struct val *add, char **buf,
		   const char **out, size_t *out_len);

/*
 * The compact form of an item straight from its binary form: blob is what
 * item_encode wrote for the item without its key attributes, pk (named
 * pk_name) and sk (named sk_name; sk NULL if none) are those.  Appended
 * as item_render_compact_append does, with the same bytes as it writes
 * for the whole item with pk_name and sk_name first.  -EINVAL if the blob
 * is malformed (*len unchanged), -ENOMEM.
 */
int item_render_blob_append(const char *pk_name, const struct val *pk, const char *sk_name,
			    const struct val *sk, const uint8_t *blob, size_t blob_len, char **buf,
			    size_t *len, size_t *cap);

/*
 * The rest of that compact form after its key members: ,"name":value for
 * each of the blob's attributes, then the closing '}' (appended as
 * above).  So the compact keys-only form without its '}', then this, is
 * the whole item's - unless that keys-only form is a "$M" wrapping (a
 * lone key named like a tag).  -EINVAL if malformed, -ENOMEM.
 */
int item_render_blob_rest_append(const uint8_t *blob, size_t blob_len, char **buf, size_t *len,
				 size_t *cap);

/*
 * The canonical form (item_render's bytes, NUL-terminated, *out new)
 * straight from the binary form, with the same arguments as
 * item_render_blob_append.  -EINVAL if the blob is malformed, -ENOMEM.
 */
int item_render_blob(const char *pk_name, const struct val *pk, const char *sk_name,
		     const struct val *sk, const uint8_t *blob, size_t blob_len, char **out,
		     size_t *len);
/*
 * The length item_render_blob would give, counted without rendering:
 * no allocation, no val tree.  -EINVAL if the blob is malformed.
 */
int item_blob_text_len(const char *pk_name, const struct val *pk, const char *sk_name,
		       const struct val *sk, const uint8_t *blob, size_t blob_len, size_t *len);
/* The length item_render(v, pk_name, sk_name) would give, counted. */
size_t item_render_len(const struct val *v, const char *pk_name, const char *sk_name);

/*
 * item_parse() with every byte of *out taken from an arena: no allocation
 * per value, and nothing to free per item.  *out must not be passed to
 * val_free() or changed (it is read-only); it lives until the arena is
 * reset or freed.  For loaders that turn each item into something else
 * at once (a snapshot's items into records).  Errors as item_parse's.
 * *size (if size is not NULL) gets the item's item_size(), which the
 * parser computes anyway (so the caller need not walk the item again).
 */
struct item_arena;
struct item_arena *item_arena_new(void); /* new, or NULL */
void item_arena_reset(struct item_arena *a);   /* every value from it is gone */
void item_arena_free(struct item_arena *a);
int item_parse_arena(const char *text, size_t len, struct item_arena *a, struct val *out,
		     size_t *size, struct dyn_err *err);
/* Bytes of memory a holds (0 for NULL). */
size_t item_arena_bytes(const struct item_arena *a);
/* n bytes (16-byte aligned) of a's memory, gone at its reset; NULL. */
void *item_arena_alloc(struct item_arena *a, size_t n);
/* item_parse_value() into an arena, as item_parse_arena is item_parse(). */
int item_parse_value_arena(const char *text, size_t len, struct item_arena *a,
			   struct val *out, struct dyn_err *err);

/*
 * An item's text straight into the form a table stores (item_stored.c):
 * no struct val tree.  For loaders of text that is almost always
 * canonical (a snapshot's items).  pk (named pk_name) and sk (named
 * sk_name, NULL if the table has no sort key) are the key attributes;
 * blob is item_encode() of the item without them and size its
 * item_size().  The path takes only a subset of what item_parse()
 * accepts: names in byte order below the top level (the top level's in
 * any order, put in order here; at most 64 out of order), sets sorted,
 * key values S or bare N, both keys present.  The top-level attributes
 * named by cap_names (set by the caller, e.g. index key attributes) are
 * also given as values, cap[i] (VAL_NULL: the item has none); one of
 * them of another type than S or bare N declines.
 * Everything else - any error included - it declines, and then
 * item_parse() of the same text gives the answer (its value or its
 * error).  When it takes the text, item_parse() would have succeeded
 * with exactly these key values, blob and size (fuzz_stored checks it).
 */
#define ITEM_STORED_CAP 16
struct item_stored {
	struct val pk;	  /* the partition key: S (bytes in kb[0]) or N (borrowed) */
	struct val sk;	  /* the sort key, if sk_name (bytes in kb[1]) */
	uint8_t *blob;	  /* the encoded non-key attributes (owned) */
	size_t blob_len;  /* bytes used */
	size_t blob_cap;  /* bytes allocated */
	size_t size;	  /* item_size() of the whole item */
	char *kb[2];	  /* key string buffers (owned) */
	size_t kcap[2];	  /* their sizes */
	/* captures: set cap_names and ncap after item_stored_init */
	const char *const *cap_names; /* top-level names to capture (borrowed) */
	size_t ncap;		      /* how many, at most ITEM_STORED_CAP */
	struct val cap[ITEM_STORED_CAP]; /* their values: S (bytes in cb[i]), N, or
					  * VAL_NULL (absent) */
	char *cb[ITEM_STORED_CAP];	 /* capture string buffers (owned) */
	size_t cap_len[ITEM_STORED_CAP]; /* strlen(cap_names[i]) (the parse's) */
	size_t ccap[ITEM_STORED_CAP];	 /* their sizes */
	struct item_names *names;	 /* top-level names seen (item_stored.c), owned */
};
void item_stored_init(struct item_stored *st);
void item_stored_free(struct item_stored *st);
/*
 * 0: taken, *st filled (valid until the next call); 1: declined (use
 * item_parse); -ENOMEM.
 */
int item_parse_stored(const char *text, size_t len, const char *pk_name, const char *sk_name,
		      struct item_stored *st);

/* DynamoDB's size of a number (item_size's rule for N). */
size_t item_num_size(const struct num *n);

/* Binary form.  *out is new (malloc), *len its size.  -ENOMEM. */
int item_encode(const struct val *v, uint8_t **out, size_t *len);
/*
 * The same into the caller's buf (cap bytes) when it fits (with up to 10
 * bytes to spare): *out is then buf; else *out is new (malloc) and the
 * caller frees it (*out != buf).
 */
int item_encode_into(const struct val *v, uint8_t *buf, size_t cap, uint8_t **out, size_t *len);
/* Decode what item_encode wrote into *out (new).  -EINVAL if malformed. */
int item_decode(const uint8_t *buf, size_t len, struct val *out);

/* Base64 helpers shared with the name encoding (url = base64url unpadded). */
/* Encoded length without NUL for n input bytes. */
size_t b64_encoded_len(size_t n, bool url);
/* Writes the encoding plus NUL into out; returns length without NUL. */
size_t b64_encode(const void *in, size_t n, char *out, bool url);
/* Decodes standard or url alphabet, padded or not; -EINVAL. *out new. */
int b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);

#endif
