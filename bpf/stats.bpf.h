/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * stats.bpf.h - the one place verdicts are counted: every verdict of the
 * policy programs goes through nn_finish() with a reason, so every drop is
 * observable (the per-reason counter, and a sampled, rate-limited ring-buffer
 * event). The underlay guard counts its own drops in nn_wg_drops.
 */
#ifndef NANAMI_STATS_BPF_H
#define NANAMI_STATS_BPF_H

#include "ctx.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

static __always_inline struct nn_config *nn_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nn_config, &zero);
}

static __always_inline __u32 nn_rule_slot(__u32 epoch, __u32 rule)
{
	struct nn_rule_info *ri;
	__u32 idx;

	if (rule == NN_NONE32 || rule >= nn_max_rules)
		return NN_NONE32;
	idx = NN_SLOT(epoch) * nn_max_rules + rule;
	ri = bpf_map_lookup_elem(&nn_rules, &idx);
	return ri ? ri->stat_slot : NN_NONE32;
}

/* This CPU's entry of counter slot @slot in a counter array of stride
 * @stride (nanami_abi.h "Counter layout"); NN_NONE32 when out of range. */
static __always_inline __u32 nn_ctr_idx(__u32 stride, __u32 slot)
{
	if (slot >= stride)
		return NN_NONE32;
	return bpf_get_smp_processor_id() * stride + slot;
}

static __always_inline void nn_count_rule(__u32 epoch, __u32 rule)
{
	struct nn_rule_stats *rs;
	__u32 idx = nn_ctr_idx(nn_max_rules, nn_rule_slot(epoch, rule));

	if (idx == NN_NONE32)
		return;
	rs = bpf_map_lookup_elem(&nn_rule_ctr, &idx);
	if (rs)
		rs->hits++;
}

static __always_inline void nn_count_dev(struct nn_ctx *c, __u32 slot, int dropped)
{
	struct nn_dev_line *dl;
	__u32 idx = nn_ctr_idx(nn_dev_stride, slot);

	if (idx == NN_NONE32 || c->dir >= NN_DIR_MAX)
		return;
	dl = bpf_map_lookup_elem(&nn_dev_ctr, &idx);
	if (!dl)
		return;
	if (dropped) {
		dl->s.drops[c->dir]++;
	} else {
		dl->s.packets[c->dir]++;
		dl->s.bytes[c->dir] += c->len;
	}
}

/* Token bucket per CPU: at most cfg->event_rate events a second. */
static __always_inline int nn_event_allowed(struct nn_config *cfg)
{
	struct nn_ratelimit *rl;
	__u32 zero = 0;
	__u64 now, add;

	if (!cfg->event_sample)
		return 0;
	if (cfg->event_sample > 1 && bpf_get_prandom_u32() % cfg->event_sample)
		return 0;
	rl = bpf_map_lookup_elem(&nn_evrl, &zero);
	if (!rl)
		return 0;
	/* The coarse clock: a refill needs no finer time, and the drop path
	 * reads no clocksource for a drop that gets no event. */
	now = bpf_ktime_get_coarse_ns();
	/* x / 1 s is 0 exactly when x < 1 s: the division (tens of cycles
	 * on every drop) only when a whole token is due. */
	add = (now - rl->last_ns) * cfg->event_rate;
	add = add < 1000000000ull ? 0 : add / 1000000000ull;
	if (add) {
		rl->tokens += add;
		if (rl->tokens > cfg->event_rate)
			rl->tokens = cfg->event_rate;
		rl->last_ns = now;
	}
	if (!rl->tokens)
		return 0;
	rl->tokens--;
	return 1;
}

static __always_inline void nn_emit_event(struct nn_ctx *c, struct nn_pkt *p,
					  struct nn_judgement *j, __u32 epoch)
{
	struct nn_config *cfg = nn_cfg();
	struct nn_event *e;

	if (!cfg || !nn_event_allowed(cfg))
		return;
	e = bpf_ringbuf_reserve(&nn_events, sizeof(*e), 0);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	nn_copy16(e->src, p->src);
	nn_copy16(e->dst, p->dst);
	e->sport = p->sport;
	e->dport = p->dport;
	e->proto = p->proto;
	e->reason = j->reason;
	e->dir = c->dir;
	e->pad = 0;
	e->tenant = j->tenant;
	e->network = j->network;
	e->dev_slot = j->dev_slot;
	e->rule_slot = nn_rule_slot(epoch, j->rule);
	e->pkt_len = c->len;
	e->pad2 = 0;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void nn_record_verdict(struct nn_judgement *j)
{
	struct nn_verdict *v;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&nn_last, &zero);
	if (!v)
		return;
	v->reason = j->reason;
	v->rule = j->rule;
	v->src_kind = j->src_kind;
	v->dst_kind = j->dst_kind;
	v->tenant = j->tenant;
	v->network = j->network;
	v->flow_hit = j->flow_hit;
	v->passed_untouched = 0;
	v->denied_hit = j->denied_hit;
}

/* Count the final verdict; returns 1 to pass, 0 to drop. */
static __always_inline int nn_finish(struct nn_ctx *c, struct nn_pkt *p, struct nn_judgement *j,
				     __u32 epoch)
{
	if (nn_record_last)
		nn_record_verdict(j);
	if (nn_dry_run)
		return j->reason == NN_PASS;
	nn_count_rule(epoch, j->rule);
	if (j->reason == NN_PASS) {
		nn_count_dev(c, j->dev_slot, 0);
		return 1;
	}
	if (j->reason < NN_R_MAX) {
		__u32 r = j->reason;
		struct nn_reason_stats *rs = bpf_map_lookup_elem(&nn_drops, &r);

		if (rs) {
			rs->packets++;
			rs->bytes += c->len;
		}
	}
	nn_count_dev(c, j->dev_slot, 1);
	nn_emit_event(c, p, j, epoch);
	return 0;
}

/* ARP and neighbour discovery: passed without judging or counting. */
static __always_inline void nn_record_untouched(void)
{
	struct nn_verdict *v;
	__u32 zero = 0;

	if (!nn_record_last)
		return;
	v = bpf_map_lookup_elem(&nn_last, &zero);
	if (!v)
		return;
	__builtin_memset(v, 0, sizeof(*v));
	v->rule = NN_NONE32;
	v->passed_untouched = 1;
}

#endif /* NANAMI_STATS_BPF_H */
