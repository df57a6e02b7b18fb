// SPDX-License-Identifier: GPL-2.0
/*
 * incremental.c - the controller's fast path for device deltas (issue 13,
 * docs/controller.md "The incremental path in the daemon").
 *
 * After every full apply in control-plane mode the daemon keeps the
 * compile state and the policy (struct nn_inc, compile/delta.h) next to
 * the client's held document. A fetched delta then goes, when it can,
 * through nn_inc_delta() (O(change), the same messages as a full snapshot
 * or a refusal), one fsync'd append to the LKG journal, and
 * nn_apply_patch() (a handful of map writes): no text, no parse, no
 * compile. Anything else -- no kept state, a full snapshot, a delta whose
 * base is not the enforced generation, any refusal or failure -- drops the
 * kept state and the caller takes the full path with the same fetch.
 *
 * Ownership: one owner for the enforced policy. With kept state it is the
 * kept state's (patched by every fast-path change) and d->good points
 * into it; dropping the kept state hands it back (nn_inc_take_policy) to
 * d->good_own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatewayd/daemon.h"
#include "gatewayd/drift.h"
#include "gatewayd/lkg.h"
#include "lib/log.h"

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The full path's limits (apply_text's), for the kept state's checks. */
static void limits_of(const struct daemon *d, struct nn_limits *lim)
{
	nn_limits_default(lim);
	lim->max_devices = d->o->cap.max_devices;
	lim->max_rules = d->o->cap.max_rules;
	lim->max_prefixes = d->o->cap.max_prefixes;
	lim->max_nodes = d->o->cap.max_nodes;
	if (d->o->max_snapshot)
		lim->max_body = d->o->max_snapshot;
}

static void count(struct daemon *d, uint64_t *what)
{
	pthread_mutex_lock(&d->st.mu);
	(*what)++;
	pthread_mutex_unlock(&d->st.mu);
}

void nn_gwd_good_free(struct daemon *d)
{
	nn_inc_free(d->inc);
	nn_policy_free(d->good_own);
	d->inc = NULL;
	d->good_own = NULL;
	d->good = NULL;
}

void nn_gwd_inc_drop(struct daemon *d, const char *why)
{
	if (!d->inc)
		return;
	d->good_own = nn_inc_take_policy(d->inc);
	d->good = d->good_own;
	d->inc = NULL;
	nn_log_info("event=kept_state_dropped reason=\"%s\"", why);
}

static void free_kept(struct nn_apply_kept *kept)
{
	struct nn_slot_plan none = {};

	nn_compile_state_free(kept->cs);
	kept->cs = NULL;
	nn_slots_free(&kept->slots, &none);
}

void nn_gwd_take_full(struct daemon *d, struct nn_policy *p, struct nn_apply_kept *kept,
		      bool flipped, const char *why)
{
	struct nn_held *doc = d->cp ? nn_cp_client_doc(d->cp) : NULL;
	struct nn_limits lim;
	double t0, c0;

	/* The drift re-apply of the enforced generation that wrote nothing:
	 * maps and class numbers are those the kept state was built on. */
	if (d->inc && !flipped && !strcmp(why, "drift") && d->good &&
	    p->generation == d->good->generation && d->inc_seq == d->dp->full_seq) {
		nn_policy_free(p);
		free_kept(kept);
		return;
	}
	nn_gwd_good_free(d);
	d->good_own = p;
	d->good = p;
	/* Kept state only on the document this policy was parsed from (the
	 * fetch just made; not a last-known-good nor a file). */
	if (!kept->cs || !doc || nn_held_generation(doc) != (long long)p->generation) {
		free_kept(kept);
		return;
	}
	limits_of(d, &lim);
	t0 = wall_ms();
	c0 = cpu_ms();
	d->inc = nn_inc_new(p, kept->cs, &kept->slots, kept->slot_cap, kept->seq, doc, &lim);
	kept->cs = NULL;
	free_kept(kept);
	if (!d->inc) {
		/* nn_inc_new() freed the policy: validate the document (at
		 * its generation, checked above) again. */
		struct nn_errlist errs = {};
		const char *node = d->o->node_id ? d->o->node_id : d->o->cp.node_id;

		d->good_own = NULL;
		d->good = NULL;
		nn_log_err("event=kept_state_failed error=\"%s\" note=\"full path only\"",
			   strerror(ENOMEM));
		if (!nn_held_policy(doc, NULL, 0, node, &lim, &d->good_own, &errs))
			d->good = d->good_own;
		nn_errlist_free(&errs);
		return;
	}
	d->good_own = NULL; /* the kept state owns it now */
	d->good = nn_inc_policy(d->inc);
	d->inc_seq = kept->seq;
	nn_log_info("event=kept_state_built generation=%llu devices=%zu wall_ms=%.0f cpu_ms=%.0f",
		    (unsigned long long)p->generation, d->good->n_devices, wall_ms() - t0,
		    cpu_ms() - c0);
}

