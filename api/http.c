/*
 * http.c - the HTTP edge of the API front end: libmicrohttpd in front of
 * api_handle().
 *
 * Why libmicrohttpd: it is the HTTP/1.1 server library Debian ships for
 * C (libmicrohttpd-dev), small, in C, with exactly the controls a
 * network-facing service needs built in — keep-alive, a thread pool over
 * epoll, a per-connection idle timeout (a slow client cannot hold a
 * thread), a global connection cap — and no framework around it.  Its
 * own floor on this machine is 25k requests/s on one connection.
 *
 * Per request: the body is collected into a buffer bounded by
 * API_MAX_BODY (a larger Content-Length, or a body that grows past it, is
 * answered 413 without reading the rest); then SigV4 is checked when keys
 * are configured; then api_handle() runs on the pool thread and its
 * answer goes back with DynamoDB's headers (x-amz-crc32 of the body,
 * x-amzn-RequestId, Content-Type application/x-amz-json-1.0).
 */
#include "apiint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_HEADERS 64

struct api_srv {
	struct MHD_Daemon *d;	  /* the daemon */
	unsigned port;		  /* bound port */
	uint64_t next_id;	  /* request ids (atomic) */
};

/* One request's state across the handler's calls. */
struct conn_req {
	struct sf_buf body;	  /* bytes so far */
	bool too_large;		  /* stop collecting, answer 413 */
};

/* ---- addresses ---- */

/* "HOST:PORT", "[V6]:PORT" or ":PORT"/"PORT" (loopback). */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *loopback,
			struct dyn_err *err)
{
	char host[256] = "127.0.0.1";
	const char *colon = strrchr(s, ':');
	const char *ps = colon ? colon + 1 : s;
	char *end;
	long port = strtol(ps, &end, 10);
	struct sockaddr_in *v4 = (void *)ss;
	struct sockaddr_in6 *v6 = (void *)ss;

	if (*ps == 0 || *end || port < 0 || port > 65535)
		return err_set(err, EINVAL, "bad listen address %s: use HOST:PORT", s);
	if (colon && colon > s) {
		size_t n = (size_t)(colon - s);

		if (s[0] == '[' && colon[-1] == ']')
			s++, n -= 2;
		if (n >= sizeof(host))
			return err_set(err, EINVAL, "bad listen address");
		memcpy(host, s, n);
		host[n] = 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		*loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		return 0;
	}
	return err_set(err, EINVAL, "bad listen address %s: HOST must be a numeric IPv4 or IPv6 "
		       "address", s);
}

/* ---- one request ---- */

struct hdrs {
	const char *name[MAX_HEADERS];	/* header names */
	const char *value[MAX_HEADERS]; /* values */
	size_t n;			/* entries */
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct hdrs *h = cls;

	if (h->n < MAX_HEADERS) {
		h->name[h->n] = key;
		h->value[h->n++] = value ? value : "";
	}
	return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, api_t *a, int status, char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char crc[16], id[40];
	uint64_t n = __atomic_add_fetch(&a->srv->next_id, 1, __ATOMIC_RELAXED);

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	snprintf(crc, sizeof(crc), "%u", api_crc32(body, len));
	snprintf(id, sizeof(id), "DYNFS%027llu", (unsigned long long)n);
	MHD_add_response_header(resp, "Content-Type", "application/x-amz-json-1.0");
	MHD_add_response_header(resp, "x-amz-crc32", crc);
	MHD_add_response_header(resp, "x-amzn-RequestId", id);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, api_t *a, int status,
				   const char *prefix, const char *type, const char *msg)
{
	struct sf_buf b = SF_BUF_INIT;

	if (sf_buf_printf(&b, "{\"__type\":\"%s%s\",\"message\":", prefix, type) < 0 ||
	    sf_json_str(&b, msg, strlen(msg)) < 0 || sf_buf_addc(&b, '}') < 0) {
		sf_buf_free(&b);
		return MHD_NO;
	}
	return reply(c, a, status, b.p, b.len);
}

