// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Native XDP on the underlay NIC: drops malformed and flooding WireGuard
 * packets before wireguard spends a decryption (or a handshake's
 * Curve25519) on them. Only UDP to the WireGuard listen port is looked at;
 * everything else passes untouched (verdicts.md "Underlay").
 *
 * Made exact (the choices verdicts.md leaves open):
 *  - "UDP to the listen port" is found the way the kernel finds it: IPv4
 *    options are skipped, IPv6 extension headers are walked, one 802.1Q tag
 *    is understood. Options or extension headers are not a way around the
 *    guard: a chain longer than NN_MAX_EXT_HDRS, which the kernel would walk
 *    to the end and deliver, is [wg_malformed] whatever it carries (the
 *    guard cannot tell whether it is ours, so it fails closed).
 *  - A packet whose IP header cannot even be located, or that does not
 *    carry a whole UDP header, is not ours: the kernel drops it anyway.
 *  - Once the UDP header names the listen port: an IP length that overruns
 *    the frame, or a UDP length that differs from what the IP header
 *    leaves for L4, is [wg_malformed]; the message is the UDP payload.
 *  - Every message starts with type (1 byte) and 3 reserved zero bytes;
 *    nonzero reserved bytes are [wg_malformed] (wireguard ignores them).
 *  - Fragments: a later fragment has no header to judge and passes. That
 *    lets nothing unchecked reach wireguard: the kernel builds a datagram's
 *    headers from its offset-0 fragment, which is judged here, and discards
 *    a datagram with overlapping fragments (IPv4 since 4.19, IPv6 RFC 5722),
 *    so no later fragment can rewrite the UDP header or the message type.
 *    A first fragment may only be a data message: handshake messages (<= 148
 *    bytes) never need fragmenting at any legal MTU, so a fragmented one is
 *    [wg_malformed]; its size is checked after reassembly by wireguard. An
 *    IPv6 atomic Fragment header (RFC 6946) does not make a fragment, even
 *    when it follows a real one.
 *  - The handshake rate is per source: an IPv4 address, or an IPv6 /64 (the
 *    smallest block a host is given; keying on /128 would let one host
 *    rotate addresses around the limit). The bucket is refilled lazily and
 *    updated without atomics: two CPUs racing may let one extra initiation
 *    through, which is harmless.
 */
#include "ctx.bpf.h"
#include <xdp/xdp_helpers.h>

#define NN_ETH_P_IP 0x0800
#define NN_ETH_P_IPV6 0x86DD
#define NN_ETH_P_8021Q 0x8100
#define NN_IPPROTO_UDP 17
#define NN_NSEC 1000000000ull
/* After this long idle a bucket is simply full (keeps elapsed * rate in
 * range for any rate the controller accepts). */
#define NN_WG_IDLE_FULL_NS (100 * NN_NSEC)

/* Listen port and handshake rate, set by the controller from the snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_wg_config);
} nn_wg_config SEC(".maps");

/* Per-source token buckets for handshake initiations. LRU: a flood of
 * sources evicts the oldest buckets, which only ever resets them to full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nn_wg_src_key);
	__type(value, struct nn_ratelimit);
} nn_wg_hs SEC(".maps");

/* Drops by reason (only the wg_* reasons move here). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NN_R_SLOTS);
	__type(key, __u32);
	__type(value, struct nn_reason_stats);
} nn_wg_drops SEC(".maps");

struct {
	__uint(priority, 5);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nn_xdp_underlay);

/* Where the UDP datagram is and what the IP header says about it. */
struct nn_wg_pkt {
	__u32 l4off;		  /* offset of the UDP header */
	__u32 ip_l4len;		  /* bytes the IP header leaves for L4 */
	__u8 ip_bad;		  /* IP length overruns the frame or the headers */
	__u8 first_frag;	  /* offset 0, more fragments */
	struct nn_wg_src_key src; /* rate-limit key */
};

static __always_inline int nn_wg_drop(__u32 reason, __u32 len)
{
	struct nn_reason_stats *rs = bpf_map_lookup_elem(&nn_wg_drops, &reason);

	if (rs) {
		rs->packets++;
		rs->bytes += len;
	}
	return XDP_DROP;
}

