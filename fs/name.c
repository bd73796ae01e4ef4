/*
 * name.c - the name codec: key values <-> file names.
 *
 * Goal: every key value has exactly one file name, every name decodes to
 * at most one key, and names stay readable (a key "felienne#3" is the
 * directory felienne#3).  The format, precisely:
 *
 *   body(S)  the value's UTF-8 bytes, each written raw except
 *              '%' -> %25, '/' -> %2F, '~' -> %7E,
 *              0x00-0x1F and 0x7F -> %XX,
 *              '.' or '_' as the first byte -> %2E / %5F
 *            (XX is uppercase hex; nothing else is ever escaped)
 *   body(N)  num_format(): JavaScript's Number#toString of the exact value
 *            ("100", "-0.5", "1e+21"); it never needs an escape
 *   body(B)  base64url without padding; a leading '_' -> %5F
 *   item     body + ".json"          partition, table: body
 *   joined   body(pk) "~" body(sk) [".json"]   (index entries, SPEC §4)
 *
 * Uniqueness.  Decoding accepts only what the encoder writes: after
 * decoding, the key is encoded again and the result must equal the name
 * byte for byte.  So %41, lowercase hex, "1.0" or "+1" for an N key, a
 * padded or non-canonical base64 tail, a raw leading '.', all decode to
 * nothing: such names are scratch names (name_parse returns -EINVAL).
 *
 * The separator.  SPEC §4 needs a separator that the encoding always
 * escapes inside values.  Only '%', '/' and control bytes were, and none
 * of them is usable ('%' starts escapes, '/' cannot be in a name, control
 * bytes are hostile to shells), so the codec also escapes '~', which is
 * rare in keys, never occurs in N or base64url text, and reads well as a
 * separator: "felienne#3~2022-09.json".  A raw '~' in a name is therefore
 * always structure, never data.
 *
 * Long names.  Linux limits a name to 255 bytes; keys may be 2048 (pk) or
 * 1024 (sk) bytes, three times that once escaped.  A name whose full form
 * (body plus suffix) is longer than 255 bytes is written
 *
 *     prefix "~~" hex16(FNV-1a-64(full body)) [".json"]
 *
 * where prefix is the longest leading part of the body that keeps the
 * whole name within 255 bytes, cut back so that it does not split a %XX
 * escape or a UTF-8 sequence and does not end in '~'.  "~~" never occurs
 * in a full name (a raw '~' only separates two non-empty bodies), so a
 * shortened name is recognised by its form alone.  To look one up, the
 * prefix is decoded to a byte prefix of the key (for B, whole base64
 * quanta only), the keys after it that start with it are listed from the
 * engine, and the one whose name_make() equals the name is the item.  Two
 * keys with the same prefix and the same 64-bit hash would share a name;
 * the first in key order wins (the other stays reachable through _batch).
 * The text of a number is no prefix of a key range ("12" starts 12, 120,
 * 1.2e+21 ...), so a cut inside an N body -- only ever the sort key of a
 * joined name, after a long partition key -- keeps nothing of it: the
 * sort key is unknown (VAL_NULL) and every key of the partition is a
 * candidate.  Every name name_make() or name_join_key() writes parses.
 */
#include "name.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/item.h"
#include "../engine/num.h"

/* Longest full body: a joined name of two maximal, fully escaped keys. */
#define BODY_MAX (3 * ITEM_MAX_PK + 1 + 3 * ITEM_MAX_SK + 64)
/* "~~" plus the hash digits. */
#define SHORT_TAIL (2 + NAME_HASH_DIGITS)

static const char hexdig[] = "0123456789ABCDEF";

uint64_t name_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- encoding ---- */

static bool must_escape(unsigned char c, size_t pos)
{
	if (c == '%' || c == '/' || c == NAME_SEP || c < 0x20 || c == 0x7f)
		return true;
	return pos == 0 && (c == '.' || c == '_');
}

/* S rules; out holds 3 * len bytes. */
static size_t enc_str(const char *s, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (must_escape(c, i)) {
			out[n++] = '%';
			out[n++] = hexdig[c >> 4];
			out[n++] = hexdig[c & 15];
		} else {
			out[n++] = (char)c;
		}
	}
	return n;
}

/* The body of one key value into out (BODY_MAX bytes); its length. */
static int enc_body(const struct val *v, char *out)
{
	size_t n;

	switch (v->type) {
	case VAL_S:
		if (!v->s.len || v->s.len > ITEM_MAX_PK)
			return -EINVAL;
		return (int)enc_str(v->s.p, v->s.len, out);
	case VAL_N:
		return (int)num_format(&v->n, out);
	case VAL_B:
		if (!v->s.len || v->s.len > ITEM_MAX_PK)
			return -EINVAL;
		n = b64_encode(v->s.p, v->s.len, out + 2, true);
		if (out[2] == '_') {
			out[0] = '%';
			out[1] = '5';
			out[2] = 'F';
			return (int)n + 2;
		}
		memmove(out, out + 2, n);
		return (int)n;
	default:
		return -EINVAL;
	}
}

