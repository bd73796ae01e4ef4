/*
 * streams.c - DynamoDB Streams over the change feed (engine/feed.h):
 * StreamSpecification on CreateTable/UpdateTable, the stream members of
 * DescribeTable, and the Streams operations (X-Amz-Target
 * DynamoDBStreams_20120810.<Op>, on the same endpoint, as DynamoDB Local
 * serves them): ListStreams, DescribeStream, GetShardIterator, GetRecords.
 *
 * A table's stream is a window on the feed: enabling it records the
 * feed's next sequence number (stream_start), disabling it the seq after
 * its last record (stream_end); the stream's records are the feed's
 * records of that table in [start, end).  One shard per stream, covering
 * all of it.  Retention is the feed's (a bounded ring): a position older
 * than the ring is TrimmedDataAccessException, never a silent skip.
 *
 * Shard iterators are stateless: "dynfs1:SEQ:ISSUED:STREAM_ARN" - the
 * next seq to read, when the iterator was issued (they expire after 15
 * minutes, ExpiredIteratorException, as DynamoDB's) and the stream.  So
 * GetRecords opens a feed cursor at SEQ, reads, and hands back an
 * iterator at the cursor's new position; no server-side state.
 *
 * A put's record is INSERT when the feed has no old image, MODIFY when it
 * has one; a put that changes nothing writes no record (DynamoDB's rule).
 * A TTL delete carries userIdentity {"PrincipalId":
 * "dynamodb.amazonaws.com", "Type": "Service"} (the wire names; Lambda
 * events spell them principalId/type).
 *
 * The stream settings live with the front end's other table metadata
 * (struct api_tmeta), saved with the table's schema (meta.c): a restart
 * keeps the stream, its view type and label (so its ARN); its records,
 * which are the feed's, start again empty (docs/api.md).
 */
#include "apiint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed.h"
#include "item.h"

#define ITER_PREFIX "dynfs1:"
#define ITER_LIFE_S 900		 /* a shard iterator expires after 15 minutes */
#define RECORDS_MAX 1000	 /* GetRecords' Limit: at most this, the default */
#define RECORDS_BYTES (1u << 20) /* and at most about 1 MB of records */

static const char *const view_names[] = {NULL, "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE",
					 "NEW_AND_OLD_IMAGES"};

static void stream_arn(const char *table, const char *label, char *buf, size_t size)
{
	snprintf(buf, size, "arn:aws:dynamodb:ddblocal:000000000000:table/%s/stream/%s", table,
		 label);
}

static void shard_id(const struct api_tmeta *m, char *buf, size_t size)
{
	snprintf(buf, size, "shardId-%020" PRIu64 "-%08x", m->stream_start,
		 api_crc32(m->stream_label, strlen(m->stream_label)));
}

static void seq_str(uint64_t seq, char *buf, size_t size)
{
	snprintf(buf, size, "%021" PRIu64, seq);
}

/* ---- StreamSpecification, DescribeTable ---- */

int stream_spec(struct rq *r, struct sf_span obj, int *want)
{
	struct sf_span spec;
	char *view = NULL;
	bool enabled;
	int i, rc;

	*want = -1;
	if (!rq_member(obj, "StreamSpecification", &spec))
		return 0;
	rc = rq_bool(r, spec, "StreamEnabled", &enabled);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return rq_fail(r, "ValidationException",
			       "1 validation error detected: Value null at "
			       "'streamSpecification.streamEnabled' failed to satisfy constraint: "
			       "Member must not be null");
	if (rq_str(r, spec, "StreamViewType", &view) < 0)
		return -1;
	if (!enabled) {
		free(view);
		if (view)
			return rq_fail(
			    r, "ValidationException",
			    "One or more parameter values were invalid: "
			    "StreamViewType cannot be specified when StreamEnabled is false");
		*want = 0;
		return 0;
	}
	if (!view)
		return rq_fail(r, "ValidationException",
			       "Invalid StreamViewType: Stream ViewType must not be null or empty "
			       "when enabling streams.");
	for (i = 1; i <= STREAM_NEW_AND_OLD_IMAGES && strcmp(view, view_names[i]); i++)
		;
	if (i > STREAM_NEW_AND_OLD_IMAGES) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '%s' at "
			"'streamSpecification.streamViewType' "
			"failed to satisfy constraint: Member must satisfy enum value set: "
			"[NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE, KEYS_ONLY]",
			view);
		free(view);
		return -1;
	}
	free(view);
	*want = i;
	return 0;
}

