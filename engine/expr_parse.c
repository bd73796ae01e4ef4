/*
 * expr_parse.c - the core of the recursive-descent parser for condition,
 * filter, update and projection expressions: errors, tokens, names,
 * paths, values, inline literals, function calls, operands and the entry
 * points.  The top rules of each grammar are in expr_grammar.c.
 *
 * One parser serves the three grammars: they share names, paths, values,
 * literals and function calls, and differ in their top rules and in which
 * functions are allowed where (see xp_operand and the fns table).  The
 * grammar is LL(1) except where an operand may start: the parser decides
 * there whether '[', '-', a digit or a word starts a JSON literal, and an
 * identifier followed by '(' is a function call.
 *
 * Stack safety.  Recursion happens only through parentheses, NOT and
 * function calls; each counts against EXPR_MAX_DEPTH (p->depth), so no
 * input can exhaust the stack.  AND and OR chains are parsed with loops
 * into n-ary nodes, so evaluation recursion is bounded by the same depth.
 *
 * Errors name the expression ("Invalid UpdateExpression: ...") and the
 * line and column of the offending token.  DynamoDB's wording is used
 * wherever DynamoDB has a message for the case.
 */
#include "exprint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "item.h"

/* ---- errors ---- */

int xp_fail(struct xparser *p, size_t off, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	int line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(p->err, EINVAL, "Invalid %s: %s", p->e->what, msg);
	xtext_pos(p->text, off, &line, &col);
	err_at(p->err, line, col);
	return -EINVAL;
}

int xp_nomem(struct xparser *p)
{
	return err_set(p->err, ENOMEM, "out of memory");
}

/*
 * DynamoDB's syntax error: the offending token, and "near" it the text
 * from the previous token to the next one; at the end of the text the
 * token is empty and near is the last token read.
 */
int xp_syntax(struct xparser *p)
{
	const struct xtok *t = &p->tok;
	char tok[100], near[200];
	size_t ns, ne;

	if (t->type == XT_EOF) {
		tok[0] = 0;
		ns = p->has_prev ? p->prev.start : t->start;
		ne = p->has_prev ? p->prev.end : t->start;
	} else {
		struct xtok next;

		xlex(p->text, p->len, t->end, &next);
		xsnip(tok, sizeof(tok), p->text + t->start, t->end - t->start);
		ns = p->has_prev ? p->prev.start : t->start;
		ne = next.type == XT_EOF ? t->end : next.end;
	}
	xsnip(near, sizeof(near), p->text + ns, ne - ns);
	return xp_fail(p, t->start, "Syntax error; token: \"%s\", near: \"%s\"", tok, near);
}

/* ---- tokens ---- */

void xp_advance(struct xparser *p)
{
	p->prev = p->tok;
	p->has_prev = true;
	xlex(p->text, p->len, p->tok.end, &p->tok);
}

/* Make text[start..end) the previous token and lex on from end. */
static void skip_span(struct xparser *p, size_t start, size_t end)
{
	p->prev.type = XT_STR;
	p->prev.start = start;
	p->prev.end = end;
	p->has_prev = true;
	xlex(p->text, p->len, end, &p->tok);
}

bool xp_word_is(const struct xparser *p, const struct xtok *t, const char *w)
{
	size_t n = strlen(w);

	return t->type == XT_IDENT && t->end - t->start == n &&
	       !strncasecmp(p->text + t->start, w, n);
}

/* Keywords of the grammar being parsed, which cannot be bare names. */
static bool is_keyword(const struct xparser *p, const struct xtok *t)
{
	static const char *const cond_kw[] = {"AND", "OR", "NOT", "BETWEEN", "IN"};
	static const char *const upd_kw[] = {"SET", "REMOVE", "ADD", "DELETE"};

	if (t->type != XT_IDENT)
		return false;
	if (p->e->kind == EXPR_CONDITION) {
		for (size_t i = 0; i < sizeof(cond_kw) / sizeof(cond_kw[0]); i++)
			if (xp_word_is(p, t, cond_kw[i]))
				return true;
	} else if (p->e->kind == EXPR_UPDATE) {
		for (size_t i = 0; i < sizeof(upd_kw) / sizeof(upd_kw[0]); i++)
			if (xp_word_is(p, t, upd_kw[i]))
				return true;
	}
	return false;
}