/* 1 when this source may send one more handshake initiation now. */
static __always_inline int nn_wg_hs_allowed(struct nn_wg_config *cfg, struct nn_wg_src_key *k)
{
	struct nn_ratelimit *rl, fresh;
	__u64 now = bpf_ktime_get_ns(), elapsed, add;

	rl = bpf_map_lookup_elem(&nn_wg_hs, k);
	if (!rl) {
		if (!cfg->hs_burst)
			return 0;
		fresh.last_ns = now;
		fresh.tokens = cfg->hs_burst - 1;
		bpf_map_update_elem(&nn_wg_hs, k, &fresh, BPF_ANY);
		return 1;
	}
	elapsed = now - rl->last_ns;
	add = elapsed >= NN_WG_IDLE_FULL_NS ? cfg->hs_burst : elapsed * cfg->hs_rate / NN_NSEC;
	if (add) {
		rl->tokens += add;
		if (rl->tokens > cfg->hs_burst)
			rl->tokens = cfg->hs_burst;
		rl->last_ns = now;
	}
	if (!rl->tokens)
		return 0;
	rl->tokens--;
	return 1;
}

/* IPv4 at @off. 0: judge it; 1: not ours, pass. */
static __always_inline int nn_wg_ipv4(struct xdp_md *xdp, __u32 off, __u32 avail,
				      struct nn_wg_pkt *w)
{
	struct iphdr ip;
	__u32 hl, tot;
	__u16 frag;

	if (bpf_xdp_load_bytes(xdp, off, &ip, sizeof(ip)))
		return 1;
	hl = ip.ihl * 4;
	if (ip.version != 4 || hl < sizeof(ip) || ip.protocol != NN_IPPROTO_UDP)
		return 1;
	frag = bpf_ntohs(ip.frag_off);
	if (frag & 0x1fff)
		return 1; /* later fragment: no UDP header */
	w->first_frag = !!(frag & 0x2000);
	tot = bpf_ntohs(ip.tot_len);
	w->l4off = off + hl;
	w->ip_bad = tot < hl || tot > avail - off;
	w->ip_l4len = w->ip_bad ? 0 : tot - hl;
	__builtin_memset(w->src.addr, 0, 10);
	w->src.addr[10] = 0xff;
	w->src.addr[11] = 0xff;
	__builtin_memcpy(&w->src.addr[12], &ip.saddr, 4);
	return 0;
}

/* IPv6 at @off, extension headers walked. 0: judge it; 1: pass; 2: the
 * chain is longer than the guard walks (drop). */
static __always_inline int nn_wg_ipv6(struct xdp_md *xdp, __u32 off, __u32 avail,
				      struct nn_wg_pkt *w)
{
	struct ipv6hdr ip6;
	__u32 plen, ext = 0, i;
	__u8 nh, h[8];

	if (bpf_xdp_load_bytes(xdp, off, &ip6, sizeof(ip6)) || ip6.version != 6)
		return 1;
	nh = ip6.nexthdr;
	w->l4off = off + sizeof(ip6);
	/* One look past the bound: a chain still going on there is over it.
	 * Unrolled, like the policy parser's walk (no back-edge for old
	 * verifiers to refuse). */
#pragma unroll
	for (i = 0; i < NN_MAX_EXT_HDRS + 1; i++) {
		__u32 len;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60 && nh != 135 &&
		    nh != 139 && nh != 140)
			break;
		if (i == NN_MAX_EXT_HDRS)
			return 2;
		if (bpf_xdp_load_bytes(xdp, w->l4off, h, sizeof(h)))
			return 1;
		if (nh == 44) {
			if (bpf_ntohs(*(__u16 *)&h[2]) & 0xfff8)
				return 1; /* later fragment */
			w->first_frag |= h[3] & 1;
			len = 8;
		} else if (nh == 51) {
			len = (h[1] + 2) * 4;
		} else {
			len = (h[1] + 1) * 8;
		}
		nh = h[0];
		w->l4off += len;
		ext += len;
	}
	/* Not UDP: not ours. */
	if (nh != NN_IPPROTO_UDP)
		return 1;
	plen = bpf_ntohs(ip6.payload_len);
	w->ip_bad = plen > avail - off - sizeof(ip6) || plen < ext;
	w->ip_l4len = w->ip_bad ? 0 : plen - ext;
	/* IPv6 sources are limited per /64. */
	__builtin_memcpy(w->src.addr, &ip6.saddr, 8);
	__builtin_memset(&w->src.addr[8], 0, 8);
	return 0;
}

