/*
 * http.c - the client's transport: a pool of libcurl easy handles (each
 * keeps its connection alive between calls, so a warm call costs no
 * TCP or TLS handshake), SigV4 signing (sigv4/), and the retry policy.
 *
 * Retry policy (rmt_classify, the one place it is decided):
 *   - 200: done.
 *   - throttling (ProvisionedThroughputExceededException,
 *     ThrottlingException, RequestLimitExceeded, ...): the service refused
 *     the request without applying it, so it is always repeated, after a
 *     full-jitter backoff: random(0, min(cap, base * 2^attempt)).
 *   - expired credentials (ExpiredTokenException...): refresh from the
 *     chain and repeat at once, only once per call.
 *   - 5xx: the request may have been applied.  Repeated if the call is
 *     idempotent (the caller says so: reads, whole-item puts and deletes,
 *     batches of them, TransactWriteItems with its ClientRequestToken),
 *     or on 503 (the service did not take it); otherwise -EIO, "outcome
 *     unknown", and the caller decides.
 *   - transport failure: repeated if nothing was sent (no connection) or
 *     the call is idempotent; otherwise -EIO with outcome unknown.
 *   - anything else: done, with the error mapped to an errno.
 * Every call has at most o.max_attempts attempts.
 *
 * Locking: c->lock guards the pool, the credentials and the counters; a
 * call holds it to take or give back a handle, to copy the credentials
 * and to count, never across a DynamoDB request.  A credential refresh
 * (a file, a process, ECS or IMDS, 1 s timeouts) does run under it: the
 * other calls need the fresh credentials anyway.
 */
#include "remoteint.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sigv4.h"

/*
 * One pooled handle and its request headers.  The header list is
 * libcurl's public struct curl_slist, laid out once per handle (nodes in
 * hl, texts in the buffers) and rewritten in place for each request:
 * libcurl reads it only during curl_easy_perform and never frees it
 * (CURLOPT_HTTPHEADER), and building it anew with curl_slist_append was
 * 16 allocations and frees per request.
 */
enum { H_HOST, H_DATE, H_TARGET, H_TYPE, H_AUTH, H_TOKEN, H_EXPECT, H_ENCODING, H_N };

#define TARGET_PREFIX "X-Amz-Target: DynamoDB_20120810."
#define DATE_PREFIX "X-Amz-Date: "

struct rmt_conn {
	CURL *h;		     /* easy handle, its connection kept alive */
	struct rmt_conn *next;	     /* next idle one */
	struct curl_slist hl[H_N];   /* the request headers, in this order */
	char *host;		     /* "Host: HOST" */
	char date[32];		     /* DATE_PREFIX + YYYYMMDDTHHMMSSZ */
	char target[128];	     /* TARGET_PREFIX + the operation */
	char *auth, *tok;	     /* "Authorization: ...", "X-Amz-Security-Token: ..." */
	size_t auth_cap, tok_cap;    /* their buffers' sizes */
};

static char h_type[] = "Content-Type: application/x-amz-json-1.0";
static char h_expect[] = "Expect:"; /* no 100-continue round trip */
static char h_encoding[] = "Accept-Encoding: identity";

/* ---- pure decisions ---- */

static bool is_throttle(const char *t)
{
	static const char *const names[] = {"ProvisionedThroughputExceededException",
					    "ThrottlingException",
					    "RequestLimitExceeded",
					    "Throttling",
					    "ThrottledException",
					    "TooManyRequestsException",
					    "SlowDown",
					    "TransactionInProgressException",
					    NULL};

	for (int i = 0; names[i]; i++)
		if (!strcmp(t, names[i]))
			return true;
	return false;
}

static bool is_expired(const char *t)
{
	return !strcmp(t, "ExpiredTokenException") || !strcmp(t, "ExpiredToken") ||
	       !strcmp(t, "RequestExpired") || !strcmp(t, "TokenRefreshRequired");
}

enum rmt_verdict rmt_classify(long status, bool sent, const char *etype, bool idempotent)
{
	if (status == 200)
		return RMT_DONE;
	if (status == 0)
		return !sent || idempotent ? RMT_RETRY : RMT_DONE;
	if (is_throttle(etype) || status == 429)
		return RMT_RETRY;
	if (is_expired(etype))
		return RMT_REFRESH;
	if (status >= 500)
		return idempotent || status == 503 ? RMT_RETRY : RMT_DONE;
	return RMT_DONE;
}

int rmt_backoff_ms(int attempt, int base_ms, int cap_ms, unsigned *seed)
{
	long ceiling = base_ms;

	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (int)(rand_r(seed) % (ceiling + 1));
}

