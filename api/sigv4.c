/*
 * sigv4.c - AWS Signature Version 4: verifying the requests SDKs sign
 * (--auth FILE), with OpenSSL's SHA-256 and HMAC.
 *
 *   CanonicalRequest = METHOD \n URI \n QUERY \n HEADERS \n SIGNEDHEADERS \n hex(sha256(body))
 *     URI: the path, each byte outside A-Za-z0-9-._~/ as %XX;
 *     QUERY: name=value pairs, each URI-encoded, sorted by name then value;
 *     HEADERS: "name:value\n" per signed header, names lowercase, values
 *              trimmed with inner runs of spaces collapsed, repeated
 *              headers joined with ",".
 *   StringToSign = "AWS4-HMAC-SHA256" \n AMZDATE \n SCOPE \n hex(sha256(CanonicalRequest))
 *   key = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 *   signature = hex(HMAC(key, StringToSign))
 *
 * Verification recomputes the signature over what arrived and compares
 * in constant time; the time stamp must be within 15 minutes of now, as
 * the service requires.  The parser of the Authorization header is
 * written for hostile input (it is fuzzed): fixed-size fields, every
 * length checked.
 */
#include "apiint.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

/* ---- hashing ---- */

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	hex(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len);
}

/* ---- canonical request ---- */

static int uri_encode(struct sf_buf *b, const char *s, size_t n, bool keep_slash)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (keep_slash && c == '/'))
			rc = sf_buf_addc(b, (char)c);
		else
			rc = sf_buf_printf(b, "%%%02X", c);
	}
	return rc;
}

struct qparam {
	char *enc; /* "name=value", encoded (owned) */
	size_t nlen; /* bytes of the encoded name */
};

static int qcmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c = memcmp(x->enc, y->enc, n);

	if (c || x->nlen != y->nlen)
		return c ? c : x->nlen < y->nlen ? -1 : 1;
	return strcmp(x->enc + x->nlen, y->enc + y->nlen);
}

/* A %XX-decoded copy of s[0..n) into b. */
static int pct_decode(struct sf_buf *b, const char *s, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], 0};

			rc = sf_buf_addc(b, (char)strtol(h, NULL, 16));
			i += 2;
		} else {
			rc = sf_buf_addc(b, s[i]);
		}
	}
	return rc;
}

static int canon_query(struct sf_buf *b, const char *q)
{
	struct qparam *ps = NULL;
	size_t n = 0, i;
	int rc = 0;

	while (q && *q && rc == 0) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		struct sf_buf name = SF_BUF_INIT, val = SF_BUF_INIT, enc = SF_BUF_INIT;
		struct qparam *np;

		if (end > q) {
			rc = pct_decode(&name, q, (size_t)((eq ? eq : end) - q));
			if (rc == 0 && eq)
				rc = pct_decode(&val, eq + 1, (size_t)(end - eq - 1));
			if (rc == 0)
				rc = uri_encode(&enc, name.p ? name.p : "", name.len, false);
			i = enc.len;
			if (rc == 0)
				rc = sf_buf_addc(&enc, '=');
			if (rc == 0)
				rc = uri_encode(&enc, val.p ? val.p : "", val.len, false);
			np = rc == 0 ? realloc(ps, (n + 1) * sizeof(*np)) : NULL;
			if (np) {
				ps = np;
				ps[n].enc = enc.p;
				ps[n++].nlen = i;
				enc.p = NULL;
			} else {
				rc = -ENOMEM;
			}
		}
		sf_buf_free(&name);
		sf_buf_free(&val);
		sf_buf_free(&enc);
		q = amp ? amp + 1 : end;
	}
	if (n)
		qsort(ps, n, sizeof(*ps), qcmp);
	for (i = 0; i < n; i++) {
		if (rc == 0 && i)
			rc = sf_buf_addc(b, '&');
		if (rc == 0)
			rc = sf_buf_adds(b, ps[i].enc);
		free(ps[i].enc);
	}
	free(ps);
	return rc;
}

/* "name:value" for one signed header: all values of that name, joined. */
static int canon_header(struct sf_buf *b, const struct sigv4_req *req, const char *name, size_t nlen)
{
	size_t i, found = 0;
	int rc = sf_buf_add(b, name, nlen);

	if (rc == 0)
		rc = sf_buf_addc(b, ':');
	for (i = 0; rc == 0 && i < req->nh; i++) {
		const char *v = req->hvalue[i], *e;
		bool space = false;

		if (strlen(req->hname[i]) != nlen || strncasecmp(req->hname[i], name, nlen))
			continue;
		if (found++)
			rc = sf_buf_addc(b, ',');
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		for (; rc == 0 && v < e; v++) {
			if (*v == ' ' || *v == '\t') {
				space = true;
				continue;
			}
			if (space)
				rc = sf_buf_addc(b, ' ');
			space = false;
			if (rc == 0)
				rc = sf_buf_addc(b, *v);
		}
	}
	if (rc == 0 && !found)
		return -EINVAL;
	if (rc == 0)
		rc = sf_buf_addc(b, '\n');
	return rc;
}

