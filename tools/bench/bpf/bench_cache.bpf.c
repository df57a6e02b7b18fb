// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_cache.bpf.c - tools/bench only: the real from-overlay XDP pipeline
 * (verdict.bpf.h, on the benchmark's policy maps) behind a prologue that
 * rewrites the packet's source and destination with a pair chosen per
 * repetition from bench_pairs (many distinct sources: the cache-realistic
 * variant). bench_cache_floor runs the same prologue and passes, so
 * "policy" = bench_cache - bench_cache_floor.
 *
 * bench_seq_mode 1 walks the pairs in order instead (to open every pair's
 * flow once before the established runs).
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

struct bench_pair {
	__u8 src[16];
	__u8 dst[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct bench_pair);
} bench_pairs SEC(".maps");

__u32 bench_n = 1;
__u32 bench_v4;
__u32 bench_seq_mode;
__u32 bench_seq;
__u32 bench_port_mode;

static __always_inline int rewrite(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	__u32 n = bench_n ? bench_n : 1, i;
	__u32 l2 = nn_framing == NN_FRAMING_ETH ? 14 : 0;
	struct bench_pair *bp;
	__u8 *ip = data + l2;

	i = bench_seq_mode ? bench_seq++ % n : bpf_get_prandom_u32() % n;
	bp = bpf_map_lookup_elem(&bench_pairs, &i);
	if (!bp)
		return -1;
	if (bench_v4) {
		if ((void *)(ip + 20) > end)
			return -1;
		__builtin_memcpy(ip + 12, bp->src, 4);
		__builtin_memcpy(ip + 16, bp->dst, 4);
		if (bench_port_mode) {
			if ((void *)(ip + 22) > end)
				return -1;
			*(__u16 *)(ip + 20) = bpf_get_prandom_u32();
		}
		if (bench_port_mode == 2)
			ip[19] = 1 + bpf_get_prandom_u32() % 254;
	} else {
		if ((void *)(ip + 40) > end)
			return -1;
		__builtin_memcpy(ip + 8, bp->src, 16);
		__builtin_memcpy(ip + 24, bp->dst, 16);
		if (bench_port_mode) {
			if ((void *)(ip + 42) > end)
				return -1;
			*(__u16 *)(ip + 40) = bpf_get_prandom_u32();
		}
		if (bench_port_mode == 2)
			*(__u16 *)(ip + 38) = bpf_get_prandom_u32();
	}
	return 0;
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
