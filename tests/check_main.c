/*
 * check_main.c - the one runner for every Check suite.
 *
 * The build generates suites.h from the tests/check_<module>.c file names,
 * one SUITE(module) line each; every such file exports
 * Suite *<module>_suite(void).  CK_RUN_SUITE / CK_RUN_CASE select one
 * suite or test case; CK_FORK=no runs in-process (gdb, valgrind).
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef SUITE

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
