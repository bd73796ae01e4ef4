/*
 * exprint.h - the inside of expr_t, shared by the expr*.c files only.
 *
 * Files.  expr.c: the arena, bindings, path helpers, expr_free and the
 * binding checks.  expr_lex.c: tokens, literal spans, message snippets.
 * expr_parse.c: the parser's core (tokens, names, paths, values, literals,
 * function calls, operands) and the entry points.  expr_grammar.c: the
 * top rules of the three grammars and their static checks.
 * expr_eval.c: conditions and projections.  expr_update.c: applying an
 * update to an item.
 *
 * Memory.  Every node of a compiled expression lives in an arena owned by
 * the expr_t (a list of chunks freed together), so the parser never frees
 * nodes on its error paths: it just frees the whole expr_t.  Constants are
 * struct val, which own heap memory; they sit on e->consts, which
 * expr_free walks.  Names in paths are NUL-terminated copies in the arena.
 *
 * Invariants of a compiled expression:
 *   - every path has 1..EXPR_MAX_PATH elements and el[0] is a name;
 *   - every XO_CONST points at a valid value on e->consts;
 *   - a condition tree uses only XO_PATH, XO_CONST and XO_SIZE operands;
 *     an update uses XO_PATH, XO_CONST, XO_IF_NOT_EXISTS (whose a is an
 *     XO_PATH), XO_LIST_APPEND, XO_PLUS, XO_MINUS;
 *   - update: no two action paths overlap or conflict (xpath_overlap), ADD
 *     values are XO_CONST of type N or a set, DELETE values are sets;
 *   - projection: e->paths sorted by xpath_cmp, no two overlapping.
 */
#ifndef DYNFS_EXPRINT_H
#define DYNFS_EXPRINT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "expr.h"
#include "val.h"

/* ---- tokens (expr_lex.c) ---- */

enum xtok_type {
	XT_EOF,	   /* end of text */
	XT_IDENT,  /* [A-Za-z_][A-Za-z0-9_]*: name, keyword or function */
	XT_BQNAME, /* `text`: a name with any characters */
	XT_HASH,   /* #[A-Za-z0-9_]+: a bound name */
	XT_VALREF, /* :[A-Za-z0-9_]+: a bound value */
	XT_INT,	   /* [0-9]+: list index (or the start of a number literal) */
	XT_STR,	   /* "...": a JSON string literal */
	XT_LPAREN, /* ( */
	XT_RPAREN, /* ) */
	XT_LBRACK, /* [ */
	XT_RBRACK, /* ] */
	XT_LBRACE, /* { : starts an object literal */
	XT_RBRACE, /* } */
	XT_COMMA,  /* , */
	XT_DOT,	   /* . */
	XT_EQ,	   /* = */
	XT_NE,	   /* <> */
	XT_LT,	   /* < */
	XT_LE,	   /* <= */
	XT_GT,	   /* > */
	XT_GE,	   /* >= */
	XT_PLUS,   /* + */
	XT_MINUS,  /* - */
	XT_BAD,	   /* anything else: one character */
};

struct xtok {
	enum xtok_type type; /* what it is */
	size_t start;	     /* byte offset of its first byte */
	size_t end;	     /* offset just past it */
};

/* The token at or after pos (whitespace skipped) into *out. */
void xlex(const char *text, size_t len, size_t pos, struct xtok *out);

/*
 * End of the inline JSON literal that starts at start (a '"', '{', '[',
 * '-', digit, or true/false/null): strings are skipped with their
 * escapes, brackets balanced.  The span is only found here; the value is
 * parsed by item_parse_value().  Unbalanced input runs to len.
 */
size_t xlex_literal_end(const char *text, size_t len, size_t start);

/* 1-based line and column (bytes) of offset off. */
void xtext_pos(const char *text, size_t off, int *line, int *col);

/*
 * Copy text[0..n) into buf for a message: control characters become
 * spaces, at most size-1 bytes, cut at a UTF-8 character boundary,
 * NUL-terminated.  Returns buf.
 */
const char *xsnip(char *buf, size_t size, const char *text, size_t n);

/* ---- compiled form ---- */

enum expr_kind {
	EXPR_CONDITION,	 /* condition or filter: e->cond */
	EXPR_UPDATE,	 /* e->act */
	EXPR_PROJECTION, /* e->paths */
};

struct xelem {
	const char *name; /* NUL-terminated (arena); NULL for a list index */
	size_t len;	  /* bytes of name */
	size_t index;	  /* list index when name is NULL */
};

