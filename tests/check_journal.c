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
#include "fix_journal.h"
#include "crc32c.h"
#include "journal.h"

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
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
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
	ck_assert_int_eq(journal_read(jpath, 2, jcollect, &s, &info, &err), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(s.lsn[0], 3);
}
END_TEST

START_TEST(test_frame_layout_is_documented_one)
{
	uint8_t hdr[JOURNAL_REC_HDR], h1[JOURNAL_REC_HDR_V1], fh[JOURNAL_HDR_SIZE];
	uint32_t c;

	journal_frame_synced(hdr, 0x0102030405060708ull, 0x1112131415161718ull, "abc", 3);
	ck_assert_mem_eq(hdr, "JREC", 4);
	ck_assert_uint_eq(hdr[4], 3);
	ck_assert_uint_eq(hdr[5] | hdr[6] | hdr[7], 0);
	ck_assert_uint_eq(hdr[8], 0x08);
	ck_assert_uint_eq(hdr[15], 0x01);
	ck_assert_uint_eq(hdr[16], 0x18); /* the synced lsn */
	ck_assert_uint_eq(hdr[23], 0x11);
	/* CRC-32C of payload then header bytes 0..23, little-endian */
	c = crc32c(crc32c(0, "abc", 3), hdr, 24);
	ck_assert_uint_eq(hdr[24] | hdr[25] << 8 | hdr[26] << 16 | (uint32_t)hdr[27] << 24, c);
	/* version 1: no synced lsn, CRC of payload then bytes 0..15 */
	journal_frame_v1(h1, 0x0102030405060708ull, "abc", 3);
	ck_assert_mem_eq(h1, hdr, 16);
	c = crc32c(crc32c(0, "abc", 3), h1, 16);
	ck_assert_uint_eq(h1[16] | h1[17] << 8 | h1[18] << 16 | (uint32_t)h1[19] << 24, c);
	journal_file_header(fh, JOURNAL_VERSION, 42);
	ck_assert_mem_eq(fh, "DYNFSJNL", 8);
	ck_assert_uint_eq(fh[8], 2);
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
	orig = slurp(jpath, &len);
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
			spit(jpath, now, len);
			free(now);
		} else {
			spit(jpath, orig, cut);
		}
		memset(&s, 0, sizeof(s));
		err_clear(&err);
		ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
		ck_assert_msg(info.torn, "cut at %zu not seen as torn", cut);
		ck_assert_uint_eq(info.valid_end, off[2]);
		ck_assert_uint_le(info.data_end, cut);
		ck_assert_uint_gt(info.data_end, off[2]);
		ck_assert_uint_eq(info.last_lsn, 2);
		ck_assert_int_eq(s.n, 2);
		now = slurp(jpath, &l2);
		ck_assert_uint_eq(l2, _i ? len : cut);
		ck_assert_mem_eq(now, orig, cut);
		free(now);
		if (cut % 7 == 0) {
			/* the evidence: the record's bytes, not the zeroes after them */
			ck_assert_int_eq(journal_set_aside(jdir, &info, &saved, &err), 0);
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
		spit(jpath, now, len);
		free(now);
		ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
		ck_assert(!info.torn);
		ck_assert_uint_eq(info.valid_end, off[2]);
		ck_assert_uint_eq(info.data_end, off[2]);
		ck_assert_uint_eq(info.size, len);
		spit(jpath, orig, len);
	}
	/* a damaged byte anywhere in the last record is a torn tail too */
	for (i = off[2]; i < end; i++) {
		orig[i] ^= 0x40;
		spit(jpath, orig, len);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
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
				free(slurp(jpath, &len[k])); /* a clean close: no zeroes after */
				ck_assert_uint_eq(len[k], st.bytes);
				err_clear(&err);
				ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
				ck_assert(!info.torn);
				ck_assert_int_eq(journal_open(jdir, &info, &j, &err), 0);
				journal_set_ahead(j, aheads[k]);
			}
		}
		journal_stats(j, &st);
		end[k] = st.bytes;
		crash_close(j);
		file[k] = slurp(jpath, &len[k]);
		ck_assert_uint_eq(len[k], st.file_bytes);
		if (aheads[k] > 1)
			ck_assert_uint_gt(len[k], end[k]);
		err_clear(&err);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(journal_read(jpath, 38, jcollect, &s, &info, &err), 0);
		ck_assert(!info.torn);
		ck_assert_uint_eq(info.records, 40);
		ck_assert_uint_eq(info.valid_end, end[k]);
		ck_assert_uint_eq(info.data_end, end[k]);
		ck_assert_int_eq(s.n, 2);
		ck_assert_uint_eq(s.lsn[1], 40);
		unlink(jpath);
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

