/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * flowtab.bpf.h - the flow table's storage: a set-associative table the
 * programs manage themselves (nanami_abi.h "Flow table"; docs/datapath.md
 * "Session 13: a flow table the programs manage").
 *
 * Why not the kernel's LRU hash: its insert pops a free node from the CPU's
 * LRU list, rotating that list (up to four nodes of cold elements, one after
 * the other) and, the table being full, evicting the tail's element through
 * its bucket and chain, all under locks with interrupts off; then the
 * insert's own bucket. Here a key has one bucket of NN_FLOW_WAYS slots: a
 * lookup reads the bucket's first line (tags and sequence words) and, on a
 * tag match, the slot; an insert writes into the slot the same line chose
 * (empty, else the way holding the same key, else the least recently seen).
 *
 * Concurrency: a writer owns a slot while its sequence word is odd. It takes
 * it with a compare-and-swap from the even value it read (another CPU
 * writing the slot makes it give up: the flow is not recorded, the next
 * packet is judged again, as after an eviction), writes tag, key and value,
 * and releases it with the next even value. A reader takes a slot's key as
 * found only when the sequence word was even before and unchanged after it
 * compared the key, so a key half-written by another CPU never matches.
 * Loads are not reordered with loads, nor stores with stores, on the
 * architectures the matrix runs (x86-64); the compiler barriers keep clang
 * from reordering them.
 */
#ifndef NANAMI_FLOWTAB_BPF_H
#define NANAMI_FLOWTAB_BPF_H

#include "maps.bpf.h"

#define nn_ft_barrier() asm volatile("" ::: "memory")
#define NN_FT_READ32(x) (*(volatile __u32 *)&(x))

static __always_inline __u64 nn_ft_hash(const struct nn_flow_key *k)
{
	return nn_flow_hash(k, nn_flow_seed);
}

/* Bucket of @h (NULL only if the loader sized nothing), its index in
 * *@bucket, and the tag the key has in it: never 0, which marks an empty
 * slot. The map key is this frame's: 6.1 takes no global function's memory
 * argument as one. */
static __always_inline struct nn_flow_bucket *nn_ft_bucket(__u64 h, __u32 *tag, __u32 *bucket)
{
	__u32 idx = (__u32)h & nn_flow_mask;

	*tag = nn_flow_tag(h);
	*bucket = idx;
	return bpf_map_lookup_elem(&nn_flows, &idx);
}

