/*
 * fix_rbe.h - the fixture of the remote backend suites
 * (check_remote_backend, check_remote_backend_read): a remote backend
 * (remote/rbe.c) reached over HTTP by the real client, against an
 * in-process `dynfs serve` (api/ over a fresh db on 127.0.0.1, port 0)
 * or the service DYNFS_RBE_ENDPOINT names, whose tables are all deleted
 * after each test; plus creating and opening tables and listing names.
 *
 * The helpers are static inline and the state static, each suite its own
 * copy: their names (setup, teardown, mk_table, be) are those the tests
 * were written with, and other fixtures (fix_db.c, fix_ops.c) define
 * global functions of the same names.
 */
#ifndef DYNFS_FIX_RBE_H
#define DYNFS_FIX_RBE_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fix_val.h"
#include "rbe.h"

static db_t *sdb;
static api_t *srv;
static be_t *be;
static char reports[4096]; /* what the backend reported (/_errors) */
static int nchanges;	   /* changes seen by watch */

static inline void on_report(void *ctx, const char *what, const char *msg)
{
	size_t n = strlen(reports);

	snprintf(reports + n, sizeof(reports) - n, "%s: %s\n", what, msg);
}

static inline void on_change(void *ctx, const struct db_change *ch, size_t n)
{
	nchanges += (int)n;
}

static inline bool external(void)
{
	const char *e = getenv("DYNFS_RBE_ENDPOINT");

	return e && *e;
}

static inline void drop_all(void);

static inline void open_be(struct rbe_opts *o)
{
	struct rmt_opts co = {0};
	struct api_opts ao = {.listen = "127.0.0.1:0"};
	struct dyn_err err = {0};
	char ep[256];
	rmt_t *c;

	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (external()) {
		snprintf(ep, sizeof(ep), "%s", getenv("DYNFS_RBE_ENDPOINT"));
	} else {
		ck_assert_int_eq(db_new(&sdb), 0);
		ck_assert_int_eq(api_new(sdb, &ao, &srv, NULL), 0);
		ck_assert_int_eq(api_start(srv, &err), 0);
		snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", api_port(srv));
	}
	co.endpoint = ep;
	co.region = "us-east-1";
	ck_assert_msg(rmt_open(&co, &c, &err) == 0, "%s", err.msg);
	o->report = on_report;
	ck_assert_int_eq(rbe_open(c, o, &be), 0);
	drop_all();
	be_watch(be, on_change, NULL);
}

static inline void setup(void)
{
	fix_val_free();
	struct rbe_opts o = {.allow_table_create = true,
			     .allow_table_delete = true,
			     .allow_schema_changes = true,
			     .max_list = 40};

	reports[0] = 0;
	nchanges = 0;
	open_be(&o);
}

/* An external service keeps its tables (also those of a test that failed): delete them all. */
static inline void drop_all(void)
{
	char **names = NULL;
	size_t n = 0, i;

	if (be && external() && rmt_list_tables(rbe_client(be), &names, &n, NULL) == 0) {
		for (i = 0; i < n; i++)
			rmt_delete_table(rbe_client(be), names[i], NULL);
		rmt_free_names(names, n);
	}
}

static inline void teardown(void)
{
	drop_all();
	if (be)
		be_close(be);
	be = NULL;
	api_free(srv);
	srv = NULL;
	if (sdb)
		db_free(sdb);
	sdb = NULL;
}

/* Create table t: pk "p" (S), sort key "s" (N) if sk, a GSI "by_g" on g (S) if gsi. */
static inline void mk_table(const char *t, bool sk, bool gsi)
{
	struct table_schema s;
	struct index_def ix;
	struct dyn_err err = {0};

	memset(&s, 0, sizeof(s));
	memset(&ix, 0, sizeof(ix));
	attr_set(&s.pk, "p", VAL_S);
	if (sk) {
		attr_set(&s.sk, "s", VAL_N);
		s.has_sk = true;
	}
	if (gsi) {
		snprintf(ix.name, sizeof(ix.name), "by_g");
		attr_set(&ix.pk, "g", VAL_S);
		attr_set(&ix.sk, "s", VAL_N);
		ix.has_sk = sk;
		ix.proj = PROJ_ALL;
		s.index = &ix;
		s.nindex = 1;
	}
	ck_assert_msg(be_create_table(be, t, &s, &err) == 0, "%s", err.msg);
}

static inline be_table_t *open_t(const char *name)
{
	be_table_t *t = NULL;

	ck_assert_int_eq(be_table_open(be, name, &t, NULL), 0);
	return t;
}

/* One write through be_apply. */
static inline int count_name(void *ctx, const char *name)
{
	char *buf = ctx;

	strcat(buf, name);
	strcat(buf, " ");
	return 0;
}

#endif
