/*
 * driver.c - the remote client against a real server, for tests/remote/run.
 *
 *   driver sign                  read a request on stdin, print the
 *                                Authorization header sigv4/ computes
 *                                (compared with botocore and curl)
 *   driver ops ENDPOINT          every typed call against a server
 *                                (dynfs serve, dynalite, DynamoDB Local)
 *   driver faults PROXY DIRECT N writes through the fault proxy, then
 *                                checked on the server directly: nothing
 *                                lost, nothing applied twice
 *
 * Each check prints "ok - what" or "not ok - what: why" and the exit
 * status is the number of failures (TAP-like, read by a person).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "item.h"
#include "remote.h"
#include "sigv4.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok - ");                                                           \
		} else {                                                                           \
			printf("not ok - ");                                                       \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
	} while (0)

static struct val J(const char *json) {
	struct dyn_err err;
	struct val v;

	err_clear(&err);
	if (item_parse_value(json, strlen(json), &v, &err)) {
		fprintf(stderr, "bad JSON in test %s: %s\n", json, err.msg);
		exit(99);
	}
	return v;
}

static expr_t *
C(const char *text)
{
	expr_t *e;

	if (expr_parse_condition(text, strlen(text), NULL, &e, NULL))
		exit(98);
	return e;
}

static expr_t *U(const char *text)
{
	expr_t *e;

	if (expr_parse_update(text, strlen(text), NULL, &e, NULL))
		exit(97);
	return e;
}

static expr_t *P(const char *text)
{
	expr_t *e;

	if (expr_parse_projection(text, strlen(text), NULL, &e, NULL))
		exit(96);
	return e;
}

/* ---- sign ---- */

static int cmd_sign(void)
{
	char line[8192], *f[8], *authz = NULL, *body;
	const char *hn[32], *hv[32];
	size_t nh = 0, blen = 0, cap = 1 << 20;
	struct sigv4_req r;
	int i;

	for (i = 0; i < 8; i++) {
		if (!fgets(line, sizeof(line), stdin))
			return 2;
		line[strcspn(line, "\n")] = 0;
		f[i] = strdup(line);
	}
	while (fgets(line, sizeof(line), stdin) && line[0] != '\n' && nh < 32) {
		char *colon = strchr(line, ':');

		line[strcspn(line, "\n")] = 0;
		if (!colon)
			return 2;
		*colon = 0;
		hn[nh] = strdup(line);
		hv[nh++] = strdup(colon + 1 + (colon[1] == ' '));
	}
	body = malloc(cap);
	blen = fread(body, 1, cap, stdin);
	r = (struct sigv4_req){.method = f[0],
			       .path = f[1],
			       .query = f[2],
			       .hname = hn,
			       .hvalue = hv,
			       .nh = nh,
			       .body = body,
			       .body_len = blen};
	if (sigv4_authorization(&r, f[6], f[7], f[3], f[4], f[5], &authz))
		return 1;
	printf("%s\n", authz);
	free(authz);
	return 0;
}

/* ---- ops ---- */

static rmt_t *open_client(const char *endpoint)
{
	struct rmt_opts o = {.endpoint = endpoint,
			     .region = "us-east-1",
			     .base_delay_ms = 5,
			     .max_delay_ms = 200,
			     .timeout_ms = 10000,
			     .max_attempts = 12};
	struct dyn_err err;
	rmt_t *c;

	err_clear(&err);
	if (rmt_open(&o, &c, &err)) {
		fprintf(stderr, "rmt_open %s: %s\n", endpoint, err.msg);
		exit(3);
	}
	return c;
}

