/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h for the formulas).
 *
 * Canonical request details:
 *   URI: the path, each byte outside A-Za-z0-9-._~/ as %XX;
 *   QUERY: name=value pairs, each URI-encoded, sorted by name then value;
 *   HEADERS: "name:value\n" per signed header, names lowercase, values
 *            trimmed with inner runs of spaces collapsed, repeated
 *            headers joined with ",".
 *
 * Moved here from api/sigv4.c so that signing (remote/) and verifying
 * (api/) are one piece of code: a bug in one is a bug in both, and the
 * published vectors test both.  Key material is wiped after use.
 */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a growable string (this module depends on nothing of dynfs) ---- */

struct sbuf {
	char *p;    /* bytes, NUL-terminated when non-NULL */
	size_t len; /* used */
	size_t cap; /* allocated */
	bool stack; /* p is the caller's array (SB_ON), not ours to free */
};

/* A string that starts in the caller's array a and moves to the heap
 * only if it outgrows it: a request's canonical text, string to sign
 * and signed-header list fit in a few hundred bytes, so signing one
 * needs no allocation for them. */
#define SB_ON(a) {(a), 0, sizeof(a), true}

static int sb_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (b->stack) {
			np = malloc(cap);
			if (np && b->len)
				memcpy(np, b->p, b->len);
		} else {
			np = realloc(b->p, cap);
		}
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
		b->stack = false;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static int sb_addc(struct sbuf *b, char c)
{
	return sb_add(b, &c, 1);
}

static int sb_adds(struct sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

/* The NUL-terminated strings of the list, appended in turn (no printf:
 * a vsnprintf costs more than the digest of a short string). */
static int sb_cat(struct sbuf *b, const char *const *parts)
{
	int rc = 0;

	for (; rc == 0 && *parts; parts++)
		rc = sb_adds(b, *parts);
	return rc;
}

/* b's bytes as a string of the heap (moved out, or copied from the
 * caller's array); NULL on ENOMEM. */
static char *sb_take(struct sbuf *b)
{
	char *p = b->stack ? strdup(b->p ? b->p : "") : b->p;

	b->p = NULL;
	b->len = b->cap = 0;
	b->stack = false;
	return p;
}

static void sb_free(struct sbuf *b)
{
	if (!b->stack)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->stack = false;
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

/*
 * SHA-256 and HMAC-SHA256 on one SHA-256 implementation fetched once.
 * OpenSSL 3's one-shot HMAC() and EVP_Digest(EVP_sha256()) look the
 * algorithm up in the provider on every call, which made signing one
 * request (two digests, five HMACs) about 150,000 instructions, half of
 * a remote stat's; HMAC written out over the fetched digest (RFC 2104)
 * costs a small part of that.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
/* Each thread's digest context, made at its first use and freed when the
 * thread ends: a context made and freed per digest was three allocations
 * and frees of OpenSSL's per digest, a tenth of a request's signing.
 * What it holds between uses is the state after a final (a digest that
 * is sent anyway), no key: the padded keys are never its last input. */
static pthread_key_t ctx_key;
static bool ctx_key_made;

static void ctx_free(void *c)
{
	EVP_MD_CTX_free(c);
}

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	ctx_key_made = pthread_key_create(&ctx_key, ctx_free) == 0;
}

static const EVP_MD *sha256_of(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

/* This thread's digest context (see ctx_key); NULL if none can be had. */
static EVP_MD_CTX *thread_ctx(void)
{
	EVP_MD_CTX *c;

	pthread_once(&sha256_once, sha256_fetch);
	if (!ctx_key_made)
		return NULL;
	if ((c = pthread_getspecific(ctx_key)))
		return c;
	if ((c = EVP_MD_CTX_new()) && pthread_setspecific(ctx_key, c) != 0) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* out = SHA-256 of the parts a[0..n) (lengths l) */
static void sha256_parts(EVP_MD_CTX *ctx, const void *const *a, const size_t *l, int n,
			 unsigned char out[32])
{
	unsigned int len = 32;

	EVP_DigestInit_ex2(ctx, sha256_of(), NULL);
	for (int i = 0; i < n; i++)
		EVP_DigestUpdate(ctx, a[i], l[i]);
	EVP_DigestFinal_ex(ctx, out, &len);
}

void sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = thread_ctx();

	if (!ctx)
		EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	else
		sha256_parts(ctx, &p, &n, 1, md);
	hex(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
	unsigned char k[64], pad[64], inner[32];
	EVP_MD_CTX *ctx = thread_ctx();
	const void *a[2];
	size_t l[2];
	unsigned int len = 32;

	if (!ctx) {
		HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len);
		return;
	}
	memset(k, 0, sizeof(k));
	if (klen > sizeof(k)) {
		a[0] = key, l[0] = klen;
		sha256_parts(ctx, a, l, 1, k);
	} else {
		memcpy(k, key, klen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	a[0] = pad, l[0] = sizeof(pad), a[1] = msg, l[1] = mlen;
	sha256_parts(ctx, a, l, 2, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	a[0] = pad, l[0] = sizeof(pad), a[1] = inner, l[1] = sizeof(inner);
	sha256_parts(ctx, a, l, 2, out);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
}

/* ---- canonical request ---- */

static int uri_encode(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (keep_slash && c == '/'))
			rc = sb_addc(b, (char)c);
		else {
			static const char d[] = "0123456789ABCDEF";
			char e[3] = {'%', d[c >> 4], d[c & 15]};

			rc = sb_add(b, e, 3);
		}
	}
	return rc;
}

struct qparam {
	char *enc;   /* "name=value", encoded (owned) */
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
static int pct_decode(struct sbuf *b, const char *s, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], 0};

			rc = sb_addc(b, (char)strtol(h, NULL, 16));
			i += 2;
		} else {
			rc = sb_addc(b, s[i]);
		}
	}
	return rc;
}

