/*
 * check_api_sigv4.c - SigV4 signing and verification (sigv4/sigv4.c, api/sigv4.c).
 *
 * The signing vectors are cases of AWS's published Signature Version 4
 * test suite (credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * scope 20150830/us-east-1/service/aws4_request, time 20150830T123600Z),
 * written out here as data: method, path, query, extra headers, and the
 * signature AWS documents.  Verification is then checked end to end on
 * requests signed now: accepted, and refused with DynamoDB's error types
 * for a wrong secret, an unknown key, a missing or mangled header, a
 * changed body, an old time stamp.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apiint.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SCOPE "20150830/us-east-1/service/aws4_request"
#define DATE "20150830T123600Z"

struct vector {
	const char *name;	/* the test suite's case */
	const char *method;	/* request */
	const char *path;
	const char *query;
	const char *h1, *v1;	/* one more header, or NULL */
	const char *signed_h;	/* SignedHeaders */
	const char *sig;	/* the documented signature */
};

static const struct vector vectors[] = {
	{"get-vanilla", "GET", "/", "", NULL, NULL, "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", NULL, NULL, "host;x-amz-date",
	 "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
	{"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", NULL, NULL,
	 "host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
	{"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", NULL, NULL,
	 "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", NULL, NULL,
	 "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
	{"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", NULL, NULL, "host;x-amz-date",
	 "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
	{"get-space", "GET", "/example space/", "", NULL, NULL, "host;x-amz-date",
	 "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
	{"post-vanilla", "POST", "/", "", NULL, NULL, "host;x-amz-date",
	 "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-header-key-sort", "POST", "/", "", "My-Header1", "value1",
	 "host;my-header1;x-amz-date",
	 "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
	{"post-header-value-case", "POST", "/", "", "My-Header1", "VALUE1",
	 "host;my-header1;x-amz-date",
	 "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
};

START_TEST(test_sign_matches_aws_test_suite)
{
	const struct vector *v = &vectors[_i];
	const char *names[3] = {"Host", "X-Amz-Date", v->h1};
	const char *values[3] = {"example.amazonaws.com", DATE, v->v1};
	struct sigv4_req req = {.method = v->method, .path = v->path, .query = v->query,
				.hname = names, .hvalue = values, .nh = v->h1 ? 3 : 2,
				.body = "", .body_len = 0};
	char sig[65];

	ck_assert_int_eq(sigv4_sign(&req, v->signed_h, SCOPE, DATE, SECRET, sig, NULL, NULL), 0);
	ck_assert_msg(!strcmp(sig, v->sig), "%s: got %s", v->name, sig);
}
END_TEST

START_TEST(test_canonical_request_of_get_vanilla)
{
	const char *names[2] = {"host", "x-amz-date"}, *values[2] = {"example.amazonaws.com", DATE};
	struct sigv4_req req = {.method = "GET", .path = "/", .query = "", .hname = names,
				.hvalue = values, .nh = 2, .body = "", .body_len = 0};
	char sig[65], *creq, *sts;

	ck_assert_int_eq(sigv4_sign(&req, "host;x-amz-date", SCOPE, DATE, SECRET, sig, &creq, &sts), 0);
	ck_assert_str_eq(creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			       "host;x-amz-date\n"
			       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n" SCOPE "\n"
			      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	free(creq);
	free(sts);
}
END_TEST

/* ---- verification ---- */

static struct api_keys *keys;
static char keyfile[64];

static void setup(void)
{
	FILE *f;
	int fd;

	snprintf(keyfile, sizeof(keyfile), "/tmp/dynfs-keys-XXXXXX");
	fd = mkstemp(keyfile);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("# access key, secret\n\nAKIDEXAMPLE " SECRET "\nother s2\n", f);
	fclose(f);
	ck_assert_int_eq(api_keys_load(keyfile, &keys, NULL), 0);
}

static void teardown(void)
{
	api_keys_free(keys);
	unlink(keyfile);
}

struct signed_req {
	const char *names[4];
	const char *values[4];
	char amzdate[20];
	char authz[400];
	struct sigv4_req req;
};

/* A request signed at time t with secret for key id. */
static void sign_at(struct signed_req *s, time_t t, const char *id, const char *secret,
		    const char *body)
{
	char scope[100], sig[65];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(s->amzdate, sizeof(s->amzdate), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(scope, sizeof(scope), "%.8s/us-east-1/dynamodb/aws4_request", s->amzdate);
	s->names[0] = "Host";
	s->values[0] = "127.0.0.1:8000";
	s->names[1] = "X-Amz-Date";
	s->values[1] = s->amzdate;
	s->names[2] = "X-Amz-Target";
	s->values[2] = "DynamoDB_20120810.ListTables";
	s->req = (struct sigv4_req){.method = "POST", .path = "/", .query = "", .hname = s->names,
				    .hvalue = s->values, .nh = 3, .body = body,
				    .body_len = strlen(body)};
	ck_assert_int_eq(sigv4_sign(&s->req, "host;x-amz-date;x-amz-target", scope, s->amzdate,
				    secret, sig, NULL, NULL), 0);
	snprintf(s->authz, sizeof(s->authz),
		 "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-date;x-amz-target, "
		 "Signature=%s", id, scope, sig);
	s->names[3] = "Authorization";
	s->values[3] = s->authz;
	s->req.nh = 4;
}

static const char *verify(struct signed_req *s)
{
	static char msg[512];
	const char *etype = NULL;

	if (sigv4_verify(keys, &s->req, &etype, msg, sizeof(msg)) == 0)
		return "ok";
	return etype;
}

START_TEST(test_verify_accepts_and_refuses)
{
	struct signed_req s;

	sign_at(&s, time(NULL), "AKIDEXAMPLE", SECRET, "{}");
	ck_assert_str_eq(verify(&s), "ok");
	s.req.body = "{\"Limit\":1}";
	s.req.body_len = strlen(s.req.body);
	ck_assert_str_eq(verify(&s), "InvalidSignatureException");
	sign_at(&s, time(NULL), "AKIDEXAMPLE", "wrong", "{}");
	ck_assert_str_eq(verify(&s), "InvalidSignatureException");
	sign_at(&s, time(NULL), "other", "s2", "{}");
	ck_assert_str_eq(verify(&s), "ok");
	sign_at(&s, time(NULL), "nobody", "s2", "{}");
	ck_assert_str_eq(verify(&s), "UnrecognizedClientException");
	sign_at(&s, time(NULL) - 3600, "AKIDEXAMPLE", SECRET, "{}");
	ck_assert_str_eq(verify(&s), "InvalidSignatureException");
	sign_at(&s, time(NULL), "AKIDEXAMPLE", SECRET, "{}");
	s.req.nh = 3; /* no Authorization */
	ck_assert_str_eq(verify(&s), "MissingAuthenticationTokenException");
	s.req.nh = 4;
	snprintf(s.authz, sizeof(s.authz), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE");
	ck_assert_str_eq(verify(&s), "IncompleteSignatureException");
	snprintf(s.authz, sizeof(s.authz), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x, "
		 "SignedHeaders=host;;, Signature=00");
	ck_assert_str_eq(verify(&s), "IncompleteSignatureException");
}
END_TEST

START_TEST(test_keys_file_errors)
{
	struct api_keys *k = NULL;
	struct dyn_err err;
	FILE *f = fopen(keyfile, "w");

	fputs("just-one-field\n", f);
	fclose(f);
	err_clear(&err);
	ck_assert_int_eq(api_keys_load(keyfile, &k, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, ":1:"));
	err_clear(&err);
	ck_assert_int_eq(api_keys_load("/nonexistent/keys", &k, &err), -EINVAL);
}
END_TEST

Suite *api_sigv4_suite(void);
Suite *api_sigv4_suite(void)
{
	Suite *s = suite_create("api_sigv4");
	TCase *tc = tcase_create("sigv4_sign");

	tcase_add_loop_test(tc, test_sign_matches_aws_test_suite, 0,
			    (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_test(tc, test_canonical_request_of_get_vanilla);
	suite_add_tcase(s, tc);
	tc = tcase_create("sigv4_verify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_verify_accepts_and_refuses);
	tcase_add_test(tc, test_keys_file_errors);
	suite_add_tcase(s, tc);
	return s;
}
