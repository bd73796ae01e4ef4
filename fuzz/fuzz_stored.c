/*
 * fuzz_stored.c - differential libFuzzer target: item_parse_stored() (an
 * item's text straight into the stored form, the snapshot loader's path)
 * against item_parse() + what rec_new() stores.
 *
 * The first byte picks the key schema (partition key "id", "k" or "$x";
 * a sort key "sk" or none) and whether top-level "a", "b" and "e" are
 * captured (the _batch path's index key attributes), and whether the
 * names seen so far are forgotten first (st->names: the table of
 * top-level names that lives from one input to the next, as from one line
 * of an import to the next, filling up as the fuzzer invents names); the
 * rest is the item text.  Top-level names may come in any order.  Whenever the
 * stored path takes a text, item_parse() must accept it too, with key
 * attributes equal to (and of the type of) the stored path's key values,
 * item_size() equal to its size, and item_encode() of the item without
 * its key attributes byte-identical to its blob, each captured value
 * equal to the item's (absent: VAL_NULL).  When it declines, the
 * loader falls back to item_parse(), so errors are item_parse()'s by
 * construction; what is checked then is that it declines only where it
 * may: the compact rendering of every item item_parse() accepts, with S
 * or N keys, must be taken (that is what a snapshot holds).
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
			fprintf(stderr, "fuzz_stored: check failed: %s (line %d)\n", #cond,        \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct item_stored st;

/* What rec_new stores for v: the encoding of v without its key attributes. */
static void encode_rest(const struct val *v, const char *pk, const char *sk, uint8_t **out,
			size_t *len)
{
	struct val view;
	size_t i, n = 0;

	val_init_map(&view);
	view.m.a = malloc((v->m.len ? v->m.len : 1) * sizeof(*view.m.a));
	CHECK(view.m.a != NULL);
	for (i = 0; i < v->m.len; i++)
		if (strcmp(v->m.a[i].name, pk) && (!sk || strcmp(v->m.a[i].name, sk)))
			view.m.a[n++] = v->m.a[i];
	view.m.len = view.m.cap = n;
	CHECK(item_encode(&view, out, len) == 0);
	free(view.m.a);
}

/* The stored path took text: item_parse must give the same record. */
static void compare(const char *text, size_t len, const char *pk, const char *sk)
{
	struct val v;
	const struct val *a;
	uint8_t *bin;
	size_t blen;
	struct dyn_err e;

	err_clear(&e);
	if (item_parse(text, len, &v, &e) != 0) {
		fprintf(stderr, "stored path took what item_parse refuses: %s\n%.*s\n", e.msg,
			(int)len, text);
		abort();
	}
	a = val_map_get(&v, pk, strlen(pk));
	CHECK(a && a->type == st.pk.type && val_equal(a, &st.pk));
	if (sk) {
		a = val_map_get(&v, sk, strlen(sk));
		CHECK(a && a->type == st.sk.type && val_equal(a, &st.sk));
	}
	CHECK(item_size(&v) == st.size);
	for (size_t i = 0; i < st.ncap; i++) {
		a = val_map_get(&v, st.cap_names[i], strlen(st.cap_names[i]));
		if (!a)
			CHECK(st.cap[i].type == VAL_NULL);
		else
			CHECK(a->type == st.cap[i].type && val_equal(a, &st.cap[i]));
	}
	encode_rest(&v, pk, sk, &bin, &blen);
	CHECK(blen == st.blob_len && memcmp(bin, st.blob, blen) == 0);
	free(bin);
	val_free(&v);
}

static bool plain_key(const struct val *k)
{
	return k && (k->type == VAL_S || (k->type == VAL_N && num_fits_double(&k->n)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pks[] = {"id", "k", "$x", "id"};
	static const char *const caps[] = {"a", "b", "e"};
	const char *text = (const char *)data + 1, *pk, *sk;
	size_t len;
	struct val v;
	char *c;
	size_t clen;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 16) {
		item_stored_free(&st);
		item_stored_init(&st);
	}
	pk = pks[data[0] & 3];
	sk = data[0] & 4 ? "sk" : NULL;
	len = size - 1;
	st.cap_names = caps;
	st.ncap = data[0] & 8 ? 3 : 0;
	rc = item_parse_stored(text, len, pk, sk, &st);
	CHECK(rc == 0 || rc == 1);
	if (rc == 0)
		compare(text, len, pk, sk);
	/* the canonical compact form of whatever item_parse accepts is taken */
	if (item_parse(text, len, &v, NULL) == 0) {
		if (plain_key(val_map_get(&v, pk, strlen(pk))) &&
		    (!sk || plain_key(val_map_get(&v, sk, strlen(sk))))) {
			CHECK(item_render_compact(&v, pk, sk, &c, &clen) == 0);
			st.ncap = 0; /* a capture of another type declines */
			rc = item_parse_stored(c, clen, pk, sk, &st);
			if (rc != 0) {
				fprintf(stderr, "stored path declined canonical text:\n%s\n", c);
				abort();
			}
			compare(c, clen, pk, sk);
			free(c);
		}
		val_free(&v);
	}
	return 0;
}
