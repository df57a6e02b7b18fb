/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * verdict.bpf.h - the two pipelines, one per direction, shared by every
 * entry point (TC and XDP) through struct nn_ctx. Returns 1 to pass.
 */
#ifndef NANAMI_VERDICT_BPF_H
#define NANAMI_VERDICT_BPF_H

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
 * A flow recorded under an older epoch is judged again; still allowed, it
 * takes the current epoch (1); no longer allowed, it is cut (deleted, 0).
 */
static __always_inline int nn_flow_revalidate(struct nn_flow_key *k, struct nn_flow *f, __u32 epoch)
{
	if (f->epoch == epoch)
		return 1;
	if (!nn_rejudge(NN_SLOT(epoch), k, f)) {
		if (!nn_dry_run)
			bpf_map_delete_elem(&nn_flows, k);
		return 0;
	}
	if (!nn_dry_run)
		f->epoch = epoch;
	return 1;
}

/*
 * Step 4: a tracked flow. 1 when the packet passes on it; a flow the policy
 * no longer allows is cut and the caller judges the packet as new.
 */
static __always_inline int nn_flow_track(struct nn_pkt *p, __u32 epoch, __u64 now)
{
	struct nn_flow_key k;
	struct nn_flow *f;
	int is_b;

	if (!nn_pkt_makes_flow(p))
		return 0;
	is_b = nn_flow_key_make(&k, p->src, p->sport, p->dst, p->dport, p->proto);
	f = nn_flow_get(&k, now);
	if (!f || !nn_flow_revalidate(&k, f, epoch))
		return 0;
	nn_flow_touch(f, p, is_b, now);
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
	struct nn_flow_key k;
	struct nn_flow *f;

	if (!p->q_flowable || !nn_addr_eq(p->q_src, p->dst))
		return 0;
	if (dir == NN_DIR_FROM_OVERLAY && !nn_addr_eq(p->q_dst, p->src))
		return 0;
	nn_flow_key_make(&k, p->q_src, p->q_sport, p->q_dst, p->q_dport, p->q_proto);
	f = nn_flow_get(&k, now);
	if (!f)
		return 0;
	return nn_flow_revalidate(&k, f, epoch);
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
				       struct nn_judgement *j)
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
	if (nn_flow_track(p, epoch, now)) {
		j->reason = NN_PASS;
		j->flow_hit = 1;
		return 1;
	}
	return 0;
}

static __always_inline void nn_remember(struct nn_pkt *p, struct nn_judgement *j, __u32 epoch,
					__u8 dir, __u64 now, int may_open)
{
	if (may_open && j->reason == NN_PASS && !j->flow_hit && !nn_is_icmp_error(p))
		nn_flow_open(p, epoch, dir, now);
	if (p->frag == NN_FRAG_FIRST)
		nn_frag_record(p, j->reason, epoch, now);
}

/*
 * The pipeline of one direction: parse; the overlay end (the source from
 * the overlay, the destination into it); later fragments, ICMP errors and
 * tracked flows; then policy. @dir is a constant in every entry point, so the
 * compiler keeps only that direction's branches. 1 = pass.
 */
static __always_inline int nn_judge_packet(struct nn_ctx *c, const __u8 dir)
{
	struct nn_judgement j = { .rule = NN_NONE32, .dev_slot = NN_NONE32 };
	struct nn_addr_info *end;
	struct nn_pkt p = {};
	__u32 epoch = nn_epoch(), slot = NN_SLOT(epoch);
	__u64 now;

	j.reason = nn_parse(c, &p);
	if (j.reason)
		return nn_finish(c, &p, &j, epoch);
	if (p.untouched) {
		nn_record_untouched();
		return 1;
	}
	if (dir == NN_DIR_FROM_OVERLAY)
		end = nn_check_src(slot, p.src, &j);
	else
		end = nn_check_dst(slot, &p, &j);
	if (!end)
		return nn_finish(c, &p, &j, epoch);
	now = bpf_ktime_get_ns();
	if (!nn_stateful(&p, epoch, now, dir, &j)) {
		if (dir == NN_DIR_FROM_OVERLAY)
			nn_judge_from(slot, end, &p, &j);
		else
			nn_judge_into(slot, end, &p, &j);
	}
	/* Node traffic to this gateway needs no flow: replies toward a node
	 * from our own address always pass. */
	if (p.frag != NN_FRAG_LATER)
		nn_remember(&p, &j, epoch, dir, now,
			    dir == NN_DIR_INTO_OVERLAY || end->kind == NN_AK_DEVICE);
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
