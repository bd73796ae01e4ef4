/*
 * check_api.c - the DynamoDB API front end without a socket: requests
 * go straight into api_handle() over a fresh in-memory database, answers
 * are read back with jansson.  Semantics checked here are DynamoDB's:
 * error types and status, ReturnValues, Limit before the filter,
 * LastEvaluatedKey paging, transactions' CancellationReasons, token
 * idempotency, the CRC32 of bodies.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "expr.h"
#include "ttl.h"

static db_t *adb;
static api_t *api;
static char errors[4096]; /* what on_error reported */

static void on_error(void *ctx, const char *what, const char *msg)
{
	size_t n = strlen(errors);

	snprintf(errors + n, sizeof(errors) - n, "%s: %s\n", what, msg);
}

static void setup(void)
{
	struct api_opts o = {.on_error = on_error};

	errors[0] = 0;
	ck_assert_int_eq(db_new(&adb), 0);
	ck_assert_int_eq(api_new(adb, &o, &api, NULL), 0);
}

static void teardown(void)
{
	char *why = NULL;

	api_free(api);
	ck_assert_msg(db_check_integrity(adb, &why) == 0, "%s", why ? why : "");
	db_free(adb);
}

struct res {
	int status;	/* HTTP status */
	json_t *j;	/* the body (owned by the last call) */
	char type[96];	/* error type short name */
	char body[8192];/* the body text, for messages */
};

static struct res R;

/* Call op with a printf-formatted body (single quotes become double). */
static json_t *call(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *call(const char *op, const char *fmt, ...)
{
	char *body, target[128];
	struct api_resp resp;
	json_error_t je;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&body, fmt, ap), 0);
	va_end(ap);
	for (p = body; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (strchr(op, '.')) /* a full target: DynamoDBStreams_20120810.Op */
		snprintf(target, sizeof(target), "%s", op);
	else
		snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	ck_assert_int_eq(api_handle(api, target, body, strlen(body), &resp), 0);
	free(body);
	json_decref(R.j);
	R.status = resp.status;
	snprintf(R.type, sizeof(R.type), "%s", resp.error);
	snprintf(R.body, sizeof(R.body), "%.*s", (int)resp.len, resp.body);
	R.j = json_loadb(resp.body, resp.len, 0, &je);
	ck_assert_msg(R.j != NULL, "answer is not JSON: %s", R.body);
	free(resp.body);
	return R.j;
}

#define OK(op, ...)                                                                          \
	do {                                                                                 \
		call(op, __VA_ARGS__);                                                       \
		ck_assert_msg(R.status == 200, "%s failed: %s", op, R.body);                 \
	} while (0)
#define FAILS(type_, op, ...)                                                                \
	do {                                                                                 \
		call(op, __VA_ARGS__);                                                       \
		ck_assert_msg(R.status == 400 && !strcmp(R.type, type_), "%s: wanted %s: %s", \
			      op, type_, R.body);                                            \
	} while (0)

/* The string at a JSON pointer-ish path "a.b.0.c" of R.j, as compact JSON. */
static const char *at(const char *path)
{
	static char out[4096];
	char buf[256], *tok, *save;
	json_t *j = R.j;
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok)) : json_object_get(j, tok);
	if (!j)
		return "(missing)";
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	snprintf(out, sizeof(out), "%s", s);
	free(s);
	return out;
}

static void mk_quiz(void)
{
	OK("CreateTable",
	   "{'TableName':'quiz-stats','BillingMode':'PAY_PER_REQUEST',"
	   "'KeySchema':[{'AttributeName':'id#level','KeyType':'HASH'},"
	   "{'AttributeName':'week','KeyType':'RANGE'}],"
	   "'AttributeDefinitions':[{'AttributeName':'id#level','AttributeType':'S'},"
	   "{'AttributeName':'week','AttributeType':'S'},{'AttributeName':'id','AttributeType':'S'}],"
	   "'GlobalSecondaryIndexes':[{'IndexName':'id-week-index','KeySchema':["
	   "{'AttributeName':'id','KeyType':'HASH'},{'AttributeName':'week','KeyType':'RANGE'}],"
	   "'Projection':{'ProjectionType':'ALL'}}]}");
}

/* ---- protocol ---- */

START_TEST(test_unknown_operation_and_bad_json)
{
	struct api_resp resp;

	ck_assert_int_eq(api_handle(api, "DynamoDB_20120810.Frobnicate", "{}", 2, &resp), 0);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_str_eq(resp.error, "UnknownOperationException");
	ck_assert_ptr_nonnull(strstr(resp.body, "com.amazon.coral.service#UnknownOperationException"));
	free(resp.body);
	ck_assert_int_eq(api_handle(api, NULL, "{}", 2, &resp), 0);
	ck_assert_str_eq(resp.error, "UnknownOperationException");
	free(resp.body);
	FAILS("SerializationException", "ListTables", "{'Limit': ");
	FAILS("SerializationException", "ListTables", "[1]");
	FAILS("SerializationException", "ListTables", "{'Limit':'ten'}");
}
END_TEST

START_TEST(test_crc32)
{
	ck_assert_uint_eq(api_crc32("", 0), 0);
	ck_assert_uint_eq(api_crc32("123456789", 9), 0xCBF43926u);
}
END_TEST

/* ---- tables ---- */

START_TEST(test_create_describe_delete)
{
	mk_quiz();
	ck_assert_str_eq(at("TableDescription.TableStatus"), "\"ACTIVE\"");
	ck_assert_str_eq(at("TableDescription.KeySchema.1.AttributeName"), "\"week\"");
	ck_assert_str_eq(at("TableDescription.GlobalSecondaryIndexes.0.IndexName"),
			 "\"id-week-index\"");
	FAILS("ResourceInUseException", "CreateTable",
	      "{'TableName':'quiz-stats','BillingMode':'PAY_PER_REQUEST',"
	      "'KeySchema':[{'AttributeName':'a','KeyType':'HASH'}],"
	      "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'}]}");
	OK("DescribeTable", "{'TableName':'quiz-stats'}");
	ck_assert_str_eq(at("Table.ItemCount"), "0");
	FAILS("ResourceNotFoundException", "DescribeTable", "{'TableName':'nope'}");
	OK("DeleteTable", "{'TableName':'quiz-stats'}");
	ck_assert_str_eq(at("TableDescription.TableStatus"), "\"DELETING\"");
	FAILS("ResourceNotFoundException", "DeleteTable", "{'TableName':'quiz-stats'}");
}
END_TEST

