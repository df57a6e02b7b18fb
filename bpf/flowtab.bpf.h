/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * flowtab.bpf.h - the flow table's storage: a set-associative table the
 * programs manage themselves (nanami_abi.h "Flow table"; docs/datapath.md
 * "Session 13: a flow table the programs manage", "Session 13 (fast14j)").
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
 * writing the slot makes it give up: nothing is written), writes, and
 * releases it with the next even value. A reader copies the slot's value
 * (the scratch entry's ft_val) and takes key and copy as found only when
 * the sequence word was even before and unchanged after it compared the key
 * AND copied the value: every decision is then made on one flow's value,
 * never on a value another CPU wrote over it in between. A write back (a
 * refresh, the epoch, an end tag) or a delete claims the slot from the
 * value the reader saw, so it never lands in another flow's slot. Losing
 * the claim loses the write, except CLOSING, which never goes back: it is
 * applied again to the flow as found anew (nn_ft_close).
 *
 * Memory order: claims are compare-and-swap and an insert's tag an
 * exchange: full barriers on x86-64 (locked instructions; arm64's JIT emits
 * a barrier only for the fetching forms). A release is a plain store of the
 * next even value, after the slot's stores: x86-64 (TSO) makes stores
 * visible in program order (nn_ft_release). The reader's loads are plain:
 * the sequence/key/value/sequence order it needs holds only where loads
 * are not reordered with loads (x86-64: TSO); BPF has no load-acquire
 * before 6.15, and a fetch-and-add read on every packet would write the
 * bucket's line from every CPU. Hence the #error below.
 */
#ifndef NANAMI_FLOWTAB_BPF_H
#define NANAMI_FLOWTAB_BPF_H

#include "maps.bpf.h"

#if !defined(__TARGET_ARCH_x86)
#error "the flow table's lock-free reader relies on x86-64 load ordering (flowtab.bpf.h)"
#endif

#define nn_ft_barrier() asm volatile("" ::: "memory")
#define NN_FT_READ32(x) (*(volatile __u32 *)&(x))

/* Test builds only (selftests/bpf/flowtab_race.bpf.c): another CPU's write
 * at a point of the protocol, made deterministic. The product has none. */
#ifndef NN_FT_TEST_HOOK
#define NN_FT_TEST_HOOK(point, b, w)
#endif
#define NN_FT_AT_READ 1	 /* reader: key compared, value not yet copied */
#define NN_FT_AT_WRITE 2 /* write back or delete: before the claim */
#define NN_FT_AT_PUT 3	 /* insert: victim chosen, before the claim */
#define NN_FT_AT_FOUND 4 /* reader: sequence re-checked, way taken */
#define NN_FT_AT_TAG 5	 /* reader: tag matched, sequence not read */
#define NN_FT_AT_BUSY 6	 /* reader: tag matched, the slot being written */

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

#define NN_FT_NONE -1 /* no way holds the key */
#define NN_FT_TORN -2 /* a way held it, but was written while read */

/* The way of @b holding @k (tag @tag), NN_FT_NONE or NN_FT_TORN: the slot's
 * sequence word was even and unchanged across the key's comparison and,
 * when @val is not NULL, the copy of its value into @val (*@seq: that
 * sequence value), and its tag still @tag after that (the tag is read
 * before the window: a delete, which clears only the tag, may have
 * finished in between). A way under @tag being written (odd) makes the
 * answer NN_FT_TORN, not NN_FT_NONE, when no other way holds @k: it may be
 * @k's own refresh, and a miss would judge the packet again. */
static __always_inline int nn_ft_way(struct nn_flow_bucket *b, const struct nn_flow_key *k,
				     __u32 tag, __u32 *seq, struct nn_flow *val)
{
	int w, none = NN_FT_NONE;

#pragma unroll
	for (w = 0; w < NN_FLOW_WAYS; w++) {
		__u32 s;

		if (NN_FT_READ32(b->tag[w]) != tag)
			continue;
		NN_FT_TEST_HOOK(NN_FT_AT_TAG, b, w);
		s = NN_FT_READ32(b->seq[w]);
		if (s & 1) {
			NN_FT_TEST_HOOK(NN_FT_AT_BUSY, b, w);
			none = NN_FT_TORN;
			continue;
		}
		nn_ft_barrier();
		if (!nn_ft_key_eq(&b->slot[w].k, k))
			continue;
		NN_FT_TEST_HOOK(NN_FT_AT_READ, b, w);
		if (val)
			nn_flow_slot_get(b, w, val);
		nn_ft_barrier();
		if (NN_FT_READ32(b->seq[w]) != s || NN_FT_READ32(b->tag[w]) != tag)
			return NN_FT_TORN;
		NN_FT_TEST_HOOK(NN_FT_AT_FOUND, b, w);
		*seq = s;
		return w;
	}
	return none;
}

/* The way an insert of a key absent from @b takes: an empty one, else the
 * one seen least recently, skipping ways being written; its sequence value
 * (read before its tag and last_seen: the claim from it fails if the way
 * changed since) in *@seq. -1 when every way is being written. */
static __always_inline int nn_ft_victim(struct nn_flow_bucket *b, __u32 *seq)
{
	__u64 oldest = ~0ull;
	int i, victim = -1;

#pragma unroll
	for (i = 0; i < NN_FLOW_WAYS; i++) {
		__u32 si = NN_FT_READ32(b->seq[i]);
		__u64 seen;

		if (si & 1)
			continue; /* another CPU's: not ours to take */
		nn_ft_barrier();
		if (!NN_FT_READ32(b->tag[i])) {
			*seq = si;
			return i;
		}
		/* One line for all eight (nanami_abi.h "Flow table"). */
		seen = *(volatile __u64 *)&b->seen[i];
		if (seen < oldest) {
			oldest = seen;
			victim = i;
			*seq = si;
		}
	}
	return victim;
}

/*
 * Find @s->fk: its bucket in @s->ft_bucket, its way in @s->ft_way, the
 * sequence value it was read under in @s->ft_seq and a copy of its value in
 * @s->ft_val; the way, or -1. A way written while it was read is looked up
 * once more, then taken as a miss: the packet is judged again (fail
 * closed). Global, verified once: the way is then an unknown number to the
 * verifier, so the rest of the program is walked once for a hit, not once
 * for each way the search could stop at.
 */
__noinline int nn_ft_locate(struct nn_scratch *s)
{
	struct nn_flow_bucket *b;
	__u32 tag, seq = 1;
	int w;

	if (!s)
		return -1;
	s->ft_seq = 1; /* odd: nothing to write back to */
	s->ft_dirty = 0;
	b = nn_ft_bucket(nn_ft_hash(&s->fk), &tag, &s->ft_bucket);
	if (!b)
		return -1;
	w = nn_ft_way(b, &s->fk, tag, &seq, &s->ft_val);
	if (w == NN_FT_TORN)
		w = nn_ft_way(b, &s->fk, tag, &seq, &s->ft_val);
	if (w < 0)
		return -1;
	s->ft_way = w;
	s->ft_seq = seq;
	return w;
}

/* The value of @s->fk as read (a copy: write changes back with
 * nn_ft_write_back), or NULL (expiry is the caller's: flow.bpf.h). */
static __always_inline struct nn_flow *nn_ft_find(struct nn_scratch *s)
{
	if (nn_ft_locate(s) < 0)
		return NULL;
	return &s->ft_val;
}

/* Take way @w of @b from its even sequence value @s: 1 when this CPU owns
 * it (odd), 0 when another CPU wrote it in between. */
static __always_inline int nn_ft_claim(struct nn_flow_bucket *b, int w, __u32 s)
{
	if (s & 1)
		return 0;
	return __sync_val_compare_and_swap(&b->seq[w & (NN_FLOW_WAYS - 1)], s, s + 1) == s;
}

/* Way @w, claimed from the even value @s (so odd: this CPU's), to the
 * next even value @s + 2, returned. A plain store: no other CPU writes an
 * odd sequence word, and x86-64 makes stores visible in program order, so
 * every CPU sees the slot's stores before the release (the compiler
 * barrier keeps clang from moving them after it). Why not a locked add: a
 * locked instruction waits until every earlier store is in the cache, and
 * the slot's line is a miss in a table larger than the cache (an insert's
 * victim, nanami_abi.h "Flow table"): measured as ~a fifth of a new flow
 * (docs/datapath.md "Session 15 (flow15)"). The plain store leaves that
 * miss to the store buffer. */
static __always_inline __u32 nn_ft_release(struct nn_flow_bucket *b, int w, __u32 s)
{
	nn_ft_barrier();
	*(volatile __u32 *)&b->seq[w & (NN_FLOW_WAYS - 1)] = s + 2;
	return s + 2;
}

/* The slot nn_ft_locate() found for @s, claimed from the sequence value it
 * was read under: NULL when another CPU has written it since (then the
 * slot may hold another flow: nothing may be written there). */
static __always_inline struct nn_flow_bucket *nn_ft_claim_found(struct nn_scratch *s)
{
	/* The map key on this frame: 6.1 takes no global function's memory
	 * argument (@s) as one. */
	__u32 idx = s->ft_bucket;
	struct nn_flow_bucket *b = bpf_map_lookup_elem(&nn_flows, &idx);

	if (!b)
		return NULL;
	NN_FT_TEST_HOOK(NN_FT_AT_WRITE, b, s->ft_way & (NN_FLOW_WAYS - 1));
	if (!nn_ft_claim(b, s->ft_way, s->ft_seq))
		return NULL;
	return b;
}

/*
 * Write @s->ft_val (changed by the caller: a refresh, the epoch, an end
 * tag, CLOSING) back into the slot it was read from, if that slot was not
 * written since. A lost refresh, epoch or end tag costs at most a judgement
 * again; a lost CLOSING would keep a closed flow for the established
 * timeout: nn_ft_commit() applies it again (nn_ft_close). 1 when written.
 * Global, verified once.
 */
__noinline int nn_ft_write_back(struct nn_scratch *s)
{
	struct nn_flow_bucket *b;
	int w;

	if (!s)
		return 0;
	b = nn_ft_claim_found(s);
	if (!b) {
		s->ft_seq = 1;
		return 0;
	}
	w = s->ft_way & (NN_FLOW_WAYS - 1);
	nn_flow_slot_set(b, w, &s->ft_val);
	/* The value this CPU released: a later write back of this packet
	 * claims from it. */
	s->ft_seq = nn_ft_release(b, w, s->ft_seq);
	return 1;
}

/* Remove the entry nn_ft_locate() found for @s, if no other CPU has
 * written its slot since. Global, verified once (a rare path: an expired
 * or cut flow). 1 when it removed it. */
__noinline int nn_ft_delete(struct nn_scratch *s)
{
	struct nn_flow_bucket *b;
	__u32 seq;
	int w;

	if (!s)
		return 0;
	b = nn_ft_claim_found(s);
	seq = s->ft_seq;
	s->ft_seq = 1;
	if (!b)
		return 0;
	w = s->ft_way & (NN_FLOW_WAYS - 1);
	*(volatile __u32 *)&b->tag[w] = 0;
	nn_ft_release(b, w, seq);
	return 1;
}

/*
 * CLOSING never goes back (docs/datapath.md "Flows"): the copy carrying it
 * lost its claim to another CPU's write of the slot (a refresh of the other
 * direction, an end tag, an insert of the same key). Find the flow again,
 * apply CLOSING and @seen (the closing packet's time) to the fresh copy and
 * claim once more; lost again, delete the flow (fail closed: its next
 * packet is judged as new). Gone meanwhile: nothing to close. 1 when the
 * flow is left CLOSING. Global, verified once.
 */
__noinline int nn_ft_close(struct nn_scratch *s, __u64 seen)
{
	if (!s || nn_ft_locate(s) < 0)
		return 0;
	s->ft_val.state = NN_FS_CLOSING;
	if (s->ft_val.last_seen_ns < seen)
		s->ft_val.last_seen_ns = seen;
	if (nn_ft_write_back(s))
		return 1;
	if (nn_ft_locate(s) >= 0 && s->ft_val.state != NN_FS_CLOSING)
		nn_ft_delete(s);
	return 0;
}

/* @s->ft_val was changed: nn_ft_commit() writes it back. */
static __always_inline void nn_ft_mark(struct nn_scratch *s)
{
	s->ft_dirty = 1;
}

/*
 * The packet's one write back, at the end of its judgement (a refresh, the
 * epoch and an end tag together: one claim, and one call site in the
 * program, where three inlined calls made 6.1's verifier walk far more).
 * Global, verified once; no argument: the scratch entry is the CPU's own.
 */
__noinline int nn_ft_commit(void)
{
	struct nn_scratch *s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);

	if (!s || !s->ft_dirty)
		return 0;
	s->ft_dirty = 0;
	if (nn_ft_write_back(s))
		return 1;
	if (s->ft_val.state == NN_FS_CLOSING)
		return nn_ft_close(s, s->ft_val.last_seen_ns);
	return 0;
}

