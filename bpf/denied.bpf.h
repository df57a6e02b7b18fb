/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * denied.bpf.h - flows the policy dropped, remembered (nn_denied): the next
 * packet of such a flow, from the same sender in the same direction under
 * the same policy epoch, is dropped again with the judgement remembered,
 * without the address, prefix and cell lookups of the judge. Counting,
 * events and a first fragment's verdict go the usual way (nn_remember,
 * nn_finish). docs/datapath.md "A denied flow remembered" and "Session 15
 * (spray15)".
 *
 * nn_denied is a cache per CPU (nanami_abi.h "Denied flows"), its ways
 * named by nn_denied_tags (a line of tags a group of sets: a miss reads that
 * line only; docs/datapath.md "Session 15 (spray15b)"): each CPU
 * reads and writes only its own region, and a program is not preempted by
 * another on its CPU (the assumption nn_scratch already makes), so an entry
 * is never read half-written and needs no lock or sequence word.
 */
#ifndef NANAMI_DENIED_BPF_H
#define NANAMI_DENIED_BPF_H

#include "flow.bpf.h"

_Static_assert(NN_DENIED_WAYS == 2, "the ways are walked as four: two sets of two");
_Static_assert(sizeof(struct nn_denied) == 64, "an entry is one line");
_Static_assert(sizeof(struct nn_denied_tags) == 64, "a group's tags are one line");

/*
 * This CPU's tag line for key s->fk (its side set), its map key into
 * s->dline, the two sets' map keys into s->dset and their places in the
 * group into s->doff; the tag into *@tag. NULL beyond the region the loader
 * sized: nothing remembered there. Both sets are in one group (one tag
 * line); set B differs from A unless the region has one set a CPU.
 */
static __always_inline struct nn_denied_tags *nn_denied_line(struct nn_scratch *s, __u16 *tag)
{
	__u32 sets = nn_denied_sets, gsets = sets < NN_DENIED_GROUP ? sets : NN_DENIED_GROUP;
	__u32 groups = sets > NN_DENIED_GROUP ? sets / NN_DENIED_GROUP : 1,
	      cpu = bpf_get_smp_processor_id(), g, a, x;
	__u64 h = nn_denied_hash(&s->fk, nn_flow_seed);

	g = (__u32)h & (groups - 1);
	a = (__u32)(h >> 32) & (gsets - 1);
	x = (__u32)(h >> 36) & (gsets - 1);
	s->doff[0] = a & (NN_DENIED_GROUP - 1);
	s->doff[1] = (a ^ (x ? x : gsets >> 1)) & (NN_DENIED_GROUP - 1);
	s->dline = cpu * groups + g;
	s->dset[0] = cpu * sets + g * gsets + s->doff[0];
	s->dset[1] = cpu * sets + g * gsets + s->doff[1];
	*tag = nn_denied_tag(h);
	return bpf_map_lookup_elem(&nn_denied_tags, &s->dline);
}

/* Way @i (0-1: set A's, 2-3: set B's) of the flow's four: its tag's index
 * in the line (s->doff: bounded by nn_denied_line). The last mask is kept
 * from the compiler (barrier_var), which proves it redundant: with @i read
 * from the scratch (nn_denied_find's way, s->down), 6.1's verifier loses
 * the bound of the OR it folds the sum into, and refuses the line's index. */
static __always_inline __u32 nn_denied_tix(const struct nn_scratch *s, int i)
{
	__u32 t = (s->doff[i >> 1] & (NN_DENIED_GROUP - 1)) * NN_DENIED_WAYS + (i & 1);

	barrier_var(t);
	return t & (NN_DENIED_GROUP * NN_DENIED_WAYS - 1);
}

/* Way @i's entry when its tag is @tag and it holds key s->fk (the whole key
 * compared: a tag is 15 bits of a hash); NULL otherwise, and no entry line
 * read when the tag differs. */
static __always_inline struct nn_denied *
nn_denied_match(struct nn_scratch *s, const struct nn_denied_tags *tl, __u16 tag, int i)
{
	struct nn_denied_set *set;

	if ((tl->t[nn_denied_tix(s, i)] & NN_DENIED_TAG_MASK) != tag)
		return NULL;
	set = bpf_map_lookup_elem(&nn_denied, &s->dset[i >> 1]);
	if (!set || !nn_ft_key_eq(&set->e[i & 1].key, &s->fk))
		return NULL;
	return &set->e[i & 1];
}

/* The flow's own entry among its four ways (s->fk, side set), its way in
 * *@way; NULL when none. */
static __always_inline struct nn_denied *
nn_denied_own(struct nn_scratch *s, const struct nn_denied_tags *tl, __u16 tag, int *way)
{
	struct nn_denied *d;
	int i;

	for (i = 0; i < 2 * NN_DENIED_WAYS; i++) {
		d = nn_denied_match(s, tl, tag, i);
		if (d) {
			*way = i;
			return d;
		}
	}
	return NULL;
}

/*
 * The judgement remembered for the packet whose flow key is s->fk, sent by
 * end b (@is_b) or a in direction @dir, when it was reached under @epoch:
 * into @j, and 1. 0 (nothing written) when there is none or it is stale. The
 * key's side is set for the lookup only: s->fk stays nn_flows' key. A miss
 * (every new flow) reads the tag line only.
 */
