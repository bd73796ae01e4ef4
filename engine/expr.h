/*
 * expr.h - DynamoDB's expression language: one parser for condition and
 * filter expressions, update expressions and projection expressions.
 *
 * An expression is compiled once (expr_parse_*) into an opaque expr_t and
 * then evaluated against any number of items.  Compilation resolves every
 * #name and :value reference against the bindings and copies what it
 * needs, so the bindings and the text may be freed right after parsing; a
 * compiled expression is immutable and may be used by several threads at
 * once.
 *
 * Grammar (keywords case-insensitive, function names case-sensitive):
 *
 *   condition  ::= operand comparator operand
 *                | operand BETWEEN operand AND operand
 *                | operand IN ( operand, ... )            (1..100 operands)
 *                | function | condition AND condition | condition OR condition
 *                | NOT condition | ( condition )
 *   comparator ::= = | <> | < | <= | > | >=
 *   function   ::= attribute_exists(path) | attribute_not_exists(path)
 *                | attribute_type(operand, type) | begins_with(operand, operand)
 *                | contains(operand, operand)
 *   operand    ::= path | :value | literal | size(operand)
 *   update     ::= clause ...   each of SET, REMOVE, ADD, DELETE at most once
 *   clause     ::= SET path = rhs, ...  | REMOVE path, ...
 *                | ADD path value, ...  | DELETE path value, ...
 *   rhs        ::= term | term + term | term - term
 *   term       ::= path | :value | literal | if_not_exists(path, term)
 *                | list_append(term, term)
 *   projection ::= path, ...
 *   path       ::= name ( .name | [index] )*
 *   name       ::= identifier | #name | `any text`
 *
 * Precedence: comparisons, BETWEEN and IN bind tighter than NOT, NOT
 * tighter than AND, AND tighter than OR.
 *
 * dynfs extensions (user documentation should repeat these):
 *   - Inline literals.  Wherever a :value may appear, a document-form JSON
 *     value may be written instead (parsed by item_parse_value, so the
 *     same rules as item files): `finished = 1`, `begins_with(week,
 *     "2022-")`, `level IN (1, 2, 3)`, `tags = {"$SS": ["a"]}`, `x = [1, 2]`,
 *     `m = {"a": 1}`, `flag = true`, `n = null`, `{"$N": "1e100"}`.  In
 *     operand position the bare words true, false and null are literals;
 *     an attribute with such a name is written `true` or #n.
 *   - Names.  An identifier is [A-Za-z_][A-Za-z0-9_]* (DynamoDB also
 *     rejects a leading '_' and its 573 reserved words; dynfs accepts any
 *     identifier that is not a keyword of the expression being parsed:
 *     AND OR NOT BETWEEN IN in conditions, SET REMOVE ADD DELETE in
 *     updates).  A name with other characters can be bound with #n or
 *     written between backquotes: `name-with-dash` (no backquote inside).
 *   - Redundant parentheses, which DynamoDB rejects, are accepted.
 *
 * Errors.  Parse errors carry DynamoDB's messages where DynamoDB has one
 * ("Invalid ConditionExpression: Syntax error; token: \"=\", near: \"SET =
 * x\"", "... An expression attribute value used in expression is not
 * defined; attribute value: :v", "Value provided in
 * ExpressionAttributeValues unused in expressions: keys: {:x}") and the
 * line and column of the offending token (err->line, err->col; columns
 * count bytes from 1).  Evaluation errors carry the attribute path
 * (err->path).  All errors are -EINVAL unless said otherwise; -ENOMEM when
 * memory runs out.
 *
 * Limits (DynamoDB's): text at most EXPR_MAX_TEXT bytes, at most
 * EXPR_MAX_OPERATORS operators and functions, IN lists of at most
 * EXPR_MAX_IN operands; and (dynfs's, against stack exhaustion) nesting
 * of parentheses, NOT and function calls at most EXPR_MAX_DEPTH, document
 * paths of at most EXPR_MAX_PATH elements.
 */
#ifndef DYNFS_EXPR_H
#define DYNFS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "val.h"

#define EXPR_MAX_TEXT 4096     /* bytes of expression text */
#define EXPR_MAX_OPERATORS 300 /* operators and function calls */
#define EXPR_MAX_IN 100	       /* operands in an IN list */
#define EXPR_MAX_DEPTH 100     /* nesting of (), NOT and calls */
#define EXPR_MAX_PATH 33       /* elements of a path: top level + 32 nested */

typedef struct expr expr_t;

