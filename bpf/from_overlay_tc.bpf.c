// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* TC ingress on the overlay interface: packets a peer sent (decrypted). */
#include "verdict.bpf.h"

SEC("tc")
int nn_tc_from_overlay(struct __sk_buff *skb)
{
	struct nn_ctx c;

	nn_ctx_from_skb(&c, skb, NN_DIR_FROM_OVERLAY);
	return nn_from_overlay(&c) ? NN_TC_PASS : NN_TC_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
