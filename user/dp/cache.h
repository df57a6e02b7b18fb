/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cache.h - what the applier knows each slot of the policy maps holds
 * (apply.c), kept in struct nn_dp between applies so that an apply neither
 * reads the maps back nor rewrites what a slot already holds. Keys are
 * stored with slot 0 (the slot is the table's index). Valid while the live
 * epoch is still the one it was recorded at: any other writer of the maps
 * flips, and an apply that fails midway drops the record, so the next apply
 * reads the maps again.
 */
#ifndef NANAMI_DP_CACHE_H
#define NANAMI_DP_CACHE_H

#include <stdbool.h>

#include "dp/ftab.h"
#include "nanami_abi.h"

/* The double-buffered policy maps, in the order they are written. */
enum {
	SET_ADDRS,
	SET_PREFIXES,
	SET_PFX_HASH,
	SET_PFX_LENS,
	SET_CELLS,  /* nn_policy: big cells and their trees */
	SET_CELLS4, /* nn_cells4: every cell's root, whole or a marker */
	SET_COUNT
};

/* Each double-buffered map: its loader id (NN_M_*), pinned name (for
 * errors: an operator must know which map is full), key and value sizes. */
struct nn_set_def {
	int map;
	const char *name;
	size_t ksz, vsz;
};
extern const struct nn_set_def nn_set_defs[SET_COUNT];

/* The slot a key of map set @set is in. */
uint32_t nn_set_key_slot(int set, const void *key);
/* The same key in slot @slot. */
void nn_set_key_reslot(int set, void *key, uint32_t slot);

/* Keys (slot 0) of one map where the two halves differ. */
struct nn_keylist {
	uint8_t *k;
	size_t n, cap, ksz;
};

/* One half's record where it differs from the other's, per map: @keys
 * every key where they differ (values empty), @vals those of them this
 * half holds, with its value. */
struct nn_half_diff {
	struct nn_ftab keys[SET_COUNT];
	struct nn_ftab vals[SET_COUNT];
	bool held; /* the half's record is kept this way */
};

struct nn_apply_cache {
	uint32_t epoch;
	/* The journal: where the standby half differs from the live one
	 * (valid when journal_ok; nn_apply_patch() computes it once from the
	 * record otherwise), so a patch writes O(change), not a diff. */
	bool journal_ok;
	struct nn_keylist journal[SET_COUNT];
	uint32_t *jrules; /* rule slots where the halves differ */
	size_t n_jrules;
	struct nn_ftab have[SET_COUNT][2];
	/* The standby half's record as its difference from the live one at
	 * the journal's keys (sb.held; have[][standby] is then empty): kept so
	 * after an idle sync and after a patch. WHY: at 1M devices the first
	 * patch after a sync split the shared record into two whole copies
	 * (~0.2 GB more for as long as the daemon ran); the halves differ
	 * only at the last change's keys. A full apply turns it back into a
	 * whole record in place (live_diff.c). Read it through
	 * nn_ap_half_find() (apply_int.h). */
	struct nn_half_diff sb;
	struct nn_rule_info *rules[2]; /* [max_rules]: the rule slots of each half */
	uint32_t max_rules;
};

void nn_apply_cache_free(struct nn_apply_cache *c);

#endif /* NANAMI_DP_CACHE_H */
