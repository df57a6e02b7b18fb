// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_parse.bpf.c - tools/bench only, never attached: the parser alone
 * (nn_parse, exactly what the policy programs run first), on XDP and TC, so
 * the benchmark can split a case's cost into floor + parse + policy.
 */
#include "parse.bpf.h"

SEC("xdp")
int bench_xdp_parse(struct xdp_md *xdp)
{
	struct nn_ctx c;
	struct nn_pkt p = {};

	nn_ctx_from_xdp(&c, xdp, NN_DIR_FROM_OVERLAY);
	if (nn_parse(&c, &p) || p.proto == 255)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tc")
int bench_tc_parse(struct __sk_buff *skb)
{
	struct nn_ctx c;
	struct nn_pkt p = {};

	nn_ctx_from_skb(&c, skb, NN_DIR_FROM_OVERLAY);
	if (nn_parse(&c, &p) || p.proto == 255)
		return NN_TC_DROP;
	return NN_TC_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
