/*
 * trace.h - a diagnostic daemon (`make trace`: build/trace/dynfs, built
 * with -DFSX_TRACE); compiled out of every other build.
 *
 *   DYNFS_TRACE=FILE   one line per event appended to FILE:
 *                      "<CLOCK_MONOTONIC ns> <tid> EVENT ...": requests'
 *                      starts and the attributes they reply (LOOKUP,
 *                      GETATTR, RDP: readdirplus entries), the observer's
 *                      inline invalidation (OBS: inode, its result),
 *                      the invalidation queue (IQ queued, IRUN done),
 *                      settles, _batch and _tx writes, FORGETs;
 *   DYNFS_DELAY=P:US,...  a random sleep of up to US microseconds at
 *                      point P, to widen a race window: lookup, getattr,
 *                      rdp (after the attributes were read, before the
 *                      reply), inval (before the invalidation thread's
 *                      notification), obs (before the inline one).
 *
 * tests/e2e/visibility.py reports a stale answer with the same clock's
 * times of the write and the stat, to find them in the trace.
 */
#ifndef DYNFS_FS_TRACE_H
#define DYNFS_FS_TRACE_H

#ifdef FSX_TRACE
void fsx_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fsx_delay(const char *point);
#else
#define fsx_trace(...) ((void)0)
#define fsx_delay(p) ((void)0)
#endif

#endif