static int canon_query(struct sbuf *b, const char *q)
{
	struct qparam *ps = NULL;
	size_t n = 0, i;
	int rc = 0;

	while (q && *q && rc == 0) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		struct sbuf name = {0}, val = {0}, enc = {0};
		struct qparam *np;

		if (end > q) {
			rc = pct_decode(&name, q, (size_t)((eq ? eq : end) - q));
			if (rc == 0 && eq)
				rc = pct_decode(&val, eq + 1, (size_t)(end - eq - 1));
			if (rc == 0)
				rc = uri_encode(&enc, name.p ? name.p : "", name.len, false);
			i = enc.len;
			if (rc == 0)
				rc = sb_addc(&enc, '=');
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
		sb_free(&name);
		sb_free(&val);
		sb_free(&enc);
		q = amp ? amp + 1 : end;
	}
	if (n)
		qsort(ps, n, sizeof(*ps), qcmp);
	for (i = 0; i < n; i++) {
		if (rc == 0 && i)
			rc = sb_addc(b, '&');
		if (rc == 0)
			rc = sb_adds(b, ps[i].enc);
		free(ps[i].enc);
	}
	free(ps);
	return rc;
}

/* "name:value" for one signed header: all values of that name, joined. */
static int canon_header(struct sbuf *b, const struct sigv4_req *req, const char *name, size_t nlen)
{
	size_t i, found = 0;
	int rc = sb_add(b, name, nlen);

	if (rc == 0)
		rc = sb_addc(b, ':');
	for (i = 0; rc == 0 && i < req->nh; i++) {
		const char *v = req->hvalue[i], *e, *w;

		if (strlen(req->hname[i]) != nlen || strncasecmp(req->hname[i], name, nlen))
			continue;
		if (found++)
			rc = sb_addc(b, ',');
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		/* the words, one space between each two (e ends on a word) */
		while (rc == 0 && v < e) {
			w = v;
			while (w < e && *w != ' ' && *w != '\t')
				w++;
			rc = sb_add(b, v, (size_t)(w - v));
			if (rc == 0 && w < e)
				rc = sb_addc(b, ' ');
			while (w < e && (*w == ' ' || *w == '\t'))
				w++;
			v = w;
		}
	}
	if (rc == 0 && !found)
		return -EINVAL;
	if (rc == 0)
		rc = sb_addc(b, '\n');
	return rc;
}