static __always_inline int nn_denied_find(struct nn_scratch *s, __u32 epoch, const __u8 dir,
					  int is_b, struct nn_judgement *j)
{
	struct nn_denied_tags *tl;
	struct nn_denied *d = NULL;
	int way = 0;
	__u16 tag;
	__u32 t;

	/* explain (a dry run) shows the judgement itself. */
	if (nn_dry_run || !nn_denied_sets)
		return 0;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	tl = nn_denied_line(s, &tag);
	if (tl)
		d = nn_denied_own(s, tl, tag, &way);
	s->fk.side = 0;
	/* Only drops are written (a reason of 0 would be a pass): fail
	 * closed on one all the same. */
	if (!tl || !d || d->epoch != epoch || d->reason == NN_PASS) {
		/* A miss: the judge decides next, and a drop is noted at
		 * the place just found (nn_denied_note), not found again. */
		s->dtag = tag;
		s->down = d ? way : -1;
		s->dvalid = tl != NULL;
		return 0;
	}
	j->reason = d->reason;
	j->rule = d->rule;
	j->dev_slot = d->dev_slot;
	j->tenant = d->tenant;
	j->network = d->network;
	j->src_kind = d->src_kind;
	j->dst_kind = d->dst_kind;
	j->denied_hit = 1;
	/* Second chance: kept against the next flow that needs a way. */
	t = nn_denied_tix(s, way);
	if (!(tl->t[t] & NN_DENIED_TAG_REF))
		tl->t[t] |= NN_DENIED_TAG_REF;
	return 1;
}

/* Free ways (tag 0) of the flow's set @set (0: A, 1: B). */
static __always_inline int nn_denied_nfree(const struct nn_scratch *s,
					   const struct nn_denied_tags *tl, int set)
{
	return !tl->t[nn_denied_tix(s, 2 * set)] + !tl->t[nn_denied_tix(s, 2 * set + 1)];
}

/*
 * Which of the flow's four ways the judgement of key s->fk takes, from the
 * tag line alone (no entry line read but a tag match's): its own entry
 * (stale: replaced), else a free way of the emptier set (A on a tie: the two
 * choices balance the sets), else a way not hit since an insert last passed
 * it. -1 when all four were hit: each loses its mark and the newcomer is
 * not written, so flows seen once cannot push out flows that repeat. An
 * entry of an older epoch holds its way until then (its tag cannot tell):
 * after a flip, a way is taken at an insert's second pass at most. Its own
 * entry is nn_denied_find's answer when it made one (s->dvalid, s->down):
 * nothing wrote the line since, this CPU's region being its own.
 */
static __always_inline int nn_denied_slot(struct nn_scratch *s, struct nn_denied_tags *tl,
					  __u16 tag)
{
	int way = -1, i, fa, fb;

	/* nn_denied_find's walk of this key, when it made one */
	if (s->dvalid) {
		if (s->down >= 0)
			return s->down & (2 * NN_DENIED_WAYS - 1);
	} else if (nn_denied_own(s, tl, tag, &way)) {
		return way;
	}
	fa = nn_denied_nfree(s, tl, 0);
	fb = nn_denied_nfree(s, tl, 1);
	for (i = 0; i < 2 * NN_DENIED_WAYS; i++) {
		/* the emptier set first, A on a tie */
		int w = fb > fa ? i ^ 2 : i;

		if (!tl->t[nn_denied_tix(s, w)])
			return w;
	}
	for (i = 0; i < 2 * NN_DENIED_WAYS; i++)
		if (!(tl->t[nn_denied_tix(s, i)] & NN_DENIED_TAG_REF))
			return i;
	for (i = 0; i < 2 * NN_DENIED_WAYS; i++)
		tl->t[nn_denied_tix(s, i)] &= NN_DENIED_TAG_MASK;
	return -1;
}

/*
 * Remember the judge's drop @j of the packet (key s->fk, sent by @is_b in
 * direction @dir) under @epoch, from its first denial: an insert writes the
 * entry's line, then its tag. Called only with the judge's own verdict,
 * before nn_remember: a [flow_limit] refusal is the bucket's, not the
 * policy's, and is never remembered. The key's place is nn_denied_find's
 * when it looked this packet up (s->dvalid): a judged new flow hashes its
 * key once; a packet whose stale flow entry skipped the find hashes here.
 */
static __always_inline void nn_denied_note(struct nn_scratch *s, __u32 epoch, const __u8 dir,
					   int is_b, struct nn_judgement *j)
{
	const __u64 *k = (const __u64 *)(const void *)&s->fk;
	struct nn_denied_tags *tl;
	struct nn_denied_set *set;
	struct nn_denied *d;
	int way = -1;
	__u16 tag;
	__u64 *dk;

	if (nn_dry_run || j->reason == NN_PASS || !nn_denied_sets)
		return;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	if (s->dvalid) {
		/* nn_denied_find's line and sets for this key: no second hash */
		tag = s->dtag;
		tl = bpf_map_lookup_elem(&nn_denied_tags, &s->dline);
	} else {
		tl = nn_denied_line(s, &tag);
	}
	if (tl)
		way = nn_denied_slot(s, tl, tag);
	set = way >= 0 ? bpf_map_lookup_elem(&nn_denied, &s->dset[(way >> 1) & 1]) : NULL;
	if (tl && set) {
		d = &set->e[way & 1];
		dk = (__u64 *)(void *)&d->key;
		dk[0] = k[0];
		dk[1] = k[1];
		dk[2] = k[2];
		dk[3] = k[3];
		dk[4] = k[4];
		d->epoch = epoch;
		d->reason = (__u8)j->reason;
		d->rule = j->rule;
		d->dev_slot = j->dev_slot;
		d->tenant = j->tenant;
		d->network = j->network;
		d->src_kind = j->src_kind;
		d->dst_kind = j->dst_kind;
		/* The tag last: the entry is whole before its tag names it. */
		tl->t[nn_denied_tix(s, way)] = tag;
	}
	s->fk.side = 0;
}

#endif /* NANAMI_DENIED_BPF_H */
