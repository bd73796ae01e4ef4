/*
 * keyenc.h - tuple key encoding: key values as byte strings whose memcmp
 * order is DynamoDB's order.
 *
 * Every key stored in an ordered map (omap.h) is a concatenation of
 * encoded components.  One component is the value's bytes (S: UTF-8, B:
 * raw, N: num_key_encode()) with each 0x00 written as 0x00 0xFF, followed
 * by the terminator 0x00 0x01.  Hence:
 *   - memcmp() of two encodings of the same type orders them as val_cmp()
 *     does, a value that is a prefix of another first (0x01 < 0xFF and
 *     0x01 < any byte after an escaped zero);
 *   - memcmp() of concatenations is lexicographic in the components, so
 *     enc(pk) enc(sk) sorts by partition then sort key, and every key of a
 *     partition starts with enc(pk);
 *   - begins_with(v, p) on S/B is "the escaped bytes of p, without the
 *     terminator, are a prefix of enc(v)";
 *   - a component's end is found by scanning for 0x00 0x01, so keys decode
 *     without knowing lengths.
 * Table key: enc(pk) [enc(sk)].  Index key: enc(ipk) [enc(isk)] enc(pk)
 * [enc(sk)]: entries with equal index keys are ordered by base key.
 */
#ifndef DYNFS_KEYENC_H
#define DYNFS_KEYENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "val.h"

#define KEYENC_INLINE 160 /* bytes kept inside struct keyenc_buf */

/* A growable byte buffer for building keys, inline for typical sizes. */
struct keyenc_buf {
	uint8_t *p;		    /* bytes: inl or heap */
	size_t len;		    /* bytes used */
	size_t cap;		    /* capacity of p */
	uint8_t inl[KEYENC_INLINE]; /* inline storage */
};

void keyenc_buf_init(struct keyenc_buf *b);
/* Release heap storage (the buffer may be reused after init). */
void keyenc_buf_free(struct keyenc_buf *b);
/* Append n bytes.  -ENOMEM. */
int keyenc_buf_put(struct keyenc_buf *b, const void *p, size_t n);

/* Append enc(v) (escaped bytes and terminator).  -EINVAL unless S/N/B. */
int keyenc_append(struct keyenc_buf *b, const struct val *v);
/* Append v's escaped bytes without terminator (a begins_with prefix). */
int keyenc_append_prefix(struct keyenc_buf *b, const struct val *v);
/*
 * Turn b into the least byte string greater than every string that starts
 * with b (drop trailing 0xFF bytes, increment the last).  -ERANGE if no
 * such string exists (b empty or all 0xFF).
 */
int keyenc_succ(struct keyenc_buf *b);

/*
 * Length of the first component of k[0..len), terminator included, or 0
 * if k does not start with a well-formed component.
 */
size_t keyenc_next(const uint8_t *k, size_t len);
/*
 * Decode the first component of k as type t (S, N or B) into *out (new);
 * *used (may be NULL) receives its encoded length.  -EINVAL if malformed,
 * -ENOMEM.
 */
int keyenc_decode(const uint8_t *k, size_t len, enum val_type t, struct val *out, size_t *used);
/*
 * The same without a copy when one is not needed: *out (borrowed: never
 * val_free it) points into k for S and B, holds the number for N.  1 if
 * an S or B component holds an escaped zero (then keyenc_decode must copy
 * it; *out untouched), -EINVAL as keyenc_decode.  For readers that only look
 * at a key (rendering a record).
 */
int keyenc_view(const uint8_t *k, size_t len, enum val_type t, struct val *out, size_t *used);

/* Hash of key bytes (64-bit FNV-1a): stable across runs and builds. */
uint64_t keyenc_hash(const uint8_t *k, size_t len);

#endif
