// SPDX-License-Identifier: GPL-2.0
/*
 * apply_pipe.c - a large apply's wanted contents built and written on two
 * threads at once (apply_int.h, nn_ap_pipe_run).
 *
 * Built first and written after, the two steps each left a CPU idle: the
 * cells' tables (2.6M entries at 1M devices) took the helper twice as long
 * as the addresses' and prefixes' took this thread, which then waited; and
 * every 64k-entry write was cut in two halves joined before the next, so
 * the faster half waited for the slower. Here the writes are chunks taken
 * from a shared cursor by whichever thread is free: this thread writes the
 * addresses and prefixes while the helper still builds the cells, then
 * both write the cells. Each chunk diffs its entries against the record
 * of the half (as write_slot does) and writes what differs; deletions come
 * after every write of the apply (a map too full for the new generation
 * still fails the apply before anything of the old one is deleted).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "compile/compile.h"
#include "dp/apply_int.h"
#include "dp/batch.h"
#include "dp/srcfilter.h"
#include "lib/thread.h"
#include "lib/stamp.h"

/* Entries a thread diffs and writes at a time: few enough that the other
 * thread finds work until the end (and a chunk of cells buffers 6 MB),
 * enough that the lock and the system call are nothing beside them. */
#define PIPE_CHUNK 16384

struct pipe {
	struct nn_ap_pipe *pp;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool built[SET_COUNT]; /* the set's table is complete */
	bool begun;	       /* the source filter is begun: writes may start */
	bool failed;	       /* stop taking chunks */
	size_t next[SET_COUNT];
	int err;
	const char *what;
	size_t writes;
};

static bool is_cells(int set)
{
	return set == SET_CELLS || set == SET_CELLS4;
}

/* The first failure stops both threads and is the one told (@what: the
 * map, NULL while building). Called with the lock held. */
static void fail_locked(struct pipe *p, int err, const char *what)
{
	if (err && !p->failed) {
		p->failed = true;
		p->err = err;
		p->what = what;
	}
}

/* Mark the tables one thread built (@cells: the cells', else the rest)
 * and wake the other; @err stops both. */
static void built(struct pipe *p, bool cells, int err)
{
	int s;

	pthread_mutex_lock(&p->mu);
	for (s = 0; s < SET_COUNT; s++)
		if (is_cells(s) == cells)
			p->built[s] = true;
	fail_locked(p, err, NULL);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Diff entries [lo, hi) of @set's wanted table against the record and
 * write what differs. */
static int write_chunk(struct pipe *p, int set, size_t lo, size_t hi, struct nn_ap_kv *buf,
		       size_t *writes)
{
	const struct nn_ap_pipe *pp = p->pp;
	const struct mapset *ms = &pp->sets[set];
	int err;

	buf->n = 0;
	err = nn_ap_push_diff(buf, ms, set, pp->slot, &pp->want[set],
			      &pp->have->have[set][pp->slot & 1], lo, hi);
	if (!err && buf->n) {
		long long t0 = nn_stamp_on ? nn_stamp_thread_ns() : 0;

		err = nn_map_update_serial(ms->fd, buf->k, ms->ksz, buf->v, ms->vsz, buf->n);
		if (nn_stamp_on)
			nn_stamp_add(nn_set_defs[set].name, (long)buf->n,
				     nn_stamp_thread_ns() - t0);
	}
	if (!err)
		*writes += buf->n;
	return err;
}

/* Take chunks until every table is built and written (or something
 * failed). Sets are taken in their order, so the addresses go first. */
static void work(struct pipe *p)
{
	struct nn_ap_kv buf = {};
	size_t writes = 0;
	int err = 0, set = 0, buf_set = -1;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		bool waiting = false;
		size_t lo = 0, hi = 0;
		int s;

		fail_locked(p, err, nn_set_defs[set].name);
		if (p->failed)
			break;
		for (s = 0; s < SET_COUNT && !hi; s++) {
			if (!p->built[s] || !p->begun) {
				waiting = true;
				continue;
			}
			if (p->next[s] < p->pp->want[s].n) {
				set = s;
				lo = p->next[s];
				hi = lo + PIPE_CHUNK < p->pp->want[s].n ? lo + PIPE_CHUNK :
									  p->pp->want[s].n;
				p->next[s] = hi;
			}
		}
		if (!hi && !waiting)
			break; /* all taken */
		if (!hi) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		if (set != buf_set) /* sized for another map's keys and values */
			nn_ap_kv_free(&buf);
		buf_set = set;
		err = write_chunk(p, set, lo, hi, &buf, &writes);
		pthread_mutex_lock(&p->mu);
	}
	p->writes += writes;
	pthread_mutex_unlock(&p->mu);
	nn_ap_kv_free(&buf);
}

