// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_empty.bpf.c - programs for tools/bench/nn-microbench only, never
 * attached anywhere:
 *  - empty XDP and TC programs: the floor of BPF_PROG_TEST_RUN (context
 *    setup, the run loop, the indirect call) that every policy figure is
 *    compared against;
 *  - a flow-table insert alone: the one step of the policy programs that a
 *    repeated test run cannot time in place (the second repetition of a new
 *    flow already finds the flow), done here on an LRU hash of the real key
 *    and value types and size.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "nanami_abi.h"

SEC("xdp")
int bench_xdp_empty(struct xdp_md *xdp)
{
	return 2; /* XDP_PASS */
}

SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

/* The kernel's LRU hash with nn_flows' key and value (nn_flows' type until
 * session 13: the reference figure of that design). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nn_flow_key);
	__type(value, struct nn_flow);
} bench_flows SEC(".maps");

/* 0: every repetition overwrites the packet's key (an LRU update of an
 * existing key still takes a fresh node and frees the old one). 1: every
 * repetition inserts a new key, so a full table evicts on each insert. */
__u32 bench_fresh_keys;
__u32 bench_seq;

/* The packet data is the flow key. */
SEC("xdp")
int bench_flow_insert(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	struct nn_flow_key k;
	struct nn_flow f = {};

	if (data + sizeof(k) > end)
		return 0; /* XDP_ABORTED */
	__builtin_memcpy(&k, data, sizeof(k));
	if (bench_fresh_keys) {
		__u32 s = bench_seq++;

		k.aport = s;
		k.bport = s >> 16;
	}
	f.last_seen_ns = 1;
	f.epoch = 1;
	f.state = NN_FS_NEW;
	bpf_map_update_elem(&bench_flows, &k, &f, BPF_ANY);
	return 2;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
