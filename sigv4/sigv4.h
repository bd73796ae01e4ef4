/*
 * sigv4.h - AWS Signature Version 4, the one implementation: the API
 * front end verifies with it (api/sigv4.c), the remote client signs with
 * it (remote/).  Self-contained: OpenSSL's SHA-256 and HMAC, no engine,
 * no HTTP library, no clock (the caller passes the time stamp), so every
 * function is deterministic and tested on AWS's published vectors
 * (tests/check_sigv4.c).
 *
 *   CanonicalRequest = METHOD \n URI \n QUERY \n HEADERS \n SIGNEDHEADERS \n hex(sha256(body))
 *   StringToSign = "AWS4-HMAC-SHA256" \n AMZDATE \n SCOPE \n hex(sha256(CanonicalRequest))
 *   key = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 *   signature = hex(HMAC(key, StringToSign))
 *   Authorization: AWS4-HMAC-SHA256 Credential=ID/SCOPE, SignedHeaders=..., Signature=...
 *
 * Errors: 0 or a negative errno (-EINVAL for a malformed input, -ENOMEM).
 */
#ifndef DYNFS_SIGV4_H
#define DYNFS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One HTTP request as SigV4 sees it; header names in any case. */
struct sigv4_req {
	const char *method;	   /* "POST" */
	const char *path;	   /* "/" (not yet URI-encoded) */
	const char *query;	   /* raw query string or "" */
	const char *const *hname;  /* header names */
	const char *const *hvalue; /* header values */
	size_t nh;		   /* headers */
	const char *body;	   /* payload */
	size_t body_len;	   /* its length */
};

/*
 * The SigV4 signature (64 lowercase hex digits + NUL into sig) of req
 * for the signed headers (";"-separated lowercase names, each of which
 * req must carry), scope "DATE/REGION/SERVICE/aws4_request" and time
 * stamp amzdate (YYYYMMDDTHHMMSSZ), with secret.  Also gives the
 * canonical request and string to sign (new, may be NULL) for tests.
 */
int sigv4_sign(const struct sigv4_req *req, const char *signed_headers, const char *scope,
	       const char *amzdate, const char *secret, char sig[65], char **creq, char **sts);

/*
 * Sign req as a client does: every header of req is signed (req must
 * already carry Host and X-Amz-Date = amzdate, and X-Amz-Security-Token
 * when there is a session token), and *authz (new) is the value of the
 * Authorization header.  region and service name the scope.
 */
int sigv4_authorization(const struct sigv4_req *req, const char *access_key, const char *secret,
			const char *region, const char *service, const char *amzdate, char **authz);

/* YYYYMMDDTHHMMSSZ for t into buf. */
void sigv4_amzdate(time_t t, char buf[17]);
/* Inverse of sigv4_amzdate; (time_t)-1 for anything else. */
time_t sigv4_parse_amzdate(const char *s);

/* The parts of an Authorization header, as a verifier reads them. */
struct sigv4_auth {
	char key_id[256];    /* access key id */
	char scope[256];     /* DATE/REGION/SERVICE/aws4_request */
	char signed_h[1024]; /* SignedHeaders */
	char sig[128];	     /* Signature */
};

/*
 * Take an Authorization header apart (written for hostile input: fixed
 * sizes, every length checked).  -EINVAL if it is not a complete
 * AWS4-HMAC-SHA256 header.
 */
int sigv4_parse_auth(const char *authz, struct sigv4_auth *out);

/* Hex SHA-256 of p[0..n). */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

#endif
