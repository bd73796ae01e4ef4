/*
 * fix_ops.h - the checked fixture of the write-request suites (check_ops,
 * check_ops_batch): a fresh database per test with two tables, as in the
 * design notes:
 *   users       username S, no sort key; index email-index (email S, ALL)
 *   quiz-stats  "id#level" S / week S
 * and helpers to put and read users and to run `_batch` sessions that
 * record their reports.  The teardown proves every table and index
 * consistent (db_check_integrity) whatever the test did.
 *
 * db, tu and tq are the globals fix_db.c defines (one definition per
 * test binary); setup() fills them with this fixture's tables.
 */
#ifndef DYNFS_FIX_OPS_H
#define DYNFS_FIX_OPS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "ops.h"
#include "val.h"

extern db_t *db;
extern table_t *tu; /* users */
extern table_t *tq; /* quiz-stats */

/* The checked fixture (tests also call them to start over mid-test). */
void setup(void);
void teardown(void);
/* A test case of suite s with this fixture and a 60 s timeout. */
TCase *fix_ops_tcase(Suite *s, const char *name);

/* Parse document JSON into *out (new); fails the test on bad JSON. */
void parse_json(const char *text, struct val *out);
/* A new S value (caller frees). */
struct val S(const char *s);
/* Compact JSON of users/<name> (static buffer), or "-" if absent. */
const char *user(const char *name);
/* tbl_put of a users item from JSON; fails the test on error. */
void put_user(const char *json);
/* The number of items in t. */
size_t count_items(table_t *t);

#define ck_assert_contains(hay, needle)                                                  \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", \
		      (hay), (needle))

/* A batch session that records its reports. */
struct rec_reports {
	char text[16384]; /* "line: code: msg\n" ... */
	size_t n;	  /* reports */
};

/* The reports of the session batch() last made. */
extern struct rec_reports reps;

/* The report callback: appends "line code msg\n" to ctx's text. */
void record(void *ctx, uint64_t line, int code, const char *msg);
/* A new batch session on t recording into reps (caller frees). */
ops_batch_t *batch(table_t *t);
/* ops_batch_feed of text. */
int feed(ops_batch_t *b, const char *text);
/* Run a whole batch text in one feed plus finish; returns feed|finish. */
int run_batch(table_t *t, const char *text);

#endif