void rmt_error_of(const char *body, size_t len, char *etype, size_t tsize, char *msg, size_t msize)
{
	struct sf_span whole, v;
	char *s = NULL, *hash;
	size_t n;

	etype[0] = msg[0] = 0;
	if (!body || sf_whole(body, len, &whole) < 0)
		return;
	if (rmt_member(whole, "__type", &v) == 0 && sf_span_str(v, &s, &n, NULL) == 0) {
		hash = strrchr(s, '#');
		snprintf(etype, tsize, "%s", hash ? hash + 1 : s);
		free(s);
		s = NULL;
	}
	if ((rmt_member(whole, "message", &v) == 0 || rmt_member(whole, "Message", &v) == 0) &&
	    sf_span_str(v, &s, &n, NULL) == 0) {
		snprintf(msg, msize, "%s", s);
		free(s);
	}
}

int rmt_errno_of(long status, const char *t)
{
	if (!strcmp(t, "ConditionalCheckFailedException") ||
	    !strcmp(t, "TransactionCanceledException"))
		return -ECANCELED;
	if (!strcmp(t, "ResourceNotFoundException"))
		return -ENOENT;
	if (!strcmp(t, "ResourceInUseException"))
		return -EEXIST;
	if (is_throttle(t) || status == 429)
		return -EAGAIN;
	if (strstr(t, "Signature") || strstr(t, "Token") || strstr(t, "AccessDenied") ||
	    !strcmp(t, "UnrecognizedClientException") || status == 403)
		return -EACCES;
	if (status >= 500)
		return -EIO;
	return -EINVAL;
}

/* ---- the pool ---- */

static int handle_setup(rmt_t *c, struct rmt_conn *k);

static void conn_free(struct rmt_conn *k)
{
	if (!k)
		return;
	if (k->h)
		curl_easy_cleanup(k->h);
	free(k->host);
	free(k->auth);
	free(k->tok);
	free(k);
}

static struct rmt_conn *take(rmt_t *c)
{
	struct rmt_conn *k;

	pthread_mutex_lock(&c->lock);
	k = c->pool;
	if (k) {
		c->pool = k->next;
		c->npool--;
	}
	pthread_mutex_unlock(&c->lock);
	if (k)
		return k;
	k = calloc(1, sizeof(*k));
	if (k && (!(k->h = curl_easy_init()) || handle_setup(c, k) < 0)) {
		conn_free(k);
		k = NULL;
	}
	return k;
}

static void give(rmt_t *c, struct rmt_conn *k, bool broken)
{
	if (!broken) {
		pthread_mutex_lock(&c->lock);
		if (c->npool < c->o.pool_size) {
			k->next = c->pool;
			c->pool = k;
			c->npool++;
			k = NULL;
		}
		pthread_mutex_unlock(&c->lock);
	}
	conn_free(k);
}

/* ---- credentials ---- */

/* A copy of the current credentials, refreshed first if they expire soon or force. */
static int creds_now(rmt_t *c, bool force, struct rmt_creds *out, struct dyn_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->dummy &&
	    (force || (c->creds.expires && time(NULL) >= c->creds.expires - RMT_REFRESH_EARLY_S))) {
		struct rmt_creds fresh;

		rc = rmt_creds_resolve(&c->chain, &fresh, err);
		if (rc == 0) {
			rmt_creds_free(&c->creds);
			c->creds = fresh;
			c->stats.refreshes++;
		}
	}
	*out = c->creds;
	out->token = c->creds.token ? strdup(c->creds.token) : NULL;
	if (c->creds.token && !out->token)
		rc = -ENOMEM;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- one attempt ---- */

struct resp {
	char *p;    /* body */
	size_t len; /* bytes */
	size_t cap; /* allocated */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb;

	if (r->len + n + 1 > r->cap) {
		/* the first piece exactly (most answers come in one), then
		 * doubling: a 1 MB page comes in 16 KiB pieces */
		size_t cap = r->cap ? 2 * r->cap : r->len + n + 1;
		char *np;

		while (cap < r->len + n + 1)
			cap *= 2;
		if (!(np = realloc(r->p, cap)))
			return 0;
		r->p = np;
		r->cap = cap;
	}
	memcpy(r->p + r->len, data, n);
	r->len += n;
	r->p[r->len] = 0;
	return n;
}

