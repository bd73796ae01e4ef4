/*
 * fuzz_item.c - libFuzzer target for the item codec.
 *
 * Arbitrary bytes go to item_parse_value().  Whatever it accepts must be
 * a valid value (val_check) and survive every round trip exactly:
 * canonical render -> parse -> equal and render again byte-identical,
 * compact render -> parse -> equal, encode -> decode -> equal.  The same
 * bytes are also fed to item_decode() and b64_decode(), which must reject
 * or accept without crashing, and whatever item_decode() accepts must
 * re-encode to the same bytes.  item_render_blob_append() (a record's
 * compact form straight from its binary form) must write exactly what
 * item_render_compact() writes for a map with its first attribute as the
 * key, and take any bytes as a blob without crashing (accepting whatever
 * item_decode accepts as a map); so must the key's compact form without
 * its '}' followed by item_render_blob_rest_append() (the change feed's
 * images), unless that form is a "$M" wrapping.  The canonical side likewise:
 * item_render_blob() writes exactly item_render()'s bytes for the same
 * item, and the counted lengths (item_blob_text_len() over the blob,
 * item_render_len() over the value: what a listing's st_size comes from)
 * equal strlen() of the rendering, with the first attribute as the key
 * and, when there is a second, the first two as partition and sort key.
 * item_parse_arena() must give what item_parse() gives, value or error,
 * and leak nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_item: check failed: %s (line %d)\n", #cond,          \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The canonical form from the blob of v without its first nkeys
 * attributes (the keys), and its counted length, against item_render.
 */
static void blob_canonical(const struct val *v, size_t nkeys)
{
	const struct val_attr *pk = &v->m.a[0], *sk = nkeys > 1 ? &v->m.a[1] : NULL;
	struct val rest;
	uint8_t *bin;
	char *want, *got;
	size_t blen, wlen, glen, clen;

	val_init_map(&rest);
	rest.m.a = v->m.a + nkeys; /* a shallow view without the keys */
	rest.m.len = rest.m.cap = v->m.len - nkeys;
	CHECK(item_encode(&rest, &bin, &blen) == 0);
	CHECK(item_render(v, pk->name, sk ? sk->name : NULL, &want, &wlen) == 0);
	CHECK(item_render_blob(pk->name, &pk->v, sk ? sk->name : NULL, sk ? &sk->v : NULL, bin,
			       blen, &got, &glen) == 0);
	CHECK(glen == wlen && memcmp(got, want, wlen) == 0 && strlen(got) == glen);
	CHECK(item_blob_text_len(pk->name, &pk->v, sk ? sk->name : NULL, sk ? &sk->v : NULL, bin,
				 blen, &clen) == 0);
	CHECK(clen == wlen);
	CHECK(item_render_len(v, pk->name, sk ? sk->name : NULL) == wlen);
	free(got);
	free(want);
	free(bin);
}

static void round_trip(const struct val *v)
{
	struct val w;
	struct dyn_err e;
	char *t1, *t2;
	size_t l1, l2;
	uint8_t *bin, *bin2;
	size_t blen, blen2;

	CHECK(val_check(v, NULL) == 0);

	CHECK(item_render(v, "id", NULL, &t1, &l1) == 0);
	CHECK(strlen(t1) == l1);
	CHECK(item_render_len(v, "id", NULL) == l1);
	err_clear(&e);
	if (item_parse_value(t1, l1, &w, &e) != 0) {
		fprintf(stderr, "re-parse failed: %s at %d:%d\n%s\n", e.msg, e.line, e.col, t1);
		abort();
	}
	CHECK(val_equal(v, &w));
	CHECK(item_render(&w, "id", NULL, &t2, &l2) == 0);
	CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0);
	free(t2);
	val_free(&w);
	free(t1);

	CHECK(item_render_compact(v, NULL, NULL, &t1, &l1) == 0);
	CHECK(memchr(t1, '\n', l1) == NULL);
	CHECK(item_parse_value(t1, l1, &w, NULL) == 0);
	CHECK(val_equal(v, &w));
	val_free(&w);
	free(t1);

	CHECK(item_encode(v, &bin, &blen) == 0);
	CHECK(item_decode(bin, blen, &w) == 0);
	CHECK(val_equal(v, &w));
	CHECK(item_encode(&w, &bin2, &blen2) == 0);
	CHECK(blen == blen2 && memcmp(bin, bin2, blen) == 0);
	free(bin2);
	free(bin);
	val_free(&w);

	if (v->type == VAL_M) {
		(void)item_size(v);
		(void)item_check(v, NULL);
	}
	if (v->type == VAL_M && v->m.len > 0) {
		static const uint8_t no_attrs[2] = {VAL_M, 0}; /* item_encode of {} */
		const struct val_attr *k = &v->m.a[0];
		struct val rest;
		char *got = NULL;
		size_t glen = 0, cap = 0;

		val_init_map(&rest);
		rest.m.a = v->m.a + 1; /* a shallow view without the "key" */
		rest.m.len = rest.m.cap = v->m.len - 1;
		CHECK(item_encode(&rest, &bin, &blen) == 0);
		CHECK(item_render_compact(v, k->name, NULL, &t1, &l1) == 0);
		CHECK(item_render_blob_append(k->name, &k->v, NULL, NULL, bin, blen, &got, &glen,
					      &cap) == 0);
		CHECK(glen == l1 && memcmp(got, t1, l1) == 0);
		/* the keys-only form without its '}', then the rest: the same
		 * bytes, unless the keys-only form is a "$M" wrapping */
		glen = 0;
		CHECK(item_render_blob_append(k->name, &k->v, NULL, NULL, no_attrs, 2, &got, &glen,
					      &cap) == 0);
		if (strncmp(got, "{\"$M\":", 6) != 0) {
			glen--;
			CHECK(item_render_blob_rest_append(bin, blen, &got, &glen, &cap) == 0);
			CHECK(glen == l1 && memcmp(got, t1, l1) == 0);
		}
		free(got);
		free(t1);
		free(bin);
		blob_canonical(v, 1);
		if (v->m.len > 1)
			blob_canonical(v, 2);
	}
}

