/*
 * creds.c - AWS credentials and region from the standard chain, in the
 * SDKs' order:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN;
 *   2. the profile (AWS_PROFILE or "default") in the shared credentials
 *      file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, sections
 *      "[name]") and the config file (AWS_CONFIG_FILE or ~/.aws/config,
 *      sections "[profile name]", "[default]"): static keys, or
 *      credential_process (run with sh -c, JSON on stdout);
 *   3. ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (on http://169.254.170.2) or _FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) as Authorization;
 *   4. EC2 IMDSv2: PUT /latest/api/token, then GET the role name and its
 *      credentials with that token; AWS_EC2_METADATA_SERVICE_ENDPOINT
 *      overrides http://169.254.169.254, AWS_EC2_METADATA_DISABLED=true
 *      skips it.
 * Credentials with an Expiration are refreshed RMT_REFRESH_EARLY_S
 * before it (http.c calls rmt_creds_resolve again).  Parsing (INI,
 * JSON, time stamps) is in pure functions; tests run the chain with a
 * temporary HOME and environment and a loopback IMDS stub.
 */
#include "remoteint.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

void rmt_creds_free(struct rmt_creds *c)
{
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	memset(c, 0, sizeof(*c));
}

/* ---- pure parsing ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = 0;
	return s;
}

/* rmt_ini_get (sub NULL) and rmt_ini_get_sub: one reader of the lines. */
static int ini_find(const char *text, const char *section, const char *key, const char *sub,
		    char **out)
{
	const char *p = text;
	bool in = false, nest = false;

	/* Lines end at \n, \r\n or a lone \r, as Python's universal newlines
	 * read them (botocore's configparser), so both agree on a file
	 * edited on another system. */
	while (p && *p) {
		size_t n = strcspn(p, "\r\n");
		const char *nl = p[n] ? p + n : NULL;
		bool indented = *p == ' ' || *p == '\t';
		char *line = strndup(p, n), *l, *eq;

		if (!line)
			return -ENOMEM;
		l = trim(line);
		if (*l == '[') {
			char *close = strchr(l, ']');

			if (close) {
				*close = 0;
				in = !strcmp(trim(l + 1), section);
			}
			nest = false;
		} else if (in && *l && *l != '#' && *l != ';' && (eq = strchr(l, '='))) {
			const char *name, *value;

			*eq = 0;
			name = trim(l);
			value = trim(eq + 1);
			if (sub ? indented && nest && !strcmp(name, sub) : !strcmp(name, key)) {
				*out = strdup(value);
				free(line);
				return *out ? 0 : -ENOMEM;
			}
			if (sub && !indented)
				nest = !strcmp(name, key) && !*value;
		}
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int rmt_ini_get(const char *text, const char *section, const char *key, char **out)
{
	return ini_find(text, section, key, NULL, out);
}

int rmt_ini_get_sub(const char *text, const char *section, const char *key, const char *sub,
		    char **out)
{
	return ini_find(text, section, key, sub, out);
}

time_t rmt_parse_iso8601(const char *s)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return (time_t)-1;
	if (*end == '.')
		while (*++end >= '0' && *end <= '9')
			;
	t = timegm(&tm);
	if (*end == 'Z' && !end[1])
		return t;
	if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
		int h = atoi(end + 1), m = atoi(end + 4), off = h * 3600 + m * 60;

		return *end == '+' ? t - off : t + off;
	}
	return (time_t)-1;
}

static int copy_field(char *dst, size_t size, const char *v)
{
	if (!v || !*v || strlen(v) >= size)
		return -EINVAL;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int rmt_creds_parse_json(const char *json, size_t len, struct rmt_creds *out, struct dyn_err *err)
{
	json_t *o = json_loadb(json, len, 0, NULL), *ver;
	const char *tok, *exp;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(err, EINVAL, "credentials: not a JSON object");
	}
	ver = json_object_get(o, "Version");
	if (ver && json_integer_value(ver) != 1)
		rc = err_set(err, EINVAL, "credentials: unsupported Version (want 1)");
	if (rc == 0 && (copy_field(out->id, sizeof(out->id),
				   json_string_value(json_object_get(o, "AccessKeyId"))) ||
			copy_field(out->secret, sizeof(out->secret),
				   json_string_value(json_object_get(o, "SecretAccessKey")))))
		rc = err_set(err, EINVAL, "credentials: AccessKeyId or SecretAccessKey missing");
	tok = json_string_value(json_object_get(o, "SessionToken"));
	if (!tok)
		tok = json_string_value(json_object_get(o, "Token"));
	if (rc == 0 && tok && *tok && !(out->token = strdup(tok)))
		rc = -ENOMEM;
	exp = json_string_value(json_object_get(o, "Expiration"));
	if (rc == 0 && exp && (out->expires = rmt_parse_iso8601(exp)) == (time_t)-1)
		rc = err_set(err, EINVAL, "credentials: bad Expiration %s", exp);
	json_decref(o);
	if (rc < 0)
		rmt_creds_free(out);
	return rc;
}