/*
 * The signing key of the last (secret, scope) pair: it changes once a day
 * per region and service, so a client (and a server seeing one client)
 * derives it once instead of with four HMACs per request, as the SDKs do.
 * It is key material like the secret it comes from, which the caller
 * holds anyway; a secret or scope too long for the slot is not kept.
 */
static struct {
	pthread_mutex_t mu;
	char secret[128];	/* "" while empty */
	char scope[128];	/* DATE/REGION/SERVICE/aws4_request */
	unsigned char key[32];	/* its signing key */
} keyc = {PTHREAD_MUTEX_INITIALIZER, "", "", {0}};

static bool key_cached(const char *secret, const char *scope, unsigned char out[32])
{
	bool hit;

	pthread_mutex_lock(&keyc.mu);
	hit = keyc.secret[0] && !strcmp(keyc.secret, secret) && !strcmp(keyc.scope, scope);
	if (hit)
		memcpy(out, keyc.key, 32);
	pthread_mutex_unlock(&keyc.mu);
	return hit;
}

static void key_keep(const char *secret, const char *scope, const unsigned char key[32])
{
	if (!*secret || strlen(secret) >= sizeof(keyc.secret) || strlen(scope) >= sizeof(keyc.scope))
		return;
	pthread_mutex_lock(&keyc.mu);
	strcpy(keyc.secret, secret);
	strcpy(keyc.scope, scope);
	memcpy(keyc.key, key, 32);
	pthread_mutex_unlock(&keyc.mu);
}

int sigv4_sign(const struct sigv4_req *req, const char *signed_headers, const char *scope,
	       const char *amzdate, const char *secret, char sig[65], char **creq, char **sts)
{
	char cbuf[1024], sbuf[256], kbuf[136];
	struct sbuf c = SB_ON(cbuf), s = SB_ON(sbuf), key = SB_ON(kbuf);
	const char *p, *q, *parts[4];
	size_t plen[4], i;
	unsigned char k[32], k2[32];
	char h[65];
	int rc;

	rc = sb_cat(&c, (const char *const[]){req->method, "\n", NULL});
	if (rc == 0)
		rc = uri_encode(&c, req->path, strlen(req->path), true);
	if (rc == 0)
		rc = sb_addc(&c, '\n');
	if (rc == 0)
		rc = canon_query(&c, req->query);
	if (rc == 0)
		rc = sb_addc(&c, '\n');
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
	sigv4_sha256_hex(req->body ? req->body : "", req->body_len, h);
	if (rc == 0)
		rc = sb_cat(&c, (const char *const[]){"\n", signed_headers, "\n", h, NULL});
	if (rc < 0)
		goto out;
	sigv4_sha256_hex(c.p, c.len, h);
	rc = sb_cat(&s, (const char *const[]){"AWS4-HMAC-SHA256\n", amzdate, "\n", scope, "\n", h,
					      NULL});
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
	if (!key_cached(secret, scope, k2)) {
		rc = sb_cat(&key, (const char *const[]){"AWS4", secret, NULL});
		if (rc < 0)
			goto out;
		hmac(key.p, key.len, parts[0], plen[0], k);
		hmac(k, 32, parts[1], plen[1], k2);
		hmac(k2, 32, parts[2], plen[2], k);
		hmac(k, 32, parts[3], plen[3], k2);
		key_keep(secret, scope, k2);
	}
	hmac(k2, 32, s.p, s.len, k);
	hex(k, 32, sig);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
	if (creq && !(*creq = sb_take(&c)))
		rc = -ENOMEM;
	if (sts && rc == 0 && !(*sts = sb_take(&s))) {
		if (creq) {
			free(*creq);
			*creq = NULL;
		}
		rc = -ENOMEM;
	}
out:
	if (key.p)
		OPENSSL_cleanse(key.p, key.len);
	sb_free(&key);
	sb_free(&c);
	sb_free(&s);
	return rc;
}

/* ---- signing as a client ---- */

static int strp_casecmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