static void ops_tables(rmt_t *c, const char *t)
{
	struct table_schema s, got;
	struct index_def ix;
	struct dyn_err err;
	char **names, st[32];
	size_t n, i;
	bool seen = false;
	int rc;

	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "id");
	s.pk.type = VAL_S;
	snprintf(s.sk.name, sizeof(s.sk.name), "n");
	s.sk.type = VAL_N;
	s.has_sk = true;
	memset(&ix, 0, sizeof(ix));
	snprintf(ix.name, sizeof(ix.name), "by-color");
	snprintf(ix.pk.name, sizeof(ix.pk.name), "color");
	ix.pk.type = VAL_S;
	ix.proj = PROJ_ALL;
	s.index = &ix;
	s.nindex = 1;
	err_clear(&err);
	rc = rmt_create_table(c, t, &s, &err);
	CHECK(rc == 0, "CreateTable %s waits for ACTIVE (%s)", t, err.msg);
	err_clear(&err);
	rc = rmt_create_table(c, t, &s, &err);
	CHECK(rc == -EEXIST, "CreateTable again: -EEXIST (%d %s)", rc, err.msg);
	rc = rmt_list_tables(c, &names, &n, &err);
	for (i = 0; rc == 0 && i < n; i++)
		seen |= !strcmp(names[i], t);
	if (rc == 0)
		rmt_free_names(names, n);
	CHECK(rc == 0 && seen, "ListTables has %s", t);
	rc = rmt_describe_table(c, t, &got, st, &err);
	CHECK(rc == 0 && !strcmp(got.pk.name, "id") && got.pk.type == VAL_S && got.has_sk &&
		  !strcmp(got.sk.name, "n") && got.sk.type == VAL_N && got.nindex == 1 &&
		  !strcmp(got.index[0].name, "by-color") && got.index[0].proj == PROJ_ALL &&
		  !strcmp(st, "ACTIVE"),
	      "DescribeTable gives the schema back (%s)", err.msg);
	if (rc == 0)
		schema_free(&got);
	rc = rmt_describe_table(c, "no-such-table", &got, NULL, NULL);
	CHECK(rc == -ENOENT, "DescribeTable of a missing table: -ENOENT (%d)", rc);
}

static void ops_items(rmt_t *c, const char *t)
{
	struct val item =
	    J("{\"id\":\"a\",\"n\":1,\"color\":\"red\",\"v\":1,\"s\":{\"$SS\":[\"x\"]},"
	      "\"m\":{\"level\":[1,{\"b\":null}]},\"bin\":{\"$B\":\"AAEC\"}}");
	struct val key = J("{\"id\":\"a\",\"n\":1}"), got, old;
	expr_t *absent = C("attribute_not_exists(id)"), *v1 = C("v = 1"), *v9 = C("v = 9");
	expr_t *upd = U("SET v = v + 1, m.level[0] = 5 ADD cnt 1 REMOVE bin");
	expr_t *proj = P("color, m.level[1]");
	struct dyn_err err;
	bool found;
	int rc;

	err_clear(&err);
	rc = rmt_put_item(c, t, &item, absent, NULL, &err);
	CHECK(rc == 0, "PutItem if absent (%s)", err.msg);
	err_clear(&err);
	rc = rmt_put_item(c, t, &item, absent, NULL, &err);
	CHECK(rc == -ECANCELED, "PutItem if absent again: -ECANCELED (%d %s)", rc, err.msg);
	rc = rmt_get_item(c, t, &key, true, NULL, &got, &found, &err);
	CHECK(rc == 0 && found && val_equal(&got, &item), "GetItem gives the item back");
	val_free(&got);
	rc = rmt_get_item(c, t, &key, true, proj, &got, &found, &err);
	CHECK(rc == 0 && found && got.m.len == 2, "GetItem with a projection");
	val_free(&got);
	err_clear(&err);
	rc = rmt_update_item(c, t, &key, upd, v1, &got, &err);
	CHECK(rc == 0 && val_map_get(&got, "cnt", 3) && !val_map_get(&got, "bin", 3),
	      "UpdateItem with a condition, ALL_NEW (%s)", err.msg);
	val_free(&got);
	rc = rmt_update_item(c, t, &key, upd, v1, NULL, NULL);
	CHECK(rc == -ECANCELED, "UpdateItem whose condition is false: -ECANCELED");
	rc = rmt_delete_item(c, t, &key, v9, NULL, NULL);
	CHECK(rc == -ECANCELED, "DeleteItem whose condition is false: -ECANCELED");
	val_init_null(&old);
	rc = rmt_delete_item(c, t, &key, NULL, &old, &err);
	CHECK(rc == 0 && old.type == VAL_M, "DeleteItem returns the old item");
	val_free(&old);
	rc = rmt_get_item(c, t, &key, true, NULL, &got, &found, &err);
	CHECK(rc == 0 && !found, "GetItem of a deleted item: not found");
	val_free(&item);
	val_free(&key);
	expr_free(absent);
	expr_free(v1);
	expr_free(v9);
	expr_free(upd);
	expr_free(proj);
}