/*
 * libcurl silently sends a request again on a fresh connection when a
 * reused keep-alive connection dies before any answer byte.  That would
 * repeat a write behind the retry policy's back (the fault proxy's
 * drop-after shows it: a conditional put applied, then applied again and
 * "failed", with nothing telling rmt_call_ex that an earlier attempt may
 * have been applied), so the body goes out in one buffer with the
 * headers (CURLOPT_POSTFIELDS: one send, no second segment for the
 * server to wait for) and the pre-request callback, which libcurl calls
 * before each request it sends, refuses the second one: the attempt then
 * fails with CURLE_ABORTED_BY_CALLBACK, counted as sent (outcome
 * unknown), and the policy decides: an idempotent call is repeated (and
 * marked ambiguous), another one is not.
 */
struct sendctl {
	int sends; /* requests libcurl started for this attempt */
};

static int on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct sendctl *s = arg;

	return ++s->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/* What every request of a handle has in common: set once, when it is made. */
static int handle_setup(rmt_t *c, struct rmt_conn *k)
{
	CURL *h = k->h;
	int i;

	if (asprintf(&k->host, "Host: %s", c->host) < 0) {
		k->host = NULL;
		return -ENOMEM;
	}
	memcpy(k->date, DATE_PREFIX, sizeof(DATE_PREFIX));
	memcpy(k->target, TARGET_PREFIX, sizeof(TARGET_PREFIX));
	k->hl[H_HOST].data = k->host;
	k->hl[H_DATE].data = k->date;
	k->hl[H_TARGET].data = k->target;
	k->hl[H_TYPE].data = h_type;
	k->hl[H_EXPECT].data = h_expect;
	k->hl[H_ENCODING].data = h_encoding;
	for (i = 0; i + 1 < H_N; i++)
		k->hl[i].next = &k->hl[i + 1];
	k->hl[H_N - 1].next = NULL;
	curl_easy_setopt(h, CURLOPT_URL, c->endpoint);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "dynfs-remote/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, &k->hl[H_HOST]);
	return 0;
}

/* *buf := prefix + value, the buffer grown as needed (kept for the next request). */
static int set_header(char **buf, size_t *cap, const char *prefix, const char *value)
{
	size_t pl = strlen(prefix), vl = strlen(value);

	if (pl + vl + 1 > *cap) {
		char *np = realloc(*buf, pl + vl + 1);

		if (!np)
			return -ENOMEM;
		*buf = np;
		*cap = pl + vl + 1;
	}
	memcpy(*buf, prefix, pl);
	memcpy(*buf + pl, value, vl + 1);
	return 0;
}

static int attempt(rmt_t *c, struct rmt_conn *k, const struct rmt_creds *cr, const char *op,
		   const char *body, size_t len, long *status, bool *sent, struct resp *r)
{
	const size_t dl = sizeof(DATE_PREFIX) - 1, tl = sizeof("X-Amz-Target: ") - 1;
	const char *names[5] = {"Host", "X-Amz-Date", "X-Amz-Target", "Content-Type",
				"X-Amz-Security-Token"};
	const char *values[5];
	struct sigv4_req sr;
	struct sendctl sc = {0};
	size_t olen = strlen(op);
	char *authz = NULL;
	CURL *h = k->h;
	curl_off_t up = 0;
	CURLcode cc;
	int rc;

	if (sizeof(TARGET_PREFIX) + olen > sizeof(k->target))
		return -EINVAL;
	sigv4_amzdate(time(NULL), k->date + dl);
	memcpy(k->target + sizeof(TARGET_PREFIX) - 1, op, olen + 1);
	values[0] = c->host;
	values[1] = k->date + dl;
	values[2] = k->target + tl;
	values[3] = "application/x-amz-json-1.0";
	values[4] = cr->token;
	sr = (struct sigv4_req){.method = "POST",
				.path = "/",
				.query = "",
				.hname = names,
				.hvalue = values,
				.nh = cr->token ? 5 : 4,
				.body = body,
				.body_len = len};
	rc = sigv4_authorization(&sr, cr->id, cr->secret, c->region, "dynamodb", values[1], &authz);
	if (rc < 0)
		return rc;
	rc = set_header(&k->auth, &k->auth_cap, "Authorization: ", authz);
	if (rc == 0 && cr->token)
		rc = set_header(&k->tok, &k->tok_cap, "X-Amz-Security-Token: ", cr->token);
	free(authz);
	if (rc < 0)
		return rc;
	k->hl[H_AUTH].data = k->auth;
	k->hl[H_TOKEN].data = k->tok;
	k->hl[H_AUTH].next = cr->token ? &k->hl[H_TOKEN] : &k->hl[H_EXPECT];

	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, &sc);
	cc = curl_easy_perform(h);
	*status = 0;
	*sent = false;
	{
		long nc = 0;

		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
		if (nc > 0) {
			pthread_mutex_lock(&c->lock);
			c->stats.connects += (uint64_t)nc;
			pthread_mutex_unlock(&c->lock);
		}
	}
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
		*sent = true;
	} else {
		curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
		/* Could not connect: nothing reached the server.  Anything else
		 * (reset, timeout, empty reply, a resend refused by on_prereq,
		 * a failed connect for libcurl's own resend) may have been
		 * applied. */
		*sent = !(cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) ||
			up > 0 || sc.sends > 0;
		rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	return rc;
}

