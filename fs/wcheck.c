/*
 * wcheck.c - when a write() must run the full check of its document
 * (wcheck.h).
 */
#include "wcheck.h"

#include <string.h>

void wcheck_start(struct wcheck *w)
{
	memset(w, 0, sizeof(*w));
	w->on = true;
	jscan_init(&w->js);
}

void wcheck_stop(struct wcheck *w)
{
	memset(w, 0, sizeof(*w));
}

enum wcheck_act wcheck_write(struct wcheck *w, off_t off, size_t len, const char *p, size_t n)
{
	enum jscan_verdict v;

	if (!w->on)
		return WC_NONE;
	if (off < 0 || (size_t)off != len || len != w->len) {
		wcheck_stop(w); /* not a simple sequence: check at close */
		return WC_NONE;
	}
	w->len += n;
	v = jscan_feed(&w->js, p, n);
	if (w->refused)
		return WC_REFUSED;
	if (v == JSCAN_MORE || (v == JSCAN_DONE && w->checked))
		return WC_NONE; /* more to come, or whitespace after a good one */
	w->checked = false;
	return WC_CHECK;
}

void wcheck_result(struct wcheck *w, int rc)
{
	if (rc < 0)
		w->refused = rc;
	else if (w->js.verdict == JSCAN_DONE)
		w->checked = true;
	else
		wcheck_stop(w); /* the scanner was wrong: leave it to close */
}