static __always_inline int nn_ft_key_eq(const struct nn_flow_key *a, const struct nn_flow_key *b)
{
	const __u64 *x = (const __u64 *)(const void *)a, *y = (const __u64 *)(const void *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

/* The way of @b holding @k (tag @tag), or -1: the slot's sequence word was
 * even and unchanged across the key's comparison (*@seq: that value). */
static __always_inline int nn_ft_way(struct nn_flow_bucket *b, const struct nn_flow_key *k,
				     __u32 tag, __u32 *seq)
{
	int w;

#pragma unroll
	for (w = 0; w < NN_FLOW_WAYS; w++) {
		__u32 s;

		if (NN_FT_READ32(b->tag[w]) != tag)
			continue;
		s = NN_FT_READ32(b->seq[w]);
		if (s & 1)
			continue;
		nn_ft_barrier();
		if (!nn_ft_key_eq(&b->slot[w].k, k))
			continue;
		nn_ft_barrier();
		if (NN_FT_READ32(b->seq[w]) != s)
			continue;
		*seq = s;
		return w;
	}
	return -1;
}

/*
 * The way of @s->fk's bucket holding it (the bucket's index in
 * @s->ft_bucket), or -1. Global, verified once: the way is then an unknown
 * number to the verifier, so the rest of the program is walked once for a
 * hit, not once for each way the search could stop at.
 */
__noinline int nn_ft_locate(struct nn_scratch *s)
{
	struct nn_flow_bucket *b;
	__u32 tag, seq;

	if (!s)
		return -1;
	b = nn_ft_bucket(nn_ft_hash(&s->fk), &tag, &s->ft_bucket);
	if (!b)
		return -1;
	return nn_ft_way(b, &s->fk, tag, &seq);
}

/* The entry of @s->fk, or NULL (expiry is the caller's: flow.bpf.h). */
static __always_inline struct nn_flow *nn_ft_find(struct nn_scratch *s)
{
	struct nn_flow_bucket *b;
	int w = nn_ft_locate(s);

	if (w < 0)
		return NULL;
	b = bpf_map_lookup_elem(&nn_flows, &s->ft_bucket);
	if (!b)
		return NULL;
	return &b->slot[w & (NN_FLOW_WAYS - 1)].f;
}

/* Take way @w of @b from its even sequence value @s: 1 when this CPU owns
 * it (odd), 0 when another CPU wrote it in between. */
static __always_inline int nn_ft_claim(struct nn_flow_bucket *b, int w, __u32 s)
{
	if (s & 1)
		return 0;
	return __sync_val_compare_and_swap(&b->seq[w & (NN_FLOW_WAYS - 1)], s, s + 1) == s;
}

static __always_inline void nn_ft_release(struct nn_flow_bucket *b, int w, __u32 s)
{
	nn_ft_barrier();
	*(volatile __u32 *)&b->seq[w & (NN_FLOW_WAYS - 1)] = s + 2;
}

/* Remove @k's entry, if there is one. Global, verified once (a rare path:
 * an expired or cut flow). 1 when it removed one. */
__noinline int nn_ft_delete(struct nn_flow_key *k)
{
	struct nn_flow_bucket *b;
	__u32 tag, seq, idx;
	int w;

	if (!k)
		return 0;
	b = nn_ft_bucket(nn_ft_hash(k), &tag, &idx);
	if (!b)
		return 0;
	w = nn_ft_way(b, k, tag, &seq);
	if (w < 0 || !nn_ft_claim(b, w, seq))
		return 0;
	*(volatile __u32 *)&b->tag[w & (NN_FLOW_WAYS - 1)] = 0;
	nn_ft_release(b, w, seq);
	return 1;
}

/*
 * Record @f under @k: into the way holding @k already (another CPU's
 * insert raced this one), else an empty way, else the way seen least
 * recently (the bucket's LRU: the table evicts as the kernel's LRU does,
 * by approximation). Losing the slot to another CPU's write records
 * nothing: the flow's next packet is judged again. Global, verified once.
 * 1 when it recorded the flow.
 */
__noinline int nn_ft_put(struct nn_flow_key *k, struct nn_flow *f)
{
	__u64 oldest = ~0ull, *dst, *src;
	struct nn_flow_bucket *b;
	__u32 tag, seq, s, idx;
	int w, victim = -1, i;

	if (!k || !f)
		return 0;
	b = nn_ft_bucket(nn_ft_hash(k), &tag, &idx);
	if (!b)
		return 0;
	w = nn_ft_way(b, k, tag, &seq);
	if (w >= 0) {
		victim = w;
	} else {
#pragma unroll
		for (i = 0; i < NN_FLOW_WAYS; i++) {
			__u64 seen;

			if (!NN_FT_READ32(b->tag[i])) {
				victim = i;
				break;
			}
			seen = *(volatile __u64 *)&b->slot[i].f.last_seen_ns;
			if (seen < oldest) {
				oldest = seen;
				victim = i;
			}
		}
		if (victim < 0)
			return 0;
		seq = NN_FT_READ32(b->seq[victim & (NN_FLOW_WAYS - 1)]);
	}
	victim &= NN_FLOW_WAYS - 1;
	if (!nn_ft_claim(b, victim, seq))
		return 0;
	s = seq;
	*(volatile __u32 *)&b->tag[victim] = 0;
	nn_ft_barrier();
	dst = (__u64 *)(void *)&b->slot[victim].k;
	src = (__u64 *)(void *)k;
#pragma unroll
	for (i = 0; i < (int)(sizeof(*k) / 8); i++)
		dst[i] = src[i];
	dst = (__u64 *)(void *)&b->slot[victim].f;
	src = (__u64 *)(void *)f;
#pragma unroll
	for (i = 0; i < (int)(sizeof(*f) / 8); i++)
		dst[i] = src[i];
	nn_ft_barrier();
	*(volatile __u32 *)&b->tag[victim] = tag;
	nn_ft_release(b, victim, s);
	return 1;
}

#endif /* NANAMI_FLOWTAB_BPF_H */
