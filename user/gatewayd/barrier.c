// SPDX-License-Identifier: GPL-2.0
/*
 * barrier.c - the RCU barrier after a fast-path flip, waited in a thread
 * of its own (daemon.h, struct nn_gwd_barrier).
 *
 * Enforcement starts at the flip; the barrier (one synchronize_rcu in the
 * kernel, 8-20 ms here) only guards the next write of the half that was
 * live before it. Waited inline it was most of a one-device change's
 * wall time; waited here, it is done long before the next change in all
 * but bursts, and the next writer only waits for what is left of it.
 */
#include <errno.h>
#include <string.h>

#include "gatewayd/daemon.h"
#include "lib/log.h"

static void *barrier_main(void *arg)
{
	struct nn_gwd_barrier *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		uint64_t r;
		int err;

		while (!b->quit && b->done >= b->req)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->quit)
			break;
		r = b->req;
		pthread_mutex_unlock(&b->mu);
		/* Started after flip number r: every program that could read
		 * the old half has finished when it returns. */
		err = nn_dp_barrier(b->dp);
		pthread_mutex_lock(&b->mu);
		b->err = err;
		b->done = r;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int nn_gwd_barrier_start(struct nn_gwd_barrier *b, struct nn_dp *dp)
{
	int err;

	b->dp = dp;
	b->req = b->done = 0;
	b->quit = false;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	err = pthread_create(&b->th, NULL, barrier_main, b);
	b->started = !err;
	return -err;
}

void nn_gwd_barrier_request(struct nn_gwd_barrier *b)
{
	if (!b->started)
		return; /* the dataplane's own settle waits it inline */
	pthread_mutex_lock(&b->mu);
	b->req++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void nn_gwd_barrier_wait(struct nn_gwd_barrier *b)
{
	int err;

	if (!b->started || !b->dp->barrier_due)
		return;
	pthread_mutex_lock(&b->mu);
	while (b->done < b->req)
		pthread_cond_wait(&b->cv, &b->mu);
	err = b->err;
	pthread_mutex_unlock(&b->mu);
	/* A failed one leaves the barrier due: the writer's own settle
	 * (dp/apply.h) tries again and fails the write if it must. */
	if (!err)
		b->dp->barrier_due = false;
	else
		nn_log_warn("event=rcu_barrier error=\"%s\"", strerror(-err));
}

void nn_gwd_barrier_stop(struct nn_gwd_barrier *b)
{
	if (!b->started)
		return;
	nn_gwd_barrier_wait(b);
	pthread_mutex_lock(&b->mu);
	b->quit = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	b->started = false;
}