/* One chunk of a delta as a delta document of its own, for the journal:
 * since @base, landing on @gen (the base again for all but the last). */
static char *delta_text(const json_t *chunk, long long base, long long gen, size_t *len)
{
	json_t *j = json_pack("{s:I, s:I, s:b, s:O}", "generation", (json_int_t)gen, "since",
			      (json_int_t)base, "full", 0, "changes", chunk);
	char *t = j ? nn_cp_dump(j, len) : NULL;

	json_decref(j);
	return t;
}

/* A change the kept state took but the maps did not: its policy is ahead
 * of them (what the control plane wants, valid), and the full path that
 * follows applies the same generation. */
static void abandon(struct daemon *d, const char *what, const char *why)
{
	nn_log_warn("event=fast_path_failed step=%s reason=\"%s\" action=full_path", what, why);
	count(d, &d->st.fast_fallbacks);
	nn_gwd_inc_drop(d, what);
}

/*
 * The end (exclusive) of the chunk of @changes starting at @from: at most
 * NN_INC_CHUNK changes, no device id twice (nn_inc_delta takes a set of
 * independent changes). A delta that coalesces many generations -- the
 * controller was busy, or came back -- goes through in several patches
 * instead of falling back to the full path, whose seconds at 100k would
 * let the next delta grow further.
 */
#define NN_INC_CHUNK 64
static size_t chunk_end(const json_t *changes, size_t from)
{
	size_t n = json_array_size(changes), i, j;

	for (i = from; i < n && i - from < NN_INC_CHUNK; i++) {
		const char *id =
			json_string_value(json_object_get(json_array_get(changes, i), "id"));

		for (j = from; id && j < i; j++) {
			const char *o = json_string_value(
				json_object_get(json_array_get(changes, j), "id"));

			if (o && !strcmp(id, o))
				return i;
		}
	}
	return i;
}

/* (drift_run.c filters a running drift check's map read by these) */
void nn_gwd_drift_touched(struct daemon *d, const struct nn_dev_patch *pt)
{
	size_t need = d->n_drift_touched + pt->n_set + pt->n_del, i;

	if (!d->drift_job)
		return;
	if (need > d->cap_drift_touched) {
		size_t cap = need * 2 + 64;
		void *n = realloc(d->drift_touched, cap * NN_ADDR_LEN);

		if (!n) {
			/* cannot tell ours from others: the map part is void */
			d->drift_job->full_seq = ~0ull;
			return;
		}
		d->drift_touched = n;
		d->cap_drift_touched = cap;
	}
	for (i = 0; i < pt->n_set; i++)
		memcpy(d->drift_touched[d->n_drift_touched++], pt->set[i].addr, NN_ADDR_LEN);
	for (i = 0; i < pt->n_del; i++)
		memcpy(d->drift_touched[d->n_drift_touched++], pt->del[i], NN_ADDR_LEN);
}

/* One chunk through the kept state, the journal and the switch. 0: enforced;
 * 1: refused by nn_inc_delta (nothing changed, reason in @r); -1: failed
 * after the proof (the kept state is dropped). */
static int one_chunk(struct daemon *d, const json_t *chunk, long long base, long long gen,
		     struct nn_apply_result *res, char *r, size_t rlen, double *t_inc,
		     double *t_journal)
{
	struct nn_dev_patch pt = {};
	struct nn_errlist errs = {};
	double t0 = wall_ms();
	size_t jlen = 0;
	char *jt;
	int err;

	err = nn_inc_delta(d->inc, chunk, (uint64_t)gen, &pt, r, rlen);
	if (err) {
		if (err != -EAGAIN) {
			/* Midway (no memory): the kept policy may be half
			 * patched; nothing keeps it. What is enforced is read
			 * from the maps until the full path applies. */
			nn_log_warn("event=fast_path_failed step=kept_state reason=\"%s\" "
				    "action=full_path",
				    strerror(-err));
			count(d, &d->st.fast_fallbacks);
			nn_gwd_good_free(d);
			return -1;
		}
		return 1;
	}
	*t_inc += wall_ms() - t0;
	t0 = wall_ms();
	/* Journal before the flip: once enforced, a crash cannot lose it. */
	jt = delta_text(chunk, base, gen, &jlen);
	err = jt ? nn_lkg_journal_append(d->o->state_dir, (uint64_t)base, (uint64_t)gen, jt, jlen,
					 r, rlen) :
		   -ENOMEM;
	free(jt);
	if (err) {
		nn_dev_patch_free(&pt);
		abandon(d, "journal", r);
		return -1;
	}
	d->journal_n++;
	*t_journal += wall_ms() - t0;
	nn_gwd_barrier_wait(&d->barrier);
	if (nn_apply_patch(d->dp, &pt, res, &errs) != NN_APPLY_APPLIED) {
		snprintf(r, rlen, "%s",
			 errs.n ? errs.msgs[0] : strerror(res->error ? -res->error : EIO));
		nn_errlist_free(&errs);
		nn_dev_patch_free(&pt);
		abandon(d, "switch", r);
		return -1;
	}
	nn_errlist_free(&errs);
	nn_gwd_barrier_request(&d->barrier);
	d->change_seq++;
	nn_gwd_drift_touched(d, &pt);
	/* Enforced in the maps. wg0: only the peers this chunk touched, no
	 * read of the device (the drift timer's reconcile reads it). */
	err = nn_gwd_apply_peers(d, &pt, r, rlen);
	nn_dev_patch_free(&pt);
	if (err) {
		abandon(d, "wg0", r);
		return -1;
	}
	return 0;
}