/* ---- files ---- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static char *aws_file(const char *env, const char *name)
{
	const char *p = getenv(env), *home = getenv("HOME");
	char path[4096];

	if (p && *p)
		return read_file(p);
	if (!home)
		return NULL;
	snprintf(path, sizeof(path), "%s/.aws/%s", home, name);
	return read_file(path);
}

/* key of profile: the credentials file's [name], then config's [profile name]/[default]. */
static int profile_get(const char *creds, const char *config, const char *profile, const char *key,
		       char **out)
{
	char sec[300];

	if (creds && rmt_ini_get(creds, profile, key, out) == 0)
		return 0;
	if (!config)
		return -ENOENT;
	if (!strcmp(profile, "default") && rmt_ini_get(config, "default", key, out) == 0)
		return 0;
	snprintf(sec, sizeof(sec), "profile %s", profile);
	return rmt_ini_get(config, sec, key, out);
}

static const char *profile_name(const char *p)
{
	if (p && *p)
		return p;
	p = getenv("AWS_PROFILE");
	return p && *p ? p : "default";
}

int rmt_region_resolve(const char *opt, const char *profile, char **out)
{
	const char *e = opt && *opt ? opt : getenv("AWS_REGION");
	char *config;
	int rc;

	if (!e || !*e)
		e = getenv("AWS_DEFAULT_REGION");
	if (e && *e) {
		*out = strdup(e);
		return *out ? 0 : -ENOMEM;
	}
	config = aws_file("AWS_CONFIG_FILE", "config");
	rc = profile_get(NULL, config, profile_name(profile), "region", out);
	free(config);
	return rc;
}

static bool is_true(const char *v)
{
	return v && !strcasecmp(v, "true");
}

int rmt_endpoint_resolve(const char *profile, char **out)
{
	const char *e = getenv("AWS_ENDPOINT_URL_DYNAMODB"), *prof = profile_name(profile);
	char *config, *v = NULL, sec[300];
	int rc = -ENOENT;

	const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	/* the environment's setting, when there is one, beats the profile's */
	if (ign && *ign && is_true(ign))
		return -ENOENT;
	config = aws_file("AWS_CONFIG_FILE", "config");
	if ((!ign || !*ign) &&
	    profile_get(NULL, config, prof, "ignore_configured_endpoint_urls", &v) == 0 &&
	    is_true(v))
		goto out;
	if (!e || !*e)
		e = getenv("AWS_ENDPOINT_URL");
	if (e && *e) {
		*out = strdup(e);
		rc = *out ? 0 : -ENOMEM;
		goto out;
	}
	free(v);
	v = NULL;
	if (profile_get(NULL, config, prof, "services", &v) == 0 && *v) {
		snprintf(sec, sizeof(sec), "services %s", v);
		rc = rmt_ini_get_sub(config, sec, "dynamodb", "endpoint_url", out);
		if (rc != -ENOENT)
			goto out;
	}
	rc = profile_get(NULL, config, prof, "endpoint_url", out);
out:
	free(v);
	free(config);
	return rc;
}

/* ---- credential_process ---- */

static int run_process(const char *cmd, struct rmt_creds *out, struct dyn_err *err)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int st, rc;

	if (!p)
		return err_set(err, EIO, "credential_process: cannot run %s", cmd);
	n = getdelim(&buf, &cap, 0, p);
	st = pclose(p);
	if (st != 0 || n <= 0) {
		free(buf);
		return err_set(err, EACCES, "credential_process %s failed (status %d)", cmd,
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	rc = rmt_creds_parse_json(buf, (size_t)n, out, err);
	OPENSSL_cleanse(buf, (size_t)n);
	free(buf);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "process");
	return rc;
}

static int from_profile(const char *profile, struct rmt_creds *out, struct dyn_err *err)
{
	char *creds = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *config = aws_file("AWS_CONFIG_FILE", "config");
	char *id = NULL, *secret = NULL, *token = NULL, *proc = NULL;
	int rc = -ENOENT;

	if (profile_get(creds, config, profile, "aws_access_key_id", &id) == 0 &&
	    profile_get(creds, config, profile, "aws_secret_access_key", &secret) == 0) {
		memset(out, 0, sizeof(*out));
		rc = copy_field(out->id, sizeof(out->id), id) ||
			     copy_field(out->secret, sizeof(out->secret), secret)
			 ? err_set(err, EINVAL, "profile %s: bad keys", profile)
			 : 0;
		if (rc == 0 &&
		    profile_get(creds, config, profile, "aws_session_token", &token) == 0)
			out->token = token, token = NULL;
		snprintf(out->source, sizeof(out->source), "profile");
	} else if (profile_get(creds, config, profile, "credential_process", &proc) == 0) {
		rc = run_process(proc, out, err);
	}
	free(id);
	if (secret)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(token);
	free(proc);
	free(creds);
	free(config);
	return rc;
}

