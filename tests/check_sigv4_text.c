/*
 * check_sigv4_text.c - sigv4/'s request texts against a plain reference
 * on random requests: the canonical request (header values trimmed and
 * their inner blanks folded, repeated headers joined, the path
 * URI-encoded; texts long enough to leave the signer's stack buffers),
 * the string to sign, the signature (the signing key derived here with
 * OpenSSL's one-shot HMAC, across secrets and scopes so the signer's key
 * cache both hits and misses), the Authorization header of
 * sigv4_authorization (signed-header list sorted, lowercased, each name
 * once), and sigv4_amzdate (it keeps the last stamp) against gmtime_r +
 * strftime.  The published vectors are in check_api_sigv4.c; these are
 * the differential checks of the allocation-free text building.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sigv4.h"

/* ---- a plain reference, written for clarity, not speed ---- */

struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = 2 * (t->len + n + 1);
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
}

static void adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void hexof(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void sha_hex(const char *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	ck_assert_int_eq(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	hexof(md, 32, out);
}

/* a header value as SigV4 wants it: trimmed, each inner run of blanks one space */
static void fold(struct text *t, const char *v)
{
	size_t n = strlen(v), a = 0, b = n;
	bool blank = false;

	while (a < n && (v[a] == ' ' || v[a] == '\t'))
		a++;
	while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
		b--;
	for (size_t i = a; i < b; i++) {
		if (v[i] == ' ' || v[i] == '\t') {
			blank = true;
			continue;
		}
		if (blank)
			add(t, " ", 1);
		blank = false;
		add(t, &v[i], 1);
	}
}

static void ref_canonical(const struct sigv4_req *r, const char *signed_h, struct text *t)
{
	char h[65], one[4];
	const char *p = signed_h;

	adds(t, r->method);
	adds(t, "\n");
	for (const char *s = r->path; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~/", c)) {
			add(t, (const char *)&c, 1);
		} else {
			snprintf(one, sizeof(one), "%%%02X", c);
			adds(t, one);
		}
	}
	adds(t, "\n\n"); /* no query */
	while (*p) {
		size_t n = strcspn(p, ";");
		int found = 0;

		add(t, p, n);
		adds(t, ":");
		for (size_t i = 0; i < r->nh; i++)
			if (strlen(r->hname[i]) == n && !strncasecmp(r->hname[i], p, n)) {
				if (found++)
					adds(t, ",");
				fold(t, r->hvalue[i]);
			}
		adds(t, "\n");
		p += n + (p[n] == ';');
	}
	adds(t, "\n");
	adds(t, signed_h);
	adds(t, "\n");
	sha_hex(r->body, r->body_len, h);
	adds(t, h);
}

static void ref_hmac(const void *k, size_t kl, const char *m, unsigned char out[32])
{
	unsigned int len = 0;

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)m, strlen(m),
				   out, &len));
}

static void ref_signature(const char *secret, const char *date, const char *region,
			  const char *service, const char *sts, char sig[65])
{
	char k0[200];
	unsigned char a[32], b[32];

	snprintf(k0, sizeof(k0), "AWS4%s", secret);
	ref_hmac(k0, strlen(k0), date, a);
	ref_hmac(a, 32, region, b);
	ref_hmac(b, 32, service, a);
	ref_hmac(a, 32, "aws4_request", b);
	ref_hmac(b, 32, sts, a);
	hexof(a, 32, sig);
}

/* ---- random requests ---- */

static const char *const hnames[] = {"Host", "X-Amz-Date", "X-Amz-Target", "Content-Type",
				     "My-Header1", "X-Amz-Security-Token"};
#define NNAMES (sizeof(hnames) / sizeof(hnames[0]))

struct rreq {
	struct sigv4_req r;
	const char *names[8];
	const char *values[8];
	char nbuf[8][32];
	char vbuf[8][1600];
	char path[64];
	char body[200];
};

