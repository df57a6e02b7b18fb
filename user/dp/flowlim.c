// SPDX-License-Identifier: GPL-2.0
/* flowlim.c - the per-device bound on new state (docs/datapath.md
 * "New-state bound"): the controller's rate and burst, into nn_flowlim. */
#include <errno.h>

#include <bpf/bpf.h>

#include "dp/loader.h"

int nn_dp_set_flow_limit(struct nn_dp *dp, uint32_t rate, uint32_t burst)
{
	struct nn_flowlim lim = { .rate = rate, .burst = burst };
	uint32_t zero = 0;

	if (rate > NN_MAX_NEW_FLOW_RATE || (rate && !burst))
		return -EINVAL;
	if (bpf_map_update_elem(dp->map_fd[NN_M_FLOWLIM], &zero, &lim, BPF_ANY))
		return -errno;
	return 0;
}