START_TEST(test_create_rejects_bad_definitions)
{
#define KEY_A "'KeySchema':[{'AttributeName':'a','KeyType':'HASH'}],"
	static const struct {
		const char *body, *msg;
	} cases[] = {
		{"{'TableName':'tbl','BillingMode':'PAY_PER_REQUEST'," KEY_A
		 "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'},"
		 "{'AttributeName':'b','AttributeType':'S'}]}",
		 "The number of attributes in key schema must match"},
		{"{'TableName':'tbl','BillingMode':'PAY_PER_REQUEST'," KEY_A
		 "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'BOOL'}]}",
		 "Value 'BOOL' at 'attributeDefinitions.1.member.attributeType'"},
		{"{'TableName':'tbl'," KEY_A
		 "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'}]}",
		 "must both be specified when BillingMode is PROVISIONED"},
		{"{'TableName':'tbl','BillingMode':'PAY_PER_REQUEST'," KEY_A
		 "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'}],"
		 "'Tags':[{'Key':'k'}]}",
		 "Member must not be null"},
		{"{'TableName':'x','BillingMode':'PAY_PER_REQUEST'," KEY_A
		 "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'}]}",
		 "Invalid table/index name"},
	};
#undef KEY_A
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FAILS("ValidationException", "CreateTable", "%s", cases[i].body);
		ck_assert_msg(strstr(R.body, cases[i].msg), "case %zu: %s", i, R.body);
	}
	/* nothing was created, not even by the request whose Tags were bad */
	FAILS("ResourceNotFoundException", "DescribeTable", "{'TableName':'tbl'}");
	ck_assert_ptr_nonnull(strstr(errors, "api CreateTable"));
}
END_TEST

START_TEST(test_list_tables_pages)
{
	const char *names[] = {"aaa", "bbb", "ccc"};
	size_t i;

	for (i = 0; i < 3; i++)
		OK("CreateTable",
		   "{'TableName':'%s','ProvisionedThroughput':{'ReadCapacityUnits':1,"
		   "'WriteCapacityUnits':1},'KeySchema':[{'AttributeName':'a','KeyType':'HASH'}],"
		   "'AttributeDefinitions':[{'AttributeName':'a','AttributeType':'S'}]}",
		   names[i]);
	OK("ListTables", "{'Limit':2}");
	ck_assert_str_eq(at("TableNames"), "[\"aaa\",\"bbb\"]");
	ck_assert_str_eq(at("LastEvaluatedTableName"), "\"bbb\"");
	OK("ListTables", "{'Limit':2,'ExclusiveStartTableName':'bbb'}");
	ck_assert_str_eq(at("TableNames"), "[\"ccc\"]");
	ck_assert_str_eq(at("LastEvaluatedTableName"), "(missing)");
	FAILS("ValidationException", "ListTables", "{'Limit':0}");
}
END_TEST

/* A new global index's ProvisionedThroughput: required on a PROVISIONED
 * table, refused on an on-demand one (DynamoDB's rule; the remote backend
 * gives a provisioned table's new index the table's capacity). */
START_TEST(test_update_table_index_throughput_follows_billing)
{
	static const char *const create_ix =
		"'GlobalSecondaryIndexUpdates':[{'Create':{'IndexName':'e-index','KeySchema':"
		"[{'AttributeName':'e','KeyType':'HASH'}],'Projection':{'ProjectionType':'ALL'}";

	mk_quiz(); /* on demand */
	OK("CreateTable", "{'TableName':'prov','ProvisionedThroughput':{'ReadCapacityUnits':3,"
	   "'WriteCapacityUnits':4},'KeySchema':[{'AttributeName':'id','KeyType':'HASH'}],"
	   "'AttributeDefinitions':[{'AttributeName':'id','AttributeType':'S'}]}");
	call("UpdateTable", "{'TableName':'prov','AttributeDefinitions':[{'AttributeName':'e',"
	     "'AttributeType':'S'}],%s}}]}", create_ix);
	ck_assert_msg(R.status == 400 && strstr(R.body, "ProvisionedThroughput is not specified for "
						"index: e-index"), "%s", R.body);
	call("UpdateTable", "{'TableName':'quiz-stats','AttributeDefinitions':[{'AttributeName':'e',"
	     "'AttributeType':'S'}],%s,'ProvisionedThroughput':{'ReadCapacityUnits':1,"
	     "'WriteCapacityUnits':1}}}]}", create_ix);
	ck_assert_msg(R.status == 400 && strstr(R.body, "should not be specified for index: e-index "
						"when BillingMode is PAY_PER_REQUEST"), "%s", R.body);
	OK("UpdateTable", "{'TableName':'prov','AttributeDefinitions':[{'AttributeName':'e',"
	   "'AttributeType':'S'}],%s,'ProvisionedThroughput':{'ReadCapacityUnits':1,"
	   "'WriteCapacityUnits':1}}}]}", create_ix);
	OK("DescribeTable", "{'TableName':'prov'}");
	ck_assert_str_eq(at("Table.GlobalSecondaryIndexes.0.IndexName"), "\"e-index\"");
}
END_TEST

