// SPDX-License-Identifier: GPL-2.0
/*
 * prefixes.c - the prefix lengths in use per scope and family, longest
 * first, for the programs' one-hash-lookup-per-length prefix search
 * (nn_pfx_lens in nanami_abi.h). A scope with more lengths in a family than
 * NN_MAX_PFX_LENS is marked to use the LPM trie instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "lib/addr.h"

static int cmp_net(const void *a, const void *b)
{
	uint32_t x = ((const struct nn_prefix_ent *)a)->net;
	uint32_t y = ((const struct nn_prefix_ent *)b)->net;

	return x < y ? -1 : x > y;
}

/* Insert @len into @lens (descending, unique); false when full. */
static bool add_len(uint8_t *lens, uint8_t *n, uint8_t len)
{
	unsigned int i, k;

	for (i = 0; i < *n; i++) {
		if (lens[i] == len)
			return true;
		if (lens[i] < len)
			break;
	}
	if (*n == NN_MAX_PFX_LENS)
		return false;
	for (k = *n; k > i; k--)
		lens[k] = lens[k - 1];
	lens[i] = len;
	(*n)++;
	return true;
}

int nn_compile_pfx_lens(struct nn_compiled *out)
{
	struct nn_prefix_ent *sorted;
	size_t i, n = out->n_prefixes;
	struct nn_pfxlens_ent *cur = NULL;

	out->lens = NULL;
	out->n_lens = 0;
	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	out->lens = calloc(n, sizeof(*out->lens));
	if (!sorted || !out->lens) {
		free(sorted);
		return -ENOMEM;
	}
	memcpy(sorted, out->prefixes, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_net);
	for (i = 0; i < n; i++) {
		const struct nn_prefix_ent *e = &sorted[i];
		struct nn_pfx_lens *l;
		bool v4 = e->pfx.len >= 96 && nn_addr_is_v4mapped(e->pfx.addr);

		if (!cur || cur->net != e->net) {
			cur = &out->lens[out->n_lens++];
			cur->net = e->net;
		}
		l = &cur->lens;
		if (l->use_trie)
			continue;
		if (!(v4 ? add_len(l->len4, &l->n4, e->pfx.len) :
			   add_len(l->len6, &l->n6, e->pfx.len)))
			l->use_trie = 1;
	}
	free(sorted);
	return 0;
}
