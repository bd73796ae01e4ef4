/*
 * fuzz_name.c - libFuzzer target for the name decoder (fs/name.c) and
 * the incremental JSON scanner (engine/jscan.c).
 *
 * The first byte picks a key type (S, N, B) and whether ".json" is
 * required; the rest is a file name.  Whatever name_parse() accepts as a
 * full key must be that key's canonical name (name_make gives it back);
 * whatever name_parse_alias() accepts must be a valid key whose
 * canonical name decodes, strictly and leniently, to the same key (an
 * alias never maps to two keys, and canonical names map to themselves);
 * name_escapes_ok() and name_parse_str() must not crash and agree on NUL.
 * The same bytes, split at a position from the second byte, go through
 * jscan_feed(): the verdict must not depend on the split.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "name.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_name: check failed: %s (line %d)\n", #cond,          \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void names(const char *name, size_t len, enum val_type t, bool json)
{
	char buf[NAME_BUF], buf2[NAME_BUF];
	struct name_key k;
	const char *why;
	struct val v, w;
	char *s;
	size_t sl;
	int n;

	if (name_parse(name, len, t, json, &k) == 0) {
		if (k.kind == NAME_FULL) {
			n = name_make(&k.key, json, buf);
			CHECK(n >= 0 && (size_t)n == len && !memcmp(buf, name, len));
		}
		name_key_free(&k);
	}
	if (name_parse_alias(name, len, t, json, &v, &why) == 0) {
		CHECK(v.type == t);
		n = name_make(&v, json, buf);
		CHECK(n > 0);
		/* the canonical name maps to itself, by both decoders */
		CHECK(name_parse_alias(buf, (size_t)n, t, json, &w, &why) == 0);
		CHECK(val_equal(&v, &w));
		CHECK(name_make(&w, json, buf2) == n && !memcmp(buf, buf2, (size_t)n));
		val_free(&w);
		if (n <= NAME_LEN_MAX && !strstr(buf, "~~")) {
			CHECK(name_parse(buf, (size_t)n, t, json, &k) == 0);
			CHECK(k.kind == NAME_FULL && val_equal(&k.key, &v));
			name_key_free(&k);
		}
		val_free(&v);
	} else {
		CHECK(v.type == VAL_NULL);
	}
	if (name_parse_str(name, len, &s, &sl) == 0) {
		CHECK(strlen(s) == sl);
		CHECK(name_escapes_ok(name, len, &why));
		free(s);
	}
}

static void scan(const char *p, size_t len, size_t cut)
{
	struct jscan a, b;
	size_t i;

	jscan_init(&a);
	jscan_feed(&a, p, len);
	jscan_init(&b);
	jscan_feed(&b, p, cut);
	jscan_feed(&b, p + cut, len - cut);
	CHECK(a.verdict == b.verdict);
	if (a.verdict == JSCAN_DONE)
		CHECK(a.end == b.end);
	if (a.verdict == JSCAN_BAD)
		CHECK(a.bad == b.bad);
	jscan_init(&b);
	for (i = 0; i < len; i++)
		jscan_feed(&b, p + i, 1);
	CHECK(a.verdict == b.verdict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum val_type types[3] = {VAL_S, VAL_N, VAL_B};
	char *name;

	if (size < 2)
		return 0;
	name = malloc(size);
	if (!name)
		return 0;
	memcpy(name, data + 2, size - 2);
	name[size - 2] = 0;
	/* a file name holds no NUL and no '/': cut there, as the kernel would */
	names(name, strcspn(name, "/"), types[data[0] % 3], data[0] & 4);
	scan((const char *)data + 2, size - 2, data[1] % (size - 1));
	free(name);
	return 0;
}
