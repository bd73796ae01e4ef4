/*
 * fuzz_api.c - libFuzzer target for the DynamoDB API's request handling
 * (api/api.h: api_handle), no sockets.
 *
 * The input's first line names the operation (the X-Amz-Target suffix;
 * a leading digit 0-9 picks one of the common operations instead, so
 * the fuzzer need not find the names), the rest is the request body.
 * A fresh database per run holds the design notes' tables, users
 * (username, with email-index) and quiz-stats (id#level + week), and a
 * few items.  Beyond the sanitizers the target checks: every answer is
 * one JSON object, errors carry a __type and a 400 or 500 status,
 * successes 200, and every table and index is consistent afterwards.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"

static const char *const common[] = {"PutItem",	 "GetItem",	   "UpdateItem",
				     "DeleteItem", "Query",	   "Scan",
				     "BatchWriteItem", "TransactWriteItems", "CreateTable",
				     "UpdateTable"};

static void call(api_t *a, const char *op, const char *body, size_t len)
{
	char target[128];
	struct api_resp r;
	json_t *j;

	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	if (api_handle(a, target, body, len, &r) < 0)
		return;
	j = json_loadb(r.body, r.len, 0, NULL);
	if (!j || !json_is_object(j))
		abort();
	if (r.status == 200 ? json_object_get(j, "__type") != NULL
			    : (!json_object_get(j, "__type") || (r.status != 400 && r.status != 500)))
		abort();
	json_decref(j);
	free(r.body);
}

static void seed(api_t *a)
{
	static const char *const s[][2] = {
		{"CreateTable", "{\"TableName\":\"users\",\"BillingMode\":\"PAY_PER_REQUEST\","
				"\"KeySchema\":[{\"AttributeName\":\"username\",\"KeyType\":\"HASH\"}],"
				"\"AttributeDefinitions\":[{\"AttributeName\":\"username\","
				"\"AttributeType\":\"S\"},{\"AttributeName\":\"email\",\"AttributeType\":"
				"\"S\"}],\"GlobalSecondaryIndexes\":[{\"IndexName\":\"email-index\","
				"\"KeySchema\":[{\"AttributeName\":\"email\",\"KeyType\":\"HASH\"}],"
				"\"Projection\":{\"ProjectionType\":\"ALL\"}}]}"},
		{"CreateTable", "{\"TableName\":\"quiz-stats\",\"BillingMode\":\"PAY_PER_REQUEST\","
				"\"KeySchema\":[{\"AttributeName\":\"id#level\",\"KeyType\":\"HASH\"},"
				"{\"AttributeName\":\"week\",\"KeyType\":\"RANGE\"}],"
				"\"AttributeDefinitions\":[{\"AttributeName\":\"id#level\","
				"\"AttributeType\":\"S\"},{\"AttributeName\":\"week\",\"AttributeType\":"
				"\"S\"}]}"},
		{"PutItem", "{\"TableName\":\"users\",\"Item\":{\"username\":{\"S\":\"hedy\"},"
			    "\"email\":{\"S\":\"h@h\"},\"n\":{\"N\":\"1\"},\"l\":{\"L\":[{\"S\":\"x\"}]}}}"},
		{"PutItem", "{\"TableName\":\"quiz-stats\",\"Item\":{\"id#level\":{\"S\":\"f#1\"},"
			    "\"week\":{\"S\":\"w1\"},\"s\":{\"SS\":[\"a\"]}}}"},
	};
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		call(a, s[i][0], s[i][1], strlen(s[i][1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl = memchr(p, '\n', size);
	char op[64], *why = NULL;
	size_t n;
	db_t *db;
	api_t *a;

	if (!nl || (size_t)(nl - p) >= sizeof(op))
		return 0;
	n = (size_t)(nl - p);
	memcpy(op, p, n);
	op[n] = 0;
	if (n == 1 && op[0] >= '0' && op[0] <= '9')
		snprintf(op, sizeof(op), "%s", common[op[0] - '0']);
	if (db_new(&db) < 0)
		return 0;
	if (api_new(db, NULL, &a, NULL) < 0) {
		db_free(db);
		return 0;
	}
	seed(a);
	call(a, op, nl + 1, size - n - 1);
	if (db_check_integrity(db, &why) < 0) {
		fprintf(stderr, "integrity: %s\n", why);
		abort();
	}
	api_free(a);
	db_free(db);
	return 0;
}
