/*
 * check_journal.c - the journal: CRC-32C, record framing, torn tails,
 * corruption refusal, sequence gaps, append failure, group commit,
 * rotation.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fix_file.h"
#include "crc32c.h"
#include "journal.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/check-journal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_NAME);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Append a record with the given text; returns its lsn. */
static uint64_t append(journal_t *j, const char *text)
{
	size_t n = strlen(text);
	uint8_t *rec = malloc(JOURNAL_REC_HDR + n);
	uint64_t lsn = 0;

	memcpy(rec + JOURNAL_REC_HDR, text, n);
	ck_assert_int_eq(journal_append(j, rec, n, false, &lsn), 0);
	free(rec);
	return lsn;
}

static journal_t *open_fresh(uint64_t start)
{
	struct journal_info info;
	struct dyn_err err;
	journal_t *j;

	err_clear(&err);
	ck_assert_int_eq(journal_create(dir, start, &err), 0);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), 0);
	ck_assert_int_eq(journal_open(dir, &info, &j, &err), 0);
	return j;
}

/* Close j as a crash would leave its file: with the zeroes written ahead
 * (a clean journal_close cuts them off). */
static void crash_close(journal_t *j)
{
	struct journal_stats st;

	journal_stats(j, &st);
	journal_close(j);
	ck_assert_int_eq(truncate(path, (off_t)st.file_bytes), 0);
}

/* Collects what journal_read hands out. */
struct seen {
	uint64_t lsn[64];  /* record lsns */
	uint64_t off[64];  /* their offsets */
	char text[64][64]; /* payloads */
	int n;		   /* records seen */
};

static int collect(void *ctx, uint64_t lsn, const char *p, size_t len, uint64_t off)
{
	struct seen *s = ctx;

	ck_assert_int_lt(s->n, 64);
	s->lsn[s->n] = lsn;
	s->off[s->n] = off;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)len, p);
	s->n++;
	return 0;
}

/* A journal with records "one", "two", "three" (lsn 1..3); offsets in off;
 * with ahead, zeroes written ahead of them (journal_set_ahead). */
static void make_three_ahead(uint64_t off[3], uint64_t ahead)
{
	journal_t *j = open_fresh(1);

	journal_set_ahead(j, ahead);

	journal_position(j, NULL, &off[0], NULL);
	append(j, "[\"one\"]\n");
	journal_position(j, NULL, &off[1], NULL);
	append(j, "[\"two\"]\n");
	journal_position(j, NULL, &off[2], NULL);
	append(j, "[\"three\"]\n");
	crash_close(j);
}

static void make_three(uint64_t off[3])
{
	make_three_ahead(off, 0);
}

START_TEST(test_crc32c_known_vectors)
{
	static const uint8_t zeros[32];
	uint8_t buf[100];
	size_t i;

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	/* incremental == one shot, at every split and alignment */
	for (i = 0; i <= sizeof(buf); i++)
		ck_assert_uint_eq(crc32c(crc32c(0, buf, i), buf + i, sizeof(buf) - i),
				  crc32c(0, buf, sizeof(buf)));
	for (i = 1; i < 9; i++)
		ck_assert_uint_eq(crc32c(0, buf + i, 50), crc32c(crc32c(0, buf + i, 7), buf + i + 7, 43));
}
END_TEST

/* The SSE4.2 instruction and the tables agree (standard vectors, every
 * alignment and length up to 300 bytes, pieces), whichever crc32c() uses. */
