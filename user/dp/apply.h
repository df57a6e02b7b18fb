/* SPDX-License-Identifier: GPL-2.0 */
/*
 * apply.h - put a validated policy into the maps as one new generation and
 * switch to it atomically.
 *
 * Only the standby slot is written; one 4-byte write to nn_active flips
 * every map at once; an RCU barrier then guarantees no program still reads
 * the old slot before the next apply may rewrite it. Writes are the diff
 * between what the kernel holds and what is wanted, so applying the same
 * policy again writes nothing, and a failure before the flip leaves the
 * enforced generation untouched.
 */
#ifndef NANAMI_DP_APPLY_H
#define NANAMI_DP_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "compile/compile.h"
#include "dp/loader.h"
#include "policy/policy.h"

/* The new counter slots of one slot space (devices, nodes and this
 * gateway; or rules): which slot, and whose. The names are built from the
 * policy only as they are written, a batch at a time: a cold apply at 100k
 * names 200k entities, and a 200-byte name kept per entity until then was
 * 45 MB of fresh memory (its page faults a fifth of the cold
 * path's). */
struct nn_slot_news {
	int fd;	      /* name map */
	int stats_fd; /* counters to zero */
	size_t stats_vsz;
	uint32_t *slot; /* [n] */
	uint32_t *ent;	/* [n]: whose, in the numbering below */
	size_t n;
};

/* Entity numbering of a slot space: devices [0, n_devices), then nodes,
 * then this gateway; rules [0, n_rules). */
enum { NN_SLOT_SPACE_DEV, NN_SLOT_SPACE_RULE, NN_SLOT_SPACES };

struct nn_slot_old {
	int fd;
	uint32_t slot;
};

/* Counter-slot changes an apply makes: names to write before the flip,
 * names to delete after it. */
struct nn_slot_plan {
	const struct nn_policy *p; /* whose names news[] write (kept alive by the caller) */
	struct nn_slot_news news[NN_SLOT_SPACES];
	size_t n_new; /* of both spaces */
	struct nn_slot_old *old;
	size_t n_old;
	size_t cap_old;
};

/* Cells from which nn_apply() fills the cells' part of what it wants in
 * the maps on a helper thread (the same tables), and writes what is built
 * while the rest is being built (apply_pipe.c). Tests lower it. */
extern size_t nn_apply_want_par_min;

int nn_slots_plan(struct nn_dp *dp, const struct nn_policy *p, struct nn_slots *slots,
		  struct nn_slot_plan *plan, struct nn_errlist *errs);
int nn_slots_write_new(const struct nn_slot_plan *plan);
int nn_slots_release_old(const struct nn_slot_plan *plan);
void nn_slots_free(struct nn_slots *slots, struct nn_slot_plan *plan);

/*
 * What an apply came to. The fault policy of the callers hangs on this, not
 * on errno values: a map write can fail with EINVAL or E2BIG too, and that
 * is a failure of this host (retry), not a property of the snapshot.
 */
enum nn_apply_outcome {
	NN_APPLY_APPLIED = 0, /* enforced (or already was) */
	NN_APPLY_REJECTED,    /* the snapshot exceeds a capacity: retrying cannot help;
				 * nothing changed */
	NN_APPLY_FAILED,      /* this host failed (map write, memory): the previous
				 * generation stays enforced; worth retrying */
};

/* The keys the applier writes for compiled entries, in slot 0 (whole keys
 * zeroed first: they are hashed and written whole). The drift check builds
 * its expected entries with the same functions. */
void nn_cell_key_of(const struct nn_cell_ent *e, struct nn_cell_key *k);
/* Prefix @e's keys in nn_prefixes (the trie) and nn_pfx_hash. */
void nn_prefix_keys_of(const struct nn_prefix_ent *e, struct nn_prefix_key *k,
		       struct nn_pfx_key *hk);

const char *nn_apply_outcome_name(enum nn_apply_outcome o);

struct nn_apply_result {
	int error;		       /* -errno behind a rejection or failure */
	uint32_t epoch;		       /* live epoch afterwards */
	size_t writes;		       /* map updates and deletes made */
	bool flipped;		       /* a new generation went live */
	size_t addrs, prefixes, cells; /* entries in the generation */
};