/* 1 when a way of @b other than @mine holds @k or is being written under
 * @k's tag (another CPU's insert of the same key, maybe). */
static __always_inline int nn_ft_elsewhere(struct nn_flow_bucket *b, const struct nn_flow_key *k,
					   __u32 tag, int mine)
{
	int w;

#pragma unroll
	for (w = 0; w < NN_FLOW_WAYS; w++) {
		__u32 s;

		if (w == mine || NN_FT_READ32(b->tag[w]) != tag)
			continue;
		s = NN_FT_READ32(b->seq[w]);
		if (s & 1)
			return 1;
		nn_ft_barrier();
		if (nn_ft_key_eq(&b->slot[w].k, k))
			return 1;
	}
	return 0;
}

/*
 * Record @f under @k: into the way holding @k already (another CPU's
 * insert raced this one), else an empty way, else the way seen least
 * recently (the bucket's LRU: the table evicts as the kernel's LRU does,
 * by approximation). Each way's sequence word is read before its tag and
 * last_seen, so the claim fails if the way changed after it was chosen.
 * One key, one way: the insert's tag is exchanged in (a full barrier)
 * before the other ways are searched again, so of two CPUs inserting the
 * same key into two ways at least one sees the other and backs off (both
 * may: the flow is then not recorded). Losing the slot records nothing:
 * the flow's next packet is judged again. A CLOSING flow stays CLOSING:
 * overwritten by its own key (a judgement that missed it: torn twice), the
 * slot keeps the state. 1 when it recorded the flow.
 */
