/*
 * err.c - the engine's error record (see err.h).
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct dyn_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

int err_set(struct dyn_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e || e->code)
		return -code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -code;
}

void err_at(struct dyn_err *e, int line, int col)
{
	if (e && e->code && !e->line) {
		e->line = line;
		e->col = col;
	}
}

void err_path(struct dyn_err *e, const char *path)
{
	if (e && e->code && !e->path[0] && path)
		snprintf(e->path, sizeof(e->path), "%s", path);
}

const char *err_format(const struct dyn_err *e, char *buf, size_t size)
{
	int n = 0;

	if (!size)
		return buf;
	buf[0] = 0;
	if (e->path[0])
		n = snprintf(buf, size, "%s: ", e->path);
	if (n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, "%s", e->msg);
	if (e->line && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - n, " (line %d, column %d)", e->line, e->col);
	return buf;
}
