/* SPDX-License-Identifier: GPL-2.0 */
/*
 * apply_int.h - what the full switch (apply.c) and the patch switch
 * (patch.c) share. Private to user/dp.
 */
#ifndef NANAMI_DP_APPLY_INT_H
#define NANAMI_DP_APPLY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp/cache.h"
#include "dp/ftab.h"
#include "dp/loader.h"

/* One double-buffered map. */
struct mapset {
	int fd;
	size_t ksz;
	size_t vsz;
};

void nn_ap_init_sets(const struct nn_dp *dp, struct mapset *sets);

/* The journal of @c from its two halves' records (journal.c): where the
 * standby half differs from @live. 0 (journal_ok) or -ENOMEM. */
int nn_ap_journal_build(struct nn_apply_cache *c, uint32_t live);
/* @l emptied and made a list of @ksz-byte keys unless it is one already
 * (a record read from the maps has no journal yet): true when it was. */
bool nn_ap_journal_fit(struct nn_keylist *l, size_t ksz);
/* Append @key (l->ksz bytes) to @l. 0 or -ENOMEM. */
int nn_ap_kl_push(struct nn_keylist *l, const void *key);

/* The live half's record as the journal's keys' live entries, while a full
 * apply builds the next generation (live_diff.c: one whole record less at
 * its peak). */
#define NN_LIVE_DIFF_VSZ 512 /* the largest value of a record (a cell: 392) */
struct nn_live_diff {
	struct nn_ftab keys[SET_COUNT]; /* every journal key (values empty) */
	struct nn_ftab vals[SET_COUNT]; /* those live holds, with live's value */
	bool held;			/* the live records are set aside */
};

/* Set the live records of @c aside into @d (building the journal first
 * when there is none) and free them. 0, or with @c as it was and @d empty:
 * -E2BIG when a set's halves differ at more than 1/NN_LIVE_DIFF_MAX_PART
 * of its keys (then both records are kept: no saving), -ENOMEM, -EINVAL. */
#define NN_LIVE_DIFF_MAX_PART 8
int nn_live_diff_take(struct nn_apply_cache *c, uint32_t live, struct nn_live_diff *d);
/* Does @want hold what the live record of @set held (@standby: the
 * standby half's record, which the live one differs from at @d's keys)? */
bool nn_live_diff_same(const struct nn_live_diff *d, int set, const struct nn_ftab *want,
		       const struct nn_ftab *standby);
/* Make @t, the standby's record of @set, the live one it was set aside
 * from: in place when @t is not shared. 0 or -ENOMEM. */
int nn_live_diff_apply(const struct nn_live_diff *d, int set, struct nn_ftab *t);
void nn_live_diff_free(struct nn_live_diff *d);

#endif /* NANAMI_DP_APPLY_INT_H */
