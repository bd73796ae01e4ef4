/*
 * fix_store.c - temporary store directories and string-keyed tables for
 * tests (fix_store.h).
 */
#include "fix_store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rm_rf(const char *d)
{
	char cmd[200];

	ck_assert_uint_lt(strlen(d), sizeof(cmd) - 8);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	ck_assert_int_eq(system(cmd), 0);
}

void create_table(db_t *db, const char *name, const char *pk, const char *sk)
{
	struct table_schema s;
	struct dyn_err err;

	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "%s", pk);
	s.pk.type = VAL_S;
	if (sk) {
		s.has_sk = true;
		snprintf(s.sk.name, sizeof(s.sk.name), "%s", sk);
		s.sk.type = VAL_S;
	}
	err_clear(&err);
	ck_assert_msg(db_create_table(db, name, &s, &err) == 0, "create %s: %s", name, err.msg);
}
