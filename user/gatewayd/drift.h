/* SPDX-License-Identifier: GPL-2.0 */
/*
 * drift.h - the drift check's heavy half off the controller loop (issue 13;
 * docs/controller.md "The drift check on a worker thread").
 *
 * The loop hands a job over: the text of the enforced generation G, and a
 * copy of the applier's record of the live half at G (copy-on-write: the
 * loop's next writes give the record arrays of its own, the job's stay as
 * they were). The worker parses, validates and compiles the text from
 * scratch, compares the result with that record, writes the last-known-good
 * of G, and wakes the loop. The job and the loop share nothing else: the
 * loop owns the job again once it has read the wakeup.
 *
 * Both sides of the comparison are G's, whatever the loop enforced
 * meanwhile, so a difference in the policy is conclusive at any time. Only
 * the counter slots are not: the worker reads the slots' names from the
 * maps as they are when it gets there, and a device deleted or added since
 * G has released or claimed one. A slot difference is therefore judged
 * only when nothing changed since G (else the check is "stale": its policy
 * part stands, its slot part is discarded). A repair never applies G's
 * compile: it is a full re-apply, on the loop, of what is enforced then
 * (a revocation that arrived after G is never undone by it).
 */
#ifndef NANAMI_GATEWAYD_DRIFT_H
#define NANAMI_GATEWAYD_DRIFT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"
#include "dp/cache.h"
#include "dp/loader.h"
#include "policy/policy.h"

/* What the worker came to. */
enum nn_drift_outcome {
	NN_DRIFT_SAME,	 /* G's compile equals the record of G */
	NN_DRIFT_DIFFER, /* it does not (policy entries, or slots) */
	NN_DRIFT_ERROR,	 /* the check could not be made (parse, memory) */
	NN_DRIFT_QUIT,	 /* abandoned: the controller is stopping */
};

/* What the loop does with a result (nn_drift_verdict). */
enum nn_drift_action {
	NN_DRIFT_PASS,	 /* nothing to repair */
	NN_DRIFT_REPAIR, /* re-apply what is enforced now, from scratch */
	NN_DRIFT_STALE,	 /* slots differ but the state moved on: discarded */
	NN_DRIFT_FAILED, /* no verdict (logged) */
};

/* A key of the live half that differs from the record (slot 0). */
struct nn_drift_key {
	int set; /* SET_*, or SET_COUNT for an nn_rules index */
	uint8_t key[64];
};
#define NN_DRIFT_MAX_KEYS 65536

struct nn_drift_job {
	/* in: set by the loop, read-only for the worker */
	char *text; /* of generation @generation (owned by the job); NULL:
		     * the worker rebuilds it from @lkg_from */
	size_t len;
	/* The state directory whose last-known-good and journal describe
	 * @generation: the worker reads the file and replays the journal up
	 * to it (the loop journals later changes meanwhile). */
	const char *lkg_from;
	size_t lkg_max;
	uint64_t generation;
	uint64_t seq;	/* the loop's change counter at the handoff */
	uint32_t epoch; /* live epoch at the handoff */
	char node_id[NN_NAME_MAX];
	struct nn_limits lim;
	struct nn_compile_caps caps;
	bool compat;		       /* dp->cells_compat */
	struct nn_dp *dp;	       /* for nn_slots_plan's reads of the name maps only */
	const char *state_dir;	       /* the LKG of G is written there (NULL: not) */
	struct nn_ftab rec[SET_COUNT]; /* the live half's record at G */
	struct nn_rule_info *rules;    /* its rule slots [max_rules] */
	uint32_t max_rules;
	unsigned int delay_ms; /* tests: hold the job this long first */
	atomic_int *quit;
	int wake_fd; /* an eventfd the worker writes once done */

	/* out: written by the worker before the wakeup */
	enum nn_drift_outcome outcome;
	size_t differ;	    /* policy entries that differ */
	size_t slot_differ; /* entries differing only in a counter slot, and
			     * slot names to claim or release */
	char msg[256];	    /* why NN_DRIFT_ERROR; the first difference */
	double cpu_ms;	    /* the worker's CPU */
	double parse_ms, compile_ms, compare_ms, lkg_ms;
	/* The maps' half that was live at the handoff, read back by the worker
	 * against the record (what the loop's record check did): keys that
	 * differ (slot 0), to be filtered by the loop against what it wrote
	 * since (drift.h's top; nn_drift_filter). */
	uint64_t full_seq; /* dp->full_seq at the handoff */
	struct nn_drift_key *map_diff;
	size_t n_map_diff;
	bool map_diff_over; /* more than NN_DRIFT_MAX_KEYS: none filtered */
	size_t map_differ;  /* after nn_drift_filter: differences the loop
			     * did not make */
	bool map_stale;	    /* a full apply since: the map part discarded */
	double maps_ms;
	bool rebuild_failed; /* @lkg_from did not come to @generation */
	double rebuild_ms;
	int lkg_err; /* 0: the LKG of G written (or not asked) */
	char lkg_why[256];

	pthread_t th;
	bool started;
};

/* Start the worker on @j (filled by the caller). 0 or -errno. */
int nn_drift_job_start(struct nn_drift_job *j);
/* Join the worker (after its wakeup, or after setting *quit). */
void nn_drift_job_join(struct nn_drift_job *j);
/* ... and free what the job holds. */
void nn_drift_job_finish(struct nn_drift_job *j);

/*
 * Compare compiled @c with the record of one half (@rec, keys with slot 0;
 * @rules its rule slots). *@differ gets the entries that differ in the
 * policy (missing, extra, other value), *@slot_differ those that differ
 * only in a counter slot. The first difference is described in @msg.
 */
void nn_drift_compare(const struct nn_compiled *c, bool compat, const struct nn_ftab rec[SET_COUNT],
		      const struct nn_rule_info *rules, uint32_t max_rules, size_t *differ,
		      size_t *slot_differ, char *msg, size_t msglen);

/*
 * The map part of a finished job, against what the loop wrote since the
 * handoff: nn_addrs keys of the device patches since (@touched, @n, 16-byte
 * addresses, sorted), and whether a full apply rewrote the maps since
 * (@full_seq_now != j->full_seq: the map part is discarded, map_stale).
 * Sets j->map_differ: the differences nobody here made.
 */
void nn_drift_filter(struct nn_drift_job *j, const uint8_t (*touched)[NN_ADDR_LEN], size_t n,
		     uint64_t full_seq_now);

/* The stale-result rule: what the loop does with a finished job, given
 * the change counter now (see the top of this file). */
enum nn_drift_action nn_drift_verdict(const struct nn_drift_job *j, uint64_t seq_now);

#endif /* NANAMI_GATEWAYD_DRIFT_H */
