/*
 * storefmt.c - buffers, the JSON span scanner, schema and change codecs
 * shared by the snapshot, the journal and import/export (see storefmt.h).
 *
 * Why a scanner instead of a JSON library: every format here is a small
 * envelope (a few fixed member names) around values in document form, and
 * those values must be read by item_parse_value(), which keeps numbers
 * exact, validates UTF-8 and applies DynamoDB's rules.  The scanner only
 * finds the values' boundaries; it never interprets them, so there is one
 * parser of item JSON in the program, not two that could disagree.
 */
#include "storefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "num.h"

/* ---- buffer ---- */

void sf_buf_free(struct sf_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int sf_buf_grow(struct sf_buf *b, size_t n)
{
	size_t want = b->len + n + 1, cap;
	char *p;

	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int sf_buf_add(struct sf_buf *b, const void *p, size_t n)
{
	if (sf_buf_grow(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

int sf_buf_adds(struct sf_buf *b, const char *s)
{
	return sf_buf_add(b, s, strlen(s));
}

int sf_buf_addc(struct sf_buf *b, char c)
{
	return sf_buf_add(b, &c, 1);
}

int sf_buf_printf(struct sf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sf_buf_grow(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int sf_json_str(struct sf_buf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char esc[7];
	unsigned char c;

	if (sf_buf_grow(b, n + 2) < 0 || sf_buf_addc(b, '"') < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (sf_buf_add(b, p + run, i - run) < 0)
			return -ENOMEM;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; esc[2] = 0; break;
		case '\\': esc[1] = '\\'; esc[2] = 0; break;
		case '\n': esc[1] = 'n'; esc[2] = 0; break;
		case '\t': esc[1] = 't'; esc[2] = 0; break;
		case '\r': esc[1] = 'r'; esc[2] = 0; break;
		case '\b': esc[1] = 'b'; esc[2] = 0; break;
		case '\f': esc[1] = 'f'; esc[2] = 0; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = 0;
		}
		if (sf_buf_adds(b, esc) < 0)
			return -ENOMEM;
	}
	if (sf_buf_add(b, p + run, n - run) < 0 || sf_buf_addc(b, '"') < 0)
		return -ENOMEM;
	return 0;
}

int sf_b64(struct sf_buf *b, const void *p, size_t n)
{
	size_t m = b64_encoded_len(n, false);

	if (sf_buf_grow(b, m + 2) < 0)
		return -ENOMEM;
	b->p[b->len++] = '"';
	b->len += b64_encode(p, n, b->p + b->len, false);
	b->p[b->len++] = '"';
	b->p[b->len] = 0;
	return 0;
}

int sf_num(struct sf_buf *b, const struct num *n, bool quoted)
{
	char text[NUM_TEXT_MAX];
	size_t len = num_format(n, text);

	if (quoted)
		return sf_json_str(b, text, len);
	return sf_buf_add(b, text, len);
}

/* ---- scanner ---- */

const char *sf_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at the opening quote: the byte after the closing one, or NULL.  The
 * closing quote is the first one with no backslash before it since the
 * last escape: memchr finds both (a long string is scanned in words, not
 * byte by byte), an escape skips its backslash and the byte after.  The
 * quote found is kept until an escape passes it (an escaped quote), so
 * every byte is looked at a bounded number of times: a string dense with
 * escapes costs its length, not its length times its escapes. */
static const char *skip_string(const char *p, const char *end)
{
	const char *q = NULL, *bs;

	for (p++; p < end; p = bs + 2) {
		if ((!q || q < p) && !(q = memchr(p, '"', (size_t)(end - p))))
			return NULL;
		if (!(bs = memchr(p, '\\', (size_t)(q - p))))
			return q + 1;
	}
	return NULL;
}

int sf_skip_value(const char *p, const char *end, const char **vend)
{
	const char *q;
	size_t depth = 0;

	p = sf_ws(p, end);
	if (p >= end)
		return -EINVAL;
	if (*p == '"') {
		q = skip_string(p, end);
		if (!q)
			return -EINVAL;
		*vend = q;
		return 0;
	}
	if (*p == '{' || *p == '[') {
		while (p < end) {
			if (*p == '"') {
				p = skip_string(p, end);
				if (!p)
					return -EINVAL;
				continue;
			}
			if (*p == '{' || *p == '[') {
				depth++;
			} else if (*p == '}' || *p == ']') {
				if (--depth == 0) {
					*vend = p + 1;
					return 0;
				}
			}
			p++;
		}
		return -EINVAL;
	}
	for (q = p; q < end && !strchr(",:}] \t\r\n[{\"", *q); q++)
		;
	if (q == p)
		return -EINVAL;
	*vend = q;
	return 0;
}

static int iter_open(struct sf_iter *it, struct sf_span v, char open, char close)
{
	const char *end = v.p + v.len, *p = sf_ws(v.p, end);

	if (p >= end || *p != open)
		return -EINVAL;
	it->p = p + 1;
	it->end = end;
	it->close = close;
	it->first = true;
	return 0;
}

int sf_obj_open(struct sf_iter *it, struct sf_span v)
{
	return iter_open(it, v, '{', '}');
}

int sf_arr_open(struct sf_iter *it, struct sf_span v)
{
	return iter_open(it, v, '[', ']');
}

/* Before a member: the closing bracket (0), a separator, or junk. */
static int iter_step(struct sf_iter *it)
{
	const char *p = sf_ws(it->p, it->end);

	if (p >= it->end)
		return -EINVAL;
	if (*p == it->close) {
		it->p = sf_ws(p + 1, it->end);
		return it->p == it->end ? 0 : -EINVAL;
	}
	if (!it->first) {
		if (*p != ',')
			return -EINVAL;
		p = sf_ws(p + 1, it->end);
	}
	it->p = p;
	it->first = false;
	return 1;
}

int sf_obj_next(struct sf_iter *it, struct sf_span *key, struct sf_span *val)
{
	const char *p, *q;
	int rc = iter_step(it);

	if (rc <= 0)
		return rc;
	p = it->p;
	if (*p != '"' || !(q = skip_string(p, it->end)))
		return -EINVAL;
	key->p = p;
	key->len = (size_t)(q - p);
	p = sf_ws(q, it->end);
	if (p >= it->end || *p != ':')
		return -EINVAL;
	p = sf_ws(p + 1, it->end);
	if (sf_skip_value(p, it->end, &q) < 0)
		return -EINVAL;
	val->p = p;
	val->len = (size_t)(q - p);
	it->p = q;
	return 1;
}

int sf_arr_next(struct sf_iter *it, struct sf_span *val)
{
	const char *q;
	int rc = iter_step(it);

	if (rc <= 0)
		return rc;
	if (*it->p == it->close || sf_skip_value(it->p, it->end, &q) < 0)
		return -EINVAL;
	val->p = it->p;
	val->len = (size_t)(q - it->p);
	it->p = q;
	return 1;
}

bool sf_key_is(struct sf_span key, const char *s)
{
	size_t n = strlen(s);

	return key.len == n + 2 && !memcmp(key.p + 1, s, n);
}

int sf_whole(const char *p, size_t len, struct sf_span *out)
{
	const char *end = p + len, *q;

	p = sf_ws(p, end);
	if (sf_skip_value(p, end, &q) < 0 || sf_ws(q, end) != end)
		return -EINVAL;
	out->p = p;
	out->len = (size_t)(q - p);
	return 0;
}

int sf_span_str(struct sf_span v, char **s, size_t *len, struct dyn_err *err)
{
	struct val x;
	size_t i;
	int rc;

	if (v.len < 2 || v.p[0] != '"' || v.p[v.len - 1] != '"')
		return err_set(err, EINVAL, "expected a string");
	/* fast path: nothing to unescape */
	for (i = 1; i < v.len - 1; i++)
		if (v.p[i] == '\\' || (unsigned char)v.p[i] < 0x20)
			break;
	if (i == v.len - 1) {
		if (!val_utf8_valid(v.p + 1, v.len - 2))
			return err_set(err, EINVAL, "invalid UTF-8 in string");
		*s = strndup(v.p + 1, v.len - 2);
		if (!*s)
			return -ENOMEM;
		if (len)
			*len = v.len - 2;
		return 0;
	}
	rc = item_parse_value(v.p, v.len, &x, err);
	if (rc < 0)
		return rc;
	if (x.type != VAL_S) {
		val_free(&x);
		return err_set(err, EINVAL, "expected a string");
	}
	*s = malloc(x.s.len + 1);
	if (!*s) {
		val_free(&x);
		return -ENOMEM;
	}
	memcpy(*s, x.s.p, x.s.len + 1);
	if (len)
		*len = x.s.len;
	val_free(&x);
	return 0;
}

int sf_span_u64(struct sf_span v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (!v.len || v.len > 20)
		return -EINVAL;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -EINVAL;
		if (n > (UINT64_MAX - (uint64_t)(v.p[i] - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return 0;
}

int sf_span_bool(struct sf_span v, bool *out)
{
	if (v.len == 4 && !memcmp(v.p, "true", 4))
		*out = true;
	else if (v.len == 5 && !memcmp(v.p, "false", 5))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

void sf_pos(const char *base, const char *q, int *line, int *col)
{
	const char *p, *bol = base;
	int l = 1;

	for (p = base; p < q; p++)
		if (*p == '\n') {
			l++;
			bol = p + 1;
		}
	*line = l;
	*col = (int)(q - bol) + 1;
}

/* ---- schemas ---- */

static int key_attr_render(struct sf_buf *b, const struct key_attr *a)
{
	if (sf_buf_adds(b, "{\"name\":") < 0 || sf_json_str(b, a->name, strlen(a->name)) < 0 ||
	    sf_buf_printf(b, ",\"type\":\"%s\"}", val_type_name(a->type)) < 0)
		return -ENOMEM;
	return 0;
}

static int index_render(struct sf_buf *b, const struct index_def *ix)
{
	size_t i;

	if (sf_buf_adds(b, "{\"name\":") < 0 || sf_json_str(b, ix->name, strlen(ix->name)) < 0 ||
	    sf_buf_adds(b, ",\"partition_key\":") < 0 || key_attr_render(b, &ix->pk) < 0)
		return -ENOMEM;
	if (ix->has_sk &&
	    (sf_buf_adds(b, ",\"sort_key\":") < 0 || key_attr_render(b, &ix->sk) < 0))
		return -ENOMEM;
	if (sf_buf_adds(b, ",\"projection\":") < 0)
		return -ENOMEM;
	switch (ix->proj) {
	case PROJ_ALL:
		return sf_buf_adds(b, "\"ALL\"}");
	case PROJ_KEYS_ONLY:
		return sf_buf_adds(b, "\"KEYS_ONLY\"}");
	case PROJ_INCLUDE:
		break;
	}
	if (sf_buf_addc(b, '[') < 0)
		return -ENOMEM;
	for (i = 0; i < ix->ninclude; i++)
		if ((i && sf_buf_addc(b, ',') < 0) ||
		    sf_json_str(b, ix->include[i], strlen(ix->include[i])) < 0)
			return -ENOMEM;
	return sf_buf_adds(b, "]}");
}

int sf_schema_render(struct sf_buf *b, const struct table_schema *s)
{
	size_t i;

	if (sf_buf_adds(b, "{\"partition_key\":") < 0 || key_attr_render(b, &s->pk) < 0)
		return -ENOMEM;
	if (s->has_sk && (sf_buf_adds(b, ",\"sort_key\":") < 0 || key_attr_render(b, &s->sk) < 0))
		return -ENOMEM;
	if (s->nindex) {
		if (sf_buf_adds(b, ",\"indexes\":[") < 0)
			return -ENOMEM;
		for (i = 0; i < s->nindex; i++)
			if ((i && sf_buf_addc(b, ',') < 0) || index_render(b, &s->index[i]) < 0)
				return -ENOMEM;
		if (sf_buf_addc(b, ']') < 0)
			return -ENOMEM;
	}
	if (s->ttl_attr[0] && (sf_buf_adds(b, ",\"ttl_attribute\":") < 0 ||
			       sf_json_str(b, s->ttl_attr, strlen(s->ttl_attr)) < 0))
		return -ENOMEM;
	/* the API's metadata, verbatim (a JSON object it wrote) */
	if (s->api_meta && sf_buf_printf(b, ",\"api\":%s", s->api_meta) < 0)
		return -ENOMEM;
	return sf_buf_addc(b, '}');
}

/* Copy a decoded name into a fixed-size field. */
static int name_into(struct sf_span v, char *dst, size_t size, const char *what,
		     struct dyn_err *err)
{
	char *s;
	size_t len;
	int rc = sf_span_str(v, &s, &len, err);

	if (rc < 0)
		return rc == -ENOMEM ? rc : err_set(err, EINVAL, "%s must be a string", what);
	if (!len || len >= size || memchr(s, 0, len)) {
		free(s);
		return err_set(err, EINVAL, "%s: bad length", what);
	}
	memcpy(dst, s, len + 1);
	free(s);
	return 0;
}

static int key_attr_parse(struct sf_span v, struct key_attr *a, const char *what,
			  struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	bool have_name = false, have_type = false;
	char *t;
	int rc;

	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "%s must be an object {\"name\": ..., \"type\": ...}",
			       what);
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "name")) {
			rc = name_into(x, a->name, sizeof(a->name), "key attribute name", err);
			if (rc < 0)
				return rc;
			have_name = true;
		} else if (sf_key_is(k, "type")) {
			rc = sf_span_str(x, &t, NULL, err);
			if (rc < 0)
				return rc;
			rc = val_type_from_name(t, &a->type);
			free(t);
			if (rc < 0 || !val_type_is_key(a->type))
				return err_set(err, EINVAL, "%s: type must be S, N or B", what);
			have_type = true;
		} else {
			return err_set(err, EINVAL, "%s: unknown member %.*s", what, (int)k.len, k.p);
		}
	}
	if (rc < 0)
		return err_set(err, EINVAL, "%s: malformed JSON", what);
	if (!have_name || !have_type)
		return err_set(err, EINVAL, "%s needs \"name\" and \"type\"", what);
	return 0;
}

static int projection_parse(struct sf_span v, struct index_def *ix, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span x;
	char *s, **inc;
	int rc;

	if (v.len && v.p[0] == '"') {
		rc = sf_span_str(v, &s, NULL, err);
		if (rc < 0)
			return rc;
		if (!strcmp(s, "ALL"))
			ix->proj = PROJ_ALL;
		else if (!strcmp(s, "KEYS_ONLY"))
			ix->proj = PROJ_KEYS_ONLY;
		else
			rc = err_set(err, EINVAL, "projection must be \"ALL\", \"KEYS_ONLY\" or a list "
						  "of attribute names, not \"%s\"", s);
		free(s);
		return rc;
	}
	if (sf_arr_open(&it, v) < 0)
		return err_set(err, EINVAL, "projection must be \"ALL\", \"KEYS_ONLY\" or a list");
	ix->proj = PROJ_INCLUDE;
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		rc = sf_span_str(x, &s, NULL, err);
		if (rc < 0)
			return rc;
		inc = realloc(ix->include, (ix->ninclude + 1) * sizeof(*inc));
		if (!inc) {
			free(s);
			return -ENOMEM;
		}
		ix->include = inc;
		ix->include[ix->ninclude++] = s;
	}
	return rc < 0 ? err_set(err, EINVAL, "projection: malformed list") : 0;
}

static int index_parse(struct sf_span v, struct index_def *ix, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	bool have_pk = false;
	int rc;

	ix->proj = PROJ_ALL;
	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "an index must be an object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		if (sf_key_is(k, "name"))
			rc = name_into(x, ix->name, sizeof(ix->name), "index name", err);
		else if (sf_key_is(k, "partition_key"))
			rc = key_attr_parse(x, &ix->pk, "index partition_key", err), have_pk = true;
		else if (sf_key_is(k, "sort_key"))
			rc = key_attr_parse(x, &ix->sk, "index sort_key", err), ix->has_sk = true;
		else if (sf_key_is(k, "projection"))
			rc = projection_parse(x, ix, err);
		else
			rc = err_set(err, EINVAL, "index: unknown member %.*s", (int)k.len, k.p);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return err_set(err, EINVAL, "index: malformed JSON");
	if (!ix->name[0] || !have_pk)
		return err_set(err, EINVAL, "an index needs \"name\" and \"partition_key\"");
	return 0;
}

static int indexes_parse(struct sf_span v, struct table_schema *s, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span x;
	struct index_def *ix;
	int rc;

	if (sf_arr_open(&it, v) < 0)
		return err_set(err, EINVAL, "\"indexes\" must be a list");
	while ((rc = sf_arr_next(&it, &x)) > 0) {
		if (s->nindex >= DB_MAX_INDEXES)
			return err_set(err, EINVAL, "at most %d indexes per table", DB_MAX_INDEXES);
		ix = realloc(s->index, (s->nindex + 1) * sizeof(*ix));
		if (!ix)
			return -ENOMEM;
		s->index = ix;
		memset(&ix[s->nindex], 0, sizeof(*ix));
		s->nindex++;
		rc = index_parse(x, &ix[s->nindex - 1], err);
		if (rc < 0)
			return rc;
	}
	return rc < 0 ? err_set(err, EINVAL, "\"indexes\": malformed list") : 0;
}

int sf_schema_parse(struct sf_span v, struct table_schema *out, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span k, x;
	bool have_pk = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "a schema must be a JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		rc = 0;
		if (sf_key_is(k, "partition_key")) {
			rc = key_attr_parse(x, &out->pk, "partition_key", err);
			have_pk = true;
		} else if (sf_key_is(k, "sort_key")) {
			if (x.len == 4 && !memcmp(x.p, "null", 4))
				continue;
			rc = key_attr_parse(x, &out->sk, "sort_key", err);
			out->has_sk = true;
		} else if (sf_key_is(k, "indexes")) {
			rc = indexes_parse(x, out, err);
		} else if (sf_key_is(k, "ttl_attribute")) {
			rc = name_into(x, out->ttl_attr, sizeof(out->ttl_attr), "ttl_attribute",
				       err);
		} else if (sf_key_is(k, "api") && x.len && x.p[0] == '{') {
			free(out->api_meta);
			out->api_meta = strndup(x.p, x.len);
			rc = out->api_meta ? 0 : -ENOMEM;
		}
		if (rc < 0)
			goto out_free;
	}
	if (rc < 0) {
		rc = err_set(err, EINVAL, "schema: malformed JSON");
		goto out_free;
	}
	if (!have_pk) {
		rc = err_set(err, EINVAL, "schema: \"partition_key\" is missing");
		goto out_free;
	}
	rc = schema_check(out, err);
	if (rc < 0)
		goto out_free;
	return 0;
out_free:
	schema_free(out);
	memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- changes ---- */

/* Rendered straight into b: no temporary copy of the item's text. */
static int render_value(struct sf_buf *b, const struct val *v)
{
	return item_render_compact_append(v, NULL, NULL, &b->p, &b->len, &b->cap);
}

/* The head of a change, up to its value: {"put":"<table>","item":
 * ({"delete":"<table>","pk":, {"drop":"<table>"). */
static int change_head(struct sf_buf *b, const struct db_change *c)
{
	static const char *const verb[] = {
		[DB_CH_PUT] = "{\"put\":",
		[DB_CH_DELETE] = "{\"delete\":",
		[DB_CH_CREATE_TABLE] = "{\"create\":",
		[DB_CH_DROP_TABLE] = "{\"drop\":",
		[DB_CH_SET_SCHEMA] = "{\"set_schema\":",
	};

	if ((unsigned)c->kind >= sizeof(verb) / sizeof(verb[0]) || !verb[c->kind])
		return -EINVAL;
	if (sf_buf_adds(b, verb[c->kind]) < 0 || sf_json_str(b, c->table, strlen(c->table)) < 0)
		return -ENOMEM;
	switch (c->kind) {
	case DB_CH_PUT:
		return sf_buf_adds(b, ",\"item\":");
	case DB_CH_DELETE:
		return sf_buf_adds(b, ",\"pk\":");
	case DB_CH_CREATE_TABLE:
	case DB_CH_SET_SCHEMA:
		return sf_buf_adds(b, ",\"schema\":");
	default:
		return 0;
	}
}

/* The rest of a change after its head. */
static int change_body(struct sf_buf *b, const struct db_change *c)
{
	int rc;

	switch (c->kind) {
	case DB_CH_PUT:
		if (c->item_text) /* the text it was parsed from */
			rc = sf_buf_add(b, c->item_text, c->item_text_len);
		else
			rc = render_value(b, c->item);
		break;
	case DB_CH_DELETE:
		rc = render_value(b, c->pk);
		if (!rc && c->sk) {
			rc = sf_buf_adds(b, ",\"sk\":");
			if (!rc)
				rc = render_value(b, c->sk);
		}
		break;
	case DB_CH_CREATE_TABLE:
	case DB_CH_SET_SCHEMA:
		rc = sf_schema_render(b, c->schema);
		break;
	default:
		rc = 0;
	}
	if (rc < 0)
		return rc;
	return sf_buf_addc(b, '}');
}

/*
 * A change whose head would be the previous change's (same kind, same
 * table name: a group of puts into one table) copies those bytes from
 * earlier in the buffer instead of rendering them again; the room for a
 * group of puts' lines is made once.
 */
int sf_changes_render(struct sf_buf *b, const struct db_change *ch, size_t n)
{
	size_t i, need = 2, head = 0, hlen = 0;
	const struct db_change *prev = NULL;
	int rc;

	for (i = 0; i < n; i++)
		need += ch[i].kind == DB_CH_PUT && ch[i].item_text ? ch[i].item_text_len + 32 : 0;
	if (sf_buf_grow(b, need) < 0 || sf_buf_addc(b, '[') < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (i && sf_buf_addc(b, ',') < 0)
			return -ENOMEM;
		if (prev && prev->kind == ch[i].kind && hlen &&
		    (prev->table == ch[i].table || !strcmp(prev->table, ch[i].table))) {
			if (sf_buf_grow(b, hlen) < 0)
				return -ENOMEM;
			memcpy(b->p + b->len, b->p + head, hlen);
			b->len += hlen;
		} else {
			head = b->len;
			rc = change_head(b, &ch[i]);
			if (rc < 0)
				return rc;
			hlen = b->len - head;
			prev = &ch[i];
		}
		rc = change_body(b, &ch[i]);
		if (rc < 0)
			return rc;
	}
	return sf_buf_addc(b, ']');
}

void sf_changes_free(struct sf_changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->names)
			free(c->names[i]);
		if (c->vals) {
			val_free(&c->vals[2 * i]);
			val_free(&c->vals[2 * i + 1]);
		}
		if (c->schemas)
			schema_free(&c->schemas[i]);
	}
	free(c->ch);
	free(c->names);
	free(c->vals);
	free(c->schemas);
	memset(c, 0, sizeof(*c));
}

static int value_parse(struct sf_span v, struct val *out, const char *what, struct dyn_err *err)
{
	int rc = item_parse_value(v.p, v.len, out, err);

	if (rc < 0)
		err_path(err, what);
	return rc;
}

/* One change object into c->ch[i] (and the arrays it points into). */
static int change_parse(struct sf_span v, struct sf_changes *c, size_t i, struct dyn_err *err)
{
	static const struct {
		const char *verb;	  /* member naming the table */
		enum db_change_kind kind; /* change it denotes */
	} verbs[] = {
		{"put", DB_CH_PUT},		{"delete", DB_CH_DELETE},
		{"create", DB_CH_CREATE_TABLE}, {"drop", DB_CH_DROP_TABLE},
		{"set_schema", DB_CH_SET_SCHEMA},
	};
	struct db_change *ch = &c->ch[i];
	struct val *item = &c->vals[2 * i], *key2 = &c->vals[2 * i + 1];
	bool have_verb = false, have_item = false, have_pk = false, have_sk = false;
	bool have_schema = false;
	struct sf_iter it;
	struct sf_span k, x;
	size_t j;
	int rc;

	if (sf_obj_open(&it, v) < 0)
		return err_set(err, EINVAL, "a change must be a JSON object");
	while ((rc = sf_obj_next(&it, &k, &x)) > 0) {
		for (j = 0; j < sizeof(verbs) / sizeof(verbs[0]); j++)
			if (sf_key_is(k, verbs[j].verb))
				break;
		if (j < sizeof(verbs) / sizeof(verbs[0])) {
			if (have_verb)
				return err_set(err, EINVAL, "a change has two verbs");
			have_verb = true;
			ch->kind = verbs[j].kind;
			rc = sf_span_str(x, &c->names[i], NULL, err);
		} else if ((sf_key_is(k, "item") || sf_key_is(k, "pk")) && !have_item && !have_pk) {
			/* item and pk share the slot: a change has one or the other */
			have_item = sf_key_is(k, "item");
			have_pk = !have_item;
			rc = value_parse(x, item, have_item ? "item" : "pk", err);
		} else if (sf_key_is(k, "sk") && !have_sk) {
			rc = value_parse(x, key2, "sk", err);
			have_sk = true;
		} else if (sf_key_is(k, "schema") && !have_schema) {
			rc = sf_schema_parse(x, &c->schemas[i], err);
			have_schema = true;
		} else {
			rc = err_set(err, EINVAL, "unexpected member %.*s in a change", (int)k.len,
				     k.p);
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return err_set(err, EINVAL, "malformed change");
	if (!have_verb)
		return err_set(err, EINVAL, "a change without put/delete/create/drop/set_schema");
	ch->table = c->names[i];
	switch (ch->kind) {
	case DB_CH_PUT:
		if (!have_item || item->type != VAL_M)
			return err_set(err, EINVAL, "put without an item");
		ch->item = item;
		break;
	case DB_CH_DELETE:
		if (!have_pk)
			return err_set(err, EINVAL, "delete without pk");
		ch->pk = item;
		ch->sk = have_sk ? key2 : NULL;
		break;
	case DB_CH_CREATE_TABLE:
	case DB_CH_SET_SCHEMA:
		if (!have_schema)
			return err_set(err, EINVAL, "create/set_schema without schema");
		ch->schema = &c->schemas[i];
		break;
	case DB_CH_DROP_TABLE:
		break;
	}
	return 0;
}

int sf_changes_parse(const char *p, size_t len, struct sf_changes *out, struct dyn_err *err)
{
	struct sf_iter it;
	struct sf_span all, x;
	size_t n = 0, i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sf_whole(p, len, &all) < 0 || sf_arr_open(&it, all) < 0)
		return err_set(err, EINVAL, "payload is not a JSON array");
	while ((rc = sf_arr_next(&it, &x)) > 0)
		n++;
	if (rc < 0)
		return err_set(err, EINVAL, "payload is not a well-formed JSON array");
	if (!n)
		return err_set(err, EINVAL, "payload holds no change");
	out->ch = calloc(n, sizeof(*out->ch));
	out->names = calloc(n, sizeof(*out->names));
	out->vals = calloc(2 * n, sizeof(*out->vals));
	out->schemas = calloc(n, sizeof(*out->schemas));
	out->n = n;
	if (!out->ch || !out->names || !out->vals || !out->schemas) {
		rc = -ENOMEM;
		goto out_free;
	}
	sf_arr_open(&it, all);
	for (i = 0; i < n && sf_arr_next(&it, &x) > 0; i++) {
		rc = change_parse(x, out, i, err);
		if (rc < 0)
			goto out_free;
	}
	return 0;
out_free:
	sf_changes_free(out);
	return rc;
}