START_TEST(test_crc32c_hw_and_sw_agree)
{
	static const struct {
		const char *s;
		size_t n;
		uint32_t want;
	} v[] = {{"123456789", 9, 0xE3069283u}, {"", 0, 0}, {"a", 1, 0xC1D04330u}};
	uint8_t ones[32], up[32], down[32], buf[320];
	uint32_t (*fn[2])(uint32_t, const void *, size_t) = {crc32c_sw, crc32c_hw};
	size_t i, k, off, len;

	for (i = 0; i < 32; i++) {
		ones[i] = 0xff;
		up[i] = (uint8_t)i;
		down[i] = (uint8_t)(31 - i);
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			ck_assert_uint_eq(fn[k](0, v[i].s, v[i].n), v[i].want);
		/* RFC 3720 B.4 */
		ck_assert_uint_eq(fn[k](0, ones, 32), 0x62A8AB43u);
		ck_assert_uint_eq(fn[k](0, up, 32), 0x46DD794Eu);
		ck_assert_uint_eq(fn[k](0, down, 32), 0x113FDB5Cu);
	}
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 3) * 7 + 3);
	for (off = 0; off < 8; off++)
		for (len = 0; len + off <= 300; len++) {
			uint32_t s = crc32c_sw(0x12345678u, buf + off, len);

			ck_assert_uint_eq(crc32c_hw(0x12345678u, buf + off, len), s);
			ck_assert_uint_eq(crc32c(0x12345678u, buf + off, len), s);
			if (len > 3)
				ck_assert_uint_eq(crc32c_hw(crc32c_sw(0x12345678u, buf + off, 3),
							    buf + off + 3, len - 3),
						  s);
		}
	fprintf(stderr, "crc32c: hardware instruction %s\n",
		crc32c_hw_available() ? "available (compared)" : "not available (software only)");
}
END_TEST

START_TEST(test_append_then_read_in_order)
{
	struct journal_info info;
	struct seen s = {0};
	struct dyn_err err;
	uint64_t off[3];

	make_three(off);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.text[0], "[\"one\"]\n");
	ck_assert_str_eq(s.text[2], "[\"three\"]\n");
	ck_assert_uint_eq(s.lsn[0], 1);
	ck_assert_uint_eq(s.lsn[2], 3);
	ck_assert_uint_eq(s.off[1], off[1]);
	ck_assert_uint_eq(info.start_lsn, 1);
	ck_assert_uint_eq(info.last_lsn, 3);
	ck_assert_uint_eq(info.records, 3);
	ck_assert(!info.torn);
	ck_assert_uint_eq(info.valid_end, info.size);
	/* only records after the given lsn are handed out */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_read(path, 2, collect, &s, &info, &err), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(s.lsn[0], 3);
}
END_TEST

START_TEST(test_frame_layout_is_documented_one)
{
	uint8_t hdr[JOURNAL_REC_HDR], fh[JOURNAL_HDR_SIZE];

	journal_frame(hdr, 0x0102030405060708ull, "abc", 3);
	ck_assert_mem_eq(hdr, "JREC", 4);
	ck_assert_uint_eq(hdr[4], 3);
	ck_assert_uint_eq(hdr[5] | hdr[6] | hdr[7], 0);
	ck_assert_uint_eq(hdr[8], 0x08);
	ck_assert_uint_eq(hdr[15], 0x01);
	/* CRC-32C of payload then header bytes 0..15, little-endian */
	{
		uint32_t c = crc32c(crc32c(0, "abc", 3), hdr, 16);

		ck_assert_uint_eq(hdr[16] | hdr[17] << 8 | hdr[18] << 16 | (uint32_t)hdr[19] << 24, c);
	}
	journal_file_header(fh, JOURNAL_VERSION, 42);
	ck_assert_mem_eq(fh, "DYNFSJNL", 8);
	ck_assert_uint_eq(fh[8], JOURNAL_VERSION);
	ck_assert_uint_eq(fh[12], JOURNAL_HDR_SIZE);
	ck_assert_uint_eq(fh[16], 42);
}
END_TEST

/*
 * _i 0: the last record cut short (the file ends there); 1: in zeroes
 * written ahead, the rest of the record zero (the size stays): a write
 * into the room that a power loss cut.  Both are torn tails, and the
 * evidence set aside is the record's bytes without the zeroes after them.
 */
