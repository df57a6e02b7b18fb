/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * flow.bpf.h - the flow table (replies and later packets of judged flows)
 * and the fragment table (later fragments follow the first one's verdict).
 * Semantics: docs/datapath.md "Flows".
 */
#ifndef NANAMI_FLOW_BPF_H
#define NANAMI_FLOW_BPF_H

#include "flowtab.bpf.h"
#include "stats.bpf.h"

#define NN_TCP_FIN 0x01
#define NN_TCP_RST 0x04
#define NN_NSEC 1000000000ull
/* Refresh last_seen at most this often: a write per packet would bounce the
 * entry's cache line between CPUs for nothing. */
#define NN_FLOW_REFRESH_NS NN_NSEC

/*
 * The clock of flow and fragment timestamps: CLOCK_MONOTONIC_COARSE (6.1
 * has the helper). It lags CLOCK_MONOTONIC by at most a tick, nothing
 * against timeouts counted in seconds, and reads a cached value where
 * bpf_ktime_get_ns() reads the clocksource on every packet.
 */
static __always_inline __u64 nn_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* memcmp order of two 16-byte addresses, as two big-endian 64-bit words. */
static __always_inline int nn_addr_cmp(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	a0 = bpf_be64_to_cpu(a0);
	b0 = bpf_be64_to_cpu(b0);
	if (a0 != b0)
		return a0 < b0 ? -1 : 1;
	a1 = bpf_be64_to_cpu(a1);
	b1 = bpf_be64_to_cpu(b1);
	if (a1 != b1)
		return a1 < b1 ? -1 : 1;
	return 0;
}

static __always_inline int nn_addr_eq(const __u8 *a, const __u8 *b)
{
	return nn_addr_cmp(a, b) == 0;
}

/* A 16-byte address by 4-byte words: both ends are 4-byte aligned (struct
 * nn_pkt's fields, the scratch entry's key). nn_copy16() copies bytes
 * (it cannot assume alignment), and into a map value clang then spills
 * most of the bytes on the stack. */
static __always_inline void nn_copy16_w(__u8 *dst, const __u8 *src)
{
	const __u32 *s = (const __u32 *)(const void *)src;
	__u32 *d = (__u32 *)(void *)dst;

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
}

/* Canonical key: endpoint a is the lower (address, port). Returns 1 when the
 * packet travels b -> a. */
static __always_inline int nn_flow_key_make(struct nn_flow_key *k, const __u8 *src, __u16 sport,
					    const __u8 *dst, __u16 dport, __u8 proto)
{
	int c = nn_addr_cmp(src, dst);
	int is_b = c > 0 || (c == 0 && sport > dport);

	if (is_b) {
		nn_copy16_w(k->a, dst);
		nn_copy16_w(k->b, src);
		k->aport = dport;
		k->bport = sport;
	} else {
		nn_copy16_w(k->a, src);
		nn_copy16_w(k->b, dst);
		k->aport = sport;
		k->bport = dport;
	}
	k->proto = proto;
	k->side = 0;
	k->pad[0] = 0;
	k->pad[1] = 0;
	return is_b;
}

/* Only echo and non-ICMP protocols make flows (docs/datapath.md). ICMP is
 * the family's own: ICMPv6 (58) carried in IPv4, or ICMP (1) in IPv6, is
 * "another protocol" with ports 0, and makes flows like GRE does. */
static __always_inline int nn_pkt_makes_flow(struct nn_pkt *p)
{
	if (p->proto == (p->v6 ? NN_IPPROTO_ICMPV6 : NN_IPPROTO_ICMP))
		return p->icmp == NN_ICMP_ECHO_REQ || p->icmp == NN_ICMP_ECHO_REP;
	return 1;
}

/* The idle timeout of flow @k; ICMP again means the family's own (IPv6
 * never carries IPv4-mapped addresses, so the address tells the family). */
static __always_inline __u64 nn_flow_timeout_ns(struct nn_config *cfg, struct nn_flow_key *k,
						__u8 state)
{
	__u8 proto = k->proto;
	__u32 s;

	if (!cfg)
		return 60 * NN_NSEC;
	if (proto == NN_IPPROTO_TCP)
		s = state == NN_FS_EST	   ? cfg->tcp_est_timeout_s :
		    state == NN_FS_CLOSING ? cfg->tcp_close_timeout_s :
					     cfg->tcp_syn_timeout_s;
	else if (proto == NN_IPPROTO_UDP)
		s = cfg->udp_timeout_s;
	else if (proto == (nn_is_v4mapped(k->a) ? NN_IPPROTO_ICMP : NN_IPPROTO_ICMPV6))
		s = cfg->icmp_timeout_s;
	else
		s = cfg->other_timeout_s;
	return (__u64)s * NN_NSEC;
}

/* Live entry for @s->fk (nn_ft_find's copy), or NULL; an expired entry is
 * deleted on the way. */
static __always_inline struct nn_flow *nn_flow_get(struct nn_scratch *s, __u64 now)
{
	struct nn_flow *f = nn_ft_find(s);

	if (!f)
		return NULL;
	if (now - f->last_seen_ns >= nn_flow_timeout_ns(nn_cfg(), &s->fk, f->state)) {
		if (!nn_dry_run)
			nn_ft_delete(s);
		return NULL;
	}
	return f;
}

/* A packet of a live, current flow (@s->ft_val, found by nn_flow_get):
 * advance TCP state, refresh; written back only when something changed. */
static __always_inline void nn_flow_touch(struct nn_scratch *s, struct nn_pkt *p, int is_b,
					  __u64 now)
{
	struct nn_flow *f = &s->ft_val;
	__u8 state = f->state;

	if (nn_dry_run)
		return;
	if (p->proto == NN_IPPROTO_TCP && (p->tcp_flags & (NN_TCP_FIN | NN_TCP_RST)))
		state = NN_FS_CLOSING;
	else if (state == NN_FS_NEW && is_b != f->opener_is_b)
		state = NN_FS_EST;
	if (state == f->state && now - f->last_seen_ns <= NN_FLOW_REFRESH_NS)
		return;
	f->state = state;
	f->last_seen_ns = now;
	nn_ft_mark(s);
}

/* Record the flow of @p under key @s->fk (nn_flow_key_make() of @p:
 * @is_b); the value is built in @s->fv (the per-CPU scratch entry: not on
 * the stack). 0 when the table recorded nothing (nn_ft_put backed off:
 * another CPU recorded the key, or took the way, first). */
static __always_inline int nn_flow_open(struct nn_scratch *s, int is_b, struct nn_pkt *p,
					__u32 epoch, __u8 dir, __u64 now)
{
	struct nn_flow *f = &s->fv;

	if (nn_dry_run || !nn_pkt_makes_flow(p))
		return 1;
	__builtin_memset(f, 0, sizeof(*f));
	f->opener_is_b = is_b;
	f->last_seen_ns = now;
	f->epoch = epoch;
	f->opener_dir = dir;
	f->state = (p->proto == NN_IPPROTO_TCP && (p->tcp_flags & (NN_TCP_FIN | NN_TCP_RST))) ?
			   NN_FS_CLOSING :
			   NN_FS_NEW;
	return nn_ft_put(s);
}

/*
 * One token of the new-state budget of the device at counter slot @slot
 * (every device has one: the compiler gives each its slot). 1 when the
 * packet may create a flow entry or a fragment verdict. Called only on the
 * path that creates state: established packets never come here. The bucket
 * is shared by every CPU and updated without a lock: two CPUs refilling at
 * once may each add the same tokens, so the bound can be exceeded by at most
 * one refill per CPU, never by a flood's size (docs/datapath.md).
 */
static __always_inline int nn_newstate_take(__u32 slot, __u64 now)
{
	__u32 zero = 0;
	struct nn_flowlim *lim = bpf_map_lookup_elem(&nn_flowlim, &zero);
	struct nn_ratelimit *b;
	__u64 elapsed, add, burst, tokens, last;

	if (!lim || !lim->rate)
		return 1;
	/* One per device counter slot: no bucket only for NN_NONE32, which no
	 * device has. */
	b = bpf_map_lookup_elem(&nn_flowrl, &slot);
	if (!b)
		return 1;
	burst = lim->burst;
	/* One read of each field and every store computed from it: another
	 * CPU's store in between can only be overwritten by a value this CPU
	 * computed (at most one refill or token too many), never make the
	 * count wrap below zero. */
	tokens = *(volatile __u64 *)&b->tokens;
	last = *(volatile __u64 *)&b->last_ns;
	/* A bucket never used is full. A last refill later than this CPU's
	 * clock (another CPU stored it between our clock read and this load)
	 * adds nothing: now - last would wrap and refill the whole burst, a
	 * flood spread over CPUs would meet that race on every tick. */
	if (!last)
		elapsed = ~0ull;
	else
		elapsed = now > last ? now - last : 0;
	/* Within a second of the last refill (a flood's every packet) the
	 * refill needs no division: elapsed * rate < 1 s adds nothing, and
	 * below 1 s the product cannot overflow (rate < 2^32). */
	if (elapsed < NN_NSEC && elapsed * lim->rate < NN_NSEC)
		add = 0;
	else
		add = elapsed >= NN_NSEC * (burst / lim->rate + 1) ? burst :
								     elapsed * lim->rate / NN_NSEC;
	if (add) {
		tokens += add;
		if (tokens > burst)
			tokens = burst;
		b->last_ns = now;
	}
	if (!tokens)
		return 0; /* no store: a refused flood leaves the line alone */
	b->tokens = tokens - 1;
	return 1;
}

/*
 * Give back the token nn_newstate_take() took from the device at counter
 * slot @slot for state that was not recorded (nn_flow_open backed off): a
 * token buys one entry (docs/datapath.md "New-state bound"), and without
 * this, opens racing on other CPUs would spend a device's budget on
 * nothing. Racy as the take is (a plain read and store): another CPU's take
 * in between may be overwritten, within the bound's stated slack of one
 * token per CPU; never above burst.
 */
static __always_inline void nn_newstate_refund(__u32 slot)
{
	__u32 zero = 0;
	struct nn_flowlim *lim = bpf_map_lookup_elem(&nn_flowlim, &zero);
	struct nn_ratelimit *b;
	__u64 tokens;

	if (!lim || !lim->rate)
		return;
	b = bpf_map_lookup_elem(&nn_flowrl, &slot);
	if (!b)
		return;
	tokens = *(volatile __u64 *)&b->tokens;
	if (tokens < lim->burst)
		b->tokens = tokens + 1;
}

/*
 * Record @p's flow (nn_flow_open) paid by a token of the device at @slot;
 * nothing recorded: the token goes back, unless it also paid for something
 * that was (@kept: a first fragment's verdict).
 */
static __always_inline void nn_flow_open_paid(struct nn_scratch *s, __u32 slot, int kept, int is_b,
					      struct nn_pkt *p, __u32 epoch, __u8 dir, __u64 now)
{
	if (!nn_flow_open(s, is_b, p, epoch, dir, now) && !kept)
		nn_newstate_refund(slot);
}

/* The datagram's reassembly key (nanami_abi.h): IPv4 by protocol too,
 * IPv6 by source, destination and id alone, whatever extension headers
 * follow its Fragment header (RFC 8200 4.5). */
static __always_inline void nn_frag_key_make(struct nn_frag_key *k, struct nn_pkt *p)
{
	nn_copy16(k->src, p->src);
	nn_copy16(k->dst, p->dst);
	k->id = p->frag_id;
	k->proto = p->v6 ? 0 : p->proto;
	k->pad[0] = 0;
	k->pad[1] = 0;
	k->pad[2] = 0;
}

/*
 * Later fragment: the first fragment's verdict, or NN_R_FRAGMENT. The
 * verdict holds only within the generation it was reached in: after a
 * policy change a later fragment is dropped, and the sender's
 * retransmission (a new first fragment) is judged again.
 */
static __always_inline __u32 nn_frag_follow(struct nn_pkt *p, __u32 epoch, __u64 now)
{
	struct nn_frag_key k;
	struct nn_frag *fr;
	struct nn_config *cfg;

	nn_frag_key_make(&k, p);
	fr = bpf_map_lookup_elem(&nn_frags, &k);
	if (!fr || fr->epoch != epoch)
		return NN_R_FRAGMENT;
	cfg = nn_cfg();
	if (cfg && now - fr->seen_ns >= (__u64)cfg->frag_timeout_s * NN_NSEC)
		return NN_R_FRAGMENT;
	return fr->reason;
}

static __always_inline void nn_frag_record(struct nn_pkt *p, __u32 reason, __u32 epoch, __u64 now)
{
	struct nn_frag_key k;
	struct nn_frag fr = {};

	if (nn_dry_run)
		return;
	nn_frag_key_make(&k, p);
	fr.seen_ns = now;
	fr.reason = reason;
	fr.epoch = epoch;
	bpf_map_update_elem(&nn_frags, &k, &fr, BPF_ANY);
}

#endif /* NANAMI_FLOW_BPF_H */
