// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_lookup.bpf.c - tools/bench only: one bare hash lookup and one bare
 * LPM trie lookup on maps the benchmark fills (100k entries by default), of
 * the key and value types of nn_addrs and nn_prefixes. "hot": the key comes
 * from the packet, the same every repetition. "rand": a key chosen at random
 * per repetition among the entries (bpf_get_prandom_u32), so the lookups miss
 * the CPU caches as they do under many distinct sources; bench_rand_floor
 * does the same key construction without the lookup.
 *
 * bench_seen_*_rand: a word at a random slot of a 65,536-slot table a CPU
 * (BENCH_SEEN), read and written, in a per-CPU array and in one plain array
 * cut into a region per CPU: the layouts session 12 compared for the
 * denied flows' admission table (gone since session 15; the comparison
 * holds for any table every packet reads at random).
 *
 * bench_ctr_*_rand: a device counter at a random slot, counted as the
 * pipeline counts a pass (packets and bytes of one direction), in the
 * per-CPU array the counters were before (pointer table, then the value)
 * and in nanami_abi.h's "Counter layout" (one 64-byte line of this CPU's
 * region, the lookup an address computation): the same random slot draw as
 * bench_rand_floor, so the difference is the counters' own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "nanami_abi.h"

#define BENCH_SEEN 65536 /* slots a CPU; the harness reads it back */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 100000);
	__type(key, struct nn_addr_key);
	__type(value, struct nn_addr_info);
} bench_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 100000);
	__type(key, struct nn_prefix_key);
	__type(value, struct nn_prefix_info);
} bench_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, struct nn_dev_stats);
} bench_ctr_percpu SEC(".maps");

/* Sized by the harness: possible CPUs * bench_n. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, struct nn_dev_line);
} bench_ctr_line SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BENCH_SEEN);
	__type(key, __u32);
	__type(value, __u32);
} bench_seen_percpu SEC(".maps");

/* Sized by the harness: possible CPUs * BENCH_SEEN. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_SEEN);
	__type(key, __u32);
	__type(value, __u32);
} bench_seen_line SEC(".maps");

/* Entries filled (the random keys are drawn from 0..bench_n-1). */
__u32 bench_n = 1;
volatile __u32 bench_sink;

/* Entry i: address fd00:<i>:: (the hash key) / fd00:<i>::/64 (the trie). */
static __always_inline void key_addr(__u8 *a, __u32 i)
{
	__builtin_memset(a, 0, 16);
	a[0] = 0xfd;
	a[2] = i >> 24;
	a[3] = i >> 16;
	a[4] = i >> 8;
	a[5] = i;
	a[15] = 5;
}

static __always_inline __u32 pick(void)
{
	__u32 n = bench_n ? bench_n : 1;

	return bpf_get_prandom_u32() % n;
}

SEC("xdp")
int bench_hash_hot(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	struct nn_addr_key k = {};

	if (data + 16 > end)
		return XDP_ABORTED;
	__builtin_memcpy(k.addr, data, 16);
	return bpf_map_lookup_elem(&bench_hash, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int bench_lpm_hot(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	struct nn_prefix_key k = { .prefixlen = NN_SCOPE_BITS + 128 };

	if (data + 16 > end)
		return XDP_ABORTED;
	__builtin_memcpy(k.addr, data, 16);
	return bpf_map_lookup_elem(&bench_lpm, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int bench_rand_floor(struct xdp_md *xdp)
{
	struct nn_addr_key k = {};

	key_addr(k.addr, pick());
	bench_sink = k.addr[5];
	return XDP_PASS;
}

SEC("xdp")
int bench_hash_rand(struct xdp_md *xdp)
{
	struct nn_addr_key k = {};

	key_addr(k.addr, pick());
	return bpf_map_lookup_elem(&bench_hash, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int bench_lpm_rand(struct xdp_md *xdp)
{
	struct nn_prefix_key k = { .prefixlen = NN_SCOPE_BITS + 128 };

	key_addr(k.addr, pick());
	return bpf_map_lookup_elem(&bench_lpm, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int bench_ctr_percpu_rand(struct xdp_md *xdp)
{
	__u32 slot = pick();
	struct nn_dev_stats *ds = bpf_map_lookup_elem(&bench_ctr_percpu, &slot);

	if (!ds)
		return XDP_DROP;
	ds->packets[0]++;
	ds->bytes[0] += 64;
	return XDP_PASS;
}

SEC("xdp")
int bench_ctr_line_rand(struct xdp_md *xdp)
{
	__u32 n = bench_n ? bench_n : 1;
	__u32 idx = bpf_get_smp_processor_id() * n + pick();
	struct nn_dev_line *dl = bpf_map_lookup_elem(&bench_ctr_line, &idx);

	if (!dl)
		return XDP_DROP;
	dl->s.packets[0]++;
	dl->s.bytes[0] += 64;
	return XDP_PASS;
}

/* The admission word: a fingerprint that differs from the slot's is stored
 * (a first denial), as in nn_denied_note. */
static __always_inline int seen_touch(__u32 *seen, __u32 fp)
{
	if (!seen)
		return XDP_DROP;
	if (*seen != fp)
		*seen = fp;
	return XDP_PASS;
}

SEC("xdp")
int bench_seen_percpu_rand(struct xdp_md *xdp)
{
	__u32 h = bpf_get_prandom_u32(), slot = h & (BENCH_SEEN - 1);

	return seen_touch(bpf_map_lookup_elem(&bench_seen_percpu, &slot), h | 1);
}

SEC("xdp")
int bench_seen_line_rand(struct xdp_md *xdp)
{
	__u32 h = bpf_get_prandom_u32();
	__u32 idx = bpf_get_smp_processor_id() * BENCH_SEEN + (h & (BENCH_SEEN - 1));

	return seen_touch(bpf_map_lookup_elem(&bench_seen_line, &idx), h | 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