/* Where to cut a body so that prefix + tail + suffix fits in 255 bytes. */
static size_t cut_point(const char *body, size_t max)
{
	size_t c = max;

	for (;;) {
		if (c >= 1 && body[c - 1] == '%')
			c -= 1;
		else if (c >= 2 && body[c - 2] == '%')
			c -= 2;
		else if (((unsigned char)body[c] & 0xc0) == 0x80 && c > 0)
			c -= 1; /* never split a UTF-8 sequence */
		else if (c >= 1 && body[c - 1] == NAME_SEP)
			c -= 1;
		else
			return c;
	}
}

/* Body -> final name (suffix, shortening) into buf; its length. */
static int finish(const char *body, size_t n, bool json, char *buf)
{
	size_t sfx = json ? NAME_SUFFIX_LEN : 0, c;
	uint64_t h;
	int i;

	if (n + sfx <= NAME_LEN_MAX) {
		memcpy(buf, body, n);
		memcpy(buf + n, NAME_SUFFIX, sfx);
		buf[n + sfx] = 0;
		return (int)(n + sfx);
	}
	c = cut_point(body, NAME_LEN_MAX - sfx - SHORT_TAIL);
	memcpy(buf, body, c);
	buf[c++] = NAME_SEP;
	buf[c++] = NAME_SEP;
	h = name_hash(body, n);
	for (i = NAME_HASH_DIGITS - 1; i >= 0; i--, h >>= 4)
		buf[c + i] = "0123456789abcdef"[h & 15];
	c += NAME_HASH_DIGITS;
	memcpy(buf + c, NAME_SUFFIX, sfx);
	buf[c + sfx] = 0;
	return (int)(c + sfx);
}

/*
 * The bodies below are built on the stack (BODY_MAX, about 9 KB, of which
 * only what the key needs is touched): a listing names every entry, and
 * a malloc of that size per name -- too large for malloc's per-thread
 * cache -- cost about a fifth of a plain readdir (issue 12).
 */
int name_make(const struct val *v, bool json, char *buf)
{
	char body[BODY_MAX];
	int n = enc_body(v, body);

	return n < 0 ? n : finish(body, (size_t)n, json, buf);
}

int name_make_str(const char *s, size_t len, char *buf)
{
	char body[3 * ITEM_MAX_PK];

	if (!len || len > ITEM_MAX_PK)
		return -EINVAL;
	return finish(body, enc_str(s, len, body), false, buf);
}

int name_join_key(const struct val *pk, const struct val *sk, bool json, char *buf)
{
	char body[BODY_MAX];
	int n, m;

	if (!sk)
		return name_make(pk, json, buf);
	n = enc_body(pk, body);
	if (n < 0)
		return n;
	body[n] = NAME_SEP;
	m = enc_body(sk, body + n + 1);
	if (m < 0)
		return m;
	return finish(body, (size_t)n + 1 + (size_t)m, json, buf);
}

/* ---- decoding ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lowercase hex is never canonical */
}

/*
 * Undo %XX escapes of s[0..n) into out (n bytes suffice).  Rejects a
 * malformed escape and any raw '~' (structure, not data).  The result is
 * not yet known to be canonical: callers re-encode and compare.
 */
static int unescape(const char *s, size_t n, char *out, size_t *outn)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == NAME_SEP || s[i] == '/' || !s[i]) {
			return -EINVAL;
		} else {
			out[o++] = s[i];
		}
	}
	*outn = o;
	return 0;
}

