/*
 * fix_val.c - test helpers: values that live until teardown (fix_val.h).
 */
#include "fix_val.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

/* Values made by the helpers below live until fix_val_free(). */
static struct val *vals[256];
static size_t nvals;

void attr_set(struct key_attr *a, const char *name, enum val_type t)
{
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = t;
}

struct val *keep(void)
{
	ck_assert_uint_lt(nvals, sizeof(vals) / sizeof(vals[0]));
	vals[nvals] = calloc(1, sizeof(struct val));
	ck_assert_ptr_nonnull(vals[nvals]);
	return vals[nvals++];
}

const struct val *vs(const char *s)
{
	struct val *v = keep();

	ck_assert_int_eq(val_init_str(v, s, strlen(s)), 0);
	return v;
}

const struct val *vn(const char *text)
{
	struct val *v = keep();
	struct num n;

	ck_assert_int_eq(num_parse(text, strlen(text), &n, NULL), 0);
	val_init_num(v, &n);
	return v;
}

const struct val *vb(const void *p, size_t len)
{
	struct val *v = keep();

	ck_assert_int_eq(val_init_bin(v, p, len), 0);
	return v;
}

void jparse(struct val *out, const char *fmt, va_list ap)
{
	struct dyn_err err;
	char *text;
	int n;

	n = vasprintf(&text, fmt, ap);
	ck_assert_int_ge(n, 0);
	err_clear(&err);
	ck_assert_msg(item_parse_value(text, (size_t)n, out, &err) == 0, "bad test JSON %s: %s",
		      text, err.msg);
	free(text);
}

struct val *J(const char *fmt, ...)
{
	struct val *v = keep();
	va_list ap;

	va_start(ap, fmt);
	jparse(v, fmt, ap);
	va_end(ap);
	return v;
}

void fix_val_free(void)
{
	size_t i;

	for (i = 0; i < nvals; i++) {
		val_free(vals[i]);
		free(vals[i]);
	}
	nvals = 0;
}
