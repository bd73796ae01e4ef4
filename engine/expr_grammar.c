/*
 * expr_grammar.c - the top rules of the three grammars and the static
 * checks DynamoDB makes before it looks at any item: conditions (NOT,
 * AND, OR, comparisons, BETWEEN, IN, boolean functions), updates (the
 * four clauses and their actions, overlapping paths) and projections.
 *
 * Conditions: precedence is OR < AND < NOT < comparison.  AND and OR
 * chains become one n-ary node each (parse_chain), so "a AND b AND c ..."
 * costs neither parser nor evaluator stack.  Checks on constants
 * (ordering a list, BETWEEN bounds out of order, attribute_type of an
 * unknown type) are errors here, as in DynamoDB, while the same problems
 * coming from an item's attributes only make the condition false.
 */
#include "exprint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- conditions ---- */

static struct xcond *new_cond(struct xparser *p, enum xcond_kind kind)
{
	struct xcond *c = xalloc(p->e, sizeof(*c));

	if (c)
		c->kind = kind;
	return c;
}

static bool orderable(enum val_type t)
{
	return t == VAL_S || t == VAL_N || t == VAL_B;
}

/* Constants compared with < <= > >= BETWEEN must be of an ordered type. */
static int check_orderable(struct xparser *p, const struct xop *op, const char *what)
{
	if (op->kind == XO_CONST && !orderable(op->cval->type))
		return xp_bad_operand(p, op, what);
	return 0;
}

/* "{N:5}" as DynamoDB prints an AttributeValue in messages. */
static const char *av_str(const struct val *v, char *buf, size_t size)
{
	char num[NUM_TEXT_MAX], text[80];

	switch (v->type) {
	case VAL_N:
		num_format(&v->n, num);
		snprintf(buf, size, "{N:%s}", num);
		break;
	case VAL_S:
		snprintf(buf, size, "{S:%s}", xsnip(text, sizeof(text), v->s.p, v->s.len));
		break;
	default:
		snprintf(buf, size, "{%s}", val_type_name(v->type));
		break;
	}
	return buf;
}

static int check_between(struct xparser *p, const struct xop *lo, const struct xop *hi)
{
	char a[120], b[120];

	if (lo->kind != XO_CONST || hi->kind != XO_CONST)
		return 0;
	if (lo->cval->type != hi->cval->type)
		return xp_fail(p, lo->off,
			       "The BETWEEN operator requires same data type for lower and "
			       "upper bounds; lower bound operand: AttributeValue: %s, upper bound "
			       "operand: AttributeValue: %s",
			       av_str(lo->cval, a, sizeof(a)), av_str(hi->cval, b, sizeof(b)));
	if (val_cmp(lo->cval, hi->cval) > 0)
		return xp_fail(p, lo->off,
			       "The BETWEEN operator requires upper bound to be greater "
			       "than or equal to lower bound; lower bound operand: AttributeValue: "
			       "%s, upper bound operand: AttributeValue: %s",
			       av_str(lo->cval, a, sizeof(a)), av_str(hi->cval, b, sizeof(b)));
	return 0;
}

static const char *const type_names = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}";

