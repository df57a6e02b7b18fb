// SPDX-License-Identifier: GPL-2.0
/*
 * good_release.c - the enforced policy let go while a full apply compiles
 * the next one, and read back from the last-known-good if that apply does
 * not become the enforced one.
 *
 * WHY: a full apply in control-plane mode (a full snapshot, a refused
 * delta) validated and compiled the new policy while the enforced one
 * stayed in memory for a rollback (d->good): 1.03 GB more at 1M devices
 * (docs/controller.md "Memory at 1M (session 12, mem13h)"). When the
 * last-known-good and its journal hold that generation (what a restart,
 * and the drift check's worker, read), it is on disk already: an apply
 * that fails, is refused, or is rolled back reads it back from there
 * (seconds at 1M devices, on that path only).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatewayd/daemon.h"
#include "gatewayd/lkg.h"
#include "lib/log.h"

bool nn_gwd_good_release(struct daemon *d, uint64_t *generation)
{
	/* Only a policy no kept state holds (the full path dropped it before
	 * coming here), in control-plane mode (file mode keeps the text),
	 * with nothing owed to the disk. */
	if (!d->cp || d->inc || !d->good_own || d->good != d->good_own || d->lkg_stale ||
	    d->good_text || !d->lkg_has)
		return false;
	*generation = d->good->generation;
	nn_policy_free(d->good_own);
	d->good_own = NULL;
	d->good = NULL;
	nn_log_debug("event=enforced_policy_released generation=%llu",
		     (unsigned long long)*generation);
	return true;
}

int nn_gwd_good_reload(struct daemon *d, uint64_t generation, const char *node_id,
		       const struct nn_limits *lim)
{
	size_t max = d->o->max_snapshot ? d->o->max_snapshot : NN_LKG_DEFAULT_MAX, len = 0, n = 0;
	struct nn_errlist errs = {};
	struct timespec t0, t1;
	char why[256] = "", *text = NULL;
	uint64_t gen = 0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = nn_lkg_load(d->o->state_dir, max, &gen, &text, &len, why, sizeof(why));
	if (!err && gen < generation)
		err = nn_lkg_journal_replay_to(d->o->state_dir, max, generation, &gen, &text, &len,
					       &n, why, sizeof(why));
	if (!err && gen != generation) {
		snprintf(why, sizeof(why), "they hold generation %llu", (unsigned long long)gen);
		err = -ESTALE;
	}
	if (!err) {
		err = nn_policy_parse(text, len, node_id, lim, &d->good_own, &errs);
		if (err)
			snprintf(why, sizeof(why), "%s",
				 errs.n ? errs.msgs[errs.n - 1] : strerror(-err));
	}
	free(text);
	nn_errlist_free(&errs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		/* Enforced but not held: the next full apply has no rollback
		 * and the drift check waits for one (the maps stay as they
		 * are). */
		nn_log_err("event=enforced_policy_reload_failed generation=%llu reason=\"the "
			   "last-known-good and its journal: %s\"",
			   (unsigned long long)generation, why[0] ? why : strerror(-err));
		return err;
	}
	d->good = d->good_own;
	nn_log_info("event=enforced_policy_reloaded generation=%llu journal_entries=%zu ms=%.0f",
		    (unsigned long long)generation, n,
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}
