/*
 * fix_query.c - the parser fixtures of the `_query?` suites; see
 * fix_query.h.
 */
#include <check.h>
#include <string.h>

#include "fix_query.h"
#include "fix_val.h"

struct key_attr ska_s, ska_n, ska_b, tpk, tsk_s;

void setup_attrs(void)
{
	attr_set(&ska_s, "week", VAL_S);
	attr_set(&ska_n, "score", VAL_N);
	attr_set(&ska_b, "blob", VAL_B);
	attr_set(&tpk, "id#level", VAL_S);
	attr_set(&tsk_s, "week", VAL_S);
}

/* In a base partition of quiz-stats (sort key week S). */
struct qwhere in_part(const struct key_attr *sk)
{
	struct qwhere w = {.base_part = true, .sk = sk, .tpk = &tpk, .tsk = sk};

	return w;
}

/* At table level (a scan). */
struct qwhere at_table(void)
{
	struct qwhere w = {.scan = true, .tpk = &tpk, .tsk = &tsk_s};

	return w;
}

/* In a partition of an index (sort key sk, NULL: none). */
struct qwhere in_index(const struct key_attr *sk)
{
	struct qwhere w = {.sk = sk, .tpk = &tpk, .tsk = &tsk_s, .index = "email-index"};

	return w;
}

struct qspec q;

void teardown_q(void)
{
	query_free(&q);
}

int parse(const char *text, struct qwhere w)
{
	query_free(&q);
	return query_parse(text, strlen(text), &w, &q, NULL);
}
void is_s(const struct val *v, const char *s)
{
	ck_assert_int_eq(v->type, VAL_S);
	ck_assert_uint_eq(v->s.len, strlen(s));
	ck_assert_mem_eq(v->s.p, s, strlen(s));
}