/* Apply @p; anything but NN_APPLY_APPLIED leaves the old generation
 * enforced, with the reason in @errs and res->error. */
enum nn_apply_outcome nn_apply(struct nn_dp *dp, const struct nn_policy *p,
			       struct nn_apply_result *res, struct nn_errlist *errs);

/* What a full apply hands to the incremental path (compile/delta.h). */
struct nn_apply_kept {
	struct nn_compile_state *cs; /* the compile state of the generation */
	struct nn_slots slots;	     /* the counter slots it chose (free with
				      * nn_slots_free(&slots, &empty_plan)) */
	uint32_t slot_cap;	     /* size of the device/node slot space */
	uint64_t seq;		     /* which full apply (nn_inc_new's @seq) */
};

/* nn_apply() that, when applied, also hands over its compile state and
 * counter slots in *@keep (zeroed otherwise). */
enum nn_apply_outcome nn_apply_keep(struct nn_dp *dp, const struct nn_policy *p,
				    struct nn_apply_result *res, struct nn_errlist *errs,
				    struct nn_apply_kept *keep);

/*
 * The switch for a device patch (compile/delta.h) in O(change): with a
 * record of the live generation, the standby half gets only the keys of
 * the journal (where it differs from live) and of @pt, set to what live
 * holds overridden by @pt; new counter slots are claimed, the generation
 * flips, the RCU barrier is waited, freed slots are released, nn_meta is
 * updated. -EAGAIN without a valid record (the full path then applies);
 * other failures drop the record and leave the previous generation
 * enforced, as nn_apply() does. A patch built on the state of an older full
 * apply than the last one (pt->seq) is refused with -EAGAIN: its class
 * numbers may be stale. The first patch after a full apply pays one
 * comparison of the record's halves (no map read) to build the journal.
 */
struct nn_dev_patch;
/* (The barrier of a patch is not waited after its flip, where it would
 * delay nothing but the caller -- enforcement starts at the flip -- but
 * before the next write of either half: nn_dp_barrier_settle().) */
enum nn_apply_outcome nn_apply_patch(struct nn_dp *dp, const struct nn_dev_patch *pt,
				     struct nn_apply_result *res, struct nn_errlist *errs);

/*
 * Bring the standby half up to date with the live one, from the record the
 * last apply kept (no map is read): afterwards the next apply writes only
 * what its own change touches. Meant for idle moments (the daemon's drift
 * timer): the first change after a start would otherwise fill the empty
 * half. Does nothing without a record of the live generation. Standby is
 * not read by the programs (the last flip waited them out). *writes gets
 * the entries written; 0 or -errno (the record is then dropped).
 */
int nn_apply_sync_standby(struct nn_dp *dp, size_t *writes);

/*
 * Compare the record the applier keeps with what the policy maps hold (one
 * batched read of every map: ~0.1-0.3 s at 100k devices and rules, so the
 * daemon runs it on its drift timer, before re-applying). On a difference
 * (something wrote the maps behind the controller's back) the record is
 * replaced by what was read, so the next apply repairs it. *differ gets the
 * entries that differ; 0 or -errno.
 */
int nn_apply_check(struct nn_dp *dp, size_t *differ);

/* Entries of map @fd (keys of @ksz bytes, at most 64); with @slot_of, only
 * those whose key is in @slot. Walks the whole map: not for hot paths. */
uint64_t nn_map_count(int fd, size_t ksz, uint32_t (*slot_of)(const void *key), uint32_t slot);

/* Wait for the RCU barrier a device patch's flip left due, if any: after
 * this no program reads the half that was live before that flip. Every
 * writer of a policy map half calls it first; the daemon also calls it
 * before it exits. 0 or -errno (still due). */
int nn_dp_barrier_settle(struct nn_dp *dp);

/* Read the live epoch (0: nothing applied yet). */
int nn_live_epoch(struct nn_dp *dp, uint32_t *epoch);

#endif /* NANAMI_DP_APPLY_H */