int stream_apply(struct rq *r, const char *table, int want, bool create)
{
	struct api_tmeta *m;
	uint64_t first, next;
	struct timespec ts;
	struct tm tm;
	int rc = 0;

	if (want < 0 || (create && want == 0))
		return 0;
	feed_bounds(db_feed(r->a->db), &first, &next);
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&r->a->lock);
	m = meta_get(r->a, table);
	if (!m) {
		rc = rq_fail_err(r, -ENOMEM, NULL);
	} else if (want > 0 && m->stream_view) {
		rc = rq_fail(r, "ValidationException", "Table already has an enabled stream");
	} else if (want == 0 && !m->stream_view) {
		rc = rq_fail(r, "ValidationException", "Table has no stream to disable");
	} else if (want > 0) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(m->stream_label, sizeof(m->stream_label) - 4, "%Y-%m-%dT%H:%M:%S", &tm);
		{
			size_t l = strlen(m->stream_label);
			int ms = (int)(ts.tv_nsec / 1000000) % 1000;

			m->stream_label[l] = '.';
			m->stream_label[l + 1] = (char)('0' + ms / 100);
			m->stream_label[l + 2] = (char)('0' + ms / 10 % 10);
			m->stream_label[l + 3] = (char)('0' + ms % 10);
			m->stream_label[l + 4] = 0;
		}
		m->stream_view = m->stream_last_view = want;
		m->stream_start = next;
		m->stream_end = 0;
		m->stream_created = ts.tv_sec;
	} else {
		m->stream_view = 0;
		m->stream_end = next;
	}
	pthread_mutex_unlock(&r->a->lock);
	return rc;
}

int stream_describe(const struct api_tmeta *m, const char *table, struct sf_buf *b)
{
	char arn[600];
	int rc = 0;

	if (!m->stream_label[0])
		return 0;
	if (m->stream_view)
		rc = sf_buf_printf(b,
				   ",\"StreamSpecification\":{\"StreamEnabled\":true,"
				   "\"StreamViewType\":\"%s\"}",
				   view_names[m->stream_view]);
	stream_arn(table, m->stream_label, arn, sizeof(arn));
	if (rc == 0)
		rc = sf_buf_printf(
		    b, ",\"LatestStreamLabel\":\"%s\",\"LatestStreamArn\":", m->stream_label);
	if (rc == 0)
		rc = sf_json_str(b, arn, strlen(arn));
	return rc;
}

/* ---- finding a stream ---- */

/* The stream of an ARN: table name (new) and a copy of its metadata. */
static int find_stream(struct rq *r, const char *arn, char **table, struct api_tmeta *out)
{
	const char *p = strstr(arn, ":table/"), *q;
	struct api_tmeta *m;
	bool found = false;
	table_t *t;

	*table = NULL;
	q = p ? strstr(p + 7, "/stream/") : NULL;
	if (!q || q == p + 7)
		return rq_fail(r, "ValidationException", "Invalid StreamArn: %s", arn);
	*table = strndup(p + 7, (size_t)(q - p - 7));
	if (!*table)
		return rq_fail_err(r, -ENOMEM, NULL);
	if (db_table_open(r->a->db, *table, &t) == 0) {
		tbl_close(t);
		pthread_mutex_lock(&r->a->lock);
		for (m = r->a->meta; m && strcmp(m->name, *table); m = m->next)
			;
		if (m && m->stream_label[0] && !strcmp(m->stream_label, q + 8)) {
			*out = *m;
			found = true;
		}
		pthread_mutex_unlock(&r->a->lock);
	}
	if (!found) {
		free(*table);
		*table = NULL;
		return rq_fail(r, "ResourceNotFoundException",
			       "Requested resource not found: Stream: %s not found", arn);
	}
	return 0;
}

