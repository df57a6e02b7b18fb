// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_cache.bpf.c - tools/bench only: the real from-overlay XDP pipeline
 * (verdict.bpf.h, on the benchmark's policy maps) behind a prologue that
 * rewrites the packet's source and destination with a pair chosen per
 * repetition from bench_pairs (many distinct sources: the cache-realistic
 * variant). bench_cache_floor runs the same prologue and passes, so
 * "policy" = bench_cache - bench_cache_floor.
 *
 * The prologue is bench_pairs.bpf.h's (the line floors, bench_lines.bpf.c,
 * run the same). bench_seq_mode 1 walks the pairs in order instead (to
 * open every pair's flow once before the established runs).
 *
 * bench_port_mode 1 also writes a random source port into the TCP header:
 * almost every packet is then a flow never seen (2^16 ports per pair), so
 * the normal program inserts one each time, into a full LRU table as under
 * churn. Its floor is the same prologue with the same setting.
 * bench_port_mode 2 (one pair: xdp_one) also draws the destination host
 * within its resource's prefix (v4 the /24's last octet, 1-254; v6 the
 * /64's last 16 bits): one pair's 2^16 source ports alone fit in the flow
 * table, so after about a million packets every port's flow was there and
 * the case measured flow hits, not inserts. The prefix, the cells and the
 * rule stay the same: the policy's lines stay hot.
 */
#include "verdict.bpf.h"

#include "bench_pairs.bpf.h"

static __always_inline int rewrite(struct xdp_md *xdp)
{
	return bench_rewrite(xdp, nn_framing == NN_FRAMING_ETH ? 14 : 0);
}

SEC("xdp")
int bench_cache_floor(struct xdp_md *xdp)
{
	return rewrite(xdp) ? XDP_ABORTED : XDP_PASS;
}

SEC("xdp")
int bench_cache(struct xdp_md *xdp)
{
	struct nn_ctx c;

	if (rewrite(xdp))
		return XDP_ABORTED;
	nn_ctx_from_xdp(&c, xdp, NN_DIR_FROM_OVERLAY);
	return nn_from_overlay(&c) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
