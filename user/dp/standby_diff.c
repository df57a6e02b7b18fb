// SPDX-License-Identifier: GPL-2.0
/*
 * standby_diff.c - the standby half's record kept as its difference from
 * the live one (cache.h, c->sb), and the swap that turns one half's record
 * into the other's in place.
 *
 * WHY: the halves differ only at the journal's keys (after an idle sync at
 * none, after a patch at that patch's), yet both were whole records: shared
 * after a sync, but the first patch's put copied the shared arrays whole
 * (~0.2 GB at 1M devices), and the daemon kept two copies from then on.
 * One whole record (the live half's) and the standby's entries at the
 * journal's keys hold the same. A patch swaps the live record into the
 * generation it writes (patch.c), a full apply swaps it into the standby's
 * (live_diff.c): in place, no copy.
 */
#include <errno.h>
#include <string.h>

#include "dp/apply_int.h"
#include "dp/ftab.h"

void nn_half_diff_free(struct nn_half_diff *d)
{
	int i;

	for (i = 0; i < SET_COUNT; i++) {
		nn_ftab_free(&d->keys[i]);
		nn_ftab_free(&d->vals[i]);
	}
	d->held = false;
}

int nn_half_diff_swap(struct nn_half_diff *d, int set, struct nn_ftab *t)
{
	struct nn_ftab *jk = &d->keys[set], was;
	uint8_t val[NN_LIVE_DIFF_VSZ];
	size_t i;
	int err = 0;

	if (t->vsz > sizeof(val))
		return -EINVAL;
	/* What @t holds at the keys first: until then @t is untouched. */
	nn_ftab_init(&was, t->ksz, t->vsz);
	for (i = 0; i < jk->n && !err; i++) {
		long j = nn_ftab_find(t, nn_ftab_key(jk, i));

		if (j >= 0) {
			nn_ftab_val(t, (size_t)j, val);
			err = nn_ftab_put(&was, nn_ftab_key(jk, i), val);
		}
	}
	if (err) {
		nn_ftab_free(&was);
		return err;
	}
	for (i = 0; i < jk->n && !err; i++) {
		const void *key = nn_ftab_key(jk, i);
		long j = nn_ftab_find(&d->vals[set], key);

		if (j >= 0) {
			nn_ftab_val(&d->vals[set], (size_t)j, val);
			err = nn_ftab_put(t, key, val);
		} else {
			err = nn_ftab_del(t, key);
		}
	}
	nn_ftab_free(&d->vals[set]);
	d->vals[set] = was;
	return err;
}

long nn_ap_half_find(const struct nn_apply_cache *c, int set, uint32_t slot, const void *key,
		     const struct nn_ftab **t)
{
	/* The half kept as a difference: its own entries at the journal's
	 * keys, the live record's elsewhere. */
	if (c->sb.held && slot == (NN_SLOT(c->epoch) ^ 1)) {
		if (nn_ftab_find(&c->sb.keys[set], key) >= 0) {
			*t = &c->sb.vals[set];
			return nn_ftab_find(*t, key);
		}
		slot ^= 1;
	}
	*t = &c->have[set][slot];
	return nn_ftab_find(*t, key);
}

size_t nn_ap_half_count(const struct nn_apply_cache *c, int set, uint32_t slot)
{
	const struct nn_ftab *jk = &c->sb.keys[set], *lv;
	size_t n, i;

	if (!c->sb.held || slot != (NN_SLOT(c->epoch) ^ 1))
		return c->have[set][slot].n;
	lv = &c->have[set][slot ^ 1];
	n = lv->n;
	for (i = 0; i < jk->n; i++)
		n -= nn_ftab_find(lv, nn_ftab_key(jk, i)) >= 0;
	return n + c->sb.vals[set].n;
}

int nn_half_diff_of_journal(struct nn_half_diff *d, const struct nn_apply_cache *c, uint32_t half)
{
	static const uint8_t none;
	uint8_t val[NN_LIVE_DIFF_VSZ];
	int set, err = 0;
	size_t k;

	memset(d, 0, sizeof(*d));
	for (set = 0; set < SET_COUNT; set++) {
		nn_ftab_init(&d->keys[set], c->have[set][half].ksz, 1);
		nn_ftab_init(&d->vals[set], c->have[set][half].ksz, c->have[set][half].vsz);
	}
	for (set = 0; set < SET_COUNT && !err; set++) {
		const struct nn_keylist *jl = &c->journal[set];
		const struct nn_ftab *h = &c->have[set][half];

		if (h->vsz > sizeof(val))
			err = -EINVAL;
		for (k = 0; k < jl->n && !err; k++) {
			const uint8_t *key = jl->k + k * jl->ksz;
			long j = nn_ftab_find(h, key);

			err = nn_ftab_put(&d->keys[set], key, &none);
			if (!err && j >= 0) {
				nn_ftab_val(h, (size_t)j, val);
				err = nn_ftab_put(&d->vals[set], key, val);
			}
		}
	}
	if (err) {
		nn_half_diff_free(d);
		return err;
	}
	d->held = true;
	return 0;
}

int nn_ap_standby_fold(struct nn_apply_cache *c, uint32_t live)
{
	struct nn_half_diff d;
	int set, err;

	if (c->sb.held || !c->journal_ok)
		return c->sb.held ? 0 : -EINVAL;
	err = nn_half_diff_of_journal(&d, c, live ^ 1);
	if (err)
		return err;
	for (set = 0; set < SET_COUNT; set++)
		nn_ftab_free(&c->have[set][live ^ 1]);
	c->sb = d;
	return 0;
}

int nn_ap_standby_unfold(struct nn_apply_cache *c, uint32_t live)
{
	int set, err = 0;

	if (!c->sb.held)
		return 0;
	for (set = 0; set < SET_COUNT && !err; set++) {
		struct nn_ftab *sb = &c->have[set][live ^ 1];

		nn_ftab_free(sb);
		err = nn_ftab_copy(sb, &c->have[set][live]);
		/* the copy shares the live arrays until the swap's first put */
		if (!err)
			err = nn_half_diff_swap(&c->sb, set, sb);
	}
	nn_half_diff_free(&c->sb);
	return err;
}