/* ---- ListStreams ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int op_list_streams(struct rq *r)
{
	struct api_tmeta *m;
	char *want = NULL, *start = NULL, **names = NULL, arn[600];
	size_t n = 0, cap = 0, i, out = 0;
	int64_t limit = 100;
	int rc = -1;

	if (rq_str(r, r->body, "TableName", &want) < 0 ||
	    rq_str(r, r->body, "ExclusiveStartStreamArn", &start) < 0 ||
	    rq_int(r, r->body, "Limit", &limit) < 0)
		goto out;
	if (limit < 1 || limit > 100) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
			"constraint: Member must have value %s",
			(long long)limit,
			limit < 1 ? "greater than or equal to 1" : "less than or equal to 100");
		goto out;
	}
	pthread_mutex_lock(&r->a->lock);
	for (m = r->a->meta; m; m = m->next) {
		if (!m->stream_label[0] || (want && strcmp(want, m->name)))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap * 2 + 8) * sizeof(*nn));

			if (!nn)
				break;
			names = nn;
		}
		stream_arn(m->name, m->stream_label, arn, sizeof(arn));
		if (!(names[n] = strdup(arn)))
			break;
		n++;
	}
	pthread_mutex_unlock(&r->a->lock);
	if (n) /* names is NULL when there are none */
		qsort(names, n, sizeof(*names), name_cmp);
	sf_buf_adds(&r->out, "{\"Streams\":[");
	for (i = 0; i < n; i++) {
		const char *p = strstr(names[i], ":table/") + 7, *q = strstr(p, "/stream/");

		if (start && strcmp(names[i], start) <= 0)
			continue;
		if (out == (size_t)limit) {
			sf_buf_adds(&r->out, "],\"LastEvaluatedStreamArn\":");
			sf_json_str(&r->out, names[i - 1], strlen(names[i - 1]));
			sf_buf_adds(&r->out, "}");
			rc = 0;
			goto out;
		}
		sf_buf_adds(&r->out, out++ ? ",{\"StreamArn\":" : "{\"StreamArn\":");
		sf_json_str(&r->out, names[i], strlen(names[i]));
		sf_buf_adds(&r->out, ",\"TableName\":");
		sf_json_str(&r->out, p, (size_t)(q - p));
		sf_buf_adds(&r->out, ",\"StreamLabel\":");
		sf_json_str(&r->out, q + 8, strlen(q + 8));
		sf_buf_addc(&r->out, '}');
	}
	sf_buf_adds(&r->out, "]}");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(want);
	free(start);
	return rc;
}

/* ---- DescribeStream ---- */

