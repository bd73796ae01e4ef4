/*
 * fix_item.h - test helpers shared by the item codec suites (check_item,
 * check_item_codec): parse a document that must parse, render one
 * canonically and compare.
 */
#ifndef DYNFS_FIX_ITEM_H
#define DYNFS_FIX_ITEM_H

#include "item.h"

/* The value text parses to (caller frees); fails the test if it does not parse or check. */
struct val parse_ok(const char *text);
/* v's canonical rendering with key names pk, sk (new, NUL-terminated). */
char *render(const struct val *v, const char *pk, const char *sk);
/* Parse in, render it with keys pk, sk and compare with want. */
void assert_renders(const char *in, const char *pk, const char *sk, const char *want);

#endif
