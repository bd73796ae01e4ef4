/*
 * fuzz_sigv4.c - libFuzzer target for SigV4 verification (api/sigv4.c):
 * the Authorization header parser, the X-Amz-Date parser, the canonical
 * query string (percent-decoding, sorting) and header canonicalisation.
 *
 * The input is split at NUL bytes into: Authorization, X-Amz-Date, the
 * query string, a header value, and the body.  Beyond the sanitizers:
 * verification never accepts (the key's secret is not in the input, and
 * the date is never the current one), and signing the same request twice
 * gives the same signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apiint.h"

static struct api_keys *keys;

static void init(void)
{
	char path[] = "/tmp/fuzz-sigv4-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	if (fd < 0)
		abort();
	f = fdopen(fd, "w");
	fputs("AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", f);
	fclose(f);
	if (api_keys_load(path, &keys, NULL) < 0)
		abort();
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 6), *part[5], *p, sig1[65], sig2[65], msg[512];
	const char *names[4] = {"Authorization", "X-Amz-Date", "Host", "X-Custom"};
	const char *etype;
	struct sigv4_req req;
	size_t i;

	if (!keys)
		init();
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0, 6);
	for (i = 0, p = buf; i < 5; i++) {
		part[i] = p;
		p += strlen(p) + (p < buf + size ? 1 : 0);
		if (p > buf + size)
			p = buf + size;
	}
	req = (struct sigv4_req){.method = "POST", .path = "/", .query = part[2],
				 .hname = names, .hvalue = (const char *const *)part, .nh = 4,
				 .body = part[4], .body_len = strlen(part[4])};
	{
		const char *values[4] = {part[0], part[1], "localhost", part[3]};

		req.hvalue = values;
		if (sigv4_verify(keys, &req, &etype, msg, sizeof(msg)) == 0)
			abort();
		if (sigv4_sign(&req, "host;x-amz-date;x-custom", "20150830/us-east-1/dynamodb/aws4_request",
			       "20150830T123600Z", "secret", sig1, NULL, NULL) == 0 &&
		    (sigv4_sign(&req, "host;x-amz-date;x-custom", "20150830/us-east-1/dynamodb/aws4_request",
				"20150830T123600Z", "secret", sig2, NULL, NULL) != 0 ||
		     strcmp(sig1, sig2)))
			abort();
	}
	free(buf);
	return 0;
}
