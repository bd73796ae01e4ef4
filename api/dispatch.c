/*
 * dispatch.c - api_handle(): one request in, one answer out, no I/O.
 *
 * The target header names the operation (DynamoDB_20120810.<Op>, or
 * DynamoDBStreams_20120810.<Op> for the Streams operations); the
 * body must be one JSON object.  Errors are DynamoDB's JSON 1.0 shape,
 * {"__type": "<namespace>#<Type>", "message": "..."}, status 400 (500 for
 * InternalServerError); the protocol-level ones (an unknown operation, a
 * body that is not JSON) carry the coral namespace, as the service does.
 * A rejected write is also reported through opts.on_error (the mount's
 * /_errors), since an SDK's caller may never print it.
 */
#include "apiint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_PREFIX "DynamoDB_20120810."
#define STREAMS_PREFIX "DynamoDBStreams_20120810."
#define CORAL "com.amazon.coral.service#"

struct op_entry {
	const char *name;	    /* operation */
	int (*fn)(struct rq *r);    /* handler */
	bool write;		    /* reported in /_errors when rejected */
};

static const struct op_entry op_table[] = {
	{"BatchGetItem", op_batch_get, false},
	{"BatchWriteItem", op_batch_write, true},
	{"CreateTable", op_create_table, true},
	{"DeleteItem", op_delete_item, true},
	{"DeleteTable", op_delete_table, true},
	{"DescribeEndpoints", op_describe_endpoints, false},
	{"DescribeLimits", op_describe_limits, false},
	{"DescribeTable", op_describe_table, false},
	{"DescribeTimeToLive", op_describe_ttl, false},
	{"GetItem", op_get_item, false},
	{"ListTables", op_list_tables, false},
	{"ListTagsOfResource", op_list_tags, false},
	{"PutItem", op_put_item, true},
	{"Query", op_query, false},
	{"Scan", op_scan, false},
	{"TagResource", op_tag_resource, false},
	{"TransactGetItems", op_transact_get, false},
	{"TransactWriteItems", op_transact_write, true},
	{"UntagResource", op_untag_resource, false},
	{"UpdateItem", op_update_item, true},
	{"UpdateTable", op_update_table, true},
	{"UpdateTimeToLive", op_update_ttl, false},
};

/* DynamoDB Streams' operations, on the same endpoint (streams.c). */
static const struct op_entry streams_table[] = {
	{"DescribeStream", op_describe_stream, false},
	{"GetRecords", op_get_records, false},
	{"GetShardIterator", op_get_shard_iterator, false},
	{"ListStreams", op_list_streams, false},
};

int api_new(db_t *db, const struct api_opts *o, api_t **out, struct dyn_err *err)
{
	api_t *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->db = db;
	if (o)
		a->o = *o;
	a->o.listen = strdup(a->o.listen ? a->o.listen : "127.0.0.1:8000");
	a->o.auth_file = a->o.auth_file ? strdup(a->o.auth_file) : NULL;
	if (!a->o.threads)
		a->o.threads = 4;
	if (!a->o.max_conns)
		a->o.max_conns = 512;
	if (!a->o.timeout_s)
		a->o.timeout_s = 60;
	if (!a->o.listen || (o && o->auth_file && !a->o.auth_file) ||
	    pthread_mutex_init(&a->lock, NULL) != 0) {
		free((char *)a->o.listen);
		free((char *)a->o.auth_file);
		free(a);
		return -ENOMEM;
	}
	pthread_mutex_init(&a->save_lock, NULL);
	meta_load_all(a);
	*out = a;
	return 0;
}

void api_free(api_t *a)
{
	struct api_tmeta *m;
	struct api_token *t;

	if (!a)
		return;
	api_http_stop(a);
	while ((m = a->meta))
		meta_drop(a, m->name);
	while ((t = a->tokens)) {
		a->tokens = t->next;
		free(t->token);
		free(t);
	}
	api_keys_free(a->keys);
	counts_free(a);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->save_lock);
	free((char *)a->o.listen);
	free((char *)a->o.auth_file);
	free(a);
}

void api_get_counts(api_t *a, struct api_counts *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->counts;
	pthread_mutex_unlock(&a->lock);
}

static const struct op_entry *find_op(const char *target)
{
	size_t i;

	if (target && !strncmp(target, STREAMS_PREFIX, strlen(STREAMS_PREFIX))) {
		target += strlen(STREAMS_PREFIX);
		for (i = 0; i < sizeof(streams_table) / sizeof(streams_table[0]); i++)
			if (!strcmp(streams_table[i].name, target))
				return &streams_table[i];
		return NULL;
	}
	if (!target || strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)))
		return NULL;
	target += strlen(TARGET_PREFIX);
	for (i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (!strcmp(op_table[i].name, target))
			return &op_table[i];
	return NULL;
}

