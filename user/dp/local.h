/* SPDX-License-Identifier: GPL-2.0 */
/*
 * local.h - this gateway host's own non-overlay addresses in nn_local.
 *
 * From the overlay they are judged like the gateway's overlay address (the
 * ACL decides), so a full-tunnel device never reaches the host's SSH or
 * metrics by accident. The set is not part of a policy slot: a change bumps
 * the live epoch by two (the same slot, so no barrier is needed), and every
 * flow and fragment verdict is judged again on its next packet, exactly as
 * after a policy change. Callers serialize this with nn_apply() (one thread
 * owns every change in the controller).
 */
#ifndef NANAMI_DP_LOCAL_H
#define NANAMI_DP_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "dp/loader.h"

struct nn_host_addr {
	uint8_t addr[NN_ADDR_LEN]; /* IPv4 as IPv4-mapped */
	uint32_t ifindex;
};

struct nn_local_change {
	size_t added;
	size_t removed;
	uint32_t epoch; /* live epoch afterwards */
	bool bumped;	/* the epoch moved (something changed, a policy is live) */
};

/* Make nn_local hold exactly @addrs (@n of them; duplicates allowed). 0 or
 * -errno (-ENOSPC above NN_MAX_LOCAL_ADDRS: nothing is written then). */
int nn_local_set(struct nn_dp *dp, const struct nn_host_addr *addrs, size_t n,
		 struct nn_local_change *chg);

#endif /* NANAMI_DP_LOCAL_H */