/* The helper: the cells' tables, their compiled entries freed (nothing
 * else reads them), then chunks. */
static void *cells_run(void *arg)
{
	struct pipe *p = arg;
	struct nn_compiled *c = p->pp->c;
	int err = nn_ap_want_cells(p->pp->want, c, p->pp->compat);

	nn_ap_drop_cells(c);
	built(p, true, err);
	nn_stamp("p.cells_built");
	work(p);
	nn_stamp("p.helper_done");
	return NULL;
}

/* Does @want hold a key @have lacks? (Stops at the first.) */
static bool any_new(const struct nn_ftab *want, const struct nn_ftab *have)
{
	size_t i;

	for (i = 0; i < want->n; i++)
		if (nn_ftab_find(have, nn_ftab_key(want, i)) < 0)
			return true;
	return false;
}

/* The source filter's half is begun before any write (srcfilter.h), and
 * its begin asks whether the writes add keys: the addresses' table alone
 * says yes as a rule (a cold apply adds every key); otherwise the cells'
 * are awaited. */
static int filter_begin(struct pipe *p)
{
	struct nn_ap_pipe *pp = p->pp;
	const struct nn_apply_cache *h = pp->have;
	uint32_t half = pp->slot & 1;
	bool adds = any_new(&pp->want[SET_ADDRS], &h->have[SET_ADDRS][half]);
	int err;

	if (!adds) {
		bool failed;

		pthread_mutex_lock(&p->mu);
		while (!p->built[SET_CELLS4] && !p->failed)
			pthread_cond_wait(&p->cv, &p->mu);
		failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (failed)
			return 0; /* the build's error is the one told */
		adds = any_new(&pp->want[SET_CELLS4], &h->have[SET_CELLS4][half]);
	}
	err = nn_srcf_begin(pp->dp, pp->slot, pp->covered, adds, pp->fo, &pp->writes);
	pthread_mutex_lock(&p->mu);
	p->begun = !err;
	fail_locked(p, err, "nn_srcf");
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int nn_ap_pipe_run(struct nn_ap_pipe *pp)
{
	struct pipe p = { .pp = pp };
	struct nn_compiled *c = pp->c;
	bool helper, failed;
	pthread_t t;
	int err, s;

	pp->built = false;
	pp->what = NULL;
	err = nn_ap_want_reserve(pp->want, c);
	if (err)
		return err;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	helper = nn_thread_start(&t, cells_run, &p);
	err = nn_ap_want_addrs(pp->want, c);
	nn_ap_drop_addrs(c);
	built(&p, false, err);
	nn_stamp("p.addrs_built");
	if (!helper) {
		/* One thread: the same steps in a row. */
		err = nn_ap_want_cells(pp->want, c, pp->compat);
		built(&p, true, err);
	}
	pthread_mutex_lock(&p.mu);
	failed = p.failed; /* the helper may be setting it */
	pthread_mutex_unlock(&p.mu);
	if (!failed)
		filter_begin(&p);
	nn_stamp("p.filter_begun");
	work(&p);
	if (helper)
		pthread_join(t, NULL);
	nn_stamp("p.written");
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	pp->writes += p.writes;
	pp->built = !p.failed || p.what;
	pp->what = p.what;
	for (s = 0; s < SET_COUNT && !p.failed; s++) {
		p.err = nn_ap_delete_stale(&pp->sets[s], s, pp->slot, &pp->want[s],
					   &pp->have->have[s][pp->slot & 1], &pp->writes);
		if (p.err) {
			p.failed = true;
			pp->what = nn_set_defs[s].name;
		}
	}
	nn_stamp("p.deleted");
	return p.failed ? p.err : 0;
}