SEC("xdp")
int nn_xdp_underlay(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	__u32 zero = 0, avail = end - data, off = sizeof(struct ethhdr), msglen;
	struct nn_wg_config *cfg = bpf_map_lookup_elem(&nn_wg_config, &zero);
	struct nn_wg_pkt w = {};
	struct udphdr uh;
	__u8 msg[4];
	__be16 vh[2];
	__u16 etype;

	if (!cfg || !cfg->listen_port)
		return XDP_PASS;
	if (bpf_xdp_load_bytes(xdp, 12, &vh[0], 2))
		return XDP_PASS;
	etype = bpf_ntohs(vh[0]);
	if (etype == NN_ETH_P_8021Q) {
		if (bpf_xdp_load_bytes(xdp, off, vh, sizeof(vh)))
			return XDP_PASS;
		etype = bpf_ntohs(vh[1]);
		off += sizeof(vh);
	}
	if (etype == NN_ETH_P_IP) {
		if (nn_wg_ipv4(xdp, off, avail, &w))
			return XDP_PASS;
	} else if (etype == NN_ETH_P_IPV6) {
		int r = nn_wg_ipv6(xdp, off, avail, &w);

		if (r == 2)
			return nn_wg_drop(NN_R_WG_MALFORMED, avail);
		if (r)
			return XDP_PASS;
	} else {
		return XDP_PASS;
	}
	if (bpf_xdp_load_bytes(xdp, w.l4off, &uh, sizeof(uh)) ||
	    bpf_ntohs(uh.dest) != cfg->listen_port)
		return XDP_PASS;

	/* From here on it is addressed to wireguard. */
	if (w.ip_bad || w.ip_l4len < sizeof(uh))
		return nn_wg_drop(NN_R_WG_MALFORMED, avail);
	if (!w.first_frag && bpf_ntohs(uh.len) != w.ip_l4len)
		return nn_wg_drop(NN_R_WG_MALFORMED, avail);
	msglen = w.ip_l4len - sizeof(uh);
	if (msglen < sizeof(msg) || bpf_xdp_load_bytes(xdp, w.l4off + sizeof(uh), msg, sizeof(msg)))
		return nn_wg_drop(NN_R_WG_MALFORMED, avail);
	/* Bytes 1-3 are reserved zero in every message type. */
	if (msg[1] || msg[2] || msg[3])
		return nn_wg_drop(NN_R_WG_MALFORMED, avail);
	if (w.first_frag)
		return msg[0] == NN_WG_DATA ? XDP_PASS : nn_wg_drop(NN_R_WG_MALFORMED, avail);
	switch (msg[0]) {
	case NN_WG_INITIATION:
		if (msglen != NN_WG_INITIATION_LEN)
			return nn_wg_drop(NN_R_WG_MALFORMED, avail);
		if (!nn_wg_hs_allowed(cfg, &w.src))
			return nn_wg_drop(NN_R_WG_HANDSHAKE_RATE, avail);
		return XDP_PASS;
	case NN_WG_RESPONSE:
		return msglen == NN_WG_RESPONSE_LEN ? XDP_PASS :
						      nn_wg_drop(NN_R_WG_MALFORMED, avail);
	case NN_WG_COOKIE:
		return msglen == NN_WG_COOKIE_LEN ? XDP_PASS : nn_wg_drop(NN_R_WG_MALFORMED, avail);
	case NN_WG_DATA:
		return (msglen >= NN_WG_DATA_MIN_LEN && msglen % 16 == 0) ?
			       XDP_PASS :
			       nn_wg_drop(NN_R_WG_MALFORMED, avail);
	}
	return nn_wg_drop(NN_R_WG_MALFORMED, avail);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