/* A boolean function call (attribute_exists...) as a condition. */
static int call_to_cond(struct xparser *p, const struct xcall *c, struct xcond **out)
{
	static const enum xcond_kind kinds[] = {
	    [FN_EXISTS] = XC_EXISTS, [FN_NOT_EXISTS] = XC_NOT_EXISTS, [FN_TYPE] = XC_TYPE,
	    [FN_BEGINS] = XC_BEGINS, [FN_CONTAINS] = XC_CONTAINS,
	};
	struct xcond *cond;
	enum val_type type = VAL_NULL;
	char buf[100];

	switch (c->fn) {
	case FN_EXISTS:
	case FN_NOT_EXISTS:
		if (c->arg[0]->kind != XO_PATH)
			return xp_fail(p, c->arg[0]->off,
				       "Operator or function requires a document "
				       "path; operator or function: %s",
				       c->name);
		break;
	case FN_TYPE: {
		const struct xop *t = c->arg[1];

		if (t->kind != XO_CONST || t->cval->type != VAL_S)
			return xp_bad_operand(p, t, c->name);
		if (memchr(t->cval->s.p, 0, t->cval->s.len) ||
		    val_type_from_name(t->cval->s.p, &type))
			return xp_fail(p, t->off,
				       "Invalid attribute type name found in type "
				       "expression; type: %s, valid types: %s",
				       xsnip(buf, sizeof(buf), t->cval->s.p, t->cval->s.len),
				       type_names);
		break;
	}
	case FN_BEGINS:
		for (int i = 0; i < 2; i++) {
			const struct xop *a = c->arg[i];

			if (a->kind == XO_CONST && a->cval->type != VAL_S && a->cval->type != VAL_B)
				return xp_bad_operand(p, a, c->name);
		}
		break;
	case FN_CONTAINS:
		break;
	default:
		return xp_fail(p, c->off,
			       "The function is not allowed to be used this way in an "
			       "expression; function: %s",
			       c->name);
	}
	cond = new_cond(p, kinds[c->fn]);
	if (!cond)
		return xp_nomem(p);
	cond->type = type;
	cond->a = c->arg[0];
	cond->b = c->arg[1];
	*out = cond;
	return 0;
}

static bool at_comparison(const struct xparser *p)
{
	switch (p->tok.type) {
	case XT_EQ:
	case XT_NE:
	case XT_LT:
	case XT_LE:
	case XT_GT:
	case XT_GE:
		return true;
	default:
		return xp_word_is(p, &p->tok, "BETWEEN") || xp_word_is(p, &p->tok, "IN");
	}
}

static int parse_in_list(struct xparser *p, struct xcond *c)
{
	struct xop **tail = &c->b;
	int n = 0, rc;
	size_t off = p->tok.start;

	if (p->tok.type != XT_LPAREN)
		return xp_syntax(p);
	xp_advance(p);
	for (;;) {
		rc = xp_operand(p, tail);
		if (rc)
			return rc;
		tail = &(*tail)->next;
		if (++n > EXPR_MAX_IN)
			return xp_fail(p, off,
				       "The IN operator is provided with too many operands; "
				       "number of operands: %d",
				       n);
		if (p->tok.type != XT_COMMA)
			break;
		xp_advance(p);
	}
	if (p->tok.type != XT_RPAREN)
		return xp_syntax(p);
	xp_advance(p);
	return 0;
}

