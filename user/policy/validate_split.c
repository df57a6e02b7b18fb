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
#include <stdlib.h>

#include "lib/thread.h"
#include "policy/json_int.h"

/* From this much work (list elements of all networks), validation runs
 * on two threads (the entries of ~180 networks at 100k devices, ~160 ms
 * serial; their ACLs ~145 ms). Tests lower it to 0. */
size_t nn_validate_par_min = 8192;

struct side {
	struct nn_build tb; /* the caller's, with its own messages and closed space */
	struct nn_errlist errs;
	struct nn_vjob *jobs;
	size_t n;
	nn_vjob_fn fn;
	void *arg;
	bool failed;
};

static void run_side(struct side *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct nn_vjob *j = &s->jobs[i];

		j->msg_first = nn_nerrs(&s->tb);
		j->err = s->fn(&s->tb, j, s->arg);
		j->msg_end = nn_nerrs(&s->tb);
		j->done = true;
		/* The serial walk stops here: nothing later counts. */
		if (j->err) {
			s->failed = true;
			break;
		}
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
	struct side sd[2] = {};
	size_t total = 0, acc = 0, s, i, k;
	bool par = false;
	pthread_t t;
	int err;

	for (i = 0; i < n; i++)
		total += jobs[i].weight;
	/* The first side takes the networks up to half of the work. */
	for (s = 0; s < n && 2 * acc < total; s++)
		acc += jobs[s].weight;
	if (!s)
		s = n / 2;
	for (k = 0; k < 2; k++) {
		sd[k].tb = *b;
		sd[k].tb.errs = b->errs ? &sd[k].errs : NULL;
		sd[k].tb.closed = NULL;
		sd[k].tb.n_closed = sd[k].tb.cap_closed = 0;
		sd[k].tb.net_users = NULL;
		sd[k].fn = fn;
		sd[k].arg = arg[k];
	}
	sd[0].jobs = jobs;
	sd[0].n = s;
	sd[1].jobs = jobs + s;
	sd[1].n = n - s;
	for (i = 0; i < n; i++) {
		jobs[i].side = i >= s;
		jobs[i].done = false;
		jobs[i].err = 0;
	}
	if (sd[1].n)
		par = nn_thread_start(&t, side_run, &sd[1]);
	run_side(&sd[0]);
	if (par)
		pthread_join(t, NULL);
	else if (sd[1].n && !sd[0].failed)
		run_side(&sd[1]);
	err = merge_msgs(b, jobs, n, sd);
	for (k = 0; k < 2; k++) {
		for (i = 0; !err && i < sd[k].tb.n_closed; i++)
			err = nn_close_prefix(b, &sd[k].tb.closed[i]);
		free(sd[k].tb.closed);
		nn_errlist_free(&sd[k].errs);
	}
	return err;
}
