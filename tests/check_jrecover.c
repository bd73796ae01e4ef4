/*
 * check_jrecover.c - journal recovery after damage (journal_read.c): the
 * shapes a power cut leaves open as torn tails with every synced record,
 * damage a later record's synced lsn covers is refused, version 1
 * journals read and append as before until a rotation, and a hostile
 * file is read in linear time.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fix_file.h"
#include "fix_journal.h"
#include "fix_store.h"
#include "db.h"
#include "item.h"
#include "store.h"

static uint32_t le32(const char *p)
{
	const uint8_t *u = (const uint8_t *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Read jpath; it must open as a torn tail whose first bad record is the
 * one holding byte z (of records at off[0..n)), with every record before
 * it handed out and the valid records after it counted. */
static void expect_torn_at(uint64_t z, const uint64_t *off, int n, uint64_t valid_after)
{
	struct journal_info info;
	struct dyn_err err;
	uint64_t k = 0;

	while ((int)k + 1 < n && off[k + 1] <= z)
		k++;
	err_clear(&err);
	ck_assert_msg(journal_read(jpath, 0, NULL, NULL, &info, &err) == 0, "damage at %llu: %s",
		      (unsigned long long)z, err.msg);
	ck_assert_msg(info.torn, "damage at %llu not torn", (unsigned long long)z);
	ck_assert_uint_eq(info.records, k);
	ck_assert_uint_eq(info.valid_end, off[k]);
	if (valid_after != (uint64_t)-1)
		ck_assert_uint_eq(info.torn_valid, valid_after);
}

/* Zeroes are the end only at the end: zeroes over a record followed by
 * valid records are a torn tail when no later record says it was synced,
 * corruption when one does; bytes past the records that appear between
 * the read and the open are refused by the open. */
START_TEST(test_zeroed_record_before_records)
{
	struct journal_info info;
	struct dyn_err err;
	uint64_t off[3];
	size_t len;
	char *orig;
	journal_t *j;

	make_three_ahead(off, 4096); /* each synced before the next */
	orig = slurp(jpath, &len);
	memset(orig + off[1], 0, off[2] - off[1]);
	spit(jpath, orig, len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "every record up to lsn 2 had been synced"), "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "refusing"));
	free(orig);

	make_records_synced(off, 3, 10, 0); /* none synced */
	orig = slurp(jpath, &len);
	memset(orig + off[1], 0, off[2] - off[1]);
	spit(jpath, orig, len);
	expect_torn_at(off[1], off, 3, 1);
	free(orig);

	make_three_ahead(off, 4096);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert(!info.torn);
	orig = slurp(jpath, &len);
	orig[len - 1] = 'x';
	spit(jpath, orig, len);
	ck_assert_int_eq(journal_open(jdir, &info, &j, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "changed while opening"));
	free(orig);
}
END_TEST

/*
 * What a power cut leaves in records written in place over zeroes
 * written ahead, after the synced ones (lsn 1..4): a sector lost from a
 * record on (zeroes to the sector's end, or ending one byte short of it),
 * a sector whose last 20 bytes were never written, 200 zero bytes in the
 * middle of a sector, the sector after a record's first one lost.  Each
 * opens as a torn tail from the damaged record, with the valid records
 * after it counted (version 1 refused them all).
 */
START_TEST(test_power_cut_shapes_are_torn_tails)
{
	uint64_t off[40], s0, z;
	size_t len;
	char *orig, *now;
	int shape;

	make_records_synced(off, 40, 150, 4);
	orig = slurp(jpath, &len);
	s0 = (off[6] / 512 + 1) * 512; /* a sector boundary inside record 6 */
	ck_assert_uint_lt(s0 + 1024, off[39]);
	for (shape = 0; shape < 5; shape++) {
		now = malloc(len);
		memcpy(now, orig, len);
		switch (shape) {
		case 0: /* record 7 to the end of its sector */
			z = off[7];
			memset(now + z, 0, (z / 512 + 1) * 512 - z);
			break;
		case 1: /* the same, one byte short */
			z = off[7];
			memset(now + z, 0, (z / 512 + 1) * 512 - z - 1);
			break;
		case 2: /* a torn sector: its last 20 bytes never written */
			z = s0 - 20;
			memset(now + z, 0, 20);
			break;
		case 3: /* 200 zero bytes in the middle of a sector */
			z = s0 + 100;
			memset(now + z, 0, 200);
			break;
		default: /* record 6's second sector lost */
			z = s0;
			memset(now + z, 0, 512);
			break;
		}
		spit(jpath, now, len);
		expect_torn_at(z, off, 40, (uint64_t)-1);
		free(now);
	}
	free(orig);
}
END_TEST

