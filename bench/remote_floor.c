/*
 * remote_floor.c - the raw request time of the DynamoDB calls a remote
 * mount makes, for bench/bench_remote.sh: a minimal client (one libcurl
 * handle, keep-alive, SigV4 by libcurl's CURLOPT_AWS_SIGV4, the body
 * built with snprintf) sends N calls one after another and reports the
 * time per call.  This is the floor a `dynfs http://` mount is compared
 * with: the same HTTP call, made with nothing around it.
 *
 * Usage: remote_floor ENDPOINT TABLE get|put|create N [SIZE]
 *   get    GetItem (ConsistentRead) of id "k0000000" ... (what a cat or a
 *          stat of DIR/k0000000.json asks the service)
 *   put    PutItem of {"id": "k0000000", "n": i, "data": "xx..."}, about
 *          SIZE bytes (default 100), the item bench/fsops create writes
 *   create the two calls a new file needs, timed as one operation: a
 *          GetItem (ConsistentRead) of a name not there yet (the kernel
 *          looks a name up before it creates it: the mount must answer
 *          "no such item"), then the PutItem of it; ids "c0000000" ...
 * Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default
 * dynfs/dynfs, as the mount uses for a plain-http endpoint), region
 * us-east-1.  Prints "OP N TOTAL_US US_PER_OP"; any failed call stops the
 * run with status 1.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

struct resp {
	char buf[65536];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n, room = sizeof(r->buf) - 1 - r->len;

	memcpy(r->buf + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->buf[r->len] = 0;
	return len;
}

int main(int argc, char **argv)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	char body[16384], pad[8192], userpwd[512], target[128];
	struct curl_slist *hdr = NULL, *hget = NULL;
	struct resp r;
	long n, i, code = 0;
	int size, padlen;
	bool put, create;
	double t0, t;
	CURL *h;

	if (argc < 5 || (strcmp(argv[3], "get") && strcmp(argv[3], "put") &&
			 strcmp(argv[3], "create"))) {
		fprintf(stderr, "usage: remote_floor ENDPOINT TABLE get|put|create N [SIZE]\n");
		return 2;
	}
	create = !strcmp(argv[3], "create");
	put = !strcmp(argv[3], "put") || create;
	n = atol(argv[4]);
	size = argc > 5 ? atoi(argv[5]) : 100;
	padlen = size > 40 ? size - 40 : 1;
	if (padlen >= (int)sizeof(pad))
		padlen = sizeof(pad) - 1;
	memset(pad, 'x', padlen);
	pad[padlen] = 0;
	snprintf(userpwd, sizeof(userpwd), "%s:%s", ak && *ak ? ak : "dynfs",
		 sk && *sk ? sk : "dynfs");
	snprintf(target, sizeof(target), "X-Amz-Target: DynamoDB_20120810.%s",
		 put ? "PutItem" : "GetItem");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	hdr = curl_slist_append(hdr, "Content-Type: application/x-amz-json-1.0");
	hdr = curl_slist_append(hdr, target);
	hdr = curl_slist_append(hdr, "Expect:");
	hget = curl_slist_append(hget, "Content-Type: application/x-amz-json-1.0");
	hget = curl_slist_append(hget, "X-Amz-Target: DynamoDB_20120810.GetItem");
	hget = curl_slist_append(hget, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:dynamodb");
	curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (create) {
			/* the lookup of the new name first: no item */
			snprintf(body, sizeof(body),
				 "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"c%07ld\"}},"
				 "\"ConsistentRead\":true}",
				 argv[2], i);
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hget);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			r.len = 0;
			r.buf[0] = 0;
			if (curl_easy_perform(h) != CURLE_OK ||
			    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
			    code != 200 || strstr(r.buf, "\"Item\"")) {
				fprintf(stderr, "remote_floor: create's GetItem %ld: HTTP %ld: %s\n",
					i, code, r.buf);
				return 1;
			}
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		}
		if (put)
			snprintf(body, sizeof(body),
				 "{\"TableName\":\"%s\",\"Item\":{\"id\":{\"S\":\"%c%07ld\"},"
				 "\"n\":{\"N\":\"%ld\"},\"data\":{\"S\":\"%s\"}}}",
				 argv[2], create ? 'c' : 'k', i, i, pad);
		else
			snprintf(body, sizeof(body),
				 "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"k%07ld\"}},"
				 "\"ConsistentRead\":true}",
				 argv[2], i);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		r.len = 0;
		r.buf[0] = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
		    code != 200 || (!put && !strstr(r.buf, "\"Item\""))) {
			fprintf(stderr, "remote_floor: %s call %ld: HTTP %ld: %s\n", argv[3], i,
				code, r.buf);
			return 1;
		}
	}
	t = now_us() - t0;
	printf("%s %ld %.0f %.3f\n", argv[3], n, t, n > 0 ? t / n : 0.0);
	curl_slist_free_all(hdr);
	curl_slist_free_all(hget);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return 0;
}