/* True, false and null are literals in operand position (case-sensitive, as JSON). */
static bool is_json_word(const struct xparser *p, const struct xtok *t)
{
	size_t n = t->end - t->start;
	const char *s = p->text + t->start;

	return t->type == XT_IDENT &&
	       ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
		(n == 4 && !memcmp(s, "null", 4)));
}

bool xp_literal_start(const struct xparser *p)
{
	if (p->strict) /* DynamoDB: values only as :placeholders */
		return false;
	switch (p->tok.type) {
	case XT_STR:
	case XT_LBRACE:
	case XT_LBRACK:
	case XT_INT:
	case XT_MINUS:
		return true;
	case XT_IDENT:
		return is_json_word(p, &p->tok);
	default:
		return false;
	}
}

/* The current token is an identifier directly followed by '('. */
bool xp_at_call(const struct xparser *p)
{
	struct xtok next;

	if (p->tok.type != XT_IDENT || is_keyword(p, &p->tok))
		return false;
	xlex(p->text, p->len, p->tok.end, &next);
	return next.type == XT_LPAREN;
}

int xp_count_op(struct xparser *p, size_t off)
{
	if (++p->nops > EXPR_MAX_OPERATORS && !p->unlimited)
		return xp_fail(p, off,
			       "The expression contains too many operators; operator count: %d",
			       p->nops);
	return 0;
}

int xp_enter(struct xparser *p, size_t off)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return xp_fail(p, off,
			       "The expression is nested too deeply; nesting depth: %d, "
			       "maximum: %d",
			       p->depth, EXPR_MAX_DEPTH);
	return 0;
}

void xp_leave(struct xparser *p)
{
	p->depth--;
}

/* ---- names, paths, values ---- */

/* Remember that the binding key text[start..end) was referenced. */
static int use_ref(struct xparser *p, struct xref **list, size_t start, size_t end)
{
	size_t n = end - start;
	struct xref *r;

	for (r = *list; r; r = r->next)
		if (strlen(r->key) == n && !memcmp(r->key, p->text + start, n))
			return 0;
	r = xalloc(p->e, sizeof(*r));
	if (!r || !(r->key = xstrdup(p->e, p->text + start, n)))
		return xp_nomem(p);
	r->next = *list;
	*list = r;
	return 0;
}

static int parse_name(struct xparser *p, struct xelem *el)
{
	const struct xtok *t = &p->tok;
	const char *s = p->text + t->start;
	size_t n = t->end - t->start;
	char key[100];
	int rc;

	switch (t->type) {
	case XT_IDENT:
		if (is_keyword(p, t))
			return xp_syntax(p);
		if (p->strict && xreserved(s, n))
			return xp_fail(p, t->start,
				       "Attribute name is a reserved keyword; reserved keyword: %s",
				       xsnip(key, sizeof(key), s, n));
		break;
	case XT_BQNAME:
		if (p->strict)
			return xp_syntax(p);
		s++;
		n -= 2;
		if (!val_utf8_valid(s, n))
			return xp_fail(p, t->start, "Invalid attribute name: not valid UTF-8");
		break;
	case XT_HASH: {
		const struct val *names = p->bind ? p->bind->names : NULL;
		const struct val *v = names ? val_map_get(names, s, n) : NULL;

		if (!v)
			return xp_fail(p, t->start,
				       "An expression attribute name used in the document "
				       "path is not defined; attribute name: %s",
				       xsnip(key, sizeof(key), s, n));
		rc = use_ref(p, &p->e->used_names, t->start, t->end);
		if (rc)
			return rc;
		s = v->s.p;
		n = v->s.len;
		break;
	}
	default:
		return xp_syntax(p);
	}
	el->name = xstrdup(p->e, s, n);
	if (!el->name)
		return xp_nomem(p);
	el->len = n;
	xp_advance(p);
	return 0;
}

