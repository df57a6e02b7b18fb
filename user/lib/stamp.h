/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stamp.h - a timeline of one large apply by phase, for profiling only:
 * with NN_STAMP set in the environment, nn_stamp("what") records the wall
 * clock (CLOCK_MONOTONIC, the clock `perf record -k CLOCK_MONOTONIC`
 * stamps its samples with, so samples can be binned by phase), the
 * calling thread's CPU, the process's CPU, its system time and its minor
 * faults; nn_stamp_dump() prints them, one line a stamp. Without NN_STAMP a
 * stamp is one load and a branch: the stamps stay in the tree, where the
 * cold apply's phases are (docs/controller.md "Cold apply (session 17)").
 */
#ifndef NANAMI_LIB_STAMP_H
#define NANAMI_LIB_STAMP_H

#include <stdbool.h>
#include <stdio.h>

extern bool nn_stamp_on;

void nn_stamp_at(const char *what);

/* Record that the calling thread reached @what (a string literal). */
static inline void nn_stamp(const char *what)
{
	if (__builtin_expect(nn_stamp_on, 0))
		nn_stamp_at(what);
}

void nn_stamp_add_at(const char *what, long n, long long ns);

/* The calling thread's CPU time, ns (for nn_stamp_add). */
long long nn_stamp_thread_ns(void);

/* Add @n items and @ns of CPU to the total named @what (a string that
 * outlives the dump: a literal, a map's name), e.g. the entries written
 * into one map and the writers' CPU for them. */
static inline void nn_stamp_add(const char *what, long n, long long ns)
{
	if (__builtin_expect(nn_stamp_on, 0))
		nn_stamp_add_at(what, n, ns);
}

/* Print the stamps recorded so far to @f and forget them: per stamp the
 * time since the first (ms) and since the last, the thread's CPU since
 * its own last stamp, the process's and the system's CPU and the minor
 * faults since the last stamp, and the monotonic time (ns, for binning
 * perf samples); then the totals of nn_stamp_add. */
void nn_stamp_dump(FILE *f);

#endif /* NANAMI_LIB_STAMP_H */
