/*
 * ddbschema.h - a table's key schema and indexes as DynamoDB writes them
 * in CreateTable requests and DescribeTable answers: one rendering shared
 * by the API front end (api/tables.c, DescribeTable) and the remote client
 * (remote/tables.c, CreateTable/UpdateTable), so the two cannot drift.
 *
 * Reading the same shapes back stays with each caller: the API validates
 * a client's request with DynamoDB's own messages, the remote client reads
 * a service's answer leniently.
 */
#ifndef DYNFS_DDBSCHEMA_H
#define DYNFS_DDBSCHEMA_H

#include "db.h"
#include "storefmt.h"

/* [{"AttributeName":..,"AttributeType":"S"},...]: the key attributes of
 * the table and of its indexes, each name once, in order of first use.
 * -ENOMEM. */
int ddb_render_attr_defs(struct sf_buf *b, const struct table_schema *s);

/* [{"AttributeName":pk,"KeyType":"HASH"},{"AttributeName":sk,
 * "KeyType":"RANGE"}]; sk may be NULL.  -ENOMEM. */
int ddb_render_key_schema(struct sf_buf *b, const struct key_attr *pk, const struct key_attr *sk);

/* {"IndexName":..,"KeySchema":[..],"Projection":{..} - the object is left
 * open: the caller appends its own members and the closing '}'.  -ENOMEM. */
int ddb_render_index_open(struct sf_buf *b, const struct index_def *ix);

#endif