/*
 * Bindings of #names and :values, as DynamoDB's ExpressionAttributeNames
 * and ExpressionAttributeValues.  Both maps are optional (NULL) and
 * borrowed for the duration of the parse only.
 *
 * DynamoDB rejects a request whose bindings hold an entry that none of its
 * expressions uses.  By default each expr_parse_* call checks that on its
 * own.  When one set of bindings serves several expressions of one
 * request (an update with a condition, a query with a filter and a
 * projection), set EXPR_BIND_SHARED, parse each, then call
 * expr_check_unused() once with all of them.
 */
#define EXPR_BIND_SHARED 0x1 /* skip the per-expression unused check */
/*
 * For expressions dynfs generates itself (say, from a _batch line's "set"
 * object with one #name and :value per attribute): skip DynamoDB's limits
 * on text size and operator count, which the user never saw.  The nesting
 * limits stay: they protect the stack.
 */
#define EXPR_UNLIMITED 0x2
/*
 * DynamoDB's own strictness, for the API front end: a bare name that is
 * one of DynamoDB's 573 reserved words ("level", "name", "status"...) is
 * an error, "Attribute name is a reserved keyword; reserved keyword: X",
 * as the service says (write it #n instead); and dynfs's extensions are
 * off: no inline literals (values only as :placeholders), no `quoted`
 * names.
 */
#define EXPR_STRICT 0x4

struct expr_bind {
	const struct val *names;  /* M of "#n" -> S (the attribute name), or NULL */
	const struct val *values; /* M of ":v" -> any value, or NULL */
	unsigned flags;		  /* EXPR_BIND_SHARED, EXPR_UNLIMITED, EXPR_STRICT */
};

/*
 * Compile a condition expression (ConditionExpression: PutItem, UpdateItem,
 * DeleteItem, transactions) from text[0..len).  bind may be NULL.
 * On success *out is new (expr_free).  On failure *out is NULL and err
 * (if not NULL) says why and where.
 */
int expr_parse_condition(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
			 struct dyn_err *err);

/* The same grammar as a filter (Query/Scan): messages say FilterExpression. */
int expr_parse_filter(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
		      struct dyn_err *err);

/*
 * Compile an update expression.  Besides syntax, rejects: a clause used
 * twice, two actions on overlapping paths ("Two document paths overlap
 * with each other..."), or conflicting ones (a.b and a[1]), ADD with a
 * value that is not a number or a set, DELETE with a value that is not a
 * set, + and - on constants that are not numbers, list_append on constants
 * that are not lists, condition functions (size, contains...).
 */
int expr_parse_update(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
		      struct dyn_err *err);

/* Compile a projection expression: comma-separated, non-overlapping paths. */
int expr_parse_projection(const char *text, size_t len, const struct expr_bind *bind, expr_t **out,
			  struct dyn_err *err);

/*
 * With EXPR_BIND_SHARED: check that every entry of bind->names and
 * bind->values is referenced by at least one of exprs[0..n) (entries may
 * be NULL and are skipped).  -EINVAL "Value provided in
 * ExpressionAttributeNames unused in expressions: keys: {#a, #b}".
 */
int expr_check_unused(const struct expr_bind *bind, const expr_t *const *exprs, size_t n,
		      struct dyn_err *err);

/*
 * Evaluate a condition/filter against item (NULL: the item does not
 * exist, so every path is missing).  DynamoDB semantics: a comparison with
 * a missing attribute or between different types is false, except <>,
 * which is then true; < <= > >= BETWEEN order only S (bytes), N
 * (numerically) and B (bytes); size() of a type without a size is
 * missing.  Never fails on a well-formed expression; -EINVAL if e is not
 * a condition.
 */
int expr_eval(const expr_t *e, const struct val *item, bool *result, struct dyn_err *err);

/*
 * Apply an update expression to old (NULL: the item does not exist) and
 * put the new item in *out (new; on failure *out is VAL_NULL).  The caller
 * adds the key attributes and checks the result (item_check).  DynamoDB
 * semantics: every right-hand side is evaluated against old; SET on a
 * list index past the end appends (several in index order); SET/ADD/
 * DELETE below a missing or non-container attribute fails with "The
 * document path provided in the update expression is invalid for
 * update"; REMOVE of list elements uses old indexes, highest first, and
 * does nothing when the item does not exist; ADD to a missing attribute
 * creates it (number: 0 + v; set: v); DELETE of the last elements of a set
 * removes the attribute; arithmetic is exact (num_add/num_sub, overflow is
 * an error).
 */