int op_describe_stream(struct rq *r)
{
	struct table_schema s;
	struct api_tmeta m;
	char *arn = NULL, *table = NULL, sid[80], seq[32];
	table_t *t = NULL;
	int rc = -1;

	if (rq_str_req(r, r->body, "StreamArn", &arn) < 0 || find_stream(r, arn, &table, &m) < 0)
		goto out;
	if (db_table_open(r->a->db, table, &t) < 0 || tbl_schema(t, &s) < 0) {
		rq_fail(r, "ResourceNotFoundException",
			"Requested resource not found: Stream: %s not found", arn);
		goto out;
	}
	sf_buf_adds(&r->out, "{\"StreamDescription\":{\"StreamArn\":");
	sf_json_str(&r->out, arn, strlen(arn));
	sf_buf_printf(&r->out,
		      ",\"StreamLabel\":\"%s\",\"StreamStatus\":\"%s\",\"StreamViewType\":\"%s\","
		      "\"CreationRequestDateTime\":%lld,\"TableName\":",
		      m.stream_label, m.stream_view ? "ENABLED" : "DISABLED",
		      view_names[m.stream_last_view], (long long)m.stream_created);
	sf_json_str(&r->out, table, strlen(table));
	sf_buf_adds(&r->out, ",\"KeySchema\":[{\"AttributeName\":");
	sf_json_str(&r->out, s.pk.name, strlen(s.pk.name));
	sf_buf_adds(&r->out, ",\"KeyType\":\"HASH\"}");
	if (s.has_sk) {
		sf_buf_adds(&r->out, ",{\"AttributeName\":");
		sf_json_str(&r->out, s.sk.name, strlen(s.sk.name));
		sf_buf_adds(&r->out, ",\"KeyType\":\"RANGE\"}");
	}
	schema_free(&s);
	shard_id(&m, sid, sizeof(sid));
	seq_str(m.stream_start, seq, sizeof(seq));
	sf_buf_printf(&r->out,
		      "],\"Shards\":[{\"ShardId\":\"%s\",\"SequenceNumberRange\":"
		      "{\"StartingSequenceNumber\":\"%s\"",
		      sid, seq);
	if (m.stream_end) {
		seq_str(m.stream_end > m.stream_start ? m.stream_end - 1 : m.stream_start, seq,
			sizeof(seq));
		sf_buf_printf(&r->out, ",\"EndingSequenceNumber\":\"%s\"", seq);
	}
	sf_buf_adds(&r->out, "}}]}}");
	rc = 0;
out:
	tbl_close(t);
	free(arn);
	free(table);
	return rc;
}

/* ---- GetShardIterator ---- */

static int put_iterator(struct sf_buf *b, const char *member, uint64_t seq, const char *arn)
{
	char it[700];

	snprintf(it, sizeof(it), ITER_PREFIX "%" PRIu64 ":%lld:%s", seq, (long long)time(NULL),
		 arn);
	if (sf_buf_printf(b, "\"%s\":", member) < 0)
		return -ENOMEM;
	return sf_json_str(b, it, strlen(it));
}

static int parse_seq(const char *s, uint64_t *out)
{
	char *end;

	if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 40)
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno ? -1 : 0;
}

int op_get_shard_iterator(struct rq *r)
{
	struct api_tmeta m;
	char *arn = NULL, *table = NULL, *shard = NULL, *type = NULL, *sn = NULL, sid[80];
	uint64_t first, next, end, seq = 0, n = 0;
	int rc = -1;

	if (rq_str_req(r, r->body, "StreamArn", &arn) < 0 ||
	    rq_str_req(r, r->body, "ShardId", &shard) < 0 ||
	    rq_str_req(r, r->body, "ShardIteratorType", &type) < 0 ||
	    rq_str(r, r->body, "SequenceNumber", &sn) < 0)
		goto out;
	if (strcmp(type, "TRIM_HORIZON") && strcmp(type, "LATEST") &&
	    strcmp(type, "AT_SEQUENCE_NUMBER") && strcmp(type, "AFTER_SEQUENCE_NUMBER")) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '%s' at 'shardIteratorType' failed to "
			"satisfy constraint: Member must satisfy enum value set: "
			"[AFTER_SEQUENCE_NUMBER, "
			"LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
			type);
		goto out;
	}
	if (find_stream(r, arn, &table, &m) < 0)
		goto out;
	shard_id(&m, sid, sizeof(sid));
	if (strcmp(shard, sid)) {
		rq_fail(r, "ResourceNotFoundException",
			"Requested resource not found: Shard does not exist");
		goto out;
	}
	feed_bounds(db_feed(r->a->db), &first, &next);
	end = m.stream_end ? m.stream_end : next;
	if (type[0] == 'A') {
		if (!sn) {
			rq_fail(r, "ValidationException",
				"One or more parameter values were invalid: Invalid SequenceNumber");
			goto out;
		}
		if (parse_seq(sn, &n) < 0 || n < m.stream_start || n >= end) {
			rq_fail(r, "ValidationException",
				"Invalid SequenceNumber: %s for shard: %s", sn, shard);
			goto out;
		}
		if (n < first) {
			rq_fail(
			    r, "TrimmedDataAccessException",
			    "The operation attempted to read past the oldest stream record in a "
			    "shard.");
			goto out;
		}
		seq = type[1] == 'T' ? n : n + 1;
	} else if (sn) {
		rq_fail(r, "ValidationException",
			"Sequence number must not be specified for %s shard iterator type", type);
		goto out;
	} else if (!strcmp(type, "LATEST")) {
		seq = end;
	} else {
		seq = first > m.stream_start ? first : m.stream_start;
	}
	sf_buf_addc(&r->out, '{');
	put_iterator(&r->out, "ShardIterator", seq, arn);
	sf_buf_addc(&r->out, '}');
	rc = 0;
