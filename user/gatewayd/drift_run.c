// SPDX-License-Identifier: GPL-2.0
/*
 * drift_run.c - the drift check's loop side (drift.h; docs/controller.md
 * "The drift check on a worker thread"): the handoff (the text of the
 * enforced generation, a copy-on-write copy of the applier's record of the
 * live half), the result (judged by the stale-result rule; a repair is a
 * full re-apply of what is enforced then, never of the worker's compile),
 * the worker's last-known-good put in place when nothing newer was written
 * meanwhile, and the schedule. The loop keeps serving events while the
 * worker runs.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp/apply.h"
#include "gatewayd/daemon.h"
#include "gatewayd/drift.h"
#include "gatewayd/lkg.h"
#include "lib/fsutil.h"
#include "lib/log.h"

/* Where the worker writes the LKG of its generation, beside the real one:
 * the loop renames it into place (same file system). */
#define DRIFT_LKG_DIR "drift-lkg"

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

unsigned int nn_gwd_drift_test_delay(void)
{
	const char *s = getenv("NN_TEST_DRIFT_DELAY_MS");

	return s ? (unsigned int)strtoul(s, NULL, 10) : 0;
}

void nn_gwd_drift_reapply(struct daemon *d)
{
	struct nn_errlist errs = {};
	struct nn_apply_result res;
	char m[NN_CTL_MSG_MAX] = "";

	const struct nn_held *doc = nn_gwd_good_doc(d);

	if (!d->good)
		return;
	if (d->good_text) {
		nn_gwd_apply_text(d, d->good_text, d->good_len, "drift");
		return;
	}
	if (doc) {
		nn_gwd_apply_doc(d, doc, NULL, 0, "drift");
		return;
	}
	nn_gwd_barrier_wait(&d->barrier);
	nn_log_info("event=drift_reapply from=policy generation=%llu note=\"the "
		    "text of the enforced generation is not held\"",
		    (unsigned long long)d->good->generation);
	if (nn_apply(d->dp, d->good, &res, &errs) != NN_APPLY_APPLIED ||
	    nn_gwd_apply_rest(d, d->good, "drift", m, sizeof(m)))
		nn_log_err("event=apply_failed trigger=drift reason=\"%s\"",
			   errs.n ? errs.msgs[0] : m);
	else
		d->change_seq++;
	nn_errlist_free(&errs);
}

int64_t nn_gwd_drift_interval_ms(unsigned int resync_s, double last_cpu_ms)
{
	int64_t base = (int64_t)resync_s * 1000;
	double scaled = last_cpu_ms * NN_DRIFT_CPU_FACTOR;

	if (!(scaled > (double)base)) /* also NaN */
		return base;
	/* a day at most: the timer must still come round */
	return scaled > 86400e3 ? 86400000 : (int64_t)scaled;
}

void nn_gwd_drift_done(struct daemon *d, double cpu)
{
	d->drift_cpu_ms = cpu;
	d->drift_interval_ms = nn_gwd_drift_interval_ms(d->o->resync_s, d->drift_cpu_ms);
	/* Every tick while it is cheap; else its own turn. */
	d->next_drift = d->drift_interval_ms > (int64_t)d->o->resync_s * 1000 ?
				nn_gwd_now_ms() + d->drift_interval_ms :
				0;
	pthread_mutex_lock(&d->st.mu);
	d->st.drift_cpu_s = d->drift_cpu_ms / 1e3;
	d->st.drift_interval_s = (double)d->drift_interval_ms / 1e3;
	pthread_mutex_unlock(&d->st.mu);
	if (d->drift_interval_ms > (int64_t)d->o->resync_s * 1000)
		nn_log_info("event=drift_check cpu_ms=%.0f next_in_s=%.0f resync_s=%u note=\"the "
			    "re-apply's interval grows with its cost (%dx its CPU)\"",
			    d->drift_cpu_ms, (double)d->drift_interval_ms / 1e3, d->o->resync_s,
			    NN_DRIFT_CPU_FACTOR);
}

/* The record of the live half, copied for the worker (copy-on-write: no
 * entry is copied now). False without a record of the live epoch. */
