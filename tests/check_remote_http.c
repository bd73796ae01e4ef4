/*
 * check_remote_http.c - the remote client's decisions without a socket
 * (remote/http.c): which answers are retried (throttling always, 5xx and
 * dropped connections only when repeating cannot apply a write twice),
 * expired tokens refreshed, full-jitter backoff bounds, error bodies and
 * their errnos; and client-side SigV4 signing (sigv4_authorization) on
 * AWS's published get-vanilla and post-x-www-form-urlencoded cases.
 * One test has a socket: a loopback server that drops a kept-alive
 * connection after reading a request, where libcurl would send the
 * request again on its own (test_no_silent_resend).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- no silent resend ---- */

/* A server that answers the first request of a connection and drops the
 * connection after reading the second, unanswered (the request may have
 * been applied), then serves whatever comes on new connections. */
struct dropper {
	int lfd;      /* listening socket */
	int requests; /* requests read, on any connection */
};

/* Read one request (headers and Content-Length body); 0 at EOF or error. */
static int read_request(int fd)
{
	char buf[8192];
	size_t n = 0;
	char *end, *cl;
	long want;

	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

		if (r <= 0)
			return 0;
		n += (size_t)r;
		buf[n] = 0;
		if ((end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "Content-Length:");
			want = cl ? atol(cl + 15) : 0;
			if ((long)(n - (size_t)(end + 4 - buf)) >= want)
				return 1;
		}
		if (n == sizeof(buf) - 1)
			return 0;
	}
}

static void answer(int fd)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
				 "Content-Length: 2\r\n\r\n{}";

	ck_assert_int_eq(write(fd, ok, sizeof(ok) - 1), (ssize_t)sizeof(ok) - 1);
}

static void *dropper_run(void *arg)
{
	struct dropper *d = arg;
	int fd = accept(d->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (read_request(fd)) {
		__atomic_add_fetch(&d->requests, 1, __ATOMIC_SEQ_CST);
		answer(fd);
	}
	if (read_request(fd))
		__atomic_add_fetch(&d->requests, 1, __ATOMIC_SEQ_CST);
	shutdown(fd, SHUT_RDWR);
	close(fd);
	for (;;) { /* later connections: answered until the test closes lfd */
		struct pollfd p = {d->lfd, POLLIN, 0};

		if (poll(&p, 1, 3000) <= 0 || (fd = accept(d->lfd, NULL, NULL)) < 0)
			return NULL;
		while (read_request(fd)) {
			__atomic_add_fetch(&d->requests, 1, __ATOMIC_SEQ_CST);
			answer(fd);
		}
		close(fd);
	}
}

/* Two calls over one kept-alive connection, the second dropped after the
 * server read it: returns what the second call returned, *requests the
 * requests the server read, *amb whether the call knew that an attempt
 * may have been applied before the last. */
static int drop_second(bool idempotent, int *requests, bool *amb, struct dyn_err *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	struct dropper d = {0};
	struct rmt_opts o = {.max_attempts = 2, .base_delay_ms = 1, .timeout_ms = 5000};
	static const char body[] = "{\"TableName\":\"t\",\"Key\":{\"k\":{\"S\":\"a\"}}}";
	char ep[64], *resp = NULL;
	size_t rl = 0;
	pthread_t th;
	rmt_t *c;
	int rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(d.lfd, 0);
	ck_assert_int_eq(bind(d.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(d.lfd, 4), 0);
	ck_assert_int_eq(getsockname(d.lfd, (struct sockaddr *)&a, &al), 0);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ntohs(a.sin_port));
	o.endpoint = ep;
	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	ck_assert_int_eq(pthread_create(&th, NULL, dropper_run, &d), 0);
	ck_assert_int_eq(rmt_open(&o, &c, err), 0);
	ck_assert_int_eq(rmt_call(c, "UpdateItem", body, strlen(body), idempotent, &resp, &rl, err),
			 0);
	free(resp);
	resp = NULL;
	rc = rmt_call_ex(c, "UpdateItem", body, strlen(body), idempotent, &resp, &rl, amb, err);
	free(resp);
	rmt_close(c);
	shutdown(d.lfd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(d.lfd);
	*requests = __atomic_load_n(&d.requests, __ATOMIC_SEQ_CST);
	return rc;
}

/* libcurl sends a request again on a new connection when a reused one
 * dies before any answer byte.  No call is sent twice behind the retry
 * policy's back: one that is not idempotent fails, outcome unknown, after
 * the server read it once; an idempotent one is repeated by the policy,
 * which knows that the first may have been applied (a conditional put's
 * "failed" condition is then checked against what it wrote: ops.c). */
START_TEST(test_no_silent_resend)
{
	struct dyn_err err = {0};
	int requests = 0;
	bool amb = false;

	ck_assert_int_eq(drop_second(false, &requests, &amb, &err), -EIO);
	ck_assert_int_eq(requests, 2);
	ck_assert_ptr_nonnull(strstr(err.msg, "outcome unknown"));
	err_clear(&err);
	ck_assert_int_eq(drop_second(true, &requests, &amb, &err), 0);
	ck_assert_int_eq(requests, 3);
	ck_assert(amb);
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
	tcase_add_test(tc, test_no_silent_resend);
	suite_add_tcase(s, tc);
	tcase_add_test(sg, test_authorization_get_vanilla);
	tcase_add_test(sg, test_authorization_post_x_www_form_urlencoded);
	tcase_add_test(sg, test_amzdate_round_trip);
	suite_add_tcase(s, sg);
	return s;
}