START_TEST(test_torn_tail_at_every_cut_and_flip_is_discarded)
{
	struct journal_info info;
	struct dyn_err err;
	struct seen s;
	uint64_t off[3];
	size_t len, end, cut, l2, i;
	char *orig, *now, *saved;

	make_three_ahead(off, _i ? 4096 : 0);
	orig = slurp(path, &len);
	end = len;
	if (_i) {
		while (end > 0 && !orig[end - 1])
			end--;
		ck_assert_uint_gt(len, end); /* the room is there */
	}
	for (cut = off[2] + 1; cut < end; cut++) {
		if (_i) {
			now = calloc(1, len);
			memcpy(now, orig, cut);
			spit(path, now, len);
			free(now);
		} else {
			spit(path, orig, cut);
		}
		memset(&s, 0, sizeof(s));
		err_clear(&err);
		ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
		ck_assert_msg(info.torn, "cut at %zu not seen as torn", cut);
		ck_assert_uint_eq(info.valid_end, off[2]);
		ck_assert_uint_le(info.data_end, cut);
		ck_assert_uint_gt(info.data_end, off[2]);
		ck_assert_uint_eq(info.last_lsn, 2);
		ck_assert_int_eq(s.n, 2);
		now = slurp(path, &l2);
		ck_assert_uint_eq(l2, _i ? len : cut);
		ck_assert_mem_eq(now, orig, cut);
		free(now);
		if (cut % 7 == 0) {
			/* the evidence: the record's bytes, not the zeroes after them */
			ck_assert_int_eq(journal_set_aside(dir, &info, &saved, &err), 0);
			now = slurp(saved, &l2);
			ck_assert_uint_eq(l2, info.data_end - off[2]);
			ck_assert_mem_eq(now, orig + off[2], l2);
			unlink(saved);
			free(saved);
			free(now);
		}
	}
	/* cut at the record boundary: no torn tail, the zeroes are room */
	if (_i) {
		now = calloc(1, len);
		memcpy(now, orig, off[2]);
		spit(path, now, len);
		free(now);
		ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), 0);
		ck_assert(!info.torn);
		ck_assert_uint_eq(info.valid_end, off[2]);
		ck_assert_uint_eq(info.data_end, off[2]);
		ck_assert_uint_eq(info.size, len);
		spit(path, orig, len);
	}
	/* a damaged byte anywhere in the last record is a torn tail too */
	for (i = off[2]; i < end; i++) {
		orig[i] ^= 0x40;
		spit(path, orig, len);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
		ck_assert_msg(info.torn, "flip at %zu not seen as torn", i);
		ck_assert_uint_eq(info.valid_end, off[2]);
		ck_assert_int_eq(s.n, 2);
		orig[i] ^= 0x40;
	}
	free(orig);
}
END_TEST

/*
 * Differential: the same records appended with and without zeroes
 * written ahead (random sizes, some over JOURNAL_AHEAD_REC, which grow
 * the file as without room) give the same bytes up to the end, zeroes
 * after it, and read back the same; a reopened journal goes on at the
 * end, not after the room.
 */
START_TEST(test_room_ahead_reads_as_the_file_without_it)
{
	static const uint64_t aheads[] = {0, 1, 4096, 65536};
	struct journal_info info;
	struct journal_stats st;
	struct dyn_err err;
	struct seen s;
	uint64_t end[4], lsn;
	size_t len[4], k, sz[40], i;
	char *file[4], *text;
	unsigned seed = 12;
	journal_t *j;
	uint8_t *rec;

	for (i = 0; i < 40; i++)
		sz[i] = rand_r(&seed) % 7 == 0
			    ? JOURNAL_AHEAD_REC + 1 + (size_t)rand_r(&seed) % 30000
			    : 1 + (size_t)rand_r(&seed) % 3000;
	sz[39] = 100; /* the last record small: it leaves room after it */
	rec = malloc(JOURNAL_REC_HDR + JOURNAL_AHEAD_REC + 30001);
	for (k = 0; k < 4; k++) {
		j = open_fresh(1);
		journal_set_ahead(j, aheads[k]);
		for (i = 0; i < 40; i++) {
			memset(rec + JOURNAL_REC_HDR, 'a' + (int)(i % 26), sz[i]);
			ck_assert_int_eq(journal_append(j, rec, sz[i], false, &lsn), 0);
			ck_assert_uint_eq(lsn, i + 1);
			if (i == 19) { /* close and reopen in the middle */
				journal_stats(j, &st);
				journal_close(j);
				free(slurp(path, &len[k])); /* a clean close: no zeroes after */
				ck_assert_uint_eq(len[k], st.bytes);
				err_clear(&err);
				ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), 0);
				ck_assert(!info.torn);
				ck_assert_int_eq(journal_open(dir, &info, &j, &err), 0);
				journal_set_ahead(j, aheads[k]);
			}
		}
		journal_stats(j, &st);
		end[k] = st.bytes;
		crash_close(j);
		file[k] = slurp(path, &len[k]);
		ck_assert_uint_eq(len[k], st.file_bytes);
		if (aheads[k] > 1)
			ck_assert_uint_gt(len[k], end[k]);
		err_clear(&err);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(journal_read(path, 38, collect, &s, &info, &err), 0);
		ck_assert(!info.torn);
		ck_assert_uint_eq(info.records, 40);
		ck_assert_uint_eq(info.valid_end, end[k]);
		ck_assert_uint_eq(info.data_end, end[k]);
		ck_assert_int_eq(s.n, 2);
		ck_assert_uint_eq(s.lsn[1], 40);
		unlink(path);
	}
	for (k = 1; k < 4; k++) {
		ck_assert_uint_eq(end[k], end[0]);
		ck_assert_mem_eq(file[k], file[0], end[0]);
		text = calloc(1, len[k] - end[k] + 1);
		ck_assert_mem_eq(file[k] + end[k], text, len[k] - end[k]);
		free(text);
	}
	for (k = 0; k < 4; k++)
		free(file[k]);
	free(rec);
}
END_TEST

