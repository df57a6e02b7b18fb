/* SPDX-License-Identifier: GPL-2.0 */
/*
 * srcfilter.h - the writers of nn_srcf, the per-slot filter of the keys of
 * nn_addrs and nn_cells4 (nanami_abi.h "Source filter", docs/datapath.md). Every writer
 * of a standby half of nn_addrs brackets its writes: nn_srcf_begin() (the
 * half's stamp cleared first, so a half whose filter may miss an address
 * is never stamped), the writes, then one of the finishers, which bring the
 * filter to cover what the half now holds and stamp it for the epoch it
 * goes live at. Private to user/dp.
 */
#ifndef NANAMI_DP_SRCFILTER_H
#define NANAMI_DP_SRCFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp/cache.h"
#include "dp/loader.h"

struct nn_dev_patch;

/* What nn_srcf_begin() found: did the half's filter cover what the half
 * held (stamped for @covered), its stamp now, and how many addresses it
 * was built with and given since (a rebuild clears what deleted addresses
 * left). */
struct nn_srcf_op {
	bool inc;
	uint64_t stamp;
	uint64_t added;
};

/* Before half @slot of nn_addrs is written: @covered is the epoch whose
 * stamp says the filter covers the half's content (the live epoch - 1 for a
 * standby half); @adds: the writes may add keys. The stamp is cleared when
 * they do or when it does not cover (a half whose filter may miss an
 * address is never left stamped). An error here must stop the write. */
int nn_srcf_begin(struct nn_dp *dp, uint32_t slot, uint32_t covered, bool adds,
		  struct nn_srcf_op *op, size_t *writes);

/* nn_srcf_begin() for writes that make half @slot hold @want_addrs and
 * @want_cells (records of nn_addrs and nn_cells4) where @c records what it
 * holds now. */
int nn_srcf_begin_diff(struct nn_dp *dp, uint32_t slot, uint32_t covered,
		       const struct nn_ftab *want_addrs, const struct nn_ftab *want_cells,
		       const struct nn_apply_cache *c, struct nn_srcf_op *op, size_t *writes);

/* Half @slot now holds @want_addrs and @want_cells and held what @c still
 * records for it: add the keys it lacked (or rebuild), stamp for @epoch.
 * Map writes are added to @writes. An error leaves the half unstamped (the
 * programs do not use it): the caller may go on. */
int nn_srcf_finish(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
		   const struct nn_ftab *want_addrs, const struct nn_ftab *want_cells,
		   const struct nn_apply_cache *c, uint32_t epoch, size_t *writes);

/* The same after a device patch: @c records what the half holds now; it
 * was written on the journal's keys and the patch's. */
int nn_srcf_finish_patch(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
			 const struct nn_apply_cache *c, const struct nn_dev_patch *pt,
			 uint32_t epoch, size_t *writes);

/* The live half when a full apply finds the live generation already
 * wanted (no flip): stamped for @epoch, or rebuilt from @c's record of it
 * and stamped (maps adopted from a controller before the filter, or a
 * failed filter write). The programs skip it until the stamp. */
int nn_srcf_ensure_live(struct nn_dp *dp, uint32_t epoch, const struct nn_apply_cache *c,
			size_t *writes);

/* The live epoch moves from @from to @to on the same slot (nn_local's
 * bump): each half stamped for its old epoch takes the new one (the live
 * half before @to is written, so no packet uses it under the wrong one). */
int nn_srcf_restamp(struct nn_dp *dp, uint32_t from, uint32_t to);

#endif /* NANAMI_DP_SRCFILTER_H */
