/*
 * fix_journal.h - test helpers for the journal suites (check_journal,
 * check_jrecover): a temporary store directory, journals made with the
 * real writer, what journal_read hands out.
 */
#ifndef DYNFS_FIX_JOURNAL_H
#define DYNFS_FIX_JOURNAL_H

#include <stdint.h>

#include "journal.h"

extern char jdir[64];	/* a new temporary directory per test */
extern char jpath[128]; /* jdir/journal */

void fixj_setup(void);
void fixj_teardown(void);

/* Append a record with the given text; returns its lsn. */
uint64_t append(journal_t *j, const char *text);
/* Create jdir/journal (first lsn start) and open it. */
journal_t *open_fresh(uint64_t start);
/* Close j as a crash would leave its file: with the zeroes written ahead
 * (a clean journal_close cuts them off). */
void crash_close(journal_t *j);

/* Collects what journal_read hands out (jcollect is its callback). */
struct seen {
	uint64_t lsn[64];  /* record lsns */
	uint64_t off[64];  /* their offsets */
	char text[64][64]; /* payloads */
	int n;		   /* records seen */
};
int jcollect(void *ctx, uint64_t lsn, const char *p, size_t len, uint64_t off);

/* A journal with records "one", "two", "three" (lsn 1..3), each synced
 * before the next is appended (fsync=always); offsets in off; with ahead,
 * zeroes written ahead of them (journal_set_ahead). */
void make_three_ahead(uint64_t off[3], uint64_t ahead);
void make_three(uint64_t off[3]);

/* n records of about pad + 40 bytes (lsn 1..n) with 64 KiB of zeroes
 * written ahead, the first synced of them synced one by one (each record
 * up to lsn synced says synced lsn - 1, those after it say synced);
 * their offsets in off. */
void make_records_synced(uint64_t *off, int n, int pad, int synced);

#endif
