/*
 * timing.h - the clocks and the sort every bench program times with
 * (header-only: each program is one .c file built on its own).
 *
 *   clk(id)   a clock (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID...) in s
 *   now_us()  the monotonic clock in microseconds
 *   cmp_d     qsort() comparison of doubles, for medians and percentiles
 */
#ifndef DYNFS_BENCH_TIMING_H
#define DYNFS_BENCH_TIMING_H

#include <time.h>

static inline double clk(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double now_us(void)
{
	return clk(CLOCK_MONOTONIC) * 1e6;
}

static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
