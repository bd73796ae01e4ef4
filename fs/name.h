/*
 * name.h - the name codec: key values <-> file names (SPEC §2 "Names").
 *
 * Every key value (S, N or B) has exactly one file name, and every name
 * decodes to at most one key.  The full grammar and the reasons behind it
 * are in the header comment of name.c; in short:
 *
 *   enc(S)  the UTF-8 text, with '%' '/' '~', control bytes (0x00-0x1F,
 *           0x7F), a leading '.' and a leading '_' written as %XX
 *           (uppercase hex)
 *   enc(N)  num_format()'s canonical text ("1e+21", "-0.5")
 *   enc(B)  unpadded base64url, a leading '_' written %5F
 *   item    enc(key) + ".json";  partition: enc(pk);  table: enc(name)
 *   joined  enc(pk) + "~" + enc(sk)   (index entries, SPEC §4)
 *   long    a name over 255 bytes becomes prefix + "~~" + 16 hex digits
 *           of FNV-1a-64 of the full body, + ".json" if it had it
 *
 * '~' is the one character the codec escapes beyond what SPEC lists: it
 * is always %7E inside a value, so a raw '~' can only be the join
 * separator or the shortening marker.
 */
#ifndef DYNFS_NAME_H
#define DYNFS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/val.h"

#define NAME_LEN_MAX 255      /* longest file name produced or accepted */
#define NAME_SUFFIX ".json"   /* item files */
#define NAME_SUFFIX_LEN 5
#define NAME_SEP '~'	      /* joins enc(pk) and enc(sk) */
#define NAME_HASH_DIGITS 16   /* hex digits of the shortened-name hash */
/* A buffer for any name name_make/name_join_key produce, with its NUL. */
#define NAME_BUF (NAME_LEN_MAX + 1)

/* Outcome of parsing a name. */
enum name_kind {
	NAME_FULL,  /* the name holds the whole key */
	NAME_SHORT, /* a shortened name: only a prefix of the key is known */
};

/*
 * A parsed name.  For NAME_FULL, key is the key value.  For NAME_SHORT,
 * key holds a byte prefix of the key's value (S or B, same type): every
 * key whose name this could be starts with those bytes and is strictly
 * greater than them, so a caller lists keys after `key` while they start
 * with it, and keeps the one for which name_make() gives back the name.
 */
struct name_key {
	enum name_kind kind; /* NAME_FULL or NAME_SHORT */
	struct val key;	     /* owned; VAL_NULL when unused */
};

/*
 * The file name of key value v (S, N or B), with ".json" appended if json,
 * shortened if longer than NAME_LEN_MAX.  buf must hold NAME_BUF bytes.
 * Returns the length, or -EINVAL for a value of another type or an
 * empty S/B (no allocation: it cannot fail otherwise).
 */
int name_make(const struct val *v, bool json, char *buf);

/* Same for a raw string encoded by the S rules (table names). */
int name_make_str(const char *s, size_t len, char *buf);

/*
 * Parse name[0..len) as the name of a key of type t (".json" required
 * and stripped if json).  0 and *out filled (new; name_key_free) if the
 * name is the canonical name of a key or a well-formed shortened name;
 * -EINVAL if it is not the name of any key (then it is a scratch name);
 * -ENAMETOOLONG for len > NAME_LEN_MAX.
 */
int name_parse(const char *name, size_t len, enum val_type t, bool json,
	       struct name_key *out);

/*
 * Any spelling of a key of type t (SPEC §5 "Item names are strict"):
 * name[0..len) (".json" required and stripped if json) decoded
 * leniently -- %XX escapes in either case and where none is needed, N
 * in any form num_parse() reads ("1.0", "007", "+5", "1e0", "-0"), B in
 * either base64 alphabet, padded or not -- into the key's value *out
 * (new), which name_make() turns into the canonical name.  -EINVAL with
 * *why (static text) when it is no key of type t: a malformed escape
 * ('%' not followed by two hex digits), invalid UTF-8, not a number, not
 * base64, empty, a leading '.' (dotfiles are never keys), a shortened
 * name; *why reads after "this name" ("is not a number").
 * -ENAMETOOLONG, -ENOMEM.
 */
int name_parse_alias(const char *name, size_t len, enum val_type t, bool json, struct val *out,
		     const char **why);

/*
 * The %-escapes of name[0..len) are well formed: every '%' starts %XX
 * (hex, either case), and the decoded bytes are valid UTF-8 without NUL
 * (no table, index or query name may hold one).  *why as above.
 */
bool name_escapes_ok(const char *name, size_t len, const char **why);

/*
 * Parse a name written by the S rules (table names) into *out (new,
 * malloc, NUL-terminated).  -EINVAL if not canonical or shortened, or if
 * it decodes to a NUL byte (table and index names are C strings: "a%00b"
 * must not name "a") or to bytes that are not UTF-8.
 */
int name_parse_str(const char *name, size_t len, char **out, size_t *outlen);

/* Release what a name_key owns. */
void name_key_free(struct name_key *k);

/* True if key (S or B) starts with the bytes of prefix (same type). */
bool name_key_has_prefix(const struct val *key, const struct val *prefix);

/*
 * Index entry names (SPEC §4): enc(pk) "~" enc(sk) [".json"], shortened
 * like any name when longer than NAME_LEN_MAX.  sk NULL: name_make(pk).
 * buf holds NAME_BUF bytes; returns the length or -EINVAL.
 */
int name_join_key(const struct val *pk, const struct val *sk, bool json, char *buf);

/*
 * Inverse of name_join_key for a table with a sort key.  0 with *pk and
 * *sk filled (new) when the name holds both keys.  For a shortened name:
 * pk->kind is NAME_FULL and sk->kind NAME_SHORT when the separator
 * survived shortening (sk->key VAL_NULL when the cut fell in an N sort
 * key: any sort key may match), else pk->kind is NAME_SHORT and sk->key
 * is VAL_NULL; the caller then compares name_join_key() of candidates.
 * -EINVAL if not such a name.
 */
int name_split_key(const char *name, size_t len, enum val_type pkt, enum val_type skt,
		   bool json, struct name_key *pk, struct name_key *sk);

/* FNV-1a, 64 bits (exposed for tests). */
uint64_t name_hash(const void *p, size_t len);

#endif