/*
 * item_text_join (the journal's text of a file's item, fs/commit.c): when
 * it joins attributes the text lacks into an item's text, the result
 * parses to the item with those attributes; when it refuses, it says so.
 */
static void text_join(const char *text, size_t len)
{
	struct val v, add, x, j;
	const char *out;
	char *buf;
	size_t olen;
	int rc;

	if (item_parse(text, len, &v, NULL) != 0)
		return;
	val_init_map(&add);
	if (!val_map_get(&v, "p", 1)) {
		CHECK(val_init_str(&x, "p\"1", 3) == 0);
		CHECK(val_map_set(&add, "p", 1, &x) == 0);
	}
	if (!val_map_get(&v, "k\\", 2)) {
		CHECK(val_init_str(&x, "k\u00e9", 3) == 0);
		CHECK(val_map_set(&add, "k\\", 2, &x) == 0);
	}
	rc = item_text_join(text, len, &add, &buf, &out, &olen);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		CHECK(item_parse_value(out, olen, &j, NULL) == 0);
		for (size_t i = 0; i < add.m.len; i++) {
			CHECK(val_copy(&x, &add.m.a[i].v) == 0);
			CHECK(val_map_set(&v, add.m.a[i].name, add.m.a[i].name_len, &x) == 0);
		}
		CHECK(val_equal(&j, &v));
		val_free(&j);
		free(buf);
	}
	val_free(&add);
	val_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dyn_err e;
	struct val v;
	uint8_t *bin;
	size_t blen;

	text_join((const char *)data, size);
	err_clear(&e);
	if (item_parse_value((const char *)data, size, &v, &e) == 0) {
		round_trip(&v);
		val_free(&v);
	} else {
		CHECK(e.code != 0 && e.msg[0] && v.type == VAL_NULL);
		CHECK(e.code == ENOMEM || (e.line >= 1 && e.col >= 1));
	}
	{
		/* item_parse_arena: the same answer as item_parse, same error */
		static struct item_arena *arena;
		struct dyn_err e1, e2;
		struct val a;
		size_t asize = 0;
		int r1, r2;

		if (!arena)
			CHECK((arena = item_arena_new()) != NULL);
		item_arena_reset(arena);
		err_clear(&e1);
		err_clear(&e2);
		r1 = item_parse((const char *)data, size, &v, &e1);
		r2 = item_parse_arena((const char *)data, size, arena, &a, &asize, &e2);
		CHECK(r1 == r2);
		if (r1 == 0) {
			CHECK(val_equal(&v, &a));
			CHECK(asize == item_size(&v));
			val_free(&v);
		} else {
			CHECK(a.type == VAL_NULL && e1.code == e2.code);
			CHECK(strcmp(e1.msg, e2.msg) == 0);
		}
	}

	/* The binary form must reject garbage safely. */
	{
		struct val key;
		char *out = NULL;
		size_t olen = 0, cap = 0;
		int rc;

		val_init_str(&key, "k", 1);
		rc = item_render_blob_append("id", &key, NULL, NULL, data, size, &out, &olen, &cap);
		CHECK(rc == 0 || rc == -EINVAL);
		CHECK(rc < 0 ? olen == 0 : olen == strlen(out));
		{
			/* the canonical form and its count: the same verdict */
			char *t = NULL;
			size_t tl = 0, cl = 0;
			int r2 = item_render_blob("id", &key, NULL, NULL, data, size, &t, &tl);
			int r3 = item_blob_text_len("id", &key, NULL, NULL, data, size, &cl);

			CHECK(r2 == rc && r3 == rc);
			CHECK(rc < 0 || (tl == strlen(t) && cl == tl));
			free(t);
		}
		if (item_decode(data, size, &v) == 0) {
			CHECK(v.type != VAL_M || rc == 0);
			val_free(&v);
		}
		free(out);
		val_free(&key);
	}
	if (item_decode(data, size, &v) == 0) {
		uint8_t *again;
		size_t alen;

		CHECK(item_encode(&v, &again, &alen) == 0);
		CHECK(alen == size && memcmp(again, data, size) == 0);
		free(again);
		val_free(&v);
	}
	if (b64_decode((const char *)data, size, &bin, &blen) == 0)
		free(bin);
	return 0;
}
