/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapcanon.h - the oracle of test_inc_random: the live half of the policy
 * maps and a compile from scratch as comparable entry sets, slot bits
 * cleared and classes canonical (a class is its network and rule list, not
 * its number: two compiles number them differently), counter slots from
 * the names map, and two policies compared up to device order. Failures
 * are cmocka failures.
 */
#ifndef NANAMI_MAPCANON_H
#define NANAMI_MAPCANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"
#include "dp/loader.h"
#include "lib/table.h"
#include "policy/policy.h"

struct canon {
	struct nn_table sigs; /* (dst?, network, rules...) -> canonical class */
	uint32_t next;
};

/* One map entry, slot bits cleared, classes canonical: key then value. */
struct ent {
	int set;
	uint8_t b[sizeof(struct nn_cell_key) + sizeof(struct nn_cell) + 64];
	size_t len;
};

struct ents {
	struct ent *v;
	size_t n, cap;
};

/* The live half of every double-buffered policy map; classes through @cs
 * (the compile state the maps were written from). */
void mapcanon_live(struct nn_dp *dp, struct nn_compile_state *cs, struct canon *cn,
		   struct ents *es);
/* What compile @c (state @cs) puts in the maps. */
void mapcanon_compiled(const struct nn_compiled *c, struct nn_compile_state *cs, struct canon *cn,
		       struct ents *es);
/* Sorted and compared; the first difference printed when they differ. */
bool mapcanon_equal(struct ents *got, struct ents *want);
/* The counter slots of @p's entities from nn_dev_names (each name exactly
 * once, nothing else there); rule slots left 0. Free the three arrays. */
void mapcanon_slots(struct nn_dp *dp, const struct nn_policy *p, struct nn_slots *slots);
/* The same devices (by id, any order) and rule device lists (as id sets). */
void mapcanon_same_policy(const struct nn_policy *a, const struct nn_policy *b);

#endif /* NANAMI_MAPCANON_H */
