/*
 * b64.c - base64 for binary values (item.h: b64_*).
 *
 * Rendering writes RFC 4648 standard base64 with padding for {"$B": ...}
 * and unpadded base64url for file names.  Decoding is liberal in form but
 * strict in content: either alphabet (not both in one string), padded or
 * not, but no whitespace, no junk, no misplaced '=' and no non-zero bits
 * in the unused low end of the last character.  That last rule makes
 * decoding injective - every byte string has exactly one accepted text
 * per (alphabet, padding) choice - so names built from base64url map back
 * to exactly one key.
 *
 * The decoded buffer is always followed by a NUL byte (not counted), so
 * the parser can adopt it as a B value without copying.
 */
#include "item.h"

#include <errno.h>
#include <stdlib.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoding table: digit value + 1 for both alphabets, 0 for anything else. */
static const uint8_t b64_dec[256] = {
	/* clang-format off */
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
	['-'] = 63, ['_'] = 64,
	/* clang-format on */
};

size_t b64_encoded_len(size_t n, bool url)
{
	if (url)
		return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	return (n + 2) / 3 * 4;
}

size_t b64_encode(const void *in, size_t n, char *out, bool url)
{
	const uint8_t *s = in;
	const char *tab = url ? b64_url : b64_std;
	char *p = out;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		p[0] = tab[v >> 18];
		p[1] = tab[v >> 12 & 63];
		p[2] = tab[v >> 6 & 63];
		p[3] = tab[v & 63];
		p += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		*p++ = tab[v >> 18];
		*p++ = tab[v >> 12 & 63];
		if (!url) {
			*p++ = '=';
			*p++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		*p++ = tab[v >> 18];
		*p++ = tab[v >> 12 & 63];
		*p++ = tab[v >> 6 & 63];
		if (!url)
			*p++ = '=';
	}
	*p = 0;
	return (size_t)(p - out);
}

int b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	int alphabet = 0; /* 0 unknown, 1 std, 2 url */
	uint8_t *buf, *q;
	uint32_t acc = 0;
	size_t body = n, rem;
	int bits = 0;

	/* Padding: only at the end, only to a multiple of four. */
	if (body && s[body - 1] == '=') {
		body--;
		if (body && s[body - 1] == '=')
			body--;
		if (n % 4 != 0)
			return -EINVAL;
	}
	rem = body % 4;
	if (rem == 1 || (body != n && rem == 0))
		return -EINVAL;
	/* At most body * 3 / 4 bytes, plus a NUL so a B value can adopt it. */
	buf = malloc(body / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	q = buf;
	for (size_t i = 0; i < body; i++) {
		uint8_t d = b64_dec[s[i]];
		int a;

		if (!d--)
			goto out_inval;
		if (d >= 62) {
			a = s[i] == '+' || s[i] == '/' ? 1 : 2;
			if (alphabet && alphabet != a)
				goto out_inval;
			alphabet = a;
		}
		acc = acc << 6 | d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*q++ = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-zero unused bits: not the encoding of anything */
		goto out_inval;
	*q = 0; /* always room: see the allocation above */
	*out = buf;
	*outlen = (size_t)(q - buf);
	return 0;
out_inval:
	free(buf);
	return -EINVAL;
}
