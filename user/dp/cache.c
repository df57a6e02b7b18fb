// SPDX-License-Identifier: GPL-2.0
/* cache.c - see cache.h. */
#include <stdlib.h>

#include "dp/cache.h"

void nn_apply_cache_free(struct nn_apply_cache *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < SET_COUNT; i++) {
		nn_ftab_free(&c->have[i][0]);
		nn_ftab_free(&c->have[i][1]);
	}
	for (i = 0; i < SET_COUNT; i++)
		free(c->journal[i].k);
	free(c->jrules);
	free(c->rules[0]);
	free(c->rules[1]);
	free(c);
}
