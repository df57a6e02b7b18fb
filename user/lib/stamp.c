// SPDX-License-Identifier: GPL-2.0
/* stamp.c - see stamp.h. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/stamp.h"

bool nn_stamp_on;

struct stamp {
	const char *what;
	long tid;
	long long mono, thread, proc, sys;
	long minflt;
};

/* A profile's handful of phases: more stamps than this are dropped. */
#define STAMP_MAX 256

static struct stamp stamps[STAMP_MAX];
static unsigned int n_stamps;

struct total {
	const char *what;
	long n;
	long long ns;
};

#define TOTAL_MAX 32

static struct total totals[TOTAL_MAX];
static pthread_mutex_t totals_mu = PTHREAD_MUTEX_INITIALIZER;

/* Read the environment once, before main(): no lock on the fast path. */
__attribute__((constructor)) static void stamp_init(void)
{
	nn_stamp_on = getenv("NN_STAMP") != NULL;
}

static long long ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void nn_stamp_at(const char *what)
{
	unsigned int i = __atomic_fetch_add(&n_stamps, 1, __ATOMIC_RELAXED);
	struct rusage ru;
	struct stamp *s;

	if (i >= STAMP_MAX)
		return;
	s = &stamps[i];
	getrusage(RUSAGE_SELF, &ru);
	s->what = what;
	s->tid = syscall(SYS_gettid);
	s->mono = ns_of(CLOCK_MONOTONIC);
	s->thread = ns_of(CLOCK_THREAD_CPUTIME_ID);
	s->proc = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	s->sys = ru.ru_stime.tv_sec * 1000000000LL + ru.ru_stime.tv_usec * 1000LL;
	s->minflt = ru.ru_minflt;
}

long long nn_stamp_thread_ns(void)
{
	return ns_of(CLOCK_THREAD_CPUTIME_ID);
}

void nn_stamp_add_at(const char *what, long n, long long ns)
{
	int i;

	pthread_mutex_lock(&totals_mu);
	for (i = 0; i < TOTAL_MAX; i++)
		if (!totals[i].what || totals[i].what == what) {
			totals[i].what = what;
			totals[i].n += n;
			totals[i].ns += ns;
			break;
		}
	pthread_mutex_unlock(&totals_mu);
}

void nn_stamp_dump(FILE *f)
{
	unsigned int i, n = __atomic_load_n(&n_stamps, __ATOMIC_ACQUIRE);
	const struct stamp *s, *prev, *mine;
	unsigned int j;

	if (n > STAMP_MAX)
		n = STAMP_MAX;
	fprintf(f, "# stamp: tid what at_ms wall_ms thread_ms proc_ms sys_ms minflt mono_ns\n");
	for (i = 0; i < n; i++) {
		s = &stamps[i];
		prev = i ? &stamps[i - 1] : s;
		/* the thread's CPU since its own previous stamp */
		for (j = i, mine = s; j-- > 0;)
			if (stamps[j].tid == s->tid) {
				mine = &stamps[j];
				break;
			}
		fprintf(f, "stamp %ld %-28s %9.1f %8.1f %8.1f %8.1f %8.1f %8ld %lld\n", s->tid,
			s->what, (s->mono - stamps[0].mono) / 1e6, (s->mono - prev->mono) / 1e6,
			(s->thread - mine->thread) / 1e6, (s->proc - prev->proc) / 1e6,
			(s->sys - prev->sys) / 1e6, s->minflt - prev->minflt, s->mono);
	}
	n_stamps = 0;
	pthread_mutex_lock(&totals_mu);
	for (i = 0; i < TOTAL_MAX && totals[i].what; i++) {
		fprintf(f, "total %-28s %10ld %9.1f ms %7.0f ns each\n", totals[i].what,
			totals[i].n, totals[i].ns / 1e6,
			totals[i].n ? (double)totals[i].ns / totals[i].n : 0.0);
		totals[i].what = NULL;
		totals[i].n = totals[i].ns = 0;
	}
	pthread_mutex_unlock(&totals_mu);
}