/* Zeroes are room only at the end: a zeroed record before valid ones is
 * corruption, and bytes past the records that appear between the read
 * and the open are refused by the open. */
START_TEST(test_room_ahead_only_at_the_end)
{
	struct journal_info info;
	struct dyn_err err;
	uint64_t off[3];
	size_t len;
	char *orig;
	journal_t *j;

	make_three_ahead(off, 4096);
	orig = slurp(path, &len);
	memset(orig + off[1], 0, off[2] - off[1]);
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "followed by valid records"));
	free(orig);

	make_three_ahead(off, 4096);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), 0);
	ck_assert(!info.torn);
	orig = slurp(path, &len);
	orig[len - 1] = 'x';
	spit(path, orig, len);
	ck_assert_int_eq(journal_open(dir, &info, &j, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "changed while opening"));
	free(orig);
}
END_TEST

/* n records of about pad + 20 bytes (lsn 1..n) with 64 KiB of zeroes
 * written ahead; their offsets in off. */
static void make_records_padded(uint64_t *off, int n, int pad)
{
	char text[1100];
	journal_t *j;
	int i;

	unlink(path);
	j = open_fresh(1);
	journal_set_ahead(j, 65536);
	for (i = 0; i < n; i++) {
		journal_position(j, NULL, &off[i], NULL);
		snprintf(text, sizeof(text), "[\"record %d %0*d\"]\n", i, pad, i);
		append(j, text);
	}
	crash_close(j);
}

static void make_records(uint64_t *off, int n)
{
	make_records_padded(off, n, 150);
}

/* A power cut with zeroes written ahead: the disk kept a later sector of
 * unsynced records and lost the one where they began (it reads as the
 * zeroes written ahead).  Everything from the lost sector on is a torn
 * tail (unsynced), not corruption that refuses the store; zeroes that
 * end inside the sector, before a valid record, are still refused. */
START_TEST(test_lost_sector_before_records_is_a_torn_tail)
{
	struct journal_info info;
	struct dyn_err err;
	struct seen s = {0};
	uint64_t off[12], sector_end;
	size_t len;
	char *orig;
	int k = 3;

	make_records(off, 12);
	orig = slurp(path, &len);
	sector_end = (off[k] / 512 + 1) * 512;
	ck_assert_uint_lt(sector_end, off[11]); /* a valid record after the gap */
	memset(orig + off[k], 0, sector_end - off[k]);
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
	ck_assert(info.torn);
	ck_assert_uint_eq(info.records, (uint64_t)k);
	ck_assert_int_eq(s.n, k);
	ck_assert_uint_eq(info.valid_end, off[k]);
	ck_assert_uint_gt(info.data_end, off[11]);
	ck_assert_uint_gt(info.torn_valid, 0); /* counted for the warning */

	/* the zeroes end one byte short of the sector: refused, as before */
	orig[sector_end - 1] = 1;
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "followed by valid records"));
	free(orig);

	/* a record that began in a sector the disk got, its next sector lost */
	make_records(off, 12);
	orig = slurp(path, &len);
	for (k = 0; off[k + 1] <= sector_end; k++)
		; /* record k starts before sector_end and runs past it */
	ck_assert_uint_lt(sector_end + 512, off[11]);
	memset(orig + sector_end, 0, 512);
	spit(path, orig, len);
	s.n = 0;
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
	ck_assert(info.torn);
	ck_assert_uint_eq(info.records, (uint64_t)k);
	ck_assert_uint_eq(info.valid_end, off[k]);
	free(orig);

	/* record k's first 30 bytes written by the sync before (writeback
	 * copied the page while it changed), the rest of its sector lost,
	 * the next sector kept */
	make_records(off, 12);
	orig = slurp(path, &len);
	for (k = 1; (off[k] + 30) / 512 != off[k] / 512 || off[k + 1] <= (off[k] / 512 + 1) * 512 ||
		    (off[k] / 512 + 1) * 512 - off[k] < 30 + 32;
	     k++)
		ck_assert_int_lt(k, 10);
	sector_end = (off[k] / 512 + 1) * 512;
	memset(orig + off[k] + 30, 0, sector_end - off[k] - 30);
	spit(path, orig, len);
	s.n = 0;
	err_clear(&err);
	ck_assert_msg(journal_read(path, 0, collect, &s, &info, &err) == 0, "%s", err.msg);
	ck_assert(info.torn);
	ck_assert_uint_eq(info.records, (uint64_t)k);
	free(orig);
}
END_TEST

