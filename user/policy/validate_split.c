// SPDX-License-Identifier: GPL-2.0
/*
 * validate_split.c - the per-network work of validation (a network's users,
 * resources and devices; a network's ACL) on two threads, with exactly the
 * serial validator's messages, verdict and slots.
 *
 * Why that holds: a network's work reads only what was settled before it
 * (the document, the gateway block, the entries and cross checks for the
 * ACL) and writes only its own slots, whose places are fixed beforehand
 * (every element of a list takes a slot, valid or not, so a network's first
 * slot is the sum of the earlier networks' list sizes). What a job shares
 * with others is per thread here: the message list, the closed space, the
 * network's user index, the ACL's working sets. Each job's messages are
 * then put where the serial walk would have written them (after the
 * messages that came before its network, @at), jobs in network order, and
 * the first job that failed ends the list and sets the verdict, as the
 * serial walk stops at it: what later jobs wrote is thrown away.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/thread.h"
#include "policy/json_int.h"

/* From this much work (list elements of all networks), validation runs
 * on two threads: a thread's start is a fraction of a millisecond, 4096
 * devices' checks a few (the entries of ~180 networks at 100k devices were
 * ~160 ms serial, their ACLs ~145 ms). Tests lower it to 0. */
size_t nn_validate_par_min = 4096;
/* Tests: job k to thread k % 2 whatever the timing, so that both threads'
 * messages are merged even for the smallest snapshots. */
bool nn_validate_split_fixed;

/* The jobs, handed out in order to whichever thread is free: networks
 * differ in cost by more than their sizes say (a rule's groups expand to
 * their devices), so a fixed halving left one thread with 60 %. */
struct queue {
	struct nn_vjob *jobs;
	size_t n;
	atomic_size_t next;
	atomic_size_t fail_at; /* lowest failed job, n while none */
	nn_vjob_fn fn;
};

struct side {
	struct nn_build tb; /* the caller's, with its own messages and closed space */
	struct nn_errlist errs;
	struct queue *q;
	void *arg;
	int id;
};

static void run_side(struct side *s)
{
	struct queue *q = s->q;
	size_t k, f;

	for (k = (size_t)s->id;; k += 2) {
		struct nn_vjob *j;

		if (!nn_validate_split_fixed)
			k = atomic_fetch_add(&q->next, 1);
		/* Past the end, or past a failed job: the serial walk had
		 * stopped before this one. */
		if (k >= q->n || k >= atomic_load(&q->fail_at))
			return;
		j = &q->jobs[k];
		j->side = s->id;
		j->msg_first = nn_nerrs(&s->tb);
		j->err = q->fn(&s->tb, j, s->arg);
		j->msg_end = nn_nerrs(&s->tb);
		j->done = true;
		if (!j->err)
			continue;
		f = atomic_load(&q->fail_at);
		while (k < f && !atomic_compare_exchange_weak(&q->fail_at, &f, k))
			;
	}
}

static void *side_run(void *arg)
{
	run_side(arg);
	return NULL;
}

/* The jobs' messages into @b->errs in the serial order; the first failed
 * job's error, or -ENOMEM when the merged list cannot be made. */
static int merge_msgs(struct nn_build *b, struct nn_vjob *jobs, size_t n, struct side *sd)
{
	struct nn_errlist *e = b->errs;
	size_t stop = n, n0, total, i, k, m = 0;
	int err = 0;
	char **v;

	for (k = 0; k < n; k++)
		if (jobs[k].err || !jobs[k].done) {
			stop = k;
			err = jobs[k].err ?: -ENOMEM;
			break;
		}
	if (!e)
		return err;
	n0 = e->n;
	/* Out of memory in a job: the serial walk wrote nothing after it. */
	if (stop < n && err == -ENOMEM && jobs[stop].at < n0)
		n0 = jobs[stop].at;
	total = n0;
	for (k = 0; k < n && k <= stop; k++)
		total += jobs[k].msg_end - jobs[k].msg_first;
	v = malloc((total + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0, k = 0; k < n && k <= stop; k++) {
		struct nn_errlist *se = &sd[jobs[k].side].errs;
		size_t x;

		while (i < n0 && i < jobs[k].at)
			v[m++] = e->msgs[i++];
		for (x = jobs[k].msg_first; x < jobs[k].msg_end; x++) {
			v[m++] = se->msgs[x];
			se->msgs[x] = NULL; /* moved */
		}
	}
	while (i < n0)
		v[m++] = e->msgs[i++];
	for (; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = v;
	e->n = m;
	e->cap = total + 1;
	return err;
}

int nn_split_jobs(struct nn_build *b, struct nn_vjob *jobs, size_t n, nn_vjob_fn fn, void *arg[2])
{
	struct queue q = { .jobs = jobs, .n = n, .fn = fn };
	struct side sd[2] = {};
	bool par = false;
	pthread_t t;
	size_t i, k;
	int err;

	atomic_init(&q.next, 0);
	atomic_init(&q.fail_at, n);
	for (i = 0; i < n; i++) {
		jobs[i].done = false;
		jobs[i].err = 0;
	}
	for (k = 0; k < 2; k++) {
		sd[k].tb = *b;
		sd[k].tb.errs = b->errs ? &sd[k].errs : NULL;
		sd[k].tb.closed = NULL;
		sd[k].tb.n_closed = sd[k].tb.cap_closed = 0;
		sd[k].tb.net_users = NULL;
		sd[k].q = &q;
		sd[k].arg = arg[k];
		sd[k].id = (int)k;
	}
	if (n > 1)
		par = nn_thread_start(&t, side_run, &sd[1]);
	run_side(&sd[0]);
	if (par)
		pthread_join(t, NULL);
	err = merge_msgs(b, jobs, n, sd);
	for (k = 0; k < 2; k++) {
		for (i = 0; !err && i < sd[k].tb.n_closed; i++)
			err = nn_close_prefix(b, &sd[k].tb.closed[i]);
		free(sd[k].tb.closed);
		nn_errlist_free(&sd[k].errs);
	}
	return err;
}
