/*
 * fix_file.h - test helpers for the suites that look at files on disk
 * (check_journal, check_snap, check_store): read a whole file, write one.
 */
#ifndef DYNFS_FIX_FILE_H
#define DYNFS_FIX_FILE_H

#include <stddef.h>

/* The whole file at p (new, NUL-terminated); *len its size.  Fails the test if unreadable. */
char *slurp(const char *p, size_t *len);
/* Replace the file at p with len bytes of buf.  Fails the test on error. */
void spit(const char *p, const char *buf, size_t len);
/* The length of the file at p without its trailing zero bytes: where a
 * journal's records end before the zeroes written ahead of them. */
size_t records_len(const char *p);

#endif