static void ops_batches(rmt_t *c, const char *t)
{
	struct rmt_write w[70];
	struct val items[70];
	struct rmt_get g[130];
	struct val keys[130], out[130];
	struct dyn_err err;
	char buf[200];
	size_t i, present = 0;
	int rc;

	/* 60 puts over 50 distinct keys: keys 0..9 twice, the later value wins */
	for (i = 0; i < 60; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"id\":\"b\",\"n\":%zu,\"color\":\"%s\",\"round\":%zu}", i % 50,
			 i % 3 ? "red" : "blue", i / 50);
		items[i] = J(buf);
		w[i] = (struct rmt_write){.kind = RMT_PUT, .table = t, .item = &items[i]};
	}
	err_clear(&err);
	rc = rmt_batch_write(c, w, 60, &err);
	CHECK(rc == 0, "BatchWriteItem of 60 with duplicate keys (%s)", err.msg);
	for (i = 0; i < 130; i++) {
		snprintf(buf, sizeof(buf), "{\"id\":\"b\",\"n\":%zu}", i < 120 ? i : i - 120);
		keys[i] = J(buf);
		g[i] = (struct rmt_get){t, &keys[i]};
	}
	/* 130 keys with duplicates and 70 absent: batches of 100, split at duplicates */
	rc = rmt_batch_get(c, g, 130, true, out, &err);
	for (i = 0; rc == 0 && i < 130; i++)
		present += out[i].type == VAL_M;
	CHECK(rc == 0 && present == 60, "BatchGetItem of 130 keys finds 60 (%zu)", present);
	if (rc == 0) {
		const struct val *r = val_map_get(&out[5], "round", 5);
		struct val one = J("1");

		CHECK(r && val_equal(r, &one), "the later duplicate won");
		val_free(&one);
		for (i = 0; i < 130; i++)
			val_free(&out[i]);
	}
	for (i = 0; i < 60; i++)
		val_free(&items[i]);
	for (i = 0; i < 130; i++)
		val_free(&keys[i]);
}

/* Read every page; return the number of items, or -1. */
static long all_pages(rmt_t *c, struct rmt_read *r, bool query, int *pages)
{
	struct rmt_page pg;
	struct val last;
	long n = 0;

	val_init_null(&last);
	*pages = 0;
	for (;;) {
		int rc = query ? rmt_query(c, r, &pg, NULL) : rmt_scan(c, r, &pg, NULL);

		if (rc < 0) {
			val_free(&last);
			return -1;
		}
		(*pages)++;
		n += (long)pg.n;
		val_free(&last);
		val_move(&last, &pg.last);
		rmt_page_free(&pg);
		if (last.type != VAL_M)
			break;
		r->start = &last;
	}
	val_free(&last);
	r->start = NULL;
	return n;
}

static void ops_reads(rmt_t *c, const char *t)
{
	expr_t *kc = C("id = \"b\" AND n BETWEEN 10 AND 29"), *red = C("color = \"red\"");
	expr_t *kcolor = C("color = \"blue\"");
	struct rmt_read r = {.table = t, .keycond = kc, .consistent = true, .limit = 7};
	struct rmt_page pg;
	long n;
	int pages, seg, rc;

	n = all_pages(c, &r, true, &pages);
	CHECK(n == 20 && pages >= 3, "Query pages with ExclusiveStartKey: %ld items in %d pages", n,
	      pages);
	r.backward = true;
	r.limit = 0;
	rc = rmt_query(c, &r, &pg, NULL);
	CHECK(rc == 0 && pg.n == 20 && pg.items[0].m.len > 0, "Query backward, one page");
	if (rc == 0) {
		struct val v29 = J("29");

		CHECK(val_equal(val_map_get(&pg.items[0], "n", 1), &v29), "backward starts at 29");
		val_free(&v29);
		rmt_page_free(&pg);
	}
	r.backward = false;
	r.filter = red;
	n = all_pages(c, &r, true, &pages);
	CHECK(n > 0 && n < 20, "Query with a filter: %ld", n);
	memset(&r, 0, sizeof(r));
	r.table = t;
	r.limit = 9;
	n = all_pages(c, &r, false, &pages);
	CHECK(n == 50, "Scan pages: %ld items in %d pages", n, pages);
	for (seg = 0, n = 0; seg < 3; seg++) {
		long k;

		r.segment = seg;
		r.segments = 3;
		k = all_pages(c, &r, false, &pages);
		n += k < 0 ? 1000 : k;
	}
	CHECK(n == 50, "parallel Scan in 3 segments covers all: %ld", n);
	memset(&r, 0, sizeof(r));
	r.table = t;
	r.index = "by-color";
	r.keycond = kcolor;
	n = all_pages(c, &r, true, &pages);
	CHECK(n > 0 && n < 50, "Query on a global index: %ld blue", n);
	expr_free(kc);
	expr_free(red);
	expr_free(kcolor);
}