static int parse_index(struct xparser *p, struct xelem *el)
{
	const struct xtok *t = &p->tok;
	size_t v = 0;
	char buf[40];

	if (t->type != XT_INT)
		return xp_syntax(p);
	for (size_t i = t->start; i < t->end; i++) {
		v = v * 10 + (size_t)(p->text[i] - '0');
		if (v > 0x7fffffff)
			return xp_fail(
			    p, t->start, "List index is too large; index: %s",
			    xsnip(buf, sizeof(buf), p->text + t->start, t->end - t->start));
	}
	el->name = NULL;
	el->index = v;
	xp_advance(p);
	if (p->tok.type != XT_RBRACK)
		return xp_syntax(p);
	xp_advance(p);
	return 0;
}

int xp_path(struct xparser *p, struct xpath *out)
{
	struct xelem el[EXPR_MAX_PATH];
	size_t n = 0;
	int rc;

	out->off = p->tok.start;
	rc = parse_name(p, &el[n++]);
	while (!rc && (p->tok.type == XT_DOT || p->tok.type == XT_LBRACK)) {
		bool dot = p->tok.type == XT_DOT;

		if (n == EXPR_MAX_PATH)
			return xp_fail(p, p->tok.start,
				       "The document path has too many nesting levels; "
				       "maximum: %d",
				       EXPR_MAX_PATH);
		xp_advance(p);
		rc = dot ? parse_name(p, &el[n]) : parse_index(p, &el[n]);
		n++;
	}
	if (rc)
		return rc;
	out->el = xalloc(p->e, n * sizeof(*out->el));
	if (!out->el)
		return xp_nomem(p);
	memcpy(out->el, el, n * sizeof(*out->el));
	out->n = n;
	return 0;
}

struct xop *xp_new_op(struct xparser *p, enum xop_kind kind, size_t off)
{
	struct xop *op = xalloc(p->e, sizeof(*op));

	if (op) {
		op->kind = kind;
		op->off = off;
	}
	return op;
}

static int const_op(struct xparser *p, struct val *v, size_t off, struct xop **out)
{
	struct xop *op = xp_new_op(p, XO_CONST, off);

	if (!op) {
		val_free(v);
		return xp_nomem(p);
	}
	if (xconst_add(p->e, v, &op->cval))
		return xp_nomem(p);
	*out = op;
	return 0;
}

int xp_valref(struct xparser *p, struct xop **out)
{
	const struct xtok *t = &p->tok;
	const struct val *values = p->bind ? p->bind->values : NULL;
	const struct val *v;
	struct val copy;
	char key[100];
	size_t off = t->start;
	int rc;

	v = values ? val_map_get(values, p->text + t->start, t->end - t->start) : NULL;
	if (!v)
		return xp_fail(p, t->start,
			       "An expression attribute value used in expression is not "
			       "defined; attribute value: %s",
			       xsnip(key, sizeof(key), p->text + t->start, t->end - t->start));
	rc = use_ref(p, &p->e->used_values, t->start, t->end);
	if (rc)
		return rc;
	if (val_copy(&copy, v))
		return xp_nomem(p);
	xp_advance(p);
	return const_op(p, &copy, off, out);
}

/* Offset in text of line/col (1-based) counted from start. */
static size_t span_offset(const char *text, size_t start, size_t end, int line, int col)
{
	size_t i = start;

	for (int l = 1; l < line && i < end; i++)
		if (text[i] == '\n')
			l++;
	if (col > 1)
		i += (size_t)col - 1;
	return i < end ? i : end;
}

/* An inline JSON literal: find its span, let the item codec parse it. */
int xp_literal(struct xparser *p, struct xop **out)
{
	size_t start = p->tok.start;
	size_t end = xlex_literal_end(p->text, p->len, start);
	struct dyn_err ierr;
	const char *nul;
	struct val v;
	int rc;

	/* Raw NUL is never JSON; the text may come from a URL (%00). */
	nul = memchr(p->text + start, 0, end - start);
	if (nul)
		return xp_fail(p, (size_t)(nul - p->text),
			       "Invalid inline value: unexpected NUL byte");
	err_clear(&ierr);
	rc = item_parse_value(p->text + start, end - start, &v, &ierr);
	if (rc == -ENOMEM)
		return xp_nomem(p);
	if (rc) {
		size_t off =
		    ierr.line ? span_offset(p->text, start, end, ierr.line, ierr.col) : start;

		return xp_fail(p, off, "Invalid inline value: %s%s%s", ierr.path,
			       ierr.path[0] ? ": " : "", ierr.msg);
	}
	skip_span(p, start, end);
	return const_op(p, &v, start, out);
}