START_TEST(test_mid_file_corruption_is_refused_untouched)
{
	struct journal_info info;
	struct dyn_err err;
	struct seen s = {0};
	uint64_t off[3];
	size_t len, l2, i;
	char *orig, *now;

	make_three(off);
	orig = slurp(jpath, &len);
	/* every byte of the first two records: damage is followed by valid records */
	for (i = off[0]; i < off[2]; i++) {
		orig[i] ^= 0x01;
		spit(jpath, orig, len);
		err_clear(&err);
		ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "refusing"));
		ck_assert_ptr_nonnull(strstr(err.msg, jpath));
		ck_assert_int_eq(s.n, 0); /* nothing handed out before validation */
		now = slurp(jpath, &l2);
		ck_assert_uint_eq(l2, len);
		ck_assert_mem_eq(now, orig, len);
		free(now);
		orig[i] ^= 0x01;
	}
	/* the message names the offset */
	orig[off[1] + JOURNAL_REC_HDR] ^= 0x01;
	spit(jpath, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
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
	orig = slurp(jpath, &len);
	/* a newer version: EPROTO, even though the header CRC covers it */
	journal_file_header(fh, JOURNAL_VERSION + 1, 1);
	memcpy(orig, fh, sizeof(fh));
	spit(jpath, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
	/* damaged header */
	journal_file_header(fh, JOURNAL_VERSION, 1);
	fh[20] ^= 1;
	memcpy(orig, fh, sizeof(fh));
	spit(jpath, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	/* not a journal */
	memcpy(orig, "{\"dynfs\"", 8);
	spit(jpath, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a dynfs journal"));
	/* too short for a header */
	spit(jpath, orig, 10);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	/* missing */
	unlink(jpath);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -ENOENT);
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
	fp = fopen(jpath, "wb");
	fwrite(fh, 1, sizeof(fh), fp);
	for (i = 0; i < 3; i++) {
		journal_frame(rh, lsns[i], "[]\n", 3);
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite("[]\n", 1, 3, fp);
	}
	fclose(fp);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "sequence gap"));
	ck_assert_ptr_nonnull(strstr(err.msg, "lsn 8, expected 7"));
	/* first record must be start_lsn */
	journal_file_header(fh, JOURNAL_VERSION, 4);
	fp = fopen(jpath, "r+b");
	fwrite(fh, 1, sizeof(fh), fp);
	fclose(fp);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
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
	ck_assert_int_eq(stat(jpath, &sb), 0);
	ck_assert_uint_eq(sb.st_size, end); /* the room went with the record */
	/* the journal goes on with the next lsn */
	ck_assert_uint_eq(append(j, "[\"second\"]\n"), 2);
	journal_close(j);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
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
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
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
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
	ck_assert_uint_eq(info.start_lsn, 7);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.text[0], "[7]\n");
	ck_assert_str_eq(s.text[4], "[11]\n");
	ck_assert_int_eq(access(jdir, F_OK), 0);
	{
		char np[160];

		snprintf(np, sizeof(np), "%s/%s", jdir, JOURNAL_NEW_NAME);
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
	tcase_add_checked_fixture(tc, fixj_setup, fixj_teardown);
	tcase_add_test(tc, test_append_then_read_in_order);
	tcase_add_test(tc, test_frame_layout_is_documented_one);
	tcase_add_loop_test(tc, test_failed_append_leaves_no_partial_record, 0, 2);
	tcase_add_test(tc, test_oversized_payload_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal_read");
	tcase_add_checked_fixture(tc, fixj_setup, fixj_teardown);
	tcase_add_loop_test(tc, test_torn_tail_at_every_cut_and_flip_is_discarded, 0, 2);
	tcase_add_test(tc, test_mid_file_corruption_is_refused_untouched);
	tcase_add_test(tc, test_room_ahead_reads_as_the_file_without_it);
	tcase_add_test(tc, test_header_checks_version_magic_crc);
	tcase_add_test(tc, test_sequence_gap_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal_sync");
	tcase_add_checked_fixture(tc, fixj_setup, fixj_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_group_commit_shares_fsyncs);
	tcase_add_loop_test(tc, test_rotate_keeps_only_later_records, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
