/* SPDX-License-Identifier: GPL-2.0 */
/*
 * thread.h - a second CPU for one step of a large apply (the kernel's map
 * inserts, the compiler's source classes): a helper thread that blocks
 * every signal (the daemon's handlers belong to its own threads), started
 * only where more than one CPU is online.
 */
#ifndef NANAMI_LIB_THREAD_H
#define NANAMI_LIB_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Start @fn(@arg) on a helper thread: true when it runs (join it with
 * pthread_join), false on a single-CPU machine or when no thread could be
 * made: the caller then does the work itself. */
bool nn_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif /* NANAMI_LIB_THREAD_H */
