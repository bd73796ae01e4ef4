/*
 * fix_file.c - whole-file read and write for tests (fix_file.h).
 */
#include "fix_file.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

char *slurp(const char *p, size_t *len)
{
	FILE *fp = fopen(p, "rb");
	char *buf;
	long n;

	ck_assert_msg(fp != NULL, "open %s", p);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = 0;
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

size_t records_len(const char *p)
{
	size_t len;
	char *buf = slurp(p, &len);

	while (len > 0 && !buf[len - 1])
		len--;
	free(buf);
	return len;
}

void spit(const char *p, const char *buf, size_t len)
{
	FILE *fp = fopen(p, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fwrite(buf, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}