static void count(rmt_t *c, uint64_t *field)
{
	pthread_mutex_lock(&c->lock);
	(*field)++;
	pthread_mutex_unlock(&c->lock);
}

int rmt_call(rmt_t *c, const char *op, const char *body, size_t len, bool idempotent, char **resp,
	     size_t *resp_len, struct dyn_err *err)
{
	return rmt_call_ex(c, op, body, len, idempotent, resp, resp_len, NULL, err);
}

int rmt_call_ex(rmt_t *c, const char *op, const char *body, size_t len, bool idempotent,
		char **resp, size_t *resp_len, bool *ambiguous, struct dyn_err *err)
{
	struct rmt_creds cr;
	bool refreshed = false, force = false;
	int rc = 0, n;

	count(c, &c->stats.calls);
	if (ambiguous)
		*ambiguous = false;
	for (n = 0;; n++) {
		struct resp r = {NULL, 0, 0};
		char etype[128] = "", msg[400] = "";
		enum rmt_verdict v;
		long status = 0;
		bool sent = false;
		struct rmt_conn *h;

		rc = creds_now(c, force, &cr, err);
		force = false;
		if (rc < 0)
			return rc;
		h = take(c);
		if (!h) {
			rmt_creds_free(&cr);
			return -ENOMEM;
		}
		count(c, &c->stats.attempts);
		rc = attempt(c, h, &cr, op, body, len, &status, &sent, &r);
		rmt_creds_free(&cr);
		give(c, h, rc < 0);
		if (rc < 0 && rc != -EIO && rc != -ETIMEDOUT) {
			free(r.p);
			return rc;
		}
		if (status != 200 && status != 0)
			rmt_error_of(r.p, r.len, etype, sizeof(etype), msg, sizeof(msg));
		if (status == 0)
			count(c, &c->stats.transport);
		else if (is_throttle(etype) || status == 429)
			count(c, &c->stats.throttled);
		else if (status >= 500)
			count(c, &c->stats.server_err);
		v = rmt_classify(status, sent, etype, idempotent);
		if (c->debug)
			fprintf(stderr, "remote: %s attempt %d: status %ld%s %s -> %s\n", op, n + 1,
				status, sent ? "" : " (not sent)", etype,
				v == RMT_DONE	 ? "done"
				: v == RMT_RETRY ? "retry"
						 : "refresh");
		if (v == RMT_DONE || (v == RMT_REFRESH && refreshed) ||
		    n + 1 >= c->o.max_attempts) {
			if (status == 200) {
				*resp = r.p ? r.p : strdup("{}");
				*resp_len = r.p ? r.len : 2;
				return *resp ? 0 : -ENOMEM;
			}
			free(r.p);
			if (status == 0)
				return err_set(err, -rc, "%s: %s%s", op,
					       rc == -ETIMEDOUT ? "no answer in time"
								: "connection failed",
					       sent && !idempotent ? " (outcome unknown)" : "");
			rc = rmt_errno_of(status, etype);
			if (status >= 500 && !idempotent && status != 503)
				return err_set(err, EIO, "%s: HTTP %ld %s: %s (outcome unknown)",
					       op, status, etype, msg);
			return err_set(err, -rc, "%s: %s: %s", op, etype[0] ? etype : "HTTP error",
				       msg[0] ? msg : "(no message)");
		}
		free(r.p);
		if (ambiguous && ((status == 0 && sent) || status >= 500))
			*ambiguous = true;
		if (v == RMT_REFRESH) {
			refreshed = force = true;
			continue;
		}
		pthread_mutex_lock(&c->lock);
		int d = rmt_backoff_ms(n, c->o.base_delay_ms, c->o.max_delay_ms, &c->seed);
		pthread_mutex_unlock(&c->lock);
		usleep((useconds_t)d * 1000);
	}
}

/* ---- open and close ---- */