START_TEST(test_update_table_adds_index_with_backfill)
{
	mk_quiz();
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'},"
	   "'level':{'N':'3'}}}");
	OK("UpdateTable", "{'TableName':'quiz-stats','AttributeDefinitions':[{'AttributeName':"
	   "'level','AttributeType':'N'}],'GlobalSecondaryIndexUpdates':[{'Create':{'IndexName':"
	   "'level-index','KeySchema':[{'AttributeName':'level','KeyType':'HASH'}],'Projection':"
	   "{'ProjectionType':'KEYS_ONLY'}}}]}");
	OK("Query", "{'TableName':'quiz-stats','IndexName':'level-index',"
	   "'KeyConditionExpression':'#l = :l','ExpressionAttributeNames':{'#l':'level'},"
	   "'ExpressionAttributeValues':{':l':{'N':'3'}}}");
	ck_assert_str_eq(at("Count"), "1");
	ck_assert_str_eq(at("Items.0.level"), "{\"N\":\"3\"}");
	OK("UpdateTable", "{'TableName':'quiz-stats','GlobalSecondaryIndexUpdates':[{'Delete':"
	   "{'IndexName':'level-index'}}]}");
	FAILS("ValidationException", "Query",
	      "{'TableName':'quiz-stats','IndexName':'level-index','KeyConditionExpression':"
	      "'#l = :l','ExpressionAttributeNames':{'#l':'level'},"
	      "'ExpressionAttributeValues':{':l':{'N':'3'}}}");
}
END_TEST

/* ---- items ---- */

START_TEST(test_put_get_delete_return_values)
{
	mk_quiz();
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'},"
	   "'n':{'N':'12345678901234567890123456789012345678'}}}");
	ck_assert_str_eq(R.body, "{}");
	OK("PutItem", "{'TableName':'quiz-stats','ReturnValues':'ALL_OLD','Item':{'id#level':"
	   "{'S':'f#1'},'week':{'S':'w1'},'n':{'N':'1'}}}");
	ck_assert_str_eq(at("Attributes.n.N"), "\"12345678901234567890123456789012345678\"");
	OK("GetItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	   "'ProjectionExpression':'n'}");
	ck_assert_str_eq(at("Item"), "{\"n\":{\"N\":\"1\"}}");
	OK("GetItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':{'S':'nope'}}}");
	ck_assert_str_eq(R.body, "{}");
	FAILS("ValidationException", "GetItem",
	      "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'}}}");
	FAILS("ValidationException", "GetItem",
	      "{'TableName':'quiz-stats','Key':{'id#level':{'N':'1'},'week':{'S':'w'}}}");
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'week':{'S':'w1'}}}");
	FAILS("ResourceNotFoundException", "PutItem", "{'TableName':'nope','Item':{'a':{'S':'x'}}}");
	OK("DeleteItem", "{'TableName':'quiz-stats','ReturnValues':'ALL_OLD','Key':{'id#level':"
	   "{'S':'f#1'},'week':{'S':'w1'}}}");
	ck_assert_str_eq(at("Attributes.n.N"), "\"1\"");
	OK("DeleteItem", "{'TableName':'quiz-stats','ReturnValues':'ALL_OLD','Key':{'id#level':"
	   "{'S':'f#1'},'week':{'S':'w1'}}}");
	ck_assert_str_eq(R.body, "{}");
	FAILS("ValidationException", "DeleteItem", "{'TableName':'quiz-stats','ReturnValues':"
	      "'ALL_NEW','Key':{'id#level':{'S':'f#1'},'week':{'S':'w1'}}}");
}
END_TEST

START_TEST(test_conditions)
{
	mk_quiz();
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'},"
	   "'v':{'N':'1'}},'ConditionExpression':'attribute_not_exists(#k)',"
	   "'ExpressionAttributeNames':{'#k':'id#level'}}");
	FAILS("ConditionalCheckFailedException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'attribute_not_exists(#k)','ExpressionAttributeNames':{'#k':"
	      "'id#level'},'ReturnValuesOnConditionCheckFailure':'ALL_OLD'}");
	ck_assert_str_eq(at("Item.v.N"), "\"1\"");
	/* a failed condition is the application's business, not an error to log */
	ck_assert_ptr_null(strstr(errors, "PutItem"));
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'v = :x','ExpressionAttributeValues':{':x':{'N':'1'},"
	      "':unused':{'N':'2'}}}");
	ck_assert_ptr_nonnull(strstr(R.body, "unused"));
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'v = :nope'}");
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ExpressionAttributeValues':{':x':{'N':'1'}}}");
	ck_assert_ptr_nonnull(strstr(errors, "api PutItem quiz-stats"));
	/* DynamoDB's reserved words are no bare names over the API */
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'Level = :x','ExpressionAttributeValues':{':x':{'N':'1'}}}");
	ck_assert_ptr_nonnull(strstr(R.body, "reserved keyword: Level"));
	/* and dynfs's own extensions are off: no inline literals, no `names` */
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'v = 1'}");
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'ConditionExpression':'attribute_exists(`a-b`)'}");
	/* the two styles do not mix */
	FAILS("ValidationException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'Expected':{'v':{'Exists':false}},'ConditionExpression':'attribute_exists(v)'}");
	ck_assert_ptr_nonnull(strstr(R.body, "Non-expression parameters: {Expected}"));
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	   "'ConditionExpression':'#l = :x OR v = :x','ExpressionAttributeNames':{'#l':'level'},"
	   "'ExpressionAttributeValues':{':x':{'N':'1'}}}");
}
END_TEST

