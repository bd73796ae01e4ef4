/*
 * keyenc.c - tuple key encoding (format and its order properties in
 * keyenc.h).
 *
 * Escaping works on whole byte strings, so N goes through the same path
 * as S and B: num_key_encode() output is memcmp-ordered by itself, and
 * escaping preserves that order (it maps each byte to a code word and
 * 0x00 0xFF sorts where 0x00 did, above the terminator 0x00 0x01).
 */
#include "keyenc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

#define KEY_ESC 0xFF  /* 0x00 0xFF: an escaped zero byte */
#define KEY_TERM 0x01 /* 0x00 0x01: end of a component */

void keyenc_buf_init(struct keyenc_buf *b)
{
	b->p = b->inl;
	b->len = 0;
	b->cap = sizeof(b->inl);
}

void keyenc_buf_free(struct keyenc_buf *b)
{
	if (b->p != b->inl)
		free(b->p);
	keyenc_buf_init(b);
}

static int buf_grow(struct keyenc_buf *b, size_t extra)
{
	size_t cap = b->cap;
	uint8_t *p;

	if (b->len + extra <= b->cap)
		return 0;
	while (cap < b->len + extra)
		cap *= 2;
	if (b->p == b->inl) {
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		memcpy(p, b->inl, b->len);
	} else {
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int keyenc_buf_put(struct keyenc_buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Append p[0..n) with zeros escaped. */
static int put_escaped(struct keyenc_buf *b, const uint8_t *p, size_t n)
{
	const uint8_t *z;
	size_t run;

	if (buf_grow(b, n + 2) < 0)
		return -ENOMEM;
	while (n) {
		z = memchr(p, 0, n);
		run = z ? (size_t)(z - p) : n;
		if (keyenc_buf_put(b, p, run) < 0)
			return -ENOMEM;
		p += run;
		n -= run;
		if (!n)
			break;
		if (keyenc_buf_put(b, "\0\xff", 2) < 0)
			return -ENOMEM;
		p++;
		n--;
	}
	return 0;
}

/* The raw bytes of a key value (num encoded into tmp). */
static int raw_bytes(const struct val *v, uint8_t *tmp, const uint8_t **p, size_t *n)
{
	switch (v->type) {
	case VAL_S:
	case VAL_B:
		*p = (const uint8_t *)v->s.p;
		*n = v->s.len;
		return 0;
	case VAL_N:
		*n = num_key_encode(&v->n, tmp);
		*p = tmp;
		return 0;
	default:
		return -EINVAL;
	}
}

int keyenc_append_prefix(struct keyenc_buf *b, const struct val *v)
{
	uint8_t tmp[NUM_KEY_MAX];
	const uint8_t *p;
	size_t n;

	if (raw_bytes(v, tmp, &p, &n) < 0)
		return -EINVAL;
	return put_escaped(b, p, n);
}

int keyenc_append(struct keyenc_buf *b, const struct val *v)
{
	int rc = keyenc_append_prefix(b, v);

	if (rc < 0)
		return rc;
	return keyenc_buf_put(b, "\0\x01", 2);
}

int keyenc_succ(struct keyenc_buf *b)
{
	while (b->len && b->p[b->len - 1] == 0xFF)
		b->len--;
	if (!b->len)
		return -ERANGE;
	b->p[b->len - 1]++;
	return 0;
}

size_t keyenc_next(const uint8_t *k, size_t len)
{
	const uint8_t *z, *end = k + len, *p = k;

	while (p < end) {
		z = memchr(p, 0, (size_t)(end - p));
		if (!z || z + 1 >= end)
			return 0;
		if (z[1] == KEY_TERM)
			return (size_t)(z + 2 - k);
		if (z[1] != KEY_ESC)
			return 0;
		p = z + 2;
	}
	return 0;
}

int keyenc_view(const uint8_t *k, size_t len, enum val_type t, struct val *out, size_t *used)
{
	size_t n = keyenc_next(k, len);
	struct num num;

	if (!n)
		return -EINVAL;
	if (t != VAL_S && t != VAL_B && t != VAL_N)
		return -EINVAL;
	if (t == VAL_N) {
		/* a number is held by value: unescape its few bytes here */
		uint8_t raw[NUM_KEY_MAX];
		size_t i, j;

		for (i = j = 0; i < n - 2 && j < sizeof(raw); i++) {
			raw[j++] = k[i];
			if (!k[i])
				i++; /* skip the 0xFF of an escaped zero */
		}
		if (i < n - 2 || num_key_decode(raw, j, &num) < 0)
			return -EINVAL;
		out->type = VAL_N;
		out->n = num;
	} else if (memchr(k, 0, n - 2)) {
		return 1;
	} else {
		out->type = t;
		out->s.p = (char *)k;
		out->s.len = n - 2;
	}
	if (used)
		*used = n;
	return 0;
}

int keyenc_decode(const uint8_t *k, size_t len, enum val_type t, struct val *out, size_t *used)
{
	size_t n = keyenc_next(k, len), i, j;
	uint8_t small[NUM_KEY_MAX * 2 + 2], *raw = small;
	struct num num;
	int rc;

	if (!n)
		return -EINVAL;
	if (used)
		*used = n;
	n -= 2; /* the terminator */
	if (!memchr(k, 0, n)) {
		raw = (uint8_t *)k; /* nothing escaped: decode in place */
		j = n;
	} else {
		if (n > sizeof(small)) {
			raw = malloc(n);
			if (!raw)
				return -ENOMEM;
		}
		for (i = j = 0; i < n; i++) {
			raw[j++] = k[i];
			if (!k[i])
				i++; /* skip the 0xFF of an escaped zero */
		}
	}
	switch (t) {
	case VAL_S:
		rc = val_init_str(out, (const char *)raw, j);
		break;
	case VAL_B:
		rc = val_init_bin(out, raw, j);
		break;
	case VAL_N:
		rc = num_key_decode(raw, j, &num);
		if (rc == 0)
			val_init_num(out, &num);
		break;
	default:
		rc = -EINVAL;
	}
	if (raw != k && raw != small)
		free(raw);
	return rc;
}

uint64_t keyenc_hash(const uint8_t *k, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= k[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV's low bits are weak for similar keys, and scan segments take
	 * h % total: finish with murmur3's fmix64 so every bit depends on
	 * every input byte. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}
