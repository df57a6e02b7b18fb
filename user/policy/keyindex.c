// SPDX-License-Identifier: GPL-2.0
/*
 * keyindex.c - which device or node of a policy holds a WireGuard public
 * key (policy.h), for labelling wg0's peers: sorted once, then a binary
 * search per peer. The controller did a linear scan of every device for
 * every peer after each apply: 10^8 key compares at 10k devices, 40 % of
 * its CPU in the soak.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

struct nn_key_entry {
	uint8_t key[32];
	const char *id;
	size_t order; /* devices first, then nodes, each in document order */
};

struct nn_key_index {
	struct nn_key_entry *e;
	size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct nn_key_entry *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct nn_key_index *nn_key_index_new(const struct nn_policy *p)
{
	struct nn_key_index *ix = calloc(1, sizeof(*ix));
	size_t i;

	if (!ix)
		return NULL;
	ix->e = calloc(p->n_devices + p->n_nodes + 1, sizeof(*ix->e));
	if (!ix->e) {
		free(ix);
		return NULL;
	}
	for (i = 0; i < p->n_devices; i++, ix->n++) {
		memcpy(ix->e[ix->n].key, p->devices[i].pubkey, 32);
		ix->e[ix->n].id = p->devices[i].id;
		ix->e[ix->n].order = ix->n;
	}
	for (i = 0; i < p->n_nodes; i++, ix->n++) {
		memcpy(ix->e[ix->n].key, p->nodes[i].pubkey, 32);
		ix->e[ix->n].id = p->nodes[i].id;
		ix->e[ix->n].order = ix->n;
	}
	qsort(ix->e, ix->n, sizeof(*ix->e), cmp_entry);
	return ix;
}

const char *nn_key_index_id(const struct nn_key_index *ix, const uint8_t key[32])
{
	size_t lo = 0, hi = ix ? ix->n : 0;

	/* The last entry with this key: a node over a device, a later entry
	 * over an earlier one (validation leaves no two with one key; this
	 * keeps the answer defined if it ever did). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(ix->e[mid].key, key, 32) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && !memcmp(ix->e[lo - 1].key, key, 32))
		return ix->e[lo - 1].id;
	return NULL;
}

void nn_key_index_free(struct nn_key_index *ix)
{
	if (!ix)
		return;
	free(ix->e);
	free(ix);
}
