/*
 * journal_read.c - the journal's framing and reading (format and rules in
 * journal.h; writing in journal.c).
 *
 * Recovery after damage.  Records are read in order up to the first bad
 * one (cut short, bad magic, impossible fields, checksum mismatch): lsn E
 * was expected there.  Zeroes from there to the end of the file are the
 * end (zeroes written ahead, journal.c).  Anything else is a torn tail or
 * corruption, and which one is proved, not guessed:
 *
 *   Version 2.  Every record carries the synced lsn known when it was
 *   written.  A record is written only after every record before it, and
 *   its synced lsn names records an fdatasync had covered before it was
 *   written.  On a disk that keeps what it synced, record E can only be
 *   damaged if it was never synced, and then no record written after it
 *   says synced >= E.  So: a later valid record with synced lsn >= E
 *   proves the disk damaged synced data (bit rot, a disk that lies about
 *   flushes): refused as corruption.  Without one, the damage and
 *   everything after it is a torn tail - valid records included, which a
 *   power cut keeps when the disk wrote a later sector of unsynced records
 *   and not an earlier one (records are written in place over zeroes
 *   written ahead, or writeback goes out of order with fsync=batch/off).
 *   None of them was acknowledged with fsync=always: an acknowledgement
 *   needs a sync covering record E, and E is damaged.
 *
 *   Version 1 (no synced lsn): a bad record followed by any valid record
 *   is refused, as dynfs did before version 2.
 *
 * Finding the valid records after the damage is a search for "JREC", and
 * a hostile file can hold a candidate every few bytes, each claiming a
 * long payload.  So a candidate is checked for plausibility before its
 * checksum: its lsn must follow the last valid one found (at least E) and
 * be no further from E than the records fitting between the damage and
 * it allow.  And the bytes checksummed for candidates that then fail are
 * bounded by the bytes after the damage (records a power cut damaged do
 * not overlap, so an honest file never gets near it): past that the file
 * is refused as corrupt.  Reading is linear in the file's size
 * (info->crc_bytes counts, for the tests).
 */
#include "journalint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storefile.h"

const char journal_file_magic[8] = {'D', 'Y', 'N', 'F', 'S', 'J', 'N', 'L'};
const char journal_rec_magic[4] = {'J', 'R', 'E', 'C'};

/* ---- framing ---- */

void journal_file_header(uint8_t hdr[JOURNAL_HDR_SIZE], uint32_t version, uint64_t start_lsn)
{
	memset(hdr, 0, JOURNAL_HDR_SIZE);
	memcpy(hdr, journal_file_magic, 8);
	jput32(hdr + 8, version);
	jput32(hdr + 12, JOURNAL_HDR_SIZE);
	jput64(hdr + 16, start_lsn);
	jput32(hdr + 28, crc32c(0, hdr, 28));
}

void journal_put_header(uint8_t *hdr, unsigned hs, uint32_t payload_crc, uint32_t len,
			uint64_t lsn, uint64_t synced)
{
	memcpy(hdr, journal_rec_magic, 4);
	jput32(hdr + 4, len);
	jput64(hdr + 8, lsn);
	if (hs == JOURNAL_REC_HDR)
		jput64(hdr + 16, synced);
	jput32(hdr + hs - 4, crc32c(payload_crc, hdr, hs - 4));
}

void journal_frame_synced(uint8_t hdr[JOURNAL_REC_HDR], uint64_t lsn, uint64_t synced,
			  const void *payload, size_t len)
{
	journal_put_header(hdr, JOURNAL_REC_HDR, crc32c(0, payload, len), (uint32_t)len, lsn,
			   synced);
}

void journal_frame(uint8_t hdr[JOURNAL_REC_HDR], uint64_t lsn, const void *payload, size_t len)
{
	journal_frame_synced(hdr, lsn, 0, payload, len);
}

void journal_frame_v1(uint8_t hdr[JOURNAL_REC_HDR_V1], uint64_t lsn, const void *payload,
		      size_t len)
{
	journal_put_header(hdr, JOURNAL_REC_HDR_V1, crc32c(0, payload, len), (uint32_t)len, lsn,
			   0);
}

/* ---- records ---- */

struct reader {
	const uint8_t *buf;
	uint64_t size;
	unsigned hs;	    /* record header bytes of the file's version */
	uint64_t crc_bytes; /* payload bytes checksummed */
};

struct rec {
	uint32_t len;
	uint64_t lsn;
	uint64_t synced; /* 0 in version 1 */
};

enum rec_state {
	REC_OK,	   /* a complete record (with a good checksum, if checked) */
	REC_SHORT, /* runs past the end of the file */
	REC_BAD,   /* bad magic, impossible field or checksum mismatch */
};

