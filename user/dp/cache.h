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
	struct nn_rule_info *rules[2]; /* [max_rules]: the rule slots of each half */
	uint32_t max_rules;
};

void nn_apply_cache_free(struct nn_apply_cache *c);

#endif /* NANAMI_DP_CACHE_H */