/* ---- ECS and IMDS ---- */

struct body {
	char *p;    /* received bytes */
	size_t len; /* used */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *np;

	if (b->len + n > (1u << 20))
		return 0; /* no credentials document is that big */
	np = realloc(b->p, b->len + n + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

int rmt_http_simple(const char *method, const char *url, const char *const *headers, int timeout_ms,
		    long *status, char **body, size_t *len)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct body b = {NULL, 0};
	CURLcode cc;

	if (!h)
		return -ENOMEM;
	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "PUT"))
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		free(b.p);
		return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	*body = b.p ? b.p : strdup("");
	*len = b.len;
	return *body ? 0 : -ENOMEM;
}

static int from_ecs(int timeout_ms, struct rmt_creds *out, struct dyn_err *err)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tokfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char url[2048], auth[4200], *filetok = NULL, *body = NULL;
	const char *hdrs[2] = {NULL, NULL};
	size_t len;
	long status = 0;
	int rc;

	if (rel && *rel)
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	else if (full && *full)
		snprintf(url, sizeof(url), "%s", full);
	else
		return -ENOENT;
	if (tokfile && *tokfile && (filetok = read_file(tokfile)))
		tok = trim(filetok);
	if (tok && *tok) {
		snprintf(auth, sizeof(auth), "Authorization: %s", tok);
		hdrs[0] = auth;
	}
	rc = rmt_http_simple("GET", url, hdrs, timeout_ms, &status, &body, &len);
	free(filetok);
	if (rc == 0 && status != 200)
		rc = err_set(err, EACCES, "container credentials: %s answered %ld", url, status);
	else if (rc < 0)
		err_set(err, -rc, "container credentials: cannot reach %s", url);
	if (rc == 0)
		rc = rmt_creds_parse_json(body, len, out, err);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "ecs");
	free(body);
	return rc;
}

static int from_imds(int timeout_ms, struct rmt_creds *out, struct dyn_err *err)
{
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *put_h[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
	const char *get_h[] = {NULL, NULL};
	char base[1024], url[2048], hdr[1200], *token = NULL, *role = NULL, *doc = NULL;
	size_t len;
	long status = 0;
	int rc;

	if (dis && !strcasecmp(dis, "true"))
		return -ENOENT;
	snprintf(base, sizeof(base), "%s", ep && *ep ? ep : "http://169.254.169.254");
	if (base[0] && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = 0;
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	rc = rmt_http_simple("PUT", url, put_h, timeout_ms, &status, &token, &len);
	if (rc < 0)
		return -ENOENT; /* not on EC2 (or IMDS unreachable): the chain ends */
	if (status != 200 || len == 0 || len > 1000) {
		rc = err_set(err, EACCES, "IMDS: token request answered %ld", status);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", trim(token));
	get_h[0] = hdr;
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	rc = rmt_http_simple("GET", url, get_h, timeout_ms, &status, &role, &len);
	if (rc == 0 && (status != 200 || !*trim(role)))
		rc = err_set(err, EACCES, "IMDS: no instance role (status %ld)", status);
	if (rc < 0)
		goto out;
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
		 trim(role));
	rc = rmt_http_simple("GET", url, get_h, timeout_ms, &status, &doc, &len);
	if (rc == 0 && status != 200)
		rc = err_set(err, EACCES, "IMDS: credentials request answered %ld", status);
	if (rc == 0)
		rc = rmt_creds_parse_json(doc, len, out, err);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "imds");
out:
	free(token);
	free(role);
	if (doc)
		OPENSSL_cleanse(doc, strlen(doc));
	free(doc);
	return rc;
}

int rmt_creds_resolve(const struct rmt_chain *ch, struct rmt_creds *out, struct dyn_err *err)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *sec = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");
	int rc, tmo = ch->timeout_ms > 0 ? ch->timeout_ms : 1000;

	memset(out, 0, sizeof(*out));
	if (id && *id && sec && *sec) {
		if (copy_field(out->id, sizeof(out->id), id) ||
		    copy_field(out->secret, sizeof(out->secret), sec))
			return err_set(err, EINVAL,
				       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY too long");
		if (tok && *tok && !(out->token = strdup(tok)))
			return -ENOMEM;
		snprintf(out->source, sizeof(out->source), "env");
		return 0;
	}
	rc = from_profile(profile_name(ch->profile), out, err);
	if (rc != -ENOENT || !ch->instance)
		return rc == -ENOENT ? err_set(err, ENOENT, "no AWS credentials found") : rc;
	rc = from_ecs(tmo, out, err);
	if (rc != -ENOENT)
		return rc;
	rc = from_imds(tmo, out, err);
	return rc == -ENOENT ? err_set(err, ENOENT, "no AWS credentials found") : rc;
}