static void ops_tx(rmt_t *c, const char *t)
{
	struct val a = J("{\"id\":\"tx\",\"n\":1,\"bal\":10}"),
		   b = J("{\"id\":\"tx\",\"n\":2,\"bal\":0}");
	struct val ka = J("{\"id\":\"tx\",\"n\":1}"), kb = J("{\"id\":\"tx\",\"n\":2}");
	expr_t *debit = U("SET bal = bal - 3"), *credit = U("SET bal = bal + 3");
	expr_t *enough = C("bal >= 3"), *absent = C("attribute_not_exists(id)");
	struct rmt_write setup[2] = {{RMT_PUT, t, &a, NULL, absent},
				     {RMT_PUT, t, &b, NULL, absent}};
	struct rmt_write move[2] = {{RMT_UPDATE, t, &ka, debit, enough},
				    {RMT_UPDATE, t, &kb, credit, NULL}};
	struct rmt_get g[2] = {{t, &ka}, {t, &kb}};
	struct val out[2], seven = J("7"), three = J("3");
	struct dyn_err err;
	int rc, i;

	err_clear(&err);
	rc = rmt_transact_write(c, setup, 2, NULL, &err);
	CHECK(rc == 0, "TransactWriteItems of two conditional puts (%s)", err.msg);
	rc = rmt_transact_write(c, move, 2, "fixed-token-1", &err);
	CHECK(rc == 0, "TransactWriteItems moves 3 (%s)", err.msg);
	rc = rmt_transact_write(c, move, 2, "fixed-token-1", &err);
	CHECK(rc == 0, "the same ClientRequestToken again is accepted (%s)", err.msg);
	rc = rmt_transact_get(c, g, 2, out, &err);
	CHECK(rc == 0 && val_equal(val_map_get(&out[0], "bal", 3), &seven) &&
		  val_equal(val_map_get(&out[1], "bal", 3), &three),
	      "TransactGetItems: applied once (7 and 3)");
	if (rc == 0)
		for (i = 0; i < 2; i++)
			val_free(&out[i]);
	err_clear(&err);
	rc = rmt_transact_write(c, setup, 2, NULL, &err);
	CHECK(rc == -ECANCELED, "a transaction whose condition fails: -ECANCELED (%s)", err.msg);
	val_free(&a);
	val_free(&b);
	val_free(&ka);
	val_free(&kb);
	val_free(&seven);
	val_free(&three);
	expr_free(debit);
	expr_free(credit);
	expr_free(enough);
	expr_free(absent);
}

static void ops_indexes(rmt_t *c, const char *t)
{
	struct index_def ix;
	struct table_schema s;
	struct dyn_err err;
	int rc;

	memset(&ix, 0, sizeof(ix));
	snprintf(ix.name, sizeof(ix.name), "by-round");
	snprintf(ix.pk.name, sizeof(ix.pk.name), "round");
	ix.pk.type = VAL_N;
	ix.proj = PROJ_KEYS_ONLY;
	err_clear(&err);
	rc = rmt_add_index(c, t, &ix, &err);
	CHECK(rc == 0, "UpdateTable adds a GSI and waits (%s)", err.msg);
	rc = rmt_describe_table(c, t, &s, NULL, &err);
	CHECK(rc == 0 && s.nindex == 2, "DescribeTable shows two indexes");
	if (rc == 0)
		schema_free(&s);
	rc = rmt_drop_index(c, t, "by-round", &err);
	CHECK(rc == 0, "UpdateTable drops it and waits (%s)", err.msg);
}