static bool is_b64url(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * A body (or, if prefix, the prefix of a shortened body) -> value of type
 * t.  For a prefix, B keeps whole base64 quanta only and N is refused.
 */
static int body_to_val(const char *body, size_t n, enum val_type t, bool prefix,
		       struct val *out)
{
	char *raw = malloc(n + 1);
	uint8_t *bin = NULL;
	size_t rn, bn;
	struct num num;
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = unescape(body, n, raw, &rn);
	if (rc < 0)
		goto out;
	raw[rn] = 0;
	rc = -EINVAL;
	switch (t) {
	case VAL_S:
		if ((!rn && !prefix) || !val_utf8_valid(raw, rn))
			goto out;
		rc = val_init_str(out, raw, rn);
		break;
	case VAL_N:
		if (prefix || !rn || num_parse(raw, rn, &num, NULL) < 0)
			goto out;
		val_init_num(out, &num);
		rc = 0;
		break;
	case VAL_B:
		if (!is_b64url(raw, rn))
			goto out;
		if (prefix)
			rn -= rn % 4;
		else if (!rn || rn % 4 == 1)
			goto out;
		if (!rn) {
			rc = val_init_bin(out, "", 0);
			break;
		}
		if (b64_decode(raw, rn, &bin, &bn) < 0)
			goto out;
		rc = val_init_bin(out, bin, bn);
		break;
	default:
		break;
	}
out:
	free(bin);
	free(raw);
	return rc;
}

/* Length of the body of a shortened name, or 0 if body is not one. */
static size_t short_prefix_len(const char *body, size_t n)
{
	size_t i;

	if (n <= SHORT_TAIL)
		return 0;
	for (i = n - NAME_HASH_DIGITS; i < n; i++)
		if (!((body[i] >= '0' && body[i] <= '9') || (body[i] >= 'a' && body[i] <= 'f')))
			return 0;
	if (body[n - SHORT_TAIL] != NAME_SEP || body[n - SHORT_TAIL + 1] != NAME_SEP)
		return 0;
	return n - SHORT_TAIL;
}

/* Strip and check the suffix; the body length, or -EINVAL. */
static int body_len(const char *name, size_t len, bool json)
{
	if (len > NAME_LEN_MAX)
		return -ENAMETOOLONG;
	if (!json)
		return len ? (int)len : -EINVAL;
	if (len <= NAME_SUFFIX_LEN || memcmp(name + len - NAME_SUFFIX_LEN, NAME_SUFFIX,
					     NAME_SUFFIX_LEN))
		return -EINVAL;
	return (int)(len - NAME_SUFFIX_LEN);
}

void name_key_free(struct name_key *k)
{
	if (k) {
		val_free(&k->key);
		k->kind = NAME_FULL;
	}
}

int name_parse(const char *name, size_t len, enum val_type t, bool json,
	       struct name_key *out)
{
	char buf[NAME_BUF];
	int n, rc;
	size_t pl;

	val_init_null(&out->key);
	out->kind = NAME_FULL;
	n = body_len(name, len, json);
	if (n < 0)
		return n;
	pl = short_prefix_len(name, (size_t)n);
	if (pl) {
		if (memchr(name, NAME_SEP, pl))
			return -EINVAL;
		out->kind = NAME_SHORT;
		return body_to_val(name, pl, t, true, &out->key);
	}
	rc = body_to_val(name, (size_t)n, t, false, &out->key);
	if (rc < 0)
		return rc;
	rc = name_make(&out->key, json, buf);
	if (rc < 0 || (size_t)rc != len || memcmp(buf, name, len)) {
		val_free(&out->key);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	return 0;
}

int name_parse_str(const char *name, size_t len, char **out, size_t *outlen)
{
	char buf[NAME_BUF];
	char *raw;
	size_t rn;
	int rc;

	if (!len || len > NAME_LEN_MAX)
		return len ? -ENAMETOOLONG : -EINVAL;
	raw = malloc(len + 1);
	if (!raw)
		return -ENOMEM;
	rc = unescape(name, len, raw, &rn);
	if (rc < 0 || !rn || memchr(raw, 0, rn) || !val_utf8_valid(raw, rn))
		goto bad;
	raw[rn] = 0;
	rc = name_make_str(raw, rn, buf);
	if (rc < 0 || (size_t)rc != len || memcmp(buf, name, len))
		goto bad;
	*out = raw;
	*outlen = rn;
	return 0;
bad:
	free(raw);
	return -EINVAL;
}

/* ---- lenient decoding: aliases of a key ---- */

static int hexval_any(char c)
{
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return hexval(c);
}

/* Undo %XX escapes (either case) of s[0..n) into out; raw bytes pass. */
static int unescape_any(const char *s, size_t n, char *out, size_t *outn, const char **why)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n || hexval_any(s[i + 1]) < 0 || hexval_any(s[i + 2]) < 0) {
			*why = "has a % not followed by two hex digits (write %25 for a %)";
			return -EINVAL;
		}
		out[o++] = (char)(hexval_any(s[i + 1]) << 4 | hexval_any(s[i + 2]));
		i += 2;
	}
	*outn = o;
	return 0;
}

bool name_escapes_ok(const char *name, size_t len, const char **why)
{
	char *raw = malloc(len + 1);
	size_t rn;
	bool ok;

	if (!raw) {
		*why = "out of memory";
		return false;
	}
	ok = unescape_any(name, len, raw, &rn, why) == 0;
	if (ok && memchr(raw, 0, rn)) {
		*why = "has %00, a NUL byte, which no name may hold";
		ok = false;
	}
	if (ok && !val_utf8_valid(raw, rn)) {
		*why = "is not valid UTF-8 once %-escapes are decoded";
		ok = false;
	}
	free(raw);
	return ok;
}

