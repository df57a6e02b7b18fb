/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * denied.bpf.h - flows the policy dropped, remembered (nn_denied): the next
 * packet of such a flow, from the same sender in the same direction under
 * the same policy epoch, is dropped again with the judgement remembered,
 * without the address, prefix and cell lookups of the judge. Counting,
 * events and a first fragment's verdict go the usual way (nn_remember,
 * nn_finish). docs/datapath.md "A denied flow remembered".
 */
#ifndef NANAMI_DENIED_BPF_H
#define NANAMI_DENIED_BPF_H

#include "flow.bpf.h"

/*
 * A 64-bit hash of flow key @k and @side: the low bits pick the admission
 * slot, the high 32 (never 0) are the fingerprint. Multiply-xor over the
 * key's ten words: no helper, a few dozen instructions.
 */
static __always_inline __u64 nn_denied_hash(const struct nn_flow_key *k, __u8 side)
{
	const __u32 *w = (const __u32 *)(const void *)k;
	__u64 h = side;
	__u32 i;

#pragma unroll
	for (i = 0; i < sizeof(*k) / 4; i++)
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
	return h | 1ull << 32;
}

/* This CPU's admission slot of a flow whose nn_denied_hash() is @h: the
 * entry of nn_denied_seen in this CPU's region (maps.bpf.h). */
static __always_inline __u32 nn_denied_seen_idx(__u64 h)
{
	return bpf_get_smp_processor_id() * NN_DENIED_SEEN + ((__u32)h & (NN_DENIED_SEEN - 1));
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
	struct nn_denied *d;
	__u32 reason, *seen;
	__u64 h;

	/* explain (a dry run) shows the judgement itself. */
	if (nn_dry_run)
		return 0;
	/* Only a flow this CPU denied before can have an entry (admission,
	 * nn_denied_note): a new flow, allowed or denied, a spray's every
	 * packet, pays a hash and a word of this CPU's table, not a lookup
	 * of nn_denied. A slot another flow took since costs a judgement. */
	h = nn_denied_hash(&s->fk, NN_DENIED_SIDE(dir, is_b));
	s->dseen = nn_denied_seen_idx(h);
	seen = bpf_map_lookup_elem(&nn_denied_seen, &s->dseen);
	if (!seen || *seen != (__u32)(h >> 32))
		return 0;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	d = bpf_map_lookup_elem(&nn_denied, &s->fk);
	s->fk.side = 0;
	if (!d || d->epoch != epoch)
		return 0;
	/* Only drops are written; an element an LRU reuses under our feet
	 * must not turn into a pass either: fail closed on a 0. */
	reason = *(volatile __u32 *)&d->reason;
	if (reason == NN_PASS)
		return 0;
	j->reason = reason;
	j->rule = d->rule;
	j->dev_slot = d->dev_slot;
	j->tenant = d->tenant;
	j->network = d->network;
	j->src_kind = d->src_kind;
	j->dst_kind = d->dst_kind;
	j->denied_hit = 1;
	return 1;
}

/*
 * Remember the judge's drop @j of the packet (key s->fk, sent by @is_b in
 * direction @dir) under @epoch. Called only with the judge's own verdict,
 * before nn_remember: a [flow_limit] refusal is the bucket's, not the
 * policy's, and is never remembered. Written when this CPU denied the same
 * flow before and its fingerprint is still in its slot (nn_denied_seen).
 * The whole value is written in one update (a new element), so a reader
 * sees the old entry or the new one.
 */
static __always_inline void nn_denied_note(struct nn_scratch *s, __u32 epoch, const __u8 dir,
					   int is_b, struct nn_judgement *j)
{
	struct nn_denied *d = &s->dv;
	__u32 *seen;
	__u64 h;

	if (nn_dry_run || j->reason == NN_PASS)
		return;
	/* Admission: only a flow this CPU denied before (its fingerprint
	 * still in its slot) is written. A spray of distinct
	 * denied flows, each seen once, writes one per-CPU word a packet. */
	h = nn_denied_hash(&s->fk, NN_DENIED_SIDE(dir, is_b));
	s->dseen = nn_denied_seen_idx(h);
	seen = bpf_map_lookup_elem(&nn_denied_seen, &s->dseen);
	/* No slot (a CPU beyond the table the loader sized): no admission,
	 * so nothing is remembered; the judge decides every packet. */
	if (!seen)
		return;
	if (*seen != (__u32)(h >> 32)) {
		*seen = (__u32)(h >> 32);
		return;
	}
	__builtin_memset(d, 0, sizeof(*d));
	d->epoch = epoch;
	d->reason = j->reason;
	d->rule = j->rule;
	d->dev_slot = j->dev_slot;
	d->tenant = j->tenant;
	d->network = j->network;
	d->src_kind = j->src_kind;
	d->dst_kind = j->dst_kind;
	s->fk.side = NN_DENIED_SIDE(dir, is_b);
	bpf_map_update_elem(&nn_denied, &s->fk, d, BPF_ANY);
	s->fk.side = 0;
}

#endif /* NANAMI_DENIED_BPF_H */