START_TEST(test_update_return_values)
{
	mk_quiz();
	OK("UpdateItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':"
	   "{'S':'w1'}},'UpdateExpression':'SET a = :a, b = :b','ExpressionAttributeValues':"
	   "{':a':{'N':'1'},':b':{'S':'x'}},'ReturnValues':'ALL_NEW'}");
	ck_assert_str_eq(at("Attributes.a.N"), "\"1\"");
	ck_assert_str_eq(at("Attributes.week.S"), "\"w1\"");
	OK("UpdateItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':"
	   "{'S':'w1'}},'UpdateExpression':'ADD a :one','ExpressionAttributeValues':"
	   "{':one':{'N':'1'}},'ReturnValues':'UPDATED_OLD'}");
	ck_assert_str_eq(at("Attributes"), "{\"a\":{\"N\":\"1\"}}");
	OK("UpdateItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':"
	   "{'S':'w1'}},'UpdateExpression':'ADD a :one REMOVE b','ExpressionAttributeValues':"
	   "{':one':{'N':'1'}},'ReturnValues':'UPDATED_NEW'}");
	ck_assert_str_eq(at("Attributes"), "{\"a\":{\"N\":\"3\"}}");
	OK("UpdateItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':"
	   "{'S':'w1'}},'UpdateExpression':'SET c = :c','ExpressionAttributeValues':"
	   "{':c':{'L':[]}},'ReturnValues':'ALL_OLD'}");
	ck_assert_str_eq(at("Attributes.a.N"), "\"3\"");
	ck_assert_str_eq(at("Attributes.c"), "(missing)");
	FAILS("ValidationException", "UpdateItem",
	      "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'UpdateExpression':'SET week = :w','ExpressionAttributeValues':{':w':{'S':'w2'}}}");
	FAILS("ConditionalCheckFailedException", "UpdateItem",
	      "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':{'S':'w1'}},"
	      "'UpdateExpression':'SET z = :z','ConditionExpression':'a > :z',"
	      "'ExpressionAttributeValues':{':z':{'N':'10'}}}");
}
END_TEST

/* ---- Query and Scan ---- */

static void fill_quiz(int n)
{
	int i;

	mk_quiz();
	for (i = 0; i < n; i++)
		OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':"
		   "{'S':'w%02d'},'id':{'S':'f'},'odd':{'BOOL':%s}}}",
		   i, i % 2 ? "true" : "false");
}

START_TEST(test_query_limit_before_filter_and_paging)
{
	fill_quiz(10);
	OK("Query", "{'TableName':'quiz-stats','KeyConditionExpression':'#k = :k AND week >= :w',"
	   "'FilterExpression':'odd = :t','Limit':4,'ExpressionAttributeNames':{'#k':'id#level'},"
	   "'ExpressionAttributeValues':{':k':{'S':'f#1'},':w':{'S':'w02'},':t':{'BOOL':true}}}");
	ck_assert_str_eq(at("ScannedCount"), "4");
	ck_assert_str_eq(at("Count"), "2");
	ck_assert_str_eq(at("Items.0.week.S"), "\"w03\"");
	ck_assert_str_eq(at("LastEvaluatedKey"), "{\"id#level\":{\"S\":\"f#1\"},\"week\":{\"S\":\"w05\"}}");
	OK("Query", "{'TableName':'quiz-stats','KeyConditionExpression':'#k = :k AND week >= :w',"
	   "'ExclusiveStartKey':{'id#level':{'S':'f#1'},'week':{'S':'w05'}},"
	   "'ExpressionAttributeNames':{'#k':'id#level'},"
	   "'ExpressionAttributeValues':{':k':{'S':'f#1'},':w':{'S':'w02'}}}");
	ck_assert_str_eq(at("Count"), "4");
	ck_assert_str_eq(at("LastEvaluatedKey"), "(missing)");
	OK("Query", "{'TableName':'quiz-stats','KeyConditionExpression':'#k = :k AND "
	   "begins_with(week, :p)','ScanIndexForward':false,'Select':'COUNT',"
	   "'ExpressionAttributeNames':{'#k':'id#level'},"
	   "'ExpressionAttributeValues':{':k':{'S':'f#1'},':p':{'S':'w0'}}}");
	ck_assert_str_eq(at("Count"), "10");
	ck_assert_str_eq(at("Items"), "(missing)");
	OK("Query", "{'TableName':'quiz-stats','KeyConditionExpression':'#k = :k AND week "
	   "BETWEEN :a AND :b','ScanIndexForward':false,'ProjectionExpression':'week',"
	   "'ExpressionAttributeNames':{'#k':'id#level'},"
	   "'ExpressionAttributeValues':{':k':{'S':'f#1'},':a':{'S':'w03'},':b':{'S':'w05'}}}");
	ck_assert_str_eq(at("Items"), "[{\"week\":{\"S\":\"w05\"}},{\"week\":{\"S\":\"w04\"}},"
				       "{\"week\":{\"S\":\"w03\"}}]");
	OK("Query", "{'TableName':'quiz-stats','IndexName':'id-week-index','Limit':1,"
	   "'KeyConditionExpression':'id = :i','ExpressionAttributeValues':{':i':{'S':'f'}}}");
	ck_assert_str_eq(at("LastEvaluatedKey"), "{\"id\":{\"S\":\"f\"},\"id#level\":{\"S\":"
						 "\"f#1\"},\"week\":{\"S\":\"w00\"}}");
}
END_TEST

START_TEST(test_query_rejects_bad_key_conditions)
{
#define K "'ExpressionAttributeNames':{'#k':'id#level'},"
	static const struct {
		const char *body, *msg;
	} cases[] = {
		{"'KeyConditionExpression':'week = :w','ExpressionAttributeValues':{':w':{'S':'w'}}",
		 "missed key schema element: id#level"},
		{"'KeyConditionExpression':'#k = :k OR week = :k'," K
		 "'ExpressionAttributeValues':{':k':{'S':'w'}}",
		 "Invalid operator used in KeyConditionExpression: OR"},
		{"'KeyConditionExpression':'#k < :k'," K "'ExpressionAttributeValues':{':k':{'S':'w'}}",
		 "Query key condition not supported"},
		{"'KeyConditionExpression':'#k = :k'," K "'ExpressionAttributeValues':{':k':{'N':'1'}}",
		 "Condition parameter type does not match schema type"},
		{"'IndexName':'id-week-index','ConsistentRead':true,'KeyConditionExpression':'id = :i',"
		 "'ExpressionAttributeValues':{':i':{'S':'f'}}",
		 "Consistent reads are not supported on global secondary indexes"},
		{"'Limit':1", "Either the KeyConditions or KeyConditionExpression parameter"},
	};
#undef K
	size_t i;

	fill_quiz(1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FAILS("ValidationException", "Query", "{'TableName':'quiz-stats',%s}", cases[i].body);
		ck_assert_msg(strstr(R.body, cases[i].msg), "case %zu: %s", i, R.body);
	}
}
END_TEST

