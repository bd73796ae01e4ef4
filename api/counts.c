/*
 * counts.c - per-table request counts for the mount's _stats.json
 * (SPEC §9: /_errors and _stats.json cover both front ends).
 *
 * Every answered request is counted against each table it names:
 * TableName, the tables of RequestItems (BatchGetItem, BatchWriteItem)
 * and those of TransactItems.  Requests that name no table (ListTables,
 * the Streams operations) and requests for a table that does not exist
 * are not counted; a table's counts go when DeleteTable succeeds.  The
 * counters live in struct api's list, under api->lock, in memory: they
 * start at zero with each process, like the mount's own.
 *
 * _stats.json shows them as
 *
 *   "api": {
 *     "requests": 12,
 *     "errors": 1,
 *     "operations": {"GetItem": {"requests": 5, "errors": 0}, ...}
 *   }
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_MAX_TABLES 100 /* TransactItems holds at most 100 actions */

/* The counts of table name, created if create; NULL if not there (or no
 * memory).  Call with a->lock held. */
static struct api_tcount *tcount_get(api_t *a, const char *name, size_t len, bool create)
{
	struct api_tcount *c;

	for (c = a->tcounts; c; c = c->next)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	if (!create || !(c = calloc(1, sizeof(*c))) || !(c->name = strndup(name, len))) {
		free(c);
		return NULL;
	}
	c->next = a->tcounts;
	a->tcounts = c;
	return c;
}

static void tcount_drop(api_t *a, const char *name, size_t len)
{
	struct api_tcount **pp, *c;

	for (pp = &a->tcounts; (c = *pp); pp = &c->next) {
		if (strlen(c->name) == len && !memcmp(c->name, name, len)) {
			*pp = c->next;
			free(c->name);
			free(c);
			return;
		}
	}
}

static void tcount_add(struct api_tcount *c, const char *op, bool failed)
{
	size_t i;

	c->requests++;
	c->errors += failed;
	for (i = 0; i < c->nops && c->ops[i].name != op; i++)
		;
	if (i == API_COUNT_OPS)
		return;
	if (i == c->nops) {
		c->ops[i].name = op;
		c->nops++;
	}
	c->ops[i].requests++;
	c->ops[i].errors += failed;
}

/* The table names of one request (spans into its body), at most max. */
static size_t request_tables(const struct rq *r, struct sf_span *names, size_t max)
{
	struct sf_span v, x, k, y;
	struct sf_iter it, ai;
	size_t n = 0;

	if (strncmp(r->op, "Batch", 5) && strncmp(r->op, "Transact", 8)) {
		if (rq_member(r->body, "TableName", &v) && v.len > 2 && v.p[0] == '"')
			names[n++] = (struct sf_span){v.p + 1, v.len - 2};
		return n;
	}
	if (rq_member(r->body, "RequestItems", &v) && sf_obj_open(&it, v) == 0)
		while (n < max && sf_obj_next(&it, &k, &x) > 0)
			if (k.len > 2)
				names[n++] = (struct sf_span){k.p + 1, k.len - 2};
	if (rq_member(r->body, "TransactItems", &v) && sf_arr_open(&ai, v) == 0)
		while (n < max && sf_arr_next(&ai, &x) > 0)
			if (sf_obj_open(&it, x) == 0 && sf_obj_next(&it, &k, &y) > 0 &&
			    rq_member(y, "TableName", &v) && v.len > 2 && v.p[0] == '"')
				names[n++] = (struct sf_span){v.p + 1, v.len - 2};
	return n;
}

void counts_note(api_t *a, const struct rq *r, bool failed)
{
	struct sf_span names[COUNT_MAX_TABLES];
	bool exists[COUNT_MAX_TABLES];
	size_t n, i, j;
	table_t *t;
	char *name;

	if (!r->op || !r->body.p)
		return;
	n = request_tables(r, names, COUNT_MAX_TABLES);
	for (i = 0; i < n; i++) {
		/* names are counted as written (no JSON escapes in table names);
		 * an answered request's tables exist, but for DeleteTable's */
		exists[i] = !failed && strcmp(r->op, "DeleteTable");
		if (exists[i])
			continue;
		if (!(name = strndup(names[i].p, names[i].len)))
			continue;
		if (db_table_open(a->db, name, &t) == 0) {
			exists[i] = true;
			tbl_close(t);
		}
		free(name);
	}
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < n; i++) {
		struct api_tcount *c;

		for (j = 0; j < i; j++) /* one count per table per request */
			if (names[j].len == names[i].len && !memcmp(names[j].p, names[i].p, names[i].len))
				break;
		if (j < i)
			continue;
		if (!exists[i]) {
			tcount_drop(a, names[i].p, names[i].len); /* DeleteTable, or gone */
			continue;
		}
		c = tcount_get(a, names[i].p, names[i].len, true);
		if (c)
			tcount_add(c, r->op, failed);
	}
	pthread_mutex_unlock(&a->lock);
}

void counts_free(api_t *a)
{
	struct api_tcount *c;

	while ((c = a->tcounts)) {
		a->tcounts = c->next;
		free(c->name);
		free(c);
	}
}

int api_table_stats(api_t *a, const char *table, char **out)
{
	struct sf_buf b = SF_BUF_INIT;
	struct api_tcount *c;
	size_t i;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&a->lock);
	c = tcount_get(a, table, strlen(table), false);
	if (c)
		rc = sf_buf_printf(&b, ",\n  \"api\": {\n    \"requests\": %llu,\n    \"errors\": %llu,\n"
				   "    \"operations\": {",
				   (unsigned long long)c->requests, (unsigned long long)c->errors);
	for (i = 0; c && rc == 0 && i < c->nops; i++)
		rc = sf_buf_printf(&b, "%s\n      \"%s\": {\"requests\": %llu, \"errors\": %llu}",
				   i ? "," : "", c->ops[i].name,
				   (unsigned long long)c->ops[i].requests,
				   (unsigned long long)c->ops[i].errors);
	if (c && rc == 0)
		rc = sf_buf_adds(&b, c->nops ? "\n    }\n  }" : "}\n  }");
	pthread_mutex_unlock(&a->lock);
	if (rc < 0) {
		sf_buf_free(&b);
		return -ENOMEM;
	}
	*out = b.p;
	return 0;
}