/* Small records in place, then a 3 MB record that grows the file, its
 * payload ending in zeroes: a lost sector among the unsynced small ones
 * is a torn tail holding the big record whole (counted, and set aside to
 * its last byte). */
START_TEST(test_lost_sector_before_a_kept_large_record)
{
	struct journal_info info;
	struct dyn_err err;
	const size_t big = 3u << 20;
	uint64_t off[21], lsn;
	char text[200], *orig, *saved;
	size_t len, l2;
	uint8_t *rec;
	journal_t *j;
	int i;

	j = open_fresh(1);
	journal_set_ahead(j, JOURNAL_AHEAD);
	for (i = 0; i < 20; i++) {
		journal_position(j, NULL, &off[i], NULL);
		snprintf(text, sizeof(text), "[\"small %d %0150d\"]\n", i, i);
		lsn = append(j, text);
		if (i < 10)
			ck_assert_int_eq(journal_sync(j, lsn), 0);
	}
	journal_position(j, NULL, &off[20], NULL);
	rec = calloc(1, JOURNAL_REC_HDR + big);
	memset(rec + JOURNAL_REC_HDR, 'x', big - 100); /* then 100 zero bytes */
	ck_assert_int_eq(journal_append(j, rec, big, false, &lsn), 0);
	free(rec);
	crash_close(j);
	orig = slurp(jpath, &len);
	ck_assert_uint_eq(len, off[20] + JOURNAL_REC_HDR + big); /* it grew the file */
	memset(orig + off[12], 0, 512);
	spit(jpath, orig, len);
	for (i = 13, lsn = 1; i < 20; i++)
		lsn += off[i] >= off[12] + 512; /* the small ones after the sector, the big one */
	expect_torn_at(off[12], off, 21, lsn);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert_uint_eq(info.data_end, len); /* the big record whole */
	ck_assert_int_eq(journal_set_aside(jdir, &info, &saved, &err), 0);
	free(slurp(saved, &l2));
	ck_assert_uint_eq(l2, len - off[12]);
	free(saved);
	free(orig);
}
END_TEST

/* DYNFS_JOURNAL_AHEAD=8 MiB: 50 synced records, then 2.6 MB of unsynced
 * ones in place; a sector lost early among them.  More than one sync's
 * worth after the damage: still a torn tail, every synced record kept. */
START_TEST(test_ahead_8mib_with_2_6mb_unsynced)
{
	static uint64_t off[310];
	static char text[10100];
	struct journal_info info;
	struct dyn_err err;
	uint64_t lsn;
	size_t len;
	char *orig;
	journal_t *j;
	int i;

	j = open_fresh(1);
	journal_set_ahead(j, 8u << 20);
	for (i = 0; i < 310; i++) {
		journal_position(j, NULL, &off[i], NULL);
		snprintf(text, sizeof(text), "[\"record %d %010000d\"]\n", i, i);
		lsn = append(j, text);
		if (i < 50)
			ck_assert_int_eq(journal_sync(j, lsn), 0);
	}
	crash_close(j);
	orig = slurp(jpath, &len);
	ck_assert_uint_ge(len, 8u << 20);
	ck_assert_uint_gt(off[309] - off[50], 2600000);
	memset(orig + off[52] + 700, 0, 512);
	spit(jpath, orig, len);
	expect_torn_at(off[52] + 700, off, 310, 257);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert_uint_ge(info.records, 50);
	free(orig);
}
END_TEST

/* Every record up to lsn `cut` synced one by one (each says the one
 * before it was synced), those after it written with cut synced: the
 * synced lsns a real run leaves, set into the headers of buf. */
static void set_synced(char *buf, const uint64_t *off, int n, uint64_t cut)
{
	uint32_t len;
	int i;

	for (i = 0; i < n; i++) {
		len = le32(buf + off[i] + 4);
		journal_frame_synced((uint8_t *)buf + off[i], (uint64_t)i + 1,
				     (uint64_t)i < cut ? (uint64_t)i : cut,
				     buf + off[i] + JOURNAL_REC_HDR, len);
	}
}

/* A power cut in the middle of a sync, as the disk may leave it with
 * zeroes written ahead: the records up to a synced point whole, each
 * 4 KiB page after it kept or lost (zeroes) at random, 200 times.  The
 * journal always reads (never refused) and gives every synced record,
 * then a prefix of the rest. */