static __always_inline int nn_ft_record(struct nn_flow_key *k, struct nn_flow *f)
{
	__u64 *dst, *src;
	struct nn_flow_bucket *b;
	__u32 tag, seq = 1, idx, old;
	int w, victim, i, closing;

	b = nn_ft_bucket(nn_ft_hash(k), &tag, &idx);
	if (!b)
		return 0;
	w = nn_ft_way(b, k, tag, &seq, NULL);
	victim = w >= 0 ? w : nn_ft_victim(b, &seq);
	if (victim < 0)
		return 0;
	victim &= NN_FLOW_WAYS - 1;
	NN_FT_TEST_HOOK(NN_FT_AT_PUT, b, victim);
	if (!nn_ft_claim(b, victim, seq))
		return 0;
	old = __sync_lock_test_and_set(&b->tag[victim], tag);
	if (nn_ft_elsewhere(b, k, tag, victim)) {
		/* Another CPU has (or is recording) this key: the victim
		 * keeps what it held. */
		*(volatile __u32 *)&b->tag[victim] = old;
		nn_ft_release(b, victim, seq);
		return 0;
	}
	/* Claimed from the value the key was found under: still that key's. */
	closing = w >= 0 && b->slot[victim].f.state == NN_FS_CLOSING;
	dst = (__u64 *)(void *)&b->slot[victim].k;
	src = (__u64 *)(void *)k;
#pragma unroll
	for (i = 0; i < (int)(sizeof(*k) / 8); i++)
		dst[i] = src[i];
	nn_flow_slot_set(b, victim, f);
	if (closing)
		b->slot[victim].f.state = NN_FS_CLOSING;
	nn_ft_release(b, victim, seq);
	return 1;
}

/*
 * Record @s->fv under @s->fk (nn_ft_record). A CLOSING value that backed
 * off (another CPU recorded the key, or took the way, first) is applied to
 * what that CPU recorded (nn_ft_close): the FIN or RST is not lost. Global,
 * verified once. 1 when it recorded the flow.
 */
__noinline int nn_ft_put(struct nn_scratch *s)
{
	if (!s)
		return 0;
	if (nn_ft_record(&s->fk, &s->fv))
		return 1;
	if (s->fv.state == NN_FS_CLOSING)
		nn_ft_close(s, s->fv.last_seen_ns);
	return 0;
}

#endif /* NANAMI_FLOWTAB_BPF_H */
