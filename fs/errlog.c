/*
 * errlog.c - /_errors: the last FSX_ERRLOG_LINES rejected writes.
 *
 * Each line is "<ISO 8601 UTC time> <path>: <reason>\n" and also goes to
 * the log (stderr in the foreground, syslog once daemonized), so that a
 * user whose editor only says "E667: Fsync failed" can find out why with
 * `cat /db/_errors` or `tail -f` of the log.  The ring is small and
 * bounded; readers get a snapshot made at open (ops_file.c), so a `cat`
 * sees a consistent list even while new errors arrive.
 */
#include "fsx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

int errlog_init(struct errlog *el)
{
	memset(el, 0, sizeof(*el));
	return -pthread_mutex_init(&el->lock, NULL);
}

void errlog_fini(struct errlog *el)
{
	size_t i;

	for (i = 0; i < FSX_ERRLOG_LINES; i++)
		free(el->line[i]);
	free(el->last_once);
	pthread_mutex_destroy(&el->lock);
}

static void vlog(struct fsx *fs, int prio, const char *fmt, va_list ap)
{
	if (fs->errlog.to_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		flockfile(stderr);
		fputs("dynfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
}

void fsx_log(struct fsx *fs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fs, LOG_INFO, fmt, ap);
	va_end(ap);
}

static void errlog_vadd(struct fsx *fs, const char *path, const char *fmt, va_list ap)
{
	struct errlog *el = &fs->errlog;
	char reason[1024], stamp[40], *line;
	int64_t now = fsx_now_ns();
	time_t secs = (time_t)(now / 1000000000);
	struct tm tm;
	size_t slot;
	int n;

	vsnprintf(reason, sizeof(reason), fmt, ap);
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = asprintf(&line, "%s.%03dZ %s: %s\n", stamp, (int)(now / 1000000 % 1000), path,
		     reason);
	if (n < 0)
		return;
	if (el->to_syslog)
		syslog(LOG_WARNING, "%s: %s", path, reason);
	else
		fprintf(stderr, "dynfs: %s: %s\n", path, reason);

	pthread_mutex_lock(&el->lock);
	if (el->n == FSX_ERRLOG_LINES) {
		el->bytes -= strlen(el->line[el->head]);
		free(el->line[el->head]);
		el->line[el->head] = NULL;
		el->head = (el->head + 1) % FSX_ERRLOG_LINES;
		el->n--;
	}
	slot = (el->head + el->n) % FSX_ERRLOG_LINES;
	el->line[slot] = line;
	el->n++;
	el->bytes += (size_t)n;
	el->mtime_ns = now;
	pthread_mutex_unlock(&el->lock);
	/* /_errors grew: its size and mtime are stale in the kernel. */
	inval_attr_now(fs, fs->errors->ino);
}

void errlog_add(struct fsx *fs, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlog_vadd(fs, path, fmt, ap);
	va_end(ap);
}

void errlog_err(struct fsx *fs, const char *path, const struct dyn_err *e, int rc)
{
	char buf[900];

	if (e && e->code)
		errlog_add(fs, path, "%s", err_format(e, buf, sizeof(buf)));
	else
		errlog_add(fs, path, "%s", strerror(-rc));
}

void errlog_err_once(struct fsx *fs, const char *path, const struct dyn_err *e, int rc)
{
	struct errlog *el = &fs->errlog;
	char buf[900], *key;
	int64_t now = fsx_now_ns();
	bool dup;

	if (asprintf(&key, "%s: %s", path,
		     e && e->code ? err_format(e, buf, sizeof(buf)) : strerror(-rc)) < 0)
		return;
	pthread_mutex_lock(&el->lock);
	dup = el->last_once && !strcmp(el->last_once, key) &&
	      now - el->last_once_ns < (int64_t)FSX_ERRLOG_ONCE_S * 1000000000;
	if (!dup) {
		free(el->last_once);
		el->last_once = key;
		el->last_once_ns = now;
		key = NULL;
	}
	pthread_mutex_unlock(&el->lock);
	free(key);
	if (!dup)
		errlog_err(fs, path, e, rc);
}

int errlog_snapshot(struct fsx *fs, char **buf, size_t *len)
{
	struct errlog *el = &fs->errlog;
	size_t i, off = 0;
	char *b;

	pthread_mutex_lock(&el->lock);
	b = malloc(el->bytes + 1);
	if (!b) {
		pthread_mutex_unlock(&el->lock);
		return -ENOMEM;
	}
	for (i = 0; i < el->n; i++) {
		const char *l = el->line[(el->head + i) % FSX_ERRLOG_LINES];
		size_t n = strlen(l);

		memcpy(b + off, l, n);
		off += n;
	}
	pthread_mutex_unlock(&el->lock);
	b[off] = 0;
	*buf = b;
	*len = off;
	return 0;
}

size_t errlog_size(struct fsx *fs, int64_t *mtime_ns)
{
	size_t n;

	pthread_mutex_lock(&fs->errlog.lock);
	n = fs->errlog.bytes;
	*mtime_ns = fs->errlog.mtime_ns ? fs->errlog.mtime_ns : fs->start_ns;
	pthread_mutex_unlock(&fs->errlog.lock);
	return n;
}