START_TEST(test_random_page_loss_after_the_synced_end)
{
	struct journal_info info;
	struct dyn_err err;
	uint64_t off[60], synced, pg;
	size_t len;
	char *orig, *now;
	int round, i;

	make_records_synced(off, 60, 1000, 0); /* 15 pages */
	orig = slurp(jpath, &len);
	srandom(12345);
	for (round = 0; round < 200; round++) {
		struct seen s = {0};
		int cut = 1 + (int)(random() % 50); /* records synced */

		synced = off[cut];
		now = malloc(len);
		memcpy(now, orig, len);
		set_synced(now, off, 60, (uint64_t)cut);
		for (pg = synced / 4096 * 4096; pg < len; pg += 4096)
			if (random() % 2) {
				uint64_t a = pg < synced ? synced : pg, b = pg + 4096 < len ? pg + 4096 : len;

				memset(now + a, 0, b - a);
			}
		spit(jpath, now, len);
		err_clear(&err);
		ck_assert_msg(journal_read(jpath, 0, jcollect, &s, &info, &err) == 0,
			      "round %d (synced %d records): %s", round, cut, err.msg);
		ck_assert_int_ge(s.n, cut);
		for (i = 0; i < s.n; i++)
			ck_assert_uint_eq(s.lsn[i], (uint64_t)i + 1);
		free(now);
	}
	free(orig);
}
END_TEST

/*
 * The proof: record 2 damaged, record 3 says synced 2 (it was written
 * after lsn 2 was synced): refused.  Saying synced 1: a torn tail.  And
 * in a real journal synced record by record, damage to any record but
 * the last is refused.
 */
START_TEST(test_damage_a_later_synced_lsn_covers_is_refused)
{
	struct journal_info info;
	struct dyn_err err;
	uint8_t fh[JOURNAL_HDR_SIZE], rh[JOURNAL_REC_HDR];
	uint64_t off[12], covers;
	size_t len;
	char *orig;
	FILE *fp;
	int k;

	for (covers = 1; covers <= 2; covers++) {
		journal_file_header(fh, JOURNAL_VERSION, 1);
		fp = fopen(jpath, "wb");
		fwrite(fh, 1, sizeof(fh), fp);
		journal_frame_synced(rh, 1, 0, "[1]\n", 4);
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite("[1]\n", 1, 4, fp);
		journal_frame_synced(rh, 2, 1, "[2]\n", 4);
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite("[X]\n", 1, 4, fp); /* damaged */
		journal_frame_synced(rh, 3, covers, "[3]\n", 4);
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite("[3]\n", 1, 4, fp);
		fclose(fp);
		err_clear(&err);
		if (covers == 2) {
			ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
			ck_assert_msg(strstr(err.msg, "offset 64") && strstr(err.msg, "lsn 2 expected"),
				      "%s", err.msg);
		} else {
			ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
			ck_assert(info.torn);
			ck_assert_uint_eq(info.torn_valid, 1);
		}
	}
	make_records_synced(off, 12, 150, 12);
	orig = slurp(jpath, &len);
	for (k = 0; k < 11; k++) {
		orig[off[k] + 40] ^= 0x04;
		spit(jpath, orig, len);
		err_clear(&err);
		ck_assert_msg(journal_read(jpath, 0, NULL, NULL, &info, &err) == -EINVAL,
			      "damaged synced record %d read", k);
		orig[off[k] + 40] ^= 0x04;
	}
	free(orig);
}
END_TEST

/* Write a version 1 journal by hand: records "[1]".."[n]" (lsn 1..n),
 * then zeroes zeroes; offsets in off. */
static void make_v1(uint64_t *off, int n, size_t zeroes)
{
	uint8_t fh[JOURNAL_HDR_SIZE], rh[JOURNAL_REC_HDR_V1];
	char text[16];
	uint64_t at = JOURNAL_HDR_SIZE;
	FILE *fp;
	int i;

	journal_file_header(fh, JOURNAL_VERSION_1, 1);
	fp = fopen(jpath, "wb");
	fwrite(fh, 1, sizeof(fh), fp);
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "[%d]\n", i + 1);
		journal_frame_v1(rh, (uint64_t)i + 1, text, strlen(text));
		fwrite(rh, 1, sizeof(rh), fp);
		fwrite(text, 1, strlen(text), fp);
		off[i] = at;
		at += sizeof(rh) + strlen(text);
	}
	for (; zeroes; zeroes--)
		fputc(0, fp);
	fclose(fp);
}

