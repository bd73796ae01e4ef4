/*
 * instrumented.h - is this build or this run under a checking tool?
 *
 * Code that pools memory (fs/nodemem.c) must hand every object to the
 * tool that checks memory use, and tests that bound a time must scale
 * the bound when the tool makes everything slower (tests/check_index.c).
 * Both ask here:
 *   INSTR_ASAN      1 in an AddressSanitizer build
 *   INSTR_TSAN      1 in a ThreadSanitizer build
 *   instr_valgrind  true when running under valgrind (the client-request
 *                   header is optional: without it, false)
 */
#ifndef DYNFS_INSTRUMENTED_H
#define DYNFS_INSTRUMENTED_H

#include <stdbool.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if !defined(__has_feature)
#define INSTR_HAS_FEATURE(x) 0
#else
#define INSTR_HAS_FEATURE(x) __has_feature(x)
#endif

#if defined(__SANITIZE_ADDRESS__) || INSTR_HAS_FEATURE(address_sanitizer)
#define INSTR_ASAN 1
#else
#define INSTR_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__) || INSTR_HAS_FEATURE(thread_sanitizer)
#define INSTR_TSAN 1
#else
#define INSTR_TSAN 0
#endif

static inline bool instr_valgrind(void)
{
	return RUNNING_ON_VALGRIND != 0;
}

#endif