static bool copy_record(struct daemon *d, struct nn_drift_job *j)
{
	struct nn_apply_cache *c = d->dp->apply_cache;
	uint32_t live;
	int s;

	if (!c || nn_live_epoch(d->dp, &j->epoch) || !j->epoch || c->epoch != j->epoch)
		return false;
	live = NN_SLOT(j->epoch);
	j->max_rules = c->max_rules;
	j->rules = malloc((size_t)c->max_rules * sizeof(*j->rules) + 1);
	if (!j->rules)
		return false;
	memcpy(j->rules, c->rules[live], (size_t)c->max_rules * sizeof(*j->rules));
	for (s = 0; s < SET_COUNT; s++)
		if (nn_ftab_copy(&j->rec[s], &c->have[s][live]))
			return false;
	return true;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NN_ADDR_LEN);
}

bool nn_gwd_drift_begin(struct daemon *d)
{
	struct nn_drift_job *j;
	char dir[4096];
	bool text;
	int err;

	int64_t t0 = nn_gwd_now_ms();

	if (d->drift_job)
		return true;
	if (d->drift_fd < 0 || !d->good)
		return false;
	/* The worker rebuilds the text from the LKG and its journal when they
	 * hold the enforced generation; else the loop serialises it now. */
	text = d->lkg_stale || d->drift_text_loop;
	if (text && !d->good_text && !nn_gwd_good_doc(d))
		return false;
	j = calloc(1, sizeof(*j));
	if (!j)
		return false;
	for (int s = 0; s < SET_COUNT; s++)
		nn_ftab_init(&j->rec[s], 1, 1);
	if (!copy_record(d, j))
		goto fail;
	if (text && !d->good_text) {
		/* the worker's own copy (the document changes with the next
		 * delta), made on the loop: 0.2 s at 100k devices */
		j->text = nn_held_dump(nn_gwd_good_doc(d)->d.root, &j->len);
		if (!j->text)
			goto fail;
	} else if (text) {
		j->text = malloc(d->good_len + 1);
		if (!j->text)
			goto fail;
		memcpy(j->text, d->good_text, d->good_len);
		j->text[d->good_len] = 0;
		j->len = d->good_len;
	} else {
		j->lkg_from = strdup(d->o->state_dir);
		j->lkg_max = d->o->max_snapshot ? d->o->max_snapshot : NN_LKG_DEFAULT_MAX;
		if (!j->lkg_from)
			goto fail;
	}
	d->drift_text_ms = (double)(nn_gwd_now_ms() - t0);
	j->generation = d->good->generation;
	j->seq = d->change_seq;
	snprintf(j->node_id, sizeof(j->node_id), "%s",
		 d->o->node_id ? d->o->node_id : d->file_node_id);
	nn_limits_default(&j->lim);
	j->lim.max_devices = d->o->cap.max_devices;
	j->lim.max_rules = d->o->cap.max_rules;
	j->lim.max_prefixes = d->o->cap.max_prefixes;
	j->lim.max_nodes = d->o->cap.max_nodes;
	if (d->o->max_snapshot)
		j->lim.max_body = d->o->max_snapshot;
	j->caps.max_cells = d->dp->opts.cap.max_cells;
	j->caps.max_prefixes = d->dp->opts.cap.max_prefixes;
	j->compat = d->dp->cells_compat;
	j->dp = d->dp;
	j->full_seq = d->dp->full_seq;
	snprintf(dir, sizeof(dir), "%s/%s", d->o->state_dir, DRIFT_LKG_DIR);
	j->state_dir = strdup(dir);
	j->delay_ms = nn_gwd_drift_test_delay();
	j->quit = &d->quit;
	j->wake_fd = d->drift_fd;
	err = j->state_dir ? nn_drift_job_start(j) : -ENOMEM;
	if (err) {
		nn_log_warn("event=drift_check error=\"couldn't start its worker: %s\" "
			    "note=\"re-applied on the loop\"",
			    strerror(-err));
		goto fail;
	}
	d->drift_job = j;
	d->n_drift_touched = 0;
	d->drift_journal_n = d->journal_n;
	d->drift_lkg_seq = d->lkg_seq;
	nn_log_debug("event=drift_check_started generation=%llu seq=%llu",
		     (unsigned long long)j->generation, (unsigned long long)j->seq);
	return true;
fail:
	free((char *)j->state_dir);
	nn_drift_job_finish(j);
	free(j);
	return false;
}

/* The worker's LKG of G into place, unless the loop wrote a newer one
 * since the handoff (a full apply's: G's would take it back); then the
 * journal loses what G holds. */
