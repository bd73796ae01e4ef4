/*
 * fuzz_journal.c - libFuzzer target over journal_read (engine/journal.c),
 * what a mount reads to recover.  The input is written as a journal file
 * and read; then it is read again with zeroes appended (room written
 * ahead, journal.c) and the two must agree:
 *   - what was read must be consistent: valid_end <= data_end <= size, a
 *     torn tail exactly when nonzero bytes follow the records, only zeroes
 *     after data_end, records handed out in lsn order after `after`,
 *     the bytes checksummed linear in the file (at most 4 x its size:
 *     journal_read.c bounds what candidates after damage may cost);
 *   - zeroes after a journal without a torn tail are room: the same
 *     records, the same end, no torn tail;
 *   - zeroes after a torn tail leave it torn at the same offset, unless
 *     they complete a record cut short whose missing bytes were zeroes
 *     (then the records go further, or, if that record follows damage,
 *     the journal is refused as corrupt).
 * The first 2 input bytes choose how many zeroes (1..65536); the rest is
 * the file.  A seed corpus of journals is in corpus/fuzz_journal: format
 * version 1 (clean, header-only, room, torn, torn-in-room) and version 2
 * (v2-*: clean, unsynced records lost in the middle, a synced record
 * damaged, a torn record in zeroes written ahead).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
	uint64_t n;	   /* records handed out */
	uint64_t last;	   /* the last one's lsn */
	uint64_t sum;	   /* of their payload lengths and offsets */
	bool order_broken; /* lsns not increasing by one */
};

static int count(void *ctx, uint64_t lsn, const char *p, size_t len, uint64_t off)
{
	struct got *g = ctx;

	(void)p;
	if (g->n && lsn != g->last + 1)
		g->order_broken = true;
	g->n++;
	g->last = lsn;
	g->sum += len * 31 + off;
	return 0;
}

static char path[64];

static int read_file(const uint8_t *buf, size_t len, size_t zeroes, struct journal_info *info,
		     struct got *g)
{
	struct dyn_err err;
	static const uint8_t z[4096];
	FILE *f = fopen(path, "wb");
	size_t n;

	if (!f)
		abort();
	if (len && fwrite(buf, 1, len, f) != len)
		abort();
	while (zeroes) {
		n = zeroes < sizeof(z) ? zeroes : sizeof(z);
		if (fwrite(z, 1, n, f) != n)
			abort();
		zeroes -= n;
	}
	if (fclose(f))
		abort();
	memset(g, 0, sizeof(*g));
	err_clear(&err);
	return journal_read(path, 1, count, g, info, &err);
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_journal: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_info a, b;
	struct got ga, gb;
	size_t zeroes;
	int ra, rb;

	if (size < 2)
		return 0;
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz_journal.%d", (int)getpid());
	zeroes = 1 + ((size_t)data[0] | (size_t)data[1] << 8);
	data += 2;
	size -= 2;
	ra = read_file(data, size, 0, &a, &ga);
	check(a.crc_bytes <= 4 * (uint64_t)size, "bytes checksummed not linear in the size");
	if (ra == 0) {
		check(a.valid_end <= a.data_end && a.data_end <= a.size && a.size == size,
		      "offsets out of order");
		check(a.torn == (a.data_end > a.valid_end), "torn without bytes after the records");
		for (size_t i = a.data_end; i < size; i++)
			check(!data[i], "nonzero byte after data_end");
		check(!ga.order_broken, "records out of order");
		check(!ga.n || ga.last == a.last_lsn, "last lsn differs from the last handed out");
	}
	rb = read_file(data, size, zeroes, &b, &gb);
	if (ra == 0 && !a.torn) {
		check(rb == 0 && !b.torn, "zeroes after a clean journal read as damage");
		check(b.valid_end == a.valid_end && b.records == a.records &&
			  b.last_lsn == a.last_lsn && gb.n == ga.n && gb.sum == ga.sum,
		      "zeroes after a clean journal changed its records");
	} else if (ra == 0 && rb == 0) {
		check((b.torn && b.valid_end == a.valid_end) || b.valid_end > a.valid_end,
		      "zeroes after a torn tail moved its start back");
	}
	unlink(path);
	return 0;
}
