// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* TC egress on the overlay interface: packets the host routes to a peer. */
#include "verdict.bpf.h"

SEC("tc")
int nn_tc_into_overlay(struct __sk_buff *skb)
{
	struct nn_ctx c;

	nn_ctx_from_skb(&c, skb, NN_DIR_INTO_OVERLAY);
	return nn_into_overlay(&c) ? NN_TC_PASS : NN_TC_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
