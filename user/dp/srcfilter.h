/* SPDX-License-Identifier: GPL-2.0 */
/*
 * srcfilter.h - the writers of nn_srcf, the per-slot filter of nn_addrs'
 * addresses (nanami_abi.h "Source filter", docs/datapath.md). Every writer
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

/* nn_srcf_begin() for writes that make the half hold @want where it holds
 * @have (nn_addrs keys, slot 0). */
int nn_srcf_begin_diff(struct nn_dp *dp, uint32_t slot, uint32_t covered,
		       const struct nn_ftab *want, const struct nn_ftab *have,
		       struct nn_srcf_op *op, size_t *writes);

/* Half @slot now holds @want (nn_addrs keys, slot 0) and held @have: add
 * the addresses of @want that @have lacks (or rebuild from @want), stamp
 * for @epoch. Map writes are added to @writes. An error leaves the half
 * unstamped (the programs do not use it): the caller may go on. */
int nn_srcf_finish(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
		   const struct nn_ftab *want, const struct nn_ftab *have, uint32_t epoch,
		   size_t *writes);

/* The same after a device patch: the half holds @now (the record after the
 * patch), written on the journal's keys @jl and the patch's. */
int nn_srcf_finish_patch(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
			 const struct nn_ftab *now, const struct nn_keylist *jl,
			 const struct nn_dev_patch *pt, uint32_t epoch, size_t *writes);

/* The live epoch moves from @from to @to on the same slot (nn_local's
 * bump): each half stamped for its old epoch takes the new one (the live
 * half before @to is written, so no packet uses it under the wrong one). */
int nn_srcf_restamp(struct nn_dp *dp, uint32_t from, uint32_t to);

#endif /* NANAMI_DP_SRCFILTER_H */
