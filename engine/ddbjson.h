/*
 * ddbjson.h - the DynamoDB JSON codec: AttributeValues to and from
 * struct val.  One codec for the format, shared by import/export
 * (xfer_ddb.c) and the DynamoDB API front end (api/).
 *
 * A value is an object with exactly one member whose name is its type:
 * {"S": "x"}, {"N": "12.5"} (the number as a string, read exactly),
 * {"B": "base64"}, {"BOOL": true}, {"NULL": true}, {"L": [...]},
 * {"M": {...}}, {"SS": [...]}, {"NS": ["1"]}, {"BS": ["base64"]}.  An
 * attribute map (an item, a key) is {"name": value, ...}.
 *
 * Numbers are written as DynamoDB writes them: plain decimal notation,
 * never an exponent ("1E+2" comes back as "100").
 *
 * Parsing rejects: a value with zero or several type members, an unknown
 * type, a wrong JSON type for the type's payload, a bad number or base64,
 * an empty or duplicated set, a duplicate attribute name, nesting deeper
 * than ITEM_MAX_DEPTH, with DynamoDB's own messages where it has one
 * ("Supplied AttributeValue is empty, ...", "... An string set  may not
 * be empty").  It does not apply item limits (item_check).
 */
#ifndef DYNFS_DDBJSON_H
#define DYNFS_DDBJSON_H

#include "err.h"
#include "storefmt.h"
#include "val.h"

/* One AttributeValue at span v into *out (new).  -EINVAL (err), -ENOMEM. */
int ddb_parse_value(struct sf_span v, struct val *out, struct dyn_err *err);
/* An attribute map {"name": AttributeValue, ...} into an M (new). */
int ddb_parse_map(struct sf_span v, struct val *out, struct dyn_err *err);

/* Append v as an AttributeValue.  -ENOMEM. */
int ddb_render_value(struct sf_buf *b, const struct val *v);
/* Append map m as {"name": AttributeValue, ...}, attributes pk and sk
 * (either may be NULL) first, then the others in name order.  -ENOMEM. */
int ddb_render_map(struct sf_buf *b, const struct val *m, const char *pk, const char *sk);

#endif
