/*
 * item_parseint.h - the document-JSON parser's private parts, shared by
 * item_lex.c (errors with positions, strings, numbers) and item_parse.c
 * (containers, tags, the entry points).  See item_parse.c for the design.
 */
#ifndef DYNFS_ITEM_PARSEINT_H
#define DYNFS_ITEM_PARSEINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

#define PARSE_MAX_DEPTH (ITEM_MAX_DEPTH + 1)
#define INLINE_SLOTS 32

struct slot {
	char *name;	 /* attribute name (maps), NULL for elements */
	size_t name_len; /* its length */
	size_t off;	 /* offset of the key / element in the text */
	struct val v;	 /* the parsed value */
};

struct frame {
	const char *name; /* attribute name, or NULL for a list element */
	size_t n;	  /* name length, or the element's index */
};

struct parser {
	const char *text;			/* start of the input (positions) */
	const char *p;				/* cursor */
	const char *end;			/* end of the input */
	struct dyn_err *err;			/* error record, may be NULL */
	struct slot *slots;			/* open containers' members, innermost last */
	size_t nslots;				/* used */
	size_t cap;				/* allocated */
	int depth;				/* lists and maps open */
	int npath;				/* frames in path */
	struct frame path[PARSE_MAX_DEPTH + 1]; /* attribute path at the cursor */
	struct slot inline_slots[INLINE_SLOTS]; /* first slots, without malloc */
	struct item_arena *arena;		/* where values go; NULL: malloc */
};

/* Memory of the value being built: from the arena if there is one. */
void *ipar_arena_alloc(struct item_arena *a, size_t n);

static inline void *ipar_alloc(struct parser *ps, size_t n)
{
	return ps->arena ? ipar_arena_alloc(ps->arena, n) : malloc(n);
}

/* Give back memory of the value being built (arena memory stays). */
static inline void ipar_free(struct parser *ps, void *p)
{
	if (!ps->arena)
		free(p);
}

static inline void ipar_val_free(struct parser *ps, struct val *v)
{
	if (!ps->arena)
		val_free(v);
	else
		val_init_null(v);
}

static inline const char *skip_ws(const char *p, const char *end)
{
	/* compact text has none: one compare says so */
	while (p < end && (unsigned char)*p <= ' ' &&
	       (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Bit i set when byte i of the 16 at p is '"', '\\', < 0x20 or >= 0x80
 * (a signed compare with 0x20 catches both of the last two): where a
 * string's plain bytes stop.  Without SSE2 the scanners go 8 bytes at a
 * time (item_lex.c). */
static inline unsigned str_special16v(__m128i v)
{
	__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
					      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));

	return (unsigned)_mm_movemask_epi8(m);
}

static inline unsigned str_special16(const char *p)
{
	return str_special16v(_mm_loadu_si128((const __m128i *)p));
}
#endif

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- item_lex.c ---- */

/* Record the line, column and attribute path of `at` in ps->err. */
void ipar_locate(struct parser *ps, const char *at);
/* Set ps->err (EINVAL) at `at`; returns -EINVAL. */
int ipar_fail_at(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -ENOMEM, said in ps->err. */
int ipar_fail_nomem(struct parser *ps);
/* "unexpected X, expected <expected>" for the byte at p (or the end). */
int ipar_fail_unexpected(struct parser *ps, const char *p, const char *expected);
/* Scan the string whose opening quote is at q: UTF-8 and controls checked,
 * *close its closing quote, *escapes whether it has escapes. */
int ipar_scan_string(struct parser *ps, const char *q, const char **close, bool *escapes);
/* Decode the escapes of s..close into o (room for close - s bytes). */
int ipar_unescape(struct parser *ps, const char *s, const char *close, char *o, size_t *outlen);
/* The string whose opening quote is at the cursor: *out new (NUL-ended),
 * *len its bytes, *escaped whether the text had escapes; cursor past it. */
int ipar_str_esc(struct parser *ps, char **out, size_t *len, bool *escaped);
int ipar_str(struct parser *ps, char **out, size_t *len);
/* A strict JSON number at the cursor, read exactly; cursor past it. */
int ipar_number(struct parser *ps, struct num *out);
/* The same without num_parse_plain's fast path (the reference of
 * check_num's and fuzz_num's comparison). */
int ipar_number_general(struct parser *ps, struct num *out);

/* Byte order of attribute names (and of set elements in stored form):
 * val.h val_name_cmp. */
#define item_name_cmp val_name_cmp

#endif
