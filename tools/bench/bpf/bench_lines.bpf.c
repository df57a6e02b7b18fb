// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bench_lines.bpf.c - tools/bench only: what the cache lines a cold case
 * must read cost on this machine, measured in the same process as the
 * cases (issue 14's "where the remaining time goes", docs/datapath.md
 * "Session 17 (floor17)"). Every program runs xdp_rand/floor's prologue
 * first (bench_pairs.bpf.h), so that floor subtracts from these as from
 * the cold cases, then loads lines at random, each line's address taken
 * from the line loaded before it (a dependent chain: no two of one
 * packet's loads can overlap):
 *
 *  bench_lines_chase  bench_k (1..BENCH_CHASE_MAX) lines of a table the
 *                     size of the micro's flow table (its buckets x 640 B),
 *                     the first a random bucket's first line, each next
 *                     one the line the one before names (the harness
 *                     writes a single cycle through every line: k
 *                     distinct lines, never a short loop);
 *  bench_lines_hit    what a cold established packet's flow hit and count
 *                     read: a bucket's first line, then the slot line of
 *                     the same bucket it names (the way a tag matched),
 *                     then the device counter line that slot names, in a
 *                     table the size of the scale's nn_dev_ctr, counted
 *                     (a load and a store) as the pipeline counts a pass;
 *  bench_lines_ctr    the counter line alone, counted;
 *  bench_lines_put    what an insert's flow lines cost: a bucket's first
 *                     line, a compare-and-swap on it (the claim: a locked
 *                     instruction waits for every earlier store, as the
 *                     product's does), then a store to the slot line of the
 *                     same bucket it names (the victim), written without
 *                     being read.
 *
 * The start depends on the rewritten packet's source (the prologue's pair
 * line, as the case's flow hash does) and on a random draw (so that even
 * at N=10, 10 pairs, the start is any bucket: the floors measure the
 * table, not the scale's pairs). bench_trace records every line visited
 * (the harness checks the chase against the table it wrote, lines.c's
 * bench_lines_check) and, with the verdict depending on the last value loaded,
 * keeps clang and the verifier from dropping any load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "nanami_abi.h"

#include "bench_pairs.bpf.h"

#define BENCH_CHASE_MAX 5
#define BENCH_BUCKET_LINES (sizeof(struct nn_flow_bucket) / 64)
/* A bucket's first two lines are its tags and seen[]; then one a slot. */
#define BENCH_SLOT_LINE0 2

/* One 64-byte line of the flow-sized table (lines.c's struct bench_line:
 * the same layout). */
struct bench_line {
	__u32 next;  /* the chase's next line */
	__u32 way;   /* 0..NN_FLOW_WAYS-1: the slot line of its bucket a hit reads */
	__u32 ctr;   /* a device counter slot, 0..bench_ctr_slots-1 */
	__u32 stamp; /* bench_lines_put's compare-and-swap and store */
	__u32 pad[12];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct bench_line) == 64, "one line");
_Static_assert(sizeof(struct nn_flow_bucket) % 64 == 0, "whole lines");

/* Sized by the harness: the flow table's buckets x BENCH_BUCKET_LINES. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_line);
} bench_flow_lines SEC(".maps");

/* Sized by the harness as nn_dev_ctr: possible CPUs x bench_ctr_slots,
 * this CPU's region first (nanami_abi.h "Counter layout"). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_dev_line);
} bench_ctr_lines SEC(".maps");

const volatile __u32 bench_l2;		/* link-layer header before IP */
const volatile __u32 bench_buckets = 1; /* a power of two */
const volatile __u32 bench_ctr_slots = 1;

__u32 bench_k = 1;
__u32 bench_trace[BENCH_CHASE_MAX]; /* lines visited, in order */
__u32 bench_stamp;

/* A random draw made after (and from) the packet's rewritten source, so
 * that the chain starts where the case's flow hash does. */
static __always_inline int start_hash(struct xdp_md *xdp, __u32 *h)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	__u8 *src = data + bench_l2 + (bench_v4 ? 12 : 20);

	if ((void *)(src + 4) > end)
		return -1;
	*h = (*(__u32 *)src * 0x9e3779b1u) ^ bpf_get_prandom_u32();
	return 0;
}

