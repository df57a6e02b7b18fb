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

struct nn_compiled;
struct nn_srcf_op;

/* The tables of what an apply wants in the maps (want.c): each sized to
 * its count (nn_ap_want_reserve), then filled from the compiled entries:
 * the addresses, prefixes and prefix lengths, and (another thread may do
 * it at the same time: each table is one thread's) the cells; or all of
 * it (nn_ap_build_want: the cells on a helper from nn_apply_want_par_min).
 * 0 or -ENOMEM. */
int nn_ap_want_reserve(struct nn_ftab *want, const struct nn_compiled *c);
int nn_ap_want_addrs(struct nn_ftab *want, const struct nn_compiled *c);
int nn_ap_want_cells(struct nn_ftab *want, const struct nn_compiled *c, bool compat);
int nn_ap_build_want(struct nn_ftab *want, const struct nn_compiled *c, bool compat);
/* Free @c's compiled addresses, prefixes and lengths, or its cells and
 * their ranges, once their tables are built (NULL after). */
void nn_ap_drop_addrs(struct nn_compiled *c);
void nn_ap_drop_cells(struct nn_compiled *c);

/* Growable pair of key and value arrays, for one batch of writes. */
struct nn_ap_kv {
	uint8_t *k, *v;
	size_t n, cap;
};
/* Append @key (re-slotted to @slot) and, with @t, entry @i's value. 0 or
 * -ENOMEM. */
int nn_ap_kv_push(struct nn_ap_kv *b, const struct mapset *ms, int set, uint32_t slot,
		  const void *key, const struct nn_ftab *t, size_t i);
void nn_ap_kv_free(struct nn_ap_kv *b);
/* Push the entries [@lo, @hi) of @want that @have lacks or holds with
 * another value onto @b, keyed for slot @slot (write_slot.c). */
int nn_ap_push_diff(struct nn_ap_kv *b, const struct mapset *ms, int set, uint32_t slot,
		    const struct nn_ftab *want, const struct nn_ftab *have, size_t lo, size_t hi);
/* Make slot @slot of one map hold @want, knowing it holds @have
 * (write_slot.c): what differs is written, then what @have has and @want
 * lacks is deleted (nn_ap_delete_stale). 0 or -errno. */
int nn_ap_write_slot(const struct mapset *ms, int set, uint32_t slot, const struct nn_ftab *want,
		     const struct nn_ftab *have, size_t *writes);
/* Delete from slot @slot of one map what @have records and @want lacks
 * (after what @want changes is written). 0 or -errno. */
int nn_ap_delete_stale(const struct mapset *ms, int set, uint32_t slot, const struct nn_ftab *want,
		       const struct nn_ftab *have, size_t *writes);

/* The want tables built and written into slot @slot on two threads at
 * once (apply_pipe.c): what one thread has built is written while the
 * other builds the rest. */
struct nn_ap_pipe {
	struct nn_dp *dp;
	const struct mapset *sets;	   /* [SET_COUNT] */
	struct nn_ftab *want;		   /* [SET_COUNT], empty: filled here */
	struct nn_compiled *c;		   /* its entries are freed once built */
	bool compat;			   /* nn_dp's cells_compat */
	const struct nn_apply_cache *have; /* what slot @slot holds */
	uint32_t slot;
	uint32_t covered;      /* the source filter's: see nn_srcf_begin */
	struct nn_srcf_op *fo; /* nn_srcf_begin's, for nn_srcf_finish */
	size_t writes;	       /* out: map writes made */
	bool built;	       /* out: every table was built */
	const char *what;      /* out: the map whose write failed */
};
/* 0, or the first error: building (!built: -ENOMEM), or writing @what. */
int nn_ap_pipe_run(struct nn_ap_pipe *pp);

/* The journal of @c from its two halves' records (journal.c): where the
 * standby half differs from @live. 0 (journal_ok) or -ENOMEM. */
int nn_ap_journal_build(struct nn_apply_cache *c, uint32_t live);
/* @l emptied and made a list of @ksz-byte keys unless it is one already
 * (a record read from the maps has no journal yet): true when it was. */
bool nn_ap_journal_fit(struct nn_keylist *l, size_t ksz);
/* Append @key (l->ksz bytes) to @l. 0 or -ENOMEM. */
int nn_ap_kl_push(struct nn_keylist *l, const void *key);

/* The live half's record set aside while a full apply builds the next
 * generation (live_diff.c: one whole record less at its peak), as a
 * struct nn_half_diff (cache.h) from the standby half's record. */
#define NN_LIVE_DIFF_VSZ 512 /* the largest value of a record (a cell: 392) */

/* Set the live records of @c aside into @d (building the journal first
 * when there is none) and free them. 0, or with @c as it was and @d empty:
 * -E2BIG when a set's halves differ at more than 1/NN_LIVE_DIFF_MAX_PART
 * of its keys (then both records are kept: no saving), -ENOMEM, -EINVAL.
 * When @c keeps the standby record as a difference (c->sb), the live
 * record is turned into the standby's in place instead; failing, @c is
 * left with c->sb.held and must be dropped. */
#define NN_LIVE_DIFF_MAX_PART 8
int nn_live_diff_take(struct nn_apply_cache *c, uint32_t live, struct nn_half_diff *d);
/* Does @want hold what the live record of @set held (@standby: the
 * standby half's record, which the live one differs from at @d's keys)? */
bool nn_live_diff_same(const struct nn_half_diff *d, int set, const struct nn_ftab *want,
		       const struct nn_ftab *standby);
/* Make @t, the standby's record of @set, the live one it was set aside
 * from: in place when @t is not shared. 0 or -ENOMEM. */
int nn_live_diff_apply(const struct nn_half_diff *d, int set, struct nn_ftab *t);
void nn_half_diff_free(struct nn_half_diff *d);

/* The standby half's record kept as a difference from the live one
 * (standby_diff.c, cache.h's c->sb). */

/* Turn @t, one half's record, into the other's in place: @d's entries put
 * and its keys' other entries deleted; @d then holds what @t held at those
 * keys (so a second swap undoes the first). 0, or -ENOMEM with @t half
 * turned (the caller drops the record). */
int nn_half_diff_swap(struct nn_half_diff *d, int set, struct nn_ftab *t);
/* The entry @key has in the record of half @slot of @c: its table in *t
 * and its number, or -1. */
long nn_ap_half_find(const struct nn_apply_cache *c, int set, uint32_t slot, const void *key,
		     const struct nn_ftab **t);
/* Entries in the record of half @slot of @c. */
size_t nn_ap_half_count(const struct nn_apply_cache *c, int set, uint32_t slot);
/* @d: the keys of c's journal and half @half's entries at them (held).
 * 0, or -ENOMEM / -EINVAL with @d empty (standby_diff.c). */
int nn_half_diff_of_journal(struct nn_half_diff *d, const struct nn_apply_cache *c, uint32_t half);
/* Keep the standby half's record (live ^ 1) of @c as its difference from
 * the live one at the journal's keys and free it. Needs a valid journal;
 * on -ENOMEM @c is as it was. */
int nn_ap_standby_fold(struct nn_apply_cache *c, uint32_t live);
/* The standby half's record whole again (a copy of the live one with the
 * difference applied): for the rare writer of the whole half. 0, or
 * -ENOMEM (the caller drops the record). */
int nn_ap_standby_unfold(struct nn_apply_cache *c, uint32_t live);

#endif /* NANAMI_DP_APPLY_INT_H */