struct xpath {
	struct xelem *el; /* elements (arena), el[0] a name */
	size_t n;	  /* 1..EXPR_MAX_PATH */
	size_t off;	  /* offset of the path in the text, for messages */
};

enum xop_kind {
	XO_PATH,	  /* an attribute of the item */
	XO_CONST,	  /* a :value or an inline literal */
	XO_SIZE,	  /* size(a) */
	XO_IF_NOT_EXISTS, /* if_not_exists(a, b) */
	XO_LIST_APPEND,	  /* list_append(a, b) */
	XO_PLUS,	  /* a + b */
	XO_MINUS,	  /* a - b */
};

struct xop {
	enum xop_kind kind;	/* which of the members below are live */
	size_t off;		/* offset in the text, for messages */
	struct xpath path;	/* XO_PATH */
	const struct val *cval; /* XO_CONST (on e->consts) */
	struct xop *a;		/* first operand of functions and + - */
	struct xop *b;		/* second operand */
	struct xop *next;	/* next operand of an IN list */
};

enum xcond_kind {
	XC_AND,	       /* all of kids */
	XC_OR,	       /* any of kids */
	XC_NOT,	       /* not kids */
	XC_CMP,	       /* a cmp b */
	XC_BETWEEN,    /* a BETWEEN b AND c */
	XC_IN,	       /* a IN (b, b->next, ...) */
	XC_EXISTS,     /* attribute_exists(a) */
	XC_NOT_EXISTS, /* attribute_not_exists(a) */
	XC_TYPE,       /* attribute_type(a, type) */
	XC_BEGINS,     /* begins_with(a, b) */
	XC_CONTAINS,   /* contains(a, b) */
};

enum xcmp {
	XCMP_EQ, /* = */
	XCMP_NE, /* <> */
	XCMP_LT, /* < */
	XCMP_LE, /* <= */
	XCMP_GT, /* > */
	XCMP_GE, /* >= */
};

struct xcond {
	enum xcond_kind kind; /* what it tests */
	enum xcmp cmp;	      /* XC_CMP */
	enum val_type type;   /* XC_TYPE */
	struct xcond *kids;   /* AND/OR operands (linked by next); NOT operand */
	struct xcond *next;   /* next operand of the enclosing AND/OR */
	struct xop *a;	      /* operands, see xcond_kind */
	struct xop *b;
	struct xop *c;
};

enum xact_kind {
	XA_SET,	   /* path = val */
	XA_REMOVE, /* remove path */
	XA_ADD,	   /* add val (N or set) to path */
	XA_DELETE, /* delete the elements of val (a set) from path */
};

struct xaction {
	enum xact_kind kind; /* clause it came from */
	struct xpath path;   /* the attribute written */
	struct xop *val;     /* SET: right-hand side; ADD/DELETE: XO_CONST */
};

/* A binding key (#n or :v) that the expression referenced. */
struct xref {
	const char *key;   /* NUL-terminated (arena) */
	struct xref *next; /* next referenced key */
};

/* An owned constant. */
struct xconst {
	struct val v;	     /* the value */
	struct xconst *next; /* next constant of the expression */
};

struct xchunk;

struct expr {
	enum expr_kind kind;	  /* which grammar */
	const char *what;	  /* "ConditionExpression"..., for messages */
	struct xchunk *arena;	  /* every node below lives here */
	struct xconst *consts;	  /* constants (owned) */
	struct xcond *cond;	  /* EXPR_CONDITION */
	struct xaction *act;	  /* EXPR_UPDATE: actions in text order */
	size_t nact;		  /* entries in act */
	struct xpath *paths;	  /* EXPR_PROJECTION: sorted by xpath_cmp */
	size_t npaths;		  /* entries in paths */
	struct xref *used_names;  /* #n keys referenced */
	struct xref *used_values; /* :v keys referenced */
};

/* ---- helpers (expr.c) ---- */

/* A new empty expression of the given kind, or NULL. */
struct expr *xexpr_new(enum expr_kind kind, const char *what);
/* size zeroed bytes from e's arena, or NULL (out of memory). */
void *xalloc(struct expr *e, size_t size);
/* NUL-terminated arena copy of s[0..n), or NULL. */
char *xstrdup(struct expr *e, const char *s, size_t n);
/* Take *v (stolen, even on failure) as a constant of e; *out borrowed. */
int xconst_add(struct expr *e, struct val *v, const struct val **out);

/* Check the shape of the bindings: keys #x / :x, names non-empty strings. */
int xbind_check(const struct expr_bind *bind, struct dyn_err *err);

