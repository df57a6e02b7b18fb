// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_veth.bpf.c - tools/bench packet-rate programs (never part of the
 * product):
 *  - bench_gen: the traffic generator's program, run by BPF_PROG_RUN with
 *    BPF_F_TEST_XDP_LIVE_FRAMES. Live frames are recycled without being
 *    re-initialised, so every frame gets its MACs and TTL back (the
 *    gateway's forwarding rewrites them in the same page) and, with sprayed sources, the next
 *    source/destination pair and a fresh IPv4 header checksum. XDP_TX
 *    sends it out of the generator's veth;
 *  - receivers that count: bench_count_drop (the sink, and the XDP_DROP
 *    ceiling), bench_count_pass (NAPI on a veth for TC and nftables runs;
 *    what it counts is what the gateway's stack then handles, synchronously
 *    in the same NAPI poll),
 *    bench_tc_drop (the TC drop ceiling).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct bench_pair {
	__u8 src[16];
	__u8 dst[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 131072);
	__type(key, __u32);
	__type(value, struct bench_pair);
} gen_pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

/* Per-CPU packet counter of the receivers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_cnt SEC(".maps");

__u32 gen_n = 1;    /* pairs; a power of two */
__u32 gen_spread;   /* per-thread offset so threads spray different pairs */
__u8 gen_eth[12];   /* destination and source MAC */
__u32 gen_tcp_base; /* TCP checksum sum without the addresses */

static __always_inline __u16 csum_ip4(__u16 *h)
{
	__u32 s = 0;
	int i;

	for (i = 0; i < 10; i++)
		s += h[i];
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* The next (source, destination) pair to spray, round robin. */
static __always_inline struct bench_pair *next_pair(void)
{
	__u32 zero = 0, i;
	__u64 *seq = bpf_map_lookup_elem(&gen_seq, &zero);

	if (!seq)
		return NULL;
	i = ((*seq)++ + gen_spread) & (gen_n - 1);
	return bpf_map_lookup_elem(&gen_pairs, &i);
}

SEC("xdp")
int bench_gen(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	/* The receiver's forwarding rewrote the MACs in this very page. */
	__builtin_memcpy(eth->h_dest, gen_eth, 6);
	__builtin_memcpy(eth->h_source, gen_eth + 6, 6);
	if (eth->h_proto == bpf_htons(0x0800)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return XDP_ABORTED;
		ip->ttl = 64;
		if (gen_n > 1) {
			struct bench_pair *bp = next_pair();

			if (!bp)
				return XDP_ABORTED;
			__builtin_memcpy(&ip->saddr, bp->src, 4);
			__builtin_memcpy(&ip->daddr, bp->dst, 4);
		}
		ip->check = 0;
		ip->check = csum_ip4((__u16 *)ip);
		/* A valid TCP checksum: conntrack checks it (nftables runs). */
		if (gen_tcp_base) {
			__u16 *tcheck = (void *)(ip + 1) + 16;
			__u32 s = gen_tcp_base;

			if ((void *)(tcheck + 1) > end)
				return XDP_ABORTED;
			s += (ip->saddr & 0xffff) + (ip->saddr >> 16);
			s += (ip->daddr & 0xffff) + (ip->daddr >> 16);
			s = (s & 0xffff) + (s >> 16);
			s = (s & 0xffff) + (s >> 16);
			*tcheck = ~s;
		}
	} else if (eth->h_proto == bpf_htons(0x86DD)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return XDP_ABORTED;
		ip6->hop_limit = 64;
		if (gen_n > 1) {
			struct bench_pair *bp = next_pair();

			if (!bp)
				return XDP_ABORTED;
			__builtin_memcpy(&ip6->saddr, bp->src, 16);
			__builtin_memcpy(&ip6->daddr, bp->dst, 16);
		}
	}
	return XDP_TX;
}

static __always_inline void count(void)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&bench_cnt, &zero);

	if (c)
		(*c)++;
}

SEC("xdp")
int bench_count_drop(struct xdp_md *xdp)
{
	count();
	return XDP_DROP;
}

SEC("xdp")
int bench_count_pass(struct xdp_md *xdp)
{
	count();
	return XDP_PASS;
}

SEC("tc")
int bench_tc_drop(struct __sk_buff *skb)
{
	count();
	return 2; /* TC_ACT_SHOT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