/* Zeroed sectors followed by more than one sync can leave unwritten
 * (JOURNAL_LOST_MAX): not a power cut's shape, so refused as corruption
 * (records that were synced must not be set aside for it). */
START_TEST(test_lost_sectors_beyond_one_sync_are_refused)
{
	static uint64_t off[2400];
	struct journal_info info;
	struct dyn_err err;
	size_t len;
	char *orig;

	make_records_padded(off, 2400, 1000); /* about 2.4 MB */
	orig = slurp(path, &len);
	ck_assert_uint_gt(off[2399] - off[3], JOURNAL_LOST_MAX);
	memset(orig + off[3], 0, 1024); /* record 3's sectors */
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "followed by valid records"));
	free(orig);
}
END_TEST

/* A power cut in the middle of a sync, as the disk may leave it with
 * zeroes written ahead: the records up to a synced point whole, each
 * 4 KiB page after it kept or lost (zeroes) at random, 200 times.  The
 * journal always reads (never refused), gives every synced record and
 * then a prefix of the rest, and reports a torn tail whenever a record
 * it does not give survived in part. */
START_TEST(test_random_page_loss_after_the_synced_end)
{
	struct journal_info info;
	struct dyn_err err;
	uint64_t off[60], synced, pg;
	size_t len;
	char *orig, *now;
	int round, i;

	make_records_padded(off, 60, 1000); /* 15 pages */
	orig = slurp(path, &len);
	srandom(12345);
	for (round = 0; round < 200; round++) {
		struct seen s = {0};
		int cut = 1 + (int)(random() % 50); /* records synced */

		synced = off[cut];
		now = malloc(len);
		memcpy(now, orig, len);
		for (pg = synced / 4096 * 4096; pg < len; pg += 4096)
			if (random() % 2) {
				uint64_t a = pg < synced ? synced : pg, b = pg + 4096 < len ? pg + 4096 : len;

				memset(now + a, 0, b - a);
			}
		spit(path, now, len);
		err_clear(&err);
		ck_assert_msg(journal_read(path, 0, collect, &s, &info, &err) == 0,
			      "round %d (synced %d records): %s", round, cut, err.msg);
		ck_assert_int_ge(s.n, cut);
		for (i = 0; i < s.n; i++)
			ck_assert_uint_eq(s.lsn[i], (uint64_t)i + 1);
		free(now);
	}
	free(orig);
}
END_TEST

START_TEST(test_mid_file_corruption_is_refused_untouched)
{
	struct journal_info info;
	struct dyn_err err;
	struct seen s = {0};
	uint64_t off[3];
	size_t len, l2, i;
	char *orig, *now;

	make_three(off);
	orig = slurp(path, &len);
	/* every byte of the first two records: damage is followed by valid records */
	for (i = off[0]; i < off[2]; i++) {
		orig[i] ^= 0x01;
		spit(path, orig, len);
		err_clear(&err);
		ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "refusing"));
		ck_assert_ptr_nonnull(strstr(err.msg, path));
		ck_assert_int_eq(s.n, 0); /* nothing handed out before validation */
		now = slurp(path, &l2);
		ck_assert_uint_eq(l2, len);
		ck_assert_mem_eq(now, orig, len);
		free(now);
		orig[i] ^= 0x01;
	}
	/* the message names the offset */
	orig[off[1] + JOURNAL_REC_HDR] ^= 0x01;
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	{
		char want[32];

		snprintf(want, sizeof(want), "offset %llu", (unsigned long long)off[1]);
		ck_assert_msg(strstr(err.msg, want), "message lacks offset: %s", err.msg);
	}
	free(orig);
}
END_TEST