bool nn_gwd_fast_apply(struct daemon *d, struct nn_cp_fetch *f, long long base, const char *why)
{
	struct nn_apply_result res = {};
	char r[NN_CTL_MSG_MAX] = "";
	double t0, c0, t_inc = 0, t_journal = 0;
	size_t n, from = 0, to, chunks = 0, writes = 0;
	int rc;

	if (!d->inc)
		return false;
	if (!f->from_delta || !f->changes) {
		/* The client holds another document now (trap: the kept state
		 * reads the one it was built on). */
		nn_gwd_inc_drop(d, "a full snapshot");
		return false;
	}
	if (d->pending) {
		nn_gwd_inc_drop(d, "a failed apply waits for its retry");
		return false;
	}
	if (base < 0 || !d->good || (uint64_t)base != d->good->generation) {
		nn_gwd_inc_drop(d, "the delta does not follow the enforced generation");
		return false;
	}
	if (d->inc_seq != d->dp->full_seq) {
		nn_gwd_inc_drop(d, "a full apply renumbered the classes since");
		return false;
	}
	t0 = wall_ms();
	c0 = cpu_ms();
	n = json_array_size(f->changes);
	do {
		json_t *chunk;
		size_t i;

		to = chunk_end(f->changes, from);
		chunk = json_array();
		for (i = from; chunk && i < to; i++)
			if (json_array_append(chunk, json_array_get(f->changes, i)))
				break;
		if (!chunk || i < to) {
			json_decref(chunk);
			abandon(d, "kept_state", strerror(ENOMEM));
			return false;
		}
		/* Every chunk but the last lands on the base generation: nn_meta
		 * names the new one only once all of it is enforced. */
		rc = one_chunk(d, chunk, base, to == n ? f->generation : base, &res, r, sizeof(r),
			       &t_inc, &t_journal);
		json_decref(chunk);
		if (rc) {
			if (rc > 0) {
				/* Not a per-device change, or one it cannot prove
				 * equal to the full path: the full path judges it
				 * (same messages). The client changed the document in
				 * place: the kept state goes whatever the delta. */
				nn_log_info("event=fast_path_refused generation=%lld chunk=%zu "
					    "reason=\"%s\" action=full_path",
					    f->generation, chunks, r);
				count(d, &d->st.fast_fallbacks);
				nn_gwd_inc_drop(d, "a delta the fast path does not take");
			}
			return false;
		}
		writes += res.writes;
		chunks++;
		from = to;
	} while (from < n);
	nn_log_info("event=applied source=%s trigger=%s generation=%llu epoch=%u flipped=%d "
		    "writes=%zu devices=%zu changes=%zu chunks=%zu path=fast inc_ms=%.2f "
		    "journal_ms=%.2f switch_ms=%.2f cpu_ms=%.2f",
		    nn_gwd_source_name(d), why, (unsigned long long)d->good->generation, res.epoch,
		    res.flipped, writes, d->good->n_devices, f->n_changes, chunks, t_inc, t_journal,
		    wall_ms() - t0 - t_inc - t_journal, cpu_ms() - c0);
	nn_ctl_note_apply_time(&d->st, NN_APPLY_KIND_CHANGE, (wall_ms() - t0) / 1e3);
	nn_ctl_note_applied(&d->st, d->good->generation, writes);
	count(d, &d->st.applies_fast);
	/* Compaction, by the drift check (its worker writes the file): now,
	 * rather than on its own schedule. */
	if (d->journal_n >= NN_LKG_JOURNAL_MAX && !d->drift_job) {
		d->next_drift = 0;
		d->next_resync = nn_gwd_now_ms();
	}
	return true;
}