static enum MHD_Result finish_request(struct MHD_Connection *c, api_t *a, const char *method,
				      const char *url, struct conn_req *cr)
{
	struct api_resp resp;
	const char *target;
	struct hdrs h = {.n = 0};

	if (cr->too_large)
		return reply_error(c, a, 413, "com.amazon.coral.service#", "RequestEntityTooLarge",
				   "Request body too large");
	if (a->keys) {
		struct sigv4_req sr = {.method = method, .path = url, .query = "",
				       .body = cr->body.p ? cr->body.p : "",
				       .body_len = cr->body.len};
		const char *etype;
		char msg[512];

		MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
		sr.hname = h.name;
		sr.hvalue = h.value;
		sr.nh = h.n;
		if (sigv4_verify(a->keys, &sr, &etype, msg, sizeof(msg)) < 0)
			return reply_error(c, a, 400, "com.amazon.coral.service#", etype, msg);
	}
	target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
	if (api_handle(a, target, cr->body.p ? cr->body.p : "", cr->body.len, &resp) < 0)
		return MHD_NO;
	return reply(c, a, resp.status, resp.body, resp.len);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	api_t *a = cls;
	struct conn_req *cr = *con_cls;
	const char *cl;

	if (!cr) {
		if (strcmp(method, "POST")) {
			/* DynamoDB answers a GET / with a health line */
			char *b = strdup("healthy: dynamodb.local (dynfs)");

			return b ? reply(c, a, 200, b, strlen(b)) : MHD_NO;
		}
		cr = calloc(1, sizeof(*cr));
		if (!cr)
			return MHD_NO;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > API_MAX_BODY)
			cr->too_large = true;
		*con_cls = cr;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!cr->too_large && cr->body.len + *upload_data_size > API_MAX_BODY)
			cr->too_large = true;
		if (!cr->too_large && sf_buf_add(&cr->body, upload_data, *upload_data_size) < 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return finish_request(c, a, method, url, cr);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct conn_req *cr = *con_cls;

	if (cr) {
		sf_buf_free(&cr->body);
		free(cr);
	}
	*con_cls = NULL;
}

/* ---- the server ---- */

int api_start(api_t *a, struct dyn_err *err)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	socklen_t slen;
	bool loopback = false;
	int rc;

	if (a->srv)
		return 0;
	rc = parse_listen(a->o.listen, &ss, &slen, &loopback, err);
	if (rc < 0)
		return rc;
	if (!loopback && !a->o.auth_file)
		return err_set(err, EINVAL, "listening on %s (not a loopback address) needs --auth "
			       "FILE (-o api_auth=FILE): SigV4-verified access keys", a->o.listen);
	if (a->o.auth_file && !a->keys) {
		rc = api_keys_load(a->o.auth_file, &a->keys, err);
		if (rc < 0)
			return rc;
	}
	a->srv = calloc(1, sizeof(*a->srv));
	if (!a->srv)
		return -ENOMEM;
	a->srv->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
			(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, a->o.threads, MHD_OPTION_CONNECTION_LIMIT,
		a->o.max_conns, MHD_OPTION_CONNECTION_TIMEOUT, a->o.timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, completed, a,
		MHD_OPTION_END);
	if (!a->srv->d) {
		free(a->srv);
		a->srv = NULL;
		return err_set(err, EADDRINUSE, "cannot listen on %s (in use, or not an address of "
			       "this machine)", a->o.listen);
	}
	info = MHD_get_daemon_info(a->srv->d, MHD_DAEMON_INFO_BIND_PORT);
	a->srv->port = info ? info->port : 0;
	return 0;
}

unsigned api_port(const api_t *a)
{
	return a->srv ? a->srv->port : 0;
}

void api_http_stop(api_t *a)
{
	if (!a->srv)
		return;
	MHD_stop_daemon(a->srv->d);
	free(a->srv);
	a->srv = NULL;
}
