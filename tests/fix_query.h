/*
 * fix_query.h - the parser fixtures shared by the `_query?` suites
 * (check_query, check_query_run): sort key attributes of S, N and B,
 * where a query is parsed (base partition, table scan, index partition),
 * the parsed spec q, and parsing into it.
 */
#ifndef DYNFS_FIX_QUERY_H
#define DYNFS_FIX_QUERY_H

#include "db.h"
#include "query.h"
#include "val.h"

extern struct key_attr ska_s, ska_n, ska_b, tpk, tsk_s;

/* Set the attributes above (fixture setup). */
void setup_attrs(void);
/* In a base partition of quiz-stats (sort key week S). */
struct qwhere in_part(const struct key_attr *sk);
/* At table level (a scan). */
struct qwhere at_table(void);
/* In a partition of an index (sort key sk, NULL: none). */
struct qwhere in_index(const struct key_attr *sk);

/* The spec parse() fills; teardown_q() frees it. */
extern struct qspec q;

void teardown_q(void);
/* query_parse of text at w into q (freed first): its return. */
int parse(const char *text, struct qwhere w);
/* v is the S value s. */
void is_s(const struct val *v, const char *s);

#endif