int expr_apply_update(const expr_t *e, const struct val *old, struct val *out, struct dyn_err *err);

/*
 * Whether the update expression writes (SET, REMOVE, ADD, DELETE) the
 * top-level attribute attr or anything inside it, so the caller can
 * reject updates of key attributes.  -EINVAL if e is not an update.
 */
int expr_update_touches(const expr_t *e, const char *attr, bool *touches);

/*
 * Project item through a projection expression into *out (new M).
 * Missing paths are left out; list elements picked by index keep their
 * relative order (a[3], a[1] gives a two-element list [a[1], a[3]]).
 * item may be NULL (gives an empty map).  -ENOMEM.
 */
int expr_project(const expr_t *proj, const struct val *item, struct val *out, struct dyn_err *err);

/*
 * Project item through the paths an update expression writes (its SET,
 * REMOVE, ADD and DELETE targets), as expr_project does: what DynamoDB's
 * ReturnValues UPDATED_OLD (item = the old item) and UPDATED_NEW (the new
 * one) return.  SET a.b = :v gives {a: {b: ...}}, not the whole a; a path
 * the item lacks is left out (REMOVE x answers nothing for UPDATED_NEW).
 * -EINVAL if update is not an update, -ENOMEM.
 */
int expr_project_updated(const expr_t *update, const struct val *item, struct val *out,
			 struct dyn_err *err);

/* ---- key conditions (Query) ---- */

/* The condition grammar with KeyConditionExpression in its messages. */
int expr_parse_key_condition(const char *text, size_t len, const struct expr_bind *bind,
			     expr_t **out, struct dyn_err *err);

enum expr_kc_op {
	EXPR_KC_NONE,	 /* (no term) */
	EXPR_KC_EQ,	 /* name = v1 */
	EXPR_KC_LT,	 /* name < v1 */
	EXPR_KC_LE,	 /* name <= v1 */
	EXPR_KC_GT,	 /* name > v1 */
	EXPR_KC_GE,	 /* name >= v1 */
	EXPR_KC_BETWEEN, /* name BETWEEN v1 AND v2 */
	EXPR_KC_BEGINS,	 /* begins_with(name, v1) */
};

/* One term of a key condition; pointers borrowed from the expression. */
struct expr_kc_term {
	const char *name;     /* top-level attribute name */
	enum expr_kc_op op;   /* comparison */
	const struct val *v1; /* value */
	const struct val *v2; /* BETWEEN's upper bound, else NULL */
};

struct expr_keycond {
	struct expr_kc_term a, b; /* the terms in text order */
	size_t n;		  /* 1 or 2 */
};

/*
 * Take a key condition apart: one or two terms joined by AND, each a
 * comparison (not <>), BETWEEN or begins_with between a top-level
 * attribute name and values.  Which term is the partition key is the
 * caller's business (it knows the schema).  -EINVAL with DynamoDB's
 * message for any other shape.
 */
int expr_key_condition(const expr_t *e, struct expr_keycond *out, struct dyn_err *err);

/* ---- printing (expr_print.c) ---- */

/*
 * Expressions as DynamoDB wants them on the wire: text in which every
 * attribute name is a #placeholder and every constant a :placeholder,
 * with the ExpressionAttributeNames / ExpressionAttributeValues maps
 * beside it.  One struct expr_text collects the maps for all the
 * expressions of one request (an update with its condition), so the
 * placeholders never collide: names are #n0, #n1... (one per distinct
 * name), values :v0, :v1... (one per constant).
 *
 * The printed text parses back (under EXPR_STRICT, as DynamoDB would) to
 * an expression equal to the original, up to the order of the clauses of
 * an update (SET, REMOVE, ADD, DELETE are printed in that order, each
 * keeping its actions' order); parentheses are printed only where the
 * structure needs them (DynamoDB rejects redundant ones).
 */
struct expr_text {
	struct val names;  /* M of "#nK" -> S (VAL_M once printed into) */
	struct val values; /* M of ":vK" -> value */
	unsigned nnames;   /* next K for names */
	unsigned nvalues;  /* next K for values */
};

/* Empty maps. */
void expr_text_init(struct expr_text *t);
void expr_text_free(struct expr_text *t);

/*
 * Print e (any kind) into *text (new, NUL-terminated), adding its names
 * and values to t.  -ENOMEM.
 */
int expr_to_text(const expr_t *e, struct expr_text *t, char **text);

/* Free a compiled expression.  NULL-safe. */
void expr_free(expr_t *e);

#endif
