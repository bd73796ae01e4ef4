/*
 * query.c - `_query?` parameters (SPEC §3): parsing a query string into a
 * struct qspec against where it is asked (struct qwhere).  The runner that
 * reads what a query selects is in query_run.c.
 *
 * Parsing is strict: a query a user mistyped must fail loudly (EINVAL and
 * a line in /_errors) rather than quietly return something else.  Every
 * rejection names the parameter and says what would be accepted.
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/item.h"
#include "../engine/num.h"

/* ---- parsing ---- */

enum qparam {
	P_EQ,
	P_LT,
	P_LE,
	P_GT,
	P_GE,
	P_PREFIX,
	P_FILTER,
	P_LIMIT,
	P_ORDER,
	P_AFTER,
	P_AS,
	P_SEGMENT,
	P_NPARAMS,
};

static const char *const pnames[P_NPARAMS] = {
    "eq", "lt", "le", "gt", "ge", "prefix", "filter", "limit", "order", "after", "as", "segment",
};

const char *query_show(const char *s, size_t len, char *buf)
{
	size_t i, n = len > QUERY_SHOW_MAX ? QUERY_SHOW_MAX : len;

	for (i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (n < len)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = 0;
	return buf;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..len) into out (len + 1 bytes); the offset of a bad '%' in
 * *bad and -EINVAL, or the decoded length. */
static long pct_decode(const char *s, size_t len, char *out, size_t *bad)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0) {
			*bad = i;
			return -EINVAL;
		}
		out[n++] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
		i += 2;
	}
	out[n] = 0;
	return (long)n;
}

int query_pct_decode(const char *s, size_t len, char **out, size_t *outlen, struct dyn_err *err)
{
	char *buf = malloc(len + 1), shown[QUERY_SHOW_MAX + 4];
	size_t bad = 0;
	long n;

	if (!buf)
		return -ENOMEM;
	n = pct_decode(s, len, buf, &bad);
	if (n < 0) {
		free(buf);
		return err_set(err, EINVAL,
			       "bad percent-encoding at byte %zu (\"%s\"): %% must be followed by "
			       "two hex digits (write %%25 for a literal %%)",
			       bad + 1, query_show(s + bad, len - bad, shown));
	}

	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

static const char text_ok_msg[] =
	"%00 (a NUL byte) and bytes that are not UTF-8 are not allowed here";

/* A decoded parameter name or non-key value: UTF-8 without NUL (they are
 * compared as C strings: "order=desc%00x" must not read as desc). */
static bool text_ok(const char *s, size_t n)
{
	return !memchr(s, 0, n) && val_utf8_valid(s, n);
}

static const char *where_sk(const struct qwhere *w, char *buf, size_t size)
{
	if (w->index)
		snprintf(buf, size, "index %s", w->index);
	else
		snprintf(buf, size, "the table");
	return buf;
}

/* A sort key value for parameter p from its decoded text. */
static int key_value(const struct qwhere *w, enum qparam p, const char *raw, size_t rawlen,
		     const char *s, size_t n, struct val *out, struct dyn_err *err)
{
	const struct key_attr *a = w->sk;
	char shown[QUERY_SHOW_MAX + 4], wh[DB_NAME_MAX + 16];
	struct dyn_err e2;
	struct num x;
	uint8_t *b;
	size_t blen;
	int rc;

	query_show(raw, rawlen, shown);
	if (w->scan)
		return err_set(err, EINVAL,
			       "%s=%s: _query? here (at table level, or of a whole index) is a "
			       "scan, which has no sort key condition (query a partition, or use "
			       "filter=)",
			       pnames[p], shown);
	if (!a)
		return err_set(err, EINVAL, "%s=%s: %s has no sort key to compare", pnames[p],
			       shown, where_sk(w, wh, sizeof(wh)));
	if (p == P_PREFIX && a->type == VAL_N)
		return err_set(err, EINVAL,
			       "prefix=%s: begins_with needs a sort key of type S or B, and %s "
			       "is of type N (use ge= and lt=)",
			       shown, a->name);
	if (n == 0)
		return err_set(err, EINVAL, "%s=: empty value (key values are never empty)",
			       pnames[p]);
	switch (a->type) {
	case VAL_S:
		if (!val_utf8_valid(s, n))
			return err_set(err, EINVAL,
				       "%s=%s: not valid UTF-8 (sort key %s is a string)",
				       pnames[p], shown, a->name);
		if (n > 1024)
			return err_set(err, EINVAL,
				       "%s=%s: %zu bytes, over the 1024-byte limit of sort keys",
				       pnames[p], shown, n);
		return val_init_str(out, s, n);
	case VAL_N:
		err_clear(&e2);
		if (num_parse(s, n, &x, &e2) < 0)
			return err_set(err, EINVAL,
				       "%s=%s: not a number (sort key %s is of type N): %s",
				       pnames[p], shown, a->name, e2.msg);
		val_init_num(out, &x);
		return 0;
	case VAL_B:
		rc = b64_decode(s, n, &b, &blen);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0 || blen == 0) {
			if (rc == 0)
				free(b);
			return err_set(err, EINVAL,
				       "%s=%s: not base64 of at least one byte (sort key %s is of "
				       "type B)",
				       pnames[p], shown, a->name);
		}
		rc = val_init_bin(out, b, blen);
		free(b);
		return rc;
	default:
		return err_set(err, EINVAL, "%s: sort key %s has no key type", pnames[p], a->name);
	}
}

