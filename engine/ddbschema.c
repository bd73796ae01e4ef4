/*
 * ddbschema.c - key schemas, attribute definitions and index descriptions
 * in DynamoDB's JSON (ddbschema.h).
 */
#include "ddbschema.h"

#include <string.h>

static int add_name(struct sf_buf *b, const char *name)
{
	return sf_json_str(b, name, strlen(name));
}

/* Whether k's name is among the key attributes listed before it. */
static bool seen_before(const struct key_attr *const *ka, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(ka[j]->name, ka[i]->name))
			return true;
	return false;
}

int ddb_render_attr_defs(struct sf_buf *b, const struct table_schema *s)
{
	const struct key_attr *ka[2 + 2 * DB_MAX_INDEXES];
	size_t n = 0, i, out = 0;
	int rc;

	ka[n++] = &s->pk;
	if (s->has_sk)
		ka[n++] = &s->sk;
	for (i = 0; i < s->nindex && i < DB_MAX_INDEXES; i++) {
		ka[n++] = &s->index[i].pk;
		if (s->index[i].has_sk)
			ka[n++] = &s->index[i].sk;
	}
	rc = sf_buf_addc(b, '[');
	for (i = 0; rc == 0 && i < n; i++) {
		if (seen_before(ka, i))
			continue;
		rc = sf_buf_adds(b, out++ ? ",{\"AttributeName\":" : "{\"AttributeName\":");
		if (rc == 0)
			rc = add_name(b, ka[i]->name);
		if (rc == 0)
			rc = sf_buf_printf(b, ",\"AttributeType\":\"%s\"}",
					   val_type_name(ka[i]->type));
	}
	return rc ? rc : sf_buf_addc(b, ']');
}

int ddb_render_key_schema(struct sf_buf *b, const struct key_attr *pk, const struct key_attr *sk)
{
	int rc = sf_buf_adds(b, "[{\"AttributeName\":");

	if (rc == 0)
		rc = add_name(b, pk->name);
	if (rc == 0)
		rc = sf_buf_adds(b, ",\"KeyType\":\"HASH\"}");
	if (rc == 0 && sk) {
		rc = sf_buf_adds(b, ",{\"AttributeName\":");
		if (rc == 0)
			rc = add_name(b, sk->name);
		if (rc == 0)
			rc = sf_buf_adds(b, ",\"KeyType\":\"RANGE\"}");
	}
	return rc ? rc : sf_buf_addc(b, ']');
}

int ddb_render_index_open(struct sf_buf *b, const struct index_def *ix)
{
	int rc = sf_buf_adds(b, "{\"IndexName\":");

	if (rc == 0)
		rc = add_name(b, ix->name);
	if (rc == 0)
		rc = sf_buf_adds(b, ",\"KeySchema\":");
	if (rc == 0)
		rc = ddb_render_key_schema(b, &ix->pk, ix->has_sk ? &ix->sk : NULL);
	if (rc == 0)
		rc = sf_buf_printf(b, ",\"Projection\":{\"ProjectionType\":\"%s\"",
				   ix->proj == PROJ_ALL		? "ALL"
				   : ix->proj == PROJ_KEYS_ONLY ? "KEYS_ONLY"
								: "INCLUDE");
	if (rc == 0 && ix->proj == PROJ_INCLUDE) {
		rc = sf_buf_adds(b, ",\"NonKeyAttributes\":[");
		for (size_t i = 0; rc == 0 && i < ix->ninclude; i++) {
			if (i)
				rc = sf_buf_addc(b, ',');
			if (rc == 0)
				rc = add_name(b, ix->include[i]);
		}
		if (rc == 0)
			rc = sf_buf_addc(b, ']');
	}
	return rc ? rc : sf_buf_addc(b, '}');
}