/*
 * The pre-2014 parameters (legacy.c translates them) may not be mixed
 * with expressions in one request, as DynamoDB says.
 */
static int legacy(struct rq *r)
{
	static const char *const old[] = {"KeyConditions", "QueryFilter", "ScanFilter", "Expected",
					  "AttributeUpdates", "AttributesToGet", "ConditionalOperator"};
	static const char *const now[] = {"KeyConditionExpression", "FilterExpression",
					  "ConditionExpression", "UpdateExpression",
					  "ProjectionExpression"};
	struct sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
	struct sf_span v;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		if (rq_member(r->body, old[i], &v))
			sf_buf_printf(&a, "%s%s", a.len ? ", " : "", old[i]);
	for (i = 0; a.len && i < sizeof(now) / sizeof(now[0]); i++)
		if (rq_member(r->body, now[i], &v))
			sf_buf_printf(&b, "%s%s", b.len ? ", " : "", now[i]);
	if (a.len && b.len)
		rc = rq_fail(r, "ValidationException",
			     "Can not use both expression and non-expression parameters in the same "
			     "request: Non-expression parameters: {%s} Expression parameters: {%s}",
			     a.p, b.p);
	sf_buf_free(&a);
	sf_buf_free(&b);
	return rc;
}

static void coral_fail(struct rq *r, const char *type, const char *msg)
{
	r->etype = type;
	r->eprefix = CORAL;
	r->status = 400;
	snprintf(r->emsg, sizeof(r->emsg), "%s", msg);
}

static void report(struct rq *r)
{
	char what[300], *table = NULL;

	if (!r->a->o.on_error)
		return;
	rq_str(r, r->body, "TableName", &table);
	snprintf(what, sizeof(what), "api %s%s%s", r->op, table ? " " : "", table ? table : "");
	r->a->o.on_error(r->a->o.ctx, what, r->emsg[0] ? r->emsg : r->etype);
	free(table);
}

int api_handle(api_t *a, const char *target, const char *body, size_t len, struct api_resp *out)
{
	const struct op_entry *op = find_op(target);
	struct sf_buf b = SF_BUF_INIT;
	struct rq r;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	r.a = a;
	if (!op) {
		coral_fail(&r, "UnknownOperationException", "An unknown operation was requested.");
	} else {
		r.op = op->name;
		if (sf_whole(body, len, &r.body) < 0 || r.body.p[0] != '{')
			coral_fail(&r, "SerializationException",
				   len ? "Start of structure or map found where not expected"
				       : "Expected a JSON object");
		else if (legacy(&r) == 0)
			rc = op->fn(&r);
	}
	if (rc == 0 && !r.etype && r.out.p) {
		out->status = 200;
		out->body = r.out.p;
		out->len = r.out.len;
		r.out.p = NULL;
	} else {
		if (!r.etype)
			rq_fail(&r, "InternalServerError", "out of memory");
		if (sf_buf_printf(&b, "{\"__type\":\"%s%s\",\"%s\":", r.eprefix, r.etype,
				  strcmp(r.etype, "TransactionCanceledException") ? "message"
										  : "Message") < 0 ||
		    sf_json_str(&b, r.emsg, strlen(r.emsg)) < 0 ||
		    (r.extra.p && sf_buf_add(&b, r.extra.p, r.extra.len) < 0) ||
		    sf_buf_addc(&b, '}') < 0) {
			sf_buf_free(&b);
			sf_buf_free(&r.out);
			sf_buf_free(&r.extra);
			return -ENOMEM;
		}
		out->status = r.status;
		out->body = b.p;
		out->len = b.len;
		snprintf(out->error, sizeof(out->error), "%s", r.etype);
		if (op && op->write && strcmp(r.etype, "ConditionalCheckFailedException") &&
		    strcmp(r.etype, "TransactionCanceledException"))
			report(&r);
	}
	counts_note(a, &r, out->status != 200);
	pthread_mutex_lock(&a->lock);
	a->counts.requests++;
	a->counts.errors += out->status != 200;
	a->counts.writes += r.wrote;
	pthread_mutex_unlock(&a->lock);
	sf_buf_free(&r.out);
	sf_buf_free(&r.extra);
	return 0;
}

/* ---- CRC32 (IEEE 802.3, reflected, as zlib's crc32) ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	uint32_t c, i, k;

	for (i = 0; i < 256; i++) {
		for (c = i, k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t api_crc32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	while (n--)
		c = crc_table[(c ^ *s++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