/* A lower (gt, ge) or upper (lt, le) bound, or eq (both). */
static int set_bound(struct qspec *q, enum qparam p, enum qparam *lo_p, enum qparam *hi_p,
		     struct val *v, struct dyn_err *err)
{
	bool lower = p == P_GT || p == P_GE || p == P_EQ;
	bool upper = p == P_LT || p == P_LE || p == P_EQ;
	int rc;

	if (lower && q->has_lo)
		rc = err_set(err, EINVAL,
			     "%s and %s: two lower bounds (give at most one of gt, ge, eq and one "
			     "of lt, le, eq; ge=A&le=B is BETWEEN)",
			     pnames[*lo_p], pnames[p]);
	else if (upper && q->has_hi)
		rc = err_set(err, EINVAL,
			     "%s and %s: two upper bounds (give at most one of lt, le, eq and one "
			     "of gt, ge, eq; ge=A&le=B is BETWEEN)",
			     pnames[*hi_p], pnames[p]);
	else
		rc = 0;
	if (rc < 0) {
		val_free(v);
		return rc;
	}
	if (lower && upper) {
		rc = val_copy(&q->hi, v);
		if (rc < 0) {
			val_free(v);
			return rc;
		}
	} else if (upper) {
		val_move(&q->hi, v);
	}
	if (lower)
		val_move(&q->lo, v);
	if (lower) {
		q->has_lo = true;
		q->lo_incl = p != P_GT;
		*lo_p = p;
	}
	if (upper) {
		q->has_hi = true;
		q->hi_incl = p != P_LT;
		*hi_p = p;
	}
	return 0;
}

/* [1-9][0-9]* within uint64. */
static bool parse_uint(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || s[0] < '1' || s[0] > '9')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "I/N" with 0 <= I < N <= QUERY_MAX_SEGMENTS. */
static bool parse_segment(const char *s, size_t n, uint32_t *seg, uint32_t *total)
{
	const char *slash = memchr(s, '/', n);
	uint64_t i = 0, t;

	if (!slash)
		return false;
	if (slash - s == 1 && s[0] == '0')
		i = 0;
	else if (!parse_uint(s, (size_t)(slash - s), &i))
		return false;
	if (!parse_uint(slash + 1, n - (size_t)(slash - s) - 1, &t))
		return false;
	if (t > QUERY_MAX_SEGMENTS || i >= t)
		return false;
	*seg = (uint32_t)i;
	*total = (uint32_t)t;
	return true;
}

static int parse_after(const struct qwhere *w, struct qspec *q, const char *raw, size_t rawlen,
		       struct dyn_err *err)
{
	char shown[QUERY_SHOW_MAX + 4];
	size_t n = strlen(q->after);
	int rc;

	query_show(raw, rawlen, shown);
	if (n == 0)
		return err_set(err, EINVAL,
			       "after=: empty name (pass the name of the last entry "
			       "you got)");
	if (w->base_part && w->sk)
		rc = name_parse(q->after, n, w->sk->type, true, &q->after_sk);
	else if (w->tsk)
		rc = name_split_key(q->after, n, w->tpk->type, w->tsk->type, true, &q->after_pk,
				    &q->after_sk);
	else if (w->tpk)
		rc = name_parse(q->after, n, w->tpk->type, true, &q->after_pk);
	else
		rc = -EINVAL;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || memchr(q->after, '/', n))
		return err_set(err, EINVAL, "after=%s: not the name of an entry here (expected %s)",
			       shown,
			       w->base_part ? "<sort key>.json"
			       : w->tsk	    ? "<partition key>~<sort key>.json"
					    : "<partition key>.json");
	return 0;
}

