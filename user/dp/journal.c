// SPDX-License-Identifier: GPL-2.0
/*
 * journal.c - the applier record's journal (cache.h): the keys where the
 * standby half differs from the live one, found from the two halves'
 * records when no patch kept it (patch.c keeps it; live_diff.c reads it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp/apply_int.h"
#include "dp/ftab.h"

int nn_ap_kl_push(struct nn_keylist *l, const void *key)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		uint8_t *k = realloc(l->k, nc * l->ksz);

		if (!k)
			return -ENOMEM;
		l->k = k;
		l->cap = nc;
	}
	memcpy(l->k + l->n * l->ksz, key, l->ksz);
	l->n++;
	return 0;
}

bool nn_ap_journal_fit(struct nn_keylist *l, size_t ksz)
{
	if (l->ksz == ksz)
		return false;
	/* A record read from the maps: no journal yet. */
	free(l->k);
	memset(l, 0, sizeof(*l));
	l->ksz = ksz;
	return true;
}

/* The journal from the record: one pass over both halves, no map read
 * (after a full apply the halves differ by that apply's whole diff). */
int nn_ap_journal_build(struct nn_apply_cache *c, uint32_t live)
{
	uint32_t sb = live ^ 1, i;
	int set, err = 0;

	/* Both halves whole: a standby kept as a difference (c->sb) already
	 * is its journal, and read here as an empty half it would make one
	 * of every live key. */
	if (c->sb.held)
		return -EINVAL;
	for (set = 0; set < SET_COUNT && !err; set++) {
		const struct nn_ftab *a = &c->have[set][live], *b = &c->have[set][sb];
		size_t k;

		nn_ap_journal_fit(&c->journal[set], a->ksz);
		c->journal[set].n = 0;
		for (k = 0; k < a->n && !err; k++) {
			long j = nn_ftab_find(b, nn_ftab_key(a, k));

			if (j < 0 || !nn_ftab_same_val(a, k, b, (size_t)j))
				err = nn_ap_kl_push(&c->journal[set], nn_ftab_key(a, k));
		}
		for (k = 0; k < b->n && !err; k++)
			if (nn_ftab_find(a, nn_ftab_key(b, k)) < 0)
				err = nn_ap_kl_push(&c->journal[set], nn_ftab_key(b, k));
	}
	free(c->jrules);
	c->jrules = calloc(c->max_rules + 1, sizeof(*c->jrules));
	c->n_jrules = 0;
	if (!c->jrules)
		return -ENOMEM;
	for (i = 0; i < c->max_rules; i++)
		if (memcmp(&c->rules[live][i], &c->rules[sb][i], sizeof(c->rules[0][0])))
			c->jrules[c->n_jrules++] = i;
	c->journal_ok = !err;
	return err;
}
