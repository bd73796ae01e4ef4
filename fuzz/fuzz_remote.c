/*
 * fuzz_remote.c - libFuzzer target for what the DynamoDB client
 * (remote/) reads from outside: DescribeTable answers (key schemas,
 * indexes, projections, statuses), the shared config/credentials files
 * (INI), credential documents (credential_process, ECS, IMDS), their
 * ISO 8601 expiry times, and error bodies.
 *
 * The first byte picks the parser, the rest is its input.  Beyond the
 * sanitizers: a DescribeTable answer that parses renders back (as a
 * CreateTable schema) to JSON that parses; an INI lookup that succeeds
 * returns a value without line breaks; error types and messages are
 * NUL-terminated within their buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remoteint.h"
#include "db.h"

static void desc(const char *p, size_t n)
{
	struct table_schema s;
	struct sf_span obj;
	char status[32], istatus[32];

	if (sf_whole(p, n, &obj) < 0 || *obj.p != '{')
		return;
	if (rmt_table_desc_parse(obj, &s, status, "email-index", istatus) < 0)
		return;
	if (strnlen(status, 32) == 32 || strnlen(istatus, 32) == 32)
		abort();
	{
		struct sf_buf b = SF_BUF_INIT;
		struct sf_span out;
		bool first = true;

		if (sf_buf_addc(&b, '{') == 0 && rmt_put_schema(&b, &first, &s) == 0 &&
		    sf_buf_addc(&b, '}') == 0 && sf_whole(b.p, b.len, &out) < 0)
			abort();
		sf_buf_free(&b);
	}
	schema_free(&s);
}

static void ini(const char *text)
{
	static const char *const q[][2] = {
	    {"default", "aws_access_key_id"},
	    {"profile dev", "region"},
	    {"dev", "credential_process"},
	};
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		char *v = NULL;

		if (rmt_ini_get(text, q[i][0], q[i][1], &v) == 0 && (!v || strpbrk(v, "\r\n")))
			abort();
		free(v);
	}
	/* a nested setting ([services x] / dynamodb = / "  endpoint_url = ...") */
	char *v = NULL;

	if (rmt_ini_get_sub(text, "services x", "dynamodb", "endpoint_url", &v) == 0 &&
	    (!v || strpbrk(v, "\r\n")))
		abort();
	free(v);
}

static void creds(const char *p, size_t n)
{
	struct rmt_creds c;
	struct dyn_err err = {0};

	memset(&c, 0, sizeof(c));
	if (rmt_creds_parse_json(p, n, &c, &err) == 0)
		rmt_creds_free(&c);
	(void)rmt_parse_iso8601(p);
}

static void errbody(const char *p, size_t n)
{
	char etype[64], msg[256];

	rmt_error_of(p, n, etype, sizeof(etype), msg, sizeof(msg));
	if (strnlen(etype, sizeof(etype)) == sizeof(etype) ||
	    strnlen(msg, sizeof(msg)) == sizeof(msg))
		abort();
	(void)rmt_errno_of(400, etype);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	p = malloc(n + 1);
	if (!p)
		return 0;
	memcpy(p, data + 1, n);
	p[n] = 0;
	switch (data[0] % 4) {
	case 0:
		desc(p, n);
		break;
	case 1:
		ini(p);
		break;
	case 2:
		creds(p, n);
		break;
	default:
		errbody(p, n);
		break;
	}
	free(p);
	return 0;
}