START_TEST(test_scan_segments_and_paging)
{
	int seg, total = 0;
	char esk[512] = "";

	fill_quiz(10);
	for (seg = 0; seg < 3; seg++) {
		OK("Scan", "{'TableName':'quiz-stats','Segment':%d,'TotalSegments':3}", seg);
		total += atoi(at("Count"));
	}
	ck_assert_int_eq(total, 10);
	FAILS("ValidationException", "Scan", "{'TableName':'quiz-stats','Segment':3,"
	      "'TotalSegments':3}");
	FAILS("ValidationException", "Scan", "{'TableName':'quiz-stats','Segment':0}");
	total = 0;
	do {
		OK("Scan", "{'TableName':'quiz-stats','Limit':3%s%s}", esk[0] ? ",'ExclusiveStartKey':" : "",
		   esk);
		total += atoi(at("Count"));
		snprintf(esk, sizeof(esk), "%s", strcmp(at("LastEvaluatedKey"), "(missing)") ?
			 at("LastEvaluatedKey") : "");
	} while (esk[0]);
	ck_assert_int_eq(total, 10);
	OK("Scan", "{'TableName':'quiz-stats','FilterExpression':'odd = :t','Select':'COUNT',"
	   "'ExpressionAttributeValues':{':t':{'BOOL':true}}}");
	ck_assert_str_eq(at("Count"), "5");
	ck_assert_str_eq(at("ScannedCount"), "10");
}
END_TEST

START_TEST(test_scan_pages_at_one_megabyte)
{
	static char big[300001];
	int i;

	memset(big, 'x', sizeof(big) - 1);
	mk_quiz();
	for (i = 0; i < 5; i++)
		OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'p'},'week':"
		   "{'S':'w%d'},'big':{'S':'%s'}}}", i, big);
	OK("Scan", "{'TableName':'quiz-stats','Select':'COUNT'}");
	ck_assert_str_eq(at("Count"), "4");
	ck_assert_str_ne(at("LastEvaluatedKey"), "(missing)");
}
END_TEST

/* ---- batches and transactions ---- */

START_TEST(test_batch_write_and_get)
{
	mk_quiz();
	OK("BatchWriteItem", "{'RequestItems':{'quiz-stats':[{'PutRequest':{'Item':{'id#level':"
	   "{'S':'a'},'week':{'S':'1'}}}},{'PutRequest':{'Item':{'id#level':{'S':'b'},'week':"
	   "{'S':'1'}}}}]}}");
	ck_assert_str_eq(at("UnprocessedItems"), "{}");
	OK("BatchGetItem", "{'RequestItems':{'quiz-stats':{'Keys':[{'id#level':{'S':'a'},'week':"
	   "{'S':'1'}},{'id#level':{'S':'zz'},'week':{'S':'1'}}]}}}");
	ck_assert_str_eq(at("Responses.quiz-stats.0.id#level.S"), "\"a\"");
	ck_assert_str_eq(at("Responses.quiz-stats.1"), "(missing)");
	FAILS("ValidationException", "BatchWriteItem", "{'RequestItems':{'quiz-stats':["
	      "{'DeleteRequest':{'Key':{'id#level':{'S':'a'},'week':{'S':'1'}}}},"
	      "{'DeleteRequest':{'Key':{'id#level':{'S':'a'},'week':{'S':'1'}}}}]}}");
	OK("BatchWriteItem", "{'RequestItems':{'quiz-stats':[{'DeleteRequest':{'Key':{'id#level':"
	   "{'S':'a'},'week':{'S':'1'}}}}]}}");
	OK("Scan", "{'TableName':'quiz-stats','Select':'COUNT'}");
	ck_assert_str_eq(at("Count"), "1");
}
END_TEST

START_TEST(test_transactions)
{
	mk_quiz();
	OK("TransactWriteItems", "{'ClientRequestToken':'tok1','TransactItems':[{'Put':{"
	   "'TableName':'quiz-stats','Item':{'id#level':{'S':'a'},'week':{'S':'1'},'n':{'N':'1'}}}},"
	   "{'Update':{'TableName':'quiz-stats','Key':{'id#level':{'S':'b'},'week':{'S':'1'}},"
	   "'UpdateExpression':'ADD n :one','ExpressionAttributeValues':{':one':{'N':'1'}}}}]}");
	/* the same token and request again: success, applied once */
	OK("TransactWriteItems", "{'ClientRequestToken':'tok1','TransactItems':[{'Put':{"
	   "'TableName':'quiz-stats','Item':{'id#level':{'S':'a'},'week':{'S':'1'},'n':{'N':'1'}}}},"
	   "{'Update':{'TableName':'quiz-stats','Key':{'id#level':{'S':'b'},'week':{'S':'1'}},"
	   "'UpdateExpression':'ADD n :one','ExpressionAttributeValues':{':one':{'N':'1'}}}}]}");
	OK("GetItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'b'},'week':{'S':'1'}}}");
	ck_assert_str_eq(at("Item.n.N"), "\"1\"");
	FAILS("IdempotentParameterMismatchException", "TransactWriteItems",
	      "{'ClientRequestToken':'tok1','TransactItems':[{'Put':{'TableName':'quiz-stats',"
	      "'Item':{'id#level':{'S':'c'},'week':{'S':'1'}}}}]}");
	FAILS("TransactionCanceledException", "TransactWriteItems", "{'TransactItems':[{'Put':{"
	      "'TableName':'quiz-stats','Item':{'id#level':{'S':'c'},'week':{'S':'1'}}}},"
	      "{'ConditionCheck':{'TableName':'quiz-stats','Key':{'id#level':{'S':'a'},'week':"
	      "{'S':'1'}},'ConditionExpression':'n > :n','ExpressionAttributeValues':{':n':"
	      "{'N':'5'}},'ReturnValuesOnConditionCheckFailure':'ALL_OLD'}}]}");
	ck_assert_str_eq(at("CancellationReasons.0.Code"), "\"None\"");
	ck_assert_str_eq(at("CancellationReasons.1.Code"), "\"ConditionalCheckFailed\"");
	ck_assert_str_eq(at("CancellationReasons.1.Item.n.N"), "\"1\"");
	ck_assert_ptr_nonnull(strstr(at("Message"), "[None, ConditionalCheckFailed]"));
	OK("GetItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'c'},'week':{'S':'1'}}}");
	ck_assert_str_eq(R.body, "{}");
	FAILS("ValidationException", "TransactWriteItems", "{'TransactItems':[{'Put':{"
	      "'TableName':'quiz-stats','Item':{'id#level':{'S':'a'},'week':{'S':'1'}}}},"
	      "{'Delete':{'TableName':'quiz-stats','Key':{'id#level':{'S':'a'},'week':{'S':'1'}}}}]}");
	OK("TransactGetItems", "{'TransactItems':[{'Get':{'TableName':'quiz-stats','Key':{"
	   "'id#level':{'S':'a'},'week':{'S':'1'}}}},{'Get':{'TableName':'quiz-stats','Key':{"
	   "'id#level':{'S':'zz'},'week':{'S':'1'}}}}]}");
	ck_assert_str_eq(at("Responses.0.Item.n.N"), "\"1\"");
	ck_assert_str_eq(at("Responses.1"), "{}");
}
END_TEST