int sigv4_sign(const struct sigv4_req *req, const char *signed_headers, const char *scope,
	       const char *amzdate, const char *secret, char sig[65], char **creq, char **sts)
{
	struct sf_buf c = SF_BUF_INIT, s = SF_BUF_INIT, key = SF_BUF_INIT;
	const char *p, *q, *parts[4];
	size_t plen[4], i;
	unsigned char k[32], k2[32];
	char h[65];
	int rc;

	rc = sf_buf_printf(&c, "%s\n", req->method);
	if (rc == 0)
		rc = uri_encode(&c, req->path, strlen(req->path), true);
	if (rc == 0)
		rc = sf_buf_addc(&c, '\n');
	if (rc == 0)
		rc = canon_query(&c, req->query);
	if (rc == 0)
		rc = sf_buf_addc(&c, '\n');
	for (p = signed_headers; rc == 0 && *p; p = *q ? q + 1 : q) {
		q = strchr(p, ';');
		if (!q)
			q = p + strlen(p);
		if (q == p) {
			rc = -EINVAL;
			break;
		}
		rc = canon_header(&c, req, p, (size_t)(q - p));
	}
	sha256_hex(req->body ? req->body : "", req->body_len, h);
	if (rc == 0)
		rc = sf_buf_printf(&c, "\n%s\n%s", signed_headers, h);
	if (rc < 0)
		goto out;
	sha256_hex(c.p, c.len, h);
	rc = sf_buf_printf(&s, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, h);
	if (rc < 0)
		goto out;
	/* scope: date/region/service/aws4_request */
	for (i = 0, p = scope; i < 4; i++) {
		q = strchr(p, '/');
		if (!q)
			q = p + strlen(p);
		parts[i] = p;
		plen[i] = (size_t)(q - p);
		if (!*q && i < 3) {
			rc = -EINVAL;
			goto out;
		}
		p = *q ? q + 1 : q;
	}
	rc = sf_buf_printf(&key, "AWS4%s", secret);
	if (rc < 0)
		goto out;
	hmac(key.p, key.len, parts[0], plen[0], k);
	hmac(k, 32, parts[1], plen[1], k2);
	hmac(k2, 32, parts[2], plen[2], k);
	hmac(k, 32, parts[3], plen[3], k2);
	hmac(k2, 32, s.p, s.len, k);
	hex(k, 32, sig);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
	if (creq) {
		*creq = c.p;
		c.p = NULL;
	}
	if (sts) {
		*sts = s.p;
		s.p = NULL;
	}
out:
	if (key.p)
		OPENSSL_cleanse(key.p, key.len);
	sf_buf_free(&key);
	sf_buf_free(&c);
	sf_buf_free(&s);
	return rc;
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

/* Copy the value of "Key=value" (up to ',' or end) from the header. */
static bool auth_field(const char *authz, const char *key, char *out, size_t size)
{
	const char *p = authz;
	size_t klen = strlen(key), n;

	while ((p = strstr(p, key))) {
		if ((p == authz || p[-1] == ' ' || p[-1] == ',') && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, ", ");
			if (n == 0 || n >= size)
				return false;
			memcpy(out, p, n);
			out[n] = 0;
			return true;
		}
		p += klen;
	}
	return false;
}

static time_t parse_amzdate(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || strlen(s) != 16 || !(end = strptime(s, "%Y%m%dT%H%M%SZ", &tm)) || *end)
		return (time_t)-1;
	return timegm(&tm);
}

int sigv4_verify(const struct api_keys *k, const struct sigv4_req *req, const char **etype,
		 char *msg, size_t msg_size)
{
	const char *authz = header(req, "Authorization"), *amzdate = header(req, "X-Amz-Date");
	const char *secret, *scope;
	char cred[512], signed_h[1024], sig[128], mine[65], id[256];
	time_t t;
	int rc;

	if (!authz) {
		*etype = "MissingAuthenticationTokenException";
		snprintf(msg, msg_size, "Request is missing Authentication Token");
		return -1;
	}
	if (strncmp(authz, "AWS4-HMAC-SHA256 ", 17) || !auth_field(authz, "Credential", cred, sizeof(cred)) ||
	    !auth_field(authz, "SignedHeaders", signed_h, sizeof(signed_h)) ||
	    !auth_field(authz, "Signature", sig, sizeof(sig)) || !strchr(cred, '/')) {
		*etype = "IncompleteSignatureException";
		snprintf(msg, msg_size, "Authorization header requires 'Credential', 'Signature' "
			 "and 'SignedHeaders' parameters of an AWS4-HMAC-SHA256 signature");
		return -1;
	}
	scope = strchr(cred, '/');
	snprintf(id, sizeof(id), "%.*s", (int)(scope - cred), cred);
	scope++;
	secret = find_secret(k, id);
	if (!secret) {
		*etype = "UnrecognizedClientException";
		snprintf(msg, msg_size, "The security token included in the request is invalid.");
		return -1;
	}
	t = parse_amzdate(amzdate);
	if (t == (time_t)-1 || strncmp(scope, amzdate, 8)) {
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
	rc = sigv4_sign(req, signed_h, scope, amzdate, secret, mine, NULL, NULL);
	if (rc < 0 || strlen(sig) != 64 || CRYPTO_memcmp(mine, sig, 64) != 0) {
		*etype = "InvalidSignatureException";
		snprintf(msg, msg_size, "The request signature we calculated does not match the "
			 "signature you provided. Check your AWS Secret Access Key and signing "
			 "method. Consult the service documentation for details.");
		return -1;
	}
	return 0;
}