static int parse_filter(struct qspec *q, struct dyn_err *err)
{
	char buf[sizeof(err->msg)];
	struct dyn_err e2;
	int rc;

	err_clear(&e2);
	rc = expr_parse_filter(q->filter_text, q->filter_len, NULL, &q->filter, &e2);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return err_set(err, EINVAL, "filter: %s", err_format(&e2, buf, sizeof(buf)));
	return 0;
}

/* One name=value parameter; raw points into the query text. */
static int parse_param(const struct qwhere *w, struct qspec *q, bool *seen, enum qparam *lo_p,
		       enum qparam *hi_p, const char *raw, size_t rawlen, struct dyn_err *err)
{
	const char *eq = memchr(raw, '=', rawlen), *rv;
	char shown[QUERY_SHOW_MAX + 4], *name = NULL, *val = NULL;
	size_t nlen, vlen, rvlen;
	struct val kv;
	int p, rc;

	query_show(raw, rawlen, shown);
	if (rawlen == 0)
		return err_set(err, EINVAL, "empty parameter (two & in a row, or a trailing &)");
	if (!eq)
		return err_set(err, EINVAL, "parameter \"%s\" has no value: write name=value",
			       shown);
	rv = eq + 1;
	rvlen = rawlen - (size_t)(rv - raw);
	rc = query_pct_decode(raw, (size_t)(eq - raw), &name, &nlen, err);
	if (rc < 0)
		return rc;
	if (!text_ok(name, nlen)) {
		rc = err_set(err, EINVAL, "parameter \"%s\": %s", shown, text_ok_msg);
		goto out;
	}
	for (p = 0; p < P_NPARAMS && strcmp(name, pnames[p]); p++)
		;
	if (p == P_NPARAMS) {
		rc = err_set(err, EINVAL,
			     "unknown parameter \"%s\" (known: eq lt le gt ge prefix filter limit "
			     "order after as segment)",
			     query_show(name, nlen, shown));
		goto out;
	}
	if (seen[p]) {
		rc = err_set(err, EINVAL, "parameter %s given twice", pnames[p]);
		goto out;
	}
	seen[p] = true;
	{
		struct dyn_err e2;

		err_clear(&e2);
		rc = query_pct_decode(rv, rvlen, &val, &vlen, &e2);
		if (rc == -EINVAL) {
			rc = err_set(err, EINVAL, "%s: %s", pnames[p], e2.msg);
			goto out;
		}
		if (rc < 0)
			goto out;
	}
	query_show(rv, rvlen, shown);
	/* key values may hold any byte a key may (NUL too); nothing else may */
	if (p != P_EQ && p != P_LT && p != P_LE && p != P_GT && p != P_GE && p != P_PREFIX &&
	    !text_ok(val, vlen)) {
		rc = err_set(err, EINVAL, "%s=%s: %s", pnames[p], shown, text_ok_msg);
		goto out;
	}
	val_init_null(&kv);
	switch ((enum qparam)p) {
	case P_EQ:
	case P_LT:
	case P_LE:
	case P_GT:
	case P_GE:
		rc = key_value(w, (enum qparam)p, rv, rvlen, val, vlen, &kv, err);
		if (rc == 0)
			rc = set_bound(q, (enum qparam)p, lo_p, hi_p, &kv, err);
		break;
	case P_PREFIX:
		rc = key_value(w, P_PREFIX, rv, rvlen, val, vlen, &q->prefix, err);
		q->has_prefix = rc == 0;
		break;
	case P_FILTER:
		q->filter_text = val;
		q->filter_len = vlen;
		val = NULL;
		rc = parse_filter(q, err);
		break;
	case P_LIMIT:
		if (!parse_uint(val, vlen, &q->limit))
			rc = err_set(err, EINVAL, "limit=%s: not a positive integer", shown);
		break;
	case P_ORDER:
		if (!strcmp(val, "desc"))
			q->desc = true;
		else if (strcmp(val, "asc"))
			rc = err_set(err, EINVAL, "order=%s: order is asc or desc", shown);
		if (rc == 0 && q->desc && w->scan)
			rc = err_set(err, EINVAL,
				     "order=desc: a scan (_query? at table level, or of a whole "
				     "index) returns items in key order only; order applies to "
				     "queries in a partition");
		break;
	case P_AFTER:
		q->after = val;
		val = NULL;
		q->has_after = true;
		rc = parse_after(w, q, rv, rvlen, err);
		break;
	case P_AS:
		if (!strcmp(val, "jsonl"))
			q->out = QOUT_JSONL;
		else if (!strcmp(val, "json"))
			q->out = QOUT_JSON;
		else if (!strcmp(val, "count"))
			q->out = QOUT_COUNT;
		else
			rc = err_set(err, EINVAL,
				     "as=%s: as is jsonl, json or count (or leave it "
				     "out for a directory)",
				     shown);
		break;
	case P_SEGMENT:
		if (!w->scan)
			rc =
			    err_set(err, EINVAL,
				    "segment=%s: segments split a scan (_query? at table level, or "
				    "of a whole index), not a query in a partition",
				    shown);
		else if (!parse_segment(val, vlen, &q->seg, &q->nseg))
			rc = err_set(err, EINVAL,
				     "segment=%s: write I%%2FN with 0 <= I < N <= %d (I/N with "
				     "the / percent-encoded: a file name cannot hold a /; "
				     "segment=0%%2F3, 1%%2F3 and 2%%2F3 split a scan in three)",
				     shown, QUERY_MAX_SEGMENTS);
		break;
	default:
		break;
	}
out:
	free(name);
	free(val);
	return rc;
}

