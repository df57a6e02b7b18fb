// SPDX-License-Identifier: GPL-2.0
/*
 * live_diff.c - the live half's record set aside as a difference from the
 * standby half's while a full apply builds what it wants (apply.c).
 *
 * WHY: a full apply held three whole records of the maps at its peak: the
 * two halves' (split by the first fast-path change after a sync, and read
 * as two from the kernel after a restart) and the generation it builds,
 * ~0.4-0.6 GB each at 1M devices. The apply writes only the standby half,
 * so it needs the standby's record exactly; the live one it only compares
 * with (nothing to do when equal) and keeps (the next standby). The halves
 * differ only at the journal's keys (cache.h), so the live record is those
 * keys' live entries beside the standby's record, and comes back from it
 * in place once the standby's record is replaced: the old standby record
 * is patched into the old live one without a copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp/apply_int.h"
#include "dp/ftab.h"

/* Would @diff keys of a record of @n set aside cost more than they save?
 * (A few are always worth it: a small map's whole journal is small.) */
static bool too_many(size_t diff, size_t n)
{
	return diff > n / NN_LIVE_DIFF_MAX_PART && diff > 64;
}

int nn_live_diff_take(struct nn_apply_cache *c, uint32_t live, struct nn_half_diff *d)
{
	int set, err = 0;

	memset(d, 0, sizeof(*d));
	if (c->sb.held) {
		/* The standby record is kept as a difference already: the live
		 * record swapped into the standby's in place gives the live
		 * one's difference. A swap that fails midway leaves a record
		 * of neither half: the caller drops it (still c->sb.held). */
		for (set = 0; set < SET_COUNT && !err; set++)
			err = nn_half_diff_swap(&c->sb, set, &c->have[set][live]);
		if (err)
			return err;
		for (set = 0; set < SET_COUNT; set++) {
			c->have[set][live ^ 1] = c->have[set][live];
			nn_ftab_init(&c->have[set][live], c->have[set][live ^ 1].ksz,
				     c->have[set][live ^ 1].vsz);
		}
		*d = c->sb;
		memset(&c->sb, 0, sizeof(c->sb));
		return 0;
	}
	/* After a full apply (or a read of the maps) the halves differ by a
	 * whole diff and no journal says where: one pass over both finds it,
	 * as the next patch would; unless their sizes alone say it is large
	 * (after a cold apply the standby half is empty): a journal of most
	 * of the keys would be a copy of the live record, not a saving. */
	if (!c->journal_ok) {
		for (set = 0; set < SET_COUNT; set++) {
			size_t a = c->have[set][live].n, b = c->have[set][live ^ 1].n;

			if (too_many(a > b ? a - b : b - a, a))
				return -E2BIG;
		}
		err = nn_ap_journal_build(c, live);
	}
	for (set = 0; set < SET_COUNT && !err; set++) {
		size_t n = c->have[set][live].n;

		if (too_many(c->journal[set].n, n))
			err = -E2BIG;
	}
	if (!err)
		err = nn_half_diff_of_journal(d, c, live);
	if (err)
		return err;
	for (set = 0; set < SET_COUNT; set++)
		nn_ftab_free(&c->have[set][live]); /* left empty, of the same sizes */
	return 0;
}

bool nn_live_diff_same(const struct nn_half_diff *d, int set, const struct nn_ftab *want,
		       const struct nn_ftab *standby)
{
	const struct nn_ftab *jk = &d->keys[set], *lv = &d->vals[set];
	size_t n = lv->n, i;

	/* The live record: the standby's entries off the journal's keys, and
	 * the live entries on them. Equal counts and every wanted entry in it
	 * with its value: the same entries. */
	for (i = 0; i < standby->n; i++)
		if (nn_ftab_find(jk, nn_ftab_key(standby, i)) < 0)
			n++;
	if (n != want->n)
		return false;
	for (i = 0; i < want->n; i++) {
		const void *key = nn_ftab_key(want, i);
		const struct nn_ftab *in = nn_ftab_find(jk, key) >= 0 ? lv : standby;
		long j = nn_ftab_find(in, key);

		if (j < 0 || !nn_ftab_same_val(want, i, in, (size_t)j))
			return false;
	}
	return true;
}

int nn_live_diff_apply(const struct nn_half_diff *d, int set, struct nn_ftab *t)
{
	const struct nn_ftab *jk = &d->keys[set], *lv = &d->vals[set];
	uint8_t val[NN_LIVE_DIFF_VSZ];
	size_t i;
	int err = 0;

	for (i = 0; i < jk->n && !err; i++) {
		const void *key = nn_ftab_key(jk, i);
		long j = nn_ftab_find(lv, key);

		if (j >= 0) {
			nn_ftab_val(lv, (size_t)j, val);
			err = nn_ftab_put(t, key, val);
		} else {
			err = nn_ftab_del(t, key);
		}
	}
	return err;
}
