/*
 * check_remote_http.c - the remote client's decisions without a socket
 * (remote/http.c): which answers are retried (throttling always, 5xx and
 * dropped connections only when repeating cannot apply a write twice),
 * expired tokens refreshed, full-jitter backoff bounds, error bodies and
 * their errnos; and client-side SigV4 signing (sigv4_authorization) on
 * AWS's published get-vanilla and post-x-www-form-urlencoded cases.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remoteint.h"
#include "backend.h" /* the face must keep compiling here too */
#include "sigv4.h"

START_TEST(test_classify_policy)
{
	/* success and final errors */
	ck_assert_int_eq(rmt_classify(200, true, "", false), RMT_DONE);
	ck_assert_int_eq(rmt_classify(400, true, "ValidationException", true), RMT_DONE);
	ck_assert_int_eq(rmt_classify(400, true, "ConditionalCheckFailedException", true),
			 RMT_DONE);
	/* throttling: never applied, always retried */
	ck_assert_int_eq(rmt_classify(400, true, "ProvisionedThroughputExceededException", false),
			 RMT_RETRY);
	ck_assert_int_eq(rmt_classify(400, true, "ThrottlingException", false), RMT_RETRY);
	ck_assert_int_eq(rmt_classify(400, true, "RequestLimitExceeded", false), RMT_RETRY);
	/* expired credentials */
	ck_assert_int_eq(rmt_classify(400, true, "ExpiredTokenException", false), RMT_REFRESH);
	/* 5xx: maybe applied */
	ck_assert_int_eq(rmt_classify(500, true, "InternalServerError", true), RMT_RETRY);
	ck_assert_int_eq(rmt_classify(500, true, "InternalServerError", false), RMT_DONE);
	ck_assert_int_eq(rmt_classify(503, true, "ServiceUnavailable", false), RMT_RETRY);
	/* transport: not sent is safe; sent is safe only when idempotent */
	ck_assert_int_eq(rmt_classify(0, false, "", false), RMT_RETRY);
	ck_assert_int_eq(rmt_classify(0, true, "", true), RMT_RETRY);
	ck_assert_int_eq(rmt_classify(0, true, "", false), RMT_DONE);
}
END_TEST

START_TEST(test_backoff_full_jitter_bounds)
{
	unsigned seed = 42;
	int max_seen[8] = {0}, a, i;

	for (a = 0; a < 8; a++)
		for (i = 0; i < 2000; i++) {
			int d = rmt_backoff_ms(a, 25, 1000, &seed);
			int cap = 25 << a > 1000 ? 1000 : 25 << a;

			ck_assert_int_ge(d, 0);
			ck_assert_int_le(d, cap);
			if (d > max_seen[a])
				max_seen[a] = d;
		}
	/* the ceiling grows and is reached (jitter covers the range) */
	ck_assert_int_ge(max_seen[0], 20);
	ck_assert_int_ge(max_seen[3], 180);
	ck_assert_int_ge(max_seen[7], 900);
	ck_assert_int_le(rmt_backoff_ms(60, 25, 1000, &seed), 1000);
}
END_TEST

