/*
 * item_storedint.h - item_parse_stored's private parts, shared by
 * item_stored.c (the item: its keys, captures, top-level names and their
 * order) and item_stored_val.c (values into the stored form).  The design
 * is in item_stored.c.
 */
#ifndef DYNFS_ITEM_STOREDINT_H
#define DYNFS_ITEM_STOREDINT_H

#include <errno.h>

#include "item_parseint.h"

#define DECLINE 1 /* not taken: item_parse() of the text decides */

/* The parse: the lexer's state (no error record) and the output. */
struct sp {
	struct parser ps;	/* cursor, end; err NULL */
	struct item_stored *st; /* output */
	int depth;		/* lists and maps open (as item_parse.c counts) */
};

/* ---- output (blob grows by doubling) ---- */

int ist_out_grow(struct item_stored *st, size_t n);

static inline int out_reserve(struct item_stored *st, size_t n)
{
	return st->blob_cap - st->blob_len >= n ? 0 : ist_out_grow(st, n);
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline void put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

/* One byte (room reserved by the caller or here). */
static inline int out_byte(struct item_stored *st, uint8_t b)
{
	if (out_reserve(st, 1) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = b;
	return 0;
}

/* After a member: 1 on ',' (cursor on the next member), 0 on closer, else declines. */
static inline int next_member(struct sp *s, char closer)
{
	const char *p = s->ps.p, *q;

	/* compact text: ',' and the next member's first byte */
	if (s->ps.end - p >= 2 && *p == ',' && (unsigned char)p[1] > ' ' && p[1] != closer) {
		s->ps.p = p + 1;
		return 1;
	}
	p = skip_ws(p, s->ps.end);

	if (p < s->ps.end && *p == closer) {
		s->ps.p = p + 1;
		return 0;
	}
	if (p >= s->ps.end || *p != ',')
		return -DECLINE;
	q = skip_ws(p + 1, s->ps.end);
	if (q >= s->ps.end || *q == closer)
		return -DECLINE;
	s->ps.p = q;
	return 1;
}

static inline int sv_number(struct sp *s, struct num *n)
{
	return ipar_number(&s->ps, n) < 0 ? DECLINE : 0;
}

/* The ':' after a name, and the blanks around it. */
static inline int sv_colon(struct sp *s)
{
	const char *p = s->ps.p, *end = s->ps.end;

	if (end - p >= 2 && *p == ':' && (unsigned char)p[1] > ' ') {
		s->ps.p = p + 1; /* compact text */
		return 0;
	}
	p = skip_ws(p, end);
	if (p >= end || *p != ':')
		return DECLINE;
	s->ps.p = skip_ws(p + 1, end);
	return 0;
}

/* ---- item_stored_val.c ---- */

/* Write count into the one-byte placeholder at pos, widening it if needed. */
int ist_fix_count(struct item_stored *st, size_t pos, size_t count);
/* The string at the cursor as length + bytes at the output's end: *off
 * and *n where its bytes are, *escaped whether it had escapes. */
int ist_string(struct sp *s, size_t *off, size_t *n, bool *escaped);
/* A number as length + num_key_encode() bytes at the output's end. */
int ist_num(struct item_stored *st, const struct num *n);
/* A name at the cursor (*esc: it had escapes) and the ':' after it, the
 * name written at the output's end. */
int ist_name(struct sp *s, size_t *off, size_t *n, bool *esc);
/* Is name[0..n) one of item_parse.c's tags?  Its type, or VAL_NULL. */
enum val_type ist_tag_type(const uint8_t *name, size_t n, bool *is_m);
/* The value at the cursor, written at the output's end; *size its
 * item_size() share. */
int ist_value(struct sp *s, size_t *size);

#endif
