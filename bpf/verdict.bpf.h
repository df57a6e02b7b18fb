/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * verdict.bpf.h - the two pipelines, one per direction, shared by every
 * entry point (TC and XDP) through struct nn_ctx. Returns 1 to pass.
 */
#ifndef NANAMI_VERDICT_BPF_H
#define NANAMI_VERDICT_BPF_H

#include "denied.bpf.h"
#include "policy.bpf.h"

static __always_inline __u32 nn_epoch(void)
{
	__u32 zero = 0;
	struct nn_active *a = bpf_map_lookup_elem(&nn_active, &zero);

	/* One load: slot and epoch can never be seen half-updated. */
	return a ? *(volatile __u32 *)&a->epoch : 0;
}

/*
 * Judge a flow's opening packet again under the current policy: its own
 * direction, its own endpoints (docs/datapath.md step 4). 1 when it passes.
 * Global, verified once. The opener and its judgement live in the per-CPU
 * scratch map, not on the stack: this frame sits between the program's and
 * a judge's, on the deepest call chain (docs/datapath.md "Verifier budget").
 * Only a flow of an older generation comes here: the lookup is off the
 * established path.
 */
__noinline int nn_rejudge(__u32 slot, struct nn_flow_key *k, struct nn_flow *f)
{
	struct nn_scratch *s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	struct nn_addr_info *info;
	struct nn_judgement *j;
	struct nn_pkt *op;

	if (!k || !f || !s)
		return 0;
	op = &s->op;
	j = &s->oj;
	__builtin_memset(op, 0, sizeof(*op));
	__builtin_memset(j, 0, sizeof(*j));
	j->rule = NN_NONE32;
	j->dev_slot = NN_NONE32;
	if (f->opener_is_b) {
		nn_copy16(op->src, k->b);
		nn_copy16(op->dst, k->a);
		op->sport = k->bport;
		op->dport = k->aport;
	} else {
		nn_copy16(op->src, k->a);
		nn_copy16(op->dst, k->b);
		op->sport = k->aport;
		op->dport = k->bport;
	}
	op->proto = k->proto;
	op->v6 = !nn_is_v4mapped(k->a);
	if (f->opener_dir == NN_DIR_FROM_OVERLAY) {
		info = nn_check_src(slot, op->src, j);
		if (!info)
			return 0;
		nn_judge_from(slot, info, op, j);
	} else {
		info = nn_check_dst(slot, op, j);
		if (!info)
			return j->reason == NN_PASS;
		nn_judge_into(slot, info, op, j);
	}
	return j->reason == NN_PASS;
}

/*
 * A flow recorded under an older epoch (@s->ft_val, nn_flow_get's) is
 * judged again; still allowed, it takes the current epoch (1); no longer
 * allowed, it is cut (deleted, 0).
 */
static __always_inline int nn_flow_revalidate(struct nn_scratch *s, __u32 epoch)
{
	if (s->ft_val.epoch == epoch)
		return 1;
	if (!nn_rejudge(NN_SLOT(epoch), &s->fk, &s->ft_val)) {
		if (!nn_dry_run)
			nn_ft_delete(s);
		return 0;
	}
	if (!nn_dry_run) {
		s->ft_val.epoch = epoch;
		nn_ft_mark(s);
	}
	return 1;
}

/*
 * Step 4: a tracked flow (@f: the live entry of the packet's key, @s's copy
 * looked up first by nn_judge_packet, or NULL). 1 when the packet passes on
 * it; a flow the policy no longer allows is cut and the caller judges the
 * packet as new.
 */
static __always_inline int nn_flow_track(struct nn_scratch *s, struct nn_flow *f, int is_b,
					 struct nn_pkt *p, __u32 epoch, __u64 now)
{
	if (!s || !f || !nn_flow_revalidate(s, epoch))
		return 0;
	nn_flow_touch(s, p, is_b, now);
	return 1;
}

/*
 * Step 3: an ICMP error quoting a tracked flow. 1 when it passes. An error
 * goes back to the quoted packet's sender; from the overlay it must also
 * come from the quoted packet's destination (devices do not route), so one
 * tenant cannot push errors into another's flows. Like every packet of its
 * flow, an error quoting a flow of an older generation first has that flow
 * judged again: a flow the policy now cuts carries no errors, Packet Too
 * Big included (PMTUD keeps working for every flow still allowed).
 */