out:
	free(arn);
	free(table);
	free(shard);
	free(type);
	free(sn);
	return rc;
}

/* ---- GetRecords ---- */

static int put_record(struct sf_buf *b, const struct feed_change *c, int view, bool first)
{
	bool insert = c->op == FEED_PUT && c->old.type == VAL_NULL;
	bool keep_new =
	    c->op == FEED_PUT && (view == STREAM_NEW_IMAGE || view == STREAM_NEW_AND_OLD_IMAGES);
	bool keep_old = c->old.type != VAL_NULL &&
			(view == STREAM_OLD_IMAGE || view == STREAM_NEW_AND_OLD_IMAGES);
	size_t size = item_size(&c->keys);
	char seq[32];

	if (keep_new)
		size += item_size(&c->new);
	if (keep_old)
		size += item_size(&c->old);
	seq_str(c->seq, seq, sizeof(seq));
	sf_buf_printf(
	    b,
	    "%s{\"eventID\":\"%016" PRIx64 "%016" PRIx64 "\",\"eventName\":\"%s\","
	    "\"eventVersion\":\"1.1\",\"eventSource\":\"aws:dynamodb\","
	    "\"awsRegion\":\"ddblocal\",\"dynamodb\":{\"ApproximateCreationDateTime\":%lld,"
	    "\"Keys\":",
	    first ? "" : ",", c->table_id, c->seq,
	    c->op == FEED_DELETE ? "REMOVE"
	    : insert		 ? "INSERT"
				 : "MODIFY",
	    (long long)(c->time_ns / 1000000000));
	ddb_render_map(b, &c->keys, c->pk_name, c->sk_name);
	if (keep_new) {
		sf_buf_adds(b, ",\"NewImage\":");
		ddb_render_map(b, &c->new, c->pk_name, c->sk_name);
	}
	if (keep_old) {
		sf_buf_adds(b, ",\"OldImage\":");
		ddb_render_map(b, &c->old, c->pk_name, c->sk_name);
	}
	sf_buf_printf(b, ",\"SequenceNumber\":\"%s\",\"SizeBytes\":%zu,\"StreamViewType\":\"%s\"}",
		      seq, size, view_names[view]);
	if (c->by_ttl)
		sf_buf_adds(b, ",\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\","
			       "\"Type\":\"Service\"}");
	return sf_buf_addc(b, '}');
}