static void random_req(struct rreq *q, unsigned *seed)
{
	static const char vchars[] = "ab c\tDE=/:;,.-_ ";
	static const char pchars[] = "aZ09-._~/ %+=\xe1\x88";
	size_t nh = 1 + (size_t)(rand_r(seed) % 6), i, j, n;

	memset(q, 0, sizeof(*q));
	n = (size_t)(rand_r(seed) % 30);
	for (i = 0; i < n; i++)
		q->path[i] = pchars[rand_r(seed) % (sizeof(pchars) - 1)];
	q->path[n] = 0;
	n = (size_t)(rand_r(seed) % 150);
	for (i = 0; i < n; i++)
		q->body[i] = (char)(' ' + rand_r(seed) % 90);
	for (i = 0; i < nh; i++) {
		const char *name = hnames[rand_r(seed) % NNAMES];

		/* the name in a random case */
		for (j = 0; name[j]; j++)
			q->nbuf[i][j] = (char)(rand_r(seed) % 2 ? toupper((unsigned char)name[j])
							       : tolower((unsigned char)name[j]));
		q->nbuf[i][j] = 0;
		/* mostly short values, some long enough to leave a 1 KiB buffer */
		n = (size_t)(rand_r(seed) % 8 == 0 ? rand_r(seed) % 1500 : rand_r(seed) % 40);
		for (j = 0; j < n; j++)
			q->vbuf[i][j] = vchars[rand_r(seed) % (sizeof(vchars) - 1)];
		q->vbuf[i][n] = 0;
		q->names[i] = q->nbuf[i];
		q->values[i] = q->vbuf[i];
	}
	q->r = (struct sigv4_req){.method = rand_r(seed) % 2 ? "POST" : "GET",
				  .path = q->path,
				  .query = "",
				  .hname = q->names,
				  .hvalue = q->values,
				  .nh = nh,
				  .body = q->body,
				  .body_len = strlen(q->body)};
}

/* SignedHeaders of q as a client signs them: every name, lowercase, sorted, once */
static void ref_signed(const struct rreq *q, char *out, size_t size)
{
	char low[8][32], tmp[32];
	size_t i, j, n = q->r.nh;

	for (i = 0; i < n; i++) {
		for (j = 0; q->names[i][j]; j++)
			low[i][j] = (char)tolower((unsigned char)q->names[i][j]);
		low[i][j] = 0;
	}
	for (i = 0; i < n; i++) /* insertion sort */
		for (j = i; j > 0 && strcmp(low[j - 1], low[j]) > 0; j--) {
			memcpy(tmp, low[j], sizeof(tmp));
			memcpy(low[j], low[j - 1], sizeof(tmp));
			memcpy(low[j - 1], tmp, sizeof(tmp));
		}
	out[0] = 0;
	for (i = 0; i < n; i++) {
		if (i && !strcmp(low[i], low[i - 1]))
			continue;
		if (out[0])
			strncat(out, ";", size - strlen(out) - 1);
		strncat(out, low[i], size - strlen(out) - 1);
	}
}

