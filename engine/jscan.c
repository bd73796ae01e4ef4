/*
 * jscan.c - the incremental "is the JSON object complete yet?" scanner
 * (jscan.h).
 *
 * One pass over each byte fed, constant state, so that a document
 * written in any number of pieces costs one scan plus one full parse.
 * Runs of plain string bytes are skipped eight at a time (jsonbytes.h); the
 * structure bytes drive a tiny state machine.
 */
#include "jscan.h"

#include <string.h>

#include "jsonbytes.h"

void jscan_init(struct jscan *s)
{
	memset(s, 0, sizeof(*s));
	s->verdict = JSCAN_MORE;
}

static bool blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum jscan_verdict broke(struct jscan *s, size_t at)
{
	s->bad = at;
	return s->verdict = JSCAN_BAD;
}

/* The leading UTF-8 byte order mark, which the item parser skips. */
static bool bom_byte(size_t off, unsigned char c)
{
	static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};

	return off < 3 && c == bom[off];
}

enum jscan_verdict jscan_feed(struct jscan *s, const char *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;

	if (s->verdict == JSCAN_BAD)
		return JSCAN_BAD;
	for (i = 0; i < n; i++) {
		unsigned char c = b[i];
		size_t at = s->off + i;

		if (s->in_str) {
			if (s->esc) {
				s->esc = false;
				continue;
			}
			/* the common case: a run of plain string bytes, skipped
			 * eight at a time */
			i += json_plain_run(b + i, n - i);
			if (i >= n)
				break;
			c = b[i];
			at = s->off + i;
			if (c == '\\')
				s->esc = true;
			else if (c == '"')
				s->in_str = false;
			else
				return s->off += i, broke(s, at);
			continue;
		}
		if (blank(c))
			continue;
		if (s->verdict == JSCAN_DONE)
			return s->off += i, broke(s, at);
		if (!s->started) {
			if (c == '{') {
				s->started = true;
				s->depth = 1;
				continue;
			}
			if (bom_byte(at, c))
				continue; /* the parser judges a misplaced one */
			return s->off += i, broke(s, at);
		}
		switch (c) {
		case '"':
			s->in_str = true;
			break;
		case '{':
		case '[':
			if (s->depth >= JSCAN_MAX_DEPTH)
				return s->off += i, broke(s, at);
			if (c == '[')
				s->kinds |= 1ull << s->depth;
			else
				s->kinds &= ~(1ull << s->depth);
			s->depth++;
			break;
		case '}':
		case ']':
			s->depth--;
			if (((s->kinds >> s->depth) & 1) != (c == ']'))
				return s->off += i, broke(s, at);
			if (s->depth == 0) {
				s->verdict = JSCAN_DONE;
				s->end = at + 1;
			}
			break;
		default:
			break;
		}
	}
	s->off += n;
	return s->verdict;
}
