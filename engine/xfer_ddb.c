/*
 * xfer_ddb.c - DynamoDB JSON Lines (xfer.h: xfer_ddb_parse, xfer_ddb_render):
 * the {"Item": {...}} wrapper of DynamoDB's S3 export around one item; the
 * values themselves go through the shared codec (ddbjson.h).
 */
#include "xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ddbjson.h"
#include "item.h"

int xfer_ddb_parse(const char *text, size_t len, struct val *item, struct dyn_err *err)
{
	struct sf_span all, k, x, body;
	struct sf_iter it;
	int rc;

	if (sf_whole(text, len, &all) < 0 || sf_obj_open(&it, all) < 0)
		return err_set(err, EINVAL, "not a JSON object");
	body = all;
	/* {"Item": {...}} is the S3 export's wrapper; a bare map is accepted too */
	if (sf_obj_next(&it, &k, &x) == 1 && sf_key_is(k, "Item") && sf_obj_next(&it, &k, &x) == 0)
		sf_obj_open(&it, all), sf_obj_next(&it, &k, &body);
	rc = ddb_parse_map(body, item, err);
	if (rc < 0)
		return rc;
	rc = item_check(item, err);
	if (rc < 0)
		val_free(item);
	return rc;
}

int xfer_ddb_render(struct sf_buf *b, const struct val *item, const char *pk, const char *sk)
{
	int rc;

	if (sf_buf_adds(b, "{\"Item\":") < 0)
		return -ENOMEM;
	rc = ddb_render_map(b, item, pk, sk);
	if (rc < 0)
		return rc;
	return sf_buf_addc(b, '}');
}
