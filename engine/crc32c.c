/*
 * crc32c.c - software CRC-32C, slicing-by-8 (see crc32c.h).
 *
 * Eight 256-entry tables let the inner loop fold eight input bytes per
 * step with eight independent lookups, about 1-2 GB/s without the SSE4.2
 * instruction, which is more than the journal and snapshot need and keeps
 * the code portable.  Table t[0] is the classic byte-at-a-time table;
 * t[k][b] is the CRC of byte b followed by k zero bytes.  The tables are
 * built once, on first use (pthread_once), and are read-only afterwards.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t crc_tab[8][256]; /* slicing tables, built by crc_init */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc_tab[0][i];
		for (k = 1; k < 8; k++) {
			c = crc_tab[0][c & 0xff] ^ (c >> 8);
			crc_tab[k][i] = c;
		}
	}
}

static inline uint32_t load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc, hi;

	pthread_once(&crc_once, crc_init);
	/* byte-wise until 8-byte aligned, so the wide loads are aligned */
	while (len && ((uintptr_t)p & 7)) {
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		c ^= load_le32(p);
		hi = load_le32(p + 4);
		c = crc_tab[7][c & 0xff] ^ crc_tab[6][(c >> 8) & 0xff] ^
		    crc_tab[5][(c >> 16) & 0xff] ^ crc_tab[4][c >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