/* ---- function calls ---- */

static const struct {
	const char *name; /* as written, case-sensitive */
	enum xfn fn;	  /* which */
	int nargs;	  /* operands it takes */
	bool update;	  /* an update function (else a condition one) */
} fns[] = {
    {"attribute_exists", FN_EXISTS, 1, false},	  {"attribute_not_exists", FN_NOT_EXISTS, 1, false},
    {"attribute_type", FN_TYPE, 2, false},	  {"begins_with", FN_BEGINS, 2, false},
    {"contains", FN_CONTAINS, 2, false},	  {"size", FN_SIZE, 1, false},
    {"if_not_exists", FN_IF_NOT_EXISTS, 2, true}, {"list_append", FN_LIST_APPEND, 2, true},
};

/* name ( operand, ... ): arity and the grammar's function set checked. */
int xp_call(struct xparser *p, struct xcall *c)
{
	const struct xtok *t = &p->tok;
	size_t n = t->end - t->start, i;
	int nargs = 0, rc;
	char name[100];

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (strlen(fns[i].name) == n && !memcmp(fns[i].name, p->text + t->start, n))
			break;
	if (i == sizeof(fns) / sizeof(fns[0]))
		return xp_fail(p, t->start, "Invalid function name; function: %s",
			       xsnip(name, sizeof(name), p->text + t->start, n));
	c->fn = fns[i].fn;
	c->name = fns[i].name;
	c->off = t->start;
	if (fns[i].update != (p->e->kind == EXPR_UPDATE))
		return xp_fail(
		    p, t->start,
		    p->e->kind == EXPR_UPDATE
			? "The function is not allowed in an update expression; function: %s"
			: "The function is not allowed to be used this way in an expression; "
			  "function: %s",
		    c->name);
	rc = xp_count_op(p, t->start);
	if (!rc)
		rc = xp_enter(p, t->start);
	if (rc)
		return rc;
	xp_advance(p); /* name */
	xp_advance(p); /* ( */
	for (;;) {
		struct xop *op;

		rc = xp_operand(p, &op);
		if (rc)
			return rc;
		if (nargs < 2)
			c->arg[nargs] = op;
		nargs++;
		if (p->tok.type != XT_COMMA)
			break;
		xp_advance(p);
	}
	if (p->tok.type != XT_RPAREN)
		return xp_syntax(p);
	xp_advance(p);
	xp_leave(p);
	if (nargs != fns[i].nargs)
		return xp_fail(p, c->off,
			       "Incorrect number of operands for operator or function; "
			       "operator or function: %s, number of operands: %d",
			       c->name, nargs);
	return 0;
}

int xp_bad_operand(struct xparser *p, const struct xop *op, const char *what)
{
	const char *type = op->kind == XO_CONST	 ? val_type_name(op->cval->type)
			   : op->kind == XO_PATH ? "PATH"
						 : "N";

	return xp_fail(p, op->off,
		       "Incorrect operand type for operator or function; "
		       "operator or function: %s, operand type: %s",
		       what, type);
}

/* A value-producing call (size, if_not_exists, list_append) as an operand. */
int xp_call_to_op(struct xparser *p, const struct xcall *c, struct xop **out)
{
	struct xop *op;

	switch (c->fn) {
	case FN_SIZE:
		if (c->arg[0]->kind == XO_CONST) {
			enum val_type t = c->arg[0]->cval->type;

			if (t == VAL_N || t == VAL_BOOL || t == VAL_NULL)
				return xp_bad_operand(p, c->arg[0], c->name);
		}
		op = xp_new_op(p, XO_SIZE, c->off);
		break;
	case FN_IF_NOT_EXISTS:
		if (c->arg[0]->kind != XO_PATH)
			return xp_fail(p, c->arg[0]->off,
				       "Operator or function requires a document "
				       "path; operator or function: %s",
				       c->name);
		op = xp_new_op(p, XO_IF_NOT_EXISTS, c->off);
		break;
	case FN_LIST_APPEND:
		for (int i = 0; i < 2; i++) {
			const struct xop *a = c->arg[i];

			if (a->kind == XO_LIST_APPEND)
				return xp_fail(p, a->off,
					       "The function is not allowed to be used this "
					       "way in an expression; function: %s",
					       c->name);
			if (a->kind == XO_CONST && a->cval->type != VAL_L)
				return xp_bad_operand(p, a, c->name);
		}
		op = xp_new_op(p, XO_LIST_APPEND, c->off);
		break;
	default:
		return xp_fail(p, c->off,
			       "The function is not allowed to be used this way in an "
			       "expression; function: %s",
			       c->name);
	}
	if (!op)
		return xp_nomem(p);
	op->a = c->arg[0];
	op->b = c->arg[1];
	*out = op;
	return 0;
}