int op_get_records(struct rq *r)
{
	struct feed_change c;
	struct api_tmeta m;
	struct dyn_err err;
	feed_cursor_t *cur = NULL;
	char *it = NULL, *table = NULL, *arn, *p;
	long long issued;
	uint64_t seq;
	int64_t limit = RECORDS_MAX;
	size_t n = 0;
	bool closed = false;
	table_t *t = NULL;
	int rc = -1, k;

	if (rq_str_req(r, r->body, "ShardIterator", &it) < 0 ||
	    rq_int(r, r->body, "Limit", &limit) < 0)
		goto out;
	if (limit < 1 || limit > RECORDS_MAX) {
		rq_fail(r, "ValidationException",
			"1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
			"constraint: Member must have value %s",
			(long long)limit,
			limit < 1 ? "greater than or equal to 1" : "less than or equal to 1000");
		goto out;
	}
	if (strncmp(it, ITER_PREFIX, strlen(ITER_PREFIX)) ||
	    sscanf(it + strlen(ITER_PREFIX), "%" SCNu64 ":%lld:", &seq, &issued) != 2 ||
	    !(p = strchr(it + strlen(ITER_PREFIX), ':')) || !(arn = strchr(p + 1, ':'))) {
		rq_fail(r, "ValidationException", "Invalid ShardIterator");
		goto out;
	}
	arn++;
	if ((long long)time(NULL) - issued > ITER_LIFE_S) {
		rq_fail(r, "ExpiredIteratorException",
			"Iterator expired. The iterator was created at time %lld while right now "
			"the time is %lld",
			issued, (long long)time(NULL));
		goto out;
	}
	if (find_stream(r, arn, &table, &m) < 0)
		goto out;
	if (db_table_open(r->a->db, table, &t) < 0) {
		rq_fail(r, "ResourceNotFoundException",
			"Requested resource not found: Stream: %s not found", arn);
		goto out;
	}
	if (seq < m.stream_start) {
		rq_fail(r, "ValidationException", "Invalid ShardIterator");
		goto out;
	}
	sf_buf_adds(&r->out, "{\"Records\":[");
	if (m.stream_end && seq >= m.stream_end) {
		closed = true;
		goto done;
	}
	err_clear(&err);
	k = feed_cursor_new(db_feed(r->a->db), tbl_id(t), seq, &cur, &err);
	if (k == -ERANGE) {
		rq_fail(
		    r, "TrimmedDataAccessException",
		    "The operation attempted to read past the oldest stream record in a shard.");
		goto out;
	}
	if (k < 0) {
		rq_fail_err(r, k, &err);
		goto out;
	}
	while (n < (size_t)limit && r->out.len < RECORDS_BYTES) {
		k = feed_next(cur, &c);
		if (k == -EOVERFLOW && n == 0) {
			rq_fail(
			    r, "TrimmedDataAccessException",
			    "The operation attempted to read past the oldest stream record in a "
			    "shard.");
			goto out;
		}
		if (k <= 0)
			break;
		if (m.stream_end && c.seq >= m.stream_end) {
			feed_change_free(&c);
			closed = true;
			break;
		}
		seq = c.seq + 1;
		if (c.op == FEED_PUT && c.old.type != VAL_NULL && val_equal(&c.old, &c.new)) {
			feed_change_free(&c); /* nothing changed: no record */
			continue;
		}
		k = put_record(&r->out, &c, m.stream_last_view, n == 0);
		feed_change_free(&c);
		if (k < 0) {
			rq_fail_err(r, -ENOMEM, NULL);
			goto out;
		}
		n++;
	}
	if (!closed && k >= 0)
		seq = feed_cursor_pos(cur);
	if (m.stream_end && seq >= m.stream_end)
		closed = true;
done:
	sf_buf_addc(&r->out, ']');
	if (!closed) {
		sf_buf_addc(&r->out, ',');
		put_iterator(&r->out, "NextShardIterator", seq, arn);
	}
	if (sf_buf_addc(&r->out, '}') < 0) {
		rq_fail_err(r, -ENOMEM, NULL);
		goto out;
	}
	rc = 0;
out:
	feed_cursor_free(cur);
	tbl_close(t);
	free(table);
	free(it);
	return rc;
}