static void take_lkg(struct daemon *d, const struct nn_drift_job *j)
{
	char from[4096], to[4096], why[NN_CTL_MSG_MAX] = "";
	size_t kept = 0;
	int err;

	snprintf(from, sizeof(from), "%s/%s", j->state_dir, NN_LKG_FILE);
	if (j->outcome != NN_DRIFT_SAME && j->outcome != NN_DRIFT_DIFFER)
		return; /* the worker wrote none */
	if (j->lkg_err || d->lkg_seq != d->drift_lkg_seq) {
		if (j->lkg_err) {
			/* as the loop's own save: counted, in the status, retried */
			nn_log_err("event=lkg_save_failed generation=%llu error=\"%s\" note=\"the "
				   "dataplane keeps enforcing it; retried on the drift timer\"",
				   (unsigned long long)j->generation, j->lkg_why);
			nn_ctl_note_lkg_write(&d->st, 0, j->lkg_why);
			d->lkg_stale = true;
		}
		unlink(from);
		return;
	}
	snprintf(to, sizeof(to), "%s/%s", d->o->state_dir, NN_LKG_FILE);
	err = rename(from, to) ? -errno : nn_fsync_dir_of(to);
	if (err) {
		char m[NN_CTL_MSG_MAX];

		snprintf(m, sizeof(m), "%.150s: couldn't put %.150s in its place: %s", to, from,
			 strerror(-err));
		nn_log_err("event=lkg_save_failed generation=%llu error=\"%s\"",
			   (unsigned long long)j->generation, m);
		nn_ctl_note_lkg_write(&d->st, 0, m);
		d->lkg_stale = true;
		unlink(from);
		return;
	}
	if (d->lkg_stale)
		nn_log_info("event=lkg_saved generation=%llu dir=%s",
			    (unsigned long long)j->generation, d->o->state_dir);
	d->lkg_seq++;
	d->lkg_stale = false;
	d->lkg_gen = j->generation;
	d->lkg_has = true;
	nn_ctl_note_lkg_write(&d->st, j->generation, NULL);
	/* Entries appended since the handoff are newer than G: kept. */
	if (d->journal_n == d->drift_journal_n)
		err = nn_lkg_journal_reset(d->o->state_dir, why, sizeof(why));
	else
		err = nn_lkg_journal_trim(d->o->state_dir, j->generation, &kept, why, sizeof(why));
	if (err) {
		nn_log_warn("event=lkg_journal_trim_failed error=\"%s\"", why);
		return;
	}
	d->journal_n = d->journal_n - d->drift_journal_n;
	nn_log_debug("event=lkg_saved generation=%llu from=drift_worker journal_kept=%zu",
		     (unsigned long long)j->generation, kept);
}

