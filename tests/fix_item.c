/*
 * fix_item.c - test helpers shared by the item codec suites; see fix_item.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fix_item.h"

struct val parse_ok(const char *text)
{
	struct dyn_err e;
	struct val v;
	int rc;

	err_clear(&e);
	rc = item_parse_value(text, strlen(text), &v, &e);
	ck_assert_msg(rc == 0, "parse failed: %s (line %d, col %d) for %s", e.msg, e.line, e.col,
		      text);
	ck_assert_int_eq(val_check(&v, NULL), 0);
	return v;
}

char *render(const struct val *v, const char *pk, const char *sk)
{
	char *out;
	size_t len;

	ck_assert_int_eq(item_render(v, pk, sk, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	return out;
}

void assert_renders(const char *in, const char *pk, const char *sk, const char *want)
{
	struct val v = parse_ok(in);
	char *out = render(&v, pk, sk);

	ck_assert_str_eq(out, want);
	free(out);
	val_free(&v);
}