int sigv4_authorization(const struct sigv4_req *req, const char *access_key, const char *secret,
			const char *region, const char *service, const char *amzdate, char **authz)
{
	char scbuf[256], shbuf[256], date[9], sig[65];
	struct sbuf scope = SB_ON(scbuf), sh = SB_ON(shbuf), out = {0};
	const char *few[16], **names = few;
	size_t i, j;
	int rc = 0;

	if (strlen(amzdate) != 16)
		return -EINVAL;
	memcpy(date, amzdate, 8);
	date[8] = 0;
	rc = sb_cat(&scope,
		    (const char *const[]){date, "/", region, "/", service, "/aws4_request", NULL});
	if (rc == 0 && scope.len >= 256) /* the scope a verifier reads (sigv4_auth) */
		rc = -EINVAL;
	if (rc == 0 && req->nh > sizeof(few) / sizeof(few[0]) &&
	    !(names = malloc(req->nh * sizeof(*names))))
		rc = -ENOMEM;
	if (rc < 0) {
		sb_free(&scope);
		return rc;
	}
	for (i = 0; i < req->nh; i++)
		names[i] = req->hname[i];
	qsort(names, req->nh, sizeof(*names), strp_casecmp);
	/* SignedHeaders: sorted lowercase names, each once. */
	for (i = 0; rc == 0 && i < req->nh; i++) {
		if (i && !strcasecmp(names[i], names[i - 1]))
			continue;
		if (sh.len)
			rc = sb_addc(&sh, ';');
		j = sh.len;
		if (rc == 0)
			rc = sb_adds(&sh, names[i]);
		for (; rc == 0 && j < sh.len; j++)
			sh.p[j] = (char)tolower((unsigned char)sh.p[j]);
	}
	if (names != few)
		free(names);
	if (rc == 0 && !sh.len)
		rc = -EINVAL;
	if (rc == 0)
		rc = sigv4_sign(req, sh.p, scope.p, amzdate, secret, sig, NULL, NULL);
	if (rc == 0)
		rc = sb_cat(&out, (const char *const[]){"AWS4-HMAC-SHA256 Credential=", access_key,
							"/", scope.p, ", SignedHeaders=", sh.p,
							", Signature=", sig, NULL});
	sb_free(&sh);
	sb_free(&scope);
	if (rc < 0) {
		sb_free(&out);
		return rc;
	}
	*authz = out.p;
	return 0;
}

/* ---- time stamps ---- */

/* Each thread's last time stamp: a client signs many requests within one
 * second, and gmtime_r + strftime cost more than the digest of a short
 * string. */
static __thread struct {
	time_t t;
	char text[17]; /* "" until the first */
} amz_last;

void sigv4_amzdate(time_t t, char buf[17])
{
	struct tm tm;

	if (!amz_last.text[0] || amz_last.t != t) {
		gmtime_r(&t, &tm);
		strftime(amz_last.text, 17, "%Y%m%dT%H%M%SZ", &tm);
		amz_last.t = t;
	}
	memcpy(buf, amz_last.text, 17);
}

time_t sigv4_parse_amzdate(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || strlen(s) != 16 || !(end = strptime(s, "%Y%m%dT%H%M%SZ", &tm)) || *end)
		return (time_t)-1;
	return timegm(&tm);
}

/* ---- reading an Authorization header ---- */

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

int sigv4_parse_auth(const char *authz, struct sigv4_auth *out)
{
	char cred[512];
	const char *slash;

	if (!authz || strncmp(authz, "AWS4-HMAC-SHA256 ", 17) ||
	    !auth_field(authz, "Credential", cred, sizeof(cred)) ||
	    !auth_field(authz, "SignedHeaders", out->signed_h, sizeof(out->signed_h)) ||
	    !auth_field(authz, "Signature", out->sig, sizeof(out->sig)) ||
	    !(slash = strchr(cred, '/')))
		return -EINVAL;
	if ((size_t)(slash - cred) >= sizeof(out->key_id) ||
	    strlen(slash + 1) >= sizeof(out->scope))
		return -EINVAL;
	snprintf(out->key_id, sizeof(out->key_id), "%.*s", (int)(slash - cred), cred);
	snprintf(out->scope, sizeof(out->scope), "%s", slash + 1);
	return 0;
}