static int cmd_ops(const char *endpoint, bool dynalite)
{
	rmt_t *c = open_client(endpoint);
	struct rmt_stats st;
	char t[64];
	struct dyn_err err;

	snprintf(t, sizeof(t), "rmt-%ld-%d", (long)time(NULL), getpid());
	ops_tables(c, t);
	ops_items(c, t);
	ops_batches(c, t);
	ops_reads(c, t);
	/* dynalite has no transactions, and wants ProvisionedThroughput on a
	 * new GSI even of an on-demand table (DynamoDB refuses it there) */
	if (!dynalite) {
		ops_tx(c, t);
		ops_indexes(c, t);
	}
	err_clear(&err);
	CHECK(rmt_delete_table(c, t, &err) == 0, "DeleteTable waits until gone (%s)", err.msg);
	rmt_get_stats(c, &st);
	printf("# calls %llu attempts %llu connections %llu\n", (unsigned long long)st.calls,
	       (unsigned long long)st.attempts, (unsigned long long)st.connects);
	CHECK(st.connects * 4 < st.calls, "connections are kept alive (%llu for %llu calls)",
	      (unsigned long long)st.connects, (unsigned long long)st.calls);
	rmt_close(c);
	return failures;
}

/* ---- faults ---- */

static long number_of(rmt_t *c, const char *t, const char *id, const char *attr)
{
	char buf[100];
	struct val key, got;
	bool found;
	long n = -1;

	snprintf(buf, sizeof(buf), "{\"id\":\"%s\"}", id);
	key = J(buf);
	if (rmt_get_item(c, t, &key, true, NULL, &got, &found, NULL) == 0 && found) {
		const struct val *v = val_map_get(&got, attr, strlen(attr));
		char s[64];

		if (v && v->type == VAL_N) {
			/* small non-negative integers only */
			n = 0;
			for (int i = 0; i < v->n.ndigits; i++)
				n = n * 10 + v->n.digit[i];
			for (int i = v->n.ndigits; i < v->n.exp; i++)
				n *= 10;
		}
		(void)s;
		val_free(&got);
	}
	val_free(&key);
	return n;
}

/* Threads sharing one client (and its pool) through the faults. */
struct worker {
	rmt_t *c;      /* shared client */
	const char *t; /* table */
	int id, n;     /* worker number, operations */
	int ok;	       /* transactions that succeeded */
	int items_ok;  /* own items written */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct val key = J("{\"id\":\"par\"}");
	expr_t *inc = U("ADD c 1"), *absent = C("attribute_not_exists(id)");
	struct rmt_write tx = {RMT_UPDATE, w->t, &key, inc, NULL};
	char buf[100];

	for (int i = 0; i < w->n; i++) {
		struct val item;

		if (rmt_transact_write(w->c, &tx, 1, NULL, NULL) == 0)
			w->ok++;
		snprintf(buf, sizeof(buf), "{\"id\":\"w%d-%d\",\"i\":%d}", w->id, i, i);
		item = J(buf);
		if (rmt_put_item(w->c, w->t, &item, absent, NULL, NULL) == 0)
			w->items_ok++;
		val_free(&item);
	}
	val_free(&key);
	expr_free(inc);
	expr_free(absent);
	return NULL;
}