START_TEST(test_legacy_parameters)
{
	fill_quiz(6);
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w00'},"
	   "'v':{'N':'1'}},'Expected':{'v':{'Exists':false}}}");
	FAILS("ConditionalCheckFailedException", "PutItem",
	      "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w00'}},"
	      "'Expected':{'v':{'Value':{'N':'9'}}}}");
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'f#1'},'week':{'S':'w00'},"
	   "'v':{'N':'2'}},'Expected':{'v':{'ComparisonOperator':'IN','AttributeValueList':"
	   "[{'N':'0'},{'N':'1'}]},'zz':{'ComparisonOperator':'NULL'}}}");
	OK("UpdateItem", "{'TableName':'quiz-stats','Key':{'id#level':{'S':'f#1'},'week':{'S':'w00'}},"
	   "'AttributeUpdates':{'v':{'Action':'ADD','Value':{'N':'5'}},'odd':{'Action':'DELETE'},"
	   "'name':{'Value':{'S':'x'}}},'ReturnValues':'ALL_NEW'}");
	ck_assert_str_eq(at("Attributes.v.N"), "\"7\"");
	ck_assert_str_eq(at("Attributes.name.S"), "\"x\"");
	ck_assert_str_eq(at("Attributes.odd"), "(missing)");
	OK("Query", "{'TableName':'quiz-stats','KeyConditions':{'id#level':{'ComparisonOperator':'EQ',"
	   "'AttributeValueList':[{'S':'f#1'}]},'week':{'ComparisonOperator':'BETWEEN',"
	   "'AttributeValueList':[{'S':'w01'},{'S':'w04'}]}},'QueryFilter':{'odd':"
	   "{'ComparisonOperator':'EQ','AttributeValueList':[{'BOOL':true}]}},"
	   "'AttributesToGet':['week']}");
	ck_assert_str_eq(at("Items"), "[{\"week\":{\"S\":\"w01\"}},{\"week\":{\"S\":\"w03\"}}]");
	ck_assert_str_eq(at("ScannedCount"), "4");
	OK("Scan", "{'TableName':'quiz-stats','Select':'COUNT','ConditionalOperator':'OR',"
	   "'ScanFilter':{'odd':{'ComparisonOperator':'EQ','AttributeValueList':[{'BOOL':true}]},"
	   "'v':{'ComparisonOperator':'NOT_NULL'}}}");
	ck_assert_str_eq(at("Count"), "4");
	FAILS("ValidationException", "Query", "{'TableName':'quiz-stats','KeyConditions':{'id#level':"
	      "{'ComparisonOperator':'NE','AttributeValueList':[{'S':'f#1'}]}}}");
	FAILS("ValidationException", "Scan", "{'TableName':'quiz-stats','ScanFilter':{'odd':"
	      "{'ComparisonOperator':'BETWEEN','AttributeValueList':[{'N':'1'}]}}}");
}
END_TEST

START_TEST(test_ttl_tags_limits)
{
	mk_quiz();
	OK("DescribeTimeToLive", "{'TableName':'quiz-stats'}");
	ck_assert_str_eq(at("TimeToLiveDescription.TimeToLiveStatus"), "\"DISABLED\"");
	OK("UpdateTimeToLive", "{'TableName':'quiz-stats','TimeToLiveSpecification':{'Enabled':true,"
	   "'AttributeName':'exp'}}");
	OK("DescribeTimeToLive", "{'TableName':'quiz-stats'}");
	ck_assert_str_eq(at("TimeToLiveDescription.AttributeName"), "\"exp\"");
	{ /* the engine's TTL attribute, which the sweeper and _schema.json use */
		char attr[DB_ATTR_NAME_MAX + 1];
		table_t *t;

		ck_assert_int_eq(db_table_open(adb, "quiz-stats", &t), 0);
		tbl_ttl_attribute(t, attr, sizeof(attr));
		tbl_close(t);
		ck_assert_str_eq(attr, "exp");
	}
	FAILS("ValidationException", "UpdateTimeToLive", "{'TableName':'quiz-stats',"
	      "'TimeToLiveSpecification':{'Enabled':true,'AttributeName':'exp'}}");
	ck_assert_str_eq(at("message"), "\"TimeToLive is already enabled\"");
	OK("TagResource", "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/quiz-stats',"
	   "'Tags':[{'Key':'team','Value':'hedy'}]}");
	OK("ListTagsOfResource", "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/"
	   "quiz-stats'}");
	ck_assert_str_eq(at("Tags"), "[{\"Key\":\"team\",\"Value\":\"hedy\"}]");
	OK("UntagResource", "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/quiz-stats',"
	   "'TagKeys':['team']}");
	OK("ListTagsOfResource", "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/"
	   "quiz-stats'}");
	ck_assert_str_eq(at("Tags"), "[]");
	OK("DescribeLimits", "{}");
	OK("DescribeEndpoints", "{}");
}
END_TEST