/*
 * An operand: a path, a :value, a literal, or a value function (size() in
 * conditions; if_not_exists() and list_append() in updates).
 */
int xp_operand(struct xparser *p, struct xop **out)
{
	const struct xtok *t = &p->tok;
	struct xop *op;
	int rc;

	if (t->type == XT_VALREF)
		return xp_valref(p, out);
	if (xp_literal_start(p))
		return xp_literal(p, out);
	if (xp_at_call(p)) {
		struct xcall c;

		memset(&c, 0, sizeof(c));
		rc = xp_call(p, &c);
		return rc ? rc : xp_call_to_op(p, &c, out);
	}
	if (t->type != XT_IDENT && t->type != XT_BQNAME && t->type != XT_HASH)
		return xp_syntax(p);
	op = xp_new_op(p, XO_PATH, t->start);
	if (!op)
		return xp_nomem(p);
	rc = xp_path(p, &op->path);
	if (rc)
		return rc;
	*out = op;
	return 0;
}

/* ---- entry points ---- */

static int parse(const char *text, size_t len, const struct expr_bind *bind, enum expr_kind kind,
		 const char *what, expr_t **out, struct dyn_err *err)
{
	struct xparser p;
	struct xtok first;
	int rc;

	*out = NULL;
	if (len > EXPR_MAX_TEXT && !(bind && (bind->flags & EXPR_UNLIMITED)))
		return err_set(err, EINVAL,
			       "Invalid %s: Expression size has exceeded the maximum "
			       "allowed size; expression size: %zu",
			       what, len);
	rc = xbind_check(bind, err);
	if (rc)
		return rc;
	xlex(text, len, 0, &first);
	if (first.type == XT_EOF)
		return err_set(err, EINVAL, "Invalid %s: The expression can not be empty;", what);

	memset(&p, 0, sizeof(p));
	p.e = xexpr_new(kind, what);
	if (!p.e)
		return err_set(err, ENOMEM, "out of memory");
	p.text = text;
	p.len = len;
	p.bind = bind;
	p.err = err;
	p.tok = first;
	p.unlimited = bind && (bind->flags & EXPR_UNLIMITED);
	p.strict = bind && (bind->flags & EXPR_STRICT);
	switch (kind) {
	case EXPR_CONDITION:
		rc = xp_condition(&p);
		break;
	case EXPR_UPDATE:
		rc = xp_update(&p);
		break;
	case EXPR_PROJECTION:
		rc = xp_projection(&p);
		break;
	}
	if (!rc && !(bind && (bind->flags & EXPR_BIND_SHARED))) {
		const expr_t *one = p.e;

		rc = expr_check_unused(bind, &one, 1, err);
	}
	if (rc) {
		expr_free(p.e);
		return rc;
	}
	*out = p.e;
	return 0;
}

int expr_parse_condition(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
			 struct dyn_err *err)
{
	return parse(text, len, bind, EXPR_CONDITION, "ConditionExpression", out, err);
}

int expr_parse_filter(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
		      struct dyn_err *err)
{
	return parse(text, len, bind, EXPR_CONDITION, "FilterExpression", out, err);
}

int expr_parse_update(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
		      struct dyn_err *err)
{
	return parse(text, len, bind, EXPR_UPDATE, "UpdateExpression", out, err);
}

int expr_parse_projection(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
			  struct dyn_err *err)
{
	return parse(text, len, bind, EXPR_PROJECTION, "ProjectionExpression", out, err);
}
