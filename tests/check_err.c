/* check_err.c - the error record. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "err.h"

START_TEST(test_err_set_keeps_first_reason)
{
	struct dyn_err e;

	err_clear(&e);
	ck_assert_int_eq(err_set(&e, EINVAL, "inner %d", 1), -EINVAL);
	ck_assert_int_eq(err_set(&e, EFBIG, "outer"), -EFBIG);
	ck_assert_int_eq(e.code, EINVAL);
	ck_assert_str_eq(e.msg, "inner 1");
}
END_TEST

START_TEST(test_err_format_has_path_and_position)
{
	struct dyn_err e;
	char buf[600];

	err_clear(&e);
	err_set(&e, EINVAL, "duplicate attribute");
	err_path(&e, "a.b");
	err_at(&e, 3, 7);
	ck_assert_str_eq(err_format(&e, buf, sizeof(buf)),
			 "a.b: duplicate attribute (line 3, column 7)");
	ck_assert_int_eq(err_set(NULL, ENOENT, "x"), -ENOENT);
}
END_TEST

Suite *err_suite(void);
Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("err_set");

	tcase_add_test(tc, test_err_set_keeps_first_reason);
	tcase_add_test(tc, test_err_format_has_path_and_position);
	suite_add_tcase(s, tc);
	return s;
}