static int cmd_faults(const char *proxy, const char *direct, int n)
{
	struct rmt_opts o = {.endpoint = proxy,
			     .region = "us-east-1",
			     .base_delay_ms = 5,
			     .max_delay_ms = 100,
			     .timeout_ms = 1000,
			     .max_attempts = 30};
	rmt_t *d = open_client(direct), *p;
	struct table_schema s;
	struct dyn_err err;
	struct rmt_stats st;
	expr_t *inc = U("ADD c 1");
	char t[64], buf[200];
	long ok = 0, unknown = 0, other = 0, v;
	int i, rc;

	err_clear(&err);
	if (rmt_open(&o, &p, &err))
		return 3;
	snprintf(t, sizeof(t), "faults-%ld-%d", (long)time(NULL), getpid());
	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "id");
	s.pk.type = VAL_S;
	CHECK(rmt_create_table(d, t, &s, &err) == 0, "create %s directly (%s)", t, err.msg);

	/* 1. transactions with a ClientRequestToken: exactly once, always */
	{
		struct val key = J("{\"id\":\"tx\"}");
		struct rmt_write w = {RMT_UPDATE, t, &key, inc, NULL};

		for (i = 0; i < n; i++) {
			err_clear(&err);
			rc = rmt_transact_write(p, &w, 1, NULL, &err);
			if (rc == 0)
				ok++;
			else
				printf("# tx %d: %s\n", i, err.msg);
		}
		v = number_of(d, t, "tx", "c");
		CHECK(ok == n && v == n,
		      "TransactWriteItems through faults: %ld/%d ok, counter %ld", ok, n, v);
		val_free(&key);
	}
	/* 2. UpdateItem ADD is not idempotent: retried only when surely not applied */
	{
		struct val key = J("{\"id\":\"upd\"}");

		ok = unknown = other = 0;
		for (i = 0; i < n; i++) {
			err_clear(&err);
			rc = rmt_update_item(p, t, &key, inc, NULL, NULL, &err);
			if (rc == 0)
				ok++;
			else if (strstr(err.msg, "outcome unknown"))
				unknown++;
			else
				other++, printf("# upd %d: %s\n", i, err.msg);
		}
		v = number_of(d, t, "upd", "c");
		if (v < 0)
			v = 0;
		CHECK(v >= ok && v <= ok + unknown && other == 0,
		      "UpdateItem ADD: %ld ok, %ld unknown, counter %ld (never counted twice)", ok,
		      unknown, v);
		val_free(&key);
	}
	/* 3. conditional puts of successive versions: each lands once */
	{
		expr_t *first = C("attribute_not_exists(id)");

		ok = 0;
		for (i = 1; i <= n; i++) {
			struct val item;
			expr_t *cond;

			snprintf(buf, sizeof(buf), "{\"id\":\"ver\",\"v\":%d}", i);
			item = J(buf);
			snprintf(buf, sizeof(buf), "v = %d", i - 1);
			cond = i == 1 ? first : C(buf);
			err_clear(&err);
			rc = rmt_put_item(p, t, &item, cond, NULL, &err);
			if (rc == 0)
				ok++;
			else
				printf("# put v%d: %s\n", i, err.msg);
			if (cond != first)
				expr_free(cond);
			val_free(&item);
		}
		v = number_of(d, t, "ver", "v");
		CHECK(ok == n && v == n,
		      "conditional puts v1..v%d through faults: %ld ok, final v%ld", n, ok, v);
		expr_free(first);
	}
	/* 4. batches: every item lands, UnprocessedItems included */
	{
		struct rmt_write *w = calloc((size_t)n * 3, sizeof(*w));
		struct val *items = calloc((size_t)n * 3, sizeof(*items)), *out;
		struct rmt_get *g = calloc((size_t)n * 3, sizeof(*g));
		long present = 0;

		for (i = 0; i < n * 3; i++) {
			snprintf(buf, sizeof(buf), "{\"id\":\"batch-%d\",\"k\":%d}", i, i);
			items[i] = J(buf);
			w[i] = (struct rmt_write){.kind = RMT_PUT, .table = t, .item = &items[i]};
		}
		err_clear(&err);
		rc = rmt_batch_write(p, w, (size_t)n * 3, &err);
		CHECK(rc == 0, "BatchWriteItem of %d through faults (%s)", n * 3, err.msg);
		out = calloc((size_t)n * 3, sizeof(*out));
		for (i = 0; i < n * 3; i++) {
			snprintf(buf, sizeof(buf), "{\"id\":\"batch-%d\"}", i);
			val_free(&items[i]);
			items[i] = J(buf);
			g[i] = (struct rmt_get){t, &items[i]};
		}
		rc = rmt_batch_get(p, g, (size_t)n * 3, true, out, &err);
		for (i = 0; rc == 0 && i < n * 3; i++) {
			present += out[i].type == VAL_M;
			val_free(&out[i]);
		}
		CHECK(rc == 0 && present == n * 3, "BatchGetItem through faults finds all %ld (%s)",
		      present, err.msg);
		for (i = 0; i < n * 3; i++)
			val_free(&items[i]);
		free(w);
		free(items);
		free(g);
		free(out);
	}
	/* 5. four threads on one client: the pool under concurrency */
	{
		struct worker w[4];
		pthread_t th[4];
		int tx_ok = 0, items = 0, found = 0;

		for (i = 0; i < 4; i++) {
			w[i] = (struct worker){.c = p, .t = t, .id = i, .n = n / 2};
			pthread_create(&th[i], NULL, work, &w[i]);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			tx_ok += w[i].ok;
			items += w[i].items_ok;
		}
		for (i = 0; i < 4; i++)
			for (int k = 0; k < n / 2; k++) {
				char id[32];

				snprintf(id, sizeof(id), "w%d-%d", i, k);
				found += number_of(d, t, id, "i") == k;
			}
		v = number_of(d, t, "par", "c");
		CHECK(tx_ok == 4 * (n / 2) && v == tx_ok && items == tx_ok && found == items,
		      "4 threads, one client: %d transactions counted %ld, %d/%d items", tx_ok, v,
		      found, items);
	}
	rmt_get_stats(p, &st);
	printf("# through the proxy: calls %llu attempts %llu throttled %llu 5xx %llu transport "
	       "%llu refreshes %llu unprocessed %llu\n",
	       (unsigned long long)st.calls, (unsigned long long)st.attempts,
	       (unsigned long long)st.throttled, (unsigned long long)st.server_err,
	       (unsigned long long)st.transport, (unsigned long long)st.refreshes,
	       (unsigned long long)st.unprocessed);
	CHECK(st.throttled && st.server_err && st.transport && st.unprocessed,
	      "every kind of fault was met and survived");
	CHECK(rmt_delete_table(d, t, &err) == 0, "delete %s", t);
	expr_free(inc);
	rmt_close(p);
	rmt_close(d);
	return failures;
}