static __always_inline int nn_icmp_tracked(struct nn_pkt *p, __u32 epoch, __u64 now, __u8 dir)
{
	struct nn_scratch *s;

	if (!p->q_flowable || !nn_addr_eq(p->q_src, p->dst))
		return 0;
	if (dir == NN_DIR_FROM_OVERLAY && !nn_addr_eq(p->q_dst, p->src))
		return 0;
	/* The quoted flow's key in the scratch entry's fk (an error is not
	 * its own flow's packet: nothing else holds fk now), off the stack. */
	s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	if (!s)
		return 0;
	nn_flow_key_make(&s->fk, p->q_src, p->q_sport, p->q_dst, p->q_dport, p->q_proto);
	if (!nn_flow_get(s, now))
		return 0;
	return nn_flow_revalidate(s, epoch);
}

static __always_inline int nn_is_icmp_error(struct nn_pkt *p)
{
	return p->icmp == NN_ICMP_ERROR || p->icmp == NN_ICMP_PTB;
}

/*
 * Steps shared by both directions once the overlay end is known: later
 * fragments, ICMP errors, tracked flows. Returns 1 when decided (j->reason
 * set), 0 when the packet must be judged by policy.
 */
static __always_inline int nn_stateful(struct nn_pkt *p, __u32 epoch, __u64 now, __u8 dir,
				       struct nn_judgement *j, struct nn_scratch *s,
				       struct nn_flow *f, int is_b)
{
	if (p->frag == NN_FRAG_LATER) {
		j->reason = nn_frag_follow(p, epoch, now);
		return 1;
	}
	if (nn_is_icmp_error(p)) {
		if (nn_icmp_tracked(p, epoch, now, dir)) {
			j->reason = NN_PASS;
			j->flow_hit = 1;
			return 1;
		}
		return 0;
	}
	if (nn_flow_track(s, f, is_b, p, epoch, now)) {
		j->reason = NN_PASS;
		j->flow_hit = 1;
		return 1;
	}
	return 0;
}

static __always_inline void nn_remember(struct nn_pkt *p, struct nn_judgement *j, __u32 epoch,
					__u8 dir, __u64 now, int may_open, struct nn_scratch *s,
					int is_b)
{
	/* s: the scratch entry whose fk is the packet's flow key (set for
	 * every packet that can make a flow, see nn_judge_packet). */
	int opens = s && may_open && j->reason == NN_PASS && !j->flow_hit && !nn_is_icmp_error(p);

	if (nn_dry_run || (!opens && p->frag != NN_FRAG_FIRST))
		return;
	/* New state costs the overlay-end device one token (one for a first
	 * fragment that opens a flow too); none left: nothing is recorded and
	 * a packet that would pass is dropped (docs/datapath.md "New-state
	 * bound"). Its later fragments then find no verdict: [fragment]. */
	if (!nn_newstate_take(j->dev_slot, now)) {
		if (j->reason == NN_PASS)
			j->reason = NN_R_FLOW_LIMIT;
		return;
	}
	if (opens)
		nn_flow_open_paid(s, j->dev_slot, p->frag == NN_FRAG_FIRST, is_b, p, epoch, dir,
				  now);
	if (p->frag == NN_FRAG_FIRST)
		nn_frag_record(p, j->reason, epoch, now);
}

/*
 * Which end of flow key @k is the overlay end of a packet in direction @dir
 * (the source from the overlay, the destination into it): 0 for a, 1 for b.
 * @is_b: the packet travels b -> a.
 */
static __always_inline int nn_flow_side(int is_b, const __u8 dir)
{
	return dir == NN_DIR_FROM_OVERLAY ? is_b : !is_b;
}

/*
 * The fast path: a packet of a flow judged under the live epoch, whose
 * overlay end passed its check (nn_check_src / nn_check_dst) under the live
 * epoch too, is passed without looking the address up again: the policy is
 * the same generation, so the lookup would give what the tag recorded. The
 * tag carries its epoch, so a flip (revocation, policy change, a host
 * address change) makes it stale at once. 1 when the packet was decided.
 */