/*
 * Version 1: read as before (zeroes after the records are the end, a bad
 * last record a torn tail, a bad record before valid ones refused, none
 * synced); appended to in version 1 without zeroes written ahead; a
 * rotation writes version 2.
 */
START_TEST(test_version_1_journal)
{
	struct journal_info info;
	struct journal_stats st;
	struct dyn_err err;
	struct seen s = {0};
	uint64_t off[4], end, lsn;
	size_t len;
	char *orig;
	journal_t *j;

	make_v1(off, 3, 4096);
	orig = slurp(jpath, &len);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
	ck_assert_uint_eq(info.version, 1);
	ck_assert(!info.torn);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.text[2], "[3]\n");
	orig[off[1] + JOURNAL_REC_HDR_V1] ^= 1; /* record 2 */
	spit(jpath, orig, len);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "followed by valid records"));
	orig[off[1] + JOURNAL_REC_HDR_V1] ^= 1;
	orig[off[2] + JOURNAL_REC_HDR_V1] ^= 1; /* record 3, the last */
	spit(jpath, orig, len);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert(info.torn);
	ck_assert_uint_eq(info.valid_end, off[2]);
	free(orig);

	/* appends: version 1 records, no zeroes written ahead */
	make_v1(off, 3, 0);
	err_clear(&err);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert_int_eq(journal_open(jdir, &info, &j, &err), 0);
	journal_set_ahead(j, 65536);
	journal_position(j, NULL, &end, NULL);
	ck_assert_int_eq(journal_sync(j, append(j, "[4]\n")), 0);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.bytes, end + JOURNAL_REC_HDR_V1 + 4);
	ck_assert_uint_eq(st.file_bytes, st.bytes);
	crash_close(j);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
	ck_assert_uint_eq(info.version, 1);
	ck_assert_int_eq(s.n, 4);
	ck_assert_str_eq(s.text[3], "[4]\n");

	/* a rotation writes version 2, the records kept converted */
	ck_assert_int_eq(journal_open(jdir, &info, &j, &err), 0);
	journal_set_ahead(j, 65536);
	ck_assert_int_eq(journal_rotate(j, 1, off[1], &err), 0);
	lsn = append(j, "[5]\n");
	ck_assert_uint_eq(lsn, 5);
	journal_stats(j, &st);
	ck_assert_uint_gt(st.file_bytes, st.bytes); /* zeroes written ahead again */
	crash_close(j);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_read(jpath, 0, jcollect, &s, &info, &err), 0);
	ck_assert_uint_eq(info.version, JOURNAL_VERSION);
	ck_assert(!info.torn);
	ck_assert_int_eq(s.n, 4);
	ck_assert_uint_eq(s.lsn[0], 2);
	ck_assert_str_eq(s.text[0], "[2]\n");
	ck_assert_str_eq(s.text[3], "[5]\n");
	ck_assert_uint_eq(s.off[1], s.off[0] + JOURNAL_REC_HDR + 4);
}
END_TEST

/* The store's view of jdir: open (fsync=always), put or look up users. */
static store_t *store_at(db_t **db)
{
	struct store_opts o = {STORE_FSYNC_ALWAYS, false, true};
	struct dyn_err err;
	store_t *st;

	err_clear(&err);
	ck_assert_msg(store_open(jdir, &o, &st, db, &err) == 0, "store_open: %s", err.msg);
	return st;
}

static void put_user(db_t *db, const char *name)
{
	char json[96];
	struct dyn_err err;
	struct val item;
	table_t *t;

	snprintf(json, sizeof(json), "{\"username\": \"%s\"}", name);
	err_clear(&err);
	ck_assert_int_eq(db_table_open(db, "users", &t), 0);
	ck_assert_msg(item_parse(json, strlen(json), &item, &err) == 0, "parse: %s", err.msg);
	ck_assert_msg(tbl_put(t, &item, 0, &err) == 0, "put: %s", err.msg);
	val_free(&item);
	tbl_close(t);
}

static bool has_user(db_t *db, const char *name)
{
	struct val key;
	table_t *t;
	int rc;

	ck_assert_int_eq(db_table_open(db, "users", &t), 0);
	ck_assert_int_eq(val_init_str(&key, name, strlen(name)), 0);
	rc = tbl_get(t, &key, NULL, NULL, NULL);
	val_free(&key);
	tbl_close(t);
	return rc == 0;
}

/*
 * A store from before version 2 whose version 1 journal ends before its
 * snapshot (a power cut with fsync=batch could leave that): the store
 * replaces it with a fresh journal, which is version 2, and the records
 * appended to it must be version 2 too (review: they were appended in
 * version 1, the format the old file had, and the next open after a
 * crash set every one of them aside as damaged).
 */
