/*
 * fix_journal.c - test helpers for the journal suites (fix_journal.h).
 */
#include "fix_journal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char jdir[64];
char jpath[128];

void fixj_setup(void)
{
	strcpy(jdir, "/tmp/check-journal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(jdir));
	snprintf(jpath, sizeof(jpath), "%s/%s", jdir, JOURNAL_NAME);
}

void fixj_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", jdir);
	ck_assert_int_eq(system(cmd), 0);
}

uint64_t append(journal_t *j, const char *text)
{
	size_t n = strlen(text);
	uint8_t *rec = malloc(JOURNAL_REC_HDR + n);
	uint64_t lsn = 0;

	memcpy(rec + JOURNAL_REC_HDR, text, n);
	ck_assert_int_eq(journal_append(j, rec, n, false, &lsn), 0);
	free(rec);
	return lsn;
}

journal_t *open_fresh(uint64_t start)
{
	struct journal_info info;
	struct dyn_err err;
	journal_t *j;

	err_clear(&err);
	ck_assert_int_eq(journal_create(jdir, start, &err), 0);
	ck_assert_int_eq(journal_read(jpath, 0, NULL, NULL, &info, &err), 0);
	ck_assert_int_eq(journal_open(jdir, &info, &j, &err), 0);
	return j;
}

void crash_close(journal_t *j)
{
	struct journal_stats st;

	journal_stats(j, &st);
	journal_close(j);
	ck_assert_int_eq(truncate(jpath, (off_t)st.file_bytes), 0);
}

int jcollect(void *ctx, uint64_t lsn, const char *p, size_t len, uint64_t off)
{
	struct seen *s = ctx;

	ck_assert_int_lt(s->n, 64);
	s->lsn[s->n] = lsn;
	s->off[s->n] = off;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)len, p);
	s->n++;
	return 0;
}

void make_three_ahead(uint64_t off[3], uint64_t ahead)
{
	static const char *const text[] = {"[\"one\"]\n", "[\"two\"]\n", "[\"three\"]\n"};
	journal_t *j = open_fresh(1);
	int i;

	journal_set_ahead(j, ahead);
	for (i = 0; i < 3; i++) {
		journal_position(j, NULL, &off[i], NULL);
		ck_assert_int_eq(journal_sync(j, append(j, text[i])), 0);
	}
	crash_close(j);
}

void make_three(uint64_t off[3])
{
	make_three_ahead(off, 0);
}

void make_records_synced(uint64_t *off, int n, int pad, int synced)
{
	char *text = malloc((size_t)pad + 64);
	journal_t *j;
	uint64_t lsn;
	int i;

	unlink(jpath);
	j = open_fresh(1);
	journal_set_ahead(j, 65536);
	for (i = 0; i < n; i++) {
		journal_position(j, NULL, &off[i], NULL);
		snprintf(text, (size_t)pad + 64, "[\"record %d %0*d\"]\n", i, pad, i);
		lsn = append(j, text);
		if (i < synced)
			ck_assert_int_eq(journal_sync(j, lsn), 0);
	}
	crash_close(j);
	free(text);
}