/* lhs comparator operand | lhs BETWEEN operand AND operand | lhs IN (...) */
static int parse_comparison(struct xparser *p, struct xop *lhs, struct xcond **out)
{
	static const struct {
		enum xtok_type tok; /* token */
		enum xcmp cmp;	    /* comparison */
		const char *name;   /* for messages */
	} cmps[] = {
	    {XT_EQ, XCMP_EQ, "="},  {XT_NE, XCMP_NE, "<>"}, {XT_LT, XCMP_LT, "<"},
	    {XT_LE, XCMP_LE, "<="}, {XT_GT, XCMP_GT, ">"},  {XT_GE, XCMP_GE, ">="},
	};
	size_t off = p->tok.start;
	struct xcond *c;
	int rc = xp_count_op(p, off);

	if (rc)
		return rc;
	if (xp_word_is(p, &p->tok, "BETWEEN")) {
		c = new_cond(p, XC_BETWEEN);
		if (!c)
			return xp_nomem(p);
		c->a = lhs;
		xp_advance(p);
		rc = xp_operand(p, &c->b);
		if (rc)
			return rc;
		if (!xp_word_is(p, &p->tok, "AND"))
			return xp_syntax(p);
		xp_advance(p);
		rc = xp_operand(p, &c->c);
		if (!rc)
			rc = check_orderable(p, c->a, "BETWEEN");
		if (!rc)
			rc = check_orderable(p, c->b, "BETWEEN");
		if (!rc)
			rc = check_orderable(p, c->c, "BETWEEN");
		if (!rc)
			rc = check_between(p, c->b, c->c);
	} else if (xp_word_is(p, &p->tok, "IN")) {
		c = new_cond(p, XC_IN);
		if (!c)
			return xp_nomem(p);
		c->a = lhs;
		xp_advance(p);
		rc = parse_in_list(p, c);
	} else {
		size_t i;

		for (i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
			if (cmps[i].tok == p->tok.type)
				break;
		if (i == sizeof(cmps) / sizeof(cmps[0]))
			return xp_syntax(p);
		c = new_cond(p, XC_CMP);
		if (!c)
			return xp_nomem(p);
		c->cmp = cmps[i].cmp;
		c->a = lhs;
		xp_advance(p);
		rc = xp_operand(p, &c->b);
		if (!rc && c->cmp != XCMP_EQ && c->cmp != XCMP_NE) {
			rc = check_orderable(p, c->a, cmps[i].name);
			if (!rc)
				rc = check_orderable(p, c->b, cmps[i].name);
		}
	}
	if (rc)
		return rc;
	*out = c;
	return 0;
}

static int parse_or(struct xparser *p, struct xcond **out);

static int parse_primary(struct xparser *p, struct xcond **out)
{
	struct xop *lhs;
	int rc;

	if (p->tok.type == XT_LPAREN) {
		rc = xp_enter(p, p->tok.start);
		if (rc)
			return rc;
		xp_advance(p);
		rc = parse_or(p, out);
		if (rc)
			return rc;
		if (p->tok.type != XT_RPAREN)
			return xp_syntax(p);
		xp_advance(p);
		xp_leave(p);
		return 0;
	}
	if (xp_at_call(p)) {
		struct xcall c;

		memset(&c, 0, sizeof(c));
		rc = xp_call(p, &c);
		if (rc)
			return rc;
		if (c.fn != FN_SIZE) {
			if (at_comparison(p))
				return xp_fail(p, c.off,
					       "The function is not allowed to be used this way "
					       "in an expression; function: %s",
					       c.name);
			return call_to_cond(p, &c, out);
		}
		if (!at_comparison(p))
			return xp_fail(p, c.off,
				       "The function is not allowed to be used this way in "
				       "an expression; function: %s",
				       c.name);
		rc = xp_call_to_op(p, &c, &lhs);
	} else {
		rc = xp_operand(p, &lhs);
	}
	return rc ? rc : parse_comparison(p, lhs, out);
}

static int parse_not(struct xparser *p, struct xcond **out)
{
	struct xcond *c;
	int rc;

	if (!xp_word_is(p, &p->tok, "NOT"))
		return parse_primary(p, out);
	rc = xp_count_op(p, p->tok.start);
	if (!rc)
		rc = xp_enter(p, p->tok.start);
	if (rc)
		return rc;
	xp_advance(p);
	c = new_cond(p, XC_NOT);
	if (!c)
		return xp_nomem(p);
	rc = parse_not(p, &c->kids);
	if (rc)
		return rc;
	xp_leave(p);
	*out = c;
	return 0;
}

/* sub (word sub)*: an n-ary AND or OR node when there is more than one. */
static int parse_chain(struct xparser *p, const char *word, enum xcond_kind kind,
		       int (*sub)(struct xparser *, struct xcond **), struct xcond **out)
{
	struct xcond *first, *node, **tail;
	int rc = sub(p, &first);

	if (rc)
		return rc;
	if (!xp_word_is(p, &p->tok, word)) {
		*out = first;
		return 0;
	}
	node = new_cond(p, kind);
	if (!node)
		return xp_nomem(p);
	node->kids = first;
	tail = &first->next;
	while (xp_word_is(p, &p->tok, word)) {
		rc = xp_count_op(p, p->tok.start);
		if (rc)
			return rc;
		xp_advance(p);
		rc = sub(p, tail);
		if (rc)
			return rc;
		tail = &(*tail)->next;
	}
	*out = node;
	return 0;
}

static int parse_and(struct xparser *p, struct xcond **out)
{
	return parse_chain(p, "AND", XC_AND, parse_not, out);
}

static int parse_or(struct xparser *p, struct xcond **out)
{
	return parse_chain(p, "OR", XC_OR, parse_and, out);
}

int xp_condition(struct xparser *p)
{
	int rc = parse_or(p, &p->e->cond);

	if (!rc && p->tok.type != XT_EOF)
		rc = xp_syntax(p);
	return rc;
}

/* ---- update ---- */

struct xact_node {
	struct xaction a;	/* the action */
	struct xact_node *next; /* next in text order */
};

/* SET's right-hand side: term, term + term, term - term. */
static int parse_rhs(struct xparser *p, struct xop **out)
{
	struct xop *lhs, *op;
	enum xop_kind kind;
	const char *name;
	int rc = xp_operand(p, &lhs);

	if (rc)
		return rc;
	if (p->tok.type != XT_PLUS && p->tok.type != XT_MINUS) {
		*out = lhs;
		return 0;
	}
	kind = p->tok.type == XT_PLUS ? XO_PLUS : XO_MINUS;
	name = kind == XO_PLUS ? "+" : "-";
	op = xp_new_op(p, kind, p->tok.start);
	if (!op)
		return xp_nomem(p);
	rc = xp_count_op(p, p->tok.start);
	if (rc)
		return rc;
	xp_advance(p);
	op->a = lhs;
	rc = xp_operand(p, &op->b);
	if (rc)
		return rc;
	for (int i = 0; i < 2; i++) {
		const struct xop *x = i ? op->b : op->a;

		if (x->kind == XO_CONST && x->cval->type != VAL_N)
			return xp_bad_operand(p, x, name);
	}
	*out = op;
	return 0;
}

/* ADD and DELETE take a :value or a literal of the right type. */
static int parse_add_value(struct xparser *p, enum xact_kind kind, struct xop **out)
{
	const char *name = kind == XA_ADD ? "ADD" : "DELETE";
	enum val_type t;
	int rc;

	if (p->tok.type == XT_VALREF)
		rc = xp_valref(p, out);
	else if (xp_literal_start(p))
		rc = xp_literal(p, out);
	else
		return xp_syntax(p);
	if (rc)
		return rc;
	t = (*out)->cval->type;
	if (!val_type_is_set(t) && (kind == XA_DELETE || t != VAL_N))
		return xp_fail(p, (*out)->off,
			       "Incorrect operand type for operator or function; "
			       "operator: %s, operand type: %s",
			       name, xtype_word(t));
	return 0;
}

static int parse_action(struct xparser *p, enum xact_kind kind, struct xaction *a)
{
	int rc;

	a->kind = kind;
	rc = xp_path(p, &a->path);
	if (rc)
		return rc;
	switch (kind) {
	case XA_SET:
		if (p->tok.type != XT_EQ)
			return xp_syntax(p);
		xp_advance(p);
		return parse_rhs(p, &a->val);
	case XA_ADD:
	case XA_DELETE:
		return parse_add_value(p, kind, &a->val);
	case XA_REMOVE:
		break;
	}
	return 0;
}

/* Sort order for the overlap check: path order, then text order. */
static int cmp_path_off(const void *a, const void *b)
{
	const struct xpath *x = *(const struct xpath *const *)a;
	const struct xpath *y = *(const struct xpath *const *)b;
	int c = xpath_cmp(x, y);

	if (c)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Reject two actions (or projected paths) on overlapping or conflicting
 * paths.  In path order (a prefix first, names before indexes) the paths
 * sharing a prefix are contiguous, so any overlapping or conflicting pair
 * has such a pair among its neighbours: sorting and comparing neighbours
 * finds one whenever there is one, in O(n log n).  Of the offending
 * neighbours, the pair whose later path comes first in the text is
 * reported, at that later path.
 */
static int check_overlaps(struct xparser *p, const struct xpath *const *paths, size_t n)
{
	const struct xpath **sorted, *one = NULL, *two = NULL;
	enum xoverlap kind = XOV_NONE;
	char a[200], b[200];

	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return xp_nomem(p);
	memcpy(sorted, paths, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_path_off);
	for (size_t i = 1; i < n; i++) {
		const struct xpath *x = sorted[i - 1], *y = sorted[i];
		enum xoverlap o = xpath_overlap(x, y);

		if (o == XOV_NONE)
			continue;
		if (x->off > y->off) {
			x = sorted[i];
			y = sorted[i - 1];
		}
		if (!two || y->off < two->off) {
			one = x;
			two = y;
			kind = o;
		}
	}
	free(sorted);
	if (!two)
		return 0;
	return xp_fail(p, two->off,
		       "Two document paths %s with each other; must remove or rewrite one of these "
		       "paths; path one: %s, path two: %s",
		       kind == XOV_OVERLAP ? "overlap" : "conflict", xpath_list(one, a, sizeof(a)),
		       xpath_list(two, b, sizeof(b)));
}

int xp_update(struct xparser *p)
{
	static const char *const clauses[] = {"SET", "REMOVE", "ADD", "DELETE"};
	static const enum xact_kind kinds[] = {XA_SET, XA_REMOVE, XA_ADD, XA_DELETE};
	struct xact_node *head = NULL, **tail = &head, *n;
	const struct xpath **paths;
	bool seen[4] = {false, false, false, false};
	size_t count = 0, i;
	int rc;

	while (p->tok.type != XT_EOF) {
		for (i = 0; i < 4; i++)
			if (xp_word_is(p, &p->tok, clauses[i]))
				break;
		if (i == 4)
			return xp_syntax(p);
		if (seen[i])
			return xp_fail(p, p->tok.start,
				       "The \"%s\" section can only be used once in an "
				       "update expression;",
				       clauses[i]);
		seen[i] = true;
		xp_advance(p);
		for (;;) {
			n = xalloc(p->e, sizeof(*n));
			if (!n)
				return xp_nomem(p);
			rc = parse_action(p, kinds[i], &n->a);
			if (rc)
				return rc;
			*tail = n;
			tail = &n->next;
			count++;
			if (p->tok.type != XT_COMMA)
				break;
			xp_advance(p);
		}
	}
	p->e->act = xalloc(p->e, count * sizeof(*p->e->act));
	paths = malloc(count * sizeof(*paths));
	if (!p->e->act || !paths) {
		free(paths);
		return xp_nomem(p);
	}
	for (i = 0, n = head; n; n = n->next, i++) {
		p->e->act[i] = n->a;
		paths[i] = &p->e->act[i].path;
	}
	p->e->nact = count;
	rc = check_overlaps(p, paths, count);
	free(paths);
	return rc;
}

/* ---- projection ---- */

static int cmp_path_ptr(const void *a, const void *b)
{
	return xpath_cmp(*(const struct xpath *const *)a, *(const struct xpath *const *)b);
}

int xp_projection(struct xparser *p)
{
	struct xop *head = NULL, **tail = &head, *op;
	const struct xpath **paths;
	size_t count = 0, i;
	int rc;

	for (;;) {
		op = xp_new_op(p, XO_PATH, p->tok.start);
		if (!op)
			return xp_nomem(p);
		rc = xp_path(p, &op->path);
		if (rc)
			return rc;
		*tail = op;
		tail = &op->next;
		count++;
		if (p->tok.type != XT_COMMA)
			break;
		xp_advance(p);
	}
	if (p->tok.type != XT_EOF)
		return xp_syntax(p);
	paths = malloc(count * sizeof(*paths));
	p->e->paths = xalloc(p->e, count * sizeof(*p->e->paths));
	if (!paths || !p->e->paths) {
		free(paths);
		return xp_nomem(p);
	}
	for (i = 0, op = head; op; op = op->next, i++)
		paths[i] = &op->path;
	rc = check_overlaps(p, paths, count);
	if (!rc) {
		qsort(paths, count, sizeof(*paths), cmp_path_ptr);
		for (i = 0; i < count; i++)
			p->e->paths[i] = *paths[i];
		p->e->npaths = count;
	}
	free(paths);
	return rc;
}
