// SPDX-License-Identifier: GPL-2.0
/* cache.c - see cache.h. */
#include <stdlib.h>

#include "dp/cache.h"
#include "dp/loader.h"

const struct nn_set_def nn_set_defs[SET_COUNT] = {
	[SET_ADDRS] = { NN_M_ADDRS, "nn_addrs", sizeof(struct nn_addr_key),
			sizeof(struct nn_addr_info) },
	[SET_PREFIXES] = { NN_M_PREFIXES, "nn_prefixes", sizeof(struct nn_prefix_key),
			   sizeof(struct nn_prefix_info) },
	[SET_PFX_HASH] = { NN_M_PFX_HASH, "nn_pfx_hash", sizeof(struct nn_pfx_key),
			   sizeof(struct nn_prefix_info) },
	[SET_PFX_LENS] = { NN_M_PFX_LENS, "nn_pfx_lens", sizeof(struct nn_pfx_lens_key),
			   sizeof(struct nn_pfx_lens) },
	[SET_CELLS] = { NN_M_POLICY, "nn_policy", sizeof(struct nn_cell_key),
			sizeof(struct nn_cell) },
	[SET_CELLS4] = { NN_M_CELLS4, "nn_cells4", sizeof(struct nn_cell_key),
			 sizeof(struct nn_cell4) },
};

uint32_t nn_set_key_slot(int set, const void *key)
{
	switch (set) {
	case SET_ADDRS:
		return ((const struct nn_addr_key *)key)->slot;
	case SET_PREFIXES:
		return ((const struct nn_prefix_key *)key)->scope >> 31;
	case SET_PFX_HASH:
		return ((const struct nn_pfx_key *)key)->scope >> 31;
	case SET_PFX_LENS:
		return ((const struct nn_pfx_lens_key *)key)->scope >> 31;
	default:
		return ((const struct nn_cell_key *)key)->slot;
	}
}

void nn_set_key_reslot(int set, void *key, uint32_t slot)
{
	switch (set) {
	case SET_ADDRS:
		((struct nn_addr_key *)key)->slot = slot;
		break;
	case SET_PREFIXES: {
		struct nn_prefix_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	case SET_PFX_HASH: {
		struct nn_pfx_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	case SET_PFX_LENS: {
		struct nn_pfx_lens_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	default:
		((struct nn_cell_key *)key)->slot = slot;
	}
}

void nn_apply_cache_free(struct nn_apply_cache *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < SET_COUNT; i++) {
		nn_ftab_free(&c->have[i][0]);
		nn_ftab_free(&c->have[i][1]);
		nn_ftab_free(&c->sb.keys[i]);
		nn_ftab_free(&c->sb.vals[i]);
	}
	for (i = 0; i < SET_COUNT; i++)
		free(c->journal[i].k);
	free(c->jrules);
	free(c->rules[0]);
	free(c->rules[1]);
	free(c);
}