/* Element order: names by bytes, indexes numerically, a name before an index. */
int xelem_cmp(const struct xelem *a, const struct xelem *b);
/* Path order: element by element, names by bytes, indexes numerically,
 * a name before an index, a prefix before its extensions. */
int xpath_cmp(const struct xpath *a, const struct xpath *b);

enum xoverlap {
	XOV_NONE,     /* independent paths */
	XOV_OVERLAP,  /* one is (a prefix of) the other */
	XOV_CONFLICT, /* same prefix, then a name against an index */
};
enum xoverlap xpath_overlap(const struct xpath *a, const struct xpath *b);

/* "a.b[2].c" into buf (for err->path).  Returns buf. */
const char *xpath_str(const struct xpath *p, char *buf, size_t size);
/* DynamoDB's form for overlap messages: "[a, b, [2], c]".  Returns buf. */
const char *xpath_list(const struct xpath *p, char *buf, size_t size);

/* DynamoDB's operand type words for ADD/DELETE/+ messages ("STRING"...). */
const char *xtype_word(enum val_type t);

/* The value at path p in item (NULL if item is NULL or p is missing). */
const struct val *xpath_get(const struct val *item, const struct xpath *p);

/* True if p[0..n) is one of DynamoDB's reserved words (expr_reserved.c). */
bool xreserved(const char *p, size_t n);

/* ---- the parser (expr_parse.c: core; expr_grammar.c: top rules) ---- */

struct xparser {
	struct expr *e;		      /* the expression being built */
	const char *text;	      /* the source */
	size_t len;		      /* its length */
	const struct expr_bind *bind; /* bindings, or NULL */
	struct dyn_err *err;	      /* where errors go, or NULL */
	struct xtok tok;	      /* the current token */
	struct xtok prev;	      /* the token before it, for "near" */
	bool has_prev;		      /* prev is valid */
	int depth;		      /* nesting of (), NOT, calls */
	int nops;		      /* operators and functions seen */
	bool unlimited;		      /* EXPR_UNLIMITED: no text/operator limits */
	bool strict;		      /* EXPR_STRICT: reserved words are no names */
};

enum xfn {
	FN_EXISTS,
	FN_NOT_EXISTS,
	FN_TYPE,
	FN_BEGINS,
	FN_CONTAINS,
	FN_SIZE,
	FN_IF_NOT_EXISTS,
	FN_LIST_APPEND,
};

struct xcall {
	enum xfn fn;	    /* the function */
	const char *name;   /* its name */
	size_t off;	    /* offset of the name */
	struct xop *arg[2]; /* its operands */
};

/* Error "Invalid <what>: <fmt>" at text offset off; returns -EINVAL. */
int xp_fail(struct xparser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int xp_nomem(struct xparser *p);
/* DynamoDB's syntax error on the current token. */
int xp_syntax(struct xparser *p);
/* Move to the next token. */
void xp_advance(struct xparser *p);
/* t is the identifier w, case-insensitively. */
bool xp_word_is(const struct xparser *p, const struct xtok *t, const char *w);
/* The current token starts an inline literal. */
bool xp_literal_start(const struct xparser *p);
/* The current token is a (non-keyword) identifier followed by '('. */
bool xp_at_call(const struct xparser *p);
/* Count an operator or function against EXPR_MAX_OPERATORS. */
int xp_count_op(struct xparser *p, size_t off);
/* Enter and leave a nesting level (EXPR_MAX_DEPTH). */
int xp_enter(struct xparser *p, size_t off);
void xp_leave(struct xparser *p);
/* A document path into *out (arena). */
int xp_path(struct xparser *p, struct xpath *out);
/* A zeroed operand node, or NULL. */
struct xop *xp_new_op(struct xparser *p, enum xop_kind kind, size_t off);
/* :value and inline literal operands (XO_CONST). */
int xp_valref(struct xparser *p, struct xop **out);
int xp_literal(struct xparser *p, struct xop **out);
/* name(operand, ...) with arity and per-grammar checks; c filled. */
int xp_call(struct xparser *p, struct xcall *c);
/* "Incorrect operand type for operator or function" about op. */
int xp_bad_operand(struct xparser *p, const struct xop *op, const char *what);
/* A value function call (size, if_not_exists, list_append) as an operand. */
int xp_call_to_op(struct xparser *p, const struct xcall *c, struct xop **out);
/* path | :value | literal | value function call. */
int xp_operand(struct xparser *p, struct xop **out);

/* Top rules: fill p->e from the whole text. */
int xp_condition(struct xparser *p);
int xp_update(struct xparser *p);
int xp_projection(struct xparser *p);

#endif