void nn_gwd_drift_end(struct daemon *d)
{
	static const char *const names[] = { "pass", "repair", "stale", "failed" };
	struct nn_drift_job *j = d->drift_job;
	enum nn_drift_action a;
	double c0 = cpu_ms();
	int64_t w_end = nn_gwd_now_ms();
	struct mallinfo2 mi;
	uint64_t v;

	if (!j)
		return;
	/* Only the wakeup of this job is ever pending: drained here. */
	if (read(d->drift_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		nn_log_warn("event=drift_check error=\"wakeup: %s\"", strerror(errno));
	nn_drift_job_join(j); /* the worker has returned: no wait */
	d->drift_job = NULL;
	if (d->n_drift_touched)
		qsort(d->drift_touched, d->n_drift_touched, NN_ADDR_LEN, addr_cmp);
	nn_drift_filter(j, (const uint8_t(*)[NN_ADDR_LEN])d->drift_touched, d->n_drift_touched,
			d->dp->full_seq);
	a = nn_drift_verdict(j, d->change_seq);
	/* The LKG and journal did not come to the checked generation (a full
	 * apply rewrote them meanwhile, or they are behind): the next check
	 * takes the loop's text, soon; the one after goes back to them. */
	d->drift_text_loop = j->rebuild_failed;
	pthread_mutex_lock(&d->st.mu);
	d->st.drift_checks[a]++;
	pthread_mutex_unlock(&d->st.mu);
	if (a == NN_DRIFT_STALE)
		nn_log_info("event=drift_check_discarded generation=%llu reason=\"only counter "
			    "slots differed, and %llu changes arrived since: the slots were read "
			    "after them\" note=\"the policy entries were checked\"",
			    (unsigned long long)j->generation,
			    (unsigned long long)(d->change_seq - j->seq));
	take_lkg(d, j);
	if (a != NN_DRIFT_REPAIR && d->good && !d->pending) {
		/* wg0, the underlay port, the exit NAT: what the drift re-apply
		 * always reconciled (changes behind our back undone), cheap on
		 * the loop but for a large wg0's read */
		char m[NN_CTL_MSG_MAX] = "";

		if (nn_gwd_apply_rest(d, d->good, "drift", m, sizeof(m)))
			nn_log_err("event=apply_failed trigger=drift reason=\"%s\"", m);
	}
	if (a == NN_DRIFT_REPAIR && d->good && !d->pending) {
		/* What is enforced now, from scratch: never G's compile, which
		 * would take back what arrived since (a revocation). */
		nn_log_warn("event=drift_found generation=%llu differ=%zu slot_differ=%zu "
			    "map_differ=%zu action=reapply enforced=%llu",
			    (unsigned long long)j->generation, j->differ, j->slot_differ,
			    j->map_differ, (unsigned long long)d->good->generation);
		/* the record takes what the maps hold, so that the re-apply
		 * writes what differs (a repair is rare: on the loop) */
		nn_gwd_policy_record_check(d);
		nn_gwd_drift_reapply(d);
		/* (a pass wrote nothing: the standby half is as it was) */
		if (d->good && !d->pending)
			nn_gwd_standby_sync(d);
	}
	{
		double loop = d->drift_loop_ms + cpu_ms() - c0;

		pthread_mutex_lock(&d->st.mu);
		d->st.drift_loop_s = loop / 1e3;
		pthread_mutex_unlock(&d->st.mu);
		nn_ctl_note_apply_time(&d->st, NN_APPLY_KIND_DRIFT, loop / 1e3);
		nn_gwd_drift_done(d, loop + j->cpu_ms);
		if (j->rebuild_failed)
			d->next_drift = 0;
	}
	/* The heap after the check (the worker's transients freed; the job's
	 * record copy and results go just below): in use (what the controller
	 * holds: a growth here is kept state) apart from free but kept by
	 * malloc (retention, fragmentation), so that RSS under churn can be
	 * told apart (docs/controller.md "The loop under churn"). */
	mi = mallinfo2();
	/* pass is news only where the check is expensive (its own interval) */
	nn_log(a == NN_DRIFT_PASS ?
		       (d->drift_interval_ms > (int64_t)d->o->resync_s * 1000 ? NN_LOG_INFO :
										NN_LOG_DEBUG) :
	       a == NN_DRIFT_STALE ? NN_LOG_INFO :
				     NN_LOG_WARN,
	       "event=drift_checked result=%s generation=%llu changes_since=%llu differ=%zu "
	       "slot_differ=%zu map_differ=%zu%s rebuild_ms=%.0f parse_ms=%.0f compile_ms=%.0f "
	       "compare_ms=%.0f maps_ms=%.0f lkg_ms=%.0f worker_cpu_ms=%.0f handoff_ms=%.0f "
	       "text_ms=%.0f end_ms=%.0f heap_used_kb=%zu heap_free_kb=%zu%s%s%s",
	       names[a], (unsigned long long)j->generation,
	       (unsigned long long)(d->change_seq - j->seq), j->differ, j->slot_differ,
	       j->map_differ, j->map_stale ? " map_part=discarded" : "", j->rebuild_ms, j->parse_ms,
	       j->compile_ms, j->compare_ms, j->maps_ms, j->lkg_ms, j->cpu_ms, d->drift_hand_ms,
	       d->drift_text_ms, (double)(nn_gwd_now_ms() - w_end),
	       (mi.uordblks + mi.hblkhd) / 1024, mi.fordblks / 1024, j->msg[0] ? " first=\"" : "",
	       j->msg, j->msg[0] ? "\"" : "");
	nn_drift_job_finish(j);
	free((char *)j->state_dir);
	free(j);
}

void nn_gwd_drift_abort(struct daemon *d)
{
	struct nn_drift_job *j = d->drift_job;
	char from[4096];

	if (!j)
		return;
	atomic_store(&d->quit, 1);
	nn_drift_job_join(j);
	/* Stopping: the journal holds what G's file would; a later start
	 * replays it. */
	snprintf(from, sizeof(from), "%s/%s", j->state_dir, NN_LKG_FILE);
	unlink(from);
	nn_drift_job_finish(j);
	free((char *)j->state_dir);
	free(j);
	d->drift_job = NULL;
}