/* The first line of @h's bucket. */
static __always_inline __u32 first_line(__u32 h)
{
	return (h & (bench_buckets - 1)) * BENCH_BUCKET_LINES;
}

/* The line of @l's bucket that @l names as the way: @base is the bucket's
 * first line. */
static __always_inline __u32 slot_line(__u32 base, const struct bench_line *l)
{
	return base + BENCH_SLOT_LINE0 + (l->way & (NN_FLOW_WAYS - 1));
}

static __always_inline struct nn_dev_line *ctr_line(__u32 slot, __u32 *idx)
{
	*idx = bpf_get_smp_processor_id() * bench_ctr_slots + slot;
	return bpf_map_lookup_elem(&bench_ctr_lines, idx);
}

SEC("xdp")
int bench_lines_chase(struct xdp_md *xdp)
{
	struct bench_line *l;
	__u32 h, idx;
	int i;

	if (bench_rewrite(xdp, bench_l2) || start_hash(xdp, &h))
		return XDP_ABORTED;
	idx = first_line(h);
	for (i = 0; i < BENCH_CHASE_MAX; i++) {
		if (i >= bench_k)
			break;
		l = bpf_map_lookup_elem(&bench_flow_lines, &idx);
		if (!l)
			return XDP_ABORTED;
		bench_trace[i] = idx;
		idx = l->next;
	}
	/* The verdict waits for the last line. */
	return idx == ~0u ? XDP_DROP : XDP_PASS;
}

/* The prologue, a random bucket's first line (*@first) and the slot line
 * of the same bucket it names (returned: its address is computed from
 * *@first's way, no load of it yet), both recorded in bench_trace. */
static __always_inline struct bench_line *bucket_slot(struct xdp_md *xdp, struct bench_line **first)
{
	__u32 h, base, idx;

	if (bench_rewrite(xdp, bench_l2) || start_hash(xdp, &h))
		return NULL;
	base = first_line(h);
	*first = bpf_map_lookup_elem(&bench_flow_lines, &base);
	if (!*first)
		return NULL;
	idx = slot_line(base, *first);
	bench_trace[0] = base;
	bench_trace[1] = idx;
	return bpf_map_lookup_elem(&bench_flow_lines, &idx);
}

/* Count a pass in the counter line of @slot, as the pipeline does. */
static __always_inline int count(__u32 slot, int step)
{
	struct nn_dev_line *dl;
	__u32 idx;

	dl = ctr_line(slot, &idx);
	if (!dl)
		return XDP_ABORTED;
	if (step >= 0 && step < BENCH_CHASE_MAX)
		bench_trace[step] = idx;
	dl->s.packets[0]++;
	dl->s.bytes[0] += 64;
	return XDP_PASS;
}

SEC("xdp")
int bench_lines_hit(struct xdp_md *xdp)
{
	struct bench_line *first, *slot = bucket_slot(xdp, &first);

	return slot ? count(slot->ctr, 2) : XDP_ABORTED;
}

SEC("xdp")
int bench_lines_ctr(struct xdp_md *xdp)
{
	__u32 h;

	if (bench_rewrite(xdp, bench_l2) || start_hash(xdp, &h))
		return XDP_ABORTED;
	/* Any slot: a multiply and shift, not a division. */
	return count(((__u64)h * bench_ctr_slots) >> 32, 0);
}

SEC("xdp")
int bench_lines_put(struct xdp_md *xdp)
{
	struct bench_line *first, *victim = bucket_slot(xdp, &first);
	__u32 s;

	if (!victim)
		return XDP_ABORTED;
	/* The claim: a locked instruction on the first line, then the
	 * victim's line written without being read. */
	s = first->stamp;
	__sync_val_compare_and_swap(&first->stamp, s, s + 2);
	victim->stamp = ++bench_stamp;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
