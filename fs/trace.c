/* trace.c - the diagnostic build's event log and delays (trace.h). */
#include "trace.h"

#ifdef FSX_TRACE
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int trace_fd = -2;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct {
	char name[32];
	long us;
} delays[16];
static int ndelays;

static void init(void)
{
	const char *p = getenv("DYNFS_TRACE"), *d = getenv("DYNFS_DELAY");

	trace_fd = p ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	while (d && *d && ndelays < 16) {
		const char *c = strchr(d, ':'), *e;

		if (!c || c - d >= 32)
			break;
		memcpy(delays[ndelays].name, d, (size_t)(c - d));
		delays[ndelays].us = strtol(c + 1, NULL, 10);
		ndelays++;
		e = strchr(c, ',');
		d = e ? e + 1 : NULL;
	}
}

void fsx_trace(const char *fmt, ...)
{
	char buf[512];
	struct timespec ts;
	va_list ap;
	int n;

	pthread_once(&once, init);
	if (trace_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof(buf), "%lld %ld ",
		     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (long)syscall(SYS_gettid));
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(trace_fd, buf, (size_t)n) < 0)
		return;
}

void fsx_delay(const char *point)
{
	static __thread unsigned seed;
	int i;

	pthread_once(&once, init);
	for (i = 0; i < ndelays; i++)
		if (!strcmp(delays[i].name, point) && delays[i].us > 0) {
			if (!seed)
				seed = (unsigned)syscall(SYS_gettid) * 2654435761u;
			usleep((useconds_t)(rand_r(&seed) % delays[i].us));
		}
}
#endif
