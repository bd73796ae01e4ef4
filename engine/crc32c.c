/*
 * crc32c.c - CRC-32C (see crc32c.h): the x86 SSE4.2 crc32 instruction
 * when the CPU has it, else software slicing-by-8.
 *
 * Hardware.  On x86-64 the crc32 instruction (SSE4.2) folds eight bytes
 * per instruction, several times the speed of the tables (a snapshot load
 * checksums every byte it reads).  Whether the CPU has it is asked once
 * (__builtin_cpu_supports, at the first call) and the answer kept; the
 * function is compiled for SSE4.2 by a target attribute, so the rest of
 * the program needs no -msse4.2 and runs on CPUs without it.
 *
 * Software.  Eight 256-entry tables let the inner loop fold eight input
 * bytes per step with eight independent lookups, about 1-2 GB/s.  Table
 * t[0] is the classic byte-at-a-time table; t[k][b] is the CRC of byte b
 * followed by k zero bytes.  The tables are built once, on first use
 * (pthread_once), and are read-only afterwards.
 *
 * Both compute the same function (check_journal compares them on the
 * standard vectors and on random data at every alignment and length).
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

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_HAVE_HW 1

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *buf,
							  size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc & 0xffffffffu, w;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

/* 1: the CPU has SSE4.2; 0: it does not; -1: not asked yet. */
static int crc_hw_ok = -1;

bool crc32c_hw_available(void)
{
	int ok = __atomic_load_n(&crc_hw_ok, __ATOMIC_RELAXED);

	if (ok < 0) {
		__builtin_cpu_init();
		ok = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&crc_hw_ok, ok, __ATOMIC_RELAXED);
	}
	return ok == 1;
}

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_hw_available() ? crc_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
}
#else
bool crc32c_hw_available(void)
{
	return false;
}

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC_HAVE_HW
	if (crc32c_hw_available())
		return crc_hw(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}