int query_parse(const char *text, size_t len, const struct qwhere *w, struct qspec *q,
		struct dyn_err *err)
{
	enum qparam lo_p = P_GE, hi_p = P_LE;
	bool seen[P_NPARAMS] = {false};
	char a[QUERY_SHOW_MAX + 4], b[QUERY_SHOW_MAX + 4];
	size_t at = 0;
	int rc = 0;

	memset(q, 0, sizeof(*q));
	val_init_null(&q->lo);
	val_init_null(&q->hi);
	val_init_null(&q->prefix);
	val_init_null(&q->after_pk.key);
	val_init_null(&q->after_sk.key);
	while (at < len && rc == 0) {
		const char *amp = memchr(text + at, '&', len - at);
		size_t end = amp ? (size_t)(amp - text) : len;

		rc = parse_param(w, q, seen, &lo_p, &hi_p, text + at, end - at, err);
		at = end + 1;
		if (rc == 0 && amp && at == len)
			rc = err_set(err, EINVAL,
				     "empty parameter (two & in a row, or a trailing &)");
	}
	if (rc == 0 && q->has_lo && q->has_hi && lo_p != P_EQ && val_cmp(&q->lo, &q->hi) > 0) {
		char lt[NAME_BUF], ht[NAME_BUF];

		if (q->lo.type == VAL_N) {
			num_format(&q->lo.n, lt);
			num_format(&q->hi.n, ht);
		} else {
			snprintf(lt, sizeof(lt), "%s", query_show(q->lo.s.p, q->lo.s.len, a));
			snprintf(ht, sizeof(ht), "%s", query_show(q->hi.s.p, q->hi.s.len, b));
		}
		rc = err_set(err, EINVAL, "the lower bound %s=%s is above the upper bound %s=%s",
			     pnames[lo_p], lt, pnames[hi_p], ht);
	}
	if (rc < 0)
		query_free(q);
	return rc;
}

bool query_is_file(const char *text, size_t len)
{
	size_t at = 0, bad;
	char name[8];

	while (at < len) {
		const char *amp = memchr(text + at, '&', len - at);
		size_t end = amp ? (size_t)(amp - text) : len;
		const char *eq = memchr(text + at, '=', end - at);

		if (eq && (size_t)(eq - text) - at < sizeof(name) &&
		    pct_decode(text + at, (size_t)(eq - text) - at, name, &bad) >= 0 &&
		    !strcmp(name, "as"))
			return true;
		at = end + 1;
	}
	return false;
}

void query_free(struct qspec *q)
{
	if (!q)
		return;
	val_free(&q->lo);
	val_free(&q->hi);
	val_free(&q->prefix);
	free(q->filter_text);
	q->filter_text = NULL;
	expr_free(q->filter);
	q->filter = NULL;
	free(q->after);
	q->after = NULL;
	name_key_free(&q->after_pk);
	name_key_free(&q->after_sk);
}
