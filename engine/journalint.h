/*
 * journalint.h - what journal.c (writing) and journal_read.c (framing and
 * reading) share: little-endian helpers, the magics, the record CRC.
 */
#ifndef DYNFS_JOURNALINT_H
#define DYNFS_JOURNALINT_H

#include <stdint.h>

#include "crc32c.h"
#include "journal.h"

extern const char journal_file_magic[8];
extern const char journal_rec_magic[4];

static inline void jput32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void jput64(uint8_t *p, uint64_t v)
{
	jput32(p, (uint32_t)v);
	jput32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t jget32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t jget64(const uint8_t *p)
{
	return (uint64_t)jget32(p) | (uint64_t)jget32(p + 4) << 32;
}

/* Record header bytes of a format version (1 or 2). */
static inline unsigned journal_rec_hdr(uint32_t version)
{
	return version == JOURNAL_VERSION_1 ? JOURNAL_REC_HDR_V1 : JOURNAL_REC_HDR;
}

/*
 * Fill a record header of hs bytes (JOURNAL_REC_HDR or _V1) for a payload
 * whose CRC-32C is payload_crc: payload first, so it can be computed
 * before the lsn is known.  synced is left out of a version 1 header.
 */
void journal_put_header(uint8_t *hdr, unsigned hs, uint32_t payload_crc, uint32_t len,
			uint64_t lsn, uint64_t synced);

#endif