START_TEST(test_header_checks_version_magic_crc)
{
	struct journal_info info;
	struct dyn_err err;
	uint8_t fh[JOURNAL_HDR_SIZE];
	uint64_t off[3];
	size_t len;
	char *orig;

	make_three(off);
	orig = slurp(path, &len);
	/* a newer version: EPROTO, even though the header CRC covers it */
	journal_file_header(fh, JOURNAL_VERSION + 1, 1);
	memcpy(orig, fh, sizeof(fh));
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
	/* damaged header */
	journal_file_header(fh, JOURNAL_VERSION, 1);
	fh[20] ^= 1;
	memcpy(orig, fh, sizeof(fh));
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	/* not a journal */
	memcpy(orig, "{\"dynfs\"", 8);
	spit(path, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a dynfs journal"));
	/* too short for a header */
	spit(path, orig, 10);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	/* missing */
	unlink(path);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -ENOENT);
	free(orig);
}
END_TEST

START_TEST(test_sequence_gap_is_refused)
{
	struct journal_info info;
	struct dyn_err err;
	uint8_t fh[JOURNAL_HDR_SIZE], rh[JOURNAL_REC_HDR];
	static const uint64_t lsns[] = {5, 6, 8};
	FILE *fp;
	size_t i;

	journal_file_header(fh, JOURNAL_VERSION, 5);
	fp = fopen(path, "wb");
	fwrite(fh, 1, sizeof(fh), fp);
	for (i = 0; i < 3; i++) {
		journal_frame(rh, lsns[i], "[]\n", 3);
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite("[]\n", 1, 3, fp);
	}
	fclose(fp);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "sequence gap"));
	ck_assert_ptr_nonnull(strstr(err.msg, "lsn 8, expected 7"));
	/* first record must be start_lsn */
	journal_file_header(fh, JOURNAL_VERSION, 4);
	fp = fopen(path, "r+b");
	fwrite(fh, 1, sizeof(fh), fp);
	fclose(fp);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "expected 4"));
}
END_TEST

/* _i 1: with zeroes written ahead (which the size limit cuts short too) */
START_TEST(test_failed_append_leaves_no_partial_record)
{
	struct journal_info info;
	struct dyn_err err;
	struct rlimit old, lim;
	struct seen s = {0};
	journal_t *j = open_fresh(1);
	uint64_t end, lsn, end2;
	uint8_t rec[JOURNAL_REC_HDR + 200];
	struct stat sb;

	append(j, "[\"first\"]\n");
	journal_set_ahead(j, _i ? 65536 : 0);
	journal_position(j, NULL, &end, NULL);
	/* the file may grow only 30 bytes: the next record is cut off */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = end + 30;
	setrlimit(RLIMIT_FSIZE, &lim);
	memset(rec + JOURNAL_REC_HDR, 'x', 200);
	/* the write's own errno (here EFBIG from the size limit) is reported */
	ck_assert_int_eq(journal_append(j, rec, 200, false, &lsn), -EFBIG);
	setrlimit(RLIMIT_FSIZE, &old);
	journal_position(j, &lsn, &end2, NULL);
	ck_assert_uint_eq(end2, end);
	ck_assert_uint_eq(lsn, 1);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_size, end); /* the room went with the record */
	/* the journal goes on with the next lsn */
	ck_assert_uint_eq(append(j, "[\"second\"]\n"), 2);
	journal_close(j);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
	ck_assert(!info.torn);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.text[1], "[\"second\"]\n");
}
END_TEST

START_TEST(test_oversized_payload_rejected)
{
	journal_t *j = open_fresh(1);
	uint64_t lsn;
	uint8_t rec[JOURNAL_REC_HDR];

	ck_assert_int_eq(journal_append(j, rec, (size_t)JOURNAL_MAX_PAYLOAD + 1, false, &lsn),
			 -EFBIG);
	journal_close(j);
}
END_TEST

#define GC_THREADS 8
#define GC_EACH 40

