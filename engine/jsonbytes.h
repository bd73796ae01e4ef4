/*
 * jsonbytes.h - the bytes of a JSON string that end a plain run: '"',
 * '\\' and the control characters (< 0x20), found eight at a time.
 * Shared by the renderer (item_render.c: what needs escaping) and the
 * completeness scanner (jscan.c: where a string may end or break).
 */
#ifndef DYNFS_JSONBYTES_H
#define DYNFS_JSONBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JB_ONES 0x0101010101010101ULL
#define JB_HIGHS 0x8080808080808080ULL

/* Non-zero if any byte of w is '"', '\\' or a control character (a byte
 * after such a byte may be flagged too: check bytewise from the first). */
static inline uint64_t json_word_special(uint64_t w)
{
	uint64_t q = w ^ (JB_ONES * '"'), s = w ^ (JB_ONES * '\\');

	return (((q - JB_ONES) & ~q) | ((s - JB_ONES) & ~s) | ((w - JB_ONES * 0x20) & ~w)) &
	       JB_HIGHS;
}

static inline int json_byte_special(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20;
}

/* The length of the run of plain bytes at the start of p[0..n). */
static inline size_t json_plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0, stop;
	uint64_t w;

	for (;;) {
		while (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (json_word_special(w))
				break;
			i += 8;
		}
		stop = n - i >= 8 ? i + 8 : n;
		while (i < stop && !json_byte_special(p[i]))
			i++;
		if (i < stop || i >= n)
			return i;
	}
}

#endif