static __always_inline int nn_flow_fast(struct nn_scratch *s, struct nn_flow *f, struct nn_pkt *p,
					__u32 epoch, const __u8 dir, int is_b, __u64 now,
					struct nn_judgement *j)
{
	__u64 t;

	/* f: @s's copy, read with the key under one sequence value. */
	if (!s || !f || f->epoch != epoch)
		return 0;
	t = f->end[nn_flow_side(is_b, dir) & 1];
	if (NN_FLOW_END_EPOCH(t) != epoch || !(NN_FLOW_END_DIRS(t) & (1u << dir)))
		return 0;
	j->dev_slot = NN_FLOW_END_SLOT(t);
	if (dir == NN_DIR_FROM_OVERLAY)
		j->src_kind = NN_FLOW_END_KIND(t);
	else
		j->dst_kind = NN_FLOW_END_KIND(t);
	if (nn_record_last) {
		/* Tests and explain read tenant and network: only then. */
		struct nn_addr_info *ai = nn_addr_lookup(
			NN_SLOT(epoch), dir == NN_DIR_FROM_OVERLAY ? p->src : p->dst);

		if (ai) {
			j->tenant = ai->tenant;
			j->network = ai->network;
		}
	}
	j->reason = NN_PASS;
	j->flow_hit = 1;
	nn_flow_touch(s, p, is_b, now);
	return 1;
}

/* Record the overlay end's check for nn_flow_fast() in @f (@s's copy) and
 * write it back. A tag of another epoch is replaced, never merged, so
 * directions validated under different generations are never combined. */
static __always_inline void nn_flow_end_set(struct nn_scratch *s, struct nn_flow *f, int is_b,
					    const __u8 dir, __u32 epoch, struct nn_addr_info *end)
{
	__u64 *slotp, t, old;
	__u32 dirs = 1u << dir;

	if (nn_dry_run || !s || !f || f->epoch != epoch)
		return;
	if (end->stat_slot != NN_NONE32 && end->stat_slot >= NN_FLOW_END_SLOT_MASK)
		return; /* not representable: stay on the slow path */
	slotp = &f->end[nn_flow_side(is_b, dir) & 1];
	old = *slotp;
	if (NN_FLOW_END_EPOCH(old) == epoch) {
		if (NN_FLOW_END_DIRS(old) & dirs)
			return; /* already there: keep the line clean */
		dirs |= NN_FLOW_END_DIRS(old);
	}
	t = NN_FLOW_END(epoch, dirs, end->kind, end->stat_slot);
	*slotp = t;
	nn_ft_mark(s);
}

/*
 * Is @addr surely no identity of the live generation (not in nn_addrs'
 * half of @epoch's slot)? One line of nn_srcf, after its half's header (the
 * same line for every packet: hot). 0 means "maybe": the normal lookup
 * decides. A half stamped for another epoch (being rewritten, written by a
 * controller that does not know the filter, or never) is not used, so a
 * stale filter never decides a packet (nanami_abi.h "Source filter"). The
 * half's first line goes to @s for nn_cell_eval (0: no usable filter).
 */
static __always_inline int nn_srcf_absent(__u32 epoch, const __u8 *addr, struct nn_scratch *s)
{
	__u32 base = NN_SLOT(epoch) * (nn_srcf_lines + 1), idx;
	struct nn_srcf_line *hdr, *ln;
	__u64 h;

	if (!s)
		return 0;
	s->cf_line0 = 0;
	if (!nn_srcf_lines)
		return 0;
	hdr = bpf_map_lookup_elem(&nn_srcf, &base);
	if (!hdr || *(volatile __u64 *)&hdr->w[0] != NN_SRCF_STAMP(epoch))
		return 0;
	s->cf_line0 = base + 1;
	h = nn_srcf_hash(addr);
	idx = base + 1 + ((__u32)(h >> 32) & (nn_srcf_lines - 1));
	ln = bpf_map_lookup_elem(&nn_srcf, &idx);
	return ln && !nn_srcf_has(ln->w, h);
}

/*
 * The pipeline of one direction: parse; the flow table first (a current
 * flow whose overlay end is known passes at once); else the overlay end (the
 * source from the overlay, the destination into it); later fragments, ICMP
 * errors and tracked flows; then policy. @dir is a constant in every entry
 * point, so the compiler keeps only that direction's branches. 1 = pass.
 */