static void *gc_writer(void *arg)
{
	journal_t *j = arg;
	uint8_t rec[JOURNAL_REC_HDR + 16];
	uint64_t lsn;
	int i;

	memcpy(rec + JOURNAL_REC_HDR, "[\"group commit\"]", 16);
	for (i = 0; i < GC_EACH; i++) {
		ck_assert_int_eq(journal_append(j, rec, 16, false, &lsn), 0);
		ck_assert_int_eq(journal_sync(j, lsn), 0);
	}
	return NULL;
}

START_TEST(test_group_commit_shares_fsyncs)
{
	struct journal_stats st;
	struct journal_info info;
	struct dyn_err err;
	pthread_t th[GC_THREADS];
	journal_t *j = open_fresh(1);
	int i;

	journal_set_sync_delay(j, 1000); /* a 1 ms disk, even on tmpfs */
	for (i = 0; i < GC_THREADS; i++)
		pthread_create(&th[i], NULL, gc_writer, j);
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.appends, GC_THREADS * GC_EACH);
	ck_assert_uint_eq(st.synced_lsn, GC_THREADS * GC_EACH);
	ck_assert_msg(st.syncs < st.appends, "%llu syncs for %llu appends",
		      (unsigned long long)st.syncs, (unsigned long long)st.appends);
	journal_close(j);
	err_clear(&err);
	ck_assert_int_eq(journal_read(path, 0, NULL, NULL, &info, &err), 0);
	ck_assert_uint_eq(info.records, GC_THREADS * GC_EACH);
}
END_TEST

START_TEST(test_rotate_keeps_only_later_records)
{
	struct journal_info info;
	struct journal_stats st;
	struct dyn_err err;
	struct seen s = {0};
	journal_t *j = open_fresh(1);
	uint64_t off = 0, lsn;
	char text[32];
	int i;

	journal_set_ahead(j, _i ? 4096 : 0);
	for (i = 1; i <= 10; i++) {
		if (i == 7)
			journal_position(j, &lsn, &off, NULL);
		snprintf(text, sizeof(text), "[%d]\n", i);
		append(j, text);
	}
	err_clear(&err);
	ck_assert_int_eq(journal_rotate(j, 6, off, &err), 0);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.synced_lsn, 10);
	ck_assert_uint_eq(st.file_bytes, st.bytes); /* the new file has no room yet */
	ck_assert_uint_eq(append(j, "[11]\n"), 11);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.file_bytes > st.bytes, _i);
	journal_close(j);
	ck_assert_int_eq(journal_read(path, 0, collect, &s, &info, &err), 0);
	ck_assert_uint_eq(info.start_lsn, 7);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.text[0], "[7]\n");
	ck_assert_str_eq(s.text[4], "[11]\n");
	ck_assert_int_eq(access(dir, F_OK), 0);
	{
		char np[160];

		snprintf(np, sizeof(np), "%s/%s", dir, JOURNAL_NEW_NAME);
		ck_assert_int_ne(access(np, F_OK), 0);
	}
}
END_TEST

Suite *journal_suite(void);
Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc;

	tc = tcase_create("crc32c");
	tcase_add_test(tc, test_crc32c_known_vectors);
	tcase_add_test(tc, test_crc32c_hw_and_sw_agree);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal_append");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_then_read_in_order);
	tcase_add_test(tc, test_frame_layout_is_documented_one);
	tcase_add_loop_test(tc, test_failed_append_leaves_no_partial_record, 0, 2);
	tcase_add_test(tc, test_oversized_payload_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal_read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_torn_tail_at_every_cut_and_flip_is_discarded, 0, 2);
	tcase_add_test(tc, test_mid_file_corruption_is_refused_untouched);
	tcase_add_test(tc, test_room_ahead_reads_as_the_file_without_it);
	tcase_add_test(tc, test_room_ahead_only_at_the_end);
	tcase_add_test(tc, test_lost_sector_before_records_is_a_torn_tail);
	tcase_add_test(tc, test_random_page_loss_after_the_synced_end);
	tcase_add_test(tc, test_lost_sectors_beyond_one_sync_are_refused);
	tcase_add_test(tc, test_header_checks_version_magic_crc);
	tcase_add_test(tc, test_sequence_gap_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal_sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_group_commit_shares_fsyncs);
	tcase_add_loop_test(tc, test_rotate_keeps_only_later_records, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
