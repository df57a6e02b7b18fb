// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * XDP on the overlay interface, the from-overlay direction: generic mode on
 * wg0 (a TUN device has no native XDP), native on veth. Attached through
 * libxdp so it can share the interface with other XDP programs.
 */
#include "verdict.bpf.h"
#include <xdp/xdp_helpers.h>

/* libxdp dispatcher metadata: run first among our peers, continue on pass. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nn_xdp_from_overlay);

SEC("xdp")
int nn_xdp_from_overlay(struct xdp_md *xdp)
{
	struct nn_ctx c;

	nn_ctx_from_xdp(&c, xdp, NN_DIR_FROM_OVERLAY);
	return nn_from_overlay(&c) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
