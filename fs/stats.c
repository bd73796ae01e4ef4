/*
 * stats.c - /<table>/_stats.json (SPEC §2): a read-only summary of a
 * table, rendered when it is opened (and when stat asks for its size):
 *
 *   {
 *     "items": 5,
 *     "bytes": 412,
 *     "partitions": 4,
 *     "indexes": {
 *       "email-index": 3
 *     }
 *   }
 *
 * "bytes" is the sum of DynamoDB item sizes (item_size), "partitions" the
 * number of distinct partition key values, and each index count the items
 * that index holds (sparse indexes hold fewer than the table).  Indexes
 * are listed in the order _schema.json lists them.  The file as read
 * also has "scratch_files" and "scratch" (discard.c: the table's
 * non-empty scratch files, which are never stored).
 *
 * A backend whose figures are estimates (no BE_CAP_EXACT_STATS: DynamoDB
 * updates ItemCount and TableSizeBytes about every six hours) adds
 * "estimated": true after "partitions"; a local store's are exact and
 * the line is absent.
 *
 * The engine reports per-index counts in schema order; a schema change
 * between reading the schema and the counts would pair names with the
 * wrong numbers, so the schema is read before and after the counts and the
 * whole thing is retried if the index list changed in between.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define STATS_RETRIES 4

static bool same_indexes(const struct table_schema *a, const struct table_schema *b)
{
	size_t i;

	if (a->nindex != b->nindex)
		return false;
	for (i = 0; i < a->nindex; i++)
		if (strcmp(a->index[i].name, b->index[i].name))
			return false;
	return true;
}

/* Render st with the index names of s (new). */
static int render(const struct table_schema *s, const struct tbl_stats *st, bool estimated,
		  char **out, size_t *len)
{
	size_t cap = 192 + s->nindex * (DB_NAME_MAX + 32), n;
	char *p = malloc(cap);
	size_t i;

	if (!p)
		return -ENOMEM;
	n = (size_t)snprintf(p, cap,
			     "{\n  \"items\": %llu,\n  \"bytes\": %llu,\n  \"partitions\": %llu,\n"
			     "%s  \"indexes\": {",
			     (unsigned long long)st->items, (unsigned long long)st->bytes,
			     (unsigned long long)st->partitions,
			     estimated ? "  \"estimated\": true,\n" : "");
	/* index names are [A-Za-z0-9_.-]: nothing to escape */
	for (i = 0; i < s->nindex && i < DB_MAX_INDEXES; i++)
		n += (size_t)snprintf(p + n, cap - n, "%s\n    \"%s\": %llu", i ? "," : "",
				      s->index[i].name, (unsigned long long)st->index_items[i]);
	n += (size_t)snprintf(p + n, cap - n, "%s}\n}\n", s->nindex ? "\n  " : "");
	*out = p;
	*len = n;
	return 0;
}

int stats_text(be_table_t *t, char **out, size_t *len)
{
	struct table_schema a, b;
	struct tbl_stats st;
	int tries, rc;

	for (tries = 0;; tries++) {
		rc = be_table_schema(t, &a, NULL);
		if (rc < 0)
			return rc;
		be_table_stats(t, &st);
		rc = be_table_schema(t, &b, NULL);
		if (rc < 0) {
			schema_free(&a);
			return rc;
		}
		if (same_indexes(&a, &b) || tries == STATS_RETRIES)
			break;
		schema_free(&a);
		schema_free(&b);
	}
	rc = render(&b, &st, !(be_caps(t->be) & BE_CAP_EXACT_STATS), out, len);
	schema_free(&a);
	schema_free(&b);
	return rc;
}
