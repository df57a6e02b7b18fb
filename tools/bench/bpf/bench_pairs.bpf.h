/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * bench_pairs.bpf.h - tools/bench only: the random-pair prologue of the
 * xdp_rand / xdp_one cases (bench_cache.bpf.c) and of the line floors
 * (bench_lines.bpf.c). One copy of the code, so that the floors' prologue
 * is the one xdp_rand/floor times and the same floor subtracts from both.
 *
 * The prologue rewrites the packet's source and destination with a pair
 * chosen per repetition from bench_pairs (bench_seq_mode 1: in order).
 * bench_port_mode 1 also writes a random source port into the TCP header
 * (a flow never seen, nearly every packet); 2 (one pair: xdp_one) also
 * draws the destination host within its resource's prefix (v4 the /24's
 * last octet, v6 the /64's last 16 bits): bench_cache.bpf.c says why.
 */
#ifndef NANAMI_BENCH_PAIRS_BPF_H
#define NANAMI_BENCH_PAIRS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct bench_pair {
	__u8 src[16];
	__u8 dst[16];
};

/* The harness sizes it (65536) and shares one map between the skeletons
 * of a scale (bpf_map__reuse_fd). */
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

/* @l2: the link-layer header's length in front of the IP header. */
static __always_inline int bench_rewrite(struct xdp_md *xdp, __u32 l2)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	__u32 n = bench_n ? bench_n : 1, i;
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

#endif /* NANAMI_BENCH_PAIRS_BPF_H */