START_TEST(test_sign_texts_match_reference)
{
	static const char *const secrets[] = {"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "s2",
					      "dynfs"};
	static const char *const regions[] = {"us-east-1", "eu-west-1"};
	unsigned seed = 20261207;

	for (int round = 0; round < 1000; round++) {
		struct rreq q;
		struct text want = {0}, wsts = {0};
		const char *secret = secrets[rand_r(&seed) % 3], *region = regions[rand_r(&seed) % 2];
		char signed_h[256], scope[128], sig[65], wsig[65], h[65], *creq = NULL, *sts = NULL;
		const char *date = rand_r(&seed) % 2 ? "20150830" : "20261207";
		char amz[17];

		random_req(&q, &seed);
		ref_signed(&q, signed_h, sizeof(signed_h));
		snprintf(amz, sizeof(amz), "%sT123600Z", date);
		snprintf(scope, sizeof(scope), "%s/%s/dynamodb/aws4_request", date, region);
		ck_assert_int_eq(sigv4_sign(&q.r, signed_h, scope, amz, secret, sig, &creq, &sts), 0);
		ref_canonical(&q.r, signed_h, &want);
		ck_assert_msg(!strcmp(creq, want.p), "round %d:\n%s\n--- want ---\n%s", round, creq,
			      want.p);
		sha_hex(want.p, want.len, h);
		adds(&wsts, "AWS4-HMAC-SHA256\n");
		adds(&wsts, amz);
		adds(&wsts, "\n");
		adds(&wsts, scope);
		adds(&wsts, "\n");
		adds(&wsts, h);
		ck_assert_str_eq(sts, wsts.p);
		ref_signature(secret, date, region, "dynamodb", wsts.p, wsig);
		ck_assert_str_eq(sig, wsig);
		/* the same request through sigv4_authorization */
		{
			char *a = NULL, wa[2048];

			ck_assert_int_eq(sigv4_authorization(&q.r, "AKID", secret, region, "dynamodb",
							     amz, &a),
					 0);
			snprintf(wa, sizeof(wa),
				 "AWS4-HMAC-SHA256 Credential=AKID/%s, SignedHeaders=%s, Signature=%s",
				 scope, signed_h, wsig);
			ck_assert_str_eq(a, wa);
			free(a);
		}
		free(creq);
		free(sts);
		free(want.p);
		free(wsts.p);
	}
}
END_TEST

START_TEST(test_authorization_limits)
{
	const char *n[1] = {"Host"}, *v[1] = {"h"};
	struct sigv4_req r = {"POST", "/", "", n, v, 1, "", 0};
	char region[300], *a = NULL;

	/* a scope of 255 bytes is signed, one of 256 refused (a verifier's limit) */
	memset(region, 'r', sizeof(region));
	region[255 - strlen("20150830//s/aws4_request")] = 0;
	ck_assert_int_eq(sigv4_authorization(&r, "K", "s", region, "s", "20150830T123600Z", &a), 0);
	ck_assert_ptr_nonnull(strstr(a, region));
	free(a);
	region[255 - strlen("20150830//s/aws4_request")] = 'r';
	region[256 - strlen("20150830//s/aws4_request")] = 0;
	ck_assert_int_eq(sigv4_authorization(&r, "K", "s", region, "s", "20150830T123600Z", &a),
			 -EINVAL);
	r.nh = 0;
	ck_assert_int_eq(sigv4_authorization(&r, "K", "s", "r", "s", "20150830T123600Z", &a),
			 -EINVAL);
}
END_TEST

START_TEST(test_amzdate_matches_gmtime)
{
	unsigned seed = 7;
	time_t t = 1440938160;

	for (int i = 0; i < 20000; i++) {
		char got[17], want[17];
		struct tm tm;

		switch (rand_r(&seed) % 4) {
		case 0: /* the same second again */
			break;
		case 1:
			t += 1;
			break;
		case 2:
			t -= rand_r(&seed) % 100000;
			break;
		default:
			t = (time_t)(((unsigned long)rand_r(&seed) << 16 ^ (unsigned long)rand_r(&seed)) %
				     4102444800UL);
		}
		sigv4_amzdate(t, got);
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y%m%dT%H%M%SZ", &tm);
		ck_assert_msg(!strcmp(got, want), "t=%ld: %s, want %s", (long)t, got, want);
	}
}
END_TEST

Suite *sigv4_text_suite(void);
Suite *sigv4_text_suite(void)
{
	Suite *s = suite_create("sigv4_text");
	TCase *tc = tcase_create("reference");

	tcase_add_test(tc, test_sign_texts_match_reference);
	tcase_add_test(tc, test_authorization_limits);
	tcase_add_test(tc, test_amzdate_matches_gmtime);
	suite_add_tcase(s, tc);
	return s;
}
