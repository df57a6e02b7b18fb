// SPDX-License-Identifier: GPL-2.0
/* thread.c - see thread.h. */
#include <signal.h>
#include <unistd.h>

#include "lib/thread.h"

static pthread_once_t cpus_once = PTHREAD_ONCE_INIT;
static bool cpus_many;

static void cpus_ask(void)
{
	cpus_many = sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

bool nn_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	pthread_once(&cpus_once, cpus_ask);
	if (!cpus_many)
		return false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return !err;
}