/* ---- DynamoDB Streams ---- */

#define STREAMS "DynamoDBStreams_20120810."

/* A string member of R.j at path, copied into buf. */
static void str_at(const char *path, char *buf, size_t size)
{
	const char *s = at(path);

	ck_assert_msg(s[0] == '"', "%s: %s", path, R.body);
	snprintf(buf, size, "%.*s", (int)strlen(s) - 2, s + 1);
}

START_TEST(test_streams_records)
{
	char arn[512], shard[128], it[1024];

	OK("CreateTable", "{'TableName':'ss1','KeySchema':[{'AttributeName':'id','KeyType':'HASH'}],"
	   "'AttributeDefinitions':[{'AttributeName':'id','AttributeType':'S'}],"
	   "'BillingMode':'PAY_PER_REQUEST','StreamSpecification':{'StreamEnabled':true,"
	   "'StreamViewType':'NEW_AND_OLD_IMAGES'}}");
	str_at("TableDescription.LatestStreamArn", arn, sizeof(arn));
	ck_assert(strstr(arn, ":table/ss1/stream/"));
	FAILS("ValidationException", "UpdateTable", "{'TableName':'ss1','StreamSpecification':"
	      "{'StreamEnabled':true}}");
	OK("PutItem", "{'TableName':'ss1','Item':{'id':{'S':'a'},'v':{'N':'1'}}}");
	OK("PutItem", "{'TableName':'ss1','Item':{'id':{'S':'a'},'v':{'N':'2'}}}");
	OK("DeleteItem", "{'TableName':'ss1','Key':{'id':{'S':'a'}}}");
	OK(STREAMS "ListStreams", "{}");
	ck_assert_str_eq(at("Streams.0.TableName"), "\"ss1\"");
	OK(STREAMS "DescribeStream", "{'StreamArn':'%s'}", arn);
	str_at("StreamDescription.Shards.0.ShardId", shard, sizeof(shard));
	FAILS("ResourceNotFoundException", STREAMS "GetShardIterator",
	      "{'StreamArn':'%s','ShardId':'shardId-x','ShardIteratorType':'TRIM_HORIZON'}", arn);
	OK(STREAMS "GetShardIterator",
	   "{'StreamArn':'%s','ShardId':'%s','ShardIteratorType':'TRIM_HORIZON'}", arn, shard);
	str_at("ShardIterator", it, sizeof(it));
	OK(STREAMS "GetRecords", "{'ShardIterator':'%s'}", it);
	ck_assert_str_eq(at("Records.0.eventName"), "\"INSERT\"");
	ck_assert_str_eq(at("Records.0.dynamodb.NewImage"),
			 "{\"id\":{\"S\":\"a\"},\"v\":{\"N\":\"1\"}}");
	ck_assert_str_eq(at("Records.0.dynamodb.OldImage"), "(missing)");
	ck_assert_str_eq(at("Records.1.eventName"), "\"MODIFY\"");
	ck_assert_str_eq(at("Records.1.dynamodb.OldImage.v"), "{\"N\":\"1\"}");
	ck_assert_str_eq(at("Records.2.eventName"), "\"REMOVE\"");
	ck_assert_str_eq(at("Records.2.dynamodb.NewImage"), "(missing)");
	ck_assert_str_eq(at("Records.3"), "(missing)");
	ck_assert_str_ne(at("NextShardIterator"), "(missing)");
	FAILS("ValidationException", STREAMS "GetRecords", "{'ShardIterator':'nonsense'}");
	FAILS("ExpiredIteratorException", STREAMS "GetRecords",
	      "{'ShardIterator':'dynfs1:1:1000:%s'}", arn);
}
END_TEST

/* ---- the engine's key condition reader ---- */