/* The header of the record at off, without its checksum. */
static enum rec_state rec_head(const struct reader *r, uint64_t off, struct rec *rc,
			       const char **why)
{
	const uint8_t *h = r->buf + off;
	uint64_t room = r->size - off;

	if (room < r->hs) {
		*why = "record header cut short";
		/* a short header can still be recognised as garbage */
		if (memcmp(h, journal_rec_magic, room < 4 ? room : 4)) {
			*why = "bad record magic";
			return REC_BAD;
		}
		return REC_SHORT;
	}
	if (memcmp(h, journal_rec_magic, 4)) {
		*why = "bad record magic";
		return REC_BAD;
	}
	rc->len = jget32(h + 4);
	rc->lsn = jget64(h + 8);
	rc->synced = r->hs == JOURNAL_REC_HDR ? jget64(h + 16) : 0;
	if (rc->len > JOURNAL_MAX_PAYLOAD) {
		*why = "impossible record length";
		return REC_BAD;
	}
	if (r->hs == JOURNAL_REC_HDR && rc->synced >= rc->lsn) {
		*why = "impossible synced lsn";
		return REC_BAD;
	}
	if (room - r->hs < rc->len) {
		*why = "record cut short";
		return REC_SHORT;
	}
	return REC_OK;
}

static bool rec_sum_ok(struct reader *r, uint64_t off, const struct rec *rc)
{
	const uint8_t *h = r->buf + off;

	r->crc_bytes += rc->len;
	return crc32c(crc32c(0, h + r->hs, rc->len), h, r->hs - 4) == jget32(h + r->hs - 4);
}

/* Check the whole record at off. */
static enum rec_state rec_check(struct reader *r, uint64_t off, struct rec *rc,
				const char **why)
{
	enum rec_state st = rec_head(r, off, rc, why);

	if (st == REC_OK && !rec_sum_ok(r, off, rc)) {
		*why = "checksum mismatch";
		st = REC_BAD;
	}
	return st;
}

/* What lies after the first bad record. */
struct after {
	uint64_t valid;	       /* valid records */
	uint64_t first;	       /* offset of the first (0: none) */
	uint64_t end;	       /* past the last */
	uint64_t proof;	       /* offset of the first with synced lsn >= E (0: none) */
	struct rec proof_rec;  /* its header */
	bool too_many;	       /* more bytes of bad candidates than follow the damage */
};

/* The valid records after the bad one at off0, where lsn e was expected
 * (see the top of this file). */
static void scan_after(struct reader *r, uint64_t off0, uint64_t e, struct after *a)
{
	uint64_t from = off0 + 1, off, last = e - 1, budget = r->size - off0, spent = 0;
	const uint8_t *p;
	const char *why;
	struct rec rc;

	memset(a, 0, sizeof(*a));
	while (from + r->hs <= r->size) {
		p = memmem(r->buf + from, r->size - from, journal_rec_magic, 4);
		if (!p)
			break;
		off = (uint64_t)(p - r->buf);
		from = off + 1;
		/* plausible before checksummed */
		if (rec_head(r, off, &rc, &why) != REC_OK || rc.lsn <= last ||
		    rc.lsn - e > (off - off0) / r->hs)
			continue;
		if (!rec_sum_ok(r, off, &rc)) {
			spent += rc.len;
			if (spent > budget) {
				a->too_many = true;
				return;
			}
			continue;
		}
		a->valid++;
		if (!a->first)
			a->first = off;
		if (!a->proof && rc.synced >= e) {
			a->proof = off;
			a->proof_rec = rc;
		}
		last = rc.lsn;
		from = a->end = off + r->hs + rc.len;
	}
}

/* Offset past the last nonzero byte of buf[from..size), or from if none. */
static uint64_t data_end(const uint8_t *buf, uint64_t size, uint64_t from)
{
	while (size > from && !buf[size - 1])
		size--;
	return size;
}

static int check_file_header(const char *path, const uint8_t *buf, uint64_t size,
			     struct journal_info *info, struct dyn_err *err)
{
	if (size < JOURNAL_HDR_SIZE)
		return err_set(err, EINVAL,
			       "journal %s: file header cut short (%llu bytes); refusing to open, "
			       "nothing was changed",
			       path, (unsigned long long)size);
	if (memcmp(buf, journal_file_magic, 8))
		return err_set(err, EINVAL,
			       "journal %s: not a dynfs journal (bad magic at offset 0); refusing to "
			       "open, nothing was changed",
			       path);
	/* the checksum first: a damaged header says "damaged", not "too new" */
	if (crc32c(0, buf, 28) != jget32(buf + 28))
		return err_set(err, EINVAL,
			       "journal %s: corrupt file header (checksum mismatch at offset 0); "
			       "refusing to open, nothing was changed",
			       path);
	info->version = jget32(buf + 8);
	if (info->version > JOURNAL_VERSION)
		return err_set(err, EPROTO,
			       "journal %s: format version %u is newer than this dynfs supports "
			       "(%u); use a newer dynfs",
			       path, info->version, JOURNAL_VERSION);
	if (info->version == 0 || jget32(buf + 12) != JOURNAL_HDR_SIZE)
		return err_set(err, EINVAL,
			       "journal %s: corrupt file header (offset 0); refusing to open, "
			       "nothing was changed",
			       path);
	info->start_lsn = jget64(buf + 16);
	if (info->start_lsn == 0)
		return err_set(err, EINVAL, "journal %s: corrupt file header (start lsn 0)", path);
	return 0;
}

