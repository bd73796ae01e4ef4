/*
 * rbe_opts.c - a remote mount's target and -o options (SPEC §10), and
 * the "unchanged since read" condition an editor's save is made with.
 *
 * Target: http://HOST:PORT and https://... are endpoints (any
 * DynamoDB-API service); dynamodb://REGION is AWS DynamoDB in REGION
 * (the endpoint is derived by the client), dynamodb:// alone takes the
 * region from the environment or the profile.  Options: region=,
 * profile= go to the client; tables=a:b (fs/main.c turns SPEC's
 * "-o tables=a,b,cache=1" into this form before libfuse splits it),
 * cache=SECONDS, ro, max_list=N, allow_schema_changes,
 * allow_table_create, allow_table_delete to the backend.  Anything else
 * is left to the caller (FUSE's own options).
 */
#include "rbe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storefmt.h"

void rbe_opts_free(struct rbe_opts *o)
{
	size_t i;

	for (i = 0; i < o->ntables; i++)
		free(o->tables[i]);
	o->ntables = 0;
}

bool rbe_is_target(const char *arg)
{
	return !strncmp(arg, "http://", 7) || !strncmp(arg, "https://", 8) ||
	       !strncmp(arg, "dynamodb://", 11);
}

int rbe_parse_target(const char *arg, struct rmt_opts *co, struct dyn_err *err)
{
	const char *host;

	if (!strncmp(arg, "dynamodb://", 11)) {
		host = arg + 11;
		if (strchr(host, '/') || strchr(host, ':'))
			return err_set(err, EINVAL, "%s: dynamodb://REGION takes no path or port",
				       arg);
		co->endpoint = NULL;
		if (*host)
			co->region = host;
		return 0;
	}
	if (!strncmp(arg, "http://", 7))
		host = arg + 7;
	else if (!strncmp(arg, "https://", 8))
		host = arg + 8;
	else
		return err_set(err, EINVAL,
			       "%s: not a remote target (http://HOST:PORT, https://HOST, "
			       "dynamodb://REGION)",
			       arg);
	if (!*host || *host == '/' || *host == ':')
		return err_set(err, EINVAL, "%s: no host", arg);
	co->endpoint = arg;
	return 0;
}

static int parse_uint(const char *key, const char *value, long max, long *out, struct dyn_err *err)
{
	char *end;
	long v;

	if (!value || !*value)
		return err_set(err, EINVAL, "-o %s needs a number", key);
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || *end || v < 0 || v > max)
		return err_set(err, EINVAL, "-o %s=%s: not a number from 0 to %ld", key, value,
			       max);
	*out = v;
	return 0;
}