static __always_inline int nn_judge_packet(struct nn_ctx *c, const __u8 dir)
{
	struct nn_judgement j = { .rule = NN_NONE32, .dev_slot = NN_NONE32 };
	struct nn_addr_info *end;
	struct nn_scratch *s = NULL;
	struct nn_flow *f = NULL;
	struct nn_pkt p = {};
	__u32 epoch = nn_epoch(), slot = NN_SLOT(epoch);
	int is_b = 0, may_open = 0;
	__u64 now;

	j.reason = nn_parse(c, &p);
	if (j.reason)
		return nn_finish(c, &p, &j, epoch);
	if (p.untouched) {
		nn_record_untouched();
		return 1;
	}
	/* Step 1's "not found" from the filter's one line, before the flow
	 * lookup: no flow, fragment or error of an address that is no
	 * identity passes step 1, so none is looked up. The verdict is the
	 * one nn_check_src / nn_check_dst give an unknown address. */
	s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	if (s) {
		s->ft_dirty = 0; /* no flow of an earlier packet is written back */
		s->dvalid = 0;	 /* nor its denied-cache place used */
	}
	if (nn_srcf_absent(epoch, dir == NN_DIR_FROM_OVERLAY ? p.src : p.dst, s)) {
		j.reason = dir == NN_DIR_FROM_OVERLAY ? NN_R_SPOOF : NN_R_UNKNOWN_DST;
		return nn_finish(c, &p, &j, epoch);
	}
	now = nn_now();
	/* Later fragments and ICMP errors are not their own flow's packets:
	 * they take the slow path, where the overlay end is checked first. */
	if (p.frag == NN_FRAG_LATER || nn_is_icmp_error(&p) || !nn_pkt_makes_flow(&p))
		s = NULL;
	if (s) {
		is_b = nn_flow_key_make(&s->fk, p.src, p.sport, p.dst, p.dport, p.proto);
		f = nn_flow_get(s, now);
		/* One nn_remember/nn_finish below for both paths: every
		 * inlined copy of them costs stack (docs/datapath.md
		 * "Verifier budget"). A flow hit opens nothing. */
		if (nn_flow_fast(s, f, &p, epoch, dir, is_b, now, &j))
			goto done;
		/* No flow: one the policy dropped under this epoch is dropped
		 * again from one lookup, counted as the judge counts it. */
		if (!f && nn_denied_find(s, epoch, dir, is_b, &j))
			goto done;
	}
	if (dir == NN_DIR_FROM_OVERLAY)
		end = nn_check_src(slot, p.src, &j);
	else
		end = nn_check_dst(slot, &p, &j);
	if (!end)
		return nn_finish(c, &p, &j, epoch);
	/* Node traffic to this gateway needs no flow: replies toward a node
	 * from our own address always pass. */
	may_open = dir == NN_DIR_INTO_OVERLAY || end->kind == NN_AK_DEVICE;
	if (!nn_stateful(&p, epoch, now, dir, &j, s, f, is_b)) {
		if (dir == NN_DIR_FROM_OVERLAY)
			nn_judge_from(slot, end, &p, &j);
		else
			nn_judge_into(slot, end, &p, &j);
		if (s)
			nn_denied_note(s, epoch, dir, is_b, &j);
	} else if (f && j.flow_hit) {
		nn_flow_end_set(s, f, is_b, dir, epoch, end);
	}
done:
	/* Most packets change nothing to write back: no call then (a global
	 * function, and its scratch lookup, on every established packet). */
	if (!nn_dry_run && s && s->ft_dirty)
		nn_ft_commit();
	if (p.frag != NN_FRAG_LATER)
		nn_remember(&p, &j, epoch, dir, now, may_open, s, is_b);
	return nn_finish(c, &p, &j, epoch);
}

/* A peer sent this packet (wg0 ingress). 1 = pass. */
static __always_inline int nn_from_overlay(struct nn_ctx *c)
{
	return nn_judge_packet(c, NN_DIR_FROM_OVERLAY);
}

/* The host routes this packet to a peer (wg0 egress). 1 = pass. */
static __always_inline int nn_into_overlay(struct nn_ctx *c)
{
	return nn_judge_packet(c, NN_DIR_INTO_OVERLAY);
}

#endif /* NANAMI_VERDICT_BPF_H */