START_TEST(test_store_replacing_an_old_version_1_journal)
{
	struct journal_info info;
	uint8_t fh[JOURNAL_HDR_SIZE];
	struct dyn_err err;
	store_t *st;
	db_t *db;
	FILE *fp;

	st = store_at(&db);
	create_table(db, "users", "username", NULL);
	put_user(db, "hedy");
	err_clear(&err);
	ck_assert_msg(store_close(st, &err) == 0, "store_close: %s", err.msg);
	/* a version 1 journal without records, older than the snapshot */
	journal_file_header(fh, JOURNAL_VERSION_1, 1);
	fp = fopen(jpath, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(fh, 1, sizeof(fh), fp), sizeof(fh));
	ck_assert_int_eq(fclose(fp), 0);

	st = store_at(&db);
	put_user(db, "ada");
	store_abandon(st); /* a crash: the next open replays the journal */
	err_clear(&err);
	ck_assert_msg(journal_read(jpath, 0, NULL, NULL, &info, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(info.version, JOURNAL_VERSION);
	ck_assert(!info.torn);
	st = store_at(&db);
	ck_assert(has_user(db, "hedy"));
	ck_assert(has_user(db, "ada"));
	err_clear(&err);
	ck_assert_msg(store_close(st, &err) == 0, "store_close: %s", err.msg);
}
END_TEST

/*
 * A hostile file: after one record, a "JREC" every 32 bytes to the end of
 * 1 MiB, each claiming the rest of the file.  _i 0: lsns that cannot be
 * there (checked before any checksum): a torn tail.  _i 1: plausible lsns,
 * bad checksums: refused once the bytes checksummed for them pass the
 * bytes after the damage.  Either way the bytes checksummed stay within
 * a small multiple of the file (without the checks: about 16 GB).
 */
START_TEST(test_hostile_candidates_are_read_in_linear_time)
{
	const size_t size = 1u << 20;
	struct journal_info info;
	struct dyn_err err;
	uint8_t *buf = calloc(1, size);
	uint64_t off, seed = 7;
	int rc;

	journal_file_header(buf, JOURNAL_VERSION, 1);
	journal_frame(buf + JOURNAL_HDR_SIZE, 1, "[1]\n", 4);
	memcpy(buf + JOURNAL_HDR_SIZE + JOURNAL_REC_HDR, "[1]\n", 4);
	for (off = JOURNAL_HDR_SIZE + JOURNAL_REC_HDR + 4; off + 28 <= size; off += 32) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		memcpy(buf + off, "JREC", 4);
		buf[off + 4] = (uint8_t)(size - off - 28);
		buf[off + 5] = (uint8_t)((size - off - 28) >> 8);
		buf[off + 6] = (uint8_t)((size - off - 28) >> 16);
		buf[off + 8] = _i ? 2 : (uint8_t)(seed >> 56) | 0x80; /* lsn */
		buf[off + 15] = _i ? 0 : (uint8_t)(seed >> 40) | 1; /* past any file */
	}
	spit(jpath, (char *)buf, size);
	err_clear(&err);
	rc = journal_read(jpath, 0, NULL, NULL, &info, &err);
	ck_assert_msg(info.crc_bytes <= 3 * size, "%llu bytes checksummed",
		      (unsigned long long)info.crc_bytes);
	if (_i) {
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "more damaged records"));
	} else {
		ck_assert_msg(rc == 0, "%s", err.msg);
		ck_assert(info.torn);
		ck_assert_uint_eq(info.records, 1);
	}
	free(buf);
}
END_TEST

Suite *jrecover_suite(void);
Suite *jrecover_suite(void)
{
	Suite *s = suite_create("jrecover");
	TCase *tc = tcase_create("recover");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fixj_setup, fixj_teardown);
	tcase_add_test(tc, test_zeroed_record_before_records);
	tcase_add_test(tc, test_power_cut_shapes_are_torn_tails);
	tcase_add_test(tc, test_lost_sector_before_a_kept_large_record);
	tcase_add_test(tc, test_ahead_8mib_with_2_6mb_unsynced);
	tcase_add_test(tc, test_random_page_loss_after_the_synced_end);
	tcase_add_test(tc, test_damage_a_later_synced_lsn_covers_is_refused);
	tcase_add_test(tc, test_version_1_journal);
	tcase_add_test(tc, test_store_replacing_an_old_version_1_journal);
	tcase_add_loop_test(tc, test_hostile_candidates_are_read_in_linear_time, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