static int parse_tables(const char *value, struct rbe_opts *o, struct dyn_err *err)
{
	const char *p = value;
	size_t n;

	if (!value || !*value)
		return err_set(err, EINVAL, "-o tables= needs table names");
	rbe_opts_free(o);
	while (*p) {
		n = strcspn(p, ",:");
		if (n == 0 || n > 255)
			return err_set(err, EINVAL, "-o tables=%s: bad table name", value);
		if (o->ntables == RBE_MAX_TABLES)
			return err_set(err, EINVAL, "-o tables=: at most %d tables",
				       RBE_MAX_TABLES);
		if (!(o->tables[o->ntables] = strndup(p, n)))
			return err_set(err, ENOMEM, "out of memory");
		if (!db_name_valid(o->tables[o->ntables])) {
			err_set(err, EINVAL, "-o tables=: %s is not a table name",
				o->tables[o->ntables]);
			free(o->tables[o->ntables]);
			return -EINVAL;
		}
		o->ntables++;
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

int rbe_parse_option(const char *key, const char *value, struct rmt_opts *co, struct rbe_opts *o,
		     struct dyn_err *err)
{
	long v;
	int rc;

	if (!strcmp(key, "region") || !strcmp(key, "profile")) {
		if (!value || !*value)
			return err_set(err, EINVAL, "-o %s needs a value", key);
		if (key[0] == 'r')
			co->region = value;
		else
			co->profile = value;
		return 1;
	}
	if (!strcmp(key, "tables"))
		return (rc = parse_tables(value, o, err)) < 0 ? rc : 1;
	if (!strcmp(key, "cache")) {
		if ((rc = parse_uint(key, value, 86400, &v, err)) < 0)
			return rc;
		o->cache_s = (int)v;
		return 1;
	}
	if (!strcmp(key, "max_list")) {
		if ((rc = parse_uint(key, value, LONG_MAX, &v, err)) < 0)
			return rc;
		if (v == 0)
			return err_set(err, EINVAL, "-o max_list must be at least 1");
		o->max_list = (size_t)v;
		return 1;
	}
	struct {
		const char *name;
		bool *flag;
	} flags[] = {{"ro", &o->ro},
		     {"allow_schema_changes", &o->allow_schema_changes},
		     {"allow_table_create", &o->allow_table_create},
		     {"allow_table_delete", &o->allow_table_delete}};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(key, flags[i].name)) {
			if (value)
				return err_set(err, EINVAL, "-o %s takes no value", key);
			*flags[i].flag = true;
			/* "ro" is FUSE's too: the caller passes it on as well */
			return 1;
		}
	return 0;
}

/* ---- the condition of a save ---- */

/* Placeholders and the budget of one condition. */
struct cstate {
	struct sf_buf *b;   /* the text */
	struct val *names;  /* #eN -> name */
	struct val *values; /* :eN -> value */
	size_t terms, max;  /* comparisons so far, and allowed */
	unsigned k;	    /* next placeholder number */
};

/* Terms to compare v leaf by leaf (stops counting past cap). */
static size_t count_terms(const struct val *v, size_t cap, int depth)
{
	size_t n = 1, i;

	if ((v->type != VAL_L && v->type != VAL_M) || depth > 30)
		return 1;
	for (i = 0; n <= cap && i < (v->type == VAL_L ? v->l.len : v->m.len); i++)
		n += count_terms(v->type == VAL_L ? &v->l.v[i] : &v->m.a[i].v, cap, depth + 1);
	return n;
}

static int add_value(struct cstate *c, const struct val *v, char ph[32])
{
	struct val cp;
	int rc;

	snprintf(ph, 32, ":e%u", c->k++);
	if ((rc = val_copy(&cp, v)) == 0)
		rc = val_map_set(c->values, ph, strlen(ph), &cp);
	return rc;
}

static int add_name(struct cstate *c, const char *name, size_t len, char ph[32])
{
	struct val v;
	int rc;

	snprintf(ph, 32, "#e%u", c->k++);
	if ((rc = val_init_str(&v, name, len)) == 0)
		rc = val_map_set(c->names, ph, strlen(ph), &v);
	return rc;
}

/*
 * path (text) equals v.  Lists and maps are compared element by element
 * with their size() when the budget allows: some services (dynalite)
 * have no = on L and M; DynamoDB and DynamoDB Local do, and get the
 * same condition.
 */
static int cond_eq(struct cstate *c, const char *path, const struct val *v, int depth)
{
	char ph[32], sub[1024];
	struct num zero;
	struct val nv;
	size_t i, n;
	int rc;

	if ((v->type == VAL_L || v->type == VAL_M) && depth < 30 && strlen(path) < 300 &&
	    c->b->len < 2500 && c->terms + count_terms(v, c->max, depth) <= c->max) {
		n = v->type == VAL_L ? v->l.len : v->m.len;
		snprintf(sub, sizeof(sub), "%zu", n);
		if ((rc = num_parse(sub, strlen(sub), &zero, NULL)) < 0)
			return rc;
		val_init_num(&nv, &zero);
		snprintf(ph, sizeof(ph), ":e%u", c->k++);
		if ((rc = val_map_set(c->values, ph, strlen(ph), &nv)) < 0 ||
		    (rc = sf_buf_printf(c->b, " AND size(%s) = %s", path, ph)) < 0)
			return rc;
		c->terms++;
		for (i = 0; i < n; i++) {
			if (v->type == VAL_L) {
				snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
				rc = cond_eq(c, sub, &v->l.v[i], depth + 1);
			} else if ((rc = add_name(c, v->m.a[i].name, v->m.a[i].name_len, ph)) ==
				   0) {
				snprintf(sub, sizeof(sub), "%s.%s", path, ph);
				rc = cond_eq(c, sub, &v->m.a[i].v, depth + 1);
			}
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if ((rc = add_value(c, v, ph)) < 0)
		return rc;
	c->terms++;
	return sf_buf_printf(c->b, " AND %s = %s", path, ph);
}

int rbe_cond_text(const struct val *item, const char *pk_name, const struct val *new_item,
		  size_t max_attrs, struct sf_buf *b, struct val *names, struct val *values,
		  bool *complete)
{
	struct cstate c = {.b = b, .names = names, .values = values, .terms = 1};
	struct val v;
	char ph[32];
	size_t i;
	bool all = true;
	int rc;

	c.max = max_attrs ? max_attrs : 90;
	rc = val_init_str(&v, pk_name, strlen(pk_name));
	if (rc == 0)
		rc = val_map_set(names, "#ek", 3, &v);
	if (rc == 0)
		rc = sf_buf_printf(b, "%sattribute_exists(#ek)", b->len ? " AND " : "");
	for (i = 0; rc == 0 && item->type == VAL_M && i < item->m.len; i++) {
		const struct val_attr *a = &item->m.a[i];

		if (!strcmp(a->name, pk_name))
			continue;
		if (c.terms >= c.max || b->len > 3000) { /* DynamoDB: 300 operators, 4 KB */
			all = false;
			break;
		}
		if ((rc = add_name(&c, a->name, a->name_len, ph)) == 0)
			rc = cond_eq(&c, ph, &a->v, 0);
	}
	for (i = 0; rc == 0 && new_item && new_item->type == VAL_M && i < new_item->m.len; i++) {
		const struct val_attr *a = &new_item->m.a[i];

		if (val_map_get(item, a->name, a->name_len))
			continue;
		if (c.terms >= c.max || b->len > 3000) {
			all = false;
			break;
		}
		if ((rc = add_name(&c, a->name, a->name_len, ph)) == 0)
			rc = sf_buf_printf(b, " AND attribute_not_exists(%s)", ph);
		c.terms++;
	}
	if (complete)
		*complete = all;
	return rc < 0 ? -ENOMEM : 0;
}
