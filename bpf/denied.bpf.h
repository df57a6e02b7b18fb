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
 * nn_denied is a cache per CPU (nanami_abi.h "Denied flows"): each CPU
 * reads and writes only its own region, and a program is not preempted by
 * another on its CPU (the assumption nn_scratch already makes), so an entry
 * is never read half-written and needs no lock or sequence word.
 */
#ifndef NANAMI_DENIED_BPF_H
#define NANAMI_DENIED_BPF_H

#include "flow.bpf.h"

_Static_assert(NN_DENIED_WAYS == 2, "nn_denied_in() and nn_denied_slot() walk two ways");
_Static_assert(sizeof(struct nn_denied) == 64, "an entry is one line");

/*
 * This CPU's two sets for key s->fk (its side set): their map keys into
 * s->dset, the sets into *@a and *@b (NULL beyond the region the loader
 * sized: nothing remembered there).
 */
static __always_inline void nn_denied_sets_of(struct nn_scratch *s, struct nn_denied_set **a,
					      struct nn_denied_set **b)
{
	__u32 base = bpf_get_smp_processor_id() * nn_denied_sets, mask = nn_denied_sets - 1;
	__u64 h = nn_denied_hash(&s->fk, nn_flow_seed);

	s->dset[0] = base + ((__u32)h & mask);
	s->dset[1] = base + ((__u32)(h >> 32) & mask);
	*a = bpf_map_lookup_elem(&nn_denied, &s->dset[0]);
	*b = bpf_map_lookup_elem(&nn_denied, &s->dset[1]);
}

/* @set's entry for key @k (side set), compared whole; NULL when none. */
static __always_inline struct nn_denied *nn_denied_in(struct nn_denied_set *set,
						      const struct nn_flow_key *k)
{
	if (!set)
		return NULL;
	if (nn_ft_key_eq(&set->e[0].key, k))
		return &set->e[0];
	if (nn_ft_key_eq(&set->e[1].key, k))
		return &set->e[1];
	return NULL;
}

/*
 * The judgement remembered for the packet whose flow key is s->fk, sent by
 * end b (@is_b) or a in direction @dir, when it was reached under @epoch:
 * into @j, and 1. 0 (nothing written) when there is none or it is stale. The
 * key's side is set for the lookup only: s->fk stays nn_flows' key.
 */
static __always_inline int nn_denied_find(struct nn_scratch *s, __u32 epoch, const __u8 dir,
					  int is_b, struct nn_judgement *j)
{
	struct nn_denied_set *a, *b;
	struct nn_denied *d;

	/* explain (a dry run) shows the judgement itself. */
	if (nn_dry_run || !nn_denied_sets)
		return 0;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	nn_denied_sets_of(s, &a, &b);
	/* Set B's line asked for now, beside A's: a flow that lives in B (or
	 * a miss) then waits for the two lines at once, not one after the
	 * other. The byte is not used. */
	if (b)
		(void)*(volatile __u8 *)&b->e[0].key.side;
	d = nn_denied_in(a, &s->fk);
	if (!d)
		d = nn_denied_in(b, &s->fk);
	s->fk.side = 0;
	/* Only drops are written (a reason of 0 would be a pass): fail
	 * closed on one all the same. */
	if (!d || d->epoch != epoch || d->reason == NN_PASS)
		return 0;
	j->reason = d->reason;
	j->rule = d->rule;
	j->dev_slot = d->dev_slot;
	j->tenant = d->tenant;
	j->network = d->network;
	j->src_kind = d->src_kind;
	j->dst_kind = d->dst_kind;
	j->denied_hit = 1;
	/* Second chance: kept against the next flow that needs a way. */
	if (!d->ref)
		d->ref = 1;
	return 1;
}

/* An entry a new judgement may take: empty, or of another epoch (stale). */
static __always_inline int nn_denied_free(const struct nn_denied *e, __u32 epoch)
{
	return !e->key.side || e->epoch != epoch;
}

/* A free way of @set (first first), NULL when both hold live entries. */
static __always_inline struct nn_denied *nn_denied_free_in(struct nn_denied_set *set, __u32 epoch)
{
	if (nn_denied_free(&set->e[0], epoch))
		return &set->e[0];
	if (nn_denied_free(&set->e[1], epoch))
		return &set->e[1];
	return NULL;
}

/*
 * Where the judgement of key @k goes among the four ways of sets @a and @b:
 * its own entry (stale: replaced), else a free way of the emptier set (A on
 * a tie: the two choices balance the sets, so a working set of half the
 * region finds a way for 99.6 % of its flows, 98.5 % filling A first), else
 * a way not hit since an insert last passed it. NULL when all four were
 * hit: each loses its mark and the newcomer is not written, so flows seen
 * once cannot push out flows that repeat: a round-robin working set larger
 * than the ways keeps the ones they hold.
 */
static __always_inline struct nn_denied *nn_denied_slot(struct nn_denied_set *a,
							struct nn_denied_set *b,
							const struct nn_flow_key *k, __u32 epoch)
{
	struct nn_denied *d = nn_denied_in(a, k);
	int fa, fb;

	if (!d)
		d = nn_denied_in(b, k);
	if (d)
		return d;
	fa = nn_denied_free(&a->e[0], epoch) + nn_denied_free(&a->e[1], epoch);
	fb = nn_denied_free(&b->e[0], epoch) + nn_denied_free(&b->e[1], epoch);
	if (fb > fa)
		return nn_denied_free_in(b, epoch);
	if (fa)
		return nn_denied_free_in(a, epoch);
	if (!a->e[0].ref)
		return &a->e[0];
	if (!a->e[1].ref)
		return &a->e[1];
	if (!b->e[0].ref)
		return &b->e[0];
	if (!b->e[1].ref)
		return &b->e[1];
	a->e[0].ref = 0;
	a->e[1].ref = 0;
	b->e[0].ref = 0;
	b->e[1].ref = 0;
	return NULL;
}

/*
 * Remember the judge's drop @j of the packet (key s->fk, sent by @is_b in
 * direction @dir) under @epoch, from its first denial: an insert writes one
 * line this CPU already read. Called only with the judge's own verdict,
 * before nn_remember: a [flow_limit] refusal is the bucket's, not the
 * policy's, and is never remembered.
 */
static __always_inline void nn_denied_note(struct nn_scratch *s, __u32 epoch, const __u8 dir,
					   int is_b, struct nn_judgement *j)
{
	const __u64 *k = (const __u64 *)(const void *)&s->fk;
	struct nn_denied_set *a, *b;
	struct nn_denied *d;
	__u64 *dk;

	if (nn_dry_run || j->reason == NN_PASS || !nn_denied_sets)
		return;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	nn_denied_sets_of(s, &a, &b);
	d = a && b ? nn_denied_slot(a, b, &s->fk, epoch) : NULL;
	if (d) {
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
		d->ref = 0;
	}
	s->fk.side = 0;
}

#endif /* NANAMI_DENIED_BPF_H */
