/*
 * sigv4.c - verifying the requests SDKs sign with AWS Signature Version 4
 * (--auth FILE): the auth file of keys, and DynamoDB's answers for a
 * missing, malformed, unknown or wrong signature.  The signature itself
 * is computed by the one SigV4 implementation (sigv4/sigv4.c), which the
 * remote client signs with.
 *
 * Verification recomputes the signature over what arrived and compares
 * in constant time; the time stamp must be within 15 minutes of now, as
 * the service requires.
 */
#include "apiint.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SKEW_S (15 * 60)

struct api_keys {
	char **id;	/* access key ids (owned) */
	char **secret;	/* their secrets (owned) */
	size_t n;	/* pairs */
};

/* ---- keys ---- */

void api_keys_free(struct api_keys *k)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < k->n; i++) {
		free(k->id[i]);
		OPENSSL_cleanse(k->secret[i], strlen(k->secret[i]));
		free(k->secret[i]);
	}
	free(k->id);
	free(k->secret);
	free(k);
}

int api_keys_load(const char *path, struct api_keys **out, struct dyn_err *err)
{
	struct api_keys *k = calloc(1, sizeof(*k));
	char line[1024], id[256], secret[512];
	FILE *f;
	int lineno = 0, rc = 0;

	if (!k)
		return -ENOMEM;
	f = fopen(path, "r");
	if (!f) {
		free(k);
		return err_set(err, EINVAL, "cannot read auth file %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char **ni, **ns;
		char *p = line;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (sscanf(p, "%255s %511s", id, secret) != 2) {
			rc = err_set(err, EINVAL, "%s:%d: expected ACCESS_KEY_ID SECRET_ACCESS_KEY",
				     path, lineno);
			break;
		}
		ni = realloc(k->id, (k->n + 1) * sizeof(*ni));
		if (ni)
			k->id = ni;
		ns = ni ? realloc(k->secret, (k->n + 1) * sizeof(*ns)) : NULL;
		if (ns)
			k->secret = ns;
		if (!ni || !ns || !(k->id[k->n] = strdup(id))) {
			rc = -ENOMEM;
			break;
		}
		if (!(k->secret[k->n] = strdup(secret))) {
			free(k->id[k->n]);
			rc = -ENOMEM;
			break;
		}
		k->n++;
	}
	fclose(f);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == 0 && k->n == 0)
		rc = err_set(err, EINVAL, "auth file %s has no keys", path);
	if (rc < 0) {
		api_keys_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

static const char *find_secret(const struct api_keys *k, const char *id)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (!strcmp(k->id[i], id))
			return k->secret[i];
	return NULL;
}

/* ---- verification ---- */

static const char *header(const struct sigv4_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nh; i++)
		if (!strcasecmp(req->hname[i], name))
			return req->hvalue[i];
	return NULL;
}

int sigv4_verify(const struct api_keys *k, const struct sigv4_req *req, const char **etype,
		 char *msg, size_t msg_size)
{
	const char *authz = header(req, "Authorization"), *amzdate = header(req, "X-Amz-Date");
	const char *secret;
	struct sigv4_auth au;
	char mine[65];
	time_t t;
	int rc;

	if (!authz) {
		*etype = "MissingAuthenticationTokenException";
		snprintf(msg, msg_size, "Request is missing Authentication Token");
		return -1;
	}
	if (sigv4_parse_auth(authz, &au) < 0) {
		*etype = "IncompleteSignatureException";
		snprintf(msg, msg_size, "Authorization header requires 'Credential', 'Signature' "
			 "and 'SignedHeaders' parameters of an AWS4-HMAC-SHA256 signature");
		return -1;
	}
	secret = find_secret(k, au.key_id);
	if (!secret) {
		*etype = "UnrecognizedClientException";
		snprintf(msg, msg_size, "The security token included in the request is invalid.");
		return -1;
	}
	t = sigv4_parse_amzdate(amzdate);
	if (t == (time_t)-1 || strncmp(au.scope, amzdate, 8)) {
		*etype = "IncompleteSignatureException";
		snprintf(msg, msg_size, "X-Amz-Date must be YYYYMMDDTHHMMSSZ and agree with the "
			 "credential scope");
		return -1;
	}
	if (llabs((long long)(time(NULL) - t)) > MAX_SKEW_S) {
		*etype = "InvalidSignatureException";
		snprintf(msg, msg_size, "Signature expired: %s is now earlier or later than 15 "
			 "minutes from the server's time.", amzdate);
		return -1;
	}
	rc = sigv4_sign(req, au.signed_h, au.scope, amzdate, secret, mine, NULL, NULL);
	if (rc < 0 || strlen(au.sig) != 64 || CRYPTO_memcmp(mine, au.sig, 64) != 0) {
		*etype = "InvalidSignatureException";
		snprintf(msg, msg_size, "The request signature we calculated does not match the "
			 "signature you provided. Check your AWS Secret Access Key and signing "
			 "method. Consult the service documentation for details.");
		return -1;
	}
	return 0;
}