int name_parse_alias(const char *name, size_t len, enum val_type t, bool json, struct val *out,
		     const char **why)
{
	uint8_t *bin = NULL;
	struct num num;
	size_t rn, bn;
	char *raw;
	int n, rc;

	val_init_null(out);
	*why = "is not a key";
	n = body_len(name, len, json);
	if (n < 0)
		return n;
	if (!n || name[0] == '.') {
		*why = "is a dotfile, never a key";
		return -EINVAL;
	}
	if (short_prefix_len(name, (size_t)n)) {
		*why = "is a shortened name of no key";
		return -EINVAL;
	}
	raw = malloc((size_t)n + 1);
	if (!raw)
		return -ENOMEM;
	rc = unescape_any(name, (size_t)n, raw, &rn, why);
	if (rc < 0)
		goto out;
	raw[rn] = 0;
	rc = -EINVAL;
	switch (t) {
	case VAL_S:
		if (!rn)
			*why = "is empty";
		else if (!val_utf8_valid(raw, rn))
			*why = "is not valid UTF-8 once %-escapes are decoded";
		else
			rc = val_init_str(out, raw, rn);
		break;
	case VAL_N:
		if (memchr(raw, 0, rn) || num_parse(raw, rn, &num, NULL) < 0) {
			*why = "is not a number";
			break;
		}
		val_init_num(out, &num);
		rc = 0;
		break;
	case VAL_B:
		if (!rn || memchr(raw, 0, rn) || b64_decode(raw, rn, &bin, &bn) < 0 || !bn) {
			*why = "is not base64 (binary keys are named in base64url)";
			break;
		}
		rc = val_init_bin(out, bin, bn);
		break;
	default:
		break;
	}
out:
	free(bin);
	free(raw);
	return rc;
}

bool name_key_has_prefix(const struct val *key, const struct val *prefix)
{
	if (key->type != prefix->type || (key->type != VAL_S && key->type != VAL_B))
		return false;
	return key->s.len >= prefix->s.len && !memcmp(key->s.p, prefix->s.p, prefix->s.len);
}

/* True if body[0..n) is exactly the encoding of v. */
static bool canon_body(const struct val *v, const char *body, size_t n)
{
	char *enc = malloc(BODY_MAX);
	int m;
	bool ok;

	if (!enc)
		return false;
	m = enc_body(v, enc);
	ok = m >= 0 && (size_t)m == n && !memcmp(enc, body, n);
	free(enc);
	return ok;
}

/* Position of the raw separator in a joined body, or -1 if not exactly one. */
static long find_sep(const char *body, size_t n)
{
	long at = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (body[i] == '%') {
			i += 2;
		} else if (body[i] == NAME_SEP) {
			if (at >= 0)
				return -1;
			at = (long)i;
		}
	}
	return at;
}

int name_split_key(const char *name, size_t len, enum val_type pkt, enum val_type skt,
		   bool json, struct name_key *pk, struct name_key *sk)
{
	char buf[NAME_BUF];
	size_t pl;
	long at;
	int n, rc;

	val_init_null(&pk->key);
	val_init_null(&sk->key);
	pk->kind = sk->kind = NAME_FULL;
	n = body_len(name, len, json);
	if (n < 0)
		return n;
	pl = short_prefix_len(name, (size_t)n);
	at = find_sep(name, pl ? pl : (size_t)n);
	if (pl) {
		if (at < 0) {
			if (memchr(name, NAME_SEP, pl))
				return -EINVAL;
			pk->kind = NAME_SHORT;
			return body_to_val(name, pl, pkt, true, &pk->key);
		}
		rc = body_to_val(name, (size_t)at, pkt, false, &pk->key);
		if (rc == 0 && !canon_body(&pk->key, name, (size_t)at))
			rc = -EINVAL;
		if (rc == 0) {
			sk->kind = NAME_SHORT;
			if (skt == VAL_N) /* no prefix of a number: unknown (header) */
				rc = memchr(name + at + 1, '%', pl - (size_t)at - 1) ? -EINVAL : 0;
			else
				rc = body_to_val(name + at + 1, pl - (size_t)at - 1, skt, true,
						 &sk->key);
		}
		goto check;
	}
	if (at <= 0)
		return -EINVAL;
	rc = body_to_val(name, (size_t)at, pkt, false, &pk->key);
	if (rc == 0)
		rc = body_to_val(name + at + 1, (size_t)n - (size_t)at - 1, skt, false, &sk->key);
	if (rc == 0) {
		rc = name_join_key(&pk->key, &sk->key, json, buf);
		if (rc >= 0)
			rc = ((size_t)rc == len && !memcmp(buf, name, len)) ? 0 : -EINVAL;
	}
check:
	if (rc < 0) {
		name_key_free(pk);
		name_key_free(sk);
	}
	return rc;
}
