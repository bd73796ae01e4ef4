/*
 * crc32c.h - CRC-32C (Castagnoli), as used by iSCSI, ext4 and SSE4.2.
 *
 * Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF,
 * so crc32c(0, "123456789", 9) == 0xE3069283.  The function takes and
 * returns the finished (post-inverted) value, so a checksum can be built
 * in pieces: crc32c(crc32c(0, a, na), b, nb) == crc32c(0, a || b, na + nb).
 */
#ifndef DYNFS_CRC32C_H
#define DYNFS_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over buf[0..len). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The two ways crc32c() computes, for tests: crc32c_sw() always the
 * portable tables; crc32c_hw() the CPU's crc32 instruction (x86 SSE4.2)
 * when crc32c_hw_available(), else the same as crc32c_sw().
 */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool crc32c_hw_available(void);

#endif