/* Pass 1: walk and validate every record; fill info. */
static int validate(const char *path, struct reader *r, struct journal_info *info,
		    struct dyn_err *err)
{
	uint64_t off = JOURNAL_HDR_SIZE, expect = info->start_lsn;
	const char *why = "";
	struct after a;
	struct rec rc;

	while (off < r->size) {
		if (rec_check(r, off, &rc, &why) != REC_OK)
			break;
		if (rc.lsn != expect)
			return err_set(err, EINVAL,
				       "journal %s: sequence gap at offset %llu: record has lsn %llu, "
				       "expected %llu; refusing to open, nothing was changed",
				       path, (unsigned long long)off, (unsigned long long)rc.lsn,
				       (unsigned long long)expect);
		info->records++;
		info->last_lsn = rc.lsn;
		expect = rc.lsn + 1;
		off += r->hs + rc.len;
		info->valid_end = off;
	}
	info->data_end = data_end(r->buf, r->size, off);
	if (info->data_end == off)
		return 0; /* the end, or zeroes written ahead of it (JOURNAL_AHEAD) */
	scan_after(r, off, expect, &a);
	if (a.too_many)
		return err_set(err, EINVAL,
			       "journal %s: corrupt record at offset %llu (%s) followed by more "
			       "damaged records than a crash leaves; refusing to open, nothing "
			       "was changed",
			       path, (unsigned long long)off, why);
	if (a.valid && r->hs == JOURNAL_REC_HDR_V1)
		return err_set(err, EINVAL,
			       "journal %s: corrupt record at offset %llu (%s) followed by valid "
			       "records (at offset %llu); refusing to open, nothing was changed",
			       path, (unsigned long long)off, why, (unsigned long long)a.first);
	if (a.proof)
		return err_set(err, EINVAL,
			       "journal %s: corrupt record at offset %llu (%s; lsn %llu expected) "
			       "although a later record (offset %llu, lsn %llu) was written when "
			       "every record up to lsn %llu had been synced: the disk damaged "
			       "synced data; refusing to open, nothing was changed",
			       path, (unsigned long long)off, why, (unsigned long long)expect,
			       (unsigned long long)a.proof, (unsigned long long)a.proof_rec.lsn,
			       (unsigned long long)a.proof_rec.synced);
	/* a valid record may end in zeroes: it is kept whole */
	if (a.end > info->data_end)
		info->data_end = a.end;
	info->torn = true;
	info->torn_why = why;
	info->torn_valid = a.valid;
	return 0;
}

int journal_read(const char *path, uint64_t after, journal_rec_fn fn, void *ctx,
		 struct journal_info *info, struct dyn_err *err)
{
	struct reader r = {0};
	struct stat sb;
	struct rec h;
	const char *why;
	uint64_t off;
	int fd, rc;

	memset(info, 0, sizeof(*info));
	fd = stf_open(path, "journal", O_RDONLY, false, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &sb) < 0) {
		rc = err_set(err, errno, "journal %s: %s", path, strerror(errno));
		goto out_close;
	}
	r.size = info->size = (uint64_t)sb.st_size;
	if (r.size) {
		r.buf = mmap(NULL, r.size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (r.buf == MAP_FAILED) {
			r.buf = NULL;
			rc = err_set(err, errno, "journal %s: mmap: %s", path, strerror(errno));
			goto out_close;
		}
	}
	rc = check_file_header(path, r.buf, r.size, info, err);
	if (rc < 0)
		goto out_unmap;
	r.hs = journal_rec_hdr(info->version);
	info->last_lsn = info->start_lsn - 1;
	info->valid_end = JOURNAL_HDR_SIZE;
	rc = validate(path, &r, info, err);
	info->crc_bytes = r.crc_bytes;
	if (rc < 0)
		goto out_unmap;
	/* pass 2: hand out the records the caller wants (checked in pass 1) */
	for (off = JOURNAL_HDR_SIZE; off < info->valid_end; off += r.hs + h.len) {
		rec_head(&r, off, &h, &why);
		if (h.lsn <= after || !fn)
			continue;
		rc = fn(ctx, h.lsn, (const char *)r.buf + off + r.hs, h.len, off);
		if (rc)
			goto out_unmap;
		info->replayed++;
	}
	rc = 0;
out_unmap:
	if (r.buf)
		munmap((void *)r.buf, r.size);
out_close:
	close(fd);
	return rc;
}
