/*
 * expr_lex.c - tokens of the expression language, spans of inline JSON
 * literals, and the snippets of text that go into messages.
 *
 * The lexer is a pure function of a position (xlex(text, len, pos)): the
 * parser keeps the current and previous tokens and asks for the next one
 * when it needs it.  That makes "near" in syntax errors (the previous,
 * offending and next tokens, as DynamoDB prints them) a matter of lexing
 * one more token, and lets the parser switch to literal scanning where an
 * operand may start: whether '[' opens a list index or a list literal,
 * and whether '-' is a minus or the sign of a number, depends on where
 * the parser is, not on the characters.
 *
 * Literal spans.  An inline literal is a JSON value; this file only finds
 * where it ends (strings with escapes, balanced brackets, the characters
 * of a number) and item_parse_value() does the parsing, so there is one
 * JSON parser in dynfs and literals obey the same rules as item files.
 */
#include "exprint.h"

#include <string.h>

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_word(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Bytes of the UTF-8 character starting with c (1 for anything odd). */
static size_t utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	return 1;
}

/* End of the JSON string whose opening quote is at start. */
static size_t string_end(const char *t, size_t len, size_t start)
{
	size_t i = start + 1;

	while (i < len && t[i] != '"') {
		if (t[i] == '\\' && i + 1 < len)
			i++;
		i++;
	}
	return i < len ? i + 1 : len;
}

void xlex(const char *t, size_t len, size_t pos, struct xtok *out)
{
	size_t i = pos;
	char c;

	while (i < len && is_space(t[i]))
		i++;
	out->start = i;
	if (i >= len) {
		out->type = XT_EOF;
		out->end = len;
		return;
	}
	c = t[i];
	out->end = i + 1;
	if (is_alpha(c) || c == '_') {
		while (out->end < len && is_word(t[out->end]))
			out->end++;
		out->type = XT_IDENT;
		return;
	}
	if (is_digit(c)) {
		while (out->end < len && is_digit(t[out->end]))
			out->end++;
		out->type = XT_INT;
		return;
	}
	if ((c == '#' || c == ':') && i + 1 < len && is_word(t[i + 1])) {
		while (out->end < len && is_word(t[out->end]))
			out->end++;
		out->type = c == '#' ? XT_HASH : XT_VALREF;
		return;
	}
	switch (c) {
	case '`': {
		const char *q = memchr(t + i + 1, '`', len - i - 1);

		if (q && q > t + i + 1 && !memchr(t + i + 1, 0, q - t - i - 1)) {
			out->type = XT_BQNAME;
			out->end = q - t + 1;
			return;
		}
		out->type = XT_BAD;
		return;
	}
	case '"':
		out->type = XT_STR;
		out->end = string_end(t, len, i);
		return;
	case '(':
		out->type = XT_LPAREN;
		return;
	case ')':
		out->type = XT_RPAREN;
		return;
	case '[':
		out->type = XT_LBRACK;
		return;
	case ']':
		out->type = XT_RBRACK;
		return;
	case '{':
		out->type = XT_LBRACE;
		return;
	case '}':
		out->type = XT_RBRACE;
		return;
	case ',':
		out->type = XT_COMMA;
		return;
	case '.':
		out->type = XT_DOT;
		return;
	case '=':
		out->type = XT_EQ;
		return;
	case '+':
		out->type = XT_PLUS;
		return;
	case '-':
		out->type = XT_MINUS;
		return;
	case '<':
		out->type = XT_LT;
		if (i + 1 < len && (t[i + 1] == '=' || t[i + 1] == '>')) {
			out->type = t[i + 1] == '=' ? XT_LE : XT_NE;
			out->end++;
		}
		return;
	case '>':
		out->type = XT_GT;
		if (i + 1 < len && t[i + 1] == '=') {
			out->type = XT_GE;
			out->end++;
		}
		return;
	}
	out->type = XT_BAD;
	out->end = i + utf8_len((unsigned char)c);
	if (out->end > len)
		out->end = len;
}

size_t xlex_literal_end(const char *t, size_t len, size_t start)
{
	size_t i = start, depth = 0;

	if (start >= len)
		return len;
	if (t[i] == '"')
		return string_end(t, len, i);
	if (t[i] == '-' || is_digit(t[i])) {
		/* The characters a JSON number may hold; the parser judges. */
		i++;
		while (i < len) {
			char c = t[i];

			if (is_digit(c) || c == '.' || c == 'e' || c == 'E')
				i++;
			else if ((c == '+' || c == '-') && (t[i - 1] == 'e' || t[i - 1] == 'E'))
				i++;
			else
				break;
		}
		return i;
	}
	if (t[i] != '{' && t[i] != '[') {
		/* true, false, null: a word. */
		while (i < len && is_word(t[i]))
			i++;
		return i;
	}
	while (i < len) {
		char c = t[i];

		if (c == '"') {
			i = string_end(t, len, i);
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return len;
}

void xtext_pos(const char *t, size_t off, int *line, int *col)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (t[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

const char *xsnip(char *buf, size_t size, const char *t, size_t n)
{
	size_t i;

	if (!size)
		return buf;
	if (n > size - 1) {
		n = size - 1;
		/* Do not cut a multi-byte character in two. */
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)t[i] < 0x20 || t[i] == 0x7f ? ' ' : t[i];
	buf[i] = 0;
	return buf;
}