START_TEST(test_error_bodies)
{
	const char *b =
	    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
	    "\"message\":\"Requested resource not found\"}";
	char t[64], m[128];

	rmt_error_of(b, strlen(b), t, sizeof(t), m, sizeof(m));
	ck_assert_str_eq(t, "ResourceNotFoundException");
	ck_assert_str_eq(m, "Requested resource not found");
	b = "{\"__type\":\"X\",\"Message\":\"M\"}";
	rmt_error_of(b, strlen(b), t, sizeof(t), m, sizeof(m));
	ck_assert_str_eq(t, "X");
	ck_assert_str_eq(m, "M");
	rmt_error_of("<html>", 6, t, sizeof(t), m, sizeof(m));
	ck_assert_str_eq(t, "");
	ck_assert_int_eq(rmt_errno_of(400, "ConditionalCheckFailedException"), -ECANCELED);
	ck_assert_int_eq(rmt_errno_of(400, "TransactionCanceledException"), -ECANCELED);
	ck_assert_int_eq(rmt_errno_of(400, "ResourceNotFoundException"), -ENOENT);
	ck_assert_int_eq(rmt_errno_of(400, "ResourceInUseException"), -EEXIST);
	ck_assert_int_eq(rmt_errno_of(400, "ThrottlingException"), -EAGAIN);
	ck_assert_int_eq(rmt_errno_of(400, "UnrecognizedClientException"), -EACCES);
	ck_assert_int_eq(rmt_errno_of(400, "InvalidSignatureException"), -EACCES);
	ck_assert_int_eq(rmt_errno_of(500, "InternalServerError"), -EIO);
	ck_assert_int_eq(rmt_errno_of(400, "ValidationException"), -EINVAL);
}
END_TEST

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* AWS's SigV4 test suite, signed as a client: headers in any order and case. */
START_TEST(test_authorization_get_vanilla)
{
	const char *n[2] = {"X-Amz-Date", "Host"},
		   *v[2] = {"20150830T123600Z", "example.amazonaws.com"};
	struct sigv4_req r = {"GET", "/", "", n, v, 2, "", 0};
	char *a;

	ck_assert_int_eq(sigv4_authorization(&r, "AKIDEXAMPLE", SECRET, "us-east-1", "service",
					     "20150830T123600Z", &a),
			 0);
	ck_assert_str_eq(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			    "aws4_request, SignedHeaders=host;x-amz-date, Signature="
			    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	free(a);
}
END_TEST

START_TEST(test_authorization_post_x_www_form_urlencoded)
{
	const char *n[3] = {"Content-Type", "Host", "X-Amz-Date"};
	const char *v[3] = {"application/x-www-form-urlencoded", "example.amazonaws.com",
			    "20150830T123600Z"};
	struct sigv4_req r = {"POST", "/", "", n, v, 3, "Param1=value1", 13};
	struct sigv4_auth au;
	char *a;

	ck_assert_int_eq(sigv4_authorization(&r, "AKIDEXAMPLE", SECRET, "us-east-1", "service",
					     "20150830T123600Z", &a),
			 0);
	ck_assert_str_eq(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			    "aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
			    "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
	/* and the verifier's parser reads it back */
	ck_assert_int_eq(sigv4_parse_auth(a, &au), 0);
	ck_assert_str_eq(au.key_id, "AKIDEXAMPLE");
	ck_assert_str_eq(au.scope, "20150830/us-east-1/service/aws4_request");
	ck_assert_str_eq(au.signed_h, "content-type;host;x-amz-date");
	free(a);
	ck_assert_int_eq(sigv4_authorization(&r, "AK", SECRET, "us-east-1", "service", "2015", &a),
			 -EINVAL);
}
END_TEST

START_TEST(test_amzdate_round_trip)
{
	char b[17];

	sigv4_amzdate(1440938160, b);
	ck_assert_str_eq(b, "20150830T123600Z");
	ck_assert_int_eq(sigv4_parse_amzdate(b), 1440938160);
	ck_assert_int_eq(sigv4_parse_amzdate("20150830T1236Z"), -1);
}
END_TEST

Suite *remote_http_suite(void);
Suite *remote_http_suite(void)
{
	Suite *s = suite_create("remote_http");
	TCase *tc = tcase_create("policy");
	TCase *sg = tcase_create("signing");

	tcase_add_test(tc, test_classify_policy);
	tcase_add_test(tc, test_backoff_full_jitter_bounds);
	tcase_add_test(tc, test_error_bodies);
	suite_add_tcase(s, tc);
	tcase_add_test(sg, test_authorization_get_vanilla);
	tcase_add_test(sg, test_authorization_post_x_www_form_urlencoded);
	tcase_add_test(sg, test_amzdate_round_trip);
	suite_add_tcase(s, sg);
	return s;
}