START_TEST(test_expr_key_condition)
{
	struct expr_keycond kc;
	struct dyn_err err;
	expr_t *e;
	const char *t = "pk = \"a\" AND sk BETWEEN 1 AND 5";

	err_clear(&err);
	ck_assert_int_eq(expr_parse_key_condition(t, strlen(t), NULL, &e, &err), 0);
	ck_assert_int_eq(expr_key_condition(e, &kc, &err), 0);
	ck_assert_int_eq((int)kc.n, 2);
	ck_assert_str_eq(kc.a.name, "pk");
	ck_assert_int_eq(kc.a.op, EXPR_KC_EQ);
	ck_assert_str_eq(kc.b.name, "sk");
	ck_assert_int_eq(kc.b.op, EXPR_KC_BETWEEN);
	expr_free(e);
	ck_assert_int_eq(expr_parse_key_condition("3 > sk", 6, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_key_condition(e, &kc, &err), 0);
	ck_assert_int_eq(kc.a.op, EXPR_KC_LT);
	expr_free(e);
	ck_assert_int_eq(expr_parse_key_condition("a = 1 AND b = 2 AND c = 3", 25, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_key_condition(e, &kc, &err), -EINVAL);
	expr_free(e);
	err_clear(&err);
	ck_assert_int_eq(expr_parse_key_condition("a = 1 OR b = 2", 14, NULL, &e, &err), 0);
	ck_assert_int_eq(expr_key_condition(e, &kc, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "OR"));
	expr_free(e);
	err_clear(&err);
	ck_assert_int_eq(expr_parse_key_condition("a = = 1", 7, NULL, &e, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "KeyConditionExpression"));
}
END_TEST

/* ---- metadata saved with the schema, per table counts ---- */

START_TEST(test_metadata_outlives_the_front_end)
{
	struct api_opts o = {.on_error = on_error};

	OK("CreateTable",
	   "{'TableName':'quiz-stats','ProvisionedThroughput':{'ReadCapacityUnits':7,"
	   "'WriteCapacityUnits':3},'KeySchema':[{'AttributeName':'id','KeyType':'HASH'},"
	   "{'AttributeName':'week','KeyType':'RANGE'}],'AttributeDefinitions':["
	   "{'AttributeName':'id','AttributeType':'S'},{'AttributeName':'week','AttributeType':'S'},"
	   "{'AttributeName':'n','AttributeType':'N'}],'LocalSecondaryIndexes':[{'IndexName':"
	   "'by-n','KeySchema':[{'AttributeName':'id','KeyType':'HASH'},{'AttributeName':'n',"
	   "'KeyType':'RANGE'}],'Projection':{'ProjectionType':'KEYS_ONLY'}}],"
	   "'StreamSpecification':{'StreamEnabled':true,'StreamViewType':'OLD_IMAGE'},"
	   "'Tags':[{'Key':'team','Value':'hedy'}]}");
	OK("TagResource", "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/quiz-stats',"
	   "'Tags':[{'Key':'env','Value':'dev'}]}");
	/* a new front end over the same engine knows only what the schema holds */
	api_free(api);
	ck_assert_int_eq(api_new(adb, &o, &api, NULL), 0);
	OK("DescribeTable", "{'TableName':'quiz-stats'}");
	ck_assert_str_eq(at("Table.LocalSecondaryIndexes.0.IndexName"), "\"by-n\"");
	ck_assert_str_eq(at("Table.GlobalSecondaryIndexes"), "(missing)");
	ck_assert_str_eq(at("Table.ProvisionedThroughput.ReadCapacityUnits"), "7");
	ck_assert_str_eq(at("Table.StreamSpecification.StreamViewType"), "\"OLD_IMAGE\"");
	ck_assert_str_eq(at("Table.BillingModeSummary"), "(missing)");
	OK("ListTagsOfResource",
	   "{'ResourceArn':'arn:aws:dynamodb:ddblocal:000000000000:table/quiz-stats'}");
	ck_assert_str_eq(at("Tags"), "[{\"Key\":\"team\",\"Value\":\"hedy\"},"
				     "{\"Key\":\"env\",\"Value\":\"dev\"}]");
}
END_TEST

START_TEST(test_table_stats_count_requests)
{
	char *s = NULL;
	json_t *j;

	mk_quiz();
	OK("PutItem", "{'TableName':'quiz-stats','Item':{'id#level':{'S':'a'},'week':{'S':'1'}}}");
	FAILS("ValidationException", "PutItem", "{'TableName':'quiz-stats','Item':{'x':{'S':'a'}}}");
	FAILS("ResourceNotFoundException", "GetItem",
	      "{'TableName':'nope-table','Key':{'k':{'S':'a'}}}");
	OK("TransactWriteItems", "{'TransactItems':[{'Put':{'TableName':'quiz-stats','Item':"
	   "{'id#level':{'S':'b'},'week':{'S':'1'}}}},{'Delete':{'TableName':'quiz-stats','Key':"
	   "{'id#level':{'S':'a'},'week':{'S':'1'}}}}]}");
	ck_assert_int_eq(api_table_stats(api, "quiz-stats", &s), 0);
	ck_assert_ptr_nonnull(s);
	/* the members as _stats.json appends them: make them an object */
	ck_assert(!strncmp(s, ",\n  \"api\": ", 11));
	s[0] = '{';
	strcat(s = realloc(s, strlen(s) + 2), "}");
	j = json_loads(s, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", s);
	json_decref(R.j);
	R.j = j;
	ck_assert_str_eq(at("api.requests"), "4");
	ck_assert_str_eq(at("api.errors"), "1");
	ck_assert_str_eq(at("api.operations.PutItem"), "{\"errors\":1,\"requests\":2}");
	ck_assert_str_eq(at("api.operations.TransactWriteItems.requests"), "1");
	free(s);
	ck_assert_int_eq(api_table_stats(api, "nope-table", &s), 0);
	ck_assert_ptr_null(s);
	OK("DeleteTable", "{'TableName':'quiz-stats'}");
	ck_assert_int_eq(api_table_stats(api, "quiz-stats", &s), 0);
	ck_assert_ptr_null(s);
}
END_TEST

Suite *api_suite(void);
Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc;

	tc = tcase_create("api_handle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown_operation_and_bad_json);
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_create_describe_delete);
	tcase_add_test(tc, test_create_rejects_bad_definitions);
	tcase_add_test(tc, test_list_tables_pages);
	tcase_add_test(tc, test_update_table_adds_index_with_backfill);
	tcase_add_test(tc, test_update_table_index_throughput_follows_billing);
	tcase_add_test(tc, test_put_get_delete_return_values);
	tcase_add_test(tc, test_conditions);
	tcase_add_test(tc, test_update_return_values);
	tcase_add_test(tc, test_query_limit_before_filter_and_paging);
	tcase_add_test(tc, test_query_rejects_bad_key_conditions);
	tcase_add_test(tc, test_scan_segments_and_paging);
	tcase_add_test(tc, test_scan_pages_at_one_megabyte);
	tcase_add_test(tc, test_batch_write_and_get);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_legacy_parameters);
	tcase_add_test(tc, test_ttl_tags_limits);
	tcase_add_test(tc, test_streams_records);
	tcase_add_test(tc, test_metadata_outlives_the_front_end);
	tcase_add_test(tc, test_table_stats_count_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("expr_key_condition");
	tcase_add_test(tc, test_expr_key_condition);
	suite_add_tcase(s, tc);
	return s;
}