static int parse_endpoint(rmt_t *c, const char *ep)
{
	const char *p = strstr(ep, "://"), *end;

	if (!p || (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)))
		return -EINVAL;
	p += 3;
	end = p + strcspn(p, "/?#");
	if (end == p)
		return -EINVAL;
	c->host = strndup(p, (size_t)(end - p));
	if (asprintf(&c->endpoint, "%.*s/", (int)(end - ep), ep) < 0)
		c->endpoint = NULL;
	return c->host && c->endpoint ? 0 : -ENOMEM;
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int rmt_open(const struct rmt_opts *o, rmt_t **out, struct dyn_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *prof = o && o->profile ? o->profile : NULL;
	char ep[512], *conf = NULL;
	rmt_t *c;
	int rc;

	pthread_once(&once, global_init);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (o)
		c->o = *o;
	c->o.endpoint = c->o.region = c->o.profile = NULL;
	if (c->o.max_attempts <= 0)
		c->o.max_attempts = 10;
	if (c->o.base_delay_ms <= 0)
		c->o.base_delay_ms = 25;
	if (c->o.max_delay_ms <= 0)
		c->o.max_delay_ms = 5000;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 10000;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = 3000;
	if (c->o.pool_size <= 0)
		c->o.pool_size = 8;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)c;
	pthread_mutex_init(&c->lock, NULL);
	if (prof && !(c->profile = strdup(prof))) {
		rc = -ENOMEM;
		goto fail;
	}
	c->chain.profile = c->profile;
	c->debug = getenv("DYNFS_REMOTE_DEBUG") != NULL;
	c->chain.timeout_ms = 1000;
	rc = rmt_region_resolve(o ? o->region : NULL, prof, &c->region);
	if (rc == -ENOENT)
		rc = (c->region = strdup("us-east-1")) ? 0 : -ENOMEM;
	if (rc < 0)
		goto fail;
	if (o && o->endpoint) {
		rc = parse_endpoint(c, o->endpoint);
		if (rc < 0) {
			err_set(err, EINVAL,
				"bad endpoint %s (want http://HOST:PORT or https://...)",
				o->endpoint);
			goto fail;
		}
	} else if ((rc = rmt_endpoint_resolve(prof, &conf)) == 0) {
		/* dynamodb://REGION with an endpoint configured the SDKs' way */
		rc = parse_endpoint(c, conf);
		if (rc < 0) {
			err_set(err, EINVAL,
				"bad endpoint %s from AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL "
				"or the profile's endpoint_url (want http://HOST:PORT or "
				"https://...)",
				conf);
			goto fail;
		}
	} else if (rc != -ENOENT) {
		goto fail;
	} else {
		snprintf(ep, sizeof(ep), "https://dynamodb.%s.amazonaws.com", c->region);
		rc = parse_endpoint(c, ep);
		if (rc < 0)
			goto fail;
	}
	/* A plain-http endpoint is a local service: no instance metadata
	 * (unless its endpoint is configured explicitly), and dummy
	 * credentials when the chain has none. */
	c->chain.instance = strncmp(c->endpoint, "http://", 7) != 0 ||
			    getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT") ||
			    getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	rc = rmt_creds_resolve(&c->chain, &c->creds, err);
	if (rc == -ENOENT && !strncmp(c->endpoint, "http://", 7)) {
		memset(&c->creds, 0, sizeof(c->creds));
		snprintf(c->creds.id, sizeof(c->creds.id), "dynfs");
		snprintf(c->creds.secret, sizeof(c->creds.secret), "dynfs");
		snprintf(c->creds.source, sizeof(c->creds.source), "dummy");
		c->dummy = true;
		rc = 0;
		if (err)
			err_clear(err);
	}
	if (rc < 0) {
		if (rc == -ENOENT)
			rc = -EACCES;
		goto fail;
	}
	free(conf);
	*out = c;
	return 0;
fail:
	free(conf);
	rmt_close(c);
	return rc;
}

void rmt_close(rmt_t *c)
{
	struct rmt_conn *k;

	if (!c)
		return;
	while ((k = c->pool)) {
		c->pool = k->next;
		conn_free(k);
	}
	rmt_creds_free(&c->creds);
	pthread_mutex_destroy(&c->lock);
	free(c->endpoint);
	free(c->host);
	free(c->region);
	free(c->profile);
	free(c);
}

void rmt_get_stats(rmt_t *c, struct rmt_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}

const char *rmt_creds_source(rmt_t *c)
{
	static __thread char buf[32];

	pthread_mutex_lock(&c->lock);
	snprintf(buf, sizeof(buf), "%s", c->creds.source);
	pthread_mutex_unlock(&c->lock);
	return buf;
}

const char *rmt_creds_id(rmt_t *c)
{
	static __thread char buf[256];

	pthread_mutex_lock(&c->lock);
	snprintf(buf, sizeof(buf), "%s", c->creds.id);
	pthread_mutex_unlock(&c->lock);
	return buf;
}