/* Open a client, print where its credentials came from, make n calls. */
static int cmd_creds(const char *endpoint, int n)
{
	struct rmt_opts o = {.endpoint = endpoint, .region = "us-east-1"};
	struct rmt_stats st;
	struct dyn_err err;
	char **names;
	size_t k;
	rmt_t *c;
	int i, rc = 0;

	err_clear(&err);
	if (rmt_open(&o, &c, &err)) {
		printf("open failed: %s\n", err.msg);
		return 1;
	}
	printf("source %s id %s\n", rmt_creds_source(c), rmt_creds_id(c));
	for (i = 0; i < n && rc == 0; i++) {
		rc = rmt_list_tables(c, &names, &k, &err);
		if (rc == 0)
			rmt_free_names(names, k);
	}
	rmt_get_stats(c, &st);
	printf("calls %d rc %d refreshes %llu id %s\n", i, rc, (unsigned long long)st.refreshes,
	       rmt_creds_id(c));
	rmt_close(c);
	return rc ? 1 : 0;
}

/* Mean latency of n GetItem calls on a warm connection, in microseconds. */
static int cmd_bench(const char *endpoint, int n)
{
	rmt_t *c = open_client(endpoint);
	struct table_schema s;
	struct val item = J("{\"id\":\"bench\",\"payload\":\"0123456789abcdef\"}");
	struct val key = J("{\"id\":\"bench\"}"), got;
	struct timespec a, b;
	struct rmt_stats st;
	char t[64];
	bool found;
	int i;

	snprintf(t, sizeof(t), "bench-%d", getpid());
	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "id");
	s.pk.type = VAL_S;
	if (rmt_create_table(c, t, &s, NULL) || rmt_put_item(c, t, &item, NULL, NULL, NULL))
		return 1;
	rmt_get_item(c, t, &key, true, NULL, &got, &found, NULL);
	val_free(&got);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		if (rmt_get_item(c, t, &key, true, NULL, &got, &found, NULL) || !found)
			return 1;
		val_free(&got);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	rmt_get_stats(c, &st);
	printf("GetItem: %d calls, mean %.0f us, %llu connections in all\n", n,
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n,
	       (unsigned long long)st.connects);
	rmt_delete_table(c, t, NULL);
	val_free(&item);
	val_free(&key);
	rmt_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "bench"))
		return cmd_bench(argv[2], atoi(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "creds"))
		return cmd_creds(argv[2], atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "sign"))
		return cmd_sign();
	if (argc >= 3 && !strcmp(argv[1], "ops"))
		return cmd_ops(argv[2], argc >= 4 && !strcmp(argv[3], "--dynalite"));
	if (argc >= 5 && !strcmp(argv[1], "faults"))
		return cmd_faults(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: driver sign | bench ENDPOINT N | creds ENDPOINT N | ops ENDPOINT "
			"[--dynalite] | faults PROXY DIRECT N\n");
	return 2;
}
